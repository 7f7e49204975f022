/*
 * cli_tenant: `privreg tenant export` and `privreg tenant delete`, what a
 * processor owes a controller at the end of the service (Art. 28(3)(g)):
 * everything of the tenant handed back, then deleted.
 *
 * The export is a directory (created 0700, files 0600: it holds the
 * decrypted data) with a README, a manifest of counts and SHA-256 hashes
 * (manifest.json, and SHA256SUMS for `sha256sum -c`), the policy in force,
 * and JSON and CSV per record kind, subjects, consents, requests,
 * disclosures, holds and the audit log (see README.md, "Ending a tenant").
 * A deletion destroys the key first (core/tenant.h) and is written to
 * DIR/operator.log: time, tenant id and name, counts; never a value.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/value_json.h"
#include "base/csv.h"
#include "base/log.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "core/audit.h"
#include "core/consent.h"
#include "core/disclosure.h"
#include "core/hold.h"
#include "core/request.h"
#include "core/subject.h"

#define EXPORT_FILES_MAX 256
#define SUBJECT_PAGE 200

struct export_file {
	char path[160];            /* relative to the export directory */
	size_t bytes, rows;
	char sha256[crypto_hash_sha256_BYTES * 2 + 1];
};

struct exporter {
	char dir[4200];
	struct export_file files[EXPORT_FILES_MAX];
	size_t nfiles;
};

/* Writes one file of the export (0600) and notes its size, rows and hash. */
static enum rc put(struct exporter *x, const char *rel, const char *data, size_t len, size_t rows)
{
	char path[4400];
	if (x->nfiles == EXPORT_FILES_MAX || snprintf(path, sizeof path, "%s/%s", x->dir, rel) >= (int)sizeof path)
		return RC_TOO_LARGE;
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0)
		return RC_IO;
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	bool ok = off == len && fsync(fd) == 0;
	close(fd);
	if (!ok)
		return RC_IO;
	struct export_file *f = &x->files[x->nfiles++];
	snprintf(f->path, sizeof f->path, "%s", rel);
	f->bytes = len;
	f->rows = rows;
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256(h, (const unsigned char *)data, len);
	sodium_bin2hex(f->sha256, sizeof f->sha256, h, sizeof h);
	return RC_OK;
}

/* A JSON document (taken) as one file. */
static enum rc put_json(struct exporter *x, const char *rel, json_t *doc, size_t rows)
{
	char *s = value_json_dumps(doc, JSON_INDENT(2));
	json_decref(doc);
	if (!s)
		return RC_INTERNAL;
	enum rc rc = put(x, rel, s, strlen(s), rows);
	free(s);
	return rc;
}

static json_t *instant(int64_t t)
{
	char s[TIMEUTIL_DATETIME_LEN];
	if (!t)
		return json_null();
	timeutil_format_datetime(t, s);
	return json_string(s);
}

static json_t *str(const char *s)
{
	return s ? json_string(s) : json_null();
}

/* One CSV cell (RFC 4180): quoted, quotes doubled; a formula's start behind
 * a single quote (base/csv.h: the CSV tables are for people, the JSON files
 * beside them keep every value exactly). */
static enum rc csv_cell(struct buf *b, const char *s, bool last)
{
	enum rc rc = buf_puts(b, csv_formula(s, strlen(s)) ? "\"'" : "\"");
	for (; !rc && *s; s++)
		rc = *s == '"' ? buf_puts(b, "\"\"") : buf_append(b, s, 1);
	rc = rc ? rc : buf_puts(b, "\"");
	return rc ? rc : buf_puts(b, last ? "\r\n" : ",");
}

/* Per record kind: a JSON list and a CSV table (one column per field). */
struct kind_out {
	const struct policy_record *kind;
	json_t *list;
	struct buf csv;
	size_t rows;
};

static enum rc csv_record(struct kind_out *k, const struct record_view *v)
{
	enum rc rc = csv_cell(&k->csv, v->subject_id, false);
	rc = rc ? rc : csv_cell(&k->csv, v->id, false);
	char created[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(v->created_at, created);
	rc = rc ? rc : csv_cell(&k->csv, created, false);
	rc = rc ? rc : csv_cell(&k->csv, v->state ? v->state : "", k->kind->nfields == 0);
	for (size_t f = 0; !rc && f < k->kind->nfields; f++) {
		const char *value = "";
		for (size_t i = 0; i < v->nfields; i++)
			if (!strcmp(v->fields[i].name, k->kind->fields[f]->name))
				value = v->fields[i].value;
		rc = csv_cell(&k->csv, value, f + 1 == k->kind->nfields);
	}
	return rc;
}

struct export_state {
	struct kind_out *kinds;
	size_t nkinds;
	json_t *subjects, *consents, *disclosures;
	size_t nsubjects, nrecords, nconsent_events, ndisclosures;
};

static enum rc export_subject(const struct core_ctx *c, const char *id, struct export_state *e, struct errbuf *eb)
{
	struct subject_view *v = NULL;
	enum rc rc = subject_read(c, id, &v, eb);
	if (rc == RC_GONE || rc == RC_NOT_FOUND)
		return RC_OK; /* erased meanwhile */
	if (rc)
		return rc;
	json_array_append_new(e->subjects, subject_view_to_json(v));
	e->nsubjects++;
	for (size_t i = 0; !rc && i < v->nrecords; i++) {
		const struct record_view *r = &v->records[i];
		for (size_t k = 0; k < e->nkinds; k++) {
			if (strcmp(e->kinds[k].kind->name, r->kind))
				continue;
			json_array_append_new(e->kinds[k].list, record_view_to_json(r));
			e->kinds[k].rows++;
			rc = csv_record(&e->kinds[k], r);
		}
		e->nrecords++;
	}
	subject_view_free(v);
	struct consent_report cr;
	if (!rc)
		rc = consent_report(c, id, &cr, eb);
	if (!rc) {
		json_t *states = json_array(), *events = json_array();
		for (size_t i = 0; i < cr.nstates; i++)
			json_array_append_new(states, json_pack("{s:s, s:s, s:o}", "purpose", cr.states[i].purpose, "state",
			                                        cr.states[i].state, "updated_at", instant(cr.states[i].updated_at)));
		for (size_t i = 0; i < cr.nevents; i++) {
			const struct store_consent_event *ev = &cr.events[i];
			json_array_append_new(events, json_pack("{s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s}", "purpose",
			                                        ev->purpose, "action", ev->action, "source", str(ev->source),
			                                        "channel", str(ev->channel), "policy_version",
			                                        str(ev->policy_version), "wording", str(ev->wording), "actor",
			                                        str(ev->actor), "at", instant(ev->at), "ip", cr.ips[i]));
		}
		e->nconsent_events += cr.nevents;
		if (cr.nstates || cr.nevents)
			json_array_append_new(e->consents, json_pack("{s:s, s:o, s:o}", "subject_id", id, "current", states,
			                                             "history", events));
		else {
			json_decref(states);
			json_decref(events);
		}
		consent_report_fini(&cr);
	}
	struct store_disclosure *d = NULL;
	size_t nd = 0;
	if (!rc)
		rc = disclosure_list(c, id, &d, &nd);
	for (size_t i = 0; !rc && i < nd; i++)
		json_array_append_new(e->disclosures, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o}", "id", d[i].id,
		                                                "subject_id", d[i].subject_id, "recipient", d[i].recipient,
		                                                "purpose", d[i].purpose, "fields", str(d[i].fields),
		                                                "legal_reference", str(d[i].legal_reference), "key_id",
		                                                str(d[i].key_id), "at", instant(d[i].at)));
	e->ndisclosures += nd;
	store_disclosures_free(d, nd);
	return rc;
}

/* Requests and holds are read as the API shows them (request_read_list,
 * hold_read): their texts are what staff wrote about a person, so each
 * subject whose texts are written out gets its read entry. */
static enum rc export_requests(const struct core_ctx *c, struct exporter *x)
{
	struct store_request_filter f = {.limit = 1000};
	char after[TOKEN_ID_MAX] = "";
	json_t *list = json_array();
	size_t n = 0, total = 0;
	enum rc rc;
	do {
		struct store_request *v = NULL;
		f.after = after;
		rc = request_read_list(c, &f, &v, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			const struct store_request *r = &v[i];
			json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, "
			                                      "s:o}",
			                                      "id", r->id, "subject_id", r->subject_id, "type", r->type, "status",
			                                      r->status, "channel", str(r->channel), "verified_by",
			                                      str(r->verified_by), "received_at", instant(r->received_at),
			                                      "due_at", instant(r->due_at), "target_at", instant(r->target_at),
			                                      "extended_at", instant(r->extended_at), "extension_reason",
			                                      str(r->extension_reason), "answered_at", instant(r->answered_at),
			                                      "outcome", str(r->outcome), "refusal_reason",
			                                      str(r->refusal_reason)));
		}
		if (!rc && n)
			memcpy(after, v[n - 1].id, TOKEN_ID_MAX);
		total += rc ? 0 : n;
		store_requests_free(v, n);
	} while (!rc && n == f.limit);
	if (rc) {
		json_decref(list);
		return rc;
	}
	return put_json(x, "requests.json", list, total);
}

static enum rc export_holds(const struct core_ctx *c, struct exporter *x)
{
	struct store_hold *v = NULL;
	size_t n = 0;
	enum rc rc = hold_read(c, NULL, NULL, &v, &n);
	if (rc)
		return rc;
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(list, json_pack("{s:s, s:o, s:o, s:s, s:b, s:o, s:o}", "id", v[i].id, "subject_id",
		                                      v[i].subject_id[0] ? json_string(v[i].subject_id) : json_null(),
		                                      "record_id", v[i].record_id[0] ? json_string(v[i].record_id) : json_null(),
		                                      "reason", v[i].reason, "forbid_disclosure", v[i].forbid_disclosure,
		                                      "created_at", instant(v[i].created_at), "until", instant(v[i].until)));
	store_holds_free(v, n);
	return put_json(x, "holds.json", list, n);
}

/* The audit log as JSON lines, oldest first, each with its chain hash. */
static enum rc export_audit(const struct core_ctx *c, struct exporter *x)
{
	struct store_audit_filter f = {.limit = AUDIT_PAGE_MAX};
	struct buf b;
	buf_init(&b, (size_t)4 << 30);
	size_t n = 0, total = 0;
	enum rc rc;
	do {
		struct store_audit *v = NULL;
		rc = audit_query(c, &f, &v, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			char hash[STORE_AUDIT_HASH_LEN * 2 + 1];
			sodium_bin2hex(hash, sizeof hash, v[i].hash, sizeof v[i].hash);
			json_t *j = json_pack("{s:I, s:o, s:o, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:s}", "seq",
			                      (json_int_t)v[i].seq, "at", instant(v[i].at), "key_id", str(v[i].key_id), "role",
			                      str(v[i].role), "action", v[i].action, "subject_id", str(v[i].subject_id),
			                      "record_id", str(v[i].record_id), "purpose", str(v[i].purpose), "outcome",
			                      str(v[i].outcome), "detail", str(v[i].detail), "hash", hash);
			char *s = json_dumps(j, JSON_COMPACT);
			json_decref(j);
			rc = s ? buf_printf(&b, "%s\n", s) : RC_INTERNAL;
			free(s);
			f.after_seq = v[i].seq;
		}
		total += rc ? 0 : n;
		store_audits_free(v, n);
	} while (!rc && n == f.limit);
	if (!rc)
		rc = put(x, "audit.jsonl", b.data ? b.data : "", b.len, total);
	buf_fini(&b);
	return rc;
}

static const char readme[] =
	"privreg tenant export\n"
	"=====================\n\n"
	"Everything the register held for one controller (tenant) when it was\n"
	"exported, decrypted. It is personal data: keep it as safely as the\n"
	"register itself, and delete it when it has been handed over.\n\n"
	"  manifest.json       tenant, time, policy version, and per file its bytes,\n"
	"                      rows and SHA-256\n"
	"  SHA256SUMS          the same hashes: check with 'sha256sum -c SHA256SUMS'\n"
	"  policy.yaml         the policy in force\n"
	"  subjects.json       every subject with all its records and fields\n"
	"  records/KIND.json   the records of one kind (as in subjects.json)\n"
	"  records/KIND.csv    the same as a table: subject_id, record_id,\n"
	"                      created_at, state, then one column per field;\n"
	"                      a value that begins with = + - @, a tab or a\n"
	"                      carriage return has a ' before it, so that no\n"
	"                      spreadsheet runs it (the JSON files keep it)\n"
	"  consents.json       per subject: current states and the full history\n"
	"  requests.json       data-subject requests and their answers\n"
	"  disclosures.json    every disclosure to a recipient\n"
	"  holds.json          legal holds in force\n"
	"  audit.jsonl         the audit log, one entry per line, oldest first,\n"
	"                      with each entry's chain hash\n\n"
	"Times are UTC (ISO 8601). Ids are the register's (sub_..., rec_...).\n";

static int export_tenant(const struct cli_opts *o, const char *name, const char *dir)
{
	struct cli_register r;
	struct tenant *t = NULL;
	if (cli_register_open(&r, o->dir))
		return CLI_FAILED;
	int ret = cli_tenant_open(&r, name, &t);
	if (ret) {
		cli_register_close(&r);
		return ret;
	}
	struct exporter *x = xcalloc(1, sizeof *x);
	snprintf(x->dir, sizeof x->dir, "%s", dir);
	char records_dir[4400];
	snprintf(records_dir, sizeof records_dir, "%s/records", dir);
	if (mkdir(dir, 0700) != 0 || mkdir(records_dir, 0700) != 0) {
		fprintf(stderr, "privreg: tenant export: cannot create %s: %s (it must not exist yet)\n", dir,
		        strerror(errno));
		free(x);
		cli_close(&r, t);
		return CLI_REFUSED;
	}
	struct core_ctx c = {.store = r.store, .tenant = t};
	struct errbuf eb = {""};
	const struct policy *p = t->policy;
	struct export_state e = {.subjects = json_array(), .consents = json_array(), .disclosures = json_array()};
	e.nkinds = p->nrecords;
	e.kinds = xcalloc(e.nkinds ? e.nkinds : 1, sizeof *e.kinds);
	enum rc rc = RC_OK;
	for (size_t k = 0; !rc && k < e.nkinds; k++) {
		e.kinds[k].kind = &p->records[k];
		e.kinds[k].list = json_array();
		buf_init(&e.kinds[k].csv, (size_t)4 << 30);
		static const char *const head[] = {"subject_id", "record_id", "created_at", "state"};
		for (size_t h = 0; !rc && h < 4; h++)
			rc = csv_cell(&e.kinds[k].csv, head[h], h == 3 && p->records[k].nfields == 0);
		for (size_t f = 0; !rc && f < p->records[k].nfields; f++)
			rc = csv_cell(&e.kinds[k].csv, p->records[k].fields[f]->name, f + 1 == p->records[k].nfields);
	}
	char after[TOKEN_ID_MAX] = "", (*ids)[TOKEN_ID_MAX] = xcalloc(SUBJECT_PAGE, sizeof *ids);
	for (size_t n = SUBJECT_PAGE; !rc && n == SUBJECT_PAGE;) {
		rc = tenant_subjects_page(&c, after, ids, SUBJECT_PAGE, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			memcpy(after, ids[i], TOKEN_ID_MAX);
			rc = export_subject(&c, ids[i], &e, &eb);
		}
	}
	free(ids);
	char *source = NULL;
	if (!rc)
		rc = tenant_policy_source(&c, &source);
	if (!rc)
		rc = put(x, "policy.yaml", source, strlen(source), 0);
	free(source);
	if (!rc)
		rc = put_json(x, "subjects.json", json_incref(e.subjects), e.nsubjects);
	for (size_t k = 0; !rc && k < e.nkinds; k++) {
		char rel[160];
		snprintf(rel, sizeof rel, "records/%s.json", e.kinds[k].kind->name);
		rc = put_json(x, rel, json_incref(e.kinds[k].list), e.kinds[k].rows);
		snprintf(rel, sizeof rel, "records/%s.csv", e.kinds[k].kind->name);
		if (!rc)
			rc = put(x, rel, e.kinds[k].csv.data ? e.kinds[k].csv.data : "", e.kinds[k].csv.len, e.kinds[k].rows);
	}
	if (!rc)
		rc = put_json(x, "consents.json", json_incref(e.consents), e.nconsent_events);
	if (!rc)
		rc = put_json(x, "disclosures.json", json_incref(e.disclosures), e.ndisclosures);
	if (!rc)
		rc = export_requests(&c, x);
	if (!rc)
		rc = export_holds(&c, x);
	if (!rc)
		rc = export_audit(&c, x);
	if (!rc)
		rc = put(x, "README.txt", readme, strlen(readme), 0);
	if (!rc) {
		/* The manifest and the sums name every file written before them. */
		json_t *files = json_array();
		struct buf sums;
		buf_init(&sums, 1024 * 1024);
		for (size_t i = 0; !rc && i < x->nfiles; i++) {
			json_array_append_new(files, json_pack("{s:s, s:I, s:I, s:s}", "path", x->files[i].path, "bytes",
			                                       (json_int_t)x->files[i].bytes, "rows", (json_int_t)x->files[i].rows,
			                                       "sha256", x->files[i].sha256));
			rc = buf_printf(&sums, "%s  %s\n", x->files[i].sha256, x->files[i].path);
		}
		json_t *m = json_pack("{s:s, s:I, s:s, s:s, s:o, s:{s:I, s:I, s:I, s:I}, s:o}", "tenant", t->name,
		                      "tenant_id", (json_int_t)t->id, "controller", p->controller.name, "policy_version",
		                      p->version, "exported_at", instant(timeutil_now()), "counts", "subjects",
		                      (json_int_t)e.nsubjects, "records", (json_int_t)e.nrecords, "consent_events",
		                      (json_int_t)e.nconsent_events, "disclosures", (json_int_t)e.ndisclosures, "files", files);
		if (!rc)
			rc = put(x, "SHA256SUMS", sums.data ? sums.data : "", sums.len, x->nfiles);
		buf_fini(&sums);
		if (!rc)
			rc = put_json(x, "manifest.json", m, 0);
		else
			json_decref(m);
	}
	json_decref(e.subjects);
	json_decref(e.consents);
	json_decref(e.disclosures);
	for (size_t k = 0; k < e.nkinds; k++) {
		json_decref(e.kinds[k].list);
		buf_fini(&e.kinds[k].csv);
	}
	free(e.kinds);
	if (!rc)
		printf("exported tenant '%s' to %s: %zu subjects, %zu records, %zu files (see %s/README.txt)\n", t->name, dir,
		       e.nsubjects, e.nrecords, x->nfiles, dir);
	else
		fprintf(stderr, "privreg: tenant export: stopped; %s is incomplete: delete it\n", dir);
	free(x);
	cli_close(&r, t);
	return rc ? cli_fail("tenant export", rc, &eb) : CLI_OK;
}

/* One line in DIR/operator.log: the register's own log, outside every
 * tenant, that outlives the tenants it speaks of. */
static int operator_log(const char *dir, const char *line)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/operator.log", dir);
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	ssize_t want = (ssize_t)strlen(line), w = write(fd, line, (size_t)want);
	int ok = w == want && fsync(fd) == 0;
	close(fd);
	return ok ? 0 : -1;
}

static int delete_tenant(const struct cli_opts *o, const char *name, bool yes)
{
	struct cli_register r;
	if (cli_register_open(&r, o->dir))
		return CLI_FAILED;
	struct errbuf eb = {""};
	struct tenant_status st;
	int64_t rows = 0;
	enum rc rc = yes ? tenant_delete(r.store, r.keydir, name, &st, &rows, &eb)
	                 : tenant_delete_plan(r.store, name, &st, &eb);
	cli_register_close(&r);
	if (rc)
		return cli_fail("tenant delete", rc, &eb);
	if (!yes) {
		fprintf(stderr,
		        "privreg tenant delete: would destroy the key of tenant '%s' (id %lld) and delete %lld subjects, "
		        "%lld records, %lld open requests, %lld unsent e-mails and its audit log; nothing is deleted "
		        "without --yes (export it first: privreg tenant export %s DIR)\n",
		        st.name, (long long)st.id, (long long)st.subjects, (long long)st.records, (long long)st.requests_open,
		        (long long)st.outbox_pending, st.name);
		return CLI_REFUSED;
	}
	char at[TIMEUTIL_DATETIME_LEN], line[512];
	timeutil_format_datetime(timeutil_now(), at);
	snprintf(line, sizeof line, "%s tenant.delete tenant=%lld name=%s subjects=%lld records=%lld rows=%lld key=destroyed\n",
	         at, (long long)st.id, st.name, (long long)st.subjects, (long long)st.records, (long long)rows);
	log_info("tenant.delete tenant=%lld name=%s subjects=%lld records=%lld rows=%lld", (long long)st.id, st.name,
	         (long long)st.subjects, (long long)st.records, (long long)rows);
	if (operator_log(o->dir, line) != 0) {
		fprintf(stderr, "privreg: tenant delete: deleted, but %s/operator.log could not be written: %s", o->dir, line);
		return CLI_FAILED;
	}
	printf("deleted tenant '%s' (id %lld): key destroyed, %lld subjects, %lld records, %lld rows; logged in "
	       "%s/operator.log\n", st.name, (long long)st.id, (long long)st.subjects, (long long)st.records,
	       (long long)rows, o->dir);
	return CLI_OK;
}

int cli_tenant_admin(const struct cli_opts *o, bool yes)
{
	const char *sub = o->argv[0];
	if (!strcmp(sub, "export") && o->argc == 3 && !yes)
		return export_tenant(o, o->argv[1], o->argv[2]);
	if (!strcmp(sub, "delete") && o->argc == 2)
		return delete_tenant(o, o->argv[1], yes);
	cli_usage_error("tenant", "expected 'tenant export NAME DIR' or 'tenant delete NAME [--yes]'");
	return CLI_USAGE;
}
