/*
 * cli_serve: `privreg serve`: runs the HTTP API until SIGTERM or SIGINT;
 * SIGHUP takes up new policy versions at once. A server holds a lock on
 * DIR/privreg.lock for its life, taken before anything is opened. On SQLite
 * it is exclusive (with the pid inside): one server per register, and a
 * second one changes nothing and names the first. On PostgreSQL, where
 * several servers share a register, it is shared: servers start beside each
 * other, but not while a restore, a key rotation or a migration holds the
 * lock exclusively (cli_register_lock), and those are refused while any
 * server runs, on either store. Other commands do not take the lock.
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
#include "cli/cli_config.h"
#include "core/backup.h"
#include "crypto/vault.h"
#include "store/store.h"

static const char serve_help[] =
	"usage: privreg serve [--dir D] [--listen 127.0.0.1:8080] [--threads N] [--auth-limit N]\n"
	"                     [--smtp smtp://HOST:PORT [--smtp-from ADDR] [--smtp-user USER]\n"
	"                      [--smtp-password-file FILE]] [--public-url URL]\n"
	"                     [--sweep-every 1h] [--checkpoint-every 1h] [--checkpoint-file FILE]\n"
	"                     [--attest-every month|never] [--attest-dir DIR]\n"
	"                     [--metrics-listen 127.0.0.1:9100] [--per-ip-limit 64]\n"
	"                     [--max-connections 1000] [--receive-timeout 30s]\n"
	"                     [--trusted-proxies CIDR[,CIDR...]]\n"
	"                     [--tls-cert FILE --tls-key FILE] [--sqlite-cache-mb 8]\n\n"
	"Serves the register's HTTP API (see /openapi.json) on --listen (port 0\n"
	"picks a free port; the address is printed). --threads: server threads,\n"
	"default one per core (two on PostgreSQL). --auth-limit: failed\n"
	"authentications allowed per minute per client address before 429\n"
	"(default 10). SIGTERM or SIGINT stop it gracefully: requests in flight\n"
	"finish, the database is closed.\n"
	"SIGHUP takes up new policy versions at once (the server also looks for\n"
	"them every second); requests in flight are not disturbed. One server per\n"
	"SQLite register: a second 'privreg serve' on the same directory exits\n"
	"with an error naming the first one's pid (DIR/privreg.lock); several\n"
	"servers share a PostgreSQL register (docs/scaling.md). Other commands\n"
	"keep working beside running servers, except 'restore', 'key rotate' and\n"
	"'migrate'.\n"
	"--per-ip-limit: open connections allowed per client address (default 64);\n"
	"--max-connections: in all (default 1000; lowered to fit ulimit -n);\n"
	"--receive-timeout: time a client has to send a whole request, headers\n"
	"and body, counted from its start (default 30s; a connection idle for\n"
	"30s is closed too).\n"
	"--smtp: where e-mail (double opt-in confirmations, notices) is delivered;\n"
	"without it, messages wait in the outbox. --smtp-user: the SMTP AUTH user;\n"
	"its password comes from --smtp-password-file (a file readable by its owner\n"
	"only, holding the password) or PRIVREG_SMTP_PASSWORD, never from a flag:\n"
	"the command line is visible to every user in ps. --public-url: the base of the\n"
	"links in e-mails (default: the listen address). --sweep-every: how often\n"
	"the retention sweep runs (e.g. 30m, 1h, 1d; default 1h, first one period\n"
	"after start; 0 turns it off: POST /v1/retention/sweep runs one at will).\n"
	"--checkpoint-every: how often each tenant's audit log head is appended,\n"
	"signed, to --checkpoint-file (default 1h and DIR/" CLI_CHECKPOINT_FILE ";\n"
	"0 turns it off); copy that file off the machine, and check the log\n"
	"against it with 'privreg audit verify --checkpoint FILE'.\n"
	"--attest-every month: each tenant's signed attestation (privreg attest,\n"
	"docs/attestation.md) is written once a calendar month into --attest-dir\n"
	"(default DIR/attestations) and kept; default never.\n"
	"--metrics-listen: a second address serving GET /metrics of every tenant\n"
	"without a key (keep it on loopback or an operator network); /metrics on\n"
	"--listen needs an admin or auditor key and shows the key's tenant only.\n"
	"--trusted-proxies: the reverse proxies (IPv4/IPv6 CIDRs or addresses)\n"
	"whose X-Forwarded-For / Forwarded headers are believed for consent\n"
	"evidence and rate limiting (default none: the socket peer is the client;\n"
	"see docs/deploy.md).\n"
	"--tls-cert, --tls-key: serve HTTPS on --listen: the certificate chain and\n"
	"its private key, PEM files (the key file must not be readable by every\n"
	"user; its text never goes on the command line). Answers then carry\n"
	"Strict-Transport-Security. Without them privreg speaks plain HTTP, for a\n"
	"reverse proxy in front of it to terminate TLS.\n"
	"--sqlite-cache-mb: each SQLite connection's page cache in MiB (1 to 1024,\n"
	"default 8); a server holds one connection per thread and up to seven\n"
	"more (docs/deploy.md).\n\n"
	"Every setting can also be given in DIR/" CLI_CONF " (the flag's name with '_'\n"
	"for '-': smtp_from = shop@example.ee) or in the environment (PRIVREG_ and\n"
	"the name in capitals: PRIVREG_SMTP_FROM); the environment overrides the\n"
	"file and a flag overrides both. 'privreg config show' prints the result.\n";

/* Takes DIR/privreg.lock (flock, held until the process ends): exclusive,
 * with our pid written in it, for a register of one server; shared, and left
 * as it is, for one that several servers share. If another process holds it
 * against us, says which (when it wrote its pid) and where. */
static int lock_register(const char *dir, bool shared, int *out)
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
	if (flock(fd, (shared ? LOCK_SH : LOCK_EX) | LOCK_NB) != 0) {
		int e = errno;
		ssize_t n = e == EWOULDBLOCK ? read(fd, pid, sizeof pid - 1) : -1;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(fd);
		if (e == EWOULDBLOCK && shared)
			fprintf(stderr, "privreg: serve: a restore, key rotation or migration of the register %s is running (it holds "
			        "%s); start the server when it has finished\n", dir, path);
		else if (e == EWOULDBLOCK)
			fprintf(stderr, "privreg: serve: the register %s is already served by pid %s (it holds %s); "
			        "stop that server first, or serve another register\n", dir, pid[0] ? pid : "?", path);
		else
			fprintf(stderr, "privreg: serve: cannot lock %s: %s\n", path, strerror(e));
		return CLI_FAILED;
	}
	if (shared) {
		/* No pid: several servers hold it. One a SQLite server left before
		 * the register moved here would name a process long gone. */
		if (ftruncate(fd, 0) != 0)
			fprintf(stderr, "privreg: serve: warning: cannot empty %s: %s\n", path, strerror(errno));
		*out = fd;
		return CLI_OK;
	}
	int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
		fprintf(stderr, "privreg: serve: warning: cannot write the pid into %s: %s\n", path, strerror(errno));
	*out = fd;
	return CLI_OK;
}

/* Serves the register at dir with configuration c until a signal stops it. */
static int serve(const struct cli_config *c, const char *dir)
{
	int lock_fd = -1;
	/* Servers on one PostgreSQL register coordinate in the database
	 * (docs/scaling.md) and share the lock; a SQLite register has one
	 * server at a time. */
	char url[sizeof ((struct cli_register *)0)->store_url] = "";
	struct cli_config cc;
	cli_config_init(&cc, dir);
	int ret = cli_conf_read(dir, &cc, url, sizeof url);
	cli_config_fini(&cc);
	if (!ret)
		ret = lock_register(dir, core_store_shared(url), &lock_fd);
	if (ret)
		return ret;
	struct cli_register r;
	ret = cli_register_open(&r, dir);
	if (ret) {
		close(lock_fd);
		return ret;
	}
	/* A database older than its erasure ledger (a restored copy) is not
	 * served: it would hand out data of people erased since. */
	struct errbuf eb = {""};
	enum rc rc = backup_check(r.store, r.keydir, &eb);
	cli_register_close(&r); /* each server thread opens its own connection */
	if (rc) {
		close(lock_fd);
		return cli_fail("serve", rc, &eb);
	}
	/* Tenants are loaded on first use: a key directory open to others is
	 * refused now, not on the first request. */
	rc = vault_check_dir(r.keydir, &eb);
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

	struct server_config cfg = {.keydir = r.keydir, .store_url = r.store_url};
	cli_config_server(c, &cfg);
	struct server *srv = NULL;
	rc = server_start(&cfg, &srv, &eb);
	if (rc) {
		close(lock_fd);
		return cli_fail("serve", rc, &eb);
	}
	char host[64];
	snprintf(host, sizeof host, "%.*s", (int)(strrchr(cfg.listen, ':') - cfg.listen), cfg.listen);
	printf("privreg serving %s://%s:%u (register %s; stop with Ctrl-C)\n", server_scheme(srv), host,
	       (unsigned)server_port(srv), dir);
	fflush(stdout);
	int sig = 0;
	while (!sigwait(&sigs, &sig) && sig == SIGHUP)
		server_reload(srv);
	fprintf(stderr, "privreg: signal %d: stopping\n", sig);
	server_stop(srv);
	close(lock_fd); /* the lock goes with it; the file stays, for the next server */
	return CLI_OK;
}

int cli_serve(int argc, char **argv)
{
	struct cli_opts o;
	struct cli_config c;
	int ret = cli_config_load(&c, "serve", serve_help, argc, argv, &o);
	if (ret < 0)
		ret = serve(&c, o.dir);
	cli_config_fini(&c); /* wipes the SMTP password */
	return ret;
}
