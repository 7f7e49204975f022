"""Processing rules a lawyer found missing (issue #10): adequacy only where the
Commission decided it, financial-year retention, holds in exports, consent
and objections that stop processing, anonymisation that cannot be linked back,
consent collection points, detached statistics."""
import pathlib

import pytest

from conftest import POLICIES, WEBSHOP, Privreg, Server, _bin, add_key

WEBSHOP_TEXT = WEBSHOP.read_text()


def policy_with(tmp_path, text, name="p.yaml"):
    p = tmp_path / name
    p.write_text(text)
    return p


def courier_in(country, extra=""):
    """The web shop's policy with its courier moved to another country."""
    old = "  courier:\n"
    assert old in WEBSHOP_TEXT
    i = WEBSHOP_TEXT.index(old)
    j = WEBSHOP_TEXT.index("    country:", i)
    k = WEBSHOP_TEXT.index("\n", j)
    return WEBSHOP_TEXT[:j] + f"    country: {country}\n    transfer: adequacy{extra}" + WEBSHOP_TEXT[k:]


def start(tmp_path, policy=WEBSHOP, roles=("admin", "dpo", "support", "auditor")):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in roles}
    return srv


@pytest.fixture
def env(tmp_path):
    srv = start(tmp_path)
    yield srv
    stop(srv)


def stop(srv):
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def export_of(env, sid):
    req = env.request("POST", "/v1/requests", env.keys["support"],
                      json={"type": "access", "subject_id": sid, "verified_by": "ID card"})
    assert req.status_code == 201, req.text
    done = env.request("POST", f"/v1/requests/{req.json()['id']}/complete", env.keys["dpo"], json={})
    assert done.status_code == 200, done.text
    e = env.request("GET", f"/v1/requests/{req.json()['id']}/export", env.keys["dpo"])
    assert e.status_code == 200, e.text
    return e.json()


# ---- item 2: adequacy only where the Commission decided it ----

@pytest.mark.parametrize("country", ["RU", "CN", "UA"])
def test_adequacy_refused_without_a_decision(privreg, tmp_path, country):
    r = privreg("policy", "check", policy_with(tmp_path, courier_in(country)))
    assert r.returncode != 0
    assert (f"recipient 'courier' is in {country}, for which the European Commission has no adequacy decision: "
            "use transfer: scc or bcr") in r.stdout + r.stderr


def test_adequacy_us_needs_dpf(privreg, tmp_path):
    r = privreg("policy", "check", policy_with(tmp_path, courier_in("US")))
    assert r.returncode != 0
    assert "only Data Privacy Framework participants: add dpf: true" in r.stdout + r.stderr
    privreg("policy", "check", policy_with(tmp_path, courier_in("US", "\n    dpf: true"), "dpf.yaml"), check=0)


@pytest.mark.parametrize("country", ["CH", "GB", "JP", "KR", "CA", "NZ", "UY", "IL"])
def test_adequacy_accepted_where_decided(privreg, tmp_path, country):
    privreg("policy", "check", policy_with(tmp_path, courier_in(country)), check=0)


# ---- item 18: financial-year retention ----

FY_POLICY = WEBSHOP_TEXT.replace("  dpo: dpo@eleme.example\n", "  dpo: dpo@eleme.example\n  financial_year_end: 06-30\n") \
    .replace("    keep: 7 years after fulfilled\n", "    keep: 7 years after end of financial year of fulfilled\n")


def test_financial_year_retention(tmp_path):
    assert FY_POLICY != WEBSHOP_TEXT
    srv = start(tmp_path, policy_with(tmp_path, FY_POLICY))
    try:
        r = srv.request("POST", "/v1/subjects", srv.keys["admin"], json={"records": [
            {"kind": "accounting_entry", "fields": {"name": "Kalle Kask", "amount": "10.00"},
             "created_at": "2024-08-01", "events": {"fulfilled": "2024-08-15"}},
            {"kind": "accounting_entry", "fields": {"name": "Kalle Kask", "amount": "11.00"},
             "created_at": "2024-06-01", "events": {"fulfilled": "2024-06-30T23:00:00Z"}}]})
        assert r.status_code == 201, r.text
        e = export_of(srv, r.json()["id"])
        # The year that held 15 Aug 2024 ends on 30 June 2025; seven years from its end.
        assert sorted(x["planned_deletion"] for x in e["records"]) == ["2031-07-01", "2032-07-01"]
        assert e["records"][0]["retention"] == "7 years after end of financial year of fulfilled"
    finally:
        stop(srv)


def test_financial_year_end_must_be_a_day(privreg, tmp_path):
    bad = FY_POLICY.replace("financial_year_end: 06-30", "financial_year_end: 02-30")
    r = privreg("policy", "check", policy_with(tmp_path, bad))
    assert r.returncode != 0 and "controller.financial_year_end must be the year's last day as MM-DD" in r.stdout


# ---- item 20: holds in exports ----

def test_hold_shown_in_export(env):
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": [
        {"kind": "account", "fields": {"email": "kalle@example.ee", "name": "Kalle Kask"}},
        {"kind": "order", "fields": {"name": "Kalle Kask", "items": [1], "amount": "10.00"}}]})
    assert r.status_code == 201, r.text
    sid, rids = r.json()["id"], [x["id"] for x in r.json()["records"]]
    h = env.request("POST", "/v1/holds", env.keys["dpo"], json={"record_id": rids[1], "reason": "dispute D-7"})
    assert h.status_code == 201, h.text
    recs = {x["id"]: x for x in export_of(env, sid)["records"]}
    assert recs[rids[1]]["legal_hold"] is True and "legal hold" in recs[rids[1]]["legal_hold_note"]
    assert recs[rids[1]]["planned_deletion"]
    assert recs[rids[0]]["legal_hold"] is False and "legal_hold_note" not in recs[rids[0]]


# ---- item 10: consent before storing; item 11: an objection stops processing ----

TELEGROUP = POLICIES / "telegroup.yaml"


@pytest.fixture
def tg(tmp_path):
    srv = start(tmp_path, TELEGROUP)
    yield srv
    stop(srv)


def tg_user(tg):
    r = tg.request("POST", "/v1/subjects", tg.keys["admin"], json={"records": [
        {"kind": "user", "fields": {"email": "anna@example.lv", "name": "Anna"}}]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


SHIFT = {"kind": "shift", "fields": {"shift_at": "2024-03-01T08:00:00Z", "shift_location": {"lat": 56.95, "lon": 24.1}}}


def test_location_needs_consent_before_it_is_stored(tg):
    sid = tg_user(tg)
    admin = tg.keys["admin"]
    r = tg.request("POST", f"/v1/subjects/{sid}/records", admin, json=SHIFT)
    assert r.status_code == 409, r.text
    assert "purpose time_tracking" in r.json()["error"]["message"]
    assert len(tg.request("GET", f"/v1/subjects/{sid}", admin).json()["records"]) == 1
    # Nor with a new subject, who has consented to nothing.
    r = tg.request("POST", "/v1/subjects", admin, json={"records": [SHIFT]})
    assert r.status_code == 409 and "time_tracking" in r.json()["error"]["message"], r.text
    g = tg.request("POST", f"/v1/subjects/{sid}/consents", admin,
                   json={"purpose": "time_tracking", "granted": True, "source": "location_permission"})
    assert g.status_code == 201, g.text
    r = tg.request("POST", f"/v1/subjects/{sid}/records", admin, json=SHIFT)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    # Withdrawn: nothing new of it is stored, a change included.
    w = tg.request("POST", f"/v1/subjects/{sid}/consents", admin,
                   json={"purpose": "time_tracking", "granted": False, "source": "app settings"})
    assert w.json()["state"] == "withdrawn", w.text
    r = tg.request("PATCH", f"/v1/records/{rid}", admin, json={"fields": {"shift_location": {"lat": 1, "lon": 2}}})
    assert r.status_code == 409 and "time_tracking" in r.json()["error"]["message"], r.text
    # A field kept for other purposes too (device_id: analytics) is not held back.
    r = tg.request("POST", f"/v1/subjects/{sid}/records", admin, json={"kind": "visit", "fields": {"device_id": "d-1"}})
    assert r.status_code == 201, r.text


def test_objection_stops_new_records_and_reads_for_the_purpose(tg):
    sid = tg_user(tg)
    admin = tg.keys["admin"]
    r = tg.request("POST", f"/v1/subjects/{sid}/records", admin, json={"kind": "visit", "fields": {"device_id": "d-1"}})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    o = tg.request("POST", f"/v1/subjects/{sid}/consents", admin,
                   json={"purpose": "analytics", "granted": False, "source": "e-mail of 1 March"})
    assert o.json()["state"] == "objected", o.text
    r = tg.request("POST", f"/v1/subjects/{sid}/records", admin, json={"kind": "visit", "fields": {"device_id": "d-2"}})
    assert r.status_code == 409, r.text
    assert r.json()["error"]["message"].startswith("the subject objected to every purpose of 'visit' records (analytics)")
    # A read declaring the objected purpose is refused; another purpose still reads.
    for path in (f"/v1/records/{rid}", f"/v1/subjects/{sid}"):
        r = tg.request("GET", path, admin, headers={"X-Purpose": "analytics"})
        assert r.status_code == 409 and "objected to purpose analytics" in r.json()["error"]["message"], r.text
        assert tg.request("GET", path, admin, headers={"X-Purpose": "service"}).status_code == 200
    # So is one declaring a purpose whose consent was withdrawn.
    tg.request("POST", f"/v1/subjects/{sid}/consents", admin,
               json={"purpose": "product_news", "granted": True, "source": "signup"})
    tg.request("POST", f"/v1/subjects/{sid}/consents", admin,
               json={"purpose": "product_news", "granted": False, "source": "unsubscribe"})
    r = tg.request("GET", f"/v1/subjects/{sid}", admin, headers={"X-Purpose": "product_news"})
    assert r.status_code == 409 and "withdrawn consent to purpose product_news" in r.json()["error"]["message"]


def objection(env, sid, purposes):
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": "objection", "subject_id": sid, "verified_by": "ID card",
                          "details": {"purposes": purposes}})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_objection_to_any_legitimate_interest_is_decided_by_the_dpo(env):
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": [
        {"kind": "account", "fields": {"email": "kalle@example.ee", "name": "Kalle Kask"}}]})
    sid = r.json()["id"]
    # security rests on legitimate interest without being marked objectable: Art. 21(1) still applies.
    rid = objection(env, sid, ["security"])
    done = env.request("POST", f"/v1/requests/{rid}/complete", env.keys["dpo"], json={})
    assert done.status_code == 200, done.text
    c = env.request("GET", f"/v1/subjects/{sid}/consents", env.keys["dpo"]).json()
    assert any(s["purpose"] == "security" and s["state"] == "objected" for s in c["consents"]), c
    # Or refused, with the compelling grounds as the reason (required).
    rid = objection(env, sid, ["personalisation"])
    r = env.request("POST", f"/v1/requests/{rid}/refuse", env.keys["dpo"], json={})
    assert r.status_code == 422, r.text
    r = env.request("POST", f"/v1/requests/{rid}/refuse", env.keys["dpo"],
                    json={"reason": "compelling legitimate grounds: fraud case F-1"})
    assert r.status_code == 200, r.text
    # A contract is no legitimate interest: no objection to it completes.
    rid = objection(env, sid, ["contract"])
    assert env.request("POST", f"/v1/requests/{rid}/complete", env.keys["dpo"], json={}).status_code == 422


# ---- item 7: anonymised records that cannot be linked back, readable for statistics ----

B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def ulid_ms(id_):
    n = 0
    for ch in id_.split("_", 1)[1]:
        n = n * 32 + B32.index(ch)
    return n >> 80


GENERALIZED = WEBSHOP_TEXT.replace("    keep_fields: [items, amount]\n",
                                   "    keep_fields: [items, amount]\n    generalize:\n      amount: { round: 10 }\n", 1)


def test_anonymised_records_are_generalised_and_listed_without_a_subject(tmp_path):
    assert GENERALIZED != WEBSHOP_TEXT
    srv = start(tmp_path, policy_with(tmp_path, GENERALIZED))
    try:
        admin = srv.keys["admin"]
        r = srv.request("POST", "/v1/subjects", admin, json={"records": [
            {"kind": "order", "fields": {"name": "Mari Tamm", "items": [{"sku": "A1"}], "amount": "49.90"},
             "created_at": "2019-05-17T10:11:12Z"},
            {"kind": "order", "fields": {"name": "Mari Tamm", "items": [{"sku": "B2"}], "amount": "-14.99"},
             "created_at": "2019-06-02T08:00:00Z"},
            {"kind": "accounting_entry", "fields": {"name": "Mari Tamm", "amount": "49.90"},
             "created_at": "2019-05-17T10:11:12Z"}]})
        assert r.status_code == 201, r.text
        sweep = srv.request("POST", "/v1/retention/sweep", srv.keys["dpo"], json={})
        assert sweep.status_code == 200 and sweep.json()["kinds"]["order"]["anonymized"] == 2, sweep.text
        page = srv.request("GET", "/v1/records", srv.keys["support"],
                           params={"state": "anonymized", "kind": "order", "limit": 1})
        assert page.status_code == 200, page.text
        first = page.json()["records"]
        assert len(first) == 1 and page.json()["next_after"] == first[0]["id"]
        rest = srv.request("GET", "/v1/records", srv.keys["support"],
                           params={"state": "anonymized", "kind": "order", "after": page.json()["next_after"]}).json()
        assert "next_after" not in rest
        recs = sorted(first + rest["records"], key=lambda x: x["created_at"])
        assert [(x["fields"]["amount"], x["created_at"], x["updated_at"]) for x in recs] == [
            ("50", "2019-05-01T00:00:00Z", "2019-05-01T00:00:00Z"),
            ("-10", "2019-06-01T00:00:00Z", "2019-06-01T00:00:00Z")]
        assert all("subject_id" not in x and x["state"] == "anonymized" for x in recs)
        # Nor does its id tell when it was made (when the order fell due).
        assert ulid_ms(recs[0]["id"]) == 1556668800000
        # Roles as for record reads; a kind and a state are required.
        assert srv.request("GET", "/v1/records", srv.keys["auditor"],
                           params={"state": "anonymized", "kind": "order"}).status_code == 403
        assert srv.request("GET", "/v1/records", admin, params={"state": "active", "kind": "order"}).status_code == 422
        assert srv.request("GET", "/v1/records", admin, params={"state": "anonymized"}).status_code == 422
    finally:
        stop(srv)


def test_anonymize_must_keep_something(privreg, tmp_path):
    bad = WEBSHOP_TEXT.replace("    keep_fields: [items, amount]\n", "", 1)
    r = privreg("policy", "check", policy_with(tmp_path, bad))
    assert r.returncode != 0
    assert "record 'order': then: anonymize keeps nothing: list the keep_fields the statistics keep" in r.stdout


# ---- item 12: anonymisation on request ----

def test_anonymization_request(env):
    admin = env.keys["admin"]
    r = env.request("POST", "/v1/subjects", admin, json={"records": [
        {"kind": "account", "fields": {"email": "kalle@example.ee", "name": "Kalle Kask"}},
        {"kind": "order", "fields": {"name": "Kalle Kask", "items": [{"sku": "A1"}], "amount": "10.00"},
         "created_at": "2024-03-15T10:00:00Z"},
        {"kind": "accounting_entry", "fields": {"name": "Kalle Kask", "amount": "10.00"}}]})
    assert r.status_code == 201, r.text
    sid, rids = r.json()["id"], [x["id"] for x in r.json()["records"]]
    req = env.request("POST", "/v1/requests", env.keys["support"],
                      json={"type": "anonymization", "subject_id": sid, "verified_by": "ID card"})
    assert req.status_code == 201, req.text
    done = env.request("POST", f"/v1/requests/{req.json()['id']}/complete", env.keys["dpo"], json={})
    assert done.status_code == 200, done.text
    assert done.json()["outcome"].startswith("1 records anonymised, 1 erased; accounting_entry kept"), done.json()
    # The order lives on without the person; the account is gone; the accounting entry is kept by law.
    anon = env.request("GET", "/v1/records", admin, params={"state": "anonymized", "kind": "order"}).json()["records"]
    assert [(x["fields"], x["created_at"]) for x in anon] == [
        ({"items": [{"sku": "A1"}], "amount": "10.00"}, "2024-03-01T00:00:00Z")]
    assert env.request("GET", f"/v1/records/{rids[0]}", admin).status_code == 404
    assert env.request("GET", f"/v1/records/{rids[1]}", admin).status_code == 404
    assert env.request("GET", f"/v1/records/{rids[2]}", admin).json()["state"] == "restricted"
    audit = env.request("GET", "/v1/audit", env.keys["auditor"], params={"subject": sid}).json()["entries"]
    assert [e["record_id"] for e in audit if e["action"] == "record.anonymize"] == [rids[1]]
    assert any(e["action"] == "request.complete" and "type=anonymization" in e["detail"] for e in audit)


# ---- item 15: statistics apart from the person ----

def test_detached_records_belong_to_nobody(tmp_path):
    srv = start(tmp_path, POLICIES / "elektrum.yaml")
    try:
        admin = srv.keys["admin"]
        usage = {"kind": "usage", "fields": {"page": "/arved", "visited_at": "2024-03-01T10:00:00Z"}}
        r = srv.request("POST", "/v1/records", admin, json=usage)
        assert r.status_code == 201, r.text
        rid = r.json()["id"]
        got = srv.request("GET", f"/v1/records/{rid}", admin).json()
        assert got["state"] == "detached" and "subject_id" not in got and got["fields"]["page"] == "/arved"
        listed = srv.request("GET", "/v1/records", srv.keys["support"],
                             params={"state": "detached", "kind": "usage"}).json()["records"]
        assert [x["id"] for x in listed] == [rid] and "subject_id" not in listed[0]
        # It cannot be attached to a person, neither on creation nor later.
        s = srv.request("POST", "/v1/subjects", admin, json={"records": [
            {"kind": "user", "fields": {"email": "tiina@example.ee"}}, usage]})
        assert s.status_code == 422 and "linked to nobody (linked: false)" in s.json()["error"]["message"], s.text
        s = srv.request("POST", "/v1/subjects", admin, json={"records": [
            {"kind": "user", "fields": {"email": "tiina@example.ee"}}]})
        sid = s.json()["id"]
        r = srv.request("POST", f"/v1/subjects/{sid}/records", admin, json=usage)
        assert r.status_code == 422 and "linked: false" in r.json()["error"]["message"], r.text
        # And a kind about people is not created detached.
        r = srv.request("POST", "/v1/records", admin, json={"kind": "user", "fields": {"email": "x@example.ee"}})
        assert r.status_code == 422 and "add them to a subject" in r.json()["error"]["message"], r.text
        assert srv.request("POST", "/v1/records", srv.keys["support"], json=usage).status_code == 403
    finally:
        stop(srv)


# ---- item 14: no third-party lists ----

def test_grant_names_a_declared_collection_point(tmp_path):
    srv = start(tmp_path, POLICIES / "jerone.yaml")
    try:
        admin = srv.keys["admin"]
        r = srv.request("POST", "/v1/subjects", admin, json={"records": [
            {"kind": "customer", "fields": {"email": "liisa@example.fi", "first_name": "Liisa"}}]})
        sid = r.json()["id"]
        for source in ("bought list 2024", "partner newsletter", None):
            body = {"purpose": "newsletter", "granted": True, "text": "Newsletter"}
            if source:
                body["source"] = source
            r = srv.request("POST", f"/v1/subjects/{sid}/consents", admin, json=body)
            assert r.status_code == 422, r.text
            if source:
                assert r.json()["error"]["message"] == ("source must be one of the policy's consent_sources for "
                                                        "purpose newsletter: account_creation (no third-party lists)")
        r = srv.request("POST", f"/v1/subjects/{sid}/consents", admin,
                        json={"purpose": "newsletter", "granted": True, "source": "account_creation"})
        assert r.status_code == 201 and r.json()["state"] == "granted", r.text
        hist = srv.request("GET", f"/v1/subjects/{sid}/consents", admin).json()["history"]
        assert [(h["source"], h["text"]) for h in hist] == [
            ("account_creation, version 2023-05", "Haluan vastaanottaa Jeronen uutiskirjeen sähköpostiini.")]
        # A withdrawal needs no collection point.
        r = srv.request("POST", f"/v1/subjects/{sid}/consents", admin,
                        json={"purpose": "newsletter", "granted": False, "source": "phone call"})
        assert r.status_code == 201 and r.json()["state"] == "withdrawn", r.text
    finally:
        stop(srv)


def test_consent_sources_are_checked(privreg, tmp_path):
    text = (POLICIES / "jerone.yaml").read_text()
    bad = text.replace("    purposes: [newsletter]\n    title: { fi: Asiakastilin", "    purposes: [orders]\n    title: { fi: Asiakastilin")
    assert bad != text
    r = privreg("policy", "check", policy_with(tmp_path, bad))
    assert r.returncode != 0 and "consent source 'account_creation' purposes: 'orders' is not based on consent" in r.stdout
    bad = text.replace('    version: "2023-05"\n    purposes: [newsletter]', "    purposes: [newsletter]")
    r = privreg("policy", "check", policy_with(tmp_path, bad, "v.yaml"))
    assert r.returncode != 0 and "consent source 'account_creation' needs a version" in r.stdout
