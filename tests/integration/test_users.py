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

from conftest import PG, WEBSHOP, Privreg, Server, _bin, add_key, db_exec, db_rows


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


# ---- an e-mail is unique per tenant, not across tenants ----

@pytest.fixture(scope="module")
def two(tmp_path_factory):
    """A server over a register with tenants 'default' and 'other', an admin key for each."""
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("two") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", d, check=0)
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.privreg = privreg
    srv.admins = {t: add_key(privreg, d, "admin", t) for t in ("default", "other")}
    yield srv
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


def cli_add(srv, email, tenant):
    return srv.privreg("user", "add", email, "--role", "dpo", "--tenant", tenant, "--dir", srv.dir,
                       "--url", "http://console.example")


def shape(text):
    """An answer with its ids, links and e-mails blanked: what it says, not about whom."""
    text = re.sub(r"usr_\w+", "ID", text)
    text = re.sub(r"#[\w-]{43}", "#LINK", text)
    return re.sub(r"[\w.+-]+@[\w.-]+", "EMAIL", text)


def test_an_address_of_another_tenant_is_added_like_a_fresh_one(two):
    """No oracle: adding an address that has an account in another tenant answers
    exactly as adding one nobody has, on the CLI and the API; within a tenant
    it is refused as before, in any case of its letters."""
    cli_add(two, "cli.elsewhere@example.com", "default").check_returncode()
    fresh = cli_add(two, "cli.fresh@example.com", "other")
    elsewhere = cli_add(two, "cli.elsewhere@example.com", "other")
    assert (elsewhere.returncode, shape(elsewhere.stdout), elsewhere.stderr) == \
        (fresh.returncode, shape(fresh.stdout), fresh.stderr) == (0, shape(fresh.stdout), "")
    again = cli_add(two, "CLI.Elsewhere@Example.com", "other")
    assert again.returncode == 1 and "exists already in this tenant" in again.stderr
    # The API, as an admin of 'other' would probe it.
    body = {"role": "support"}
    assert two.request("POST", "/v1/users", two.admins["default"],
                       json={**body, "email": "api.elsewhere@example.com"}).status_code == 201
    fresh = two.request("POST", "/v1/users", two.admins["other"], json={**body, "email": "api.fresh@example.com"})
    elsewhere = two.request("POST", "/v1/users", two.admins["other"],
                            json={**body, "email": "api.elsewhere@example.com"})
    assert fresh.status_code == elsewhere.status_code == 201, elsewhere.text
    assert sorted(fresh.json()) == sorted(elsewhere.json()) == ["id", "link", "valid_hours"]
    r = two.request("POST", "/v1/users", two.admins["other"], json={**body, "email": "API.ELSEWHERE@example.com"})
    assert r.status_code == 409
    # Each tenant lists its own account, stored in lower case.
    for t in ("default", "other"):
        users = two.request("GET", "/v1/users", two.admins[t]).json()["users"]
        assert [u["email"] for u in users].count("api.elsewhere@example.com") == 1
    out = two.privreg("user", "list", "--tenant", "other", "--dir", two.dir, check=0).stdout
    assert "cli.elsewhere@example.com" in out and "CLI" not in out


def enrol_in(srv, email, tenant, password):
    return enrol(srv, user_add(srv.privreg, srv.dir, email, "dpo", tenant), password)


@pytest.mark.parametrize("passwords", [("correct horse battery", "another good password"),
                                       ("the same password here", "the same password here")],
                         ids=["different-passwords", "equal-passwords"])
def test_one_person_in_two_tenants_signs_in_to_the_one_its_code_names(two, passwords):
    email = f"twice.{len(set(passwords))}@example.com"
    one = enrol_in(two, email, "default", passwords[0])
    other = enrol_in(two, email.upper(), "other", passwords[1])
    # A wrong code refuses, whichever password, as for an unknown e-mail.
    wrong = "%06d" % ((int(totp(one, step_offset=1)) + 1) % 1000000)
    for pw in passwords:
        r = two.request("POST", "/console/session", json={"email": email, "password": pw, "code": wrong})
        assert r.status_code == 401 and r.json()["error"]["message"] == "the e-mail, password or code is not right"
    # A code of the other account with this account's password: refused too.
    if passwords[0] != passwords[1]:
        r = two.request("POST", "/console/session", json={"email": email, "password": passwords[0],
                                                     "code": totp(other, step_offset=1)})
        assert r.status_code == 401
    s1, r1 = sign_in(two, email.title(), one, passwords[0])
    s2, r2 = sign_in(two, email, other, passwords[1])
    assert (r1.json()["tenant"], r2.json()["tenant"]) == ("default", "other")
    assert s1.get(two.url + "/v1/whoami", timeout=30).json()["tenant"] == "default"
    assert s2.get(two.url + "/v1/whoami", timeout=30).json()["tenant"] == "other"
    # Each tenant's audit log has its own account's sign-in only, and no e-mail.
    for t, r in (("default", r1), ("other", r2)):
        entries = two.request("GET", "/v1/audit?limit=1000", two.admins[t]).json()["entries"]
        oks = [e["key_id"] for e in entries if e["action"] == "user.signin" and e["outcome"] == "ok"]
        assert "user:" + r.json()["user_id"] in oks
        assert "user:" + (r2 if r is r1 else r1).json()["user_id"] not in str(entries)
        assert email not in str(entries).lower()


def test_refusals_of_a_shared_address_count_on_one_account(two):
    """No code verifies: the refusal is counted and audited on the oldest
    active account only; after 5 that account refuses everything, while the
    other tenant's account still signs in with its own code."""
    email = "counted@example.com"
    first = enrol_in(two, email, "default", "correct horse battery")
    later = enrol_in(two, email, "other", "correct horse battery")
    for _ in range(5):
        r = two.request("POST", "/console/session", json={"email": email, "password": "wrong password!",
                                                     "code": "000000"})
        assert r.status_code == 401
    r = two.request("POST", "/console/session", json={"email": email, "password": "correct horse battery",
                                                 "code": totp(first, step_offset=1)})
    assert r.status_code == 429
    s, r = sign_in(two, email, later)
    assert r.json()["tenant"] == "other"
    users = {t: {u["email"]: u["id"] for u in two.request("GET", "/v1/users", two.admins[t]).json()["users"]}
             for t in ("default", "other")}
    for t, want in (("default", 5), ("other", 0)):
        entries = two.request("GET", "/v1/audit?limit=1000", two.admins[t]).json()["entries"]
        refused = [e for e in entries if e["action"] == "user.signin" and e["outcome"] == "unauthorized"
                   and e["key_id"] == "user:" + users[t][email]]
        assert len(refused) == want, (t, refused)


def test_mixed_case_on_add_invite_disable_and_sign_in(env):
    token = user_add(env.privreg, env.dir, "Mixed.Case@Example.COM", "dpo")
    secret = enrol(env, token)
    out = env.privreg("user", "list", "--dir", env.dir, check=0).stdout
    assert "mixed.case@example.com" in out and "Mixed.Case" not in out
    s, r = sign_in(env, "MIXED.case@example.com", secret)
    assert r.json()["tenant"] == "default"
    r = env.privreg("user", "add", "mixed.CASE@example.com", "--role", "dpo", "--dir", env.dir, check=1)
    assert "exists already" in r.stderr
    env.privreg("user", "invite", "MIXED.CASE@EXAMPLE.COM", "--dir", env.dir, check=0)
    env.privreg("user", "disable", "Mixed.Case@example.com", "--dir", env.dir, check=0)
    assert re.search(r"disabled .* mixed\.case@example\.com",
                     env.privreg("user", "list", "--dir", env.dir, check=0).stdout)


# The register as schema 23 (PostgreSQL: 9) left staff_users: the e-mail
# unique across tenants, case and all; the newer migration not yet run.
REWIND_SQLITE = """
CREATE TABLE staff_users_23 (
    tenant_id INTEGER NOT NULL, user_id BLOB NOT NULL, email TEXT NOT NULL UNIQUE, role TEXT NOT NULL,
    status TEXT NOT NULL, password_hash TEXT, totp_secret BLOB, totp_last_step INTEGER NOT NULL DEFAULT 0,
    enrol_hash BLOB, enrol_expires INTEGER, failures INTEGER NOT NULL DEFAULT 0,
    failure_window INTEGER NOT NULL DEFAULT 0, created_at INTEGER NOT NULL, PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
INSERT INTO staff_users_23 SELECT * FROM staff_users;
DROP TABLE staff_users;
ALTER TABLE staff_users_23 RENAME TO staff_users;
CREATE UNIQUE INDEX staff_users_by_enrolment ON staff_users (enrol_hash) WHERE enrol_hash IS NOT NULL;
DELETE FROM schema_migrations WHERE version = 24;
"""
REWIND_PG = """
DROP INDEX staff_users_by_email;
ALTER TABLE staff_users ADD CONSTRAINT staff_users_email_key UNIQUE (email);
DELETE FROM schema_migrations WHERE version = 10;
"""


def test_a_register_of_schema_23_gets_its_emails_in_lower_case(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", d, check=0)
    srv = Server(privreg, d)
    srv.privreg = privreg
    try:
        anna = enrol_in(srv, "anna@example.com", "default", "correct horse battery")
        anna_other = enrol_in(srv, "anna@example.com", "other", "correct horse battery")
        for email in ("carl.old@example.com", "carl.new@example.com", "dora@example.com", "dora.up@example.com"):
            user_add(privreg, d, email, "support")
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
    ids = {(t, line.split()[-1]): line.split()[0] for t in ("default", "other")
           for line in privreg("user", "list", "--tenant", t, "--dir", d, check=0).stdout.splitlines()}
    assert len(ids) == 6
    # What schema 23 allowed: the same address in two tenants in different
    # case, and in one tenant two accounts whose e-mails differ in case only.
    texts = [("default", "anna@example.com", "Anna@Example.com", 100),
             ("other", "anna@example.com", "ANNA@example.com", 100),
             ("default", "carl.old@example.com", "Carl@Example.com", 100),   # older: takes the lower case
             ("default", "carl.new@example.com", "CARL@example.com", 200),   # newer: keeps its text
             ("default", "dora.up@example.com", "DORA@example.com", 100),    # older, but one is in lower case
             ("default", "dora@example.com", "dora@example.com", 200)]
    for tenant, was, now, at in texts:
        db_exec(d, f"UPDATE staff_users SET email = '{now}', created_at = {at} WHERE email = '{was}' "
                   f"AND tenant_id = (SELECT tenant_id FROM tenants WHERE name = '{tenant}')")
    db_exec(d, REWIND_PG if PG else REWIND_SQLITE)
    # The new binary migrates the register as it opens it.
    srv = Server(privreg, d)
    try:
        got = {(t, e) for t, e in db_rows(d, "SELECT t.name, u.email FROM staff_users u "
                                             "JOIN tenants t ON t.tenant_id = u.tenant_id")}
        assert got == {("default", "anna@example.com"), ("other", "anna@example.com"),
                       ("default", "carl@example.com"), ("default", "CARL@example.com"),
                       ("default", "DORA@example.com"), ("default", "dora@example.com")}
        # Every row and column is kept: the enrolled accounts sign in, each in its tenant, in any case.
        _, r = sign_in(srv, "ANNA@EXAMPLE.COM", anna)
        assert r.json()["tenant"] == "default" and r.json()["user_id"] == ids[("default", "anna@example.com")]
        _, r = sign_in(srv, "anna@example.com", anna_other)
        assert r.json()["tenant"] == "other" and r.json()["user_id"] == ids[("other", "anna@example.com")]
        # A duplicate in one tenant is still refused, and another tenant may have the address.
        assert privreg("user", "add", "Anna@example.com", "--role", "dpo", "--dir", d).returncode == 1
        privreg("user", "add", "carl@example.com", "--role", "dpo", "--tenant", "other", "--dir", d, check=0)
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
