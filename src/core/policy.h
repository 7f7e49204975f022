/*
 * policy: the parsed policy file (see docs/policy.md), as plain C structs.
 *
 * A policy is immutable once parsed and owned by one arena: every string and
 * array in it lives until policy_free. References between sections (a record
 * kind's fields, a recipient's purposes) are pointers into the same policy, so
 * a parsed policy is always internally consistent: parsing fails rather than
 * leave a dangling name. Diagnostics name the 1-based line of each mistake.
 */
#ifndef PRIVREG_POLICY_H
#define PRIVREG_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "base/arena.h"
#include "base/err.h"
#include "base/timeutil.h"

enum field_type {
	FT_TEXT, FT_EMAIL, FT_PHONE, FT_DATE, FT_DATETIME, FT_ENUM, FT_DECIMAL,
	FT_INTEGER, FT_BOOL, FT_IP, FT_COUNTRY, FT_JSON,
};

enum legal_basis {
	BASIS_CONSENT, BASIS_CONTRACT, BASIS_LEGAL_OBLIGATION,
	BASIS_LEGITIMATE_INTEREST, BASIS_VITAL_INTEREST, BASIS_PUBLIC_TASK,
};

enum channel { CHANNEL_NONE, CHANNEL_EMAIL, CHANNEL_SMS, CHANNEL_PHONE, CHANNEL_POST, CHANNEL_PUSH };
enum recipient_role { RECIPIENT_PROCESSOR, RECIPIENT_CONTROLLER, RECIPIENT_AUTHORITY };
enum transfer_basis { TRANSFER_NONE, TRANSFER_ADEQUACY, TRANSFER_SCC, TRANSFER_BCR };
enum keep_rule { KEEP_AFTER_EVENT, KEEP_WHILE_ACTIVE };
enum then_action { THEN_DELETE, THEN_ANONYMIZE };
/* How an anonymised record keeps a value: as it was (numbers and texts
 * unless told), or coarser, so that it cannot be matched back to a kept
 * record of the same person (an accounting entry with the same time and
 * amount next to the name). */
enum generalize { GEN_KEEP, GEN_MONTH, GEN_YEAR, GEN_ROUND };

/* Default cap of a `text` field that names no `max`, in characters. */
#define POLICY_TEXT_DEFAULT_MAX 1000
#define POLICY_TEXT_MAX_MAX 1000000
/* A policy file larger than this is refused unread. */
#define POLICY_FILE_MAX (1024 * 1024)
#define POLICY_DEPTH_MAX 64   /* nested mappings and sequences, counted before parsing */
#define POLICY_EVENTS_MAX 32  /* events a record kind declares */

struct policy_text {          /* one translation of a title */
	const char *lang;
	const char *text;
};

struct policy_title {
	struct policy_text *v;
	size_t n;
};

struct policy_keep {
	enum keep_rule rule;
	struct duration period;   /* KEEP_AFTER_EVENT: N unit; WHILE_ACTIVE: grace */
	const char *event;        /* KEEP_AFTER_EVENT: "created", "fulfilled"... */
	/* "N unit after end of financial year of EVENT": the period counts from
	 * the end of the financial year in which EVENT fell (the day after
	 * controller.financial_year_end, 00:00 UTC), as bookkeeping laws do. */
	bool financial_year;
	int fy_month, fy_day;     /* financial_year: the year's last day (copied from the controller) */
};

struct policy_field {
	const char *name;
	enum field_type type;
	int max;                  /* text: characters */
	const char **values;      /* enum */
	size_t nvalues;
	bool lookup;
	bool unique;              /* lookup: at most one subject may hold a value (default false) */
	bool has_truncate;        /* ip */
	struct duration truncate_after;
	struct policy_title title;
	struct policy_title source;  /* where it comes from when not from the person (Art. 14(2)(f)); n 0: from them */
	int line;
};

struct policy_purpose {
	const char *name;
	enum legal_basis basis;
	enum channel channel;     /* a purpose with a channel is direct marketing */
	bool double_opt_in;
	bool objectable;          /* explicit, or implied by direct marketing */
	struct policy_title title;
	struct policy_title interest; /* legitimate_interest: the interest itself (Art. 13(1)(d)); n 0: not said */
	int line;
};

/* `generalize:` of a record kind: one kept field (or created_at: field NULL). */
struct policy_generalize {
	const struct policy_field *field;
	enum generalize how;
	int round;                /* GEN_ROUND: to the nearest multiple of it */
	int line;
};

/* An event a record kind declares (`events:`), beside the one its keep rule
 * names: a date the record can be given ({"events": {NAME: DATE}}). */
struct policy_event {
	const char *name;
	struct policy_title title;
	int line;
};

struct policy_record {
	const char *name;
	const struct policy_field **fields;
	size_t nfields;
	const struct policy_field **required;
	size_t nrequired;
	const struct policy_purpose **purposes;
	size_t npurposes;
	struct policy_keep keep;
	enum then_action then;
	const struct policy_field **keep_fields;
	size_t nkeep_fields;
	struct policy_generalize *generalize; /* per kept field, as declared */
	size_t ngeneralize;
	enum generalize created_generalize;  /* created_at of an anonymised record: GEN_MONTH unless told */
	bool linked;              /* false: stored detached, no person behind it (statistics) */
	bool erasable;
	/* erasable: false: the law that makes the controller keep it, per
	 * language or one text for all ("Raamatupidamise seadus § 12"); n 0
	 * when not given. Told to a subject whose erasure keeps it. */
	struct policy_title legal_reference;
	struct policy_event *events;  /* declared in `events:` (may include the keep rule's) */
	size_t nevents;
	struct policy_title title;
	/* Notice texts, n 0 when not given: whether giving this data is a legal
	 * or contractual requirement and what follows from not giving it (Art.
	 * 13(2)(e)); where it comes from when not from the person (Art. 14). */
	struct policy_title provision, source;
	int line;
};

/* How a system or recipient is told of changes to a subject's data (GDPR
 * Art. 19): a signed webhook (Standard Webhooks) or an e-mail. Both NULL:
 * not told. The secret is read from secret_file (relative to the policy's
 * directory) by policy_load_secrets; has_secret false until then. */
#define POLICY_SECRET_MAX 64
#define POLICY_URL_MAX 2000
struct policy_notify {
	const char *webhook;      /* http:// or https:// URL, or NULL */
	const char *email;        /* an address, or NULL */
	const char *secret_file;  /* webhook: the file holding whsec_<base64 key>, as written */
	unsigned char secret[POLICY_SECRET_MAX];
	size_t secret_len;
	bool has_secret;
	int line;
};

/* `systems:` (optional): the company's own systems that hold copies of
 * subjects' data (the shop's database, the newsletter tool), by the record
 * kinds and fields they hold, and how each is told of changes. */
struct policy_system {
	const char *name;
	const struct policy_record **records;
	size_t nrecords;
	const struct policy_field **fields;
	size_t nfields;
	struct policy_notify notify;
	int line;
};

struct policy_recipient {
	const char *name;
	enum recipient_role role;
	const struct policy_purpose **purposes;
	size_t npurposes;
	const struct policy_field **fields;
	size_t nfields;
	char country[3];
	enum transfer_basis transfer;
	bool dpf;                 /* a US recipient certified under the EU-US Data Privacy Framework */
	const char *contract;     /* may be NULL */
	struct policy_title title;      /* a name readers understand; n 0: none given */
	struct policy_title safeguards; /* how to get a copy of the transfer's safeguards (Art. 13(1)(f)) */
	struct policy_notify notify;    /* `notify:` (optional): how it is told of changes (Art. 19) */
	int line;
};

struct policy_cookie {
	const char *name;
	const struct policy_purpose **purposes;
	size_t npurposes;
	bool consent;
	struct policy_title title;
	const char **names;       /* the cookies' own names (`_ga`), as set in the browser */
	size_t nnames;
	enum { COOKIE_LIFE_UNSAID, COOKIE_LIFE_SESSION, COOKIE_LIFE_PERIOD } life;
	struct duration lifetime; /* COOKIE_LIFE_PERIOD */
	struct policy_title third_party; /* who sets or reads it, when not the controller; n 0: the controller */
	int line;
};

/* A collection point of consents (`consent_sources:`): where and how a
 * grant is given, with the wording shown there, per language, and its
 * version. A policy that declares them accepts no other source (no
 * third-party lists). */
struct policy_consent_source {
	const char *name;
	const char *version;
	struct policy_title wording;
	struct policy_title title;            /* optional */
	const struct policy_purpose **purposes; /* the consent purposes it collects; none listed: all of them */
	size_t npurposes;
	int line;
};

struct policy_controller {
	const char *name, *code, *address, *email, *dpo; /* code, address, dpo may be NULL */
	const char *phone;        /* may be NULL */
	const char *authority_name, *authority_email, *authority_url;
	int fy_month, fy_day;     /* financial_year_end, default 12-31 */
	/* controller.mail (optional): the From and Reply-To of the tenant's
	 * e-mails. NULL: the server's sender, and `email` as the Reply-To. */
	const char *mail_from_name;  /* may be NULL with mail_from set */
	const char *mail_from;       /* the address alone */
	const char *mail_reply_to;
	/* controller.mail.templates (optional): the directory of the tenant's
	 * own mail templates, relative to the policy file (core/mail.h). */
	const char *mail_templates;
};

struct policy_requests {
	struct duration answer_within;
	struct duration extend_up_to;
	bool has_target;
	struct duration target;
	bool has_keep;
	struct policy_keep keep;
};

/* automated_decisions: what the policy declares about automated decisions and
 * profiling (Art. 13(2)(f)). Undeclared, the notice says nothing either way. */
enum policy_automated { AUTOMATED_UNDECLARED, AUTOMATED_NONE, AUTOMATED_DECLARED };

/* `backups:` (optional): how long the controller keeps database copies.
 * With it, the wrapping key rotates every rotate_every and an old epoch's
 * key is destroyed once the epoch after it is older than keep, so a copy
 * cannot be read after keep + rotate_every at most (core/backup.h).
 * Without it nothing rotates by itself and no key is destroyed. */
struct policy_backups {
	bool has_keep;
	struct duration keep;
	struct duration rotate_every; /* default 7 days */
};

struct policy {
	struct arena arena;
	const char *version;
	const char *date;         /* `date:` YYYY-MM-DD, the version's date; may be NULL */
	enum policy_automated automated;
	struct policy_title automated_text; /* AUTOMATED_DECLARED: the logic and what follows */
	struct policy_controller controller;
	const char **languages;   /* first is the default */
	size_t nlanguages;
	int min_age;              /* 0: none */
	struct policy_requests requests;
	struct policy_backups backups;
	struct policy_field *fields;
	size_t nfields;
	struct policy_purpose *purposes;
	size_t npurposes;
	struct policy_record *records;
	size_t nrecords;
	struct policy_recipient *recipients;
	size_t nrecipients;
	struct policy_cookie *cookies;
	size_t ncookies;
	struct policy_consent_source *consent_sources; /* none: any source (as before the key existed) */
	size_t nconsent_sources;
	struct policy_system *systems; /* none: no system of the company's own is told of changes */
	size_t nsystems;
};

struct policy_diag {
	int line;                 /* 1-based; 1 also when the file as a whole is meant */
	char msg[240];
};

struct policy_diags {
	struct policy_diag *v;
	size_t n, alloc;
};

void policy_diags_fini(struct policy_diags *d);

/* What a valid policy leaves unsaid that its notice should say: a field,
 * kind, purpose, event or recipient without a title in one of the
 * languages (the notice would show its raw name), a legitimate-interest
 * purpose without its `interest`, no `automated_decisions` declaration.
 * Appends one diagnostic per gap, in file order; none refuses the policy. */
void policy_warnings(const struct policy *p, struct policy_diags *out);

/* Parses and validates. On any mistake returns RC_POLICY, *out stays NULL and
 * diags (if given) lists every mistake found, in file order. */
enum rc policy_parse(const char *text, size_t len, struct policy **out,
                     struct policy_diags *diags) WUR;
/* Reads FILE (at most POLICY_FILE_MAX bytes) and parses it; *source gets the
 * file's text (free() it) when source is not NULL. */
enum rc policy_load(const char *path, struct policy **out, char **source,
                    struct policy_diags *diags) WUR;
void policy_free(struct policy *p);
/* Reads the webhook secrets the policy's systems and recipients name
 * (secret_file, relative to dir or absolute): each must exist and hold
 * whsec_<base64 key>. Every mistake is appended to diags (line of the
 * secret_file key); RC_POLICY if any. policy_load calls it with the file's
 * directory; a server calls it with the directory recorded at install. */
enum rc policy_load_secrets(struct policy *p, const char *dir, struct policy_diags *diags) WUR;
const struct policy_system *policy_system(const struct policy *p, const char *name);
/* Whether system y holds field f of a record of kind r (the kind's fields,
 * or a field named on its own). */
bool policy_system_holds(const struct policy_system *y, const struct policy_record *r, const struct policy_field *f);

const struct policy_field *policy_field(const struct policy *p, const char *name);
const struct policy_purpose *policy_purpose(const struct policy *p, const char *name);
const struct policy_record *policy_record(const struct policy *p, const char *name);
const struct policy_recipient *policy_recipient(const struct policy *p, const char *name);
const struct policy_consent_source *policy_consent_source(const struct policy *p, const char *name);
/* Whether the source collects consents to u. */
bool policy_consent_source_covers(const struct policy_consent_source *s, const struct policy_purpose *u);
/* The title in lang, else its first translation, else fallback. */
const char *policy_title_in(const struct policy_title *t, const char *lang, const char *fallback);
bool policy_record_has_field(const struct policy_record *r, const struct policy_field *f);
/* The event its keep rule counts from: "created", "closed" (while active)
 * or the rule's EVENT. */
const char *policy_record_keep_event(const struct policy_record *r);
/* The events a record of kind r may be given: its keep rule's (not
 * "created", which is created_at) and those it declares. Writes at most max
 * names to out (the keep rule's first); returns how many there are. */
size_t policy_record_events(const struct policy_record *r, const char **out, size_t max);
bool policy_record_allows_event(const struct policy_record *r, const char *name);
/* The declared event called name, or NULL (the keep rule's own event has
 * one only when it is declared too, to give it a title). */
const struct policy_event *policy_record_event(const struct policy_record *r, const char *name);

const char *policy_field_type_name(enum field_type t);
const char *policy_basis_name(enum legal_basis b);
const char *policy_channel_name(enum channel c);
const char *policy_role_name(enum recipient_role r);
const char *policy_transfer_name(enum transfer_basis t);
const char *policy_then_name(enum then_action t);
/* "3 years after created", "while active", "while active + 30 days". */
void policy_keep_format(const struct policy_keep *k, char *out, size_t size);

#endif
