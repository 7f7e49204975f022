/* Test helpers (see helpers.h). */
#include "helpers.h"

#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/timeutil.h"
#include "core/tenant.h"
#include <unistd.h>

#include <cmocka.h>
#include <libpq-fe.h>
#include <sodium.h>
#include <sqlite3.h>

char *test_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *s = malloc((size_t)n + 1);
	size_t got = fread(s, 1, (size_t)n, f);
	fclose(f);
	s[got] = '\0';
	if (len)
		*len = got;
	return s;
}

bool test_pg(void)
{
	const char *b = getenv("PRIVREG_TEST_BACKEND");
	return b && !strcmp(b, "postgresql");
}

/* Runs sql on the server's maintenance database ("postgres"). */
static void pg_admin(const char *sql)
{
	char url[400];
	snprintf(url, sizeof url, "%s/postgres", getenv("PRIVREG_TEST_PG_URL"));
	PGconn *c = PQconnectdb(url);
	if (PQstatus(c) != CONNECTION_OK)
		fail_msg("cannot connect to %s: %s", url, PQerrorMessage(c));
	PGresult *res = PQexec(c, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail_msg("%s: %s", sql, PQerrorMessage(c));
	PQclear(res);
	PQfinish(c);
}

/* A fresh database for r, named after its temporary directory. */
static void pg_database_new(struct test_register *r)
{
	const char *base = getenv("PRIVREG_TEST_PG_URL");
	if (!base || !*base) {
		fprintf(stderr, "skipped: PRIVREG_TEST_BACKEND=postgresql needs PRIVREG_TEST_PG_URL (the URL "
		                "scripts/start-postgres prints)\n");
		exit(77); /* meson: skipped */
	}
	snprintf(r->pgdb, sizeof r->pgdb, "privreg_%s", strrchr(r->dir, '-') + 1);
	for (char *p = r->pgdb; *p; p++)
		*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
	char sql[128];
	snprintf(sql, sizeof sql, "CREATE DATABASE %s", r->pgdb);
	pg_admin(sql);
	snprintf(r->url, sizeof r->url, "%s/%s", base, r->pgdb);
}

int test_sql(const struct test_register *r, const char *sql, int *changes)
{
	int ok = -1, n = 0;
	if (r->pgdb[0]) {
		char url[400];
		snprintf(url, sizeof url, "%s", r->url);
		PGconn *c = PQconnectdb(url);
		assert_int_equal(PQstatus(c), CONNECTION_OK);
		PGresult *res = PQexec(c, sql);
		if (PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK) {
			ok = 0;
			n = atoi(PQcmdTuples(res));
		}
		PQclear(res);
		PQfinish(c);
	} else {
		sqlite3 *db;
		assert_int_equal(sqlite3_open(r->db, &db), SQLITE_OK);
		if (sqlite3_exec(db, sql, NULL, NULL, NULL) == SQLITE_OK) {
			ok = 0;
			n = sqlite3_changes(db);
		}
		sqlite3_close(db);
	}
	if (changes)
		*changes = n;
	return ok;
}

void test_tempdir(char *dir, size_t size)
{
	snprintf(dir, size, "/tmp/privreg-test-XXXXXX");
	assert_non_null(mkdtemp(dir));
}

void test_register_new(struct test_register *r, const char *policy_path, const char *name)
{
	assert_int_equal(vault_library_init(), RC_OK);
	memset(r, 0, sizeof *r);
	test_tempdir(r->dir, sizeof r->dir);
	snprintf(r->keydir, sizeof r->keydir, "%s/keys", r->dir);
	assert_int_equal(mkdir(r->keydir, 0700), 0);
	snprintf(r->db, sizeof r->db, "%s/privreg.db", r->dir);
	if (test_pg())
		pg_database_new(r);
	else
		snprintf(r->url, sizeof r->url, "sqlite:%s", r->db);
	struct errbuf eb = {""};
	enum rc rc = store_open(r->url, &r->store, &eb);
	if (rc)
		fail_msg("store_open: %s", err_msg(&eb, rc));
	r->tenant = test_register_add_tenant(r, policy_path, name);
}

struct tenant *test_register_add_tenant(struct test_register *r, const char *policy_path, const char *name)
{
	struct errbuf eb = {""};
	char *src = test_read_file(policy_path, NULL);
	assert_non_null(src);
	int64_t id;
	enum rc rc = tenant_create(r->store, r->keydir, name, src, &id, &eb);
	if (rc)
		fail_msg("tenant_create: %s", err_msg(&eb, rc));
	free(src);
	struct tenant *t = NULL;
	assert_int_equal(tenant_open(r->store, r->keydir, name, &t, &eb), RC_OK);
	return t;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d))) {
			if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
				continue;
			char sub[1024];
			snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		closedir(d);
		rmdir(path);
	} else {
		unlink(path);
	}
}

void test_register_free(struct test_register *r)
{
	tenant_free(r->tenant);
	store_close(r->store);
	if (r->pgdb[0]) {
		char sql[128];
		snprintf(sql, sizeof sql, "DROP DATABASE %s WITH (FORCE)", r->pgdb);
		pg_admin(sql);
	}
	rm_rf(r->dir);
	memset(r, 0, sizeof *r);
}

static bool file_contains(const char *path, const void *needle, size_t len)
{
	size_t n;
	char *s = test_read_file(path, &n);
	bool found = s && memmem(s, n, needle, len) != NULL;
	free(s);
	return found;
}

bool test_register_contains(const struct test_register *r, const void *needle, size_t len)
{
	DIR *d = opendir(r->dir);
	bool found = false;
	struct dirent *e;
	while (d && !found && (e = readdir(d))) {
		char p[1024];
		snprintf(p, sizeof p, "%s/%s", r->dir, e->d_name);
		struct stat st;
		if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
			found = file_contains(p, needle, len);
	}
	if (d)
		closedir(d);
	return found;
}

const struct core_links test_links = {
	.base = "http://127.0.0.1:8080",
	.prefix = {[CORE_LINK_CONFIRM] = "/c/", [CORE_LINK_UNSUBSCRIBE] = "/u/", [CORE_LINK_VERIFY] = "/v/",
	           [CORE_LINK_EXPORT] = "/x/"},
};

int64_t test_at(const char *iso)
{
	int64_t t = 0;
	assert_int_equal(timeutil_parse_instant(iso, &t), RC_OK);
	return t;
}

struct core_ctx test_ctx(int64_t now, const struct test_register *r)
{
	return (struct core_ctx){.store = r->store, .tenant = r->tenant, .now = now, .links = &test_links};
}

struct field_input test_text(const char *name, const char *value)
{
	return (struct field_input){name, {VAL_STRING, value, strlen(value)}};
}
