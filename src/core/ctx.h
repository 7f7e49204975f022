/*
 * ctx: what one core call works with (the connection, the tenant, the clock,
 * who acts) and the few things every core module shares: the clock, the
 * links that e-mails carry, and the end of a transaction.
 *
 * core/ is a one-way chain: a module includes only modules above it in this
 * list, never one below. scripts/check-layers reads this list and enforces
 * it (one module per line: name, two spaces, what it is for).
 *
 *   ctx         the context, the clock, links, core_end
 *   country     ISO 3166 codes and the EEA
 *   policy+policy_read+field  the policy file as plain structs, and typed values by
 *               field type (one unit: the parser checks contact e-mails
 *               with field's rule, field's types are the policy's)
 *   keep        keep-rule arithmetic: when a record is due, when IPs are cut
 *   notice      the privacy notice rendered from a policy
 *   audit       the hash-chained audit log
 *   ledger      the erasure ledger: ids of what was erased, outside the database
 *   apikey      staff API keys
 *   user        staff members' personal accounts, sign-in, sessions
 *   datakey     a subject's data key and whether its data may be used
 *   hold        legal holds
 *   record      one record: typed input to sealed row and back
 *   subject     a person and all their records; erasure
 *   mail        the outbox: letters in the subject's language
 *   consent     consent events, current state, audiences
 *   banner      the cookie banner's choices: anonymous visitors, counts
 *   disclosure  disclosures to recipients
 *   notify      systems and recipients told of changes (Art. 19)
 *   request     data-subject requests
 *   merge       two subjects that are one person into one
 *   portal      the privacy center's sign-in links and subjects' sessions
 *   retention   the sweep
 *   tenant      creating and loading a tenant; installing a policy version
 *   idempotency  the first answers to writes, for their retries
 *   backup      copies, the restore that replays the ledger, key rotation
 *   attest      signed attestations: each promise as a claim, with evidence
 *   migrate     a whole register copied to another store, verified
 *
 * Above core: sender, api and cli, which reach the store only through core
 * (opening, closing and transactions aside).
 */
#ifndef PRIVREG_CTX_H
#define PRIVREG_CTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "crypto/vault.h"

struct store;
struct store_pool;
struct policy;
struct audit_sink;
struct audit_waiter;
struct consent_flights;
struct mail_templates;

#define TENANT_NAME_MAX 64

/* One controller's register: loaded once, read-only, shared by threads. */
struct tenant {
	int64_t id;
	char name[TENANT_NAME_MAX + 1];
	struct policy *policy;
	struct vault vault;
	char *ledger;              /* its erasure ledger's path (core/ledger.h); NULL: none */
	struct mail_templates *mail; /* its own letters (controller.mail.templates, core/mail.h); NULL: the shipped */
};

/* The public routes whose links core puts in e-mails. The route table in
 * api/ owns the paths; core only joins base URL, prefix and token. */
enum core_link {
	CORE_LINK_CONFIRM,         /* double opt-in confirmation */
	CORE_LINK_UNSUBSCRIBE,     /* one-click unsubscribe (RFC 8058) */
	CORE_LINK_VERIFY,          /* identity verification of a request */
	CORE_LINK_EXPORT,          /* download of an access/portability export */
	CORE_LINK_PORTAL,          /* sign-in to the privacy center (token: "TENANT/#LINK") */
	CORE_LINK__COUNT
};

struct core_links {
	const char *base;          /* e.g. https://privacy.example.com; no trailing slash */
	const char *prefix[CORE_LINK__COUNT]; /* e.g. "/c/" */
};

/* What one core call works with. The actor is who the audit log names. */
struct core_ctx {
	struct store *store;
	const struct tenant *tenant;
	int64_t now;               /* 0: the clock; tests and imports may fix it */
	const char *key_id;        /* NULL: "cli" (an operator on the server) */
	const char *role;          /* NULL: "admin" */
	const char *purpose;       /* the purpose the caller declared, or NULL */
	struct audit_sink *sink;   /* NULL: access entries are written at once */
	struct audit_waiter *waiter; /* with a sink: counts this caller's entries */
	struct consent_flights *flights; /* NULL: a consent check by lookup asks the store itself */
	const struct core_links *links; /* NULL: no links can be made (RC_INTERNAL) */
	bool replay;               /* re-applying the erasure ledger: nothing is appended to it */
};

#define CORE_LINK_MAX 512

int64_t core_now(const struct core_ctx *c);

/* The link of route `which` for `token`, e.g. https://host/c/TOKEN. */
enum rc core_link(const struct core_ctx *c, enum core_link which, const char *token, char out[CORE_LINK_MAX]) WUR;

/* Ends the transaction the caller began with store_begin: commits when rc is
 * RC_OK (and returns the commit's rc), rolls back otherwise (and returns rc).
 * Every core change ends through here, so that no path forgets either. */
enum rc core_end(const struct core_ctx *c, enum rc rc) WUR;

/* Whether the store at url is shared by several servers (PostgreSQL), so
 * that no single-server rule applies: servers share the register lock, and
 * a sender does not take every outbox claim for itself. */
bool core_store_shared(const char *url);
/* Opening a register's store, the doors api/ and cli/ have besides
 * store_open (which makes whatever is missing: restore FILE's, tests'):
 * each checks what the database holds before anything, migrations
 * included, is written to it, so that a command naming a register's store
 * by mistake never makes an empty register there and serves it.
 * core_register_open: a register must be there (RC_NOT_FOUND: no file or no
 * schema; RC_GONE: the schema and no tenant). core_register_create: none
 * may be (RC_EXISTS: the database holds a tenant; `privreg init`).
 * core_register_pool_new: a pool whose connections open as
 * core_register_open does (the server's). */
enum rc core_register_open(const char *url, struct store **out, struct errbuf *eb) WUR;
enum rc core_register_create(const char *url, struct store **out, struct errbuf *eb) WUR;
enum rc core_register_pool_new(const char *url, struct store_pool **out, struct errbuf *eb) WUR;
/* Bytes of heap the database libraries hold, where they count it (the soak's
 * memory gauge). */
int64_t core_store_memory(void);

#endif
