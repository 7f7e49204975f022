/*
 * server_internal: the server's own state, shared by the files that make it
 * up and by nothing else:
 *
 *   server.c   the daemon: start, stop, libmicrohttpd set-up, --listen
 *   http.c     one request's life: bounds, body, dispatch, reply, access log
 *   auth.c     API keys (with each thread's key cache), roles, X-Purpose
 *   worker.c   what each server thread keeps: its store, keys, log buffer
 *   reload.c   the loaded tenants, and new policy versions taken up
 *   jobs.c     background jobs (sync, reload, log flush, retention sweep,
 *              audit checkpoints) and the threads that schedule them
 *   metrics.c  /metrics: request counters and what the register holds
 *
 * Invariants: a loaded tenant is never freed before server_stop (requests
 * in flight may hold it); each server thread has its own store connection;
 * handlers see struct http_request only, never this struct.
 */
#ifndef PRIVREG_SERVER_INTERNAL_H
#define PRIVREG_SERVER_INTERNAL_H

#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/http.h"
#include "api/metrics.h"
#include "api/proxy.h"
#include "api/ratelimit.h"
#include "api/server.h"
#include "core/apikey.h"
#include "core/tenant.h"
#include "crypto/signkey.h"

struct audit_sink;
struct consent_flights;
struct jobs;
struct sender;
struct store;
struct store_pool;

/* The loaded tenants (reload.c). Read-mostly: written when a tenant is first
 * used or takes up a new policy version. Both arrays grow as needed. */
struct server_tenants {
	pthread_rwlock_t lock;
	struct tenant **v;
	size_t n, cap;
	/* Tenants replaced by a newer policy version: requests in flight may
	 * still use them, so they are freed only at stop. */
	struct tenant **retired;
	size_t nretired, cap_retired;
	atomic_uint_fast64_t reloads;         /* new policy versions taken up */
	atomic_uint_fast64_t reload_failures; /* failed attempts: one per tick until it loads */
	atomic_uint_fast64_t load_failures;   /* tenants that could not be loaded */
};

/* One open connection, for the receive deadline (server.c): MHD's timeout
 * counts idle time only, so a client that sends one header byte every few
 * seconds would hold its connection forever. `since` is when the request
 * now being received began (the connection's opening, or the end of the
 * previous request on it); the reaper shuts down a connection still
 * receiving after the deadline. Guarded by server.conns_lock. */
struct server_conn {
	int fd;
	uint64_t since_us;
	bool receiving;
	struct server_conn *prev, *next;
};

/* How long a stop waits for requests parked on the database (server_stop). */
#define SERVER_STOP_PARKED_WAIT_S 30

struct server {
	char *keydir, *store_url, *public_url;
	struct core_links links;   /* links in e-mails: public_url and the router's prefixes */
	struct sender *sender;
	struct store_pool *pool;   /* every connection of the server comes from it */
	struct MHD_Daemon *mhd;
	struct MHD_Daemon *metrics_mhd; /* --metrics-listen, or NULL */
	bool tls;                  /* HTTPS on --listen: answers carry Strict-Transport-Security */
	char *tls_cert, *tls_key;  /* the PEM texts libmicrohttpd was given; the key is wiped at stop */
	size_t tls_key_len;
	uint16_t port;
	pthread_key_t worker_key;  /* each server thread's struct worker */
	pthread_mutex_t workers_lock;
	struct worker *workers;
	struct server_tenants tenants;
	struct metrics metrics;
	struct ratelimit ratelimit;
	struct ratelimit banner_limit; /* the cookie banner's choices per address (api/banner.c) */
	/* The privacy center's sign-in mails (api/portal.c), per client address
	 * and per e-mail address, each over HTTP_SIGNIN_WINDOW. */
	struct ratelimit signin_addrs, signin_mails;
	struct proxy_trust proxies; /* --trusted-proxies: whose forwarding headers are believed */
	struct audit_sink *sink;   /* writes access entries in batches */
	struct consent_flights *flights; /* PostgreSQL: consent checks by lookup, many to a statement; else NULL */
	struct jobs *jobs;
	struct signkey attest_key; /* signs attestations (GET /v1/attestation, the attester) */
	char *checkpoint_file;     /* read by the attestation's access claim; NULL: none */
	/* The receive deadline (server.c): open connections and the reaper. */
	pthread_mutex_t conns_lock;
	pthread_cond_t conns_cond;  /* wakes the reaper at stop */
	struct server_conn *conns;
	uint64_t receive_timeout_us;
	pthread_t reaper;
	bool reaper_running, reaper_stop;
	atomic_uint_fast64_t conns_reaped; /* connections cut at the deadline */
	/* Requests waiting suspended (for their access entries, or a consent
	 * check's flight) must all be answered before libmicrohttpd stops,
	 * which aborts the process on a suspended connection: once stopping is
	 * set, no request waits suspended any more (server_stop). */
	atomic_bool stopping;
	atomic_uint parked;
};

/* What one server thread keeps for itself (worker.c): its connection and the
 * keys it has recently found valid. Freed when the thread ends. */
struct worker {
	struct server *srv;
	struct store *store;
	struct apikey_cache keys;
	/* Access-log lines, written out with one write(2) when the buffer fills
	 * or when the ticker comes by: threads never wait for each other to
	 * log. The lock is only ever contended by the ticker. */
	pthread_mutex_t log_lock;
	char log[16384];
	size_t log_len;
	struct worker *next;       /* in srv->workers */
};

/* worker.c */
/* The calling thread's worker, made (with its own connection) on first use. */
enum rc server_worker(struct server *s, struct worker **out) WUR;
/* The pthread key destructor of server.worker_key. */
void server_worker_free(void *w);
/* Appends one access-log line (the calling thread's buffer, or stderr). */
void server_log(struct server *s, const char *line, size_t len);
/* Writes out every thread's buffered log lines. */
void server_workers_flush(struct server *s);

/* reload.c */
void server_tenants_init(struct server_tenants *t);
void server_tenants_fini(struct server_tenants *t);
/* The loaded tenant with this id, loaded on first use. RC_UNAUTHORIZED:
 * no such tenant. */
enum rc server_tenant(struct server *s, struct store *st, int64_t id, const struct tenant **out) WUR;
/* Takes up the policy version now in force of every loaded tenant whose
 * version changed (privreg tenant policy), so that no restart is needed. */
void server_tenants_reload(struct server *s, struct store *st);
/* Swaps in a fresh load of tenant `id` (its keys changed: a new epoch). */
void server_tenant_refresh(struct server *s, struct store *st, int64_t id);

/* auth.c */
/* Checks the Bearer key (failures are counted per rq->client_ip, and an
 * address over its budget gets 429 for any key that is not valid), loads
 * the key's tenant into rq->ctx, checks the route's roles and X-Purpose. */
enum rc server_authenticate(struct server *s, struct worker *w, struct http_request *rq) WUR;

/* http.c: the libmicrohttpd callbacks. */
void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn);
enum MHD_Result server_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                   const char *version, const char *upload_data, size_t *upload_data_size,
                                   void **con_cls);
void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe);
/* server.c: the request on conn is fully received (its handler may run as
 * long as it needs), or done (the next one on the connection begins). */
void server_conn_received(struct server *s, struct MHD_Connection *conn);
void server_conn_next(struct server *s, struct MHD_Connection *conn);

/* jobs.c */
/* Starts the ticker (every cfg->sync_interval_ms: make relaxed commits
 * durable, take up new policy versions, flush the access log); when
 * cfg->sweep_every_s is not 0, the sweeper (the retention sweep of every
 * tenant); when cfg->checkpoint_every_s is not 0 and cfg->checkpoint_file
 * is set, the checkpointer (each tenant's audit head appended to the file,
 * which must be writable at start). */
enum rc server_jobs_start(struct server *s, const struct server_config *cfg, struct errbuf *eb) WUR;
/* Stops and joins the job threads; NULL is fine. */
void server_jobs_stop(struct jobs *j);

/* metrics.c: server_metrics (server.h), and the libmicrohttpd callback of
 * the --metrics-listen address: GET /metrics of every tenant, nothing else. */
enum MHD_Result server_on_metrics(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls);

#endif
