/* password: Argon2id hashes of staff passwords (see password.h). */
#include "crypto/password.h"

#include <sodium.h>
#include <string.h>

_Static_assert(PASSWORD_HASH_MAX == crypto_pwhash_STRBYTES, "room for libsodium's hash text");

enum rc password_hash(const char *pw, char out[PASSWORD_HASH_MAX])
{
	if (crypto_pwhash_str_alg(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
	                          crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13))
		return RC_INTERNAL;
	return RC_OK;
}

bool password_verify(const char *hash, const char *pw)
{
	if (!hash || !*hash || strnlen(hash, PASSWORD_HASH_MAX) == PASSWORD_HASH_MAX)
		return false;
	return crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
}

size_t password_length(const char *pw)
{
	size_t n = 0;
	for (const unsigned char *p = (const unsigned char *)pw; *p; p++)
		n += (*p & 0xC0) != 0x80;
	return n;
}
