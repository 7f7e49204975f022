"""The example policy declares the shop's own systems, and `make run` shows
them told (issue #13 leftovers): policies/webshop.yaml names its order
database and newsletter tool (`systems:`) with secret files beside it
(published demo secrets) and passes `policy check` as shipped; the demo
(scripts/demo) serves it with its webhook sink, and an erasure through the
API reaches both systems, signed, and completes only once both have
acknowledged. The demo's sink listens on a free port here
(PRIVREG_DEMO_SINK), the policy's webhooks moved with it."""
import base64
import os
import re
import signal
import stat
import subprocess
import time

import requests

from conftest import ROOT, WEBSHOP_SHIPPED, _bin
from test_integrate_doc import free_port


def test_the_shipped_policy_declares_its_systems(privreg):
    text = WEBSHOP_SHIPPED.read_text()
    assert re.search(r"^systems:\n  shop_db:\n", text, re.M) and "\n  newsletter:\n" in text
    assert privreg("policy", "check", WEBSHOP_SHIPPED, check=0).stdout.strip().endswith("ok")
    # The published secrets say what they are: nobody mistakes them for real ones.
    for name in ("shop_db", "newsletter"):
        secret = (WEBSHOP_SHIPPED.parent / "webshop.secrets" / f"{name}.whsec").read_text().strip()
        assert base64.b64decode(secret.removeprefix("whsec_")).startswith(b"privreg demo secret " + name.encode())


def wait_for(cond, timeout=60):
    end = time.time() + timeout
    while time.time() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError("timed out")


def test_make_run_tells_the_shop_s_systems_of_an_erasure(tmp_path):
    binary = _bin()
    port, sink = free_port(), free_port()
    demo = tmp_path / "demo"
    log_path = tmp_path / "demo.log"
    log = open(log_path, "w")
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo"), binary, str(demo), f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT,
                            env={**os.environ, "PRIVREG_DEMO_SINK": f"127.0.0.1:{sink}"})
    base = f"http://127.0.0.1:{port}"
    try:
        def up():
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                return requests.get(base + "/healthz", timeout=2).status_code == 200
            except requests.ConnectionError:
                return False
        wait_for(up)
        # The demo's policy is the shipped one with the sink's address put
        # in; its secrets are private copies of the published ones.
        copy = (demo / "policy" / "webshop.yaml").read_text()
        assert copy == WEBSHOP_SHIPPED.read_text().replace("127.0.0.1:8099", f"127.0.0.1:{sink}")
        for f in (demo / "policy" / "webshop.secrets").glob("*.whsec"):
            assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
        # The demo's own restriction and its lifting reached both systems.
        wait_for(lambda: len(re.findall(r"subject\.restriction_lifted subject=", log_path.read_text())) == 2)

        key = (demo / "admin-key.txt").read_text().split()[-1]
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {key}"
        sid = s.get(base + "/v1/subjects", params={"email": "janis.berzins@example.lv"},
                    timeout=30).json()["subjects"][0]["id"]
        r = s.post(base + "/v1/requests", json={"type": "erasure", "subject_id": sid, "verified_by": "ID card"},
                   timeout=30)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        done = s.post(f"{base}/v1/requests/{rid}/complete", json={}, timeout=30).json()
        # Carried out, told, and not complete until both have acknowledged.
        assert done["status"] == "awaiting_acknowledgements", done
        assert sorted(n["target"] for n in done["notifications"]) == ["newsletter", "shop_db"]
        got = wait_for(lambda: (lambda g: g if g["status"] == "completed" else None)(
            s.get(f"{base}/v1/requests/{rid}", timeout=30).json()))
        assert sorted((n["target"], n["status"], n["event"]) for n in got["notifications"]) == [
            ("newsletter", "delivered", "subject.erased"), ("shop_db", "delivered", "subject.erased")]
        printed = log_path.read_text()
        for path in ("/hooks/shop-db", "/hooks/newsletter"):
            assert re.search(rf"webhook-sink: {path} evt_\w+ subject\.erased subject={sid} request=\"{rid}\"",
                             printed), printed[-3000:]
        assert "bad signature" not in printed
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
    out = log_path.read_text()
    assert proc.returncode == 0, out[-3000:]
    assert "AddressSanitizer" not in out and "runtime error" not in out, out[-3000:]
