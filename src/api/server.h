/*
 * server: the HTTP server. libmicrohttpd runs a pool of threads, each with
 * its own epoll loop; each thread opens its own store connection on first
 * use. A request is authenticated (Bearer key, rate-limited on failure),
 * checked against its route's roles, bounded (body size, JSON depth,
 * content type), handed to its handler, and answered with JSON; every
 * request leaves one access-log line (ids and route patterns only) and a
 * metrics observation. Tenants are loaded once and shared read-only.
 */
#ifndef PRIVREG_SERVER_H
#define PRIVREG_SERVER_H

#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

struct server;
struct store;
struct tenant;

struct server_config {
	const char *keydir;        /* the register's key directory */
	const char *store_url;
	const char *listen;        /* "127.0.0.1:8080", "[::1]:8080"; port 0 picks one */
	unsigned threads;          /* 0: SERVER_THREADS_PER_CORE_* per core */
	unsigned auth_fail_limit;  /* failed authentications per minute per address; 0: 10 */
	int sync_interval_ms;      /* how often relaxed commits are made durable; 0: 1000 */
	const char *public_url;    /* base of links in e-mails; NULL: http://LISTEN */
	const char *smtp_url;      /* NULL: no e-mail is sent (it waits in the outbox) */
	const char *smtp_from;     /* NULL: privreg@localhost */
	const char *smtp_user;     /* NULL: no SMTP AUTH (unless the URL names a user) */
	const char *smtp_password; /* with smtp_user; the caller wipes it after server_start */
	unsigned sweep_every_s;    /* the retention sweep's period; 0: never (POST /v1/retention/sweep) */
	unsigned checkpoint_every_s; /* how often each tenant's audit head is checkpointed; 0: never */
	const char *checkpoint_file; /* where checkpoints are appended; NULL: never */
	/* "month": each tenant's attestation is written once a calendar month
	 * into attest_dir (core/attest.h); NULL or "never": not on a schedule. */
	const char *attest_every;
	const char *attest_dir;
	/* NULL, or a second address serving GET /metrics of every tenant
	 * without a key (and nothing else): for loopback or an operator network. */
	const char *metrics_listen;
	unsigned per_ip_limit;     /* open connections per client address; 0: SERVER_PER_IP_DEFAULT */
	unsigned max_connections;  /* open connections in all; 0: SERVER_CONNECTIONS_DEFAULT */
	unsigned receive_timeout_s; /* to receive a request's headers and body; 0: SERVER_RECEIVE_TIMEOUT_DEFAULT */
	/* NULL, or the reverse proxies whose X-Forwarded-For and Forwarded are
	 * believed, as CIDRs separated by commas (api/proxy.h). */
	const char *trusted_proxies;
	/* HTTPS on --listen when both are set (libmicrohttpd with GnuTLS): the
	 * certificate chain and its private key, PEM files read at start. */
	const char *tls_cert;
	const char *tls_key;
	/* Each store connection's page cache, MiB (store_pool_cache); 0:
	 * SERVER_SQLITE_CACHE_MB_DEFAULT. */
	unsigned sqlite_cache_mb;
};

#define SERVER_PER_IP_DEFAULT 64
#define SERVER_CONNECTIONS_DEFAULT 1000
#define SERVER_RECEIVE_TIMEOUT_DEFAULT 30
/* A SQLite connection's page cache, MiB: each of the threads' connections
 * (and the few of the server's own) fills it up to this as the register
 * grows; bench/RESULTS.md (SQLite page cache) measured what less costs. */
#define SERVER_SQLITE_CACHE_MB_DEFAULT 8
/* Request threads per core when --threads is not given. A SQLite request
 * runs on its core from start to end; a PostgreSQL request's thread waits
 * for each round trip, during which a second thread keeps the core busy
 * (bench/RESULTS.md, "why the consent check is the lowest ratio": at one
 * thread per core the cores stood idle for up to a tenth of the time). */
#define SERVER_THREADS_PER_CORE_SQLITE 1
#define SERVER_THREADS_PER_CORE_POSTGRES 2
/* The largest certificate chain or key file read (a chain is a few KiB). */
#define SERVER_TLS_FILE_MAX (256 * 1024)

enum rc server_start(const struct server_config *cfg, struct server **out, struct errbuf *eb) WUR;
/* Stops accepting, lets requests in flight finish, closes every connection. */
void server_stop(struct server *s);
uint16_t server_port(const struct server *s);
/* "https" when the server speaks TLS, else "http". */
const char *server_scheme(const struct server *s);
/* Takes up new policy versions now (SIGHUP) rather than at the next tick;
 * requests in flight keep the tenant they started with. */
void server_reload(struct server *s);
/* Prometheus text for /metrics, read through st: the server's counters and
 * the per-tenant families of `only`, or of every tenant when NULL (the
 * operator's --metrics-listen page). */
enum rc server_metrics(struct server *s, struct store *st, const struct tenant *only, struct buf *out) WUR;

#endif
