"""The retention sweep tells the copies (issue #13 leftovers): a promise such
as "we keep order data 3 years" must hold in the systems and recipients
that hold copies too. Each batch of the sweep queues, in its own
transaction, one signed `records.expired` event per system holding a kind
of what went (and per recipient the disclosure log shows received the
subject's data), listing the records: ids, kind, deleted or anonymised,
whether the subject went with them; request_id null."""
import json
import re
import sqlite3
import time

import pytest

from conftest import WEBSHOP, Server, add_key
from test_webhooks import customer, disclose, env, wait_for  # noqa: F401 (env: the fixture)

OLD_ORDER = {"kind": "order", "fields": {"name": "Old Buyer", "delivery_address": "Vana 1, Tartu",
                                         "items": [{"sku": "KB-0"}], "amount": "9.90"}, "created_at": "2020-03-15"}
OLD_MESSAGE = {"kind": "message", "fields": {"message": "hello"}, "created_at": "2020-01-01"}


def add(env, *records):
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": list(records)})
    assert r.status_code == 201, r.text
    return r.json()["id"], [x["id"] for x in r.json()["records"]]


def expired(env):
    """The records.expired events each path acknowledged: {path: [event, ...]}."""
    got = {}
    for path, event in env.sink.acked():
        if event["type"] == "records.expired":
            got.setdefault(path, []).append(event)
    return got


def test_a_sweep_tells_each_system_once_per_batch_of_what_it_held(env, privreg):
    # A: a current account and an order past its 3 years (anonymised), and
    # the courier received A's name. B: only an old order (anonymised: B goes
    # with it). C: only an old message, which no system holds.
    a, (_, a_order) = add(env, {"kind": "account", "fields": {"email": "a@example.ee", "name": "A"}}, OLD_ORDER)
    b, (b_order,) = add(env, OLD_ORDER)
    c, (c_message,) = add(env, OLD_MESSAGE)
    disclose(env, a, fields=("name",))
    env.sink.start()
    out = privreg("sweep", "--dir", env.dir, check=0).stdout
    assert "order" in out

    # shop_db holds orders; the newsletter tool holds names, which orders
    # carry; the courier received A's data. Nobody holds messages.
    wait_for(lambda: set(expired(env)) == {"/shop-db", "/newsletter", "/courier"})
    got = expired(env)
    for path in ("/shop-db", "/newsletter"):
        (event,) = got[path]                       # one event for the whole batch
        assert event["data"]["request_id"] is None and event["data"]["kinds"] == ["order"]
        assert event["data"]["tenant"] == "default" and "subject_id" not in event["data"]
        assert sorted((r["record_id"], r["subject_id"], r["kind"], r["action"], r["subject_deleted"])
                      for r in event["data"]["records"]) == sorted([
            (a_order, a, "order", "anonymized", False), (b_order, b, "order", "anonymized", True)])
    (courier,) = got["/courier"]
    assert [(r["record_id"], r["subject_id"]) for r in courier["data"]["records"]] == [(a_order, a)]
    assert c_message not in json.dumps(got)
    with env.sink.lock:
        deliveries = [g for g in env.sink.got if json.loads(g["body"])["type"] == "records.expired"]
    assert deliveries and all(g["valid"] for g in deliveries)
    assert "Old Buyer" not in json.dumps(got) and "Vana 1" not in json.dumps(got)   # never a value


def test_one_event_per_batch_and_system(env, privreg):
    """--batch 3 over 7 due orders: three transactions, three events per system."""
    orders = [add(env, OLD_ORDER)[1][0] for _ in range(7)]
    env.sink.start()
    privreg("sweep", "--dir", env.dir, "--batch", "3", check=0)
    wait_for(lambda: len(expired(env).get("/shop-db", [])) == 3 and len(expired(env).get("/newsletter", [])) == 3)
    for path in ("/shop-db", "/newsletter"):
        sizes = sorted(len(e["data"]["records"]) for e in expired(env)[path])
        assert sizes == [1, 3, 3]
        assert sorted(r["record_id"] for e in expired(env)[path] for r in e["data"]["records"]) == sorted(orders)
    assert "/courier" not in expired(env)           # received nothing of theirs


def test_a_dry_run_tells_nobody(env, privreg):
    add(env, OLD_ORDER)
    env.sink.start()
    privreg("sweep", "--dir", env.dir, "--dry-run", check=0)
    time.sleep(2)                                   # the sender polls every second or so
    assert expired(env) == {}
    privreg("sweep", "--dir", env.dir, check=0)
    wait_for(lambda: len(expired(env).get("/shop-db", [])) == 1)


@pytest.mark.sqlite_only("reads the outbox")
def test_a_recipient_told_by_mail_gets_the_ids(tmp_path, privreg):
    """A recipient with notify: {email} that received a subject's data is
    mailed the records that went, by id; the batch commits."""
    policy = tmp_path / "shop.yaml"
    policy.write_text(WEBSHOP.read_text().replace(
        "    contract: DPA-courier\n", "    contract: DPA-courier\n    notify: { email: privacy@courier.example }\n"))
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    srv = Server(privreg, d)
    try:
        key = add_key(privreg, d, "admin")
        r = srv.request("POST", "/v1/subjects", key, json={"records": [OLD_ORDER]})
        assert r.status_code == 201, r.text
        sid, order = r.json()["id"], r.json()["records"][0]["id"]
        r = srv.request("POST", "/v1/disclosures", key, json={"subject_id": sid, "recipient": "courier",
                                                               "purpose": "contract", "fields": ["name"]})
        assert r.status_code == 200, r.text
        out = privreg("sweep", "--dir", d, check=0).stdout
        assert re.search(r"^order +deleted 0 anonymized 1 ", out, re.M), out
    finally:
        code, log = srv.stop()
    assert code == 0, log[-2000:]
    rows = sqlite3.connect(d / "privreg.db").execute(
        "SELECT kind, target, event, request_id FROM outbox WHERE target IS NOT NULL").fetchall()
    assert rows == [("recipient_notice", "courier", "records.expired", None)]
    assert order and sid
