/* value_json: numbers come back as they went in. Each real is written with
 * the fewest digits (15 to 17) that read back as the same double, in
 * jansson's spelling otherwise; a value stored from JSON is that text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/value_json.h"

/* text parsed by jansson and written again by value_json_dumps. */
static void round_trip(const char *text, size_t flags, const char *want)
{
	json_error_t err;
	json_t *j = json_loads(text, JSON_DECODE_ANY, &err);
	assert_non_null(j);
	char *got = value_json_dumps(j, flags);
	assert_non_null(got);
	if (strcmp(got, want))
		fail_msg("%s: wanted %s, got %s", text, want, got);
	free(got);
	json_decref(j);
}

static void test_reals_shortest(void **state)
{
	static const char *const same[] = {
		"56.9", "0.1", "1e21", "-0.0", "123456789.123", "0.30000000000000004", "100.0", "2.5e-7",
		"1.7976931348623157e308", "2.2250738585072014e-308", "9007199254740991", "-9007199254740992",
		"0.1234567890123456", "1e-7", "-1.5e300", "0", "-1",
	};
	for (size_t i = 0; i < sizeof same / sizeof same[0]; i++)
		round_trip(same[i], JSON_COMPACT, same[i]);
	/* Another spelling of the same double comes back in the shortest one. */
	round_trip("56.90", JSON_COMPACT, "56.9");
	round_trip("1E+21", JSON_COMPACT, "1e21");
	round_trip("1e2", JSON_COMPACT, "100.0");
	round_trip("0.1000000000000000055511151231257827", JSON_COMPACT, "0.1");
}

static void test_layout_as_jansson(void **state)
{
	const char *text = "{\"a\": [1, 2.5, {}, []], \"b\": {\"c\": null, \"d\": true, \"e\": false},"
	                   " \"s\": \"q\\\"\\\\\\n\\t\\u0001/\xc3\xa4\"}";
	json_t *j = json_loads(text, 0, NULL);
	assert_non_null(j);
	static const size_t flags[] = {JSON_COMPACT, 0, JSON_INDENT(2), JSON_INDENT(3) | JSON_COMPACT};
	for (size_t i = 0; i < sizeof flags / sizeof flags[0]; i++) {
		char *want = json_dumps(j, flags[i]), *got = value_json_dumps(j, flags[i]);
		if (strcmp(want, got))
			fail_msg("flags %zx: wanted\n%s\ngot\n%s", flags[i], want, got);
		free(want);
		free(got);
	}
	json_decref(j);
}

static void test_stored_text(void **state)
{
	struct value_json_holder h = {0};
	struct field_value v;
	json_t *j = json_loads("{\"lat\": 56.9, \"x\": 0.30000000000000004}", 0, NULL);
	assert_int_equal(value_from_json(j, &v, &h), RC_OK);
	assert_int_equal(v.kind, VAL_JSON);
	assert_string_equal(v.text, "{\"lat\":56.9,\"x\":0.30000000000000004}");
	json_decref(j);
	j = json_real(0.30000000000000004);
	assert_int_equal(value_from_json(j, &v, &h), RC_OK);
	assert_int_equal(v.kind, VAL_NUMBER);
	assert_string_equal(v.text, "0.30000000000000004");
	json_decref(j);
	value_json_holder_fini(&h);

	/* A stored json field reads back with its digits. */
	struct policy_field f = {.name = "items", .type = FT_JSON};
	struct field_output o = {"items", &f, "{\"lat\":56.9}", 12};
	json_t *out = value_to_json(&o);
	char *s = value_json_dumps(out, JSON_COMPACT);
	assert_string_equal(s, "{\"lat\":56.9}");
	free(s);
	json_decref(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reals_shortest),
		cmocka_unit_test(test_layout_as_jansson),
		cmocka_unit_test(test_stored_text),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
