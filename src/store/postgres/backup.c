/*
 * postgres/backup.c: the erasure ledger's position in this database, and
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
