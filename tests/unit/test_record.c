/*
 * Records through core/ on a real SQLite file, at a fixed `now`
 * (2024-06-15T12:00:00Z), under policies/webshop.yaml: every value is checked
 * by its field's type and a refused record leaves nothing behind; min_age is
 * counted in whole years to the day; rectification re-seals the value and
 * moves the lookup hash; events set due times by the kind's keep rule; a
 * restricted subject gets nothing new; erasure destroys the key and the rows;
 * and no value written reaches any file of the register in plaintext. A
 * record and a key written by an older privreg (plaintext layout 1 sealed
 * with a 24-byte random nonce, wrapped key format 1) still read, find,
 * rectify (into the new forms) and erase.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/datakey.h"
#include "core/subject.h"
#include "helpers.h"

#define POLICY "policies/webshop.yaml"
#define NOW "2024-06-15T12:00:00Z"

static struct field_input J(const char *name, enum value_kind k, const char *v)
{
	return (struct field_input){name, {k, v, strlen(v)}};
}

static const char *field(const struct record_view *v, const char *name)
{
	for (size_t i = 0; i < v->nfields; i++)
		if (!strcmp(v->fields[i].name, name))
			return v->fields[i].value;
	return NULL;
}

static int64_t nrecords(struct test_register *r)
{
	struct store_counts n = {0};
	assert_int_equal(store_counts(r->store, r->tenant->id, &n), RC_OK);
	return n.records;
}

static size_t find(const struct core_ctx *c, const char *f, const char *v)
{
	char ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	size_t n = 99;
	struct field_value fv = {VAL_STRING, v, strlen(v)};
	assert_int_equal(subject_find(c, f, &fv, ids, SUBJECT_FIND_MAX, &n, NULL), RC_OK);
	return n;
}

/* How many audit entries carry `action`. */
static size_t audited(struct test_register *r, const char *action)
{
	struct store_audit_filter f = {.limit = 1000};
	struct store_audit *e = NULL;
	size_t n = 0, hits = 0;
	assert_int_equal(store_audit_list(r->store, r->tenant->id, &f, &e, &n), RC_OK);
	for (size_t i = 0; i < n; i++)
		hits += !strcmp(e[i].action, action);
	store_audits_free(e, n);
	return hits;
}

/* A subject with one account record (e-mail, name, phone, ip). */
static void make_subject(const struct core_ctx *c, const char *email, char sid[TOKEN_ID_MAX], char rid[TOKEN_ID_MAX])
{
	struct field_input acc[] = {test_text("email", email), test_text("name", "Mari Maasikas"), test_text("phone", "+372 5555 0101"),
	                            test_text("ip", "198.51.100.77")};
	struct record_input rec = {.kind = "account", .fields = acc, .nfields = 4};
	char rids[1][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	enum rc rc = subject_create(c, &rec, 1, sid, rids, &eb);
	if (rc)
		fail_msg("subject_create: %s", err_msg(&eb, rc));
	memcpy(rid, rids[0], TOKEN_ID_MAX);
}

static void test_add_normalises_by_type(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX];
	make_subject(&c, "Mari@Example.EE", sid, rid);
	struct field_input ord[] = {
		J("items", VAL_JSON, "[{\"sku\":\"A-1\",\"qty\":2}]"), J("amount", VAL_NUMBER, "19.90"),
		test_text("payment_method", "bank_link"), test_text("phone", "00372 5555-0101"),
	};
	struct record_input rec = {.kind = "order", .fields = ord, .nfields = 4};
	struct errbuf eb = {""};
	assert_int_equal(record_add(&c, sid, &rec, oid, &eb), RC_OK);
	assert_true(token_id_valid("rec_", oid));
	struct record_view *v = NULL;
	assert_int_equal(record_read(&c, oid, &v, NULL), RC_OK);
	assert_string_equal(v->kind, "order");
	assert_string_equal(v->subject_id, sid);
	assert_string_equal(field(v, "phone"), "+37255550101");
	assert_string_equal(field(v, "amount"), "19.90");
	assert_string_equal(field(v, "payment_method"), "bank_link");
	assert_int_equal(v->created_at, test_at(NOW));
	record_view_free(v);
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_OK);
	assert_string_equal(field(v, "email"), "Mari@example.ee"); /* the domain lower-cased, the local part kept */
	record_view_free(v);
	assert_int_equal(nrecords(&r), 2);
	assert_int_equal(audited(&r, "record.create"), 1);
	test_register_free(&r);
}

static void test_add_refuses_and_writes_nothing(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], nid[TOKEN_ID_MAX] = "";
	make_subject(&c, "mari@example.ee", sid, rid);
	char *long_name = malloc(202), *huge = malloc(70001);
	memset(long_name, 'a', 201);
	long_name[201] = '\0';
	memset(huge, 'b', 70000);
	huge[70000] = '\0';
	static const struct {
		const char *kind, *field, *value;
		enum value_kind vk;
		enum rc rc;
		const char *msg;
	} cases[] = {
		{"account", "iban", "EE382200221020145685", VAL_STRING, RC_UNPROCESSABLE,
		 "unknown field 'iban': the policy does not declare it"},
		{"account", "items", "[]", VAL_JSON, RC_UNPROCESSABLE, "field 'items' is not kept in 'account' records"},
		{"account", "email", "mari at example", VAL_STRING, RC_UNPROCESSABLE, "field email: not an e-mail address"},
		{"account", "phone", "call me", VAL_STRING, RC_UNPROCESSABLE, NULL},
		{"account", "birth_date", "1990-02-30", VAL_STRING, RC_UNPROCESSABLE, NULL},
		{"account", "gender", "robot", VAL_STRING, RC_UNPROCESSABLE, "field gender: not one of the allowed values: female, male, other (case matters)"},
		{"account", "ip", "300.1.2.3", VAL_STRING, RC_UNPROCESSABLE, "field ip: not an IP address"},
		{"order", "amount", "12.3.4", VAL_STRING, RC_UNPROCESSABLE, NULL},
		{"account", "birth_date", "19900228", VAL_NUMBER, RC_UNPROCESSABLE, "field birth_date: expected a string, got a number"},
		{"account", "name", NULL, VAL_STRING, RC_UNPROCESSABLE, "field name: longer than 200 characters"},
		{"message", "message", NULL, VAL_STRING, RC_TOO_LARGE, NULL}, /* over the 64 KiB of any value: 413 */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *value = cases[i].value ? cases[i].value : !strcmp(cases[i].field, "name") ? long_name : huge;
		/* The case's value, beside what the kind requires (unless the case is that field). */
		struct field_input f[2] = {J(cases[i].field, cases[i].vk, value)};
		size_t nf = 1;
		if (!strcmp(cases[i].kind, "account") && strcmp(cases[i].field, "email"))
			f[nf++] = test_text("email", "mari@example.ee");
		if (!strcmp(cases[i].kind, "order") && strcmp(cases[i].field, "items"))
			f[nf++] = J("items", VAL_JSON, "[{\"sku\":\"A-1\"}]");
		struct record_input rec = {.kind = cases[i].kind, .fields = f, .nfields = nf};
		struct errbuf eb = {""};
		enum rc rc = record_add(&c, sid, &rec, nid, &eb);
		if (rc != cases[i].rc)
			fail_msg("case %zu (%s=%.20s): rc %s, want %s (%s)", i, cases[i].field, value, rc_code(rc),
			         rc_code(cases[i].rc), eb.msg);
		if (cases[i].msg)
			assert_string_equal(eb.msg, cases[i].msg);
		assert_string_equal(nid, ""); /* no id handed out */
		assert_int_equal(nrecords(&r), 1);
	}
	/* The kind's required fields, and kinds the policy does not have. */
	struct field_input no_items[] = {J("amount", VAL_NUMBER, "5")};
	struct record_input rec = {.kind = "order", .fields = no_items, .nfields = 1};
	struct errbuf eb = {""};
	assert_int_equal(record_add(&c, sid, &rec, nid, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "field 'items' is required in 'order' records");
	rec.kind = "invoice";
	assert_int_equal(record_add(&c, sid, &rec, nid, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "unknown record kind 'invoice'");
	assert_int_equal(nrecords(&r), 1);
	assert_int_equal(audited(&r, "record.create"), 0);
	free(long_name);
	free(huge);
	test_register_free(&r);
}

static void test_min_age_to_the_day(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r); /* 2024-06-15; the policy's min_age is 14 */
	char sid[TOKEN_ID_MAX], rids[1][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	static const struct {
		const char *birth;
		enum rc rc;
	} cases[] = {
		{"2010-06-15", RC_OK},            /* 14 today */
		{"2010-06-16", RC_UNPROCESSABLE}, /* 14 tomorrow */
		{"2010-06-14", RC_OK},
		{"2024-06-16", RC_UNPROCESSABLE}, /* not born yet */
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct field_input acc[] = {test_text("email", "teen@example.ee"), test_text("birth_date", cases[i].birth)};
		struct record_input rec = {.kind = "account", .fields = acc, .nfields = 2};
		eb.msg[0] = '\0';
		enum rc rc = subject_create(&c, &rec, 1, sid, rids, &eb);
		if (rc != cases[i].rc)
			fail_msg("born %s: rc %s (%s)", cases[i].birth, rc_code(rc), eb.msg);
	}
	assert_string_equal(eb.msg, "field birth_date: in the future");
	struct field_input acc[] = {test_text("email", "teen@example.ee"), test_text("birth_date", "2010-06-16")};
	struct record_input rec = {.kind = "account", .fields = acc, .nfields = 2};
	assert_int_equal(subject_create(&c, &rec, 1, sid, rids, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "the subject is younger than 14, the policy's min_age");
	assert_int_equal(nrecords(&r), 2);
	test_register_free(&r);
}

static void test_rectify_reseals_and_moves_the_lookup(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	make_subject(&c, "old.address@example.ee", sid, rid);
	struct store_record before, after;
	assert_int_equal(store_record_get(r.store, r.tenant->id, rid, &before), RC_OK);
	assert_int_equal(find(&c, "email", "old.address@example.ee"), 1);

	c.now = test_at("2024-06-20T08:00:00Z");
	struct field_input ch[] = {test_text("email", "New.Address@Example.ee")};
	struct errbuf eb = {""};
	assert_int_equal(record_rectify(&c, rid, ch, 1, NULL, 0, &eb), RC_OK);
	assert_int_equal(find(&c, "email", "old.address@example.ee"), 0);
	assert_int_equal(find(&c, "email", "new.address@example.ee"), 1);
	assert_int_equal(find(&c, "phone", "+37255550101"), 1); /* untouched lookups stay */

	assert_int_equal(store_record_get(r.store, r.tenant->id, rid, &after), RC_OK);
	assert_int_equal(after.nlookups, 2);
	assert_int_equal(before.nlookups, 2);
	/* A new ciphertext, and the e-mail's hash replaced, the phone's kept. */
	assert_true(after.data_len != before.data_len || memcmp(after.data, before.data, after.data_len));
	size_t same = 0;
	for (size_t i = 0; i < before.nlookups; i++)
		for (size_t k = 0; k < after.nlookups; k++)
			same += !memcmp(before.lookups + i * VAULT_HASH_LEN, after.lookups + k * VAULT_HASH_LEN, VAULT_HASH_LEN);
	assert_int_equal(same, 1);
	assert_int_equal(after.created_at, before.created_at);
	assert_int_equal(after.updated_at, test_at("2024-06-20T08:00:00Z"));
	store_record_fini(&before);
	store_record_fini(&after);

	struct record_view *v = NULL;
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_OK);
	assert_string_equal(field(v, "email"), "New.Address@example.ee");
	assert_string_equal(field(v, "name"), "Mari Maasikas");
	record_view_free(v);
	/* Neither address, old or new, is on disk in plaintext. */
	const char *values[] = {"old.address", "New.Address", "new.address", "Maasikas", "37255550101", "198.51.100.77"};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		if (test_register_contains(&r, values[i], strlen(values[i])))
			fail_msg("'%s' is on disk in plaintext", values[i]);
	test_register_free(&r);
}

static int64_t due_of(struct test_register *r, const char *rid, int64_t *trim)
{
	struct store_record row;
	assert_int_equal(store_record_get(r->store, r->tenant->id, rid, &row), RC_OK);
	int64_t due = row.due_at;
	if (trim)
		*trim = row.trim_at;
	store_record_fini(&row);
	return due;
}

static void test_events_set_due_times(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX], eid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid);

	/* account: while active: not due until it is closed; its ip cut 30 days after it was written. */
	int64_t trim = 0;
	assert_int_equal(due_of(&r, rid, &trim), 0);
	assert_int_equal(trim, test_at("2024-07-15T12:00:00Z"));
	struct event_input closed[] = {{"closed", "2024-06-15T12:00:00Z"}};
	assert_int_equal(record_rectify(&c, rid, NULL, 0, closed, 1, &eb), RC_OK);
	assert_int_equal(due_of(&r, rid, NULL), test_at("2024-06-15T12:00:00Z"));

	/* order: 3 years after created; a 29 February gives 28 February. */
	struct field_input ord[] = {J("items", VAL_JSON, "[1]")};
	struct record_input o = {.kind = "order", .fields = ord, .nfields = 1, .created_at = "2024-02-29T10:00:00Z"};
	assert_int_equal(record_add(&c, sid, &o, oid, &eb), RC_OK);
	assert_int_equal(due_of(&r, oid, &trim), test_at("2027-02-28T10:00:00Z"));
	assert_int_equal(trim, 0); /* no ip field in orders */

	/* accounting_entry: 7 years after fulfilled: not due before it is. */
	struct field_input acc[] = {J("amount", VAL_NUMBER, "19.90")};
	struct record_input e = {.kind = "accounting_entry", .fields = acc, .nfields = 1, .created_at = "2024-01-15"};
	assert_int_equal(record_add(&c, sid, &e, eid, &eb), RC_OK);
	assert_int_equal(due_of(&r, eid, NULL), 0);
	struct event_input fulfilled[] = {{"fulfilled", "2024-01-31"}};
	assert_int_equal(record_rectify(&c, eid, NULL, 0, fulfilled, 1, &eb), RC_OK);
	assert_int_equal(due_of(&r, eid, NULL), test_at("2031-01-31"));
	/* An event the order declares but its rule does not count from moves
	 * nothing; a corrected fulfilment date does. */
	struct event_input delivered[] = {{"delivered", "2024-03-01T11:00:00Z"}};
	assert_int_equal(record_rectify(&c, oid, NULL, 0, delivered, 1, &eb), RC_OK);
	assert_int_equal(due_of(&r, oid, NULL), test_at("2027-02-28T10:00:00Z"));
	struct event_input fixed[] = {{"fulfilled", "2024-02-29"}};
	assert_int_equal(record_rectify(&c, eid, NULL, 0, fixed, 1, &eb), RC_OK);
	assert_int_equal(due_of(&r, eid, NULL), test_at("2031-02-28"));
	/* Changing a field keeps the due time the events gave. */
	struct field_input amt[] = {J("amount", VAL_NUMBER, "21.00")};
	assert_int_equal(record_rectify(&c, eid, amt, 1, NULL, 0, &eb), RC_OK);
	assert_int_equal(due_of(&r, eid, NULL), test_at("2031-02-28"));

	/* Events in the future or with bad names are refused and change nothing. */
	struct event_input future[] = {{"fulfilled", "2024-06-16"}};
	assert_int_equal(record_rectify(&c, eid, NULL, 0, future, 1, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "fulfilled: in the future");
	struct event_input created[] = {{"created", "2024-01-01"}};
	assert_int_equal(record_rectify(&c, eid, NULL, 0, created, 1, &eb), RC_UNPROCESSABLE);
	struct event_input twice[] = {{"fulfilled", "2024-01-20"}, {"fulfilled", "2024-01-21"}};
	assert_int_equal(record_rectify(&c, eid, NULL, 0, twice, 2, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "event 'fulfilled' is given twice");
	assert_int_equal(due_of(&r, eid, NULL), test_at("2031-02-28"));
	test_register_free(&r);
}

/* The detail of the latest audit entry carrying `action` (copied to out). */
static void last_detail(struct test_register *r, const char *action, char *out, size_t size)
{
	struct store_audit_filter f = {.limit = 1000};
	struct store_audit *e = NULL;
	size_t n = 0;
	int64_t seq = -1;
	assert_int_equal(store_audit_list(r->store, r->tenant->id, &f, &e, &n), RC_OK);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(e[i].action, action) && e[i].seq > seq) {
			seq = e[i].seq;
			snprintf(out, size, "%s", e[i].detail ? e[i].detail : "");
		}
	store_audits_free(e, n);
	assert_true(seq >= 0);
}

/* Issue #10: an event name the kind does not declare is refused, naming the
 * ones it does (a typo would otherwise keep the record forever); so is an
 * event before the record's created_at; an event set again is corrected,
 * its due time recomputed, and the audit entry says which. */
static void test_events_declared_by_the_kind(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], eid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX], mid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid);
	int64_t before = nrecords(&r);

	struct field_input acc[] = {J("amount", VAL_NUMBER, "19.90")};
	struct event_input typo[] = {{"fulfiled", "2024-01-31"}};
	struct record_input e = {.kind = "accounting_entry", .fields = acc, .nfields = 1, .created_at = "2024-01-15",
	                         .events = typo, .nevents = 1};
	assert_int_equal(record_add(&c, sid, &e, eid, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "unknown event 'fulfiled' for kind accounting_entry: allowed: fulfilled");
	struct field_input ord[] = {J("items", VAL_JSON, "[1]")};
	struct record_input o = {.kind = "order", .fields = ord, .nfields = 1, .created_at = "2024-01-15",
	                         .events = typo, .nevents = 1};
	assert_int_equal(record_add(&c, sid, &o, oid, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "unknown event 'fulfiled' for kind order: allowed: fulfilled, delivered");
	struct field_input msg[] = {test_text("message", "hello")};
	struct record_input m = {.kind = "message", .fields = msg, .nfields = 1, .events = typo, .nevents = 1};
	assert_int_equal(record_add(&c, sid, &m, mid, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "unknown event 'fulfiled' for kind message: allowed: none (the keep rule counts from created_at)");
	struct event_input shipped[] = {{"shipped", "2024-02-01"}};
	assert_int_equal(record_rectify(&c, rid, NULL, 0, shipped, 1, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "unknown event 'shipped' for kind account: allowed: closed");

	/* Not before created_at: on import, and later. */
	struct event_input early[] = {{"fulfilled", "2024-01-14T23:59:59Z"}};
	e.events = early;
	assert_int_equal(record_add(&c, sid, &e, eid, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "fulfilled: before the record's created_at");
	assert_int_equal(nrecords(&r), before);
	e.events = NULL;
	e.nevents = 0;
	assert_int_equal(record_add(&c, sid, &e, eid, &eb), RC_OK);
	assert_int_equal(record_rectify(&c, eid, NULL, 0, early, 1, &eb), RC_UNPROCESSABLE);
	assert_int_equal(due_of(&r, eid, NULL), 0);

	/* Set, then corrected: the due time follows, the audit entry names it. */
	struct event_input ful[] = {{"fulfilled", "2024-01-15"}};
	assert_int_equal(record_rectify(&c, eid, NULL, 0, ful, 1, &eb), RC_OK);
	assert_int_equal(due_of(&r, eid, NULL), test_at("2031-01-15"));
	char detail[256];
	last_detail(&r, "record.rectify", detail, sizeof detail);
	assert_string_equal(detail, "fields= events=fulfilled");
	struct event_input fixed[] = {{"fulfilled", "2024-02-29"}};
	assert_int_equal(record_rectify(&c, eid, NULL, 0, fixed, 1, &eb), RC_OK);
	assert_int_equal(due_of(&r, eid, NULL), test_at("2031-02-28"));
	last_detail(&r, "record.rectify", detail, sizeof detail);
	assert_string_equal(detail, "fields= events=fulfilled corrected=fulfilled");
	test_register_free(&r);
}

static void test_restricted_subject_gets_nothing_new(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], nid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid);
	assert_int_equal(subject_set_restricted(&c, sid, true, &eb), RC_OK);
	struct field_input ord[] = {J("items", VAL_JSON, "[1]")};
	struct record_input o = {.kind = "order", .fields = ord, .nfields = 1};
	assert_int_equal(record_add(&c, sid, &o, nid, &eb), RC_CONFLICT);
	assert_string_equal(eb.msg, "the subject's data is restricted (Art. 18): nothing new is added");
	assert_int_equal(nrecords(&r), 1);
	/* Processing roles may not read it; legal claims (dpo) may. */
	struct core_ctx support = c, dpo = c;
	support.role = "support";
	dpo.role = "dpo";
	struct record_view *v = NULL;
	assert_int_equal(record_read(&support, rid, &v, &eb), RC_CONFLICT);
	assert_null(v);
	assert_int_equal(record_read(&dpo, rid, &v, &eb), RC_OK);
	record_view_free(v);
	/* Lifted: records may be added again. */
	assert_int_equal(subject_set_restricted(&c, sid, false, &eb), RC_OK);
	assert_int_equal(record_add(&c, sid, &o, nid, &eb), RC_OK);
	assert_int_equal(nrecords(&r), 2);
	assert_int_equal(subject_set_restricted(&c, "sub_nosuch", true, &eb), RC_NOT_FOUND);
	test_register_free(&r);
}

/*
 * Fixed bug (kept as a test): record_rectify (src/core/record.c:491) never asks
 * subject_usable(), unlike record_add (record.c:320, which refuses any new
 * record of a restricted subject) and record_read (record.c:473). A
 * `support` key, a processing role that may not even read a restricted
 * subject's data, can still change it: the change is committed, and only the
 * read that follows in the API's PATCH (src/api/subjects.c, patch()) answers
 * 409. README: "a restricted subject is refused to processing roles".
 * Remove the skip() once rectify checks it.
 */
static void test_restricted_record_cannot_be_rectified(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid);
	assert_int_equal(subject_set_restricted(&c, sid, true, &eb), RC_OK);
	struct core_ctx support = c;
	support.role = "support";
	struct field_input ch[] = {test_text("name", "Changed While Restricted")};
	assert_int_equal(record_rectify(&support, rid, ch, 1, NULL, 0, &eb), RC_CONFLICT);
	struct record_view *v = NULL;
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_OK);
	assert_string_equal(field(v, "name"), "Mari Maasikas");
	record_view_free(v);
	test_register_free(&r);
}

static void test_erasure_destroys_key_and_rows(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX], oid[TOKEN_ID_MAX], eid[TOKEN_ID_MAX];
	struct errbuf eb = {""};
	make_subject(&c, "mari@example.ee", sid, rid);
	struct field_input ord[] = {J("items", VAL_JSON, "[1]"), test_text("name", "Mari Maasikas")};
	struct record_input o = {.kind = "order", .fields = ord, .nfields = 2};
	assert_int_equal(record_add(&c, sid, &o, oid, &eb), RC_OK);
	/* A second subject, to see that only the first one goes. */
	char sid2[TOKEN_ID_MAX], rid2[TOKEN_ID_MAX];
	make_subject(&c, "jaan@example.ee", sid2, rid2);

	/* Only erasable kinds: everything goes, the subject too. */
	struct store_record backup;
	assert_int_equal(store_record_get(r.store, r.tenant->id, oid, &backup), RC_OK);
	struct subject_erasure er;
	assert_int_equal(subject_erase(&c, sid, &er, &eb), RC_OK);
	assert_int_equal(er.deleted, 2);
	assert_int_equal(er.nkept, 0);
	subject_erasure_fini(&er);
	struct store_subject s;
	assert_int_equal(store_subject_get(r.store, r.tenant->id, sid, &s), RC_NOT_FOUND);
	struct record_view *v = NULL;
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_NOT_FOUND);
	assert_int_equal(record_read(&c, oid, &v, NULL), RC_NOT_FOUND);
	assert_int_equal(nrecords(&r), 1);
	assert_int_equal(find(&c, "email", "mari@example.ee"), 0);
	assert_int_equal(find(&c, "email", "jaan@example.ee"), 1);
	assert_int_equal(subject_erase(&c, sid, &er, &eb), RC_NOT_FOUND);
	store_record_fini(&backup);

	/* A kind a law keeps (accounting_entry, erasable: false) stays, under a new key. */
	struct field_input acc[] = {J("amount", VAL_NUMBER, "19.90"), test_text("name", "Jaan Tamm")};
	struct event_input ful[] = {{"fulfilled", "2024-01-31"}};
	struct record_input e = {.kind = "accounting_entry", .fields = acc, .nfields = 2, .created_at = "2024-01-02",
	                         .events = ful, .nevents = 1};
	assert_int_equal(record_add(&c, sid2, &e, eid, &eb), RC_OK);
	assert_int_equal(store_record_get(r.store, r.tenant->id, eid, &backup), RC_OK);
	struct subject_key old;
	assert_int_equal(datakey_unwrap(&c, sid2, &old, NULL), RC_OK);
	assert_int_equal(subject_erase(&c, sid2, &er, &eb), RC_OK);
	assert_int_equal(er.deleted, 1);
	assert_int_equal(er.nkept, 1);
	assert_string_equal(er.kept[0].kind, "accounting_entry");
	assert_string_equal(er.kept[0].rule, "7 years after fulfilled");
	subject_erasure_fini(&er);
	assert_int_equal(nrecords(&r), 1);
	assert_int_equal(find(&c, "email", "jaan@example.ee"), 0);
	assert_int_equal(store_subject_get(r.store, r.tenant->id, sid2, &s), RC_OK);
	assert_true(s.restricted);
	store_subject_fini(&s);
	/* The kept row is a new ciphertext the old key does not open. */
	struct store_record now_row;
	assert_int_equal(store_record_get(r.store, r.tenant->id, eid, &now_row), RC_OK);
	assert_string_equal(now_row.state, "restricted");
	assert_int_equal(now_row.nlookups, 0);
	assert_int_equal(now_row.due_at, test_at("2031-01-31")); /* kept until its own rule lets it go */
	struct buf out;
	buf_init(&out, 4096);
	assert_int_equal(vault_open_either(&old, now_row.id, now_row.data, now_row.data_len, &out), RC_CRYPTO);
	buf_fini(&out);
	vault_subject_key_wipe(&old);
	store_record_fini(&now_row);
	store_record_fini(&backup);
	/* The kept values open with the new key, for the roles of legal claims. */
	struct core_ctx dpo = c;
	dpo.role = "dpo";
	assert_int_equal(record_read(&dpo, eid, &v, NULL), RC_OK);
	assert_string_equal(field(v, "amount"), "19.90");
	record_view_free(v);
	test_register_free(&r);
}

/* The forms an older privreg wrote, built here as its code built them:
 * plaintext layout 1 (u32 value lengths) sealed with a 24-byte random
 * nonce, and the subject key wrapped in format 1 (4-byte header, 24-byte
 * random nonce). */
static void write_old_forms(struct test_register *r, const struct core_ctx *c, const char *sid, const char *rid,
                            unsigned char *old_data, size_t *old_len)
{
	struct subject_key key;
	assert_int_equal(datakey_unwrap(c, sid, &key, NULL), RC_OK);
	struct record_view *v = NULL;
	assert_int_equal(record_read(c, rid, &v, NULL), RC_OK);
	unsigned char plain[512];
	size_t n = 0;
	plain[n++] = 1;
	for (size_t i = 0; i < v->nfields; i++) {
		size_t nl = strlen(v->fields[i].name), vl = v->fields[i].len;
		plain[n++] = (unsigned char)nl;
		memcpy(plain + n, v->fields[i].name, nl);
		n += nl;
		for (int b = 0; b < 4; b++)
			plain[n++] = (unsigned char)(vl >> (8 * b));
		memcpy(plain + n, v->fields[i].value, vl);
		n += vl;
	}
	record_view_free(v);
	*old_len = n + VAULT_SEAL_OVERHEAD;
	vault_seal(&key, rid, plain, n, old_data);
	struct store_record row;
	assert_int_equal(store_record_get(r->store, r->tenant->id, rid, &row), RC_OK);
	free(row.data);
	row.data = xmalloc(*old_len);
	memcpy(row.data, old_data, *old_len);
	row.data_len = *old_len;
	assert_int_equal(store_record_update(r->store, r->tenant->id, &row), RC_OK);
	store_record_fini(&row);

	unsigned char ad[8 + TOKEN_ID_MAX], w[VAULT_WRAPPED_LEN] = {1, 0, 0, 0};
	uint64_t t = (uint64_t)r->tenant->id;
	for (int i = 0; i < 8; i++)
		ad[i] = (unsigned char)(t >> (8 * i));
	char legacy[TOKEN_ID_MAX];
	memcpy(legacy, sid, TOKEN_ID_MAX);
	token_ids_to_legacy(legacy);
	memcpy(ad + 8, legacy, strlen(legacy));
	randombytes_buf(w + 4, VAULT_NONCE_LEN);
	crypto_aead_xchacha20poly1305_ietf_encrypt(w + 4 + VAULT_NONCE_LEN, NULL, key.k, VAULT_KEY_LEN, ad,
	                                           8 + strlen(legacy), NULL, w + 4, r->tenant->vault.wrap_key);
	assert_int_equal(store_subject_rekey(r->store, r->tenant->id, sid, w, sizeof w), RC_OK);
	vault_subject_key_wipe(&key);
}

static void test_old_forms_read_rectify_and_erase(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at(NOW), &r);
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	make_subject(&c, "vana.aadress@example.ee", sid, rid);
	unsigned char old_data[512];
	size_t old_len = 0;
	write_old_forms(&r, &c, sid, rid, old_data, &old_len);
	struct store_subject s;
	assert_int_equal(store_subject_get(r.store, r.tenant->id, sid, &s), RC_OK);
	assert_int_equal(s.wrapped_len, VAULT_WRAPPED_LEN);
	store_subject_fini(&s);

	/* Read and found as before. */
	struct record_view *v = NULL;
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_OK);
	assert_string_equal(field(v, "email"), "vana.aadress@example.ee");
	assert_string_equal(field(v, "name"), "Mari Maasikas");
	record_view_free(v);
	assert_int_equal(find(&c, "email", "vana.aadress@example.ee"), 1);

	/* Rectified: written again in the new forms, 16 bytes of nonce and 3
	 * bytes per value length fewer. */
	struct field_input ch[] = {test_text("name", "Mari Mets")};
	struct errbuf eb = {""};
	assert_int_equal(record_rectify(&c, rid, ch, 1, NULL, 0, &eb), RC_OK);
	struct store_record now;
	assert_int_equal(store_record_get(r.store, r.tenant->id, rid, &now), RC_OK);
	assert_int_equal(now.data_len, old_len - 16 - 4 * 3 - (strlen("Maasikas") - strlen("Mets")));
	store_record_fini(&now);
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_OK);
	assert_string_equal(field(v, "name"), "Mari Mets");
	assert_string_equal(field(v, "phone"), "+37255550101");
	record_view_free(v);

	/* Erased: the key goes first, and the old ciphertext opens with no
	 * other key. */
	struct subject_key guess;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	assert_int_equal(vault_subject_key_new(&r.tenant->vault, sid, &guess, wrapped), VAULT_WRAPPED2_MIN);
	assert_int_equal(subject_delete(&c, sid, NULL), RC_OK);
	assert_int_equal(record_read(&c, rid, &v, NULL), RC_NOT_FOUND);
	assert_int_equal(find(&c, "email", "vana.aadress@example.ee"), 0);
	struct buf out;
	buf_init(&out, 4096);
	assert_int_equal(vault_open_either(&guess, rid, old_data, old_len, &out), RC_CRYPTO);
	buf_fini(&out);
	vault_subject_key_wipe(&guess);
	test_register_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_normalises_by_type),
		cmocka_unit_test(test_add_refuses_and_writes_nothing),
		cmocka_unit_test(test_min_age_to_the_day),
		cmocka_unit_test(test_rectify_reseals_and_moves_the_lookup),
		cmocka_unit_test(test_events_set_due_times),
		cmocka_unit_test(test_events_declared_by_the_kind),
		cmocka_unit_test(test_restricted_subject_gets_nothing_new),
		cmocka_unit_test(test_restricted_record_cannot_be_rectified),
		cmocka_unit_test(test_erasure_destroys_key_and_rows),
		cmocka_unit_test(test_old_forms_read_rectify_and_erase),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
