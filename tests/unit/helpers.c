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
#include <sodium.h>

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

void test_register_new(struct test_register *r, const char *policy_path, const char *name)
{
	assert_int_equal(vault_library_init(), RC_OK);
	memset(r, 0, sizeof *r);
	snprintf(r->dir, sizeof r->dir, "/tmp/privreg-test-XXXXXX");
	assert_non_null(mkdtemp(r->dir));
	snprintf(r->keydir, sizeof r->keydir, "%s/keys", r->dir);
	assert_int_equal(mkdir(r->keydir, 0700), 0);
	snprintf(r->db, sizeof r->db, "%s/privreg.db", r->dir);
	struct errbuf eb = {""};
	char url[400];
	snprintf(url, sizeof url, "sqlite:%s", r->db);
	assert_int_equal(store_open(url, &r->store, &eb), RC_OK);
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
