/*
 * timeutil: see timeutil.h. The civil-date conversions are Howard Hinnant's
 * public-domain algorithms; they are exact for the whole proleptic Gregorian
 * calendar, so no libc time zone state is involved anywhere.
 */
#include "base/timeutil.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define DAY 86400

static const int64_t MIN_T = -62135596800LL; /* 0001-01-01T00:00:00Z */
static const int64_t MAX_T = 253402300799LL; /* 9999-12-31T23:59:59Z */

int64_t timeutil_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec;
}

static bool is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int timeutil_days_in_month(int y, int m)
{
	static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

int64_t timeutil_days_from_civil(int y, int m, int d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const int64_t yoe = y - era * 400;
	const int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

void timeutil_civil_from_days(int64_t z, int *y, int *m, int *d)
{
	z += 719468;
	const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	const int64_t doe = z - era * 146097;
	const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	const int64_t mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = (int)(yoe + era * 400 + (*m <= 2));
}

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

enum rc timeutil_add(int64_t t, struct duration d, int64_t *out)
{
	if (d.n < 0 || t < MIN_T || t > MAX_T)
		return RC_INVALID;
	int64_t r;
	if (d.unit == TU_DAYS || d.unit == TU_WEEKS) {
		int64_t days = (int64_t)d.n * (d.unit == TU_WEEKS ? 7 : 1);
		if (days > (MAX_T - MIN_T) / DAY)
			return RC_INVALID;
		r = t + days * DAY;
	} else {
		int64_t days = floor_div(t, DAY);
		int64_t secs = t - days * DAY;
		int y, m, dd;
		timeutil_civil_from_days(days, &y, &m, &dd);
		int64_t months = (int64_t)d.n * (d.unit == TU_YEARS ? 12 : 1);
		int64_t idx = (int64_t)y * 12 + (m - 1) + months;
		if (idx / 12 > 9999)
			return RC_INVALID;
		y = (int)(idx / 12);
		m = (int)(idx % 12) + 1;
		int dim = timeutil_days_in_month(y, m);
		if (dd > dim)
			dd = dim;
		r = timeutil_days_from_civil(y, m, dd) * DAY + secs;
	}
	if (r > MAX_T)
		return RC_INVALID;
	*out = r;
	return RC_OK;
}

/* Reads exactly n ASCII digits. */
static bool digits(const char *s, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static bool parse_ymd(const char *s, int *y, int *m, int *d)
{
	return digits(s, 4, y) && s[4] == '-' && digits(s + 5, 2, m) &&
	       s[7] == '-' && digits(s + 8, 2, d) && *y >= 1 && *m >= 1 &&
	       *m <= 12 && *d >= 1 && *d <= timeutil_days_in_month(*y, *m);
}

enum rc timeutil_parse_date(const char *s, int64_t *out)
{
	int y, m, d;
	if (strlen(s) != 10 || !parse_ymd(s, &y, &m, &d))
		return RC_INVALID;
	*out = timeutil_days_from_civil(y, m, d) * DAY;
	return RC_OK;
}

enum rc timeutil_parse_datetime(const char *s, int64_t *out)
{
	int y, mo, d, h, mi, se;
	size_t len = strlen(s);
	if (len < 20 || !parse_ymd(s, &y, &mo, &d) || (s[10] != 'T' && s[10] != 't') ||
	    !digits(s + 11, 2, &h) || s[13] != ':' || !digits(s + 14, 2, &mi) ||
	    s[16] != ':' || !digits(s + 17, 2, &se) || h > 23 || mi > 59 || se > 59)
		return RC_INVALID;
	const char *p = s + 19;
	if (*p == '.') {
		const char *q = ++p;
		while (*p >= '0' && *p <= '9')
			p++;
		if (p == q || p - q > 9)
			return RC_INVALID;
	}
	int offset = 0;
	if ((*p == 'Z' || *p == 'z') && p[1] == '\0') {
		offset = 0;
	} else if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':') {
		int oh, om;
		if (!digits(p + 1, 2, &oh) || !digits(p + 4, 2, &om) || oh > 23 || om > 59)
			return RC_INVALID;
		offset = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
	} else {
		return RC_INVALID;
	}
	int64_t t = timeutil_days_from_civil(y, mo, d) * DAY + h * 3600 + mi * 60 + se - offset;
	if (t < MIN_T || t > MAX_T)
		return RC_INVALID;
	*out = t;
	return RC_OK;
}

enum rc timeutil_parse_instant(const char *s, int64_t *out)
{
	return strlen(s) == 10 ? timeutil_parse_date(s, out) : timeutil_parse_datetime(s, out);
}

static const struct {
	const char *one, *many, iso;
} unit_names[] = {
	[TU_DAYS] = {"day", "days", 'D'},
	[TU_WEEKS] = {"week", "weeks", 'W'},
	[TU_MONTHS] = {"month", "months", 'M'},
	[TU_YEARS] = {"year", "years", 'Y'},
};

enum rc timeutil_parse_duration(const char *s, struct duration *out)
{
	const char *p = s;
	long n = 0;
	if (*p < '0' || *p > '9')
		return RC_INVALID;
	while (*p >= '0' && *p <= '9') {
		n = n * 10 + (*p++ - '0');
		if (n > 100000)
			return RC_INVALID;
	}
	if (*p != ' ')
		return RC_INVALID;
	while (*p == ' ')
		p++;
	for (size_t u = 0; u < sizeof unit_names / sizeof unit_names[0]; u++) {
		if (!strcmp(p, unit_names[u].one) || !strcmp(p, unit_names[u].many)) {
			out->n = (int)n;
			out->unit = (enum time_unit)u;
			return RC_OK;
		}
	}
	return RC_INVALID;
}

/* Writes v as exactly n decimal digits. */
static char *put_digits(char *p, int v, int n)
{
	for (int i = n - 1; i >= 0; i--) {
		p[i] = (char)('0' + v % 10);
		v /= 10;
	}
	return p + n;
}

static char *put_date(char *p, int64_t days)
{
	int y, m, d;
	timeutil_civil_from_days(days, &y, &m, &d);
	p = put_digits(p, y, 4);
	*p++ = '-';
	p = put_digits(p, m, 2);
	*p++ = '-';
	return put_digits(p, d, 2);
}

void timeutil_format_date(int64_t t, char out[TIMEUTIL_DATE_LEN])
{
	*put_date(out, floor_div(t, DAY)) = '\0';
}

void timeutil_format_datetime(int64_t t, char out[TIMEUTIL_DATETIME_LEN])
{
	int64_t days = floor_div(t, DAY);
	int secs = (int)(t - days * DAY);
	char *p = put_date(out, days);
	*p++ = 'T';
	p = put_digits(p, secs / 3600, 2);
	*p++ = ':';
	p = put_digits(p, secs / 60 % 60, 2);
	*p++ = ':';
	p = put_digits(p, secs % 60, 2);
	*p++ = 'Z';
	*p = '\0';
}

void timeutil_format_duration(struct duration d, char *out, size_t size)
{
	snprintf(out, size, "%d %s", d.n, d.n == 1 ? unit_names[d.unit].one : unit_names[d.unit].many);
}

void timeutil_format_duration_iso(struct duration d, char *out, size_t size)
{
	snprintf(out, size, "P%d%c", d.n, unit_names[d.unit].iso);
}
