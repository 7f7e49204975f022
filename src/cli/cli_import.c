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
 * A refused row goes to FILE.rejects.csv with its line and reason, and
 * verbatim to FILE.refused.csv (after the header) or .jsonl, a file to fix
 * and import (mode 0600, never through a link nor into another user's
 * file: the rows are personal data), and the good rows are kept (unless
 * --all-or-nothing: one transaction, rolled back at the first refusal's
 * end). --dry-run runs everything in one transaction
 * and rolls it back. --resume finds, in the audit log, the last batch of
 * this file (by its hash) that was committed and goes on after its lines:
 * the entry is written in the batch's own transaction, so it is there
 * exactly when the batch is. DIR/imports/ keeps, per file, a marker
 * with the audit position the first attempt started from, so that the
 * search is short; a marker left by an import that was cut off refuses
 * any run that could import its rows twice (resume_checks).
 * A failure after some commits says up to which line they reach. Lines are
 * counted from the file's start, a byte-order mark before the first one
 * skipped.
 */
#include <csv.h>
#include <dirent.h>
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
#include <sys/file.h>
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
#define ROW_TOO_LONG "a row longer than 1 MiB (1048576 bytes)"
#define IMPORT_SHOW_REFUSED 20               /* refusals also printed on stderr */
#define HASH_HEX (2 * crypto_hash_sha256_BYTES + 1)

static const char import_help[] =
	"usage: privreg import KIND FILE [--format csv|jsonl] [--dry-run] [--resume]\n"
	"                      [--again] [--all-or-nothing] [--batch N] [--tenant T] [--dir D]\n\n"
	"Each row of FILE becomes one KIND record: of a new subject, or of the\n"
	"existing subject its `subject` names (a subject id, or the value of a\n"
	"lookup field, such as an e-mail address, that one subject holds).\n\n"
	"CSV (FILE.csv; UTF-8, cells separated by commas): a header row naming the\n"
	"policy's fields, and optionally created_at, the kind's events, subject,\n"
	"and consent.PURPOSE columns (value `granted`), which need the evidence\n"
	"columns consent_source (a collection point) and consent_at (when it was\n"
	"given).\n"
	"JSON Lines (any other name): {\"fields\": {...}, \"created_at\"?: ISO,\n"
	"\"events\"?: {NAME: ISO}, \"subject\"?: S, \"consents\"?: [PURPOSE...],\n"
	"\"consent_source\"?: S, \"consent_at\"?: ISO} per line.\n\n"
	"Every row is validated against the policy. Refused rows are written, with\n"
	"their line and the reason, to FILE.rejects.csv, and alone (CSV: after the\n"
	"header) to FILE.refused.csv or FILE.refused.jsonl: fix that file and\n"
	"import it. The others are imported.\n"
	"  --all-or-nothing  import nothing if any row is refused\n"
	"  --dry-run         validate only: nothing is kept\n"
	"  --resume          go on after the last batch an interrupted import of\n"
	"                    the same file (the same bytes) committed\n"
	"  --again           import although an import of the tenant was cut off\n"
	"                    (of this file: its rows already imported are imported\n"
	"                    twice); clears the markers of those imports\n"
	"  --batch N         rows per transaction, in whole chunks of up to 5000\n"
	"                    (default 50000)\n\n"
	"An import cut off (a crash, a kill) leaves DIR/imports/TENANT-HASH: until\n"
	"it is resumed (or --again given, or the marker removed), a plain import\n"
	"of the tenant is refused, and so is a --resume that finds nothing.\n\n"
	"--dry-run and --all-or-nothing hold the whole file in one transaction:\n"
	"every server's writes to the register wait until it ends.\n\n"
	"Exit status: 0 every row imported, 1 a row or the whole file refused (or\n"
	"no such tenant or record kind), 2 a usage error, or refused before\n"
	"anything is done (FILE cannot be read, a re-run or --resume that could\n"
	"import rows twice, a rejects file that is not the user's own), 3 the\n"
	"register could not be opened or written (an import stopped by it keeps\n"
	"what it committed: --resume goes on after that).\n";

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
	bool partial;              /* raw is only the row's start (a row too long) */
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
	bool guessed;              /* the format follows the file's name (no --format) */
	bool seen;                 /* JSON Lines: a non-blank line was read */
	uint64_t bytes;            /* read so far (the progress bar's measure; atomic:
	                            * the writer reads it) */
	char *line;
	/* CSV */
	struct csv_parser p;
	struct column *cols;
	size_t ncols;
	bool header_done;
	char *header_raw;          /* the header row as read (for the refused rows' file) */
	char **cells;
	size_t ncells, cellbytes;
	struct buf raw;
	bool row_open, row_bad;
	size_t row_line;
	struct batch *out;         /* where finished rows go */
	/* a problem that stops the whole file (a bad header), else 0 */
	int fatal;
	char fatal_msg[1024];
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
		/* jansson reads the line as a whole text: its end is the line's. */
		char *eof = strstr(jerr.text, "end of file");
		if (eof)
			memcpy(eof, "end of line", 11);
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
	/* The row's consents are recorded with it: a field kept only on one
	 * of them may be stored. */
	r->rec.granted = r->grants;
	r->rec.ngranted = r->ngrants;
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
	const char *one = rd->ncells == 1 && rd->cells[0] ? rd->cells[0] : NULL;
	if (one && (strchr(one, ';') || strchr(one, '\t'))) {
		/* A spreadsheet set to a language whose decimal mark is a comma
		 * saves its "CSV" with semicolons; a "text" export uses tabs. */
		reader_fatal(rd, CLI_REFUSED, "the header row holds %s but no comma: the columns of a CSV file are "
		             "separated by commas. Save it as \"CSV UTF-8 (Comma delimited)\", or convert it, e.g. "
		             "python3 -c 'import csv,sys; csv.writer(sys.stdout).writerows(csv.reader(sys.stdin, "
		             "delimiter=\"%s\"))' < FILE > FILE-comma.csv", strchr(one, ';') ? "semicolons" : "tabs",
		             strchr(one, ';') ? ";" : "\\t");
		return;
	}
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
	r->rec.granted = r->grants;
	r->rec.ngranted = r->ngrants;
	check_grants(rd, r, at);
}

static void csv_on_row(int term, void *data)
{
	struct reader *rd = data;
	(void)term;
	if (!rd->header_done) {
		rd->header_done = true;
		rd->header_raw = xmalloc(rd->raw.len + 1);
		memcpy(rd->header_raw, rd->raw.data ? (const char *)rd->raw.data : "", rd->raw.len);
		rd->header_raw[rd->raw.len] = '\0';
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
static void csv_refuse_open_row(struct reader *rd, const char *why, bool partial)
{
	if (!rd->header_done) {
		reader_fatal(rd, CLI_REFUSED, "%s:%zu: the header row: %s", rd->path, rd->row_line, why);
	} else if (rd->row_line > rd->skip_to) {
		struct row *r = batch_row(rd->out, rd->row_line);
		r->rawlen = rd->raw.len;
		r->raw = xmalloc(r->rawlen + 1);
		memcpy(r->raw, rd->raw.data ? (const char *)rd->raw.data : "", r->rawlen);
		r->raw[r->rawlen] = '\0';
		r->partial = partial;
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
		csv_refuse_open_row(rd, ROW_TOO_LONG, true);
		return;
	}
	if (csv_parse(&rd->p, line, len, csv_on_cell, csv_on_row, rd) == len)
		return;
	if (csv_error(&rd->p) != CSV_EPARSE) {
		csv_refuse_open_row(rd, csv_strerror(csv_error(&rd->p)), false);
		return;
	}
	/* libcsv's strict mode stops at the two things RFC 4180 forbids. */
	char why[400];
	snprintf(why, sizeof why, "line %zu: a quote inside a cell that does not begin with one, or text after a "
	         "cell's closing quote: a cell holding a quote (or a comma or line break) is quoted whole and its "
	         "quotes doubled, as \"Jaan \"\"Juku\"\" Tamm\"", rd->lineno);
	csv_refuse_open_row(rd, why, false);
}

/* A first line that is no JSON value but a list of names separated by
 * commas, semicolons or tabs: a CSV file given a name of JSON Lines. */
static bool looks_like_csv_header(const char *line, size_t len)
{
	size_t i = strspn(line, " \t");
	if (i == len || line[i] == '{' || line[i] == '[' || line[i] == '"')
		return false;
	return memchr(line, ',', len) || memchr(line, ';', len) || memchr(line, '\t', len);
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
				csv_refuse_open_row(rd, "the file ends inside a quoted cell", false);
			if (rd->csv && !rd->header_done)
				reader_fatal(rd, CLI_REFUSED, "no header row (the file is empty or blank): a CSV file's first "
				             "row names its columns");
			b->end = true;
			break;
		}
		rd->lineno++;
		__atomic_fetch_add(&rd->bytes, len, __ATOMIC_RELAXED);
		if (len > IMPORT_LINE_MAX) {
			skip_rest_of_line(rd);
			if (rd->csv && !rd->row_open)
				rd->row_line = rd->lineno; /* the row begins on this line */
			if (rd->csv)
				csv_refuse_open_row(rd, ROW_TOO_LONG, true);
			if (rd->lineno > rd->skip_to && !rd->csv) {
				struct row *r = batch_row(b, rd->lineno);
				row_refuse(r, RC_TOO_LARGE, "a line longer than 1 MiB (%d bytes)", IMPORT_LINE_MAX);
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
		if (strspn(rd->line, " \t\r\n") == len)
			continue;
		if (!rd->seen && rd->guessed && looks_like_csv_header(rd->line, len)) {
			reader_fatal(rd, CLI_REFUSED, "line %zu is not JSON but looks like a CSV header row: the format "
			             "follows the file's name (.csv; any other name is read as JSON Lines): for CSV, pass "
			             "--format csv", rd->lineno);
			break;
		}
		rd->seen = true;
		if (rd->lineno <= rd->skip_to)
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

/* A file the import writes beside its input, outside DIR: the rejects
 * file and the file of refused rows. */
struct private_file {
	const char *path;
	FILE *f;
	bool created;              /* by this run (removed if the run never starts) */
	off_t kept;                /* its size when the last transaction committed */
};


struct import_opts {
	bool csv, guessed, dry_run, resume, again, all_or_nothing;
	bool own_transaction;      /* false: the caller's transaction holds everything */
	bool progress;
	size_t batch;              /* rows per transaction (of one or more chunks) */
	struct private_file *rejects; /* FILE.rejects.csv (line, reason, row), or NULL */
	struct private_file *refused; /* the refused rows alone, importable as they are, or NULL */
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

/* A dry run's new subjects, by a 64-bit hash of their id, with the line
 * each came from (16 bytes a subject, 32 with the table's slack): a
 * refusal naming one names its line, since the id will never exist. At
 * most MADE_MAX of them (32 MiB), so that the import's memory stays
 * bounded whatever the file's size: past them, a refusal names the id. */
#define MADE_MAX ((size_t)1 << 20)
struct made {
	uint64_t *key;             /* 0: an empty slot */
	size_t *line;
	size_t n, cap;
};

static uint64_t made_key(const char *id)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (; *id; id++)
		h = (h ^ (unsigned char)*id) * 1099511628211ULL;
	return h ? h : 1;
}

static void made_add(struct made *m, const char *id, size_t line)
{
	if (m->n >= MADE_MAX)
		return;
	if (2 * (m->n + 1) > m->cap) {
		struct made bigger = {.cap = m->cap ? 2 * m->cap : 1024};
		bigger.key = xcalloc(bigger.cap, sizeof *bigger.key);
		bigger.line = xcalloc(bigger.cap, sizeof *bigger.line);
		for (size_t i = 0; i < m->cap; i++)
			for (size_t k = m->key[i] % bigger.cap; m->key[i]; k = (k + 1) % bigger.cap)
				if (!bigger.key[k]) {
					bigger.key[k] = m->key[i];
					bigger.line[k] = m->line[i];
					break;
				}
		bigger.n = m->n;
		free(m->key);
		free(m->line);
		*m = bigger;
	}
	uint64_t key = made_key(id);
	size_t k = key % m->cap;
	while (m->key[k] && m->key[k] != key)
		k = (k + 1) % m->cap;
	if (!m->key[k])
		m->n++;
	m->key[k] = key;
	m->line[k] = line;
}

/* msg, or (into out) msg with the id of a subject the dry run made
 * replaced by its line: "exists already: sub_... (" names a holder of a
 * unique value (core/record.c record_unique_held). */
static const char *made_say(const struct made *m, const char *msg, char out[1024])
{
	static const char held[] = "exists already: ";
	const char *at = m->cap ? strstr(msg, held) : NULL;
	if (!at)
		return msg;
	const char *id = at + strlen(held);
	size_t len = strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
	char sid[TOKEN_ID_MAX];
	if (!len || len >= sizeof sid)
		return msg;
	memcpy(sid, id, len);
	sid[len] = '\0';
	uint64_t key = made_key(sid);
	for (size_t k = key % m->cap; m->key[k]; k = (k + 1) % m->cap)
		if (m->key[k] == key) {
			snprintf(out, 1024, "%.*sthe subject of line %zu of this file%s", (int)(id - msg), msg, m->line[k],
			         id + len);
			return out;
		}
	return msg;
}

struct writer {
	const struct core_ctx *c;
	const char *kind, *path;
	const struct import_opts *o;
	struct reader *rd;
	struct private_file *rejects, *refused;
	struct made made;          /* --dry-run: the lines of the subjects it made */
	struct counts n;
	size_t batch;              /* rows per transaction */
	bool open;                 /* a transaction of chunks is open */
	size_t in_transaction;     /* rows in it */
	struct timespec start, shown;
};

/* text, and a line end if it has none. */
static void put_line(FILE *f, const char *text, size_t len)
{
	fwrite(text, 1, len, f);
	if (!len || (text[len - 1] != '\n' && text[len - 1] != '\r'))
		fputc('\n', f);
}

static void reject(struct writer *w, const struct row *r, const char *msg)
{
	char said[sizeof ((struct errbuf *)0)->msg];
	msg = made_say(&w->made, msg, said);
	w->n.refused++;
	if (w->n.refused <= IMPORT_SHOW_REFUSED)
		fprintf(stderr, "%s%s:%zu: %s\n", w->o->progress ? "\r\033[K" : "privreg: ", w->path, r->line, msg);
	if (w->rejects) {
		/* The row as it was read, not made formula-safe like the exports
		 * for people (base/csv.h): this file is meant to be fixed and fed
		 * back to privreg import, which would keep a quote put before a
		 * value. */
		FILE *f = w->rejects->f;
		if (!ftello(f))
			fputs("line,reason,row\n", f);
		fprintf(f, "%zu,", r->line);
		csv_fwrite(f, msg, strlen(msg));
		fputc(',', f);
		csv_fwrite(f, r->raw ? r->raw : "", r->raw ? r->rawlen : 0);
		fputc('\n', f);
	}
	if (w->refused && r->raw && !r->partial) {
		/* The row verbatim, after the file's own header row (CSV): a file
		 * to fix and import as it is. A row cut short (longer than a row
		 * may be) cannot be given back: the rejects file names its line. */
		FILE *f = w->refused->f;
		if (!ftello(f) && w->rd->csv && w->rd->header_raw)
			put_line(f, w->rd->header_raw, strlen(w->rd->header_raw));
		put_line(f, r->raw, r->rawlen);
	}
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
		if (!wrc && w->o->dry_run)
			made_add(&w->made, sid, r->line);
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
	struct private_file *pf[] = {w->rejects, w->refused};
	for (size_t i = 0; i < 2; i++)
		if (pf[i] && (fflush(pf[i]->f) || (pf[i]->kept = ftello(pf[i]->f)) < 0)) {
			fprintf(stderr, "privreg: cannot write %s: %s\n", pf[i]->path, strerror(errno));
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

/* Opens pf->path for writing, readable by its owner only (0600): the file
 * holds refused rows as they were, personal data. Another local user must
 * not be able to read them: a symbolic link is not followed (one planted
 * in a shared directory would send the rows where its owner reads them),
 * and a file that exists already must be a regular file of the effective
 * user with no other name; it is made 0600 before anything is written to
 * it, and emptied only when the run starts (private_start). CLI_OK, or
 * CLI_USAGE and a message. */
static int private_open(struct private_file *pf)
{
	const int flags = O_WRONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC; /* O_NONBLOCK: a FIFO must not hang us */
	int fd = open(pf->path, flags);
	pf->created = false;
	if (fd < 0 && errno == ENOENT) {
		fd = open(pf->path, flags | O_CREAT | O_EXCL, 0600);
		pf->created = fd >= 0;
	}
	struct stat st;
	const char *why = NULL;
	if (fd < 0 && errno == ELOOP)
		why = "it is a symbolic link";
	else if (fd < 0 && errno == ENXIO)
		why = "it is not a regular file"; /* a FIFO nobody reads, a socket */
	else if (fd < 0 || fstat(fd, &st))
		why = strerror(errno);
	else if (!S_ISREG(st.st_mode))
		why = "it is not a regular file";
	else if (st.st_uid != geteuid())
		why = "it belongs to another user";
	else if (st.st_nlink != 1)
		why = "it has other names (hard links)";
	else if (fcntl(fd, F_SETFL, O_WRONLY) || fchmod(fd, 0600) || !(pf->f = fdopen(fd, "a")))
		why = strerror(errno);
	if (!why)
		return CLI_OK;
	fprintf(stderr, "privreg: refusing to write %s: %s. The refused rows it would hold are personal data, "
	        "written only to a regular file of your own that nobody else can reach: remove it, or import the "
	        "file from a directory of your own\n", pf->path, why);
	if (fd >= 0)
		close(fd);
	if (pf->created)
		unlink(pf->path);
	pf->created = false;
	return CLI_USAGE;
}

/* The run starts: a fresh run empties the file, a resumed one appends. */
static int private_start(struct private_file *pf, bool append)
{
	if (!pf->f || (!append && ftruncate(fileno(pf->f), 0)) || fseeko(pf->f, 0, SEEK_END) ||
	    (pf->kept = ftello(pf->f)) < 0) {
		fprintf(stderr, "privreg: cannot write %s: %s\n", pf->path, strerror(errno));
		return CLI_FAILED;
	}
	return CLI_OK;
}

/* A run that never started: the files are left as they were. */
static void private_drop(struct private_file *pf)
{
	if (pf->f)
		fclose(pf->f);
	if (pf->created)
		unlink(pf->path);
	pf->f = NULL;
}

/* ---- the file's hash and the resume position ---- */

/* What the hash's pass over the file finds of its encoding. */
struct encoding {
	bool utf16;                /* a UTF-16 byte-order mark, or a NUL in the first two bytes */
	size_t bad_line;           /* the first line holding a byte that is not UTF-8 (0: none) */
	unsigned need;             /* continuation bytes still due */
	unsigned char lo, hi;      /* the range of the next one */
	size_t line;
};

/* UTF-8 as RFC 3629 has it: no overlong forms, no surrogates, nothing
 * above U+10FFFF; a sequence may straddle two reads. */
static void encoding_scan(struct encoding *e, const unsigned char *p, size_t n)
{
	for (size_t i = 0; i < n && !e->bad_line; i++) {
		unsigned c = p[i];
		if (e->need) {
			if (c < e->lo || c > e->hi)
				e->bad_line = e->line;
			e->lo = 0x80;
			e->hi = 0xBF;
			e->need--;
			continue;
		}
		e->line += c == '\n';
		if (c < 0x80)
			continue;
		e->lo = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80;
		e->hi = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF;
		if (c >= 0xC2 && c <= 0xDF)
			e->need = 1;
		else if (c >= 0xE0 && c <= 0xEF)
			e->need = 2;
		else if (c >= 0xF0 && c <= 0xF4)
			e->need = 3;
		else
			e->bad_line = e->line;
	}
}

/* The file's SHA-256 and size, and what its bytes say of its encoding.
 * CLI_OK, or CLI_USAGE and a message: a file that cannot be read is
 * refused before anything is done. */
static int file_hash(FILE *f, const char *path, char hex[HASH_HEX], uint64_t *size, struct encoding *enc)
{
	crypto_hash_sha256_state st;
	unsigned char buf[1 << 16], out[crypto_hash_sha256_BYTES];
	size_t n;
	*size = 0;
	*enc = (struct encoding){.line = 1};
	crypto_hash_sha256_init(&st);
	while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
		if (!*size)
			enc->utf16 = (n >= 2 && ((buf[0] == 0xFF && buf[1] == 0xFE) || (buf[0] == 0xFE && buf[1] == 0xFF))) ||
			             (n >= 2 && (!buf[0] || !buf[1]));
		crypto_hash_sha256_update(&st, buf, n);
		encoding_scan(enc, buf, n);
		*size += n;
	}
	if (ferror(f)) {
		fprintf(stderr, "privreg: cannot read %s: %s\n", path, strerror(errno));
		return CLI_USAGE;
	}
	if (enc->need && !enc->bad_line)
		enc->bad_line = enc->line; /* the file ends inside a character */
	crypto_hash_sha256_final(&st, out);
	sodium_bin2hex(hex, HASH_HEX, out, sizeof out);
	rewind(f);
	return CLI_OK;
}

/*
 * DIR/imports/TENANT-HASH (HASH: the first 32 hex digits of the file's
 * SHA-256), the marker of an import that has not ended: written when it
 * starts, removed when it ends. It holds
 *   audit_seq N      the audit position the first attempt started from
 *   sha256 HEX       the file's whole hash
 *   started T        when (Unix seconds)
 *   file PATH        the file's name as given (the rest of the file)
 * (a marker of an older privreg holds only the first line). A running
 * import holds an exclusive lock (flock) on its marker: a marker nobody
 * locks is one of an import that was cut off.
 */
#define MARKERS_MAX 16
#define MARKER_FILE_MAX 1024

struct marker {
	char path[4600];
	int64_t seq;
	char hash[HASH_HEX];       /* whole, or an older marker's 32 digits */
	int64_t started;
	char file[MARKER_FILE_MAX]; /* "" if not recorded */
	bool running;              /* another import holds it now */
	size_t line;               /* the last line a committed chunk holds (0: none) */
	int64_t at;                /* when that chunk was committed */
};

/* Reads the marker at m->path; false if there is none. */
static bool marker_read(struct marker *m)
{
	int fd = open(m->path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return false;
	char text[64 + HASH_HEX + 64 + MARKER_FILE_MAX + 1];
	ssize_t n = read(fd, text, sizeof text - 1);
	m->running = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd);
	text[n > 0 ? n : 0] = '\0';
	long long seq = 0, started = 0;
	char hash[HASH_HEX] = "";
	if (sscanf(text, "audit_seq %lld", &seq) != 1)
		seq = 0;
	const char *h = strstr(text, "\nsha256 "), *t = strstr(text, "\nstarted "), *f = strstr(text, "\nfile ");
	if (h && sscanf(h, "\nsha256 %64[0-9a-f]", hash) == 1 && strlen(hash) == HASH_HEX - 1)
		memcpy(m->hash, hash, HASH_HEX);
	if (t && sscanf(t, "\nstarted %lld", &started) == 1)
		m->started = started;
	if (f) {
		snprintf(m->file, sizeof m->file, "%s", f + 6);
		m->file[strcspn(m->file, "\n")] = '\0';
	}
	m->seq = seq;
	return true;
}

/* The last line of the file whose hash begins with `hash` that a committed
 * chunk holds (0: none), and when that chunk was committed, from audit
 * position `from` on (0: the whole log). */
static int resume_point(const struct core_ctx *c, const char *hash, int64_t from, size_t *line, int64_t *at)
{
	char tag[HASH_HEX + 32];
	snprintf(tag, sizeof tag, "file=sha256:%s", hash);
	size_t taglen = strlen(tag);
	*line = 0;
	*at = 0;
	struct store_audit_filter f = {.after_seq = from > 0 ? from - 1 : 0, .limit = AUDIT_PAGE_MAX};
	for (;;) {
		struct store_audit *v = NULL;
		size_t n = 0;
		enum rc rc = audit_query(c, &f, &v, &n);
		if (rc)
			return cli_fail("import", rc, NULL);
		for (size_t i = 0; i < n; i++) {
			unsigned long a, b;
			if (strcmp(v[i].action, "subject.import") || !v[i].detail || strncmp(v[i].detail, tag, taglen))
				continue;
			const char *rest = v[i].detail + taglen + strspn(v[i].detail + taglen, "0123456789abcdef");
			if (sscanf(rest, " lines=%lu-%lu", &a, &b) == 2 && b > *line) {
				*line = b;
				*at = v[i].at;
			}
		}
		if (n)
			f.after_seq = v[n - 1].seq;
		store_audits_free(v, n);
		if (n < f.limit)
			return CLI_OK;
	}
}

/* The tenant's markers other than own's (at most MARKERS_MAX), each with
 * the line its import reached. */
static int markers_list(const struct core_ctx *c, const char *dir, const char *tenant, const char *own,
                        struct marker *out, size_t *n)
{
	*n = 0;
	DIR *d = opendir(dir);
	if (!d)
		return CLI_OK;
	size_t tl = strlen(tenant);
	struct dirent *e;
	while (*n < MARKERS_MAX && (e = readdir(d))) {
		const char *name = e->d_name;
		if (strncmp(name, tenant, tl) || name[tl] != '-' || strlen(name + tl + 1) != 32 ||
		    strspn(name + tl + 1, "0123456789abcdef") != 32 || !strcmp(name, own))
			continue;
		struct marker *m = &out[*n];
		memset(m, 0, sizeof *m);
		snprintf(m->path, sizeof m->path, "%s/%s", dir, name);
		snprintf(m->hash, sizeof m->hash, "%s", name + tl + 1);
		if (marker_read(m))
			(*n)++;
	}
	closedir(d);
	for (size_t i = 0; i < *n; i++) {
		int ret = resume_point(c, out[i].hash, out[i].seq, &out[i].line, &out[i].at);
		if (ret)
			return ret;
	}
	return CLI_OK;
}

/* One line for a marker: what its import reached and when. */
static void marker_describe(const struct marker *m)
{
	char at[TIMEUTIL_DATETIME_LEN], started[TIMEUTIL_DATETIME_LEN];
	const char *file = m->file[0] ? m->file : "a file (its name is not recorded)";
	timeutil_format_datetime(m->at, at);
	timeutil_format_datetime(m->started, started);
	if (m->running)
		fprintf(stderr, "privreg:   %s: running now (started %s)\n", file, m->started ? started : "earlier");
	else if (m->line)
		fprintf(stderr, "privreg:   %s: cut off; lines up to %zu were imported (the last at %s); marker %s\n",
		        file, m->line, at, m->path);
	else
		fprintf(stderr, "privreg:   %s: cut off before its first commit (started %s): nothing of it was "
		        "imported; marker %s\n", file, m->started ? started : "earlier", m->path);
}

/* Opens (creating it) the marker of this run and locks it for the run's
 * time; writes its content if it is new or `again` (else the first
 * attempt's position stays). The descriptor, or -1 (another import holds
 * it) or -2 (it cannot be written), with a message. */
static int marker_take(const struct core_ctx *c, const char *path, const char *hash, const char *file, bool again)
{
	int fd = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600), ret = -2;
	struct stat st;
	struct audit_checkpoint cp;
	char line[AUDIT_CHECKPOINT_LINE_MAX], text[64 + HASH_HEX + 64 + MARKER_FILE_MAX + 1];
	enum rc rc = RC_OK;
	int n = 0;
	if (fd < 0 || fstat(fd, &st)) {
		fprintf(stderr, "privreg: cannot write %s: %s\n", path, strerror(errno));
	} else if (flock(fd, LOCK_EX | LOCK_NB)) {
		fprintf(stderr, "privreg: %s: an import of this file's content is running now (marker %s)\n", file, path);
		ret = -1;
	} else if (st.st_size && !again) {
		return fd;
	} else if ((rc = audit_checkpoint_make(c->store, c->tenant, &cp, line))) {
		cli_fail("import", rc, NULL);
	} else if ((n = snprintf(text, sizeof text, "audit_seq %lld\nsha256 %s\nstarted %lld\nfile %.*s\n",
	                         (long long)(cp.seq ? cp.seq : 1), hash, (long long)timeutil_now(),
	                         MARKER_FILE_MAX - 1, file)) < 0 || (size_t)n >= sizeof text ||
	           ftruncate(fd, 0) || pwrite(fd, text, (size_t)n, 0) != n || fsync(fd)) {
		fprintf(stderr, "privreg: cannot write %s: %s\n", path, strerror(errno));
	} else {
		return fd;
	}
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- the import ---- */

static int run(const struct core_ctx *c, const char *kind, FILE *f, const char *path, const struct import_opts *o,
               size_t skip_to, struct counts *out)
{
	struct reader rd = {.f = f, .path = path, .csv = o->csv, .guessed = o->guessed, .tenant = c->tenant, .kind = kind,
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
	w.rejects = o->rejects;
	w.refused = o->refused;
	if (w.rejects && !ret)
		ret = private_start(w.rejects, skip_to);
	if (w.refused && !ret)
		ret = private_start(w.refused, skip_to);
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
	struct private_file *pf[] = {w.rejects, w.refused};
	for (size_t i = 0; i < 2; i++) {
		if (!pf[i] || !pf[i]->f)
			continue;
		if (cut && (fflush(pf[i]->f) || ftruncate(fileno(pf[i]->f), pf[i]->kept)))
			fprintf(stderr, "privreg: cannot write %s: %s\n", pf[i]->path, strerror(errno));
		if (fclose(pf[i]->f) && !ret) {
			fprintf(stderr, "privreg: cannot write %s: %s\n", pf[i]->path, strerror(errno));
			ret = CLI_FAILED;
		} else if (!(cut ? w.n.kept_refused : w.n.refused) && !skip_to) {
			/* Nothing refused: no file of refusals beside the input (a
			 * resumed import keeps the ones its first run wrote). */
			unlink(pf[i]->path);
		}
		pf[i]->f = NULL;
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
	free(rd.header_raw);
	free(w.made.key);
	free(w.made.line);
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

/* The command that imports path as this one does, for a message. */
static void command(const struct cli_opts *co, const char *kind, const char *path, const char *format,
                    char *out, size_t size)
{
	snprintf(out, size, "privreg import %s %s%s%s%s%s%s%s", kind, path,
	         strcmp(co->dir, CLI_DEFAULT_DIR) ? " --dir " : "", strcmp(co->dir, CLI_DEFAULT_DIR) ? co->dir : "",
	         strcmp(co->tenant, CLI_DEFAULT_TENANT) ? " --tenant " : "",
	         strcmp(co->tenant, CLI_DEFAULT_TENANT) ? co->tenant : "", format ? " --format " : "",
	         format ? format : "");
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
	char cmd[9000];
	command(co, kind, path, format, cmd, sizeof cmd);
	fprintf(stderr, "privreg: %s: lines up to %zu are imported and stay (this run: %zu records, %zu rows "
	        "refused); the lines after them are not\n"
	        "privreg: to go on after line %zu, without duplicates: %s --resume\n",
	        path, n->kept_line, n->kept, n->kept_refused, n->kept_line, cmd);
}

/*
 * Before a run that writes, what the markers of unfinished imports say
 * (DIR/imports): rows already imported are never imported again unless
 * --again says so.
 * - --resume goes on after the last committed chunk of this content; with
 *   no marker of it, the whole audit log is searched (a finished import:
 *   the rest, nothing). Finding no chunk at all, it refuses: the file
 *   was never imported, or it changed since (an edit after a crash), and
 *   starting from line 1 would import twice what was imported before.
 * - a plain run of content with a marker refuses and says --resume;
 * - a plain run while another import of the tenant was cut off refuses,
 *   saying what that import brought in: this may be its file, edited.
 * (A marker whose import committed nothing refuses nothing.)
 * - --again imports anyway and clears those markers.
 * CLI_OK (skip_to set), or CLI_USAGE and the reasons.
 */
static int resume_checks(const struct core_ctx *c, const struct cli_opts *co, const char *kind, const char *path,
                         const char *format, const struct import_opts *o, const char *statedir, const char *own,
                         struct marker *mine, size_t *skip_to)
{
	struct marker others[MARKERS_MAX];
	size_t nothers = 0, cut = 0;
	bool have = marker_read(mine);
	int64_t at = 0;
	int ret = markers_list(c, statedir, c->tenant->name, own, others, &nothers);
	for (size_t i = 0; i < nothers; i++)
		cut += !others[i].running && others[i].line; /* one that imported nothing cannot be imported twice */
	if (!ret && have && !mine->running)
		ret = resume_point(c, o->hash, mine->seq, &mine->line, &mine->at);
	if (ret)
		return ret;
	char cmd[9000];
	command(co, kind, path, format, cmd, sizeof cmd);
	if (have && mine->running) {
		fprintf(stderr, "privreg: %s: an import of this file's content is running now (marker %s)\n", path,
		        mine->path);
		return CLI_USAGE;
	}
	if (o->resume && have) {
		*skip_to = mine->line;
		return CLI_OK;
	}
	if (o->resume) {
		if ((ret = resume_point(c, o->hash, 0, skip_to, &at)) || *skip_to)
			return ret;
		fprintf(stderr, "privreg: %s: --resume found no earlier import of this file's content (SHA-256 %.16s...) "
		        "in the audit log, so nothing is imported: going on from line 1 could import rows twice (any an "
		        "import of an earlier version of the file brought in)\n", path, o->hash);
		if (nothers) {
			fprintf(stderr, "privreg: imports of tenant %s that have not ended:\n", c->tenant->name);
			for (size_t i = 0; i < nothers; i++)
				marker_describe(&others[i]);
			fprintf(stderr, "privreg: --resume goes on only with the content an import started with. If %s "
			        "is such a file changed since, remove from it the lines that import brought in (a CSV file keeps "
			        "its header row), then: %s "
			        "--again (which also clears its marker)\n", path, cmd);
		} else {
			fprintf(stderr, "privreg: tenant %s has no unfinished import; a file never imported: %s\n",
			        c->tenant->name, cmd);
		}
		return CLI_USAGE;
	}
	if (o->again) {
		/* Told to import anyway: the markers named in the refusal go. */
		for (size_t i = 0; i < nothers; i++)
			if (!others[i].running && !unlink(others[i].path))
				fprintf(stderr, "privreg: --again: cleared the marker of the import of %s\n",
				        others[i].file[0] ? others[i].file : others[i].path);
		return CLI_OK;
	}
	if (have && mine->line) {
		/* (Cut off before its first commit, it imported nothing: the
		 * plain run goes on from line 1.) */
		char when[TIMEUTIL_DATETIME_LEN];
		timeutil_format_datetime(mine->at, when);
		fprintf(stderr, "privreg: %s: an import of this file's content was cut off: lines up to %zu were "
		        "imported (the last at %s); importing it from line 1 would import those rows twice, so "
		        "nothing is imported.\nprivreg: to go on after line %zu: %s --resume\n"
		        "privreg: to import every row again anyway: %s --again\n",
		        path, mine->line, when, mine->line, cmd, cmd);
		return CLI_USAGE;
	}
	if (cut) {
		fprintf(stderr, "privreg: %s: an import of tenant %s was cut off and has not ended; nothing is imported:\n",
		        path, c->tenant->name);
		for (size_t i = 0; i < nothers; i++)
			if (!others[i].running && others[i].line)
				marker_describe(&others[i]);
		fprintf(stderr, "privreg: if %s is that file, changed since (its content is not the same, so --resume "
		        "cannot go on): remove from it the lines already imported (a CSV file keeps its header row), then "
		        "import it with --again, which "
		        "also clears the marker. If it is another file: %s --again (the cut-off import can still be "
		        "resumed with its file as it was), or remove the marker with rm\n", path, cmd);
		return CLI_USAGE;
	}
	return CLI_OK;
}

static bool ends_with(const char *s, const char *tail)
{
	size_t n = strlen(s), m = strlen(tail);
	return n >= m && !strcasecmp(s + n - m, tail);
}

int cli_import(int argc, char **argv)
{
	static const char *const flags[] = {"--dry-run", "--resume", "--all-or-nothing", "--again", NULL};
	bool found[4];
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
	struct import_opts o = {.dry_run = found[0], .resume = found[1], .all_or_nothing = found[2], .again = found[3],
	                        .own_transaction = true, .progress = isatty(STDERR_FILENO), .guessed = !format};
	const char *kind = co.argv[0], *path = co.argv[1];
	if (format && strcmp(format, "csv") && strcmp(format, "jsonl")) {
		cli_usage_error("import", "--format is csv or jsonl");
		return CLI_USAGE;
	}
	if ((o.dry_run || o.all_or_nothing || o.again) && o.resume) {
		cli_usage_error("import", "--resume goes with neither --dry-run, --all-or-nothing nor --again");
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
		fprintf(stderr, "privreg: cannot open %s: %s\n", path, strerror(errno));
		return CLI_USAGE;
	}
	struct encoding enc;
	ret = file_hash(f, path, o.hash, &o.size, &enc);
	char converted[4200];
	const char *ext = strrchr(path, '.');
	ext = ext && !strchr(ext, '/') ? ext : "";
	snprintf(converted, sizeof converted, "%.*s-utf8%s", (int)(strlen(path) - strlen(ext)), path, ext);
	if (!ret && !o.size) {
		fprintf(stderr, "privreg: %s: the file is empty (0 bytes): %s; nothing was imported\n", path,
		        o.csv ? "a CSV file's first row names its columns" : "no line to import");
		ret = CLI_REFUSED;
	} else if (!ret && enc.utf16) {
		fprintf(stderr, "privreg: %s: the file is UTF-16 text (as a spreadsheet's \"Unicode text\" is saved), "
		        "not UTF-8; nothing was imported. Convert it first, e.g. iconv -f UTF-16 -t UTF-8 %s > %s\n", path,
		        path, converted);
		ret = CLI_REFUSED;
	} else if (!ret && enc.bad_line) {
		fprintf(stderr, "privreg: %s:%zu: not UTF-8 text: the file is probably in another encoding (Windows-1252 "
		        "or Latin-1, as older spreadsheets save it); nothing was imported. Convert it first, e.g. "
		        "iconv -f WINDOWS-1252 -t UTF-8 %s > %s\n", path, enc.bad_line, path, converted);
		ret = CLI_REFUSED;
	}
	struct cli_register r = {0};
	struct tenant *t = NULL;
	if (!ret)
		ret = cli_open(&co, &r, &t);
	if (!ret && !policy_record(t->policy, kind)) {
		fprintf(stderr, "privreg: the policy has no record kind '%s'\n", kind);
		ret = CLI_REFUSED;
	}
	char rejects[4200], refused[4200], statedir[4200], own[256];
	snprintf(rejects, sizeof rejects, "%s.rejects.csv", path);
	snprintf(refused, sizeof refused, "%s.refused.%s", path, o.csv ? "csv" : "jsonl");
	struct private_file rj = {.path = rejects}, rf = {.path = refused};
	struct marker mine = {0};
	int marker = -1;
	struct core_ctx c = {.store = r.store, .tenant = t};
	size_t skip_to = 0;
	if (!ret && !o.dry_run) {
		snprintf(statedir, sizeof statedir, "%s/imports", r.dir);
		snprintf(own, sizeof own, "%s-%.32s", t->name, o.hash);
		snprintf(mine.path, sizeof mine.path, "%s/%s", statedir, own);
		if (mkdir(statedir, 0700) && errno != EEXIST) {
			fprintf(stderr, "privreg: cannot create %s: %s\n", statedir, strerror(errno));
			ret = CLI_FAILED;
		}
		ret = ret ? ret : resume_checks(&c, &co, kind, path, format, &o, statedir, own, &mine, &skip_to);
	}
	if (!ret) {
		o.rejects = &rj;
		o.refused = &rf;
		ret = private_open(&rj);
		ret = ret ? ret : private_open(&rf);
	}
	if (!ret && !o.dry_run && !o.all_or_nothing) {
		marker = marker_take(&c, mine.path, o.hash, path, o.again);
		ret = marker == -1 ? CLI_USAGE : marker == -2 ? CLI_FAILED : CLI_OK;
		if (!ret && skip_to)
			fprintf(stderr, "privreg: %s: lines up to %zu are imported already; going on after them\n", path,
			        skip_to);
	}
	if (ret) {
		private_drop(&rj);
		private_drop(&rf);
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
	/* Done, or stopped before anything was committed: nothing to resume. */
	if (marker >= 0 && (ret == CLI_OK || ret == CLI_REFUSED || !(n.kept_line || skip_to)))
		unlink(mine.path);
	if (marker >= 0)
		close(marker);
	/* Counts only of a file whose rows were read: a failure before (an
	 * unknown tenant, a refused header) has said all there is to say. */
	size_t done = n.created + n.attached;
	bool counted = n.read && (ret == CLI_OK || ret == CLI_REFUSED);
	if (counted && o.dry_run)
		printf("dry run: %zu of %zu rows valid (%zu refused); nothing was imported\n", done, n.rows, n.refused);
	else if (counted && o.all_or_nothing && ret)
		fprintf(stderr, "privreg: nothing imported (--all-or-nothing; %zu of %zu rows refused%s%s)\n", n.refused,
		        n.rows, o.rejects ? ", see " : "", o.rejects ? o.rejects->path : "");
	else if (counted)
		printf("imported %zu %s records from %s (%zu new subjects, %zu added to existing ones), %zu rows refused%s%s%s%s\n",
		       done, kind, path, n.created, n.attached, n.refused, n.refused ? ": see " : "",
		       n.refused ? rejects : "", n.refused ? "; the rows alone, to fix and import again: " : "",
		       n.refused ? refused : "");
	else if (n.read && (o.dry_run || o.all_or_nothing))
		fprintf(stderr, "privreg: %s: nothing imported (%s: one transaction, rolled back)\n", path,
		        o.dry_run ? "--dry-run" : "--all-or-nothing");
	else if (n.read)
		stopped(&co, kind, path, format, &n);
	return ret;
}
