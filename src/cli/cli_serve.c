/*
 * cli_serve: `privreg serve`: runs the HTTP API until SIGTERM or SIGINT;
 * SIGHUP takes up new policy versions at once. One server per register: it
 * holds an exclusive lock on DIR/privreg.lock (with its pid inside) for its
 * life, taken before anything is opened, so that a second one changes
 * nothing and names the first. Other commands do not take the lock.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "api/server.h"
#include "cli/cli.h"
#include "crypto/vault.h"

static const char serve_help[] =
	"usage: privreg serve [--dir D] [--listen 127.0.0.1:8080] [--threads N] [--auth-limit N]\n"
	"                     [--smtp smtp://HOST:PORT [--smtp-from ADDR]] [--public-url URL]\n"
	"                     [--sweep-every 1h] [--checkpoint-every 1h] [--checkpoint-file FILE]\n"
	"                     [--metrics-listen 127.0.0.1:9100] [--per-ip-limit 64]\n"
	"                     [--max-connections 1000] [--receive-timeout 30s]\n"
	"                     [--trusted-proxies CIDR[,CIDR...]]\n\n"
	"Serves the register's HTTP API (see /openapi.json) on --listen (port 0\n"
	"picks a free port; the address is printed). --threads: server threads,\n"
	"default one per core. --auth-limit: failed authentications allowed per\n"
	"minute per client address before its invalid keys get 429 (default 10).\n"
	"SIGTERM or SIGINT stop it gracefully: requests in flight finish, the\n"
	"database is closed.\n"
	"SIGHUP takes up new policy versions at once (the server also looks for\n"
	"them every second); requests in flight are not disturbed. One server per\n"
	"register: a second 'privreg serve' on the same directory exits with an\n"
	"error naming the first one's pid (DIR/privreg.lock); other commands keep\n"
	"working beside a running server.\n"
	"--per-ip-limit: open connections allowed per client address (default 64);\n"
	"--max-connections: in all (default 1000; lowered to fit ulimit -n);\n"
	"--receive-timeout: time a client has to send a whole request, headers\n"
	"and body, counted from its start (default 30s; a connection idle for\n"
	"30s is closed too).\n"
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
	"--listen needs an admin or auditor key and shows the key's tenant only.\n"
	"--trusted-proxies: the reverse proxies (e.g. 127.0.0.1/32,10.0.0.0/8)\n"
	"whose X-Forwarded-For and Forwarded headers name the client, for consent\n"
	"evidence and --auth-limit (default none: the socket's peer is the client;\n"
	"see docs/deploy.md). --auth-limit never refuses a valid key.\n";

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

/* Takes DIR/privreg.lock (flock, exclusive, held until the process ends) and
 * writes our pid in it; if another process holds it, says which and where. */
static int lock_register(const char *dir, int *out)
{
	char path[4200], pid[32] = "";
	if (snprintf(path, sizeof path, "%s/privreg.lock", dir) >= (int)sizeof path) {
		fprintf(stderr, "privreg: serve: the directory path is too long\n");
		return CLI_FAILED;
	}
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0 && errno == ENOENT) { /* no such directory: let the usual message say so */
		struct cli_register r;
		int ret = cli_register_open(&r, dir);
		cli_register_close(&r);
		if (ret)
			return ret;
	}
	if (fd < 0) {
		fprintf(stderr, "privreg: serve: cannot open the lock file %s: %s\n", path, strerror(errno));
		return CLI_FAILED;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		ssize_t n = e == EWOULDBLOCK ? read(fd, pid, sizeof pid - 1) : -1;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK)
			fprintf(stderr, "privreg: serve: the register %s is already served by pid %s (it holds %s); "
			        "stop that server first, or serve another register\n", dir, pid[0] ? pid : "?", path);
		else
			fprintf(stderr, "privreg: serve: cannot lock %s: %s\n", path, strerror(e));
		return CLI_FAILED;
	}
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		fprintf(stderr, "privreg: serve: warning: cannot write the pid into %s: %s\n", path, strerror(errno));
	*out = fd;
	return CLI_OK;
}

int cli_serve(int argc, char **argv)
{
	struct cli_opts o;
	/* serve-only options are taken out before the shared parser sees them */
	const char *listen = "127.0.0.1:8080", *smtp = NULL, *smtp_from = NULL, *public_url = NULL;
	const char *checkpoint_file = NULL, *metrics_listen = NULL, *trusted_proxies = NULL;
	unsigned threads = 0, auth_limit = 0, sweep_every = 3600, checkpoint_every = 3600;
	unsigned per_ip = 0, max_conns = 0, receive_timeout = 0;
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
		} else if (!strcmp(argv[i], "--trusted-proxies") && has_value) {
			trusted_proxies = argv[++i];
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
		} else if (!strcmp(argv[i], "--per-ip-limit") && has_value) {
			if (!parse_uint(argv[++i], 100000, &per_ip) || !per_ip) {
				cli_usage_error("serve", "--per-ip-limit takes a number from 1 to 100000");
				return CLI_USAGE;
			}
		} else if (!strcmp(argv[i], "--max-connections") && has_value) {
			if (!parse_uint(argv[++i], 1000000, &max_conns) || !max_conns) {
				cli_usage_error("serve", "--max-connections takes a number from 1 to 1000000");
				return CLI_USAGE;
			}
		} else if (!strcmp(argv[i], "--receive-timeout") && has_value) {
			if (!parse_period(argv[++i], &receive_timeout) || !receive_timeout || receive_timeout > 3600) {
				cli_usage_error("serve", "--receive-timeout takes a period from 1s to 1h: 10s, 30s, 2m");
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
	int lock_fd = -1;
	ret = lock_register(o.dir, &lock_fd);
	if (ret)
		return ret;
	struct cli_register r;
	ret = cli_register_open(&r, o.dir);
	if (ret) {
		close(lock_fd);
		return ret;
	}
	cli_register_close(&r); /* each server thread opens its own connection */
	char default_checkpoints[4300];
	if (!checkpoint_file) {
		if (snprintf(default_checkpoints, sizeof default_checkpoints, "%s/%s", o.dir, CLI_CHECKPOINT_FILE) >=
		    (int)sizeof default_checkpoints) {
			close(lock_fd);
			cli_usage_error("serve", "the directory path is too long");
			return CLI_USAGE;
		}
		checkpoint_file = default_checkpoints;
	}
	/* Tenants are loaded on first use: a key directory open to others is
	 * refused now, not on the first request. */
	struct errbuf eb = {""};
	enum rc rc = vault_check_dir(r.keydir, &eb);
	if (rc) {
		close(lock_fd);
		return cli_fail("serve", rc, &eb);
	}

	/* Block the signals before any thread starts, so that they all inherit
	 * the mask and only sigwait below receives them. */
	sigset_t sigs;
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	struct server_config cfg = {
		.keydir = r.keydir, .store_url = r.store_url, .listen = listen, .threads = threads,
		.auth_fail_limit = auth_limit, .smtp_url = smtp, .smtp_from = smtp_from, .public_url = public_url,
		.sweep_every_s = sweep_every, .checkpoint_every_s = checkpoint_every, .checkpoint_file = checkpoint_file,
		.metrics_listen = metrics_listen, .per_ip_limit = per_ip, .max_connections = max_conns,
		.receive_timeout_s = receive_timeout, .trusted_proxies = trusted_proxies,
	};
	struct server *srv = NULL;
	rc = server_start(&cfg, &srv, &eb);
	if (rc) {
		close(lock_fd);
		return cli_fail("serve", rc, &eb);
	}
	char host[64];
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(listen, ':') - listen), listen);
	printf("privreg serving http://%s:%u (register %s; stop with Ctrl-C)\n", host, (unsigned)server_port(srv), o.dir);
	fflush(stdout);
	int sig = 0;
	while (!sigwait(&sigs, &sig) && sig == SIGHUP)
		server_reload(srv);
	fprintf(stderr, "privreg: signal %d: stopping\n", sig);
	server_stop(srv);
	close(lock_fd); /* the lock goes with it; the file stays, for the next server */
	return CLI_OK;
}
