"""Operator duties for a register of many controllers: the 7-day target is
watched (`privreg requests due`), a tenant's archive (`privreg tenant
export`), its deletion (`privreg tenant delete`), the processor's record of
processing (GET /v1/ropa?view=processor), and each controller's own sender."""
import csv
import datetime
import hashlib
import json
import pathlib

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
        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append((envelope.mail_from, msg))
        return "250 OK"

    def wait(self, count, timeout=20):
        end = time.time() + timeout
        while len(self.messages) < count and time.time() < end:
            time.sleep(0.05)
        return self.messages


def with_mail(policy_text, mail_block):
    """The policy with a controller.mail block added."""
    return policy_text.replace("controller:\n", "controller:\n" + mail_block, 1)


def test_each_controller_its_own_sender(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    text = WEBSHOP.read_text()
    eleme = tmp_path / "eleme.yaml"
    eleme.write_text(with_mail(text, '  mail:\n    from: "Eleme OÜ <privacy@eleme.example>"\n'
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
        assert m["From"].addresses[0].display_name == "Eleme OÜ"
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
