/*
 * migrate: a whole register copied from one store to another (SQLite to
 * PostgreSQL and back), for `privreg migrate`.
 *
 * Rows go as they are stored, table by table (store/copy.def): ciphertext,
 * lookup hashes, wrapped keys and the audit chain are copied, never opened,
 * so the copy needs no key and changes no ciphertext. The source is read
 * in one snapshot; the target, which must be empty, is written in one
 * transaction, which commits only after the copy is verified inside it:
 * per table the same number of rows and the same checksum (a sum of each
 * row's BLAKE2b, so that the two backends' row orders do not matter), and
 * every tenant's audit chain intact. A failure leaves the target as empty as
 * it was. Ids that count up (tenants, audit seq, outbox messages, consent
 * events, policy versions, attestations) are taken as MAX + 1 by every
 * insert, so the copied rows carry the counters with them.
 *
 * The source is only read: it stays as it was, for going back.
 */
#ifndef PRIVREG_MIGRATE_H
#define PRIVREG_MIGRATE_H

#include <stdint.h>

#include "core/ctx.h"
#include "store/store.h"

struct migrate_report {
	/* Told as a table's rows are copied (every MIGRATE_PROGRESS_ROWS rows
	 * and at its end), and as the copy is verified; may be NULL. */
	void (*progress)(void *arg, const char *stage, const char *table, int64_t done, int64_t total);
	void *arg;
	int64_t rows;               /* rows copied, all tables */
	size_t tables;              /* tables copied (empty ones included) */
	size_t tenants;             /* tenants whose audit chain was verified */
	int64_t audit_entries;      /* audit entries verified, all tenants */
};

#define MIGRATE_PROGRESS_ROWS 10000

/* Copies the register in `from` into the empty store `to` (both open, no
 * transaction), verifies it there and commits. keydir is the register's key
 * directory: the audit chains are keyed by the tenants' keys. RC_CONFLICT
 * when `to` is not empty or another client uses either; RC_INTERNAL when
 * a schema has a table the copy does not know or the verification fails;
 * eb says which. */
enum rc migrate_copy(struct store *from, struct store *to, const char *keydir, struct migrate_report *r,
                     struct errbuf *eb) WUR;

#endif
