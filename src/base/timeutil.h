/*
 * timeutil: calendar arithmetic and strict ISO 8601 parsing, in UTC.
 *
 * Instants are int64 seconds since 1970-01-01T00:00:00Z. Months and years
 * are calendar months and years as GDPR deadlines and retention rules count
 * them: 31 Jan + 1 month = 28 Feb (29 in a leap year), 29 Feb + 1 year =
 * 28 Feb. Days and weeks are exact multiples of 86,400 s (UTC has no DST).
 * Years outside 1..9999 are refused so every result formats as ISO 8601.
 */
#ifndef PRIVREG_TIMEUTIL_H
#define PRIVREG_TIMEUTIL_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

enum time_unit { TU_DAYS, TU_WEEKS, TU_MONTHS, TU_YEARS };

struct duration {
	int n; /* >= 0 */
	enum time_unit unit;
};

#define TIMEUTIL_DATE_LEN 11     /* "2024-03-01" + NUL */
#define TIMEUTIL_DATETIME_LEN 21 /* "2024-03-01T12:00:00Z" + NUL */

int64_t timeutil_now(void);

/* t + d, or RC_INVALID if the result leaves years 1..9999. */
enum rc timeutil_add(int64_t t, struct duration d, int64_t *out) WUR;

/* "2024-02-29" (a real calendar date) -> midnight UTC. */
enum rc timeutil_parse_date(const char *s, int64_t *out) WUR;
/* "2024-02-29T13:05:00Z", optional ".fff", "Z" or "+02:00"; seconds required. */
enum rc timeutil_parse_datetime(const char *s, int64_t *out) WUR;
/* Either of the two above. */
enum rc timeutil_parse_instant(const char *s, int64_t *out) WUR;
/* "3 years", "1 month", "30 days", "2 weeks" (singular or plural unit). */
enum rc timeutil_parse_duration(const char *s, struct duration *out) WUR;

void timeutil_format_date(int64_t t, char out[TIMEUTIL_DATE_LEN]);
void timeutil_format_datetime(int64_t t, char out[TIMEUTIL_DATETIME_LEN]);
/* "3 years" / "1 month": the canonical words. */
void timeutil_format_duration(struct duration d, char *out, size_t size);
/* ISO 8601 duration: "P3Y", "P1M", "P2W", "P30D". */
void timeutil_format_duration_iso(struct duration d, char *out, size_t size);

/* Days since the epoch of a civil date, and back (proleptic Gregorian). */
int64_t timeutil_days_from_civil(int y, int m, int d);
void timeutil_civil_from_days(int64_t days, int *y, int *m, int *d);
int timeutil_days_in_month(int y, int m);

#endif
