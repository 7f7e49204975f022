"""No read without its audit entry: when the access entry cannot be written,
the server refuses the read (5xx) and hands out no personal data. Guards the
batched audit writer (core/audit.c) against a change that would answer
before, or regardless of, its entry being committed. On PostgreSQL the
entries are sent with their group commit's COMMIT (store/postgres/conn.c),
so this also guards a failure that only the commit reports."""
from conftest import WEBSHOP, Privreg, Server, add_key, _bin, db_exec, store_url

ACCOUNT = {"kind": "account", "fields": {"email": "refuse.me@example.ee", "name": "Mari Tamm",
                                         "language": "et"}}

REFUSE = {
    "sqlite": ("CREATE TRIGGER audit_refuse BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no'); END",
               "DROP TRIGGER audit_refuse"),
    "postgresql": ("CREATE FUNCTION audit_refuse() RETURNS trigger LANGUAGE plpgsql AS "
                   "$$BEGIN RAISE EXCEPTION 'no'; END$$; "
                   "CREATE TRIGGER audit_refuse BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_refuse()",
                   "DROP TRIGGER audit_refuse ON audit; DROP FUNCTION audit_refuse()"),
}


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
        create, drop = REFUSE["postgresql" if store_url(d) else "sqlite"]
        db_exec(d, create)
        for _ in range(3):  # each server thread, and the batch writer, meets it
            r = srv.request("GET", f"/v1/subjects/{sid}", support)
            assert r.status_code >= 500, r.text
            assert "Mari" not in r.text and "refuse.me" not in r.text
            r = srv.request("GET", "/v1/subjects", support, params={"email": "refuse.me@example.ee"})
            assert r.status_code >= 500, r.text
            assert sid not in r.text
        db_exec(d, drop)
        assert srv.request("GET", f"/v1/subjects/{sid}", support).status_code == 200
    finally:
        code, err = srv.stop()
    assert code == 0, err[-2000:]
