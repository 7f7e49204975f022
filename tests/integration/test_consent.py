"""Consent against the real server and a real SMTP server on loopback
(aiosmtpd): double opt-in by e-mail, one-click unsubscribe (RFC 8058),
GPC, audiences, the proof in the history, and an outbox that neither loses
nor repeats a message across restarts and SMTP outages."""
import base64
import email
import email.policy
import hashlib
import re
import socket
import struct
import time

import pytest
import requests
from aiosmtpd.controller import Controller

from conftest import POLICIES, WEBSHOP, Privreg, Server, _bin, add_key

B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Inbox:
    """A real SMTP server that keeps what it receives."""

    def __init__(self, port):
        self.messages = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def wait(self, count, timeout=20):
        end = time.time() + timeout
        while len(self.messages) < count and time.time() < end:
            time.sleep(0.05)
        return self.messages


def link_in(msg, kind):
    body = msg.get_body(preferencelist=("plain",)).get_content()
    m = re.search(rf"http://\S+/{kind}/\S+", body)
    return m.group(0) if m else None


@pytest.fixture
def env(tmp_path):
    """A register with the example policy (double opt-in marketing), an SMTP
    inbox, and a server that delivers to it."""
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "jerone", "--policy", POLICIES / "jerone.yaml", "--dir", d, check=0)
    port = free_port()
    inbox = Inbox(port).start()
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}", "--smtp-from", "shop@example.ee"])
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "marketing", "support"]}
    srv.keys["jerone"] = add_key(privreg, d, "admin", "jerone")
    srv.inbox = inbox
    srv.smtp_port = port
    yield srv
    code, log = srv.stop()
    srv.inbox.stop()  # the test may have replaced it
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def new_subject(srv, email_addr, key=None, language="et"):
    if key is None:  # the example policy's account
        record = {"kind": "account", "fields": {"email": email_addr, "name": "Mari Tamm", "language": language}}
    else:  # jerone's customer register
        record = {"kind": "customer", "fields": {"email": email_addr, "first_name": "Liisa"}}
    r = srv.request("POST", "/v1/subjects", key or srv.keys["admin"], json={"records": [record]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def grant(srv, sid, purpose="direct_marketing", key=None, **extra):
    body = {"purpose": purpose, "granted": True, "source": "checkout form", "text": "Send me offers",
            "ip": "192.0.2.77", **extra}
    return srv.request("POST", f"/v1/subjects/{sid}/consents", key or srv.keys["admin"], json=body)


def check(srv, purpose="direct_marketing", key=None, **lookup):
    r = srv.request("GET", "/v1/consents/check", key or srv.keys["marketing"], params={"purpose": purpose, **lookup})
    assert r.status_code == 200, r.text
    return r.json()


def test_double_opt_in_by_email(env):
    sid = new_subject(env, "mari@example.ee")
    assert check(env, email="mari@example.ee") == {"allowed": False, "state": "none"}
    r = grant(env, sid)
    assert r.status_code == 201 and r.json()["state"] == "pending" and r.json()["allowed"] is False
    assert check(env, email="MARI@example.ee") == {"allowed": False, "state": "pending"}
    (msg,) = env.inbox.wait(1)
    assert msg["To"] == "mari@example.ee" and "shop@example.ee" in msg["From"]
    assert msg["Content-Language"] == "et" and msg["Subject"].startswith("Palun kinnitage")
    link = link_in(msg, "c")
    assert link
    # Opening the link (a mail scanner does) changes nothing.
    page = requests.get(link, timeout=10)
    assert page.status_code == 200 and "<form" in page.text and "Confirm" in page.text
    assert page.headers["Referrer-Policy"] == "no-referrer"
    assert check(env, subject=sid)["state"] == "pending"
    done = requests.post(link, data={"confirm": "One-Click"}, timeout=10)
    assert done.status_code == 200 and "Thank you" in done.text
    assert check(env, email="mari@example.ee") == {"allowed": True, "state": "granted"}
    # Single use.
    again = requests.post(link, data={"confirm": "One-Click"}, timeout=10)
    assert again.status_code == 410
    # The proof: every step, with its evidence.
    h = env.request("GET", f"/v1/subjects/{sid}/consents", env.keys["support"]).json()
    steps = [(e["action"], e["actor"]) for e in h["history"]]
    admin_id = env.request("GET", "/v1/whoami", env.keys["admin"]).json()["key_id"]
    assert steps == [("granted", admin_id), ("confirmed", "subject")]
    first = h["history"][0]
    assert first["source"] == "checkout form" and first["text"] == "Send me offers"
    assert first["policy_version"] == "2024-05" and first["channel"] == "email"
    assert first["ip"] == "192.0.2.0"  # truncated to its /24
    assert h["history"][1]["source"] == "confirmation link" and h["history"][1]["ip"] == "127.0.0.0"
    assert h["consents"] == [{"purpose": "direct_marketing", "state": "granted", "updated_at": h["consents"][0]["updated_at"],
                              "allowed": True}]


def test_rules_of_the_policy(env):
    sid = new_subject(env, "rules@example.ee")
    r = grant(env, sid, purpose="contract")
    assert r.status_code == 422 and "basis contract" in r.json()["error"]["message"]
    r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                    json={"purpose": "direct_marketing", "granted": True})
    assert r.status_code == 422 and "source" in r.json()["error"]["message"]
    r = grant(env, sid, purpose="no_such_purpose")
    assert r.status_code == 422
    r = grant(env, sid, ip="not-an-ip")
    assert r.status_code == 422
    # Objection to a legitimate-interest purpose stops it; the contract cannot be objected to.
    assert check(env, purpose="personalisation", subject=sid)["allowed"] is True
    r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["support"],
                    json={"purpose": "personalisation", "granted": False, "source": "phone call"})
    assert r.status_code == 201 and r.json()["state"] == "objected"
    assert check(env, purpose="personalisation", subject=sid) == {"allowed": False, "state": "objected"}
    r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                    json={"purpose": "contract", "granted": False, "source": "x"})
    assert r.status_code == 422
    # Unknown subjects are simply not allowed.
    assert check(env, email="nobody@example.ee") == {"allowed": False, "state": "unknown"}
    assert check(env, subject="sub_00000000000000000000000000") == {"allowed": False, "state": "unknown"}
    assert check(env, email="not an e-mail")["allowed"] is False
    r = env.request("GET", "/v1/consents/check", env.keys["marketing"], params={"email": "x@example.ee"})
    assert r.status_code == 422
    # Marketing checks, but never reads a subject.
    assert env.request("GET", f"/v1/subjects/{sid}", env.keys["marketing"]).status_code == 403
    assert env.request("GET", f"/v1/subjects/{sid}/consents", env.keys["marketing"]).status_code == 403


def test_consent_without_double_opt_in_and_withdrawal(env):
    key = env.keys["jerone"]
    sid = new_subject(env, "liisa@example.fi", key=key)
    assert check(env, purpose="newsletter", key=key, email="liisa@example.fi")["allowed"] is False
    r = grant(env, sid, purpose="newsletter", key=key, source="account_creation")  # jerone declares it
    assert r.json() == {"purpose": "newsletter", "state": "granted", "allowed": True}
    assert check(env, purpose="newsletter", key=key, email="liisa@example.fi")["allowed"] is True
    r = env.request("POST", f"/v1/subjects/{sid}/consents", key,
                    json={"purpose": "newsletter", "granted": False, "source": "account settings"})
    assert r.json()["state"] == "withdrawn"
    assert check(env, purpose="newsletter", key=key, email="liisa@example.fi") == {"allowed": False, "state": "withdrawn"}
    assert env.inbox.messages == []  # no double opt-in here: no e-mail


def confirmed(env, addr):
    sid = new_subject(env, addr)
    grant(env, sid)
    msgs = env.inbox.wait(len(env.inbox.messages) + 1)
    link = [link_in(m, "c") for m in msgs if m["To"] == addr][-1]
    assert requests.post(link, data={"confirm": "One-Click"}, timeout=10).status_code == 200
    return sid


def test_audience_and_one_click_unsubscribe(env):
    a = confirmed(env, "anna@example.ee")
    b = confirmed(env, "bert@example.ee")
    pending = new_subject(env, "pending@example.ee")
    grant(env, pending)
    r = env.request("GET", "/v1/audiences/direct_marketing", env.keys["marketing"])
    assert r.status_code == 200, r.text
    recipients = {x["subject_id"]: x for x in r.json()["recipients"]}
    assert set(recipients) == {a, b}
    ra = recipients[a]
    assert ra["contact"] == "anna@example.ee"
    url = ra["unsubscribe_url"]
    assert ra["headers"] == {"List-Unsubscribe": f"<{url}>", "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}
    # Audiences are for marketing and admins, and for direct-marketing purposes.
    assert env.request("GET", "/v1/audiences/direct_marketing", env.keys["support"]).status_code == 403
    assert env.request("GET", "/v1/audiences/contract", env.keys["marketing"]).status_code == 422
    # Handing out the audience is in each subject's audit log.
    log = env.request("GET", "/v1/audit", env.keys["admin"], params={"subject": a}).json()["entries"]
    assert any(e["action"] == "consent.audience" and "recipient=mailer" in e["detail"] for e in log)
    # GET shows a button and changes nothing; a wrong body changes nothing.
    assert "Unsubscribe" in requests.get(url, timeout=10).text
    assert check(env, subject=a)["allowed"] is True
    assert requests.post(url, data="hello", timeout=10,
                         headers={"Content-Type": "application/x-www-form-urlencoded"}).status_code == 400
    assert check(env, subject=a)["allowed"] is True
    # RFC 8058 one-click: no login, no cookie.
    r = requests.post(url, data="List-Unsubscribe=One-Click", timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and not r.cookies
    assert check(env, subject=a) == {"allowed": False, "state": "withdrawn"}
    assert check(env, subject=b)["allowed"] is True
    assert [x["subject_id"] for x in env.request("GET", "/v1/audiences/direct_marketing",
                                                 env.keys["marketing"]).json()["recipients"]] == [b]
    h = env.request("GET", f"/v1/subjects/{a}/consents", env.keys["admin"]).json()["history"]
    assert h[-1]["action"] == "withdrawn" and h[-1]["actor"] == "subject" and h[-1]["source"] == "unsubscribe link"


def sign_link(master_hex, tenant, kind, sid, purpose, expires):
    """Mints a link as privreg does, from the tenant's key file (for the expired case)."""
    master = bytes.fromhex(master_hex)
    subkey = hashlib.blake2b(b"", digest_size=32, key=master, salt=struct.pack("<Q", 3) + bytes(8),
                             person=b"privreg_" + bytes(8)).digest()
    bits = "".join(format(B32.index(c), "05b") for c in sid[4:])[2:]  # a ULID: 2 padding bits first
    raw = kind.encode() + int(bits, 2).to_bytes(16, "big") + struct.pack("<q", expires) + bytes([len(purpose)]) + purpose.encode()
    mac = hashlib.blake2b(struct.pack("<q", tenant) + raw, digest_size=16, key=subkey).digest()
    return f"{tenant}." + base64.urlsafe_b64encode(raw + mac).decode().rstrip("=")


def test_forged_truncated_and_expired_links(env):
    sid = confirmed(env, "links@example.ee")
    url = env.request("GET", "/v1/audiences/direct_marketing", env.keys["marketing"]).json()["recipients"]
    url = [x for x in url if x["subject_id"] == sid][0]["unsubscribe_url"]
    token = url.rsplit("/", 1)[1]
    base = url.rsplit("/", 2)[0]
    one = {"data": "List-Unsubscribe=One-Click", "timeout": 10,
           "headers": {"Content-Type": "application/x-www-form-urlencoded"}}
    forged = token[:-3] + ("A" if token[-3] != "A" else "B") + token[-2:]
    for bad in [forged, token[:-5], token[:20], "1.", "x", "99." + token.split(".", 1)[1]]:
        r = requests.post(f"{base}/u/{bad}", **one)
        assert r.status_code == 404, (bad, r.status_code)
    # A well-signed link of the other kind is not accepted either.
    key = (env.dir / "keys" / "default.key").read_text().strip()
    confirm_as_unsub = sign_link(key, 1, "c", sid, "direct_marketing", int(time.time()) + 3600)
    assert requests.post(f"{base}/u/{confirm_as_unsub}", **one).status_code == 404
    expired = sign_link(key, 1, "u", sid, "direct_marketing", int(time.time()) - 60)
    assert requests.post(f"{base}/u/{expired}", **one).status_code == 410
    assert requests.get(f"{base}/u/{expired}", timeout=10).status_code == 410
    # A fresh link minted the same way works: the test's signer is the real one.
    fresh = sign_link(key, 1, "u", sid, "direct_marketing", int(time.time()) + 60)
    assert check(env, subject=sid)["allowed"] is True
    assert requests.post(f"{base}/u/{fresh}", **one).status_code == 200
    assert check(env, subject=sid)["allowed"] is False


def test_global_privacy_control(env):
    assert requests.get(env.url + "/.well-known/gpc.json", timeout=10).json()["gpc"] is True
    sid = new_subject(env, "gpc@example.ee")
    grant(env, sid)
    (msg,) = [m for m in env.inbox.wait(1) if m["To"] == "gpc@example.ee"]
    r = requests.post(link_in(msg, "c"), data={"confirm": "One-Click"}, headers={"Sec-GPC": "1"}, timeout=10)
    assert r.status_code == 200 and "Global Privacy Control" in r.text
    assert check(env, subject=sid) == {"allowed": False, "state": "objected"}


def test_outbox_survives_restart_and_smtp_outage(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    port = free_port()
    key = add_key(privreg, d, "admin")
    # 1. No SMTP configured: the messages wait in the outbox.
    srv = Server(privreg, d)
    srv.keys = {"admin": key}
    sids = [new_subject(srv, f"wait{i}@example.ee") for i in range(3)]
    for sid in sids:
        assert grant(srv, sid).status_code == 201
    assert srv.stop()[0] == 0
    # 2. SMTP configured but down: still waiting, nothing lost.
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}"])
    time.sleep(1.5)
    assert srv.stop()[0] == 0
    # 3. SMTP up: each message arrives once.
    inbox = Inbox(port).start()
    try:
        srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}"])
        msgs = inbox.wait(3, timeout=25)
        time.sleep(1)
        assert sorted(str(m["To"]) for m in msgs) == [f"wait{i}@example.ee" for i in range(3)]
        assert srv.stop()[0] == 0
        # 4. Another restart sends nothing again.
        srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}"])
        time.sleep(1.5)
        assert srv.stop()[0] == 0
        assert len(inbox.messages) == 3
        assert len({m["Message-ID"] for m in inbox.messages}) == 3
    finally:
        inbox.stop()


def test_smtp_down_then_back(env):
    env.inbox.stop()
    sid = new_subject(env, "later@example.ee")
    grant(env, sid)
    time.sleep(1)
    assert env.inbox.messages == []
    env.inbox = Inbox(env.smtp_port).start()
    msgs = env.inbox.wait(1, timeout=25)
    assert [str(m["To"]) for m in msgs] == ["later@example.ee"]


def test_policy_versions_and_notices(env, tmp_path):
    privreg = env.privreg
    a = new_subject(env, "notice-et@example.ee", language="et")
    b = new_subject(env, "notice-en@example.ee", language="en")
    order_only = env.request("POST", "/v1/subjects", env.keys["admin"],
                             json={"records": [{"kind": "order", "fields": {"items": [1]}}]}).json()["id"]
    r = env.request("POST", f"/v1/subjects/{a}/acceptances", env.keys["support"],
                    json={"source": "sign-up form", "text": "I accept the terms"})
    assert r.status_code == 201 and r.json()["version"] == "2024-05"
    new = tmp_path / "webshop-2025.yaml"
    new.write_text(WEBSHOP.read_text().replace('version: "2024-05"', 'version: "2025-01"'))
    out = privreg("tenant", "policy", "default", new, "--dir", env.dir, check=0).stdout
    assert "2 notice e-mails queued" in out
    # The same version again is refused, and nothing is sent for it.
    r = privreg("tenant", "policy", "default", new, "--dir", env.dir, check=1)
    assert "installed already" in r.stderr
    msgs = env.inbox.wait(2)
    by_to = {str(m["To"]): m for m in msgs}
    assert set(by_to) == {"notice-et@example.ee", "notice-en@example.ee"}
    assert by_to["notice-et@example.ee"]["Subject"] == "SIA BAJTEL.LV muutis oma privaatsustingimusi"
    assert "2025-01" in by_to["notice-en@example.ee"].get_body().get_content()
    # The running server takes the new version up.
    end = time.time() + 5
    while env.request("GET", "/v1/policy", env.keys["admin"]).json()["version"] != "2025-01" and time.time() < end:
        time.sleep(0.2)
    assert env.request("GET", "/v1/policy", env.keys["admin"]).json()["version"] == "2025-01"
    # Acceptances name a version the register has run under.
    assert env.request("POST", f"/v1/subjects/{b}/acceptances", env.keys["admin"],
                       json={"source": "login", "version": "2024-05"}).status_code == 201
    r = env.request("POST", f"/v1/subjects/{b}/acceptances", env.keys["admin"], json={"source": "login", "version": "1999"})
    assert r.status_code == 422
    assert env.request("POST", f"/v1/subjects/{b}/acceptances", env.keys["admin"], json={}).status_code == 422
    r = env.request("POST", f"/v1/subjects/{a}/acceptances", env.keys["admin"], json={"source": "login"})
    assert r.json()["version"] == "2025-01"
    h = env.request("GET", f"/v1/subjects/{a}/consents", env.keys["admin"]).json()["history"]
    assert [(e["purpose"], e["action"], e["policy_version"]) for e in h] == [
        ("terms", "accepted", "2024-05"), ("terms", "accepted", "2025-01")]
    assert order_only  # no account, no e-mail: not noticed


def test_a_link_with_a_nul_after_its_token_confirms_nothing(env):
    """libmicrohttpd hands the path over as a C string: %00 cut it, and the
    token before it confirmed the grant."""
    sid = new_subject(env, "nul@example.ee")
    assert grant(env, sid).status_code == 201
    link = link_in(env.inbox.wait(1)[0], "c")
    for tail in ["%00", "%00junk"]:
        r = requests.post(link + tail, data={"confirm": "One-Click"}, timeout=10)
        assert r.status_code == 422 and "NUL" in r.json()["error"]["message"], r.text
    assert check(env, subject=sid)["state"] == "pending"
    assert requests.post(link, data={"confirm": "One-Click"}, timeout=10).status_code == 200
    assert check(env, subject=sid)["state"] == "granted"
