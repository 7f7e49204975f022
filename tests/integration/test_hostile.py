"""Hostile probes (issue #15): what a client can send that the server must
refuse cleanly, each answer a JSON error with its code and message."""
import json
import re

import pytest

from conftest import WEBSHOP, Privreg, Server, add_key  # noqa: F401


def error_body(r):
    """Every 4xx of the API carries {"error": {"code", "message"}}."""
    assert r.headers.get("Content-Type", "").startswith("application/json"), (r.status_code, r.text)
    e = r.json()["error"]
    assert isinstance(e["code"], str) and e["code"]
    assert isinstance(e["message"], str) and e["message"]
    return e


def get_routes(api):
    spec = api.request("GET", "/openapi.json").json()
    for path, ops in spec["paths"].items():
        if "get" not in ops:
            continue
        params = ops["get"].get("parameters", []) + ops.get("parameters", [])
        query = [p["name"] for p in params if isinstance(p, dict) and p.get("in") == "query"]
        concrete = re.sub(r"\{token\}", "1.AAAA", path)
        concrete = re.sub(r"\{purpose\}", "newsletter", concrete)
        concrete = re.sub(r"\{[a-z]+\}", "sub_01hzzzzzzzzzzzzzzzzzzzzzzz", concrete)
        yield path, concrete, query


def test_invalid_utf8_in_a_path_has_an_error_body(api):
    r = api.request("GET", "/v1/audiences/%ff%fe", api.keys["admin"])
    assert r.status_code == 422
    assert "\ufffd" in error_body(r)["message"]


def test_invalid_utf8_in_a_query_name_has_an_error_body(api):
    r = api.request("GET", "/v1/audit?%ff%fe=1", api.keys["admin"])
    assert r.status_code == 422
    error_body(r)


def test_unknown_and_repeated_query_parameters_refused_on_every_get_route(api):
    admin = api.keys["admin"]
    checked = 0
    for pattern, path, query in get_routes(api):
        r = api.request("GET", path + "?colour=red", admin)
        assert r.status_code == 422, (pattern, r.status_code, r.text)
        assert "colour" in error_body(r)["message"], pattern
        for name in query:
            r = api.request("GET", f"{path}?{name}=1&{name}=2", admin)
            assert r.status_code == 422, (pattern, name, r.status_code, r.text)
            assert f"'{name}'" in error_body(r)["message"], (pattern, name)
        checked += 1
    assert checked >= 25
    # The two routes that take a lookup field by its name refuse it twice too.
    r = api.request("GET", "/v1/subjects?email=a@example.ee&email=b@example.ee", admin)
    assert r.status_code == 422 and "'email'" in error_body(r)["message"]
    r = api.request("GET", "/v1/consents/check?purpose=newsletter&purpose=newsletter&subject=x", admin)
    assert r.status_code == 422 and "'purpose'" in error_body(r)["message"]


def test_declared_query_parameters_still_work(api):
    admin = api.keys["admin"]
    assert api.request("GET", "/v1/audit", admin, params={"limit": 2}).status_code == 200
    assert api.request("GET", "/v1/holds", admin, params={"subject": "sub_01hzzzzzzzzzzzzzzzzzzzzzzz"}).status_code == 200
    assert api.request("GET", "/v1/retention/forecast", admin, params={"months": 3}).status_code == 200
    assert api.request("GET", "/v1/notice", admin, params={"lang": "en", "format": "md"}).status_code == 200


ORDER_TEXT = ('{"kind": "order", "fields": {"name": "N", "delivery_address": "A", "items": %s, '
              '"amount": %s, "payment_method": "card"}, "created_at": "2024-03-01T10:00:00Z"}')


@pytest.mark.parametrize("amount,items", [
    ("-1e-999999", "[]"), ("1e-400", "[]"), ("1e999", "[]"), ("-1e999", "[]"),
    ("\"1.50\"", "[{\"qty\": 1e-999}]"), ("\"1.50\"", "[{\"qty\": 2.5e-320}]")])
def test_numbers_that_a_double_cannot_hold_are_refused(api, amount, items):
    admin = api.keys["admin"]
    r = api.request("POST", "/v1/subjects", admin,
                    json={"records": [{"kind": "account", "fields": {"email": "numbers@example.ee", "name": "N"}}]})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]
    r = api.request("POST", f"/v1/subjects/{sid}/records", admin, data=ORDER_TEXT % (items, amount),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 422, (amount, items, r.status_code, r.text)
    assert "too large or too close to zero" in error_body(r)["message"]
    kinds = [x["kind"] for x in api.request("GET", f"/v1/subjects/{sid}", admin).json()["records"]]
    assert kinds == ["account"]
    # What a double holds goes through as before.
    r = api.request("POST", f"/v1/subjects/{sid}/records", admin, data=ORDER_TEXT % ("[{\"qty\": 1e-300}]", "12.50"),
                    headers={"Content-Type": "application/json"})
    assert r.status_code == 201, r.text
    assert api.request("DELETE", f"/v1/subjects/{sid}", admin).status_code == 204


@pytest.mark.sqlite_only("lists the SQLite file among the register's files")
def test_files_are_private_whatever_the_umask(tmp_path):
    """privreg.conf, the database and the key files are created owner-only
    even under umask 000."""
    import os
    import stat
    import subprocess

    from conftest import _bin
    d = tmp_path / "reg"
    run = lambda *a: subprocess.run([_bin(), *map(str, a)], capture_output=True, text=True, umask=0, timeout=120)
    assert run("init", "--dir", d, "--policy", WEBSHOP).returncode == 0
    assert run("tenant", "add", "other", "--policy", WEBSHOP, "--dir", d).returncode == 0
    assert run("key", "add", "--role", "admin", "--dir", d).returncode == 0
    files = [p for p in d.rglob("*")]
    assert {p.name for p in files} >= {"privreg.conf", "privreg.db", "default.key", "other.key"}
    for p in files:
        mode = stat.S_IMODE(os.stat(p).st_mode)
        assert mode & 0o077 == 0, (p.name, oct(mode))


@pytest.mark.parametrize("method, path", [("POST", "/v1/subjects"), ("PUT", "/v1/subjects?email=many@example.ee")])
@pytest.mark.parametrize("count", [65, 100, 2000])
def test_more_records_than_a_subject_takes_at_once_is_413_and_the_server_lives(api, method, path, count):
    """The count was kept before it was checked, and the handlers released
    that many holders of a 64-slot array on the stack: 65 records
    overflowed it (ASan), 100 crashed a release build, every tenant's
    server with it."""
    recs = [{"kind": "order", "fields": {"items": [1]}}] * count
    r = api.request(method, path, api.keys["admin"], json={"records": recs})
    assert r.status_code == 413, (r.status_code, r.text)
    assert "more than 64 records" in error_body(r)["message"]
    assert api.request("GET", "/healthz").status_code == 200


# ---- the security review of the HTTP API ----

def raw(api, head, body=b""):
    """Sends bytes as they are (requests refuses a NUL in a header or a
    path) and returns (status, headers text, body bytes) of the answer."""
    import socket
    from urllib.parse import urlparse
    u = urlparse(api.url)
    with socket.create_connection((u.hostname, u.port), timeout=10) as s:
        s.sendall(head + body)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
            if b"\r\n\r\n" in data:
                hdr, rest = data.split(b"\r\n\r\n", 1)
                m = re.search(rb"(?i)content-length: *(\d+)", hdr)
                if m and len(rest) >= int(m.group(1)):
                    break
    hdr, _, rest = data.partition(b"\r\n\r\n")
    return int(hdr.split(b" ", 2)[1]), hdr.decode("latin-1"), rest


ALICE = {"kind": "account", "fields": {"email": "alice.a@example.ee", "name": "Alice A", "language": "en"}}


def test_a_nul_in_a_query_value_is_refused_not_cut(api):
    admin = api.keys["admin"]
    r = api.request("POST", "/v1/subjects", admin, json={"records": [ALICE]})
    assert r.status_code in (201, 409), r.text
    assert api.request("GET", "/v1/subjects?email=alice.a%40example.ee", admin).status_code == 200
    r = api.request("GET", "/v1/subjects?email=alice.a%40example.ee%00junk", admin)
    assert r.status_code == 422, r.text
    assert "NUL" in error_body(r)["message"] and "alice" not in r.text
    r = api.request("GET", "/v1/consents/check?purpose=direct_marketing%00&email=alice.a%40example.ee",
                    api.keys["marketing"])
    assert r.status_code == 422, r.text
    error_body(r)
    # In a name, and in a path segment, likewise.
    assert api.request("GET", "/v1/audit?limit%00x=1", admin).status_code == 422
    r = api.request("GET", "/v1/subjects/sub_01hzzzzzzzzzzzzzzzzzzzzzzz%00", admin)
    assert r.status_code == 422 and "NUL" in error_body(r)["message"]


def test_a_raw_nul_in_the_path_or_a_header_is_refused(api):
    key = api.keys["admin"].encode()
    ok = b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + b"\r\nConnection: close\r\n\r\n"
    assert raw(api, ok)[0] == 200
    status, _, body = raw(api, b"GET /v1/whoami\0x HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
                          b"\r\nConnection: close\r\n\r\n")
    assert status == 422 and b"NUL" in body, body
    # The key with more after a NUL is not the key: as the last header and
    # as one in the middle.
    for head in [b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer " + key +
                 b"\0x\r\n\r\n",
                 b"GET /v1/whoami HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key +
                 b"\0x\r\nConnection: close\r\n\r\n",
                 b"GET /v1/whoami HTTP/1.1\nHost: x\nAuthorization: Bearer " + key + b"\0x\nConnection: close\n\n"]:
        status, _, body = raw(api, head)
        assert status == 400, (head, status, body)
        assert json.loads(body)["error"]["message"] == "a header has a NUL character"
    # A raw NUL in the query, and the same request without it.
    q = b"GET /v1/audit?limit=1%s HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + key + b"\r\nConnection: close\r\n\r\n"
    assert raw(api, q % b"")[0] == 200
    assert raw(api, q % b"\0junk")[0] == 422
    # Empty and space-padded values are no NUL.
    assert raw(api, b"GET /v1/whoami HTTP/1.1\r\nX-Empty:\r\nHost: x\r\nX-Pad: v \t \r\nAuthorization: Bearer " +
               key + b"\r\nConnection: close\r\nX-Last:   \r\n\r\n")[0] == 200
    # Bare line feeds alone are still served.
    assert raw(api, b"GET /v1/whoami HTTP/1.1\nHost: x\nAuthorization: Bearer " + key +
               b"\nConnection: close\n\n")[0] == 200


def test_malformed_json_errors_quote_nothing_of_the_body(api):
    admin = api.keys["admin"]
    for text in ['{"records": [{"kind": "account", "fields": {"name": "Mari Salajane\\x"}}]}',
                 '{"records": [{"kind": "account", "fields": {"email": "salajane\\u0000@example.ee"}}]}',
                 '{"records": [{"kind": "account", "fields": {"name": "Mari Salajane"}}]} trailing',
                 '{"records": [{"kind": "account", "fields": {"name": "Mari Salajane", "name": "x"}}]}']:
        r = requests_post(api, "/v1/subjects", admin, text)
        assert r.status_code == 400, (text, r.text)
        msg = error_body(r)["message"]
        assert msg.startswith("malformed JSON at line 1 column "), msg
        assert "Salajane" not in r.text and "salajane" not in r.text and "near" not in msg, msg


def requests_post(api, path, key, text):
    import requests
    return requests.post(api.url + path, data=text.encode(), timeout=30,
                         headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"})


def test_six_hundred_query_parameters_get_a_prompt_answer(api):
    import time
    query = "&".join(f"p{i}={i}" for i in range(600))
    for path in ["/v1/audit", "/v1/subjects", "/healthz"]:
        t = time.monotonic()
        r = api.request("GET", f"{path}?{query}", api.keys["admin"])
        assert time.monotonic() - t < 5, path
        assert r.status_code == 422, (path, r.status_code, r.text)
        assert error_body(r)["message"] == "more than 16 query parameters"
    # Over libmicrohttpd's line buffer, its own prompt 414.
    t = time.monotonic()
    r = api.request("GET", "/v1/audit?limit=" + "1" * 40000, api.keys["admin"])
    assert time.monotonic() - t < 5 and r.status_code in (414, 431), r.status_code
    assert api.request("GET", "/healthz").status_code == 200


@pytest.mark.parametrize("bad", ["\x1b[2J", "\x07", "\x7f"])
def test_control_characters_in_free_texts_are_refused_naming_the_field(api, bad):
    """Record fields refuse them already; the free texts staff and subjects
    give (stored, shown, mailed) follow the same rule. Tab and line breaks
    stay allowed."""
    admin = api.keys["admin"]
    r = api.request("POST", "/v1/subjects", admin,
                    json={"records": [dict(ALICE, fields=dict(ALICE["fields"], email=f"cc{ord(bad[-1])}@example.ee"))]})
    assert r.status_code == 201, r.text
    sid = r.json()["id"]

    def refused(method, path, body, field):
        r = api.request(method, path, admin, json=body)
        assert r.status_code == 422, (path, field, r.status_code, r.text)
        msg = error_body(r)["message"]
        assert msg.startswith(field + ":") and "control characters" in msg, (path, msg)

    consent = {"purpose": "direct_marketing", "granted": True, "source": "checkout form", "text": "Send me offers"}
    refused("POST", f"/v1/subjects/{sid}/consents", dict(consent, source="checkout" + bad), "source")
    refused("POST", f"/v1/subjects/{sid}/consents", dict(consent, text="offers" + bad), "text")
    refused("POST", f"/v1/subjects/{sid}/acceptances", {"source": "signup" + bad}, "source")
    refused("POST", "/v1/holds", {"subject_id": sid, "reason": "dispute" + bad}, "reason")
    refused("POST", "/v1/disclosures", {"subject_id": sid, "recipient": "authorities", "purpose": "accounting",
                                        "fields": ["name"], "legal_reference": "Tax Act" + bad}, "legal_reference")
    refused("POST", "/v1/requests", {"type": "access", "subject_id": sid, "verified_by": "ID card" + bad},
            "verified_by")
    req = api.request("POST", "/v1/requests", admin, json={"type": "access", "subject_id": sid,
                                                          "verified_by": "ID card\tat the counter"})
    assert req.status_code == 201, req.text
    rid = req.json()["id"]
    refused("POST", f"/v1/requests/{rid}/extend", {"reason": "busy" + bad}, "reason")
    refused("POST", f"/v1/requests/{rid}/refuse", {"reason": "no" + bad}, "reason")
    # Nothing was stored; the same texts without the character pass.
    assert api.request("GET", f"/v1/subjects/{sid}/consents", admin).json()["history"] == []
    assert api.request("GET", "/v1/holds", admin, params={"subject": sid}).json()["holds"] == []
    r = api.request("POST", f"/v1/requests/{rid}/extend", admin, json={"reason": "busy,\r\n\tsorry"})
    assert r.status_code == 200, r.text
