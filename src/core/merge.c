/* merge: two subjects into one (see merge.h). */
#include "core/merge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/audit.h"
#include "core/consent.h"
#include "core/datakey.h"
#include "core/hold.h"
#include "core/subject.h"

/* The other subject's records, sealed again under the survivor's key. */
static enum rc move_records(const struct core_ctx *c, const char *from, const struct subject_key *fk, const char *into,
                            const struct subject_key *ik, size_t *n)
{
	struct store_record *recs = NULL;
	size_t nrecs = 0;
	*n = 0;
	enum rc rc = store_records_for_subject(c->store, c->tenant->id, from, &recs, &nrecs);
	for (size_t i = 0; !rc && i < nrecs; i++) {
		struct record_view v;
		unsigned char *data = NULL;
		size_t len = 0;
		rc = record_view_take(c, fk, &recs[i], &v);
		if (!rc)
			rc = record_reseal(&v, ik, &data, &len);
		if (!rc)
			rc = store_record_move(c->store, c->tenant->id, v.id, into, data, len);
		if (!rc)
			(*n)++;
		free(data);
		record_view_fini(&v);
	}
	store_records_free(recs, nrecs);
	return rc;
}

static enum rc unheld(const struct core_ctx *c, const char *id, struct errbuf *eb)
{
	struct store_hold *holds = NULL;
	size_t n = 0;
	enum rc rc = hold_active(c, id, NULL, &holds, &n);
	store_holds_free(holds, n);
	if (!rc && n)
		rc = err_set(eb, RC_CONFLICT, "%s is under a legal hold: lift it first (a merge would change what it keeps)",
		             id);
	return rc;
}

static enum rc key_of(const struct core_ctx *c, const char *id, struct subject_key *k, struct errbuf *eb)
{
	enum rc rc = datakey_unwrap(c, id, k, eb);
	if (rc == RC_NOT_FOUND)
		return err_set(eb, rc, "no such subject: %.40s", id);
	if (rc == RC_GONE)
		return err_set(eb, rc, "%.40s has been erased", id);
	return rc;
}

enum rc merge_subjects(const struct core_ctx *c, const char *into, const char *from, struct merge_result *out,
                       struct errbuf *eb)
{
	struct subject_key ik, fk;
	struct store_subject irow = {0}, frow = {0};
	memset(out, 0, sizeof *out);
	if (!strcmp(into, from))
		return err_set(eb, RC_UNPROCESSABLE, "a subject cannot be merged into itself");
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = key_of(c, into, &ik, eb);
	if (rc)
		return core_end(c, rc);
	rc = key_of(c, from, &fk, eb);
	if (rc) {
		vault_subject_key_wipe(&ik);
		return core_end(c, rc);
	}
	rc = unheld(c, into, eb);
	if (!rc)
		rc = unheld(c, from, eb);
	if (!rc)
		rc = store_subject_get(c->store, c->tenant->id, into, &irow);
	if (!rc)
		rc = store_subject_get(c->store, c->tenant->id, from, &frow);
	if (!rc)
		rc = move_records(c, from, &fk, into, &ik, &out->records);
	if (!rc)
		rc = consent_move(c, from, &fk, into, &ik, &out->consent_events);
	if (!rc)
		rc = request_move_subject(c, from, &fk, into, &ik, &out->requests);
	if (!rc)
		rc = store_disclosures_move(c->store, c->tenant->id, from, into);
	if (!rc && frow.restricted && !irow.restricted)
		rc = store_subject_restrict(c->store, c->tenant->id, into, true);
	/* Its key first, then its row (and any answer kept about it): nothing
	 * of it is left to open. */
	if (!rc)
		rc = store_subject_delete(c->store, c->tenant->id, from);
	if (!rc) {
		char detail[160];
		snprintf(detail, sizeof detail, "from=%s records=%zu consent_events=%zu requests=%zu restricted=%s", from,
		         out->records, out->consent_events, out->requests, frow.restricted || irow.restricted ? "yes" : "no");
		struct audit_event ev = {"subject.merge", into, NULL, "ok", detail};
		rc = audit_append(c, &ev);
	}
	vault_subject_key_wipe(&ik);
	vault_subject_key_wipe(&fk);
	store_subject_fini(&irow);
	store_subject_fini(&frow);
	return core_end(c, rc);
}
