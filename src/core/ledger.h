/*
 * ledger: the erasure ledger, what makes an erasure outlive a restore.
 *
 * Crypto-shredding destroys a subject's wrapped key in the database, but a
 * backup of the database still holds it. So every erasure, subject deletion
 * and retention deletion or anonymisation also appends one line to the
 * tenant's ledger, DIR/ledger/TENANT.log: a file beside the key directory,
 * never part of a database backup. A line names ids only (subject, record,
 * request), never a personal value, with the time and the kind of erasure.
 * Lines are numbered from 1 and chained: each carries a keyed BLAKE2b MAC
 * (the vault's ledger key) over the previous line's MAC and its own text,
 * so an edited, removed or reordered line is detected by ledger_read.
 *
 * Durability: ledger_append runs inside the erasure's own transaction, last
 * before its commit. It appends, fdatasyncs, and sets the database's
 * ledger position (store_ledger_position_set) to the new line's number in
 * that transaction. So an acknowledged erasure is always in the ledger (the
 * ledger reached the disk before the commit did). A crash between the two
 * leaves the ledger one transaction ahead of the database. That must not
 * look like an older copy of the database (which the server refuses), and
 * nothing in the database can tell the two apart (a copy taken just before
 * the erasure is the same database). So the append first writes and
 * fdatasyncs an in-flight marker, DIR/ledger/TENANT.pending, holding the
 * number of the transaction's first line (the lines may reach the disk
 * only after it), and ledger_settle empties it once the outermost
 * transaction has ended (an erasure inside a request's or an idempotent
 * write's transaction settles with that one): lines beyond the database's
 * position that the marker names never committed, were never acknowledged,
 * and are not erasures the database lacks (core/backup.h lets them be;
 * `privreg restore` applies them, since they were asked for). A marker at
 * or below the database's position is stale (a crash after the commit) and
 * is emptied. A marker still set when an append begins keeps its number if
 * it names this transaction's earlier lines, or lines beyond the database's
 * position: those never committed, and this transaction's position will
 * pass them, so it sets them down as skipped in the database
 * (store_ledger_skipped_add) in its own commit. Every copy of the database
 * thus says which lines it passed without applying; `privreg restore`
 * applies them too and deletes each range in the transaction that does,
 * and the server warns of them at start.
 * Writes to the register are serialised (SQLite BEGIN IMMEDIATE), so lines
 * are appended in commit order; an flock on the file guards it besides.
 * The file is created by writing a temporary file, fsync, link and fsync
 * of the directory; later lines are appended and fdatasync'd (rewriting the
 * whole file per erasure would cost its size each time). A last line
 * without its newline (or zeros, where a power cut kept the new size and
 * not the bytes) is one whose append never returned: it is ignored when
 * read and cut before the next append. Test builds can cut the power at
 * each step of these writes (PRIVREG_LEDGER_CUT, base/fault.h).
 *
 * A ledger that ends before the database's position lost lines (deleted,
 * truncated, replaced): it is not appended to (RC_CONFLICT), since numbering
 * it anew would hide the loss; the erasure is refused until it is found.
 *
 * A copy of the database carries its position and the ranges it skipped,
 * so a restore replays exactly the lines after it and those (core/backup.h).
 */
#ifndef PRIVREG_LEDGER_H
#define PRIVREG_LEDGER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "crypto/token.h"

#define LEDGER_LINE_MAX 320
#define LEDGER_MAC_LEN 32
/* The ledger's directory, beside the key directory. */
#define LEDGER_DIR "ledger"

#define LEDGER_KINDS(X) \
	X(SUBJECT_DELETE, "subject.delete")   /* the subject and all its records */ \
	X(SUBJECT_ERASE, "subject.erase")     /* Art. 17: erasable records go, kept ones are resealed */ \
	X(RECORD_DELETE, "retention.delete")  /* one record at the end of its retention */ \
	X(RECORD_ANONYMIZE, "retention.anonymize") /* one record, its kept fields moved off */

enum ledger_kind {
#define X(name, text) LEDGER_##name,
	LEDGER_KINDS(X)
#undef X
	LEDGER_KIND__COUNT
};

struct ledger_entry {
	int64_t seq;               /* 1, 2, ... per tenant */
	int64_t at;
	int64_t tenant_id;
	enum ledger_kind kind;
	char subject[TOKEN_ID_MAX];
	char record[TOKEN_ID_MAX];  /* "" when the entry is about a whole subject */
	char request[TOKEN_ID_MAX]; /* the data-subject request, or "" */
};

const char *ledger_kind_name(enum ledger_kind k);

/* DIR/ledger/TENANT.log for the key directory DIR/keys. */
void ledger_path(const char *keydir, const char *tenant, char *out, size_t size);

/* One line (with its newline) for e, chained after the line whose MAC is
 * prev (zeros before the first); mac gets this line's MAC. */
void ledger_line_format(const unsigned char key[VAULT_KEY_LEN], const unsigned char prev[LEDGER_MAC_LEN],
                        const struct ledger_entry *e, char out[LEDGER_LINE_MAX],
                        unsigned char mac[LEDGER_MAC_LEN]);
/* Parses one line (without its newline) chained after prev: RC_INVALID if
 * it is malformed, RC_CRYPTO if its MAC does not match. */
enum rc ledger_line_parse(const unsigned char key[VAULT_KEY_LEN], const unsigned char prev[LEDGER_MAC_LEN],
                          const char *line, struct ledger_entry *e, unsigned char mac[LEDGER_MAC_LEN]) WUR;

/* Appends the erasure to c->tenant's ledger (see above). Call inside the
 * erasure's transaction, after its last change and its audit entry, and
 * ledger_settle after the transaction. Does nothing while the ledger is
 * being replayed (c->replay) and for a tenant loaded without a ledger (unit
 * tests). */
enum rc ledger_note(const struct core_ctx *c, enum ledger_kind kind, const char *subject, const char *record,
                    const char *request) WUR;
/* The same for n entries (kind, ids set; seq, time and tenant are filled
 * in) with one write and one fdatasync: a retention batch. */
enum rc ledger_append(const struct core_ctx *c, struct ledger_entry *v, size_t n) WUR;
/* After the erasure's transaction ended with rc (core_end's): committed,
 * its in-flight marker goes; failed, it stays (as after a crash). Inside an
 * outer transaction it does nothing: call it after the outer end too. */
void ledger_settle(const struct core_ctx *c, enum rc rc);
/* The first line of a transaction that was in flight (its marker), or 0. */
int64_t ledger_pending(const struct tenant *t);
/* Removes the marker (its lines applied, or shown stale). */
void ledger_pending_clear(const struct tenant *t);

/* Removes tenant `name`'s ledger with its marker (the tenant is deleted). RC_IO if one exists and cannot go. */
enum rc ledger_remove(const char *keydir, const char *name) WUR;

/* Reads and checks the whole ledger of t: the chain, the numbering and the
 * tenant. *last gets the last line's number (0: no ledger yet); the entries
 * after `after` go to *out (free it). RC_CRYPTO with the line named in eb
 * when the ledger was tampered with. */
enum rc ledger_read(const struct tenant *t, int64_t after, struct ledger_entry **out, size_t *n, int64_t *last,
                    struct errbuf *eb) WUR;

#endif
