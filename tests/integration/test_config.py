"""Configuration of `privreg serve`: privreg.conf, PRIVREG_* variables and
flags (each overriding the one before), secrets kept out of argv (a password
file readable by its owner only, or PRIVREG_SMTP_PASSWORD), and `privreg
config show` with where each value came from and secrets masked."""
import pytest
import os
import re
import signal
import subprocess
import time

import requests
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from conftest import Server, add_key
from test_consent import free_port, grant, new_subject

PASSWORD = "s3cret-Pa55word"


def write_conf(register, *lines, store=None):
    """privreg.conf with the register's own store (only init makes one:
    another would be refused) and these lines."""
    if store is None:
        store = re.search(r"^store = (\S+)$", (register / "privreg.conf").read_text(), re.M).group(1)
    (register / "privreg.conf").write_text(f"store = {store}\n" + "".join(l + "\n" for l in lines))


def env_without_privreg(**extra):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PRIVREG_") or k == "PRIVREG_BIN"}
    env.update(extra)
    return env


def serve(privreg, register, *flags, env=None):
    """Starts `privreg serve` with only the given flags; returns (process, port)."""
    log = open(register.parent / "serve.log", "w")
    proc = subprocess.Popen([privreg.binary, "serve", "--dir", str(register), *flags], stdout=subprocess.PIPE,
                            stderr=log, text=True, env=env or env_without_privreg())
    line = proc.stdout.readline()
    m = re.search(r"http://127\.0\.0\.1:(\d+)", line)
    assert m, line + (register.parent / "serve.log").read_text()
    return proc, int(m.group(1))


def stop(proc):
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0


def show(privreg, register, *flags, env=None, check=0):
    proc = subprocess.run([privreg.binary, "config", "show", "--dir", str(register), *flags], capture_output=True,
                          text=True, env=env or env_without_privreg(), timeout=60)
    assert proc.returncode == check, proc.stderr
    return proc


def test_conf_then_env_then_flag(privreg, register):
    ports = [free_port() for _ in range(3)]
    write_conf(register, f"listen = 127.0.0.1:{ports[0]}", "threads = 2")
    proc, port = serve(privreg, register)
    assert port == ports[0]
    assert requests.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
    stop(proc)
    env = env_without_privreg(PRIVREG_LISTEN=f"127.0.0.1:{ports[1]}")
    proc, port = serve(privreg, register, env=env)
    assert port == ports[1]
    stop(proc)
    proc, port = serve(privreg, register, "--listen", f"127.0.0.1:{ports[2]}", env=env)
    assert port == ports[2]
    stop(proc)
    # config show says the same, and where each value came from.
    out = show(privreg, register, env=env_without_privreg(PRIVREG_LISTEN="127.0.0.1:1", PRIVREG_THREADS="3"),
               ).stdout
    assert "listen = 127.0.0.1:1  # env PRIVREG_LISTEN\n" in out
    assert "threads = 3  # env PRIVREG_THREADS\n" in out
    assert "auth_limit = 10  # default\n" in out
    out = show(privreg, register, "--threads", "4", "--sweep-every", "30m").stdout
    assert f"listen = 127.0.0.1:{ports[0]}  # conf privreg.conf line 2\n" in out
    assert "threads = 4  # flag --threads\n" in out and "sweep_every = 30m  # flag --sweep-every\n" in out
    assert "# public_url: not set" in out


def test_conf_mistakes_name_their_line(privreg, register):
    cases = [
        (["listen = 127.0.0.1:0", "lisen = 127.0.0.1:1"], 3, "unknown key 'lisen' (the known keys are: store, listen,"),
        (["threads = many"], 2, "threads takes a number from 1 to 256"),
        (["sweep_every = soon"], 2, "sweep_every takes a period"),
        (["smtp_from = a@example.ee", "smtp_from = b@example.ee"], 3, "smtp_from is given twice (first on line 2)"),
        (["smtp_password = x"], 2, "unknown key 'smtp_password'"),  # secrets: a file or the environment
    ]
    conf = register / "privreg.conf"
    for lines, line, msg in cases:
        write_conf(register, *lines)
        for args in (["status", "--dir", register], ["serve", "--dir", register, "--listen", "127.0.0.1:0"]):
            r = privreg(*args, check=3)
            assert f"{conf}:{line}: {msg}" in r.stderr, (lines, r.stderr)
    # The environment is checked too, and a flag's mistake is a usage error.
    write_conf(register)
    r = show(privreg, register, env=env_without_privreg(PRIVREG_PER_IP_LIMIT="0"), check=2)
    assert "PRIVREG_PER_IP_LIMIT takes a number from 1 to 100000" in r.stderr
    r = privreg("serve", "--dir", register, "--receive-timeout", "2h", check=2)
    assert "--receive-timeout takes a period from 1s to 1h" in r.stderr


class AuthInbox:
    """An SMTP server that requires AUTH and keeps the logins it saw."""

    def __init__(self, port):
        self.messages, self.logins = [], []
        self.controller = Controller(self, hostname="127.0.0.1", port=port, authenticator=self.check,
                                     auth_require_tls=False, auth_required=True)

    def check(self, server, session, envelope, mechanism, auth_data):
        if isinstance(auth_data, LoginPassword):
            self.logins.append((auth_data.login.decode(), auth_data.password.decode()))
            ok = auth_data.login == b"shop" and auth_data.password == PASSWORD.encode()
            return AuthResult(success=ok)
        return AuthResult(success=False)

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(envelope.content)
        return "250 OK"


@pytest.mark.sqlite_only('writes a privreg.conf naming the SQLite store')
def test_smtp_password_from_a_file_reaches_the_server_and_not_argv(privreg, register):
    port = free_port()
    inbox = AuthInbox(port)
    inbox.controller.start()
    try:
        pw = register / "smtp-password"
        pw.write_text(PASSWORD + "\n")
        pw.chmod(0o600)
        write_conf(register, f"smtp = smtp://127.0.0.1:{port}", "smtp_user = shop", "smtp_password_file = smtp-password")
        key = add_key(privreg, register, "admin")
        srv = Server(privreg, register, ["--smtp-from", "shop@example.ee"])
        srv.keys = {"admin": key}
        cmdline = open(f"/proc/{srv.proc.pid}/cmdline", "rb").read()
        assert PASSWORD.encode() not in cmdline
        sid = new_subject(srv, "mari@example.ee")
        assert grant(srv, sid).status_code == 201
        end = time.time() + 20
        while not inbox.messages and time.time() < end:
            time.sleep(0.05)
        code, log = srv.stop()
        assert code == 0, log
        assert len(inbox.messages) == 1 and ("shop", PASSWORD) in inbox.logins
        assert PASSWORD not in log
    finally:
        inbox.controller.stop()


def test_a_password_file_others_can_read_is_refused(privreg, register):
    pw = register / "smtp-password"
    pw.write_text(PASSWORD)
    pw.chmod(0o644)
    write_conf(register, "smtp = smtp://127.0.0.1:25", "smtp_user = shop", f"smtp_password_file = {pw}")
    for cmd in (["serve", "--dir", register, "--listen", "127.0.0.1:0"], ["config", "show", "--dir", register]):
        r = privreg(*cmd, check=3)
        assert f"chmod 600 {pw}" in r.stderr and "mode 644" in r.stderr, r.stderr
        assert PASSWORD not in r.stderr + r.stdout


def test_config_show_masks_secrets(privreg, register):
    write_conf(register, "smtp = smtp://mail.example.ee:587", "smtp_user = shop")
    out = show(privreg, register, env=env_without_privreg(PRIVREG_SMTP_PASSWORD=PASSWORD)).stdout
    assert "smtp_password = ********  # env PRIVREG_SMTP_PASSWORD\n" in out
    assert PASSWORD not in out
    # A password in the --smtp URL still works, masked here, with a warning.
    write_conf(register)
    r = show(privreg, register, "--smtp", f"smtp://shop:{PASSWORD}@mail.example.ee:587")
    assert "smtp = smtp://shop:********@mail.example.ee:587  # flag --smtp\n" in r.stdout
    assert PASSWORD not in r.stdout + r.stderr
    assert "visible to every user" in r.stderr and "smtp_password_file" in r.stderr
    # A password needs a user and a server; the user is given once.
    r = show(privreg, register, env=env_without_privreg(PRIVREG_SMTP_PASSWORD=PASSWORD), check=2)
    assert "an SMTP password is given but smtp is not" in r.stderr
    r = show(privreg, register, "--smtp", "smtp://a:b@mail.example.ee", "--smtp-user", "shop", check=2)
    assert "not both" in r.stderr


def test_config_show_prints_the_store(privreg, register):
    """The first line is the database the register lives in: on PostgreSQL
    the URL every server and command of it uses. A SQLite store is shown as
    privreg.conf has it (so that it can be written back there as shown: a
    relative path is inside the register directory), its file in the
    comment."""
    store = re.search(r"^store = (\S+)$", (register / "privreg.conf").read_text(), re.M).group(1)
    where = f": the file {register.resolve()}/{store[7:]}" if store.startswith("sqlite:") else ""
    out = show(privreg, register).stdout
    assert re.match(rf"store = {re.escape(store)}  # conf privreg\.conf line \d+{re.escape(where)}\n", out), out
    write_conf(register, store="sqlite:privreg.db")
    out = show(privreg, register).stdout
    assert out.startswith(f"store = sqlite:privreg.db  # conf privreg.conf line 1: the file "
                          f"{register.resolve()}/privreg.db\n"), out
    # Every command that opens the store refuses a password in its URL; config
    # show opens none, and masks it.
    (register / "privreg.conf").write_text(
        f"store = postgres://shop:{PASSWORD}@db.example:5432/shop?sslmode=require&password={PASSWORD}\n")
    out = show(privreg, register).stdout
    assert out.startswith("store = postgres://shop:********@db.example:5432/shop?sslmode=require&password=********"
                          "  # conf privreg.conf line 1\n"), out
    assert PASSWORD not in out
