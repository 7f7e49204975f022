"""Shared fixtures: the privreg binary under test and fresh registers.

With PRIVREG_TEST_STORE=postgresql (and PRIVREG_TEST_PG_URL, the base URL
scripts/start-postgres prints: `make integration-pg`), every `privreg init`
that names no --store gets a fresh PostgreSQL database of its own, and
tests marked sqlite_only (what only a SQLite file has: file copies, the
power-cut VFS, bytes on disk) are skipped with their reason."""
import atexit
import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import uuid

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
# The example policy as shipped declares the shop's own systems (`systems:`,
# told of every change by webhooks to the demo sink's address). In a test's
# register nobody would acknowledge those webhooks, so every erasure would
# stay awaiting_acknowledgements and every change would queue deliveries
# that are not the test's subject. WEBSHOP is that policy without its
# `systems:` section; the tests of the systems themselves
# (test_systems_demo.py, test_webhooks.py) use WEBSHOP_SHIPPED with a sink.
WEBSHOP_SHIPPED = POLICIES / "webshop.yaml"


def without_systems(text):
    """A policy's text without its top-level `systems:` section."""
    return re.sub(r"^systems:\n(?:[ #].*\n|\n)*", "", text, flags=re.M)


_WEBSHOP_DIR = pathlib.Path(tempfile.mkdtemp(prefix="privreg-webshop-"))
atexit.register(shutil.rmtree, _WEBSHOP_DIR, True)
WEBSHOP = _WEBSHOP_DIR / "webshop.yaml"
WEBSHOP.write_text(without_systems(WEBSHOP_SHIPPED.read_text()))


def unique_email_policy(directory):
    """The web shop's policy with `unique: true` on its e-mail, written
    into directory; its path."""
    text = WEBSHOP.read_text()
    old = "  email:            { type: email, lookup: true,"
    assert old in text
    policy = pathlib.Path(directory) / "unique.yaml"
    policy.write_text(text.replace(old, "  email:            { type: email, lookup: true, unique: true,", 1))
    return policy


PG = os.environ.get("PRIVREG_TEST_STORE") == "postgresql"
PG_URL = os.environ.get("PRIVREG_TEST_PG_URL", "")
PSQL = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin") + "/psql"


def pg_database():
    """A new, empty database on the test server; returns its URL."""
    name = "privreg_" + uuid.uuid4().hex[:16]
    subprocess.run([PSQL, "-q", "-X", PG_URL + "/postgres", "-c", f"CREATE DATABASE {name}"], check=True,
                   capture_output=True, timeout=60)
    return PG_URL + "/" + name


def pytest_configure(config):
    config.addinivalue_line("markers", "sqlite_only(reason): needs the SQLite backend; skipped on PostgreSQL")
    if PG and not PG_URL:
        pytest.exit("PRIVREG_TEST_STORE=postgresql needs PRIVREG_TEST_PG_URL (scripts/start-postgres)", returncode=2)


def pytest_collection_modifyitems(config, items):
    if not PG:
        return
    for item in items:
        m = item.get_closest_marker("sqlite_only")
        if m:
            item.add_marker(pytest.mark.skip(reason="SQLite only: " + (m.args[0] if m.args else "")))


def _bin():
    path = os.environ.get("PRIVREG_BIN") or str(ROOT / "build-test" / "privreg")
    if not os.access(path, os.X_OK):
        pytest.exit(f"privreg binary not found at {path}: run 'make test'", returncode=2)
    return path


class Privreg:
    def __init__(self, binary):
        self.binary = binary

    def __call__(self, *args, check=None, input=None):
        """Runs privreg; check=0 (say) asserts the exit code."""
        if PG and args and args[0] == "init" and "--store" not in args:
            args = (*args, "--store", pg_database())
        proc = subprocess.run([self.binary, *map(str, args)], capture_output=True,
                              text=True, input=input, timeout=120)
        if check is not None:
            assert proc.returncode == check, (
                f"privreg {' '.join(map(str, args))} exited {proc.returncode}, wanted {check}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def json(self, *args):
        return json.loads(self(*args, check=0).stdout)


@pytest.fixture
def privreg():
    return Privreg(_bin())


@pytest.fixture
def register(privreg, tmp_path):
    """A fresh register under the example policy; returns its directory."""
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    return d


def files_contain(directory, needle: bytes):
    """True if any file below directory contains the bytes."""
    for p in pathlib.Path(directory).rglob("*"):
        if p.is_file() and needle in p.read_bytes():
            return True
    return False


import signal
import subprocess as _sp
import time

import requests


class Server:
    """A real privreg server on a free loopback port, over a fresh register."""

    def __init__(self, privreg, directory, extra=(), log_name="server.log"):
        self.privreg = privreg
        self.dir = directory
        # The access log goes to a file: a pipe nobody reads would fill and stall the server.
        self.log_path = pathlib.Path(directory).parent / log_name
        self.log = open(self.log_path, "w")
        self.proc = _sp.Popen([privreg.binary, "serve", "--dir", str(directory), "--listen", "127.0.0.1:0",
                               "--threads", "2", *extra], stdout=_sp.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()
        m = re.search(r"http://127\.0\.0\.1:\d+", line)
        if not m:
            self.proc.kill()
            self.proc.wait()
            raise RuntimeError("server did not start: " + line + self.log_path.read_text())
        self.url = m.group(0)

    def request(self, method, path, key=None, **kw):
        headers = kw.pop("headers", {})
        if key:
            headers["Authorization"] = "Bearer " + key
        return requests.request(method, self.url + path, headers=headers, timeout=30, **kw)

    def stop(self):
        """SIGTERM; returns (exit code, stderr)."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=30)
        except _sp.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
        self.log.close()
        return self.proc.returncode, self.log_path.read_text()


def add_key(privreg, directory, role, tenant="default"):
    out = privreg("key", "add", "--role", role, "--tenant", tenant, "--dir", directory, check=0).stdout
    return out.strip().splitlines()[-1].split()[-1]


ROLES = ["admin", "dpo", "support", "marketing", "auditor"]


@pytest.fixture(scope="module")
def api(tmp_path_factory):
    """A server with tenant 'default' (a key per role) and tenant 'other' (an admin key)."""
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("api") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", d, check=0)
    keys = {role: add_key(privreg, d, role) for role in ROLES}
    keys["other"] = add_key(privreg, d, "admin", "other")
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.keys = keys
    yield srv
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


# `make test` runs the suite in parallel (pytest-xdist, Makefile PYTEST_RUN),
# then the tests marked serial alone: those that judge time or memory under
# a load of their own, which the other tests' load would disturb.
_configure_markers = pytest_configure


def pytest_configure(config):  # noqa: F811 (extends the one above)
    _configure_markers(config)
    config.addinivalue_line("markers", "serial: runs alone, after the parallel part of `make test`")


def store_url(directory):
    """The register's store URL from its privreg.conf; None for SQLite."""
    m = re.search(r"^store = (postgres\S+)$", (pathlib.Path(directory) / "privreg.conf").read_text(), re.M)
    return m.group(1) if m else None


def db_rows(directory, sql):
    """The rows (tuples) of one SELECT on the register's database, SQLite or
    PostgreSQL, for tests that look under the API: plain SQL that both read
    alike. On PostgreSQL integers come back as int, bytea as '\\x..' text."""
    url = store_url(directory)
    if url is None:
        import sqlite3
        db = sqlite3.connect(pathlib.Path(directory) / "privreg.db", timeout=30)
        try:
            return db.execute(sql).fetchall()
        finally:
            db.close()
    query = f"SELECT COALESCE(json_agg(to_json(q)), '[]') FROM ({sql}) q"
    out = subprocess.run([PSQL, "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-c", query, url], check=True,
                         capture_output=True, text=True, timeout=60).stdout
    return [tuple(r.values()) for r in json.loads(out)]


def db_exec(directory, sql):
    """Runs statements on the register's database (SQLite or PostgreSQL)."""
    url = store_url(directory)
    if url is None:
        import sqlite3
        db = sqlite3.connect(pathlib.Path(directory) / "privreg.db", timeout=30)
        try:
            db.executescript(sql)
        finally:
            db.close()
        return
    subprocess.run([PSQL, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c", sql, url], check=True, capture_output=True,
                   timeout=60)
