/*
 * sqlite/copy.c: a whole register's rows, table by table, for `privreg
 * migrate` (store/copy.def): the schema check, counts, a streaming read
 * and the inserts. Rows go as stored: ids, ciphertext and hashes as bytes.
 *
 * A read steps one statement over the table: constant memory whatever its
 * size. The writes are plain inserts into the caller's transaction (one
 * transaction for the whole copy is the cheapest SQLite can do); the
 * statements are kept like every other, keyed by their static text.
 */
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>

#include "store/sqlite/internal.h"

static const char *const select_sql[STORE_COPY_TABLES] = {
#define COPY_TABLE(name, columns, types, marks) [STORE_COPY_##name] = "SELECT " columns " FROM " #name,
#include "store/copy.def"
#undef COPY_TABLE
};

static const char *const insert_sql[STORE_COPY_TABLES] = {
#define COPY_TABLE(name, columns, types, marks) \
	[STORE_COPY_##name] = "INSERT INTO " #name " (" columns ") VALUES (" marks ")",
#include "store/copy.def"
#undef COPY_TABLE
};

static const char *const count_sql[STORE_COPY_TABLES] = {
#define COPY_TABLE(name, columns, types, marks) [STORE_COPY_##name] = "SELECT count(*) FROM " #name,
#include "store/copy.def"
#undef COPY_TABLE
};

static char type_letter(const char *decl)
{
	return !strcmp(decl, "INTEGER") ? 'I' : !strcmp(decl, "TEXT") ? 'T' : !strcmp(decl, "BLOB") ? 'B' : '?';
}

enum rc sqlite_copy_check(struct store *s, struct errbuf *eb)
{
	/* sqlite_* are SQLite's own (sqlite_stat1 after PRAGMA optimize). */
	static const char sql[] =
		"SELECT m.name, c.name, upper(c.type) FROM sqlite_master AS m, pragma_table_info(m.name) AS c "
		"WHERE m.type = 'table' AND m.name <> 'schema_migrations' AND m.name NOT LIKE 'sqlite^_%' ESCAPE '^'";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_stmt(q, sql, &st);
	if (rc)
		return rc;
	struct store_copy_schema sc = {.rc = RC_OK};
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		store_copy_schema_column(&sc, (const char *)sqlite3_column_text(st, 0),
		                         (const char *)sqlite3_column_text(st, 1),
		                         type_letter((const char *)sqlite3_column_text(st, 2)), eb);
	rc = src == SQLITE_DONE ? RC_OK : sq_map_rc(q, src, "copy_check");
	done(st);
	return rc ? rc : store_copy_schema_end(&sc, eb);
}

/* "sqlite DEV INO": the database file, whichever path named it. */
enum rc sqlite_copy_session(struct store *s, char *out, size_t n)
{
	struct sqlite_store *q = sq(s);
	const char *path = sqlite3_db_filename(q->db, "main");
	struct stat st;
	if (n)
		out[0] = '\0';
	if (!path || !*path || stat(path, &st) != 0)
		return RC_OK; /* nothing another connection could reach */
	if (n)
		snprintf(out, n, "sqlite %ju %ju", (uintmax_t)st.st_dev, (uintmax_t)st.st_ino);
	return RC_OK;
}

enum rc sqlite_copy_sees(struct store *s, const char *session, bool *seen)
{
	char mine[STORE_SESSION_MAX];
	enum rc rc = sqlite_copy_session(s, mine, sizeof mine);
	*seen = !rc && mine[0] && !strcmp(mine, session);
	return rc;
}

static void read_count_col(sqlite3_stmt *st, void *out)
{
	*(int64_t *)out = sqlite3_column_int64(st, 0);
}

enum rc sqlite_copy_count(struct store *s, enum store_copy_table table, int64_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	if ((unsigned)table >= STORE_COPY_TABLES)
		return RC_INTERNAL;
	enum rc rc = sq_lookups_flush(q);
	if (!rc)
		rc = sq_stmt(q, count_sql[table], &st);
	return rc ? rc : sq_fetch_one(q, st, read_count_col, n, "copy_count");
}

/* The current row as typed values, by the column types copy.def gives. */
static void row_values(sqlite3_stmt *st, const char *types, struct store_row *row)
{
	row->n = strlen(types);
	for (size_t i = 0; i < row->n; i++) {
		struct store_value *v = &row->v[i];
		int c = (int)i;
		if (sqlite3_column_type(st, c) == SQLITE_NULL) {
			*v = (struct store_value){.kind = STORE_VALUE_NULL};
		} else if (types[i] == 'I') {
			*v = (struct store_value){.kind = STORE_VALUE_INT, .i = sqlite3_column_int64(st, c)};
		} else if (types[i] == 'T') {
			const unsigned char *p = sqlite3_column_text(st, c);
			*v = (struct store_value){.kind = STORE_VALUE_TEXT, .p = p ? (const void *)p : "",
			                          .len = (size_t)sqlite3_column_bytes(st, c)};
		} else {
			const void *p = sqlite3_column_blob(st, c);
			*v = (struct store_value){.kind = STORE_VALUE_BLOB, .p = p ? p : "",
			                          .len = (size_t)sqlite3_column_bytes(st, c)};
		}
	}
}

enum rc sqlite_copy_read(struct store *s, enum store_copy_table table, store_row_fn *fn, void *arg)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	if ((unsigned)table >= STORE_COPY_TABLES)
		return RC_INTERNAL;
	enum rc rc = sq_lookups_flush(q);
	if (!rc)
		rc = sq_stmt(q, select_sql[table], &st);
	if (rc)
		return rc;
	struct store_row row;
	int src = SQLITE_DONE;
	while (!rc && (src = sqlite3_step(st)) == SQLITE_ROW) {
		row_values(st, store_copy_tables[table].types, &row);
		rc = fn(arg, &row);
	}
	if (!rc && src != SQLITE_DONE)
		rc = sq_map_rc(q, sqlite3_extended_errcode(q->db), "copy_read");
	done(st);
	return rc;
}

enum rc sqlite_copy_write(struct store *s, enum store_copy_table table, enum store_copy_step step,
                          const struct store_row *row)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	if ((unsigned)table >= STORE_COPY_TABLES || !q->depth)
		return RC_INTERNAL; /* the caller's transaction holds the rows */
	if (step != STORE_COPY_ROW)
		return RC_OK; /* nothing is buffered: each row is in already */
	if (!row || row->n != strlen(store_copy_tables[table].types))
		return RC_INTERNAL;
	enum rc rc = sq_stmt(q, insert_sql[table], &st);
	if (rc)
		return rc;
	for (size_t i = 0; i < row->n; i++) {
		const struct store_value *v = &row->v[i];
		int c = (int)i + 1;
		switch (v->kind) {
		case STORE_VALUE_NULL:
			sqlite3_bind_null(st, c);
			break;
		case STORE_VALUE_INT:
			sqlite3_bind_int64(st, c, v->i);
			break;
		case STORE_VALUE_TEXT:
			sqlite3_bind_text64(st, c, v->p, v->len, SQLITE_STATIC, SQLITE_UTF8);
			break;
		case STORE_VALUE_BLOB:
			/* An empty blob stays an empty blob, not NULL. */
			if (v->len)
				sqlite3_bind_blob64(st, c, v->p, v->len, SQLITE_STATIC);
			else
				sqlite3_bind_zeroblob(st, c, 0);
			break;
		}
	}
	return sq_run(q, st, "copy_write");
}
