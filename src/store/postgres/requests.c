/*
 * postgres/requests.c: data-subject requests: insert, read, update, list by
 * filter, and the counts of open and late ones.
 *
 * Which statuses count as open is the caller's (core's) to say: the set is
 * bound as parameters, STORE_STATUSES_MAX slots, unused ones NULL (which
 * matches nothing). A larger set is RC_INVALID, never cut short.
 */
#include "store/postgres/internal.h"

/* Binds v[0..n) to the slots from `first` and NULL to the rest. */
static void bind_statuses(struct pq_stmt *st, int first, const char *const *v, size_t n)
{
	for (size_t i = 0; i < STORE_STATUSES_MAX; i++)
		bind_opt_text(st, first + (int)i, i < n ? v[i] : NULL);
}

enum rc pg_request_insert(struct store *s, int64_t tenant, const struct store_request *r)
{
	static const char sql[] =
		"INSERT INTO requests (tenant_id, request_id, subject_id, type, status, channel, received_at, due_at, "
		"target_at, verified_by, details, nobody, notes) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_REQUEST, r->id);
	bind_id(st, 3, TOKEN_PREFIX_SUBJECT, r->subject_id);
	bind_text(st, 4, r->type);
	bind_text(st, 5, r->status);
	bind_opt_text(st, 6, r->channel);
	bind_int(st, 7, r->received_at);
	bind_int(st, 8, r->due_at);
	bind_opt_int(st, 9, r->target_at);
	bind_opt_text(st, 10, r->verified_by);
	bind_blob(st, 11, r->details, r->details_len);
	bind_int(st, 12, r->nobody);
	bind_blob(st, 13, r->notes, r->notes_len);
	return pq_run(q, st, "request_insert");
}

static void read_request(struct pq_stmt *st, void *out)
{
	struct store_request *r = out;
	col_id(st, 0, TOKEN_PREFIX_REQUEST, r->id);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, r->subject_id);
	r->type = col_text(st, 2);
	r->status = col_text(st, 3);
	r->channel = col_opt_text(st, 4);
	r->received_at = col_int(st, 5);
	r->due_at = col_int(st, 6);
	r->target_at = col_int(st, 7);
	r->extended_at = col_int(st, 8);
	r->extension_reason = col_opt_text(st, 9);
	r->answered_at = col_int(st, 10);
	r->outcome = col_opt_text(st, 11);
	r->refusal_reason = col_opt_text(st, 12);
	r->verified_by = col_opt_text(st, 13);
	r->nobody = col_int(st, 14) != 0;
	r->details = col_blob(st, 15, &r->details_len);
	r->notes = col_blob(st, 16, &r->notes_len);
}

#define REQUEST_COLUMNS                                                                                   \
	"request_id, subject_id, type, status, channel, received_at, due_at, target_at, extended_at, " \
	"extension_reason, answered_at, outcome, refusal_reason, verified_by, nobody"

enum rc pg_request_get(struct store *s, int64_t tenant, const char *id, struct store_request *out)
{
	static const char sql[] =
		"SELECT " REQUEST_COLUMNS ", details, notes FROM requests WHERE tenant_id = $1 AND request_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_REQUEST, id);
	return pq_fetch_one(q, st, read_request, out, "request_get");
}

enum rc pg_request_update(struct store *s, int64_t tenant, const struct store_request *r)
{
	static const char sql[] =
		"UPDATE requests SET status = $3, due_at = $4, extended_at = $5, extension_reason = $6, answered_at = $7, "
		"outcome = $8, refusal_reason = $9, verified_by = $10, details = $11, notes = $12 "
		"WHERE tenant_id = $1 AND request_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_REQUEST, r->id);
	bind_text(st, 3, r->status);
	bind_int(st, 4, r->due_at);
	bind_opt_int(st, 5, r->extended_at);
	bind_opt_text(st, 6, r->extension_reason);
	bind_opt_int(st, 7, r->answered_at);
	bind_opt_text(st, 8, r->outcome);
	bind_opt_text(st, 9, r->refusal_reason);
	bind_opt_text(st, 10, r->verified_by);
	bind_blob(st, 11, r->details, r->details_len);
	bind_blob(st, 12, r->notes, r->notes_len);
	rc = pq_run(q, st, "request_update");
	return !rc && q->changes == 0 ? RC_NOT_FOUND : rc;
}

enum rc pg_requests_list(struct store *s, int64_t tenant, const struct store_request_filter *f,
                             struct store_request **out, size_t *n)
{
	/* $2 status (NULL any), $3 due before (0 any), $4 how many statuses
	 * (0 any) in $7..$14, $5 after id, $6 limit. No details in a list. */
	static const char sql[] =
		"SELECT " REQUEST_COLUMNS ", NULL, notes FROM requests "
		"WHERE tenant_id = $1 AND ($2::text IS NULL OR status = $2::text) AND ($3 = 0 OR due_at < $3) "
		"AND ($4 = 0 OR status IN ($7::text, $8::text, $9::text, $10::text, $11::text, $12::text, $13::text, $14::text)) AND request_id > $5 "
		"ORDER BY request_id LIMIT $6";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	size_t nstatuses = f->statuses ? f->nstatuses : 0;
	if (nstatuses > STORE_STATUSES_MAX)
		return RC_INVALID;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_opt_text(st, 2, f->status);
	bind_int(st, 3, f->due_before);
	bind_int(st, 4, (int64_t)nstatuses);
	bind_after(st, 5, TOKEN_PREFIX_REQUEST, f->after);
	bind_int(st, 6, (int64_t)f->limit);
	bind_statuses(st, 7, f->statuses, nstatuses);
	return pq_fetch_all(q, st, read_request, sizeof **out, (void **)out, n, "requests_list");
}

struct two_counts {
	int64_t a, b;
};

static void read_two(struct pq_stmt *st, void *out)
{
	struct two_counts *c = out;
	c->a = col_int(st, 0);
	c->b = col_int(st, 1);
}

enum rc pg_request_counts(struct store *s, int64_t tenant, const char *const *open, size_t nopen, int64_t now,
                              int64_t *n, int64_t *late)
{
	/* Two texts rather than an "any" flag: with the flag in an OR the
	 * statuses could not seek in requests_by_due (tenant_id, status, due_at). */
	static const char in_sql[] =
		"SELECT count(*), count(*) FILTER (WHERE due_at < $2) FROM requests WHERE tenant_id = $1 "
		"AND status IN ($3::text, $4::text, $5::text, $6::text, $7::text, $8::text, $9::text, $10::text)";
	static const char any_sql[] =
		"SELECT count(*), count(*) FILTER (WHERE due_at < $2) FROM requests WHERE tenant_id = $1";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	struct two_counts c = {0, 0};
	*n = *late = 0;
	if (!open)
		nopen = 0;
	if (nopen > STORE_STATUSES_MAX)
		return RC_INVALID;
	enum rc rc = pq_tenant(q, nopen ? in_sql : any_sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, now);
	if (nopen)
		bind_statuses(st, 3, open, nopen);
	rc = pq_fetch_one(q, st, read_two, &c, "request_counts");
	*n = c.a;
	*late = c.b;
	return rc;
}

/* ---- the requester of a request about nobody ---- */

enum rc pg_requester_insert(struct store *s, int64_t tenant, const char *request_id,
                                const struct store_requester *r)
{
	static const char sql[] =
		"INSERT INTO request_requesters (tenant_id, request_id, lookup_hash, wrapped_key, contact) "
		"VALUES ($1, $2, $3, $4, $5)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_REQUEST, request_id);
	bind_blob(st, 3, r->lookup_hash, VAULT_HASH_LEN);
	bind_blob(st, 4, r->wrapped_key, r->wrapped_len);
	bind_blob(st, 5, r->contact, r->contact_len);
	return pq_run(q, st, "requester_insert");
}

static void read_requester(struct pq_stmt *st, void *out)
{
	struct store_requester *r = out;
	col_fixed(st, 0, r->lookup_hash, VAULT_HASH_LEN);
	col_upto(st, 1, r->wrapped_key, VAULT_WRAPPED_MAX, &r->wrapped_len);
	r->contact = col_blob(st, 2, &r->contact_len);
}

enum rc pg_requester_get(struct store *s, int64_t tenant, const char *request_id, struct store_requester *out)
{
	static const char sql[] =
		"SELECT lookup_hash, wrapped_key, contact FROM request_requesters WHERE tenant_id = $1 AND request_id = $2";
	memset(out, 0, sizeof *out);
	return pq_fetch_one_by_id(pq(s), sql, tenant, TOKEN_PREFIX_REQUEST, request_id, read_requester, out,
	                          "requester_get");
}

enum rc pg_requests_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                    struct store_request **out, size_t *n)
{
	static const char sql[] =
		"SELECT " REQUEST_COLUMNS ", details, notes FROM requests "
		"WHERE tenant_id = $1 AND subject_id = $2 ORDER BY request_id";
	*out = NULL;
	*n = 0;
	return pq_fetch_all_by_id(pq(s), sql, tenant, TOKEN_PREFIX_SUBJECT, subject_id, read_request, sizeof **out,
	                          (void **)out, n, "requests_for_subject");
}

enum rc pg_request_move(struct store *s, int64_t tenant, const char *request_id, const char *to_subject,
                            const unsigned char *details, size_t details_len, const unsigned char *notes,
                            size_t notes_len)
{
	static const char sql[] =
		"UPDATE requests SET subject_id = $3, details = $4, notes = $5 WHERE tenant_id = $1 AND request_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_REQUEST, request_id);
	bind_id(st, 3, TOKEN_PREFIX_SUBJECT, to_subject);
	bind_blob(st, 4, details, details_len);
	bind_blob(st, 5, notes, notes_len);
	rc = pq_run(q, st, "request_move");
	return !rc && q->changes == 0 ? RC_NOT_FOUND : rc;
}
