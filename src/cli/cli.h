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

#include "base/err.h"
#include "core/tenant.h"

#define CLI_OK 0
#define CLI_REFUSED 1
#define CLI_USAGE 2
#define CLI_FAILED 3

#define CLI_DEFAULT_DIR "."
#define CLI_DEFAULT_TENANT "default"
#define CLI_CONF "privreg.conf"

struct cli_register {
	char dir[4096];
	char keydir[4200];
	char store_url[4300];
	struct store *store;
};

/* Reads DIR/privreg.conf and opens the store. Prints the error itself. */
int cli_register_open(struct cli_register *r, const char *dir);
void cli_register_close(struct cli_register *r);
/* Opens tenant `name` of an open register. Prints the error itself. */
int cli_tenant_open(struct cli_register *r, const char *name, struct tenant **out);

/* Prints "privreg: WHAT: message" and returns the exit code for rc. */
int cli_fail(const char *what, enum rc rc, const struct errbuf *eb);
void cli_usage_error(const char *cmd, const char *fmt, ...) PRINTF(2, 3);

int cli_init(int argc, char **argv);
int cli_key(int argc, char **argv);
int cli_tenant(int argc, char **argv);
int cli_policy(int argc, char **argv);
int cli_status(int argc, char **argv);
int cli_subject(int argc, char **argv);
int cli_import(int argc, char **argv);

#endif
