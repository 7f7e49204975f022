/* cli_sweep: `privreg sweep`: the retention sweep, offline, with a progress bar. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/retention.h"

static const char sweep_help[] =
	"usage: privreg sweep [--dry-run] [--now ISO] [--batch N] [--recompute] [--tenant T] [--dir D]\n\n"
	"Deletes or anonymises every record whose retention time has come (the\n"
	"policy's keep/then rules), cuts ip fields past truncate_after, deletes\n"
	"subjects left with no records and request records past requests.keep.\n"
	"Held records (legal holds) and the records of a restricted subject\n"
	"(Art. 18: only stored) are left and counted. Works in transactions of\n"
	"N records (default 500): stopped at any point, it can be run again.\n"
	"--dry-run counts what would be done and changes nothing; --now sweeps as of\n"
	"another time (a date or datetime): an earlier one, or a later one only\n"
	"with --dry-run. The audit log always records the real time. On a terminal\n"
	"a progress bar shows records done / total, rate and time left; a summary\n"
	"ends the run.\n"
	"--recompute first computes every record's due time again from the policy\n"
	"(done by itself when a new policy version is installed; needed once for\n"
	"records written before privreg kept due times).\n";

struct bar {
	bool tty;
	struct timespec start;
};

static double since(const struct timespec *t)
{
	struct timespec now;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t->tv_sec) + (double)(now.tv_nsec - t->tv_nsec) / 1e9;
}

static void progress(void *arg, size_t done, size_t total)
{
	struct bar *b = arg;
	if (!b->tty)
		return;
	double secs = since(&b->start), rate = secs > 0 ? (double)done / secs : 0;
	double frac = total ? (double)done / (double)total : 1;
	if (frac > 1)
		frac = 1;
	char bar[31];
	int fill = (int)(frac * 30);
	for (int i = 0; i < 30; i++)
		bar[i] = i < fill ? '#' : '.';
	bar[30] = '\0';
	double eta = rate > 0 && total > done ? (double)(total - done) / rate : 0;
	fprintf(stderr, "\r[%s] %zu/%zu records  %.0f/s  ETA %02d:%02d ", bar, done, total, rate, (int)eta / 60,
	        (int)eta % 60);
	fflush(stderr);
}

int cli_sweep(int argc, char **argv)
{
	struct retention_opts ro = {0};
	bool recompute = false;
	const char *now_s = NULL;
	char *rest[64];
	int nrest = 0;
	for (int i = 0; i < argc && nrest < 63; i++) {
		if (!strcmp(argv[i], "--dry-run")) {
			ro.dry_run = true;
		} else if (!strcmp(argv[i], "--recompute")) {
			recompute = true;
		} else if (!strcmp(argv[i], "--now") && i + 1 < argc) {
			now_s = argv[++i];
		} else if (!strcmp(argv[i], "--batch") && i + 1 < argc) {
			char *end;
			long b = strtol(argv[++i], &end, 10);
			if (*end || b < 1 || b > 100000) {
				cli_usage_error("sweep", "--batch takes 1..100000");
				return CLI_USAGE;
			}
			ro.batch = (size_t)b;
		} else {
			rest[nrest++] = argv[i];
		}
	}
	rest[nrest] = NULL;
	struct cli_opts o;
	int ret = cli_parse(nrest, rest, "sweep", sweep_help, CLI_OPT_DIR | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	if (o.argc) {
		cli_usage_error("sweep", "unexpected '%s'", o.argv[0]);
		return CLI_USAGE;
	}
	if (recompute && ro.dry_run) {
		cli_usage_error("sweep", "--recompute writes: run it without --dry-run");
		return CLI_USAGE;
	}
	int64_t now = 0;
	if (now_s && timeutil_parse_instant(now_s, &now)) {
		cli_usage_error("sweep", "--now takes a date or datetime (ISO 8601)");
		return CLI_USAGE;
	}
	/* A later time would delete for real what is not yet due (a typo such
	 * as 2040 would destroy records kept by law years early): only a dry
	 * run may look ahead. An earlier time does less than a sweep now. */
	if (now > timeutil_now() && !ro.dry_run) {
		cli_usage_error("sweep", "--now %s is later than the clock: a sweep may not run ahead of time; "
		                "add --dry-run to see what that time would bring", now_s);
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (ret)
		return ret;
	struct core_ctx c = {.store = r.store, .tenant = t, .now = now};
	struct bar b = {.tty = isatty(STDERR_FILENO) == 1};
	clock_gettime(CLOCK_MONOTONIC, &b.start);
	ro.progress = progress;
	ro.arg = &b;
	struct retention_report rep;
	struct errbuf eb = {""};
	size_t moved = 0;
	enum rc rc = recompute ? retention_recompute(&c, &moved) : RC_OK;
	if (recompute && !rc)
		printf("%zu due times recomputed\n", moved);
	if (!rc)
		rc = retention_sweep(&c, &ro, &rep, &eb);
	if (b.tty)
		fputc('\n', stderr);
	if (!rc) {
		size_t del = 0, anon = 0, trim = 0, held = 0, restricted = 0;
		for (size_t i = 0; i < rep.nkinds; i++) {
			const struct retention_kind_count *k = &rep.kinds[i];
			printf("%-20s deleted %zu anonymized %zu trimmed %zu held %zu restricted %zu\n", k->kind, k->deleted,
			       k->anonymized, k->trimmed, k->held, k->restricted);
			del += k->deleted;
			anon += k->anonymized;
			trim += k->trimmed;
			held += k->held;
			restricted += k->restricted;
		}
		double secs = since(&b.start);
		printf("%s%zu records deleted, %zu anonymized, %zu trimmed, %zu held, %zu restricted; %zu subjects and "
		       "%zu requests deleted; %.1f s\n",
		       ro.dry_run ? "dry run (nothing changed): " : "", del, anon, trim, held, restricted,
		       rep.subjects_deleted, rep.requests_expired, secs);
		retention_report_fini(&rep);
	}
	cli_close(&r, t);
	return rc ? cli_fail("sweep", rc, &eb) : CLI_OK;
}
