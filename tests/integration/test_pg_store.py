"""The PostgreSQL store from the command line: a URL with a password is
refused before anything is created (argv and privreg.conf are readable);
on a PostgreSQL register privreg.conf keeps the URL, `backup` points to
pg_dump, and a second `serve` is not refused by the SQLite register's lock."""
import pytest

from conftest import PG, WEBSHOP, Server


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
