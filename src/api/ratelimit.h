/*
 * ratelimit: failed authentications per client address. After `limit`
 * failures within a minute an address gets 429 until the minute is over,
 * which makes guessing keys slow without locking out anyone else. A fixed
 * table of slots bounds memory whatever the traffic; two addresses that
 * share a slot share a budget, which errs on the side of refusing. The
 * check on every request reads without the lock (a stale read lets one
 * more attempt through); failures are counted under it.
 */
#ifndef PRIVREG_RATELIMIT_H
#define PRIVREG_RATELIMIT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define RATELIMIT_SLOTS 4096
#define RATELIMIT_WINDOW 60

struct ratelimit_slot {
	_Atomic uint64_t addr_hash;
	_Atomic int64_t window_start;
	_Atomic unsigned failures;
};

struct ratelimit {
	pthread_mutex_t lock;
	unsigned limit;
	int64_t window;            /* seconds; RATELIMIT_WINDOW unless ratelimit_init_window says */
	struct ratelimit_slot slots[RATELIMIT_SLOTS];
};

void ratelimit_init(struct ratelimit *r, unsigned limit);
/* The same with a window of its own (the privacy center's sign-in mails). */
void ratelimit_init_window(struct ratelimit *r, unsigned limit, int64_t window);
void ratelimit_fini(struct ratelimit *r);
/* True if addr is over its budget; *retry_after is seconds to wait. */
bool ratelimit_blocked(struct ratelimit *r, const char *addr, int64_t now, int64_t *retry_after);
void ratelimit_fail(struct ratelimit *r, const char *addr, int64_t now);

#endif
