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
#include "crypto/token.h"


/* [a-z0-9_-], 1..64 characters, starting with a letter or digit. */
bool tenant_name_valid(const char *name);

/* Creates a tenant: a new key file in keydir and the policy (already checked
 * by the caller, given as its source text) as version 1. Nothing is left
 * behind on failure. */
enum rc tenant_create(struct store *s, const char *keydir, const char *name,
                      const char *policy_source, int64_t *id, struct errbuf *eb) WUR;
/* tenant_create, and tenant_install_policy below, with the tenant's own
 * mail templates (mail_templates_load, checked against this policy; NULL:
 * the shipped ones). They are kept beside the key directory DIR/keys as
 * DIR/templates/NAME/VERSION/LANG/MESSAGE.txt, written before the policy
 * version that names them is committed, and read by tenant_open. */
struct mail_templates;
enum rc tenant_create_with_mail(struct store *s, const char *keydir, const char *name, const char *policy_source,
                                const struct mail_templates *mail, int64_t *id, struct errbuf *eb) WUR;
/* Notes the directory of the policy file just installed for tenant `name`
 * (KEYDIR/NAME.policy-dir): the policy's secret_file paths are relative to
 * it, and tenant_open reads the webhook secrets from there. */
enum rc tenant_note_policy_dir(const char *keydir, const char *name, const char *policy_path,
                               struct errbuf *eb) WUR;
/* Loads a tenant, its policy in force and its key (and its webhook secrets). */
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
enum rc tenant_install_policy_with_mail(struct store *s, const char *keydir, const char *name, const char *source,
                                        const struct mail_templates *mail, size_t *notices, struct errbuf *eb) WUR;

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

/*
 * Deleting a tenant (a processor's duty at the end of the service, Art.
 * 28(3)(g)): its master key is destroyed first (the key file overwritten,
 * fsync'd, unlinked, and the directory fsync'd), so that no copy of its
 * rows, a backup's included, can be opened again; then every row of the
 * tenant goes, in one transaction, and a tombstone keeps its id from being
 * given again. A delete that stopped between the two is finished by running
 * it again (a missing key file is no error). `counts` gets what the tenant
 * held (tenant_status), *rows the rows deleted.
 */
enum rc tenant_delete(struct store *s, const char *keydir, const char *name, struct tenant_status *counts,
                      int64_t *rows, struct errbuf *eb) WUR;
/* What tenant_delete would delete, without deleting anything. */
enum rc tenant_delete_plan(struct store *s, const char *name, struct tenant_status *counts, struct errbuf *eb) WUR;

/* For an export of the whole tenant (`privreg tenant export`): its subjects'
 * ids, a page at a time after `after` ("" to start), and the policy text in
 * force (free() *source). */
enum rc tenant_subjects_page(const struct core_ctx *c, const char *after, char (*ids)[TOKEN_ID_MAX], size_t max,
                             size_t *n) WUR;
enum rc tenant_policy_source(const struct core_ctx *c, char **source) WUR;

/* Every tenant with its policy in force, keys not loaded: for the
 * processor's record of processing (Art. 30(2)), which names every
 * controller the register serves. */
struct tenant_controller {
	int64_t id;
	char name[TENANT_NAME_MAX + 1];
	struct policy *policy;
};

enum rc tenant_controllers(struct store *s, struct tenant_controller **out, size_t *n) WUR;
void tenant_controllers_free(struct tenant_controller *v, size_t n);

#endif
