"""The PostgreSQL store from the command line: a URL with a password is
refused before anything is created (argv and privreg.conf are readable);
on a PostgreSQL register privreg.conf keeps the URL, `backup` points to
pg_dump, a second `serve` is not refused by the SQLite register's lock, and
a server whose connections the database dropped (a restart, a fail-over)
carries on without failing a request once the database is back."""
import re
import subprocess
import time

import pytest

from conftest import PG, PSQL, WEBSHOP, Server, add_key


def test_a_url_with_a_password_is_refused_and_creates_nothing(privreg, tmp_path):
    d = tmp_path / "reg"
    for url in ("postgresql://privreg:s3cret@127.0.0.1:1/privreg", "postgres://privreg:s3cret@localhost/db",
                "postgresql://127.0.0.1/db?password=s3cret"):
        r = privreg("init", "--dir", d, "--policy", WEBSHOP, "--store", url)
        assert r.returncode == 1, (url, r.stdout, r.stderr)
        assert "carries a password" in r.stderr and "PGPASSWORD" in r.stderr, r.stderr
        assert "s3cret" not in r.stderr + r.stdout
        assert not d.exists()


def test_an_unknown_store_is_refused(privreg, tmp_path):
    r = privreg("init", "--dir", tmp_path / "reg", "--policy", WEBSHOP, "--store", "mysql://x/y")
    assert r.returncode == 2 and "postgresql://" in r.stderr, r.stderr


@pytest.mark.skipif(not PG, reason="needs PostgreSQL (PRIVREG_TEST_STORE=postgresql)")
def test_a_postgresql_register(privreg, register, tmp_path):
    conf = (register / "privreg.conf").read_text()
    assert "store = postgresql://" in conf
    assert not (register / "privreg.db").exists()
    r = privreg("backup", tmp_path / "copy.db", "--dir", register)
    assert r.returncode != 0 and "use pg_dump" in r.stderr, r.stderr
    assert not (tmp_path / "copy.db").exists()
    # Two servers on one register: the second is not refused.
    a = Server(privreg, register, log_name="a.log")
    b = Server(privreg, register, log_name="b.log")
    for srv in (a, b):
        code, log = srv.stop()
        assert code == 0, log[-2000:]


@pytest.mark.skipif(not PG, reason="needs PostgreSQL (PRIVREG_TEST_STORE=postgresql)")
def test_connections_the_database_dropped_fail_no_request_afterwards(privreg, register):
    """A restart of PostgreSQL ends every connection: the server sends each
    a goodbye and closes it. A connection then unused learned of it only by
    sending its next statement into the closed socket, and failed that
    request (503) in each server thread, long after the database was back.
    Ending this database's other connections does to the server what a
    restart does, without disturbing the tests beside it."""
    url = re.search(r"store = (\S+)", (register / "privreg.conf").read_text()).group(1)
    admin = add_key(privreg, register, "admin")
    support = add_key(privreg, register, "support")
    srv = Server(privreg, register, extra=("--threads", "4"))
    try:
        ids = []

        def create(i):
            r = srv.request("POST", "/v1/subjects", admin, json={"records": [{"kind": "account", "fields": {
                "email": f"drop{i}@example.ee", "name": "Mari Tamm", "language": "et"}}]})
            if r.status_code == 201:
                ids.append(r.json()["id"])
            return r.status_code

        def read(i):  # a read snapshot and its access entry
            return srv.request("GET", f"/v1/subjects/{ids[i % len(ids)]}", support).status_code

        assert [create(i) for i in range(8)] == [201] * 8
        assert [read(i) for i in range(8)] == [200] * 8
        ended = subprocess.run([PSQL, "-X", "-At", url, "-c",
                                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                                "WHERE datname = current_database() AND pid <> pg_backend_pid()"],
                               capture_output=True, text=True, timeout=60, check=True)
        assert int(ended.stdout.strip()) >= 4, ended.stdout
        time.sleep(0.5)  # as a restart takes, at least
        codes = [f(i) for i in range(12) for f in (read, lambda i: create(100 + i))]
        assert codes == [200, 201] * 12, codes
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "opened again" in log
    assert "drop1@example.ee" not in log
