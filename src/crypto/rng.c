/* rng: per-thread ChaCha20 stream with fast key erasure (see rng.h). */
#include "crypto/rng.h"

#include <pthread.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <unistd.h>

#define RNG_BUF 512 /* bytes handed out between two refills */

/* One page per thread, so that MADV_WIPEONFORK and MADV_DONTDUMP cover it
 * and nothing else. A zeroed page (fresh, or wiped by a fork) is unseeded. */
struct rng_state {
	unsigned char key[crypto_stream_chacha20_KEYBYTES];
	unsigned char block[crypto_stream_chacha20_KEYBYTES + RNG_BUF]; /* next key, then output */
	size_t avail; /* output bytes not handed out yet: block[KEYBYTES .. KEYBYTES + avail) */
	int seeded;
};
_Static_assert(sizeof(struct rng_state) <= 4096, "the state fits one page");

/* Set once, by the first call of any thread (pthread_once), never again:
 * the key under which each thread finds its own state. */
static pthread_key_t state_key;
static pthread_once_t state_once = PTHREAD_ONCE_INIT;

static void state_free(void *p)
{
	struct rng_state *st = p;
	sodium_memzero(st, sizeof *st);
	munmap(st, (size_t)sysconf(_SC_PAGESIZE));
}

/* In the child of a fork, in the thread that forked (the only one there):
 * its copy of the parent's state must not give the parent's next bytes. */
static void after_fork_child(void)
{
	struct rng_state *st = pthread_getspecific(state_key);
	if (st)
		sodium_memzero(st, sizeof *st);
}

static void state_setup(void)
{
	if (pthread_key_create(&state_key, state_free) != 0 || pthread_atfork(NULL, NULL, after_fork_child) != 0)
		abort();
}

/* From the kernel, not from libsodium's generator: that one aborts when
 * called in a forked child, and a child must be able to reseed. */
static void seed(unsigned char *key, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = getrandom(key + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			randombytes_buf(key, len); /* no getrandom(2): libsodium's own seed */
			return;
		}
		got += (size_t)n;
	}
}

static struct rng_state *state(void)
{
	pthread_once(&state_once, state_setup);
	struct rng_state *st = pthread_getspecific(state_key);
	if (!st) {
		size_t page = (size_t)sysconf(_SC_PAGESIZE);
		void *p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			abort();
		/* Best effort: a kernel without WIPEONFORK (before 4.14) still has
		 * the atfork handler above. */
#ifdef MADV_WIPEONFORK
		(void)madvise(p, page, MADV_WIPEONFORK);
#endif
#ifdef MADV_DONTDUMP
		(void)madvise(p, page, MADV_DONTDUMP);
#endif
		st = p;
		if (pthread_setspecific(state_key, st) != 0)
			abort();
	}
	if (!st->seeded) {
		seed(st->key, sizeof st->key);
		st->avail = 0;
		st->seeded = 1;
	}
	return st;
}

/* A new block of stream under the current key; its first bytes are the
 * next key, and the old key is gone. */
static void refill(struct rng_state *st)
{
	static const unsigned char nonce[crypto_stream_chacha20_NONCEBYTES]; /* each key is used once */
	crypto_stream_chacha20(st->block, sizeof st->block, nonce, st->key);
	memcpy(st->key, st->block, sizeof st->key);
	sodium_memzero(st->block, sizeof st->key);
	st->avail = RNG_BUF;
}

void rng_fill(void *out, size_t len)
{
	struct rng_state *st = state();
	unsigned char *o = out;
	while (len) {
		if (!st->avail)
			refill(st);
		size_t n = len < st->avail ? len : st->avail;
		unsigned char *from = st->block + sizeof st->key + st->avail - n;
		memcpy(o, from, n);
		sodium_memzero(from, n);
		st->avail -= n;
		o += n;
		len -= n;
	}
}
