/*
 * retention: the sweep that carries out `keep` rules (core/keep computes when).
 *
 * Invariants: one batch is one transaction (records deleted or anonymised,
 * subjects left with nothing deleted, audit entries): a crash leaves a batch
 * wholly done or not at all. The audit entry of an anonymised record names
 * the original ids only. A dry run walks the same records through the same
 * decisions (fate_of, trim) and only leaves out the writes, so that it
 * counts what the real run then does. Anonymising is record's
 * (record_anonymize), which erasure and requests share. The systems and
 * recipients holding copies of what a batch removed are told in the
 * batch's transaction (core/notify.h, records.expired), so that a keep
 * rule holds in the copies too.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/banner.h"
#include "core/datakey.h"
#include "core/field.h"
#include "core/hold.h"
#include "core/keep.h"
#include "core/ledger.h"
#include "core/notify.h"
#include "core/policy.h"
#include "core/record.h"
#include "core/retention.h"
#include "crypto/token.h"
#include "crypto/vault.h"

void retention_report_fini(struct retention_report *r)
{
	free(r->kinds);
	memset(r, 0, sizeof *r);
}

static struct retention_kind_count *count_for(struct retention_report *r, const char *kind)
{
	for (size_t i = 0; i < r->nkinds; i++)
		if (!strcmp(r->kinds[i].kind, kind))
			return &r->kinds[i];
	r->kinds = xrealloc(r->kinds, (r->nkinds + 1) * sizeof *r->kinds);
	struct retention_kind_count *k = &r->kinds[r->nkinds++];
	memset(k, 0, sizeof *k);
	snprintf(k->kind, sizeof k->kind, "%s", kind);
	return k;
}

static enum rc audit_id(const struct core_ctx *c, const char *action, const char *subject, const char *record,
                        const char *detail)
{
	struct audit_event ae = {action, subject, record, "ok", detail};
	return audit_append(c, &ae);
}

/* A subject whose last record went is deleted with its key (its consents
 * go with it); *dropped says whether it was. */
static enum rc drop_if_empty(const struct core_ctx *c, const char *subject_id, bool *dropped,
                             struct retention_report *out)
{
	int64_t n = 0;
	*dropped = false;
	enum rc rc = store_subject_record_count(c->store, c->tenant->id, subject_id, &n);
	if (rc || n)
		return rc;
	rc = store_subject_delete(c->store, c->tenant->id, subject_id);
	if (rc == RC_NOT_FOUND)
		return RC_OK; /* an earlier record of this batch took it */
	if (!rc) {
		out->subjects_deleted++;
		*dropped = true;
	}
	return rc;
}

/* IPv4 to its /24, IPv6 to its /48: the network, no longer the device. */
static void cut_ip(const char *in, char *out, size_t size)
{
	unsigned char a[16];
	int af = strchr(in, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, in, a) != 1) {
		snprintf(out, size, "%s", af == AF_INET ? "0.0.0.0" : "::");
		return;
	}
	if (af == AF_INET)
		a[3] = 0;
	else
		memset(a + 6, 0, 10);
	if (!inet_ntop(af, a, out, (socklen_t)size))
		snprintf(out, size, "%s", af == AF_INET ? "0.0.0.0" : "::");
}

/* Cuts the ip fields whose time has come; the record keeps its id and key.
 * dry: decides the same (*did: whether it would cut) and writes nothing. */
static enum rc trim(const struct core_ctx *c, const struct policy_record *kind, const struct store_due *d, bool dry,
                    bool *did)
{
	struct subject_key key;
	struct store_record row;
	struct record_view v = {0};
	*did = false;
	enum rc rc = datakey_unwrap(c, d->subject_id, &key, NULL);
	if (rc == RC_GONE || rc == RC_NOT_FOUND)
		return RC_OK; /* unreadable for good: nothing to cut */
	if (rc)
		return rc;
	rc = store_record_get(c->store, c->tenant->id, d->id, &row);
	struct store_record upd = {0};
	if (!rc) {
		upd = row; /* borrows; only data is its own */
		upd.data = NULL;
		upd.events = NULL;
		upd.nevents = 0;
		/* A dry run leaves in place what the real run's first pass removes
		 * (due, neither held nor restricted: see pass), and the real run
		 * finds nothing of it left to cut. */
		if (dry && row.due_at && row.due_at <= core_now(c)) {
			vault_subject_key_wipe(&key);
			store_record_fini(&row);
			return RC_OK;
		}
		rc = record_view_take(c, &key, &row, &v);
	}
	/* One cut address per ip field: as many as the record has, no cap. */
	char (*cut)[48] = xcalloc(v.nfields ? v.nfields : 1, sizeof *cut);
	size_t ncut = 0;
	int64_t next = 0;
	for (size_t i = 0; !rc && i < v.nfields; i++) {
		const struct policy_field *f = v.fields[i].field;
		if (!f || f->type != FT_IP || !f->has_truncate)
			continue;
		int64_t t = keep_after(upd.created_at, f->truncate_after);
		if (t > core_now(c)) {
			if (!next || t < next)
				next = t;
			continue;
		}
		cut_ip(v.fields[i].value, cut[ncut], sizeof cut[ncut]);
		v.fields[i].value = cut[ncut];
		v.fields[i].len = strlen(cut[ncut]);
		ncut++;
	}
	if (!rc && ncut && dry) {
		*did = true;
	} else if (!rc && ncut) {
		/* Lookups stay as they were (an ip field is never a lookup): the
		 * row read above still holds them. */
		upd.lookups = row.lookups;
		upd.nlookups = row.nlookups;
		upd.trim_at = next;
		upd.kind = v.kind;
		upd.state = v.state;
		rc = record_reseal(&v, &key, &upd.data, &upd.data_len);
		if (!rc)
			rc = store_record_update(c->store, c->tenant->id, &upd);
		free(upd.data);
		*did = !rc;
	} else if (!rc && !dry) {
		rc = store_record_set_due(c->store, c->tenant->id, d->id, upd.due_at, next);
	}
	vault_subject_key_wipe(&key);
	record_view_fini(&v);
	store_record_fini(&row);
	free(cut);
	return rc;
}

enum rc retention_recompute(const struct core_ctx *c, size_t *changed)
{
	const struct policy *p = c->tenant->policy;
	char after[TOKEN_ID_MAX] = "", (*ids)[TOKEN_ID_MAX] = xcalloc(RETENTION_BATCH_DEFAULT, sizeof *ids);
	enum rc rc = RC_OK;
	*changed = 0;
	for (size_t n = RETENTION_BATCH_DEFAULT; !rc && n == RETENTION_BATCH_DEFAULT;) {
		size_t moved = 0;
		rc = store_begin(c->store);
		if (!rc)
			rc = store_records_page(c->store, c->tenant->id, after, ids, RETENTION_BATCH_DEFAULT, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			struct store_record row;
			memcpy(after, ids[i], TOKEN_ID_MAX);
			rc = store_record_get(c->store, c->tenant->id, ids[i], &row);
			if (rc)
				break;
			const struct policy_record *kind = policy_record(p, row.kind);
			/* Anonymised records are no one's: they stay. */
			if (kind && strcmp(row.state, "anonymized")) {
				int64_t due = keep_due(kind, row.created_at, row.events, row.nevents, NULL, 0);
				/* Uncut ip fields follow the new truncate_after; cut ones stay cut. */
				int64_t trim = row.trim_at ? keep_trim_at(kind, row.created_at) : 0;
				if (due != row.due_at || trim != row.trim_at) {
					rc = store_record_set_due(c->store, c->tenant->id, ids[i], due, trim);
					moved++;
				}
			}
			store_record_fini(&row);
		}
		if (!rc && moved) {
			char detail[48];
			snprintf(detail, sizeof detail, "records=%zu", moved);
			rc = audit_id(c, "retention.recompute", NULL, NULL, detail);
		}
		rc = core_end(c, rc);
		if (rc)
			break;
		if (!rc)
			*changed += moved;
	}
	free(ids);
	return rc;
}

enum rc retention_due_count(const struct core_ctx *c, int64_t *n)
{
	struct store_forecast_row *rows = NULL;
	size_t nrows = 0;
	*n = 0;
	enum rc rc = store_retention_forecast(c->store, c->tenant->id, core_now(c) + 1, &rows, &nrows);
	for (size_t i = 0; !rc && i < nrows; i++)
		*n += rows[i].n;
	free(rows);
	return rc;
}

/* What the sweep does with one due record. Both passes, real or dry,
 * decide through here. */
enum fate {
	FATE_UNKNOWN,              /* a kind the policy no longer has: left for the operator */
	FATE_HELD,                 /* a legal hold covers it */
	FATE_RESTRICTED,           /* its subject's data is restricted (Art. 18) */
	FATE_GO,                   /* deleted or anonymised (trimming: cut) */
};

/* Art. 18: a restricted subject's data is only stored. Its records stay as
 * they are (not deleted, not anonymised, not cut) until the restriction is
 * lifted: the subject may need them for legal claims, or contest their
 * accuracy. Records kept by law after an erasure are marked restricted too,
 * in their own state, but their keep rule is why they are kept at all: they
 * go when it says so. */
static bool under_restriction(const struct store_due *d)
{
	return d->subject_restricted && !strcmp(d->state, record_state_name(RECORD_ACTIVE));
}

static enum fate fate_of(const struct policy_record *kind, const struct store_hold *holds, size_t nholds,
                         const struct store_due *d)
{
	if (!kind)
		return FATE_UNKNOWN;
	if (hold_covering(holds, nholds, d->subject_id, d->id))
		return FATE_HELD;
	return under_restriction(d) ? FATE_RESTRICTED : FATE_GO;
}

/* A dry run's memory of what the real run would have changed by now: for
 * each subject met, how many of its records would be left. The real run
 * deletes a subject when its last record goes (drop_if_empty); this is how
 * a dry run knows when that would happen. Open addressing, grown at half. */
struct tally {
	struct tally_slot {
		char id[TOKEN_ID_MAX];
		int64_t left;
	} *slots;
	size_t cap, n;
};

static size_t tally_hash(const char *id)
{
	size_t h = 14695981039346656037u;
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211u;
	return h;
}

static struct tally_slot *tally_find(struct tally *t, const char *id, bool *fresh)
{
	if (2 * (t->n + 1) > t->cap) {
		struct tally old = *t;
		t->cap = t->cap ? 2 * t->cap : 64;
		t->slots = xcalloc(t->cap, sizeof *t->slots);
		t->n = 0;
		for (size_t i = 0; i < old.cap; i++)
			if (old.slots[i].id[0]) {
				bool f;
				*tally_find(t, old.slots[i].id, &f) = old.slots[i];
			}
		free(old.slots);
	}
	size_t i = tally_hash(id) & (t->cap - 1);
	while (t->slots[i].id[0] && strcmp(t->slots[i].id, id))
		i = (i + 1) & (t->cap - 1);
	*fresh = !t->slots[i].id[0];
	if (*fresh) {
		snprintf(t->slots[i].id, sizeof t->slots[i].id, "%s", id);
		t->n++;
	}
	return &t->slots[i];
}

/* The dry run's drop_if_empty: one record of the subject would go. */
static enum rc tally_remove(const struct core_ctx *c, struct tally *t, const char *subject_id,
                            struct retention_report *out)
{
	bool fresh;
	struct tally_slot *s = tally_find(t, subject_id, &fresh);
	if (fresh) {
		enum rc rc = store_subject_record_count(c->store, c->tenant->id, subject_id, &s->left);
		if (rc)
			return rc;
	}
	if (s->left > 0 && --s->left == 0)
		out->subjects_deleted++;
	return RC_OK;
}

/* One due record of the first pass, really: deleted or anonymised; its
 * erasure ledger entry goes to *note (kind LEDGER_KIND__COUNT: none), and,
 * when tell is not NULL, the record to the batch's notifications. */
static enum rc remove_one(const struct core_ctx *c, const struct policy_record *kind, const struct store_due *d,
                          struct retention_kind_count *k, struct retention_report *out, struct ledger_entry *note,
                          struct notify_expiry *tell)
{
	bool anon = kind->then == THEN_ANONYMIZE, dropped = false;
	note->kind = LEDGER_KIND__COUNT;
	enum rc rc = tell ? notify_expiry_add(c, tell, d->subject_id, d->id, d->kind, anon) : RC_OK;
	if (!rc)
		rc = anon ? record_anonymize(c, kind, d->subject_id, d->id)
		          : store_record_delete(c->store, c->tenant->id, d->id);
	if (rc == RC_NOT_FOUND) {
		if (tell)
			notify_expiry_unadd(tell);
		return RC_OK; /* gone meanwhile */
	}
	if (!rc) {
		*note = (struct ledger_entry){.kind = anon ? LEDGER_RECORD_ANONYMIZE : LEDGER_RECORD_DELETE};
		snprintf(note->subject, sizeof note->subject, "%s", d->subject_id);
		snprintf(note->record, sizeof note->record, "%s", d->id);
	}
	if (!rc)
		rc = drop_if_empty(c, d->subject_id, &dropped, out);
	if (!rc && tell && tell->n)
		tell->v[tell->n - 1].subject_deleted = dropped;
	/* One entry per record, ids only; it says when the subject went too. */
	char detail[96];
	snprintf(detail, sizeof detail, "%s%s", d->kind, dropped ? "; subject deleted" : "");
	if (!rc)
		rc = audit_id(c, anon ? "retention.anonymize" : "retention.delete", d->subject_id, d->id, detail);
	if (!rc && anon)
		k->anonymized++;
	else if (!rc)
		k->deleted++;
	return rc;
}

/* One pass over what is due (trim: over ip fields to cut). */
static enum rc pass(const struct core_ctx *c, const struct retention_opts *o, bool trimming,
                    const struct store_hold *holds, size_t nholds, size_t total, struct tally *gone,
                    struct retention_report *out)
{
	const struct policy *p = c->tenant->policy;
	size_t batch = o->batch ? o->batch : RETENTION_BATCH_DEFAULT;
	struct store_due *due = xcalloc(batch, sizeof *due), cursor = {0};
	struct ledger_entry *notes = xcalloc(batch, sizeof *notes);
	size_t nnotes = 0, ntold = 0;
	/* A replay into a restored copy tells nobody: they were told the first time. */
	struct notify_expiry told = {0};
	struct notify_expiry *tell = !o->dry_run && !trimming && !c->replay && notify_expiry_wanted(p) ? &told : NULL;
	bool have_cursor = false;
	enum rc rc = RC_OK;
	for (;;) {
		size_t n = 0;
		nnotes = 0;
		rc = o->dry_run ? store_begin_read(c->store) : store_begin(c->store);
		if (rc)
			break;
		rc = store_records_due(c->store, c->tenant->id, core_now(c), trimming, have_cursor ? &cursor : NULL, due,
		                       batch, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			const struct store_due *d = &due[i];
			const struct policy_record *kind = policy_record(p, d->kind);
			struct retention_kind_count *k = count_for(out, d->kind);
			enum fate f = fate_of(kind, holds, nholds, d);
			if (!trimming)
				out->done++;
			if (f == FATE_UNKNOWN)
				continue;
			if (f != FATE_GO) {
				/* Counted in the deletion pass only: one held record is one,
				 * even when its ip fields are also due to be cut. */
				if (!trimming && f == FATE_HELD)
					k->held++;
				else if (!trimming)
					k->restricted++;
				continue;
			}
			if (trimming) {
				bool did = false;
				rc = trim(c, kind, d, o->dry_run, &did);
				if (!rc && did) {
					k->trimmed++;
					if (!o->dry_run)
						rc = audit_id(c, "retention.trim", d->subject_id, d->id, d->kind);
				}
			} else if (o->dry_run) {
				rc = tally_remove(c, gone, d->subject_id, out);
				if (!rc && kind->then == THEN_ANONYMIZE)
					k->anonymized++;
				else if (!rc)
					k->deleted++;
			} else {
				rc = remove_one(c, kind, d, k, out, &notes[nnotes], tell);
				if (!rc && notes[nnotes].kind != LEDGER_KIND__COUNT)
					nnotes++;
			}
		}
		/* The batch's removals are told (one event per system and
		 * recipient), and its erasures reach the ledger, in one write,
		 * before it commits. */
		if (!rc && tell)
			rc = notify_expiry_queue(c, tell, &ntold);
		if (!rc && !o->dry_run)
			rc = ledger_append(c, notes, nnotes);
		if (rc) {
			store_rollback(c->store);
			break;
		}
		rc = o->dry_run ? (store_rollback(c->store), RC_OK) : store_commit(c->store);
		if (nnotes)
			ledger_settle(c, rc);
		if (rc || n < batch)
			break;
		cursor = due[n - 1];
		have_cursor = true;
		if (o->progress && !trimming)
			o->progress(o->arg, out->done, total);
	}
	notify_expiry_fini(&told);
	free(due);
	free(notes);
	return rc;
}

enum rc retention_replay(const struct core_ctx *c, const char *record_id, bool anonymise)
{
	struct store_record row;
	enum rc rc = store_record_get(c->store, c->tenant->id, record_id, &row);
	if (rc == RC_NOT_FOUND)
		return RC_OK; /* not in this copy: nothing to do */
	if (rc)
		return rc;
	struct store_due d = {0};
	memcpy(d.id, row.id, sizeof d.id);
	memcpy(d.subject_id, row.subject_id, sizeof d.subject_id);
	snprintf(d.kind, sizeof d.kind, "%s", row.kind);
	store_record_fini(&row);
	const struct policy_record *kind = policy_record(c->tenant->policy, d.kind);
	struct policy_record deleting = {.name = d.kind, .then = THEN_DELETE};
	/* A kind the policy no longer has, or no longer anonymises, is deleted:
	 * the record went, and nothing of it may come back. */
	if (!kind || !anonymise || kind->then != THEN_ANONYMIZE)
		kind = &deleting;
	struct retention_kind_count k = {0};
	struct retention_report out = {0};
	struct ledger_entry note;
	return remove_one(c, kind, &d, &k, &out, &note, NULL);
}

/* Deletes answered requests past their expiry. A dry run deletes them in
 * one transaction and rolls it back: the same statement decides. */
static enum rc expire_requests(const struct core_ctx *c, const struct retention_opts *o,
                               struct retention_report *out)
{
	size_t batch = o->batch ? o->batch : RETENTION_BATCH_DEFAULT;
	enum rc rc = o->dry_run ? store_begin(c->store) : RC_OK;
	bool rollback = o->dry_run && !rc;
	while (!rc) {
		size_t n = 0;
		if (!o->dry_run)
			rc = store_begin(c->store);
		if (rc)
			break;
		rc = store_requests_expire(c->store, c->tenant->id, core_now(c), batch, &n);
		if (!o->dry_run) {
			char detail[48];
			snprintf(detail, sizeof detail, "requests=%zu", n);
			if (!rc && n)
				rc = audit_id(c, "retention.requests_expire", NULL, NULL, detail);
			rc = core_end(c, rc);
		}
		if (rc)
			break;
		out->requests_expired += n;
		if (n < batch)
			break;
	}
	if (rollback)
		store_rollback(c->store);
	return rc;
}

enum rc retention_sweep(const struct core_ctx *c, const struct retention_opts *o, struct retention_report *out,
                        struct errbuf *eb)
{
	struct store_hold *holds = NULL;
	size_t nholds = 0;
	int64_t total = 0;
	struct tally gone = {0};
	memset(out, 0, sizeof *out);
	enum rc rc = hold_active(c, NULL, NULL, &holds, &nholds);
	if (!rc)
		rc = retention_due_count(c, &total);
	if (!rc)
		rc = pass(c, o, false, holds, nholds, (size_t)total, &gone, out);
	if (!rc)
		rc = pass(c, o, true, holds, nholds, (size_t)total, &gone, out);
	if (!rc)
		rc = expire_requests(c, o, out);
	if (!rc && !o->dry_run) /* the cookie banner's choices past BANNER_KEEP_DAYS */
		rc = banner_expire(c, o->batch ? o->batch : RETENTION_BATCH_DEFAULT, &out->banner_expired);
	if (!rc && o->progress)
		o->progress(o->arg, out->done, (size_t)total);
	/* The attestation names the last sweep (core/attest.h): the real
	 * clock's time, as the audit log's, whatever c->now says. */
	if (!rc && !o->dry_run && !c->replay && !(rc = store_begin(c->store)))
		rc = core_end(c, store_sweep_note(c->store, c->tenant->id, timeutil_now()));
	free(gone.slots);
	store_holds_free(holds, nholds);
	if (rc) {
		retention_report_fini(out);
		if (eb && !eb->msg[0])
			err_set(eb, rc, "the sweep stopped: what was done is kept; run it again to finish");
	}
	return rc;
}

enum rc retention_forecast(const struct core_ctx *c, int64_t until, struct store_forecast_row **out, size_t *n)
{
	return store_retention_forecast(c->store, c->tenant->id, until, out, n);
}

enum rc retention_overdue(const struct core_ctx *c, struct store_due *out, size_t max, size_t *n)
{
	return store_records_due(c->store, c->tenant->id, core_now(c), false, NULL, out, max, n);
}
