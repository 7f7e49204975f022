/*
 * postgres/import.c: the bulk import's writes (`privreg import`,
 * store/ops.def import_holders and import_write) in a few statements per
 * batch instead of several per row: each row as its own INSERT, in a
 * savepoint of its own (conn.c), cost three round trips, and round trips
 * were nearly all of an import's time.
 *
 * import_holders looks up every unique value of a batch in one SELECT: the
 * hashes travel as one bytea, cut apart by the server. import_write streams
 * each table's rows in one `COPY ... FROM STDIN` through copy.c's writer
 * (the one `privreg migrate` uses), inside the caller's transaction,
 * subjects before records before lookups and events, as their foreign keys
 * want. A COPY is all or nothing and fails the transaction: the caller has
 * checked what could refuse a row (a unique value) before.
 *
 * pg_bulk changes nothing on the connection (the server's buffers and
 * checkpoints are its own); the end of a run waits once for the WAL, which
 * makes the run's relaxed commits durable.
 *
 * The rows are laid out by the column lists of store/copy.def, by name:
 * those lists are the one place that says which columns a table has, and
 * a column this file cannot fill is an error, not a silent NULL.
 */
#include "base/log.h"
#include "store/postgres/internal.h"
#include "store/stored.h"

enum rc pg_import_holders(struct store *s, int64_t tenant, const unsigned char *hashes, size_t n,
                          char (*holders)[TOKEN_ID_MAX])
{
	/* $2 is the n hashes end to end, $3 the length of one. The LATERAL
	 * subquery makes each hash one probe of lookups' primary key: as a
	 * plain join, the planner hashed the whole table instead (a scan of
	 * every lookup row per batch). */
	static const char sql[] =
		"SELECT g.i, l.subject_id FROM generate_series(0, length($2) / $3 - 1) AS g (i) "
		"CROSS JOIN LATERAL (SELECT r.subject_id FROM lookups k JOIN records r ON r.tenant_id = k.tenant_id "
		"AND r.record_id = k.record_id WHERE k.tenant_id = $1 "
		"AND k.hash = substring($2 FROM (g.i * $3 + 1)::integer FOR $3::integer) ORDER BY r.subject_id LIMIT 1) AS l";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	for (size_t i = 0; i < n; i++)
		holders[i][0] = '\0';
	if (!n)
		return RC_OK;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hashes, n * VAULT_HASH_LEN);
	bind_int(st, 3, VAULT_HASH_LEN);
	int r;
	while ((r = pq_step(st)) == PQ_ROW) {
		int64_t i = col_int(st, 0);
		if (i >= 0 && (size_t)i < n)
			col_id(st, 1, TOKEN_PREFIX_SUBJECT, holders[i]);
	}
	rc = r == PQ_DONE ? RC_OK : pq_map_rc(q, "import_holders");
	done(st);
	return rc;
}

/* The columns this file fills, by their names in store/copy.def. */
enum column {
	COL_TENANT, COL_SUBJECT, COL_RECORD, COL_WRAPPED_KEY, COL_CREATED_AT, COL_UPDATED_AT, COL_RESTRICTED,
	COL_KIND, COL_STATE, COL_DATA, COL_LOOKUPS, COL_DUE_AT, COL_TRIM_AT, COL_NAME, COL_AT, COL_HASH,
};

static const struct {
	const char *name;
	enum column c;
} column_names[] = {
	{"tenant_id", COL_TENANT}, {"subject_id", COL_SUBJECT}, {"record_id", COL_RECORD},
	{"wrapped_key", COL_WRAPPED_KEY}, {"created_at", COL_CREATED_AT}, {"updated_at", COL_UPDATED_AT},
	{"restricted", COL_RESTRICTED}, {"kind", COL_KIND}, {"state", COL_STATE}, {"data", COL_DATA},
	{"lookups", COL_LOOKUPS}, {"due_at", COL_DUE_AT}, {"trim_at", COL_TRIM_AT}, {"name", COL_NAME},
	{"at", COL_AT}, {"hash", COL_HASH},
};

struct layout {
	enum store_copy_table table;
	size_t n;
	enum column c[STORE_COPY_COLUMNS_MAX];
};

/* The table's columns, in copy.def's order. */
static enum rc layout_of(enum store_copy_table t, struct layout *l)
{
	bool known[STORE_COPY_COLUMNS_MAX] = {false};
	l->table = t;
	l->n = strlen(store_copy_tables[t].types);
	for (size_t k = 0; k < sizeof column_names / sizeof column_names[0]; k++) {
		int i = store_copy_column(t, column_names[k].name);
		if (i >= 0) {
			l->c[i] = column_names[k].c;
			known[i] = true;
		}
	}
	for (size_t i = 0; i < l->n; i++)
		if (!known[i]) {
			log_error("postgres import_write: column %zu of %s has no value here (store/copy.def)", i + 1,
			          store_copy_tables[t].name);
			return RC_INTERNAL;
		}
	return RC_OK;
}

/* What one row is made of: a subjects row has only the subject, a records
 * row the record, an events row the record and the event, a lookups row
 * the record and the hash. */
struct source {
	int64_t tenant;
	const struct store_subject *subject;
	const struct store_record *record;
	const struct store_event *event;
	const unsigned char *hash;
};

static struct store_value v_null(void)
{
	return (struct store_value){.kind = STORE_VALUE_NULL};
}

static struct store_value v_int(int64_t i)
{
	return (struct store_value){.kind = STORE_VALUE_INT, .i = i};
}

/* 0 stands for "none" in the store's structs and NULL in the tables. */
static struct store_value v_opt_int(int64_t i)
{
	return i ? v_int(i) : v_null();
}

static struct store_value v_text(const char *s)
{
	return (struct store_value){.kind = STORE_VALUE_TEXT, .p = s, .len = strlen(s)};
}

/* As bind_blob: NULL for no pointer, an empty value for no bytes. */
static struct store_value v_blob(const void *p, size_t n)
{
	return p ? (struct store_value){.kind = STORE_VALUE_BLOB, .p = n ? p : "", .len = n} : v_null();
}

/* As bind_id: the id's 16 bytes, NULL for text that is not an id. */
static struct store_value v_id(const char *prefix, const char *id, unsigned char buf[TOKEN_ID_BYTES])
{
	return token_id_decode(prefix, id, buf) ? v_blob(buf, TOKEN_ID_BYTES) : v_null();
}

static enum rc put_row(struct store *s, const struct layout *l, const struct source *src)
{
	struct store_row row = {.n = l->n};
	unsigned char sid[TOKEN_ID_BYTES], rid[TOKEN_ID_BYTES];
	const struct store_subject *su = src->subject;
	const struct store_record *r = src->record;
	for (size_t i = 0; i < l->n; i++) {
		struct store_value *v = &row.v[i];
		switch (l->c[i]) {
		case COL_TENANT:
			*v = v_int(src->tenant);
			break;
		case COL_SUBJECT:
			*v = v_id(TOKEN_PREFIX_SUBJECT, r ? r->subject_id : su->id, sid);
			break;
		case COL_RECORD:
			*v = r ? v_id(TOKEN_PREFIX_RECORD, r->id, rid) : v_null();
			break;
		case COL_WRAPPED_KEY:
			*v = su ? v_blob(su->wrapped_key, su->wrapped_len) : v_null();
			break;
		case COL_CREATED_AT:
			*v = v_int(r ? r->created_at : su->created_at);
			break;
		case COL_UPDATED_AT:
			*v = r ? v_int(stored_updated(r)) : v_null();
			break;
		case COL_RESTRICTED:
			*v = v_int(0); /* as subject_insert: a new subject is not restricted */
			break;
		case COL_KIND:
			*v = r ? v_text(r->kind) : v_null();
			break;
		case COL_STATE:
			*v = v_text(stored_state(r ? r->state : NULL));
			break;
		case COL_DATA:
			*v = r ? v_blob(r->data, r->data_len) : v_null();
			break;
		case COL_LOOKUPS:
			*v = r ? v_blob(r->lookups, r->nlookups * VAULT_HASH_LEN) : v_null();
			break;
		case COL_DUE_AT:
			*v = r ? v_opt_int(r->due_at) : v_null();
			break;
		case COL_TRIM_AT:
			*v = r ? v_opt_int(r->trim_at) : v_null();
			break;
		case COL_NAME:
			*v = src->event ? v_text(src->event->name) : v_null();
			break;
		case COL_AT:
			*v = src->event ? v_int(src->event->at) : v_null();
			break;
		case COL_HASH:
			*v = src->hash ? v_blob(src->hash, VAULT_HASH_LEN) : v_null();
			break;
		}
	}
	return pg_copy_write(s, l->table, STORE_COPY_ROW, &row);
}

/* Starts a table's COPY. */
static enum rc copy_begin(struct store *s, enum store_copy_table t, struct layout *l)
{
	enum rc rc = layout_of(t, l);
	return rc ? rc : pg_copy_write(s, t, STORE_COPY_BEGIN, NULL);
}

/* Ends a table's COPY: its rows are written, or (rc set) given up. */
static enum rc copy_finish(struct store *s, const struct layout *l, enum rc rc)
{
	if (!rc)
		return pg_copy_write(s, l->table, STORE_COPY_END, NULL);
	if (pg_copy_write(s, l->table, STORE_COPY_ABORT, NULL))
		log_warn("postgres import_write: the COPY of %s did not end cleanly", store_copy_tables[l->table].name);
	return rc;
}

enum rc pg_import_write(struct store *s, int64_t tenant, const struct store_subject *const *subjects,
                        size_t nsubjects, const struct store_record *const *records, size_t nrecords)
{
	struct pg_store *q = pq(s);
	struct layout l;
	struct source src = {.tenant = tenant};
	size_t nlookups = 0, nevents = 0;
	enum rc rc = RC_OK;
#ifdef PRIVREG_FAULTS
	if (q->base.fault) { /* test builds: an injected failure (store_fault_arm) */
		q->base.fault = false;
		q->failed = q->depth > 0;
		return RC_DB;
	}
#endif
	if (!q->depth)
		return RC_INTERNAL; /* the caller's transaction holds the rows */
	for (size_t i = 0; i < nrecords; i++) {
		nlookups += records[i]->nlookups;
		nevents += records[i]->nevents;
	}
	if (nsubjects && !(rc = copy_begin(s, STORE_COPY_subjects, &l))) {
		for (size_t i = 0; !rc && i < nsubjects; i++) {
			src.subject = subjects[i];
			rc = put_row(s, &l, &src);
		}
		rc = copy_finish(s, &l, rc);
	}
	src.subject = NULL;
	if (!rc && nrecords && !(rc = copy_begin(s, STORE_COPY_records, &l))) {
		for (size_t i = 0; !rc && i < nrecords; i++) {
			src.record = records[i];
			rc = put_row(s, &l, &src);
		}
		rc = copy_finish(s, &l, rc);
	}
	if (!rc && nlookups && !(rc = copy_begin(s, STORE_COPY_lookups, &l))) {
		for (size_t i = 0; !rc && i < nrecords; i++) {
			src.record = records[i];
			for (size_t k = 0; !rc && k < records[i]->nlookups; k++) {
				src.hash = records[i]->lookups + k * VAULT_HASH_LEN;
				rc = put_row(s, &l, &src);
			}
		}
		rc = copy_finish(s, &l, rc);
	}
	src.hash = NULL;
	if (!rc && nevents && !(rc = copy_begin(s, STORE_COPY_record_events, &l))) {
		for (size_t i = 0; !rc && i < nrecords; i++) {
			src.record = records[i];
			for (size_t k = 0; !rc && k < records[i]->nevents; k++) {
				src.event = &records[i]->events[k];
				rc = put_row(s, &l, &src);
			}
		}
		rc = copy_finish(s, &l, rc);
	}
	if (rc)
		q->failed = true; /* part of it may be in: the transaction can only roll back */
	return rc;
}

/* The server's buffers are its own (shared_buffers, checkpoints): a bulk
 * run changes nothing on the connection. Its end makes the relaxed commits
 * of its batches durable. */
enum rc pg_bulk(struct store *s, bool on)
{
	if (pq(s)->depth)
		return RC_INTERNAL;
	return on ? RC_OK : pg_sync(s);
}
