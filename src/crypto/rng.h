/*
 * rng: the random bytes of the hot paths (ids, nonces, new subject keys),
 * from a per-thread ChaCha20 stream seeded once per thread from the kernel
 * (getrandom(2)).
 *
 * Why not randombytes_buf for each value: libsodium's generator checks the
 * process id on every call (a getpid(2) system call, for fork safety), and
 * an imported subject takes five random values; the system call was 13% of
 * the import's CPU. This is the same construction as libsodium's own
 * generator (ChaCha20 with fast key erasure: every refill replaces the key
 * with the stream's first 32 bytes, and every byte handed out is wiped from
 * the state, so a state read later cannot give back an earlier output),
 * made fork-safe without the system call: the state lives in a page of its
 * own marked MADV_WIPEONFORK and MADV_DONTDUMP, and a pthread_atfork child
 * handler wipes the forking thread's state as well, so a child process
 * never repeats its parent's stream. A thread's state is wiped and unmapped
 * when the thread exits; the main thread's goes with the process.
 *
 * Long-lived secrets (master keys, API keys, signing seeds) still come
 * straight from randombytes_buf: they are rare and not worth a stream.
 * Needs vault_library_init() first (libsodium's ChaCha20 is picked there).
 */
#ifndef PRIVREG_RNG_H
#define PRIVREG_RNG_H

#include <stddef.h>

/* Fills out with len random bytes. Aborts only if the first call of a
 * thread cannot map its state page (as xalloc does on no memory). */
void rng_fill(void *out, size_t len);

#endif
