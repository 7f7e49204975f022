/* hold: legal holds (see hold.h). */
#include "core/hold.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "core/audit.h"
#include "core/datakey.h"
#include "core/field.h"
#include "base/timeutil.h"
#include "crypto/token.h"
#include "store/store.h"

/* A hold's reason ("dispute with ...") is about the person: it is sealed
 * under the key of the subject the hold covers (sealed_for), so that it dies
 * with them (schema 9). */
static void reason_ad(const char *hold_id, char *ad, size_t size)
{
	snprintf(ad, size, "hold-reason:%s", hold_id);
}

/* Seals h->reason under key into h->sealed, for subject `owner`. */
static void reason_seal(struct store_hold *h, const char *owner, const struct subject_key *key)
{
	char ad[64];
	size_t len = strlen(h->reason);
	reason_ad(h->id, ad, sizeof ad);
	free(h->sealed);
	h->sealed_len = len + VAULT_SEAL_OVERHEAD;
	h->sealed = xmalloc(h->sealed_len);
	vault_seal(key, ad, h->reason, len, h->sealed);
	snprintf(h->sealed_for, sizeof h->sealed_for, "%s", owner);
}

/* Writes h's reason sealed (insert, or the seal of an existing row): the
 * store gets "" as the reason. */
static enum rc reason_save(const struct core_ctx *c, const struct store_hold *h, bool insert)
{
	struct store_hold w = *h;
	if (w.sealed)
		w.reason = "";
	return insert ? store_hold_insert(c->store, c->tenant->id, &w) : store_hold_seal(c->store, c->tenant->id, &w);
}

/* Opens h's sealed reason in place; a subject erased since leaves "erased".
 * *opened (if given) says whether the reason is the person's words, opened
 * under the key of h->sealed_for. */
static enum rc reason_open(const struct core_ctx *c, struct store_hold *h, bool *opened)
{
	if (opened)
		*opened = false;
	if (!h->sealed)
		return RC_OK;
	struct subject_key key;
	struct buf plain;
	char ad[64];
	buf_init(&plain, HOLD_REASON_MAX + 1);
	enum rc rc = datakey_unwrap(c, h->sealed_for, &key, NULL);
	if (!rc) {
		reason_ad(h->id, ad, sizeof ad);
		rc = vault_open(&key, ad, h->sealed, h->sealed_len, &plain);
		vault_subject_key_wipe(&key);
	}
	free(h->reason);
	if (!rc) {
		h->reason = xstrndup(plain.data, plain.len);
		if (opened)
			*opened = true;
	} else if (rc == RC_GONE || rc == RC_NOT_FOUND || rc == RC_CRYPTO) {
		h->reason = xstrdup(HOLD_REASON_ERASED);
		rc = RC_OK;
	} else {
		h->reason = xstrdup("");
	}
	buf_fini(&plain);
	free(h->sealed);
	h->sealed = NULL;
	h->sealed_len = 0;
	return rc;
}

enum rc hold_create(const struct core_ctx *c, const struct hold_input *in, struct store_hold *out,
                    struct errbuf *eb)
{
	memset(out, 0, sizeof *out);
	bool on_subject = in->subject_id && *in->subject_id, on_record = in->record_id && *in->record_id;
	if (on_subject == on_record)
		return err_set(eb, RC_UNPROCESSABLE, "a hold is on a subject_id or on a record_id");
	if (!in->reason || !*in->reason || strlen(in->reason) > HOLD_REASON_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "a hold needs its reason (at most %d characters)", HOLD_REASON_MAX);
	if (field_text_check("reason", in->reason, eb))
		return RC_UNPROCESSABLE;
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
	struct subject_key key;
	rc = datakey_unwrap(c, subject, &key, NULL);
	if (!rc)
		reason_seal(out, subject, &key);
	vault_subject_key_wipe(&key);
	if (rc == RC_GONE)
		rc = RC_OK; /* no key to seal under: nothing of the person is left to tie it to */
	char detail[96];
	snprintf(detail, sizeof detail, "hold=%s forbid_disclosure=%d", out->id, in->forbid_disclosure);
	struct audit_event ev = {"hold.create", subject, on_record ? in->record_id : NULL, "ok", detail};
	if (!rc)
		rc = store_begin(c->store);
	if (!rc) {
		rc = reason_save(c, out, true);
		if (!rc)
			rc = audit_append(c, &ev);
		rc = core_end(c, rc);
	}
	free(out->sealed); /* the caller gets the reason in the clear */
	out->sealed = NULL;
	out->sealed_len = 0;
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
	enum rc rc = store_holds_active(c->store, c->tenant->id, subject_id, record_id, core_now(c), out, n);
	for (size_t i = 0; !rc && i < *n; i++)
		rc = reason_open(c, &(*out)[i], NULL);
	if (rc) {
		store_holds_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* The subject whose words h's reason shows (opened says it came out of its
 * seal), or "" when it shows nobody's: "erased". A reason from before
 * schema 9 that the tenant's load could not seal yet is in the clear, and
 * still the person's: its subject is the hold's, or its record's. */
static void reason_owner(const struct core_ctx *c, const struct store_hold *h, bool was_sealed, bool opened,
                         char owner[TOKEN_ID_MAX])
{
	owner[0] = '\0';
	if (opened) {
		snprintf(owner, TOKEN_ID_MAX, "%s", h->sealed_for);
	} else if (!was_sealed && strcmp(h->reason, HOLD_REASON_ERASED) && h->subject_id[0]) {
		snprintf(owner, TOKEN_ID_MAX, "%s", h->subject_id);
	} else if (!was_sealed && strcmp(h->reason, HOLD_REASON_ERASED)) {
		struct store_record r = {0};
		if (!store_record_get(c->store, c->tenant->id, h->record_id, &r))
			snprintf(owner, TOKEN_ID_MAX, "%s", r.subject_id);
		store_record_fini(&r);
	}
}

struct shown {
	const char *subject_id;    /* "" for a reason of no subject's */
	const char *record_id;     /* the hold's record, when the subject is unknown */
};

static int by_subject(const void *a, const void *b)
{
	const struct shown *x = a, *y = b;
	int d = strcmp(x->subject_id, y->subject_id);
	return d ? d : strcmp(x->record_id, y->record_id);
}

/* One "hold.read" entry per subject whose words were shown, counting their
 * holds; a reason in the clear whose record has no subject any more is
 * entered under its record. */
static enum rc read_entries(const struct core_ctx *c, struct shown *v, size_t n)
{
	enum rc rc = RC_OK;
	qsort(v, n, sizeof *v, by_subject);
	for (size_t i = 0, k; !rc && i < n; i = k) {
		for (k = i + 1; k < n && !strcmp(v[i].subject_id, v[k].subject_id) &&
		                (v[i].subject_id[0] || !strcmp(v[i].record_id, v[k].record_id)); k++)
			;
		char detail[32];
		snprintf(detail, sizeof detail, "holds=%zu", k - i);
		struct audit_event ev = {"hold.read", v[i].subject_id[0] ? v[i].subject_id : NULL,
		                         v[i].subject_id[0] ? NULL : v[i].record_id, "ok", detail};
		rc = audit_access(c, &ev);
	}
	return rc;
}

enum rc hold_read(const struct core_ctx *c, const char *subject_id, const char *record_id,
                  struct store_hold **out, size_t *n)
{
	/* The auditor's part is the audit log and the policy, not what staff
	 * wrote about a person. */
	bool reasons = !c->role || strcmp(c->role, "auditor");
	enum rc rc = store_holds_active(c->store, c->tenant->id, subject_id, record_id, core_now(c), out, n);
	if (rc)
		return rc;
	char (*owners)[TOKEN_ID_MAX] = xcalloc(*n ? *n : 1, sizeof *owners);
	struct shown *shown = xcalloc(*n ? *n : 1, sizeof *shown);
	size_t nshown = 0;
	for (size_t i = 0; !rc && i < *n; i++) {
		struct store_hold *h = &(*out)[i];
		if (!reasons) {
			free(h->reason);
			free(h->sealed);
			h->reason = NULL;
			h->sealed = NULL;
			h->sealed_len = 0;
			continue;
		}
		bool was_sealed = h->sealed != NULL, opened;
		rc = reason_open(c, h, &opened);
		if (!rc)
			reason_owner(c, h, was_sealed, opened, owners[i]);
		if (!rc && (owners[i][0] || (!was_sealed && strcmp(h->reason, HOLD_REASON_ERASED))))
			shown[nshown++] = (struct shown){owners[i], h->record_id};
	}
	if (!rc)
		rc = read_entries(c, shown, nshown);
	free(shown);
	free(owners);
	if (rc) {
		store_holds_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

enum rc hold_reseal(const struct core_ctx *c, const struct store_hold *v, size_t n, const char *subject_id,
                    const struct subject_key *key)
{
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < n; i++) {
		struct store_hold h = v[i];
		h.reason = v[i].reason;
		h.sealed = NULL;
		reason_seal(&h, subject_id, key);
		rc = reason_save(c, &h, false);
		free(h.sealed);
	}
	return rc;
}

enum rc hold_seal_one(const struct core_ctx *c, const char *id)
{
	struct store_hold h = {0};
	enum rc rc = store_hold_get(c->store, c->tenant->id, id, &h);
	char owner[TOKEN_ID_MAX] = "";
	if (!rc && h.subject_id[0]) {
		snprintf(owner, sizeof owner, "%s", h.subject_id);
	} else if (!rc) {
		struct store_record r = {0};
		if (!store_record_get(c->store, c->tenant->id, h.record_id, &r))
			snprintf(owner, sizeof owner, "%s", r.subject_id);
		store_record_fini(&r);
	}
	struct subject_key key;
	enum rc krc = rc || !owner[0] ? RC_GONE : datakey_unwrap(c, owner, &key, NULL);
	if (!rc && !h.sealed && !krc) {
		reason_seal(&h, owner, &key);
		rc = reason_save(c, &h, false);
	} else if (!rc && !h.sealed && (krc == RC_GONE || krc == RC_NOT_FOUND)) {
		/* The person is gone already: so is what was written about them. */
		free(h.reason);
		h.reason = xstrdup(HOLD_REASON_ERASED);
		rc = reason_save(c, &h, false);
	} else if (!rc && !h.sealed) {
		rc = krc;
	}
	if (!krc)
		vault_subject_key_wipe(&key);
	free(h.reason);
	free(h.key_id);
	free(h.sealed);
	return rc;
}

const struct store_hold *hold_covering(const struct store_hold *v, size_t n, const char *subject_id,
                                       const char *record_id)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i].subject_id, subject_id) || !strcmp(v[i].record_id, record_id))
			return &v[i];
	return NULL;
}
