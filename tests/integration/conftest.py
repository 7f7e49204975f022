"""Shared fixtures: the privreg binary under test and fresh registers."""
import json
import os
import pathlib
import subprocess

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
POLICIES = ROOT / "policies"
WEBSHOP = POLICIES / "webshop.yaml"


def _bin():
    path = os.environ.get("PRIVREG_BIN") or str(ROOT / "build-test" / "privreg")
    if not os.access(path, os.X_OK):
        pytest.exit(f"privreg binary not found at {path}: run 'make test'", returncode=2)
    return path


class Privreg:
    def __init__(self, binary):
        self.binary = binary

    def __call__(self, *args, check=None, input=None):
        """Runs privreg; check=0 (say) asserts the exit code."""
        proc = subprocess.run([self.binary, *map(str, args)], capture_output=True,
                              text=True, input=input, timeout=120)
        if check is not None:
            assert proc.returncode == check, (
                f"privreg {' '.join(map(str, args))} exited {proc.returncode}, wanted {check}\n"
                f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc

    def json(self, *args):
        return json.loads(self(*args, check=0).stdout)


@pytest.fixture
def privreg():
    return Privreg(_bin())


@pytest.fixture
def register(privreg, tmp_path):
    """A fresh register under the example policy; returns its directory."""
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", WEBSHOP, check=0)
    return d


def files_contain(directory, needle: bytes):
    """True if any file below directory contains the bytes."""
    for p in pathlib.Path(directory).rglob("*"):
        if p.is_file() and needle in p.read_bytes():
            return True
    return False
