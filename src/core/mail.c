/* mail: templates, rendering and the outbox (see mail.h). The shipped
 * templates come from templates/mail through the generated
 * mail_templates.h; the words that fill them (request types, outcomes, the
 * remedies of Art. 12(4)) are the tables below. */
#include "core/mail.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/datakey.h"
#include "store/store.h"

/* The Message-ID's domain in the sealed text, until mail_compose puts the
 * sender's there. */
#define MID_DOMAIN "@privreg"

/* ---- templates ---- */

#define BIT(s) (1u << (s))
/* What a subject may name: values of one line. */
#define ONE_LINE \
	(BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_PURPOSE) | BIT(MAIL_SLOT_TYPE) | BIT(MAIL_SLOT_VERSION) | \
	 BIT(MAIL_SLOT_EVENT) | BIT(MAIL_SLOT_SUBJECT_ID))

static const char *const slot_names[MAIL_SLOTS] = {
	[MAIL_SLOT_CONTROLLER] = "controller", [MAIL_SLOT_PURPOSE] = "purpose", [MAIL_SLOT_LINK] = "link",
	[MAIL_SLOT_VERSION] = "version", [MAIL_SLOT_CONTACT] = "contact", [MAIL_SLOT_TYPE] = "type",
	[MAIL_SLOT_DUE_DATE] = "due_date", [MAIL_SLOT_REASON] = "reason", [MAIL_SLOT_OUTCOME] = "outcome",
	[MAIL_SLOT_REMEDY] = "remedy", [MAIL_SLOT_KEPT] = "kept", [MAIL_SLOT_ERASED] = "erased",
	[MAIL_SLOT_EVENT] = "event", [MAIL_SLOT_SUBJECT_ID] = "subject_id", [MAIL_SLOT_CHANGE] = "change",
};

/* Each message: its file name, the placeholders it knows and those it must
 * carry (a letter that asks for a click carries the link; an answer that
 * refuses or keeps data says why and where to complain, Art. 12(4)). */
static const struct message {
	const char *name;          /* templates/mail/LANG/NAME.txt, and the outbox row's kind */
	unsigned known, required;
} messages[MAIL_KINDS] = {
	[MAIL_CONFIRM] = {"confirm",
	                  BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_PURPOSE) | BIT(MAIL_SLOT_LINK), BIT(MAIL_SLOT_LINK)},
	[MAIL_POLICY_NOTICE] = {"policy_notice",
	                        BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_VERSION) | BIT(MAIL_SLOT_CONTACT),
	                        BIT(MAIL_SLOT_VERSION)},
	[MAIL_REQUEST_EXTENDED] = {"request_extended",
	                           BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_TYPE) | BIT(MAIL_SLOT_DUE_DATE) |
	                               BIT(MAIL_SLOT_REASON),
	                           BIT(MAIL_SLOT_DUE_DATE) | BIT(MAIL_SLOT_REASON)},
	[MAIL_REQUEST_ANSWERED] = {"request_answered",
	                           BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_TYPE) | BIT(MAIL_SLOT_OUTCOME) |
	                               BIT(MAIL_SLOT_LINK),
	                           BIT(MAIL_SLOT_OUTCOME) | BIT(MAIL_SLOT_LINK)},
	[MAIL_REQUEST_VERIFY] = {"request_verify",
	                         BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_TYPE) | BIT(MAIL_SLOT_LINK), BIT(MAIL_SLOT_LINK)},
	[MAIL_REQUEST_REFUSED] = {"request_refused",
	                          BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_TYPE) | BIT(MAIL_SLOT_REASON) |
	                              BIT(MAIL_SLOT_REMEDY),
	                          BIT(MAIL_SLOT_REASON) | BIT(MAIL_SLOT_REMEDY)},
	[MAIL_REQUEST_PARTIAL] = {"request_partial",
	                          BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_TYPE) | BIT(MAIL_SLOT_ERASED) |
	                              BIT(MAIL_SLOT_KEPT) | BIT(MAIL_SLOT_REMEDY),
	                          BIT(MAIL_SLOT_KEPT) | BIT(MAIL_SLOT_REMEDY)},
	/* To a recipient told of a change (Art. 19; core/notify): a company reads
	 * it, so it names the subject by id only and never an erased value. */
	[MAIL_RECIPIENT_NOTICE] = {"recipient_notice",
	                           BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_EVENT) | BIT(MAIL_SLOT_SUBJECT_ID) |
	                               BIT(MAIL_SLOT_CHANGE),
	                           BIT(MAIL_SLOT_EVENT) | BIT(MAIL_SLOT_SUBJECT_ID)},
	/* Sent alike whether the register knows the address or not (core/portal). */
	[MAIL_PORTAL_SIGNIN] = {"portal_signin", BIT(MAIL_SLOT_CONTROLLER) | BIT(MAIL_SLOT_LINK), BIT(MAIL_SLOT_LINK)},
};

struct mail_default {
	const char *lang, *message, *text;
};

#include "mail_templates.h"

struct mail_override {
	char lang[8];
	enum mail_kind kind;
	char *text;
	size_t len;
};

struct mail_templates {
	struct mail_override *v;
	size_t n;
};

const char *mail_kind_name(enum mail_kind k)
{
	return k < MAIL_KINDS ? messages[k].name : "";
}

const char *mail_slot_name(enum mail_slot s)
{
	return s < MAIL_SLOTS ? slot_names[s] : "";
}

const char *mail_template_default(enum mail_kind k, const char *lang)
{
	for (size_t i = 0; k < MAIL_KINDS && i < sizeof mail_defaults / sizeof mail_defaults[0]; i++)
		if (!strcmp(mail_defaults[i].lang, lang) && !strcmp(mail_defaults[i].message, messages[k].name))
			return mail_defaults[i].text;
	return NULL;
}

/* The tenant's own text, else the shipped one in the language, else the
 * shipped English one (a policy language without shipped letters). */
static const char *template_for(const struct tenant *t, enum mail_kind k, const char *lang)
{
	const struct mail_templates *m = t ? t->mail : NULL;
	for (size_t i = 0; m && i < m->n; i++)
		if (m->v[i].kind == k && !strcmp(m->v[i].lang, lang))
			return m->v[i].text;
	const char *text = mail_template_default(k, lang);
	return text ? text : mail_template_default(k, "en");
}

static void diag(struct policy_diags *d, int line, const char *fmt, ...) PRINTF(3, 4);
static void diag(struct policy_diags *d, int line, const char *fmt, ...)
{
	if (!d)
		return;
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? 2 * d->alloc : 16;
		d->v = xrealloc(d->v, d->alloc * sizeof *d->v);
	}
	struct policy_diag *g = &d->v[d->n++];
	g->line = line;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(g->msg, sizeof g->msg, fmt, ap);
	va_end(ap);
}

/* The length of the UTF-8 character at p (at most n bytes there), 0 when
 * it is none (overlong forms, surrogates and values past U+10FFFF too). */
static size_t utf8_char(const unsigned char *p, size_t n)
{
	if (p[0] < 0x80)
		return 1;
	size_t len = p[0] >= 0xF0 ? 4 : p[0] >= 0xE0 ? 3 : p[0] >= 0xC2 ? 2 : 0;
	if (!len || p[0] > 0xF4 || len > n)
		return 0;
	uint32_t c = p[0] & (0x7F >> len);
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xC0) != 0x80)
			return 0;
		c = (c << 6) | (p[i] & 0x3F);
	}
	static const uint32_t least[] = {0, 0, 0x80, 0x800, 0x10000};
	return c < least[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) ? 0 : len;
}

/* The slot named by the "{{" at p, or MAIL_SLOTS; *end gets the position
 * after "}}" (NULL: not closed on its line). */
static enum mail_slot slot_at(const char *p, const char *limit, const char **end, size_t *namelen)
{
	const char *q = p + 2;
	while (q < limit && ((*q >= 'a' && *q <= 'z') || *q == '_'))
		q++;
	*namelen = (size_t)(q - p - 2);
	*end = q + 1 < limit && q[0] == '}' && q[1] == '}' ? q + 2 : NULL;
	for (int s = 0; *end && s < MAIL_SLOTS; s++)
		if (strlen(slot_names[s]) == *namelen && !memcmp(p + 2, slot_names[s], *namelen))
			return (enum mail_slot)s;
	return MAIL_SLOTS;
}

/* The placeholders a message knows, for a mistake's message. */
static void known_list(unsigned known, char *out, size_t size)
{
	size_t used = 0;
	out[0] = '\0';
	for (int s = 0; s < MAIL_SLOTS && used < size; s++)
		if (known & BIT(s))
			used += (size_t)snprintf(out + used, size - used, "%s{{%s}}", used ? ", " : "", slot_names[s]);
}

size_t mail_template_check(enum mail_kind k, const char *text, size_t len, const char *file,
                           struct policy_diags *diags)
{
	size_t mistakes = 0;
#define MISTAKE(line, ...) (mistakes++, diag(diags, line, __VA_ARGS__))
	if (k >= MAIL_KINDS)
		return 1;
	const struct message *m = &messages[k];
	if (len > MAIL_TEMPLATE_MAX) {
		MISTAKE(1, "%s: larger than %d bytes", file, MAIL_TEMPLATE_MAX);
		return mistakes;
	}
	const char *nl = memchr(text, '\n', len);
	size_t first = nl ? (size_t)(nl - text) : len;
	if (first < 9 || strncmp(text, "Subject: ", 9))
		MISTAKE(1, "%s:1: the first line must be 'Subject: ' and the subject", file);
	else if (first > MAIL_SUBJECT_MAX)
		MISTAKE(1, "%s:1: the subject line is longer than %d bytes", file, MAIL_SUBJECT_MAX);
	if (!nl || (size_t)(nl - text) + 1 >= len || nl[1] != '\n')
		MISTAKE(2, "%s:2: the second line must be empty (the body follows it)", file);
	unsigned seen = 0;
	int line = 1;
	for (size_t i = 0; i < len;) {
		const unsigned char ch = (unsigned char)text[i];
		size_t n = utf8_char((const unsigned char *)text + i, len - i);
		if (!n) {
			MISTAKE(line, "%s:%d: not valid UTF-8", file, line);
			return mistakes; /* one is enough: the rest would only repeat it */
		}
		if (ch < 0x20 && ch != '\n' && ch != '\t') {
			MISTAKE(line, "%s:%d: a control character (0x%02x); only line breaks and tabs may stand in a template",
			        file, line, ch);
			return mistakes;
		}
		if (ch == '{' && i + 1 < len && text[i + 1] == '{') {
			const char *end = NULL;
			size_t namelen = 0;
			enum mail_slot s = slot_at(text + i, text + len, &end, &namelen);
			char known[256];
			known_list(m->known, known, sizeof known);
			if (!end) {
				MISTAKE(line, "%s:%d: '{{' opens no placeholder ({{name}}; %s takes %s)", file, line, m->name, known);
				i += 2;
				continue;
			}
			if (s == MAIL_SLOTS || !(m->known & BIT(s)))
				MISTAKE(line, "%s:%d: unknown placeholder {{%.*s}} (%s takes %s)", file, line, (int)namelen,
				        text + i + 2, m->name, known);
			else if (line == 1 && !(ONE_LINE & BIT(s)))
				MISTAKE(line, "%s:1: {{%s}} may span lines: it may stand in the body, not the subject", file,
				        slot_names[s]);
			else
				seen |= BIT(s);
			i = (size_t)(end - text);
			continue;
		}
		if (ch == '\n')
			line++;
		i += n;
	}
	for (int s = 0; s < MAIL_SLOTS; s++)
		if ((m->required & BIT(s)) && !(seen & BIT(s)))
			MISTAKE(1, "%s: misses {{%s}}, which every %s message must carry", file, slot_names[s], m->name);
#undef MISTAKE
	return mistakes;
}

/* Appends text[0..len) with its placeholders replaced; in a subject, line
 * breaks in values become spaces. One pass: a value is never read again. */
static enum rc render_text(struct buf *b, const char *text, size_t len, const char *const values[MAIL_SLOTS],
                           bool subject)
{
	enum rc rc = RC_OK;
	for (size_t i = 0; i < len && !rc;) {
		const char *end = NULL;
		size_t namelen = 0;
		enum mail_slot s = text[i] == '{' && i + 1 < len && text[i + 1] == '{'
		                       ? slot_at(text + i, text + len, &end, &namelen) : MAIL_SLOTS;
		if (s == MAIL_SLOTS) {
			rc = buf_append(b, text + i, 1);
			i++;
			continue;
		}
		for (const char *v = values[s] ? values[s] : ""; *v && !rc; v++)
			rc = buf_append(b, subject && (*v == '\n' || *v == '\r') ? " " : v, 1);
		i = (size_t)(end - text);
	}
	return rc;
}

enum rc mail_template_render(const char *text, const char *const values[MAIL_SLOTS], struct buf *subject,
                             struct buf *body)
{
	const char *nl = strchr(text, '\n');
	if (strncmp(text, "Subject: ", 9) || !nl || nl[1] != '\n')
		return RC_INTERNAL; /* checked when loaded: never here */
	enum rc rc = render_text(subject, text + 9, (size_t)(nl - text - 9), values, true);
	return rc ? rc : render_text(body, nl + 2, strlen(nl + 2), values, false);
}

/* A language an override may be in: the policy's or a shipped one. */
static bool lang_known(const struct policy *p, const char *lang)
{
	for (size_t i = 0; i < p->nlanguages; i++)
		if (!strcmp(p->languages[i], lang))
			return true;
	for (size_t i = 0; i < sizeof mail_defaults / sizeof mail_defaults[0]; i++)
		if (!strcmp(mail_defaults[i].lang, lang))
			return true;
	return false;
}

static int no_dots(const struct dirent *e)
{
	return e->d_name[0] != '.';
}

#define MAIL_OVERRIDES_MAX 256 /* files in a directory of overrides */

/* Reads one file of at most MAIL_TEMPLATE_MAX bytes (one more tells it is
 * larger). */
static enum rc read_small(const char *path, char **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return RC_IO;
	char *text = xmalloc(MAIL_TEMPLATE_MAX + 2);
	size_t n = fread(text, 1, MAIL_TEMPLATE_MAX + 1, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(text);
		return RC_IO;
	}
	text[n] = '\0';
	*out = text;
	*len = n;
	return RC_OK;
}

/* The files of one language's directory, each checked; the good ones kept. */
static void lang_dir(const char *dir, const char *lang, struct mail_templates *m, struct policy_diags *d,
                     size_t *mistakes)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, lang);
	struct dirent **names = NULL;
	int n = scandir(path, &names, no_dots, alphasort);
	if (n < 0) {
		(*mistakes)++;
		diag(d, 1, "%s: not a directory of templates (%s)", path, strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		char file[4096 + 260];
		snprintf(file, sizeof file, "%s/%s", path, names[i]->d_name);
		size_t nlen = strlen(names[i]->d_name);
		int k = 0;
		while (k < MAIL_KINDS && !(nlen == strlen(messages[k].name) + 4 &&
		                          !strncmp(names[i]->d_name, messages[k].name, nlen - 4) &&
		                          !strcmp(names[i]->d_name + nlen - 4, ".txt")))
			k++;
		if (k == MAIL_KINDS) {
			char known[512] = "";
			for (int j = 0, used = 0; j < MAIL_KINDS; j++)
				used += snprintf(known + used, sizeof known - (size_t)used, "%s%s.txt", j ? ", " : "",
				                 messages[j].name);
			(*mistakes)++;
			diag(d, 1, "%s: not a message's template (the files are %s)", file, known);
			continue;
		}
		char *text = NULL;
		size_t len = 0;
		if (m->n >= MAIL_OVERRIDES_MAX) {
			(*mistakes)++;
			diag(d, 1, "%s: more than %d templates", dir, MAIL_OVERRIDES_MAX);
			break;
		}
		if (read_small(file, &text, &len)) {
			(*mistakes)++;
			diag(d, 1, "%s: cannot be read (%s)", file, strerror(errno));
			continue;
		}
		size_t bad = mail_template_check((enum mail_kind)k, text, len, file, d);
		*mistakes += bad;
		if (bad) {
			free(text);
			continue;
		}
		struct mail_override *o = &m->v[m->n++];
		snprintf(o->lang, sizeof o->lang, "%s", lang);
		o->kind = (enum mail_kind)k;
		o->text = text;
		o->len = len;
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
}

enum rc mail_templates_load(const char *dir, const struct policy *p, struct mail_templates **out,
                            struct policy_diags *diags)
{
	*out = NULL;
	struct dirent **names = NULL;
	int n = scandir(dir, &names, no_dots, alphasort);
	if (n < 0) {
		diag(diags, 1, "%s: the directory of controller.mail.templates cannot be read (%s)", dir, strerror(errno));
		return RC_POLICY;
	}
	struct mail_templates *m = xcalloc(1, sizeof *m);
	m->v = xcalloc(MAIL_OVERRIDES_MAX, sizeof *m->v);
	size_t mistakes = 0;
	for (int i = 0; i < n; i++) {
		const char *lang = names[i]->d_name;
		char langs[256] = "";
		for (size_t j = 0, used = 0; j < p->nlanguages && used < sizeof langs; j++)
			used += (size_t)snprintf(langs + used, sizeof langs - used, "%s%s", j ? ", " : "", p->languages[j]);
		if (strlen(lang) >= sizeof m->v[0].lang || !lang_known(p, lang)) {
			mistakes++;
			diag(diags, 1, "%s/%s: not a language of the policy (%s) nor of the shipped templates (en, et, lv, fi, "
			     "ru)", dir, lang, langs);
			continue;
		}
		lang_dir(dir, lang, m, diags, &mistakes);
	}
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (mistakes) {
		mail_templates_free(m);
		return RC_POLICY;
	}
	*out = m;
	return RC_OK;
}

void mail_templates_free(struct mail_templates *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].text);
	free(m->v);
	free(m);
}

size_t mail_templates_count(const struct mail_templates *m)
{
	return m ? m->n : 0;
}

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

enum rc mail_templates_remove(const char *dir)
{
	if (access(dir, F_OK) && errno == ENOENT)
		return RC_OK;
	return nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS) ? RC_IO : RC_OK;
}

static enum rc write_file(const char *path, const char *text, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return RC_IO;
	bool ok = write(fd, text, len) == (ssize_t)len && fsync(fd) == 0;
	return close(fd) == 0 && ok ? RC_OK : RC_IO;
}

enum rc mail_templates_save(const struct mail_templates *m, const char *dir)
{
	char tmp[4096], path[4096 + 64];
	if ((size_t)snprintf(tmp, sizeof tmp, "%s.new", dir) >= sizeof tmp)
		return RC_TOO_LARGE;
	nftw(tmp, remove_one, 8, FTW_DEPTH | FTW_PHYS); /* left by a save cut short */
	/* The parents (DIR/templates/TENANT) may not exist yet. */
	for (char *s = strchr(tmp + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = '\0';
		if (mkdir(tmp, 0755) && errno != EEXIST) {
			*s = '/';
			return RC_IO;
		}
		*s = '/';
	}
	enum rc rc = mkdir(tmp, 0755) ? RC_IO : RC_OK;
	for (size_t i = 0; !rc && i < m->n; i++) {
		snprintf(path, sizeof path, "%s/%s", tmp, m->v[i].lang);
		if (mkdir(path, 0755) && errno != EEXIST)
			rc = RC_IO;
		snprintf(path, sizeof path, "%s/%s/%s.txt", tmp, m->v[i].lang, messages[m->v[i].kind].name);
		if (!rc)
			rc = write_file(path, m->v[i].text, m->v[i].len);
	}
	if (!rc) {
		nftw(dir, remove_one, 8, FTW_DEPTH | FTW_PHYS);
		if (rename(tmp, dir))
			rc = RC_IO;
	}
	if (rc)
		nftw(tmp, remove_one, 8, FTW_DEPTH | FTW_PHYS);
	return rc;
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

/* The values of a message's placeholders, said in the subject's language:
 * every slot is filled, and the message's template names those it uses. */
static enum rc fill(const struct policy *p, const struct mail_args *a, struct buf *rem, struct buf *kept,
                    struct buf *outcome, char n[24], const char *values[MAIL_SLOTS])
{
	const struct words *w = words_for(a->lang);
	snprintf(n, 24, "%zu", a->count);
	enum rc rc = RC_OK;
	if (a->kind == MAIL_REQUEST_REFUSED || a->kind == MAIL_REQUEST_PARTIAL)
		rc = remedy(rem, w, p);
	if (!rc && a->kind == MAIL_REQUEST_PARTIAL)
		rc = kept_lines(kept, w, p, a);
	if (!rc && a->kind == MAIL_REQUEST_ANSWERED) {
		const struct slot s[] = {{"{n}", n}};
		rc = render_slots(outcome, w->outcomes[a->outcome < MAIL_OUTCOMES ? a->outcome : 0], s, 1);
	}
	const char *purpose = a->purpose;
	if (a->kind == MAIL_CONFIRM) {
		const struct policy_purpose *u = policy_purpose(p, a->purpose);
		purpose = u ? policy_title_in(&u->title, a->lang, a->purpose) : a->purpose;
	}
	values[MAIL_SLOT_CONTROLLER] = p->controller.name;
	values[MAIL_SLOT_PURPOSE] = purpose;
	values[MAIL_SLOT_LINK] = a->kind == MAIL_REQUEST_EXTENDED ? NULL : a->link;
	values[MAIL_SLOT_VERSION] = p->version;
	values[MAIL_SLOT_CONTACT] = p->controller.email;
	values[MAIL_SLOT_TYPE] = type_words(w, a->text);
	values[MAIL_SLOT_DUE_DATE] = a->kind == MAIL_REQUEST_EXTENDED ? a->link : NULL;
	values[MAIL_SLOT_REASON] = a->reason;
	values[MAIL_SLOT_OUTCOME] = outcome->data;
	values[MAIL_SLOT_REMEDY] = rem->data;
	values[MAIL_SLOT_KEPT] = kept->data;
	values[MAIL_SLOT_ERASED] = n;
	values[MAIL_SLOT_EVENT] = a->event;
	values[MAIL_SLOT_CHANGE] = a->kind == MAIL_RECIPIENT_NOTICE ? a->text : NULL;
	return rc;
}

enum rc mail_header_encode(struct buf *b, const char *name, const char *value)
{
	enum rc rc = buf_printf(b, "%s:", name);
	const char *p = value;
	size_t left = strlen(value);
	while (!rc && left) {
		size_t take = left < MAIL_WORD_BYTES ? left : MAIL_WORD_BYTES;
		/* Back to the start of a character: a word decodes on its own. */
		while (take < left && take > 1 && ((unsigned char)p[take] & 0xC0) == 0x80)
			take--;
		char enc[sodium_base64_ENCODED_LEN(MAIL_WORD_BYTES, sodium_base64_VARIANT_ORIGINAL)];
		sodium_bin2base64(enc, sizeof enc, (const unsigned char *)p, take, sodium_base64_VARIANT_ORIGINAL);
		rc = buf_printf(b, "%s=?UTF-8?B?%s?=", p == value ? " " : "\r\n ", enc);
		p += take;
		left -= take;
	}
	return rc ? rc : buf_puts(b, "\r\n");
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
	struct buf msg, subject, body, rem, kept, outcome;
	char date[64], mid[40], n[24];
	const char *values[MAIL_SLOTS] = {0};
	if (a->kind >= MAIL_KINDS)
		return RC_INTERNAL;
	buf_init(&msg, 64 * 1024);
	buf_init(&subject, 1024);
	buf_init(&body, 64 * 1024);
	buf_init(&rem, 4096);
	buf_init(&kept, 64 * 1024);
	buf_init(&outcome, 1024);
	time_t now = (time_t)core_now(c);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	unsigned char rnd[12];
	randombytes_buf(rnd, sizeof rnd);
	sodium_bin2hex(mid, sizeof mid, rnd, sizeof rnd);
	enum rc rc = fill(p, a, &rem, &kept, &outcome, n, values);
	values[MAIL_SLOT_SUBJECT_ID] = subject_id;
	if (!rc)
		rc = mail_template_render(template_for(c->tenant, a->kind, a->lang), values, &subject, &body);
	/* Sealed form: the envelope recipient on the first line, then the message
	 * without From: and Reply-To: (the sender adds them: mail_compose), and
	 * with the Message-ID's domain still to fill in. */
	if (!rc)
		rc = buf_printf(&msg, "%s\n", a->to);
	if (!rc)
		rc = buf_printf(&msg, "To: <%s>\r\n", a->to);
	if (!rc)
		rc = mail_header_encode(&msg, "Subject", subject.data);
	if (!rc)
		rc = buf_printf(&msg, "Date: %s\r\nMessage-ID: <%s" MID_DOMAIN ">\r\nMIME-Version: 1.0\r\n"
		                      "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
		                      "Content-Language: %s\r\n\r\n", date, mid, a->lang);
	if (!rc)
		rc = body_crlf(&msg, body.data);
	if (!rc) {
		char ad[TOKEN_ID_MAX + 8];
		snprintf(ad, sizeof ad, "mail:%s", subject_id);
		struct store_message m = {.kind = (char *)messages[a->kind].name, .created_at = core_now(c), .next_at = core_now(c),
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
	buf_fini(&rem);
	buf_fini(&kept);
	buf_fini(&outcome);
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

enum rc mail_compose(const struct tenant *t, const char *server_from, const struct buf *text, struct buf *out,
                     char envelope[256])
{
	const struct policy_controller *ct = &t->policy->controller;
	const char *domain = domain_of(ct->mail_from ? ct->mail_from : server_from);
	enum rc rc = mail_sender(t, server_from, out, envelope);
	/* The header block only: the body is the subject's to write. */
	const char *head_end = memmem(text->data, text->len, "\r\n\r\n", 4);
	size_t head = head_end ? (size_t)(head_end - text->data) : text->len;
	const char *mid = memmem(text->data, head, "\r\nMessage-ID: <", 15);
	const char *at = mid ? memmem(mid, head - (size_t)(mid - text->data), MID_DOMAIN ">\r\n", strlen(MID_DOMAIN) + 3)
	                     : NULL;
	if (!rc && at && *domain) {
		rc = buf_append(out, text->data, (size_t)(at - text->data) + 1);
		if (!rc)
			rc = buf_puts(out, domain);
		const char *rest = at + strlen(MID_DOMAIN);
		if (!rc)
			rc = buf_append(out, rest, text->len - (size_t)(rest - text->data));
	} else if (!rc) {
		rc = buf_append(out, text->data, text->len);
	}
	return rc;
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
