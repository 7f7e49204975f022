/*
 * sqlite/outbox.c: messages (e-mail, webhooks) written in the transaction
 * of the change they announce and sent afterwards by the sender, which reads
 * the due ones of every tenant. A sent message keeps its row, not its body.
 *
 * Before sending, a sender claims the message (outbox_claim): one UPDATE,
 * outside any transaction, whose WHERE holds only while the message is still
 * due, unsent and without a live claim; changes() == 1 says this sender won
 * it. Two senders on one database thus never both send one message, and a
 * claim left by a sender that died expires at claimed_until.
 */
#include "store/sqlite/internal.h"

enum rc sqlite_outbox_insert(struct store *s, int64_t tenant, const struct store_message *m)
{
	static const char sql[] =
		"INSERT INTO outbox (tenant_id, message_id, subject_id, kind, created_at, next_at, sealed, request_id, "
		"target, event) VALUES "
		"(?1, (SELECT COALESCE(MAX(message_id), 0) + 1 FROM outbox WHERE tenant_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, "
		"?8, ?9)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, m->subject_id);
	bind_text(st, 3, m->kind);
	sqlite3_bind_int64(st, 4, m->created_at);
	sqlite3_bind_int64(st, 5, m->next_at);
	bind_blob(st, 6, m->sealed, m->sealed_len);
	bind_opt_id(st, 7, TOKEN_PREFIX_REQUEST, m->request_id);
	bind_opt_text(st, 8, m->target);
	bind_opt_text(st, 9, m->event);
	return sq_run(q, st, "outbox_insert");
}

static void read_message(sqlite3_stmt *st, void *out)
{
	struct store_message *m = out;
	m->tenant_id = sqlite3_column_int64(st, 0);
	m->message_id = sqlite3_column_int64(st, 1);
	col_id(st, 2, TOKEN_PREFIX_SUBJECT, m->subject_id);
	m->kind = col_text(st, 3);
	m->created_at = sqlite3_column_int64(st, 4);
	m->next_at = sqlite3_column_int64(st, 5);
	m->attempts = sqlite3_column_int(st, 6);
	m->sealed = col_blob(st, 7, &m->sealed_len);
	col_id(st, 8, TOKEN_PREFIX_REQUEST, m->request_id);
	m->target = col_opt_text(st, 9);
	m->event = col_opt_text(st, 10);
}

enum rc sqlite_outbox_due(struct store *s, int64_t now, const char *kind, size_t max, struct store_message **out,
                          size_t *n)
{
	static const char sql[] =
		"SELECT tenant_id, message_id, subject_id, kind, created_at, next_at, attempts, sealed, request_id, target, "
		"event FROM outbox INDEXED BY outbox_due WHERE sent_at IS NULL AND next_at <= ?1 "
		"AND (claimed_until IS NULL OR claimed_until < ?1) AND (?3 IS NULL OR kind = ?3) ORDER BY next_at LIMIT ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_stmt(q, sql, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	bind_opt_text(st, 3, kind);
	return sq_fetch_all(q, st, read_message, sizeof **out, (void **)out, n, "outbox_due");
}

enum rc sqlite_outbox_claim(struct store *s, int64_t tenant, int64_t message_id, const char *owner, int64_t now,
                            int64_t until)
{
	static const char sql[] =
		"UPDATE outbox SET claimed_by = ?3, claimed_until = ?5 WHERE tenant_id = ?1 AND message_id = ?2 "
		"AND sent_at IS NULL AND next_at <= ?4 AND (claimed_until IS NULL OR claimed_until < ?4)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, message_id);
	bind_text(st, 3, owner);
	sqlite3_bind_int64(st, 4, now);
	sqlite3_bind_int64(st, 5, until);
	rc = sq_run(q, st, "outbox_claim");
	return !rc && sqlite3_changes(q->db) != 1 ? RC_CONFLICT : rc;
}

enum rc sqlite_outbox_release_claims(struct store *s)
{
	static const char sql[] =
		"UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE sent_at IS NULL AND claimed_by IS NOT NULL";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_stmt(q, sql, &st);
	return rc ? rc : sq_run(q, st, "outbox_release_claims");
}

enum rc sqlite_outbox_sent(struct store *s, int64_t tenant, int64_t message_id, int64_t at)
{
	static const char sql[] = "UPDATE outbox SET sent_at = ?3, sealed = x'', claimed_by = NULL, claimed_until = NULL "
		"WHERE tenant_id = ?1 AND message_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, message_id);
	sqlite3_bind_int64(st, 3, at);
	return sq_run(q, st, "outbox_sent");
}

enum rc sqlite_outbox_retry(struct store *s, int64_t tenant, int64_t message_id, int attempts, int64_t next_at,
                            const char *error)
{
	static const char sql[] = "UPDATE outbox SET attempts = ?3, next_at = ?4, claimed_by = NULL, claimed_until = NULL, "
		"last_error = ?5 WHERE tenant_id = ?1 AND message_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, message_id);
	sqlite3_bind_int(st, 3, attempts);
	sqlite3_bind_int64(st, 4, next_at);
	bind_opt_text(st, 5, error);
	return sq_run(q, st, "outbox_retry");
}

/* The columns read_notification reads, in its order. */
#define NOTIFICATION_SELECT \
	"SELECT tenant_id, message_id, subject_id, kind, created_at, next_at, attempts, request_id, target, event, " \
	"sent_at, waived_at, last_error, waive_reason, waive_note FROM outbox"

static void read_notification(sqlite3_stmt *st, void *out)
{
	struct store_message *m = out;
	m->tenant_id = sqlite3_column_int64(st, 0);
	m->message_id = sqlite3_column_int64(st, 1);
	col_id(st, 2, TOKEN_PREFIX_SUBJECT, m->subject_id);
	m->kind = col_text(st, 3);
	m->created_at = sqlite3_column_int64(st, 4);
	m->next_at = sqlite3_column_int64(st, 5);
	m->attempts = sqlite3_column_int(st, 6);
	col_id(st, 7, TOKEN_PREFIX_REQUEST, m->request_id);
	m->target = col_opt_text(st, 8);
	m->event = col_opt_text(st, 9);
	m->sent_at = sqlite3_column_int64(st, 10);
	m->waived_at = sqlite3_column_int64(st, 11);
	m->last_error = col_opt_text(st, 12);
	m->waive_reason = col_opt_text(st, 13);
	m->waive_note = col_blob(st, 14, &m->waive_note_len);
}

enum rc sqlite_outbox_notifications(struct store *s, int64_t tenant, const char *subject_id, const char *request_id,
                                    struct store_message **out, size_t *n)
{
	static const char sql[] =
		NOTIFICATION_SELECT " WHERE tenant_id = ?1 AND target IS NOT NULL "
		"AND (?2 IS NULL OR subject_id = ?2) AND (?3 IS NULL OR request_id = ?3) ORDER BY message_id";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_opt_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	bind_opt_id(st, 3, TOKEN_PREFIX_REQUEST, request_id);
	return sq_fetch_all(q, st, read_notification, sizeof **out, (void **)out, n, "outbox_notifications");
}

enum rc sqlite_outbox_notifications_unsent(struct store *s, int64_t tenant, size_t max, struct store_message **out,
                                           size_t *n)
{
	static const char sql[] =
		NOTIFICATION_SELECT " INDEXED BY outbox_due "
		"WHERE sent_at IS NULL AND tenant_id = ?1 AND target IS NOT NULL ORDER BY message_id LIMIT ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, (sqlite3_int64)max);
	return sq_fetch_all(q, st, read_notification, sizeof **out, (void **)out, n, "outbox_notifications_unsent");
}

enum rc sqlite_outbox_waive(struct store *s, int64_t tenant, int64_t message_id, const char *request_id,
                            const unsigned char *note, size_t note_len, int64_t at)
{
	static const char find[] = "SELECT count(*) FROM outbox WHERE tenant_id = ?1 AND message_id = ?2 "
		"AND request_id = ?3 AND target IS NOT NULL";
	static const char sql[] = "UPDATE outbox SET sent_at = ?4, waived_at = ?4, waive_note = ?5, sealed = x'', "
		"claimed_by = NULL, claimed_until = NULL WHERE tenant_id = ?1 AND message_id = ?2 AND request_id = ?3 "
		"AND target IS NOT NULL AND sent_at IS NULL";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	int64_t have = 0;
	enum rc rc = sq_tenant(q, find, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, message_id);
	bind_id(st, 3, TOKEN_PREFIX_REQUEST, request_id);
	rc = sq_fetch_one(q, st, read_count, &have, "outbox_waive");
	if (rc)
		return rc;
	if (!have)
		return RC_NOT_FOUND;
	rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, message_id);
	bind_id(st, 3, TOKEN_PREFIX_REQUEST, request_id);
	sqlite3_bind_int64(st, 4, at);
	bind_blob(st, 5, note, note_len);
	rc = sq_run(q, st, "outbox_waive");
	return !rc && sqlite3_changes(q->db) != 1 ? RC_CONFLICT : rc;
}

enum rc sqlite_outbox_pending(struct store *s, int64_t *n)
{
	static const char sql[] = "SELECT count(*) FROM outbox WHERE sent_at IS NULL";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_stmt(q, sql, &st);
	return rc ? rc : sq_fetch_one(q, st, read_count, n, "outbox_pending");
}

enum rc sqlite_outbox_backlog(struct store *s, int64_t tenant, int64_t *n)
{
	static const char sql[] = "SELECT count(*) FROM outbox WHERE tenant_id = ?1 AND sent_at IS NULL";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	return rc ? rc : sq_fetch_one(q, st, read_count, n, "outbox_backlog");
}
