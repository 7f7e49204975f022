/* disclosure: policy-bound disclosures (see disclosure.h). */
#include "core/disclosure.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "core/audit.h"
#include "core/consent.h"
#include "core/country.h"
#include "core/field.h"
#include "core/hold.h"
#include "core/subject.h"

static bool has_purpose(const struct policy_recipient *r, const struct policy_purpose *u)
{
	for (size_t i = 0; i < r->npurposes; i++)
		if (r->purposes[i] == u)
			return true;
	return false;
}

static bool has_field(const struct policy_recipient *r, const struct policy_field *f)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i] == f)
			return true;
	return false;
}

/* The length of s without the whitespace, control characters and invisible
 * Unicode spaces (no-break, zero-width, ideographic, ...) around it: a legal
 * reference of nothing but those names no law. */
static size_t visible_len(const char *s)
{
	static const char *const invisible[] = {
		"\xc2\xa0", "\xe1\x9a\x80", "\xe2\x80\x80", "\xe2\x80\x81", "\xe2\x80\x82", "\xe2\x80\x83",
		"\xe2\x80\x84", "\xe2\x80\x85", "\xe2\x80\x86", "\xe2\x80\x87", "\xe2\x80\x88", "\xe2\x80\x89",
		"\xe2\x80\x8a", "\xe2\x80\x8b", "\xe2\x80\x8c", "\xe2\x80\x8d", "\xe2\x80\xa8", "\xe2\x80\xa9",
		"\xe2\x80\xaf", "\xe2\x81\x9f", "\xe2\x81\xa0", "\xe3\x80\x80", "\xef\xbb\xbf",
	};
	const char *b = s, *e = s + strlen(s);
	for (bool cut = true; cut && b < e;) {
		cut = (unsigned char)*b <= 0x20 || *b == 0x7f;
		size_t n = cut ? 1 : 0;
		for (size_t i = 0; !cut && i < sizeof invisible / sizeof invisible[0]; i++)
			if ((size_t)(e - b) >= (n = strlen(invisible[i])) && !memcmp(b, invisible[i], n))
				cut = true;
		if (cut)
			b += n;
	}
	for (bool cut = true; cut && e > b;) {
		cut = (unsigned char)e[-1] <= 0x20 || e[-1] == 0x7f;
		size_t n = cut ? 1 : 0;
		for (size_t i = 0; !cut && i < sizeof invisible / sizeof invisible[0]; i++)
			if ((size_t)(e - b) >= (n = strlen(invisible[i])) && !memcmp(e - n, invisible[i], n))
				cut = true;
		if (cut)
			e -= n;
	}
	return (size_t)(e - b);
}

/* The policy's rules, before anything is read: 403 with the exact reason. */
static enum rc allowed_by_policy(const struct policy *p, const struct disclosure_input *in,
                                 const struct policy_recipient **rcpt, struct errbuf *eb)
{
	const struct policy_recipient *r = policy_recipient(p, in->recipient);
	const struct policy_purpose *u = policy_purpose(p, in->purpose);
	if (!r)
		return err_set(eb, RC_FORBIDDEN, "'%.64s' is not a recipient in the policy", in->recipient);
	if (!u)
		return err_set(eb, RC_FORBIDDEN, "'%.64s' is not a purpose in the policy", in->purpose);
	if (!in->nfields)
		return err_set(eb, RC_UNPROCESSABLE, "name the fields to disclose");
	if (in->nfields > DISCLOSURE_FIELDS_MAX)
		return err_set(eb, RC_TOO_LARGE, "more than %d fields", DISCLOSURE_FIELDS_MAX);
	if (in->legal_reference && strlen(in->legal_reference) > DISCLOSURE_REFERENCE_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "legal_reference is longer than %d characters", DISCLOSURE_REFERENCE_MAX);
	if (field_text_check("legal_reference", in->legal_reference, eb))
		return RC_UNPROCESSABLE;
	if (!country_in_eea(r->country) && r->transfer == TRANSFER_NONE)
		return err_set(eb, RC_FORBIDDEN, "%s is in %s, outside the EEA, with no transfer basis", r->name, r->country);
	if (r->role == RECIPIENT_AUTHORITY) {
		if (!in->legal_reference || !*in->legal_reference)
			return err_set(eb, RC_FORBIDDEN, "%s is an authority: a disclosure to it needs its legal reference", r->name);
		if (!visible_len(in->legal_reference))
			return err_set(eb, RC_UNPROCESSABLE, "legal_reference is blank: name the law and the case");
	}
	/* An authority that lists its purposes receives data only for those, like
	 * any recipient; one that lists none (every policy written before the list
	 * existed) may be given data for any purpose of the policy, each
	 * disclosure on its legal reference. */
	if ((r->role != RECIPIENT_AUTHORITY || r->npurposes) && !has_purpose(r, u))
		return err_set(eb, RC_FORBIDDEN, "%s does not receive data for purpose %s", r->name, u->name);
	for (size_t i = 0; i < in->nfields; i++) {
		const struct policy_field *f = policy_field(p, in->fields[i]);
		if (!f)
			return err_set(eb, RC_FORBIDDEN, "'%.64s' is not a field in the policy", in->fields[i]);
		if (r->role != RECIPIENT_AUTHORITY && !has_field(r, f))
			return err_set(eb, RC_FORBIDDEN, "%s may not receive the field %s", r->name, f->name);
	}
	*rcpt = r;
	return RC_OK;
}

enum rc disclosure_allowed(const struct policy *p, const struct disclosure_input *in, struct errbuf *eb)
{
	const struct policy_recipient *r = NULL;
	return allowed_by_policy(p, in, &r, eb);
}

enum rc disclosure_make(const struct core_ctx *c, const struct disclosure_input *in, struct disclosure_result *out,
                        struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	const struct policy_recipient *r = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = allowed_by_policy(p, in, &r, eb);
	if (rc)
		return rc;
	/* The subject's side: restriction, objection or withdrawal, holds. */
	struct consent_status st;
	rc = consent_check(c, in->subject_id, in->purpose, &st, eb);
	if (rc)
		return rc;
	if (!strcmp(st.state, "unknown"))
		return err_set(eb, RC_NOT_FOUND, "no such subject");
	enum consent_state cs = consent_state_parse(st.state);
	if (cs == CONSENT_STATE_RESTRICTED)
		return err_set(eb, RC_FORBIDDEN, "the subject's data is restricted (Art. 18): it may not be disclosed");
	/* Authorities too: a withdrawn consent or an objection is no basis for
	 * any recipient, and an authority's basis is its own purpose's. */
	if (!st.allowed)
		return err_set(eb, RC_FORBIDDEN, "the subject has %s purpose %s", cs == CONSENT_STATE_OBJECTED
		               ? "objected to" : cs == CONSENT_STATE_WITHDRAWN ? "withdrawn consent for" : "not consented to",
		               in->purpose);
	struct store_hold *holds = NULL;
	size_t nholds = 0;
	rc = hold_active(c, in->subject_id, NULL, &holds, &nholds);
	for (size_t i = 0; !rc && i < nholds; i++)
		if (holds[i].forbid_disclosure)
			rc = err_set(eb, RC_FORBIDDEN, "a legal hold forbids disclosing this subject's data (%s)", holds[i].id);
	store_holds_free(holds, nholds);
	if (rc)
		return rc;
	/* Read the values asked for. */
	struct subject_view *v = NULL;
	rc = subject_read(c, in->subject_id, &v, eb);
	if (rc)
		return rc;
	out->views = v->records;
	out->nviews = v->nrecords;
	v->records = NULL;
	v->nrecords = 0;
	subject_view_free(v);
	out->values = xcalloc(in->nfields, sizeof *out->values);
	struct buf names;
	buf_init(&names, 4096);
	for (size_t i = 0; !rc && i < in->nfields; i++) {
		rc = buf_printf(&names, "%s%s", i ? "," : "", in->fields[i]);
		bool found = false;
		for (size_t k = 0; k < out->nviews && !found; k++)
			for (size_t f = 0; f < out->views[k].nfields && !found; f++)
				if (!strcmp(out->views[k].fields[f].name, in->fields[i])) {
					out->values[out->nvalues++] = out->views[k].fields[f];
					found = true;
				}
	}
	struct store_disclosure d = {.recipient = (char *)r->name, .purpose = (char *)in->purpose, .fields = names.data,
	                             .legal_reference = (char *)in->legal_reference, .at = core_now(c),
	                             .key_id = (char *)(c->key_id ? c->key_id : "cli")};
	token_id_new(TOKEN_PREFIX_DISCLOSURE, d.id);
	memcpy(d.subject_id, in->subject_id, strnlen(in->subject_id, TOKEN_ID_MAX - 1) + 1);
	char detail[600];
	snprintf(detail, sizeof detail, "disclosure=%s recipient=%s purpose=%s fields=%s", d.id, r->name, in->purpose,
	         names.data ? names.data : "");
	struct audit_event ev = {"disclosure", in->subject_id, NULL, "ok", detail};
	if (!rc)
		rc = store_begin(c->store);
	if (!rc) {
		rc = store_disclosure_insert(c->store, c->tenant->id, &d);
		if (!rc)
			rc = audit_append(c, &ev);
		rc = core_end(c, rc);
	}
	buf_fini(&names);
	if (rc) {
		disclosure_result_fini(out);
		return rc;
	}
	memcpy(out->id, d.id, TOKEN_ID_MAX);
	return RC_OK;
}

void disclosure_result_fini(struct disclosure_result *r)
{
	for (size_t i = 0; i < r->nviews; i++)
		record_view_fini(&r->views[i]);
	free(r->views);
	free(r->values);
	memset(r, 0, sizeof *r);
}

/* The log outlives an erased subject (it is the controller's record of what
 * left), so a non-empty list stands on its own; an empty one is shown only
 * for a subject of this tenant, as every other route answers an id of
 * another tenant, or of nobody: 404. */
enum rc disclosure_list(const struct core_ctx *c, const char *subject_id, struct store_disclosure **out, size_t *n)
{
	enum rc rc = store_disclosures_for_subject(c->store, c->tenant->id, subject_id, out, n);
	if (rc || *n)
		return rc;
	struct store_subject s;
	rc = store_subject_get(c->store, c->tenant->id, subject_id, &s);
	store_subject_fini(&s);
	if (rc) {
		store_disclosures_free(*out, *n);
		*out = NULL;
	}
	return rc;
}

enum rc disclosure_log(const struct core_ctx *c, const struct store_disclosure_filter *f, struct store_disclosure **out,
                       size_t *n)
{
	if (f->limit < 1 || f->limit > DISCLOSURE_PAGE_MAX)
		return RC_UNPROCESSABLE;
	return store_disclosures_log(c->store, c->tenant->id, f, out, n);
}
