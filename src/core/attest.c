/*
 * attest: the claims of an attestation, computed from the register (see
 * attest.h). One pass over the audit entries of the period gathers what
 * several claims check (addresses handed to audiences, disclosures,
 * erasures, reads); each claim is then one function that reads like the
 * promise it checks. Everything is allocated in the attestation's arena.
 *
 * Invariant: a claim's evidence holds ids, rule names, times and counts
 * only. Free text staff wrote about a person (a hold's or an extension's
 * reason) stays sealed in the register: the evidence says it was given and
 * names the row that holds it.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/attest.h"
#include "core/audit.h"
#include "core/consent.h"
#include "core/disclosure.h"
#include "core/hold.h"
#include "core/ledger.h"
#include "core/notice.h"
#include "core/policy.h"
#include "core/request.h"
#include "core/retention.h"
#include "store/store.h"

#define DAY 86400
#define PAGE 500

static const char *const claim_names[ATTEST__COUNT] = {
#define X(id, name) [ATTEST_##id] = name,
	ATTEST_CLAIMS(X)
#undef X
};

/* ---- building the evidence ---- */

static void *grow(struct arena *a, void *v, size_t n, size_t *alloc, size_t elem)
{
	if (n < *alloc)
		return v;
	size_t next = *alloc ? *alloc * 2 : 8;
	void *w = arena_alloc(a, next * elem);
	if (n)
		memcpy(w, v, n * elem);
	*alloc = next;
	return w;
}

static struct attest_fact *fact(struct attestation *a, struct attest_row *r, const char *name, enum attest_kind k)
{
	r->v = grow(&a->arena, r->v, r->n, &r->alloc, sizeof *r->v);
	struct attest_fact *f = &r->v[r->n++];
	f->name = name;
	f->kind = k;
	return f;
}

static void put_str(struct attestation *a, struct attest_row *r, const char *name, const char *s)
{
	fact(a, r, name, ATTEST_STR)->s = arena_strdup(&a->arena, s ? s : "");
}

static void put_int(struct attestation *a, struct attest_row *r, const char *name, int64_t i)
{
	fact(a, r, name, ATTEST_INT)->i = i;
}

static void put_bool(struct attestation *a, struct attest_row *r, const char *name, bool b)
{
	fact(a, r, name, ATTEST_BOOL)->i = b;
}

static void put_time(struct attestation *a, struct attest_row *r, const char *name, int64_t t)
{
	fact(a, r, name, ATTEST_TIME)->i = t;
}

static struct attest_list *list(struct attestation *a, struct attest_claim *c, const char *name)
{
	c->lists = grow(&a->arena, c->lists, c->nlists, &c->alloc, sizeof *c->lists);
	struct attest_list *l = &c->lists[c->nlists++];
	l->name = name;
	return l;
}

/* The next row of l, counted; NULL past ATTEST_LIST_MAX (counted all the same). */
static struct attest_row *row(struct attestation *a, struct attest_list *l)
{
	l->total++;
	if (l->n >= ATTEST_LIST_MAX)
		return NULL;
	l->rows = grow(&a->arena, l->rows, l->n, &l->alloc, sizeof *l->rows);
	return &l->rows[l->n++];
}

static int64_t days_between(int64_t from, int64_t to)
{
	return to > from ? (to - from + DAY - 1) / DAY : 0;
}

/* ---- the audit entries of the period ---- */

struct seen {
	char subject[TOKEN_ID_MAX], record[TOKEN_ID_MAX];
	char *action, *detail;
	int64_t at;
};

struct period_log {
	struct seen *audience, *disclosures, *erasures;
	size_t naudience, ndisclosures, nerasures;
	size_t aaudience, adisclosures, aerasures;
	int64_t entries, reads;
};

static bool is_erasure(const char *action)
{
	for (int k = 0; k < LEDGER_KIND__COUNT; k++)
		if (!strcmp(action, ledger_kind_name((enum ledger_kind)k)))
			return true;
	return false;
}

/* Reads through the access sink (audit_access): what the register handed out. */
static bool is_read(const char *action)
{
	size_t n = strlen(action);
	return (n > 5 && !strcmp(action + n - 5, ".read")) || !strcmp(action, "subject.lookup") ||
	       !strcmp(action, "consent.audience") || !strcmp(action, "records.list");
}

static void keep_seen(struct seen **v, size_t *n, size_t *alloc, const struct store_audit *e)
{
	if (*n == *alloc) {
		*alloc = *alloc ? *alloc * 2 : 16;
		*v = xrealloc(*v, *alloc * sizeof **v);
	}
	struct seen *s = &(*v)[(*n)++];
	memset(s, 0, sizeof *s);
	snprintf(s->subject, sizeof s->subject, "%s", e->subject_id ? e->subject_id : "");
	snprintf(s->record, sizeof s->record, "%s", e->record_id ? e->record_id : "");
	s->action = xstrdup(e->action);
	s->detail = xstrdup(e->detail ? e->detail : "");
	s->at = e->at;
}

static void seen_free(struct seen *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].action);
		free(v[i].detail);
	}
	free(v);
}

static void period_log_fini(struct period_log *p)
{
	seen_free(p->audience, p->naudience);
	seen_free(p->disclosures, p->ndisclosures);
	seen_free(p->erasures, p->nerasures);
}

static enum rc read_period(const struct core_ctx *c, int64_t from, int64_t to, struct period_log *p)
{
	struct store_audit_filter f = {.since = from, .until = to, .limit = AUDIT_PAGE_MAX};
	size_t n;
	enum rc rc;
	do {
		struct store_audit *v = NULL;
		rc = audit_query(c, &f, &v, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			const struct store_audit *e = &v[i];
			f.after_seq = e->seq;
			if (!strcmp(e->action, "attestation.keep"))
				continue; /* its own keeping is not what it attests */
			p->entries++;
			if (strcmp(e->outcome, "ok"))
				continue;
			if (is_read(e->action))
				p->reads++;
			if (!strcmp(e->action, "consent.audience"))
				keep_seen(&p->audience, &p->naudience, &p->aaudience, e);
			else if (!strcmp(e->action, "disclosure"))
				keep_seen(&p->disclosures, &p->ndisclosures, &p->adisclosures, e);
			else if (is_erasure(e->action))
				keep_seen(&p->erasures, &p->nerasures, &p->aerasures, e);
		}
		store_audits_free(v, n);
	} while (!rc && n == f.limit);
	return rc;
}

/* The value of `key=` in an audit detail ("purpose=x recipient=y"). */
static void detail_value(const char *detail, const char *key, char *out, size_t size)
{
	size_t klen = strlen(key);
	out[0] = '\0';
	for (const char *p = detail; p && *p;) {
		if (!strncmp(p, key, klen) && p[klen] == '=') {
			p += klen + 1;
			size_t len = strcspn(p, " ");
			snprintf(out, size, "%.*s", (int)len, p);
			return;
		}
		p = strchr(p, ' ');
		if (p)
			p++;
	}
}

/* ---- retention ---- */

static enum rc claim_retention(const struct core_ctx *c, struct attestation *a, struct attest_claim *cl)
{
	int64_t now = a->as_of, last = 0;
	enum rc rc = store_sweep_last(c->store, c->tenant->id, &last);
	if (rc == RC_NOT_FOUND)
		rc = RC_OK;
	put_time(a, &cl->facts, "last_sweep", last);
	put_int(a, &cl->facts, "grace_seconds", ATTEST_SWEEP_GRACE);
	struct attest_list *over = list(a, cl, "overdue");
	struct attest_list *held = list(a, cl, "held");
	struct attest_list *restricted = list(a, cl, "restricted");
	struct attest_list *waiting = list(a, cl, "awaiting_sweep");
	struct store_hold *holds = NULL;
	size_t nholds = 0;
	if (!rc)
		rc = hold_active(c, NULL, NULL, &holds, &nholds);
	struct store_due *page = xcalloc(PAGE, sizeof *page), cursor;
	size_t n = PAGE;
	bool first = true;
	while (!rc && n == PAGE) {
		rc = store_records_due(c->store, c->tenant->id, now, false, first ? NULL : &cursor, page, PAGE, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			const struct store_due *d = &page[i];
			const struct store_hold *h = hold_covering(holds, nholds, d->subject_id, d->id);
			struct attest_list *l = h ? held : d->subject_restricted ? restricted
			                      : now - d->at < ATTEST_SWEEP_GRACE ? waiting : over;
			struct attest_row *r = row(a, l);
			if (!r)
				continue;
			put_str(a, r, "record", d->id);
			put_str(a, r, "subject", d->subject_id);
			put_str(a, r, "kind", d->kind);
			put_time(a, r, "due_at", d->at);
			if (h) {
				put_str(a, r, "hold", h->id);
				put_time(a, r, "hold_since", h->created_at);
				put_time(a, r, "hold_until", h->until);
			}
		}
		if (n) {
			cursor = page[n - 1];
			first = false;
		}
	}
	free(page);
	store_holds_free(holds, nholds);
	cl->holds = !rc && over->total == 0;
	return rc;
}

/* ---- requests ---- */

static void request_row(struct attestation *a, struct attest_row *r, const struct store_request *q)
{
	put_str(a, r, "request", q->id);
	put_str(a, r, "type", q->type);
	put_time(a, r, "received_at", q->received_at);
	put_time(a, r, "due_at", q->due_at);
}

static enum rc claim_requests(const struct core_ctx *c, struct attestation *a, struct attest_claim *cl)
{
	struct attest_list *late = list(a, cl, "late");
	struct attest_list *extended = list(a, cl, "extended");
	struct attest_list *open = list(a, cl, "open");
	int64_t answered = 0, received = 0;
	struct store_request_filter f = {.after = "", .limit = PAGE};
	char after[TOKEN_ID_MAX] = "";
	size_t n;
	enum rc rc;
	do {
		struct store_request *v = NULL;
		f.after = after;
		rc = request_list(c, &f, &v, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			const struct store_request *q = &v[i];
			if (q->received_at > a->as_of)
				continue; /* not yet received as of the attestation */
			if (q->received_at >= a->from)
				received++;
			bool done = q->answered_at && q->answered_at <= a->as_of;
			if (done && q->answered_at < a->from)
				continue; /* answered before the period: an earlier attestation's */
			struct attest_row *r;
			if (done)
				answered++;
			if (done && q->answered_at > q->due_at && (r = row(a, late))) {
				request_row(a, r, q);
				put_time(a, r, "answered_at", q->answered_at);
				put_int(a, r, "days_late", days_between(q->due_at, q->answered_at));
			} else if (!done && q->due_at < a->as_of && (r = row(a, late))) {
				request_row(a, r, q);
				put_time(a, r, "answered_at", 0);
				put_int(a, r, "days_late", days_between(q->due_at, a->as_of));
			} else if (!done && q->due_at >= a->as_of && (r = row(a, open))) {
				request_row(a, r, q);
				put_int(a, r, "days_left", (q->due_at - a->as_of) / DAY);
			}
			if (q->extended_at && q->extended_at >= a->from && q->extended_at <= a->as_of &&
			    (r = row(a, extended))) {
				request_row(a, r, q);
				put_time(a, r, "extended_at", q->extended_at);
				/* The reason is sealed under the subject's key: it goes
				 * with them on erasure, so it is named, not copied. */
				put_bool(a, r, "reason_given", q->extension_reason && *q->extension_reason);
			}
		}
		if (n)
			snprintf(after, sizeof after, "%s", v[n - 1].id);
		store_requests_free(v, n);
	} while (!rc && n == PAGE);
	put_int(a, &cl->facts, "received_in_period", received);
	put_int(a, &cl->facts, "answered_in_period", answered);
	cl->holds = !rc && late->total == 0;
	return rc;
}

/* ---- consent ---- */

/* The state of purpose u for a subject at time `at`, replayed from its
 * history as consent_record moves it. */
static enum consent_state state_at(const struct policy_purpose *u, const struct store_consent_event *v, size_t n,
                                   int64_t at)
{
	enum consent_state st = CONSENT_STATE_NONE;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(v[i].purpose, u->name) || v[i].at > at)
			continue;
		if (!strcmp(v[i].action, "granted"))
			st = u->double_opt_in ? CONSENT_STATE_PENDING : CONSENT_STATE_GRANTED;
		else if (!strcmp(v[i].action, "confirmed"))
			st = CONSENT_STATE_GRANTED;
		else if (!strcmp(v[i].action, "withdrawn"))
			st = CONSENT_STATE_WITHDRAWN;
		else if (!strcmp(v[i].action, "objected"))
			st = CONSENT_STATE_OBJECTED;
	}
	return st;
}

static enum rc claim_consent(const struct core_ctx *c, struct attestation *a, struct attest_claim *cl,
                             const struct period_log *p)
{
	struct attest_list *bad = list(a, cl, "without_consent");
	int64_t erased = 0;
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < p->naudience; i++) {
		const struct seen *s = &p->audience[i];
		char purpose[65];
		detail_value(s->detail, "purpose", purpose, sizeof purpose);
		const struct policy_purpose *u = policy_purpose(c->tenant->policy, purpose);
		struct store_consent_event *v = NULL;
		size_t n = 0;
		rc = store_consent_events_for_subject(c->store, c->tenant->id, s->subject, &v, &n);
		enum consent_state st = u ? state_at(u, v, n, s->at) : CONSENT_STATE_UNKNOWN;
		store_consent_events_free(v, n);
		if (rc)
			break;
		if (!n) {
			struct store_subject subj;
			enum rc grc = store_subject_get(c->store, c->tenant->id, s->subject, &subj);
			store_subject_fini(&subj);
			if (grc == RC_NOT_FOUND) {
				erased++; /* the history went with the subject */
				continue;
			}
		}
		if (u && consent_allows(u, st))
			continue;
		struct attest_row *r = row(a, bad);
		if (!r)
			continue;
		put_str(a, r, "subject", s->subject);
		put_str(a, r, "purpose", purpose);
		put_time(a, r, "at", s->at);
		put_str(a, r, "state", consent_state_name(st));
	}
	put_int(a, &cl->facts, "addresses_handed_out", (int64_t)p->naudience);
	put_int(a, &cl->facts, "erased_since", erased);
	cl->holds = !rc && bad->total == 0;
	return rc;
}

/* ---- disclosures ---- */

struct versions {
	struct store_policy_version *v;
	size_t n;
	struct policy **parsed;    /* lazily; NULL where not parsed (or not valid) */
};

static void versions_fini(struct versions *vs)
{
	for (size_t i = 0; vs->parsed && i < vs->n; i++)
		policy_free(vs->parsed[i]);
	free(vs->parsed);
	store_policy_versions_free(vs->v, vs->n);
}

/* The index of the version in force at `at` (the last installed by then), or -1. */
static long version_at(const struct versions *vs, int64_t at)
{
	long k = -1;
	for (size_t i = 0; i < vs->n; i++)
		if (vs->v[i].at <= at)
			k = (long)i;
	return k;
}

static const struct policy *version_policy(struct versions *vs, long k)
{
	if (k < 0)
		return NULL;
	if (!vs->parsed[k] && policy_parse(vs->v[k].source, strlen(vs->v[k].source), &vs->parsed[k], NULL))
		vs->parsed[k] = NULL;
	return vs->parsed[k];
}

static enum rc claim_disclosures(const struct core_ctx *c, struct attestation *a, struct attest_claim *cl,
                                 const struct period_log *p, struct versions *vs)
{
	struct attest_list *bad = list(a, cl, "not_allowed");
	struct attest_list *auth = list(a, cl, "authorities");
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < p->ndisclosures; i++) {
		const struct seen *s = &p->disclosures[i];
		char id[TOKEN_ID_MAX], recipient[65], purpose[65], fields[512];
		detail_value(s->detail, "disclosure", id, sizeof id);
		detail_value(s->detail, "recipient", recipient, sizeof recipient);
		detail_value(s->detail, "purpose", purpose, sizeof purpose);
		detail_value(s->detail, "fields", fields, sizeof fields);
		/* The legal reference is in the disclosure's row. */
		struct store_disclosure *dv = NULL;
		size_t dn = 0;
		rc = store_disclosures_for_subject(c->store, c->tenant->id, s->subject, &dv, &dn);
		const struct store_disclosure *d = NULL;
		for (size_t k = 0; !rc && k < dn; k++)
			if (!strcmp(dv[k].id, id))
				d = &dv[k];
		const char *names[DISCLOSURE_FIELDS_MAX];
		size_t nf = 0;
		for (char *f = fields; *f && nf < DISCLOSURE_FIELDS_MAX;) {
			names[nf++] = f;
			char *comma = strchr(f, ',');
			if (!comma)
				break;
			*comma = '\0';
			f = comma + 1;
		}
		long k = version_at(vs, s->at);
		const struct policy *pol = version_policy(vs, k);
		struct disclosure_input in = {.subject_id = s->subject, .recipient = recipient, .purpose = purpose,
		                              .fields = names, .nfields = nf,
		                              .legal_reference = d ? d->legal_reference : NULL};
		struct errbuf eb = {""};
		enum rc why = pol ? disclosure_allowed(pol, &in, &eb) : RC_NOT_FOUND;
		const struct policy_recipient *pr = pol ? policy_recipient(pol, recipient) : NULL;
		struct attest_row *r;
		if (!rc && why && (r = row(a, bad))) {
			put_str(a, r, "disclosure", id);
			put_str(a, r, "recipient", recipient);
			put_str(a, r, "purpose", purpose);
			put_time(a, r, "at", s->at);
			put_str(a, r, "policy_version", k >= 0 ? vs->v[k].version : "");
			put_str(a, r, "reason", pol ? eb.msg : "no valid policy version was in force");
		}
		if (!rc && pr && pr->role == RECIPIENT_AUTHORITY && (r = row(a, auth))) {
			put_str(a, r, "disclosure", id);
			put_str(a, r, "recipient", recipient);
			put_time(a, r, "at", s->at);
			put_str(a, r, "legal_reference", d && d->legal_reference ? d->legal_reference : "");
		}
		store_disclosures_free(dv, dn);
	}
	put_int(a, &cl->facts, "disclosures_in_period", (int64_t)p->ndisclosures);
	cl->holds = !rc && bad->total == 0;
	return rc;
}

/* ---- access ---- */

static void report_none(void *arg, const char *msg)
{
	(void)msg;
	(*(size_t *)arg)++;
}

static enum rc claim_access(const struct core_ctx *c, struct attestation *a, struct attest_claim *cl,
                            const struct attest_opts *o, const struct period_log *p, struct errbuf *eb)
{
	struct audit_verify_result v;
	enum rc rc = audit_verify(c->store, c->tenant, &v);
	if (rc)
		return rc;
	put_bool(a, &cl->facts, "chain_intact", v.ok);
	if (!v.ok)
		put_int(a, &cl->facts, "first_bad", v.first_bad);
	struct audit_checkpoint cp;
	bool found = false;
	size_t problems = 0;
	if (o->checkpoints)
		rc = audit_checkpoint_latest(c->tenant, o->checkpoints, a->as_of, &cp, &found, eb);
	if (!rc && found) {
		char hex[STORE_AUDIT_HASH_LEN * 2 + 1];
		sodium_bin2hex(hex, sizeof hex, cp.hash, sizeof cp.hash);
		put_int(a, &cl->facts, "checkpoint_seq", cp.seq);
		put_str(a, &cl->facts, "checkpoint_hash", hex);
		put_time(a, &cl->facts, "checkpoint_at", cp.at);
		struct audit_checkpoint_result res;
		rc = audit_verify_checkpoints(c->store, c->tenant, o->checkpoints, report_none, &problems, &res, eb);
	} else if (!rc) {
		put_str(a, &cl->facts, "checkpoint", "none: run `privreg audit checkpoint` or serve with --checkpoint-every");
	}
	put_int(a, &cl->facts, "checkpoint_problems", (int64_t)problems);
	put_int(a, &cl->facts, "entries_in_period", p->entries);
	put_int(a, &cl->facts, "reads_in_period", p->reads);
	cl->holds = !rc && v.ok && found && !problems;
	return rc;
}

/* ---- erasure ---- */

static enum rc claim_erasure(const struct core_ctx *c, struct attestation *a, struct attest_claim *cl,
                             const struct period_log *p)
{
	struct attest_list *missing = list(a, cl, "not_in_ledger");
	struct ledger_entry *v = NULL;
	size_t n = 0;
	int64_t last = 0;
	struct errbuf leb = {""};
	enum rc lrc = c->tenant->ledger ? ledger_read(c->tenant, 0, &v, &n, &last, &leb) : RC_NOT_FOUND;
	put_bool(a, &cl->facts, "ledger_intact", !lrc);
	if (lrc && lrc != RC_NOT_FOUND)
		put_str(a, &cl->facts, "ledger_problem", leb.msg);
	int64_t upto = 0;
	for (size_t k = 0; k < n; k++)
		upto += v[k].at <= a->as_of;
	put_int(a, &cl->facts, "ledger_entries", upto);
	for (size_t i = 0; i < p->nerasures; i++) {
		const struct seen *s = &p->erasures[i];
		bool whole = !strncmp(s->action, "subject.", 8);
		bool in = false;
		for (size_t k = 0; k < n && !in; k++)
			in = !strcmp(ledger_kind_name(v[k].kind), s->action) && !strcmp(v[k].subject, s->subject) &&
			     (whole || !strcmp(v[k].record, s->record));
		struct attest_row *r;
		if (!in && (r = row(a, missing))) {
			put_str(a, r, "action", s->action);
			put_str(a, r, "subject", s->subject);
			put_str(a, r, "record", s->record);
			put_time(a, r, "at", s->at);
		}
	}
	free(v);
	put_int(a, &cl->facts, "erasures_in_period", (int64_t)p->nerasures);
	/* Epochs: a copy taken while epoch N was current reads while N's key
	 * is kept; the oldest kept one bounds what a backup can bring back. */
	const struct vault *vt = &c->tenant->vault;
	struct attest_list *kept = list(a, cl, "epochs_kept");
	struct attest_list *gone = list(a, cl, "epochs_destroyed");
	put_int(a, &cl->facts, "current_epoch", vt->epoch);
	for (size_t i = 0; i < vt->nepochs; i++) {
		struct attest_row *r = row(a, kept);
		if (r) {
			put_int(a, r, "epoch", vt->epochs[i].number);
			put_time(a, r, "created", vt->epochs[i].created);
		}
	}
	uint32_t oldest = vt->nepochs ? vt->epochs[0].number : vt->epoch;
	for (uint32_t e = 0; e < oldest; e++) {
		struct attest_row *r = row(a, gone);
		if (r)
			put_int(a, r, "epoch", e);
	}
	put_int(a, &cl->facts, "oldest_readable_epoch", oldest);
	/* Epoch 0's time is not recorded: then every copy since the register
	 * began still reads. */
	put_time(a, &cl->facts, "oldest_readable_backup_since", vt->nepochs ? vt->epochs[0].created : 0);
	cl->holds = !lrc && missing->total == 0;
	return RC_OK;
}

/* ---- policy ---- */

static enum rc claim_policy(struct attestation *a, struct attest_claim *cl, struct versions *vs)
{
	struct attest_list *in_force = list(a, cl, "versions");
	bool ok = vs->n > 0;
	for (size_t i = 0; i < vs->n; i++) {
		bool until_after_from = i + 1 == vs->n || vs->v[i + 1].at > a->from;
		if (vs->v[i].at > a->as_of || !until_after_from)
			continue;
		struct attest_row *r = row(a, in_force);
		const struct policy *p = version_policy(vs, (long)i);
		if (!p)
			ok = false;
		if (!r)
			continue;
		put_str(a, r, "version", vs->v[i].version);
		put_time(a, r, "installed_at", vs->v[i].at);
		put_time(a, r, "replaced_at", i + 1 < vs->n && vs->v[i + 1].at <= a->as_of ? vs->v[i + 1].at : 0);
		for (size_t l = 0; p && l < p->nlanguages; l++) {
			struct buf b;
			struct errbuf eb = {""};
			buf_init(&b, 1024 * 1024);
			unsigned char h[crypto_hash_sha256_BYTES];
			char hex[sizeof h * 2 + 1], *name;
			if (notice_render(p, p->languages[l], NOTICE_HTML, &b, &eb)) {
				ok = false;
			} else {
				crypto_hash_sha256(h, (const unsigned char *)b.data, b.len);
				sodium_bin2hex(hex, sizeof hex, h, sizeof h);
				name = arena_alloc(&a->arena, 32);
				snprintf(name, 32, "notice_sha256_%s", p->languages[l]);
				put_str(a, r, name, hex);
			}
			buf_fini(&b);
		}
	}
	int64_t installed = 0;
	for (size_t i = 0; i < vs->n; i++)
		installed += vs->v[i].at <= a->as_of;
	put_int(a, &cl->facts, "versions_installed", installed);
	cl->holds = ok && in_force->total > 0;
	return RC_OK;
}

/* ---- the whole ---- */

static enum rc period_start(const struct core_ctx *c, const struct attest_opts *o, int64_t *from)
{
	if (o->from) {
		*from = o->from;
		return RC_OK;
	}
	char *doc = NULL;
	enum rc rc = store_attestation_latest(c->store, c->tenant->id, from, &doc);
	free(doc);
	if (rc != RC_NOT_FOUND)
		return rc;
	struct store_tenant t = {0};
	rc = store_tenant_find(c->store, c->tenant->name, &t);
	*from = t.created_at;
	store_tenant_fini(&t);
	return rc;
}

enum rc attest_make(const struct core_ctx *c, const struct attest_opts *o, struct attestation *out,
                    struct errbuf *eb)
{
	memset(out, 0, sizeof *out);
	arena_init(&out->arena);
	out->tenant = arena_strdup(&out->arena, c->tenant->name);
	out->as_of = core_now(c);
	for (int i = 0; i < ATTEST__COUNT; i++)
		out->claims[i].name = claim_names[i];
	struct period_log p = {0};
	struct versions vs = {0};
	enum rc rc = period_start(c, o, &out->from);
	if (!rc && out->from > out->as_of)
		rc = err_set(eb, RC_UNPROCESSABLE, "the period would start after its end");
	if (!rc)
		rc = store_policy_versions(c->store, c->tenant->id, &vs.v, &vs.n);
	if (!rc) {
		vs.parsed = xcalloc(vs.n ? vs.n : 1, sizeof *vs.parsed);
		rc = read_period(c, out->from, out->as_of, &p);
	}
	if (!rc)
		rc = claim_retention(c, out, &out->claims[ATTEST_RETENTION]);
	if (!rc)
		rc = claim_requests(c, out, &out->claims[ATTEST_REQUESTS]);
	if (!rc)
		rc = claim_consent(c, out, &out->claims[ATTEST_CONSENT], &p);
	if (!rc)
		rc = claim_disclosures(c, out, &out->claims[ATTEST_DISCLOSURES], &p, &vs);
	if (!rc)
		rc = claim_access(c, out, &out->claims[ATTEST_ACCESS], o, &p, eb);
	if (!rc)
		rc = claim_erasure(c, out, &out->claims[ATTEST_ERASURE], &p);
	if (!rc)
		rc = claim_policy(out, &out->claims[ATTEST_POLICY], &vs);
	period_log_fini(&p);
	versions_fini(&vs);
	if (rc)
		attest_fini(out);
	return rc;
}

void attest_fini(struct attestation *a)
{
	arena_fini(&a->arena);
	memset(a, 0, sizeof *a);
}

enum rc attest_keep(const struct core_ctx *c, const struct attestation *a, const char *document)
{
	char detail[96];
	size_t held = 0;
	for (int i = 0; i < ATTEST__COUNT; i++)
		held += a->claims[i].holds;
	snprintf(detail, sizeof detail, "claims=%d holding=%zu", ATTEST__COUNT, held);
	struct audit_event ev = {"attestation.keep", NULL, NULL, "ok", detail};
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_attestation_insert(c->store, c->tenant->id, a->as_of, a->from, document);
	if (!rc)
		rc = audit_append(c, &ev);
	return core_end(c, rc);
}

enum rc attest_latest(const struct core_ctx *c, char **document, int64_t *as_of)
{
	return store_attestation_latest(c->store, c->tenant->id, as_of, document);
}
