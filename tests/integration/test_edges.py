"""The promises' edges (issue #10): a refused change saves nothing and a
restricted subject's data is only stored, also by the sweep; a disclosure to
an authority needs a legal reference with text in it and a purpose the policy
gives that authority; `sweep --now` cannot run ahead of the clock nor write
its time into the audit log; a dry run counts what the real run then does."""
import re
import sqlite3
import time

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key


def start(tmp_path, policy=WEBSHOP):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support", "auditor"]}
    srv.privreg, srv.dir = privreg, d
    return srv


def stop(srv):
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


@pytest.fixture
def env(tmp_path):
    srv = start(tmp_path)
    yield srv
    stop(srv)


def add(env, *records):
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": list(records)})
    assert r.status_code == 201, r.text
    return r.json()["id"], [x["id"] for x in r.json()["records"]]


def request(env, sid, kind):
    r = env.request("POST", "/v1/requests", env.keys["dpo"], json={"type": kind, "subject_id": sid, "verified_by": "x"})
    assert r.status_code == 201, r.text
    done = env.request("POST", f"/v1/requests/{r.json()['id']}/complete", env.keys["dpo"], json={})
    assert done.status_code == 200, done.text
    return r.json()["id"]


def record(env, rid):
    return env.request("GET", f"/v1/records/{rid}", env.keys["admin"])


def audit(env, **params):
    r = env.request("GET", "/v1/audit", env.keys["auditor"], params={"limit": 1000, **params})
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def sweep(env, dry_run=False):
    r = env.request("POST", "/v1/retention/sweep", env.keys["admin"], json={"dry_run": dry_run})
    assert r.status_code == 200, r.text
    return r.json()


OLD_ORDER = {"kind": "order", "fields": {"name": "Mari Tamm", "items": [{"sku": "A1"}], "amount": "49.90",
                                         "payment_ref": "P-9"}, "created_at": "2020-03-15"}
OLD_MESSAGE = {"kind": "message", "fields": {"message": "old"}, "created_at": "2020-01-01"}


def account(email, **extra):
    return {"kind": "account", "fields": {"name": "A", "email": email, "ip": "203.0.113.77"},
            "created_at": "2020-01-01", **extra}


def test_refused_rectification_changes_nothing(env):
    sid, (aid,) = add(env, {"kind": "account", "fields": {"name": "Before", "email": "r@example.ee"}})
    request(env, sid, "restriction")
    r = env.request("PATCH", f"/v1/records/{aid}", env.keys["support"], json={"fields": {"name": "After"}})
    assert r.status_code == 409, r.text
    assert record(env, aid).json()["fields"]["name"] == "Before"
    assert not [e for e in audit(env, subject=sid) if e["action"] == "record.rectify" and e["outcome"] == "ok"]


def test_sweep_leaves_a_restricted_subjects_records_until_the_restriction_is_lifted(env):
    sid, (oid, mid, aid) = add(env, OLD_ORDER, OLD_MESSAGE, account("r@example.ee"))
    before = {rid: record(env, rid).json() for rid in (oid, mid, aid)}
    request(env, sid, "restriction")
    # Kept by law after an erasure (restricted too, in the record's state): its keep rule still ends it.
    erased, (acc, _) = add(env, {"kind": "accounting_entry", "fields": {"name": "B", "amount": "1.00"},
                                 "created_at": "2019-05-01", "events": {"fulfilled": "2019-06-01"}}, account("e@example.ee"))
    request(env, erased, "erasure")
    assert record(env, acc).json()["state"] == "restricted"
    dry = sweep(env, dry_run=True)
    rep = sweep(env)
    assert {k: v for k, v in dry.items() if k != "dry_run"} == {k: v for k, v in rep.items() if k != "dry_run"}
    assert rep["kinds"]["order"] == {"deleted": 0, "anonymized": 0, "trimmed": 0, "held": 0, "restricted": 1}
    assert rep["kinds"]["message"] == {"deleted": 0, "anonymized": 0, "trimmed": 0, "held": 0, "restricted": 1}
    assert rep["kinds"]["accounting_entry"]["deleted"] == 1 and record(env, acc).status_code == 404
    assert "account" not in rep["kinds"] or rep["kinds"]["account"]["trimmed"] == 0
    assert {rid: record(env, rid).json() for rid in (oid, mid, aid)} == before  # the ip is not cut either
    assert not [e for e in audit(env, subject=sid) if e["action"].startswith("retention.")]
    out = env.privreg("sweep", "--dir", env.dir, check=0).stdout
    assert re.search(r"^order +deleted 0 anonymized 0 trimmed 0 held 0 restricted 1$", out, re.M), out
    assert "0 held, 2 restricted;" in out, out
    assert record(env, oid).json() == before[oid]
    # Lifted: the sweep does what was waiting.
    assert env.request("DELETE", f"/v1/subjects/{sid}/restriction", env.keys["dpo"]).status_code in (200, 204)
    rep = sweep(env)
    assert rep["kinds"]["order"]["anonymized"] == 1 and rep["kinds"]["message"]["deleted"] == 1
    assert rep["kinds"]["account"]["trimmed"] == 1
    assert record(env, aid).json()["fields"]["ip"] == "203.0.113.0"


def test_authority_disclosure_needs_a_visible_reference_and_its_own_purpose(tmp_path):
    text = WEBSHOP.read_text()
    assert "    purposes: [accounting, security]\n    country: EE\n" in text
    p = tmp_path / "p.yaml"
    p.write_text(text.replace("    purposes: [accounting, security]\n    country: EE\n",
                              "    purposes: [accounting, security, personalisation, direct_marketing]\n"
                              "    country: EE\n"))
    env = start(tmp_path, p)
    try:
        sid, _ = add(env, {"kind": "account", "fields": {"name": "Kalle Kask", "email": "kalle@example.ee"}})

        def disclose(purpose, ref):
            return env.request("POST", "/v1/disclosures", env.keys["dpo"], json={
                "subject_id": sid, "recipient": "authorities", "purpose": purpose, "fields": ["name"],
                "legal_reference": ref})

        for blank in [" ", "\t\n  \r", "\u00a0\u3000\u200b", "\ufeff "]:
            r = disclose("security", blank)
            assert r.status_code == 422, (blank, r.text)
            assert r.json()["error"]["message"] == "legal_reference is blank: name the law and the case"
        r = disclose("contract", "Police Act § 32, case 1-24-77")
        assert r.status_code == 403, r.text
        assert r.json()["error"]["message"] == "authorities does not receive data for purpose contract"
        assert disclose("security", "x" * 501).status_code == 422
        # The subject's objection and withdrawal hold against authorities too.
        r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                        json={"purpose": "personalisation", "granted": False, "source": "phone"})
        assert r.json()["state"] == "objected", r.text
        r = disclose("personalisation", "Police Act § 32, case 1-24-77")
        assert r.status_code == 403, r.text
        assert r.json()["error"]["message"] == "the subject has objected to purpose personalisation"
        r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                        json={"purpose": "direct_marketing", "granted": False, "source": "phone"})
        assert r.status_code in (200, 201), r.text
        r = disclose("direct_marketing", "Police Act § 32, case 1-24-77")
        assert r.status_code == 403, r.text
        assert "purpose direct_marketing" in r.json()["error"]["message"]
        # Nothing of the refusals is logged or stored.
        assert env.request("GET", f"/v1/subjects/{sid}/disclosures", env.keys["dpo"]).json()["disclosures"] == []
        assert not [e for e in audit(env, subject=sid) if e["action"] == "disclosure"]
        r = disclose("security", "  Police Act § 32, case 1-24-77 ")
        assert r.status_code == 200, r.text
        assert len(env.request("GET", f"/v1/subjects/{sid}/disclosures", env.keys["dpo"]).json()["disclosures"]) == 1
    finally:
        stop(env)


def test_an_authority_without_a_purpose_list_keeps_the_policy_it_had(tmp_path):
    """A policy written before authorities listed their purposes stays valid
    and works as it did: any purpose of the policy, on a legal reference;
    a blank reference and a withdrawn consent are still refused."""
    text = WEBSHOP.read_text()
    p = tmp_path / "p.yaml"
    p.write_text(text.replace("    purposes: [accounting, security]\n    country: EE\n", "    country: EE\n"))
    env = start(tmp_path, p)
    try:
        sid, _ = add(env, {"kind": "account", "fields": {"name": "Kalle Kask", "email": "kalle@example.ee"}})
        r = env.request("POST", "/v1/disclosures", env.keys["dpo"], json={
            "subject_id": sid, "recipient": "authorities", "purpose": "accounting", "fields": ["name"],
            "legal_reference": "Tax Act § 1"})
        assert r.status_code == 200, r.text
        r = env.request("POST", "/v1/disclosures", env.keys["dpo"], json={
            "subject_id": sid, "recipient": "authorities", "purpose": "accounting", "fields": ["name"],
            "legal_reference": " "})
        assert r.status_code == 422, r.text
    finally:
        stop(env)


def test_sweep_now_cannot_run_ahead_of_the_clock(env):
    _, (later,) = add(env, {"kind": "message", "fields": {"message": "not yet"}, "created_at": "2026-01-01"})
    _, (due,) = add(env, OLD_MESSAGE)
    entries = len(audit(env))
    r = env.privreg("sweep", "--dir", env.dir, "--now", "2040-01-01")
    assert r.returncode != 0 and "later than the clock" in r.stderr, (r.stdout, r.stderr)
    assert record(env, later).status_code == 200 and record(env, due).status_code == 200
    assert len(audit(env)) == entries
    out = env.privreg("sweep", "--dir", env.dir, "--now", "2040-01-01", "--dry-run", check=0).stdout
    assert "dry run" in out and "2 records deleted" in out, out
    assert record(env, later).status_code == 200 and len(audit(env)) == entries
    # An earlier time does less, and the log still carries the real time.
    started = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 5))
    out = env.privreg("sweep", "--dir", env.dir, "--now", "2025-01-01", check=0).stdout
    assert "1 records deleted" in out, out
    assert record(env, due).status_code == 404 and record(env, later).status_code == 200
    log = audit(env)
    gone = [e for e in log if e["action"] == "retention.delete"]
    assert len(gone) == 1 and gone[0]["at"] >= started, gone
    assert [e["at"] for e in log] == sorted(e["at"] for e in log)
    env.privreg("audit", "verify", "--dir", env.dir, check=0)


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_dry_run_counts_exactly_what_the_real_run_does(env):
    add(env, OLD_MESSAGE, OLD_ORDER)                              # both go, and the subject with them
    add(env, account("b@example.ee"), OLD_MESSAGE)                # an ip to cut; a message to delete
    add(env, account("c@example.ee", events={"closed": "2024-01-01"}))  # due for deletion and for its cut
    held, _ = add(env, account("d@example.ee"), OLD_MESSAGE, OLD_ORDER)
    h = env.request("POST", "/v1/holds", env.keys["dpo"], json={"subject_id": held, "reason": "dispute D-7"})
    assert h.status_code == 201, h.text
    restricted, _ = add(env, account("e@example.ee"), OLD_ORDER)
    request(env, restricted, "restriction")
    erased, _ = add(env, {"kind": "accounting_entry", "fields": {"name": "F", "amount": "1.00"},
                          "created_at": "2019-05-01", "events": {"fulfilled": "2019-06-01"}}, account("f@example.ee"))
    request(env, erased, "erasure")
    # Answered requests past their expiry (requests.keep: 6 months after answered).
    asker, _ = add(env, {"kind": "account", "fields": {"name": "G", "email": "g@example.ee"}})
    for _ in range(3):
        request(env, asker, "access")
    with sqlite3.connect(env.dir / "privreg.db") as c:
        c.execute("update requests set expires_at = ? where expires_at is not null", (int(time.time()) - 86400,))
        answered = c.execute("select count(*) from requests where expires_at is not null").fetchone()[0]
    assert answered == 5  # the three, the restriction and the erasure
    dry = sweep(env, dry_run=True)
    assert dry["dry_run"] is True
    real = sweep(env)
    assert {k: v for k, v in dry.items() if k != "dry_run"} == {k: v for k, v in real.items() if k != "dry_run"}
    assert real["kinds"] == {
        "message": {"deleted": 2, "anonymized": 0, "trimmed": 0, "held": 1, "restricted": 0},
        "order": {"deleted": 0, "anonymized": 1, "trimmed": 0, "held": 1, "restricted": 1},
        "account": {"deleted": 1, "anonymized": 0, "trimmed": 1, "held": 0, "restricted": 0},
        "accounting_entry": {"deleted": 1, "anonymized": 0, "trimmed": 0, "held": 0, "restricted": 0},
    }, real
    # The first subject, the closed account's and the erased one's (its kept entry was its last record).
    assert real["subjects_deleted"] == 3 and real["requests_expired"] == 5, real
    # Nothing left: a dry run now counts nothing to do, and so does the real run.
    again = sweep(env, dry_run=True)
    assert {k: v for k, v in again.items() if k != "dry_run"} == {
        k: v for k, v in sweep(env).items() if k != "dry_run"}
    assert again["subjects_deleted"] == 0 and again["requests_expired"] == 0
