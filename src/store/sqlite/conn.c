/*
 * sqlite/conn.c: the SQLite backend's connections: library set-up, open and
 * close, migrations, transactions, the statement cache and the helpers that
 * step statements, and the `store_sqlite_ops` table.
 *
 * One `struct sqlite_store` is one connection (opened NOMUTEX: one thread at
 * a time uses it). Settings: WAL, synchronous=FULL for a durable
 * transaction (store_begin: a committed change survives power loss) and
 * NORMAL for a relaxed one (store_begin_relaxed: durable at the next
 * durable commit, sync or end of a bulk run), secure_delete=ON (deleted
 * values are overwritten, not left in free pages), foreign_keys=ON, and
 * cache_size from the pool (store_pool_cache: a server's connections are
 * many, each cache stays full once filled). A bulk run (store_bulk, an
 * import) raises the cache and the checkpoint interval for its length.
 * An import's lookup rows may wait in the connection (sqlite/import.c):
 * begin, begin_read and commit insert them first, rollback drops them.
 * Statements are prepared once per connection on first use and kept (see
 * internal.h). Migrations in sql/sqlite/ are applied in order at open, each
 * in its own transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/log.h"
#include "store/sqlite/internal.h"

/* How long a statement waits for another connection's lock (SQLITE_BUSY). */
#define BUSY_TIMEOUT_MS 10000

struct migration {
	int number;
	const char *name;
	const char *sql;
};

#include "sql_sqlite.h"

/* Room for the backend's statements without growing (about 90 today). */
#define SLOTS_INITIAL 256

/* Shared by the connections of one pool: SQLite has one writer at a time,
 * and threads of one process queue here for it rather than sleep in the
 * busy handler (which waits in steps of up to 100 ms). Other processes
 * still meet the busy timeout. */
struct store_shared {
	pthread_mutex_t writer;
	unsigned cache_mib; /* each connection's page cache (cache_size), MiB */
};

enum rc sq_map_rc(struct sqlite_store *q, int src, const char *what)
{
	switch (src) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return RC_OK;
	case SQLITE_CONSTRAINT_PRIMARYKEY:
	case SQLITE_CONSTRAINT_UNIQUE:
		return RC_EXISTS;
	case SQLITE_CONSTRAINT_FOREIGNKEY:
		return RC_NOT_FOUND;
	case SQLITE_CONSTRAINT_NOTNULL:
		return RC_INVALID;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		log_warn("sqlite busy op=%s", what);
		return RC_UNAVAILABLE;
	default:
		log_error("sqlite error op=%s code=%d msg=%s", what, src, sqlite3_errmsg(q->db));
		return RC_DB;
	}
}

/* ---- the statement cache ---- */

static void slot_put(struct sq_slot *slots, size_t nslots, const char *sql, sqlite3_stmt *st)
{
	size_t i = sq_hash(sql) & (nslots - 1);
	while (slots[i].sql)
		i = (i + 1) & (nslots - 1);
	slots[i] = (struct sq_slot){sql, st};
}

/* Doubles the table once it is half full, so that probes stay short. */
static void slots_grow(struct sqlite_store *q)
{
	size_t n = q->nslots * 2;
	struct sq_slot *v = xcalloc(n, sizeof *v);
	for (size_t i = 0; i < q->nslots; i++)
		if (q->slots[i].sql)
			slot_put(v, n, q->slots[i].sql, q->slots[i].st);
	free(q->slots);
	q->slots = v;
	q->nslots = n;
}

enum rc sq_prepare(struct sqlite_store *q, const char *sql, sqlite3_stmt **out)
{
	sqlite3_stmt *st = NULL;
	int src = sqlite3_prepare_v3(q->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (src != SQLITE_OK)
		return sq_map_rc(q, src, "prepare");
	if (2 * (q->nused + 1) > q->nslots)
		slots_grow(q);
	slot_put(q->slots, q->nslots, sql, st);
	q->nused++;
	*out = st;
	return RC_OK;
}

/* ---- stepping ---- */

enum rc sq_run(struct sqlite_store *q, sqlite3_stmt *st, const char *what)
{
	int src = sqlite3_step(st);
	enum rc rc = src == SQLITE_DONE ? RC_OK : sq_map_rc(q, sqlite3_extended_errcode(q->db), what);
	done(st);
	return rc;
}

enum rc sq_run_tenant_id(struct sqlite_store *q, const char *sql, int64_t tenant, const char *prefix,
                         const char *id, const char *what)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, prefix, id);
	return sq_run(q, st, what);
}

enum rc sq_expire(struct sqlite_store *q, const char *sql, int64_t tenant, int64_t now, size_t max, size_t *n,
                  const char *what)
{
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	rc = sq_run(q, st, what);
	*n = rc ? 0 : (size_t)sqlite3_changes(q->db);
	return rc;
}

enum rc sq_fetch_one(struct sqlite_store *q, sqlite3_stmt *st, row_reader *read, void *out, const char *what)
{
	int src = sqlite3_step(st);
	enum rc rc = RC_OK;
	if (src == SQLITE_ROW)
		read(st, out);
	else
		rc = src == SQLITE_DONE ? RC_NOT_FOUND : sq_map_rc(q, src, what);
	done(st);
	return rc;
}

enum rc sq_fetch_all(struct sqlite_store *q, sqlite3_stmt *st, row_reader *read, size_t elem, void **v, size_t *n,
                     const char *what)
{
	size_t alloc = *n;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW) {
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 4;
			*v = xrealloc(*v, alloc * elem);
		}
		void *row = (char *)*v + *n * elem;
		memset(row, 0, elem);
		read(st, row);
		(*n)++;
	}
	enum rc rc = src == SQLITE_DONE ? RC_OK : sq_map_rc(q, src, what);
	done(st);
	return rc;
}

enum rc sq_fetch_one_by_id(struct sqlite_store *q, const char *sql, int64_t tenant, const char *prefix,
                           const char *id, row_reader *read, void *out, const char *what)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, prefix, id);
	return sq_fetch_one(q, st, read, out, what);
}

enum rc sq_fetch_all_by_id(struct sqlite_store *q, const char *sql, int64_t tenant, const char *prefix,
                           const char *id, row_reader *read, size_t elem, void **v, size_t *n,
                           const char *what)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, prefix, id);
	return sq_fetch_all(q, st, read, elem, v, n, what);
}

/* ---- open, close, migrations ---- */

static enum rc exec(struct sqlite_store *q, const char *sql, const char *what)
{
	char *msg = NULL;
	int src = sqlite3_exec(q->db, sql, NULL, NULL, &msg);
	if (src != SQLITE_OK)
		log_error("sqlite exec op=%s msg=%s", what, msg ? msg : "?");
	sqlite3_free(msg);
	return src == SQLITE_OK ? RC_OK : sq_map_rc(q, src, what);
}

/* privreg_ids_from_legacy(text): the pre-ULID ids in a text rewritten to
 * the ULID form (token_ids_from_legacy); NULL stays NULL. Migration 0007
 * calls it to convert the audit log's id columns. */
static void sql_ids_from_legacy(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	const unsigned char *t = sqlite3_value_text(argv[0]);
	if (!t) {
		sqlite3_result_null(ctx);
		return;
	}
	char *s = xstrdup((const char *)t);
	token_ids_from_legacy(s);
	sqlite3_result_text(ctx, s, -1, free);
}

/* The functions migrations use; before migrate(). */
static enum rc register_functions(struct sqlite_store *q)
{
	int src = sqlite3_create_function(q->db, "privreg_ids_from_legacy", 1,
	                                  SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, NULL,
	                                  sql_ids_from_legacy, NULL, NULL);
	return src == SQLITE_OK ? RC_OK : sq_map_rc(q, src, "create_function");
}

static enum rc migrate(struct sqlite_store *q, struct errbuf *eb)
{
	enum rc rc = exec(q, "CREATE TABLE IF NOT EXISTS schema_migrations ("
	                     "version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)",
	                  "migrate");
	if (rc)
		return err_set(eb, rc, "cannot create the migrations table");
	/* A register a newer privreg has migrated is refused, not written: this
	 * binary would write what the newer schema no longer means (ids in the
	 * old form, say) and could not tell. */
	size_t known = sizeof sqlite_migrations / sizeof sqlite_migrations[0];
	int newest = 0;
	sqlite3_stmt *vs = NULL;
	if (sqlite3_prepare_v2(q->db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", -1, &vs, NULL) ==
	        SQLITE_OK &&
	    sqlite3_step(vs) == SQLITE_ROW)
		newest = sqlite3_column_int(vs, 0);
	sqlite3_finalize(vs);
	if (newest > sqlite_migrations[known - 1].number)
		return err_set(eb, RC_CONFLICT, "the register has schema %d, newer than this privreg knows (%d): use a newer "
		               "privreg", newest, sqlite_migrations[known - 1].number);
	for (size_t i = 0; i < known; i++) {
		const struct migration *m = &sqlite_migrations[i];
		sqlite3_stmt *st = NULL;
		rc = exec(q, "BEGIN IMMEDIATE", "migrate");
		if (rc)
			return err_set(eb, rc, "cannot lock the database to migrate it");
		int have = 0;
		if (sqlite3_prepare_v2(q->db, "SELECT 1 FROM schema_migrations WHERE version = ?1", -1, &st, NULL) == SQLITE_OK) {
			sqlite3_bind_int(st, 1, m->number);
			have = sqlite3_step(st) == SQLITE_ROW;
		}
		sqlite3_finalize(st);
		if (!have) {
			rc = exec(q, m->sql, m->name);
			if (!rc && sqlite3_prepare_v2(q->db, "INSERT INTO schema_migrations VALUES (?1, ?2, strftime('%s','now'))",
			                              -1, &st, NULL) == SQLITE_OK) {
				sqlite3_bind_int(st, 1, m->number);
				sqlite3_bind_text(st, 2, m->name, -1, SQLITE_STATIC);
				if (sqlite3_step(st) != SQLITE_DONE)
					rc = RC_DB;
				sqlite3_finalize(st);
			}
		}
		if (rc) {
			(void)exec(q, "ROLLBACK", "migrate");
			return err_set(eb, rc, "migration %s failed", m->name);
		}
		rc = exec(q, "COMMIT", "migrate");
		if (rc)
			return err_set(eb, rc, "migration %s failed to commit", m->name);
	}
	return RC_OK;
}

/* Sanitizer builds (tests, fuzzing) count SQLite's heap, so that the soak
 * can tell the register's own live heap from SQLite's page caches, which
 * fill up to cache_size per connection (docs/reliability.md, Soak). */
#if defined(__SANITIZE_ADDRESS__)
#define SQ_MEMSTATUS 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SQ_MEMSTATUS 1
#endif
#endif
#ifndef SQ_MEMSTATUS
#define SQ_MEMSTATUS 0
#endif

static enum rc sqlite_library_init(void)
{
	/* SQLite's memory statistics take a process-wide mutex on every
	 * allocation: with one connection per thread they only add contention.
	 * Sanitizer builds keep them (SQ_MEMSTATUS). */
	if (sqlite3_config(SQLITE_CONFIG_MEMSTATUS, SQ_MEMSTATUS) != SQLITE_OK)
		return RC_INTERNAL;
	if (sqlite3_initialize() != SQLITE_OK)
		return RC_INTERNAL;
#ifdef PRIVREG_FAULTS
	/* Test builds: the power-cut VFS, when PRIVREG_POWERCUT asks for it. */
	return sqlite_powercut_install();
#else
	return RC_OK;
#endif
}

static struct store_shared *sqlite_shared_new(const char *location)
{
	struct store_shared *sh = xcalloc(1, sizeof *sh);
	(void)location;
	pthread_mutex_init(&sh->writer, NULL);
	sh->cache_mib = STORE_CACHE_MIB_DEFAULT;
	return sh;
}

static void sqlite_shared_cache(struct store_shared *sh, unsigned mib)
{
	sh->cache_mib = mib ? mib : STORE_CACHE_MIB_DEFAULT;
}

static void sqlite_shared_free(struct store_shared *sh)
{
	if (!sh)
		return;
	pthread_mutex_destroy(&sh->writer);
	free(sh);
}

static void sqlite_close(struct store *s)
{
	struct sqlite_store *q = sq(s);
	/* Keeps the planner's statistics current; cheap when nothing changed.
	 * Best effort: a server's worker threads close their connections while
	 * its sender and jobs may still write, and an optimize that meets a
	 * writer (busy, or a read snapshot gone stale under it) is skipped
	 * without a word. The server's last connection, closed after every
	 * thread has stopped (api/server.c, server_stop), runs it. */
	if (q->db) {
		int src = sqlite3_exec(q->db, "PRAGMA optimize", NULL, NULL, NULL);
		if ((src & 0xff) != SQLITE_OK && (src & 0xff) != SQLITE_BUSY && (src & 0xff) != SQLITE_LOCKED)
			log_error("sqlite exec op=optimize code=%d msg=%s", src, sqlite3_errmsg(q->db));
	}
	for (size_t i = 0; i < q->nslots; i++)
		sqlite3_finalize(q->slots[i].st);
	free(q->slots);
	free(q->pend);
	sqlite3_close(q->db);
	free(q);
}

/* 1 if the one-value query's answer is non-zero, 0 if zero, -1 on error. */
static int query_bool(struct sqlite_store *q, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int v = -1;
	if (sqlite3_prepare_v2(q->db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0) != 0;
	sqlite3_finalize(st);
	return v;
}

/* What the database holds, as mode expects it (store.h), read before the
 * migrations write anything. */
static enum rc check_mode(struct sqlite_store *q, const char *path, enum store_mode mode, struct errbuf *eb)
{
	if (mode == STORE_CREATE)
		return RC_OK;
	int schema = query_bool(q, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
	int tenants = schema == 1 ? query_bool(q, "SELECT EXISTS (SELECT 1 FROM tenants)") : 0;
	int tombs = schema == 1 ? query_bool(q, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = "
	                                        "'tenant_tombstones'") : 0;
	if (tombs == 1)
		tombs = query_bool(q, "SELECT EXISTS (SELECT 1 FROM tenant_tombstones)");
	return store_mode_check(mode, schema, tenants, tombs, path, sqlite3_errmsg(q->db), eb);
}

static enum rc sqlite_open(const char *path, struct store_shared *shared, enum store_mode mode, struct store **out,
                           struct errbuf *eb)
{
	*out = NULL;
	if (!*path)
		return err_set(eb, RC_INVALID, "the sqlite store needs a file path");
	/* Create the file ourselves so it is private from its first byte. Only
	 * when it does not exist yet: closing any descriptor of an open database
	 * file would drop every POSIX lock this process holds on it, and with
	 * them the other connections' protection against other processes. A
	 * register's file is never created. */
	if (mode == STORE_EXISTING) {
		if (access(path, F_OK) != 0)
			return err_set(eb, errno == ENOENT ? RC_NOT_FOUND : RC_IO, "database %s: %s", path,
			               errno == ENOENT ? "no such file" : strerror(errno));
	} else {
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0)
			close(fd);
		else if (errno != EEXIST)
			return err_set(eb, RC_IO, "cannot create database %s: %s", path, strerror(errno));
	}
	struct sqlite_store *q = xcalloc(1, sizeof *q);
	q->base.ops = &store_sqlite_ops;
	q->shared = shared;
	q->nslots = SLOTS_INITIAL;
	q->slots = xcalloc(q->nslots, sizeof *q->slots);
	int src = sqlite3_open_v2(path, &q->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (src != SQLITE_OK) {
		err_set(eb, RC_DB, "cannot open database %s: %s", path, q->db ? sqlite3_errmsg(q->db) : "?");
		sqlite_close(&q->base);
		return RC_DB;
	}
	sqlite3_extended_result_codes(q->db, 1);
	sqlite3_randomness((int)sizeof q->serial, &q->serial);
	sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
	enum rc mrc = check_mode(q, path, mode, eb);
	if (mrc) {
		sqlite_close(&q->base);
		return mrc;
	}
	/* synchronous is NORMAL between transactions; store_begin raises it to
	 * FULL for its transaction (see begin), so only relaxed transactions of
	 * reads commit without waiting for the disk. */
	enum rc rc = exec(q, "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
	                     "PRAGMA foreign_keys = ON; PRAGMA secure_delete = ON; PRAGMA temp_store = MEMORY;", "pragma");
	/* The page cache's bound, in KiB (negative): a connection's cache fills
	 * up to it as the database grows and stays full, so a server holds about
	 * connections x cache_mib (docs/deploy.md). A PRAGMA takes no bound
	 * parameter; the number is the pool's, at most STORE_CACHE_MIB_MAX. */
	if (!rc) {
		char cache[64];
		snprintf(cache, sizeof cache, "PRAGMA cache_size = -%u", shared->cache_mib * 1024u);
		rc = exec(q, cache, "cache_size");
	}
	if (rc) {
		err_set(eb, rc, "cannot configure database %s", path);
		sqlite_close(&q->base);
		return rc;
	}
	rc = register_functions(q);
	if (!rc)
		rc = migrate(q, eb);
	if (rc) {
		sqlite_close(&q->base);
		return rc;
	}
	*out = &q->base;
	return RC_OK;
}

/* ---- transactions ---- */

static enum rc run_sql(struct sqlite_store *q, const char *sql, const char *what)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_stmt(q, sql, &st);
	return rc ? rc : sq_run(q, st, what);
}

static enum rc set_sync(struct sqlite_store *q, bool durable)
{
	static const char full[] = "PRAGMA synchronous = FULL";
	static const char normal[] = "PRAGMA synchronous = NORMAL";
	enum rc rc = run_sql(q, durable ? full : normal, "synchronous");
	if (!rc)
		q->durable = durable;
	return rc;
}

static const char savepoint_sql[] = "SAVEPOINT sp";
static const char release_sql[] = "RELEASE sp";

/* The outermost begin takes the writer queue and decides durability; an
 * inner begin is a savepoint of the transaction already open. */
static enum rc begin(struct store *s, bool durable)
{
	static const char begin_sql[] = "BEGIN IMMEDIATE";
	struct sqlite_store *q = sq(s);
	enum rc rc = RC_OK;
	if (q->reading)
		return RC_INTERNAL; /* a write inside a read snapshot could not commit */
	if (!q->depth) {
		pthread_mutex_lock(&q->shared->writer);
		if (durable)
			rc = set_sync(q, true);
	} else {
		rc = sq_lookups_flush(q);
	}
	if (!rc)
		rc = run_sql(q, q->depth ? savepoint_sql : begin_sql, "begin");
	if (!rc) {
		if (!q->depth)
			q->serial = q->serial + 1 ? q->serial + 1 : 1;
		q->depth++;
	} else if (!q->depth) {
		if (q->durable)
			(void)set_sync(q, false);
		pthread_mutex_unlock(&q->shared->writer);
	}
	return rc;
}

enum rc sqlite_begin(struct store *s)
{
	return begin(s, true);
}

enum rc sqlite_begin_relaxed(struct store *s)
{
	return begin(s, false);
}

/* BEGIN DEFERRED takes no lock and no writer slot: the snapshot starts with
 * the first read and lasts until commit or rollback. */
enum rc sqlite_begin_read(struct store *s)
{
	static const char begin_read_sql[] = "BEGIN DEFERRED";
	struct sqlite_store *q = sq(s);
	/* As in begin: a savepoint's rollback drops only what it wrote. */
	enum rc rc = q->depth ? sq_lookups_flush(q) : RC_OK;
	if (!rc)
		rc = run_sql(q, q->depth ? savepoint_sql : begin_read_sql, "begin_read");
	if (!rc) {
		q->reading = q->reading || !q->depth;
		q->depth++;
	}
	return rc;
}

/* A bulk run's page cache and checkpoint interval. The cache takes the
 * place of the connection's own (STORE_CACHE_MIB_DEFAULT) while the run
 * lasts: 32 MiB keeps more of a 50,000-row transaction's pages (its new
 * records and subjects, the lookup index's pages its sorted rows go into)
 * until the commit; against 8 MiB it saved 1.1-1.3 s of 8.6-10.8 s at
 * 1,000,000 rows, for 32 MiB more memory during the import. 32,768 pages
 * (128 MiB of log at 4 KiB a page) between checkpoints rather than 1,000:
 * a page the run writes again and again is copied into the database once
 * per checkpoint; the log is truncated at the run's end. bench/RESULTS.md
 * has the measurements. */
#define BULK_CACHE_KIB (32 * 1024)
#define BULK_CHECKPOINT_PAGES 32768
#define DEFAULT_CHECKPOINT_PAGES 1000 /* SQLite's own default */

enum rc sqlite_bulk(struct store *s, bool on)
{
	struct sqlite_store *q = sq(s);
	char sql[96];
	if (q->depth)
		return RC_INTERNAL;
#ifdef PRIVREG_FAULTS
	if (q->base.fault) { /* its statements run through exec: the injected failure is here */
		q->base.fault = false;
		return RC_DB;
	}
#endif
	if (on) {
		snprintf(sql, sizeof sql, "PRAGMA cache_size = -%u; PRAGMA wal_autocheckpoint = %d",
		         BULK_CACHE_KIB > q->shared->cache_mib * 1024u ? BULK_CACHE_KIB : q->shared->cache_mib * 1024u,
		         BULK_CHECKPOINT_PAGES);
		return exec(q, sql, "bulk");
	}
	snprintf(sql, sizeof sql, "PRAGMA cache_size = -%u; PRAGMA wal_autocheckpoint = %d",
	         q->shared->cache_mib * 1024u, DEFAULT_CHECKPOINT_PAGES);
	enum rc rc = exec(q, sql, "bulk");
	/* The run's commits did not wait for the disk: the log's own file is
	 * synced, which makes every one durable whether or not a checkpoint
	 * can copy it now (a reader on an older snapshot can hold one back). */
	sqlite3_file *wal = NULL;
	if (sqlite3_file_control(q->db, "main", SQLITE_FCNTL_JOURNAL_POINTER, &wal) == SQLITE_OK && wal &&
	    wal->pMethods) {
		int src = wal->pMethods->xSync(wal, SQLITE_SYNC_NORMAL);
		if (src != SQLITE_OK && !rc)
			rc = sq_map_rc(q, src, "bulk");
	}
	/* The log may hold BULK_CHECKPOINT_PAGES pages: copied into the
	 * database and the file cut back to nothing, unless a server on the
	 * same file is busy with it for a second, when SQLite copies what it
	 * can and reuses the file from its start later. */
	sqlite3_busy_timeout(q->db, 1000);
	enum rc crc = exec(q, "PRAGMA wal_checkpoint(TRUNCATE)", "bulk");
	sqlite3_busy_timeout(q->db, BUSY_TIMEOUT_MS);
	return rc ? rc : crc;
}

enum rc sqlite_sync(struct store *s)
{
	static const char sql[] = "PRAGMA wal_checkpoint(PASSIVE)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	if (q->depth) {
		/* A checkpoint cannot run inside a transaction (an erasure inside
		 * the transaction of an idempotent write): it runs after the
		 * outermost commit instead. */
		q->sync_pending = true;
		return RC_OK;
	}
	enum rc rc = sq_stmt(q, sql, &st);
	if (rc)
		return rc;
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		;
	done(st);
	return src == SQLITE_DONE ? RC_OK : sq_map_rc(q, src, "sync");
}

/* After the outermost transaction ends the next writer may go. */
static void end_outermost(struct sqlite_store *q)
{
	if (q->depth)
		return;
	if (q->reading) {
		q->reading = false; /* it never took the writer queue */
		return;
	}
	if (q->durable)
		(void)set_sync(q, false);
	pthread_mutex_unlock(&q->shared->writer);
}

enum rc sqlite_transaction(struct store *s, uint64_t *serial)
{
	struct sqlite_store *q = sq(s);
	*serial = q->depth > 0 && !q->reading ? q->serial : 0;
#ifdef PRIVREG_FAULTS
	if (q->base.fault) { /* no statement to fail: the injected failure is this answer */
		q->base.fault = false;
		return RC_DB;
	}
#endif
	return RC_OK;
}

enum rc sqlite_commit(struct store *s)
{
	static const char commit_sql[] = "COMMIT";
	struct sqlite_store *q = sq(s);
	if (!q->depth)
		return RC_INTERNAL;
	enum rc rc = sq_lookups_flush(q);
	if (!rc)
		rc = run_sql(q, q->depth > 1 ? release_sql : commit_sql, "commit");
	if (rc) {
		sqlite_rollback(s);
		return rc;
	}
	q->depth--;
	end_outermost(q);
	if (!q->depth && q->sync_pending) {
		q->sync_pending = false;
		if (sqlite_sync(s))
			log_warn("checkpoint after commit failed");
	}
	return RC_OK;
}

void sqlite_rollback(struct store *s)
{
	static const char rollback_sql[] = "ROLLBACK";
	static const char rollback_to_sql[] = "ROLLBACK TO sp";
	struct sqlite_store *q = sq(s);
	if (!q->depth)
		return;
	q->npend = 0;
	if (q->depth > 1) {
		/* ROLLBACK TO keeps the savepoint open; RELEASE closes it. */
		(void)run_sql(q, rollback_to_sql, "rollback");
		(void)run_sql(q, release_sql, "rollback");
	} else if (sqlite3_get_autocommit(q->db) == 0) {
		(void)run_sql(q, rollback_sql, "rollback");
	}
	q->depth--;
	if (!q->depth)
		q->sync_pending = false; /* nothing was committed */
	end_outermost(q);
}

static int64_t sqlite_library_memory(void)
{
	return SQ_MEMSTATUS ? (int64_t)sqlite3_memory_used() : 0;
}

const struct store_ops store_sqlite_ops = {
	.name = "sqlite",
	.library_init = sqlite_library_init,
	.library_memory = sqlite_library_memory,
	.shared_new = sqlite_shared_new,
	.shared_free = sqlite_shared_free,
	.shared_cache = sqlite_shared_cache,
	.open = sqlite_open,
	.close = sqlite_close,
	.rollback = sqlite_rollback,
#define STORE_OP(ret, name, params, args) .name = sqlite_##name,
#include "store/ops.def"
#undef STORE_OP
};
