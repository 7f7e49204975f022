"""Two `privreg serve` on one PostgreSQL register, under load: each due
record is swept once (one audit entry, by whichever server took it), each
e-mail is sent once (two senders claim from one outbox), and the audit chain
both servers append to stays whole. Both servers' sweepers run every second
and sweeps are also asked for over the API on both meanwhile, and the test
checks that each server did sweep records and send e-mail, so that the two
really competed for them. PostgreSQL only: a SQLite register has one server
at a time (serve's lock)."""
import collections
import re
import threading
import time

import pytest

from conftest import PG, WEBSHOP, Privreg, Server, _bin, add_key
from test_consent import Inbox, free_port

pytestmark = pytest.mark.skipif(not PG, reason="two servers on one register need PostgreSQL "
                                               "(PRIVREG_TEST_STORE=postgresql)")

SUBJECTS_PER_WORKER = 15
WORKERS = 4  # two per server


def audit_entries(srv, key):
    out, after = [], 0
    while True:
        r = srv.request("GET", "/v1/audit", key, params={"after": after, "limit": 1000})
        assert r.status_code == 200, r.text
        body = r.json()
        out += body["entries"]
        if "next_after" not in body:
            return out
        after = body["next_after"]


def test_two_servers_sweep_and_send_each_thing_once(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    admin = add_key(privreg, d, "admin")
    auditor = add_key(privreg, d, "auditor")
    port = free_port()
    inbox = Inbox(port).start()
    extra = ["--smtp", f"smtp://127.0.0.1:{port}", "--sweep-every", "1s"]
    servers = [Server(privreg, d, extra, log_name=f"server{i}.log") for i in range(2)]
    failures, due_records, grants = [], [], []
    lock = threading.Lock()

    def work(srv, n):
        for i in range(SUBJECTS_PER_WORKER):
            # A message kept for a year after 2020: due the moment it is written.
            r = srv.request("POST", "/v1/subjects", admin, json={"records": [
                {"kind": "message", "fields": {"message": "hello"}, "created_at": "2020-01-01"}]})
            if r.status_code != 201:
                with lock:
                    failures.append((r.status_code, r.text))
                continue
            with lock:
                due_records.append(r.json()["records"][0]["id"])
            # An account whose marketing consent asks for a confirmation e-mail.
            r = srv.request("POST", "/v1/subjects", admin, json={"records": [
                {"kind": "account", "fields": {"email": f"w{n}-{i}@example.ee", "name": "Mari Tamm"}}]})
            if r.status_code != 201:
                with lock:
                    failures.append((r.status_code, r.text))
                continue
            sid = r.json()["id"]
            r = srv.request("POST", f"/v1/subjects/{sid}/consents", admin,
                            json={"purpose": "direct_marketing", "granted": True, "source": "form", "text": "Offers"})
            with lock:
                if r.status_code == 201:
                    grants.append(f"w{n}-{i}@example.ee")
                else:
                    failures.append((r.status_code, r.text))

    done = threading.Event()
    asked = [0, 0]  # records each server's on-demand sweeps removed

    def sweep_on_demand(first):
        # Sweeps asked of both servers at once, beside their own sweepers.
        n = first
        while not done.is_set():
            r = servers[n % 2].request("POST", "/v1/retention/sweep", admin, json={})
            with lock:
                if r.status_code != 200:
                    failures.append((r.status_code, r.text))
                else:
                    asked[n % 2] += sum(k["deleted"] + k["anonymized"] for k in r.json()["kinds"].values())
            n += 1
            time.sleep(0.05)

    try:
        threads = [threading.Thread(target=work, args=(servers[n % 2], n)) for n in range(WORKERS)]
        sweepers = [threading.Thread(target=sweep_on_demand, args=(i,)) for i in range(2)]
        for t in threads + sweepers:
            t.start()
        for t in threads:
            t.join()
        done.set()
        for t in sweepers:
            t.join()
        assert failures == []
        want = WORKERS * SUBJECTS_PER_WORKER
        assert len(grants) == want and len(due_records) == want
        # Both sweepers and both senders have been at it meanwhile; let them finish.
        end = time.time() + 60
        while time.time() < end:
            over = servers[0].request("GET", "/v1/retention/overdue", auditor).json()["overdue"]
            if not over and len(inbox.messages) >= want:
                break
            time.sleep(0.5)
        time.sleep(3)  # a second send or sweep would show now
        assert sorted(str(m["To"]) for m in inbox.messages) == sorted(grants)
        entries = audit_entries(servers[1], auditor)
        swept = collections.Counter(e["record_id"] for e in entries if e["action"] == "retention.delete")
        assert sorted(swept) == sorted(due_records)
        assert set(swept.values()) == {1}
        assert [e["seq"] for e in entries] == list(range(1, len(entries) + 1))
        v = servers[0].request("GET", "/v1/audit/verify", auditor).json()
        assert v["ok"] is True, v
    finally:
        logs = []
        for srv in servers:
            code, log = srv.stop()
            logs.append(log)
            assert code == 0, log[-2000:]
            assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
        inbox.stop()
    # The sweeps' own counts add up to each due record once, and each server
    # swept records and sent e-mail: the two competed for both.
    by_job = [sum(int(n) for n in re.findall(r"sweep: records=(\d+)", log)) for log in logs]
    assert sum(by_job) + sum(asked) == len(due_records), (by_job, asked)
    for i, log in enumerate(logs):
        assert by_job[i] + asked[i] > 0, (by_job, asked)
        assert re.search(r"outbox message=\d+ tenant=\d+ kind=\w+ sent", log), log[-3000:]
