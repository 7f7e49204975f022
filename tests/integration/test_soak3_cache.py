"""sqlite_cache_mb: the page cache of each SQLite connection of `privreg
serve` (issue #15: the soak's memory). Optional, 8 MiB by default, from
privreg.conf, the environment or a flag like every setting, and bounded: a
value outside 1..1024 is refused with the line and the range, never cut."""
import pytest
import requests

from test_config import env_without_privreg, serve, show, stop, write_conf


def test_sqlite_cache_has_a_default_and_takes_conf_env_and_flag(privreg, register):
    write_conf(register)
    assert "sqlite_cache_mb = 8  # default\n" in show(privreg, register).stdout
    write_conf(register, "sqlite_cache_mb = 16")
    assert "sqlite_cache_mb = 16  # conf privreg.conf line 2\n" in show(privreg, register).stdout
    out = show(privreg, register, env=env_without_privreg(PRIVREG_SQLITE_CACHE_MB="4")).stdout
    assert "sqlite_cache_mb = 4  # env PRIVREG_SQLITE_CACHE_MB\n" in out
    out = show(privreg, register, "--sqlite-cache-mb", "2").stdout
    assert "sqlite_cache_mb = 2  # flag --sqlite-cache-mb\n" in out


def test_sqlite_cache_out_of_bounds_is_refused(privreg, register):
    conf = register / "privreg.conf"
    for value in ("0", "1025", "lots", "-8", "8.5"):
        write_conf(register, "listen = 127.0.0.1:0", f"sqlite_cache_mb = {value}")
        for args in (["status", "--dir", register], ["serve", "--dir", register]):
            r = privreg(*args, check=3)
            assert f"{conf}:3: sqlite_cache_mb takes a number from 1 to 1024" in r.stderr, (value, r.stderr)
    write_conf(register)
    r = show(privreg, register, env=env_without_privreg(PRIVREG_SQLITE_CACHE_MB="0"), check=2)
    assert "PRIVREG_SQLITE_CACHE_MB takes a number from 1 to 1024" in r.stderr
    r = privreg("serve", "--dir", register, "--sqlite-cache-mb", "100000", check=2)
    assert "--sqlite-cache-mb takes a number from 1 to 1024" in r.stderr


@pytest.mark.sqlite_only("the page cache is SQLite's")
def test_server_runs_with_the_smallest_and_largest_cache(privreg, register):
    write_conf(register, "listen = 127.0.0.1:0")
    for mb in ("1", "1024"):
        proc, port = serve(privreg, register, "--sqlite-cache-mb", mb)
        try:
            assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        finally:
            stop(proc)
