/*
 * sqlite/backup.c: the erasure ledger's position in this database (and the
 * lines it passed without applying them), and
 * whole-database copies: an online backup to a new file and a restore from
 * one, both through SQLite's backup API (sqlite3_backup_*), so that a copy
 * is one consistent snapshot even while other connections write.
 *
 * A backup copies every page in one step: it holds one read transaction for
 * the copy, so the copy is the database as of one commit, whatever commits
 * meanwhile (WAL readers never block the writer). The copy is created 0600
 * before SQLite opens it, put in rollback-journal mode (one self-contained
 * file), fsync'd, and renamed into place; the directory is fsync'd.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "store/sqlite/internal.h"

enum rc sqlite_ledger_position(struct store *s, int64_t tenant, int64_t *seq)
{
	static const char sql[] = "SELECT seq FROM ledger_position WHERE tenant_id = ?1";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*seq = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	rc = sq_fetch_one(q, st, read_count, seq, "ledger_position");
	return rc == RC_NOT_FOUND ? RC_OK : rc; /* no erasure yet */
}

enum rc sqlite_ledger_position_set(struct store *s, int64_t tenant, int64_t seq, int64_t at)
{
	static const char sql[] =
		"INSERT INTO ledger_position (tenant_id, seq, at) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (tenant_id) DO UPDATE SET seq = excluded.seq, at = excluded.at";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, seq);
	sqlite3_bind_int64(st, 3, at);
	return sq_run(q, st, "ledger_position_set");
}

static void read_range(sqlite3_stmt *st, void *out)
{
	struct store_ledger_range *r = out;
	r->first = sqlite3_column_int64(st, 0);
	r->last = sqlite3_column_int64(st, 1);
}

enum rc sqlite_ledger_skipped_add(struct store *s, int64_t tenant, int64_t first, int64_t last)
{
	static const char sql[] =
		"INSERT INTO ledger_skipped (tenant_id, first_seq, last_seq) VALUES (?1, ?2, ?3) "
		"ON CONFLICT (tenant_id, first_seq) DO UPDATE SET last_seq = max(last_seq, excluded.last_seq)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, first);
	sqlite3_bind_int64(st, 3, last);
	return sq_run(q, st, "ledger_skipped_add");
}

enum rc sqlite_ledger_skipped_list(struct store *s, int64_t tenant, struct store_ledger_range **out, size_t *n)
{
	static const char sql[] =
		"SELECT first_seq, last_seq FROM ledger_skipped WHERE tenant_id = ?1 ORDER BY first_seq";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	return rc ? rc : sq_fetch_all(q, st, read_range, sizeof **out, (void **)out, n, "ledger_skipped_list");
}

enum rc sqlite_ledger_skipped_delete(struct store *s, int64_t tenant, int64_t first)
{
	static const char sql[] = "DELETE FROM ledger_skipped WHERE tenant_id = ?1 AND first_seq = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, first);
	return sq_run(q, st, "ledger_skipped_delete");
}

/* Copies database main of src into main of dst in one step. */
static enum rc copy_db(sqlite3 *dst, sqlite3 *src, struct errbuf *eb)
{
	sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
	if (!b)
		return err_set(eb, RC_DB, "cannot start the copy: %s", sqlite3_errmsg(dst));
	int src_rc = sqlite3_backup_step(b, -1);
	int fin = sqlite3_backup_finish(b);
	if (src_rc != SQLITE_DONE || fin != SQLITE_OK)
		return err_set(eb, src_rc == SQLITE_BUSY || src_rc == SQLITE_LOCKED ? RC_UNAVAILABLE : RC_DB,
		               "the copy failed: %s", sqlite3_errstr(src_rc != SQLITE_DONE ? src_rc : fin));
	return RC_OK;
}

static enum rc sync_dir_of(const char *path, struct errbuf *eb)
{
	char dir[4096];
	const char *slash = strrchr(path, '/');
	snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash == path ? 1 : slash - path) : 1, slash ? path : ".");
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fsync(fd) != 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return err_set(eb, RC_IO, "cannot sync directory %s: %s", dir, strerror(e));
	}
	close(fd);
	return RC_OK;
}

enum rc sqlite_backup_to(struct store *s, const char *path, struct errbuf *eb)
{
	struct sqlite_store *q = sq(s);
	char tmp[4200];
	if (q->depth)
		return RC_INTERNAL; /* the copy is its own read transaction */
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return err_set(eb, RC_INVALID, "the backup path is too long");
	if (access(path, F_OK) == 0)
		return err_set(eb, RC_EXISTS, "%s exists already: a backup never overwrites a file", path);
	unlink(tmp); /* left by an interrupted backup */
	int fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return err_set(eb, RC_IO, "cannot create %s: %s", tmp, strerror(errno));
	close(fd);
	sqlite3 *dst = NULL;
	enum rc rc = RC_OK;
	if (sqlite3_open_v2(tmp, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		rc = err_set(eb, RC_DB, "cannot open %s: %s", tmp, dst ? sqlite3_errmsg(dst) : "?");
	if (!rc)
		rc = copy_db(dst, q->db, eb);
	/* One self-contained file, whatever the source's journal mode. */
	if (!rc && sqlite3_exec(dst, "PRAGMA journal_mode = DELETE", NULL, NULL, NULL) != SQLITE_OK)
		rc = err_set(eb, RC_DB, "cannot finish %s: %s", tmp, sqlite3_errmsg(dst));
	sqlite3_close(dst);
	if (!rc) {
		fd = open(tmp, O_RDONLY | O_CLOEXEC);
		if (fd < 0 || fsync(fd) != 0)
			rc = err_set(eb, RC_IO, "cannot sync %s: %s", tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
	}
	if (!rc && link(tmp, path) != 0) /* unlike rename, never replaces a file that appeared meanwhile */
		rc = err_set(eb, errno == EEXIST ? RC_EXISTS : RC_IO, "cannot create %s: %s", path, strerror(errno));
	unlink(tmp);
	if (!rc)
		rc = sync_dir_of(path, eb);
	return rc;
}

/* The newest migration applied to db; -1 when it has none (not ours). */
static int schema_version(sqlite3 *db)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(db, "SELECT MAX(version) FROM schema_migrations", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

enum rc sqlite_restore_from(struct store *s, const char *path, struct errbuf *eb)
{
	struct sqlite_store *q = sq(s);
	sqlite3 *src = NULL;
	if (q->depth)
		return RC_INTERNAL;
	enum rc rc = RC_OK;
	if (sqlite3_open_v2(path, &src, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
		rc = err_set(eb, RC_IO, "cannot open %s: %s", path, src ? sqlite3_errmsg(src) : "?");
	/* A file that is not a privreg database, or one a newer privreg has
	 * migrated (this one is at the newest schema it knows: it was opened),
	 * is refused before anything is replaced. */
	int theirs = rc ? -1 : schema_version(src), ours = rc ? -1 : schema_version(q->db);
	if (!rc && theirs < 1)
		rc = err_set(eb, RC_INVALID, "%s is not a privreg database", path);
	else if (!rc && theirs > ours)
		rc = err_set(eb, RC_CONFLICT, "%s has schema %d, newer than this privreg knows (%d): use a newer privreg",
		             path, theirs, ours);
	/* The whole copy replaces this database in one write transaction of
	 * the destination: a crash leaves the old database or the copy. */
	if (!rc)
		rc = copy_db(q->db, src, eb);
	sqlite3_close(src);
	return rc;
}
