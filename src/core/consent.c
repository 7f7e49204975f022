/* consent: the consent model (see consent.h). */
#include "core/consent.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/datakey.h"
#include "core/field.h"
#include "core/mail.h"
#include "core/subject.h"
#include "store/store.h"

#define DAY 86400

static const char *const action_names[] = {
	[CONSENT_GRANT] = "granted", [CONSENT_WITHDRAW] = "withdrawn",
	[CONSENT_OBJECT] = "objected", [CONSENT_CONFIRM] = "confirmed",
};

/* An address cut to its network (/24, /48), which is all the proof needs. */
static bool truncate_ip(const char *ip, char out[48])
{
	unsigned char a[16];
	if (inet_pton(AF_INET, ip, a) == 1) {
		a[3] = 0;
		return inet_ntop(AF_INET, a, out, 48) != NULL;
	}
	if (inet_pton(AF_INET6, ip, a) == 1) {
		memset(a + 6, 0, 10);
		return inet_ntop(AF_INET6, a, out, 48) != NULL;
	}
	return false;
}

static bool allowed(const struct policy_purpose *u, const char *state)
{
	return consent_allows(u, consent_state_parse(state));
}

/* The link names the grant event it confirms (see consent_by_link). */
static enum rc queue_confirmation(const struct core_ctx *c, const char *subject_id, const struct subject_key *key,
                                  const struct policy_purpose *u, int64_t grant_event, struct errbuf *eb)
{
	char contact[256], lang[8], token[TOKEN_LINK_MAX], link[CORE_LINK_MAX];
	enum rc rc = subject_contact(c, subject_id, key, CHANNEL_EMAIL, contact, lang, NULL);
	if (rc)
		return rc;
	if (!contact[0])
		return err_set(eb, RC_UNPROCESSABLE, "purpose %s needs a confirmation by e-mail, and the subject has no e-mail address",
		               u->name);
	struct token_link l = {.kind = 'c', .tenant_id = c->tenant->id, .expires = core_now(c) + CONSENT_CONFIRM_DAYS * DAY,
	                       .event = grant_event};
	snprintf(l.subject_id, sizeof l.subject_id, "%s", subject_id);
	snprintf(l.purpose, sizeof l.purpose, "%s", u->name);
	rc = token_link_sign(&l, c->tenant->vault.token_key, token);
	if (rc)
		return rc;
	rc = core_link(c, CORE_LINK_CONFIRM, token, link);
	if (rc)
		return rc;
	struct mail_args a = {.kind = MAIL_CONFIRM, .to = contact, .lang = lang, .purpose = u->name, .link = link};
	return mail_queue(c, subject_id, key, &a);
}

/* A grant from anywhere but a collection point the policy declares (a
 * bought list, a partner's form) is refused, naming the ones that count. */
static enum rc bad_source(const struct policy *p, const struct policy_purpose *u, struct errbuf *eb)
{
	char list[512] = "";
	size_t len = 0;
	for (size_t i = 0; i < p->nconsent_sources && len < sizeof list; i++)
		if (policy_consent_source_covers(&p->consent_sources[i], u))
			len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", len ? ", " : "", p->consent_sources[i].name);
	return err_set(eb, RC_UNPROCESSABLE, "source must be one of the policy's consent_sources for purpose %s: %s "
	               "(no third-party lists)", u->name, len ? list : "none collects it");
}

enum rc consent_record(const struct core_ctx *c, const char *subject_id, const char *purpose,
                       enum consent_action a, const struct consent_evidence *ev, char state[16],
                       struct errbuf *eb)
{
	const struct policy_purpose *u = policy_purpose(c->tenant->policy, purpose);
	if (!u)
		return err_set(eb, RC_UNPROCESSABLE, "unknown purpose '%.64s'", purpose);
	if (a == CONSENT_GRANT && u->basis != BASIS_CONSENT)
		return err_set(eb, RC_UNPROCESSABLE, "purpose %s has basis %s: no consent is asked for it", u->name,
		               policy_basis_name(u->basis));
	if (a == CONSENT_WITHDRAW && u->basis != BASIS_CONSENT)
		return err_set(eb, RC_UNPROCESSABLE, "purpose %s is not based on consent: object to it instead", u->name);
	bool art21 = u->basis == BASIS_LEGITIMATE_INTEREST || u->basis == BASIS_PUBLIC_TASK;
	if (a == CONSENT_OBJECT && !u->objectable && !(ev->weighed && art21))
		return err_set(eb, RC_UNPROCESSABLE, "purpose %s cannot be objected to (basis %s)", u->name,
		               policy_basis_name(u->basis));
	if (a == CONSENT_GRANT && !ev->by_subject && (!ev->source || !*ev->source))
		return err_set(eb, RC_UNPROCESSABLE, "a grant needs its source (where and how it was given)");
	const struct policy_consent_source *src = NULL;
	if (a == CONSENT_GRANT && !ev->by_subject && c->tenant->policy->nconsent_sources) {
		src = policy_consent_source(c->tenant->policy, ev->source);
		if (!src || !policy_consent_source_covers(src, u))
			return bad_source(c->tenant->policy, u, eb);
	}
	if (ev->source && strlen(ev->source) > CONSENT_SOURCE_MAX)

		return err_set(eb, RC_UNPROCESSABLE, "source is longer than %d characters", CONSENT_SOURCE_MAX);
	if (ev->wording && strlen(ev->wording) > CONSENT_WORDING_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "text is longer than %d characters", CONSENT_WORDING_MAX);
	if (field_text_check("source", ev->source, eb) || field_text_check("text", ev->wording, eb))
		return RC_UNPROCESSABLE;
	char ip[48] = "";
	if (ev->ip && *ev->ip && !truncate_ip(ev->ip, ip))
		return err_set(eb, RC_UNPROCESSABLE, "ip: not an IP address");

	struct subject_key key;
	enum rc rc = datakey_unwrap(c, subject_id, &key, eb);
	if (rc)
		return rc;
	rc = store_begin(c->store);
	if (rc) {
		vault_subject_key_wipe(&key);
		return rc;
	}
	char current[16] = "none";
	enum rc grc = store_consent_state_get(c->store, c->tenant->id, subject_id, u->name, current);
	if (grc && grc != RC_NOT_FOUND)
		rc = grc;
	enum consent_state now_st = consent_state_parse(current);
	enum consent_state next_st = a == CONSENT_GRANT ? (u->double_opt_in ? CONSENT_STATE_PENDING : CONSENT_STATE_GRANTED)
	                           : a == CONSENT_CONFIRM ? CONSENT_STATE_GRANTED
	                           : a == CONSENT_WITHDRAW ? CONSENT_STATE_WITHDRAWN : CONSENT_STATE_OBJECTED;
	const char *next = consent_state_name(next_st);
	if (!rc && a == CONSENT_CONFIRM && now_st != CONSENT_STATE_PENDING && now_st != CONSENT_STATE_GRANTED)
		rc = err_set(eb, RC_CONFLICT, "there is no pending grant of %s to confirm", u->name);
	bool repeat = a == CONSENT_CONFIRM && now_st == CONSENT_STATE_GRANTED;
	/* A declared source is recorded with its version, and the wording shown
	 * there when the caller gives none. */
	char source[CONSENT_SOURCE_MAX + 80];
	const char *wording = ev->wording;
	if (src) {
		snprintf(source, sizeof source, "%s, version %s", src->name, src->version);
		if (!wording)
			wording = policy_title_in(&src->wording, c->tenant->policy->languages[0], NULL);
	}
	struct store_consent_event e = {
		.purpose = (char *)u->name, .action = (char *)action_names[a], .at = core_now(c),
		.source = (char *)(src ? source : ev->source ? ev->source : ev->by_subject ? "link" : NULL),
		.channel = (char *)(u->channel != CHANNEL_NONE ? policy_channel_name(u->channel) : NULL),
		.policy_version = (char *)c->tenant->policy->version, .wording = (char *)wording,
		.actor = (char *)(ev->by_subject ? "subject" : c->key_id ? c->key_id : "cli"),
	};
	memcpy(e.subject_id, subject_id, strnlen(subject_id, TOKEN_ID_MAX - 1) + 1);
	unsigned char sealed[48 + VAULT_SEAL_OVERHEAD];
	int64_t event_id = 0;
	if (!rc && !repeat) {
		/* The IP is sealed under the subject's key, bound to the purpose and time. */
		if (ip[0]) {
			char ad[128];
			snprintf(ad, sizeof ad, "consent:%s:%s:%lld", subject_id, u->name, (long long)e.at);
			vault_seal(&key, ad, ip, strlen(ip), sealed);
			e.evidence = sealed;
			e.evidence_len = strlen(ip) + VAULT_SEAL_OVERHEAD;
		}
		rc = store_consent_event_insert(c->store, c->tenant->id, &e, &event_id);
		if (!rc)
			rc = store_consent_state_set(c->store, c->tenant->id, subject_id, u->name, next, e.at);
		if (!rc && a == CONSENT_GRANT && u->double_opt_in)
			rc = queue_confirmation(c, subject_id, &key, u, event_id, eb);
		if (!rc) {
			char detail[128];
			snprintf(detail, sizeof detail, "purpose=%s state=%s event=%lld", u->name, next, (long long)event_id);
			char action[32];
			snprintf(action, sizeof action, "consent.%s", action_names[a]);
			struct audit_event ae = {action, subject_id, NULL, "ok", detail};
			rc = audit_append(c, &ae);
		}
	}
	vault_subject_key_wipe(&key);
	rc = core_end(c, rc);
	if (!rc)
		snprintf(state, 16, "%s", repeat ? current : next);
	return rc;
}

enum rc consent_check(const struct core_ctx *c, const char *subject_id, const char *purpose,
                      struct consent_status *out, struct errbuf *eb)
{
	const struct policy_purpose *u = policy_purpose(c->tenant->policy, purpose);
	if (!u)
		return err_set(eb, RC_UNPROCESSABLE, "unknown purpose '%.64s'", purpose);
	struct store_subject s;
	enum rc rc = store_subject_get(c->store, c->tenant->id, subject_id, &s);
	bool gone = rc == RC_NOT_FOUND || (!rc && !s.wrapped_key), restricted = !rc && s.restricted;
	store_subject_fini(&s);
	if (gone || restricted) {
		*out = (struct consent_status){.allowed = false};
		snprintf(out->state, sizeof out->state, "%s", gone ? "unknown" : "restricted");
		return RC_OK;
	}
	if (rc)
		return rc;
	snprintf(out->state, sizeof out->state, "none");
	rc = store_consent_state_get(c->store, c->tenant->id, subject_id, u->name, out->state);
	if (rc && rc != RC_NOT_FOUND)
		return rc;
	out->allowed = allowed(u, out->state);
	return RC_OK;
}

static void flights_submit(struct consent_flights *fl, struct consent_lookup *l, struct audit_waiter *w);

enum rc consent_lookup_start(const struct core_ctx *c, const char *field, const char *value, const char *purpose,
                             struct consent_lookup *l, struct errbuf *eb)
{
	memset(l, 0, sizeof *l);
	const struct policy_field *f = policy_field(c->tenant->policy, field);
	const struct policy_purpose *u = policy_purpose(c->tenant->policy, purpose);
	if (!u)
		return err_set(eb, RC_UNPROCESSABLE, "unknown purpose '%.64s'", purpose);
	if (!f || !f->lookup)
		return err_set(eb, RC_UNPROCESSABLE, "'%.64s' is not a lookup field of the policy", field);
	l->purpose = u;
	l->field = f;
	l->tenant = c->tenant->id;
	l->q.out = l->found;
	struct buf canon, form;
	buf_init(&canon, FIELD_VALUE_MAX);
	buf_init(&form, FIELD_VALUE_MAX);
	struct field_value v = {VAL_STRING, value, strlen(value)};
	/* Not even a valid value: nobody has it, and nothing is asked. */
	enum rc rc = field_normalize(f, &v, &canon, NULL);
	if (!rc)
		rc = field_lookup_form(f, canon.data, canon.len, &form);
	if (!rc) {
		l->asked = true;
		vault_lookup_hash(&c->tenant->vault, f->name, form.data, form.len, l->q.hash);
	}
	buf_fini(&canon);
	buf_fini(&form);
	if (!l->asked)
		return RC_OK;
	if (c->flights && c->waiter)
		flights_submit(c->flights, l, c->waiter);
	else
		l->rc = store_consent_by_lookups(c->store, l->tenant, u->name, &l->q, 1, CONSENT_LOOKUP_MAX + 1);
	return RC_OK;
}

enum rc consent_lookup_finish(const struct consent_lookup *l, struct consent_status *out, struct errbuf *eb)
{
	*out = (struct consent_status){.allowed = false, .state = "unknown"};
	if (!l->asked)
		return RC_OK;
	if (l->rc)
		return err_set(eb, l->rc, "the consent state could not be read");
	/* Every subject sharing the value must allow it: read them all, and
	 * refuse loudly rather than answer from a part. */
	if (l->q.n > CONSENT_LOOKUP_MAX) {
		log_warn("consent check: more than %d subjects share one lookup value tenant=%lld", CONSENT_LOOKUP_MAX,
		         (long long)l->tenant);
		return err_set(eb, RC_CONFLICT, "more than %d subjects share that %s", CONSENT_LOOKUP_MAX, l->field->name);
	}
	for (size_t i = 0; i < l->q.n; i++) {
		const struct store_consent_state *found = &l->found[i];
		struct consent_status one = {.allowed = false};
		if (!strcmp(found->state, "erased")) {
			snprintf(one.state, sizeof one.state, "%s", consent_state_name(CONSENT_STATE_UNKNOWN));
		} else if (consent_state_parse(found->state) == CONSENT_STATE_RESTRICTED) {
			snprintf(one.state, sizeof one.state, "%s", consent_state_name(CONSENT_STATE_RESTRICTED));
		} else {
			snprintf(one.state, sizeof one.state, "%s", found->state[0] ? found->state : "none");
			one.allowed = allowed(l->purpose, one.state);
		}
		if (i == 0 || !one.allowed)
			*out = one;
		if (!one.allowed)
			break;
	}
	return RC_OK;
}

enum rc consent_check_lookup(const struct core_ctx *c, const char *field, const char *value,
                             const char *purpose, struct consent_status *out, struct errbuf *eb)
{
	struct core_ctx alone = *c;
	alone.flights = NULL;
	struct consent_lookup *l = xmalloc(sizeof *l);
	enum rc rc = consent_lookup_start(&alone, field, value, purpose, l, eb);
	if (!rc)
		rc = consent_lookup_finish(l, out, eb);
	free(l);
	return rc;
}

/* ---- flights: a server's checks by lookup value, many to a statement ---- */

struct consent_flights {
	struct store *store;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t more;
	struct consent_lookup *head, **tail;
	bool stopping;
};

static void flights_submit(struct consent_flights *fl, struct consent_lookup *l, struct audit_waiter *w)
{
	l->waiter = w;
	l->next = NULL;
	audit_waiter_add(w);
	pthread_mutex_lock(&fl->lock);
	*fl->tail = l;
	fl->tail = &l->next;
	pthread_cond_signal(&fl->more);
	pthread_mutex_unlock(&fl->lock);
}

/* Under fl->lock: unlinks the first queued check and, in their order, up to
 * STORE_CONSENT_QUERIES_MAX - 1 more of its tenant and purpose. */
static size_t flights_take(struct consent_flights *fl, struct consent_lookup **take)
{
	struct consent_lookup *first = fl->head;
	size_t k = 0;
	fl->tail = &fl->head;
	for (struct consent_lookup **p = &fl->head; *p;) {
		struct consent_lookup *l = *p;
		if (l == first || (k < STORE_CONSENT_QUERIES_MAX && l->tenant == first->tenant && l->purpose == first->purpose)) {
			take[k++] = l;
			*p = l->next;
		} else {
			fl->tail = &l->next;
			p = &l->next;
		}
	}
	return k;
}

static void *flights_main(void *arg)
{
	struct consent_flights *fl = arg;
	struct consent_lookup *take[STORE_CONSENT_QUERIES_MAX];
	struct store_consent_query qs[STORE_CONSENT_QUERIES_MAX];
	pthread_mutex_lock(&fl->lock);
	for (;;) {
		while (!fl->head && !fl->stopping)
			pthread_cond_wait(&fl->more, &fl->lock);
		if (!fl->head)
			break; /* stopping, and every check is answered */
		size_t k = flights_take(fl, take);
		pthread_mutex_unlock(&fl->lock);
		for (size_t i = 0; i < k; i++)
			qs[i] = take[i]->q;
		enum rc rc = store_consent_by_lookups(fl->store, take[0]->tenant, take[0]->purpose->name, qs, k,
		                                      CONSENT_LOOKUP_MAX + 1);
		/* A read outside any transaction: a connection the database ended
		 * (a restart, a fail-over) is opened again by the next try, rather
		 * than failing every check of the flight. */
		if (rc == RC_UNAVAILABLE)
			rc = store_consent_by_lookups(fl->store, take[0]->tenant, take[0]->purpose->name, qs, k,
			                              CONSENT_LOOKUP_MAX + 1);
		for (size_t i = 0; i < k; i++) {
			/* Done is the last touch: the owner may free it at once. */
			struct audit_waiter *w = take[i]->waiter;
			take[i]->q.n = rc ? 0 : qs[i].n;
			take[i]->rc = rc;
			audit_waiter_done(w, RC_OK);
		}
		pthread_mutex_lock(&fl->lock);
	}
	pthread_mutex_unlock(&fl->lock);
	return NULL;
}

enum rc consent_flights_new(struct store *store, struct consent_flights **out)
{
	struct consent_flights *fl = xcalloc(1, sizeof *fl);
	fl->store = store;
	fl->tail = &fl->head;
	pthread_mutex_init(&fl->lock, NULL);
	pthread_cond_init(&fl->more, NULL);
	if (pthread_create(&fl->thread, NULL, flights_main, fl) != 0) {
		pthread_mutex_destroy(&fl->lock);
		pthread_cond_destroy(&fl->more);
		free(fl);
		return RC_INTERNAL;
	}
	*out = fl;
	return RC_OK;
}

void consent_flights_free(struct consent_flights *fl)
{
	if (!fl)
		return;
	pthread_mutex_lock(&fl->lock);
	fl->stopping = true;
	pthread_cond_signal(&fl->more);
	pthread_mutex_unlock(&fl->lock);
	pthread_join(fl->thread, NULL);
	store_close(fl->store);
	pthread_mutex_destroy(&fl->lock);
	pthread_cond_destroy(&fl->more);
	free(fl);
}

enum rc consent_report(const struct core_ctx *c, const char *subject_id, struct consent_report *out,
                       struct errbuf *eb)
{
	struct subject_key key;
	memset(out, 0, sizeof *out);
	enum rc rc = datakey_unwrap(c, subject_id, &key, eb);
	if (rc)
		return rc;
	rc = store_consent_states_for_subject(c->store, c->tenant->id, subject_id, &out->states, &out->nstates);
	if (!rc)
		rc = store_consent_events_for_subject(c->store, c->tenant->id, subject_id, &out->events, &out->nevents);
	if (!rc) {
		out->ips = xcalloc(out->nevents ? out->nevents : 1, sizeof *out->ips);
		for (size_t i = 0; i < out->nevents; i++) {
			const struct store_consent_event *e = &out->events[i];
			if (!e->evidence || !e->evidence_len)
				continue;
			char ad[128];
			struct buf ip;
			buf_init(&ip, 64);
			snprintf(ad, sizeof ad, "consent:%s:%s:%lld", subject_id, e->purpose, (long long)e->at);
			if (!vault_open(&key, ad, e->evidence, e->evidence_len, &ip) && ip.len < 48)
				memcpy(out->ips[i], ip.data, ip.len + 1);
			buf_fini(&ip);
		}
	}
	vault_subject_key_wipe(&key);
	struct audit_event ae = {"consent.read", subject_id, NULL, rc_code(rc), NULL};
	enum rc arc = audit_access(c, &ae);
	if (!rc)
		rc = arc;
	if (rc)
		consent_report_fini(out);
	return rc;
}

void consent_report_fini(struct consent_report *r)
{
	store_consent_states_free(r->states, r->nstates);
	store_consent_events_free(r->events, r->nevents);
	free(r->ips);
	memset(r, 0, sizeof *r);
}

enum rc consent_audience(const struct core_ctx *c, const char *purpose, const char *after,
                         struct audience_entry *out, size_t max, size_t *n, struct errbuf *eb)
{
	const struct policy_purpose *u = policy_purpose(c->tenant->policy, purpose);
	*n = 0;
	if (!u)
		return err_set(eb, RC_UNPROCESSABLE, "unknown purpose '%.64s'", purpose);
	if (u->channel == CHANNEL_NONE)
		return err_set(eb, RC_UNPROCESSABLE, "purpose %s is not direct marketing (it has no channel)", u->name);
	if (u->basis != BASIS_CONSENT)
		return err_set(eb, RC_UNPROCESSABLE, "audiences are for consent purposes; %s has basis %s", u->name,
		               policy_basis_name(u->basis));
	if (max > CONSENT_AUDIENCE_MAX)
		max = CONSENT_AUDIENCE_MAX;
	char (*ids)[TOKEN_ID_MAX] = xcalloc(max ? max : 1, sizeof *ids);
	char cursor[TOKEN_ID_MAX];
	snprintf(cursor, sizeof cursor, "%s", after ? after : "");
	size_t found = max;
	enum rc rc = RC_OK;
	/* Subjects that cannot be reached are passed over, and the page is
	 * filled from further on: a short page means there is no more, so a
	 * mailer paging by the last id never misses anyone. */
	while (!rc && *n < max && found == max) {
		rc = store_consent_audience(c->store, c->tenant->id, u->name, consent_state_name(CONSENT_STATE_GRANTED), cursor,
		                            ids, max, &found);
		if (!rc && found)
			memcpy(cursor, ids[found - 1], TOKEN_ID_MAX);
		for (size_t i = 0; !rc && i < found && *n < max; i++) {
			struct subject_key key;
			struct audience_entry *e = &out[*n];
			char lang[8];
			struct store_subject s;
			bool restricted = !store_subject_get(c->store, c->tenant->id, ids[i], &s) && s.restricted;
			store_subject_fini(&s);
			if (restricted)
				continue; /* Art. 18: stored, not used */
			if (datakey_unwrap(c, ids[i], &key, NULL))
				continue; /* erased meanwhile */
			rc = subject_contact(c, ids[i], &key, u->channel, e->contact, lang, NULL);
			vault_subject_key_wipe(&key);
			if (rc || !e->contact[0])
				continue; /* nothing to reach them by */
			struct token_link l = {.kind = 'u', .tenant_id = c->tenant->id,
			                       .expires = core_now(c) + (int64_t)CONSENT_UNSUBSCRIBE_DAYS * DAY};
			snprintf(l.subject_id, sizeof l.subject_id, "%s", ids[i]);
			snprintf(l.purpose, sizeof l.purpose, "%s", u->name);
			char token[TOKEN_LINK_MAX];
			rc = token_link_sign(&l, c->tenant->vault.token_key, token);
			if (rc)
				break;
			snprintf(e->subject_id, sizeof e->subject_id, "%s", ids[i]);
			snprintf(e->unsubscribe, sizeof e->unsubscribe, "%s", token);
			char detail[96];
			snprintf(detail, sizeof detail, "purpose=%s recipient=mailer channel=%s", u->name,
			         policy_channel_name(u->channel));
			struct audit_event ae = {"consent.audience", ids[i], NULL, "ok", detail};
			rc = audit_access(c, &ae);
			(*n)++;
		}
	}
	free(ids);
	return rc;
}

/* Whether a confirmation link is for the subject's latest grant of the
 * purpose, which is the only one it may confirm: a link sent for an earlier
 * grant (withdrawn, then granted again) must not confirm the later one,
 * which has its own link. Links signed before they named their grant event
 * stand for the grant made when they were signed: one made no later than
 * their expiry less their lifetime. */
static enum rc link_grant(const struct core_ctx *c, const struct token_link *l, const char *purpose,
                          struct errbuf *eb)
{
	struct store_consent_event *v = NULL;
	size_t n = 0;
	enum rc rc = store_consent_events_for_subject(c->store, c->tenant->id, l->subject_id, &v, &n);
	const struct store_consent_event *grant = NULL;
	for (size_t i = 0; !rc && i < n; i++)
		if (!strcmp(v[i].purpose, purpose) && !strcmp(v[i].action, action_names[CONSENT_GRANT]))
			grant = &v[i];
	bool ok = grant && (l->event ? grant->event_id == l->event
	                             : grant->at <= l->expires - (int64_t)CONSENT_CONFIRM_DAYS * DAY);
	if (!rc && !ok)
		rc = err_set(eb, RC_GONE, "this link was for an earlier request; use the link in the latest e-mail");
	store_consent_events_free(v, n);
	return rc;
}

enum rc consent_by_link(const struct core_ctx *c, const struct token_link *l, bool gpc, const char *ip,
                        char state[16], struct errbuf *eb)
{
	const struct policy_purpose *u = policy_purpose(c->tenant->policy, l->purpose);
	if (!u)
		return err_set(eb, RC_NOT_FOUND, "this link is no longer valid");
	struct consent_evidence ev = {.source = l->kind == 'c' ? "confirmation link" : "unsubscribe link",
	                              .ip = ip, .by_subject = true};
	if (l->kind == 'u')
		return consent_record(c, l->subject_id, u->name, u->basis == BASIS_CONSENT ? CONSENT_WITHDRAW : CONSENT_OBJECT,
		                      &ev, state, eb);
	/* A confirmation is used once (marked by its bytes, not its text), and
	 * only for the grant it was sent for. */
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_token_use(c->store, c->tenant->id, l->used, core_now(c));
	if (rc == RC_EXISTS)
		rc = err_set(eb, RC_GONE, "this link has been used already");
	if (!rc)
		rc = link_grant(c, l, u->name, eb);
	if (!rc) {
		if (gpc) {
			/* Global Privacy Control: the browser says no to direct marketing. */
			ev.source = "confirmation link with Sec-GPC: 1";
			for (size_t i = 0; !rc && i < c->tenant->policy->npurposes; i++) {
				const struct policy_purpose *p = &c->tenant->policy->purposes[i];
				if (p->channel != CHANNEL_NONE)
					rc = consent_record(c, l->subject_id, p->name, CONSENT_OBJECT, &ev, state, eb);
			}
		} else {
			rc = consent_record(c, l->subject_id, u->name, CONSENT_CONFIRM, &ev, state, eb);
		}
	}
	return core_end(c, rc);
}

enum rc consent_accept_terms(const struct core_ctx *c, const char *subject_id, const char *version,
                             const struct consent_evidence *ev, struct errbuf *eb)
{
	if (!version)
		version = c->tenant->policy->version;
	if (!ev->source || !*ev->source || strlen(ev->source) > CONSENT_SOURCE_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "an acceptance needs its source (at most %d characters)",
		               CONSENT_SOURCE_MAX);
	if (ev->wording && strlen(ev->wording) > CONSENT_WORDING_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "text is longer than %d characters", CONSENT_WORDING_MAX);
	if (field_text_check("source", ev->source, eb) || field_text_check("text", ev->wording, eb))
		return RC_UNPROCESSABLE;
	enum rc rc = store_policy_version_exists(c->store, c->tenant->id, version);
	if (rc == RC_NOT_FOUND)
		return err_set(eb, RC_UNPROCESSABLE, "version '%.64s' is not a policy version of this register", version);
	if (rc)
		return rc;
	struct subject_key key;
	rc = datakey_unwrap(c, subject_id, &key, eb);
	if (rc)
		return rc;
	vault_subject_key_wipe(&key); /* only to know the subject exists and is not erased */
	struct store_consent_event e = {
		.purpose = "terms", .action = "accepted", .at = core_now(c), .source = (char *)ev->source,
		.policy_version = (char *)version, .wording = (char *)ev->wording,
		.actor = (char *)(c->key_id ? c->key_id : "cli"),
	};
	memcpy(e.subject_id, subject_id, strnlen(subject_id, TOKEN_ID_MAX - 1) + 1);
	int64_t event_id;
	char detail[96];
	snprintf(detail, sizeof detail, "version=%.64s", version);
	struct audit_event ae = {"terms.accept", subject_id, NULL, "ok", detail};
	rc = store_begin(c->store);
	if (!rc)
		rc = store_consent_event_insert(c->store, c->tenant->id, &e, &event_id);
	if (!rc)
		rc = store_consent_state_set(c->store, c->tenant->id, subject_id, "terms", "accepted", e.at);
	if (!rc)
		rc = audit_append(c, &ae);
	return core_end(c, rc);
}

enum rc consent_move(const struct core_ctx *c, const char *from, const struct subject_key *from_key, const char *into,
                     const struct subject_key *into_key, size_t *n)
{
	struct store_consent_event *ev = NULL;
	struct store_consent_state *fs = NULL, *is = NULL;
	size_t nev = 0, nfs = 0, nis = 0;
	*n = 0;
	enum rc rc = store_consent_events_for_subject(c->store, c->tenant->id, from, &ev, &nev);
	for (size_t i = 0; !rc && i < nev; i++) {
		/* The history is copied, not rewritten: the same events, now the
		 * survivor's, each IP sealed again under the survivor's key. */
		struct store_consent_event e = ev[i];
		unsigned char sealed[48 + VAULT_SEAL_OVERHEAD];
		int64_t event_id = 0;
		memcpy(e.subject_id, into, strnlen(into, TOKEN_ID_MAX - 1) + 1);
		e.evidence = NULL;
		e.evidence_len = 0;
		if (ev[i].evidence && ev[i].evidence_len) {
			char ad[128];
			struct buf ip;
			buf_init(&ip, 64);
			snprintf(ad, sizeof ad, "consent:%s:%s:%lld", from, ev[i].purpose, (long long)ev[i].at);
			if (!vault_open(from_key, ad, ev[i].evidence, ev[i].evidence_len, &ip) && ip.len < 48) {
				snprintf(ad, sizeof ad, "consent:%s:%s:%lld", into, ev[i].purpose, (long long)ev[i].at);
				vault_seal(into_key, ad, ip.data, ip.len, sealed);
				e.evidence = sealed;
				e.evidence_len = ip.len + VAULT_SEAL_OVERHEAD;
			}
			buf_fini(&ip);
		}
		rc = store_consent_event_insert(c->store, c->tenant->id, &e, &event_id);
		if (!rc)
			(*n)++;
	}
	if (!rc)
		rc = store_consent_states_for_subject(c->store, c->tenant->id, from, &fs, &nfs);
	if (!rc)
		rc = store_consent_states_for_subject(c->store, c->tenant->id, into, &is, &nis);
	/* Per purpose, the later word of the person stands, whichever subject
	 * it was given to. */
	for (size_t i = 0; !rc && i < nfs; i++) {
		const struct store_consent_state *mine = NULL;
		for (size_t k = 0; k < nis && !mine; k++)
			if (!strcmp(is[k].purpose, fs[i].purpose))
				mine = &is[k];
		if (!mine || fs[i].updated_at > mine->updated_at)
			rc = store_consent_state_set(c->store, c->tenant->id, into, fs[i].purpose, fs[i].state, fs[i].updated_at);
	}
	if (!rc)
		rc = store_consents_delete(c->store, c->tenant->id, from);
	store_consent_events_free(ev, nev);
	store_consent_states_free(fs, nfs);
	store_consent_states_free(is, nis);
	return rc;
}
