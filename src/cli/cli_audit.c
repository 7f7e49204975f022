/*
 * cli_audit: `privreg audit verify|list|checkpoint`: the tenant's
 * hash-chained log, offline, and the checkpoints that anchor its head
 * outside the database (see core/audit.h).
 */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/audit.h"

static const char audit_help[] =
	"usage: privreg audit verify [--tenant T] [--dir D] [--checkpoint FILE]\n"
	"       privreg audit list [--tenant T] [--dir D]\n"
	"       privreg audit checkpoint [--tenant T] [--dir D] [--out FILE|-]\n\n"
	"verify walks the tenant's hash chain: it prints the number of entries and\n"
	"exits 0 when intact, else names the first broken entry and exits 1. The\n"
	"chain alone cannot tell that entries were deleted from its end (or all of\n"
	"them): with --checkpoint it also checks every checkpoint of the tenant in\n"
	"FILE (its MAC, and that the log still holds the checkpointed entry) and\n"
	"exits 1 if the log is shorter than one, diverges from one, or a line is\n"
	"forged, or FILE holds none of the tenant's; an empty FILE (as serve makes\n"
	"it before its first checkpoint) is said to hold no checkpoint yet.\n"
	"list prints every entry, one per line: seq, time, key, role, action,\n"
	"subject, record, outcome, detail.\n"
	"checkpoint appends the log's head (tenant, seq, hash, time, under a MAC\n"
	"from the tenant's key) as one JSON line to FILE (default\n"
	"DIR/" CLI_CHECKPOINT_FILE "; - prints it). `privreg serve` writes one on a\n"
	"schedule (--checkpoint-every). Copy the file off the machine: a copy that\n"
	"whoever holds the database cannot rewrite is what makes it an anchor.\n";

static void print_problem(void *arg, const char *msg)
{
	(void)arg;
	printf("%s\n", msg);
}

static int verify(struct cli_register *r, const struct tenant *t, const char *checkpoints)
{
	struct audit_verify_result v;
	enum rc rc = audit_verify(r->store, t, &v);
	if (rc)
		return cli_fail("audit", rc, NULL);
	int ret = CLI_OK;
	if (v.ok) {
		printf("audit log of tenant %s: intact, %lld entries\n", t->name, (long long)v.entries);
	} else {
		printf("audit log of tenant %s: BROKEN at entry %lld (%lld entries before it are intact)\n", t->name,
		       (long long)v.first_bad, (long long)v.entries);
		ret = CLI_REFUSED;
	}
	if (!checkpoints)
		return ret;
	/* `serve` makes the file when it starts and writes the first
	 * checkpoint after --checkpoint-every: an empty file is a register
	 * with no checkpoint yet, not a mismatch. */
	struct stat st;
	if (stat(checkpoints, &st) == 0 && S_ISREG(st.st_mode) && st.st_size == 0) {
		printf("audit log of tenant %s: %s holds no checkpoint yet (serve writes the first after "
		       "--checkpoint-every; 'privreg audit checkpoint' writes one now)\n", t->name, checkpoints);
		return ret;
	}
	struct audit_checkpoint_result c;
	struct errbuf eb = {""};
	rc = audit_verify_checkpoints(r->store, t, checkpoints, print_problem, NULL, &c, &eb);
	if (rc)
		return cli_fail("audit", rc, &eb);
	if (c.failed) {
		printf("audit log of tenant %s: does NOT match %s: %zu problem%s, %zu checkpoint%s held\n", t->name,
		       checkpoints, c.failed, c.failed == 1 ? "" : "s", c.held, c.held == 1 ? "" : "s");
		return CLI_REFUSED;
	}
	printf("audit log of tenant %s: holds all %zu checkpoint%s in %s\n", t->name, c.held, c.held == 1 ? "" : "s",
	       checkpoints);
	return ret;
}

static int list(struct cli_register *r, const struct tenant *t)
{
	struct core_ctx c = {.store = r->store, .tenant = t};
	struct store_audit_filter f = {.limit = AUDIT_PAGE_MAX};
	size_t n;
	enum rc rc;
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
	return rc ? cli_fail("audit", rc, NULL) : CLI_OK;
}

static int checkpoint(struct cli_register *r, const struct tenant *t, const char *out)
{
	struct audit_checkpoint cp;
	char line[AUDIT_CHECKPOINT_LINE_MAX], path[4300];
	struct errbuf eb = {""};
	enum rc rc = audit_checkpoint_make(r->store, t, &cp, line);
	if (rc)
		return cli_fail("audit checkpoint", rc, NULL);
	if (out && !strcmp(out, "-")) {
		fputs(line, stdout);
		return fflush(stdout) ? cli_fail("audit checkpoint", RC_IO, NULL) : CLI_OK;
	}
	if (!out) {
		if (snprintf(path, sizeof path, "%s/%s", r->dir, CLI_CHECKPOINT_FILE) >= (int)sizeof path)
			return cli_fail("audit checkpoint", RC_IO, NULL);
		out = path;
	}
	rc = audit_checkpoint_append(out, line, &eb);
	if (rc)
		return cli_fail("audit checkpoint", rc, &eb);
	char at[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(cp.at, at);
	printf("checkpoint of tenant %s: seq %lld at %s, appended to %s\n", t->name, (long long)cp.seq, at, out);
	return CLI_OK;
}

int cli_audit(int argc, char **argv)
{
	/* --checkpoint and --out are audit's own: taken out before the shared
	 * parser sees them. */
	const char *checkpoints = NULL, *out = NULL;
	char *rest[64];
	int nrest = 0;
	for (int i = 0; i < argc; i++) {
		bool has_value = i + 1 < argc;
		if (!strcmp(argv[i], "--checkpoint") && has_value)
			checkpoints = argv[++i];
		else if (!strcmp(argv[i], "--out") && has_value)
			out = argv[++i];
		else if (nrest < 63)
			rest[nrest++] = argv[i];
		else {
			cli_usage_error("audit", "too many arguments");
			return CLI_USAGE;
		}
	}
	rest[nrest] = NULL;
	struct cli_opts o;
	int ret = cli_parse(nrest, rest, "audit", audit_help, CLI_OPT_DIR | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	const char *sub = o.argc == 1 ? o.argv[0] : "";
	if (strcmp(sub, "verify") && strcmp(sub, "list") && strcmp(sub, "checkpoint")) {
		cli_usage_error("audit", "expected 'audit verify', 'audit list' or 'audit checkpoint'");
		return CLI_USAGE;
	}
	if (checkpoints && strcmp(sub, "verify")) {
		cli_usage_error("audit", "--checkpoint goes with 'audit verify'");
		return CLI_USAGE;
	}
	if (out && strcmp(sub, "checkpoint")) {
		cli_usage_error("audit", "--out goes with 'audit checkpoint'");
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (ret)
		return ret;
	ret = !strcmp(sub, "verify") ? verify(&r, t, checkpoints) : !strcmp(sub, "list") ? list(&r, t)
	    : checkpoint(&r, t, out);
	cli_close(&r, t);
	return ret;
}
