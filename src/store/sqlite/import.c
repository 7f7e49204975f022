/*
 * sqlite/import.c: the bulk import's writes (`privreg import`, store/ops.def
 * import_holders and import_write). In-process SQLite pays no round trip
 * per statement, but each statement still costs its own execution: its
 * start and end (a statement journal opened and closed, the foreign-key
 * counters checked, the bindings reset). So full groups of rows go in one
 * multi-row INSERT each (IMPORT_ROWS rows: the writer thread's instructions
 * fell by 12%, callgrind, 20,000 rows), and what is left over row by row through
 * subjects.c's kept statements; either way the rows are those subject_insert
 * and record_insert write (tests/unit/test_copy.c compares them). The
 * columns are subjects.c's: a column added there is added here.
 *
 * Lookup rows are keyed by a keyed hash, so in the file's order each lands
 * on a page of the lookup index at random, and every transaction wrote
 * most of that index's pages again (with the log and the checkpoint, 43%
 * of an import's time at 1,000,000 rows). The grouped records' lookup rows
 * therefore wait in the connection (sq_pending_lookup) and go in at once,
 * sorted, when the transaction commits or a savepoint begins, or before
 * any operation that reads or deletes lookup rows (lookup_find and with it
 * import_holders, consent_by_lookups, subjects.c's drop_lookups); a
 * rollback drops them. Inside the transaction nothing can tell them from
 * rows already in the index.
 */
#include <stdlib.h>

#include "store/sqlite/internal.h"
#include "store/stored.h"

enum rc sqlite_import_holders(struct store *s, int64_t tenant, const unsigned char *hashes, size_t n,
                              char (*holders)[TOKEN_ID_MAX])
{
	enum rc rc = RC_OK;
	for (size_t i = 0; i < n; i++)
		holders[i][0] = '\0';
	for (size_t i = 0; !rc && i < n; i++) {
		size_t m = 0;
		rc = sqlite_lookup_find(s, tenant, hashes + i * VAULT_HASH_LEN, &holders[i], 1, &m);
	}
	return rc;
}

/* Rows per multi-row statement: 8 x 11 bound values at most, far below
 * SQLite's limit; more rows per statement saved nothing measurable. */
#define IMPORT_ROWS 8
#define ROWS8(r) r "," r "," r "," r "," r "," r "," r "," r

static const char subjects_sql[] =
	"INSERT INTO subjects (tenant_id, subject_id, wrapped_key, created_at) VALUES " ROWS8("(?,?,?,?)");
static const char records_sql[] =
	"INSERT INTO records (tenant_id, record_id, subject_id, kind, state, created_at, updated_at, data, lookups, "
	"due_at, trim_at) VALUES " ROWS8("(?,?,?,?,?,?,?,?,?,?,?)");
static const char lookups_sql[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES " ROWS8("(?,?,?)");
static const char lookup_sql[] = "INSERT INTO lookups (tenant_id, hash, record_id) VALUES (?,?,?)";

/* An id's bytes, bound with SQLITE_STATIC: b lives until the statement ran. */
static void bind_id_bytes(sqlite3_stmt *st, int i, const char *prefix, const char *id,
                          unsigned char b[TOKEN_ID_BYTES])
{
	if (token_id_decode(prefix, id, b))
		sqlite3_bind_blob(st, i, b, TOKEN_ID_BYTES, SQLITE_STATIC);
	else
		sqlite3_bind_null(st, i);
}

static enum rc subjects_group(struct sqlite_store *q, int64_t tenant, const struct store_subject *const *v)
{
	sqlite3_stmt *st = NULL;
	unsigned char ids[IMPORT_ROWS][TOKEN_ID_BYTES];
	enum rc rc = sq_stmt(q, subjects_sql, &st);
	if (rc)
		return rc;
	for (int i = 0, p = 1; i < IMPORT_ROWS; i++) {
		sqlite3_bind_int64(st, p++, tenant);
		bind_id_bytes(st, p++, TOKEN_PREFIX_SUBJECT, v[i]->id, ids[i]);
		bind_blob(st, p++, v[i]->wrapped_key, v[i]->wrapped_len);
		sqlite3_bind_int64(st, p++, v[i]->created_at);
	}
	return sq_run(q, st, "import_write");
}

/* The records' own rows; their lookup rows and events follow apart. */
static enum rc records_group(struct sqlite_store *q, int64_t tenant, const struct store_record *const *v)
{
	sqlite3_stmt *st = NULL;
	unsigned char ids[IMPORT_ROWS][2][TOKEN_ID_BYTES];
	enum rc rc = sq_stmt(q, records_sql, &st);
	if (rc)
		return rc;
	for (int i = 0, p = 1; i < IMPORT_ROWS; i++) {
		const struct store_record *r = v[i];
		sqlite3_bind_int64(st, p++, tenant);
		bind_id_bytes(st, p++, TOKEN_PREFIX_RECORD, r->id, ids[i][0]);
		bind_id_bytes(st, p++, TOKEN_PREFIX_SUBJECT, r->subject_id, ids[i][1]);
		bind_text(st, p++, r->kind);
		bind_text(st, p++, stored_state(r->state));
		sqlite3_bind_int64(st, p++, r->created_at);
		sqlite3_bind_int64(st, p++, stored_updated(r));
		bind_blob(st, p++, r->data, r->data_len);
		bind_blob(st, p++, r->lookups, r->nlookups * VAULT_HASH_LEN);
		bind_opt_int(st, p++, r->due_at);
		bind_opt_int(st, p++, r->trim_at);
	}
	return sq_run(q, st, "import_write");
}

/* Pending lookup rows at most (32 bytes each): about two 50,000-row
 * transactions' worth of e-mail and one other lookup field. */
#define PENDING_MAX 131072

/* Pending rows in the index's order (tenant, hash, record id). */
static int pending_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct sq_pending_lookup));
}

static enum rc lookups_put(struct sqlite_store *q, int64_t tenant, const struct sq_pending_lookup *v, size_t n)
{
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_stmt(q, n == IMPORT_ROWS ? lookups_sql : lookup_sql, &st);
	if (rc)
		return rc;
	for (size_t i = 0, p = 1; i < n; i++) {
		sqlite3_bind_int64(st, (int)p++, tenant);
		sqlite3_bind_blob(st, (int)p++, v[i].hash, VAULT_HASH_LEN, SQLITE_STATIC);
		sqlite3_bind_blob(st, (int)p++, v[i].record, TOKEN_ID_BYTES, SQLITE_STATIC);
	}
	return sq_run(q, st, "import_write");
}

enum rc sq_lookups_flush(struct sqlite_store *q)
{
	size_t n = q->npend, i = 0, k;
	enum rc rc = RC_OK;
	if (!n)
		return RC_OK;
	qsort(q->pend, n, sizeof *q->pend, pending_cmp);
	for (; !rc && i < n; i += k) {
		k = i + IMPORT_ROWS <= n ? IMPORT_ROWS : 1;
		rc = lookups_put(q, q->pend_tenant, q->pend + i, k);
		if (rc)
			break;
	}
	/* A failed statement inserted none of its rows: they and the rest stay
	 * pending, so that the transaction cannot commit without them (its
	 * commit flushes again) and a rollback drops them. */
	memmove(q->pend, q->pend + i, (n - i) * sizeof *q->pend);
	q->npend = n - i;
	return rc;
}

/* Keeps a record's lookup rows for the flush. */
static enum rc lookups_defer(struct sqlite_store *q, int64_t tenant, const struct store_record *r)
{
	if (q->npend && q->pend_tenant != tenant) {
		enum rc rc = sq_lookups_flush(q);
		if (rc)
			return rc;
	}
	unsigned char id[TOKEN_ID_BYTES];
	if (!token_id_decode(TOKEN_PREFIX_RECORD, r->id, id))
		return RC_INTERNAL;
	if (q->npend + r->nlookups > q->apend) {
		q->apend = q->npend + r->nlookups > 2 * q->apend ? q->npend + r->nlookups : 2 * q->apend;
		q->pend = xrealloc(q->pend, q->apend * sizeof *q->pend);
	}
	for (size_t k = 0; k < r->nlookups; k++) {
		struct sq_pending_lookup *p = &q->pend[q->npend++];
		memcpy(p->hash, r->lookups + k * VAULT_HASH_LEN, VAULT_HASH_LEN);
		memcpy(p->record, id, TOKEN_ID_BYTES);
	}
	q->pend_tenant = tenant;
	/* A transaction of the whole file (--all-or-nothing, --dry-run) would
	 * otherwise keep every row's: memory stays bounded, and each flush is
	 * still a sorted run. */
	return q->npend >= PENDING_MAX ? sq_lookups_flush(q) : RC_OK;
}

enum rc sqlite_import_write(struct store *s, int64_t tenant, const struct store_subject *const *subjects,
                            size_t nsubjects, const struct store_record *const *records, size_t nrecords)
{
	struct sqlite_store *q = sq(s);
	if (!q->depth)
		return RC_INTERNAL; /* the caller's transaction holds the rows, as on PostgreSQL */
	enum rc rc = RC_OK;
	size_t i = 0;
	for (; !rc && i + IMPORT_ROWS <= nsubjects; i += IMPORT_ROWS)
		rc = subjects_group(q, tenant, subjects + i);
	for (; !rc && i < nsubjects; i++)
		rc = sqlite_subject_insert(s, tenant, subjects[i]);
	/* The records of whole groups, with their lookup rows kept for the
	 * flush and their events; the rest of the records one by one, with
	 * theirs. */
	size_t grouped = nrecords - nrecords % IMPORT_ROWS;
	for (i = 0; !rc && i < grouped; i += IMPORT_ROWS)
		rc = records_group(q, tenant, records + i);
	for (i = 0; !rc && i < grouped; i++) {
		rc = lookups_defer(q, tenant, records[i]);
		for (size_t k = 0; !rc && k < records[i]->nevents; k++)
			rc = sqlite_event_set(s, tenant, records[i]->id, records[i]->events[k].name, records[i]->events[k].at);
	}
	for (i = grouped; !rc && i < nrecords; i++)
		rc = sqlite_record_insert(s, tenant, records[i]);
	return rc;
}
