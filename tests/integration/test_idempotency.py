"""Idempotent writes (issue #13, item 2): a write sent again with the same
Idempotency-Key gets the first answer, byte for byte, and changes nothing;
the same key with another body is a 422; a key is the API key's own; a
concurrent retry waits for the first and gets its answer."""
import threading

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, files_contain


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("idem") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    s = Server(privreg, d, ["--threads", "4"])
    s.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support"]}
    yield s
    code, log = s.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def body(email):
    return {"records": [{"kind": "account", "fields": {"email": email, "name": "Mari Tamm"}}]}


def create(srv, email, key, who="admin"):
    return srv.request("POST", "/v1/subjects", srv.keys[who], json=body(email), headers={"Idempotency-Key": key})


def found(srv, email):
    r = srv.request("GET", "/v1/subjects", srv.keys["admin"], params={"email": email})
    assert r.status_code == 200, r.text
    return [s["id"] for s in r.json()["subjects"]]


def test_retry_gets_the_first_answer_and_creates_one_subject(srv):
    first = create(srv, "retry@example.ee", "order-1001")
    assert first.status_code == 201, first.text
    assert "Idempotent-Replayed" not in first.headers
    again = create(srv, "retry@example.ee", "order-1001")
    assert again.status_code == 201
    assert again.content == first.content
    assert again.headers["Content-Type"] == first.headers["Content-Type"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert found(srv, "retry@example.ee") == [first.json()["id"]]
    # Without a key, a second POST is a second subject, as before.
    plain = srv.request("POST", "/v1/subjects", srv.keys["admin"], json=body("retry@example.ee"))
    assert plain.status_code == 201
    assert len(found(srv, "retry@example.ee")) == 2


def test_same_key_other_body_is_refused(srv):
    assert create(srv, "one@example.ee", "k-2").status_code == 201
    r = create(srv, "two@example.ee", "k-2")
    assert r.status_code == 422, r.text
    assert "Idempotency-Key" in r.json()["error"]["message"]
    assert found(srv, "two@example.ee") == []
    # Same body, other path: refused too.
    r = srv.request("POST", "/v1/requests", srv.keys["admin"], json=body("one@example.ee"),
                    headers={"Idempotency-Key": "k-2"})
    assert r.status_code == 422


def test_key_bounds(srv):
    for bad in ["", "x" * 256, "with space", "tab\there", "ümlaut"]:
        r = srv.request("POST", "/v1/subjects", srv.keys["admin"], json=body("bounds@example.ee"),
                        headers={"Idempotency-Key": bad.encode()})
        assert r.status_code == 422, (bad, r.text)
    assert found(srv, "bounds@example.ee") == []
    assert create(srv, "bounds@example.ee", "x" * 255).status_code == 201


def test_a_key_is_the_api_keys_own(srv):
    a = create(srv, "scoped@example.ee", "shared-key", "admin")
    b = create(srv, "scoped@example.ee", "shared-key", "dpo")
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


def test_error_answers_are_kept_and_5xx_are_not(srv):
    bad = {"records": [{"kind": "account", "fields": {"email": "not-an-email"}}]}
    r1 = srv.request("POST", "/v1/subjects", srv.keys["admin"], json=bad, headers={"Idempotency-Key": "bad-1"})
    r2 = srv.request("POST", "/v1/subjects", srv.keys["admin"], json=bad, headers={"Idempotency-Key": "bad-1"})
    assert r1.status_code == r2.status_code == 422
    assert r1.content == r2.content
    assert r2.headers["Idempotent-Replayed"] == "true"


def test_concurrent_retries_create_one_subject(srv):
    results = []

    def go():
        results.append(create(srv, "race@example.ee", "race-key"))

    threads = [threading.Thread(target=go) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in results] == [201] * 6
    assert len({r.content for r in results}) == 1
    assert len(found(srv, "race@example.ee")) == 1


def test_patch_answer_is_kept_sealed_and_goes_with_an_erasure(srv):
    r = create(srv, "patch@example.ee", "p-0")
    sid, rid = r.json()["id"], r.json()["records"][0]["id"]
    patch = {"fields": {"name": "Unmistakable Kask"}}
    p1 = srv.request("PATCH", f"/v1/records/{rid}", srv.keys["admin"], json=patch, headers={"Idempotency-Key": "p-1"})
    assert p1.status_code == 200, p1.text
    # The kept answer holds the new name: never in plaintext on disk.
    assert not files_contain(srv.dir, b"Unmistakable Kask")
    p2 = srv.request("PATCH", f"/v1/records/{rid}", srv.keys["admin"], json=patch, headers={"Idempotency-Key": "p-1"})
    assert p2.content == p1.content and p2.headers["Idempotent-Replayed"] == "true"
    assert srv.request("DELETE", f"/v1/subjects/{sid}", srv.keys["admin"]).status_code == 204
    # The subject is gone, and so is the kept answer: the retry is done again, and finds nothing.
    p3 = srv.request("PATCH", f"/v1/records/{rid}", srv.keys["admin"], json=patch, headers={"Idempotency-Key": "p-1"})
    assert p3.status_code == 404, p3.text


def test_keyed_writes_that_do_much(srv):
    """An erasure (which checkpoints after its commit) and a sweep run inside
    the one transaction a key gives them, and answer as without one."""
    sid = create(srv, "erase@example.ee", "e-0").json()["id"]
    r = srv.request("POST", "/v1/requests", srv.keys["admin"],
                    json={"type": "erasure", "subject_id": sid, "verified_by": "passport"},
                    headers={"Idempotency-Key": "e-1"})
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    c1 = srv.request("POST", f"/v1/requests/{rid}/complete", srv.keys["dpo"], json={},
                     headers={"Idempotency-Key": "e-2"})
    assert c1.status_code == 200, c1.text
    c2 = srv.request("POST", f"/v1/requests/{rid}/complete", srv.keys["dpo"], json={},
                     headers={"Idempotency-Key": "e-2"})
    assert c2.content == c1.content and c2.headers["Idempotent-Replayed"] == "true"
    assert srv.request("GET", f"/v1/subjects/{sid}", srv.keys["admin"]).status_code == 404
    s1 = srv.request("POST", "/v1/retention/sweep", srv.keys["admin"], json={"dry_run": True},
                     headers={"Idempotency-Key": "s-1"})
    assert s1.status_code == 200, s1.text
