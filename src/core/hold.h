/*
 * hold: legal holds (002 item 23: investigation, dispute, security, law). A
 * hold on a subject or a record keeps it from the retention sweep and from
 * erasure until it is lifted or its `until` passes; a hold may also forbid
 * disclosures. Every hold and lift is audited, and so is every showing of
 * a reason (hold_read). The reason is sealed under
 * the subject's key: it reads back while the subject exists, and as
 * HOLD_REASON_ERASED once they are erased.
 */
#ifndef PRIVREG_HOLD_H
#define PRIVREG_HOLD_H

#include "core/ctx.h"
#include "store/store.h"

#define HOLD_REASON_MAX 1000
/* What a hold's reason reads once its subject is erased. */
#define HOLD_REASON_ERASED "erased"

struct hold_input {
	const char *subject_id;    /* one of the two */
	const char *record_id;
	const char *reason;
	const char *until;         /* ISO 8601, or NULL for until lifted */
	bool forbid_disclosure;
};

enum rc hold_create(const struct core_ctx *c, const struct hold_input *in, struct store_hold *out,
                    struct errbuf *eb) WUR;
enum rc hold_lift(const struct core_ctx *c, const char *id, struct errbuf *eb) WUR;
/* Active holds: all (both NULL), a subject's, or a record's (with its subject's). */
enum rc hold_active(const struct core_ctx *c, const char *subject_id, const char *record_id,
                    struct store_hold **out, size_t *n) WUR;

/* Active holds as hold_active gives them, to be shown to the caller. A
 * reason is what staff wrote about a person: each subject whose reasons are
 * opened gets one access entry ("hold.read", detail "holds=N") through
 * audit_access, so no reason is shown unlogged. An auditor (the audit log
 * and the policy, no personal data) gets the holds with reason NULL, not
 * opened, and no entry. */
enum rc hold_read(const struct core_ctx *c, const char *subject_id, const char *record_id,
                  struct store_hold **out, size_t *n) WUR;

/* Seals the reasons of holds v (opened, as hold_active gives them) under a
 * subject's new key: an erasure that keeps held records re-keys the subject,
 * and the holds that keep them must still say why. */
enum rc hold_reseal(const struct core_ctx *c, const struct store_hold *v, size_t n, const char *subject_id,
                    const struct subject_key *key) WUR;
/* Seals the reason of one hold written before schema 9 under its subject's
 * key, or drops it for a subject already erased (tenant.c walks the queue;
 * inside the caller's transaction). */
enum rc hold_seal_one(const struct core_ctx *c, const char *id) WUR;

/* The hold among v that covers a subject or one of its records, or NULL. */
const struct store_hold *hold_covering(const struct store_hold *v, size_t n, const char *subject_id,
                                       const char *record_id);

#endif
