/*
 * postgres/conn.c: the PostgreSQL backend's connections: open and close,
 * migrations, transactions, the statement cache, the helpers that step
 * statements, and the `store_postgres_ops` table.
 *
 * One `struct pg_store` is one libpq connection, used by one thread at a
 * time (the pool gives each server thread its own). The URL is libpq's
 * (postgresql://user@host:port/db); a password never comes in it (argv and
 * privreg.conf are readable): libpq takes it from PGPASSWORD, PGPASSFILE or
 * ~/.pgpass.
 *
 * Transactions keep the SQLite backend's guarantees. A write transaction
 * (store_begin) runs READ COMMITTED and first takes one transaction-scoped
 * advisory lock per database (PQ_WRITER_LOCK): writers of every process on
 * the database run one after another, as SQLite's single writer does, so
 * that erasure, the sweep and request state changes read what they change
 * without lost updates or serialisation failures to retry. Reads outside a
 * transaction, and read snapshots (store_begin_read: REPEATABLE READ, READ
 * ONLY), never wait for it. A nested begin is a SAVEPOINT. An INSERT inside
 * a transaction runs in a savepoint of its own, so that a constraint
 * violation (RC_EXISTS, which callers may answer and go on) undoes only
 * that statement, as in SQLite, instead of aborting the transaction; the
 * few whose callers end the transaction on any error (an access entry, the
 * ledger position) run without one. A statement of its own that loses to a
 * concurrent one (serialisation failure, deadlock) is run again here.
 *
 * Round trips are what a request pays for on PostgreSQL, so statements
 * that need no answer of their own travel with the next one that does, in
 * one flight (libpq's pipeline mode, one Sync): a begin sends nothing
 * (BEGIN, SET LOCAL and the lock go, in that order, before the
 * transaction's first statement, so the lock is still taken before
 * anything is read); a savepoint and its release go with the next
 * statement, and an INSERT's own savepoint and release with the INSERT;
 * pq_run_later's statements (access entries) with the next statement or
 * the COMMIT, at most PQ_DEFERRED_MAX to a flight. A failure anywhere in a
 * flight fails the transaction, as it would have one statement later; a
 * deferred statement's constraint violation is the transaction's failure
 * (RC_DB), never the next statement's RC_EXISTS or RC_NOT_FOUND. A read snapshot's end is sent without
 * waiting for its answer, which is read before the connection's next
 * statement; a transaction that ran no statement sends nothing at all.
 * Whatever uses the connection directly (copy.c) calls pq_ready first.
 *
 * Migrations in sql/postgres/ are applied in order at open, each in its own
 * transaction, under a session advisory lock, so that servers starting
 * together migrate once.
 */
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "base/log.h"
#include <sodium.h>

#include "store/postgres/internal.h"

struct migration {
	int number;
	const char *name;
	const char *sql;
};

/* The schema is one file, longer than C99's 4095-character string. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Woverlength-strings"
#include "sql_postgres.h"
#pragma GCC diagnostic pop

/* Room for the backend's statements without growing (about 100 today). */
#define SLOTS_INITIAL 256

/* Advisory lock keys ("privreg" and a role), per database. */
#define PQ_WRITER_LOCK "7070726976726501"
#define PQ_MIGRATE_LOCK "7070726976726502"

/* Nothing is shared between connections: PostgreSQL queues writers itself. */
struct store_shared {
	int unused;
};

/* ---- errors ---- */

static void note_error(struct pg_store *q, const PGresult *res)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (!state)
		state = PQstatus(q->conn) == CONNECTION_OK ? "XX000" : "08006";
	snprintf(q->sqlstate, sizeof q->sqlstate, "%s", state);
	if (q->depth)
		q->failed = true;
}

enum rc pq_map_rc(struct pg_store *q, const char *what)
{
	const char *st = q->sqlstate;
	if (!strcmp(st, "23505"))
		return RC_EXISTS;
	if (!strcmp(st, "23503"))
		return RC_NOT_FOUND;
	if (!strcmp(st, "23502"))
		return RC_INVALID;
	/* Only the SQLSTATE and the op: messages and details may quote values. */
	if (!strcmp(st, "40001") || !strcmp(st, "40P01") || !strcmp(st, "55P03") || !strncmp(st, "08", 2) ||
	    !strcmp(st, "57P01")) {
		log_warn("postgres unavailable op=%s sqlstate=%s", what, st);
		return RC_UNAVAILABLE;
	}
	log_error("postgres error op=%s sqlstate=%s", what, st);
	return RC_DB;
}

/* ---- the statement cache ---- */

static void slot_put(struct pq_stmt **slots, size_t nslots, struct pq_stmt *st)
{
	size_t i = pq_hash(st->sql) & (nslots - 1);
	while (slots[i])
		i = (i + 1) & (nslots - 1);
	slots[i] = st;
}

static void slots_grow(struct pg_store *q)
{
	size_t n = q->nslots * 2;
	struct pq_stmt **v = xcalloc(n, sizeof *v);
	for (size_t i = 0; i < q->nslots; i++)
		if (q->slots[i])
			slot_put(v, n, q->slots[i]);
	free(q->slots);
	q->slots = v;
	q->nslots = n;
}

/* The highest $N in sql; *used has bit N-1 set for each $N it names. */
static int count_params(const char *sql, unsigned *used)
{
	int max = 0;
	*used = 0;
	for (const char *p = sql; (p = strchr(p, '$')); p++) {
		int n = (int)strtol(p + 1, NULL, 10);
		if (n > max)
			max = n;
		if (n > 0 && n <= 32)
			*used |= 1u << (n - 1);
	}
	return max;
}

struct pq_stmt *pq_slot_new(struct pg_store *q, const char *sql)
{
	struct pq_stmt *st = xcalloc(1, sizeof *st);
	st->sql = sql;
	st->q = q;
	st->nparams = count_params(sql, &st->used);
	if (st->nparams > PQ_PARAMS_MAX)
		abort(); /* a programming error: raise PQ_PARAMS_MAX */
	snprintf(st->name, sizeof st->name, "p%zu", q->nused + 1);
	if (2 * (q->nused + 1) > q->nslots)
		slots_grow(q);
	slot_put(q->slots, q->nslots, st);
	q->nused++;
	return st;
}

/* ---- stepping ---- */

/* ---- what is sent later, what is read later ---- */

/* Reads the answer to a read snapshot's end, which was sent without
 * waiting for it: ending a read-only transaction changes nothing its
 * caller could wait for. */
static void finish_ending(struct pg_store *q)
{
	if (!q->ending)
		return;
	q->ending = false;
	PGresult *res;
	while ((res = PQgetResult(q->conn))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			log_warn("postgres clean-up failed op=end_read");
		PQclear(res);
	}
}

static void later_fini(struct pq_later *l)
{
	for (int i = 0; l->st && i < l->st->nparams; i++)
		free(l->vals[i]);
	memset(l, 0, sizeof *l);
}

/* Forgets what was deferred (the transaction ends without it). */
static void drop_deferred(struct pg_store *q)
{
	for (int i = 0; i < q->ndeferred; i++)
		later_fini(&q->deferred[i]);
	q->ndeferred = 0;
	q->nlater = 0;
}

/* The deferred statements (texts only: q->nlater is 0) and then sql (NULL:
 * none), as one text for the simple-query protocol, malloc'd. */
static char *join_deferred(struct pg_store *q, const char *sql)
{
	size_t len = sql ? strlen(sql) + 1 : 1;
	for (int i = 0; i < q->ndeferred; i++)
		len += strlen(q->deferred[i].sql) + 2;
	char *out = xmalloc(len), *p = out;
	for (int i = 0; i < q->ndeferred; i++)
		p += sprintf(p, "%s%s", i ? "; " : "", q->deferred[i].sql);
	if (sql)
		sprintf(p, "%s%s", q->ndeferred ? "; " : "", sql);
	drop_deferred(q);
	return out;
}

static const char statement_savepoint_sql[] = "SAVEPOINT pq_statement";
static const char statement_release_sql[] = "RELEASE SAVEPOINT pq_statement";

static bool send_later(struct pg_store *q, const struct pq_later *l)
{
	if (l->sql)
		return PQsendQueryParams(q->conn, l->sql, 0, NULL, NULL, NULL, NULL, 0);
	return PQsendQueryPrepared(q->conn, l->st->name, l->st->nparams, (const char *const *)l->vals, l->lens,
	                           l->fmts, 0);
}

/* Sends in one flight (libpq's pipeline mode) what was deferred, then the
 * main statement: st with its values, or the text last (st NULL), or
 * nothing (both NULL); with sp, st between a savepoint of its own and its
 * release. *out is the main statement's result. false, with the error
 * noted, if anything failed: a failure before the main statement leaves
 * the transaction able only to roll back; a failure of st itself inside
 * its savepoint undoes only st. */
static bool flight(struct pg_store *q, struct pq_stmt *st, const char *const *vals, const int *lens,
                   const int *fmts, bool sp, const char *last, PGresult **out)
{
	struct pq_later before[PQ_DEFERRED_MAX + 1];
	int nbefore = 0;
	for (int i = 0; i < q->ndeferred; i++)
		before[nbefore++] = q->deferred[i];
	q->ndeferred = 0;
	q->nlater = 0;
	if (sp)
		before[nbefore++] = (struct pq_later){.sql = statement_savepoint_sql};
	bool main = st || last;
	*out = NULL;
	q->opened = true;
	bool ok = PQenterPipelineMode(q->conn);
	int sent = 0, total = nbefore + main + sp;
	for (int i = 0; ok && i < nbefore; i++)
		sent += (ok = send_later(q, &before[i]));
	if (ok && st)
		sent += (ok = PQsendQueryPrepared(q->conn, st->name, st->nparams, vals, lens, fmts, 0));
	else if (ok && last)
		sent += (ok = PQsendQueryParams(q->conn, last, 0, NULL, NULL, NULL, NULL, 0));
	if (ok && sp)
		sent += (ok = PQsendQueryParams(q->conn, statement_release_sql, 0, NULL, NULL, NULL, NULL, 0));
	for (int i = 0; i < nbefore; i++)
		later_fini(&before[i]);
	if (PQpipelineStatus(q->conn) == PQ_PIPELINE_OFF) {
		note_error(q, NULL);
		return false;
	}
	ok = PQpipelineSync(q->conn) && ok;
	/* The answers come in order; after a failure the rest are skipped
	 * (PGRES_PIPELINE_ABORTED) up to the sync. */
	PGresult *err = NULL;
	int err_at = -1;
	bool sp_ok = false, main_ok = !main;
	for (int i = 0; i < sent; i++) {
		PGresult *res = PQgetResult(q->conn);
		if (!res) {
			ok = false;
			break;
		}
		ExecStatusType s = PQresultStatus(res);
		bool good = s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK;
		if (main && i == nbefore && good) {
			*out = res;
			main_ok = true;
		} else if (!good && s != PGRES_PIPELINE_ABORTED && !err) {
			err = res;
			err_at = i;
		} else {
			PQclear(res);
		}
		if (sp && i == nbefore - 1)
			sp_ok = good;
		while ((res = PQgetResult(q->conn))) /* the NULL that ends each answer */
			PQclear(res);
	}
	/* Up to the sync: an answer's ending NULL is not the end, so two in a
	 * row (nothing more will come) end the wait as the sync does. */
	PGresult *res;
	int nulls = 0;
	while (nulls < 2) {
		res = PQgetResult(q->conn);
		if (!res) {
			nulls++;
			continue;
		}
		nulls = 0;
		bool sync = PQresultStatus(res) == PGRES_PIPELINE_SYNC;
		PQclear(res);
		if (sync)
			break;
	}
	if (!PQexitPipelineMode(q->conn)) {
		/* Still in pipeline mode, the connection would refuse every later
		 * statement: it is reset between transactions (reconnect_if_lost). */
		q->broken = true;
		ok = false;
	}
	if (!err && ok && sent == total && main_ok)
		return true;
	note_error(q, err);
	if (err && err_at < nbefore - sp && q->sqlstate[0] == '2' && q->sqlstate[1] == '3') {
		/* A deferred statement (an access entry) broke a constraint: not
		 * the caller's statement's RC_EXISTS or RC_NOT_FOUND, which a
		 * caller may answer and go on from, but the transaction's
		 * failure, logged under its own name. */
		log_error("postgres error op=deferred sqlstate=%s", q->sqlstate);
		snprintf(q->sqlstate, sizeof q->sqlstate, "%s", "XX000");
	}
	PQclear(err);
	PQclear(*out);
	*out = NULL;
	if (sp_ok) {
		/* Only this statement is undone; the transaction goes on. */
		char state[6];
		memcpy(state, q->sqlstate, sizeof state);
		if (!pq_exec(q, "ROLLBACK TO SAVEPOINT pq_statement; RELEASE SAVEPOINT pq_statement", "savepoint"))
			q->failed = false;
		memcpy(q->sqlstate, state, sizeof state);
	}
	return false;
}

enum rc pq_exec(struct pg_store *q, const char *sql, const char *what)
{
	finish_ending(q);
	if (q->depth)
		q->opened = true;
	PGresult *res = NULL;
	if (q->nlater && !flight(q, NULL, NULL, NULL, NULL, false, NULL, &res))
		return pq_map_rc(q, what);
	char *joined = q->ndeferred ? join_deferred(q, sql) : NULL;
	res = PQexec(q->conn, joined ? joined : sql);
	ExecStatusType s = PQresultStatus(res);
	enum rc rc = RC_OK;
	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		note_error(q, res);
		rc = pq_map_rc(q, what);
	}
	PQclear(res);
	free(joined);
	return rc;
}

enum rc pq_ready(struct pg_store *q, const char *what)
{
	finish_ending(q);
	PGresult *res = NULL;
	if (q->ndeferred && !flight(q, NULL, NULL, NULL, NULL, false, NULL, &res))
		return pq_map_rc(q, what);
	return RC_OK;
}

/* For the clean-up paths, whose failure is logged and changes nothing. */
static void exec_quiet(struct pg_store *q, const char *sql, const char *what)
{
	if (pq_exec(q, sql, what))
		log_warn("postgres clean-up failed op=%s", what);
}

static bool lost_race(const PGresult *res)
{
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	return state && (!strcmp(state, "40001") || !strcmp(state, "40P01"));
}

static bool is_insert(const char *sql)
{
	return !strncmp(sql, "INSERT", 6);
}

/* Prepares st on this connection, on its first run. */
static bool prepare(struct pg_store *q, struct pq_stmt *st)
{
	if (st->prepared)
		return true;
	Oid types[PQ_PARAMS_MAX];
	for (int i = 0; i < st->nparams; i++)
		/* A parameter the text does not name (one of two texts that
		 * share their bindings) still needs a type. */
		types[i] = st->p[i].v ? st->p[i].type : st->used & (1u << i) ? 0 : PQ_TEXT;
	PGresult *res = PQprepare(q->conn, st->name, st->sql, st->nparams, types);
	bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
	if (!ok)
		note_error(q, res);
	PQclear(res);
	st->prepared = ok;
	return ok;
}

enum rc pq_run_later(struct pg_store *q, struct pq_stmt *st, const char *what)
{
	if (!q->depth)
		return pq_run(q, st, what);
	finish_ending(q);
	enum rc rc = q->ndeferred == PQ_DEFERRED_MAX ? pq_ready(q, what) : RC_OK;
	if (!rc && !prepare(q, st))
		rc = pq_map_rc(q, what);
	if (!rc) {
		struct pq_later *l = &q->deferred[q->ndeferred++];
		q->nlater++;
		*l = (struct pq_later){.st = st};
		for (int i = 0; i < st->nparams; i++) {
			const struct pq_param *p = &st->p[i];
			if (!p->v)
				continue;
			size_t len = p->fmt ? (size_t)p->len : strlen(p->v) + 1;
			l->vals[i] = xmemdup(p->v, len ? len : 1);
			l->lens[i] = p->len;
			l->fmts[i] = p->fmt;
		}
	}
	done(st);
	return rc;
}

static const char configure_sql[] =
	"SET client_min_messages = warning; SET TIME ZONE 'UTC'; SET bytea_output = 'hex'";

/* What the server says beside an answer (a warning, or its goodbye when it
 * ends the session while libpq waits for one): logged by severity and
 * SQLSTATE only, since a message may quote values; libpq would print it
 * whole to stderr. */
static void log_notice(void *arg, const PGresult *res)
{
	(void)arg;
	const char *sev = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);
	const char *state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	log_warn("postgres notice severity=%s sqlstate=%s", sev ? sev : "?", state ? state : "?");
}

/* A connection unused for this long asks its socket, before its next
 * transaction or statement, whether the server has gone meanwhile. */
#define PQ_IDLE_PROBE_MS 200

static int64_t monotonic_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A connection the server dropped (a restart, a fail-over) is opened again
 * between transactions, with its statements to prepare again; inside one,
 * the transaction is lost and its statements fail (RC_UNAVAILABLE). libpq
 * learns that the server went only when it next reads the socket: a
 * connection that sat unused through a restart would send its next
 * statement into the closed socket and fail once, in every thread, long
 * after the database is back. So one that sat unused reads what is waiting
 * first (reads that do not wait: the server's goodbye and the end of the
 * stream, or nothing), and a busy one costs nothing. */
static void reconnect_if_lost(struct pg_store *q)
{
	if (q->depth)
		return;
	int64_t now = monotonic_ms();
	bool idle = now - q->used_at >= PQ_IDLE_PROBE_MS;
	q->used_at = now;
	/* Only between transactions as the server sees them: the migrations
	 * send BEGIN and COMMIT themselves (pq_exec at depth 0), and a session
	 * opened again in between would take the COMMIT for nothing. Twice:
	 * the first read may take only the server's goodbye (a FATAL message),
	 * the second finds the end of the stream behind it. */
	if (idle && PQstatus(q->conn) == CONNECTION_OK && !q->broken &&
	    PQtransactionStatus(q->conn) == PQTRANS_IDLE && (!PQconsumeInput(q->conn) || !PQconsumeInput(q->conn)))
		q->broken = true;
	if (PQstatus(q->conn) == CONNECTION_OK && !q->broken)
		return;
	q->broken = false;
	PQreset(q->conn);
	if (PQstatus(q->conn) != CONNECTION_OK)
		return;
	log_warn("postgres connection lost and opened again");
	for (size_t i = 0; i < q->nslots; i++)
		if (q->slots[i])
			q->slots[i]->prepared = false;
	exec_quiet(q, configure_sql, "configure");
}

int pq_step(struct pq_stmt *st)
{
	struct pg_store *q = st->q;
	if (st->res) {
		st->row++;
		return st->row < st->nrows ? PQ_ROW : PQ_DONE;
	}
	const char *vals[PQ_PARAMS_MAX];
	int lens[PQ_PARAMS_MAX], fmts[PQ_PARAMS_MAX];
	for (int i = 0; i < st->nparams; i++) {
		vals[i] = st->p[i].v;
		lens[i] = st->p[i].len;
		fmts[i] = st->p[i].fmt;
	}
	finish_ending(q);
	reconnect_if_lost(q);
	if (!prepare(q, st))
		return PQ_ERROR;
	bool sp = q->depth > 0 && is_insert(st->sql) && !st->unguarded;
	PGresult *res = NULL;
	if (sp || q->ndeferred) {
		if (!flight(q, st, vals, lens, fmts, sp, NULL, &res))
			return PQ_ERROR;
	} else {
		res = PQexecPrepared(q->conn, st->name, st->nparams, vals, lens, fmts, 0);
	}
	ExecStatusType s = PQresultStatus(res);
	/* A statement of its own (no transaction around it) that lost to a
	 * concurrent one (a serialisation failure, a deadlock) is run again:
	 * nothing of it took effect. Inside a transaction the whole of it is
	 * the unit, and the caller's rollback ends it. */
	for (int tries = 0; !q->depth && tries < 3 && s == PGRES_FATAL_ERROR && lost_race(res); tries++) {
		PQclear(res);
		res = PQexecPrepared(q->conn, st->name, st->nparams, vals, lens, fmts, 0);
		s = PQresultStatus(res);
	}
	if (s != PGRES_TUPLES_OK && s != PGRES_COMMAND_OK) {
		note_error(q, res);
		PQclear(res);
		return PQ_ERROR;
	}
	st->res = res;
	st->nrows = s == PGRES_TUPLES_OK ? PQntuples(res) : 0;
	const char *ct = PQcmdTuples(res);
	q->changes = ct && *ct ? strtoll(ct, NULL, 10) : 0;
	st->row = 0;
	return st->nrows ? PQ_ROW : PQ_DONE;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

unsigned char *col_blob(struct pq_stmt *st, int i, size_t *n)
{
	*n = 0;
	if (col_null(st, i))
		return NULL;
	const char *v = col_raw(st, i);
	size_t len = (size_t)PQgetlength(st->res, st->row, i);
	unsigned char *out = NULL;
	if (len >= 2 && v[0] == '\\' && v[1] == 'x') {
		size_t bytes = (len - 2) / 2;
		if (!bytes)
			return NULL; /* as SQLite: an empty blob reads as NULL */
		out = xmalloc(bytes);
		for (size_t k = 0; k < bytes; k++) {
			int hi = hexval(v[2 + 2 * k]), lo = hexval(v[3 + 2 * k]);
			if (hi < 0 || lo < 0) {
				free(out);
				return NULL;
			}
			out[k] = (unsigned char)(hi << 4 | lo);
		}
		*n = bytes;
		return out;
	}
	size_t bytes = 0;
	unsigned char *u = PQunescapeBytea((const unsigned char *)v, &bytes);
	if (u && bytes)
		out = xmemdup(u, bytes);
	PQfreemem(u);
	*n = out ? bytes : 0;
	return out;
}

enum rc pq_run(struct pg_store *q, struct pq_stmt *st, const char *what)
{
	int r = pq_step(st);
	enum rc rc = r == PQ_ERROR ? pq_map_rc(q, what) : RC_OK;
	done(st);
	return rc;
}

enum rc pq_run_tenant_id(struct pg_store *q, const char *sql, int64_t tenant, const char *prefix, const char *id,
                         const char *what)
{
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, prefix, id);
	return pq_run(q, st, what);
}

enum rc pq_expire(struct pg_store *q, const char *sql, int64_t tenant, int64_t now, size_t max, size_t *n,
                  const char *what)
{
	struct pq_stmt *st = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 2, now);
	bind_int(st, 3, (int64_t)max);
	rc = pq_run(q, st, what);
	*n = rc ? 0 : (size_t)q->changes;
	return rc;
}

enum rc pq_fetch_one(struct pg_store *q, struct pq_stmt *st, row_reader *read, void *out, const char *what)
{
	int r = pq_step(st);
	enum rc rc = RC_OK;
	if (r == PQ_ROW)
		read(st, out);
	else
		rc = r == PQ_DONE ? RC_NOT_FOUND : pq_map_rc(q, what);
	done(st);
	return rc;
}

enum rc pq_fetch_all(struct pg_store *q, struct pq_stmt *st, row_reader *read, size_t elem, void **v, size_t *n,
                     const char *what)
{
	size_t alloc = *n;
	int r;
	while ((r = pq_step(st)) == PQ_ROW) {
		if (*n == alloc) {
			alloc = alloc ? alloc * 2 : 4;
			*v = xrealloc(*v, alloc * elem);
		}
		void *row = (char *)*v + *n * elem;
		memset(row, 0, elem);
		read(st, row);
		(*n)++;
	}
	enum rc rc = r == PQ_DONE ? RC_OK : pq_map_rc(q, what);
	done(st);
	return rc;
}

enum rc pq_fetch_one_by_id(struct pg_store *q, const char *sql, int64_t tenant, const char *prefix, const char *id,
                           row_reader *read, void *out, const char *what)
{
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, prefix, id);
	return pq_fetch_one(q, st, read, out, what);
}

enum rc pq_fetch_all_by_id(struct pg_store *q, const char *sql, int64_t tenant, const char *prefix, const char *id,
                           row_reader *read, size_t elem, void **v, size_t *n, const char *what)
{
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, prefix, id);
	return pq_fetch_all(q, st, read, elem, v, n, what);
}

/* ---- open, close, migrations ---- */

/* The newest migration applied; 0 for none. */
static int schema_newest(struct pg_store *q)
{
	PGresult *res = PQexec(q->conn, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
	int v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
	PQclear(res);
	return v;
}

static bool schema_has(struct pg_store *q, int number)
{
	char n[16];
	snprintf(n, sizeof n, "%d", number);
	const char *vals[1] = {n};
	PGresult *res = PQexecParams(q->conn, "SELECT 1 FROM schema_migrations WHERE version = $1::integer", 1, NULL,
	                             vals, NULL, NULL, 0);
	bool have = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1;
	PQclear(res);
	return have;
}

static enum rc note_migration(struct pg_store *q, const struct migration *m)
{
	char n[16];
	snprintf(n, sizeof n, "%d", m->number);
	const char *vals[2] = {n, m->name};
	PGresult *res = PQexecParams(q->conn,
	                             "INSERT INTO schema_migrations VALUES ($1::integer, $2::text, "
	                             "extract(epoch FROM now())::bigint)",
	                             2, NULL, vals, NULL, NULL, 0);
	enum rc rc = RC_OK;
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		note_error(q, res);
		rc = pq_map_rc(q, "migrate");
	}
	PQclear(res);
	return rc;
}

static enum rc migrate_locked(struct pg_store *q, struct errbuf *eb)
{
	enum rc rc = pq_exec(q, "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
	                        "name TEXT NOT NULL, applied_at BIGINT NOT NULL)", "migrate");
	if (rc)
		return err_set(eb, rc, "cannot create the migrations table");
	size_t known = sizeof postgres_migrations / sizeof postgres_migrations[0];
	int newest = schema_newest(q);
	if (newest > postgres_migrations[known - 1].number)
		return err_set(eb, RC_CONFLICT, "the register has schema %d, newer than this privreg knows (%d): use a newer "
		               "privreg", newest, postgres_migrations[known - 1].number);
	for (size_t i = 0; i < known; i++) {
		const struct migration *m = &postgres_migrations[i];
		if (schema_has(q, m->number))
			continue;
		rc = pq_exec(q, "BEGIN", "migrate");
		if (!rc)
			rc = pq_exec(q, m->sql, m->name);
		if (!rc)
			rc = note_migration(q, m);
		if (rc) {
			exec_quiet(q, "ROLLBACK", "migrate");
			return err_set(eb, rc, "migration %s failed", m->name);
		}
		rc = pq_exec(q, "COMMIT", "migrate");
		if (rc)
			return err_set(eb, rc, "migration %s failed to commit", m->name);
	}
	return RC_OK;
}

static enum rc migrate(struct pg_store *q, struct errbuf *eb)
{
	enum rc rc = pq_exec(q, "SELECT pg_advisory_lock(x'" PQ_MIGRATE_LOCK "'::bigint)", "migrate_lock");
	if (rc)
		return err_set(eb, rc, "cannot lock the database to migrate it");
	rc = migrate_locked(q, eb);
	if (pq_exec(q, "SELECT pg_advisory_unlock(x'" PQ_MIGRATE_LOCK "'::bigint)", "migrate_unlock") && !rc)
		rc = err_set(eb, RC_DB, "cannot unlock the database after migrating it");
	return rc;
}

static struct store_shared *pg_shared_new(const char *location)
{
	(void)location;
	return xcalloc(1, sizeof(struct store_shared));
}

static void pg_shared_free(struct store_shared *sh)
{
	free(sh);
}

static void pg_close(struct store *s)
{
	struct pg_store *q = pq(s);
	drop_deferred(q);
	for (size_t i = 0; i < q->nslots; i++) {
		if (q->slots[i]) {
			PQclear(q->slots[i]->res);
			free(q->slots[i]);
		}
	}
	free(q->slots);
	if (q->conn)
		PQfinish(q->conn);
	free(q);
}

/* RC_INVALID (with the reason) for a URL libpq cannot read or that carries
 * a password. */
static enum rc pg_check(const char *url, struct errbuf *eb)
{
	char *msg = NULL;
	PQconninfoOption *opts = PQconninfoParse(url, &msg);
	if (!opts) {
		enum rc rc = err_set(eb, RC_INVALID, "the store URL is not a PostgreSQL URL: %s",
		                     msg ? msg : "out of memory");
		PQfreemem(msg);
		return rc;
	}
	enum rc rc = RC_OK;
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && *o->val)
			rc = err_set(eb, RC_INVALID, "the store URL carries a password: give it in PGPASSWORD, PGPASSFILE or "
			                             "~/.pgpass instead (a URL is visible in ps and privreg.conf)");
	PQconninfoFree(opts);
	return rc;
}

/* 1 if the one-value query's answer is true, 0 if false, -1 on error. */
static int query_bool(struct pg_store *q, const char *sql)
{
	PGresult *res = PQexec(q->conn, sql);
	int v = PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) == 1 ? !strcmp(PQgetvalue(res, 0, 0), "t") : -1;
	PQclear(res);
	return v;
}

/* What the database holds, as mode expects it (store.h), read before the
 * migrations write anything. The URL carries no password (pg_check). */
static enum rc check_mode(struct pg_store *q, const char *url, enum store_mode mode, struct errbuf *eb)
{
	if (mode == STORE_CREATE)
		return RC_OK;
	int schema = query_bool(q, "SELECT to_regclass('schema_migrations') IS NOT NULL");
	int tenants = schema == 1 ? query_bool(q, "SELECT EXISTS (SELECT 1 FROM tenants)") : 0;
	int tombs = schema == 1 ? query_bool(q, "SELECT to_regclass('tenant_tombstones') IS NOT NULL") : 0;
	if (tombs == 1)
		tombs = query_bool(q, "SELECT EXISTS (SELECT 1 FROM tenant_tombstones)");
	const char *m = PQerrorMessage(q->conn);
	char why[256];
	snprintf(why, sizeof why, "%.*s", (int)strcspn(m, "\n"), m);
	return store_mode_check(mode, schema, tenants, tombs, url, why, eb);
}

static enum rc pg_open(const char *url, struct store_shared *shared, enum store_mode mode, struct store **out,
                       struct errbuf *eb)
{
	*out = NULL;
	enum rc rc = pg_check(url, eb);
	if (rc)
		return rc;
	struct pg_store *q = xcalloc(1, sizeof *q);
	q->base.ops = &store_postgres_ops;
	q->shared = shared;
	q->nslots = SLOTS_INITIAL;
	q->slots = xcalloc(q->nslots, sizeof *q->slots);
	q->conn = PQconnectdb(url);
	if (!q->conn || PQstatus(q->conn) != CONNECTION_OK) {
		/* libpq's message names host and database, not the password. */
		const char *m = q->conn ? PQerrorMessage(q->conn) : "out of memory";
		size_t len = strcspn(m, "\n");
		err_set(eb, RC_UNAVAILABLE, "cannot connect to the PostgreSQL store: %.*s", (int)len, m);
		pg_close(&q->base);
		return RC_UNAVAILABLE;
	}
	PQsetNoticeReceiver(q->conn, log_notice, NULL);
	randombytes_buf(&q->serial, sizeof q->serial);
	q->used_at = monotonic_ms();
	rc = pq_exec(q, configure_sql, "configure");
	if (rc) {
		err_set(eb, rc, "cannot configure the PostgreSQL connection");
		pg_close(&q->base);
		return rc;
	}
	rc = check_mode(q, url, mode, eb);
	if (!rc)
		rc = migrate(q, eb);
	if (rc) {
		pg_close(&q->base);
		return rc;
	}
	*out = &q->base;
	return RC_OK;
}

/* ---- transactions ---- */

static const char savepoint_sql[] = "SAVEPOINT sp";
static const char release_sql[] = "RELEASE SAVEPOINT sp";

/* Defers a statement of transaction control to the next flight. */
static enum rc defer(struct pg_store *q, const char *sql, const char *what)
{
	if (q->ndeferred == PQ_DEFERRED_MAX) {
		enum rc rc = pq_ready(q, what);
		if (rc)
			return rc;
	}
	q->deferred[q->ndeferred++] = (struct pq_later){.sql = sql};
	return RC_OK;
}

/* Opens a transaction (depth 0) or a savepoint in it. Nothing is sent
 * here: the statements go in one flight with the transaction's next
 * statement (pq_step, pq_exec), in their order, so the writer lock is still
 * taken before anything is read. */
static enum rc open_level(struct pg_store *q, const char *const *stmts, int n, const char *what)
{
	if (q->depth)
		return defer(q, savepoint_sql, what);
	drop_deferred(q);
	for (int i = 0; i < n; i++)
		q->deferred[i] = (struct pq_later){.sql = stmts[i]};
	q->ndeferred = n;
	q->opened = false;
	return RC_OK;
}

static enum rc begin(struct store *s, bool durable)
{
	/* The writer lock first: what this transaction reads afterwards is
	 * what no other writer changes until it ends. */
	static const char *const begin_sql[] = {
		"BEGIN ISOLATION LEVEL READ COMMITTED",
		"SELECT pg_advisory_xact_lock(x'" PQ_WRITER_LOCK "'::bigint)",
	};
	static const char *const begin_relaxed_sql[] = {
		"BEGIN ISOLATION LEVEL READ COMMITTED",
		"SET LOCAL synchronous_commit = off",
		"SELECT pg_advisory_xact_lock(x'" PQ_WRITER_LOCK "'::bigint)",
	};
	struct pg_store *q = pq(s);
	if (q->reading)
		return RC_INTERNAL; /* a write inside a read snapshot could not commit */
#ifdef PRIVREG_FAULTS
	if (q->base.fault) {
		q->base.fault = false;
		return RC_DB;
	}
#endif
	finish_ending(q);
	reconnect_if_lost(q);
	enum rc rc = durable ? open_level(q, begin_sql, 2, "begin") : open_level(q, begin_relaxed_sql, 3, "begin");
	if (rc)
		return rc;
	if (!q->depth) {
		q->serial = q->serial + 1 ? q->serial + 1 : 1;
		q->failed = false;
	}
	q->depth++;
	return RC_OK;
}

enum rc pg_begin(struct store *s)
{
	return begin(s, true);
}

enum rc pg_begin_relaxed(struct store *s)
{
	return begin(s, false);
}

enum rc pg_begin_read(struct store *s)
{
	static const char *const begin_read_sql[] = {"BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"};
	struct pg_store *q = pq(s);
#ifdef PRIVREG_FAULTS
	if (q->base.fault) {
		q->base.fault = false;
		return RC_DB;
	}
#endif
	finish_ending(q);
	reconnect_if_lost(q);
	enum rc rc = open_level(q, begin_read_sql, 1, "begin_read");
	if (!rc) {
		q->reading = q->reading || !q->depth;
		if (!q->depth)
			q->failed = false;
		q->depth++;
	}
	return rc;
}

/* A commit of a transaction that has an id waits for the WAL to reach the
 * disk, and with it every relaxed commit before it. */
enum rc pg_sync(struct store *s)
{
	struct pg_store *q = pq(s);
#ifdef PRIVREG_FAULTS
	if (q->base.fault) {
		q->base.fault = false;
		return RC_DB;
	}
#endif
	if (q->depth)
		return RC_OK; /* the outermost commit is durable itself */
	finish_ending(q);
	reconnect_if_lost(q); /* the server's tick: a restarted database is found here first */
	return pq_exec(q, "SELECT txid_current()", "sync");
}

enum rc pg_transaction(struct store *s, uint64_t *serial)
{
	struct pg_store *q = pq(s);
	*serial = q->depth > 0 && !q->reading ? q->serial : 0;
#ifdef PRIVREG_FAULTS
	if (q->base.fault) {
		q->base.fault = false;
		return RC_DB;
	}
#endif
	return RC_OK;
}

static void end_outermost(struct pg_store *q)
{
	if (!q->depth) {
		q->reading = false;
		q->failed = false;
		q->opened = false;
		q->ndeferred = 0;
	}
}

/* The statement that ends a level whose savepoint is the last deferred
 * one: nothing ran inside it, so both are dropped unsent. */
static bool drop_unsent_savepoint(struct pg_store *q)
{
	if (q->depth < 2 || !q->ndeferred || q->deferred[q->ndeferred - 1].sql != savepoint_sql)
		return false;
	q->ndeferred--;
	return true;
}

enum rc pg_commit(struct store *s)
{
	struct pg_store *q = pq(s);
	if (!q->depth)
		return RC_INTERNAL;
#ifdef PRIVREG_FAULTS
	if (q->base.fault) {
		q->base.fault = false;
		pg_rollback(s);
		return RC_DB;
	}
#endif
	finish_ending(q);
	if (q->failed) {
		/* A statement failed and its caller commits anyway: PostgreSQL
		 * would answer COMMIT with a rollback. Say so. */
		log_error("postgres commit op=commit: the transaction had failed; rolled back");
		pg_rollback(s);
		return RC_DB;
	}
	if (q->depth > 1) {
		/* A savepoint's release goes with the next statement: if it
		 * failed, the transaction fails there and the caller's rollback
		 * ends it. */
		enum rc rc = drop_unsent_savepoint(q) ? RC_OK : defer(q, release_sql, "commit");
		if (rc) {
			pg_rollback(s);
			return rc;
		}
		q->depth--;
		return RC_OK;
	}
	enum rc rc = RC_OK;
	if (!q->opened && !q->nlater) {
		drop_deferred(q); /* no statement ran: there is nothing to commit */
	} else if (q->reading && !q->nlater) {
		/* A read snapshot's end is sent, and its answer read before the
		 * connection's next statement: the caller need not wait for it. */
		char *sql = join_deferred(q, "COMMIT");
		if (PQsendQuery(q->conn, sql))
			q->ending = true;
		else
			log_warn("postgres clean-up failed op=end_read");
		free(sql);
	} else {
		/* What was deferred, statements run later among it, goes in one
		 * flight with the COMMIT. */
		PGresult *res = NULL;
		if (q->nlater) {
			if (!flight(q, NULL, NULL, NULL, NULL, false, "COMMIT", &res))
				rc = pq_map_rc(q, "commit"); /* the error is noted */
		} else {
			char *sql = join_deferred(q, "COMMIT");
			res = PQexec(q->conn, sql);
			free(sql);
		}
		if (rc) {
			/* noted by flight */
		} else if (PQresultStatus(res) != PGRES_COMMAND_OK) {
			note_error(q, res);
			rc = pq_map_rc(q, "commit");
		} else if (strcmp(PQcmdStatus(res), "COMMIT")) {
			rc = RC_DB; /* "ROLLBACK": the transaction had failed */
		}
		PQclear(res);
		if (rc && PQtransactionStatus(q->conn) != PQTRANS_IDLE)
			exec_quiet(q, "ROLLBACK", "commit");
	}
	q->depth = 0;
	end_outermost(q);
	return rc;
}

void pg_rollback(struct store *s)
{
	struct pg_store *q = pq(s);
	if (!q->depth)
		return;
	finish_ending(q);
	if (drop_unsent_savepoint(q)) {
		/* nothing ran inside the level: nothing to undo */
	} else if (q->depth > 1) {
		/* ROLLBACK TO keeps the savepoint open; RELEASE closes it. The
		 * outer transaction is usable again. */
		if (!pq_exec(q, "ROLLBACK TO SAVEPOINT sp; RELEASE SAVEPOINT sp", "rollback"))
			q->failed = false;
	} else if (!q->opened) {
		drop_deferred(q); /* nothing was sent */
	} else {
		/* What was deferred is undone with the rest. On a lost
		 * connection (idle) the transaction is gone already. */
		drop_deferred(q);
		bool open = PQtransactionStatus(q->conn) != PQTRANS_IDLE;
		if (open && q->reading && PQsendQuery(q->conn, "ROLLBACK"))
			q->ending = true;
		else if (open)
			exec_quiet(q, "ROLLBACK", "rollback");
	}
	q->depth--;
	end_outermost(q);
}

const struct store_ops store_postgres_ops = {
	.name = "postgresql",
	.library_init = NULL,
	.check = pg_check,
	.shared_new = pg_shared_new,
	.shared_free = pg_shared_free,
	.open = pg_open,
	.close = pg_close,
	.rollback = pg_rollback,
#define STORE_OP(ret, name, params, args) .name = pg_##name,
#include "store/ops.def"
#undef STORE_OP
};
