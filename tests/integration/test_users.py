"""Staff members' personal accounts (issue #14, part 2) over the API, without
a browser: enrolment from the printed link, sign-in with password and TOTP
(computed here with hmac/hashlib, RFC 6238), the session cookie's flags,
CSRF, the per-account limit on failed sign-ins, idle expiry, disabling, and
the audit log naming the person. tests/integration/test_console.py drives
the same through the pages."""
import base64
import hashlib
import hmac
import re
import struct
import time

import pytest
import requests

from conftest import WEBSHOP, Privreg, Server, _bin, add_key, db_exec, db_rows


def totp(secret_b32, at=None, step_offset=0):
    key = base64.b32decode(secret_b32.replace(" ", ""))
    counter = int((time.time() if at is None else at) // 30) + step_offset
    mac = hmac.new(key, struct.pack(">Q", counter), hashlib.sha1).digest()
    off = mac[-1] & 0x0F
    return "%06d" % ((struct.unpack(">I", mac[off:off + 4])[0] & 0x7FFFFFFF) % 1000000)


def test_totp_matches_rfc6238_vectors():
    """The helper itself, against RFC 6238's SHA-1 test vectors (8 digits there, 6 here)."""
    secret = base64.b32encode(b"12345678901234567890").decode()
    for t, eight in ((59, "94287082"), (1111111109, "07081804"), (2000000000, "69279037")):
        assert totp(secret, at=t) == eight[2:]


def user_add(privreg, d, email, role, tenant="default"):
    out = privreg("user", "add", email, "--role", role, "--tenant", tenant, "--dir", d,
                  "--url", "http://console.example", check=0).stdout
    link = out.strip().splitlines()[-1].split()[-1]
    assert link.startswith("http://console.example/console/enrol.html#"), out
    return link.split("#", 1)[1]


def enrol(srv, token, password="correct horse battery"):
    r = srv.request("POST", "/console/enrolment", json={"token": token})
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    r = srv.request("POST", "/console/enrolment/confirm", json={"token": token, "password": password,
                                                           "code": totp(secret)})
    assert r.status_code == 204, r.text
    return secret


def sign_in(srv, email, secret, password="correct horse battery", step_offset=1):
    """A session (requests.Session with the cookie) and its CSRF token. The
    code of the next step: the enrolment used the current one."""
    s = requests.Session()
    r = s.post(srv.url + "/console/session", json={"email": email, "password": password,
                                              "code": totp(secret, step_offset=step_offset)}, timeout=30)
    assert r.status_code == 201, r.text
    return s, r


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("users") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.privreg = privreg
    srv.admin = add_key(privreg, d, "admin")
    yield srv
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


def test_enrol_sign_in_and_the_audit_names_the_person(env):
    token = user_add(env.privreg, env.dir, "dpo.one@example.com", "dpo")
    secret = enrol(env, token)
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    # The link is used up.
    assert env.request("POST", "/console/enrolment", json={"token": token}).status_code == 404
    s, r = sign_in(env, "dpo.one@example.com", secret)
    body = r.json()
    assert body["role"] == "dpo" and body["tenant"] == "default" and body["user_id"].startswith("usr_")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("privreg_session=")
    for flag in ("HttpOnly", "SameSite=Strict", "Path=/"):
        assert flag in cookie
    assert "Secure" not in cookie  # plain HTTP here; under TLS it is added (test_console)
    who = s.get(env.url + "/v1/whoami", timeout=30).json()
    assert who == {"key_id": "user:" + body["user_id"], "role": "dpo", "tenant": "default"}
    # A write as the person: the CSRF token is required.
    sid = env.request("POST", "/v1/subjects", env.admin, json={"records": [
        {"kind": "account", "fields": {"email": "mari@example.ee", "name": "Mari Tamm", "language": "en"}}]}).json()["id"]
    req = {"type": "access", "subject_id": sid, "verified_by": "ID card at the counter"}
    r = s.post(env.url + "/v1/requests", json=req, timeout=30)
    assert r.status_code == 403 and "CSRF" in r.json()["error"]["message"]
    r = s.post(env.url + "/v1/requests", json=req, headers={"X-CSRF-Token": "x" * 43}, timeout=30)
    assert r.status_code == 403
    r = s.post(env.url + "/v1/requests", json=req, headers={"X-CSRF-Token": body["csrf"]}, timeout=30)
    assert r.status_code == 201, r.text
    rid = r.json()["id"]
    entries = env.request("GET", "/v1/audit?limit=1000", env.admin).json()["entries"]
    made = [e for e in entries if e["action"].startswith("request.") and rid in (e.get("detail") or "") + str(e)]
    assert made and made[-1]["key_id"] == "user:" + body["user_id"] and made[-1]["role"] == "dpo"
    actions = [(e["action"], e["outcome"]) for e in entries if e["key_id"] == "user:" + body["user_id"]]
    assert ("user.enrol", "ok") in actions and ("user.signin", "ok") in actions
    # No e-mail of staff in the audit log: ids only.
    assert "dpo.one@example.com" not in str(entries)
    assert env.request("GET", "/v1/audit/verify", env.admin).json()["ok"] is True
    # Sign-out ends the session (and needs the CSRF token too).
    assert s.delete(env.url + "/console/session", timeout=30).status_code == 403
    r = s.delete(env.url + "/console/session", headers={"X-CSRF-Token": body["csrf"]}, timeout=30)
    assert r.status_code == 204 and "Max-Age=0" in r.headers["Set-Cookie"]
    s.cookies.set("privreg_session", cookie.split(";")[0].split("=", 1)[1])
    assert s.get(env.url + "/v1/whoami", timeout=30).status_code == 401


def test_role_of_the_person_limits_it_like_a_key(env):
    secret = enrol(env, user_add(env.privreg, env.dir, "support.one@example.com", "support"))
    s, r = sign_in(env, "support.one@example.com", secret)
    assert s.get(env.url + "/v1/audit", timeout=30).status_code == 403
    assert s.get(env.url + "/v1/audit/verify", timeout=30).status_code == 403
    assert s.get(env.url + "/console/session", timeout=30).json()["role"] == "support"


def test_enrolment_refuses_short_passwords_and_wrong_codes(env):
    token = user_add(env.privreg, env.dir, "short.pw@example.com", "auditor")
    secret = env.request("POST", "/console/enrolment", json={"token": token}).json()["secret"]
    r = env.request("POST", "/console/enrolment/confirm", json={"token": token, "password": "elevenchars",
                                                           "code": totp(secret)})
    assert r.status_code == 422 and "12" in r.json()["error"]["message"]
    wrong = "%06d" % ((int(totp(secret)) + 1) % 1000000)
    r = env.request("POST", "/console/enrolment/confirm", json={"token": token, "password": "twelve chars ok",
                                                           "code": wrong})
    assert r.status_code == 422
    r = env.request("POST", "/console/enrolment", json={"token": "A" * 43})
    assert r.status_code == 404
    # An unknown field, or a body too long, is refused, never cut.
    assert env.request("POST", "/console/enrolment", json={"token": token, "x": 1}).status_code == 422
    assert env.request("POST", "/console/session", json={"email": "a@b.ee", "password": "p" * 600,
                                                    "code": "000000"}).status_code == 413


def test_failed_sign_ins_are_limited_per_account(env):
    secret = enrol(env, user_add(env.privreg, env.dir, "limited@example.com", "dpo"))
    for _ in range(5):
        r = env.request("POST", "/console/session", json={"email": "limited@example.com", "password": "wrong password!",
                                                     "code": totp(secret, step_offset=1)})
        assert r.status_code == 401, r.text
    # Now even the right password and code are refused, for this account only.
    r = env.request("POST", "/console/session", json={"email": "limited@example.com", "password": "correct horse battery",
                                                 "code": totp(secret, step_offset=1)})
    assert r.status_code == 429
    entries = env.request("GET", "/v1/audit?limit=1000", env.admin).json()["entries"]
    assert sum(1 for e in entries if e["action"] == "user.signin" and e["outcome"] == "unauthorized") >= 5


def test_failed_sign_ins_are_limited_per_address(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d, ["--auth-limit", "3"])
    try:
        for i in range(3):
            r = srv.request("POST", "/console/session", json={"email": f"nobody{i}@example.com", "password": "x" * 12,
                                                         "code": "123456"})
            assert r.status_code == 401
        r = srv.request("POST", "/console/session", json={"email": "nobody@example.com", "password": "x" * 12,
                                                     "code": "123456"})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
    finally:
        code, err = srv.stop()
    assert code == 0 and "AddressSanitizer" not in err, err[-3000:]


def test_idle_sessions_end(env):
    secret = enrol(env, user_add(env.privreg, env.dir, "idle@example.com", "dpo"))
    s, r = sign_in(env, "idle@example.com", secret)
    assert s.get(env.url + "/console/session", timeout=30).status_code == 200
    # Sixteen minutes of idleness, written where the server keeps it.
    assert db_rows(env.dir, "SELECT count(*) FROM staff_sessions")[0][0] >= 1
    db_exec(env.dir, "UPDATE staff_sessions SET last_seen = last_seen - 16 * 60")
    r = s.get(env.url + "/console/session", timeout=30)
    assert r.status_code == 401 and "sign in again" in r.json()["error"]["message"]


def test_disable_ends_sessions_and_sign_ins(env):
    secret = enrol(env, user_add(env.privreg, env.dir, "leaver@example.com", "dpo"))
    s, r = sign_in(env, "leaver@example.com", secret)
    out = env.privreg("user", "list", "--dir", env.dir, check=0).stdout
    assert re.search(r"usr_\w+ dpo +active .* leaver@example.com", out), out
    env.privreg("user", "disable", "leaver@example.com", "--dir", env.dir, check=0)
    assert s.get(env.url + "/console/session", timeout=30).status_code == 401
    r = env.request("POST", "/console/session", json={"email": "leaver@example.com", "password": "correct horse battery",
                                                 "code": totp(secret, step_offset=1)})
    assert r.status_code == 401
    assert "disabled" in env.privreg("user", "list", "--dir", env.dir, check=0).stdout


def test_an_api_key_has_no_session(env):
    assert env.request("GET", "/console/session", env.admin).status_code == 401
    assert env.request("DELETE", "/console/session", env.admin).status_code == 401
