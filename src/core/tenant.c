/* tenant: creating and loading a controller's register (see tenant.h). */
#include "core/tenant.h"
#include "core/retention.h"

#include <dirent.h>
#include <limits.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/datakey.h"
#include "core/hold.h"
#include "core/ledger.h"
#include "core/mail.h"
#include "core/request.h"
#include "core/subject.h"
#include "core/user.h"
#include "store/store.h"

bool tenant_name_valid(const char *name)
{
	size_t n = strlen(name);
	if (n < 1 || n > TENANT_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		if (!alnum && (i == 0 || (ch != '_' && ch != '-')))
			return false;
	}
	return true;
}

static void key_path(const char *keydir, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s.key", keydir, name);
}

/* DIR/templates/NAME/VERSION for the key directory DIR/keys: a tenant's
 * own mail templates, one directory per policy version, so that a server
 * still on the version before reads the letters of its own version. A
 * version label that is no plain file name is spelt in hex. */
static void templates_path(const char *keydir, const char *name, const char *version, char *out, size_t size)
{
	size_t n = strlen(keydir);
	while (n > 1 && keydir[n - 1] == '/')
		n--;
	while (n > 0 && keydir[n - 1] != '/')
		n--;
	bool plain = version[0] != '.' && strlen(version) <= 64; /* "": the tenant's directory */
	for (const char *v = version; plain && *v; v++)
		plain = (*v >= 'a' && *v <= 'z') || (*v >= 'A' && *v <= 'Z') || (*v >= '0' && *v <= '9') ||
		        *v == '.' || *v == '_' || *v == '-';
	char label[2 * 64 + 1];
	if (plain) {
		snprintf(label, sizeof label, "%s", version);
	} else {
		size_t k = 0;
		for (const unsigned char *v = (const unsigned char *)version; *v && k + 2 < sizeof label; v++)
			k += (size_t)snprintf(label + k, sizeof label - k, "%02x", *v);
	}
	snprintf(out, size, "%.*stemplates/%s%s%s", (int)n, keydir, name, version[0] ? "/" : "", label);
}

/* The tenant's own templates, written before the policy that names them is
 * committed (a server takes the new version up only once it is). */
static enum rc templates_install(const char *keydir, const char *name, const struct policy *p,
                                 const struct mail_templates *mail, struct errbuf *eb)
{
	char path[4096];
	if (!mail)
		return RC_OK;
	templates_path(keydir, name, p->version, path, sizeof path);
	enum rc rc = mail_templates_save(mail, path);
	return rc ? err_set(eb, rc, "cannot write the mail templates to %s: %s", path, strerror(errno)) : RC_OK;
}

/* KEYDIR/NAME.policy-dir: the directory of the policy file last installed,
 * against which its secret_file paths are read (the stored policy is text
 * only). */
static void policy_dir_path(const char *keydir, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s.policy-dir", keydir, name);
}

enum rc tenant_note_policy_dir(const char *keydir, const char *name, const char *policy_path, struct errbuf *eb)
{
	char *copy = xstrdup(policy_path), dir[4096], path[4200];
	char *slash = strrchr(copy, '/');
	if (slash)
		*(slash == copy ? slash + 1 : slash) = '\0';
	bool ok = realpath(slash ? copy : ".", dir) != NULL;
	free(copy);
	if (!ok)
		return err_set(eb, RC_IO, "cannot resolve the policy's directory: %s", strerror(errno));
	policy_dir_path(keydir, name, path, sizeof path);
	/* Private from its first byte, whatever the umask, as the key files are. */
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f && fd >= 0)
		close(fd);
	bool written = f && !fchmod(fileno(f), 0600) && fprintf(f, "%s\n", dir) >= 0;
	int e = errno;
	if (f && fclose(f) && written) {
		written = false;
		e = errno;
	}
	return written ? RC_OK : err_set(eb, RC_IO, "cannot write %s: %s", path, strerror(e));
}

/* The webhook secrets of t's policy, from the directory noted at install;
 * a secret that cannot be read leaves its webhooks failing (and retried)
 * with that said in their last_error, not the tenant unloaded. */
static void load_secrets(const char *keydir, struct tenant *t)
{
	const struct policy *p = t->policy;
	bool any = false;
	for (size_t i = 0; i < p->nsystems && !any; i++)
		any = p->systems[i].notify.secret_file;
	for (size_t i = 0; i < p->nrecipients && !any; i++)
		any = p->recipients[i].notify.secret_file;
	if (!any)
		return;
	char path[4200], dir[4096] = "";
	policy_dir_path(keydir, t->name, path, sizeof path);
	FILE *f = fopen(path, "r");
	if (f) {
		if (!fgets(dir, sizeof dir, f))
			dir[0] = '\0';
		fclose(f);
	}
	dir[strcspn(dir, "\n")] = '\0';
	struct policy_diags d = {0};
	if (policy_load_secrets(t->policy, dir[0] ? dir : keydir, &d))
		for (size_t i = 0; i < d.n; i++)
			log_warn("tenant=%lld policy line %d: %s", (long long)t->id, d.v[i].line, d.v[i].msg);
	policy_diags_fini(&d);
}

enum rc tenant_create(struct store *s, const char *keydir, const char *name,
                      const char *policy_source, int64_t *id, struct errbuf *eb)
{
	return tenant_create_with_mail(s, keydir, name, policy_source, NULL, id, eb);
}

enum rc tenant_create_with_mail(struct store *s, const char *keydir, const char *name, const char *policy_source,
                                const struct mail_templates *mail, int64_t *id, struct errbuf *eb)
{
	char path[4096];
	struct policy *p = NULL;
	struct store_tenant existing = {0};
	enum rc rc;
	if (!tenant_name_valid(name))
		return err_set(eb, RC_INVALID, "tenant name '%.64s' is not valid (a-z, 0-9, _ and -, at most 64)", name);
	rc = policy_parse(policy_source, strlen(policy_source), &p, NULL);
	if (rc)
		return err_set(eb, rc, "the policy is not valid: run 'privreg policy check'");
	rc = store_tenant_find(s, name, &existing);
	store_tenant_fini(&existing);
	if (rc != RC_NOT_FOUND) {
		policy_free(p);
		return rc ? rc : err_set(eb, RC_EXISTS, "tenant '%s' exists already", name);
	}
	rc = templates_install(keydir, name, p, mail, eb);
	if (rc) {
		policy_free(p);
		return rc;
	}
	key_path(keydir, name, path, sizeof path);
	rc = vault_create_file(path, eb);
	if (rc == RC_EXISTS)
		/* Left by a creation cut short (a crash or power cut after the key
		 * file was durable and before the tenant was committed), or
		 * another register's: never overwritten, the operator decides. */
		err_set(eb, rc,
		        "key file %s exists but the register has no tenant '%s': an earlier 'tenant add' or 'init' "
		        "stopped before it finished, or the file belongs to another register; move it away (keep a "
		        "copy if in doubt) and run again", path, name);
	if (rc) {
		policy_free(p);
		return rc;
	}
	int64_t now = timeutil_now();
	struct tenant t = {0};
	struct core_ctx c = {.store = s, .tenant = &t};
	rc = store_begin(s);
	if (!rc) {
		rc = store_tenant_insert(s, name, now, id);
		if (!rc)
			rc = store_policy_insert(s, *id, p->version, policy_source, now);
		/* The tenant's log starts with its own creation. */
		if (!rc)
			rc = vault_load(path, *id, &t.vault, eb);
		if (!rc) {
			t.id = *id;
			struct audit_event ev = {"tenant.create", NULL, NULL, "ok", name};
			struct audit_event pv = {"policy.install", NULL, NULL, "ok", p->version};
			rc = audit_append(&c, &ev);
			if (!rc)
				rc = audit_append(&c, &pv);
		}
		vault_fini(&t.vault);
		rc = core_end(&c, rc);
	}
	policy_free(p);
	if (rc) {
		unlink(path);
		return err_set(eb, rc, "cannot create tenant '%s': %s", name, rc_str(rc));
	}
	return RC_OK;
}

/* Walks the store's queue of rows of one kind still to seal, a batch at a
 * time; each row leaves the queue in the transaction that seals it (so the
 * walk is idempotent, and resumes where a failure left it). */
static enum rc seal_kind(const struct core_ctx *c, const char *kind,
                         enum rc (*seal_one)(const struct core_ctx *, const char *), size_t *sealed)
{
	char ids[64][TOKEN_ID_MAX];
	size_t n = 0;
	*sealed = 0;
	do {
		enum rc rc = store_seal_queue_next(c->store, c->tenant->id, kind, ids, 64, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			rc = store_begin(c->store);
			if (rc)
				return rc;
			rc = seal_one(c, ids[i]);
			if (rc == RC_NOT_FOUND)
				rc = RC_OK; /* gone since */
			if (!rc)
				rc = store_seal_queue_done(c->store, c->tenant->id, kind, ids[i]);
			rc = core_end(c, rc);
			if (!rc)
				(*sealed)++;
		}
		if (rc)
			return rc;
	} while (n == 64);
	return RC_OK;
}

/* Text that staff wrote about people before schema 9 is sealed under their
 * keys the first time the keys are loaded. A failure (a read-only register,
 * say) is logged and left for the next load: the rows still read as they
 * did. */
static void seal_queued(struct store *s, const struct tenant *t)
{
	struct core_ctx c = {.store = s, .tenant = t};
	size_t requests = 0, holds = 0, users = 0;
	if (seal_kind(&c, "request", request_seal_one, &requests) || seal_kind(&c, "hold", hold_seal_one, &holds) ||
	    seal_kind(&c, "user", user_seal_one, &users))
		log_warn("sealing the free text of old rows failed tenant=%lld: left for the next start", (long long)t->id);
	else if (requests || holds || users)
		log_info("sealed the free text of %zu requests and %zu holds, and %zu staff TOTP secrets tenant=%lld",
		         requests, holds, users, (long long)t->id);
}

enum rc tenant_open(struct store *s, const char *keydir, const char *name,
                    struct tenant **out, struct errbuf *eb)
{
	struct store_tenant row = {0};
	char *version = NULL, *source = NULL;
	char path[4096];
	*out = NULL;
	enum rc rc = store_tenant_find(s, name, &row);
	if (rc == RC_NOT_FOUND)
		return err_set(eb, rc, "no tenant '%.64s'", name);
	if (rc)
		return err_set(eb, rc, "cannot read tenant '%.64s'", name);
	struct tenant *t = xcalloc(1, sizeof *t);
	t->id = row.id;
	snprintf(t->name, sizeof t->name, "%s", row.name);
	store_tenant_fini(&row);
	rc = store_policy_current(s, t->id, &version, &source);
	if (rc) {
		err_set(eb, rc, "tenant '%s' has no policy", t->name);
		goto out;
	}
	rc = policy_parse(source, strlen(source), &t->policy, NULL);
	if (rc) {
		err_set(eb, rc, "the stored policy of tenant '%s' does not parse", t->name);
		goto out;
	}
	load_secrets(keydir, t);
	key_path(keydir, t->name, path, sizeof path);
	rc = vault_load(path, t->id, &t->vault, eb);
	if (!rc) {
		ledger_path(keydir, t->name, path, sizeof path);
		t->ledger = xstrdup(path);
	}
	if (!rc && t->policy->controller.mail_templates) {
		templates_path(keydir, t->name, t->policy->version, path, sizeof path);
		if (mail_templates_load(path, t->policy, &t->mail, NULL))
			log_warn("tenant=%lld: its mail templates in %s cannot be read or are not valid: the shipped ones are "
			         "used until the policy is installed again with them", (long long)t->id, path);
	}
	if (!rc)
		seal_queued(s, t);
out:
	free(version);
	free(source);
	if (rc) {
		tenant_free(t);
		return rc;
	}
	*out = t;
	return RC_OK;
}

void tenant_free(struct tenant *t)
{
	if (!t)
		return;
	policy_free(t->policy);
	vault_fini(&t->vault);
	free(t->ledger);
	mail_templates_free(t->mail);
	free(t);
}

#define NOTICE_PAGE 200

enum rc tenant_install_policy(struct store *s, const char *keydir, const char *name, const char *source,
                              size_t *notices, struct errbuf *eb)
{
	return tenant_install_policy_with_mail(s, keydir, name, source, NULL, notices, eb);
}

enum rc tenant_install_policy_with_mail(struct store *s, const char *keydir, const char *name, const char *source,
                                        const struct mail_templates *mail, size_t *notices, struct errbuf *eb)
{
	struct policy *p = NULL;
	struct tenant *t = NULL;
	*notices = 0;
	enum rc rc = policy_parse(source, strlen(source), &p, NULL);
	if (rc)
		return err_set(eb, rc, "the policy is not valid: run 'privreg policy check'");
	rc = tenant_open(s, keydir, name, &t, eb);
	if (!rc && store_policy_version_exists(s, t->id, p->version) == RC_OK)
		rc = err_set(eb, RC_CONFLICT, "version '%s' is installed already: give the new policy its own version",
		             p->version);
	if (!rc)
		rc = templates_install(keydir, name, p, mail, eb);
	if (!rc) {
		struct core_ctx c = {.store = s, .tenant = t};
		struct audit_event ev = {"policy.install", NULL, NULL, "ok", p->version};
		rc = store_begin(s);
		if (!rc)
			rc = store_policy_insert(s, t->id, p->version, source, timeutil_now());
		if (!rc)
			rc = audit_append(&c, &ev);
		rc = core_end(&c, rc);
	}
	policy_free(p);
	tenant_free(t);
	t = NULL;
	/* The notices speak of the new version: load the tenant again. */
	if (!rc)
		rc = tenant_open(s, keydir, name, &t, eb);
	char after[TOKEN_ID_MAX] = "", (*ids)[TOKEN_ID_MAX] = xcalloc(NOTICE_PAGE, sizeof *ids);
	struct core_ctx c = {.store = s, .tenant = t};
	/* Records written under the old keep rules go by the new ones now. */
	size_t moved = 0;
	if (!rc)
		rc = retention_recompute(&c, &moved);
	for (size_t n = NOTICE_PAGE; !rc && n == NOTICE_PAGE;) {
		rc = store_subjects_page(s, t->id, after, ids, NOTICE_PAGE, &n);
		if (!rc)
			rc = store_begin(s);
		for (size_t i = 0; !rc && i < n; i++) {
			struct subject_key key;
			char contact[256], lang[8];
			bool account = false;
			memcpy(after, ids[i], TOKEN_ID_MAX);
			if (datakey_unwrap(&c, ids[i], &key, NULL))
				continue; /* erased */
			rc = subject_contact(&c, ids[i], &key, CHANNEL_EMAIL, contact, lang, &account);
			if (!rc && account && contact[0]) {
				struct mail_args a = {.kind = MAIL_POLICY_NOTICE, .to = contact, .lang = lang};
				rc = mail_queue(&c, ids[i], &key, &a);
				if (!rc)
					(*notices)++;
			}
			vault_subject_key_wipe(&key);
		}
		rc = core_end(&c, rc);
	}
	if (!rc) {
		char detail[64];
		snprintf(detail, sizeof detail, "queued=%zu", *notices);
		struct audit_event ev = {"policy.notices", NULL, NULL, "ok", detail};
		rc = store_begin(s);
		if (!rc)
			rc = core_end(&c, audit_append(&c, &ev));
	}
	free(ids);
	tenant_free(t);
	return rc;
}

enum rc tenant_list(struct store *s, struct store_tenant **out, size_t *n)
{
	return store_tenant_list(s, out, n);
}

enum rc tenant_id_of(struct store *s, const char *name, int64_t *id)
{
	struct store_tenant row = {0};
	if (!tenant_name_valid(name))
		return RC_NOT_FOUND;
	enum rc rc = store_tenant_find(s, name, &row);
	if (!rc)
		*id = row.id;
	store_tenant_fini(&row);
	return rc;
}

enum rc tenant_open_id(struct store *s, const char *keydir, int64_t id, struct tenant **out, struct errbuf *eb)
{
	struct store_tenant *v = NULL;
	size_t n = 0;
	const char *name = NULL;
	*out = NULL;
	enum rc rc = store_tenant_list(s, &v, &n);
	for (size_t i = 0; !rc && i < n; i++)
		if (v[i].id == id)
			name = v[i].name;
	if (!rc && !name)
		rc = err_set(eb, RC_NOT_FOUND, "no tenant with id %lld", (long long)id);
	else if (!rc)
		rc = tenant_open(s, keydir, name, out, eb);
	store_tenants_free(v, n);
	return rc;
}

enum rc tenant_policy_changed(struct store *s, const struct tenant *t, bool *changed)
{
	char *version = NULL, *source = NULL;
	enum rc rc = store_policy_current(s, t->id, &version, &source);
	*changed = !rc && strcmp(version, t->policy->version) != 0;
	free(version);
	free(source);
	return rc;
}

/* Fills everything of st but its id and name. */
static enum rc status_counts(struct store *s, int64_t now, struct tenant_status *st)
{
	size_t nopen;
	const char *const *open = request_open_names(&nopen);
	struct store_counts c = {0};
	enum rc rc = store_counts(s, st->id, &c);
	st->subjects = c.subjects;
	st->records = c.records;
	if (!rc)
		rc = store_request_counts(s, st->id, open, nopen, now, &st->requests_open, &st->requests_late);
	if (!rc)
		rc = store_outbox_backlog(s, st->id, &st->outbox_pending);
	return rc;
}

enum rc tenant_status_list(struct store *s, int64_t now, struct tenant_status **out, size_t *n)
{
	struct store_tenant *v = NULL;
	size_t nv = 0;
	*out = NULL;
	*n = 0;
	enum rc rc = store_tenant_list(s, &v, &nv);
	struct tenant_status *st = rc ? NULL : xcalloc(nv ? nv : 1, sizeof *st);
	for (size_t i = 0; !rc && i < nv; i++) {
		st[i].id = v[i].id;
		snprintf(st[i].name, sizeof st[i].name, "%s", v[i].name);
		rc = status_counts(s, now, &st[i]);
	}
	store_tenants_free(v, nv);
	if (rc) {
		free(st);
		return rc;
	}
	*out = st;
	*n = nv;
	return RC_OK;
}

enum rc tenant_status_get(struct store *s, const struct tenant *t, int64_t now, struct tenant_status *out)
{
	*out = (struct tenant_status){.id = t->id};
	snprintf(out->name, sizeof out->name, "%s", t->name);
	return status_counts(s, now, out);
}

enum rc tenant_delete_plan(struct store *s, const char *name, struct tenant_status *counts, struct errbuf *eb)
{
	struct store_tenant row = {0};
	memset(counts, 0, sizeof *counts);
	enum rc rc = store_tenant_find(s, name, &row);
	if (rc == RC_NOT_FOUND)
		return err_set(eb, rc, "no tenant '%.64s'", name);
	if (rc)
		return err_set(eb, rc, "cannot read tenant '%.64s'", name);
	counts->id = row.id;
	snprintf(counts->name, sizeof counts->name, "%s", row.name);
	store_tenant_fini(&row);
	return status_counts(s, timeutil_now(), counts);
}

/* Overwrites a key file, syncs it and unlinks it; absent is fine. */
static enum rc destroy_file(const char *path, const char *name, struct errbuf *eb)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? RC_OK : err_set(eb, RC_IO, "cannot open a key file of '%s': %s", name,
		                                          strerror(errno));
	struct stat sb;
	bool ok = fstat(fd, &sb) == 0;
	char zeros[512] = {0};
	for (off_t done = 0; ok && done < sb.st_size; done += (off_t)sizeof zeros)
		ok = write(fd, zeros, sizeof zeros) == (ssize_t)sizeof zeros;
	ok = ok && fsync(fd) == 0;
	close(fd);
	if (!ok || unlink(path) != 0)
		return err_set(eb, RC_IO, "cannot destroy a key file of '%s': %s", name, strerror(errno));
	return RC_OK;
}

/* Destroys the tenant's key file and every epoch key beside it
 * (NAME.epoch-N.key, vault.h), then syncs the directory: once this returns,
 * no copy of the tenant's rows can be opened. */
static enum rc destroy_key(const char *keydir, const char *name, struct errbuf *eb)
{
	char path[4096], prefix[300];
	key_path(keydir, name, path, sizeof path);
	enum rc rc = destroy_file(path, name, eb);
	snprintf(prefix, sizeof prefix, "%s.epoch-", name);
	DIR *d = rc ? NULL : opendir(keydir);
	if (!rc && !d)
		rc = err_set(eb, RC_IO, "cannot read the key directory: %s", strerror(errno));
	for (struct dirent *e; !rc && d && (e = readdir(d));) {
		size_t len = strlen(e->d_name);
		if (strncmp(e->d_name, prefix, strlen(prefix)) || len < 4 || strcmp(e->d_name + len - 4, ".key"))
			continue;
		snprintf(path, sizeof path, "%s/%s", keydir, e->d_name);
		rc = destroy_file(path, name, eb);
	}
	if (d)
		closedir(d);
	if (rc)
		return rc;
	int dfd = open(keydir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	bool ok = dfd >= 0 && fsync(dfd) == 0;
	if (dfd >= 0)
		close(dfd);
	return ok ? RC_OK : err_set(eb, RC_IO, "cannot sync the key directory: %s", strerror(errno));
}

enum rc tenant_delete(struct store *s, const char *keydir, const char *name, struct tenant_status *counts,
                      int64_t *rows, struct errbuf *eb)
{
	*rows = 0;
	enum rc rc = tenant_delete_plan(s, name, counts, eb);
	if (!rc)
		rc = destroy_key(keydir, name, eb);
	if (rc)
		return rc;
	log_info("tenant.delete tenant=%lld key destroyed", (long long)counts->id);
	rc = store_begin(s);
	if (!rc) {
		struct core_ctx c = {.store = s};
		rc = core_end(&c, store_tenant_delete(s, counts->id, timeutil_now(), rows));
	}
	if (rc)
		return err_set(eb, rc, "the key of '%s' is destroyed, but its rows could not be deleted (%s): run the "
		               "delete again", name, rc_str(rc));
	/* The deleted pages leave the WAL for the database file. */
	if (store_sync(s))
		log_warn("checkpoint after tenant delete failed tenant=%lld", (long long)counts->id);
	/* Its erasure ledger goes too: a later tenant of the same name starts
	 * its own (the ledger is named by the tenant), and no copy of the
	 * deleted tenant can be opened to replay it into. */
	char path[4200];
	if (ledger_remove(keydir, name))
		log_warn("tenant delete tenant=%lld: cannot remove its erasure ledger", (long long)counts->id);
	/* And its mail templates: a later tenant of the same name writes its own. */
	templates_path(keydir, name, "", path, sizeof path);
	if (mail_templates_remove(path))
		log_warn("tenant delete tenant=%lld: cannot remove its mail templates", (long long)counts->id);
	return RC_OK;
}

enum rc tenant_subjects_page(const struct core_ctx *c, const char *after, char (*ids)[TOKEN_ID_MAX], size_t max,
                             size_t *n)
{
	return store_subjects_page(c->store, c->tenant->id, after, ids, max, n);
}

enum rc tenant_policy_source(const struct core_ctx *c, char **source)
{
	char *version = NULL;
	enum rc rc = store_policy_current(c->store, c->tenant->id, &version, source);
	free(version);
	return rc;
}

enum rc tenant_controllers(struct store *s, struct tenant_controller **out, size_t *n)
{
	struct store_tenant *v = NULL;
	size_t nv = 0;
	*out = NULL;
	*n = 0;
	enum rc rc = store_tenant_list(s, &v, &nv);
	struct tenant_controller *tc = rc ? NULL : xcalloc(nv ? nv : 1, sizeof *tc);
	size_t k = 0;
	for (size_t i = 0; !rc && i < nv; i++) {
		char *version = NULL, *source = NULL;
		tc[k].id = v[i].id;
		snprintf(tc[k].name, sizeof tc[k].name, "%s", v[i].name);
		rc = store_policy_current(s, v[i].id, &version, &source);
		if (!rc && policy_parse(source, strlen(source), &tc[k].policy, NULL) == RC_OK)
			k++;
		else if (!rc)
			log_warn("tenant=%lld: its stored policy does not parse; left out", (long long)v[i].id);
		free(version);
		free(source);
	}
	store_tenants_free(v, nv);
	if (rc) {
		tenant_controllers_free(tc, k);
		return rc;
	}
	*out = tc;
	*n = k;
	return RC_OK;
}

void tenant_controllers_free(struct tenant_controller *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		policy_free(v[i].policy);
	free(v);
}
