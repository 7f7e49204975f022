"""/metrics for an operator: a key with role admin or auditor (or the
separate --metrics-listen address), the Prometheus text format as real
parsers read it (each family once, its HELP and TYPE beside its samples),
and the families an operator alerts on: build, outbox, sends, sweeps, late
requests."""
import shutil
import socket
import subprocess
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from conftest import POLICIES, WEBSHOP, Privreg, Server, _bin, add_key


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """Tenants 'default' and 'other'; an SMTP server that is down (every
    send fails); a sweep every second."""
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("metrics") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "other", "--policy", POLICIES / "jerone.yaml", "--dir", d, check=0)
    keys = {r: add_key(privreg, d, r) for r in ["admin", "support", "auditor", "dpo", "marketing"]}
    keys["other"] = add_key(privreg, d, "admin", "other")
    s = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{free_port()}", "--sweep-every", "1s",
                            "--auth-limit", "100000"])
    s.keys = keys
    s.privreg = privreg
    yield s
    code, log = s.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def families(text):
    return list(text_string_to_metric_families(text))


def samples(fams, name):
    """{frozenset(labels): value} of family `name`, which must be there once."""
    found = [f for f in fams if f.name == name]
    assert len(found) == 1, f"{name}: {len(found)} families"
    return {frozenset(s.labels.items()): s.value for s in found[0].samples if s.name in (name, name + "_total")}


def wait_for(cond, timeout=15):
    end = time.monotonic() + timeout
    while not cond() and time.monotonic() < end:
        time.sleep(0.2)
    return cond()


def test_metrics_needs_admin_or_auditor(srv):
    assert srv.request("GET", "/metrics").status_code == 401
    assert srv.request("GET", "/metrics", "prk_not-a-key").status_code == 401
    for role in ["support", "dpo", "marketing"]:
        r = srv.request("GET", "/metrics", srv.keys[role])
        assert r.status_code == 403, (role, r.text)
        assert "privreg_" not in r.text
    for role in ["auditor", "admin"]:
        r = srv.request("GET", "/metrics", srv.keys[role])
        assert r.status_code == 200, (role, r.text)
        assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")


def test_metrics_page_parses_with_every_family_once(srv):
    # Some activity: a subject whose consent queues an e-mail (it cannot be
    # sent: the SMTP server is down), a request, an unknown path, a 405.
    r = srv.request("POST", "/v1/subjects", srv.keys["admin"], json={"records": [
        {"kind": "account", "fields": {"email": "metrics@example.ee", "name": "Mari", "language": "et"}}]})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = srv.request("POST", f"/v1/subjects/{sid}/consents", srv.keys["admin"],
                    json={"purpose": "direct_marketing", "granted": True, "source": "form", "text": "Offers"})
    assert r.status_code == 201, r.text
    r = srv.request("POST", "/v1/requests", srv.keys["admin"], json={
        "type": "access", "subject_id": sid, "received_at": "2024-01-10", "verified_by": "signed in"})
    assert r.status_code == 201, r.text
    assert srv.request("GET", "/no/such/path/metrics@example.ee").status_code == 404
    assert srv.request("PUT", "/v1/whoami", srv.keys["admin"]).status_code == 405

    def page():
        r = srv.request("GET", "/metrics", srv.keys["auditor"])
        assert r.status_code == 200, r.text
        return r.text

    def failures():
        fams = families(page())
        return samples(fams, "privreg_mail_send_failures").get(frozenset(), 0)

    assert wait_for(lambda: failures() >= 1), page()

    def swept():
        return samples(families(page()), "privreg_sweep_last_run_timestamp_seconds")

    assert wait_for(lambda: frozenset({("tenant", "default")}) in swept()), page()
    text = page()
    fams = families(text)
    names = [f.name for f in fams]
    assert len(names) == len(set(names)), sorted(n for n in names if names.count(n) > 1)
    assert all(f.type != "unknown" for f in fams), [f.name for f in fams if f.type == "unknown"]
    # HELP and TYPE of a family come right before its samples, never apart.
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith("# HELP "):
            name = line.split()[2]
            assert lines[i + 1].startswith(f"# TYPE {name} "), lines[i:i + 2]
    seen = []
    for line in lines:
        if line and not line.startswith("#"):
            fam = next(f.name for f in fams for s in f.samples if line.startswith(s.name + ("{" if "{" in line else " ")))
            if not seen or seen[-1] != fam:
                assert fam not in seen, f"{fam} split across the page"
                seen.append(fam)

    version = srv.privreg("--version", check=0).stdout.split()[-1]
    assert samples(fams, "privreg_build_info") == {frozenset({("version", version)}): 1.0}
    reqs = samples(fams, "privreg_http_requests")
    assert reqs[frozenset({("route", "/v1/subjects"), ("method", "POST"), ("status", "201")})] >= 1
    unmatched = {k: v for k, v in reqs.items() if ("route", "unmatched") in k}
    assert sum(unmatched.values()) >= 2 and all(("route", "unmatched") in k for k in unmatched)
    assert "metrics@example.ee" not in text and "/no/such" not in text
    default = frozenset({("tenant", "default")})
    assert samples(fams, "privreg_subjects")[default] == 1
    assert samples(fams, "privreg_requests_open")[default] == 1
    assert samples(fams, "privreg_requests_late")[default] == 1
    assert samples(fams, "privreg_outbox_pending")[default] == 1
    assert samples(fams, "privreg_mail_send_failures")[frozenset()] >= 1
    last = samples(fams, "privreg_sweep_last_run_timestamp_seconds")[default]
    assert abs(last - time.time()) < 30
    took = samples(fams, "privreg_sweep_last_duration_seconds")[default]
    assert 0 <= took < 30
    hist = [f for f in fams if f.name == "privreg_http_request_duration_seconds"]
    assert len(hist) == 1 and hist[0].type == "histogram"
    # A tenant's key sees the server's counters and its own tenant, not the others'.
    assert 'tenant="other"' not in text
    theirs = srv.request("GET", "/metrics", srv.keys["other"]).text
    assert 'tenant="other"' in theirs and 'tenant="default"' not in theirs
    assert samples(families(theirs), "privreg_outbox_pending")[frozenset({("tenant", "other")})] == 0
    if shutil.which("promtool"):
        check = subprocess.run(["promtool", "check", "metrics"], input=text, text=True, capture_output=True)
        assert check.returncode == 0, check.stdout + check.stderr


def test_metrics_listen_serves_every_tenant_without_a_key(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "other", "--policy", POLICIES / "jerone.yaml", "--dir", d, check=0)
    port = free_port()
    s = Server(privreg, d, ["--metrics-listen", f"127.0.0.1:{port}"])
    try:
        ops = f"http://127.0.0.1:{port}"
        r = requests.get(ops + "/metrics", timeout=10)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        fams = families(r.text)
        subjects = samples(fams, "privreg_subjects")
        assert set(subjects) == {frozenset({("tenant", "default")}), frozenset({("tenant", "other")})}
        names = [f.name for f in fams]
        assert len(names) == len(set(names))
        # Only /metrics is there, and only to read.
        assert requests.get(ops + "/v1/whoami", timeout=10).status_code == 404
        assert requests.get(ops + "/metrics/x", timeout=10).status_code == 404
        r = requests.post(ops + "/metrics", data=b"x" * 100000, timeout=10)
        assert r.status_code == 405 and r.headers["Allow"] == "GET, HEAD"
        # The API's own address still wants a key.
        assert s.request("GET", "/metrics").status_code == 401
    finally:
        code, log = s.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
    r = privreg("serve", "--dir", d, "--listen", "127.0.0.1:0", "--metrics-listen", "localhost:1")
    assert r.returncode != 0 and "--metrics-listen" in r.stderr
