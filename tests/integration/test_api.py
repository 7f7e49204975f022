"""The HTTP API against a real server: every endpoint's happy path and errors,
every role against every endpoint, tenants that cannot see each other, bad
input that changes nothing, the audit log, metrics and the OpenAPI document."""
import json
import re
import sqlite3
import time

import pytest
import requests

from conftest import ROOT, WEBSHOP, Privreg, Server, add_key, files_contain, _bin

ACCOUNT = {"kind": "account", "fields": {"email": "Mari.Tamm@Example.ee", "name": "Mari Tamm",
                                         "phone": "+372 5123 4567", "birth_date": "1988-04-12", "language": "et"}}
ORDER = {"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1, Tallinn",
                                     "items": [{"sku": "KB-1", "qty": 1}], "amount": "49.90", "payment_method": "card"},
         "created_at": "2024-03-01T10:00:00Z", "events": {"fulfilled": "2024-03-02"}}


def create(api, records, key=None, email=None):
    recs = json.loads(json.dumps(records))
    if email:
        recs[0]["fields"]["email"] = email
    r = api.request("POST", "/v1/subjects", key or api.keys["admin"], json={"records": recs})
    assert r.status_code == 201, r.text
    return r.json()


def subject_count(api, tenant="default"):
    text = api.request("GET", "/metrics", api.keys["auditor" if tenant == "default" else tenant]).text
    m = re.search(rf'privreg_subjects{{tenant="{tenant}"}} (\d+)', text)
    return int(m.group(1))


def test_health_and_openapi_cover_every_route(api):
    assert api.request("GET", "/healthz").json() == {"status": "ok"}
    doc = api.request("GET", "/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    routes = re.findall(r'\{"(GET|POST|PATCH|DELETE|PUT)", "([^"]+)"', (ROOT / "src/api/router.c").read_text())
    assert len(routes) >= 15
    for method, path in routes:
        assert path in doc["paths"], path
        assert method.lower() in doc["paths"][path], (method, path)


def test_subject_lifecycle(api):
    admin = api.keys["admin"]
    made = create(api, [ACCOUNT, ORDER], email="lifecycle@example.ee")
    sid, (acc_id, ord_id) = made["id"], [r["id"] for r in made["records"]]
    r = api.request("GET", "/v1/subjects", admin, params={"email": "LIFECYCLE@example.ee"})
    assert r.json() == {"subjects": [{"id": sid}]}
    assert api.request("GET", "/v1/subjects", admin, params={"phone": "+37251234567"}).json()["subjects"]
    s = api.request("GET", f"/v1/subjects/{sid}", admin).json()
    assert s["id"] == sid
    recs = {r["kind"]: r for r in s["records"]}
    assert recs["account"]["fields"]["phone"] == "+37251234567"
    assert recs["order"]["fields"]["items"] == [{"sku": "KB-1", "qty": 1}]
    assert recs["order"]["fields"]["amount"] == "49.90"
    assert recs["order"]["events"] == {"fulfilled": "2024-03-02T00:00:00Z"}
    assert recs["order"]["created_at"] == "2024-03-01T10:00:00Z"
    assert recs["account"]["state"] == "active"

    r = api.request("PATCH", f"/v1/records/{acc_id}", admin, json={"fields": {"name": "Mari Kask", "phone": None}})
    assert r.status_code == 200, r.text
    assert r.json()["fields"]["name"] == "Mari Kask" and "phone" not in r.json()["fields"]
    r = api.request("PATCH", f"/v1/subjects/{sid}/records/{ord_id}", admin, json={"events": {"delivered": "2024-03-03"}})
    assert r.status_code == 200 and r.json()["events"]["delivered"] == "2024-03-03T00:00:00Z"
    r = api.request("POST", f"/v1/subjects/{sid}/records", admin,
                    json={"kind": "complaint", "fields": {"message": "late delivery"}, "created_at": "2024-03-05"})
    assert r.status_code == 201
    cid = r.json()["id"]
    assert api.request("GET", f"/v1/records/{cid}", admin).json()["fields"] == {"message": "late delivery"}
    assert api.request("DELETE", f"/v1/subjects/{sid}", admin).status_code == 204
    assert api.request("GET", f"/v1/subjects/{sid}", admin).status_code == 404
    assert api.request("GET", f"/v1/records/{cid}", admin).status_code == 404
    assert api.request("GET", "/v1/subjects", admin, params={"email": "lifecycle@example.ee"}).json() == {"subjects": []}


def test_record_must_belong_to_the_subject(api):
    a = create(api, [ACCOUNT], email="owner-a@example.ee")
    b = create(api, [ACCOUNT], email="owner-b@example.ee")
    r = api.request("PATCH", f"/v1/subjects/{a['id']}/records/{b['records'][0]['id']}", api.keys["admin"],
                    json={"fields": {"name": "X"}})
    assert r.status_code == 404


ERRORS = [
    # (method, path, headers, body, status, code)
    ("POST", "/v1/subjects", {"Content-Type": "application/json"}, b'{"records": [', 400, "invalid"),
    ("POST", "/v1/subjects", {"Content-Type": "text/plain"}, b'{"records": []}', 415, "unsupported_media"),
    ("POST", "/v1/subjects", {}, b'', 415, "unsupported_media"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"}, b'', 400, "invalid"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"}, b'[' * 40 + b']' * 40, 422, "unprocessable"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"}, b'{"records": [], "extra": 1}', 422, "unprocessable"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"}, b'{"records": []}', 422, "unprocessable"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"}, b'{"records": "account"}', 422, "unprocessable"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"},
     b'{"records": [{"kind": "account", "fields": {"email": 42}}]}', 422, "unprocessable"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"},
     b'{"records": [{"kind": "account", "fields": {"email": "a@example.ee", "iban": "EE1"}}]}', 422, "unprocessable"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"},
     b'{"records": [{"kind": "account", "fields": {"email": "a@example.ee"}}], "records": []}', 400, "invalid"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"},
     b'{"records": [{"kind": "account", "fields": {"email": "a\\u0000@example.ee"}}]}', 400, "invalid"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"},
     b'{"records": [{"kind": "account", "fields": {"email": "\xff\xfe@example.ee"}}]}', 400, "invalid"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"},
     b'{"records": [{"kind": "account", "fields": {"email": "\\ud800@example.ee"}}]}', 400, "invalid"),
    ("POST", "/v1/subjects", {"Content-Type": "application/json"},
     b'{"records": [{"kind": "account", "fields": {"email": "x@example.ee\' OR 1=1 --"}}]}', 422, "unprocessable"),
    ("GET", "/v1/subjects?email=a@example.ee&phone=%2B3725", {}, None, 422, "unprocessable"),
    ("GET", "/v1/subjects?name=Mari", {}, None, 422, "unprocessable"),
    ("GET", "/v1/subjects", {}, None, 422, "unprocessable"),
    ("GET", "/v1/subjects/sub_doesnotexist", {}, None, 404, "not_found"),
    ("GET", "/v1/subjects/' OR '1'='1", {}, None, 404, "not_found"),
    ("GET", "/v1/records/rec_00000000000000000000000000", {}, None, 404, "not_found"),
    ("DELETE", "/v1/subjects", {}, None, 405, "method_not_allowed"),  # PUT is a route: create or update
    ("GET", "/v1/nothing", {}, None, 404, "not_found"),
    ("GET", "/v1/subjects/sub_x", {"X-Purpose": "world_domination"}, None, 422, "unprocessable"),
    ("GET", "/v1/audit?since=yesterday", {}, None, 422, "unprocessable"),
    ("GET", "/v1/audit?limit=0", {}, None, 422, "unprocessable"),
    ("GET", "/v1/audit?colour=red", {}, None, 422, "unprocessable"),
]


@pytest.mark.parametrize("method,path,headers,body,status,code", ERRORS,
                         ids=[f"{m} {p[:40]} {s}" for m, p, _, _, s, _ in ERRORS])
def test_bad_input_is_refused_and_changes_nothing(api, method, path, headers, body, status, code):
    before = subject_count(api)
    r = api.request(method, path, api.keys["admin"], headers=dict(headers), data=body)
    assert r.status_code == status, r.text
    assert r.json()["error"]["code"] == code
    assert r.json()["error"]["message"]
    assert r.headers["Cache-Control"] == "no-store"
    assert subject_count(api) == before
    if status == 405:
        assert "GET" in r.headers["Allow"] and "POST" in r.headers["Allow"]


def test_oversize_body_is_413(api):
    before = subject_count(api)
    big = json.dumps({"records": [{"kind": "account", "fields": {"email": "big@example.ee", "name": "x" * (1100 * 1024)}}]})
    r = api.request("POST", "/v1/subjects", api.keys["admin"], data=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    # A body sent without announcing its length (chunked) is capped as well.
    r = api.request("POST", "/v1/subjects", api.keys["admin"], data=(c for c in [big[:600000].encode(), big[600000:].encode()]),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 413
    # Just under the cap, the field's own limit answers.
    r = api.request("POST", "/v1/subjects", api.keys["admin"], headers={"Content-Type": "application/json"},
                    data=json.dumps({"records": [{"kind": "account", "fields": {"email": "b@example.ee", "name": "x" * 201}}]}))
    assert r.status_code == 422 and "longer than 200" in r.json()["error"]["message"]
    assert subject_count(api) == before


def test_unicode_and_sql_looking_values_round_trip(api):
    name = "Robert'); DROP TABLE subjects; -- Jõgeva 🙂 \"Ä\""
    made = create(api, [{"kind": "account", "fields": {"email": "bobby@example.ee", "name": name, "username": "ö' OR 1=1"}}])
    s = api.request("GET", f"/v1/subjects/{made['id']}", api.keys["admin"]).json()
    assert s["records"][0]["fields"]["name"] == name
    r = api.request("GET", "/v1/subjects", api.keys["admin"], params={"username": "ö' OR 1=1"})
    assert r.json()["subjects"] == [{"id": made["id"]}]


def test_authentication(api, tmp_path):
    r = api.request("GET", "/v1/whoami")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    assert api.request("GET", "/v1/whoami", "prk_nonsense").status_code == 401
    forged = api.keys["admin"][:-4] + "aaaa"
    assert api.request("GET", "/v1/whoami", forged).status_code == 401
    assert api.request("GET", "/v1/whoami", headers={"Authorization": "Basic YWRtaW46YWRtaW4="}).status_code == 401
    assert api.request("GET", "/v1/whoami", api.keys["dpo"]).json()["role"] == "dpo"
    # A revoked key stops working within a second on every server thread
    # (each thread trusts a key it has checked for one second).
    key = add_key(api.privreg, api.dir, "support")
    for _ in range(4):
        assert api.request("GET", "/v1/whoami", key).status_code == 200
    api.privreg("key", "revoke", key.split("_")[1], "--dir", api.dir, check=0)
    time.sleep(1.1)
    for _ in range(6):
        assert api.request("GET", "/v1/whoami", key).status_code == 401


def test_failed_authentication_is_rate_limited(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, d, "admin")
    srv = Server(privreg, d, ["--auth-limit", "3"])
    try:
        for _ in range(3):
            assert srv.request("GET", "/v1/whoami", "prk_wrong").status_code == 401
        r = srv.request("GET", "/v1/whoami", "prk_wrong")
        assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
        assert r.json()["error"]["code"] == "too_many_requests"
        # The address's wrong keys are refused unread; a valid key is still served.
        assert srv.request("GET", "/v1/whoami", "prk_wrong").status_code == 429
        assert srv.request("GET", "/v1/whoami", key).status_code == 200
        assert srv.request("GET", "/healthz").status_code == 200
    finally:
        code, err = srv.stop()
    assert code == 0, err[-2000:]


# Expected status of each role on each route: the role matrix.
A, D, S, M, U = "admin", "dpo", "support", "marketing", "auditor"
MATRIX = [
    # (method, path, body, roles allowed, success status)
    ("GET", "/v1/whoami", None, {A, D, S, M, U}, 200),
    ("GET", "/v1/policy", None, {A, D, U}, 200),
    ("POST", "/v1/subjects", "new", {A, D}, 201),
    ("GET", "/v1/subjects?email={email}", None, {A, D, S}, 200),
    ("GET", "/v1/subjects/{sid}", None, {A, D, S}, 200),
    ("DELETE", "/v1/subjects/{sid}", None, {A, D}, 204),
    ("POST", "/v1/subjects/{sid}/records", "record", {A, D}, 201),
    ("PATCH", "/v1/subjects/{sid}/records/{rid}", "patch", {A, D, S}, 200),
    ("GET", "/v1/records/{rid}", None, {A, D, S}, 200),
    ("PATCH", "/v1/records/{rid}", "patch", {A, D, S}, 200),
    ("GET", "/v1/audit", None, {A, D, U}, 200),
    ("GET", "/v1/audit/verify", None, {A, D, U}, 200),
    ("GET", "/healthz", None, {A, D, S, M, U}, 200),
    ("GET", "/metrics", None, {A, U}, 200),
    ("GET", "/openapi.json", None, {A, D, S, M, U}, 200),
    ("POST", "/v1/subjects/{sid}/consents", "consent", {A, D, S}, 201),
    ("GET", "/v1/subjects/{sid}/consents", None, {A, D, S}, 200),
    ("GET", "/v1/consents/check?purpose=personalisation&email={email}", None, {A, D, M}, 200),
    ("GET", "/v1/audiences/direct_marketing", None, {A, M}, 200),
    ("GET", "/.well-known/gpc.json", None, {A, D, S, M, U}, 200),
]
BODIES = {
    "new": {"records": [{"kind": "account", "fields": {"email": "matrix-new@example.ee"}}]},
    "record": {"kind": "message", "fields": {"message": "hello"}},
    "patch": {"fields": {"name": "Matrix"}},
    "consent": {"purpose": "personalisation", "granted": False, "source": "matrix test"},
}


@pytest.mark.parametrize("role", [A, D, S, M, U])
@pytest.mark.parametrize("method,path,body,allowed,ok", MATRIX, ids=[f"{m} {p}" for m, p, *_ in MATRIX])
def test_role_matrix(api, role, method, path, body, allowed, ok):
    email = f"matrix-{role}-{abs(hash((method, path))) % 10**8}@example.ee"
    made = create(api, [ACCOUNT], email=email)
    path = path.format(sid=made["id"], rid=made["records"][0]["id"], email=email)
    r = api.request(method, path, api.keys[role], json=BODIES.get(body))
    want = ok if role in allowed else 403
    assert r.status_code == want, f"{role} {method} {path}: {r.status_code} {r.text[:200]}"
    if want == 403:
        assert r.json()["error"]["code"] == "forbidden"
        # Nothing was read or changed.
        assert api.request("GET", f"/v1/subjects/{made['id']}", api.keys["admin"]).json()["records"][0]["fields"]["name"] == "Mari Tamm"


CROSS = [
    ("GET", "/v1/subjects/{sid}", None),
    ("DELETE", "/v1/subjects/{sid}", None),
    ("POST", "/v1/subjects/{sid}/records", BODIES["record"]),
    ("PATCH", "/v1/subjects/{sid}/records/{rid}", BODIES["patch"]),
    ("GET", "/v1/records/{rid}", None),
    ("PATCH", "/v1/records/{rid}", BODIES["patch"]),
]


@pytest.mark.parametrize("method,path,body", CROSS, ids=[f"{m} {p}" for m, p, _ in CROSS])
def test_other_tenant_sees_nothing(api, method, path, body):
    made = create(api, [ACCOUNT], email="cross@example.ee")
    path = path.format(sid=made["id"], rid=made["records"][0]["id"])
    r = api.request(method, path, api.keys["other"], json=body)
    assert r.status_code == 404, r.text
    s = api.request("GET", f"/v1/subjects/{made['id']}", api.keys["admin"])
    assert s.status_code == 200 and s.json()["records"][0]["fields"]["name"] == "Mari Tamm"
    assert len(s.json()["records"]) == 1


def test_other_tenant_lookup_audit_and_policy_are_its_own(api):
    made = create(api, [ACCOUNT], email="only-default@example.ee")
    other = api.keys["other"]
    assert api.request("GET", "/v1/subjects", other, params={"email": "only-default@example.ee"}).json() == {"subjects": []}
    assert api.request("GET", "/v1/whoami", other).json()["tenant"] == "other"
    entries = api.request("GET", "/v1/audit", other, params={"limit": 1000}).json()["entries"]
    assert all(e["subject_id"] != made["id"] for e in entries)
    assert api.request("GET", "/v1/audit", other, params={"subject": made["id"]}).json()["entries"] == []
    # The same e-mail in the other tenant is a different subject.
    mine = create(api, [ACCOUNT], key=other, email="only-default@example.ee")
    assert mine["id"] != made["id"]
    assert api.request("GET", f"/v1/subjects/{mine['id']}", api.keys["admin"]).status_code == 404


def test_audit_log_records_every_access(api):
    dpo = api.keys["dpo"]
    made = create(api, [ACCOUNT], key=dpo, email="audited@example.ee")
    sid, rid = made["id"], made["records"][0]["id"]
    h = {"X-Purpose": "contract"}
    api.request("GET", "/v1/subjects", dpo, params={"email": "audited@example.ee"}, headers=dict(h))
    api.request("GET", f"/v1/subjects/{sid}", dpo, headers=dict(h))
    api.request("PATCH", f"/v1/records/{rid}", api.keys["support"], json={"fields": {"name": "Mari Saar"}})
    entries = api.request("GET", "/v1/audit", api.keys["auditor"], params={"subject": sid}).json()["entries"]
    actions = [e["action"] for e in entries]
    assert actions[:4] == ["subject.create", "subject.lookup", "subject.read", "record.rectify"], actions
    dpo_id = api.request("GET", "/v1/whoami", dpo).json()["key_id"]
    assert entries[0]["key_id"] == dpo_id and entries[0]["role"] == "dpo"
    assert entries[2]["purpose"] == "contract"
    assert entries[3]["role"] == "support" and entries[3]["record_id"] == rid
    assert entries[3]["detail"] == "fields=name events="
    text = json.dumps(entries)
    # Whole values only: a short digit string can occur inside a random hash.
    for value in ["Mari", "Saar", "audited@", "+372 5123 4567", "+37251234567", "1988-04-12"]:
        assert value not in text
    v = api.request("GET", "/v1/audit/verify", api.keys["auditor"]).json()
    assert v["ok"] is True and v["entries"] > 5
    r = api.request("GET", "/v1/audit", api.keys["admin"], params={"limit": 2})
    assert len(r.json()["entries"]) == 2 and r.json()["next_after"] == r.json()["entries"][1]["seq"]
    nxt = api.request("GET", "/v1/audit", api.keys["admin"], params={"limit": 2, "after": r.json()["next_after"]})
    assert nxt.json()["entries"][0]["seq"] == r.json()["next_after"] + 1


def test_metrics(api):
    api.request("GET", "/v1/whoami", api.keys["admin"])
    text = api.request("GET", "/metrics", api.keys["auditor"]).text
    assert re.search(r'privreg_http_requests_total\{route="/v1/whoami",method="GET",status="200"\} \d+', text)
    assert 'privreg_http_request_duration_seconds_bucket{le="+Inf"}' in text
    assert re.search(r'privreg_subjects\{tenant="default"\} \d+', text)
    assert 'tenant="other"' not in text  # a key sees its own tenant only
    text = api.request("GET", "/metrics", api.keys["other"]).text
    assert re.search(r'privreg_records\{tenant="other"\} \d+', text)
    assert "@" not in text


def test_nothing_personal_on_disk(api):
    values = {"email": "disk.check@example.ee", "name": "Kristjan Pärtelpoeg", "phone": "+372 5999 8877",
              "address": "Mustamäe tee 199, Tallinn"}
    create(api, [{"kind": "account", "fields": values}])
    for needle in ["disk.check", "Kristjan", "P\u00e4rtelpoeg", "59998877", "Mustam\u00e4e"]:
        assert not files_contain(api.dir, needle.encode()), needle


@pytest.mark.sqlite_only('edits the audit table in the SQLite file (sqlite3 module)')
def test_tampered_audit_log_is_detected(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    try:
        made = create_with(srv, key)
        srv.request("GET", f"/v1/subjects/{made}", key)
        assert srv.request("GET", "/v1/audit/verify", key).json()["ok"] is True
        db = sqlite3.connect(d / "privreg.db")
        db.execute("DROP TRIGGER audit_no_delete")
        db.execute("DELETE FROM audit WHERE seq = 4")
        db.commit()
        db.close()
        v = srv.request("GET", "/v1/audit/verify", key).json()
        assert v == {"ok": False, "entries": 3, "first_bad": 4}
    finally:
        code, err = srv.stop()
    assert code == 0, err[-2000:]
    assert "BROKEN at entry 4" in privreg("audit", "verify", "--dir", d, check=1).stdout


def create_with(srv, key):
    r = srv.request("POST", "/v1/subjects", key, json={"records": [ACCOUNT]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_graceful_stop_keeps_every_write(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, d, "admin")
    srv = Server(privreg, d)
    ids = [create_with(srv, key) for _ in range(5)]
    code, err = srv.stop()
    assert code == 0, err[-2000:]
    assert "stopping" in err
    for sid in ids:
        privreg("subject", "get", sid, "--dir", d, check=0)
    assert "intact" in privreg("audit", "verify", "--dir", d, check=0).stdout
