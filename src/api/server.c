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
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "api/server_internal.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "core/audit.h"
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

enum rc server_start(const struct server_config *cfg, struct server **out, struct errbuf *eb)
{
	struct sockaddr_storage ss, mss;
	enum rc rc = parse_listen("--listen", cfg->listen, &ss, eb);
	if (!rc && cfg->metrics_listen)
		rc = parse_listen("--metrics-listen", cfg->metrics_listen, &mss, eb);
	if (rc)
		return rc;
	struct server *s = xcalloc(1, sizeof *s);
	s->keydir = xstrdup(cfg->keydir);
	s->store_url = xstrdup(cfg->store_url);
	metrics_init(&s->metrics, http_nroutes);
	ratelimit_init(&s->ratelimit, cfg->auth_fail_limit ? cfg->auth_fail_limit : 10);
	server_tenants_init(&s->tenants);
	pthread_mutex_init(&s->workers_lock, NULL);
	pthread_key_create(&s->worker_key, server_worker_free);

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
	s->mhd = MHD_start_daemon(flags, 0, NULL, NULL, server_on_request, s,
	                          MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
	                          MHD_OPTION_THREAD_POOL_SIZE, threads,
	                          MHD_OPTION_NOTIFY_COMPLETED, server_on_completed, s,
	                          MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
	                          MHD_OPTION_CONNECTION_LIMIT, (unsigned)1000,
	                          MHD_OPTION_END);
	if (!s->mhd) {
		server_stop(s);
		return err_set(eb, RC_IO, "cannot listen on %s: %s", cfg->listen, strerror(errno));
	}
	if (cfg->metrics_listen) {
		/* One thread: a scrape every few seconds, not the API's load. */
		s->metrics_mhd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
		                                  (mss.ss_family == AF_INET6 ? MHD_USE_IPv6 : 0),
		                                  0, NULL, NULL, server_on_metrics, s,
		                                  MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&mss,
		                                  MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)30,
		                                  MHD_OPTION_CONNECTION_LIMIT, (unsigned)16,
		                                  MHD_OPTION_END);
		if (!s->metrics_mhd) {
			rc = err_set(eb, RC_IO, "cannot listen on --metrics-listen %s: %s", cfg->metrics_listen,
			             strerror(errno));
			server_stop(s);
			return rc;
		}
	}
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	s->port = di ? di->port : 0;
	if (cfg->public_url)
		s->public_url = xstrdup(cfg->public_url);
	else
		s->public_url = xasprintf("http://%s:%u", cfg->listen[0] == '[' ? "localhost" : "127.0.0.1", (unsigned)s->port);
	router_links(&s->links, s->public_url);
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
	rc = server_jobs_start(s, cfg, eb);
	if (rc) {
		server_stop(s);
		return rc;
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
	if (s->metrics_mhd)
		MHD_stop_daemon(s->metrics_mhd); /* its thread's store closes */
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
	server_jobs_stop(s->jobs);
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
	server_tenants_fini(&s->tenants);
	ratelimit_fini(&s->ratelimit);
	metrics_fini(&s->metrics);
	pthread_mutex_destroy(&s->workers_lock);
	free(s->keydir);
	free(s->store_url);
	free(s->public_url);
	free(s);
}
