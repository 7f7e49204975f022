/* cli_audit: `privreg audit verify|list`: the tenant's hash-chained log, offline. */
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/audit.h"

static const char audit_help[] =
	"usage: privreg audit verify [--tenant T] [--dir D]\n"
	"       privreg audit list [--tenant T] [--dir D]\n\n"
	"verify walks the tenant's hash chain: it prints the number of entries and\n"
	"exits 0 when intact, else names the first broken entry and exits 1.\n"
	"list prints every entry, one per line: seq, time, key, role, action,\n"
	"subject, record, outcome, detail.\n";

int cli_audit(int argc, char **argv)
{
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "audit", audit_help, CLI_OPT_DIR | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	const char *sub = o.argc == 1 ? o.argv[0] : "";
	if (strcmp(sub, "verify") && strcmp(sub, "list")) {
		cli_usage_error("audit", "expected 'audit verify' or 'audit list'");
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (ret)
		return ret;
	enum rc rc = RC_OK;
	if (!strcmp(sub, "verify")) {
		struct audit_verify_result v;
		rc = audit_verify(r.store, t, &v);
		if (!rc && v.ok) {
			printf("audit log of tenant %s: intact, %lld entries\n", t->name, (long long)v.entries);
		} else if (!rc) {
			printf("audit log of tenant %s: BROKEN at entry %lld (%lld entries before it are intact)\n",
			       t->name, (long long)v.first_bad, (long long)v.entries);
			ret = CLI_REFUSED;
		}
	} else {
		struct core_ctx c = {.store = r.store, .tenant = t};
		struct store_audit_filter f = {.limit = AUDIT_PAGE_MAX};
		size_t n;
		do {
			struct store_audit *v = NULL;
			rc = audit_query(&c, &f, &v, &n);
			for (size_t i = 0; !rc && i < n; i++) {
				char at[TIMEUTIL_DATETIME_LEN];
				timeutil_format_datetime(v[i].at, at);
				printf("%lld %s %s %s %s %s %s %s %s\n", (long long)v[i].seq, at, v[i].key_id, v[i].role,
				       v[i].action, v[i].subject_id ? v[i].subject_id : "-",
				       v[i].record_id ? v[i].record_id : "-", v[i].outcome, v[i].detail ? v[i].detail : "");
				f.after_seq = v[i].seq;
			}
			store_audits_free(v, n);
		} while (!rc && n == f.limit);
	}
	cli_close(&r, t);
	return rc ? cli_fail("audit", rc, NULL) : ret;
}
