"""Every read of what staff wrote about a person is audited (security review:
GET /v1/holds and GET /v1/requests[/{id}] showed it unlogged).

A hold's reason and a request's verified_by, reasons and outcome are sealed
under the subject's key (test_sealed_text.py): whoever has them shown leaves
one access entry per subject shown, `hold.read` or `request.read`, ids and
counts only, listed in the subject's access history (GET /v1/audit?subject=).
If the entry cannot be written, nothing is shown. The auditor (audit log and
policy) sees holds without their reasons. A hold filter that is not an id is
a 422, not the whole tenant's holds.
"""
import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, db_exec, store_url
from test_audit_refusal import REFUSE

HOLD_A = "dispute with Jaan Tamm over invoice 991"
HOLD_A_ORDER = "Jaan Tamm's order is evidence in case 12/2026"
HOLD_B = "Mari Kask reported a stolen card"
VERIFIED_A = "passport of Jaan Tamm EE1234567"
SECRETS = [HOLD_A, HOLD_A_ORDER, HOLD_B, VERIFIED_A, "Jaan", "Mari", "passport", "invoice"]


@pytest.fixture
def srv(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    s = Server(privreg, d)
    s.dir = d
    s.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support", "auditor"]}
    yield s
    code, log = s.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def call(srv, method, path, role="dpo", status=(200, 201), **kw):
    r = srv.request(method, path, srv.keys[role], **kw)
    assert r.status_code in status, (path, r.status_code, r.text)
    return r.json() if r.text else None


def subject(srv, email, name):
    body = call(srv, "POST", "/v1/subjects", "admin", json={"records": [
        {"kind": "account", "fields": {"email": email, "name": name}},
        {"kind": "order", "fields": {"name": name, "delivery_address": "Pikk 1, Tallinn", "items": [1],
                                     "amount": "10.00", "payment_ref": "P-1"}}]})
    return body["id"], [r["id"] for r in body["records"]]


def entries(srv, **params):
    return call(srv, "GET", "/v1/audit", "auditor", params={"limit": 1000, **params})["entries"]


def reads(srv, action, after):
    """The entries of one read action after seq `after`: (role, subject, record, detail)."""
    return sorted((e["role"], e["subject_id"], e["record_id"], e["detail"])
                  for e in entries(srv, after=after) if e["action"] == action)


def head(srv):
    e = entries(srv)
    return e[-1]["seq"] if e else 0


def no_values(srv):
    text = str(entries(srv))
    for s in SECRETS:
        assert s not in text, s


@pytest.fixture
def held(srv):
    """Subject A with a hold on itself and one on its order, B with one, C with none."""
    a, (_, a_order) = subject(srv, "jaan@example.ee", "Jaan Tamm")
    b, _ = subject(srv, "mari@example.ee", "Mari Kask")
    c, _ = subject(srv, "kalle@example.ee", "Kalle Kuusk")
    call(srv, "POST", "/v1/holds", json={"subject_id": a, "reason": HOLD_A})
    call(srv, "POST", "/v1/holds", json={"record_id": a_order, "reason": HOLD_A_ORDER})
    hb = call(srv, "POST", "/v1/holds", json={"subject_id": b, "reason": HOLD_B})
    return a, b, c, a_order, hb["id"]


def test_hold_reasons_shown_are_audited_per_subject(srv, held):
    a, b, c, a_order, _ = held
    seq = head(srv)
    holds = call(srv, "GET", "/v1/holds")["holds"]
    assert sorted(h["reason"] for h in holds) == sorted([HOLD_A, HOLD_A_ORDER, HOLD_B])
    # One entry per subject shown, counting its holds (the order's hold is A's).
    assert reads(srv, "hold.read", seq) == sorted([("dpo", a, None, "holds=2"), ("dpo", b, None, "holds=1")])

    seq = head(srv)
    assert len(call(srv, "GET", "/v1/holds", "admin", params={"subject": a})["holds"]) == 2
    assert len(call(srv, "GET", "/v1/holds", params={"record": a_order})["holds"]) == 2
    assert reads(srv, "hold.read", seq) == [("admin", a, None, "holds=2"), ("dpo", a, None, "holds=2")]

    # Nothing shown, nothing entered.
    seq = head(srv)
    assert call(srv, "GET", "/v1/holds", params={"subject": c})["holds"] == []
    assert reads(srv, "hold.read", seq) == []

    # The subject's access history answers who read what was written about them.
    history = [e for e in entries(srv, subject=a) if e["action"] == "hold.read"]
    assert len(history) == 3 and all(e["subject_id"] == a for e in history)
    assert not [e for e in entries(srv, subject=c) if e["action"] == "hold.read"]
    no_values(srv)


def test_the_auditor_sees_holds_without_their_reasons(srv, held):
    a, b, _, _, hb = held
    seq = head(srv)
    holds = call(srv, "GET", "/v1/holds", "auditor")["holds"]
    assert len(holds) == 3
    assert all(h["reason"] is None for h in holds)
    assert {h["subject_id"] for h in holds} == {a, b, None}
    assert hb in {h["id"] for h in holds}
    assert HOLD_B not in str(call(srv, "GET", "/v1/holds", "auditor", params={"subject": b}))
    assert reads(srv, "hold.read", seq) == []
    # Staff who may read the reasons still get them.
    assert sorted(h["reason"] for h in call(srv, "GET", "/v1/holds", "admin")["holds"]) == sorted(
        [HOLD_A, HOLD_A_ORDER, HOLD_B])


@pytest.mark.parametrize("query", ["subject=abc", "subject=%ff", "subject=", "subject", "record", "subject=sub_",
                                   "record=abc",
                                   "record=%ff", "subject=rec_01arz3ndektsv4rrffq69g5fav",
                                   "record=sub_01arz3ndektsv4rrffq69g5fav",
                                   "subject=sub_01arz3ndektsv4rrffq69g5favx",
                                   "subject=sub_91arz3ndektsv4rrffq69g5fav", "subject=" + "a" * 5000],
                         ids=lambda q: q if len(q) < 60 else q[:20] + "...")
def test_a_hold_filter_that_is_not_an_id_is_a_422(srv, held, query):
    seq = head(srv)
    r = srv.request("GET", "/v1/holds?" + query, srv.keys["dpo"])
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] and "reason" not in r.text
    assert reads(srv, "hold.read", seq) == []


def test_a_hold_filter_naming_nobody_finds_nothing(srv, held):
    for q in [{"subject": "sub_01arz3ndektsv4rrffq69g5fav"}, {"record": "rec_01arz3ndektsv4rrffq69g5fav"}]:
        assert call(srv, "GET", "/v1/holds", params=q)["holds"] == []


def test_request_texts_shown_are_audited(srv, held):
    a, b, c, _, _ = held
    ra = call(srv, "POST", "/v1/requests", "support",
              json={"type": "access", "subject_id": a, "verified_by": VERIFIED_A})
    rb = call(srv, "POST", "/v1/requests", json={"type": "access", "subject_id": b})  # no texts yet
    rc = call(srv, "POST", "/v1/requests", json={"type": "erasure", "subject_id": c, "verified_by": "ID card"})

    seq = head(srv)
    assert call(srv, "GET", f"/v1/requests/{ra['id']}", "support")["verified_by"] == VERIFIED_A
    assert call(srv, "GET", f"/v1/requests/{rb['id']}")["verified_by"] is None
    assert reads(srv, "request.read", seq) == [("support", a, None, f"request={ra['id']}")]

    seq = head(srv)
    listed = {r["id"]: r for r in call(srv, "GET", "/v1/requests")["requests"]}
    assert listed[ra["id"]]["verified_by"] == VERIFIED_A and listed[rb["id"]]["verified_by"] is None
    assert reads(srv, "request.read", seq) == sorted([("dpo", a, None, "requests=1"),
                                                      ("dpo", c, None, "requests=1")])

    # A change answers with the request: that is a read of its texts too.
    seq = head(srv)
    call(srv, "POST", f"/v1/requests/{ra['id']}/extend", json={"reason": "Jaan Tamm's archive is far away"})
    assert ("dpo", a, None, f"request={ra['id']}") in reads(srv, "request.read", seq)

    history = [e["action"] for e in entries(srv, subject=a)]
    assert "request.read" in history and "request.create" in history
    assert "request.read" not in [e["action"] for e in entries(srv, subject=b)]

    # Once C is erased its request's texts are gone: reading it shows nobody's words.
    call(srv, "POST", f"/v1/requests/{rc['id']}/complete", json={})
    seq = head(srv)
    assert call(srv, "GET", f"/v1/requests/{rc['id']}")["verified_by"] is None
    assert reads(srv, "request.read", seq) == []
    no_values(srv)


def test_nothing_is_shown_when_the_entry_cannot_be_written(srv, held):
    a, _, _, _, _ = held
    ra = call(srv, "POST", "/v1/requests", json={"type": "access", "subject_id": a, "verified_by": VERIFIED_A})
    create, drop = REFUSE["postgresql" if store_url(srv.dir) else "sqlite"]
    db_exec(srv.dir, create)
    try:
        for _ in range(3):  # each server thread, and the batch writer, meets it
            for path in ["/v1/holds", f"/v1/holds?subject={a}", f"/v1/requests/{ra['id']}", "/v1/requests"]:
                r = srv.request("GET", path, srv.keys["dpo"])
                assert r.status_code >= 500, (path, r.text)
                assert "Jaan" not in r.text and "passport" not in r.text, (path, r.text)
        # The auditor is shown no reason: nothing to enter, nothing refused.
        r = srv.request("GET", "/v1/holds", srv.keys["auditor"])
        assert r.status_code == 200 and len(r.json()["holds"]) == 3, r.text
    finally:
        db_exec(srv.dir, drop)
    assert call(srv, "GET", f"/v1/requests/{ra['id']}")["verified_by"] == VERIFIED_A
