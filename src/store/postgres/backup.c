/*
 * postgres/backup.c: the erasure ledger's position in this database (and
 * the lines it passed without applying them), and
 * what stands for the SQLite backend's whole-file copies. A PostgreSQL
 * register is copied with PostgreSQL's own tools (pg_dump, or a base backup
 * with WAL archiving: docs/scaling.md), which take a consistent snapshot
 * while servers write; privreg does not copy it itself, and says so with
 * RC_UNSUPPORTED instead of writing a file that is not a copy.
 */
#include "store/postgres/internal.h"

enum rc pg_ledger_position(struct store *s, int64_t tenant, int64_t *seq)
{
	static const char sql[] = "SELECT seq FROM ledger_position WHERE tenant_id = $1";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*seq = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	rc = pq_fetch_one(q, st, read_count, seq, "ledger_position");
	return rc == RC_NOT_FOUND ? RC_OK : rc; /* no erasure yet */
}

enum rc pg_ledger_position_set(struct store *s, int64_t tenant, int64_t seq, int64_t at)
{
	static const char sql[] =
		"INSERT INTO ledger_position (tenant_id, seq, at) VALUES ($1, $2, $3) "
		"ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, at = excluded.at";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	/* Its one key conflict is the update; and its callers (core/ledger.c,
	 * core/backup.c) end their transaction when it fails. */
	st->unguarded = true;
	bind_int(st, 2, seq);
	bind_int(st, 3, at);
	return pq_run(q, st, "ledger_position_set");
}

static void read_range(struct pq_stmt *st, void *out)
{
	struct store_ledger_range *r = out;
	r->first = col_int(st, 0);
	r->last = col_int(st, 1);
}

enum rc pg_ledger_skipped_add(struct store *s, int64_t tenant, int64_t first, int64_t last)
{
	static const char sql[] =
		"INSERT INTO ledger_skipped (tenant_id, first_seq, last_seq) VALUES ($1, $2, $3) "
		"ON CONFLICT (tenant_id, first_seq) DO UPDATE SET last_seq = GREATEST(ledger_skipped.last_seq, "
		"excluded.last_seq)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	/* As ledger_position_set: its one conflict is the update, and its
	 * caller ends the transaction when it fails. */
	st->unguarded = true;
	bind_int(st, 2, first);
	bind_int(st, 3, last);
	return pq_run(q, st, "ledger_skipped_add");
}

enum rc pg_ledger_skipped_list(struct store *s, int64_t tenant, struct store_ledger_range **out, size_t *n)
{
	static const char sql[] =
		"SELECT first_seq, last_seq FROM ledger_skipped WHERE tenant_id = $1 ORDER BY first_seq";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	return rc ? rc : pq_fetch_all(q, st, read_range, sizeof **out, (void **)out, n, "ledger_skipped_list");
}

enum rc pg_ledger_skipped_delete(struct store *s, int64_t tenant, int64_t first)
{
	static const char sql[] = "DELETE FROM ledger_skipped WHERE tenant_id = $1 AND first_seq = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, first);
	return pq_run(q, st, "ledger_skipped_delete");
}

enum rc pg_backup_to(struct store *s, const char *path, struct errbuf *eb)
{
	(void)s;
	(void)path;
	return err_set(eb, RC_UNSUPPORTED, "backup of a PostgreSQL register: use pg_dump; see docs/scaling.md");
}

enum rc pg_restore_from(struct store *s, const char *path, struct errbuf *eb)
{
	(void)s;
	(void)path;
	return err_set(eb, RC_UNSUPPORTED, "restore of a PostgreSQL register: load the copy with pg_restore, then run "
	               "'privreg restore --reconcile'; see docs/scaling.md");
}
