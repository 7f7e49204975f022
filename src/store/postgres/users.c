/*
 * postgres/users.c: staff accounts and their sessions (schema 2). Sign-in
 * finds the accounts with an e-mail across tenants (an e-mail is unique per
 * tenant only, schema 10), enrolment finds an account across tenants by
 * the hash of its enrolment link, and a session is found across tenants by
 * the hash of its id; everything else filters by tenant as usual. As
 * sqlite/users.c.
 */
#include "store/postgres/internal.h"

enum rc pg_user_put(struct store *s, const struct store_user *u)
{
	static const char sql[] =
		"INSERT INTO staff_users (tenant_id, user_id, email, role, status, password_hash, totp_secret, "
		"totp_last_step, enrol_hash, enrol_expires, failures, failure_window, created_at) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) "
		"ON CONFLICT (tenant_id, user_id) DO UPDATE SET role = EXCLUDED.role, status = EXCLUDED.status, "
		"password_hash = EXCLUDED.password_hash, totp_secret = EXCLUDED.totp_secret, "
		"totp_last_step = EXCLUDED.totp_last_step, enrol_hash = EXCLUDED.enrol_hash, "
		"enrol_expires = EXCLUDED.enrol_expires, failures = EXCLUDED.failures, "
		"failure_window = EXCLUDED.failure_window";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, u->tenant_id, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_USER, u->user_id);
	bind_text(st, 3, u->email);
	bind_text(st, 4, u->role);
	bind_text(st, 5, u->status);
	bind_opt_text(st, 6, u->password_hash[0] ? u->password_hash : NULL);
	bind_blob(st, 7, u->has_totp ? u->totp_secret : NULL, u->totp_len);
	bind_int(st, 8, u->totp_last_step);
	bind_blob(st, 9, u->has_enrol ? u->enrol_hash : NULL, sizeof u->enrol_hash);
	bind_opt_int(st, 10, u->has_enrol ? u->enrol_expires : 0);
	bind_int(st, 11, u->failures);
	bind_int(st, 12, u->failure_window);
	bind_int(st, 13, u->created_at);
	return pq_run(q, st, "user_put");
}

#define USER_COLUMNS                                                                                         \
	"tenant_id, user_id, email, role, status, password_hash, totp_secret, totp_last_step, enrol_hash, "      \
	"enrol_expires, failures, failure_window, created_at FROM staff_users "

/* A bytea of exactly len bytes into out: true; false (out left) otherwise. */
static bool col_exact(struct pq_stmt *st, int i, unsigned char *out, size_t len)
{
	size_t n = 0;
	unsigned char *b = col_blob(st, i, &n);
	bool ok = b && n == len;
	if (ok)
		memcpy(out, b, len);
	free(b);
	return ok;
}

/* The TOTP secret: sealed, or (before schema 6) still in the clear. */
static bool col_totp(struct pq_stmt *st, int i, struct store_user *u)
{
	size_t n = 0;
	unsigned char *b = col_blob(st, i, &n);
	bool ok = b && (n == STORE_TOTP_SEALED_LEN || n == STORE_TOTP_PLAIN_LEN);
	if (ok) {
		memcpy(u->totp_secret, b, n);
		u->totp_len = n;
	}
	free(b);
	return ok;
}

static void read_user(struct pq_stmt *st, void *out)
{
	struct store_user *u = out;
	memset(u, 0, sizeof *u);
	u->tenant_id = col_int(st, 0);
	col_id(st, 1, TOKEN_PREFIX_USER, u->user_id);
	col_copy(st, 2, u->email, sizeof u->email);
	col_copy(st, 3, u->role, sizeof u->role);
	col_copy(st, 4, u->status, sizeof u->status);
	col_copy(st, 5, u->password_hash, sizeof u->password_hash);
	u->has_totp = col_totp(st, 6, u);
	u->totp_last_step = col_int(st, 7);
	u->has_enrol = col_exact(st, 8, u->enrol_hash, sizeof u->enrol_hash);
	u->enrol_expires = col_int(st, 9);
	u->failures = col_int(st, 10);
	u->failure_window = col_int(st, 11);
	u->created_at = col_int(st, 12);
}

enum rc pg_user_get(struct store *s, int64_t tenant, const char *user_id, const char *email,
                    const unsigned char *enrol_hash, struct store_user *out)
{
	static const char by_id[] = "SELECT " USER_COLUMNS "WHERE tenant_id = $1 AND user_id = $2";
	static const char by_email[] = "SELECT " USER_COLUMNS "WHERE tenant_id = $1 AND email = $2";
	static const char by_enrol[] = "SELECT " USER_COLUMNS "WHERE enrol_hash = $1";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = pq_stmt_get(q, user_id ? by_id : email ? by_email : by_enrol, &st);
	if (rc)
		return rc;
	if (user_id) {
		bind_int(st, 1, tenant);
		bind_id(st, 2, TOKEN_PREFIX_USER, user_id);
	} else if (email) {
		bind_int(st, 1, tenant);
		bind_text(st, 2, email);
	} else {
		bind_blob(st, 1, enrol_hash, TOKEN_HASH_LEN);
	}
	return pq_fetch_one(q, st, read_user, out, "user_get");
}

enum rc pg_user_list(struct store *s, int64_t tenant, struct store_user **out, size_t *n)
{
	static const char sql[] = "SELECT " USER_COLUMNS "WHERE tenant_id = $1 ORDER BY email";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	return rc ? rc : pq_fetch_all(q, st, read_user, sizeof **out, (void **)out, n, "user_list");
}

enum rc pg_user_find_email(struct store *s, const char *email, size_t max, struct store_user **out, size_t *n)
{
	/* staff_users_by_email (email, tenant_id) finds them; oldest first, so
	 * that a newer account in some tenant never pushes an older one out of
	 * the bound. */
	static const char sql[] =
		"SELECT " USER_COLUMNS "WHERE email = $1 ORDER BY created_at, tenant_id, user_id LIMIT $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_stmt_get(q, sql, &st);
	if (rc)
		return rc;
	bind_text(st, 1, email);
	bind_int(st, 2, (int64_t)max); /* LIMIT: every input bounded */
	return pq_fetch_all(q, st, read_user, sizeof **out, (void **)out, n, "user_find_email");
}

enum rc pg_session_put(struct store *s, const struct store_session *x)
{
	static const char sql[] =
		"INSERT INTO staff_sessions (tenant_id, session_hash, user_id, csrf, created_at, last_seen) "
		"VALUES ($1, $2, $3, $4, $5, $6) "
		"ON CONFLICT (tenant_id, session_hash) DO UPDATE SET last_seen = EXCLUDED.last_seen";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, x->tenant_id, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, x->hash, TOKEN_HASH_LEN);
	bind_id(st, 3, TOKEN_PREFIX_USER, x->user_id);
	bind_text(st, 4, x->csrf);
	bind_int(st, 5, x->created_at);
	bind_int(st, 6, x->last_seen);
	return pq_run(q, st, "session_put");
}

static void read_session(struct pq_stmt *st, void *out)
{
	struct store_session *x = out;
	x->tenant_id = col_int(st, 0);
	col_fixed(st, 1, x->hash, TOKEN_HASH_LEN);
	col_id(st, 2, TOKEN_PREFIX_USER, x->user_id);
	col_copy(st, 3, x->csrf, sizeof x->csrf);
	x->created_at = col_int(st, 4);
	x->last_seen = col_int(st, 5);
	col_copy(st, 6, x->role, sizeof x->role);
	col_copy(st, 7, x->status, sizeof x->status);
}

enum rc pg_session_get(struct store *s, const unsigned char *hash, struct store_session *out)
{
	static const char sql[] =
		"SELECT x.tenant_id, x.session_hash, x.user_id, x.csrf, x.created_at, x.last_seen, u.role, u.status "
		"FROM staff_sessions AS x JOIN staff_users AS u ON u.tenant_id = x.tenant_id AND u.user_id = x.user_id "
		"WHERE x.session_hash = $1";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = pq_stmt_get(q, sql, &st);
	if (rc)
		return rc;
	bind_blob(st, 1, hash, TOKEN_HASH_LEN);
	return pq_fetch_one(q, st, read_session, out, "session_get");
}

enum rc pg_session_delete(struct store *s, int64_t tenant, const unsigned char *hash, const char *user_id,
                          int64_t idle_before)
{
	static const char sql[] =
		"DELETE FROM staff_sessions WHERE tenant_id = $1 AND (session_hash = $2 OR user_id = $3 OR last_seen < $4)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, TOKEN_HASH_LEN);
	bind_opt_id(st, 3, TOKEN_PREFIX_USER, user_id);
	bind_int(st, 4, idle_before);
	return pq_run(q, st, "session_delete");
}
