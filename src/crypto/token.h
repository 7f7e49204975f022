/*
 * token: random identifiers and staff API keys.
 *
 * Ids are ULIDs behind a type prefix ("sub_", "rec_"): 16 bytes, the first 6
 * the creation time in milliseconds (big-endian), the rest random, read as
 * one 128-bit number and written in 26 lower-case Crockford base32
 * characters, the 2 padding bits at the front (so the first character is
 * 0-7 and any ULID library reads the time). The time prefix keeps B-tree
 * inserts near the end of the index; the 80 random bits keep ids
 * unguessable. Only the canonical spelling is accepted (no upper case, no
 * I/L/O for 1/1/0): ids are compared as text in the audit log and bound
 * into ciphertexts, so one id must have one spelling.
 *
 * API keys are "prk_" + key id + "_" + 256 random bits; only the BLAKE2b
 * hash of the secret part is stored, and it is compared in constant time.
 */
#ifndef PRIVREG_TOKEN_H
#define PRIVREG_TOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define TOKEN_ID_MAX 40          /* prefix + 26 chars + NUL, with room */
#define TOKEN_ID_CHARS 26

/* The prefix of each kind of id: the one place they are spelled. */
#define TOKEN_PREFIX_SUBJECT "sub_"
#define TOKEN_PREFIX_RECORD "rec_"
#define TOKEN_PREFIX_REQUEST "req_"
#define TOKEN_PREFIX_HOLD "hld_"
#define TOKEN_PREFIX_DISCLOSURE "dsc_"
#define TOKEN_PREFIX_USER "usr_"      /* a staff member's personal account */
#define TOKEN_PREFIX_APIKEY "prk_"   /* not an id: the start of a staff API key */
#define TOKEN_KEY_ID_LEN 16      /* base32 chars of an API key id */
#define TOKEN_APIKEY_MAX 96
#define TOKEN_HASH_LEN 32

/* Writes prefix + 26 base32 chars. */
void token_id_new(const char *prefix, char out[TOKEN_ID_MAX]);
/* True when s looks like an id with this prefix (no database needed). */
bool token_id_valid(const char *prefix, const char *s);

#define TOKEN_ID_BYTES 16
/* The 16 bytes behind an id, for compact storage; false if s is not one. */
bool token_id_decode(const char *prefix, const char *s, unsigned char out[TOKEN_ID_BYTES]);
void token_id_encode(const char *prefix, const unsigned char in[TOKEN_ID_BYTES], char out[TOKEN_ID_MAX]);

/*
 * Before schema 7, ids were the same 16 bytes written with the 2 padding
 * bits at the end, and text written then keeps that form in two places:
 * the audit entries hashed before the upgrade (the verifier rewrites them
 * back), and the associated data of ciphertexts (vault writes ids in it in
 * this form, always, so old and new ciphertexts open alike). These rewrite,
 * in place and at the same length, every id in a text (an id prefix after
 * the start or a non-word character, 26 base32 characters, then the end or
 * a non-word character) into the other form; each undoes the other exactly,
 * on any text.
 */
void token_ids_to_legacy(char *s);
void token_ids_from_legacy(char *s);

/* A new API key: writes its public id and the whole secret key text. */
void token_apikey_new(char key_id[TOKEN_KEY_ID_LEN + 1], char key[TOKEN_APIKEY_MAX],
                      unsigned char hash[TOKEN_HASH_LEN]);
/* Splits a presented key into its id and the hash of its secret. */
enum rc token_apikey_parse(const char *key, char key_id[TOKEN_KEY_ID_LEN + 1],
                           unsigned char hash[TOKEN_HASH_LEN]) WUR;
/* Constant-time comparison of two hashes. */
bool token_hash_equal(const unsigned char a[TOKEN_HASH_LEN], const unsigned char b[TOKEN_HASH_LEN]);

/*
 * Signed links (double opt-in confirmation, one-click unsubscribe, request
 * verification, export): the tenant id, then base64url of kind, subject,
 * expiry, purpose, the event a confirmation confirms (absent in links signed
 * before it was added, and in other kinds) and a keyed BLAKE2b MAC over all
 * of it under the tenant's token key. They carry no personal value, only
 * ids; a forged, truncated or altered token fails the MAC; an expired one is
 * refused by its expiry.
 *
 * A link has one spelling: the tenant in plain decimal (no sign, no leading
 * zero, no space), base64url without padding, with zero spare bits and
 * nothing after it. Any other spelling of the same bytes ("01.", "+1.",
 * a padded "1.AAAA=", ...) is refused as malformed, so a single-use link cannot be
 * used again under another spelling.
 */
#define TOKEN_LINK_MAX 200
#define TOKEN_PURPOSE_MAX 64

struct token_link {
	char kind;                 /* 'c' confirm, 'u' unsubscribe, 'v' verify, 'x' export */
	int64_t tenant_id;
	char subject_id[TOKEN_ID_MAX];
	char purpose[TOKEN_PURPOSE_MAX + 1];
	int64_t expires;
	int64_t event;             /* 'c': the consent event (the grant) it confirms; 0: none
	                            * (confirmation links signed before it was bound) */
	unsigned char used[32];    /* set by token_link_verify: the same for every spelling
	                            * of the link, what marks a single-use link used */
};

enum rc token_link_sign(const struct token_link *l, const unsigned char key[32], char out[TOKEN_LINK_MAX]) WUR;
/* Reads the tenant id only: which key to verify with. */
enum rc token_link_tenant(const char *s, int64_t *tenant_id) WUR;
/* RC_NOT_FOUND for anything forged, malformed or not canonically spelled,
 * RC_GONE when expired. */
enum rc token_link_verify(const char *s, const unsigned char key[32], int64_t now, struct token_link *out) WUR;

#endif
