"""Power cuts around the erasure ledger (issue #15, item 3).

The test build cuts the power at the Nth step of writing the erasure ledger
(PRIVREG_LEDGER_CUT=N[:SEED], base/fault.h, core/ledger.c): after the
marker's write, after the lines' append, after their fdatasync (the database
not committed), after the commit (the marker not yet emptied), after the
marker is emptied; and, for the ledger's first lines, after the directory is
made and after the new file's write, fsync, link and the removal of its
temporary name (before the directory's fsync). What the step had not made
durable is lost (with a seed, a random part of the unsynced bytes is kept,
or only zeros). After every cut: the register opens without manual steps,
every acknowledged erasure is in the ledger and its subject stays erased,
the audit chain verifies; at the end a backup taken before the erasures,
restored with `privreg restore`, brings nobody erased back, and a copy put
back by hand (a genuinely older database) is refused.

Erasures go through the API (DELETE /v1/subjects/ID, erasure requests) and
the CLI (`privreg subject delete`, `privreg sweep` with due records).
PRIVREG_LEDGER_CUTS=N runs N cuts of the register (30 by default).
"""
import os
import random
import shutil

import pytest

from conftest import WEBSHOP, Privreg, _bin, add_key
from crash_common import PG, cli, kill, post, reap, register_intact, start, stop_clean

FAULT_POWERCUT_EXIT = 86  # base/fault.h
# Steps of one erasure once the ledger exists: marker written, lines
# written, lines synced, committed, marker emptied.
STEPS = 5
# The first erasure, which creates the ledger: directory made, marker
# written, file written, synced, linked, temporary name gone (the
# directory not synced), directory synced, committed, marker emptied.
FIRST_STEPS = 9
ACCOUNT = {"kind": "account", "fields": {"email": "x@example.ee", "name": "Mari Tamm", "language": "et"}}
# An order kept "2 years after fulfilled", then anonymised (webshop.yaml): long due.
OLD_ORDER = {"kind": "order", "fields": {"name": "Mari Tamm", "delivery_address": "Pikk 1, Tallinn",
                                         "items": [{"sku": "KB-1", "qty": 1}], "amount": "49.90",
                                         "payment_method": "card"},
             "created_at": "2020-03-01T10:00:00Z", "events": {"fulfilled": "2020-03-02"}}


@pytest.fixture(autouse=True)
def no_server_left():
    yield
    reap()


def pool(privreg, d, key, n, orders=0):
    """n subjects (the first `orders` with an order due for anonymisation),
    then a backup: {id: [record ids]}, the backup's path."""
    srv = start(privreg, d)
    out = {}
    for i in range(n):
        acc = dict(ACCOUNT, fields=dict(ACCOUNT["fields"], email=f"p{i}@example.ee"))
        r = srv.request("POST", "/v1/subjects", key, json={"records": [acc] + ([OLD_ORDER] if i < orders else [])})
        assert r.status_code == 201, r.text
        out[r.json()["id"]] = [x["id"] for x in r.json()["records"]]
    stop_clean(srv)
    backup = d.parent / "before.db"
    privreg("backup", backup, "--dir", d, check=0)
    return out, backup


def ledger_lines(d):
    path = d / "ledger" / "default.log"
    if not path.exists():
        return []
    # A last line without its newline is an append that never returned.
    return [line.split() for line in path.read_bytes().decode("ascii", "replace").split("\n")[:-1]]


def erase_api(srv, key, sid, how):
    """True: acknowledged; None: the server died before it answered. how: 0
    DELETE, 1 an erasure request, 2 an anonymisation request (two appends in
    one transaction: the order anonymised, the rest erased)."""
    if how == 0:
        try:
            r = srv.request("DELETE", f"/v1/subjects/{sid}", key)
        except Exception:
            return None
        assert r.status_code == 204, r.text
        return True
    kind = "erasure" if how == 1 else "anonymization"
    r = post(srv, "/v1/requests", key, {"type": kind, "subject_id": sid, "verified_by": "ID card"})
    if r is None:
        return None
    assert r.status_code == 201, r.text
    r = post(srv, f"/v1/requests/{r.json()['id']}/complete", key, {})
    if r is None:
        return None
    assert r.status_code == 200, r.text
    return True


def reopened(privreg, d, key, erased, plan, anonymized=()):
    """The register opens without manual steps; every acknowledged erasure is
    in the ledger and its subject stays erased (an anonymised one: its lines
    are there)."""
    srv = start(privreg, d)
    assert srv is not None, (plan, (d.parent / "server.log").read_text()[-2000:])
    lines = ledger_lines(d)
    in_ledger = {w[5] for w in lines if len(w) > 5}
    for sid in anonymized:
        kinds = {w[4] for w in lines if len(w) > 5 and w[5] == sid}
        assert kinds == {"retention.anonymize", "subject.erase"}, (plan, sid, kinds)
    for sid in erased:
        assert sid in in_ledger, (plan, sid)
        r = srv.request("GET", f"/v1/subjects/{sid}", key)
        assert r.status_code in (404, 410), (plan, r.text)
    stop_clean(srv)


def swept_subjects(ids, swept):
    return {s for s, recs in ids.items() if set(recs[1:]) & swept}


@pytest.mark.sqlite_only('copies the register directory, SQLite file included, for each cut')
def test_power_cut_at_every_step_of_the_first_erasure(tmp_path):
    """Each step of the erasure that creates the ledger, through the CLI."""
    privreg = Privreg(_bin())
    fresh = tmp_path / "fresh" / "reg"
    fresh.parent.mkdir()
    privreg("init", "--dir", fresh, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, fresh, "admin")
    ids, _ = pool(privreg, fresh, key, 2)
    sid, other = list(ids)
    for n in range(1, FIRST_STEPS + 2):
        d = tmp_path / f"cut{n}" / "reg"
        shutil.copytree(fresh.parent, d.parent)
        for seed in (0, 7 + n):
            os.environ["PRIVREG_LEDGER_CUT"] = f"{n}:{seed}"
            try:
                r = cli(privreg, "subject", "delete", sid, "--dir", d)
            finally:
                del os.environ["PRIVREG_LEDGER_CUT"]
            if r.returncode == 0:
                break
            if seed and "no such subject" in r.stderr:
                break  # the cut came after the commit: erased, unacknowledged
            assert r.returncode == FAULT_POWERCUT_EXIT, (n, r.stderr)
        if n > FIRST_STEPS:
            assert r.returncode == 0, r.stderr  # no step left to cut
        reopened(privreg, d, key, [sid] if r.returncode != FAULT_POWERCUT_EXIT else [], n)
        # The next erasure goes through, numbered after what the cut kept.
        assert cli(privreg, "subject", "delete", other, "--dir", d).returncode == 0
        reopened(privreg, d, key, [other], n)
        register_intact(privreg, d)
        shutil.rmtree(d.parent)


@pytest.mark.sqlite_only('copies the register directory, SQLite file included, for each cut')
def test_power_cut_at_every_step_of_an_anonymisation_request(tmp_path):
    """An anonymisation request appends twice in one transaction (the order
    anonymised, then the rest erased): a cut at each step of both."""
    privreg = Privreg(_bin())
    fresh = tmp_path / "fresh" / "reg"
    fresh.parent.mkdir()
    privreg("init", "--dir", fresh, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, fresh, "admin")
    ids, _ = pool(privreg, fresh, key, 2, orders=1)
    sid, other = list(ids)
    # The ledger's first line, uncut.
    assert cli(privreg, "subject", "delete", other, "--dir", fresh).returncode == 0
    for n in range(1, 2 * 3 + 2 + 2):
        d = tmp_path / f"cut{n}" / "reg"
        shutil.copytree(fresh.parent, d.parent)
        srv = start(privreg, d, {"PRIVREG_LEDGER_CUT": f"{n}:0"})
        ok = erase_api(srv, key, sid, 2)
        if ok is None:
            srv.proc.wait(timeout=60)
            kill(srv)
            assert srv.proc.returncode == FAULT_POWERCUT_EXIT, n
        else:
            stop_clean(srv)
            assert n > 8, n  # every step before was a cut point
        reopened(privreg, d, key, [other], n, [sid] if ok else [])
        register_intact(privreg, d)
        shutil.rmtree(d.parent)
        if ok:
            break
    else:
        raise AssertionError("the request never finished")


@pytest.mark.sqlite_only('its setup (pool) takes a privreg backup, a SQLite file copy')
def test_power_cuts_around_the_ledger_lose_no_erasure(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "lc" / "reg"
    d.parent.mkdir()
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, d, "admin")
    cuts = int(os.environ.get("PRIVREG_LEDGER_CUTS", "30"))
    rng = random.Random(int(os.environ.get("PRIVREG_CRASH_SEED", "15")))
    ids, backup = pool(privreg, d, key, 3 * cuts + 10, orders=cuts)
    live = list(ids)
    rng.shuffle(live)
    erased, tried, anonymized = [], [], []
    swept = set()  # order records an acknowledged sweep anonymised
    # The ledger's first lines, uncut, so that every cut below is of an append.
    assert cli(privreg, "subject", "delete", live[-1], "--dir", d).returncode == 0
    erased.append(live.pop())
    cut = 0
    for i in range(cuts):
        # Every step in turn, at the first, second or third erasure of the process.
        step = i % STEPS + 1
        seed = rng.randint(1, 1 << 30) if i % 2 else 0
        plan = f"{rng.randint(0, 2) * STEPS + step}:{seed}"
        if i % 6 == 5:
            # A sweep with due records: one transaction (one append) per batch.
            # Late enough, at times, that the sweep finishes (its records run out).
            os.environ["PRIVREG_LEDGER_CUT"] = f"{rng.randint(0, 6) * STEPS + step}:{seed}"
            try:
                r = cli(privreg, "sweep", "--batch", "3", "--dir", d)
            finally:
                del os.environ["PRIVREG_LEDGER_CUT"]
            assert r.returncode in (0, FAULT_POWERCUT_EXIT), r.stderr
            cut += r.returncode == FAULT_POWERCUT_EXIT
            if r.returncode == 0:
                swept.update(x for s in ids if s not in erased + tried + anonymized for x in ids[s][1:])
        elif i % 6 == 2:
            for _ in range(3):
                sid = live.pop()
                # One erasure per process, counted from 1 in each.
                os.environ["PRIVREG_LEDGER_CUT"] = f"{step}:{seed}"
                try:
                    r = cli(privreg, "subject", "delete", sid, "--dir", d)
                finally:
                    del os.environ["PRIVREG_LEDGER_CUT"]
                assert r.returncode in (0, FAULT_POWERCUT_EXIT), r.stderr
                (erased if r.returncode == 0 else tried).append(sid)
                if r.returncode:
                    cut += 1
                    break
        else:
            srv = start(privreg, d, {"PRIVREG_LEDGER_CUT": plan})
            assert srv is not None, plan
            while True:
                sid = live.pop()
                how = 2 if len(ids[sid]) > 1 and sid not in swept_subjects(ids, swept) and rng.random() < 0.5 \
                    else len(live) % 2
                ok = erase_api(srv, key, sid, how)
                if ok is None:
                    tried.append(sid)
                    break
                (anonymized if how == 2 else erased).append(sid)
            srv.proc.wait(timeout=60)
            log = kill(srv)
            assert srv.proc.returncode == FAULT_POWERCUT_EXIT, (plan, srv.proc.returncode, log[-2000:])
            cut += 1
        reopened(privreg, d, key, erased, plan, anonymized)
        in_ledger = {w[6] for w in ledger_lines(d) if len(w) > 6}
        assert swept <= in_ledger, (plan, swept - in_ledger)
        if i % 5 == 4 or i == cuts - 1:
            register_intact(privreg, d)

    # A copy put back by hand is older than the ledger: refused.
    old = tmp_path / "old" / "reg"
    shutil.copytree(d, old)
    for suffix in ("-wal", "-shm"):
        (old / f"privreg.db{suffix}").unlink(missing_ok=True)
    shutil.copyfile(backup, old / "privreg.db")
    assert start(privreg, old) is None
    # `privreg restore` of the backup taken before the erasures: nobody erased comes back.
    out = privreg("restore", backup, "--dir", d, check=0).stdout
    assert "audit log of tenant default: intact" in out, out
    srv = start(privreg, d)
    assert srv is not None
    for sid in erased:
        r = srv.request("GET", f"/v1/subjects/{sid}", key)
        assert r.status_code in (404, 410), r.text
    stop_clean(srv)
    register_intact(privreg, d)
    print(f"ledger power cuts: {cut} cuts, {len(erased)} acknowledged erasures, {len(anonymized)} "
          f"anonymisations, {len(tried)} cut short, "
          f"{len(swept)} records swept; none lost after a reopen or a restore")
    assert cut >= cuts // 2


@pytest.mark.sqlite_only('its setup (pool) takes a privreg backup, a SQLite file copy')
def test_the_marker_is_emptied_once_the_outer_transaction_ends(tmp_path):
    """An erasure inside a request's completion or an idempotent write ends
    with that transaction: the in-flight marker is emptied then, not left
    naming a committed line (which would let a copy taken just before it
    pass for a register cut short)."""
    privreg = Privreg(_bin())
    d = tmp_path / "m" / "reg"
    d.parent.mkdir()
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, d, "admin")
    ids, _ = pool(privreg, d, key, 3, orders=1)
    marker = d / "ledger" / "default.pending"
    srv = start(privreg, d)
    try:
        anon, *rest = list(ids)
        r = srv.request("DELETE", f"/v1/subjects/{rest[0]}", key, headers={"Idempotency-Key": "del-1"})
        assert r.status_code == 204, r.text
        assert marker.read_text() == ""
        assert erase_api(srv, key, rest[1], 1)
        assert marker.read_text() == ""
        assert erase_api(srv, key, anon, 2)
        assert marker.read_text() == ""
        assert len(ledger_lines(d)) == 4
    finally:
        stop_clean(srv)


def test_an_erasure_that_never_committed_is_applied_by_restore_after_later_ones(tmp_path):
    """An erasure whose lines reached the ledger but whose transaction never
    committed (a crash here; a 503 when PostgreSQL went away, in the
    operator's trial), followed by one that committed: that one's position
    passes the first's lines. They were asked for, so `privreg restore
    --reconcile` still applies them, and the server says so at start."""
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    key = add_key(privreg, d, "admin")
    srv = start(privreg, d)
    ids = []
    for i in range(3):
        acc = dict(ACCOUNT, fields=dict(ACCOUNT["fields"], email=f"n{i}@example.ee"))
        r = srv.request("POST", "/v1/subjects", key, json={"records": [acc]})
        assert r.status_code == 201, r.text
        ids.append(r.json()["id"])
    stop_clean(srv)
    first, cut, later = ids
    assert cli(privreg, "subject", "delete", first, "--dir", d).returncode == 0  # the ledger exists: 5 steps
    os.environ["PRIVREG_LEDGER_CUT"] = "3:0"  # its lines synced, the database not committed
    try:
        r = cli(privreg, "subject", "delete", cut, "--dir", d)
    finally:
        del os.environ["PRIVREG_LEDGER_CUT"]
    assert r.returncode == FAULT_POWERCUT_EXIT, r.stderr
    r = cli(privreg, "subject", "delete", later, "--dir", d)
    assert r.returncode == 0, r.stderr
    assert "entries 2..2 never committed (a failed or cut-short erasure): 'privreg restore --reconcile' applies them" \
        in r.stderr, r.stderr
    assert [w[5] for w in ledger_lines(d)] == [first, cut, later]
    # A copy taken now carries what it skipped: restored after the live
    # register has applied the line, it applies it again (the review's case).
    copy = tmp_path / "copy.db"
    if not PG:
        privreg("backup", copy, "--dir", d, check=0)
    # Not erased in the database: the transaction never committed.
    assert cli(privreg, "subject", "get", cut, "--dir", d).returncode == 0
    srv = start(privreg, d)
    assert srv is not None
    assert srv.request("GET", f"/v1/subjects/{cut}", key).status_code == 200
    assert "entries 2..2 never committed (a failed erasure): 'privreg restore --reconcile' applies them" \
        in stop_clean(srv)
    r = cli(privreg, "restore", "--reconcile", "--dir", d)
    assert r.returncode == 0, r.stderr
    assert "1 erasure" in r.stdout, r.stdout
    assert cli(privreg, "subject", "get", cut, "--dir", d).returncode != 0
    # Applied once: a second reconcile has nothing left to do.
    r = cli(privreg, "restore", "--reconcile", "--dir", d)
    assert r.returncode == 0 and "0 erasures" in r.stdout, r.stdout
    register_intact(privreg, d)
    if not PG:
        r = cli(privreg, "restore", copy, "--dir", d)
        assert r.returncode == 0, r.stderr
        assert cli(privreg, "subject", "get", cut, "--dir", d).returncode != 0
        assert cli(privreg, "subject", "get", later, "--dir", d).returncode != 0
        r = cli(privreg, "restore", "--reconcile", "--dir", d)
        assert r.returncode == 0 and "0 erasures" in r.stdout, r.stdout
        register_intact(privreg, d)
