/*
 * sqlite/holds.c: legal holds (on a subject or on one record, until a time
 * or lifted) that keep data from erasure, and the log of disclosures made
 * to recipients outside the company.
 *
 * A hold on a subject covers its records and a hold on a record covers its
 * subject's erasure: holds_active answers both in one statement.
 *
 * A hold's reason comes sealed (schema 9): core writes "" as the reason and
 * the ciphertext beside it. seal_queue lists the rows written before that,
 * which core seals once.
 */
#include "store/sqlite/internal.h"

enum rc sqlite_hold_insert(struct store *s, int64_t tenant, const struct store_hold *h)
{
	static const char sql[] =
		"INSERT INTO holds (tenant_id, hold_id, subject_id, record_id, reason, forbid_disclosure, created_at, until, "
		"key_id, reason_sealed, sealed_for) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_HOLD, h->id);
	bind_opt_id(st, 3, TOKEN_PREFIX_SUBJECT, h->subject_id);
	bind_opt_id(st, 4, TOKEN_PREFIX_RECORD, h->record_id);
	bind_text(st, 5, h->reason);
	sqlite3_bind_int(st, 6, h->forbid_disclosure);
	sqlite3_bind_int64(st, 7, h->created_at);
	bind_opt_int(st, 8, h->until);
	bind_text(st, 9, h->key_id);
	bind_blob(st, 10, h->sealed, h->sealed_len);
	bind_opt_id(st, 11, TOKEN_PREFIX_SUBJECT, h->sealed_for);
	return sq_run(q, st, "hold_insert");
}

enum rc sqlite_hold_seal(struct store *s, int64_t tenant, const struct store_hold *h)
{
	static const char sql[] =
		"UPDATE holds SET reason = ?3, reason_sealed = ?4, sealed_for = ?5 WHERE tenant_id = ?1 AND hold_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_HOLD, h->id);
	bind_text(st, 3, h->reason);
	bind_blob(st, 4, h->sealed, h->sealed_len);
	bind_opt_id(st, 5, TOKEN_PREFIX_SUBJECT, h->sealed_for);
	rc = sq_run(q, st, "hold_seal");
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

enum rc sqlite_hold_lift(struct store *s, int64_t tenant, const char *id, int64_t at)
{
	static const char sql[] =
		"UPDATE holds SET lifted_at = ?3 WHERE tenant_id = ?1 AND hold_id = ?2 AND lifted_at IS NULL";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_HOLD, id);
	sqlite3_bind_int64(st, 3, at);
	rc = sq_run(q, st, "hold_lift");
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

static void read_hold(sqlite3_stmt *st, void *out)
{
	struct store_hold *h = out;
	col_id(st, 0, TOKEN_PREFIX_HOLD, h->id);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, h->subject_id);
	col_id(st, 2, TOKEN_PREFIX_RECORD, h->record_id);
	h->reason = col_text(st, 3);
	h->forbid_disclosure = sqlite3_column_int(st, 4) != 0;
	h->created_at = sqlite3_column_int64(st, 5);
	h->until = sqlite3_column_int64(st, 6);
	h->lifted_at = sqlite3_column_int64(st, 7);
	h->key_id = col_text(st, 8);
	h->sealed = col_blob(st, 9, &h->sealed_len);
	col_id(st, 10, TOKEN_PREFIX_SUBJECT, h->sealed_for);
}

#define HOLD_COLUMNS \
	"hold_id, subject_id, record_id, reason, forbid_disclosure, created_at, until, lifted_at, key_id, " \
	"reason_sealed, sealed_for"

enum rc sqlite_hold_get(struct store *s, int64_t tenant, const char *id, struct store_hold *out)
{
	static const char sql[] = "SELECT " HOLD_COLUMNS " FROM holds WHERE tenant_id = ?1 AND hold_id = ?2";
	memset(out, 0, sizeof *out);
	return sq_fetch_one_by_id(sq(s), sql, tenant, TOKEN_PREFIX_HOLD, id, read_hold, out, "hold_get");
}

enum rc sqlite_holds_active(struct store *s, int64_t tenant, const char *subject_id, const char *record_id,
                            int64_t now, struct store_hold **out, size_t *n)
{
	/* ?2 subject or NULL, ?3 record or NULL (then also its subject's), ?4 now */
	static const char sql[] =
		"SELECT " HOLD_COLUMNS " "
		"FROM holds WHERE tenant_id = ?1 AND lifted_at IS NULL AND (until IS NULL OR until > ?4) AND "
		"((?2 IS NULL AND ?3 IS NULL) OR subject_id = ?2 OR record_id = ?3 OR subject_id = "
		"(SELECT subject_id FROM records WHERE tenant_id = ?1 AND record_id = ?3) OR record_id IN "
		"(SELECT record_id FROM records INDEXED BY records_by_subject WHERE tenant_id = ?1 AND subject_id = ?2)) "
		"ORDER BY created_at";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_opt_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	bind_opt_id(st, 3, TOKEN_PREFIX_RECORD, record_id);
	sqlite3_bind_int64(st, 4, now);
	return sq_fetch_all(q, st, read_hold, sizeof **out, (void **)out, n, "holds_active");
}

/* ---- disclosures ---- */

enum rc sqlite_disclosure_insert(struct store *s, int64_t tenant, const struct store_disclosure *d)
{
	static const char sql[] =
		"INSERT INTO disclosures (tenant_id, disclosure_id, subject_id, recipient, purpose, fields, legal_reference, "
		"at, key_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_DISCLOSURE, d->id);
	bind_id(st, 3, TOKEN_PREFIX_SUBJECT, d->subject_id);
	bind_text(st, 4, d->recipient);
	bind_text(st, 5, d->purpose);
	bind_text(st, 6, d->fields);
	bind_opt_text(st, 7, d->legal_reference);
	sqlite3_bind_int64(st, 8, d->at);
	bind_text(st, 9, d->key_id);
	return sq_run(q, st, "disclosure_insert");
}

static void read_disclosure(sqlite3_stmt *st, void *out)
{
	struct store_disclosure *d = out;
	col_id(st, 0, TOKEN_PREFIX_DISCLOSURE, d->id);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, d->subject_id);
	d->recipient = col_text(st, 2);
	d->purpose = col_text(st, 3);
	d->fields = col_text(st, 4);
	d->legal_reference = col_opt_text(st, 5);
	d->at = sqlite3_column_int64(st, 6);
	d->key_id = col_text(st, 7);
}

enum rc sqlite_disclosures_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                       struct store_disclosure **out, size_t *n)
{
	static const char sql[] =
		"SELECT disclosure_id, subject_id, recipient, purpose, fields, legal_reference, at, key_id FROM disclosures "
		"WHERE tenant_id = ?1 AND subject_id = ?2 ORDER BY at, disclosure_id";
	*out = NULL;
	*n = 0;
	return sq_fetch_all_by_id(sq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, read_disclosure, sizeof **out,
	                          (void **)out, n, "disclosures");
}

enum rc sqlite_disclosures_log(struct store *s, int64_t tenant, const struct store_disclosure_filter *f,
                              struct store_disclosure **out, size_t *n)
{
	static const char sql[] =
		"SELECT disclosure_id, subject_id, recipient, purpose, fields, legal_reference, at, key_id FROM disclosures "
		"WHERE tenant_id = ?1 AND (?2 IS NULL OR recipient = ?2) AND (?3 IS NULL OR purpose = ?3) "
		"AND at >= ?4 AND at <= ?5 AND (?6 IS NULL OR disclosure_id < ?6) ORDER BY disclosure_id DESC LIMIT ?7";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_opt_text(st, 2, f->recipient);
	bind_opt_text(st, 3, f->purpose);
	sqlite3_bind_int64(st, 4, f->since);
	sqlite3_bind_int64(st, 5, f->until ? f->until : INT64_MAX);
	bind_opt_id(st, 6, TOKEN_PREFIX_DISCLOSURE, f->before);
	sqlite3_bind_int64(st, 7, (int64_t)f->limit);
	return sq_fetch_all(q, st, read_disclosure, sizeof **out, (void **)out, n, "disclosures_log");
}

enum rc sqlite_disclosures_move(struct store *s, int64_t tenant, const char *from, const char *to)
{
	static const char sql[] = "UPDATE disclosures SET subject_id = ?3 WHERE tenant_id = ?1 AND subject_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, from);
	bind_id(st, 3, TOKEN_PREFIX_SUBJECT, to);
	return sq_run(q, st, "disclosures_move");
}

/* ---- rows still to seal (schema 9) ---- */

static const char *queue_prefix(const char *kind)
{
	if (!strcmp(kind, "user")) /* staff TOTP secrets to seal (schema 20) */
		return TOKEN_PREFIX_USER;
	return !strcmp(kind, "hold") ? TOKEN_PREFIX_HOLD : TOKEN_PREFIX_REQUEST;
}

enum rc sqlite_seal_queue_next(struct store *s, int64_t tenant, const char *kind, char (*ids)[TOKEN_ID_MAX],
                               size_t max, size_t *n)
{
	static const char sql[] = "SELECT id FROM seal_queue WHERE tenant_id = ?1 AND kind = ?2 ORDER BY id LIMIT ?3";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, kind);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		col_id(st, 0, queue_prefix(kind), ids[(*n)++]);
	rc = src == SQLITE_DONE || src == SQLITE_ROW ? RC_OK : sq_map_rc(q, src, "seal_queue_next");
	done(st);
	return rc;
}

enum rc sqlite_seal_queue_done(struct store *s, int64_t tenant, const char *kind, const char *id)
{
	static const char sql[] = "DELETE FROM seal_queue WHERE tenant_id = ?1 AND kind = ?2 AND id = ?3";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, kind);
	bind_id(st, 3, queue_prefix(kind), id);
	return sq_run(q, st, "seal_queue_done");
}
