/* subject: create, read, find and delete data subjects (see subject.h). */
#include "core/subject.h"

#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "base/xalloc.h"
#include "crypto/vault.h"
#include "core/audit.h"
#include "core/datakey.h"
#include "core/hold.h"
#include "core/ledger.h"
#include "store/store.h"

/* A subject with its key and records, validated and sealed, not yet written. */
struct prepared_subject {
	struct store_subject row;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	struct record_prepared *recs;
	size_t n;
};

static void prepared_fini(struct prepared_subject *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		record_prepared_fini(&ps->recs[i]);
	free(ps->recs);
	ps->recs = NULL;
	ps->n = 0;
}

static enum rc prepare_subject(const struct core_ctx *c, const struct record_input *recs, size_t n,
                               struct prepared_subject *ps, struct errbuf *eb)
{
	struct subject_key key;
	memset(ps, 0, sizeof *ps);
	if (n == 0)
		return err_set(eb, RC_UNPROCESSABLE, "a subject needs at least one record");
	if (n > SUBJECT_MAX_RECORDS_IN)
		return err_set(eb, RC_TOO_LARGE, "more than %d records in one call", SUBJECT_MAX_RECORDS_IN);
	token_id_new(TOKEN_PREFIX_SUBJECT, ps->row.id);
	ps->row.wrapped_len = vault_subject_key_new(&c->tenant->vault, ps->row.id, &key, ps->wrapped);
	ps->row.wrapped_key = ps->wrapped;
	ps->recs = xcalloc(n, sizeof *ps->recs);
	enum rc rc = RC_OK;
	for (; ps->n < n; ps->n++) {
		/* A new subject has consented to nothing yet. */
		rc = record_may_store(c, NULL, &recs[ps->n], eb);
		if (!rc)
			rc = record_prepare(c, ps->row.id, &key, &recs[ps->n], &ps->recs[ps->n], eb);
		if (rc) {
			if (eb && n > 1) {
				char msg[sizeof eb->msg + 32];
				snprintf(msg, sizeof msg, "records[%zu]: %s", ps->n, eb->msg);
				memcpy(eb->msg, msg, sizeof eb->msg - 1);
				eb->msg[sizeof eb->msg - 1] = '\0';
			}
			break;
		}
	}
	vault_subject_key_wipe(&key);
	if (rc) {
		prepared_fini(ps);
		return rc;
	}
	/* An imported subject exists since its oldest record. */
	ps->row.created_at = core_now(c);
	for (size_t i = 0; i < n; i++)
		if (ps->recs[i].row.created_at < ps->row.created_at)
			ps->row.created_at = ps->recs[i].row.created_at;
	return RC_OK;
}

/* The lookup hash of a value of lookup field f, as its records store it. */
static enum rc value_hash(const struct core_ctx *c, const struct policy_field *f, const struct field_value *value,
                          unsigned char out[VAULT_HASH_LEN], struct errbuf *eb)
{
	struct buf canon, form;
	buf_init(&canon, FIELD_VALUE_MAX);
	buf_init(&form, FIELD_VALUE_MAX);
	enum rc rc = field_normalize(f, value, &canon, eb);
	if (!rc)
		rc = field_lookup_form(f, canon.data, canon.len, &form);
	if (!rc)
		vault_lookup_hash(&c->tenant->vault, f->name, form.data, form.len, out);
	buf_fini(&canon);
	buf_fini(&form);
	return rc;
}

enum rc subject_unique_check(const struct core_ctx *c, const struct record_input *recs, size_t n, const char *self,
                             char existing[TOKEN_ID_MAX], struct errbuf *eb)
{
	enum rc rc = RC_OK;
	existing[0] = '\0';
	for (size_t i = 0; !rc && i < n; i++)
		rc = record_unique_check(c, recs[i].fields, recs[i].nfields, self, existing, eb);
	return rc;
}

/* The rows of a prepared subject, without an audit entry. */
static enum rc write_rows(const struct core_ctx *c, const struct prepared_subject *ps)
{
	enum rc rc = store_subject_insert(c->store, c->tenant->id, &ps->row);
	for (size_t i = 0; !rc && i < ps->n; i++)
		rc = store_record_insert(c->store, c->tenant->id, &ps->recs[i].row);
	return rc;
}

static enum rc write_subject(const struct core_ctx *c, const struct prepared_subject *ps)
{
	enum rc rc = write_rows(c, ps);
	char detail[64];
	snprintf(detail, sizeof detail, "records=%zu", ps->n);
	struct audit_event ev = {"subject.create", ps->row.id, ps->n == 1 ? ps->recs[0].row.id : NULL, "ok", detail};
	return rc ? rc : audit_append(c, &ev);
}

enum rc subject_create(const struct core_ctx *c, const struct record_input *recs, size_t n,
                       char id[TOKEN_ID_MAX], char (*record_ids)[TOKEN_ID_MAX], struct errbuf *eb)
{
	struct prepared_subject ps;
	enum rc rc = prepare_subject(c, recs, n, &ps, eb);
	if (rc)
		return rc;
	rc = store_begin(c->store);
	if (!rc) {
		/* Checked in the write transaction: a concurrent create of the same
		 * person waits for this one, then finds it. */
		char existing[TOKEN_ID_MAX];
		rc = subject_unique_check(c, recs, n, NULL, existing, eb);
		if (!rc)
			rc = write_subject(c, &ps);
		rc = core_end(c, rc);
	}
	if (!rc) {
		memcpy(id, ps.row.id, TOKEN_ID_MAX);
		for (size_t i = 0; i < n; i++)
			memcpy(record_ids[i], ps.recs[i].row.id, TOKEN_ID_MAX);
	}
	prepared_fini(&ps);
	return rc;
}

enum rc subject_import(const struct core_ctx *c, const struct subject_input *in, size_t n,
                       char (*ids)[TOKEN_ID_MAX], size_t *failed, struct errbuf *eb)
{
	struct prepared_subject *ps = xcalloc(n ? n : 1, sizeof *ps);
	size_t ready = 0;
	enum rc rc = RC_OK;
	for (; ready < n; ready++) {
		rc = prepare_subject(c, in[ready].records, in[ready].nrecords, &ps[ready], eb);
		if (rc) {
			if (failed)
				*failed = ready;
			break;
		}
	}
	if (!rc)
		rc = store_begin(c->store);
	if (!rc) {
		for (size_t i = 0; !rc && i < n; i++) {
			char existing[TOKEN_ID_MAX];
			rc = subject_unique_check(c, in[i].records, in[i].nrecords, NULL, existing, eb);
			if (!rc)
				rc = write_subject(c, &ps[i]);
			if (rc && failed)
				*failed = i;
		}
		rc = core_end(c, rc);
	}
	for (size_t i = 0; i < ready; i++) {
		if (!rc && ids)
			memcpy(ids[i], ps[i].row.id, TOKEN_ID_MAX);
		prepared_fini(&ps[i]);
	}
	free(ps);
	return rc;
}

/* ---- bulk import ---- */

/* A prepared subject and the lookup hashes of its unique values, computed
 * with it so that the writer only looks them up. */
struct batch_item {
	struct prepared_subject ps;
	const struct policy_field **ufield;
	unsigned char (*uhash)[VAULT_HASH_LEN];
	size_t nunique;
	/* What subject_batch_write did with it (subject_batch_result). */
	bool done;
	enum rc result;            /* RC_OK: written; RC_EXISTS: refused */
	const struct policy_field *held; /* refused: the unique field, and who holds its value */
	char holder[TOKEN_ID_MAX];
};

struct subject_batch {
	struct batch_item *v;
	size_t n, alloc;
	size_t written;
	/* The smallest and largest id written: ids made in one millisecond
	 * do not sort in the order they were made, and an auditor finds a
	 * subject's entry by its id's place between them. */
	char first[TOKEN_ID_MAX], last[TOKEN_ID_MAX];
	crypto_generichash_state ids;  /* every id written, in order */
};

static void item_fini(struct batch_item *it)
{
	prepared_fini(&it->ps);
	free(it->ufield);
	free(it->uhash);
	memset(it, 0, sizeof *it);
}

struct subject_batch *subject_batch_new(void)
{
	struct subject_batch *b = xcalloc(1, sizeof *b);
	subject_batch_clear(b);
	return b;
}

void subject_batch_clear(struct subject_batch *b)
{
	for (size_t i = 0; i < b->n; i++)
		item_fini(&b->v[i]);
	b->n = 0;
	b->written = 0;
	b->first[0] = b->last[0] = '\0';
	crypto_generichash_init(&b->ids, NULL, 0, crypto_generichash_BYTES);
}

void subject_batch_free(struct subject_batch *b)
{
	if (!b)
		return;
	subject_batch_clear(b);
	free(b->v);
	free(b);
}

size_t subject_batch_count(const struct subject_batch *b)
{
	return b->n;
}

size_t subject_batch_written(const struct subject_batch *b)
{
	return b->written;
}

enum rc subject_batch_run(const struct core_ctx *c, bool on)
{
	return store_bulk(c->store, on);
}

enum rc subject_batch_begin(const struct core_ctx *c)
{
	return store_begin_relaxed(c->store);
}

enum rc subject_batch_add(const struct core_ctx *c, struct subject_batch *b, const struct record_input *recs,
                          size_t n, size_t *index, struct errbuf *eb)
{
	struct batch_item it = {0};
	enum rc rc = prepare_subject(c, recs, n, &it.ps, eb);
	if (rc)
		return rc;
	size_t nvalues = 0;
	for (size_t i = 0; i < n; i++)
		nvalues += recs[i].nfields;
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < recs[i].nfields; k++) {
			const struct field_input *in = &recs[i].fields[k];
			const struct policy_field *f = policy_field(c->tenant->policy, in->name);
			if (!f || !f->unique || in->value.kind == VAL_NULL)
				continue;
			if (!it.ufield) {
				it.ufield = xcalloc(nvalues, sizeof *it.ufield);
				it.uhash = xcalloc(nvalues, sizeof *it.uhash);
			}
			/* prepare_subject accepted the value, so it normalises. */
			if (value_hash(c, f, &in->value, it.uhash[it.nunique], NULL))
				continue;
			it.ufield[it.nunique++] = f;
		}
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? 2 * b->alloc : 1024;
		b->v = xrealloc(b->v, b->alloc * sizeof *b->v);
	}
	*index = b->n;
	b->v[b->n++] = it;
	return RC_OK;
}

/* The unique values a run of subject_batch_write has written, by hash:
 * open addressing over the hashes' first bytes (they are keyed hashes, so
 * evenly spread). A slot holds 1 + the value's place in the run's array. */
struct written_values {
	const unsigned char *hashes;
	size_t *slot;
	size_t mask;
	const char **owner;        /* per place: the subject that wrote it */
};

static size_t value_slot(const struct written_values *wv, const unsigned char *h)
{
	uint64_t x;
	memcpy(&x, h, sizeof x);
	size_t i = (size_t)x & wv->mask;
	while (wv->slot[i] && memcmp(wv->hashes + (wv->slot[i] - 1) * VAULT_HASH_LEN, h, VAULT_HASH_LEN))
		i = (i + 1) & wv->mask;
	return i;
}

enum rc subject_batch_write(const struct core_ctx *c, struct subject_batch *b, const size_t *index, size_t n)
{
	size_t nh = 0, nrecs = 0, at = 0, nsubj = 0, nrow = 0;
	for (size_t k = 0; k < n; k++) {
		nh += b->v[index[k]].nunique;
		nrecs += b->v[index[k]].ps.n;
	}
	unsigned char *hashes = xmalloc(nh ? nh * VAULT_HASH_LEN : 1);
	char (*holders)[TOKEN_ID_MAX] = xmalloc((nh ? nh : 1) * sizeof *holders);
	for (size_t k = 0; k < n; k++) {
		const struct batch_item *it = &b->v[index[k]];
		if (it->nunique) /* uhash is NULL without unique values */
			memcpy(hashes + at * VAULT_HASH_LEN, it->uhash, it->nunique * VAULT_HASH_LEN);
		at += it->nunique;
	}
	struct written_values wv = {.hashes = hashes, .mask = 15};
	while (wv.mask + 1 < 2 * nh)
		wv.mask = 2 * wv.mask + 1;
	wv.slot = xcalloc(wv.mask + 1, sizeof *wv.slot);
	wv.owner = xcalloc(nh ? nh : 1, sizeof *wv.owner);
	const struct store_subject **subjects = xmalloc((n ? n : 1) * sizeof *subjects);
	const struct store_record **records = xmalloc((nrecs ? nrecs : 1) * sizeof *records);
	/* The register's holders of every value at once; those written earlier
	 * in this run are in wv, so a value twice in one file is found like one
	 * already in the register, and the holder named is the same one
	 * (lookup_find's first: the smallest id) as one by one. */
	enum rc rc = store_import_holders(c->store, c->tenant->id, hashes, nh, holders);
	at = 0;
	for (size_t k = 0; !rc && k < n; k++) {
		struct batch_item *it = &b->v[index[k]];
		/* The item moved since it was prepared (into b, and as b grew). */
		it->ps.row.wrapped_key = it->ps.wrapped;
		it->done = true;
		it->result = RC_OK;
		for (size_t i = 0; i < it->nunique && !it->result; i++) {
			const char *holder = holders[at + i];
			size_t slot = value_slot(&wv, hashes + (at + i) * VAULT_HASH_LEN);
			if (wv.slot[slot] && (!*holder || strcmp(wv.owner[wv.slot[slot] - 1], holder) < 0))
				holder = wv.owner[wv.slot[slot] - 1];
			if (*holder) {
				it->result = RC_EXISTS;
				it->held = it->ufield[i];
				memcpy(it->holder, holder, TOKEN_ID_MAX);
			}
		}
		if (!it->result) {
			for (size_t i = 0; i < it->nunique; i++) {
				size_t slot = value_slot(&wv, hashes + (at + i) * VAULT_HASH_LEN);
				if (!wv.slot[slot]) {
					wv.slot[slot] = at + i + 1;
					wv.owner[at + i] = it->ps.row.id;
				}
			}
			subjects[nsubj++] = &it->ps.row;
			for (size_t i = 0; i < it->ps.n; i++)
				records[nrow++] = &it->ps.recs[i].row;
			const char *id = it->ps.row.id;
			if (!b->written++ || strcmp(id, b->first) < 0)
				memcpy(b->first, id, TOKEN_ID_MAX);
			if (b->written == 1 || strcmp(id, b->last) > 0)
				memcpy(b->last, id, TOKEN_ID_MAX);
			crypto_generichash_update(&b->ids, (const unsigned char *)id, strlen(id) + 1);
		}
		at += it->nunique;
	}
	if (!rc)
		rc = store_import_write(c->store, c->tenant->id, subjects, nsubj, records, nrow);
	free(hashes);
	free(holders);
	free(wv.slot);
	free(wv.owner);
	free(subjects);
	free(records);
	return rc;
}

enum rc subject_batch_result(const struct subject_batch *b, size_t index, char id[TOKEN_ID_MAX], struct errbuf *eb)
{
	const struct batch_item *it = &b->v[index];
	if (!it->done)
		return err_set(eb, RC_INTERNAL, "subject %zu of the batch was not written", index);
	if (it->result)
		return record_unique_held(eb, it->held->name, it->holder);
	memcpy(id, it->ps.row.id, TOKEN_ID_MAX);
	return RC_OK;
}

enum rc subject_batch_audit(const struct core_ctx *c, struct subject_batch *b, const char *source)
{
	unsigned char digest[crypto_generichash_BYTES];
	char hex[2 * sizeof digest + 1];
	crypto_generichash_state st = b->ids; /* the batch may go on */
	crypto_generichash_final(&st, digest, sizeof digest);
	sodium_bin2hex(hex, sizeof hex, digest, sizeof digest);
	char detail[SUBJECT_BATCH_SOURCE_MAX + 3 * TOKEN_ID_MAX + sizeof hex + 64];
	if (b->written)
		snprintf(detail, sizeof detail, "%.*s subjects=%zu first=%s last=%s ids=blake2b:%s",
		         SUBJECT_BATCH_SOURCE_MAX, source ? source : "", b->written, b->first, b->last, hex);
	else
		snprintf(detail, sizeof detail, "%.*s subjects=0", SUBJECT_BATCH_SOURCE_MAX, source ? source : "");
	struct audit_event ev = {"subject.import", NULL, NULL, "ok", detail};
	return audit_append(c, &ev);
}

/* Whether some record of recs carries `hash` in field f. */
static bool carries(const struct core_ctx *c, const struct policy_field *f, const struct record_input *recs, size_t n,
                    const unsigned char hash[VAULT_HASH_LEN])
{
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; k < recs[i].nfields; k++) {
			unsigned char h[VAULT_HASH_LEN];
			if (!strcmp(recs[i].fields[k].name, f->name) && recs[i].fields[k].value.kind != VAL_NULL &&
			    !value_hash(c, f, &recs[i].fields[k].value, h, NULL) && !memcmp(h, hash, sizeof h))
				return true;
		}
	return false;
}

/* The update half of subject_put: each record given rectifies the
 * subject's first record of its kind, or is added when it has none. */
static enum rc put_records(const struct core_ctx *c, const char *sid, const struct record_input *recs, size_t n,
                           char (*record_ids)[TOKEN_ID_MAX], struct errbuf *eb)
{
	struct store_record *have = NULL;
	size_t nhave = 0;
	enum rc rc = store_records_for_subject(c->store, c->tenant->id, sid, &have, &nhave);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct store_record *same = NULL;
		for (size_t k = 0; k < nhave && !same; k++)
			if (!strcmp(have[k].kind, recs[i].kind))
				same = &have[k];
		if (same) {
			memcpy(record_ids[i], same->id, TOKEN_ID_MAX);
			rc = record_rectify(c, same->id, recs[i].fields, recs[i].nfields, recs[i].events, recs[i].nevents, eb);
		} else {
			rc = record_add(c, sid, &recs[i], record_ids[i], eb);
		}
		if (rc && eb && n > 1) {
			char msg[sizeof eb->msg + 32];
			snprintf(msg, sizeof msg, "records[%zu]: %s", i, eb->msg);
			memcpy(eb->msg, msg, sizeof eb->msg - 1);
			eb->msg[sizeof eb->msg - 1] = '\0';
		}
	}
	store_records_free(have, nhave);
	return rc;
}

enum rc subject_put(const struct core_ctx *c, const char *field, const struct field_value *value,
                    const struct record_input *recs, size_t n, char id[TOKEN_ID_MAX],
                    char (*record_ids)[TOKEN_ID_MAX], bool *created, char existing[TOKEN_ID_MAX], struct errbuf *eb)
{
	const struct policy_field *f = policy_field(c->tenant->policy, field);
	unsigned char hash[VAULT_HASH_LEN];
	char ids[2][TOKEN_ID_MAX];
	size_t m = 0;
	struct prepared_subject ps = {0};
	*created = false;
	existing[0] = '\0';
	if (!f || !f->lookup || !f->unique)
		return err_set(eb, RC_UNPROCESSABLE, "'%.64s' is not a unique lookup field of the policy (lookup: true, "
		               "unique: true)", field);
	if (n == 0)
		return err_set(eb, RC_UNPROCESSABLE, "a subject needs at least one record");
	if (n > SUBJECT_MAX_RECORDS_IN)
		return err_set(eb, RC_TOO_LARGE, "more than %d records in one call", SUBJECT_MAX_RECORDS_IN);
	enum rc rc = value_hash(c, f, value, hash, eb);
	if (!rc && !carries(c, f, recs, n, hash))
		rc = err_set(eb, RC_UNPROCESSABLE, "the records must carry the %s the query names", f->name);
	if (!rc)
		rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_lookup_find(c->store, c->tenant->id, hash, ids, 2, &m);
	if (!rc && m > 1)
		rc = err_set(eb, RC_CONFLICT, "more than one subject has that %s: merge them first", f->name);
	if (!rc)
		rc = subject_unique_check(c, recs, n, m ? ids[0] : NULL, existing, eb);
	if (!rc && m == 1) {
		memcpy(id, ids[0], TOKEN_ID_MAX);
		rc = put_records(c, id, recs, n, record_ids, eb);
	} else if (!rc) {
		rc = prepare_subject(c, recs, n, &ps, eb);
		if (!rc)
			rc = write_subject(c, &ps);
		if (!rc) {
			*created = true;
			memcpy(id, ps.row.id, TOKEN_ID_MAX);
			for (size_t i = 0; i < n; i++)
				memcpy(record_ids[i], ps.recs[i].row.id, TOKEN_ID_MAX);
		}
		prepared_fini(&ps);
	}
	return core_end(c, rc);
}

enum rc subject_read(const struct core_ctx *c, const char *id, struct subject_view **out,
                     struct errbuf *eb)
{
	struct store_subject row;
	struct store_record *recs = NULL;
	size_t nrecs = 0;
	struct subject_key key;
	*out = NULL;
	/* The subject and its records as of one moment (one statement on
	 * PostgreSQL), then the rules: the records stay sealed unless the read
	 * may go on. */
	enum rc rc = store_subject_read(c->store, c->tenant->id, id, &row, &recs, &nrecs);
	if (rc)
		return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such subject") : rc;
	/* Who may still use restricted data: legal claims (admin, dpo), and the
	 * subject's own access. */
	bool legal = !c->role || !strcmp(c->role, "admin") || !strcmp(c->role, "dpo") || !strcmp(c->role, "subject");
	if (row.restricted && !legal)
		rc = err_set(eb, RC_CONFLICT, "the subject's data is restricted (Art. 18): it is only stored");
	if (!rc)
		rc = datakey_purpose_usable(c, id, eb);
	if (rc) {
		store_subject_fini(&row);
		store_records_free(recs, nrecs);
		return rc;
	}
	rc = vault_subject_key_unwrap(&c->tenant->vault, id, row.wrapped_key, row.wrapped_len, &key);
	struct subject_view *v = xcalloc(1, sizeof *v);
	memcpy(v->id, row.id, TOKEN_ID_MAX);
	v->created_at = row.created_at;
	store_subject_fini(&row);
	if (!rc) {
		v->records = xcalloc(nrecs ? nrecs : 1, sizeof *v->records);
		for (size_t i = 0; !rc && i < nrecs; i++, v->nrecords++)
			rc = record_view_take(c, &key, &recs[i], &v->records[i]);
	}
	vault_subject_key_wipe(&key);
	store_records_free(recs, nrecs);
	/* No read without its log entry: if the entry cannot be written, the
	 * data is not handed out. */
	char detail[32];
	snprintf(detail, sizeof detail, "records=%zu", v->nrecords);
	struct audit_event ev = {"subject.read", id, NULL, rc_code(rc), detail};
	enum rc arc = audit_access(c, &ev);
	if (!rc)
		rc = arc;
	if (rc) {
		subject_view_free(v);
		return rc;
	}
	*out = v;
	return RC_OK;
}

void subject_view_free(struct subject_view *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nrecords; i++)
		record_view_fini(&v->records[i]);
	free(v->records);
	free(v);
}

enum rc subject_delete(const struct core_ctx *c, const char *id, struct errbuf *eb)
{
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_subject_delete(c->store, c->tenant->id, id);
	struct audit_event ev = {"subject.delete", id, NULL, "ok", NULL};
	if (!rc)
		rc = audit_append(c, &ev);
	if (!rc)
		rc = ledger_note(c, LEDGER_SUBJECT_DELETE, id, NULL, NULL);
	rc = core_end(c, rc);
	ledger_settle(c, rc);
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such subject") : rc;
}

enum rc subject_find(const struct core_ctx *c, const char *field, const struct field_value *value,
                     char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n, struct errbuf *eb)
{
	const struct policy_field *f = policy_field(c->tenant->policy, field);
	*n = 0;
	if (!f || !f->lookup)
		return err_set(eb, RC_UNPROCESSABLE, "'%.64s' is not a lookup field of the policy", field);
	struct buf canon, form;
	buf_init(&canon, FIELD_VALUE_MAX);
	buf_init(&form, FIELD_VALUE_MAX);
	enum rc rc = field_normalize(f, value, &canon, eb);
	if (!rc)
		rc = field_lookup_form(f, canon.data, canon.len, &form);
	if (!rc) {
		unsigned char hash[VAULT_HASH_LEN];
		vault_lookup_hash(&c->tenant->vault, f->name, form.data, form.len, hash);
		rc = store_lookup_find(c->store, c->tenant->id, hash, ids, max, n);
	}
	buf_fini(&canon);
	buf_fini(&form);
	if (rc)
		return rc;
	/* One entry per subject found, so each subject's log shows the lookup. */
	char detail[96];
	snprintf(detail, sizeof detail, "field=%s matches=%zu", f->name, *n);
	for (size_t i = 0; !rc && i < (*n ? *n : 1); i++) {
		struct audit_event ev = {"subject.lookup", *n ? ids[i] : NULL, NULL, "ok", detail};
		rc = audit_access(c, &ev);
	}
	if (rc)
		*n = 0;
	return rc;
}

enum rc subject_contact(const struct core_ctx *c, const char *subject_id, const struct subject_key *key,
                        enum channel ch, char contact[256], char lang[8], bool *has_account)
{
	const struct policy *p = c->tenant->policy;
	struct store_record *recs = NULL;
	size_t n = 0;
	contact[0] = '\0';
	if (has_account)
		*has_account = false;
	snprintf(lang, 8, "%s", p->languages[0]);
	enum rc rc = store_records_for_subject(c->store, c->tenant->id, subject_id, &recs, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		struct record_view v;
		if (record_view_take(c, key, &recs[i], &v)) {
			record_view_fini(&v);
			continue;
		}
		const struct policy_record *kind = policy_record(p, v.kind);
		if (has_account && kind && kind->keep.rule == KEEP_WHILE_ACTIVE)
			*has_account = true;
		for (size_t k = 0; k < v.nfields; k++) {
			const struct field_output *f = &v.fields[k];
			if (!f->field)
				continue;
			bool wanted = (ch == CHANNEL_EMAIL && f->field->type == FT_EMAIL) ||
			              ((ch == CHANNEL_SMS || ch == CHANNEL_PHONE) && f->field->type == FT_PHONE) ||
			              (ch == CHANNEL_POST && (!strcmp(f->name, "address") || !strcmp(f->name, "delivery_address")));
			if (wanted && !contact[0] && f->len < 256)
				memcpy(contact, f->value, f->len + 1);
			if (!strcmp(f->name, "language"))
				for (size_t l = 0; l < p->nlanguages; l++)
					if (!strcmp(p->languages[l], f->value))
						snprintf(lang, 8, "%s", f->value);
		}
		record_view_fini(&v);
	}
	store_records_free(recs, n);
	return rc;
}


void subject_suppression_hash(const struct core_ctx *c, const struct policy_field *f, const char *canonical,
                              size_t len, unsigned char out[VAULT_HASH_LEN])
{
	struct buf form;
	buf_init(&form, FIELD_VALUE_MAX);
	const char *scope = f->type == FT_EMAIL ? "suppress:email" : "suppress:phone";
	if (field_lookup_form(f, canonical, len, &form))
		vault_lookup_hash(&c->tenant->vault, scope, canonical, len, out);
	else
		vault_lookup_hash(&c->tenant->vault, scope, form.data, form.len, out);
	buf_fini(&form);
}

void subject_erasure_fini(struct subject_erasure *e)
{
	free(e->kept);
	memset(e, 0, sizeof *e);
}

enum rc subject_anonymize(const struct core_ctx *c, const char *subject_id, size_t *n, struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	struct store_record *recs = NULL;
	struct store_hold *holds = NULL;
	size_t nrecs = 0, nholds = 0;
	*n = 0;
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = hold_active(c, subject_id, NULL, &holds, &nholds);
	if (!rc)
		rc = store_records_for_subject(c->store, c->tenant->id, subject_id, &recs, &nrecs);
	/* Each anonymised record in the erasure ledger, in one append: a
	 * restored copy must not bring the record back linked to the person. */
	struct ledger_entry *notes = nrecs ? xcalloc(nrecs, sizeof *notes) : NULL;
	for (size_t i = 0; !rc && i < nrecs; i++) {
		const struct policy_record *kind = policy_record(p, recs[i].kind);
		if (!kind || kind->then != THEN_ANONYMIZE || !kind->erasable ||
		    hold_covering(holds, nholds, subject_id, recs[i].id))
			continue;
		rc = record_anonymize(c, kind, subject_id, recs[i].id);
		if (!rc) {
			struct audit_event ae = {"record.anonymize", subject_id, recs[i].id, "ok", kind->name};
			rc = audit_append(c, &ae);
		}
		if (!rc) {
			struct ledger_entry *e = &notes[(*n)++];
			e->kind = LEDGER_RECORD_ANONYMIZE;
			snprintf(e->subject, sizeof e->subject, "%s", subject_id);
			snprintf(e->record, sizeof e->record, "%s", recs[i].id);
		}
	}
	if (!rc && *n)
		rc = ledger_append(c, notes, *n);
	free(notes);
	store_records_free(recs, nrecs);
	store_holds_free(holds, nholds);
	if (rc && eb && !eb->msg[0])
		err_set(eb, rc, "the records could not be anonymised");
	rc = core_end(c, rc);
	if (*n)
		ledger_settle(c, rc);
	return rc;
}

enum rc subject_erase(const struct core_ctx *c, const char *subject_id, struct subject_erasure *out,
                      struct errbuf *eb)
{
	return subject_erase_for(c, subject_id, NULL, out, eb);
}

enum rc subject_erase_for(const struct core_ctx *c, const char *subject_id, const char *request_id,
                          struct subject_erasure *out, struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	struct subject_key old, fresh;
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	struct store_record *recs = NULL;
	size_t n = 0;
	memset(out, 0, sizeof *out);
	enum rc rc = datakey_unwrap(c, subject_id, &old, eb);
	if (rc)
		return rc == RC_GONE ? err_set(eb, rc, "the subject has been erased already") : rc;
	size_t wrapped_len = vault_subject_key_new(&c->tenant->vault, subject_id, &fresh, wrapped);
	struct store_hold *holds = NULL;
	size_t nholds = 0;
	rc = store_begin(c->store);
	if (rc) {
		/* Nothing began: nothing to end (core_end would roll back the
		 * caller's transaction instead). */
		vault_subject_key_wipe(&old);
		vault_subject_key_wipe(&fresh);
		return rc;
	}
	rc = hold_active(c, subject_id, NULL, &holds, &nholds);
	if (!rc)
		rc = store_records_for_subject(c->store, c->tenant->id, subject_id, &recs, &n);
	out->kept = xcalloc(n ? n : 1, sizeof *out->kept);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct policy_record *kind = policy_record(p, recs[i].kind);
		/* a legal hold outranks the erasure */
		const struct store_hold *held = hold_covering(holds, nholds, subject_id, recs[i].id);
		bool keep = held || (kind && !kind->erasable);
		struct record_view v;
		/* Decrypt: for the suppression hashes, and to re-seal what is kept. */
		char *kind_name = xstrdup(recs[i].kind);
		int64_t due_at = recs[i].due_at, trim_at = recs[i].trim_at;
		rc = record_view_take(c, &old, &recs[i], &v);
		for (size_t k = 0; !rc && k < v.nfields; k++) {
			const struct policy_field *f = v.fields[k].field;
			if (f && (f->type == FT_EMAIL || f->type == FT_PHONE)) {
				unsigned char h[VAULT_HASH_LEN];
				subject_suppression_hash(c, f, v.fields[k].value, v.fields[k].len, h);
				rc = store_suppression_insert(c->store, c->tenant->id, h, core_now(c));
			}
		}
		if (!rc && keep) {
			/* Sealed again under the new key, and with no lookup hash. */
			struct store_record upd = {0};
			memcpy(upd.id, v.id, TOKEN_ID_MAX);
			memcpy(upd.subject_id, subject_id, strnlen(subject_id, TOKEN_ID_MAX - 1) + 1);
			upd.state = (char *)record_state_name(RECORD_RESTRICTED);
			upd.updated_at = core_now(c);
			upd.due_at = due_at; /* kept until its own rule lets it go */
			upd.trim_at = trim_at;
			rc = record_reseal(&v, &fresh, &upd.data, &upd.data_len);
			if (!rc)
				rc = store_record_update(c->store, c->tenant->id, &upd);
			free(upd.data);
			if (!rc) {
				snprintf(out->kept[out->nkept].kind, sizeof out->kept[0].kind, "%s", kind_name);
				out->kept[out->nkept].held = held != NULL;
				out->kept[out->nkept].until = due_at;
				if (held)
					snprintf(out->kept[out->nkept].rule, sizeof out->kept[0].rule, "a legal hold: %.100s",
					         held->reason);
				else
					policy_keep_format(&kind->keep, out->kept[out->nkept].rule, sizeof out->kept[0].rule);
				out->nkept++;
			}
		} else if (!rc) {
			rc = store_record_delete(c->store, c->tenant->id, v.id);
			if (!rc)
				out->deleted++;
		}
		record_view_fini(&v);
		free(kind_name);
	}
	if (!rc)
		rc = store_consents_delete(c->store, c->tenant->id, subject_id);
	/* Answers kept for retries may show its values (with nothing kept, the
	 * subject's deletion below takes them). */
	if (!rc && out->nkept)
		rc = store_idempotency_forget_subject(c->store, c->tenant->id, subject_id);
	if (!rc && out->nkept) {
		/* The old key is overwritten (secure_delete): what was erased cannot
		 * be opened again; what is kept opens only with the new key. */
		rc = store_subject_rekey(c->store, c->tenant->id, subject_id, wrapped, wrapped_len);
		if (!rc)
			rc = store_subject_restrict(c->store, c->tenant->id, subject_id, true);
		/* The holds that keep the records must still say why. */
		if (!rc)
			rc = hold_reseal(c, holds, nholds, subject_id, &fresh);
	} else if (!rc) {
		rc = store_subject_delete(c->store, c->tenant->id, subject_id);
	}
	if (!rc) {
		char detail[96];
		snprintf(detail, sizeof detail, "deleted=%zu kept=%zu", out->deleted, out->nkept);
		struct audit_event ae = {"subject.erase", subject_id, NULL, "ok", detail};
		rc = audit_append(c, &ae);
	}
	if (!rc)
		rc = ledger_note(c, LEDGER_SUBJECT_ERASE, subject_id, NULL, request_id);
	store_records_free(recs, n);
	store_holds_free(holds, nholds);
	vault_subject_key_wipe(&old);
	vault_subject_key_wipe(&fresh);
	rc = core_end(c, rc);
	ledger_settle(c, rc);
	if (rc)
		subject_erasure_fini(out);
	return rc;
}

enum rc subject_set_restricted(const struct core_ctx *c, const char *subject_id, bool restricted,
                               struct errbuf *eb)
{
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_subject_restrict(c->store, c->tenant->id, subject_id, restricted);
	struct audit_event ae = {restricted ? "subject.restrict" : "subject.unrestrict", subject_id, NULL, "ok", NULL};
	if (!rc)
		rc = audit_append(c, &ae);
	rc = core_end(c, rc);
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such subject") : rc;
}
