"""Soak, the short form (issue #15, item 5): bench/soak for 60 s against the
binary under test (the ASan+UBSan build in `make test`): a mixed workload of
creates, reads, consent grants and checks, rectifications, access and erasure
requests and retention sweeps, with no 5xx (nor 4xx) answer, a clean exit on
SIGTERM with no sanitizer or leak report, RSS stable within 10% (the last
20 s against 20-40 s, after 20 s of warm-up) and the audit chain intact.
The 10-minute and hour-long forms: `bench/soak 600`, `bench/soak 3600`."""
import shutil
import subprocess

import pytest

from conftest import ROOT


@pytest.mark.skipif(shutil.which("wrk") is None, reason="wrk is not installed (scripts/install-deps)")
def test_soak_60s(privreg):
    proc = subprocess.run([str(ROOT / "bench" / "soak"), "60", privreg.binary], capture_output=True, text=True,
                          timeout=240)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out
    assert "soak: PASS" in out, out
    assert " 5xx=0 " in out, out
