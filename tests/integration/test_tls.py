"""HTTPS of privreg's own (issue #11, item 5): tls_cert and tls_key (flag,
privreg.conf or environment) make `privreg serve` speak TLS through
libmicrohttpd and GnuTLS, with a certificate made here by the openssl CLI
and checked by requests against it; answers then carry
Strict-Transport-Security. A file that cannot be read, is not PEM, is
readable by everyone, or a key that belongs to another certificate, stops
the server at start with a message naming the file and the fix."""
import os
import re
import shutil
import subprocess

import pytest
import requests

from conftest import add_key

pytestmark = pytest.mark.skipif(shutil.which("openssl") is None, reason="the openssl CLI is not installed")


def make_cert(directory, name="server"):
    """A self-signed certificate for 127.0.0.1 and its key (mode 600)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                    "-nodes", "-days", "2", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True, timeout=60)
    os.chmod(key, 0o600)
    return cert, key


def serve(privreg, register, *extra, env=None):
    """Starts privreg serve; returns (process, URL printed) or (process, None) when it exited."""
    log = open(register.parent / "tls-server.log", "w")
    proc = subprocess.Popen([privreg.binary, "serve", "--dir", str(register), "--listen", "127.0.0.1:0",
                             "--threads", "2", *map(str, extra)], stdout=subprocess.PIPE, stderr=log, text=True,
                            env={**os.environ, **(env or {})})
    line = proc.stdout.readline()
    log.close()
    m = re.search(r"https?://127\.0\.0\.1:\d+", line)
    return proc, (m.group(0) if m else None)


def stop(proc):
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    return proc.returncode


def failed_start(privreg, register, *extra, env=None):
    """Runs a serve that must not start; returns its stderr."""
    proc = subprocess.run([privreg.binary, "serve", "--dir", str(register), "--listen", "127.0.0.1:0",
                           *map(str, extra)], capture_output=True, text=True, timeout=30,
                          env={**os.environ, **(env or {})})
    assert proc.returncode != 0, proc.stdout
    return proc.stderr


def test_https_with_a_certificate(privreg, register, tmp_path):
    cert, key = make_cert(tmp_path)
    admin = add_key(privreg, register, "admin")
    proc, url = serve(privreg, register, "--tls-cert", cert, "--tls-key", key)
    try:
        assert url and url.startswith("https://"), (register.parent / "tls-server.log").read_text()
        r = requests.get(url + "/healthz", verify=str(cert), timeout=30)
        assert r.status_code == 200
        assert r.headers["Strict-Transport-Security"] == "max-age=31536000"
        r = requests.get(url + "/v1/policy", headers={"Authorization": "Bearer " + admin}, verify=str(cert),
                         timeout=30)
        assert r.status_code == 200 and "Strict-Transport-Security" in r.headers
        # A client that does not know the certificate refuses it...
        with pytest.raises(requests.exceptions.SSLError):
            requests.get(url + "/healthz", timeout=30)
        # ...and plain HTTP on the HTTPS port gets no answer.
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(url.replace("https://", "http://") + "/healthz", timeout=30)
    finally:
        assert stop(proc) == 0
    err = (register.parent / "tls-server.log").read_text()
    assert "AddressSanitizer" not in err and "runtime error" not in err, err[-3000:]
    assert "scheme=https" in err


def test_https_from_the_conf_file_and_the_environment(privreg, register, tmp_path):
    cert, key = make_cert(tmp_path)
    conf = register / "privreg.conf"
    lines = conf.read_text().count("\n")
    with open(conf, "a") as f:
        f.write(f"tls_cert = {cert}\n")
    proc, url = serve(privreg, register, env={"PRIVREG_TLS_KEY": str(key)})
    try:
        assert url and url.startswith("https://")
        assert requests.get(url + "/healthz", verify=str(cert), timeout=30).status_code == 200
    finally:
        stop(proc)
    shown = privreg("config", "show", "--dir", register, "--tls-key", key, check=0).stdout
    assert f"tls_cert = {cert}  # conf privreg.conf line {lines + 1}" in shown
    assert f"tls_key = {key}  # flag --tls-key" in shown


def test_plain_http_has_no_hsts(privreg, register):
    proc, url = serve(privreg, register)
    try:
        assert url.startswith("http://")
        r = requests.get(url + "/healthz", timeout=30)
        assert r.status_code == 200 and "Strict-Transport-Security" not in r.headers
    finally:
        stop(proc)


def test_a_key_of_another_certificate_is_named(privreg, register, tmp_path):
    cert, _ = make_cert(tmp_path, "one")
    _, other = make_cert(tmp_path, "two")
    err = failed_start(privreg, register, "--tls-cert", cert, "--tls-key", other)
    assert f"tls_key {other} is not the private key of the certificate in tls_cert {cert}" in err, err


def test_unusable_files_are_named(privreg, register, tmp_path):
    cert, key = make_cert(tmp_path)
    missing = tmp_path / "missing.crt"
    err = failed_start(privreg, register, "--tls-cert", missing, "--tls-key", key)
    assert f"cannot read tls_cert {missing}: No such file or directory" in err, err
    err = failed_start(privreg, register, "--tls-cert", key, "--tls-key", key)
    assert f"tls_cert {key} is not a PEM file holding -----BEGIN CERTIFICATE-----" in err, err
    os.chmod(cert, 0o600)
    err = failed_start(privreg, register, "--tls-cert", cert, "--tls-key", cert)
    os.chmod(cert, 0o644)
    assert f"tls_key {cert} is not a PEM file holding PRIVATE KEY-----" in err, err
    os.chmod(key, 0o644)
    err = failed_start(privreg, register, "--tls-cert", cert, "--tls-key", key)
    assert f"chmod o-r {key}" in err, err
    os.chmod(key, 0o600)
    err = failed_start(privreg, register, "--tls-cert", cert)
    assert "tls_cert is set but tls_key is not: HTTPS needs both" in err, err
    err = failed_start(privreg, register, env={"PRIVREG_TLS_KEY": str(key)})
    assert "tls_key is set but tls_cert is not: HTTPS needs both" in err, err
