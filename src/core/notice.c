/*
 * notice: the privacy notice from the policy (see notice.h).
 *
 * Every text of the policy is escaped for the format (HTML entities, or
 * Markdown's specials), so a policy cannot inject markup into the notice.
 * The fixed texts speak to the reader in the register of each language's
 * notices (Estonian and Latvian formal "Teie"/"jūs", Russian "вы"), and
 * every number agrees with its unit in the case the sentence needs
 * (notice_duration). A policy name (a field, a kind, a recipient) is shown
 * only where the policy gives no title for it; `policy check` warns then.
 */
#include "core/notice.h"

#include <stdio.h>
#include <string.h>

/* The forms of the four units (enum time_unit) in one language. "one" is
 * the singular agreement (1; in lv and ru also 21, 31, ... but not 11),
 * "few" the Russian 2-4 (22-24, ...), "many" the rest. Languages without
 * a "few" give it the "many" forms. */
struct units {
	const char *span_one[4], *span_few[4], *span_many[4];
	const char *within_one[4], *within_many[4];
	const char *by_one[4], *by_many[4];
};

/* The fixed texts of one language. */
struct texts {
	const char *lang;
	const struct units *units;
	const char *title, *intro, *controller, *code, *phone, *dpo, *email, *purposes, *categories, *col_data,
		*col_fields, *col_purposes, *col_basis, *col_keep, *then_delete, *then_anon, *kept_by_law, *provision,
		*sources, *source_self, *requests_keep, *ip_trim, *holds, *recipients, *col_recipient, *col_country,
		*col_transfer, *eea, *no_recipients, *copy, *automated, *automated_none, *rights, *how, *how_post,
		*extend, *target, *marketing, *marketing_text, *complain_us, *authority, *security, *cookies,
		*col_cookie, *col_names, *col_duration, *col_third, *col_consent, *session, *ours, *cookies_block,
		*needs_consent, *no_consent, *version, *since, *min_age;
	enum notice_case ip_case;             /* the duration's case in ip_trim */
	const char *backups;                  /* "%s": backups.keep in words */
	const char *basis[6];                 /* enum legal_basis */
	const char *role[3];                  /* enum recipient_role */
	const char *transfer[4];              /* enum transfer_basis */
	/* access, rectification, erasure, restriction, portability, objection
	 * (legitimate interests), withdrawal of consent */
	const char *rights_list[7];
	const char *after;                    /* "%s after %s" */
	const char *fy;                       /* appended when a keep rule counts from a financial year's end */
	const char *events[5][2];             /* event name, its word */
	const char *while_active, *while_active_grace;
};

static const char *const event_names[5] = {"created", "fulfilled", "resolved", "closed", "answered"};

static const struct units et_units = {
	.span_one = {"päev", "nädal", "kuu", "aasta"},
	.span_few = {"päeva", "nädalat", "kuud", "aastat"},
	.span_many = {"päeva", "nädalat", "kuud", "aastat"},
	.within_one = {"päeva", "nädala", "kuu", "aasta"},   /* genitive: "1 kuu jooksul" */
	.within_many = {"päeva", "nädala", "kuu", "aasta"},  /* "2 kuu jooksul" (kahe kuu) */
	.by_one = {"päeva", "nädala", "kuu", "aasta"},       /* "kuni 1 kuu võrra" */
	.by_many = {"päeva", "nädala", "kuu", "aasta"},
};

static const struct units lv_units = {
	.span_one = {"diena", "nedēļa", "mēnesis", "gads"},
	.span_few = {"dienas", "nedēļas", "mēneši", "gadi"},
	.span_many = {"dienas", "nedēļas", "mēneši", "gadi"},
	.within_one = {"dienas", "nedēļas", "mēneša", "gada"},   /* genitive: "1 mēneša laikā" */
	.within_many = {"dienu", "nedēļu", "mēnešu", "gadu"},    /* "2 mēnešu laikā" */
	.by_one = {"dienai", "nedēļai", "mēnesim", "gadam"},     /* dative: "līdz 1 mēnesim" */
	.by_many = {"dienām", "nedēļām", "mēnešiem", "gadiem"},  /* "līdz 2 mēnešiem" */
};

static const struct units en_units = {
	.span_one = {"day", "week", "month", "year"},
	.span_few = {"days", "weeks", "months", "years"},
	.span_many = {"days", "weeks", "months", "years"},
	.within_one = {"day", "week", "month", "year"},
	.within_many = {"days", "weeks", "months", "years"},
	.by_one = {"day", "week", "month", "year"},
	.by_many = {"days", "weeks", "months", "years"},
};

static const struct units fi_units = {
	.span_one = {"päivä", "viikko", "kuukausi", "vuosi"},
	.span_few = {"päivää", "viikkoa", "kuukautta", "vuotta"},
	.span_many = {"päivää", "viikkoa", "kuukautta", "vuotta"},
	.within_one = {"päivän", "viikon", "kuukauden", "vuoden"},   /* genitive: "1 kuukauden kuluessa" */
	.within_many = {"päivän", "viikon", "kuukauden", "vuoden"},  /* "2 kuukauden" (kahden kuukauden) */
	.by_one = {"päivällä", "viikolla", "kuukaudella", "vuodella"}, /* adessive: "enintään 2 kuukaudella" */
	.by_many = {"päivällä", "viikolla", "kuukaudella", "vuodella"},
};

static const struct units ru_units = {
	.span_one = {"день", "неделю", "месяц", "год"},       /* accusative: "храним 1 неделю" */
	.span_few = {"дня", "недели", "месяца", "года"},
	.span_many = {"дней", "недель", "месяцев", "лет"},
	.within_one = {"дня", "недели", "месяца", "года"},    /* genitive: "в течение 1 месяца" */
	.within_many = {"дней", "недель", "месяцев", "лет"},  /* "в течение 2 месяцев" */
	.by_one = {"дня", "недели", "месяца", "года"},        /* "до 1 месяца" */
	.by_many = {"дней", "недель", "месяцев", "лет"},      /* "до 2 месяцев" */
};

static const struct texts langs[] = {
	{
		.lang = "et",
		.units = &et_units,
		.title = "Privaatsusteade",
		.intro = "%s on Teie isikuandmete vastutav töötleja. See teade ütleb, milliseid andmeid me hoiame, miks, "
		         "kui kaua ja kellele neid edastame ning millised õigused Teil on.",
		.controller = "Vastutav töötleja", .code = "Registrikood", .phone = "Telefon", .email = "E-post",
		.dpo = "Andmekaitsespetsialist",
		.purposes = "Eesmärgid ja õiguslikud alused",
		.categories = "Andmed, eesmärgid ja säilitamine", .col_data = "Andmed", .col_fields = "Väljad",
		.col_purposes = "Eesmärgid", .col_basis = "Õiguslik alus", .col_keep = "Säilitame",
		.then_delete = "seejärel kustutame", .then_anon = "seejärel anonüümime",
		.kept_by_law = "seadus nõuab säilitamist ka kustutamistaotluse korral",
		.provision = "Kas andmete esitamine on kohustuslik?", .sources = "Andmete allikad",
		.source_self = "Muud andmed saame Teilt endalt.",
		.requests_keep = "Teie taotlustega seotud andmeid säilitame %s.",
		.ip_trim = "%s: lühendame %s pärast salvestamist, nii et see ei osuta enam ühele seadmele.",
		.ip_case = NOTICE_SPAN,
		.holds = "Kui andmeid on vaja õigusliku nõude koostamiseks, esitamiseks või kaitsmiseks või kui "
		         "ametiasutus seda nõuab, hoiame neid kuni selle kohustuse lõppemiseni ka pärast ülaltoodud "
		         "tähtaega.",
		.recipients = "Vastuvõtjad", .col_recipient = "Vastuvõtja", .col_country = "Riik",
		.col_transfer = "Edastamise alus", .eea = "EMP", .no_recipients = "Me ei edasta andmeid kellelegi.",
		.copy = "Kaitsemeetmete koopia saamiseks kirjutage aadressil %s.",
		.automated = "Automatiseeritud otsused ja profiilianalüüs",
		.automated_none = "Me ei tee Teie kohta ainult automatiseeritud töötlusel, sealhulgas profiilianalüüsil "
		                  "põhinevaid otsuseid, millel on Teile õiguslikud või samaväärselt olulised tagajärjed.",
		.rights = "Teie õigused",
		.how = "Oma õiguste kasutamiseks kirjutage aadressil %s. Vastame %s jooksul.",
		.how_post = "Võite kirjutada ka postiaadressil %s.",
		.extend = "Keerulise taotluse korral võime tähtaega pikendada kuni %s võrra, teatades Teile põhjuse.",
		.target = "Püüame vastata %s jooksul.",
		.marketing = "Otseturundus: õigus esitada vastuväide",
		.marketing_text = "Teil on õigus igal ajal ja tasuta keelduda oma andmete kasutamisest otseturunduseks "
		                  "(sealhulgas sellega seotud profiilianalüüsist): kasutage igas kirjas olevat linki või "
		                  "kirjutage aadressil %s. Siis lõpetame kohe.",
		.complain_us = "Kaebuse võite esitada ka meile: %s.",
		.authority = "Kaebuse võite esitada järelevalveasutusele",
		.security = "Teie andmed on krüpteeritud iga inimese jaoks eraldi võtmega; neile pääsevad ligi ainult "
		            "selleks volitatud isikud ja iga juurdepääs logitakse.",
		.cookies = "Küpsised", .col_cookie = "Küpsis", .col_names = "Nimed", .col_duration = "Kestus",
		.col_third = "Kes seab", .col_consent = "Nõusolek", .session = "seansi lõpuni", .ours = "meie",
		.cookies_block = "Küpsiste salvestamise võite oma veebilehitsejas blokeerida; siis ei pruugi mõned "
		                 "lehe osad töötada.",
		.needs_consent = "Teie nõusolekul", .no_consent = "hädavajalik, nõusolekut ei küsita",
		.version = "Poliitika versioon", .since = "kehtib alates %s",
		.min_age = "Teenust saab kasutada alates %s. eluaastast.",
		.backups = "Andmebaasi varukoopiaid hoiame %s; pärast seda ei saa neist kustutatud andmeid enam lugeda.",
		.basis = {"nõusolek", "leping", "seadusest tulenev kohustus", "õigustatud huvi", "eluliste huvide kaitse",
		          "avalik ülesanne"},
		.role = {"volitatud töötleja", "vastutav töötleja", "ametiasutus"},
		.transfer = {"", "kaitse piisavuse otsus", "lepingu tüüptingimused", "siduvad kontsernisisesed eeskirjad"},
		.rights_list = {"saada teavet oma isikuandmete töötlemise kohta, tutvuda oma andmetega ja saada neist koopia",
		                "nõuda ebaõigete andmete parandamist", "nõuda andmete kustutamist",
		                "nõuda andmete töötlemise piiramist", "saada oma andmed masinloetaval kujul",
		                "esitada vastuväide õigustatud huvil põhinevale töötlemisele",
		                "võtta nõusolek igal ajal tagasi, sama lihtsalt kui selle andsite (igas kirjas oleva lingi "
		                "kaudu või kirjutades); varasem töötlemine jääb seaduslikuks"},
		.after = "%s pärast %s",
		.fy = " (arvestatuna selle majandusaasta lõpust)",
		.events = {{"created", "loomist"}, {"fulfilled", "täitmist"}, {"resolved", "lahendamist"},
		           {"closed", "sulgemist"}, {"answered", "vastamist"}},
		.while_active = "kuni konto on aktiivne", .while_active_grace = "kuni konto on aktiivne ja %s pärast sulgemist",
	},
	{
		.lang = "lv",
		.units = &lv_units,
		.title = "Privātuma paziņojums",
		.intro = "%s ir jūsu personas datu pārzinis. Šis paziņojums saka, kādus datus mēs glabājam, kāpēc, cik "
		         "ilgi un kam tos nododam, un kādas tiesības jums ir.",
		.controller = "Pārzinis", .code = "Reģistrācijas numurs", .phone = "Tālrunis", .email = "E-pasts",
		.dpo = "Datu aizsardzības speciālists",
		.purposes = "Mērķi un tiesiskie pamati",
		.categories = "Dati, mērķi un glabāšana", .col_data = "Dati", .col_fields = "Lauki", .col_purposes = "Mērķi",
		.col_basis = "Tiesiskais pamats", .col_keep = "Glabāšanas termiņš", .then_delete = "pēc tam dzēšam",
		.then_anon = "pēc tam anonimizējam", .kept_by_law = "likums prasa glabāt arī pēc dzēšanas pieprasījuma",
		.provision = "Vai datu sniegšana ir obligāta?", .sources = "Datu avoti",
		.source_self = "Pārējos datus mēs saņemam no jums.",
		.requests_keep = "Jūsu pieprasījumu ierakstu glabāšanas termiņš: %s.",
		.ip_trim = "%s: saīsināšanas termiņš ir %s pēc saglabāšanas; pēc tam tā vairs nenorāda uz vienu ierīci.",
		.ip_case = NOTICE_SPAN,
		.holds = "Ja dati ir nepieciešami likumīgas prasības celšanai, īstenošanai vai aizstāvēšanai vai tos "
		         "pieprasa iestāde, mēs tos glabājam, līdz šis pienākums beidzas, arī pēc iepriekš minētā termiņa.",
		.recipients = "Saņēmēji", .col_recipient = "Saņēmējs", .col_country = "Valsts",
		.col_transfer = "Nodošanas pamats", .eea = "EEZ", .no_recipients = "Mēs datus nevienam nenododam.",
		.copy = "Aizsardzības pasākumu kopiju varat saņemt, rakstot uz %s.",
		.automated = "Automatizēti lēmumi un profilēšana",
		.automated_none = "Mēs nepieņemam lēmumus, kas balstīti tikai uz automatizētu apstrādi, tostarp "
		                  "profilēšanu, un kas jums rada juridiskas vai līdzīgi būtiskas sekas.",
		.rights = "Jūsu tiesības",
		.how = "Lai izmantotu savas tiesības, rakstiet uz %s. Mēs atbildam %s laikā.",
		.how_post = "Varat rakstīt arī pa pastu: %s.",
		.extend = "Sarežģīta pieprasījuma gadījumā termiņu varam pagarināt vēl līdz %s, norādot iemeslu.",
		.target = "Mēs cenšamies atbildēt %s laikā.",
		.marketing = "Tiešā mārketinga iebildums",
		.marketing_text = "Jūs jebkurā laikā varat bez maksas iebilst pret savu datu izmantošanu tiešajai "
		                  "tirgvedībai (arī ar to saistītai profilēšanai): izmantojiet saiti katrā vēstulē vai "
		                  "rakstiet uz %s. Tad mēs to nekavējoties pārtraucam.",
		.complain_us = "Sūdzību varat iesniegt arī mums: %s.",
		.authority = "Sūdzību varat iesniegt uzraudzības iestādei",
		.security = "Jūsu dati tiek šifrēti ar katrai personai atsevišķu atslēgu; tiem var piekļūt tikai "
		            "pilnvarotas personas, un katra piekļuve tiek reģistrēta.",
		.cookies = "Sīkdatnes", .col_cookie = "Sīkdatne", .col_names = "Nosaukumi", .col_duration = "Ilgums",
		.col_third = "Kas to iestata", .col_consent = "Piekrišana", .session = "līdz sesijas beigām", .ours = "mēs",
		.cookies_block = "Sīkdatnes varat bloķēt savā pārlūkprogrammā; tad dažas vietnes daļas var nedarboties.",
		.needs_consent = "ar jūsu piekrišanu", .no_consent = "nepieciešamas, piekrišana netiek prasīta",
		.version = "Politikas versija", .since = "spēkā no %s",
		.min_age = "Pakalpojumu var izmantot no %s gadu vecuma.",
		.backups = "Datubāzes rezerves kopijas glabājam %s; pēc tam dzēstos datus tajās vairs nevar nolasīt.",
		.basis = {"piekrišana", "līgums", "juridisks pienākums", "leģitīmās intereses", "vitālās intereses",
		          "sabiedrības interešu uzdevums"},
		.role = {"apstrādātājs", "pārzinis", "iestāde"},
		.transfer = {"", "lēmums par aizsardzības līmeņa pietiekamību", "līguma standartklauzulas",
		             "saistošie uzņēmuma noteikumi"},
		.rights_list = {"saņemt informāciju par savu datu apstrādi, piekļūt saviem datiem un saņemt to kopiju",
		                "labot neprecīzus datus", "dzēst datus", "ierobežot apstrādi",
		                "saņemt datus mašīnlasāmā formā", "iebilst pret apstrādi, kas balstīta uz leģitīmām interesēm",
		                "jebkurā laikā atsaukt piekrišanu tikpat viegli, kā to devāt (ar saiti katrā vēstulē vai "
		                "rakstot mums); iepriekšējā apstrāde paliek likumīga"},
		.after = "%s pēc %s",
		.fy = " (skaitot no attiecīgā finanšu gada beigām)",
		.events = {{"created", "izveides"}, {"fulfilled", "izpildes"}, {"resolved", "atrisināšanas"},
		           {"closed", "slēgšanas"}, {"answered", "atbildes"}},
		.while_active = "kamēr konts ir aktīvs", .while_active_grace = "kamēr konts ir aktīvs, un %s pēc tā slēgšanas",
	},
	{
		.lang = "en",
		.units = &en_units,
		.title = "Privacy notice",
		.intro = "%s is the controller of your personal data. This notice says what we hold, why, for how long "
		         "and who receives it, and what your rights are.",
		.controller = "Controller", .code = "Registry code", .phone = "Phone", .email = "E-mail",
		.dpo = "Data protection officer",
		.purposes = "Purposes and legal bases",
		.categories = "Data, purposes and retention", .col_data = "Data", .col_fields = "Fields",
		.col_purposes = "Purposes", .col_basis = "Legal basis", .col_keep = "Kept", .then_delete = "then deleted",
		.then_anon = "then anonymised", .kept_by_law = "a law requires keeping it even after an erasure request",
		.provision = "Do you have to give us this data?", .sources = "Where the data comes from",
		.source_self = "Everything else we get from you.",
		.requests_keep = "Records of your requests are kept %s.",
		.ip_trim = "%s: shortened %s after it is recorded, so that it no longer points to one device.",
		.ip_case = NOTICE_SPAN,
		.holds = "If data is needed to establish, exercise or defend a legal claim, or an authority requires it, "
		         "we keep it under a legal hold until the hold is lifted, even past the period above.",
		.recipients = "Recipients", .col_recipient = "Recipient", .col_country = "Country",
		.col_transfer = "Transfer basis", .eea = "EEA", .no_recipients = "We give your data to no one.",
		.copy = "For a copy of the safeguards, write to %s.",
		.automated = "Automated decisions and profiling",
		.automated_none = "We make no decisions about you based solely on automated processing, including "
		                  "profiling, that have legal or similarly significant effects on you.",
		.rights = "Your rights", .how = "To use these rights, write to %s. We answer within %s.",
		.how_post = "You may also write by post: %s.",
		.extend = "For a complex request we may extend this by up to %s, and tell you why.",
		.target = "We aim to answer within %s.",
		.marketing = "Direct marketing: your right to object",
		.marketing_text = "You may object at any time, free of charge, to the use of your data for direct "
		                  "marketing (and profiling for it): use the link in every message or write to %s. We "
		                  "then stop at once.",
		.complain_us = "You may also complain to us: %s.",
		.authority = "You may complain to the supervisory authority",
		.security = "Your data is encrypted under a key of each person's own; only authorised people can access it, "
		            "and every access is logged.",
		.cookies = "Cookies", .col_cookie = "Cookie", .col_names = "Names", .col_duration = "Duration",
		.col_third = "Set by", .col_consent = "Consent", .session = "until the end of the session", .ours = "us",
		.cookies_block = "You can block cookies in your browser; some parts of the site may then not work.",
		.needs_consent = "with your consent", .no_consent = "strictly necessary, no consent asked",
		.version = "Policy version", .since = "in force since %s",
		.min_age = "The service is for people aged %s and over.",
		.backups = "We keep copies of the database (backups) for %s; after that, data erased from the register can no longer be read in them.",
		.basis = {"consent", "contract", "legal obligation", "legitimate interest", "vital interest", "public task"},
		.role = {"processor", "controller", "authority"},
		.transfer = {"", "adequacy decision", "standard contractual clauses", "binding corporate rules"},
		.rights_list = {"be told how your data is processed, access it and get a copy", "have wrong data corrected",
		                "have your data erased", "restrict the processing", "get your data in a machine-readable form",
		                "object to processing based on legitimate interests",
		                "withdraw consent at any time, as easily as you gave it (the link in every message, or "
		                "write to us); what was done before stays lawful"},
		.after = "%s after %s",
		.fy = " (counted from the end of that financial year)",
		.events = {{"created", "creation"}, {"fulfilled", "fulfilment"}, {"resolved", "resolution"},
		           {"closed", "closure"}, {"answered", "the answer"}},
		.while_active = "while the account is active",
		.while_active_grace = "while the account is active, and %s after it is closed",
	},
	{
		.lang = "fi",
		.units = &fi_units,
		.title = "Tietosuojaseloste",
		.intro = "%s on henkilötietojesi rekisterinpitäjä. Tämä seloste kertoo, mitä tietoja säilytämme, miksi, "
		         "kuinka kauan ja kenelle luovutamme niitä sekä mitkä oikeudet sinulla on.",
		.controller = "Rekisterinpitäjä", .code = "Y-tunnus", .phone = "Puhelin", .email = "Sähköposti",
		.dpo = "Tietosuojavastaava",
		.purposes = "Käyttötarkoitukset ja oikeusperusteet",
		.categories = "Tiedot, käyttötarkoitukset ja säilytys", .col_data = "Tiedot", .col_fields = "Kentät",
		.col_purposes = "Käyttötarkoitukset", .col_basis = "Oikeusperuste", .col_keep = "Säilytysaika",
		.then_delete = "sitten poistamme", .then_anon = "sitten anonymisoimme",
		.kept_by_law = "laki velvoittaa säilyttämään myös poistopyynnön jälkeen",
		.provision = "Onko tietojen antaminen pakollista?", .sources = "Tietolähteet",
		.source_self = "Muut tiedot saamme sinulta itseltäsi.",
		.requests_keep = "Pyyntöjesi tietojen säilytysaika: %s.",
		.ip_trim = "%s: lyhennetään %s kuluttua tallentamisesta, jolloin se ei enää osoita yhteen laitteeseen.",
		.ip_case = NOTICE_WITHIN,
		.holds = "Jos tietoja tarvitaan oikeusvaateen laatimiseen, esittämiseen tai puolustamiseen tai viranomainen "
		         "vaatii niitä, säilytämme ne, kunnes velvoite päättyy, myös yllä mainitun ajan jälkeen.",
		.recipients = "Vastaanottajat", .col_recipient = "Vastaanottaja", .col_country = "Maa",
		.col_transfer = "Siirron peruste", .eea = "ETA", .no_recipients = "Emme luovuta tietoja kenellekään.",
		.copy = "Suojatoimien kopion saat kirjoittamalla osoitteeseen %s.",
		.automated = "Automaattiset päätökset ja profilointi",
		.automated_none = "Emme tee sinusta pelkästään automaattiseen käsittelyyn, kuten profilointiin, "
		                  "perustuvia päätöksiä, joilla on sinuun oikeudellisia tai vastaavan merkittäviä vaikutuksia.",
		.rights = "Oikeutesi", .how = "Käytä oikeuksiasi kirjoittamalla osoitteeseen %s. Vastaamme %s kuluessa.",
		.how_post = "Voit kirjoittaa myös postitse: %s.",
		.extend = "Monimutkaisen pyynnön kohdalla voimme jatkaa määräaikaa enintään %s, perustellen.",
		.target = "Pyrimme vastaamaan %s kuluessa.",
		.marketing = "Suoramarkkinoinnin vastustaminen",
		.marketing_text = "Voit milloin tahansa maksutta kieltää tietojesi käytön suoramarkkinointiin (myös siihen "
		                  "liittyvän profiloinnin): käytä jokaisen viestin linkkiä tai kirjoita osoitteeseen %s. "
		                  "Lopetamme silloin heti.",
		.complain_us = "Voit tehdä valituksen myös meille: %s.",
		.authority = "Voit tehdä valituksen valvontaviranomaiselle",
		.security = "Tietosi salataan henkilökohtaisella avaimella; niihin pääsevät vain valtuutetut henkilöt, ja "
		            "jokainen pääsy kirjataan lokiin.",
		.cookies = "Evästeet", .col_cookie = "Eväste", .col_names = "Nimet", .col_duration = "Kesto",
		.col_third = "Asettaja", .col_consent = "Suostumus", .session = "istunnon ajan", .ours = "me",
		.cookies_block = "Voit estää evästeet selaimessasi; jotkin sivuston osat eivät ehkä silloin toimi.",
		.needs_consent = "suostumuksellasi", .no_consent = "välttämättömät, suostumusta ei kysytä",
		.version = "Selosteen versio", .since = "voimassa %s alkaen",
		.min_age = "Palvelu on %s vuotta täyttäneille.",
		.backups = "Säilytämme tietokannan varmuuskopioita %s; sen jälkeen poistettuja tietoja ei voi enää lukea niistä.",
		.basis = {"suostumus", "sopimus", "lakisääteinen velvoite", "oikeutettu etu", "elintärkeä etu",
		          "yleisen edun mukainen tehtävä"},
		.role = {"henkilötietojen käsittelijä", "rekisterinpitäjä", "viranomainen"},
		.transfer = {"", "tietosuojan riittävyyttä koskeva päätös", "vakiosopimuslausekkeet",
		             "yritystä koskevat sitovat säännöt"},
		.rights_list = {"saada tietoa tietojesi käsittelystä, tarkastaa tietosi ja saada niistä kopio",
		                "oikaista virheelliset tiedot", "poistaa tietosi", "rajoittaa käsittelyä",
		                "saada tietosi koneluettavassa muodossa", "vastustaa oikeutettuun etuun perustuvaa käsittelyä",
		                "peruuttaa suostumuksesi milloin tahansa yhtä helposti kuin annoit sen (jokaisen viestin "
		                "linkistä tai kirjoittamalla meille); aiempi käsittely pysyy lainmukaisena"},
		.after = "%s %s",
		.fy = " (kyseisen tilikauden päättymisestä lukien)",
		.events = {{"created", "luomisesta"}, {"fulfilled", "täyttämisestä"}, {"resolved", "ratkaisusta"},
		           {"closed", "sulkemisesta"}, {"answered", "vastaamisesta"}},
		.while_active = "niin kauan kuin tili on voimassa",
		.while_active_grace = "niin kauan kuin tili on voimassa ja %s sen sulkemisesta",
	},
	{
		.lang = "ru",
		.units = &ru_units,
		.title = "Уведомление о конфиденциальности",
		.intro = "%s является контролёром ваших персональных данных. Это уведомление говорит, какие данные мы "
		         "храним, зачем, как долго и кому их передаём, и какие у вас есть права.",
		.controller = "Контролёр", .code = "Регистрационный код", .phone = "Телефон", .email = "Эл. почта",
		.dpo = "Специалист по защите данных",
		.purposes = "Цели и правовые основания",
		.categories = "Данные, цели и сроки хранения", .col_data = "Данные", .col_fields = "Поля",
		.col_purposes = "Цели", .col_basis = "Правовое основание", .col_keep = "Храним",
		.then_delete = "затем удаляем", .then_anon = "затем анонимизируем",
		.kept_by_law = "закон требует хранить и после запроса на удаление",
		.provision = "Обязательно ли предоставлять данные?", .sources = "Источники данных",
		.source_self = "Остальные данные мы получаем от вас.",
		.requests_keep = "Записи о ваших запросах храним %s.",
		.ip_trim = "%s: сокращаем через %s после записи, чтобы он больше не указывал на одно устройство.",
		.ip_case = NOTICE_SPAN,
		.holds = "Если данные нужны для предъявления, осуществления или защиты правовых требований или их требует "
		         "орган власти, мы храним их до снятия этого обязательства, в том числе после указанного срока.",
		.recipients = "Получатели", .col_recipient = "Получатель", .col_country = "Страна",
		.col_transfer = "Основание передачи", .eea = "ЕЭЗ", .no_recipients = "Мы никому не передаём данные.",
		.copy = "Копию гарантий можно получить, написав на %s.",
		.automated = "Автоматизированные решения и профилирование",
		.automated_none = "Мы не принимаем в отношении вас решений, основанных исключительно на автоматизированной "
		                  "обработке, включая профилирование, которые влекут для вас юридические или сходные "
		                  "значимые последствия.",
		.rights = "Ваши права", .how = "Чтобы воспользоваться правами, напишите на %s. Мы отвечаем в течение %s.",
		.how_post = "Можно написать и по почте: %s.",
		.extend = "Для сложного запроса срок может быть продлён ещё до %s, с объяснением причины.",
		.target = "Мы стараемся ответить в течение %s.",
		.marketing = "Возражение против прямого маркетинга",
		.marketing_text = "Вы можете в любое время бесплатно возразить против использования ваших данных для "
		                  "прямого маркетинга (включая связанное с ним профилирование): воспользуйтесь ссылкой в "
		                  "каждом письме или напишите на %s. Тогда мы сразу прекратим.",
		.complain_us = "Жалобу можно подать и нам: %s.",
		.authority = "Вы можете подать жалобу в надзорный орган",
		.security = "Ваши данные зашифрованы отдельным ключом для каждого человека; доступ к ним есть только у "
		            "уполномоченных лиц, и каждый доступ записывается.",
		.cookies = "Файлы cookie", .col_cookie = "Cookie", .col_names = "Имена", .col_duration = "Срок",
		.col_third = "Кто устанавливает", .col_consent = "Согласие", .session = "до конца сеанса", .ours = "мы",
		.cookies_block = "Вы можете заблокировать cookie в браузере; тогда некоторые части сайта могут не работать.",
		.needs_consent = "с вашего согласия", .no_consent = "строго необходимые, согласие не запрашивается",
		.version = "Версия политики", .since = "действует с %s",
		.min_age = "Сервис предназначен для лиц с %s лет.",
		.backups = "Резервные копии базы данных мы храним %s; после этого удалённые данные в них прочитать невозможно.",
		.basis = {"согласие", "договор", "юридическая обязанность", "законный интерес", "жизненные интересы",
		          "задача в общественных интересах"},
		.role = {"обработчик", "контролёр", "государственный орган"},
		.transfer = {"", "решение об адекватности", "стандартные договорные положения",
		             "обязательные корпоративные правила"},
		.rights_list = {"получать информацию об обработке своих данных, доступ к ним и их копию",
		                "исправить неточные данные", "удалить свои данные", "ограничить обработку",
		                "получить данные в машиночитаемом виде",
		                "возразить против обработки на основании законного интереса",
		                "отозвать согласие в любое время так же легко, как вы его дали (ссылкой в каждом письме или "
		                "написав нам); прежняя обработка остаётся законной"},
		.after = "%s после %s",
		.fy = " (считая с конца соответствующего финансового года)",
		.events = {{"created", "создания"}, {"fulfilled", "исполнения"}, {"resolved", "разрешения"},
		           {"closed", "закрытия"}, {"answered", "ответа"}},
		.while_active = "пока учётная запись активна",
		.while_active_grace = "пока учётная запись активна и %s после её закрытия",
	},
};

/* tmpl with its first %s replaced by a and its second by b: the templates
 * are data, so they are never handed to printf. */
static void fill(char *out, size_t size, const char *tmpl, const char *a, const char *b)
{
	size_t len = 0;
	const char *args[2] = {a, b};
	int used = 0;
	while (*tmpl && len + 1 < size) {
		if (tmpl[0] == '%' && tmpl[1] == 's' && used < 2) {
			const char *v = args[used++];
			size_t vl = strlen(v ? v : "");
			if (vl > size - 1 - len)
				vl = size - 1 - len;
			memcpy(out + len, v ? v : "", vl);
			len += vl;
			tmpl += 2;
		} else {
			out[len++] = *tmpl++;
		}
	}
	out[len] = '\0';
}

static const struct texts *texts_for(const char *lang)
{
	for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
		if (!strcmp(langs[i].lang, lang))
			return &langs[i];
	return &langs[2]; /* en */
}

/* The plural category of n: 0 "one", 1 "few", 2 "many". Latvian and
 * Russian agree with the last digits (21 is "one", 11 is not); Russian
 * alone has "few" (2-4, 22-24, but not 12-14). */
static int plural_of(const char *lang, int n)
{
	bool ends_in_one = n % 10 == 1 && n % 100 != 11;
	if (!strcmp(lang, "ru"))
		return ends_in_one ? 0 : n % 10 >= 2 && n % 10 <= 4 && (n % 100 < 12 || n % 100 > 14) ? 1 : 2;
	if (!strcmp(lang, "lv"))
		return ends_in_one ? 0 : 2;
	return n == 1 ? 0 : 2;
}

static void duration_in(const struct texts *t, struct duration d, enum notice_case c, char *out, size_t size)
{
	const struct units *u = t->units;
	int k = plural_of(t->lang, d.n), unit = (int)d.unit;
	const char *w;
	if (c == NOTICE_WITHIN)
		w = k == 0 ? u->within_one[unit] : u->within_many[unit];
	else if (c == NOTICE_BY)
		w = k == 0 ? u->by_one[unit] : u->by_many[unit];
	else
		w = k == 0 ? u->span_one[unit] : k == 1 ? u->span_few[unit] : u->span_many[unit];
	snprintf(out, size, "%d %s", d.n, w);
}

void notice_duration(struct duration d, const char *lang, enum notice_case c, char *out, size_t size)
{
	duration_in(texts_for(lang), d, c, out, size);
}

/* A keep rule in words; its event by the title the kind gives it, else by
 * the word these texts have for it, else by its name. */
static void keep_rule_words(const struct texts *t, const struct policy_keep *k, const struct policy_record *r,
                            char *out, size_t size)
{
	char d[64];
	duration_in(t, k->period, NOTICE_SPAN, d, sizeof d);
	if (k->rule == KEEP_WHILE_ACTIVE) {
		if (k->period.n)
			fill(out, size, t->while_active_grace, d, NULL);
		else
			snprintf(out, size, "%s", t->while_active);
		return;
	}
	const char *ev = k->event;
	for (size_t i = 0; i < 5; i++)
		if (!strcmp(k->event, event_names[i]))
			ev = t->events[i][1];
	const struct policy_event *declared = r ? policy_record_event(r, k->event) : NULL;
	if (declared)
		ev = policy_title_in(&declared->title, t->lang, ev);
	fill(out, size, t->after, d, ev);
	if (k->rule == KEEP_AFTER_EVENT && k->financial_year) {
		size_t len = strlen(out);
		snprintf(out + len, size - len, "%s", t->fy);
	}
}

void notice_keep_words(const struct policy_record *r, const char *lang, char *out, size_t size)
{
	keep_rule_words(texts_for(lang), &r->keep, r, out, size);
}

/* ---- output in either format ---- */

struct out {
	struct buf *b;
	enum notice_format f;
};

static enum rc esc(struct out *o, const char *s)
{
	enum rc rc = RC_OK;
	for (; !rc && s && *s; s++) {
		const char *rep = NULL;
		if (o->f == NOTICE_HTML)
			rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '"' ? "&quot;" : NULL;
		else if (strchr("\\`*_[]<>|#", *s))
			rc = buf_append(o->b, "\\", 1);
		rc = rc ? rc : rep ? buf_puts(o->b, rep) : buf_append(o->b, s, 1);
	}
	return rc;
}

static enum rc raw(struct out *o, const char *html, const char *md)
{
	return buf_puts(o->b, o->f == NOTICE_HTML ? html : md);
}

static enum rc heading(struct out *o, const char *text)
{
	enum rc rc = raw(o, "<h2>", "\n## ");
	rc = rc ? rc : esc(o, text);
	return rc ? rc : raw(o, "</h2>\n", "\n\n");
}

static enum rc para(struct out *o, const char *text)
{
	enum rc rc = raw(o, "<p>", "");
	rc = rc ? rc : esc(o, text);
	return rc ? rc : raw(o, "</p>\n", "\n\n");
}

static enum rc item(struct out *o, const char *text)
{
	enum rc rc = raw(o, "<li>", "- ");
	rc = rc ? rc : esc(o, text);
	return rc ? rc : raw(o, "</li>\n", "\n");
}

static enum rc row_start(struct out *o)
{
	return raw(o, "<tr>", "|");
}

static enum rc cell(struct out *o, const char *text, bool head)
{
	enum rc rc = raw(o, head ? "<th scope=\"col\">" : "<td>", " ");
	rc = rc ? rc : esc(o, text);
	return rc ? rc : raw(o, head ? "</th>" : "</td>", " |");
}

/* Cells listing the titles of fields or purposes in lang, ", " between. */
static enum rc cell_fields(struct out *o, const struct policy_field *const *v, size_t n, const char *lang)
{
	enum rc rc = raw(o, "<td>", " ");
	for (size_t i = 0; !rc && i < n; i++) {
		rc = i ? buf_puts(o->b, ", ") : RC_OK;
		rc = rc ? rc : esc(o, policy_title_in(&v[i]->title, lang, v[i]->name));
	}
	return rc ? rc : raw(o, "</td>", " |");
}

static enum rc cell_purposes(struct out *o, const struct policy_purpose *const *v, size_t n, const char *lang)
{
	enum rc rc = raw(o, "<td>", " ");
	for (size_t i = 0; !rc && i < n; i++) {
		rc = i ? buf_puts(o->b, ", ") : RC_OK;
		rc = rc ? rc : esc(o, policy_title_in(&v[i]->title, lang, v[i]->name));
	}
	return rc ? rc : raw(o, "</td>", " |");
}

/* The distinct legal bases of some purposes. */
static enum rc cell_bases(struct out *o, const struct texts *t, const struct policy_purpose *const *v, size_t n)
{
	bool seen[6] = {false};
	enum rc rc = raw(o, "<td>", " ");
	for (size_t i = 0, k = 0; !rc && i < n; i++) {
		if (seen[v[i]->basis])
			continue;
		seen[v[i]->basis] = true;
		rc = k++ ? buf_puts(o->b, ", ") : RC_OK;
		rc = rc ? rc : esc(o, t->basis[v[i]->basis]);
	}
	return rc ? rc : raw(o, "</td>", " |");
}

static enum rc row_end(struct out *o, size_t cols, bool head)
{
	enum rc rc = raw(o, "</tr>\n", "\n");
	if (!rc && head && o->f == NOTICE_MARKDOWN) {
		rc = buf_puts(o->b, "|");
		for (size_t i = 0; !rc && i < cols; i++)
			rc = buf_puts(o->b, "---|");
		rc = rc ? rc : buf_puts(o->b, "\n");
	}
	return rc;
}

static enum rc header_row(struct out *o, const char *const *cols, size_t n)
{
	enum rc rc = raw(o, "<table>\n", "\n");
	rc = rc ? rc : row_start(o);
	for (size_t i = 0; !rc && i < n; i++)
		rc = cell(o, cols[i], true);
	return rc ? rc : row_end(o, n, true);
}

/* ---- the sections ---- */

struct notice {
	const struct policy *p;
	const struct texts *t;
	const char *lang;
	struct out o;
	const char *contact;      /* where requests go: the DPO, else the controller */
};

static bool any_basis(const struct policy *p, enum legal_basis b)
{
	for (size_t i = 0; i < p->npurposes; i++)
		if (p->purposes[i].basis == b)
			return true;
	return false;
}

static bool any_marketing(const struct policy *p)
{
	for (size_t i = 0; i < p->npurposes; i++)
		if (p->purposes[i].channel != CHANNEL_NONE)
			return true;
	return false;
}

static enum rc s_controller(struct notice *n)
{
	const struct policy_controller *c = &n->p->controller;
	const struct texts *t = n->t;
	char line[2048];
	enum rc rc = heading(&n->o, t->controller);
	snprintf(line, sizeof line, "%s%s%s%s%s%s%s", c->name, c->code ? ", " : "", c->code ? t->code : "",
	         c->code ? " " : "", c->code ? c->code : "", c->address ? ", " : "", c->address ? c->address : "");
	rc = rc ? rc : para(&n->o, line);
	snprintf(line, sizeof line, "%s: %s", t->email, c->email);
	rc = rc ? rc : para(&n->o, line);
	if (c->phone) {
		snprintf(line, sizeof line, "%s: %s", t->phone, c->phone);
		rc = rc ? rc : para(&n->o, line);
	}
	if (c->dpo) {
		snprintf(line, sizeof line, "%s: %s", t->dpo, c->dpo);
		rc = rc ? rc : para(&n->o, line);
	}
	return rc;
}

/* Every purpose with its basis; a legitimate interest with the interest
 * itself, as the policy words it. */
static enum rc s_purposes(struct notice *n)
{
	const struct texts *t = n->t;
	char line[4200];
	enum rc rc = heading(&n->o, t->purposes);
	const char *const cols[] = {t->col_purposes, t->col_basis};
	rc = rc ? rc : header_row(&n->o, cols, 2);
	for (size_t i = 0; !rc && i < n->p->npurposes; i++) {
		const struct policy_purpose *u = &n->p->purposes[i];
		if (u->interest.n)
			snprintf(line, sizeof line, "%s: %s", t->basis[u->basis], policy_title_in(&u->interest, n->lang, ""));
		else
			snprintf(line, sizeof line, "%s", t->basis[u->basis]);
		rc = row_start(&n->o);
		rc = rc ? rc : cell(&n->o, policy_title_in(&u->title, n->lang, u->name), false);
		rc = rc ? rc : cell(&n->o, line, false);
		rc = rc ? rc : row_end(&n->o, 2, false);
	}
	return rc ? rc : raw(&n->o, "</table>\n", "\n");
}

/* What is kept for how long, then what the policy adds about retention
 * outside the kinds: the request records, IP addresses cut short, holds. */
static enum rc s_categories(struct notice *n)
{
	const struct policy *p = n->p;
	const struct texts *t = n->t;
	char line[2048], words[256], d[64];
	enum rc rc = heading(&n->o, t->categories);
	const char *const cols[] = {t->col_data, t->col_fields, t->col_purposes, t->col_basis, t->col_keep};
	rc = rc ? rc : header_row(&n->o, cols, 5);
	for (size_t i = 0; !rc && i < p->nrecords; i++) {
		const struct policy_record *r = &p->records[i];
		keep_rule_words(t, &r->keep, r, words, sizeof words);
		snprintf(line, sizeof line, "%s, %s%s%s", words, r->then == THEN_ANONYMIZE ? t->then_anon : t->then_delete,
		         r->erasable ? "" : "; ", r->erasable ? "" : t->kept_by_law);
		rc = row_start(&n->o);
		rc = rc ? rc : cell(&n->o, policy_title_in(&r->title, n->lang, r->name), false);
		rc = rc ? rc : cell_fields(&n->o, r->fields, r->nfields, n->lang);
		rc = rc ? rc : cell_purposes(&n->o, r->purposes, r->npurposes, n->lang);
		rc = rc ? rc : cell_bases(&n->o, t, r->purposes, r->npurposes);
		rc = rc ? rc : cell(&n->o, line, false);
		rc = rc ? rc : row_end(&n->o, 5, false);
	}
	rc = rc ? rc : raw(&n->o, "</table>\n", "\n");
	if (p->requests.has_keep) {
		keep_rule_words(t, &p->requests.keep, NULL, words, sizeof words);
		fill(line, sizeof line, t->requests_keep, words, NULL);
		rc = rc ? rc : para(&n->o, line);
	}
	for (size_t i = 0; !rc && i < p->nfields; i++) {
		const struct policy_field *f = &p->fields[i];
		if (!f->has_truncate)
			continue;
		duration_in(t, f->truncate_after, t->ip_case, d, sizeof d);
		fill(line, sizeof line, t->ip_trim, policy_title_in(&f->title, n->lang, f->name), d);
		rc = para(&n->o, line);
	}
	rc = rc ? rc : para(&n->o, t->holds);
	if (p->backups.has_keep) {
		duration_in(t, p->backups.keep, NOTICE_SPAN, d, sizeof d);
		fill(line, sizeof line, t->backups, d, NULL);
		rc = rc ? rc : para(&n->o, line);
	}
	return rc ? rc : para(&n->o, t->security);
}

/* Whether each kind must be given and what follows if not (Art. 13(2)(e)),
 * where the policy says so. */
static enum rc s_provision(struct notice *n)
{
	const struct policy *p = n->p;
	char line[4200];
	enum rc rc = RC_OK;
	bool any = false;
	for (size_t i = 0; !rc && i < p->nrecords; i++) {
		const struct policy_record *r = &p->records[i];
		if (!r->provision.n)
			continue;
		if (!any) {
			rc = heading(&n->o, n->t->provision);
			rc = rc ? rc : raw(&n->o, "<ul>\n", "");
			any = true;
		}
		snprintf(line, sizeof line, "%s: %s", policy_title_in(&r->title, n->lang, r->name),
		         policy_title_in(&r->provision, n->lang, ""));
		rc = rc ? rc : item(&n->o, line);
	}
	return rc || !any ? rc : raw(&n->o, "</ul>\n", "\n");
}

/* Data not collected from the person: where it comes from (Art. 14(2)(f)). */
static enum rc s_sources(struct notice *n)
{
	const struct policy *p = n->p;
	char line[4200];
	enum rc rc = RC_OK;
	bool any = false;
	for (size_t i = 0; !rc && i < p->nrecords + p->nfields; i++) {
		const struct policy_title *title, *src;
		const char *name;
		if (i < p->nrecords) {
			title = &p->records[i].title, src = &p->records[i].source, name = p->records[i].name;
		} else {
			const struct policy_field *f = &p->fields[i - p->nrecords];
			title = &f->title, src = &f->source, name = f->name;
		}
		if (!src->n)
			continue;
		if (!any) {
			rc = heading(&n->o, n->t->sources);
			rc = rc ? rc : raw(&n->o, "<ul>\n", "");
			any = true;
		}
		snprintf(line, sizeof line, "%s: %s", policy_title_in(title, n->lang, name),
		         policy_title_in(src, n->lang, ""));
		rc = rc ? rc : item(&n->o, line);
	}
	if (!any)
		return rc;
	rc = rc ? rc : raw(&n->o, "</ul>\n", "\n");
	return rc ? rc : para(&n->o, n->t->source_self);
}

static enum rc s_recipients(struct notice *n)
{
	const struct policy *p = n->p;
	const struct texts *t = n->t;
	char who[512], how[4200], copy[512];
	enum rc rc = heading(&n->o, t->recipients);
	if (!p->nrecipients)
		return rc ? rc : para(&n->o, t->no_recipients);
	const char *const cols[] = {t->col_recipient, t->col_purposes, t->col_fields, t->col_country, t->col_transfer};
	rc = rc ? rc : header_row(&n->o, cols, 5);
	for (size_t i = 0; !rc && i < p->nrecipients; i++) {
		const struct policy_recipient *r = &p->recipients[i];
		snprintf(who, sizeof who, "%s (%s)", policy_title_in(&r->title, n->lang, r->name), t->role[r->role]);
		if (r->transfer == TRANSFER_NONE) {
			snprintf(how, sizeof how, "%s", t->eea);
		} else {
			fill(copy, sizeof copy, t->copy, n->contact, NULL);
			snprintf(how, sizeof how, "%s. %s", t->transfer[r->transfer],
			         r->safeguards.n ? policy_title_in(&r->safeguards, n->lang, "") : copy);
		}
		rc = row_start(&n->o);
		rc = rc ? rc : cell(&n->o, who, false);
		rc = rc ? rc : cell_purposes(&n->o, r->purposes, r->npurposes, n->lang);
		rc = rc ? rc : cell_fields(&n->o, r->fields, r->nfields, n->lang);
		rc = rc ? rc : cell(&n->o, r->country, false);
		rc = rc ? rc : cell(&n->o, how, false);
		rc = rc ? rc : row_end(&n->o, 5, false);
	}
	return rc ? rc : raw(&n->o, "</table>\n", "\n");
}

/* Said only when the policy declares it: an undeclared policy would make a
 * "none" a guess. */
static enum rc s_automated(struct notice *n)
{
	if (n->p->automated == AUTOMATED_UNDECLARED)
		return RC_OK;
	enum rc rc = heading(&n->o, n->t->automated);
	if (n->p->automated == AUTOMATED_NONE)
		return rc ? rc : para(&n->o, n->t->automated_none);
	return rc ? rc : para(&n->o, policy_title_in(&n->p->automated_text, n->lang, ""));
}

static enum rc s_rights(struct notice *n)
{
	const struct policy *p = n->p;
	const struct policy_controller *c = &p->controller;
	const struct texts *t = n->t;
	char line[2048], words[128];
	bool objectable = false;
	for (size_t i = 0; i < p->npurposes; i++)
		objectable = objectable || (p->purposes[i].objectable && p->purposes[i].channel == CHANNEL_NONE);
	enum rc rc = heading(&n->o, t->rights);
	rc = rc ? rc : raw(&n->o, "<ul>\n", "");
	for (size_t i = 0; !rc && i < 7; i++) {
		if ((i == 5 && !objectable) || (i == 6 && !any_basis(p, BASIS_CONSENT)))
			continue;
		rc = item(&n->o, t->rights_list[i]);
	}
	rc = rc ? rc : raw(&n->o, "</ul>\n", "\n");
	duration_in(t, p->requests.answer_within, NOTICE_WITHIN, words, sizeof words);
	fill(line, sizeof line, t->how, n->contact, words);
	rc = rc ? rc : para(&n->o, line);
	if (c->address) {
		fill(line, sizeof line, t->how_post, c->address, NULL);
		rc = rc ? rc : para(&n->o, line);
	}
	if (p->requests.has_target) {
		duration_in(t, p->requests.target, NOTICE_WITHIN, words, sizeof words);
		fill(line, sizeof line, t->target, words, NULL);
		rc = rc ? rc : para(&n->o, line);
	}
	duration_in(t, p->requests.extend_up_to, NOTICE_BY, words, sizeof words);
	fill(line, sizeof line, t->extend, words, NULL);
	rc = rc ? rc : para(&n->o, line);
	fill(line, sizeof line, t->complain_us, n->contact, NULL);
	rc = rc ? rc : para(&n->o, line);
	snprintf(line, sizeof line, "%s: %s%s%s%s%s", t->authority, c->authority_name,
	         c->authority_email ? ", " : "", c->authority_email ? c->authority_email : "",
	         c->authority_url ? ", " : "", c->authority_url ? c->authority_url : "");
	rc = rc ? rc : para(&n->o, line);
	if (any_marketing(p)) { /* Art. 21(4): stated clearly and apart from the rest */
		rc = rc ? rc : heading(&n->o, t->marketing);
		fill(line, sizeof line, t->marketing_text, n->contact, NULL);
		rc = rc ? rc : para(&n->o, line);
	}
	return rc;
}

static enum rc s_cookies(struct notice *n)
{
	const struct policy *p = n->p;
	const struct texts *t = n->t;
	char names[2048], life[64];
	if (!p->ncookies)
		return RC_OK;
	enum rc rc = heading(&n->o, t->cookies);
	const char *const cols[] = {t->col_cookie, t->col_names, t->col_purposes, t->col_duration, t->col_third,
	                            t->col_consent};
	rc = rc ? rc : header_row(&n->o, cols, 6);
	for (size_t i = 0; !rc && i < p->ncookies; i++) {
		const struct policy_cookie *k = &p->cookies[i];
		size_t len = 0;
		names[0] = '\0';
		for (size_t j = 0; j < k->nnames && len < sizeof names; j++)
			len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", j ? ", " : "", k->names[j]);
		if (k->life == COOKIE_LIFE_SESSION)
			snprintf(life, sizeof life, "%s", t->session);
		else if (k->life == COOKIE_LIFE_PERIOD)
			duration_in(t, k->lifetime, NOTICE_SPAN, life, sizeof life);
		else
			life[0] = '\0';
		rc = row_start(&n->o);
		rc = rc ? rc : cell(&n->o, policy_title_in(&k->title, n->lang, k->name), false);
		rc = rc ? rc : cell(&n->o, names, false);
		rc = rc ? rc : cell_purposes(&n->o, k->purposes, k->npurposes, n->lang);
		rc = rc ? rc : cell(&n->o, life, false);
		rc = rc ? rc : cell(&n->o, policy_title_in(&k->third_party, n->lang, t->ours), false);
		rc = rc ? rc : cell(&n->o, k->consent ? t->needs_consent : t->no_consent, false);
		rc = rc ? rc : row_end(&n->o, 6, false);
	}
	rc = rc ? rc : raw(&n->o, "</table>\n", "\n");
	return rc ? rc : para(&n->o, t->cookies_block);
}

enum rc notice_render(const struct policy *p, const char *lang, enum notice_format f, struct buf *b,
                      struct errbuf *eb)
{
	bool ok = false;
	for (size_t i = 0; i < p->nlanguages; i++)
		ok = ok || !strcmp(p->languages[i], lang);
	if (!ok)
		return err_set(eb, RC_UNPROCESSABLE, "the policy is not written in '%.8s' (it has %s%s%s)", lang,
		               p->languages[0], p->nlanguages > 1 ? ", " : "", p->nlanguages > 1 ? p->languages[1] : "");
	const struct texts *t = texts_for(lang);
	struct notice n = {.p = p, .t = t, .lang = lang, .o = {b, f},
	                   .contact = p->controller.dpo ? p->controller.dpo : p->controller.email};
	char line[2048], since[64];
	enum rc rc = RC_OK;
	if (f == NOTICE_HTML) {
		rc = buf_printf(b, "<!doctype html>\n<html lang=\"%s\">\n<head>\n<meta charset=\"utf-8\">\n"
		                   "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
		                t->lang);
		rc = rc ? rc : esc(&n.o, t->title);
		rc = rc ? rc : buf_puts(b, " – ");
		rc = rc ? rc : esc(&n.o, p->controller.name);
		rc = rc ? rc : buf_printf(b, "</title>\n<style>%s</style>\n</head>\n<body>\n<main>\n<h1>", NOTICE_STYLE);
		rc = rc ? rc : esc(&n.o, t->title);
		rc = rc ? rc : buf_puts(b, "</h1>\n");
	} else {
		rc = buf_puts(b, "# ");
		rc = rc ? rc : esc(&n.o, t->title);
		rc = rc ? rc : buf_puts(b, "\n\n");
	}
	fill(line, sizeof line, t->intro, p->controller.name, NULL);
	rc = rc ? rc : para(&n.o, line);
	rc = rc ? rc : s_controller(&n);
	if (!rc && p->min_age) {
		char age[16];
		snprintf(age, sizeof age, "%d", p->min_age);
		fill(line, sizeof line, t->min_age, age, NULL);
		rc = para(&n.o, line);
	}
	rc = rc ? rc : s_purposes(&n);
	rc = rc ? rc : s_categories(&n);
	rc = rc ? rc : s_provision(&n);
	rc = rc ? rc : s_sources(&n);
	rc = rc ? rc : s_recipients(&n);
	rc = rc ? rc : s_automated(&n);
	rc = rc ? rc : s_rights(&n);
	rc = rc ? rc : s_cookies(&n);
	fill(since, sizeof since, t->since, p->date ? p->date : "", NULL);
	snprintf(line, sizeof line, "%s: %s%s%s", t->version, p->version, p->date ? ", " : "", p->date ? since : "");
	rc = rc ? rc : para(&n.o, line);
	if (!rc && f == NOTICE_HTML)
		rc = buf_puts(b, "</main>\n</body>\n</html>\n");
	return rc;
}
