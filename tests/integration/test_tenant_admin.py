"""Operator duties for a register of many controllers: the 7-day target is
watched (`privreg requests due`), a tenant's archive (`privreg tenant
export`), its deletion (`privreg tenant delete`), the processor's record of
processing (GET /v1/ropa?view=processor), and each controller's own sender."""
import csv
import datetime
import hashlib
import json
import pathlib
import re

import email
import email.policy
import socket
import time

import pytest
from aiosmtpd.controller import Controller

from conftest import POLICIES, WEBSHOP, Privreg, Server, _bin, add_key

BACKOFFICE = POLICIES / "backoffice.yaml"


def day(delta):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def office(tmp_path):
    """A register under the backoffice policy (requests.target: 7 days)."""
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", BACKOFFICE, check=0)
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "support"]}
    yield srv
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def new_request(srv, sid, type_, received):
    r = srv.request("POST", "/v1/requests", srv.keys["support"],
                    json={"type": type_, "subject_id": sid, "verified_by": "ID card", "received_at": received})
    assert r.status_code == 201, r.text
    return r.json()


def test_requests_due_watches_the_internal_target(office):
    r = office.request("POST", "/v1/subjects", office.keys["admin"],
                       json={"records": [{"kind": "inquiry", "fields": {"message": "hi", "email": "t@example.ee"}}]})
    sid = r.json()["id"]
    fresh = new_request(office, sid, "access", day(-1))       # target in 6 days, deadline in ~30
    missed = new_request(office, sid, "erasure", day(-10))    # target passed, deadline in ~20
    late = new_request(office, sid, "rectification", day(-40))  # deadline passed
    far = new_request(office, sid, "restriction", day(0))      # target in 7 days: outside 3
    out = office.privreg("requests", "due", "--days", "6", "--dir", office.dir, check=1)
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert set(lines) == {fresh["id"], missed["id"], late["id"], far["id"]} - {far["id"]}, out.stdout
    assert "TARGET" in lines[fresh["id"]] and "target " + fresh["target_at"][:10] in lines[fresh["id"]]
    assert "deadline " + fresh["due_at"][:10] in lines[fresh["id"]]
    assert "TARGET-MISSED" in lines[missed["id"]]
    assert "LATE" in lines[late["id"]]
    assert "4 open requests" not in out.stderr and "3 open requests" in out.stderr
    assert "1 late" in out.stderr and "1 past their target" in out.stderr
    # JSON says the same, for a script.
    js = json.loads(office.privreg("requests", "due", "--days", "6", "--json", "--dir", office.dir, check=1).stdout)
    by_id = {x["id"]: x for x in js["requests"]}
    assert set(by_id) == set(lines)
    assert by_id[fresh["id"]]["why"] == "target" and by_id[missed["id"]]["why"] == "target_missed"
    assert by_id[late["id"]]["why"] == "late" and by_id[late["id"]]["due_at"] == late["due_at"]
    assert by_id[fresh["id"]]["target_at"] == fresh["target_at"]


class EnvelopeInbox:
    """An SMTP sink that keeps each message with its envelope sender."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.messages, self.raw = [], []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, msg))
        self.raw.append(envelope.content)
        return "250 OK"

    def wait(self, count, timeout=20):
        end = time.time() + timeout
        while len(self.messages) < count and time.time() < end:
            time.sleep(0.05)
        return self.messages


# Over one RFC 2047 encoded word (45 bytes), with characters of 2 and 3 bytes.
LONG_NAME = "Eleme OÜ — privaatsuse ja andmekaitse meeskond, Tallinna kontor"


def with_mail(policy_text, mail_block):
    """The policy with a controller.mail block added."""
    return policy_text.replace("controller:\n", "controller:\n" + mail_block, 1)


def test_each_controller_its_own_sender(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    text = WEBSHOP.read_text()
    eleme = tmp_path / "eleme.yaml"
    eleme.write_text(with_mail(text, f'  mail:\n    from: "{LONG_NAME} <privacy@eleme.example>"\n'
                                     '    reply_to: help@eleme.example\n'))
    pood = tmp_path / "pood.yaml"
    pood.write_text(with_mail(text, '  mail: { from: "Pood <pood@example.ee>" }\n'))
    privreg("tenant", "add", "eleme", "--policy", eleme, "--dir", d, check=0)
    privreg("tenant", "add", "pood", "--policy", pood, "--dir", d, check=0)
    keys = {t: add_key(privreg, d, "admin", t) for t in ["default", "eleme", "pood"]}
    inbox = EnvelopeInbox()
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{inbox.port}", "--smtp-from", "shop@example.ee"])
    try:
        for tenant, key in keys.items():
            rec = {"kind": "account", "fields": {"email": f"{tenant}@example.org", "name": "Mari"}}
            assert srv.request("POST", "/v1/subjects", key, json={"records": [rec]}).status_code == 201
            r = srv.request("POST", "/v1/requests", key, json={"type": "access", "email": f"{tenant}@example.org"})
            assert r.status_code == 201, r.text
        got = {str(m["To"]).split("@")[0]: (env, m) for env, m in inbox.wait(3)}
        assert set(got) == {"default", "eleme", "pood"}
        # The default: the server's sender, the controller's e-mail to reply to.
        env, m = got["default"]
        assert env == "shop@example.ee" and m["From"].addresses[0].addr_spec == "shop@example.ee"
        assert m["Reply-To"].addresses[0].addr_spec == "info@eleme.example"
        # A controller's own From (a UTF-8 name) and Reply-To; the envelope
        # stays the server's: eleme.example is not the relay's domain.
        env, m = got["eleme"]
        assert m["From"].addresses[0].display_name == LONG_NAME
        (raw,) = [r for r in inbox.raw if b"privacy@eleme.example" in r]
        words = re.findall(rb"=\?UTF-8\?B\?[^?]*\?=", raw.split(b"\r\nTo:")[0])
        assert len(words) > 1 and all(len(w) <= 75 for w in words)
        assert m["From"].addresses[0].addr_spec == "privacy@eleme.example"
        assert m["Reply-To"].addresses[0].addr_spec == "help@eleme.example"
        assert env == "shop@example.ee"
        # In the server sender's own domain, the envelope is the controller's.
        env, m = got["pood"]
        assert env == "pood@example.ee" and m["From"].addresses[0].display_name == "Pood"
        assert m["Reply-To"].addresses[0].addr_spec == "info@eleme.example"
    finally:
        code, log = srv.stop()
        inbox.controller.stop()
    assert code == 0 and "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
    assert "privacy@eleme.example" not in log


@pytest.mark.parametrize("block,message", [
    ('  mail: { from: "Eleme <not-mail>" }\n', "controller.mail.from: 'not-mail' is not an e-mail address"),
    ('  mail: { from: "Eleme \\"X\\" <a@eleme.example>" }\n', "controller.mail.from: the name"),
    ('  mail: { reply_to: nobody }\n', "controller.mail.reply_to is not an e-mail address"),
    ('  mail: { sender: a@eleme.example }\n', "unknown key 'sender' in controller.mail"),
])
def test_a_bad_sender_is_named(privreg, tmp_path, block, message):
    p = tmp_path / "p.yaml"
    p.write_text(with_mail(WEBSHOP.read_text(), block))
    r = privreg("policy", "check", p, check=1)
    assert message in r.stderr + r.stdout


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_tenant_export_then_delete(tmp_path):
    import sqlite3
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "eleme", "--policy", WEBSHOP, "--dir", d, check=0)
    keys = {t: add_key(privreg, d, "admin", t) for t in ["default", "eleme"]}
    srv = Server(privreg, d)
    try:
        mine = srv.request("POST", "/v1/subjects", keys["default"], json={"records": [
            {"kind": "account", "fields": {"email": "stays@example.ee", "name": "Jääb"}}]}).json()["id"]
        r = srv.request("POST", "/v1/subjects", keys["eleme"], json={"records": [
            {"kind": "account", "fields": {"email": "mari@example.ee", "name": "Mari \"Tamm\", Jr"}},
            {"kind": "order", "fields": {"name": "Mari", "items": [{"sku": "KB-1"}], "amount": "49.90"}}]})
        assert r.status_code == 201, r.text
        sid = r.json()["id"]
        assert srv.request("POST", f"/v1/subjects/{sid}/consents", keys["eleme"],
                           json={"purpose": "direct_marketing", "granted": True, "source": "checkout"}).status_code == 201
        assert srv.request("POST", "/v1/holds", keys["eleme"],
                           json={"subject_id": sid, "reason": "dispute D-7"}).status_code == 201
        assert srv.request("POST", "/v1/disclosures", keys["eleme"], json={
            "subject_id": sid, "recipient": "courier", "purpose": "contract", "fields": ["name"]}).status_code == 200
        assert srv.request("POST", "/v1/requests", keys["eleme"], json={
            "type": "access", "subject_id": sid, "verified_by": "ID card"}).status_code == 201
    finally:
        code, log = srv.stop()
    assert code == 0 and "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]

    out = tmp_path / "eleme-export"
    r = privreg("tenant", "export", "eleme", out, "--dir", d, check=0)
    assert "1 subjects, 2 records" in r.stdout
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tenant"] == "eleme" and manifest["counts"]["subjects"] == 1 and manifest["counts"]["records"] == 2
    # Every file is named with its hash, and the hashes hold.
    listed = {f["path"]: f for f in manifest["files"]}
    assert {"README.txt", "policy.yaml", "subjects.json", "records/account.json", "records/account.csv",
            "records/order.csv", "consents.json", "requests.json", "disclosures.json", "holds.json",
            "audit.jsonl"} <= set(listed)
    for path, f in listed.items():
        data = (out / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == f["sha256"] and len(data) == f["bytes"], path
    sums = dict(reversed(line.split("  ", 1)) for line in (out / "SHA256SUMS").read_text().splitlines())
    assert sums == {path: f["sha256"] for path, f in listed.items()}
    # Decrypted values, as JSON and as CSV (quotes and commas survive).
    rows = list(csv.DictReader((out / "records/account.csv").open(newline="", encoding="utf-8")))
    assert rows == [{**rows[0], "subject_id": sid, "email": "mari@example.ee", "name": 'Mari "Tamm", Jr'}]
    subjects = json.loads((out / "subjects.json").read_text())
    assert [s["id"] for s in subjects] == [sid]
    assert json.loads((out / "requests.json").read_text())[0]["type"] == "access"
    assert json.loads((out / "holds.json").read_text())[0]["reason"] == "dispute D-7"
    assert json.loads((out / "disclosures.json").read_text())[0]["recipient"] == "courier"
    assert json.loads((out / "consents.json").read_text())[0]["current"][0]["purpose"] == "direct_marketing"
    audit = [json.loads(line) for line in (out / "audit.jsonl").read_text().splitlines()]
    assert audit[0]["action"] == "tenant.create" and all(len(a["hash"]) == 64 for a in audit)
    # The hold's reason and the request's texts are what staff wrote about
    # the person: writing them out leaves their read entries, as showing them does.
    read = {(a["action"], a["subject_id"]) for a in audit}
    assert {("hold.read", sid), ("request.read", sid)} <= read, read
    assert b"stays@example.ee" not in b"".join(p.read_bytes() for p in out.rglob("*") if p.is_file())
    assert oct(out.stat().st_mode & 0o777) == "0o700"
    assert oct((out / "subjects.json").stat().st_mode & 0o777) == "0o600"
    # An existing directory is not written into.
    assert "must not exist" in privreg("tenant", "export", "eleme", out, "--dir", d, check=1).stderr

    # Without --yes: what would go, and nothing goes.
    r = privreg("tenant", "delete", "eleme", "--dir", d, check=1)
    assert "1 subjects, 2 records" in r.stderr and "--yes" in r.stderr
    assert (d / "keys" / "eleme.key").exists()
    r = privreg("tenant", "delete", "eleme", "--yes", "--dir", d, check=0)
    assert not (d / "keys" / "eleme.key").exists()
    assert privreg("tenant", "list", "--dir", d, check=0).stdout.split() == ["default"]
    log = (d / "operator.log").read_text()
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ tenant.delete tenant=2 name=eleme subjects=1 records=2 rows=\d+ "
                    r"key=destroyed\n$", log), log
    assert "mari" not in log
    # No row of tenant 2 in any table; the other tenant untouched; a new
    # tenant does not get the deleted one's id.
    privreg("tenant", "add", "newco", "--policy", WEBSHOP, "--dir", d, check=0)
    db = sqlite3.connect(next(p for p in d.iterdir() if p.suffix == ".db"))
    tables = [n for (n,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if any(c[1] == "tenant_id" for c in db.execute(f"PRAGMA table_info({n})")) and n != "tenant_tombstones"]
    assert len(tables) >= 15
    for t in tables:
        assert db.execute(f"SELECT count(*) FROM {t} WHERE tenant_id = 2").fetchone() == (0,), t
    assert db.execute("SELECT tenant_id FROM tenants WHERE name = 'newco'").fetchone() == (3,)
    db.close()
    got = privreg.json("subject", "get", mine, "--dir", d)
    assert got["records"][0]["fields"]["email"] == "stays@example.ee"
    # A second delete finds nothing.
    assert privreg("tenant", "delete", "eleme", "--yes", "--dir", d, check=1).returncode == 1


def test_processor_record_names_each_controller_served(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", POLICIES / "telegroup.yaml", check=0)   # the SaaS itself
    privreg("tenant", "add", "eleme", "--policy", WEBSHOP, "--dir", d, check=0)
    privreg("tenant", "add", "jerone", "--policy", POLICIES / "jerone.yaml", "--dir", d, check=0)
    keys = {"operator": add_key(privreg, d, "auditor"), "eleme": add_key(privreg, d, "dpo", "eleme"),
            "support": add_key(privreg, d, "support")}
    srv = Server(privreg, d)
    try:
        r = srv.request("GET", "/v1/ropa", keys["operator"], params={"view": "processor"})
        assert r.status_code == 200, r.text
        doc = r.json()
        assert doc["view"] == "processor" and doc["all_controllers"] is True
        assert doc["processor"]["name"] == "TBcallSoft SIA"
        served = {c["tenant"]: c for c in doc["controllers"]}
        assert set(served) == {"default", "eleme", "jerone"}
        eleme = served["eleme"]
        assert eleme["controller"]["name"] == "SIA BAJTEL.LV" and eleme["controller"]["email"] == "info@eleme.example"
        assert eleme["controller"]["dpo"] == "dpo@eleme.example"
        cats = {c["purpose"]: c for c in eleme["categories_of_processing"]}
        assert cats["accounting"]["legal_basis"] == "legal_obligation"
        assert "accounting_entry" in cats["accounting"]["record_kinds"] and "payment_ref" in cats["accounting"]["personal_data"]
        assert {"recipient": "payments", "country": "US", "safeguard": "scc"} in eleme["third_country_transfers"]
        assert any(p["name"] == "courier" and p["contract"] for p in eleme["sub_processors"])
        assert "encryption" in doc["security_measures"]
        # A controller's own key sees its own entry, and no other controller.
        mine = srv.request("GET", "/v1/ropa", keys["eleme"], params={"view": "processor"}).json()
        assert mine["all_controllers"] is False and [c["tenant"] for c in mine["controllers"]] == ["eleme"]
        assert mine["processor"] == doc["processor"]
        assert srv.request("GET", "/v1/ropa", keys["support"], params={"view": "processor"}).status_code == 403
        assert srv.request("GET", "/v1/ropa", keys["operator"], params={"view": "nobody"}).status_code == 422
        assert srv.request("GET", "/v1/ropa", keys["operator"],
                           params={"view": "processor", "format": "csv"}).status_code == 422
        # The controller's view is as before.
        assert "activities" in srv.request("GET", "/v1/ropa", keys["eleme"], params={"view": "controller"}).json()
    finally:
        code, log = srv.stop()
    assert code == 0 and "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]
