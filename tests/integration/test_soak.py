"""Soak, the short form (issue #15, item 5): bench/soak for 60 s against the
binary under test (the ASan+UBSan build in `make test`): a mixed workload of
creates, reads, consent grants and checks, rectifications, access and erasure
requests and retention sweeps, with no 5xx (nor 4xx) answer, a clean exit on
SIGTERM with no sanitizer or leak report, memory stable within 10% (the last
20 s against 20-40 s, after 20 s of warm-up) and the audit chain intact.

Which memory is the rule the hour-long form uses too (docs/reliability.md,
Soak): on a sanitizer build, the live heap outside SQLite (ASan's count of
bytes allocated and not freed, less what SQLite holds: its page caches fill
up to cache_size, ASan's own bookkeeping grows for as long as the process
runs); on a build without sanitizers, RSS. The 10-minute and hour-long
forms: `bench/soak 600`, `bench/soak 3600` (and `build/privreg` for RSS)."""
import re
import shutil
import subprocess

import pytest

from conftest import PG, ROOT, Server, add_key


def _sanitized(binary):
    return "libasan" in subprocess.run(["ldd", binary], capture_output=True, text=True).stdout


def _gauge(text, name):
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    return int(m.group(1)) if m else None


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/install-deps)")
@pytest.mark.skipif(PG, reason="bench/soak makes a SQLite register of its own: the SQLite pass runs it")
@pytest.mark.serial  # judges memory under a load of its own
def test_soak_60s(privreg):
    proc = subprocess.run([str(ROOT / "bench" / "soak"), "60", privreg.binary], capture_output=True, text=True,
                          timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "soak: PASS" in out, out
    assert " 5xx=0 " in out, out
    judged = "heap" if _sanitized(privreg.binary) else "rss"
    assert f"judged: {judged} (" in out, out
    if judged == "heap":
        assert re.search(r"^soak: live heap outside SQLite mean .*, judged$", out, re.M), out


@pytest.mark.sqlite_only("SQLite's part of the heap: a PostgreSQL register's database memory is the database server's")
def test_sanitizer_build_gives_out_its_live_heap(privreg, register):
    """The gauges bench/soak judges a sanitizer build by: the live heap and
    SQLite's part of it, both on /metrics; a release build has neither."""
    key = add_key(privreg, register, "admin")
    srv = Server(privreg, register)
    try:
        r = srv.request("POST", "/v1/subjects", key, json={"records": [
            {"kind": "account", "fields": {"email": "heap@example.ee", "name": "Mari", "language": "et"}}]})
        assert r.status_code == 201, r.text
        text = srv.request("GET", "/metrics", key).text
    finally:
        code, err = srv.stop()
    assert code == 0, err
    live, db = _gauge(text, "privreg_heap_live_bytes"), _gauge(text, "privreg_heap_database_bytes")
    if not _sanitized(privreg.binary):
        assert live is None and db is None, text
        return
    assert "# TYPE privreg_heap_live_bytes gauge" in text and "# TYPE privreg_heap_database_bytes gauge" in text
    # SQLite has opened the database and read its schema: it holds some of
    # the heap (its memory statistics are on in sanitizer builds), not all.
    assert live is not None and db is not None, text
    assert 0 < db < live, (db, live)
