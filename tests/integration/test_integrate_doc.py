"""docs/integrate.md works as written (issue #13, item 5): its shell and
Python blocks run, in order, against the demo `make run` serves
(scripts/demo over a fresh directory), with the binary, the directory and
the address of this test put in for build/privreg, demo and
127.0.0.1:8080. The blocks carry their own checks (assert, curl -f); the
webhook receiver's verify() is checked against the Standard Webhooks
specification's vector by the doc's last Python block, and the receiver
itself, run as the doc says (`python3 receiver.py SECRET PORT`), against a
live delivery: an erasure in a tenant whose policy names it as a system
completes once it has acknowledged. The demo's webhook sink listens on a
free port of this test's (PRIVREG_DEMO_SINK), not on 127.0.0.1:8099, so that
two runs side by side do not answer for each other."""
import base64
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time

import requests

from conftest import ROOT, _bin, add_key, Privreg, without_systems

DOC = ROOT / "docs" / "integrate.md"


def blocks(text):
    """(language, code) of every fenced block, in order."""
    return [(m.group(1), m.group(2)) for m in re.finditer(r"^```(\w*)\n(.*?)^```$", text, re.M | re.S)]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_doc_has_what_it_promises():
    text = DOC.read_text()
    langs = [lang for lang, _ in blocks(text)]
    assert langs.count("sh") >= 3 and langs.count("python") >= 6, langs
    for needle in ("Idempotency-Key", "PUT /v1/subjects?email=", "next_after", "webhook-signature",
                   "/complete", '"type": "erasure"', '"type": "access"', "/consents"):
        assert needle in text, needle
    assert not re.search(r"\b(TODO|XXX|FIXME)\b", text)


def test_every_block_runs_against_the_demo(tmp_path):
    binary = _bin()
    port = free_port()
    demo = tmp_path / "demo"
    log = open(tmp_path / "demo.log", "w")
    env = {**os.environ, "PRIVREG_DEMO_SINK": f"127.0.0.1:{free_port()}"}
    proc = subprocess.Popen(["bash", str(ROOT / "scripts" / "demo"), binary, str(demo), f"127.0.0.1:{port}"],
                            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if requests.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except requests.ConnectionError:
                pass
            assert proc.poll() is None, (tmp_path / "demo.log").read_text()[-3000:]
            time.sleep(0.2)
        else:
            raise AssertionError("the demo did not start")

        def local(code):
            return (code.replace("build/privreg", binary).replace("demo/", f"{demo}/")
                    .replace("--dir demo", f"--dir {demo}").replace("127.0.0.1:8080", f"127.0.0.1:{port}"))

        found = blocks(DOC.read_text())
        shells = [local(code) for lang, code in found if lang == "sh"]
        outputs = []
        for code in shells:
            r = subprocess.run(["bash", "-euo", "pipefail", "-c", code], capture_output=True, text=True, cwd=ROOT,
                               timeout=300)
            assert r.returncode == 0, (code, r.stdout[-2000:], r.stderr[-2000:])
            outputs.append(r.stdout)
        # What the comments in the blocks say they print
        assert "['amount', 'delivery_address', 'items', 'name', 'payment_method', 'payment_ref', 'phone']" in outputs[1]
        assert re.search(r'\{"id":"sub_\w+","records":\[\{"id":"rec_\w+"\}\]\}', outputs[2]), outputs[2]
        assert re.search(r'\{"error":\{"code":"unprocessable","message":"[^"]+"\}\} 422', outputs[2]), outputs[2]

        pythons = [local(code) for lang, code in found if lang == "python"]
        runner = tmp_path / "run_blocks.py"
        (tmp_path / "blocks.json").write_text(json.dumps(pythons))
        runner.write_text(
            "import json, sys\n"
            "ns = {'__name__': 'integrate_doc'}\n"
            "for i, code in enumerate(json.load(open(sys.argv[1]))):\n"
            "    exec(compile(code, f'integrate.md python block {i + 1}', 'exec'), ns)\n"
            "print('all blocks ran')\n")
        r = subprocess.run([sys.executable, str(runner), str(tmp_path / "blocks.json")], capture_output=True,
                           text=True, cwd=ROOT, timeout=300)
        assert r.returncode == 0 and "all blocks ran" in r.stdout, (r.stdout[-3000:], r.stderr[-3000:])

        receiver_runs_against_a_live_delivery(tmp_path, demo, base, found)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        log.close()
    out = (tmp_path / "demo.log").read_text()
    assert proc.returncode == 0, out[-3000:]
    assert "AddressSanitizer" not in out and "runtime error" not in out, out[-3000:]


def receiver_runs_against_a_live_delivery(tmp_path, demo, base, found):
    """The doc's receiver.py, run as the doc says, as the one system of a
    new tenant of the running demo: an erasure through the API reaches it,
    signed, and completes once it has acknowledged."""
    (receiver_code,) = [code for lang, code in found if lang == "python" and code.startswith("# receiver.py")]
    (tmp_path / "receiver.py").write_text(receiver_code)
    secret = demo / "policy" / "receiver.whsec"
    secret.write_text("whsec_" + base64.b64encode(os.urandom(32)).decode() + "\n")
    port = free_port()
    policy = demo / "policy" / "hooks.yaml"
    policy.write_text(without_systems((demo / "policy" / "webshop.yaml").read_text()) + f"""
systems:
  receiver:
    kinds: [account, order]
    webhook: http://127.0.0.1:{port}/privreg
    secret_file: receiver.whsec
""")
    privreg = Privreg(_bin())
    privreg("tenant", "add", "hooks", "--policy", policy, "--dir", demo, check=0)
    key = add_key(privreg, demo, "admin", "hooks")
    out = open(tmp_path / "receiver.log", "w")
    receiver = subprocess.Popen(["/usr/bin/python3", str(tmp_path / "receiver.py"), str(secret), str(port)],
                                stdout=out, stderr=subprocess.STDOUT)
    try:
        s = requests.Session()
        s.headers["Authorization"] = f"Bearer {key}"
        r = s.post(base + "/v1/subjects", timeout=30, json={"records": [
            {"kind": "account", "fields": {"email": "hooks@example.ee", "name": "Hooks Test"}}]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        r = s.post(base + "/v1/requests", timeout=30,
                   json={"type": "erasure", "subject_id": sid, "verified_by": "ID card"})
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        r = s.post(f"{base}/v1/requests/{rid}/complete", timeout=30, json={})
        assert r.status_code == 200 and r.json()["status"] == "awaiting_acknowledgements", r.text
        for _ in range(120):
            got = s.get(f"{base}/v1/requests/{rid}", timeout=30).json()
            if got["status"] == "completed":
                break
            time.sleep(0.5)
        assert got["status"] == "completed", (got, (tmp_path / "receiver.log").read_text())
        assert [(n["target"], n["status"]) for n in got["notifications"]] == [("receiver", "delivered")]
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
        out.close()
    printed = (tmp_path / "receiver.log").read_text()
    assert f"subject.erased {sid} ['account']" in printed, printed
