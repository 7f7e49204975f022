"""No read without its audit entry: when the access entry cannot be written,
the server refuses the read (5xx) and hands out no personal data. Guards the
batched audit writer (core/audit.c) against a change that would answer
before, or regardless of, its entry being committed."""
import pytest
import sqlite3

from conftest import WEBSHOP, Privreg, Server, add_key, _bin

ACCOUNT = {"kind": "account", "fields": {"email": "refuse.me@example.ee", "name": "Mari Tamm",
                                         "language": "et"}}


@pytest.mark.sqlite_only('adds a refusing trigger to the SQLite file (sqlite3 module)')
def test_read_is_refused_when_its_audit_entry_cannot_be_written(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    admin = add_key(privreg, d, "admin")
    support = add_key(privreg, d, "support")
    srv = Server(privreg, d)
    try:
        r = srv.request("POST", "/v1/subjects", admin, json={"records": [ACCOUNT]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert srv.request("GET", f"/v1/subjects/{sid}", support).status_code == 200
        assert srv.request("GET", "/v1/subjects", support, params={"email": "refuse.me@example.ee"}).status_code == 200
        # From now on every audit insert fails, as a full disk or a broken file would.
        db = sqlite3.connect(d / "privreg.db")
        db.execute("CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no'); END")
        db.commit()
        for _ in range(3):  # each server thread, and the batch writer, meets it
            r = srv.request("GET", f"/v1/subjects/{sid}", support)
            assert r.status_code >= 500, r.text
            assert "Mari" not in r.text and "refuse.me" not in r.text
            r = srv.request("GET", "/v1/subjects", support, params={"email": "refuse.me@example.ee"})
            assert r.status_code >= 500, r.text
            assert sid not in r.text
        db.execute("DROP TRIGGER audit_refuse")
        db.commit()
        db.close()
        assert srv.request("GET", f"/v1/subjects/{sid}", support).status_code == 200
    finally:
        code, err = srv.stop()
    assert code == 0, err[-2000:]
