/* cli_init: `privreg init` and `privreg tenant add|list`. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_policy.h"
#include "core/mail.h"
#include "store/store.h"

static const char init_help[] =
	"usage: privreg init [--dir D] --policy FILE [--store URL] [--tenant NAME]\n\n"
	"Creates a register in directory D (default: .): the database, the key\n"
	"directory D/keys with the tenant's master key (mode 0600), and the tenant\n"
	"NAME (default: default) running under the policy FILE, after checking it.\n"
	"--store is sqlite:PATH (default: sqlite:privreg.db inside D) or a PostgreSQL\n"
	"URL, postgresql://USER@HOST:PORT/DB (its password from PGPASSWORD, PGPASSFILE\n"
	"or ~/.pgpass, never in the URL). A database that holds a register already\n"
	"is refused (exit 2), with nothing written: init never joins a register\n"
	"(another server of it serves the same directory D; another tenant is\n"
	"'privreg tenant add'). Only init creates a store: every other command\n"
	"refuses one that holds no register.\n\n"
	"Back up D/keys: without its key file a tenant's data cannot be read.\n";

/* Makes path (mode 0700) unless it exists; *made says whether it did, so
 * that a failed init takes away only what it made. */
static int mkdir_private(const char *path, bool *made)
{
	*made = false;
	if (mkdir(path, 0700) == 0) {
		*made = true;
		return 0;
	}
	if (errno == EEXIST)
		return 0;
	fprintf(stderr, "privreg: cannot create directory %s: %s\n", path, strerror(errno));
	return -1;
}

/* A failed init leaves nothing behind of what it made: the key directory
 * it created (with the key and note files written into it: nobody else's
 * files are there), the SQLite file it created, the directory. */
static void undo_init(const char *dir, bool made_dir, const char *keydir, bool made_keydir, const char *sqlite_path)
{
	if (made_keydir) {
		DIR *d = opendir(keydir);
		struct dirent *e;
		char p[4400];
		while (d && (e = readdir(d)))
			if (e->d_name[0] != '.' && snprintf(p, sizeof p, "%s/%s", keydir, e->d_name) < (int)sizeof p)
				unlink(p);
		if (d)
			closedir(d);
		rmdir(keydir);
	}
	if (sqlite_path) {
		static const char *const suffixes[] = {"", "-wal", "-shm", "-journal"};
		char p[4400];
		for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
			if (snprintf(p, sizeof p, "%s%s", sqlite_path, suffixes[i]) < (int)sizeof p)
				unlink(p);
	}
	if (made_dir)
		rmdir(dir);
}

static int write_conf(const char *dir, const char *store_url)
{
	char path[4200], tmp[4300];
	snprintf(path, sizeof path, "%s/%s", dir, CLI_CONF);
	snprintf(tmp, sizeof tmp, "%s.tmp", path);
	/* 0600 whatever the umask: it names the store. An old temporary file
	 * keeps the mode it was made with, so the mode is set again. */
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	FILE *f = fchmod(fd, 0600) == 0 ? fdopen(fd, "w") : NULL;
	if (!f) {
		close(fd);
		unlink(tmp);
		return -1;
	}
	fprintf(f, "# privreg register configuration\nstore = %s\n", store_url);
	if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
		fclose(f);
		unlink(tmp);
		return -1;
	}
	fclose(f);
	return rename(tmp, path);
}

int cli_init(int argc, char **argv)
{
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "init", init_help,
	                    CLI_OPT_DIR | CLI_OPT_POLICY | CLI_OPT_STORE | CLI_OPT_TENANT, &o);
	if (ret >= 0)
		return ret;
	const char *dir = o.dir, *policy_path = o.policy, *tenant = o.tenant;
	const char *store_url = o.store ? o.store : "sqlite:privreg.db";
	if (!policy_path || o.argc) {
		cli_usage_error("init", "needs --policy FILE and no other arguments");
		return CLI_USAGE;
	}
	bool pg = core_store_shared(store_url);
	if (strncmp(store_url, "sqlite:", 7) && !pg) {
		cli_usage_error("init", "--store must be sqlite:PATH or postgresql://USER@HOST:PORT/DB");
		return CLI_USAGE;
	}
	if (pg) {
		/* A URL that could never be opened (one with a password) is refused
		 * before the directory is made. */
		struct store_pool *p = NULL;
		struct errbuf peb = {""};
		enum rc prc = store_pool_new(store_url, &p, &peb);
		store_pool_free(p);
		if (prc)
			return cli_fail("init", prc, &peb);
	}
	char *source = NULL;
	struct mail_templates *mail = NULL;
	ret = cli_policy_check_file(policy_path, &source, &mail);
	if (ret)
		return ret;
	char conf[4200];
	snprintf(conf, sizeof conf, "%s/%s", dir, CLI_CONF);
	if (access(conf, F_OK) == 0) {
		fprintf(stderr, "privreg: %s is a register already (%s exists)\n", dir, conf);
		free(source);
		mail_templates_free(mail);
		return CLI_REFUSED;
	}
	struct cli_register r = {0};
	snprintf(r.dir, sizeof r.dir, "%s", dir);
	snprintf(r.keydir, sizeof r.keydir, "%s/keys", dir);
	bool made_dir = false, made_keydir = false;
	if (mkdir_private(dir, &made_dir) || mkdir_private(r.keydir, &made_keydir)) {
		undo_init(dir, made_dir, r.keydir, false, NULL);
		free(source);
		mail_templates_free(mail);
		return CLI_FAILED;
	}
	char url[4400];
	if (pg)
		snprintf(url, sizeof url, "%s", store_url);
	else if (store_url[7] != '/')
		snprintf(url, sizeof url, "sqlite:%s/%s", dir, store_url + 7);
	else
		snprintf(url, sizeof url, "%s", store_url);
	/* A SQLite file this init makes goes again if it fails. */
	bool made_file = !pg && access(url + 7, F_OK) != 0 && errno == ENOENT;
	struct errbuf eb = {""};
	/* A database that holds a register already is refused before anything
	 * is written to it. */
	enum rc rc = core_register_create(url, &r.store, &eb);
	if (rc) {
		undo_init(dir, made_dir, r.keydir, made_keydir, made_file ? url + 7 : NULL);
		free(source);
		mail_templates_free(mail);
		if (rc != RC_EXISTS)
			return cli_fail("cannot create the store", rc, &eb);
		/* init makes a register; a second one in the same database would
		 * share its tables (and block its restore and migrate). */
		fprintf(stderr, "privreg: init: %s\n", err_msg(&eb, rc));
		fprintf(stderr, "privreg: init: nothing was written. init makes a new register in an empty database: "
		        "to add a tenant to that register, run 'privreg tenant add NAME --policy FILE --dir DIR' with its "
		        "register directory; to run another server of it, serve that same directory (its privreg.conf, "
		        "keys/ and ledger/: docs/scaling.md, \"What runs where\")\n");
		return CLI_USAGE;
	}
	int64_t id;
	rc = tenant_create_with_mail(r.store, r.keydir, tenant, source, mail, &id, &eb);
	free(source);
	/* A tenant that was not created leaves nothing of it (its transaction
	 * rolled back): what this init made goes. Once it exists, its key file
	 * is all that reads it, and stays. */
	bool created = !rc;
	if (!rc)
		rc = tenant_note_policy_dir(r.keydir, tenant, policy_path, &eb);
	mail_templates_free(mail);
	cli_register_close(&r);
	if (rc) {
		if (!created)
			undo_init(dir, made_dir, r.keydir, made_keydir, made_file ? url + 7 : NULL);
		return cli_fail("init", rc, &eb);
	}
	if (write_conf(dir, store_url) != 0) {
		fprintf(stderr, "privreg: cannot write %s: %s\n", conf, strerror(errno));
		return CLI_FAILED;
	}
	printf("initialised register %s: tenant '%s' under policy %s, store %s\n", dir, tenant, policy_path, store_url);
	printf("keep a backup of %s/keys/%s.key: without it the data cannot be read\n", dir, tenant);
	printf("back it up (and %s/ledger) apart from copies of the database: see docs/backup.md\n", dir);
	return CLI_OK;
}

static const char tenant_help[] =
	"usage: privreg tenant add NAME --policy FILE [--dir D]\n"
	"       privreg tenant policy NAME FILE [--dir D]\n"
	"       privreg tenant list [--dir D]\n"
	"       privreg tenant export NAME DIR [--dir D]\n"
	"       privreg tenant delete NAME [--yes] [--dir D]\n\n"
	"A tenant is one controller's register with its own policy and master key.\n"
	"'tenant policy' installs a new version of the tenant's policy (after\n"
	"checking it; its version label must be new) and e-mails a notice to every\n"
	"subject with an account. Every version stays in the register. A running\n"
	"server picks the new version up within a second.\n\n"
	"'tenant export' writes everything of the tenant, decrypted, to the new\n"
	"directory DIR: JSON and CSV per record kind, subjects, consents, requests,\n"
	"disclosures, holds, the audit log, and a README and manifest with counts\n"
	"and SHA-256 hashes. 'tenant delete' destroys the tenant's master key (the\n"
	"key file), then deletes all its rows, and writes a line (time, id, name,\n"
	"counts) to DIR/operator.log; without --yes it only says what it would\n"
	"delete.\n";

int cli_tenant(int argc, char **argv)
{
	struct cli_opts o;
	char *args[64];
	int nargs = 0;
	bool yes = false; /* tenant delete's confirmation */
	for (int i = 0; i < argc && nargs < 63; i++) {
		if (!strcmp(argv[i], "--yes"))
			yes = true;
		else
			args[nargs++] = argv[i];
	}
	args[nargs] = NULL;
	int ret = cli_parse(nargs, args, "tenant", tenant_help, CLI_OPT_DIR | CLI_OPT_POLICY, &o);
	if (ret >= 0)
		return ret;
	const char *dir = o.dir, *policy_path = o.policy;
	const char *sub = o.argc ? o.argv[0] : NULL;
	if (sub && (!strcmp(sub, "export") || !strcmp(sub, "delete")))
		return cli_tenant_admin(&o, yes);
	if (yes) {
		cli_usage_error("tenant", "only 'tenant delete' takes --yes");
		return CLI_USAGE;
	}
	if (sub && !strcmp(sub, "list") && o.argc == 1) {
		struct cli_register r;
		ret = cli_register_open(&r, dir);
		if (ret)
			return ret;
		struct store_tenant *v = NULL;
		size_t n = 0;
		enum rc rc = tenant_list(r.store, &v, &n);
		for (size_t i = 0; !rc && i < n; i++)
			printf("%s\n", v[i].name);
		store_tenants_free(v, n);
		cli_register_close(&r);
		return rc ? cli_fail("tenant list", rc, NULL) : CLI_OK;
	}
	if (sub && !strcmp(sub, "policy") && o.argc == 3) {
		char *source = NULL;
		struct mail_templates *mail = NULL;
		ret = cli_policy_check_file(o.argv[2], &source, &mail);
		if (ret)
			return ret;
		struct cli_register r;
		ret = cli_register_open(&r, dir);
		if (ret) {
			free(source);
			mail_templates_free(mail);
			return ret;
		}
		struct errbuf eb = {""};
		size_t notices = 0;
		enum rc rc = tenant_install_policy_with_mail(r.store, r.keydir, o.argv[1], source, mail, &notices, &eb);
		free(source);
		if (!rc)
			rc = tenant_note_policy_dir(r.keydir, o.argv[1], o.argv[2], &eb);
		mail_templates_free(mail);
		cli_register_close(&r);
		if (rc)
			return cli_fail("tenant policy", rc, &eb);
		printf("installed %s as the policy of tenant '%s'; %zu notice e-mails queued\n", o.argv[2], o.argv[1], notices);
		return CLI_OK;
	}
	if (!sub || strcmp(sub, "add") || o.argc != 2 || !policy_path) {
		cli_usage_error("tenant", "expected 'tenant add NAME --policy FILE', 'tenant policy NAME FILE', 'tenant list', "
		                           "'tenant export NAME DIR' or 'tenant delete NAME [--yes]'");
		return CLI_USAGE;
	}
	const char *name = o.argv[1];
	char *source = NULL;
	struct mail_templates *mail = NULL;
	ret = cli_policy_check_file(policy_path, &source, &mail);
	if (ret)
		return ret;
	struct cli_register r;
	ret = cli_register_open(&r, dir);
	if (ret) {
		free(source);
		mail_templates_free(mail);
		return ret;
	}
	struct errbuf eb = {""};
	int64_t id;
	enum rc rc = tenant_create_with_mail(r.store, r.keydir, name, source, mail, &id, &eb);
	free(source);
	if (!rc)
		rc = tenant_note_policy_dir(r.keydir, name, policy_path, &eb);
	mail_templates_free(mail);
	cli_register_close(&r);
	if (rc)
		return cli_fail("tenant add", rc, &eb);
	printf("added tenant '%s' under policy %s; its key file is %s/keys/%s.key\n", name, policy_path, dir, name);
	return CLI_OK;
}
