/*
 * mail: the e-mails the register sends on its own (double opt-in
 * confirmations, policy change notices), rendered in the subject's language
 * with the controller's identity, and put in the outbox in the caller's
 * transaction: a message exists exactly when the change that causes it
 * does. The stored message is sealed under the subject's key, so erasing
 * the subject also erases mail not yet sent.
 *
 * Each message's subject and body are one template per language
 * (templates/mail/LANG/MESSAGE.txt: "Subject: ..." on the first line, an
 * empty line, the body), embedded in the binary at build time; a tenant's
 * policy may name a directory of its own (controller.mail.templates) that
 * overrides any of them. A template names its values as {{placeholder}}:
 * a placeholder the message does not know is refused when the template is
 * loaded, one the message must carry (a confirmation's {{link}}) is
 * required, and values are inserted as text, never expanded again.
 */
#ifndef PRIVREG_MAIL_H
#define PRIVREG_MAIL_H

#include "core/record.h"

/* The messages, in the order of the table in mail.c that names their
 * template files and placeholders. */
enum mail_kind {
	MAIL_CONFIRM, MAIL_POLICY_NOTICE, MAIL_REQUEST_EXTENDED, MAIL_REQUEST_ANSWERED, MAIL_REQUEST_VERIFY,
	MAIL_REQUEST_REFUSED,      /* Art. 12(4): why, and the complaint and the court */
	MAIL_REQUEST_PARTIAL,      /* carried out in part: what was kept and why, and the same remedies */
	MAIL_RECIPIENT_NOTICE,     /* to a recipient: the subject's data changed (Art. 19; core/notify) */
	MAIL_PORTAL_SIGNIN,        /* the privacy center's one-time sign-in link (core/portal) */
	MAIL_KINDS
};

/* The values a template may name, as {{name}} (mail_slot_name). */
enum mail_slot {
	MAIL_SLOT_CONTROLLER, MAIL_SLOT_PURPOSE, MAIL_SLOT_LINK, MAIL_SLOT_VERSION, MAIL_SLOT_CONTACT,
	MAIL_SLOT_TYPE, MAIL_SLOT_DUE_DATE, MAIL_SLOT_REASON, MAIL_SLOT_OUTCOME, MAIL_SLOT_REMEDY,
	MAIL_SLOT_KEPT, MAIL_SLOT_ERASED, MAIL_SLOT_EVENT, MAIL_SLOT_SUBJECT_ID, MAIL_SLOT_CHANGE,
	MAIL_SLOTS
};

#define MAIL_TEMPLATE_MAX (16 * 1024)   /* bytes of one template file */
#define MAIL_SUBJECT_MAX 256            /* bytes of a template's subject line */
/* Bytes of text in one RFC 2047 encoded word: 56 base64 characters, so a
 * word is 68 characters (at most 75) and "Subject: " and a word fit a line
 * of 78. */
#define MAIL_WORD_BYTES 42

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
	const char *link;          /* MAIL_CONFIRM: the confirmation URL; MAIL_PORTAL_SIGNIN: the sign-in URL; MAIL_REQUEST_ANSWERED: an export URL or NULL;
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

/* A tenant's own templates (controller.mail.templates), checked. */
struct mail_templates;

/*
 * Reads and checks every file of an override directory DIR/LANG/MESSAGE.txt
 * against the policy: a language of the policy or of the shipped
 * templates, a known message, at most MAIL_TEMPLATE_MAX bytes of UTF-8
 * without control characters, a subject line, every placeholder known and
 * every required one present. Each mistake is appended to diags (when not
 * NULL) as "FILE[:LINE]: what is wrong"; any mistake is RC_POLICY.
 */
enum rc mail_templates_load(const char *dir, const struct policy *p, struct mail_templates **out,
                            struct policy_diags *diags) WUR;
/* Writes them as DIR/LANG/MESSAGE.txt, replacing DIR as a whole (written
 * beside it, then renamed over it). */
enum rc mail_templates_save(const struct mail_templates *m, const char *dir) WUR;
void mail_templates_free(struct mail_templates *m);
/* Removes DIR and what it holds (a deleted tenant's templates); a missing
 * DIR is no error. */
enum rc mail_templates_remove(const char *dir) WUR;
/* The number of files (for what the CLI says it installed). */
size_t mail_templates_count(const struct mail_templates *m);

/* One template's text checked as the file `file` of message k (mistakes
 * appended to diags, as mail_templates_load); returns the number of
 * mistakes. The shipped templates pass it (tests/unit/test_mail.c). */
size_t mail_template_check(enum mail_kind k, const char *text, size_t len, const char *file,
                           struct policy_diags *diags);
/* The shipped template of message k in lang, NULL when there is none. */
const char *mail_template_default(enum mail_kind k, const char *lang);
/* A message's file name ("confirm") and a placeholder's name ("link"). */
const char *mail_kind_name(enum mail_kind k);
const char *mail_slot_name(enum mail_slot s);
/* A checked template rendered: its subject line and its body, with each
 * {{name}} replaced by values[slot] (NULL: nothing) as plain text. Values
 * in the subject have their line breaks turned into spaces. */
enum rc mail_template_render(const char *text, const char *const values[MAIL_SLOTS], struct buf *subject,
                             struct buf *body) WUR;
/* "NAME: " and value as RFC 2047 encoded words ("B", UTF-8) of at most
 * MAIL_WORD_BYTES bytes each, split between characters, one per folded
 * line; CRLF at the end. */
enum rc mail_header_encode(struct buf *b, const char *name, const char *value) WUR;

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
/* The message as it goes out: mail_sender's headers, then the text opened
 * from the outbox with its Message-ID in the From address's domain (a
 * message-id names the host that made it; the text is sealed before the
 * sender is known, so it carries "@privreg" until here). */
enum rc mail_compose(const struct tenant *t, const char *server_from, const struct buf *text, struct buf *out,
                     char envelope[256]) WUR;

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
