/*
 * fuzz: what the libFuzzer targets of tests/fuzz share. Each target is one
 * file defining LLVMFuzzerInitialize (once per process) and
 * LLVMFuzzerTestOneInput (once per input); the same file is linked either
 * with libFuzzer (meson -Dfuzz=true, build-fuzz/) or with replay.c, which
 * runs it over the seed corpus and the regressions in the normal ASan build
 * (`meson test`). A target reports a finding by crashing: a sanitizer
 * report, or fuzz_fail (abort) when a property it checks does not hold.
 *
 * libFuzzer's interface is two free functions, so a target keeps what it
 * set up once (a parsed policy, a register, a server) in file-static state:
 * the one place in the tree where that is the only way.
 */
#ifndef PRIVREG_FUZZ_H
#define PRIVREG_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/policy.h"
#include "store/store.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints the broken property and aborts: libFuzzer saves the input. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* A file of the source tree (FUZZ_SOURCE_ROOT/rel), read whole and
 * NUL-terminated; aborts if it cannot be read. */
char *fuzz_source_file(const char *rel, size_t *len);
/* policies/NAME.yaml, parsed; aborts if it does not parse. */
struct policy *fuzz_policy(const char *name);

/* A throwaway register in a new directory under /tmp: one tenant
 * "default" under policies/POLICY.yaml, and an admin API key. Removed by
 * fuzz_register_free (and at exit, if the process ends first). */
struct fuzz_register {
	char dir[256];
	char keydir[300];
	char store_url[320];
	struct store *store;
	struct tenant *tenant;
	char admin_key[TOKEN_APIKEY_MAX];
};

void fuzz_register_new(struct fuzz_register *r, const char *policy);
void fuzz_register_free(struct fuzz_register *r);

#endif
