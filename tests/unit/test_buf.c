/* The capped buffer: never grows past its cap, never truncates silently. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "base/buf.h"

static void test_cap(void **state)
{
	struct buf b;
	buf_init(&b, 8);
	assert_int_equal(buf_puts(&b, "12345"), RC_OK);
	assert_int_equal(buf_puts(&b, "6789"), RC_TOO_LARGE);
	assert_string_equal(b.data, "12345");
	assert_int_equal(buf_printf(&b, "%d", 678), RC_OK);
	assert_string_equal(b.data, "12345678");
	assert_int_equal(buf_append(&b, "x", 1), RC_TOO_LARGE);
	assert_int_equal(b.len, 8);
	size_t n;
	char *s = buf_take(&b, &n);
	assert_int_equal(n, 8);
	assert_string_equal(s, "12345678");
	free(s);
	assert_null(b.data);
	buf_fini(&b);
}

static void test_json_string(void **state)
{
	struct buf b;
	buf_init(&b, 64);
	assert_int_equal(buf_json_string(&b, "a\"b\\c\n\x01", 7), RC_OK);
	assert_string_equal(b.data, "\"a\\\"b\\\\c\\u000a\\u0001\"");
	buf_reset(&b);
	char big[100];
	memset(big, 'x', sizeof big);
	assert_int_equal(buf_json_string(&b, big, sizeof big), RC_TOO_LARGE);
	assert_int_equal(b.len, 0);
	buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_json_string),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
