/*
 * store: the one interface between the register's rules and a database.
 *
 * A backend is a const table of domain operations (`struct store_ops`), not a
 * query builder; callers go through the one-line wrappers below and never
 * touch the table. Both, and each backend's functions, are generated from
 * the one list of operations in store/ops.def. A `struct store` is one
 * connection, used by one thread at a time. Every operation takes the tenant
 * id and every statement filters by it, so data of one tenant cannot reach
 * another by construction.
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

/* A range of erasure ledger lines, first to last (ledger_skipped). */
struct store_ledger_range {
	int64_t first, last;
};

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
	/* verified_by, extension_reason, refusal_reason and outcome, sealed
	 * under the subject's key by core (schema 9); the four plaintext
	 * members are what core wrote in the clear (nothing, unless the
	 * subject's key was already gone) or what it opened. */
	unsigned char *notes;
	size_t notes_len;
	bool nobody;               /* about a person the register does not hold (subject_id is nobody's) */
};

/* Who asked, for a request about nobody: their identifier as a lookup hash,
 * and their contact sealed under the request's own key (wrapped). */
struct store_requester {
	unsigned char lookup_hash[VAULT_HASH_LEN];
	unsigned char wrapped_key[VAULT_WRAPPED_MAX]; /* wrapped_len bytes: any format of vault.h */
	size_t wrapped_len;
	unsigned char *contact;
	size_t contact_len;
};

/* The first answer to a write sent with an Idempotency-Key. */
struct store_idempotency {
	unsigned char key_hash[VAULT_HASH_LEN];
	unsigned char fingerprint[VAULT_HASH_LEN];
	char subject_id[TOKEN_ID_MAX]; /* "" when the answer is about no one subject */
	int64_t created_at, expires_at;
	unsigned char wrapped_key[VAULT_WRAPPED_MAX]; /* wrapped_len bytes: any format of vault.h */
	size_t wrapped_len;
	unsigned char *answer;     /* sealed */
	size_t answer_len;
};

/* Most statuses a filter or count can name: they are bound as parameters,
 * one per slot, and more than the slots is RC_INVALID (never cut short). */
#define STORE_STATUSES_MAX 8

struct store_request_filter {
	const char *status;         /* NULL: any */
	const char *const *statuses; /* in one of these (and in status, if set); NULL/0: any */
	size_t nstatuses;
	int64_t due_before;         /* 0: any */
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
	char state[16];             /* the record's state */
	bool subject_restricted;    /* its subject's restriction (Art. 18) */
};

struct store_forecast_row {
	char month[8];              /* "2026-11" */
	char kind[65];
	int64_t n;
};

/* One visitor's choice for one cookie category (core/banner.h): an
 * anonymous random visitor id, never an address or a user agent. Names and
 * versions are bounded by the policy (64 characters). */
#define STORE_VISITOR_MAX 32
struct store_banner_consent {
	char visitor[STORE_VISITOR_MAX + 1];
	char category[65];
	bool accepted;
	bool gpc;                   /* the browser sent Global Privacy Control */
	char policy_version[65];
	char wording[17];           /* hash of the banner's texts the visitor saw */
	int64_t at;
};

/* How many visitors' latest choices accept or refuse a category, by the
 * policy version they chose under. */
struct store_banner_count {
	char policy_version[65];
	char category[65];
	int64_t accepted, refused, gpc;
};

struct store_apikey {
	char key_id[TOKEN_KEY_ID_LEN + 1];
	int64_t tenant_id;
	char *role;
	unsigned char hash[TOKEN_HASH_LEN];
	int64_t created_at;
	int64_t revoked_at;         /* 0 while valid */
};

/* A staff member's personal account (core/user.h). Fixed buffers: every
 * column is bounded on write. Ids are TOKEN_PREFIX_USER ids. */
#define STORE_EMAIL_MAX 254
#define STORE_TOTP_PLAIN_LEN 20
#define STORE_TOTP_SEALED_LEN (STORE_TOTP_PLAIN_LEN + VAULT_SEAL_OVERHEAD)
struct store_user {
	int64_t tenant_id;
	char user_id[TOKEN_ID_MAX];
	char email[STORE_EMAIL_MAX + 1];
	char role[16];
	char status[12];            /* "invited", "active", "disabled" */
	char password_hash[128];    /* "" until enrolled */
	/* The TOTP secret sealed by core (schema 20): STORE_TOTP_SEALED_LEN
	 * bytes; STORE_TOTP_PLAIN_LEN bytes are a secret written before
	 * schema 20, still in the clear until core seals it. */
	unsigned char totp_secret[STORE_TOTP_SEALED_LEN];
	size_t totp_len;
	bool has_totp;
	int64_t totp_last_step;     /* the last step whose code was used */
	unsigned char enrol_hash[TOKEN_HASH_LEN];
	bool has_enrol;             /* an unused enrolment link exists */
	int64_t enrol_expires;
	int64_t failures;           /* failed sign-ins in the window from failure_window */
	int64_t failure_window;
	int64_t created_at;
};

/* A signed-in staff member's session, with its account's role and state. */
struct store_session {
	int64_t tenant_id;
	unsigned char hash[TOKEN_HASH_LEN];
	char user_id[TOKEN_ID_MAX];
	char csrf[48];
	int64_t created_at, last_seen;
	char role[16];
	char status[12];
};

/* A data subject's session in the privacy center (core/portal.h): the
 * subject (or, for a person the register does not know, an id no subject
 * has) and the keyed hash of the address they signed in with. */
struct store_portal_session {
	int64_t tenant_id;
	unsigned char hash[TOKEN_HASH_LEN];
	char subject_id[TOKEN_ID_MAX];
	bool known;
	unsigned char address[VAULT_HASH_LEN];
	char csrf[48];
	int64_t created_at, last_seen;
};

/* One audit log entry; strings are owned when read back (store_audit_fini). */
struct store_audit {
	int64_t seq, at;
	char *key_id, *role, *action, *subject_id, *record_id, *purpose, *outcome, *detail;
	unsigned char prev_hash[STORE_AUDIT_HASH_LEN];
	unsigned char hash[STORE_AUDIT_HASH_LEN];
	bool legacy_ids;            /* hashed with pre-ULID id text (schema 7); read only */
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

/* One lookup hash of store_consent_by_lookups and what it found; a call
 * takes at most STORE_CONSENT_QUERIES_MAX of them. */
#define STORE_CONSENT_QUERIES_MAX 64
struct store_consent_query {
	unsigned char hash[VAULT_HASH_LEN];
	struct store_consent_state *out; /* room for the call's max */
	size_t n;                        /* set: states found */
};

struct store_message {
	int64_t tenant_id, message_id;
	char subject_id[TOKEN_ID_MAX];
	char *kind;
	int64_t created_at, next_at;
	int attempts;
	unsigned char *sealed;
	size_t sealed_len;
	/* A notification (Art. 19, schema 15): the request whose change it
	 * announces ("" none), the system or recipient told and the event;
	 * target NULL for the register's other mail. */
	char request_id[TOKEN_ID_MAX];
	char *target, *event;
	/* Read back by outbox_notifications only: */
	int64_t sent_at, waived_at; /* 0: not yet */
	char *last_error, *waive_reason; /* may be NULL; waive_reason: before schema 21 */
	unsigned char *waive_note;  /* the waiver's reason, sealed (schema 21); NULL none */
	size_t waive_note_len;
};

struct store_hold {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX]; /* "" when on a record */
	char record_id[TOKEN_ID_MAX];  /* "" when on a subject */
	char *reason, *key_id;
	bool forbid_disclosure;
	int64_t created_at, until, lifted_at; /* 0: none */
	/* The reason sealed under the key of subject sealed_for (schema 9);
	 * reason is then "" in the store and opened by core. */
	unsigned char *sealed;
	size_t sealed_len;
	char sealed_for[TOKEN_ID_MAX];
};

struct store_disclosure {
	char id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX];
	char *recipient, *purpose, *fields, *legal_reference, *key_id;
	int64_t at;
};

/* The disclosure log's filter (store_disclosures_log): NULL or 0 leaves a
 * condition out; before is a disclosure id (the page goes on from it). */
struct store_disclosure_filter {
	const char *recipient, *purpose;
	int64_t since, until;       /* at >= since, at <= until */
	const char *before;
	size_t limit;
};

/* One version of a tenant's policy, as installed. */
struct store_policy_version {
	char *version, *source;
	int64_t at;
};

struct store_counts {
	int64_t subjects, records;
};

/* ---- copying a whole register between backends (`privreg migrate`) ----
 * The tables are those of store/copy.def, by their index there. A row
 * travels as typed values that point into the reader's memory: valid only
 * during the callback that is given them. */
enum store_copy_table {
#define COPY_TABLE(name, columns, types, marks) STORE_COPY_##name,
#include "store/copy.def"
#undef COPY_TABLE
	STORE_COPY_TABLES
};

/* The most columns a table has (a static assertion in store/copy.c). */
#define STORE_COPY_COLUMNS_MAX 24

struct store_copy_info {
	const char *name;
	const char *columns; /* "tenant_id, name, created_at" */
	const char *types;   /* one letter per column: I integer, T text, B bytes */
};
/* The tables of store/copy.def, in copy order. */
extern const struct store_copy_info store_copy_tables[STORE_COPY_TABLES];
/* Room for a connection's name (store_copy_session), NUL included. */
#define STORE_SESSION_MAX 96

/* The place of a column in table t's list (from 0), or -1 if it has none. */
int store_copy_column(enum store_copy_table t, const char *column);

enum store_value_kind { STORE_VALUE_NULL, STORE_VALUE_INT, STORE_VALUE_TEXT, STORE_VALUE_BLOB };

struct store_value {
	enum store_value_kind kind;
	int64_t i;                  /* STORE_VALUE_INT */
	const void *p;              /* TEXT (not NUL-terminated) or BLOB; never NULL for those */
	size_t len;
};

struct store_row {
	size_t n;                   /* the table's column count */
	struct store_value v[STORE_COPY_COLUMNS_MAX];
};

/* Told each row of a table in turn; anything but RC_OK stops the read. */
typedef enum rc store_row_fn(void *arg, const struct store_row *row);

/* store_copy_write's steps: BEGIN before a table's first row, ROW for each
 * row, END after its last (the rows are then written), ABORT instead of END
 * when the copy stops early (the caller then rolls back). */
enum store_copy_step { STORE_COPY_BEGIN, STORE_COPY_ROW, STORE_COPY_END, STORE_COPY_ABORT };

/* For the backends' store_copy_check: RC_OK when the schema's columns,
 * given one by one (table, column, type letter, or '?' for a type the
 * copy does not know), are exactly those of store/copy.def; else
 * RC_INTERNAL with the first difference in eb. */
struct store_copy_schema {
	bool seen[STORE_COPY_TABLES][STORE_COPY_COLUMNS_MAX];
	enum rc rc;
};
void store_copy_schema_column(struct store_copy_schema *sc, const char *table, const char *column, char type,
                              struct errbuf *eb);
enum rc store_copy_schema_end(struct store_copy_schema *sc, struct errbuf *eb) WUR;

/* What an open expects to find in the database, checked before anything
 * is written to it (the schema's migrations included): a command that
 * names a register's store by mistake must not make an empty register
 * there and serve it. */
enum store_mode {
	STORE_CREATE,   /* anything: a missing SQLite file or an empty database gets the schema (tests, migrate's target) */
	STORE_EXISTING, /* a register: a missing SQLite file or a database without the schema is RC_NOT_FOUND, one
	                 * with the schema but no tenant (nor a deleted one's tombstone) RC_GONE; nothing is created */
	STORE_NEW,      /* no register: a database that holds a tenant is RC_EXISTS (`privreg init`) */
};

/* For the backends' open: what mode makes of what the database holds
 * (schema: privreg's migrations table; tenants, tombs: a tenant row, a
 * deleted tenant's tombstone; each 1, 0, or -1 when it could not be read,
 * which is RC_DB with `why`). where names the database in the message. */
enum rc store_mode_check(enum store_mode mode, int schema, int tenants, int tombs, const char *where,
                         const char *why, struct errbuf *eb) WUR;

/* The backend's table. Its operations are listed once, in store/ops.def;
 * what is not a plain operation is written out here. */
struct store_ops {
	const char *name;           /* URL scheme: "sqlite" */
	enum rc (*library_init)(void); /* once per process, before any thread; may be NULL */
	int64_t (*library_memory)(void); /* heap the library holds, where it counts it; may be NULL */
	/* Refuses a location the backend could never open (RC_INVALID, with the
	 * reason), before anything connects or is created; may be NULL. */
	enum rc (*check)(const char *location, struct errbuf *eb);
	struct store_shared *(*shared_new)(const char *location);
	void (*shared_free)(struct store_shared *sh);
	/* Bounds the page cache of each connection opened afterwards (MiB; 0:
	 * STORE_CACHE_MIB_DEFAULT); NULL where the backend keeps none. */
	void (*shared_cache)(struct store_shared *sh, unsigned mib);
	enum rc (*open)(const char *location, struct store_shared *sh, enum store_mode mode, struct store **out,
	                struct errbuf *eb);
	void (*close)(struct store *s);
	void (*rollback)(struct store *s);
#define STORE_OP(ret, name, params, args) ret(*name) params;
#include "store/ops.def"
#undef STORE_OP
};

/* Every connection starts with the table of its backend. */
struct store {
	const struct store_ops *ops;
	struct store_pool *own_pool; /* set by store_open: freed with the connection */
#ifdef PRIVREG_FAULTS
	bool fault;                  /* test builds: the next statement fails (store_fault_arm) */
#endif
};

/* Configures the database libraries; once, in main, before any thread. */
enum rc store_library_init(void) WUR;
/* Bytes the database libraries hold on the heap (page caches, prepared
 * statements, schemas), summed over the backends that count it: SQLite does
 * only in sanitizer builds, where its memory statistics are on (they take a
 * process-wide mutex on every allocation, so release builds turn them off).
 * 0 where nothing is counted. The soak subtracts it from the live heap. */
int64_t store_library_memory(void);

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

/* The most memory each connection opened from p afterwards keeps for
 * database pages, in MiB: SQLite's page cache (cache_size), which fills up
 * to it as the database grows and stays full. 0, and a pool it is never
 * given to (store_open: the CLI's one connection), keep
 * STORE_CACHE_MIB_DEFAULT; the server gives its own (api/server.h), since
 * it holds a connection per thread. PostgreSQL keeps no such cache in the
 * client and ignores it. */
#define STORE_CACHE_MIB_DEFAULT 32
#define STORE_CACHE_MIB_MAX 1024
void store_pool_cache(struct store_pool *p, unsigned mib);
/* What each connection opened from p afterwards expects (STORE_CREATE until
 * set). */
void store_pool_mode(struct store_pool *p, enum store_mode mode);

/* Whether several processes may serve the store at url at once: PostgreSQL
 * (postgresql:// or postgres://) coordinates them itself; a SQLite register
 * is served by one process at a time (`privreg serve` locks it). */
bool store_url_shared(const char *url);

/* A pool of one: for programs with one connection (the CLI, tests).
 * "sqlite:PATH", a bare path, or "postgresql://USER@HOST:PORT/DB". */
enum rc store_open(const char *url, struct store **out, struct errbuf *eb) WUR;
/* store_open expecting `mode` (STORE_CREATE is store_open). */
enum rc store_open_mode(const char *url, enum store_mode mode, struct store **out, struct errbuf *eb) WUR;
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
void store_requester_fini(struct store_requester *r);
void store_idempotency_fini(struct store_idempotency *e);
void store_policy_versions_free(struct store_policy_version *v, size_t n);

static inline void store_rollback(struct store *s) { s->ops->rollback(s); }
#ifdef PRIVREG_FAULTS
/* Test builds (base/fault.h): when PRIVREG_FAULT_STORE picks this call, the
 * operation runs with s->fault set, and its first statement fails with
 * RC_DB as a real database error would (after the operation has set up its
 * outputs, and with the backend's own handling: a failed commit rolls
 * back). The one hook in front of every operation. */
void store_fault_arm(struct store *s, const char *op);
#define STORE_OP(ret, name, params, args) \
	static inline WUR ret store_##name params \
	{ \
		store_fault_arm(s, #name); \
		ret r_ = s->ops->name args; \
		s->fault = false; \
		return r_; \
	}
#else
#define STORE_OP(ret, name, params, args) \
	static inline WUR ret store_##name params { return s->ops->name args; }
#endif
#include "store/ops.def"
#undef STORE_OP

extern const struct store_ops store_sqlite_ops;
extern const struct store_ops store_postgres_ops;

#endif
