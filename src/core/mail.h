/*
 * mail: the e-mails the register sends on its own (double opt-in
 * confirmations, policy change notices), rendered in the subject's language
 * with the controller's identity, and put in the outbox in the caller's
 * transaction: a message exists exactly when the change that causes it
 * does. The stored message is sealed under the subject's key, so erasing
 * the subject also erases mail not yet sent.
 */
#ifndef PRIVREG_MAIL_H
#define PRIVREG_MAIL_H

#include "core/record.h"

enum mail_kind {
	MAIL_CONFIRM, MAIL_POLICY_NOTICE, MAIL_REQUEST_EXTENDED, MAIL_REQUEST_ANSWERED, MAIL_REQUEST_VERIFY,
	MAIL_REQUEST_REFUSED,      /* Art. 12(4): why, and the complaint and the court */
	MAIL_REQUEST_PARTIAL,      /* carried out in part: what was kept and why, and the same remedies */
	MAIL_RECIPIENT_NOTICE,     /* to a recipient: the subject's data changed (Art. 19; core/notify) */
};

/* What an answered request did, said in the subject's language (never the
 * English outcome stored with the request). */
enum mail_outcome {
	MAIL_OUTCOME_DONE,         /* carried out */
	MAIL_OUTCOME_EXPORT,       /* the data is ready to download (link) */
	MAIL_OUTCOME_RECTIFIED,    /* count: fields corrected */
	MAIL_OUTCOME_ERASED,       /* count: records erased */
	MAIL_OUTCOME_RESTRICTED,
	MAIL_OUTCOME_OPTOUT,
	MAIL_OUTCOME_OBJECTED,     /* count: purposes */
	MAIL_OUTCOME_WITHDRAWN,    /* count: purposes */
	MAIL_OUTCOME_ANONYMIZED,   /* count: records erased beside the anonymised */
	MAIL_OUTCOME_NOTHING_HELD, /* a request about nobody (mail_nothing_held) */
};

/* One kind of record an erasure kept (MAIL_REQUEST_PARTIAL). */
struct mail_kept {
	const char *kind;          /* the record kind's name in the policy */
	int64_t until;             /* when it goes; 0: when its keep rule ends */
	bool held;                 /* kept by a legal hold (Art. 17(3)(e)), not by law */
};

struct mail_args {
	enum mail_kind kind;
	const char *to;            /* the subject's address */
	const char *lang;          /* one of the policy's languages */
	const char *purpose;       /* MAIL_CONFIRM: the purpose to confirm */
	const char *link;          /* MAIL_CONFIRM: the confirmation URL; MAIL_REQUEST_ANSWERED: an export URL or NULL;
	                            * MAIL_REQUEST_EXTENDED: the new due date */
	const char *text;          /* MAIL_REQUEST_*: the request type's name, said in the subject's language */
	const char *reason;        /* MAIL_REQUEST_EXTENDED, _REFUSED: staff's reason, as given */
	enum mail_outcome outcome; /* MAIL_REQUEST_ANSWERED */
	size_t count;              /* MAIL_REQUEST_ANSWERED, _PARTIAL: the outcome's number */
	const struct mail_kept *kept; /* MAIL_REQUEST_PARTIAL */
	size_t nkept;
	/* MAIL_RECIPIENT_NOTICE: the notification this mail is (outbox tags):
	 * the request or NULL, the recipient's name, the event type; `text`
	 * says what changed (kinds, purpose), never a value. */
	const char *request_id, *target, *event;
};

/* With key NULL the message is sealed under the tenant's own mail key, not
 * the subject's: for the answer to an erasure, which must still reach the
 * subject after their key is gone. The text is wiped once sent. */

/* Renders and queues one message (call inside a transaction). */
enum rc mail_queue(const struct core_ctx *c, const char *subject_id, const struct subject_key *key,
                   const struct mail_args *a) WUR;

/* A queued message opened for sending: envelope recipient and RFC 5322 text. */
struct mail_open {
	char to[256];
	struct buf text;
};

/*
 * Who a tenant's mail is from: the From and Reply-To header lines (CRLF
 * ended) appended to `headers`, and the envelope sender. From is the
 * policy's controller.mail.from, else the server's sender; Reply-To is
 * controller.mail.reply_to, else the controller's e-mail. The envelope is
 * the server's sender unless the tenant's From is in the server sender's
 * own domain: a relay's SPF covers the domains its operator sends for, and
 * a bounce must reach someone who can act on it (docs/deploy.md).
 */
enum rc mail_sender(const struct tenant *t, const char *server_from, struct buf *headers, char envelope[256]) WUR;

enum rc mail_open(const struct core_ctx *c, const char *subject_id, const unsigned char *sealed,
                  size_t len, int64_t message_key, struct mail_open *out) WUR;
void mail_open_fini(struct mail_open *m);

/*
 * The outbox as the sender walks it: messages of every tenant due at `now`,
 * and what became of each. A message is marked sent once the SMTP server
 * took it (or once its subject is erased: it went with them); one that
 * failed waits until next_at. A sender claims a message (mail_claim) before
 * sending it: RC_CONFLICT means another sender has it, or it is no longer
 * due; the claim holds until `until` unless the message is marked first.
 */
enum rc mail_outbox_due(struct store *s, int64_t now, size_t max, struct store_message **out, size_t *n) WUR;
enum rc mail_claim(struct store *s, const struct store_message *m, const char *owner, int64_t now,
                   int64_t until) WUR;
/* Releases every claim: only for the one sender of a register (see
 * store_outbox_release_claims). */
enum rc mail_release_claims(struct store *s) WUR;
enum rc mail_mark_sent(struct store *s, const struct store_message *m, int64_t at) WUR;
enum rc mail_retry_at(struct store *s, const struct store_message *m, int attempts, int64_t next_at) WUR;

#endif
