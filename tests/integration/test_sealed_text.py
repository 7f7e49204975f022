"""What staff write about a person dies with the person (issue #15, finding 4).

verified_by ("passport of ..."), the reasons for extending or refusing a
request, its outcome, and a hold's reason are sealed under the subject's key:
staff read them through the API while the subject exists; once the subject is
erased the register's files no longer hold them, and they read as null (a
request's texts) or "erased" (a hold's reason). Rows written before schema 9
are sealed when the server first loads the tenant's keys.
"""
import sqlite3

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, files_contain

TEXTS = {
    "verified": b"passport of Jaan Tamm EE1234567",
    "extend": b"Jaan Tamm's letters are in the Tartu archive",
    "refuse": b"Jaan Tamm asked for the same thing three times",
    "hold": b"dispute with Jaan Tamm over invoice 991",
    "erase_verified": b"ID card of Jaan Tamm at the counter",
}


def start(d):
    privreg = Privreg(_bin())
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo"]}
    return srv


def stop(srv):
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


@pytest.fixture
def reg(tmp_path):
    d = tmp_path / "reg"
    Privreg(_bin())("init", "--dir", d, "--policy", WEBSHOP, check=0)
    return d


def account(srv, email="jaan@example.ee"):
    r = srv.request("POST", "/v1/subjects", srv.keys["admin"], json={"records": [
        {"kind": "account", "fields": {"email": email, "name": "Jaan Tamm", "username": "jaan"}}]})
    assert r.status_code == 201, r.text
    return r.json()["id"], r.json()["records"][0]["id"]


def post(srv, path, body, status=(200, 201)):
    r = srv.request("POST", path, srv.keys["dpo"], json=body)
    assert r.status_code in status, r.text
    return r.json()


def get(srv, path):
    r = srv.request("GET", path, srv.keys["dpo"])
    assert r.status_code == 200, r.text
    return r.json()


def test_staff_text_is_sealed_and_dies_with_the_subject(reg):
    srv = start(reg)
    try:
        sid, _ = account(srv)
        access = post(srv, "/v1/requests", {"type": "access", "subject_id": sid,
                                            "verified_by": TEXTS["verified"].decode()})
        post(srv, f"/v1/requests/{access['id']}/extend", {"reason": TEXTS["extend"].decode()})
        post(srv, f"/v1/requests/{access['id']}/refuse", {"reason": TEXTS["refuse"].decode()})
        hold = post(srv, "/v1/holds", {"subject_id": sid, "reason": TEXTS["hold"].decode()})
        assert hold["reason"] == TEXTS["hold"].decode()

        # While the subject exists, staff read every text back ...
        r = get(srv, f"/v1/requests/{access['id']}")
        assert (r["verified_by"], r["extension_reason"], r["refusal_reason"]) == (
            TEXTS["verified"].decode(), TEXTS["extend"].decode(), TEXTS["refuse"].decode())
        listed = [x for x in get(srv, "/v1/requests")["requests"] if x["id"] == access["id"]]
        assert listed[0]["verified_by"] == TEXTS["verified"].decode()
        holds = get(srv, f"/v1/holds?subject={sid}")["holds"]
        assert [h["reason"] for h in holds] == [TEXTS["hold"].decode()]
        # ... and none of them is in the register's files in the clear.
        for t in TEXTS.values():
            assert not files_contain(reg, t), t

        assert srv.request("DELETE", f"/v1/holds/{hold['id']}", srv.keys["dpo"]).status_code == 204
        erase = post(srv, "/v1/requests", {"type": "erasure", "subject_id": sid,
                                           "verified_by": TEXTS["erase_verified"].decode()})
        assert get(srv, f"/v1/requests/{erase['id']}")["verified_by"] == TEXTS["erase_verified"].decode()
        done = post(srv, f"/v1/requests/{erase['id']}/complete", {})
        assert done["status"] == "completed" and "1 records erased" in done["outcome"]

        # After the erasure the texts read as null; the proof of what was done stays.
        r = get(srv, f"/v1/requests/{access['id']}")
        assert r["status"] == "refused"
        assert (r["verified_by"], r["extension_reason"], r["refusal_reason"], r["outcome"]) == (None,) * 4
        e = get(srv, f"/v1/requests/{erase['id']}")
        assert e["verified_by"] is None and e["outcome"] == done["outcome"]
    finally:
        stop(srv)
    for t in TEXTS.values():
        assert not files_contain(reg, t), t


def test_a_hold_that_keeps_records_still_says_why_after_the_erasure(reg):
    srv = start(reg)
    try:
        r = srv.request("POST", "/v1/subjects", srv.keys["admin"], json={"records": [
            {"kind": "account", "fields": {"email": "held@example.ee", "name": "Jaan Tamm"}},
            {"kind": "order", "fields": {"name": "Jaan Tamm", "delivery_address": "Pikk 1, Tallinn",
                                         "items": [1], "amount": "10.00", "payment_ref": "P-1"}}]})
        sid, (_, order) = r.json()["id"], [x["id"] for x in r.json()["records"]]
        old = post(srv, "/v1/requests", {"type": "access", "subject_id": sid,
                                         "verified_by": TEXTS["verified"].decode()})
        post(srv, "/v1/holds", {"record_id": order, "reason": TEXTS["hold"].decode()})
        erase = post(srv, "/v1/requests", {"type": "erasure", "subject_id": sid, "verified_by": "x"})
        done = post(srv, f"/v1/requests/{erase['id']}/complete", {})
        assert "order kept (a legal hold: " + TEXTS["hold"].decode() + ")" in done["outcome"]
        # The subject is re-keyed, restricted, kept for the hold: the hold still says why,
        # the erasure request still says what it did; older texts went with the old key.
        assert [h["reason"] for h in get(srv, f"/v1/holds?subject={sid}")["holds"]] == [TEXTS["hold"].decode()]
        assert get(srv, f"/v1/requests/{erase['id']}")["outcome"] == done["outcome"]
        assert get(srv, f"/v1/requests/{old['id']}")["verified_by"] is None
    finally:
        stop(srv)


@pytest.mark.sqlite_only('builds a schema-8 SQLite register (PostgreSQL registers start at the final schema)')
def test_rows_from_before_schema_9_are_sealed_at_start(reg):
    srv = start(reg)
    try:
        live, _ = account(srv, "live@example.ee")
        gone, _ = account(srv, "gone@example.ee")
        ids = {}
        for name, sid in (("live", live), ("gone", gone)):
            ids[name] = (post(srv, "/v1/requests", {"type": "access", "subject_id": sid, "verified_by": "x"})["id"],
                         post(srv, "/v1/holds", {"subject_id": sid, "reason": "x"})["id"])
        # The gone subject is erased by hand, as a register from before schema 9 may hold it.
        assert srv.request("DELETE", f"/v1/holds/{ids['gone'][1]}", srv.keys["dpo"]).status_code == 204
        e = post(srv, "/v1/requests", {"type": "erasure", "subject_id": gone, "verified_by": "x"})
        post(srv, f"/v1/requests/{e['id']}/complete", {})
    finally:
        stop(srv)

    # Write the texts back in the clear, as schema 8 kept them, and queue the rows as migration 9 does.
    db = sqlite3.connect(reg / "privreg.db")
    old = {name: (f"passport of {name} person".encode(), f"dispute with {name} person".encode()) for name in ids}
    rows = {}
    for i, name in enumerate(("live", "gone")):  # ids are time-ordered: live's rows come first
        (req_id,) = db.execute("SELECT request_id FROM requests WHERE type = 'access' ORDER BY request_id "
                               "LIMIT 1 OFFSET ?", (i,)).fetchone()
        (hold_id,) = db.execute("SELECT hold_id FROM holds ORDER BY hold_id LIMIT 1 OFFSET ?",
                                (i,)).fetchone()
        rows[name] = (req_id, hold_id)
        db.execute("UPDATE requests SET verified_by = ?, notes = NULL WHERE request_id = ?",
                   (old[name][0].decode(), req_id))
        db.execute("UPDATE holds SET reason = ?, reason_sealed = NULL, sealed_for = NULL WHERE hold_id = ?",
                   (old[name][1].decode(), hold_id))
        db.execute("INSERT INTO seal_queue VALUES (1, 'request', ?)", (req_id,))
        db.execute("INSERT INTO seal_queue VALUES (1, 'hold', ?)", (hold_id,))
    db.commit()
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert files_contain(reg, old["live"][0]) and files_contain(reg, old["gone"][1])

    srv = start(reg)
    try:
        assert get(srv, f"/v1/requests/{ids['live'][0]}")["verified_by"] == old["live"][0].decode()
        assert get(srv, f"/v1/requests/{ids['gone'][0]}")["verified_by"] is None
        assert [h["reason"] for h in get(srv, f"/v1/holds?subject={live}")["holds"]] == [old["live"][1].decode()]
        db = sqlite3.connect(reg / "privreg.db")
        assert db.execute("SELECT count(*) FROM seal_queue").fetchone() == (0,)
        assert db.execute("SELECT count(*) FROM requests WHERE verified_by IS NOT NULL").fetchone() == (0,)
        assert db.execute("SELECT reason FROM holds WHERE hold_id = ?", (rows["gone"][1],)).fetchone() == ("erased",)
        db.close()
        assert srv.request("DELETE", f"/v1/holds/{ids['live'][1]}", srv.keys["dpo"]).status_code == 204
        e = post(srv, "/v1/requests", {"type": "erasure", "subject_id": live, "verified_by": "x"})
        post(srv, f"/v1/requests/{e['id']}/complete", {})
        assert get(srv, f"/v1/requests/{ids['live'][0]}")["verified_by"] is None
    finally:
        stop(srv)
    for name in old:
        for t in old[name]:
            assert not files_contain(reg, t), t
