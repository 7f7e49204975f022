/* totp: RFC 6238 codes over HMAC-SHA-1 (see totp.h). */
#include "crypto/totp.h"

#include <sodium.h>
#include <string.h>

struct sha1 {
	uint32_t h[5];
	uint64_t len;
	unsigned char block[64];
	size_t used;
};

static uint32_t rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void sha1_block(struct sha1 *s, const unsigned char *b)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 | (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = s->h[0], bb = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (bb & c) | (~bb & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = bb ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (bb & c) | (bb & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = bb ^ c ^ d;
			k = 0xCA62C1D6;
		}
		uint32_t t = rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = rol(bb, 30);
		bb = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += bb;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void sha1_init(struct sha1 *s)
{
	*s = (struct sha1){{0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0}, 0, {0}, 0};
}

static void sha1_update(struct sha1 *s, const void *data, size_t len)
{
	const unsigned char *p = data;
	s->len += len;
	while (len) {
		size_t n = 64 - s->used < len ? 64 - s->used : len;
		memcpy(s->block + s->used, p, n);
		s->used += n;
		p += n;
		len -= n;
		if (s->used == 64) {
			sha1_block(s, s->block);
			s->used = 0;
		}
	}
}

static void sha1_final(struct sha1 *s, unsigned char out[20])
{
	uint64_t bits = s->len * 8;
	unsigned char pad = 0x80, zero = 0, lenb[8];
	sha1_update(s, &pad, 1);
	while (s->used != 56)
		sha1_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_update(s, lenb, 8);
	for (int i = 0; i < 20; i++)
		out[i] = (unsigned char)(s->h[i / 4] >> (24 - 8 * (i % 4)));
	sodium_memzero(s, sizeof *s);
}

void totp_sha1(const void *data, size_t len, unsigned char out[20])
{
	struct sha1 s;
	sha1_init(&s);
	sha1_update(&s, data, len);
	sha1_final(&s, out);
}

void totp_hmac_sha1(const unsigned char *key, size_t klen, const void *msg, size_t mlen, unsigned char out[20])
{
	unsigned char k[64] = {0}, pad[64], inner[20];
	if (klen > 64)
		totp_sha1(key, klen, k);
	else
		memcpy(k, key, klen);
	struct sha1 s;
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x36;
	sha1_init(&s);
	sha1_update(&s, pad, 64);
	sha1_update(&s, msg, mlen);
	sha1_final(&s, inner);
	for (int i = 0; i < 64; i++)
		pad[i] = k[i] ^ 0x5c;
	sha1_init(&s);
	sha1_update(&s, pad, 64);
	sha1_update(&s, inner, 20);
	sha1_final(&s, out);
	sodium_memzero(k, sizeof k);
	sodium_memzero(pad, sizeof pad);
}

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

void totp_secret_new(unsigned char secret[TOTP_SECRET_LEN])
{
	randombytes_buf(secret, TOTP_SECRET_LEN);
}

void totp_base32(const unsigned char secret[TOTP_SECRET_LEN], char out[TOTP_BASE32_LEN + 1])
{
	/* 20 bytes are 160 bits: exactly 32 characters, no padding. */
	for (int i = 0; i < TOTP_BASE32_LEN; i++) {
		int bit = i * 5, byte = bit / 8, off = bit % 8;
		unsigned v = (unsigned)secret[byte] << 8 | (byte + 1 < TOTP_SECRET_LEN ? secret[byte + 1] : 0);
		out[i] = alphabet[(v >> (11 - off)) & 31];
	}
	out[TOTP_BASE32_LEN] = '\0';
}

bool totp_from_base32(const char *text, unsigned char secret[TOTP_SECRET_LEN])
{
	if (strlen(text) != TOTP_BASE32_LEN)
		return false;
	memset(secret, 0, TOTP_SECRET_LEN);
	for (int i = 0; i < TOTP_BASE32_LEN; i++) {
		const char *p = text[i] ? strchr(alphabet, text[i]) : NULL;
		if (!p)
			return false;
		unsigned v = (unsigned)(p - alphabet);
		for (int b = 0; b < 5; b++)
			if (v & (16u >> b))
				secret[(i * 5 + b) / 8] |= (unsigned char)(0x80 >> ((i * 5 + b) % 8));
	}
	return true;
}

uint32_t totp_code(const unsigned char secret[TOTP_SECRET_LEN], int64_t step)
{
	unsigned char msg[8], mac[20];
	for (int i = 0; i < 8; i++)
		msg[i] = (unsigned char)((uint64_t)step >> (56 - 8 * i));
	totp_hmac_sha1(secret, TOTP_SECRET_LEN, msg, sizeof msg, mac);
	int off = mac[19] & 0x0f;
	uint32_t bin = (uint32_t)(mac[off] & 0x7f) << 24 | (uint32_t)mac[off + 1] << 16 | (uint32_t)mac[off + 2] << 8 |
	               mac[off + 3];
	sodium_memzero(mac, sizeof mac);
	return bin % 1000000u;
}

int64_t totp_check(const unsigned char secret[TOTP_SECRET_LEN], const char *code, int64_t now, int64_t last_step)
{
	uint32_t want = 0;
	for (int i = 0; i < TOTP_DIGITS; i++) {
		if (code[i] < '0' || code[i] > '9')
			return -1;
		want = want * 10 + (uint32_t)(code[i] - '0');
	}
	if (code[TOTP_DIGITS])
		return -1;
	int64_t step = now / TOTP_STEP, found = -1;
	for (int64_t s = step - 1; s <= step + 1; s++) /* every candidate, so the time does not tell which */
		if (s > last_step && totp_code(secret, s) == want && found < 0)
			found = s;
	return found;
}
