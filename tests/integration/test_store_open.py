"""What the operator trial found in opening stores, init, migrate and the
small commands (docs/scaling.md, docs/backup.md).

Only `init` makes a register: every other command, and `serve`, refuses a
`store` that names a missing SQLite file or a database without a register,
naming the store and privreg.conf, and creates nothing. `init` refuses a
database that holds a register already (exit 2, nothing left behind), and
one it cannot reach leaves no directory. A refusal of the lock never names
a dead server's pid. `migrate` knows its own database under another URL,
advises the store as privreg.conf spells it, and a signal during a copy to
SQLite removes the partial file. Runs on both backends where they apply."""
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import PG, PG_URL, PSQL, WEBSHOP, Server, pg_database

needs_pg = pytest.mark.skipif(not PG_URL, reason="needs PostgreSQL: PRIVREG_TEST_PG_URL (scripts/start-postgres)")


def psql(url, sql):
    out = subprocess.run([PSQL, "-qAtX", url, "-c", sql], check=True, capture_output=True, text=True, timeout=60)
    return out.stdout.strip()


def store_of(d):
    return re.search(r"^store = (\S+)$", (d / "privreg.conf").read_text(), re.M).group(1)


def set_store(d, url):
    conf = d / "privreg.conf"
    conf.write_text(re.sub(r"^store = \S+$", "store = " + url, conf.read_text(), flags=re.M))


def absolute_store(d):
    """The register's store URL, a relative SQLite path made absolute."""
    url = store_of(d)
    if url.startswith("sqlite:") and not url.startswith("sqlite:/"):
        url = "sqlite:" + str(d / url[len("sqlite:"):])
    return url


def refused_everywhere(privreg, d, named):
    """Every command (and serve) refuses the register's store, naming it and privreg.conf."""
    for args in (("status",), ("tenant", "list"), ("key", "list"), ("audit", "verify"), ("sweep", "--dry-run")):
        r = privreg(*args, "--dir", d)
        assert r.returncode == 3, (args, r.returncode, r.stderr)
        assert named in r.stderr and "privreg.conf" in r.stderr and "Nothing was created" in r.stderr, \
            (args, r.stderr)
    r = subprocess.run([privreg.binary, "serve", "--dir", str(d), "--listen", "127.0.0.1:0"], capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 3 and named in r.stderr, r.stderr


def test_a_store_that_holds_no_register_is_refused_and_not_made(privreg, register):
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", register, check=0)
    conf = (register / "privreg.conf").read_text()
    # A typo in the SQLite file's name: refused, and no file appears.
    set_store(register, "sqlite:privreg-typo.db")
    refused_everywhere(privreg, register, "privreg-typo.db")
    assert not list(register.glob("privreg-typo.db*"))
    # An empty file is no register either, and stays empty.
    (register / "privreg-typo.db").write_bytes(b"")
    refused_everywhere(privreg, register, "privreg-typo.db")
    assert (register / "privreg-typo.db").stat().st_size == 0
    (register / "privreg-typo.db").unlink()
    (register / "privreg.conf").write_text(conf)
    assert privreg("tenant", "list", "--dir", register, check=0).stdout.split() == ["default", "other"]


@needs_pg
def test_an_empty_postgresql_database_is_refused_and_left_empty(privreg, register):
    url = pg_database()
    set_store(register, url)
    refused_everywhere(privreg, register, url)
    assert psql(url, "SELECT count(*) FROM pg_tables WHERE schemaname = current_schema()") == "0"


def test_init_into_a_database_holding_a_register_is_refused(privreg, register, tmp_path):
    """A second register's tenants in the first one's database would block
    its restore --reconcile and migrate: init refuses, and points at tenant
    add and at serving the same directory (docs/scaling.md)."""
    url = absolute_store(register)
    mistake = tmp_path / "mistake"
    r = privreg("init", "--dir", mistake, "--tenant", "newco", "--policy", WEBSHOP, "--store", url)
    assert r.returncode == 2, r.stderr
    assert "holds a privreg register already" in r.stderr and "tenant add" in r.stderr, r.stderr
    assert "docs/scaling.md" in r.stderr, r.stderr
    assert not mistake.exists()
    assert privreg("tenant", "list", "--dir", register, check=0).stdout.split() == ["default"]


def test_an_init_that_cannot_connect_leaves_nothing(privreg, tmp_path):
    d = tmp_path / "reg"
    r = privreg("init", "--dir", d, "--policy", WEBSHOP, "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert r.returncode == 3 and "cannot connect" in r.stderr, r.stderr
    assert not d.exists()
    # An existing directory stays, without keys/.
    d.mkdir()
    r = privreg("init", "--dir", d, "--policy", WEBSHOP, "--store", "postgresql://nobody@127.0.0.1:1/none")
    assert r.returncode == 3 and d.exists() and not (d / "keys").exists(), r.stderr


def dead_pid():
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_refusal_names_no_dead_servers_pid(privreg, register):
    """The pid a SQLite server left in privreg.lock, with the lock held
    shared (PostgreSQL servers write none): the refusal says the register
    is served, not by whom."""
    lock = register / "privreg.lock"
    lock.write_text(f"{dead_pid()}\n")
    holder = subprocess.Popen(["flock", "-s", str(lock), "sleep", "30"])
    try:
        time.sleep(0.3)
        for args in (("key", "rotate"), ("restore", "--reconcile")):
            r = privreg(*args, "--dir", register)
            assert r.returncode == 3, (args, r.stderr)
            assert "is being served (its servers hold" in r.stderr and "by pid" not in r.stderr, r.stderr
    finally:
        holder.kill()
        holder.wait()


@needs_pg
def test_migrate_to_postgresql_empties_the_lock_file(privreg, tmp_path):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, "--store", "sqlite:privreg.db", check=0)
    srv = Server(privreg, d)
    srv.stop()
    assert (d / "privreg.lock").read_text().strip().isdigit()
    privreg("migrate", "--to", pg_database(), "--dir", d, check=0)
    assert (d / "privreg.lock").read_text() == ""


@pytest.mark.skipif(not PG, reason="a register on PostgreSQL (PRIVREG_TEST_STORE=postgresql)")
def test_migrate_knows_its_own_database_under_any_url(privreg, register):
    """Query parameters, a host given as a parameter, application_name: the
    same database, said so, not blamed on an 'other client' (migrate's own
    connection to the target)."""
    conf = (register / "privreg.conf").read_text()
    url = store_of(register)
    user, host, port, db = re.fullmatch(r"postgresql://(\w+)@([\d.]+):(\d+)/(\w+)", url).groups()
    for to in (url + "?sslmode=disable", url + "?application_name=other",
               f"postgresql:///{db}?host={host}&port={port}&user={user}"):
        r = privreg("migrate", "--to", to, "--dir", register)
        assert r.returncode == 1 and "the register lives in that database already" in r.stderr, (to, r.stderr)
        assert "other client" not in r.stderr, r.stderr
    assert (register / "privreg.conf").read_text() == conf


def test_the_store_is_shown_and_advised_as_privreg_conf_has_it(privreg, tmp_path):
    """Written back into privreg.conf as shown, the SQLite store opens: a
    relative path is inside the register directory, not the working one."""
    def run(*args):
        return subprocess.run([privreg.binary, *args], cwd=tmp_path, capture_output=True, text=True, timeout=120)

    r = run("init", "--dir", "reg", "--policy", str(WEBSHOP), "--store", "sqlite:privreg.db")
    assert r.returncode == 0, r.stderr
    out = run("config", "show", "--dir", "reg").stdout.splitlines()[0]
    assert out == f"store = sqlite:privreg.db  # conf privreg.conf line 2: the file {tmp_path}/reg/privreg.db", out
    r = run("migrate", "--to", "sqlite:copy.db", "--dir", "reg")
    assert r.returncode == 0, r.stderr
    assert "sqlite:privreg.db is left as it was: to go back, set 'store' in reg/privreg.conf" in r.stdout, r.stdout
    set_store(tmp_path / "reg", "sqlite:privreg.db")
    r = run("status", "--dir", "reg")
    assert r.returncode == 0, r.stderr


def big_register(privreg, d, tmp_path, n=3000):
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    csv = tmp_path / "big.csv"
    csv.write_text("email,name\n" + "".join(f"u{i}@big.example,User {i}\n" for i in range(n)))
    privreg("import", "account", csv, "--dir", d, check=0)


def start_migration(privreg, d, target):
    """A migrate into sqlite:target, once its file exists."""
    p = subprocess.Popen([privreg.binary, "migrate", "--to", "sqlite:" + target, "--dir", str(d)],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    path = d / target
    for _ in range(20000):
        if path.exists() or p.poll() is not None:
            break
        time.sleep(0.001)
    return p, path


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_a_migration_to_sqlite_removes_the_copy(privreg, tmp_path, sig):
    d = tmp_path / "reg"
    big_register(privreg, d, tmp_path)
    conf = (d / "privreg.conf").read_text()
    p, path = start_migration(privreg, d, "back.db")
    time.sleep(0.05)
    p.send_signal(sig)
    out, err = p.communicate(timeout=120)
    assert p.returncode == -sig, (p.returncode, out, err)
    assert "interrupted: the partial copy" in err and "nothing changed" in err, err
    assert not list(d.glob("back.db*"))
    assert (d / "privreg.conf").read_text() == conf
    # A retry runs as if nothing had happened.
    privreg("migrate", "--to", "sqlite:back.db", "--dir", d, check=0)


@pytest.mark.sqlite_only("reads the leftover's schema with the sqlite3 module while migrate writes it")
def test_a_leftover_of_a_killed_migration_is_named_as_such(privreg, tmp_path):
    """SIGKILL runs no handler: the new file stays, with the schema and no
    tenant, and the retry says what it is and how to remove it."""
    d = tmp_path / "reg"
    big_register(privreg, d, tmp_path)
    p, path = start_migration(privreg, d, "back.db")
    for _ in range(20000):
        try:
            con = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=0.01)
            try:
                if con.execute("SELECT count(*) FROM sqlite_master WHERE name = 'tenants'").fetchone()[0]:
                    break
            finally:
                con.close()
        except sqlite3.Error:
            pass
        time.sleep(0.001)
    p.kill()
    p.communicate(timeout=60)
    assert path.exists()
    r = privreg("migrate", "--to", "sqlite:back.db", "--dir", d)
    assert r.returncode == 1 and "leftover of an interrupted migration" in r.stderr, r.stderr
    assert f"rm -f '{path}'" in r.stderr, r.stderr
    # The leftover is no register: pointed at, it is refused.
    conf = (d / "privreg.conf").read_text()
    set_store(d, "sqlite:back.db")
    r = privreg("status", "--dir", d)
    assert r.returncode == 3 and "no tenant" in r.stderr, r.stderr
    (d / "privreg.conf").write_text(conf)
    for f in d.glob("back.db*"):
        f.unlink()
    privreg("migrate", "--to", "sqlite:back.db", "--dir", d, check=0)


def test_audit_verify_of_an_empty_checkpoint_file(privreg, register):
    """serve makes the file before its first checkpoint (after an hour)."""
    cp = register / "audit-checkpoints.jsonl"
    cp.write_text("")
    r = privreg("audit", "verify", "--checkpoint", cp, "--dir", register, check=0)
    assert "holds no checkpoint yet" in r.stdout, r.stdout
    privreg("audit", "checkpoint", "--dir", register, check=0)
    r = privreg("audit", "verify", "--checkpoint", cp, "--dir", register, check=0)
    assert "holds all 1 checkpoint" in r.stdout, r.stdout


def test_key_rotate_all_rotates_every_tenant(privreg, register):
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", register, check=0)
    r = privreg("key", "rotate", "--dir", register, check=0)
    assert r.stdout.startswith("tenant default:") and "other" not in r.stdout, r.stdout
    assert "rotates one tenant" in privreg("key", "--help", check=0).stdout
    r = privreg("key", "rotate", "--all", "--dir", register, check=0)
    assert re.search(r"^tenant default: epoch \d+ started", r.stdout, re.M), r.stdout
    assert re.search(r"^tenant other: epoch \d+ started", r.stdout, re.M), r.stdout
    r = privreg("key", "rotate", "--all", "--tenant", "other", "--dir", register)
    assert r.returncode == 2, r.stderr
    r = privreg("key", "list", "--all", "--dir", register)
    assert r.returncode == 2, r.stderr


@pytest.mark.sqlite_only("restore FILE copies a SQLite file")
def test_restore_file_replaces_a_lost_database(privreg, tmp_path):
    """restore FILE is what a lost database file is put back with: it may
    make the file that the other commands refuse to."""
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("backup", tmp_path / "copy.db", "--dir", d, check=0)
    for f in d.glob("privreg.db*"):
        f.unlink()
    assert privreg("status", "--dir", d).returncode == 3
    assert not (d / "privreg.db").exists()
    privreg("restore", tmp_path / "copy.db", "--dir", d, check=0)
    assert privreg("tenant", "list", "--dir", d, check=0).stdout.split() == ["default"]
