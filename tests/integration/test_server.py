"""The running server takes up new policy versions without a limit, and one
that does not load is logged and counted, not skipped in silence; without
--threads it runs as many request threads as its store calls for."""
import os
import pytest
import re
import signal
import sqlite3
import subprocess
import time

from conftest import PG, WEBSHOP, Privreg, Server, _bin, add_key


def metric(srv, name):
    text = srv.request("GET", "/metrics", srv.key).text
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    assert m, f"{name} not in /metrics"
    return int(m.group(1))


def wait_for(cond, timeout=10):
    end = time.time() + timeout
    while not cond() and time.time() < end:
        time.sleep(0.2)
    return cond()


@pytest.mark.sqlite_only('edits the SQLite file (sqlite3 module)')
def test_policy_reloads_are_counted_and_failures_loud(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    srv.key = key
    try:
        assert srv.request("GET", "/v1/whoami", key).status_code == 200
        assert metric(srv, "privreg_tenants_loaded") == 1
        versions = ["2025-01", "2025-02", "2025-03"]
        for v in versions:
            p = tmp_path / f"webshop-{v}.yaml"
            p.write_text(WEBSHOP.read_text().replace('version: "2024-05"', f'version: "{v}"'))
            privreg("tenant", "policy", "default", p, "--dir", d, check=0)
            assert wait_for(lambda: srv.request("GET", "/v1/policy", key).json()["version"] == v)
        assert metric(srv, "privreg_policy_reloads_total") == 3
        assert metric(srv, "privreg_tenants_retired") == 3
        assert metric(srv, "privreg_policy_reload_failures_total") == 0

        # A version that does not parse (written behind the CLI's back).
        with sqlite3.connect(d / "privreg.db") as db:
            tenant, no = db.execute("SELECT tenant_id, max(version_no) FROM policies GROUP BY tenant_id").fetchone()
            db.execute("INSERT INTO policies (tenant_id, version_no, label, source, installed_at) VALUES (?, ?, ?, ?, ?)",
                       (tenant, no + 1, "broken", "version: [", int(time.time())))
        db.close()
        assert wait_for(lambda: metric(srv, "privreg_policy_reload_failures_total") >= 1)
        # The tenant keeps running under the last version that loaded.
        assert srv.request("GET", "/v1/policy", key).json()["version"] == "2025-03"
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
    assert re.search(r"tenant=\d+: new policy cannot be loaded", log), log[-2000:]
    assert log.count("now runs under policy version") == 3


def test_default_threads_follow_the_store(privreg, register, tmp_path):
    """Without --threads: one request thread per core on SQLite, two on
    PostgreSQL, where a thread waits for each round trip."""
    log_path = tmp_path / "default-threads.log"
    with open(log_path, "w") as log:
        proc = subprocess.Popen([privreg.binary, "serve", "--dir", str(register), "--listen", "127.0.0.1:0"],
                                stdout=subprocess.PIPE, stderr=log, text=True)
        try:
            assert "http://127.0.0.1:" in proc.stdout.readline()
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=30)
    m = re.search(r"listening .* threads=(\d+)", log_path.read_text())
    assert m, log_path.read_text()[-2000:]
    assert int(m.group(1)) == os.cpu_count() * (2 if PG else 1)
    assert proc.returncode == 0


def test_a_stop_under_load_answers_the_waiting_requests_and_exits_cleanly(privreg, register):
    """Reads wait suspended for their access entries (and, on PostgreSQL,
    consent checks for their flight). libmicrohttpd aborts the process when
    it is stopped with a suspended connection, and keep-alive clients that
    go on asking kept one suspended at the moment it was stopped: SIGTERM
    under load ended in SIGABRT, without the final sync."""
    import threading

    import requests

    admin = add_key(privreg, register, "admin")
    marketing = add_key(privreg, register, "marketing")
    srv = Server(privreg, register, extra=("--threads", "4"))
    r = srv.request("POST", "/v1/subjects", admin, json={"records": [{"kind": "account", "fields": {
        "email": "stop@example.ee", "name": "Mari Tamm", "language": "et"}}]})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    done = threading.Event()
    codes = []

    def hammer(i):
        s = requests.Session()
        while not done.is_set():
            try:
                if i % 2:
                    codes.append(s.get(f"{srv.url}/v1/subjects/{sid}", timeout=10,
                                       headers={"Authorization": "Bearer " + admin}).status_code)
                else:
                    codes.append(s.get(f"{srv.url}/v1/consents/check", timeout=10,
                                       params={"purpose": "direct_marketing", "email": "stop@example.ee"},
                                       headers={"Authorization": "Bearer " + marketing}).status_code)
            except requests.RequestException:
                pass  # the server closing its side at the end
    threads = [threading.Thread(target=hammer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    try:
        time.sleep(1.5)
        srv.proc.send_signal(signal.SIGTERM)
        code = srv.proc.wait(timeout=60)  # the clients go on meanwhile, over their open connections
    finally:
        done.set()
        for t in threads:
            t.join()
    srv.log.close()
    log = srv.log_path.read_text()
    assert code == 0, log[-3000:]
    assert "suspended" not in log, log[-3000:]
    assert codes and set(codes) <= {200, 503}, sorted(set(codes))
    assert codes.count(200) > 10
