/*
 * cli_config: the settings of `privreg serve`, from one table. Each setting
 * may come from its built-in default, from privreg.conf (`smtp_from = ...`),
 * from the environment (PRIVREG_SMTP_FROM) or from a flag (--smtp-from), and
 * the later in that list wins. Secrets (the SMTP password) never come from a
 * flag: from a file (smtp_password_file, readable by its owner only) or the
 * environment (PRIVREG_SMTP_PASSWORD); `privreg config show` prints them
 * masked. A value is checked wherever it comes from, also when a higher
 * source overrides it: a mistake in privreg.conf is refused, not hidden.
 *
 * Use: cli_config_init, cli_config_flags (takes the serve flags out of argv),
 * cli_conf_read (cli.h: privreg.conf), cli_config_finish (environment,
 * defaults, the password file, cross-checks), then cli_config_server or
 * cli_config_show; cli_config_fini wipes the password.
 */
#ifndef PRIVREG_CLI_CONFIG_H
#define PRIVREG_CLI_CONFIG_H

#include <stdbool.h>
#include <stdio.h>

struct cli_opts;
struct server_config;

enum cli_source { CLI_FROM_NONE, CLI_FROM_DEFAULT, CLI_FROM_CONF, CLI_FROM_ENV, CLI_FROM_FLAG };

/* Room for the table's rows; a static assertion in cli_config.c keeps the
 * table within it. */
#define CLI_CONFIG_MAX 32

struct cli_config {
	struct cli_config_value {
		char *text;           /* NULL: not set; owned (wiped on fini if secret) */
		unsigned num;         /* the number, for uint and period settings */
		enum cli_source from;
		int conf_line;        /* the privreg.conf line that gave it, or 0 */
	} v[CLI_CONFIG_MAX];
	const char *dir;          /* the register directory (relative conf paths) */
	char store[4300];         /* privreg.conf's `store`, as written ("": not read) */
	int store_line;           /* its line in privreg.conf */
	bool password_from_file;  /* the password was read from smtp_password_file */
};

void cli_config_init(struct cli_config *c, const char *dir);
void cli_config_fini(struct cli_config *c);

/* Takes the settings' flags (--listen ADDR, ...) out of argv, leaving the
 * other arguments in rest[] (NULL-terminated; at most max - 1 of them).
 * Returns -1 to go on, else the exit code (the message printed). */
int cli_config_flags(struct cli_config *c, const char *cmd, int argc, char **argv, char **rest, int max,
                     int *nrest);

/* One privreg.conf line's key and value: 1 when `key` is not a setting,
 * else CLI_OK or CLI_FAILED (FILE:LINE: message printed). */
int cli_config_conf_key(struct cli_config *c, const char *path, int line, const char *key, const char *value);
/* ", listen, threads, ...": the conf keys, for the unknown-key message. */
void cli_config_print_keys(FILE *out);

/* The environment, the defaults and the password; checks settings that
 * depend on each other. Returns CLI_OK or the exit code (message printed). */
int cli_config_finish(struct cli_config *c, const char *cmd);

/* All of the above for a command that takes --dir and the settings' flags
 * (serve, config show); --help prints `help`. Returns -1 to go on, else the
 * exit code (the message printed). Call cli_config_fini in either case. */
int cli_config_load(struct cli_config *c, const char *cmd, const char *help, int argc, char **argv,
                    struct cli_opts *o);

/* Fills the server's configuration; the strings stay c's. */
void cli_config_server(const struct cli_config *c, struct server_config *out);
/* "key = value  # source" lines, secrets masked; `store` first when
 * privreg.conf was read. */
void cli_config_show(const struct cli_config *c, FILE *out);

/* `privreg config show` */
int cli_config_command(int argc, char **argv);

#endif
