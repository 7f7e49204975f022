/* attest: the register's signing key (made once, the same key after, refused
 * when others can read it) and the signed document (intact, a changed claim,
 * another key, not an attestation). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/attest_json.h"
#include "core/attest.h"
#include "crypto/signkey.h"
#include "crypto/vault.h"
#include "helpers.h"

static int setup(void **state)
{
	(void)state;
	return vault_library_init() ? -1 : 0;
}

static void cleanup(const char *dir)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, SIGNKEY_FILE);
	unlink(path);
	rmdir(dir);
}

static void test_key_is_made_once(void **state)
{
	(void)state;
	char dir[64], path[128];
	test_tempdir(dir, sizeof dir);
	struct signkey a, b;
	struct errbuf eb = {""};
	assert_int_equal(signkey_load(dir, &a, &eb), RC_OK);
	snprintf(path, sizeof path, "%s/%s", dir, SIGNKEY_FILE);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(signkey_load(dir, &b, &eb), RC_OK);
	assert_memory_equal(a.pk, b.pk, SIGNKEY_PUBLIC_LEN);
	assert_string_equal(a.id, b.id);
	assert_int_equal(strlen(a.id), 16);
	unsigned char sig[SIGNKEY_SIG_LEN];
	signkey_sign(&a, "claims", 6, sig);
	assert_true(signkey_verify(b.pk, "claims", 6, sig));
	assert_false(signkey_verify(b.pk, "claimz", 6, sig));
	signkey_fini(&a);
	signkey_fini(&b);
	signkey_fini(&b); /* twice is fine */
	/* Readable by others: refused, with the fix. */
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(signkey_load(dir, &a, &eb), RC_IO);
	assert_non_null(strstr(eb.msg, "chmod 600"));
	assert_null(a.sk);
	cleanup(dir);
}

static void fake(struct attestation *a, bool holds)
{
	memset(a, 0, sizeof *a);
	arena_init(&a->arena);
	a->tenant = "default";
	a->as_of = 1764547200; /* 2025-12-01 */
	a->from = 1761955200;
	static const char *const names[ATTEST__COUNT] = {"retention", "requests", "consent", "disclosures",
	                                                 "access", "erasure", "policy"};
	for (int i = 0; i < ATTEST__COUNT; i++) {
		a->claims[i].name = names[i];
		a->claims[i].holds = holds;
	}
}

static void test_document_signature(void **state)
{
	(void)state;
	char dir[64];
	test_tempdir(dir, sizeof dir);
	struct signkey k;
	struct errbuf eb = {""};
	assert_int_equal(signkey_load(dir, &k, &eb), RC_OK);
	struct attestation a;
	fake(&a, true);
	char *doc = attest_json_document(&a, &k);
	attest_fini(&a);
	assert_non_null(strstr(doc, "\"as_of\": \"2025-12-01T00:00:00Z\""));
	json_t *parsed = NULL;
	assert_int_equal(attest_json_verify(doc, strlen(doc), k.pk, &parsed, &eb), RC_OK);
	assert_non_null(parsed);
	json_decref(parsed);
	/* One claim turned: the signature no longer matches. */
	char *turned = strstr(doc, "\"holds\": true");
	assert_non_null(turned);
	memcpy(turned, "\"holds\": 1   ", 13);
	assert_int_equal(attest_json_verify(doc, strlen(doc), k.pk, NULL, &eb), RC_CRYPTO);
	assert_non_null(strstr(eb.msg, "altered"));
	free(doc);
	/* Another key's document names that key. */
	unsigned char other[SIGNKEY_PUBLIC_LEN];
	memcpy(other, k.pk, sizeof other);
	other[0] ^= 1;
	fake(&a, false);
	doc = attest_json_document(&a, &k);
	attest_fini(&a);
	assert_int_equal(attest_json_verify(doc, strlen(doc), other, NULL, &eb), RC_CRYPTO);
	assert_non_null(strstr(eb.msg, "not with this key"));
	free(doc);
	assert_int_equal(attest_json_verify("[1]", 3, k.pk, NULL, &eb), RC_UNPROCESSABLE);
	assert_int_equal(attest_json_verify("{\"tenant\": \"x\"}", 15, k.pk, NULL, &eb), RC_UNPROCESSABLE);
	signkey_fini(&k);
	cleanup(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_is_made_once),
		cmocka_unit_test(test_document_signature),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
