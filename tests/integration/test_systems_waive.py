"""A waiver's reason is sealed (issue #13 leftovers): the DPO's reason for
not waiting for a system's acknowledgement (POST
/v1/requests/{id}/notifications/{n}/waive) may name the person ("Jaan asked
us by phone ..."), so it is kept sealed under the subject's key, as a
request's notes and a hold's reason are (test_sealed_text.py): staff read
it while the subject exists, the register's files never hold it in the
clear, and it goes with the subject's key when the subject is erased."""
import pytest

from conftest import files_contain
from test_webhooks import complete, customer, env, get, request  # noqa: F401 (env: the fixture)

REASON = "Jaan Tamm asked by phone on 2026-12-01 not to wait for the newsletter tool"
LATER = "the order database was retired on 2026-11-30 (ticket 4411)"


def waive(env, rid, n, reason):
    r = env.request("POST", f"/v1/requests/{rid}/notifications/{n}/waive", env.keys["dpo"], json={"reason": reason})
    assert r.status_code == 200, r.text
    return r.json()


def notification(got, target):
    return [n for n in got["notifications"] if n["target"] == target][0]


@pytest.mark.sqlite_only("reads the register's files")
def test_a_waiver_reason_is_sealed_and_dies_with_the_subject(env):
    sid, _ = customer(env)
    rid = request(env, sid, "restriction")             # nobody acknowledges: the sink is not started
    done = complete(env, rid)
    assert done["status"] == "awaiting_acknowledgements"
    waive(env, rid, notification(done, "newsletter")["id"], REASON)
    # The answer shows the request's texts: an access entry follows the waiver's own.
    log = env.request("GET", "/v1/audit", env.keys["dpo"], params={"subject": sid, "limit": 1000}).json()["entries"]
    actions = [e["action"] for e in log]
    assert "request.read" in actions[actions.index("request.notification_waive"):], actions

    # While the subject exists, the DPO reads the reason back ...
    got = get(env, rid)
    assert notification(got, "newsletter")["waive_reason"] == REASON
    assert notification(got, "newsletter")["status"] == "waived"
    # ... but no file of the register holds it in the clear.
    assert not files_contain(env.dir, REASON.encode())

    # Erased, the subject takes the reason along.
    r = env.request("DELETE", f"/v1/subjects/{sid}", env.keys["dpo"])
    assert r.status_code == 204, r.text
    gone = notification(get(env, rid), "newsletter")
    assert gone["status"] == "waived" and gone["waive_reason"] is None


@pytest.mark.sqlite_only("reads the register's files")
def test_a_waiver_after_the_erasure_keeps_its_reason_sealed(env):
    """An erasure's notifications are waived after the subject is gone: the
    reason is sealed under the tenant's key then, and still shown."""
    sid, _ = customer(env, "jaan@example.ee")
    rid = request(env, sid, "erasure")
    done = complete(env, rid)
    assert done["status"] == "awaiting_acknowledgements"
    for target in ("shop_db", "newsletter"):
        waive(env, rid, notification(done, target)["id"], LATER)
    got = get(env, rid)
    assert got["status"] == "completed"
    assert {n["waive_reason"] for n in got["notifications"]} == {LATER}
    assert not files_contain(env.dir, LATER.encode())
