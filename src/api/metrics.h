/*
 * metrics: request counters by route, method and status, and a latency
 * histogram, updated lock-free from every server thread and rendered in the
 * Prometheus text format. Labels are route patterns, never raw paths.
 * Every route has its own row (sized from the route table at init), so no
 * route is ever counted under another's name.
 */
#ifndef PRIVREG_METRICS_H
#define PRIVREG_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define METRICS_STATUSES 17
#define METRICS_BUCKETS 12

struct metrics {
	size_t nroutes;            /* rows: routes + 1 for "unmatched" */
	atomic_uint_fast64_t (*requests)[METRICS_STATUSES];
	atomic_uint_fast64_t buckets[METRICS_BUCKETS]; /* cumulative at render */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
};

/* nroutes: how many routes there are (http_nroutes). */
void metrics_init(struct metrics *m, size_t nroutes);
void metrics_fini(struct metrics *m);
/* route: index into http_routes, or http_nroutes for an unmatched path. */
void metrics_observe(struct metrics *m, int route, int status, uint64_t micros);
enum rc metrics_render(struct metrics *m, struct buf *out) WUR;

#endif
