/*
 * datakey: what the record layer needs of a subject's row: its data key
 * (unwrapped from the tenant's master key; wipe it after use with
 * vault_subject_key_wipe) and whether its data may be used (a restricted
 * subject's data is only stored, Art. 18; a purpose the subject objected
 * to or withdrew is not processed for). Below record and subject, so that
 * neither needs the other for it. The states of consent are declared here
 * for the same reason; core/consent records them.
 */
#ifndef PRIVREG_DATAKEY_H
#define PRIVREG_DATAKEY_H

#include <stdbool.h>

#include "core/ctx.h"
#include "core/policy.h"
#include "crypto/vault.h"

/* A subject's data key; RC_NOT_FOUND for no such subject, RC_GONE once the
 * key has been destroyed. */
enum rc datakey_unwrap(const struct core_ctx *c, const char *subject_id, struct subject_key *key,
                       struct errbuf *eb) WUR;
/* RC_OK, or RC_CONFLICT when the subject is restricted and the caller's
 * role is not one that may still use the data (admin, dpo: legal claims;
 * the subject's own access). */
enum rc datakey_usable(const struct core_ctx *c, const char *subject_id, struct errbuf *eb) WUR;

/* The states of one purpose for one subject, declared once. The store keeps
 * the name; "restricted" and "unknown" (no such subject, or erased) are what
 * a check answers for a subject whose data may not be used at all. */
#define CONSENT_STATES(X) \
	X(NONE,       "none") \
	X(PENDING,    "pending") \
	X(GRANTED,    "granted") \
	X(WITHDRAWN,  "withdrawn") \
	X(OBJECTED,   "objected") \
	X(EXPIRED,    "expired") \
	X(ACCEPTED,   "accepted") \
	X(RESTRICTED, "restricted") \
	X(UNKNOWN,    "unknown")

enum consent_state {
#define X(id, name) CONSENT_STATE_##id,
	CONSENT_STATES(X)
#undef X
	CONSENT_STATE__COUNT
};

const char *consent_state_name(enum consent_state s);
/* The state of a name; "" is none, anything unknown is CONSENT_STATE_UNKNOWN. */
enum consent_state consent_state_parse(const char *name);
/* The one definition of "may we": an objection stops any purpose; a purpose
 * with basis consent needs a grant (confirmed, for double opt-in); any other
 * basis allows unless objected to. Restricted or unknown subjects never. */
bool consent_allows(const struct policy_purpose *u, enum consent_state s);

/* The subject's state for purpose u (CONSENT_STATE_NONE when it has none). */
enum rc datakey_purpose_state(const struct core_ctx *c, const char *subject_id, const struct policy_purpose *u,
                              enum consent_state *out) WUR;
/* A read that declares a purpose (c->purpose, X-Purpose) the subject
 * objected to or withdrew is refused (RC_CONFLICT naming it), not only
 * logged: an objection stops the processing (Art. 21(1), 7(3)). */
enum rc datakey_purpose_usable(const struct core_ctx *c, const char *subject_id, struct errbuf *eb) WUR;

#endif
