"""privreg import: the import trial's findings (2026-12-02). A re-run or
--resume that would import rows twice is refused; the files written beside
the input are never another user's nor a symbolic link; an oversized CSV row
is named at its own line; everyday spreadsheet files get messages that say
what to do; a missing or empty file is refused; a dry run names the line of
a duplicate; the refused rows come back as a file to fix and import; a
consent counts for the record of its own row."""
import csv
import json
import os
import signal
import subprocess
import time

from conftest import POLICIES, db_rows, unique_email_policy
from test_import import count, find, rejects, write_csv

TELEGROUP = POLICIES / "telegroup.yaml"


def cut_off(privreg, register, src, batches=3):
    """Starts an import of src and kills it (SIGKILL) once `batches` chunks
    are committed; the number of subjects it left."""
    proc = subprocess.Popen([privreg.binary, "import", "account", src, "--dir", register, "--batch", "200"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 60
    while time.time() < deadline and proc.poll() is None:
        if db_rows(register, "SELECT count(*) FROM audit WHERE action = 'subject.import'")[0][0] >= batches:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return count(privreg, register)[0]


def rows_jsonl(path, n, tag="r"):
    path.write_text("".join(json.dumps({"fields": {"email": f"{tag}{i}@example.ee"}}) + "\n" for i in range(n)))


def test_no_rerun_or_resume_imports_rows_twice(privreg, register, tmp_path):
    """Finding 1 (and 13): a plain re-run of a cut-off file, a --resume of an
    edited one, and a --resume of a file never imported are refused (exit 2,
    nothing written) and say what was imported and how to go on; --again
    imports anyway and clears the marker."""
    src = tmp_path / "big.jsonl"
    n = 6000
    rows_jsonl(src, n)
    before = cut_off(privreg, register, src)
    assert 0 < before < n, before
    imports = os.path.join(register, "imports")
    marker, = os.listdir(imports)
    text = open(os.path.join(imports, marker)).read()
    assert text.startswith("audit_seq ") and f"\nfile {src}\n" in text, text
    # The same command again: refused, pointing to --resume.
    r = privreg("import", "account", src, "--dir", register, check=2)
    assert "was cut off: lines up to" in r.stderr and "--resume" in r.stderr and "--again" in r.stderr, r.stderr
    assert r.stdout == "" and count(privreg, register)[0] == before
    # The file edited after the crash: --resume cannot find it, and says
    # which import was cut off and where it stopped.
    lines = src.read_text().splitlines()
    lines[-1] = json.dumps({"fields": {"email": f"r{n - 1}@example.ee", "name": "Fixed"}})
    src.write_text("\n".join(lines) + "\n")
    r = privreg("import", "account", src, "--dir", register, "--resume", check=2)
    assert "found no earlier import of this file's content" in r.stderr, r.stderr
    assert f"{src}: cut off; lines up to " in r.stderr and "twice" in r.stderr, r.stderr
    assert count(privreg, register)[0] == before
    # A plain run of the edited file: refused too, naming the lines.
    r = privreg("import", "account", src, "--dir", register, check=2)
    assert "was cut off and has not ended" in r.stderr and f"{src}: cut off; lines up to " in r.stderr, r.stderr
    assert "--again" in r.stderr and "remove from it the lines already imported (a CSV file keeps its header row)" in r.stderr, r.stderr
    assert count(privreg, register)[0] == before
    # Remove the lines imported, then --again: imported, marker cleared.
    line = int(r.stderr.split("lines up to ")[1].split()[0])
    src.write_text("\n".join(lines[line:]) + "\n")
    r = privreg("import", "account", src, "--dir", register, "--again", check=0)
    assert "cleared the marker" in r.stderr, r.stderr
    assert count(privreg, register)[0] == n and os.listdir(imports) == []
    assert len(find(privreg, register, "email", "r0@example.ee")) == 1
    # A file never imported, given --resume: refused, nothing written.
    other = tmp_path / "other.jsonl"
    rows_jsonl(other, 3, "o")
    r = privreg("import", "account", other, "--dir", register, "--resume", check=2)
    assert "found no earlier import" in r.stderr and "cut off;" not in r.stderr, r.stderr
    assert count(privreg, register)[0] == n
    # A finished file resumed: nothing more (found in the audit log).
    r = privreg("import", "account", src, "--dir", register, "--resume", check=0)
    assert "imported 0 account records" in r.stdout, r.stdout
    privreg("import", "account", src, "--dir", register, "--resume", "--again", check=2)


def test_a_cut_off_import_resumes_and_its_marker_names_it(privreg, register, tmp_path):
    """A resume of the same content goes on; a marker an older privreg
    wrote (its audit position alone) is still read."""
    src = tmp_path / "same.jsonl"
    n = 6000
    rows_jsonl(src, n, "s")
    before = cut_off(privreg, register, src)
    assert 0 < before < n, before
    imports = os.path.join(register, "imports")
    marker, = os.listdir(imports)
    path = os.path.join(imports, marker)
    seq = open(path).read().splitlines()[0]
    with open(path, "w") as f:
        f.write(seq + "\n")
    other = tmp_path / "other.jsonl"
    rows_jsonl(other, 2, "x")
    r = privreg("import", "account", other, "--dir", register, check=2)
    assert "its name is not recorded" in r.stderr and "cut off; lines up to" in r.stderr, r.stderr
    r = privreg("import", "account", src, "--dir", register, "--resume", check=0)
    assert "imported already; going on after them" in r.stderr
    assert count(privreg, register)[0] == n and os.listdir(imports) == []


def test_files_beside_the_input_are_never_another_users_or_a_link(privreg, register, tmp_path):
    """Finding 2: a symbolic link, a FIFO, a file with a second name, or a
    file another user owns in place of FILE.rejects.csv (or of the file of
    refused rows) refuses the import before any row (exit 2)."""
    src = tmp_path / "c.csv"
    write_csv(src, [["email", "name", "language"], ["mari@example.ee", "Mari Maasikas", "xx"]])
    loot = tmp_path / "loot"
    loot.write_text("")
    cases = [(f"{src}.rejects.csv", "symlink", "is a symbolic link"),
             (f"{src}.refused.csv", "symlink", "is a symbolic link"),
             (f"{src}.rejects.csv", "fifo", "is not a regular file"),
             (f"{src}.rejects.csv", "link", "has other names")]
    if os.geteuid() == 0:
        cases.append((f"{src}.rejects.csv", "nobody", "belongs to another user"))
    for path, how, message in cases:
        if how == "symlink":
            os.symlink(loot, path)
        elif how == "fifo":
            os.mkfifo(path)
        elif how == "link":
            os.link(loot, path)
        else:
            open(path, "w").close()
            os.chown(path, 65534, 65534)
        r = privreg("import", "account", src, "--dir", register, check=2)
        assert f"refusing to write {path}: it {message}" in r.stderr, (how, r.stderr)
        assert count(privreg, register) == (0, 0)
        assert loot.read_text() == ""
        os.unlink(path)
    # The refused file of one's own is taken, and left 0600.
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert os.stat(f"{src}.refused.csv").st_mode & 0o777 == 0o600
    assert os.stat(f"{src}.rejects.csv").st_mode & 0o777 == 0o600


def test_an_oversized_csv_row_is_named_at_its_own_line(privreg, register, tmp_path):
    """Finding 6."""
    src = tmp_path / "big.csv"
    src.write_bytes(b"email,name\nl2@example.ee,L2\nl3@example.ee,L3\nbig@example.ee,\"" + b"a" * 1100000 +
                    b"\"\nl5@example.ee,L5\nnot-an-email,L6\n")
    privreg("import", "account", src, "--dir", register, check=1)
    got = rejects(src)
    assert [g[0] for g in got] == ["4", "6"], [g[:2] for g in got]
    assert got[0][1] == "a row longer than 1 MiB (1048576 bytes)"
    jl = tmp_path / "big.jsonl"
    jl.write_bytes(b'{"fields": {"email": "a@example.ee"}}\n{"x": "' + b"a" * 1100000 + b'"}\n')
    privreg("import", "account", jl, "--dir", register, check=1)
    assert [g[:2] for g in rejects(jl)] == [["2", "a line longer than 1 MiB (1048576 bytes)"]]
    # Neither can be given back whole: the refused rows' files hold none.
    assert open(f"{src}.refused.csv").read() == "email,name\nnot-an-email,L6\n"
    assert open(f"{jl}.refused.jsonl").read() == ""


def test_spreadsheet_files_get_messages_that_say_what_to_do(privreg, register, tmp_path):
    """Finding 7: semicolons or tabs, stray quotes, UTF-16, Windows-1252,
    an enum value, a CSV file with another name, a truncated JSON line."""
    src = tmp_path / "x.csv"
    src.write_text("email;name;language\na@example.ee;A;et\n")
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert "holds semicolons but no comma" in r.stderr and "CSV UTF-8 (Comma delimited)" in r.stderr, r.stderr
    src.write_text("email\tname\na@example.ee\tA\n")
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert "holds tabs but no comma" in r.stderr, r.stderr
    src.write_text('email,name,address\njaan@example.ee,Jaan "Juku" Tamm,Tallinn\n'
                   'firma@example.ee,Firma,"P\u00e4rnu mnt 10, 12" korter\nok@example.ee,Ok,Tartu\n')
    r = privreg("import", "account", src, "--dir", register, check=1)
    got = rejects(src)
    assert [g[0] for g in got] == ["2", "3"], got
    for line, g in zip([2, 3], got):
        assert g[1].startswith(f"line {line}: a quote inside a cell that does not begin with one, or text after "
                               "a cell's closing quote"), g[1]
    assert "strict checking" not in r.stderr
    # UTF-16 (with or without its byte-order mark): refused whole.
    for data in ["email,name\na@example.ee,A\n".encode("utf-16"), "email\n".encode("utf-16-le")]:
        src.write_bytes(data)
        r = privreg("import", "account", src, "--dir", register, check=1)
        assert "is UTF-16 text" in r.stderr and "iconv -f UTF-16 -t UTF-8" in r.stderr, r.stderr
    # Windows-1252: refused whole, naming the line; nothing imported.
    assert count(privreg, register) == (1, 1)  # ok@example.ee, above
    src.write_bytes("email,name\nok@example.ee,Ok\nmari@example.ee,M\u00e4rt\n".encode("cp1252"))
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert f"{src}:3: not UTF-8 text" in r.stderr and "Windows-1252" in r.stderr, r.stderr
    assert "iconv -f WINDOWS-1252 -t UTF-8" in r.stderr
    assert count(privreg, register) == (1, 1)
    # An enum value: the allowed ones are named.
    write_csv(src, [["email", "gender"], ["a@example.ee", "Female"]])
    privreg("import", "account", src, "--dir", register, check=1)
    assert rejects(src)[0][1] == "field gender: not one of the allowed values: female, male, other (case matters)"
    # A CSV file named .txt: a hint, not a refusal of every line.
    txt = tmp_path / "people.txt"
    write_csv(txt, [["email", "name"], ["a@example.ee", "A"]])
    r = privreg("import", "account", txt, "--dir", register, check=1)
    assert "looks like a CSV header row" in r.stderr and "--format csv" in r.stderr, r.stderr
    assert not os.path.exists(f"{txt}.rejects.csv")
    privreg("import", "account", txt, "--dir", register, "--format", "csv", check=0)
    # A truncated JSON line ends at its line's end.
    jl = tmp_path / "t.jsonl"
    jl.write_text('{"fields": {"email": "x@example.ee"}\n')
    privreg("import", "account", jl, "--dir", register, check=1)
    assert "near end of line" in rejects(jl)[0][1] and "end of file" not in rejects(jl)[0][1], rejects(jl)


def test_a_missing_or_empty_file_is_refused(privreg, register, tmp_path):
    """Findings 8 and 9: a file that cannot be read exits 2 with the
    reason; an empty file (0 bytes), or a CSV file with no header row, is
    refused (exit 1); a header alone imports nothing and succeeds."""
    r = privreg("import", "account", tmp_path / "nosuch.csv", "--dir", register, check=2)
    assert "cannot open" in r.stderr and "No such file or directory" in r.stderr, r.stderr
    for name in ["e.csv", "e.jsonl"]:
        (tmp_path / name).write_bytes(b"")
        r = privreg("import", "account", tmp_path / name, "--dir", register, check=1)
        assert "the file is empty (0 bytes)" in r.stderr and r.stdout == "", r.stderr
    for data in [b"\n\n", b"\xef\xbb\xbf"]:
        (tmp_path / "b.csv").write_bytes(data)
        r = privreg("import", "account", tmp_path / "b.csv", "--dir", register, check=1)
        assert "no header row" in r.stderr, r.stderr
    (tmp_path / "h.csv").write_bytes(b"email,name\n")
    r = privreg("import", "account", tmp_path / "h.csv", "--dir", register, check=0)
    assert "imported 0 account records" in r.stdout


def test_a_dry_run_names_the_line_of_a_duplicate(privreg, tmp_path):
    """Finding 10: the subject a dry run made for an earlier line will never
    exist; the refusal names that line."""
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", unique_email_policy(tmp_path), check=0)
    src = tmp_path / "d.csv"
    write_csv(src, [["email"], ["a@example.ee"], ["b@example.ee"], ["A@example.ee"]])
    r = privreg("import", "account", src, "--dir", d, "--dry-run", check=1)
    assert [g[:2] for g in rejects(src)] == [
        ["4", "a subject with this email exists already: the subject of line 2 of this file (email is unique)"]]
    assert "sub_" not in r.stderr
    privreg("import", "account", src, "--dir", d, check=1)
    a, = find(privreg, d, "email", "a@example.ee")
    assert rejects(src)[0][1] == f"a subject with this email exists already: {a} (email is unique)"


def test_refused_rows_come_back_as_a_file_to_fix_and_import(privreg, register, tmp_path):
    """Finding 12: beside FILE.rejects.csv, FILE.refused.csv (the header and
    the rows verbatim) or FILE.refused.jsonl (the lines): fixed, it imports
    as it is."""
    src = tmp_path / "p.csv"
    src.write_bytes(b"\xef\xbb\xbfemail,name\r\na@example.ee,A\r\nbad,\"B, the\nsecond\"\r\nc@example.ee,C\r\n"
                    b"worse,D")
    r = privreg("import", "account", src, "--dir", register, check=1)
    assert f"rows refused: see {src}.rejects.csv; the rows alone, to fix and import again: {src}.refused.csv" in \
        r.stdout, r.stdout
    refused = tmp_path / "p.csv.refused.csv"
    assert refused.read_bytes() == b"email,name\r\nbad,\"B, the\nsecond\"\r\nworse,D\n"
    assert os.stat(refused).st_mode & 0o777 == 0o600
    refused.write_bytes(refused.read_bytes().replace(b"bad,", b"b@example.ee,").replace(b"worse", b"d@example.ee"))
    r = privreg("import", "account", refused, "--dir", register, check=0)
    assert "imported 2 account records" in r.stdout and r.stderr == "", r.stderr
    assert count(privreg, register) == (4, 4)
    assert not os.path.exists(f"{refused}.refused.csv") and not os.path.exists(f"{refused}.rejects.csv")
    jl = tmp_path / "q.jsonl"
    jl.write_text(json.dumps({"fields": {"email": "e@example.ee"}}) + "\n" + '{"fields": {"email": "nope"}}\r\n')
    privreg("import", "account", jl, "--dir", register, check=1)
    assert (tmp_path / "q.jsonl.refused.jsonl").read_text() == '{"fields": {"email": "nope"}}\n'
    # A second import that refuses nothing leaves neither file.
    write_csv(src, [["email"], ["f@example.ee"]])
    privreg("import", "account", src, "--dir", register, check=0)
    assert not os.path.exists(refused) and not os.path.exists(f"{src}.rejects.csv")


def test_a_consent_counts_for_the_record_of_its_own_row(privreg, tmp_path):
    """Finding 4: a record kept only on consent, imported with that consent
    in the same row, for an existing subject (CSV) and a new one (JSON
    Lines); without the consent it is refused as before."""
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", TELEGROUP, check=0)
    users = tmp_path / "u.csv"
    write_csv(users, [["email", "name"], ["ilze@example.lv", "Ilze"]])
    privreg("import", "user", users, "--dir", d, check=0)
    shifts = tmp_path / "s.csv"
    write_csv(shifts, [["subject", "shift_at", "device_id", "consent.time_tracking", "consent_source", "consent_at"],
                       ["ilze@example.lv", "2024-03-05T08:00:00Z", "android-1", "granted", "location_permission",
                        "2024-03-05T07:59:00Z"],
                       ["ilze@example.lv", "2024-03-06T08:00:00Z", "android-1", "", "", ""]])
    r = privreg("import", "shift", shifts, "--dir", d, check=0)
    assert "(0 new subjects, 2 added to existing ones), 0 rows refused" in r.stdout, r.stdout + r.stderr
    jl = tmp_path / "s.jsonl"
    jl.write_text(json.dumps({"fields": {"shift_at": "2024-03-05T08:00:00Z"}, "consents": ["time_tracking"],
                              "consent_source": "location_permission", "consent_at": "2024-03-05T07:59:00Z"}) + "\n" +
                  json.dumps({"fields": {"shift_at": "2024-03-05T09:00:00Z"}}) + "\n")
    r = privreg("import", "shift", jl, "--dir", d, check=1)
    assert "(1 new subjects, 0 added to existing ones), 1 rows refused" in r.stdout, r.stdout + r.stderr
    assert rejects(jl)[0][0] == "2" and "kept only on consent" in rejects(jl)[0][1]
