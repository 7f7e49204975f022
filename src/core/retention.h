/*
 * retention: when each record is due to go, and the sweep that carries it out.
 *
 * A record's due time is computed from its kind's `keep` rule whenever the
 * record is written or given an event, and stored beside it, so that the sweep
 * walks an index of what is due instead of every record. A record whose event
 * has not happened is not due. The sweep works in small transactions: a crash
 * leaves every record either before or after its change, and a rerun finishes
 * the job. Held records (legal holds) and the records of a restricted subject
 * (Art. 18; not those kept by law after an erasure) are passed over and stay
 * due: they are what GET /v1/retention/overdue lists.
 */
#ifndef PRIVREG_RETENTION_H
#define PRIVREG_RETENTION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "store/store.h"

#define RETENTION_BATCH_DEFAULT 500
#define RETENTION_FORECAST_MONTHS_MAX 120

struct retention_kind_count {
	char kind[65];
	size_t deleted, anonymized, trimmed, held;
	size_t restricted;         /* due, but the subject's data is restricted (Art. 18): left as it is */
};

struct retention_report {
	struct retention_kind_count *kinds;
	size_t nkinds;
	size_t subjects_deleted;
	size_t requests_expired;
	size_t banner_expired;      /* cookie banner choices older than BANNER_KEEP_DAYS */
	size_t done;               /* due records looked at */
};

typedef void retention_progress(void *arg, size_t done, size_t total);

struct retention_opts {
	bool dry_run;              /* count exactly what a real run would do; change nothing */
	size_t batch;              /* records per transaction; 0: the default */
	retention_progress *progress; /* may be NULL */
	void *arg;
};

/* Sweeps c->tenant at core_now(c). */
enum rc retention_sweep(const struct core_ctx *c, const struct retention_opts *o, struct retention_report *out,
                        struct errbuf *eb) WUR;
void retention_report_fini(struct retention_report *r);

/* Computes every record's due time again under the policy now in force
 * (after a new policy version, or for records written before due times were
 * kept); *changed says how many moved. Pages of `batch` records, each its
 * own transaction. */
enum rc retention_recompute(const struct core_ctx *c, size_t *changed) WUR;

/* Re-applies one retention deletion (anonymise: anonymisation) of the
 * erasure ledger to a restored copy: the record goes as the sweep made it
 * go, whatever its due time in the copy; a record the copy does not have is
 * no error. In the caller's transaction. */
enum rc retention_replay(const struct core_ctx *c, const char *record_id, bool anonymise) WUR;

/* How many records are due now (held ones included). */
enum rc retention_due_count(const struct core_ctx *c, int64_t *n) WUR;

/* Records of c->tenant due before `until`, counted by calendar month (UTC)
 * and kind (free(*out)). */
enum rc retention_forecast(const struct core_ctx *c, int64_t until, struct store_forecast_row **out,
                           size_t *n) WUR;
/* Up to max records due at core_now(c), held ones included, oldest first. */
enum rc retention_overdue(const struct core_ctx *c, struct store_due *out, size_t max, size_t *n) WUR;

#endif
