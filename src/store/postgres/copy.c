/*
 * postgres/copy.c: a whole register's rows, table by table, for `privreg
 * migrate` (store/copy.def), as sqlite/copy.c does for SQLite: the schema
 * check, counts, a streaming read and the writes. Rows go as stored.
 *
 * A read runs one SELECT inside the caller's transaction (the read
 * snapshot) in libpq's single-row mode: rows arrive one result each, so
 * memory stays bounded whatever the table's size. (A cursor fetched in
 * batches of thousands did the same, but each batch's result was one large
 * allocation freed again, and glibc gave it back to the kernel and took it
 * again every time: a third of the copy's time.) A write is COPY ... FROM STDIN in text format, a table at a
 * time, rows handed to libpq as they come (it sends them in chunks): a
 * hundred times fewer round trips than an INSERT per row. Values are
 * escaped for COPY's text format; bytea goes as its hex form.
 */
#include "base/log.h"
#include "store/postgres/internal.h"

static const char *const select_sql[STORE_COPY_TABLES] = {
#define COPY_TABLE(name, columns, types, marks) [STORE_COPY_##name] = "SELECT " columns " FROM " #name,
#include "store/copy.def"
#undef COPY_TABLE
};

static const char *const copy_in_sql[STORE_COPY_TABLES] = {
#define COPY_TABLE(name, columns, types, marks) [STORE_COPY_##name] = "COPY " #name " (" columns ") FROM STDIN",
#include "store/copy.def"
#undef COPY_TABLE
};

static const char *const count_sql[STORE_COPY_TABLES] = {
#define COPY_TABLE(name, columns, types, marks) [STORE_COPY_##name] = "SELECT count(*) FROM " #name,
#include "store/copy.def"
#undef COPY_TABLE
};

/* What conn.c's statements do on an error: keep its SQLSTATE, and mark an
 * open transaction failed (it can only roll back). */
static enum rc copy_error(struct pg_store *q, const PGresult *res, const char *what)
{
	const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	snprintf(q->sqlstate, sizeof q->sqlstate, "%s", state ? state : "XX000");
	if (q->depth)
		q->failed = true;
	return pq_map_rc(q, what);
}

static char type_letter(const char *t)
{
	return !strcmp(t, "bigint") ? 'I' : !strcmp(t, "text") ? 'T' : !strcmp(t, "bytea") ? 'B' : '?';
}

enum rc pg_copy_check(struct store *s, struct errbuf *eb)
{
	static const char schema_sql[] =
		"SELECT c.table_name, c.column_name, c.data_type FROM information_schema.columns AS c "
		"JOIN information_schema.tables AS t ON t.table_schema = c.table_schema AND t.table_name = c.table_name "
		"WHERE c.table_schema = current_schema() AND t.table_type = 'BASE TABLE' "
		"AND c.table_name <> 'schema_migrations'";
	/* Another server (or any other client) on the database would go on
	 * writing where the copy no longer looks. */
	static const char others_sql[] =
		"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
		"AND backend_type = 'client backend'";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_stmt_get(q, schema_sql, &st);
	if (rc)
		return rc;
	struct store_copy_schema sc = {.rc = RC_OK};
	int r;
	while ((r = pq_step(st)) == PQ_ROW)
		store_copy_schema_column(&sc, col_raw(st, 0), col_raw(st, 1), type_letter(col_raw(st, 2)), eb);
	rc = r == PQ_ERROR ? pq_map_rc(q, "copy_check") : RC_OK;
	done(st);
	if (!rc)
		rc = store_copy_schema_end(&sc, eb);
	int64_t others = 0;
	if (!rc)
		rc = pq_stmt_get(q, others_sql, &st);
	if (!rc)
		rc = pq_fetch_one(q, st, read_count, &others, "copy_check");
	if (!rc && others)
		rc = err_set(eb, RC_CONFLICT, "%lld other client%s connected to the PostgreSQL database (a privreg "
		             "server?): stop %s first", (long long)others, others == 1 ? " is" : "s are",
		             others == 1 ? "it" : "them");
	return rc;
}

/* "pg PID START": the backend's pid and start (seconds, as text), which
 * one database's pg_stat_activity shows for it. */
enum rc pg_copy_session(struct store *s, char *out, size_t n)
{
	static const char sql[] =
		"SELECT 'pg ' || pid || ' ' || extract(epoch FROM backend_start)::text FROM pg_stat_activity "
		"WHERE pid = pg_backend_pid()";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	if (n)
		out[0] = '\0';
	enum rc rc = pq_stmt_get(q, sql, &st);
	if (rc)
		return rc;
	int r = pq_step(st);
	if (r == PQ_ROW && n)
		col_copy(st, 0, out, n);
	rc = r == PQ_ERROR ? pq_map_rc(q, "copy_session") : RC_OK;
	done(st);
	return rc;
}

enum rc pg_copy_sees(struct store *s, const char *session, bool *seen)
{
	static const char sql[] =
		"SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
		"AND 'pg ' || pid || ' ' || extract(epoch FROM backend_start)::text = $1::text";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*seen = false;
	if (strncmp(session, "pg ", 3))
		return RC_OK; /* another backend's */
	enum rc rc = pq_stmt_get(q, sql, &st);
	if (rc)
		return rc;
	bind_text(st, 1, session);
	int64_t n = 0;
	rc = pq_fetch_one(q, st, read_count, &n, "copy_sees");
	*seen = !rc && n > 0;
	return rc;
}

enum rc pg_copy_count(struct store *s, enum store_copy_table table, int64_t *n)
{
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*n = 0;
	if ((unsigned)table >= STORE_COPY_TABLES)
		return RC_INTERNAL;
	enum rc rc = pq_stmt_get(q, count_sql[table], &st);
	return rc ? rc : pq_fetch_one(q, st, read_count, n, "copy_count");
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* Row r of res as typed values; bytea decoded into *buf (grown to fit). */
static enum rc row_values(const PGresult *res, int r, const char *types, unsigned char **buf, size_t *cap,
                          struct store_row *row)
{
	size_t need = 0;
	row->n = strlen(types);
	for (size_t i = 0; i < row->n; i++)
		if (types[i] == 'B' && !PQgetisnull(res, r, (int)i))
			need += (size_t)PQgetlength(res, r, (int)i) / 2;
	if (need > *cap) {
		*cap = need;
		free(*buf);
		*buf = xmalloc(need);
	}
	size_t at = 0;
	for (size_t i = 0; i < row->n; i++) {
		struct store_value *v = &row->v[i];
		int c = (int)i;
		const char *text = PQgetvalue(res, r, c);
		size_t len = (size_t)PQgetlength(res, r, c);
		if (PQgetisnull(res, r, c)) {
			*v = (struct store_value){.kind = STORE_VALUE_NULL};
		} else if (types[i] == 'I') {
			*v = (struct store_value){.kind = STORE_VALUE_INT, .i = strtoll(text, NULL, 10)};
		} else if (types[i] == 'T') {
			*v = (struct store_value){.kind = STORE_VALUE_TEXT, .p = text, .len = len};
		} else {
			if (len < 2 || text[0] != '\\' || text[1] != 'x' || len % 2)
				return RC_DB; /* bytea_output is hex (conn.c) */
			size_t n = (len - 2) / 2;
			for (size_t k = 0; k < n; k++) {
				int hi = hexval(text[2 + 2 * k]), lo = hexval(text[3 + 2 * k]);
				if (hi < 0 || lo < 0)
					return RC_DB;
				(*buf)[at + k] = (unsigned char)(hi << 4 | lo);
			}
			*v = (struct store_value){.kind = STORE_VALUE_BLOB, .p = n ? (const void *)(*buf + at) : "", .len = n};
			at += n;
		}
	}
	return RC_OK;
}

/* Stops a single-row query early: the rows still to come are cut short
 * by the server and dropped here; the transaction can only roll back. */
static void cancel(struct pg_store *q)
{
	PGcancel *c = PQgetCancel(q->conn);
	char msg[256];
	if (c && !PQcancel(c, msg, sizeof msg))
		log_warn("postgres copy_read: the cancel was not sent");
	PQfreeCancel(c);
	q->failed = true;
}

enum rc pg_copy_read(struct store *s, enum store_copy_table table, store_row_fn *fn, void *arg)
{
	struct pg_store *q = pq(s);
	if ((unsigned)table >= STORE_COPY_TABLES || !q->depth)
		return RC_INTERNAL; /* the snapshot is the caller's transaction */
	enum rc ready = pq_ready(q, "copy_read");
	if (ready)
		return ready;
	if (!PQsendQueryParams(q->conn, select_sql[table], 0, NULL, NULL, NULL, NULL, 0) ||
	    !PQsetSingleRowMode(q->conn)) {
		enum rc rc = copy_error(q, NULL, "copy_read");
		PGresult *res;
		while ((res = PQgetResult(q->conn)))
			PQclear(res);
		return rc;
	}
	unsigned char *buf = NULL;
	size_t cap = 0;
	struct store_row row;
	enum rc rc = RC_OK;
	PGresult *res;
	while ((res = PQgetResult(q->conn))) {
		ExecStatusType st = PQresultStatus(res);
		if (st == PGRES_SINGLE_TUPLE && !rc) {
			rc = row_values(res, 0, store_copy_tables[table].types, &buf, &cap, &row);
			if (!rc)
				rc = fn(arg, &row);
			if (rc)
				cancel(q);
		} else if (st != PGRES_SINGLE_TUPLE && st != PGRES_TUPLES_OK && !rc) {
			rc = copy_error(q, res, "copy_read");
		}
		PQclear(res);
	}
	free(buf);
	return rc;
}

/* Bytes a value takes in COPY's text format, at most. */
static size_t text_size(const struct store_value *v)
{
	switch (v->kind) {
	case STORE_VALUE_NULL:
		return 2;
	case STORE_VALUE_INT:
		return 21;
	case STORE_VALUE_TEXT:
		return 2 * v->len;
	case STORE_VALUE_BLOB:
		return 3 + 2 * v->len;
	}
	return 0;
}

/* An integer's decimal text at p; its length. (sprintf was a tenth of an
 * import's CPU on PostgreSQL: five integers a subject.) */
static size_t put_int(char *p, int64_t v)
{
	char tmp[20];
	size_t n = 0, len = 0;
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;
	do {
		tmp[n++] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		p[len++] = '-';
	while (n)
		p[len++] = tmp[--n];
	return len;
}

/* One row in COPY's text format: tab between columns, \N for NULL,
 * backslash escapes in text, bytea as \\x and hex, a newline at the end. */
static size_t encode_row(const struct store_row *row, char *out)
{
	static const char digits[] = "0123456789abcdef";
	char *p = out;
	for (size_t i = 0; i < row->n; i++) {
		const struct store_value *v = &row->v[i];
		if (i)
			*p++ = '\t';
		switch (v->kind) {
		case STORE_VALUE_NULL:
			*p++ = '\\';
			*p++ = 'N';
			break;
		case STORE_VALUE_INT:
			p += put_int(p, v->i);
			break;
		case STORE_VALUE_TEXT:
			for (size_t k = 0; k < v->len; k++) {
				char c = ((const char *)v->p)[k];
				if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
					*p++ = '\\';
					c = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
				}
				*p++ = c;
			}
			break;
		case STORE_VALUE_BLOB:
			*p++ = '\\';
			*p++ = '\\';
			*p++ = 'x';
			for (size_t k = 0; k < v->len; k++) {
				unsigned char b = ((const unsigned char *)v->p)[k];
				*p++ = digits[b >> 4];
				*p++ = digits[b & 15];
			}
			break;
		}
	}
	*p++ = '\n';
	return (size_t)(p - out);
}

/* Ends a COPY: with errmsg NULL it is written, else it is given up. */
static enum rc copy_end(struct pg_store *q, const char *errmsg)
{
	enum rc rc = RC_OK;
	if (PQputCopyEnd(q->conn, errmsg) != 1)
		rc = copy_error(q, NULL, "copy_write");
	PGresult *res;
	while ((res = PQgetResult(q->conn))) {
		if (!rc && !errmsg && PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = copy_error(q, res, "copy_write");
		PQclear(res);
	}
	if (errmsg)
		q->failed = true;
	return rc;
}

enum rc pg_copy_write(struct store *s, enum store_copy_table table, enum store_copy_step step,
                      const struct store_row *row)
{
	struct pg_store *q = pq(s);
	if ((unsigned)table >= STORE_COPY_TABLES || !q->depth)
		return RC_INTERNAL; /* the caller's transaction holds the rows */
	switch (step) {
	case STORE_COPY_BEGIN: {
		enum rc rc = pq_ready(q, "copy_write");
		if (rc)
			return rc;
		PGresult *res = PQexec(q->conn, copy_in_sql[table]);
		rc = PQresultStatus(res) == PGRES_COPY_IN ? RC_OK : copy_error(q, res, "copy_write");
		PQclear(res);
		return rc;
	}
	case STORE_COPY_END:
		return copy_end(q, NULL);
	case STORE_COPY_ABORT:
		return copy_end(q, "privreg migrate stopped");
	case STORE_COPY_ROW:
		break;
	}
	if (!row || row->n != strlen(store_copy_tables[table].types))
		return RC_INTERNAL;
	size_t size = row->n + 1;
	for (size_t i = 0; i < row->n; i++)
		size += text_size(&row->v[i]);
	char small[8192];
	char *out = size <= sizeof small ? small : xmalloc(size);
	size_t len = encode_row(row, out);
	enum rc rc = PQputCopyData(q->conn, out, (int)len) == 1 ? RC_OK : copy_error(q, NULL, "copy_write");
	if (out != small)
		free(out);
	return rc;
}
