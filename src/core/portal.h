/*
 * portal: the privacy center's sign-in for data subjects, and its sessions.
 *
 * A person asks for a sign-in link with an e-mail address; a link is mailed
 * to that address whether or not the register knows it, by one path, so the
 * answer and the work done do not tell which addresses are known. The link
 * is a signed token (crypto/token.h, kind 'p'): the tenant, the subject
 * whose records carry the address (or, for an address nobody's records
 * carry, an id no subject has), the keyed hash of the address, and an
 * expiry PORTAL_LINK_TTL ahead; it works once (its `used` hash is spent in
 * the transaction that opens the session). A session is a random id in a
 * cookie (only its hash is stored) with a CSRF token; it names exactly one
 * subject and ends after PORTAL_SESSION_IDLE seconds without use, at
 * sign-out, or when the subject is erased. Everything done through it is
 * audited with the subject as the actor ("subject:sub_..."), never a value.
 *
 * A person the register does not know may still ask for what a request
 * about nobody gives (core/request.h): they type the address again, which
 * must hash to the one they signed in with, and are answered "we hold
 * nothing" by mail.
 */
#ifndef PRIVREG_PORTAL_H
#define PRIVREG_PORTAL_H

#include <stdbool.h>

#include "core/request.h"

#define PORTAL_LINK_TTL (15 * 60)      /* seconds a sign-in link works */
#define PORTAL_SESSION_IDLE (15 * 60)  /* seconds of idleness that end a session */
#define PORTAL_SESSION_TOUCH 30        /* last_seen is written at most this often */
#define PORTAL_TOKEN_LEN 43            /* a session's id: 32 bytes, base64url */
#define PORTAL_COOKIE "privreg_portal" /* the cookie that carries a session's id */
#define PORTAL_ACTOR_MAX (8 + TOKEN_ID_MAX) /* "subject:" + id: the audit log's key_id */
#define PORTAL_VERIFIED_BY "signed in to the privacy center by a link e-mailed to the address on record"

/* Who a session is. */
struct portal_identity {
	char subject_id[TOKEN_ID_MAX];
	bool known;                    /* false: a person the register does not know */
	char actor[PORTAL_ACTOR_MAX];  /* "subject:sub_..." */
	char csrf[48];
	unsigned char address[VAULT_HASH_LEN]; /* keyed hash of the address signed in with */
};

/* The policy's e-mail lookup field, or NULL: a policy without one has no
 * privacy center (nothing to sign in with). */
const struct policy_field *portal_email_field(const struct policy *p);

/* Mails a sign-in link to `email` in `lang` (one of the policy's languages,
 * else its first). RC_UNPROCESSABLE for what is not an e-mail address;
 * otherwise RC_OK whether the address is known or not. */
enum rc portal_signin_mail(const struct core_ctx *c, const char *email, const char *lang, struct errbuf *eb) WUR;

/* Follows a sign-in link: RC_NOT_FOUND for a forged or malformed one,
 * RC_GONE for one expired or used; else a new session (its id for the
 * cookie, and *who). */
enum rc portal_sign_in(const struct core_ctx *c, const char *link, char session[PORTAL_TOKEN_LEN + 1],
                       struct portal_identity *who, struct errbuf *eb) WUR;
/* The live session with this id in c's tenant (RC_UNAUTHORIZED otherwise);
 * keeps it alive. A known subject erased since ends it. */
enum rc portal_session(const struct core_ctx *c, const char *session, struct portal_identity *who) WUR;
/* Ends the session (and the tenant's idle ones). */
enum rc portal_sign_out(const struct core_ctx *c, const char *session) WUR;

/* The subject's requests, newest first (store_requests_free them). */
enum rc portal_requests(const struct core_ctx *c, const struct portal_identity *who, struct store_request **out,
                        size_t *n) WUR;
/* Starts a request of `type` for the session's subject, verified by the
 * sign-in itself; details as the API's (JSON text, or NULL). A person the
 * register does not know gives `email` again (RC_UNPROCESSABLE when it is
 * not the address they signed in with) and `lang` for the answer. */
enum rc portal_request(const struct core_ctx *c, const struct portal_identity *who, const char *type,
                       const char *details, const char *email, const char *lang, struct store_request *out,
                       struct errbuf *eb) WUR;

#endif
