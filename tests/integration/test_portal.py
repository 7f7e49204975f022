"""The privacy center (issue #14 item 1, docs/portal.md) against the real
server and a real SMTP sink (aiosmtpd): a person signs in with the link
e-mailed to them (single use, 15 minutes), sees every record with its
purposes, legal basis, retention and planned deletion, changes a consent
(the words shown are kept as the proof), starts requests of every type and
follows them with their due dates, and downloads their data. An address the
register does not know gets the same answer and a link all the same, which
lets its owner ask for the written "we hold nothing". The session is a
cookie (HttpOnly, SameSite=Strict) that touches one subject only, writes
need the CSRF token, sign-in mails are rate-limited, and the audit log names
the subject as the actor. Then the same in Debian's headless Chromium, with
screenshots of every page at 390 and 1280 px and axe-core on each."""
import re
import sqlite3
import time
import urllib.parse

import pytest
import requests

from conftest import PG, POLICIES, WEBSHOP, Privreg, Server, _bin, add_key
from test_consent import Inbox, free_port, sign_link


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("portal") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "jerone", "--policy", POLICIES / "jerone.yaml", "--dir", d, check=0)
    port = free_port()
    inbox = Inbox(port).start()
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}", "--smtp-from", "shop@example.ee",
                              "--auth-limit", "100000"])
    srv.privreg = privreg
    srv.admin = add_key(privreg, d, "admin")
    srv.jerone = add_key(privreg, d, "admin", "jerone")
    srv.inbox = inbox
    yield srv
    code, log = srv.stop()
    inbox.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def person(env, email, key=None, orders=1):
    recs = [{"kind": "account", "fields": {"email": email, "name": "Mari Tamm", "language": "en"}}]
    recs += [{"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1, Tallinn",
                                          "items": [{"sku": "KB-1"}], "amount": "49.90"}}] * orders
    r = env.request("POST", "/v1/subjects", key or env.admin, json={"records": recs})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def mails_to(env, addr, count=1, timeout=20):
    end = time.time() + timeout
    while time.time() < end:
        got = [m for m in env.inbox.messages if addr.lower() in str(m["To"]).lower()]
        if len(got) >= count:
            return got
        time.sleep(0.05)
    raise AssertionError(f"{count} mail(s) to {addr} did not arrive: {len(got)}")


def link_of(msg):
    body = msg.get_body(preferencelist=("plain",)).get_content()
    m = re.search(r"http://\S+/portal/[a-z0-9_-]+/#\S+", body)
    assert m, body
    return m.group(0)


def ask_link(env, addr, tenant="default", lang="en", count=1):
    r = requests.post(f"{env.url}/portal/{tenant}/api/signin", json={"email": addr, "lang": lang}, timeout=30)
    assert r.status_code == 202, r.text
    return link_of(mails_to(env, addr, count)[-1])


class Visitor:
    """A browser-like client: the cookie jar, and the CSRF token once signed in."""

    def __init__(self, env, tenant="default"):
        self.env, self.tenant = env, tenant
        self.s = requests.Session()
        self.csrf = None

    def url(self, path):
        return f"{self.env.url}/portal/{self.tenant}/api/{path}"

    def sign_in(self, link):
        token = link.split("#", 1)[1]
        r = self.s.post(self.url("session"), json={"token": token}, timeout=30)
        if r.status_code == 201:
            self.csrf = r.json()["csrf"]
        return r

    def get(self, path, **kw):
        return self.s.get(self.url(path), timeout=30, **kw)

    def post(self, path, body, csrf=True):
        return self.s.post(self.url(path), json=body, headers={"X-CSRF-Token": self.csrf} if csrf else {},
                           timeout=30)


def test_sign_in_by_link_see_everything_change_a_consent_and_request(env):
    sid = person(env, "mari.portal@example.ee")
    r = env.request("POST", "/v1/disclosures", env.admin, json={"subject_id": sid, "recipient": "courier",
                                                               "purpose": "contract", "fields": ["name"]})
    assert r.status_code == 200, r.text
    link = ask_link(env, "Mari.Portal@example.ee")
    assert "/portal/default/#" in link and "mari" not in link.lower()  # ids only; the secret after '#'
    v = Visitor(env)
    r = v.sign_in(link)
    assert r.status_code == 201, r.text
    assert r.json()["known"] is True and r.json()["idle_timeout"] == 900
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/portal/default/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback; test_tls covers Secure
    # The link works once.
    assert Visitor(env).sign_in(link).status_code == 410

    me = v.get("me").json()
    assert me["known"] and me["controller"]["name"] and me["titles"]["kinds"]["order"]["en"]
    names = {p["name"]: p for p in me["purposes"]}
    assert set(names) == {"direct_marketing", "personalisation", "call_quality"}  # what the person can decide
    assert names["direct_marketing"]["state"] == "none" and names["personalisation"]["legal_basis"] == "legitimate_interest"
    data = v.get("export?format=json").json()
    assert data["subject_id"] == sid
    order = [x for x in data["records"] if x["kind"] == "order"][0]
    assert order["purposes"][0]["legal_basis"] == "contract" and order["retention"] and order["planned_deletion"]
    assert data["disclosures"][0]["recipient"] == "courier"
    assert v.get("export?format=csv").headers["Content-Type"].startswith("multipart/mixed")

    # A consent: given with the words shown (double opt-in: pending until the mailed link), then withdrawn.
    words = "I agree that Offers and news by e-mail."
    r = v.post("consents", {"purpose": "direct_marketing", "granted": True, "text": words + "\x1b[2J\x07"})
    assert r.status_code == 422 and r.json()["error"]["message"].startswith("text:"), r.text  # stored or mailed raw
    r = v.post("consents", {"purpose": "direct_marketing", "granted": True, "text": words})
    assert r.status_code == 201 and r.json()["state"] == "pending", r.text
    r = v.post("consents", {"purpose": "direct_marketing", "granted": False})
    assert r.status_code == 201 and r.json()["state"] == "withdrawn", r.text
    r = v.post("consents", {"purpose": "personalisation", "granted": False})
    assert r.status_code == 201 and r.json()["state"] == "objected", r.text
    hist = env.request("GET", f"/v1/subjects/{sid}/consents", env.admin).json()["history"]
    grant = [h for h in hist if h["purpose"] == "direct_marketing" and h["action"] == "granted"][0]
    assert grant["text"] == words and grant["source"] == "privacy center"
    assert [p for p in v.get("me").json()["purposes"] if p["name"] == "direct_marketing"][0]["text"] == words
    # Not a purpose the person decides on, or none at all.
    assert v.post("consents", {"purpose": "accounting", "granted": False}).status_code == 422

    # Every request type of the seeds, each with its due date; verified by the sign-in itself.
    made = {}
    for kind in ("access", "portability", "rectification", "erasure", "anonymization", "restriction", "objection"):
        body = {"type": kind}
        if kind == "rectification":
            body["details"] = {"record_id": order["id"], "changes": {"name": "Mari Kask"}}
        r = v.post("requests", body)
        assert r.status_code == 201, (kind, r.text)
        assert r.json()["status"] == "in_progress" and r.json()["due_at"], r.json()
        made[kind] = r.json()["id"]
    listed = v.get("me").json()["requests"]
    assert {x["id"] for x in listed} == set(made.values())
    assert all(x["due_at"] and x["open"] for x in listed)
    staff = env.request("GET", f"/v1/requests/{made['erasure']}", env.admin).json()
    assert staff["channel"] == "portal" and staff["subject_id"] == sid and "privacy center" in staff["verified_by"]
    # The access request answered by the DPO: the page offers its download.
    assert env.request("POST", f"/v1/requests/{made['access']}/complete", env.admin, json={}).status_code == 200
    done = [x for x in v.get("me").json()["requests"] if x["id"] == made["access"]][0]
    assert done["status"] == "completed" and done["download"] is True and not done["open"]

    # The audit log names the subject as the actor, never the address.
    log = env.request("GET", f"/v1/audit?subject={sid}&limit=1000", env.admin).json()["entries"]
    mine = [e for e in log if e["key_id"] == "subject:" + sid]
    assert {"portal.signin", "request.create"} <= {e["action"] for e in mine}, {e["action"] for e in mine}
    assert "mari.portal" not in str(log).lower()

    # Sign-out ends the session at the server, not only in the browser.
    old = v.s.cookies.get("privreg_portal", path="/portal/default/")
    assert v.s.delete(v.url("session"), headers={"X-CSRF-Token": v.csrf}, timeout=30).status_code == 204
    r = requests.get(v.url("me"), cookies={"privreg_portal": old}, timeout=30)
    assert r.status_code == 401


def test_an_unknown_address_gets_the_same_answer_and_can_ask_for_nothing_held(env):
    r_known = requests.post(f"{env.url}/portal/default/api/signin", json={"email": "nobody.here@example.ee"},
                            timeout=30)
    assert r_known.status_code == 202 and r_known.json() == {"status": "sent", "expires_in": 900}
    link = link_of(mails_to(env, "nobody.here@example.ee")[-1])
    v = Visitor(env)
    r = v.sign_in(link)
    assert r.status_code == 201 and r.json()["known"] is False
    me = v.get("me").json()
    assert me["known"] is False and me["purposes"] == [] and me["requests"] == []
    assert v.get("export").status_code == 404
    # The address again, for the answer: it must be the one signed in with.
    assert v.post("requests", {"type": "access"}).status_code == 422
    assert v.post("requests", {"type": "access", "email": "someone.else@example.ee"}).status_code == 422
    r = v.post("requests", {"type": "access", "email": "Nobody.Here@example.ee", "lang": "en"})
    assert r.status_code == 201 and r.json()["due_at"], r.text
    staff = env.request("GET", f"/v1/requests/{r.json()['id']}", env.admin).json()
    assert staff["about_nobody"] is True and staff["channel"] == "portal"
    assert env.request("POST", f"/v1/requests/{r.json()['id']}/complete", env.admin, json={}).status_code == 200
    answer = mails_to(env, "nobody.here@example.ee", 2)[-1]
    assert "answered" in str(answer["Subject"])  # "we hold no personal data about you", in the language asked


def test_csrf_and_one_subject_per_session(env):
    a = person(env, "csrf.a@example.ee")
    b = person(env, "csrf.b@example.ee")
    v = Visitor(env)
    assert v.sign_in(ask_link(env, "csrf.a@example.ee")).status_code == 201
    # A write without the token (another site's form could send the cookie, never the token).
    r = v.post("consents", {"purpose": "direct_marketing", "granted": False}, csrf=False)
    assert r.status_code == 403
    r = v.s.post(v.url("requests"), json={"type": "erasure"}, headers={"X-CSRF-Token": "x" * 32}, timeout=30)
    assert r.status_code == 403
    # No route takes a subject: what it touches is always the session's.
    assert v.get("export").json()["subject_id"] == a
    assert v.post("requests", {"type": "erasure", "subject_id": b}).status_code == 422
    # The session is the tenant's whose center gave it; another's refuses it.
    jar = {"privreg_portal": v.s.cookies.get("privreg_portal")}
    assert requests.get(f"{env.url}/portal/jerone/api/me", cookies=jar, timeout=30).status_code == 401
    # A link of one tenant does not open another's center.
    link = ask_link(env, "csrf.b@example.ee")
    w = Visitor(env, "jerone")
    assert w.sign_in(link).status_code == 404
    # Nothing of the register before sign-in.
    for path in ("me", "export", "session"):
        assert requests.get(f"{env.url}/portal/default/api/{path}", timeout=30).status_code == 401
    assert requests.get(f"{env.url}/portal/nosuch/api/me", timeout=30).status_code == 404
    assert requests.get(f"{env.url}/portal/nosuch/", timeout=30).status_code == 404


def test_links_expire_and_forged_links_fail(env):
    sid = person(env, "expired.link@example.ee")
    master = (env.dir / "keys" / "default.key").read_text().strip()
    v = Visitor(env)
    old = sign_link(master, 1, "p", sid, "ab" * 16, int(time.time()) - 1)
    assert v.s.post(v.url("session"), json={"token": old}, timeout=30).status_code == 410
    good = sign_link(master, 1, "p", sid, "ab" * 16, int(time.time()) + 900)
    for bad in (good[:-2], good + "A", "0" + good, good.replace("1.", "01.", 1)):
        assert v.s.post(v.url("session"), json={"token": bad}, timeout=30).status_code == 404, bad
    # Another kind of link (an unsubscribe link) is no sign-in link.
    other = sign_link(master, 1, "u", sid, "direct_marketing", int(time.time()) + 900)
    assert v.s.post(v.url("session"), json={"token": other}, timeout=30).status_code == 404
    assert v.s.post(v.url("session"), json={"token": good}, timeout=30).status_code == 201


def test_sign_in_mails_are_rate_limited_per_address(env):
    for i in range(3):
        r = requests.post(f"{env.url}/portal/default/api/signin", json={"email": "flood@example.ee"}, timeout=30)
        assert r.status_code == 202, (i, r.text)
    r = requests.post(f"{env.url}/portal/default/api/signin", json={"email": "FLOOD@example.ee"}, timeout=30)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) > 60
    # Another address is not held back by it.
    r = requests.post(f"{env.url}/portal/default/api/signin", json={"email": "calm@example.ee"}, timeout=30)
    assert r.status_code == 202
    bad = requests.post(f"{env.url}/portal/default/api/signin", json={"email": "not an address"}, timeout=30)
    assert bad.status_code == 422
    assert requests.post(f"{env.url}/portal/default/api/signin", json={"email": "x@example.ee", "extra": 1},
                         timeout=30).status_code == 422


@pytest.mark.sqlite_only
def test_idle_sessions_end(env):
    person(env, "idle.portal@example.ee")
    v = Visitor(env)
    assert v.sign_in(ask_link(env, "idle.portal@example.ee")).status_code == 201
    assert v.get("me").status_code == 200
    db = sqlite3.connect(env.dir / "privreg.db")
    with db:
        db.execute("UPDATE portal_sessions SET last_seen = last_seen - 16 * 60")
    db.close()
    assert v.get("me").status_code == 401


def test_an_erased_subject_is_signed_out(env):
    sid = person(env, "erased.portal@example.ee")
    v = Visitor(env)
    assert v.sign_in(ask_link(env, "erased.portal@example.ee")).status_code == 201
    r = v.post("requests", {"type": "erasure"})
    assert r.status_code == 201
    assert env.request("POST", f"/v1/requests/{r.json()['id']}/complete", env.admin, json={}).status_code == 200
    assert env.request("GET", f"/v1/subjects/{sid}", env.admin).status_code in (404, 410)
    assert v.get("me").status_code == 401


# ---- the pages, in a real browser ----

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from test_console import a11y, browser, chromium_or_skip, visible, wait  # noqa: E402,F401
import test_console  # noqa: E402

PAGES = ["index.html", "center.html"]


def shoot(drv, name):
    test_console.shoot(drv, name)
    for width in (390, 1280):  # test_console names them console-*; these are the portal's
        src = test_console.SHOTS / f"console-{name}-{width}.png"
        src.replace(test_console.SHOTS / f"portal-{name}-{width}.png")


def check_page(drv, name):
    a11y(drv, name)
    shoot(drv, name)


def test_pages_are_served_with_their_headers_and_no_data(env):
    for name in PAGES + ["portal.css", "portal.js"]:
        r = requests.get(f"{env.url}/portal/default/{name}", timeout=30)
        assert r.status_code == 200, name
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["Referrer-Policy"] == "no-referrer"
        if name.endswith(".html"):
            assert "<script>" not in r.text and " style=" not in r.text
        assert requests.get(f"{env.url}/portal/default/{name}", headers={"If-None-Match": r.headers["ETag"]},
                            timeout=30).status_code == 304
    assert requests.get(f"{env.url}/portal/default/", timeout=30).text == \
        requests.get(f"{env.url}/portal/default/index.html", timeout=30).text
    assert requests.get(f"{env.url}/portal/default/queue.html", timeout=30).status_code == 404  # the console's
    fi = requests.get(f"{env.url}/portal/default/i18n.json", headers={"Accept-Language": "fi"}, timeout=30).json()
    assert fi["lang"] == "fi" and fi["portal.brand"] == "Tietosuojakeskus"


def test_a_person_signs_in_withdraws_a_consent_and_requests_erasure_in_a_browser(env, browser):
    chromium_or_skip()
    drv = browser
    sid = person(env, "browser.portal@example.ee")
    assert env.request("POST", f"/v1/subjects/{sid}/consents", env.admin, json={
        "purpose": "direct_marketing", "granted": True, "source": "checkout form",
        "text": "Yes, send me offers and news by e-mail."}).status_code == 201
    hist = env.request("GET", f"/v1/subjects/{sid}/consents", env.admin).json()
    assert hist["consents"][0]["state"] in ("pending", "granted")

    drv.get(f"{env.url}/portal/default/")
    visible(drv, "#signin")
    assert sid not in drv.page_source
    check_page(drv, "signin")
    drv.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
    visible(drv, "#errors")  # an empty address: the error summary, linked to the field
    assert drv.find_element(By.CSS_SELECTOR, "#errors a").get_attribute("href").endswith("#email")
    check_page(drv, "signin-error")
    drv.find_element(By.ID, "email").send_keys("browser.portal@example.ee")
    drv.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
    visible(drv, "#step-sent")
    check_page(drv, "sent")

    link = link_of(mails_to(env, "browser.portal@example.ee")[-1])
    drv.get(link)
    visible(drv, "#step-link")
    check_page(drv, "link")
    drv.find_element(By.CSS_SELECTOR, "#follow button[type=submit]").click()
    wait(drv, EC.url_contains("center.html"))
    assert "#" not in drv.current_url  # the used link leaves the address bar
    visible(drv, "#record-list article")
    wait(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#record-list article")) == 2)
    text = drv.find_element(By.ID, "records").text
    assert "Mari Tamm" in text and "Orders and purchase history" in text and "our contract with you" in text
    assert "Planned deletion" in text
    check_page(drv, "center")

    # Withdraw the consent: the words shown at the checkout are on the page.
    consent = [a for a in drv.find_elements(By.CSS_SELECTOR, "#consent-list article")
               if "Offers and news by e-mail" in a.text][0]
    assert "Yes, send me offers and news by e-mail." in consent.text
    consent.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(drv, lambda d: "withdrawn" in d.find_element(By.ID, "status").text)
    st = env.request("GET", f"/v1/subjects/{sid}/consents", env.admin).json()["consents"]
    assert [c for c in st if c["purpose"] == "direct_marketing"][0]["state"] == "withdrawn"

    # Request erasure, and see it with its due date.
    drv.find_element(By.ID, "type-erasure").click()
    drv.find_element(By.CSS_SELECTOR, "#new-request button[type=submit]").click()
    wait(drv, lambda d: d.find_elements(By.CSS_SELECTOR, "#request-table tbody tr"))
    row = drv.find_element(By.CSS_SELECTOR, "#request-table tbody tr")
    assert "Erase my data" in row.text and "we are working on it" in row.text
    reqs = env.request("GET", "/v1/requests?limit=1000", env.admin).json()["requests"]
    mine = [r for r in reqs if r["subject_id"] == sid and r["type"] == "erasure"]
    assert len(mine) == 1 and mine[0]["channel"] == "portal"
    due = time.strftime("%B", time.strptime(mine[0]["due_at"][:10], "%Y-%m-%d"))
    assert due in row.text  # the due date, in words
    assert due in drv.find_element(By.ID, "status").text
    check_page(drv, "center-requested")

    # In another language (the switcher keeps the choice).
    from selenium.webdriver.support.ui import Select
    Select(drv.find_element(By.ID, "lang")).select_by_value("et")
    wait(drv, lambda d: d.find_element(By.TAG_NAME, "html").get_attribute("lang") == "et")
    wait(drv, lambda d: "Kustutage minu andmed" in d.find_element(By.ID, "request-table").text)
    check_page(drv, "center-et")
    Select(drv.find_element(By.ID, "lang")).select_by_value("en")

    drv.find_element(By.ID, "signout").click()
    wait(drv, lambda d: d.current_url.rstrip("/").endswith("/portal/default"))
    visible(drv, "#signin")


def test_a_person_the_register_does_not_know_in_a_browser(env, browser):
    chromium_or_skip()
    drv = browser
    drv.get(f"{env.url}/portal/default/")
    visible(drv, "#signin")
    drv.find_element(By.ID, "email").send_keys("stranger.portal@example.ee")
    drv.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()
    visible(drv, "#step-sent")
    drv.get(link_of(mails_to(env, "stranger.portal@example.ee")[-1]))
    visible(drv, "#follow").find_element(By.CSS_SELECTOR, "button").click()
    wait(drv, EC.url_contains("center.html"))
    visible(drv, "#nothing")
    assert drv.find_element(By.ID, "records").get_attribute("hidden") is not None
    check_page(drv, "center-unknown")
    drv.find_element(By.ID, "email").send_keys("stranger.portal@example.ee")
    drv.find_element(By.CSS_SELECTOR, "#new-request button[type=submit]").click()
    wait(drv, lambda d: "We have your request" in d.find_element(By.ID, "status").text)
    check_page(drv, "center-unknown-requested")

