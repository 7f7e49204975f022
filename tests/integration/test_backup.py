"""Erasure that survives restores (issue #11, items 1 and 2): the erasure
ledger replayed by `privreg restore`, `privreg backup` taken online, a server
that refuses a database older than its ledger, and key epochs whose
expiry makes copies older than the backup retention unreadable."""
import json
import os
import pathlib
import re
import shutil
import sqlite3
import stat
import threading
import time

import pytest

from conftest import WEBSHOP, Server, add_key

MARI = [{"kind": "account", "fields": {"email": "Mari.Tamm@Example.ee", "name": "Mari Tamm",
                                       "phone": "+372 5123 4567", "birth_date": "1988-04-12", "language": "et"}}]
JAAN = [{"kind": "account", "fields": {"email": "jaan.kask@example.ee", "name": "Jaan Kask", "language": "et"}}]
# An order kept "2 years after fulfilled", then anonymised (webshop.yaml): long due by now.
OLD_ORDER = {"kind": "order", "fields": {"name": "Jaan Kask", "delivery_address": "Pikk 1, Tallinn",
                                         "items": [{"sku": "KB-1", "qty": 1}], "amount": "49.90",
                                         "payment_method": "card"},
             "created_at": "2020-03-01T10:00:00Z", "events": {"fulfilled": "2020-03-02"}}


def create(srv, key, records):
    r = srv.request("POST", "/v1/subjects", key, json={"records": records})
    assert r.status_code == 201, r.text
    return r.json()


def stopped(srv):
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


def policy_with_backups(tmp_path, keep="35 days"):
    p = tmp_path / "webshop-backups.yaml"
    p.write_text(WEBSHOP.read_text() + f"\nbackups:\n  keep: {keep}\n")
    return p


@pytest.mark.sqlite_only('privreg backup/restore copy a SQLite file (PostgreSQL: pg_dump)')
def test_restore_replays_an_erasure_made_after_the_backup(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    try:
        mari = create(srv, admin, MARI)["id"]
        jaan = create(srv, admin, JAAN)["id"]
        backup = tmp_path / "old.db"
        out = privreg("backup", backup, "--dir", register, check=0).stdout
        assert "backup written" in out
        assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
        assert srv.request("DELETE", f"/v1/subjects/{mari}", admin).status_code == 204
    finally:
        stopped(srv)
    ledger = (register / "ledger" / "default.log").read_text()
    assert mari in ledger and "subject.delete" in ledger
    assert "Mari" not in ledger and "Tamm" not in ledger and "@" not in ledger  # ids only

    out = privreg("restore", backup, "--dir", register, check=0).stdout
    assert re.search(rf"re-erased tenant default subject {mari} \(subject.delete, ledger entry 1\)", out), out
    assert "audit log of tenant default: intact" in out
    assert jaan not in out
    # She is gone from the restored register; Jaan, created before the copy, is back.
    got = privreg("subject", "get", mari, "--dir", register)
    assert got.returncode == 1 and "Mari" not in got.stdout, got
    assert "Jaan Kask" in privreg("subject", "get", jaan, "--dir", register, check=0).stdout
    assert privreg("subject", "find", "email", "mari.tamm@example.ee", "--dir", register, check=0).stdout.strip() == ""
    db = sqlite3.connect(register / "privreg.db")
    assert db.execute("SELECT COUNT(*) FROM subjects").fetchone()[0] == 1
    db.close()
    # A second restore of the same copy does the same again; the server starts on it.
    assert mari in privreg("restore", backup, "--dir", register, check=0).stdout
    srv = Server(privreg, register)
    try:
        assert srv.request("GET", f"/v1/subjects/{mari}", admin).status_code == 404
    finally:
        stopped(srv)


@pytest.mark.sqlite_only('privreg backup/restore copy a SQLite file (PostgreSQL: pg_dump)')
def test_restore_replays_request_erasures_and_the_sweep(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    try:
        mari = create(srv, admin, MARI)["id"]
        jaan = create(srv, admin, JAAN + [OLD_ORDER])["id"]
        backup = tmp_path / "old.db"
        privreg("backup", backup, "--dir", register, check=0)
        r = srv.request("POST", "/v1/requests", admin, json={"type": "erasure", "subject_id": mari,
                                                             "verified_by": "id card"})
        assert r.status_code == 201, r.text
        req = r.json()["id"]
        r = srv.request("POST", f"/v1/requests/{req}/complete", admin, json={})
        assert r.status_code == 200, r.text
    finally:
        stopped(srv)
    swept = privreg("sweep", "--dir", register, check=0).stdout
    assert "order" in swept
    out = privreg("restore", backup, "--dir", register, check=0).stdout
    assert re.search(rf"subject {mari} \(subject.erase, ledger entry 1\)", out), out
    assert re.search(rf"subject {jaan} record rec_\w+ \(retention.anonymize, ledger entry 2\)", out), out
    assert "2 erasures re-applied" in out
    assert privreg("subject", "get", mari, "--dir", register).returncode == 1
    kinds = [r["kind"] for r in privreg.json("subject", "get", jaan, "--dir", register)["records"]]
    assert kinds == ["account"]
    ledger = (register / "ledger" / "default.log").read_text().splitlines()
    assert req in ledger[0]


@pytest.mark.sqlite_only('puts an older copy of the SQLite file in place')
def test_serve_refuses_a_database_older_than_its_ledger(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    try:
        mari = create(srv, admin, MARI)["id"]
    finally:
        stopped(srv)
    copy = tmp_path / "raw.db"
    privreg("backup", copy, "--dir", register, check=0)
    privreg("subject", "delete", mari, "--dir", register, check=0)
    # The copy goes back by hand, around privreg restore.
    for suffix in ("-wal", "-shm"):
        pathlib.Path(str(register / "privreg.db") + suffix).unlink(missing_ok=True)
    shutil.copyfile(copy, register / "privreg.db")
    with pytest.raises(RuntimeError) as e:
        Server(privreg, register)
    assert "older than its erasure ledger" in str(e.value) and "privreg restore --reconcile" in str(e.value)
    got = privreg("subject", "get", mari, "--dir", register)
    assert got.returncode != 0 and "Mari" not in got.stdout and "privreg restore --reconcile" in got.stderr
    out = privreg("restore", "--reconcile", "--dir", register, check=0).stdout
    assert f"subject {mari} (subject.delete" in out
    srv = Server(privreg, register)
    try:
        assert srv.request("GET", f"/v1/subjects/{mari}", admin).status_code == 404
    finally:
        stopped(srv)


@pytest.mark.sqlite_only('privreg backup/restore copy a SQLite file (PostgreSQL: pg_dump)')
def test_restore_is_refused_while_a_server_runs(privreg, register, tmp_path):
    backup = tmp_path / "old.db"
    privreg("backup", backup, "--dir", register, check=0)
    assert privreg("backup", backup, "--dir", register).returncode == 1  # never overwrites
    srv = Server(privreg, register)
    try:
        got = privreg("restore", backup, "--dir", register)
        assert got.returncode == 3 and "stop that server first" in got.stderr, got
        assert privreg("key", "rotate", "--dir", register).returncode == 3
    finally:
        stopped(srv)


def test_a_tampered_ledger_is_refused(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    try:
        ids = [create(srv, admin, MARI)["id"], create(srv, admin, JAAN)["id"]]
        for i in ids:
            assert srv.request("DELETE", f"/v1/subjects/{i}", admin).status_code == 204
    finally:
        stopped(srv)
    path = register / "ledger" / "default.log"
    lines = path.read_text().splitlines(keepends=True)
    assert len(lines) == 2
    path.write_text(lines[1])  # the first erasure removed
    got = privreg("restore", "--reconcile", "--dir", register)
    assert got.returncode != 0 and "default.log:1" in got.stderr, got
    with pytest.raises(RuntimeError):
        Server(privreg, register)


@pytest.mark.sqlite_only('privreg backup/restore copy a SQLite file (PostgreSQL: pg_dump)')
def test_backup_while_serving_writes_is_consistent(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    stop = threading.Event()
    made = []

    def writer():
        while not stop.is_set():
            made.append(create(srv, admin, JAAN)["id"])
            if len(made) % 3 == 0:
                srv.request("DELETE", f"/v1/subjects/{made[-2]}", admin)

    t = threading.Thread(target=writer)
    t.start()
    copies = []
    try:
        time.sleep(0.3)
        for i in range(3):
            copies.append(tmp_path / f"copy{i}.db")
            privreg("backup", copies[-1], "--dir", register, check=0)
            time.sleep(0.2)
    finally:
        stop.set()
        t.join()
        stopped(srv)
    assert len(made) > 3
    for copy in copies:
        # A register of its own around the copy (the live keys): its audit chain holds.
        other = tmp_path / ("reg-" + copy.stem)
        other.mkdir(mode=0o700)
        shutil.copytree(register / "keys", other / "keys")
        shutil.copyfile(register / "privreg.conf", other / "privreg.conf")
        shutil.copyfile(copy, other / "privreg.db")
        shutil.copytree(register / "ledger", other / "ledger")
        out = privreg("restore", "--reconcile", "--dir", other, check=0).stdout
        assert "audit log of tenant default: intact" in out, out
        assert "intact" in privreg("audit", "verify", "--dir", other, check=0).stdout


def test_rotation_keeps_subjects_readable_and_lookups_working(privreg, tmp_path):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy_with_backups(tmp_path), check=0)
    admin = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    try:
        mari = create(srv, admin, MARI)["id"]
        jaan = create(srv, admin, JAAN)["id"]
    finally:
        stopped(srv)
    out = privreg("key", "rotate", "--dir", d, check=0).stdout
    assert "epoch 1 started; 2 subject keys wrapped again" in out, out
    assert (d / "keys" / "default.epoch-1.key").exists()
    assert stat.S_IMODE(os.stat(d / "keys" / "default.epoch-1.key").st_mode) == 0o600
    out = privreg("key", "rotate", "--dir", d, check=0).stdout
    assert "epoch 2 started; 2 subject keys wrapped again" in out, out
    assert "0 subject keys" in privreg("key", "rotate", "--resume", "--dir", d, check=0).stdout
    srv = Server(privreg, d)
    try:
        got = srv.request("GET", f"/v1/subjects/{mari}", admin).json()
        assert got["records"][0]["fields"]["phone"] == "+37251234567"
        r = srv.request("GET", "/v1/subjects?email=mari.tamm@example.ee", admin)
        assert r.status_code == 200 and mari in r.text, r.text
        kaja = create(srv, admin, [{"kind": "account", "fields": {"email": "kaja@example.ee", "name": "Kaja"}}])["id"]
        assert srv.request("GET", f"/v1/subjects/{kaja}", admin).status_code == 200
        assert srv.request("GET", f"/v1/subjects/{jaan}", admin).status_code == 200
    finally:
        stopped(srv)
    assert "intact" in privreg("audit", "verify", "--dir", d, check=0).stdout


def backdate_epoch(keydir, number, days):
    """Moves an epoch's recorded creation time back, as if it were days older."""
    path = keydir / f"default.epoch-{number}.key"
    first, rest = path.read_text().split("\n", 1)
    created = int(first.split()[-1]) - days * 86400
    path.write_text(re.sub(r"created \d+", f"created {created}", first) + "\n" + rest)


@pytest.mark.sqlite_only('privreg backup/restore copy a SQLite file (PostgreSQL: pg_dump)')
def test_a_copy_older_than_the_backup_retention_cannot_be_read(privreg, tmp_path):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy_with_backups(tmp_path), check=0)
    admin = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    try:
        mari = create(srv, admin, MARI)["id"]
    finally:
        stopped(srv)
    old = tmp_path / "old.db"
    privreg("backup", old, "--dir", d, check=0)
    out = privreg("key", "rotate", "--dir", d, check=0).stdout
    assert "destroyed" not in out  # epoch 0's copies are younger than 35 days
    backdate_epoch(d / "keys", 1, 34)
    assert "destroyed" not in privreg("key", "rotate", "--resume", "--dir", d, check=0).stdout
    backdate_epoch(d / "keys", 1, 2)  # 36 days: every copy of epoch 0 is past 35 days
    out = privreg("key", "rotate", "--resume", "--dir", d, check=0).stdout
    assert "destroyed the key of epoch 0" in out, out
    master = (d / "keys" / "default.key").read_text()
    assert master.startswith("privreg-subkeys 1\n") and len(master.splitlines()) == 6
    # The live register reads and finds her as before.
    assert "Mari Tamm" in privreg("subject", "get", mari, "--dir", d, check=0).stdout
    assert privreg("subject", "find", "email", "mari.tamm@example.ee", "--dir", d, check=0).stdout.strip() == mari
    # The old copy, with the live key directory: nothing of her opens.
    privreg("restore", old, "--dir", d, check=0)
    got = privreg("subject", "get", mari, "--dir", d)
    assert got.returncode == 1 and "erased" in got.stderr and "Mari" not in got.stdout, got
    assert "intact" in privreg("audit", "verify", "--dir", d, check=0).stdout


def test_notice_states_the_backup_retention(privreg, tmp_path):
    policy = policy_with_backups(tmp_path)
    out = privreg("policy", "render", "--notice", "--lang", "en", "--format", "md", policy, check=0).stdout
    assert "We keep copies of the database (backups) for 35 days" in out
    plain = privreg("policy", "render", "--notice", "--lang", "en", "--format", "md", WEBSHOP, check=0).stdout
    assert "backups" not in plain


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_the_server_rotates_on_the_policys_schedule(privreg, tmp_path):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy_with_backups(tmp_path), check=0)
    admin = add_key(privreg, d, "admin")
    srv = Server(privreg, d, ["--sweep-every", "1s"])
    try:
        mari = create(srv, admin, MARI)["id"]
        epoch = d / "keys" / "default.epoch-1.key"
        for _ in range(100):
            if epoch.exists() and "key.rewrap" in srv.request("GET", "/v1/audit", admin).text:
                break
            time.sleep(0.1)
        assert epoch.exists()
        # Read and found through the epoch's key; new subjects wrapped under it.
        assert srv.request("GET", f"/v1/subjects/{mari}", admin).json()["records"][0]["fields"]["name"] == "Mari Tamm"
        assert mari in srv.request("GET", "/v1/subjects?email=mari.tamm@example.ee", admin).text
        jaan = create(srv, admin, JAAN)["id"]
        assert srv.request("GET", f"/v1/subjects/{jaan}", admin).status_code == 200
        time.sleep(1.5)  # the next turns rotate nothing: the epoch is younger than 7 days
        assert not (d / "keys" / "default.epoch-2.key").exists()
    finally:
        stopped(srv)
    db = sqlite3.connect(d / "privreg.db")
    heads = {(len(row[0]), row[0][:2]) for row in db.execute("SELECT wrapped_key FROM subjects")}
    db.close()
    assert heads == {(58, b"\x02\x01")}  # every key under epoch 1, in format 2 (crypto/vault.h)


@pytest.mark.sqlite_only('privreg backup/restore copy a SQLite file (PostgreSQL: pg_dump)')
def test_restore_refuses_what_is_not_a_copy_and_changes_nothing(privreg, register, tmp_path):
    admin = add_key(privreg, register, "admin")
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    got = privreg("restore", junk, "--dir", register)
    assert got.returncode == 1 and "is not a privreg database" in got.stderr, got
    newer = tmp_path / "newer.db"
    privreg("backup", newer, "--dir", register, check=0)
    db = sqlite3.connect(newer)
    db.execute("INSERT INTO schema_migrations VALUES (9999, '9999_future.sql', 0)")
    db.commit()
    db.close()
    got = privreg("restore", newer, "--dir", register)
    assert got.returncode == 1 and "newer than this privreg knows" in got.stderr, got
    # The register is as it was: its key is still there.
    assert privreg("key", "list", "--dir", register, check=0).stdout.count(" admin ") == 1
