"""Erasure after a PostgreSQL restore (issue #12): a register's database
copied with pg_dump and loaded back with pg_restore, older than the erasure
ledger, is refused by `privreg serve` and the CLI as a restored SQLite file
is; `privreg restore --reconcile` re-applies the erasures it lacks, and is
refused while a server serves the register. Real pg_dump and pg_restore,
on the test server. PostgreSQL only (the SQLite side: test_backup.py)."""
import os
import re
import subprocess

import pytest

from conftest import PG, Server, add_key
from test_backup import JAAN, MARI, OLD_ORDER, create, stopped

pytestmark = pytest.mark.skipif(not PG, reason="pg_dump/pg_restore of a PostgreSQL register "
                                               "(PRIVREG_TEST_STORE=postgresql)")

PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def store_url(register):
    conf = (register / "privreg.conf").read_text()
    return re.search(r"^store = (postgres\S+)$", conf, re.M).group(1)


def pg_dump(register, path):
    subprocess.run([f"{PG_BIN}/pg_dump", "-Fc", "-f", str(path), store_url(register)], check=True,
                   capture_output=True, timeout=120)


def pg_restore(register, path):
    """Puts the copy back in place of the register's tables, as docs/scaling.md says."""
    subprocess.run([f"{PG_BIN}/pg_restore", "--clean", "--if-exists", "--single-transaction", "--no-owner",
                    "-d", store_url(register), str(path)], check=True, capture_output=True, timeout=120)


def test_serve_refuses_a_pg_restored_database_older_than_its_ledger(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    try:
        mari = create(srv, admin, MARI)["id"]
        jaan = create(srv, admin, JAAN)["id"]
    finally:
        stopped(srv)
    dump = tmp_path / "old.dump"
    pg_dump(register, dump)
    privreg("subject", "delete", mari, "--dir", register, check=0)
    pg_restore(register, dump)
    # She is back in the database, and nothing shows her.
    with pytest.raises(RuntimeError) as e:
        Server(privreg, register)
    assert "older than its erasure ledger" in str(e.value) and "privreg restore --reconcile" in str(e.value)
    got = privreg("subject", "get", mari, "--dir", register)
    assert got.returncode != 0 and "Mari" not in got.stdout and "privreg restore --reconcile" in got.stderr, got
    # `privreg restore FILE` does not take a dump; it says what to do instead.
    got = privreg("restore", dump, "--dir", register)
    assert got.returncode != 0 and "pg_restore" in got.stderr and "--reconcile" in got.stderr, got
    out = privreg("restore", "--reconcile", "--dir", register, check=0).stdout
    assert re.search(rf"re-erased tenant default subject {mari} \(subject.delete, ledger entry 1\)", out), out
    assert "audit log of tenant default: intact" in out and "1 erasure re-applied" in out, out
    assert jaan not in out
    assert privreg("subject", "find", "email", "mari.tamm@example.ee", "--dir", register, check=0).stdout.strip() == ""
    srv = Server(privreg, register)
    try:
        assert srv.request("GET", f"/v1/subjects/{mari}", admin).status_code == 404
        assert srv.request("GET", f"/v1/subjects/{jaan}", admin).status_code == 200
    finally:
        stopped(srv)
    # Reconciled once: a second run has nothing to do.
    assert "0 erasures re-applied" in privreg("restore", "--reconcile", "--dir", register, check=0).stdout


def test_reconcile_replays_request_erasures_and_the_sweep_after_pg_restore(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    try:
        mari = create(srv, admin, MARI)["id"]
        jaan = create(srv, admin, JAAN + [OLD_ORDER])["id"]
        dump = tmp_path / "old.dump"
        pg_dump(register, dump)
        r = srv.request("POST", "/v1/requests", admin, json={"type": "erasure", "subject_id": mari,
                                                             "verified_by": "id card"})
        assert r.status_code == 201, r.text
        r = srv.request("POST", f"/v1/requests/{r.json()['id']}/complete", admin, json={})
        assert r.status_code == 200, r.text
    finally:
        stopped(srv)
    assert "order" in privreg("sweep", "--dir", register, check=0).stdout
    pg_restore(register, dump)
    assert privreg("sweep", "--dir", register).returncode != 0  # no command writes to it before
    out = privreg("restore", "--reconcile", "--dir", register, check=0).stdout
    assert re.search(rf"subject {mari} \(subject.erase, ledger entry 1\)", out), out
    assert re.search(rf"subject {jaan} record rec_\w+ \(retention.anonymize, ledger entry 2\)", out), out
    assert "2 erasures re-applied" in out
    assert privreg("subject", "get", mari, "--dir", register).returncode == 1
    kinds = [r["kind"] for r in privreg.json("subject", "get", jaan, "--dir", register)["records"]]
    assert kinds == ["account"]
    assert "intact" in privreg("audit", "verify", "--dir", register, check=0).stdout


def test_reconcile_is_refused_while_a_server_serves_the_register(privreg, register):
    a = Server(privreg, register, log_name="a.log")
    b = Server(privreg, register, log_name="b.log")  # two servers on one PostgreSQL register, as meant
    try:
        got = privreg("restore", "--reconcile", "--dir", register)
        assert got.returncode == 3 and "stop" in got.stderr and "serv" in got.stderr, got
        assert privreg("key", "rotate", "--dir", register).returncode == 3
    finally:
        stopped(a)
    try:
        assert privreg("restore", "--reconcile", "--dir", register).returncode == 3  # b still serves
    finally:
        stopped(b)
    assert "0 erasures re-applied" in privreg("restore", "--reconcile", "--dir", register, check=0).stdout
    # While a restore holds the register, no server starts on it.
    lock = open(register / "privreg.lock", "a")
    try:
        import fcntl
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(RuntimeError) as e:
            Server(privreg, register)
        assert "privreg.lock" in str(e.value), str(e.value)
    finally:
        lock.close()


def test_restore_of_a_file_says_what_to_do_first(privreg, register, tmp_path):
    """`privreg restore FILE` on a PostgreSQL register answers with what to do
    instead (pg_restore, then --reconcile), whatever FILE is and while
    servers run: not that FILE is unreadable, nor to stop the servers. The
    commands that need the register to itself are refused while one runs;
    the others keep working beside it."""
    dump = tmp_path / "old.dump"
    pg_dump(register, dump)
    srv = Server(privreg, register)
    try:
        for f in (tmp_path / "no-such.dump", dump):
            got = privreg("restore", f, "--dir", register)
            assert got.returncode == 3 and "pg_restore" in got.stderr and "--reconcile" in got.stderr, got
            assert "cannot read" not in got.stderr and "being served" not in got.stderr, got
        for cmd in (("restore", "--reconcile"), ("key", "rotate"), ("migrate", "--to", f"sqlite:{tmp_path}/x.db")):
            got = privreg(*cmd, "--dir", register)
            assert got.returncode == 3 and "is being served" in got.stderr and "privreg.lock" in got.stderr, (cmd, got)
        assert "intact" in privreg("audit", "verify", "--dir", register, check=0).stdout
        add_key(privreg, register, "dpo")
    finally:
        stopped(srv)
    got = privreg("restore", tmp_path / "no-such.dump", "--dir", register)
    assert got.returncode == 3 and "pg_restore" in got.stderr and "cannot read" not in got.stderr, got
