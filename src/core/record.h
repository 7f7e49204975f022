/*
 * record: one record of a policy kind, from typed input to sealed row and back.
 *
 * A record's fields are validated against its kind (fields the kind does not
 * list are refused, required ones enforced, every value normalised by type,
 * min_age checked from birth_date), serialised, and sealed as one ciphertext
 * under the subject's key with the record id as associated data. Lookup
 * fields also yield keyed hashes. Nothing here touches the database except
 * through the store interface, and every write runs in one transaction:
 * a refused write changes nothing.
 */
#ifndef PRIVREG_RECORD_H
#define PRIVREG_RECORD_H

#include <stddef.h>
#include <stdint.h>

#include "core/field.h"
#include "core/ctx.h"
#include "crypto/token.h"
#include "store/store.h"

#define RECORD_MAX_FIELDS 256
#define RECORD_MAX_EVENTS 32
#define RECORD_EVENT_NAME_MAX 64

/* The states of a record, declared once: active, or restricted (kept by law
 * after an erasure, or under Art. 18: only stored); anonymized (what a
 * kind's anonymisation keeps) and detached (a kind with `linked: false`)
 * are records no person is behind: each under a key holder of its own,
 * with no lookups. */
#define RECORD_STATES(X) \
	X(ACTIVE,     "active") \
	X(RESTRICTED, "restricted") \
	X(ANONYMIZED, "anonymized") \
	X(DETACHED,   "detached")

enum record_state {
#define X(id, name) RECORD_##id,
	RECORD_STATES(X)
#undef X
	RECORD_STATE__COUNT
};

const char *record_state_name(enum record_state s);

struct field_input {
	const char *name;
	struct field_value value;
};

struct event_input {
	const char *name;
	const char *at;            /* ISO 8601 date or datetime */
};

struct record_input {
	const char *kind;
	const struct field_input *fields;
	size_t nfields;
	const char *created_at;    /* ISO 8601, or NULL for now */
	const struct event_input *events;
	size_t nevents;
	/* Consents given with the record, which the caller records in the same
	 * transaction (an import's row with consent columns): they count as in
	 * force when a field kept only on consent is checked. */
	const struct policy_purpose *const *granted;
	size_t ngranted;
};

struct field_output {
	const char *name;          /* points into the record's plaintext */
	const struct policy_field *field; /* NULL if the policy no longer has it */
	const char *value;         /* canonical text, NUL-terminated */
	size_t len;
};

struct record_event {
	char *name;
	int64_t at;
};

struct record_view {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX];
	char *kind;
	char *state;
	int64_t created_at, updated_at;
	struct field_output *fields;
	size_t nfields;
	struct record_event *events;
	size_t nevents;
	struct buf plain;          /* owns the decrypted bytes; wiped on free */
};

/* Adds a record of rec->kind to an existing subject; writes its id. */
enum rc record_add(const struct core_ctx *c, const char *subject_id, const struct record_input *rec,
                   char id[TOKEN_ID_MAX], struct errbuf *eb) WUR;
/* Whether rec may be stored for subject_id (NULL: a subject being
 * created): RC_CONFLICT, naming the purpose, for a field kept only on
 * consent the subject has not given, or a kind whose every purpose the
 * subject objected to. record_add and record_rectify check it themselves. */
enum rc record_may_store(const struct core_ctx *c, const char *subject_id, const struct record_input *rec,
                         struct errbuf *eb) WUR;
/* One person, one subject: RC_EXISTS (and that subject's id in existing)
 * when a value given to a field with `unique: true` is held by a subject
 * other than self (may be NULL). record_add and record_rectify check it
 * inside their transaction; fields that are not unique, null or invalid
 * are left to the other checks. */
enum rc record_unique_check(const struct core_ctx *c, const struct field_input *fields, size_t n, const char *self,
                            char existing[TOKEN_ID_MAX], struct errbuf *eb) WUR;
/* That refusal: RC_EXISTS, naming the field and the subject holding the
 * value (the bulk import's check says it in the same words). */
enum rc record_unique_held(struct errbuf *eb, const char *field, const char *holder) WUR;
/* Changes fields (a VAL_NULL value removes a field) and sets events;
 * RC_EXISTS as record_unique_check. */
enum rc record_rectify(const struct core_ctx *c, const char *record_id,
                       const struct field_input *changes, size_t nchanges,
                       const struct event_input *events, size_t nevents, struct errbuf *eb) WUR;
/* The id of the subject a record belongs to (no decryption, no log entry:
 * ids are not personal data). */
enum rc record_owner(const struct core_ctx *c, const char *record_id, char subject_id[TOKEN_ID_MAX],
                     struct errbuf *eb) WUR;
enum rc record_read(const struct core_ctx *c, const char *record_id, struct record_view **out,
                    struct errbuf *eb) WUR;
void record_view_fini(struct record_view *v);
void record_view_free(struct record_view *v);

/* A record validated and sealed, ready to be written: preparing touches no
 * database, so a refused record is refused before any write begins. */
struct record_prepared {
	struct store_record row;   /* owns data and lookups */
	struct store_event events[RECORD_MAX_EVENTS];
};

enum rc record_prepare(const struct core_ctx *c, const char *subject_id,
                       const struct subject_key *key, const struct record_input *rec,
                       struct record_prepared *out, struct errbuf *eb) WUR;
void record_prepared_fini(struct record_prepared *p);
/* A decrypted record sealed again (under another key): for what an erasure keeps. */
enum rc record_reseal(const struct record_view *v, const struct subject_key *key, unsigned char **data,
                      size_t *len) WUR;

/* Decrypts a stored row into a view, taking row's kind, state and events. */
enum rc record_view_take(const struct core_ctx *c, const struct subject_key *key,
                         struct store_record *row, struct record_view *out) WUR;

/* Anonymises a record of `kind` (inside the caller's transaction): its
 * keep_fields, generalised as the kind says (created_at to the month
 * unless told), re-sealed under a fresh key of a fresh key holder with no
 * lookups, and the original deleted. Nothing leads back from the person,
 * and erasing the person later does not reach it. */
enum rc record_anonymize(const struct core_ctx *c, const struct policy_record *kind, const char *subject_id,
                         const char *record_id) WUR;
/* Adds a record of a kind with `linked: false` (statistics apart from the
 * person, seed 001): stored detached, under a key holder of its own, with
 * no lookups; no subject. RC_UNPROCESSABLE for a kind about people. */
enum rc record_add_detached(const struct core_ctx *c, const struct record_input *rec, char id[TOKEN_ID_MAX],
                            struct errbuf *eb) WUR;
/* Records of `kind` in `state` (anonymized or detached), after the record
 * id `after` (NULL: from the start), at most max; subject_id is left empty
 * (a key holder, no person). One audit entry per page (records.list). */
enum rc record_list_unlinked(const struct core_ctx *c, const char *kind, const char *state, const char *after,
                             size_t max, struct record_view **out, size_t *n, struct errbuf *eb) WUR;
void record_views_free(struct record_view *v, size_t n);

#endif
