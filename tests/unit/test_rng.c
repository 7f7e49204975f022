/* rng: the per-thread stream gives distinct bytes across calls, refills and
 * threads, and a forked child does not repeat its parent's stream. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "crypto/rng.h"
#include "crypto/vault.h"

static int setup(void **state)
{
	(void)state;
	return vault_library_init() ? -1 : 0;
}

/* Many short draws across several refills: no two 16-byte values alike,
 * and not all zero (a state handed out unseeded, or wiped, would be). */
static void test_distinct(void **state)
{
	(void)state;
	enum { N = 400 };
	static unsigned char v[N][16];
	for (int i = 0; i < N; i++)
		rng_fill(v[i], sizeof v[i]);
	static const unsigned char zero[16];
	for (int i = 0; i < N; i++) {
		assert_memory_not_equal(v[i], zero, 16);
		for (int j = 0; j < i; j++)
			assert_memory_not_equal(v[i], v[j], 16);
	}
	/* A draw larger than one block. */
	unsigned char big[3000], big2[3000];
	rng_fill(big, sizeof big);
	rng_fill(big2, sizeof big2);
	assert_memory_not_equal(big, big2, sizeof big);
	assert_memory_not_equal(big + 2000, zero, 16);
}

static void *draw(void *out)
{
	rng_fill(out, 32);
	return NULL;
}

static void test_threads(void **state)
{
	(void)state;
	unsigned char a[32], b[32], mine[32];
	pthread_t t1, t2;
	assert_int_equal(pthread_create(&t1, NULL, draw, a), 0);
	assert_int_equal(pthread_create(&t2, NULL, draw, b), 0);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	rng_fill(mine, sizeof mine);
	assert_memory_not_equal(a, b, 32);
	assert_memory_not_equal(a, mine, 32);
	assert_memory_not_equal(b, mine, 32);
}

/* The child's first bytes after a fork must not be the parent's next ones:
 * without the wipe, both continue the same stream from the same state. */
static void test_fork(void **state)
{
	(void)state;
	unsigned char warm[8], parent[32], child[32];
	rng_fill(warm, sizeof warm); /* the state exists and holds unused bytes */
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		rng_fill(child, sizeof child);
		_exit(write(fds[1], child, sizeof child) == (ssize_t)sizeof child ? 0 : 1);
	}
	close(fds[1]); /* a child that dies gives end-of-file, not a wait */
	rng_fill(parent, sizeof parent);
	assert_int_equal(read(fds[0], child, sizeof child), (ssize_t)sizeof child);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fds[0]);
	assert_memory_not_equal(parent, child, sizeof parent);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_distinct),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_fork),
	};
	return cmocka_run_group_tests(tests, setup, NULL);
}
