/* test_totp: RFC 6238 codes (its SHA-1 vectors), SHA-1 and HMAC-SHA-1
 * (RFC 3174, RFC 2202), base32 both ways, the one-step window and the
 * refusal of a code used before; and password's rules. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "crypto/password.h"
#include "crypto/totp.h"

static void hex(const unsigned char *b, size_t n, char *out)
{
	for (size_t i = 0; i < n; i++)
		sprintf(out + 2 * i, "%02x", b[i]);
}

static void test_sha1_and_hmac(void **state)
{
	unsigned char d[20];
	char h[41];
	totp_sha1("abc", 3, d);
	hex(d, 20, h);
	assert_string_equal(h, "a9993e364706816aba3e25717850c26c9cd0d89d");
	const char *two = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	totp_sha1(two, strlen(two), d);
	hex(d, 20, h);
	assert_string_equal(h, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	unsigned char key[20];
	memset(key, 0x0b, sizeof key);
	totp_hmac_sha1(key, sizeof key, "Hi There", 8, d);
	hex(d, 20, h);
	assert_string_equal(h, "b617318655057264e28bc0b6fb378c8ef146be00");
	unsigned char big[80];
	memset(big, 0xaa, sizeof big); /* a key longer than the block is hashed first */
	const char *msg = "Test Using Larger Than Block-Size Key - Hash Key First";
	totp_hmac_sha1(big, sizeof big, msg, strlen(msg), d);
	hex(d, 20, h);
	assert_string_equal(h, "aa4ae5e15272d00e95705637ce8a3b55ed402112");
}

static void test_rfc6238_vectors(void **state)
{
	const unsigned char *secret = (const unsigned char *)"12345678901234567890";
	/* RFC 6238 appendix B, SHA-1: the last 6 of its 8 digits. */
	struct {
		long long t;
		unsigned code;
	} v[] = {{59, 287082}, {1111111109, 81804}, {1111111111, 50471}, {1234567890, 5924},
	         {2000000000, 279037}, {20000000000LL, 353130}};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		assert_int_equal(totp_code(secret, v[i].t / TOTP_STEP), v[i].code);
}

static void test_base32(void **state)
{
	const unsigned char *secret = (const unsigned char *)"12345678901234567890";
	char text[TOTP_BASE32_LEN + 1];
	totp_base32(secret, text);
	assert_string_equal(text, "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
	unsigned char back[TOTP_SECRET_LEN];
	assert_true(totp_from_base32(text, back));
	assert_memory_equal(back, secret, TOTP_SECRET_LEN);
	assert_false(totp_from_base32("GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJ1", back)); /* 1 is not base32 */
	assert_false(totp_from_base32("GEZDGNBV", back));
}

static void test_window_and_replay(void **state)
{
	const unsigned char *secret = (const unsigned char *)"12345678901234567890";
	long long now = 1111111111, step = now / TOTP_STEP;
	char code[8];
	snprintf(code, sizeof code, "%06u", totp_code(secret, step));
	assert_int_equal(totp_check(secret, code, now, 0), step);
	assert_int_equal(totp_check(secret, code, now, step), -1); /* used: never twice */
	snprintf(code, sizeof code, "%06u", totp_code(secret, step - 1));
	assert_int_equal(totp_check(secret, code, now, 0), step - 1); /* a clock a step behind */
	snprintf(code, sizeof code, "%06u", totp_code(secret, step + 2));
	assert_int_equal(totp_check(secret, code, now, 0), -1); /* two steps: too far */
	assert_int_equal(totp_check(secret, "12345", now, 0), -1);
	assert_int_equal(totp_check(secret, "1234567", now, 0), -1);
	assert_int_equal(totp_check(secret, "12a456", now, 0), -1);
}

static void test_password(void **state)
{
	char hash[PASSWORD_HASH_MAX];
	assert_int_equal(password_hash("correct horse battery", hash), RC_OK);
	assert_non_null(strstr(hash, "$argon2id$"));
	assert_true(password_verify(hash, "correct horse battery"));
	assert_false(password_verify(hash, "correct horse batterY"));
	assert_false(password_verify("", "x"));
	assert_int_equal(password_length("õunapuu"), 7); /* code points, not bytes */
	assert_int_equal(password_length("абвгдеёжзийк"), 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sha1_and_hmac), cmocka_unit_test(test_rfc6238_vectors),
		cmocka_unit_test(test_base32),        cmocka_unit_test(test_window_and_replay),
		cmocka_unit_test(test_password),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
