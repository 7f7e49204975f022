"""The cookie banner (issue #14 item 3, docs/banner.md): /banner/TENANT.js
on a company's page from another origin, the visitor's choice kept under a
random visitor id with its evidence and nothing that names a person, Global
Privacy Control honoured as a refusal (the Sec-GPC header, without a click),
re-asked when the wording changes, counted for staff, deleted by the sweep
after BANNER_KEEP_DAYS. The browser tests drive Debian's headless Chromium
(python3-selenium) against a page served by a second, plain HTTP server."""
import http.server
import json
import re
import secrets
import shutil
import sqlite3
import threading

import pytest
import requests

from conftest import WEBSHOP, Privreg, Server, _bin, add_key


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("banner") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.privreg = privreg
    srv.keys = {role: add_key(privreg, d, role) for role in ("admin", "support", "marketing")}
    yield srv
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


def config(text):
    m = re.search(r"var config = (\{.*?\});\n", text)
    assert m, text[:400]
    return json.loads(m.group(1))


def counts(env):
    r = env.request("GET", "/v1/banner/counts", env.keys["admin"])
    assert r.status_code == 200, r.text
    return r.json()


def visitor():
    return secrets.token_urlsafe(16)


def choose(env, cats, gpc=False, headers=None, **over):
    body = {"visitor": visitor(), "wording": counts(env)["wording"], "gpc": gpc, "categories": cats}
    body.update(over)
    h = {"Origin": "https://shop.example.com"}
    h.update(headers or {})
    return env.request("POST", "/banner/default/consent", json=body, headers=h)


def test_the_script_is_public_cacheable_and_names_the_categories(env):
    r = env.request("GET", "/banner/default.js", headers={"Origin": "https://shop.example.com"})
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/javascript")
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert r.headers["Cache-Control"] == "public, max-age=300"
    assert r.headers["Vary"] == "Sec-GPC"
    assert len(r.content) < 20000  # small: one file, no dependencies
    cfg = config(r.text)
    assert cfg["tenant"] == "default" and cfg["gpc"] is False
    assert [(c["name"], c["consent"]) for c in cfg["categories"]] == [("necessary", False), ("preferences", True)]
    assert cfg["categories"][1]["title"] == {"et": "Eelistused", "en": "Preferences"}
    assert set(cfg["texts"]) == {"en", "et", "lv", "fi", "ru"}
    for texts in cfg["texts"].values():
        assert texts["banner.accept"] and texts["banner.reject"] and texts["banner.choose"]
    assert cfg["wording"] == counts(env)["wording"]
    again = env.request("GET", "/banner/default.js", headers={"If-None-Match": r.headers["ETag"]})
    assert again.status_code == 304
    assert config(env.request("GET", "/banner/default.js", headers={"Sec-GPC": "1"}).text)["gpc"] is True
    assert env.request("GET", "/banner/nobody.js").status_code == 404
    assert env.request("GET", "/banner/default").status_code == 404


def test_a_preflight_from_any_origin_is_allowed(env):
    r = env.request("OPTIONS", "/banner/default/consent",
                    headers={"Origin": "https://shop.example.com", "Access-Control-Request-Method": "POST",
                             "Access-Control-Request-Headers": "content-type"})
    assert r.status_code == 204
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert "POST" in r.headers["Access-Control-Allow-Methods"]
    assert "Content-Type" in r.headers["Access-Control-Allow-Headers"]


def test_choices_are_kept_and_counted(env):
    before = {(c["category"]): c for c in counts(env)["counts"]}.get("preferences", {"accepted": 0, "refused": 0})
    r = choose(env, {"preferences": True})
    assert r.status_code == 200, r.text
    assert r.headers["Access-Control-Allow-Origin"] == "*"
    assert r.json() == {"categories": {"preferences": True}, "gpc": False, "policy_version": r.json()["policy_version"]}
    assert choose(env, {"preferences": False}).status_code == 200
    after = {(c["category"]): c for c in counts(env)["counts"]}["preferences"]
    assert after["accepted"] == before["accepted"] + 1 and after["refused"] == before["refused"] + 1
    c = counts(env)
    assert c["categories"] == ["preferences"] and c["keep_days"] == 395


def test_a_visitors_new_choice_replaces_the_old(env):
    v = visitor()
    w = counts(env)["wording"]
    base = {(c["category"]): c for c in counts(env)["counts"]}["preferences"]
    for accepted in (True, False):
        r = env.request("POST", "/banner/default/consent",
                        json={"visitor": v, "wording": w, "categories": {"preferences": accepted}})
        assert r.status_code == 200, r.text
    now = {(c["category"]): c for c in counts(env)["counts"]}["preferences"]
    assert now["accepted"] == base["accepted"] and now["refused"] == base["refused"] + 1


def test_gpc_is_a_refusal_whatever_was_clicked(env):
    r = choose(env, {"preferences": True}, headers={"Sec-GPC": "1"})
    assert r.status_code == 200, r.text
    assert r.json()["categories"] == {"preferences": False} and r.json()["gpc"] is True
    r = choose(env, {"preferences": True}, gpc=True)
    assert r.json()["categories"] == {"preferences": False}


def test_bad_choices_are_refused(env):
    assert choose(env, {}).status_code == 422                                   # a category missing
    assert choose(env, {"preferences": True, "necessary": True}).status_code == 422  # needs no consent
    assert choose(env, {"preferences": True, "ads": False}).status_code == 422  # not in the policy
    assert choose(env, {"preferences": "yes"}).status_code == 422
    assert choose(env, {"preferences": True}, visitor="short").status_code == 422
    assert choose(env, {"preferences": True}, visitor="x" * 33).status_code == 422
    assert choose(env, {"preferences": True}, visitor="a b c d e f g h i j").status_code == 422
    assert choose(env, {"preferences": True}, ip="10.0.0.1").status_code == 422  # unknown keys
    r = choose(env, {"preferences": True}, wording="0000000000000000")
    assert r.status_code == 409 and r.headers["Access-Control-Allow-Origin"] == "*"
    big = env.request("POST", "/banner/default/consent", data=b"{" + b" " * (1024 * 1024 + 1) + b"}",
                      headers={"Content-Type": "application/json"})
    assert big.status_code == 413
    assert env.request("POST", "/banner/nobody/consent",
                       json={"visitor": visitor(), "wording": "x", "categories": {}}).status_code == 404


def test_only_staff_with_the_right_role_see_the_counts(env):
    assert env.request("GET", "/v1/banner/counts").status_code == 401
    assert env.request("GET", "/v1/banner/counts", env.keys["support"]).status_code == 403
    assert env.request("GET", "/v1/banner/counts", env.keys["marketing"]).status_code == 200


@pytest.mark.sqlite_only("reads the SQLite file")
def test_nothing_that_names_a_person_is_kept_and_the_sweep_deletes_old_choices(env):
    v = visitor()
    r = env.request("POST", "/banner/default/consent",
                    headers={"User-Agent": "Banner-Test-Agent/1.0", "X-Forwarded-For": "198.51.100.7"},
                    json={"visitor": v, "wording": counts(env)["wording"], "categories": {"preferences": True}})
    assert r.status_code == 200, r.text
    db = sqlite3.connect(env.dir / "privreg.db", timeout=30)
    cols = [row[1] for row in db.execute("PRAGMA table_info(banner_consents)")]
    assert cols == ["tenant_id", "visitor", "category", "accepted", "gpc", "policy_version", "wording", "at"]
    row = db.execute("SELECT visitor, category, accepted, gpc FROM banner_consents WHERE visitor = ?", (v,)).fetchone()
    assert row == (v, "preferences", 1, 0)
    raw = (env.dir / "privreg.db").read_bytes() + (env.dir / "privreg.db-wal").read_bytes()
    assert b"Banner-Test-Agent" not in raw and b"198.51.100.7" not in raw and b"127.0.0.1" not in raw
    # 396 days old: past BANNER_KEEP_DAYS (395), so the sweep deletes it
    with db:
        db.execute("UPDATE banner_consents SET at = at - 396 * 86400 WHERE visitor = ?", (v,))
    db.close()
    r = env.request("POST", "/v1/retention/sweep", env.keys["admin"], json={})
    assert r.status_code == 200, r.text
    db = sqlite3.connect(env.dir / "privreg.db", timeout=30)
    assert db.execute("SELECT COUNT(*) FROM banner_consents WHERE visitor = ?", (v,)).fetchone()[0] == 0
    assert db.execute("SELECT COUNT(*) FROM banner_consents").fetchone()[0] > 0  # the others stay
    db.close()
    audit = env.request("GET", "/v1/audit", env.keys["admin"], params={"limit": 200}).json()
    assert any(e["action"] == "retention.banner_expire" for e in audit["entries"]), audit


# ---- in a browser, on a page of another origin ----

class Site:
    """The company's web site: one page on another origin, embedding the banner."""

    def __init__(self, banner_url):
        page = (f'<!DOCTYPE html><html lang="et"><head><meta charset="utf-8"><title>Pood</title>'
                f'<script src="{banner_url}"></script></head>'
                f'<body><main><h1>Pood</h1><p>Tere!</p></main></body></html>').encode()

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *a):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
        # "localhost" and "127.0.0.1" are different origins: the banner's server is the other
        self.url = f"http://localhost:{self.httpd.server_address[1]}/"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture()
def browser():
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service
    for b in ("chromium", "chromedriver"):
        if not shutil.which(b):
            pytest.skip(f"{b} is not installed (scripts/install-deps installs it)")
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1280,900"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opts)
    drv.set_page_load_timeout(60)
    yield drv
    drv.quit()


def shadow(drv, timeout=20):
    from selenium.webdriver.support.ui import WebDriverWait
    from selenium.webdriver.common.by import By
    host = WebDriverWait(drv, timeout).until(lambda d: d.find_element(By.ID, "privreg-banner"))
    return host.shadow_root


def refused(env):
    return {(c["category"]): c for c in counts(env)["counts"]}.get("preferences", {"refused": 0})["refused"]


def wait_for(fn, timeout=20):
    import time
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = fn()
        if v:
            return v
        time.sleep(0.2)
    return fn()


def test_the_banner_on_another_origins_page_records_a_refusal(env, browser):
    from selenium.webdriver.common.by import By
    site = Site(env.url + "/banner/default.js")
    try:
        before = refused(env)
        browser.get(site.url)
        root = shadow(browser)
        tc = pytest.importorskip("test_console")
        tc.check_page(browser, "banner-on-a-site")  # axe-core and our own checks; screenshots at 390 and 1280 px
        root = shadow(browser)
        buttons = root.find_elements(By.CSS_SELECTOR, "button")
        names = [b.text for b in buttons]
        assert names == ["Nõustu kõigiga", "Keeldu kõigist", "Vali ise"], names  # the page's <html lang>
        # reject is as prominent as accept: same size, same colours
        acc, rej = buttons[0], buttons[1]
        assert acc.size == rej.size
        for prop in ("background-color", "color", "border-color", "font-weight"):
            assert acc.value_of_css_property(prop) == rej.value_of_css_property(prop), prop
        rej.click()
        assert wait_for(lambda: refused(env) == before + 1), (before, counts(env))
        assert browser.execute_script('return window.privreg.consent("preferences")') is False
        assert browser.execute_script('return window.privreg.consent("necessary")') is True
        cookie = browser.get_cookie("privreg_consent_default")
        assert cookie and "preferences%3D0" in cookie["value"] or "preferences=0" in cookie["value"], cookie
        # shown once: the next page asks nothing, and offers the settings instead
        browser.get(site.url)
        root = shadow(browser)
        wait_for(lambda: root.find_elements(By.CSS_SELECTOR, "button.open"))
        assert not root.find_elements(By.CSS_SELECTOR, "section.b")
        root.find_element(By.CSS_SELECTOR, "button.open").click()
        box = root.find_element(By.CSS_SELECTOR, "input[name=preferences]")
        tc.check_page(browser, "banner-settings")
        root = shadow(browser)
        box = root.find_element(By.CSS_SELECTOR, "input[name=preferences]")
        assert not box.is_selected()
        box.click()
        root.find_element(By.CSS_SELECTOR, "button[data-action=save]").click()
        wait_for(lambda: browser.execute_script('return window.privreg.consent("preferences")'))
        assert browser.execute_script('return window.privreg.consent("preferences")') is True
        # a changed wording asks again
        browser.add_cookie({"name": "privreg_consent_default", "path": "/",
                            "value": cookie["value"].replace(counts(env)["wording"], "0" * 16)})
        browser.get(site.url)
        root = shadow(browser)
        wait_for(lambda: root.find_elements(By.CSS_SELECTOR, "section.b"))
    finally:
        site.close()


def test_a_gpc_request_records_a_refusal_without_a_click(env, browser):
    from selenium.webdriver.common.by import By
    site = Site(env.url + "/banner/default.js")
    try:
        before = refused(env)
        browser.execute_cdp_cmd("Network.enable", {})
        browser.execute_cdp_cmd("Network.setExtraHTTPHeaders", {"headers": {"Sec-GPC": "1"}})
        browser.get(site.url)
        assert wait_for(lambda: refused(env) == before + 1), (before, counts(env))
        root = shadow(browser)
        assert not root.find_elements(By.CSS_SELECTOR, "section.b")  # nothing was asked
        assert browser.execute_script('return window.privreg.consent("preferences")') is False
        gpc = {(c["category"]): c for c in counts(env)["counts"]}["preferences"]["gpc"]
        assert gpc >= 1
    finally:
        site.close()


def test_choices_are_limited_per_address(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    srv = Server(privreg, d)
    try:
        key = add_key(privreg, d, "admin")
        wording = srv.request("GET", "/v1/banner/counts", key).json()["wording"]
        s = requests.Session()
        codes = [s.post(srv.url + "/banner/default/consent", timeout=30,
                        json={"visitor": visitor(), "wording": wording, "categories": {"preferences": False}}).status_code
                 for _ in range(121)]
        assert codes[:120] == [200] * 120 and codes[120] == 429, codes
        r = s.post(srv.url + "/banner/default/consent", timeout=30,
                   json={"visitor": visitor(), "wording": wording, "categories": {"preferences": False}})
        assert r.status_code == 429 and int(r.headers["Retry-After"]) > 0
        assert r.headers["Access-Control-Allow-Origin"] == "*"
        assert srv.request("GET", "/banner/default.js").status_code == 200  # the script is not limited
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
