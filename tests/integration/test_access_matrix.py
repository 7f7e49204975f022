"""The access matrix (issue #15, item 6): every route of src/api/router.c
against every kind of caller, with the expected status declared once, in
MATRIX below. A route without a row, or a row without a route, fails
test_every_route_has_a_row: a new route is not done until its row says who
may use it.

Each cell sends a request that would succeed for a caller allowed to make it
(real ids, a valid body), so that a refusal is the access rule answering and
not a 400/422 in its way. Routes that change or use up what they touch build
a fresh object in the cell. Every cell runs against one server; the
mismatches are collected and reported together.

Callers (the columns):
  none       no Authorization header
  malformed  a Bearer value that is not a key
  revoked    an admin key of this tenant, revoked before the server started
  admin .. auditor   a key of each role of this tenant
  other_key  an admin key of another tenant, sent with this tenant's ids
  other_ids  this tenant's admin key, sent with another tenant's ids
In the last two columns a 2xx answer (a route without ids: a list, a
create) must not name any id of the tenant whose data it is not.
"""
import itertools
import os
import json
import re
import time

import pytest

from conftest import ROOT, WEBSHOP, Privreg, Server, _bin, add_key
from test_consent import sign_link
from test_users import totp

COLUMNS = ("none", "malformed", "revoked", "admin", "dpo", "support", "marketing", "auditor",
           "other_key", "other_ids")

_counter = itertools.count()


def uniq(prefix):
    return f"{prefix}-{next(_counter)}-{time.monotonic_ns() % 10**9}"


class Tenant:
    """One tenant's keys, its long-lived objects and makers of fresh ones."""

    def __init__(self, srv, name, number, admin):
        self.srv, self.name, self.number, self.admin = srv, name, number, admin
        self.master = (srv.dir / "keys" / f"{name}.key").read_text().strip()
        self.ids = set()  # every id this tenant's objects have: none may reach another tenant

    def call(self, method, path, want, **kw):
        r = self.srv.request(method, path, self.admin, **kw)
        assert r.status_code == want, f"setup {method} {path} in {self.name}: {r.status_code} {r.text[:300]}"
        return r.json() if r.text else None

    def subject(self):
        email = uniq(f"matrix-{self.name}") + "@example.ee"
        made = self.call("POST", "/v1/subjects", 201, json={"records": [
            {"kind": "account", "fields": {"email": email, "name": "Mari Tamm", "language": "en"}},
            {"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1, Tallinn",
                                         "items": [{"sku": "KB-1"}], "amount": "49.90"}}]})
        self.ids.add(made["id"])
        self.ids.update(r["id"] for r in made["records"])
        return made["id"], [r["id"] for r in made["records"]], email

    def request(self, type_="access", sid=None, verifying=False):
        if sid is None:
            sid, _, _ = self.subject()
        body = {"type": type_, "subject_id": sid, "verified_by": "ID card at the counter"}
        if verifying:  # no verification given: the request waits for the subject's link
            body = {"type": type_, "subject_id": sid, "channel": "email"}
        r = self.call("POST", "/v1/requests", 201, json=body)
        assert (r["status"] == "verifying") == verifying, r
        self.ids.add(r["id"])
        return r["id"], sid

    def hold(self, sid):
        h = self.call("POST", "/v1/holds", 201, json={"subject_id": sid, "reason": "matrix dispute"})
        self.ids.add(h["id"])
        return h["id"]

    def pending_marketing(self):
        sid, _, _ = self.subject()
        r = self.call("POST", f"/v1/subjects/{sid}/consents", 201,
                      json={"purpose": "direct_marketing", "granted": True, "source": "matrix form"})
        assert r["state"] == "pending", r
        return sid

    def link(self, kind, sid, purpose, expires_in=3600):
        return sign_link(self.master, self.number, kind, sid, purpose, int(time.time()) + expires_in)

    def setup(self):
        """The long-lived objects: read by many cells, changed only in ways
        every later cell can repeat."""
        self.sid, self.rids, self.email = self.subject()
        self.rid = self.rids[0]
        self.req, _ = self.request("access", self.sid)
        self.export_req, self.export_sid = self.request("access")
        self.call("POST", f"/v1/requests/{self.export_req}/complete", 200, json={})
        self.hold_sid, _, _ = self.subject()
        self.hold(self.hold_sid)
        d = self.call("POST", "/v1/disclosures", 200, json={"subject_id": self.sid, "recipient": "courier",
                                                             "purpose": "contract", "fields": ["name"]})
        self.ids.add(d["id"])


# ---- how each route is called: build(t) -> request keywords, t the tenant whose ids are used ----

def plain(path, **params):
    """A request without a body: the path and query, with t's ids."""
    return lambda t: {"path": path.format(t=t), "params": {k: v.format(t=t) for k, v in params.items()}}


def send(path, body):
    """A request with a JSON body, the path with t's ids."""
    return lambda t: {"path": path.format(t=t), "json": body}


def delete_subject(t):
    sid, _, _ = t.subject()
    return {"path": f"/v1/subjects/{sid}"}


def new_request(t):
    sid, _, _ = t.subject()
    return {"path": "/v1/requests", "json": {"type": "access", "subject_id": sid, "verified_by": "passport"}}


def request_change(action, body, verifying=False):
    def build(t):
        rid, _ = t.request("access", verifying=verifying)
        return {"path": f"/v1/requests/{rid}/{action}", "json": body}
    return build


def hold_lift(t):
    return {"path": f"/v1/holds/{t.hold(t.hold_sid)}"}


def page(kind):
    def build(t):
        purpose = t.export_req if kind in "xv" else "direct_marketing"
        sid = t.export_sid if kind in "xv" else t.sid
        return {"path": f"/{kind}/{t.link(kind, sid, purpose)}"}
    return build


def confirm(t):
    # A link of the earlier form stands for the grant made 7 days before its expiry: this one.
    sid = t.pending_marketing()
    return {"path": f"/c/{t.link('c', sid, 'direct_marketing', 7 * 86400)}", "data": {"confirm": "One-Click"}}


def unsubscribe(t):
    sid = t.pending_marketing()
    return {"path": f"/u/{t.link('u', sid, 'direct_marketing')}", "data": "List-Unsubscribe=One-Click",
            "headers": {"Content-Type": "application/x-www-form-urlencoded"}}


def verify(t):
    rid, sid = t.request("access", verifying=True)
    return {"path": f"/v/{t.link('v', sid, rid)}", "data": {"verify": "One-Click"}}


def new_subject(t):
    return {"path": "/v1/subjects", "json": {"records": [
        {"kind": "account", "fields": {"email": uniq("matrix-new") + "@example.ee"}}]}}


def put_subject(t):
    email = uniq("matrix-put") + "@example.ee"
    return {"path": "/v1/subjects", "params": {"email": email},
            "json": {"records": [{"kind": "account", "fields": {"email": email}}]}}


def merge(t):
    into, _, _ = t.subject()
    other, _, _ = t.subject()
    return {"path": f"/v1/subjects/{into}/merge", "json": {"from": other}}


def new_hold(t):
    return {"path": "/v1/holds", "json": {"subject_id": t.hold_sid, "reason": "matrix dispute"}}


def new_disclosure(t):
    return {"path": "/v1/disclosures", "json": {"subject_id": t.sid, "recipient": "courier", "purpose": "contract",
                                                "fields": ["name"]}}


def enrolment_link(t):
    """A fresh staff account of t, invited: its enrolment token."""
    out = t.srv.privreg("user", "add", uniq("matrix-staff") + "@example.ee", "--role", "dpo", "--tenant", t.name,
                        "--dir", t.srv.dir, check=0).stdout
    return out.strip().splitlines()[-1].split("#")[-1]


def enrolment_begin(t):
    return {"path": "/console/enrolment", "json": {"token": enrolment_link(t)}}


def enrolled(t):
    """A fresh staff account of t, enrolled: (e-mail, its TOTP secret)."""
    email = uniq("matrix-staff") + "@example.ee"
    out = t.srv.privreg("user", "add", email, "--role", "dpo", "--tenant", t.name, "--dir", t.srv.dir, check=0).stdout
    token = out.strip().splitlines()[-1].split("#")[-1]
    secret = t.call("POST", "/console/enrolment", 200, json={"token": token})["secret"]
    t.call("POST", "/console/enrolment/confirm", 204, json={"token": token, "password": "matrix password",
                                                       "code": totp(secret)})
    return email, secret


def enrolment_finish(t):
    token = enrolment_link(t)
    secret = t.call("POST", "/console/enrolment", 200, json={"token": token})["secret"]
    return {"path": "/console/enrolment/confirm", "json": {"token": token, "password": "matrix password",
                                                      "code": totp(secret)}}


def sign_in(t):
    email, secret = enrolled(t)
    return {"path": "/console/session", "json": {"email": email, "password": "matrix password",
                                            "code": totp(secret, step_offset=1)}}


def banner_choice(t):
    """A visitor's choice on t's banner, with the wording in force (public: any caller, any tenant)."""
    wording = t.call("GET", "/v1/banner/counts", 200)["wording"]
    return {"path": f"/banner/{t.name}/consent", "json": {"visitor": uniq("visitor-matrix").replace(".", "_")[:32],
                                                         "wording": wording, "categories": {"preferences": False}}}


def new_user(t):
    return {"path": "/v1/users", "json": {"email": uniq("matrix-new") + "@example.ee", "role": "support"}}


def invited_user(t):
    """A fresh account of t, invited (its id)."""
    return t.call("POST", "/v1/users", 201, json={"email": uniq("matrix-inv") + "@example.ee", "role": "support"})["id"]

def portal_signin(t):
    return {"path": f"/portal/{t.name}/api/signin", "json": {"email": uniq("matrix-portal") + "@example.ee"}}


def portal_link(t):
    """A fresh sign-in link of t's privacy center, signed as the server signs it."""
    return {"path": f"/portal/{t.name}/api/session", "json": {"token": t.link("p", t.sid, os.urandom(16).hex(), 900)}}


PATCH = {"fields": {"name": "Mari Kask"}}
PUBLIC = "200 200 200  200 200 200 200 200  200 200"
NO_SESSION = "401 401 401  401 401 401 401 401  401 401"

# (method, pattern): (expected status per column, how to call it)
#                                                    none mal rev  adm dpo sup mkt aud  oth-key oth-ids
MATRIX = {
    ("GET", "/healthz"):                              (PUBLIC, plain("/healthz")),
    # no key: the generic document; a key that is sent must be valid (typed by its tenant's policy)
    ("GET", "/openapi.json"):                         ("200 401 401  200 200 200 200 200  200 200", plain("/openapi.json")),
    ("GET", "/.well-known/gpc.json"):                 (PUBLIC, plain("/.well-known/gpc.json")),
    ("GET", "/metrics"):                              ("401 401 401  200 403 403 403 200  200 200", plain("/metrics")),
    ("GET", "/v1/whoami"):                            ("401 401 401  200 200 200 200 200  200 200", plain("/v1/whoami")),
    ("GET", "/v1/policy"):                            ("401 401 401  200 200 403 403 200  200 200", plain("/v1/policy")),
    ("GET", "/notice/{tenant}"):                      (PUBLIC, plain("/notice/{t.name}")),
    # The cookie banner: public, for any origin (docs/banner.md); a key changes nothing.
    ("GET", "/banner/{file}"):                        (PUBLIC, plain("/banner/{t.name}.js")),
    ("OPTIONS", "/banner/{tenant}/consent"):          ("204 204 204  204 204 204 204 204  204 204",
                                                       plain("/banner/{t.name}/consent")),
    ("POST", "/banner/{tenant}/consent"):             (PUBLIC, banner_choice),
    ("GET", "/v1/banner/counts"):                     ("401 401 401  200 200 403 200 200  200 200",
                                                       plain("/v1/banner/counts")),
    ("GET", "/v1/notice"):                            ("401 401 401  200 200 200 200 200  200 200", plain("/v1/notice")),
    ("GET", "/v1/ropa"):                              ("401 401 401  200 200 403 403 200  200 200", plain("/v1/ropa")),
    ("POST", "/v1/subjects"):                         ("401 401 401  201 201 403 403 403  201 201", new_subject),
    # webshop's email is not unique: an allowed caller reaches the handler,
    # which refuses the field (test_unique.py covers the rest).
    ("PUT", "/v1/subjects"):                          ("401 401 401  422 422 403 403 403  422 422", put_subject),
    ("POST", "/v1/subjects/{id}/merge"):              ("401 401 401  200 200 403 403 403  404 404", merge),
    ("GET", "/v1/subjects"):                          ("401 401 401  200 200 200 403 403  200 200",
                                                       plain("/v1/subjects", email="{t.email}")),
    ("GET", "/v1/subjects/{id}"):                     ("401 401 401  200 200 200 403 403  404 404",
                                                       plain("/v1/subjects/{t.sid}")),
    ("DELETE", "/v1/subjects/{id}"):                  ("401 401 401  204 204 403 403 403  404 404", delete_subject),
    ("POST", "/v1/subjects/{id}/records"):            ("401 401 401  201 201 403 403 403  404 404",
                                                       send("/v1/subjects/{t.sid}/records",
                                                            {"kind": "message", "fields": {"message": "hello"}})),
    ("PATCH", "/v1/subjects/{id}/records/{rid}"):     ("401 401 401  200 200 200 403 403  404 404",
                                                       send("/v1/subjects/{t.sid}/records/{t.rid}", PATCH)),
    # The example policy has no kind with linked: false: an allowed caller gets
    # as far as the kind (422), the others are stopped before it.
    ("POST", "/v1/records"):                          ("401 401 401  422 422 403 403 403  422 422",
                                                       send("/v1/records", {"kind": "message",
                                                                            "fields": {"message": "hello"}})),
    ("GET", "/v1/records"):                           ("401 401 401  200 200 200 403 403  200 200",
                                                       plain("/v1/records", state="anonymized", kind="order")),
    ("GET", "/v1/records/{id}"):                      ("401 401 401  200 200 200 403 403  404 404",
                                                       plain("/v1/records/{t.rid}")),
    ("PATCH", "/v1/records/{id}"):                    ("401 401 401  200 200 200 403 403  404 404",
                                                       send("/v1/records/{t.rid}", PATCH)),
    ("DELETE", "/v1/subjects/{id}/restriction"):      ("401 401 401  204 204 403 403 403  404 404",
                                                       plain("/v1/subjects/{t.sid}/restriction")),
    ("GET", "/v1/audit"):                             ("401 401 401  200 200 403 403 200  200 200",
                                                       plain("/v1/audit", subject="{t.sid}")),
    ("GET", "/v1/audit/verify"):                      ("401 401 401  200 200 403 403 200  200 200", plain("/v1/audit/verify")),
    ("GET", "/v1/attestation"):                       ("401 401 401  200 200 403 403 200  200 200", plain("/v1/attestation")),
    ("POST", "/v1/subjects/{id}/consents"):           ("401 401 401  201 201 201 403 403  404 404",
                                                       send("/v1/subjects/{t.sid}/consents",
                                                            {"purpose": "personalisation", "granted": False,
                                                             "source": "matrix"})),
    ("GET", "/v1/subjects/{id}/consents"):            ("401 401 401  200 200 200 403 403  404 404",
                                                       plain("/v1/subjects/{t.sid}/consents")),
    ("POST", "/v1/subjects/{id}/acceptances"):        ("401 401 401  201 201 201 403 403  404 404",
                                                       send("/v1/subjects/{t.sid}/acceptances", {"source": "matrix"})),
    ("GET", "/v1/consents/check"):                    ("401 401 401  200 200 403 200 403  200 200",
                                                       plain("/v1/consents/check", purpose="personalisation",
                                                           subject="{t.sid}")),
    ("GET", "/v1/audiences/{purpose}"):               ("401 401 401  200 403 403 200 403  200 200",
                                                       plain("/v1/audiences/direct_marketing")),
    ("GET", "/c/{token}"):                            (PUBLIC, page("c")),
    ("POST", "/c/{token}"):                           (PUBLIC, confirm),
    ("GET", "/u/{token}"):                            (PUBLIC, page("u")),
    ("POST", "/u/{token}"):                           (PUBLIC, unsubscribe),
    ("GET", "/x/{token}"):                            (PUBLIC, page("x")),
    ("GET", "/v/{token}"):                            (PUBLIC, page("v")),
    ("POST", "/v/{token}"):                           (PUBLIC, verify),
    ("POST", "/v1/requests"):                         ("401 401 401  201 201 201 403 403  404 404", new_request),
    ("GET", "/v1/requests"):                          ("401 401 401  200 200 403 403 403  200 200", plain("/v1/requests")),
    ("GET", "/v1/requests/{id}"):                     ("401 401 401  200 200 200 403 403  404 404",
                                                       plain("/v1/requests/{t.req}")),
    ("POST", "/v1/requests/{id}/verify"):             ("401 401 401  200 200 200 403 403  404 404",
                                                       request_change("verify", {"verified_by": "passport"},
                                                                      verifying=True)),
    ("POST", "/v1/requests/{id}/extend"):             ("401 401 401  200 200 403 403 403  404 404",
                                                       request_change("extend", {"reason": "archive moving"})),
    ("POST", "/v1/requests/{id}/refuse"):             ("401 401 401  200 200 403 403 403  404 404",
                                                       request_change("refuse", {"reason": "manifestly unfounded"})),
    ("POST", "/v1/requests/{id}/complete"):           ("401 401 401  200 200 403 403 403  404 404",
                                                       request_change("complete", {})),
    # The example policy tells no system (test_webhooks waives real ones):
    # a request without notifications has none to waive, which only staff
    # who may waive are told.
    ("POST", "/v1/requests/{id}/notifications/{n}/waive"): ("401 401 401  404 404 403 403 403  404 404",
                                                       request_change("notifications/1/waive", {"reason": "gone"})),
    ("GET", "/v1/requests/{id}/export"):              ("401 401 401  200 200 403 403 403  404 404",
                                                       plain("/v1/requests/{t.export_req}/export")),
    ("POST", "/v1/holds"):                            ("401 401 401  201 201 403 403 403  404 404",
                                                       new_hold),
    ("GET", "/v1/holds"):                             ("401 401 401  200 200 403 403 200  200 200",
                                                       plain("/v1/holds", subject="{t.hold_sid}")),
    ("DELETE", "/v1/holds/{id}"):                     ("401 401 401  204 204 403 403 403  404 404", hold_lift),
    ("POST", "/v1/disclosures"):                      ("401 401 401  200 200 403 403 403  404 404",
                                                       new_disclosure),
    ("GET", "/v1/subjects/{id}/disclosures"):         ("401 401 401  200 200 200 403 403  404 404",
                                                       plain("/v1/subjects/{t.sid}/disclosures")),
    ("POST", "/v1/retention/sweep"):                  ("401 401 401  200 200 403 403 403  200 200",
                                                       send("/v1/retention/sweep", {"dry_run": True})),
    ("GET", "/v1/retention/forecast"):                ("401 401 401  200 200 403 403 200  200 200",
                                                       plain("/v1/retention/forecast")),
    ("GET", "/v1/retention/overdue"):                 ("401 401 401  200 200 403 403 200  200 200",
                                                       plain("/v1/retention/overdue")),
    # The console's staff accounts: public routes of the console, not the
    # API (a Bearer key changes nothing); the session is the cookie's only,
    # and a key, whatever its role, has none (test_users drives it with one).
    ("GET", "/v1/users"):                             ("401 401 401  200 403 403 403 403  200 200", plain("/v1/users")),
    ("POST", "/v1/users"):                            ("401 401 401  201 403 403 403 403  201 201", new_user),
    ("POST", "/v1/users/{id}/invite"):                ("401 401 401  200 403 403 403 403  404 404",
                                                       lambda t: {"path": f"/v1/users/{invited_user(t)}/invite"}),
    ("POST", "/v1/users/{id}/disable"):               ("401 401 401  204 403 403 403 403  404 404",
                                                       lambda t: {"path": f"/v1/users/{invited_user(t)}/disable"}),
    ("GET", "/v1/policy/source"):                     ("401 401 401  200 200 403 403 200  200 200",
                                                       plain("/v1/policy/source")),
    ("GET", "/v1/disclosures"):                       ("401 401 401  200 200 403 403 200  200 200",
                                                       plain("/v1/disclosures")),
    ("GET", "/v1/notifications"):                     ("401 401 401  200 200 403 403 200  200 200",
                                                       plain("/v1/notifications")),
    ("POST", "/console/enrolment"):                   (PUBLIC, enrolment_begin),
    ("POST", "/console/enrolment/confirm"):           ("204 204 204  204 204 204 204 204  204 204", enrolment_finish),
    ("POST", "/console/session"):                     ("201 201 201  201 201 201 201 201  201 201", sign_in),
    ("GET", "/console/session"):                      ("401 401 401  401 401 401 401 401  401 401", plain("/console/session")),
    ("DELETE", "/console/session"):                   ("401 401 401  401 401 401 401 401  401 401", plain("/console/session")),
    ("GET", "/console/"):                             (PUBLIC, plain("/console/")),
    ("GET", "/console/i18n.json"):                    (PUBLIC, plain("/console/i18n.json", lang="et")),
    ("GET", "/console/{file}"):                       (PUBLIC, plain("/console/queue.html")),
    # The privacy center (docs/portal.md): public routes of the center; the
    # e-mailed link, then the subject's session cookie, is the caller, and a
    # staff key, whatever its role, changes nothing (it has no session).
    ("POST", "/portal/{tenant}/api/signin"):          ("202 202 202  202 202 202 202 202  202 202", portal_signin),
    ("POST", "/portal/{tenant}/api/session"):         ("201 201 201  201 201 201 201 201  201 201", portal_link),
    ("GET", "/portal/{tenant}/api/session"):          (NO_SESSION, plain("/portal/{t.name}/api/session")),
    ("DELETE", "/portal/{tenant}/api/session"):       (NO_SESSION, plain("/portal/{t.name}/api/session")),
    ("GET", "/portal/{tenant}/api/me"):               (NO_SESSION, plain("/portal/{t.name}/api/me")),
    ("GET", "/portal/{tenant}/api/export"):           (NO_SESSION, plain("/portal/{t.name}/api/export", format="json")),
    ("POST", "/portal/{tenant}/api/consents"):        (NO_SESSION, send("/portal/{t.name}/api/consents",
                                                                        {"purpose": "direct_marketing", "granted": False})),
    ("POST", "/portal/{tenant}/api/requests"):        (NO_SESSION, send("/portal/{t.name}/api/requests", {"type": "access"})),
    ("GET", "/portal/{tenant}/"):                     (PUBLIC, plain("/portal/{t.name}/")),
    ("GET", "/portal/{tenant}/i18n.json"):            (PUBLIC, plain("/portal/{t.name}/i18n.json", lang="et")),
    ("GET", "/portal/{tenant}/{file}"):               (PUBLIC, plain("/portal/{t.name}/center.html")),
}

# Routes that answer an id the caller's tenant does not have with a 200 (and
# not a 404), by design: the answer must then be exactly the one an id of
# nobody gets, so that another tenant's subject is indistinguishable from none.
# The consent check tells a mailing tool "not allowed" for any subject it
# cannot see (test_consent checks the same answer for an id of nobody).
UNSEEN = {
    ("GET", "/v1/consents/check"): {"allowed": False, "state": "unknown"},
}


def router_routes():
    """(method, pattern) of every row of router.c's table, its ROUTER_* prefixes spelled out."""
    prefixes = dict(re.findall(r'#define (ROUTER_\w+) "([^"]*)"', (ROOT / "src/api/http.h").read_text()))
    table = (ROOT / "src/api/router.c").read_text()
    rows = re.findall(r'\{"([A-Z]+)",\s*(?:(ROUTER_\w+)\s*)?"([^"]*)"', table)
    return {(m, prefixes[p] + rest if p else rest) for m, p, rest in rows}


def test_every_route_has_a_row():
    routes = router_routes()
    assert len(routes) > 40, routes  # the parse found the table
    missing = sorted(routes - MATRIX.keys())
    stale = sorted(MATRIX.keys() - routes)
    assert not missing and not stale, (
        f"routes without a row in MATRIX (say who may use them): {missing}; "
        f"rows for routes router.c no longer has: {stale}")
    for key, (row, _) in MATRIX.items():
        assert len(row.split()) == len(COLUMNS), key


@pytest.fixture(scope="module")
def matrix_server(tmp_path_factory):
    privreg = Privreg(_bin())
    d = tmp_path_factory.mktemp("matrix") / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", d, check=0)
    keys = {role: add_key(privreg, d, role) for role in COLUMNS[3:8]}
    keys["other"] = add_key(privreg, d, "admin", "other")
    revoked = add_key(privreg, d, "admin")
    privreg("key", "revoke", revoked.split("_")[1], "--dir", d, check=0)
    keys["revoked"] = revoked
    keys["malformed"] = "prk_not-a-key"
    srv = Server(privreg, d, ["--auth-limit", "100000"])
    srv.keys = keys
    try:
        srv.mine = Tenant(srv, "default", 1, keys["admin"])
        srv.theirs = Tenant(srv, "other", 2, keys["other"])
        srv.mine.setup()
        srv.theirs.setup()
        # The links are signed as the server signs them, with the right tenant numbers.
        for t in (srv.mine, srv.theirs):
            assert srv.request("GET", page("c")(t)["path"]).status_code == 200
        yield srv
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]


def run_cell(srv, method, column, build):
    """Sends one cell's request; returns (status, text, the ids it must not show)."""
    key = {"none": None, "other_key": srv.keys["other"], "other_ids": srv.keys["admin"]}.get(column, srv.keys.get(column))
    ids_of = srv.theirs if column == "other_ids" else srv.mine
    kw = build(ids_of)
    path = kw.pop("path")
    r = srv.request(method, path, key, **kw)
    sent = path + repr(kw)
    # Another tenant's caller may get an answer of its own (a list, a create), never one of these ids.
    foreign = set()
    if column == "other_key":
        foreign = srv.mine.ids
    elif column == "other_ids":
        foreign = srv.theirs.ids
    return r.status_code, r.text, {i for i in foreign if i not in sent}, path


def test_access_matrix(matrix_server):
    srv = matrix_server
    wrong = []
    for (method, pattern), (row, build) in MATRIX.items():
        public = row == PUBLIC
        for column, want in zip(COLUMNS, map(int, row.split())):
            status, text, foreign, path = run_cell(srv, method, column, build)
            if status != want:
                wrong.append(f"{method} {pattern} [{column}]: got {status}, want {want} ({path}: {text[:160]})")
            elif 200 <= status < 300 and not public:
                leaked = sorted(i for i in foreign if i in text)
                if leaked:
                    wrong.append(f"{method} {pattern} [{column}]: the answer names the other tenant's ids {leaked}")
                unseen = UNSEEN.get((method, pattern))
                if column in ("other_key", "other_ids") and unseen is not None and json.loads(text) != unseen:
                    wrong.append(f"{method} {pattern} [{column}]: got {text[:160]}, want {unseen} (as for an id of nobody)")
    assert not wrong, f"{len(wrong)} cells differ from MATRIX:\n" + "\n".join(wrong)
