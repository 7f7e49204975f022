/*
 * sqlite/internal.h: what the files of the SQLite backend share: the
 * connection, its cache of prepared statements, and the helpers that bind
 * parameters, read columns and step statements. Not for use outside
 * src/store/sqlite/.
 *
 * One file per domain (tenants.c, subjects.c, consent.c, requests.c,
 * retention.c, holds.c, audit.c, outbox.c) holds that domain's operations,
 * each with its SQL beside it as static text; conn.c holds the connection,
 * the transactions and the `store_sqlite_ops` table. An operation is named
 * sqlite_<op> after its line in store/ops.def, which declares it here.
 *
 * Statements are prepared once per connection, on first use, and kept: the
 * cache is keyed by the address of the statement's static SQL text, so a new
 * statement needs no entry in any list. SQL text passed to sq_stmt must
 * therefore have static storage (a `static const char sql[]`). A kept
 * statement is reset and its bindings cleared after each use (`done`): every
 * helper that steps one does so, and so must any function that steps its own.
 *
 * Some statements name their index (INDEXED BY): without ANALYZE statistics
 * SQLite prefers a WITHOUT ROWID table's primary key whenever its first
 * column (tenant_id) is constrained, and scans the tenant's every record.
 *
 * Ids are stored as their 16 bytes, not their 30 characters: every index
 * that holds one is smaller for it. Text that is not an id binds as NULL,
 * which matches no row and violates NOT NULL on insert.
 */
#ifndef PRIVREG_STORE_SQLITE_INTERNAL_H
#define PRIVREG_STORE_SQLITE_INTERNAL_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "base/xalloc.h"
#include "store/store.h"


/* One kept statement; sql NULL: an empty slot. */
struct sq_slot {
	const char *sql;
	sqlite3_stmt *st;
};

/* A lookup row of an import that the index has not taken yet: see
 * sqlite/import.c. */
struct sq_pending_lookup {
	unsigned char hash[VAULT_HASH_LEN];
	unsigned char record[TOKEN_ID_BYTES];
};

struct sqlite_store {
	struct store base;
	struct store_shared *shared;
	sqlite3 *db;
	struct sq_slot *slots; /* open addressing by SQL address; nslots a power of two */
	size_t nslots, nused;  /* nused <= nslots / 2, so a probe meets an empty slot soon */
	int depth;             /* open transaction levels */
	bool durable;          /* the open transaction commits with synchronous=FULL */
	bool reading;          /* the outermost transaction is a read snapshot (no writer slot) */
	bool sync_pending;     /* a sync asked for inside a transaction: done after its commit */
	uint64_t serial;       /* the open write transaction's (store_transaction) */
	/* The open transaction's pending lookup rows, all of one tenant and
	 * all written at its innermost level (a begin inserts them first). */
	struct sq_pending_lookup *pend;
	size_t npend, apend;
	int64_t pend_tenant;
};

static inline struct sqlite_store *sq(struct store *s)
{
	return (struct sqlite_store *)s;
}

/* The backend's operations (store/ops.def) and what ops.def leaves out. */
#define STORE_OP(ret, name, params, args) WUR ret sqlite_##name params;
#include "store/ops.def"
#undef STORE_OP
void sqlite_rollback(struct store *s);
/* Inserts the pending lookup rows of an import (sqlite/import.c). Called
 * before a commit or a savepoint, and by every operation that reads or
 * deletes lookup rows; a rollback drops them (npend = 0). */
enum rc sq_lookups_flush(struct sqlite_store *q) WUR;
#ifdef PRIVREG_FAULTS
/* Installs the power-cut VFS as the default when PRIVREG_POWERCUT is set
 * (test builds only: powercut.c). */
enum rc sqlite_powercut_install(void) WUR;
#endif

/* A SQLite result code as an rc; logs the error (op name, never values). */
enum rc sq_map_rc(struct sqlite_store *q, int src, const char *what) WUR;
/* Prepares sql, keeps it in the cache and returns it: sq_stmt's slow path. */
enum rc sq_prepare(struct sqlite_store *q, const char *sql, sqlite3_stmt **out) WUR;

static inline size_t sq_hash(const char *sql)
{
	return (size_t)(((uint64_t)(uintptr_t)sql * 0x9E3779B97F4A7C15ull) >> 32);
}

/* The kept statement for sql (static text), ready to bind. */
static inline WUR enum rc sq_stmt(struct sqlite_store *q, const char *sql, sqlite3_stmt **out)
{
#ifdef PRIVREG_FAULTS
	if (q->base.fault) { /* test builds: an injected failure (store_fault_arm) */
		q->base.fault = false;
		return RC_DB;
	}
#endif
	size_t mask = q->nslots - 1;
	for (size_t i = sq_hash(sql) & mask; q->slots[i].sql; i = (i + 1) & mask) {
		if (q->slots[i].sql == sql) {
			*out = q->slots[i].st;
			return RC_OK;
		}
	}
	return sq_prepare(q, sql, out);
}

/* The kept statement for sql with the tenant bound as ?1: the start of
 * nearly every operation, since every statement filters by tenant. */
static inline WUR enum rc sq_tenant(struct sqlite_store *q, const char *sql, int64_t tenant, sqlite3_stmt **out)
{
	enum rc rc = sq_stmt(q, sql, out);
	if (!rc)
		sqlite3_bind_int64(*out, 1, tenant);
	return rc;
}

/* Readies a kept statement for its next use. */
static inline void done(sqlite3_stmt *st)
{
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
}

/* Runs a bound statement that returns no rows. */
enum rc sq_run(struct sqlite_store *q, sqlite3_stmt *st, const char *what) WUR;
/* Runs sql, whose parameters are (tenant, id). */
enum rc sq_run_tenant_id(struct sqlite_store *q, const char *sql, int64_t tenant, const char *prefix,
                         const char *id, const char *what) WUR;
/* A bounded delete of what has expired: sql binds ?1 tenant, ?2 now and ?3
 * max (at most that many rows); *n the rows deleted. */
enum rc sq_expire(struct sqlite_store *q, const char *sql, int64_t tenant, int64_t now, size_t max, size_t *n,
                  const char *what) WUR;

typedef void row_reader(sqlite3_stmt *st, void *out);

/* Steps a bound statement that returns at most one row: RC_NOT_FOUND if none. */
enum rc sq_fetch_one(struct sqlite_store *q, sqlite3_stmt *st, row_reader *read, void *out,
                     const char *what) WUR;
/* Steps a bound statement, appending each row (elem bytes, zeroed before
 * `read` fills it) to the array *v of *n elements. */
enum rc sq_fetch_all(struct sqlite_store *q, sqlite3_stmt *st, row_reader *read, size_t elem, void **v,
                     size_t *n, const char *what) WUR;

/* The same for sql whose parameters are (tenant, id): the one-row and the
 * all-rows reads of one object or of one subject's rows. */
enum rc sq_fetch_one_by_id(struct sqlite_store *q, const char *sql, int64_t tenant, const char *prefix,
                           const char *id, row_reader *read, void *out, const char *what) WUR;
enum rc sq_fetch_all_by_id(struct sqlite_store *q, const char *sql, int64_t tenant, const char *prefix,
                           const char *id, row_reader *read, size_t elem, void **v, size_t *n,
                           const char *what) WUR;

/* ---- binding ---- */

static inline void bind_text(sqlite3_stmt *st, int i, const char *s)
{
	sqlite3_bind_text(st, i, s, -1, SQLITE_STATIC);
}

static inline void bind_opt_text(sqlite3_stmt *st, int i, const char *s)
{
	if (s)
		bind_text(st, i, s);
	else
		sqlite3_bind_null(st, i);
}

static inline void bind_blob(sqlite3_stmt *st, int i, const void *p, size_t n)
{
	if (p)
		sqlite3_bind_blob64(st, i, p, n, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

/* 0 stands for "none" in the store's structs and NULL in the tables. */
static inline void bind_opt_int(sqlite3_stmt *st, int i, int64_t v)
{
	if (v)
		sqlite3_bind_int64(st, i, v);
	else
		sqlite3_bind_null(st, i);
}

static inline void bind_id(sqlite3_stmt *st, int i, const char *prefix, const char *id)
{
	unsigned char b[TOKEN_ID_BYTES];
	if (token_id_decode(prefix, id, b))
		sqlite3_bind_blob(st, i, b, sizeof b, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(st, i);
}

static inline void bind_opt_id(sqlite3_stmt *st, int i, const char *prefix, const char *id)
{
	if (id && *id)
		bind_id(st, i, prefix, id);
	else
		sqlite3_bind_null(st, i);
}

/* A paging cursor: the id after which to go on, or ("" or NULL) an empty
 * blob, which sorts before every id. */
static inline void bind_after(sqlite3_stmt *st, int i, const char *prefix, const char *after)
{
	static const unsigned char zero[1];
	if (after && *after)
		bind_id(st, i, prefix, after);
	else
		sqlite3_bind_blob(st, i, zero, 0, SQLITE_STATIC);
}

/* ---- reading columns ---- */

static inline char *col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return xstrdup(t ? (const char *)t : "");
}

static inline char *col_opt_text(sqlite3_stmt *st, int i)
{
	return sqlite3_column_type(st, i) == SQLITE_NULL ? NULL : col_text(st, i);
}

/* Text into a fixed buffer; the columns read this way are bounded on write. */
static inline void col_copy(sqlite3_stmt *st, int i, char *out, size_t size)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	snprintf(out, size, "%s", t ? (const char *)t : "");
}

static inline void col_id(sqlite3_stmt *st, int i, const char *prefix, char out[TOKEN_ID_MAX])
{
	const void *b = sqlite3_column_blob(st, i);
	if (b && sqlite3_column_bytes(st, i) == TOKEN_ID_BYTES)
		token_id_encode(prefix, b, out);
	else
		out[0] = '\0';
}

static inline unsigned char *col_blob(sqlite3_stmt *st, int i, size_t *n)
{
	const void *p = sqlite3_column_blob(st, i);
	*n = (size_t)sqlite3_column_bytes(st, i);
	return p ? xmemdup(p, *n) : NULL;
}

/* A blob of exactly len bytes into out; left as it is otherwise. */
static inline void col_fixed(sqlite3_stmt *st, int i, unsigned char *out, size_t len)
{
	if ((size_t)sqlite3_column_bytes(st, i) == len)
		memcpy(out, sqlite3_column_blob(st, i), len);
}

/* A blob of at most max bytes into out, its length in *len; *len is 0 for
 * a longer one (out left as it is) and for NULL. */
static inline void col_upto(sqlite3_stmt *st, int i, unsigned char *out, size_t max, size_t *len)
{
	size_t n = (size_t)sqlite3_column_bytes(st, i);
	*len = n <= max ? n : 0;
	if (*len)
		memcpy(out, sqlite3_column_blob(st, i), n);
}

/* A row_reader for one integer (a count, an id, a 1). */
static inline void read_count(sqlite3_stmt *st, void *out)
{
	*(int64_t *)out = sqlite3_column_int64(st, 0);
}

#endif
