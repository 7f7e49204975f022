/*
 * postgres/outbox.c: messages (e-mail, webhooks) written in the transaction
 * of the change they announce and sent afterwards by the sender, which reads
 * the due ones of every tenant. A sent message keeps its row, not its body.
 * Notifications (schema 3) are messages with a target, tied to a request
 * when a request made the change; a waived one is marked sent.
 *
 * Before sending, a sender claims the message (outbox_claim): one UPDATE,
 * outside any transaction, whose WHERE holds only while the message is still
 * due, unsent and without a live claim; changes() == 1 says this sender won
 * it. Two senders on one database thus never both send one message. A claim
 * is live until claimed_until and while the session that took it
 * (claimed_backend, its pg_backend_pid()) is connected: a sender killed
 * mid-send loses its connection and its claims with it, so that its
 * messages go out at once from the next sender, not claimed_until later
 * (on SQLite a restarted server releases them: there is one).
 */

/* A claim no longer held: run out, or its session gone. */
#define CLAIM_DEAD(now) \
	"(claimed_until IS NULL OR claimed_until < " now " OR (claimed_backend IS NOT NULL AND NOT EXISTS " \
	"(SELECT 1 FROM pg_stat_activity a WHERE a.pid = outbox.claimed_backend)))"

#include "store/postgres/internal.h"

enum rc pg_outbox_insert(struct store *s, int64_t tenant, const struct store_message *m)
{
	static const char sql[] =
		"INSERT INTO outbox (tenant_id, message_id, subject_id, kind, created_at, next_at, sealed, request_id, "
		"target, event) VALUES "
		"($1, (SELECT COALESCE(MAX(message_id), 0) + 1 FROM outbox WHERE tenant_id = $1), $2, $3, $4, $5, $6, $7, "
		"$8, $9)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, m->subject_id);
	bind_text(st, 3, m->kind);
	bind_int(st, 4, m->created_at);
	bind_int(st, 5, m->next_at);
	bind_blob(st, 6, m->sealed, m->sealed_len);
	bind_opt_id(st, 7, TOKEN_PREFIX_REQUEST, m->request_id);
	bind_opt_text(st, 8, m->target);
	bind_opt_text(st, 9, m->event);
	return pq_run(q, st, "outbox_insert");
}

static void read_message(struct pq_stmt *st, void *out)
{
	struct store_message *m = out;
	m->tenant_id = col_int(st, 0);
	m->message_id = col_int(st, 1);
	col_id(st, 2, TOKEN_PREFIX_SUBJECT, m->subject_id);
	m->kind = col_text(st, 3);
	m->created_at = col_int(st, 4);
	m->next_at = col_int(st, 5);
	m->attempts = col_int(st, 6);
	m->sealed = col_blob(st, 7, &m->sealed_len);
	col_id(st, 8, TOKEN_PREFIX_REQUEST, m->request_id);
	m->target = col_opt_text(st, 9);
	m->event = col_opt_text(st, 10);
}

enum rc pg_outbox_due(struct store *s, int64_t now, const char *kind, size_t max, struct store_message **out,
                      size_t *n)
{
	static const char sql[] =
		"SELECT tenant_id, message_id, subject_id, kind, created_at, next_at, attempts, sealed, request_id, target, "
		"event FROM outbox WHERE sent_at IS NULL AND next_at <= $1 "
		"AND " CLAIM_DEAD("$1") " AND ($3::text IS NULL OR kind = $3::text) "
		"ORDER BY next_at LIMIT $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_stmt_get(q, sql, &st);
	if (rc)
		return rc;
	bind_int(st, 1, now);
	bind_int(st, 2, (int64_t)max);
	bind_opt_text(st, 3, kind);
	return pq_fetch_all(q, st, read_message, sizeof **out, (void **)out, n, "outbox_due");
}

enum rc pg_outbox_claim(struct store *s, int64_t tenant, int64_t message_id, const char *owner, int64_t now,
                            int64_t until)
{
	static const char sql[] =
		"UPDATE outbox SET claimed_by = $3, claimed_until = $5, claimed_backend = pg_backend_pid() "
		"WHERE tenant_id = $1 AND message_id = $2 AND sent_at IS NULL AND next_at <= $4 AND " CLAIM_DEAD("$4");
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, message_id);
	bind_text(st, 3, owner);
	bind_int(st, 4, now);
	bind_int(st, 5, until);
	rc = pq_run(q, st, "outbox_claim");
	return !rc && q->changes != 1 ? RC_CONFLICT : rc;
}

enum rc pg_outbox_release_claims(struct store *s)
{
	static const char sql[] =
		"UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE sent_at IS NULL AND claimed_by IS NOT NULL";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_stmt_get(q, sql, &st);
	return rc ? rc : pq_run(q, st, "outbox_release_claims");
}

enum rc pg_outbox_sent(struct store *s, int64_t tenant, int64_t message_id, int64_t at)
{
	static const char sql[] = "UPDATE outbox SET sent_at = $3, sealed = ''::bytea, claimed_by = NULL, claimed_until = NULL "
		"WHERE tenant_id = $1 AND message_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, message_id);
	bind_int(st, 3, at);
	return pq_run(q, st, "outbox_sent");
}

enum rc pg_outbox_retry(struct store *s, int64_t tenant, int64_t message_id, int attempts, int64_t next_at,
                        const char *error)
{
	static const char sql[] = "UPDATE outbox SET attempts = $3, next_at = $4, claimed_by = NULL, claimed_until = NULL, "
		"last_error = $5::text WHERE tenant_id = $1 AND message_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, message_id);
	bind_int(st, 3, attempts);
	bind_int(st, 4, next_at);
	bind_opt_text(st, 5, error);
	return pq_run(q, st, "outbox_retry");
}

/* The columns read_notification reads, in its order. */
#define NOTIFICATION_SELECT \
	"SELECT tenant_id, message_id, subject_id, kind, created_at, next_at, attempts, request_id, target, event, " \
	"sent_at, waived_at, last_error, waive_reason, waive_note FROM outbox"

static void read_notification(struct pq_stmt *st, void *out)
{
	struct store_message *m = out;
	m->tenant_id = col_int(st, 0);
	m->message_id = col_int(st, 1);
	col_id(st, 2, TOKEN_PREFIX_SUBJECT, m->subject_id);
	m->kind = col_text(st, 3);
	m->created_at = col_int(st, 4);
	m->next_at = col_int(st, 5);
	m->attempts = (int)col_int(st, 6);
	col_id(st, 7, TOKEN_PREFIX_REQUEST, m->request_id);
	m->target = col_opt_text(st, 8);
	m->event = col_opt_text(st, 9);
	m->sent_at = col_int(st, 10);
	m->waived_at = col_int(st, 11);
	m->last_error = col_opt_text(st, 12);
	m->waive_reason = col_opt_text(st, 13);
	m->waive_note = col_blob(st, 14, &m->waive_note_len);
}

enum rc pg_outbox_notifications(struct store *s, int64_t tenant, const char *subject_id, const char *request_id,
                                struct store_message **out, size_t *n)
{
	static const char sql[] =
		NOTIFICATION_SELECT " WHERE tenant_id = $1 AND target IS NOT NULL "
		"AND ($2::bytea IS NULL OR subject_id = $2::bytea) AND ($3::bytea IS NULL OR request_id = $3::bytea) "
		"ORDER BY message_id";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_opt_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	bind_opt_id(st, 3, TOKEN_PREFIX_REQUEST, request_id);
	return pq_fetch_all(q, st, read_notification, sizeof **out, (void **)out, n, "outbox_notifications");
}

enum rc pg_outbox_notifications_unsent(struct store *s, int64_t tenant, size_t max, struct store_message **out,
                                       size_t *n)
{
	static const char sql[] =
		NOTIFICATION_SELECT " "
		"WHERE sent_at IS NULL AND tenant_id = $1 AND target IS NOT NULL ORDER BY message_id LIMIT $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, (int64_t)max);
	return pq_fetch_all(q, st, read_notification, sizeof **out, (void **)out, n, "outbox_notifications_unsent");
}

enum rc pg_outbox_waive(struct store *s, int64_t tenant, int64_t message_id, const char *request_id,
                        const unsigned char *note, size_t note_len, int64_t at)
{
	static const char find[] = "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND message_id = $2 "
		"AND request_id = $3 AND target IS NOT NULL";
	static const char sql[] = "UPDATE outbox SET sent_at = $4, waived_at = $4, waive_note = $5, sealed = ''::bytea, "
		"claimed_by = NULL, claimed_until = NULL WHERE tenant_id = $1 AND message_id = $2 AND request_id = $3 "
		"AND target IS NOT NULL AND sent_at IS NULL";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	int64_t have = 0;
	enum rc rc = pq_tenant(q, find, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, message_id);
	bind_id(st, 3, TOKEN_PREFIX_REQUEST, request_id);
	rc = pq_fetch_one(q, st, read_count, &have, "outbox_waive");
	if (rc)
		return rc;
	if (!have)
		return RC_NOT_FOUND;
	rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, message_id);
	bind_id(st, 3, TOKEN_PREFIX_REQUEST, request_id);
	bind_int(st, 4, at);
	bind_blob(st, 5, note, note_len);
	rc = pq_run(q, st, "outbox_waive");
	return !rc && q->changes != 1 ? RC_CONFLICT : rc;
}

enum rc pg_outbox_pending(struct store *s, int64_t *n)
{
	static const char sql[] = "SELECT count(*) FROM outbox WHERE sent_at IS NULL";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_stmt_get(q, sql, &st);
	return rc ? rc : pq_fetch_one(q, st, read_count, n, "outbox_pending");
}

enum rc pg_outbox_backlog(struct store *s, int64_t tenant, int64_t *n)
{
	static const char sql[] = "SELECT count(*) FROM outbox WHERE tenant_id = $1 AND sent_at IS NULL";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	return rc ? rc : pq_fetch_one(q, st, read_count, n, "outbox_backlog");
}
