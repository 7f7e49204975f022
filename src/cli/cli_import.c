/*
 * cli_import: `privreg import KIND FILE.jsonl`: one new subject per line, with
 * one record of KIND. Lines go to core in batches of 1,000 (subject_import
 * validates and seals a batch before writing it); the whole file is one
 * transaction, so a refused line stops the import, names its line, and
 * nothing of the file is kept.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/value_json.h"
#include "cli/cli.h"
#include "core/subject.h"
#include "store/store.h"

#define IMPORT_LINE_MAX (1024 * 1024)
#define IMPORT_BATCH 1000

static const char import_help[] =
	"usage: privreg import KIND FILE.jsonl [--tenant T] [--dir D]\n\n"
	"Each line of FILE is a JSON object {\"fields\": {...}, \"created_at\"?: ISO,\n"
	"\"events\"?: {NAME: ISO}} and becomes a new subject with one KIND record.\n"
	"All lines are validated against the policy; the first refused line stops\n"
	"the import and nothing of the file is kept.\n";

/* One parsed line waiting in the batch. */
struct pending {
	json_t *json;
	struct value_json_holder holder;
	struct record_input rec;
	struct subject_input subject;
	size_t lineno;
};

static void pending_fini(struct pending *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		value_json_holder_fini(&p[i].holder);
		json_decref(p[i].json);
	}
}

/* Reads one line, its newline included, into line (room for cap + 1 bytes,
 * NUL-terminated), at most cap bytes of it, and its length into *len: unlike
 * fgets, the length shows a NUL byte inside the line, which would otherwise
 * end it there, silently. False at the end of the file. */
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

static int flush(const struct core_ctx *c, struct pending *batch, size_t n, const char *path, size_t *count)
{
	struct subject_input in[IMPORT_BATCH];
	for (size_t i = 0; i < n; i++)
		in[i] = batch[i].subject;
	struct errbuf eb = {""};
	size_t failed = 0;
	enum rc rc = n ? subject_import(c, in, n, NULL, &failed, &eb) : RC_OK;
	if (rc) {
		fprintf(stderr, "privreg: %s:%zu: %s\n", path, batch[failed < n ? failed : 0].lineno, err_msg(&eb, rc));
		return rc_http_status(rc) >= 500 ? CLI_FAILED : CLI_REFUSED;
	}
	*count += n;
	return CLI_OK;
}

int cli_import_file(const struct core_ctx *c, const char *kind, FILE *f, const char *path, size_t *count)
{
	char *line = malloc(IMPORT_LINE_MAX + 2);
	struct pending *batch = calloc(IMPORT_BATCH, sizeof *batch);
	size_t lineno = 0, n = 0;
	int ret = CLI_OK;
	if (!line || !batch) {
		free(line);
		free(batch);
		return CLI_FAILED;
	}
	size_t len;
	while (!ret && read_line(f, line, IMPORT_LINE_MAX + 1, &len)) {
		lineno++;
		if (len > IMPORT_LINE_MAX) {
			fprintf(stderr, "privreg: %s:%zu: line longer than %d bytes\n", path, lineno, IMPORT_LINE_MAX);
			ret = CLI_REFUSED;
			break;
		}
		if (memchr(line, '\0', len)) {
			fprintf(stderr, "privreg: %s:%zu: a NUL byte in the line (not JSON text)\n", path, lineno);
			ret = CLI_REFUSED;
			break;
		}
		if (strspn(line, " \t\r\n") == len)
			continue;
		json_error_t jerr;
		struct pending *p = &batch[n];
		memset(p, 0, sizeof *p);
		p->lineno = lineno;
		struct errbuf neb = {""};
		if (value_json_check_numbers(line, len, &neb)) {
			fprintf(stderr, "privreg: %s:%zu: %s\n", path, lineno, neb.msg);
			ret = CLI_REFUSED;
			break;
		}
		p->json = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (!p->json) {
			fprintf(stderr, "privreg: %s:%zu: not JSON: %s\n", path, lineno, jerr.text);
			ret = CLI_REFUSED;
			break;
		}
		n++;
		struct errbuf eb = {""};
		if (json_is_object(p->json))
			json_object_set_new(p->json, "kind", json_string(kind));
		enum rc rc = record_input_from_json(p->json, true, &p->rec, &p->holder, &eb);
		if (rc) {
			fprintf(stderr, "privreg: %s:%zu: %s\n", path, lineno, err_msg(&eb, rc));
			ret = CLI_REFUSED;
			break;
		}
		p->subject = (struct subject_input){&p->rec, 1};
		if (n == IMPORT_BATCH) {
			ret = flush(c, batch, n, path, count);
			pending_fini(batch, n);
			n = 0;
		}
	}
	if (!ret)
		ret = flush(c, batch, n, path, count);
	pending_fini(batch, n);
	free(batch);
	free(line);
	return ret;
}

int cli_import(int argc, char **argv)
{
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "import", import_help, CLI_OPT_DIR | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	if (o.argc != 2) {
		cli_usage_error("import", "expected KIND FILE.jsonl");
		return CLI_USAGE;
	}
	const char *kind = o.argv[0], *path = o.argv[1];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "privreg: cannot open %s\n", path);
		return CLI_FAILED;
	}
	struct cli_register r = {0};
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (!ret && !policy_record(t->policy, kind)) {
		fprintf(stderr, "privreg: the policy has no record kind '%s'\n", kind);
		ret = CLI_REFUSED;
	}
	size_t count = 0;
	if (!ret) {
		struct core_ctx c = {.store = r.store, .tenant = t};
		enum rc rc = store_begin(r.store);
		if (rc)
			ret = cli_fail("import", rc, NULL);
		if (!ret)
			ret = cli_import_file(&c, kind, f, path, &count);
		if (!ret && (rc = store_commit(r.store)))
			ret = cli_fail("import", rc, NULL);
		else if (ret && !rc)
			store_rollback(r.store);
	}
	fclose(f);
	if (r.store)
		cli_close(&r, t);
	if (!ret)
		printf("imported %zu %s records from %s\n", count, kind, path);
	else if (count)
		fprintf(stderr, "privreg: nothing imported (the %zu valid lines before it were rolled back)\n", count);
	return ret;
}
