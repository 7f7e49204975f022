"""The retention sweep against a real register: due days, anonymisation,
holds, dry runs, crash safety, IP truncation and request expiry."""
import calendar
import json
import os
import re
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, db_rows

B32 = "0123456789abcdefghjkmnpqrstvwxyz"


def token(prefix, blob):
    n = int.from_bytes(blob, "big")  # a ULID: 2 zero bits, then the 128, in 26 characters
    return prefix + "".join(B32[(n >> (5 * (25 - i))) & 31] for i in range(26))


@pytest.fixture
def env(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support", "auditor"]}
    srv.privreg, srv.dir = privreg, d
    yield srv
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def db(env):
    return sqlite3.connect(env.dir / "privreg.db")


def add(env, *records):
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": list(records)})
    assert r.status_code == 201, r.text
    return r.json()["id"], [x["id"] for x in r.json()["records"]]


def sweep(env, now, *extra):
    """privreg sweep --now NOW; the kinds it did anything to, with their counts."""
    out = env.privreg("sweep", "--dir", env.dir, "--now", now, *extra, check=0).stdout
    counts = {}
    for m in re.finditer(r"^(\S+) +deleted (\d+) anonymized (\d+) trimmed (\d+) held (\d+) restricted \d+$", out, re.M):
        c = dict(zip(["deleted", "anonymized", "trimmed", "held"], map(int, m.groups()[1:])))
        if any(c.values()):
            counts[m.group(1)] = c
    return counts


def record(env, rid):
    return env.request("GET", f"/v1/records/{rid}", env.keys["admin"])


ORDER = {"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1", "items": [{"sku": "A1"}],
                                     "amount": "49.90", "payment_ref": "P-9"}, "created_at": "2020-03-15"}


# (record, the last second it is kept, what then happens to it)
FORMS = [
    pytest.param(ORDER, "2023-03-14T23:59:59Z", "anonymized", id="3 years after created"),
    pytest.param({"kind": "accounting_entry", "fields": {"name": "Mari Tamm", "amount": "49.90"},
                  "created_at": "2016-02-29", "events": {"fulfilled": "2016-02-29"}},
                 "2023-02-27T23:59:59Z", "deleted", id="7 years after fulfilled, from a leap day"),
    pytest.param({"kind": "complaint", "fields": {"message": "late"}, "created_at": "2019-01-01",
                  "events": {"resolved": "2020-01-31"}}, "2023-01-30T23:59:59Z", "deleted",
                 id="3 years after resolved"),
    pytest.param({"kind": "account", "fields": {"name": "Mari Tamm", "email": "mari@example.ee"},
                  "created_at": "2019-01-01", "events": {"closed": "2023-06-30T12:00:00Z"}},
                 "2023-06-30T11:59:59Z", "deleted", id="while active"),
]


@pytest.mark.parametrize("rec,last,action", FORMS)
def test_due_exactly_on_its_day(env, rec, last, action):
    keeper = {"kind": "account", "fields": {"email": "k1@example.ee", "name": "Mari Tamm"}}  # not closed: never due
    sid, (rid, aid) = add(env, rec, keeper)
    before = record(env, rid).json()
    assert sweep(env, last) == {}
    assert record(env, rid).json() == before
    t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(calendar.timegm(time.strptime(last, "%Y-%m-%dT%H:%M:%SZ")) + 1))
    counts = sweep(env, t)
    assert counts[rec["kind"]][action] == 1, counts
    assert record(env, rid).status_code == 404
    assert record(env, aid).status_code == 200  # an open account is never due
    audit = env.request("GET", "/v1/audit", env.keys["auditor"], params={"subject": sid}).json()["entries"]
    verb = {"deleted": "retention.delete", "anonymized": "retention.anonymize"}[action]
    assert [e["record_id"] for e in audit if e["action"].startswith("retention.")] == [rid]
    assert [e["action"] for e in audit if e["record_id"] == rid][-1] == verb


def test_while_active_plus_grace(tmp_path, privreg):
    policy = WEBSHOP.read_text().replace("keep: while active", "keep: while active + 30 days")
    assert "while active + 30 days" in policy
    p = tmp_path / "p.yaml"
    p.write_text(policy)
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", p, check=0)
    lines = tmp_path / "a.jsonl"
    lines.write_text(json.dumps({"fields": {"name": "A", "email": "a@example.ee"}, "events": {"closed": "2024-01-31"}}) + "\n")
    privreg("import", "account", lines, "--dir", d, check=0)
    assert "0 records deleted" in privreg("sweep", "--dir", d, "--now", "2024-02-29T23:59:59Z", check=0).stdout
    out = privreg("sweep", "--dir", d, "--now", "2024-03-01", check=0).stdout
    assert "1 records deleted" in out and "1 subjects" in out, out
    assert db_rows(d, "select count(*) from subjects")[0][0] == 0


def test_event_not_happened_is_not_due(env):
    _, (rid,) = add(env, {"kind": "complaint", "fields": {"message": "x"}, "created_at": "2001-01-01"})
    assert sweep(env, "2099-01-01", "--dry-run") == {}  # a later time: only as a dry run
    assert record(env, rid).status_code == 200
    # Given its event later, it becomes due from that date.
    r = env.request("PATCH", f"/v1/records/{rid}", env.keys["admin"], json={"events": {"resolved": "2002-05-01"}})
    assert r.status_code == 200, r.text
    assert sweep(env, "2005-04-30T23:59:59Z") == {}
    assert sweep(env, "2005-05-01")["complaint"]["deleted"] == 1


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_anonymized_record_keeps_only_keep_fields_and_leaves_its_subject(env):
    sid, (oid, aid) = add(env, ORDER, {"kind": "account", "fields": {"name": "Mari Tamm", "email": "m@example.ee"}})
    sweep(env, "2023-03-15")
    with db(env) as c:
        rows = c.execute("select record_id, subject_id, state from records where kind = 'order'").fetchall()
        assert len(rows) == 1 and rows[0][2] == "anonymized"
        new_rid, new_sid = token("rec_", rows[0][0]), token("sub_", rows[0][1])
        assert new_sid != sid and new_rid != oid
        assert c.execute("select count(*) from lookups l join records r on r.tenant_id = l.tenant_id "
                         "and r.record_id = l.record_id where r.subject_id = ?", (rows[0][1],)).fetchone()[0] == 0
    r = record(env, new_rid)
    assert r.status_code == 200, r.text
    assert r.json()["fields"] == {"items": [{"sku": "A1"}], "amount": "49.90"}
    assert r.json()["state"] == "anonymized"
    # Nothing leads from the person to it, and erasing the person leaves it.
    found = env.request("GET", "/v1/subjects", env.keys["admin"], params={"email": "m@example.ee"}).json()
    assert [s["id"] for s in found["subjects"]] == [sid]
    assert env.request("DELETE", f"/v1/subjects/{sid}", env.keys["admin"]).status_code in (200, 204)
    assert record(env, new_rid).json()["fields"]["amount"] == "49.90"


def test_subject_with_no_records_left_is_deleted(env):
    sid, _ = add(env, {"kind": "message", "fields": {"message": "hi"}, "created_at": "2020-01-01"})
    sid2, _ = add(env, {"kind": "message", "fields": {"message": "hi"}, "created_at": "2020-01-01"},
                  {"kind": "account", "fields": {"email": "k2@example.ee", "name": "Kept"}})
    r = env.request("POST", "/v1/retention/sweep", env.keys["dpo"])
    assert r.status_code == 200, r.text
    assert r.json()["kinds"]["message"]["deleted"] == 2 and r.json()["subjects_deleted"] == 1
    assert env.request("GET", f"/v1/subjects/{sid}", env.keys["admin"]).status_code == 404
    assert env.request("GET", f"/v1/subjects/{sid2}", env.keys["admin"]).status_code == 200


def test_holds_stop_the_sweep_and_overdue_lists_them(env):
    sid, (rid,) = add(env, {"kind": "message", "fields": {"message": "evidence"}, "created_at": "2020-01-01"})
    h = env.request("POST", "/v1/holds", env.keys["dpo"], json={"subject_id": sid, "reason": "dispute D-7"}).json()
    r = env.request("POST", "/v1/retention/sweep", env.keys["admin"], json={})
    assert r.json()["kinds"]["message"] == {"deleted": 0, "anonymized": 0, "trimmed": 0, "held": 1, "restricted": 0}
    assert record(env, rid).status_code == 200
    over = env.request("GET", "/v1/retention/overdue", env.keys["auditor"]).json()["overdue"]
    assert [(o["record_id"], o["held_by"], o["due_at"]) for o in over] == [(rid, h["id"], "2023-01-01T00:00:00Z")]
    fc = env.request("GET", "/v1/retention/forecast", env.keys["auditor"], params={"months": 24}).json()
    assert fc["overdue"] == 1
    assert env.request("DELETE", f"/v1/holds/{h['id']}", env.keys["dpo"]).status_code == 204
    r = env.request("POST", "/v1/retention/sweep", env.keys["admin"])
    assert r.json()["kinds"]["message"]["deleted"] == 1
    assert env.request("GET", "/v1/retention/overdue", env.keys["auditor"]).json()["overdue"] == []


def test_forecast_counts_by_month_and_kind(env):
    now = time.gmtime()
    in_two = f"{now.tm_year - 3 + (now.tm_mon + 2 > 12)}-{(now.tm_mon + 1) % 12 + 1:02d}-10"
    for _ in range(3):
        add(env, {"kind": "message", "fields": {"message": "x"}, "created_at": in_two})
    add(env, dict(ORDER, created_at=in_two))
    fc = env.request("GET", "/v1/retention/forecast", env.keys["dpo"], params={"months": 6}).json()
    month = in_two[:7].replace(in_two[:4], str(int(in_two[:4]) + 3))
    assert {(f["month"], f["kind"], f["action"], f["count"]) for f in fc["forecast"]} == {
        (month, "message", "delete", 3), (month, "order", "anonymize", 1)}
    for bad in ["0", "121", "x"]:
        assert env.request("GET", "/v1/retention/forecast", env.keys["dpo"], params={"months": bad}).status_code == 422


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_dry_run_changes_nothing(env):
    add(env, ORDER, {"kind": "message", "fields": {"message": "x"}, "created_at": "2020-01-01"})
    before = (env.dir / "privreg.db").read_bytes()
    with db(env) as c:
        counts = c.execute("select (select count(*) from records), (select count(*) from audit)").fetchone()
    out = env.privreg("sweep", "--dir", env.dir, "--dry-run", check=0).stdout
    assert "dry run" in out and "1 records deleted, 1 anonymized" in out, out
    r = env.request("POST", "/v1/retention/sweep", env.keys["admin"], json={"dry_run": True})
    assert r.json()["dry_run"] is True and r.json()["kinds"]["order"]["anonymized"] == 1
    with db(env) as c:
        assert c.execute("select (select count(*) from records), (select count(*) from audit)").fetchone() == counts
    assert before  # the file itself may be checkpointed; the rows are what counts
    assert env.request("POST", "/v1/retention/sweep", env.keys["admin"], json={"dry_run": 1}).status_code == 422
    assert env.request("POST", "/v1/retention/sweep", env.keys["admin"], json={"x": 1}).status_code == 422
    assert env.request("POST", "/v1/retention/sweep", env.keys["support"]).status_code == 403


def test_ip_is_truncated_after_its_time(env):
    sid, (aid,) = add(env, {"kind": "account", "fields": {"email": "k3@example.ee", "name": "A", "ip": "203.0.113.77"},
                            "created_at": "2024-01-01"})
    _, (bid,) = add(env, {"kind": "account", "fields": {"email": "k4@example.ee", "name": "B", "ip": "2001:db8:abcd:12::1"},
                          "created_at": "2024-01-01"})
    assert sweep(env, "2024-01-30T23:59:59Z") == {}
    assert record(env, aid).json()["fields"]["ip"] == "203.0.113.77"
    counts = sweep(env, "2024-01-31")
    assert counts["account"]["trimmed"] == 2
    assert record(env, aid).json()["fields"] == {"email": "k3@example.ee", "name": "A", "ip": "203.0.113.0"}
    assert record(env, bid).json()["fields"]["ip"] == "2001:db8:abcd::"
    assert sweep(env, "2024-02-01") == {}  # done once


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_answered_requests_expire_per_requests_keep(env):
    sid, _ = add(env, {"kind": "account", "fields": {"name": "A", "email": "a@example.ee"}})
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": "access", "subject_id": sid, "verified_by": "ID card"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    open_ = env.request("POST", "/v1/requests", env.keys["support"],
                        json={"type": "access", "subject_id": sid, "verified_by": "ID card"}).json()["id"]
    assert env.request("POST", f"/v1/requests/{rid}/complete", env.keys["dpo"], json={}).status_code == 200
    answered = env.request("GET", f"/v1/requests/{rid}", env.keys["dpo"]).json()["answered_at"]
    y, m = int(answered[:4]), int(answered[5:7])
    m += 6
    y, m = y + (m - 1) // 12, (m - 1) % 12 + 1
    kept_until = f"{y}-{m:02d}-{answered[8:10]}T{answered[11:19]}Z"
    # That time is ahead of the clock: a dry run shows when it goes, ...
    last = time.strftime("%Y-%m-%dT%H:%M:%SZ",
                         time.gmtime(calendar.timegm(time.strptime(kept_until, "%Y-%m-%dT%H:%M:%SZ")) - 1))
    out = env.privreg("sweep", "--dir", env.dir, "--now", last, "--dry-run", check=0).stdout
    assert "0 requests deleted" in out, out
    out = env.privreg("sweep", "--dir", env.dir, "--now", kept_until, "--dry-run", check=0).stdout
    assert "1 requests deleted" in out, out
    # ... and once that time has come (moved back here), the sweep deletes it.
    with db(env) as c:
        c.execute("update requests set expires_at = expires_at - 200 * 86400 where expires_at is not null")
    out = env.privreg("sweep", "--dir", env.dir, check=0).stdout
    assert "1 requests deleted" in out, out
    assert env.request("GET", f"/v1/requests/{rid}", env.keys["dpo"]).status_code == 404
    assert env.request("GET", f"/v1/requests/{open_}", env.keys["dpo"]).status_code == 200  # open: kept


def test_erasure_keeps_the_due_date_of_what_it_keeps(env):
    sid, (acc, _) = add(env, {"kind": "accounting_entry", "fields": {"name": "A", "amount": "1.00"},
                            "events": {"fulfilled": "2019-05-01"}}, {"kind": "message", "fields": {"message": "m"}})
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": "erasure", "subject_id": sid, "verified_by": "ID card"})
    assert r.status_code == 201, r.text
    r = env.request("POST", f"/v1/requests/{r.json()['id']}/complete", env.keys["dpo"], json={})
    assert r.status_code == 200, r.text
    assert record(env, acc).status_code == 200  # erasable: false
    out = env.privreg("sweep", "--dir", env.dir, "--now", "2026-05-01", check=0).stdout
    assert "1 records deleted" in out and "1 subjects" in out, out
    assert record(env, acc).status_code == 404


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_killed_sweep_leaves_consistent_data_and_a_rerun_finishes(tmp_path, privreg):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    n = 4000
    lines = tmp_path / "m.jsonl"
    lines.write_text("".join(json.dumps({"fields": {"message": f"m{i}"}, "created_at": "2020-01-01"}) + "\n"
                             for i in range(n)))
    privreg("import", "message", lines, "--dir", d, check=0)
    proc = subprocess.Popen([privreg.binary, "sweep", "--dir", str(d), "--batch", "1"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    c = sqlite3.connect(d / "privreg.db")
    deadline = time.monotonic() + 60
    while c.execute("select count(*) from records").fetchone()[0] > n - 50 and time.monotonic() < deadline:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    left = c.execute("select count(*) from records").fetchone()[0]
    assert 0 < left <= n, "the sweep should have been stopped midway"
    # Every record is before or after its change: a subject goes with its record.
    assert c.execute("select count(*) from subjects").fetchone()[0] == left
    assert c.execute("pragma integrity_check").fetchone()[0] == "ok"
    c.close()
    privreg("audit", "verify", "--dir", d, check=0)
    out = privreg("sweep", "--dir", d, check=0).stdout
    assert f"{left} records deleted" in out, out
    c = sqlite3.connect(d / "privreg.db")
    assert c.execute("select count(*) from records").fetchone()[0] == 0
    assert c.execute("select count(*) from subjects").fetchone()[0] == 0
    assert c.execute("select count(*) from audit where action = 'retention.delete'").fetchone()[0] == n
    privreg("audit", "verify", "--dir", d, check=0)


def test_progress_bar_on_a_terminal(tmp_path, privreg):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    lines = tmp_path / "m.jsonl"
    lines.write_text("".join(json.dumps({"fields": {"message": "m"}, "created_at": "2020-01-01"}) + "\n"
                             for _ in range(30)))
    privreg("import", "message", lines, "--dir", d, check=0)
    import pty
    pid, fd = pty.fork()
    if pid == 0:
        os.execv(privreg.binary, [privreg.binary, "sweep", "--dir", str(d), "--batch", "10"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode()
    assert "30/30 records" in text and "ETA" in text and "/s" in text, text
    assert "30 records deleted" in text


def test_new_policy_version_moves_due_times(tmp_path, privreg):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    lines = tmp_path / "m.jsonl"
    lines.write_text(json.dumps({"fields": {"message": "m"}, "created_at": "2024-01-01"}) + "\n")
    privreg("import", "message", lines, "--dir", d, check=0)
    assert "0 records deleted" in privreg("sweep", "--dir", d, "--now", "2026-01-01", check=0).stdout
    text = WEBSHOP.read_text()
    shorter = re.sub(r"(  message:\n(?:    .*\n)*?    keep: )3 years after created", r"\g<1>1 year after created", text)
    assert shorter != text
    shorter = re.sub(r"^version: .*$", "version: shorter-messages", shorter, count=1, flags=re.M)
    p = tmp_path / "p.yaml"
    p.write_text(shorter)
    privreg("tenant", "policy", "default", p, "--dir", d, check=0)
    assert "0 records deleted" in privreg("sweep", "--dir", d, "--now", "2024-12-31T23:59:59Z", check=0).stdout
    assert "1 records deleted" in privreg("sweep", "--dir", d, "--now", "2025-01-01", check=0).stdout
    assert privreg("sweep", "--dir", d, "--recompute", "--dry-run").returncode == 2


def test_server_sweeps_on_its_schedule(tmp_path, privreg):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d, ["--sweep-every", "1s"])
    try:
        key = add_key(privreg, d, "admin")
        r = srv.request("POST", "/v1/subjects", key, json={"records": [
            {"kind": "message", "fields": {"message": "old"}, "created_at": "2020-01-01"}]})
        rid = r.json()["records"][0]["id"]
        deadline = time.monotonic() + 15
        while srv.request("GET", f"/v1/records/{rid}", key).status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert srv.request("GET", f"/v1/records/{rid}", key).status_code == 404
    finally:
        code, log = srv.stop()
    assert code == 0 and "sweep: records=1 subjects=1" in log, log[-2000:]
    assert privreg("serve", "--dir", d, "--sweep-every", "5x").returncode == 2
