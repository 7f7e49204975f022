/*
 * postgres/subjects.c: subjects, their records, the records' events and
 * lookup rows, and paging through subject and record ids.
 *
 * A record lists its own lookup hashes (the `lookups` blob), and its lookup
 * rows are found through that list: deleting or rewriting a record touches
 * exactly its rows, by primary key. A lookup row names its record only, and
 * the subject is found through the record (one more seek per find), so a
 * record moved to another subject takes its lookups along unchanged. A subject is erased key first: once the
 * wrapped key is gone nothing of the subject can be read, even if the rest
 * of the deletion fails. Deleting a subject also deletes the answers kept
 * for retries that are about it.
 */
#include <stdlib.h>

#include "store/postgres/internal.h"
#include "store/stored.h"

/* ---- subjects ---- */

enum rc pg_subject_insert(struct store *s, int64_t tenant, const struct store_subject *subj)
{
	static const char sql[] =
		"INSERT INTO subjects (tenant_id, subject_id, wrapped_key, created_at) VALUES ($1, $2, $3, $4)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subj->id);
	bind_blob(st, 3, subj->wrapped_key, subj->wrapped_len);
	bind_int(st, 4, subj->created_at);
	return pq_run(q, st, "subject_insert");
}

static void read_subject(struct pq_stmt *st, void *out)
{
	struct store_subject *x = out;
	x->wrapped_key = col_blob(st, 0, &x->wrapped_len);
	x->created_at = col_int(st, 1);
	x->restricted = col_int(st, 2) != 0;
}

enum rc pg_subject_get(struct store *s, int64_t tenant, const char *id, struct store_subject *out)
{
	static const char sql[] =
		"SELECT wrapped_key, created_at, restricted FROM subjects WHERE tenant_id = $1 AND subject_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, id);
	rc = pq_fetch_one(q, st, read_subject, out, "subject_get");
	if (!rc)
		snprintf(out->id, sizeof out->id, "%s", id);
	return rc;
}

/* An update of one subject: RC_NOT_FOUND if there is none. */
static enum rc subject_set(struct pg_store *q, struct pq_stmt *st, const char *id, const char *what)
{
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, id);
	enum rc rc = pq_run(q, st, what);
	return !rc && q->changes == 0 ? RC_NOT_FOUND : rc;
}

enum rc pg_subject_restrict(struct store *s, int64_t tenant, const char *id, bool restricted)
{
	static const char sql[] = "UPDATE subjects SET restricted = $3 WHERE tenant_id = $1 AND subject_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_int(st, 3, restricted);
	return subject_set(q, st, id, "subject_restrict");
}

enum rc pg_subject_rekey(struct store *s, int64_t tenant, const char *id, const unsigned char *wrapped,
                             size_t len)
{
	static const char sql[] = "UPDATE subjects SET wrapped_key = $3 WHERE tenant_id = $1 AND subject_id = $2";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 3, wrapped, len);
	return subject_set(q, st, id, "subject_rekey");
}

/* ---- lookup rows ---- */

/* The lookup rows that the records chosen by `where` list in their lookups
 * blobs (VAULT_HASH_LEN bytes each), deleted in one statement, whatever
 * their number (a statement per row was most of an erasure's round trips);
 * the hashes as an array, so that each is found by the primary key. */
_Static_assert(VAULT_HASH_LEN == 16, "the lookup hash length in LOOKUPS_OF");
#define LOOKUPS_OF(where)                                                                                      \
	"DELETE FROM lookups l USING records r WHERE r.tenant_id = $1 AND " where " AND l.tenant_id = $1 "        \
	"AND l.record_id = r.record_id AND l.hash = ANY (ARRAY(SELECT substring(r.lookups FROM g * 16 + 1 FOR 16) " \
	"FROM generate_series(0, length(r.lookups) / 16 - 1) g))"

/* Removes the lookup rows listed in a record's lookups blob. */
static enum rc drop_lookups(struct pg_store *q, int64_t tenant, const char *record_id,
                            const unsigned char *hashes, size_t n)
{
	static const char sql[] = "DELETE FROM lookups WHERE tenant_id = $1 AND hash = $2 AND record_id = $3";
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < n; i++) {
		struct pq_stmt *st = NULL;
		rc = pq_tenant(q, sql, tenant, &st);
		if (rc)
			break;
		bind_blob(st, 2, hashes + i * VAULT_HASH_LEN, VAULT_HASH_LEN);
		bind_id(st, 3, TOKEN_PREFIX_RECORD, record_id);
		rc = pq_run(q, st, "lookup_delete");
	}
	return rc;
}

/* A record's lookup rows go in one statement: per-statement overhead, not
 * the B-tree, was most of their cost. $1 tenant, $2 record, $3 subject. */
static const char lookup_insert1[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES ($1, $3, $2)";
static const char lookup_insert2[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES ($1, $3, $2), ($1, $4, $2)";
static const char lookup_insert3[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES ($1, $3, $2), ($1, $4, $2), ($1, $5, $2)";
static const char lookup_insert4[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES ($1, $3, $2), ($1, $4, $2), "
	"($1, $5, $2), ($1, $6, $2)";
static const char *const lookup_insert[4] = {lookup_insert1, lookup_insert2, lookup_insert3, lookup_insert4};

static enum rc add_lookups(struct pg_store *q, int64_t tenant, const struct store_record *r)
{
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < r->nlookups;) {
		size_t k = r->nlookups - i < 4 ? r->nlookups - i : 4;
		struct pq_stmt *st = NULL;
		rc = pq_tenant(q, lookup_insert[k - 1], tenant, &st);
		if (rc)
			break;
		bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
		for (size_t j = 0; j < k; j++, i++)
			bind_blob(st, 3 + (int)j, r->lookups + i * VAULT_HASH_LEN, VAULT_HASH_LEN);
		rc = pq_run(q, st, "lookup_insert");
	}
	return rc;
}

static void read_record_lookups(struct pq_stmt *st, void *out)
{
	struct store_record *r = out;
	size_t len;
	col_id(st, 0, TOKEN_PREFIX_RECORD, r->id);
	r->lookups = col_blob(st, 1, &len);
	r->nlookups = len / VAULT_HASH_LEN;
}

enum rc pg_subject_delete(struct store *s, int64_t tenant, const char *id)
{
	static const char shred[] = "UPDATE subjects SET wrapped_key = NULL WHERE tenant_id = $1 AND subject_id = $2";
	static const char lookups[] = LOOKUPS_OF("r.subject_id = $2");
	static const char del[] = "DELETE FROM subjects WHERE tenant_id = $1 AND subject_id = $2";
	/* Answers kept for retries can show its values (postgres/idempotency.c). */
	static const char answers[] = "DELETE FROM idempotency WHERE tenant_id = $1 AND subject_id = $2";
	struct pg_store *q = pq(s);
	enum rc rc = pg_begin(s);
	if (rc)
		return rc;
	/* The key goes first: from here on nothing of the subject can be read. */
	rc = pq_run_tenant_id(q, shred, tenant, TOKEN_PREFIX_SUBJECT, id, "subject_shred");
	if (!rc && q->changes == 0)
		rc = RC_NOT_FOUND;
	/* Each record's lookup rows, found through the hashes the record lists. */
	if (!rc)
		rc = pq_run_tenant_id(q, lookups, tenant, TOKEN_PREFIX_SUBJECT, id, "subject_delete");
	/* Records and their events go with the subject (ON DELETE CASCADE). */
	if (!rc)
		rc = pq_run_tenant_id(q, del, tenant, TOKEN_PREFIX_SUBJECT, id, "subject_delete");
	if (!rc)
		rc = pq_run_tenant_id(q, answers, tenant, TOKEN_PREFIX_SUBJECT, id, "subject_delete_answers");
	if (rc) {
		pg_rollback(s);
		return rc;
	}
	return pg_commit(s);
}

/* ---- records ---- */

enum rc pg_record_insert(struct store *s, int64_t tenant, const struct store_record *r)
{
	static const char sql[] =
		"INSERT INTO records (tenant_id, record_id, subject_id, kind, state, created_at, updated_at, data, lookups, "
		"due_at, trim_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
	bind_id(st, 3, TOKEN_PREFIX_SUBJECT, r->subject_id);
	bind_text(st, 4, r->kind);
	bind_text(st, 5, stored_state(r->state));
	bind_int(st, 6, r->created_at);
	bind_int(st, 7, stored_updated(r));
	bind_blob(st, 8, r->data, r->data_len);
	bind_blob(st, 9, r->lookups, r->nlookups * VAULT_HASH_LEN);
	bind_opt_int(st, 10, r->due_at);
	bind_opt_int(st, 11, r->trim_at);
	rc = pq_run(q, st, "record_insert");
	if (!rc)
		rc = add_lookups(q, tenant, r);
	for (size_t i = 0; !rc && i < r->nevents; i++)
		rc = pg_event_set(s, tenant, r->id, r->events[i].name, r->events[i].at);
	return rc;
}

static void read_event(struct pq_stmt *st, void *out)
{
	struct store_event *e = out;
	e->name = col_text(st, 0);
	e->at = col_int(st, 1);
}

static enum rc read_events(struct pg_store *q, int64_t tenant, struct store_record *r)
{
	static const char sql[] =
		"SELECT name, at FROM record_events WHERE tenant_id = $1 AND record_id = $2 ORDER BY name COLLATE \"C\"";
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
	return pq_fetch_all(q, st, read_event, sizeof *r->events, (void **)&r->events, &r->nevents, "events");
}

#define RECORD_COLUMNS                                                                                      \
	"record_id, subject_id, kind, " STORED_STATE_READ("") ", created_at, "             \
	STORED_UPDATED_READ("") ", data, lookups, due_at, trim_at"

/* Records with their events in one statement, one row per event (a record
 * without events: one row, its event columns NULL), a record's rows
 * together and its events in name order: a statement per record's events
 * was most of a read's round trips. $1 tenant, $2 the record or subject. */
/* A record's columns and one of its events (read_record, take_record_row). */
#define RECORD_EVENT_COLUMNS                                                                                   \
	"r.record_id, r.subject_id, r.kind, " STORED_STATE_READ("r.") ", r.created_at, "                           \
	STORED_UPDATED_READ("r.") ", r.data, r.lookups, r.due_at, r.trim_at, e.name, e.at"
#define RECORDS_WITH_EVENTS(where)                                                                             \
	"SELECT " RECORD_EVENT_COLUMNS " FROM records r LEFT JOIN record_events e "                                \
	"ON e.tenant_id = r.tenant_id AND e.record_id = r.record_id WHERE r.tenant_id = $1 AND " where            \
	" ORDER BY r.record_id, e.name COLLATE \"C\""

static void read_record(struct pq_stmt *st, void *out)
{
	struct store_record *r = out;
	size_t len;
	col_id(st, 0, TOKEN_PREFIX_RECORD, r->id);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, r->subject_id);
	r->kind = col_text(st, 2);
	r->state = col_text(st, 3);
	r->created_at = col_int(st, 4);
	r->updated_at = col_int(st, 5);
	r->data = col_blob(st, 6, &r->data_len);
	r->lookups = col_blob(st, 7, &len);
	r->nlookups = len / VAULT_HASH_LEN;
	r->due_at = col_int(st, 8);
	r->trim_at = col_int(st, 9);
}

/* The rows of RECORDS_WITH_EVENTS into records, appended to *v (*n of
 * them). */
/* One row of RECORDS_WITH_EVENTS: a new record, or one more event of the
 * last one (the rows come in record order). */
static void take_record_row(struct pq_stmt *st, struct store_record **v, size_t *n, size_t *alloc)
{
	char id[TOKEN_ID_MAX];
	col_id(st, 0, TOKEN_PREFIX_RECORD, id);
	if (!*n || strcmp((*v)[*n - 1].id, id)) {
		if (*n == *alloc) {
			*alloc = *alloc ? *alloc * 2 : 4;
			*v = xrealloc(*v, *alloc * sizeof **v);
		}
		memset(&(*v)[*n], 0, sizeof **v);
		read_record(st, &(*v)[(*n)++]);
	}
	struct store_record *rec = &(*v)[*n - 1];
	if (!col_null(st, 10)) {
		rec->events = xrealloc(rec->events, (rec->nevents + 1) * sizeof *rec->events);
		rec->events[rec->nevents++] = (struct store_event){.name = col_text(st, 10), .at = col_int(st, 11)};
	}
}

static enum rc fetch_records(struct pg_store *q, struct pq_stmt *st, struct store_record **v, size_t *n,
                             const char *what)
{
	size_t alloc = *n;
	int r;
	while ((r = pq_step(st)) == PQ_ROW)
		take_record_row(st, v, n, &alloc);
	enum rc rc = r == PQ_DONE ? RC_OK : pq_map_rc(q, what);
	done(st);
	return rc;
}

enum rc pg_record_get(struct store *s, int64_t tenant, const char *id, struct store_record *out)
{
	static const char sql[] = RECORDS_WITH_EVENTS("r.record_id = $2");
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	struct store_record *v = NULL;
	size_t n = 0;
	memset(out, 0, sizeof *out);
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, id);
	rc = fetch_records(q, st, &v, &n, "record_get");
	if (!rc && n != 1)
		rc = RC_NOT_FOUND; /* n is 0 or 1: the record id is the key */
	if (!rc) {
		*out = v[0];
		free(v);
	} else {
		store_records_free(v, n);
	}
	return rc;
}

enum rc pg_record_update(struct store *s, int64_t tenant, const struct store_record *r)
{
	static const char sql[] =
		"UPDATE records SET state = $3, updated_at = CASE WHEN created_at = $4 THEN 0 ELSE $4 END, data = $5, "
		"lookups = $6, due_at = $7, trim_at = $8 "
		"WHERE tenant_id = $1 AND record_id = $2";
	struct pg_store *q = pq(s);
	struct store_record old;
	enum rc rc = pg_record_get(s, tenant, r->id, &old);
	if (rc)
		return rc;
	rc = drop_lookups(q, tenant, r->id, old.lookups, old.nlookups);
	store_record_fini(&old);
	struct pq_stmt *st = NULL;
	if (!rc)
		rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
	bind_text(st, 3, stored_state(r->state));
	bind_int(st, 4, r->updated_at);
	bind_blob(st, 5, r->data, r->data_len);
	bind_blob(st, 6, r->lookups, r->nlookups * VAULT_HASH_LEN);
	bind_opt_int(st, 7, r->due_at);
	bind_opt_int(st, 8, r->trim_at);
	rc = pq_run(q, st, "record_update");
	return rc ? rc : add_lookups(q, tenant, r);
}

enum rc pg_record_delete(struct store *s, int64_t tenant, const char *id)
{
	static const char lookups[] = LOOKUPS_OF("r.record_id = $2");
	static const char del[] = "DELETE FROM records WHERE tenant_id = $1 AND record_id = $2";
	struct pg_store *q = pq(s);
	enum rc rc = pq_run_tenant_id(q, lookups, tenant, TOKEN_PREFIX_RECORD, id, "record_delete");
	if (!rc)
		rc = pq_run_tenant_id(q, del, tenant, TOKEN_PREFIX_RECORD, id, "record_delete");
	return !rc && q->changes == 0 ? RC_NOT_FOUND : rc;
}

static int record_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_record *)a)->id, ((const struct store_record *)b)->id);
}

enum rc pg_records_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                   struct store_record **out, size_t *n)
{
	static const char sql[] = RECORDS_WITH_EVENTS("r.subject_id = $2");
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	rc = fetch_records(q, st, out, n, "records_for_subject");
	/* In the ids' text order, as the SQLite backend gives them. */
	if (!rc && *n) /* qsort of NULL, even of 0 elements, is undefined */
		qsort(*out, *n, sizeof **out, record_id_cmp);
	if (rc) {
		store_records_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

enum rc pg_subject_read(struct store *s, int64_t tenant, const char *id, struct store_subject *subject,
                        struct store_record **records, size_t *n)
{
	/* One statement sees one snapshot: no transaction around it, one round
	 * trip. The subject's columns come last, in every row, so that the
	 * record's are where RECORDS_WITH_EVENTS has them; a subject without
	 * records is one row whose record columns are NULL. */
	static const char sql[] =
		"SELECT " RECORD_EVENT_COLUMNS ", s.wrapped_key, s.created_at, s.restricted FROM subjects s "
		"LEFT JOIN records r ON r.tenant_id = s.tenant_id AND r.subject_id = s.subject_id "
		"LEFT JOIN record_events e ON e.tenant_id = r.tenant_id AND e.record_id = r.record_id "
		"WHERE s.tenant_id = $1 AND s.subject_id = $2 ORDER BY r.record_id, e.name COLLATE \"C\"";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*records = NULL;
	*n = 0;
	memset(subject, 0, sizeof *subject);
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, id);
	size_t alloc = 0;
	bool found = false;
	int r;
	while ((r = pq_step(st)) == PQ_ROW) {
		if (!found) {
			found = true;
			subject->wrapped_key = col_blob(st, 12, &subject->wrapped_len);
			subject->created_at = col_int(st, 13);
			subject->restricted = col_int(st, 14) != 0;
			snprintf(subject->id, sizeof subject->id, "%s", id);
		}
		if (!col_null(st, 0))
			take_record_row(st, records, n, &alloc);
	}
	rc = r == PQ_DONE ? (found ? RC_OK : RC_NOT_FOUND) : pq_map_rc(q, "subject_read");
	done(st);
	/* In the ids' text order, as the SQLite backend gives them. */
	if (!rc && *n)
		qsort(*records, *n, sizeof **records, record_id_cmp);
	if (rc) {
		store_subject_fini(subject);
		memset(subject, 0, sizeof *subject);
		store_records_free(*records, *n);
		*records = NULL;
		*n = 0;
	}
	return rc;
}

enum rc pg_event_set(struct store *s, int64_t tenant, const char *record_id, const char *name, int64_t at)
{
	static const char sql[] =
		"INSERT INTO record_events (tenant_id, record_id, name, at) VALUES ($1, $2, $3, $4) "
		"ON CONFLICT (tenant_id, record_id, name) DO UPDATE SET at = excluded.at";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, record_id);
	bind_text(st, 3, name);
	bind_int(st, 4, at);
	return pq_run(q, st, "event_set");
}

enum rc pg_lookup_find(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
                           char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	static const char sql[] =
		"SELECT DISTINCT r.subject_id FROM lookups l JOIN records r ON r.tenant_id = l.tenant_id "
		"AND r.record_id = l.record_id WHERE l.tenant_id = $1 AND l.hash = $2 ORDER BY r.subject_id LIMIT $3";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	bind_int(st, 3, (int64_t)max); /* LIMIT: never more than ids holds */
	int src;
	while ((src = pq_step(st)) == PQ_ROW)
		col_id(st, 0, TOKEN_PREFIX_SUBJECT, ids[(*n)++]);
	rc = src == PQ_DONE ? RC_OK : pq_map_rc(q, "lookup_find");
	done(st);
	return rc;
}

/* ---- paging ---- */

/* One page of ids in id order, after `after` ("" or NULL: from the start). */
static enum rc ids_page(struct store *s, const char *sql, const char *kind, int64_t tenant, const char *after,
                        char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_after(st, 2, kind, after);
	bind_int(st, 3, (int64_t)max);
	int src;
	while ((src = pq_step(st)) == PQ_ROW && *n < max)
		col_id(st, 0, kind, ids[(*n)++]);
	rc = src == PQ_DONE || src == PQ_ROW ? RC_OK : pq_map_rc(q, "ids_page");
	done(st);
	return rc;
}

enum rc pg_subjects_page(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
                             size_t max, size_t *n)
{
	static const char sql[] =
		"SELECT subject_id FROM subjects WHERE tenant_id = $1 AND subject_id > $2 ORDER BY subject_id LIMIT $3";
	return ids_page(s, sql, TOKEN_PREFIX_SUBJECT, tenant, after, ids, max, n);
}

enum rc pg_records_page(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
                            size_t max, size_t *n)
{
	static const char sql[] =
		"SELECT record_id FROM records WHERE tenant_id = $1 AND record_id > $2 ORDER BY record_id LIMIT $3";
	return ids_page(s, sql, TOKEN_PREFIX_RECORD, tenant, after, ids, max, n);
}

enum rc pg_record_move(struct store *s, int64_t tenant, const char *record_id, const char *to_subject,
                           const unsigned char *data, size_t data_len)
{
	/* Read first for RC_NOT_FOUND; its lookup rows name the record only
	 * (schema 9), so they follow it with nothing to update. */
	static const char lookups[] = "SELECT record_id, lookups FROM records WHERE tenant_id = $1 AND record_id = $2";
	static const char move[] =
		"UPDATE records SET subject_id = $3, data = $4 WHERE tenant_id = $1 AND record_id = $2";
	struct pg_store *q = pq(s);
	struct store_record old = {0};
	struct pq_stmt *st = NULL;
	enum rc rc = pq_tenant(q, lookups, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, record_id);
	rc = pq_fetch_one(q, st, read_record_lookups, &old, "record_move");
	if (!rc)
		rc = pq_tenant(q, move, tenant, &st);
	if (!rc) {
		bind_id(st, 2, TOKEN_PREFIX_RECORD, record_id);
		bind_id(st, 3, TOKEN_PREFIX_SUBJECT, to_subject);
		bind_blob(st, 4, data, data_len);
		rc = pq_run(q, st, "record_move");
	}
	store_record_fini(&old);
	return rc;
}

enum rc pg_records_by_state(struct store *s, int64_t tenant, const char *kind, const char *state,
                                const char *after, size_t max, struct store_record **out, size_t *n)
{
	static const char sql[] =
		"SELECT " RECORD_COLUMNS " FROM records "
		"WHERE tenant_id = $1 AND kind = $2 AND state = $3 AND state IN ('anonymized', 'detached') "
		"AND record_id > $4 ORDER BY record_id LIMIT $5";
	struct pg_store *q = pq(s);
	struct pq_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = pq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, kind);
	bind_text(st, 3, state);
	bind_after(st, 4, TOKEN_PREFIX_RECORD, after);
	bind_int(st, 5, (int64_t)max);
	rc = pq_fetch_all(q, st, read_record, sizeof **out, (void **)out, n, "records_by_state");
	for (size_t i = 0; !rc && i < *n; i++)
		rc = read_events(q, tenant, &(*out)[i]);
	if (rc) {
		store_records_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}
