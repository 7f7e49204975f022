/* backup: copies, the restore that replays the erasure ledger, key rotation (see backup.h). */
#include "core/backup.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/policy.h"
#include "core/retention.h"
#include "core/subject.h"
#include "core/tenant.h"
#include "store/store.h"

enum rc backup_take(struct store *s, const char *path, struct errbuf *eb)
{
	return store_backup_to(s, path, eb);
}

enum rc backup_restore(struct store *s, const char *path, struct errbuf *eb)
{
	return store_restore_from(s, path, eb);
}

/* One ledger entry, again, in the caller's transaction. What the copy no
 * longer has (erased before it was taken, or never there) is no error. */
static enum rc replay_one(const struct core_ctx *c, const struct ledger_entry *e, struct errbuf *eb)
{
	enum rc rc = RC_OK;
	switch (e->kind) {
	case LEDGER_SUBJECT_ERASE: {
		struct subject_erasure er;
		rc = subject_erase_for(c, e->subject, e->request[0] ? e->request : NULL, &er, eb);
		if (!rc)
			subject_erasure_fini(&er);
		if (rc != RC_GONE && rc != RC_CRYPTO)
			break;
		/* Its key no longer opens (its epoch's key was destroyed): the rows
		 * are unreadable; they go with the subject. */
		if (eb)
			eb->msg[0] = '\0';
		rc = subject_delete(c, e->subject, eb);
		break;
	}
	case LEDGER_SUBJECT_DELETE:
		rc = subject_delete(c, e->subject, eb);
		break;
	case LEDGER_RECORD_DELETE:
	case LEDGER_RECORD_ANONYMIZE:
		rc = retention_replay(c, e->record, e->kind == LEDGER_RECORD_ANONYMIZE);
		break;
	case LEDGER_KIND__COUNT:
		rc = RC_INTERNAL;
		break;
	}
	if (rc == RC_NOT_FOUND) {
		if (eb)
			eb->msg[0] = '\0';
		rc = RC_OK;
	}
	return rc;
}

/* Whether tenant `name` has a ledger file (or the database a position in
 * one): else there is nothing to check, and its key need not be loaded. */
static enum rc has_ledger(struct store *s, const char *keydir, const struct store_tenant *row, int64_t *pos,
                          bool *has)
{
	char path[4200];
	struct stat st;
	enum rc rc = store_ledger_position(s, row->id, pos);
	ledger_path(keydir, row->name, path, sizeof path);
	*has = *pos > 0 || stat(path, &st) == 0;
	return rc;
}

/* The ranges of lines this database's position passed without applying
 * them (core/ledger.h), each applied and deleted in one transaction, so
 * that none is applied twice in this database, nor lost from it. Retention
 * lines are not applied again: the record may have come under a hold since,
 * or its retention changed, and the sweep decides again what is due (and
 * writes its own line). */
static enum rc replay_skipped(struct store *s, struct tenant *t, struct backup_reconcile_report *r,
                              struct errbuf *eb)
{
	struct store_ledger_range *ranges = NULL;
	struct ledger_entry *v = NULL;
	size_t nr = 0, n = 0;
	int64_t last = 0;
	enum rc rc = store_ledger_skipped_list(s, t->id, &ranges, &nr);
	if (!rc && nr)
		rc = ledger_read(t, ranges[0].first - 1, &v, &n, &last, eb);
	struct core_ctx c = {.store = s, .tenant = t, .replay = true};
	for (size_t k = 0; !rc && k < nr; k++) {
		size_t applied = 0;
		rc = store_begin(s);
		if (rc)
			break;
		for (size_t i = 0; !rc && i < n; i++) {
			if (v[i].seq < ranges[k].first || v[i].seq > ranges[k].last || v[i].kind == LEDGER_RECORD_DELETE ||
			    v[i].kind == LEDGER_RECORD_ANONYMIZE)
				continue;
			rc = replay_one(&c, &v[i], eb);
			if (rc && eb && !eb->msg[0])
				err_set(eb, rc, "tenant %s: ledger entry %" PRId64 " (%s %s) could not be applied", t->name,
				        v[i].seq, ledger_kind_name(v[i].kind), v[i].subject);
			if (!rc && r->replayed)
				r->replayed(r->arg, t->name, &v[i]);
			applied += !rc;
		}
		if (!rc)
			rc = store_ledger_skipped_delete(s, t->id, ranges[k].first);
		rc = core_end(&c, rc);
		if (!rc)
			r->replayed_n += applied;
	}
	free(v);
	free(ranges);
	return rc;
}

static enum rc reconcile_tenant(struct store *s, const char *keydir, const char *name,
                                struct backup_reconcile_report *r, struct errbuf *eb)
{
	struct tenant *t = NULL;
	struct ledger_entry *v = NULL;
	size_t n = 0;
	int64_t pos = 0, last = 0;
	enum rc rc = tenant_open(s, keydir, name, &t, eb);
	if (rc)
		return rc;
	struct audit_verify_result av = {0};
	rc = audit_verify(s, t, &av);
	if (!rc) {
		if (!av.ok)
			r->audit_broken = true;
		if (r->audit)
			r->audit(r->arg, t->name, av.ok, av.entries, av.first_bad);
		rc = store_ledger_position(s, t->id, &pos);
	}
	if (!rc)
		rc = ledger_read(t, pos, &v, &n, &last, eb);
	if (!rc && pos > last)
		rc = err_set(eb, RC_CONFLICT, "tenant %s: the database has applied erasure ledger entry %" PRId64 " but "
		             "%s ends at entry %" PRId64 ": the ledger is missing entries or belongs to another register",
		             t->name, pos, t->ledger, last);
	struct core_ctx c = {.store = s, .tenant = t, .replay = true};
	for (size_t i = 0; !rc && i < n; i++) {
		rc = store_begin(s);
		if (rc)
			break;
		rc = replay_one(&c, &v[i], eb);
		if (!rc)
			rc = store_ledger_position_set(s, t->id, v[i].seq, core_now(&c));
		rc = core_end(&c, rc);
		if (rc) {
			if (eb && !eb->msg[0])
				err_set(eb, rc, "tenant %s: ledger entry %" PRId64 " (%s %s) could not be applied", t->name,
				        v[i].seq, ledger_kind_name(v[i].kind), v[i].subject);
			break;
		}
		r->replayed_n++;
		if (r->replayed)
			r->replayed(r->arg, t->name, &v[i]);
	}
	if (!rc)
		rc = replay_skipped(s, t, r, eb);
	if (!rc)
		ledger_pending_clear(t); /* whatever was in flight is applied now */
	free(v);
	tenant_free(t);
	return rc;
}

enum rc backup_reconcile(struct store *s, const char *keydir, struct backup_reconcile_report *r, struct errbuf *eb)
{
	struct store_tenant *v = NULL;
	size_t n = 0;
	enum rc rc = tenant_list(s, &v, &n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = reconcile_tenant(s, keydir, v[i].name, r, eb);
	store_tenants_free(v, n);
	return rc;
}

enum rc backup_check(struct store *s, const char *keydir, struct errbuf *eb)
{
	struct store_tenant *v = NULL;
	size_t n = 0;
	enum rc rc = tenant_list(s, &v, &n);
	for (size_t i = 0; !rc && i < n; i++) {
		int64_t pos = 0, last = 0;
		bool has = false;
		rc = has_ledger(s, keydir, &v[i], &pos, &has);
		if (rc || !has)
			continue;
		struct tenant *t = NULL;
		struct ledger_entry *e = NULL;
		size_t ne = 0;
		rc = tenant_open(s, keydir, v[i].name, &t, eb);
		if (!rc)
			rc = ledger_read(t, INT64_MAX, &e, &ne, &last, eb);
		int64_t first = rc ? 0 : ledger_pending(t);
		if (first && first <= pos) {
			ledger_pending_clear(t); /* its transaction committed: stale */
			first = 0;
		}
		/* Lines of a transaction that never committed (a crash between the
		 * ledger and the commit) are not erasures this database lacks. */
		struct store_ledger_range *skipped = NULL;
		size_t nskipped = 0;
		if (!rc && !store_ledger_skipped_list(s, v[i].id, &skipped, &nskipped))
			for (size_t k = 0; k < nskipped; k++)
				log_warn("tenant=%lld: erasure ledger entries %lld..%lld never committed (a failed erasure): "
				         "'privreg restore --reconcile' applies them",
				         (long long)v[i].id, (long long)skipped[k].first, (long long)skipped[k].last);
		free(skipped);
		if (!rc && pos < last && first == pos + 1)
			log_warn("tenant=%lld: erasure ledger entries %lld..%lld never committed (a crash): applied by the next "
			         "restore", (long long)v[i].id, (long long)first, (long long)last);
		else if (!rc && pos < last)
			rc = err_set(eb, RC_CONFLICT, "tenant %s: the database is older than its erasure ledger (entry %" PRId64
			             " of %" PRId64 "): run 'privreg restore --reconcile' to apply the erasures it lacks",
			             v[i].name, pos, last);
		else if (!rc && pos > last)
			rc = err_set(eb, RC_CONFLICT, "tenant %s: the database has applied erasure ledger entry %" PRId64
			             " but the ledger ends at entry %" PRId64 ": the ledger lost entries or is another "
			             "register's", v[i].name, pos, last);
		free(e);
		tenant_free(t);
	}
	store_tenants_free(v, n);
	return rc;
}

/* ---- rotation ---- */

bool backup_rotation_due(const struct tenant *t, int64_t now)
{
	const struct policy_backups *b = &t->policy->backups;
	const struct vault *v = &t->vault;
	if (!b->has_keep || !v->nepochs)
		return false;
	int64_t created = v->epochs[v->nepochs - 1].created, due = 0;
	/* Epoch 0 has no recorded time: the first scheduled rotation starts
	 * epochs at once. */
	return !created || timeutil_add(created, b->rotate_every, &due) != RC_OK || due <= now;
}

/* One page of subjects: each key not under the current epoch is wrapped
 * again under it; left[] counts, per epoch index, the keys that stay. */
static enum rc rewrap_page(const struct core_ctx *c, char (*ids)[TOKEN_ID_MAX], size_t n, size_t *left,
                           struct backup_rotation *out)
{
	const struct vault *v = &c->tenant->vault;
	size_t moved = 0;
	enum rc rc = store_begin(c->store);
	for (size_t i = 0; !rc && i < n; i++) {
		struct store_subject row;
		rc = store_subject_get(c->store, c->tenant->id, ids[i], &row);
		if (rc == RC_NOT_FOUND) {
			rc = RC_OK;
			continue;
		}
		int64_t epoch = rc ? -1 : vault_wrapped_epoch(row.wrapped_key, row.wrapped_len);
		if (!rc && epoch >= 0 && (uint32_t)epoch != v->epoch) {
			unsigned char wrapped[VAULT_WRAPPED_MAX];
			size_t wlen = 0;
			enum rc wrc = vault_subject_key_rewrap(v, ids[i], row.wrapped_key, row.wrapped_len, wrapped, &wlen);
			if (!wrc) {
				rc = store_subject_rekey(c->store, c->tenant->id, ids[i], wrapped, wlen);
				moved++;
			} else {
				/* Unreadable already (its epoch is gone): it cannot block
				 * an expiry, and nothing can be moved. */
				out->unreadable++;
				for (size_t k = 0; k < v->nepochs; k++)
					if (v->epochs[k].number == (uint32_t)epoch)
						left[k]++;
			}
		}
		store_subject_fini(&row);
	}
	if (!rc && moved) {
		char detail[64];
		snprintf(detail, sizeof detail, "epoch=%" PRIu32 " subjects=%zu", v->epoch, moved);
		struct audit_event ae = {"key.rewrap", NULL, NULL, "ok", detail};
		rc = audit_append(c, &ae);
	}
	rc = core_end(c, rc);
	if (!rc)
		out->rewrapped += moved;
	return rc;
}

static enum rc expire_epochs(const struct core_ctx *c, const char *keypath, int64_t now, const size_t *left,
                             struct backup_rotation *out, struct errbuf *eb)
{
	const struct tenant *t = c->tenant;
	const struct vault *v = &t->vault;
	if (!t->policy->backups.has_keep)
		return RC_OK;
	enum rc rc = RC_OK;
	for (size_t k = 0; !rc && k + 1 < v->nepochs; k++) {
		int64_t until = 0;
		/* An epoch's copies are those taken before the next epoch began. */
		if (timeutil_add(v->epochs[k + 1].created, t->policy->backups.keep, &until) != RC_OK || until > now ||
		    left[k])
			continue;
		rc = vault_epoch_destroy(keypath, v, v->epochs[k].number, eb);
		if (!rc) {
			char detail[48];
			snprintf(detail, sizeof detail, "epoch=%" PRIu32, v->epochs[k].number);
			struct audit_event ae = {"key.destroy", NULL, NULL, "ok", detail};
			rc = store_begin(c->store);
			if (!rc)
				rc = core_end(c, audit_append(c, &ae));
			out->destroyed[out->ndestroyed++] = v->epochs[k].number;
		}
	}
	return rc;
}

static void key_file(const char *keydir, const char *name, char *out, size_t size)
{
	snprintf(out, size, "%s/%s.key", keydir, name);
}

enum rc backup_epoch_start(struct store *s, const char *keydir, const char *name, int64_t now, uint32_t *epoch,
                           struct errbuf *eb)
{
	char keypath[4200];
	struct tenant *t = NULL;
	key_file(keydir, name, keypath, sizeof keypath);
	/* The tenant must load (keys, policy) before a key file is made; it
	 * signs the audit entry too. */
	enum rc rc = tenant_open(s, keydir, name, &t, eb);
	if (!rc)
		rc = vault_epoch_create(keypath, now ? now : timeutil_now(), epoch, eb);
	if (!rc) {
		struct core_ctx c = {.store = s, .tenant = t, .now = now};
		char detail[48];
		snprintf(detail, sizeof detail, "epoch=%" PRIu32, *epoch);
		struct audit_event ae = {"key.rotate", NULL, NULL, "ok", detail};
		rc = store_begin(s);
		if (!rc)
			rc = core_end(&c, audit_append(&c, &ae));
	}
	tenant_free(t);
	return rc;
}

enum rc backup_rotate(struct store *s, const char *keydir, const char *name, bool new_epoch, int64_t now,
                      struct backup_rotation *out, struct errbuf *eb)
{
	char keypath[4200];
	struct tenant *t = NULL;
	memset(out, 0, sizeof *out);
	if (!now)
		now = timeutil_now();
	key_file(keydir, name, keypath, sizeof keypath);
	enum rc rc = new_epoch ? backup_epoch_start(s, keydir, name, now, &out->epoch, eb) : RC_OK;
	out->rotated = new_epoch && !rc;
	if (!rc)
		rc = tenant_open(s, keydir, name, &t, eb);
	if (rc)
		return rc;
	struct core_ctx c = {.store = s, .tenant = t, .now = now};
	size_t left[VAULT_EPOCHS_MAX] = {0};
	char after[TOKEN_ID_MAX] = "", (*ids)[TOKEN_ID_MAX] = xcalloc(BACKUP_REWRAP_PAGE, sizeof *ids);
	for (size_t n = BACKUP_REWRAP_PAGE; !rc && n == BACKUP_REWRAP_PAGE;) {
		rc = store_subjects_page(s, t->id, after, ids, BACKUP_REWRAP_PAGE, &n);
		if (!rc && n) {
			memcpy(after, ids[n - 1], TOKEN_ID_MAX);
			rc = rewrap_page(&c, ids, n, left, out);
		}
	}
	free(ids);
	if (rc && eb && !eb->msg[0])
		err_set(eb, rc, "re-wrapping stopped: what was done is kept; run 'privreg key rotate --resume' to finish");
	if (!rc)
		rc = expire_epochs(&c, keypath, now, left, out, eb);
	out->epoch = t->vault.epoch;
	tenant_free(t);
	return rc;
}
