/*
 * cli_requests: `privreg requests due`: the deadline watch, offline. A
 * request is listed when its legal deadline (requests.due_at) or its
 * internal target (requests.target_at, from the policy's requests.target)
 * falls within the window, or has passed; each line says which. Since the
 * target is never later than the deadline, the store is asked for every
 * open request and the window is applied here.
 */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "core/request.h"

static const char requests_help[] =
	"usage: privreg requests due [--days N] [--json] [--tenant T] [--dir D]\n\n"
	"Lists the open data-subject requests whose legal deadline or internal\n"
	"target (the policy's requests.target) falls within N days (default 7),\n"
	"or has passed, earliest first: id, type, status, why it is listed, the\n"
	"target and the deadline with the days left. Why: LATE (the legal\n"
	"deadline has passed), TARGET-MISSED (the internal target has passed),\n"
	"TARGET (the target falls within N days), DUE (the deadline does).\n"
	"--json prints {\"requests\": [...]} with the same facts. Exits 1 when any\n"
	"request is late.\n";

/* Why a request is listed, worst first. */
enum why { WHY_LATE, WHY_TARGET_MISSED, WHY_TARGET, WHY_DUE, WHY_NONE };

static const char *const why_word[] = {"LATE", "TARGET-MISSED", "TARGET", "DUE"};
static const char *const why_json[] = {"late", "target_missed", "target", "due"};

static enum why why_listed(const struct store_request *r, int64_t now, int64_t horizon)
{
	if (r->due_at < now)
		return WHY_LATE;
	if (r->target_at && r->target_at < now)
		return WHY_TARGET_MISSED;
	if (r->target_at && r->target_at <= horizon)
		return WHY_TARGET;
	return r->due_at <= horizon ? WHY_DUE : WHY_NONE;
}

/* The earlier of the target (when set) and the deadline. */
static int64_t first_date(const struct store_request *r)
{
	return r->target_at && r->target_at < r->due_at ? r->target_at : r->due_at;
}

static int by_first_date(const void *a, const void *b)
{
	int64_t x = first_date(a), y = first_date(b);
	return (x > y) - (x < y);
}

static void print_date(const char *label, int64_t at, int64_t now)
{
	char date[TIMEUTIL_DATE_LEN];
	timeutil_format_date(at, date);
	if (at < now)
		printf("%s %s passed", label, date);
	else
		printf("%s %s in %lld days", label, date, (long long)((at - now) / 86400));
}

static json_t *instant(int64_t t)
{
	char s[TIMEUTIL_DATETIME_LEN];
	if (!t)
		return json_null();
	timeutil_format_datetime(t, s);
	return json_string(s);
}

int cli_requests(int argc, char **argv)
{
	long days = 7;
	bool as_json = false;
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
		} else if (!strcmp(argv[i], "--json")) {
			as_json = true;
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
	int64_t now = timeutil_now(), horizon = now + days * 86400;
	struct store_request_filter f = {.limit = 1000};
	f.statuses = request_open_names(&f.nstatuses);
	struct store_request *all = NULL;
	size_t n = 0, total = 0, listed = 0;
	char after[TOKEN_ID_MAX] = "";
	enum rc rc;
	do { /* page through the open ones, keep those in the window */
		struct store_request *v = NULL;
		f.after = after;
		rc = request_list(&c, &f, &v, &n);
		if (!rc && n) {
			all = xrealloc(all, (total + n) * sizeof *all);
			memcpy(all + total, v, n * sizeof *v);
			total += n;
			memcpy(after, v[n - 1].id, TOKEN_ID_MAX);
		}
		free(v); /* the strings moved to all */
	} while (!rc && n == f.limit);
	for (size_t i = 0; !rc && i < total; i++) {
		if (why_listed(&all[i], now, horizon) == WHY_NONE) {
			store_request_fini(&all[i]);
			continue;
		}
		all[listed++] = all[i];
	}
	int late = 0, missed = 0;
	if (!rc) {
		qsort(all, listed, sizeof *all, by_first_date);
		json_t *list = as_json ? json_array() : NULL;
		for (size_t i = 0; i < listed; i++) {
			const struct store_request *q = &all[i];
			enum why w = why_listed(q, now, horizon);
			late += w == WHY_LATE;
			missed += w == WHY_TARGET_MISSED;
			if (list) {
				json_array_append_new(list, json_pack("{s:s, s:s, s:s, s:s, s:o, s:o}", "id", q->id, "type", q->type,
				                                      "status", q->status, "why", why_json[w], "target_at",
				                                      instant(q->target_at), "due_at", instant(q->due_at)));
				continue;
			}
			printf("%s %-16s %-11s %-13s ", q->id, q->type, q->status, why_word[w]);
			if (q->target_at) {
				print_date("target", q->target_at, now);
				fputs("; ", stdout);
			}
			print_date("deadline", q->due_at, now);
			putchar('\n');
		}
		if (list) {
			json_t *doc = json_pack("{s:o, s:I}", "requests", list, "days", (json_int_t)days);
			char *s = json_dumps(doc, JSON_INDENT(2));
			puts(s);
			free(s);
			json_decref(doc);
		}
		fprintf(stderr, "%zu open requests due within %ld days, %d late, %d past their target\n", listed, days,
		        late, missed);
	}
	store_requests_free(all, rc ? total : listed);
	cli_close(&r, t);
	return rc ? cli_fail("requests", rc, NULL) : late ? CLI_REFUSED : CLI_OK;
}
