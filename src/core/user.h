/*
 * user: staff members' personal accounts and their sign-in sessions.
 *
 * An account belongs to one tenant and has one role, exactly like an API key
 * of that role; what differs is that it names a person, so the audit log
 * says who acted ("user:usr_..." where a key would say its id). An account
 * starts "invited" with a one-time enrolment link (only its hash is stored;
 * single use; it expires after USER_ENROL_TTL); enrolment sets a password
 * (Argon2id, at least PASSWORD_MIN characters) and a TOTP secret, and the
 * first code from the person's app proves the secret was taken. Sign-in
 * needs the e-mail, the password and a fresh code; after USER_FAILURES_MAX
 * failures within USER_FAILURE_WINDOW the account refuses every attempt
 * until the window is over. A session is a random id in a cookie (only its
 * hash is stored) with a CSRF token, ended by USER_SESSION_IDLE seconds
 * without use, by sign-out or by disabling the account.
 *
 * An e-mail is unique per tenant, not across tenants: one person may have
 * accounts in several tenants, and adding an account tells an admin nothing
 * of other tenants' accounts. E-mails are compared without regard to ASCII
 * case: they are lower-cased on every input and stored so. Sign-in finds
 * every account with the e-mail; the one whose code and password verify is
 * signed in (user_signin_tenants, user_signin_code).
 *
 * E-mails of staff are kept in plain text (the sign-in needs them); they
 * never reach logs or audit entries, which name the account id.
 */
#ifndef PRIVREG_USER_H
#define PRIVREG_USER_H

#include <stdbool.h>

#include "core/apikey.h"
#include "core/ctx.h"
#include "crypto/password.h"
#include "crypto/totp.h"
#include "store/store.h"

#define USER_ENROL_TTL (72 * 3600)     /* seconds an enrolment link is valid */
#define USER_SESSION_IDLE (15 * 60)    /* seconds of idleness that end a session */
#define USER_SESSION_TOUCH 30          /* last_seen is written at most this often */
#define USER_FAILURES_MAX 5
#define USER_FAILURE_WINDOW (15 * 60)
#define USER_TOKEN_LEN 43              /* a link's or session's secret: 32 bytes, base64url */
#define USER_COOKIE "privreg_session"  /* the cookie that carries a session's id */
#define USER_ACTOR_MAX (5 + TOKEN_ID_MAX) /* "user:" + id: the audit log's key_id */
#define USER_SIGNIN_MAX 16             /* accounts of one e-mail, across tenants, that sign-in tries */

/* Creates an invited account; writes its id and the enrolment link's secret. */
enum rc user_add(const struct core_ctx *c, const char *email, const char *role, char id[TOKEN_ID_MAX],
                 char token[USER_TOKEN_LEN + 1], struct errbuf *eb) WUR;
/* A new enrolment link for an account not yet enrolled (or to reset one). */
enum rc user_reinvite(const struct core_ctx *c, const char *email, char token[USER_TOKEN_LEN + 1],
                      struct errbuf *eb) WUR;
/* Disables the account with this e-mail and ends its sessions. */
enum rc user_disable(const struct core_ctx *c, const char *email, struct errbuf *eb) WUR;
/* The same two by the account's id (the API's routes, which name no e-mail
 * in a path). */
enum rc user_reinvite_id(const struct core_ctx *c, const char *user_id, char token[USER_TOKEN_LEN + 1],
                         struct errbuf *eb) WUR;
enum rc user_disable_id(const struct core_ctx *c, const char *user_id, struct errbuf *eb) WUR;
/* The tenant's accounts (free the array). */
enum rc user_list(const struct core_ctx *c, struct store_user **out, size_t *n) WUR;

/* The tenant of a valid, unused enrolment link (RC_NOT_FOUND otherwise),
 * so that the caller can load it before the calls below. */
enum rc user_enrolment_tenant(struct store *s, const char *token, int64_t now, int64_t *tenant_id) WUR;
/* Step one of enrolment: a new TOTP secret for the account, shown once as
 * base32; *email is the account's, for the authenticator's label. */
enum rc user_enrol_begin(const struct core_ctx *c, const char *token, char secret[TOTP_BASE32_LEN + 1],
                         char email[STORE_EMAIL_MAX + 1], struct errbuf *eb) WUR;
/* Step two: the password and a code of the new secret; the link is used up. */
enum rc user_enrol_finish(const struct core_ctx *c, const char *token, const char *password, const char *code,
                          struct errbuf *eb) WUR;

/* Seals the TOTP secret of an account written before schema 20 (the
 * store's seal queue, core/tenant.c), inside the caller's transaction;
 * one sealed already is left alone. */
enum rc user_seal_one(const struct core_ctx *c, const char *user_id) WUR;

/* Who a session is. */
struct user_identity {
	int64_t tenant_id;
	char user_id[TOKEN_ID_MAX];
	char actor[USER_ACTOR_MAX];   /* "user:usr_..." */
	enum role role;
	char csrf[48];
};

/* The tenants of the accounts with this e-mail (compared without regard to
 * ASCII case), at most USER_SIGNIN_MAX: an e-mail is unique per tenant
 * only, and one person may have accounts in several tenants. The first is
 * the tenant of the oldest active account, the one that takes a refusal
 * when no account's code verifies. RC_UNAUTHORIZED: none, after checking
 * `password` against a hash of nobody's, so that the time taken does not
 * tell which e-mails have accounts. */
enum rc user_signin_tenants(struct store *s, const char *email, const char *password,
                            int64_t tenants[USER_SIGNIN_MAX], size_t *n) WUR;
/* Whether code is a fresh code of the active account with this e-mail in
 * c's tenant (false when there is none): no password check, no write. With
 * several accounts, sign-in asks each tenant this first and checks the
 * password (user_sign_in) of the one whose code verifies, so that a
 * refusal costs one Argon2 check, as with one account or none. */
enum rc user_signin_code(const struct core_ctx *c, const char *email, const char *code, bool *match) WUR;
/* Checks password and code; on success a new session: its id for the cookie
 * (session, secret) and *who. RC_UNAUTHORIZED for any wrong part, RC_TOO_MANY
 * while the account is over its failures. Failures are audited. */
enum rc user_sign_in(const struct core_ctx *c, const char *email, const char *password, const char *code,
                     char session[USER_TOKEN_LEN + 1], struct user_identity *who, struct errbuf *eb) WUR;
/* The session with this id, if alive (RC_UNAUTHORIZED otherwise); keeps it
 * alive. Needs only the store: the caller loads the tenant after. */
enum rc user_session(struct store *s, const char *session, int64_t now, struct user_identity *who) WUR;
/* Ends the session (and the tenant's idle ones). */
enum rc user_sign_out(const struct core_ctx *c, const char *session) WUR;

#endif
