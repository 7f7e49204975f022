/*
 * notify: the company's systems and the recipients told of each change to a
 * subject's data (GDPR Art. 19): erasure, rectification, restriction and its
 * lifting, withdrawal of consent, objection, anonymisation.
 *
 * Who is told: each system of the policy (`systems:`) that holds the
 * subject's data (a record kind it holds, or a field it holds in one of the
 * subject's kinds), and each recipient with `notify:` that the disclosure
 * log shows received the subject's data. Both are read before the change
 * (notify_snapshot): an erasure takes the records with it. A rectification
 * goes only to those holding a rectified field, with only the fields they
 * hold; no other event carries a value, and an erased value never.
 *
 * How: one outbox message per event and target, written in the change's
 * transaction (notify_queue). A webhook (kind NOTIFY_KIND_WEBHOOK) follows
 * Standard Webhooks: its body and its event id (`evt_<ULID>`, the same on
 * every retry) are sealed under the tenant's mail key, so that it outlives
 * the subject's key; the signature is made at each attempt with the secret
 * of the policy in force (notify_open, notify_sign). A recipient told by
 * e-mail gets a mail (MAIL_RECIPIENT_NOTICE) tagged the same way. A 2xx
 * answer, or the SMTP server's acceptance, is the acknowledgement.
 */
#ifndef PRIVREG_NOTIFY_H
#define PRIVREG_NOTIFY_H

#include "core/consent.h"
#include "core/record.h"
#include "store/store.h"

#define NOTIFY_KIND_WEBHOOK "webhook"
/* An attempt that takes longer has failed (Standard Webhooks' receivers
 * answer at once and work afterwards). */
#define NOTIFY_TIMEOUT_SECONDS 10
#define NOTIFY_REASON_MAX 500
/* A webhook's body: rectified values are at most FIELD_VALUE_MAX each. */
#define NOTIFY_BODY_MAX (1024 * 1024)
#define NOTIFY_SIGNATURE_MAX 128

#define NOTIFY_EVENTS(X) \
	X(ERASED,             "subject.erased") \
	X(RECTIFIED,          "subject.rectified") \
	X(RESTRICTED,         "subject.restricted") \
	X(RESTRICTION_LIFTED, "subject.restriction_lifted") \
	X(CONSENT_WITHDRAWN,  "consent.withdrawn") \
	X(OBJECTED,           "subject.objected") \
	X(ANONYMIZED,         "subject.anonymized") \
	X(EXPIRED,            "records.expired")

enum notify_event {
#define X(id, name) NOTIFY_##id,
	NOTIFY_EVENTS(X)
#undef X
	NOTIFY_EVENT__COUNT
};

const char *notify_event_name(enum notify_event e);

/* What the subject's data looked like before the change: the kinds of their
 * records and the recipients the disclosure log names. */
struct notify_snapshot {
	char **kinds;
	size_t nkinds;
	char **recipients;
	size_t nrecipients;
};

enum rc notify_snapshot(const struct core_ctx *c, const char *subject_id, struct notify_snapshot *out) WUR;
void notify_snapshot_fini(struct notify_snapshot *s);

struct notify_change {
	enum notify_event event;
	const char *subject_id;
	const char *request_id;            /* NULL: a change outside a request */
	const char *record_kind;           /* rectification: the kind of the record rectified */
	const struct field_input *fields;  /* rectification: the new values */
	size_t nfields;
	const char *purpose;               /* consent.withdrawn, subject.objected */
};

/* Queues the notifications of one change (inside the caller's transaction);
 * *n how many (0: nobody to tell). */
enum rc notify_queue(const struct core_ctx *c, const struct notify_change *ch, const struct notify_snapshot *before,
                     size_t *n) WUR;

/* Restricts a subject, or lifts the restriction (subject_set_restricted),
 * and tells those who hold or received their data, in one transaction. */
enum rc notify_subject_restricted(const struct core_ctx *c, const char *subject_id, bool restricted,
                                  struct errbuf *eb) WUR;

/* consent_record, and for a withdrawal or an objection the systems and
 * recipients told (consent.withdrawn, subject.objected), in one
 * transaction: the staff's and the API's way to record one. */
enum rc notify_consent_record(const struct core_ctx *c, const char *subject_id, const char *purpose,
                              enum consent_action a, const struct consent_evidence *ev, char state[16],
                              struct errbuf *eb) WUR;

/* subject_delete (an erasure outside a request: subject.erased, no request
 * id), the systems and recipients told in the same transaction, and the
 * erasure ledger settled after its end (the outer end is the one that
 * commits). */
enum rc notify_subject_delete(const struct core_ctx *c, const char *subject_id, struct errbuf *eb) WUR;

/* record_rectify, and when fields change the systems and recipients holding
 * one of them told (subject.rectified, the new values of the fields each
 * holds), in one transaction: the staff's way to correct a record. A record
 * no person is behind tells nobody. */
enum rc notify_record_rectify(const struct core_ctx *c, const char *record_id, const struct field_input *changes,
                              size_t nchanges, const struct event_input *events, size_t nevents,
                              struct errbuf *eb) WUR;

/* consent_by_link, and the systems and recipients told of what it withdrew
 * or objected to (an unsubscribe link; a confirmation with Sec-GPC: 1, an
 * objection to each direct-marketing purpose), in one transaction. */
enum rc notify_consent_by_link(const struct core_ctx *c, const struct token_link *l, bool gpc, const char *ip,
                               char state[16], struct errbuf *eb) WUR;

/* ---- the retention sweep's deletions and anonymisations ----
 * A promise such as "we keep order data 3 years" must hold in the copies
 * too. Each batch of the sweep (one transaction) tells each system holding
 * a kind of the records that went, and each recipient with `notify:` that
 * the disclosure log shows received data of a subject whose records went,
 * by one event `records.expired` (request_id null) listing those records
 * (ids, kind, deleted or anonymised, whether the subject went with its last
 * record), NOTIFY_EXPIRED_MAX at most per event: a sweep of 100,000 records
 * in batches of 500 is 200 events per system, not 100,000. A recipient
 * told by e-mail gets one mail per NOTIFY_EXPIRED_MAIL_MAX records, naming
 * the ids. Its outbox row is about many subjects: NOTIFY_MANY_SUBJECTS. */
#define NOTIFY_EXPIRED_MAX 500
/* A mail's body is at most 64 KiB: some 120 bytes a record. */
#define NOTIFY_EXPIRED_MAIL_MAX 200
#define NOTIFY_MANY_SUBJECTS "sub_00000000000000000000000000"

struct notify_expired {
	char record_id[TOKEN_ID_MAX];
	char subject_id[TOKEN_ID_MAX];
	char kind[65];
	bool anonymized;
	bool subject_deleted;   /* the subject went with this, its last record */
	char **recipients;      /* who received the subject's data (notify: only) */
	size_t nrecipients;
};

/* What one batch of the sweep removed, to be told. */
struct notify_expiry {
	struct notify_expired *v;
	size_t n, cap;
};

/* Whether the policy names anyone to tell (systems, or recipients with
 * notify:): a sweep without collects nothing. */
bool notify_expiry_wanted(const struct policy *p);
/* Notes a record about to go (before it does: a subject's last record
 * takes the disclosure log with it). */
enum rc notify_expiry_add(const struct core_ctx *c, struct notify_expiry *e, const char *subject_id,
                          const char *record_id, const char *kind, bool anonymized) WUR;
/* Forgets the last record noted (it was gone already). */
void notify_expiry_unadd(struct notify_expiry *e);
/* Queues the batch's events (inside its transaction), *n how many, and
 * empties e for the next batch. */
enum rc notify_expiry_queue(const struct core_ctx *c, struct notify_expiry *e, size_t *n) WUR;
void notify_expiry_fini(struct notify_expiry *e);

/* A webhook opened for sending. */
struct notify_webhook {
	char url[POLICY_URL_MAX + 1];
	char id[TOKEN_ID_MAX];             /* webhook-id */
	struct buf body;
	const struct policy_notify *how;   /* the target's, in the tenant's policy; NULL when gone from it */
};

/* Unsent webhooks due by now (a sender without SMTP sends these alone). */
enum rc notify_outbox_due(struct store *s, int64_t now, size_t max, struct store_message **out, size_t *n) WUR;
enum rc notify_open(const struct core_ctx *c, const struct store_message *m, struct notify_webhook *out) WUR;
void notify_webhook_fini(struct notify_webhook *w);
/* The webhook-signature header's value for an attempt at `timestamp`:
 * "v1,<base64 HMAC-SHA256(secret, id.timestamp.body)>". RC_UNAVAILABLE
 * when the target's secret could not be read. */
enum rc notify_sign(const struct notify_webhook *w, int64_t timestamp, char out[NOTIFY_SIGNATURE_MAX]) WUR;
/* A failed attempt: tried again at next_at; error (no value) kept as the
 * notification's last_error. */
enum rc notify_retry_at(struct store *s, const struct store_message *m, int attempts, int64_t next_at,
                        const char *error) WUR;

/* Waives notification n of request_id, about subject_id: the DPO's reason
 * (at most NOTIFY_REASON_MAX) is sealed under the subject's key, so that it
 * dies with the subject, as a request's notes do; when the subject has no
 * key any more (an erasure completed before the waiver) it is sealed under
 * the tenant's key instead, as the webhooks' bodies are. In the caller's
 * transaction; store_outbox_waive's codes. */
enum rc notify_waive(const struct core_ctx *c, int64_t n, const char *request_id, const char *subject_id,
                     const char *reason) WUR;

/* The notifications still owed (neither delivered nor waived), of every
 * request, oldest first, at most max; store_messages_free them. */
enum rc notify_list_unsent(const struct core_ctx *c, size_t max, struct store_message **out, size_t *n) WUR;

/* The notifications about a subject and/or of a request (either NULL),
 * each waiver's reason opened (NULL once its subject is erased);
 * store_messages_free them. */
enum rc notify_list(const struct core_ctx *c, const char *subject_id, const char *request_id,
                    struct store_message **out, size_t *n) WUR;
/* pending, delivered, failed (tried and not yet acknowledged: still
 * retried) or waived. */
const char *notify_status(const struct store_message *m);
bool notify_pending(const struct store_message *m);

#endif
