/* cli_show: `privreg status` and `privreg subject get|find|delete`. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/value_json.h"
#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/notify.h"
#include "core/subject.h"
#include "core/tenant.h"

static const char status_help[] =
	"usage: privreg status [--dir D]\n\n"
	"Prints each tenant of the register with its controller, policy version\n"
	"and how many subjects and records it holds.\n";

int cli_status(int argc, char **argv)
{
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "status", status_help, CLI_OPT_DIR, &o);
	if (ret >= 0)
		return ret;
	const char *dir = o.dir;
	if (o.argc) {
		cli_usage_error("status", "takes no arguments");
		return CLI_USAGE;
	}
	struct cli_register r;
	ret = cli_register_open(&r, dir);
	if (ret)
		return ret;
	struct tenant_status *v = NULL;
	size_t n = 0;
	enum rc rc = tenant_status_list(r.store, timeutil_now(), &v, &n);
	printf("register %s (store %s)\n", dir, r.store_url);
	for (size_t i = 0; !rc && i < n; i++) {
		struct tenant *t = NULL;
		ret = cli_tenant_open(&r, v[i].name, &t);
		if (ret)
			break;
		const struct policy *p = t->policy;
		printf("tenant %s: %s, policy version %s\n", t->name, p->controller.name, p->version);
		printf("  %zu fields, %zu purposes, %zu record kinds, %zu recipients\n", p->nfields,
		       p->npurposes, p->nrecords, p->nrecipients);
		printf("  %lld subjects, %lld records\n", (long long)v[i].subjects, (long long)v[i].records);
		tenant_free(t);
	}
	free(v);
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
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "subject", subject_help, CLI_OPT_DIR | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	int nargs = o.argc;
	const char *sub = nargs > 0 ? o.argv[0] : "";
	bool get = !strcmp(sub, "get") && nargs == 2, del = !strcmp(sub, "delete") && nargs == 2;
	bool find = !strcmp(sub, "find") && nargs == 3;
	if (!get && !del && !find) {
		cli_usage_error("subject", "expected 'subject get ID', 'subject find FIELD VALUE' or 'subject delete ID'");
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (ret)
		return ret;
	struct core_ctx c = {.store = r.store, .tenant = t};
	struct errbuf eb = {""};
	enum rc rc;
	if (get) {
		struct subject_view *v = NULL;
		rc = subject_read(&c, o.argv[1], &v, &eb);
		if (!rc) {
			json_t *j = subject_view_to_json(v);
			char *s = value_json_dumps(j, JSON_INDENT(2));
			puts(s ? s : "null");
			free(s);
			json_decref(j);
		}
		subject_view_free(v);
	} else if (find) {
		char ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
		size_t n = 0;
		const char *val = o.argv[2];
		struct field_value fv = {VAL_STRING, val, strlen(val)};
		rc = subject_find(&c, o.argv[1], &fv, ids, SUBJECT_FIND_MAX, &n, &eb);
		for (size_t i = 0; !rc && i < n; i++)
			puts(ids[i]);
	} else {
		rc = notify_subject_delete(&c, o.argv[1], &eb);
		if (!rc)
			printf("deleted subject %s (key destroyed, records removed)\n", o.argv[1]);
	}
	cli_close(&r, t);
	return rc ? cli_fail(sub, rc, &eb) : CLI_OK;
}
