/*
 * worker: what each server thread keeps for itself (see server_internal.h):
 * its own store connection, opened on the thread's first request, its cache
 * of valid API keys, and a buffer of access-log lines. A worker is freed by
 * the pthread key destructor when its thread ends; until then it is on the
 * server's list, so that the ticker can flush its log.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/server_internal.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "store/store.h"

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

void server_log(struct server *s, const char *line, size_t len)
{
	struct worker *w = pthread_getspecific(s->worker_key);
	if (w && len <= sizeof w->log)
		worker_log(w, line, len);
	else
		fwrite(line, 1, len, stderr);
}

void server_workers_flush(struct server *s)
{
	pthread_mutex_lock(&s->workers_lock);
	for (struct worker *w = s->workers; w; w = w->next) {
		pthread_mutex_lock(&w->log_lock);
		log_flush_locked(w);
		pthread_mutex_unlock(&w->log_lock);
	}
	pthread_mutex_unlock(&s->workers_lock);
}

void server_worker_free(void *p)
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

enum rc server_worker(struct server *s, struct worker **out)
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
