/*
 * Consent through core/ on a real SQLite file, at a fixed `now`: the state
 * each step leads to and what consent_check answers for it, per legal basis
 * (consent needs a grant; legitimate interest holds until an objection, if
 * the policy makes it objectable; double_opt_in stays pending until the
 * e-mailed link is followed); the evidence history only grows; audiences
 * hold exactly those allowed and reachable; after an erasure nothing is
 * allowed and the contact stays as a suppression hash.
 * Policies: tests/data/policies/minimal.yaml (news: consent, no double
 * opt-in) and policies/webshop.yaml (direct_marketing: consent with
 * double_opt_in; personalisation: objectable legitimate interest; security:
 * legitimate interest, not objectable).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "core/audit.h"
#include "core/banner.h"
#include "core/consent.h"
#include "core/subject.h"
#include "helpers.h"

#define MINIMAL "tests/data/policies/minimal.yaml"
#define WEBSHOP "policies/webshop.yaml"
#define NOW "2024-06-15T12:00:00Z"

/* A subject with an account: its e-mail, and a name. */
static void make_subject(const struct core_ctx *c, const char *email, char sid[TOKEN_ID_MAX])
{
	struct field_input acc[] = {{"email", {VAL_STRING, email, strlen(email)}},
	                            {"name", {VAL_STRING, "Mari Maasikas", 13}}};
	struct record_input rec = {.kind = "account", .fields = acc, .nfields = 2};
	char rids[1][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	enum rc rc = subject_create(c, &rec, 1, sid, rids, &eb);
	if (rc)
		fail_msg("subject_create: %s", err_msg(&eb, rc));
}

static const struct consent_evidence FORM = {.source = "signup form", .wording = "Send me news"};

/* The state after one step, asserting the step is accepted. */
static const char *step(const struct core_ctx *c, const char *sid, const char *purpose, enum consent_action a,
                        const struct consent_evidence *ev)
{
	static char state[16];
	struct errbuf eb = {""};
	enum rc rc = consent_record(c, sid, purpose, a, ev, state, &eb);
	if (rc)
		fail_msg("consent_record %s %d: %s", purpose, (int)a, err_msg(&eb, rc));
	return state;
}

/* consent_check as "state/allowed", e.g. "granted/1". */
static const char *check(const struct core_ctx *c, const char *sid, const char *purpose)
{
	static char s[32];
	struct consent_status st;
	assert_int_equal(consent_check(c, sid, purpose, &st, NULL), RC_OK);
	snprintf(s, sizeof s, "%s/%d", st.state, st.allowed);
	return s;
}

static int64_t outbox(struct test_register *r)
{
	int64_t n = 0;
	assert_int_equal(store_outbox_pending(r->store, &n), RC_OK);
	return n;
}

static size_t nevents(const struct core_ctx *c, const char *sid)
{
	struct consent_report rep;
	assert_int_equal(consent_report(c, sid, &rep, NULL), RC_OK);
	size_t n = rep.nevents;
	consent_report_fini(&rep);
	return n;
}

static void test_consent_basis(void **state)
{
	struct test_register r;
	test_register_new(&r, MINIMAL, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], st[16];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid);
	/* news (basis consent): not without a grant. */
	assert_string_equal(check(&c, sid, "news"), "none/0");
	struct consent_evidence nosource = {.wording = "Send me news"};
	assert_int_equal(consent_record(&c, sid, "news", CONSENT_GRANT, &nosource, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "a grant needs its source (where and how it was given)");
	assert_string_equal(check(&c, sid, "news"), "none/0");
	assert_string_equal(step(&c, sid, "news", CONSENT_GRANT, &FORM), "granted");
	assert_string_equal(check(&c, sid, "news"), "granted/1");
	assert_string_equal(step(&c, sid, "news", CONSENT_WITHDRAW, &FORM), "withdrawn");
	assert_string_equal(check(&c, sid, "news"), "withdrawn/0");
	assert_string_equal(step(&c, sid, "news", CONSENT_GRANT, &FORM), "granted");
	/* A channel makes it direct marketing: objectable whatever the basis (Art. 21(2)). */
	assert_string_equal(step(&c, sid, "news", CONSENT_OBJECT, &FORM), "objected");
	assert_string_equal(check(&c, sid, "news"), "objected/0");

	/* contract: allowed without asking; no consent to give, withdraw or object to. */
	assert_string_equal(check(&c, sid, "contract"), "none/1");
	assert_int_equal(consent_record(&c, sid, "contract", CONSENT_GRANT, &FORM, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "purpose contract has basis contract: no consent is asked for it");
	assert_int_equal(consent_record(&c, sid, "contract", CONSENT_WITHDRAW, &FORM, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "purpose contract is not based on consent: object to it instead");
	assert_int_equal(consent_record(&c, sid, "contract", CONSENT_OBJECT, &FORM, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "purpose contract cannot be objected to (basis contract)");
	assert_string_equal(check(&c, sid, "contract"), "none/1");

	/* Unknown purposes and subjects. */
	struct consent_status cs;
	assert_int_equal(consent_record(&c, sid, "lottery", CONSENT_GRANT, &FORM, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "unknown purpose 'lottery'");
	assert_int_equal(consent_check(&c, sid, "lottery", &cs, &eb), RC_UNPROCESSABLE);
	assert_int_equal(consent_record(&c, "sub_nosuch", "news", CONSENT_GRANT, &FORM, st, &eb), RC_NOT_FOUND);
	assert_string_equal(check(&c, "sub_nosuch", "contract"), "unknown/0");
	/* Four accepted steps, four events; the refused ones left none. */
	assert_int_equal(nevents(&c, sid), 4);
	test_register_free(&r);
}

static void test_legitimate_interest(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], st[16];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid);
	assert_string_equal(check(&c, sid, "personalisation"), "none/1");
	assert_int_equal(consent_record(&c, sid, "personalisation", CONSENT_WITHDRAW, &FORM, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(step(&c, sid, "personalisation", CONSENT_OBJECT, &FORM), "objected");
	assert_string_equal(check(&c, sid, "personalisation"), "objected/0");
	/* security: legitimate interest the policy does not make objectable. */
	assert_int_equal(consent_record(&c, sid, "security", CONSENT_OBJECT, &FORM, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "purpose security cannot be objected to (basis legitimate_interest)");
	assert_string_equal(check(&c, sid, "security"), "none/1");
	/* The objection is per subject. */
	char other[TOKEN_ID_MAX];
	make_subject(&c, "jaan@example.ee", other);
	assert_string_equal(check(&c, other, "personalisation"), "none/1");
	/* A restricted subject is allowed nothing, whatever the basis. */
	assert_int_equal(subject_set_restricted(&c, other, true, NULL), RC_OK);
	assert_string_equal(check(&c, other, "security"), "restricted/0");
	test_register_free(&r);
}

static void sign(struct test_register *r, char kind, const char *sid, const char *purpose, char token[TOKEN_LINK_MAX],
                 struct token_link *l)
{
	*l = (struct token_link){.kind = kind, .tenant_id = r->tenant->id, .expires = test_at(NOW) + 7 * 86400};
	snprintf(l->subject_id, sizeof l->subject_id, "%s", sid);
	snprintf(l->purpose, sizeof l->purpose, "%s", purpose);
	assert_int_equal(token_link_sign(l, r->tenant->vault.token_key, token), RC_OK);
	assert_int_equal(token_link_verify(token, r->tenant->vault.token_key, test_at(NOW), l), RC_OK); /* as the page does */
}

static void test_double_opt_in(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], st[16], token[TOKEN_LINK_MAX];
	struct token_link l;
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid);
	/* Confirming what was never granted is refused. */
	assert_int_equal(consent_record(&c, sid, "direct_marketing", CONSENT_CONFIRM, &FORM, st, &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "there is no pending grant of direct_marketing to confirm");
	int64_t mails = outbox(&r);
	assert_string_equal(step(&c, sid, "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(check(&c, sid, "direct_marketing"), "pending/0");
	assert_int_equal(outbox(&r), mails + 1); /* the confirmation link, sealed: */
	assert_false(test_register_contains(&r, "mari@example.ee", 15));
	/* The subject follows the link: granted, once. */
	sign(&r, 'c', sid, "direct_marketing", token, &l);
	assert_int_equal(consent_by_link(&c, &l, false, "192.0.2.44", st, &eb), RC_OK);
	assert_string_equal(st, "granted");
	assert_string_equal(check(&c, sid, "direct_marketing"), "granted/1");
	assert_int_equal(consent_by_link(&c, &l, false, NULL, st, &eb), RC_GONE);
	assert_string_equal(eb.msg, "this link has been used already");
	/* A confirmation of what is granted already adds nothing. */
	size_t n = nevents(&c, sid);
	assert_string_equal(step(&c, sid, "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");
	assert_int_equal(nevents(&c, sid), n);
	/* The unsubscribe link withdraws. */
	sign(&r, 'u', sid, "direct_marketing", token, &l);
	assert_int_equal(consent_by_link(&c, &l, false, NULL, st, &eb), RC_OK);
	assert_string_equal(check(&c, sid, "direct_marketing"), "withdrawn/0");

	/* A confirmation sent with Sec-GPC: 1 is an objection to direct marketing. */
	char gpc[TOKEN_ID_MAX];
	make_subject(&c, "gpc@example.ee", gpc);
	assert_string_equal(step(&c, gpc, "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	sign(&r, 'c', gpc, "direct_marketing", token, &l);
	assert_int_equal(consent_by_link(&c, &l, true, NULL, st, &eb), RC_OK);
	assert_string_equal(check(&c, gpc, "direct_marketing"), "objected/0");

	/* No e-mail address to confirm by: the grant is refused, and leaves nothing. */
	struct field_input ord[] = {{"items", {VAL_JSON, "[1]", 3}}};
	struct record_input rec = {.kind = "order", .fields = ord, .nfields = 1};
	char noemail[TOKEN_ID_MAX], rids[1][TOKEN_ID_MAX];
	assert_int_equal(subject_create(&c, &rec, 1, noemail, rids, &eb), RC_OK);
	mails = outbox(&r);
	assert_int_equal(consent_record(&c, noemail, "direct_marketing", CONSENT_GRANT, &FORM, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg,
	                    "purpose direct_marketing needs a confirmation by e-mail, and the subject has no e-mail address");
	assert_string_equal(check(&c, noemail, "direct_marketing"), "none/0");
	assert_int_equal(nevents(&c, noemail), 0);
	assert_int_equal(outbox(&r), mails);
	test_register_free(&r);
}

static void test_history_only_grows(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], st[16];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid);
	struct consent_evidence v4 = {.source = "checkout form", .wording = "Send me offers", .ip = "192.0.2.44"};
	struct consent_evidence v6 = {.source = "mobile app", .ip = "2001:db8:abcd:12::1"};
	static const struct {
		const char *purpose;
		enum consent_action a;
		const char *action, *state;
	} steps[] = {
		{"direct_marketing", CONSENT_GRANT, "granted", "pending"},
		{"direct_marketing", CONSENT_CONFIRM, "confirmed", "granted"},
		{"personalisation", CONSENT_OBJECT, "objected", "objected"},
		{"direct_marketing", CONSENT_WITHDRAW, "withdrawn", "withdrawn"},
		{"direct_marketing", CONSENT_GRANT, "granted", "pending"},
	};
	size_t n = sizeof steps / sizeof steps[0];
	for (size_t i = 0; i < n; i++) {
		c.now = test_at(NOW) + (int64_t)i * 3600;
		c.key_id = i == 2 ? "k_support1" : NULL;
		assert_string_equal(step(&c, sid, steps[i].purpose, steps[i].a, i % 2 ? &v6 : &v4), steps[i].state);
		assert_int_equal(nevents(&c, sid), i + 1);
	}
	/* Refused steps add nothing: a bad address, an over-long source or wording. */
	struct consent_evidence bad_ip = {.source = "x", .ip = "not-an-ip"};
	assert_int_equal(consent_record(&c, sid, "direct_marketing", CONSENT_GRANT, &bad_ip, st, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "ip: not an IP address");
	char *long_text = malloc(CONSENT_WORDING_MAX + 2);
	memset(long_text, 'x', CONSENT_WORDING_MAX + 1);
	long_text[CONSENT_WORDING_MAX + 1] = '\0';
	struct consent_evidence long_wording = {.source = "x", .wording = long_text};
	assert_int_equal(consent_record(&c, sid, "direct_marketing", CONSENT_GRANT, &long_wording, st, &eb),
	                 RC_UNPROCESSABLE);
	long_text[CONSENT_SOURCE_MAX + 1] = '\0';
	struct consent_evidence long_source = {.source = long_text};
	assert_int_equal(consent_record(&c, sid, "direct_marketing", CONSENT_GRANT, &long_source, st, &eb),
	                 RC_UNPROCESSABLE);
	free(long_text);

	struct consent_report rep;
	assert_int_equal(consent_report(&c, sid, &rep, NULL), RC_OK);
	assert_int_equal(rep.nevents, n);
	for (size_t i = 0; i < n; i++) {
		const struct store_consent_event *e = &rep.events[i];
		assert_string_equal(e->purpose, steps[i].purpose);
		assert_string_equal(e->action, steps[i].action);
		assert_int_equal(e->at, test_at(NOW) + (int64_t)i * 3600);
		assert_string_equal(e->source, i % 2 ? "mobile app" : "checkout form");
		assert_string_equal(e->policy_version, "2024-05");
		assert_string_equal(e->actor, i == 2 ? "k_support1" : "cli");
		/* Only the cut address is kept: /24 or /48. */
		assert_string_equal(rep.ips[i], i % 2 ? "2001:db8:abcd::" : "192.0.2.0");
		if (!strcmp(steps[i].purpose, "direct_marketing"))
			assert_string_equal(e->channel, "email");
		else
			assert_null(e->channel);
	}
	assert_string_equal(rep.events[0].wording, "Send me offers");
	assert_int_equal(rep.nstates, 2);
	consent_report_fini(&rep);
	/* Neither the address given nor the one kept is on disk in plaintext. */
	assert_false(test_register_contains(&r, "192.0.2.44", 10));
	assert_false(test_register_contains(&r, "192.0.2.0", 9));
	assert_false(test_register_contains(&r, "2001:db8:abcd", 13));
	/* Acceptance of terms is an event of its own, against a real version. */
	struct consent_evidence terms = {.source = "checkout"};
	assert_int_equal(consent_accept_terms(&c, sid, "1999-01", &terms, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "version '1999-01' is not a policy version of this register");
	assert_int_equal(consent_accept_terms(&c, sid, NULL, &terms, &eb), RC_OK);
	assert_int_equal(nevents(&c, sid), n + 1);
	test_register_free(&r);
}

static int cmp_id(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Three subjects granted (and confirmed) for direct_marketing, in id order. */
static void granted_three(const struct core_ctx *c, char ids[3][TOKEN_ID_MAX])
{
	const char *emails[] = {"a@example.ee", "b@example.ee", "c@example.ee"};
	for (int i = 0; i < 3; i++) {
		make_subject(c, emails[i], ids[i]);
		assert_string_equal(step(c, ids[i], "direct_marketing", CONSENT_GRANT, &FORM), "pending");
		assert_string_equal(step(c, ids[i], "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");
	}
	qsort(ids, 3, TOKEN_ID_MAX, cmp_id);
}

static void test_audience(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char ids[3][TOKEN_ID_MAX], pending[TOKEN_ID_MAX], withdrawn[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	granted_three(&c, ids);
	make_subject(&c, "pending@example.ee", pending);
	assert_string_equal(step(&c, pending, "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	make_subject(&c, "gone@example.ee", withdrawn);
	assert_string_equal(step(&c, withdrawn, "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(step(&c, withdrawn, "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");
	assert_string_equal(step(&c, withdrawn, "direct_marketing", CONSENT_WITHDRAW, &FORM), "withdrawn");

	struct audience_entry out[10];
	size_t n = 0;
	assert_int_equal(consent_audience(&c, "direct_marketing", NULL, out, 10, &n, &eb), RC_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(out[i].subject_id, ids[i]);
		struct token_link l;
		assert_int_equal(token_link_verify(out[i].unsubscribe, r.tenant->vault.token_key, c.now, &l), RC_OK);
		assert_int_equal(l.kind, 'u');
		assert_string_equal(l.subject_id, ids[i]);
		assert_string_equal(l.purpose, "direct_marketing");
		assert_int_equal(l.expires, c.now + (int64_t)CONSENT_UNSUBSCRIBE_DAYS * 86400);
	}
	/* The contacts, by subject (the ids sort at random). */
	for (size_t i = 0; i < n; i++)
		assert_true(!strcmp(out[i].contact, "a@example.ee") || !strcmp(out[i].contact, "b@example.ee") ||
		            !strcmp(out[i].contact, "c@example.ee"));
	/* Paging by subject id. */
	assert_int_equal(consent_audience(&c, "direct_marketing", ids[0], out, 1, &n, &eb), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(out[0].subject_id, ids[1]);
	/* Restricted subjects are stored, not used; every hand-out is logged. */
	assert_int_equal(subject_set_restricted(&c, ids[1], true, NULL), RC_OK);
	assert_int_equal(consent_audience(&c, "direct_marketing", NULL, out, 10, &n, &eb), RC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].subject_id, ids[0]);
	assert_string_equal(out[1].subject_id, ids[2]);
	/* Audiences are for direct-marketing consent purposes only. */
	assert_int_equal(consent_audience(&c, "personalisation", NULL, out, 10, &n, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "purpose personalisation is not direct marketing (it has no channel)");
	assert_int_equal(consent_audience(&c, "nosuch", NULL, out, 10, &n, &eb), RC_UNPROCESSABLE);
	struct store_audit_filter f = {.limit = 1000};
	struct store_audit *e = NULL;
	size_t ne = 0, handed = 0;
	assert_int_equal(store_audit_list(r.store, r.tenant->id, &f, &e, &ne), RC_OK);
	for (size_t i = 0; i < ne; i++)
		if (!strcmp(e[i].action, "consent.audience")) {
			handed++;
			assert_string_equal(e[i].detail, "purpose=direct_marketing recipient=mailer channel=email");
		}
	assert_int_equal(handed, 3 + 1 + 2);
	store_audits_free(e, ne);
	test_register_free(&r);
}

/*
 * Fixed bug (kept as a test): consent_audience (src/core/consent.c:281, the skips
 * from line 306 on) reads `max` granted subjects and then drops the
 * restricted, erased and unreachable ones from that page, so a page can come
 * back short while more allowed subjects follow; the API (src/api/consents.c:159, h_audience) only
 * gives `next_after` when the page is full, so a mailer paging with it never
 * sees them. Here the first of three granted subjects is restricted: a page
 * of 2 holds one entry and the third subject is unreachable through paging.
 * Remove the skip() once a page is refilled (or the core returns its cursor).
 */
static void test_audience_page_is_full(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char ids[3][TOKEN_ID_MAX];
	granted_three(&c, ids);
	assert_int_equal(subject_set_restricted(&c, ids[0], true, NULL), RC_OK);
	struct audience_entry out[2];
	size_t n = 0;
	assert_int_equal(consent_audience(&c, "direct_marketing", NULL, out, 2, &n, NULL), RC_OK);
	assert_int_equal(n, 2);
	assert_string_equal(out[0].subject_id, ids[1]);
	assert_string_equal(out[1].subject_id, ids[2]);
	test_register_free(&r);
}

static void test_after_erasure(void **state)
{
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], st[16];
	struct errbuf eb = {""};
	make_subject(&c, "Mari@Example.ee", sid);
	assert_string_equal(step(&c, sid, "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(step(&c, sid, "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");
	struct consent_status cs;
	assert_int_equal(consent_check_lookup(&c, "email", "mari@example.ee", "direct_marketing", &cs, &eb), RC_OK);
	assert_true(cs.allowed);
	assert_string_equal(cs.state, "granted");

	struct subject_erasure er;
	assert_int_equal(subject_erase(&c, sid, &er, &eb), RC_OK);
	subject_erasure_fini(&er);
	assert_string_equal(check(&c, sid, "direct_marketing"), "unknown/0");
	assert_int_equal(consent_check_lookup(&c, "email", "mari@example.ee", "direct_marketing", &cs, &eb), RC_OK);
	assert_false(cs.allowed);
	assert_string_equal(cs.state, "unknown");
	struct consent_report rep;
	assert_int_equal(consent_report(&c, sid, &rep, &eb), RC_NOT_FOUND);
	assert_int_equal(consent_record(&c, sid, "direct_marketing", CONSENT_GRANT, &FORM, st, &eb), RC_NOT_FOUND);
	struct audience_entry out[4];
	size_t n = 9;
	assert_int_equal(consent_audience(&c, "direct_marketing", NULL, out, 4, &n, &eb), RC_OK);
	assert_int_equal(n, 0);
	/* The address stays as a keyed hash, whatever its case, and only it. */
	const struct policy_field *email = policy_field(r.tenant->policy, "email");
	unsigned char h[VAULT_HASH_LEN];
	subject_suppression_hash(&c, email, "MARI@example.ee", 15, h);
	assert_int_equal(store_suppression_exists(r.store, r.tenant->id, h), RC_OK);
	subject_suppression_hash(&c, email, "jaan@example.ee", 15, h);
	assert_int_equal(store_suppression_exists(r.store, r.tenant->id, h), RC_NOT_FOUND);
	assert_false(test_register_contains(&r, "xample.ee", 9));

	/* With two subjects behind one address, every one of them must allow it. */
	char a[TOKEN_ID_MAX], b[TOKEN_ID_MAX];
	make_subject(&c, "shared@example.ee", a);
	make_subject(&c, "shared@example.ee", b);
	assert_string_equal(step(&c, a, "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(step(&c, a, "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");
	assert_int_equal(consent_check_lookup(&c, "email", "shared@example.ee", "direct_marketing", &cs, &eb), RC_OK);
	assert_false(cs.allowed);
	assert_string_equal(step(&c, b, "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(step(&c, b, "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");
	assert_int_equal(consent_check_lookup(&c, "email", "shared@example.ee", "direct_marketing", &cs, &eb), RC_OK);
	assert_true(cs.allowed);
	assert_int_equal(consent_check_lookup(&c, "email", "not an address", "direct_marketing", &cs, &eb), RC_OK);
	assert_false(cs.allowed);
	test_register_free(&r);
}

/* Checks queued for the flights' thread (a server on PostgreSQL) get the
 * answers the direct check gives, each its own, however many travel in one
 * statement; more than a statement takes go in the next. */
struct flight_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int woken;
};

static void flight_wake(void *arg)
{
	struct flight_wait *fw = arg;
	pthread_mutex_lock(&fw->lock);
	fw->woken++;
	pthread_cond_signal(&fw->cond);
	pthread_mutex_unlock(&fw->lock);
}

static void flight_park(void *arg)
{
	(void)arg;
}

static void test_flights(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[4][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "granted@example.ee", sid[0]);
	make_subject(&c, "pending@example.ee", sid[1]);
	make_subject(&c, "shared@example.ee", sid[2]);
	make_subject(&c, "shared@example.ee", sid[3]);
	assert_string_equal(step(&c, sid[0], "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(step(&c, sid[0], "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");
	assert_string_equal(step(&c, sid[1], "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(step(&c, sid[2], "direct_marketing", CONSENT_GRANT, &FORM), "pending");
	assert_string_equal(step(&c, sid[2], "direct_marketing", CONSENT_CONFIRM, &FORM), "granted");

	struct store *fs = NULL;
	assert_int_equal(store_open(r.url, &fs, &eb), RC_OK);
	struct consent_flights *fl = NULL;
	assert_int_equal(consent_flights_new(fs, &fl), RC_OK);
	static const char *const emails[] = {"granted@example.ee", "pending@example.ee", "shared@example.ee",
	                                     "nobody@example.ee", "not an address"};
	static const char *const want[] = {"granted/1", "pending/0", "none/0", "unknown/0", "unknown/0"};
	enum { N = 150 }; /* more than two statements' worth */
	struct flight_wait fw = {.woken = 0};
	pthread_mutex_init(&fw.lock, NULL);
	pthread_cond_init(&fw.cond, NULL);
	struct audit_waiter w;
	audit_waiter_init(&w, flight_wake, &fw);
	struct core_ctx fc = c;
	fc.flights = fl;
	fc.waiter = &w;
	struct consent_lookup *l = calloc(N, sizeof *l);
	assert_non_null(l);
	for (int i = 0; i < N; i++)
		assert_int_equal(consent_lookup_start(&fc, "email", emails[i % 5], "direct_marketing", &l[i], &eb), RC_OK);
	if (audit_waiter_park(&w, flight_park, NULL)) {
		pthread_mutex_lock(&fw.lock);
		while (!fw.woken)
			pthread_cond_wait(&fw.cond, &fw.lock);
		pthread_mutex_unlock(&fw.lock);
	}
	assert_int_equal(audit_waiter_result(&w), RC_OK);
	for (int i = 0; i < N; i++) {
		struct consent_status cs;
		char got[32];
		assert_int_equal(consent_lookup_finish(&l[i], &cs, &eb), RC_OK);
		snprintf(got, sizeof got, "%s/%d", cs.state, cs.allowed);
		assert_string_equal(got, want[i % 5]);
		/* the same as the check that asks the store itself */
		struct consent_status direct;
		assert_int_equal(consent_check_lookup(&c, "email", emails[i % 5], "direct_marketing", &direct, &eb), RC_OK);
		assert_string_equal(direct.state, cs.state);
	}
	/* An unknown purpose or field is refused at once, and nothing is queued. */
	struct consent_lookup bad;
	assert_int_equal(consent_lookup_start(&fc, "email", "granted@example.ee", "nope", &bad, &eb), RC_UNPROCESSABLE);
	assert_int_equal(consent_lookup_start(&fc, "name", "Mari", "direct_marketing", &bad, &eb), RC_UNPROCESSABLE);
	free(l);
	consent_flights_free(fl);
	audit_waiter_fini(&w);
	pthread_cond_destroy(&fw.cond);
	pthread_mutex_destroy(&fw.lock);
	test_register_free(&r);
}

/* The cookie banner's choices (core/banner.h) in the store: kept per
 * visitor, the latest replacing the one before, GPC a refusal, another
 * wording refused, counted per tenant, and swept after BANNER_KEEP_DAYS. */
static void test_banner_choices(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, WEBSHOP, "default");
	struct tenant *b = test_register_add_tenant(&r, WEBSHOP, "other");
	struct core_ctx c = {.store = r.store, .tenant = r.tenant, .now = test_at(NOW)};
	struct core_ctx cb = {.store = r.store, .tenant = b, .now = test_at(NOW)};
	char wording[BANNER_WORDING_LEN + 1];
	banner_wording(r.tenant->policy, wording);
	assert_int_equal(strlen(wording), BANNER_WORDING_LEN);
	assert_true(banner_asks(r.tenant->policy));
	struct errbuf eb = {""};
	struct banner_choice in = {.visitor = "AAAAAAAAAAAAAAAAAAAAAA", .wording = wording, .n = 1,
	                           .v = {{"preferences", true}}};
	assert_int_equal(banner_record(&c, &in, &eb), RC_OK);
	in.v[0].accepted = false;
	assert_int_equal(banner_record(&c, &in, &eb), RC_OK); /* the same visitor changes their mind */
	in.visitor = "BBBBBBBBBBBBBBBBBBBBBB";
	in.v[0].accepted = true;
	in.gpc = true;
	assert_int_equal(banner_record(&c, &in, &eb), RC_OK); /* GPC: a refusal */
	in.visitor = "CCCCCCCCCCCCCCCCCCCCCC";
	in.gpc = false;
	c.now += 86400;
	assert_int_equal(banner_record(&c, &in, &eb), RC_OK);
	in.wording = "0000000000000000";
	assert_int_equal(banner_record(&c, &in, &eb), RC_CONFLICT);
	in.wording = wording;
	in.v[0].category = "necessary";
	assert_int_equal(banner_record(&c, &in, &eb), RC_UNPROCESSABLE);
	in.n = 0;
	assert_int_equal(banner_record(&c, &in, &eb), RC_UNPROCESSABLE);
	in.n = 1;
	in.v[0].category = "preferences";
	in.visitor = "short";
	assert_int_equal(banner_record(&c, &in, &eb), RC_UNPROCESSABLE);

	struct store_banner_count *rows = NULL;
	size_t n = 0;
	assert_int_equal(banner_counts(&c, &rows, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(rows[0].category, "preferences");
	assert_string_equal(rows[0].policy_version, r.tenant->policy->version);
	assert_int_equal(rows[0].accepted, 1);
	assert_int_equal(rows[0].refused, 2);
	assert_int_equal(rows[0].gpc, 1);
	free(rows);
	assert_int_equal(banner_counts(&cb, &rows, &n), RC_OK); /* another tenant sees none of it */
	assert_int_equal(n, 0);
	free(rows);

	/* A day short of the time: kept; the day after: the three first go. */
	size_t gone = 99;
	c.now = test_at(NOW) + (int64_t)BANNER_KEEP_DAYS * 86400 - 1;
	assert_int_equal(banner_expire(&c, 2, &gone), RC_OK);
	assert_int_equal(gone, 0);
	c.now = test_at(NOW) + (int64_t)BANNER_KEEP_DAYS * 86400 + 1;
	assert_int_equal(banner_expire(&c, 2, &gone), RC_OK);
	assert_int_equal(gone, 2);
	assert_int_equal(banner_counts(&c, &rows, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(rows[0].accepted + rows[0].refused, 1);
	free(rows);
	tenant_free(b);
	test_register_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_consent_basis),
		cmocka_unit_test(test_legitimate_interest),
		cmocka_unit_test(test_double_opt_in),
		cmocka_unit_test(test_history_only_grows),
		cmocka_unit_test(test_audience),
		cmocka_unit_test(test_audience_page_is_full),
		cmocka_unit_test(test_after_erasure),
		cmocka_unit_test(test_flights),
		cmocka_unit_test(test_banner_choices),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
