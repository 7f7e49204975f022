"""Audit checkpoints (issue #15 item 5): the head of the log anchored outside
the database, so that deleting the log's tail, or all of it, is detected.

The attacker here holds the database file but not the key file: the tests
drop the append-only triggers, as anyone with the file can, and cut or
rewrite the log with the sqlite3 module."""
import pytest
import json
import os
import sqlite3
import stat
import time

from conftest import WEBSHOP, Server


def add_people(privreg, register, start, n):
    """n subjects created: one audit entry each (an import writes one per
    batch, and a batch of one row here)."""
    src = register.parent / f"people{start}.jsonl"
    src.write_text("".join(json.dumps({"fields": {"email": f"p{i}@example.ee", "username": f"p{i}"}}) + "\n"
                           for i in range(start, start + n)))
    privreg("import", "account", src, "--dir", register, "--batch", "1", check=0)


def checkpoint(privreg, register, out):
    r = privreg("audit", "checkpoint", "--dir", register, "--out", out, check=0)
    return json.loads(out.read_text().splitlines()[-1]), r.stdout


def attack(register, *sql):
    db = sqlite3.connect(register / "privreg.db")
    db.execute("DROP TRIGGER IF EXISTS audit_no_delete")
    db.execute("DROP TRIGGER IF EXISTS audit_no_update")
    for s in sql:
        db.execute(s)
    db.commit()
    db.close()


def verify(privreg, register, cps=None, check=None):
    args = ["audit", "verify", "--dir", register] + (["--checkpoint", cps] if cps else [])
    return privreg(*args, check=check)


def test_checkpoint_line_and_file(privreg, register):
    cps = register.parent / "cps.jsonl"
    cp, out = checkpoint(privreg, register, cps)
    assert set(cp) == {"tenant", "seq", "hash", "at", "mac"}
    assert cp["tenant"] == "default" and cp["seq"] == 2
    assert len(cp["hash"]) == 64 and len(cp["mac"]) == 64
    assert f"seq 2 at {cp['at']}, appended to {cps}" in out
    assert stat.S_IMODE(os.stat(cps).st_mode) == 0o600
    add_people(privreg, register, 0, 3)
    cp2, _ = checkpoint(privreg, register, cps)
    assert cp2["seq"] == 5 and len(cps.read_text().splitlines()) == 2
    # `-` prints the line; the default file is DIR/audit-checkpoints.jsonl
    line = privreg("audit", "checkpoint", "--dir", register, "--out", "-", check=0).stdout
    assert json.loads(line)["seq"] == 5 and line.count("\n") == 1
    privreg("audit", "checkpoint", "--dir", register, check=0)
    assert json.loads((register / "audit-checkpoints.jsonl").read_text())["seq"] == 5
    r = verify(privreg, register, cps, check=0)
    assert "intact, 5 entries" in r.stdout
    assert f"holds all 2 checkpoints in {cps}" in r.stdout
    # The options belong to their own subcommands.
    assert "--checkpoint goes with 'audit verify'" in privreg("audit", "list", "--dir", register,
                                                               "--checkpoint", cps, check=2).stderr
    assert "--out goes with 'audit checkpoint'" in privreg("audit", "verify", "--dir", register,
                                                            "--out", cps, check=2).stderr


@pytest.mark.sqlite_only('edits the audit table in the SQLite file (sqlite3 module)')
def test_deleting_the_tail_is_seen_only_with_a_checkpoint(privreg, register):
    cps = register.parent / "cps.jsonl"
    add_people(privreg, register, 0, 28)
    cp, _ = checkpoint(privreg, register, cps)
    assert cp["seq"] == 30
    attack(register, "DELETE FROM audit WHERE seq > 20")
    # The limitation checkpoints exist for: what is left is a valid chain.
    assert "intact, 20 entries" in verify(privreg, register, check=0).stdout
    r = verify(privreg, register, cps, check=1)
    assert "intact, 20 entries" in r.stdout
    assert f"checkpoint seq 30 of {cp['at']}: the log ends at seq 20, before it" in r.stdout, r.stdout
    assert "does NOT match" in r.stdout


@pytest.mark.sqlite_only('edits the audit table in the SQLite file (sqlite3 module)')
def test_deleting_everything_is_seen(privreg, register):
    cps = register.parent / "cps.jsonl"
    add_people(privreg, register, 0, 5)
    cp, _ = checkpoint(privreg, register, cps)
    attack(register, "DELETE FROM audit")
    assert "intact, 0 entries" in verify(privreg, register, check=0).stdout
    r = verify(privreg, register, cps, check=1)
    assert f"checkpoint seq 7 of {cp['at']}: the log ends at seq 0, before it" in r.stdout, r.stdout


@pytest.mark.sqlite_only('edits the audit table in the SQLite file (sqlite3 module)')
def test_a_log_that_diverges_from_a_checkpoint_is_seen(privreg, register):
    cps = register.parent / "cps.jsonl"
    add_people(privreg, register, 0, 10)
    early, _ = checkpoint(privreg, register, cps)          # seq 12
    add_people(privreg, register, 10, 10)
    late, _ = checkpoint(privreg, register, cps)           # seq 22
    # The tail cut, then the register goes on: the log grows back past the
    # checkpoint, a valid chain again, but not the one that was anchored.
    attack(register, "DELETE FROM audit WHERE seq > 15")
    add_people(privreg, register, 100, 10)
    assert "intact, 25 entries" in verify(privreg, register, check=0).stdout
    r = verify(privreg, register, cps, check=1)
    assert f"checkpoint seq 22 of {late['at']}: entry 22 differs from the one checkpointed" in r.stdout, r.stdout
    assert "seq 12" not in r.stdout                           # the early one still holds
    assert "1 problem, 1 checkpoint held" in r.stdout


@pytest.mark.sqlite_only('edits the audit table in the SQLite file (sqlite3 module)')
def test_an_altered_checkpointed_entry_is_seen(privreg, register):
    cps = register.parent / "cps.jsonl"
    add_people(privreg, register, 0, 5)
    cp, _ = checkpoint(privreg, register, cps)
    assert cp["seq"] == 7
    # Its content: the chain breaks.
    attack(register, "UPDATE audit SET outcome = 'denied' WHERE seq = 7")
    assert "BROKEN at entry 7" in verify(privreg, register, cps, check=1).stdout
    # Its hash too: the chain still breaks, and the checkpoint says so as well.
    attack(register, "UPDATE audit SET hash = zeroblob(32) WHERE seq = 7")
    r = verify(privreg, register, cps, check=1)
    assert "entry 7 differs from the one checkpointed" in r.stdout, r.stdout


def test_forged_and_foreign_lines(privreg, register):
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", register, check=0)
    cps = register.parent / "cps.jsonl"
    add_people(privreg, register, 0, 5)
    cp, _ = checkpoint(privreg, register, cps)
    privreg("audit", "checkpoint", "--dir", register, "--tenant", "other", "--out", cps, check=0)
    good = cps.read_text()
    # Other tenants' lines are not this tenant's business.
    assert "holds all 1 checkpoint in" in verify(privreg, register, cps, check=0).stdout
    assert "holds all 1 checkpoint in" in privreg("audit", "verify", "--dir", register, "--tenant", "other",
                                                   "--checkpoint", cps, check=0).stdout
    # A checkpoint moved forward (an attacker who wants the log to look cut,
    # or to hide a cut behind a smaller seq) does not carry its MAC along.
    for field, value in [("seq", 3), ("seq", 700), ("at", "2020-01-01T00:00:00Z"), ("hash", "00" * 32),
                         ("tenant", "other")]:
        forged = dict(cp, **{field: value})
        cps.write_text(good + json.dumps(forged, separators=(",", ":")) + "\n")
        if field == "tenant":   # now other's line, under default's MAC
            r = privreg("audit", "verify", "--dir", register, "--tenant", "other", "--checkpoint", cps, check=1)
        else:
            r = verify(privreg, register, cps, check=1)
        assert f"{cps}:3: checkpoint seq {forged['seq']} of {forged['at']} is FORGED" in r.stdout, (field, r.stdout)
    # A line that is not a checkpoint, and one far too long, are named.
    cps.write_text(good + "\n" + '{"tenant": "default"}\n' + "x" * 5000 + "\n")
    r = verify(privreg, register, cps, check=1)
    assert f"{cps}:4: not a checkpoint line" in r.stdout and f"{cps}:5: not a checkpoint line" in r.stdout
    assert "2 problems, 1 checkpoint held" in r.stdout
    # A file without a checkpoint of the tenant proves nothing: refused.
    others = register.parent / "others.jsonl"
    others.write_text("".join(l + "\n" for l in good.splitlines() if '"tenant":"other"' in l))
    assert f"{others} holds no checkpoint of tenant default" in verify(privreg, register, others, check=1).stdout
    # An empty file is what serve makes before its first checkpoint (after
    # --checkpoint-every): no checkpoint yet, said as such, not a mismatch.
    empty = register.parent / "empty.jsonl"
    empty.write_text("")
    assert f"{empty} holds no checkpoint yet" in verify(privreg, register, empty, check=0).stdout
    r = verify(privreg, register, register.parent / "missing.jsonl", check=3)
    assert "cannot read" in r.stderr


@pytest.mark.sqlite_only('edits the audit table in the SQLite file (sqlite3 module)')
def test_the_server_writes_checkpoints_on_schedule(privreg, register):
    privreg("tenant", "add", "other", "--policy", WEBSHOP, "--dir", register, check=0)
    cps = register.parent / "server-cps.jsonl"
    srv = Server(privreg, register, ["--checkpoint-every", "1s", "--checkpoint-file", str(cps)])
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            lines = [json.loads(x) for x in cps.read_text().splitlines()] if cps.exists() else []
            if sum(cp["tenant"] == "default" for cp in lines) >= 2 and any(cp["tenant"] == "other" for cp in lines):
                break
            time.sleep(0.2)
        else:
            raise AssertionError("no checkpoints written: " + (cps.read_text() if cps.exists() else "no file"))
    finally:
        code, err = srv.stop()
    assert code == 0, err[-3000:]
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
    assert "checkpoint seq=" in err
    assert stat.S_IMODE(os.stat(cps).st_mode) == 0o600
    assert "holds all" in verify(privreg, register, cps, check=0).stdout
    attack(register, "DELETE FROM audit WHERE seq > 1")
    assert "the log ends at seq 1, before it" in verify(privreg, register, cps, check=1).stdout
    # A checkpoint file that cannot be written stops the start, not the first checkpoint.
    r = privreg("serve", "--dir", register, "--listen", "127.0.0.1:0", "--checkpoint-every", "1s",
                "--checkpoint-file", register.parent / "no" / "such" / "dir.jsonl")
    assert r.returncode == 3 and "cannot open the checkpoint file" in r.stderr, r.stderr
    assert "--checkpoint-every takes a period" in privreg("serve", "--dir", register, "--checkpoint-every", "soon",
                                                          check=2).stderr
