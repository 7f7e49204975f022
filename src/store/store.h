/*
 * store: the one interface between the register's rules and a database.
 *
 * A backend is a const table of domain operations (`struct store_ops`), not a
 * query builder; callers go through the one-line wrappers below and never
 * touch the table. A `struct store` is one connection, used by one thread at
 * a time. Every operation takes the tenant id and every statement filters by
 * it, so data of one tenant cannot reach another by construction.
 *
 * Transactions are explicit: store_begin / store_commit / store_rollback.
 * They nest: an inner begin is a savepoint, and rolling it back undoes only
 * the inner work. Nothing is committed until the outermost commit.
 *
 * Rows come back in caller-owned structs that are released with their _fini
 * or _free functions. Ciphertext and hashes are opaque bytes here: the store
 * never sees a plaintext personal value.
 */
#ifndef PRIVREG_STORE_H
#define PRIVREG_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/token.h"
#include "crypto/vault.h"

#define STORE_AUDIT_HASH_LEN 32

struct store;
struct store_pool;
/* What the connections of one pool share (a backend's own type). */
struct store_shared;

struct store_tenant {
	int64_t id;
	char *name;
	int64_t created_at;
};

struct store_subject {
	char id[TOKEN_ID_MAX];
	unsigned char *wrapped_key; /* NULL once the key is destroyed */
	size_t wrapped_len;
	int64_t created_at;
	bool restricted;
};

struct store_request {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX];
	char *type, *status, *channel, *extension_reason, *outcome, *refusal_reason, *verified_by;
	int64_t received_at, due_at, target_at, extended_at, answered_at; /* 0: none */
	unsigned char *details;
	size_t details_len;
};

struct store_request_filter {
	const char *status;         /* NULL: any */
	int64_t due_before;         /* 0: any */
	bool open_only;             /* received, verifying, in_progress */
	const char *after;          /* paging by id; "" to start */
	size_t limit;
};

struct store_event {
	char *name;
	int64_t at;
};

struct store_record {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX];
	char *kind;
	char *state;
	int64_t created_at;
	int64_t updated_at;
	unsigned char *data;        /* sealed fields */
	size_t data_len;
	unsigned char *lookups;     /* n * VAULT_HASH_LEN: the record's lookup hashes */
	size_t nlookups;
	struct store_event *events;
	size_t nevents;
	int64_t due_at;             /* when the keep rule says it goes; 0: not due */
	int64_t trim_at;            /* when its ip fields are cut; 0: never */
};

/* A record the retention sweep has to look at. */
struct store_due {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX];
	char kind[65];
	int64_t at;
};

struct store_forecast_row {
	char month[8];              /* "2026-11" */
	char kind[65];
	int64_t n;
};

struct store_apikey {
	char key_id[TOKEN_KEY_ID_LEN + 1];
	int64_t tenant_id;
	char *role;
	unsigned char hash[TOKEN_HASH_LEN];
	int64_t created_at;
	int64_t revoked_at;         /* 0 while valid */
};

/* One audit log entry; strings are owned when read back (store_audit_fini). */
struct store_audit {
	int64_t seq, at;
	char *key_id, *role, *action, *subject_id, *record_id, *purpose, *outcome, *detail;
	unsigned char prev_hash[STORE_AUDIT_HASH_LEN];
	unsigned char hash[STORE_AUDIT_HASH_LEN];
};

struct store_audit_filter {
	const char *subject_id;     /* NULL: all */
	int64_t since, until;       /* 0: unbounded */
	int64_t after_seq;          /* paging */
	size_t limit;
};

struct store_consent_event {
	int64_t event_id;
	char subject_id[TOKEN_ID_MAX];
	char *purpose, *action, *source, *channel, *policy_version, *wording, *actor;
	int64_t at;
	unsigned char *evidence;    /* sealed; may be NULL */
	size_t evidence_len;
};

struct store_consent_state {
	char subject_id[TOKEN_ID_MAX];
	char *purpose;
	char state[16];
	int64_t updated_at;
};

struct store_message {
	int64_t tenant_id, message_id;
	char subject_id[TOKEN_ID_MAX];
	char *kind;
	int64_t created_at, next_at;
	int attempts;
	unsigned char *sealed;
	size_t sealed_len;
};

struct store_hold {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX]; /* "" when on a record */
	char record_id[TOKEN_ID_MAX];  /* "" when on a subject */
	char *reason, *key_id;
	bool forbid_disclosure;
	int64_t created_at, until, lifted_at; /* 0: none */
};

struct store_disclosure {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX];
	char *recipient, *purpose, *fields, *legal_reference, *key_id;
	int64_t at;
};

struct store_counts {
	int64_t subjects, records;
};

struct store_ops {
	const char *name;           /* URL scheme: "sqlite" */
	enum rc (*library_init)(void); /* once per process, before any thread; may be NULL */
	struct store_shared *(*shared_new)(const char *location);
	void (*shared_free)(struct store_shared *sh);
	enum rc (*open)(const char *location, struct store_shared *sh, struct store **out, struct errbuf *eb);
	void (*close)(struct store *s);

	enum rc (*begin)(struct store *s);
	/* A transaction whose commit need not reach the disk before it returns:
	 * only for access-log entries of reads, which change no data. It becomes
	 * durable with the next commit or the next store_sync. */
	enum rc (*begin_relaxed)(struct store *s);
	/* A read-only snapshot for several reads: one read transaction instead
	 * of one per statement. In SQLite each new read transaction that finds
	 * the database changed (any commit by another connection, e.g. the
	 * access-log writer) drops the connection's whole page cache, so reads
	 * that share a snapshot read their B-tree pages once. Ends with commit
	 * or rollback; no write may begin inside it (RC_INTERNAL). Inside an
	 * open transaction it is a savepoint of that transaction. */
	enum rc (*begin_read)(struct store *s);
	/* Makes every committed transaction durable. */
	enum rc (*sync)(struct store *s);
	enum rc (*commit)(struct store *s);
	void (*rollback)(struct store *s);

	enum rc (*tenant_insert)(struct store *s, const char *name, int64_t at, int64_t *id);
	enum rc (*tenant_find)(struct store *s, const char *name, struct store_tenant *out);
	enum rc (*tenant_list)(struct store *s, struct store_tenant **out, size_t *n);

	enum rc (*policy_insert)(struct store *s, int64_t tenant, const char *version,
	                         const char *source, int64_t at);
	enum rc (*policy_current)(struct store *s, int64_t tenant, char **version, char **source);
	/* RC_OK if the tenant has ever run under this version label. */
	enum rc (*policy_version_exists)(struct store *s, int64_t tenant, const char *version);
	/* Subject ids after `after` ("" to start), in id order, at most max. */
	enum rc (*subjects_page)(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
	                         size_t max, size_t *n);

	enum rc (*subject_insert)(struct store *s, int64_t tenant, const struct store_subject *subj);
	enum rc (*subject_get)(struct store *s, int64_t tenant, const char *id, struct store_subject *out);
	/* Destroys the wrapped key first, then deletes the subject and all its rows. */
	enum rc (*subject_delete)(struct store *s, int64_t tenant, const char *id);

	enum rc (*record_insert)(struct store *s, int64_t tenant, const struct store_record *r);
	enum rc (*record_get)(struct store *s, int64_t tenant, const char *id, struct store_record *out);
	/* Replaces data and lookups of a record (rectification). */
	enum rc (*record_update)(struct store *s, int64_t tenant, const struct store_record *r);
	enum rc (*record_delete)(struct store *s, int64_t tenant, const char *id);
	enum rc (*records_for_subject)(struct store *s, int64_t tenant, const char *subject_id,
	                               struct store_record **out, size_t *n);
	enum rc (*event_set)(struct store *s, int64_t tenant, const char *record_id,
	                     const char *name, int64_t at);

	/* Subject ids having a record with this lookup hash (distinct, at most max). */
	enum rc (*lookup_find)(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
	                       char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n);

	enum rc (*apikey_insert)(struct store *s, const struct store_apikey *k);
	enum rc (*apikey_get)(struct store *s, const char *key_id, struct store_apikey *out);
	enum rc (*apikey_list)(struct store *s, int64_t tenant, struct store_apikey **out, size_t *n);
	enum rc (*apikey_revoke)(struct store *s, int64_t tenant, const char *key_id, int64_t at);

	enum rc (*counts)(struct store *s, int64_t tenant, struct store_counts *out);

	/* Consents: the history (append-only) and the current state. */
	enum rc (*consent_event_insert)(struct store *s, int64_t tenant, const struct store_consent_event *e,
	                                int64_t *event_id);
	enum rc (*consent_events_for_subject)(struct store *s, int64_t tenant, const char *subject_id,
	                                      struct store_consent_event **out, size_t *n);
	enum rc (*consent_state_set)(struct store *s, int64_t tenant, const char *subject_id, const char *purpose,
	                             const char *state, int64_t at);
	/* RC_NOT_FOUND when the subject never gave or refused anything for it. */
	enum rc (*consent_state_get)(struct store *s, int64_t tenant, const char *subject_id, const char *purpose,
	                             char state[16]);
	enum rc (*consent_states_for_subject)(struct store *s, int64_t tenant, const char *subject_id,
	                                      struct store_consent_state **out, size_t *n);
	/* The hot path of consent checks, in one statement: for each subject with
	 * this lookup hash, whether its key still exists and its state for
	 * purpose ("" when it has none). */
	enum rc (*consent_by_lookup)(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
	                             const char *purpose, struct store_consent_state *out, size_t max, size_t *n);
	/* Subjects in `state` for `purpose`, after `after` (an id, or "" to start), at most max. */
	enum rc (*consent_audience)(struct store *s, int64_t tenant, const char *purpose, const char *state,
	                            const char *after, char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n);
	/* Marks a single-use token used: RC_EXISTS if it already was. */
	enum rc (*token_use)(struct store *s, int64_t tenant, const unsigned char hash[32], int64_t at);

	/* The outbox. */
	enum rc (*outbox_insert)(struct store *s, int64_t tenant, const struct store_message *m);
	/* Unsent messages due by `now`, of every tenant, oldest first. */
	enum rc (*outbox_due)(struct store *s, int64_t now, size_t max, struct store_message **out, size_t *n);
	enum rc (*outbox_sent)(struct store *s, int64_t tenant, int64_t message_id, int64_t at);
	enum rc (*outbox_retry)(struct store *s, int64_t tenant, int64_t message_id, int attempts, int64_t next_at);
	enum rc (*outbox_pending)(struct store *s, int64_t *n);

	/* Requests. */
	enum rc (*request_insert)(struct store *s, int64_t tenant, const struct store_request *r);
	enum rc (*request_get)(struct store *s, int64_t tenant, const char *id, struct store_request *out);
	enum rc (*request_update)(struct store *s, int64_t tenant, const struct store_request *r);
	enum rc (*requests_list)(struct store *s, int64_t tenant, const struct store_request_filter *f,
	                         struct store_request **out, size_t *n);
	enum rc (*request_counts)(struct store *s, int64_t tenant, int64_t now, int64_t *open, int64_t *late);
	/* Restriction, re-keying, erasure helpers. */
	enum rc (*subject_restrict)(struct store *s, int64_t tenant, const char *id, bool restricted);
	enum rc (*subject_rekey)(struct store *s, int64_t tenant, const char *id, const unsigned char *wrapped,
	                         size_t len);
	enum rc (*consents_delete)(struct store *s, int64_t tenant, const char *subject_id);
	enum rc (*suppression_insert)(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN],
	                              int64_t at);
	enum rc (*suppression_exists)(struct store *s, int64_t tenant, const unsigned char hash[VAULT_HASH_LEN]);

	/* Retention. */
	/* Sets both times (0: none). */
	enum rc (*record_set_due)(struct store *s, int64_t tenant, const char *record_id, int64_t due_at,
	                          int64_t trim_at);
	/* Records with due_at (trim: trim_at) <= now, oldest first, after the
	 * cursor `after` (NULL: from the start), at most max. */
	enum rc (*records_due)(struct store *s, int64_t tenant, int64_t now, bool trim, const struct store_due *after,
	                       struct store_due *out, size_t max, size_t *n);
	enum rc (*subject_record_count)(struct store *s, int64_t tenant, const char *subject_id, int64_t *n);
	/* Records due before `until`, counted by calendar month (UTC) and kind. */
	enum rc (*retention_forecast)(struct store *s, int64_t tenant, int64_t until, struct store_forecast_row **out,
	                              size_t *n);
	enum rc (*request_set_expiry)(struct store *s, int64_t tenant, const char *id, int64_t expires_at);
	/* Record ids in id order after `after`, like subjects_page. */
	enum rc (*records_page)(struct store *s, int64_t tenant, const char *after, char (*ids)[TOKEN_ID_MAX],
	                        size_t max, size_t *n);
	/* Deletes answered requests whose expiry has passed; *n how many. */
	enum rc (*requests_expire)(struct store *s, int64_t tenant, int64_t now, size_t max, size_t *n);

	/* Legal holds and disclosures. */
	enum rc (*hold_insert)(struct store *s, int64_t tenant, const struct store_hold *h);
	enum rc (*hold_lift)(struct store *s, int64_t tenant, const char *id, int64_t at);
	/* Holds not lifted; with subject_id: those on it and on its records; with
	 * record_id: those on it and on its subject. */
	enum rc (*holds_active)(struct store *s, int64_t tenant, const char *subject_id, const char *record_id,
	                        int64_t now, struct store_hold **out, size_t *n);
	enum rc (*disclosure_insert)(struct store *s, int64_t tenant, const struct store_disclosure *d);
	enum rc (*disclosures_for_subject)(struct store *s, int64_t tenant, const char *subject_id,
	                                   struct store_disclosure **out, size_t *n);

	/* The last entry's seq and hash (0 and zeros for an empty log). */
	enum rc (*audit_head)(struct store *s, int64_t tenant, int64_t *seq,
	                      unsigned char hash[STORE_AUDIT_HASH_LEN]);
	enum rc (*audit_insert)(struct store *s, int64_t tenant, const struct store_audit *e);
	/* Entries in seq order, at most f->limit. */
	enum rc (*audit_list)(struct store *s, int64_t tenant, const struct store_audit_filter *f,
	                      struct store_audit **out, size_t *n);
};

/* Every connection starts with the table of its backend. */
struct store {
	const struct store_ops *ops;
	struct store_pool *own_pool; /* set by store_open: freed with the connection */
};

/* Configures the database libraries; once, in main, before any thread. */
enum rc store_library_init(void) WUR;

/*
 * A pool is the connections of one process to one store: they share what the
 * backend needs shared (for SQLite, the queue for its single writer, so that
 * threads wait on a mutex instead of sleeping in SQLite's busy handler).
 * Open one pool per store per process and a connection per thread from it.
 */
enum rc store_pool_new(const char *url, struct store_pool **out, struct errbuf *eb) WUR;
void store_pool_free(struct store_pool *p);
/* A new connection; the first brings the schema up to date. */
enum rc store_pool_open(struct store_pool *p, struct store **out, struct errbuf *eb) WUR;

/* A pool of one: for programs with one connection (the CLI, tests).
 * "sqlite:PATH" or a bare path. */
enum rc store_open(const char *url, struct store **out, struct errbuf *eb) WUR;
void store_close(struct store *s);

void store_tenant_fini(struct store_tenant *t);
void store_tenants_free(struct store_tenant *v, size_t n);
void store_subject_fini(struct store_subject *s);
void store_record_fini(struct store_record *r);
void store_records_free(struct store_record *v, size_t n);
void store_apikey_fini(struct store_apikey *k);
void store_apikeys_free(struct store_apikey *v, size_t n);
void store_audit_fini(struct store_audit *e);
void store_consent_events_free(struct store_consent_event *v, size_t n);
void store_consent_states_free(struct store_consent_state *v, size_t n);
void store_messages_free(struct store_message *v, size_t n);
void store_request_fini(struct store_request *r);
void store_holds_free(struct store_hold *v, size_t n);
void store_disclosures_free(struct store_disclosure *v, size_t n);
void store_requests_free(struct store_request *v, size_t n);
void store_audits_free(struct store_audit *v, size_t n);

#define STORE_WRAP(ret, name, params, args) \
	static inline WUR ret store_##name params { return s->ops->name args; }

STORE_WRAP(enum rc, begin, (struct store *s), (s))
STORE_WRAP(enum rc, begin_relaxed, (struct store *s), (s))
STORE_WRAP(enum rc, begin_read, (struct store *s), (s))
STORE_WRAP(enum rc, sync, (struct store *s), (s))
STORE_WRAP(enum rc, commit, (struct store *s), (s))
static inline void store_rollback(struct store *s) { s->ops->rollback(s); }
STORE_WRAP(enum rc, tenant_insert, (struct store *s, const char *name, int64_t at, int64_t *id), (s, name, at, id))
STORE_WRAP(enum rc, tenant_find, (struct store *s, const char *name, struct store_tenant *out), (s, name, out))
STORE_WRAP(enum rc, tenant_list, (struct store *s, struct store_tenant **out, size_t *n), (s, out, n))
STORE_WRAP(enum rc, policy_insert, (struct store *s, int64_t t, const char *v, const char *src, int64_t at), (s, t, v, src, at))
STORE_WRAP(enum rc, policy_current, (struct store *s, int64_t t, char **v, char **src), (s, t, v, src))
STORE_WRAP(enum rc, policy_version_exists, (struct store *s, int64_t t, const char *v), (s, t, v))
STORE_WRAP(enum rc, subjects_page, (struct store *s, int64_t t, const char *after, char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n), (s, t, after, ids, max, n))
STORE_WRAP(enum rc, subject_insert, (struct store *s, int64_t t, const struct store_subject *x), (s, t, x))
STORE_WRAP(enum rc, subject_get, (struct store *s, int64_t t, const char *id, struct store_subject *out), (s, t, id, out))
STORE_WRAP(enum rc, subject_delete, (struct store *s, int64_t t, const char *id), (s, t, id))
STORE_WRAP(enum rc, record_insert, (struct store *s, int64_t t, const struct store_record *r), (s, t, r))
STORE_WRAP(enum rc, record_get, (struct store *s, int64_t t, const char *id, struct store_record *out), (s, t, id, out))
STORE_WRAP(enum rc, record_update, (struct store *s, int64_t t, const struct store_record *r), (s, t, r))
STORE_WRAP(enum rc, record_delete, (struct store *s, int64_t t, const char *id), (s, t, id))
STORE_WRAP(enum rc, records_for_subject, (struct store *s, int64_t t, const char *sid, struct store_record **out, size_t *n), (s, t, sid, out, n))
STORE_WRAP(enum rc, event_set, (struct store *s, int64_t t, const char *rid, const char *name, int64_t at), (s, t, rid, name, at))
STORE_WRAP(enum rc, lookup_find, (struct store *s, int64_t t, const unsigned char h[VAULT_HASH_LEN], char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n), (s, t, h, ids, max, n))
STORE_WRAP(enum rc, apikey_insert, (struct store *s, const struct store_apikey *k), (s, k))
STORE_WRAP(enum rc, apikey_get, (struct store *s, const char *id, struct store_apikey *out), (s, id, out))
STORE_WRAP(enum rc, apikey_list, (struct store *s, int64_t t, struct store_apikey **out, size_t *n), (s, t, out, n))
STORE_WRAP(enum rc, apikey_revoke, (struct store *s, int64_t t, const char *id, int64_t at), (s, t, id, at))
STORE_WRAP(enum rc, counts, (struct store *s, int64_t t, struct store_counts *out), (s, t, out))
STORE_WRAP(enum rc, audit_head, (struct store *s, int64_t t, int64_t *seq, unsigned char h[STORE_AUDIT_HASH_LEN]), (s, t, seq, h))
STORE_WRAP(enum rc, audit_insert, (struct store *s, int64_t t, const struct store_audit *e), (s, t, e))
STORE_WRAP(enum rc, audit_list, (struct store *s, int64_t t, const struct store_audit_filter *f, struct store_audit **out, size_t *n), (s, t, f, out, n))

STORE_WRAP(enum rc, consent_event_insert, (struct store *s, int64_t t, const struct store_consent_event *e, int64_t *id), (s, t, e, id))
STORE_WRAP(enum rc, consent_events_for_subject, (struct store *s, int64_t t, const char *sid, struct store_consent_event **out, size_t *n), (s, t, sid, out, n))
STORE_WRAP(enum rc, consent_state_set, (struct store *s, int64_t t, const char *sid, const char *p, const char *st, int64_t at), (s, t, sid, p, st, at))
STORE_WRAP(enum rc, consent_state_get, (struct store *s, int64_t t, const char *sid, const char *p, char st[16]), (s, t, sid, p, st))
STORE_WRAP(enum rc, consent_states_for_subject, (struct store *s, int64_t t, const char *sid, struct store_consent_state **out, size_t *n), (s, t, sid, out, n))
STORE_WRAP(enum rc, consent_by_lookup, (struct store *s, int64_t t, const unsigned char h[VAULT_HASH_LEN], const char *p, struct store_consent_state *out, size_t max, size_t *n), (s, t, h, p, out, max, n))
STORE_WRAP(enum rc, consent_audience, (struct store *s, int64_t t, const char *p, const char *st, const char *after, char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n), (s, t, p, st, after, ids, max, n))
STORE_WRAP(enum rc, token_use, (struct store *s, int64_t t, const unsigned char h[32], int64_t at), (s, t, h, at))
STORE_WRAP(enum rc, outbox_insert, (struct store *s, int64_t t, const struct store_message *m), (s, t, m))
STORE_WRAP(enum rc, outbox_due, (struct store *s, int64_t now, size_t max, struct store_message **out, size_t *n), (s, now, max, out, n))
STORE_WRAP(enum rc, outbox_sent, (struct store *s, int64_t t, int64_t id, int64_t at), (s, t, id, at))
STORE_WRAP(enum rc, outbox_retry, (struct store *s, int64_t t, int64_t id, int attempts, int64_t next_at), (s, t, id, attempts, next_at))
STORE_WRAP(enum rc, outbox_pending, (struct store *s, int64_t *n), (s, n))

STORE_WRAP(enum rc, request_insert, (struct store *s, int64_t t, const struct store_request *r), (s, t, r))
STORE_WRAP(enum rc, request_get, (struct store *s, int64_t t, const char *id, struct store_request *out), (s, t, id, out))
STORE_WRAP(enum rc, request_update, (struct store *s, int64_t t, const struct store_request *r), (s, t, r))
STORE_WRAP(enum rc, requests_list, (struct store *s, int64_t t, const struct store_request_filter *f, struct store_request **out, size_t *n), (s, t, f, out, n))
STORE_WRAP(enum rc, request_counts, (struct store *s, int64_t t, int64_t now, int64_t *open, int64_t *late), (s, t, now, open, late))
STORE_WRAP(enum rc, subject_restrict, (struct store *s, int64_t t, const char *id, bool r), (s, t, id, r))
STORE_WRAP(enum rc, subject_rekey, (struct store *s, int64_t t, const char *id, const unsigned char *w, size_t len), (s, t, id, w, len))
STORE_WRAP(enum rc, consents_delete, (struct store *s, int64_t t, const char *sid), (s, t, sid))
STORE_WRAP(enum rc, suppression_insert, (struct store *s, int64_t t, const unsigned char h[VAULT_HASH_LEN], int64_t at), (s, t, h, at))
STORE_WRAP(enum rc, suppression_exists, (struct store *s, int64_t t, const unsigned char h[VAULT_HASH_LEN]), (s, t, h))

STORE_WRAP(enum rc, hold_insert, (struct store *s, int64_t t, const struct store_hold *h), (s, t, h))
STORE_WRAP(enum rc, hold_lift, (struct store *s, int64_t t, const char *id, int64_t at), (s, t, id, at))
STORE_WRAP(enum rc, holds_active, (struct store *s, int64_t t, const char *sid, const char *rid, int64_t now, struct store_hold **out, size_t *n), (s, t, sid, rid, now, out, n))
STORE_WRAP(enum rc, disclosure_insert, (struct store *s, int64_t t, const struct store_disclosure *d), (s, t, d))
STORE_WRAP(enum rc, disclosures_for_subject, (struct store *s, int64_t t, const char *sid, struct store_disclosure **out, size_t *n), (s, t, sid, out, n))

STORE_WRAP(enum rc, record_set_due, (struct store *s, int64_t t, const char *rid, int64_t due, int64_t trim), (s, t, rid, due, trim))
STORE_WRAP(enum rc, records_due, (struct store *s, int64_t t, int64_t now, bool trim, const struct store_due *after, struct store_due *out, size_t max, size_t *n), (s, t, now, trim, after, out, max, n))
STORE_WRAP(enum rc, subject_record_count, (struct store *s, int64_t t, const char *sid, int64_t *n), (s, t, sid, n))
STORE_WRAP(enum rc, retention_forecast, (struct store *s, int64_t t, int64_t until, struct store_forecast_row **out, size_t *n), (s, t, until, out, n))
STORE_WRAP(enum rc, request_set_expiry, (struct store *s, int64_t t, const char *id, int64_t at), (s, t, id, at))
STORE_WRAP(enum rc, records_page, (struct store *s, int64_t t, const char *after, char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n), (s, t, after, ids, max, n))
STORE_WRAP(enum rc, requests_expire, (struct store *s, int64_t t, int64_t now, size_t max, size_t *n), (s, t, now, max, n))

#undef STORE_WRAP

extern const struct store_ops store_sqlite_ops;

#endif
