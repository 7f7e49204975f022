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

/* The batch writer: a thread with its own connection. */
struct audit_sink;
/* Takes the connection. */
enum rc audit_sink_new(struct store *store, struct audit_sink **out) WUR;
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

#endif
