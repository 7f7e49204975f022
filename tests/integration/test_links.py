"""Single-use links (issue #15): a confirmation or verification link has one
spelling, is used once however it is spelled, and confirms only the grant it
was e-mailed for."""
import base64
import time

import requests

from conftest import _bin  # noqa: F401
from test_consent import check, env, grant, link_in, new_subject, sign_link  # noqa: F401

B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
CONFIRM = {"data": {"confirm": "One-Click"}, "timeout": 10}


def respellings(link):
    """The same link written other ways: what a lax parser reads as the same bytes."""
    base, token = link.rsplit("/", 1)
    tenant, body = token.split(".", 1)
    pad = "=" * (-len(body) % 4) or "=="
    last = B64.index(body[-1])
    spare = [B64[last ^ b] for b in (1, 2, 3) if last ^ b != last] if len(body) % 4 else []
    forms = [f"0{tenant}.{body}", f"000{tenant}.{body}", f"%2B{tenant}.{body}", f"%20{tenant}.{body}",
             f"{tenant}.{body}{pad}", f"{tenant}.{body}%3D", f"{tenant}.{body}%20", f"{tenant}.{body}A"]
    forms += [f"{tenant}.{body[:-1]}{c}" for c in spare]
    return [f"{base}/{f}" for f in forms]


def mail_to(env, addr, n):
    return [m for m in env.inbox.wait(n) if m["To"] == addr]


def withdraw(env, sid):
    r = env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                    json={"purpose": "direct_marketing", "granted": False, "source": "account settings"})
    assert r.status_code == 201, r.text


def test_a_used_link_cannot_be_used_again_under_another_spelling(env):
    sid = new_subject(env, "reuse@example.ee")
    grant(env, sid)
    (first,) = mail_to(env, "reuse@example.ee", 1)
    link = link_in(first, "c")
    assert requests.post(link, **CONFIRM).status_code == 200
    assert check(env, subject=sid)["state"] == "granted"
    for other in respellings(link):
        r = requests.post(other, **CONFIRM)
        assert r.status_code == 404, (other, r.status_code)
    # A later, separate grant has its own link; the first, however spelled, does not confirm it.
    withdraw(env, sid)
    grant(env, sid)
    second = mail_to(env, "reuse@example.ee", 2)[-1]
    for other in [link] + respellings(link):
        r = requests.post(other, **CONFIRM)
        assert r.status_code in (404, 410), (other, r.status_code)
        assert check(env, subject=sid)["state"] == "pending", other
    assert requests.post(link_in(second, "c"), **CONFIRM).status_code == 200
    assert check(env, subject=sid)["state"] == "granted"


def test_an_unused_link_confirms_only_its_own_grant(env):
    sid = new_subject(env, "twice@example.ee")
    grant(env, sid)
    old = link_in(mail_to(env, "twice@example.ee", 1)[0], "c")
    withdraw(env, sid)
    grant(env, sid)
    new = link_in(mail_to(env, "twice@example.ee", 2)[-1], "c")
    r = requests.post(old, **CONFIRM)
    assert r.status_code == 410 and "earlier" in r.text
    assert check(env, subject=sid)["state"] == "pending"
    assert requests.post(new, **CONFIRM).status_code == 200
    assert check(env, subject=sid)["state"] == "granted"


def test_links_mailed_before_the_binding_confirm_only_the_grant_pending_then(env):
    """A confirmation link of the previous form (no grant event in it) stands
    for the grant made when it was signed: its expiry less 7 days."""
    key = (env.dir / "keys" / "default.key").read_text().strip()
    base = env.url + "/c/"
    sid = new_subject(env, "legacy@example.ee")
    grant(env, sid)
    legacy = base + sign_link(key, 1, "c", sid, "direct_marketing", int(time.time()) + 7 * 86400)
    assert requests.post(legacy, **CONFIRM).status_code == 200
    assert check(env, subject=sid)["state"] == "granted"
    assert requests.post(legacy, **CONFIRM).status_code == 410
    # Signed for a grant, unused, and the subject withdrew and granted again later.
    other = new_subject(env, "legacy2@example.ee")
    grant(env, other)
    stale = base + sign_link(key, 1, "c", other, "direct_marketing", int(time.time()) + 7 * 86400)
    withdraw(env, other)
    time.sleep(1.1)
    grant(env, other)
    assert requests.post(stale, **CONFIRM).status_code == 410
    assert check(env, subject=other)["state"] == "pending"
