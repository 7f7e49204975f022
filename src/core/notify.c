/* notify: systems and recipients told of changes (see notify.h). */
#include "core/notify.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/xalloc.h"
#include "core/datakey.h"
#include "core/disclosure.h"
#include "core/ledger.h"
#include "core/consent.h"
#include "core/mail.h"
#include "core/subject.h"

static const char *const event_names[] = {
#define X(id, name) name,
	NOTIFY_EVENTS(X)
#undef X
};

/* The associated data of a sealed webhook: the tenant's, not a subject's. */
#define SEAL_AD "notify:tenant"

const char *notify_event_name(enum notify_event e)
{
	return e < NOTIFY_EVENT__COUNT ? event_names[e] : "";
}

static bool listed(char **v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(v[i], s))
			return true;
	return false;
}

enum rc notify_snapshot(const struct core_ctx *c, const char *subject_id, struct notify_snapshot *out)
{
	memset(out, 0, sizeof *out);
	const struct policy *p = c->tenant->policy;
	if (!p->nsystems && !p->nrecipients)
		return RC_OK;
	struct store_record *r = NULL;
	size_t nr = 0;
	enum rc rc = store_records_for_subject(c->store, c->tenant->id, subject_id, &r, &nr);
	if (rc == RC_NOT_FOUND)
		rc = RC_OK;
	if (!rc && nr)
		out->kinds = xcalloc(nr, sizeof *out->kinds);
	for (size_t i = 0; !rc && i < nr; i++)
		if (!listed(out->kinds, out->nkinds, r[i].kind))
			out->kinds[out->nkinds++] = xstrdup(r[i].kind);
	store_records_free(r, nr);
	struct store_disclosure *d = NULL;
	size_t nd = 0;
	if (!rc)
		rc = store_disclosures_for_subject(c->store, c->tenant->id, subject_id, &d, &nd);
	if (rc == RC_NOT_FOUND)
		rc = RC_OK;
	if (!rc && nd)
		out->recipients = xcalloc(nd, sizeof *out->recipients);
	for (size_t i = 0; !rc && i < nd; i++)
		if (!listed(out->recipients, out->nrecipients, d[i].recipient))
			out->recipients[out->nrecipients++] = xstrdup(d[i].recipient);
	store_disclosures_free(d, nd);
	if (rc)
		notify_snapshot_fini(out);
	return rc;
}

void notify_snapshot_fini(struct notify_snapshot *s)
{
	for (size_t i = 0; i < s->nkinds; i++)
		free(s->kinds[i]);
	for (size_t i = 0; i < s->nrecipients; i++)
		free(s->recipients[i]);
	free(s->kinds);
	free(s->recipients);
	memset(s, 0, sizeof *s);
}

/* A rectified value as JSON: the API's own literal for numbers, booleans
 * and JSON, a string escaped. */
static enum rc value_json(struct buf *b, const struct field_value *v)
{
	switch (v->kind) {
	case VAL_NULL:
		return buf_puts(b, "null");
	case VAL_STRING:
		return buf_json_string(b, v->text, v->len);
	default:
		return buf_append(b, v->text, v->len);
	}
}

/* Whom one change reaches and with what: the kinds it holds of the
 * subject's, and (a rectification) which of the new values. */
struct target {
	const char *name;
	const struct policy_notify *how;
	const char **kinds;
	size_t nkinds;
	const struct field_input **fields;
	size_t nfields;
};

static enum rc body_of(const struct core_ctx *c, const struct notify_change *ch, const struct target *t,
                       struct buf *b)
{
	char when[32];
	time_t now = (time_t)core_now(c);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	enum rc rc = buf_printf(b, "{\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":{\"tenant\":", notify_event_name(ch->event),
	                        when);
	if (!rc)
		rc = buf_json_string(b, c->tenant->name, strlen(c->tenant->name));
	if (!rc)
		rc = buf_printf(b, ",\"subject_id\":\"%s\",\"request_id\":", ch->subject_id);
	if (!rc)
		rc = ch->request_id ? buf_printf(b, "\"%s\"", ch->request_id) : buf_puts(b, "null");
	if (!rc)
		rc = buf_puts(b, ",\"kinds\":[");
	for (size_t i = 0; !rc && i < t->nkinds; i++) {
		if (i)
			rc = buf_puts(b, ",");
		if (!rc)
			rc = buf_json_string(b, t->kinds[i], strlen(t->kinds[i]));
	}
	if (!rc)
		rc = buf_puts(b, "]");
	if (!rc && ch->event == NOTIFY_RECTIFIED) {
		rc = buf_puts(b, ",\"fields\":{");
		for (size_t i = 0; !rc && i < t->nfields; i++) {
			if (i)
				rc = buf_puts(b, ",");
			if (!rc)
				rc = buf_json_string(b, t->fields[i]->name, strlen(t->fields[i]->name));
			if (!rc)
				rc = buf_puts(b, ":");
			if (!rc)
				rc = value_json(b, &t->fields[i]->value);
		}
		if (!rc)
			rc = buf_puts(b, "}");
	}
	if (!rc && ch->purpose && (ch->event == NOTIFY_CONSENT_WITHDRAWN || ch->event == NOTIFY_OBJECTED)) {
		rc = buf_puts(b, ",\"purpose\":");
		if (!rc)
			rc = buf_json_string(b, ch->purpose, strlen(ch->purpose));
	}
	return rc ? rc : buf_puts(b, "}}");
}

/* The body of an event's webhook, written by `body` into the buffer. */
typedef enum rc body_writer(const struct core_ctx *c, const void *arg, struct buf *b);

struct change_body {
	const struct notify_change *ch;
	const struct target *t;
};

static enum rc change_body(const struct core_ctx *c, const void *arg, struct buf *b)
{
	const struct change_body *cb = arg;
	return body_of(c, cb->ch, cb->t, b);
}

/* Sealed form of a webhook: URL, newline, event id, newline, body. */
static enum rc queue_sealed(const struct core_ctx *c, const struct target *t, enum notify_event event,
                            const char *subject_id, const char *request_id, body_writer *body, const void *arg)
{
	struct buf msg;
	buf_init(&msg, NOTIFY_BODY_MAX + POLICY_URL_MAX + TOKEN_ID_MAX + 2);
	char id[TOKEN_ID_MAX];
	token_id_new("evt_", id);
	enum rc rc = buf_printf(&msg, "%s\n%s\n", t->how->webhook, id);
	if (!rc)
		rc = body(c, arg, &msg);
	if (!rc) {
		struct store_message m = {.kind = NOTIFY_KIND_WEBHOOK, .created_at = core_now(c), .next_at = core_now(c),
		                          .target = (char *)t->name, .event = (char *)notify_event_name(event)};
		memcpy(m.subject_id, subject_id, strnlen(subject_id, TOKEN_ID_MAX - 1) + 1);
		if (request_id)
			snprintf(m.request_id, sizeof m.request_id, "%s", request_id);
		struct subject_key key;
		memcpy(key.k, c->tenant->vault.token_key, sizeof key.k);
		m.sealed_len = msg.len + VAULT_SEAL_OVERHEAD;
		m.sealed = xmalloc(m.sealed_len);
		vault_seal(&key, SEAL_AD, msg.data, msg.len, m.sealed);
		vault_subject_key_wipe(&key);
		rc = store_outbox_insert(c->store, c->tenant->id, &m);
		free(m.sealed);
	}
	buf_fini(&msg);
	return rc;
}

static enum rc queue_webhook(const struct core_ctx *c, const struct notify_change *ch, const struct target *t)
{
	struct change_body cb = {ch, t};
	return queue_sealed(c, t, ch->event, ch->subject_id, ch->request_id, change_body, &cb);
}

/* A recipient told by e-mail: what changed in words, never a value. */
static enum rc queue_mail(const struct core_ctx *c, const struct notify_change *ch, const struct target *t)
{
	struct buf what;
	buf_init(&what, 4096);
	enum rc rc = buf_puts(&what, "record kinds ");
	for (size_t i = 0; !rc && i < t->nkinds; i++)
		rc = buf_printf(&what, "%s%s", i ? ", " : "", t->kinds[i]);
	if (!rc && !t->nkinds)
		rc = buf_puts(&what, "(none)");
	for (size_t i = 0; !rc && i < t->nfields; i++)
		rc = buf_printf(&what, "%s%s", i ? ", " : "; fields corrected (ask us for the new values): ",
		                t->fields[i]->name);
	if (!rc && ch->purpose)
		rc = buf_printf(&what, "; purpose %s", ch->purpose);
	if (!rc && ch->request_id)
		rc = buf_printf(&what, "; our request %s", ch->request_id);
	if (!rc) {
		struct mail_args a = {.kind = MAIL_RECIPIENT_NOTICE, .to = t->how->email, .lang = "en", .text = what.data,
		                      .request_id = ch->request_id, .target = t->name,
		                      .event = notify_event_name(ch->event)};
		rc = mail_queue(c, ch->subject_id, NULL, &a);
	}
	buf_fini(&what);
	return rc;
}

static enum rc tell(const struct core_ctx *c, const struct notify_change *ch, const struct target *t, size_t *n)
{
	/* A rectification reaches only those holding a rectified field. */
	if (ch->event == NOTIFY_RECTIFIED && !t->nfields)
		return RC_OK;
	(*n)++;
	return t->how->webhook ? queue_webhook(c, ch, t) : queue_mail(c, ch, t);
}

enum rc notify_queue(const struct core_ctx *c, const struct notify_change *ch, const struct notify_snapshot *before,
                     size_t *n)
{
	const struct policy *p = c->tenant->policy;
	*n = 0;
	const char **kinds = before->nkinds ? xcalloc(before->nkinds, sizeof *kinds) : NULL;
	const struct field_input **fields = ch->nfields ? xcalloc(ch->nfields, sizeof *fields) : NULL;
	const struct policy_record *rk = ch->record_kind ? policy_record(p, ch->record_kind) : NULL;
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < p->nsystems; i++) {
		const struct policy_system *y = &p->systems[i];
		struct target t = {.name = y->name, .how = &y->notify, .kinds = kinds, .fields = fields};
		for (size_t k = 0; k < before->nkinds; k++) {
			const struct policy_record *r = policy_record(p, before->kinds[k]);
			bool holds = false;
			for (size_t j = 0; r && j < y->nrecords && !holds; j++)
				holds = y->records[j] == r;
			for (size_t j = 0; r && j < y->nfields && !holds; j++)
				holds = policy_record_has_field(r, y->fields[j]);
			if (holds)
				kinds[t.nkinds++] = before->kinds[k];
		}
		if (!t.nkinds)
			continue; /* holds nothing of this subject's */
		for (size_t j = 0; j < ch->nfields; j++) {
			const struct policy_field *f = policy_field(p, ch->fields[j].name);
			if (f && policy_system_holds(y, rk, f))
				fields[t.nfields++] = &ch->fields[j];
		}
		rc = tell(c, ch, &t, n);
	}
	for (size_t i = 0; !rc && i < before->nrecipients; i++) {
		const struct policy_recipient *r = policy_recipient(p, before->recipients[i]);
		if (!r || (!r->notify.webhook && !r->notify.email))
			continue;
		struct target t = {.name = r->name, .how = &r->notify, .kinds = kinds, .fields = fields};
		for (size_t k = 0; k < before->nkinds; k++)
			kinds[t.nkinds++] = before->kinds[k];
		for (size_t j = 0; j < ch->nfields; j++)
			for (size_t q = 0; q < r->nfields; q++)
				if (!strcmp(r->fields[q]->name, ch->fields[j].name))
					fields[t.nfields++] = &ch->fields[j];
		rc = tell(c, ch, &t, n);
	}
	free(kinds);
	free(fields);
	return rc;
}

enum rc notify_subject_restricted(const struct core_ctx *c, const char *subject_id, bool restricted,
                                  struct errbuf *eb)
{
	struct notify_snapshot before = {0};
	size_t n = 0;
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = notify_snapshot(c, subject_id, &before);
	if (!rc)
		rc = subject_set_restricted(c, subject_id, restricted, eb);
	struct notify_change ch = {.event = restricted ? NOTIFY_RESTRICTED : NOTIFY_RESTRICTION_LIFTED,
	                           .subject_id = subject_id};
	if (!rc)
		rc = notify_queue(c, &ch, &before, &n);
	notify_snapshot_fini(&before);
	return core_end(c, rc);
}

enum rc notify_consent_record(const struct core_ctx *c, const char *subject_id, const char *purpose,
                              enum consent_action a, const struct consent_evidence *ev, char state[16],
                              struct errbuf *eb)
{
	bool tells = a == CONSENT_WITHDRAW || a == CONSENT_OBJECT;
	struct notify_snapshot before = {0};
	size_t n = 0;
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	if (tells)
		rc = notify_snapshot(c, subject_id, &before);
	if (!rc)
		rc = consent_record(c, subject_id, purpose, a, ev, state, eb);
	struct notify_change ch = {.event = a == CONSENT_OBJECT ? NOTIFY_OBJECTED : NOTIFY_CONSENT_WITHDRAWN,
	                           .subject_id = subject_id, .purpose = purpose};
	if (!rc && tells)
		rc = notify_queue(c, &ch, &before, &n);
	notify_snapshot_fini(&before);
	return core_end(c, rc);
}

enum rc notify_subject_delete(const struct core_ctx *c, const char *subject_id, struct errbuf *eb)
{
	struct notify_snapshot before = {0};
	size_t n = 0;
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = notify_snapshot(c, subject_id, &before);
	if (!rc)
		rc = subject_delete(c, subject_id, eb);
	struct notify_change ch = {.event = NOTIFY_ERASED, .subject_id = subject_id};
	if (!rc)
		rc = notify_queue(c, &ch, &before, &n);
	notify_snapshot_fini(&before);
	rc = core_end(c, rc);
	/* subject_delete's own end was an inner one: the ledger settles here. */
	ledger_settle(c, rc);
	return rc;
}

enum rc notify_record_rectify(const struct core_ctx *c, const char *record_id, const struct field_input *changes,
                              size_t nchanges, const struct event_input *events, size_t nevents,
                              struct errbuf *eb)
{
	struct notify_snapshot before = {0};
	struct store_record row = {0};
	bool have = false;
	size_t n = 0;
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	/* Not found: record_rectify says so in its own words. */
	rc = store_record_get(c->store, c->tenant->id, record_id, &row);
	have = !rc;
	if (rc == RC_NOT_FOUND)
		rc = RC_OK;
	bool tells = have && nchanges && row.subject_id[0];
	if (!rc && tells)
		rc = notify_snapshot(c, row.subject_id, &before);
	if (!rc)
		rc = record_rectify(c, record_id, changes, nchanges, events, nevents, eb);
	struct notify_change ch = {.event = NOTIFY_RECTIFIED, .subject_id = row.subject_id, .record_kind = row.kind,
	                           .fields = changes, .nfields = nchanges};
	if (!rc && tells)
		rc = notify_queue(c, &ch, &before, &n);
	notify_snapshot_fini(&before);
	if (have)
		store_record_fini(&row);
	return core_end(c, rc);
}

enum rc notify_consent_by_link(const struct core_ctx *c, const struct token_link *l, bool gpc, const char *ip,
                               char state[16], struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	bool tells = l->kind == 'u' || (l->kind == 'c' && gpc);
	struct notify_snapshot before = {0};
	size_t n = 0;
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	if (tells)
		rc = notify_snapshot(c, l->subject_id, &before);
	if (!rc)
		rc = consent_by_link(c, l, gpc, ip, state, eb);
	if (!rc && l->kind == 'u') {
		/* consent_by_link found the purpose: a withdrawal where consent is
		 * the basis, an objection elsewhere. */
		const struct policy_purpose *u = policy_purpose(p, l->purpose);
		struct notify_change ch = {.event = u->basis == BASIS_CONSENT ? NOTIFY_CONSENT_WITHDRAWN : NOTIFY_OBJECTED,
		                           .subject_id = l->subject_id, .purpose = u->name};
		rc = notify_queue(c, &ch, &before, &n);
	} else if (!rc && tells) {
		/* Global Privacy Control: consent_by_link objected to each purpose
		 * with a marketing channel. */
		for (size_t i = 0; !rc && i < p->npurposes; i++) {
			struct notify_change ch = {.event = NOTIFY_OBJECTED, .subject_id = l->subject_id,
			                           .purpose = p->purposes[i].name};
			if (p->purposes[i].channel != CHANNEL_NONE)
				rc = notify_queue(c, &ch, &before, &n);
		}
	}
	notify_snapshot_fini(&before);
	return core_end(c, rc);
}

/* ---- the retention sweep's deletions and anonymisations ---- */

bool notify_expiry_wanted(const struct policy *p)
{
	if (p->nsystems)
		return true;
	for (size_t i = 0; i < p->nrecipients; i++)
		if (p->recipients[i].notify.webhook || p->recipients[i].notify.email)
			return true;
	return false;
}

static bool recipients_notified(const struct policy *p)
{
	for (size_t i = 0; i < p->nrecipients; i++)
		if (p->recipients[i].notify.webhook || p->recipients[i].notify.email)
			return true;
	return false;
}

enum rc notify_expiry_add(const struct core_ctx *c, struct notify_expiry *e, const char *subject_id,
                          const char *record_id, const char *kind, bool anonymized)
{
	const struct policy *p = c->tenant->policy;
	if (e->n == e->cap) {
		e->cap = e->cap ? 2 * e->cap : 64;
		e->v = xrealloc(e->v, e->cap * sizeof *e->v);
	}
	struct notify_expired *x = &e->v[e->n];
	memset(x, 0, sizeof *x);
	snprintf(x->record_id, sizeof x->record_id, "%s", record_id);
	snprintf(x->subject_id, sizeof x->subject_id, "%s", subject_id);
	snprintf(x->kind, sizeof x->kind, "%s", kind);
	x->anonymized = anonymized;
	enum rc rc = RC_OK;
	if (recipients_notified(p)) {
		/* The same subject earlier in this batch: its recipients again. */
		for (size_t i = e->n; i-- > 0;)
			if (!strcmp(e->v[i].subject_id, subject_id)) {
				x->recipients = e->v[i].nrecipients ? xcalloc(e->v[i].nrecipients, sizeof *x->recipients) : NULL;
				for (size_t k = 0; k < e->v[i].nrecipients; k++)
					x->recipients[x->nrecipients++] = xstrdup(e->v[i].recipients[k]);
				e->n++;
				return RC_OK;
			}
		struct store_disclosure *d = NULL;
		size_t nd = 0;
		rc = store_disclosures_for_subject(c->store, c->tenant->id, subject_id, &d, &nd);
		if (rc == RC_NOT_FOUND)
			rc = RC_OK;
		if (!rc && nd)
			x->recipients = xcalloc(nd, sizeof *x->recipients);
		for (size_t i = 0; !rc && i < nd; i++) {
			const struct policy_recipient *r = policy_recipient(p, d[i].recipient);
			if (r && (r->notify.webhook || r->notify.email) && !listed(x->recipients, x->nrecipients, r->name))
				x->recipients[x->nrecipients++] = xstrdup(r->name);
		}
		store_disclosures_free(d, nd);
	}
	if (!rc)
		e->n++;
	else {
		for (size_t k = 0; k < x->nrecipients; k++)
			free(x->recipients[k]);
		free(x->recipients);
	}
	return rc;
}

static void expired_fini(struct notify_expired *x)
{
	for (size_t k = 0; k < x->nrecipients; k++)
		free(x->recipients[k]);
	free(x->recipients);
	memset(x, 0, sizeof *x);
}

void notify_expiry_unadd(struct notify_expiry *e)
{
	if (e->n)
		expired_fini(&e->v[--e->n]);
}

/* The records of one event: pointers into a batch. */
struct expired_list {
	const struct notify_expired **v;
	size_t n;
};

static enum rc expired_body(const struct core_ctx *c, const void *arg, struct buf *b)
{
	const struct expired_list *l = arg;
	char when[32];
	time_t now = (time_t)core_now(c);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
	enum rc rc = buf_printf(b, "{\"type\":\"%s\",\"timestamp\":\"%s\",\"data\":{\"tenant\":",
	                        notify_event_name(NOTIFY_EXPIRED), when);
	if (!rc)
		rc = buf_json_string(b, c->tenant->name, strlen(c->tenant->name));
	if (!rc)
		rc = buf_puts(b, ",\"request_id\":null,\"kinds\":[");
	for (size_t i = 0, nk = 0; !rc && i < l->n; i++) {
		bool seen = false;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(l->v[j]->kind, l->v[i]->kind);
		if (!seen && nk++)
			rc = buf_puts(b, ",");
		if (!rc && !seen)
			rc = buf_json_string(b, l->v[i]->kind, strlen(l->v[i]->kind));
	}
	if (!rc)
		rc = buf_puts(b, "],\"records\":[");
	for (size_t i = 0; !rc && i < l->n; i++) {
		const struct notify_expired *x = l->v[i];
		rc = buf_printf(b, "%s{\"record_id\":\"%s\",\"subject_id\":\"%s\",\"kind\":", i ? "," : "", x->record_id,
		                x->subject_id);
		if (!rc)
			rc = buf_json_string(b, x->kind, strlen(x->kind));
		if (!rc)
			rc = buf_printf(b, ",\"action\":\"%s\",\"subject_deleted\":%s}", x->anonymized ? "anonymized" : "deleted",
			                x->subject_deleted ? "true" : "false");
	}
	return rc ? rc : buf_puts(b, "]}}");
}

/* An e-mail recipient's words for one event: ids and kinds, never a value. */
static enum rc expired_mail(const struct core_ctx *c, const struct target *t, const struct expired_list *l)
{
	struct buf what;
	buf_init(&what, 64 * 1024);
	enum rc rc = buf_printf(&what, "%zu records reached the end of the time our policy keeps them, and were "
	                        "deleted or anonymised; please do the same with your copies:", l->n);
	for (size_t i = 0; !rc && i < l->n; i++)
		rc = buf_printf(&what, "\n%s (%s, person %s)%s%s", l->v[i]->record_id, l->v[i]->kind, l->v[i]->subject_id,
		                l->v[i]->anonymized ? ": anonymised" : ": deleted",
		                l->v[i]->subject_deleted ? ", the person's last record" : "");
	if (!rc) {
		struct mail_args a = {.kind = MAIL_RECIPIENT_NOTICE, .to = t->how->email, .lang = "en", .text = what.data,
		                      .target = t->name, .event = notify_event_name(NOTIFY_EXPIRED)};
		rc = mail_queue(c, NOTIFY_MANY_SUBJECTS, NULL, &a);
	}
	buf_fini(&what);
	return rc;
}

/* One target's events: the records `takes` picks, NOTIFY_EXPIRED_MAX at a
 * time (NOTIFY_EXPIRED_MAIL_MAX in a mail, whose body is smaller). */
static enum rc expired_tell(const struct core_ctx *c, const struct target *t, const struct notify_expiry *e,
                            bool (*takes)(const struct core_ctx *, const struct target *, const struct notify_expired *),
                            size_t *n)
{
	size_t max = t->how->webhook ? NOTIFY_EXPIRED_MAX : NOTIFY_EXPIRED_MAIL_MAX;
	struct expired_list l = {.v = xcalloc(max, sizeof *l.v)};
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i <= e->n; i++) {
		if (i < e->n && takes(c, t, &e->v[i]))
			l.v[l.n++] = &e->v[i];
		if (l.n && (l.n == max || i == e->n)) {
			rc = t->how->webhook ? queue_sealed(c, t, NOTIFY_EXPIRED, NOTIFY_MANY_SUBJECTS, NULL, expired_body, &l)
			                     : expired_mail(c, t, &l);
			(*n)++;
			l.n = 0;
		}
	}
	free(l.v);
	return rc;
}

static bool system_takes(const struct core_ctx *c, const struct target *t, const struct notify_expired *x)
{
	const struct policy *p = c->tenant->policy;
	const struct policy_system *y = policy_system(p, t->name);
	const struct policy_record *r = policy_record(p, x->kind);
	for (size_t j = 0; y && r && j < y->nrecords; j++)
		if (y->records[j] == r)
			return true;
	for (size_t j = 0; y && r && j < y->nfields; j++)
		if (policy_record_has_field(r, y->fields[j]))
			return true;
	return false;
}

static bool recipient_takes(const struct core_ctx *c, const struct target *t, const struct notify_expired *x)
{
	(void)c;
	return listed(x->recipients, x->nrecipients, t->name);
}

enum rc notify_expiry_queue(const struct core_ctx *c, struct notify_expiry *e, size_t *n)
{
	const struct policy *p = c->tenant->policy;
	*n = 0;
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && e->n && i < p->nsystems; i++) {
		struct target t = {.name = p->systems[i].name, .how = &p->systems[i].notify};
		rc = expired_tell(c, &t, e, system_takes, n);
	}
	for (size_t i = 0; !rc && e->n && i < p->nrecipients; i++) {
		const struct policy_recipient *r = &p->recipients[i];
		struct target t = {.name = r->name, .how = &r->notify};
		if (r->notify.webhook || r->notify.email)
			rc = expired_tell(c, &t, e, recipient_takes, n);
	}
	while (e->n)
		notify_expiry_unadd(e);
	return rc;
}

void notify_expiry_fini(struct notify_expiry *e)
{
	while (e->n)
		notify_expiry_unadd(e);
	free(e->v);
	memset(e, 0, sizeof *e);
}

enum rc notify_outbox_due(struct store *s, int64_t now, size_t max, struct store_message **out, size_t *n)
{
	return store_outbox_due(s, now, NOTIFY_KIND_WEBHOOK, max, out, n);
}

static const struct policy_notify *how_of(const struct policy *p, const char *target)
{
	const struct policy_system *y = target ? policy_system(p, target) : NULL;
	if (y)
		return &y->notify;
	const struct policy_recipient *r = target ? policy_recipient(p, target) : NULL;
	return r ? &r->notify : NULL;
}

enum rc notify_open(const struct core_ctx *c, const struct store_message *m, struct notify_webhook *out)
{
	memset(out->url, 0, sizeof out->url);
	memset(out->id, 0, sizeof out->id);
	buf_init(&out->body, NOTIFY_BODY_MAX);
	out->how = how_of(c->tenant->policy, m->target);
	struct buf plain;
	buf_init(&plain, NOTIFY_BODY_MAX + POLICY_URL_MAX + TOKEN_ID_MAX + 2);
	struct subject_key key;
	memcpy(key.k, c->tenant->vault.token_key, sizeof key.k);
	enum rc rc = vault_open(&key, SEAL_AD, m->sealed, m->sealed_len, &plain);
	vault_subject_key_wipe(&key);
	const char *nl1 = rc ? NULL : memchr(plain.data, '\n', plain.len);
	const char *nl2 = nl1 ? memchr(nl1 + 1, '\n', plain.len - (size_t)(nl1 + 1 - plain.data)) : NULL;
	if (!rc && (!nl2 || (size_t)(nl1 - plain.data) >= sizeof out->url || (size_t)(nl2 - nl1 - 1) >= sizeof out->id))
		rc = RC_CRYPTO;
	if (!rc) {
		memcpy(out->url, plain.data, (size_t)(nl1 - plain.data));
		memcpy(out->id, nl1 + 1, (size_t)(nl2 - nl1 - 1));
		rc = buf_append(&out->body, nl2 + 1, plain.len - (size_t)(nl2 + 1 - plain.data));
	}
	buf_fini(&plain);
	return rc;
}

void notify_webhook_fini(struct notify_webhook *w)
{
	buf_fini(&w->body);
}

enum rc notify_sign(const struct notify_webhook *w, int64_t timestamp, char out[NOTIFY_SIGNATURE_MAX])
{
	if (!w->how || !w->how->has_secret)
		return RC_UNAVAILABLE;
	unsigned char mac[crypto_auth_hmacsha256_BYTES];
	char ts[24];
	int tn = snprintf(ts, sizeof ts, "%lld", (long long)timestamp);
	crypto_auth_hmacsha256_state st;
	crypto_auth_hmacsha256_init(&st, w->how->secret, w->how->secret_len);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)w->id, strlen(w->id));
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts, (unsigned long long)tn);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
	crypto_auth_hmacsha256_update(&st, (const unsigned char *)w->body.data, w->body.len);
	crypto_auth_hmacsha256_final(&st, mac);
	sodium_memzero(&st, sizeof st);
	memcpy(out, "v1,", 3);
	sodium_bin2base64(out + 3, NOTIFY_SIGNATURE_MAX - 3, mac, sizeof mac, sodium_base64_VARIANT_ORIGINAL);
	return RC_OK;
}

enum rc notify_retry_at(struct store *s, const struct store_message *m, int attempts, int64_t next_at,
                        const char *error)
{
	return store_outbox_retry(s, m->tenant_id, m->message_id, attempts, next_at, error);
}

/* ---- a waiver's reason, sealed (schema 21) ----
 * One byte saying whose key sealed it (WAIVE_BY_SUBJECT or WAIVE_BY_TENANT),
 * then the sealed text; the associated data names the tenant and the
 * notification, so that a note cannot be moved to another. */
#define WAIVE_BY_SUBJECT 'S'
#define WAIVE_BY_TENANT 'T'

static void waive_ad(const struct core_ctx *c, int64_t n, char *ad, size_t size)
{
	snprintf(ad, size, "notify-waive:%lld:%lld", (long long)c->tenant->id, (long long)n);
}

enum rc notify_waive(const struct core_ctx *c, int64_t n, const char *request_id, const char *subject_id,
                     const char *reason)
{
	struct subject_key key;
	unsigned char by = WAIVE_BY_SUBJECT;
	enum rc rc = datakey_unwrap(c, subject_id, &key, NULL);
	if (rc == RC_GONE || rc == RC_NOT_FOUND) {
		memcpy(key.k, c->tenant->vault.token_key, sizeof key.k);
		by = WAIVE_BY_TENANT;
		rc = RC_OK;
	}
	if (rc)
		return rc;
	char ad[96];
	waive_ad(c, n, ad, sizeof ad);
	size_t len = strlen(reason), note_len = 1 + len + VAULT_SEAL_OVERHEAD;
	unsigned char *note = xmalloc(note_len);
	note[0] = by;
	vault_seal(&key, ad, reason, len, note + 1);
	vault_subject_key_wipe(&key);
	rc = store_outbox_waive(c->store, c->tenant->id, n, request_id, note, note_len, core_now(c));
	free(note);
	return rc;
}

/* m's waiver reason from its sealed note; left NULL when its key is gone. */
static void waive_open(const struct core_ctx *c, struct store_message *m)
{
	if (!m->waive_note || m->waive_note_len < 1)
		return;
	struct subject_key key;
	enum rc rc = RC_OK;
	if (m->waive_note[0] == WAIVE_BY_TENANT)
		memcpy(key.k, c->tenant->vault.token_key, sizeof key.k);
	else
		rc = datakey_unwrap(c, m->subject_id, &key, NULL);
	if (rc)
		return;
	struct buf plain;
	char ad[96];
	buf_init(&plain, NOTIFY_REASON_MAX + 1);
	waive_ad(c, m->message_id, ad, sizeof ad);
	if (!vault_open(&key, ad, m->waive_note + 1, m->waive_note_len - 1, &plain)) {
		free(m->waive_reason);
		m->waive_reason = xstrndup(plain.data ? plain.data : "", plain.len);
	}
	vault_subject_key_wipe(&key);
	buf_fini(&plain);
}

enum rc notify_list(const struct core_ctx *c, const char *subject_id, const char *request_id,
                    struct store_message **out, size_t *n)
{
	enum rc rc = store_outbox_notifications(c->store, c->tenant->id, subject_id, request_id, out, n);
	for (size_t i = 0; !rc && i < *n; i++)
		waive_open(c, &(*out)[i]);
	return rc;
}

enum rc notify_list_unsent(const struct core_ctx *c, size_t max, struct store_message **out, size_t *n)
{
	return store_outbox_notifications_unsent(c->store, c->tenant->id, max, out, n);
}

const char *notify_status(const struct store_message *m)
{
	return m->waived_at ? "waived" : m->sent_at ? "delivered" : m->attempts ? "failed" : "pending";
}

bool notify_pending(const struct store_message *m)
{
	return !m->sent_at;
}
