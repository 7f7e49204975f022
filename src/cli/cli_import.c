/*
 * cli_import: `privreg import KIND FILE`: a register's existing data, one row
 * per record of KIND, from CSV (RFC 4180, libcsv) or JSON Lines.
 *
 * Two threads: the reader parses rows, validates them against the policy
 * and seals new subjects (core/subject.h subject_batch_add, which needs no
 * connection); the writer writes each batch in one transaction with one
 * audit entry naming the file's SHA-256 and the batch's lines. The new
 * subjects of a batch go in together (subject_batch_write: on PostgreSQL a
 * COPY per table), up to a row for an existing subject, which is written on
 * its own since it may name one of them; refusals and consents then follow
 * in the file's order. At most three
 * batches are in memory (one read, one waiting, one written), each capped
 * in rows and bytes: memory does not grow with the file.
 *
 * A refused row goes to FILE.rejects.csv with its line and reason (mode
 * 0600: the rows are personal data), and the good rows are kept (unless --all-or-nothing: one transaction, rolled back
 * at the first refusal's end). --dry-run runs everything in one transaction
 * and rolls it back. --resume finds, in the audit log, the last batch of
 * this file (by its hash) that was committed and goes on after its lines:
 * the entry is written in the batch's own transaction, so it is there
 * exactly when the batch is. DIR/imports/ keeps, per file, the audit
 * position the first attempt started from, so that the search is short.
 * A failure after some commits says up to which line they reach. Lines are
 * counted from the file's start, a byte-order mark before the first one
 * skipped.
 */
#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/value_json.h"
#include "base/buf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "core/audit.h"
#include "core/consent.h"
#include "core/subject.h"
#include "store/store.h"

#define IMPORT_LINE_MAX (1024 * 1024)       /* a line, or a CSV row over several lines */
#define IMPORT_BATCH_ROWS 50000              /* rows per transaction, by default */
#define IMPORT_BATCH_MAX 100000
#define IMPORT_CHUNK_ROWS 5000               /* rows the reader hands over at once */
#define IMPORT_BATCH_BYTES (8 * 1024 * 1024) /* input bytes per batch */
#define IMPORT_COLUMNS_MAX 512
#define IMPORT_SHOW_REFUSED 20               /* refusals also printed on stderr */
#define HASH_HEX (2 * crypto_hash_sha256_BYTES + 1)

static const char import_help[] =
	"usage: privreg import KIND FILE [--format csv|jsonl] [--dry-run] [--resume]\n"
	"                      [--all-or-nothing] [--batch N] [--tenant T] [--dir D]\n\n"
	"Each row of FILE becomes one KIND record: of a new subject, or of the\n"
	"existing subject its `subject` names (a subject id, or the value of a\n"
	"lookup field, such as an e-mail address, that one subject holds).\n\n"
	"CSV (FILE.csv): a header row naming the policy's fields, and optionally\n"
	"created_at, the kind's events, subject, and consent.PURPOSE columns\n"
	"(value `granted`), which need the evidence columns consent_source (a\n"
	"collection point) and consent_at (when it was given).\n"
	"JSON Lines (any other name): {\"fields\": {...}, \"created_at\"?: ISO,\n"
	"\"events\"?: {NAME: ISO}, \"subject\"?: S, \"consents\"?: [PURPOSE...],\n"
	"\"consent_source\"?: S, \"consent_at\"?: ISO} per line.\n\n"
	"Every row is validated against the policy. Refused rows are written, with\n"
	"their line and the reason, to FILE.rejects.csv, and the others imported.\n"
	"  --all-or-nothing  import nothing if any row is refused\n"
	"  --dry-run         validate only: nothing is kept\n"
	"  --resume          go on after the last batch an interrupted import of\n"
	"                    the same file committed\n"
	"  --batch N         rows per transaction, in whole chunks of up to 5000\n"
	"                    (default 50000)\n\n"
	"--dry-run and --all-or-nothing hold the whole file in one transaction:\n"
	"every server's writes to the register wait until it ends.\n\n"
	"Exit status: 0 every row imported, 1 a row or the whole file refused (or\n"
	"no such tenant or record kind), 2 a usage error, 3 the register could not\n"
	"be opened or written (an import stopped by it keeps what it committed:\n"
	"--resume goes on after that).\n";

/* ---- rows ---- */

enum column_role { COL_FIELD, COL_EVENT, COL_CREATED, COL_SUBJECT, COL_CONSENT, COL_SOURCE, COL_CONSENT_AT };

struct column {
	enum column_role role;
	char *name;
	const struct policy_field *field;
	const struct policy_purpose *purpose;
};

/* One row, parsed and (for a new subject) prepared; owns its text. */
struct row {
	size_t line;
	enum rc rc;                /* RC_OK, or why the reader refused it */
	char *why;                 /* the refusal's message (NULL: rc's own); a
	                            * row holds no errbuf: 1 KiB a row was most
	                            * of a batch's memory */
	char *raw;                 /* the row as read, for the rejects file */
	size_t rawlen;
	json_t *json;              /* JSON Lines: the parsed line */
	struct value_json_holder holder;
	char **cells;              /* CSV: the cells (NULL: empty) */
	size_t ncells;
	char **owned;              /* CSV: JSON values re-printed compact */
	size_t nowned;
	struct field_input *fields;
	struct event_input *events;
	struct record_input rec;
	const char *subject;       /* attach to this subject (an id or a lookup value) */
	const char *source;        /* consent evidence */
	int64_t consent_at;
	const struct policy_purpose **grants;
	size_t ngrants;
	bool fresh;                /* a new subject, prepared in the batch */
	size_t index;
};

static void row_fini(struct row *r)
{
	free(r->why);
	free(r->raw);
	json_decref(r->json);
	value_json_holder_fini(&r->holder);
	for (size_t i = 0; i < r->ncells; i++)
		free(r->cells[i]);
	free(r->cells);
	for (size_t i = 0; i < r->nowned; i++)
		free(r->owned[i]);
	free(r->owned);
	free(r->fields);
	free(r->events);
	free(r->grants);
	memset(r, 0, sizeof *r);
}

/* Keeps rc and, for a refusal, its message from eb (the last refusal's,
 * as its rc is). */
static void row_set(struct row *r, enum rc rc, const struct errbuf *eb)
{
	r->rc = rc;
	if (rc) {
		free(r->why);
		r->why = eb->msg[0] ? xstrdup(eb->msg) : NULL;
	}
}

static void row_refuse(struct row *r, enum rc rc, const char *fmt, ...) PRINTF(3, 4);
static void row_refuse(struct row *r, enum rc rc, const char *fmt, ...)
{
	struct errbuf eb;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(eb.msg, sizeof eb.msg, fmt, ap);
	va_end(ap);
	row_set(r, rc, &eb);
}

struct batch {
	struct row *rows;
	size_t n, alloc, bytes;
	struct subject_batch *sb;
	bool end;                  /* the last batch of the file */
};

static struct batch *batch_new(void)
{
	struct batch *b = xcalloc(1, sizeof *b);
	b->sb = subject_batch_new();
	return b;
}

static void batch_free(struct batch *b)
{
	if (!b)
		return;
	for (size_t i = 0; i < b->n; i++)
		row_fini(&b->rows[i]);
	free(b->rows);
	subject_batch_free(b->sb);
	free(b);
}

static struct row *batch_row(struct batch *b, size_t line)
{
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? 2 * b->alloc : 1024;
		b->rows = xrealloc(b->rows, b->alloc * sizeof *b->rows);
	}
	struct row *r = &b->rows[b->n++];
	memset(r, 0, sizeof *r);
	r->line = line;
	return r;
}

/* ---- the reader ---- */

struct reader {
	FILE *f;
	const char *path;
	bool csv;
	const struct tenant *tenant;
	const char *kind;
	const struct policy_record *rk;
	struct core_ctx c;         /* no connection: preparing needs none */
	size_t skip_to;            /* --resume: rows up to this line are in already */
	size_t batch;              /* rows per batch */
	size_t lineno;
	uint64_t bytes;            /* read so far (the progress bar's measure; atomic:
	                            * the writer reads it) */
	char *line;
	/* CSV */
	struct csv_parser p;
	struct column *cols;
	size_t ncols;
	bool header_done;
	char **cells;
	size_t ncells, cellbytes;
	struct buf raw;
	bool row_open, row_bad;
	size_t row_line;
	struct batch *out;         /* where finished rows go */
	/* a problem that stops the whole file (a bad header), else 0 */
	int fatal;
	char fatal_msg[512];
};

static void reader_fatal(struct reader *rd, int code, const char *fmt, ...) PRINTF(3, 4);
static void reader_fatal(struct reader *rd, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(rd->fatal_msg, sizeof rd->fatal_msg, fmt, ap);
	va_end(ap);
	if (!rd->fatal)
		rd->fatal = code;
}

/* Reads one line, its newline included, at most cap bytes of it, into line
 * (room for cap + 1): unlike fgets, the length shows a NUL byte inside. */
static bool read_line(FILE *f, char *line, size_t cap, size_t *len)
{
	size_t n = 0;
	int c = EOF;
	while (n < cap && (c = getc_unlocked(f)) != EOF) {
		line[n++] = (char)c;
		if (c == '\n')
			break;
	}
	line[n] = '\0';
	*len = n;
	return n > 0;
}

static void skip_rest_of_line(struct reader *rd)
{
	int c;
	while ((c = getc_unlocked(rd->f)) != EOF) {
		__atomic_fetch_add(&rd->bytes, 1, __ATOMIC_RELAXED);
		if (c == '\n')
			break;
	}
}

/* The checks a consent grant's evidence gets before anything is written:
 * those of consent_record, so that the writer's grant cannot be refused. */
static enum rc grant_check(const struct policy *p, const struct policy_purpose *u, const char *source,
                           struct errbuf *eb)
{
	if (u->basis != BASIS_CONSENT)
		return err_set(eb, RC_UNPROCESSABLE, "purpose %s has basis %s: no consent is asked for it", u->name,
		               policy_basis_name(u->basis));
	if (u->double_opt_in)
		return err_set(eb, RC_UNPROCESSABLE, "purpose %s asks for double opt-in: each person confirms a link, "
		               "so its consents cannot be imported", u->name);
	if (!source)
		return RC_OK;
	if (!*source)
		return err_set(eb, RC_UNPROCESSABLE, "a consent to %s needs its consent_source (the collection point)",
		               u->name);
	if (strlen(source) > CONSENT_SOURCE_MAX)
		return err_set(eb, RC_UNPROCESSABLE, "consent_source is longer than %d characters", CONSENT_SOURCE_MAX);
	if (p->nconsent_sources) {
		const struct policy_consent_source *s = policy_consent_source(p, source);
		if (!s || !policy_consent_source_covers(s, u))
			return err_set(eb, RC_UNPROCESSABLE, "consent_source must be one of the policy's consent_sources "
			               "collecting %s (no third-party lists)", u->name);
	}
	return RC_OK;
}

/* Evidence of the row's grants: a source and a time, both required. */
static void check_grants(const struct reader *rd, struct row *r, const char *at)
{
	if (!r->ngrants || r->rc)
		return;
	if (!r->source || !*r->source || !at || !*at) {
		row_refuse(r, RC_UNPROCESSABLE, "a consent needs its evidence: consent_source (the collection point) "
		           "and consent_at (when it was given)");
		return;
	}
	if (timeutil_parse_instant(at, &r->consent_at)) {
		row_refuse(r, RC_UNPROCESSABLE, "consent_at: not an ISO 8601 date or time");
		return;
	}
	if (r->consent_at > timeutil_now()) {
		row_refuse(r, RC_UNPROCESSABLE, "consent_at: in the future");
		return;
	}
	struct errbuf eb = {""};
	for (size_t i = 0; i < r->ngrants && !r->rc; i++)
		row_set(r, grant_check(rd->tenant->policy, r->grants[i], r->source, &eb), &eb);
}

/* Validates and seals a parsed row of a new subject into the batch. */
static void prepare(struct reader *rd, struct batch *b, struct row *r)
{
	if (r->rc || r->subject)
		return;
	struct errbuf eb = {""};
	row_set(r, subject_batch_add(&rd->c, b->sb, &r->rec, 1, &r->index, &eb), &eb);
	r->fresh = !r->rc;
	if (r->fresh && !r->ngrants && !r->rec.nevents) {
		/* Sealed (the events' names are still the row's, borrowed): only
		 * the raw row stays, for a refusal by the writer. */
		char *raw = r->raw;
		size_t line = r->line, rawlen = r->rawlen, index = r->index;
		r->raw = NULL;
		row_fini(r);
		*r = (struct row){.line = line, .raw = raw, .rawlen = rawlen, .fresh = true, .index = index};
	}
}

/* -- JSON Lines -- */

static void jsonl_row(struct reader *rd, struct row *r, const char *line, size_t len)
{
	json_error_t jerr;
	struct errbuf eb = {""};
	if (memchr(line, '\0', len)) {
		row_refuse(r, RC_UNPROCESSABLE, "a NUL byte in the line (not JSON text)");
		return;
	}
	if (value_json_check_numbers(line, len, &eb)) {
		row_set(r, RC_UNPROCESSABLE, &eb);
		return;
	}
	r->json = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!r->json) {
		row_refuse(r, RC_UNPROCESSABLE, "not JSON: %s", jerr.text);
		return;
	}
	if (!json_is_object(r->json)) {
		row_refuse(r, RC_UNPROCESSABLE, "a record must be an object");
		return;
	}
	/* What is not the record's own comes out before the record is read. */
	json_t *s = json_object_get(r->json, "subject");
	json_t *grants = json_object_get(r->json, "consents");
	json_t *src = json_object_get(r->json, "consent_source");
	json_t *at = json_object_get(r->json, "consent_at");
	if ((s && !json_is_string(s)) || (src && !json_is_string(src)) || (at && !json_is_string(at))) {
		row_refuse(r, RC_UNPROCESSABLE, "subject, consent_source and consent_at must be strings");
		return;
	}
	if (grants && (!json_is_array(grants) || json_array_size(grants) > IMPORT_COLUMNS_MAX)) {
		row_refuse(r, RC_UNPROCESSABLE, "consents must be a list of purposes");
		return;
	}
	json_incref(s);
	json_incref(src);
	json_incref(at);
	json_incref(grants);
	json_object_del(r->json, "subject");
	json_object_del(r->json, "consent_source");
	json_object_del(r->json, "consent_at");
	json_object_del(r->json, "consents");
	/* r->json holds them until the row goes (as the strings' owner). */
	json_t *keep = json_pack("{s:o*,s:o*,s:o*,s:o*}", "s", s, "src", src, "at", at, "g", grants);
	r->subject = s ? json_string_value(s) : NULL;
	r->source = src ? json_string_value(src) : NULL;
	size_t ng = grants ? json_array_size(grants) : 0;
	r->grants = xcalloc(ng ? ng : 1, sizeof *r->grants);
	for (size_t i = 0; i < ng && !r->rc; i++) {
		json_t *g = json_array_get(grants, i);
		const struct policy_purpose *u = json_is_string(g) ? policy_purpose(rd->tenant->policy, json_string_value(g))
		                                                   : NULL;
		if (!u)
			row_refuse(r, RC_UNPROCESSABLE, "consents[%zu]: not a purpose of the policy", i);
		else
			r->grants[r->ngrants++] = u;
	}
	json_object_set_new(r->json, "kind", json_string(rd->kind));
	if (!r->rc)
		row_set(r, record_input_from_json(r->json, true, &r->rec, &r->holder, &eb), &eb);
	json_object_set_new(r->json, "_import", keep);
	check_grants(rd, r, at ? json_string_value(at) : NULL);
}

/* -- CSV -- */

static void csv_on_cell(void *s, size_t len, void *data)
{
	struct reader *rd = data;
	if (rd->ncells == IMPORT_COLUMNS_MAX + 1) {
		rd->row_bad = true;
		return;
	}
	char *cell = NULL;
	if (s && len) {
		cell = xmalloc(len + 1);
		memcpy(cell, s, len);
		cell[len] = '\0';
		if (memchr(cell, '\0', len))
			rd->row_bad = true;
	}
	rd->cells = xrealloc(rd->cells, (rd->ncells + 1) * sizeof *rd->cells);
	rd->cells[rd->ncells++] = cell;
}

static void cells_drop(struct reader *rd)
{
	for (size_t i = 0; i < rd->ncells; i++)
		free(rd->cells[i]);
	free(rd->cells);
	rd->cells = NULL;
	rd->ncells = 0;
}

/* A header name as a message shows it: at most its first 64 bytes, with
 * control characters, bytes that are not UTF-8 and invisible characters
 * (a byte-order mark, zero-width and direction marks, a no-break space)
 * escaped (as \x01 or \uFEFF), so that a refused name can be seen and fixed. */
#define SHOWN_MAX (64 * 4 + 1)
static const char *shown(const char *name, char out[SHOWN_MAX])
{
	const unsigned char *p = (const unsigned char *)name;
	size_t i = 0, o = 0;
	while (p[i] && i < 64) {
		unsigned c = p[i];
		size_t n = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
		uint32_t u = n == 1 ? c : n == 2 ? c & 0x1F : n == 3 ? c & 0x0F : c & 0x07;
		for (size_t k = 1; k < n && n; k++)
			if ((p[i + k] & 0xC0) == 0x80)
				u = u << 6 | (p[i + k] & 0x3F);
			else
				n = 0; /* cut short (a NUL ends it too): not UTF-8 */
		bool utf8 = n == 1 || (n == 2 && u >= 0x80) || (n == 3 && u >= 0x800 && (u < 0xD800 || u >= 0xE000)) ||
		            (n == 4 && u >= 0x10000 && u <= 0x10FFFF);
		if (utf8 && i + n > 64)
			break; /* no character is cut in two */
		if (!utf8 || u < 0x20 || u == 0x7F) {
			o += (size_t)snprintf(out + o, SHOWN_MAX - o, "\\x%02X", c);
			i++;
		} else if ((u >= 0x80 && u <= 0xA0) || u == 0xAD || u == 0x180E || (u >= 0x200B && u <= 0x200F) ||
		           (u >= 0x2028 && u <= 0x202E) || (u >= 0x2060 && u <= 0x206F) || u == 0xFEFF ||
		           (u >= 0xFFF9 && u <= 0xFFFB)) {
			o += (size_t)snprintf(out + o, SHOWN_MAX - o, "\\u%04X", (unsigned)u);
			i += n;
		} else {
			memcpy(out + o, p + i, n);
			o += n;
			i += n;
		}
	}
	out[o] = '\0';
	return out;
}

static void csv_header(struct reader *rd)
{
	const struct policy *p = rd->tenant->policy;
	bool has_source = false, has_at = false;
	const char *consent_col = NULL;
	char sh[SHOWN_MAX], sh2[SHOWN_MAX];
	rd->cols = xcalloc(rd->ncells ? rd->ncells : 1, sizeof *rd->cols);
	for (size_t i = 0; i < rd->ncells && !rd->fatal; i++) {
		const char *name = rd->cells[i] ? rd->cells[i] : "";
		struct column *col = &rd->cols[i];
		col->name = xstrdup(name);
		rd->ncols++;
		for (size_t j = 0; j < i; j++)
			if (!strcmp(rd->cols[j].name, name))
				reader_fatal(rd, CLI_REFUSED, "column '%s' is named twice", shown(name, sh));
		if (!strcmp(name, "created_at")) {
			col->role = COL_CREATED;
		} else if (!strcmp(name, "subject")) {
			col->role = COL_SUBJECT;
		} else if (!strcmp(name, "consent_source")) {
			col->role = COL_SOURCE;
			has_source = true;
		} else if (!strcmp(name, "consent_at")) {
			col->role = COL_CONSENT_AT;
			has_at = true;
		} else if (!strncmp(name, "consent.", 8)) {
			struct errbuf eb = {""};
			col->role = COL_CONSENT;
			col->purpose = policy_purpose(p, name + 8);
			consent_col = name;
			if (!col->purpose)
				reader_fatal(rd, CLI_REFUSED, "column '%s': the policy has no purpose '%s'",
				             shown(name, sh), shown(name + 8, sh2));
			else if (grant_check(p, col->purpose, NULL, &eb))
				reader_fatal(rd, CLI_REFUSED, "column '%s': %s", shown(name, sh), eb.msg);
		} else if ((col->field = policy_field(p, name))) {
			col->role = COL_FIELD;
			if (!policy_record_has_field(rd->rk, col->field))
				reader_fatal(rd, CLI_REFUSED, "column '%s': '%s' records have no such field",
				             shown(name, sh), rd->kind);
		} else if (policy_record_event(rd->rk, name) ||
		           (rd->rk->keep.rule == KEEP_AFTER_EVENT && rd->rk->keep.event &&
		            !strcmp(rd->rk->keep.event, name) && strcmp(name, "created"))) {
			col->role = COL_EVENT;
		} else {
			reader_fatal(rd, CLI_REFUSED, "column '%s': not a field or event of '%s' records, nor created_at, "
			             "subject, consent.PURPOSE, consent_source or consent_at", shown(name, sh), rd->kind);
		}
	}
	if (!rd->fatal && consent_col && (!has_source || !has_at))
		reader_fatal(rd, CLI_REFUSED, "column '%s' needs the evidence columns consent_source (the collection "
		             "point) and consent_at (when it was given): no third-party lists", shown(consent_col, sh));
	if (!rd->fatal && rd->ncells == 0)
		reader_fatal(rd, CLI_REFUSED, "the header row names no column");
}

/* A JSON cell, checked and printed compact (a json field's canonical form). */
static bool json_cell(struct row *r, const char *text, struct field_value *v)
{
	json_error_t jerr;
	json_t *j = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!j || (!json_is_object(j) && !json_is_array(j))) {
		json_decref(j);
		return false;
	}
	char *s = value_json_dumps(j, JSON_COMPACT);
	json_decref(j);
	if (!s)
		return false;
	r->owned = xrealloc(r->owned, (r->nowned + 1) * sizeof *r->owned);
	r->owned[r->nowned++] = s;
	*v = (struct field_value){VAL_JSON, s, strlen(s)};
	return true;
}

static void csv_record(struct reader *rd, struct row *r)
{
	if (r->ncells != rd->ncols) {
		row_refuse(r, RC_UNPROCESSABLE, "%zu cells, the header names %zu columns", r->ncells, rd->ncols);
		return;
	}
	r->fields = xcalloc(rd->ncols, sizeof *r->fields);
	r->events = xcalloc(rd->ncols, sizeof *r->events);
	r->grants = xcalloc(rd->ncols, sizeof *r->grants);
	r->rec.kind = rd->kind;
	r->rec.fields = r->fields;
	r->rec.events = r->events;
	const char *at = NULL;
	for (size_t i = 0; i < rd->ncols && !r->rc; i++) {
		const struct column *col = &rd->cols[i];
		const char *cell = r->cells[i];
		if (!cell)
			continue; /* an empty cell: no value */
		size_t len = strlen(cell);
		switch (col->role) {
		case COL_FIELD: {
			struct field_value v = {VAL_STRING, cell, len};
			if (col->field->type == FT_INTEGER)
				v.kind = VAL_NUMBER;
			else if (col->field->type == FT_BOOL && (!strcmp(cell, "true") || !strcmp(cell, "false")))
				v.kind = VAL_BOOL;
			else if (col->field->type == FT_JSON && !json_cell(r, cell, &v))
				row_refuse(r, RC_UNPROCESSABLE, "field %s: not a JSON object or array", col->name);
			r->fields[r->rec.nfields++] = (struct field_input){col->name, v};
			break;
		}
		case COL_EVENT:
			r->events[r->rec.nevents++] = (struct event_input){col->name, cell};
			break;
		case COL_CREATED:
			r->rec.created_at = cell;
			break;
		case COL_SUBJECT:
			r->subject = cell;
			break;
		case COL_SOURCE:
			r->source = cell;
			break;
		case COL_CONSENT_AT:
			at = cell;
			break;
		case COL_CONSENT:
			if (!strcmp(cell, "granted"))
				r->grants[r->ngrants++] = col->purpose;
			else
				row_refuse(r, RC_UNPROCESSABLE, "%s: `granted` or empty", col->name);
			break;
		}
	}
	check_grants(rd, r, at);
}

static void csv_on_row(int term, void *data)
{
	struct reader *rd = data;
	(void)term;
	if (!rd->header_done) {
		rd->header_done = true;
		if (rd->row_bad)
			reader_fatal(rd, CLI_REFUSED, "the header row is not usable (a NUL byte or over %d columns)",
			             IMPORT_COLUMNS_MAX);
		else
			csv_header(rd);
		cells_drop(rd);
	} else if (rd->fatal) {
		/* The header was refused: the rows parsed after it in the same
		 * buffer have no columns to go to. */
		cells_drop(rd);
	} else if (rd->row_line > rd->skip_to) {
		struct row *r = batch_row(rd->out, rd->row_line);
		r->raw = (char *)rd->raw.data;
		r->rawlen = rd->raw.len;
		buf_init(&rd->raw, IMPORT_LINE_MAX);
		r->cells = rd->cells;
		r->ncells = rd->ncells;
		rd->cells = NULL;
		rd->ncells = 0;
		rd->out->bytes += r->rawlen + sizeof *r;
		if (rd->row_bad)
			row_refuse(r, RC_UNPROCESSABLE, "a NUL byte or more than %d cells", IMPORT_COLUMNS_MAX);
		else
			csv_record(rd, r);
		prepare(rd, rd->out, r);
	} else {
		cells_drop(rd);
	}
	rd->raw.len = 0;
	rd->row_open = rd->row_bad = false;
}

static void csv_reset(struct reader *rd)
{
	csv_free(&rd->p);
	csv_init(&rd->p, CSV_STRICT | CSV_EMPTY_IS_NULL | CSV_STRICT_FINI);
	cells_drop(rd);
	rd->raw.len = 0;
	rd->row_open = rd->row_bad = false;
}

/* A row the parser could not finish: refused as it stands. */
static void csv_refuse_open_row(struct reader *rd, const char *why)
{
	if (!rd->header_done) {
		reader_fatal(rd, CLI_REFUSED, "%s:%zu: the header row: %s", rd->path, rd->row_line, why);
	} else if (rd->row_line > rd->skip_to) {
		struct row *r = batch_row(rd->out, rd->row_line);
		r->rawlen = rd->raw.len;
		r->raw = xmalloc(r->rawlen + 1);
		memcpy(r->raw, rd->raw.data ? (const char *)rd->raw.data : "", r->rawlen);
		r->raw[r->rawlen] = '\0';
		rd->out->bytes += r->rawlen + sizeof *r;
		row_refuse(r, RC_UNPROCESSABLE, "%s", why);
	}
	csv_reset(rd);
}

static void csv_feed(struct reader *rd, const char *line, size_t len)
{
	if (!rd->row_open) {
		if (strspn(line, " \t\r\n") == len)
			return; /* a blank line between rows */
		rd->row_open = true;
		rd->row_line = rd->lineno;
	}
	if (rd->raw.len + len > IMPORT_LINE_MAX || buf_append(&rd->raw, line, len)) {
		csv_refuse_open_row(rd, "a row longer than 1 MiB");
		return;
	}
	if (csv_parse(&rd->p, line, len, csv_on_cell, csv_on_row, rd) != len)
		csv_refuse_open_row(rd, csv_strerror(csv_error(&rd->p)));
}

/* Reads rows into b until it is full or the file ends. */
static void reader_fill(struct reader *rd, struct batch *b)
{
	size_t len;
	rd->out = b;
	while (!rd->fatal && b->n < rd->batch && b->bytes < IMPORT_BATCH_BYTES) {
		if (!read_line(rd->f, rd->line, IMPORT_LINE_MAX + 1, &len)) {
			/* Also when no line is open: a row may begin after a bare CR
			 * ended the one before it on the same line, and must not be
			 * lost (nor a NUL in it pass unseen). */
			if (rd->csv && csv_fini(&rd->p, csv_on_cell, csv_on_row, rd))
				csv_refuse_open_row(rd, "the file ends inside a quoted cell");
			b->end = true;
			break;
		}
		rd->lineno++;
		__atomic_fetch_add(&rd->bytes, len, __ATOMIC_RELAXED);
		if (len > IMPORT_LINE_MAX) {
			skip_rest_of_line(rd);
			if (rd->csv)
				csv_refuse_open_row(rd, "a line longer than 1 MiB");
			if (rd->lineno > rd->skip_to && !rd->csv) {
				struct row *r = batch_row(b, rd->lineno);
				row_refuse(r, RC_TOO_LARGE, "line longer than %d bytes", IMPORT_LINE_MAX);
			}
			continue;
		}
		if (rd->lineno == 1 && len >= 3 && !memcmp(rd->line, "\xEF\xBB\xBF", 3)) {
			/* A UTF-8 byte-order mark (Excel's "CSV UTF-8") is no part of
			 * the first row. Lines are still counted from the file's
			 * start, so --resume's line numbers do not move. */
			len -= 3;
			memmove(rd->line, rd->line + 3, len + 1);
		}
		if (rd->csv) {
			csv_feed(rd, rd->line, len);
			continue;
		}
		if (strspn(rd->line, " \t\r\n") == len || rd->lineno <= rd->skip_to)
			continue;
		struct row *r = batch_row(b, rd->lineno);
		r->raw = xmalloc(len + 1);
		memcpy(r->raw, rd->line, len + 1);
		r->rawlen = len;
		while (r->rawlen && (r->raw[r->rawlen - 1] == '\n' || r->raw[r->rawlen - 1] == '\r'))
			r->raw[--r->rawlen] = '\0';
		b->bytes += len + sizeof *r;
		jsonl_row(rd, r, rd->line, len);
		prepare(rd, b, r);
	}
	if (rd->fatal)
		b->end = true;
}

/* ---- the pipe between reader and writer ---- */

/* Batches ready and waiting: with one being written, one being read and
 * one written (freed by the reader, which has time to spare, not by the
 * writer, which has none), four at most are in memory. */
#define PIPE_DEPTH 1

struct pipe {
	pthread_mutex_t lock;
	pthread_cond_t changed;
	struct batch *q[PIPE_DEPTH];
	size_t n;
	struct batch *spent;       /* written, for the reader to free */
	bool stop;                 /* the writer gave up: the reader ends */
	struct reader *rd;
};

/* Hands a written batch to the reader to free; frees the one before it if
 * the reader has not come for it. */
static void pipe_spend(struct pipe *pp, struct batch *b)
{
	pthread_mutex_lock(&pp->lock);
	struct batch *old = pp->spent;
	pp->spent = b;
	pthread_mutex_unlock(&pp->lock);
	batch_free(old);
}

static void *reader_main(void *arg)
{
	struct pipe *pp = arg;
	for (bool end = false; !end;) {
		pthread_mutex_lock(&pp->lock);
		struct batch *spent = pp->spent;
		pp->spent = NULL;
		pthread_mutex_unlock(&pp->lock);
		batch_free(spent);
		struct batch *b = batch_new();
		reader_fill(pp->rd, b);
		end = b->end;
		pthread_mutex_lock(&pp->lock);
		while (pp->n == PIPE_DEPTH && !pp->stop)
			pthread_cond_wait(&pp->changed, &pp->lock);
		if (pp->stop) {
			pthread_mutex_unlock(&pp->lock);
			batch_free(b);
			break;
		}
		pp->q[pp->n++] = b;
		pthread_cond_broadcast(&pp->changed);
		pthread_mutex_unlock(&pp->lock);
	}
	return NULL;
}

static struct batch *pipe_take(struct pipe *pp)
{
	pthread_mutex_lock(&pp->lock);
	while (pp->n == 0)
		pthread_cond_wait(&pp->changed, &pp->lock);
	struct batch *b = pp->q[0];
	memmove(&pp->q[0], &pp->q[1], (PIPE_DEPTH - 1) * sizeof pp->q[0]);
	pp->n--;
	pthread_cond_broadcast(&pp->changed);
	pthread_mutex_unlock(&pp->lock);
	return b;
}

/* ---- the writer ---- */

struct import_opts {
	bool csv, dry_run, resume, all_or_nothing;
	bool own_transaction;      /* false: the caller's transaction holds everything */
	bool progress;
	size_t batch;              /* rows per transaction (of one or more chunks) */
	const char *rejects;       /* path of the rejects file, or NULL */
	const char *state;         /* path of the resume state, or NULL */
	char hash[HASH_HEX];       /* the file's SHA-256 */
	uint64_t size;
};

struct counts {
	size_t rows, created, attached, refused;
	bool read;                 /* the rows were read: no setup failure, no
	                            * refused header */
	size_t kept_line;          /* the last line a committed transaction holds
	                            * (the resume point; 0: none) */
	size_t kept, kept_refused; /* records and refusals of this run that
	                            * committed transactions hold */
};

struct writer {
	const struct core_ctx *c;
	const char *kind, *path;
	const struct import_opts *o;
	struct reader *rd;
	FILE *rejects;
	off_t rejects_kept;        /* its size when the last transaction committed */
	struct counts n;
	size_t batch;              /* rows per transaction */
	bool open;                 /* a transaction of chunks is open */
	size_t in_transaction;     /* rows in it */
	struct timespec start, shown;
};

static void reject(struct writer *w, const struct row *r, const char *msg)
{
	w->n.refused++;
	if (w->n.refused <= IMPORT_SHOW_REFUSED)
		fprintf(stderr, "%s%s:%zu: %s\n", w->o->progress ? "\r\033[K" : "privreg: ", w->path, r->line, msg);
	if (!w->rejects)
		return;
	/* The row as it was read, not made formula-safe like the exports for
	 * people (base/csv.h): this file is meant to be fixed and fed back to
	 * privreg import, which would keep a quote put before a value. */
	fprintf(w->rejects, "%zu,", r->line);
	csv_fwrite(w->rejects, msg, strlen(msg));
	fputc(',', w->rejects);
	csv_fwrite(w->rejects, r->raw ? r->raw : "", r->raw ? r->rawlen : 0);
	fputc('\n', w->rejects);
}

/* The subject a row names: an id, or the value of a lookup field that
 * exactly one subject holds. */
static enum rc find_subject(const struct core_ctx *c, const char *s, char id[TOKEN_ID_MAX], struct errbuf *eb)
{
	if (token_id_valid(TOKEN_PREFIX_SUBJECT, s)) {
		snprintf(id, TOKEN_ID_MAX, "%s", s);
		return RC_OK;
	}
	const struct policy *p = c->tenant->policy;
	size_t found = 0;
	for (size_t i = 0; i < p->nfields; i++) {
		const struct policy_field *f = &p->fields[i];
		char ids[2][TOKEN_ID_MAX];
		size_t m = 0;
		struct errbuf ignore;
		if (!f->lookup)
			continue;
		struct field_value v = {VAL_STRING, s, strlen(s)};
		enum rc rc = subject_find(c, f->name, &v, ids, 2, &m, &ignore);
		if (rc && rc_http_status(rc) >= 500)
			return rc;
		for (size_t k = 0; !rc && k < m; k++)
			if (!found || strcmp(id, ids[k])) {
				if (found++)
					return err_set(eb, RC_CONFLICT, "subject: the value names more than one subject");
				memcpy(id, ids[k], TOKEN_ID_MAX);
			}
	}
	if (!found)
		return err_set(eb, RC_NOT_FOUND, "subject: no subject has this id or value of a lookup field");
	return RC_OK;
}

static enum rc grant_all(const struct core_ctx *c, const struct row *r, const char *sid, struct errbuf *eb)
{
	struct core_ctx at = *c;
	at.now = r->consent_at;
	struct consent_evidence ev = {.source = r->source};
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < r->ngrants; i++) {
		char state[16];
		rc = consent_record(&at, sid, r->grants[i]->name, CONSENT_GRANT, &ev, state, eb);
	}
	return rc;
}

/* A row for an existing subject: its own savepoint, its own audit entries. */
static enum rc attach(struct writer *w, const struct row *r, struct errbuf *eb)
{
	const struct core_ctx *c = w->c;
	char sid[TOKEN_ID_MAX], rid[TOKEN_ID_MAX];
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = find_subject(c, r->subject, sid, eb);
	if (!rc)
		rc = record_add(c, sid, &r->rec, rid, eb);
	if (!rc)
		rc = grant_all(c, r, sid, eb);
	return core_end(c, rc);
}

/* Settles rows [from, to) of b, none of which names an existing subject:
 * the new subjects among them are written together (subject_batch_write:
 * a few statements for all), then each row is counted, refused or given
 * its consents, in the file's order. RC_OK or a failure that stops all. */
static enum rc settle(struct writer *w, struct batch *b, size_t from, size_t to, struct errbuf *eb)
{
	const struct core_ctx *c = w->c;
	size_t *index = xmalloc((to - from ? to - from : 1) * sizeof *index), n = 0;
	for (size_t i = from; i < to; i++)
		if (!b->rows[i].rc)
			index[n++] = b->rows[i].index;
	enum rc rc = n ? subject_batch_write(c, b->sb, index, n) : RC_OK;
	free(index);
	for (size_t i = from; !rc && i < to; i++) {
		struct row *r = &b->rows[i];
		char sid[TOKEN_ID_MAX];
		if (r->rc) {
			reject(w, r, r->why ? r->why : rc_str(r->rc));
			continue;
		}
		eb->msg[0] = '\0';
		enum rc wrc = subject_batch_result(b->sb, r->index, sid, eb);
		if (!wrc && r->ngrants && (wrc = grant_all(c, r, sid, eb)) && rc_http_status(wrc) < 500) {
			/* grant_check made this impossible: refusing the row now
			 * would leave its subject written. */
			fprintf(stderr, "privreg: %s:%zu: %s\n", w->path, r->line, err_msg(eb, wrc));
			wrc = RC_INTERNAL;
		}
		w->n.created += !wrc;
		if (wrc && rc_http_status(wrc) >= 500)
			rc = wrc;
		else if (wrc)
			reject(w, r, err_msg(eb, wrc));
	}
	return rc;
}

/* Writes one chunk of rows; CLI_OK or the exit code of a failure that
 * stops all. A transaction holds chunks up to o->batch rows (the last
 * chunk ends it too): a chunk is what the reader hands over, small enough
 * to keep four in memory; a transaction is what the store writes at once,
 * and a larger one writes each page of the random-ordered lookup index
 * fewer times (store_import_write). Each chunk has its own audit entry, so
 * --resume goes on after the last chunk that was committed.
 * A row for an existing subject ends a run of new ones: the run is written
 * first, since the row may name one of them (by a lookup value), and its
 * own values count for the runs after it. */
static int write_batch(struct writer *w, struct batch *b)
{
	const struct core_ctx *c = w->c;
	size_t first = 0, last = 0, from = 0;
	enum rc rc = RC_OK;
	struct errbuf eb = {""};
	bool own = w->o->own_transaction && !w->o->all_or_nothing && !w->o->dry_run;
	/* Commits need not wait for the disk: the end of the run
	 * (subject_batch_run off) makes them all durable, and a power cut
	 * before it loses whole transactions, each with its chunks' audit
	 * entries. */
	if (own && !w->open) {
		if ((rc = subject_batch_begin(c)))
			return cli_fail("import", rc, NULL);
		w->open = true;
		w->in_transaction = 0;
	}
	for (size_t i = 0; !rc && i < b->n; i++) {
		struct row *r = &b->rows[i];
		first = first ? first : r->line;
		last = r->line;
		w->n.rows++;
		if (r->rc || r->fresh)
			continue;
		rc = settle(w, b, from, i, &eb);
		from = i + 1;
		if (rc)
			break;
		eb.msg[0] = '\0';
		enum rc wrc = attach(w, r, &eb);
		w->n.attached += !wrc;
		if (wrc && rc_http_status(wrc) >= 500)
			rc = wrc;
		else if (wrc)
			reject(w, r, err_msg(&eb, wrc));
	}
	if (!rc)
		rc = settle(w, b, from, b->n, &eb);
	if (!rc && b->n) {
		char source[SUBJECT_BATCH_SOURCE_MAX];
		snprintf(source, sizeof source, "file=sha256:%s lines=%zu-%zu", w->o->hash, first, last);
		rc = subject_batch_audit(c, b->sb, source);
	}
	if (rc) {
		fprintf(stderr, "privreg: %s:%zu-%zu: %s\n", w->path, first, last, err_msg(&eb, rc));
		if (own && w->open)
			store_rollback(c->store);
		w->open = false;
		return CLI_FAILED;
	}
	w->in_transaction += b->n;
	if (!own || (!b->end && w->in_transaction < w->batch))
		return CLI_OK;
	w->open = false;
	if ((rc = store_commit(c->store)))
		return cli_fail("import", rc, NULL);
	w->n.kept = w->n.created + w->n.attached;
	w->n.kept_refused = w->n.refused;
	w->n.kept_line = last ? last : w->n.kept_line;
	if (w->rejects && (fflush(w->rejects) || (w->rejects_kept = lseek(fileno(w->rejects), 0, SEEK_END)) < 0)) {
		fprintf(stderr, "privreg: cannot write %s: %s\n", w->o->rejects, strerror(errno));
		return CLI_FAILED;
	}
	return CLI_OK;
}

static double seconds_since(const struct timespec *a)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - a->tv_sec) + (double)(now.tv_nsec - a->tv_nsec) / 1e9;
}

/* rows, rate and ETA on one line of stderr, at most 4 times a second. */
static void progress(struct writer *w, bool last)
{
	if (!w->o->progress || (!last && seconds_since(&w->shown) < 0.25))
		return;
	clock_gettime(CLOCK_MONOTONIC, &w->shown);
	double t = seconds_since(&w->start);
	double rate = t > 0 ? (double)w->n.rows / t : 0;
	uint64_t done = __atomic_load_n(&w->rd->bytes, __ATOMIC_RELAXED);
	double frac = w->o->size ? (double)done / (double)w->o->size : 1;
	if (frac > 1)
		frac = 1;
	double eta = frac > 0 ? t * (1 - frac) / frac : 0;
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	fprintf(stderr, "\r\033[K[%s] %3.0f%% %zu rows, %.0f rows/s, %zu refused, ETA %.0f s%s", bar, frac * 100,
	        w->n.rows, rate, w->n.refused, eta, last ? "\n" : "");
}

/* ---- files beside the input ---- */

/* Opens path for writing, readable by its owner only (0600): the rejects
 * file holds refused rows as they were, personal data. A file that exists
 * already is made 0600 before anything is written to it. flags: O_TRUNC or
 * O_APPEND. NULL and errno on failure. */
static FILE *private_file(const char *path, int flags, const char *mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC | flags, 0600);
	if (fd < 0)
		return NULL;
	FILE *f = NULL;
	if (fchmod(fd, 0600) || !(f = fdopen(fd, mode))) {
		int e = errno;
		close(fd);
		errno = e;
	}
	return f;
}

/* ---- the file's hash and the resume position ---- */

static int file_hash(FILE *f, const char *path, char hex[HASH_HEX], uint64_t *size)
{
	crypto_hash_sha256_state st;
	unsigned char buf[1 << 16], out[crypto_hash_sha256_BYTES];
	size_t n;
	*size = 0;
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		crypto_hash_sha256_update(&st, buf, n);
		*size += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "privreg: cannot read %s: %s\n", path, strerror(errno));
		return CLI_FAILED;
	}
	crypto_hash_sha256_final(&st, out);
	sodium_bin2hex(hex, HASH_HEX, out, sizeof out);
	rewind(f);
	return CLI_OK;
}

/* The audit position to search from: kept in the state file by the first
 * attempt (0: search the whole log). */
static int64_t state_read(const char *path)
{
	long long seq = 0;
	FILE *f = path ? fopen(path, "r") : NULL;
	if (f) {
		if (fscanf(f, "audit_seq %lld", &seq) != 1)
			seq = 0;
		fclose(f);
	}
	return seq;
}

static int state_write(const struct core_ctx *c, const char *path)
{
	struct audit_checkpoint cp;
	char line[AUDIT_CHECKPOINT_LINE_MAX];
	if (!path || state_read(path))
		return CLI_OK; /* the first attempt's position stays */
	enum rc rc = audit_checkpoint_make(c->store, c->tenant, &cp, line);
	if (rc)
		return cli_fail("import", rc, NULL);
	FILE *f = private_file(path, O_TRUNC, "w");
	if (!f || fprintf(f, "audit_seq %lld\n", (long long)(cp.seq ? cp.seq : 1)) < 0 || fflush(f) ||
	    fsync(fileno(f))) {
		fprintf(stderr, "privreg: cannot write %s: %s\n", path, strerror(errno));
		if (f)
			fclose(f);
		return CLI_FAILED;
	}
	fclose(f);
	return CLI_OK;
}

/* The last line of the file that a committed batch holds (0: none). */
static int resume_point(const struct core_ctx *c, const char *hash, int64_t from, size_t *line)
{
	char tag[HASH_HEX + 32];
	snprintf(tag, sizeof tag, "file=sha256:%s lines=", hash);
	*line = 0;
	struct store_audit_filter f = {.after_seq = from > 0 ? from - 1 : 0, .limit = AUDIT_PAGE_MAX};
	for (;;) {
		struct store_audit *v = NULL;
		size_t n = 0;
		enum rc rc = audit_query(c, &f, &v, &n);
		if (rc)
			return cli_fail("import", rc, NULL);
		for (size_t i = 0; i < n; i++) {
			unsigned long a, b;
			if (strcmp(v[i].action, "subject.import") || !v[i].detail || strncmp(v[i].detail, tag, strlen(tag)))
				continue;
			if (sscanf(v[i].detail + strlen(tag), "%lu-%lu", &a, &b) == 2 && b > *line)
				*line = b;
		}
		if (n)
			f.after_seq = v[n - 1].seq;
		store_audits_free(v, n);
		if (n < f.limit)
			return CLI_OK;
	}
}

/* ---- the import ---- */

static int run(const struct core_ctx *c, const char *kind, FILE *f, const char *path, const struct import_opts *o,
               size_t skip_to, struct counts *out)
{
	struct reader rd = {.f = f, .path = path, .csv = o->csv, .tenant = c->tenant, .kind = kind,
	                    .skip_to = skip_to, .batch = IMPORT_CHUNK_ROWS};
	rd.c = (struct core_ctx){.tenant = c->tenant, .now = c->now};
	rd.rk = policy_record(c->tenant->policy, kind);
	rd.line = xmalloc(IMPORT_LINE_MAX + 2);
	buf_init(&rd.raw, IMPORT_LINE_MAX);
	csv_init(&rd.p, CSV_STRICT | CSV_EMPTY_IS_NULL | CSV_STRICT_FINI);
	struct writer w = {.c = c, .kind = kind, .path = path, .o = o, .rd = &rd, .n.kept_line = skip_to};
	clock_gettime(CLOCK_MONOTONIC, &w.start);
	w.shown = w.start;
	int ret = CLI_OK;
	w.batch = o->batch ? o->batch : IMPORT_BATCH_ROWS;
	if (w.batch < rd.batch)
		rd.batch = w.batch;
	if (o->rejects) {
		w.rejects = private_file(o->rejects, skip_to ? O_APPEND : O_TRUNC, skip_to ? "a" : "w");
		if (!w.rejects) {
			fprintf(stderr, "privreg: cannot write %s: %s\n", o->rejects, strerror(errno));
			ret = CLI_FAILED;
		} else if ((!skip_to && fputs("line,reason,row\n", w.rejects) < 0) || fflush(w.rejects) ||
		           (w.rejects_kept = lseek(fileno(w.rejects), 0, SEEK_END)) < 0) {
			fprintf(stderr, "privreg: cannot write %s: %s\n", o->rejects, strerror(errno));
			ret = CLI_FAILED;
		}
	}
	struct pipe pp = {.rd = &rd};
	pthread_t reader;
	pthread_mutex_init(&pp.lock, NULL);
	pthread_cond_init(&pp.changed, NULL);
	if (!ret && pthread_create(&reader, NULL, reader_main, &pp)) {
		fprintf(stderr, "privreg: cannot start the reader thread\n");
		ret = CLI_FAILED;
	} else if (!ret) {
		for (bool end = false; !end;) {
			struct batch *b = pipe_take(&pp);
			end = b->end;
			if (!ret)
				ret = write_batch(&w, b);
			pipe_spend(&pp, b);
			progress(&w, false);
			if (ret && !end) {
				pthread_mutex_lock(&pp.lock);
				pp.stop = true;
				pthread_cond_broadcast(&pp.changed);
				pthread_mutex_unlock(&pp.lock);
				break;
			}
		}
		pthread_join(reader, NULL);
		while (pp.n)
			batch_free(pp.q[--pp.n]);
		batch_free(pp.spent);
		progress(&w, true);
		w.n.read = !rd.fatal;
	}
	if (!ret && rd.fatal) {
		fprintf(stderr, "privreg: %s: %s\n", path, rd.fatal_msg);
		ret = rd.fatal;
	}
	/* A failure rolled back the open transaction: its refusals go too, so
	 * that --resume, which reads its rows again, does not list them twice. */
	bool cut = ret != CLI_OK && ret != CLI_REFUSED && o->own_transaction && !o->all_or_nothing && !o->dry_run;
	if (cut && w.rejects && (fflush(w.rejects) || ftruncate(fileno(w.rejects), w.rejects_kept)))
		fprintf(stderr, "privreg: cannot write %s: %s\n", o->rejects, strerror(errno));
	if (w.rejects && fclose(w.rejects) && !ret) {
		fprintf(stderr, "privreg: cannot write %s: %s\n", o->rejects, strerror(errno));
		ret = CLI_FAILED;
	} else if (w.rejects && !(cut ? w.n.kept_refused : w.n.refused) && !skip_to) {
		/* Nothing refused: no file of refusals beside the input (a resumed
		 * import keeps the one its first run wrote). */
		unlink(o->rejects);
	}
	if (w.n.refused > IMPORT_SHOW_REFUSED)
		fprintf(stderr, "privreg: ... and %zu more refused rows\n", w.n.refused - IMPORT_SHOW_REFUSED);
	if (!ret && w.n.refused)
		ret = CLI_REFUSED;
	csv_free(&rd.p);
	cells_drop(&rd);
	for (size_t i = 0; i < rd.ncols; i++)
		free(rd.cols[i].name);
	free(rd.cols);
	buf_fini(&rd.raw);
	free(rd.line);
	pthread_mutex_destroy(&pp.lock);
	pthread_cond_destroy(&pp.changed);
	*out = w.n;
	return ret;
}

int cli_import_file(const struct core_ctx *c, const char *kind, FILE *f, const char *path, bool csv, size_t *count)
{
	struct import_opts o = {.csv = csv, .all_or_nothing = true};
	struct counts n;
	memcpy(o.hash, "0", 2);
	int ret = run(c, kind, f, path, &o, 0, &n);
	*count = n.created + n.attached;
	return ret;
}

/* What an import cut off by a failure leaves: the transactions committed
 * before it stay, and --resume goes on after them. */
static void stopped(const struct cli_opts *co, const char *kind, const char *path, const char *format,
                    const struct counts *n)
{
	if (!n->kept_line) {
		fprintf(stderr, "privreg: %s: nothing of the file was imported; the same command imports it again\n",
		        path);
		return;
	}
	fprintf(stderr, "privreg: %s: lines up to %zu are imported and stay (this run: %zu records, %zu rows "
	        "refused); the lines after them are not\n"
	        "privreg: to go on after line %zu, without duplicates: privreg import %s %s%s%s%s%s%s%s --resume\n",
	        path, n->kept_line, n->kept, n->kept_refused, n->kept_line, kind, path,
	        strcmp(co->dir, CLI_DEFAULT_DIR) ? " --dir " : "", strcmp(co->dir, CLI_DEFAULT_DIR) ? co->dir : "",
	        strcmp(co->tenant, CLI_DEFAULT_TENANT) ? " --tenant " : "",
	        strcmp(co->tenant, CLI_DEFAULT_TENANT) ? co->tenant : "", format ? " --format " : "",
	        format ? format : "");
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && !strcasecmp(s + n - m, tail);
}

int cli_import(int argc, char **argv)
{
	static const char *const flags[] = {"--dry-run", "--resume", "--all-or-nothing", NULL};
	bool found[3];
	const char *format = NULL, *batch = NULL;
	/* --format and --batch take a value: taken out before the shared options. */
	for (int i = 1; i < argc; i++)
		if ((!strcmp(argv[i], "--format") || !strcmp(argv[i], "--batch")) && i + 1 < argc) {
			*(argv[i][2] == 'f' ? &format : &batch) = argv[i + 1];
			memmove(&argv[i], &argv[i + 2], (size_t)(argc - i - 1) * sizeof *argv);
			argc -= 2;
			i--;
		}
	cli_take_flags(&argc, argv, flags, found);
	struct cli_opts co;
	int ret = cli_parse(argc, argv, "import", import_help, CLI_OPT_DIR | CLI_OPT_TENANT, &co);
	if (ret >= 0)
		return ret;
	if (co.argc != 2) {
		cli_usage_error("import", "expected KIND FILE");
		return CLI_USAGE;
	}
	struct import_opts o = {.dry_run = found[0], .resume = found[1], .all_or_nothing = found[2],
	                        .own_transaction = true, .progress = isatty(STDERR_FILENO)};
	const char *kind = co.argv[0], *path = co.argv[1];
	if (format && strcmp(format, "csv") && strcmp(format, "jsonl")) {
		cli_usage_error("import", "--format is csv or jsonl");
		return CLI_USAGE;
	}
	if ((o.dry_run || o.all_or_nothing) && o.resume) {
		cli_usage_error("import", "--resume goes with neither --dry-run nor --all-or-nothing");
		return CLI_USAGE;
	}
	o.csv = format ? !strcmp(format, "csv") : ends_with(path, ".csv");
	if (batch) {
		char *end;
		unsigned long v = strtoul(batch, &end, 10);
		if (*end || !*batch || v < 1 || v > IMPORT_BATCH_MAX) {
			cli_usage_error("import", "--batch is a number of rows from 1 to %d", IMPORT_BATCH_MAX);
			return CLI_USAGE;
		}
		o.batch = v;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "privreg: cannot open %s\n", path);
		return CLI_FAILED;
	}
	ret = file_hash(f, path, o.hash, &o.size);
	struct cli_register r = {0};
	struct tenant *t = NULL;
	if (!ret)
		ret = cli_open(&co, &r, &t);
	if (!ret && !policy_record(t->policy, kind)) {
		fprintf(stderr, "privreg: the policy has no record kind '%s'\n", kind);
		ret = CLI_REFUSED;
	}
	char rejects[4200], statedir[4200], state[4400];
	snprintf(rejects, sizeof rejects, "%s.rejects.csv", path);
	o.rejects = rejects;
	struct core_ctx c = {.store = r.store, .tenant = t};
	size_t skip_to = 0;
	if (!ret && !o.dry_run && !o.all_or_nothing) {
		snprintf(statedir, sizeof statedir, "%s/imports", r.dir);
		snprintf(state, sizeof state, "%s/%s-%.32s", statedir, t->name, o.hash);
		if (mkdir(statedir, 0700) && errno != EEXIST) {
			fprintf(stderr, "privreg: cannot create %s: %s\n", statedir, strerror(errno));
			ret = CLI_FAILED;
		}
		o.state = state;
		if (!ret && o.resume)
			ret = resume_point(&c, o.hash, state_read(state), &skip_to);
		if (!ret)
			ret = state_write(&c, state);
		if (!ret && skip_to)
			fprintf(stderr, "privreg: %s: lines up to %zu are imported already; going on after them\n", path,
			        skip_to);
	}
	struct counts n = {0};
	if (!ret) {
		bool one = o.dry_run || o.all_or_nothing;
		enum rc rc = subject_batch_run(&c, true);
		if (!rc && one)
			rc = store_begin(r.store);
		if (rc)
			ret = cli_fail("import", rc, NULL);
		if (!ret)
			ret = run(&c, kind, f, path, &o, skip_to, &n);
		if (one && !rc) {
			if (ret || o.dry_run)
				store_rollback(r.store);
			else if ((rc = store_commit(r.store)))
				ret = cli_fail("import", rc, NULL);
		}
		/* Also after a failure: the batches committed before it stay. */
		if ((rc = subject_batch_run(&c, false)) && (ret == CLI_OK || ret == CLI_REFUSED))
			ret = cli_fail("import", rc, NULL);
	}
	fclose(f);
	if (r.store)
		cli_close(&r, t);
	if ((ret == CLI_OK || ret == CLI_REFUSED) && o.state)
		unlink(o.state); /* done: nothing to resume */
	/* Counts only of a file whose rows were read: a failure before (an
	 * unknown tenant, a refused header) has said all there is to say. */
	size_t done = n.created + n.attached;
	bool counted = n.read && (ret == CLI_OK || ret == CLI_REFUSED);
	if (counted && o.dry_run)
		printf("dry run: %zu of %zu rows valid (%zu refused); nothing was imported\n", done, n.rows, n.refused);
	else if (counted && o.all_or_nothing && ret)
		fprintf(stderr, "privreg: nothing imported (--all-or-nothing; %zu of %zu rows refused%s%s)\n", n.refused,
		        n.rows, o.rejects ? ", see " : "", o.rejects ? o.rejects : "");
	else if (counted)
		printf("imported %zu %s records from %s (%zu new subjects, %zu added to existing ones), %zu rows refused%s%s\n",
		       done, kind, path, n.created, n.attached, n.refused, n.refused ? ": see " : "",
		       n.refused ? rejects : "");
	else if (n.read && (o.dry_run || o.all_or_nothing))
		fprintf(stderr, "privreg: %s: nothing imported (%s: one transaction, rolled back)\n", path,
		        o.dry_run ? "--dry-run" : "--all-or-nothing");
	else if (n.read)
		stopped(&co, kind, path, format, &n);
	return ret;
}
