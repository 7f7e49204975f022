/*
 * sqlite/tenants.c: tenants, their policy versions, API keys and the counts
 * of what a tenant holds. Tenants and keys found by key id are the only
 * reads not scoped by a tenant: they are how a request finds its tenant.
 */
#include "store/sqlite/internal.h"

#include <stdlib.h>

#include "base/log.h"

enum rc sqlite_tenant_insert(struct store *s, const char *name, int64_t at, int64_t *id)
{
	/* Past the highest id ever given, deleted tenants' included. */
	static const char sql[] =
		"INSERT INTO tenants (tenant_id, name, created_at) VALUES ((SELECT max(m) + 1 FROM ("
		"SELECT coalesce(max(tenant_id), 0) AS m FROM tenants UNION ALL "
		"SELECT coalesce(max(tenant_id), 0) FROM tenant_tombstones)), ?1, ?2)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_stmt(q, sql, &st);
	if (rc)
		return rc;
	bind_text(st, 1, name);
	sqlite3_bind_int64(st, 2, at);
	rc = sq_run(q, st, "tenant_insert");
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

enum rc sqlite_tenant_find(struct store *s, const char *name, struct store_tenant *out)
{
	static const char sql[] = "SELECT tenant_id, name, created_at FROM tenants WHERE name = ?1";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_stmt(q, sql, &st);
	if (rc)
		return rc;
	bind_text(st, 1, name);
	return sq_fetch_one(q, st, read_tenant, out, "tenant_find");
}

enum rc sqlite_tenant_list(struct store *s, struct store_tenant **out, size_t *n)
{
	static const char sql[] = "SELECT tenant_id, name, created_at FROM tenants ORDER BY tenant_id";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_stmt(q, sql, &st);
	return rc ? rc : sq_fetch_all(q, st, read_tenant, sizeof **out, (void **)out, n, "tenant_list");
}

/* Every table that holds a tenant's rows, children first, the tenant's own
 * row last. A table added by a migration must be added here: delete checks
 * the schema and refuses to leave a table with a tenant_id behind. */
static const char *const tenant_tables[] = {
	"record_events", "lookups", "records", "consent_events", "consent_state", "used_tokens", "outbox",
	"idempotency", "request_requesters", "seal_queue", "requests", "suppressions", "holds", "disclosures", "id_legacy", "audit", "api_keys", "policies",
	"subjects", "ledger_position", "ledger_skipped", "attestations", "last_sweep", "staff_sessions", "staff_users", "banner_consents",
	"portal_sessions",
};

static const char *const tenant_deletes[] = {
	"DELETE FROM record_events WHERE tenant_id = ?1", "DELETE FROM lookups WHERE tenant_id = ?1",
	"DELETE FROM records WHERE tenant_id = ?1", "DELETE FROM consent_events WHERE tenant_id = ?1",
	"DELETE FROM consent_state WHERE tenant_id = ?1", "DELETE FROM used_tokens WHERE tenant_id = ?1",
	"DELETE FROM outbox WHERE tenant_id = ?1", "DELETE FROM idempotency WHERE tenant_id = ?1",
	"DELETE FROM request_requesters WHERE tenant_id = ?1", "DELETE FROM seal_queue WHERE tenant_id = ?1",
	"DELETE FROM requests WHERE tenant_id = ?1",
	"DELETE FROM suppressions WHERE tenant_id = ?1", "DELETE FROM holds WHERE tenant_id = ?1",
	"DELETE FROM disclosures WHERE tenant_id = ?1", "DELETE FROM id_legacy WHERE tenant_id = ?1",
	"DELETE FROM audit WHERE tenant_id = ?1", "DELETE FROM api_keys WHERE tenant_id = ?1",
	"DELETE FROM policies WHERE tenant_id = ?1", "DELETE FROM subjects WHERE tenant_id = ?1",
	"DELETE FROM ledger_position WHERE tenant_id = ?1",
	"DELETE FROM ledger_skipped WHERE tenant_id = ?1",
	"DELETE FROM attestations WHERE tenant_id = ?1", "DELETE FROM last_sweep WHERE tenant_id = ?1",
	"DELETE FROM staff_sessions WHERE tenant_id = ?1", "DELETE FROM staff_users WHERE tenant_id = ?1",
	"DELETE FROM banner_consents WHERE tenant_id = ?1",
	"DELETE FROM portal_sessions WHERE tenant_id = ?1",
};
_Static_assert(sizeof tenant_tables / sizeof tenant_tables[0] == sizeof tenant_deletes / sizeof tenant_deletes[0],
               "one DELETE per table, in the same order");

static void read_name(sqlite3_stmt *st, void *out)
{
	*(char **)out = col_text(st, 0);
}

/* RC_OK when every table with a tenant_id column is in tenant_tables. */
static enum rc tables_covered(struct sqlite_store *q)
{
	static const char sql[] =
		"SELECT m.name FROM sqlite_master AS m, pragma_table_info(m.name) AS c "
		"WHERE m.type = 'table' AND c.name = 'tenant_id' AND m.name NOT IN ('tenants', 'tenant_tombstones')";
	sqlite3_stmt *st = NULL;
	char **names = NULL;
	size_t n = 0;
	enum rc rc = sq_stmt(q, sql, &st);
	if (!rc)
		rc = sq_fetch_all(q, st, read_name, sizeof *names, (void **)&names, &n, "tenant_tables");
	for (size_t i = 0; i < n; i++) {
		bool known = false;
		for (size_t k = 0; k < sizeof tenant_tables / sizeof tenant_tables[0] && !known; k++)
			known = !strcmp(names[i], tenant_tables[k]);
		if (!known && !rc) {
			log_error("tenant_delete: table %s holds tenant rows and is not in the list to delete", names[i]);
			rc = RC_INTERNAL;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

enum rc sqlite_tenant_delete(struct store *s, int64_t tenant, int64_t at, int64_t *rows)
{
	static const char tenant_row[] = "DELETE FROM tenants WHERE tenant_id = ?1";
	static const char tombstone[] = "INSERT OR REPLACE INTO tenant_tombstones (tenant_id, deleted_at) VALUES (?1, ?2)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*rows = 0;
	enum rc rc = sq_lookups_flush(q);
	if (!rc)
		rc = tables_covered(q);
	/* The tombstone first: it is what lets the audit rows go (0011). */
	if (!rc)
		rc = sq_tenant(q, tombstone, tenant, &st);
	if (!rc) {
		sqlite3_bind_int64(st, 2, at);
		rc = sq_run(q, st, "tenant_tombstone");
	}
	for (size_t i = 0; !rc && i < sizeof tenant_deletes / sizeof tenant_deletes[0]; i++) {
		rc = sq_tenant(q, tenant_deletes[i], tenant, &st);
		if (!rc)
			rc = sq_run(q, st, "tenant_delete");
		if (!rc)
			*rows += sqlite3_changes(q->db);
	}
	if (!rc)
		rc = sq_tenant(q, tenant_row, tenant, &st);
	if (!rc)
		rc = sq_run(q, st, "tenant_delete");
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = RC_NOT_FOUND;
	return rc;
}

/* ---- policies ---- */

enum rc sqlite_policy_insert(struct store *s, int64_t tenant, const char *version, const char *source, int64_t at)
{
	static const char sql[] =
		"INSERT INTO policies (tenant_id, version_no, label, source, installed_at) "
		"VALUES (?1, (SELECT COALESCE(MAX(version_no), 0) + 1 FROM policies WHERE tenant_id = ?1), ?2, ?3, ?4)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, version);
	bind_text(st, 3, source);
	sqlite3_bind_int64(st, 4, at);
	return sq_run(q, st, "policy_insert");
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

enum rc sqlite_policy_current(struct store *s, int64_t tenant, char **version, char **source)
{
	static const char sql[] =
		"SELECT label, source FROM policies WHERE tenant_id = ?1 ORDER BY version_no DESC LIMIT 1";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	struct policy_row p = {NULL, NULL};
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	rc = sq_fetch_one(q, st, read_policy, &p, "policy_current");
	*version = p.version;
	*source = p.source;
	return rc;
}

enum rc sqlite_policy_version_exists(struct store *s, int64_t tenant, const char *version)
{
	static const char sql[] = "SELECT 1 FROM policies WHERE tenant_id = ?1 AND label = ?2 LIMIT 1";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	int64_t one;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, version);
	return sq_fetch_one(q, st, read_count, &one, "policy_version_exists");
}

/* ---- API keys ---- */

enum rc sqlite_apikey_insert(struct store *s, const struct store_apikey *k)
{
	static const char sql[] =
		"INSERT INTO api_keys (tenant_id, key_id, role, hash, created_at) VALUES (?1, ?2, ?3, ?4, ?5)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, k->tenant_id, &st);
	if (rc)
		return rc;
	bind_text(st, 2, k->key_id);
	bind_text(st, 3, k->role);
	bind_blob(st, 4, k->hash, TOKEN_HASH_LEN);
	sqlite3_bind_int64(st, 5, k->created_at);
	return sq_run(q, st, "apikey_insert");
}

static void read_apikey(sqlite3_stmt *st, void *out)
{
	struct store_apikey *k = out;
	k->tenant_id = sqlite3_column_int64(st, 0);
	col_copy(st, 1, k->key_id, sizeof k->key_id);
	k->role = col_text(st, 2);
	col_fixed(st, 3, k->hash, TOKEN_HASH_LEN);
	k->created_at = sqlite3_column_int64(st, 4);
	k->revoked_at = sqlite3_column_int64(st, 5);
}

enum rc sqlite_apikey_get(struct store *s, const char *key_id, struct store_apikey *out)
{
	static const char sql[] =
		"SELECT tenant_id, key_id, role, hash, created_at, revoked_at FROM api_keys WHERE key_id = ?1";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = sq_stmt(q, sql, &st);
	if (rc)
		return rc;
	bind_text(st, 1, key_id);
	return sq_fetch_one(q, st, read_apikey, out, "apikey_get");
}

enum rc sqlite_apikey_list(struct store *s, int64_t tenant, struct store_apikey **out, size_t *n)
{
	static const char sql[] =
		"SELECT tenant_id, key_id, role, hash, created_at, revoked_at FROM api_keys "
		"WHERE tenant_id = ?1 ORDER BY created_at, key_id";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	return rc ? rc : sq_fetch_all(q, st, read_apikey, sizeof **out, (void **)out, n, "apikey_list");
}

enum rc sqlite_apikey_revoke(struct store *s, int64_t tenant, const char *key_id, int64_t at)
{
	static const char sql[] =
		"UPDATE api_keys SET revoked_at = ?3 WHERE tenant_id = ?1 AND key_id = ?2 AND revoked_at IS NULL";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, key_id);
	sqlite3_bind_int64(st, 3, at);
	rc = sq_run(q, st, "apikey_revoke");
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

/* ---- counts ---- */

static enum rc count(struct sqlite_store *q, const char *sql, int64_t tenant, int64_t *out)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	return rc ? rc : sq_fetch_one(q, st, read_count, out, "count");
}

enum rc sqlite_counts(struct store *s, int64_t tenant, struct store_counts *out)
{
	static const char subjects[] = "SELECT count(*) FROM subjects WHERE tenant_id = ?1";
	static const char records[] = "SELECT count(*) FROM records WHERE tenant_id = ?1";
	enum rc rc = count(sq(s), subjects, tenant, &out->subjects);
	return rc ? rc : count(sq(s), records, tenant, &out->records);
}
