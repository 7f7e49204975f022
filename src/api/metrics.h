/*
 * metrics: request counters by route, method and status, and a latency
 * histogram, updated lock-free from every server thread and rendered in the
 * Prometheus text format. Labels are route patterns, never raw paths.
 */
#ifndef PRIVREG_METRICS_H
#define PRIVREG_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "base/buf.h"

#define METRICS_ROUTES 32   /* routes + 1 for "unmatched" */
#define METRICS_STATUSES 17
#define METRICS_BUCKETS 12

struct metrics {
	atomic_uint_fast64_t requests[METRICS_ROUTES][METRICS_STATUSES];
	atomic_uint_fast64_t buckets[METRICS_BUCKETS]; /* cumulative at render */
	atomic_uint_fast64_t count;
	atomic_uint_fast64_t sum_us;
};

void metrics_init(struct metrics *m);
/* route: index into http_routes, or http_nroutes for an unmatched path. */
void metrics_observe(struct metrics *m, int route, int status, uint64_t micros);
enum rc metrics_render(struct metrics *m, struct buf *out) WUR;

#endif
