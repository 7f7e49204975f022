/*
 * sqlite/subjects.c: subjects, their records, the records' events and
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

#include "store/sqlite/internal.h"
#include "store/stored.h"

/* ---- subjects ---- */

enum rc sqlite_subject_insert(struct store *s, int64_t tenant, const struct store_subject *subj)
{
	static const char sql[] =
		"INSERT INTO subjects (tenant_id, subject_id, wrapped_key, created_at) VALUES (?1, ?2, ?3, ?4)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subj->id);
	bind_blob(st, 3, subj->wrapped_key, subj->wrapped_len);
	sqlite3_bind_int64(st, 4, subj->created_at);
	return sq_run(q, st, "subject_insert");
}

static void read_subject(sqlite3_stmt *st, void *out)
{
	struct store_subject *x = out;
	x->wrapped_key = col_blob(st, 0, &x->wrapped_len);
	x->created_at = sqlite3_column_int64(st, 1);
	x->restricted = sqlite3_column_int(st, 2) != 0;
}

enum rc sqlite_subject_get(struct store *s, int64_t tenant, const char *id, struct store_subject *out)
{
	static const char sql[] =
		"SELECT wrapped_key, created_at, restricted FROM subjects WHERE tenant_id = ?1 AND subject_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, id);
	rc = sq_fetch_one(q, st, read_subject, out, "subject_get");
	if (!rc)
		snprintf(out->id, sizeof out->id, "%s", id);
	return rc;
}

/* An update of one subject: RC_NOT_FOUND if there is none. */
static enum rc subject_set(struct sqlite_store *q, sqlite3_stmt *st, const char *id, const char *what)
{
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, id);
	enum rc rc = sq_run(q, st, what);
	return !rc && sqlite3_changes(q->db) == 0 ? RC_NOT_FOUND : rc;
}

enum rc sqlite_subject_restrict(struct store *s, int64_t tenant, const char *id, bool restricted)
{
	static const char sql[] = "UPDATE subjects SET restricted = ?3 WHERE tenant_id = ?1 AND subject_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	sqlite3_bind_int(st, 3, restricted);
	return subject_set(q, st, id, "subject_restrict");
}

enum rc sqlite_subject_rekey(struct store *s, int64_t tenant, const char *id, const unsigned char *wrapped,
                             size_t len)
{
	static const char sql[] = "UPDATE subjects SET wrapped_key = ?3 WHERE tenant_id = ?1 AND subject_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 3, wrapped, len);
	return subject_set(q, st, id, "subject_rekey");
}

/* ---- lookup rows ---- */

/* Removes the lookup rows listed in a record's lookups blob. */
static enum rc drop_lookups(struct sqlite_store *q, int64_t tenant, const char *record_id,
                            const unsigned char *hashes, size_t n)
{
	static const char sql[] = "DELETE FROM lookups WHERE tenant_id = ?1 AND hash = ?2 AND record_id = ?3";
	enum rc rc = sq_lookups_flush(q);
	for (size_t i = 0; !rc && i < n; i++) {
		sqlite3_stmt *st = NULL;
		rc = sq_tenant(q, sql, tenant, &st);
		if (rc)
			break;
		bind_blob(st, 2, hashes + i * VAULT_HASH_LEN, VAULT_HASH_LEN);
		bind_id(st, 3, TOKEN_PREFIX_RECORD, record_id);
		rc = sq_run(q, st, "lookup_delete");
	}
	return rc;
}

/* A record's lookup rows go in one statement: per-statement overhead, not
 * the B-tree, was most of their cost. ?1 tenant, ?2 record, ?3... the hashes. */
static const char lookup_insert1[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES (?1, ?3, ?2)";
static const char lookup_insert2[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES (?1, ?3, ?2), (?1, ?4, ?2)";
static const char lookup_insert3[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES (?1, ?3, ?2), (?1, ?4, ?2), (?1, ?5, ?2)";
static const char lookup_insert4[] =
	"INSERT INTO lookups (tenant_id, hash, record_id) VALUES (?1, ?3, ?2), (?1, ?4, ?2), "
	"(?1, ?5, ?2), (?1, ?6, ?2)";
static const char *const lookup_insert[4] = {lookup_insert1, lookup_insert2, lookup_insert3, lookup_insert4};

static enum rc add_lookups(struct sqlite_store *q, int64_t tenant, const struct store_record *r)
{
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < r->nlookups;) {
		size_t k = r->nlookups - i < 4 ? r->nlookups - i : 4;
		sqlite3_stmt *st = NULL;
		rc = sq_tenant(q, lookup_insert[k - 1], tenant, &st);
		if (rc)
			break;
		bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
		for (size_t j = 0; j < k; j++, i++)
			bind_blob(st, 3 + (int)j, r->lookups + i * VAULT_HASH_LEN, VAULT_HASH_LEN);
		rc = sq_run(q, st, "lookup_insert");
	}
	return rc;
}

static void read_record_lookups(sqlite3_stmt *st, void *out)
{
	struct store_record *r = out;
	size_t len;
	col_id(st, 0, TOKEN_PREFIX_RECORD, r->id);
	r->lookups = col_blob(st, 1, &len);
	r->nlookups = len / VAULT_HASH_LEN;
}

enum rc sqlite_subject_delete(struct store *s, int64_t tenant, const char *id)
{
	static const char shred[] = "UPDATE subjects SET wrapped_key = NULL WHERE tenant_id = ?1 AND subject_id = ?2";
	/* INDEXED BY: see internal.h. */
	static const char lookups[] =
		"SELECT record_id, lookups FROM records INDEXED BY records_by_subject "
		"WHERE tenant_id = ?1 AND subject_id = ?2";
	static const char del[] = "DELETE FROM subjects WHERE tenant_id = ?1 AND subject_id = ?2";
	/* Answers kept for retries can show its values (sqlite/idempotency.c). */
	static const char answers[] = "DELETE FROM idempotency WHERE tenant_id = ?1 AND subject_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	struct store_record *recs = NULL;
	size_t nrecs = 0;
	enum rc rc = sqlite_begin(s);
	if (rc)
		return rc;
	/* The key goes first: from here on nothing of the subject can be read. */
	rc = sq_run_tenant_id(q, shred, tenant, TOKEN_PREFIX_SUBJECT, id, "subject_shred");
	if (!rc && sqlite3_changes(q->db) == 0)
		rc = RC_NOT_FOUND;
	/* Each record's lookup rows, found through the hashes the record lists. */
	if (!rc)
		rc = sq_tenant(q, lookups, tenant, &st);
	if (!rc) {
		bind_id(st, 2, TOKEN_PREFIX_SUBJECT, id);
		rc = sq_fetch_all(q, st, read_record_lookups, sizeof *recs, (void **)&recs, &nrecs, "subject_delete");
	}
	for (size_t i = 0; !rc && i < nrecs; i++)
		rc = drop_lookups(q, tenant, recs[i].id, recs[i].lookups, recs[i].nlookups);
	store_records_free(recs, nrecs);
	/* Records and their events go with the subject (ON DELETE CASCADE). */
	if (!rc)
		rc = sq_run_tenant_id(q, del, tenant, TOKEN_PREFIX_SUBJECT, id, "subject_delete");
	if (!rc)
		rc = sq_run_tenant_id(q, answers, tenant, TOKEN_PREFIX_SUBJECT, id, "subject_delete_answers");
	if (rc) {
		sqlite_rollback(s);
		return rc;
	}
	return sqlite_commit(s);
}

/* ---- records ---- */

enum rc sqlite_record_insert(struct store *s, int64_t tenant, const struct store_record *r)
{
	static const char sql[] =
		"INSERT INTO records (tenant_id, record_id, subject_id, kind, state, created_at, updated_at, data, lookups, "
		"due_at, trim_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
	bind_id(st, 3, TOKEN_PREFIX_SUBJECT, r->subject_id);
	bind_text(st, 4, r->kind);
	bind_text(st, 5, stored_state(r->state));
	sqlite3_bind_int64(st, 6, r->created_at);
	sqlite3_bind_int64(st, 7, stored_updated(r));
	bind_blob(st, 8, r->data, r->data_len);
	bind_blob(st, 9, r->lookups, r->nlookups * VAULT_HASH_LEN);
	bind_opt_int(st, 10, r->due_at);
	bind_opt_int(st, 11, r->trim_at);
	rc = sq_run(q, st, "record_insert");
	if (!rc)
		rc = add_lookups(q, tenant, r);
	for (size_t i = 0; !rc && i < r->nevents; i++)
		rc = sqlite_event_set(s, tenant, r->id, r->events[i].name, r->events[i].at);
	return rc;
}

static void read_event(sqlite3_stmt *st, void *out)
{
	struct store_event *e = out;
	e->name = col_text(st, 0);
	e->at = sqlite3_column_int64(st, 1);
}

static enum rc read_events(struct sqlite_store *q, int64_t tenant, struct store_record *r)
{
	static const char sql[] =
		"SELECT name, at FROM record_events WHERE tenant_id = ?1 AND record_id = ?2 ORDER BY name";
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
	return sq_fetch_all(q, st, read_event, sizeof *r->events, (void **)&r->events, &r->nevents, "events");
}

#define RECORD_COLUMNS                                                                                      \
	"record_id, subject_id, kind, " STORED_STATE_READ("") ", created_at, "             \
	STORED_UPDATED_READ("") ", data, lookups, due_at, trim_at"

static void read_record(sqlite3_stmt *st, void *out)
{
	struct store_record *r = out;
	size_t len;
	col_id(st, 0, TOKEN_PREFIX_RECORD, r->id);
	col_id(st, 1, TOKEN_PREFIX_SUBJECT, r->subject_id);
	r->kind = col_text(st, 2);
	r->state = col_text(st, 3);
	r->created_at = sqlite3_column_int64(st, 4);
	r->updated_at = sqlite3_column_int64(st, 5);
	r->data = col_blob(st, 6, &r->data_len);
	r->lookups = col_blob(st, 7, &len);
	r->nlookups = len / VAULT_HASH_LEN;
	r->due_at = sqlite3_column_int64(st, 8);
	r->trim_at = sqlite3_column_int64(st, 9);
}

enum rc sqlite_record_get(struct store *s, int64_t tenant, const char *id, struct store_record *out)
{
	static const char sql[] = "SELECT " RECORD_COLUMNS " FROM records WHERE tenant_id = ?1 AND record_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	memset(out, 0, sizeof *out);
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, id);
	rc = sq_fetch_one(q, st, read_record, out, "record_get");
	if (!rc)
		rc = read_events(q, tenant, out);
	if (rc)
		store_record_fini(out);
	return rc;
}

enum rc sqlite_record_update(struct store *s, int64_t tenant, const struct store_record *r)
{
	static const char sql[] =
		"UPDATE records SET state = ?3, updated_at = CASE WHEN created_at = ?4 THEN 0 ELSE ?4 END, data = ?5, "
		"lookups = ?6, due_at = ?7, trim_at = ?8 "
		"WHERE tenant_id = ?1 AND record_id = ?2";
	struct sqlite_store *q = sq(s);
	struct store_record old;
	enum rc rc = sqlite_record_get(s, tenant, r->id, &old);
	if (rc)
		return rc;
	rc = drop_lookups(q, tenant, r->id, old.lookups, old.nlookups);
	store_record_fini(&old);
	sqlite3_stmt *st = NULL;
	if (!rc)
		rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, r->id);
	bind_text(st, 3, stored_state(r->state));
	sqlite3_bind_int64(st, 4, r->updated_at);
	bind_blob(st, 5, r->data, r->data_len);
	bind_blob(st, 6, r->lookups, r->nlookups * VAULT_HASH_LEN);
	bind_opt_int(st, 7, r->due_at);
	bind_opt_int(st, 8, r->trim_at);
	rc = sq_run(q, st, "record_update");
	return rc ? rc : add_lookups(q, tenant, r);
}

enum rc sqlite_record_delete(struct store *s, int64_t tenant, const char *id)
{
	static const char lookups[] = "SELECT record_id, lookups FROM records WHERE tenant_id = ?1 AND record_id = ?2";
	static const char del[] = "DELETE FROM records WHERE tenant_id = ?1 AND record_id = ?2";
	struct sqlite_store *q = sq(s);
	struct store_record old = {0};
	sqlite3_stmt *st = NULL;
	/* Only the lookup hashes are needed: not the data, not the events. */
	enum rc rc = sq_tenant(q, lookups, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, id);
	rc = sq_fetch_one(q, st, read_record_lookups, &old, "record_delete");
	if (rc)
		return rc;
	rc = drop_lookups(q, tenant, id, old.lookups, old.nlookups);
	store_record_fini(&old);
	return rc ? rc : sq_run_tenant_id(q, del, tenant, TOKEN_PREFIX_RECORD, id, "record_delete");
}

static int record_id_cmp(const void *a, const void *b)
{
	return strcmp(((const struct store_record *)a)->id, ((const struct store_record *)b)->id);
}

enum rc sqlite_records_for_subject(struct store *s, int64_t tenant, const char *subject_id,
                                   struct store_record **out, size_t *n)
{
	/* INDEXED BY: see internal.h. */
	static const char sql[] =
		"SELECT " RECORD_COLUMNS " FROM records INDEXED BY records_by_subject WHERE tenant_id = ?1 AND subject_id = ?2";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_SUBJECT, subject_id);
	rc = sq_fetch_all(q, st, read_record, sizeof **out, (void **)out, n, "records_for_subject");
	if (!rc && *n) /* qsort of NULL, even of 0 elements, is undefined */
		qsort(*out, *n, sizeof **out, record_id_cmp);
	for (size_t i = 0; !rc && i < *n; i++)
		rc = read_events(q, tenant, &(*out)[i]);
	if (rc) {
		store_records_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

enum rc sqlite_event_set(struct store *s, int64_t tenant, const char *record_id, const char *name, int64_t at)
{
	static const char sql[] =
		"INSERT INTO record_events (tenant_id, record_id, name, at) VALUES (?1, ?2, ?3, ?4) "
		"ON CONFLICT (tenant_id, record_id, name) DO UPDATE SET at = excluded.at";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, record_id);
	bind_text(st, 3, name);
	sqlite3_bind_int64(st, 4, at);
	return sq_run(q, st, "event_set");
}

enum rc sqlite_lookup_find(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
                           char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	static const char sql[] =
		/* CROSS JOIN keeps SQLite's planner to this order: from the hash's
		 * rows to their records, never the other way round. */
		"SELECT DISTINCT r.subject_id FROM lookups l CROSS JOIN records r WHERE r.tenant_id = l.tenant_id "
		"AND r.record_id = l.record_id AND l.tenant_id = ?1 AND l.hash = ?2 ORDER BY r.subject_id LIMIT ?3";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = sq_lookups_flush(q);
	if (!rc)
		rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_blob(st, 2, hash, VAULT_HASH_LEN);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max); /* LIMIT: never more than ids holds */
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW)
		col_id(st, 0, TOKEN_PREFIX_SUBJECT, ids[(*n)++]);
	rc = src == SQLITE_DONE ? RC_OK : sq_map_rc(q, src, "lookup_find");
	done(st);
	return rc;
}

/* ---- paging ---- */

/* One page of ids in id order, after `after` ("" or NULL: from the start). */
static enum rc ids_page(struct store *s, const char *sql, const char *kind, int64_t tenant, const char *after,
                        char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n)
{
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_after(st, 2, kind, after);
	sqlite3_bind_int64(st, 3, (sqlite3_int64)max);
	int src;
	while ((src = sqlite3_step(st)) == SQLITE_ROW && *n < max)
		col_id(st, 0, kind, ids[(*n)++]);
	rc = src == SQLITE_DONE || src == SQLITE_ROW ? RC_OK : sq_map_rc(q, src, "ids_page");
	done(st);
	return rc;
}

enum rc sqlite_subjects_page(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
                             size_t max, size_t *n)
{
	static const char sql[] =
		"SELECT subject_id FROM subjects WHERE tenant_id = ?1 AND subject_id > ?2 ORDER BY subject_id LIMIT ?3";
	return ids_page(s, sql, TOKEN_PREFIX_SUBJECT, tenant, after, ids, max, n);
}

enum rc sqlite_records_page(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
                            size_t max, size_t *n)
{
	static const char sql[] =
		"SELECT record_id FROM records WHERE tenant_id = ?1 AND record_id > ?2 ORDER BY record_id LIMIT ?3";
	return ids_page(s, sql, TOKEN_PREFIX_RECORD, tenant, after, ids, max, n);
}

enum rc sqlite_record_move(struct store *s, int64_t tenant, const char *record_id, const char *to_subject,
                           const unsigned char *data, size_t data_len)
{
	/* Read first for RC_NOT_FOUND; its lookup rows name the record only
	 * (schema 23), so they follow it with nothing to update. */
	static const char lookups[] = "SELECT record_id, lookups FROM records WHERE tenant_id = ?1 AND record_id = ?2";
	static const char move[] =
		"UPDATE records SET subject_id = ?3, data = ?4 WHERE tenant_id = ?1 AND record_id = ?2";
	struct sqlite_store *q = sq(s);
	struct store_record old = {0};
	sqlite3_stmt *st = NULL;
	enum rc rc = sq_tenant(q, lookups, tenant, &st);
	if (rc)
		return rc;
	bind_id(st, 2, TOKEN_PREFIX_RECORD, record_id);
	rc = sq_fetch_one(q, st, read_record_lookups, &old, "record_move");
	if (!rc)
		rc = sq_tenant(q, move, tenant, &st);
	if (!rc) {
		bind_id(st, 2, TOKEN_PREFIX_RECORD, record_id);
		bind_id(st, 3, TOKEN_PREFIX_SUBJECT, to_subject);
		bind_blob(st, 4, data, data_len);
		rc = sq_run(q, st, "record_move");
	}
	store_record_fini(&old);
	return rc;
}

enum rc sqlite_records_by_state(struct store *s, int64_t tenant, const char *kind, const char *state,
                                const char *after, size_t max, struct store_record **out, size_t *n)
{
	static const char sql[] =
		"SELECT " RECORD_COLUMNS " FROM records INDEXED BY records_by_state "
		"WHERE tenant_id = ?1 AND kind = ?2 AND state = ?3 AND state IN ('anonymized', 'detached') "
		"AND record_id > ?4 ORDER BY record_id LIMIT ?5";
	struct sqlite_store *q = sq(s);
	sqlite3_stmt *st = NULL;
	*out = NULL;
	*n = 0;
	enum rc rc = sq_tenant(q, sql, tenant, &st);
	if (rc)
		return rc;
	bind_text(st, 2, kind);
	bind_text(st, 3, state);
	bind_after(st, 4, TOKEN_PREFIX_RECORD, after);
	sqlite3_bind_int64(st, 5, (sqlite3_int64)max);
	rc = sq_fetch_all(q, st, read_record, sizeof **out, (void **)out, n, "records_by_state");
	for (size_t i = 0; !rc && i < *n; i++)
		rc = read_events(q, tenant, &(*out)[i]);
	if (rc) {
		store_records_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

enum rc sqlite_subject_read(struct store *s, int64_t tenant, const char *id, struct store_subject *subject,
                            struct store_record **records, size_t *n)
{
	/* One snapshot for the subject and its records: each read transaction
	 * that meets a newer commit (the access-log writer commits all the
	 * time) starts from an empty page cache, so two would read every
	 * B-tree page from the top twice. */
	*records = NULL;
	*n = 0;
	memset(subject, 0, sizeof *subject);
	enum rc rc = sqlite_begin_read(s);
	if (rc)
		return rc;
	rc = sqlite_subject_get(s, tenant, id, subject);
	if (!rc)
		rc = sqlite_records_for_subject(s, tenant, id, records, n);
	sqlite_rollback(s); /* the snapshot ends: nothing was written */
	if (rc) {
		store_subject_fini(subject);
		memset(subject, 0, sizeof *subject);
	}
	return rc;
}
