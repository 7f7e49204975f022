/*
 * record: validation, sealing and rectification of records (see record.h).
 *
 * Plaintext layout inside the ciphertext, version 2 (written now):
 *   0x02, then per field: u8 name length, name, value length as a varint (7
 *   bits a byte, low first, at most 4 bytes), value.
 * Version 1 (read, never written): 0x01, then per field: u8 name length,
 * name, u32 LE value length, value.
 * Names rather than positions are stored so a record stays readable when a
 * later policy version reorders or adds fields.
 *
 * The plaintext is sealed with vault_seal_compact (an 8-byte nonce tail,
 * the rest of the nonce from the record id); records written before are
 * sealed with vault_seal (a 24-byte random nonce). vault_open_either opens
 * both, and a record is written again in the current forms whenever it is
 * sealed again (rectification, trim, merge, erasure with a fresh key).
 */
#include "core/record.h"
#include "core/keep.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/datakey.h"
#include "store/store.h"

#define PLAIN_VERSION 2
#define PLAIN_VERSION_U32 1
#define PLAIN_MAX (2 * 1024 * 1024)
/* A value's length as a varint: 4 bytes hold 28 bits, more than PLAIN_MAX. */
#define VARINT_MAX 4

/* One validated field, canonical value in `val`. */
struct norm_field {
	const struct policy_field *field;
	struct buf val;
};

struct norm_record {
	const struct policy_record *kind;
	struct norm_field *v;
	size_t n, cap;
};

static void norm_init(struct norm_record *r, const struct policy_record *kind, size_t cap)
{
	r->kind = kind;
	r->cap = cap;
	r->n = 0;
	r->v = xcalloc(cap ? cap : 1, sizeof *r->v);
}

static void norm_fini(struct norm_record *r)
{
	for (size_t i = 0; i < r->n; i++)
		buf_fini(&r->v[i].val);
	free(r->v);
	r->v = NULL;
	r->n = 0;
}

static struct norm_field *norm_find(struct norm_record *r, const struct policy_field *f)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].field == f)
			return &r->v[i];
	return NULL;
}

/* Validates one field value and sets it in r (replacing an earlier value). */
static enum rc norm_set(struct norm_record *r, const struct policy *p, const struct field_input *in,
                        bool allow_null, struct errbuf *eb)
{
	const struct policy_field *f = policy_field(p, in->name);
	if (!f)
		return err_set(eb, RC_UNPROCESSABLE, "unknown field '%.64s': the policy does not declare it", in->name);
	if (!policy_record_has_field(r->kind, f))
		return err_set(eb, RC_UNPROCESSABLE, "field '%s' is not kept in '%s' records", f->name, r->kind->name);
	struct norm_field *slot = norm_find(r, f);
	if (in->value.kind == VAL_NULL) {
		if (!allow_null)
			return err_set(eb, RC_UNPROCESSABLE, "field %s: null is not a value", f->name);
		if (slot) {
			buf_fini(&slot->val);
			*slot = r->v[--r->n];
		}
		return RC_OK;
	}
	struct buf val;
	buf_init(&val, FIELD_VALUE_MAX);
	enum rc rc = field_normalize(f, &in->value, &val, eb);
	if (rc) {
		buf_fini(&val);
		return rc;
	}
	if (slot) {
		buf_fini(&slot->val);
	} else {
		if (r->n == r->cap) {
			buf_fini(&val);
			return err_set(eb, RC_TOO_LARGE, "more than %d fields", RECORD_MAX_FIELDS);
		}
		slot = &r->v[r->n++];
		slot->field = f;
	}
	slot->val = val;
	return RC_OK;
}

/* Rules that concern the record as a whole. */
static enum rc norm_check(const struct core_ctx *c, struct norm_record *r, struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	for (size_t i = 0; i < r->kind->nrequired; i++)
		if (!norm_find(r, r->kind->required[i]))
			return err_set(eb, RC_UNPROCESSABLE, "field '%s' is required in '%s' records",
			               r->kind->required[i]->name, r->kind->name);
	const struct policy_field *bf = policy_field(p, "birth_date");
	struct norm_field *birth = bf ? norm_find(r, bf) : NULL;
	if (birth && bf->type == FT_DATE) {
		int64_t b;
		if (timeutil_parse_date(birth->val.data, &b))
			return err_set(eb, RC_UNPROCESSABLE, "field birth_date: not a date");
		if (b > core_now(c))
			return err_set(eb, RC_UNPROCESSABLE, "field birth_date: in the future");
		if (p->min_age && field_age_years(b, core_now(c)) < p->min_age)
			return err_set(eb, RC_UNPROCESSABLE,
			               "the subject is younger than %d, the policy's min_age", p->min_age);
	}
	return RC_OK;
}

static uint32_t get_u32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A value's length at p (end bounds it) in the layout of `version`: *len
 * gets it, and the return is the bytes it took; 0 if it does not fit. */
static size_t get_len(int version, const unsigned char *p, const unsigned char *end, size_t *len)
{
	if (version == PLAIN_VERSION_U32) {
		if (end - p < 4)
			return 0;
		*len = get_u32(p);
		return 4;
	}
	size_t v = 0;
	for (size_t i = 0; i < VARINT_MAX && p + i < end; i++) {
		v |= (size_t)(p[i] & 0x7f) << (7 * i);
		if (!(p[i] & 0x80)) {
			*len = v;
			return i + 1;
		}
	}
	return 0;
}

/* One field of the plaintext layout (see the top of this file). The plaintext
 * is capped at PLAIN_MAX, so a length never needs more than VARINT_MAX bytes. */
static enum rc put_field(struct buf *plain, const char *name, const char *value, size_t len)
{
	unsigned char nl = (unsigned char)strlen(name), vl[VARINT_MAX + 1];
	if (len >= PLAIN_MAX)
		return RC_TOO_LARGE;
	size_t n = 0;
	for (size_t v = len; n == 0 || v; v >>= 7)
		vl[n++] = (unsigned char)((v & 0x7f) | (v >> 7 ? 0x80 : 0));
	enum rc rc = buf_append(plain, &nl, 1);
	if (!rc)
		rc = buf_append(plain, name, nl);
	if (!rc)
		rc = buf_append(plain, vl, n);
	return rc ? rc : buf_append(plain, value, len);
}

static const char *const state_names[] = {
#define X(id, name) [RECORD_##id] = name,
	RECORD_STATES(X)
#undef X
};

const char *record_state_name(enum record_state st)
{
	return st < RECORD_STATE__COUNT ? state_names[st] : "unknown";
}

enum rc record_reseal(const struct record_view *v, const struct subject_key *key, unsigned char **data,
                      size_t *len)
{
	struct buf plain;
	buf_init(&plain, PLAIN_MAX);
	unsigned char version = PLAIN_VERSION;
	enum rc rc = buf_append(&plain, &version, 1);
	for (size_t i = 0; !rc && i < v->nfields; i++)
		rc = put_field(&plain, v->fields[i].name, v->fields[i].value, v->fields[i].len);
	if (!rc) {
		*len = plain.len + VAULT_SEAL_COMPACT_OVERHEAD;
		*data = xmalloc(*len);
		vault_seal_compact(key, v->id, plain.data, plain.len, *data);
	}
	buf_fini(&plain);
	return rc;
}

enum rc record_unique_held(struct errbuf *eb, const char *field, const char *holder)
{
	return err_set(eb, RC_EXISTS, "a subject with this %s exists already: %s (%s is unique)", field, holder, field);
}

enum rc record_unique_check(const struct core_ctx *c, const struct field_input *fields, size_t n, const char *self,
                            char existing[TOKEN_ID_MAX], struct errbuf *eb)
{
	struct buf canon, form;
	enum rc rc = RC_OK;
	existing[0] = '\0';
	buf_init(&canon, FIELD_VALUE_MAX);
	buf_init(&form, FIELD_VALUE_MAX);
	for (size_t i = 0; !rc && i < n; i++) {
		const struct policy_field *f = policy_field(c->tenant->policy, fields[i].name);
		struct errbuf ignored;
		unsigned char hash[VAULT_HASH_LEN];
		char ids[2][TOKEN_ID_MAX];
		size_t m = 0;
		buf_reset(&canon);
		/* A value that does not normalise is refused by the record's own checks. */
		if (!f || !f->unique || fields[i].value.kind == VAL_NULL ||
		    field_normalize(f, &fields[i].value, &canon, &ignored) ||
		    field_lookup_form(f, canon.data, canon.len, &form))
			continue;
		vault_lookup_hash(&c->tenant->vault, f->name, form.data, form.len, hash);
		rc = store_lookup_find(c->store, c->tenant->id, hash, ids, 2, &m);
		for (size_t j = 0; !rc && j < m; j++) {
			if (self && !strcmp(ids[j], self))
				continue;
			memcpy(existing, ids[j], TOKEN_ID_MAX);
			rc = record_unique_held(eb, f->name, ids[j]);
		}
	}
	buf_fini(&canon);
	buf_fini(&form);
	return rc;
}

/* Serialises, seals and hashes r into row (data, lookups). */
static enum rc norm_seal(const struct core_ctx *c, const struct subject_key *key,
                         struct norm_record *r, struct store_record *row)
{
	struct buf plain, form;
	buf_init(&plain, PLAIN_MAX);
	buf_init(&form, FIELD_VALUE_MAX);
	unsigned char version = PLAIN_VERSION;
	enum rc rc = buf_append(&plain, &version, 1);
	size_t nlook = 0;
	row->lookups = xmalloc((r->n ? r->n : 1) * VAULT_HASH_LEN);
	for (size_t i = 0; !rc && i < r->n; i++) {
		const struct policy_field *f = r->v[i].field;
		rc = put_field(&plain, f->name, r->v[i].val.data, r->v[i].val.len);
		if (!rc && f->lookup) {
			rc = field_lookup_form(f, r->v[i].val.data, r->v[i].val.len, &form);
			if (!rc)
				vault_lookup_hash(&c->tenant->vault, f->name, form.data, form.len,
				                  row->lookups + nlook++ * VAULT_HASH_LEN);
		}
	}
	row->nlookups = nlook;
	if (!rc) {
		row->data_len = plain.len + VAULT_SEAL_COMPACT_OVERHEAD;
		row->data = xmalloc(row->data_len);
		vault_seal_compact(key, row->id, plain.data, plain.len, row->data);
	}
	buf_fini(&plain);
	buf_fini(&form);
	return rc;
}

static bool event_name_ok(const char *s)
{
	size_t n = strlen(s);
	if (n < 1 || n > RECORD_EVENT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return strcmp(s, "created") != 0;
}

/* An instant given by the caller: ISO 8601, not in the future. */
static enum rc parse_past(const struct core_ctx *c, const char *what, const char *s, int64_t *out,
                          struct errbuf *eb)
{
	if (strlen(s) > 40 || timeutil_parse_instant(s, out))
		return err_set(eb, RC_UNPROCESSABLE, "%s: not an ISO 8601 date or datetime", what);
	if (*out > core_now(c) + 300)
		return err_set(eb, RC_UNPROCESSABLE, "%s: in the future", what);
	return RC_OK;
}

/* A name the kind does not declare is refused rather than kept: a record
 * given {"fulfiled": ...} would otherwise wait for its "fulfilled" forever. */
static enum rc unknown_event(const struct policy_record *kind, const char *name, struct errbuf *eb)
{
	const char *names[POLICY_EVENTS_MAX + 1];
	size_t n = policy_record_events(kind, names, POLICY_EVENTS_MAX + 1);
	char list[POLICY_EVENTS_MAX * 8] = "";
	size_t len = 0;
	for (size_t i = 0; i < n && i <= POLICY_EVENTS_MAX && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", names[i]);
	return err_set(eb, RC_UNPROCESSABLE, "unknown event '%s' for kind %s: allowed: %s", name, kind->name,
	               n ? list : "none (the keep rule counts from created_at)");
}

/* Events given to a record of `kind` created at `created`: declared for the
 * kind, each once, not in the future, and not before `created` unless it is
 * INT64_MIN. That is the case for a record created without an explicit
 * created_at: importers have long sent history as events alone, and "now" is
 * no time to measure them by. */
static enum rc parse_events(const struct core_ctx *c, const struct policy_record *kind, int64_t created,
                            const struct event_input *in, size_t n, struct store_event *out, struct errbuf *eb)
{
	if (n > RECORD_MAX_EVENTS)
		return err_set(eb, RC_TOO_LARGE, "more than %d events", RECORD_MAX_EVENTS);
	for (size_t i = 0; i < n; i++) {
		if (!event_name_ok(in[i].name))
			return err_set(eb, RC_UNPROCESSABLE,
			               "event name '%.64s' is not valid (a-z, 0-9, _; 'created' is created_at)", in[i].name);
		if (!policy_record_allows_event(kind, in[i].name))
			return unknown_event(kind, in[i].name, eb);
		for (size_t j = 0; j < i; j++)
			if (!strcmp(in[i].name, in[j].name))
				return err_set(eb, RC_UNPROCESSABLE, "event '%s' is given twice", in[i].name);
		enum rc rc = parse_past(c, in[i].name, in[i].at, &out[i].at, eb);
		if (rc)
			return rc;
		if (out[i].at < created)
			return err_set(eb, RC_UNPROCESSABLE,
			               "%s: before the record's created_at",
			               in[i].name);
		out[i].name = (char *)in[i].name;
	}
	return RC_OK;
}

/* When the record's IP addresses are to be cut: only a record that holds
 * one has anything to cut, so one without an IP value gets no time (no
 * records_trim index row, no sweep visit). */
static int64_t trim_time(const struct norm_record *r, int64_t created)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].field && r->v[i].field->type == FT_IP)
			return keep_trim_at(r->kind, created);
	return 0;
}

enum rc record_prepare(const struct core_ctx *c, const char *subject_id,
                       const struct subject_key *key, const struct record_input *rec,
                       struct record_prepared *out, struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	struct norm_record nr, *r = &nr;
	struct store_record *row = &out->row;
	enum rc rc = RC_OK;
	memset(out, 0, sizeof *out);
	norm_init(r, rec->kind ? policy_record(p, rec->kind) : NULL, rec->nfields);
	if (!r->kind) {
		rc = err_set(eb, RC_UNPROCESSABLE, "unknown record kind '%.64s'", rec->kind ? rec->kind : "");
		goto out;
	}
	if (rec->nfields > RECORD_MAX_FIELDS) {
		rc = err_set(eb, RC_TOO_LARGE, "more than %d fields", RECORD_MAX_FIELDS);
		goto out;
	}
	for (size_t i = 0; i < rec->nfields && !rc; i++) {
		for (size_t j = 0; j < i && !rc; j++)
			if (!strcmp(rec->fields[i].name, rec->fields[j].name))
				rc = err_set(eb, RC_UNPROCESSABLE, "field '%.64s' is given twice", rec->fields[i].name);
		if (!rc && rec->fields[i].value.kind != VAL_NULL)
			rc = norm_set(r, p, &rec->fields[i], false, eb);
	}
	if (!rc)
		rc = norm_check(c, r, eb);
	int64_t created = core_now(c);
	if (!rc && rec->created_at)
		rc = parse_past(c, "created_at", rec->created_at, &created, eb);
	if (!rc)
		rc = parse_events(c, r->kind, rec->created_at ? created : INT64_MIN, rec->events, rec->nevents,
		                  out->events, eb);
	if (rc)
		goto out;
	token_id_new(TOKEN_PREFIX_RECORD, row->id);
	size_t sl = strnlen(subject_id, TOKEN_ID_MAX - 1);
	memcpy(row->subject_id, subject_id, sl);
	row->subject_id[sl] = '\0';
	row->kind = (char *)r->kind->name;  /* borrowed from the policy */
	row->state = (char *)record_state_name(RECORD_ACTIVE);
	row->created_at = created;
	row->updated_at = core_now(c);
	row->events = out->events;
	row->nevents = rec->nevents;
	row->due_at = keep_due(r->kind, created, out->events, rec->nevents, NULL, 0);
	row->trim_at = trim_time(r, created);
	rc = norm_seal(c, key, r, row);
out:
	norm_fini(r);
	if (rc)
		record_prepared_fini(out);
	return rc;
}

void record_prepared_fini(struct record_prepared *p)
{
	free(p->row.data);
	free(p->row.lookups);
	p->row.data = p->row.lookups = NULL;
}

/* ---- purposes: what may be stored for whom ---- */

/* Whether every record kind that holds f serves only purposes based on
 * consent: then f is stored for nothing else. */
static bool consent_only(const struct policy *p, const struct policy_field *f)
{
	bool any = false;
	for (size_t i = 0; i < p->nrecords; i++) {
		const struct policy_record *k = &p->records[i];
		if (!policy_record_has_field(k, f))
			continue;
		for (size_t j = 0; j < k->npurposes; j++) {
			if (k->purposes[j]->basis != BASIS_CONSENT)
				return false;
			any = true;
		}
	}
	return any;
}

/* The purposes of the kinds that hold f, comma-separated, each once. */
static void field_purposes(const struct policy *p, const struct policy_field *f, char *out, size_t size)
{
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < p->npurposes; i++) {
		bool serves = false;
		for (size_t k = 0; k < p->nrecords && !serves; k++)
			for (size_t j = 0; j < p->records[k].npurposes && !serves; j++)
				serves = p->records[k].purposes[j] == &p->purposes[i] &&
				         policy_record_has_field(&p->records[k], f);
		if (serves && len < size)
			len += (size_t)snprintf(out + len, size - len, "%s%s", len ? ", " : "", p->purposes[i].name);
	}
}

/* The subject's state for u; a subject not yet written (NULL) has none. */
static enum rc state_of(const struct core_ctx *c, const char *subject_id, const struct policy_purpose *u,
                        enum consent_state *st)
{
	*st = CONSENT_STATE_NONE;
	return subject_id ? datakey_purpose_state(c, subject_id, u, st) : RC_OK;
}

/* Whether rec comes with a consent to u, recorded in the same transaction
 * (rec->granted: an import's row grants it; NULL rec: none). */
static bool granted_with(const struct record_input *rec, const struct policy_purpose *u)
{
	for (size_t i = 0; rec && i < rec->ngranted; i++)
		if (rec->granted[i] == u)
			return true;
	return false;
}

/*
 * Before a value is stored for subject_id (NULL: a subject being created,
 * who has consented to nothing yet):
 * - a field kept only for purposes based on consent needs the subject's
 *   consent in force for one of them (Art. 6(1)(a)): storing is processing,
 *   not only disclosing;
 * - a new record of a kind whose purposes the subject all objected to is
 *   refused (Art. 21(1): processing stops). `fresh`: a new record.
 * names: the fields given a value.
 */
static enum rc may_store(const struct core_ctx *c, const char *subject_id, const struct policy_record *kind,
                         bool fresh, const char *const *names, size_t n, const struct record_input *rec,
                         struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	enum consent_state st;
	enum rc rc = RC_OK;
	if (!kind)
		return RC_OK; /* refused later, by name */
	if (fresh && !kind->linked)
		return err_set(eb, RC_UNPROCESSABLE, "records of kind %s are linked to nobody (linked: false): create them "
		               "with POST /v1/records, without a subject", kind->name);
	/* Only a kind whose every purpose can be objected to can be stopped by
	 * objections: most kinds serve a contract or a law, and cost no read. */
	bool stoppable = kind->npurposes > 0;
	for (size_t i = 0; i < kind->npurposes && stoppable; i++) {
		const struct policy_purpose *u = kind->purposes[i];
		stoppable = u->objectable || u->basis == BASIS_LEGITIMATE_INTEREST || u->basis == BASIS_PUBLIC_TASK;
	}
	if (fresh && subject_id && stoppable) {
		size_t objected = 0;
		for (size_t i = 0; !rc && i < kind->npurposes; i++) {
			rc = state_of(c, subject_id, kind->purposes[i], &st);
			objected += !rc && st == CONSENT_STATE_OBJECTED;
		}
		if (rc)
			return rc;
		if (objected == kind->npurposes) {
			char list[512];
			size_t len = 0;
			list[0] = '\0';
			for (size_t i = 0; i < kind->npurposes && len < sizeof list; i++)
				len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "",
				                        kind->purposes[i]->name);
			return err_set(eb, RC_CONFLICT, "the subject objected to every purpose of '%s' records (%s): "
			               "nothing new is stored for them", kind->name, list);
		}
	}
	for (size_t i = 0; i < n; i++) {
		const struct policy_field *f = policy_field(p, names[i]);
		if (!f || !policy_record_has_field(kind, f) || !consent_only(p, f))
			continue;
		bool allowed = false;
		for (size_t j = 0; !rc && !allowed && j < kind->npurposes; j++) {
			rc = state_of(c, subject_id, kind->purposes[j], &st);
			allowed = !rc && (consent_allows(kind->purposes[j], st) || granted_with(rec, kind->purposes[j]));
		}
		if (rc)
			return rc;
		if (!allowed) {
			char list[512];
			field_purposes(p, f, list, sizeof list);
			return err_set(eb, RC_CONFLICT, "field %s is kept only on consent (purpose %s): the subject has "
			               "not consented, so it is not stored", f->name, list);
		}
	}
	return RC_OK;
}

/* The names of the fields rec gives a value (borrowed from rec). */
static size_t given_names(const struct field_input *fields, size_t n, const char **out, size_t max)
{
	size_t k = 0;
	for (size_t i = 0; i < n && k < max; i++)
		if (fields[i].value.kind != VAL_NULL)
			out[k++] = fields[i].name;
	return k;
}

enum rc record_may_store(const struct core_ctx *c, const char *subject_id, const struct record_input *rec,
                         struct errbuf *eb)
{
	const char *names[RECORD_MAX_FIELDS];
	const struct policy_record *kind = rec->kind ? policy_record(c->tenant->policy, rec->kind) : NULL;
	size_t n = given_names(rec->fields, rec->nfields, names, RECORD_MAX_FIELDS);
	return may_store(c, subject_id, kind, true, names, n, rec, eb);
}

enum rc record_add(const struct core_ctx *c, const char *subject_id, const struct record_input *rec,
                   char id[TOKEN_ID_MAX], struct errbuf *eb)
{
	struct subject_key key;
	struct record_prepared prep;
	struct store_subject s;
	bool have_key = false, prepared = false;
	/* The key is read inside the transaction: an erasure that re-keys or
	 * deletes the subject cannot slip in between. */
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_subject_get(c->store, c->tenant->id, subject_id, &s);
	if (rc == RC_NOT_FOUND)
		rc = err_set(eb, rc, "no such subject");
	else if (!rc && s.restricted)
		rc = err_set(eb, RC_CONFLICT, "the subject's data is restricted (Art. 18): nothing new is added");
	store_subject_fini(&s);
	if (!rc)
		rc = record_may_store(c, subject_id, rec, eb);
	char existing[TOKEN_ID_MAX];
	if (!rc)
		rc = record_unique_check(c, rec->fields, rec->nfields, subject_id, existing, eb);
	if (!rc)
		rc = datakey_unwrap(c, subject_id, &key, eb);
	have_key = !rc;
	if (!rc)
		rc = record_prepare(c, subject_id, &key, rec, &prep, eb);
	prepared = !rc;
	if (!rc) {
		struct audit_event ev = {"record.create", subject_id, prep.row.id, "ok", rec->kind};
		rc = store_record_insert(c->store, c->tenant->id, &prep.row);
		if (!rc)
			rc = audit_append(c, &ev);
	}
	if (have_key)
		vault_subject_key_wipe(&key);
	rc = core_end(c, rc);
	if (!rc)
		memcpy(id, prep.row.id, TOKEN_ID_MAX);
	if (prepared)
		record_prepared_fini(&prep);
	return rc;
}

/* Splits decrypted plaintext into fields; the strings are copied into
 * v->plain as NUL-terminated C strings so callers can use them directly. */
static enum rc split_fields(const struct core_ctx *c, const struct buf *plain, struct record_view *v)
{
	const unsigned char *p = (const unsigned char *)plain->data, *end = p + plain->len;
	int version = p == end ? 0 : *p++;
	if (version != PLAIN_VERSION && version != PLAIN_VERSION_U32)
		return RC_CRYPTO;
	size_t n = 0, total = 0;
	for (const unsigned char *q = p; q < end; n++) {
		size_t nl = *q++, vl = 0, ll = 0;
		if ((size_t)(end - q) < nl || !(ll = get_len(version, q + nl, end, &vl)) ||
		    (size_t)(end - q - nl - ll) < vl)
			return RC_CRYPTO;
		total += nl + 1 + vl + 1;
		q += nl + ll + vl;
	}
	char *at;
	enum rc rc = buf_extend(&v->plain, total, &at);
	if (rc)
		return rc;
	v->fields = xcalloc(n ? n : 1, sizeof *v->fields);
	for (; p < end; v->nfields++) {
		struct field_output *fo = &v->fields[v->nfields];
		size_t nl = *p++;
		memcpy(at, p, nl);
		at[nl] = '\0';
		fo->name = at;
		at += nl + 1;
		p += nl + get_len(version, p + nl, end, &fo->len);
		memcpy(at, p, fo->len);
		at[fo->len] = '\0';
		fo->value = at;
		at += fo->len + 1;
		p += fo->len;
		fo->field = policy_field(c->tenant->policy, fo->name);
	}
	return RC_OK;
}

enum rc record_view_take(const struct core_ctx *c, const struct subject_key *key,
                         struct store_record *row, struct record_view *v)
{
	memset(v, 0, sizeof *v);
	buf_init(&v->plain, PLAIN_MAX * 2);
	memcpy(v->id, row->id, TOKEN_ID_MAX);
	memcpy(v->subject_id, row->subject_id, TOKEN_ID_MAX);
	v->created_at = row->created_at;
	v->updated_at = row->updated_at;
	v->kind = row->kind;
	v->state = row->state;
	row->kind = row->state = NULL;
	v->events = xcalloc(row->nevents ? row->nevents : 1, sizeof *v->events);
	for (size_t i = 0; i < row->nevents; i++) {
		v->events[i].name = row->events[i].name;
		v->events[i].at = row->events[i].at;
		row->events[i].name = NULL;
	}
	v->nevents = row->nevents;
	struct buf plain;
	buf_init(&plain, PLAIN_MAX);
	enum rc rc = vault_open_either(key, row->id, row->data, row->data_len, &plain);
	if (!rc)
		rc = split_fields(c, &plain, v);
	if (rc)
		log_error("record does not decrypt tenant=%lld record=%s", (long long)c->tenant->id, row->id);
	buf_fini(&plain);
	return rc;
}

void record_view_fini(struct record_view *v)
{
	if (!v)
		return;
	free(v->kind);
	free(v->state);
	free(v->fields);
	for (size_t i = 0; i < v->nevents; i++)
		free(v->events[i].name);
	free(v->events);
	buf_fini(&v->plain);
	memset(v, 0, sizeof *v);
}

void record_view_free(struct record_view *v)
{
	record_view_fini(v);
	free(v);
}

enum rc record_owner(const struct core_ctx *c, const char *record_id, char subject_id[TOKEN_ID_MAX],
                     struct errbuf *eb)
{
	struct store_record row;
	enum rc rc = store_record_get(c->store, c->tenant->id, record_id, &row);
	if (rc)
		return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such record") : rc;
	memcpy(subject_id, row.subject_id, TOKEN_ID_MAX);
	store_record_fini(&row);
	return RC_OK;
}

enum rc record_read(const struct core_ctx *c, const char *record_id, struct record_view **out,
                    struct errbuf *eb)
{
	struct store_record row;
	struct subject_key key;
	*out = NULL;
	enum rc rc = store_record_get(c->store, c->tenant->id, record_id, &row);
	if (rc)
		return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such record") : rc;
	rc = datakey_usable(c, row.subject_id, eb);
	if (!rc)
		rc = datakey_purpose_usable(c, row.subject_id, eb);
	if (!rc)
		rc = datakey_unwrap(c, row.subject_id, &key, eb);
	else
		memset(&key, 0, sizeof key);
	struct record_view *v = xcalloc(1, sizeof *v);
	if (!rc)
		rc = record_view_take(c, &key, &row, v);
	vault_subject_key_wipe(&key);
	store_record_fini(&row);
	if (rc) {
		record_view_free(v);
		return rc;
	}
	*out = v;
	return RC_OK;
}

enum rc record_rectify(const struct core_ctx *c, const char *record_id,
                       const struct field_input *changes, size_t nchanges,
                       const struct event_input *events, size_t nevents, struct errbuf *eb)
{
	struct store_record row;
	struct subject_key key;
	struct record_view view = {0};
	struct store_event ev[RECORD_MAX_EVENTS];
	bool corrected[RECORD_MAX_EVENTS] = {0};
	struct norm_record nr = {0}, *r = &nr;
	bool have_key = false;
	if (nchanges > RECORD_MAX_FIELDS)
		return err_set(eb, RC_TOO_LARGE, "more than %d fields", RECORD_MAX_FIELDS);
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_record_get(c->store, c->tenant->id, record_id, &row);
	if (rc) {
		if (rc == RC_NOT_FOUND)
			err_set(eb, rc, "no such record");
		store_rollback(c->store);
		return rc;
	}
	/* A refused change changes nothing: a restricted subject's records are
	 * only stored, so the check comes before any write. */
	rc = datakey_usable(c, row.subject_id, eb);
	if (rc) {
		store_record_fini(&row);
		store_rollback(c->store);
		return rc;
	}
	norm_init(r, policy_record(c->tenant->policy, row.kind), RECORD_MAX_FIELDS);
	if (!r->kind) {
		rc = err_set(eb, RC_CONFLICT, "the policy no longer has record kind '%s'", row.kind);
		goto out;
	}
	rc = parse_events(c, r->kind, row.created_at, events, nevents, ev, eb);
	if (!rc) {
		const char *names[RECORD_MAX_FIELDS];
		size_t n = given_names(changes, nchanges, names, RECORD_MAX_FIELDS);
		rc = may_store(c, row.subject_id, r->kind, false, names, n, NULL, eb);
	}
	if (rc)
		goto out;
	/* An event set again is a correction: the audit entry says so, by
	 * name, never by its time (the view below takes row's events). */
	for (size_t i = 0; i < nevents; i++)
		for (size_t j = 0; j < row.nevents; j++)
			corrected[i] |= !strcmp(events[i].name, row.events[j].name);
	/* An event (closed, fulfilled...) may start the record's retention clock. */
	row.due_at = keep_due(r->kind, row.created_at, row.events, row.nevents, ev, nevents);
	if (nchanges) {
		char existing[TOKEN_ID_MAX];
		rc = record_unique_check(c, changes, nchanges, row.subject_id, existing, eb);
		if (!rc)
			rc = datakey_unwrap(c, row.subject_id, &key, eb);
		if (rc)
			goto out;
		have_key = true;
		rc = record_view_take(c, &key, &row, &view);
		/* Start from what is stored, re-validated under the policy in force. */
		for (size_t i = 0; !rc && i < view.nfields; i++) {
			struct field_input keep = {view.fields[i].name,
			                           {VAL_STRING, view.fields[i].value, view.fields[i].len}};
			const struct policy_field *f = view.fields[i].field;
			if (!f || !policy_record_has_field(r->kind, f))
				continue; /* dropped by a policy change: rectification drops it too */
			struct norm_field *slot = &r->v[r->n++];
			slot->field = f;
			buf_init(&slot->val, FIELD_VALUE_MAX);
			rc = buf_append(&slot->val, keep.value.text, keep.value.len);
		}
		for (size_t i = 0; !rc && i < nchanges; i++)
			rc = norm_set(r, c->tenant->policy, &changes[i], true, eb);
		if (!rc)
			rc = norm_check(c, r, eb);
		if (rc)
			goto out;
		row.trim_at = trim_time(r, row.created_at);
		free(row.data);
		free(row.lookups);
		row.data = row.lookups = NULL;
		rc = norm_seal(c, &key, r, &row);
		row.updated_at = core_now(c);
		if (!rc)
			rc = store_record_update(c->store, c->tenant->id, &row);
	}
	for (size_t i = 0; !rc && i < nevents; i++)
		rc = store_event_set(c->store, c->tenant->id, record_id, ev[i].name, ev[i].at);
	if (!rc && nevents)
		rc = store_record_set_due(c->store, c->tenant->id, record_id, row.due_at, row.trim_at);
	if (!rc) {
		/* Names only: which fields changed, which events were set. */
		struct buf detail;
		buf_init(&detail, 1024);
		enum rc drc = buf_puts(&detail, "fields=");
		for (size_t i = 0; !drc && i < nchanges; i++)
			drc = buf_printf(&detail, "%s%s", i ? "," : "", changes[i].name);
		if (!drc)
			drc = buf_puts(&detail, " events=");
		for (size_t i = 0; !drc && i < nevents; i++)
			drc = buf_printf(&detail, "%s%s", i ? "," : "", events[i].name);
		size_t ncorrected = 0;
		for (size_t i = 0; !drc && i < nevents; i++)
			if (corrected[i])
				drc = buf_printf(&detail, "%s%s", ncorrected++ ? "," : " corrected=", events[i].name);
		struct audit_event ae = {"record.rectify", row.subject_id, record_id, "ok", detail.data};
		rc = audit_append(c, &ae);
		buf_fini(&detail);
	}
out:
	if (have_key)
		vault_subject_key_wipe(&key);
	record_view_fini(&view);
	store_record_fini(&row);
	norm_fini(r);
	return core_end(c, rc);
}

/* ---- anonymisation and detached records ---- */

/* created_at of an anonymised record: the first instant of its month or
 * year (UTC). */
static int64_t coarse_time(int64_t t, enum generalize how)
{
	int y, m, d;
	if (how != GEN_MONTH && how != GEN_YEAR)
		return t;
	timeutil_civil_from_days(t >= 0 ? t / 86400 : (t - 86399) / 86400, &y, &m, &d);
	return timeutil_days_from_civil(y, how == GEN_YEAR ? 1 : m, 1) * 86400;
}

/* One kept value made coarser as its kind's `generalize:` says, into out
 * (a date or datetime keeps its form; a number is rounded to the nearest
 * multiple, half away from zero, and written without decimals). */
static enum rc coarse_value(const struct policy_generalize *g, const char *value, size_t len, char *out,
                            size_t size)
{
	if (g->how == GEN_ROUND) {
		char *end;
		errno = 0;
		long double v = strtold(value, &end);
		if (end == value || errno || *end)
			return RC_UNPROCESSABLE;
		long double q = v / g->round, lim = 9e18L / g->round;
		if (!(q > -lim && q < lim)) /* out of a 64-bit integer's range (or not a number) */
			return RC_UNPROCESSABLE;
		long long n = (long long)(q < 0 ? q - 0.5L : q + 0.5L);
		snprintf(out, size, "%lld", n * (long long)g->round);
		return RC_OK;
	}
	/* YYYY-MM-DD[THH:MM:SS...Z]: the day (and time) go. */
	if (len < 10 || size < 21)
		return RC_UNPROCESSABLE;
	char day[11];
	snprintf(day, sizeof day, "%.4s-%.2s-01", value, g->how == GEN_YEAR ? "01" : value + 5);
	if (g->field->type == FT_DATETIME)
		snprintf(out, size, "%sT00:00:00Z", day);
	else
		snprintf(out, size, "%s", day);
	return RC_OK;
}

/* An id whose time part (a ULID's first 48 bits) is t, not now: the id of an
 * anonymised record must not tell when it was made, which is when its
 * original became due: within a sweep of its exact created_at. */
static void id_at(const char *prefix, int64_t t, char out[TOKEN_ID_MAX])
{
	unsigned char raw[TOKEN_ID_BYTES];
	uint64_t ms = t > 0 ? (uint64_t)t * 1000 : 0;
	for (int i = 0; i < 6; i++)
		raw[i] = (unsigned char)(ms >> (8 * (5 - i)));
	randombytes_buf(raw + 6, sizeof raw - 6);
	token_id_encode(prefix, raw, out);
}

enum rc record_anonymize(const struct core_ctx *c, const struct policy_record *kind, const char *subject_id,
                         const char *record_id)
{
	struct subject_key key, fresh;
	struct store_record row;
	struct record_view v = {0};
	enum rc rc = datakey_unwrap(c, subject_id, &key, NULL);
	if (rc == RC_GONE || rc == RC_NOT_FOUND) /* nothing left to keep: it cannot be read */
		return store_record_delete(c->store, c->tenant->id, record_id);
	if (rc)
		return rc;
	rc = store_record_get(c->store, c->tenant->id, record_id, &row);
	int64_t created = coarse_time(row.created_at, kind->created_generalize);
	if (!rc)
		rc = record_view_take(c, &key, &row, &v);
	vault_subject_key_wipe(&key);
	if (rc) {
		store_record_fini(&row);
		return rc;
	}
	size_t kept = 0;
	char (*coarse)[48] = xcalloc(v.nfields ? v.nfields : 1, sizeof *coarse);
	for (size_t i = 0; !rc && i < v.nfields; i++) {
		bool keep = false;
		for (size_t k = 0; k < kind->nkeep_fields && !keep; k++)
			keep = v.fields[i].field == kind->keep_fields[k];
		if (!keep)
			continue;
		for (size_t g = 0; g < kind->ngeneralize; g++) {
			if (kind->generalize[g].field != v.fields[i].field)
				continue;
			/* A value the rule cannot read is not kept as it was. */
			if (coarse_value(&kind->generalize[g], v.fields[i].value, v.fields[i].len, coarse[i],
			                 sizeof coarse[i])) {
				keep = false;
				break;
			}
			v.fields[i].value = coarse[i];
			v.fields[i].len = strlen(coarse[i]);
		}
		if (keep)
			v.fields[kept++] = v.fields[i];
	}
	v.nfields = kept;
	struct store_subject subj = {.created_at = created};
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	id_at(TOKEN_PREFIX_SUBJECT, created, subj.id);
	subj.wrapped_len = vault_subject_key_new(&c->tenant->vault, subj.id, &fresh, wrapped);
	subj.wrapped_key = wrapped;
	struct store_record anon = {.kind = (char *)kind->name, .state = (char *)record_state_name(RECORD_ANONYMIZED),
	                            .created_at = created, .updated_at = created};
	id_at(TOKEN_PREFIX_RECORD, created, anon.id);
	memcpy(anon.subject_id, subj.id, sizeof subj.id);
	memcpy(v.id, anon.id, sizeof anon.id); /* the new id is the associated data */
	rc = record_reseal(&v, &fresh, &anon.data, &anon.data_len);
	vault_subject_key_wipe(&fresh);
	if (!rc)
		rc = store_subject_insert(c->store, c->tenant->id, &subj);
	if (!rc)
		rc = store_record_insert(c->store, c->tenant->id, &anon);
	if (!rc)
		rc = store_record_delete(c->store, c->tenant->id, record_id);
	free(anon.data);
	free(coarse);
	record_view_fini(&v);
	store_record_fini(&row);
	return rc;
}

enum rc record_list_unlinked(const struct core_ctx *c, const char *kind, const char *state, const char *after,
                             size_t max, struct record_view **out, size_t *n, struct errbuf *eb)
{
	struct store_record *rows = NULL;
	size_t nrows = 0;
	*out = NULL;
	*n = 0;
	if (!kind || !policy_record(c->tenant->policy, kind))
		return err_set(eb, RC_UNPROCESSABLE, "kind: one of the policy's record kinds");
	if (!state || (strcmp(state, record_state_name(RECORD_ANONYMIZED)) &&
	               strcmp(state, record_state_name(RECORD_DETACHED))))
		return err_set(eb, RC_UNPROCESSABLE, "state: anonymized or detached (the records no person is behind)");
	if (after && strlen(after) >= TOKEN_ID_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "after: not a record id");
	enum rc rc = store_begin_read(c->store);
	if (rc)
		return rc;
	rc = store_records_by_state(c->store, c->tenant->id, kind, state, after ? after : "", max, &rows, &nrows);
	struct record_view *v = xcalloc(nrows ? nrows : 1, sizeof *v);
	size_t done = 0;
	for (; !rc && done < nrows; done++) {
		struct subject_key key;
		rc = datakey_unwrap(c, rows[done].subject_id, &key, eb);
		if (!rc)
			rc = record_view_take(c, &key, &rows[done], &v[done]);
		vault_subject_key_wipe(&key);
		/* The subject of an unlinked record is a key holder, no person. */
		v[done].subject_id[0] = '\0';
		if (rc)
			done++;
	}
	store_rollback(c->store);
	store_records_free(rows, nrows);
	if (!rc) {
		struct audit_event ev = {"records.list", NULL, NULL, "ok", state};
		rc = audit_access(c, &ev);
	}
	if (rc) {
		for (size_t i = 0; i < done; i++)
			record_view_fini(&v[i]);
		free(v);
		return rc;
	}
	*out = v;
	*n = nrows;
	return RC_OK;
}

void record_views_free(struct record_view *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		record_view_fini(&v[i]);
	free(v);
}

enum rc record_add_detached(const struct core_ctx *c, const struct record_input *rec, char id[TOKEN_ID_MAX],
                            struct errbuf *eb)
{
	const struct policy_record *kind = rec->kind ? policy_record(c->tenant->policy, rec->kind) : NULL;
	if (kind && kind->linked)
		return err_set(eb, RC_UNPROCESSABLE, "records of kind %s are about a person: add them to a subject "
		               "(POST /v1/subjects/{id}/records)", kind->name);
	struct subject_key key;
	struct record_prepared prep;
	struct store_subject holder = {0};
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	/* A key holder of its own, which no lookup and no person leads to. */
	token_id_new(TOKEN_PREFIX_SUBJECT, holder.id);
	holder.wrapped_len = vault_subject_key_new(&c->tenant->vault, holder.id, &key, wrapped);
	holder.wrapped_key = wrapped;
	enum rc rc = record_prepare(c, holder.id, &key, rec, &prep, eb);
	vault_subject_key_wipe(&key);
	if (rc)
		return rc;
	free(prep.row.lookups);
	prep.row.lookups = NULL;
	prep.row.nlookups = 0;
	prep.row.state = (char *)record_state_name(RECORD_DETACHED);
	holder.created_at = prep.row.created_at;
	rc = store_begin(c->store);
	if (rc) {
		record_prepared_fini(&prep);
		return rc;
	}
	rc = store_subject_insert(c->store, c->tenant->id, &holder);
	if (!rc)
		rc = store_record_insert(c->store, c->tenant->id, &prep.row);
	if (!rc) {
		struct audit_event ev = {"record.create", NULL, prep.row.id, "ok", kind->name};
		rc = audit_append(c, &ev);
	}
	rc = core_end(c, rc);
	if (!rc)
		memcpy(id, prep.row.id, TOKEN_ID_MAX);
	record_prepared_fini(&prep);
	return rc;
}
