/*
 * bench_insert: 100,000 account records (6 fields, 3 of them lookup fields)
 * inserted in batches of 1,000 through core/ (validation, per-subject key,
 * XChaCha20-Poly1305, keyed BLAKE2b lookup hashes, SQLite store), against
 * the same rows as plaintext through raw sqlite3 with the same batching and
 * settings (WAL, synchronous=FULL, secure_delete, foreign_keys) and the
 * indexes a plaintext register needs to find a person by those 3 fields.
 * Runs alternate privreg / raw on fresh database files; prints each run and
 * the medians. Usage: bench_insert [ROWS] [RUNS] [POLICY]
 */
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/subject.h"
#include "core/tenant.h"
#include "store/store.h"

#define BATCH 1000
#define NFIELDS 6

static const char *const names[NFIELDS] = {"email", "name", "phone", "address", "language", "username"};

struct row {
	char v[NFIELDS][96];
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Customers arrive in no particular order of name, e-mail or phone, so the
 * values are pseudo-random (fixed seed): a sorted input would make the
 * plaintext indexes append-only and flatter the baseline. */
static void make_rows(struct row *rows, int n)
{
	static const char *const first[] = {"Mari", "Jaan", "Liis", "Kalle", "Anna", "Jānis", "Peeter", "Tiina"};
	static const char *const last[] = {"Tamm", "Saar", "Kask", "Mets", "Bērziņš", "Virtanen", "Ivanova"};
	static const char *const langs[] = {"et", "lv", "en", "ru"};
	uint64_t seed = 42;
	for (int i = 0; i < n; i++) {
		struct row *r = &rows[i];
		uint64_t a = splitmix(&seed), b = splitmix(&seed);
		const char *f = first[a % 8], *l = last[(a >> 8) % 7];
		snprintf(r->v[0], sizeof r->v[0], "%s.%s.%08x@example.ee", f, l, (unsigned)(b >> 32));
		snprintf(r->v[1], sizeof r->v[1], "%s %s", f, l);
		snprintf(r->v[2], sizeof r->v[2], "+372 5%03u %04u", (unsigned)(b % 1000), (unsigned)((b >> 10) % 10000));
		snprintf(r->v[3], sizeof r->v[3], "Pikk %u-%u, 10133 Tallinn", (unsigned)(a >> 16) % 200 + 1,
		         (unsigned)(a >> 24) % 97 + 1);
		snprintf(r->v[4], sizeof r->v[4], "%s", langs[(a >> 32) % 4]);
		snprintf(r->v[5], sizeof r->v[5], "%s%08x", f[0] == 'J' ? "j" : "u", (unsigned)b);
	}
}

static void rm_db(const char *dir)
{
	char cmd[512];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

static double run_privreg(const struct row *rows, int n, const char *policy_path)
{
	char dir[] = "/tmp/privreg-bench-XXXXXX", keydir[64], url[96];
	if (!mkdtemp(dir))
		abort();
	snprintf(keydir, sizeof keydir, "%s/keys", dir);
	snprintf(url, sizeof url, "sqlite:%s/privreg.db", dir);
	mkdir(keydir, 0700);
	struct store *s = NULL;
	struct tenant *t = NULL;
	struct errbuf eb = {""};
	FILE *f = fopen(policy_path, "r");
	static char src[1 << 20];
	size_t len = f ? fread(src, 1, sizeof src - 1, f) : 0;
	if (f)
		fclose(f);
	src[len] = '\0';
	int64_t tid;
	if (store_open(url, &s, &eb) || tenant_create(s, keydir, "bench", src, &tid, &eb) ||
	    tenant_open(s, keydir, "bench", &t, &eb)) {
		fprintf(stderr, "setup: %s\n", eb.msg);
		exit(1);
	}
	struct core_ctx c = {.store = s, .tenant = t};
	static struct field_input in[BATCH][NFIELDS];
	static struct record_input recs[BATCH];
	static struct subject_input subjects[BATCH];
	double t0 = now_s();
	for (int b = 0; b < n; b += BATCH) {
		int m = n - b < BATCH ? n - b : BATCH;
		for (int j = 0; j < m; j++) {
			const struct row *rw = &rows[b + j];
			for (int k = 0; k < NFIELDS; k++)
				in[j][k] = (struct field_input){names[k], {VAL_STRING, rw->v[k], strlen(rw->v[k])}};
			recs[j] = (struct record_input){.kind = "account", .fields = in[j], .nfields = NFIELDS};
			subjects[j] = (struct subject_input){&recs[j], 1};
		}
		size_t failed = 0;
		enum rc rc = subject_import(&c, subjects, (size_t)m, NULL, &failed, &eb);
		if (rc) {
			fprintf(stderr, "insert %zu: %s\n", b + failed, err_msg(&eb, rc));
			exit(1);
		}
	}
	double el = now_s() - t0;
	tenant_free(t);
	store_close(s);
	rm_db(dir);
	return n / el;
}

static void must(int rc, sqlite3 *db, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE) {
		fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
		exit(1);
	}
}

static double run_raw(const struct row *rows, int n)
{
	char dir[] = "/tmp/privreg-bench-XXXXXX", path[96];
	if (!mkdtemp(dir))
		abort();
	snprintf(path, sizeof path, "%s/raw.db", dir);
	sqlite3 *db;
	must(sqlite3_open(path, &db), db, "open");
	must(sqlite3_exec(db,
	                  "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;"
	                  "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768;"
	                  "CREATE TABLE accounts (tenant_id INTEGER NOT NULL, id TEXT NOT NULL, email TEXT, name TEXT,"
	                  " phone TEXT, address TEXT, language TEXT, username TEXT, created_at INTEGER NOT NULL,"
	                  " PRIMARY KEY (tenant_id, id)) WITHOUT ROWID;"
	                  "CREATE INDEX accounts_email ON accounts (tenant_id, email);"
	                  "CREATE INDEX accounts_phone ON accounts (tenant_id, phone);"
	                  "CREATE INDEX accounts_username ON accounts (tenant_id, username);",
	                  NULL, NULL, NULL), db, "schema");
	sqlite3_stmt *st;
	must(sqlite3_prepare_v2(db, "INSERT INTO accounts VALUES (1, ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL),
	     db, "prepare");
	double t0 = now_s();
	for (int b = 0; b < n; b += BATCH) {
		must(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), db, "begin");
		for (int i = b; i < b + BATCH && i < n; i++) {
			char id[TOKEN_ID_MAX];
			token_id_new(TOKEN_PREFIX_SUBJECT, id);
			sqlite3_bind_text(st, 1, id, -1, SQLITE_TRANSIENT);
			for (int k = 0; k < NFIELDS; k++)
				sqlite3_bind_text(st, 2 + k, rows[i].v[k], -1, SQLITE_STATIC);
			sqlite3_bind_int64(st, 8, (sqlite3_int64)time(NULL));
			must(sqlite3_step(st), db, "insert");
			sqlite3_reset(st);
		}
		must(sqlite3_exec(db, "COMMIT", NULL, NULL, NULL), db, "commit");
	}
	double el = now_s() - t0;
	sqlite3_finalize(st);
	sqlite3_close(db);
	rm_db(dir);
	return n / el;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof *v, cmp);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 100000;
	int runs = argc > 2 ? atoi(argv[2]) : 5;
	const char *policy = argc > 3 ? argv[3] : "policies/webshop.yaml";
	const char *only = argc > 4 ? argv[4] : "both"; /* privreg | raw | both: for profiling one side */
	if (vault_library_init() || n <= 0 || runs <= 0 || runs > 50)
		return 2;
	struct row *rows = calloc((size_t)n, sizeof *rows);
	make_rows(rows, n);
	double p[50], r[50], ratio[50];
	printf("rows=%d batch=%d runs=%d (alternating, fresh files in /tmp)\n", n, BATCH, runs);
	for (int i = 0; i < runs; i++) {
		p[i] = strcmp(only, "raw") ? run_privreg(rows, n, policy) : 1;
		r[i] = strcmp(only, "privreg") ? run_raw(rows, n) : 1;
		ratio[i] = p[i] / r[i];
		printf("run %d: privreg %.0f rows/s, raw sqlite %.0f rows/s, ratio %.2f\n", i + 1, p[i], r[i], ratio[i]);
		fflush(stdout);
	}
	double mp = median(p, runs), mr = median(r, runs), mq = median(ratio, runs);
	printf("median: privreg %.0f rows/s, raw sqlite %.0f rows/s, ratio of medians %.2f, median ratio %.2f\n",
	       mp, mr, mp / mr, mq);
	free(rows);
	return 0;
}
