"""One person, one subject (issue #13, item 3): under a policy whose email
is `unique: true`, a second subject with an e-mail already held is a 409
naming the holder; PUT /v1/subjects?email=... creates (201) or updates
(200); POST /v1/subjects/{id}/merge {"from": id2} makes two subjects one:
records sealed again under the survivor's key, consents, requests and
disclosures moved, the other's key destroyed, one audit entry naming both."""
import pytest

from conftest import Privreg, Server, _bin, add_key, files_contain, unique_email_policy


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    privreg = Privreg(_bin())
    base = tmp_path_factory.mktemp("unique")
    policy = unique_email_policy(base)
    d = base / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    s = Server(privreg, d)
    s.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support"]}
    s.privreg = privreg
    yield s
    code, log = s.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def account(email, name="Mari Tamm", **more):
    return {"kind": "account", "fields": {"email": email, "name": name, **more}}


def create(srv, *records):
    return srv.request("POST", "/v1/subjects", srv.keys["admin"], json={"records": list(records)})


def found(srv, email):
    r = srv.request("GET", "/v1/subjects", srv.keys["admin"], params={"email": email})
    return [s["id"] for s in r.json()["subjects"]]


def test_policy_accepts_unique_and_shows_it(srv):
    p = srv.request("GET", "/v1/policy", srv.keys["admin"]).json()
    assert p["fields"]["email"]["unique"] is True
    assert "unique" not in p["fields"]["phone"]


def test_second_subject_with_the_same_email_is_a_409_naming_the_first(srv):
    first = create(srv, account("mari@example.ee"))
    assert first.status_code == 201, first.text
    again = create(srv, account("MARI@Example.ee", name="Mari T."))
    assert again.status_code == 409, again.text
    err = again.json()["error"]
    assert err["code"] == "exists" and err["subject_id"] == first.json()["id"]
    assert found(srv, "mari@example.ee") == [first.json()["id"]]
    # Other fields are not unique: the same phone on two people is fine.
    assert create(srv, account("a@example.ee", phone="+3725550001")).status_code == 201
    assert create(srv, account("b@example.ee", phone="+3725550001")).status_code == 201


def test_put_creates_then_updates(srv):
    body = {"records": [account("put@example.ee", name="Jaan")]}
    r1 = srv.request("PUT", "/v1/subjects", srv.keys["admin"], params={"email": "put@example.ee"}, json=body)
    assert r1.status_code == 201, r1.text
    sid, rid = r1.json()["id"], r1.json()["records"][0]["id"]
    body = {"records": [account("put@example.ee", name="Jaan Kask"),
                        {"kind": "message", "fields": {"message": "hello"}}]}
    r2 = srv.request("PUT", "/v1/subjects", srv.keys["admin"], params={"email": "PUT@example.ee"}, json=body)
    assert r2.status_code == 200, r2.text
    assert r2.json()["id"] == sid and r2.json()["records"][0]["id"] == rid
    got = srv.request("GET", f"/v1/subjects/{sid}", srv.keys["admin"]).json()
    assert len(got["records"]) == 2
    acc = [x for x in got["records"] if x["kind"] == "account"][0]
    assert acc["fields"]["name"] == "Jaan Kask"
    assert found(srv, "put@example.ee") == [sid]


def test_put_refusals(srv):
    body = {"records": [account("q@example.ee")]}
    # Not a unique field; no field; two fields; the records lack the value.
    for params, want in [({"phone": "+3725550002"}, 422), ({}, 422),
                         ({"email": "q@example.ee", "phone": "+3725550002"}, 422),
                         ({"email": "other@example.ee"}, 422)]:
        r = srv.request("PUT", "/v1/subjects", srv.keys["admin"], params=params, json=body)
        assert r.status_code == want, (params, r.text)
    assert found(srv, "q@example.ee") == []
    r = srv.request("PUT", "/v1/subjects", srv.keys["support"], params={"email": "q@example.ee"}, json=body)
    assert r.status_code == 403


def test_merge(srv):
    a = create(srv, account("merge-a@example.ee", language="en"))
    assert a.status_code == 201
    # The same person came in again under an old e-mail: another subject.
    b = create(srv, {"kind": "account", "fields": {"email": "merge-old@example.ee", "username": "mari77",
                                                   "name": "Unmistakable Mari"}},
               {"kind": "message", "fields": {"message": "a note about the order"}})
    assert b.status_code == 201, b.text
    sa, sb = a.json()["id"], b.json()["id"]
    c = srv.request("POST", f"/v1/subjects/{sb}/consents", srv.keys["admin"],
                    json={"purpose": "personalisation", "granted": False, "source": "form"})
    assert c.status_code == 201, c.text
    req = srv.request("POST", "/v1/requests", srv.keys["admin"],
                      json={"type": "rectification", "subject_id": sb, "verified_by": "passport",
                            "details": {"note": "Unmistakable detail"}})
    assert req.status_code == 201, req.text
    d = srv.request("POST", "/v1/disclosures", srv.keys["admin"],
                    json={"subject_id": sb, "recipient": "courier", "purpose": "contract", "fields": ["name"]})
    assert d.status_code == 200, d.text

    assert srv.request("POST", f"/v1/subjects/{sa}/merge", srv.keys["admin"], json={"from": sa}).status_code == 422
    assert srv.request("POST", f"/v1/subjects/{sa}/merge", srv.keys["support"], json={"from": sb}).status_code == 403
    m = srv.request("POST", f"/v1/subjects/{sa}/merge", srv.keys["admin"], json={"from": sb})
    assert m.status_code == 200, m.text
    assert m.json() == {"id": sa, "merged": sb, "records": 2, "consent_events": 1, "requests": 1}

    got = srv.request("GET", f"/v1/subjects/{sa}", srv.keys["admin"]).json()
    assert sorted(r["kind"] for r in got["records"]) == ["account", "account", "message"]
    assert srv.request("GET", f"/v1/subjects/{sb}", srv.keys["admin"]).status_code == 404
    r = srv.request("GET", "/v1/subjects", srv.keys["admin"], params={"username": "mari77"})
    assert [s["id"] for s in r.json()["subjects"]] == [sa]
    states = srv.request("GET", f"/v1/subjects/{sa}/consents", srv.keys["admin"]).json()
    assert "personalisation" in str(states)
    r = srv.request("GET", f"/v1/requests/{req.json()['id']}", srv.keys["admin"]).json()
    assert r["subject_id"] == sa
    dl = srv.request("GET", f"/v1/subjects/{sa}/disclosures", srv.keys["admin"]).json()
    assert len(dl["disclosures"]) == 1
    # One audit entry names both.
    log = srv.request("GET", "/v1/audit", srv.keys["admin"], params={"subject": sa}).json()
    merges = [e for e in log["entries"] if e["action"] == "subject.merge"]
    assert len(merges) == 1 and sb in merges[0]["detail"]
    # Merging what is gone: 404.
    assert srv.request("POST", f"/v1/subjects/{sa}/merge", srv.keys["admin"], json={"from": sb}).status_code == 404
    assert not files_contain(srv.dir, b"Unmistakable")


def test_merge_refused_under_a_hold(srv):
    a = create(srv, account("hold-a@example.ee")).json()["id"]
    b = create(srv, account("hold-b@example.ee")).json()["id"]
    h = srv.request("POST", "/v1/holds", srv.keys["admin"], json={"subject_id": b, "reason": "dispute"})
    assert h.status_code == 201, h.text
    r = srv.request("POST", f"/v1/subjects/{a}/merge", srv.keys["admin"], json={"from": b})
    assert r.status_code == 409, r.text
    assert "hold" in r.json()["error"]["message"]
    assert srv.request("GET", f"/v1/subjects/{b}", srv.keys["admin"]).status_code == 200


def test_a_record_added_or_rectified_to_a_held_unique_value_is_a_409(srv):
    """Unique holds beyond creation: a record added to an existing subject,
    or a field rectified (on either route, or by a rectification request),
    may not give it a value another subject holds (409 naming the holder);
    the subject's own value, or a free one, is fine."""
    a = create(srv, account("holder@example.ee")).json()
    b = create(srv, account("other@example.ee")).json()
    a_id, b_id, b_rec = a["id"], b["id"], b["records"][0]["id"]
    admin = srv.keys["admin"]
    r = srv.request("POST", f"/v1/subjects/{b_id}/records", admin, json=account("Holder@Example.ee"))
    assert r.status_code == 409, r.text
    assert r.json()["error"]["code"] == "exists" and r.json()["error"]["subject_id"] == a_id
    for path in (f"/v1/records/{b_rec}", f"/v1/subjects/{b_id}/records/{b_rec}"):
        r = srv.request("PATCH", path, admin, json={"fields": {"email": "holder@example.ee"}})
        assert r.status_code == 409, (path, r.text)
        assert r.json()["error"]["subject_id"] == a_id
    assert found(srv, "holder@example.ee") == [a_id]
    got = srv.request("GET", f"/v1/records/{b_rec}", admin).json()
    assert got["fields"]["email"] == "other@example.ee"
    # a rectification request that would do the same is refused when carried out
    rq = srv.request("POST", "/v1/requests", admin, json={
        "type": "rectification", "subject_id": b_id, "verified_by": "ID card",
        "details": {"record_id": b_rec, "fields": {"email": "holder@example.ee"}}})
    assert rq.status_code == 201, rq.text
    done = srv.request("POST", f"/v1/requests/{rq.json()['id']}/complete", admin, json={})
    assert done.status_code == 409, done.text
    assert found(srv, "holder@example.ee") == [a_id]
    # its own value again, a new one, and a second record with its own value: fine
    assert srv.request("PATCH", f"/v1/records/{b_rec}", admin,
                       json={"fields": {"email": "OTHER@example.ee"}}).status_code == 200
    assert srv.request("PATCH", f"/v1/records/{b_rec}", admin,
                       json={"fields": {"email": "new@example.ee"}}).status_code == 200
    assert srv.request("POST", f"/v1/subjects/{b_id}/records", admin,
                       json=account("new@example.ee")).status_code == 201
    assert found(srv, "new@example.ee") == [b_id]
