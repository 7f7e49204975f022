/*
 * server: the daemon (see server.h): start-up, libmicrohttpd's thread pool,
 * the threads beside it (audit sink, sender, jobs) and an orderly stop. A
 * request's life is in http.c; the other concerns each have their file
 * (server_internal.h lists them).
 *
 * Start-up opens the store once so that a bad store fails at once, not on
 * the first request. Stop lets requests in flight finish, then stops each
 * thread before what it uses is freed, and makes the last relaxed commits
 * durable.
 *
 * Hostile clients: the listening socket is bound here (so that a taken port
 * is reported as such), each client address may hold at most per_ip_limit
 * connections and all of them max_connections (libmicrohttpd refuses the
 * rest at accept), and a request must be received, headers and body, within
 * receive_timeout_s of its start: libmicrohttpd's own timeout counts idle
 * time only, so the reaper thread below enforces the total.
 *
 * HTTPS (tls_cert and tls_key) is libmicrohttpd's, over GnuTLS. The two
 * files are read and checked against each other here, before the daemon
 * starts, so that an unreadable file, one that is not PEM or a key that
 * belongs to another certificate is named as such rather than as a failed
 * start. The key's text is wiped when the server stops.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/gnutls.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/server_internal.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/consent.h"
#include "sender/sender.h"
#include "store/store.h"

static enum rc sender_tenant(void *arg, struct store *st, int64_t id, const struct tenant **out)
{
	return server_tenant(arg, st, id, out);
}

/* opt: the option's name, for the messages. */
static enum rc parse_listen(const char *opt, const char *listen, struct sockaddr_storage *ss, struct errbuf *eb)
{
	char host[64];
	const char *colon = strrchr(listen, ':');
	if (!colon || colon == listen || (size_t)(colon - listen) >= sizeof host)
		return err_set(eb, RC_INVALID, "%s must be HOST:PORT, e.g. 127.0.0.1:8080", opt);
	memcpy(host, listen, (size_t)(colon - listen));
	host[colon - listen] = '\0';
	char *end;
	long port = strtol(colon + 1, &end, 10);
	if (*end || port < 0 || port > 65535 || !colon[1])
		return err_set(eb, RC_INVALID, "%s: bad port '%s'", opt, colon + 1);
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
	return err_set(eb, RC_INVALID, "%s: '%s' is not an IP address", opt, host);
}

/* Binds and listens here rather than in libmicrohttpd, whose failure gives
 * no usable errno: the operator is told which address and why. */
static enum rc listen_socket(const char *opt, const struct sockaddr_storage *ss, const char *listen_text, int *out,
                            struct errbuf *eb)
{
	int one = 1;
	socklen_t len = ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
	int fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot open a socket for %s: %s", listen_text, strerror(errno));
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (ss->ss_family == AF_INET6) /* [::] means IPv6 only, as libmicrohttpd had it */
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
	if (bind(fd, (const struct sockaddr *)ss, len) != 0 || listen(fd, 511) != 0) {
		int e = errno;
		close(fd);
		if (e == EADDRINUSE)
			return err_set(eb, RC_IO, "address already in use: %s (another program listens there: stop it, or "
			               "choose another %s)", listen_text, opt);
		if (e == EADDRNOTAVAIL)
			return err_set(eb, RC_IO, "address not available on this machine: %s (choose one of its addresses "
			               "for %s)", listen_text, opt);
		if (e == EACCES)
			return err_set(eb, RC_IO, "permission denied to listen on %s (ports below 1024 need privileges: "
			               "choose a port from 1024 up)", listen_text);
		return err_set(eb, RC_IO, "cannot listen on %s: %s", listen_text, strerror(e));
	}
	*out = fd;
	return RC_OK;
}

static uint64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- the receive deadline (see struct server_conn) ---- */

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
	struct server *s = cls;
	struct server_conn *c = *socket_context;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
		c = xcalloc(1, sizeof *c);
		c->fd = ci ? ci->connect_fd : -1;
		c->since_us = mono_us();
		c->receiving = true;
		pthread_mutex_lock(&s->conns_lock);
		c->next = s->conns;
		if (s->conns)
			s->conns->prev = c;
		s->conns = c;
		pthread_mutex_unlock(&s->conns_lock);
		*socket_context = c;
	} else if (c) {
		/* Called before libmicrohttpd closes the socket: once c is
		 * unlinked, the reaper cannot shut down a reused descriptor. */
		pthread_mutex_lock(&s->conns_lock);
		if (c->prev)
			c->prev->next = c->next;
		else
			s->conns = c->next;
		if (c->next)
			c->next->prev = c->prev;
		pthread_mutex_unlock(&s->conns_lock);
		free(c);
		*socket_context = NULL;
	}
}

static void conn_mark(struct server *s, struct MHD_Connection *conn, bool receiving)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct server_conn *c = ci ? ci->socket_context : NULL;
	if (!c)
		return;
	pthread_mutex_lock(&s->conns_lock);
	c->receiving = receiving;
	if (receiving)
		c->since_us = mono_us();
	pthread_mutex_unlock(&s->conns_lock);
}

void server_conn_received(struct server *s, struct MHD_Connection *conn)
{
	conn_mark(s, conn, false);
}

void server_conn_next(struct server *s, struct MHD_Connection *conn)
{
	conn_mark(s, conn, true);
}

/* Every quarter of the deadline (at most every second), shuts down the
 * connections still receiving past it: libmicrohttpd then reads the end of
 * the stream and closes the connection as if the client had. */
static void *reaper_main(void *arg)
{
	struct server *s = arg;
	uint64_t period_us = s->receive_timeout_us / 4;
	if (period_us > 1000000)
		period_us = 1000000;
	pthread_mutex_lock(&s->conns_lock);
	while (!s->reaper_stop) {
		struct timespec until;
		clock_gettime(CLOCK_REALTIME, &until);
		uint64_t ns = (uint64_t)until.tv_nsec + period_us * 1000u;
		until.tv_sec += (time_t)(ns / 1000000000u);
		until.tv_nsec = (long)(ns % 1000000000u);
		pthread_cond_timedwait(&s->conns_cond, &s->conns_lock, &until);
		uint64_t now = mono_us(), cut = 0;
		for (struct server_conn *c = s->conns; c; c = c->next) {
			if (c->receiving && c->fd >= 0 && now - c->since_us > s->receive_timeout_us) {
				shutdown(c->fd, SHUT_RDWR);
				c->receiving = false;
				cut++;
			}
		}
		if (cut) {
			atomic_fetch_add(&s->conns_reaped, cut);
			log_warn("closed %llu connection(s) that did not send their request within %llus",
			         (unsigned long long)cut, (unsigned long long)(s->receive_timeout_us / 1000000u));
		}
	}
	pthread_mutex_unlock(&s->conns_lock);
	return NULL;
}

/* Reads the PEM file of setting `opt` (tls_cert or tls_key) whole, bounded
 * by SERVER_TLS_FILE_MAX; `begin` is the PEM label it must carry. */
static enum rc read_pem(const char *opt, const char *path, const char *begin, char **out, size_t *len,
                        struct errbuf *eb)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		enum rc rc = err_set(eb, RC_IO, "cannot read %s %s: %s", opt, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	enum rc rc = RC_OK;
	char *text = NULL;
	size_t n = 0;
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(eb, RC_IO, "%s %s is not a regular file", opt, path);
		goto out;
	}
	if (!strcmp(opt, "tls_key") && (st.st_mode & S_IROTH)) {
		rc = err_set(eb, RC_IO, "%s %s is readable by every user of this machine (mode %03o): chmod o-r %s", opt,
		             path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	if (st.st_size > SERVER_TLS_FILE_MAX) {
		rc = err_set(eb, RC_TOO_LARGE, "%s %s is over %d bytes: is it the right file?", opt, path,
		             SERVER_TLS_FILE_MAX);
		goto out;
	}
	text = xmalloc((size_t)st.st_size + 1);
	ssize_t r = 1;
	while (n < (size_t)st.st_size && (r = read(fd, text + n, (size_t)st.st_size - n)) > 0)
		n += (size_t)r;
	if (r < 0) {
		rc = err_set(eb, RC_IO, "cannot read %s %s: %s", opt, path, strerror(errno));
		goto out;
	}
	text[n] = '\0';
	if (!strstr(text, begin) || strlen(text) != n)
		rc = err_set(eb, RC_INVALID, "%s %s is not a PEM file holding %s", opt, path, begin);
out:
	close(fd);
	if (rc && text) {
		explicit_bzero(text, n);
		free(text);
		text = NULL;
	}
	*out = text;
	*len = n;
	return rc;
}

/* Reads tls_cert and tls_key into s and checks, with GnuTLS itself, that
 * the key is the certificate's: libmicrohttpd would only fail to start. */
static enum rc tls_load(struct server *s, const struct server_config *cfg, struct errbuf *eb)
{
	if (!cfg->tls_cert && !cfg->tls_key)
		return RC_OK;
	if (!cfg->tls_cert || !cfg->tls_key)
		return err_set(eb, RC_INVALID, "HTTPS needs both tls_cert and tls_key (%s is not set)",
		               cfg->tls_cert ? "tls_key" : "tls_cert");
	if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES)
		return err_set(eb, RC_UNAVAILABLE, "this libmicrohttpd was built without TLS: leave tls_cert and tls_key "
		               "unset and terminate TLS in a reverse proxy (docs/deploy.md)");
	size_t cert_len = 0;
	enum rc rc = read_pem("tls_cert", cfg->tls_cert, "-----BEGIN CERTIFICATE-----", &s->tls_cert, &cert_len, eb);
	if (!rc)
		rc = read_pem("tls_key", cfg->tls_key, "PRIVATE KEY-----", &s->tls_key, &s->tls_key_len, eb);
	if (rc)
		return rc;
	gnutls_certificate_credentials_t cred = NULL;
	if (gnutls_certificate_allocate_credentials(&cred) != GNUTLS_E_SUCCESS)
		return err_set(eb, RC_INTERNAL, "GnuTLS cannot allocate credentials");
	gnutls_datum_t c = {(unsigned char *)s->tls_cert, (unsigned)cert_len};
	gnutls_datum_t k = {(unsigned char *)s->tls_key, (unsigned)s->tls_key_len};
	int g = gnutls_certificate_set_x509_key_mem2(cred, &c, &k, GNUTLS_X509_FMT_PEM, NULL, 0);
	gnutls_certificate_free_credentials(cred);
	if (g == GNUTLS_E_CERTIFICATE_KEY_MISMATCH)
		return err_set(eb, RC_INVALID, "tls_key %s is not the private key of the certificate in tls_cert %s",
		               cfg->tls_key, cfg->tls_cert);
	if (g < 0)
		return err_set(eb, RC_INVALID, "tls_cert %s with tls_key %s cannot be used: %s", cfg->tls_cert,
		               cfg->tls_key, gnutls_strerror(g));
	s->tls = true;
	return RC_OK;
}

/* The total connection limit, kept below the descriptors the process may
 * open (the store, the log and the listening socket need some too). */
static unsigned connection_limit(unsigned wanted)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < (rlim_t)wanted + 64) {
		unsigned cap = rl.rlim_cur > 128 ? (unsigned)rl.rlim_cur - 64 : 64;
		log_warn("connection limit lowered from %u to %u: the process may open %llu files (ulimit -n)", wanted, cap,
		         (unsigned long long)rl.rlim_cur);
		return cap;
	}
	return wanted;
}

void server_reload(struct server *s)
{
	struct store *st = NULL;
	struct errbuf eb = {""};
	enum rc rc = store_pool_open(s->pool, &st, &eb);
	if (rc) {
		log_error("SIGHUP: policies not reloaded: %s", err_msg(&eb, rc));
		return;
	}
	uint64_t before = atomic_load(&s->tenants.reloads);
	server_tenants_reload(s, st);
	store_close(st);
	log_info("SIGHUP: policies reloaded new_versions=%llu",
	         (unsigned long long)(atomic_load(&s->tenants.reloads) - before));
}

enum rc server_start(const struct server_config *cfg, struct server **out, struct errbuf *eb)
{
	struct sockaddr_storage ss, mss;
	enum rc rc = parse_listen("--listen", cfg->listen, &ss, eb);
	if (!rc && cfg->metrics_listen)
		rc = parse_listen("--metrics-listen", cfg->metrics_listen, &mss, eb);
	struct proxy_trust proxies;
	if (!rc)
		rc = proxy_trust_parse(cfg->trusted_proxies, &proxies, eb);
	if (rc)
		return rc;
	struct server *s = xcalloc(1, sizeof *s);
	s->proxies = proxies;
	s->keydir = xstrdup(cfg->keydir);
	s->store_url = xstrdup(cfg->store_url);
	s->checkpoint_file = cfg->checkpoint_file ? xstrdup(cfg->checkpoint_file) : NULL;
	metrics_init(&s->metrics, http_nroutes);
	ratelimit_init(&s->ratelimit, cfg->auth_fail_limit ? cfg->auth_fail_limit : 10);
	ratelimit_init(&s->banner_limit, HTTP_BANNER_LIMIT);
	ratelimit_init_window(&s->signin_addrs, cfg->auth_fail_limit ? cfg->auth_fail_limit : 10, HTTP_SIGNIN_WINDOW);
	ratelimit_init_window(&s->signin_mails, HTTP_SIGNIN_MAILS, HTTP_SIGNIN_WINDOW);
	server_tenants_init(&s->tenants);
	pthread_mutex_init(&s->workers_lock, NULL);
	pthread_key_create(&s->worker_key, server_worker_free);
	pthread_mutex_init(&s->conns_lock, NULL);
	pthread_cond_init(&s->conns_cond, NULL);
	atomic_init(&s->conns_reaped, 0);
	unsigned timeout_s = cfg->receive_timeout_s ? cfg->receive_timeout_s : SERVER_RECEIVE_TIMEOUT_DEFAULT;
	s->receive_timeout_us = (uint64_t)timeout_s * 1000000u;

	if ((rc = tls_load(s, cfg, eb))) {
		server_stop(s);
		return rc;
	}
	/* Open the store once here so that a bad store fails at start-up. */
	struct store *probe = NULL;
	/* A server serves a register, never makes one (`privreg init` does). */
	rc = core_register_pool_new(s->store_url, &s->pool, eb);
	if (!rc) {
		store_pool_cache(s->pool, cfg->sqlite_cache_mb ? cfg->sqlite_cache_mb : SERVER_SQLITE_CACHE_MB_DEFAULT);
		rc = store_pool_open(s->pool, &probe, eb);
	}
	store_close(probe);
	if (rc) {
		server_stop(s);
		return rc;
	}
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned per_core =
		core_store_shared(s->store_url) ? SERVER_THREADS_PER_CORE_POSTGRES : SERVER_THREADS_PER_CORE_SQLITE;
	unsigned threads = cfg->threads ? cfg->threads : (unsigned)(cores > 0 ? cores : 1) * per_core;
	struct store *sink_store = NULL;
	rc = store_pool_open(s->pool, &sink_store, eb);
	if (!rc && (rc = audit_sink_new(sink_store, &s->sink)))
		store_close(sink_store);
	/* On PostgreSQL a consent check costs a round trip, mostly fixed: the
	 * server's checks go in flights that share it, and no request thread
	 * waits for it (core/consent.h). SQLite's check is a call inside the
	 * process, cheaper than any hand-over. */
	if (!rc && core_store_shared(s->store_url)) {
		struct store *flights_store = NULL;
		rc = store_pool_open(s->pool, &flights_store, eb);
		if (!rc && (rc = consent_flights_new(flights_store, &s->flights)))
			store_close(flights_store);
	}
	if (rc) {
		server_stop(s);
		return rc;
	}
	int fd = -1;
	if ((rc = listen_socket("--listen", &ss, cfg->listen, &fd, eb))) {
		server_stop(s);
		return rc;
	}
	struct sockaddr_storage bound;
	socklen_t bound_len = sizeof bound;
	if (getsockname(fd, (struct sockaddr *)&bound, &bound_len) == 0)
		s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
		                                            : ((struct sockaddr_in *)&bound)->sin_port);
	unsigned per_ip = cfg->per_ip_limit ? cfg->per_ip_limit : SERVER_PER_IP_DEFAULT;
	unsigned total = connection_limit(cfg->max_connections ? cfg->max_connections : SERVER_CONNECTIONS_DEFAULT);
	unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (s->tls)
		flags |= MHD_USE_TLS;
	/* The certificate and key, or (plain HTTP) an empty list. */
	struct MHD_OptionItem tls_opts[] = {
		{s->tls ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->tls_cert},
		{MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key},
		{MHD_OPTION_END, 0, NULL},
	};
	/* The idle timeout stays as it was; the receive deadline is the reaper's. */
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, server_on_request, s,
	                          MHD_OPTION_LISTEN_SOCKET, fd,
	                          MHD_OPTION_ARRAY, tls_opts,
	                          MHD_OPTION_THREAD_POOL_SIZE, threads,
	                          MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, s,
	                          MHD_OPTION_URI_LOG_CALLBACK, server_on_uri, s,
	                          MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	                          MHD_OPTION_CONNECTION_LIMIT, total,
	                          MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip,
	                          MHD_OPTION_END);
	if (!s->mhd) { /* it has closed fd */
		server_stop(s);
		return err_set(eb, RC_IO, "cannot start the HTTP server on %s (see the message above)", cfg->listen);
	}
	if (pthread_create(&s->reaper, NULL, reaper_main, s) != 0) {
		server_stop(s);
		return err_set(eb, RC_INTERNAL, "cannot start the connection reaper thread");
	}
	s->reaper_running = true;
	if (cfg->metrics_listen) {
		int mfd = -1;
		if ((rc = listen_socket("--metrics-listen", &mss, cfg->metrics_listen, &mfd, eb))) {
			server_stop(s);
			return rc;
		}
		/* One thread: a scrape every few seconds, not the API's load. */
		s->metrics_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
		                                  (mss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		                                  0, NULL, NULL, server_on_metrics, s,
		                                  MHD_OPTION_LISTEN_SOCKET, mfd,
		                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
		                                  MHD_OPTION_END);
		if (!s->metrics_mhd) { /* it has closed mfd */
			rc = err_set(eb, RC_IO, "cannot start the metrics server on --metrics-listen %s (see the message "
			             "above)", cfg->metrics_listen);
			server_stop(s);
			return rc;
		}
	}
	if (cfg->public_url)
		s->public_url = xstrdup(cfg->public_url);
	else
		s->public_url = xasprintf("%s://%s:%u", server_scheme(s), cfg->listen[0] == '[' ? "localhost" : "127.0.0.1",
		                          (unsigned)s->port);
	router_links(&s->links, s->public_url);
	/* Always: webhooks to the company's systems go out without SMTP too. */
	{
		struct store *sst = NULL;
		char from[256];
		snprintf(from, sizeof from, "%s", cfg->smtp_from ? cfg->smtp_from : "privreg@localhost");
		struct sender_config sc = {.smtp_url = cfg->smtp_url, .user = cfg->smtp_user, .password = cfg->smtp_password,
		                           .from = from, .tenant_of = sender_tenant, .arg = s,
		                           .sole = !core_store_shared(s->store_url)};
		rc = store_pool_open(s->pool, &sst, eb);
		if (!rc)
			rc = sender_start(&sc, sst, &s->sender, eb);
		if (rc) {
			server_stop(s);
			return rc;
		}
	}
	rc = signkey_load(s->keydir, &s->attest_key, eb);
	if (!rc)
		rc = server_jobs_start(s, cfg, eb);
	if (rc) {
		server_stop(s);
		return rc;
	}
	log_info("listening addr=%s scheme=%s port=%u threads=%u per_ip_limit=%u max_connections=%u receive_timeout_s=%u",
	         cfg->listen, server_scheme(s), (unsigned)s->port, threads, per_ip, total, timeout_s);
	*out = s;
	return RC_OK;
}

uint16_t server_port(const struct server *s)
{
	return s->port;
}

const char *server_scheme(const struct server *s)
{
	return s->tls ? "https" : "http";
}

void server_stop(struct server *s)
{
	if (!s)
		return;
	if (s->metrics_mhd)
		MHD_stop_daemon(s->metrics_mhd); /* its thread's store closes */
	if (s->reaper_running) {
		pthread_mutex_lock(&s->conns_lock);
		s->reaper_stop = true;
		pthread_cond_signal(&s->conns_cond);
		pthread_mutex_unlock(&s->conns_lock);
		pthread_join(s->reaper, NULL);
	}
	if (s->mhd) {
		/* Stop accepting (the listening socket is ours to close); let
		 * open connections finish their requests. The socket is closed
		 * only after the daemon has stopped: a worker thread that has not
		 * yet taken it out of its epoll set would otherwise find it
		 * closed, and libmicrohttpd aborts on that ("Failed to remove
		 * listen FD from epoll set"). */
		MHD_socket lfd = MHD_quiesce_daemon(s->mhd);
		atomic_store(&s->stopping, true); /* no request parks from now on */
		for (int i = 0; i < 100; i++) {
			const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_CURRENT_CONNECTIONS);
			if (!di || di->num_connections == 0)
				break;
			usleep(50 * 1000);
		}
		/* Keep-alive clients may keep their connections open; what must
		 * not be left is a suspended one. The audit writer and the consent
		 * flights still run, so the parked requests are answered. */
		for (int i = 0; i < SERVER_STOP_PARKED_WAIT_S * 20 && atomic_load(&s->parked); i++)
			usleep(50 * 1000);
		if (atomic_load(&s->parked))
			log_error("stop: %u requests still wait for the database", atomic_load(&s->parked));
		MHD_stop_daemon(s->mhd); /* joins the threads: their stores close */
		if (lfd != MHD_INVALID_SOCKET)
			close(lfd);
	}
	audit_sink_free(s->sink); /* writes what is still queued */
	consent_flights_free(s->flights); /* the request threads are joined */
	s->flights = NULL;
	sender_stop(s->sender);
	server_jobs_stop(s->jobs);
	/* Relaxed commits of the last moments are made durable now. */
	struct store *st = NULL;
	struct errbuf eb = {""};
	if (s->pool && !store_pool_open(s->pool, &st, &eb)) {
		if (audit_sync(st))
			log_warn("final store sync failed");
		store_close(st);
	}
	pthread_key_delete(s->worker_key);
	store_pool_free(s->pool);
	fflush(stderr);
	server_tenants_fini(&s->tenants);
	ratelimit_fini(&s->ratelimit);
	ratelimit_fini(&s->banner_limit);
	ratelimit_fini(&s->signin_addrs);
	ratelimit_fini(&s->signin_mails);
	metrics_fini(&s->metrics);
	pthread_mutex_destroy(&s->workers_lock);
	pthread_cond_destroy(&s->conns_cond);
	pthread_mutex_destroy(&s->conns_lock);
	signkey_fini(&s->attest_key);
	free(s->checkpoint_file);
	free(s->keydir);
	free(s->store_url);
	free(s->public_url);
	free(s->tls_cert);
	if (s->tls_key)
		explicit_bzero(s->tls_key, s->tls_key_len);
	free(s->tls_key);
	free(s);
}
