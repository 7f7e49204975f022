/*
 * Subjects and records through core/ on a real SQLite file: create, read,
 * find, rectify, delete; refused writes leave nothing behind; tenants cannot
 * see each other; nothing personal reaches the disk in plaintext.
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

#include "core/audit.h"
#include "core/tenant.h"
#include "core/subject.h"
#include "helpers.h"

#define POLICY "policies/webshop.yaml"

static struct field_input S(const char *name, const char *v)
{
	return (struct field_input){name, {VAL_STRING, v, strlen(v)}};
}

static struct field_input J(const char *name, enum value_kind k, const char *v)
{
	return (struct field_input){name, {k, v, strlen(v)}};
}

static struct core_ctx ctx(struct test_register *r)
{
	return (struct core_ctx){.store = r->store, .tenant = r->tenant};
}

static const char *field(const struct record_view *v, const char *name)
{
	for (size_t i = 0; i < v->nfields; i++)
		if (!strcmp(v->fields[i].name, name))
			return v->fields[i].value;
	return NULL;
}

static struct store_counts counts(struct test_register *r)
{
	struct store_counts c = {0};
	assert_int_equal(store_counts(r->store, r->tenant->id, &c), RC_OK);
	return c;
}

static size_t find(const struct core_ctx *c, const char *f, const char *v, char (*ids)[TOKEN_ID_MAX])
{
	size_t n = 99;
	struct field_value fv = {VAL_STRING, v, strlen(v)};
	assert_int_equal(subject_find(c, f, &fv, ids, SUBJECT_FIND_MAX, &n, NULL), RC_OK);
	return n;
}

/* Alice: an account and an order. */
static void make_alice(const struct core_ctx *c, char sid[TOKEN_ID_MAX], char rids[2][TOKEN_ID_MAX])
{
	struct field_input acc[] = {
		S("email", "Alice.Tamm@Example.ee"), S("name", "Alice Tamm"), S("phone", "+372 5123 4567"),
		S("birth_date", "1990-02-28"), S("language", "et"), S("ip", "192.0.2.44"),
	};
	struct field_input ord[] = {
		S("name", "Alice Tamm"), S("delivery_address", "Pikk 1, Tallinn"),
		J("items", VAL_JSON, "[{\"sku\":\"KB-1\",\"qty\":1}]"), J("amount", VAL_NUMBER, "49.90"),
		S("payment_method", "card"),
	};
	struct event_input ev[] = {{"fulfilled", "2024-03-02"}};
	struct record_input recs[] = {
		{.kind = "account", .fields = acc, .nfields = 6},
		{.kind = "order", .fields = ord, .nfields = 5, .created_at = "2024-03-01T10:00:00+02:00",
		 .events = ev, .nevents = 1},
	};
	struct errbuf eb = {""};
	enum rc rc = subject_create(c, recs, 2, sid, rids, &eb);
	if (rc)
		fail_msg("subject_create: %s", err_msg(&eb, rc));
}

static void test_create_read(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	assert_true(token_id_valid("sub_", sid));
	assert_true(token_id_valid("rec_", rids[0]));
	assert_int_equal(counts(&r).subjects, 1);
	assert_int_equal(counts(&r).records, 2);

	struct subject_view *v = NULL;
	assert_int_equal(subject_read(&c, sid, &v, NULL), RC_OK);
	assert_int_equal(v->nrecords, 2);
	const struct record_view *acc = strcmp(v->records[0].kind, "account") ? &v->records[1] : &v->records[0];
	const struct record_view *ord = acc == &v->records[0] ? &v->records[1] : &v->records[0];
	assert_string_equal(field(acc, "email"), "Alice.Tamm@example.ee");
	assert_string_equal(field(acc, "phone"), "+37251234567");
	assert_string_equal(field(acc, "name"), "Alice Tamm");
	assert_string_equal(field(ord, "amount"), "49.90");
	assert_string_equal(field(ord, "items"), "[{\"sku\":\"KB-1\",\"qty\":1}]");
	assert_string_equal(ord->state, "active");
	char when[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(ord->created_at, when);
	assert_string_equal(when, "2024-03-01T08:00:00Z");
	assert_int_equal(ord->nevents, 1);
	assert_string_equal(ord->events[0].name, "fulfilled");
	subject_view_free(v);

	struct record_view *rv = NULL;
	assert_int_equal(record_read(&c, rids[0], &rv, NULL), RC_OK);
	assert_string_equal(rv->subject_id, sid);
	record_view_free(rv);

	/* Nothing personal is in any file of the register. */
	const char *values[] = {"Alice", "Tamm", "lice.tamm", "example.ee", "37251234567", "Pikk 1", "KB-1",
	                        "192.0.2.44", "1990-02-28"};
	for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
		if (test_register_contains(&r, values[i], strlen(values[i])))
			fail_msg("'%s' is on disk in plaintext", values[i]);
	test_register_free(&r);
}

static void test_find(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX], ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	assert_int_equal(find(&c, "email", "alice.tamm@example.ee", ids), 1);
	assert_string_equal(ids[0], sid);
	assert_int_equal(find(&c, "email", "  ALICE.TAMM@EXAMPLE.EE", ids), 1);
	assert_int_equal(find(&c, "phone", "00372 5123-4567", ids), 1);
	assert_int_equal(find(&c, "email", "bob@example.ee", ids), 0);
	size_t n;
	struct field_value fv = {VAL_STRING, "Alice Tamm", 10};
	assert_int_equal(subject_find(&c, "name", &fv, ids, 10, &n, NULL), RC_UNPROCESSABLE); /* not a lookup field */
	test_register_free(&r);
}

static void test_rectify(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX], ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	struct field_input ch[] = {S("email", "alice@new.example"), J("phone", VAL_NULL, "")};
	char closed_at[TIMEUTIL_DATETIME_LEN]; /* not before the account was created */
	timeutil_format_datetime(timeutil_now(), closed_at);
	struct event_input ev[] = {{"closed", closed_at}};
	struct errbuf eb = {""};
	assert_int_equal(record_rectify(&c, rids[0], ch, 2, ev, 1, &eb), RC_OK);
	assert_int_equal(find(&c, "email", "alice.tamm@example.ee", ids), 0);
	assert_int_equal(find(&c, "email", "alice@new.example", ids), 1);
	assert_int_equal(find(&c, "phone", "+37251234567", ids), 0);
	struct record_view *rv = NULL;
	assert_int_equal(record_read(&c, rids[0], &rv, NULL), RC_OK);
	assert_string_equal(field(rv, "email"), "alice@new.example");
	assert_null(field(rv, "phone"));
	assert_string_equal(field(rv, "name"), "Alice Tamm");
	assert_int_equal(rv->nevents, 1);
	assert_string_equal(rv->events[0].name, "closed");
	record_view_free(rv);

	/* Refused rectifications change nothing. */
	struct field_input rm_required[] = {J("email", VAL_NULL, "")};
	assert_int_equal(record_rectify(&c, rids[0], rm_required, 1, NULL, 0, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "field 'email' is required in 'account' records");
	struct field_input bad_mix[] = {S("name", "Alice Changed"), S("email", "not an email")};
	assert_int_equal(record_rectify(&c, rids[0], bad_mix, 2, NULL, 0, &eb), RC_UNPROCESSABLE);
	struct field_input young[] = {S("birth_date", "2020-01-01")};
	assert_int_equal(record_rectify(&c, rids[0], young, 1, NULL, 0, &eb), RC_UNPROCESSABLE);
	struct event_input future[] = {{"closed", "2999-01-01"}};
	assert_int_equal(record_rectify(&c, rids[0], NULL, 0, future, 1, &eb), RC_UNPROCESSABLE);
	assert_int_equal(record_read(&c, rids[0], &rv, NULL), RC_OK);
	assert_string_equal(field(rv, "name"), "Alice Tamm");
	assert_string_equal(field(rv, "birth_date"), "1990-02-28");
	assert_string_equal(rv->events[0].name, "closed");
	record_view_free(rv);
	assert_int_equal(find(&c, "email", "alice@new.example", ids), 1);
	assert_int_equal(record_rectify(&c, "rec_nosuch", ch, 1, NULL, 0, &eb), RC_NOT_FOUND);
	test_register_free(&r);
}

static void test_refused_writes(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[3][TOKEN_ID_MAX], ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	struct field_input good[] = {S("email", "carol@example.ee")};
	struct field_input cases[][2] = {
		{S("email", "carol@example.ee"), S("iban", "EE38")},          /* unknown field */
		{S("email", "carol@example.ee"), S("items", "x")},            /* not in the kind */
		{S("email", "carol@example.ee"), S("birth_date", "2015-01-01")}, /* under min_age */
		{S("email", "carol@example.ee"), S("email", "c2@example.ee")}, /* given twice */
		{S("email", "carol@example.ee"), S("gender", "robot")},        /* not in the enum */
		{S("name", "Carol"), S("language", "et")},                      /* email is required */
	};
	const char *msgs[] = {
		"records[1]: unknown field 'iban': the policy does not declare it",
		"records[1]: field 'items' is not kept in 'account' records",
		"records[1]: the subject is younger than 14, the policy's min_age",
		"records[1]: field 'email' is given twice",
		"records[1]: field gender: not one of the allowed values: female, male, other (case matters)",
		"records[1]: field 'email' is required in 'account' records",
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		/* The first record is valid; the second is not: neither is kept. */
		struct record_input recs[] = {{.kind = "account", .fields = good, .nfields = 1},
		                              {.kind = "account", .fields = cases[i], .nfields = 2}};
		eb.msg[0] = '\0';
		assert_int_equal(subject_create(&c, recs, 2, sid, rids, &eb), RC_UNPROCESSABLE);
		assert_string_equal(eb.msg, msgs[i]);
		assert_int_equal(counts(&r).subjects, 0);
		assert_int_equal(counts(&r).records, 0);
		assert_int_equal(find(&c, "email", "carol@example.ee", ids), 0);
	}
	struct record_input unknown_kind = {.kind = "invoice", .fields = good, .nfields = 1};
	assert_int_equal(subject_create(&c, &unknown_kind, 1, sid, rids, &eb), RC_UNPROCESSABLE);
	assert_string_equal(eb.msg, "unknown record kind 'invoice'");
	struct record_input future = {.kind = "account", .fields = good, .nfields = 1, .created_at = "2999-01-01"};
	assert_int_equal(subject_create(&c, &future, 1, sid, rids, &eb), RC_UNPROCESSABLE);
	struct event_input bad_ev[] = {{"Fulfilled!", "2024-01-01"}};
	struct record_input badev = {.kind = "account", .fields = good, .nfields = 1, .events = bad_ev, .nevents = 1};
	assert_int_equal(subject_create(&c, &badev, 1, sid, rids, &eb), RC_UNPROCESSABLE);
	assert_int_equal(subject_create(&c, NULL, 0, sid, rids, &eb), RC_UNPROCESSABLE);
	assert_int_equal(counts(&r).subjects, 0);

	/* record_add to a missing subject adds nothing. */
	struct record_input one = {.kind = "account", .fields = good, .nfields = 1};
	assert_int_equal(record_add(&c, "sub_nosuch", &one, rids[0], &eb), RC_NOT_FOUND);
	assert_int_equal(counts(&r).records, 0);
	test_register_free(&r);
}

static void test_delete_shreds(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX], ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	/* Keep a copy of the sealed row, as a backup would. */
	struct store_record backup;
	assert_int_equal(store_record_get(r.store, r.tenant->id, rids[0], &backup), RC_OK);
	assert_int_equal(subject_delete(&c, sid, NULL), RC_OK);
	struct subject_view *v = NULL;
	assert_int_equal(subject_read(&c, sid, &v, NULL), RC_NOT_FOUND);
	assert_int_equal(counts(&r).subjects, 0);
	assert_int_equal(counts(&r).records, 0);
	assert_int_equal(find(&c, "email", "alice.tamm@example.ee", ids), 0);
	assert_int_equal(subject_delete(&c, sid, NULL), RC_NOT_FOUND);
	/* Re-inserting the backed-up row under a new subject key does not open it. */
	struct subject_key guess;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	assert_int_equal(vault_subject_key_new(&r.tenant->vault, sid, &guess, wrapped), VAULT_WRAPPED2_MIN);
	struct buf out;
	buf_init(&out, 4096);
	assert_int_equal(vault_open_either(&guess, backup.id, backup.data, backup.data_len, &out), RC_CRYPTO);
	buf_fini(&out);
	store_record_fini(&backup);
	test_register_free(&r);
}

static void test_tenants_isolated(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "shop_a");
	struct tenant *b = test_register_add_tenant(&r, POLICY, "shop_b");
	struct core_ctx ca = ctx(&r), cb = {.store = r.store, .tenant = b};
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX], ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	make_alice(&ca, sid, rids);
	struct subject_view *v = NULL;
	struct record_view *rv = NULL;
	struct errbuf eb = {""};
	assert_int_equal(subject_read(&cb, sid, &v, NULL), RC_NOT_FOUND);
	assert_int_equal(record_read(&cb, rids[0], &rv, NULL), RC_NOT_FOUND);
	assert_int_equal(find(&cb, "email", "alice.tamm@example.ee", ids), 0);
	struct field_input ch[] = {S("name", "Mallory")};
	assert_int_equal(record_rectify(&cb, rids[0], ch, 1, NULL, 0, &eb), RC_NOT_FOUND);
	struct field_input good[] = {S("email", "x@example.ee")};
	struct record_input one = {.kind = "account", .fields = good, .nfields = 1};
	char rid[TOKEN_ID_MAX];
	assert_int_equal(record_add(&cb, sid, &one, rid, &eb), RC_NOT_FOUND);
	assert_int_equal(subject_delete(&cb, sid, NULL), RC_NOT_FOUND);
	assert_int_equal(subject_read(&ca, sid, &v, NULL), RC_OK);
	subject_view_free(v);
	/* The same e-mail in B is B's own subject, hashed under B's key. */
	char sid_b[TOKEN_ID_MAX], rid_b[1][TOKEN_ID_MAX];
	struct field_input same[] = {S("email", "alice.tamm@example.ee")};
	struct record_input rb = {.kind = "account", .fields = same, .nfields = 1};
	assert_int_equal(subject_create(&cb, &rb, 1, sid_b, rid_b, &eb), RC_OK);
	assert_int_equal(find(&ca, "email", "alice.tamm@example.ee", ids), 1);
	assert_string_equal(ids[0], sid);
	assert_int_equal(find(&cb, "email", "alice.tamm@example.ee", ids), 1);
	assert_string_equal(ids[0], sid_b);
	tenant_free(b);
	test_register_free(&r);
}

static void test_tampered_row(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	/* Copy the order's ciphertext over the account's: each is bound to its own id. */
	const char *sql = "UPDATE records SET data = (SELECT data FROM records WHERE kind = 'order') "
	                  "WHERE kind = 'account'";
	int changes = 0;
	assert_int_equal(test_sql(&r, sql, &changes), 0);
	assert_int_equal(changes, 1);
	struct record_view *rv = NULL;
	assert_int_equal(record_read(&c, rids[0], &rv, NULL), RC_CRYPTO);
	assert_int_equal(record_read(&c, rids[1], &rv, NULL), RC_OK);
	record_view_free(rv);
	struct subject_view *v = NULL;
	assert_int_equal(subject_read(&c, sid, &v, NULL), RC_CRYPTO);
	test_register_free(&r);
}

/* A record's state 'active' and an updated_at equal to its created_at are
 * stored as nothing ('' and 0); rows with the values spelt out, as older
 * registers hold them, read the same. */
static void test_record_defaults_stored_as_nothing(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	struct store_record before, after;
	assert_int_equal(store_record_get(r.store, r.tenant->id, rids[0], &before), RC_OK);
	assert_string_equal(before.state, "active");
	assert_int_equal(before.updated_at, before.created_at);
	int changes = 0;
	assert_int_equal(test_sql(&r, "UPDATE records SET state = 'active' WHERE state = ''", &changes), 0);
	assert_int_equal(changes, 2);
	/* The order was made with an earlier created_at: its updated_at is its own. */
	assert_int_equal(test_sql(&r, "UPDATE records SET updated_at = created_at WHERE updated_at = 0", &changes), 0);
	assert_int_equal(changes, 1);
	assert_int_equal(store_record_get(r.store, r.tenant->id, rids[0], &after), RC_OK);
	assert_string_equal(after.state, "active");
	assert_int_equal(after.updated_at, before.created_at);
	assert_int_equal(after.created_at, before.created_at);
	store_record_fini(&before);
	store_record_fini(&after);
	struct record_view *rv = NULL;
	assert_int_equal(record_read(&c, rids[1], &rv, NULL), RC_OK);
	assert_string_equal(rv->state, "active");
	assert_true(rv->updated_at > rv->created_at);
	record_view_free(rv);
	test_register_free(&r);
}

static void test_nested_transactions(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX], sid2[TOKEN_ID_MAX], rids2[2][TOKEN_ID_MAX];
	assert_int_equal(store_begin(r.store), RC_OK);
	make_alice(&c, sid, rids);
	assert_int_equal(store_begin(r.store), RC_OK);
	make_alice(&c, sid2, rids2);
	store_rollback(r.store);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_int_equal(counts(&r).subjects, 1);
	struct subject_view *v = NULL;
	assert_int_equal(subject_read(&c, sid2, &v, NULL), RC_NOT_FOUND);
	assert_int_equal(subject_read(&c, sid, &v, NULL), RC_OK);
	subject_view_free(v);
	/* An outer rollback undoes everything inside it. */
	assert_int_equal(store_begin(r.store), RC_OK);
	make_alice(&c, sid2, rids2);
	store_rollback(r.store);
	assert_int_equal(counts(&r).subjects, 1);
	test_register_free(&r);
}

static void test_apikeys(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct store_apikey k = {.tenant_id = r.tenant->id, .role = "dpo", .created_at = 100};
	char key[TOKEN_APIKEY_MAX];
	token_apikey_new(k.key_id, key, k.hash);
	assert_int_equal(store_apikey_insert(r.store, &k), RC_OK);
	assert_int_equal(store_apikey_insert(r.store, &k), RC_EXISTS);
	struct store_apikey got;
	assert_int_equal(store_apikey_get(r.store, k.key_id, &got), RC_OK);
	assert_string_equal(got.role, "dpo");
	assert_true(token_hash_equal(got.hash, k.hash));
	assert_int_equal(got.revoked_at, 0);
	store_apikey_fini(&got);
	assert_int_equal(store_apikey_revoke(r.store, r.tenant->id + 1, k.key_id, 200), RC_NOT_FOUND);
	assert_int_equal(store_apikey_revoke(r.store, r.tenant->id, k.key_id, 200), RC_OK);
	assert_int_equal(store_apikey_revoke(r.store, r.tenant->id, k.key_id, 300), RC_NOT_FOUND);
	struct store_apikey *list = NULL;
	size_t n = 0;
	assert_int_equal(store_apikey_list(r.store, r.tenant->id, &list, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(list[0].revoked_at, 200);
	store_apikeys_free(list, n);
	/* The secret itself is nowhere on disk. */
	assert_false(test_register_contains(&r, key + 4 + TOKEN_KEY_ID_LEN + 1, 20));
	test_register_free(&r);
}

static enum rc key_add(struct test_register *r, struct store_apikey *k)
{
	char key[TOKEN_APIKEY_MAX];
	*k = (struct store_apikey){.tenant_id = r->tenant->id, .role = "dpo", .created_at = 100};
	token_apikey_new(k->key_id, key, k->hash);
	return store_apikey_insert(r->store, k);
}

static bool key_exists(struct test_register *r, const struct store_apikey *k)
{
	struct store_apikey got;
	enum rc rc = store_apikey_get(r->store, k->key_id, &got);
	store_apikey_fini(&got);
	return rc == RC_OK;
}

/* What PostgreSQL sends later, in one flight with the next statement (a
 * transaction's BEGIN and lock, savepoints, an INSERT's own savepoint, an
 * access entry), keeps the answers a statement at a time gave: a
 * conflicting insert is RC_EXISTS and its transaction goes on, even as the
 * transaction's first statement; levels with nothing in them cost nothing
 * and change nothing; a failed access entry fails its transaction. */
static void test_flights(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct store_apikey k1, k2, k3, k4;
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(key_add(&r, &k1), RC_OK);
	assert_int_equal(store_apikey_insert(r.store, &k1), RC_EXISTS);
	assert_int_equal(key_add(&r, &k2), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_true(key_exists(&r, &k1) && key_exists(&r, &k2));

	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(store_apikey_insert(r.store, &k1), RC_EXISTS); /* the first statement */
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_int_equal(store_begin(r.store), RC_OK);
	store_rollback(r.store);
	assert_int_equal(store_begin_read(r.store), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_int_equal(key_add(&r, &k3), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_true(key_exists(&r, &k3));

	/* A transaction that ran nothing, then one that only read. */
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_int_equal(store_begin_read(r.store), RC_OK);
	assert_true(key_exists(&r, &k3));
	store_rollback(r.store);
	assert_int_equal(store_begin_read(r.store), RC_OK);
	assert_true(key_exists(&r, &k2));
	assert_int_equal(store_commit(r.store), RC_OK);

	/* An entry whose seq is taken fails its transaction: at once or at
	 * the commit, and nothing of the transaction stays. */
	struct store_audit e = {.at = 100, .key_id = "k", .role = "dpo", .action = "test", .outcome = "ok"};
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(store_audit_head(r.store, r.tenant->id, &e.seq, e.prev_hash), RC_OK);
	e.seq++;
	assert_int_equal(store_audit_insert(r.store, r.tenant->id, &e), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(key_add(&r, &k4), RC_OK);
	enum rc rc = store_audit_insert(r.store, r.tenant->id, &e);
	if (rc)
		store_rollback(r.store);
	else
		rc = store_commit(r.store);
	assert_int_not_equal(rc, RC_OK);
	assert_false(key_exists(&r, &k4));
	/* The connection is usable again. */
	assert_int_equal(store_begin(r.store), RC_OK);
	e.seq++;
	assert_int_equal(store_audit_insert(r.store, r.tenant->id, &e), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);

	/* An entry that fails after it was deferred (PostgreSQL) fails the
	 * statement it travels with as the transaction's error, never as that
	 * statement's RC_EXISTS, which a caller may answer and go on from. */
	struct store_apikey k5;
	assert_int_equal(store_begin(r.store), RC_OK);
	rc = store_audit_insert(r.store, r.tenant->id, &e); /* e.seq is taken */
	if (!rc)
		assert_int_equal(key_add(&r, &k5), RC_DB);
	else
		assert_int_equal(rc, RC_EXISTS); /* SQLite: the entry's own insert */
	store_rollback(r.store);
	assert_int_equal(store_begin(r.store), RC_OK);
	e.seq++;
	assert_int_equal(store_audit_insert(r.store, r.tenant->id, &e), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	test_register_free(&r);
}

/* The statuses a request filter or count takes are the caller's set, bound
 * as parameters: NULL/0 is any status, more than the slots is refused. */
static void test_request_statuses(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	static const char *const statuses[] = {"received", "verifying", "in_progress", "completed", "refused"};
	char sid[TOKEN_ID_MAX];
	token_id_new("sub_", sid);
	for (int i = 0; i < 5; i++) {
		struct store_request q = {.type = "access", .status = (char *)statuses[i], .received_at = 100,
		                          .due_at = 1000 + 1000 * i};
		token_id_new("req_", q.id);
		memcpy(q.subject_id, sid, TOKEN_ID_MAX);
		assert_int_equal(store_request_insert(r.store, r.tenant->id, &q), RC_OK);
	}
	struct store_request *v = NULL;
	size_t n = 0;
	struct store_request_filter f = {.limit = 100};
	assert_int_equal(store_requests_list(r.store, r.tenant->id, &f, &v, &n), RC_OK);
	assert_int_equal(n, 5);
	store_requests_free(v, n);
	f.statuses = statuses;
	f.nstatuses = 3;
	assert_int_equal(store_requests_list(r.store, r.tenant->id, &f, &v, &n), RC_OK);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < n; i++)
		assert_true(strcmp(v[i].status, "completed") && strcmp(v[i].status, "refused"));
	store_requests_free(v, n);
	f.status = "completed"; /* and-ed with the set: not in it */
	assert_int_equal(store_requests_list(r.store, r.tenant->id, &f, &v, &n), RC_OK);
	assert_int_equal(n, 0);
	store_requests_free(v, n);
	f.status = "verifying";
	f.due_before = 2500;
	assert_int_equal(store_requests_list(r.store, r.tenant->id, &f, &v, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_string_equal(v[0].status, "verifying");
	store_requests_free(v, n);

	int64_t open = -1, late = -1;
	assert_int_equal(store_request_counts(r.store, r.tenant->id, statuses, 3, 2500, &open, &late), RC_OK);
	assert_int_equal(open, 3);
	assert_int_equal(late, 2);
	assert_int_equal(store_request_counts(r.store, r.tenant->id, statuses + 3, 2, 2500, &open, &late), RC_OK);
	assert_int_equal(open, 2);
	assert_int_equal(late, 0);
	assert_int_equal(store_request_counts(r.store, r.tenant->id, NULL, 0, 2500, &open, &late), RC_OK);
	assert_int_equal(open, 5);
	assert_int_equal(late, 2);

	const char *const many[STORE_STATUSES_MAX + 1] = {"received", "a", "b", "c", "d", "e", "f", "g", "h"};
	assert_int_equal(store_request_counts(r.store, r.tenant->id, many, STORE_STATUSES_MAX, 2500, &open, &late),
	                 RC_OK);
	assert_int_equal(open, 1);
	assert_int_equal(store_request_counts(r.store, r.tenant->id, many, STORE_STATUSES_MAX + 1, 2500, &open, &late),
	                 RC_INVALID);
	f = (struct store_request_filter){.statuses = many, .nstatuses = STORE_STATUSES_MAX + 1, .limit = 100};
	assert_int_equal(store_requests_list(r.store, r.tenant->id, &f, &v, &n), RC_INVALID);
	assert_int_equal(n, 0);
	test_register_free(&r);
}

static size_t audit_all(struct test_register *r, struct store_audit **v)
{
	struct store_audit_filter f = {.limit = 1000};
	size_t n = 0;
	assert_int_equal(store_audit_list(r->store, r->tenant->id, &f, v, &n), RC_OK);
	return n;
}

static void test_audit_chain(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	c.key_id = "k123";
	c.role = "dpo";
	c.purpose = "contract";
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX], ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	struct subject_view *v = NULL;
	assert_int_equal(subject_read(&c, sid, &v, NULL), RC_OK);
	subject_view_free(v);
	assert_int_equal(find(&c, "email", "alice.tamm@example.ee", ids), 1);
	struct field_input ch[] = {S("name", "Alice Kask")};
	assert_int_equal(record_rectify(&c, rids[0], ch, 1, NULL, 0, NULL), RC_OK);
	/* A refused change leaves no entry: it did not happen. */
	struct field_input bad[] = {S("email", "nope")};
	assert_int_equal(record_rectify(&c, rids[0], bad, 1, NULL, 0, NULL), RC_UNPROCESSABLE);
	assert_int_equal(subject_delete(&c, sid, NULL), RC_OK);

	struct store_audit *e = NULL;
	size_t n = audit_all(&r, &e);
	const char *actions[] = {"tenant.create", "policy.install", "subject.create", "subject.read",
	                         "subject.lookup", "record.rectify", "subject.delete"};
	assert_int_equal(n, 7);
	for (size_t i = 0; i < n; i++) {
		assert_string_equal(e[i].action, actions[i]);
		assert_int_equal(e[i].seq, (int64_t)i + 1);
	}
	assert_string_equal(e[3].key_id, "k123");
	assert_string_equal(e[3].role, "dpo");
	assert_string_equal(e[3].purpose, "contract");
	assert_string_equal(e[3].subject_id, sid);
	assert_string_equal(e[5].record_id, rids[0]);
	assert_string_equal(e[5].detail, "fields=name events=");
	assert_string_equal(e[4].detail, "field=email matches=1");
	/* No personal value in any entry. */
	for (size_t i = 0; i < n; i++)
		if (e[i].detail)
			assert_null(strstr(e[i].detail, "Alice"));
	store_audits_free(e, n);

	struct audit_verify_result res;
	assert_int_equal(audit_verify(r.store, r.tenant, &res), RC_OK);
	assert_true(res.ok);
	assert_int_equal(res.entries, 7);

	/* The database refuses edits; someone with the file edits it anyway. */
	assert_int_equal(test_sql(&r, "UPDATE audit SET outcome = 'x' WHERE seq = 4", NULL), -1);
	assert_int_equal(test_sql(&r, "DELETE FROM audit WHERE seq = 4", NULL), -1);
	assert_int_equal(test_sql(&r, test_pg() ? "DROP TRIGGER audit_no_update ON audit; "
	                                          "UPDATE audit SET key_id = 'someone' WHERE seq = 5"
	                                        : "DROP TRIGGER audit_no_update; "
	                                          "UPDATE audit SET key_id = 'someone' WHERE seq = 5",
	                          NULL),
	                 0);
	assert_int_equal(audit_verify(r.store, r.tenant, &res), RC_OK);
	assert_false(res.ok);
	assert_int_equal(res.first_bad, 5);
	assert_int_equal(res.entries, 4);
	test_register_free(&r);
}

static void test_audit_deleted_row(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	make_alice(&c, sid, rids);
	assert_int_equal(test_sql(&r, test_pg() ? "DROP TRIGGER audit_no_delete ON audit; DELETE FROM audit WHERE seq = 3"
	                                        : "DROP TRIGGER audit_no_delete; DELETE FROM audit WHERE seq = 3",
	                          NULL),
	                 0);
	struct audit_verify_result res;
	assert_int_equal(audit_verify(r.store, r.tenant, &res), RC_OK);
	assert_false(res.ok);
	assert_int_equal(res.first_bad, 3);
	test_register_free(&r);
}

struct wake_flag {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool woken;
};

static void test_park(void *arg)
{
	(void)arg; /* the caller is already the one waiting */
}

static void test_wake(void *arg)
{
	struct wake_flag *f = arg;
	pthread_mutex_lock(&f->lock);
	f->woken = true;
	pthread_cond_signal(&f->cond);
	pthread_mutex_unlock(&f->lock);
}

struct reader_arg {
	struct test_register *r;
	struct audit_sink *sink;
	const char *sid;
	int reads;
};

static void *reader(void *p)
{
	struct reader_arg *a = p;
	struct store *st = NULL;
	assert_int_equal(store_open(a->r->url, &st, NULL), RC_OK);
	for (int i = 0; i < a->reads; i++) {
		struct wake_flag f = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
		struct audit_waiter w;
		audit_waiter_init(&w, test_wake, &f);
		struct core_ctx c = {.store = st, .tenant = a->r->tenant, .sink = a->sink, .waiter = &w};
		struct subject_view *v = NULL;
		assert_int_equal(subject_read(&c, a->sid, &v, NULL), RC_OK);
		subject_view_free(v);
		if (audit_waiter_park(&w, test_park, NULL)) {
			pthread_mutex_lock(&f.lock);
			while (!f.woken)
				pthread_cond_wait(&f.cond, &f.lock);
			pthread_mutex_unlock(&f.lock);
		}
		assert_int_equal(audit_waiter_result(&w), RC_OK);
		audit_waiter_fini(&w);
	}
	store_close(st);
	return NULL;
}

static void test_audit_sink_batches(void **state)
{
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = ctx(&r);
	char sid[TOKEN_ID_MAX], rids[2][TOKEN_ID_MAX];
	make_alice(&c, sid, rids);
	struct store *sink_store = NULL;
	assert_int_equal(store_open(r.url, &sink_store, NULL), RC_OK);
	struct audit_sink *sink = NULL;
	assert_int_equal(audit_sink_new(sink_store, &sink), RC_OK);
	pthread_t th[4];
	struct reader_arg a = {&r, sink, sid, 50};
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &a), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	audit_sink_free(sink);
	/* Every read has its entry, and the chain is whole. */
	struct store_audit_filter f = {.subject_id = sid, .limit = 1000};
	struct store_audit *e = NULL;
	size_t n = 0;
	assert_int_equal(store_audit_list(r.store, r.tenant->id, &f, &e, &n), RC_OK);
	size_t reads = 0;
	for (size_t i = 0; i < n; i++)
		reads += !strcmp(e[i].action, "subject.read");
	assert_int_equal(reads, 200);
	store_audits_free(e, n);
	struct audit_verify_result res;
	assert_int_equal(audit_verify(r.store, r.tenant, &res), RC_OK);
	assert_true(res.ok);
	test_register_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_read),
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_rectify),
		cmocka_unit_test(test_refused_writes),
		cmocka_unit_test(test_delete_shreds),
		cmocka_unit_test(test_tenants_isolated),
		cmocka_unit_test(test_tampered_row),
		cmocka_unit_test(test_record_defaults_stored_as_nothing),
		cmocka_unit_test(test_nested_transactions),
		cmocka_unit_test(test_apikeys),
		cmocka_unit_test(test_flights),
		cmocka_unit_test(test_request_statuses),
		cmocka_unit_test(test_audit_chain),
		cmocka_unit_test(test_audit_deleted_row),
		cmocka_unit_test(test_audit_sink_batches),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
