/*
 * request: data-subject requests (GDPR Art. 15-22) from receipt to answer.
 *
 * Deadlines are calendar arithmetic from the day of receipt: due = received +
 * requests.answer_within; one extension makes it received + answer_within +
 * extend_up_to (31 Jan: due 28 Feb, extended 30 Apr), allowed once and only
 * before the first deadline has passed. A request is answered by completing
 * it, which carries it out in one transaction with its audit entry and the
 * e-mail that tells the subject; or by refusing it, with the reason.
 * Statuses (enum request_status): received -> verifying (identity to be
 * checked) -> in_progress -> completed | refused. A change that systems or
 * recipients must be told of (core/notify, Art. 19) completes into
 * awaiting_acknowledgements, still open and counted against its deadline,
 * and the request completes by itself once each notification is
 * acknowledged or waived by the DPO (request_waive). Staff who log a request may
 * say who verified it. What staff write about the person (verified_by, the
 * reasons, the outcome) is sealed under the subject's key: it reads back
 * while the subject exists and is gone (NULL) once they are erased.
 */
#ifndef PRIVREG_REQUEST_H
#define PRIVREG_REQUEST_H

#include "core/record.h"
#include "store/store.h"

#define REQUEST_DETAILS_MAX (64 * 1024)
#define REQUEST_REASON_MAX 2000
#define REQUEST_EXPORT_DAYS 7

struct request_input {
	const char *type;
	const char *subject_id;    /* or: */
	const char *lookup_field, *lookup_value;
	const char *received_at;   /* ISO 8601, or NULL for now */
	const char *channel;       /* "email", "post", "phone", "portal", ... */
	const char *verified_by;   /* how staff checked who asked, or NULL */
	const char *details;       /* opaque text (JSON from the API), sealed; may be NULL */
	bool log_if_unknown;       /* a lookup that finds nobody logs a request about nobody (else 404) */
	const char *language;      /* about nobody: the answer's language (NULL: the policy's first) */
};

/* The states of a request, declared once: name and whether it is open
 * (still to be answered, so it counts against its deadline). The open ones
 * come first: request_open_names() hands the store that leading run. */
#define REQUEST_STATUSES(X) \
	X(RECEIVED,    "received",    true) \
	X(VERIFYING,   "verifying",   true) \
	X(IN_PROGRESS, "in_progress", true) \
	X(AWAITING,    "awaiting_acknowledgements", true) \
	X(COMPLETED,   "completed",   false) \
	X(REFUSED,     "refused",     false)

enum request_status {
#define X(id, name, open) REQUEST_##id,
	REQUEST_STATUSES(X)
#undef X
	REQUEST_STATUS__COUNT
};

/* The types of request (GDPR Art. 15-22, the marketing opt-out, and
 * anonymisation in place of erasure where a policy offers it). */
#define REQUEST_TYPES(X) \
	X(ACCESS,           "access") \
	X(PORTABILITY,      "portability") \
	X(RECTIFICATION,    "rectification") \
	X(ERASURE,          "erasure") \
	X(RESTRICTION,      "restriction") \
	X(OBJECTION,        "objection") \
	X(WITHDRAW_CONSENT, "withdraw_consent") \
	X(MARKETING_OPTOUT, "marketing_optout") \
	X(ANONYMIZATION,    "anonymization")

enum request_type {
#define X(id, name) REQUEST_TYPE_##id,
	REQUEST_TYPES(X)
#undef X
	REQUEST_TYPE__COUNT
};

const char *request_status_name(enum request_status s);
/* RC_INVALID for a name that is no status. */
enum rc request_status_parse(const char *name, enum request_status *out) WUR;
/* The one definition of "open": received, verifying or in progress. */
bool request_is_open(enum request_status s);
/* Whether a stored request (its status text) is open. */
bool request_row_open(const struct store_request *r);
/* The status of a stored request; REQUEST_STATUS__COUNT if unknown. */
enum request_status request_row_status(const struct store_request *r);
/* The names of the open states, for the store's filters; *n of them. */
const char *const *request_open_names(size_t *n);

const char *request_type_name(enum request_type t);
enum rc request_type_parse(const char *name, enum request_type *out) WUR;
bool request_type_valid(const char *type);
/* The type of a stored request; REQUEST_TYPE__COUNT if unknown. */
enum request_type request_row_type(const struct store_request *r);
/* Access and portability answer with an export to download. */
bool request_type_exports(enum request_type t);

/* A request about a person the register does not hold (log_if_unknown,
 * and the lookup finds nobody) is logged all the same, with the deadline of
 * any other: its subject_id is an id no subject has (out->nobody), and the
 * requester is kept beside it, the identifier as a keyed lookup hash and an
 * e-mail identifier as the contact for the answer, sealed under a random
 * key of the request's own that goes with the request (requests.keep).
 * Nothing is disclosed to whoever asks, so it needs no verification: it is
 * in progress at once, and completing it, whatever its type, answers "we
 * hold no personal data about you" by mail in the language given. */
enum rc request_create(const struct core_ctx *c, const struct request_input *in, struct store_request *out,
                       struct errbuf *eb) WUR;
enum rc request_get(const struct core_ctx *c, const char *id, struct store_request *out, struct errbuf *eb) WUR;
enum rc request_list(const struct core_ctx *c, const struct store_request_filter *f, struct store_request **out,
                     size_t *n) WUR;
/* request_get and request_list for showing to staff: verified_by, the
 * reasons and the outcome are what staff wrote about the person, so each
 * subject whose texts are shown gets one access entry ("request.read",
 * detail "request=ID", or "requests=N" for a list) through audit_access.
 * A request about nobody, or whose subject is erased, shows nobody's. */
enum rc request_read(const struct core_ctx *c, const char *id, struct store_request *out, struct errbuf *eb) WUR;
enum rc request_read_list(const struct core_ctx *c, const struct store_request_filter *f,
                          struct store_request **out, size_t *n) WUR;
enum rc request_verify(const struct core_ctx *c, const char *id, const char *verified_by, struct errbuf *eb) WUR;
enum rc request_extend(const struct core_ctx *c, const char *id, const char *reason, struct errbuf *eb) WUR;
enum rc request_refuse(const struct core_ctx *c, const char *id, const char *reason, struct errbuf *eb) WUR;
/* The details as given (opened); out is reset first. */
enum rc request_details(const struct core_ctx *c, const struct store_request *r, struct buf *out) WUR;

/* Verification by the subject: requests logged without verified_by e-mail
 * the subject a signed, single-use link ('v', 7 days); following it marks
 * the request verified ("link to the e-mail on record"). */
enum rc request_verify_by_link(const struct core_ctx *c, const struct token_link *l, struct errbuf *eb) WUR;

/* What completing needs besides the request itself (the API parses details). */
struct request_exec {
	const char *record_id;            /* rectification */
	const struct field_input *changes;
	size_t nchanges;
	const char *const *purposes;      /* objection, withdraw_consent */
	size_t npurposes;
};

/* Carries the request out; *out is the request as it now stands. */
enum rc request_complete(const struct core_ctx *c, const char *id, const struct request_exec *x,
                         struct store_request *out, struct errbuf *eb) WUR;

/* The notifications of request r (core/notify; store_messages_free them). */
enum rc request_notifications(const struct core_ctx *c, const struct store_request *r, struct store_message **out,
                              size_t *n) WUR;
/* The DPO's decision not to wait for notification `n` of request `id`
 * (e.g. the recipient no longer exists): audited with the reason; the
 * request completes if it was the last one pending. *out: the request as
 * it now stands, read as request_read reads it (its texts are shown).
 * RC_NOT_FOUND: no such notification; RC_CONFLICT: it was
 * delivered or waived already. */
enum rc request_waive(const struct core_ctx *c, const char *id, int64_t n, const char *reason,
                      struct store_request *out, struct errbuf *eb) WUR;
/* A notification acknowledged (for the sender): marked sent and, when it
 * was its request's last pending one, the request completed, in one
 * transaction. Mail without a request is only marked sent. */
enum rc request_notification_done(const struct core_ctx *c, const struct store_message *m, int64_t at) WUR;

/* Seals the texts of one request written before schema 9 (verified_by,
 * reasons, outcome) under its subject's key, or drops them for a subject
 * already erased (tenant.c walks the queue; inside the caller's
 * transaction). */
enum rc request_seal_one(const struct core_ctx *c, const char *id) WUR;

/* A signed link by which the subject can fetch their export (kind 'x'). */
enum rc request_export_link(const struct core_ctx *c, const struct store_request *r, char out[TOKEN_LINK_MAX]) WUR;

/* A merge (core/merge): from's requests become into's, their details
 * opened with from_key and sealed again under into_key. In the caller's
 * transaction; *n how many. */
enum rc request_move_subject(const struct core_ctx *c, const char *from, const struct subject_key *from_key,
                             const char *into, const struct subject_key *into_key, size_t *n) WUR;

#endif
