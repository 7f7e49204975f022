/* fuzz: helpers shared by the fuzz targets (see fuzz.h). */
#include "fuzz.h"

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/apikey.h"
#include "core/tenant.h"
#include "crypto/vault.h"

/* The sanitizers' own report line: it reaches the log even when libFuzzer
 * closed stderr (-close_fd_mask=2, for the chatty targets). */
void __sanitizer_report_error_summary(const char *summary) __attribute__((weak));

void fuzz_fail(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fprintf(stderr, "fuzz: property broken: %s\n", msg);
	if (__sanitizer_report_error_summary) {
		char line[1100];
		snprintf(line, sizeof line, "fuzz: property broken: %s", msg);
		__sanitizer_report_error_summary(line);
	}
	abort();
}

char *fuzz_source_file(const char *rel, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", FUZZ_SOURCE_ROOT, rel);
	FILE *f = fopen(path, "rb");
	if (!f)
		fuzz_fail("cannot open %s", path);
	char *s = NULL;
	size_t n = 0, cap = 0;
	for (;;) {
		if (n + 4096 + 1 > cap)
			s = realloc(s, cap = 2 * cap + 4096 + 1);
		if (!s)
			abort();
		size_t got = fread(s + n, 1, 4096, f);
		n += got;
		if (got < 4096)
			break;
	}
	fclose(f);
	s[n] = '\0';
	if (len)
		*len = n;
	return s;
}

struct policy *fuzz_policy(const char *name)
{
	char rel[256];
	snprintf(rel, sizeof rel, "policies/%s.yaml", name);
	size_t len;
	char *src = fuzz_source_file(rel, &len);
	struct policy *p = NULL;
	if (policy_parse(src, len, &p, NULL))
		fuzz_fail("%s does not parse", rel);
	free(src);
	return p;
}

static void rm_rf(const char *path)
{
	DIR *d = opendir(path);
	if (!d) {
		unlink(path);
		return;
	}
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
}

/* The directories to remove at exit: libFuzzer ends with exit() when its
 * time is up, without returning to the target. */
static char cleanup_dirs[4][256];

static void cleanup(void)
{
	for (size_t i = 0; i < sizeof cleanup_dirs / sizeof cleanup_dirs[0]; i++)
		if (cleanup_dirs[i][0])
			rm_rf(cleanup_dirs[i]);
}

static void cleanup_add(const char *dir)
{
	static bool registered;
	if (!registered) {
		atexit(cleanup);
		registered = true;
	}
	for (size_t i = 0; i < sizeof cleanup_dirs / sizeof cleanup_dirs[0]; i++)
		if (!cleanup_dirs[i][0]) {
			snprintf(cleanup_dirs[i], sizeof cleanup_dirs[i], "%s", dir);
			return;
		}
}

static void cleanup_remove(const char *dir)
{
	for (size_t i = 0; i < sizeof cleanup_dirs / sizeof cleanup_dirs[0]; i++)
		if (!strcmp(cleanup_dirs[i], dir))
			cleanup_dirs[i][0] = '\0';
}

void fuzz_register_new(struct fuzz_register *r, const char *policy)
{
	struct errbuf eb = {""};
	memset(r, 0, sizeof *r);
	if (vault_library_init() || store_library_init())
		fuzz_fail("library init");
	/* mkdtemp's template: the prefix, then six characters it replaces */
	int len = snprintf(r->dir, sizeof r->dir, "/tmp/privreg-fuzz-");
	memset(r->dir + len, 'X', 6);
	r->dir[len + 6] = '\0';
	if (!mkdtemp(r->dir))
		fuzz_fail("mkdtemp");
	cleanup_add(r->dir);
	snprintf(r->keydir, sizeof r->keydir, "%s/keys", r->dir);
	if (mkdir(r->keydir, 0700))
		fuzz_fail("mkdir %s", r->keydir);
	snprintf(r->store_url, sizeof r->store_url, "sqlite:%s/privreg.db", r->dir);
	enum rc rc = store_open(r->store_url, &r->store, &eb);
	char rel[256];
	snprintf(rel, sizeof rel, "policies/%s.yaml", policy);
	char *src = fuzz_source_file(rel, NULL);
	int64_t id;
	if (!rc)
		rc = tenant_create(r->store, r->keydir, "default", src, &id, &eb);
	free(src);
	if (!rc)
		rc = tenant_open(r->store, r->keydir, "default", &r->tenant, &eb);
	char key_id[TOKEN_KEY_ID_LEN + 1];
	struct core_ctx c = {.store = r->store, .tenant = r->tenant};
	if (!rc)
		rc = apikey_create(&c, "admin", key_id, r->admin_key, &eb);
	if (rc)
		fuzz_fail("register: %s", err_msg(&eb, rc));
}

void fuzz_register_free(struct fuzz_register *r)
{
	tenant_free(r->tenant);
	store_close(r->store);
	rm_rf(r->dir);
	cleanup_remove(r->dir);
	memset(r, 0, sizeof *r);
}
