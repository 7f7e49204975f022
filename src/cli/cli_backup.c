/*
 * cli_backup: `privreg backup FILE` and `privreg restore FILE|--reconcile`.
 *
 * A backup is taken online, beside a running server: one consistent
 * snapshot of the database, which records how far into each tenant's
 * erasure ledger it is. The key directory and the ledger are not in it, on
 * purpose (docs/backup.md). A restore replaces the database and then
 * re-applies every erasure the ledger holds beyond the copy, so it needs the
 * register to itself: it takes the server's lock (DIR/privreg.lock) and is
 * refused while a server holds it. A PostgreSQL register is copied with
 * PostgreSQL's tools: `restore FILE` refuses it first, before it looks at
 * the file or the lock, and only --reconcile applies there.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/cli_config.h"
#include "core/backup.h"
#include "core/ctx.h"
#include "store/store.h"

static const char backup_help[] =
	"usage: privreg backup FILE [--dir D]\n\n"
	"Writes a consistent copy of the register's database to FILE (a new file,\n"
	"mode 0600), while the server runs. The copy records how far into each\n"
	"tenant's erasure ledger it is, so that 'privreg restore' re-applies\n"
	"every erasure made after it. The copy holds no key: back up the key\n"
	"directory (DIR/keys) and the ledger (DIR/ledger) separately, never\n"
	"beside the copy (see docs/backup.md).\n";

static const char restore_help[] =
	"usage: privreg restore FILE [--dir D]\n"
	"       privreg restore --reconcile [--dir D]\n\n"
	"Replaces the register's database with the copy FILE (made by 'privreg\n"
	"backup'), verifies each tenant's audit chain in it, and re-applies every\n"
	"erasure of the erasure ledger (DIR/ledger) newer than the copy: nobody\n"
	"erased since comes back. It prints what it re-erased (ids only).\n"
	"--reconcile does the last two steps on the database in place (after a\n"
	"database was copied back by other means, or an erasure was cut short by\n"
	"a crash). The server must be stopped: a restore takes DIR/privreg.lock.\n"
	"A PostgreSQL register takes no FILE: load a pg_dump copy with\n"
	"pg_restore, then run --reconcile (docs/scaling.md).\n"
	"A copy older than the policy's backups.keep may hold subjects whose key\n"
	"epoch has expired: their data cannot be read, and the restore deletes\n"
	"what the ledger names of them.\n";

int cli_backup(int argc, char **argv)
{
	struct cli_opts o;
	int ret = cli_parse(argc, argv, "backup", backup_help, CLI_OPT_DIR, &o);
	if (ret >= 0)
		return ret;
	if (o.argc != 1) {
		cli_usage_error("backup", "expected one FILE to write the copy to");
		return CLI_USAGE;
	}
	struct cli_register r;
	ret = cli_register_open(&r, o.dir);
	if (ret)
		return ret;
	struct errbuf eb = {""};
	enum rc rc = backup_take(r.store, o.argv[0], &eb);
	cli_register_close(&r);
	if (rc)
		return cli_fail("backup", rc, &eb);
	printf("backup written to %s (keys and erasure ledger not included: back them up separately)\n", o.argv[0]);
	return CLI_OK;
}

static void print_replayed(void *arg, const char *tenant, const struct ledger_entry *e)
{
	(void)arg;
	printf("re-erased tenant %s subject %s%s%s (%s, ledger entry %" PRId64 ")\n", tenant, e->subject,
	       e->record[0] ? " record " : "", e->record, ledger_kind_name(e->kind), e->seq);
}

static void print_audit(void *arg, const char *tenant, bool intact, int64_t entries, int64_t first_bad)
{
	(void)arg;
	if (intact)
		printf("audit log of tenant %s: intact, %" PRId64 " entries\n", tenant, entries);
	else
		printf("audit log of tenant %s: BROKEN at entry %" PRId64 " (%" PRId64 " entries before it are intact)\n",
		       tenant, first_bad, entries);
}

int cli_restore(int argc, char **argv)
{
	static const char *const flags[] = {"--reconcile", NULL};
	bool found[1];
	struct cli_opts o;
	cli_take_flags(&argc, argv, flags, found);
	int ret = cli_parse(argc, argv, "restore", restore_help, CLI_OPT_DIR, &o);
	if (ret >= 0)
		return ret;
	bool reconcile = found[0];
	if (reconcile ? o.argc != 0 : o.argc != 1) {
		cli_usage_error("restore", "expected 'restore FILE' or 'restore --reconcile'");
		return CLI_USAGE;
	}
	const char *file = reconcile ? NULL : o.argv[0];
	/* A PostgreSQL register is never restored from a FILE, whatever the file
	 * and whether servers run: what to do instead comes first. */
	if (file) {
		char url[sizeof ((struct cli_register *)0)->store_url] = "";
		struct cli_config cc;
		cli_config_init(&cc, o.dir);
		ret = cli_conf_read(o.dir, &cc, url, sizeof url);
		cli_config_fini(&cc);
		if (ret)
			return ret;
		struct errbuf eb = {""};
		if (core_store_shared(url))
			return cli_fail("restore", err_set(&eb, RC_UNSUPPORTED, "the register lives in PostgreSQL, and "
			                "'privreg restore FILE' copies a SQLite file: load a pg_dump copy with pg_restore "
			                "(every server stopped), then run 'privreg restore --reconcile'; see "
			                "docs/scaling.md"), &eb);
	}
	if (file && access(file, R_OK) != 0) {
		fprintf(stderr, "privreg: restore: cannot read %s\n", file);
		return CLI_FAILED;
	}
	int lock = -1;
	ret = cli_register_lock(o.dir, "restore", &lock);
	if (ret)
		return ret;
	struct cli_register r;
	/* restore FILE replaces the database: one that is lost or empty is
	 * what it is for. */
	ret = file ? cli_register_open_to_replace(&r, o.dir) : cli_register_open(&r, o.dir);
	if (ret) {
		close(lock);
		return ret;
	}
	struct errbuf eb = {""};
	enum rc rc = RC_OK;
	if (file) {
		rc = backup_restore(r.store, file, &eb);
		cli_register_close(&r);
		if (rc) {
			close(lock);
			return cli_fail("restore", rc, &eb);
		}
		/* Opened again: an older copy is migrated now. */
		ret = cli_register_open(&r, o.dir);
		if (ret) {
			close(lock);
			return ret;
		}
		printf("restored the database from %s\n", file);
	}
	struct backup_reconcile_report rep = {.replayed = print_replayed, .audit = print_audit};
	rc = backup_reconcile(r.store, r.keydir, &rep, &eb);
	cli_register_close(&r);
	close(lock);
	if (rc)
		return cli_fail("restore", rc, &eb);
	printf("%zu erasure%s re-applied from the erasure ledger\n", rep.replayed_n, rep.replayed_n == 1 ? "" : "s");
	if (rep.audit_broken) {
		fprintf(stderr, "privreg: restore: the erasures are applied, but an audit log of the copy is broken: "
		        "the copy was altered; see 'privreg audit verify'\n");
		return CLI_REFUSED;
	}
	return CLI_OK;
}
