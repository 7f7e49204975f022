"""Letters a company can reword: the e-mails' subjects and bodies are
templates (templates/mail/LANG/MESSAGE.txt, embedded in the binary) that a
tenant may override from the directory its policy names
(controller.mail.templates); `privreg policy check` verifies every override;
the Subject header is encoded per RFC 2047 in encoded words of at most 75
characters on folded lines; the Message-ID is in the sender's domain."""
import email
import email.header
import email.policy
import re

import pytest
from aiosmtpd.controller import Controller

from conftest import WEBSHOP, Privreg, Server, _bin, add_key
from test_answers import act, five_languages, new_request, subject
from test_consent import free_port

ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[BbQq]\?[^?\s]*\?=")


class RawInbox:
    """An SMTP server on loopback that keeps each message's raw bytes."""

    def __init__(self, port):
        self.raw = []
        self.controller = Controller(self, hostname="127.0.0.1", port=port)

    async def handle_DATA(self, server, session, envelope):
        self.raw.append(envelope.content)
        return "250 OK"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()

    def to(self, address, count=1, timeout=20):
        import time
        end = time.time() + timeout
        while time.time() < end:
            got = [r for r in self.raw if parse(r)["To"] == address]
            if len(got) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"no mail to {address}: {len(self.raw)} messages")


def parse(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def raw_header(raw, name):
    """The header's raw lines (folded as sent), and its value unfolded."""
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    lines = head.split("\r\n")
    for i, line in enumerate(lines):
        if line.lower().startswith(name.lower() + ":"):
            block = [line]
            for cont in lines[i + 1:]:
                if not cont.startswith((" ", "\t")):
                    break
                block.append(cont)
            return block
    raise AssertionError(f"no {name} header")


def policy_with(tmp_path, text, templates=None, mail_from=None):
    """The example policy (five languages) with controller.mail set."""
    text = five_languages(text)
    extra = []
    if mail_from:
        extra.append(f'from: "{mail_from}"')
    if templates:
        extra.append(f"templates: {templates}")
    if extra:
        text = text.replace("controller:\n", "controller:\n  mail: { " + ", ".join(extra) + " }\n", 1)
    path = tmp_path / "shop.yaml"
    path.write_text(text)
    return path


def start(tmp_path, policy, smtp_from=None):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    privreg("init", "--dir", d, "--policy", policy, check=0)
    port = free_port()
    inbox = RawInbox(port).start()
    extra = ["--smtp", f"smtp://127.0.0.1:{port}"] + (["--smtp-from", smtp_from] if smtp_from else [])
    srv = Server(privreg, d, extra)
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support"]}
    srv.inbox = inbox
    return srv


def stop(srv):
    code, log = srv.stop()
    srv.inbox.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


@pytest.fixture
def env(tmp_path):
    srv = start(tmp_path, policy_with(tmp_path, WEBSHOP.read_text()), smtp_from="privacy@bajtel.example")
    yield srv
    stop(srv)


def check_subject(raw, expected):
    lines = raw_header(raw, "Subject")
    words = ENCODED_WORD.findall(" ".join(lines))
    assert len(words) > 1, lines  # long enough to need more than one
    for w in words:
        assert len(w) <= 75, (len(w), w)
    for line in lines:
        assert len(line) <= 78, line
    # Each word holds whole characters: each decodes on its own.
    for w in words:
        ((data, charset),) = email.header.decode_header(w)
        data.decode(charset)
    assert str(email.header.make_header(email.header.decode_header(" ".join(lines)[len("Subject:"):]))) == expected
    assert parse(raw)["Subject"] == expected


@pytest.mark.parametrize("lang,expected", [
    ("ru", "В вашем запросе (отказ от прямого маркетинга) отказано"),
    ("lv", "Jūsu pieprasījums (atteikšanās no tiešā mārketinga) ir noraidīts"),
])
def test_long_subject_is_folded_into_short_encoded_words(env, lang, expected):
    address = f"fold-{lang}@example.ee"
    sid, _ = subject(env, address, lang)
    act(env, new_request(env, sid, "marketing_optout")["id"], "refuse", reason="not confirmed")
    (raw,) = env.inbox.to(address)
    check_subject(raw, expected)


def test_message_id_in_the_domain_of_the_server_sender(env):
    address = "mid@example.ee"
    sid, _ = subject(env, address, "en")
    act(env, new_request(env, sid, "access")["id"], "refuse", reason="not confirmed")
    (raw,) = env.inbox.to(address)
    mid = parse(raw)["Message-ID"]
    assert re.fullmatch(r"<[0-9a-f]{24}@bajtel\.example>", mid), mid


def test_message_id_in_the_domain_of_the_tenant_sender(tmp_path):
    policy = policy_with(tmp_path, WEBSHOP.read_text(), mail_from="Bajtel <letters@shop.bajtel.lv>")
    srv = start(tmp_path, policy, smtp_from="privacy@relay.example")
    try:
        sid, _ = subject(srv, "mid2@example.ee", "en")
        act(srv, new_request(srv, sid, "access")["id"], "refuse", reason="not confirmed")
        (raw,) = srv.inbox.to("mid2@example.ee")
        msg = parse(raw)
        assert "letters@shop.bajtel.lv" in msg["From"]
        assert re.fullmatch(r"<[0-9a-f]{24}@shop\.bajtel\.lv>", msg["Message-ID"]), msg["Message-ID"]
    finally:
        stop(srv)


CONFIRM_ET = """Subject: Kinnitage palun uudiskiri: {{purpose}}

Tere!

{{controller}} saadab uudiskirja ainult Teie kinnitusel. Kinnitamiseks avage link:

  {{link}}

Kui Te seda ei soovinud, ei pea Te midagi tegema.
"""


def letters(tmp_path, files):
    """A directory of override templates: {"et/confirm.txt": text}."""
    d = tmp_path / "letters"
    for name, text in files.items():
        (d / name).parent.mkdir(parents=True, exist_ok=True)
        (d / name).write_text(text)
    return d


def test_an_overridden_estonian_template_is_used_for_an_estonian_subject(tmp_path):
    d = letters(tmp_path, {"et/confirm.txt": CONFIRM_ET})
    policy = policy_with(tmp_path, WEBSHOP.read_text(), templates="letters")
    privreg = Privreg(_bin())
    out = privreg("policy", "check", policy, check=0).stdout
    assert out.strip().endswith("shop.yaml: ok"), out
    srv = start(tmp_path, policy)
    try:
        # The register keeps its own copy: the source directory may go.
        (d / "et" / "confirm.txt").unlink()
        sid_et, _ = subject(srv, "mari@example.ee", "et")
        sid_en, _ = subject(srv, "mary@example.ee", "en")
        for sid in (sid_et, sid_en):
            r = srv.request("POST", f"/v1/subjects/{sid}/consents", srv.keys["admin"],
                            json={"purpose": "direct_marketing", "granted": True, "source": "checkout"})
            assert r.status_code == 201, r.text
        (raw_et,) = srv.inbox.to("mari@example.ee")
        (raw_en,) = srv.inbox.to("mary@example.ee")
        et, en = parse(raw_et), parse(raw_en)
        assert et["Subject"] == "Kinnitage palun uudiskiri: Pakkumised ja uudised e-posti teel"
        body = et.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")
        assert "SIA BAJTEL.LV saadab uudiskirja ainult Teie kinnitusel" in body
        assert re.search(r"^  http://\S+/c/\S+$", body, re.M), body
        # Other languages keep the shipped text.
        assert en["Subject"] == "Please confirm: Offers and news by e-mail"
        assert "you asked SIA BAJTEL.LV for" in en.get_body(preferencelist=("plain",)).get_content()
        # GET /v1/policy says where the templates came from.
        assert srv.request("GET", "/v1/policy", srv.keys["admin"]).json()["controller"]["mail"]["templates"] == "letters"
    finally:
        stop(srv)


def test_a_new_policy_version_brings_its_own_templates(tmp_path):
    letters(tmp_path, {"en/policy_notice.txt": "Subject: New terms at {{controller}}\n\nVersion {{version}} is out.\n"})
    policy = policy_with(tmp_path, WEBSHOP.read_text())
    srv = start(tmp_path, policy)
    try:
        subject(srv, "terms@example.ee", "en")
        new = tmp_path / "shop-2025.yaml"
        new.write_text(policy_with(tmp_path, WEBSHOP.read_text(), templates="letters").read_text()
                       .replace('version: "2024-05"', 'version: "2025-01"'))
        out = srv.privreg("tenant", "policy", "default", new, "--dir", srv.dir, check=0).stdout
        assert "1 notice e-mails queued" in out
        (raw,) = srv.inbox.to("terms@example.ee")
        msg = parse(raw)
        assert msg["Subject"] == "New terms at SIA BAJTEL.LV"
        assert msg.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n") == "Version 2025-01 is out.\n"
    finally:
        stop(srv)


def test_policy_check_names_each_file_and_placeholder_that_is_wrong(tmp_path):
    letters(tmp_path, {
        "et/confirm.txt": CONFIRM_ET.replace("{{link}}", "https://example.ee/kinnita"),
        "et/request_refused.txt": "Subject: Keeldusime\n\n{{reason}} {{remedy}} Sooduskood: {{discount}}\n",
        "lv/request_verify.txt": "Subject: {{type}} {{link}}\n\n{{link}}\n",
        "et/newsletter.txt": "Subject: x\n\n",
        "de/confirm.txt": CONFIRM_ET,
        "en/request_answered.txt": "Subject: Done\nno empty line\n{{outcome}} {{link}}\n",
        "fi/confirm.txt": "Subject: Vahvista\n\n{{link}} {{purpose\n",
    })
    (tmp_path / "letters" / "ru").mkdir()
    (tmp_path / "letters" / "ru" / "confirm.txt").write_bytes(b"Subject: \xff\n\n{{link}}\n")
    (tmp_path / "letters" / "en" / "policy_notice.txt").write_text("Subject: x\n\n{{version}}" + "x" * 17000)
    policy = policy_with(tmp_path, WEBSHOP.read_text(), templates="letters")
    r = Privreg(_bin())("policy", "check", policy, check=1)
    d = tmp_path / "letters"
    lines = r.stdout.splitlines()
    expected = [
        f"{d}/de: not a language of the policy (et, en, lv, fi, ru) nor of the shipped templates (en, et, lv, fi, ru)",
        f"{d}/en/policy_notice.txt: larger than 16384 bytes",
        f"{d}/en/request_answered.txt:2: the second line must be empty (the body follows it)",
        f"{d}/et/confirm.txt: misses {{{{link}}}}, which every confirm message must carry",
        f"{d}/et/newsletter.txt: not a message's template",
        f"{d}/et/request_refused.txt:3: unknown placeholder {{{{discount}}}} (request_refused takes "
        "{{controller}}, {{type}}, {{reason}}, {{remedy}})",
        f"{d}/fi/confirm.txt:3: '{{{{' opens no placeholder",
        f"{d}/lv/request_verify.txt:1: {{{{link}}}} may span lines: it may stand in the body, not the subject",
        f"{d}/ru/confirm.txt:1: not valid UTF-8",
    ]
    for want in expected:
        assert any(line.startswith(want) for line in lines), (want, r.stdout)
    assert len(lines) == len(expected), r.stdout
    assert "mistakes in its mail templates" in r.stderr
    # init refuses it too, and leaves no register behind.
    reg = tmp_path / "reg"
    assert Privreg(_bin())("init", "--dir", reg, "--policy", policy).returncode != 0
    assert not (reg / "privreg.conf").exists()


def test_policy_check_of_a_missing_directory(tmp_path):
    policy = policy_with(tmp_path, WEBSHOP.read_text(), templates="nowhere")
    r = Privreg(_bin())("policy", "check", policy, check=1)
    assert f"{tmp_path}/nowhere: the directory of controller.mail.templates cannot be read" in r.stdout


def test_the_register_keeps_the_templates_per_version_and_tenant_delete_removes_them(tmp_path):
    letters(tmp_path, {"et/confirm.txt": CONFIRM_ET})
    policy = policy_with(tmp_path, WEBSHOP.read_text(), templates="letters")
    privreg = Privreg(_bin())
    reg = tmp_path / "reg"
    privreg("init", "--dir", reg, "--policy", policy, check=0)
    privreg("tenant", "add", "other", "--policy", policy, "--dir", reg, check=0)
    kept = reg / "templates" / "other" / "2024-05" / "et" / "confirm.txt"
    assert kept.read_text() == CONFIRM_ET
    assert (reg / "templates" / "default" / "2024-05" / "et" / "confirm.txt").exists()
    privreg("tenant", "delete", "other", "--yes", "--dir", reg, check=0)
    assert not (reg / "templates" / "other").exists()
    assert (reg / "templates" / "default").exists()
