/* request: data-subject requests (see request.h). */
#include "core/request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/datakey.h"
#include "core/field.h"
#include "core/consent.h"
#include "core/ledger.h"
#include "core/mail.h"
#include "core/notify.h"
#include "core/subject.h"

static const char *const status_names[] = {
#define X(id, name, open) [REQUEST_##id] = name,
	REQUEST_STATUSES(X)
#undef X
};

static const bool status_open[] = {
#define X(id, name, open) [REQUEST_##id] = open,
	REQUEST_STATUSES(X)
#undef X
};

static const char *const open_names[] = {
#define X(id, name, open) name,
	REQUEST_STATUSES(X)
#undef X
};

static const char *const type_names[] = {
#define X(id, name) [REQUEST_TYPE_##id] = name,
	REQUEST_TYPES(X)
#undef X
};

const char *request_status_name(enum request_status st)
{
	return st < REQUEST_STATUS__COUNT ? status_names[st] : "unknown";
}

enum rc request_status_parse(const char *name, enum request_status *out)
{
	for (int i = 0; i < REQUEST_STATUS__COUNT; i++)
		if (!strcmp(status_names[i], name)) {
			*out = (enum request_status)i;
			return RC_OK;
		}
	return RC_INVALID;
}

bool request_is_open(enum request_status st)
{
	return st < REQUEST_STATUS__COUNT && status_open[st];
}

bool request_row_open(const struct store_request *r)
{
	enum request_status st;
	return r->status && !request_status_parse(r->status, &st) && request_is_open(st);
}

enum request_status request_row_status(const struct store_request *r)
{
	enum request_status st;
	return r->status && !request_status_parse(r->status, &st) ? st : REQUEST_STATUS__COUNT;
}

const char *const *request_open_names(size_t *n)
{
	/* The open states come first in REQUEST_STATUSES; count them. */
	size_t k = 0;
	while (k < REQUEST_STATUS__COUNT && status_open[k])
		k++;
	*n = k;
	return open_names;
}

const char *request_type_name(enum request_type t)
{
	return t < REQUEST_TYPE__COUNT ? type_names[t] : "unknown";
}

enum rc request_type_parse(const char *name, enum request_type *out)
{
	for (int i = 0; i < REQUEST_TYPE__COUNT; i++)
		if (!strcmp(type_names[i], name)) {
			*out = (enum request_type)i;
			return RC_OK;
		}
	return RC_INVALID;
}

bool request_type_valid(const char *type)
{
	enum request_type t;
	return type && !request_type_parse(type, &t);
}

enum request_type request_row_type(const struct store_request *r)
{
	enum request_type t;
	return r->type && !request_type_parse(r->type, &t) ? t : REQUEST_TYPE__COUNT;
}

bool request_type_exports(enum request_type t)
{
	return t == REQUEST_TYPE_ACCESS || t == REQUEST_TYPE_PORTABILITY;
}

/* received + a + b, in calendar units from the day of receipt. */
static enum rc deadline(int64_t received, struct duration a, const struct duration *b, int64_t *out)
{
	if (b && a.unit == b->unit)
		return timeutil_add(received, (struct duration){a.n + b->n, a.unit}, out);
	enum rc rc = timeutil_add(received, a, out);
	return rc || !b ? rc : timeutil_add(*out, *b, out);
}

static void details_ad(const char *request_id, char *ad, size_t size)
{
	snprintf(ad, size, "request:%s", request_id);
}

/* ---- the staff's words about a request, sealed (schema 9) ----
 * verified_by ("passport of ..."), the reasons for an extension or refusal
 * and the outcome (which may quote a hold's reason) are about the person:
 * they are kept as one blob sealed under the subject's key, so that erasing
 * the subject, which destroys the key, erases them too. Packed as, for each
 * of the four in order, a byte (0 absent, 1 present) and, when present, a
 * 4-byte little-endian length and the text. */

#define NOTES_N 4

static char **note(struct store_request *r, size_t i)
{
	char **v[NOTES_N] = {&r->verified_by, &r->extension_reason, &r->refusal_reason, &r->outcome};
	return v[i];
}

static void notes_ad(const char *request_id, char *ad, size_t size)
{
	snprintf(ad, size, "request-notes:%s", request_id);
}

static enum rc notes_pack(struct store_request *r, struct buf *out)
{
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < NOTES_N; i++) {
		const char *t = *note(r, i);
		unsigned char head[5] = {t != NULL, 0, 0, 0, 0};
		size_t len = t ? strlen(t) : 0;
		for (size_t k = 0; k < 4; k++)
			head[1 + k] = (unsigned char)(len >> (8 * k));
		rc = buf_append(out, head, t ? 5 : 1);
		if (!rc && t)
			rc = buf_append(out, t, len);
	}
	return rc;
}

/* Fills the four texts from a packed blob; RC_CRYPTO for one that does not
 * parse (it opened, so it was written by us: a bug, not an attack). */
static enum rc notes_unpack(struct store_request *r, const unsigned char *p, size_t n)
{
	size_t at = 0;
	for (size_t i = 0; i < NOTES_N; i++) {
		if (at >= n)
			return RC_CRYPTO;
		if (!p[at++])
			continue;
		if (n - at < 4)
			return RC_CRYPTO;
		size_t len = 0;
		for (size_t k = 0; k < 4; k++)
			len |= (size_t)p[at + k] << (8 * k);
		at += 4;
		if (len > n - at)
			return RC_CRYPTO;
		free(*note(r, i));
		*note(r, i) = xstrndup((const char *)p + at, len);
		at += len;
	}
	return at == n ? RC_OK : RC_CRYPTO;
}

/* Opens r->notes into the four texts and frees it. A subject erased (no
 * key, or a new key after an erasure that kept records) leaves them NULL:
 * what staff wrote about the person went with them. *shown (if given) says
 * whether the texts now hold the person's words: opened from the seal, or
 * in the clear from before schema 9 (not sealed yet). The outcome alone in
 * the clear is not: it is what save_row keeps of an erased subject's. */
static enum rc notes_open(const struct core_ctx *c, struct store_request *r, bool *shown)
{
	if (shown)
		*shown = !r->notes && !r->nobody && (r->verified_by || r->extension_reason || r->refusal_reason);
	if (!r->notes)
		return RC_OK;
	struct subject_key key;
	enum rc rc = datakey_unwrap(c, r->subject_id, &key, NULL);
	if (!rc) {
		struct buf plain;
		char ad[64];
		buf_init(&plain, REQUEST_DETAILS_MAX);
		notes_ad(r->id, ad, sizeof ad);
		rc = vault_open(&key, ad, r->notes, r->notes_len, &plain);
		vault_subject_key_wipe(&key);
		if (!rc)
			rc = notes_unpack(r, (const unsigned char *)plain.data, plain.len);
		if (!rc && shown)
			*shown = !r->nobody;
		buf_fini(&plain);
	}
	if (rc == RC_GONE || rc == RC_NOT_FOUND || rc == RC_CRYPTO)
		rc = RC_OK;
	free(r->notes);
	r->notes = NULL;
	r->notes_len = 0;
	return rc;
}

/* Writes r (insert or update) with its four texts sealed. When the subject
 * has no key any more (this very request may have erased them) the texts
 * about the person are dropped; the outcome, counts and names of what was
 * done, stays in the clear as the proof of it. */
static enum rc save_row(const struct core_ctx *c, struct store_request *r, bool insert)
{
	struct store_request w = *r;
	for (size_t i = 0; i < NOTES_N; i++)
		*note(&w, i) = NULL;
	w.notes = NULL;
	w.notes_len = 0;
	bool any = false;
	for (size_t i = 0; i < NOTES_N; i++)
		any = any || *note(r, i);
	enum rc rc = RC_OK;
	if (any) {
		struct subject_key key;
		rc = datakey_unwrap(c, r->subject_id, &key, NULL);
		if (rc == RC_GONE || rc == RC_NOT_FOUND) {
			w.outcome = r->outcome;
			rc = RC_OK;
		} else if (!rc) {
			struct buf plain;
			char ad[64];
			buf_init(&plain, REQUEST_DETAILS_MAX);
			rc = notes_pack(r, &plain);
			if (!rc) {
				notes_ad(r->id, ad, sizeof ad);
				w.notes_len = plain.len + VAULT_SEAL_OVERHEAD;
				w.notes = xmalloc(w.notes_len);
				vault_seal(&key, ad, plain.data, plain.len, w.notes);
			}
			buf_fini(&plain);
		}
		vault_subject_key_wipe(&key);
	}
	if (!rc)
		rc = insert ? store_request_insert(c->store, c->tenant->id, &w)
		            : store_request_update(c->store, c->tenant->id, &w);
	free(w.notes);
	return rc;
}

enum rc request_seal_one(const struct core_ctx *c, const char *id)
{
	struct store_request r;
	/* Read as stored: written before schema 9, its texts are in the clear. */
	enum rc rc = store_request_get(c->store, c->tenant->id, id, &r);
	if (!rc)
		rc = notes_open(c, &r, NULL);
	if (!rc)
		rc = save_row(c, &r, false);
	store_request_fini(&r);
	return rc;
}

static enum rc audit(const struct core_ctx *c, const char *action, const struct store_request *r, const char *detail)
{
	char d[600];
	snprintf(d, sizeof d, "request=%s type=%s%s%s", r->id, r->type, detail ? " " : "", detail ? detail : "");
	struct audit_event e = {action, r->nobody ? NULL : r->subject_id, NULL, "ok", d};
	return audit_append(c, &e);
}

/* Tells the subject, in their language, what happened to their request.
 * Sealed under the tenant's mail key: it must reach them even after an
 * erasure. Without an e-mail address on record there is nothing to send. */
static enum rc tell(const struct core_ctx *c, const struct store_request *r, enum mail_kind kind, const char *what,
                    const char *link, const char *contact, const char *lang)
{
	if (!contact || !contact[0])
		return RC_OK;
	struct mail_args a = {.kind = kind, .to = contact, .lang = lang, .text = r->type, .reason = what, .link = link};
	return mail_queue(c, r->subject_id, NULL, &a);
}

static enum rc contact(const struct core_ctx *c, const char *subject_id, char to[256], char lang[8])
{
	struct subject_key key;
	to[0] = '\0';
	snprintf(lang, 8, "%s", c->tenant->policy->languages[0]);
	if (datakey_unwrap(c, subject_id, &key, NULL))
		return RC_OK; /* erased already: nobody to write to */
	enum rc rc = subject_contact(c, subject_id, &key, CHANNEL_EMAIL, to, lang, NULL);
	vault_subject_key_wipe(&key);
	return rc;
}

/* What every new request takes from its input: type, channel, who
 * verified, when it was received and the deadlines that follow. */
static enum rc fill(const struct core_ctx *c, const struct request_input *in, struct store_request *out,
                    struct errbuf *eb)
{
	const struct policy_requests *pr = &c->tenant->policy->requests;
	int64_t received = core_now(c);
	enum rc rc = RC_OK;
	out->type = xstrdup(in->type);
	out->channel = in->channel ? xstrdup(in->channel) : NULL;
	out->verified_by = in->verified_by ? xstrdup(in->verified_by) : NULL;
	if (in->received_at && (strlen(in->received_at) > 40 || timeutil_parse_instant(in->received_at, &received)))
		rc = err_set(eb, RC_UNPROCESSABLE, "received_at: not an ISO 8601 date or datetime");
	if (!rc && received > core_now(c) + 300)
		rc = err_set(eb, RC_UNPROCESSABLE, "received_at: in the future");
	out->received_at = received;
	if (!rc && deadline(received, pr->answer_within, NULL, &out->due_at))
		rc = err_set(eb, RC_UNPROCESSABLE, "received_at: out of range");
	if (!rc && pr->has_target && deadline(received, pr->target, NULL, &out->target_at))
		rc = err_set(eb, RC_UNPROCESSABLE, "received_at: out of range");
	return rc;
}

/* ---- requests about nobody (see request.h) ---- */

static void requester_ad(const char *request_id, char *ad, size_t size)
{
	snprintf(ad, size, "requester:%s", request_id);
}

/* The request's own key, unwrapped from its requester row. */
static enum rc requester_key(const struct core_ctx *c, const char *request_id, struct store_requester *row,
                             struct subject_key *k)
{
	char ad[64];
	enum rc rc = store_requester_get(c->store, c->tenant->id, request_id, row);
	requester_ad(request_id, ad, sizeof ad);
	if (!rc)
		rc = vault_subject_key_unwrap(&c->tenant->vault, ad, row->wrapped_key, row->wrapped_len, k);
	return rc;
}

/* The requester's e-mail ("" when the identifier was not one) and language. */
static enum rc requester_contact(const struct core_ctx *c, const char *request_id, char to[256], char lang[8])
{
	struct store_requester row;
	struct subject_key k;
	struct buf plain;
	char ad[64];
	to[0] = '\0';
	snprintf(lang, 8, "%s", c->tenant->policy->languages[0]);
	enum rc rc = requester_key(c, request_id, &row, &k);
	if (rc) {
		store_requester_fini(&row);
		return rc == RC_NOT_FOUND ? RC_OK : rc;
	}
	buf_init(&plain, 300);
	requester_ad(request_id, ad, sizeof ad);
	rc = vault_open(&k, ad, row.contact, row.contact_len, &plain);
	vault_subject_key_wipe(&k);
	const char *nl = rc ? NULL : memchr(plain.data, '\n', plain.len);
	if (!rc && (!nl || nl - plain.data >= 256 || plain.len - (size_t)(nl + 1 - plain.data) >= 8))
		rc = RC_CRYPTO;
	if (!rc) {
		memcpy(to, plain.data, (size_t)(nl - plain.data));
		to[nl - plain.data] = '\0';
		memcpy(lang, nl + 1, plain.len - (size_t)(nl + 1 - plain.data));
		lang[plain.len - (size_t)(nl + 1 - plain.data)] = '\0';
	}
	buf_fini(&plain);
	store_requester_fini(&row);
	return rc;
}

static enum rc create_about_nobody(const struct core_ctx *c, const struct request_input *in, struct store_request *out,
                                   struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	const struct policy_field *f = policy_field(p, in->lookup_field);
	const char *lang = in->language ? in->language : p->languages[0];
	struct store_requester row = {0};
	struct subject_key k;
	struct buf canon, form, contact;
	char ad[64];
	bool known = false;
	for (size_t i = 0; i < p->nlanguages; i++)
		known = known || !strcmp(p->languages[i], lang);
	if (!known)
		return err_set(eb, RC_UNPROCESSABLE, "language: one of the policy's languages");
	buf_init(&canon, FIELD_VALUE_MAX);
	buf_init(&form, FIELD_VALUE_MAX);
	buf_init(&contact, FIELD_VALUE_MAX + 16);
	struct field_value v = {VAL_STRING, in->lookup_value, strlen(in->lookup_value)};
	enum rc rc = f ? field_normalize(f, &v, &canon, eb) : RC_INTERNAL;
	if (!rc)
		rc = field_lookup_form(f, canon.data, canon.len, &form);
	if (!rc)
		rc = buf_printf(&contact, "%s\n%s", f->type == FT_EMAIL && canon.len < 256 ? canon.data : "", lang);
	token_id_new(TOKEN_PREFIX_REQUEST, out->id);
	token_id_new(TOKEN_PREFIX_SUBJECT, out->subject_id); /* nobody's */
	out->nobody = true;
	/* Nothing is disclosed to whoever asks: nothing to verify first. */
	out->status = xstrdup(request_status_name(REQUEST_IN_PROGRESS));
	if (!rc)
		rc = fill(c, in, out, eb);
	if (!rc) {
		vault_lookup_hash(&c->tenant->vault, f->name, form.data, form.len, row.lookup_hash);
		requester_ad(out->id, ad, sizeof ad);
		row.wrapped_len = vault_subject_key_new(&c->tenant->vault, ad, &k, row.wrapped_key);
		row.contact_len = contact.len + VAULT_SEAL_OVERHEAD;
		row.contact = xmalloc(row.contact_len);
		vault_seal(&k, ad, contact.data, contact.len, row.contact);
		if (in->details) {
			details_ad(out->id, ad, sizeof ad);
			out->details_len = strlen(in->details) + VAULT_SEAL_OVERHEAD;
			out->details = xmalloc(out->details_len);
			vault_seal(&k, ad, in->details, strlen(in->details), out->details);
		}
		vault_subject_key_wipe(&k);
		rc = store_begin(c->store);
		if (!rc) {
			rc = store_request_insert(c->store, c->tenant->id, out);
			if (!rc)
				rc = store_requester_insert(c->store, c->tenant->id, out->id, &row);
			if (!rc)
				rc = audit(c, "request.create", out, "about=nobody");
			rc = core_end(c, rc);
		}
	}
	buf_fini(&canon);
	buf_fini(&form);
	buf_fini(&contact);
	store_requester_fini(&row);
	if (rc)
		store_request_fini(out);
	return rc;
}

/* Who the answer goes to: the subject's address on record, or the
 * requester's own for a request about nobody. */
static enum rc reply_to(const struct core_ctx *c, const struct store_request *r, char to[256], char lang[8])
{
	return r->nobody ? requester_contact(c, r->id, to, lang) : contact(c, r->subject_id, to, lang);
}

enum rc request_create(const struct core_ctx *c, const struct request_input *in, struct store_request *out,
                       struct errbuf *eb)
{
	memset(out, 0, sizeof *out);
	if (!in->type || !request_type_valid(in->type))
		return err_set(eb, RC_UNPROCESSABLE,
		               "type must be one of access, portability, rectification, erasure, restriction, objection, "
		               "withdraw_consent, marketing_optout, anonymization");
	if (in->details && strlen(in->details) > REQUEST_DETAILS_MAX)
		return err_set(eb, RC_TOO_LARGE, "details are larger than %d bytes", REQUEST_DETAILS_MAX);
	if ((in->channel && strlen(in->channel) > 64) || (in->verified_by && strlen(in->verified_by) > 200))
		return err_set(eb, RC_UNPROCESSABLE, "channel (64) or verified_by (200 characters) too long");
	if (field_text_check("channel", in->channel, eb) || field_text_check("verified_by", in->verified_by, eb))
		return RC_UNPROCESSABLE;
	char sid[TOKEN_ID_MAX];
	if (in->subject_id) {
		snprintf(sid, sizeof sid, "%s", in->subject_id);
	} else if (in->lookup_field) {
		char ids[2][TOKEN_ID_MAX];
		size_t n = 0;
		struct field_value v = {VAL_STRING, in->lookup_value, strlen(in->lookup_value)};
		enum rc rc = subject_find(c, in->lookup_field, &v, ids, 2, &n, eb);
		if (rc)
			return rc;
		if (n == 0 && in->log_if_unknown)
			return create_about_nobody(c, in, out, eb);
		if (n == 0)
			return err_set(eb, RC_NOT_FOUND, "no subject has that %s", in->lookup_field);
		if (n > 1)
			return err_set(eb, RC_CONFLICT, "more than one subject has that %s: give subject_id", in->lookup_field);
		memcpy(sid, ids[0], sizeof sid);
	} else {
		return err_set(eb, RC_UNPROCESSABLE, "give subject_id or a lookup field");
	}
	struct subject_key key;
	enum rc rc = datakey_unwrap(c, sid, &key, eb);
	if (rc)
		return rc == RC_GONE ? err_set(eb, RC_GONE, "the subject has been erased") : rc;
	token_id_new(TOKEN_PREFIX_REQUEST, out->id);
	memcpy(out->subject_id, sid, sizeof sid);
	out->status = xstrdup(request_status_name(in->verified_by ? REQUEST_IN_PROGRESS : REQUEST_VERIFYING));
	if (!rc)
		rc = fill(c, in, out, eb);
	if (!rc && in->details) {
		char ad[64];
		details_ad(out->id, ad, sizeof ad);
		out->details_len = strlen(in->details) + VAULT_SEAL_OVERHEAD;
		out->details = xmalloc(out->details_len);
		vault_seal(&key, ad, in->details, strlen(in->details), out->details);
	}
	vault_subject_key_wipe(&key);
	char to[256] = "", lang[8], link[CORE_LINK_MAX] = "";
	if (!rc && !out->verified_by) {
		/* Who asked must be checked: a link to the address on record. */
		struct token_link l = {.kind = 'v', .tenant_id = c->tenant->id, .expires = core_now(c) + 7 * 86400};
		char token[TOKEN_LINK_MAX];
		snprintf(l.subject_id, sizeof l.subject_id, "%s", sid);
		snprintf(l.purpose, sizeof l.purpose, "%s", out->id);
		rc = contact(c, sid, to, lang);
		if (!rc)
			rc = token_link_sign(&l, c->tenant->vault.token_key, token);
		if (!rc)
			rc = core_link(c, CORE_LINK_VERIFY, token, link);
	}
	if (!rc)
		rc = store_begin(c->store);
	if (!rc) {
		rc = save_row(c, out, true);
		if (!rc)
			rc = audit(c, "request.create", out, out->verified_by ? "verified=yes" : "verified=no");
		if (!rc && to[0]) {
			struct mail_args a = {.kind = MAIL_REQUEST_VERIFY, .to = to, .lang = lang, .text = out->type, .link = link};
			rc = mail_queue(c, sid, NULL, &a);
		}
		rc = core_end(c, rc);
	}
	if (rc)
		store_request_fini(out);
	return rc;
}

/* The ULID form of an id written before ids were ULIDs (schema 7): signed
 * links e-mailed before the upgrade carry the request id as text, and sealed
 * request details their record ids; the migration could rewrite neither.
 * False when the text reads the same either way. */
static bool id_from_legacy(const char *id, char out[TOKEN_ID_MAX])
{
	if (strlen(id) >= TOKEN_ID_MAX)
		return false;
	memcpy(out, id, strlen(id) + 1);
	token_ids_from_legacy(out);
	return strcmp(out, id) != 0;
}

/* request_get, with notes_open's *shown. */
static enum rc load(const struct core_ctx *c, const char *id, struct store_request *out, bool *shown,
                    struct errbuf *eb)
{
	char upgraded[TOKEN_ID_MAX];
	enum rc rc = store_request_get(c->store, c->tenant->id, id, out);
	if (rc == RC_NOT_FOUND && id_from_legacy(id, upgraded))
		rc = store_request_get(c->store, c->tenant->id, upgraded, out);
	if (!rc)
		rc = notes_open(c, out, shown);
	if (rc && rc != RC_NOT_FOUND)
		store_request_fini(out);
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "no such request") : rc;
}

enum rc request_get(const struct core_ctx *c, const char *id, struct store_request *out, struct errbuf *eb)
{
	return load(c, id, out, NULL, eb);
}

enum rc request_list(const struct core_ctx *c, const struct store_request_filter *f, struct store_request **out,
                     size_t *n)
{
	enum rc rc = store_requests_list(c->store, c->tenant->id, f, out, n);
	for (size_t i = 0; !rc && i < *n; i++)
		rc = notes_open(c, &(*out)[i], NULL);
	if (rc) {
		store_requests_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

enum rc request_read(const struct core_ctx *c, const char *id, struct store_request *out, struct errbuf *eb)
{
	bool shown = false;
	enum rc rc = load(c, id, out, &shown, eb);
	if (!rc && shown) {
		char detail[64];
		snprintf(detail, sizeof detail, "request=%s", out->id);
		struct audit_event ev = {"request.read", out->subject_id, NULL, "ok", detail};
		rc = audit_access(c, &ev);
		if (rc)
			store_request_fini(out);
	}
	return rc;
}

static int by_subject(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

enum rc request_read_list(const struct core_ctx *c, const struct store_request_filter *f,
                          struct store_request **out, size_t *n)
{
	enum rc rc = store_requests_list(c->store, c->tenant->id, f, out, n);
	if (rc)
		return rc;
	const char **subjects = xcalloc(*n ? *n : 1, sizeof *subjects);
	size_t nshown = 0;
	for (size_t i = 0; !rc && i < *n; i++) {
		bool shown = false;
		rc = notes_open(c, &(*out)[i], &shown);
		if (shown)
			subjects[nshown++] = (*out)[i].subject_id;
	}
	/* One entry per subject, counting their requests shown. */
	qsort(subjects, nshown, sizeof *subjects, by_subject);
	for (size_t i = 0, k; !rc && i < nshown; i = k) {
		for (k = i + 1; k < nshown && !strcmp(subjects[i], subjects[k]); k++)
			;
		char detail[32];
		snprintf(detail, sizeof detail, "requests=%zu", k - i);
		struct audit_event ev = {"request.read", subjects[i], NULL, "ok", detail};
		rc = audit_access(c, &ev);
	}
	free(subjects);
	if (rc) {
		store_requests_free(*out, *n);
		*out = NULL;
		*n = 0;
	}
	return rc;
}

/* Loads a request for a change of status: it must still be open. */
static enum rc load_open(const struct core_ctx *c, const char *id, struct store_request *r, struct errbuf *eb)
{
	enum rc rc = request_get(c, id, r, eb);
	if (!rc && !request_row_open(r)) {
		rc = err_set(eb, RC_CONFLICT, "the request is %s already", r->status);
		store_request_fini(r);
	}
	return rc;
}

/* "awaiting acknowledgements from a, b": who a request waits for. */
static enum rc pending_of(const struct core_ctx *c, const struct store_request *r, struct buf *out, size_t *npending)
{
	struct store_message *v = NULL;
	size_t n = 0;
	*npending = 0;
	enum rc rc = notify_list(c, NULL, r->id, &v, &n);
	for (size_t i = 0; !rc && i < n; i++)
		if (notify_pending(&v[i]))
			rc = buf_printf(out, "%s%s (notification %lld)", (*npending)++ ? ", " : "", v[i].target,
			                (long long)v[i].message_id);
	store_messages_free(v, n);
	return rc;
}

/* load_open for acting on a request (verify, refuse, complete): one that
 * awaits acknowledgements has been carried out, and only its
 * notifications may still change. */
static enum rc load_acting(const struct core_ctx *c, const char *id, struct store_request *r, struct errbuf *eb)
{
	enum rc rc = load_open(c, id, r, eb);
	if (rc || request_row_status(r) != REQUEST_AWAITING)
		return rc;
	struct buf who;
	size_t n = 0;
	buf_init(&who, 4096);
	rc = pending_of(c, r, &who, &n);
	if (!rc)
		rc = err_set(eb, RC_CONFLICT, "the request is carried out and awaits acknowledgements from %.3000s: they "
		             "complete it, or the DPO waives each (POST /v1/requests/{id}/notifications/{n}/waive)",
		             who.data ? who.data : "");
	buf_fini(&who);
	store_request_fini(r);
	return rc;
}

static enum rc update(const struct core_ctx *c, struct store_request *r, const char *action, const char *detail);

/* Completes an awaiting request whose notifications are all acknowledged
 * or waived (inside the caller's transaction). */
static enum rc settle(const struct core_ctx *c, const char *id)
{
	struct store_request r;
	struct errbuf eb;
	enum rc rc = request_get(c, id, &r, &eb);
	if (rc == RC_NOT_FOUND)
		return RC_OK; /* gone with requests.keep: nothing to complete */
	if (rc)
		return rc;
	struct buf who;
	size_t n = 0;
	buf_init(&who, 4096);
	if (request_row_status(&r) == REQUEST_AWAITING)
		rc = pending_of(c, &r, &who, &n);
	if (!rc && request_row_status(&r) == REQUEST_AWAITING && !n) {
		free(r.status);
		r.status = xstrdup(request_status_name(REQUEST_COMPLETED));
		rc = update(c, &r, "request.acknowledged", NULL);
	}
	buf_fini(&who);
	store_request_fini(&r);
	return rc;
}

static enum rc bounded_reason(const char *reason, struct errbuf *eb)
{
	if (!reason || !*reason)
		return err_set(eb, RC_UNPROCESSABLE, "give the reason");
	if (strlen(reason) > REQUEST_REASON_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "the reason is longer than %d characters", REQUEST_REASON_MAX);
	if (field_text_check("reason", reason, eb))
		return RC_UNPROCESSABLE;
	return RC_OK;
}

/* When an answered request goes (requests.keep, e.g. 6 months after answered). */
static int64_t expiry(const struct core_ctx *c, const struct store_request *r)
{
	const struct policy_requests *pr = &c->tenant->policy->requests;
	int64_t from = pr->has_keep && pr->keep.event && !strcmp(pr->keep.event, "received") ? r->received_at : r->answered_at, at;
	if (!pr->has_keep || !r->answered_at || timeutil_add(from, pr->keep.period, &at))
		return 0;
	return at;
}

static enum rc update(const struct core_ctx *c, struct store_request *r, const char *action, const char *detail)
{
	enum rc rc = save_row(c, r, false);
	if (!rc && r->answered_at)
		rc = store_request_set_expiry(c->store, c->tenant->id, r->id, expiry(c, r));
	return rc ? rc : audit(c, action, r, detail);
}

/* Saves a change of the request, audits it and tells the subject, in one
 * transaction. */
static enum rc save_and_tell(const struct core_ctx *c, struct store_request *r, const char *action,
                             enum mail_kind kind, const char *what, const char *link, const char *to, const char *lang)
{
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = update(c, r, action, NULL);
	if (!rc)
		rc = tell(c, r, kind, what, link, to, lang);
	rc = core_end(c, rc);
	return rc;
}

enum rc request_verify(const struct core_ctx *c, const char *id, const char *verified_by, struct errbuf *eb)
{
	struct store_request r;
	if (!verified_by || !*verified_by || strlen(verified_by) > 200)
		return err_set(eb, RC_UNPROCESSABLE, "verified_by: say how the requester's identity was checked (200 characters)");
	enum rc rc = load_acting(c, id, &r, eb);
	if (rc)
		return rc;
	free(r.status);
	free(r.verified_by);
	r.status = xstrdup(request_status_name(REQUEST_IN_PROGRESS));
	r.verified_by = xstrdup(verified_by);
	rc = store_begin(c->store);
	if (!rc) {
		rc = update(c, &r, "request.verify", NULL);
		rc = core_end(c, rc);
	}
	store_request_fini(&r);
	return rc;
}

enum rc request_extend(const struct core_ctx *c, const char *id, const char *reason, struct errbuf *eb)
{
	const struct policy_requests *pr = &c->tenant->policy->requests;
	struct store_request r;
	enum rc rc = bounded_reason(reason, eb);
	if (!rc)
		rc = load_open(c, id, &r, eb);
	if (rc)
		return rc;
	if (r.extended_at)
		rc = err_set(eb, RC_CONFLICT, "the request has been extended once already: GDPR allows one extension");
	else if (core_now(c) > r.due_at)
		rc = err_set(eb, RC_CONFLICT, "the deadline has passed: it can no longer be extended");
	int64_t due;
	if (!rc && deadline(r.received_at, pr->answer_within, &pr->extend_up_to, &due))
		rc = err_set(eb, RC_CONFLICT, "the extended deadline is out of range");
	char to[256], lang[8], date[TIMEUTIL_DATE_LEN];
	if (!rc)
		rc = reply_to(c, &r, to, lang);
	if (!rc) {
		r.due_at = due;
		r.extended_at = core_now(c);
		r.extension_reason = xstrdup(reason);
		timeutil_format_date(due, date);
		rc = save_and_tell(c, &r, "request.extend", MAIL_REQUEST_EXTENDED, reason, date, to, lang);
	}
	store_request_fini(&r);
	return rc;
}

enum rc request_refuse(const struct core_ctx *c, const char *id, const char *reason, struct errbuf *eb)
{
	struct store_request r;
	enum rc rc = bounded_reason(reason, eb);
	if (!rc)
		rc = load_acting(c, id, &r, eb);
	if (rc)
		return rc;
	char to[256], lang[8];
	rc = reply_to(c, &r, to, lang);
	if (!rc) {
		free(r.status);
		r.status = xstrdup(request_status_name(REQUEST_REFUSED));
		r.refusal_reason = xstrdup(reason);
		r.answered_at = core_now(c);
		rc = save_and_tell(c, &r, "request.refuse", MAIL_REQUEST_REFUSED, reason, NULL, to, lang);
	}
	store_request_fini(&r);
	return rc;
}

enum rc request_verify_by_link(const struct core_ctx *c, const struct token_link *l, struct errbuf *eb)
{
	struct store_request r;
	enum rc rc = request_get(c, l->purpose, &r, eb);
	if (!rc && strcmp(r.subject_id, l->subject_id))
		rc = err_set(eb, RC_NOT_FOUND, "this link is no longer valid");
	if (!rc && strcmp(r.status, request_status_name(REQUEST_VERIFYING)))
		rc = err_set(eb, RC_GONE, "this request is %s: nothing to confirm", r.status);
	if (rc) {
		store_request_fini(&r);
		return rc;
	}
	free(r.status);
	free(r.verified_by);
	r.status = xstrdup(request_status_name(REQUEST_IN_PROGRESS));
	r.verified_by = xstrdup("link to the e-mail on record");
	rc = store_begin(c->store);
	if (!rc) {
		rc = store_token_use(c->store, c->tenant->id, l->used, core_now(c));
		if (rc == RC_EXISTS)
			rc = err_set(eb, RC_GONE, "this link has been used already");
		if (!rc)
			rc = update(c, &r, "request.verify", "by=link");
		rc = core_end(c, rc);
	}
	store_request_fini(&r);
	return rc;
}

enum rc request_details(const struct core_ctx *c, const struct store_request *r, struct buf *out)
{
	struct subject_key key;
	buf_reset(out);
	if (!r->details || !r->details_len)
		return RC_OK;
	struct store_requester row = {0};
	enum rc rc = r->nobody ? requester_key(c, r->id, &row, &key) : datakey_unwrap(c, r->subject_id, &key, NULL);
	store_requester_fini(&row);
	if (rc)
		return rc;
	char ad[64];
	details_ad(r->id, ad, sizeof ad);
	rc = vault_open(&key, ad, r->details, r->details_len, out);
	vault_subject_key_wipe(&key);
	return rc;
}

enum rc request_export_link(const struct core_ctx *c, const struct store_request *r, char out[TOKEN_LINK_MAX])
{
	struct token_link l = {.kind = 'x', .tenant_id = c->tenant->id,
	                       .expires = core_now(c) + REQUEST_EXPORT_DAYS * 86400};
	snprintf(l.subject_id, sizeof l.subject_id, "%s", r->subject_id);
	snprintf(l.purpose, sizeof l.purpose, "%s", r->id);
	return token_link_sign(&l, c->tenant->vault.token_key, out);
}

/* Carries out the request's own effect (inside the open transaction) and
 * writes what was done, in names and counts, to `done`. */
/* Tells the systems and recipients of one change (core/notify); *told
 * counts the notifications. */
static enum rc tell_others(const struct core_ctx *c, const struct store_request *r,
                           const struct notify_snapshot *before, enum notify_event ev, const char *kind,
                           const struct request_exec *x, const char *purpose, size_t *told)
{
	struct notify_change ch = {.event = ev, .subject_id = r->subject_id, .request_id = r->id, .record_kind = kind,
	                           .purpose = purpose};
	if (ev == NOTIFY_RECTIFIED && x) {
		ch.fields = x->changes;
		ch.nfields = x->nchanges;
	}
	size_t n = 0;
	enum rc rc = notify_queue(c, &ch, before, &n);
	*told += n;
	return rc;
}

static enum rc execute(const struct core_ctx *c, const struct store_request *r, const struct request_exec *x,
                       struct buf *done, struct subject_erasure *er, const struct notify_snapshot *before,
                       size_t *told, struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	enum request_type t = request_row_type(r);
	struct consent_evidence ev = {.source = "data-subject request"};
	char state[16];
	enum rc rc = RC_OK;
	switch (t) {
	case REQUEST_TYPE_ACCESS:
	case REQUEST_TYPE_PORTABILITY:
		return buf_puts(done, "your data is ready to download");
	case REQUEST_TYPE_RECTIFICATION: {
		char owner[TOKEN_ID_MAX];
		if (!x || !x->record_id || !x->nchanges)
			return err_set(eb, RC_UNPROCESSABLE, "a rectification needs details {\"record_id\", \"fields\"}");
		char upgraded[TOKEN_ID_MAX];
		const char *rid = x->record_id;
		rc = record_owner(c, rid, owner, eb);
		if (rc == RC_NOT_FOUND && id_from_legacy(rid, upgraded)) {
			rid = upgraded; /* details sealed before the upgrade to ULIDs */
			rc = record_owner(c, rid, owner, eb);
		}
		if (!rc && strcmp(owner, r->subject_id))
			rc = err_set(eb, RC_UNPROCESSABLE, "the record to rectify is not the subject's");
		if (!rc)
			rc = record_rectify(c, rid, x->changes, x->nchanges, NULL, 0, eb);
		struct store_record rec = {0};
		if (!rc)
			rc = store_record_get(c->store, c->tenant->id, rid, &rec);
		if (!rc)
			rc = tell_others(c, r, before, NOTIFY_RECTIFIED, rec.kind, x, NULL, told);
		store_record_fini(&rec);
		return rc ? rc : buf_printf(done, "%zu fields corrected", x->nchanges);
	}
	case REQUEST_TYPE_ERASURE: /* er: what was kept, for the answer (the caller frees it) */
		rc = subject_erase_for(c, r->subject_id, r->id, er, eb);
		if (!rc)
			rc = tell_others(c, r, before, NOTIFY_ERASED, NULL, x, NULL, told);
		if (!rc)
			rc = buf_printf(done, "%zu records erased", er->deleted);
		for (size_t i = 0; !rc && i < er->nkept; i++)
			rc = buf_printf(done, "; %s kept (%s%s)", er->kept[i].kind,
			                er->kept[i].held ? "" : "not erasable by law: kept ", er->kept[i].rule);
		return rc;
	case REQUEST_TYPE_ANONYMIZATION: {
		/* What the kinds anonymise is anonymised; the rest goes as in an
		 * erasure, which keeps what a law or a hold keeps (er: for the answer). */
		size_t anonymized = 0;
		rc = subject_anonymize(c, r->subject_id, &anonymized, eb);
		if (!rc)
			rc = subject_erase_for(c, r->subject_id, r->id, er, eb);
		if (!rc)
			rc = tell_others(c, r, before, NOTIFY_ANONYMIZED, NULL, x, NULL, told);
		if (!rc)
			rc = buf_printf(done, "%zu records anonymised, %zu erased", anonymized, er->deleted);
		for (size_t i = 0; !rc && i < er->nkept; i++)
			rc = buf_printf(done, "; %s kept (%s%s)", er->kept[i].kind,
			                er->kept[i].held ? "" : "not erasable by law: kept ", er->kept[i].rule);
		return rc;
	}
	case REQUEST_TYPE_RESTRICTION:
		rc = store_subject_restrict(c->store, c->tenant->id, r->subject_id, true);
		if (!rc)
			rc = tell_others(c, r, before, NOTIFY_RESTRICTED, NULL, x, NULL, told);
		return rc ? rc : buf_puts(done, "processing of your data is restricted: it is only stored");
	case REQUEST_TYPE_MARKETING_OPTOUT: {
		size_t n = 0;
		for (size_t i = 0; !rc && i < p->npurposes; i++) {
			const struct policy_purpose *u = &p->purposes[i];
			if (u->channel == CHANNEL_NONE)
				continue;
			rc = consent_record(c, r->subject_id, u->name, CONSENT_OBJECT, &ev, state, eb);
			if (!rc)
				rc = tell_others(c, r, before, NOTIFY_OBJECTED, NULL, x, u->name, told);
			n++;
		}
		return rc ? rc : buf_printf(done, "no more direct marketing (%zu purposes)", n);
	}
	case REQUEST_TYPE_OBJECTION:
	case REQUEST_TYPE_WITHDRAW_CONSENT:
		/* the purposes named in the details */
		if (!x || !x->npurposes)
			return err_set(eb, RC_UNPROCESSABLE, "details must name the purposes: {\"purposes\": [...]}");
		/* Completing an objection is the DPO's decision that no compelling
		 * grounds override it (else: refuse, with them as the reason). */
		ev.weighed = t == REQUEST_TYPE_OBJECTION;
		for (size_t i = 0; !rc && i < x->npurposes; i++) {
			rc = consent_record(c, r->subject_id, x->purposes[i],
			                    t == REQUEST_TYPE_OBJECTION ? CONSENT_OBJECT : CONSENT_WITHDRAW, &ev, state, eb);
			if (!rc)
				rc = tell_others(c, r, before, t == REQUEST_TYPE_OBJECTION ? NOTIFY_OBJECTED : NOTIFY_CONSENT_WITHDRAWN,
				                 NULL, x, x->purposes[i], told);
		}
		return rc ? rc : buf_printf(done, "%s recorded for %zu purposes", r->type, x->npurposes);
	case REQUEST_TYPE__COUNT:
		break;
	}
	return err_set(eb, RC_INTERNAL, "request of unknown type");
}

/* The answer e-mail to a completed request (Art. 12(1), (4)), in the
 * subject's language: what was done, and, when an erasure kept records a law
 * or a hold keeps, which and why, with the complaint and the court. */
static enum rc tell_answer(const struct core_ctx *c, const struct store_request *r, const struct request_exec *x,
                           const struct subject_erasure *er, const char *link, const char *to, const char *lang)
{
	if (!to || !to[0])
		return RC_OK;
	struct mail_args a = {.kind = MAIL_REQUEST_ANSWERED, .to = to, .lang = lang, .text = r->type, .link = link};
	/* About nobody: whatever was asked, the answer is that nothing is held. */
	if (r->nobody)
		a.outcome = MAIL_OUTCOME_NOTHING_HELD;
	else switch (request_row_type(r)) {
	case REQUEST_TYPE_ACCESS:
	case REQUEST_TYPE_PORTABILITY:
		a.outcome = MAIL_OUTCOME_EXPORT;
		break;
	case REQUEST_TYPE_RECTIFICATION:
		a.outcome = MAIL_OUTCOME_RECTIFIED;
		a.count = x ? x->nchanges : 0;
		break;
	case REQUEST_TYPE_ERASURE:
		a.outcome = MAIL_OUTCOME_ERASED;
		a.count = er->deleted;
		break;
	case REQUEST_TYPE_ANONYMIZATION:
		a.outcome = MAIL_OUTCOME_ANONYMIZED;
		a.count = er->deleted;
		break;
	case REQUEST_TYPE_RESTRICTION:
		a.outcome = MAIL_OUTCOME_RESTRICTED;
		break;
	case REQUEST_TYPE_MARKETING_OPTOUT:
		a.outcome = MAIL_OUTCOME_OPTOUT;
		break;
	case REQUEST_TYPE_OBJECTION:
	case REQUEST_TYPE_WITHDRAW_CONSENT:
		a.outcome = request_row_type(r) == REQUEST_TYPE_OBJECTION ? MAIL_OUTCOME_OBJECTED : MAIL_OUTCOME_WITHDRAWN;
		a.count = x ? x->npurposes : 0;
		break;
	default:
		a.outcome = MAIL_OUTCOME_DONE;
		break;
	}
	struct mail_kept *kept = er->nkept ? xcalloc(er->nkept, sizeof *kept) : NULL;
	for (size_t i = 0; i < er->nkept; i++)
		kept[i] = (struct mail_kept){.kind = er->kept[i].kind, .until = er->kept[i].until, .held = er->kept[i].held};
	if (er->nkept) {
		a.kind = MAIL_REQUEST_PARTIAL;
		a.kept = kept;
		a.nkept = er->nkept;
	}
	enum rc rc = mail_queue(c, r->subject_id, NULL, &a);
	free(kept);
	return rc;
}

enum rc request_complete(const struct core_ctx *c, const char *id, const struct request_exec *x,
                         struct store_request *out, struct errbuf *eb)
{
	struct store_request r;
	enum rc rc = load_acting(c, id, &r, eb);
	if (rc)
		return rc;
	if (strcmp(r.status, request_status_name(REQUEST_IN_PROGRESS))) {
		store_request_fini(&r);
		return err_set(eb, RC_CONFLICT, "the requester's identity is not verified yet: verify the request first");
	}
	char to[256], lang[8], link[CORE_LINK_MAX] = "";
	struct buf done;
	struct subject_erasure er = {0};
	struct notify_snapshot before = {0};
	size_t told = 0;
	buf_init(&done, 4096);
	/* The address is read before the request is carried out: after an
	 * erasure it is gone. */
	rc = reply_to(c, &r, to, lang);
	if (!rc && !r.nobody && request_type_exports(request_row_type(&r))) {
		char token[TOKEN_LINK_MAX];
		rc = request_export_link(c, &r, token);
		if (!rc)
			rc = core_link(c, CORE_LINK_EXPORT, token, link);
	}
	if (!rc)
		rc = store_begin(c->store);
	if (!rc) {
		/* Who holds or received the subject's data, read before the change
		 * takes it away. */
		if (!r.nobody)
			rc = notify_snapshot(c, r.subject_id, &before);
		/* About nobody: whatever was asked, the answer is that nothing is held. */
		if (!rc)
			rc = r.nobody ? buf_puts(&done, "nothing held: no personal data about the requester")
			              : execute(c, &r, x, &done, &er, &before, &told, eb);
		if (!rc) {
			free(r.status);
			r.status = xstrdup(request_status_name(told ? REQUEST_AWAITING : REQUEST_COMPLETED));
			r.answered_at = core_now(c);
			r.outcome = xstrdup(done.data ? done.data : "");
			free(r.details); /* done with: the details may hold values */
			r.details = NULL;
			r.details_len = 0;
			rc = update(c, &r, "request.complete", NULL);
		}
		if (!rc)
			rc = tell_answer(c, &r, x, &er, link[0] ? link : NULL, to, lang);
		rc = core_end(c, rc);
		ledger_settle(c, rc); /* the erasure's transaction ends here, not at its own end */
	}
	buf_fini(&done);
	subject_erasure_fini(&er);
	notify_snapshot_fini(&before);
	/* The erased pages leave the WAL for the (overwritten) database file. */
	if (!rc && (request_row_type(&r) == REQUEST_TYPE_ERASURE || request_row_type(&r) == REQUEST_TYPE_ANONYMIZATION) &&
	    store_sync(c->store))
		log_warn("checkpoint after erasure failed request=%s", r.id);
	if (rc) {
		store_request_fini(&r);
		return rc;
	}
	*out = r;
	return RC_OK;
}

enum rc request_notifications(const struct core_ctx *c, const struct store_request *r, struct store_message **out,
                              size_t *n)
{
	return notify_list(c, NULL, r->id, out, n);
}

enum rc request_waive(const struct core_ctx *c, const char *id, int64_t n, const char *reason,
                      struct store_request *out, struct errbuf *eb)
{
	if (!reason || !*reason)
		return err_set(eb, RC_UNPROCESSABLE, "give the reason why this acknowledgement is not awaited");
	if (strlen(reason) > NOTIFY_REASON_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "the reason is longer than %d characters", NOTIFY_REASON_MAX);
	if (field_text_check("reason", reason, eb))
		return RC_UNPROCESSABLE;
	struct store_request r;
	enum rc rc = request_get(c, id, &r, eb);
	if (rc)
		return rc;
	rc = store_begin(c->store);
	if (!rc) {
		rc = notify_waive(c, n, r.id, r.subject_id, reason);
		if (rc == RC_NOT_FOUND)
			err_set(eb, rc, "the request has no notification %lld", (long long)n);
		else if (rc == RC_CONFLICT)
			err_set(eb, rc, "notification %lld is acknowledged or waived already", (long long)n);
		char d[64];
		snprintf(d, sizeof d, "notification=%lld", (long long)n);
		if (!rc)
			rc = audit(c, "request.notification_waive", &r, d);
		if (!rc)
			rc = settle(c, r.id);
		rc = core_end(c, rc);
	}
	if (!rc) {
		char rid[TOKEN_ID_MAX];
		snprintf(rid, sizeof rid, "%s", r.id);
		store_request_fini(&r);
		return request_read(c, rid, out, eb); /* the answer shows its texts */
	}
	store_request_fini(&r);
	return rc;
}

enum rc request_notification_done(const struct core_ctx *c, const struct store_message *m, int64_t at)
{
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_outbox_sent(c->store, m->tenant_id, m->message_id, at);
	if (!rc && m->request_id[0])
		rc = settle(c, m->request_id);
	return core_end(c, rc);
}

/* A blob sealed under one subject's key, sealed again under another's (same
 * associated data); NULL stays NULL. */
static enum rc reseal(const struct subject_key *from, const struct subject_key *into, const char *ad,
                      const unsigned char *blob, size_t len, size_t max, unsigned char **out, size_t *out_len)
{
	*out = NULL;
	*out_len = 0;
	if (!blob || !len)
		return RC_OK;
	struct buf plain;
	buf_init(&plain, max + 1);
	enum rc rc = vault_open(from, ad, blob, len, &plain);
	if (!rc) {
		*out_len = plain.len + VAULT_SEAL_OVERHEAD;
		*out = xmalloc(*out_len);
		vault_seal(into, ad, plain.data, plain.len, *out);
	}
	buf_fini(&plain);
	return rc;
}

enum rc request_move_subject(const struct core_ctx *c, const char *from, const struct subject_key *from_key,
                             const char *into, const struct subject_key *into_key, size_t *n)
{
	struct store_request *v = NULL;
	size_t nv = 0;
	*n = 0;
	enum rc rc = store_requests_for_subject(c->store, c->tenant->id, from, &v, &nv);
	for (size_t i = 0; !rc && i < nv; i++) {
		unsigned char *details = NULL, *notes = NULL;
		size_t len = 0, notes_len = 0;
		char ad[64];
		details_ad(v[i].id, ad, sizeof ad);
		rc = reseal(from_key, into_key, ad, v[i].details, v[i].details_len, REQUEST_DETAILS_MAX, &details, &len);
		/* staff's notes about the request (verified_by, reasons, outcome) */
		notes_ad(v[i].id, ad, sizeof ad);
		if (!rc)
			rc = reseal(from_key, into_key, ad, v[i].notes, v[i].notes_len, v[i].notes_len, &notes, &notes_len);
		if (!rc)
			rc = store_request_move(c->store, c->tenant->id, v[i].id, into, details, len, notes, notes_len);
		if (!rc)
			(*n)++;
		free(details);
		free(notes);
	}
	store_requests_free(v, nv);
	return rc;
}
