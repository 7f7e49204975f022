"""The privreg CLI as a user runs it: policy check/render, init, keys,
tenants, import, subjects; every refusal is a clear error that changes nothing."""
import json
import os
import pathlib
import re
import stat

import pytest

from conftest import POLICIES, ROOT, WEBSHOP, files_contain

BROKEN = ROOT / "tests" / "data" / "policies" / "broken"


def count(privreg, d):
    out = privreg("status", "--dir", d, check=0).stdout
    m = re.search(r"(\d+) subjects, (\d+) records", out)
    return int(m.group(1)), int(m.group(2))


def test_help_on_every_command(privreg):
    assert "usage: privreg COMMAND" in privreg("--help", check=0).stdout
    for cmd in ["init", "policy", "tenant", "key", "import", "subject", "status"]:
        out = privreg(cmd, "--help", check=0).stdout
        assert out.startswith("usage: privreg " + cmd), cmd
    r = privreg("frobnicate", check=2)
    assert "unknown command 'frobnicate'" in r.stderr


def test_policy_check_accepts_every_shipped_policy(privreg):
    files = sorted(POLICIES.glob("*.yaml"))
    assert len(files) >= 5
    r = privreg("policy", "check", *files, check=0)
    assert r.stdout.count(": ok") == len(files)


def test_policy_check_shared_example(privreg):
    shared = ROOT.parent / "shared" / "policies" / "webshop.yaml"
    if not shared.exists():
        pytest.skip("../shared is not beside the checkout")
    privreg("policy", "check", shared, check=0)


@pytest.mark.parametrize("path", sorted(BROKEN.glob("*.yaml")), ids=lambda p: p.stem)
def test_policy_check_names_the_line(privreg, path):
    expect = path.with_suffix(".expect").read_text().strip()
    r = privreg("policy", "check", path, check=1)
    assert f"{path}:{expect}" in r.stdout.splitlines()
    for line in r.stdout.splitlines():
        assert re.match(rf"^{re.escape(str(path))}:\d+: ", line), line


def test_policy_check_broken_copy_of_example(privreg, tmp_path):
    text = WEBSHOP.read_text()
    text = text.replace("keep: 3 years after created\n    then: anonymize",
                        "keep: 3 yeers after created\n    then: anonymize")
    text = text.replace("    transfer: scc\n", "")
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    r = privreg("policy", "check", bad, check=1)
    lines = text.splitlines()
    yeers = next(i for i, l in enumerate(lines, 1) if "3 yeers" in l)
    us = next(i for i, l in enumerate(lines, 1) if "country: US" in l)
    assert f"{bad}:{yeers}: record 'order' keep: bad duration '3 yeers' (expected N days|weeks|months|years)" in r.stdout
    assert f"{bad}:{us}: recipient 'payments' is in US, outside the EEA: it needs a transfer basis (adequacy, scc or bcr)" in r.stdout
    assert "2 mistakes" in r.stderr


def test_policy_render_is_normalised(privreg, tmp_path):
    a = privreg.json("policy", "render", WEBSHOP)
    assert a["version"] == "2024-05"
    assert a["records"]["order"]["keep"]["period"] == {"text": "3 years", "iso": "P3Y"}
    assert a["records"]["accounting_entry"]["erasable"] is False
    assert a["records"]["account"]["erasable"] is True
    assert a["purposes"]["direct_marketing"]["objectable"] is True
    assert a["recipients"]["payments"]["transfer"] == "scc"
    assert a["recipients"]["payments"]["eea"] is False
    assert a["fields"]["name"]["max"] == 200
    # The same policy written differently renders the same.
    text = WEBSHOP.read_text()
    text = text.replace("keep: 3 years after created", "keep: 3 year after created")
    text = text.replace("  name:             { type: text, max: 200 }",
                        "  name:\n    type: text\n    max: 200\n    lookup: false")
    other = tmp_path / "other.yaml"
    other.write_text(text)
    b = privreg.json("policy", "render", other)
    assert a == b
    privreg("policy", "render", BROKEN / "bad_duration.yaml", check=1)


@pytest.mark.sqlite_only("checks the SQLite file's mode and the default store line")
def test_init_creates_a_private_register(privreg, tmp_path):
    d = tmp_path / "reg"
    r = privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    assert "keys/default.key" in r.stdout
    key = d / "keys" / "default.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE((d / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((d / "privreg.db").stat().st_mode) == 0o600
    assert "store = sqlite:privreg.db" in (d / "privreg.conf").read_text()
    # A second init is refused and changes nothing.
    before = key.read_bytes()
    r = privreg("init", "--dir", d, "--policy", WEBSHOP, check=1)
    assert "is a register already" in r.stderr
    assert key.read_bytes() == before
    # The register still works from another working directory.
    assert count(privreg, d) == (0, 0)


def test_init_with_a_broken_policy_creates_nothing(privreg, tmp_path):
    d = tmp_path / "reg"
    r = privreg("init", "--dir", d, "--policy", BROKEN / "bad_country.yaml", check=1)
    assert "bad_country.yaml:" in r.stdout
    assert not d.exists()
    r = privreg("init", "--dir", d, "--policy", tmp_path / "missing.yaml", check=3)
    assert not d.exists()


def test_commands_need_a_register(privreg, tmp_path):
    r = privreg("status", "--dir", tmp_path, check=3)
    assert "is not a register" in r.stderr


def test_key_add_list_revoke(privreg, register):
    r = privreg("key", "add", "--role", "dpo", "--dir", register, check=0)
    last = r.stdout.strip().splitlines()[-1]
    key = last.split()[-1]
    assert re.fullmatch(r"prk_[0-9a-z]{16}_[0-9a-z]{52}", key)
    key_id = key.split("_")[1]
    assert not files_contain(register, key.split("_")[2].encode())
    listing = privreg("key", "list", "--dir", register, check=0).stdout
    assert key_id in listing and "dpo" in listing and "revoked -" in listing
    privreg("key", "revoke", key_id, "--dir", register, check=0)
    assert "revoked 20" in privreg("key", "list", "--dir", register, check=0).stdout
    privreg("key", "revoke", key_id, "--dir", register, check=1)
    r = privreg("key", "add", "--role", "janitor", "--dir", register, check=2)
    assert "--role must be one of" in r.stderr
    privreg("key", "add", "--role", "admin", "--tenant", "nosuch", "--dir", register, check=1)


def test_tenants(privreg, register):
    privreg("tenant", "add", "elektrum", "--policy", POLICIES / "elektrum.yaml", "--dir", register, check=0)
    assert privreg("tenant", "list", "--dir", register, check=0).stdout.split() == ["default", "elektrum"]
    assert stat.S_IMODE((register / "keys" / "elektrum.key").stat().st_mode) == 0o600
    r = privreg("tenant", "add", "elektrum", "--policy", POLICIES / "elektrum.yaml", "--dir", register, check=1)
    assert "exists already" in r.stderr
    privreg("tenant", "add", "Bad Name", "--policy", WEBSHOP, "--dir", register, check=1)
    privreg("tenant", "add", "other", "--policy", BROKEN / "bad_basis.yaml", "--dir", register, check=1)
    assert privreg("tenant", "list", "--dir", register, check=0).stdout.split() == ["default", "elektrum"]
    assert not (register / "keys" / "other.key").exists()
    # Each tenant only sees its own subjects.
    src = register / "u.jsonl"
    src.write_text(json.dumps({"fields": {"email": "tiina@example.ee"}}) + "\n")
    privreg("import", "user", src, "--tenant", "elektrum", "--dir", register, check=0)
    assert privreg("subject", "find", "email", "tiina@example.ee", "--tenant", "elektrum",
                   "--dir", register, check=0).stdout.strip()
    assert privreg("subject", "find", "email", "tiina@example.ee", "--dir", register,
                   check=0).stdout.strip() == ""


PEOPLE = [
    {"fields": {"email": "Mari.Tamm@Example.ee", "name": "Mari Tamm", "phone": "+372 5123 4567",
                "birth_date": "1988-04-12", "language": "et"}, "created_at": "2022-05-04T09:12:00Z"},
    {"fields": {"email": "janis@example.lv", "name": "Jānis Bērziņš", "username": "janis_b"},
     "events": {"closed": "2024-02-29"}},
]


def test_import_get_find_delete(privreg, register):
    src = register.parent / "people.jsonl"
    src.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in PEOPLE) + "\n")
    r = privreg("import", "account", src, "--dir", register, check=0)
    assert "imported 2 account records" in r.stdout
    assert count(privreg, register) == (2, 2)
    sid = privreg("subject", "find", "email", "mari.tamm@example.ee", "--dir", register, check=0).stdout.strip()
    assert sid.startswith("sub_")
    s = privreg.json("subject", "get", sid, "--dir", register)
    rec = s["records"][0]
    assert rec["fields"] == {"email": "Mari.Tamm@example.ee", "name": "Mari Tamm", "phone": "+37251234567",
                             "birth_date": "1988-04-12", "language": "et"}
    assert rec["created_at"] == "2022-05-04T09:12:00Z"
    assert s["created_at"] == "2022-05-04T09:12:00Z"
    jid = privreg("subject", "find", "username", "janis_b", "--dir", register, check=0).stdout.strip()
    assert privreg.json("subject", "get", jid, "--dir", register)["records"][0]["events"] == {
        "closed": "2024-02-29T00:00:00Z"}
    # Nothing personal is on disk in plaintext.
    for value in ["Mari", "Tamm", "example.ee", "37251234567", "Bērziņš".encode().decode(), "janis_b", "1988-04-12"]:
        assert not files_contain(register, value.encode()), value
    privreg("subject", "delete", sid, "--dir", register, check=0)
    assert count(privreg, register) == (1, 1)
    r = privreg("subject", "get", sid, "--dir", register, check=1)
    assert "no such subject" in r.stderr
    assert privreg("subject", "find", "email", "mari.tamm@example.ee", "--dir", register, check=0).stdout == ""
    privreg("subject", "find", "name", "Mari Tamm", "--dir", register, check=1)


@pytest.mark.parametrize("line,message", [
    ('{"fields": {"email": "x@example.ee", "iban": "EE38"}}', "unknown field 'iban': the policy does not declare it"),
    ('{"fields": {"name": "No Email"}}', "field 'email' is required in 'account' records"),
    ('{"fields": {"email": "kid@example.ee", "birth_date": "2020-01-01"}}', "younger than 14"),
    ('{"fields": {"email": "x@example.ee", "phone": "5123 4567"}}', "not an international phone number"),
    ('{"fields": {"email": "x@example.ee"}, "created_at": "yesterday"}', "created_at: not an ISO 8601"),
    ('{"fields": {"email": "x@example.ee"}, "colour": "red"}', "unknown key 'colour' in a record"),
    ('{"fields": {"email": "x@example.ee", "name": "' + "x" * 201 + '"}}', "longer than 200 characters"),
    ('{"fields": {"email": "x@example.ee\'; DROP TABLE records; --"}}', "not an e-mail address"),
    ('{"fields": {"email": "x@example.ee"', "not JSON"),
])
def test_import_refuses_bad_lines_and_keeps_nothing(privreg, register, line, message):
    src = register / "bad.jsonl"
    src.write_text(json.dumps({"fields": {"email": "good@example.ee"}}) + "\n" + line + "\n")
    r = privreg("import", "account", src, "--dir", register, "--all-or-nothing", check=1)
    assert f"{src}:2: " in r.stderr
    assert message in r.stderr
    assert count(privreg, register) == (0, 0)
    assert privreg("subject", "find", "email", "good@example.ee", "--dir", register, check=0).stdout == ""


def test_import_unknown_kind(privreg, register):
    src = register / "x.jsonl"
    src.write_text("{}\n")
    r = privreg("import", "invoice", src, "--dir", register, check=1)
    assert "no record kind 'invoice'" in r.stderr


def test_import_in_batches_is_all_or_nothing(privreg, register):
    src = register.parent / "many.jsonl"
    lines = [json.dumps({"fields": {"email": f"person{i}@example.ee", "username": f"p{i}"}}) for i in range(2500)]
    bad = list(lines)
    bad[1399] = json.dumps({"fields": {"email": "person1399@example.ee", "gender": "robot"}})
    src.write_text("\n".join(bad) + "\n")
    r = privreg("import", "account", src, "--dir", register, "--all-or-nothing", check=1)
    assert f"{src}:1400: field gender: not one of the allowed values" in r.stderr
    assert count(privreg, register) == (0, 0)
    src.write_text("\n".join(lines) + "\n")
    privreg("import", "account", src, "--dir", register, check=0)
    assert count(privreg, register) == (2500, 2500)
    assert privreg("subject", "find", "username", "p2499", "--dir", register, check=0).stdout.startswith("sub_")


@pytest.mark.sqlite_only('edits the audit table in the SQLite file (sqlite3 module)')
def test_audit_verify_detects_tampering(privreg, register):
    import sqlite3
    src = register.parent / "a.jsonl"
    src.write_text(json.dumps(PEOPLE[0]) + "\n")
    privreg("import", "account", src, "--dir", register, check=0)
    sid = privreg("subject", "find", "email", "mari.tamm@example.ee", "--dir", register, check=0).stdout.strip()
    privreg("subject", "get", sid, "--dir", register, check=0)
    out = privreg("audit", "verify", "--dir", register, check=0).stdout
    assert "intact, 5 entries" in out
    listing = privreg("audit", "list", "--dir", register, check=0).stdout
    assert "subject.read " + sid in listing
    assert "Mari" not in listing and "example.ee" not in listing
    db = sqlite3.connect(register / "privreg.db")
    with pytest.raises(sqlite3.DatabaseError):
        db.execute("UPDATE audit SET outcome = 'denied' WHERE seq = 4")
    db.execute("DROP TRIGGER audit_no_update")
    db.execute("UPDATE audit SET outcome = 'denied' WHERE seq = 4")
    db.commit()
    db.close()
    r = privreg("audit", "verify", "--dir", register, check=1)
    assert "BROKEN at entry 4" in r.stdout


@pytest.mark.sqlite_only('writes privreg.conf lines naming the SQLite file')
def test_conf_refuses_unknown_keys_and_malformed_lines(privreg, register):
    conf = register / "privreg.conf"
    good = conf.read_text()
    db = (register / "privreg.db").read_bytes()
    cases = [
        ("# privreg register configuration\nstore = sqlite:privreg.db\nlisen = 0.0.0.0:80\n",
         3, "unknown key 'lisen' (the known keys are: store, listen,"),
        ("stroe = sqlite:privreg.db\n", 1, "unknown key 'stroe'"),
        ("store = sqlite:privreg.db\n\njust words\n", 3, "expected 'key = value'"),
        ("store = sqlite:privreg.db\nstore = sqlite:other.db\n", 2, "store is given twice (first on line 1)"),
        ("# nothing\nstore =   \n", 2, "store: empty value"),
        ("store = sqlite:privreg.db\n# " + "x" * 5000 + "\n", 2, "line too long"),
    ]
    for text, line, msg in cases:
        conf.write_text(text)
        r = privreg("status", "--dir", register, check=3)
        assert f"{conf}:{line}: {msg}" in r.stderr, (text[:80], r.stderr)
        assert r.stdout == ""
        assert not (register / "other.db").exists()
    # Refused, and nothing was changed or opened.
    assert (register / "privreg.db").read_bytes() == db
    # Comments, blank lines and spaces around '=' are fine.
    conf.write_text("  # a comment\n\n\tstore=sqlite:privreg.db  \n")
    assert count(privreg, register) == (0, 0)
    conf.write_text(good)
    assert count(privreg, register) == (0, 0)


@pytest.mark.sqlite_only('edits schema_migrations in the SQLite file (sqlite3 module)')
def test_a_register_from_a_newer_privreg_is_refused(privreg, tmp_path):
    """A schema this binary does not know is not written to: it would write
    what the newer schema no longer means."""
    import sqlite3
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    before = count(privreg, d)
    db = sqlite3.connect(d / "privreg.db")
    db.execute("INSERT INTO schema_migrations VALUES (999, '0999_future.sql', 0)")
    db.commit()
    db.close()
    r = privreg("status", "--dir", d)
    assert r.returncode != 0
    assert "schema 999, newer than this privreg knows" in r.stderr, r.stderr
    db = sqlite3.connect(d / "privreg.db")
    db.execute("DELETE FROM schema_migrations WHERE version = 999")
    db.commit()
    db.close()
    assert count(privreg, d) == before
