"""Behind a reverse proxy (issue #11, item 5): X-Forwarded-For and Forwarded
are believed from --trusted-proxies only, for consent evidence and the
failed-authentication limit; that limit never refuses a valid key."""
import http.client
import json
import urllib.parse

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key
from test_consent import Inbox, free_port, grant, link_in, new_subject

CONFIRM_BODY = "confirm=One-Click"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def call(srv, method, path, source="127.0.0.1", headers=None, body=None):
    """One request from a chosen loopback source address (127.0.0.2 is not
    a trusted proxy in these tests); returns (status, body text)."""
    u = urllib.parse.urlsplit(srv.url + path if path.startswith("/") else path)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=30, source_address=(source, 0))
    try:
        conn.request(method, u.path + (f"?{u.query}" if u.query else ""), body=body, headers=headers or {})
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def bearer(key, **more):
    return {"Authorization": "Bearer " + key, **more}


def stop(srv):
    code, log = srv.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


@pytest.fixture
def proxied(tmp_path):
    """A server that trusts 127.0.0.1 as its proxy, delivering mail to an inbox."""
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    port = free_port()
    inbox = Inbox(port).start()
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}", "--smtp-from", "shop@example.ee",
                              "--trusted-proxies", "127.0.0.1/32", "--auth-limit", "3"])
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "support"]}
    srv.inbox = inbox
    yield srv
    stop(srv)
    inbox.stop()


def confirm_from(srv, addr, source, headers):
    """Grants direct marketing to a new subject, opens the e-mailed link from
    `source` with `headers`, and returns the IP recorded for the confirmation."""
    sid = new_subject(srv, addr)
    assert grant(srv, sid).status_code == 201
    msgs = [m for m in srv.inbox.wait(len(srv.inbox.messages) + 1) if m["To"] == addr]
    link = link_in(msgs[-1], "c")
    status, text = call(srv, "POST", link, source=source, headers={**FORM, **headers}, body=CONFIRM_BODY)
    assert status == 200, text
    h = srv.request("GET", f"/v1/subjects/{sid}/consents", srv.keys["support"]).json()
    (confirmed,) = [e for e in h["history"] if e["action"] == "confirmed"]
    return confirmed["ip"]


def test_a_trusted_proxy_names_the_client_in_consent_evidence(proxied):
    assert confirm_from(proxied, "a@example.ee", "127.0.0.1", {"X-Forwarded-For": "203.0.113.9"}) == "203.0.113.0"
    # What the client wrote itself, left of what the proxy appended, is not believed.
    assert confirm_from(proxied, "b@example.ee", "127.0.0.1",
                        {"X-Forwarded-For": "198.51.100.1, 203.0.113.77"}) == "203.0.113.0"
    # Trusted hops are skipped from the right.
    assert confirm_from(proxied, "c@example.ee", "127.0.0.1",
                        {"X-Forwarded-For": "198.51.100.20, 127.0.0.1"}) == "198.51.100.0"
    # RFC 7239.
    assert confirm_from(proxied, "d@example.ee", "127.0.0.1",
                        {"Forwarded": 'for="203.0.113.5:4711";proto=https'}) == "203.0.113.0"


def test_forwarding_headers_from_anyone_else_are_ignored(proxied):
    assert confirm_from(proxied, "e@example.ee", "127.0.0.2", {"X-Forwarded-For": "203.0.113.9"}) == "127.0.0.0"
    assert confirm_from(proxied, "f@example.ee", "127.0.0.2", {"Forwarded": "for=203.0.113.9"}) == "127.0.0.0"


def test_malformed_or_contradicting_headers_give_the_peer(proxied):
    for i, headers in enumerate([{"X-Forwarded-For": "not-an-address"},
                                 {"X-Forwarded-For": "203.0.113.9, 300.1.1.1"},
                                 {"X-Forwarded-For": "," * 5000 + "x"},
                                 {"Forwarded": "for=unknown"},
                                 {"Forwarded": 'for="[2001:db8::1'},
                                 {"X-Forwarded-For": "203.0.113.9", "Forwarded": "for=198.51.100.9"}]):
        assert confirm_from(proxied, f"m{i}@example.ee", "127.0.0.1", headers) == "127.0.0.0", headers


def test_the_limit_keys_on_the_forwarded_client_and_never_refuses_a_valid_key(proxied):
    key = proxied.keys["admin"]
    wrong = key[:-4] + ("aaaa" if not key.endswith("aaaa") else "bbbb")  # well formed, not valid
    guesser = {"X-Forwarded-For": "203.0.113.9"}
    for _ in range(3):
        assert call(proxied, "GET", "/v1/whoami", headers=bearer(wrong, **guesser))[0] == 401
    for bad in [wrong, "prk_wrong"]:
        status, text = call(proxied, "GET", "/v1/whoami", headers=bearer(bad, **guesser))
        assert status == 429 and json.loads(text)["error"]["code"] == "too_many_requests"
    assert call(proxied, "GET", "/v1/whoami", headers=guesser)[0] == 429  # no key at all
    # The guesser's own valid key, and everyone else behind the same proxy, are served.
    for _ in range(20):
        assert call(proxied, "GET", "/v1/whoami", headers=bearer(key, **guesser))[0] == 200
    assert call(proxied, "GET", "/v1/whoami", headers=bearer(key, **{"X-Forwarded-For": "203.0.113.10"}))[0] == 200
    assert call(proxied, "GET", "/v1/whoami", headers=bearer(wrong, **{"X-Forwarded-For": "203.0.113.10"}))[0] == 401
    assert call(proxied, "GET", "/v1/whoami", headers=bearer(key))[0] == 200
    # An untrusted peer cannot dodge its budget by naming another client each time.
    for i in range(3):
        h = bearer(wrong, **{"X-Forwarded-For": f"198.51.100.{i}"})
        assert call(proxied, "GET", "/v1/whoami", source="127.0.0.2", headers=h)[0] == 401
    h = bearer(wrong, **{"X-Forwarded-For": "198.51.100.99"})
    assert call(proxied, "GET", "/v1/whoami", source="127.0.0.2", headers=h)[0] == 429
    assert call(proxied, "GET", "/v1/whoami", source="127.0.0.2", headers=bearer(key))[0] == 200


@pytest.mark.parametrize("bad", ["10.0.0.1/8", "10.0.0.0/33", "::1/129", "nope", "127.0.0.1/32,", "10.0.0.0/x"])
def test_a_bad_trusted_proxies_list_is_refused_at_start(tmp_path, bad):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    r = privreg("serve", "--dir", d, "--listen", "127.0.0.1:0", "--trusted-proxies", bad)
    assert r.returncode != 0 and "--trusted-proxies" in r.stderr, r.stderr
