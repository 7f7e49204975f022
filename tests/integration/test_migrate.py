"""`privreg migrate --to URL`: a register moved from SQLite to PostgreSQL and
back, every row as stored. A demo-sized register (two tenants, subjects with
records, consents, requests, holds, disclosures, an erased subject, staff
accounts, mail in the outbox) goes to PostgreSQL, is served there with every
subject reading as before and its audit chain intact, and comes back to a
new SQLite file holding the same rows. Refused, with privreg.conf unchanged
and nothing written: while a server holds the register, into a target that
is not empty or that another client uses, a URL with a password, and a
copy that does not verify (an edited audit log).

The PostgreSQL cases need the server at PRIVREG_TEST_PG_URL
(scripts/start-postgres; `make test` starts one) and are skipped without."""
import os
import re
import sqlite3
import subprocess
import time

import pytest

from conftest import PG, PG_URL, PSQL, WEBSHOP, Server, add_key, pg_database

needs_pg = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: PRIVREG_TEST_PG_URL (scripts/start-postgres)")

SUBJECTS = 24


def psql(url, sql):
    out = subprocess.run([PSQL, "-qAtX", url, "-c", sql], check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def init(privreg, d):
    # An explicit SQLite store, also when the suite runs on PostgreSQL.
    privreg("init", "--dir", d, "--policy", WEBSHOP, "--store", "sqlite:privreg.db", check=0)


def store_line(d):
    return [l for l in (d / "privreg.conf").read_text().splitlines() if l.startswith("store")]


def fill(privreg, d):
    """A register with a bit of everything; returns {subject id: its answer}, erased ids mapped to None."""
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", d, check=0)
    privreg("user", "add", "staff.one@example.ee", "--role", "dpo", "--dir", d, check=0)
    privreg("user", "add", "staff.two@example.ee", "--role", "support", "--tenant", "other", "--dir", d, check=0)
    keys = {role: add_key(privreg, d, role) for role in ("admin", "dpo", "support")}
    other = add_key(privreg, d, "admin", "other")
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    try:
        subjects = []
        for i in range(SUBJECTS):
            key = other if i % 4 == 3 else keys["admin"]
            r = srv.request("POST", "/v1/subjects", key, json={"records": [
                {"kind": "account", "fields": {"email": f"person{i}@example.ee", "name": f"Person {i}",
                                               "language": "et"}},
                {"kind": "order", "fields": {"name": f"Person {i}", "delivery_address": "Pikk 1, Tallinn",
                                             "items": [{"sku": "KB-1", "qty": i + 1}], "amount": "49.90"},
                 "created_at": "2024-03-01T10:00:00Z", "events": {"fulfilled": "2024-03-02"}}]})
            assert r.status_code == 201, r.text
            subjects.append((r.json()["id"], key))
        mine = [sid for sid, key in subjects if key == keys["admin"]]
        for sid in mine[:6]:
            r = srv.request("POST", f"/v1/subjects/{sid}/consents", keys["admin"],
                            json={"purpose": "direct_marketing", "granted": True, "source": "signup form"})
            assert r.status_code == 201, r.text
        for sid in mine[6:9]:
            r = srv.request("POST", "/v1/requests", keys["support"],
                            json={"type": "access", "subject_id": sid, "verified_by": "ID card at the counter"})
            assert r.status_code == 201, r.text
        r = srv.request("POST", f"/v1/requests/{r.json()['id']}/complete", keys["dpo"], json={})
        assert r.status_code == 200, r.text
        r = srv.request("POST", "/v1/holds", keys["dpo"], json={"subject_id": mine[9], "reason": "a dispute"})
        assert r.status_code == 201, r.text
        r = srv.request("POST", "/v1/disclosures", keys["dpo"], json={
            "subject_id": mine[10], "recipient": "courier", "purpose": "contract", "fields": ["name"]})
        assert r.status_code == 200, r.text
        erased = mine[11]
        r = srv.request("POST", "/v1/requests", keys["support"],
                        json={"type": "erasure", "subject_id": erased, "verified_by": "ID card at the counter"})
        assert r.status_code == 201, r.text
        r = srv.request("POST", f"/v1/requests/{r.json()['id']}/complete", keys["dpo"], json={})
        assert r.status_code == 200, r.text
        answers = read_all(srv, subjects)
        assert answers[erased] is None
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    return subjects, answers


def read_all(srv, subjects):
    out = {}
    for sid, key in subjects:
        r = srv.request("GET", f"/v1/subjects/{sid}", key)
        assert r.status_code in (200, 404, 410), r.text
        out[sid] = r.json() if r.status_code == 200 else None
    return out


def rows(db, table):
    con = sqlite3.connect(db)
    try:
        return sorted(con.execute(f"SELECT * FROM {table}").fetchall(), key=repr)
    finally:
        con.close()


def tables(db):
    con = sqlite3.connect(db)
    try:
        return sorted(r[0] for r in con.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name <> 'schema_migrations'"))
    finally:
        con.close()


@needs_pg
def test_sqlite_to_postgresql_and_back(privreg, tmp_path):
    d = tmp_path / "reg"
    init(privreg, d)
    subjects, before = fill(privreg, d)
    original = d / "privreg.db"
    source_rows = {t: rows(original, t) for t in tables(original)}
    audit_before = privreg("audit", "verify", "--dir", d, "--tenant", "other", check=0).stdout

    url = pg_database()
    r = privreg("migrate", "--to", url, "--dir", d, check=0)
    assert "audit chains intact" in r.stdout and "2 tenants" in r.stdout, r.stdout
    assert f"now lives in {url}" in r.stdout and "left as it was" in r.stdout, r.stdout
    assert store_line(d) == [f"store = {url}"]
    assert rows(original, "subjects") == source_rows["subjects"], "the source is only read"
    assert int(psql(url, "SELECT count(*) FROM subjects")) == SUBJECTS - 1
    assert int(psql(url, "SELECT count(*) FROM outbox")) > 0
    assert int(psql(url, "SELECT count(*) FROM staff_users")) == 2

    # Served from PostgreSQL: every subject reads as it did, the chains hold.
    assert privreg("audit", "verify", "--dir", d, "--tenant", "other", check=0).stdout == audit_before
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    try:
        assert read_all(srv, subjects) == before
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    for tenant in ("default", "other"):
        out = privreg("audit", "verify", "--dir", d, "--tenant", tenant, check=0).stdout
        assert "intact" in out, out

    # And back, into a new file: the same rows, and the reads' audit entries after them.
    r = privreg("migrate", "--to", "sqlite:back.db", "--dir", d, check=0)
    assert "audit chains intact" in r.stdout, r.stdout
    assert store_line(d) == ["store = sqlite:back.db"]
    back = d / "back.db"
    assert tables(back) == sorted(source_rows)
    for t, want in source_rows.items():
        got = rows(back, t)
        if t == "audit":
            assert len(got) > len(want)
            assert [x for x in got if x in want] == want
        elif t == "outbox":
            key = lambda row: row[:9]  # noqa: E731 (what the server's sender may not change)
            assert sorted(map(key, got)) == sorted(map(key, want))
        else:
            assert got == want, t
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    try:
        assert read_all(srv, subjects) == before
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    # New ids go on from the copied ones: the audit entries of the reads
    # above follow the copied chain, and a new tenant takes the next id.
    out = privreg("audit", "verify", "--dir", d, check=0).stdout
    assert "intact" in out, out
    privreg("tenant", "add", "third", "--policy", WEBSHOP, "--dir", d, check=0)
    assert [r for r in rows(back, "tenants") if r[1] == "third"][0][0] == 3


def test_refused_while_served_and_into_an_existing_file(privreg, tmp_path):
    d = tmp_path / "reg"
    init(privreg, d)
    conf = (d / "privreg.conf").read_text()
    srv = Server(privreg, d)
    try:
        r = privreg("migrate", "--to", "sqlite:new.db", "--dir", d)
        assert r.returncode == 3 and "being served by pid" in r.stderr, r.stderr
    finally:
        srv.stop()
    assert not (d / "new.db").exists()
    (d / "new.db").write_bytes(b"")
    r = privreg("migrate", "--to", "sqlite:new.db", "--dir", d)
    assert r.returncode == 1 and "exists" in r.stderr, r.stderr
    r = privreg("migrate", "--to", "sqlite:privreg.db", "--dir", d)
    assert r.returncode == 1 and "exists" in r.stderr, r.stderr
    for url in ("postgresql://privreg:s3cret@127.0.0.1:1/privreg", "postgresql://127.0.0.1/db?password=s3cret"):
        r = privreg("migrate", "--to", url, "--dir", d)
        assert r.returncode == 1 and "carries a password" in r.stderr, r.stderr
        assert "s3cret" not in r.stderr + r.stdout
    for args in ((), ("--to",), ("--to", "mysql://x/y"), ("--to", "sqlite:a.db", "--to", "sqlite:b.db")):
        r = privreg("migrate", *args, "--dir", d)
        assert r.returncode == 2, (args, r.stderr)
    assert (d / "privreg.conf").read_text() == conf


@needs_pg
def test_refused_into_a_database_that_is_not_empty_or_in_use(privreg, tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    init(privreg, a)
    init(privreg, b)
    url = pg_database()
    privreg("migrate", "--to", url, "--dir", a, check=0)
    conf = (b / "privreg.conf").read_text()
    r = privreg("migrate", "--to", url, "--dir", b)
    assert r.returncode == 1 and "not empty" in r.stderr and "still lives in sqlite:" in r.stderr, r.stderr
    assert (b / "privreg.conf").read_text() == conf
    assert int(psql(url, "SELECT count(*) FROM tenants")) == 1

    # psql, connected and waiting on its input, is the other client.
    other = pg_database()
    client = subprocess.Popen([PSQL, "-qX", other], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if psql(other, "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                           "AND pid <> pg_backend_pid()") != "0":
                break
            time.sleep(0.1)
        r = privreg("migrate", "--to", other, "--dir", b)
        assert r.returncode == 1 and "other client is connected" in r.stderr, r.stderr
    finally:
        client.stdin.close()
        client.wait(timeout=30)
    assert (b / "privreg.conf").read_text() == conf


@pytest.mark.skipif(not PG, reason="a register on PostgreSQL (PRIVREG_TEST_STORE=postgresql)")
def test_refused_into_the_database_it_lives_in_however_spelt(privreg, register):
    """postgres:// is postgresql:// to libpq, and a URL without a port has the
    default one (PGPORT's): the same database, refused as such, not as one
    that another client uses (that client would be migrate itself)."""
    conf = (register / "privreg.conf").read_text()
    url = re.search(r"^store = (postgresql://\S+)$", conf, re.M).group(1)
    where, port, db = re.fullmatch(r"postgresql://(.*):(\d+)/(\w+)", url).groups()
    for to in (url, "postgres://" + url[len("postgresql://"):]):
        r = privreg("migrate", "--to", to, "--dir", register)
        assert r.returncode == 1 and f"the register lives in {to} already" in r.stderr, r.stderr
    to = f"postgres://{where}/{db}"
    r = subprocess.run([privreg.binary, "migrate", "--to", to, "--dir", str(register)], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, PGPORT=port))
    assert r.returncode == 1 and f"the register lives in {to} already" in r.stderr, r.stderr
    assert (register / "privreg.conf").read_text() == conf


@needs_pg
def test_a_copy_that_does_not_verify_changes_nothing(privreg, tmp_path):
    d = tmp_path / "reg"
    init(privreg, d)
    add_key(privreg, d, "admin")
    con = sqlite3.connect(d / "privreg.db")
    con.executescript("DROP TRIGGER audit_no_update; UPDATE audit SET outcome = 'edited' WHERE seq = 2;")
    con.close()
    conf = (d / "privreg.conf").read_text()
    url = pg_database()
    r = privreg("migrate", "--to", url, "--dir", d)
    assert r.returncode == 3 and "audit chain does not verify on the target at entry 2" in r.stderr, r.stderr
    assert "nothing changed" in r.stderr, r.stderr
    assert (d / "privreg.conf").read_text() == conf
    assert psql(url, "SELECT count(*) FROM tenants") == "0"
    assert psql(url, "SELECT count(*) FROM audit") == "0"
