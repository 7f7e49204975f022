/*
 * consent: what a subject agreed to, refused or objected to, with proof.
 *
 * Every step is an event in an append-only history with its evidence (time,
 * source, channel, the policy version in force, the wording shown, the
 * client's IP truncated to /24 or /48 and sealed, the actor); a current-state
 * row beside it answers "may we?" in one lookup. The rules, from the policy:
 * a purpose with basis consent needs a grant, and a double_opt_in purpose
 * counts only once the subject has confirmed the link e-mailed to them; an
 * objection stops an objectable or direct-marketing purpose whatever its
 * basis. A grant needs a source: there are no third-party lists.
 */
#ifndef PRIVREG_CONSENT_H
#define PRIVREG_CONSENT_H

#include <stdbool.h>

#include "core/audit.h"
#include "core/datakey.h"
#include "core/record.h"

#define CONSENT_SOURCE_MAX 200
#define CONSENT_WORDING_MAX 4000
#define CONSENT_CONFIRM_DAYS 7
#define CONSENT_UNSUBSCRIBE_DAYS 730
#define CONSENT_AUDIENCE_MAX 1000
#define CONSENT_LOOKUP_MAX 64      /* subjects sharing one lookup value in a check */

enum consent_action { CONSENT_GRANT, CONSENT_WITHDRAW, CONSENT_OBJECT, CONSENT_CONFIRM };

/* The states of a purpose (CONSENT_STATES) and the rule that reads them
 * (consent_allows) are declared in core/datakey.h: record, below consent,
 * needs them to refuse what may not be stored or read. */

struct consent_evidence {
	const char *source;        /* "checkout form"; required for a grant */
	const char *wording;       /* the text shown, or NULL */
	const char *ip;            /* the subject's address as given, or NULL */
	bool by_subject;           /* through a link, not a staff key */
	bool weighed;              /* an objection request the DPO completed: any purpose on
	                            * legitimate interest or public task (Art. 21(1)), not only
	                            * those the policy marks objectable */
};

struct consent_status {
	bool allowed;
	char state[16];            /* none, pending, granted, withdrawn, objected, unknown */
};

/* Records one step; *state gets the purpose's state after it. */
enum rc consent_record(const struct core_ctx *c, const char *subject_id, const char *purpose,
                       enum consent_action a, const struct consent_evidence *ev, char state[16],
                       struct errbuf *eb) WUR;

/* May the controller process subject_id's data for purpose? An unknown
 * subject simply is not allowed. Not audited: it returns one bit about an
 * id the caller already has (the metrics count checks). */
enum rc consent_check(const struct core_ctx *c, const char *subject_id, const char *purpose,
                      struct consent_status *out, struct errbuf *eb) WUR;
/* The same by a lookup field's value; with several subjects for one value
 * every one of them must allow it. */
enum rc consent_check_lookup(const struct core_ctx *c, const char *field, const char *value,
                             const char *purpose, struct consent_status *out, struct errbuf *eb) WUR;

/*
 * The same in two steps, so that a server need not hold a thread while the
 * database answers, and its concurrent checks share a statement. start
 * refuses an unknown purpose or field (the only errors it returns) and
 * hashes the value; with c->flights (and c->waiter) it queues the question
 * for the flights' thread, counted in c->waiter as an access entry is (the
 * caller parks until audit_waiter_park says nothing is outstanding), and
 * otherwise asks the store at once. finish then reads the answer: what
 * consent_check_lookup returns.
 */
struct consent_lookup {
	struct store_consent_query q;  /* the value's hash, the states found */
	struct store_consent_state found[CONSENT_LOOKUP_MAX + 1];
	const struct policy_purpose *purpose;
	const struct policy_field *field;
	int64_t tenant;
	bool asked;                    /* false: the value is not valid, nobody has it */
	enum rc rc;                    /* the store's */
	struct audit_waiter *waiter;
	struct consent_lookup *next;
};
enum rc consent_lookup_start(const struct core_ctx *c, const char *field, const char *value, const char *purpose,
                             struct consent_lookup *l, struct errbuf *eb) WUR;
enum rc consent_lookup_finish(const struct consent_lookup *l, struct consent_status *out, struct errbuf *eb) WUR;

/* The thread that asks the store for the checks queued by consent_lookup_
 * start, as many of one tenant and purpose as are waiting (up to
 * STORE_CONSENT_QUERIES_MAX) in one statement, on its own connection, which
 * it takes. A server on PostgreSQL runs one: there a check costs a round
 * trip, most of it fixed, which the checks of a flight share. */
struct consent_flights;
enum rc consent_flights_new(struct store *store, struct consent_flights **out) WUR;
/* Answers what is queued, then stops the thread. */
void consent_flights_free(struct consent_flights *fl);

/* A subject's current states and full history, evidence opened. */
struct consent_report {
	struct store_consent_state *states;
	size_t nstates;
	struct store_consent_event *events;
	size_t nevents;
	char (*ips)[48];           /* per event: the truncated IP, or "" */
};

enum rc consent_report(const struct core_ctx *c, const char *subject_id, struct consent_report *out,
                       struct errbuf *eb) WUR;
void consent_report_fini(struct consent_report *r);

/* Everyone currently allowed for a direct-marketing purpose, with the
 * contact for its channel and a one-click unsubscribe token. Each subject
 * handed out is logged (action consent.audience). */
struct audience_entry {
	char subject_id[TOKEN_ID_MAX];
	char contact[256];
	char unsubscribe[TOKEN_LINK_MAX];
};

enum rc consent_audience(const struct core_ctx *c, const char *purpose, const char *after,
                         struct audience_entry *out, size_t max, size_t *n, struct errbuf *eb) WUR;

/* Records that the subject accepted the terms of a policy version (NULL:
 * the one in force), as an event of the pseudo-purpose "terms". */
enum rc consent_accept_terms(const struct core_ctx *c, const char *subject_id, const char *version,
                             const struct consent_evidence *ev, struct errbuf *eb) WUR;

/* A signed link's action, for the public pages: confirm ('c' tokens, single
 * use) or unsubscribe ('u'). A confirmation confirms only the grant it was
 * sent for, while that grant is the latest one: RC_GONE for a link used
 * already or sent for an earlier grant. gpc: the browser sent Sec-GPC: 1,
 * which turns a confirmation into an objection to direct marketing. */
enum rc consent_by_link(const struct core_ctx *c, const struct token_link *l, bool gpc, const char *ip,
                        char state[16], struct errbuf *eb) WUR;


/* A merge (core/merge): from's consent history copied to into, each
 * sealed IP opened with from_key and sealed again under into_key; per
 * purpose the later current state of the two stands; from's rows go. In
 * the caller's transaction; *n the events copied. */
enum rc consent_move(const struct core_ctx *c, const char *from, const struct subject_key *from_key, const char *into,
                     const struct subject_key *into_key, size_t *n) WUR;

#endif
