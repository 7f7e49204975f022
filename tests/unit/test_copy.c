/*
 * The copy of a whole register between stores (store/copy.def, core/migrate)
 * on a real SQLite file or, as test_copy_pg, PostgreSQL: the list of tables
 * to copy is exactly the schema (a table or column added without a line in
 * copy.def fails here, not in an operator's migration); a copy carries every
 * row as stored, verified, and refuses a target that is not empty.
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

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_schema_is_the_copy_list),
		cmocka_unit_test(test_a_table_or_column_not_in_the_list_fails),
		cmocka_unit_test(test_copy_carries_every_row),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
