/*
 * reload: the server's loaded tenants (see server_internal.h). A tenant is
 * loaded on its first use and shared read-only by every thread; when a new
 * policy version is installed (privreg tenant policy), the ticker loads the
 * tenant again and swaps it in. The one it replaces may still be in use by
 * a request in flight, so it is kept, retired, until the server stops.
 *
 * No cap: both arrays grow. A tenant or policy version that cannot be
 * loaded is logged as an error and counted (privreg_tenant_load_failures_total,
 * privreg_policy_reload_failures_total), never skipped in silence.
 */
#include <stdlib.h>
#include <string.h>

#include "core/policy.h"
#include "api/server_internal.h"
#include "base/log.h"
#include "base/xalloc.h"

void server_tenants_init(struct server_tenants *t)
{
	memset(t, 0, sizeof *t);
	pthread_rwlock_init(&t->lock, NULL);
	atomic_init(&t->reloads, 0);
	atomic_init(&t->reload_failures, 0);
	atomic_init(&t->load_failures, 0);
}

void server_tenants_fini(struct server_tenants *t)
{
	for (size_t i = 0; i < t->n; i++)
		tenant_free(t->v[i]);
	for (size_t i = 0; i < t->nretired; i++)
		tenant_free(t->retired[i]);
	free(t->v);
	free(t->retired);
	pthread_rwlock_destroy(&t->lock);
}

/* Appends t to *v, growing it; called with the write lock held. */
static void push(struct tenant ***v, size_t *n, size_t *cap, struct tenant *t)
{
	if (*n == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		*v = xrealloc(*v, *cap * sizeof **v);
	}
	(*v)[(*n)++] = t;
}

static const struct tenant *find(const struct server_tenants *t, int64_t id)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->v[i]->id == id)
			return t->v[i];
	return NULL;
}

enum rc server_tenant(struct server *s, struct store *st, int64_t id, const struct tenant **out)
{
	struct server_tenants *ts = &s->tenants;
	pthread_rwlock_rdlock(&ts->lock);
	*out = find(ts, id);
	pthread_rwlock_unlock(&ts->lock);
	if (*out)
		return RC_OK;
	pthread_rwlock_wrlock(&ts->lock);
	if ((*out = find(ts, id))) { /* loaded meanwhile */
		pthread_rwlock_unlock(&ts->lock);
		return RC_OK;
	}
	struct tenant *t = NULL;
	struct errbuf eb = {""};
	enum rc rc = tenant_open_id(st, s->keydir, id, &t, &eb);
	if (!rc) {
		push(&ts->v, &ts->n, &ts->cap, t);
		*out = t;
		log_info("tenant loaded tenant=%lld", (long long)id);
	} else {
		atomic_fetch_add(&ts->load_failures, 1);
		log_error("cannot load tenant=%lld: %s", (long long)id, err_msg(&eb, rc));
		if (rc == RC_NOT_FOUND)
			rc = RC_UNAUTHORIZED; /* a key or link naming a tenant that is gone */
	}
	pthread_rwlock_unlock(&ts->lock);
	return rc;
}

/* Swaps in a fresh load of tenant `id`, whose policy version changed. */
static void take_up(struct server *s, struct store *st, int64_t id)
{
	struct server_tenants *ts = &s->tenants;
	pthread_rwlock_wrlock(&ts->lock);
	for (size_t k = 0; k < ts->n; k++) {
		if (ts->v[k]->id != id)
			continue;
		struct tenant *fresh = NULL;
		struct errbuf eb = {""};
		enum rc rc = tenant_open(st, s->keydir, ts->v[k]->name, &fresh, &eb);
		if (rc) {
			atomic_fetch_add(&ts->reload_failures, 1);
			log_error("tenant=%lld: new policy cannot be loaded: %s", (long long)id, err_msg(&eb, rc));
			continue;
		}
		push(&ts->retired, &ts->nretired, &ts->cap_retired, ts->v[k]);
		ts->v[k] = fresh;
		atomic_fetch_add(&ts->reloads, 1);
		log_info("tenant=%lld now runs under policy version %s", (long long)id, fresh->policy->version);
	}
	pthread_rwlock_unlock(&ts->lock);
}

void server_tenant_refresh(struct server *s, struct store *st, int64_t id)
{
	take_up(s, st, id);
}

void server_tenants_reload(struct server *s, struct store *st)
{
	struct server_tenants *ts = &s->tenants;
	pthread_rwlock_rdlock(&ts->lock);
	size_t n = ts->n;
	int64_t *changed = xcalloc(n ? n : 1, sizeof *changed);
	size_t nchanged = 0;
	for (size_t i = 0; i < n; i++) {
		bool yes = false;
		if (!tenant_policy_changed(st, ts->v[i], &yes) && yes)
			changed[nchanged++] = ts->v[i]->id;
	}
	pthread_rwlock_unlock(&ts->lock);
	for (size_t i = 0; i < nchanged; i++)
		take_up(s, st, changed[i]);
	free(changed);
}
