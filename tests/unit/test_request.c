/*
 * Data-subject requests through core/ on a real SQLite file, each call at a
 * `now` the test sets: deadlines in calendar months from the day of receipt
 * (policies/webshop.yaml: answer within 1 month, extend up to 2 more: 31 Jan
 * is due 28 Feb, or 29 Feb in a leap year, and 30 Apr once extended), one
 * extension with its reason and only before the deadline, the status
 * machine (verifying -> in_progress -> completed | refused, nothing after an
 * answer), open and late counts, what completing each type does, and an
 * erasure that a hold or a law makes partial.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "core/consent.h"
#include "core/hold.h"
#include "core/request.h"
#include "core/retention.h"
#include "core/subject.h"
#include "helpers.h"

#define POLICY "policies/webshop.yaml"
#define NOW "2024-06-15T12:00:00Z"

/* A subject with an account (e-mail, name) and, if order_id, an order. */
static void make_subject(const struct core_ctx *c, const char *email, char sid[TOKEN_ID_MAX], char rid[TOKEN_ID_MAX],
                         char order_id[TOKEN_ID_MAX])
{
	struct field_input acc[] = {test_text("email", email), test_text("name", "Mari Maasikas")};
	struct field_input ord[] = {{"items", {VAL_JSON, "[1]", 3}}};
	struct record_input recs[] = {{.kind = "account", .fields = acc, .nfields = 2},
	                              {.kind = "order", .fields = ord, .nfields = 1, .created_at = "2024-03-01"}};
	char rids[2][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	enum rc rc = subject_create(c, recs, order_id ? 2 : 1, sid, rids, &eb);
	if (rc)
		fail_msg("subject_create: %s", err_msg(&eb, rc));
	memcpy(rid, rids[0], TOKEN_ID_MAX);
	if (order_id)
		memcpy(order_id, rids[1], TOKEN_ID_MAX);
}

/* A request received at `received` (verified when verified_by is given). */
static void new_request(const struct core_ctx *c, const char *sid, const char *type, const char *received,
                        const char *verified_by, struct store_request *out)
{
	struct request_input in = {.type = type, .subject_id = sid, .received_at = received, .channel = "email",
	                           .verified_by = verified_by};
	struct errbuf eb = {""};
	enum rc rc = request_create(c, &in, out, &eb);
	if (rc)
		fail_msg("request_create %s: %s", type, err_msg(&eb, rc));
}

static const char *status(const struct core_ctx *c, const char *id)
{
	static char s[32];
	struct store_request r;
	assert_int_equal(request_get(c, id, &r, NULL), RC_OK);
	snprintf(s, sizeof s, "%s", r.status);
	store_request_fini(&r);
	return s;
}

static int64_t outbox(struct test_register *r)
{
	int64_t n = 0;
	assert_int_equal(store_outbox_pending(r->store, &n), RC_OK);
	return n;
}

static void test_deadlines_in_calendar_months(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	c.now = test_at("2023-01-01");
	make_subject(&c, "mari@example.ee", sid, rid, NULL);
	static const struct {
		const char *received, *due, *extended;
	} cases[] = {
		{"2023-01-31", "2023-02-28", "2023-04-30"},
		{"2024-01-31", "2024-02-29", "2024-04-30"}, /* a leap year */
		{"2023-11-30", "2023-12-30", "2024-02-29"}, /* from receipt, not from the first deadline */
		{"2024-03-31", "2024-04-30", "2024-06-30"},
		{"2023-12-31T21:15:00Z", "2024-01-31T21:15:00Z", "2024-03-31T21:15:00Z"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct store_request q;
		c.now = test_at(cases[i].received) + 86400;
		new_request(&c, sid, "access", cases[i].received, "id card", &q);
		assert_int_equal(q.received_at, test_at(cases[i].received));
		assert_int_equal(q.due_at, test_at(cases[i].due));
		assert_int_equal(q.target_at, 0);
		assert_int_equal(request_extend(&c, q.id, "many records in paper archives", &eb), RC_OK);
		char id[TOKEN_ID_MAX];
		memcpy(id, q.id, sizeof id);
		store_request_fini(&q);
		assert_int_equal(request_get(&c, id, &q, NULL), RC_OK);
		char got[TIMEUTIL_DATETIME_LEN];
		timeutil_format_datetime(q.due_at, got);
		if (q.due_at != test_at(cases[i].extended))
			fail_msg("received %s: extended to %s, want %s", cases[i].received, got, cases[i].extended);
		assert_int_equal(q.extended_at, c.now);
		assert_string_equal(q.extension_reason, "many records in paper archives");
		store_request_fini(&q);
	}
	/* Every type has the same deadline; other types are refused. */
	static const char *const types[] = {"access", "portability", "rectification", "erasure", "restriction",
	                                    "objection", "withdraw_consent", "marketing_optout"};
	c.now = test_at(NOW);
	for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
		struct store_request q;
		new_request(&c, sid, types[i], "2024-05-31", "id card", &q);
		assert_string_equal(q.type, types[i]);
		assert_string_equal(q.status, "in_progress");
		assert_int_equal(q.due_at, test_at("2024-06-30"));
		store_request_fini(&q);
	}
	struct store_request q;
	struct request_input bad = {.type = "complaint", .subject_id = sid};
	assert_int_equal(request_create(&c, &bad, &q, &eb), RC_UNPROCESSABLE);
	struct request_input future = {.type = "access", .subject_id = sid, .received_at = "2024-06-16"};
	assert_int_equal(request_create(&c, &future, &q, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "received_at: in the future");
	struct request_input garbled = {.type = "access", .subject_id = sid, .received_at = "31.01.2024"};
	assert_int_equal(request_create(&c, &garbled, &q, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "received_at: not an ISO 8601 date or datetime");
	struct request_input nobody = {.type = "access", .subject_id = "sub_nosuch"};
	assert_int_equal(request_create(&c, &nobody, &q, &eb), RC_NOT_FOUND);
	test_register_free(&r);

	/* backoffice.yaml also has a target: 7 days. */
	test_register_new(&r, "policies/backoffice.yaml", "default");
	c = test_ctx(test_at(NOW), &r);
	struct field_input inq[] = {test_text("message", "Where is my order?"), test_text("email", "mari@example.ee")};
	struct record_input rec = {.kind = "inquiry", .fields = inq, .nfields = 2};
	char rids[1][TOKEN_ID_MAX];
	assert_int_equal(subject_create(&c, &rec, 1, sid, rids, &eb), RC_OK);
	new_request(&c, sid, "access", "2024-02-26", "id card", &q);
	assert_int_equal(q.target_at, test_at("2024-03-04"));
	assert_int_equal(q.due_at, test_at("2024-03-26"));
	store_request_fini(&q);
	test_register_free(&r);
}

static void test_one_extension_with_reason_before_the_deadline(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, NULL);
	struct store_request q, late;
	new_request(&c, sid, "access", "2024-06-01", "id card", &q);
	new_request(&c, sid, "access", "2024-05-14T09:00:00Z", "id card", &late);
	assert_int_equal(q.due_at, test_at("2024-07-01"));

	assert_int_equal(request_extend(&c, q.id, NULL, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "give the reason");
	assert_int_equal(request_extend(&c, q.id, "", &eb), RC_UNPROCESSABLE);
	char *long_reason = malloc(REQUEST_REASON_MAX + 2);
	memset(long_reason, 'r', REQUEST_REASON_MAX + 1);
	long_reason[REQUEST_REASON_MAX + 1] = '\0';
	assert_int_equal(request_extend(&c, q.id, long_reason, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "the reason is longer than 2000 characters");
	free(long_reason);
	int64_t mails = outbox(&r);
	assert_int_equal(request_extend(&c, q.id, "complex: three systems to search", &eb), RC_OK);
	assert_int_equal(outbox(&r), mails + 1); /* the subject is told why */
	assert_int_equal(request_extend(&c, q.id, "and again", &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "the request has been extended once already: GDPR allows one extension");
	char id[TOKEN_ID_MAX];
	memcpy(id, q.id, sizeof id);
	store_request_fini(&q);
	assert_int_equal(request_get(&c, id, &q, NULL), RC_OK);
	assert_int_equal(q.due_at, test_at("2024-09-01"));
	assert_string_equal(q.extension_reason, "complex: three systems to search");
	store_request_fini(&q);

	/* Due 2024-06-14T09:00Z: on the deadline it may still be extended, after it not. */
	assert_int_equal(late.due_at, test_at("2024-06-14T09:00:00Z"));
	c.now = late.due_at + 1;
	assert_int_equal(request_extend(&c, late.id, "too late", &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "the deadline has passed: it can no longer be extended");
	c.now = late.due_at;
	assert_int_equal(request_extend(&c, late.id, "just in time", &eb), RC_OK);
	store_request_fini(&late);
	assert_int_equal(request_extend(&c, "req_nosuch", "x", &eb), RC_NOT_FOUND);
	test_register_free(&r);
}

static void test_status_transitions(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, NULL);
	int64_t mails = outbox(&r);
	struct store_request q, done, refused;
	new_request(&c, sid, "access", NULL, NULL, &q);
	assert_string_equal(q.status, "verifying");
	assert_null(q.verified_by);
	assert_int_equal(q.received_at, c.now);
	assert_int_equal(outbox(&r), mails + 1); /* a link to the address on record */

	/* Not before the requester is verified. */
	assert_int_equal(request_complete(&c, q.id, NULL, &done, &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "the requester's identity is not verified yet: verify the request first");
	assert_int_equal(request_verify(&c, q.id, "", &eb), RC_UNPROCESSABLE);
	assert_int_equal(request_verify(&c, q.id, "passport seen at the desk", &eb), RC_OK);
	assert_string_equal(status(&c, q.id), "in_progress");
	c.now += 3600;
	assert_int_equal(request_complete(&c, q.id, NULL, &done, &eb), RC_OK);
	assert_string_equal(done.status, "completed");
	assert_string_equal(done.outcome, "your data is ready to download");
	assert_string_equal(done.verified_by, "passport seen at the desk");
	assert_int_equal(done.answered_at, c.now);
	store_request_fini(&done);
	assert_int_equal(outbox(&r), mails + 2); /* the answer, with the export link */

	/* Nothing changes an answered request. */
	assert_int_equal(request_complete(&c, q.id, NULL, &done, &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "the request is completed already");
	assert_int_equal(request_refuse(&c, q.id, "manifestly unfounded", &eb), RC_CONFLICT);
	assert_int_equal(request_extend(&c, q.id, "late idea", &eb), RC_CONFLICT);
	assert_int_equal(request_verify(&c, q.id, "again", &eb), RC_CONFLICT);
	assert_string_equal(status(&c, q.id), "completed");
	store_request_fini(&q);

	/* Refusing needs a reason, and is an answer too. */
	new_request(&c, sid, "erasure", NULL, "id card", &refused);
	assert_int_equal(request_refuse(&c, refused.id, NULL, &eb), RC_UNPROCESSABLE);
	assert_string_equal(status(&c, refused.id), "in_progress");
	assert_int_equal(request_refuse(&c, refused.id, "manifestly excessive: the fifth this month", &eb), RC_OK);
	assert_int_equal(request_complete(&c, refused.id, NULL, &done, &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "the request is refused already");
	assert_int_equal(request_refuse(&c, refused.id, "twice", &eb), RC_CONFLICT);
	char id[TOKEN_ID_MAX];
	memcpy(id, refused.id, sizeof id);
	store_request_fini(&refused);
	assert_int_equal(request_get(&c, id, &refused, NULL), RC_OK);
	assert_string_equal(refused.status, "refused");
	assert_string_equal(refused.refusal_reason, "manifestly excessive: the fifth this month");
	assert_int_equal(refused.answered_at, c.now);
	store_request_fini(&refused);
	/* The refused erasure erased nothing. */
	struct subject_view *v = NULL;
	assert_int_equal(subject_read(&c, sid, &v, NULL), RC_OK);
	assert_int_equal(v->nrecords, 1);
	subject_view_free(v);
	assert_int_equal(request_get(&c, "req_nosuch", &q, &eb), RC_NOT_FOUND);
	assert_int_equal(request_verify(&c, "req_nosuch", "x", &eb), RC_NOT_FOUND);
	test_register_free(&r);
}

static void test_verify_by_link(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], other[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, NULL);
	make_subject(&c, "jaan@example.ee", other, rid, NULL);
	struct store_request q;
	new_request(&c, sid, "portability", NULL, NULL, &q);
	struct token_link l = {.kind = 'v', .tenant_id = r.tenant->id, .expires = c.now + 7 * 86400};
	char token[TOKEN_LINK_MAX];
	/* A link naming another subject does not verify it. */
	snprintf(l.subject_id, sizeof l.subject_id, "%s", other);
	snprintf(l.purpose, sizeof l.purpose, "%s", q.id);
	assert_int_equal(token_link_sign(&l, r.tenant->vault.token_key, token), RC_OK);
	assert_int_equal(token_link_verify(token, r.tenant->vault.token_key, c.now, &l), RC_OK);
	assert_int_equal(request_verify_by_link(&c, &l, &eb), RC_NOT_FOUND);
	assert_string_equal(status(&c, q.id), "verifying");
	snprintf(l.subject_id, sizeof l.subject_id, "%s", sid);
	assert_int_equal(token_link_sign(&l, r.tenant->vault.token_key, token), RC_OK);
	assert_int_equal(token_link_verify(token, r.tenant->vault.token_key, c.now, &l), RC_OK);
	assert_int_equal(request_verify_by_link(&c, &l, &eb), RC_OK);
	store_request_fini(&q);
	assert_int_equal(request_get(&c, l.purpose, &q, NULL), RC_OK);
	assert_string_equal(q.status, "in_progress");
	assert_string_equal(q.verified_by, "link to the e-mail on record");
	assert_int_equal(request_verify_by_link(&c, &l, &eb), RC_GONE);
	assert_string_equal(eb.msg, "this request is in_progress: nothing to confirm");
	store_request_fini(&q);
	test_register_free(&r);
}

/* request.read entries of subject sid with this detail. */
static size_t reads(struct test_register *r, const char *sid, const char *detail)
{
	struct store_audit_filter f = {.subject_id = sid, .limit = 1000};
	struct store_audit *e = NULL;
	size_t n = 0, hits = 0;
	assert_int_equal(store_audit_list(r->store, r->tenant->id, &f, &e, &n), RC_OK);
	for (size_t i = 0; i < n; i++)
		hits += !strcmp(e[i].action, "request.read") && (!detail || !strcmp(e[i].detail, detail));
	store_audits_free(e, n);
	return hits;
}

/* verified_by and the reasons are what staff wrote about the person:
 * request_read and request_read_list enter an access entry per subject
 * whose texts they show; request_get and request_list (core's own use)
 * none, and a request with no texts, or whose subject is erased, none. */
static void test_reading_the_texts_is_audited(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char a[TOKEN_ID_MAX], b[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], detail[64];
	struct errbuf eb = {""};
	make_subject(&c, "a@example.ee", a, rid, NULL);
	make_subject(&c, "b@example.ee", b, rid, NULL);
	struct store_request qa[2], qb, got, *v = NULL;
	size_t n = 0;
	new_request(&c, a, "access", NULL, "passport of Mari", &qa[0]);
	new_request(&c, a, "portability", NULL, "id card", &qa[1]);
	new_request(&c, b, "access", NULL, NULL, &qb);
	struct store_request_filter f = {.after = "", .limit = 100};
	assert_int_equal(request_get(&c, qa[0].id, &got, &eb), RC_OK);
	store_request_fini(&got);
	assert_int_equal(request_list(&c, &f, &v, &n), RC_OK);
	store_requests_free(v, n);
	assert_int_equal(reads(&r, a, NULL), 0);

	assert_int_equal(request_read(&c, qa[0].id, &got, &eb), RC_OK);
	assert_string_equal(got.verified_by, "passport of Mari");
	store_request_fini(&got);
	snprintf(detail, sizeof detail, "request=%s", qa[0].id);
	assert_int_equal(reads(&r, a, detail), 1);
	assert_int_equal(request_read(&c, qb.id, &got, &eb), RC_OK);
	store_request_fini(&got);
	assert_int_equal(reads(&r, b, NULL), 0);
	assert_int_equal(request_read(&c, "req_nosuch", &got, &eb), RC_NOT_FOUND);

	assert_int_equal(request_read_list(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 3);
	store_requests_free(v, n);
	assert_int_equal(reads(&r, a, "requests=2"), 1);
	assert_int_equal(reads(&r, b, NULL), 0);

	assert_int_equal(subject_delete(&c, a, &eb), RC_OK);
	assert_int_equal(request_read(&c, qa[0].id, &got, &eb), RC_OK);
	assert_null(got.verified_by);
	store_request_fini(&got);
	assert_int_equal(reads(&r, a, NULL), 2);
	for (int i = 0; i < 2; i++)
		store_request_fini(&qa[i]);
	store_request_fini(&qb);
	test_register_free(&r);
}

static void test_open_and_late_counts(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	c.now = test_at("2024-01-01");
	make_subject(&c, "mari@example.ee", sid, rid, NULL);
	struct store_request q[5], done;
	c.now = test_at("2024-06-01");
	new_request(&c, sid, "access", "2024-04-01", "id card", &q[0]);  /* due 05-01: late */
	new_request(&c, sid, "access", "2024-05-20", "id card", &q[1]);  /* due 06-20 */
	new_request(&c, sid, "access", "2024-05-01", "id card", &q[2]);  /* due 06-01, answered */
	new_request(&c, sid, "access", "2024-05-10", NULL, &q[3]);       /* due 06-10, refused */
	new_request(&c, sid, "access", "2024-05-14", "id card", &q[4]);  /* due 06-14, extended */
	assert_int_equal(request_extend(&c, q[4].id, "archives", &eb), RC_OK);
	assert_int_equal(request_complete(&c, q[2].id, NULL, &done, &eb), RC_OK);
	store_request_fini(&done);
	c.now = test_at("2024-06-02");
	assert_int_equal(request_refuse(&c, q[3].id, "could not verify who asked", &eb), RC_OK);

	c.now = test_at(NOW); /* 2024-06-15 */
	int64_t open = 0, late = 0;
	size_t nopen = 0;
	const char *const *open_names = request_open_names(&nopen);
	/* The open states are the leading run of REQUEST_STATUSES, and only those. */
	assert_int_equal(nopen, 4); /* received, verifying, in_progress, awaiting_acknowledgements */
	for (int i = 0; i < REQUEST_STATUS__COUNT; i++)
		assert_int_equal(request_is_open((enum request_status)i), (size_t)i < nopen);
	assert_int_equal(store_request_counts(r.store, r.tenant->id, open_names, nopen, c.now, &open, &late), RC_OK);
	assert_int_equal(open, 3);
	assert_int_equal(late, 1);
	struct store_request *v = NULL;
	size_t n = 0;
	struct store_request_filter f = {.statuses = open_names, .nstatuses = nopen, .due_before = c.now, .after = "",
	                                 .limit = 100};
	assert_int_equal(request_list(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, q[0].id);
	store_requests_free(v, n);
	f = (struct store_request_filter){.status = "completed", .after = "", .limit = 100};
	assert_int_equal(request_list(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, q[2].id);
	store_requests_free(v, n);
	/* A week later the second one is late too. */
	assert_int_equal(store_request_counts(r.store, r.tenant->id, open_names, nopen, test_at("2024-06-22"), &open, &late), RC_OK);
	assert_int_equal(open, 3);
	assert_int_equal(late, 2);

	/* Answered requests go 6 months after their answer (requests.keep). */
	struct retention_opts o = {0};
	struct retention_report rep;
	c.now = test_at("2024-11-30T23:59:59Z");
	assert_int_equal(retention_sweep(&c, &o, &rep, &eb), RC_OK);
	assert_int_equal(rep.requests_expired, 0);
	retention_report_fini(&rep);
	c.now = test_at("2024-12-01");
	assert_int_equal(retention_sweep(&c, &o, &rep, &eb), RC_OK);
	assert_int_equal(rep.requests_expired, 1);
	retention_report_fini(&rep);
	assert_int_equal(request_get(&c, q[2].id, &done, &eb), RC_NOT_FOUND);
	assert_string_equal(status(&c, q[3].id), "refused");
	c.now = test_at("2024-12-02");
	assert_int_equal(retention_sweep(&c, &o, &rep, &eb), RC_OK);
	assert_int_equal(rep.requests_expired, 1);
	retention_report_fini(&rep);
	assert_int_equal(request_get(&c, q[3].id, &done, &eb), RC_NOT_FOUND);
	assert_string_equal(status(&c, q[0].id), "in_progress"); /* open ones stay */
	for (int i = 0; i < 5; i++)
		store_request_fini(&q[i]);
	test_register_free(&r);
}

/* Completes a verified request of `type` for sid, asserting it is accepted. */
static void complete(const struct core_ctx *c, const char *sid, const char *type, const struct request_exec *x,
                     const char *outcome)
{
	struct store_request q, done;
	struct errbuf eb = {""};
	new_request(c, sid, type, NULL, "id card", &q);
	enum rc rc = request_complete(c, q.id, x, &done, &eb);
	if (rc)
		fail_msg("complete %s: %s", type, err_msg(&eb, rc));
	assert_string_equal(done.outcome, outcome);
	assert_null(done.details);
	store_request_fini(&done);
	store_request_fini(&q);
}

static void test_what_completing_does(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], other[TOKEN_ID_MAX], other_rid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, NULL);
	make_subject(&c, "jaan@example.ee", other, other_rid, NULL);

	/* Details are sealed, readable until the request is answered. */
	struct request_input in = {.type = "rectification", .subject_id = sid, .verified_by = "id card",
	                           .details = "{\"note\":\"my surname is Maasikas-Kask\"}"};
	struct store_request q, done;
	assert_int_equal(request_create(&c, &in, &q, &eb), RC_OK);
	assert_false(test_register_contains(&r, "Maasikas-Kask", 13));
	struct buf b;
	buf_init(&b, 4096);
	assert_int_equal(request_details(&c, &q, &b), RC_OK);
	assert_int_equal(b.len, strlen(in.details));
	assert_memory_equal(b.data, in.details, b.len);
	buf_fini(&b);
	/* A rectification names a record of the subject's own, and what to change. */
	assert_int_equal(request_complete(&c, q.id, NULL, &done, &eb), RC_UNPROCESSABLE);
	struct field_input ch[] = {test_text("name", "Mari Maasikas-Kask")};
	struct request_exec wrong = {.record_id = other_rid, .changes = ch, .nchanges = 1};
	assert_int_equal(request_complete(&c, q.id, &wrong, &done, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "the record to rectify is not the subject's");
	assert_string_equal(status(&c, q.id), "in_progress");
	struct request_exec right = {.record_id = rid, .changes = ch, .nchanges = 1};
	assert_int_equal(request_complete(&c, q.id, &right, &done, &eb), RC_OK);
	assert_string_equal(done.outcome, "1 fields corrected");
	store_request_fini(&done);
	store_request_fini(&q);
	struct record_view *v = NULL;
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_OK);
	for (size_t i = 0; i < v->nfields; i++)
		if (!strcmp(v->fields[i].name, "name"))
			assert_string_equal(v->fields[i].value, "Mari Maasikas-Kask");
	record_view_free(v);
	assert_int_equal(record_read(&c, other_rid, &v, NULL), RC_OK);
	for (size_t i = 0; i < v->nfields; i++)
		if (!strcmp(v->fields[i].name, "name"))
			assert_string_equal(v->fields[i].value, "Mari Maasikas");
	record_view_free(v);

	/* Objection: the purposes named; marketing opt-out: every direct-marketing purpose. */
	struct consent_status cs;
	const char *const purposes[] = {"personalisation"};
	struct request_exec obj = {.purposes = purposes, .npurposes = 1};
	complete(&c, sid, "objection", &obj, "objection recorded for 1 purposes");
	assert_int_equal(consent_check(&c, sid, "personalisation", &cs, NULL), RC_OK);
	assert_string_equal(cs.state, "objected");
	complete(&c, sid, "marketing_optout", NULL, "no more direct marketing (1 purposes)");
	assert_int_equal(consent_check(&c, sid, "direct_marketing", &cs, NULL), RC_OK);
	assert_string_equal(cs.state, "objected");
	new_request(&c, sid, "withdraw_consent", NULL, "id card", &q);
	assert_int_equal(request_complete(&c, q.id, NULL, &done, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "details must name the purposes: {\"purposes\": [...]}");
	store_request_fini(&q);
	/* Restriction: stored, no longer used. */
	complete(&c, sid, "restriction", NULL, "processing of your data is restricted: it is only stored");
	assert_int_equal(consent_check(&c, sid, "contract", &cs, NULL), RC_OK);
	assert_string_equal(cs.state, "restricted");
	assert_false(cs.allowed);

	/* Erasure: everything goes; a new request finds nobody. */
	complete(&c, other, "erasure", NULL, "1 records erased");
	struct request_input again = {.type = "access", .subject_id = other, .verified_by = "id card"};
	assert_int_equal(request_create(&c, &again, &q, &eb), RC_NOT_FOUND);
	struct request_input by_mail = {.type = "access", .lookup_field = "email", .lookup_value = "jaan@example.ee"};
	assert_int_equal(request_create(&c, &by_mail, &q, &eb), RC_NOT_FOUND);
	assert_string_equal(eb.msg, "no subject has that email");
	test_register_free(&r);
}

static void test_by_lookup(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], twin[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, NULL);
	struct store_request q;
	struct request_input in = {.type = "access", .lookup_field = "email", .lookup_value = "MARI@example.EE"};
	assert_int_equal(request_create(&c, &in, &q, &eb), RC_OK);
	assert_string_equal(q.subject_id, sid);
	store_request_fini(&q);
	make_subject(&c, "mari@example.ee", twin, rid, NULL);
	assert_int_equal(request_create(&c, &in, &q, &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "more than one subject has that email: give subject_id");
	struct request_input neither = {.type = "access"};
	assert_int_equal(request_create(&c, &neither, &q, &eb), RC_UNPROCESSABLE);
	test_register_free(&r);
}

static void test_erasure_partial_under_hold_or_law(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	struct store_hold h;
	struct subject_view *v = NULL;

	/* A hold on the subject keeps everything. */
	make_subject(&c, "held@example.ee", sid, rid, NULL);
	struct hold_input hi = {.subject_id = sid, .reason = "tax audit 2024"};
	assert_int_equal(hold_create(&c, &hi, &h, &eb), RC_OK);
	complete(&c, sid, "erasure", NULL, "0 records erased; account kept (a legal hold: tax audit 2024)");
	struct core_ctx dpo = c;
	dpo.role = "dpo";
	assert_int_equal(subject_read(&dpo, sid, &v, NULL), RC_OK);
	assert_int_equal(v->nrecords, 1);
	assert_string_equal(v->records[0].state, "restricted");
	subject_view_free(v);
	free(h.reason);
	free(h.key_id);

	/* A hold on one record keeps that record. */
	make_subject(&c, "dispute@example.ee", sid, rid, oid);
	struct hold_input ho = {.record_id = oid, .reason = "payment dispute"};
	assert_int_equal(hold_create(&c, &ho, &h, &eb), RC_OK);
	complete(&c, sid, "erasure", NULL, "1 records erased; order kept (a legal hold: payment dispute)");
	assert_int_equal(subject_read(&dpo, sid, &v, NULL), RC_OK);
	assert_int_equal(v->nrecords, 1);
	assert_string_equal(v->records[0].id, oid);
	subject_view_free(v);
	free(h.reason);
	free(h.key_id);

	/* A kind a law keeps: named with its rule. */
	make_subject(&c, "books@example.ee", sid, rid, NULL);
	struct field_input acc[] = {{"amount", {VAL_NUMBER, "10.00", 5}}};
	struct record_input e = {.kind = "accounting_entry", .fields = acc, .nfields = 1};
	assert_int_equal(record_add(&c, sid, &e, oid, &eb), RC_OK);
	complete(&c, sid, "erasure", NULL,
	         "1 records erased; accounting_entry kept (not erasable by law: kept 7 years after fulfilled)");
	test_register_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deadlines_in_calendar_months),
		cmocka_unit_test(test_one_extension_with_reason_before_the_deadline),
		cmocka_unit_test(test_status_transitions),
		cmocka_unit_test(test_verify_by_link),
		cmocka_unit_test(test_open_and_late_counts),
		cmocka_unit_test(test_what_completing_does),
		cmocka_unit_test(test_by_lookup),
		cmocka_unit_test(test_erasure_partial_under_hold_or_law),
		cmocka_unit_test(test_reading_the_texts_is_audited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
