/*
 * Legal holds through core/ on a real SQLite file, under
 * policies/webshop.yaml, at a fixed `now` (2024-06-15T12:00:00Z) that the
 * tests move: a hold on a subject or on one record keeps it from erasure and
 * from the retention sweep (counted as held, still due) until it is lifted
 * or its `until` passes; a hold may forbid disclosures; holds are listed by
 * subject or record, and every hold and lift is audited, as is every
 * showing of a reason (hold_read).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "core/disclosure.h"
#include "core/hold.h"
#include "core/retention.h"
#include "core/subject.h"
#include "helpers.h"

#define POLICY "policies/webshop.yaml"
#define NOW "2024-06-15T12:00:00Z"

/* A subject with an account closed on 2024-01-01 (so due then) and an order
 * created on 2020-01-01 (3 years: due 2023-01-01, then anonymised). */
static void make_subject(const struct core_ctx *c, const char *email, char sid[TOKEN_ID_MAX], char rid[TOKEN_ID_MAX],
                         char oid[TOKEN_ID_MAX])
{
	struct field_input acc[] = {test_text("email", email), test_text("name", "Mari Maasikas")};
	struct field_input ord[] = {{"items", {VAL_JSON, "[1]", 3}}, test_text("name", "Mari Maasikas"),
	                            test_text("delivery_address", "Pikk 1, Tallinn")};
	struct event_input closed[] = {{"closed", "2024-01-01"}};
	struct record_input recs[] = {
		{.kind = "account", .fields = acc, .nfields = 2, .created_at = "2019-06-01", .events = closed, .nevents = 1},
		{.kind = "order", .fields = ord, .nfields = 3, .created_at = "2020-01-01"}};
	char rids[2][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	enum rc rc = subject_create(c, recs, 2, sid, rids, &eb);
	if (rc)
		fail_msg("subject_create: %s", err_msg(&eb, rc));
	memcpy(rid, rids[0], TOKEN_ID_MAX);
	memcpy(oid, rids[1], TOKEN_ID_MAX);
}

static void hold(const struct core_ctx *c, const char *sid, const char *rid, const char *reason, const char *until,
                 bool forbid, char id[TOKEN_ID_MAX])
{
	struct hold_input in = {.subject_id = sid, .record_id = rid, .reason = reason, .until = until,
	                        .forbid_disclosure = forbid};
	struct store_hold h;
	struct errbuf eb = {""};
	enum rc rc = hold_create(c, &in, &h, &eb);
	if (rc)
		fail_msg("hold_create: %s", err_msg(&eb, rc));
	memcpy(id, h.id, TOKEN_ID_MAX);
	free(h.reason);
	free(h.key_id);
}

static size_t active(const struct core_ctx *c, const char *sid, const char *rid)
{
	struct store_hold *v = NULL;
	size_t n = 99;
	assert_int_equal(hold_active(c, sid, rid, &v, &n), RC_OK);
	store_holds_free(v, n);
	return n;
}

static size_t audited(struct test_register *r, const char *action, const char *detail)
{
	struct store_audit_filter f = {.limit = 1000};
	struct store_audit *e = NULL;
	size_t n = 0, hits = 0;
	assert_int_equal(store_audit_list(r->store, r->tenant->id, &f, &e, &n), RC_OK);
	for (size_t i = 0; i < n; i++)
		hits += !strcmp(e[i].action, action) && (!detail || (e[i].detail && !strcmp(e[i].detail, detail)));
	store_audits_free(e, n);
	return hits;
}

static void test_create_validates(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, oid);
	char *long_reason = malloc(HOLD_REASON_MAX + 2);
	memset(long_reason, 'r', HOLD_REASON_MAX + 1);
	long_reason[HOLD_REASON_MAX + 1] = '\0';
	struct {
		struct hold_input in;
		enum rc rc;
		const char *msg;
	} cases[] = {
		{{.reason = "x"}, RC_UNPROCESSABLE, "a hold is on a subject_id or on a record_id"},
		{{.subject_id = sid, .record_id = oid, .reason = "x"}, RC_UNPROCESSABLE,
		 "a hold is on a subject_id or on a record_id"},
		{{.subject_id = sid}, RC_UNPROCESSABLE, "a hold needs its reason (at most 1000 characters)"},
		{{.subject_id = sid, .reason = ""}, RC_UNPROCESSABLE, "a hold needs its reason (at most 1000 characters)"},
		{{.subject_id = sid, .reason = long_reason}, RC_UNPROCESSABLE,
		 "a hold needs its reason (at most 1000 characters)"},
		{{.subject_id = sid, .reason = "x", .until = "next year"}, RC_UNPROCESSABLE,
		 "until: not an ISO 8601 date or datetime"},
		{{.subject_id = sid, .reason = "x", .until = NOW}, RC_UNPROCESSABLE, "until: in the past"},
		{{.subject_id = sid, .reason = "x", .until = "2024-01-01"}, RC_UNPROCESSABLE, "until: in the past"},
		{{.subject_id = "sub_nosuch", .reason = "x"}, RC_NOT_FOUND, "no such subject"},
		{{.record_id = "rec_nosuch", .reason = "x"}, RC_NOT_FOUND, "no such record"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct store_hold h;
		eb.msg[0] = '\0';
		enum rc rc = hold_create(&c, &cases[i].in, &h, &eb);
		if (rc != cases[i].rc)
			fail_msg("case %zu: rc %s, want %s (%s)", i, rc_code(rc), rc_code(cases[i].rc), eb.msg);
		assert_string_equal(eb.msg, cases[i].msg);
	}
	free(long_reason);
	assert_int_equal(active(&c, NULL, NULL), 0);
	assert_int_equal(audited(&r, "hold.create", NULL), 0);

	/* A good one: who, when, until when. */
	c.key_id = "k_legal1";
	struct hold_input in = {.subject_id = sid, .reason = "court case 2-24-1234", .until = "2025-06-15T12:00:01Z",
	                        .forbid_disclosure = true};
	struct store_hold h;
	assert_int_equal(hold_create(&c, &in, &h, &eb), RC_OK);
	assert_true(token_id_valid("hld_", h.id));
	struct store_hold *v = NULL;
	size_t n = 0;
	assert_int_equal(hold_active(&c, sid, NULL, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, h.id);
	assert_string_equal(v[0].subject_id, sid);
	assert_string_equal(v[0].record_id, "");
	assert_string_equal(v[0].reason, "court case 2-24-1234");
	assert_string_equal(v[0].key_id, "k_legal1");
	assert_true(v[0].forbid_disclosure);
	assert_int_equal(v[0].created_at, test_at(NOW));
	assert_int_equal(v[0].until, test_at("2025-06-15T12:00:01Z"));
	assert_int_equal(v[0].lifted_at, 0);
	store_holds_free(v, n);
	char detail[96];
	snprintf(detail, sizeof detail, "hold=%s forbid_disclosure=1", h.id);
	assert_int_equal(audited(&r, "hold.create", detail), 1);
	free(h.reason);
	free(h.key_id);
	test_register_free(&r);
}

static void test_listing_and_lifting(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char a[TOKEN_ID_MAX], a_acc[TOKEN_ID_MAX], a_ord[TOKEN_ID_MAX], b[TOKEN_ID_MAX], b_acc[TOKEN_ID_MAX],
	    b_ord[TOKEN_ID_MAX];
	char on_a[TOKEN_ID_MAX], on_a_ord[TOKEN_ID_MAX], on_b[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "a@example.ee", a, a_acc, a_ord);
	make_subject(&c, "b@example.ee", b, b_acc, b_ord);
	hold(&c, a, NULL, "investigation", NULL, false, on_a);
	hold(&c, NULL, a_ord, "payment dispute", NULL, false, on_a_ord);
	hold(&c, b, NULL, "security incident", NULL, false, on_b);
	assert_int_equal(active(&c, NULL, NULL), 3);
	assert_int_equal(active(&c, a, NULL), 2);        /* the subject's, and its records' */
	assert_int_equal(active(&c, NULL, a_acc), 1);    /* the record's subject's */
	assert_int_equal(active(&c, NULL, a_ord), 2);
	assert_int_equal(active(&c, b, NULL), 1);
	assert_int_equal(active(&c, NULL, b_ord), 1);

	c.now += 60;
	assert_int_equal(hold_lift(&c, on_a, &eb), RC_OK);
	assert_int_equal(active(&c, a, NULL), 1);
	assert_int_equal(active(&c, NULL, a_acc), 0);
	assert_int_equal(active(&c, NULL, NULL), 2);
	assert_int_equal(hold_lift(&c, on_a, &eb), RC_NOT_FOUND);
	char msg[128];
	snprintf(msg, sizeof msg, "no active hold '%s'", on_a);
	assert_string_equal(eb.msg, msg);
	assert_int_equal(hold_lift(&c, "hld_nosuch", &eb), RC_NOT_FOUND);
	snprintf(msg, sizeof msg, "hold=%s", on_a);
	assert_int_equal(audited(&r, "hold.lift", msg), 1);
	assert_int_equal(audited(&r, "hold.create", NULL), 3);
	/* Another tenant neither sees nor lifts them. */
	struct tenant *other = test_register_add_tenant(&r, POLICY, "other");
	struct core_ctx oc = {.store = r.store, .tenant = other, .now = c.now};
	assert_int_equal(active(&oc, NULL, NULL), 0);
	assert_int_equal(hold_lift(&oc, on_b, &eb), RC_NOT_FOUND);
	assert_int_equal(active(&c, b, NULL), 1);
	tenant_free(other);
	test_register_free(&r);
}

static void test_hold_keeps_from_erasure_until_lifted(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX], h[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	struct subject_erasure er;
	struct store_subject s;

	/* On the subject: nothing goes; it is restricted. */
	make_subject(&c, "mari@example.ee", sid, rid, oid);
	hold(&c, sid, NULL, "tax audit", NULL, false, h);
	assert_int_equal(subject_erase(&c, sid, &er, &eb), RC_OK);
	assert_int_equal(er.deleted, 0);
	assert_int_equal(er.nkept, 2);
	assert_string_equal(er.kept[0].rule, "a legal hold: tax audit");
	assert_string_equal(er.kept[1].rule, "a legal hold: tax audit");
	subject_erasure_fini(&er);
	assert_int_equal(store_subject_get(r.store, r.tenant->id, sid, &s), RC_OK);
	assert_true(s.restricted);
	store_subject_fini(&s);
	/* Lifted, the next erasure takes everything, the subject too. */
	assert_int_equal(hold_lift(&c, h, &eb), RC_OK);
	assert_int_equal(subject_erase(&c, sid, &er, &eb), RC_OK);
	assert_int_equal(er.deleted, 2);
	assert_int_equal(er.nkept, 0);
	subject_erasure_fini(&er);
	assert_int_equal(store_subject_get(r.store, r.tenant->id, sid, &s), RC_NOT_FOUND);

	/* On one record: only that record stays. */
	make_subject(&c, "jaan@example.ee", sid, rid, oid);
	hold(&c, NULL, oid, "payment dispute", NULL, false, h);
	assert_int_equal(subject_erase(&c, sid, &er, &eb), RC_OK);
	assert_int_equal(er.deleted, 1);
	assert_int_equal(er.nkept, 1);
	assert_string_equal(er.kept[0].kind, "order");
	assert_string_equal(er.kept[0].rule, "a legal hold: payment dispute");
	subject_erasure_fini(&er);
	struct store_record row;
	assert_int_equal(store_record_get(r.store, r.tenant->id, rid, &row), RC_NOT_FOUND);
	assert_int_equal(store_record_get(r.store, r.tenant->id, oid, &row), RC_OK);
	assert_string_equal(row.state, "restricted");
	store_record_fini(&row);

	/* An expired hold keeps nothing. */
	make_subject(&c, "kati@example.ee", sid, rid, oid);
	hold(&c, sid, NULL, "until the end of June", "2024-07-01", false, h);
	c.now = test_at("2024-07-01");
	assert_int_equal(subject_erase(&c, sid, &er, &eb), RC_OK);
	assert_int_equal(er.deleted, 2);
	assert_int_equal(er.nkept, 0);
	subject_erasure_fini(&er);
	test_register_free(&r);
}

static const struct retention_kind_count *kind(const struct retention_report *rep, const char *name)
{
	for (size_t i = 0; i < rep->nkinds; i++)
		if (!strcmp(rep->kinds[i].kind, name))
			return &rep->kinds[i];
	fail_msg("no count for kind %s", name);
	return NULL;
}

static void sweep(const struct core_ctx *c, struct retention_report *rep)
{
	struct retention_opts o = {0};
	struct errbuf eb = {""};
	enum rc rc = retention_sweep(c, &o, rep, &eb);
	if (rc)
		fail_msg("retention_sweep: %s", err_msg(&eb, rc));
}

static void test_hold_keeps_from_the_sweep(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char a[TOKEN_ID_MAX], a_acc[TOKEN_ID_MAX], a_ord[TOKEN_ID_MAX], h_ord[TOKEN_ID_MAX];
	char b[TOKEN_ID_MAX], b_acc[TOKEN_ID_MAX], b_ord[TOKEN_ID_MAX], h_b[TOKEN_ID_MAX];
	struct retention_report rep;
	struct store_record row;
	make_subject(&c, "a@example.ee", a, a_acc, a_ord);
	make_subject(&c, "b@example.ee", b, b_acc, b_ord);
	hold(&c, NULL, a_ord, "payment dispute", NULL, false, h_ord);
	hold(&c, b, NULL, "investigation", "2024-07-01", false, h_b);
	int64_t due = 0;
	assert_int_equal(retention_due_count(&c, &due), RC_OK);
	assert_int_equal(due, 4); /* held ones included */

	/* A's account goes; A's order and all of B are held, and stay due. */
	sweep(&c, &rep);
	assert_int_equal(kind(&rep, "account")->deleted, 1);
	assert_int_equal(kind(&rep, "order")->held, 2); /* accounts: see test_held_counted_once */
	assert_int_equal(kind(&rep, "order")->anonymized, 0);
	assert_int_equal(rep.subjects_deleted, 0);
	retention_report_fini(&rep);
	assert_int_equal(store_record_get(r.store, r.tenant->id, a_acc, &row), RC_NOT_FOUND);
	assert_int_equal(store_record_get(r.store, r.tenant->id, a_ord, &row), RC_OK);
	assert_string_equal(row.state, "active");
	store_record_fini(&row);
	assert_int_equal(retention_due_count(&c, &due), RC_OK);
	assert_int_equal(due, 3);

	/* Lifted: A's order is anonymised, and A, left with nothing, goes. */
	assert_int_equal(hold_lift(&c, h_ord, NULL), RC_OK);
	sweep(&c, &rep);
	assert_int_equal(kind(&rep, "order")->anonymized, 1);
	assert_int_equal(kind(&rep, "order")->held, 1);
	assert_int_equal(rep.subjects_deleted, 1);
	retention_report_fini(&rep);
	assert_int_equal(store_record_get(r.store, r.tenant->id, a_ord, &row), RC_NOT_FOUND);
	struct store_subject s;
	assert_int_equal(store_subject_get(r.store, r.tenant->id, a, &s), RC_NOT_FOUND);

	/* B's hold ends on 1 July: from then on the sweep takes B too. */
	c.now = test_at("2024-06-30T23:59:59Z");
	sweep(&c, &rep);
	assert_int_equal(kind(&rep, "order")->held, 1);
	retention_report_fini(&rep);
	c.now = test_at("2024-07-01");
	sweep(&c, &rep);
	assert_int_equal(kind(&rep, "account")->deleted, 1);
	assert_int_equal(kind(&rep, "order")->anonymized, 1);
	assert_int_equal(rep.subjects_deleted, 1);
	retention_report_fini(&rep);
	assert_int_equal(store_subject_get(r.store, r.tenant->id, b, &s), RC_NOT_FOUND);
	test_register_free(&r);
}

/*
 * Fixed bug (kept as a test): the sweep counted a held record once per pass it is
 * due in (src/core/retention.c, pass(): the hold_covering() branch runs in
 * the trim pass too: retention.c:331). An account record is due for deletion
 * and, because account records may hold an `ip` (truncate_after 30 days),
 * also due for trimming, so one held account is reported as "held 2" (in
 * `privreg sweep` and POST /v1/retention/sweep). Remove the skip() once a
 * held record is counted once.
 */
static void test_held_counted_once(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX], h[TOKEN_ID_MAX];
	struct retention_report rep;
	make_subject(&c, "mari@example.ee", sid, rid, oid);
	hold(&c, sid, NULL, "investigation", NULL, false, h);
	sweep(&c, &rep);
	assert_int_equal(kind(&rep, "order")->held, 1);
	assert_int_equal(kind(&rep, "account")->held, 1);
	retention_report_fini(&rep);
	test_register_free(&r);
}

static void test_forbid_disclosure(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX], plain[TOKEN_ID_MAX], h[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, oid);
	static const char *const fields[] = {"name", "delivery_address"};
	struct disclosure_input in = {.subject_id = sid, .recipient = "courier", .purpose = "contract", .fields = fields,
	                              .nfields = 2};
	struct disclosure_result res;
	assert_int_equal(disclosure_make(&c, &in, &res, &eb), RC_OK);
	assert_int_equal(res.nvalues, 2);
	disclosure_result_fini(&res);
	/* A hold that does not forbid disclosures does not stop one. */
	hold(&c, sid, NULL, "tax audit", NULL, false, plain);
	assert_int_equal(disclosure_make(&c, &in, &res, &eb), RC_OK);
	disclosure_result_fini(&res);
	/* One that does, even on one record only, does; until it is lifted or ends. */
	hold(&c, NULL, oid, "police investigation", "2024-08-01", true, h);
	assert_int_equal(disclosure_make(&c, &in, &res, &eb), RC_FORBIDDEN);
	char msg[160];
	snprintf(msg, sizeof msg, "a legal hold forbids disclosing this subject's data (%s)", h);
	assert_string_equal(eb.msg, msg);
	c.now = test_at("2024-08-01");
	assert_int_equal(disclosure_make(&c, &in, &res, &eb), RC_OK);
	disclosure_result_fini(&res);
	c.now = test_at(NOW);
	assert_int_equal(disclosure_make(&c, &in, &res, &eb), RC_FORBIDDEN);
	assert_int_equal(hold_lift(&c, h, &eb), RC_OK);
	assert_int_equal(disclosure_make(&c, &in, &res, &eb), RC_OK);
	disclosure_result_fini(&res);
	/* Only what was handed over is on the list. */
	struct store_disclosure *v = NULL;
	size_t n = 0;
	assert_int_equal(disclosure_list(&c, sid, &v, &n), RC_OK);
	assert_int_equal(n, 4);
	store_disclosures_free(v, n);
	test_register_free(&r);
}

/* hold.read entries of subject sid (NULL: of none, entered under record rid) with this detail. */
static size_t reads(struct test_register *r, const char *sid, const char *rid, const char *detail)
{
	struct store_audit_filter f = {.limit = 1000};
	struct store_audit *e = NULL;
	size_t n = 0, hits = 0;
	assert_int_equal(store_audit_list(r->store, r->tenant->id, &f, &e, &n), RC_OK);
	for (size_t i = 0; i < n; i++)
		hits += !strcmp(e[i].action, "hold.read") && !strcmp(e[i].detail, detail) &&
		        (sid ? e[i].subject_id && !strcmp(e[i].subject_id, sid) : !e[i].subject_id) &&
		        (rid ? e[i].record_id && !strcmp(e[i].record_id, rid) : !e[i].record_id);
	store_audits_free(e, n);
	return hits;
}

static size_t shown(const struct core_ctx *c, const char *sid, const char *rid, const char *reason)
{
	struct store_hold *v = NULL;
	size_t n = 99, with = 0;
	assert_int_equal(hold_read(c, sid, rid, &v, &n), RC_OK);
	for (size_t i = 0; i < n; i++)
		with += reason ? v[i].reason && !strcmp(v[i].reason, reason) : !v[i].reason;
	store_holds_free(v, n);
	return with;
}

/* A reason is what staff wrote about the person: showing it leaves one
 * access entry per subject shown (hold_active, core's own use, none), the
 * auditor is shown none, and a reason of nobody's ("erased") no entry. */
static void test_read_is_audited(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char a[TOKEN_ID_MAX], a_acc[TOKEN_ID_MAX], a_ord[TOKEN_ID_MAX], b[TOKEN_ID_MAX], b_acc[TOKEN_ID_MAX],
	    b_ord[TOKEN_ID_MAX], id[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "a@example.ee", a, a_acc, a_ord);
	make_subject(&c, "b@example.ee", b, b_acc, b_ord);
	hold(&c, a, NULL, "investigation of Mari", NULL, false, id);
	hold(&c, NULL, a_ord, "payment dispute", NULL, false, id);
	hold(&c, NULL, b_ord, "security incident", NULL, false, id);
	assert_int_equal(active(&c, NULL, NULL), 3);
	assert_int_equal(audited(&r, "hold.read", NULL), 0);

	assert_int_equal(shown(&c, NULL, NULL, "payment dispute"), 1);
	assert_int_equal(reads(&r, a, NULL, "holds=2"), 1);
	assert_int_equal(reads(&r, b, NULL, "holds=1"), 1);
	assert_int_equal(audited(&r, "hold.read", NULL), 2);
	assert_int_equal(shown(&c, NULL, b_ord, "security incident"), 1);
	assert_int_equal(reads(&r, b, NULL, "holds=1"), 2);
	assert_int_equal(audited(&r, "hold.read", NULL), 3);

	c.role = "auditor";
	assert_int_equal(shown(&c, NULL, NULL, NULL), 3);
	assert_int_equal(audited(&r, "hold.read", NULL), 3);
	c.role = "dpo";

	/* A reason left in the clear (written before schema 9, not sealed
	 * yet) is the person's all the same: on a record, its subject's. */
	struct store_hold old = {.reason = "old dispute", .key_id = "cli", .created_at = c.now};
	token_id_new(TOKEN_PREFIX_HOLD, old.id);
	memcpy(old.record_id, a_acc, TOKEN_ID_MAX);
	assert_int_equal(store_hold_insert(r.store, r.tenant->id, &old), RC_OK);
	assert_int_equal(shown(&c, a, NULL, "old dispute"), 1);
	assert_int_equal(reads(&r, a, NULL, "holds=3"), 1);

	/* Erased, B's reason reads "erased": nobody's words, no entry. */
	assert_int_equal(subject_delete(&c, b, &eb), RC_OK);
	assert_int_equal(shown(&c, NULL, b_ord, HOLD_REASON_ERASED), 1);
	assert_int_equal(audited(&r, "hold.read", NULL), 4);
	test_register_free(&r);
}

/* The disclosure log: newest first, by recipient and time, in pages. */
static void test_disclosure_log(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX], made[3][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid, oid);
	static const char *const fields[] = {"name"};
	static const char *const to[] = {"courier", "accountant", "courier"};
	static const char *const why[] = {"contract", "accounting", "contract"};
	for (int i = 0; i < 3; i++) {
		struct disclosure_input in = {.subject_id = sid, .recipient = to[i], .purpose = why[i], .fields = fields,
		                              .nfields = 1};
		struct disclosure_result res;
		c.now = test_at(NOW) + i * 86400;
		assert_int_equal(disclosure_make(&c, &in, &res, &eb), RC_OK);
		memcpy(made[i], res.id, TOKEN_ID_MAX);
		disclosure_result_fini(&res);
		/* The log is newest first by id, and an id carries the
		 * millisecond it was made in (the clock's, not c.now), its
		 * random part ordering ids of one millisecond. */
		usleep(2000);
	}
	struct store_disclosure *v = NULL;
	size_t n = 0;
	struct store_disclosure_filter f = {.limit = 100};
	assert_int_equal(disclosure_log(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 3);
	assert_string_equal(v[0].id, made[2]);
	assert_string_equal(v[2].id, made[0]);
	assert_string_equal(v[0].subject_id, sid);
	store_disclosures_free(v, n);
	f.recipient = "courier";
	assert_int_equal(disclosure_log(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 2);
	store_disclosures_free(v, n);
	f = (struct store_disclosure_filter){.since = test_at(NOW) + 3600, .until = test_at(NOW) + 86400 + 3600, .limit = 100};
	assert_int_equal(disclosure_log(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, made[1]);
	store_disclosures_free(v, n);
	f = (struct store_disclosure_filter){.limit = 2};
	assert_int_equal(disclosure_log(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 2);
	f.before = made[1];
	store_disclosures_free(v, n);
	assert_int_equal(disclosure_log(&c, &f, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].id, made[0]);
	store_disclosures_free(v, n);
	f.limit = 0;
	assert_int_equal(disclosure_log(&c, &f, &v, &n), RC_UNPROCESSABLE);
	test_register_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_validates),
		cmocka_unit_test(test_listing_and_lifting),
		cmocka_unit_test(test_hold_keeps_from_erasure_until_lifted),
		cmocka_unit_test(test_hold_keeps_from_the_sweep),
		cmocka_unit_test(test_held_counted_once),
		cmocka_unit_test(test_forbid_disclosure),
		cmocka_unit_test(test_disclosure_log),
		cmocka_unit_test(test_read_is_audited),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
