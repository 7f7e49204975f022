"""The server under attack and in operation (issues #15 and #11): slow clients,
core dumps, one server per register, SIGHUP, and errors an operator can act on."""
import concurrent.futures
import os
import re
import resource
import signal
import socket
import subprocess
import time

import pytest
import requests

from conftest import WEBSHOP, Server, add_key


def _slow_socket(source, port):
    """A connection from `source` that has sent half a request line."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(5)
    s.connect(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return s


def _closed_by_server(s, wait):
    """True if the server closed s within `wait` seconds (EOF or reset)."""
    s.settimeout(wait)
    try:
        return s.recv(1) == b""
    except socket.timeout:
        return False
    except OSError:
        return True


def test_slow_clients_do_not_starve_others(privreg, register):
    """#15.1: hundreds of half-open connections from one address: the server
    keeps at most --per-ip-limit (default 64) of them, and /healthz from
    another address still answers at once."""
    srv = Server(privreg, register)
    port = int(srv.url.rsplit(":", 1)[1])
    socks = []
    try:
        for _ in range(300):
            try:
                socks.append(_slow_socket("127.0.0.2", port))
            except OSError:
                pass  # refused at connect: fine too
        t0 = time.monotonic()
        r = srv.request("GET", "/healthz")
        assert r.status_code == 200 and time.monotonic() - t0 < 2
        time.sleep(0.5)
        still_open = [s for s in socks if not _closed_by_server(s, 0.01)]
        assert len(still_open) <= 64, f"{len(still_open)} slow connections from one address kept open"
        # A fresh client from yet another address is served too.
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert c.recv(64).startswith(b"HTTP/1.1 200")
        c.close()
    finally:
        for s in socks:
            s.close()
        code, err = srv.stop()
    assert code == 0, err[-3000:]


def test_request_must_arrive_within_the_receive_timeout(privreg, register):
    """#15.1: a client trickling its headers (never idle long enough for the
    idle timeout) is cut at --receive-timeout, counted from the request's
    start; a normal request on a kept-alive connection is not."""
    srv = Server(privreg, register, ["--receive-timeout", "3s"])
    port = int(srv.url.rsplit(":", 1)[1])
    try:
        s = _slow_socket("127.0.0.3", port)
        t0 = time.monotonic()
        closed = False
        while time.monotonic() - t0 < 12:
            try:
                s.sendall(b"X")  # one byte of a header line every half second
            except OSError:
                closed = True
                break
            if _closed_by_server(s, 0.5):
                closed = True
                break
        elapsed = time.monotonic() - t0
        s.close()
        assert closed, "a trickling client kept its connection for 12 s"
        assert 2.5 < elapsed < 8, elapsed
        for _ in range(20):  # the line is written just after the cut
            if "did not send their request within 3s" in srv.log_path.read_text():
                break
            time.sleep(0.1)
        assert "did not send their request within 3s" in srv.log_path.read_text()
        # Kept-alive connection: each request has its own clock.
        with requests.Session() as sess:
            for _ in range(3):
                assert sess.get(srv.url + "/healthz", timeout=5).status_code == 200
                time.sleep(1.5)
            assert sess.get(srv.url + "/healthz", timeout=5).status_code == 200
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]


def test_no_core_dumps(privreg, register):
    """#15.2: the server turns core dumps off for itself, whatever limit it
    was started with."""
    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))
    try:
        srv = Server(privreg, register)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    try:
        limits = open(f"/proc/{srv.proc.pid}/limits").read()
        line = next(l for l in limits.splitlines() if l.startswith("Max core file size"))
        assert line.split()[4:6] == ["0", "0"], line
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]


@pytest.mark.sqlite_only("the SQLite register's one-server lock; on PostgreSQL a second server is meant to start (test_pg_store.py)")
def test_one_server_per_register(privreg, register):
    """#11.4: a second server on the same register exits at once, naming the
    directory and the first server's pid; other commands keep working."""
    srv = Server(privreg, register)
    try:
        lock = (register / "privreg.lock").read_text()
        try:
            second = subprocess.run([privreg.binary, "serve", "--dir", str(register), "--listen", "127.0.0.1:0"],
                                    capture_output=True, text=True, timeout=15)
        except subprocess.TimeoutExpired:
            pytest.fail("a second server on the same register kept running")
        assert second.returncode != 0
        assert str(register) in second.stderr and str(srv.proc.pid) in second.stderr, second.stderr
        assert (register / "privreg.lock").read_text() == lock
        # The CLI works beside the server, and the server sees what it did.
        key = add_key(privreg, register, "admin")
        assert srv.request("GET", "/v1/policy", key=key).status_code == 200
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
    # Once it has stopped, the register can be served again.
    again = Server(privreg, register)
    code, err = again.stop()
    assert code == 0, err[-3000:]


def test_sighup_reloads_without_dropping_requests(privreg, register):
    """#11.4: SIGHUP under load: no request fails, the server stays up, and
    the reload is logged."""
    key = add_key(privreg, register, "admin")
    srv = Server(privreg, register, ["--auth-limit", "100000"])
    try:
        def worker(n):
            failed = 0
            with requests.Session() as sess:
                sess.headers["Authorization"] = "Bearer " + key
                for i in range(n):
                    path = "/v1/policy" if i % 2 else "/healthz"
                    try:
                        if sess.get(srv.url + path, timeout=30).status_code != 200:
                            failed += 1
                    except requests.RequestException:
                        failed += 1
            return failed

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            futures = [pool.submit(worker, 250) for _ in range(8)]
            for _ in range(5):
                time.sleep(0.3)
                srv.proc.send_signal(signal.SIGHUP)
            failed = sum(f.result() for f in futures)
        assert failed == 0
        assert srv.proc.poll() is None, "the server died of SIGHUP"
        assert srv.request("GET", "/healthz").status_code == 200
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "SIGHUP: policies reloaded" in err


def test_port_in_use_is_named(privreg, register):
    """#11.8: a taken port is reported as such, with the address."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        proc = subprocess.run([privreg.binary, "serve", "--dir", str(register), "--listen", f"127.0.0.1:{port}"],
                              capture_output=True, text=True, timeout=30)
    finally:
        taken.close()
    assert proc.returncode != 0
    assert f"address already in use: 127.0.0.1:{port}" in proc.stderr, proc.stderr


@pytest.mark.parametrize("what", ["dir-mode", "file-mode", "file-owner", "dir-owner"])
def test_key_access_refused_with_the_fix(privreg, register, what):
    """#11.8: a key directory or file others can reach, or that another user
    owns, is refused at open, and the message says how to fix it."""
    keys = register / "keys"
    keyfile = keys / "default.key"
    if what.endswith("owner") and os.geteuid() != 0:
        pytest.skip("changing a file's owner needs root")
    if what == "dir-mode":
        os.chmod(keys, 0o750)
        fix = f"chmod 700 {keys}"
    elif what == "file-mode":
        os.chmod(keyfile, 0o640)
        fix = f"chmod 600 {keyfile}"
    elif what == "file-owner":
        os.chown(keyfile, 65534, -1)
        fix = f"chown {os.geteuid()} {keyfile}"
    else:
        os.chown(keys, 65534, -1)
        fix = f"chown {os.geteuid()} {keys}"
    # A command that loads the tenant's keys...
    proc = privreg("key", "add", "--role", "admin", "--dir", register)
    assert proc.returncode != 0 and fix in proc.stderr, proc.stderr
    if what.startswith("dir"):
        # ...and the server, at start rather than on the first request.
        proc = subprocess.run([privreg.binary, "serve", "--dir", str(register), "--listen", "127.0.0.1:0"],
                              capture_output=True, text=True, timeout=15)
        assert proc.returncode != 0 and fix in proc.stderr, proc.stderr
    os.chown(keys, os.geteuid(), -1)
    os.chown(keyfile, os.geteuid(), -1)
    os.chmod(keys, 0o700)
    os.chmod(keyfile, 0o600)
    privreg("key", "add", "--role", "admin", "--dir", register, check=0)


def test_metrics_port_in_use_is_named(privreg, register):
    """#11.8: a taken --metrics-listen port is named as such too, with its
    flag (libmicrohttpd alone said "Failed to bind to port 0")."""
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        proc = subprocess.run([privreg.binary, "serve", "--dir", str(register), "--listen", "127.0.0.1:0",
                               "--metrics-listen", f"127.0.0.1:{port}"], capture_output=True, text=True, timeout=30)
    finally:
        taken.close()
    assert proc.returncode != 0
    assert (f"address already in use: 127.0.0.1:{port} (another program listens there: stop it, or choose "
            f"another --metrics-listen)") in proc.stderr, proc.stderr
    assert "port 0" not in proc.stderr, proc.stderr
