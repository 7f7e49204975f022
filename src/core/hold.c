/* hold: legal holds (see hold.h). */
#include "core/hold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "core/audit.h"
#include "base/timeutil.h"
#include "crypto/token.h"
#include "store/store.h"

enum rc hold_create(const struct core_ctx *c, const struct hold_input *in, struct store_hold *out,
                    struct errbuf *eb)
{
	memset(out, 0, sizeof *out);
	bool on_subject = in->subject_id && *in->subject_id, on_record = in->record_id && *in->record_id;
	if (on_subject == on_record)
		return err_set(eb, RC_UNPROCESSABLE, "a hold is on a subject_id or on a record_id");
	if (!in->reason || !*in->reason || strlen(in->reason) > HOLD_REASON_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "a hold needs its reason (at most %d characters)", HOLD_REASON_MAX);
	int64_t until = 0;
	if (in->until && (strlen(in->until) > 40 || timeutil_parse_instant(in->until, &until)))
		return err_set(eb, RC_UNPROCESSABLE, "until: not an ISO 8601 date or datetime");
	if (in->until && until <= core_now(c))
		return err_set(eb, RC_UNPROCESSABLE, "until: in the past");
	char subject[TOKEN_ID_MAX] = "";
	enum rc rc;
	if (on_record) {
		struct store_record r = {0};
		rc = store_record_get(c->store, c->tenant->id, in->record_id, &r);
		if (!rc)
			snprintf(subject, sizeof subject, "%s", r.subject_id);
		else if (rc == RC_NOT_FOUND)
			rc = err_set(eb, rc, "no such record");
		store_record_fini(&r);
	} else {
		struct store_subject s;
		rc = store_subject_get(c->store, c->tenant->id, in->subject_id, &s);
		store_subject_fini(&s);
		if (rc == RC_NOT_FOUND)
			rc = err_set(eb, rc, "no such subject");
		snprintf(subject, sizeof subject, "%s", in->subject_id);
	}
	if (rc)
		return rc;
	token_id_new(TOKEN_PREFIX_HOLD, out->id);
	if (on_subject)
		memcpy(out->subject_id, subject, sizeof subject);
	else
		snprintf(out->record_id, sizeof out->record_id, "%s", in->record_id);
	out->reason = xstrdup(in->reason);
	out->key_id = xstrdup(c->key_id ? c->key_id : "cli");
	out->forbid_disclosure = in->forbid_disclosure;
	out->created_at = core_now(c);
	out->until = until;
	char detail[96];
	snprintf(detail, sizeof detail, "hold=%s forbid_disclosure=%d", out->id, in->forbid_disclosure);
	struct audit_event ev = {"hold.create", subject, on_record ? in->record_id : NULL, "ok", detail};
	rc = store_begin(c->store);
	if (!rc) {
		rc = store_hold_insert(c->store, c->tenant->id, out);
		if (!rc)
			rc = audit_append(c, &ev);
		rc = core_end(c, rc);
	}
	if (rc) {
		free(out->reason);
		free(out->key_id);
		memset(out, 0, sizeof *out);
	}
	return rc;
}

enum rc hold_lift(const struct core_ctx *c, const char *id, struct errbuf *eb)
{
	char detail[64];
	snprintf(detail, sizeof detail, "hold=%.40s", id);
	struct audit_event ev = {"hold.lift", NULL, NULL, "ok", detail};
	enum rc rc = store_begin(c->store);
	if (!rc)
		rc = store_hold_lift(c->store, c->tenant->id, id, core_now(c));
	if (!rc)
		rc = audit_append(c, &ev);
	rc = core_end(c, rc);
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "no active hold '%.40s'", id) : rc;
}

enum rc hold_active(const struct core_ctx *c, const char *subject_id, const char *record_id,
                    struct store_hold **out, size_t *n)
{
	return store_holds_active(c->store, c->tenant->id, subject_id, record_id, core_now(c), out, n);
}

const struct store_hold *hold_covering(const struct store_hold *v, size_t n, const char *subject_id,
                                       const char *record_id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].subject_id, subject_id) || !strcmp(v[i].record_id, record_id))
			return &v[i];
	return NULL;
}
