"""Signed attestations (issue #16): privreg attest, attest key, attest verify,
GET /v1/attestation and the monthly attester, against real registers."""
import base64
import json
import time

import pytest

from conftest import ROOT, WEBSHOP, Server, add_key

ORDER = {"name": "Kalle Kask", "delivery_address": "Pikk 1, Tallinn", "items": [{"sku": "KB-1"}], "amount": "49.90"}


def attest(privreg, d, *extra):
    out = d.parent / f"attestation-{time.monotonic_ns()}.json"
    privreg("attest", "--dir", d, "--out", out, *extra, check=0)
    return out, json.loads(out.read_text())


def claim(doc, name):
    [c] = [c for c in doc["claims"] if c["name"] == name]
    return c


def public_key(privreg, d):
    return privreg.json("attest", "key", "--dir", d)


def test_an_overdue_record_breaks_retention_until_the_sweep(privreg, register, tmp_path):
    lines = tmp_path / "orders.jsonl"
    lines.write_text(json.dumps({"fields": ORDER, "created_at": "2020-01-15T10:00:00Z"}) + "\n")
    privreg("import", "order", lines, "--dir", register, check=0)
    path, doc = attest(privreg, register)
    retention = claim(doc, "retention")
    assert retention["holds"] is False
    [row] = retention["evidence"]["overdue"]
    assert row["kind"] == "order" and row["due_at"] == "2023-01-15T10:00:00Z"
    assert retention["evidence"]["overdue_count"] == 1 and retention["evidence"]["last_sweep"] is None
    held = privreg("subject", "get", row["subject"], "--dir", register, check=0).stdout
    assert row["record"] in held  # it names the record, by its id
    assert "Kalle" not in path.read_text()  # and never a value

    privreg("sweep", "--dir", register, check=0)
    _, after = attest(privreg, register)
    retention = claim(after, "retention")
    assert retention["holds"] is True and retention["evidence"]["overdue"] == []
    assert retention["evidence"]["last_sweep"] is not None
    # The first document, checked again as of its own time, no longer agrees
    # on retention: the record it names was anonymised since.
    r = privreg("attest", "verify", path, "--dir", register, check=1)
    assert "signature: valid" in r.stdout
    assert "claim retention: DIFFERS: did not hold then, holds now" in r.stdout
    assert "claim policy: agrees (holds)" in r.stdout
    # The second period starts where the first ended.
    assert after["period"]["from"] == doc["as_of"]


def test_a_request_answered_late_breaks_the_requests_claim(privreg, register):
    add = lambda role: add_key(privreg, register, role)
    keys = {r: add(r) for r in ("admin", "dpo", "support", "auditor")}
    srv = Server(privreg, register)
    try:
        r = srv.request("POST", "/v1/subjects", keys["admin"], json={"records": [
            {"kind": "account", "fields": {"email": "mari@example.ee", "name": "Mari Tamm", "language": "en"}}]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        late = srv.request("POST", "/v1/requests", keys["support"], json={
            "type": "access", "subject_id": sid, "verified_by": "ID card", "received_at": "2024-01-10"}).json()
        fresh = srv.request("POST", "/v1/requests", keys["support"], json={
            "type": "restriction", "subject_id": sid, "verified_by": "ID card"}).json()
        r = srv.request("POST", f"/v1/requests/{late['id']}/complete", keys["dpo"], json={})
        assert r.status_code == 200, r.text
        r = srv.request("GET", "/v1/attestation", keys["auditor"])
        assert r.status_code == 200, r.text
        doc = r.json()
        requests = claim(doc, "requests")
        assert requests["holds"] is False
        [row] = requests["evidence"]["late"]
        assert row["request"] == late["id"] and row["days_late"] > 600 and row["answered_at"]
        assert [o["request"] for o in requests["evidence"]["open"]] == [fresh["id"]]
        assert requests["evidence"]["open"][0]["days_left"] >= 20
        # Signed with the register's key, as the CLI's are.
        path = register.parent / "served.json"
        path.write_text(r.text)
        key = public_key(privreg, register)
        assert doc["signature"]["key_id"] == key["key_id"]
        privreg("attest", "verify", path, "--public-key", key["public_key"], check=0)
        # Nothing was kept by the GET: latest has none yet.
        assert srv.request("GET", "/v1/attestation", keys["dpo"], params={"latest": "1"}).status_code == 404
        assert srv.request("GET", "/v1/attestation", keys["dpo"], params={"latest": "maybe"}).status_code == 422
        assert srv.request("GET", "/v1/attestation", keys["support"]).status_code == 403
        kept, _ = attest(privreg, register)
        r = srv.request("GET", "/v1/attestation", keys["dpo"], params={"latest": "1"})
        assert r.status_code == 200 and r.json() == json.loads(kept.read_text())
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def test_a_changed_byte_fails_verify(privreg, register):
    path, doc = attest(privreg, register)
    key = public_key(privreg, register)
    assert key["alg"] == "ed25519" and len(base64.b64decode(key["public_key"])) == 32
    r = privreg("attest", "verify", path, "--public-key", key["public_key"], check=0)
    assert r.stdout == f"signature: valid (ed25519 key {key['key_id']})\n"
    text = path.read_bytes()
    at = text.index(b'"as_of": "') + len(b'"as_of": "2')
    changed = text[:at] + bytes([text[at] ^ 1]) + text[at + 1:]
    bad = path.with_name("changed.json")
    bad.write_bytes(changed)
    r = privreg("attest", "verify", bad, "--public-key", key["public_key"], check=1)
    assert "signature: INVALID" in r.stdout and "altered" in r.stdout
    # A claim turned from red to green is caught the same way.
    forged = json.loads(text)
    claim(forged, "access")["holds"] = not claim(forged, "access")["holds"]
    bad.write_text(json.dumps(forged, indent=2))
    privreg("attest", "verify", bad, "--dir", register, check=1)
    # Another register's key does not vouch for it.
    other = register.parent / "other"
    privreg("init", "--dir", other, "--policy", WEBSHOP, check=0)
    r = privreg("attest", "verify", path, "--dir", other, check=1)
    assert "not with this key" in r.stdout
    privreg("attest", "verify", bad, "--public-key", "c2hvcnQ=", check=2)


def test_the_python_check_in_the_docs(privreg, register):
    """docs/attestation.md's ten lines, run as written."""
    pytest.importorskip("cryptography")
    text = (ROOT / "docs" / "attestation.md").read_text()
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    path, _ = attest(privreg, register)
    key = public_key(privreg, register)["public_key"]
    import subprocess
    import sys
    r = subprocess.run([sys.executable, "-c", code, str(path), key], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "valid", r.stderr
    doc = json.loads(path.read_text())
    doc["tenant"] = "someone-else"
    path.write_text(json.dumps(doc))
    r = subprocess.run([sys.executable, "-c", code, str(path), key], capture_output=True, text=True)
    assert r.returncode != 0


def test_a_clean_demo_register_holds_on_every_claim(privreg, tmp_path):
    """The `make run` demo (scripts/demo), once its first sweep and
    checkpoint are made: every claim holds, and verify agrees with each."""
    d = tmp_path / "demo"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("import", "account", ROOT / "scripts" / "demo-accounts.jsonl", "--dir", d, check=0)
    privreg("import", "order", ROOT / "scripts" / "demo-orders.jsonl", "--dir", d, check=0)
    privreg("key", "add", "--role", "admin", "--dir", d, check=0)
    privreg("sweep", "--dir", d, check=0)
    privreg("audit", "checkpoint", "--dir", d, check=0)
    html = tmp_path / "attestation.html"
    path, doc = attest(privreg, d, "--html", html)
    assert {c["name"]: c["holds"] for c in doc["claims"]} == dict.fromkeys(
        ["retention", "requests", "consent", "disclosures", "access", "erasure", "policy"], True)
    access = claim(doc, "access")["evidence"]
    assert access["chain_intact"] and access["checkpoint_seq"] > 0 and len(access["checkpoint_hash"]) == 64
    versions = claim(doc, "policy")["evidence"]["versions"]
    assert [v["version"] for v in versions] == ["2024-05"] and len(versions[0]["notice_sha256_en"]) == 64
    erasure = claim(doc, "erasure")["evidence"]
    assert erasure["erasures_in_period"] == erasure["ledger_entries"] > 0  # the sweep's, each in the ledger
    r = privreg("attest", "verify", path, "--dir", d, check=0)
    assert r.stdout.count(": agrees (holds)") == 7
    page = html.read_text()
    assert "@media print" in page and page.count("does not hold") == 0 and page.count('class="holds"') == 7
    assert "Mari" not in page and "mari.tamm" not in path.read_text()
    page = privreg("attest", "--dir", d, "--format", "html", check=0).stdout
    assert page.startswith("<!DOCTYPE html>")


def test_the_server_attests_each_month(privreg, register):
    srv = Server(privreg, register, ["--attest-every", "month"])
    try:
        folder = register / "attestations"
        for _ in range(100):
            files = list(folder.glob("default-*.json")) if folder.exists() else []
            if files:
                break
            time.sleep(0.1)
        assert len(files) == 1, files
        privreg("attest", "verify", files[0], "--dir", register, check=0)
        key = add_key(privreg, register, "dpo")
        r = srv.request("GET", "/v1/attestation", key, params={"latest": "1"})
        assert r.status_code == 200 and r.json() == json.loads(files[0].read_text())
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "attestation claims=7" in log
