/*
 * cli_migrate: `privreg migrate --to URL`: the register moved to another
 * store (SQLite to PostgreSQL, or back), and privreg.conf pointed at it.
 *
 * The copy is core/migrate's (verified before it commits); this file adds
 * what only a command can: the server's lock on DIR/privreg.lock (taken
 * before anything is read and held until privreg.conf names the target,
 * so no server writes to the source meanwhile), the refusal of a target
 * file that exists, and the rewrite of privreg.conf's `store` line. It
 * writes privreg.conf only after the copy committed and verified, and
 * leaves the source as it was.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/migrate.h"
#include "store/store.h"

static const char migrate_help[] =
	"usage: privreg migrate --to URL [--dir D]\n\n"
	"Moves the register to another store: every table of every tenant is\n"
	"copied as stored (ciphertext stays ciphertext: nothing is decrypted),\n"
	"from one consistent snapshot, into URL in one transaction, which\n"
	"commits only once every table has the same rows (count and checksum)\n"
	"and every tenant's audit chain verifies there. Then privreg.conf names\n"
	"URL. The old store is left as it was, for going back.\n\n"
	"URL is postgresql://USER@HOST:PORT/DB (an empty database; the password\n"
	"comes from PGPASSWORD, PGPASSFILE or ~/.pgpass, never the URL) or\n"
	"sqlite:PATH (a new file; a relative PATH is inside D, not the working\n"
	"directory). Every server of the register must be stopped: migrate\n"
	"takes DIR/privreg.lock, and on PostgreSQL refuses while another client\n"
	"is connected to either database, and refuses the database it lives in\n"
	"under any spelling of its URL. The key directory and the erasure\n"
	"ledger stay where they are. Interrupted (Ctrl-C, SIGTERM) during a copy\n"
	"into a new SQLite file, it removes the file and says so.\n";

/* Takes --to URL (or --to=URL) out of argv. */
static const char *take_to(int *argc, char **argv, bool *twice)
{
	const char *to = NULL;
	int out = 0;
	*twice = false;
	for (int i = 0; i < *argc; i++) {
		const char *v = NULL;
		if (i > 0 && !strcmp(argv[i], "--to") && i + 1 < *argc)
			v = argv[++i];
		else if (i > 0 && !strncmp(argv[i], "--to=", 5))
			v = argv[i] + 5;
		else
			argv[out++] = argv[i];
		if (v) {
			*twice = *twice || to;
			to = v;
		}
	}
	*argc = out;
	return to;
}

/* privreg.conf with its store line set to url, written aside, synced, then
 * renamed over the old one: a crash leaves the old file or the new one. */
static int conf_set_store(const char *dir, const char *url)
{
	char path[4200], tmp[4300], line[4400];
	snprintf(path, sizeof path, "%s/%s", dir, CLI_CONF);
	snprintf(tmp, sizeof tmp, "%s.migrate", path);
	FILE *in = fopen(path, "r");
	if (!in)
		return -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	FILE *out = fd >= 0 && fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
	if (!out) {
		if (fd >= 0)
			close(fd);
		fclose(in);
		return -1;
	}
	bool set = false;
	while (fgets(line, sizeof line, in)) {
		const char *k = line + strspn(line, " \t");
		size_t n = strcspn(k, " \t=");
		if (n == 5 && !strncmp(k, "store", 5) && k[n + strspn(k + n, " \t")] == '=') {
			fprintf(out, "store = %s\n", url);
			set = true;
		} else {
			fputs(line, out);
		}
	}
	if (!set)
		fprintf(out, "store = %s\n", url);
	bool ok = !ferror(in) && fflush(out) == 0 && fsync(fileno(out)) == 0;
	fclose(in);
	ok = fclose(out) == 0 && ok;
	if (!ok || rename(tmp, path) != 0) {
		unlink(tmp);
		return -1;
	}
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		(void)fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* url in one spelling, to tell whether two URLs name one database: libpq
 * reads postgres:// as postgresql://, and a host without a port (or with an
 * empty one) as one with the default port, PGPORT's or 5432. Anything else
 * (a SQLite URL, a list of hosts) is copied as it is. */
static void canonical_url(const char *url, char *out, size_t n)
{
	const char *rest = !strncmp(url, "postgresql://", 13) ? url + 13 : !strncmp(url, "postgres://", 11) ? url + 11
	                 : NULL;
	if (!rest) {
		snprintf(out, n, "%s", url);
		return;
	}
	size_t auth = strcspn(rest, "/?#");
	const char *at = memrchr(rest, '@', auth);
	const char *host = at ? at + 1 : rest, *end = rest + auth;
	const char *bracket = *host == '[' ? memchr(host, ']', (size_t)(end - host)) : NULL;
	const char *from = bracket ? bracket : host;
	const char *colon = memchr(from, ':', (size_t)(end - from));
	size_t keep = auth; /* the user and host, as written */
	const char *port = "";
	if (!memchr(host, ',', (size_t)(end - host)) && !(colon && colon + 1 < end)) {
		keep = (size_t)((colon ? colon : end) - rest);
		port = getenv("PGPORT");
		if (!port || !*port)
			port = "5432";
	}
	snprintf(out, n, "postgresql://%.*s%s%s%s", (int)keep, rest, *port ? ":" : "", port, end);
}

/* One line per stage on a terminal, rewritten as the rows go. */
struct progress {
	bool tty;
	const char *stage;         /* the stage the line shows, NULL before any */
};

static void on_progress(void *arg, const char *stage, const char *table, int64_t done, int64_t total)
{
	struct progress *p = arg;
	if (!p->tty)
		return;
	if (p->stage && strcmp(p->stage, stage))
		fputc('\n', stderr);
	p->stage = stage;
	fprintf(stderr, "\r%-6s %-20s %12" PRId64 " of %" PRId64 " rows\033[K", stage, table, done, total);
	fflush(stderr);
}

/* A SQLite target's files: made by this attempt, they go again if it
 * fails or is interrupted. Filled in before the copy, from this process's
 * memory only, so that the signal handler below calls nothing but unlink,
 * write and raise. */
static char partial[4][4400];
static char interrupted[9100];
static size_t interrupted_len;

static void partial_set(const char *path)
{
	static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
	for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++)
		if (snprintf(partial[i], sizeof partial[i], "%s%s", path, suffixes[i]) >= (int)sizeof partial[i])
			partial[i][0] = '\0';
}

static void partial_remove(void)
{
	for (size_t i = 0; i < sizeof partial / sizeof partial[0]; i++)
		if (partial[i][0])
			unlink(partial[i]);
}

/* A signal during a copy into a new SQLite file: the file goes, a line says
 * so, and the process ends by the signal. */
static void on_interrupt(int sig)
{
	partial_remove();
	ssize_t w = write(STDERR_FILENO, interrupted, interrupted_len);
	(void)w;
	signal(sig, SIG_DFL);
	raise(sig);
}

/* sigs: SIGINT, SIGTERM and SIGHUP; handler NULL puts back the default. */
static void catch_interrupts(void (*handler)(int))
{
	static const int sigs[] = {SIGINT, SIGTERM, SIGHUP};
	struct sigaction sa = {.sa_handler = handler ? handler : SIG_DFL};
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaddset(&sa.sa_mask, sigs[i]);
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		sigaction(sigs[i], &sa, NULL);
}

static void block_interrupts(int how)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigprocmask(how, &set, NULL);
}

/* A SQLite target that exists: what it holds, for the refusal. An empty
 * register (the schema, no tenant) is what a migration killed where no
 * handler runs (SIGKILL, a power cut) leaves behind. */
static void explain_existing(const char *path, const char *target)
{
	struct store *s = NULL;
	struct errbuf eb = {""};
	enum rc rc = core_register_open(target, &s, &eb);
	store_close(s);
	if (rc == RC_GONE)
		fprintf(stderr, "privreg: migrate: %s exists and holds an empty register (a privreg schema, no tenant): the "
		        "leftover of an interrupted migration. Remove it (rm -f '%s' '%s-wal' '%s-shm') and migrate again\n",
		        path, path, path, path);
	else
		fprintf(stderr, "privreg: migrate: %s exists: a migration to SQLite writes a new file\n", path);
}

int cli_migrate(int argc, char **argv)
{
	bool twice = false;
	const char *to = take_to(&argc, argv, &twice);
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "migrate", migrate_help, CLI_OPT_DIR, &o);
	if (ret >= 0)
		return ret;
	if (!to || twice || o.argc) {
		cli_usage_error("migrate", !to ? "expected --to URL" : twice ? "--to is given twice"
		                : "takes no arguments but --to URL and --dir D");
		return CLI_USAGE;
	}
	bool pg = core_store_shared(to);
	if (strncmp(to, "sqlite:", 7) && !pg) {
		cli_usage_error("migrate", "--to must be sqlite:PATH or postgresql://USER@HOST:PORT/DB");
		return CLI_USAGE;
	}
	/* The URL's own check (a password in it, say) before anything else. */
	struct errbuf eb = {""};
	struct store_pool *check = NULL;
	enum rc rc = store_pool_new(to, &check, &eb);
	store_pool_free(check);
	if (rc)
		return cli_fail("migrate", rc, &eb);
	char target[4400], sqlite_path[4400] = "";
	if (!pg && to[7] != '/')
		snprintf(target, sizeof target, "sqlite:%s/%s", o.dir, to + 7);
	else
		snprintf(target, sizeof target, "%s", to);
	if (!pg) {
		snprintf(sqlite_path, sizeof sqlite_path, "%s", target + 7);
		if (!sqlite_path[0]) {
			cli_usage_error("migrate", "sqlite: needs a file path");
			return CLI_USAGE;
		}
		struct stat st;
		if (stat(sqlite_path, &st) == 0 || errno != ENOENT) {
			explain_existing(sqlite_path, target);
			return CLI_REFUSED;
		}
	}
	int lock = -1;
	ret = cli_register_lock(o.dir, "migrate", &lock);
	if (ret)
		return ret;
	struct cli_register r;
	ret = cli_register_open(&r, o.dir);
	if (ret) {
		close(lock);
		return ret;
	}
	char here[sizeof r.store_url + 16], there[sizeof target + 16];
	canonical_url(r.store_url, here, sizeof here);
	canonical_url(target, there, sizeof there);
	if (!strcmp(here, there)) {
		fprintf(stderr, "privreg: migrate: the register lives in %s already\n", to);
		cli_register_close(&r);
		close(lock);
		return CLI_REFUSED;
	}
	struct store *dst = NULL;
	struct timespec t0, t1;
	if (sqlite_path[0]) {
		partial_set(sqlite_path);
		int len = snprintf(interrupted, sizeof interrupted, "\nprivreg: migrate: interrupted: the partial copy %s "
		                   "is removed; nothing changed: the register still lives in %s\n", sqlite_path,
		                   r.conf_store);
		interrupted_len = len < 0 ? 0 : (size_t)len < sizeof interrupted ? (size_t)len : sizeof interrupted - 1;
		catch_interrupts(on_interrupt);
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = store_open(target, &dst, &eb);
	struct progress pr = {.tty = isatty(STDERR_FILENO) == 1};
	struct migrate_report rep = {.progress = on_progress, .arg = &pr};
	if (!rc)
		rc = migrate_copy(r.store, dst, r.keydir, &rep, &eb);
	store_close(dst);
	/* From here a signal waits until the command has finished: the copy is
	 * complete (and privreg.conf about to name it), or removed below. */
	if (sqlite_path[0]) {
		block_interrupts(SIG_BLOCK);
		catch_interrupts(NULL);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (pr.stage)
		fputc('\n', stderr);
	/* As privreg.conf has it (a relative SQLite path is inside DIR): the
	 * advice below tells to write it back there. */
	char source[sizeof r.conf_store];
	memcpy(source, r.conf_store, sizeof source);
	cli_register_close(&r);
	if (rc) {
		if (sqlite_path[0])
			partial_remove();
		close(lock);
		cli_fail("migrate", rc, &eb);
		fprintf(stderr, "privreg: migrate: nothing changed: the register still lives in %s\n", source);
		if (sqlite_path[0])
			block_interrupts(SIG_UNBLOCK);
		return rc_http_status(rc) >= 500 ? CLI_FAILED : CLI_REFUSED;
	}
	if (conf_set_store(o.dir, to) != 0) {
		fprintf(stderr, "privreg: migrate: the copy in %s is complete and verified, but %s/%s could not be "
		        "rewritten (%s): set 'store = %s' there by hand\n", to, o.dir, CLI_CONF, strerror(errno), to);
		close(lock);
		if (sqlite_path[0])
			block_interrupts(SIG_UNBLOCK);
		return CLI_FAILED;
	}
	/* The lock file keeps the pid of the register's last SQLite server; a
	 * PostgreSQL register's servers write none, and a refusal must not
	 * name a process long gone (we hold the lock: no server runs). */
	if (ftruncate(lock, 0) != 0)
		fprintf(stderr, "privreg: migrate: warning: cannot empty %s/privreg.lock: %s\n", o.dir, strerror(errno));
	close(lock);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("migrated %" PRId64 " rows of %zu tables in %.1f s; %zu tenant%s, audit chains intact (%" PRId64
	       " entries)\n", rep.rows, rep.tables, secs, rep.tenants, rep.tenants == 1 ? "" : "s", rep.audit_entries);
	printf("the register now lives in %s (%s/%s updated)\n", to, o.dir, CLI_CONF);
	printf("%s is left as it was: to go back, set 'store' in %s/%s to it again (changes made since are not in it)"
	       ", or migrate them back with 'privreg migrate --to'\n", source, o.dir, CLI_CONF);
	if (sqlite_path[0]) {
		fflush(stdout);
		block_interrupts(SIG_UNBLOCK);
	}
	return CLI_OK;
}
