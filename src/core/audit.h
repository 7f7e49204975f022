/*
 * audit: the append-only log of every access to and change of personal data,
 * and of every key and policy change.
 *
 * Each tenant's entries form a hash chain: an entry's hash is a keyed
 * BLAKE2b (key derived from the tenant's master key) over the previous hash
 * and the entry, so a row edited, inserted or deleted in the database breaks
 * the chain from that row on, and nobody without the key file can forge a
 * new chain. audit_append writes inside the caller's transaction, so an entry
 * exists exactly when the change it records does. Entries carry ids, names
 * of fields and rules, never personal values. An entry's time is the real
 * clock's, even when c->now is fixed to evaluate rules as of another time
 * (`privreg sweep --now`, tests): the log only ever moves forward.
 *
 * The chain alone cannot tell a log whose tail was deleted (or all of it)
 * from a log that is simply shorter: what is left is still a valid chain.
 * Checkpoints anchor the head: a line of text naming the tenant, the last
 * entry's seq and hash and the time, under a MAC keyed from the tenant's
 * master key (vault.checkpoint_key), appended to a file outside the database
 * on a schedule. Kept where whoever holds the database cannot rewrite it
 * (copied off the machine), it lets audit_verify_checkpoints refuse a log
 * that is shorter than, or diverges from, any checkpoint in it.
 */
#ifndef PRIVREG_AUDIT_H
#define PRIVREG_AUDIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/ctx.h"
#include "store/store.h"

struct audit_event {
	const char *action;        /* "subject.read", "record.rectify", ... */
	const char *subject_id;    /* may be NULL */
	const char *record_id;     /* may be NULL */
	const char *outcome;       /* "ok" or an rc code */
	const char *detail;        /* field names, counts; never values; may be NULL */
};

/* Appends one entry in the open transaction of c->store. */
enum rc audit_append(const struct core_ctx *c, const struct audit_event *e) WUR;

/*
 * Appends an entry for a read. Without a sink (c->sink NULL) it is written
 * at once in its own relaxed transaction (see store_begin_relaxed). With a
 * sink it is queued for the sink's writer, which commits queued entries in
 * batches (group commit), and counted in c->waiter: the caller must then
 * not hand out what it read before audit_waiter_park says every entry is
 * written. Either way: no read without its entry.
 */
enum rc audit_access(const struct core_ctx *c, const struct audit_event *e) WUR;

/* One request's outstanding access entries. */
struct audit_waiter {
	pthread_mutex_t lock;
	unsigned pending;          /* queued, not yet written */
	enum rc rc;                /* RC_OK, or the first failure to write one */
	bool parked;
	void (*wake)(void *arg);   /* called once the last one is written, if parked */
	void *arg;
};

void audit_waiter_init(struct audit_waiter *w, void (*wake)(void *arg), void *arg);
void audit_waiter_fini(struct audit_waiter *w);
/* If entries are outstanding, calls park(arg) under the waiter's lock and
 * returns true: wake(arg) follows once all are written, never before park
 * has returned. False: nothing to wait for. */
bool audit_waiter_park(struct audit_waiter *w, void (*park)(void *arg), void *arg);
enum rc audit_waiter_result(struct audit_waiter *w);
/* Other work a request waits for, counted as its entries are: add before
 * handing it to another thread, done once it is finished (the last touch
 * of the work: the owner may wake and free it). */
void audit_waiter_add(struct audit_waiter *w);
void audit_waiter_done(struct audit_waiter *w, enum rc rc);

/* The batch writer: a thread with its own connection. */
struct audit_sink;
/* Takes the connection. */
enum rc audit_sink_new(struct store *store, struct audit_sink **out) WUR;

/* Makes every access entry committed so far durable (the relaxed commits of
 * reads reach the disk): on the server's tick and at stop. */
enum rc audit_sync(struct store *s) WUR;
/* Writes everything queued, then stops the thread. */
void audit_sink_free(struct audit_sink *sink);

#define AUDIT_PAGE_MAX 1000

/* Entries of c's tenant matching f (limit capped at AUDIT_PAGE_MAX). */
enum rc audit_query(const struct core_ctx *c, const struct store_audit_filter *f,
                    struct store_audit **out, size_t *n) WUR;

struct audit_verify_result {
	bool ok;
	int64_t entries;           /* entries checked */
	int64_t first_bad;         /* seq of the first broken entry, when !ok */
};

/* Walks the whole chain of tenant t. */
enum rc audit_verify(struct store *s, const struct tenant *t, struct audit_verify_result *out) WUR;

/* ---- checkpoints ---- */

#define AUDIT_MAC_LEN 32
/* A checkpoint line, "\n" and NUL included; a longer line is refused. */
#define AUDIT_CHECKPOINT_LINE_MAX 320

struct audit_checkpoint {
	char tenant[TENANT_NAME_MAX + 1];
	int64_t seq;                          /* 0 for an empty log */
	unsigned char hash[STORE_AUDIT_HASH_LEN]; /* entry seq's hash (zeros for an empty log) */
	int64_t at;                           /* when it was made, by the real clock */
	unsigned char mac[AUDIT_MAC_LEN];
};

/*
 * The head of t's log now, as a checkpoint and as its line: one line of
 * JSON ending in "\n",
 * {"tenant":"T","seq":N,"hash":"HEX","at":"2024-03-01T12:00:00Z","mac":"HEX"}.
 */
enum rc audit_checkpoint_make(struct store *s, const struct tenant *t, struct audit_checkpoint *cp,
                              char line[AUDIT_CHECKPOINT_LINE_MAX]) WUR;

/* Appends a line to path (created 0600) with one write(2) under O_APPEND,
 * then fsync: concurrent writers never interleave, and a line is on disk
 * once this returns. */
enum rc audit_checkpoint_append(const char *path, const char *line, struct errbuf *eb) WUR;

struct audit_checkpoint_result {
	size_t held;               /* t's checkpoints the log holds */
	size_t failed;             /* problems reported (each through report()) */
	size_t others;             /* lines of other tenants, skipped */
};

/*
 * Checks t's log against every checkpoint of t in the file at path: the
 * log must hold an entry with the checkpoint's seq and hash. Each problem
 * is handed to report() as one line of text naming the checkpoint's seq
 * and time (or the file's line): the log ends before it (its tail was
 * deleted), the entry is missing or differs (the log was rewritten), a
 * line's MAC is wrong (forged, or made with another key), a line is not a
 * checkpoint, or the file holds no checkpoint of t. RC_OK means the file
 * was read; the verdict is out->failed == 0.
 */
enum rc audit_verify_checkpoints(struct store *s, const struct tenant *t, const char *path,
                                 void (*report)(void *arg, const char *msg), void *arg,
                                 struct audit_checkpoint_result *out, struct errbuf *eb) WUR;

/*
 * The last checkpoint of t in the file at path made no later than `until`
 * (0: any) whose MAC is right: *found false when there is none (or no
 * file). Lines of other tenants, forged or malformed lines are passed over
 * here: audit_verify_checkpoints is what reports them.
 */
enum rc audit_checkpoint_latest(const struct tenant *t, const char *path, int64_t until,
                                struct audit_checkpoint *out, bool *found, struct errbuf *eb) WUR;

#endif
