/* token: ids and API keys (see token.h). */
#include "crypto/token.h"

#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto/rng.h"

static const char b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

/* Value of each base32 character, -1 for anything else. */
static const signed char b32_value[256] = {
	['0'] = 1, ['1'] = 2, ['2'] = 3, ['3'] = 4, ['4'] = 5, ['5'] = 6, ['6'] = 7, ['7'] = 8,
	['8'] = 9, ['9'] = 10, ['a'] = 11, ['b'] = 12, ['c'] = 13, ['d'] = 14, ['e'] = 15, ['f'] = 16,
	['g'] = 17, ['h'] = 18, ['j'] = 19, ['k'] = 20, ['m'] = 21, ['n'] = 22, ['p'] = 23, ['q'] = 24,
	['r'] = 25, ['s'] = 26, ['t'] = 27, ['v'] = 28, ['w'] = 29, ['x'] = 30, ['y'] = 31, ['z'] = 32,
}; /* stored +1 so that 0 means "not base32" */

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

/* An id is the 16 bytes read as one 128-bit big-endian number, written in
 * 26 base32 characters (130 bits): the 2 spare bits are zero padding at the
 * front, as in a ULID, so the first character is 0-7 and the first 10 are
 * the creation time. */
void token_id_encode(const char *prefix, const unsigned char in[TOKEN_ID_BYTES], char out[TOKEN_ID_MAX])
{
	size_t pl = strlen(prefix);
	memcpy(out, prefix, pl);
	char *o = out + pl;
	uint32_t acc = 0;
	int bits = 2; /* the padding, already "read" */
	for (size_t i = 0; i < TOKEN_ID_BYTES; i++) {
		acc = (acc << 8) | in[i];
		bits += 8;
		while (bits >= 5) {
			*o++ = b32[(acc >> (bits - 5)) & 31];
			bits -= 5;
		}
	}
	*o = '\0';
}

bool token_id_decode(const char *prefix, const char *s, unsigned char out[TOKEN_ID_BYTES])
{
	/* token_id_valid's checks in the same pass as the decoding: every id
	 * the store binds comes through here (five per imported subject). */
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl))
		return false;
	const unsigned char *p = (const unsigned char *)s + pl;
	/* The first character carries the 2 padding bits (zero: 0-7) and 3
	 * bits of the number. */
	int v = b32_value[p[0]];
	if (!v || p[0] > '7')
		return false;
	uint32_t acc = (uint32_t)(v - 1);
	int bits = 3;
	size_t o = 0;
	for (int i = 1; i < TOKEN_ID_CHARS; i++) {
		v = b32_value[p[i]];
		if (!v) /* not base32, or the end too soon */
			return false;
		acc = (acc << 5) | (uint32_t)(v - 1);
		bits += 5;
		if (bits >= 8) {
			out[o++] = (unsigned char)(acc >> (bits - 8));
			bits -= 8;
		}
	}
	return p[TOKEN_ID_CHARS] == '\0';
}

void token_id_new(const char *prefix, char out[TOKEN_ID_MAX])
{
	unsigned char raw[16];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint64_t ms = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
	for (int i = 0; i < 6; i++)
		raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
	rng_fill(raw + 6, 10);
	token_id_encode(prefix, raw, out);
}

bool token_id_valid(const char *prefix, const char *s)
{
	size_t pl = strlen(prefix);
	if (strncmp(s, prefix, pl))
		return false;
	s += pl;
	size_t n = 0;
	for (; s[n]; n++)
		if (n == TOKEN_ID_CHARS || !b32_value[(unsigned char)s[n]])
			return false;
	/* Above 7, the first character would need a 129th bit. */
	return n == TOKEN_ID_CHARS && s[0] <= '7';
}

/* ---- ids written before the ULID layout ---- */

static const char *const id_prefixes[] = {
	TOKEN_PREFIX_SUBJECT, TOKEN_PREFIX_RECORD, TOKEN_PREFIX_REQUEST, TOKEN_PREFIX_HOLD, TOKEN_PREFIX_DISCLOSURE,
};

static bool word_char(char c)
{
	return c == '_' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of the id prefix at s (after a non-word character or the start),
 * when 26 base32 characters and then a non-word character or the end
 * follow it; else 0. The test looks only at characters that a rewrite
 * keeps as they are or keeps base32, so a text and its rewrite have their
 * ids in the same places. */
static size_t id_at(const char *start, const char *s)
{
	if (s > start && word_char(s[-1]))
		return 0;
	for (size_t k = 0; k < sizeof id_prefixes / sizeof id_prefixes[0]; k++) {
		size_t pl = strlen(id_prefixes[k]);
		if (strncmp(s, id_prefixes[k], pl))
			continue;
		size_t n = 0;
		while (n < TOKEN_ID_CHARS && s[pl + n] && b32_value[(unsigned char)s[pl + n]])
			n++;
		if (n == TOKEN_ID_CHARS && !word_char(s[pl + n]))
			return pl;
	}
	return 0;
}

/* Rotates the 130 bits of 26 base32 characters by 2 bits: to the right
 * (the legacy form's 2 trailing padding bits move to the front) or back to
 * the left. A rotation is a bijection of all 26-character strings, so
 * rewriting one way and back gives every text back exactly, id or not.
 * Each output character takes 3 bits of one input character and 2 of its
 * neighbour. */
static void rotate(char *s, bool right)
{
	unsigned char v[TOKEN_ID_CHARS];
	for (int i = 0; i < TOKEN_ID_CHARS; i++)
		v[i] = (unsigned char)(b32_value[(unsigned char)s[i]] - 1);
	for (int i = 0; i < TOKEN_ID_CHARS; i++) {
		unsigned prev = v[(i + TOKEN_ID_CHARS - 1) % TOKEN_ID_CHARS], next = v[(i + 1) % TOKEN_ID_CHARS];
		s[i] = b32[right ? ((prev & 3u) << 3) | (v[i] >> 2u) : ((v[i] & 7u) << 2) | (next >> 3u)];
	}
}

static void rewrite(char *s, bool right)
{
	for (char *p = s; *p;) {
		size_t pl = id_at(s, p);
		if (!pl) {
			p++;
			continue;
		}
		rotate(p + pl, right);
		p += pl + TOKEN_ID_CHARS;
	}
}

void token_ids_to_legacy(char *s)
{
	rewrite(s, false);
}

void token_ids_from_legacy(char *s)
{
	rewrite(s, true);
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
	snprintf(key, TOKEN_APIKEY_MAX, TOKEN_PREFIX_APIKEY "%s_%s", key_id, secret);
	hash_secret(secret, hash);
	sodium_memzero(secret_raw, sizeof secret_raw);
	sodium_memzero(secret, sizeof secret);
}

enum rc token_apikey_parse(const char *key, char key_id[TOKEN_KEY_ID_LEN + 1],
                           unsigned char hash[TOKEN_HASH_LEN])
{
	size_t n = strlen(key);
	if (n != 4 + TOKEN_KEY_ID_LEN + 1 + 52 || strncmp(key, TOKEN_PREFIX_APIKEY, 4) || key[4 + TOKEN_KEY_ID_LEN] != '_')
		return RC_UNAUTHORIZED;
	for (size_t i = 4; i < n; i++)
		if (i != 4 + TOKEN_KEY_ID_LEN && !b32_value[(unsigned char)key[i]])
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

#define LINK_MAC 16
#define LINK_FIXED (1 + TOKEN_ID_BYTES + 8 + 1)       /* kind, subject, expiry, purpose length */
#define LINK_RAW_MAX (LINK_FIXED + TOKEN_PURPOSE_MAX + 8 + LINK_MAC)

static void put64(unsigned char *p, int64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)((uint64_t)v >> (8 * i));
}

static int64_t get64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

static void link_mac(int64_t tenant, const unsigned char *raw, size_t n, const unsigned char key[32],
                     unsigned char mac[LINK_MAC])
{
	unsigned char tb[8];
	put64(tb, tenant);
	crypto_generichash_state st;
	crypto_generichash_init(&st, key, 32, LINK_MAC);
	crypto_generichash_update(&st, tb, sizeof tb);
	crypto_generichash_update(&st, raw, n);
	crypto_generichash_final(&st, mac, LINK_MAC);
}

/* The one spelling of a link's bytes. */
static enum rc link_text(int64_t tenant, const unsigned char *raw, size_t n, char out[TOKEN_LINK_MAX])
{
	int w = snprintf(out, TOKEN_LINK_MAX, "%lld.", (long long)tenant);
	if (w < 0 || (size_t)w + sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING) > TOKEN_LINK_MAX)
		return RC_INVALID;
	sodium_bin2base64(out + w, TOKEN_LINK_MAX - (size_t)w, raw, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
	return RC_OK;
}

enum rc token_link_sign(const struct token_link *l, const unsigned char key[32], char out[TOKEN_LINK_MAX])
{
	unsigned char raw[LINK_RAW_MAX];
	size_t plen = strlen(l->purpose), n = 0;
	if (plen > TOKEN_PURPOSE_MAX || l->tenant_id <= 0 || l->event < 0 ||
	    !token_id_decode(TOKEN_PREFIX_SUBJECT, l->subject_id, raw + 1))
		return RC_INVALID;
	raw[n++] = (unsigned char)l->kind;
	n += TOKEN_ID_BYTES;
	put64(raw + n, l->expires);
	n += 8;
	raw[n++] = (unsigned char)plen;
	memcpy(raw + n, l->purpose, plen);
	n += plen;
	if (l->event) { /* absent when 0: links without one keep their old bytes */
		put64(raw + n, l->event);
		n += 8;
	}
	link_mac(l->tenant_id, raw, n, key, raw + n);
	return link_text(l->tenant_id, raw, n + LINK_MAC, out);
}

enum rc token_link_tenant(const char *s, int64_t *tenant_id)
{
	/* [1-9][0-9]* then '.': strtoll would take "+1", " 1" and "0001" too. */
	int64_t t = 0;
	size_t i = 0;
	if (strnlen(s, TOKEN_LINK_MAX) >= TOKEN_LINK_MAX || s[0] < '1' || s[0] > '9')
		return RC_NOT_FOUND;
	for (; s[i] >= '0' && s[i] <= '9'; i++) {
		if (t > (INT64_MAX - (s[i] - '0')) / 10)
			return RC_NOT_FOUND;
		t = t * 10 + (s[i] - '0');
	}
	if (s[i] != '.')
		return RC_NOT_FOUND;
	*tenant_id = t;
	return RC_OK;
}

enum rc token_link_verify(const char *s, const unsigned char key[32], int64_t now, struct token_link *out)
{
	unsigned char raw[LINK_RAW_MAX], mac[LINK_MAC];
	char canon[TOKEN_LINK_MAX];
	size_t n = 0;
	int64_t tenant;
	if (token_link_tenant(s, &tenant))
		return RC_NOT_FOUND;
	const char *b64 = strchr(s, '.') + 1;
	if (sodium_base642bin(raw, sizeof raw, b64, strlen(b64), NULL, &n, NULL,
	                      sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
	    n < LINK_FIXED + LINK_MAC)
		return RC_NOT_FOUND;
	size_t plen = raw[LINK_FIXED - 1], body = n - LINK_MAC;
	bool has_event = body == LINK_FIXED + plen + 8;
	if (plen > TOKEN_PURPOSE_MAX || (body != LINK_FIXED + plen && !has_event))
		return RC_NOT_FOUND;
	link_mac(tenant, raw, body, key, mac);
	if (sodium_memcmp(mac, raw + body, LINK_MAC) != 0)
		return RC_NOT_FOUND;
	/* The MAC holds for these bytes; the text must also be their one
	 * spelling, or the same link would have many. */
	if (link_text(tenant, raw, n, canon) || strcmp(canon, s))
		return RC_NOT_FOUND;
	out->kind = (char)raw[0];
	out->tenant_id = tenant;
	token_id_encode(TOKEN_PREFIX_SUBJECT, raw + 1, out->subject_id);
	out->expires = get64(raw + 1 + TOKEN_ID_BYTES);
	memcpy(out->purpose, raw + LINK_FIXED, plen);
	out->purpose[plen] = '\0';
	out->event = has_event ? get64(raw + LINK_FIXED + plen) : 0;
	if (has_event && out->event <= 0)
		return RC_NOT_FOUND;
	/* The hash of the canonical text, as marks were written before links
	 * were held to one spelling: links used then stay used. */
	crypto_generichash(out->used, sizeof out->used, (const unsigned char *)canon, strlen(canon), NULL, 0);
	return out->expires < now ? RC_GONE : RC_OK;
}
