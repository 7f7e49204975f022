/*
 * cli: the `privreg COMMAND` front end. Each command group has its own file;
 * this header holds what they share: opening a register directory from its
 * privreg.conf and reporting errors as one clear line on stderr.
 *
 * Exit codes: 0 success, 1 the input was refused (invalid policy, unknown
 * subject...), 2 usage error, 3 the register could not be opened or written.
 */
#ifndef PRIVREG_CLI_H
#define PRIVREG_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "base/err.h"
#include "core/tenant.h"

#define CLI_OK 0
#define CLI_REFUSED 1
#define CLI_USAGE 2
#define CLI_FAILED 3

#define CLI_DEFAULT_DIR "."
#define CLI_DEFAULT_TENANT "default"
#define CLI_CONF "privreg.conf"
/* The audit checkpoints' default file in the register directory (copy it
 * off the machine: see core/audit.h). */
#define CLI_CHECKPOINT_FILE "audit-checkpoints.jsonl"

struct cli_register {
	char dir[4096];
	char keydir[4200];
	char store_url[4300];      /* as opened: a relative SQLite path joined to dir */
	char conf_store[4300];     /* as privreg.conf has it (relative to dir): what to write back there */
	struct store *store;
};

/* Options shared by the commands; each command says which it accepts. */
enum cli_opt {
	CLI_OPT_DIR = 1 << 0,
	CLI_OPT_TENANT = 1 << 1,
	CLI_OPT_POLICY = 1 << 2,
	CLI_OPT_STORE = 1 << 3,
	CLI_OPT_ROLE = 1 << 4,
};

struct cli_opts {
	const char *dir, *tenant, *policy, *store, *role; /* defaults filled in */
	int argc;                  /* the arguments left after the options */
	char **argv;
};

/* Parses the options of `cmd` (a mask of enum cli_opt; --help is always
 * accepted and prints `help`). Returns -1 to go on, else the exit code. */
int cli_parse(int argc, char **argv, const char *cmd, const char *help, unsigned accept,
              struct cli_opts *o);

struct cli_config;
/* Reads DIR/privreg.conf: `store` into store_url (NULL: checked only), the
 * serve settings into c (cli_config.h). Prints the error itself. */
int cli_conf_read(const char *dir, struct cli_config *c, char *store_url, size_t store_size);
/* Reads DIR/privreg.conf (an unknown key or a malformed line is refused,
 * as FILE:LINE: message) and opens the store, which must hold a register:
 * a missing SQLite file or a database without privreg's schema or tenants
 * is refused (nothing is created), with a hint at the `store` line. Prints
 * the error itself. */
int cli_register_open(struct cli_register *r, const char *dir);
/* cli_register_open for `restore FILE`, which replaces the database: a
 * missing SQLite file (the disk that held it lost) is made, to be
 * replaced. */
int cli_register_open_to_replace(struct cli_register *r, const char *dir);
void cli_register_close(struct cli_register *r);
/* Opens tenant `name` of an open register. Prints the error itself. */
int cli_tenant_open(struct cli_register *r, const char *name, struct tenant **out);
/* Both of the above for o->dir and o->tenant; on failure nothing stays open. */
int cli_open(const struct cli_opts *o, struct cli_register *r, struct tenant **t);
void cli_close(struct cli_register *r, struct tenant *t);

/* Prints "privreg: WHAT: message" and returns the exit code for rc. */
int cli_fail(const char *what, enum rc rc, const struct errbuf *eb);
void cli_usage_error(const char *cmd, const char *fmt, ...) PRINTF(2, 3);

int cli_init(int argc, char **argv);
int cli_key(int argc, char **argv);
int cli_user(int argc, char **argv);
int cli_tenant(int argc, char **argv);
/* `tenant export NAME DIR` and `tenant delete NAME [--yes]` (cli_tenant.c). */
int cli_tenant_admin(const struct cli_opts *o, bool yes);
int cli_policy(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_subject(int argc, char **argv);
int cli_import(int argc, char **argv);
/* cli_import's reader and writer on f (CSV, or JSON Lines), all rows in
 * the caller's transaction, no rejects file; *count gets the rows imported,
 * a refused row is printed as path:LINE: message and makes it CLI_REFUSED
 * (the caller then rolls back). Public for the fuzz target
 * tests/fuzz/fuzz_import.c, which feeds it bytes. */
int cli_import_file(const struct core_ctx *c, const char *kind, FILE *f, const char *path, bool csv, size_t *count);
int cli_audit(int argc, char **argv);
int cli_attest(int argc, char **argv);
int cli_serve(int argc, char **argv);
int cli_requests(int argc, char **argv);
int cli_sweep(int argc, char **argv);
int cli_backup(int argc, char **argv);
int cli_restore(int argc, char **argv);
int cli_migrate(int argc, char **argv);

/* Takes DIR/privreg.lock exclusively (held until *fd is closed), for
 * commands that may not run beside a server: if a server holds it (as
 * `privreg serve` does: exclusively on SQLite, shared by every server of a
 * PostgreSQL register), says so (naming its pid, when it wrote one) and
 * returns CLI_FAILED. */
int cli_register_lock(const char *dir, const char *cmd, int *fd);
/* Removes each of the flags (no value) from argv, setting found[i]; the
 * rest go on to cli_parse. */
void cli_take_flags(int *argc, char **argv, const char *const *flags, bool *found);

#endif
