"""The public privacy notice (issue #10, item 21): GET /notice/{tenant} needs
no key, is what a web site links to, and any cache may keep it: an ETag
(the policy version, language, format and text), Cache-Control, a 304 on
If-None-Match. The HTML page is a whole document (lang, title, headings),
loads nothing from anywhere, and its one stylesheet is allowed by its hash
in a strict Content-Security-Policy. /v1/notice stays for staff."""
import base64
import hashlib
import html
import re

import pytest

from conftest import POLICIES, WEBSHOP, Privreg, Server, _bin, add_key


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("notice") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "elektrum", "--policy", POLICIES / "elektrum.yaml", "--dir", d, check=0)
    s = Server(privreg, d)
    s.admin = add_key(privreg, d, "admin")
    yield s
    code, err = s.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


def test_public_notice_is_a_whole_html_document_with_no_key(srv):
    r = srv.request("GET", "/notice/default")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    page = r.text
    assert page.startswith("<!doctype html>")
    assert '<html lang="et">' in page
    assert re.search(r"<title>Privaatsusteade – SIA BAJTEL\.LV</title>", page)
    assert page.count("<h1>") == 1 and page.count("<h2>") >= 6
    assert '<meta charset="utf-8">' in page and 'name="viewport"' in page
    assert "<main>" in page and '<th scope="col">' in page
    # nothing loaded from anywhere, nothing run
    assert not re.search(r"<(script|img|link|iframe|object)\b", page)
    assert " src=" not in page and " style=" not in page
    assert "Andmekaitse Inspektsioon" in html.unescape(page)


def test_the_csp_allows_exactly_the_page_stylesheet(srv):
    r = srv.request("GET", "/notice/default")
    csp = r.headers["Content-Security-Policy"]
    styles = re.findall(r"<style>(.*?)</style>", r.text, re.S)
    assert len(styles) == 1
    digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
    assert f"style-src 'sha256-{digest}'" in csp
    assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp and "script-src" not in csp
    assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_cacheable_with_an_etag_and_304(srv):
    r = srv.request("GET", "/notice/default")
    etag = r.headers["ETag"]
    assert re.fullmatch(r'"n[0-9a-f]{16}"', etag)
    cc = r.headers["Cache-Control"]
    assert "public" in cc and "max-age=" in cc and "no-store" not in cc
    again = srv.request("GET", "/notice/default")
    assert again.headers["ETag"] == etag and again.text == r.text
    nm = srv.request("GET", "/notice/default", headers={"If-None-Match": etag})
    assert nm.status_code == 304 and nm.content == b""
    assert nm.headers["ETag"] == etag
    listed = srv.request("GET", "/notice/default", headers={"If-None-Match": f'"other", {etag}'})
    assert listed.status_code == 304
    stale = srv.request("GET", "/notice/default", headers={"If-None-Match": '"n0000000000000000"'})
    assert stale.status_code == 200 and stale.text == r.text
    # each language and format is its own representation
    en = srv.request("GET", "/notice/default", params={"lang": "en"})
    md = srv.request("GET", "/notice/default", params={"format": "md"})
    assert len({etag, en.headers["ETag"], md.headers["ETag"]}) == 3
    assert srv.request("GET", "/notice/default", params={"lang": "en"},
                       headers={"If-None-Match": etag}).status_code == 200


def test_language_format_and_tenant(srv):
    en = srv.request("GET", "/notice/default", params={"lang": "en"})
    assert en.status_code == 200 and '<html lang="en">' in en.text and "Privacy notice" in en.text
    md = srv.request("GET", "/notice/default", params={"lang": "en", "format": "md"})
    assert md.status_code == 200 and md.headers["Content-Type"].startswith("text/markdown")
    assert md.text.startswith("# Privacy notice")
    other = srv.request("GET", "/notice/elektrum")
    assert other.status_code == 200 and "Elektrum Eesti OÜ" in html.unescape(other.text)
    assert "SIA BAJTEL.LV" not in other.text
    assert srv.request("GET", "/notice/nobody").status_code == 404
    assert srv.request("GET", "/notice/NOT%20A%20NAME").status_code == 404
    assert srv.request("GET", "/notice/default", params={"lang": "ru"}).status_code == 422
    assert srv.request("GET", "/notice/default", params={"format": "pdf"}).status_code == 422
    assert srv.request("GET", "/notice/default", params={"page": "1"}).status_code in (400, 422)
    assert srv.request("POST", "/notice/default").status_code == 405


def test_the_same_text_as_staff_get_and_staff_route_stays_private(srv):
    public = srv.request("GET", "/notice/default", params={"lang": "en"}).text
    staff = srv.request("GET", "/v1/notice", srv.admin, params={"lang": "en"})
    assert staff.status_code == 200 and staff.text == public
    assert staff.headers["Cache-Control"] == "no-store" and "ETag" not in staff.headers
    assert srv.request("GET", "/v1/notice").status_code == 401
