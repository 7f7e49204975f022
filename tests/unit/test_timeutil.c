/* Calendar arithmetic and ISO 8601 parsing, against GDPR deadline examples. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base/timeutil.h"

static int64_t date(const char *s)
{
	int64_t t = 0;
	assert_int_equal(timeutil_parse_instant(s, &t), RC_OK);
	return t;
}

static void assert_add(const char *from, int n, enum time_unit u, const char *want)
{
	int64_t out;
	char got[TIMEUTIL_DATETIME_LEN];
	assert_int_equal(timeutil_add(date(from), (struct duration){n, u}, &out), RC_OK);
	if (strlen(want) == 10)
		timeutil_format_date(out, got);
	else
		timeutil_format_datetime(out, got);
	assert_string_equal(got, want);
}

static void test_month_ends(void **state)
{
	assert_add("2023-01-31", 1, TU_MONTHS, "2023-02-28");
	assert_add("2024-01-31", 1, TU_MONTHS, "2024-02-29");
	assert_add("2024-01-31", 3, TU_MONTHS, "2024-04-30");   /* received 31 Jan, extended: 30 Apr */
	assert_add("2024-03-31", 1, TU_MONTHS, "2024-04-30");
	assert_add("2024-01-30", 1, TU_MONTHS, "2024-02-29");
	assert_add("2024-01-15", 1, TU_MONTHS, "2024-02-15");
	assert_add("2024-12-31", 1, TU_MONTHS, "2025-01-31");
	assert_add("2024-11-30", 2, TU_MONTHS, "2025-01-30");
	assert_add("2024-05-31T13:45:10Z", 1, TU_MONTHS, "2024-06-30T13:45:10Z");
}

static void test_leap_years(void **state)
{
	assert_add("2024-02-29", 1, TU_YEARS, "2025-02-28");
	assert_add("2024-02-29", 4, TU_YEARS, "2028-02-29");
	assert_add("2020-02-29", 3, TU_YEARS, "2023-02-28");
	assert_add("2099-02-28", 1, TU_YEARS, "2100-02-28");   /* 2100 is not a leap year */
	assert_add("2000-02-29", 100, TU_YEARS, "2100-02-28");
	assert_add("2016-03-01", 7, TU_YEARS, "2023-03-01");
	int64_t t;
	assert_int_equal(timeutil_parse_date("2024-02-29", &t), RC_OK);
	assert_int_equal(timeutil_parse_date("2023-02-29", &t), RC_INVALID);
	assert_int_equal(timeutil_parse_date("1900-02-29", &t), RC_INVALID);
	assert_int_equal(timeutil_parse_date("2000-02-29", &t), RC_OK);
}

static void test_days_and_weeks(void **state)
{
	assert_add("2024-02-28", 1, TU_DAYS, "2024-02-29");
	assert_add("2023-02-28", 1, TU_DAYS, "2023-03-01");
	assert_add("2024-12-25", 7, TU_DAYS, "2025-01-01");
	assert_add("2024-01-01", 2, TU_WEEKS, "2024-01-15");
	assert_add("2024-03-30T23:00:00Z", 1, TU_DAYS, "2024-03-31T23:00:00Z"); /* no DST in UTC */
	assert_add("2024-01-01", 0, TU_YEARS, "2024-01-01");
}

static void test_parse_strict(void **state)
{
	int64_t t;
	assert_int_equal(timeutil_parse_date("1970-01-01", &t), RC_OK);
	assert_int_equal(t, 0);
	assert_int_equal(timeutil_parse_datetime("1970-01-01T00:00:01Z", &t), RC_OK);
	assert_int_equal(t, 1);
	assert_int_equal(timeutil_parse_datetime("2024-03-01T12:00:00+02:00", &t), RC_OK);
	assert_int_equal(t, date("2024-03-01T10:00:00Z"));
	assert_int_equal(timeutil_parse_datetime("2024-03-01T12:00:00.123456Z", &t), RC_OK);
	assert_int_equal(t, date("2024-03-01T12:00:00Z"));
	assert_int_equal(timeutil_parse_datetime("1969-12-31T23:59:59Z", &t), RC_OK);
	assert_int_equal(t, -1);
	static const char *const bad[] = {
		"", "2024", "2024-3-01", "2024-03-1", "2024-13-01", "2024-00-10", "2024-04-31",
		"24-03-01", "2024/03/01", "2024-03-01 ", " 2024-03-01", "2024-03-01T", "2024-03-01T12:00Z",
		"2024-03-01T24:00:00Z", "2024-03-01T12:60:00Z", "2024-03-01T12:00:60Z", "2024-03-01T12:00:00",
		"2024-03-01T12:00:00+2:00", "2024-03-01T12:00:00+02", "2024-03-01T12:00:00.Z", "0000-01-01",
		"2024-03-01T12:00:00Zjunk", "２０２４-03-01", "-001-01-01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		if (timeutil_parse_instant(bad[i], &t) == RC_OK)
			fail_msg("accepted '%s'", bad[i]);
	}
}

static void test_durations(void **state)
{
	struct duration d;
	char s[32];
	assert_int_equal(timeutil_parse_duration("3 years", &d), RC_OK);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.unit, TU_YEARS);
	assert_int_equal(timeutil_parse_duration("1 month", &d), RC_OK);
	assert_int_equal(d.unit, TU_MONTHS);
	timeutil_format_duration_iso(d, s, sizeof s);
	assert_string_equal(s, "P1M");
	assert_int_equal(timeutil_parse_duration("30 days", &d), RC_OK);
	timeutil_format_duration(d, s, sizeof s);
	assert_string_equal(s, "30 days");
	assert_int_equal(timeutil_parse_duration("2 weeks", &d), RC_OK);
	timeutil_format_duration_iso(d, s, sizeof s);
	assert_string_equal(s, "P2W");
	static const char *const bad[] = {"3 yeers", "years", "3", "-1 days", "3years", "1.5 years",
	                                  "3 Years", "", "999999999 days", "3 years ago"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (timeutil_parse_duration(bad[i], &d) == RC_OK)
			fail_msg("accepted '%s'", bad[i]);
}

static void test_range(void **state)
{
	int64_t out;
	assert_int_equal(timeutil_add(date("9999-06-01"), (struct duration){1, TU_YEARS}, &out), RC_INVALID);
	assert_int_equal(timeutil_add(date("9999-12-01"), (struct duration){31, TU_DAYS}, &out), RC_INVALID);
	assert_int_equal(timeutil_add(date("2024-01-01"), (struct duration){-1, TU_DAYS}, &out), RC_INVALID);
	char s[TIMEUTIL_DATE_LEN];
	assert_int_equal(timeutil_parse_date("0001-01-01", &out), RC_OK);
	timeutil_format_date(out, s);
	assert_string_equal(s, "0001-01-01");
	for (int64_t day = -800000; day < 800000; day += 997) {
		int y, m, d;
		timeutil_civil_from_days(day, &y, &m, &d);
		assert_int_equal(timeutil_days_from_civil(y, m, d), day);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_month_ends),
		cmocka_unit_test(test_leap_years),
		cmocka_unit_test(test_days_and_weeks),
		cmocka_unit_test(test_parse_strict),
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_range),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
