/* cli_show: `privreg status` and `privreg subject get|find|delete`. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/value_json.h"
#include "cli/cli.h"
#include "core/subject.h"
#include "store/store.h"

static const char status_help[] =
	"usage: privreg status [--dir D]\n\n"
	"Prints each tenant of the register with its controller, policy version\n"
	"and how many subjects and records it holds.\n";

int cli_status(int argc, char **argv)
{
	const char *dir = CLI_DEFAULT_DIR;
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'}, {"help", no_argument, NULL, 'h'}, {0},
	};
	int o;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 'h': fputs(status_help, stdout); return CLI_OK;
		default: cli_usage_error("status", "unknown option"); return CLI_USAGE;
		}
	}
	if (optind != argc) {
		cli_usage_error("status", "takes no arguments");
		return CLI_USAGE;
	}
	struct cli_register r;
	int ret = cli_register_open(&r, dir);
	if (ret)
		return ret;
	struct store_tenant *v = NULL;
	size_t n = 0;
	enum rc rc = store_tenant_list(r.store, &v, &n);
	printf("register %s (store %s)\n", dir, r.store_url);
	for (size_t i = 0; !rc && i < n; i++) {
		struct tenant *t = NULL;
		ret = cli_tenant_open(&r, v[i].name, &t);
		if (ret)
			break;
		const struct policy *p = t->policy;
		struct store_counts cnt = {0};
		rc = store_counts(r.store, t->id, &cnt);
		printf("tenant %s: %s, policy version %s\n", t->name, p->controller.name, p->version);
		printf("  %zu fields, %zu purposes, %zu record kinds, %zu recipients\n", p->nfields,
		       p->npurposes, p->nrecords, p->nrecipients);
		printf("  %lld subjects, %lld records\n", (long long)cnt.subjects, (long long)cnt.records);
		tenant_free(t);
	}
	store_tenants_free(v, n);
	cli_register_close(&r);
	return ret ? ret : rc ? cli_fail("status", rc, NULL) : CLI_OK;
}

static const char subject_help[] =
	"usage: privreg subject get ID [--tenant T] [--dir D]\n"
	"       privreg subject find FIELD VALUE [--tenant T] [--dir D]\n"
	"       privreg subject delete ID [--tenant T] [--dir D]\n\n"
	"get prints the subject with all records decrypted, as JSON; find prints\n"
	"the ids of subjects whose lookup FIELD equals VALUE; delete destroys the\n"
	"subject's key and then all its records.\n";

int cli_subject(int argc, char **argv)
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
		case 'h': fputs(subject_help, stdout); return CLI_OK;
		default: cli_usage_error("subject", "unknown option"); return CLI_USAGE;
		}
	}
	int nargs = argc - optind;
	const char *sub = nargs > 0 ? argv[optind] : "";
	bool get = !strcmp(sub, "get") && nargs == 2, del = !strcmp(sub, "delete") && nargs == 2;
	bool find = !strcmp(sub, "find") && nargs == 3;
	if (!get && !del && !find) {
		cli_usage_error("subject", "expected 'subject get ID', 'subject find FIELD VALUE' or 'subject delete ID'");
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	int ret = cli_register_open(&r, dir);
	if (ret)
		return ret;
	ret = cli_tenant_open(&r, tenant_name, &t);
	if (ret) {
		cli_register_close(&r);
		return ret;
	}
	struct core_ctx c = {.store = r.store, .tenant = t};
	struct errbuf eb = {""};
	enum rc rc;
	if (get) {
		struct subject_view *v = NULL;
		rc = subject_read(&c, argv[optind + 1], &v, &eb);
		if (!rc) {
			json_t *j = subject_view_to_json(v);
			char *s = json_dumps(j, JSON_INDENT(2));
			puts(s ? s : "null");
			free(s);
			json_decref(j);
		}
		subject_view_free(v);
	} else if (find) {
		char ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
		size_t n = 0;
		const char *val = argv[optind + 2];
		struct field_value fv = {VAL_STRING, val, strlen(val)};
		rc = subject_find(&c, argv[optind + 1], &fv, ids, SUBJECT_FIND_MAX, &n, &eb);
		for (size_t i = 0; !rc && i < n; i++)
			puts(ids[i]);
	} else {
		rc = subject_delete(&c, argv[optind + 1], &eb);
		if (!rc)
			printf("deleted subject %s (key destroyed, records removed)\n", argv[optind + 1]);
	}
	tenant_free(t);
	cli_register_close(&r);
	return rc ? cli_fail(sub, rc, &eb) : CLI_OK;
}
