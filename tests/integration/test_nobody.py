"""Requests about nobody (issue #13, item 4): a request from a person the
register does not hold is logged (with "log_if_unknown": true) instead of a
404, with the same deadline as any other; it shows in the lists and in
`privreg requests due`; completing it, whatever its type, mails "we hold no
personal data about you" in the language given; the requester's address is
never on disk in plaintext, and goes with the request (requests.keep)."""
import sqlite3

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, files_contain
from test_consent import Inbox, free_port

ADDRESS = "unmistakable-nobody@example.ee"


@pytest.fixture
def env(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    port = free_port()
    inbox = Inbox(port).start()
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}"])
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support"]}
    srv.inbox = inbox
    srv.privreg = privreg
    yield srv
    code, log = srv.stop()
    inbox.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def test_unknown_without_the_flag_is_still_a_404(env):
    r = env.request("POST", "/v1/requests", env.keys["support"], json={"type": "access", "email": ADDRESS})
    assert r.status_code == 404, r.text


@pytest.mark.sqlite_only('reads the SQLite file (sqlite3 module)')
def test_a_request_about_nobody_is_logged_listed_and_answered(env):
    r = env.request("POST", "/v1/requests", env.keys["support"],
                    json={"type": "access", "email": ADDRESS.replace("example.ee", "EXAMPLE.ee"), "log_if_unknown": True, "language": "et",
                          "channel": "email", "details": {"note": "asked by e-mail"}})
    assert r.status_code == 201, r.text
    req = r.json()
    assert req["about_nobody"] is True and req["subject_id"] is None
    assert req["status"] == "in_progress" and req["due_at"]
    listed = env.request("GET", "/v1/requests", env.keys["dpo"]).json()["requests"]
    assert [x["id"] for x in listed] == [req["id"]]
    out = env.privreg("requests", "due", "--days", "40", "--dir", env.dir, check=0).stdout
    assert req["id"] in out
    assert not files_contain(env.dir, ADDRESS.encode()) and not files_contain(env.dir, b"asked by e-mail")
    assert env.request("GET", f"/v1/requests/{req['id']}/export", env.keys["dpo"]).status_code == 409

    done = env.request("POST", f"/v1/requests/{req['id']}/complete", env.keys["dpo"], json={})
    assert done.status_code == 200, done.text
    assert done.json()["status"] == "completed" and "export_url" not in done.json()
    assert done.json()["outcome"].startswith("nothing held")
    msgs = env.inbox.wait(1)
    assert len(msgs) == 1
    assert ADDRESS in msgs[0]["To"]
    assert "meil ei ole Teie kohta isikuandmeid" in msgs[0].get_body(preferencelist=("plain",)).get_content()
    # Audit entries name the request, and no subject.
    log = env.request("GET", "/v1/audit", env.keys["admin"]).json()["entries"]
    mine = [e for e in log if req["id"] in (e.get("detail") or "")]
    assert mine and all(not e.get("subject_id") for e in mine)

    # The request goes per requests.keep (6 months after answered), and its requester with it.
    with sqlite3.connect(env.dir / "privreg.db") as c:
        assert c.execute("select count(*) from request_requesters").fetchone()[0] == 1
        c.execute("update requests set expires_at = expires_at - 200 * 86400 where expires_at is not null")
    out = env.privreg("sweep", "--dir", env.dir, check=0).stdout
    assert "1 requests deleted" in out, out
    with sqlite3.connect(env.dir / "privreg.db") as c:
        assert c.execute("select count(*) from request_requesters").fetchone()[0] == 0


def test_refusals(env):
    base = {"type": "erasure", "email": ADDRESS, "log_if_unknown": True}
    r = env.request("POST", "/v1/requests", env.keys["support"], json={**base, "language": "xx"})
    assert r.status_code == 422, r.text
    r = env.request("POST", "/v1/requests", env.keys["support"], json={**base, "email": "not an address"})
    assert r.status_code == 422, r.text
    # A refusal of a request about nobody reaches the requester too.
    r = env.request("POST", "/v1/requests", env.keys["support"], json=base)
    assert r.status_code == 201, r.text
    ref = env.request("POST", f"/v1/requests/{r.json()['id']}/refuse", env.keys["dpo"], json={"reason": "unfounded"})
    assert ref.status_code == 200, ref.text
    msgs = env.inbox.wait(1)
    assert len(msgs) == 1 and ADDRESS in msgs[0]["To"]
