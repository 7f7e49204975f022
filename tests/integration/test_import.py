"""privreg import: CSV and JSON Lines, the rejects file, --dry-run,
--all-or-nothing, --resume after a SIGKILL, consent evidence, and rows that
name an existing subject. (Constant memory on a large file is a benchmark,
bench/import.sh, not a test.)"""
import csv
import hashlib
import json
import os
import re
import signal
import subprocess
import time

from conftest import POLICIES, WEBSHOP, db_exec, db_rows, files_contain, store_url, unique_email_policy

ELEKTRUM = POLICIES / "elektrum.yaml"


def count(privreg, d):
    out = privreg("status", "--dir", d, check=0).stdout
    m = re.search(r"(\d+) subjects, (\d+) records", out)
    return int(m.group(1)), int(m.group(2))


def find(privreg, d, field, value):
    return privreg("subject", "find", field, value, "--dir", d, check=0).stdout.split()


def rejects(path):
    """The refused rows; none (and no file) when nothing was refused."""
    if not os.path.exists(f"{path}.rejects.csv"):
        return []
    with open(f"{path}.rejects.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["line", "reason", "row"]
    return rows[1:]


def write_csv(path, rows):
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows(rows)


def test_csv_rows_become_subjects(privreg, register, tmp_path):
    src = tmp_path / "people.csv"
    write_csv(src, [["email", "name", "language", "created_at", "username"],
                    ["Mari.Tamm@Example.ee", "Mari Tamm", "et", "2022-05-04T09:12:00Z", "mari"],
                    ["janis@example.lv", 'Jānis "JB" Bērziņš, SIA', "", "", "janis_b"]])
    r = privreg("import", "account", src, "--dir", register, check=0)
    assert "imported 2 account records" in r.stdout and "0 rows refused" in r.stdout
    assert "\r" not in r.stderr  # no progress bar without a terminal
    assert count(privreg, register) == (2, 2)
    sid, = find(privreg, register, "email", "mari.tamm@example.ee")
    s = privreg.json("subject", "get", sid, "--dir", register)
    assert s["created_at"] == "2022-05-04T09:12:00Z"
    assert s["records"][0]["fields"] == {"email": "Mari.Tamm@example.ee", "name": "Mari Tamm", "language": "et",
                                         "username": "mari"}
    jid, = find(privreg, register, "username", "janis_b")
    # A quoted cell keeps its comma and quotes; an empty cell is no value.
    assert privreg.json("subject", "get", jid, "--dir", register)["records"][0]["fields"] == {
        "email": "janis@example.lv", "name": 'Jānis "JB" Bērziņš, SIA', "username": "janis_b"}
    assert rejects(src) == [] and not os.path.exists(f"{src}.rejects.csv")
    for value in [b"Mari", b"Tamm", b"example.lv", b"janis_b"]:
        assert not files_contain(register, value), value


def test_refused_rows_go_to_the_rejects_file_and_the_rest_is_kept(privreg, register, tmp_path):
    src = tmp_path / "mixed.jsonl"
    lines = [json.dumps({"fields": {"email": "a@example.ee"}}),
             json.dumps({"fields": {"email": "kid@example.ee", "birth_date": "2020-01-01"}}),
             "",
             '{"fields": {"email": "x@example.ee"',
             json.dumps({"fields": {"email": "b@example.ee"}, "events": {"closed": "2024-01-01"}}),
             json.dumps({"fields": {"name": "No Email"}})]
    src.write_text("\n".join(lines) + "\n")
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert f"{src}:2: " in r.stderr and "younger than 14" in r.stderr
    assert "imported 2 account records" in r.stdout and "3 rows refused" in r.stdout
    assert count(privreg, register) == (2, 2)
    got = rejects(src)
    assert [g[0] for g in got] == ["2", "4", "6"]
    assert "younger than 14" in got[0][1] and "not JSON" in got[1][1] and "'email' is required" in got[2][1]
    assert json.loads(got[0][2]) == json.loads(lines[1])
    assert got[1][2] == lines[3]


def test_csv_refusals_name_their_line(privreg, register, tmp_path):
    src = tmp_path / "bad.csv"
    src.write_text('email,name\n'
                   'a@example.ee,"Two\nLines"\n'
                   'not-an-email,B\n'
                   'c@example.ee,C,extra\n'
                   '\n'
                   'd@example.ee,"unterminated\n')
    r = privreg("import", "account", src, "--dir", register, check=1)
    got = rejects(src)
    assert [g[0] for g in got] == ["4", "5", "7"], got
    assert "not an e-mail address" in got[0][1]
    assert "3 cells, the header names 2 columns" in got[1][1]
    assert got[1][2] == "c@example.ee,C,extra\n"
    assert count(privreg, register) == (1, 1)
    sid, = find(privreg, register, "email", "a@example.ee")
    assert privreg.json("subject", "get", sid, "--dir", register)["records"][0]["fields"]["name"] == "Two\nLines"


def test_a_bad_header_refuses_the_file(privreg, register, tmp_path):
    src = tmp_path / "h.csv"
    for header, message in [("email,iban", "column 'iban': not a field or event"),
                            ("email,email", "named twice"),
                            ("email,items", "'account' records have no such field")]:
        src.write_text(header + "\na@example.ee,x\n")
        r = privreg("import", "account", src, "--dir", register, check=1)
        assert message in r.stderr, r.stderr
    assert count(privreg, register) == (0, 0)


def test_all_or_nothing(privreg, register, tmp_path):
    src = tmp_path / "many.jsonl"
    lines = [json.dumps({"fields": {"email": f"p{i}@example.ee"}}) for i in range(30)]
    lines[17] = json.dumps({"fields": {"email": "p17@example.ee", "gender": "robot"}})
    src.write_text("\n".join(lines) + "\n")
    r = privreg("import", "account", src, "--dir", register, "--all-or-nothing", "--batch", "5", check=1)
    assert f"{src}:18: field gender: not one of the allowed values" in r.stderr
    assert "nothing imported" in r.stderr
    assert count(privreg, register) == (0, 0)
    assert [g[0] for g in rejects(src)] == ["18"]


def test_dry_run_keeps_nothing(privreg, register, tmp_path):
    src = tmp_path / "d.csv"
    write_csv(src, [["email"], ["a@example.ee"], ["bad"], ["b@example.ee"]])
    r = privreg("import", "account", src, "--dir", register, "--dry-run", check=1)
    assert "dry run: 2 of 3 rows valid (1 refused)" in r.stdout
    assert count(privreg, register) == (0, 0)
    assert privreg("audit", "list", "--dir", register, check=0).stdout.count("subject.import") == 0


def test_one_audit_entry_per_batch_proves_each_creation(privreg, register, tmp_path):
    src = tmp_path / "a.jsonl"
    emails = [f"q{i}@example.ee" for i in range(12)]
    src.write_text("".join(json.dumps({"fields": {"email": e}}) + "\n" for e in emails))
    privreg("import", "account", src, "--dir", register, "--batch", "5", check=0)
    details = [d for (d,) in db_rows(register, "SELECT detail FROM audit WHERE action = 'subject.import' ORDER BY seq")]
    assert db_rows(register, "SELECT count(*) FROM audit WHERE action = 'subject.create'")[0][0] == 0
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    ids = [find(privreg, register, "email", e)[0] for e in emails]
    for k, detail in enumerate(details):
        part = ids[5 * k:5 * k + 5]
        digest = hashlib.blake2b(b"".join(i.encode() + b"\0" for i in part), digest_size=32).hexdigest()
        assert detail == (f"file=sha256:{sha} lines={5 * k + 1}-{5 * k + len(part)} subjects={len(part)} "
                          f"first={min(part)} last={max(part)} ids=blake2b:{digest}")
    assert len(details) == 3
    assert "intact" in privreg("audit", "verify", "--dir", register, check=0).stdout
    # Erasure and reads work on imported subjects as on any other.
    privreg("subject", "delete", ids[0], "--dir", register, check=0)
    assert count(privreg, register) == (11, 11)
    assert "intact" in privreg("audit", "verify", "--dir", register, check=0).stdout


def test_each_subject_lies_in_its_entrys_range(privreg, register, tmp_path):
    """first/last are the chunk's smallest and largest id: ids made in one
    millisecond do not sort in the order they were made (the trial found
    1.5% of 100,000 subjects outside their entry's range)."""
    src = tmp_path / "r.csv"
    emails = [f"r{i}@example.ee" for i in range(3000)]
    write_csv(src, [["email"]] + [[e] for e in emails])
    privreg("import", "account", src, "--dir", register, "--batch", "1000", check=0)
    entries = []
    for (detail,) in db_rows(register, "SELECT detail FROM audit WHERE action = 'subject.import' ORDER BY seq"):
        d = dict(kv.split("=", 1) for kv in detail.split())
        entries.append((d["first"], d["last"], d["ids"], int(d["subjects"])))
    assert sum(e[3] for e in entries) == 3000
    out = tmp_path / "export"
    privreg("tenant", "export", "default", out, "--dir", register, check=0)
    with open(out / "records" / "account.csv", newline="", encoding="utf-8") as f:
        by_email = {row["email"]: row["subject_id"] for row in csv.DictReader(f)}
    ids = [by_email[e] for e in emails]
    assert [i for i in ids if not any(first <= i <= last for first, last, _, _ in entries)] == []
    # Each chunk's ids, in the order written, recompute its digest, and its
    # range is theirs.
    at = 0
    for first, last, digest, n in entries:
        part = ids[at:at + n]
        at += n
        assert (min(part), max(part)) == (first, last)
        assert digest == "blake2b:" + hashlib.blake2b(b"".join(i.encode() + b"\0" for i in part),
                                                      digest_size=32).hexdigest()


def test_resume_after_sigkill_leaves_no_duplicates(privreg, register, tmp_path):
    src = tmp_path / "big.jsonl"
    # Enough batches that the kill lands midway, on either backend (a batch
    # is a few statements on PostgreSQL too: store import_write).
    n = 6000
    src.write_text("".join(json.dumps({"fields": {"email": f"r{i}@example.ee", "username": f"r{i}"}}) + "\n"
                           for i in range(n)))
    proc = subprocess.Popen([privreg.binary, "import", "account", src, "--dir", register, "--batch", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if db_rows(register, "SELECT count(*) FROM audit WHERE action = 'subject.import'")[0][0] >= 3:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    before = count(privreg, register)[0]
    assert 0 < before < n, before
    r = privreg("import", "account", src, "--dir", register, "--resume", check=0)
    assert "imported already; going on after them" in r.stderr
    assert count(privreg, register) == (n, n)
    assert db_rows(register, "SELECT count(*) FROM lookups")[0][0] == 2 * n
    assert len(find(privreg, register, "username", "r0")) == 1
    assert len(find(privreg, register, "username", f"r{n - 1}")) == 1
    # Resuming a finished import adds nothing.
    privreg("import", "account", src, "--dir", register, "--resume", check=0)
    assert count(privreg, register) == (n, n)


def test_unique_values_are_checked_against_the_register_and_the_file(privreg, tmp_path):
    """A value of a `unique: true` field that another subject holds refuses
    the row, naming that subject: one already in the register, one earlier
    in the same batch, one of an earlier batch, and one a row for an
    existing subject (the `subject` column) has just written."""
    policy = unique_email_policy(tmp_path)
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    first = tmp_path / "first.csv"
    write_csv(first, [["email", "username"], ["held@example.ee", "held"]])
    privreg("import", "account", first, "--dir", d, check=0)
    held, = find(privreg, d, "email", "held@example.ee")
    src = tmp_path / "people.csv"
    rows = [["email", "username", "subject"],
            ["a@example.ee", "a", ""],                 # 2: new
            ["HELD@example.ee", "x3", ""],             # 3: in the register already
            ["b@example.ee", "b", ""],                 # 4: new
            ["A@Example.ee", "x5", ""],                # 5: line 2 has it (same batch)
            ["c@example.ee", "c", "b@example.ee"],     # 6: a record for b, with c's address
            ["c@example.ee", "x7", ""],                # 7: line 6 gave it to b
            ["b@example.ee", "x8", ""],                # 8: line 4 has it (earlier batch)
            ["d@example.ee", "d", ""],                 # 9: new
            ["e@example.ee", "e", ""],                 # 10: new
            ["d@example.ee", "x11", ""]]               # 11: line 9 has it (earlier batch)
    write_csv(src, rows)
    r = privreg("import", "account", src, "--dir", d, "--dry-run", check=1)
    dry = rejects(src)
    r = privreg("import", "account", src, "--dir", d, "--batch", "4", check=1)
    assert "(4 new subjects, 1 added to existing ones), 5 rows refused" in r.stdout, r.stdout
    got = rejects(src)
    a, = find(privreg, d, "email", "a@example.ee")
    b, = find(privreg, d, "email", "b@example.ee")
    dd, = find(privreg, d, "email", "d@example.ee")
    assert find(privreg, d, "email", "c@example.ee") == [b]
    want = [("3", held), ("5", a), ("7", b), ("8", b), ("11", dd)]
    assert [(g[0], g[1]) for g in got] == [
        (line, f"a subject with this email exists already: {sid} (email is unique)") for line, sid in want], got
    assert [g[0] for g in dry] == ["3", "5", "7", "8", "11"]
    assert count(privreg, d) == (5, 6)
    # --all-or-nothing: a refusal leaves the register as it was.
    again = tmp_path / "again.csv"
    write_csv(again, [["email", "username"], ["f@example.ee", "f"], ["e@example.ee", "x"]])
    privreg("import", "account", again, "--dir", d, "--all-or-nothing", check=1)
    assert count(privreg, d) == (5, 6)


def test_bare_cr_line_ends_lose_no_row(privreg, register, tmp_path):
    """Rows ended by a bare CR (old Mac files) share one line as read: the
    last row, with no line end after it, is imported too, and one that the
    file cuts off inside a quote is refused, not dropped."""
    src = tmp_path / "cr.csv"
    src.write_bytes(b"email,name\ra@example.ee,A\rb@example.ee,B")
    r = privreg("import", "account", src, "--dir", register, check=0)
    assert "imported 2 account records" in r.stdout, r.stdout
    assert len(find(privreg, register, "email", "b@example.ee")) == 1
    cut = tmp_path / "cut.csv"
    cut.write_bytes(b"email,name\rc@example.ee,C\r\"d@example.ee,D")
    r = privreg("import", "account", cut, "--dir", register, check=1)
    assert "imported 1 account records" in r.stdout, r.stdout
    assert [g[1] for g in rejects(cut)] == ["the file ends inside a quoted cell"]


def test_chunks_of_one_transaction_see_each_other(privreg, tmp_path):
    """The reader hands rows over in chunks of 5,000 and a transaction holds
    several (50,000 rows by default): a unique value of an earlier chunk of
    the same transaction refuses a row, a row for an existing subject finds
    one of an earlier chunk by its e-mail, and every lookup row is in when
    the import ends (SQLite inserts them at the commit, in the index's
    order)."""
    policy = unique_email_policy(tmp_path)
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    n = 10200
    rows = [["email", "username", "subject"]] + [[f"u{i}@example.ee", f"u{i}", ""] for i in range(n)]
    rows[1 + 7000] = ["U100@example.ee", "dup", ""]              # chunk 2: chunk 1's u100
    rows[1 + 9000] = ["extra@example.ee", "", "u6000@example.ee"]  # chunk 2: a record for u6000
    rows[1 + 10100] = ["extra@example.ee", "dup2", ""]           # chunk 3: u6000 holds it now
    src = tmp_path / "many.csv"
    write_csv(src, rows)
    r = privreg("import", "account", src, "--dir", d, check=1)
    assert f"({n - 3} new subjects, 1 added to existing ones), 2 rows refused" in r.stdout, r.stdout
    u100, = find(privreg, d, "email", "u100@example.ee")
    u6000, = find(privreg, d, "email", "u6000@example.ee")
    assert [(g[0], g[1]) for g in rejects(src)] == [
        ("7002", f"a subject with this email exists already: {u100} (email is unique)"),
        ("10102", f"a subject with this email exists already: {u6000} (email is unique)")]
    assert find(privreg, d, "email", "extra@example.ee") == [u6000]
    assert len(find(privreg, d, "email", f"u{n - 1}@example.ee")) == 1
    assert count(privreg, d) == (n - 3, n - 2)
    # two lookup rows (email, username) per record, but extra has no username
    assert db_rows(d, "SELECT count(*) FROM lookups")[0][0] == 2 * (n - 2) - 1
    assert db_rows(d, "SELECT count(*) FROM audit WHERE action = 'subject.import'")[0][0] == 3
    assert "intact" in privreg("audit", "verify", "--dir", d, check=0).stdout


def test_consent_columns_need_evidence(privreg, tmp_path):
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", ELEKTRUM, check=0)
    src = tmp_path / "c.csv"
    write_csv(src, [["email", "consent.offers_post"], ["a@example.ee", "granted"]])
    r = privreg("import", "user", src, "--dir", d, check=1)
    assert "needs the evidence columns consent_source" in r.stderr
    assert count(privreg, d) == (0, 0)
    write_csv(src, [["email", "consent.newsletter", "consent_source", "consent_at"]])
    r = privreg("import", "user", src, "--dir", d, check=1)
    assert "double opt-in" in r.stderr
    write_csv(src, [["email", "consent.offers_post", "consent_source", "consent_at"],
                    ["a@example.ee", "granted", "registration", "2023-03-01T10:00:00Z"],
                    ["b@example.ee", "granted", "", "2023-03-01"],
                    ["c@example.ee", "granted", "bought_list", "2023-03-01"],
                    ["d@example.ee", "granted", "registration", ""],
                    ["e@example.ee", "", "", ""]])
    r = privreg("import", "user", src, "--dir", d, check=1)
    got = rejects(src)
    assert [g[0] for g in got] == ["3", "4", "5"]
    assert "needs its evidence" in got[0][1] and "consent_sources" in got[1][1] and "evidence" in got[2][1]
    assert count(privreg, d) == (2, 2)
    rows = db_rows(d, "SELECT purpose, action, source, at FROM consent_events")
    assert rows == [("offers_post", "granted", "registration, version 2024-01", 1677664800)], rows
    assert db_rows(d, "SELECT state FROM consent_state") == [("granted",)]


def test_subject_column_attaches_records_to_existing_subjects(privreg, register, tmp_path):
    people = tmp_path / "p.jsonl"
    people.write_text(json.dumps({"fields": {"email": "Mari@Example.ee"}}) + "\n" +
                      json.dumps({"fields": {"email": "jaan@example.ee"}}) + "\n")
    privreg("import", "account", people, "--dir", register, check=0)
    mari, = find(privreg, register, "email", "mari@example.ee")
    jaan, = find(privreg, register, "email", "jaan@example.ee")
    orders = tmp_path / "o.csv"
    write_csv(orders, [["subject", "items", "amount", "created_at", "fulfilled"],
                       ["MARI@example.ee", '[{"sku": "A1", "qty": 2}]', "12.50", "2024-01-05", "2024-01-07"],
                       [jaan, "[1]", "3.00", "", ""],
                       ["", "[2]", "2.00", "", ""]])
    r = privreg("import", "order", orders, "--dir", register, check=0)
    assert "(1 new subjects, 2 added to existing ones)" in r.stdout, r.stdout
    assert [g[0] for g in rejects(orders)] == []
    # "nobody" is no subject: refused.
    write_csv(orders, [["subject", "items"], ["nobody@example.ee", "[1]"]])
    privreg("import", "order", orders, "--dir", register, check=1)
    assert "no subject has this id or value" in rejects(orders)[0][1]
    s = privreg.json("subject", "get", mari, "--dir", register)
    order, = [x for x in s["records"] if x["kind"] == "order"]
    assert order["fields"]["items"] == [{"sku": "A1", "qty": 2}] and order["fields"]["amount"] == "12.50"
    assert order["created_at"] == "2024-01-05T00:00:00Z"
    assert order["events"] == {"fulfilled": "2024-01-07T00:00:00Z"}
    assert len(privreg.json("subject", "get", jaan, "--dir", register)["records"]) == 2
    # The JSON Lines form names the subject the same way.
    more = tmp_path / "m.jsonl"
    more.write_text(json.dumps({"subject": "jaan@example.ee", "fields": {"items": [3]}}) + "\n")
    privreg("import", "order", more, "--dir", register, check=0)
    assert len(privreg.json("subject", "get", jaan, "--dir", register)["records"]) == 3
    assert count(privreg, register) == (3, 6)


def test_format_option_and_usage(privreg, register, tmp_path):
    src = tmp_path / "data.txt"
    write_csv(src, [["email"], ["f@example.ee"]])
    privreg("import", "account", src, "--dir", register, "--format", "csv", check=0)
    assert find(privreg, register, "email", "f@example.ee")
    privreg("import", "account", src, "--dir", register, "--format", "xml", check=2)
    privreg("import", "account", src, "--dir", register, "--batch", "0", check=2)
    privreg("import", "account", src, "--dir", register, "--resume", "--dry-run", check=2)


def test_imported_accounts_cost_no_index_rows_they_do_not_need(privreg, register, tmp_path):
    """Disk per imported subject (bench/import.sh): an account without an IP
    address has no trim time (no records_trim row), and an active record no
    records_by_state row (schema 14: only anonymized and detached ones)."""
    src = tmp_path / "a.csv"
    write_csv(src, [["email", "ip"]] + [[f"n{i}@example.ee", ""] for i in range(2000)] +
              [["withip@example.ee", "192.0.2.77"]])
    privreg("import", "account", src, "--dir", register, check=0)
    assert db_rows(register, "SELECT count(*) FROM records WHERE trim_at IS NOT NULL")[0][0] == 1
    if store_url(register):
        # PostgreSQL: the entries of each index, counted by ANALYZE (every
        # row, on a table this small).
        db_exec(register, "ANALYZE records")
        entries = dict(db_rows(register, "SELECT relname, reltuples::bigint FROM pg_class WHERE relname IN "
                                         "('records_trim', 'records_by_state', 'records_by_subject')"))
        assert entries == {"records_trim": 1, "records_by_state": 0, "records_by_subject": 2001}, entries
        return
    pages = dict(db_rows(register, "SELECT name, count(*) FROM dbstat WHERE name IN ('records_trim', "
                                   "'records_by_state', 'records_by_subject') GROUP BY name"))
    assert pages["records_trim"] == 1 and pages["records_by_state"] == 1, pages
    assert pages["records_by_subject"] > 1, pages


def test_the_rejects_file_is_readable_by_its_owner_only(privreg, register, tmp_path):
    """Refused rows are personal data as they were: the rejects file is 0600,
    also when it existed before with a wider mode."""
    src = tmp_path / "r.csv"
    write_csv(src, [["email", "name"], ["bad", "Mari Tamm"], ["a@example.ee", "A"]])
    old = os.umask(0o022)
    try:
        privreg("import", "account", src, "--dir", register, check=1)
        assert os.stat(f"{src}.rejects.csv").st_mode & 0o777 == 0o600
        os.chmod(f"{src}.rejects.csv", 0o644)
        write_csv(src, [["email", "name"], ["worse", "Jaan Tamm"]])
        privreg("import", "account", src, "--dir", register, check=1)
    finally:
        os.umask(old)
    assert os.stat(f"{src}.rejects.csv").st_mode & 0o777 == 0o600
    assert [g[2] for g in rejects(src)] == ["worse,Jaan Tamm\r\n"]


def test_a_byte_order_mark_starts_a_file_unseen(privreg, register, tmp_path):
    """Excel's "CSV UTF-8" starts with EF BB BF: one such mark at the start of
    a CSV or JSON Lines file is skipped, and lines are still counted from the
    file's start. Any other invisible character of a refused header name is
    shown escaped."""
    src = tmp_path / "excel.csv"
    src.write_bytes(b"\xef\xbb\xbfemail,name\r\nbom@example.ee,Bom\r\nbad,X\r\n")
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert "imported 1 account records" in r.stdout, r.stderr
    assert len(find(privreg, register, "email", "bom@example.ee")) == 1
    assert [g[0] for g in rejects(src)] == ["3"]
    jl = tmp_path / "excel.jsonl"
    jl.write_bytes(b"\xef\xbb\xbf" + json.dumps({"fields": {"email": "jl@example.ee"}}).encode() + b"\n")
    r = privreg("import", "account", jl, "--dir", register, check=0)
    assert len(find(privreg, register, "email", "jl@example.ee")) == 1
    for head, shown in [(b"\xef\xbb\xbf\xef\xbb\xbfemail", "column '\\uFEFFemail'"),
                        (b"email,\xe2\x80\x8bname", "column '\\u200Bname'"),
                        (b"email,na\x01me", "column 'na\\x01me'")]:
        src.write_bytes(head + b"\na@example.ee,A\n")
        r = privreg("import", "account", src, "--dir", register, check=1)
        assert shown + ": not a field" in r.stderr, r.stderr
    # A byte that is not UTF-8 refuses the whole file (test_encodings).
    src.write_bytes(b"email,na\xffme\na@example.ee,A\n")
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert f"{src}:1: not UTF-8 text" in r.stderr, r.stderr
    assert count(privreg, register) == (2, 2)


def test_a_setup_failure_prints_no_summary(privreg, register, tmp_path):
    """An import that never read its rows says only why, on stderr: no
    "imported 0 ..." or "dry run: 0 of 0" beside the error."""
    src = tmp_path / "s.csv"
    write_csv(src, [["email"], ["a@example.ee"]])
    bad = tmp_path / "bad.csv"
    write_csv(bad, [["email", "iban"], ["a@example.ee", "x"]])
    for args, code, message in [
            (["account", src, "--tenant", "nosuch"], 1, "no tenant 'nosuch'"),
            (["account", src, "--tenant", "nosuch", "--dry-run"], 1, "no tenant 'nosuch'"),
            (["nokind", src], 1, "no record kind 'nokind'"),
            (["account", bad], 1, "column 'iban'"),
            (["account", bad, "--dry-run"], 1, "column 'iban'"),
            (["account", bad, "--all-or-nothing"], 1, "column 'iban'"),
            (["account", tmp_path / "missing.csv"], 2, "cannot open"),
            (["account", tmp_path], 2, "cannot read")]:
        r = privreg("import", *args, "--dir", register, check=code)
        assert r.stdout == "", (args, r.stdout)
        assert message in r.stderr, (args, r.stderr)
        assert "imported" not in r.stderr and "rows refused" not in r.stderr, (args, r.stderr)
    assert count(privreg, register) == (0, 0)


def test_the_command_list_names_both_formats(privreg):
    line, = [x for x in privreg("--help", check=0).stdout.splitlines() if x.split()[:1] == ["import"]]
    assert "CSV" in line and "JSON Lines" in line, line


def test_a_database_error_midway_says_what_stays_and_how_to_resume(privreg, tmp_path):
    """A store operation fails part-way (the test build's PRIVREG_FAULT_STORE,
    as a stopped database would): the transactions committed before it stay,
    the message says up to which line and gives the --resume command, and
    that command imports the rest once. The rejects file keeps only the
    refusals of committed transactions, so the resumed run lists none twice;
    the file starts with a byte-order mark, which moves no line number."""
    src = tmp_path / "cut.csv"
    rows = [["email", "name"]] + [[f"c{i}@example.ee", f"C{i}"] for i in range(2, 32)]  # lines 2-31
    bad = [8, 19]
    for k in bad:
        rows[k - 1] = [f"bad{k}", "X"]
    with open(src, "w", newline="") as f:
        f.write("\ufeff")
        csv.writer(f).writerows(rows)
    d = tmp_path / "reg"
    fresh = True
    # Chunks of 5 rows, a transaction each: lines 2-6, 7-11, 12-16, 17-21...
    # Walk the store operations until one fails after lines up to 16 committed.
    for n in range(1, 400):
        if fresh:
            if os.path.exists(d):
                subprocess.run(["rm", "-rf", str(d)], check=True)
            privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
            fresh = False
        env = dict(os.environ, PRIVREG_FAULT_STORE=str(n))
        r = subprocess.run([privreg.binary, "import", "account", str(src), "--dir", str(d), "--batch", "5"],
                           capture_output=True, text=True, env=env, timeout=120)
        m = re.search(r"lines up to (\d+) are imported and stay \(this run: (\d+) records, (\d+) rows refused\)",
                      r.stderr)
        if r.returncode == 3 and m and int(m.group(1)) >= 16:
            break
        fresh = r.returncode != 3 or bool(m)  # something was kept: start again on an empty register
    else:
        raise AssertionError("no store fault landed after a commit")
    assert r.stdout == "", r.stdout
    line, records, refused = map(int, m.groups())
    kept = [k for k in bad if k <= line]
    assert line in (16, 21, 26) and (records, refused) == (line - 1 - len(kept), len(kept)), r.stderr
    assert count(privreg, d) == (records, records)
    assert [int(g[0]) for g in rejects(src)] == kept
    state, = os.listdir(d / "imports")
    assert os.stat(d / "imports" / state).st_mode & 0o777 == 0o600
    cmd = re.search(r"without duplicates: privreg (import .* --resume)$", r.stderr, re.M).group(1).split()
    assert cmd == ["import", "account", str(src), "--dir", str(d), "--resume"], cmd
    r = privreg(*cmd, check=1 if len(kept) < len(bad) else 0)
    assert f"lines up to {line} are imported already" in r.stderr
    assert count(privreg, d) == (28, 28)
    assert [int(g[0]) for g in rejects(src)] == bad
    assert len(find(privreg, d, "email", "c2@example.ee")) == 1
    assert len(find(privreg, d, "email", "c31@example.ee")) == 1
