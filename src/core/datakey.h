/*
 * datakey: what the record layer needs of a subject's row: its data key
 * (unwrapped from the tenant's master key; wipe it after use with
 * vault_subject_key_wipe) and whether its data may be used (a restricted
 * subject's data is only stored, Art. 18). Below record and subject, so that
 * neither needs the other for it.
 */
#ifndef PRIVREG_DATAKEY_H
#define PRIVREG_DATAKEY_H

#include "core/ctx.h"
#include "crypto/vault.h"

/* A subject's data key; RC_NOT_FOUND for no such subject, RC_GONE once the
 * key has been destroyed. */
enum rc datakey_unwrap(const struct core_ctx *c, const char *subject_id, struct subject_key *key,
                       struct errbuf *eb) WUR;
/* RC_OK, or RC_CONFLICT when the subject is restricted and the caller's
 * role is not one that may still use the data (admin, dpo: legal claims;
 * the subject's own access). */
enum rc datakey_usable(const struct core_ctx *c, const char *subject_id, struct errbuf *eb) WUR;

#endif
