"""The privacy notice and the record of processing activities, rendered from
the policy: over the API for the example policy, and by the CLI for every
seed register in each of its languages."""
import csv
import html
import io
import json
import re

import pytest
from pyld import jsonld

from conftest import POLICIES, WEBSHOP, Privreg, _bin

SEEDS = sorted(POLICIES.glob("*.yaml"))

# The example policy's retention, in words, per language.
KEEP_WORDS = {
    "en": ["while the account is active", "3 years after creation", "7 years after fulfilment",
           "3 years after resolution"],
    "et": ["kuni konto on aktiivne", "3 aastat pärast loomist", "7 aastat pärast täitmist",
           "3 aastat pärast lahendamist"],
}


def policy_json(privreg, path):
    return json.loads(privreg("policy", "render", path, check=0).stdout)


def test_notice_over_the_api_tells_every_purpose_retention_and_recipient(api):
    pol = policy_json(Privreg(_bin()), WEBSHOP)
    for lang in pol["languages"]:
        r = api.request("GET", "/v1/notice", api.keys["support"], params={"lang": lang})
        assert r.status_code == 200, r.text
        assert r.headers["Content-Type"].startswith("text/html")
        page = html.unescape(r.text)
        assert f'<html lang="{lang}">' in r.text
        for name, p in pol["purposes"].items():
            assert p["title"][lang] in page, (lang, name)
        for words in KEEP_WORDS[lang]:
            assert words in page, (lang, words)
        for name, rcp in pol["recipients"].items():  # by the title the policy gives, not its name
            assert rcp["title"][lang] in page and rcp["country"] in page
        assert pol["controller"]["authority"]["name"] in page and pol["version"] in page
        assert pol["controller"]["dpo"] in page
    md = api.request("GET", "/v1/notice", api.keys["admin"], params={"lang": "en", "format": "md"})
    assert md.status_code == 200 and md.headers["Content-Type"].startswith("text/markdown")
    assert md.text.startswith("# Privacy notice") and "| Recipient |" in md.text
    assert "standard contractual clauses" in md.text  # payments, US
    assert api.request("GET", "/v1/notice", api.keys["admin"], params={"lang": "ru"}).status_code == 422
    assert api.request("GET", "/v1/notice", api.keys["admin"], params={"format": "pdf"}).status_code == 422
    assert api.request("GET", "/v1/notice").status_code == 401


@pytest.mark.parametrize("path", SEEDS, ids=[p.stem for p in SEEDS])
def test_every_seed_renders_in_each_of_its_languages(privreg, path):
    pol = policy_json(privreg, path)
    for lang in pol["languages"]:
        for fmt in ["html", "md"]:
            out = privreg("policy", "render", "--notice", "--lang", lang, "--format", fmt, path, check=0).stdout
            text = html.unescape(out) if fmt == "html" else out.replace("\\", "")
            assert pol["controller"]["name"] in text
            for p in pol["purposes"].values():
                assert p["title"].get(lang, next(iter(p["title"].values()))) in text
            for name, rcp in pol["recipients"].items():
                assert rcp["title"][lang] in text, (name, lang)
    assert privreg("policy", "render", "--notice", "--lang", "xx", path).returncode == 1


def test_notice_texts_exist_in_all_five_languages(privreg, tmp_path):
    text = WEBSHOP.read_text().replace("languages: [et, en]", "languages: [et, lv, en, fi, ru]")
    text = re.sub(r"en: ([^}\n]*?) }", lambda m: "en: {0}, lv: {0}, fi: {0}, ru: {0} }}".format(
        m.group(1) if m.group(1).startswith('"') else json.dumps(m.group(1), ensure_ascii=False)), text)
    p = tmp_path / "p.yaml"
    p.write_text(text)
    privreg("policy", "check", p, check=0)
    seen = set()
    for lang, title in [("et", "Privaatsusteade"), ("lv", "Privātuma paziņojums"), ("en", "Privacy notice"),
                        ("fi", "Tietosuojaseloste"), ("ru", "Уведомление о конфиденциальности")]:
        out = privreg("policy", "render", "--notice", "--lang", lang, "--format", "md", p, check=0).stdout
        assert out.startswith("# " + title)
        seen.add(out)
    assert len(seen) == 5


def test_notice_escapes_what_the_policy_says(privreg, tmp_path):
    text = WEBSHOP.read_text().replace("name: SIA BAJTEL.LV", 'name: "<script>alert(1)</script> & Co"')
    p = tmp_path / "p.yaml"
    p.write_text(text)
    out = privreg("policy", "render", "--notice", "--lang", "en", p, check=0).stdout
    assert "<script>" not in out and "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Co" in out


def test_ropa_json_and_csv_have_one_activity_per_purpose(api):
    pol = policy_json(Privreg(_bin()), WEBSHOP)
    r = api.request("GET", "/v1/ropa", api.keys["dpo"])
    assert r.status_code == 200, r.text
    acts = r.json()["activities"]
    assert [a["purpose"] for a in acts] == list(pol["purposes"])
    contract = next(a for a in acts if a["purpose"] == "contract")
    assert contract["legal_basis"] == "contract"
    assert {x["name"] for x in contract["recipients"]} == {"courier", "payments", "it_support"}
    assert contract["third_country_transfers"] == [{"recipient": "payments", "country": "US", "safeguard": "scc"}]
    assert {"kind": "order", "retention": "3 years after creation", "then": "anonymize"} in contract["records"]
    c = api.request("GET", "/v1/ropa", api.keys["auditor"], params={"format": "csv"})
    assert c.status_code == 200 and c.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(c.text)))
    assert [row["purpose"] for row in rows] == list(pol["purposes"])
    acc = next(row for row in rows if row["purpose"] == "accounting")
    assert acc["legal_basis"] == "legal_obligation" and "7 years after fulfilment" in acc["retention"]
    assert acc["controller"] == pol["controller"]["name"]
    assert api.request("GET", "/v1/ropa", api.keys["support"]).status_code == 403
    assert api.request("GET", "/v1/ropa", api.keys["dpo"], params={"format": "xml"}).status_code == 422


def test_ropa_dpv_is_json_ld(api):
    r = api.request("GET", "/v1/ropa", api.keys["dpo"], params={"format": "dpv"})
    assert r.status_code == 200, r.text
    doc = r.json()
    expanded = jsonld.expand(doc)  # a real JSON-LD processor; the context is inline
    DPV = "https://w3id.org/dpv#"
    acts = [n for n in expanded if DPV + "PersonalDataHandling" in n.get("@type", [])]
    assert len(acts) == len(policy_json(Privreg(_bin()), WEBSHOP)["purposes"])
    for a in acts:
        for term in ["hasPurpose", "hasLegalBasis", "hasPersonalData", "hasDataController",
                     "hasDataStorageDuration"]:
            assert DPV + term in a, term
    contract = next(a for a in acts if a["@id"] == "urn:privreg:activity/contract")
    assert contract[DPV + "hasLegalBasis"] == [{"@id": DPV + "Contract"}]
    recips = {x["@id"]: x for x in contract[DPV + "hasRecipient"]}
    pay = recips["urn:privreg:recipient/payments"]
    assert pay["@type"] == [DPV + "DataProcessor"]
    assert pay[DPV + "hasTechnicalOrganisationalMeasure"] == [{"@id": DPV + "StandardContractualClauses"}]
