/*
 * The copy of a whole register between stores (store/copy.def, core/migrate)
 * on a real SQLite file or, as test_copy_pg, PostgreSQL: the list of tables
 * to copy is exactly the schema (a table or column added without a line in
 * copy.def fails here, not in an operator's migration); a copy carries every
 * row as stored, verified, and refuses a target that is not empty. The bulk
 * import's writes (store import_write: COPY on PostgreSQL, by copy.def's
 * column lists) are row for row what subject_insert and record_insert write,
 * and import_holders finds what lookup_find finds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/migrate.h"
#include "core/subject.h"
#include "helpers.h"

#define POLICY "policies/webshop.yaml"

static void test_schema_is_the_copy_list(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct errbuf eb = {""};
	enum rc rc = store_copy_check(r.store, &eb);
	if (rc)
		fail_msg("store_copy_check: %s", err_msg(&eb, rc));
	test_register_free(&r);
}

static void test_a_table_or_column_not_in_the_list_fails(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct errbuf eb = {""};
	assert_int_equal(test_sql(&r, "CREATE TABLE extra_rows (tenant_id BIGINT NOT NULL, x TEXT)", NULL), 0);
	assert_int_equal(store_copy_check(r.store, &eb), RC_INTERNAL);
	assert_non_null(strstr(eb.msg, "table extra_rows"));
	assert_int_equal(test_sql(&r, "DROP TABLE extra_rows", NULL), 0);
	assert_int_equal(test_sql(&r, "ALTER TABLE records ADD COLUMN extra TEXT", NULL), 0);
	eb.msg[0] = '\0';
	assert_int_equal(store_copy_check(r.store, &eb), RC_INTERNAL);
	assert_non_null(strstr(eb.msg, "records.extra"));
	test_register_free(&r);
}

static void test_copy_carries_every_row(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	struct core_ctx c = test_ctx(test_at("2024-06-15T12:00:00Z"), &r);
	struct field_input acc[] = {test_text("email", "mari@example.ee"), test_text("name", "Mari Maasikas")};
	struct record_input rec = {.kind = "account", .fields = acc, .nfields = 2, .created_at = "2024-01-01"};
	char sid[TOKEN_ID_MAX], rid[1][TOKEN_ID_MAX];
	struct errbuf eb = {""};
	enum rc rc = subject_create(&c, &rec, 1, sid, rid, &eb);
	if (rc)
		fail_msg("subject_create: %s", err_msg(&eb, rc));

	char url[400];
	snprintf(url, sizeof url, "sqlite:%s/copy.db", r.dir);
	struct store *dst = NULL;
	assert_int_equal(store_open(url, &dst, &eb), RC_OK);
	struct migrate_report rep = {0};
	rc = migrate_copy(r.store, dst, r.keydir, &rep, &eb);
	if (rc)
		fail_msg("migrate_copy: %s", err_msg(&eb, rc));
	assert_int_equal(rep.tables, STORE_COPY_TABLES);
	assert_int_equal(rep.tenants, 1);
	assert_true(rep.audit_entries >= 1);
	assert_true(rep.rows > 5);

	/* The same bytes: the wrapped key and the sealed record. */
	struct store_record a = {0}, b = {0};
	assert_int_equal(store_record_get(r.store, r.tenant->id, rid[0], &a), RC_OK);
	assert_int_equal(store_record_get(dst, r.tenant->id, rid[0], &b), RC_OK);
	assert_int_equal(a.data_len, b.data_len);
	assert_memory_equal(a.data, b.data, a.data_len);
	assert_string_equal(a.kind, b.kind);
	store_record_fini(&a);
	store_record_fini(&b);
	struct store_subject sa = {0}, sb = {0};
	assert_int_equal(store_subject_get(r.store, r.tenant->id, sid, &sa), RC_OK);
	assert_int_equal(store_subject_get(dst, r.tenant->id, sid, &sb), RC_OK);
	assert_int_equal(sa.wrapped_len, sb.wrapped_len);
	assert_memory_equal(sa.wrapped_key, sb.wrapped_key, sa.wrapped_len);
	store_subject_fini(&sa);
	store_subject_fini(&sb);

	/* A target with rows is refused, and left as it was. */
	int64_t before = 0, after = 0;
	assert_int_equal(store_copy_count(dst, STORE_COPY_audit, &before), RC_OK);
	eb.msg[0] = '\0';
	assert_int_equal(migrate_copy(r.store, dst, r.keydir, &rep, &eb), RC_CONFLICT);
	assert_non_null(strstr(eb.msg, "not empty"));
	assert_int_equal(store_copy_count(dst, STORE_COPY_audit, &after), RC_OK);
	assert_int_equal(before, after);
	store_close(dst);
	test_register_free(&r);
}

/* ---- the bulk import's writes ---- */

/* Enough rows for whole groups of SQLite's multi-row statements and some
 * left over (sqlite/import.c writes 8 at a time). */
#define IMPORT_SUBJECTS 19
#define IMPORT_RECORDS (IMPORT_SUBJECTS + 1)

struct import_rows {
	struct store_subject subj[IMPORT_SUBJECTS];
	struct store_record rec[IMPORT_RECORDS];
	struct store_event ev[2];
	unsigned char key[IMPORT_SUBJECTS][VAULT_WRAPPED_LEN];
	unsigned char data[IMPORT_RECORDS][40];
	unsigned char hashes[4][VAULT_HASH_LEN];
	size_t nrec, nlookups;
	/* the rows as import_write takes them */
	const struct store_subject *subjects[IMPORT_SUBJECTS];
	const struct store_record *records[IMPORT_RECORDS];
};

/* Subjects with one record each, the first with a second one that has
 * events; lookups (none, one or two a record), due and trim times and
 * states, so that every column of the four tables but `restricted` (a new
 * subject's is 0) is written with values of its own. */
static void import_rows_make(struct import_rows *x)
{
	memset(x, 0, sizeof *x);
	for (size_t i = 0; i < 4; i++)
		memset(x->hashes[i], 0xa0 + (int)i, VAULT_HASH_LEN);
	x->ev[0] = (struct store_event){.name = "closed", .at = 1700000100};
	x->ev[1] = (struct store_event){.name = "fulfilled", .at = 1700000200};
	for (size_t i = 0; i < IMPORT_SUBJECTS; i++) {
		struct store_subject *s = &x->subj[i];
		token_id_new(TOKEN_PREFIX_SUBJECT, s->id);
		memset(x->key[i], 0x10 + (int)i, VAULT_WRAPPED_LEN);
		s->wrapped_key = x->key[i];
		s->wrapped_len = VAULT_WRAPPED_LEN;
		s->created_at = 1700000000 + (int64_t)i;
	}
	for (size_t i = 0; i < IMPORT_RECORDS; i++) {
		struct store_record *r = &x->rec[i];
		token_id_new(TOKEN_PREFIX_RECORD, r->id);
		memcpy(r->subject_id, x->subj[i < IMPORT_SUBJECTS ? i : 0].id, TOKEN_ID_MAX);
		r->kind = i == IMPORT_SUBJECTS ? "order" : "account";
		r->state = i % 5 == 2 ? "detached" : NULL;
		r->created_at = 1690000000 + (int64_t)i;
		r->updated_at = 1690000500 + (int64_t)i;
		memset(x->data[i], 0x30 + (int)i, sizeof x->data[i]);
		r->data = x->data[i];
		r->data_len = sizeof x->data[i];
		/* hashes 0 and 1, hash 1, or none */
		r->nlookups = i % 3 == 0 ? 2 : i % 3 == 1 ? 1 : 0;
		r->lookups = i % 3 == 0 ? x->hashes[0] : i % 3 == 1 ? x->hashes[1] : NULL;
		x->nlookups += r->nlookups;
		r->due_at = i % 4 == 1 ? 0 : 1800000000 + (int64_t)i;
		r->trim_at = i % 4 == 0 ? 1750000000 : 0;
		r->events = i == IMPORT_SUBJECTS ? x->ev : NULL;
		r->nevents = i == IMPORT_SUBJECTS ? 2 : 0;
	}
	x->nrec = IMPORT_RECORDS;
	for (size_t i = 0; i < IMPORT_SUBJECTS; i++)
		x->subjects[i] = &x->subj[i];
	for (size_t i = 0; i < x->nrec; i++)
		x->records[i] = &x->rec[i];
}

/* A table's rows as text lines, sorted: comparable between two stores
 * whatever order each returns them in. */
struct dump {
	char **lines;
	size_t n;
};

static enum rc dump_row(void *arg, const struct store_row *row)
{
	struct dump *d = arg;
	size_t cap = 64;
	for (size_t i = 0; i < row->n; i++)
		cap += 24 + 2 * row->v[i].len;
	char *line = malloc(cap), *p = line;
	for (size_t i = 0; i < row->n; i++) {
		const struct store_value *v = &row->v[i];
		if (v->kind == STORE_VALUE_NULL)
			p += sprintf(p, "|NULL");
		else if (v->kind == STORE_VALUE_INT)
			p += sprintf(p, "|%lld", (long long)v->i);
		else if (v->kind == STORE_VALUE_TEXT)
			p += sprintf(p, "|'%.*s'", (int)v->len, (const char *)v->p);
		else {
			p += sprintf(p, "|x");
			for (size_t k = 0; k < v->len; k++)
				p += sprintf(p, "%02x", ((const unsigned char *)v->p)[k]);
		}
	}
	d->lines = realloc(d->lines, (d->n + 1) * sizeof *d->lines);
	d->lines[d->n++] = line;
	return RC_OK;
}

static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void dump_table(struct store *s, enum store_copy_table t, struct dump *d)
{
	memset(d, 0, sizeof *d);
	assert_int_equal(store_begin_read(s), RC_OK);
	assert_int_equal(store_copy_read(s, t, dump_row, d), RC_OK);
	assert_int_equal(store_commit(s), RC_OK);
	if (d->n) /* qsort takes no NULL array */
		qsort(d->lines, d->n, sizeof *d->lines, line_cmp);
}

static void dump_free(struct dump *d)
{
	for (size_t i = 0; i < d->n; i++)
		free(d->lines[i]);
	free(d->lines);
}

static void test_import_write_writes_what_inserts_write(void **state)
{
	(void)state;
	struct test_register a, b;
	struct import_rows x;
	import_rows_make(&x);
	test_register_new(&a, POLICY, "default");
	test_register_new(&b, POLICY, "default");
	assert_int_equal(a.tenant->id, b.tenant->id);
	int64_t t = a.tenant->id;

	/* a: one row at a time, as before; b: the import's batched write. */
	assert_int_equal(store_begin(a.store), RC_OK);
	for (size_t i = 0; i < IMPORT_SUBJECTS; i++)
		assert_int_equal(store_subject_insert(a.store, t, &x.subj[i]), RC_OK);
	for (size_t i = 0; i < x.nrec; i++)
		assert_int_equal(store_record_insert(a.store, t, &x.rec[i]), RC_OK);
	assert_int_equal(store_commit(a.store), RC_OK);

	const struct store_subject *const *subjects = x.subjects;
	const struct store_record *const *records = x.records;
	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_import_write(b.store, t, subjects, IMPORT_SUBJECTS, records, x.nrec), RC_OK);
	assert_int_equal(store_commit(b.store), RC_OK);

	static const enum store_copy_table tables[] = {STORE_COPY_subjects, STORE_COPY_records, STORE_COPY_lookups,
	                                               STORE_COPY_record_events};
	const size_t expect[] = {IMPORT_SUBJECTS, IMPORT_RECORDS, x.nlookups, 2};
	for (size_t k = 0; k < sizeof tables / sizeof tables[0]; k++) {
		struct dump da, db;
		dump_table(a.store, tables[k], &da);
		dump_table(b.store, tables[k], &db);
		assert_int_equal(da.n, expect[k]);
		assert_int_equal(db.n, da.n);
		for (size_t i = 0; i < da.n; i++)
			if (strcmp(da.lines[i], db.lines[i]))
				fail_msg("%s row %zu:\ninserts %s\nimport  %s", store_copy_tables[tables[k]].name, i, da.lines[i],
				         db.lines[i]);
		dump_free(&da);
		dump_free(&db);
	}

	/* The holders of hashes, as lookup_find's first: held by several
	 * subjects (the smallest id), unheld, and the same hash twice. */
	struct store_record extra = x.rec[2];
	token_id_new(TOKEN_PREFIX_RECORD, extra.id);
	extra.lookups = x.hashes[1];
	extra.nlookups = 1;
	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_record_insert(b.store, t, &extra), RC_OK);
	assert_int_equal(store_commit(b.store), RC_OK);
	unsigned char ask[4][VAULT_HASH_LEN];
	memcpy(ask[0], x.hashes[0], VAULT_HASH_LEN);
	memcpy(ask[1], x.hashes[3], VAULT_HASH_LEN);
	memcpy(ask[2], x.hashes[1], VAULT_HASH_LEN);
	memcpy(ask[3], x.hashes[0], VAULT_HASH_LEN);
	char holders[4][TOKEN_ID_MAX];
	assert_int_equal(store_import_holders(b.store, t, &ask[0][0], 4, holders), RC_OK);
	for (size_t i = 0; i < 4; i++) {
		char ids[1][TOKEN_ID_MAX];
		size_t m = 0;
		assert_int_equal(store_lookup_find(b.store, t, ask[i], ids, 1, &m), RC_OK);
		assert_string_equal(holders[i], m ? ids[0] : "");
	}
	assert_true(holders[0][0] && holders[2][0]);
	assert_string_equal(holders[1], "");
	assert_string_equal(holders[3], holders[0]);
	assert_int_equal(store_import_holders(b.store, t, NULL, 0, NULL), RC_OK);

	/* Outside a transaction the rows would have nowhere to go. */
	assert_int_equal(store_import_write(b.store, t, subjects, 1, records, 1), RC_INTERNAL);
	test_register_free(&a);
	test_register_free(&b);
}

/* The import's lookup rows are seen by the reads of its own transaction,
 * go with a rollback of it or of the savepoint they were written in, and
 * stay when a later savepoint of the same transaction is rolled back (on
 * SQLite they wait to go into the index in its order). */
static size_t lookup_rows(struct store *s)
{
	struct dump d;
	dump_table(s, STORE_COPY_lookups, &d);
	size_t n = d.n;
	dump_free(&d);
	return n;
}

static void test_import_rows_within_their_transaction(void **state)
{
	(void)state;
	struct test_register b;
	struct import_rows x;
	import_rows_make(&x);
	test_register_new(&b, POLICY, "default");
	int64_t t = b.tenant->id;
	const struct store_subject *const *subjects = x.subjects;
	const struct store_record *const *records = x.records;
	char ids[1][TOKEN_ID_MAX];
	size_t m = 0;

	assert_int_equal(store_bulk(b.store, true), RC_OK);
	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_bulk(b.store, false), RC_INTERNAL); /* not inside a transaction */
	assert_int_equal(store_import_write(b.store, t, subjects, IMPORT_SUBJECTS, records, x.nrec), RC_OK);
	assert_int_equal(store_lookup_find(b.store, t, x.hashes[0], ids, 1, &m), RC_OK);
	assert_int_equal(m, 1);
	store_rollback(b.store);
	assert_int_equal(store_lookup_find(b.store, t, x.hashes[0], ids, 1, &m), RC_OK);
	assert_int_equal(m, 0);
	assert_int_equal(lookup_rows(b.store), 0);

	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_import_write(b.store, t, subjects, IMPORT_SUBJECTS, records, x.nrec), RC_OK);
	store_rollback(b.store);
	assert_int_equal(store_commit(b.store), RC_OK);
	assert_int_equal(lookup_rows(b.store), 0);

	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_import_write(b.store, t, subjects, IMPORT_SUBJECTS, records, x.nrec), RC_OK);
	assert_int_equal(store_begin(b.store), RC_OK);
	store_rollback(b.store);
	assert_int_equal(store_commit(b.store), RC_OK);
	assert_int_equal(store_bulk(b.store, false), RC_OK);
	assert_int_equal(lookup_rows(b.store), x.nlookups);
	assert_int_equal(store_lookup_find(b.store, t, x.hashes[1], ids, 1, &m), RC_OK);
	assert_int_equal(m, 1);

	/* Every row counts for an operation over whole tables: a migration's
	 * count and a tenant's deletion, which leaves none of its rows. */
	struct import_rows y;
	import_rows_make(&y);
	int64_t rows = 0, before = 0;
	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_copy_count(b.store, STORE_COPY_lookups, &before), RC_OK);
	assert_int_equal(store_import_write(b.store, t, y.subjects, IMPORT_SUBJECTS, y.records, y.nrec), RC_OK);
	int64_t during = 0;
	assert_int_equal(store_copy_count(b.store, STORE_COPY_lookups, &during), RC_OK);
	assert_int_equal(during, before + (int64_t)y.nlookups);
	store_rollback(b.store);
	assert_int_equal(store_begin(b.store), RC_OK);
	assert_int_equal(store_import_write(b.store, t, y.subjects, IMPORT_SUBJECTS, y.records, y.nrec), RC_OK);
	assert_int_equal(store_tenant_delete(b.store, t, 1800000000, &rows), RC_OK);
	assert_int_equal(store_commit(b.store), RC_OK);
	assert_int_equal(lookup_rows(b.store), 0);
	assert_true(rows >= 2 * (IMPORT_SUBJECTS + IMPORT_RECORDS) + 2 * (int64_t)x.nlookups);
	test_register_free(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_is_the_copy_list),
		cmocka_unit_test(test_a_table_or_column_not_in_the_list_fails),
		cmocka_unit_test(test_copy_carries_every_row),
		cmocka_unit_test(test_import_write_writes_what_inserts_write),
		cmocka_unit_test(test_import_rows_within_their_transaction),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
