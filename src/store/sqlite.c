/*
 * sqlite: the embedded backend of the store interface.
 *
 * One `struct sqlite_store` is one connection (opened NOMUTEX: one thread at a
 * time uses it). Settings: WAL, synchronous=FULL (a committed change survives
 * power loss: no data is ever lost), secure_delete=ON (deleted values are
 * overwritten, not left in free pages), foreign_keys=ON. Statements are
 * prepared once per connection on first use and kept. Migrations in
 * sql/sqlite/ are applied in order at open, each in its own transaction.
 */
#include <errno.h>
#include <pthread.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "store/store.h"

struct migration {
	int number;
	const char *name;
	const char *sql;
};

#include "sql_sqlite.h"

/* Two statements name their index (INDEXED BY): without ANALYZE statistics
 * SQLite prefers a WITHOUT ROWID table's primary key whenever its first
 * column (tenant_id) is constrained, and scans the tenant's every record. */
enum stmt_id {
	S_BEGIN, S_BEGIN_READ, S_COMMIT, S_ROLLBACK, S_SAVEPOINT, S_RELEASE, S_ROLLBACK_TO,
	S_TENANT_INSERT, S_TENANT_FIND, S_TENANT_LIST,
	S_POLICY_INSERT, S_POLICY_CURRENT,
	S_SUBJECT_INSERT, S_SUBJECT_GET, S_SUBJECT_SHRED, S_SUBJECT_DELETE,
	S_RECORD_INSERT, S_RECORD_GET, S_RECORD_UPDATE, S_RECORD_DELETE, S_RECORD_LOOKUPS,
	S_RECORDS_FOR_SUBJECT, S_EVENTS_FOR_RECORD, S_EVENT_SET,
	S_LOOKUP_INSERT1, S_LOOKUP_INSERT2, S_LOOKUP_INSERT3, S_LOOKUP_INSERT4,
	S_LOOKUP_DELETE, S_LOOKUP_FIND,
	S_APIKEY_INSERT, S_APIKEY_GET, S_APIKEY_LIST, S_APIKEY_REVOKE,
	S_COUNT_SUBJECTS, S_COUNT_RECORDS,
	S_SYNC_NORMAL, S_SYNC_FULL, S_CHECKPOINT,
	S_AUDIT_HEAD, S_AUDIT_INSERT, S_AUDIT_LIST, S_AUDIT_LIST_SUBJECT,
	S_CONSENT_EVENT_INSERT, S_CONSENT_EVENTS, S_CONSENT_STATE_SET, S_CONSENT_STATE_GET, S_CONSENT_STATES,
	S_CONSENT_AUDIENCE, S_TOKEN_USE, S_OUTBOX_INSERT, S_OUTBOX_DUE, S_OUTBOX_SENT, S_OUTBOX_RETRY,
	S_OUTBOX_PENDING, S_POLICY_VERSION_EXISTS, S_SUBJECTS_PAGE, S_CONSENT_BY_LOOKUP,
	S_REQUEST_INSERT, S_REQUEST_GET, S_REQUEST_UPDATE, S_REQUESTS_LIST, S_REQUEST_COUNTS,
	S_SUBJECT_RESTRICT, S_SUBJECT_REKEY, S_CONSENTS_DELETE_EVENTS, S_CONSENTS_DELETE_STATE,
	S_SUPPRESSION_INSERT, S_SUPPRESSION_EXISTS,
	S_HOLD_INSERT, S_HOLD_LIFT, S_HOLDS_ACTIVE, S_DISCLOSURE_INSERT, S_DISCLOSURES,
	S_RECORD_SET_DUE, S_RECORDS_DUE, S_RECORDS_TRIM, S_SUBJECT_RECORD_COUNT, S_FORECAST, S_REQUEST_SET_EXPIRY,
	S_REQUESTS_EXPIRE, S_RECORDS_PAGE, S_RECORD_LOOKUPS_ONE,
	S__COUNT
};

static const char *const stmt_sql[S__COUNT] = {
	[S_BEGIN] = "BEGIN IMMEDIATE",
	[S_BEGIN_READ] = "BEGIN DEFERRED",
	[S_COMMIT] = "COMMIT",
	[S_ROLLBACK] = "ROLLBACK",
	[S_SAVEPOINT] = "SAVEPOINT sp",
	[S_RELEASE] = "RELEASE sp",
	[S_ROLLBACK_TO] = "ROLLBACK TO sp",
	[S_TENANT_INSERT] = "INSERT INTO tenants (name, created_at) VALUES (?1, ?2)",
	[S_TENANT_FIND] = "SELECT tenant_id, name, created_at FROM tenants WHERE name = ?1",
	[S_TENANT_LIST] = "SELECT tenant_id, name, created_at FROM tenants ORDER BY tenant_id",
	[S_POLICY_INSERT] =
		"INSERT INTO policies (tenant_id, version_no, label, source, installed_at) "
		"VALUES (?1, (SELECT COALESCE(MAX(version_no), 0) + 1 FROM policies WHERE tenant_id = ?1), ?2, ?3, ?4)",
	[S_POLICY_CURRENT] =
		"SELECT label, source FROM policies WHERE tenant_id = ?1 ORDER BY version_no DESC LIMIT 1",
	[S_SUBJECT_INSERT] =
		"INSERT INTO subjects (tenant_id, subject_id, wrapped_key, created_at) VALUES (?1, ?2, ?3, ?4)",
	[S_SUBJECT_GET] =
		"SELECT wrapped_key, created_at, restricted FROM subjects WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_SUBJECT_SHRED] =
		"UPDATE subjects SET wrapped_key = NULL WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_SUBJECT_DELETE] = "DELETE FROM subjects WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_RECORD_INSERT] =
		"INSERT INTO records (tenant_id, record_id, subject_id, kind, state, created_at, updated_at, data, lookups, "
		"due_at, trim_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[S_RECORD_GET] =
		"SELECT record_id, subject_id, kind, state, created_at, updated_at, data, lookups, due_at, trim_at "
		"FROM records WHERE tenant_id = ?1 AND record_id = ?2",
	[S_RECORD_UPDATE] =
		"UPDATE records SET state = ?3, updated_at = ?4, data = ?5, lookups = ?6, due_at = ?7, trim_at = ?8 "
		"WHERE tenant_id = ?1 AND record_id = ?2",
	[S_RECORD_DELETE] = "DELETE FROM records WHERE tenant_id = ?1 AND record_id = ?2",
	[S_RECORD_LOOKUPS_ONE] = "SELECT record_id, lookups FROM records WHERE tenant_id = ?1 AND record_id = ?2",
	[S_RECORD_LOOKUPS] =
		"SELECT record_id, lookups FROM records INDEXED BY records_by_subject "
		"WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_RECORDS_FOR_SUBJECT] =
		"SELECT record_id, subject_id, kind, state, created_at, updated_at, data, lookups, due_at, trim_at "
		"FROM records INDEXED BY records_by_subject WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_EVENTS_FOR_RECORD] =
		"SELECT name, at FROM record_events WHERE tenant_id = ?1 AND record_id = ?2 ORDER BY name",
	[S_EVENT_SET] =
		"INSERT INTO record_events (tenant_id, record_id, name, at) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (tenant_id, record_id, name) DO UPDATE SET at = excluded.at",
	/* A record's lookup rows go in one statement: per-statement overhead,
	 * not the B-tree, was most of their cost. ?1 tenant, ?2 record, ?3 subject. */
	[S_LOOKUP_INSERT1] =
		"INSERT INTO lookups (tenant_id, hash, record_id, subject_id) VALUES (?1, ?4, ?2, ?3)",
	[S_LOOKUP_INSERT2] =
		"INSERT INTO lookups (tenant_id, hash, record_id, subject_id) VALUES (?1, ?4, ?2, ?3), (?1, ?5, ?2, ?3)",
	[S_LOOKUP_INSERT3] =
		"INSERT INTO lookups (tenant_id, hash, record_id, subject_id) VALUES (?1, ?4, ?2, ?3), (?1, ?5, ?2, ?3), "
		"(?1, ?6, ?2, ?3)",
	[S_LOOKUP_INSERT4] =
		"INSERT INTO lookups (tenant_id, hash, record_id, subject_id) VALUES (?1, ?4, ?2, ?3), (?1, ?5, ?2, ?3), "
		"(?1, ?6, ?2, ?3), (?1, ?7, ?2, ?3)",
	[S_LOOKUP_DELETE] = "DELETE FROM lookups WHERE tenant_id = ?1 AND hash = ?2 AND record_id = ?3",
	[S_LOOKUP_FIND] =
		"SELECT DISTINCT subject_id FROM lookups WHERE tenant_id = ?1 AND hash = ?2 ORDER BY subject_id LIMIT ?3",
	[S_APIKEY_INSERT] =
		"INSERT INTO api_keys (tenant_id, key_id, role, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	[S_APIKEY_GET] =
		"SELECT tenant_id, key_id, role, hash, created_at, revoked_at FROM api_keys WHERE key_id = ?1",
	[S_APIKEY_LIST] =
		"SELECT tenant_id, key_id, role, hash, created_at, revoked_at FROM api_keys "
		"WHERE tenant_id = ?1 ORDER BY created_at, key_id",
	[S_APIKEY_REVOKE] =
		"UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND key_id = ?2 AND revoked_at IS NULL",
	[S_COUNT_SUBJECTS] = "SELECT count(*) FROM subjects WHERE tenant_id = ?1",
	[S_COUNT_RECORDS] = "SELECT count(*) FROM records WHERE tenant_id = ?1",
	[S_SYNC_NORMAL] = "PRAGMA synchronous = NORMAL",
	[S_SYNC_FULL] = "PRAGMA synchronous = FULL",
	[S_CHECKPOINT] = "PRAGMA wal_checkpoint(PASSIVE)",
	[S_CONSENT_EVENT_INSERT] =
		"INSERT INTO consent_events (tenant_id, event_id, subject_id, purpose, action, at, source, channel, "
		"policy_version, wording, evidence, actor) VALUES (?1, (SELECT COALESCE(MAX(event_id), 0) + 1 FROM "
		"consent_events WHERE tenant_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING event_id",
	[S_CONSENT_EVENTS] =
		"SELECT event_id, subject_id, purpose, action, at, source, channel, policy_version, wording, evidence, actor "
		"FROM consent_events INDEXED BY consent_events_by_subject WHERE tenant_id = ?1 AND subject_id = ?2 "
		"ORDER BY event_id",
	[S_CONSENT_STATE_SET] =
		"INSERT INTO consent_state (tenant_id, subject_id, purpose, state, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) "
		"ON CONFLICT (tenant_id, subject_id, purpose) DO UPDATE SET state = excluded.state, "
		"updated_at = excluded.updated_at",
	[S_CONSENT_STATE_GET] =
		"SELECT state FROM consent_state WHERE tenant_id = ?1 AND subject_id = ?2 AND purpose = ?3",
	[S_CONSENT_STATES] =
		"SELECT subject_id, purpose, state, updated_at FROM consent_state WHERE tenant_id = ?1 AND subject_id = ?2 "
		"ORDER BY purpose",
	[S_CONSENT_AUDIENCE] =
		"SELECT subject_id FROM consent_state INDEXED BY consent_state_by_purpose WHERE tenant_id = ?1 "
		"AND purpose = ?2 AND state = ?3 AND subject_id > ?4 ORDER BY subject_id LIMIT ?5",
	[S_TOKEN_USE] = "INSERT INTO used_tokens (tenant_id, hash, used_at) VALUES (?1, ?2, ?3)",
	[S_OUTBOX_INSERT] =
		"INSERT INTO outbox (tenant_id, message_id, subject_id, kind, created_at, next_at, sealed) VALUES "
		"(?1, (SELECT COALESCE(MAX(message_id), 0) + 1 FROM outbox WHERE tenant_id = ?1), ?2, ?3, ?4, ?5, ?6)",
	[S_OUTBOX_DUE] =
		"SELECT tenant_id, message_id, subject_id, kind, created_at, next_at, attempts, sealed FROM outbox "
		"INDEXED BY outbox_due WHERE sent_at IS NULL AND next_at <= ?1 ORDER BY next_at LIMIT ?2",
	[S_OUTBOX_SENT] = "UPDATE outbox SET sent_at = ?3, sealed = x'' WHERE tenant_id = ?1 AND message_id = ?2",
	[S_OUTBOX_RETRY] =
		"UPDATE outbox SET attempts = ?3, next_at = ?4 WHERE tenant_id = ?1 AND message_id = ?2",
	[S_OUTBOX_PENDING] = "SELECT count(*) FROM outbox WHERE sent_at IS NULL",
	[S_REQUEST_INSERT] =
		"INSERT INTO requests (tenant_id, request_id, subject_id, type, status, channel, received_at, due_at, "
		"target_at, verified_by, details) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[S_REQUEST_GET] =
		"SELECT request_id, subject_id, type, status, channel, received_at, due_at, target_at, extended_at, "
		"extension_reason, answered_at, outcome, refusal_reason, verified_by, details FROM requests "
		"WHERE tenant_id = ?1 AND request_id = ?2",
	[S_REQUEST_UPDATE] =
		"UPDATE requests SET status = ?3, due_at = ?4, extended_at = ?5, extension_reason = ?6, answered_at = ?7, "
		"outcome = ?8, refusal_reason = ?9, verified_by = ?10, details = ?11 WHERE tenant_id = ?1 AND request_id = ?2",
	/* ?2 status (NULL any), ?3 due before (0 any), ?4 open only, ?5 after id, ?6 limit */
	[S_REQUESTS_LIST] =
		"SELECT request_id, subject_id, type, status, channel, received_at, due_at, target_at, extended_at, "
		"extension_reason, answered_at, outcome, refusal_reason, verified_by, NULL FROM requests "
		"WHERE tenant_id = ?1 AND (?2 IS NULL OR status = ?2) AND (?3 = 0 OR due_at < ?3) "
		"AND (?4 = 0 OR status IN ('received', 'verifying', 'in_progress')) AND request_id > ?5 "
		"ORDER BY request_id LIMIT ?6",
	[S_REQUEST_COUNTS] =
		"SELECT count(*), coalesce(sum(due_at < ?2), 0) FROM requests WHERE tenant_id = ?1 "
		"AND status IN ('received', 'verifying', 'in_progress')",
	[S_SUBJECT_RESTRICT] = "UPDATE subjects SET restricted = ?3 WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_SUBJECT_REKEY] = "UPDATE subjects SET wrapped_key = ?3 WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_CONSENTS_DELETE_EVENTS] = "DELETE FROM consent_events WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_CONSENTS_DELETE_STATE] = "DELETE FROM consent_state WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_SUPPRESSION_INSERT] =
		"INSERT INTO suppressions (tenant_id, hash, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING",
	[S_SUPPRESSION_EXISTS] = "SELECT 1 FROM suppressions WHERE tenant_id = ?1 AND hash = ?2",
	[S_HOLD_INSERT] =
		"INSERT INTO holds (tenant_id, hold_id, subject_id, record_id, reason, forbid_disclosure, created_at, until, "
		"key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_HOLD_LIFT] =
		"UPDATE holds SET lifted_at = ?3 WHERE tenant_id = ?1 AND hold_id = ?2 AND lifted_at IS NULL",
	/* ?2 subject or NULL, ?3 record or NULL (then also its subject's), ?4 now */
	[S_HOLDS_ACTIVE] =
		"SELECT hold_id, subject_id, record_id, reason, forbid_disclosure, created_at, until, lifted_at, key_id "
		"FROM holds WHERE tenant_id = ?1 AND lifted_at IS NULL AND (until IS NULL OR until > ?4) AND "
		"((?2 IS NULL AND ?3 IS NULL) OR subject_id = ?2 OR record_id = ?3 OR subject_id = "
		"(SELECT subject_id FROM records WHERE tenant_id = ?1 AND record_id = ?3) OR record_id IN "
		"(SELECT record_id FROM records INDEXED BY records_by_subject WHERE tenant_id = ?1 AND subject_id = ?2)) "
		"ORDER BY created_at",
	[S_DISCLOSURE_INSERT] =
		"INSERT INTO disclosures (tenant_id, disclosure_id, subject_id, recipient, purpose, fields, legal_reference, "
		"at, key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
	[S_DISCLOSURES] =
		"SELECT disclosure_id, subject_id, recipient, purpose, fields, legal_reference, at, key_id FROM disclosures "
		"WHERE tenant_id = ?1 AND subject_id = ?2 ORDER BY at, disclosure_id",
	[S_RECORD_SET_DUE] = "UPDATE records SET due_at = ?3, trim_at = ?4 WHERE tenant_id = ?1 AND record_id = ?2",
	/* ?4, ?5: the cursor (the last due time and record id seen), so that
	 * records left in place (held) are passed over, not met again. */
	[S_RECORDS_DUE] =
		"SELECT record_id, subject_id, kind, due_at FROM records INDEXED BY records_due "
		"WHERE tenant_id = ?1 AND due_at IS NOT NULL AND due_at <= ?2 AND (due_at > ?4 OR (due_at = ?4 "
		"AND record_id > ?5)) ORDER BY due_at, record_id LIMIT ?3",
	[S_RECORDS_TRIM] =
		"SELECT record_id, subject_id, kind, trim_at FROM records INDEXED BY records_trim "
		"WHERE tenant_id = ?1 AND trim_at IS NOT NULL AND trim_at <= ?2 AND (trim_at > ?4 OR (trim_at = ?4 "
		"AND record_id > ?5)) ORDER BY trim_at, record_id LIMIT ?3",
	[S_SUBJECT_RECORD_COUNT] =
		"SELECT count(*) FROM records INDEXED BY records_by_subject WHERE tenant_id = ?1 AND subject_id = ?2",
	[S_FORECAST] =
		"SELECT strftime('%Y-%m', due_at, 'unixepoch') AS month, kind, count(*) FROM records INDEXED BY records_due "
		"WHERE tenant_id = ?1 AND due_at IS NOT NULL AND due_at < ?2 GROUP BY month, kind ORDER BY month, kind",
	[S_REQUEST_SET_EXPIRY] = "UPDATE requests SET expires_at = ?3 WHERE tenant_id = ?1 AND request_id = ?2",
	[S_REQUESTS_EXPIRE] =
		"DELETE FROM requests WHERE tenant_id = ?1 AND request_id IN (SELECT request_id FROM requests "
		"INDEXED BY requests_expiry WHERE tenant_id = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 LIMIT ?3)",
	/* A subject whose key is destroyed counts as gone: state 'erased'. */
	[S_CONSENT_BY_LOOKUP] =
		"SELECT DISTINCT l.subject_id, CASE WHEN s.wrapped_key IS NULL THEN 'erased' "
		"WHEN s.restricted THEN 'restricted' ELSE COALESCE(c.state, '') END FROM lookups l "
		"JOIN subjects s ON s.tenant_id = l.tenant_id AND s.subject_id = l.subject_id "
		"LEFT JOIN consent_state c ON c.tenant_id = l.tenant_id AND c.subject_id = l.subject_id AND c.purpose = ?3 "
		"WHERE l.tenant_id = ?1 AND l.hash = ?2 LIMIT ?4",
	[S_POLICY_VERSION_EXISTS] = "SELECT 1 FROM policies WHERE tenant_id = ?1 AND label = ?2 LIMIT 1",
	[S_RECORDS_PAGE] =
		"SELECT record_id FROM records WHERE tenant_id = ?1 AND record_id > ?2 ORDER BY record_id LIMIT ?3",
	[S_SUBJECTS_PAGE] =
		"SELECT subject_id FROM subjects WHERE tenant_id = ?1 AND subject_id > ?2 ORDER BY subject_id LIMIT ?3",
	[S_AUDIT_HEAD] = "SELECT seq, hash FROM audit WHERE tenant_id = ?1 ORDER BY seq DESC LIMIT 1",
	[S_AUDIT_INSERT] =
		"INSERT INTO audit (tenant_id, seq, at, key_id, role, action, subject_id, record_id, purpose, "
		"outcome, detail, prev_hash, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
	/* ?3 since, ?4 until (0: unbounded), ?5 after seq, ?6 limit; ?2 subject
	 * in the second form, which walks the audit_by_subject index. */
	[S_AUDIT_LIST] =
		"SELECT seq, at, key_id, role, action, subject_id, record_id, purpose, outcome, detail, prev_hash, hash "
		"FROM audit WHERE tenant_id = ?1 AND at >= ?3 AND (?4 = 0 OR at <= ?4) AND seq > ?5 "
		"ORDER BY seq LIMIT ?6",
	[S_AUDIT_LIST_SUBJECT] =
		"SELECT seq, at, key_id, role, action, subject_id, record_id, purpose, outcome, detail, prev_hash, hash "
		"FROM audit WHERE tenant_id = ?1 AND subject_id = ?2 AND at >= ?3 AND (?4 = 0 OR at <= ?4) "
		"AND seq > ?5 ORDER BY seq LIMIT ?6",
};

/* Shared by the connections of one pool: SQLite has one writer at a time,
 * and threads of one process queue here for it rather than sleep in the
 * busy handler (which waits in steps of up to 100 ms). Other processes
 * still meet the busy timeout. */
struct store_shared {
	pthread_mutex_t writer;
};

struct sqlite_store {
	struct store base;
	struct store_shared *shared;
	sqlite3 *db;
	sqlite3_stmt *stmts[S__COUNT];
	int depth;    /* open transaction levels */
	bool durable; /* the open transaction commits with synchronous=FULL */
	bool reading; /* the outermost transaction is a read snapshot (no writer slot) */
};

static struct sqlite_store *sq(struct store *s)
{
	return (struct sqlite_store *)s;
}

static enum rc map_rc(struct sqlite_store *q, int src, const char *what)
{
	switch (src) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return RC_OK;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return RC_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return RC_NOT_FOUND;
	case SQLITE_CONSTRAINT_NOTNULL:
		return RC_INVALID;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_warn("sqlite busy op=%s", what);
		return RC_UNAVAILABLE;
	default:
		log_error("sqlite error op=%s code=%d msg=%s", what, src, sqlite3_errmsg(q->db));
		return RC_DB;
	}
}

/* The kept statement, reset and with bindings cleared. */
static enum rc stmt(struct sqlite_store *q, enum stmt_id id, sqlite3_stmt **out)
{
	if (!q->stmts[id]) {
		int src = sqlite3_prepare_v3(q->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT,
		                             &q->stmts[id], NULL);
		if (src != SQLITE_OK)
			return map_rc(q, src, "prepare");
	}
	*out = q->stmts[id];
	return RC_OK;
}

static void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a statement that returns no rows. */
static enum rc run(struct sqlite_store *q, sqlite3_stmt *st, const char *what)
{
	int src = sqlite3_step(st);
	enum rc rc = src == SQLITE_DONE ? RC_OK : map_rc(q, sqlite3_extended_errcode(q->db), what);
	done(st);
	return rc;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	if (p)
		sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t ? (const char *)t : "");
}

#define SUB "sub_"
#define REC "rec_"

/* Ids are stored as their 16 bytes, not their 30 characters: every index
 * that holds one is smaller for it. Text that is not an id binds as NULL,
 * which matches no row and violates NOT NULL on insert. */
static void bind_id(sqlite3_stmt *st, int i, const char *prefix, const char *id)
{
	unsigned char b[TOKEN_ID_BYTES];
	if (token_id_decode(prefix, id, b))
		sqlite3_bind_blob(st, i, b, sizeof b, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static void col_id(sqlite3_stmt *st, int i, const char *prefix, char out[TOKEN_ID_MAX])
{
	const void *b = sqlite3_column_blob(st, i);
	if (b && sqlite3_column_bytes(st, i) == TOKEN_ID_BYTES)
		token_id_encode(prefix, b, out);
	else
		out[0] = '\0';
}

static unsigned char *col_blob(sqlite3_stmt *st, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(st, i);
	*n = (size_t)sqlite3_column_bytes(st, i);
	return p ? xmemdup(p, *n) : NULL;
}

/* ---- open, close, migrations ---- */

static enum rc exec(struct sqlite_store *q, const char *sql, const char *what)
{
	char *msg = NULL;
	int src = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
	if (src != SQLITE_OK)
		log_error("sqlite exec op=%s msg=%s", what, msg ? msg : "?");
	sqlite3_free(msg);
	return src == SQLITE_OK ? RC_OK : map_rc(q, src, what);
}

static enum rc migrate(struct sqlite_store *q, struct errbuf *eb)
{
	enum rc rc = exec(q, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
	                  "migrate");
	if (rc)
		return err_set(eb, rc, "cannot create the migrations table");
	for (size_t i = 0; i < sizeof sqlite_migrations / sizeof sqlite_migrations[0]; i++) {
		const struct migration *m = &sqlite_migrations[i];
		sqlite3_stmt *st = NULL;
		rc = exec(q, "BEGIN IMMEDIATE", "migrate");
		if (rc)
			return err_set(eb, rc, "cannot lock the database to migrate it");
		int have = 0;
		if (sqlite3_prepare_v2(q->db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int(st, 1, m->number);
			have = sqlite3_step(st) == SQLITE_ROW;
		}
		sqlite3_finalize(st);
		if (!have) {
			rc = exec(q, m->sql, m->name);
			if (!rc && sqlite3_prepare_v2(q->db, "INSERT INTO schema_migrations VALUES (?1, ?2, strftime('%s','now'))",
			                              -1, &st, NULL) == SQLITE_OK) {
				sqlite3_bind_int(st, 1, m->number);
				sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
				if (sqlite3_step(st) != SQLITE_DONE)
					rc = RC_DB;
				sqlite3_finalize(st);
			}
		}
		if (rc) {
			(void)exec(q, "ROLLBACK", "migrate");
			return err_set(eb, rc, "migration %s failed", m->name);
		}
		rc = exec(q, "COMMIT", "migrate");
		if (rc)
			return err_set(eb, rc, "migration %s failed to commit", m->name);
	}
	return RC_OK;
}

static enum rc sqlite_library_init(void)
{
	/* SQLite's memory statistics take a process-wide mutex on every
	 * allocation: with one connection per thread they only add contention. */
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0) != SQLITE_OK)
		return RC_INTERNAL;
	return sqlite3_initialize() == SQLITE_OK ? RC_OK : RC_INTERNAL;
}

static struct store_shared *sqlite_shared_new(const char *location)
{
	struct store_shared *sh = xcalloc(1, sizeof *sh);
	(void)location;
	pthread_mutex_init(&sh->writer, NULL);
	return sh;
}

static void sqlite_shared_free(struct store_shared *sh)
{
	if (!sh)
		return;
	pthread_mutex_destroy(&sh->writer);
	free(sh);
}

static void sqlite_close(struct store *s)
{
	struct sqlite_store *q = sq(s);
	/* Keeps the planner's statistics current; cheap when nothing changed. */
	(void)exec(q, "PRAGMA optimize", "optimize");
	for (int i = 0; i < S__COUNT; i++)
		sqlite3_finalize(q->stmts[i]);
	sqlite3_close(q->db);
	free(q);
}

static enum rc sqlite_open(const char *path, struct store_shared *shared, struct store **out,
                           struct errbuf *eb)
{
	*out = NULL;
	if (!*path)
		return err_set(eb, RC_INVALID, "the sqlite store needs a file path");
	/* Create the file ourselves so it is private from its first byte. Only
	 * when it does not exist yet: closing any descriptor of an open database
	 * file would drop every POSIX lock this process holds on it, and with
	 * them the other connections' protection against other processes. */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	else if (errno != EEXIST)
		return err_set(eb, RC_IO, "cannot create database %s: %s", path, strerror(errno));
	struct sqlite_store *q = xcalloc(1, sizeof *q);
	q->base.ops = &store_sqlite_ops;
	q->shared = shared;
	int src = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		err_set(eb, RC_DB, "cannot open database %s: %s", path, q->db ? sqlite3_errmsg(q->db) : "?");
		sqlite_close(&q->base);
		return RC_DB;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_busy_timeout(q->db, 10000);
	/* synchronous is NORMAL between transactions; store_begin raises it to
	 * FULL for its transaction (see sqlite_begin), so only relaxed
	 * transactions of reads commit without waiting for the disk. */
	enum rc rc = exec(q, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
	                     "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768;", "pragma");
	if (rc) {
		err_set(eb, rc, "cannot configure database %s", path);
		sqlite_close(&q->base);
		return rc;
	}
	rc = migrate(q, eb);
	if (rc) {
		sqlite_close(&q->base);
		return rc;
	}
	*out = &q->base;
	return RC_OK;
}

/* ---- transactions ---- */

static enum rc begin(struct store *s, bool durable);

static enum rc sqlite_begin(struct store *s)
{
	return begin(s, true);
}

static enum rc set_sync(struct sqlite_store *q, bool durable)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, durable ? S_SYNC_FULL : S_SYNC_NORMAL, &st);
	if (!rc)
		rc = run(q, st, "synchronous");
	if (!rc)
		q->durable = durable;
	return rc;
}

/* The outermost begin takes the writer queue and decides durability; an
 * inner begin is a savepoint of the transaction already open. */
static enum rc begin(struct store *s, bool durable)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = RC_OK;
	if (q->reading)
		return RC_INTERNAL; /* a write inside a read snapshot could not commit */
	if (!q->depth) {
		pthread_mutex_lock(&q->shared->writer);
		if (durable)
			rc = set_sync(q, true);
	}
	if (!rc)
		rc = stmt(q, q->depth ? S_SAVEPOINT : S_BEGIN, &st);
	if (!rc)
		rc = run(q, st, "begin");
	if (!rc) {
		q->depth++;
	} else if (!q->depth) {
		if (q->durable)
			(void)set_sync(q, false);
		pthread_mutex_unlock(&q->shared->writer);
	}
	return rc;
}

static enum rc sqlite_begin_relaxed(struct store *s)
{
	return begin(s, false);
}

/* BEGIN DEFERRED takes no lock and no writer slot: the snapshot starts with
 * the first read and lasts until commit or rollback. */
static enum rc sqlite_begin_read(struct store *s)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, q->depth ? S_SAVEPOINT : S_BEGIN_READ, &st);
	if (!rc)
		rc = run(q, st, "begin_read");
	if (!rc) {
		q->reading = q->reading || !q->depth;
		q->depth++;
	}
	return rc;
}

static enum rc sqlite_sync(struct store *s)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_CHECKPOINT, &st);
	if (rc)
		return rc;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		;
	done(st);
	return src == SQLITE_DONE ? RC_OK : map_rc(q, src, "sync");
}

/* After the outermost transaction ends the next writer may go. */
static void end_outermost(struct sqlite_store *q)
{
	if (q->depth)
		return;
	if (q->reading) {
		q->reading = false;
		return;
	}
	if (q->durable)
		(void)set_sync(q, false);
	pthread_mutex_unlock(&q->shared->writer);
}

static enum rc sqlite_commit(struct store *s)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	if (!q->depth)
		return RC_INTERNAL;
	enum rc rc = stmt(q, q->depth > 1 ? S_RELEASE : S_COMMIT, &st);
	if (!rc)
		rc = run(q, st, "commit");
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	q->depth--;
	end_outermost(q);
	return RC_OK;
}

static void sqlite_rollback(struct store *s)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	if (!q->depth)
		return;
	if (q->depth > 1) {
		/* ROLLBACK TO keeps the savepoint open; RELEASE closes it. */
		if (!stmt(q, S_ROLLBACK_TO, &st))
			(void)run(q, st, "rollback");
		if (!stmt(q, S_RELEASE, &st))
			(void)run(q, st, "rollback");
	} else if (sqlite3_get_autocommit(q->db) == 0 && !stmt(q, S_ROLLBACK, &st)) {
		(void)run(q, st, "rollback");
	}
	q->depth--;
	end_outermost(q);
}

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v);

/* ---- reading rows ---- */

typedef void row_reader(sqlite3_stmt *st, void *out);

/* Steps a bound statement that returns at most one row: RC_NOT_FOUND if none. */
static enum rc fetch_one(struct sqlite_store *q, sqlite3_stmt *st, row_reader *read, void *out,
                         const char *what)
{
	int src = sqlite3_step(st);
	enum rc rc = RC_OK;
	if (src == SQLITE_ROW)
		read(st, out);
	else
		rc = src == SQLITE_DONE ? RC_NOT_FOUND : map_rc(q, src, what);
	done(st);
	return rc;
}

/* Steps a bound statement, appending each row (elem bytes, zeroed before
 * `read` fills it) to the array *v of *n elements. */
static enum rc fetch_all(struct sqlite_store *q, sqlite3_stmt *st, row_reader *read, size_t elem,
                         void **v, size_t *n, const char *what)
{
	size_t alloc = *n;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 4;
			*v = xrealloc(*v, alloc * elem);
		}
		void *row = (char *)*v + *n * elem;
		memset(row, 0, elem);
		read(st, row);
		(*n)++;
	}
	enum rc rc = src == SQLITE_DONE ? RC_OK : map_rc(q, src, what);
	done(st);
	return rc;
}

/* ---- tenants and policies ---- */

static enum rc sqlite_tenant_insert(struct store *s, const char *name, int64_t at, int64_t *id)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_TENANT_INSERT, &st);
	if (rc)
		return rc;
	bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, at);
	rc = run(q, st, "tenant_insert");
	if (!rc)
		*id = sqlite3_last_insert_rowid(q->db);
	return rc;
}

static void read_tenant(sqlite3_stmt *st, void *out)
{
	struct store_tenant *t = out;
	t->id = sqlite3_column_int64(st, 0);
	t->name = col_text(st, 1);
	t->created_at = sqlite3_column_int64(st, 2);
}

static enum rc sqlite_tenant_find(struct store *s, const char *name, struct store_tenant *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_TENANT_FIND, &st);
	if (rc)
		return rc;
	bind_text(st, 1, name);
	return fetch_one(q, st, read_tenant, out, "tenant_find");
}

static enum rc sqlite_tenant_list(struct store *s, struct store_tenant **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_TENANT_LIST, &st);
	return rc ? rc : fetch_all(q, st, read_tenant, sizeof **out, (void **)out, n, "tenant_list");
}

static enum rc sqlite_policy_insert(struct store *s, int64_t tenant, const char *version,
                                    const char *source, int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_POLICY_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_text(st, 2, version);
	bind_text(st, 3, source);
	sqlite3_bind_int64(st, 4, at);
	return run(q, st, "policy_insert");
}

struct policy_row {
	char *version, *source;
};

static void read_policy(sqlite3_stmt *st, void *out)
{
	struct policy_row *p = out;
	p->version = col_text(st, 0);
	p->source = col_text(st, 1);
}

static enum rc sqlite_policy_current(struct store *s, int64_t tenant, char **version, char **source)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	struct policy_row p = {NULL, NULL};
	enum rc rc = stmt(q, S_POLICY_CURRENT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	rc = fetch_one(q, st, read_policy, &p, "policy_current");
	*version = p.version;
	*source = p.source;
	return rc;
}

/* ---- subjects ---- */

static enum rc sqlite_subject_insert(struct store *s, int64_t tenant, const struct store_subject *x)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_SUBJECT_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, x->id);
	bind_blob(st, 3, x->wrapped_key, x->wrapped_len);
	sqlite3_bind_int64(st, 4, x->created_at);
	return run(q, st, "subject_insert");
}

static void read_subject(sqlite3_stmt *st, void *out)
{
	struct store_subject *x = out;
	x->wrapped_key = col_blob(st, 0, &x->wrapped_len);
	x->created_at = sqlite3_column_int64(st, 1);
	x->restricted = sqlite3_column_int(st, 2) != 0;
}

static enum rc sqlite_subject_get(struct store *s, int64_t tenant, const char *id, struct store_subject *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = stmt(q, S_SUBJECT_GET, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, id);
	rc = fetch_one(q, st, read_subject, out, "subject_get");
	if (!rc)
		snprintf(out->id, sizeof out->id, "%s", id);
	return rc;
}

/* Removes the lookup rows listed in a record's lookups blob. */
static enum rc drop_lookups(struct sqlite_store *q, int64_t tenant, const char *record_id,
                            const unsigned char *hashes, size_t n)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_LOOKUP_DELETE, &st);
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_bind_int64(st, 1, tenant);
		bind_blob(st, 2, hashes + i * VAULT_HASH_LEN, VAULT_HASH_LEN);
		bind_id(st, 3, REC, record_id);
		rc = run(q, st, "lookup_delete");
	}
	return rc;
}

static enum rc add_lookups(struct sqlite_store *q, int64_t tenant, const struct store_record *r)
{
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < r->nlookups;) {
		size_t k = r->nlookups - i < 4 ? r->nlookups - i : 4;
		sqlite3_stmt *st = NULL;
		rc = stmt(q, (enum stmt_id)(S_LOOKUP_INSERT1 + k - 1), &st);
		if (rc)
			break;
		sqlite3_bind_int64(st, 1, tenant);
		bind_id(st, 2, REC, r->id);
		bind_id(st, 3, SUB, r->subject_id);
		for (size_t j = 0; j < k; j++, i++)
			bind_blob(st, 4 + (int)j, r->lookups + i * VAULT_HASH_LEN, VAULT_HASH_LEN);
		rc = run(q, st, "lookup_insert");
	}
	return rc;
}

/* Runs a statement whose parameters are (tenant, id). */
static enum rc run_tenant_id(struct sqlite_store *q, enum stmt_id sid, int64_t tenant,
                             const char *prefix, const char *id, const char *what)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, sid, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, prefix, id);
	return run(q, st, what);
}

static void read_record_lookups(sqlite3_stmt *st, void *out)
{
	struct store_record *r = out;
	size_t len;
	col_id(st, 0, REC, r->id);
	r->lookups = col_blob(st, 1, &len);
	r->nlookups = len / VAULT_HASH_LEN;
}

static enum rc sqlite_subject_delete(struct store *s, int64_t tenant, const char *id)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	struct store_record *recs = NULL;
	size_t nrecs = 0;
	enum rc rc = s->ops->begin(s);
	if (rc)
		return rc;
	/* The key goes first: from here on nothing of the subject can be read. */
	rc = run_tenant_id(q, S_SUBJECT_SHRED, tenant, SUB, id, "subject_shred");
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = RC_NOT_FOUND;
	/* Each record's lookup rows, found through the hashes the record lists. */
	if (!rc)
		rc = stmt(q, S_RECORD_LOOKUPS, &st);
	if (!rc) {
		sqlite3_bind_int64(st, 1, tenant);
		bind_id(st, 2, SUB, id);
		rc = fetch_all(q, st, read_record_lookups, sizeof *recs, (void **)&recs, &nrecs, "subject_delete");
	}
	for (size_t i = 0; !rc && i < nrecs; i++)
		rc = drop_lookups(q, tenant, recs[i].id, recs[i].lookups, recs[i].nlookups);
	store_records_free(recs, nrecs);
	/* Records and their events go with the subject (ON DELETE CASCADE). */
	if (!rc)
		rc = run_tenant_id(q, S_SUBJECT_DELETE, tenant, SUB, id, "subject_delete");
	if (rc) {
		s->ops->rollback(s);
		return rc;
	}
	return s->ops->commit(s);
}

/* ---- records ---- */

static enum rc sqlite_record_insert(struct store *s, int64_t tenant, const struct store_record *r)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_RECORD_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REC, r->id);
	bind_id(st, 3, SUB, r->subject_id);
	bind_text(st, 4, r->kind);
	bind_text(st, 5, r->state ? r->state : "active");
	sqlite3_bind_int64(st, 6, r->created_at);
	sqlite3_bind_int64(st, 7, r->updated_at);
	bind_blob(st, 8, r->data, r->data_len);
	bind_blob(st, 9, r->lookups, r->nlookups * VAULT_HASH_LEN);
	bind_opt_int(st, 10, r->due_at);
	bind_opt_int(st, 11, r->trim_at);
	rc = run(q, st, "record_insert");
	if (!rc)
		rc = add_lookups(q, tenant, r);
	for (size_t i = 0; !rc && i < r->nevents; i++)
		rc = s->ops->event_set(s, tenant, r->id, r->events[i].name, r->events[i].at);
	return rc;
}

static void read_event(sqlite3_stmt *st, void *out)
{
	struct store_event *e = out;
	e->name = col_text(st, 0);
	e->at = sqlite3_column_int64(st, 1);
}

static enum rc read_events(struct sqlite_store *q, int64_t tenant, struct store_record *r)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_EVENTS_FOR_RECORD, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REC, r->id);
	return fetch_all(q, st, read_event, sizeof *r->events, (void **)&r->events, &r->nevents, "events");
}

static void read_record(sqlite3_stmt *st, void *out)
{
	struct store_record *r = out;
	size_t len;
	col_id(st, 0, REC, r->id);
	col_id(st, 1, SUB, r->subject_id);
	r->kind = col_text(st, 2);
	r->state = col_text(st, 3);
	r->created_at = sqlite3_column_int64(st, 4);
	r->updated_at = sqlite3_column_int64(st, 5);
	r->data = col_blob(st, 6, &r->data_len);
	r->lookups = col_blob(st, 7, &len);
	r->nlookups = len / VAULT_HASH_LEN;
	r->due_at = sqlite3_column_int64(st, 8);
	r->trim_at = sqlite3_column_int64(st, 9);
}

static enum rc sqlite_record_get(struct store *s, int64_t tenant, const char *id, struct store_record *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = stmt(q, S_RECORD_GET, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REC, id);
	rc = fetch_one(q, st, read_record, out, "record_get");
	if (!rc)
		rc = read_events(q, tenant, out);
	if (rc)
		store_record_fini(out);
	return rc;
}

static enum rc sqlite_record_update(struct store *s, int64_t tenant, const struct store_record *r)
{
	struct sqlite_store *q = sq(s);
	struct store_record old;
	enum rc rc = sqlite_record_get(s, tenant, r->id, &old);
	if (rc)
		return rc;
	rc = drop_lookups(q, tenant, r->id, old.lookups, old.nlookups);
	store_record_fini(&old);
	sqlite3_stmt *st = NULL;
	if (!rc)
		rc = stmt(q, S_RECORD_UPDATE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REC, r->id);
	bind_text(st, 3, r->state ? r->state : "active");
	sqlite3_bind_int64(st, 4, r->updated_at);
	bind_blob(st, 5, r->data, r->data_len);
	bind_blob(st, 6, r->lookups, r->nlookups * VAULT_HASH_LEN);
	bind_opt_int(st, 7, r->due_at);
	bind_opt_int(st, 8, r->trim_at);
	rc = run(q, st, "record_update");
	return rc ? rc : add_lookups(q, tenant, r);
}

static enum rc sqlite_record_delete(struct store *s, int64_t tenant, const char *id)
{
	struct sqlite_store *q = sq(s);
	struct store_record old = {0};
	sqlite3_stmt *st = NULL;
	/* Only the lookup hashes are needed: not the data, not the events. */
	enum rc rc = stmt(q, S_RECORD_LOOKUPS_ONE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REC, id);
	rc = fetch_one(q, st, read_record_lookups, &old, "record_delete");
	if (rc)
		return rc;
	rc = drop_lookups(q, tenant, id, old.lookups, old.nlookups);
	store_record_fini(&old);
	return rc ? rc : run_tenant_id(q, S_RECORD_DELETE, tenant, REC, id, "record_delete");
}

static int record_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_record *)a)->id, ((const struct store_record *)b)->id);
}

static enum rc sqlite_records_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                          struct store_record **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_RECORDS_FOR_SUBJECT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, subject_id);
	rc = fetch_all(q, st, read_record, sizeof **out, (void **)out, n, "records_for_subject");
	if (!rc)
		qsort(*out, *n, sizeof **out, record_id_cmp);
	for (size_t i = 0; !rc && i < *n; i++)
		rc = read_events(q, tenant, &(*out)[i]);
	if (rc) {
		store_records_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

static enum rc sqlite_event_set(struct store *s, int64_t tenant, const char *record_id,
                                const char *name, int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_EVENT_SET, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REC, record_id);
	bind_text(st, 3, name);
	sqlite3_bind_int64(st, 4, at);
	return run(q, st, "event_set");
}

static enum rc sqlite_lookup_find(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
                                  char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_LOOKUP_FIND, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max); /* LIMIT: never more than ids holds */
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		col_id(st, 0, SUB, ids[(*n)++]);
	rc = src == SQLITE_DONE ? RC_OK : map_rc(q, src, "lookup_find");
	done(st);
	return rc;
}

/* ---- API keys ---- */

static enum rc sqlite_apikey_insert(struct store *s, const struct store_apikey *k)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_APIKEY_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, k->tenant_id);
	bind_text(st, 2, k->key_id);
	bind_text(st, 3, k->role);
	bind_blob(st, 4, k->hash, TOKEN_HASH_LEN);
	sqlite3_bind_int64(st, 5, k->created_at);
	return run(q, st, "apikey_insert");
}

static void read_apikey(sqlite3_stmt *st, void *out)
{
	struct store_apikey *k = out;
	k->tenant_id = sqlite3_column_int64(st, 0);
	const unsigned char *id = sqlite3_column_text(st, 1);
	snprintf(k->key_id, sizeof k->key_id, "%s", id ? (const char *)id : "");
	k->role = col_text(st, 2);
	if (sqlite3_column_bytes(st, 3) == TOKEN_HASH_LEN)
		memcpy(k->hash, sqlite3_column_blob(st, 3), TOKEN_HASH_LEN);
	k->created_at = sqlite3_column_int64(st, 4);
	k->revoked_at = sqlite3_column_int64(st, 5);
}

static enum rc sqlite_apikey_get(struct store *s, const char *key_id, struct store_apikey *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = stmt(q, S_APIKEY_GET, &st);
	if (rc)
		return rc;
	bind_text(st, 1, key_id);
	return fetch_one(q, st, read_apikey, out, "apikey_get");
}

static enum rc sqlite_apikey_list(struct store *s, int64_t tenant, struct store_apikey **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_APIKEY_LIST, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	return fetch_all(q, st, read_apikey, sizeof **out, (void **)out, n, "apikey_list");
}

static enum rc sqlite_apikey_revoke(struct store *s, int64_t tenant, const char *key_id, int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_APIKEY_REVOKE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_text(st, 2, key_id);
	sqlite3_bind_int64(st, 3, at);
	rc = run(q, st, "apikey_revoke");
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = RC_NOT_FOUND;
	return rc;
}

static void read_count(sqlite3_stmt *st, void *out)
{
	*(int64_t *)out = sqlite3_column_int64(st, 0);
}

static enum rc count(struct sqlite_store *q, enum stmt_id id, int64_t tenant, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, id, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	return fetch_one(q, st, read_count, out, "count");
}

static enum rc sqlite_counts(struct store *s, int64_t tenant, struct store_counts *out)
{
	enum rc rc = count(sq(s), S_COUNT_SUBJECTS, tenant, &out->subjects);
	return rc ? rc : count(sq(s), S_COUNT_RECORDS, tenant, &out->records);
}

/* ---- audit ---- */

static void read_head(sqlite3_stmt *st, void *out)
{
	struct store_audit *e = out;
	e->seq = sqlite3_column_int64(st, 0);
	if (sqlite3_column_bytes(st, 1) == STORE_AUDIT_HASH_LEN)
		memcpy(e->hash, sqlite3_column_blob(st, 1), STORE_AUDIT_HASH_LEN);
}

static enum rc sqlite_audit_head(struct store *s, int64_t tenant, int64_t *seq,
                                 unsigned char hash[STORE_AUDIT_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	struct store_audit head = {0};
	enum rc rc = stmt(q, S_AUDIT_HEAD, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	rc = fetch_one(q, st, read_head, &head, "audit_head");
	if (rc == RC_NOT_FOUND)
		rc = RC_OK; /* an empty log starts from seq 0 and a zero hash */
	*seq = head.seq;
	memcpy(hash, head.hash, STORE_AUDIT_HASH_LEN);
	return rc;
}

static void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		bind_text(st, i, s);
	else
		sqlite3_bind_null(st, i);
}

static enum rc sqlite_audit_insert(struct store *s, int64_t tenant, const struct store_audit *e)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_AUDIT_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, e->seq);
	sqlite3_bind_int64(st, 3, e->at);
	bind_text(st, 4, e->key_id);
	bind_text(st, 5, e->role);
	bind_text(st, 6, e->action);
	bind_opt_text(st, 7, e->subject_id);
	bind_opt_text(st, 8, e->record_id);
	bind_opt_text(st, 9, e->purpose);
	bind_text(st, 10, e->outcome);
	bind_opt_text(st, 11, e->detail);
	bind_blob(st, 12, e->prev_hash, STORE_AUDIT_HASH_LEN);
	bind_blob(st, 13, e->hash, STORE_AUDIT_HASH_LEN);
	return run(q, st, "audit_insert");
}

static char *col_opt_text(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : col_text(st, i);
}

static void read_audit(sqlite3_stmt *st, void *out)
{
	struct store_audit *e = out;
	e->seq = sqlite3_column_int64(st, 0);
	e->at = sqlite3_column_int64(st, 1);
	e->key_id = col_text(st, 2);
	e->role = col_text(st, 3);
	e->action = col_text(st, 4);
	e->subject_id = col_opt_text(st, 5);
	e->record_id = col_opt_text(st, 6);
	e->purpose = col_opt_text(st, 7);
	e->outcome = col_text(st, 8);
	e->detail = col_opt_text(st, 9);
	if (sqlite3_column_bytes(st, 10) == STORE_AUDIT_HASH_LEN)
		memcpy(e->prev_hash, sqlite3_column_blob(st, 10), STORE_AUDIT_HASH_LEN);
	if (sqlite3_column_bytes(st, 11) == STORE_AUDIT_HASH_LEN)
		memcpy(e->hash, sqlite3_column_blob(st, 11), STORE_AUDIT_HASH_LEN);
}

static enum rc sqlite_audit_list(struct store *s, int64_t tenant, const struct store_audit_filter *f,
                                 struct store_audit **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, f->subject_id ? S_AUDIT_LIST_SUBJECT : S_AUDIT_LIST, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	if (f->subject_id)
		bind_text(st, 2, f->subject_id);
	sqlite3_bind_int64(st, 3, f->since);
	sqlite3_bind_int64(st, 4, f->until);
	sqlite3_bind_int64(st, 5, f->after_seq);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)f->limit);
	return fetch_all(q, st, read_audit, sizeof **out, (void **)out, n, "audit_list");
}

/* ---- consents ---- */

static enum rc sqlite_consent_event_insert(struct store *s, int64_t tenant, const struct store_consent_event *e,
                                           int64_t *event_id)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_CONSENT_EVENT_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, e->subject_id);
	bind_text(st, 3, e->purpose);
	bind_text(st, 4, e->action);
	sqlite3_bind_int64(st, 5, e->at);
	bind_opt_text(st, 6, e->source);
	bind_opt_text(st, 7, e->channel);
	bind_text(st, 8, e->policy_version);
	bind_opt_text(st, 9, e->wording);
	bind_blob(st, 10, e->evidence, e->evidence_len);
	bind_text(st, 11, e->actor);
	rc = fetch_one(q, st, read_count, event_id, "consent_event_insert");
	return rc == RC_NOT_FOUND ? RC_DB : rc; /* RETURNING always gives a row */
}

static void read_consent_event(sqlite3_stmt *st, void *out)
{
	struct store_consent_event *e = out;
	e->event_id = sqlite3_column_int64(st, 0);
	col_id(st, 1, SUB, e->subject_id);
	e->purpose = col_text(st, 2);
	e->action = col_text(st, 3);
	e->at = sqlite3_column_int64(st, 4);
	e->source = col_opt_text(st, 5);
	e->channel = col_opt_text(st, 6);
	e->policy_version = col_text(st, 7);
	e->wording = col_opt_text(st, 8);
	e->evidence = col_blob(st, 9, &e->evidence_len);
	e->actor = col_text(st, 10);
}

static enum rc sqlite_consent_events_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                                 struct store_consent_event **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_CONSENT_EVENTS, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, subject_id);
	return fetch_all(q, st, read_consent_event, sizeof **out, (void **)out, n, "consent_events");
}

static enum rc sqlite_consent_state_set(struct store *s, int64_t tenant, const char *subject_id,
                                        const char *purpose, const char *state, int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_CONSENT_STATE_SET, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, subject_id);
	bind_text(st, 3, purpose);
	bind_text(st, 4, state);
	sqlite3_bind_int64(st, 5, at);
	return run(q, st, "consent_state_set");
}

static void read_state_text(sqlite3_stmt *st, void *out)
{
	const unsigned char *t = sqlite3_column_text(st, 0);
	snprintf(out, 16, "%s", t ? (const char *)t : "");
}

static enum rc sqlite_consent_state_get(struct store *s, int64_t tenant, const char *subject_id,
                                        const char *purpose, char state[16])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_CONSENT_STATE_GET, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, subject_id);
	bind_text(st, 3, purpose);
	return fetch_one(q, st, read_state_text, state, "consent_state_get");
}

static void read_consent_state(sqlite3_stmt *st, void *out)
{
	struct store_consent_state *c = out;
	col_id(st, 0, SUB, c->subject_id);
	c->purpose = col_text(st, 1);
	const unsigned char *t = sqlite3_column_text(st, 2);
	snprintf(c->state, sizeof c->state, "%s", t ? (const char *)t : "");
	c->updated_at = sqlite3_column_int64(st, 3);
}

static enum rc sqlite_consent_states_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                                 struct store_consent_state **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_CONSENT_STATES, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, subject_id);
	return fetch_all(q, st, read_consent_state, sizeof **out, (void **)out, n, "consent_states");
}

static enum rc sqlite_consent_audience(struct store *s, int64_t tenant, const char *purpose, const char *state,
                                       const char *after, char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	static const unsigned char zero[TOKEN_ID_BYTES];
	*n = 0;
	enum rc rc = stmt(q, S_CONSENT_AUDIENCE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_text(st, 2, purpose);
	bind_text(st, 3, state);
	if (after && *after)
		bind_id(st, 4, SUB, after);
	else
		sqlite3_bind_blob(st, 4, zero, 0, SQLITE_STATIC); /* an empty blob sorts before every id */
	sqlite3_bind_int64(st, 5, (sqlite3_int64)max);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		col_id(st, 0, SUB, ids[(*n)++]);
	rc = src == SQLITE_DONE ? RC_OK : map_rc(q, src, "consent_audience");
	done(st);
	return rc;
}

static enum rc sqlite_token_use(struct store *s, int64_t tenant, const unsigned char hash[32], int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_TOKEN_USE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_blob(st, 2, hash, 32);
	sqlite3_bind_int64(st, 3, at);
	return run(q, st, "token_use");
}

/* ---- outbox ---- */

static enum rc sqlite_outbox_insert(struct store *s, int64_t tenant, const struct store_message *m)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_OUTBOX_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, m->subject_id);
	bind_text(st, 3, m->kind);
	sqlite3_bind_int64(st, 4, m->created_at);
	sqlite3_bind_int64(st, 5, m->next_at);
	bind_blob(st, 6, m->sealed, m->sealed_len);
	return run(q, st, "outbox_insert");
}

static void read_message(sqlite3_stmt *st, void *out)
{
	struct store_message *m = out;
	m->tenant_id = sqlite3_column_int64(st, 0);
	m->message_id = sqlite3_column_int64(st, 1);
	col_id(st, 2, SUB, m->subject_id);
	m->kind = col_text(st, 3);
	m->created_at = sqlite3_column_int64(st, 4);
	m->next_at = sqlite3_column_int64(st, 5);
	m->attempts = sqlite3_column_int(st, 6);
	m->sealed = col_blob(st, 7, &m->sealed_len);
}

static enum rc sqlite_outbox_due(struct store *s, int64_t now, size_t max, struct store_message **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_OUTBOX_DUE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	return fetch_all(q, st, read_message, sizeof **out, (void **)out, n, "outbox_due");
}

static enum rc sqlite_outbox_sent(struct store *s, int64_t tenant, int64_t message_id, int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_OUTBOX_SENT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, message_id);
	sqlite3_bind_int64(st, 3, at);
	return run(q, st, "outbox_sent");
}

static enum rc sqlite_outbox_retry(struct store *s, int64_t tenant, int64_t message_id, int attempts, int64_t next_at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_OUTBOX_RETRY, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, message_id);
	sqlite3_bind_int(st, 3, attempts);
	sqlite3_bind_int64(st, 4, next_at);
	return run(q, st, "outbox_retry");
}

static enum rc sqlite_outbox_pending(struct store *s, int64_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_OUTBOX_PENDING, &st);
	return rc ? rc : fetch_one(q, st, read_count, n, "outbox_pending");
}

/* ---- requests ---- */

#define REQ "req_"

static void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static enum rc sqlite_request_insert(struct store *s, int64_t tenant, const struct store_request *r)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_REQUEST_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REQ, r->id);
	bind_id(st, 3, SUB, r->subject_id);
	bind_text(st, 4, r->type);
	bind_text(st, 5, r->status);
	bind_opt_text(st, 6, r->channel);
	sqlite3_bind_int64(st, 7, r->received_at);
	sqlite3_bind_int64(st, 8, r->due_at);
	bind_opt_int(st, 9, r->target_at);
	bind_opt_text(st, 10, r->verified_by);
	bind_blob(st, 11, r->details, r->details_len);
	return run(q, st, "request_insert");
}

static void read_request(sqlite3_stmt *st, void *out)
{
	struct store_request *r = out;
	col_id(st, 0, REQ, r->id);
	col_id(st, 1, SUB, r->subject_id);
	r->type = col_text(st, 2);
	r->status = col_text(st, 3);
	r->channel = col_opt_text(st, 4);
	r->received_at = sqlite3_column_int64(st, 5);
	r->due_at = sqlite3_column_int64(st, 6);
	r->target_at = sqlite3_column_int64(st, 7);
	r->extended_at = sqlite3_column_int64(st, 8);
	r->extension_reason = col_opt_text(st, 9);
	r->answered_at = sqlite3_column_int64(st, 10);
	r->outcome = col_opt_text(st, 11);
	r->refusal_reason = col_opt_text(st, 12);
	r->verified_by = col_opt_text(st, 13);
	r->details = col_blob(st, 14, &r->details_len);
}

static enum rc sqlite_request_get(struct store *s, int64_t tenant, const char *id, struct store_request *out)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = stmt(q, S_REQUEST_GET, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REQ, id);
	return fetch_one(q, st, read_request, out, "request_get");
}

static enum rc sqlite_request_update(struct store *s, int64_t tenant, const struct store_request *r)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_REQUEST_UPDATE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REQ, r->id);
	bind_text(st, 3, r->status);
	sqlite3_bind_int64(st, 4, r->due_at);
	bind_opt_int(st, 5, r->extended_at);
	bind_opt_text(st, 6, r->extension_reason);
	bind_opt_int(st, 7, r->answered_at);
	bind_opt_text(st, 8, r->outcome);
	bind_opt_text(st, 9, r->refusal_reason);
	bind_opt_text(st, 10, r->verified_by);
	bind_blob(st, 11, r->details, r->details_len);
	rc = run(q, st, "request_update");
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

static enum rc sqlite_requests_list(struct store *s, int64_t tenant, const struct store_request_filter *f,
                                    struct store_request **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	static const unsigned char zero[1];
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_REQUESTS_LIST, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_opt_text(st, 2, f->status);
	sqlite3_bind_int64(st, 3, f->due_before);
	sqlite3_bind_int(st, 4, f->open_only);
	if (f->after && *f->after)
		bind_id(st, 5, REQ, f->after);
	else
		sqlite3_bind_blob(st, 5, zero, 0, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, (sqlite3_int64)f->limit);
	return fetch_all(q, st, read_request, sizeof **out, (void **)out, n, "requests_list");
}

struct two_counts {
	int64_t a, b;
};

static void read_two(sqlite3_stmt *st, void *out)
{
	struct two_counts *c = out;
	c->a = sqlite3_column_int64(st, 0);
	c->b = sqlite3_column_int64(st, 1);
}

static enum rc sqlite_request_counts(struct store *s, int64_t tenant, int64_t now, int64_t *open, int64_t *late)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	struct two_counts c = {0, 0};
	enum rc rc = stmt(q, S_REQUEST_COUNTS, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, now);
	rc = fetch_one(q, st, read_two, &c, "request_counts");
	*open = c.a;
	*late = c.b;
	return rc;
}

static enum rc sqlite_subject_restrict(struct store *s, int64_t tenant, const char *id, bool restricted)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_SUBJECT_RESTRICT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, id);
	sqlite3_bind_int(st, 3, restricted);
	rc = run(q, st, "subject_restrict");
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

static enum rc sqlite_subject_rekey(struct store *s, int64_t tenant, const char *id, const unsigned char *wrapped,
                                    size_t len)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_SUBJECT_REKEY, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, id);
	bind_blob(st, 3, wrapped, len);
	rc = run(q, st, "subject_rekey");
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

static enum rc sqlite_consents_delete(struct store *s, int64_t tenant, const char *subject_id)
{
	struct sqlite_store *q = sq(s);
	enum rc rc = run_tenant_id(q, S_CONSENTS_DELETE_EVENTS, tenant, SUB, subject_id, "consents_delete");
	return rc ? rc : run_tenant_id(q, S_CONSENTS_DELETE_STATE, tenant, SUB, subject_id, "consents_delete");
}

static enum rc sqlite_suppression_insert(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
                                         int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_SUPPRESSION_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	sqlite3_bind_int64(st, 3, at);
	return run(q, st, "suppression_insert");
}

static enum rc sqlite_suppression_exists(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN])
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	int64_t one;
	enum rc rc = stmt(q, S_SUPPRESSION_EXISTS, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	return fetch_one(q, st, read_count, &one, "suppression_exists");
}

/* ---- holds and disclosures ---- */

#define HLD "hld_"
#define DSC "dsc_"

static void bind_opt_id(sqlite3_stmt *st, int i, const char *prefix, const char *id)
{
	if (id && *id)
		bind_id(st, i, prefix, id);
	else
		sqlite3_bind_null(st, i);
}

static enum rc sqlite_hold_insert(struct store *s, int64_t tenant, const struct store_hold *h)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_HOLD_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, HLD, h->id);
	bind_opt_id(st, 3, SUB, h->subject_id);
	bind_opt_id(st, 4, REC, h->record_id);
	bind_text(st, 5, h->reason);
	sqlite3_bind_int(st, 6, h->forbid_disclosure);
	sqlite3_bind_int64(st, 7, h->created_at);
	bind_opt_int(st, 8, h->until);
	bind_text(st, 9, h->key_id);
	return run(q, st, "hold_insert");
}

static enum rc sqlite_hold_lift(struct store *s, int64_t tenant, const char *id, int64_t at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_HOLD_LIFT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, HLD, id);
	sqlite3_bind_int64(st, 3, at);
	rc = run(q, st, "hold_lift");
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

static void read_hold(sqlite3_stmt *st, void *out)
{
	struct store_hold *h = out;
	col_id(st, 0, HLD, h->id);
	col_id(st, 1, SUB, h->subject_id);
	col_id(st, 2, REC, h->record_id);
	h->reason = col_text(st, 3);
	h->forbid_disclosure = sqlite3_column_int(st, 4) != 0;
	h->created_at = sqlite3_column_int64(st, 5);
	h->until = sqlite3_column_int64(st, 6);
	h->lifted_at = sqlite3_column_int64(st, 7);
	h->key_id = col_text(st, 8);
}

static enum rc sqlite_holds_active(struct store *s, int64_t tenant, const char *subject_id, const char *record_id,
                                   int64_t now, struct store_hold **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_HOLDS_ACTIVE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_opt_id(st, 2, SUB, subject_id);
	bind_opt_id(st, 3, REC, record_id);
	sqlite3_bind_int64(st, 4, now);
	return fetch_all(q, st, read_hold, sizeof **out, (void **)out, n, "holds_active");
}

static enum rc sqlite_disclosure_insert(struct store *s, int64_t tenant, const struct store_disclosure *d)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_DISCLOSURE_INSERT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, DSC, d->id);
	bind_id(st, 3, SUB, d->subject_id);
	bind_text(st, 4, d->recipient);
	bind_text(st, 5, d->purpose);
	bind_text(st, 6, d->fields);
	bind_opt_text(st, 7, d->legal_reference);
	sqlite3_bind_int64(st, 8, d->at);
	bind_text(st, 9, d->key_id);
	return run(q, st, "disclosure_insert");
}

static void read_disclosure(sqlite3_stmt *st, void *out)
{
	struct store_disclosure *d = out;
	col_id(st, 0, DSC, d->id);
	col_id(st, 1, SUB, d->subject_id);
	d->recipient = col_text(st, 2);
	d->purpose = col_text(st, 3);
	d->fields = col_text(st, 4);
	d->legal_reference = col_opt_text(st, 5);
	d->at = sqlite3_column_int64(st, 6);
	d->key_id = col_text(st, 7);
}

static enum rc sqlite_disclosures_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                              struct store_disclosure **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_DISCLOSURES, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, subject_id);
	return fetch_all(q, st, read_disclosure, sizeof **out, (void **)out, n, "disclosures");
}

/* ---- retention ---- */

static enum rc sqlite_record_set_due(struct store *s, int64_t tenant, const char *record_id, int64_t due_at,
                                     int64_t trim_at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_RECORD_SET_DUE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REC, record_id);
	bind_opt_int(st, 3, due_at);
	bind_opt_int(st, 4, trim_at);
	return run(q, st, "record_set_due");
}

static enum rc sqlite_records_due(struct store *s, int64_t tenant, int64_t now, bool trim,
                                  const struct store_due *after, struct store_due *out, size_t max, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	static const unsigned char zero[1];
	*n = 0;
	enum rc rc = stmt(q, trim ? S_RECORDS_TRIM : S_RECORDS_DUE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	sqlite3_bind_int64(st, 4, after ? after->at : INT64_MIN);
	if (after)
		bind_id(st, 5, REC, after->id);
	else
		sqlite3_bind_blob(st, 5, zero, 0, SQLITE_STATIC);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct store_due *d = &out[(*n)++];
		col_id(st, 0, REC, d->id);
		col_id(st, 1, SUB, d->subject_id);
		const unsigned char *k = sqlite3_column_text(st, 2);
		snprintf(d->kind, sizeof d->kind, "%s", k ? (const char *)k : "");
		d->at = sqlite3_column_int64(st, 3);
	}
	rc = src == SQLITE_DONE || src == SQLITE_ROW ? RC_OK : map_rc(q, src, "records_due");
	done(st);
	return rc;
}

static enum rc sqlite_subject_record_count(struct store *s, int64_t tenant, const char *subject_id, int64_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_SUBJECT_RECORD_COUNT, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, SUB, subject_id);
	return fetch_one(q, st, read_count, n, "subject_record_count");
}

static void read_forecast(sqlite3_stmt *st, void *out)
{
	struct store_forecast_row *r = out;
	const unsigned char *m = sqlite3_column_text(st, 0), *k = sqlite3_column_text(st, 1);
	snprintf(r->month, sizeof r->month, "%s", m ? (const char *)m : "");
	snprintf(r->kind, sizeof r->kind, "%s", k ? (const char *)k : "");
	r->n = sqlite3_column_int64(st, 2);
}

static enum rc sqlite_retention_forecast(struct store *s, int64_t tenant, int64_t until,
                                         struct store_forecast_row **out, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_FORECAST, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, until);
	return fetch_all(q, st, read_forecast, sizeof **out, (void **)out, n, "forecast");
}

static enum rc sqlite_request_set_expiry(struct store *s, int64_t tenant, const char *id, int64_t expires_at)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_REQUEST_SET_EXPIRY, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_id(st, 2, REQ, id);
	bind_opt_int(st, 3, expires_at);
	return run(q, st, "request_set_expiry");
}

static enum rc sqlite_requests_expire(struct store *s, int64_t tenant, int64_t now, size_t max, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = stmt(q, S_REQUESTS_EXPIRE, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	rc = run(q, st, "requests_expire");
	*n = rc ? 0 : (size_t)sqlite3_changes(q->db);
	return rc;
}

static void read_lookup_state(sqlite3_stmt *st, void *out)
{
	struct store_consent_state *c = out;
	col_id(st, 0, SUB, c->subject_id);
	const unsigned char *t = sqlite3_column_text(st, 1);
	snprintf(c->state, sizeof c->state, "%s", t ? (const char *)t : "");
}

static enum rc sqlite_consent_by_lookup(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
                                        const char *purpose, struct store_consent_state *out, size_t max, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = stmt(q, S_CONSENT_BY_LOOKUP, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	bind_text(st, 3, purpose);
	sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		read_lookup_state(st, &out[(*n)++]);
	rc = src == SQLITE_DONE || src == SQLITE_ROW ? RC_OK : map_rc(q, src, "consent_by_lookup");
	done(st);
	return rc;
}

static enum rc sqlite_policy_version_exists(struct store *s, int64_t tenant, const char *version)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	int64_t one;
	enum rc rc = stmt(q, S_POLICY_VERSION_EXISTS, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	bind_text(st, 2, version);
	return fetch_one(q, st, read_count, &one, "policy_version_exists");
}

/* One page of ids in id order, after `after` ("" or NULL: from the start). */
static enum rc ids_page(struct store *s, enum stmt_id which, const char *kind, int64_t tenant, const char *after,
                        char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	static const unsigned char zero[1];
	*n = 0;
	enum rc rc = stmt(q, which, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, tenant);
	if (after && *after)
		bind_id(st, 2, kind, after);
	else
		sqlite3_bind_blob(st, 2, zero, 0, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		col_id(st, 0, kind, ids[(*n)++]);
	rc = src == SQLITE_DONE || src == SQLITE_ROW ? RC_OK : map_rc(q, src, "ids_page");
	done(st);
	return rc;
}

static enum rc sqlite_subjects_page(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
                                    size_t max, size_t *n)
{
	return ids_page(s, S_SUBJECTS_PAGE, SUB, tenant, after, ids, max, n);
}

static enum rc sqlite_records_page(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
                                   size_t max, size_t *n)
{
	return ids_page(s, S_RECORDS_PAGE, REC, tenant, after, ids, max, n);
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.library_init = sqlite_library_init,
	.shared_new = sqlite_shared_new,
	.shared_free = sqlite_shared_free,
	.open = sqlite_open,
	.close = sqlite_close,
	.begin = sqlite_begin,
	.commit = sqlite_commit,
	.rollback = sqlite_rollback,
	.tenant_insert = sqlite_tenant_insert,
	.tenant_find = sqlite_tenant_find,
	.tenant_list = sqlite_tenant_list,
	.policy_insert = sqlite_policy_insert,
	.policy_current = sqlite_policy_current,
	.subject_insert = sqlite_subject_insert,
	.subject_get = sqlite_subject_get,
	.subject_delete = sqlite_subject_delete,
	.record_insert = sqlite_record_insert,
	.record_get = sqlite_record_get,
	.record_update = sqlite_record_update,
	.record_delete = sqlite_record_delete,
	.records_for_subject = sqlite_records_for_subject,
	.event_set = sqlite_event_set,
	.lookup_find = sqlite_lookup_find,
	.apikey_insert = sqlite_apikey_insert,
	.apikey_get = sqlite_apikey_get,
	.apikey_list = sqlite_apikey_list,
	.apikey_revoke = sqlite_apikey_revoke,
	.counts = sqlite_counts,
	.begin_relaxed = sqlite_begin_relaxed,
	.begin_read = sqlite_begin_read,
	.sync = sqlite_sync,
	.audit_head = sqlite_audit_head,
	.audit_insert = sqlite_audit_insert,
	.audit_list = sqlite_audit_list,
	.consent_event_insert = sqlite_consent_event_insert,
	.consent_events_for_subject = sqlite_consent_events_for_subject,
	.consent_state_set = sqlite_consent_state_set,
	.consent_state_get = sqlite_consent_state_get,
	.consent_states_for_subject = sqlite_consent_states_for_subject,
	.consent_audience = sqlite_consent_audience,
	.token_use = sqlite_token_use,
	.outbox_insert = sqlite_outbox_insert,
	.outbox_due = sqlite_outbox_due,
	.outbox_sent = sqlite_outbox_sent,
	.outbox_retry = sqlite_outbox_retry,
	.outbox_pending = sqlite_outbox_pending,
	.policy_version_exists = sqlite_policy_version_exists,
	.subjects_page = sqlite_subjects_page,
	.consent_by_lookup = sqlite_consent_by_lookup,
	.request_insert = sqlite_request_insert,
	.request_get = sqlite_request_get,
	.request_update = sqlite_request_update,
	.requests_list = sqlite_requests_list,
	.request_counts = sqlite_request_counts,
	.subject_restrict = sqlite_subject_restrict,
	.subject_rekey = sqlite_subject_rekey,
	.consents_delete = sqlite_consents_delete,
	.suppression_insert = sqlite_suppression_insert,
	.suppression_exists = sqlite_suppression_exists,
	.hold_insert = sqlite_hold_insert,
	.hold_lift = sqlite_hold_lift,
	.holds_active = sqlite_holds_active,
	.disclosure_insert = sqlite_disclosure_insert,
	.disclosures_for_subject = sqlite_disclosures_for_subject,
	.record_set_due = sqlite_record_set_due,
	.records_due = sqlite_records_due,
	.subject_record_count = sqlite_subject_record_count,
	.retention_forecast = sqlite_retention_forecast,
	.request_set_expiry = sqlite_request_set_expiry,
	.requests_expire = sqlite_requests_expire,
	.records_page = sqlite_records_page,
};
