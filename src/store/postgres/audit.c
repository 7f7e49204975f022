/*
 * postgres/audit.c: the audit log, a hash chain per tenant: its head, appending
 * an entry (seq and hashes computed by core/audit.c) and reading entries in
 * seq order, for a subject or for all.
 */
#include "store/postgres/internal.h"

static void read_head(struct pq_stmt *st, void *out)
{
	struct store_audit *e = out;
	e->seq = col_int(st, 0);
	col_fixed(st, 1, e->hash, STORE_AUDIT_HASH_LEN);
}

enum rc pg_audit_head(struct store *s, int64_t tenant, int64_t *seq, unsigned char hash[STORE_AUDIT_HASH_LEN])
{
	static const char sql[] = "SELECT seq, hash FROM audit WHERE tenant_id = $1 ORDER BY seq DESC LIMIT 1";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	struct store_audit head = {0};
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	rc = pq_fetch_one(q, st, read_head, &head, "audit_head");
	if (rc == RC_NOT_FOUND)
		rc = RC_OK; /* an empty log starts from seq 0 and a zero hash */
	*seq = head.seq;
	memcpy(hash, head.hash, STORE_AUDIT_HASH_LEN);
	return rc;
}

enum rc pg_audit_insert(struct store *s, int64_t tenant, const struct store_audit *e)
{
	static const char sql[] =
		"INSERT INTO audit (tenant_id, seq, at, key_id, role, action, subject_id, record_id, purpose, "
		"outcome, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, e->seq);
	bind_int(st, 3, e->at);
	bind_text(st, 4, e->key_id);
	bind_text(st, 5, e->role);
	bind_text(st, 6, e->action);
	bind_opt_text(st, 7, e->subject_id);
	bind_opt_text(st, 8, e->record_id);
	bind_opt_text(st, 9, e->purpose);
	bind_text(st, 10, e->outcome);
	bind_opt_text(st, 11, e->detail);
	bind_blob(st, 12, e->prev_hash, STORE_AUDIT_HASH_LEN);
	bind_blob(st, 13, e->hash, STORE_AUDIT_HASH_LEN);
	/* Sent with the transaction's next statement or its COMMIT: under
	 * the writer lock, after the head was read in the same transaction,
	 * no other entry takes this seq, and every caller ends its
	 * transaction when an entry cannot be written. A group commit's
	 * entries go with its COMMIT, 64 to a flight (PQ_DEFERRED_MAX). */
	return pq_run_later(q, st, "audit_insert");
}

/* Whether an entry was hashed with pre-ULID id text (migration 0007 keeps,
 * per tenant, the last such entry's seq): audit verify hashes those with the
 * old form. */
#define AUDIT_LEGACY_IDS "seq <= COALESCE((SELECT audit_seq FROM id_legacy WHERE tenant_id = $1), 0)"

static void read_audit(struct pq_stmt *st, void *out)
{
	struct store_audit *e = out;
	e->seq = col_int(st, 0);
	e->at = col_int(st, 1);
	e->key_id = col_text(st, 2);
	e->role = col_text(st, 3);
	e->action = col_text(st, 4);
	e->subject_id = col_opt_text(st, 5);
	e->record_id = col_opt_text(st, 6);
	e->purpose = col_opt_text(st, 7);
	e->outcome = col_text(st, 8);
	e->detail = col_opt_text(st, 9);
	col_fixed(st, 10, e->prev_hash, STORE_AUDIT_HASH_LEN);
	col_fixed(st, 11, e->hash, STORE_AUDIT_HASH_LEN);
	e->legacy_ids = col_int(st, 12) != 0;
}

enum rc pg_audit_list(struct store *s, int64_t tenant, const struct store_audit_filter *f,
                          struct store_audit **out, size_t *n)
{
	/* $3 since, $4 until (0: unbounded), $5 after seq, $6 limit; $2 subject
	 * in the second form, which walks the audit_by_subject index. */
	static const char all_sql[] =
		"SELECT seq, at, key_id, role, action, subject_id, record_id, purpose, outcome, detail, prev_hash, hash, "
		AUDIT_LEGACY_IDS " FROM audit WHERE tenant_id = $1 AND at >= $3 AND ($4 = 0 OR at <= $4) AND seq > $5 "
		"ORDER BY seq LIMIT $6";
	static const char subject_sql[] =
		"SELECT seq, at, key_id, role, action, subject_id, record_id, purpose, outcome, detail, prev_hash, hash, "
		AUDIT_LEGACY_IDS " FROM audit WHERE tenant_id = $1 AND subject_id = $2 AND at >= $3 AND ($4 = 0 OR at <= $4) "
		"AND seq > $5 ORDER BY seq LIMIT $6";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, f->subject_id ? subject_sql : all_sql, tenant, &st);
	if (rc)
		return rc;
	if (f->subject_id)
		bind_text(st, 2, f->subject_id);
	bind_int(st, 3, f->since);
	bind_int(st, 4, f->until);
	bind_int(st, 5, f->after_seq);
	bind_int(st, 6, (int64_t)f->limit);
	return pq_fetch_all(q, st, read_audit, sizeof **out, (void **)out, n, "audit_list");
}
