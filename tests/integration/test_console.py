"""The staff console in a real browser (issue #14): Debian's headless
Chromium driven by python3-selenium against a real server. A DPO enrols from
the link `privreg user add` printed, signs in with password and TOTP, finds
the most urgent request first in the queue, extends it and completes it, and
the audit log names them; a support person sees no audit page (and the API
refuses it); nothing of the register shows before sign-in; a write without
the CSRF token is refused; an idle session ends; wrong passwords are
limited. Every page is photographed at 390 px and 1280 px into
build/screenshots/ and checked for accessibility: axe-core (from
tests/tools/a11y, npm) where it is installed, and always checks of our own
(labels, lang, alt text, the palette's contrast, the security headers)."""
import json
import re
import shutil
import time

import pytest
import requests

from conftest import ROOT, WEBSHOP, Privreg, Server, _bin, add_key, db_exec
from test_users import totp

webdriver = pytest.importorskip("selenium.webdriver")
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as EC  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402

SHOTS = ROOT / "build" / "screenshots"
AXE = ROOT / "tests" / "tools" / "a11y" / "node_modules" / "axe-core" / "axe.min.js"
PASSWORD = "long enough passphrase"
PAGES = ["index.html", "enrol.html", "queue.html", "request.html", "audit.html", "subject.html", "holds.html",
         "retention.html", "users.html", "attestation.html"]


def chromium_or_skip():
    for b in ("chromium", "chromedriver"):
        if not shutil.which(b):
            pytest.skip(f"{b} is not installed (scripts/install-deps installs it)")


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    chromium_or_skip()
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("console") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.privreg = privreg
    srv.admin = add_key(privreg, d, "admin")
    yield srv
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


@pytest.fixture()
def browser():
    chromium_or_skip()
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--lang=en-GB"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")),
                           options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def wait(drv, cond, timeout=20):
    return WebDriverWait(drv, timeout).until(cond)


def visible(drv, css, timeout=20):
    return wait(drv, EC.visibility_of_element_located((By.CSS_SELECTOR, css)), timeout)


def add_user(env, email, role):
    out = env.privreg("user", "add", email, "--role", role, "--dir", env.dir, "--url", env.url, check=0).stdout
    return out.strip().splitlines()[-1].split()[-1]


def subject(env, email):
    r = env.request("POST", "/v1/subjects", env.admin, json={"records": [
        {"kind": "account", "fields": {"email": email, "name": "Mari Tamm", "language": "et"}}]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def shoot(drv, name):
    """Screenshots of the page as it is, at a phone's and a desktop's width."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    for width in (390, 1280):
        drv.set_window_size(width, 900)
        height = drv.execute_script("return document.documentElement.scrollHeight")
        drv.set_window_size(width, max(600, min(int(height) + 140, 4000)))
        time.sleep(0.2)
        drv.save_screenshot(str(SHOTS / f"console-{name}-{width}.png"))
        if width == 390:  # nothing wider than the phone's screen
            overflow = drv.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1 or drv.find_elements(By.CSS_SELECTOR, ".scroll"), (name, overflow)
    drv.set_window_size(1280, 900)


def luminance(hexcolour):
    def ch(v):
        v /= 255
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (int(hexcolour[i:i + 2], 16) for i in (1, 3, 5))
    return 0.2126 * ch(r) + 0.7152 * ch(g) + 0.0722 * ch(b)


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def test_palette_meets_wcag_aa_contrast():
    css = (ROOT / "web/common/_base.css").read_text()  # the palette both sheets include
    pal = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-f]{6})", css))
    pairs = [("ink", "paper"), ("muted", "paper"), ("link", "paper"), ("danger", "paper"), ("ink", "panel"),
             ("muted", "panel"), ("danger", "panel"), ("paper", "ink"), ("ink", "focus"), ("paper", "action"),
             ("paper", "action-dark"), ("action", "paper")]
    for fg, bg in pairs:
        assert contrast(pal[fg], pal[bg]) >= 4.5, (fg, bg, contrast(pal[fg], pal[bg]))


def own_checks(drv, name):
    """What every page must have whatever axe says: a language, labels on every
    control, alt text on images, one h1, nothing inline that the CSP forbids."""
    problems = drv.execute_script("""
        var p = [];
        if (!document.documentElement.lang) p.push('no lang');
        document.querySelectorAll('input, select, textarea').forEach(function (e) {
          if (e.type === 'hidden') return;
          var l = e.id && document.querySelector('label[for="' + e.id + '"]');
          if (!l && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')) p.push('unlabelled ' + (e.id || e.name));
        });
        document.querySelectorAll('img').forEach(function (e) { if (!e.hasAttribute('alt')) p.push('img without alt'); });
        document.querySelectorAll('svg').forEach(function (e) {
          if (!e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby') &&
              e.getAttribute('aria-hidden') !== 'true') p.push('svg without a name');
        });
        if (document.querySelectorAll('h1').length !== 1) p.push('not one h1');
        if (document.querySelector('[style]')) p.push('inline style');
        if (document.querySelector('script:not([src])')) p.push('inline script');
        return p;""")
    assert not problems, (name, problems)


def a11y(drv, name):
    own_checks(drv, name)
    if not AXE.exists():
        return
    drv.execute_script(AXE.read_text())
    result = drv.execute_async_script("""
        var done = arguments[arguments.length - 1];
        axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']}})
          .then(function (r) { done(JSON.stringify(r.violations.map(function (v) {
            return {id: v.id, impact: v.impact, nodes: v.nodes.map(function (n) { return n.target.join(' '); })};
          }))); }, function (e) { done(JSON.stringify([{id: 'axe failed', nodes: [String(e)]}])); });""")
    violations = json.loads(result)
    assert not violations, (name, violations)


def check_page(drv, name):
    a11y(drv, name)
    shoot(drv, name)


def sign_in_page(drv, env, email, code, password=PASSWORD):
    drv.get(env.url + "/console/")
    visible(drv, "#signin")
    drv.find_element(By.ID, "email").send_keys(email)
    drv.find_element(By.ID, "password").send_keys(password)
    drv.find_element(By.ID, "code").send_keys(code)
    drv.find_element(By.CSS_SELECTOR, "#signin button[type=submit]").click()


def test_every_page_is_served_with_its_headers_and_no_register_data(env):
    sid = subject(env, "before.signin@example.ee")
    for name in PAGES + ["console.css", "console.js", "qr.js"]:
        r = requests.get(env.url + "/console/" + name, timeout=30)
        assert r.status_code == 200, name
        ctype = {"html": "text/html", "css": "text/css", "js": "text/javascript"}[name.rsplit(".", 1)[1]]
        assert r.headers["Content-Type"].startswith(ctype), name
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Frame-Options"] == "DENY" and r.headers["X-Content-Type-Options"] == "nosniff"
        etag = r.headers["ETag"]
        again = requests.get(env.url + "/console/" + name, headers={"If-None-Match": etag}, timeout=30)
        assert again.status_code == 304 and not again.content
        assert sid not in r.text and "before.signin" not in r.text
        if name.endswith(".html"):
            assert "<script>" not in r.text and " style=" not in r.text  # nothing inline: the CSP allows none
    assert requests.get(env.url + "/console/", timeout=30).text == requests.get(env.url + "/console/index.html",
                                                                                 timeout=30).text
    assert requests.get(env.url + "/console/nothing.html", timeout=30).status_code == 404
    # The texts: from Accept-Language, or ?lang=.
    et = requests.get(env.url + "/console/i18n.json", headers={"Accept-Language": "fi;q=0.5, et-EE, en;q=0.8"},
                      timeout=30).json()
    assert et["lang"] == "et" and et["signin.title"] == "Logi sisse"
    assert requests.get(env.url + "/console/i18n.json?lang=ru", timeout=30).json()["lang"] == "ru"
    assert requests.get(env.url + "/console/i18n.json", timeout=30).json()["lang"] == "en"
    keys = set(json.loads((ROOT / "web/i18n/en.json").read_text()))
    for lang in ("et", "lv", "fi", "ru"):
        assert set(json.loads((ROOT / f"web/i18n/{lang}.json").read_text())) == keys, lang


def test_dpo_enrols_signs_in_extends_and_completes(env, browser):
    drv = browser
    sid = subject(env, "queue.person@example.ee")
    # Three requests; the oldest has the nearest deadline and must come first.
    def received(days_ago):
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days_ago * 86400))

    made = []
    for days_ago, kind in ((25, "erasure"), (10, "access"), (5, "access")):
        r = env.request("POST", "/v1/requests", env.admin, json={
            "type": kind, "subject_id": sid, "verified_by": "ID card", "received_at": received(days_ago)})
        assert r.status_code == 201, r.text
        made.append(r.json()["id"])
    urgent = made[0]

    # Before sign-in: any page of the console sends you to the sign-in page and shows nothing.
    drv.get(env.url + "/console/queue.html")
    wait(drv, EC.url_contains("index.html"))
    visible(drv, "#signin")
    assert sid not in drv.page_source and urgent not in drv.page_source
    check_page(drv, "signin")

    link = add_user(env, "dpo.console@example.com", "dpo")
    drv.get(link)
    visible(drv, "#step-secret")
    secret = drv.find_element(By.ID, "secret").text.replace(" ", "")
    assert re.fullmatch(r"[A-Z2-7]{32}", secret)
    assert drv.find_element(By.CSS_SELECTOR, "#qr svg path").get_attribute("d").count("h1v1") > 300
    check_page(drv, "enrol")
    drv.find_element(By.ID, "password").send_keys(PASSWORD)
    drv.find_element(By.ID, "password2").send_keys(PASSWORD)
    drv.find_element(By.ID, "code").send_keys(totp(secret))
    drv.find_element(By.CSS_SELECTOR, "#enrol button[type=submit]").click()
    visible(drv, "#step-done")
    assert "#" not in drv.current_url  # the used link leaves the address bar
    check_page(drv, "enrol-done")

    sign_in_page(drv, env, "dpo.console@example.com", totp(secret, step_offset=1))
    wait(drv, EC.url_contains("queue.html"))
    first = visible(drv, "#queue tbody tr")
    rows = drv.find_elements(By.CSS_SELECTOR, "#queue tbody tr")
    assert len(rows) == 3
    assert all("days left" in r.text for r in rows)
    assert first.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("#" + urgent)
    check_page(drv, "queue")

    first.find_element(By.TAG_NAME, "a").click()
    visible(drv, "#facts")
    assert urgent in drv.find_element(By.ID, "facts").text
    check_page(drv, "request")
    drv.find_element(By.ID, "reason").send_keys("Many records in several systems")
    drv.find_element(By.CSS_SELECTOR, "#extend button[type=submit]").click()
    wait(drv, EC.text_to_be_present_in_element((By.ID, "status"), "extended"))
    assert not drv.find_element(By.ID, "extend").is_displayed()  # once only
    drv.find_element(By.CSS_SELECTOR, "#complete button[type=submit]").click()
    wait(drv, EC.text_to_be_present_in_element((By.ID, "status"), "completed"))
    got = env.request("GET", f"/v1/requests/{urgent}", env.admin).json()
    assert got["status"] == "completed" and got["extended_at"]

    # A request past its deadline comes first, marked in words, not by colour alone.
    sid = subject(env, "late.person@example.ee")  # the first one is erased now
    late = env.request("POST", "/v1/requests", env.admin, json={
        "type": "access", "subject_id": sid, "verified_by": "ID card", "received_at": "2020-01-10T10:00:00Z"})
    assert late.status_code == 201, late.text
    drv.get(env.url + "/console/queue.html")
    first = visible(drv, "#queue tbody tr")
    assert "overdue" in first.get_attribute("class") and "Overdue by" in first.text
    assert first.find_element(By.TAG_NAME, "a").get_attribute("href").endswith("#" + late.json()["id"])
    assert len(drv.find_elements(By.CSS_SELECTOR, "#queue tbody tr")) == 3  # the completed one has left
    check_page(drv, "queue-overdue")

    drv.get(env.url + "/console/audit.html")
    visible(drv, "#audit tbody tr")
    chain = drv.find_element(By.ID, "chain").text
    assert "intact" in chain
    me = env.request("GET", "/v1/audit?limit=1000", env.admin).json()["entries"]
    mine = {e["action"] for e in me if e["key_id"].startswith("user:usr_") and e["role"] == "dpo"}
    assert {"request.extend", "request.complete", "user.signin", "user.enrol"} <= mine, mine
    table = drv.find_element(By.ID, "audit").text
    assert re.search(r"user:usr_\w+ dpo request\.complete", table), table[:2000]
    check_page(drv, "audit")

    # Holds, and the retention forecast as a chart with its table.
    assert env.request("POST", "/v1/holds", env.admin, json={"subject_id": sid, "reason": "court case 12/2026"}
                       ).status_code == 201
    drv.get(env.url + "/console/holds.html")
    row = visible(drv, "#holds tbody tr")
    assert "court case 12/2026" in row.text and sid in row.text
    check_page(drv, "holds")
    for months_ago in (3, 5, 5):  # calls are kept a year: due in 9 and 7 months
        created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - months_ago * 31 * 86400))
        assert env.request("POST", f"/v1/subjects/{sid}/records", env.admin, json={
            "kind": "call", "fields": {"message": "recording 1"}, "created_at": created}).status_code == 201
    drv.get(env.url + "/console/retention.html")
    visible(drv, "#forecast tbody tr")
    bars = drv.find_elements(By.CSS_SELECTOR, "#chart svg rect[height]")
    assert len(bars) >= 2  # a bar and a legend entry at least
    table = drv.find_element(By.ID, "forecast").text
    assert "call" in table and "deleted" in table, table
    check_page(drv, "retention")

    # A look at a person: the purpose first, audited as a read by this person.
    drv.get(env.url + "/console/subject.html")
    visible(drv, "#lookup")
    check_page(drv, "subject")
    drv.find_element(By.ID, "purpose").send_keys("contract")
    drv.find_element(By.ID, "sid").send_keys(sid)
    drv.find_element(By.CSS_SELECTOR, "#lookup button[type=submit]").click()
    visible(drv, "#records .record")
    assert "late.person@example.ee" in drv.find_element(By.ID, "records").text
    check_page(drv, "subject-records")
    reads = [e for e in env.request("GET", "/v1/audit?limit=1000", env.admin).json()["entries"]
             if e["action"] == "subject.read" and e["subject_id"] == sid and e["key_id"].startswith("user:")]
    assert reads and reads[-1]["purpose"] == "contract"

    # The language switcher: the page in Estonian, and it stays so.
    drv.get(env.url + "/console/queue.html")
    visible(drv, "#queue")
    from selenium.webdriver.support.ui import Select
    Select(drv.find_element(By.ID, "lang")).select_by_value("et")
    wait(drv, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Taotlused"))
    assert drv.find_element(By.TAG_NAME, "html").get_attribute("lang") == "et"
    check_page(drv, "queue-et")
    drv.refresh()
    wait(drv, EC.text_to_be_present_in_element((By.TAG_NAME, "h1"), "Taotlused"))

    # A write from the page without the CSRF token: refused, though the cookie goes along.
    status = drv.execute_async_script("""
        var done = arguments[arguments.length - 1];
        fetch('/v1/requests/""" + urgent + """/extend', {method: 'POST', credentials: 'same-origin',
              headers: {'Content-Type': 'application/json'}, body: '{"reason": "x"}'})
          .then(function (r) { done(r.status); });""")
    assert status == 403

    # Idle for sixteen minutes: the next page goes back to sign-in.
    db_exec(env.dir, "UPDATE staff_sessions SET last_seen = last_seen - 16 * 60")
    drv.get(env.url + "/console/queue.html")
    wait(drv, EC.url_contains("index.html"))


def test_support_sees_no_audit_page(env, browser):
    drv = browser
    link = add_user(env, "support.console@example.com", "support")
    token = link.split("#", 1)[1]
    secret = env.request("POST", "/console/enrolment", json={"token": token}).json()["secret"]
    assert env.request("POST", "/console/enrolment/confirm", json={
        "token": token, "password": PASSWORD, "code": totp(secret)}).status_code == 204
    sign_in_page(drv, env, "support.console@example.com", totp(secret, step_offset=1))
    wait(drv, EC.url_contains("queue.html"))
    visible(drv, "#nav")
    audit_link = drv.find_element(By.CSS_SELECTOR, "#nav a[href='audit.html']")
    assert not audit_link.is_displayed()
    assert not drv.find_element(By.CSS_SELECTOR, "#nav a[href='attestation.html']").is_displayed()
    # Typed in by hand: the page says no, because the API does.
    drv.get(env.url + "/console/audit.html")
    visible(drv, "#errors")
    assert "may not" in drv.find_element(By.ID, "errors").text
    assert not drv.find_element(By.ID, "audit").is_displayed()
    cookie = drv.get_cookie("privreg_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/"
    r = requests.get(env.url + "/v1/audit", cookies={"privreg_session": cookie["value"]}, timeout=30)
    assert r.status_code == 403
    drv.get(env.url + "/console/attestation.html")
    visible(drv, "#errors")
    assert "may not" in drv.find_element(By.ID, "errors").text
    assert not drv.find_element(By.ID, "doc").is_displayed() and not drv.find_element(By.ID, "none").is_displayed()


def test_admin_sees_the_users(env, browser):
    drv = browser
    link = add_user(env, "admin.console@example.com", "admin")
    token = link.split("#", 1)[1]
    secret = env.request("POST", "/console/enrolment", json={"token": token}).json()["secret"]
    assert env.request("POST", "/console/enrolment/confirm", json={
        "token": token, "password": PASSWORD, "code": totp(secret)}).status_code == 204
    sign_in_page(drv, env, "admin.console@example.com", totp(secret, step_offset=1))
    wait(drv, EC.url_contains("queue.html"))
    visible(drv, "#nav a[href='users.html']").click()
    visible(drv, "#users tbody tr")
    text = drv.find_element(By.ID, "users").text
    assert "admin.console@example.com" in text and "administrator" in text
    assert re.search(r"user:usr_\w+", text)
    check_page(drv, "users")


def test_the_latest_attestation(env, browser):
    """Issue #16: the latest kept attestation, each claim holding or not in
    words and with a mark; before any was kept, the command that makes one."""
    drv = browser
    link = add_user(env, "auditor.console@example.com", "auditor")
    token = link.split("#", 1)[1]
    secret = env.request("POST", "/console/enrolment", json={"token": token}).json()["secret"]
    assert env.request("POST", "/console/enrolment/confirm", json={
        "token": token, "password": PASSWORD, "code": totp(secret)}).status_code == 204
    sign_in_page(drv, env, "auditor.console@example.com", totp(secret, step_offset=1))
    wait(drv, EC.url_contains("queue.html"))
    if env.request("GET", "/v1/attestation", env.admin, params={"latest": "1"}).status_code == 404:
        visible(drv, "#nav a[href='attestation.html']").click()
        none = visible(drv, "#none")
        assert "No attestation kept yet" in none.text and "privreg attest" in none.text
        assert not drv.find_element(By.ID, "doc").is_displayed()
        check_page(drv, "attestation-none")

    out = env.dir.parent / "console-attestation.json"
    env.privreg("attest", "--dir", env.dir, "--out", out, check=0)
    doc = json.loads(out.read_text())
    drv.get(env.url + "/console/attestation.html")
    visible(drv, "#claims .claim")
    facts = drv.find_element(By.ID, "facts").text
    assert doc["signature"]["key_id"] in facts and doc["as_of"][:10] in facts and doc["period"]["from"][:10] in facts
    claims = drv.find_elements(By.CSS_SELECTOR, "#claims .claim")
    assert [c.get_attribute("data-claim") for c in claims] == [c["name"] for c in doc["claims"]]
    for shown, claim in zip(claims, doc["claims"]):
        verdict = shown.find_element(By.CLASS_NAME, "verdict").text
        assert verdict == ("holds" if claim["holds"] else "does not hold"), (claim["name"], verdict)
        assert ("holds" if claim["holds"] else "fails") in shown.get_attribute("class").split()
        for name, value in claim["evidence"].items():
            if isinstance(value, list):
                assert name in shown.text and f"{claim['evidence'].get(name + '_count', len(value))} in all" in shown.text
    bad = sum(not c["holds"] for c in doc["claims"])
    summary = drv.find_element(By.ID, "summary").text
    assert summary == (f"{bad} of {len(doc['claims'])} claims do not hold." if bad else
                       f"All {len(doc['claims'])} claims hold.")
    assert "privreg attest verify" in drv.find_element(By.ID, "doc").text
    # The link saves the document byte for byte as it was signed, with the session's cookie.
    cookie = drv.get_cookie("privreg_session")
    href = drv.find_element(By.ID, "download").get_attribute("href")
    saved = requests.get(href, cookies={"privreg_session": cookie["value"]}, timeout=30)
    assert saved.status_code == 200 and saved.json() == doc
    check_page(drv, "attestation")


def test_wrong_passwords_are_limited(env, browser):
    drv = browser
    link = add_user(env, "guessed@example.com", "dpo")
    token = link.split("#", 1)[1]
    secret = env.request("POST", "/console/enrolment", json={"token": token}).json()["secret"]
    assert env.request("POST", "/console/enrolment/confirm", json={
        "token": token, "password": PASSWORD, "code": totp(secret)}).status_code == 204
    for i in range(5):
        sign_in_page(drv, env, "guessed@example.com", totp(secret, step_offset=1), password=f"wrong guess {i}!")
        wait(drv, EC.text_to_be_present_in_element((By.ID, "errors"), "not right"))
    check_page(drv, "signin-error")
    sign_in_page(drv, env, "guessed@example.com", totp(secret, step_offset=1))
    wait(drv, EC.text_to_be_present_in_element((By.ID, "errors"), "Too many attempts"))
    assert "index.html" in drv.current_url or drv.current_url.endswith("/console/")
