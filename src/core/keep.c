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

int64_t keep_due(const struct policy_record *kind, int64_t created, const struct store_event *ev, size_t nev,
                      const struct store_event *more, size_t nmore)
{
	const struct policy_keep *k = &kind->keep;
	const char *event = k->rule == KEEP_WHILE_ACTIVE ? "closed" : k->event;
	if (!strcmp(event, "created"))
		return keep_after(created, k->period);
	const struct store_event *e = find_event(event, ev, nev, more, nmore);
	return e ? keep_after(e->at, k->period) : 0;
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
