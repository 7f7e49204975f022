"""Operator duties for a register of many controllers: the 7-day target is
watched (`privreg requests due`), a tenant's archive (`privreg tenant
export`), its deletion (`privreg tenant delete`), the processor's record of
processing (GET /v1/ropa?view=processor), and each controller's own sender."""
import csv
import datetime
import hashlib
import json
import pathlib

import pytest

from conftest import POLICIES, WEBSHOP, Privreg, Server, _bin, add_key

BACKOFFICE = POLICIES / "backoffice.yaml"


def day(delta):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.fixture
def office(tmp_path):
    """A register under the backoffice policy (requests.target: 7 days)."""
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", BACKOFFICE, check=0)
    srv = Server(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "support"]}
    yield srv
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def new_request(srv, sid, type_, received):
    r = srv.request("POST", "/v1/requests", srv.keys["support"],
                    json={"type": type_, "subject_id": sid, "verified_by": "ID card", "received_at": received})
    assert r.status_code == 201, r.text
    return r.json()


def test_requests_due_watches_the_internal_target(office):
    r = office.request("POST", "/v1/subjects", office.keys["admin"],
                       json={"records": [{"kind": "inquiry", "fields": {"message": "hi", "email": "t@example.ee"}}]})
    sid = r.json()["id"]
    fresh = new_request(office, sid, "access", day(-1))       # target in 6 days, deadline in ~30
    missed = new_request(office, sid, "erasure", day(-10))    # target passed, deadline in ~20
    late = new_request(office, sid, "rectification", day(-40))  # deadline passed
    far = new_request(office, sid, "restriction", day(0))      # target in 7 days: outside 3
    out = office.privreg("requests", "due", "--days", "6", "--dir", office.dir, check=1)
    lines = {line.split()[0]: line for line in out.stdout.splitlines()}
    assert set(lines) == {fresh["id"], missed["id"], late["id"], far["id"]} - {far["id"]}, out.stdout
    assert "TARGET" in lines[fresh["id"]] and "target " + fresh["target_at"][:10] in lines[fresh["id"]]
    assert "deadline " + fresh["due_at"][:10] in lines[fresh["id"]]
    assert "TARGET-MISSED" in lines[missed["id"]]
    assert "LATE" in lines[late["id"]]
    assert "4 open requests" not in out.stderr and "3 open requests" in out.stderr
    assert "1 late" in out.stderr and "1 past their target" in out.stderr
    # JSON says the same, for a script.
    js = json.loads(office.privreg("requests", "due", "--days", "6", "--json", "--dir", office.dir, check=1).stdout)
    by_id = {x["id"]: x for x in js["requests"]}
    assert set(by_id) == set(lines)
    assert by_id[fresh["id"]]["why"] == "target" and by_id[missed["id"]]["why"] == "target_missed"
    assert by_id[late["id"]]["why"] == "late" and by_id[late["id"]]["due_at"] == late["due_at"]
    assert by_id[fresh["id"]]["target_at"] == fresh["target_at"]
