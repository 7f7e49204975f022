/*
 * fault: the failure points of test builds (meson -Dfaults=true, which the
 * Makefile sets for build-test). A release build compiles none of it: every
 * function below is then a constant false, and no environment variable can
 * make a released binary fail on purpose.
 *
 * In a test build, the environment picks the failures (read once):
 *   PRIVREG_FAULT_STORE=N[/P]   the Nth store operation fails with RC_DB, and
 *                               with /P every Pth one after it (store.c)
 *   PRIVREG_FAULT_ALLOC=N       the Nth allocation through xalloc fails, which
 *                               aborts as a real exhaustion does
 *   PRIVREG_POWERCUT=N[:SEED]   at the Nth write or sync of a database file
 *                               or of a key file the power goes: what was not
 *                               synced is lost and the process ends at once
 *                               (store/sqlite/powercut.c; vault.c). With a
 *                               seed, a random part of the unsynced writes
 *                               reaches the disk, as after a real cut.
 *   PRIVREG_LEDGER_CUT=N[:SEED] at the Nth step of writing the erasure ledger
 *                               (core/ledger.c, counted apart from the above)
 *                               the power goes: what the ledger had not made
 *                               durable is lost (with a seed, a random part
 *                               of its unsynced bytes is kept, or zeros)
 * Calls are counted process-wide, from all threads. The counters are the
 * program's only mutable globals, atomic, and exist only in test builds.
 */
#ifndef PRIVREG_FAULT_H
#define PRIVREG_FAULT_H

#include <stdbool.h>
#include <stdint.h>

/* The exit status of a process stopped by a simulated power cut. */
#define FAULT_POWERCUT_EXIT 86

#ifdef PRIVREG_FAULTS
/* True when this store operation is to fail. */
bool fault_store(void);
/* True when this allocation is to fail. */
bool fault_alloc(void);
/* Counts one write or sync; true when the power goes now. */
bool fault_powercut(void);
/* Whether PRIVREG_POWERCUT is set, and its seed (0: lose every unsynced write). */
bool fault_powercut_armed(uint64_t *seed);
/* Counts one step of writing the erasure ledger; true, with *seed, when the
 * power goes now. */
bool fault_ledger_cut(uint64_t *seed);
/* The power-cut model's record of how much of the erasure ledger file has
 * reached the disk (its writer sets it when it knows; one ledger per
 * process is modelled), -1 until set. */
void fault_ledger_durable_set(int64_t size);
int64_t fault_ledger_durable(void);
#else
static inline bool fault_store(void) { return false; }
static inline bool fault_alloc(void) { return false; }
static inline bool fault_powercut(void) { return false; }
static inline bool fault_powercut_armed(uint64_t *seed) { (void)seed; return false; }
static inline bool fault_ledger_cut(uint64_t *seed) { (void)seed; return false; }
static inline void fault_ledger_durable_set(int64_t size) { (void)size; }
static inline int64_t fault_ledger_durable(void) { return -1; }
#endif

#endif
