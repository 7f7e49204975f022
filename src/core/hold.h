/*
 * hold: legal holds (002 item 23: investigation, dispute, security, law). A
 * hold on a subject or a record keeps it from the retention sweep and from
 * erasure until it is lifted or its `until` passes; a hold may also forbid
 * disclosures. Every hold and lift is audited.
 */
#ifndef PRIVREG_HOLD_H
#define PRIVREG_HOLD_H

#include "core/ctx.h"
#include "store/store.h"

#define HOLD_REASON_MAX 1000

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

/* The hold among v that covers a subject or one of its records, or NULL. */
const struct store_hold *hold_covering(const struct store_hold *v, size_t n, const char *subject_id,
                                       const char *record_id);

#endif
