/* The vault: sealing, binding to record ids, key wrapping, shredding, lookup hashes, key files. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "crypto/token.h"
#include "crypto/vault.h"

static struct vault v1, v2;

static int setup(void **state)
{
	unsigned char m1[VAULT_KEY_LEN], m2[VAULT_KEY_LEN];
	if (vault_library_init())
		return -1;
	randombytes_buf(m1, sizeof m1);
	randombytes_buf(m2, sizeof m2);
	vault_init(&v1, 1, m1);
	vault_init(&v2, 2, m2);
	return 0;
}

static void seal(const struct subject_key *k, const char *rid, const char *plain, unsigned char **out, size_t *len)
{
	*len = strlen(plain) + VAULT_SEAL_OVERHEAD;
	*out = malloc(*len);
	vault_seal(k, rid, plain, strlen(plain), *out);
}

static void test_round_trip(void **state)
{
	struct subject_key k;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	size_t wlen = 0;
	wlen = vault_subject_key_new(&v1, "sub_a", &k, wrapped);
	unsigned char *ct;
	size_t len;
	seal(&k, "rec_1", "mari@example.ee", &ct, &len);
	assert_null(memmem(ct, len, "mari", 4));
	struct buf out;
	buf_init(&out, 1024);
	assert_int_equal(vault_open(&k, "rec_1", ct, len, &out), RC_OK);
	assert_string_equal(out.data, "mari@example.ee");
	/* The same plaintext seals differently every time (random nonce). */
	unsigned char *ct2;
	size_t len2;
	seal(&k, "rec_1", "mari@example.ee", &ct2, &len2);
	assert_memory_not_equal(ct, ct2, len);
	free(ct2);
	/* Unwrapping gives back the same key. */
	struct subject_key k2;
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", wrapped, wlen, &k2), RC_OK);
	assert_memory_equal(k.k, k2.k, VAULT_KEY_LEN);
	buf_fini(&out);
	free(ct);
}

static void test_tampered(void **state)
{
	struct subject_key k;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	assert_int_equal(vault_subject_key_new(&v1, "sub_a", &k, wrapped), VAULT_WRAPPED2_MIN);
	unsigned char *ct;
	size_t len;
	seal(&k, "rec_1", "Mari Tamm", &ct, &len);
	struct buf out;
	buf_init(&out, 1024);
	for (size_t i = 0; i < len; i++) {
		ct[i] ^= 0x01;
		assert_int_equal(vault_open(&k, "rec_1", ct, len, &out), RC_CRYPTO);
		assert_int_equal(out.len, 0);
		ct[i] ^= 0x01;
	}
	assert_int_equal(vault_open(&k, "rec_1", ct, len - 1, &out), RC_CRYPTO);
	assert_int_equal(vault_open(&k, "rec_1", ct, 3, &out), RC_CRYPTO);
	buf_fini(&out);
	free(ct);
}

static void test_moved_between_records(void **state)
{
	struct subject_key k, other;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	assert_int_equal(vault_subject_key_new(&v1, "sub_a", &k, wrapped), VAULT_WRAPPED2_MIN);
	assert_int_equal(vault_subject_key_new(&v1, "sub_b", &other, wrapped), VAULT_WRAPPED2_MIN);
	unsigned char *ct;
	size_t len;
	seal(&k, "rec_1", "Mari Tamm", &ct, &len);
	struct buf out;
	buf_init(&out, 1024);
	assert_int_equal(vault_open(&k, "rec_2", ct, len, &out), RC_CRYPTO);
	assert_int_equal(vault_open(&other, "rec_1", ct, len, &out), RC_CRYPTO);
	assert_int_equal(vault_open(&k, "rec_1", ct, len, &out), RC_OK);
	buf_fini(&out);
	free(ct);
}

static void test_wrapping_bound(void **state)
{
	struct subject_key k, got;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	size_t wlen = 0;
	wlen = vault_subject_key_new(&v1, "sub_a", &k, wrapped);
	/* A wrapped key copied to another subject, or read with another tenant's key, fails. */
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_b", wrapped, wlen, &got), RC_CRYPTO);
	assert_int_equal(vault_subject_key_unwrap(&v2, "sub_a", wrapped, wlen, &got), RC_CRYPTO);
	wrapped[30] ^= 1;
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", wrapped, wlen, &got), RC_CRYPTO);
}

static void test_shredded(void **state)
{
	struct subject_key k, got;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	assert_int_equal(vault_subject_key_new(&v1, "sub_a", &k, wrapped), VAULT_WRAPPED2_MIN);
	unsigned char *ct;
	size_t len;
	seal(&k, "rec_1", "Mari Tamm", &ct, &len);
	/* The wrapped key is gone: nothing unwraps, and no other key opens the data. */
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", NULL, 0, &got), RC_GONE);
	struct subject_key guess;
	assert_int_equal(vault_subject_key_new(&v1, "sub_a", &guess, wrapped), VAULT_WRAPPED2_MIN);
	struct buf out;
	buf_init(&out, 1024);
	assert_int_equal(vault_open(&guess, "rec_1", ct, len, &out), RC_CRYPTO);
	vault_subject_key_wipe(&k);
	unsigned char zero[VAULT_KEY_LEN] = {0};
	assert_memory_equal(k.k, zero, VAULT_KEY_LEN);
	buf_fini(&out);
	free(ct);
}

static void test_lookup_hash(void **state)
{
	unsigned char a[VAULT_HASH_LEN], b[VAULT_HASH_LEN], c[VAULT_HASH_LEN], d[VAULT_HASH_LEN];
	vault_lookup_hash(&v1, "email", "mari@example.ee", 15, a);
	vault_lookup_hash(&v1, "email", "mari@example.ee", 15, b);
	vault_lookup_hash(&v1, "username", "mari@example.ee", 15, c);
	vault_lookup_hash(&v2, "email", "mari@example.ee", 15, d);
	assert_memory_equal(a, b, VAULT_HASH_LEN);
	assert_memory_not_equal(a, c, VAULT_HASH_LEN);
	assert_memory_not_equal(a, d, VAULT_HASH_LEN);
	/* Field and value are separated: ("ab","c") and ("a","bc") differ. */
	vault_lookup_hash(&v1, "ab", "c", 1, a);
	vault_lookup_hash(&v1, "a", "bc", 2, b);
	assert_memory_not_equal(a, b, VAULT_HASH_LEN);
}

static void test_key_file(void **state)
{
	char dir[] = "/tmp/privreg-vault-XXXXXX", path[64];
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.key", dir);
	struct errbuf eb = {""};
	assert_int_equal(vault_create_file(path, &eb), RC_OK);
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(vault_create_file(path, &eb), RC_EXISTS);
	struct vault a, b;
	assert_int_equal(vault_load(path, 7, &a, &eb), RC_OK);
	assert_int_equal(vault_load(path, 7, &b, &eb), RC_OK);
	assert_memory_equal(a.wrap_key, b.wrap_key, VAULT_KEY_LEN);
	assert_memory_not_equal(a.wrap_key, a.lookup_key, VAULT_KEY_LEN);
	chmod(path, 0644);
	assert_int_equal(vault_load(path, 7, &a, &eb), RC_IO);
	assert_non_null(strstr(eb.msg, "chmod 600"));
	chmod(path, 0600);
	FILE *f = fopen(path, "w");
	fputs("not a key\n", f);
	fclose(f);
	assert_int_equal(vault_load(path, 7, &a, &eb), RC_IO);
	vault_fini(&a);
	vault_fini(&b);
	unsigned char zero[sizeof b] = {0};
	assert_memory_equal(&b, zero, sizeof b);
	/* The directory too: group or others may not enter it. */
	assert_int_equal(vault_create_file(path, &eb), RC_EXISTS);
	unlink(path);
	assert_int_equal(vault_create_file(path, &eb), RC_OK);
	chmod(dir, 0750);
	assert_int_equal(vault_load(path, 7, &a, &eb), RC_IO);
	assert_non_null(strstr(eb.msg, "chmod 700"));
	chmod(dir, 0700);
	assert_int_equal(vault_load(path, 7, &a, &eb), RC_OK);
	vault_fini(&a);
	unlink(path);
	rmdir(dir);
}

/* The VmFlags of the mapping of /proc/self/smaps that holds addr. */
static void vm_flags(const void *addr, char *out, size_t size)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool inside = false;
	out[0] = '\0';
	while (f && fgets(line, sizeof line, f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 && strchr(line, '-') < strchr(line, ' '))
			inside = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
		else if (inside && !strncmp(line, "VmFlags:", 8)) {
			snprintf(out, size, "%.200s", line + 8); /* VmFlags fit: about 3 characters a flag */
			break;
		}
	}
	if (f)
		fclose(f);
}

/* Keys stay out of core dumps and swap: their pages are marked dd
 * (MADV_DONTDUMP) and lo (mlock'd; not under ASan, whose mlock does
 * nothing); fini wipes and unmaps them. */
static void test_keys_not_dumped(void **state)
{
	unsigned char m[VAULT_KEY_LEN] = {1};
	struct vault v;
	vault_init(&v, 3, m);
	const unsigned char *keys[] = {v.wrap_key, v.lookup_key, v.token_key, v.audit_key};
	for (size_t i = 0; i < 4; i++) {
		char flags[256];
		vm_flags(keys[i], flags, sizeof flags);
		assert_non_null(strstr(flags, " dd"));
#ifndef __SANITIZE_ADDRESS__ /* ASan turns mlock into a no-op */
		assert_non_null(strstr(flags, " lo"));
#endif
	}
	vault_fini(&v);
	assert_null(v.token_key);
}

/* A staff member's TOTP secret opens for its account in its tenant only,
 * and not after a byte of it changed. */
static void test_staff_secrets(void **state)
{
	(void)state;
	unsigned char plain[20], sealed[20 + VAULT_SEAL_OVERHEAD], back[20];
	randombytes_buf(plain, sizeof plain);
	vault_staff_seal(&v1, "usr_01JABCDEFGHJKMNPQRSTVWXYZ0", plain, sizeof plain, sealed);
	assert_null(memmem(sealed, sizeof sealed, plain, sizeof plain));
	assert_int_equal(vault_staff_open(&v1, "usr_01JABCDEFGHJKMNPQRSTVWXYZ0", sealed, sizeof sealed, back), RC_OK);
	assert_memory_equal(back, plain, sizeof plain);
	assert_int_equal(vault_staff_open(&v1, "usr_01JABCDEFGHJKMNPQRSTVWXYZ1", sealed, sizeof sealed, back), RC_CRYPTO);
	assert_int_equal(vault_staff_open(&v2, "usr_01JABCDEFGHJKMNPQRSTVWXYZ0", sealed, sizeof sealed, back), RC_CRYPTO);
	sealed[30] ^= 1;
	assert_int_equal(vault_staff_open(&v1, "usr_01JABCDEFGHJKMNPQRSTVWXYZ0", sealed, sizeof sealed, back), RC_CRYPTO);
	assert_int_equal(vault_staff_open(&v1, "usr_01JABCDEFGHJKMNPQRSTVWXYZ0", sealed, 10, back), RC_CRYPTO);
}

static void test_tokens(void **state)
{
	char id[TOKEN_ID_MAX], id2[TOKEN_ID_MAX];
	token_id_new("sub_", id);
	token_id_new("sub_", id2);
	assert_true(token_id_valid("sub_", id));
	assert_false(token_id_valid("rec_", id));
	assert_string_not_equal(id, id2);
	assert_false(token_id_valid("sub_", "sub_../../etc/passwd"));
	char kid[TOKEN_KEY_ID_LEN + 1], key[TOKEN_APIKEY_MAX], kid2[TOKEN_KEY_ID_LEN + 1];
	unsigned char h[TOKEN_HASH_LEN], h2[TOKEN_HASH_LEN];
	token_apikey_new(kid, key, h);
	assert_int_equal(token_apikey_parse(key, kid2, h2), RC_OK);
	assert_string_equal(kid, kid2);
	assert_true(token_hash_equal(h, h2));
	key[strlen(key) - 1] = key[strlen(key) - 1] == 'a' ? 'b' : 'a';
	assert_int_equal(token_apikey_parse(key, kid2, h2), RC_OK);
	assert_false(token_hash_equal(h, h2));
	assert_int_equal(token_apikey_parse("prk_short", kid2, h2), RC_UNAUTHORIZED);
	assert_int_equal(token_apikey_parse("", kid2, h2), RC_UNAUTHORIZED);
}

/* Made by the code of privreg before format 2 (commit 8efc3b0): master key
 * bytes 0..31, tenant 1. */
#define OLD_SUBJECT "sub_01jd0000000000000000000000"
#define OLD_RECORD "rec_01jd0000000000000000000001"
static const char old_key[] = "ccbfa5fbf0ba1e971de4b1cf9d015b59e6876fcf23a9b4d6ca638a200dcd2068";
static const char old_wrapped[] = "010000000dd58cff4e1478fa8182b747bb3b499d90d01fbf0191b071d8845bfac271f037d2d321e736dbd2"
                                  "2b803917df5e9489f74cccabee03266ed928c3adfff9220a6aa9f37965da76df26";
static const char old_sealed[] = "ed35958c7369f64ff7b43164dce05b50cc83843880413d3e749837c127b1b3d9cd6ccde862e357d403ed"
                                 "1d5f92492112475388a08433ed";

static size_t unhex(const char *hex, unsigned char *out, size_t max)
{
	size_t n = 0;
	assert_int_equal(sodium_hex2bin(out, max, hex, strlen(hex), NULL, &n, NULL), 0);
	return n;
}

static void test_old_formats_open(void **state)
{
	unsigned char master[VAULT_KEY_LEN], key[VAULT_KEY_LEN], w[VAULT_WRAPPED_MAX], sealed[64];
	for (int i = 0; i < VAULT_KEY_LEN; i++)
		master[i] = (unsigned char)i;
	struct vault v;
	vault_init(&v, 1, master);
	assert_int_equal(unhex(old_key, key, sizeof key), VAULT_KEY_LEN);
	size_t wlen = unhex(old_wrapped, w, sizeof w), slen = unhex(old_sealed, sealed, sizeof sealed);
	assert_int_equal(wlen, VAULT_WRAPPED_LEN);
	assert_int_equal(vault_wrapped_epoch(w, wlen), 0);
	struct subject_key k;
	assert_int_equal(vault_subject_key_unwrap(&v, OLD_SUBJECT, w, wlen, &k), RC_OK);
	assert_memory_equal(k.k, key, VAULT_KEY_LEN);
	/* Format 1 without its header is the format before epochs. */
	assert_int_equal(vault_wrapped_epoch(w + 4, wlen - 4), 0);
	assert_int_equal(vault_subject_key_unwrap(&v, OLD_SUBJECT, w + 4, wlen - 4, &k), RC_OK);
	assert_memory_equal(k.k, key, VAULT_KEY_LEN);
	struct buf out;
	buf_init(&out, 1024);
	assert_int_equal(vault_open(&k, OLD_RECORD, sealed, slen, &out), RC_OK);
	assert_string_equal(out.data, "mari@example.ee");
	buf_reset(&out);
	assert_int_equal(vault_open_either(&k, OLD_RECORD, sealed, slen, &out), RC_OK);
	assert_string_equal(out.data, "mari@example.ee");
	buf_reset(&out);
	assert_int_equal(vault_open_either(&k, "rec_01jd0000000000000000000002", sealed, slen, &out), RC_CRYPTO);
	assert_int_equal(out.len, 0);
	/* Rewrapped: format 2, 18 bytes shorter, the same key. */
	unsigned char again[VAULT_WRAPPED_MAX];
	size_t alen = 0;
	assert_int_equal(vault_subject_key_rewrap(&v, OLD_SUBJECT, w, wlen, again, &alen), RC_OK);
	assert_int_equal(alen, VAULT_WRAPPED2_MIN);
	assert_int_equal(VAULT_WRAPPED_LEN - alen, 18);
	assert_int_equal(again[0], 2);
	assert_int_equal(vault_wrapped_epoch(again, alen), 0);
	struct subject_key k2;
	assert_int_equal(vault_subject_key_unwrap(&v, OLD_SUBJECT, again, alen, &k2), RC_OK);
	assert_memory_equal(k2.k, key, VAULT_KEY_LEN);
	buf_fini(&out);
	vault_fini(&v);
}

static void test_compact_seal(void **state)
{
	struct subject_key k, other;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	assert_int_equal(vault_subject_key_new(&v1, "sub_a", &k, wrapped), VAULT_WRAPPED2_MIN);
	assert_int_equal(vault_subject_key_new(&v1, "sub_b", &other, wrapped), VAULT_WRAPPED2_MIN);
	const char *plain = "Mari Tamm";
	size_t len = strlen(plain) + VAULT_SEAL_COMPACT_OVERHEAD;
	unsigned char ct[64], ct2[64];
	vault_seal_compact(&k, "rec_1", plain, strlen(plain), ct);
	vault_seal_compact(&k, "rec_1", plain, strlen(plain), ct2);
	assert_memory_not_equal(ct, ct2, len); /* 8 random bytes each time */
	struct buf out;
	buf_init(&out, 1024);
	assert_int_equal(vault_open_either(&k, "rec_1", ct, len, &out), RC_OK);
	assert_string_equal(out.data, plain);
	buf_reset(&out);
	/* The compact form is no vault_seal form. */
	assert_int_equal(vault_open(&k, "rec_1", ct, len, &out), RC_CRYPTO);
	/* Bound to its record and its key; every byte counts. */
	assert_int_equal(vault_open_either(&k, "rec_2", ct, len, &out), RC_CRYPTO);
	assert_int_equal(vault_open_either(&other, "rec_1", ct, len, &out), RC_CRYPTO);
	for (size_t i = 0; i < len; i++) {
		ct[i] ^= 0x01;
		assert_int_equal(vault_open_either(&k, "rec_1", ct, len, &out), RC_CRYPTO);
		assert_int_equal(out.len, 0);
		ct[i] ^= 0x01;
	}
	assert_int_equal(vault_open_either(&k, "rec_1", ct, len - 1, &out), RC_CRYPTO);
	assert_int_equal(vault_open_either(&k, "rec_1", ct, VAULT_SEAL_COMPACT_OVERHEAD - 1, &out), RC_CRYPTO);
	/* An empty plaintext seals and opens too. */
	vault_seal_compact(&k, "rec_1", "", 0, ct);
	assert_int_equal(vault_open_either(&k, "rec_1", ct, VAULT_SEAL_COMPACT_OVERHEAD, &out), RC_OK);
	assert_int_equal(out.len, 0);
	buf_fini(&out);
}

static void test_wrapped_format2(void **state)
{
	struct subject_key k, got;
	unsigned char w[VAULT_WRAPPED_MAX];
	size_t n = vault_subject_key_new(&v1, "sub_a", &k, w);
	assert_int_equal(n, VAULT_WRAPPED2_MIN);
	assert_int_equal(w[0], 2);
	assert_int_equal(w[1], 0); /* epoch 0 */
	/* Lengths the format does not allow, and a damaged varint, are no key. */
	assert_int_equal(vault_wrapped_epoch(w, n - 1), -1);
	assert_int_equal(vault_wrapped_epoch(w, n + 1), -1);
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", w, n - 1, &got), RC_CRYPTO);
	w[1] = 0x80;
	assert_int_equal(vault_wrapped_epoch(w, n), -1);
	w[1] = 0;
	for (size_t i = 2; i < n; i++) {
		w[i] ^= 0x10;
		assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", w, n, &got), RC_CRYPTO);
		w[i] ^= 0x10;
	}
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", w, n, &got), RC_OK);
	assert_memory_equal(k.k, got.k, VAULT_KEY_LEN);
	/* Epochs past 127 take more varint bytes. */
	const unsigned char e300[] = {2, 0xac, 0x02};
	unsigned char big[VAULT_WRAPPED2_MIN + 1] = {0};
	memcpy(big, e300, sizeof e300);
	assert_int_equal(vault_wrapped_epoch(big, sizeof big), 300);
	assert_int_equal(vault_wrapped_epoch(big, sizeof big - 1), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_old_formats_open),
		cmocka_unit_test(test_compact_seal),
		cmocka_unit_test(test_wrapped_format2),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_moved_between_records),
		cmocka_unit_test(test_wrapping_bound),
		cmocka_unit_test(test_shredded),
		cmocka_unit_test(test_lookup_hash),
		cmocka_unit_test(test_key_file),
		cmocka_unit_test(test_keys_not_dumped),
		cmocka_unit_test(test_tokens),
		cmocka_unit_test(test_staff_secrets),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
