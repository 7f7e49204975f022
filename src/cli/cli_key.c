/* cli_key: `privreg key add|list|revoke`: staff API keys, stored only as hashes. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "crypto/token.h"
#include "store/store.h"

static const char key_help[] =
	"usage: privreg key add --role ROLE [--tenant T] [--dir D]\n"
	"       privreg key list [--tenant T] [--dir D]\n"
	"       privreg key revoke KEY_ID [--tenant T] [--dir D]\n\n"
	"Roles: admin, dpo, support, marketing, auditor. 'add' prints the new key\n"
	"once, as the last word of its last line; only its hash is stored.\n";

static const char *const roles[] = {"admin", "dpo", "support", "marketing", "auditor", NULL};

static bool role_valid(const char *r)
{
	for (const char *const *p = roles; *p; p++)
		if (!strcmp(*p, r))
			return true;
	return false;
}

int cli_key(int argc, char **argv)
{
	const char *dir = CLI_DEFAULT_DIR, *tenant_name = CLI_DEFAULT_TENANT, *role = NULL;
	static const struct option opts[] = {
		{"dir", required_argument, NULL, 'd'}, {"tenant", required_argument, NULL, 't'},
		{"role", required_argument, NULL, 'r'}, {"help", no_argument, NULL, 'h'}, {0},
	};
	int o;
	optind = 0;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'd': dir = optarg; break;
		case 't': tenant_name = optarg; break;
		case 'r': role = optarg; break;
		case 'h': fputs(key_help, stdout); return CLI_OK;
		default: cli_usage_error("key", "unknown option"); return CLI_USAGE;
		}
	}
	const char *sub = optind < argc ? argv[optind] : "";
	bool add = !strcmp(sub, "add") && optind + 1 == argc;
	bool list = !strcmp(sub, "list") && optind + 1 == argc;
	bool revoke = !strcmp(sub, "revoke") && optind + 2 == argc;
	if (!add && !list && !revoke) {
		cli_usage_error("key", "expected 'key add --role R', 'key list' or 'key revoke KEY_ID'");
		return CLI_USAGE;
	}
	if (add && (!role || !role_valid(role))) {
		cli_usage_error("key", "--role must be one of admin, dpo, support, marketing, auditor");
		return CLI_USAGE;
	}
	struct cli_register r;
	int ret = cli_register_open(&r, dir);
	if (ret)
		return ret;
	struct store_tenant t = {0};
	enum rc rc = store_tenant_find(r.store, tenant_name, &t);
	if (rc) {
		fprintf(stderr, "privreg: no tenant '%s' in %s\n", tenant_name, dir);
		cli_register_close(&r);
		return CLI_REFUSED;
	}
	if (add) {
		struct store_apikey k = {.tenant_id = t.id, .role = (char *)role, .created_at = timeutil_now()};
		char key[TOKEN_APIKEY_MAX];
		token_apikey_new(k.key_id, key, k.hash);
		rc = store_apikey_insert(r.store, &k);
		if (!rc) {
			printf("key %s: role %s, tenant %s; it is shown only now, keep it secret\n", k.key_id, role, t.name);
			printf("API key: %s\n", key);
		}
		sodium_memzero(key, sizeof key);
	} else if (list) {
		struct store_apikey *v = NULL;
		size_t n = 0;
		rc = store_apikey_list(r.store, t.id, &v, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			char created[TIMEUTIL_DATETIME_LEN], revoked[TIMEUTIL_DATETIME_LEN] = "-";
			timeutil_format_datetime(v[i].created_at, created);
			if (v[i].revoked_at)
				timeutil_format_datetime(v[i].revoked_at, revoked);
			printf("%s %-9s created %s revoked %s\n", v[i].key_id, v[i].role, created, revoked);
		}
		store_apikeys_free(v, n);
	} else {
		rc = store_apikey_revoke(r.store, t.id, argv[optind + 1], timeutil_now());
		if (!rc)
			printf("revoked key %s\n", argv[optind + 1]);
	}
	store_tenant_fini(&t);
	cli_register_close(&r);
	if (rc == RC_NOT_FOUND)
		fprintf(stderr, "privreg: no valid key '%s' in tenant '%s'\n", argv[optind + 1], tenant_name);
	return rc == RC_NOT_FOUND ? CLI_REFUSED : rc ? cli_fail("key", rc, NULL) : CLI_OK;
}
