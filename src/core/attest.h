/*
 * attest: the register's proof on demand. An attestation states, for one
 * tenant as of one time, each promise of its privacy notice as a claim that
 * holds or does not, with the evidence behind it (docs/attestation.md says
 * what each claim checks and where it stops):
 *
 *   retention    no record past its due time but under a legal hold (or a
 *                restriction, Art. 18); the last sweep's time
 *   requests     every request answered by its deadline; extensions; the
 *                ones open now with their days left
 *   consent      every address handed to a marketing audience in the period
 *                had its consent in force at that time (consent history)
 *   disclosures  each disclosure of the period allowed by the policy version
 *                in force when it was made; authorities' legal references
 *   access       the audit chain verifies, up to its latest checkpoint; the
 *                reads of the period
 *   erasure      each erasure of the period is in the erasure ledger; key
 *                epochs destroyed and the oldest backup still readable
 *   policy       the versions in force in the period, each notice's hash
 *
 * This module computes the claims as plain data; api/attest_json.c turns
 * them into the signed JSON document and its HTML rendering. The period
 * runs from the latest attestation kept (attest_keep) or the tenant's
 * creation to the attestation's time, core_now(c): with c->now fixed, the
 * claims are computed again as of an earlier time (`privreg attest verify
 * --dir`), from what the register still holds. The evidence names ids,
 * rule names, times and counts, never a personal value; lists stop at
 * ATTEST_LIST_MAX rows, and each says how many rows it had in all.
 */
#ifndef PRIVREG_ATTEST_H
#define PRIVREG_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/arena.h"
#include "core/ctx.h"

#define ATTEST_LIST_MAX 500
/* A record due less than this long ago is waiting for the next sweep, not
 * kept past its time (the server sweeps daily by default). */
#define ATTEST_SWEEP_GRACE 86400

#define ATTEST_CLAIMS(X) \
	X(RETENTION, "retention") \
	X(REQUESTS, "requests") \
	X(CONSENT, "consent") \
	X(DISCLOSURES, "disclosures") \
	X(ACCESS, "access") \
	X(ERASURE, "erasure") \
	X(POLICY, "policy")

enum attest_claim_id {
#define X(id, name) ATTEST_##id,
	ATTEST_CLAIMS(X)
#undef X
	ATTEST__COUNT
};

enum attest_kind { ATTEST_STR, ATTEST_INT, ATTEST_BOOL, ATTEST_TIME };

/* A named value; an ATTEST_TIME of 0 is none (null). */
struct attest_fact {
	const char *name;
	enum attest_kind kind;
	const char *s;
	int64_t i;
};

struct attest_row {
	struct attest_fact *v;
	size_t n, alloc;
};

/* Rows of the same shape; total counts all of them, listed or not. */
struct attest_list {
	const char *name;
	struct attest_row *rows;
	size_t n, alloc;
	int64_t total;
};

struct attest_claim {
	const char *name;
	bool holds;
	struct attest_row facts;
	struct attest_list *lists;
	size_t nlists, alloc;
};

struct attestation {
	struct arena arena;        /* every string and array below */
	const char *tenant;
	int64_t as_of, from;
	struct attest_claim claims[ATTEST__COUNT];
};

struct attest_opts {
	const char *checkpoints;   /* the audit checkpoint file; NULL: none */
	int64_t from;              /* the period's start; 0: the latest kept attestation's time, or the tenant's creation */
};

enum rc attest_make(const struct core_ctx *c, const struct attest_opts *o, struct attestation *out,
                    struct errbuf *eb) WUR;
void attest_fini(struct attestation *a);

/* Keeps the signed document of a (its period ends there for the next one),
 * with its audit entry, in one transaction. */
enum rc attest_keep(const struct core_ctx *c, const struct attestation *a, const char *document) WUR;
/* The latest kept document (free it); RC_NOT_FOUND when none was kept. */
enum rc attest_latest(const struct core_ctx *c, char **document, int64_t *as_of) WUR;

#endif
