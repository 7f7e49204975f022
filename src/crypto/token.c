/* token: ids and API keys (see token.h). */
#include "crypto/token.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Encodes nbytes*8 bits as ceil(bits/5) base32 chars. */
static void base32(const unsigned char *in, size_t nbytes, char *out)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;
	for (size_t i = 0; i < nbytes; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			out[o++] = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	if (bits)
		out[o++] = b32[(acc << (5 - bits)) & 31];
	out[o] = '\0';
}

void token_id_new(const char *prefix, char out[TOKEN_ID_MAX])
{
	unsigned char raw[16];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
	randombytes_buf(raw + 6, 10);
	size_t pl = strlen(prefix);
	memcpy(out, prefix, pl);
	base32(raw, sizeof raw, out + pl);
}

bool token_id_valid(const char *prefix, const char *s)
{
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl) || strlen(s + pl) != 26)
		return false;
	for (const char *p = s + pl; *p; p++)
		if (!strchr(b32, *p))
			return false;
	return true;
}

static void hash_secret(const char *secret, unsigned char hash[TOKEN_HASH_LEN])
{
	crypto_generichash(hash, TOKEN_HASH_LEN, (const unsigned char *)secret, strlen(secret), NULL, 0);
}

void token_apikey_new(char key_id[TOKEN_KEY_ID_LEN + 1], char key[TOKEN_APIKEY_MAX],
                      unsigned char hash[TOKEN_HASH_LEN])
{
	unsigned char id_raw[10], secret_raw[32];
	char secret[64];
	randombytes_buf(id_raw, sizeof id_raw);
	randombytes_buf(secret_raw, sizeof secret_raw);
	base32(id_raw, sizeof id_raw, key_id);
	base32(secret_raw, sizeof secret_raw, secret);
	snprintf(key, TOKEN_APIKEY_MAX, "prk_%s_%s", key_id, secret);
	hash_secret(secret, hash);
	sodium_memzero(secret_raw, sizeof secret_raw);
	sodium_memzero(secret, sizeof secret);
}

enum rc token_apikey_parse(const char *key, char key_id[TOKEN_KEY_ID_LEN + 1],
                           unsigned char hash[TOKEN_HASH_LEN])
{
	size_t n = strlen(key);
	if (n != 4 + TOKEN_KEY_ID_LEN + 1 + 52 || strncmp(key, "prk_", 4) || key[4 + TOKEN_KEY_ID_LEN] != '_')
		return RC_UNAUTHORIZED;
	for (size_t i = 4; i < n; i++)
		if (i != 4 + TOKEN_KEY_ID_LEN && !strchr(b32, key[i]))
			return RC_UNAUTHORIZED;
	memcpy(key_id, key + 4, TOKEN_KEY_ID_LEN);
	key_id[TOKEN_KEY_ID_LEN] = '\0';
	hash_secret(key + 4 + TOKEN_KEY_ID_LEN + 1, hash);
	return RC_OK;
}

bool token_hash_equal(const unsigned char a[TOKEN_HASH_LEN], const unsigned char b[TOKEN_HASH_LEN])
{
	return sodium_memcmp(a, b, TOKEN_HASH_LEN) == 0;
}
