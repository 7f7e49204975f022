"""The OpenAPI document as code generators read it (issue #13): every
operation named, tagged and summarised; every schema says what it holds;
every reference resolves; every route and every query parameter a route
reads is declared. Python's standard library only: no npm in CI.

(That every route of the table is in the document, and nothing else, is
checked by test_api.py's test_health_and_openapi_cover_every_route and by
tests/unit/test_router.c.)"""
import json
import re
from pathlib import Path

import pytest

from conftest import ROOT

METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
COMPOSERS = ("$ref", "allOf", "oneOf", "anyOf", "properties", "additionalProperties", "patternProperties")


def route_table():
    """(method, pattern, query) of every row of src/api/router.c; query is
    None, "*" (any lookup field of the policy) or a list of names."""
    text = (ROOT / "src/api/router.c").read_text()
    http_h = (ROOT / "src/api/http.h").read_text()
    prefixes = dict(re.findall(r'#define (ROUTER_[A-Z]+) "([^"]*)"', http_h))
    rows = re.findall(r'^\s*\{"(GET|POST|PATCH|DELETE|PUT|OPTIONS)",\s*((?:ROUTER_[A-Z]+\s*)?"[^"]*")\s*,'
                      r'[^{}]*?,\s*(NULL|"[^"]*")\},\s*$', text, re.M)
    out = []
    for method, pattern, query in rows:
        m = re.fullmatch(r'(?:(ROUTER_[A-Z]+)\s*)?"([^"]*)"', pattern)
        path = prefixes[m.group(1)] + m.group(2) if m.group(1) else m.group(2)
        q = None if query == "NULL" else query.strip('"')
        out.append((method.lower(), path, None if q is None else q if q == "*" else q.split()))
    assert len(out) == len(re.findall(r'^\s*\{"[A-Z]+",', text, re.M)) and len(out) >= 45, len(out)
    return out


@pytest.fixture(scope="module", params=["generic", "typed"])
def doc(api, request):
    """Each test runs on both documents: the generic one (no key) and the one
    typed by the tenant's policy (any staff key)."""
    r = api.request("GET", "/openapi.json", api.keys["auditor"] if request.param == "typed" else None)
    assert r.status_code == 200
    d = r.json()
    assert ("Record_order" in d["components"]["schemas"]) == (request.param == "typed")
    return d


def typed(doc):
    return "Record_order" in doc["components"]["schemas"]


def operations(doc):
    for path, item in doc["paths"].items():
        for method, op in item.items():
            if method in METHODS:
                yield path, method, op


def walk(node, where="#"):
    """Every dict in the document, with a JSON pointer to it."""
    if isinstance(node, dict):
        yield where, node
        for k, v in node.items():
            yield from walk(v, f"{where}/{k.replace('~', '~0').replace('/', '~1')}")
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from walk(v, f"{where}/{i}")


def schemas(doc):
    """Every schema object of the document, found by where schemas live."""
    def inner(s, where):
        if not isinstance(s, dict):
            return
        yield where, s
        for k in ("properties", "patternProperties", "$defs"):
            for name, sub in s.get(k, {}).items():
                yield from inner(sub, f"{where}/{k}/{name}")
        for k in ("items", "additionalProperties", "not", "contains"):
            if isinstance(s.get(k), dict):
                yield from inner(s[k], f"{where}/{k}")
        for k in ("allOf", "oneOf", "anyOf", "prefixItems"):
            for i, sub in enumerate(s.get(k, [])):
                yield from inner(sub, f"{where}/{k}/{i}")

    for name, s in doc.get("components", {}).get("schemas", {}).items():
        yield from inner(s, f"#/components/schemas/{name}")
    for where, node in walk(doc):
        if "/components/schemas/" in where:
            continue
        if isinstance(node.get("schema"), dict):
            yield from inner(node["schema"], where + "/schema")


def resolve(doc, ref):
    assert ref.startswith("#/"), ref
    node = doc
    for part in ref[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def deref(doc, node):
    while isinstance(node, dict) and "$ref" in node:
        node = resolve(doc, node["$ref"])
    return node


def test_structure(doc):
    assert re.fullmatch(r"3\.[01]\.\d+", doc["openapi"])
    assert doc["info"]["title"] and doc["info"]["version"] and doc["info"]["description"]
    assert doc["servers"] and all("url" in s for s in doc["servers"])
    assert isinstance(doc["paths"], dict) and doc["paths"]
    for path in doc["paths"]:
        assert path.startswith("/"), path
    declared = {t["name"] for t in doc["tags"]}
    assert all(t.get("description") for t in doc["tags"])
    assert declared >= {"subjects", "records", "consents", "requests", "holds", "disclosures", "retention",
                        "audit", "policy", "notice", "meta", "public links"}
    schemes = doc["components"]["securitySchemes"]
    assert schemes["bearer"] == {**schemes["bearer"], "type": "http", "scheme": "bearer"}
    for path, method, op in operations(doc):
        for status in op["responses"]:
            assert re.fullmatch(r"[1-5]\d\d|default", status), (method, path, status)


def test_every_operation_has_a_unique_id_tags_and_summary(doc):
    ids = {}
    declared = {t["name"] for t in doc["tags"]}
    for path, method, op in operations(doc):
        oid = op.get("operationId")
        assert oid and re.fullmatch(r"[a-z][A-Za-z0-9]*", oid), (method, path, oid)
        assert oid not in ids, (oid, ids.get(oid), (method, path))
        ids[oid] = (method, path)
        assert op.get("tags") and set(op["tags"]) <= declared, (method, path, op.get("tags"))
        assert op.get("summary") and len(op["summary"]) <= 80, (method, path, op.get("summary"))
        assert "responses" in op and op["responses"], (method, path)


def test_security_on_every_keyed_route_and_none_on_public_ones(doc):
    public = {(m.lower(), p) for m, p in re.findall(
        r'\{"(GET|POST|PATCH|DELETE|OPTIONS)", "([^"]+)", h_\w+, R_PUBLIC',
        (ROOT / "src/api/router.c").read_text())}
    http_h = (ROOT / "src/api/http.h").read_text()
    for name, prefix in re.findall(r'#define (ROUTER_[A-Z]+) "([^"]*)"', http_h):
        for m in re.findall(rf'\{{"(GET|POST)", {name} "\{{token\}}", h_\w+, R_PUBLIC',
                            (ROOT / "src/api/router.c").read_text()):
            public.add((m.lower(), prefix + "{token}"))
    assert len(public) == 32  # 10, the console's 8 (docs/console.md), the banner's 3 (docs/banner.md) and the privacy center's 11 (docs/portal.md)
    assert doc["security"] == [{"bearer": []}]
    for path, method, op in operations(doc):
        if (method, path) == ("get", "/openapi.json"):
            # no key needed; one that is sent is checked (and types the document)
            assert op["security"] == [{}, {"bearer": []}] and "401" in op["responses"]
        elif (method, path) in public:
            assert op.get("security") == [], (method, path)
        else:
            assert op.get("security", doc["security"]) == [{"bearer": []}], (method, path)
            assert "401" in op["responses"], (method, path)


def test_no_schema_is_a_bare_object(doc):
    seen = 0
    for where, s in schemas(doc):
        seen += 1
        t = s.get("type")
        if t == "object" or (isinstance(t, list) and "object" in t):
            assert any(k in s for k in COMPOSERS), f"{where} is a bare object"
    assert seen > 200


def test_every_ref_resolves(doc):
    refs = [(w, n["$ref"]) for w, n in walk(doc) if isinstance(n.get("$ref"), str)]
    assert len(refs) > 100
    for where, ref in refs:
        assert resolve(doc, ref) is not None, where
    # and every component is used
    used = {ref for _, ref in refs}
    for kind, comps in doc["components"].items():
        if kind == "securitySchemes":
            continue
        for name in comps:
            assert f"#/components/{kind}/{name}" in used, f"components/{kind}/{name} is unused"


def test_errors_share_one_schema(doc):
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["additionalProperties"] is False
    assert set(error["properties"]["error"]["required"]) == {"code", "message"}
    checked = 0
    for path, method, op in operations(doc):
        for status, resp in op["responses"].items():
            if not status.startswith(("4", "5")):
                continue
            resp = deref(doc, resp)
            body = resp.get("content", {}).get("application/json")
            assert body and body["schema"] == {"$ref": "#/components/schemas/Error"}, (method, path, status)
            checked += 1
    assert checked > 150


def test_request_bodies_and_answers_are_typed(doc):
    """Every JSON body (sent or received) is a reference to a named schema or
    a schema with properties: the bodies of issue #13 most of all."""
    for path, method, op in operations(doc):
        bodies = []
        if "requestBody" in op:
            bodies.append(("requestBody", deref(doc, op["requestBody"])))
        for status, resp in op["responses"].items():
            bodies.append((status, deref(doc, resp)))
        for what, body in bodies:
            for ctype, media in body.get("content", {}).items():
                if ctype == "application/json":
                    s = deref(doc, media["schema"])
                    assert any(k in s for k in COMPOSERS), (method, path, what)
    for path, method in [("/v1/requests", "post"), ("/v1/requests/{id}/complete", "post"), ("/v1/holds", "post"),
                         ("/v1/disclosures", "post"), ("/v1/retention/sweep", "post")]:
        s = deref(doc, doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])
        assert "properties" in s, path
    # Bodies whose handler refuses unknown keys say so.
    for path, method in [("/v1/holds", "post"), ("/v1/disclosures", "post"), ("/v1/retention/sweep", "post"),
                         ("/v1/subjects", "post"), ("/v1/subjects/{id}/consents", "post"),
                         ("/v1/requests/{id}/extend", "post"), ("/v1/requests/{id}/refuse", "post"),
                         ("/v1/requests/{id}/verify", "post"), ("/v1/subjects/{id}/acceptances", "post")]:
        s = deref(doc, doc["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"])
        assert s.get("additionalProperties") is False, path


def test_record_fields_are_typed(doc):
    if typed(doc):  # test_typed_document_follows_the_policy
        assert set(doc["components"]["schemas"]["Record"]) == {"description", "oneOf", "discriminator"}
        return
    record = doc["components"]["schemas"]["Record"]
    fields = deref(doc, record["properties"]["fields"])
    values = deref(doc, fields["additionalProperties"])
    kinds = {deref(doc, v).get("type") for v in values["oneOf"]}
    assert kinds == {"string", "number", "boolean", "array", "object"}
    assert "GET /v1/policy" in fields["description"]


def test_every_route_is_documented(doc):
    for method, path, _ in route_table():
        assert method in doc["paths"].get(path, {}), (method, path)


def test_every_query_parameter_a_route_reads_is_declared(api, doc):
    fields = api.request("GET", "/v1/policy", api.keys["admin"]).json()["fields"]
    lookups = {n for n, f in fields.items() if f["lookup"]}
    unique = {n for n, f in fields.items() if f.get("unique")}
    checked = 0
    for method, path, query in route_table():
        item = doc["paths"][path]
        params = [deref(doc, p) for p in item.get("parameters", []) + item[method].get("parameters", [])]
        declared = {p["name"] for p in params if p["in"] == "query"}
        for p in params:
            assert p["in"] in {"query", "path", "header"} and p.get("schema"), (method, path, p)
            if p["in"] == "path":
                assert p["required"] is True and "{" + p["name"] + "}" in path, (method, path, p["name"])
        assert {n for n in re.findall(r"\{(\w+)\}", path)} <= {p["name"] for p in params if p["in"] == "path"}
        if query is None:
            assert not declared, (method, path, declared)
        elif query == "*" and typed(doc):
            # The policy's lookup fields (PUT: those that are unique too).
            assert declared - {"subject", "purpose"} == (unique if method == "put" else lookups), (method, path)
        elif query == "*":
            # Any lookup field of the policy (webshop's: email, phone, username).
            assert {"email", "phone"} <= declared, (method, path, declared)
        else:
            assert declared == set(query), (method, path, declared, query)
        checked += 1
    assert checked >= 45


def validate(doc, schema, value, where="$"):
    """The part of JSON Schema this document uses: $ref, type, enum, const,
    properties, required, additionalProperties, items, oneOf, allOf.
    Returns a list of problems."""
    s = deref(doc, schema)
    if s is True or s == {}:
        return []
    if s is False:
        return [f"{where}: not allowed"]
    problems = []
    names = {dict: "object", list: "array", str: "string", bool: "boolean", type(None): "null"}
    t = s.get("type")
    if t is not None:
        kind = names.get(type(value)) or ("integer" if isinstance(value, int) else "number")
        ok = set(t if isinstance(t, list) else [t])
        if kind not in ok and not (kind == "integer" and "number" in ok):
            return [f"{where}: {kind} is not {t}"]
    if "enum" in s and value not in s["enum"]:
        problems.append(f"{where}: {value!r} not in {s['enum']}")
    if "const" in s and value != s["const"]:
        problems.append(f"{where}: {value!r} is not {s['const']!r}")
    if "oneOf" in s:
        matches = [sub for sub in s["oneOf"] if not validate(doc, sub, value, where)]
        if len(matches) != 1:
            problems.append(f"{where}: matches {len(matches)} of oneOf")
    for sub in s.get("allOf", []):
        problems += validate(doc, sub, value, where)
    if isinstance(value, dict):
        props = s.get("properties", {})
        for k in s.get("required", []):
            if k not in value:
                problems.append(f"{where}: {k} is missing")
        for k, v in value.items():
            if k in props:
                problems += validate(doc, props[k], v, f"{where}.{k}")
            elif "additionalProperties" in s:
                # allOf branches see only their own properties: check unknown keys at the top only
                if s["additionalProperties"] is False and "allOf" not in s:
                    problems.append(f"{where}: unexpected {k}")
                elif isinstance(s["additionalProperties"], dict):
                    problems += validate(doc, s["additionalProperties"], v, f"{where}.{k}")
    if isinstance(value, list) and "items" in s:
        for i, v in enumerate(value):
            problems += validate(doc, s["items"], v, f"{where}[{i}]")
    return problems


def test_answers_match_the_document(api, doc):
    """A walk through the API, each answer checked against the schema the
    document gives for its operation and status."""
    admin, dpo = api.keys["admin"], api.keys["dpo"]
    seen = set()

    def call(method, path, template, key=admin, status=None, **kw):
        r = api.request(method, path, key, **kw)
        assert status is None or r.status_code == status, (method, path, r.status_code, r.text)
        op = doc["paths"][template][method.lower()]
        resp = deref(doc, op["responses"][str(r.status_code)])
        ctype = r.headers.get("Content-Type", "").split(";")[0]
        if ctype == "application/json":
            problems = validate(doc, resp["content"]["application/json"]["schema"], r.json())
            assert not problems, (method, template, r.status_code, problems[:5])
        else:
            assert r.status_code == 204 or ctype in resp.get("content", {}), (method, template, ctype)
        seen.add((method.lower(), template))
        return r

    s = call("POST", "/v1/subjects", "/v1/subjects", status=201, json={"records": [
        {"kind": "account", "fields": {"email": "openapi@example.ee", "name": "Open Api", "language": "et"}},
        {"kind": "order", "fields": {"name": "Open Api", "delivery_address": "Pikk 1", "amount": "1.00",
                                     "items": [{"sku": "A", "qty": 2}], "payment_method": "card"},
         "created_at": "2024-03-01T10:00:00Z", "events": {"fulfilled": "2024-03-02"}}]}).json()
    sid, rid = s["id"], s["records"][1]["id"]
    call("GET", "/v1/subjects", "/v1/subjects", params={"email": "openapi@example.ee"}, status=200)
    call("GET", f"/v1/subjects/{sid}", "/v1/subjects/{id}", status=200)
    call("GET", f"/v1/records/{rid}", "/v1/records/{id}", status=200)
    call("PATCH", f"/v1/records/{rid}", "/v1/records/{id}", json={"events": {"delivered": "2024-03-03"}}, status=200)
    call("POST", f"/v1/subjects/{sid}/records", "/v1/subjects/{id}/records", status=201,
         json={"kind": "complaint", "fields": {"message": "late"}})
    call("POST", f"/v1/subjects/{sid}/consents", "/v1/subjects/{id}/consents", status=201,
         json={"purpose": "direct_marketing", "granted": True, "source": "test form"})
    call("GET", f"/v1/subjects/{sid}/consents", "/v1/subjects/{id}/consents", status=200)
    call("POST", f"/v1/subjects/{sid}/acceptances", "/v1/subjects/{id}/acceptances", json={"source": "signup"},
         status=201)
    call("GET", "/v1/consents/check", "/v1/consents/check", params={"purpose": "direct_marketing", "subject": sid},
         status=200)
    call("GET", "/v1/audiences/direct_marketing", "/v1/audiences/{purpose}", status=200)
    h = call("POST", "/v1/holds", "/v1/holds", json={"record_id": rid, "reason": "dispute"}, status=201).json()
    call("GET", "/v1/holds", "/v1/holds", params={"subject": sid}, status=200)
    call("DELETE", f"/v1/holds/{h['id']}", "/v1/holds/{id}", status=204)
    call("POST", "/v1/disclosures", "/v1/disclosures", status=200, json={
        "subject_id": sid, "recipient": "courier", "purpose": "contract", "fields": ["name", "delivery_address"]})
    call("GET", f"/v1/subjects/{sid}/disclosures", "/v1/subjects/{id}/disclosures", status=200)
    rq = call("POST", "/v1/requests", "/v1/requests", json={"type": "access", "email": "openapi@example.ee"},
              status=201).json()
    call("GET", "/v1/requests", "/v1/requests", params={"limit": 1}, status=200)
    call("POST", f"/v1/requests/{rq['id']}/verify", "/v1/requests/{id}/verify", json={"verified_by": "id card"},
         status=200)
    call("POST", f"/v1/requests/{rq['id']}/extend", "/v1/requests/{id}/extend", json={"reason": "complex"},
         status=200)
    call("POST", f"/v1/requests/{rq['id']}/complete", "/v1/requests/{id}/complete", json={}, status=200)
    call("GET", f"/v1/requests/{rq['id']}", "/v1/requests/{id}", status=200)
    call("GET", f"/v1/requests/{rq['id']}/export", "/v1/requests/{id}/export", status=200)
    call("POST", "/v1/retention/sweep", "/v1/retention/sweep", json={"dry_run": True}, status=200)
    call("GET", "/v1/retention/forecast", "/v1/retention/forecast", status=200)
    call("GET", "/v1/retention/overdue", "/v1/retention/overdue", status=200)
    call("GET", "/v1/audit", "/v1/audit", params={"subject": sid}, status=200)
    call("GET", "/v1/audit/verify", "/v1/audit/verify", status=200)
    call("GET", "/v1/policy", "/v1/policy", status=200)
    for fmt in ("json", "dpv"):
        call("GET", "/v1/ropa", "/v1/ropa", params={"format": fmt}, status=200)
    call("GET", "/v1/ropa", "/v1/ropa", params={"view": "processor"}, status=200)
    call("GET", "/v1/whoami", "/v1/whoami", status=200)
    call("GET", "/healthz", "/healthz", status=200)
    call("GET", "/.well-known/gpc.json", "/.well-known/gpc.json", status=200)
    call("GET", "/openapi.json", "/openapi.json", status=200)
    # errors, each with the one error body
    call("GET", "/v1/subjects/sub_01hzzzzzzzzzzzzzzzzzzzzzzz", "/v1/subjects/{id}", status=404)
    call("POST", "/v1/holds", "/v1/holds", json={"reason": "x", "colour": 1}, status=422)
    call("GET", "/v1/policy", "/v1/policy", key="wrong", status=401)
    call("GET", "/v1/policy", "/v1/policy", key=api.keys["marketing"], status=403)
    call("DELETE", f"/v1/subjects/{sid}", "/v1/subjects/{id}", key=dpo, status=204)
    assert len(seen) >= 35


def test_typed_document_follows_the_policy(api):
    """GET /openapi.json with a staff key: each kind of the key's tenant's
    policy as schemas of its own, typed field by field; without a key the
    generic document; a key that is not valid is refused, not ignored."""
    policy = api.request("GET", "/v1/policy", api.keys["admin"]).json()
    d = api.request("GET", "/openapi.json", api.keys["marketing"]).json()
    s = d["components"]["schemas"]
    assert d["info"]["title"] == "privreg: default"
    kinds = policy["records"]
    assert kinds and {k for k in s if k.startswith("Record_")} == {f"Record_{k}" for k in kinds}
    for name in ("Record", "RecordInput"):
        assert s[name]["discriminator"] == {"propertyName": "kind", "mapping": {
            k: f"#/components/schemas/{name}_{k}" for k in kinds}}
        assert s[name]["oneOf"] == [{"$ref": f"#/components/schemas/{name}_{k}"} for k in kinds]
    expect_type = {"text": "string", "email": "string", "phone": "string", "date": "string", "datetime": "string",
                   "enum": "string", "decimal": ["string", "number"], "integer": "integer", "bool": "boolean",
                   "ip": "string", "country": "string", "json": ["object", "array", "string"]}
    checked = set()
    for kind, k in kinds.items():
        fields = s[f"Fields_{kind}"]
        assert fields["additionalProperties"] is False and list(fields["properties"]) == k["fields"]
        assert s[f"Record_{kind}"]["properties"]["kind"]["const"] == kind
        assert s[f"Record_{kind}"]["properties"]["fields"] == {"$ref": f"#/components/schemas/Fields_{kind}"}
        rin = s[f"RecordInput_{kind}"]
        assert rin["properties"]["kind"]["const"] == kind and rin["additionalProperties"] is False
        assert rin["properties"]["fields"].get("required", []) == k["required"]
        assert ("fields" in rin["required"]) == bool(k["required"])
        for name, fs in fields["properties"].items():
            f = policy["fields"][name]
            assert fs["type"] == expect_type[f["type"]], (kind, name)
            if f["type"] == "text":
                assert fs["maxLength"] == f["max"], (kind, name)
            if f["type"] == "enum":
                assert fs["enum"] == f["values"], (kind, name)
            if f["type"] in ("email", "date", "datetime"):
                assert fs["format"] == {"email": "email", "date": "date", "datetime": "date-time"}[f["type"]]
            checked.add(f["type"])
        if k["events"]:
            assert set(rin["properties"]["events"]["properties"]) == set(k["events"]), kind
    assert {"text", "email", "phone", "date", "enum", "decimal", "ip", "json"} <= checked, checked
    lookups = [n for n, f in policy["fields"].items() if f["lookup"]]
    params = [p for p in d["paths"]["/v1/subjects"]["get"]["parameters"] if p["in"] == "query"]
    assert [p["name"] for p in params] == lookups
    assert params[0]["schema"]["format"] == "email"
    assert set(lookups) <= set(s["RequestInput"]["properties"]) and s["RequestInput"]["additionalProperties"] is False
    # another tenant's key: that tenant's document; none: the generic one
    assert api.request("GET", "/openapi.json", api.keys["other"]).json()["info"]["title"] == "privreg: other"
    generic = api.request("GET", "/openapi.json").json()
    assert "Record_order" not in generic["components"]["schemas"] and generic["info"]["title"] == "privreg"
    r = api.request("GET", "/openapi.json", "prk_notakey")
    assert r.status_code == 401 and r.json()["error"]["code"]


TOOLS = ROOT / "tests" / "tools"
POLICY_FILES = sorted((ROOT / "policies").glob("*.yaml"))


@pytest.fixture(scope="module")
def documents(tmp_path_factory):
    """The generic document and one typed by each policy of policies/, as
    files: {name: path}."""
    from conftest import Privreg, Server, _bin, add_key
    privreg = Privreg(_bin())
    base = tmp_path_factory.mktemp("openapi-docs")
    d = base / "reg"
    names = [p.stem for p in POLICY_FILES]
    assert len(names) == 5 and "webshop" in names
    privreg("init", "--dir", d, "--policy", POLICY_FILES[0], check=0)
    keys = {names[0]: add_key(privreg, d, "support")}
    for name, path in zip(names[1:], POLICY_FILES[1:]):
        privreg("tenant", "add", name, "--policy", path, "--dir", d, check=0)
        keys[name] = add_key(privreg, d, "auditor", name)
    srv = Server(privreg, d)
    out = {}
    try:
        for name, key in [("generic", None), *keys.items()]:
            r = srv.request("GET", "/openapi.json", key)
            assert r.status_code == 200, (name, r.text[:300])
            out[name] = base / f"{name}.json"
            out[name].write_text(r.text)
    finally:
        code, err = srv.stop()
    assert code == 0 and "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
    return out


def tool(name):
    path = TOOLS / "node_modules" / ".bin" / name
    if not path.exists():
        pytest.skip(f"{name} is not installed: run scripts/install-deps (npm ci --prefix tests/tools); "
                    "it needs npm and the npm registry")
    return path


def test_redocly_lint_finds_nothing(documents, tmp_path):
    """`redocly lint` (its recommended rules) on the generic document and on
    the documents typed by the five policies: no error and no warning."""
    import subprocess
    env = {**__import__("os").environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true",
           "NO_COLOR": "1"}
    files = [str(p) for p in documents.values()]
    for p in files:
        slashed = [k for k in json.loads(Path(p).read_text())["paths"] if k.endswith("/")]
        assert slashed == ["/console/", "/portal/{tenant}/"], slashed  # the one rule tests/tools/redocly.yaml turns off
    proc = subprocess.run([str(tool("redocly")), "lint", "--config", str(TOOLS / "redocly.yaml"),
                           "--format=stylish", *files], capture_output=True,
                          text=True, cwd=tmp_path, env=env, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-5000:]
    assert out.count("validated in") == len(files) and "Your API descriptions are valid" in out, out[-5000:]
    assert not re.search(r"^\s*\d+:\d+\s+(warning|error)\s", out, re.M | re.I), out[-5000:]
    assert "You have" not in out, out[-5000:]


def test_openapi_typescript_makes_no_empty_types(documents):
    """openapi-typescript on every document: no Record<string, never>, the
    type of an object a client could not fill or read (tests/tools/types.mjs)."""
    import json
    import subprocess
    tool("openapi-typescript")
    proc = subprocess.run(["node", str(TOOLS / "types.mjs"), *map(str, documents.values())], capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(results) == len(documents)
    for r in results:
        assert r["empty"] == [], r
