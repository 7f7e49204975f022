/* cli_serve: `privreg serve`: runs the HTTP API until SIGTERM or SIGINT. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/server.h"
#include "cli/cli.h"

static const char serve_help[] =
	"usage: privreg serve [--dir D] [--listen 127.0.0.1:8080] [--threads N] [--auth-limit N]\n"
	"                     [--smtp smtp://HOST:PORT [--smtp-from ADDR]] [--public-url URL]\n"
	"                     [--sweep-every 1h] [--checkpoint-every 1h] [--checkpoint-file FILE]\n"
	"                     [--metrics-listen 127.0.0.1:9100]\n\n"
	"Serves the register's HTTP API (see /openapi.json) on --listen (port 0\n"
	"picks a free port; the address is printed). --threads: server threads,\n"
	"default one per core. --auth-limit: failed authentications allowed per\n"
	"minute per client address before 429 (default 10). SIGTERM or SIGINT\n"
	"stop it gracefully: requests in flight finish, the database is closed.\n"
	"--smtp: where e-mail (double opt-in confirmations, notices) is delivered;\n"
	"without it, messages wait in the outbox. --public-url: the base of the\n"
	"links in e-mails (default: the listen address). --sweep-every: how often\n"
	"the retention sweep runs (e.g. 30m, 1h, 1d; default 1h, first one period\n"
	"after start; 0 turns it off: POST /v1/retention/sweep runs one at will).\n"
	"--checkpoint-every: how often each tenant's audit log head is appended,\n"
	"signed, to --checkpoint-file (default 1h and DIR/" CLI_CHECKPOINT_FILE ";\n"
	"0 turns it off); copy that file off the machine, and check the log\n"
	"against it with 'privreg audit verify --checkpoint FILE'.\n"
	"--metrics-listen: a second address serving GET /metrics of every tenant\n"
	"without a key (keep it on loopback or an operator network); /metrics on\n"
	"--listen needs an admin or auditor key and shows the key's tenant only.\n";

/* "90", "90s", "30m", "1h", "1d" into seconds (at most 30 days). */
static bool parse_period(const char *s, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	unsigned long mul = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
	                  : !strcmp(end, "d") ? 86400 : 0;
	if (!*s || end == s || !mul || v > 30UL * 86400 / mul)
		return false;
	*out = (unsigned)(v * mul);
	return true;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!*s || *end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

int cli_serve(int argc, char **argv)
{
	struct cli_opts o;
	/* serve-only options are taken out before the shared parser sees them */
	const char *listen = "127.0.0.1:8080", *smtp = NULL, *smtp_from = NULL, *public_url = NULL;
	const char *checkpoint_file = NULL, *metrics_listen = NULL;
	unsigned threads = 0, auth_limit = 0, sweep_every = 3600, checkpoint_every = 3600;
	char *rest[64];
	int nrest = 0;
	for (int i = 0; i < argc; i++) {
		bool has_value = i + 1 < argc;
		if (!strcmp(argv[i], "--listen") && has_value) {
			listen = argv[++i];
		} else if (!strcmp(argv[i], "--threads") && has_value) {
			if (!parse_uint(argv[++i], 256, &threads) || !threads) {
				cli_usage_error("serve", "--threads takes a number from 1 to 256");
				return CLI_USAGE;
			}
		} else if (!strcmp(argv[i], "--sweep-every") && has_value) {
			if (!parse_period(argv[++i], &sweep_every)) {
				cli_usage_error("serve", "--sweep-every takes a period: 90s, 30m, 1h, 1d (at most 30d), or 0");
				return CLI_USAGE;
			}
		} else if (!strcmp(argv[i], "--checkpoint-every") && has_value) {
			if (!parse_period(argv[++i], &checkpoint_every)) {
				cli_usage_error("serve", "--checkpoint-every takes a period: 90s, 30m, 1h, 1d (at most 30d), or 0");
				return CLI_USAGE;
			}
		} else if (!strcmp(argv[i], "--checkpoint-file") && has_value) {
			checkpoint_file = argv[++i];
		} else if (!strcmp(argv[i], "--metrics-listen") && has_value) {
			metrics_listen = argv[++i];
		} else if (!strcmp(argv[i], "--smtp") && has_value) {
			smtp = argv[++i];
		} else if (!strcmp(argv[i], "--smtp-from") && has_value) {
			smtp_from = argv[++i];
		} else if (!strcmp(argv[i], "--public-url") && has_value) {
			public_url = argv[++i];
		} else if (!strcmp(argv[i], "--auth-limit") && has_value) {
			if (!parse_uint(argv[++i], 1000000, &auth_limit) || !auth_limit) {
				cli_usage_error("serve", "--auth-limit takes a positive number");
				return CLI_USAGE;
			}
		} else if (nrest < 63) {
			rest[nrest++] = argv[i];
		}
	}
	rest[nrest] = NULL;
	int ret = cli_parse(nrest, rest, "serve", serve_help, CLI_OPT_DIR, &o);
	if (ret >= 0)
		return ret;
	if (o.argc) {
		cli_usage_error("serve", "takes no arguments");
		return CLI_USAGE;
	}
	struct cli_register r;
	ret = cli_register_open(&r, o.dir);
	if (ret)
		return ret;
	cli_register_close(&r); /* each server thread opens its own connection */
	char default_checkpoints[4300];
	if (!checkpoint_file) {
		if (snprintf(default_checkpoints, sizeof default_checkpoints, "%s/%s", o.dir, CLI_CHECKPOINT_FILE) >=
		    (int)sizeof default_checkpoints) {
			cli_usage_error("serve", "the directory path is too long");
			return CLI_USAGE;
		}
		checkpoint_file = default_checkpoints;
	}

	/* Block the stop signals before any thread starts, so that they all
	 * inherit the mask and only sigwait below receives them. */
	sigset_t stop;
	sigemptyset(&stop);
	sigaddset(&stop, SIGINT);
	sigaddset(&stop, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &stop, NULL);

	struct server_config cfg = {
		.keydir = r.keydir, .store_url = r.store_url, .listen = listen, .threads = threads,
		.auth_fail_limit = auth_limit, .smtp_url = smtp, .smtp_from = smtp_from, .public_url = public_url,
		.sweep_every_s = sweep_every, .checkpoint_every_s = checkpoint_every, .checkpoint_file = checkpoint_file,
		.metrics_listen = metrics_listen,
	};
	struct server *srv = NULL;
	struct errbuf eb = {""};
	enum rc rc = server_start(&cfg, &srv, &eb);
	if (rc)
		return cli_fail("serve", rc, &eb);
	char host[64];
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen, ':') - listen), listen);
	printf("privreg serving http://%s:%u (register %s; stop with Ctrl-C)\n", host, (unsigned)server_port(srv), o.dir);
	fflush(stdout);
	int sig = 0;
	sigwait(&stop, &sig);
	fprintf(stderr, "privreg: signal %d: stopping\n", sig);
	server_stop(srv);
	return CLI_OK;
}
