/*
 * fuzz_timeutil: any bytes as an ISO 8601 date, datetime, instant and
 * duration (the input as one string), and as "INSTANT|DURATION" for
 * timeutil_add. What parses must format and parse back to the same value
 * (a date to the very same text), and calendar arithmetic on it must stay
 * inside years 1..9999 or say RC_INVALID: never overflow (UBSan watches).
 */
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "fuzz.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return 0;
}

static void check_instant(const char *s, int64_t t)
{
	char out[TIMEUTIL_DATETIME_LEN];
	int64_t back;
	timeutil_format_datetime(t, out);
	if (timeutil_parse_datetime(out, &back) || back != t)
		fuzz_fail("'%s' formats as '%s', which does not read back", s, out);
	int y, m, d;
	int64_t days = t >= 0 ? t / 86400 : (t - 86399) / 86400;
	timeutil_civil_from_days(days, &y, &m, &d);
	if (y < 1 || y > 9999 || m < 1 || m > 12 || d < 1 || d > timeutil_days_in_month(y, m) ||
	    timeutil_days_from_civil(y, m, d) != days)
		fuzz_fail("'%s': civil date %d-%d-%d does not round-trip", s, y, m, d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 256)
		return 0; /* every form is far shorter; longer adds nothing */
	char s[257];
	memcpy(s, data, size);
	s[size] = '\0';
	int64_t t;
	if (!timeutil_parse_date(s, &t)) {
		char out[TIMEUTIL_DATE_LEN];
		timeutil_format_date(t, out);
		if (strcmp(out, s))
			fuzz_fail("date '%s' formats as '%s'", s, out);
		check_instant(s, t);
	}
	if (!timeutil_parse_datetime(s, &t))
		check_instant(s, t);
	if (!timeutil_parse_instant(s, &t))
		check_instant(s, t);
	struct duration du;
	if (!timeutil_parse_duration(s, &du)) {
		char words[64], iso[64];
		struct duration back;
		timeutil_format_duration(du, words, sizeof words);
		timeutil_format_duration_iso(du, iso, sizeof iso);
		if (du.n < 0 || timeutil_parse_duration(words, &back) || back.n != du.n || back.unit != du.unit)
			fuzz_fail("duration '%s' formats as '%s', which does not read back", s, words);
	}
	char *bar = strchr(s, '|');
	if (bar) {
		*bar = '\0';
		int64_t out;
		if (!timeutil_parse_instant(s, &t) && !timeutil_parse_duration(bar + 1, &du) &&
		    !timeutil_add(t, du, &out)) {
			if (out < t)
				fuzz_fail("'%s' + '%s' is before it", s, bar + 1);
			check_instant(s, out);
		}
	}
	return 0;
}
