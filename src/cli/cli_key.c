/* cli_key: `privreg key add|list|revoke`: staff API keys, stored only as hashes. */
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
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "key", key_help, CLI_OPT_DIR | CLI_OPT_TENANT | CLI_OPT_ROLE, &o);
	if (ret >= 0)
		return ret;
	const char *tenant_name = o.tenant, *role = o.role;
	const char *sub = o.argc ? o.argv[0] : "";
	const char *key_id = o.argc > 1 ? o.argv[1] : "";
	bool add = !strcmp(sub, "add") && o.argc == 1;
	bool list = !strcmp(sub, "list") && o.argc == 1;
	bool revoke = !strcmp(sub, "revoke") && o.argc == 2;
	if (!add && !list && !revoke) {
		cli_usage_error("key", "expected 'key add --role R', 'key list' or 'key revoke KEY_ID'");
		return CLI_USAGE;
	}
	if (add && (!role || !role_valid(role))) {
		cli_usage_error("key", "--role must be one of admin, dpo, support, marketing, auditor");
		return CLI_USAGE;
	}
	struct cli_register r;
	ret = cli_register_open(&r, o.dir);
	if (ret)
		return ret;
	struct store_tenant t = {0};
	enum rc rc = store_tenant_find(r.store, tenant_name, &t);
	if (rc) {
		fprintf(stderr, "privreg: no tenant '%s' in %s\n", tenant_name, o.dir);
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
		rc = store_apikey_revoke(r.store, t.id, key_id, timeutil_now());
		if (!rc)
			printf("revoked key %s\n", key_id);
	}
	store_tenant_fini(&t);
	cli_register_close(&r);
	if (rc == RC_NOT_FOUND)
		fprintf(stderr, "privreg: no valid key '%s' in tenant '%s'\n", key_id, tenant_name);
	return rc == RC_NOT_FOUND ? CLI_REFUSED : rc ? cli_fail("key", rc, NULL) : CLI_OK;
}
