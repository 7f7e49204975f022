"""The console's remaining pages and what they stand on (issue #14 item 4):
staff TOTP secrets are sealed in the database (schema 20), and a register
whose secrets were written in the clear has them sealed at the next start."""
import base64
import sqlite3

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key
from test_users import totp

PASSWORD = "long enough passphrase"


@pytest.fixture()
def reg(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    return privreg, d


def start(privreg, d):
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.privreg = privreg
    return srv


def stop(srv):
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
    return err


def enrol(srv, email, role="dpo"):
    """A staff account, enrolled: its TOTP secret (base32)."""
    out = srv.privreg("user", "add", email, "--role", role, "--dir", srv.dir, check=0).stdout
    token = out.strip().splitlines()[-1].split("#")[-1]
    r = srv.request("POST", "/console/enrolment", json={"token": token})
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    r = srv.request("POST", "/console/enrolment/confirm",
                    json={"token": token, "password": PASSWORD, "code": totp(secret)})
    assert r.status_code == 204, r.text
    return secret


def sign_in(srv, email, secret, step_offset=1):
    return srv.request("POST", "/console/session",
                       json={"email": email, "password": PASSWORD, "code": totp(secret, step_offset=step_offset)})


def database_bytes(d):
    raw = (d / "privreg.db").read_bytes()
    wal = d / "privreg.db-wal"
    return raw + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.sqlite_only("reads the SQLite file")
def test_the_database_does_not_hold_the_totp_secret(reg):
    privreg, d = reg
    srv = start(privreg, d)
    try:
        secret = enrol(srv, "dpo@example.com")
        raw = base64.b32decode(secret.replace(" ", ""))
        assert len(raw) == 20
        assert raw not in database_bytes(d)
        db = sqlite3.connect(d / "privreg.db", timeout=30)
        (n,) = db.execute("SELECT length(totp_secret) FROM staff_users").fetchone()
        db.close()
        assert n == 20 + 40  # sealed: nonce and tag around it
        assert sign_in(srv, "dpo@example.com", secret).status_code == 201
    finally:
        stop(srv)


@pytest.mark.sqlite_only("rewinds the SQLite file's schema")
def test_secrets_written_in_the_clear_are_sealed_at_the_next_start(reg):
    privreg, d = reg
    srv = start(privreg, d)
    try:
        secret = enrol(srv, "old@example.com")
    finally:
        stop(srv)
    raw = base64.b32decode(secret.replace(" ", ""))
    # The register as schema 19 left it: the secret in the clear, migration 20 not run.
    db = sqlite3.connect(d / "privreg.db", timeout=30)
    with db:
        db.execute("UPDATE staff_users SET totp_secret = ?", (raw,))
        db.execute("DELETE FROM schema_migrations WHERE version = 20")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert raw in database_bytes(d)
    srv = start(privreg, d)
    try:
        # the server loads the tenant's keys at their first use, the sign-in,
        # and seals the secret before the sign-in reads it
        assert sign_in(srv, "old@example.com", secret).status_code == 201
        db = sqlite3.connect(d / "privreg.db", timeout=30)
        (n,) = db.execute("SELECT length(totp_secret) FROM staff_users").fetchone()
        (queued,) = db.execute("SELECT COUNT(*) FROM seal_queue").fetchone()
        db.close()
        assert n == 60 and queued == 0
    finally:
        err = stop(srv)
    assert "1 staff TOTP secrets" in err, err[-2000:]
    # Checkpointed and vacuumed: the old page images go, and with them the clear text.
    db = sqlite3.connect(d / "privreg.db", timeout=30)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.close()
    assert raw not in database_bytes(d)
