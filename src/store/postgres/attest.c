/*
 * postgres/attest.c: what an attestation (core/attest.h) reads beyond the
 * other domains: every policy version with its install time, the signed
 * attestations kept (the latest starts the next one's period), and the
 * time of the last retention sweep. As sqlite/attest.c.
 *
 * Attestations are numbered per tenant (serial, from 1) and never updated;
 * the writer lock (conn.c) keeps two inserts from taking the same serial.
 */
#include "store/postgres/internal.h"

static void read_version(struct pq_stmt *st, void *out)
{
	struct store_policy_version *v = out;
	v->version = col_text(st, 0);
	v->source = col_text(st, 1);
	v->at = col_int(st, 2);
}

enum rc pg_policy_versions(struct store *s, int64_t tenant, struct store_policy_version **out, size_t *n)
{
	static const char sql[] =
		"SELECT label, source, installed_at FROM policies WHERE tenant_id = $1 ORDER BY version_no";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	rc = pq_fetch_all(q, st, read_version, sizeof **out, (void **)out, n, "policy_versions");
	if (rc) {
		store_policy_versions_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

enum rc pg_attestation_insert(struct store *s, int64_t tenant, int64_t as_of, int64_t period_from,
                              const char *document)
{
	static const char sql[] =
		"INSERT INTO attestations (tenant_id, serial, as_of, period_from, document) "
		"VALUES ($1, (SELECT COALESCE(MAX(serial), 0) + 1 FROM attestations WHERE tenant_id = $1), $2, $3, $4)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, as_of);
	bind_int(st, 3, period_from);
	bind_text(st, 4, document);
	return pq_run(q, st, "attestation_insert");
}

struct latest_row {
	int64_t as_of;
	char *document;
};

static void read_latest(struct pq_stmt *st, void *out)
{
	struct latest_row *r = out;
	r->as_of = col_int(st, 0);
	r->document = col_text(st, 1);
}

enum rc pg_attestation_latest(struct store *s, int64_t tenant, int64_t *as_of, char **document)
{
	static const char sql[] =
		"SELECT as_of, document FROM attestations WHERE tenant_id = $1 ORDER BY serial DESC LIMIT 1";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	struct latest_row r = {0, NULL};
	*document = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	rc = pq_fetch_one(q, st, read_latest, &r, "attestation_latest");
	*as_of = r.as_of;
	*document = r.document;
	return rc;
}

enum rc pg_sweep_last(struct store *s, int64_t tenant, int64_t *at)
{
	static const char sql[] = "SELECT at FROM last_sweep WHERE tenant_id = $1";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*at = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	return pq_fetch_one(q, st, read_count, at, "sweep_last");
}

enum rc pg_sweep_note(struct store *s, int64_t tenant, int64_t at)
{
	static const char sql[] = "INSERT INTO last_sweep (tenant_id, at) VALUES ($1, $2) "
	                          "ON CONFLICT (tenant_id) DO UPDATE SET at = EXCLUDED.at";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, at);
	return pq_run(q, st, "sweep_note");
}
