"""Legal holds and disclosures against the real server."""
import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, files_contain


@pytest.fixture
def env(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support", "auditor"]}
    yield srv
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def subject(env, email="kalle@example.ee"):
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": [
        {"kind": "account", "fields": {"email": email, "name": "Kalle Kask", "phone": "+372 5550 1234",
                                       "username": "kalle"}},
        {"kind": "order", "fields": {"name": "Kalle Kask", "phone": "+372 5550 1234",
                                     "delivery_address": "Rüütli 5, Tartu", "items": [1], "amount": "10.00",
                                     "payment_ref": "P-1"}}]})
    assert r.status_code == 201, r.text
    return r.json()["id"], [x["id"] for x in r.json()["records"]]


def disclose(env, sid, recipient, purpose, fields, key="dpo", **extra):
    return env.request("POST", "/v1/disclosures", env.keys[key],
                       json={"subject_id": sid, "recipient": recipient, "purpose": purpose, "fields": fields, **extra})


def test_disclosure_allowed_and_logged(env):
    sid, _ = subject(env)
    r = disclose(env, sid, "courier", "contract", ["name", "phone", "delivery_address"])
    assert r.status_code == 200, r.text
    assert r.json()["values"] == {"name": "Kalle Kask", "phone": "+37255501234", "delivery_address": "Rüütli 5, Tartu"}
    r = disclose(env, sid, "payments", "contract", ["email", "amount"])  # US, with SCC
    assert r.status_code == 200 and r.json()["values"]["email"] == "kalle@example.ee"
    # An authority receives data for the purposes the policy gives it (webshop: accounting, security).
    r = disclose(env, sid, "authorities", "security", ["name", "email"], legal_reference="Police Act § 32, case 1-24-77")
    assert r.status_code == 200, r.text
    log = env.request("GET", f"/v1/subjects/{sid}/disclosures", env.keys["support"]).json()["disclosures"]
    assert [(x["recipient"], x["fields"]) for x in log] == [
        ("courier", "name,phone,delivery_address"), ("payments", "email,amount"), ("authorities", "name,email")]
    assert log[2]["legal_reference"] == "Police Act § 32, case 1-24-77"
    audit = env.request("GET", "/v1/audit", env.keys["auditor"], params={"subject": sid}).json()["entries"]
    assert sum(e["action"] == "disclosure" for e in audit) == 3
    assert not any("Kalle" in (e["detail"] or "") for e in audit)


@pytest.mark.parametrize("recipient,purpose,fields,extra,reason", [
    ("nobody", "contract", ["name"], {}, "'nobody' is not a recipient in the policy"),
    ("courier", "no_such", ["name"], {}, "'no_such' is not a purpose in the policy"),
    ("courier", "accounting", ["name"], {}, "courier does not receive data for purpose accounting"),
    ("courier", "contract", ["email"], {}, "courier may not receive the field email"),
    ("courier", "contract", ["shoe_size"], {}, "'shoe_size' is not a field in the policy"),
    ("authorities", "contract", ["name"], {}, "authorities is an authority: a disclosure to it needs its legal reference"),
])
def test_disclosure_refusals_name_their_reason(env, recipient, purpose, fields, extra, reason):
    sid, _ = subject(env)
    r = disclose(env, sid, recipient, purpose, fields, **extra)
    assert r.status_code == 403, r.text
    assert r.json()["error"]["message"] == reason
    assert env.request("GET", f"/v1/subjects/{sid}/disclosures", env.keys["dpo"]).json()["disclosures"] == []


def test_disclosure_refused_after_objection_restriction_or_hold(env):
    sid, _ = subject(env)
    env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                json={"purpose": "security", "granted": False, "source": "x"})  # not objectable: 422, no change
    r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                    json={"purpose": "personalisation", "granted": False, "source": "phone"})
    assert r.json()["state"] == "objected"
    # A recipient for personalisation does not exist in the example: objection shown on contract instead.
    h = env.request("POST", "/v1/holds", env.keys["dpo"], json={"subject_id": sid, "reason": "fraud investigation",
                                                                 "forbid_disclosure": True})
    assert h.status_code == 201, h.text
    r = disclose(env, sid, "courier", "contract", ["name"])
    assert r.status_code == 403 and "legal hold forbids" in r.json()["error"]["message"]
    assert env.request("DELETE", f"/v1/holds/{h.json()['id']}", env.keys["dpo"]).status_code == 204
    assert disclose(env, sid, "courier", "contract", ["name"]).status_code == 200
    req = env.request("POST", "/v1/requests", env.keys["dpo"],
                      json={"type": "restriction", "subject_id": sid, "verified_by": "x"}).json()
    env.request("POST", f"/v1/requests/{req['id']}/complete", env.keys["dpo"], json={})
    r = disclose(env, sid, "courier", "contract", ["name"])
    assert r.status_code == 403 and "restricted" in r.json()["error"]["message"]


def test_holds_stop_erasure(env):
    sid, (acc, order) = subject(env, email="held@example.ee")
    h = env.request("POST", "/v1/holds", env.keys["dpo"], json={"record_id": order, "reason": "customer dispute",
                                                                 "until": "2099-01-01"})
    assert h.status_code == 201 and h.json()["record_id"] == order and h.json()["subject_id"] is None
    holds = env.request("GET", "/v1/holds", env.keys["auditor"], params={"subject": sid}).json()["holds"]
    assert [x["id"] for x in holds] == [h.json()["id"]]
    req = env.request("POST", "/v1/requests", env.keys["dpo"],
                      json={"type": "erasure", "subject_id": sid, "verified_by": "x"}).json()
    done = env.request("POST", f"/v1/requests/{req['id']}/complete", env.keys["dpo"], json={}).json()
    assert "1 records erased" in done["outcome"] and "order kept (a legal hold: customer dispute)" in done["outcome"]
    assert env.request("GET", f"/v1/records/{acc}", env.keys["dpo"]).status_code == 404
    kept = env.request("GET", f"/v1/records/{order}", env.keys["dpo"]).json()
    assert kept["state"] == "restricted" and kept["fields"]["payment_ref"] == "P-1"
    assert not files_contain(env.dir, b"held@example.ee")
    bad = env.request("POST", "/v1/holds", env.keys["dpo"], json={"subject_id": sid, "record_id": order, "reason": "x"})
    assert bad.status_code == 422
    assert env.request("POST", "/v1/holds", env.keys["dpo"], json={"subject_id": sid}).status_code == 422
    assert env.request("POST", "/v1/holds", env.keys["support"], json={"subject_id": sid, "reason": "x"}).status_code == 403
    assert env.request("DELETE", "/v1/holds/hld_00000000000000000000000000", env.keys["dpo"]).status_code == 404


def test_export_lists_disclosures(env):
    sid, _ = subject(env)
    disclose(env, sid, "courier", "contract", ["name"])
    req = env.request("POST", "/v1/requests", env.keys["dpo"],
                      json={"type": "access", "subject_id": sid, "verified_by": "x"}).json()
    env.request("POST", f"/v1/requests/{req['id']}/complete", env.keys["dpo"], json={})
    e = env.request("GET", f"/v1/requests/{req['id']}/export", env.keys["dpo"]).json()
    assert [(d["recipient"], d["purpose"], d["fields"]) for d in e["disclosures"]] == [("courier", "contract", "name")]
