/*
 * keep: when a record is due to go under its kind's `keep` rule, and when its
 * ip fields are cut. Calendar arithmetic (31 Jan + 1 month = 28 Feb); a time
 * past year 9999 counts as never. The retention sweep carries these out; the
 * record module stores them beside each record when it is written.
 */
#ifndef PRIVREG_KEEP_H
#define PRIVREG_KEEP_H

#include <stddef.h>
#include <stdint.h>

#include "core/policy.h"
#include "store/store.h"

/* t + d in calendar units; 0 (never) past year 9999. */
int64_t keep_after(int64_t t, struct duration d);
/* The end of the financial year (k->fy_month/fy_day) in which t falls: 00:00
 * UTC of the day after the year's last day. */
int64_t keep_financial_year_end(const struct policy_keep *k, int64_t t);
/* The due time of a record of `kind` created at `created` with the events
 * ev (and more, later ones of the same name win); 0 when not due. */
int64_t keep_due(const struct policy_record *kind, int64_t created, const struct store_event *ev, size_t nev,
                 const struct store_event *more, size_t nmore);
/* When a record's ip fields are to be cut (written at `written`); 0: never. */
int64_t keep_trim_at(const struct policy_record *kind, int64_t written);

#endif
