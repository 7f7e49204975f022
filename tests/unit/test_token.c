/* token: ids against the ULID spec's published values, the pre-ULID form and
 * its rewrite, API keys, signed links (tamper, truncate, expiry). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <sodium.h>

#include "base/buf.h"
#include "crypto/token.h"
#include "crypto/vault.h"

static int setup(void **state)
{
	return vault_library_init() ? -1 : 0;
}

static void hex(const char *h, unsigned char out[TOKEN_ID_BYTES])
{
	for (int i = 0; i < TOKEN_ID_BYTES; i++) {
		unsigned v;
		assert_int_equal(sscanf(h + 2 * i, "%2x", &v), 1);
		out[i] = (unsigned char)v;
	}
}

static int64_t id_time(const char *prefix, const char *id)
{
	unsigned char b[TOKEN_ID_BYTES];
	assert_true(token_id_decode(prefix, id, b));
	int64_t ms = 0;
	for (int i = 0; i < 6; i++)
		ms = (ms << 8) | b[i];
	return ms;
}

/* github.com/ulid/spec: "01ARZ3NDEKTSV4RRFFQ69G5FAV" (whose 128 bits are
 * the UUID 01563e3a-b5d3-d676-4c61-efb99302bd5b, time 1469922850259),
 * "01AN4Z07BY79KA1307SR9X4MV3", the time 1469918176385 as "01ARYZ6S41",
 * and the largest ULID "7ZZZZZZZZZZZZZZZZZZZZZZZZZ"; privreg writes them in
 * lower case. */
static void test_spec_examples(void **state)
{
	unsigned char b[TOKEN_ID_BYTES], back[TOKEN_ID_BYTES];
	char id[TOKEN_ID_MAX];
	hex("01563e3ab5d3d6764c61efb99302bd5b", b);
	token_id_encode(TOKEN_PREFIX_SUBJECT, b, id);
	assert_string_equal(id, "sub_01arz3ndektsv4rrffq69g5fav");
	assert_true(token_id_decode(TOKEN_PREFIX_SUBJECT, id, back));
	assert_memory_equal(b, back, sizeof b);
	assert_int_equal(id_time(TOKEN_PREFIX_SUBJECT, id), 1469922850259);

	hex("015549f01d7e3a66a08c07ce13d25363", b);
	token_id_encode(TOKEN_PREFIX_RECORD, b, id);
	assert_string_equal(id, "rec_01an4z07by79ka1307sr9x4mv3");

	/* Time first: 48 bits of milliseconds are the first 10 characters. */
	int64_t ms = 1469918176385;
	memset(b, 0, sizeof b);
	for (int i = 0; i < 6; i++)
		b[i] = (unsigned char)(ms >> (8 * (5 - i)));
	token_id_encode(TOKEN_PREFIX_REQUEST, b, id);
	assert_memory_equal(id, "req_01aryz6s41", 14);
	assert_string_equal(id + 14, "0000000000000000");
	assert_int_equal(id_time(TOKEN_PREFIX_REQUEST, id), ms);

	memset(b, 0xff, sizeof b);
	token_id_encode(TOKEN_PREFIX_HOLD, b, id);
	assert_string_equal(id, "hld_7zzzzzzzzzzzzzzzzzzzzzzzzz");
	assert_true(token_id_decode(TOKEN_PREFIX_HOLD, id, back));
	assert_memory_equal(b, back, sizeof b);
	memset(b, 0, sizeof b);
	token_id_encode(TOKEN_PREFIX_DISCLOSURE, b, id);
	assert_string_equal(id, "dsc_00000000000000000000000000");
}

static void test_invalid(void **state)
{
	unsigned char b[TOKEN_ID_BYTES];
	const char *bad[] = {
		"sub_80000000000000000000000000",  /* would need a 129th bit */
		"sub_zzzzzzzzzzzzzzzzzzzzzzzzzz",
		"sub_01arz3ndektsv4rrffq69g5fa",   /* 25 */
		"sub_01arz3ndektsv4rrffq69g5fav0", /* 27 */
		"rec_01arz3ndektsv4rrffq69g5fav",  /* another kind */
		"01arz3ndektsv4rrffq69g5fav",      /* no prefix */
		"sub_01ARZ3NDEKTSV4RRFFQ69G5FAV",  /* one spelling only (see token.h) */
		"sub_01arz3ndektsv4rrffq69g5fau",  /* not in the alphabet */
		"sub_01arz3ndektsv4rrffq69g5fai",
		"sub_01arz3ndektsv4rrffq69g5fal",
		"sub_01arz3ndektsv4rrffq69g5fao",
		"sub_01arz3ndektsv4rrffq69g5fa-",
		"sub_",
		"",
		"sub_../../etc/passwd",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		assert_false(token_id_valid(TOKEN_PREFIX_SUBJECT, bad[i]));
		assert_false(token_id_decode(TOKEN_PREFIX_SUBJECT, bad[i], b));
	}
	assert_true(token_id_valid(TOKEN_PREFIX_SUBJECT, "sub_7zzzzzzzzzzzzzzzzzzzzzzzzz"));
}

static void test_new_and_round_trips(void **state)
{
	char id[TOKEN_ID_MAX], prev[TOKEN_ID_MAX] = "";
	unsigned char b[TOKEN_ID_BYTES], back[TOKEN_ID_BYTES], pb[TOKEN_ID_BYTES];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	int64_t now = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	token_id_new(TOKEN_PREFIX_SUBJECT, id);
	assert_true(token_id_valid(TOKEN_PREFIX_SUBJECT, id));
	assert_false(token_id_valid(TOKEN_PREFIX_RECORD, id));
	int64_t t = id_time(TOKEN_PREFIX_SUBJECT, id);
	assert_true(t >= now && t < now + 5000);
	for (int i = 0; i < 2000; i++) {
		randombytes_buf(b, sizeof b);
		token_id_encode(TOKEN_PREFIX_RECORD, b, id);
		assert_int_equal(strlen(id), 4 + TOKEN_ID_CHARS);
		assert_true(token_id_decode(TOKEN_PREFIX_RECORD, id, back));
		assert_memory_equal(b, back, sizeof b);
		/* Text order is byte order (the ULID's "lexicographically sortable"). */
		if (prev[0]) {
			int bc = memcmp(pb, b, sizeof b), sc = strcmp(prev, id);
			assert_true((bc < 0) == (sc < 0) && (bc == 0) == (sc == 0));
		}
		memcpy(pb, b, sizeof b);
		strcpy(prev, id);
	}
}

/* The id from the structure issue, read the old way, was 2026-12; every
 * ULID library read it as 2197. Rewritten, it says 2026 to both. */
static void test_legacy_rewrite(void **state)
{
	char s[] = "subject=sub_06h36xm12kab6qx8eyc8qdz824 record=rec_05b3wenntfb7ck31xyws60nxbc.";
	token_ids_from_legacy(s);
	assert_string_equal(s, "subject=sub_01m8sqd08mtjsnza3qk25vft0h record=rec_01arz3ndektsv4rrffq69g5fav.");
	assert_int_equal(id_time(TOKEN_PREFIX_SUBJECT, "sub_01m8sqd08mtjsnza3qk25vft0h"), 1796159734036);
	token_ids_to_legacy(s);
	assert_string_equal(s, "subject=sub_06h36xm12kab6qx8eyc8qdz824 record=rec_05b3wenntfb7ck31xyws60nxbc.");

	/* Not ids: no rewrite. */
	const char *keep[] = {
		"xsub_06h36xm12kab6qx8eyc8qdz824",  /* inside a word */
		"sub_06h36xm12kab6qx8eyc8qdz8240",  /* 27 characters */
		"sub_06h36xm12kab6qx8eyc8qdz824x",
		"sub_06H36XM12KAB6QX8EYC8QDZ824",
		"key_06h36xm12kab6qx8eyc8qdz824",   /* not an id prefix */
		"sub_a", "rec_1", "",
	};
	for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++) {
		char c[64];
		strcpy(c, keep[i]);
		token_ids_from_legacy(c);
		assert_string_equal(c, keep[i]);
		token_ids_to_legacy(c);
		assert_string_equal(c, keep[i]);
	}

	/* Each undoes the other on any text, ids or not. */
	static const char alphabet[] = "subrecqhldz017_:= -";
	for (int round = 0; round < 5000; round++) {
		char x[96], y[96];
		size_t n = randombytes_uniform(sizeof x - 1);
		for (size_t i = 0; i < n; i++)
			x[i] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
		x[n] = '\0';
		if (round % 2) { /* plant ids */
			size_t at = randombytes_uniform(60);
			char id[TOKEN_ID_MAX];
			token_id_new(round % 4 == 1 ? TOKEN_PREFIX_SUBJECT : TOKEN_PREFIX_HOLD, id);
			if (at > n)
				memset(x + n, ' ', at - n);
			memcpy(x + at, id, strlen(id));
			if (n < at + strlen(id))
				x[at + strlen(id)] = '\0';
		}
		strcpy(y, x);
		token_ids_from_legacy(y);
		assert_int_equal(strlen(y), strlen(x));
		token_ids_to_legacy(y);
		assert_string_equal(y, x);
		token_ids_to_legacy(y);
		token_ids_from_legacy(y);
		assert_string_equal(y, x);
	}
}

/* A ciphertext and a wrapped key written before the ULID ids (associated
 * data: the old text of the id) open under the id's new text. */
static void test_legacy_ciphertext(void **state)
{
	struct vault v;
	unsigned char master[VAULT_KEY_LEN];
	randombytes_buf(master, sizeof master);
	vault_init(&v, 7, master);
	const char *old_sub = "sub_06h36xm12kab6qx8eyc8qdz824", *new_sub = "sub_01m8sqd08mtjsnza3qk25vft0h";
	const char *old_rec = "rec_05b3wenntfb7ck31xyws60nxbc", *new_rec = "rec_01arz3ndektsv4rrffq69g5fav";

	struct subject_key k, got;
	crypto_aead_xchacha20poly1305_ietf_keygen(k.k);
	unsigned char ad[8 + 30], wrapped[VAULT_WRAPPED_LEGACY_LEN];
	for (int i = 0; i < 8; i++)
		ad[i] = (unsigned char)((uint64_t)v.tenant_id >> (8 * i));
	memcpy(ad + 8, old_sub, 30);
	randombytes_buf(wrapped, VAULT_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(wrapped + VAULT_NONCE_LEN, NULL, k.k, VAULT_KEY_LEN, ad, sizeof ad,
	                                           NULL, wrapped, v.wrap_key);
	assert_int_equal(vault_subject_key_unwrap(&v, new_sub, wrapped, sizeof wrapped, &got), RC_OK);
	assert_memory_equal(got.k, k.k, sizeof k.k);

	const char *plain = "Mari Tamm";
	unsigned char sealed[64];
	randombytes_buf(sealed, VAULT_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(sealed + VAULT_NONCE_LEN, NULL, (const unsigned char *)plain,
	                                           strlen(plain), (const unsigned char *)old_rec, strlen(old_rec),
	                                           NULL, sealed, k.k);
	size_t len = strlen(plain) + VAULT_SEAL_OVERHEAD;
	struct buf out;
	buf_init(&out, 1024);
	assert_int_equal(vault_open(&k, new_rec, sealed, len, &out), RC_OK);
	assert_memory_equal(out.data, plain, strlen(plain));
	buf_fini(&out);
	/* And what is sealed now opens the same way, and only under its id. */
	unsigned char now[64];
	vault_seal(&k, "consent:sub_01m8sqd08mtjsnza3qk25vft0h:news:1", plain, strlen(plain), now);
	buf_init(&out, 1024);
	assert_int_equal(vault_open(&k, "consent:sub_01m8sqd08mtjsnza3qk25vft0h:news:1", now, len, &out), RC_OK);
	assert_int_equal(vault_open(&k, "consent:sub_01m8sqd08mtjsnza3qk25vft0j:news:1", now, len, &out), RC_CRYPTO);
	buf_fini(&out);
	vault_subject_key_wipe(&k);
	vault_subject_key_wipe(&got);
	vault_fini(&v);
}

static void test_apikeys(void **state)
{
	char kid[TOKEN_KEY_ID_LEN + 1], key[TOKEN_APIKEY_MAX], kid2[TOKEN_KEY_ID_LEN + 1];
	unsigned char h[TOKEN_HASH_LEN], h2[TOKEN_HASH_LEN];
	token_apikey_new(kid, key, h);
	assert_int_equal(strlen(kid), TOKEN_KEY_ID_LEN);
	assert_memory_equal(key, TOKEN_PREFIX_APIKEY, 4);
	assert_int_equal(token_apikey_parse(key, kid2, h2), RC_OK);
	assert_string_equal(kid, kid2);
	assert_true(token_hash_equal(h, h2));

	/* Another secret parses, to another hash. */
	char other[TOKEN_APIKEY_MAX];
	strcpy(other, key);
	other[strlen(other) - 1] = other[strlen(other) - 1] == 'a' ? 'b' : 'a';
	assert_int_equal(token_apikey_parse(other, kid2, h2), RC_OK);
	assert_false(token_hash_equal(h, h2));

	const char *bad[] = {"", "prk_short", "prk_", key + 1};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(token_apikey_parse(bad[i], kid2, h2), RC_UNAUTHORIZED);
	char mangled[TOKEN_APIKEY_MAX];
	strcpy(mangled, key);
	mangled[0] = 'x';  /* prefix */
	assert_int_equal(token_apikey_parse(mangled, kid2, h2), RC_UNAUTHORIZED);
	strcpy(mangled, key);
	mangled[4 + TOKEN_KEY_ID_LEN] = '-';  /* separator */
	assert_int_equal(token_apikey_parse(mangled, kid2, h2), RC_UNAUTHORIZED);
	strcpy(mangled, key);
	mangled[5] = 'U';  /* not base32 */
	assert_int_equal(token_apikey_parse(mangled, kid2, h2), RC_UNAUTHORIZED);
	strcpy(mangled, key);
	strcat(mangled, "a");  /* too long */
	assert_int_equal(token_apikey_parse(mangled, kid2, h2), RC_UNAUTHORIZED);
	mangled[strlen(key) - 1] = '\0';  /* too short */
	assert_int_equal(token_apikey_parse(mangled, kid2, h2), RC_UNAUTHORIZED);
}

static void test_links(void **state)
{
	unsigned char key[32], other[32];
	randombytes_buf(key, sizeof key);
	randombytes_buf(other, sizeof other);
	struct token_link l = {.kind = 'u', .tenant_id = 42, .purpose = "newsletter", .expires = 2000000000};
	token_id_new(TOKEN_PREFIX_SUBJECT, l.subject_id);
	char s[TOKEN_LINK_MAX];
	assert_int_equal(token_link_sign(&l, key, s), RC_OK);
	assert_memory_equal(s, "42.", 3);

	int64_t tenant = 0;
	assert_int_equal(token_link_tenant(s, &tenant), RC_OK);
	assert_int_equal(tenant, 42);
	struct token_link got;
	assert_int_equal(token_link_verify(s, key, 1900000000, &got), RC_OK);
	assert_int_equal(got.kind, 'u');
	assert_int_equal(got.tenant_id, 42);
	assert_string_equal(got.subject_id, l.subject_id);
	assert_string_equal(got.purpose, "newsletter");
	assert_int_equal(got.expires, 2000000000);

	/* Expired: told apart from forged. */
	assert_int_equal(token_link_verify(s, key, 2000000001, &got), RC_GONE);
	assert_int_equal(token_link_verify(s, other, 1900000000, &got), RC_NOT_FOUND);

	/* Every character altered, and every truncation, fails the MAC. */
	size_t n = strlen(s);
	for (size_t i = 3; i < n; i++) {
		char t[TOKEN_LINK_MAX];
		strcpy(t, s);
		t[i] = t[i] == 'A' ? 'B' : 'A';
		assert_int_equal(token_link_verify(t, key, 1900000000, &got), RC_NOT_FOUND);
		strcpy(t, s);
		t[i] = '\0';
		assert_int_equal(token_link_verify(t, key, 1900000000, &got), RC_NOT_FOUND);
	}
	/* Another tenant's prefix on the same body. */
	char moved[TOKEN_LINK_MAX];
	snprintf(moved, sizeof moved, "43%s", s + 2);
	assert_int_equal(token_link_verify(moved, key, 1900000000, &got), RC_NOT_FOUND);
	const char *junk[] = {"", ".", "0.abc", "-1.abc", "42", "x.abc", "42.!!!"};
	for (size_t i = 0; i < sizeof junk / sizeof junk[0]; i++)
		assert_int_equal(token_link_verify(junk[i], key, 0, &got), RC_NOT_FOUND);

	/* What cannot be signed. */
	struct token_link bad = l;
	memset(bad.purpose, 'p', TOKEN_PURPOSE_MAX);
	bad.purpose[TOKEN_PURPOSE_MAX] = '\0';
	assert_int_equal(token_link_sign(&bad, key, s), RC_OK); /* the longest purpose fits */
	assert_int_equal(token_link_verify(s, key, 0, &got), RC_OK);
	assert_string_equal(got.purpose, bad.purpose);
	bad = l;
	strcpy(bad.subject_id, "rec_01arz3ndektsv4rrffq69g5fav");
	assert_int_equal(token_link_sign(&bad, key, s), RC_INVALID);

	/* A confirmation binds its grant; links without one keep their old bytes. */
	assert_int_equal(token_link_sign(&l, key, s), RC_OK);
	struct token_link c = l;
	c.kind = 'c';
	c.event = 7;
	char cs[TOKEN_LINK_MAX];
	assert_int_equal(token_link_sign(&c, key, cs), RC_OK);
	assert_int_equal(token_link_verify(cs, key, 0, &got), RC_OK);
	assert_int_equal(got.event, 7);
	assert_true(strlen(cs) > strlen(s));
	assert_int_equal(token_link_verify(s, key, 0, &got), RC_OK);
	assert_int_equal(got.event, 0);
}

/* One link, one spelling: every other way of writing the same bytes is
 * refused, and the used-mark is the same however it was decoded. */
static void test_link_spelling(void **state)
{
	(void)state;
	unsigned char key[32];
	randombytes_buf(key, sizeof key);
	struct token_link l = {.kind = 'c', .tenant_id = 42, .purpose = "newsletters", .expires = 2000000000, .event = 9};
	token_id_new(TOKEN_PREFIX_SUBJECT, l.subject_id);
	char s[TOKEN_LINK_MAX], t[TOKEN_LINK_MAX + 8];
	struct token_link got, again;
	assert_int_equal(token_link_sign(&l, key, s), RC_OK);
	assert_int_equal(token_link_verify(s, key, 0, &got), RC_OK);
	assert_int_equal(token_link_verify(s, key, 0, &again), RC_OK);
	assert_memory_equal(got.used, again.used, sizeof got.used);
	const char *body = strchr(s, '.') + 1;
	/* before and after the base64 text */
	const char *forms[][2] = {{"042.", ""}, {"0042.", ""}, {"+42.", ""}, {" 42.", ""}, {"42 .", ""}, {"42.", "="},
	                          {"42.", "=="}, {"42.", " "}, {"42.", "\n"}, {"42. ", ""}, {"42.", "A"}, {"42.", "."}};
	for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
		snprintf(t, sizeof t, "%s%s%s", forms[i][0], body, forms[i][1]);
		assert_int_equal(token_link_verify(t, key, 0, &got), RC_NOT_FOUND);
	}
	/* The last character with its spare bits set: the same bytes to a lax
	 * decoder, another text. */
	size_t n = strlen(s);
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	int spare = (int)((n - 3) * 6 % 8);
	assert_true(spare > 0);
	for (int bit = 1; bit < (1 << spare); bit++) {
		strcpy(t, s);
		t[n - 1] = b64[(strchr(b64, s[n - 1]) - b64) | bit];
		assert_int_equal(token_link_verify(t, key, 0, &got), RC_NOT_FOUND);
	}
	int64_t tenant;
	assert_int_equal(token_link_tenant("9223372036854775807.x", &tenant), RC_OK);
	assert_int_equal(token_link_tenant("9223372036854775808.x", &tenant), RC_NOT_FOUND);
	assert_int_equal(token_link_tenant("99999999999999999999.x", &tenant), RC_NOT_FOUND);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_spec_examples),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_new_and_round_trips),
		cmocka_unit_test(test_legacy_rewrite),
		cmocka_unit_test(test_legacy_ciphertext),
		cmocka_unit_test(test_apikeys),
		cmocka_unit_test(test_links),
		cmocka_unit_test(test_link_spelling),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
