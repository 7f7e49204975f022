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
