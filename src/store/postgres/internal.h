/*
 * postgres/internal.h: what the files of the PostgreSQL backend share: the
 * connection, its cache of prepared statements, and the helpers that bind
 * parameters, read columns and step statements. Not for use outside
 * src/store/postgres/. It mirrors sqlite/internal.h name for name, so that
 * the two backends' domain files read alike and a store operation is ported
 * by changing its SQL, not its shape.
 *
 * One file per domain (tenants.c, subjects.c, consent.c, requests.c,
 * retention.c, holds.c, audit.c, outbox.c, idempotency.c, backup.c,
 * attest.c, users.c) holds
 * that domain's operations, each with its SQL beside it as static text;
 * conn.c holds the connection, the transactions and `store_postgres_ops`.
 *
 * Statements are prepared once per connection (PQprepare, named "pN"), on
 * their first run, and kept: the cache is keyed by the address of the
 * statement's static SQL text, as in the SQLite backend. A statement is
 * prepared with the types of its first bindings (bigint, bytea, text; NULL
 * leaves the type to the server), so a parameter used only in `$2 IS NULL`
 * still has a type. Parameters travel as text, but for bytea, which travels
 * as binary; results come back as text (bytea hex-escaped).
 *
 * pq_step() runs the statement on its first call and hands out its rows one
 * by one on the next ones, as sqlite3_step does; done() readies a kept
 * statement for its next use and must follow every run.
 *
 * Ids are stored as their 16 bytes (bytea). Text that is not an id binds as
 * NULL, which matches no row and violates NOT NULL on insert.
 */
#ifndef PRIVREG_STORE_POSTGRES_INTERNAL_H
#define PRIVREG_STORE_POSTGRES_INTERNAL_H

#include <libpq-fe.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/store.h"

/* The most parameters one statement of this backend binds. */
#define PQ_PARAMS_MAX 16

/* The statements deferred to the next flight (BEGIN, SET LOCAL, the writer
 * lock, savepoints and their releases, statements run later), at most. */
#define PQ_DEFERRED_MAX 64

/* pq_step's answers, as sqlite3_step's. */
enum { PQ_ROW = 1, PQ_DONE = 2, PQ_ERROR = 3 };

struct pq_param {
	const char *v;  /* NULL: SQL NULL */
	int len;        /* bytes of a binary value */
	int fmt;        /* 0 text, 1 binary */
	unsigned type;  /* the Oid the statement is prepared with; 0: the server's choice */
	char buf[24];   /* an integer's text, or an id's 16 bytes */
};

/* One kept statement, with its bindings and its current result. */
struct pq_stmt {
	const char *sql;       /* static text: the cache's key */
	char name[16];         /* its name on the server once prepared */
	bool prepared;
	/* No savepoint of its own inside a transaction (an INSERT's guard): its
	 * failure fails the transaction. For statements whose callers roll
	 * back on any error; it saves two statements of the server's. */
	bool unguarded;
	int nparams;           /* the highest $N in sql */
	unsigned used;         /* bit N-1: sql names $N */
	struct pq_param p[PQ_PARAMS_MAX];
	PGresult *res;         /* after the first pq_step */
	int row, nrows;
	struct pg_store *q;
};

/* A statement deferred to the next flight: transaction control (sql), or
 * a kept statement with copies of its values (pq_run_later). */
struct pq_later {
	const char *sql;
	struct pq_stmt *st;
	char *vals[PQ_PARAMS_MAX];
	int lens[PQ_PARAMS_MAX], fmts[PQ_PARAMS_MAX];
};

struct pg_store {
	struct store base;
	struct store_shared *shared;
	PGconn *conn;
	struct pq_stmt **slots; /* open addressing by SQL address; nslots a power of two */
	size_t nslots, nused;
	int depth;             /* open transaction levels */
	bool reading;          /* the outermost transaction is a read snapshot */
	bool failed;           /* a statement failed: the transaction can only roll back */
	struct pq_later deferred[PQ_DEFERRED_MAX]; /* sent before the next statement, in order */
	int ndeferred;
	int nlater;            /* of them, statements run later (pq_run_later) */
	bool opened;           /* the outermost transaction's BEGIN was sent */
	bool broken;           /* left in pipeline mode: reset before its next use */
	bool ending;           /* a read snapshot's end was sent and its answer is not read yet */
	int64_t used_at;       /* CLOCK_MONOTONIC ms of the last transaction or statement begun outside one */
	uint64_t serial;       /* the open write transaction's (store_transaction) */
	int64_t changes;       /* rows the last statement changed */
	char sqlstate[6];      /* the last error's SQLSTATE */
};

static inline struct pg_store *pq(struct store *s)
{
	return (struct pg_store *)s;
}

/* The backend's operations (store/ops.def) and what ops.def leaves out. */
#define STORE_OP(ret, name, params, args) WUR ret pg_##name params;
#include "store/ops.def"
#undef STORE_OP
void pg_rollback(struct store *s);

/* The last error on q as an rc; logs it (op name and SQLSTATE, never values). */
enum rc pq_map_rc(struct pg_store *q, const char *what) WUR;
/* The kept statement for sql (static text) in the cache: pq_stmt's slow path. */
struct pq_stmt *pq_slot_new(struct pg_store *q, const char *sql);

static inline size_t pq_hash(const char *sql)
{
	return (size_t)(((uint64_t)(uintptr_t)sql * 0x9E3779B97F4A7C15ull) >> 32);
}

/* The kept statement for sql (static text), ready to bind. */
static inline WUR enum rc pq_stmt_get(struct pg_store *q, const char *sql, struct pq_stmt **out)
{
#ifdef PRIVREG_FAULTS
	if (q->base.fault) { /* test builds: an injected failure (store_fault_arm) */
		q->base.fault = false;
		return RC_DB;
	}
#endif
	size_t mask = q->nslots - 1;
	for (size_t i = pq_hash(sql) & mask; q->slots[i]; i = (i + 1) & mask) {
		if (q->slots[i]->sql == sql) {
			*out = q->slots[i];
			return RC_OK;
		}
	}
	*out = pq_slot_new(q, sql);
	return RC_OK;
}

/* ---- binding ---- */

#define PQ_INT8 20u
#define PQ_TEXT 25u
#define PQ_BYTEA 17u

static inline void bind_null(struct pq_stmt *st, int i)
{
	st->p[i - 1] = (struct pq_param){.v = NULL};
}

static inline void bind_int(struct pq_stmt *st, int i, int64_t v)
{
	struct pq_param *p = &st->p[i - 1];
	snprintf(p->buf, sizeof p->buf, "%lld", (long long)v);
	p->v = p->buf;
	p->len = 0;
	p->fmt = 0;
	p->type = PQ_INT8;
}

/* The kept statement for sql with the tenant bound as $1. */
static inline WUR enum rc pq_tenant(struct pg_store *q, const char *sql, int64_t tenant, struct pq_stmt **out)
{
	enum rc rc = pq_stmt_get(q, sql, out);
	if (!rc)
		bind_int(*out, 1, tenant);
	return rc;
}

static inline void bind_text(struct pq_stmt *st, int i, const char *s)
{
	st->p[i - 1] = (struct pq_param){.v = s, .fmt = 0, .type = PQ_TEXT};
}

static inline void bind_opt_text(struct pq_stmt *st, int i, const char *s)
{
	if (s)
		bind_text(st, i, s);
	else
		bind_null(st, i);
}

static inline void bind_blob(struct pq_stmt *st, int i, const void *p, size_t n)
{
	/* A zero-length value must not be NULL: "" stands for it. */
	if (p)
		st->p[i - 1] = (struct pq_param){.v = n ? p : "", .len = (int)n, .fmt = 1, .type = PQ_BYTEA};
	else
		bind_null(st, i);
}

/* 0 stands for "none" in the store's structs and NULL in the tables. */
static inline void bind_opt_int(struct pq_stmt *st, int i, int64_t v)
{
	if (v)
		bind_int(st, i, v);
	else
		bind_null(st, i);
}

static inline void bind_id(struct pq_stmt *st, int i, const char *prefix, const char *id)
{
	struct pq_param *p = &st->p[i - 1];
	_Static_assert(TOKEN_ID_BYTES <= sizeof p->buf, "an id fits the inline buffer");
	if (token_id_decode(prefix, id, (unsigned char *)p->buf)) {
		p->v = p->buf;
		p->len = TOKEN_ID_BYTES;
		p->fmt = 1;
		p->type = PQ_BYTEA;
	} else {
		bind_null(st, i);
	}
}

static inline void bind_opt_id(struct pq_stmt *st, int i, const char *prefix, const char *id)
{
	if (id && *id)
		bind_id(st, i, prefix, id);
	else
		bind_null(st, i);
}

/* A paging cursor: the id after which to go on, or ("" or NULL) an empty
 * bytea, which sorts before every id. */
static inline void bind_after(struct pq_stmt *st, int i, const char *prefix, const char *after)
{
	if (after && *after)
		bind_id(st, i, prefix, after);
	else
		bind_blob(st, i, "", 0);
}

/* ---- stepping ---- */

/* Runs the statement (first call) or moves to its next row: PQ_ROW, PQ_DONE
 * or PQ_ERROR (pq_map_rc says which error). */
int pq_step(struct pq_stmt *st);

/* Readies a kept statement for its next use: its result and bindings go. */
static inline void done(struct pq_stmt *st)
{
	PQclear(st->res);
	st->res = NULL;
	st->row = st->nrows = 0;
	memset(st->p, 0, sizeof st->p);
}

/* Runs a bound statement that returns no rows (or whose rows are not read);
 * q->changes is then the rows it changed. */
enum rc pq_run(struct pg_store *q, struct pq_stmt *st, const char *what) WUR;
/* As pq_run inside a transaction, but the statement is sent with the
 * transaction's next one (or its COMMIT) instead of now, and its failure
 * is that statement's or the commit's: for statements whose caller needs
 * no answer and ends the transaction on any error. It runs without a
 * savepoint of its own, and q->changes does not count it. Outside a
 * transaction it is pq_run. */
enum rc pq_run_later(struct pg_store *q, struct pq_stmt *st, const char *what) WUR;
/* Runs sql, whose parameters are (tenant, id). */
enum rc pq_run_tenant_id(struct pg_store *q, const char *sql, int64_t tenant, const char *prefix, const char *id,
                         const char *what) WUR;
/* A bounded delete of what has expired: sql binds $1 tenant, $2 now and $3
 * max; *n the rows deleted. */
enum rc pq_expire(struct pg_store *q, const char *sql, int64_t tenant, int64_t now, size_t max, size_t *n,
                  const char *what) WUR;
/* Runs text with no parameters and no kept statement (transaction control,
 * migrations); simple-query protocol, so it may hold several statements. */
enum rc pq_exec(struct pg_store *q, const char *sql, const char *what) WUR;

/* Sends what a begin deferred and reads the answer of a read snapshot's
 * end: whatever uses q->conn itself (not through pq_step or pq_exec) calls
 * it first, or its statement would run outside the caller's transaction. */
enum rc pq_ready(struct pg_store *q, const char *what) WUR;

typedef void row_reader(struct pq_stmt *st, void *out);

enum rc pq_fetch_one(struct pg_store *q, struct pq_stmt *st, row_reader *read, void *out, const char *what) WUR;
enum rc pq_fetch_all(struct pg_store *q, struct pq_stmt *st, row_reader *read, size_t elem, void **v, size_t *n,
                     const char *what) WUR;
enum rc pq_fetch_one_by_id(struct pg_store *q, const char *sql, int64_t tenant, const char *prefix, const char *id,
                           row_reader *read, void *out, const char *what) WUR;
enum rc pq_fetch_all_by_id(struct pg_store *q, const char *sql, int64_t tenant, const char *prefix, const char *id,
                           row_reader *read, size_t elem, void **v, size_t *n, const char *what) WUR;

/* ---- reading columns of the current row ---- */

static inline bool col_null(struct pq_stmt *st, int i)
{
	return PQgetisnull(st->res, st->row, i);
}

static inline const char *col_raw(struct pq_stmt *st, int i)
{
	return PQgetvalue(st->res, st->row, i);
}

/* An integer (NULL: 0); a boolean reads as 1 or 0. */
static inline int64_t col_int(struct pq_stmt *st, int i)
{
	if (col_null(st, i))
		return 0;
	const char *v = col_raw(st, i);
	if (v[0] == 't' && !v[1])
		return 1;
	if (v[0] == 'f' && !v[1])
		return 0;
	return strtoll(v, NULL, 10);
}

static inline char *col_text(struct pq_stmt *st, int i)
{
	return xstrdup(col_null(st, i) ? "" : col_raw(st, i));
}

static inline char *col_opt_text(struct pq_stmt *st, int i)
{
	return col_null(st, i) ? NULL : col_text(st, i);
}

/* Text into a fixed buffer; the columns read this way are bounded on write. */
static inline void col_copy(struct pq_stmt *st, int i, char *out, size_t size)
{
	snprintf(out, size, "%s", col_null(st, i) ? "" : col_raw(st, i));
}

/* A bytea column's bytes (from the hex text form), malloc'd; NULL for NULL. */
unsigned char *col_blob(struct pq_stmt *st, int i, size_t *n);

static inline void col_id(struct pq_stmt *st, int i, const char *prefix, char out[TOKEN_ID_MAX])
{
	size_t n = 0;
	unsigned char *b = col_blob(st, i, &n);
	if (b && n == TOKEN_ID_BYTES)
		token_id_encode(prefix, b, out);
	else
		out[0] = '\0';
	free(b);
}

/* A bytea of exactly len bytes into out; left as it is otherwise. */
static inline void col_fixed(struct pq_stmt *st, int i, unsigned char *out, size_t len)
{
	size_t n = 0;
	unsigned char *b = col_blob(st, i, &n);
	if (b && n == len)
		memcpy(out, b, len);
	free(b);
}

/* A bytea of at most max bytes into out, its length in *len; *len is 0 for
 * a longer one (out left as it is) and for NULL. */
static inline void col_upto(struct pq_stmt *st, int i, unsigned char *out, size_t max, size_t *len)
{
	size_t n = 0;
	unsigned char *b = col_blob(st, i, &n);
	*len = b && n <= max ? n : 0;
	if (*len)
		memcpy(out, b, n);
	free(b);
}

/* A row_reader for one integer (a count, an id, a 1). */
static inline void read_count(struct pq_stmt *st, void *out)
{
	*(int64_t *)out = col_int(st, 0);
}

#endif
