/* cli_requests: `privreg requests due`: the deadline watch, offline. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/request.h"

static const char requests_help[] =
	"usage: privreg requests due [--days N] [--tenant T] [--dir D]\n\n"
	"Lists the open data-subject requests that are late or due within N days\n"
	"(default 7), earliest deadline first: id, type, status, due date, and\n"
	"LATE or the days left. Exits 1 when any request is late.\n";

static int by_due(const void *a, const void *b)
{
	const struct store_request *x = a, *y = b;
	return (x->due_at > y->due_at) - (x->due_at < y->due_at);
}

int cli_requests(int argc, char **argv)
{
	long days = 7;
	char *rest[64];
	int nrest = 0;
	for (int i = 0; i < argc && nrest < 63; i++) {
		if (!strcmp(argv[i], "--days") && i + 1 < argc) {
			char *end;
			days = strtol(argv[++i], &end, 10);
			if (*end || days < 0 || days > 3650) {
				cli_usage_error("requests", "--days takes a number of days");
				return CLI_USAGE;
			}
		} else {
			rest[nrest++] = argv[i];
		}
	}
	rest[nrest] = NULL;
	struct cli_opts o;
	int ret = cli_parse(nrest, rest, "requests", requests_help, CLI_OPT_DIR | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	if (o.argc != 1 || strcmp(o.argv[0], "due")) {
		cli_usage_error("requests", "expected 'requests due'");
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (ret)
		return ret;
	struct core_ctx c = {.store = r.store, .tenant = t};
	int64_t now = timeutil_now();
	struct store_request_filter f = {.due_before = now + days * 86400 + 1, .limit = 1000};
	f.statuses = request_open_names(&f.nstatuses);
	struct store_request *all = NULL;
	size_t n = 0, total = 0;
	char after[TOKEN_ID_MAX] = "";
	enum rc rc;
	do { /* page through, then sort by deadline */
		struct store_request *v = NULL;
		f.after = after;
		rc = request_list(&c, &f, &v, &n);
		if (!rc && n) {
			all = realloc(all, (total + n) * sizeof *all);
			memcpy(all + total, v, n * sizeof *v);
			total += n;
			memcpy(after, v[n - 1].id, TOKEN_ID_MAX);
		}
		free(v); /* the strings moved to all */
	} while (!rc && n == f.limit);
	int late = 0;
	if (!rc) {
		qsort(all, total, sizeof *all, by_due);
		for (size_t i = 0; i < total; i++) {
			char due[TIMEUTIL_DATE_LEN];
			timeutil_format_date(all[i].due_at, due);
			if (all[i].due_at < now) {
				late++;
				printf("%s %-16s %-11s due %s LATE\n", all[i].id, all[i].type, all[i].status, due);
			} else {
				printf("%s %-16s %-11s due %s in %lld days\n", all[i].id, all[i].type, all[i].status, due,
				       (long long)((all[i].due_at - now) / 86400));
			}
		}
		fprintf(stderr, "%zu open requests due within %ld days, %d late\n", total, days, late);
	}
	store_requests_free(all, total);
	cli_close(&r, t);
	return rc ? cli_fail("requests", rc, NULL) : late ? CLI_REFUSED : CLI_OK;
}
