"""A server that stops cleanly says nothing alarming (issue #13 leftovers):
its worker threads' connections used to close, each with a PRAGMA
optimize, while the webhook sender still wrote its attempts, and the stop
logged `sqlite exec op=optimize: database is locked`. Here the shop's
systems are unreachable, so the sender writes a failed attempt for each of
many notifications while the server is told to stop."""
import re
import time
import socket

import pytest

from conftest import WEBSHOP_SHIPPED, Privreg, Server, _bin, add_key


def dead_port():
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.sqlite_only("PRAGMA optimize is SQLite's")
def test_a_clean_stop_logs_no_error(tmp_path):
    privreg = Privreg(_bin())
    pol = tmp_path / "policy"
    pol.mkdir()
    (pol / "webshop.secrets").symlink_to(WEBSHOP_SHIPPED.parent / "webshop.secrets")
    (pol / "webshop.yaml").write_text(WEBSHOP_SHIPPED.read_text().replace("127.0.0.1:8099", f"127.0.0.1:{dead_port()}"))
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", pol / "webshop.yaml", check=0)
    accounts = tmp_path / "accounts.jsonl"
    accounts.write_text("".join(f'{{"fields":{{"email":"c{i}@example.ee","name":"C {i}"}}}}\n' for i in range(40)))
    privreg("import", "account", accounts, "--dir", d, check=0)
    key = add_key(privreg, d, "admin")
    for attempt in range(2):
        srv = Server(privreg, d, log_name=f"stop{attempt}.log")
        try:
            # A restriction carried out tells both systems: two webhooks
            # each, all failing at once (nobody listens) and written back
            # as attempts while the server stops.
            for i in range(20 * attempt, 20 * attempt + 20):
                r = srv.request("POST", "/v1/requests", key, json={
                    "type": "restriction", "email": f"c{i}@example.ee", "verified_by": "test"})
                assert r.status_code == 201, r.text
                r = srv.request("POST", f"/v1/requests/{r.json()['id']}/complete", key, json={})
                assert r.status_code == 200 and r.json()["status"] == "awaiting_acknowledgements", r.text
            # Stop while the sender is at work: once its first attempts
            # have failed (on a fast machine the requests can all be in
            # before it has polled once).
            deadline = time.monotonic() + 10
            while "webhook failed" not in srv.log_path.read_text() and time.monotonic() < deadline:
                time.sleep(0.02)
        finally:
            code, log = srv.stop()
        assert code == 0, log[-3000:]
        assert "webhook failed" in log, log[-3000:]   # the sender was busy
        errors = [line for line in log.splitlines() if re.search(r"\s(error|fatal)\s", line) or "locked" in line]
        assert errors == [], errors
        assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
