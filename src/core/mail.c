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
	 "Hello,\n\n{controller} has received a request ({second}) about your data. To make sure it\ncomes from you, open this link and press the button there:\n\n  {third}\n\nIf you did not ask, ignore this e-mail: nothing will be done.\n\n{controller}\n"},
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
	 "Tere!\n\n{controller} sai Teie andmeid puudutava taotluse ({second}). Veendumaks, et see\non Teilt, avage link ja vajutage seal nuppu:\n\n  {third}\n\nKui Te seda ei esitanud, jätke kiri tähelepanuta: midagi ei tehta.\n\n{controller}\n"},
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
	 "Labdien!\n\n{controller} saņēma pieprasījumu ({second}) par jūsu datiem. Lai pārliecinātos, ka tas\nir no jums, atveriet saiti un nospiediet pogu:\n\n  {third}\n\nJa jūs to neiesniedzāt, neņemiet vērā šo vēstuli: nekas netiks darīts.\n\n{controller}\n"},
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
	 "Hei,\n\n{controller} on vastaanottanut tietojasi koskevan pyynnön ({second}). Varmistaaksemme,\nettä se on sinulta, avaa linkki ja paina siellä olevaa painiketta:\n\n  {third}\n\nJos et tehnyt pyyntöä, voit jättää viestin huomiotta: mitään ei tehdä.\n\n{controller}\n"},
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
	 "Здравствуйте!\n\n{controller} получил запрос ({second}) о ваших данных. Чтобы убедиться, что он\nот вас, откройте ссылку и нажмите на кнопку:\n\n  {third}\n\nЕсли вы его не отправляли, проигнорируйте это письмо: ничего сделано не будет.\n\n{controller}\n"},
};

static const struct template *template_for(const char *lang)
{
	for (size_t i = 0; i < sizeof templates / sizeof templates[0]; i++)
		if (!strcmp(templates[i].lang, lang))
			return &templates[i];
	return &templates[0];
}

/* Appends tmpl with its {name} placeholders replaced (no format strings:
 * nothing in a value can act as a directive). */
static enum rc render(struct buf *b, const char *tmpl, const char *controller, const char *first,
                      const char *second, const char *third)
{
	static const char *const names[] = {"{controller}", "{first}", "{second}", "{third}"};
	const char *values[] = {controller, first, second, third};
	enum rc rc = RC_OK;
	for (const char *p = tmpl; *p && !rc;) {
		bool done = false;
		for (size_t i = 0; i < 4 && !done; i++) {
			size_t n = strlen(names[i]);
			if (!strncmp(p, names[i], n)) {
				rc = buf_puts(b, values[i] ? values[i] : "");
				p += n;
				done = true;
			}
		}
		if (!done)
			rc = buf_append(b, p++, 1);
	}
	return rc;
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
		rc = render(&subject, t->extended_subject, p->controller.name, a->text, NULL, NULL);
		if (!rc)
			rc = render(&body, t->extended_body, p->controller.name, NULL, a->link, a->reason);
	} else if (a->kind == MAIL_REQUEST_VERIFY) {
		rc = render(&subject, t->verify_subject, p->controller.name, a->text, NULL, NULL);
		if (!rc)
			rc = render(&body, t->verify_body, p->controller.name, NULL, a->text, a->link);
	} else {
		rc = render(&subject, t->answered_subject, p->controller.name, a->text, NULL, NULL);
		if (!rc)
			rc = render(&body, t->answered_body, p->controller.name, NULL, a->reason, a->link ? a->link : "");
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
		                                    "request_verify"};
		struct store_message m = {.kind = (char *)kinds[a->kind], .created_at = core_now(c), .next_at = core_now(c)};
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
			char enc[512];
			size_t n = strlen(ct->mail_from_name);
			if (sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_ORIGINAL) > sizeof enc)
				return RC_TOO_LARGE;
			sodium_bin2base64(enc, sizeof enc, (const unsigned char *)ct->mail_from_name, n,
			                  sodium_base64_VARIANT_ORIGINAL);
			rc = buf_printf(headers, "From: =?UTF-8?B?%s?= <%s>\r\n", enc, from);
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
	return store_outbox_due(s, now, max, out, n);
}

enum rc mail_mark_sent(struct store *s, const struct store_message *m, int64_t at)
{
	return store_outbox_sent(s, m->tenant_id, m->message_id, at);
}

enum rc mail_retry_at(struct store *s, const struct store_message *m, int attempts, int64_t next_at)
{
	return store_outbox_retry(s, m->tenant_id, m->message_id, attempts, next_at);
}
