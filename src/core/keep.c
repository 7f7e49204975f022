/*
 * keep: the arithmetic of `keep` rules (see keep.h). Pure functions of the
 * policy and the record's times: no store, no clock.
 */
#include "core/keep.h"

#include <string.h>

#include "base/timeutil.h"

int64_t keep_after(int64_t t, struct duration d)
{
	int64_t out;
	/* Past year 9999 is as good as never. */
	return timeutil_add(t, d, &out) ? 0 : out;
}

static const struct store_event *find_event(const char *name, const struct store_event *ev, size_t nev,
                                            const struct store_event *more, size_t nmore)
{
	for (size_t i = 0; i < nmore; i++)
		if (!strcmp(more[i].name, name))
			return &more[i];
	for (size_t i = 0; i < nev; i++)
		if (!strcmp(ev[i].name, name))
			return &ev[i];
	return NULL;
}

int64_t keep_financial_year_end(const struct policy_keep *k, int64_t t)
{
	int y, m, d;
	timeutil_civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &m, &d);
	/* The year's last day on or after t's day; the year ends when it does. */
	if (m > k->fy_month || (m == k->fy_month && d > k->fy_day))
		y++;
	return (timeutil_days_from_civil(y, k->fy_month, k->fy_day) + 1) * 86400;
}

int64_t keep_due(const struct policy_record *kind, int64_t created, const struct store_event *ev, size_t nev,
                      const struct store_event *more, size_t nmore)
{
	const struct policy_keep *k = &kind->keep;
	const char *event = k->rule == KEEP_WHILE_ACTIVE ? "closed" : k->event;
	int64_t from;
	if (!strcmp(event, "created")) {
		from = created;
	} else {
		const struct store_event *e = find_event(event, ev, nev, more, nmore);
		if (!e)
			return 0;
		from = e->at;
	}
	if (k->rule == KEEP_AFTER_EVENT && k->financial_year)
		from = keep_financial_year_end(k, from);
	return keep_after(from, k->period);
}

int64_t keep_trim_at(const struct policy_record *kind, int64_t written)
{
	int64_t at = 0;
	for (size_t i = 0; i < kind->nfields; i++) {
		const struct policy_field *f = kind->fields[i];
		if (f->type != FT_IP || !f->has_truncate)
			continue;
		int64_t t = keep_after(written, f->truncate_after);
		if (t && (!at || t < at))
			at = t;
	}
	return at;
}
