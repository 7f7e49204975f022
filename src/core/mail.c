/* mail: templates, rendering and the outbox (see mail.h). */
#include "core/mail.h"

#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/datakey.h"
#include "store/store.h"

/* Placeholders, filled by render(): confirm_subject {first} = the purpose's
 * title; confirm_body {controller}, {second} = title, {third} = link;
 * notice_subject {first} = controller; notice_body {controller},
 * {second} = policy version, {third} = the controller's e-mail. */
struct template {
	const char *lang;
	const char *confirm_subject;
	const char *confirm_body;
	const char *notice_subject;
	const char *notice_body;
	const char *extended_subject;  /* {first} = request type */
	const char *extended_body;     /* {controller}, {second} = new due date, {third} = reason */
	const char *answered_subject;  /* {first} = request type */
	const char *answered_body;     /* {controller}, {second} = what was done, {third} = export link or "" */
	const char *verify_subject;    /* {first} = request type */
	const char *verify_body;       /* {controller}, {second} = request type, {third} = link */
	/* To a recipient told of a change (Art. 19; notify.h), in English for
	 * every subject's language: a company, not the subject, reads it. */
	const char *recipient_subject; /* {first} = event type */
	const char *recipient_body;    /* {controller}, {first} = event type, {second} = subject id, {third} = what changed */
};

static const struct template templates[] = {
	{"en", "Please confirm: {first}",
	 "Hello,\n\nyou asked {controller} for \"{second}\". Please confirm it by opening this link and\n"
	 "pressing the button there:\n\n  {third}\n\nThe link works for 7 days. If you did not ask for this, ignore this\n"
	 "e-mail: nothing will be sent to you.\n\n{controller}\n",
	 "{first} has changed its privacy terms",
	 "Hello,\n\n{controller} has a new version of its privacy terms: {second}.\n"
	 "You can read them, and ask what we hold about you, by writing to {third}.\n\n{controller}\n",
	 "Your request ({first}): more time needed",
	 "Hello,\n\nwe need more time to answer your request. The new date is {second}.\nThe reason: {third}\n\n{controller}\n",
	 "Your request ({first}) is answered",
	 "Hello,\n\nyour request is answered: {second}\n{third}\n\n{controller}\n",
	 "Is this request yours? ({first})",
	 "Hello,\n\n{controller} has received a request ({second}) about your data. To make sure it\ncomes from you, open this link and press the button there:\n\n  {third}\n\nIf you did not ask, ignore this e-mail: nothing will be done.\n\n{controller}\n",
	 "{controller}: personal data you received has changed ({first})",
	 "Hello,\n\n{controller} disclosed to you personal data of the person it knows as {second}.\n"
	 "That data has changed ({first}): {third}\n\nUnder Art. 19 GDPR we tell every recipient of the data of each erasure,\n"
	 "rectification and restriction. Please do the same in your records. This\ne-mail carries no personal data beyond the id.\n\n{controller}\n"},
	{"et", "Palun kinnitage: {first}",
	 "Tere!\n\nTe soovisite {controller} käest: \"{second}\". Palun kinnitage see, avades lingi ja\n"
	 "vajutades seal nuppu:\n\n  {third}\n\nLink kehtib 7 päeva. Kui Te seda ei soovinud, jätke see kiri tähelepanuta:\n"
	 "Teile ei saadeta midagi.\n\n{controller}\n",
	 "{first} muutis oma privaatsustingimusi",
	 "Tere!\n\n{controller} privaatsustingimustel on uus versioon: {second}.\n"
	 "Nendega tutvumiseks ja oma andmete kohta küsimiseks kirjutage aadressil {third}.\n\n{controller}\n",
	 "Teie taotlus ({first}): vajame rohkem aega",
	 "Tere!\n\nVajame Teie taotlusele vastamiseks rohkem aega. Uus tähtaeg on {second}.\nPõhjus: {third}\n\n{controller}\n",
	 "Teie taotlusele ({first}) on vastatud",
	 "Tere!\n\nTeie taotlusele on vastatud: {second}\n{third}\n\n{controller}\n",
	 "Kas see taotlus on Teie oma? ({first})",
	 "Tere!\n\n{controller} sai Teie andmeid puudutava taotluse ({second}). Veendumaks, et see\non Teilt, avage link ja vajutage seal nuppu:\n\n  {third}\n\nKui Te seda ei esitanud, jätke kiri tähelepanuta: midagi ei tehta.\n\n{controller}\n",
	 NULL, NULL},
	{"lv", "Lūdzu, apstipriniet: {first}",
	 "Labdien!\n\nJūs lūdzāt {controller}: \"{second}\". Lūdzu, apstipriniet to, atverot saiti un\n"
	 "nospiežot pogu:\n\n  {third}\n\nSaite ir derīga 7 dienas. Ja jūs to nelūdzāt, neņemiet vērā šo vēstuli:\n"
	 "jums nekas netiks sūtīts.\n\n{controller}\n",
	 "{first} ir mainījis privātuma noteikumus",
	 "Labdien!\n\n{controller} privātuma noteikumiem ir jauna versija: {second}.\n"
	 "Lai tos izlasītu vai jautātu par saviem datiem, rakstiet uz {third}.\n\n{controller}\n",
	 "Jūsu pieprasījums ({first}): vajadzīgs vairāk laika",
	 "Labdien!\n\nMums vajag vairāk laika, lai atbildētu uz jūsu pieprasījumu. Jaunais termiņš ir {second}.\nIemesls: {third}\n\n{controller}\n",
	 "Uz jūsu pieprasījumu ({first}) ir atbildēts",
	 "Labdien!\n\nUz jūsu pieprasījumu ir atbildēts: {second}\n{third}\n\n{controller}\n",
	 "Vai šis pieprasījums ir jūsu? ({first})",
	 "Labdien!\n\n{controller} saņēma pieprasījumu ({second}) par jūsu datiem. Lai pārliecinātos, ka tas\nir no jums, atveriet saiti un nospiediet pogu:\n\n  {third}\n\nJa jūs to neiesniedzāt, neņemiet vērā šo vēstuli: nekas netiks darīts.\n\n{controller}\n",
	 NULL, NULL},
	{"fi", "Vahvista: {first}",
	 "Hei,\n\npyysit yritykseltä {controller}: \"{second}\". Vahvista pyyntö avaamalla linkki ja\n"
	 "painamalla siellä olevaa painiketta:\n\n  {third}\n\nLinkki on voimassa 7 päivää. Jos et pyytänyt tätä, voit jättää\n"
	 "viestin huomiotta: sinulle ei lähetetä mitään.\n\n{controller}\n",
	 "{first} on muuttanut tietosuojaehtojaan",
	 "Hei,\n\n{controller} on julkaissut tietosuojaehdoistaan uuden version: {second}.\n"
	 "Voit lukea ne ja kysyä tiedoistasi kirjoittamalla osoitteeseen {third}.\n\n{controller}\n",
	 "Pyyntösi ({first}): tarvitsemme lisäaikaa",
	 "Hei,\n\ntarvitsemme lisäaikaa pyyntöösi vastaamiseen. Uusi määräpäivä on {second}.\nSyy: {third}\n\n{controller}\n",
	 "Pyyntöösi ({first}) on vastattu",
	 "Hei,\n\npyyntöösi on vastattu: {second}\n{third}\n\n{controller}\n",
	 "Onko tämä pyyntö sinun? ({first})",
	 "Hei,\n\n{controller} on vastaanottanut tietojasi koskevan pyynnön ({second}). Varmistaaksemme,\nettä se on sinulta, avaa linkki ja paina siellä olevaa painiketta:\n\n  {third}\n\nJos et tehnyt pyyntöä, voit jättää viestin huomiotta: mitään ei tehdä.\n\n{controller}\n",
	 NULL, NULL},
	{"ru", "Пожалуйста, подтвердите: {first}",
	 "Здравствуйте!\n\nВы попросили {controller}: «{second}». Пожалуйста, подтвердите это, открыв ссылку\n"
	 "и нажав на кнопку:\n\n  {third}\n\nСсылка действует 7 дней. Если вы этого не просили, просто проигнорируйте\n"
	 "это письмо: вам ничего не будет отправлено.\n\n{controller}\n",
	 "{first} изменил условия конфиденциальности",
	 "Здравствуйте!\n\nУ условий конфиденциальности {controller} новая версия: {second}.\n"
	 "Прочитать их и узнать, какие ваши данные у нас хранятся, можно, написав на {third}.\n\n{controller}\n",
	 "Ваш запрос ({first}): нужно больше времени",
	 "Здравствуйте!\n\nНам нужно больше времени, чтобы ответить на ваш запрос. Новый срок: {second}.\nПричина: {third}\n\n{controller}\n",
	 "На ваш запрос ({first}) дан ответ",
	 "Здравствуйте!\n\nНа ваш запрос дан ответ: {second}\n{third}\n\n{controller}\n",
	 "Это ваш запрос? ({first})",
	 "Здравствуйте!\n\n{controller} получил запрос ({second}) о ваших данных. Чтобы убедиться, что он\nот вас, откройте ссылку и нажмите на кнопку:\n\n  {third}\n\nЕсли вы его не отправляли, проигнорируйте это письмо: ничего сделано не будет.\n\n{controller}\n",
	 NULL, NULL},
};

static const struct template *template_for(const char *lang)
{
	for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
		if (!strcmp(templates[i].lang, lang))
			return &templates[i];
	return &templates[0];
}

/* The words that answers to requests are made of, per language: the request
 * types (keys in type_keys' order), the outcomes, and the Art. 12(4) texts
 * of refusals and partial answers. Placeholders: {type}, {reason}, {n},
 * {kept}, {remedy}, {controller}; remedy {authority}, {contact}; kept_law
 * {kind}, {until}, {reference}; until_date {date}; kept_hold {kind}. */
static const char *const type_keys[] = {"access", "portability", "rectification", "erasure", "restriction",
                                        "objection", "withdraw_consent", "marketing_optout", "anonymization"};
#define MAIL_TYPES (sizeof type_keys / sizeof type_keys[0])
#define MAIL_OUTCOMES (MAIL_OUTCOME_NOTHING_HELD + 1)

struct words {
	const char *lang;
	const char *types[MAIL_TYPES];
	const char *unknown_type;
	const char *outcomes[MAIL_OUTCOMES];
	const char *refused_subject, *refused_body;  /* subject {first} = type */
	const char *partial_subject, *partial_body;
	const char *remedy;
	const char *kept_law, *until_date, *until_end, *law_default, *kept_hold;
};

static const struct words words[] = {
	{"en",
	 {"access to your data", "data portability", "rectification", "erasure", "restriction of processing",
	  "objection", "withdrawal of consent", "no direct marketing", "anonymisation"},
	 "data protection request",
	 {"your request has been carried out", "your data is ready to download:", "fields corrected: {n}",
	  "your data has been erased (records erased: {n})", "processing of your data is restricted: it is only stored",
	  "you will receive no more direct marketing", "your objection is recorded (purposes: {n})",
	  "your consent is withdrawn (purposes: {n})",
	  "your data has been anonymised (other records erased: {n})", "we hold no personal data about you"},
	 "Your request ({first}) has been refused",
	 "Hello,\n\nwe have refused your request ({type}).\nThe reason: {reason}\n\n{remedy}\n\n{controller}\n",
	 "Your request ({first}) has been carried out in part",
	 "Hello,\n\nyour request ({type}) has been carried out only in part. Records erased: {n}.\n\n"
	 "We have kept the following, for these reasons:\n{kept}\n{remedy}\n\n{controller}\n",
	 "If you disagree, you have the right to lodge a complaint with the supervisory authority, {authority}\n"
	 "({contact}), and to seek a judicial remedy in court.",
	 "- {kind}: kept {until}, because the law requires it: {reference}\n", "until {date}",
	 "until its retention period ends", "a legal obligation (GDPR Art. 17(3)(b))",
	 "- {kind}: kept while it is needed for the establishment, exercise or defence of legal claims\n"
	 "  (GDPR Art. 17(3)(e))\n"},
	{"et",
	 {"juurdepääs andmetele", "andmete ülekandmine", "andmete parandamine", "andmete kustutamine",
	  "töötlemise piiramine", "vastuväide töötlemisele", "nõusoleku tagasivõtmine", "otseturustusest loobumine",
	  "andmete anonüümseks muutmine"},
	 "andmekaitsetaotlus",
	 {"Teie taotlus on täidetud", "Teie andmed on allalaadimiseks valmis:", "parandatud välju: {n}",
	  "Teie andmed on kustutatud (kustutatud kirjeid: {n})",
	  "Teie andmete töötlemine on piiratud: neid ainult säilitatakse",
	  "Teile ei saadeta enam otseturunduse pakkumisi", "Teie vastuväide on registreeritud (eesmärke: {n})",
	  "Teie nõusolek on tagasi võetud (eesmärke: {n})",
	  "Teie andmed on anonüümitud (muid kirjeid kustutatud: {n})", "meil ei ole Teie kohta isikuandmeid"},
	 "Teie taotlust ({first}) ei rahuldatud",
	 "Tere!\n\nTeie taotlust ({type}) ei rahuldatud.\nPõhjus: {reason}\n\n{remedy}\n\n{controller}\n",
	 "Teie taotlus ({first}) on täidetud osaliselt",
	 "Tere!\n\nTeie taotlus ({type}) on täidetud ainult osaliselt. Kustutatud kirjeid: {n}.\n\n"
	 "Järgmised andmed jätsime alles neil põhjustel:\n{kept}\n{remedy}\n\n{controller}\n",
	 "Kui Te ei ole otsusega nõus, on Teil õigus esitada kaebus järelevalveasutusele {authority}\n"
	 "({contact}) ning pöörduda oma õiguste kaitseks kohtusse.",
	 "- {kind}: säilitame {until}, sest seda nõuab seadus: {reference}\n", "kuni {date}",
	 "säilitustähtaja lõpuni", "juriidiline kohustus (isikuandmete kaitse üldmääruse artikli 17 lõike 3 punkt b)",
	 "- {kind}: säilitame seni, kuni see on vajalik õigusnõude koostamiseks, esitamiseks või kaitsmiseks\n"
	 "  (isikuandmete kaitse üldmääruse artikli 17 lõike 3 punkt e)\n"},
	{"lv",
	 {"piekļuve datiem", "datu pārnesamība", "datu labošana", "datu dzēšana", "apstrādes ierobežošana",
	  "iebildums pret apstrādi", "piekrišanas atsaukšana", "atteikšanās no tiešā mārketinga", "datu anonimizēšana"},
	 "datu aizsardzības pieprasījums",
	 {"jūsu pieprasījums ir izpildīts", "jūsu dati ir gatavi lejupielādei:", "laboto lauku skaits: {n}",
	  "jūsu dati ir dzēsti (dzēsto ierakstu skaits: {n})", "jūsu datu apstrāde ir ierobežota: tie tiek tikai glabāti",
	  "jums vairs netiks sūtīts tiešais mārketings", "jūsu iebildums ir reģistrēts (mērķu skaits: {n})",
	  "jūsu piekrišana ir atsaukta (mērķu skaits: {n})",
	  "jūsu dati ir anonimizēti (citu dzēsto ierakstu skaits: {n})", "mums nav jūsu personas datu"},
	 "Jūsu pieprasījums ({first}) ir noraidīts",
	 "Labdien!\n\nMēs esam noraidījuši jūsu pieprasījumu ({type}).\nIemesls: {reason}\n\n{remedy}\n\n{controller}\n",
	 "Jūsu pieprasījums ({first}) ir izpildīts daļēji",
	 "Labdien!\n\nJūsu pieprasījums ({type}) ir izpildīts tikai daļēji. Dzēsto ierakstu skaits: {n}.\n\n"
	 "Šos datus mēs saglabājām šādu iemeslu dēļ:\n{kept}\n{remedy}\n\n{controller}\n",
	 "Ja jūs nepiekrītat, jums ir tiesības iesniegt sūdzību uzraudzības iestādē {authority}\n"
	 "({contact}) un vērsties tiesā, lai aizstāvētu savas tiesības.",
	 "- {kind}: glabājam {until}, jo to prasa likums: {reference}\n", "līdz {date}",
	 "līdz glabāšanas termiņa beigām", "juridisks pienākums (VDAR 17. panta 3. punkta b) apakšpunkts)",
	 "- {kind}: glabājam, kamēr tas vajadzīgs likumīgu prasību celšanai, īstenošanai vai aizstāvēšanai\n"
	 "  (VDAR 17. panta 3. punkta e) apakšpunkts)\n"},
	{"fi",
	 {"pääsy tietoihin", "tietojen siirtäminen", "tietojen oikaiseminen", "tietojen poistaminen",
	  "käsittelyn rajoittaminen", "käsittelyn vastustaminen", "suostumuksen peruuttaminen",
	  "suoramarkkinoinnin kieltäminen", "tietojen anonymisointi"},
	 "tietosuojapyyntö",
	 {"pyyntösi on toteutettu", "tietosi ovat ladattavissa:", "korjattuja kenttiä: {n}",
	  "tietosi on poistettu (poistettuja tietueita: {n})", "tietojesi käsittelyä on rajoitettu: niitä vain säilytetään",
	  "sinulle ei enää lähetetä suoramarkkinointia", "vastustuksesi on kirjattu (käyttötarkoituksia: {n})",
	  "suostumuksesi on peruttu (käyttötarkoituksia: {n})",
	  "tietosi on anonymisoitu (muita poistettuja tietueita: {n})", "meillä ei ole sinusta henkilötietoja"},
	 "Pyyntöäsi ({first}) ei ole hyväksytty",
	 "Hei,\n\nemme toteuta pyyntöäsi ({type}).\nSyy: {reason}\n\n{remedy}\n\n{controller}\n",
	 "Pyyntösi ({first}) on toteutettu osittain",
	 "Hei,\n\npyyntösi ({type}) on toteutettu vain osittain. Poistettuja tietueita: {n}.\n\n"
	 "Säilytimme seuraavat tiedot näistä syistä:\n{kept}\n{remedy}\n\n{controller}\n",
	 "Jos olet eri mieltä, sinulla on oikeus tehdä valitus valvontaviranomaiselle, {authority}\n"
	 "({contact}), ja hakea muutosta tuomioistuimessa.",
	 "- {kind}: säilytetään {until}, koska laki sitä edellyttää: {reference}\n", "{date} asti",
	 "säilytysajan loppuun asti", "lakisääteinen velvoite (tietosuoja-asetuksen 17 artiklan 3 kohdan b alakohta)",
	 "- {kind}: säilytetään niin kauan kuin sitä tarvitaan oikeudellisen vaateen laatimiseen, esittämiseen\n"
	 "  tai puolustamiseen (tietosuoja-asetuksen 17 artiklan 3 kohdan e alakohta)\n"},
	{"ru",
	 {"доступ к данным", "переносимость данных", "исправление данных", "удаление данных", "ограничение обработки",
	  "возражение против обработки", "отзыв согласия", "отказ от прямого маркетинга", "обезличивание данных"},
	 "запрос о защите данных",
	 {"ваш запрос выполнен", "ваши данные готовы к загрузке:", "исправлено полей: {n}",
	  "ваши данные удалены (удалено записей: {n})", "обработка ваших данных ограничена: они только хранятся",
	  "вы больше не будете получать прямой маркетинг", "ваше возражение зарегистрировано (целей: {n})",
	  "ваше согласие отозвано (целей: {n})",
	  "ваши данные обезличены (удалено других записей: {n})", "у нас нет ваших персональных данных"},
	 "В вашем запросе ({first}) отказано",
	 "Здравствуйте!\n\nМы отказали в выполнении вашего запроса ({type}).\nПричина: {reason}\n\n{remedy}\n\n"
	 "{controller}\n",
	 "Ваш запрос ({first}) выполнен частично",
	 "Здравствуйте!\n\nВаш запрос ({type}) выполнен лишь частично. Удалено записей: {n}.\n\n"
	 "Следующие данные мы сохранили по этим причинам:\n{kept}\n{remedy}\n\n{controller}\n",
	 "Если вы не согласны, вы вправе подать жалобу в надзорный орган, {authority}\n"
	 "({contact}), и обратиться за защитой своих прав в суд.",
	 "- {kind}: хранятся {until}, поскольку этого требует закон: {reference}\n", "до {date}",
	 "до окончания срока хранения", "юридическая обязанность (ст. 17(3)(b) GDPR)",
	 "- {kind}: хранятся, пока они нужны для предъявления, исполнения или защиты правовых требований\n"
	 "  (ст. 17(3)(e) GDPR)\n"},
};

static const struct words *words_for(const char *lang)
{
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (!strcmp(words[i].lang, lang))
			return &words[i];
	return &words[0];
}

/* The request type in the subject's language; never the identifier. */
static const char *type_words(const struct words *w, const char *type)
{
	for (size_t i = 0; type && i < MAIL_TYPES; i++)
		if (!strcmp(type_keys[i], type))
			return w->types[i];
	return w->unknown_type;
}

struct slot {
	const char *name;          /* "{name}" */
	const char *value;
};

/* Appends tmpl with its {name} placeholders replaced (no format strings:
 * nothing in a value can act as a directive). */
static enum rc render_slots(struct buf *b, const char *tmpl, const struct slot *slots, size_t n)
{
	enum rc rc = RC_OK;
	for (const char *p = tmpl; *p && !rc;) {
		bool done = false;
		for (size_t i = 0; i < n && !done; i++) {
			size_t len = strlen(slots[i].name);
			if (!strncmp(p, slots[i].name, len)) {
				rc = buf_puts(b, slots[i].value ? slots[i].value : "");
				p += len;
				done = true;
			}
		}
		if (!done)
			rc = buf_append(b, p++, 1);
	}
	return rc;
}

/* What a kept kind is called in the mail: its title, else the title of its
 * first purpose (every purpose has one in every language), else its name. */
static const char *kind_words(const struct policy *p, const char *kind, const char *lang)
{
	const struct policy_record *r = policy_record(p, kind);
	if (!r)
		return kind;
	if (r->title.n)
		return policy_title_in(&r->title, lang, kind);
	return r->npurposes ? policy_title_in(&r->purposes[0]->title, lang, kind) : kind;
}

/* The complaint and the court (Art. 12(4)), with the policy's authority. */
static enum rc remedy(struct buf *b, const struct words *w, const struct policy *p)
{
	const struct policy_controller *ct = &p->controller;
	const char *contact = ct->authority_url ? ct->authority_url : ct->authority_email;
	const struct slot s[] = {{"{authority}", ct->authority_name}, {"{contact}", contact}};
	return render_slots(b, w->remedy, s, 2);
}

/* One line per kept kind: until when, and the law (or the hold). */
static enum rc kept_lines(struct buf *b, const struct words *w, const struct policy *p, const struct mail_args *a)
{
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < a->nkept; i++) {
		const struct mail_kept *k = &a->kept[i];
		bool said = false; /* several records of a kind kept alike: one line */
		for (size_t j = 0; j < i && !said; j++)
			said = !strcmp(a->kept[j].kind, k->kind) && a->kept[j].held == k->held &&
			       (k->held || a->kept[j].until == k->until);
		if (said)
			continue;
		const char *kind = kind_words(p, k->kind, a->lang);
		if (k->held) {
			const struct slot s[] = {{"{kind}", kind}};
			rc = render_slots(b, w->kept_hold, s, 1);
			continue;
		}
		const struct policy_record *r = policy_record(p, k->kind);
		const char *reference = r && r->legal_reference.n ? policy_title_in(&r->legal_reference, a->lang, "")
		                                                  : w->law_default;
		char date[TIMEUTIL_DATE_LEN];
		struct buf until;
		buf_init(&until, 256);
		if (k->until) {
			timeutil_format_date(k->until, date);
			const struct slot d[] = {{"{date}", date}};
			rc = render_slots(&until, w->until_date, d, 1);
		} else {
			rc = buf_puts(&until, w->until_end);
		}
		const struct slot s[] = {{"{kind}", kind}, {"{until}", until.data}, {"{reference}", reference}};
		if (!rc)
			rc = render_slots(b, w->kept_law, s, 3);
		buf_fini(&until);
	}
	return rc;
}

/* The three answers to a request that speak of what was done. */
static enum rc render_answer(struct buf *subject, struct buf *body, const struct policy *p, const struct mail_args *a)
{
	const struct words *w = words_for(a->lang);
	const char *type = type_words(w, a->text);
	char n[24];
	snprintf(n, sizeof n, "%zu", a->count);
	struct buf rem, kept, outcome;
	buf_init(&rem, 4096);
	buf_init(&kept, 64 * 1024);
	buf_init(&outcome, 1024);
	enum rc rc = remedy(&rem, w, p);
	if (!rc && a->kind == MAIL_REQUEST_PARTIAL)
		rc = kept_lines(&kept, w, p, a);
	if (!rc && a->kind == MAIL_REQUEST_ANSWERED) {
		const struct slot s[] = {{"{n}", n}};
		rc = render_slots(&outcome, w->outcomes[a->outcome < MAIL_OUTCOMES ? a->outcome : 0], s, 1);
	}
	const struct slot s[] = {{"{controller}", p->controller.name}, {"{first}", type}, {"{type}", type},
	                         {"{reason}", a->reason}, {"{n}", n}, {"{kept}", kept.data}, {"{remedy}", rem.data},
	                         {"{second}", outcome.data}, {"{third}", a->link ? a->link : ""}};
	const size_t ns = sizeof s / sizeof s[0];
	const struct template *t = template_for(a->lang);
	const char *subj = a->kind == MAIL_REQUEST_REFUSED ? w->refused_subject
	                 : a->kind == MAIL_REQUEST_PARTIAL ? w->partial_subject : t->answered_subject;
	const char *text = a->kind == MAIL_REQUEST_REFUSED ? w->refused_body
	                 : a->kind == MAIL_REQUEST_PARTIAL ? w->partial_body : t->answered_body;
	if (!rc)
		rc = render_slots(subject, subj, s, ns);
	if (!rc)
		rc = render_slots(body, text, s, ns);
	buf_fini(&rem);
	buf_fini(&kept);
	buf_fini(&outcome);
	return rc;
}

/* render_slots with the four placeholders of the templates above. */
static enum rc render(struct buf *b, const char *tmpl, const char *controller, const char *first,
                      const char *second, const char *third)
{
	const struct slot s[] = {{"{controller}", controller}, {"{first}", first}, {"{second}", second},
	                         {"{third}", third}};
	return render_slots(b, tmpl, s, 4);
}

/* RFC 2047 encoded-word for a UTF-8 header value. */
static enum rc header_utf8(struct buf *b, const char *name, const char *value)
{
	char enc[1024];
	size_t n = strlen(value);
	if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) > sizeof enc)
		return RC_TOO_LARGE;
	sodium_bin2base64(enc, sizeof enc, (const unsigned char *)value, n, sodium_base64_VARIANT_ORIGINAL);
	return buf_printf(b, "%s: =?UTF-8?B?%s?=\r\n", name, enc);
}

/* The body with bare LF turned into CRLF, as SMTP wants. */
static enum rc body_crlf(struct buf *b, const char *text)
{
	enum rc rc = RC_OK;
	for (const char *p = text; *p && !rc; p++)
		rc = *p == '\n' ? buf_append(b, "\r\n", 2) : buf_append(b, p, 1);
	return rc;
}

enum rc mail_queue(const struct core_ctx *c, const char *subject_id, const struct subject_key *key,
                   const struct mail_args *a)
{
	const struct policy *p = c->tenant->policy;
	const struct template *t = template_for(a->lang);
	struct buf msg, subject, body;
	char date[64], mid[40];
	buf_init(&msg, 64 * 1024);
	buf_init(&subject, 1024);
	buf_init(&body, 16 * 1024);
	time_t now = (time_t)core_now(c);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	unsigned char rnd[12];
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(mid, sizeof mid, rnd, sizeof rnd);
	enum rc rc = RC_OK;
	if (a->kind == MAIL_CONFIRM) {
		const struct policy_purpose *u = policy_purpose(p, a->purpose);
		const char *title = u ? policy_title_in(&u->title, a->lang, a->purpose) : a->purpose;
		rc = render(&subject, t->confirm_subject, p->controller.name, title, NULL, NULL);
		if (!rc)
			rc = render(&body, t->confirm_body, p->controller.name, NULL, title, a->link);
	} else if (a->kind == MAIL_POLICY_NOTICE) {
		rc = render(&subject, t->notice_subject, p->controller.name, p->controller.name, NULL, NULL);
		if (!rc)
			rc = render(&body, t->notice_body, p->controller.name, NULL, p->version, p->controller.email);
	} else if (a->kind == MAIL_REQUEST_EXTENDED) {
		const char *type = type_words(words_for(a->lang), a->text);
		rc = render(&subject, t->extended_subject, p->controller.name, type, NULL, NULL);
		if (!rc)
			rc = render(&body, t->extended_body, p->controller.name, NULL, a->link, a->reason);
	} else if (a->kind == MAIL_REQUEST_VERIFY) {
		const char *type = type_words(words_for(a->lang), a->text);
		rc = render(&subject, t->verify_subject, p->controller.name, type, NULL, NULL);
		if (!rc)
			rc = render(&body, t->verify_body, p->controller.name, NULL, type, a->link);
	} else if (a->kind == MAIL_RECIPIENT_NOTICE) {
		t = &templates[0];
		rc = render_slots(&subject, t->recipient_subject,
		                  (const struct slot[]){{"{controller}", p->controller.name}, {"{first}", a->event}}, 2);
		if (!rc)
			rc = render_slots(&body, t->recipient_body,
			                  (const struct slot[]){{"{controller}", p->controller.name}, {"{first}", a->event},
			                                        {"{second}", subject_id}, {"{third}", a->text}}, 4);
	} else {
		rc = render_answer(&subject, &body, p, a);
	}
	/* Sealed form: the envelope recipient on the first line, then the message
	 * without From: and Reply-To: (the sender adds them: mail_sender). */
	if (!rc)
		rc = buf_printf(&msg, "%s\n", a->to);
	if (!rc)
		rc = buf_printf(&msg, "To: <%s>\r\n", a->to);
	if (!rc)
		rc = header_utf8(&msg, "Subject", subject.data);
	if (!rc)
		rc = buf_printf(&msg, "Date: %s\r\nMessage-ID: <%s@privreg>\r\nMIME-Version: 1.0\r\n"
		                      "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
		                      "Content-Language: %s\r\n\r\n", date, mid, a->lang);
	if (!rc)
		rc = body_crlf(&msg, body.data);
	if (!rc) {
		char ad[TOKEN_ID_MAX + 8];
		snprintf(ad, sizeof ad, "mail:%s", subject_id);
		static const char *const kinds[] = {"confirm", "policy_notice", "request_extended", "request_answered",
		                                    "request_verify", "request_refused", "request_partial",
		                                    "recipient_notice"};
		struct store_message m = {.kind = (char *)kinds[a->kind], .created_at = core_now(c), .next_at = core_now(c),
		                          .target = (char *)a->target, .event = (char *)a->event};
		if (a->request_id)
			snprintf(m.request_id, sizeof m.request_id, "%s", a->request_id);
		struct subject_key tenant_key;
		if (!key) { /* the tenant's own mail key (see mail.h) */
			memcpy(tenant_key.k, c->tenant->vault.token_key, sizeof tenant_key.k);
			key = &tenant_key;
			snprintf(ad, sizeof ad, "mail:tenant");
		}
		memcpy(m.subject_id, subject_id, strnlen(subject_id, TOKEN_ID_MAX - 1) + 1);
		m.sealed_len = msg.len + VAULT_SEAL_OVERHEAD;
		m.sealed = xmalloc(m.sealed_len);
		vault_seal(key, ad, msg.data, msg.len, m.sealed);
		if (key == &tenant_key)
			vault_subject_key_wipe(&tenant_key);
		rc = store_outbox_insert(c->store, c->tenant->id, &m);
		free(m.sealed);
	}
	buf_fini(&msg);
	buf_fini(&subject);
	buf_fini(&body);
	return rc;
}

static const char *domain_of(const char *addr)
{
	const char *at = strrchr(addr, '@');
	return at ? at + 1 : "";
}

/* A word that may stand as itself in a phrase (RFC 5322 atext only). */
static bool atom(const char *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)w[i];
		bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
		if (!alnum && !strchr("!#$%&'*+-/=?^_`{|}~", ch))
			return false;
	}
	return n > 0;
}

/* A display name as a phrase: plain words as atoms, each run of other words
 * (with the spaces inside it) as RFC 2047 encoded words of whole UTF-8
 * characters, 45 bytes of text at most (75 characters). Two encoded words
 * are adjacent only inside a run longer than that: decoders differ on the
 * space between them, and none differ on a space next to an atom. */
static enum rc display_name(struct buf *b, const char *name)
{
	enum rc rc = RC_OK;
	const char *p = name;
	while (!rc && *p) {
		while (*p == ' ')
			p++;
		size_t n = strcspn(p, " ");
		if (!n)
			break;
		if (atom(p, n)) {
			rc = buf_printf(b, " %.*s", (int)n, p);
			p += n;
			continue;
		}
		/* The run: this word and the next ones that are no atoms. */
		const char *end = p + n;
		while (*end == ' ') {
			const char *w = end;
			while (*w == ' ')
				w++;
			size_t k = strcspn(w, " ");
			if (!k || atom(w, k))
				break;
			end = w + k;
		}
		while (!rc && p < end) {
			size_t left = (size_t)(end - p), take = left < 45 ? left : 45;
			while (take < left && take && ((unsigned char)p[take] & 0xC0) == 0x80)
				take--;
			char enc[64];
			sodium_bin2base64(enc, sizeof enc, (const unsigned char *)p, take, sodium_base64_VARIANT_ORIGINAL);
			rc = buf_printf(b, " =?UTF-8?B?%s?=", enc);
			p += take;
		}
	}
	return rc;
}

enum rc mail_sender(const struct tenant *t, const char *server_from, struct buf *headers, char envelope[256])
{
	const struct policy_controller *ct = &t->policy->controller;
	const char *from = ct->mail_from ? ct->mail_from : server_from;
	const char *reply_to = ct->mail_reply_to ? ct->mail_reply_to : ct->email;
	bool own_domain = ct->mail_from && !strcasecmp(domain_of(ct->mail_from), domain_of(server_from));
	snprintf(envelope, 256, "%s", own_domain ? ct->mail_from : server_from);
	enum rc rc = RC_OK;
	if (ct->mail_from_name) {
		/* The policy parser let no quote, bracket or control character in. */
		bool ascii = true;
		for (const unsigned char *p = (const unsigned char *)ct->mail_from_name; *p && ascii; p++)
			ascii = *p < 0x80;
		if (ascii) {
			rc = buf_printf(headers, "From: \"%s\" <%s>\r\n", ct->mail_from_name, from);
		} else {
			rc = buf_puts(headers, "From:");
			if (!rc)
				rc = display_name(headers, ct->mail_from_name);
			if (!rc)
				rc = buf_printf(headers, " <%s>\r\n", from);
		}
	} else {
		rc = buf_printf(headers, "From: <%s>\r\n", from);
	}
	return rc ? rc : buf_printf(headers, "Reply-To: <%s>\r\n", reply_to);
}

enum rc mail_open(const struct core_ctx *c, const char *subject_id, const unsigned char *sealed,
                  size_t len, int64_t message_key, struct mail_open *out)
{
	struct subject_key key;
	char ad[TOKEN_ID_MAX + 8];
	memset(out->to, 0, sizeof out->to);
	buf_init(&out->text, 64 * 1024);
	struct buf plain;
	buf_init(&plain, 64 * 1024);
	/* Sealed under the tenant's mail key, or else under the subject's. */
	memcpy(key.k, c->tenant->vault.token_key, sizeof key.k);
	enum rc rc = vault_open(&key, "mail:tenant", sealed, len, &plain);
	vault_subject_key_wipe(&key);
	if (rc) {
		rc = datakey_unwrap(c, subject_id, &key, NULL);
		if (rc) {
			buf_fini(&plain);
			return rc; /* the subject (or its key) is gone: so is the message */
		}
		snprintf(ad, sizeof ad, "mail:%s", subject_id);
		rc = vault_open(&key, ad, sealed, len, &plain);
		vault_subject_key_wipe(&key);
	}
	const char *nl = rc ? NULL : memchr(plain.data, '\n', plain.len);
	if (!rc && (!nl || (size_t)(nl - plain.data) >= sizeof out->to))
		rc = RC_CRYPTO;
	if (!rc) {
		memcpy(out->to, plain.data, (size_t)(nl - plain.data));
		rc = buf_append(&out->text, nl + 1, plain.len - (size_t)(nl + 1 - plain.data));
	}
	buf_fini(&plain);
	return rc;
}

void mail_open_fini(struct mail_open *m)
{
	buf_fini(&m->text);
	sodium_memzero(m->to, sizeof m->to);
}

enum rc mail_outbox_due(struct store *s, int64_t now, size_t max, struct store_message **out, size_t *n)
{
	return store_outbox_due(s, now, NULL, max, out, n);
}

enum rc mail_claim(struct store *s, const struct store_message *m, const char *owner, int64_t now, int64_t until)
{
	return store_outbox_claim(s, m->tenant_id, m->message_id, owner, now, until);
}

enum rc mail_release_claims(struct store *s)
{
	return store_outbox_release_claims(s);
}

enum rc mail_mark_sent(struct store *s, const struct store_message *m, int64_t at)
{
	return store_outbox_sent(s, m->tenant_id, m->message_id, at);
}

enum rc mail_retry_at(struct store *s, const struct store_message *m, int attempts, int64_t next_at)
{
	return store_outbox_retry(s, m->tenant_id, m->message_id, attempts, next_at, NULL);
}
