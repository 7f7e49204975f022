"""Answers that say what they are (GDPR Art. 12(4)): a refused request, and
one carried out only in part (an erasure that keeps what a law keeps), are
e-mailed to the subject in their language with the reason, the law, the
supervisory authority and the court; and no e-mail of any kind names a
request type or status by its identifier."""
import re

import pytest

from conftest import WEBSHOP, Privreg, Server, _bin, add_key
from test_consent import Inbox, free_port

LANGS = ["et", "en", "lv", "fi", "ru"]
TYPES = ["access", "portability", "rectification", "erasure", "restriction", "objection",
         "withdraw_consent", "marketing_optout", "anonymization"]
STATUSES = ["received", "verifying", "in_progress", "completed", "refused"]


def five_languages(text):
    """The example policy in all five languages the e-mails speak."""
    text = text.replace("languages: [et, en]", "languages: [et, en, lv, fi, ru]")
    text = text.replace("values: [et, lv, en, ru]", "values: [et, lv, en, ru, fi]")
    # Every text per language: the English one again in lv, fi and ru
    # (flow maps "{ et: ..., en: ... }" and block maps "et: ..." / "en: ...").
    text = re.sub(r'(\{ *et: [^{}]*?,\s*en: ("[^"]*"|[^{}\n]*?))\s*\}',
                  lambda m: f"{m.group(1)}, lv: {m.group(2)}, fi: {m.group(2)}, ru: {m.group(2)} }}", text)
    return re.sub(r"^( +)en: ([^{}\n]*)$", lambda m: m.group(0) + "".join(
        f"\n{m.group(1)}{lang}: {m.group(2)}" for lang in ("lv", "fi", "ru")), text, flags=re.M)


@pytest.fixture
def env(tmp_path):
    privreg = Privreg(_bin())
    d = tmp_path / "reg"
    policy = tmp_path / "shop.yaml"
    policy.write_text(five_languages(WEBSHOP.read_text()))
    privreg("init", "--dir", d, "--policy", policy, check=0)
    port = free_port()
    inbox = Inbox(port).start()
    srv = Server(privreg, d, ["--smtp", f"smtp://127.0.0.1:{port}"])
    srv.keys = {r: add_key(privreg, d, r) for r in ["admin", "dpo", "support"]}
    srv.inbox = inbox
    yield srv
    code, log = srv.stop()
    inbox.stop()
    assert code == 0, log[-2000:]
    assert "AddressSanitizer" not in log and "runtime error" not in log, log[-3000:]


def subject(env, email, language):
    records = [{"kind": "account", "fields": {"email": email, "name": "Mari Tamm", "language": language}},
               {"kind": "accounting_entry", "fields": {"name": "Mari Tamm", "amount": "49.90", "payment_ref": "INV-77"},
                "events": {"fulfilled": "2024-03-02"}}]
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": records})
    assert r.status_code == 201, r.text
    return r.json()["id"], [x["id"] for x in r.json()["records"]]


def new_request(env, sid, type_, verified=True, **extra):
    body = {"type": type_, "subject_id": sid, **extra}
    if verified:
        body["verified_by"] = "ID card at the counter"
    r = env.request("POST", "/v1/requests", env.keys["support"], json=body)
    assert r.status_code == 201, r.text
    return r.json()


def act(env, rid, what, **body):
    r = env.request("POST", f"/v1/requests/{rid}/{what}", env.keys["dpo"], json=body)
    assert r.status_code == 200, r.text
    return r.json()


def mails_to(env, address, count):
    env.inbox.wait(len(env.inbox.messages) + 1)
    for _ in range(200):
        got = [m for m in env.inbox.messages if str(m["To"]) == address]
        if len(got) >= count:
            return got
        env.inbox.wait(len(env.inbox.messages) + 1, timeout=0.2)
    return [m for m in env.inbox.messages if str(m["To"]) == address]


def text_of(msg):
    return (msg["Subject"] + "\n" + msg.get_body(preferencelist=("plain",)).get_content()).replace("\r\n", "\n")


def test_partial_erasure_says_what_was_kept_and_why_in_estonian(env):
    sid, _ = subject(env, "kustuta@example.ee", "et")
    # A second entry kept alike: one line says both.
    assert env.request("POST", f"/v1/subjects/{sid}/records", env.keys["admin"], json={
        "kind": "accounting_entry", "fields": {"name": "Mari Tamm", "amount": "5.00"},
        "events": {"fulfilled": "2024-03-02"}}).status_code == 201
    req = new_request(env, sid, "erasure")
    done = act(env, req["id"], "complete")
    assert "accounting_entry kept" in done["outcome"]  # the stored outcome is unchanged
    (msg,) = mails_to(env, "kustuta@example.ee", 1)
    text = text_of(msg)
    assert msg["Content-Language"] == "et"
    assert msg["Subject"] == "Teie taotlus (andmete kustutamine) on täidetud osaliselt"
    assert "Kustutatud kirjeid: 1" in text
    # The kind, until when, and the law that keeps it (the policy's legal_reference).
    assert "Raamatupidamisandmed: säilitame kuni 2031-03-02, sest seda nõuab seadus: Raamatupidamise seadus § 12" in text
    assert text.count("Raamatupidamisandmed:") == 1
    # Art. 12(4): the supervisory authority and the court.
    assert "järelevalveasutusele Andmekaitse Inspektsioon\n(https://www.aki.ee)" in text and "kohtusse" in text
    assert "Teie" in text and "sinu" not in text.lower()
    for word in TYPES + STATUSES + ["accounting_entry", "not erasable"]:
        assert word not in text, word


def test_refusal_gives_the_reason_the_authority_and_the_court(env):
    sid, _ = subject(env, "refuse@example.ee", "en")
    req = new_request(env, sid, "access")
    act(env, req["id"], "refuse", reason="manifestly unfounded: the fifth identical request this week")
    (msg,) = mails_to(env, "refuse@example.ee", 1)
    text = text_of(msg)
    assert msg["Subject"] == "Your request (access to your data) has been refused"
    assert "The reason: manifestly unfounded: the fifth identical request this week" in text
    assert "lodge a complaint with the supervisory authority, Andmekaitse Inspektsioon\n(https://www.aki.ee)" in text
    assert "judicial remedy" in text


@pytest.mark.parametrize("lang", LANGS)
def test_no_mail_names_a_type_or_status_by_its_identifier(env, lang):
    address = f"every-{lang}@example.ee"
    sid, (acc, _) = subject(env, address, lang)
    env.request("POST", f"/v1/subjects/{sid}/consents", env.keys["admin"],
                json={"purpose": "direct_marketing", "granted": True, "source": "checkout"})
    sent = 1  # the double opt-in: sealed under the subject's key, so it must
    mails_to(env, address, sent)  # go out before the erasure below makes it unreadable
    unverified = new_request(env, sid, "access", verified=False)
    sent += 1
    act(env, unverified["id"], "extend", reason="the archive is being moved")
    act(env, unverified["id"], "refuse", reason="not confirmed")
    sent += 2
    details = {"rectification": {"record_id": acc, "fields": {"name": "Mari Kask"}},
               "objection": {"purposes": ["personalisation"]},
               "withdraw_consent": {"purposes": ["direct_marketing"]}}
    for type_ in ["access", "portability", "rectification", "objection", "withdraw_consent", "marketing_optout",
                  "restriction", "erasure"]:
        req = new_request(env, sid, type_, details=details[type_]) if type_ in details else new_request(env, sid, type_)
        act(env, req["id"], "complete")
        sent += 1
    msgs = mails_to(env, address, sent)
    assert len(msgs) == sent
    for msg in msgs:
        text = text_of(msg)
        assert msg["Content-Language"] == lang
        # Identifiers with underscores, and statuses, in no language; in
        # English the words "access" or "erasure" are words, not identifiers.
        forbidden = [w for w in TYPES + STATUSES + ["accounting_entry"] if "_" in w or lang != "en"]
        forbidden += ["completed"]
        for word in forbidden:
            assert word not in text, (word, msg["Subject"])
        assert "(None)" not in text and "{" not in text


def test_kept_by_a_hold_or_until_a_date_not_yet_known(env):
    # An accounting entry not yet fulfilled has no deletion date yet.
    r = env.request("POST", "/v1/subjects", env.keys["admin"], json={"records": [
        {"kind": "account", "fields": {"email": "held@example.ee", "name": "Mari", "language": "en"}},
        {"kind": "accounting_entry", "fields": {"name": "Mari", "amount": "1.00"}}]})
    sid, (acc, _) = r.json()["id"], [x["id"] for x in r.json()["records"]]
    assert env.request("POST", "/v1/holds", env.keys["dpo"],
                       json={"record_id": acc, "reason": "dispute D-7"}).status_code == 201
    act(env, new_request(env, sid, "erasure")["id"], "complete")
    (msg,) = mails_to(env, "held@example.ee", 1)
    text = text_of(msg)
    assert "Records erased: 0" in text
    # Each kind by its title in the policy.
    assert ("- User account: kept while it is needed for the establishment, exercise or "
            "defence of legal claims\n  (GDPR Art. 17(3)(e))") in text
    assert "kept until its retention period ends, because the law requires it: Accounting Act (Estonia) § 12" in text
    assert "dispute D-7" not in text  # the hold's reason is staff's, not the subject's to read
