/*
 * postgres/consent.c: consents (the append-only history of events and the
 * current state per subject and purpose), the audience of a purpose, the
 * consent check by lookup hash, used single-use tokens and suppressions.
 *
 * The check by lookup hash is the hot path of the consent API: one
 * statement answers it, however many subjects share the hash, and for as
 * many hashes as a server's concurrent checks bring (core/consent.c).
 */
#include "store/postgres/internal.h"

enum rc pg_consent_event_insert(struct store *s, int64_t tenant, const struct store_consent_event *e,
                                    int64_t *event_id)
{
	static const char sql[] =
		"INSERT INTO consent_events (tenant_id, event_id, subject_id, purpose, action, at, source, channel, "
		"policy_version, wording, evidence, actor) VALUES ($1, (SELECT COALESCE(MAX(event_id), 0) + 1 FROM "
		"consent_events WHERE tenant_id = $1), $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING event_id";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, e->subject_id);
	bind_text(st, 3, e->purpose);
	bind_text(st, 4, e->action);
	bind_int(st, 5, e->at);
	bind_opt_text(st, 6, e->source);
	bind_opt_text(st, 7, e->channel);
	bind_text(st, 8, e->policy_version);
	bind_opt_text(st, 9, e->wording);
	bind_blob(st, 10, e->evidence, e->evidence_len);
	bind_text(st, 11, e->actor);
	rc = pq_fetch_one(q, st, read_count, event_id, "consent_event_insert");
	return rc == RC_NOT_FOUND ? RC_DB : rc; /* RETURNING always gives a row */
}

static void read_consent_event(struct pq_stmt *st, void *out)
{
	struct store_consent_event *e = out;
	e->event_id = col_int(st, 0);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, e->subject_id);
	e->purpose = col_text(st, 2);
	e->action = col_text(st, 3);
	e->at = col_int(st, 4);
	e->source = col_opt_text(st, 5);
	e->channel = col_opt_text(st, 6);
	e->policy_version = col_text(st, 7);
	e->wording = col_opt_text(st, 8);
	e->evidence = col_blob(st, 9, &e->evidence_len);
	e->actor = col_text(st, 10);
}

enum rc pg_consent_events_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                          struct store_consent_event **out, size_t *n)
{
	static const char sql[] =
		"SELECT event_id, subject_id, purpose, action, at, source, channel, policy_version, wording, evidence, actor "
		"FROM consent_events WHERE tenant_id = $1 AND subject_id = $2 "
		"ORDER BY event_id";
	*out = NULL;
	*n = 0;
	return pq_fetch_all_by_id(pq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, read_consent_event, sizeof **out,
	                          (void **)out, n, "consent_events");
}

enum rc pg_consent_state_set(struct store *s, int64_t tenant, const char *subject_id, const char *purpose,
                                 const char *state, int64_t at)
{
	static const char sql[] =
		"INSERT INTO consent_state (tenant_id, subject_id, purpose, state, updated_at) VALUES ($1, $2, $3, $4, $5) "
		"ON CONFLICT (tenant_id, subject_id, purpose) DO UPDATE SET state = excluded.state, "
		"updated_at = excluded.updated_at";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	bind_text(st, 3, purpose);
	bind_text(st, 4, state);
	bind_int(st, 5, at);
	return pq_run(q, st, "consent_state_set");
}

static void read_state_text(struct pq_stmt *st, void *out)
{
	col_copy(st, 0, out, 16);
}

enum rc pg_consent_state_get(struct store *s, int64_t tenant, const char *subject_id, const char *purpose,
                                 char state[16])
{
	static const char sql[] =
		"SELECT state FROM consent_state WHERE tenant_id = $1 AND subject_id = $2 AND purpose = $3";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	bind_text(st, 3, purpose);
	return pq_fetch_one(q, st, read_state_text, state, "consent_state_get");
}

static void read_consent_state(struct pq_stmt *st, void *out)
{
	struct store_consent_state *c = out;
	col_id(st, 0, TOKEN_PREFIX_SUBJECT, c->subject_id);
	c->purpose = col_text(st, 1);
	col_copy(st, 2, c->state, sizeof c->state);
	c->updated_at = col_int(st, 3);
}

enum rc pg_consent_states_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                          struct store_consent_state **out, size_t *n)
{
	static const char sql[] =
		"SELECT subject_id, purpose, state, updated_at FROM consent_state WHERE tenant_id = $1 AND subject_id = $2 "
		"ORDER BY purpose COLLATE \"C\"";
	*out = NULL;
	*n = 0;
	return pq_fetch_all_by_id(pq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, read_consent_state, sizeof **out,
	                          (void **)out, n, "consent_states");
}

enum rc pg_consent_by_lookups(struct store *s, int64_t tenant, const char *purpose,
                              struct store_consent_query *qs, size_t k, size_t max)
{
	/* A subject whose key is destroyed counts as gone: state 'erased'. The
	 * k hashes travel as one parameter, VAULT_HASH_LEN bytes each; the
	 * i-th is looked up by index as its own LATERAL query with its own
	 * LIMIT, so one shared hash cannot crowd out the others' rows. The
	 * series is fixed and filtered by $4, not bounded by it: with $4 as
	 * its bound the generic plan's estimate (1,000 rows) made PostgreSQL
	 * plan the statement anew on every call. Most of
	 * a lone check's cost on this side is the statement's fixed part (the
	 * round trip, the protocol, the executor's start), which k checks
	 * share here (bench/RESULTS.md). */
	static const char sql[] =
		"SELECT q.i, x.subject_id, x.state FROM generate_series(1, 64) AS q (i) CROSS JOIN LATERAL "
		"(SELECT DISTINCT r.subject_id, CASE WHEN s.wrapped_key IS NULL THEN 'erased' "
		"WHEN s.restricted <> 0 THEN 'restricted' ELSE COALESCE(c.state, '') END AS state FROM lookups l "
		"JOIN records r ON r.tenant_id = l.tenant_id AND r.record_id = l.record_id "
		"JOIN subjects s ON s.tenant_id = r.tenant_id AND s.subject_id = r.subject_id "
		"LEFT JOIN consent_state c ON c.tenant_id = r.tenant_id AND c.subject_id = r.subject_id AND c.purpose = $3 "
		"WHERE l.tenant_id = $1 AND l.hash = substring($2 FROM (q.i - 1) * 16 + 1 FOR 16) LIMIT $5) AS x "
		"WHERE q.i <= $4";
	_Static_assert(VAULT_HASH_LEN == 16, "the statement cuts $2 into hashes of 16 bytes");
	_Static_assert(STORE_CONSENT_QUERIES_MAX == 64, "the statement counts up to 64 hashes");
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	unsigned char hashes[STORE_CONSENT_QUERIES_MAX * VAULT_HASH_LEN];
	for (size_t i = 0; i < k; i++)
		qs[i].n = 0;
	if (k == 0)
		return RC_OK;
	if (k > STORE_CONSENT_QUERIES_MAX)
		return RC_INTERNAL;
	for (size_t i = 0; i < k; i++)
		memcpy(hashes + i * VAULT_HASH_LEN, qs[i].hash, VAULT_HASH_LEN);
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hashes, k * VAULT_HASH_LEN);
	bind_text(st, 3, purpose);
	bind_int(st, 4, (int64_t)k);
	bind_int(st, 5, (int64_t)max);
	int src;
	while ((src = pq_step(st)) == PQ_ROW) {
		int64_t i = col_int(st, 0);
		if (i < 1 || (size_t)i > k || qs[i - 1].n >= max)
			continue; /* LIMIT $5 keeps to max: nothing to take */
		struct store_consent_state *c = &qs[i - 1].out[qs[i - 1].n++];
		col_id(st, 1, TOKEN_PREFIX_SUBJECT, c->subject_id);
		col_copy(st, 2, c->state, sizeof c->state);
	}
	rc = src == PQ_DONE ? RC_OK : pq_map_rc(q, "consent_by_lookups");
	done(st);
	return rc;
}

enum rc pg_consent_audience(struct store *s, int64_t tenant, const char *purpose, const char *state,
                                const char *after, char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	static const char sql[] =
		"SELECT subject_id FROM consent_state WHERE tenant_id = $1 "
		"AND purpose = $2 AND state = $3 AND subject_id > $4 ORDER BY subject_id LIMIT $5";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, purpose);
	bind_text(st, 3, state);
	bind_after(st, 4, TOKEN_PREFIX_SUBJECT, after);
	bind_int(st, 5, (int64_t)max);
	int src;
	while ((src = pq_step(st)) == PQ_ROW)
		col_id(st, 0, TOKEN_PREFIX_SUBJECT, ids[(*n)++]);
	rc = src == PQ_DONE ? RC_OK : pq_map_rc(q, "consent_audience");
	done(st);
	return rc;
}

enum rc pg_token_use(struct store *s, int64_t tenant, const unsigned char hash[32], int64_t at)
{
	static const char sql[] = "INSERT INTO used_tokens (tenant_id, hash, used_at) VALUES ($1, $2, $3)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, 32);
	bind_int(st, 3, at);
	return pq_run(q, st, "token_use");
}

enum rc pg_consents_delete(struct store *s, int64_t tenant, const char *subject_id)
{
	static const char events[] = "DELETE FROM consent_events WHERE tenant_id = $1 AND subject_id = $2";
	static const char state[] = "DELETE FROM consent_state WHERE tenant_id = $1 AND subject_id = $2";
	struct pg_store *q = pq(s);
	enum rc rc = pq_run_tenant_id(q, events, tenant, TOKEN_PREFIX_SUBJECT, subject_id, "consents_delete");
	return rc ? rc : pq_run_tenant_id(q, state, tenant, TOKEN_PREFIX_SUBJECT, subject_id, "consents_delete");
}

/* ---- suppressions ---- */

enum rc pg_suppression_insert(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
                                  int64_t at)
{
	static const char sql[] =
		"INSERT INTO suppressions (tenant_id, hash, at) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	bind_int(st, 3, at);
	return pq_run(q, st, "suppression_insert");
}

enum rc pg_suppression_exists(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN])
{
	static const char sql[] = "SELECT 1 FROM suppressions WHERE tenant_id = $1 AND hash = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	int64_t one;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	return pq_fetch_one(q, st, read_count, &one, "suppression_exists");
}

/* ---- the cookie banner's choices (schema 19) ---- */

enum rc pg_banner_consent_put(struct store *s, int64_t tenant, const struct store_banner_consent *b)
{
	static const char sql[] =
		"INSERT INTO banner_consents (tenant_id, visitor, category, accepted, gpc, policy_version, wording, at) "
		"VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
		"ON CONFLICT (tenant_id, visitor, category) DO UPDATE SET accepted = EXCLUDED.accepted, gpc = EXCLUDED.gpc, policy_version = EXCLUDED.policy_version, wording = EXCLUDED.wording, at = EXCLUDED.at";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, b->visitor);
	bind_text(st, 3, b->category);
	bind_int(st, 4, b->accepted);
	bind_int(st, 5, b->gpc);
	bind_text(st, 6, b->policy_version);
	bind_text(st, 7, b->wording);
	bind_int(st, 8, b->at);
	return pq_run(q, st, "banner_consent_put");
}

static void read_banner_count(struct pq_stmt *st, void *out)
{
	struct store_banner_count *r = out;
	col_copy(st, 0, r->policy_version, sizeof r->policy_version);
	col_copy(st, 1, r->category, sizeof r->category);
	r->accepted = col_int(st, 2);
	r->refused = col_int(st, 3);
	r->gpc = col_int(st, 4);
}

enum rc pg_banner_counts(struct store *s, int64_t tenant, struct store_banner_count **out, size_t *n)
{
	static const char sql[] =
		"SELECT policy_version, category, SUM(CASE WHEN accepted <> 0 THEN 1 ELSE 0 END), "
		"SUM(CASE WHEN accepted <> 0 THEN 0 ELSE 1 END), SUM(CASE WHEN gpc <> 0 THEN 1 ELSE 0 END) "
		"FROM banner_consents WHERE tenant_id = $1 GROUP BY policy_version, category "
		"ORDER BY policy_version, category";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	return pq_fetch_all(q, st, read_banner_count, sizeof **out, (void **)out, n, "banner_counts");
}

enum rc pg_banner_expire(struct store *s, int64_t tenant, int64_t before, size_t max, size_t *n)
{
	static const char sql[] =
		"DELETE FROM banner_consents WHERE tenant_id = $1 AND (visitor, category) IN (SELECT visitor, category "
		"FROM banner_consents WHERE tenant_id = $1 AND at < $2 LIMIT $3)";
	return pq_expire(pq(s), sql, tenant, before, max, n, "banner_expire");
}
