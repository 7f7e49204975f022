/*
 * bench_writes_raw: the baseline of the write benchmark (run_writes.sh). Raw
 * SQLite doing the inserts privreg does for one request, on a copy of a
 * privreg register (the same schema, indexes, foreign keys and triggers),
 * with the same durability and threads: WAL, synchronous=FULL, one
 * transaction per request, THREADS connections queueing on one mutex for the
 * single writer (as privreg's store_pool does). Values are plaintext of the
 * sizes privreg writes; no encryption, no hashing, no HTTP.
 *   create: a subject, its account record, one lookup row, an audit entry
 *   grant:  a consent event, the consent state, an outbox message, an audit
 *           entry, for an existing subject (each request another one)
 * Usage: bench_writes_raw DB create|grant THREADS SECONDS
 * Prints: "<op> <n> in <s> s = <rate>/s" and the p50/p99 per transaction.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_LAT 4000000

struct shared {
	const char *path;
	int grant;
	double stop_at;
	pthread_mutex_t writer;
	/* subject ids for grants, handed out in order so each is granted once */
	unsigned char (*ids)[16];
	size_t nids, next_id;
	pthread_mutex_t ids_lock;
	double *lat;
	size_t nlat;
	pthread_mutex_t lat_lock;
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void die(sqlite3 *db, const char *what)
{
	fprintf(stderr, "%s: %s\n", what, sqlite3_errmsg(db));
	exit(1);
}

static sqlite3_stmt *prep(sqlite3 *db, const char *sql)
{
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK)
		die(db, sql);
	return st;
}

static void step(sqlite3 *db, sqlite3_stmt *st)
{
	int rc = sqlite3_step(st);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		die(db, "step");
	sqlite3_reset(st);
}

static void rnd(unsigned char *p, size_t n, uint64_t *s)
{
	for (size_t i = 0; i < n; i++) {
		*s ^= *s << 13, *s ^= *s >> 7, *s ^= *s << 17;
		p[i] = (unsigned char)*s;
	}
}

static void *worker(void *arg)
{
	struct shared *sh = arg;
	sqlite3 *db;
	if (sqlite3_open_v2(sh->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		die(db, "open");
	sqlite3_busy_timeout(db, 10000);
	if (sqlite3_exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON; "
	                     "PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768;",
	                 NULL, NULL, NULL) != SQLITE_OK)
		die(db, "pragma");
	sqlite3_stmt *begin = prep(db, "BEGIN IMMEDIATE"), *commit = prep(db, "COMMIT");
	sqlite3_stmt *subj = prep(db, "INSERT INTO subjects (tenant_id, subject_id, wrapped_key, created_at) VALUES (1, ?1, ?2, ?3)");
	sqlite3_stmt *rec = prep(db, "INSERT INTO records (tenant_id, record_id, subject_id, kind, state, created_at, updated_at, "
	                             "data, lookups, due_at, trim_at) VALUES (1, ?1, ?2, 'account', '', ?3, 0, ?4, ?5, NULL, NULL)");
	sqlite3_stmt *look = prep(db, "INSERT INTO lookups (tenant_id, hash, record_id) VALUES (1, ?1, ?2)");
	sqlite3_stmt *head = prep(db, "SELECT seq, hash FROM audit WHERE tenant_id = 1 ORDER BY seq DESC LIMIT 1");
	sqlite3_stmt *aud = prep(db, "INSERT INTO audit (tenant_id, seq, at, key_id, role, action, subject_id, record_id, purpose, "
	                             "outcome, detail, prev_hash, hash) VALUES (1, ?1, ?2, 'k_bench', 'admin', ?3, ?4, NULL, NULL, "
	                             "'ok', ?5, ?6, ?7)");
	sqlite3_stmt *ev = prep(db, "INSERT INTO consent_events (tenant_id, event_id, subject_id, purpose, action, at, source, channel, "
	                            "policy_version, wording, evidence, actor) VALUES (1, (SELECT COALESCE(MAX(event_id), 0) + 1 FROM "
	                            "consent_events WHERE tenant_id = 1), ?1, 'direct_marketing', 'granted', ?2, 'bench', 'email', "
	                            "'v1', NULL, NULL, 'k_bench') RETURNING event_id");
	sqlite3_stmt *state = prep(db, "INSERT INTO consent_state (tenant_id, subject_id, purpose, state, updated_at) VALUES "
	                               "(1, ?1, 'direct_marketing', 'pending', ?2) ON CONFLICT (tenant_id, subject_id, purpose) "
	                               "DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at");
	sqlite3_stmt *out = prep(db, "INSERT INTO outbox (tenant_id, message_id, subject_id, kind, created_at, next_at, sealed) VALUES "
	                             "(1, (SELECT COALESCE(MAX(message_id), 0) + 1 FROM outbox WHERE tenant_id = 1), ?1, 'confirm', ?2, ?2, ?3)");
	uint64_t seed = (uint64_t)(uintptr_t)&db ^ (uint64_t)(now() * 1e9);
	unsigned char sid[16], rid[16], key[72], data[160], hash[32], prev[32], mail[700];
	double *lat = malloc(sizeof(double) * 1000000);
	size_t nlat = 0;
	for (;;) {
		double t0 = now();
		if (t0 >= sh->stop_at)
			break;
		int64_t at = (int64_t)time(NULL);
		if (sh->grant) {
			pthread_mutex_lock(&sh->ids_lock);
			size_t i = sh->next_id++ % sh->nids;
			pthread_mutex_unlock(&sh->ids_lock);
			memcpy(sid, sh->ids[i], 16);
		} else {
			rnd(sid, 16, &seed);
			rnd(rid, 16, &seed);
			rnd(key, sizeof key, &seed);
			rnd(data, sizeof data, &seed);
		}
		rnd(hash, sizeof hash, &seed);
		pthread_mutex_lock(&sh->writer);
		step(db, begin);
		if (sh->grant) {
			sqlite3_bind_blob(ev, 1, sid, 16, SQLITE_STATIC);
			sqlite3_bind_int64(ev, 2, at);
			step(db, ev);
			sqlite3_bind_blob(state, 1, sid, 16, SQLITE_STATIC);
			sqlite3_bind_int64(state, 2, at);
			step(db, state);
			rnd(mail, sizeof mail, &seed);
			sqlite3_bind_blob(out, 1, sid, 16, SQLITE_STATIC);
			sqlite3_bind_int64(out, 2, at);
			sqlite3_bind_blob(out, 3, mail, sizeof mail, SQLITE_STATIC);
			step(db, out);
		} else {
			sqlite3_bind_blob(subj, 1, sid, 16, SQLITE_STATIC);
			sqlite3_bind_blob(subj, 2, key, sizeof key, SQLITE_STATIC);
			sqlite3_bind_int64(subj, 3, at);
			step(db, subj);
			sqlite3_bind_blob(rec, 1, rid, 16, SQLITE_STATIC);
			sqlite3_bind_blob(rec, 2, sid, 16, SQLITE_STATIC);
			sqlite3_bind_int64(rec, 3, at);
			sqlite3_bind_blob(rec, 4, data, sizeof data, SQLITE_STATIC);
			sqlite3_bind_blob(rec, 5, hash, 32, SQLITE_STATIC);
			step(db, rec);
			sqlite3_bind_blob(look, 1, hash, 32, SQLITE_STATIC);
			sqlite3_bind_blob(look, 2, rid, 16, SQLITE_STATIC);
			step(db, look);
		}
		int64_t seq = 0;
		if (sqlite3_step(head) == SQLITE_ROW) {
			seq = sqlite3_column_int64(head, 0);
			memcpy(prev, sqlite3_column_blob(head, 1), 32);
		}
		sqlite3_reset(head);
		char subject[40];
		snprintf(subject, sizeof subject, "sub_%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x%02x", sid[0], sid[1],
		         sid[2], sid[3], sid[4], sid[5], sid[6], sid[7], sid[8], sid[9], sid[10], sid[11], sid[12]);
		sqlite3_bind_int64(aud, 1, seq + 1);
		sqlite3_bind_int64(aud, 2, at);
		sqlite3_bind_text(aud, 3, sh->grant ? "consent.granted" : "subject.create", -1, SQLITE_STATIC);
		sqlite3_bind_text(aud, 4, subject, -1, SQLITE_STATIC);
		sqlite3_bind_text(aud, 5, sh->grant ? "purpose=direct_marketing state=pending event=1" : "records=1", -1, SQLITE_STATIC);
		sqlite3_bind_blob(aud, 6, prev, 32, SQLITE_STATIC);
		sqlite3_bind_blob(aud, 7, hash, 32, SQLITE_STATIC);
		step(db, aud);
		step(db, commit);
		pthread_mutex_unlock(&sh->writer);
		if (nlat < 1000000)
			lat[nlat++] = now() - t0;
	}
	pthread_mutex_lock(&sh->lat_lock);
	for (size_t i = 0; i < nlat && sh->nlat < MAX_LAT; i++)
		sh->lat[sh->nlat++] = lat[i];
	pthread_mutex_unlock(&sh->lat_lock);
	free(lat);
	sqlite3_stmt *all[] = {begin, commit, subj, rec, look, head, aud, ev, state, out};
	for (size_t i = 0; i < sizeof all / sizeof all[0]; i++)
		sqlite3_finalize(all[i]);
	sqlite3_close(db);
	return NULL;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	if (argc != 5) {
		fprintf(stderr, "usage: bench_writes_raw DB create|grant THREADS SECONDS\n");
		return 2;
	}
	struct shared sh = {.path = argv[1], .grant = !strcmp(argv[2], "grant")};
	int threads = atoi(argv[3]);
	double secs = atof(argv[4]);
	pthread_mutex_init(&sh.writer, NULL);
	pthread_mutex_init(&sh.ids_lock, NULL);
	pthread_mutex_init(&sh.lat_lock, NULL);
	sh.lat = malloc(sizeof(double) * MAX_LAT);
	if (sh.grant) { /* subjects without a consent state yet, in random order */
		sqlite3 *db;
		sqlite3_stmt *st;
		if (sqlite3_open(sh.path, &db) != SQLITE_OK ||
		    sqlite3_prepare_v2(db, "SELECT subject_id FROM subjects s WHERE NOT EXISTS (SELECT 1 FROM consent_state c "
		                           "WHERE c.tenant_id = s.tenant_id AND c.subject_id = s.subject_id) ORDER BY random() LIMIT 200000",
		                       -1, &st, NULL) != SQLITE_OK)
			die(db, "ids");
		sh.ids = malloc(200000 * 16);
		while (sqlite3_step(st) == SQLITE_ROW && sh.nids < 200000)
			memcpy(sh.ids[sh.nids++], sqlite3_column_blob(st, 0), 16);
		sqlite3_finalize(st);
		sqlite3_close(db);
		if (!sh.nids) {
			fprintf(stderr, "no subjects to grant to\n");
			return 1;
		}
	}
	double t0 = now();
	sh.stop_at = t0 + secs;
	pthread_t *t = calloc((size_t)threads, sizeof *t);
	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, &sh);
	for (int i = 0; i < threads; i++)
		pthread_join(t[i], NULL);
	double el = now() - t0;
	qsort(sh.lat, sh.nlat, sizeof *sh.lat, cmp);
	printf("%s %zu in %.2f s = %.0f/s p50 %.2f ms p99 %.2f ms\n", argv[2], sh.nlat, el, (double)sh.nlat / el,
	       sh.nlat ? sh.lat[sh.nlat / 2] * 1e3 : 0.0, sh.nlat ? sh.lat[sh.nlat * 99 / 100] * 1e3 : 0.0);
	free(sh.lat);
	free(sh.ids);
	free(t);
	return 0;
}
