/* cli_key: `privreg key add|list|revoke`: staff API keys, stored only as
 * hashes; `privreg key rotate`: the tenant's wrapping key (core/backup.h). */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "cli/cli.h"
#include "core/apikey.h"
#include "core/backup.h"
#include "core/tenant.h"
#include "crypto/token.h"
#include "store/store.h"

static const char key_help[] =
	"usage: privreg key add --role ROLE [--tenant T] [--dir D]\n"
	"       privreg key list [--tenant T] [--dir D]\n"
	"       privreg key revoke KEY_ID [--tenant T] [--dir D]\n"
	"       privreg key rotate [--resume] [--tenant T | --all] [--dir D]\n\n"
	"Roles: admin, dpo, support, marketing, auditor. 'add' prints the new key\n"
	"once, as the last word of its last line; only its hash is stored.\n"
	"'rotate' rotates one tenant: T, or 'default' without --tenant; --all\n"
	"rotates every tenant of the register, one after the other. For each it\n"
	"starts a new epoch of the tenant's wrapping key (a new key file\n"
	"DIR/keys/T.epoch-N.key), wraps every subject key again under it, and\n"
	"destroys the key of each older epoch once the epoch after it is older\n"
	"than the policy's backups.keep: database copies from that epoch can then\n"
	"no longer be read. --resume finishes an interrupted rotation without\n"
	"starting an epoch. The server must be stopped (it holds the keys it\n"
	"loaded); with backups.keep in the policy the server rotates by itself.\n";

static int rotate_one(struct cli_register *r, const char *tenant, bool resume)
{
	struct tenant *t = NULL;
	int ret = cli_tenant_open(r, tenant, &t); /* checks the register and the tenant first */
	tenant_free(t);
	if (ret)
		return ret;
	struct backup_rotation rot;
	struct errbuf eb = {""};
	enum rc rc = backup_rotate(r->store, r->keydir, tenant, !resume, 0, &rot, &eb);
	if (rc)
		return cli_fail("key rotate", rc, &eb);
	printf("tenant %s: epoch %" PRIu32 "%s; %zu subject key%s wrapped again", tenant, rot.epoch,
	       rot.rotated ? " started" : " is current", rot.rewrapped, rot.rewrapped == 1 ? "" : "s");
	if (rot.unreadable)
		printf(", %zu under an expired epoch", rot.unreadable);
	for (size_t i = 0; i < rot.ndestroyed; i++)
		printf("%s%" PRIu32, i ? ", " : "; destroyed the key of epoch ", rot.destroyed[i]);
	printf("\n");
	return CLI_OK;
}

/* One tenant (o->tenant), or with all every tenant in turn: a rotation
 * is per tenant, each under its own key file, and one that fails stops
 * the rest (each is whole: the ones before it stay rotated). */
static int rotate(const struct cli_opts *o, bool resume, bool all)
{
	int lock = -1;
	int ret = cli_register_lock(o->dir, "key rotate", &lock);
	if (ret)
		return ret;
	struct cli_register r;
	ret = cli_register_open(&r, o->dir);
	if (ret) {
		close(lock);
		return ret;
	}
	if (!all) {
		ret = rotate_one(&r, o->tenant, resume);
	} else {
		struct store_tenant *v = NULL;
		size_t n = 0;
		enum rc rc = tenant_list(r.store, &v, &n);
		ret = rc ? cli_fail("key rotate", rc, NULL) : CLI_OK;
		for (size_t i = 0; !ret && i < n; i++)
			ret = rotate_one(&r, v[i].name, resume);
		store_tenants_free(v, n);
	}
	cli_register_close(&r);
	close(lock);
	return ret;
}

int cli_key(int argc, char **argv)
{
	struct cli_opts o;
	static const char *const flags[] = {"--resume", "--all", NULL};
	bool found[2];
	cli_take_flags(&argc, argv, flags, found);
	bool resume = found[0], all = found[1];
	int ret = cli_parse(argc, argv, "key", key_help, CLI_OPT_DIR | CLI_OPT_TENANT | CLI_OPT_ROLE, &o);
	if (ret >= 0)
		return ret;
	const char *role = o.role;
	const char *sub = o.argc ? o.argv[0] : "";
	const char *key_id = o.argc > 1 ? o.argv[1] : "";
	bool add = !strcmp(sub, "add") && o.argc == 1;
	bool list = !strcmp(sub, "list") && o.argc == 1;
	bool revoke = !strcmp(sub, "revoke") && o.argc == 2;
	bool tenant_given = false;
	for (int i = 1; i < argc; i++)
		tenant_given = tenant_given || !strcmp(argv[i], "--tenant") || !strncmp(argv[i], "--tenant=", 9);
	if (all && (strcmp(sub, "rotate") || tenant_given)) {
		cli_usage_error("key", "--all goes with 'key rotate', without --tenant");
		return CLI_USAGE;
	}
	if (!strcmp(sub, "rotate") && o.argc == 1)
		return rotate(&o, resume, all);
	if (!add && !list && !revoke) {
		cli_usage_error("key", "expected 'key add --role R', 'key list', 'key revoke KEY_ID' or 'key rotate'");
		return CLI_USAGE;
	}
	if (resume) {
		cli_usage_error("key", "--resume goes with 'key rotate'");
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
