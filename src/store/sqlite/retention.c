/*
 * sqlite/retention.c: what the retention sweep reads and writes: each
 * record's due and trim times, the records due (walked by a cursor), the
 * forecast by month and kind, and the expiry of answered requests.
 *
 * Due and trim times are stored per record (NULL: never) so that the sweep
 * reads an index of what is due instead of evaluating every keep rule.
 */
#include "store/sqlite/internal.h"
#include "store/stored.h"

enum rc sqlite_record_set_due(struct store *s, int64_t tenant, const char *record_id, int64_t due_at,
                              int64_t trim_at)
{
	static const char sql[] = "UPDATE records SET due_at = ?3, trim_at = ?4 WHERE tenant_id = ?1 AND record_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, record_id);
	bind_opt_int(st, 3, due_at);
	bind_opt_int(st, 4, trim_at);
	return sq_run(q, st, "record_set_due");
}

enum rc sqlite_records_due(struct store *s, int64_t tenant, int64_t now, bool trim, const struct store_due *after,
                           struct store_due *out, size_t max, size_t *n)
{
	/* ?4, ?5: the cursor (the last due time and record id seen), so that
	 * records left in place (held) are passed over, not met again. The
	 * record's state and its subject's restriction come with it: the sweep
	 * decides on them without another read per record ('' is 'active', see
	 * store/stored.h). */
	static const char due_sql[] =
		"SELECT r.record_id, r.subject_id, r.kind, r.due_at, " STORED_STATE_READ("r.") ", COALESCE(s.restricted, 0) "
		"FROM records r INDEXED BY records_due LEFT JOIN subjects s ON s.tenant_id = r.tenant_id "
		"AND s.subject_id = r.subject_id WHERE r.tenant_id = ?1 AND r.due_at IS NOT NULL AND r.due_at <= ?2 "
		"AND (r.due_at > ?4 OR (r.due_at = ?4 AND r.record_id > ?5)) ORDER BY r.due_at, r.record_id LIMIT ?3";
	static const char trim_sql[] =
		"SELECT r.record_id, r.subject_id, r.kind, r.trim_at, " STORED_STATE_READ("r.") ", COALESCE(s.restricted, 0) "
		"FROM records r INDEXED BY records_trim LEFT JOIN subjects s ON s.tenant_id = r.tenant_id "
		"AND s.subject_id = r.subject_id WHERE r.tenant_id = ?1 AND r.trim_at IS NOT NULL AND r.trim_at <= ?2 "
		"AND (r.trim_at > ?4 OR (r.trim_at = ?4 AND r.record_id > ?5)) ORDER BY r.trim_at, r.record_id LIMIT ?3";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, trim ? trim_sql : due_sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	sqlite3_bind_int64(st, 4, after ? after->at : INT64_MIN);
	if (after)
		bind_id(st, 5, TOKEN_PREFIX_RECORD, after->id);
	else
		bind_after(st, 5, TOKEN_PREFIX_RECORD, NULL);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct store_due *d = &out[(*n)++];
		col_id(st, 0, TOKEN_PREFIX_RECORD, d->id);
		col_id(st, 1, TOKEN_PREFIX_SUBJECT, d->subject_id);
		col_copy(st, 2, d->kind, sizeof d->kind);
		d->at = sqlite3_column_int64(st, 3);
		col_copy(st, 4, d->state, sizeof d->state);
		d->subject_restricted = sqlite3_column_int(st, 5) != 0;
	}
	rc = src == SQLITE_DONE || src == SQLITE_ROW ? RC_OK : sq_map_rc(q, src, "records_due");
	done(st);
	return rc;
}

enum rc sqlite_subject_record_count(struct store *s, int64_t tenant, const char *subject_id, int64_t *n)
{
	/* INDEXED BY: see internal.h. */
	static const char sql[] =
		"SELECT count(*) FROM records INDEXED BY records_by_subject WHERE tenant_id = ?1 AND subject_id = ?2";
	return sq_fetch_one_by_id(sq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, read_count, n,
	                          "subject_record_count");
}

static void read_forecast(sqlite3_stmt *st, void *out)
{
	struct store_forecast_row *r = out;
	col_copy(st, 0, r->month, sizeof r->month);
	col_copy(st, 1, r->kind, sizeof r->kind);
	r->n = sqlite3_column_int64(st, 2);
}

enum rc sqlite_retention_forecast(struct store *s, int64_t tenant, int64_t until, struct store_forecast_row **out,
                                  size_t *n)
{
	static const char sql[] =
		"SELECT strftime('%Y-%m', due_at, 'unixepoch') AS month, kind, count(*) FROM records INDEXED BY records_due "
		"WHERE tenant_id = ?1 AND due_at IS NOT NULL AND due_at < ?2 GROUP BY month, kind ORDER BY month, kind";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, until);
	return sq_fetch_all(q, st, read_forecast, sizeof **out, (void **)out, n, "forecast");
}

/* ---- answered requests ---- */

enum rc sqlite_request_set_expiry(struct store *s, int64_t tenant, const char *id, int64_t expires_at)
{
	static const char sql[] = "UPDATE requests SET expires_at = ?3 WHERE tenant_id = ?1 AND request_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_REQUEST, id);
	bind_opt_int(st, 3, expires_at);
	return sq_run(q, st, "request_set_expiry");
}

enum rc sqlite_requests_expire(struct store *s, int64_t tenant, int64_t now, size_t max, size_t *n)
{
	static const char sql[] =
		"DELETE FROM requests WHERE tenant_id = ?1 AND request_id IN (SELECT request_id FROM requests "
		"INDEXED BY requests_expiry WHERE tenant_id = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2 LIMIT ?3)";
	return sq_expire(sq(s), sql, tenant, now, max, n, "requests_expire");
}
