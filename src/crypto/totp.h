/*
 * totp: the second factor of staff sign-in, RFC 6238 as every authenticator
 * app reads it: HMAC-SHA-1, 30-second steps, 6 digits, a 160-bit secret
 * written in RFC 4648 base32 (upper case, no padding). libsodium has no
 * SHA-1, so it is here (RFC 3174); SHA-1's collisions do not weaken HMAC.
 * A code is accepted for the step before and after the current one (clocks
 * drift), and never twice: the caller keeps the last step used.
 */
#ifndef PRIVREG_TOTP_H
#define PRIVREG_TOTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TOTP_SECRET_LEN 20       /* bytes */
#define TOTP_BASE32_LEN 32       /* characters of the secret in base32 */
#define TOTP_STEP 30             /* seconds */
#define TOTP_DIGITS 6

void totp_secret_new(unsigned char secret[TOTP_SECRET_LEN]);
/* Writes the secret in base32 and a NUL. */
void totp_base32(const unsigned char secret[TOTP_SECRET_LEN], char out[TOTP_BASE32_LEN + 1]);
/* Reads a base32 secret; false when it is not one. */
bool totp_from_base32(const char *text, unsigned char secret[TOTP_SECRET_LEN]);
/* The code of one step (unix time / TOTP_STEP). */
uint32_t totp_code(const unsigned char secret[TOTP_SECRET_LEN], int64_t step);
/* The step the code matches within one step of `now`'s, after last_step
 * (a step already used); -1 when none. code: exactly TOTP_DIGITS digits. */
int64_t totp_check(const unsigned char secret[TOTP_SECRET_LEN], const char *code, int64_t now, int64_t last_step);
/* SHA-1 (RFC 3174) and HMAC-SHA-1 (RFC 2104), exposed for their tests. */
void totp_sha1(const void *data, size_t len, unsigned char out[20]);
void totp_hmac_sha1(const unsigned char *key, size_t klen, const void *msg, size_t mlen, unsigned char out[20]);

#endif
