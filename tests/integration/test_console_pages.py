"""The console's remaining pages and what they stand on (issue #14 item 4):
staff TOTP secrets are sealed in the database (schema 20), and a register
whose secrets were written in the clear has them sealed at the next start."""
import base64
import json
import os
import sqlite3

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key
from test_users import totp

PASSWORD = "long enough passphrase"


@pytest.fixture()
def reg(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    return privreg, d


def start(privreg, d):
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.privreg = privreg
    return srv


def stop(srv):
    code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
    return err


def enrol(srv, email, role="dpo"):
    """A staff account, enrolled: its TOTP secret (base32)."""
    out = srv.privreg("user", "add", email, "--role", role, "--dir", srv.dir, check=0).stdout
    token = out.strip().splitlines()[-1].split("#")[-1]
    r = srv.request("POST", "/console/enrolment", json={"token": token})
    assert r.status_code == 200, r.text
    secret = r.json()["secret"]
    r = srv.request("POST", "/console/enrolment/confirm",
                    json={"token": token, "password": PASSWORD, "code": totp(secret)})
    assert r.status_code == 204, r.text
    return secret


def sign_in(srv, email, secret, step_offset=1):
    return srv.request("POST", "/console/session",
                       json={"email": email, "password": PASSWORD, "code": totp(secret, step_offset=step_offset)})


def database_bytes(d):
    raw = (d / "privreg.db").read_bytes()
    wal = d / "privreg.db-wal"
    return raw + (wal.read_bytes() if wal.exists() else b"")


@pytest.mark.sqlite_only("reads the SQLite file")
def test_the_database_does_not_hold_the_totp_secret(reg):
    privreg, d = reg
    srv = start(privreg, d)
    try:
        secret = enrol(srv, "dpo@example.com")
        raw = base64.b32decode(secret.replace(" ", ""))
        assert len(raw) == 20
        assert raw not in database_bytes(d)
        db = sqlite3.connect(d / "privreg.db", timeout=30)
        (n,) = db.execute("SELECT length(totp_secret) FROM staff_users").fetchone()
        db.close()
        assert n == 20 + 40  # sealed: nonce and tag around it
        assert sign_in(srv, "dpo@example.com", secret).status_code == 201
    finally:
        stop(srv)


@pytest.mark.sqlite_only("rewinds the SQLite file's schema")
def test_secrets_written_in_the_clear_are_sealed_at_the_next_start(reg):
    privreg, d = reg
    srv = start(privreg, d)
    try:
        secret = enrol(srv, "old@example.com")
    finally:
        stop(srv)
    raw = base64.b32decode(secret.replace(" ", ""))
    # The register as schema 19 left it: the secret in the clear, migration 20 not run.
    db = sqlite3.connect(d / "privreg.db", timeout=30)
    with db:
        db.execute("UPDATE staff_users SET totp_secret = ?", (raw,))
        db.execute("DELETE FROM schema_migrations WHERE version = 20")
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    assert raw in database_bytes(d)
    srv = start(privreg, d)
    try:
        # the server loads the tenant's keys at their first use, the sign-in,
        # and seals the secret before the sign-in reads it
        assert sign_in(srv, "old@example.com", secret).status_code == 201
        db = sqlite3.connect(d / "privreg.db", timeout=30)
        (n,) = db.execute("SELECT length(totp_secret) FROM staff_users").fetchone()
        (queued,) = db.execute("SELECT COUNT(*) FROM seal_queue").fetchone()
        db.close()
        assert n == 60 and queued == 0
    finally:
        err = stop(srv)
    assert "1 staff TOTP secrets" in err, err[-2000:]
    # Checkpointed and vacuumed: the old page images go, and with them the clear text.
    db = sqlite3.connect(d / "privreg.db", timeout=30)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.execute("VACUUM")
    db.close()
    assert raw not in database_bytes(d)


# ---- the API the new pages read ----

@pytest.fixture()
def api(reg):
    privreg, d = reg
    srv = start(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ("admin", "dpo", "support", "marketing", "auditor")}
    yield srv
    stop(srv)


def subject(srv, email):
    r = srv.request("POST", "/v1/subjects", srv.keys["admin"], json={"records": [
        {"kind": "account", "fields": {"email": email, "name": "Mari Tamm", "language": "en"}}]})
    assert r.status_code == 201, r.text
    return r.json()["id"]


def test_the_disclosure_log_is_filtered_and_paged(api):
    sids = [subject(api, f"log{i}@example.ee") for i in range(3)]
    made = []
    for i, sid in enumerate(sids):
        r = api.request("POST", "/v1/disclosures", api.keys["dpo"],
                        json={"subject_id": sid, "recipient": "courier" if i < 2 else "accountant",
                              "purpose": "contract" if i < 2 else "accounting", "fields": ["name"]})
        assert r.status_code == 200, r.text
        made.append(r.json()["id"])
    log = api.request("GET", "/v1/disclosures", api.keys["auditor"])
    assert log.status_code == 200, log.text
    got = log.json()["disclosures"]
    assert [d["id"] for d in got] == made[::-1]  # newest first
    assert got[0]["subject_id"] == sids[2] and got[0]["recipient"] == "accountant"
    only = api.request("GET", "/v1/disclosures", api.keys["dpo"], params={"recipient": "courier"}).json()
    assert [d["id"] for d in only["disclosures"]] == made[1::-1]
    page = api.request("GET", "/v1/disclosures", api.keys["dpo"], params={"limit": 2}).json()
    assert [d["id"] for d in page["disclosures"]] == made[:0:-1] and page["next_before"] == made[1]
    rest = api.request("GET", "/v1/disclosures", api.keys["dpo"],
                       params={"limit": 2, "before": page["next_before"]}).json()
    assert [d["id"] for d in rest["disclosures"]] == made[:1] and "next_before" not in rest
    assert api.request("GET", "/v1/disclosures", api.keys["dpo"], params={"until": "2000-01-01"}).json() == \
        {"disclosures": []}
    for bad in ({"limit": 0}, {"limit": 501}, {"before": "nope"}, {"since": "yesterday"}, {"recipient": "x" * 65}):
        assert api.request("GET", "/v1/disclosures", api.keys["dpo"], params=bad).status_code == 422, bad
    assert api.request("GET", "/v1/disclosures", api.keys["support"]).status_code == 403


def test_the_policy_source_is_the_installed_yaml(api):
    r = api.request("GET", "/v1/policy/source", api.keys["auditor"])
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("application/yaml")
    assert r.text == WEBSHOP.read_text()
    assert api.request("GET", "/v1/policy/source", api.keys["support"]).status_code == 403


def test_admin_adds_invites_and_disables_staff_through_the_api(api):
    r = api.request("POST", "/v1/users", api.keys["admin"], json={"email": "new@example.com", "role": "support"})
    assert r.status_code == 201, r.text
    uid, link = r.json()["id"], r.json()["link"]
    assert link.startswith(api.url + "/console/enrol.html#") and r.json()["valid_hours"] == 72
    token = link.split("#")[1]
    secret = api.request("POST", "/console/enrolment", json={"token": token}).json()["secret"]
    assert api.request("POST", "/console/enrolment/confirm",
                       json={"token": token, "password": PASSWORD, "code": totp(secret)}).status_code == 204
    assert sign_in(api, "new@example.com", secret).status_code == 201
    assert api.request("POST", "/v1/users", api.keys["admin"],
                       json={"email": "new@example.com", "role": "support"}).status_code == 409
    assert api.request("POST", "/v1/users", api.keys["admin"],
                       json={"email": "x@example.com", "role": "boss"}).status_code == 422
    assert api.request("POST", "/v1/users", api.keys["admin"],
                       json={"email": "x@example.com", "role": "dpo", "note": "hi"}).status_code == 422
    again = api.request("POST", f"/v1/users/{uid}/invite", api.keys["admin"])
    assert again.status_code == 200 and again.json()["link"] != link
    assert api.request("POST", "/console/enrolment", json={"token": token}).status_code == 404  # the old link
    assert api.request("POST", f"/v1/users/{uid}/disable", api.keys["admin"]).status_code == 204
    users = {u["id"]: u for u in api.request("GET", "/v1/users", api.keys["admin"]).json()["users"]}
    assert users[uid]["status"] == "disabled"
    assert api.request("POST", f"/v1/users/{uid}/invite", api.keys["admin"]).status_code == 409
    assert api.request("POST", "/v1/users/usr_nobody/disable", api.keys["admin"]).status_code == 404
    for role in ("dpo", "support", "auditor"):
        assert api.request("POST", "/v1/users", api.keys[role],
                           json={"email": "y@example.com", "role": "dpo"}).status_code == 403
    entries = api.request("GET", "/v1/audit", api.keys["admin"], params={"limit": 500}).json()["entries"]
    assert [e["action"] for e in entries if e["action"] in ("user.add", "user.invite", "user.disable")] == \
        ["user.add", "user.invite", "user.disable"]
    assert not any("new@example.com" in json.dumps(e) for e in entries)


def test_notifications_pending_acknowledgement(tmp_path):
    from test_webhooks import complete, customer, free_port, policy_with_systems, request
    privreg = Privreg(_bin())
    policy, _ = policy_with_systems(tmp_path, free_port())  # nobody listens: nothing is acknowledged
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    srv = start(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ("admin", "dpo", "support", "auditor")}
    try:
        sid, _ = customer(srv)
        rid = request(srv, sid, "erasure")
        complete(srv, rid)
        r = srv.request("GET", "/v1/notifications", srv.keys["auditor"])
        assert r.status_code == 200, r.text
        pending = r.json()["notifications"]
        assert pending and r.json()["truncated"] is False
        assert {n["request_id"] for n in pending} == {rid}
        assert {n["target"] for n in pending} >= {"shop_db", "newsletter"}
        assert all(n["status"] in ("pending", "failed") for n in pending)
        first = pending[0]
        w = srv.request("POST", f"/v1/requests/{rid}/notifications/{first['id']}/waive", srv.keys["dpo"],
                        json={"reason": "the system was retired"})
        assert w.status_code == 200, w.text
        after = srv.request("GET", "/v1/notifications", srv.keys["dpo"]).json()["notifications"]
        assert first["id"] not in [n["id"] for n in after] and len(after) == len(pending) - 1
        assert srv.request("GET", "/v1/notifications", srv.keys["support"]).status_code == 403
    finally:
        stop(srv)


# ---- the pages, in a browser: screenshots and accessibility as every console page ----

@pytest.fixture()
def site(tmp_path):
    """A register whose systems nobody answers (deliveries wait), with a
    disclosure and a banner choice, and a browser."""
    tc = pytest.importorskip("test_console")
    tc.chromium_or_skip()
    from test_webhooks import complete, customer, free_port, policy_with_systems, request
    privreg = Privreg(_bin())
    policy, _ = policy_with_systems(tmp_path, free_port())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    srv = start(privreg, d)
    srv.keys = {r: add_key(privreg, d, r) for r in ("admin", "dpo", "support", "auditor")}
    srv.admin = srv.keys["admin"]
    sid, _ = customer(srv)
    r = srv.request("POST", "/v1/disclosures", srv.keys["dpo"],
                    json={"subject_id": sid, "recipient": "courier", "purpose": "contract", "fields": ["name"]})
    assert r.status_code == 200, r.text
    srv.rid = request(srv, sid, "erasure")
    complete(srv, srv.rid)
    wording = srv.request("GET", "/v1/banner/counts", srv.admin).json()["wording"]
    for accepted in (True, False, False):
        assert srv.request("POST", "/banner/default/consent", json={
            "visitor": base64.urlsafe_b64encode(os.urandom(16)).decode().rstrip("="), "wording": wording,
            "categories": {"preferences": accepted}}).status_code == 200
    yield srv
    stop(srv)


def make_browser():
    import shutil
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    opts = webdriver.ChromeOptions()
    opts.binary_location = shutil.which("chromium")
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1280,900", "--lang=en-GB"):
        opts.add_argument(a)
    drv = webdriver.Chrome(service=Service(executable_path=shutil.which("chromedriver")), options=opts)
    drv.set_page_load_timeout(60)
    return drv


def staff(srv, email, role):
    secret = enrol(srv, email, role)
    return totp(secret, step_offset=1)


def test_the_new_pages_are_served_with_their_headers(api):
    for name in ("disclosures.html", "deliveries.html", "policy.html", "banner.html"):
        r = api.request("GET", "/console/" + name)
        assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/html"), name
        assert "default-src 'self'" in r.headers["Content-Security-Policy"], name
        assert r.text.count("<nav ") == 1 and 'data-page="' in r.text and "{{" not in r.text, name


def test_the_pages_for_an_admin(site):
    tc = pytest.importorskip("test_console")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    drv = make_browser()
    try:
        code = staff(site, "admin.pages@example.com", "admin")
        tc.sign_in_page(drv, site, "admin.pages@example.com", code)
        tc.wait(drv, EC.url_contains("queue.html"))

        tc.visible(drv, "#nav a[href='disclosures.html']").click()
        tc.visible(drv, "#log tbody tr")
        assert "courier" in drv.find_element(By.ID, "log").text
        tc.check_page(drv, "disclosures")

        drv.get(site.url + "/console/deliveries.html")
        tc.visible(drv, "#pending tbody tr")
        rows = len(drv.find_elements(By.CSS_SELECTOR, "#pending tbody tr"))
        assert site.rid in drv.find_element(By.ID, "pending").text
        tc.check_page(drv, "deliveries")
        drv.find_element(By.CSS_SELECTOR, "#pending tbody tr button").click()
        tc.visible(drv, "#reason").send_keys("the system was retired")
        drv.find_element(By.CSS_SELECTOR, "#waive button[type=submit]").click()
        tc.wait(drv, lambda d: len(d.find_elements(By.CSS_SELECTOR, "#pending tbody tr")) == rows - 1)

        drv.get(site.url + "/console/policy.html")
        tc.visible(drv, "#notice h2")
        tc.wait(drv, lambda d: "cookies:" in d.find_element(By.ID, "source").text)
        assert not drv.find_elements(By.CSS_SELECTOR, "#notice h1, #notice main")
        tc.check_page(drv, "policy")

        drv.get(site.url + "/console/banner.html")
        tc.visible(drv, "#counts tbody tr")
        cells = [td.text for td in drv.find_elements(By.CSS_SELECTOR, "#counts tbody td")]
        assert cells[1:4] == ["preferences", "1", "2"], cells
        assert "/banner/default.js" in drv.find_element(By.ID, "snippet").text
        assert drv.find_elements(By.CSS_SELECTOR, "#chart svg rect")
        tc.check_page(drv, "banner")

        drv.get(site.url + "/console/users.html")
        tc.visible(drv, "#users tbody tr")
        drv.find_element(By.ID, "new-email").send_keys("new.person@example.com")
        drv.find_element(By.CSS_SELECTOR, "#add button[type=submit]").click()
        tc.visible(drv, "#link-box")
        assert "/console/enrol.html#" in drv.find_element(By.ID, "link").text
        tc.wait(drv, lambda d: "new.person@example.com" in d.find_element(By.ID, "users").text)
        row = [tr for tr in drv.find_elements(By.CSS_SELECTOR, "#users tbody tr")
               if "new.person@example.com" in tr.text][0]
        row.find_elements(By.CSS_SELECTOR, "button")[1].click()   # disable: asks once more
        row.find_elements(By.CSS_SELECTOR, "button")[1].click()
        tc.wait(drv, lambda d: "disabled" in d.find_element(By.ID, "status").text)
        tc.check_page(drv, "users-admin")
    finally:
        drv.quit()


def test_roles_see_only_their_pages(site):
    tc = pytest.importorskip("test_console")
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as EC
    drv = make_browser()
    try:
        code = staff(site, "auditor.pages@example.com", "auditor")
        tc.sign_in_page(drv, site, "auditor.pages@example.com", code)
        tc.wait(drv, EC.url_contains("queue.html"))
        shown = {a.get_attribute("href").rsplit("/", 1)[1] for a in drv.find_elements(By.CSS_SELECTOR, "#nav a")
                 if a.is_displayed()}
        assert {"disclosures.html", "deliveries.html", "policy.html", "banner.html"} <= shown
        assert "users.html" not in shown
        drv.get(site.url + "/console/deliveries.html")
        tc.visible(drv, "#pending tbody tr")
        assert not drv.find_elements(By.CSS_SELECTOR, "#pending tbody button")  # an auditor waives nothing
    finally:
        drv.quit()
    drv = make_browser()
    try:
        code = staff(site, "support.pages@example.com", "support")
        tc.sign_in_page(drv, site, "support.pages@example.com", code)
        tc.wait(drv, EC.url_contains("queue.html"))
        for page in ("disclosures.html", "deliveries.html", "policy.html", "banner.html"):
            assert not drv.find_element(By.CSS_SELECTOR, f"#nav a[href='{page}']").is_displayed(), page
        drv.get(site.url + "/console/banner.html")
        tc.visible(drv, "#errors")  # the API refuses it too
    finally:
        drv.quit()
