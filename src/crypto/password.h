/*
 * password: staff passwords, hashed with Argon2id (libsodium's
 * crypto_pwhash_str, its "interactive" limits: a sign-in costs tens of
 * milliseconds and 64 MiB, a stolen hash as much per guess). The hash text
 * carries its own salt and parameters, so stronger limits later still read
 * the old hashes. Plaintexts are never kept: the caller wipes its copy.
 */
#ifndef PRIVREG_PASSWORD_H
#define PRIVREG_PASSWORD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define PASSWORD_MIN 12          /* characters (UTF-8 code points) */
#define PASSWORD_MAX 256         /* bytes: longer is refused, never cut */
#define PASSWORD_HASH_MAX 128    /* crypto_pwhash_STRBYTES */

/* Hashes pw into out. RC_INTERNAL only when the system is out of memory. */
enum rc password_hash(const char *pw, char out[PASSWORD_HASH_MAX]) WUR;
/* True when pw matches hash; false for a malformed hash. */
bool password_verify(const char *hash, const char *pw);
/* Code points in a UTF-8 text (continuation bytes not counted). */
size_t password_length(const char *pw);

#endif
