/* privreg: argument dispatch only; each command lives in src/cli/. */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_config.h"
#include "crypto/vault.h"
#include "store/store.h"

static const struct command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *help;
} commands[] = {
	{"init", cli_init, "create a register: database, key file, default tenant"},
	{"policy", cli_policy, "check or render a policy file"},
	{"tenant", cli_tenant, "add, list, export or delete tenants (controllers)"},
	{"key", cli_key, "add, list or revoke staff API keys"},
	{"user", cli_user, "add, list or disable staff members' console accounts"},
	{"import", cli_import, "import records from a CSV or JSON Lines file"},
	{"subject", cli_subject, "read, find or delete a data subject"},
	{"status", cli_status, "print what a register holds"},
	{"audit", cli_audit, "verify, list or checkpoint the hash-chained audit log"},
	{"attest", cli_attest, "a signed attestation of every promise, its public key, its check"},
	{"serve", cli_serve, "serve the HTTP API"},
	{"config", cli_config_command, "show the configuration 'serve' would run with (secrets masked)"},
	{"requests", cli_requests, "data-subject requests that are due or late"},
	{"sweep", cli_sweep, "delete or anonymise what the retention rules say is due"},
	{"backup", cli_backup, "write a consistent copy of the database, online"},
	{"restore", cli_restore, "restore a copy and re-apply the erasures made since"},
	{"migrate", cli_migrate, "move the register to another store (SQLite, PostgreSQL), verified"},
};

static void usage(FILE *out)
{
	fputs("usage: privreg COMMAND [OPTIONS]\n\n"
	      "A personal-data register that keeps a privacy policy's promises.\n\n"
	      "commands:\n", out);
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(out, "  %-8s %s\n", commands[i].name, commands[i].help);
	fputs("\n'privreg COMMAND --help' describes each command.\n", out);
}

int main(int argc, char **argv)
{
	if (vault_library_init() || store_library_init()) {
		fputs("privreg: libsodium or SQLite failed to initialise\n", stderr);
		return CLI_FAILED;
	}
	/* Before any command can load a key: no core dump may carry one. */
	struct errbuf eb = {""};
	if (vault_process_harden(&eb))
		return cli_fail("start-up", RC_INTERNAL, &eb);
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return CLI_OK;
	}
	if (!strcmp(argv[1], "--version")) {
		puts("privreg " PRIVREG_VERSION);
		return CLI_OK;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (!strcmp(argv[1], commands[i].name))
			return commands[i].run(argc - 1, argv + 1);
	fprintf(stderr, "privreg: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return CLI_USAGE;
}
