/*
 * disclosure: handing a subject's data to a recipient of the policy, only as
 * the policy allows it: that recipient, those fields, that purpose, a country
 * in the EEA or with a transfer basis, an authority only with a legal
 * reference (visible text) and for a purpose the policy gives it, never a
 * restricted subject, never against an objection or a
 * withdrawn consent, never under a hold that forbids it. A refusal names
 * its exact reason. Every disclosure is logged and audited.
 */
#ifndef PRIVREG_DISCLOSURE_H
#define PRIVREG_DISCLOSURE_H

#include "core/record.h"
#include "store/store.h"

#define DISCLOSURE_FIELDS_MAX 64
#define DISCLOSURE_REFERENCE_MAX 500

struct disclosure_input {
	const char *subject_id;
	const char *recipient;
	const char *purpose;
	const char *const *fields;
	size_t nfields;
	const char *legal_reference;
};

/* The values handed over: the subject's first value of each field asked
 * for (fields it has no value for are absent). */
struct disclosure_result {
	char id[TOKEN_ID_MAX];
	struct field_output *values;   /* point into `views` */
	size_t nvalues;
	struct record_view *views;
	size_t nviews;
};

enum rc disclosure_make(const struct core_ctx *c, const struct disclosure_input *in, struct disclosure_result *out,
                        struct errbuf *eb) WUR;
void disclosure_result_fini(struct disclosure_result *r);

/* Whether policy p allows the disclosure in (recipient, purpose, fields,
 * country, an authority's legal reference): the policy's half of
 * disclosure_make's rules, for checking a past disclosure against the
 * version in force when it was made (core/attest). 403 with the reason. */
enum rc disclosure_allowed(const struct policy *p, const struct disclosure_input *in, struct errbuf *eb) WUR;

enum rc disclosure_list(const struct core_ctx *c, const char *subject_id, struct store_disclosure **out, size_t *n) WUR;
/* The tenant's disclosure log, newest first, filtered (limit 1..DISCLOSURE_PAGE_MAX). */
#define DISCLOSURE_PAGE_MAX 500
enum rc disclosure_log(const struct core_ctx *c, const struct store_disclosure_filter *f, struct store_disclosure **out,
                       size_t *n) WUR;

#endif
