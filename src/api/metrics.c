/* metrics: counters and histogram (see metrics.h). */
#include "api/metrics.h"

#include "api/http.h"

static const int statuses[METRICS_STATUSES] = {200, 201, 204, 400, 401, 403, 404, 405, 409,
                                               410, 413, 415, 422, 429, 500, 503, 0};
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bounds_us[METRICS_BUCKETS - 1] = {250, 500, 1000, 2500, 5000, 10000,
                                                        25000, 50000, 100000, 250000, 1000000};

_Static_assert(sizeof statuses / sizeof statuses[0] == METRICS_STATUSES, "status table");

void metrics_init(struct metrics *m)
{
	for (int r = 0; r < METRICS_ROUTES; r++)
		for (int s = 0; s < METRICS_STATUSES; s++)
			atomic_init(&m->requests[r][s], 0);
	for (int b = 0; b < METRICS_BUCKETS; b++)
		atomic_init(&m->buckets[b], 0);
	atomic_init(&m->count, 0);
	atomic_init(&m->sum_us, 0);
}

static int status_index(int status)
{
	for (int i = 0; i < METRICS_STATUSES - 1; i++)
		if (statuses[i] == status)
			return i;
	return METRICS_STATUSES - 1; /* any other */
}

void metrics_observe(struct metrics *m, int route, int status, uint64_t micros)
{
	if (route < 0 || route >= METRICS_ROUTES)
		route = METRICS_ROUTES - 1;
	atomic_fetch_add_explicit(&m->requests[route][status_index(status)], 1, memory_order_relaxed);
	int b = 0;
	while (b < METRICS_BUCKETS - 1 && micros > bounds_us[b])
		b++;
	atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, micros, memory_order_relaxed);
}

enum rc metrics_render(struct metrics *m, struct buf *out)
{
	enum rc rc = buf_puts(out, "# HELP privreg_http_requests_total HTTP requests by route, method and status.\n"
	                           "# TYPE privreg_http_requests_total counter\n");
	for (size_t r = 0; !rc && r <= http_nroutes && r < METRICS_ROUTES; r++) {
		const char *route = r < http_nroutes ? http_routes[r].pattern : "unmatched";
		const char *method = r < http_nroutes ? http_routes[r].method : "any";
		for (int s = 0; !rc && s < METRICS_STATUSES; s++) {
			uint64_t v = atomic_load_explicit(&m->requests[r][s], memory_order_relaxed);
			if (v)
				rc = buf_printf(out, "privreg_http_requests_total{route=\"%s\",method=\"%s\",status=\"%d\"} %llu\n",
				                route, method, statuses[s], (unsigned long long)v);
		}
	}
	if (!rc)
		rc = buf_puts(out, "# HELP privreg_http_request_duration_seconds Time from request to response.\n"
		                   "# TYPE privreg_http_request_duration_seconds histogram\n");
	uint64_t cum = 0;
	for (int b = 0; !rc && b < METRICS_BUCKETS; b++) {
		cum += atomic_load_explicit(&m->buckets[b], memory_order_relaxed);
		if (b < METRICS_BUCKETS - 1)
			rc = buf_printf(out, "privreg_http_request_duration_seconds_bucket{le=\"%g\"} %llu\n",
			                (double)bounds_us[b] / 1e6, (unsigned long long)cum);
		else
			rc = buf_printf(out, "privreg_http_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
			                (unsigned long long)cum);
	}
	if (!rc)
		rc = buf_printf(out, "privreg_http_request_duration_seconds_sum %.6f\n"
		                     "privreg_http_request_duration_seconds_count %llu\n",
		                (double)atomic_load(&m->sum_us) / 1e6, (unsigned long long)atomic_load(&m->count));
	return rc;
}
