"""What the crash, power-cut and fault tests share (test_crash.py,
test_faults.py): a server started with a failure plan in its environment, a
ledger of what the register acknowledged, and the checks that every
acknowledged write is there, no subject is half-erased, the audit chain and
the SQLite file are intact."""
import json
import os
import sqlite3
import subprocess

import requests

from conftest import PG, Server

SANITIZER = ("AddressSanitizer", "runtime error", "LeakSanitizer")
STARTED = []  # every server start() made, so that a failed test leaves none running (reap)


def reap():
    """Kills what a test left running (it stopped at a failed assertion)."""
    while STARTED:
        srv = STARTED.pop()
        if srv.proc.poll() is None:
            srv.proc.kill()
            srv.proc.wait()


def start(privreg, d, env=None, extra=()):
    """A server with `env` added to its environment; None if it refused to
    start (then it must have failed cleanly: an error, no sanitizer report)."""
    saved = {k: os.environ.get(k) for k in (env or {})}
    os.environ.update(env or {})
    try:
        srv = Server(privreg, d, list(extra))
        STARTED.append(srv)
        return srv
    except RuntimeError as e:
        assert not any(s in str(e) for s in SANITIZER), str(e)[-3000:]
        return None
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def kill(srv):
    """SIGKILL, as a crash would; returns the server's log."""
    srv.proc.kill()
    srv.proc.wait()
    srv.log.close()
    return srv.log_path.read_text()


def stop_clean(srv):
    code, log = srv.stop()
    assert code == 0, log[-3000:]
    assert not any(s in log for s in SANITIZER), log[-3000:]
    return log


def register_intact(privreg, d):
    """The audit chain verifies and SQLite finds its file sound."""
    r = privreg("audit", "verify", "--dir", d)
    assert r.returncode == 0 and "intact" in r.stdout, r.stdout + r.stderr
    if PG:
        return  # PostgreSQL checks its own pages (data checksums), not privreg
    db = sqlite3.connect(d / "privreg.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    finally:
        db.close()


def clean_error(r):
    """A failure the client can rely on: a 5xx with the JSON error body."""
    assert r.status_code >= 500, (r.status_code, r.text)
    body = r.json()
    assert set(body) == {"error"} and body["error"]["code"] and body["error"]["message"], r.text


class Ledger:
    """What the register said yes to (acknowledged) and what it may have done
    without saying so (attempted: the answer was lost to a kill or failure)."""

    def __init__(self):
        self.subjects = {}      # email -> {"id", "records": [ids], "erased": bool, "consent": bool}
        self.attempted = {}     # email -> set of operations tried without an answer
        self.imports = []       # (emails, acknowledged)

    def maybe(self, email, op):
        self.attempted.setdefault(email, set()).add(op)


def read(srv, method, path, key, tries=40, **kw):
    """A read retried through injected faults (5xx): the answer once there is one."""
    for _ in range(tries):
        r = srv.request(method, path, key, **kw)
        if r.status_code < 500:
            return r
        clean_error(r)
    raise AssertionError(f"{method} {path} kept failing: {r.status_code} {r.text}")


def subject_state(srv, key, email):
    """(id or None, record ids) of the subject with this e-mail."""
    r = read(srv, "GET", "/v1/subjects", key, params={"email": email})
    assert r.status_code == 200, r.text
    found = r.json()["subjects"]
    assert len(found) <= 1, found
    if not found:
        return None, []
    sid = found[0]["id"] if isinstance(found[0], dict) else found[0]
    s = read(srv, "GET", f"/v1/subjects/{sid}", key)
    if s.status_code in (404, 410):
        return None, []
    assert s.status_code == 200, s.text
    return sid, [x["id"] for x in s.json()["records"]]


def check_ledger(srv, key, ledger, only=None):
    """Every acknowledged write reads back; an erased subject has no records,
    no lookup and no key; a live one reads fully. `only`: the subjects whose
    e-mail starts with it (the last round's), to keep each round short."""
    for email, s in ledger.subjects.items():
        if only and not email.startswith(only):
            continue
        sid, recs = subject_state(srv, key, email)
        tried = ledger.attempted.get(email, set())
        if s["erased"]:
            assert sid is None and not recs, (email, sid, recs)
            r = read(srv, "GET", f"/v1/subjects/{s['id']}", key)
            assert r.status_code in (404, 410), r.text
            for rid in s["records"]:
                assert read(srv, "GET", f"/v1/records/{rid}", key).status_code in (404, 410)
            continue
        if sid is None:
            # Only an erasure whose answer was lost may have taken it.
            assert "erase" in tried, (email, s)
            s["erased"] = True
            continue
        assert sid == s["id"], (email, sid, s["id"])
        assert set(s["records"]) <= set(recs), (email, s["records"], recs)
        # A record beyond the acknowledged ones only from a write whose answer was lost.
        assert len(recs) - len(s["records"]) <= (1 if "record" in tried else 0), (email, recs, s)
        for rid in recs:
            r = read(srv, "GET", f"/v1/records/{rid}", key)
            assert r.status_code == 200 and r.json()["fields"], r.text
        if s["consent"]:
            c = read(srv, "GET", f"/v1/subjects/{sid}/consents", key)
            assert c.status_code == 200, c.text
            assert "direct_marketing" in json.dumps(c.json()), c.text
    for emails, acknowledged in ledger.imports[-1:] if only else ledger.imports:
        present = [subject_state(srv, key, e)[0] is not None for e in emails]
        if acknowledged:
            erased = [ledger.subjects.get(e, {}).get("erased") for e in emails]
            assert all(p or x for p, x in zip(present, erased)), (emails, present)
        else:
            assert all(present) or not any(present), (emails, present)  # all or nothing


def account(email, n=0):
    return {"kind": "account", "fields": {"email": email, "name": f"Mari Tamm {n}", "username": f"u{n}"}}


def order(n=0):
    return {"kind": "order", "fields": {"name": f"Mari Tamm {n}", "delivery_address": "Pikk 1, Tallinn",
                                        "items": [n], "amount": "10.00", "payment_ref": f"P-{n}"}}


def write_import(path, emails):
    with open(path, "w") as f:
        for i, e in enumerate(emails):
            f.write(json.dumps({"fields": {"email": e, "name": f"Imported {i}", "username": f"imp{i}"}}) + "\n")


def cli(privreg, *args, timeout=120):
    return subprocess.run([privreg.binary, *map(str, args)], capture_output=True, text=True, timeout=timeout)


def post(srv, path, key, body):
    """POST; None when the connection died with the server."""
    try:
        return srv.request("POST", path, key, json=body)
    except requests.RequestException:
        return None
