/*
 * metrics: counters, histogram and sweep times (see metrics.h), and
 * server_metrics: the whole /metrics page, with the server's own counters
 * (tenants, policy reloads, failed sends) and what the register holds per
 * tenant (through core). Every family is written as HELP, TYPE, then all
 * of its samples; the per-tenant ones loop over the tenants inside each
 * family, never the other way round, which would split them.
 */
#include "api/metrics.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "api/server_internal.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "sender/sender.h"
#include "store/store.h"

/* A sanitizer build (the test build, the fuzzing build) also gives out
 * the live heap as ASan counts it: the soak judges the register's memory by
 * it, since the process's RSS there grows with ASan's own bookkeeping
 * (docs/reliability.md, Soak). A release build has no such gauge. */
#if defined(__SANITIZE_ADDRESS__)
#define METRICS_HEAP 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define METRICS_HEAP 1
#endif
#endif
#ifdef METRICS_HEAP
size_t __sanitizer_get_current_allocated_bytes(void); /* <sanitizer/allocator_interface.h>, not in gcc's */
#endif

static const int statuses[METRICS_STATUSES] = {200, 201, 204, 400, 401, 403, 404, 405, 409,
                                               410, 413, 415, 422, 429, 500, 503, 0};
/* Upper bounds in microseconds; the last bucket is +Inf. */
static const uint64_t bounds_us[METRICS_BUCKETS - 1] = {250, 500, 1000, 2500, 5000, 10000,
                                                        25000, 50000, 100000, 250000, 1000000};

_Static_assert(sizeof statuses / sizeof statuses[0] == METRICS_STATUSES, "status table");

void metrics_init(struct metrics *m, size_t nroutes)
{
	m->nroutes = nroutes + 1;
	m->requests = xcalloc(m->nroutes, sizeof *m->requests);
	for (size_t r = 0; r < m->nroutes; r++)
		for (int s = 0; s < METRICS_STATUSES; s++)
			atomic_init(&m->requests[r][s], 0);
	for (int b = 0; b < METRICS_BUCKETS; b++)
		atomic_init(&m->buckets[b], 0);
	atomic_init(&m->count, 0);
	atomic_init(&m->sum_us, 0);
	pthread_mutex_init(&m->sweep_lock, NULL);
	m->sweeps = NULL;
	m->nsweeps = m->cap_sweeps = 0;
}

void metrics_fini(struct metrics *m)
{
	free(m->requests);
	m->requests = NULL;
	pthread_mutex_destroy(&m->sweep_lock);
	free(m->sweeps);
	m->sweeps = NULL;
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
	if (route < 0 || (size_t)route >= m->nroutes)
		route = (int)m->nroutes - 1; /* not a route: counted as unmatched */
	atomic_fetch_add_explicit(&m->requests[route][status_index(status)], 1, memory_order_relaxed);
	int b = 0;
	while (b < METRICS_BUCKETS - 1 && micros > bounds_us[b])
		b++;
	atomic_fetch_add_explicit(&m->buckets[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->count, 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&m->sum_us, micros, memory_order_relaxed);
}

void metrics_sweep_done(struct metrics *m, int64_t tenant, int64_t at, uint64_t micros)
{
	pthread_mutex_lock(&m->sweep_lock);
	size_t i = 0;
	while (i < m->nsweeps && m->sweeps[i].tenant != tenant)
		i++;
	if (i == m->nsweeps) {
		if (m->nsweeps == m->cap_sweeps) {
			m->cap_sweeps = m->cap_sweeps ? 2 * m->cap_sweeps : 8;
			m->sweeps = xrealloc(m->sweeps, m->cap_sweeps * sizeof *m->sweeps);
		}
		m->nsweeps++;
	}
	m->sweeps[i] = (struct metrics_sweep){.tenant = tenant, .at = at, .micros = micros};
	pthread_mutex_unlock(&m->sweep_lock);
}

/* The last sweep of tenant; false if it was never swept since start. */
static bool sweep_of(struct metrics *m, int64_t tenant, struct metrics_sweep *out)
{
	pthread_mutex_lock(&m->sweep_lock);
	bool found = false;
	for (size_t i = 0; !found && i < m->nsweeps; i++)
		if (m->sweeps[i].tenant == tenant) {
			*out = m->sweeps[i];
			found = true;
		}
	pthread_mutex_unlock(&m->sweep_lock);
	return found;
}

enum rc metrics_render(struct metrics *m, struct buf *out)
{
	enum rc rc = buf_puts(out, "# HELP privreg_http_requests_total HTTP requests by route, method and status.\n"
	                           "# TYPE privreg_http_requests_total counter\n");
	for (size_t r = 0; !rc && r < m->nroutes; r++) {
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

/* The server's own counters: silent limits are none, failures are counted. */
static enum rc render_server(struct server *s, struct buf *out)
{
	struct server_tenants *t = &s->tenants;
	pthread_rwlock_rdlock(&t->lock);
	size_t loaded = t->n, retired = t->nretired;
	pthread_rwlock_unlock(&t->lock);
	return buf_printf(out,
	                  "# HELP privreg_tenants_loaded Tenants loaded by the server.\n"
	                  "# TYPE privreg_tenants_loaded gauge\n"
	                  "privreg_tenants_loaded %zu\n"
	                  "# HELP privreg_tenants_retired Tenant loads replaced by a newer policy version, kept until stop.\n"
	                  "# TYPE privreg_tenants_retired gauge\n"
	                  "privreg_tenants_retired %zu\n"
	                  "# HELP privreg_policy_reloads_total New policy versions taken up without a restart.\n"
	                  "# TYPE privreg_policy_reloads_total counter\n"
	                  "privreg_policy_reloads_total %llu\n"
	                  "# HELP privreg_policy_reload_failures_total Attempts to take up a new policy version that failed.\n"
	                  "# TYPE privreg_policy_reload_failures_total counter\n"
	                  "privreg_policy_reload_failures_total %llu\n"
	                  "# HELP privreg_tenant_load_failures_total Tenants that could not be loaded.\n"
	                  "# TYPE privreg_tenant_load_failures_total counter\n"
	                  "privreg_tenant_load_failures_total %llu\n"
	                  "# HELP privreg_mail_send_failures_total E-mail delivery attempts that failed (each is tried again later).\n"
	                  "# TYPE privreg_mail_send_failures_total counter\n"
	                  "privreg_mail_send_failures_total %llu\n",
	                  loaded, retired, (unsigned long long)atomic_load(&t->reloads),
	                  (unsigned long long)atomic_load(&t->reload_failures),
	                  (unsigned long long)atomic_load(&t->load_failures),
	                  (unsigned long long)sender_failures(s->sender));
}

/* The sanitizer build's live heap: bytes allocated and not yet freed, and
 * the part of them the database library holds (its page caches grow up to
 * their configured size, which is not a leak). */
static enum rc render_heap(struct buf *out)
{
#ifdef METRICS_HEAP
	return buf_printf(out,
	                  "# HELP privreg_heap_live_bytes Heap allocated and not freed (sanitizer builds only).\n"
	                  "# TYPE privreg_heap_live_bytes gauge\n"
	                  "privreg_heap_live_bytes %zu\n"
	                  "# HELP privreg_heap_database_bytes Part of the live heap held by the database library "
	                  "(sanitizer builds only).\n"
	                  "# TYPE privreg_heap_database_bytes gauge\n"
	                  "privreg_heap_database_bytes %lld\n",
	                  __sanitizer_get_current_allocated_bytes(), (long long)core_store_memory());
#else
	(void)out;
	return RC_OK;
#endif
}

/* The per-tenant families whose value is a count of struct tenant_status. */
static const struct {
	const char *name, *help;
	size_t offset;
} tenant_gauges[] = {
	{"privreg_subjects", "Data subjects held, by tenant.", offsetof(struct tenant_status, subjects)},
	{"privreg_records", "Records held, by tenant.", offsetof(struct tenant_status, records)},
	{"privreg_requests_open", "Data-subject requests not yet answered, by tenant.",
	 offsetof(struct tenant_status, requests_open)},
	{"privreg_requests_late", "Open requests past their deadline, by tenant.",
	 offsetof(struct tenant_status, requests_late)},
	{"privreg_outbox_pending", "E-mails waiting in the outbox (not yet sent), by tenant.",
	 offsetof(struct tenant_status, outbox_pending)},
};

/* What the register holds, per tenant, and each tenant's last sweep. */
static enum rc render_register(struct server *s, const struct tenant_status *v, size_t n, struct buf *out)
{
	enum rc rc = RC_OK;
	for (size_t f = 0; !rc && f < sizeof tenant_gauges / sizeof tenant_gauges[0]; f++) {
		rc = buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n", tenant_gauges[f].name, tenant_gauges[f].help,
		                tenant_gauges[f].name);
		for (size_t i = 0; !rc && i < n; i++) {
			const int64_t *value = (const int64_t *)((const char *)&v[i] + tenant_gauges[f].offset);
			rc = buf_printf(out, "%s{tenant=\"%s\"} %lld\n", tenant_gauges[f].name, v[i].name, (long long)*value);
		}
	}
	/* A tenant not swept since start has no sample: 0 would read as 1970. */
	struct metrics_sweep *sw = n ? xcalloc(n, sizeof *sw) : NULL;
	bool *swept = n ? xcalloc(n, sizeof *swept) : NULL;
	for (size_t i = 0; i < n; i++)
		swept[i] = sweep_of(&s->metrics, v[i].id, &sw[i]);
	if (!rc)
		rc = buf_puts(out, "# HELP privreg_sweep_last_run_timestamp_seconds When the last retention sweep of the "
		                   "tenant ended (since the server started).\n"
		                   "# TYPE privreg_sweep_last_run_timestamp_seconds gauge\n");
	for (size_t i = 0; !rc && i < n; i++)
		if (swept[i])
			rc = buf_printf(out, "privreg_sweep_last_run_timestamp_seconds{tenant=\"%s\"} %lld\n", v[i].name,
			                (long long)sw[i].at);
	if (!rc)
		rc = buf_puts(out, "# HELP privreg_sweep_last_duration_seconds How long the last retention sweep of the "
		                   "tenant took.\n"
		                   "# TYPE privreg_sweep_last_duration_seconds gauge\n");
	for (size_t i = 0; !rc && i < n; i++)
		if (swept[i])
			rc = buf_printf(out, "privreg_sweep_last_duration_seconds{tenant=\"%s\"} %.6f\n", v[i].name,
			                (double)sw[i].micros / 1e6);
	free(sw);
	free(swept);
	return rc;
}

enum rc server_metrics(struct server *s, struct store *st, const struct tenant *only, struct buf *out)
{
	struct tenant_status one, *v = NULL;
	size_t n = 0;
	enum rc rc = buf_puts(out, "# HELP privreg_build_info The privreg version that serves this page.\n"
	                           "# TYPE privreg_build_info gauge\n"
	                           "privreg_build_info{version=\"" PRIVREG_VERSION "\"} 1\n");
	if (!rc)
		rc = metrics_render(&s->metrics, out);
	if (!rc)
		rc = render_server(s, out);
	if (!rc)
		rc = render_heap(out);
	if (!rc && only) {
		rc = tenant_status_get(st, only, timeutil_now(), &one);
		v = &one;
		n = 1;
	} else if (!rc) {
		rc = tenant_status_list(st, timeutil_now(), &v, &n);
	}
	if (!rc)
		rc = render_register(s, v, n, out);
	if (v != &one)
		free(v);
	return rc;
}

/* The operator's address answers at once, from the request line alone: a
 * body is never read (the connection closes after the answer), so there
 * is nothing to bound. No key: the address is the protection. */
enum MHD_Result server_on_metrics(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	struct server *s = cls;
	int status = 200;
	char *text = NULL;
	size_t len = 0;
	if (strcmp(url, "/metrics") != 0) {
		status = 404;
	} else if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		status = 405;
	} else {
		struct worker *w = NULL;
		struct buf b;
		buf_init(&b, 4 * 1024 * 1024);
		enum rc rc = server_worker(s, &w);
		if (!rc)
			rc = server_metrics(s, w->store, NULL, &b);
		if (rc) {
			log_error("metrics-listen: the page failed: %s", rc_str(rc));
			buf_fini(&b);
			status = 500;
		} else {
			text = buf_take(&b, &len);
		}
	}
	if (!text) {
		const char *msg = status == 404 ? "not found: only /metrics is served here\n"
		                : status == 405 ? "method not allowed\n" : "internal error\n";
		text = xstrdup(msg);
		len = strlen(msg);
	}
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(r, "Content-Type", status == 200 ? "text/plain; version=0.0.4" : "text/plain");
	if (status == 405)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	return ret;
}
