/*
 * notice: the privacy notice from the policy (see notice.h).
 *
 * Every text of the policy is escaped for the format (HTML entities, or
 * Markdown's specials), so a policy cannot inject markup into the notice.
 */
#include "core/notice.h"

#include <stdio.h>
#include <string.h>

/* The fixed texts of one language. */
struct texts {
	const char *lang;
	const char *title, *intro, *controller, *code, *dpo, *categories, *col_data, *col_fields, *col_purposes,
		*col_basis, *col_keep, *then_delete, *then_anon, *kept_by_law, *recipients, *col_recipient,
		*col_country, *col_transfer, *eea, *no_recipients, *rights, *how, *extend, *authority, *cookies,
		*needs_consent, *no_consent, *version, *min_age, *email;
	const char *backups;                  /* "%s": backups.keep in words */
	const char *basis[6];                 /* enum legal_basis */
	const char *role[3];                  /* enum recipient_role */
	const char *transfer[4];              /* enum transfer_basis */
	const char *rights_list[7];
	/* Units: singular, plural (et, lv, fi, en: the form after 2+), and the
	 * Russian genitive plural (5+). */
	const char *unit1[4], *unit2[4], *unit5[4];
	const char *after;                    /* "%s after %s" */
	const char *events[5][2];             /* event name, its word */
	const char *while_active, *while_active_grace;
};

static const char *const event_names[5] = {"created", "fulfilled", "resolved", "closed", "answered"};

static const struct texts langs[] = {
	{
		.lang = "et",
		.email = "E-post",
		.title = "Privaatsusteade",
		.intro = "%s on sinu isikuandmete vastutav töötleja. See teade ütleb, milliseid andmeid me hoiame, miks, "
		         "kui kaua ja kellele neid edastame.",
		.controller = "Vastutav töötleja", .code = "Registrikood", .dpo = "Andmekaitsespetsialist",
		.categories = "Andmed, eesmärgid ja säilitamine", .col_data = "Andmed", .col_fields = "Väljad",
		.col_purposes = "Eesmärgid", .col_basis = "Õiguslik alus", .col_keep = "Säilitame",
		.then_delete = "seejärel kustutame", .then_anon = "seejärel anonüümime",
		.kept_by_law = "seadus nõuab säilitamist ka kustutamistaotluse korral",
		.recipients = "Vastuvõtjad", .col_recipient = "Vastuvõtja", .col_country = "Riik",
		.col_transfer = "Edastamise alus", .eea = "EMP", .no_recipients = "Me ei edasta andmeid kellelegi.",
		.rights = "Sinu õigused",
		.how = "Kirjuta aadressil %s. Vastame %s jooksul.",
		.extend = "Keerulise taotluse korral võime tähtaega pikendada kuni %s, põhjendusega.",
		.authority = "Kaebuse võid esitada järelevalveasutusele", .cookies = "Küpsised",
		.needs_consent = "sinu nõusolekul", .no_consent = "hädavajalik, nõusolekut ei küsita",
		.version = "Poliitika versioon", .min_age = "Teenust saab kasutada alates %s. eluaastast.",
		.backups = "Andmebaasi varukoopiaid hoiame %s; pärast seda ei saa neist kustutatud andmeid enam lugeda.",
		.basis = {"nõusolek", "leping", "seadusest tulenev kohustus", "õigustatud huvi", "eluliste huvide kaitse",
		          "avalik ülesanne"},
		.role = {"volitatud töötleja", "vastutav töötleja", "ametiasutus"},
		.transfer = {"", "kaitse piisavuse otsus", "lepingu tüüptingimused", "siduvad kontsernisisesed eeskirjad"},
		.rights_list = {"tutvuda oma andmetega ja saada neist koopia", "lasta ebaõiged andmed parandada",
		                "lasta andmed kustutada", "piirata andmete töötlemist", "saada andmed masinloetaval kujul",
		                "esitada vastuväide töötlemisele", "võtta nõusolek igal ajal tagasi"},
		.unit1 = {"päev", "nädal", "kuu", "aasta"}, .unit2 = {"päeva", "nädalat", "kuud", "aastat"},
		.unit5 = {"päeva", "nädalat", "kuud", "aastat"},
		.after = "%s pärast %s",
		.events = {{"created", "loomist"}, {"fulfilled", "täitmist"}, {"resolved", "lahendamist"},
		           {"closed", "sulgemist"}, {"answered", "vastamist"}},
		.while_active = "kuni konto on aktiivne", .while_active_grace = "kuni konto on aktiivne ja %s pärast sulgemist",
	},
	{
		.lang = "lv",
		.email = "E-pasts",
		.title = "Privātuma paziņojums",
		.intro = "%s ir jūsu personas datu pārzinis. Šis paziņojums saka, kādus datus mēs glabājam, kāpēc, cik "
		         "ilgi un kam tos nododam.",
		.controller = "Pārzinis", .code = "Reģistrācijas numurs", .dpo = "Datu aizsardzības speciālists",
		.categories = "Dati, mērķi un glabāšana", .col_data = "Dati", .col_fields = "Lauki", .col_purposes = "Mērķi",
		.col_basis = "Tiesiskais pamats", .col_keep = "Glabājam", .then_delete = "pēc tam dzēšam",
		.then_anon = "pēc tam anonimizējam", .kept_by_law = "likums prasa glabāt arī pēc dzēšanas pieprasījuma",
		.recipients = "Saņēmēji", .col_recipient = "Saņēmējs", .col_country = "Valsts",
		.col_transfer = "Nodošanas pamats", .eea = "EEZ", .no_recipients = "Mēs datus nevienam nenododam.",
		.rights = "Jūsu tiesības", .how = "Rakstiet uz %s. Mēs atbildam %s laikā.",
		.extend = "Sarežģīta pieprasījuma gadījumā termiņu varam pagarināt līdz %s, norādot iemeslu.",
		.authority = "Sūdzību varat iesniegt uzraudzības iestādei", .cookies = "Sīkdatnes",
		.needs_consent = "ar jūsu piekrišanu", .no_consent = "nepieciešamas, piekrišana netiek prasīta",
		.version = "Politikas versija", .min_age = "Pakalpojumu var izmantot no %s gadu vecuma.",
		.backups = "Datubāzes rezerves kopijas glabājam %s; pēc tam dzēstos datus tajās vairs nevar nolasīt.",
		.basis = {"piekrišana", "līgums", "juridisks pienākums", "leģitīmās intereses", "vitālās intereses",
		          "sabiedrības interešu uzdevums"},
		.role = {"apstrādātājs", "pārzinis", "iestāde"},
		.transfer = {"", "lēmums par aizsardzības līmeņa pietiekamību", "līguma standartklauzulas",
		             "saistošie uzņēmuma noteikumi"},
		.rights_list = {"piekļūt saviem datiem un saņemt to kopiju", "labot neprecīzus datus", "dzēst datus",
		                "ierobežot apstrādi", "saņemt datus mašīnlasāmā formā", "iebilst pret apstrādi",
		                "jebkurā laikā atsaukt piekrišanu"},
		.unit1 = {"diena", "nedēļa", "mēnesis", "gads"}, .unit2 = {"dienas", "nedēļas", "mēneši", "gadi"},
		.unit5 = {"dienas", "nedēļas", "mēneši", "gadi"},
		.after = "%s pēc %s",
		.events = {{"created", "izveides"}, {"fulfilled", "izpildes"}, {"resolved", "atrisināšanas"},
		           {"closed", "slēgšanas"}, {"answered", "atbildes"}},
		.while_active = "kamēr konts ir aktīvs", .while_active_grace = "kamēr konts ir aktīvs, un %s pēc tā slēgšanas",
	},
	{
		.lang = "en",
		.email = "E-mail",
		.title = "Privacy notice",
		.intro = "%s is the controller of your personal data. This notice says what we hold, why, for how long "
		         "and who receives it.",
		.controller = "Controller", .code = "Registry code", .dpo = "Data protection officer",
		.categories = "Data, purposes and retention", .col_data = "Data", .col_fields = "Fields",
		.col_purposes = "Purposes", .col_basis = "Legal basis", .col_keep = "Kept", .then_delete = "then deleted",
		.then_anon = "then anonymised", .kept_by_law = "a law requires keeping it even after an erasure request",
		.recipients = "Recipients", .col_recipient = "Recipient", .col_country = "Country",
		.col_transfer = "Transfer basis", .eea = "EEA", .no_recipients = "We give your data to no one.",
		.rights = "Your rights", .how = "Write to %s. We answer within %s.",
		.extend = "For a complex request we may extend this by up to %s, and tell you why.",
		.authority = "You may complain to the supervisory authority", .cookies = "Cookies",
		.needs_consent = "with your consent", .no_consent = "strictly necessary, no consent asked",
		.version = "Policy version", .min_age = "The service is for people aged %s and over.",
		.backups = "We keep copies of the database (backups) for %s; after that, data erased from the register can no longer be read in them.",
		.basis = {"consent", "contract", "legal obligation", "legitimate interest", "vital interest", "public task"},
		.role = {"processor", "controller", "authority"},
		.transfer = {"", "adequacy decision", "standard contractual clauses", "binding corporate rules"},
		.rights_list = {"access your data and get a copy", "have wrong data corrected", "have your data erased",
		                "restrict the processing", "get your data in a machine-readable form",
		                "object to the processing", "withdraw consent at any time"},
		.unit1 = {"day", "week", "month", "year"}, .unit2 = {"days", "weeks", "months", "years"},
		.unit5 = {"days", "weeks", "months", "years"},
		.after = "%s after %s",
		.events = {{"created", "creation"}, {"fulfilled", "fulfilment"}, {"resolved", "resolution"},
		           {"closed", "closure"}, {"answered", "the answer"}},
		.while_active = "while the account is active",
		.while_active_grace = "while the account is active, and %s after it is closed",
	},
	{
		.lang = "fi",
		.email = "Sähköposti",
		.title = "Tietosuojaseloste",
		.intro = "%s on henkilötietojesi rekisterinpitäjä. Tämä seloste kertoo, mitä tietoja säilytämme, miksi, "
		         "kuinka kauan ja kenelle luovutamme niitä.",
		.controller = "Rekisterinpitäjä", .code = "Y-tunnus", .dpo = "Tietosuojavastaava",
		.categories = "Tiedot, käyttötarkoitukset ja säilytys", .col_data = "Tiedot", .col_fields = "Kentät",
		.col_purposes = "Käyttötarkoitukset", .col_basis = "Oikeusperuste", .col_keep = "Säilytämme",
		.then_delete = "sitten poistamme", .then_anon = "sitten anonymisoimme",
		.kept_by_law = "laki velvoittaa säilyttämään myös poistopyynnön jälkeen",
		.recipients = "Vastaanottajat", .col_recipient = "Vastaanottaja", .col_country = "Maa",
		.col_transfer = "Siirron peruste", .eea = "ETA", .no_recipients = "Emme luovuta tietoja kenellekään.",
		.rights = "Oikeutesi", .how = "Kirjoita osoitteeseen %s. Vastaamme %s kuluessa.",
		.extend = "Monimutkaisen pyynnön kohdalla voimme jatkaa määräaikaa enintään %s, perustellen.",
		.authority = "Voit tehdä valituksen valvontaviranomaiselle", .cookies = "Evästeet",
		.needs_consent = "suostumuksellasi", .no_consent = "välttämättömät, suostumusta ei kysytä",
		.version = "Selosteen versio", .min_age = "Palvelu on %s vuotta täyttäneille.",
		.backups = "Säilytämme tietokannan varmuuskopioita %s; sen jälkeen poistettuja tietoja ei voi enää lukea niistä.",
		.basis = {"suostumus", "sopimus", "lakisääteinen velvoite", "oikeutettu etu", "elintärkeä etu",
		          "yleisen edun mukainen tehtävä"},
		.role = {"henkilötietojen käsittelijä", "rekisterinpitäjä", "viranomainen"},
		.transfer = {"", "tietosuojan riittävyyttä koskeva päätös", "vakiosopimuslausekkeet",
		             "yritystä koskevat sitovat säännöt"},
		.rights_list = {"tarkastaa tietosi ja saada niistä kopio", "oikaista virheelliset tiedot",
		                "poistaa tietosi", "rajoittaa käsittelyä", "saada tietosi koneluettavassa muodossa",
		                "vastustaa käsittelyä", "peruuttaa suostumuksesi milloin tahansa"},
		.unit1 = {"päivä", "viikko", "kuukausi", "vuosi"}, .unit2 = {"päivää", "viikkoa", "kuukautta", "vuotta"},
		.unit5 = {"päivää", "viikkoa", "kuukautta", "vuotta"},
		.after = "%s %s",
		.events = {{"created", "luomisesta"}, {"fulfilled", "täyttämisestä"}, {"resolved", "ratkaisusta"},
		           {"closed", "sulkemisesta"}, {"answered", "vastaamisesta"}},
		.while_active = "niin kauan kuin tili on voimassa",
		.while_active_grace = "niin kauan kuin tili on voimassa ja %s sen sulkemisesta",
	},
	{
		.lang = "ru",
		.email = "Эл. почта",
		.title = "Уведомление о конфиденциальности",
		.intro = "%s является контролёром ваших персональных данных. Это уведомление говорит, какие данные мы "
		         "храним, зачем, как долго и кому их передаём.",
		.controller = "Контролёр", .code = "Регистрационный код", .dpo = "Специалист по защите данных",
		.categories = "Данные, цели и сроки хранения", .col_data = "Данные", .col_fields = "Поля",
		.col_purposes = "Цели", .col_basis = "Правовое основание", .col_keep = "Храним",
		.then_delete = "затем удаляем", .then_anon = "затем анонимизируем",
		.kept_by_law = "закон требует хранить и после запроса на удаление",
		.recipients = "Получатели", .col_recipient = "Получатель", .col_country = "Страна",
		.col_transfer = "Основание передачи", .eea = "ЕЭЗ", .no_recipients = "Мы никому не передаём данные.",
		.rights = "Ваши права", .how = "Напишите на %s. Мы отвечаем в течение %s.",
		.extend = "Для сложного запроса срок может быть продлён до %s, с объяснением причины.",
		.authority = "Вы можете подать жалобу в надзорный орган", .cookies = "Файлы cookie",
		.needs_consent = "с вашего согласия", .no_consent = "строго необходимые, согласие не запрашивается",
		.version = "Версия политики", .min_age = "Сервис предназначен для лиц с %s лет.",
		.backups = "Резервные копии базы данных мы храним %s; после этого удалённые данные в них прочитать невозможно.",
		.basis = {"согласие", "договор", "юридическая обязанность", "законный интерес", "жизненные интересы",
		          "задача в общественных интересах"},
		.role = {"обработчик", "контролёр", "государственный орган"},
		.transfer = {"", "решение об адекватности", "стандартные договорные положения",
		             "обязательные корпоративные правила"},
		.rights_list = {"получить доступ к своим данным и их копию", "исправить неточные данные",
		                "удалить свои данные", "ограничить обработку", "получить данные в машиночитаемом виде",
		                "возразить против обработки", "отозвать согласие в любое время"},
		.unit1 = {"день", "неделя", "месяц", "год"}, .unit2 = {"дня", "недели", "месяца", "года"},
		.unit5 = {"дней", "недель", "месяцев", "лет"},
		.after = "%s после %s",
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

static void duration_words(const struct texts *t, struct duration d, char *out, size_t size)
{
	int n = d.n, u = (int)d.unit;
	const char *w;
	if (!strcmp(t->lang, "ru"))
		w = n % 10 == 1 && n % 100 != 11                                      ? t->unit1[u]
		    : n % 10 >= 2 && n % 10 <= 4 && (n % 100 < 12 || n % 100 > 14) ? t->unit2[u]
		                                                                      : t->unit5[u];
	else if (!strcmp(t->lang, "lv"))
		w = n % 10 == 1 && n % 100 != 11 ? t->unit1[u] : t->unit2[u];
	else
		w = n == 1 ? t->unit1[u] : t->unit2[u];
	snprintf(out, size, "%d %s", n, w);
}

/* The keep rule of kind r in words; its event by the title the policy
 * gives it, else by the word these texts have for it, else by its name. */
static void keep_words(const struct texts *t, const struct policy_record *r, char *out, size_t size)
{
	const struct policy_keep *k = &r->keep;
	char d[64];
	duration_words(t, k->period, d, sizeof d);
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
	const struct policy_event *declared = policy_record_event(r, k->event);
	if (declared)
		ev = policy_title_in(&declared->title, t->lang, ev);
	fill(out, size, t->after, d, ev);
}

void notice_keep_words(const struct policy_record *r, const char *lang, char *out, size_t size)
{
	keep_words(texts_for(lang), r, out, size);
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

static enum rc row_start(struct out *o)
{
	return raw(o, "<tr>", "|");
}

static enum rc cell(struct out *o, const char *text, bool head)
{
	enum rc rc = raw(o, head ? "<th>" : "<td>", " ");
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
	struct out o = {b, f}, *op = &o;
	const struct policy_controller *c = &p->controller;
	char line[2048], words[256], words2[256];
	enum rc rc = RC_OK;
#define DO(x) do { if (!rc) rc = (x); } while (0)
	if (f == NOTICE_HTML) {
		DO(buf_printf(b, "<!doctype html>\n<html lang=\"%s\">\n<head><meta charset=\"utf-8\"><title>", t->lang));
		DO(esc(op, t->title));
		DO(buf_puts(b, "</title></head>\n<body>\n<h1>"));
		DO(esc(op, t->title));
		DO(buf_puts(b, "</h1>\n"));
	} else {
		DO(buf_puts(b, "# "));
		DO(esc(op, t->title));
		DO(buf_puts(b, "\n\n"));
	}
	fill(line, sizeof line, t->intro, c->name, NULL);
	DO(para(op, line));

	DO(heading(op, t->controller));
	snprintf(line, sizeof line, "%s%s%s%s%s, %s", c->name, c->code ? ", " : "", c->code ? t->code : "",
	         c->code ? " " : "", c->code ? c->code : "", c->address ? c->address : "");
	DO(para(op, line));
	snprintf(line, sizeof line, "%s: %s", t->email, c->email);
	DO(para(op, line));
	if (c->dpo) {
		snprintf(line, sizeof line, "%s: %s", t->dpo, c->dpo);
		DO(para(op, line));
	}

	/* Every purpose, also those that use data of other kinds (marketing by
	 * the account's e-mail, with consent). */
	DO(heading(op, t->col_purposes));
	const char *const pcols[] = {t->col_purposes, t->col_basis};
	DO(header_row(op, pcols, 2));
	for (size_t i = 0; !rc && i < p->npurposes; i++) {
		DO(row_start(op));
		DO(cell(op, policy_title_in(&p->purposes[i].title, lang, p->purposes[i].name), false));
		DO(cell(op, t->basis[p->purposes[i].basis], false));
		DO(row_end(op, 2, false));
	}
	DO(raw(op, "</table>\n", "\n"));

	DO(heading(op, t->categories));
	const char *const cols[] = {t->col_data, t->col_fields, t->col_purposes, t->col_basis, t->col_keep};
	DO(header_row(op, cols, 5));
	for (size_t i = 0; !rc && i < p->nrecords; i++) {
		const struct policy_record *r = &p->records[i];
		keep_words(t, r, words, sizeof words);
		snprintf(line, sizeof line, "%s, %s%s%s", words, r->then == THEN_ANONYMIZE ? t->then_anon : t->then_delete,
		         r->erasable ? "" : "; ", r->erasable ? "" : t->kept_by_law);
		DO(row_start(op));
		DO(cell(op, policy_title_in(&r->title, lang, r->name), false));
		DO(cell_fields(op, r->fields, r->nfields, lang));
		DO(cell_purposes(op, r->purposes, r->npurposes, lang));
		DO(cell_bases(op, t, r->purposes, r->npurposes));
		DO(cell(op, line, false));
		DO(row_end(op, 5, false));
	}
	DO(raw(op, "</table>\n", "\n"));

	DO(heading(op, t->recipients));
	if (!p->nrecipients) {
		DO(para(op, t->no_recipients));
	} else {
		const char *const rcols[] = {t->col_recipient, t->col_purposes, t->col_fields, t->col_country,
		                             t->col_transfer};
		DO(header_row(op, rcols, 5));
		for (size_t i = 0; !rc && i < p->nrecipients; i++) {
			const struct policy_recipient *r = &p->recipients[i];
			char who[256];
			snprintf(who, sizeof who, "%s (%s)", r->name, t->role[r->role]);
			DO(row_start(op));
			DO(cell(op, who, false));
			DO(cell_purposes(op, r->purposes, r->npurposes, lang));
			DO(cell_fields(op, r->fields, r->nfields, lang));
			DO(cell(op, r->country, false));
			DO(cell(op, r->transfer == TRANSFER_NONE ? t->eea : t->transfer[r->transfer], false));
			DO(row_end(op, 5, false));
		}
		DO(raw(op, "</table>\n", "\n"));
	}

	DO(heading(op, t->rights));
	DO(raw(op, "<ul>\n", ""));
	for (size_t i = 0; !rc && i < 7; i++) {
		DO(raw(op, "<li>", "- "));
		DO(esc(op, t->rights_list[i]));
		DO(raw(op, "</li>\n", "\n"));
	}
	DO(raw(op, "</ul>\n", "\n"));
	duration_words(t, p->requests.answer_within, words, sizeof words);
	fill(line, sizeof line, t->how, c->dpo ? c->dpo : c->email, words);
	DO(para(op, line));
	duration_words(t, p->requests.extend_up_to, words2, sizeof words2);
	fill(line, sizeof line, t->extend, words2, NULL);
	DO(para(op, line));
	snprintf(line, sizeof line, "%s: %s, %s, %s", t->authority, c->authority_name ? c->authority_name : "",
	         c->authority_email ? c->authority_email : "", c->authority_url ? c->authority_url : "");
	DO(para(op, line));
	if (p->min_age) {
		char age[16];
		snprintf(age, sizeof age, "%d", p->min_age);
		fill(line, sizeof line, t->min_age, age, NULL);
		DO(para(op, line));
	}

	if (p->backups.has_keep) {
		duration_words(t, p->backups.keep, words, sizeof words);
		fill(line, sizeof line, t->backups, words, NULL);
		DO(para(op, line));
	}

	if (p->ncookies) {
		DO(heading(op, t->cookies));
		DO(raw(op, "<ul>\n", ""));
		for (size_t i = 0; !rc && i < p->ncookies; i++) {
			const struct policy_cookie *k = &p->cookies[i];
			snprintf(line, sizeof line, "%s: %s", policy_title_in(&k->title, lang, k->name),
			         k->consent ? t->needs_consent : t->no_consent);
			DO(raw(op, "<li>", "- "));
			DO(esc(op, line));
			DO(raw(op, "</li>\n", "\n"));
		}
		DO(raw(op, "</ul>\n", "\n"));
	}
	snprintf(line, sizeof line, "%s: %s", t->version, p->version);
	DO(para(op, line));
	if (f == NOTICE_HTML)
		DO(buf_puts(b, "</body>\n</html>\n"));
#undef DO
	return rc;
}
