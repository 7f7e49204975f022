/*
 * cli_config: the settings of `privreg serve` (see cli_config.h) and the
 * `privreg config show` command.
 *
 * SETTINGS is the one table: adding a setting is one row (and, when the
 * server takes it, its field in struct server_config). A row's name is its
 * privreg.conf key; its flag is the name with '-' for '_' (--smtp-from), its
 * environment variable PRIVREG_ and the name in capitals (PRIVREG_SMTP_FROM).
 * `where` says which of the three may give it: a secret never comes from a
 * flag, since argv is visible to every user in `ps` and /proc.
 */
#include "cli/cli_config.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "api/server.h"
#include "base/xalloc.h"
#include "cli/cli.h"
#include "store/store.h"

/* A default from a header as the table's text (config show prints it). */
#define STR_(x) #x
#define STR(x) STR_(x)

enum kind { STRING, PATH, UINT, PERIOD };
enum { FLAG = 1, CONF = 2, ENV = 4, ALL = FLAG | CONF | ENV };

#define FIELD(member) offsetof(struct server_config, member)
#define NO_FIELD SIZE_MAX

/* X(ID, name, kind, where, min, max, default, server_config offset, note on
 * the built-in default when there is no default value). A PATH given in
 * privreg.conf, or by default, is relative to the register directory; from
 * a flag or the environment, to the working directory. A uint/period field
 * is an `unsigned`, a string/path field a `const char *`. */
#define SETTINGS(X) \
	X(LISTEN, "listen", STRING, ALL, 0, 0, "127.0.0.1:8080", FIELD(listen), NULL) \
	X(THREADS, "threads", UINT, ALL, 1, 256, NULL, FIELD(threads), "one per core, two on PostgreSQL") \
	X(AUTH_LIMIT, "auth_limit", UINT, ALL, 1, 1000000, "10", FIELD(auth_fail_limit), NULL) \
	X(SMTP, "smtp", STRING, ALL, 0, 0, NULL, FIELD(smtp_url), "none: e-mail waits in the outbox") \
	X(SMTP_USER, "smtp_user", STRING, ALL, 0, 0, NULL, FIELD(smtp_user), "no SMTP AUTH") \
	X(SMTP_PASSWORD_FILE, "smtp_password_file", PATH, ALL, 0, 0, NULL, NO_FIELD, NULL) \
	X(SMTP_PASSWORD, "smtp_password", STRING, ENV, 0, 0, NULL, FIELD(smtp_password), "none") \
	X(SMTP_FROM, "smtp_from", STRING, ALL, 0, 0, "privreg@localhost", FIELD(smtp_from), NULL) \
	X(PUBLIC_URL, "public_url", STRING, ALL, 0, 0, NULL, FIELD(public_url), "http://LISTEN") \
	X(SWEEP_EVERY, "sweep_every", PERIOD, ALL, 0, 30 * 86400, "1h", FIELD(sweep_every_s), NULL) \
	X(CHECKPOINT_EVERY, "checkpoint_every", PERIOD, ALL, 0, 30 * 86400, "1h", FIELD(checkpoint_every_s), NULL) \
	X(CHECKPOINT_FILE, "checkpoint_file", PATH, ALL, 0, 0, CLI_CHECKPOINT_FILE, FIELD(checkpoint_file), NULL) \
	X(ATTEST_EVERY, "attest_every", STRING, ALL, 0, 0, NULL, FIELD(attest_every), "never (or month)") \
	X(ATTEST_DIR, "attest_dir", PATH, ALL, 0, 0, "attestations", FIELD(attest_dir), NULL) \
	X(METRICS_LISTEN, "metrics_listen", STRING, ALL, 0, 0, NULL, FIELD(metrics_listen), "none") \
	X(PER_IP_LIMIT, "per_ip_limit", UINT, ALL, 1, 100000, "64", FIELD(per_ip_limit), NULL) \
	X(MAX_CONNECTIONS, "max_connections", UINT, ALL, 1, 1000000, "1000", FIELD(max_connections), NULL) \
	X(RECEIVE_TIMEOUT, "receive_timeout", PERIOD, ALL, 1, 3600, "30s", FIELD(receive_timeout_s), NULL) \
	X(TRUSTED_PROXIES, "trusted_proxies", STRING, ALL, 0, 0, NULL, FIELD(trusted_proxies), "none") \
	X(TLS_CERT, "tls_cert", PATH, ALL, 0, 0, NULL, FIELD(tls_cert), "plain HTTP") \
	X(TLS_KEY, "tls_key", PATH, ALL, 0, 0, NULL, FIELD(tls_key), "plain HTTP") \
	X(SQLITE_CACHE_MB, "sqlite_cache_mb", UINT, ALL, 1, STORE_CACHE_MIB_MAX, STR(SERVER_SQLITE_CACHE_MB_DEFAULT), \
	  FIELD(sqlite_cache_mb), NULL)

#define AS_ID(id, ...) S_##id,
enum setting_id { SETTINGS(AS_ID) S_COUNT };

static const struct setting {
	const char *name;
	enum kind kind;
	unsigned where;
	unsigned min, max;
	const char *def;
	size_t field;
	const char *note;
	bool secret;
} settings[] = {
#define AS_ROW(id, name, kind, where, min, max, def, field, note) \
	{name, kind, where, min, max, def, field, note, S_##id == S_SMTP_PASSWORD},
	SETTINGS(AS_ROW)
};
_Static_assert(S_COUNT <= CLI_CONFIG_MAX, "raise CLI_CONFIG_MAX");

/* A value longer than this is refused wherever it comes from. */
#define VALUE_MAX 4096
/* The password file's size limit. */
#define SECRET_MAX 1024

static void wipe_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void cli_config_init(struct cli_config *c, const char *dir)
{
	memset(c, 0, sizeof *c);
	c->dir = dir;
}

void cli_config_fini(struct cli_config *c)
{
	for (size_t i = 0; i < S_COUNT; i++)
		wipe_free(c->v[i].text); /* all of them: cheap, and no row forgets */
	memset(c, 0, sizeof *c);
}

/* "90", "90s", "30m", "1h", "1d" into seconds. */
static bool parse_period(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	unsigned long mul = !*end ? 1 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60 : !strcmp(end, "h") ? 3600
	                  : !strcmp(end, "d") ? 86400 : 0;
	if (!isdigit((unsigned char)*s) || !mul || v > max / mul)
		return false;
	*out = (unsigned)(v * mul);
	return true;
}

static bool parse_uint(const char *s, unsigned max, unsigned *out)
{
	char *end;
	unsigned long v = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || *end || v > max)
		return false;
	*out = (unsigned)v;
	return true;
}

static const char *period_text(unsigned s, char *buf, size_t n)
{
	unsigned unit = s % 86400 == 0 ? 86400 : s % 3600 == 0 ? 3600 : s % 60 == 0 ? 60 : 1;
	snprintf(buf, n, "%u%s", s / unit, unit == 86400 ? "d" : unit == 3600 ? "h" : unit == 60 ? "m" : "s");
	return buf;
}

/* Checks `text` for setting s; on a mistake, writes what it takes in why. */
static bool check_value(const struct setting *s, const char *text, unsigned *num, char *why, size_t n)
{
	char a[16], b[16];
	if (!*text) {
		snprintf(why, n, "empty value");
		return false;
	}
	if (strlen(text) > VALUE_MAX) {
		snprintf(why, n, "too long (%d characters at most)", VALUE_MAX);
		return false;
	}
	switch (s->kind) {
	case UINT:
		if (parse_uint(text, s->max, num) && *num >= s->min)
			return true;
		snprintf(why, n, "takes a number from %u to %u", s->min, s->max);
		return false;
	case PERIOD:
		if (parse_period(text, s->max, num) && *num >= s->min)
			return true;
		if (s->min)
			snprintf(why, n, "takes a period from %s to %s: 10s, 30m, 1h", period_text(s->min, a, sizeof a),
			         period_text(s->max, b, sizeof b));
		else
			snprintf(why, n, "takes a period: 90s, 30m, 1h, 1d (at most %s), or 0",
			         period_text(s->max, b, sizeof b));
		return false;
	case STRING:
	case PATH:
		return true;
	}
	return true;
}

/* Sets setting i from `from` unless a later source already set it. */
static void put(struct cli_config *c, size_t i, const char *text, unsigned num, enum cli_source from)
{
	struct cli_config_value *v = &c->v[i];
	if (v->from > from)
		return;
	wipe_free(v->text);
	if (settings[i].kind == PATH && text[0] != '/' && (from == CLI_FROM_CONF || from == CLI_FROM_DEFAULT))
		v->text = xasprintf("%s/%s", c->dir, text);
	else
		v->text = xstrdup(text);
	v->num = num;
	v->from = from;
}

static void flag_name(const struct setting *s, char *out, size_t n)
{
	snprintf(out, n, "--%s", s->name);
	for (char *p = out; *p; p++)
		if (*p == '_')
			*p = '-';
}

static void env_name(const struct setting *s, char *out, size_t n)
{
	snprintf(out, n, "PRIVREG_%s", s->name);
	for (char *p = out; *p; p++)
		*p = (char)toupper((unsigned char)*p);
}

int cli_config_flags(struct cli_config *c, const char *cmd, int argc, char **argv, char **rest, int max,
                     int *nrest)
{
	*nrest = 0;
	for (int i = 0; i < argc; i++) {
		size_t k = S_COUNT;
		char flag[64];
		if (i + 1 < argc && !strncmp(argv[i], "--", 2))
			for (k = 0; k < S_COUNT; k++) {
				flag_name(&settings[k], flag, sizeof flag);
				if (!strcmp(argv[i], flag) && settings[k].where & FLAG)
					break;
			}
		if (k == S_COUNT) {
			if (*nrest < max - 1)
				rest[(*nrest)++] = argv[i];
			continue;
		}
		char why[128];
		unsigned num = 0;
		if (!check_value(&settings[k], argv[++i], &num, why, sizeof why)) {
			cli_usage_error(cmd, "%s %s", flag, why);
			return CLI_USAGE;
		}
		put(c, k, argv[i], num, CLI_FROM_FLAG);
	}
	rest[*nrest] = NULL;
	return -1;
}

int cli_config_conf_key(struct cli_config *c, const char *path, int line, const char *key, const char *value)
{
	size_t k = 0;
	while (k < S_COUNT && (strcmp(settings[k].name, key) || !(settings[k].where & CONF)))
		k++;
	if (k == S_COUNT)
		return 1;
	if (c->v[k].conf_line) {
		fprintf(stderr, "%s:%d: %s is given twice (first on line %d)\n", path, line, key, c->v[k].conf_line);
		return CLI_FAILED;
	}
	char why[128];
	unsigned num = 0;
	if (!check_value(&settings[k], value, &num, why, sizeof why)) {
		fprintf(stderr, "%s:%d: %s %s\n", path, line, key, why);
		return CLI_FAILED;
	}
	put(c, k, value, num, CLI_FROM_CONF);
	c->v[k].conf_line = line;
	return CLI_OK;
}

void cli_config_print_keys(FILE *out)
{
	for (size_t k = 0; k < S_COUNT; k++)
		if (settings[k].where & CONF)
			fprintf(out, ", %s", settings[k].name);
}

/* Where the password lies in scheme://user:password@host..., if it has one. */
static bool url_password(const char *url, size_t *at, size_t *len)
{
	const char *p = strstr(url, "://");
	if (!p)
		return false;
	p += 3;
	size_t auth = strcspn(p, "/?#");
	const char *end = memrchr(p, '@', auth);
	const char *colon = end ? memchr(p, ':', (size_t)(end - p)) : NULL;
	if (!colon)
		return false;
	*at = (size_t)(colon + 1 - url);
	*len = (size_t)(end - colon - 1);
	return true;
}

static bool url_has_user(const char *url)
{
	const char *p = strstr(url, "://");
	return p && memchr(p + 3, '@', strcspn(p + 3, "/?#"));
}

/* The file's content, less one final newline, as the password. The file
 * must be a regular file that group and others cannot read. */
static int read_secret(const char *cmd, const char *path, char **out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	struct stat st;
	if (fd < 0 || fstat(fd, &st) != 0) {
		fprintf(stderr, "privreg %s: cannot read smtp_password_file %s: %s\n", cmd, path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return CLI_FAILED;
	}
	int ret = CLI_FAILED;
	char buf[SECRET_MAX + 2];
	ssize_t n = 0;
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "privreg %s: smtp_password_file %s is not a regular file\n", cmd, path);
		goto out;
	}
	if (st.st_mode & (S_IRGRP | S_IROTH)) {
		fprintf(stderr, "privreg %s: smtp_password_file %s must be readable by its owner only (mode %03o): "
		        "chmod 600 %s\n", cmd, path, (unsigned)(st.st_mode & 0777), path);
		goto out;
	}
	size_t len = 0;
	while (len < sizeof buf - 1 && (n = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
		len += (size_t)n;
	if (n < 0) {
		fprintf(stderr, "privreg %s: cannot read smtp_password_file %s: %s\n", cmd, path, strerror(errno));
		goto out;
	}
	buf[len] = '\0';
	if (len && buf[len - 1] == '\n')
		buf[--len] = '\0';
	if (len && buf[len - 1] == '\r')
		buf[--len] = '\0';
	if (len > SECRET_MAX || !len || strlen(buf) != len || strpbrk(buf, "\r\n")) {
		fprintf(stderr, "privreg %s: smtp_password_file %s must hold the password alone, on one line "
		        "(1 to %d bytes)\n", cmd, path, SECRET_MAX);
		goto out;
	}
	*out = xstrdup(buf);
	ret = CLI_OK;
out:
	explicit_bzero(buf, sizeof buf);
	close(fd);
	return ret;
}

/* The password from whichever of smtp_password (env) and smtp_password_file
 * came from the later source; from the same one, it is ambiguous. */
static int resolve_password(struct cli_config *c, const char *cmd)
{
	struct cli_config_value *pw = &c->v[S_SMTP_PASSWORD], *file = &c->v[S_SMTP_PASSWORD_FILE];
	if (!file->text)
		return CLI_OK;
	if (pw->text && pw->from == file->from) {
		fprintf(stderr, "privreg %s: PRIVREG_SMTP_PASSWORD and PRIVREG_SMTP_PASSWORD_FILE are both set: "
		        "give the password one way\n", cmd);
		return CLI_USAGE;
	}
	if (pw->from > file->from)
		return CLI_OK;
	char *secret = NULL;
	int ret = read_secret(cmd, file->text, &secret);
	if (ret)
		return ret;
	wipe_free(pw->text);
	pw->text = secret;
	pw->from = file->from;
	c->password_from_file = true;
	return CLI_OK;
}

int cli_config_finish(struct cli_config *c, const char *cmd)
{
	for (size_t k = 0; k < S_COUNT; k++) {
		const struct setting *s = &settings[k];
		char name[64], why[128];
		unsigned num = 0;
		env_name(s, name, sizeof name);
		const char *text = s->where & ENV ? getenv(name) : NULL;
		if (text && *text) { /* an empty variable counts as unset */
			if (!check_value(s, text, &num, why, sizeof why)) {
				fprintf(stderr, "privreg %s: %s %s\n", cmd, name, why);
				return CLI_USAGE;
			}
			put(c, k, text, num, CLI_FROM_ENV);
		}
		if (s->def && !c->v[k].text) {
			if (!check_value(s, s->def, &num, why, sizeof why))
				abort(); /* a default the table's own check refuses */
			put(c, k, s->def, num, CLI_FROM_DEFAULT);
		}
	}
	int ret = resolve_password(c, cmd);
	if (ret)
		return ret;
	const char *smtp = c->v[S_SMTP].text;
	size_t at, len;
	bool url_pw = smtp && url_password(smtp, &at, &len);
	if (url_pw && c->v[S_SMTP].from == CLI_FROM_FLAG)
		fprintf(stderr, "privreg %s: warning: the password in --smtp is visible to every user of this machine "
		        "(ps, /proc): put it in a file named by smtp_password_file (mode 600) or in "
		        "PRIVREG_SMTP_PASSWORD instead\n", cmd);
	const char *why = NULL;
	if (!smtp && c->v[S_SMTP_USER].text)
		why = "smtp_user is set but smtp is not";
	else if (!smtp && c->v[S_SMTP_PASSWORD].text)
		why = "an SMTP password is given but smtp is not";
	else if (smtp && url_has_user(smtp) && (c->v[S_SMTP_USER].text || c->v[S_SMTP_PASSWORD].text))
		why = "the smtp URL names a user: give the user and password either in it or as smtp_user and "
		      "smtp_password_file, not both";
	else if (c->v[S_SMTP_PASSWORD].text && !c->v[S_SMTP_USER].text)
		why = "an SMTP password is given without smtp_user";
	else if (!c->v[S_TLS_CERT].text != !c->v[S_TLS_KEY].text)
		why = c->v[S_TLS_CERT].text ? "tls_cert is set but tls_key is not: HTTPS needs both"
		                            : "tls_key is set but tls_cert is not: HTTPS needs both";
	if (why) {
		fprintf(stderr, "privreg %s: %s\n", cmd, why);
		return CLI_USAGE;
	}
	return CLI_OK;
}

void cli_config_server(const struct cli_config *c, struct server_config *out)
{
	for (size_t k = 0; k < S_COUNT; k++) {
		const struct setting *s = &settings[k];
		if (s->field == NO_FIELD || !c->v[k].text)
			continue;
		char *at = (char *)out + s->field;
		if (s->kind == UINT || s->kind == PERIOD)
			memcpy(at, &c->v[k].num, sizeof(unsigned));
		else
			memcpy(at, &(const char *){c->v[k].text}, sizeof(const char *));
	}
}

/* The store's URL as privreg.conf has it, so that the line can be written
 * back there as shown (a relative SQLite path is inside the register
 * directory: the file it names follows, absolute, in the comment; joined to
 * DIR it would be relative to the working directory instead), a password
 * masked: privreg refuses a URL with one, but config show opens no store, so
 * a hand-written one is not printed. */
static void show_store(const struct cli_config *c, FILE *out)
{
	char url[sizeof c->store + 4300], where[PATH_MAX + sizeof c->store + 32] = "", dir[PATH_MAX];
	const char *s = c->store;
	if (!strncmp(s, "sqlite:", 7) && s[7] != '/' && realpath(c->dir, dir))
		snprintf(where, sizeof where, ": the file %s/%s", dir, s + 7);
	snprintf(url, sizeof url, "%s", s);
	size_t at = 0, len = 0;
	fputs("store = ", out);
	if (url_password(url, &at, &len)) {
		fprintf(out, "%.*s********", (int)at, url);
		memmove(url, url + at + len, strlen(url + at + len) + 1);
	}
	const char *p = url, *q = strchr(url, '?');
	for (const char *k = q; k; k = strchr(k + 1, '&')) {
		if (strncmp(k + 1, "password=", 9))
			continue;
		fprintf(out, "%.*s********", (int)(k + 10 - p), p);
		p = k + 10 + strcspn(k + 10, "&#");
	}
	fprintf(out, "%s  # conf %s line %d%s\n", p, CLI_CONF, c->store_line, where);
}

void cli_config_show(const struct cli_config *c, FILE *out)
{
	if (c->store[0])
		show_store(c, out);
	for (size_t k = 0; k < S_COUNT; k++) {
		const struct setting *s = &settings[k];
		const struct cli_config_value *v = &c->v[k];
		if (!v->text) {
			fprintf(out, "# %s: not set%s%s%s\n", s->name, s->note ? " (" : "", s->note ? s->note : "",
			        s->note ? ")" : "");
			continue;
		}
		char name[64];
		size_t at = 0, len = 0;
		if (s->secret)
			fprintf(out, "%s = ********", s->name);
		else if (k == S_SMTP && url_password(v->text, &at, &len))
			fprintf(out, "%s = %.*s********%s", s->name, (int)at, v->text, v->text + at + len);
		else
			fprintf(out, "%s = %s", s->name, v->text);
		if (k == S_SMTP_PASSWORD && c->password_from_file) {
			fprintf(out, "  # read from smtp_password_file\n");
			continue;
		}
		switch (v->from) {
		case CLI_FROM_FLAG:
			flag_name(s, name, sizeof name);
			fprintf(out, "  # flag %s\n", name);
			break;
		case CLI_FROM_ENV:
			env_name(s, name, sizeof name);
			fprintf(out, "  # env %s\n", name);
			break;
		case CLI_FROM_CONF:
			fprintf(out, "  # conf %s line %d\n", CLI_CONF, v->conf_line);
			break;
		default:
			fprintf(out, "  # default\n");
		}
	}
}

int cli_config_load(struct cli_config *c, const char *cmd, const char *help, int argc, char **argv,
                    struct cli_opts *o)
{
	char *rest[64];
	int nrest = 0;
	cli_config_init(c, NULL);
	int ret = cli_config_flags(c, cmd, argc, argv, rest, 64, &nrest);
	if (ret >= 0)
		return ret;
	ret = cli_parse(nrest, rest, cmd, help, CLI_OPT_DIR, o);
	if (ret >= 0)
		return ret;
	if (o->argc) {
		cli_usage_error(cmd, "takes no arguments");
		return CLI_USAGE;
	}
	o->argv = NULL; /* it pointed into rest[] */
	c->dir = o->dir;
	ret = cli_conf_read(o->dir, c, c->store, sizeof c->store);
	if (ret)
		return ret;
	ret = cli_config_finish(c, cmd);
	return ret ? ret : -1;
}

static const char config_help[] =
	"usage: privreg config show [--dir D] [any flag of 'privreg serve']\n\n"
	"Prints the configuration 'privreg serve' would run with, one 'key = value'\n"
	"per line, each with where it came from: default, conf (DIR/" CLI_CONF "),\n"
	"env (PRIVREG_KEY) or flag; a later one wins. Secrets are masked. The\n"
	"first line is 'store', the database the register lives in (from\n"
	"DIR/" CLI_CONF " only, as written there; a relative SQLite path is inside\n"
	"DIR, and the comment names its file).\n"
	"See 'privreg serve --help' for the settings.\n";

int cli_config_command(int argc, char **argv)
{
	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		fputs(config_help, stdout);
		return CLI_OK;
	}
	if (argc < 2 || strcmp(argv[1], "show")) {
		cli_usage_error("config", "expected 'show'");
		return CLI_USAGE;
	}
	struct cli_config c;
	struct cli_opts o;
	int ret = cli_config_load(&c, "config", config_help, argc - 1, argv + 1, &o);
	if (ret < 0) {
		cli_config_show(&c, stdout);
		ret = CLI_OK;
	}
	cli_config_fini(&c);
	return ret;
}
