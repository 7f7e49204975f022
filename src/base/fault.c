/* fault: failure points of test builds (see fault.h). Empty in a release build. */
#include "base/fault.h"

#ifdef PRIVREG_FAULTS

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

struct plan {
	long long store_at, store_every, alloc_at, cut_at, ledger_at;
	unsigned long long cut_seed, ledger_seed;
};

static pthread_once_t once = PTHREAD_ONCE_INIT;
static struct plan plan;
static atomic_llong store_calls, alloc_calls, cut_events, ledger_events, ledger_durable = -1;

static void load(void)
{
	const char *v;
	if ((v = getenv("PRIVREG_FAULT_STORE")) && sscanf(v, "%lld/%lld", &plan.store_at, &plan.store_every) < 1)
		plan.store_at = 0;
	if ((v = getenv("PRIVREG_FAULT_ALLOC")))
		plan.alloc_at = atoll(v);
	if ((v = getenv("PRIVREG_POWERCUT")) && sscanf(v, "%lld:%llu", &plan.cut_at, &plan.cut_seed) < 1)
		plan.cut_at = 0;
	if ((v = getenv("PRIVREG_LEDGER_CUT")) && sscanf(v, "%lld:%llu", &plan.ledger_at, &plan.ledger_seed) < 1)
		plan.ledger_at = 0;
}

bool fault_store(void)
{
	pthread_once(&once, load);
	if (plan.store_at <= 0)
		return false;
	long long n = atomic_fetch_add(&store_calls, 1) + 1;
	if (n == plan.store_at)
		return true;
	return plan.store_every > 0 && n > plan.store_at && (n - plan.store_at) % plan.store_every == 0;
}

bool fault_alloc(void)
{
	pthread_once(&once, load);
	return plan.alloc_at > 0 && atomic_fetch_add(&alloc_calls, 1) + 1 == plan.alloc_at;
}

bool fault_powercut(void)
{
	pthread_once(&once, load);
	return plan.cut_at > 0 && atomic_fetch_add(&cut_events, 1) + 1 >= plan.cut_at;
}

bool fault_powercut_armed(uint64_t *seed)
{
	pthread_once(&once, load);
	*seed = plan.cut_seed;
	return plan.cut_at > 0;
}

bool fault_ledger_cut(uint64_t *seed)
{
	pthread_once(&once, load);
	*seed = plan.ledger_seed;
	return plan.ledger_at > 0 && atomic_fetch_add(&ledger_events, 1) + 1 == plan.ledger_at;
}

void fault_ledger_durable_set(int64_t size)
{
	atomic_store(&ledger_durable, size);
}

int64_t fault_ledger_durable(void)
{
	return atomic_load(&ledger_durable);
}

#else
/* ISO C wants a translation unit to declare something. */
typedef int fault_unused;
#endif
