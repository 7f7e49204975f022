/*
 * signkey: the register's Ed25519 key, which signs its attestations
 * (core/attest.h) so that anyone with the public half can check that a
 * document was not altered.
 *
 * One key per register, in the key directory (SIGNKEY_FILE), made the first
 * time it is needed and never replaced: a DPO publishes the public half
 * once. The file holds the 32-byte seed in hex after a header line; it is
 * written like the other key files (a temporary file, fsync, link to its
 * name, fsync of the directory), so a crash leaves it absent or whole, and
 * it is refused when group or others can read it. The secret key lives in
 * a sodium_malloc'd block (locked, out of core dumps, wiped when freed) and
 * never leaves this module: callers get signatures and the public key.
 * The key id is the first 8 bytes of BLAKE2b(public key), in hex.
 */
#ifndef PRIVREG_SIGNKEY_H
#define PRIVREG_SIGNKEY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"

#define SIGNKEY_FILE "attest.ed25519"
#define SIGNKEY_PUBLIC_LEN 32
#define SIGNKEY_SIG_LEN 64
#define SIGNKEY_ID_LEN 17          /* 16 hex digits and the NUL */

struct signkey {
	unsigned char pk[SIGNKEY_PUBLIC_LEN];
	char id[SIGNKEY_ID_LEN];
	unsigned char *sk;         /* sodium_malloc'd; NULL until loaded */
};

/* Loads keydir/SIGNKEY_FILE, creating it first when it does not exist. */
enum rc signkey_load(const char *keydir, struct signkey *k, struct errbuf *eb) WUR;
/* Wipes and frees; a key never loaded (all zero) is fine. */
void signkey_fini(struct signkey *k);
void signkey_sign(const struct signkey *k, const void *msg, size_t len, unsigned char sig[SIGNKEY_SIG_LEN]);
bool signkey_verify(const unsigned char pk[SIGNKEY_PUBLIC_LEN], const void *msg, size_t len,
                    const unsigned char sig[SIGNKEY_SIG_LEN]);
/* The key id of a public key. */
void signkey_id(const unsigned char pk[SIGNKEY_PUBLIC_LEN], char id[SIGNKEY_ID_LEN]);

#endif
