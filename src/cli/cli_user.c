/* cli_user: `privreg user add|list|disable|invite`: staff members' personal
 * accounts for the console (core/user.h). 'add' and 'invite' print a
 * one-time enrolment link; only its hash is stored, so it is shown once. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/user.h"

static const char user_help[] =
	"usage: privreg user add EMAIL --role ROLE [--url URL] [--tenant T] [--dir D]\n"
	"       privreg user list [--tenant T] [--dir D]\n"
	"       privreg user disable EMAIL [--tenant T] [--dir D]\n"
	"       privreg user invite EMAIL [--url URL] [--tenant T] [--dir D]\n\n"
	"Personal accounts of staff for the console (/console/), one role each,\n"
	"as for API keys: admin, dpo, support, marketing, auditor. 'add' prints a\n"
	"one-time enrolment link (valid 72 hours) as the last word of its last\n"
	"line: the person opens it, chooses a password (at least 12 characters)\n"
	"and adds the account to an authenticator app (TOTP). 'invite' prints a\n"
	"new link and resets the password and the app of an account. 'disable'\n"
	"ends the account's sessions and refuses its sign-ins. The link starts\n"
	"with --url (default: $PRIVREG_PUBLIC_URL, else http://127.0.0.1:8080),\n"
	"the address people reach the server at. An e-mail is unique per tenant\n"
	"(the same person may have accounts in several tenants; sign-in picks\n"
	"the one its code is of) and compared without regard to ASCII case.\n";

/* Takes "--url VALUE" out of argv. */
static const char *take_url(int *argc, char **argv)
{
	const char *url = NULL;
	int out = 0;
	for (int i = 0; i < *argc; i++) {
		if (!strcmp(argv[i], "--url") && i + 1 < *argc) {
			url = argv[++i];
			continue;
		}
		argv[out++] = argv[i];
	}
	*argc = out;
	return url;
}

static void print_link(const char *url, const char *token)
{
	size_t n = strlen(url);
	while (n && url[n - 1] == '/')
		n--;
	printf("enrolment link (single use, valid %d hours): %.*s/console/enrol.html#%s\n", USER_ENROL_TTL / 3600,
	       (int)n, url, token);
}

int cli_user(int argc, char **argv)
{
	struct cli_opts o;
	const char *url = take_url(&argc, argv);
	int ret = cli_parse(argc, argv, "user", user_help, CLI_OPT_DIR | CLI_OPT_TENANT | CLI_OPT_ROLE, &o);
	if (ret >= 0)
		return ret;
	if (!url)
		url = getenv("PRIVREG_PUBLIC_URL");
	if (!url || !*url)
		url = "http://127.0.0.1:8080";
	const char *sub = o.argc ? o.argv[0] : "";
	const char *email = o.argc > 1 ? o.argv[1] : "";
	bool add = !strcmp(sub, "add") && o.argc == 2;
	bool list = !strcmp(sub, "list") && o.argc == 1;
	bool disable = !strcmp(sub, "disable") && o.argc == 2;
	bool invite = !strcmp(sub, "invite") && o.argc == 2;
	if (!add && !list && !disable && !invite) {
		cli_usage_error("user", "expected 'user add EMAIL --role R', 'user list', 'user disable EMAIL' or "
		                        "'user invite EMAIL'");
		return CLI_USAGE;
	}
	if (add && (!o.role || apikey_role(o.role) < 0)) {
		cli_usage_error("user", "--role must be one of admin, dpo, support, marketing, auditor");
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (ret)
		return ret;
	struct core_ctx c = {.store = r.store, .tenant = t};
	struct errbuf eb = {""};
	char token[USER_TOKEN_LEN + 1] = "";
	enum rc rc;
	if (add) {
		char id[TOKEN_ID_MAX];
		rc = user_add(&c, email, o.role, id, token, &eb);
		if (!rc) {
			printf("user %s: %s, role %s, tenant %s; the link is shown only now\n", id, email, o.role, t->name);
			print_link(url, token);
		}
	} else if (invite) {
		rc = user_reinvite(&c, email, token, &eb);
		if (!rc)
			print_link(url, token);
	} else if (list) {
		struct store_user *v = NULL;
		size_t n = 0;
		rc = user_list(&c, &v, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			char created[TIMEUTIL_DATETIME_LEN];
			timeutil_format_datetime(v[i].created_at, created);
			printf("%s %-9s %-8s created %s %s\n", v[i].user_id, v[i].role, v[i].status, created, v[i].email);
		}
		if (v)
			sodium_memzero(v, n * sizeof *v);
		free(v);
	} else {
		rc = user_disable(&c, email, &eb);
		if (!rc)
			printf("disabled %s\n", email);
	}
	sodium_memzero(token, sizeof token);
	cli_close(&r, t);
	return rc ? cli_fail("user", rc, &eb) : CLI_OK;
}
