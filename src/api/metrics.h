/*
 * metrics: request counters by route, method and status, a latency
 * histogram and the time of each tenant's last sweep, updated from every
 * server thread and rendered in the Prometheus text format. Labels are
 * route patterns, never raw paths. Every route has its own row (sized from
 * the route table at init), so no route is ever counted under another's
 * name; a path no route matches is counted under route="unmatched".
 *
 * The page (server_metrics, metrics.c) writes each family's HELP and TYPE
 * lines followed at once by all of its samples: a family is never split.
 */
#ifndef PRIVREG_METRICS_H
#define PRIVREG_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define METRICS_STATUSES 17
#define METRICS_BUCKETS 12

/* The last completed retention sweep of one tenant. */
struct metrics_sweep {
	int64_t tenant;
	int64_t at;                /* when it ended, unix seconds */
	uint64_t micros;           /* how long it took */
};

struct metrics {
	size_t nroutes;            /* rows: routes + 1 for "unmatched" */
	atomic_uint_fast64_t (*requests)[METRICS_STATUSES];
	atomic_uint_fast64_t buckets[METRICS_BUCKETS]; /* cumulative at render */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
	/* Written by the sweeper once per tenant and period, read by /metrics:
	 * a lock is cheap at that rate. One row per tenant ever swept. */
	pthread_mutex_t sweep_lock;
	struct metrics_sweep *sweeps;
	size_t nsweeps, cap_sweeps;
};

/* nroutes: how many routes there are (http_nroutes). */
void metrics_init(struct metrics *m, size_t nroutes);
void metrics_fini(struct metrics *m);
/* route: index into http_routes, or http_nroutes for an unmatched path. */
void metrics_observe(struct metrics *m, int route, int status, uint64_t micros);
/* A tenant's retention sweep ended well at `at` after `micros`. */
void metrics_sweep_done(struct metrics *m, int64_t tenant, int64_t at, uint64_t micros);
/* The request counters and the histogram. */
enum rc metrics_render(struct metrics *m, struct buf *out) WUR;

#endif
