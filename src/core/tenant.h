/*
 * tenant: one controller's register inside a store: its id, its policy in
 * force and its vault (keys). A loaded tenant is read-only and may be shared
 * by all threads; the per-call state (which connection, which time) travels
 * in `struct core_ctx`.
 *
 * Key files live in the register's key directory as NAME.key (0600); the
 * directory is 0700. Losing a key file loses that tenant's data.
 */
#ifndef PRIVREG_TENANT_H
#define PRIVREG_TENANT_H

#include <stdbool.h>
#include <stdint.h>

#include "base/err.h"
#include "core/ctx.h"


/* [a-z0-9_-], 1..64 characters, starting with a letter or digit. */
bool tenant_name_valid(const char *name);

/* Creates a tenant: a new key file in keydir and the policy (already checked
 * by the caller, given as its source text) as version 1. Nothing is left
 * behind on failure. */
enum rc tenant_create(struct store *s, const char *keydir, const char *name,
                      const char *policy_source, int64_t *id, struct errbuf *eb) WUR;
/* Loads a tenant, its policy in force and its key. */
enum rc tenant_open(struct store *s, const char *keydir, const char *name,
                    struct tenant **out, struct errbuf *eb) WUR;
void tenant_free(struct tenant *t);

/* Installs a new policy version (the source, already checked) for tenant
 * `name`, then queues a notice e-mail, in their language, to every subject
 * with an account (a record of a kind kept `while active`) and an e-mail
 * address. A version label already installed is refused: every version is
 * kept, and consents and acceptances point at them by label. */
enum rc tenant_install_policy(struct store *s, const char *keydir, const char *name, const char *source,
                              size_t *notices, struct errbuf *eb) WUR;

/* The door to the register's list of tenants for api/ and cli/, which never
 * call the store beyond opening it and transactions. */
struct store_tenant;

/* Every tenant of the register (store_tenants_free them). */
enum rc tenant_list(struct store *s, struct store_tenant **out, size_t *n) WUR;
/* The id of the tenant called name (the public notice names its tenant in
 * its path). RC_NOT_FOUND when the register has none. */
enum rc tenant_id_of(struct store *s, const char *name, int64_t *id) WUR;
/* tenant_open by id. RC_NOT_FOUND when the register has no such tenant. */
enum rc tenant_open_id(struct store *s, const char *keydir, int64_t id, struct tenant **out,
                       struct errbuf *eb) WUR;
/* Whether the policy version in force for t is no longer t's own (a newer
 * one was installed since t was loaded). */
enum rc tenant_policy_changed(struct store *s, const struct tenant *t, bool *changed) WUR;

/* What the register holds, per tenant: for /metrics and privreg status. */
struct tenant_status {
	int64_t id;
	char name[TENANT_NAME_MAX + 1];
	int64_t subjects, records;
	int64_t requests_open;     /* data-subject requests not yet answered */
	int64_t requests_late;     /* open ones past their deadline at `now` */
	int64_t outbox_pending;    /* e-mails not yet sent (nor dropped) */
};

/* One row per tenant (free(*out)). */
enum rc tenant_status_list(struct store *s, int64_t now, struct tenant_status **out, size_t *n) WUR;
/* The row of one loaded tenant. */
enum rc tenant_status_get(struct store *s, const struct tenant *t, int64_t now, struct tenant_status *out) WUR;

#endif
