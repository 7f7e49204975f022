/*
 * server: libmicrohttpd glue, authentication, bounds, dispatch, logging
 * (see server.h). Every request's state lives in a `struct pending` that
 * libmicrohttpd hands back on each call for the connection and that the
 * completion callback frees, whether the request finished or was aborted.
 */
#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "api/http.h"
#include "api/metrics.h"
#include "api/ratelimit.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/retention.h"
#include "sender/sender.h"
#include "store/store.h"

#define MAX_TENANTS 1024

struct server {
	char *keydir, *store_url, *public_url;
	struct sender *sender;
	struct store_pool *pool;   /* every connection of the server comes from it */
	struct MHD_Daemon *mhd;
	uint16_t port;
	pthread_key_t worker_key;  /* each server thread's struct worker */
	pthread_mutex_t workers_lock;
	struct worker *workers;
	pthread_rwlock_t tenants_lock; /* read-mostly: written when a tenant is first loaded */
	struct tenant *tenants[MAX_TENANTS];
	size_t ntenants;
	/* Tenants replaced by a newer policy version: requests in flight may
	 * still use them, so they are freed only at stop. */
	struct tenant *retired[MAX_TENANTS];
	size_t nretired;
	struct metrics metrics;
	struct ratelimit ratelimit;
	struct audit_sink *sink;   /* writes access entries in batches */
	/* The ticker makes relaxed commits durable every sync_interval_ms. */
	pthread_t ticker;
	pthread_mutex_t tick_lock;
	pthread_cond_t tick_cond;
	bool stopping;
	int sync_interval_ms;
	/* The sweeper runs the retention sweep of every tenant every sweep_every_s. */
	pthread_t sweeper;
	unsigned sweep_every_s;
};

struct pending {
	struct request rq;
	struct buf body;
	bool body_too_large;
	enum rc match_rc;
	/* Reads of personal data wait, suspended, until their access entries
	 * are written: then the answer goes out (or a 500, if they were not). */
	struct audit_waiter waiter;
	bool parked;
	enum rc handler_rc;
	char allow[64];
	uint64_t start_us;
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- per-thread store, tenants ---- */

/* What one server thread keeps for itself: its connection and the keys it
 * has recently found valid. Freed when the thread ends. */
struct worker {
	struct server *srv;
	struct store *store;
	struct apikey_cache keys;
	/* Access-log lines, written out with one write(2) when the buffer fills
	 * or when the ticker comes by (every second): threads never wait for
	 * each other to log. The lock is only ever contended by the ticker. */
	pthread_mutex_t log_lock;
	char log[16384];
	size_t log_len;
	struct worker *next;      /* in srv->workers */
};

static void log_flush_locked(struct worker *w)
{
	size_t off = 0;
	while (off < w->log_len) {
		ssize_t n = write(STDERR_FILENO, w->log + off, w->log_len - off);
		if (n <= 0 && errno != EINTR)
			break; /* nowhere to log to: drop, never block the request */
		if (n > 0)
			off += (size_t)n;
	}
	w->log_len = 0;
}

static void worker_log(struct worker *w, const char *line, size_t len)
{
	pthread_mutex_lock(&w->log_lock);
	if (w->log_len + len > sizeof w->log)
		log_flush_locked(w);
	memcpy(w->log + w->log_len, line, len);
	w->log_len += len;
	pthread_mutex_unlock(&w->log_lock);
}

static void workers_flush(struct server *s)
{
	pthread_mutex_lock(&s->workers_lock);
	for (struct worker *w = s->workers; w; w = w->next) {
		pthread_mutex_lock(&w->log_lock);
		log_flush_locked(w);
		pthread_mutex_unlock(&w->log_lock);
	}
	pthread_mutex_unlock(&s->workers_lock);
}

static void worker_free(void *p)
{
	struct worker *w = p;
	struct server *s = w->srv;
	pthread_mutex_lock(&s->workers_lock);
	for (struct worker **pp = &s->workers; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			break;
		}
	}
	pthread_mutex_unlock(&s->workers_lock);
	log_flush_locked(w);
	pthread_mutex_destroy(&w->log_lock);
	store_close(w->store);
	apikey_cache_wipe(&w->keys);
	free(w);
}

static enum rc thread_worker(struct server *s, struct worker **out)
{
	struct worker *w = pthread_getspecific(s->worker_key);
	if (!w) {
		struct errbuf eb = {""};
		struct store *st = NULL;
		enum rc rc = store_pool_open(s->pool, &st, &eb);
		if (rc) {
			log_error("cannot open the store for a server thread: %s", err_msg(&eb, rc));
			return RC_UNAVAILABLE;
		}
		w = xcalloc(1, sizeof *w);
		w->srv = s;
		w->store = st;
		pthread_mutex_init(&w->log_lock, NULL);
		pthread_mutex_lock(&s->workers_lock);
		w->next = s->workers;
		s->workers = w;
		pthread_mutex_unlock(&s->workers_lock);
		pthread_setspecific(s->worker_key, w);
	}
	*out = w;
	return RC_OK;
}

/* The loaded tenant with this id; tenants created after start-up are
 * loaded on first use. */
static const struct tenant *tenant_find(struct server *s, int64_t id)
{
	for (size_t i = 0; i < s->ntenants; i++)
		if (s->tenants[i]->id == id)
			return s->tenants[i];
	return NULL;
}

static enum rc tenant_get(struct server *s, struct store *st, int64_t id, const struct tenant **out)
{
	enum rc rc = RC_OK;
	pthread_rwlock_rdlock(&s->tenants_lock);
	*out = tenant_find(s, id);
	pthread_rwlock_unlock(&s->tenants_lock);
	if (*out)
		return RC_OK;
	pthread_rwlock_wrlock(&s->tenants_lock);
	if ((*out = tenant_find(s, id))) { /* loaded meanwhile */
		pthread_rwlock_unlock(&s->tenants_lock);
		return RC_OK;
	}
	struct store_tenant *v = NULL;
	size_t n = 0;
	rc = store_tenant_list(st, &v, &n);
	const char *name = NULL;
	for (size_t i = 0; !rc && i < n; i++)
		if (v[i].id == id)
			name = v[i].name;
	if (!rc && (!name || s->ntenants == MAX_TENANTS))
		rc = RC_UNAUTHORIZED;
	struct tenant *t = NULL;
	struct errbuf eb = {""};
	if (!rc)
		rc = tenant_open(st, s->keydir, name, &t, &eb);
	if (!rc) {
		s->tenants[s->ntenants++] = t;
		*out = t;
		log_info("tenant loaded tenant=%lld", (long long)id);
	} else {
		log_error("cannot load tenant=%lld: %s", (long long)id, err_msg(&eb, rc));
	}
	store_tenants_free(v, n);
	pthread_rwlock_unlock(&s->tenants_lock);
	return rc;
}

/* ---- request helpers for handlers ---- */

const char *request_query(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

enum rc request_number(struct request *rq, const char *name, const char *value, long lo, long hi, long *out)
{
	char *end;
	long v = value ? strtol(value, &end, 10) : 0;
	if (!value || !*value || *end || v < lo || v > hi)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "%s must be a number from %ld to %ld", name, lo, hi);
	*out = v;
	return RC_OK;
}

struct query_iter {
	struct request *rq;
	query_fn *fn;
	void *arg;
	enum rc rc;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_iter *it = cls;
	(void)kind;
	it->rc = it->fn(it->rq, key, value, it->arg);
	return it->rc ? MHD_NO : MHD_YES;
}

enum rc request_each_query(struct request *rq, query_fn *fn, void *arg)
{
	struct query_iter it = {rq, fn, arg, RC_OK};
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_cb, &it);
	return it.rc;
}

void request_reply(struct request *rq, int status, json_t *body)
{
	json_decref(rq->out);
	rq->status = status;
	rq->out = body;
}

void request_reply_html(struct request *rq, int status, char *html)
{
	free(rq->text);
	rq->status = status;
	rq->text = html;
	rq->content_type = "text/html; charset=utf-8";
}

const char *request_header(struct request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

static void client_addr(struct MHD_Connection *conn, char *out, size_t size);

void request_client_ip(struct request *rq, char *out, size_t size)
{
	client_addr(rq->conn, out, size);
}

static enum rc tenant_get(struct server *s, struct store *st, int64_t id, const struct tenant **out);

enum rc request_tenant(struct request *rq, int64_t id, const struct tenant **out)
{
	return tenant_get(rq->srv, rq->ctx.store, id, out);
}

/* ---- bounds ---- */

/* Deepest nesting of arrays and objects, outside strings; stops counting
 * past the limit, so a deep document costs no more than a shallow one. */
static int json_depth(const char *s, size_t n)
{
	int depth = 0, max = 0;
	bool in_string = false;
	for (size_t i = 0; i < n && max <= HTTP_JSON_DEPTH_MAX; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

static bool is_json_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	return !strncasecmp(ct, "application/json", n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static void client_addr(struct MHD_Connection *conn, char *out, size_t size)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	snprintf(out, size, "?");
	if (!ci || !ci->client_addr)
		return;
	const struct sockaddr *sa = ci->client_addr;
	if (sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, out, (socklen_t)size);
	else if (sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, out, (socklen_t)size);
}

/* ---- the request pipeline ---- */

static enum rc authenticate(struct server *s, struct worker *w, struct pending *p, struct MHD_Connection *conn)
{
	struct request *rq = &p->rq;
	char addr[INET6_ADDRSTRLEN];
	int64_t retry;
	client_addr(conn, addr, sizeof addr);
	if (ratelimit_blocked(&s->ratelimit, addr, timeutil_now(), &retry)) {
		snprintf(rq->retry_after, sizeof rq->retry_after, "%lld", (long long)retry);
		return err_set(&rq->eb, RC_TOO_MANY, "too many failed authentications from this address");
	}
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth || strncmp(auth, "Bearer ", 7))
		return err_set(&rq->eb, RC_UNAUTHORIZED, "send an API key as 'Authorization: Bearer KEY'");
	struct apikey_identity key;
	enum rc rc = apikey_authenticate_cached(&w->keys, rq->ctx.store, auth + 7, (int64_t)(now_us() / 1000), &key);
	if (rc == RC_UNAUTHORIZED) {
		ratelimit_fail(&s->ratelimit, addr, timeutil_now());
		return err_set(&rq->eb, rc, "the API key is not valid");
	}
	if (rc)
		return rc;
	rq->role = key.role;
	memcpy(rq->key_id, key.key_id, sizeof rq->key_id);
	rc = tenant_get(s, rq->ctx.store, key.tenant_id, &rq->ctx.tenant);
	if (rc)
		return err_set(&rq->eb, RC_UNAUTHORIZED, "the API key's tenant is not available");
	rq->ctx.key_id = rq->key_id;
	rq->ctx.role = apikey_role_name(rq->role);
	if (!(rq->route->roles & (1u << rq->role)))
		return err_set(&rq->eb, RC_FORBIDDEN, "the role '%s' may not use %s %s", rq->ctx.role,
		               rq->route->method, rq->route->pattern);
	const char *purpose = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Purpose");
	if (purpose) {
		if (strlen(purpose) > 64 || !policy_purpose(rq->ctx.tenant->policy, purpose))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "X-Purpose: not a purpose of the policy");
		rq->ctx.purpose = purpose;
	}
	return RC_OK;
}

static enum rc parse_body(struct pending *p, struct MHD_Connection *conn)
{
	struct request *rq = &p->rq;
	if (p->body_too_large)
		return err_set(&rq->eb, RC_TOO_LARGE, "the body is larger than %d bytes", HTTP_BODY_MAX);
	if (rq->route->body == BODY_FORM) {
		/* Forms (the public pages, RFC 8058 one-click): kept raw. */
		rq->form = p->body.data ? p->body.data : "";
		return RC_OK;
	}
	if (rq->route->body == BODY_JSON_OPTIONAL && p->body.len == 0)
		return RC_OK;
	if (!is_json_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return err_set(&rq->eb, RC_MEDIA_TYPE, "send the body as Content-Type: application/json");
	if (p->body.len == 0)
		return err_set(&rq->eb, RC_INVALID, "a JSON body is required");
	if (json_depth(p->body.data, p->body.len) > HTTP_JSON_DEPTH_MAX)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "the JSON is nested deeper than %d levels", HTTP_JSON_DEPTH_MAX);
	json_error_t jerr;
	rq->json = json_loadb(p->body.data, p->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!rq->json)
		return err_set(&rq->eb, RC_INVALID, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
		               jerr.text);
	return RC_OK;
}

static enum rc dispatch(struct server *s, struct pending *p, struct MHD_Connection *conn)
{
	struct request *rq = &p->rq;
	if (p->match_rc)
		return p->match_rc == RC_METHOD ? err_set(&rq->eb, RC_METHOD, "allowed: %s", p->allow)
		                                : err_set(&rq->eb, RC_NOT_FOUND, "no such endpoint");
	struct worker *w = NULL;
	enum rc rc = thread_worker(s, &w);
	if (!rc) {
		rq->ctx.store = w->store;
		rq->ctx.sink = s->sink;
		rq->ctx.waiter = &p->waiter;
		rq->ctx.public_url = s->public_url;
	}
	if (!rc && rq->route->roles != R_PUBLIC)
		rc = authenticate(s, w, p, conn);
	if (!rc && rq->route->body != BODY_NONE)
		rc = parse_body(p, conn);
	if (!rc)
		rc = rq->route->fn(rq);
	return rc;
}

static enum MHD_Result respond(struct server *s, struct pending *p, struct MHD_Connection *conn, enum rc rc)
{
	struct request *rq = &p->rq;
	char *text = NULL;
	const char *ctype = "application/json";
	int status;
	if (rc) {
		status = rc_http_status(rc);
		json_t *err = json_pack("{s:{s:s, s:s}}", "error", "code", rc_code(rc), "message", err_msg(&rq->eb, rc));
		text = json_dumps(err, JSON_COMPACT);
		json_decref(err);
		if (status >= 500)
			log_error("request failed route=%s rc=%s msg=%s", rq->route ? rq->route->pattern : "-", rc_code(rc),
			          err_msg(&rq->eb, rc));
	} else {
		status = rq->status ? rq->status : 200;
		if (rq->text) {
			text = rq->text;
			rq->text = NULL;
			ctype = rq->content_type;
		} else if (rq->out) {
			text = json_dumps(rq->out, JSON_COMPACT);
		}
	}
	size_t len = text ? strlen(text) : 0;
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text ? text : (char *)"",
	                                                            text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (len || status != 204)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	/* Answers carry personal data: no cache may keep them. */
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (!strncmp(ctype, "text/html", 9)) {
		/* Pages behind e-mailed links: no scripts, no framing, and the
		 * token in the URL is not sent on as a referrer. */
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
	}
	if (rc == RC_METHOD)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, p->allow);
	if (rc == RC_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (rc == RC_TOO_MANY && rq->retry_after[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, rq->retry_after);
	enum MHD_Result r = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);

	uint64_t us = now_us() - p->start_us;
	metrics_observe(&s->metrics, p->match_rc ? (int)http_nroutes : rq->route_index, status, us);
	char line[512];
	size_t line_len = log_format(line, sizeof line, LOG_INFO, "http method=%s route=%s status=%d us=%llu key=%s tenant=%lld",
	                        rq->method, p->match_rc ? "-" : rq->route->pattern, status, (unsigned long long)us,
	                        rq->key_id[0] ? rq->key_id : "-",
	                        rq->ctx.tenant ? (long long)rq->ctx.tenant->id : 0LL);
	struct worker *w = pthread_getspecific(s->worker_key);
	if (w)
		worker_log(w, line, line_len);
	else
		fputs(line, stderr);
	return r;
}

static void park(void *arg)
{
	struct pending *p = arg;
	MHD_suspend_connection(p->rq.conn);
}

static void wake(void *arg)
{
	struct pending *p = arg;
	MHD_resume_connection(p->rq.conn);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	struct server *s = cls;
	struct pending *p = *con_cls;
	(void)version;
	if (!p) {
		p = xcalloc(1, sizeof *p);
		p->start_us = now_us();
		p->rq.srv = s;
		p->rq.conn = conn;
		p->rq.method = method;
		buf_init(&p->body, HTTP_BODY_MAX);
		audit_waiter_init(&p->waiter, wake, p);
		p->match_rc = router_match(method, url, &p->rq.route_index, p->rq.params, p->allow, sizeof p->allow);
		if (!p->match_rc)
			p->rq.route = &http_routes[p->rq.route_index];
		*con_cls = p;
		/* An announced body over the cap is refused before it is read. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
			err_set(&p->rq.eb, RC_TOO_LARGE, "the body is larger than %d bytes", HTTP_BODY_MAX);
			return respond(s, p, conn, RC_TOO_LARGE);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!p->body_too_large && buf_append(&p->body, upload_data, *upload_data_size))
			p->body_too_large = true; /* keep reading, answer 413 at the end */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (p->parked) { /* woken: the access entries are written, or failed */
		enum rc rc = p->handler_rc ? p->handler_rc : audit_waiter_result(&p->waiter);
		if (rc && !p->handler_rc)
			err_set(&p->rq.eb, rc, "the access could not be logged, so nothing is shown");
		return respond(s, p, conn, rc);
	}
	enum rc rc = dispatch(s, p, conn);
	p->handler_rc = rc;
	if (audit_waiter_park(&p->waiter, park, p)) {
		p->parked = true;
		return MHD_YES;
	}
	/* Not parked: the entries were already written, or failed, before the
	 * park; a failed entry refuses the read here too. */
	if (!rc && (rc = audit_waiter_result(&p->waiter)))
		err_set(&p->rq.eb, rc, "the access could not be logged, so nothing is shown");
	return respond(s, p, conn, rc);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	struct pending *p = *con_cls;
	(void)cls;
	(void)conn;
	(void)toe;
	if (!p)
		return;
	json_decref(p->rq.json);
	json_decref(p->rq.out);
	free(p->rq.text);
	buf_fini(&p->body);
	audit_waiter_fini(&p->waiter);
	free(p);
	*con_cls = NULL;
}

/* ---- new policy versions ---- */

/* Loads the policy version now in force for every tenant whose version
 * changed (privreg tenant policy), so that no restart is needed. */
static void reload_policies(struct server *s, struct store *st)
{
	pthread_rwlock_rdlock(&s->tenants_lock);
	size_t n = s->ntenants;
	int64_t ids[MAX_TENANTS];
	bool changed[MAX_TENANTS] = {false};
	for (size_t i = 0; i < n; i++) {
		char *version = NULL, *source = NULL;
		ids[i] = s->tenants[i]->id;
		if (!store_policy_current(st, ids[i], &version, &source))
			changed[i] = strcmp(version, s->tenants[i]->policy->version) != 0;
		free(version);
		free(source);
	}
	pthread_rwlock_unlock(&s->tenants_lock);
	for (size_t i = 0; i < n; i++) {
		if (!changed[i])
			continue;
		pthread_rwlock_wrlock(&s->tenants_lock);
		for (size_t k = 0; k < s->ntenants; k++) {
			if (s->tenants[k]->id != ids[i] || s->nretired == MAX_TENANTS)
				continue;
			struct tenant *fresh = NULL;
			struct errbuf eb = {""};
			if (tenant_open(st, s->keydir, s->tenants[k]->name, &fresh, &eb)) {
				log_error("tenant=%lld: new policy cannot be loaded: %s", (long long)ids[i], eb.msg);
				continue;
			}
			s->retired[s->nretired++] = s->tenants[k];
			s->tenants[k] = fresh;
			log_info("tenant=%lld now runs under policy version %s", (long long)ids[i], fresh->policy->version);
		}
		pthread_rwlock_unlock(&s->tenants_lock);
	}
}

/* ---- ticker: durability of relaxed commits ---- */

static void *ticker_main(void *arg)
{
	struct server *s = arg;
	struct store *st = NULL;
	struct errbuf eb = {""};
	if (store_pool_open(s->pool, &st, &eb))
		log_error("ticker cannot open the store: %s", eb.msg);
	pthread_mutex_lock(&s->tick_lock);
	while (!s->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += s->sync_interval_ms / 1000;
		until.tv_nsec += (long)(s->sync_interval_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&s->tick_cond, &s->tick_lock, &until);
		pthread_mutex_unlock(&s->tick_lock);
		if (st && store_sync(st))
			log_warn("store sync failed");
		if (st)
			reload_policies(s, st);
		workers_flush(s);
		pthread_mutex_lock(&s->tick_lock);
	}
	pthread_mutex_unlock(&s->tick_lock);
	store_close(st);
	return NULL;
}

/* ---- sweeper: retention on schedule ---- */

static void sweep_all(struct server *s, struct store *st)
{
	struct store_tenant *v = NULL;
	size_t n = 0;
	if (store_tenant_list(st, &v, &n)) {
		log_warn("sweep: cannot list the tenants");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct tenant *t = NULL;
		if (tenant_get(s, st, v[i].id, &t))
			continue;
		struct core_ctx c = {.store = st, .tenant = t, .key_id = "sweeper"};
		struct retention_opts o = {0};
		struct retention_report r;
		struct errbuf eb = {""};
		if (retention_sweep(&c, &o, &r, &eb)) {
			log_warn("tenant=%lld sweep stopped: %s", (long long)v[i].id, eb.msg);
			continue;
		}
		size_t gone = 0;
		for (size_t k = 0; k < r.nkinds; k++)
			gone += r.kinds[k].deleted + r.kinds[k].anonymized;
		log_info("tenant=%lld sweep: records=%zu subjects=%zu requests=%zu", (long long)v[i].id, gone,
		         r.subjects_deleted, r.requests_expired);
		retention_report_fini(&r);
	}
	store_tenants_free(v, n);
}

static void *sweeper_main(void *arg)
{
	struct server *s = arg;
	struct store *st = NULL;
	struct errbuf eb = {""};
	if (store_pool_open(s->pool, &st, &eb)) {
		log_error("sweeper cannot open the store: %s", eb.msg);
		return NULL;
	}
	pthread_mutex_lock(&s->tick_lock);
	while (!s->stopping) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += s->sweep_every_s;
		while (!s->stopping && pthread_cond_timedwait(&s->tick_cond, &s->tick_lock, &until) != ETIMEDOUT)
			;
		if (s->stopping)
			break;
		pthread_mutex_unlock(&s->tick_lock);
		sweep_all(s, st);
		pthread_mutex_lock(&s->tick_lock);
	}
	pthread_mutex_unlock(&s->tick_lock);
	store_close(st);
	return NULL;
}

static enum rc sender_tenant(void *arg, struct store *st, int64_t id, const struct tenant **out)
{
	return tenant_get(arg, st, id, out);
}

/* ---- start and stop ---- */

static enum rc parse_listen(const char *listen, struct sockaddr_storage *ss, struct errbuf *eb)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
		return err_set(eb, RC_INVALID, "--listen must be HOST:PORT, e.g. 127.0.0.1:8080");
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || !colon[1])
		return err_set(eb, RC_INVALID, "--listen: bad port '%s'", colon + 1);
	memset(ss, 0, sizeof *ss);
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	size_t hl = strlen(host);
	if (host[0] == '[' && host[hl - 1] == ']') {
		host[hl - 1] = '\0';
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) == 1)
			return RC_OK;
	} else {
		in4->sin_family = AF_INET;
		in4->sin_port = htons((uint16_t)port);
		if (inet_pton(AF_INET, host, &in4->sin_addr) == 1)
			return RC_OK;
	}
	return err_set(eb, RC_INVALID, "--listen: '%s' is not an IP address", host);
}

enum rc server_start(const struct server_config *cfg, struct server **out, struct errbuf *eb)
{
	struct sockaddr_storage ss;
	enum rc rc = parse_listen(cfg->listen, &ss, eb);
	if (rc)
		return rc;
	struct server *s = xcalloc(1, sizeof *s);
	s->keydir = xstrdup(cfg->keydir);
	s->store_url = xstrdup(cfg->store_url);
	s->sync_interval_ms = cfg->sync_interval_ms > 0 ? cfg->sync_interval_ms : 1000;
	metrics_init(&s->metrics);
	ratelimit_init(&s->ratelimit, cfg->auth_fail_limit ? cfg->auth_fail_limit : 10);
	pthread_rwlock_init(&s->tenants_lock, NULL);
	pthread_mutex_init(&s->workers_lock, NULL);
	pthread_mutex_init(&s->tick_lock, NULL);
	pthread_cond_init(&s->tick_cond, NULL);
	pthread_key_create(&s->worker_key, worker_free);

	/* Open the store once here so that a bad store fails at start-up. */
	struct store *probe = NULL;
	rc = store_pool_new(s->store_url, &s->pool, eb);
	if (!rc)
		rc = store_pool_open(s->pool, &probe, eb);
	store_close(probe);
	if (rc) {
		server_stop(s);
		return rc;
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = cfg->threads ? cfg->threads : (unsigned)(cores > 0 ? cores : 1);
	struct store *sink_store = NULL;
	rc = store_pool_open(s->pool, &sink_store, eb);
	if (!rc && (rc = audit_sink_new(sink_store, &s->sink)))
		store_close(sink_store);
	if (rc) {
		server_stop(s);
		return rc;
	}
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, s,
	                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                          MHD_OPTION_THREAD_POOL_SIZE, threads,
	                          MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
	                          MHD_OPTION_END);
	if (!s->mhd) {
		server_stop(s);
		return err_set(eb, RC_IO, "cannot listen on %s: %s", cfg->listen, strerror(errno));
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	if (cfg->public_url)
		s->public_url = xstrdup(cfg->public_url);
	else
		s->public_url = xasprintf("http://%s:%u", cfg->listen[0] == '[' ? "localhost" : "127.0.0.1", (unsigned)s->port);
	if (cfg->smtp_url) {
		struct store *sst = NULL;
		char from[256];
		snprintf(from, sizeof from, "%s", cfg->smtp_from ? cfg->smtp_from : "privreg@localhost");
		struct sender_config sc = {.smtp_url = cfg->smtp_url, .from = from, .tenant_of = sender_tenant, .arg = s};
		rc = store_pool_open(s->pool, &sst, eb);
		if (!rc)
			rc = sender_start(&sc, sst, &s->sender, eb);
		if (rc) {
			server_stop(s);
			return rc;
		}
	}
	if (pthread_create(&s->ticker, NULL, ticker_main, s) != 0) {
		server_stop(s);
		return err_set(eb, RC_INTERNAL, "cannot start the ticker thread");
	}
	s->sweep_every_s = cfg->sweep_every_s;
	if (s->sweep_every_s && pthread_create(&s->sweeper, NULL, sweeper_main, s) != 0) {
		server_stop(s);
		return err_set(eb, RC_INTERNAL, "cannot start the sweeper thread");
	}
	log_info("listening addr=%s port=%u threads=%u", cfg->listen, (unsigned)s->port, threads);
	*out = s;
	return RC_OK;
}

uint16_t server_port(const struct server *s)
{
	return s->port;
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	if (s->mhd) {
		/* Stop accepting; let open connections finish their requests. */
		MHD_quiesce_daemon(s->mhd);
		for (int i = 0; i < 100; i++) {
			const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			if (!di || di->num_connections == 0)
				break;
			usleep(50 * 1000);
		}
		MHD_stop_daemon(s->mhd); /* joins the threads: their stores close */
	}
	audit_sink_free(s->sink); /* writes what is still queued */
	sender_stop(s->sender);
	if (s->ticker) {
		pthread_mutex_lock(&s->tick_lock);
		s->stopping = true;
		pthread_cond_broadcast(&s->tick_cond);
		pthread_mutex_unlock(&s->tick_lock);
		pthread_join(s->ticker, NULL);
		if (s->sweeper)
			pthread_join(s->sweeper, NULL);
	}
	/* Relaxed commits of the last moments are made durable now. */
	struct store *st = NULL;
	struct errbuf eb = {""};
	if (s->pool && !store_pool_open(s->pool, &st, &eb)) {
		if (store_sync(st))
			log_warn("final store sync failed");
		store_close(st);
	}
	pthread_key_delete(s->worker_key);
	store_pool_free(s->pool);
	fflush(stderr);
	for (size_t i = 0; i < s->ntenants; i++)
		tenant_free(s->tenants[i]);
	for (size_t i = 0; i < s->nretired; i++)
		tenant_free(s->retired[i]);
	ratelimit_fini(&s->ratelimit);
	pthread_rwlock_destroy(&s->tenants_lock);
	pthread_mutex_destroy(&s->workers_lock);
	pthread_mutex_destroy(&s->tick_lock);
	pthread_cond_destroy(&s->tick_cond);
	free(s->keydir);
	free(s->store_url);
	free(s->public_url);
	free(s);
}

enum rc server_metrics(struct server *s, struct buf *out)
{
	enum rc rc = metrics_render(&s->metrics, out);
	struct worker *w = NULL;
	struct store *st = NULL;
	if (!rc)
		rc = thread_worker(s, &w);
	if (!rc)
		st = w->store;
	struct store_tenant *v = NULL;
	size_t n = 0;
	if (!rc)
		rc = store_tenant_list(st, &v, &n);
	if (!rc)
		rc = buf_puts(out, "# HELP privreg_subjects Data subjects held, by tenant.\n# TYPE privreg_subjects gauge\n"
		                   "# HELP privreg_records Records held, by tenant.\n# TYPE privreg_records gauge\n");
	if (!rc)
		rc = buf_puts(out, "# HELP privreg_requests_open Data-subject requests not yet answered, by tenant.\n"
		                   "# TYPE privreg_requests_open gauge\n"
		                   "# HELP privreg_requests_late Open requests past their deadline, by tenant.\n"
		                   "# TYPE privreg_requests_late gauge\n");
	for (size_t i = 0; !rc && i < n; i++) {
		struct store_counts c = {0};
		int64_t open = 0, late = 0;
		rc = store_counts(st, v[i].id, &c);
		if (!rc)
			rc = store_request_counts(st, v[i].id, timeutil_now(), &open, &late);
		if (!rc)
			rc = buf_printf(out, "privreg_subjects{tenant=\"%s\"} %lld\nprivreg_records{tenant=\"%s\"} %lld\n"
			                     "privreg_requests_open{tenant=\"%s\"} %lld\nprivreg_requests_late{tenant=\"%s\"} %lld\n",
			                v[i].name, (long long)c.subjects, v[i].name, (long long)c.records, v[i].name,
			                (long long)open, v[i].name, (long long)late);
	}
	store_tenants_free(v, n);
	return rc;
}
