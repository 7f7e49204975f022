/*
 * sqlite/consent.c: consents (the append-only history of events and the
 * current state per subject and purpose), the audience of a purpose, the
 * consent check by lookup hash, used single-use tokens and suppressions.
 *
 * The check by lookup hash is the hot path of the consent API: one
 * statement answers it, however many subjects share the hash.
 */
#include "store/sqlite/internal.h"

enum rc sqlite_consent_event_insert(struct store *s, int64_t tenant, const struct store_consent_event *e,
                                    int64_t *event_id)
{
	static const char sql[] =
		"INSERT INTO consent_events (tenant_id, event_id, subject_id, purpose, action, at, source, channel, "
		"policy_version, wording, evidence, actor) VALUES (?1, (SELECT COALESCE(MAX(event_id), 0) + 1 FROM "
		"consent_events WHERE tenant_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) RETURNING event_id";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, e->subject_id);
	bind_text(st, 3, e->purpose);
	bind_text(st, 4, e->action);
	sqlite3_bind_int64(st, 5, e->at);
	bind_opt_text(st, 6, e->source);
	bind_opt_text(st, 7, e->channel);
	bind_text(st, 8, e->policy_version);
	bind_opt_text(st, 9, e->wording);
	bind_blob(st, 10, e->evidence, e->evidence_len);
	bind_text(st, 11, e->actor);
	rc = sq_fetch_one(q, st, read_count, event_id, "consent_event_insert");
	return rc == RC_NOT_FOUND ? RC_DB : rc; /* RETURNING always gives a row */
}

static void read_consent_event(sqlite3_stmt *st, void *out)
{
	struct store_consent_event *e = out;
	e->event_id = sqlite3_column_int64(st, 0);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, e->subject_id);
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

enum rc sqlite_consent_events_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                          struct store_consent_event **out, size_t *n)
{
	/* INDEXED BY: see internal.h. */
	static const char sql[] =
		"SELECT event_id, subject_id, purpose, action, at, source, channel, policy_version, wording, evidence, actor "
		"FROM consent_events INDEXED BY consent_events_by_subject WHERE tenant_id = ?1 AND subject_id = ?2 "
		"ORDER BY event_id";
	*out = NULL;
	*n = 0;
	return sq_fetch_all_by_id(sq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, read_consent_event, sizeof **out,
	                          (void **)out, n, "consent_events");
}

enum rc sqlite_consent_state_set(struct store *s, int64_t tenant, const char *subject_id, const char *purpose,
                                 const char *state, int64_t at)
{
	static const char sql[] =
		"INSERT INTO consent_state (tenant_id, subject_id, purpose, state, updated_at) VALUES (?1, ?2, ?3, ?4, ?5) "
		"ON CONFLICT (tenant_id, subject_id, purpose) DO UPDATE SET state = excluded.state, "
		"updated_at = excluded.updated_at";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	bind_text(st, 3, purpose);
	bind_text(st, 4, state);
	sqlite3_bind_int64(st, 5, at);
	return sq_run(q, st, "consent_state_set");
}

static void read_state_text(sqlite3_stmt *st, void *out)
{
	col_copy(st, 0, out, 16);
}

enum rc sqlite_consent_state_get(struct store *s, int64_t tenant, const char *subject_id, const char *purpose,
                                 char state[16])
{
	static const char sql[] =
		"SELECT state FROM consent_state WHERE tenant_id = ?1 AND subject_id = ?2 AND purpose = ?3";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	bind_text(st, 3, purpose);
	return sq_fetch_one(q, st, read_state_text, state, "consent_state_get");
}

static void read_consent_state(sqlite3_stmt *st, void *out)
{
	struct store_consent_state *c = out;
	col_id(st, 0, TOKEN_PREFIX_SUBJECT, c->subject_id);
	c->purpose = col_text(st, 1);
	col_copy(st, 2, c->state, sizeof c->state);
	c->updated_at = sqlite3_column_int64(st, 3);
}

enum rc sqlite_consent_states_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                          struct store_consent_state **out, size_t *n)
{
	static const char sql[] =
		"SELECT subject_id, purpose, state, updated_at FROM consent_state WHERE tenant_id = ?1 AND subject_id = ?2 "
		"ORDER BY purpose";
	*out = NULL;
	*n = 0;
	return sq_fetch_all_by_id(sq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, read_consent_state, sizeof **out,
	                          (void **)out, n, "consent_states");
}

enum rc sqlite_consent_by_lookups(struct store *s, int64_t tenant, const char *purpose,
                                  struct store_consent_query *qs, size_t k, size_t max)
{
	/* A subject whose key is destroyed counts as gone: state 'erased'. The
	 * CROSS JOINs keep SQLite's planner to this order: hash, record, subject.
	 * A call inside the process costs no round trip: one hash at a time. */
	static const char sql[] =
		"SELECT DISTINCT r.subject_id, CASE WHEN s.wrapped_key IS NULL THEN 'erased' "
		"WHEN s.restricted THEN 'restricted' ELSE COALESCE(c.state, '') END FROM lookups l "
		"CROSS JOIN records r ON r.tenant_id = l.tenant_id AND r.record_id = l.record_id "
		"CROSS JOIN subjects s ON s.tenant_id = r.tenant_id AND s.subject_id = r.subject_id "
		"LEFT JOIN consent_state c ON c.tenant_id = r.tenant_id AND c.subject_id = r.subject_id AND c.purpose = ?3 "
		"WHERE l.tenant_id = ?1 AND l.hash = ?2 LIMIT ?4";
	struct sqlite_store *q = sq(s);
	for (size_t i = 0; i < k; i++)
		qs[i].n = 0;
	if (k > STORE_CONSENT_QUERIES_MAX)
		return RC_INTERNAL;
	enum rc rc = sq_lookups_flush(q);
	for (size_t i = 0; !rc && i < k; i++) {
		sqlite3_stmt *st = NULL;
		if ((rc = sq_tenant(q, sql, tenant, &st)))
			break;
		bind_blob(st, 2, qs[i].hash, VAULT_HASH_LEN);
		bind_text(st, 3, purpose);
		sqlite3_bind_int64(st, 4, (sqlite3_int64)max);
		int src;
		while ((src = sqlite3_step(st)) == SQLITE_ROW && qs[i].n < max) {
			struct store_consent_state *c = &qs[i].out[qs[i].n++];
			col_id(st, 0, TOKEN_PREFIX_SUBJECT, c->subject_id);
			col_copy(st, 1, c->state, sizeof c->state);
		}
		rc = src == SQLITE_DONE || src == SQLITE_ROW ? RC_OK : sq_map_rc(q, src, "consent_by_lookups");
		done(st);
	}
	return rc;
}

enum rc sqlite_consent_audience(struct store *s, int64_t tenant, const char *purpose, const char *state,
                                const char *after, char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	/* INDEXED BY: see internal.h. */
	static const char sql[] =
		"SELECT subject_id FROM consent_state INDEXED BY consent_state_by_purpose WHERE tenant_id = ?1 "
		"AND purpose = ?2 AND state = ?3 AND subject_id > ?4 ORDER BY subject_id LIMIT ?5";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, purpose);
	bind_text(st, 3, state);
	bind_after(st, 4, TOKEN_PREFIX_SUBJECT, after);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)max);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		col_id(st, 0, TOKEN_PREFIX_SUBJECT, ids[(*n)++]);
	rc = src == SQLITE_DONE ? RC_OK : sq_map_rc(q, src, "consent_audience");
	done(st);
	return rc;
}

enum rc sqlite_token_use(struct store *s, int64_t tenant, const unsigned char hash[32], int64_t at)
{
	static const char sql[] = "INSERT INTO used_tokens (tenant_id, hash, used_at) VALUES (?1, ?2, ?3)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, 32);
	sqlite3_bind_int64(st, 3, at);
	return sq_run(q, st, "token_use");
}

enum rc sqlite_consents_delete(struct store *s, int64_t tenant, const char *subject_id)
{
	static const char events[] = "DELETE FROM consent_events WHERE tenant_id = ?1 AND subject_id = ?2";
	static const char state[] = "DELETE FROM consent_state WHERE tenant_id = ?1 AND subject_id = ?2";
	struct sqlite_store *q = sq(s);
	enum rc rc = sq_run_tenant_id(q, events, tenant, TOKEN_PREFIX_SUBJECT, subject_id, "consents_delete");
	return rc ? rc : sq_run_tenant_id(q, state, tenant, TOKEN_PREFIX_SUBJECT, subject_id, "consents_delete");
}

/* ---- suppressions ---- */

enum rc sqlite_suppression_insert(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
                                  int64_t at)
{
	static const char sql[] =
		"INSERT INTO suppressions (tenant_id, hash, at) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	sqlite3_bind_int64(st, 3, at);
	return sq_run(q, st, "suppression_insert");
}

enum rc sqlite_suppression_exists(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN])
{
	static const char sql[] = "SELECT 1 FROM suppressions WHERE tenant_id = ?1 AND hash = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	int64_t one;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	return sq_fetch_one(q, st, read_count, &one, "suppression_exists");
}

/* ---- the cookie banner's choices (schema 19) ---- */

enum rc sqlite_banner_consent_put(struct store *s, int64_t tenant, const struct store_banner_consent *b)
{
	static const char sql[] =
		"INSERT INTO banner_consents (tenant_id, visitor, category, accepted, gpc, policy_version, wording, at) "
		"VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8) "
		"ON CONFLICT (tenant_id, visitor, category) DO UPDATE SET accepted = ?4, gpc = ?5, policy_version = ?6, wording = ?7, at = ?8";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, b->visitor);
	bind_text(st, 3, b->category);
	sqlite3_bind_int64(st, 4, b->accepted);
	sqlite3_bind_int64(st, 5, b->gpc);
	bind_text(st, 6, b->policy_version);
	bind_text(st, 7, b->wording);
	sqlite3_bind_int64(st, 8, b->at);
	return sq_run(q, st, "banner_consent_put");
}

static void read_banner_count(sqlite3_stmt *st, void *out)
{
	struct store_banner_count *r = out;
	col_copy(st, 0, r->policy_version, sizeof r->policy_version);
	col_copy(st, 1, r->category, sizeof r->category);
	r->accepted = sqlite3_column_int64(st, 2);
	r->refused = sqlite3_column_int64(st, 3);
	r->gpc = sqlite3_column_int64(st, 4);
}

enum rc sqlite_banner_counts(struct store *s, int64_t tenant, struct store_banner_count **out, size_t *n)
{
	static const char sql[] =
		"SELECT policy_version, category, SUM(CASE WHEN accepted <> 0 THEN 1 ELSE 0 END), "
		"SUM(CASE WHEN accepted <> 0 THEN 0 ELSE 1 END), SUM(CASE WHEN gpc <> 0 THEN 1 ELSE 0 END) "
		"FROM banner_consents WHERE tenant_id = ?1 GROUP BY policy_version, category "
		"ORDER BY policy_version, category";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	return sq_fetch_all(q, st, read_banner_count, sizeof **out, (void **)out, n, "banner_counts");
}

enum rc sqlite_banner_expire(struct store *s, int64_t tenant, int64_t before, size_t max, size_t *n)
{
	static const char sql[] =
		"DELETE FROM banner_consents WHERE tenant_id = ?1 AND (visitor, category) IN (SELECT visitor, category "
		"FROM banner_consents WHERE tenant_id = ?1 AND at < ?2 LIMIT ?3)";
	return sq_expire(sq(s), sql, tenant, before, max, n, "banner_expire");
}
