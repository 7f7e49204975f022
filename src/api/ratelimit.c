/* ratelimit: see ratelimit.h. */
#include "api/ratelimit.h"

#include <string.h>

static uint64_t fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h ? h : 1;
}

void ratelimit_init(struct ratelimit *r, unsigned limit)
{
	ratelimit_init_window(r, limit, RATELIMIT_WINDOW);
}

void ratelimit_init_window(struct ratelimit *r, unsigned limit, int64_t window)
{
	for (size_t i = 0; i < RATELIMIT_SLOTS; i++) {
		atomic_init(&r->slots[i].addr_hash, 0);
		atomic_init(&r->slots[i].window_start, 0);
		atomic_init(&r->slots[i].failures, 0);
	}
	r->limit = limit;
	r->window = window;
	pthread_mutex_init(&r->lock, NULL);
}

void ratelimit_fini(struct ratelimit *r)
{
	pthread_mutex_destroy(&r->lock);
}

static struct ratelimit_slot *slot(struct ratelimit *r, const char *addr, int64_t now)
{
	uint64_t h = fnv1a(addr);
	struct ratelimit_slot *s = &r->slots[h % RATELIMIT_SLOTS];
	if (s->addr_hash != h || now - s->window_start >= r->window) {
		if (s->addr_hash != h && s->failures >= r->limit && now - s->window_start < r->window)
			return s; /* occupied by a blocked address: share its block */
		s->addr_hash = h;
		s->window_start = now;
		s->failures = 0;
	}
	return s;
}

bool ratelimit_blocked(struct ratelimit *r, const char *addr, int64_t now, int64_t *retry_after)
{
	struct ratelimit_slot *s = &r->slots[fnv1a(addr) % RATELIMIT_SLOTS];
	int64_t start = atomic_load_explicit(&s->window_start, memory_order_relaxed);
	bool blocked = atomic_load_explicit(&s->failures, memory_order_relaxed) >= r->limit &&
	               now - start < r->window;
	*retry_after = blocked ? start + r->window - now : 0;
	if (blocked && *retry_after < 1)
		*retry_after = 1;
	return blocked;
}

void ratelimit_fail(struct ratelimit *r, const char *addr, int64_t now)
{
	pthread_mutex_lock(&r->lock);
	struct ratelimit_slot *s = slot(r, addr, now);
	if (s->failures < r->limit)
		s->failures++;
	pthread_mutex_unlock(&r->lock);
}
