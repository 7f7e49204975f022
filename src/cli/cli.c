/* cli: shared helpers of the command-line front end (see cli.h). */
#include "cli/cli.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "cli/cli_config.h"
#include "core/backup.h"
#include "store/store.h"

int cli_fail(const char *what, enum rc rc, const struct errbuf *eb)
{
	fprintf(stderr, "privreg: %s: %s\n", what, err_msg(eb, rc));
	int status = rc_http_status(rc);
	return status >= 500 ? CLI_FAILED : CLI_REFUSED;
}

void cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "privreg %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see 'privreg %s --help')\n", cmd);
}

/*
 * privreg.conf: "key = value" lines, blank lines and "#" comments. The keys
 * are `store` and the settings of `privreg serve` (cli_config.c's table),
 * which every command checks and only serve uses. Anything else (an unknown
 * or repeated key, a line without "=", an empty or malformed value, a line
 * over the limit) is refused with FILE:LINE
 * before anything is opened: a misspelt key silently ignored would run the
 * register with a setting its operator did not choose.
 */
static int conf_error(const char *path, int line, const char *msg)
{
	fprintf(stderr, "%s:%d: %s\n", path, line, msg);
	return CLI_FAILED;
}

static char *trim(char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	size_t n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		s[--n] = '\0';
	return s;
}

static int read_conf(FILE *f, const char *path, struct cli_config *c, char *store_url, size_t store_size)
{
	char line[4400];
	int no = 0, store_line = 0;
	while (fgets(line, sizeof line, f)) {
		no++;
		size_t len = strcspn(line, "\r\n");
		if (!line[len] && !feof(f))
			return conf_error(path, no, "line too long (4398 characters at most)");
		line[len] = '\0';
		char *t = trim(line);
		if (!*t || *t == '#')
			continue;
		char *eq = strchr(t, '=');
		if (!eq)
			return conf_error(path, no, "expected 'key = value'");
		*eq = '\0';
		char *key = trim(t), *value = trim(eq + 1);
		if (strcmp(key, "store")) {
			int ret = cli_config_conf_key(c, path, no, key, value);
			if (ret == 1) {
				fprintf(stderr, "%s:%d: unknown key '%.64s' (the known keys are: store", path, no, key);
				cli_config_print_keys(stderr);
				fputs(")\n", stderr);
				return CLI_FAILED;
			}
			if (ret)
				return ret;
			continue;
		}
		if (store_line) {
			fprintf(stderr, "%s:%d: store is given twice (first on line %d)\n", path, no, store_line);
			return CLI_FAILED;
		}
		if (!*value)
			return conf_error(path, no, "store: empty value");
		if (snprintf(store_url, store_size, "%s", value) >= (int)store_size)
			return conf_error(path, no, "store: too long");
		store_line = no;
		c->store_line = no;
	}
	if (ferror(f)) {
		fprintf(stderr, "privreg: cannot read %s\n", path);
		return CLI_FAILED;
	}
	return CLI_OK;
}

int cli_conf_read(const char *dir, struct cli_config *c, char *store_url, size_t store_size)
{
	char path[4200], scratch[4300] = "";
	if (!store_url) {
		store_url = scratch;
		store_size = sizeof scratch;
	}
	if (snprintf(path, sizeof path, "%s/%s", dir, CLI_CONF) >= (int)sizeof path) {
		fprintf(stderr, "privreg: the directory path is too long\n");
		return CLI_FAILED;
	}
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "privreg: %s is not a register (no %s: run 'privreg init --dir %s --policy FILE')\n",
		        dir, CLI_CONF, dir);
		return CLI_FAILED;
	}
	int ret = read_conf(f, path, c, store_url, store_size);
	fclose(f);
	if (!ret && !store_url[0]) {
		fprintf(stderr, "privreg: %s names no store\n", path);
		ret = CLI_FAILED;
	}
	return ret;
}

/* create: a missing SQLite file or an empty database is made (restore
 * FILE's, which replaces it); else it must hold a register. */
static int register_open(struct cli_register *r, const char *dir, bool create)
{
	memset(r, 0, sizeof *r);
	if (snprintf(r->dir, sizeof r->dir, "%s", dir) >= (int)sizeof r->dir ||
	    snprintf(r->keydir, sizeof r->keydir, "%s/keys", dir) >= (int)sizeof r->keydir) {
		fprintf(stderr, "privreg: the directory path is too long\n");
		return CLI_FAILED;
	}
	/* The serve settings are checked here too, and dropped. */
	struct cli_config c;
	cli_config_init(&c, dir);
	int ret = cli_conf_read(dir, &c, r->store_url, sizeof r->store_url);
	cli_config_fini(&c);
	if (ret)
		return ret;
	memcpy(r->conf_store, r->store_url, sizeof r->conf_store);
	/* A relative sqlite path is relative to the register directory. */
	if (!strncmp(r->store_url, "sqlite:", 7) && r->store_url[7] != '/') {
		char abs[sizeof r->store_url];
		if (snprintf(abs, sizeof abs, "sqlite:%s/%s", dir, r->store_url + 7) >= (int)sizeof abs) {
			fprintf(stderr, "privreg: the directory path is too long\n");
			return CLI_FAILED;
		}
		memcpy(r->store_url, abs, sizeof abs);
	}
	struct errbuf eb = {""};
	enum rc rc = create ? store_open(r->store_url, &r->store, &eb) : core_register_open(r->store_url, &r->store, &eb);
	if (rc) {
		cli_fail("cannot open the store", rc, &eb);
		/* Only `init` makes a register: a store that holds none is most
		 * likely a mistake in privreg.conf, and is left as it was. */
		if (rc == RC_NOT_FOUND || rc == RC_GONE)
			fprintf(stderr, "privreg: %s/%s names 'store = %s', which holds no register: is the store line "
			        "wrong? Nothing was created (a new register is made with 'privreg init')\n", dir, CLI_CONF,
			        r->conf_store);
		return CLI_FAILED;
	}
	return CLI_OK;
}

int cli_register_open(struct cli_register *r, const char *dir)
{
	return register_open(r, dir, false);
}

int cli_register_open_to_replace(struct cli_register *r, const char *dir)
{
	return register_open(r, dir, true);
}

void cli_register_close(struct cli_register *r)
{
	store_close(r->store);
	r->store = NULL;
}

int cli_tenant_open(struct cli_register *r, const char *name, struct tenant **out)
{
	struct errbuf eb = {""};
	*out = NULL;
	/* A database older than its erasure ledger (a restored copy) would show
	 * and use data of people who were erased: not before it is reconciled. */
	enum rc rc = backup_check(r->store, r->keydir, &eb);
	if (rc)
		return cli_fail("the register needs reconciling", rc, &eb);
	rc = tenant_open(r->store, r->keydir, name, out, &eb);
	return rc ? cli_fail("cannot open the tenant", rc, &eb) : CLI_OK;
}

int cli_register_lock(const char *dir, const char *cmd, int *fd)
{
	char path[4200], pid[32] = "";
	*fd = -1;
	if (snprintf(path, sizeof path, "%s/privreg.lock", dir) >= (int)sizeof path) {
		fprintf(stderr, "privreg: %s: the directory path is too long\n", cmd);
		return CLI_FAILED;
	}
	int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f < 0) {
		fprintf(stderr, "privreg: %s: cannot open the lock file %s: %s\n", cmd, path, strerror(errno));
		return CLI_FAILED;
	}
	if (flock(f, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		ssize_t n = e == EWOULDBLOCK ? read(f, pid, sizeof pid - 1) : -1;
		pid[n > 0 ? n : 0] = '\0';
		pid[strcspn(pid, "\n")] = '\0';
		close(f);
		/* Servers of a PostgreSQL register share the lock and write no pid;
		 * a pid left by a SQLite server before the register moved to
		 * PostgreSQL (migrate) names a process that is gone, which holds
		 * no lock: not the one to stop. */
		char *end = NULL;
		long holder = strtol(pid, &end, 10);
		if (pid[0] && (*end || holder <= 0 || (kill((pid_t)holder, 0) != 0 && errno == ESRCH)))
			pid[0] = '\0';
		if (e == EWOULDBLOCK && !pid[0])
			fprintf(stderr, "privreg: %s: the register %s is being served (its servers hold %s): stop every "
			        "server of it first\n", cmd, dir, path);
		else if (e == EWOULDBLOCK)
			fprintf(stderr, "privreg: %s: the register %s is being served by pid %s (it holds %s): stop that "
			        "server first\n", cmd, dir, pid[0] ? pid : "?", path);
		else
			fprintf(stderr, "privreg: %s: cannot lock %s: %s\n", cmd, path, strerror(e));
		return CLI_FAILED;
	}
	*fd = f;
	return CLI_OK;
}

void cli_take_flags(int *argc, char **argv, const char *const *flags, bool *found)
{
	int out = 0;
	for (size_t i = 0; flags[i]; i++)
		found[i] = false;
	for (int i = 0; i < *argc; i++) {
		bool flag = false;
		for (size_t k = 0; flags[k] && !flag && i > 0; k++)
			if (!strcmp(argv[i], flags[k]))
				flag = found[k] = true;
		if (!flag)
			argv[out++] = argv[i];
	}
	*argc = out;
}

int cli_parse(int argc, char **argv, const char *cmd, const char *help, unsigned accept,
              struct cli_opts *o)
{
	static const struct option all[] = {
		{"dir", required_argument, NULL, CLI_OPT_DIR},
		{"tenant", required_argument, NULL, CLI_OPT_TENANT},
		{"policy", required_argument, NULL, CLI_OPT_POLICY},
		{"store", required_argument, NULL, CLI_OPT_STORE},
		{"role", required_argument, NULL, CLI_OPT_ROLE},
		{"help", no_argument, NULL, 'h'},
		{0},
	};
	*o = (struct cli_opts){.dir = CLI_DEFAULT_DIR, .tenant = CLI_DEFAULT_TENANT};
	int c;
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", all, NULL)) != -1) {
		if (c == 'h') {
			fputs(help, stdout);
			return CLI_OK;
		}
		if (c == '?') {
			cli_usage_error(cmd, "unknown option or missing value: '%s'", argv[optind - 1]);
			return CLI_USAGE;
		}
		if (!(accept & (unsigned)c)) {
			const struct option *opt = all;
			while (opt->val != c)
				opt++;
			cli_usage_error(cmd, "takes no --%s", opt->name);
			return CLI_USAGE;
		}
		const char **slot = c == CLI_OPT_DIR ? &o->dir : c == CLI_OPT_TENANT ? &o->tenant
		                  : c == CLI_OPT_POLICY ? &o->policy : c == CLI_OPT_STORE ? &o->store : &o->role;
		*slot = optarg;
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	return -1;
}

int cli_open(const struct cli_opts *o, struct cli_register *r, struct tenant **t)
{
	*t = NULL;
	int ret = cli_register_open(r, o->dir);
	if (ret)
		return ret;
	ret = cli_tenant_open(r, o->tenant, t);
	if (ret)
		cli_register_close(r);
	return ret;
}

void cli_close(struct cli_register *r, struct tenant *t)
{
	tenant_free(t);
	cli_register_close(r);
}
