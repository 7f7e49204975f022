/* migrate: a whole register copied between stores, verified before it commits (see migrate.h). */
#include "core/migrate.h"

#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/audit.h"
#include "core/backup.h"
#include "core/tenant.h"

/* A table's rows and the sum of their hashes: equal sums of equal counts
 * say the same rows, in whatever order each backend hands them out. */
struct table_sum {
	int64_t rows;
	uint64_t sum[2];
};

struct pass {
	struct store *to;           /* written to, or NULL when only summed */
	enum store_copy_table table;
	struct table_sum *sum;
	int64_t total;
	const char *stage;
	struct migrate_report *r;
	enum rc write_rc;           /* the target's error, told apart from the source's */
};

static void put_u64(crypto_generichash_state *st, uint64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	crypto_generichash_update(st, b, sizeof b);
}

/* BLAKE2b of the row's values, each with its kind and length. */
static void row_hash(const struct store_row *row, uint64_t out[2])
{
	crypto_generichash_state st;
	unsigned char h[16];
	crypto_generichash_init(&st, NULL, 0, sizeof h);
	put_u64(&st, row->n);
	for (size_t i = 0; i < row->n; i++) {
		const struct store_value *v = &row->v[i];
		put_u64(&st, (uint64_t)v->kind);
		if (v->kind == STORE_VALUE_INT)
			put_u64(&st, (uint64_t)v->i);
		if (v->kind == STORE_VALUE_TEXT || v->kind == STORE_VALUE_BLOB) {
			put_u64(&st, v->len);
			crypto_generichash_update(&st, v->p, v->len);
		}
	}
	crypto_generichash_final(&st, h, sizeof h);
	memcpy(&out[0], h, 8);
	memcpy(&out[1], h + 8, 8);
}

static void tell(struct pass *p, int64_t done)
{
	if (p->r && p->r->progress)
		p->r->progress(p->r->arg, p->stage, store_copy_tables[p->table].name, done, p->total);
}

static enum rc on_row(void *arg, const struct store_row *row)
{
	struct pass *p = arg;
	uint64_t h[2];
	row_hash(row, h);
	p->sum->sum[0] += h[0];
	p->sum->sum[1] += h[1];
	p->sum->rows++;
	if (p->to) {
		p->write_rc = store_copy_write(p->to, p->table, STORE_COPY_ROW, row);
		if (p->write_rc)
			return p->write_rc;
	}
	if (p->sum->rows % MIGRATE_PROGRESS_ROWS == 0)
		tell(p, p->sum->rows);
	return RC_OK;
}

/* Prefixes eb's message with which store said it. */
static enum rc about(struct errbuf *eb, enum rc rc, const char *which)
{
	if (rc && eb) {
		char msg[sizeof eb->msg];
		snprintf(msg, sizeof msg, "%s", eb->msg);
		if (msg[0])
			err_set(eb, rc, "%s: %s", which, msg);
		else
			err_set(eb, rc, "%s: %s", which, rc_str(rc));
	}
	return rc;
}

/* Both stores hold the tables the copy knows, and no other client; the
 * target is empty; the source is not behind its erasure ledger. */
static enum rc preflight(struct store *from, struct store *to, const char *keydir, struct errbuf *eb)
{
	/* The target's URL may be the source's in another spelling (query
	 * parameters, host forms): the source's connection is then one of the
	 * target's clients, and is named for what it is. */
	char session[STORE_SESSION_MAX];
	bool same = false;
	enum rc rc = about(eb, store_copy_session(from, session, sizeof session), "the source");
	if (!rc && session[0])
		rc = about(eb, store_copy_sees(to, session, &same), "the target");
	if (!rc && same)
		return err_set(eb, RC_EXISTS, "the register lives in that database already (the target is its store, "
		               "under another spelling of the URL): nothing to migrate");
	if (!rc)
		rc = about(eb, store_copy_check(from, eb), "the source");
	if (!rc)
		rc = about(eb, store_copy_check(to, eb), "the target");
	for (size_t t = 0; !rc && t < STORE_COPY_TABLES; t++) {
		int64_t n = 0;
		rc = about(eb, store_copy_count(to, (enum store_copy_table)t, &n), "the target");
		if (!rc && n)
			rc = err_set(eb, RC_CONFLICT, "the target is not empty (table %s holds %" PRId64 " row%s): privreg "
			             "migrate copies into an empty database only", store_copy_tables[t].name, n,
			             n == 1 ? "" : "s");
	}
	if (!rc)
		rc = about(eb, backup_check(from, keydir, eb), "the source");
	return rc;
}

/* Every table, from the snapshot of `from` into the transaction of `to`. */
static enum rc copy_tables(struct store *from, struct store *to, const int64_t *totals, struct table_sum *sums,
                           struct migrate_report *r, struct errbuf *eb)
{
	enum rc rc = RC_OK;
	for (size_t t = 0; !rc && t < STORE_COPY_TABLES; t++) {
		struct pass p = {.to = to, .table = (enum store_copy_table)t, .sum = &sums[t], .total = totals[t],
		                 .stage = "copy", .r = r};
		const char *name = store_copy_tables[t].name;
		rc = store_copy_write(to, p.table, STORE_COPY_BEGIN, NULL);
		if (rc)
			return about(eb, rc, "the target");
		rc = store_copy_read(from, p.table, on_row, &p);
		bool on_target = p.write_rc != RC_OK;
		if (!rc) {
			rc = store_copy_write(to, p.table, STORE_COPY_END, NULL);
			on_target = rc != RC_OK;
		} else {
			/* Ends the half-written table; the rollback undoes it. */
			enum rc abort_rc = store_copy_write(to, p.table, STORE_COPY_ABORT, NULL);
			(void)abort_rc;
		}
		if (rc)
			return err_set(eb, rc, "copying table %s failed on the %s (%s)", name, on_target ? "target" : "source",
			               rc_str(rc));
		tell(&p, sums[t].rows);
		r->rows += sums[t].rows;
		r->tables++;
	}
	return rc;
}

/* Reads every table of the target back and compares it with the source's. */
static enum rc verify_tables(struct store *to, const int64_t *totals, const struct table_sum *sums,
                             struct migrate_report *r, struct errbuf *eb)
{
	for (size_t t = 0; t < STORE_COPY_TABLES; t++) {
		struct table_sum got = {0};
		struct pass p = {.table = (enum store_copy_table)t, .sum = &got, .total = totals[t], .stage = "verify",
		                 .r = r};
		const char *name = store_copy_tables[t].name;
		enum rc rc = store_copy_read(to, p.table, on_row, &p);
		if (rc)
			return err_set(eb, rc, "reading table %s back from the target failed (%s)", name, rc_str(rc));
		tell(&p, got.rows);
		if (sums[t].rows != totals[t] || got.rows != totals[t])
			return err_set(eb, RC_INTERNAL, "table %s: %" PRId64 " rows in the source, %" PRId64 " copied, %" PRId64
			               " in the target", name, totals[t], sums[t].rows, got.rows);
		if (got.sum[0] != sums[t].sum[0] || got.sum[1] != sums[t].sum[1])
			return err_set(eb, RC_INTERNAL, "table %s: the target's rows differ from the source's (checksum)", name);
	}
	return RC_OK;
}

/* Every tenant's audit chain, on the target, and all its entries. */
static enum rc verify_audit(struct store *to, const char *keydir, int64_t audit_rows, struct migrate_report *r,
                            struct errbuf *eb)
{
	struct store_tenant *v = NULL;
	size_t n = 0;
	enum rc rc = tenant_list(to, &v, &n);
	if (rc)
		err_set(eb, rc, "the target: cannot list its tenants");
	for (size_t i = 0; !rc && i < n; i++) {
		struct tenant *t = NULL;
		struct audit_verify_result av = {0};
		rc = about(eb, tenant_open(to, keydir, v[i].name, &t, eb), "the target");
		if (!rc)
			rc = audit_verify(to, t, &av);
		if (!rc && !av.ok)
			rc = err_set(eb, RC_INTERNAL, "tenant %s: the audit chain does not verify on the target at entry %" PRId64
			             " (run 'privreg audit verify' on the source)", v[i].name, av.first_bad);
		if (!rc) {
			r->tenants++;
			r->audit_entries += av.entries;
		}
		tenant_free(t);
	}
	store_tenants_free(v, n);
	/* Entries of no tenant (none, unless the source was edited) would not be
	 * in any chain: the count says they came along too. */
	if (!rc && r->audit_entries != audit_rows)
		rc = err_set(eb, RC_INTERNAL, "the target's audit chains hold %" PRId64 " entries, its audit table %" PRId64,
		             r->audit_entries, audit_rows);
	return rc;
}

enum rc migrate_copy(struct store *from, struct store *to, const char *keydir, struct migrate_report *r,
                     struct errbuf *eb)
{
	int64_t totals[STORE_COPY_TABLES] = {0};
	struct table_sum sums[STORE_COPY_TABLES];
	memset(sums, 0, sizeof sums);
	r->rows = r->audit_entries = 0;
	r->tables = r->tenants = 0;
	enum rc rc = preflight(from, to, keydir, eb);
	if (rc)
		return rc;
	rc = store_begin_read(from);
	if (rc)
		return about(eb, rc, "the source");
	for (size_t t = 0; !rc && t < STORE_COPY_TABLES; t++)
		rc = about(eb, store_copy_count(from, (enum store_copy_table)t, &totals[t]), "the source");
	if (!rc)
		rc = about(eb, store_begin(to), "the target");
	if (rc) {
		store_rollback(from);
		return rc;
	}
	rc = copy_tables(from, to, totals, sums, r, eb);
	store_rollback(from); /* the snapshot: nothing was written there */
	if (!rc)
		rc = verify_tables(to, totals, sums, r, eb);
	if (!rc)
		rc = verify_audit(to, keydir, totals[STORE_COPY_audit], r, eb);
	if (rc) {
		store_rollback(to);
		return rc;
	}
	rc = store_commit(to);
	if (rc)
		return about(eb, rc, "the target: the commit failed");
	/* What a new connection would count: the commit kept every row. */
	for (size_t t = 0; !rc && t < STORE_COPY_TABLES; t++) {
		int64_t n = 0;
		rc = about(eb, store_copy_count(to, (enum store_copy_table)t, &n), "the target");
		if (!rc && n != totals[t])
			rc = err_set(eb, RC_INTERNAL, "table %s: %" PRId64 " rows in the target after the commit, %" PRId64
			             " in the source", store_copy_tables[t].name, n, totals[t]);
	}
	return rc;
}
