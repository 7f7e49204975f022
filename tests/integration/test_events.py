"""Declared event names (issue #10, item 4): a record kind may be given the
event its keep rule counts from and those its policy declares; any other
name (a typo would keep the record forever) is a 422 naming the allowed
ones, through the API and import; an event before created_at is refused;
an event set again is a correction, its due time recomputed and the audit
entry naming it. The notice says a declared event by its title."""
import json

from conftest import POLICIES, WEBSHOP


def post(api, body, key=None):
    return api.request("POST", "/v1/subjects", key or api.keys["admin"], json={"records": [body]})


def test_unknown_event_is_refused_naming_the_allowed_ones(api):
    r = post(api, {"kind": "accounting_entry", "fields": {"name": "A", "amount": "1.00"},
                   "created_at": "2024-01-01", "events": {"fulfiled": "2024-01-02"}})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["message"] == "unknown event 'fulfiled' for kind accounting_entry: allowed: fulfilled"
    r = post(api, {"kind": "order", "fields": {"items": [1]}, "created_at": "2024-01-01",
                   "events": {"shipped": "2024-01-02"}})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "unknown event 'shipped' for kind order: allowed: fulfilled, delivered"
    r = post(api, {"kind": "account", "fields": {"email": "ev1@example.ee"}})
    rid = r.json()["records"][0]["id"]
    r = api.request("PATCH", f"/v1/records/{rid}", api.keys["admin"], json={"events": {"deleted": "2024-01-02"}})
    assert r.status_code == 422
    assert r.json()["error"]["message"] == "unknown event 'deleted' for kind account: allowed: closed"
    # The policy lists them.
    pol = api.request("GET", "/v1/policy", api.keys["admin"]).json()
    assert pol["records"]["order"]["events"] == {"fulfilled": {"title": {"et": "täitmist", "en": "fulfilment"}},
                                                 "delivered": {"title": {"et": "kättetoimetamist", "en": "delivery"}}}
    assert pol["records"]["accounting_entry"]["events"] == {"fulfilled": {}}
    assert pol["records"]["message"]["events"] == {}


def test_event_before_created_at_is_refused(api):
    r = post(api, {"kind": "accounting_entry", "fields": {"name": "A", "amount": "1.00"},
                   "created_at": "2024-01-10", "events": {"fulfilled": "2024-01-09"}})
    assert r.status_code == 422
    assert "before the record's created_at" in r.json()["error"]["message"]


def test_correction_recomputes_the_due_time_and_is_audited(api):
    r = post(api, {"kind": "accounting_entry", "fields": {"name": "A", "amount": "1.00"},
                   "created_at": "2016-01-10", "events": {"fulfilled": "2016-01-20"}})
    assert r.status_code == 201, r.text
    sid, rid = r.json()["id"], r.json()["records"][0]["id"]
    forecast = lambda: api.request("GET", f"/v1/records/{rid}", api.keys["admin"]).json()["events"]
    r = api.request("PATCH", f"/v1/records/{rid}", api.keys["admin"], json={"events": {"fulfilled": "2016-02-29"}})
    assert r.status_code == 200, r.text
    assert forecast() == {"fulfilled": "2016-02-29T00:00:00Z"}
    audit = api.request("GET", "/v1/audit", api.keys["auditor"], params={"subject": sid}).json()["entries"]
    rect = [e for e in audit if e["action"] == "record.rectify"]
    assert [e["detail"] for e in rect] == ["fields= events=fulfilled corrected=fulfilled"]
    assert "2016" not in rect[0]["detail"]


def test_due_time_follows_the_correction(tmp_path, privreg):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    src = tmp_path / "e.jsonl"
    src.write_text(json.dumps({"fields": {"name": "A", "amount": "1.00", "payment_ref": "INV-1"},
                               "created_at": "2016-01-10", "events": {"fulfilled": "2016-01-20"}}) + "\n")
    privreg("import", "accounting_entry", src, "--dir", d, check=0)
    # A typo in an import is refused, naming what is allowed; nothing is imported.
    bad = tmp_path / "bad.jsonl"
    bad.write_text(json.dumps({"fields": {"name": "B"}, "created_at": "2016-01-10",
                               "events": {"fulfiled": "2016-01-20"}}) + "\n")
    r = privreg("import", "accounting_entry", bad, "--dir", d)
    assert r.returncode != 0
    assert "unknown event 'fulfiled' for kind accounting_entry: allowed: fulfilled" in r.stdout + r.stderr
    assert "1 records deleted" in privreg("sweep", "--dry-run", "--dir", d, "--now", "2023-01-20",
                                          check=0).stdout


def test_notice_says_the_event_by_its_title(privreg):
    out = privreg("policy", "render", "--notice", "--lang", "fi", "--format", "md",
                  POLICIES / "jerone.yaml", check=0).stdout
    assert "2 vuotta toimituksesta" in out and "delivered" not in out
    out = privreg("policy", "render", "--notice", "--lang", "lv", "--format", "md",
                  POLICIES / "telegroup.yaml", check=0).stdout
    assert "5 gadi pēc izrakstīšanas" in out and "issued" not in out
