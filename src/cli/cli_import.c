/*
 * cli_import: `privreg import KIND FILE.jsonl`: one new subject per line, with
 * one record of KIND. The whole file is one transaction: a refused line stops
 * the import, names its line, and nothing of the file is kept.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/value_json.h"
#include "cli/cli.h"
#include "core/subject.h"
#include "store/store.h"

#define IMPORT_LINE_MAX (1024 * 1024)

static const char import_help[] =
	"usage: privreg import KIND FILE.jsonl [--tenant T] [--dir D]\n\n"
	"Each line of FILE is a JSON object {\"fields\": {...}, \"created_at\"?: ISO,\n"
	"\"events\"?: {NAME: ISO}} and becomes a new subject with one KIND record.\n"
	"All lines are validated against the policy; the first refused line stops\n"
	"the import and nothing of the file is kept.\n";

static int import_file(const struct core_ctx *c, const char *kind, FILE *f, const char *path,
                       size_t *count)
{
	char *line = malloc(IMPORT_LINE_MAX + 2);
	size_t lineno = 0;
	int ret = CLI_OK;
	if (!line)
		return CLI_FAILED;
	while (fgets(line, IMPORT_LINE_MAX + 2, f)) {
		lineno++;
		size_t len = strlen(line);
		if (len > IMPORT_LINE_MAX) {
			fprintf(stderr, "privreg: %s:%zu: line longer than %d bytes\n", path, lineno, IMPORT_LINE_MAX);
			ret = CLI_REFUSED;
			break;
		}
		if (strspn(line, " \t\r\n") == len)
			continue;
		json_error_t jerr;
		json_t *j = json_loads(line, JSON_REJECT_DUPLICATES, &jerr);
		if (!j) {
			fprintf(stderr, "privreg: %s:%zu: not JSON: %s\n", path, lineno, jerr.text);
			ret = CLI_REFUSED;
			break;
		}
		struct value_json_holder h = {0};
		struct record_input rec;
		struct errbuf eb = {""};
		json_object_set_new(j, "kind", json_string(kind));
		enum rc rc = record_input_from_json(j, true, &rec, &h, &eb);
		char id[TOKEN_ID_MAX], rid[1][TOKEN_ID_MAX];
		if (!rc)
			rc = subject_create(c, &rec, 1, id, rid, &eb);
		value_json_holder_fini(&h);
		json_decref(j);
		if (rc) {
			fprintf(stderr, "privreg: %s:%zu: %s\n", path, lineno, err_msg(&eb, rc));
			ret = rc_http_status(rc) >= 500 ? CLI_FAILED : CLI_REFUSED;
			break;
		}
		(*count)++;
	}
	free(line);
	return ret;
}

int cli_import(int argc, char **argv)
{
	const char *dir = CLI_DEFAULT_DIR, *tenant_name = CLI_DEFAULT_TENANT;
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'}, {"tenant", required_argument, NULL, 't'},
		{"help", no_argument, NULL, 'h'}, {0},
	};
	int o;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 't': tenant_name = optarg; break;
		case 'h': fputs(import_help, stdout); return CLI_OK;
		default: cli_usage_error("import", "unknown option"); return CLI_USAGE;
		}
	}
	if (argc - optind != 2) {
		cli_usage_error("import", "expected KIND FILE.jsonl");
		return CLI_USAGE;
	}
	const char *kind = argv[optind], *path = argv[optind + 1];
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "privreg: cannot open %s\n", path);
		return CLI_FAILED;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	int ret = cli_register_open(&r, dir);
	if (!ret)
		ret = cli_tenant_open(&r, tenant_name, &t);
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
			ret = import_file(&c, kind, f, path, &count);
		if (!ret && (rc = store_commit(r.store)))
			ret = cli_fail("import", rc, NULL);
		else if (ret && !rc)
			store_rollback(r.store);
	}
	fclose(f);
	tenant_free(t);
	if (r.store)
		cli_register_close(&r);
	if (!ret)
		printf("imported %zu %s records from %s\n", count, kind, path);
	else if (count)
		fprintf(stderr, "privreg: nothing imported (the %zu valid lines before it were rolled back)\n", count);
	return ret;
}
