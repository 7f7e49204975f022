"""The notices checked against the seeds (issue #10, item 23).

For each of the five seeds in shared/seeds/, a checklist of the statements
its real privacy notice makes: a short description, the seed's own words
(a quote that must be in the seed's text, so the checklist cannot drift
from it) and the words or values that must appear in the notice privreg
renders, in the seed's language, from the project's policy for that seed.
A statement the rendered notice does not make fails, named.

Beside them: the five policies leave nothing unsaid that `policy check`
warns about, and a policy written before the notice's keys existed is still
valid, with warnings that name what its notice would lack."""
import html
import re

import pytest

from conftest import POLICIES, ROOT

SEEDS = ROOT.parent / "shared" / "seeds"

# seed file: (policy, the seed's language, [(statement, seed quote, [words in the notice])])
CHECKLISTS = {
    "000_eab5c242edc83f03.txt": ("backoffice.yaml", "et", [
        ("the controller", "BackOffice Services OÜ teenuste", ["BackOffice Services OÜ"]),
        ("how to contact it", "posti teel või e-maili aadressil", ["info@backoffice.example", "postiaadressil"]),
        ("name", "Teie nime", ["Nimi"]),
        ("birthday", "sünnipäeva", ["Sünnipäev"]),
        ("home and work address", "elu- ja töökoha aadressi", ["Elukoha aadress", "Töökoha aadress"]),
        ("e-mail and phone numbers", "e-maili aaressi, telefoni numbreid", ["E-posti aadress", "Telefoninumber"]),
        ("data given voluntarily", "vabatahtlikult esitada isikuandmeid", ["Andmete esitamine on vabatahtlik"]),
        ("the IP address is recorded", "salvestab BackOffice Servicesi veebileht Teie IP aadressi",
         ["IP-aadress", "90 päeva pärast loomist"]),
        ("cookies", "kasutab standardset tehnoloogiat nimega", ["Küpsised", "Seansiküpsised"]),
        ("cookies can be blocked in the browser", "küpsiste salvestamise blokeerida",
         ["veebilehitsejas blokeerida"]),
        ("form cookies only with consent", "ainult juhul kui olete andnud oma nõusoleku",
         ["Vormide täitmise mäletamine", "Teie nõusolekul"]),
        ("troubleshooting, fraud and crime", "võimalike probleemide tõrkeotsinguks, kaitsmiseks pettuste",
         ["tõrkeotsing", "pettuste"]),
        ("improving products, services and the site", "et selle abil täiustada tooteid, teenuseid, veebilehte",
         ["Toodete, teenuste ja veebilehe täiustamine"]),
        ("offers of products and services", "tootedete või teenusete pakkumiseks",
         ["Pakkumised toodete ja teenuste kohta"]),
        ("partners for sales and brokerage", "teenuste ost-müük-vahendus", ["ost-müük-vahenduse partnerid"]),
        ("partners for ordering and transport", "kaupade tellimine, transport", ["tellimise ja transpordi partnerid"]),
        ("partners for site maintenance and content", "veebilehe hooldamine, sisuhaldus",
         ["hoolduse ja sisuhalduse partnerid"]),
        ("marketing partners", "sisuhaldus, turundus", ["Turunduspartnerid"]),
        ("authorities on court orders", "seoses kohtukutsete, kohtuorderite", ["kohtukutsete, kohtuorderite"]),
        ("a merger or acquisition", "omandamisel või ühinemisel", ["omandamisel või ühinemisel"]),
        ("the right to know what is held", "Teil on õigus teada, milliseid isiklikke andmeid",
         ["tutvuda oma andmetega"]),
        ("the right to correct", "selliseid andmeid parandada", ["parandamist"]),
        ("the right to delete", "muuta või kustutada", ["andmete kustutamist"]),
        ("answered within 7 calendar days as a rule", "rohkem aega kui 7 kalendripäeva",
         ["Püüame vastata 7 päeva jooksul"]),
        ("never third-party mailing lists", "ei kasuta kunagi ühegi kolmanda poole meililisti",
         ["kolmanda poole meililisti"]),
        ("only authorised people have access", "juurdepääs ainult selleks volitatud isikutel",
         ["ainult selleks volitatud isikud"]),
    ]),
    "001_9e33f668d06a9bf2.txt": ("elektrum.yaml", "et", [
        ("the controller", "E-teenindus Elektrum.ee", ["Elektrum Eesti OÜ"]),
        ("name", "nagu Teie nimi", ["Nimi"]),
        ("address", "nimi, aadress", ["Aadress"]),
        ("company", "aadress, ettevõte", ["Ettevõte"]),
        ("e-mail", "või e-posti aadress", ["E-posti aadress"]),
        ("registration is voluntary", "registreerumisel vabatahtlikult", ["Registreerumine on vabatahtlik"]),
        ("the service", "optimaalse teeninduse pakkumiseks", ["E-teeninduse pakkumine"]),
        ("newsletters only when subscribed", "kui Te vabatahtlikult selle teenuse tellite",
         ["Uudiskiri", "nõusolek"]),
        ("unsubscribe at the end of each newsletter", "uudiskirja lõpus olevaid juhtnööre",
         ["igas kirjas olevat linki"]),
        ("offers by post only on consent", "oma nõusoleku andnud", ["Pakkumised posti teel"]),
        ("opting out through the marketing team", "turundusmeeskonnaga aadressil",
         ["kliendiinfo@elektrum.example"]),
        ("statistics never linked to the person", "ei seosta E-teenindus seda statistilist informatsiooni",
         ["Kasutuse statistikat ei seosta me mitte mingil juhul isikuteabega"]),
        ("the IP address for diagnosing problems", "diagnoosida probleeme",
         ["Serveriprobleemide diagnoosimine", "IP-aadress"]),
        ("running the site", "oma veebilehe haldamiseks", ["veebilehe haldamine"]),
        ("cookies", "võib kasutada küpsiseid", ["Küpsised"]),
        ("third parties' advertising with cookies or web beacons", "kolmanda isiku veebimajakat",
         ["veebimajaka", "kolmandatest isikutest reklaamiettevõtted"]),
        ("what the ad companies collect", "sirvija tüüp, kellaaeg ja kuupäev", ["sirvija tüüp, kellaaeg ja kuupäev"]),
        ("the police where the law requires", "koostööd politsei ja kõikide muude seaduslike võimukandjatega",
         ["Politsei ja teised seaduslikud võimukandjad"]),
        ("data can be updated any time", "uuendada ükskõik millal oma isikuandmeid",
         ["ebaõigete andmete parandamist"]),
        ("leaving deletes everything collected at registration", "kustutatakse Teie nõudmisel kogu isikuteave",
         ["kustutatakse Teie nõudmisel kogu isikuteave", "kuni konto on aktiivne"]),
        ("security measures against unauthorised access", "volitusteta ligipääsu",
         ["ainult selleks volitatud isikud"]),
    ]),
    "002_6dd5495c106055a8.txt": ("webshop.yaml", "et", [
        ("the controller with its registry code", "registrikood: 40003979897",
         ["SIA BAJTEL.LV", "40003979897"]),
        ("its address", "Brīvības gatve 214B", ["Brīvības gatve 214B"]),
        ("the data protection officer", "Andmekaitsespetsialistiga kontakteerumiseks",
         ["Andmekaitsespetsialist: dpo@eleme.example"]),
        ("the supervisory authority", "Eestis on selleks Andmekaitse Inspektsioon",
         ["Andmekaitse Inspektsioon", "www.aki.ee"]),
        ("biographical and contact data", "nimi, telefoninumber, elektronposti aadress, elukoha aadress, sünniaeg",
         ["Nimi", "Telefoninumber", "E-posti aadress", "Elukoha aadress", "Sünniaeg"]),
        ("gender and language", "sugu, keele valik", ["Sugu", "Keele valik"]),
        ("the delivery location", "geograafiline asukoht, kuhu kaup tellitakse",
         ["Kauba kohaletoimetamise aadress"]),
        ("account data and IP address", "kasutajatunnus, konto staatus, IP-aadress", ["Kasutajatunnus", "IP-aadress"]),
        ("payment data", "makseandmed", ["Makseviis"]),
        ("purchase history", "ostuajalugu", ["Tellimused ja ostuajalugu"]),
        ("correspondence", "suhtlus kasutajaga", ["Suhtlus kasutajaga"]),
        ("recorded phone calls for quality", "salvestada ka telefonivestluseid teenuse kvaliteedi ja kontrolli",
         ["Telefonivestluste salvestamine teenuse kvaliteedi ja kontrolli eesmärgil"]),
        ("taking, managing and fulfilling orders", "tellimuste vastuvõtmist, haldamist ja täitmist",
         ["Tellimuste vastuvõtmine, haldamine ja täitmine"]),
        ("a more personal service", "huvipakkuvamat ja personaalsemat teenust", ["Personaalsem teenus"]),
        ("analysing preferences from purchases", "kasutajaeelistuste analüüsimiseks",
         ["kasutajaeelistuste analüüs", "profiilianalüüs"]),
        ("only users over 14", "vanemate kui 14-aastaste isikute", ["14. eluaastast"]),
        ("only the payment confirmation from the payment provider", "üksnes makse kinnituse makseteenuse pakkujalt",
         ["makseteenuse pakkujalt (ainult makse kinnitus"]),
        ("recipients: transport, accountant, IT, insurers and advisers, payments",
         "transpordiettevõtetele, raamatupidajale, infotehnoloogia teenuste pakkujatele",
         ["Transpordiettevõtted", "Raamatupidaja", "Infotehnoloogia teenuste pakkujad",
          "Kindlustusandjad ja kutselised nõustajad", "Makseteenuse pakkuja"]),
        ("public and law enforcement authorities", "ameti- või õiguskaitseasutustele",
         ["Ameti- ja õiguskaitseasutused"]),
        ("outside the EEA only on standard clauses", "Euroopa Komisjoni kinnitatud andmetöötluse tüüptingimustele",
         ["lepingu tüüptingimused", "Väljapoole Euroopa Majanduspiirkonda"]),
        ("kept while the account is active", "seni, kuni kasutajal on aktiivne konto", ["kuni konto on aktiivne"]),
        ("kept longer for disputes and claims", "vaidluse või kaebuse nõuetekohaseks lahendamiseks",
         ["õigusliku nõude"]),
        ("deleted or anonymised", "andmed kustutatakse või muudetakse anonüümseks",
         ["seejärel kustutame", "seejärel anonüümime"]),
        ("orders kept 3 years", "säilitatakse maksimaalselt 3 aastat", ["3 aastat pärast loomist"]),
        ("requests kept 6 months after the answer", "vastuse saatmisest 6 kuud",
         ["Teie taotlustega seotud andmeid säilitame 6 kuud pärast vastamist"]),
        ("accounting 7 years after fulfilment", "7 aastat alates iga tellimuse täitmisest",
         ["7 aastat pärast täitmist"]),
        ("complaints 3 years after resolution", "rahuldamisest või õigusvaidluse lõppemisest 3 aastat",
         ["3 aastat pärast lahendamist"]),
        ("access to the data", "tutvuda säilitatavate andmetega", ["tutvuda oma andmetega"]),
        ("rectification, erasure, restriction", "parandamist, kustutamist või andmete töötlemise piiramist",
         ["parandamist", "kustutamist", "piiramist"]),
        ("objection and withdrawal of consent", "võtta tagasi nõusolek", ["vastuväide", "võtta nõusolek igal ajal tagasi"]),
        ("no direct marketing if refused", "mitte nõustuda isikuandmete töötlemisega otseturunduse eesmärgil",
         ["Otseturundus: õigus esitada vastuväide"]),
        ("a complaint to the controller", "esitada kaebus vastutavale töötlejale", ["Kaebuse võite esitada ka meile"]),
        ("answered within one month, extended by two", "kahe kuu võrra",
         ["Vastame 1 kuu jooksul", "kuni 2 kuu võrra"]),
        ("direct marketing by e-mail with consent", "kui kasutaja on andud vastava nõusoleku",
         ["Pakkumised ja uudised e-posti teel", "nõusolek"]),
        ("cookies", "kasutades selleks küpsiseid", ["Küpsised"]),
        ("safeguards against unauthorised use", "takistada isikuandmete volitamata kasutamist",
         ["ainult selleks volitatud isikud"]),
    ]),
    "003_376a6db6251588a7.txt": ("telegroup.yaml", "lv", [
        ("the controller", "TBcallSoft", ["TBcallSoft SIA"]),
        ("basis: providing the service under the terms", "Pakalpojuma sniegšanai saskaņā ar telegroup",
         ["Pakalpojuma sniegšana", "līgums"]),
        ("basis: legitimate interests", "leģitīmajās interesēs", ["leģitīmās intereses"]),
        ("basis: consent where asked", "pēc jūsu piekrišanas", ["piekrišana"]),
        ("name", "vārds", ["Vārds"]),
        ("e-mail address", "e-pasta adrese", ["E-pasta adrese"]),
        ("postal and billing address", "pasta adrese, norēķinu adrese", ["Pasta adrese", "Norēķinu adrese"]),
        ("mobile phone number", "mobilā tālruņa numurs", ["Mobilā tālruņa numurs"]),
        ("the Customer is controller, telegroup processor", "Klients ir datu pārzinis",
         ["Klienta datu pārzinis", "apstrādātājs"]),
        ("location only with the device's permission", "ja ierīces iestatījumos piešķirat tam atļauju",
         ["ierīces iestatījumos"]),
        ("location only at the start or end button", "sākuma vai beigu pogas", ["sākuma vai beigu poga"]),
        ("no real-time tracking", "neizseko Lietotāja atrašanās vietu reāllaikā", ["netiek izsekota reāllaikā"]),
        ("shift tracking on consent", "atrašanās vietas datus", ["Darba laika uzskaite ar atrašanās vietu"]),
        ("automatically collected: cookies", "tostarp sīkfailus", ["sīkfaili"]),
        ("screen recordings, clear gifs, web beacons", "ekrāna ierakstus", ["ekrāna ieraksti", "tīmekļa bāksignāli"]),
        ("IP address and device id", "var ietvert IP adresi vai citas ierīces adresi vai ID",
         ["IP adrese", "Ierīces ID"]),
        ("users and visitors", "Apmeklētājs", ["Lietotāja vai Apmeklētāja ierīces"]),
        ("credit card or other billing information", "kredītkartes vai cita norēķinu informācija",
         ["Norēķinu informācija"]),
        ("cookies", "sīkfailus", ["Sīkdatnes"]),
    ]),
    "004_ecb544fe62c0474e.txt": ("jerone.yaml", "et", [
        ("the controller", "Jerone Group Oy ( Ärikood: 2381931-8)", ["Jerone Group Oy", "2381931-8"]),
        ("its address", "Sulapuronkatu 1", ["Sulapuronkatu 1, 33700 Tampere"]),
        ("its phone", "Tel. 0408280202", ["040 828 0202"]),
        ("the register's name", "Jerone kliendiregister", ["Jerone kliendiregister"]),
        ("first and last name", "eesnimi, perekonnanimi", ["Eesnimi", "Perekonnanimi"]),
        ("street address, postcode, town", "tänava-aadress, postiindeks, postilinn",
         ["Tänava-aadress", "Postiindeks", "Postilinn"]),
        ("phone and e-mail", "telefoninumber, e-posti aadress", ["Telefoninumber", "E-posti aadress"]),
        ("marketing only on explicit consent", "selgesõnalise nõusoleku", ["Uudiskiri", "nõusolek"]),
        ("opting out chosen at registration", "Registreerimise ajal valitakse turundusest loobumine",
         ["turundusest loobumine valitakse registreerimise ajal"]),
        ("orders, deliveries and returns", "tellimuste, tarnete ja tagastuste", ["Tellimused ja tarned", "Tagastused"]),
        ("the usual data sources", "kliendisuhte alguses ja kliendisuhte kestel",
         ["kliendisuhte alguses", "kliendisuhte kestel tehtud muudatustest"]),
        ("delivery companies", "seoses tellimuste kättetoimetamisega", ["Transpordiettevõtted"]),
        ("authorities where the law requires", "riigiasutuste nõudmisel, kui seadus seda nõuab",
         ["Riigiasutused, kui seadus seda nõuab"]),
        ("access only for designated employees", "spetsiaalselt selleks määratud töötajatega",
         ["ainult selleks volitatud isikud"]),
        ("processed as long as the relationship lasts", "nii kaua, kui kliendisuhe kehtib",
         ["kuni konto on aktiivne"]),
        ("unsubscribe in every newsletter", "igas saadetud uudiskirjas oleva lingi kaudu",
         ["igas kirjas olevat linki"]),
        ("anonymised or deleted on request", "muudetakse anonüümseks või kustutatakse",
         ["seejärel anonüümime", "andmete kustutamist"]),
        ("the accounting act keeps some data longer", "raamatupidamise seadus",
         ["Raamatupidamise seadus", "seadus nõuab säilitamist ka kustutamistaotluse korral"]),
        ("consumer protection law", "tarbijakaitseseadus", ["Tarbijakaitse"]),
    ]),
}


def notice_text(privreg, policy, lang):
    out = privreg("policy", "render", "--notice", "--lang", lang, "--format", "html", POLICIES / policy,
                  check=0).stdout
    text = html.unescape(re.sub(r"<[^>]+>", " ", out))
    return re.sub(r"\s+", " ", text)


@pytest.mark.parametrize("seed", sorted(CHECKLISTS))
def test_the_notice_says_what_the_seed_says(privreg, seed):
    policy, lang, items = CHECKLISTS[seed]
    assert 15 <= len(items) <= 40, len(items)
    text = notice_text(privreg, policy, lang)
    seed_text = re.sub(r"\s+", " ", (SEEDS / seed).read_text()) if (SEEDS / seed).exists() else None
    missing = []
    for what, quote, words in items:
        if seed_text is not None and quote.lower() not in seed_text.lower():
            missing.append(f"{what}: the seed does not say '{quote}'")
        for w in words:
            if w not in text:
                missing.append(f"{what}: the notice lacks '{w}'")
    assert not missing, f"{seed} ({policy}, {lang}):\n" + "\n".join(missing)


@pytest.mark.parametrize("policy", sorted(p.name for p in POLICIES.glob("*.yaml")))
def test_no_policy_leaves_its_notice_short(privreg, policy):
    r = privreg("policy", "check", POLICIES / policy, check=0)
    assert "warning" not in r.stdout, r.stdout
    for lang in re.search(r"languages: \[([^\]]+)\]", (POLICIES / policy).read_text()).group(1).split(", "):
        text = notice_text(privreg, policy, lang)
        # no raw name where a reader needs words
        for raw in ["accounting_entry", "delivery_address", "payment_ref", "birth_date", "shift_location",
                    "first_name", "sales_partner", "it_support"]:
            assert raw not in text, (policy, lang, raw)


OLD_POLICY = """\
version: "1"
controller:
  name: Old Shop OÜ
  email: info@old.example
  authority: { name: Andmekaitse Inspektsioon, url: "https://www.aki.ee" }
languages: [et, en]
fields:
  email:            { type: email, lookup: true }
  delivery_address: { type: text, max: 500, title: { et: Tarneaadress, en: Delivery address } }
purposes:
  orders: { basis: contract, title: { et: Tellimused, en: Orders } }
  personalisation: { basis: legitimate_interest, objectable: true, title: { et: Soovitused, en: Suggestions } }
records:
  accounting_entry: { fields: [email, delivery_address], purposes: [orders, personalisation], keep: 7 years after created }
recipients:
  courier: { role: processor, purposes: [orders], fields: [delivery_address], country: EE, contract: DPA-1 }
"""


def test_an_old_policy_stays_valid_and_is_told_what_its_notice_lacks(privreg, tmp_path):
    """A policy written before titles of every name, interests and the
    automated-decisions declaration: still valid, each gap a warning."""
    p = tmp_path / "old.yaml"
    p.write_text(OLD_POLICY)
    r = privreg("policy", "check", p, check=0)
    assert r.stdout.strip().endswith(": ok")
    warnings = [line for line in r.stdout.splitlines() if ": warning: " in line]
    assert warnings == [
        f"{p}:1: warning: automated_decisions is not declared: the notice says nothing about automated decisions "
        "or profiling ('none', or a text per language)",
        f"{p}:8: warning: field 'email' has no title in 'et': the notice shows its name",
        f"{p}:12: warning: purpose 'personalisation' is a legitimate interest: say which in 'interest' "
        "(Art. 13(1)(d))",
        f"{p}:14: warning: record 'accounting_entry' has no title in 'et': the notice shows its name",
        f"{p}:16: warning: recipient 'courier' has no title in 'et': the notice shows its name",
    ], r.stdout
    # its notice says nothing false about automated decisions, and shows the names it has no words for
    md = privreg("policy", "render", "--notice", "--lang", "en", "--format", "md", p, check=0).stdout
    assert "Automated decisions" not in md and "Delivery address" in md and "accounting\\_entry" in md
