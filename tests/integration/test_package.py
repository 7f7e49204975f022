"""Packaging (issue #11, item 7): `make deb` builds a Debian package from
debian/, lintian finds no error in it, and the package, unpacked into a
temporary root with dpkg -x, holds a binary that runs, a manual page per
command of `privreg --help` (groff finds nothing to warn about), bash
completion that completes from the binary's own --help, the settings file
readable by root only, and a systemd unit that `systemd-analyze verify`
accepts with its Documentation= pages found. Skipped only when the
packaging tools (scripts/install-deps installs them) are missing."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import PG, ROOT

TOOLS = ["dpkg-buildpackage", "dh", "lintian", "systemd-analyze", "dpkg-deb", "man"]
pytestmark = [pytest.mark.skipif(any(shutil.which(t) is None for t in TOOLS),
                                 reason="packaging tools missing: run scripts/install-deps"),
              # The package does not depend on the store the suite runs on.
              pytest.mark.skipif(PG, reason="no register on the store under test: the SQLite pass builds it")]


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    """The built .deb, unpacked: (path of the .deb, root directory)."""
    out = tmp_path_factory.mktemp("deb")
    # The unit tests ran already (make test); the package build skips them.
    env = {**os.environ, "DEB_BUILD_OPTIONS": "nocheck parallel=2"}
    proc = subprocess.run(["make", "-C", str(ROOT), "deb", f"DEBBUILD={out / 'build'}"], capture_output=True,
                          text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    debs = [p for p in (out / "build").glob("privreg_*.deb")]
    assert len(debs) == 1, debs
    root = out / "root"
    subprocess.run(["dpkg", "-x", str(debs[0]), str(root)], check=True, timeout=120)
    return debs[0], root


def test_lintian_finds_no_error(package):
    deb, _ = package
    proc = subprocess.run(["lintian", "--fail-on", "error", str(deb)], capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_installed_binary_runs(package):
    _, root = package
    version = re.search(r"version: '([^']+)'", (ROOT / "meson.build").read_text()).group(1)
    proc = subprocess.run([str(root / "usr/bin/privreg"), "--version"], capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0 and proc.stdout.strip() == f"privreg {version}", proc.stdout + proc.stderr


def commands(binary):
    top = subprocess.run([binary, "--help"], capture_output=True, text=True, check=True, timeout=30).stdout
    return re.findall(r"^  ([a-z]+) ", top.split("commands:", 1)[1], re.M)


def test_a_manual_page_per_command(package):
    _, root = package
    man1 = root / "usr/share/man/man1"
    cmds = commands(str(root / "usr/bin/privreg"))
    assert len(cmds) >= 10
    pages = sorted(p.name for p in man1.iterdir())
    assert pages == sorted(["privreg.1.gz"] + [f"privreg-{c}.1.gz" for c in cmds])
    for page in pages:
        proc = subprocess.run(["man", "--warnings", "-l", str(man1 / page)], capture_output=True, text=True,
                              timeout=60, env={**os.environ, "MANWIDTH": "80", "MAN_DISABLE_SECCOMP": "1"})
        assert proc.returncode == 0 and not proc.stderr, (page, proc.stderr)
    serve = subprocess.run(["man", "-l", str(man1 / "privreg-serve.1.gz")], capture_output=True, text=True,
                           timeout=60, env={**os.environ, "MANWIDTH": "200"}).stdout
    # The page says what --help says: every flag of serve is there.
    help_text = subprocess.run([str(root / "usr/bin/privreg"), "serve", "--help"], capture_output=True, text=True,
                               timeout=30).stdout
    for flag in set(re.findall(r"--[a-z][a-z-]+", help_text)):
        assert flag in serve, flag


def test_bash_completion_reads_the_binary(package):
    _, root = package
    script = root / "usr/share/bash-completion/completions/privreg"
    bindir = root / "usr/bin"
    run = f"""
        source {script}
        PATH={bindir}:$PATH
        COMP_WORDS=(privreg se); COMP_CWORD=1; _privreg; echo "${{COMPREPLY[*]}}"
        COMP_WORDS=(privreg serve --tls); COMP_CWORD=2; _privreg; echo "${{COMPREPLY[*]}}"
        COMP_WORDS=(privreg key ''); COMP_CWORD=2; _privreg; echo "${{COMPREPLY[*]}}"
    """
    out = subprocess.run(["bash", "-c", run], capture_output=True, text=True, timeout=60).stdout.splitlines()
    assert out == ["serve", "--tls-cert --tls-key", "add list revoke rotate"], out


def test_service_unit_and_settings(package, tmp_path):
    _, root = package
    unit = (root / "lib/systemd/system/privreg.service").read_text()
    for line in ["StateDirectory=privreg", "ProtectSystem=strict", "PrivateTmp=yes", "NoNewPrivileges=yes",
                 "MemoryDenyWriteExecute=yes", "LimitCORE=0", "EnvironmentFile=-/etc/privreg/privreg.conf",
                 "ExecStart=/usr/bin/privreg serve --dir /var/lib/privreg", "User=privreg"]:
        assert line in unit.splitlines(), line
    conf = root / "etc/privreg/privreg.conf"
    assert conf.stat().st_mode & 0o777 == 0o600
    # Every PRIVREG_ name in the example is a setting privreg knows.
    shown = subprocess.run([str(root / "usr/bin/privreg"), "config", "show", "--help"], capture_output=True,
                           text=True, timeout=30)
    assert shown.returncode == 0
    serve_help = subprocess.run([str(root / "usr/bin/privreg"), "serve", "--help"], capture_output=True,
                                text=True, timeout=30).stdout
    for name in re.findall(r"^#?PRIVREG_([A-Z_]+)=", conf.read_text(), re.M):
        flag = "--" + name.lower().replace("_", "-")
        assert flag in serve_help or name == "SMTP_PASSWORD", name
    # systemd-analyze checks the binary exists: point it at the unpacked one.
    (tmp_path / "privreg.service").write_text(unit.replace("/usr/bin/privreg", str(root / "usr/bin/privreg")))
    proc = subprocess.run(["systemd-analyze", "verify", str(tmp_path / "privreg.service")], capture_output=True,
                          text=True, timeout=120, env={**os.environ, "MANPATH": str(root / "usr/share/man")})
    assert proc.returncode == 0 and "privreg.service" not in proc.stderr, proc.stderr
