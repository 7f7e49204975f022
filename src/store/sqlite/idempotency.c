/*
 * sqlite/idempotency.c: the first answers to writes sent with an
 * Idempotency-Key, by tenant and key hash, and their purges (by expiry,
 * and by subject when the subject is erased).
 *
 * A row past its expiry is as good as absent: the read ignores it and the
 * next write under the same key replaces it.
 */
#include "store/sqlite/internal.h"

static void read_idempotency(sqlite3_stmt *st, void *out)
{
	struct store_idempotency *e = out;
	col_fixed(st, 0, e->fingerprint, VAULT_HASH_LEN);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, e->subject_id);
	e->created_at = sqlite3_column_int64(st, 2);
	e->expires_at = sqlite3_column_int64(st, 3);
	col_upto(st, 4, e->wrapped_key, VAULT_WRAPPED_MAX, &e->wrapped_len);
	e->answer = col_blob(st, 5, &e->answer_len);
}

enum rc sqlite_idempotency_get(struct store *s, int64_t tenant, const unsigned char key_hash[VAULT_HASH_LEN],
                               struct store_idempotency *out)
{
	static const char sql[] =
		"SELECT fingerprint, subject_id, created_at, expires_at, wrapped_key, answer FROM idempotency "
		"WHERE tenant_id = ?1 AND key_hash = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, key_hash, VAULT_HASH_LEN);
	rc = sq_fetch_one(q, st, read_idempotency, out, "idempotency_get");
	if (!rc)
		memcpy(out->key_hash, key_hash, VAULT_HASH_LEN);
	return rc;
}

enum rc sqlite_idempotency_put(struct store *s, int64_t tenant, const struct store_idempotency *e)
{
	static const char sql[] =
		"INSERT OR REPLACE INTO idempotency (tenant_id, key_hash, fingerprint, subject_id, created_at, expires_at, "
		"wrapped_key, answer) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, e->key_hash, VAULT_HASH_LEN);
	bind_blob(st, 3, e->fingerprint, VAULT_HASH_LEN);
	bind_opt_id(st, 4, TOKEN_PREFIX_SUBJECT, e->subject_id);
	sqlite3_bind_int64(st, 5, e->created_at);
	sqlite3_bind_int64(st, 6, e->expires_at);
	bind_blob(st, 7, e->wrapped_key, e->wrapped_len);
	bind_blob(st, 8, e->answer, e->answer_len);
	return sq_run(q, st, "idempotency_put");
}

enum rc sqlite_idempotency_expire(struct store *s, int64_t tenant, int64_t now, size_t max, size_t *n)
{
	static const char sql[] =
		"DELETE FROM idempotency WHERE tenant_id = ?1 AND key_hash IN (SELECT key_hash FROM idempotency "
		"INDEXED BY idempotency_by_expiry WHERE tenant_id = ?1 AND expires_at <= ?2 LIMIT ?3)";
	return sq_expire(sq(s), sql, tenant, now, max, n, "idempotency_expire");
}

enum rc sqlite_idempotency_forget_subject(struct store *s, int64_t tenant, const char *subject_id)
{
	static const char sql[] = "DELETE FROM idempotency WHERE tenant_id = ?1 AND subject_id = ?2";
	return sq_run_tenant_id(sq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, "idempotency_forget_subject");
}
