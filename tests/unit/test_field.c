/* Validation and normalisation of every field type. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/csv.h"
#include "core/field.h"

static struct policy_field mk(enum field_type t)
{
	return (struct policy_field){.name = "f", .type = t, .max = 10};
}

static void ok(const struct policy_field *f, enum value_kind k, const char *in, const char *want)
{
	struct buf b;
	struct errbuf eb = {""};
	buf_init(&b, FIELD_VALUE_MAX);
	struct field_value v = {k, in, strlen(in)};
	enum rc rc = field_normalize(f, &v, &b, &eb);
	if (rc)
		fail_msg("%s '%s' refused: %s", policy_field_type_name(f->type), in, eb.msg);
	assert_string_equal(b.data, want);
	buf_fini(&b);
}

static void bad(const struct policy_field *f, enum value_kind k, const char *in)
{
	struct buf b;
	struct errbuf eb = {""};
	buf_init(&b, FIELD_VALUE_MAX);
	struct field_value v = {k, in, strlen(in)};
	enum rc rc = field_normalize(f, &v, &b, &eb);
	if (!rc)
		fail_msg("%s '%s' accepted as '%s'", policy_field_type_name(f->type), in, b.data);
	assert_true(rc == RC_UNPROCESSABLE || rc == RC_TOO_LARGE);
	/* The message names the field, never the value. */
	assert_non_null(strstr(eb.msg, "field f"));
	if (strlen(in) > 3)
		assert_null(strstr(eb.msg, in));
	assert_int_equal(b.len, 0);
	buf_fini(&b);
}

static void test_text(void **state)
{
	struct policy_field f = mk(FT_TEXT);
	ok(&f, VAL_STRING, "Mari Tamm", "Mari Tamm");
	ok(&f, VAL_STRING, "Jõgeva ÄÖÜ", "Jõgeva ÄÖÜ");   /* 10 characters, 13 bytes */
	ok(&f, VAL_STRING, "a\tb\nc", "a\tb\nc");
	ok(&f, VAL_STRING, "🙂🙂", "🙂🙂");
	bad(&f, VAL_STRING, "eleven chars");
	bad(&f, VAL_STRING, "bell\a");
	bad(&f, VAL_STRING, "\xc3\x28");          /* invalid UTF-8 */
	bad(&f, VAL_STRING, "\xc0\xaf");          /* overlong */
	bad(&f, VAL_STRING, "\xed\xa0\x80");      /* surrogate */
	bad(&f, VAL_NUMBER, "12");
	struct buf b;
	buf_init(&b, FIELD_VALUE_MAX);
	struct field_value nul = {VAL_STRING, "a\0b", 3};
	assert_int_equal(field_normalize(&f, &nul, &b, NULL), RC_UNPROCESSABLE);
	buf_fini(&b);
}

static void test_email(void **state)
{
	struct policy_field f = mk(FT_EMAIL);
	ok(&f, VAL_STRING, "mari@example.ee", "mari@example.ee");
	ok(&f, VAL_STRING, "  Mari.Tamm+news@Example.EE ", "Mari.Tamm+news@example.ee");
	ok(&f, VAL_STRING, "a@b.co", "a@b.co");
	bad(&f, VAL_STRING, "mari");
	bad(&f, VAL_STRING, "mari@");
	bad(&f, VAL_STRING, "@example.ee");
	bad(&f, VAL_STRING, "mari@example");
	bad(&f, VAL_STRING, "ma ri@example.ee");
	bad(&f, VAL_STRING, "mari@@example.ee");
	bad(&f, VAL_STRING, "mari..tamm@example.ee");
	bad(&f, VAL_STRING, "mari@-example.ee");
	bad(&f, VAL_STRING, "mari@example..ee");
	bad(&f, VAL_STRING, "'; DROP TABLE subjects; --@x.ee");
	struct buf form;
	buf_init(&form, 100);
	assert_int_equal(field_lookup_form(&f, "Mari@example.ee", 15, &form), RC_OK);
	assert_string_equal(form.data, "mari@example.ee");
	buf_fini(&form);
}

static void test_phone(void **state)
{
	struct policy_field f = mk(FT_PHONE);
	ok(&f, VAL_STRING, "+372 5123 4567", "+37251234567");
	ok(&f, VAL_STRING, "00372-5123-4567", "+37251234567");
	ok(&f, VAL_STRING, "+358 (40) 828.0202", "+358408280202");
	bad(&f, VAL_STRING, "5555 4444");          /* no country code */
	bad(&f, VAL_STRING, "+372 5123 45x7");
	bad(&f, VAL_STRING, "+0372 5123 4567");
	bad(&f, VAL_STRING, "+1234567890123456"); /* 16 digits */
	bad(&f, VAL_STRING, "+12");
	bad(&f, VAL_NUMBER, "37251234567");
}

static void test_dates(void **state)
{
	struct policy_field d = mk(FT_DATE), dt = mk(FT_DATETIME);
	ok(&d, VAL_STRING, "2024-02-29", "2024-02-29");
	bad(&d, VAL_STRING, "2023-02-29");
	bad(&d, VAL_STRING, "29.02.2024");
	bad(&d, VAL_STRING, "2024-02-29T00:00:00Z");
	ok(&dt, VAL_STRING, "2024-03-01T12:00:00+02:00", "2024-03-01T10:00:00Z");
	ok(&dt, VAL_STRING, "2024-03-01T12:00:00.5Z", "2024-03-01T12:00:00Z");
	bad(&dt, VAL_STRING, "2024-05-06");
	bad(&dt, VAL_STRING, "2024-03-01T25:00:00Z");
}

static void test_enum_and_numbers(void **state)
{
	const char *values[] = {"card", "bank_link"};
	struct policy_field e = mk(FT_ENUM);
	e.values = values;
	e.nvalues = 2;
	ok(&e, VAL_STRING, "card", "card");
	bad(&e, VAL_STRING, "Card");
	bad(&e, VAL_STRING, "cash");
	struct policy_field dec = mk(FT_DECIMAL), in = mk(FT_INTEGER);
	ok(&dec, VAL_STRING, "12.50", "12.50");
	ok(&dec, VAL_NUMBER, "-3", "-3");
	ok(&dec, VAL_NUMBER, "0.1", "0.1");
	bad(&dec, VAL_STRING, "1e3");
	bad(&dec, VAL_STRING, "12,50");
	bad(&dec, VAL_STRING, "012");
	bad(&dec, VAL_STRING, "1.");
	bad(&dec, VAL_STRING, "1234567890123456789012345678901");
	bad(&dec, VAL_BOOL, "true");
	ok(&in, VAL_NUMBER, "42", "42");
	ok(&in, VAL_NUMBER, "-9223372036854775808", "-9223372036854775808");
	bad(&in, VAL_NUMBER, "9223372036854775808");
	bad(&in, VAL_NUMBER, "4.2");
	bad(&in, VAL_STRING, "42");
}

static void test_bool_ip_country_json(void **state)
{
	struct policy_field b = mk(FT_BOOL), ip = mk(FT_IP), c = mk(FT_COUNTRY), j = mk(FT_JSON);
	ok(&b, VAL_BOOL, "true", "true");
	ok(&b, VAL_BOOL, "false", "false");
	bad(&b, VAL_STRING, "yes");
	bad(&b, VAL_NUMBER, "1");
	ok(&ip, VAL_STRING, "192.0.2.10", "192.0.2.10");
	ok(&ip, VAL_STRING, "2001:DB8:0:0::1", "2001:db8::1");
	bad(&ip, VAL_STRING, "192.0.2.300");
	bad(&ip, VAL_STRING, "192.0.2");
	bad(&ip, VAL_STRING, "example.com");
	ok(&c, VAL_STRING, "ee", "EE");
	ok(&c, VAL_STRING, "LV", "LV");
	bad(&c, VAL_STRING, "XX");
	bad(&c, VAL_STRING, "EST");
	ok(&j, VAL_JSON, "[{\"sku\":\"A1\",\"qty\":2}]", "[{\"sku\":\"A1\",\"qty\":2}]");
	ok(&j, VAL_STRING, "say \"hi\"", "\"say \\\"hi\\\"\"");
	ok(&j, VAL_NUMBER, "3", "3");
	struct field_value null = {VAL_NULL, "", 0};
	struct buf out;
	buf_init(&out, 10);
	assert_int_equal(field_normalize(&b, &null, &out, NULL), RC_UNPROCESSABLE);
	buf_fini(&out);
}

static void test_limits_and_age(void **state)
{
	struct policy_field j = mk(FT_JSON);
	static char big[FIELD_VALUE_MAX + 2];
	memset(big, '1', sizeof big - 1);
	struct buf out;
	buf_init(&out, FIELD_VALUE_MAX * 2);
	struct field_value v = {VAL_NUMBER, big, sizeof big - 1};
	assert_int_equal(field_normalize(&j, &v, &out, NULL), RC_TOO_LARGE);
	buf_fini(&out);
	int64_t birth, now;
	assert_int_equal(timeutil_parse_date("2010-06-15", &birth), RC_OK);
	assert_int_equal(timeutil_parse_date("2024-06-14", &now), RC_OK);
	assert_int_equal(field_age_years(birth, now), 13);
	assert_int_equal(timeutil_parse_date("2024-06-15", &now), RC_OK);
	assert_int_equal(field_age_years(birth, now), 14);
	assert_int_equal(timeutil_parse_date("1960-02-29", &birth), RC_OK);
	assert_int_equal(timeutil_parse_date("2024-02-28", &now), RC_OK);
	assert_int_equal(field_age_years(birth, now), 63);
}

/* Free texts follow the rule of text fields; CSV cells that a spreadsheet
 * would run are told apart from those it would not. */
static void test_free_text_and_csv_cells(void **state)
{
	(void)state;
	assert_true(field_text_ok(NULL));
	assert_true(field_text_ok("checkout form, p\xc3\xa4" "ev 1\tline\r\nnext"));
	assert_false(field_text_ok("a\x1b[2J"));
	assert_false(field_text_ok("bell\x07"));
	assert_false(field_text_ok("del\x7f"));
	assert_false(field_text_ok("bad \xff utf-8"));
	const char *runs[] = {"=1+1", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"};
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
		assert_true(csv_formula(runs[i], strlen(runs[i])));
	const char *plain[] = {"", "Mari", "49.90", " =1", "'=1", "2024-01-01"};
	for (size_t i = 0; i < sizeof plain / sizeof plain[0]; i++)
		assert_false(csv_formula(plain[i], strlen(plain[i])));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),
		cmocka_unit_test(test_email),
		cmocka_unit_test(test_phone),
		cmocka_unit_test(test_dates),
		cmocka_unit_test(test_enum_and_numbers),
		cmocka_unit_test(test_bool_ip_country_json),
		cmocka_unit_test(test_limits_and_age),
		cmocka_unit_test(test_free_text_and_csv_cells),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
