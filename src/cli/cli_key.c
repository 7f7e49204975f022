/* cli_key: `privreg key add|list|revoke`: staff API keys, stored only as hashes. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/apikey.h"
#include "crypto/token.h"
#include "store/store.h"

static const char key_help[] =
	"usage: privreg key add --role ROLE [--tenant T] [--dir D]\n"
	"       privreg key list [--tenant T] [--dir D]\n"
	"       privreg key revoke KEY_ID [--tenant T] [--dir D]\n\n"
	"Roles: admin, dpo, support, marketing, auditor. 'add' prints the new key\n"
	"once, as the last word of its last line; only its hash is stored.\n";

int cli_key(int argc, char **argv)
{
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "key", key_help, CLI_OPT_DIR | CLI_OPT_TENANT | CLI_OPT_ROLE, &o);
	if (ret >= 0)
		return ret;
	const char *role = o.role;
	const char *sub = o.argc ? o.argv[0] : "";
	const char *key_id = o.argc > 1 ? o.argv[1] : "";
	bool add = !strcmp(sub, "add") && o.argc == 1;
	bool list = !strcmp(sub, "list") && o.argc == 1;
	bool revoke = !strcmp(sub, "revoke") && o.argc == 2;
	if (!add && !list && !revoke) {
		cli_usage_error("key", "expected 'key add --role R', 'key list' or 'key revoke KEY_ID'");
		return CLI_USAGE;
	}
	if (add && (!role || apikey_role(role) < 0)) {
		cli_usage_error("key", "--role must be one of admin, dpo, support, marketing, auditor");
		return CLI_USAGE;
	}
	struct cli_register r;
	struct tenant *t = NULL;
	ret = cli_open(&o, &r, &t);
	if (ret)
		return ret;
	struct core_ctx c = {.store = r.store, .tenant = t};
	struct errbuf eb = {""};
	enum rc rc;
	if (add) {
		char key[TOKEN_APIKEY_MAX], id[TOKEN_KEY_ID_LEN + 1];
		rc = apikey_create(&c, role, id, key, &eb);
		if (!rc) {
			printf("key %s: role %s, tenant %s; it is shown only now, keep it secret\n", id, role, t->name);
			printf("API key: %s\n", key);
		}
		sodium_memzero(key, sizeof key);
	} else if (list) {
		struct store_apikey *v = NULL;
		size_t n = 0;
		rc = apikey_list(&c, &v, &n);
		for (size_t i = 0; !rc && i < n; i++) {
			char created[TIMEUTIL_DATETIME_LEN], revoked[TIMEUTIL_DATETIME_LEN] = "-";
			timeutil_format_datetime(v[i].created_at, created);
			if (v[i].revoked_at)
				timeutil_format_datetime(v[i].revoked_at, revoked);
			printf("%s %-9s created %s revoked %s\n", v[i].key_id, v[i].role, created, revoked);
		}
		store_apikeys_free(v, n);
	} else {
		rc = apikey_revoke(&c, key_id, &eb);
		if (!rc)
			printf("revoked key %s\n", key_id);
	}
	cli_close(&r, t);
	return rc ? cli_fail("key", rc, &eb) : CLI_OK;
}
