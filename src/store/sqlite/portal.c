/*
 * sqlite/portal.c: data subjects' sessions in the privacy center (migration
 * 18). A session is found by (tenant, hash of its id): the portal's routes
 * carry the tenant in their path, so no lookup crosses tenants.
 */
#include "store/sqlite/internal.h"

enum rc sqlite_portal_session_put(struct store *s, const struct store_portal_session *x)
{
	static const char sql[] =
		"INSERT INTO portal_sessions (tenant_id, session_hash, subject_id, known, address_hash, csrf, created_at, "
		"last_seen) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT (tenant_id, session_hash) DO UPDATE SET last_seen = ?8";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, x->tenant_id, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, x->hash, TOKEN_HASH_LEN);
	bind_id(st, 3, TOKEN_PREFIX_SUBJECT, x->subject_id);
	sqlite3_bind_int64(st, 4, x->known);
	bind_blob(st, 5, x->address, VAULT_HASH_LEN);
	bind_text(st, 6, x->csrf);
	sqlite3_bind_int64(st, 7, x->created_at);
	sqlite3_bind_int64(st, 8, x->last_seen);
	return sq_run(q, st, "portal_session_put");
}

static void read_session(sqlite3_stmt *st, void *out)
{
	struct store_portal_session *x = out;
	x->tenant_id = sqlite3_column_int64(st, 0);
	col_fixed(st, 1, x->hash, TOKEN_HASH_LEN);
	col_id(st, 2, TOKEN_PREFIX_SUBJECT, x->subject_id);
	x->known = sqlite3_column_int64(st, 3) != 0;
	col_fixed(st, 4, x->address, VAULT_HASH_LEN);
	col_copy(st, 5, x->csrf, sizeof x->csrf);
	x->created_at = sqlite3_column_int64(st, 6);
	x->last_seen = sqlite3_column_int64(st, 7);
}

enum rc sqlite_portal_session_get(struct store *s, int64_t tenant, const unsigned char *hash,
                                  struct store_portal_session *out)
{
	static const char sql[] =
		"SELECT tenant_id, session_hash, subject_id, known, address_hash, csrf, created_at, last_seen "
		"FROM portal_sessions WHERE tenant_id = ?1 AND session_hash = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, TOKEN_HASH_LEN);
	return sq_fetch_one(q, st, read_session, out, "portal_session_get");
}

enum rc sqlite_portal_session_delete(struct store *s, int64_t tenant, const unsigned char *hash,
                                     const char *subject_id, int64_t idle_before)
{
	static const char sql[] =
		"DELETE FROM portal_sessions WHERE tenant_id = ?1 AND (session_hash = ?2 OR subject_id = ?3 OR last_seen < ?4)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, TOKEN_HASH_LEN);
	bind_opt_id(st, 3, TOKEN_PREFIX_SUBJECT, subject_id);
	sqlite3_bind_int64(st, 4, idle_before);
	return sq_run(q, st, "portal_session_delete");
}
