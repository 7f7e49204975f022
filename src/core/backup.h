/*
 * backup: what makes a copy of the register safe to keep and to restore.
 *
 * A backup is one consistent snapshot of the database (store_backup_to,
 * online). It carries, in its ledger_position table, how far into each
 * tenant's erasure ledger (core/ledger.h) it is. A restore replaces the
 * database with a copy and then reconciles it: for every tenant the audit
 * chain is verified and every ledger entry newer than the copy is applied
 * again, in order, so that nobody erased since the copy was taken comes
 * back; then the entries the copy's position passed without applying them
 * (table ledger_skipped: erasures whose transaction failed, core/ledger.h).
 * A database that is behind its ledger is refused by backup_check,
 * which `privreg serve` and the CLI's commands run before they write.
 *
 * Key rotation: the tenant's wrapping key goes in epochs (crypto/vault.h).
 * backup_rotate starts a new epoch, re-wraps every subject key under it
 * (pages of BACKUP_REWRAP_PAGE subjects, one transaction each: rerun it and
 * it finishes the job) and destroys the key of every older epoch once the
 * epoch after it is older than the policy's `backups.keep` and no subject is
 * wrapped under it any more. A copy taken while an epoch was current can
 * then not be read with the live key directory at all. Without
 * `backups.keep` no epoch key is ever destroyed (nothing says how long the
 * copies live). Epoch times come from the clock at creation, recorded in the
 * epoch's key file: no option can make a key expire early.
 */
#ifndef PRIVREG_BACKUP_H
#define PRIVREG_BACKUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/ledger.h"

#define BACKUP_REWRAP_PAGE 200

/* A consistent copy of the whole register's database into the new file
 * path (0600), while it serves. */
enum rc backup_take(struct store *s, const char *path, struct errbuf *eb) WUR;
/* Replaces the database with the copy at path. The caller closes and
 * reopens the store (an older copy is migrated then), and reconciles. */
enum rc backup_restore(struct store *s, const char *path, struct errbuf *eb) WUR;

/* Told of each entry re-applied, and of each tenant's audit chain. */
struct backup_reconcile_report {
	void (*replayed)(void *arg, const char *tenant, const struct ledger_entry *e);
	void (*audit)(void *arg, const char *tenant, bool intact, int64_t entries, int64_t first_bad);
	void *arg;
	size_t replayed_n;         /* entries re-applied, all tenants */
	bool audit_broken;         /* some tenant's audit chain did not verify */
};

/* For every tenant: verifies the audit chain, then re-applies the ledger's
 * entries newer than the database, each in its own transaction with the
 * database's position, then the subject entries of each range it skipped,
 * in one transaction with the range's deletion (retention entries the
 * sweep decides again). A broken audit chain does not stop the erasures
 * (they come first) but is reported. */
enum rc backup_reconcile(struct store *s, const char *keydir, struct backup_reconcile_report *r,
                         struct errbuf *eb) WUR;
/* RC_CONFLICT, naming the tenant and `privreg restore --reconcile`, when the
 * database is behind its erasure ledger (or ahead of it: a ledger lost or
 * from another register). Skipped ranges are logged as warnings. */
enum rc backup_check(struct store *s, const char *keydir, struct errbuf *eb) WUR;

struct backup_rotation {
	uint32_t epoch;            /* the current epoch afterwards */
	bool rotated;              /* a new epoch was started */
	size_t rewrapped;          /* subject keys moved to it */
	size_t unreadable;         /* subject keys under an epoch already destroyed */
	uint32_t destroyed[VAULT_EPOCHS_MAX]; /* epochs whose key was destroyed */
	size_t ndestroyed;
};

/* Starts epoch *epoch of tenant `name`'s wrapping key (a new key file). A
 * server takes up the tenant again before backup_rotate (new_epoch false)
 * wraps keys under it. */
enum rc backup_epoch_start(struct store *s, const char *keydir, const char *name, int64_t now, uint32_t *epoch,
                           struct errbuf *eb) WUR;
/* Rotates tenant `name`'s wrapping key (new_epoch; else only finishes the
 * re-wrapping and the expiry), at core time now (0: the clock). */
enum rc backup_rotate(struct store *s, const char *keydir, const char *name, bool new_epoch, int64_t now,
                      struct backup_rotation *out, struct errbuf *eb) WUR;
/* Whether t's policy schedules rotation and its current epoch is older
 * than backups.rotate_every at now (for the server's job). */
bool backup_rotation_due(const struct tenant *t, int64_t now);

#endif
