"""Systems and recipients told of every change (GDPR Art. 19): signed
webhooks (Standard Webhooks) through the outbox to a real HTTP sink, retried
until acknowledged and delivered once per event id; a request that completes
only when every notification is acknowledged or waived; rectified values only
to those holding the field, and never an erased value in any payload."""
import base64
import hashlib
import hmac
import json
import os
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

from conftest import POLICIES, WEBSHOP, WEBSHOP_SHIPPED, Privreg, Server, _bin, add_key, files_contain
from test_consent import free_port


class Sink:
    """An HTTP receiver of webhooks on a fixed port that can be stopped and
    started again; answers 204 (or what `status` says per path) and keeps
    every delivery: path, headers, body, and whether the signature held."""

    def __init__(self, port, keys):
        self.port, self.keys = port, keys
        self.got = []
        self.status = {}
        self.lock = threading.Lock()
        self.srv = None

    def url(self, path):
        return f"http://127.0.0.1:{self.port}{path}"

    def start(self):
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                code = sink.status.get(self.path, 204)
                with sink.lock:
                    sink.got.append({"path": self.path, "headers": dict(self.headers), "body": body,
                                     "valid": sink.valid(self.headers, body), "answered": code})
                self.send_response(code)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self.srv = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()
        return self

    def stop(self):
        if self.srv:
            self.srv.shutdown()
            self.srv.server_close()
            self.srv = None

    def valid(self, headers, body):
        msg_id, ts, sig = (headers.get(h, "") for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
        for key in self.keys.values():
            want = base64.b64encode(hmac.new(key, f"{msg_id}.{ts}.".encode() + body, hashlib.sha256).digest())
            if sig == "v1," + want.decode():
                return True
        return False

    def acked(self):
        """Deliveries answered 2xx, as (path, event)."""
        with self.lock:
            return [(g["path"], json.loads(g["body"])) for g in self.got if 200 <= g["answered"] < 300]


def new_secret(path):
    key = os.urandom(32)
    path.write_text("whsec_" + base64.b64encode(key).decode() + "\n")
    return key


def policy_with_systems(tmp_path, port):
    """The example policy with two systems and the courier told by webhook,
    each with its own secret; returns (path, {name: key})."""
    d = tmp_path / "policy"
    (d / "secrets").mkdir(parents=True)
    keys = {n: new_secret(d / "secrets" / f"{n}.whsec") for n in ("shop_db", "newsletter", "courier")}
    text = WEBSHOP.read_text().replace(
        "    contract: DPA-courier\n",
        "    contract: DPA-courier\n"
        f"    notify: {{ webhook: \"http://127.0.0.1:{port}/courier\", secret_file: secrets/courier.whsec }}\n")
    text += f"""
systems:
  shop_db:
    kinds: [account, order]
    webhook: http://127.0.0.1:{port}/shop-db
    secret_file: secrets/shop_db.whsec
  newsletter:
    fields: [email, name, language]
    webhook: http://127.0.0.1:{port}/newsletter
    secret_file: {d}/secrets/newsletter.whsec
"""
    (d / "shop.yaml").write_text(text)
    return d / "shop.yaml", keys


@pytest.fixture
def env(tmp_path):
    privreg = Privreg(_bin())
    port = free_port()
    policy, keys = policy_with_systems(tmp_path, port)
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    sink = Sink(port, keys)
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support", "auditor"]}
    srv.sink = sink
    srv.policy = policy
    yield srv
    sink.stop()
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def customer(env, email="mari@example.ee"):
    records = [{"kind": "account", "fields": {"email": email, "name": "Mari Tamm", "phone": "+372 5123 4567",
                                              "language": "et"}},
               {"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1, Tallinn",
                                            "items": [{"sku": "KB-1"}], "amount": "49.90"}}]
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": records})
    assert r.status_code == 201, r.text
    return r.json()["id"], [x["id"] for x in r.json()["records"]]


def disclose(env, sid, fields=("name", "delivery_address")):
    r = env.request("POST", "/v1/disclosures", env.keys["dpo"],
                    json={"subject_id": sid, "recipient": "courier", "purpose": "contract", "fields": list(fields)})
    assert r.status_code == 200, r.text


def request(env, sid, type_, **extra):
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": type_, "subject_id": sid, "verified_by": "ID card", **extra})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def complete(env, rid):
    r = env.request("POST", f"/v1/requests/{rid}/complete", env.keys["dpo"], json={})
    assert r.status_code == 200, r.text
    return r.json()


def get(env, rid):
    r = env.request("GET", f"/v1/requests/{rid}", env.keys["dpo"])
    assert r.status_code == 200, r.text
    return r.json()


def wait_for(cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        got = cond()
        if got:
            return got
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_erasure_reaches_two_systems_and_a_recipient_and_completes_on_the_last_ack(env):
    sid, _ = customer(env)
    disclose(env, sid)
    env.sink.status["/courier"] = 503      # the courier is down for now
    env.sink.start()
    rid = request(env, sid, "erasure")
    done = complete(env, rid)
    assert done["status"] == "awaiting_acknowledgements"
    told = {n["target"]: n for n in done["notifications"]}
    assert set(told) == {"shop_db", "newsletter", "courier"}
    assert {n["event"] for n in told.values()} == {"subject.erased"}
    assert {n["channel"] for n in told.values()} == {"webhook"}

    # Both systems acknowledge; the courier answers 503 and is retried.
    wait_for(lambda: {p for p, _ in env.sink.acked()} == {"/shop-db", "/newsletter"})
    st = wait_for(lambda: (lambda r: r if {n["target"]: n["status"] for n in r["notifications"]}["courier"]
                           == "failed" else None)(get(env, rid)))
    assert st["status"] == "awaiting_acknowledgements"
    courier = [n for n in st["notifications"] if n["target"] == "courier"][0]
    assert courier["attempts"] >= 1 and courier["last_error"] == "HTTP 503"
    assert {n["status"] for n in st["notifications"] if n["target"] != "courier"} == {"delivered"}
    # Completing again names who is pending.
    r = env.request("POST", f"/v1/requests/{rid}/complete", env.keys["dpo"], json={})
    assert r.status_code == 409 and "courier" in r.text and "shop_db" not in r.text
    # The courier comes back: its retry is acknowledged and the request completes by itself.
    env.sink.status["/courier"] = 200
    final = wait_for(lambda: (lambda r: r if r["status"] == "completed" else None)(get(env, rid)), timeout=40)
    assert {n["status"] for n in final["notifications"]} == {"delivered"}
    assert all(n["acknowledged_at"] for n in final["notifications"])

    # Every delivery signed, in the Standard Webhooks form, about this subject and request.
    for g in env.sink.got:
        assert g["valid"], g["headers"]
        assert g["headers"]["webhook-id"].startswith("evt_")
        assert g["headers"]["Content-Type"] == "application/json"
        ev = json.loads(g["body"])
        assert ev["type"] == "subject.erased" and ev["timestamp"].endswith("Z")
        assert ev["data"]["subject_id"] == sid and ev["data"]["request_id"] == rid
        assert ev["data"]["tenant"] == "default" and "fields" not in ev["data"]
    kinds = {p: e["data"]["kinds"] for p, e in env.sink.acked()}
    assert sorted(kinds["/shop-db"]) == ["account", "order"]
    # The newsletter tool holds name: both kinds carry one.
    assert sorted(kinds["/newsletter"]) == ["account", "order"]
    # The courier's retries carried one event id, and it acknowledged once.
    courier_ids = {g["headers"]["webhook-id"] for g in env.sink.got if g["path"] == "/courier"}
    assert len(courier_ids) == 1
    assert len([1 for p, _ in env.sink.acked() if p == "/courier"]) == 1
    # No erased value in any payload, nor in the register's files.
    for g in env.sink.got:
        for value in [b"mari@example.ee", b"Mari Tamm", b"Pikk 1", b"5123", b"KB-1"]:
            assert value not in g["body"]
    for value in [b"mari@example.ee", b"Pikk 1, Tallinn"]:
        assert not files_contain(env.dir, value), value
    # The audit log says who acknowledged when: the request's own entry.
    audit = env.request("GET", "/v1/audit", env.keys["auditor"], params={"subject": sid}).json()
    assert "request.acknowledged" in json.dumps(audit)


def test_sink_killed_mid_delivery_gets_each_event_exactly_once(env):
    sid, _ = customer(env)
    env.sink.start()
    first = request(env, sid, "restriction")
    complete(env, first)
    wait_for(lambda: get(env, first)["status"] == "completed")
    assert len(env.sink.acked()) == 2
    # The sink goes away; the lifting of the restriction fails to reach it.
    env.sink.stop()
    r = env.request("DELETE", f"/v1/subjects/{sid}/restriction", env.keys["dpo"])
    assert r.status_code == 204
    time.sleep(1.5)
    env.sink.start()
    wait_for(lambda: len(env.sink.acked()) == 4, timeout=40)
    # After the acknowledgements nothing is sent again.
    time.sleep(7)
    ids = [g["headers"]["webhook-id"] for g in env.sink.got]
    assert len(ids) == len(set(ids)) == 4, ids
    events = sorted(e["type"] for _, e in env.sink.acked())
    assert events == ["subject.restricted"] * 2 + ["subject.restriction_lifted"] * 2
    lifted = [e for _, e in env.sink.acked() if e["type"] == "subject.restriction_lifted"]
    assert all(e["data"]["request_id"] is None for e in lifted)


def test_waiver_completes_a_request_with_the_dpo_s_reason(env):
    sid, _ = customer(env)
    rid = request(env, sid, "erasure")       # no sink: nothing is acknowledged
    done = complete(env, rid)
    assert done["status"] == "awaiting_acknowledgements"
    ns = done["notifications"]
    assert len(ns) == 2
    url = f"/v1/requests/{rid}/notifications/{ns[0]['id']}/waive"
    assert env.request("POST", url, env.keys["dpo"], json={}).status_code == 422
    assert env.request("POST", url, env.keys["dpo"], json={"reason": "x" * 501}).status_code == 422
    assert env.request("POST", url, env.keys["support"], json={"reason": "gone"}).status_code == 403
    assert env.request("POST", f"/v1/requests/{rid}/notifications/999/waive", env.keys["dpo"],
                       json={"reason": "gone"}).status_code == 404
    r = env.request("POST", url, env.keys["dpo"], json={"reason": "system retired on 2026-11-30"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "awaiting_acknowledgements"
    w = [n for n in r.json()["notifications"] if n["id"] == ns[0]["id"]][0]
    assert w["status"] == "waived" and w["waive_reason"] == "system retired on 2026-11-30"
    assert env.request("POST", url, env.keys["dpo"], json={"reason": "again"}).status_code == 409
    r = env.request("POST", f"/v1/requests/{rid}/notifications/{ns[1]['id']}/waive", env.keys["dpo"],
                    json={"reason": "answered by phone"})
    assert r.status_code == 200 and r.json()["status"] == "completed"
    audit = json.dumps(env.request("GET", "/v1/audit", env.keys["auditor"], params={"subject": sid}).json())
    assert audit.count("request.notification_waive") == 2
    # A waived notification is not sent when a receiver appears.
    env.sink.start()
    time.sleep(6)
    assert env.sink.got == []


def test_rectification_sends_fields_only_to_systems_holding_them(env):
    sid, (acc, order) = customer(env)
    disclose(env, sid, fields=["name", "phone"])
    env.sink.start()
    rid = request(env, sid, "rectification", details={"record_id": acc, "fields": {"phone": "+372 5999 0000"}})
    done = complete(env, rid)
    # The phone is held by the order database (accounts) and the courier
    # (its fields), not by the newsletter tool (email, name, language).
    assert sorted(n["target"] for n in done["notifications"]) == ["courier", "shop_db"]
    wait_for(lambda: get(env, rid)["status"] == "completed")
    got = {p: e for p, e in env.sink.acked()}
    assert got["/shop-db"]["data"]["fields"] == {"phone": "+372 5999 0000"}
    assert got["/courier"]["data"]["fields"] == {"phone": "+372 5999 0000"}
    assert got["/shop-db"]["type"] == "subject.rectified"
    rid = request(env, sid, "rectification", details={"record_id": acc, "fields": {"name": "Mari Kask"}})
    done = complete(env, rid)
    assert sorted(n["target"] for n in done["notifications"]) == ["courier", "newsletter", "shop_db"]
    wait_for(lambda: get(env, rid)["status"] == "completed")
    names = [e["data"]["fields"] for p, e in env.sink.acked() if e["data"]["request_id"] == rid]
    assert names == [{"name": "Mari Kask"}] * 3


def test_withdrawal_and_objection_name_the_purpose(env):
    sid, _ = customer(env)
    env.sink.start()
    rid = request(env, sid, "withdraw_consent", details={"purposes": ["direct_marketing"]})
    complete(env, rid)
    wait_for(lambda: get(env, rid)["status"] == "completed")
    evs = [e for _, e in env.sink.acked()]
    assert {e["type"] for e in evs} == {"consent.withdrawn"}
    assert {e["data"]["purpose"] for e in evs} == {"direct_marketing"}


def test_access_export_names_the_recipients_told(env):
    sid, (acc, _) = customer(env)
    env.sink.start()
    rid = request(env, sid, "rectification", details={"record_id": acc, "fields": {"name": "Mari Kask"}})
    complete(env, rid)
    wait_for(lambda: get(env, rid)["status"] == "completed")
    access = request(env, sid, "access")
    complete(env, access)
    export = env.request("GET", f"/v1/requests/{access}/export", env.keys["dpo"]).json()
    told = export["recipients_told"]
    assert sorted(t["recipient"] for t in told) == ["newsletter", "shop_db"]
    assert {t["event"] for t in told} == {"subject.rectified"}


def test_policy_check_validates_systems_and_secrets(env, tmp_path):
    privreg = Privreg(_bin())
    good = env.policy.read_text()
    cases = {
        "bad_url": (good.replace("webhook: http://127.0.0.1", "webhook: ftp://127.0.0.1", 1), "must be an http://"),
        "no_secret": (good.replace("    secret_file: secrets/shop_db.whsec\n", ""), "needs a secret_file"),
        "unknown_kind": (good.replace("kinds: [account, order]", "kinds: [account, invoice]"),
                         "unknown record kind 'invoice'"),
        "unknown_field": (good.replace("fields: [email, name, language]", "fields: [email, shoe_size]"),
                          "unknown field 'shoe_size'"),
        "missing_file": (good.replace("secrets/shop_db.whsec", "secrets/nowhere.whsec"), "cannot be read"),
        "not_whsec": (good.replace("secrets/shop_db.whsec", "secrets/plain.txt"), "must hold whsec_"),
        "holds_nothing": (good.replace("    kinds: [account, order]\n", ""), "needs the record kinds"),
    }
    (env.policy.parent / "secrets" / "plain.txt").write_text("hunter2\n")
    for name, (text, message) in cases.items():
        p = env.policy.parent / f"{name}.yaml"
        p.write_text(text)
        r = privreg("policy", "check", p, check=1)
        assert message in r.stdout + r.stderr, (name, r.stdout, r.stderr)
    # The shipped example as it is: the shop's policy declares its systems,
    # their (demo) secrets beside it.
    assert privreg("policy", "check", WEBSHOP_SHIPPED, check=0).stdout.strip().endswith("ok")


def test_demo_sink_verifies_signatures(env, tmp_path):
    """scripts/webhook-sink, which `make run` starts, accepts what privreg signs."""
    port = free_port()
    secrets = sorted((env.policy.parent / "secrets").glob("*.whsec"))
    out = open(tmp_path / "sink.log", "w")
    sink = subprocess.Popen([str(POLICIES.parent / "scripts" / "webhook-sink"), "--listen", f"127.0.0.1:{port}",
                             *map(str, secrets)], stdout=out, stderr=subprocess.STDOUT)
    try:
        key = next(iter(env.sink.keys.values()))
        body = json.dumps({"type": "subject.erased", "timestamp": "2026-12-01T00:00:00Z",
                           "data": {"tenant": "t", "subject_id": "sub_x", "request_id": None, "kinds": ["account"]}})
        ts = str(int(time.time()))
        sig = base64.b64encode(hmac.new(key, f"evt_1.{ts}.{body}".encode(), hashlib.sha256).digest()).decode()
        wait_for(lambda: _up(port))
        ok = requests.post(f"http://127.0.0.1:{port}/x", data=body, timeout=5,
                     headers={"webhook-id": "evt_1", "webhook-timestamp": ts, "webhook-signature": "v1," + sig})
        assert ok.status_code == 204
        bad = requests.post(f"http://127.0.0.1:{port}/x", data=body, timeout=5,
                      headers={"webhook-id": "evt_1", "webhook-timestamp": ts, "webhook-signature": "v1,AAAA"})
        assert bad.status_code == 401
    finally:
        sink.terminate()
        sink.wait(timeout=10)
        out.close()
    log = (tmp_path / "sink.log").read_text()
    assert "evt_1 subject.erased subject=sub_x" in log and "bad signature" in log


def _up(port):
    import socket
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False


def test_overdue_acknowledgements_count_as_overdue(env, privreg):
    """A request carried out but still awaiting an acknowledgement past its
    deadline is late: in `privreg requests due` and in /metrics."""
    sid, _ = customer(env)
    rid = request(env, sid, "restriction", received_at="2024-01-02T10:00:00Z")   # no sink: nobody acknowledges
    assert complete(env, rid)["status"] == "awaiting_acknowledgements"
    got = get(env, rid)
    assert got["overdue"] is True
    listed = env.request("GET", "/v1/requests", env.keys["dpo"], params={"overdue": "true"}).json()["requests"]
    assert [r["id"] for r in listed] == [rid]
    metrics = env.request("GET", "/metrics", env.keys["admin"]).text
    assert 'privreg_requests_late{tenant="default"} 1' in metrics
    r = privreg("requests", "due", "--json", "--dir", env.dir, check=None)
    due = json.loads(r.stdout)["requests"]
    assert [(q["id"], q["status"], q["why"]) for q in due] == [(rid, "awaiting_acknowledgements", "late")]


def test_policy_shows_systems_and_how_recipients_are_told(env):
    p = env.request("GET", "/v1/policy", env.keys["dpo"]).json()
    assert p["systems"]["shop_db"] == {"kinds": ["account", "order"], "fields": [],
                                       "webhook": env.sink.url("/shop-db")}
    assert p["systems"]["newsletter"]["fields"] == ["email", "name", "language"]
    assert p["recipients"]["courier"]["notify"] == {"webhook": env.sink.url("/courier")}
    assert "secret" not in json.dumps(p)


def test_withdrawal_through_the_consent_api_is_told_too(env):
    sid, _ = customer(env)
    env.sink.start()
    r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["dpo"],
                    json={"purpose": "personalisation", "granted": False, "source": "account settings"})
    assert r.status_code == 201, r.text
    evs = wait_for(lambda: [e for _, e in env.sink.acked()] if len(env.sink.acked()) == 2 else None)
    assert {e["type"] for e in evs} == {"subject.objected"}   # personalisation rests on legitimate interest
    assert {e["data"]["purpose"] for e in evs} == {"personalisation"}
    assert {e["data"]["request_id"] for e in evs} == {None}
    # A grant tells nobody.
    r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["dpo"],
                    json={"purpose": "direct_marketing", "granted": True, "source": "checkout"})
    assert r.status_code == 201
    time.sleep(2)
    assert len(env.sink.got) == 2


def test_erasure_outside_a_request_is_told_too(env):
    sid, _ = customer(env)
    disclose(env, sid)
    env.sink.start()
    r = env.request("DELETE", f"/v1/subjects/{sid}", env.keys["dpo"])
    assert r.status_code == 204, r.text
    got = wait_for(lambda: (lambda a: a if len(a) == 3 else None)(env.sink.acked()))
    assert sorted(p for p, _ in got) == ["/courier", "/newsletter", "/shop-db"]
    for _, e in got:
        assert e["type"] == "subject.erased" and e["data"]["subject_id"] == sid
        assert e["data"]["request_id"] is None and "fields" not in e["data"]
    assert sorted(dict(got)["/shop-db"]["data"]["kinds"]) == ["account", "order"]
    for g in env.sink.got:
        assert g["valid"]
        for value in [b"mari@example.ee", b"Mari Tamm", b"Pikk 1"]:
            assert value not in g["body"]
    # Erased: a second delete finds nobody and tells nobody.
    assert env.request("DELETE", f"/v1/subjects/{sid}", env.keys["dpo"]).status_code == 404
    time.sleep(1)
    assert len(env.sink.got) == 3


@pytest.mark.parametrize("route", ["subject", "record"])
def test_rectification_outside_a_request_is_told_too(env, route):
    sid, (acc, order) = customer(env)
    disclose(env, sid, fields=["name", "phone"])
    env.sink.start()
    path = f"/v1/subjects/{sid}/records/{acc}" if route == "subject" else f"/v1/records/{acc}"
    r = env.request("PATCH", path, env.keys["support"], json={"fields": {"phone": "+372 5999 0000"}})
    assert r.status_code == 200, r.text
    got = wait_for(lambda: (lambda a: a if len(a) == 2 else None)(env.sink.acked()))
    # The phone: the order database and the courier hold it, the newsletter tool does not.
    got = dict(got)
    assert sorted(got) == ["/courier", "/shop-db"]
    for e in got.values():
        assert e["type"] == "subject.rectified" and e["data"]["request_id"] is None
        assert e["data"]["fields"] == {"phone": "+372 5999 0000"}
    # Events alone change no field: nobody is told.
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    r = env.request("PATCH", f"/v1/records/{order}", env.keys["support"], json={"events": {"fulfilled": now}})
    assert r.status_code == 200, r.text
    time.sleep(1)
    assert len(env.sink.got) == 2


def test_unsubscribe_link_is_told_too(env):
    from test_consent import sign_link
    sid, _ = customer(env)
    env.sink.start()
    master = (env.dir / "keys" / "default.key").read_text().strip()
    token = sign_link(master, 1, "u", sid, "direct_marketing", int(time.time()) + 3600)
    r = requests.post(f"{env.url}/u/{token}", data="List-Unsubscribe=One-Click", timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200, r.text
    evs = wait_for(lambda: (lambda a: [e for _, e in a] if len(a) == 2 else None)(env.sink.acked()))
    assert {e["type"] for e in evs} == {"consent.withdrawn"}
    assert {e["data"]["purpose"] for e in evs} == {"direct_marketing"}
    assert {e["data"]["request_id"] for e in evs} == {None}


def test_erasure_by_the_cli_is_told_too(env, privreg):
    sid, _ = customer(env)
    env.sink.start()
    privreg("subject", "delete", sid, "--dir", env.dir, check=0)
    got = wait_for(lambda: (lambda a: a if len(a) == 2 else None)(env.sink.acked()))
    assert sorted(p for p, _ in got) == ["/newsletter", "/shop-db"]
    assert {e["type"] for _, e in got} == {"subject.erased"}
