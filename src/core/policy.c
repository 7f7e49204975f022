/*
 * policy: YAML policy file -> struct policy, with every mistake named by line.
 *
 * libyaml's document API gives a node tree in which every node knows its
 * line. The top-level sections are picked out first and then read in
 * dependency order (fields and purposes before the records, recipients and
 * cookies that name them), so a file may list its sections in any order.
 * Parsing does not stop at the first mistake: each section reports what is
 * wrong with it and the caller gets the whole list, sorted by line.
 */
#include "core/policy.h"

#include <errno.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "core/policy_read.h"

#include "base/xalloc.h"
#include "core/country.h"
#include "core/field.h"


/* ---- diagnostics ---- */

static void diag_add(struct policy_diags *d, int line, const char *fmt, va_list ap)
{
	if (!d)
		return;
	if (d->n == d->alloc) {
		d->alloc = d->alloc ? d->alloc * 2 : 8;
		d->v = xrealloc(d->v, d->alloc * sizeof *d->v);
	}
	struct policy_diag *g = &d->v[d->n++];
	g->line = line;
	vsnprintf(g->msg, sizeof g->msg, fmt, ap);
}

int policy_line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 1; /* the file as a whole */
}

PRINTF(3, 4) void policy_err(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_add(c->diags, policy_line_of(n), fmt, ap);
	va_end(ap);
	c->nerrors++;
}

void policy_diags_fini(struct policy_diags *d)
{
	if (!d)
		return;
	free(d->v);
	d->v = NULL;
	d->n = d->alloc = 0;
}

static int diag_cmp(const void *a, const void *b)
{
	const struct policy_diag *x = a, *y = b;
	return (x->line > y->line) - (x->line < y->line);
}

/* ---- node helpers ---- */

yaml_node_t *policy_node(struct pctx *c, int id)
{
	c->visits++;
	return yaml_document_get_node(c->doc, id);
}

const char *policy_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar written without quotes may be read as a number or a bool. */
static bool plain(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

const char *policy_want_string(struct pctx *c, const yaml_node_t *n, const char *what)
{
	const char *s = policy_scalar(n);
	if (!s) {
		policy_err(c, n, "%s must be a text value", what);
		return NULL;
	}
	if (!*s) {
		policy_err(c, n, "%s must not be empty", what);
		return NULL;
	}
	if (strlen(s) > 4096) {
		policy_err(c, n, "%s is longer than 4096 characters", what);
		return NULL;
	}
	return arena_strdup(&c->p->arena, s);
}

bool policy_want_bool(struct pctx *c, const yaml_node_t *n, const char *what, bool *out)
{
	const char *s = policy_scalar(n);
	if (s && plain(n) && !strcmp(s, "true")) {
		*out = true;
		return true;
	}
	if (s && plain(n) && !strcmp(s, "false")) {
		*out = false;
		return true;
	}
	policy_err(c, n, "%s must be true or false", what);
	return false;
}

bool policy_want_int(struct pctx *c, const yaml_node_t *n, const char *what, long lo, long hi, int *out)
{
	const char *s = policy_scalar(n);
	char *end;
	if (s && plain(n) && *s) {
		errno = 0;
		long v = strtol(s, &end, 10);
		if (!*end && !errno && v >= lo && v <= hi) {
			*out = (int)v;
			return true;
		}
	}
	policy_err(c, n, "%s must be a whole number from %ld to %ld", what, lo, hi);
	return false;
}

bool policy_want_duration(struct pctx *c, const yaml_node_t *n, const char *what, struct duration *d)
{
	const char *s = policy_scalar(n);
	if (s && timeutil_parse_duration(s, d) == RC_OK)
		return true;
	policy_err(c, n, "%s: bad duration '%.60s' (expected N days|weeks|months|years)", what, s ? s : "");
	return false;
}

static bool is_ident(const char *s)
{
	if (!*s || strlen(s) > 64)
		return false;
	for (const char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
			return false;
	return *s < '0' || *s > '9';
}

/* Iterates a mapping, checking its keys against `allowed` (NULL-terminated;
 * NULL allows any identifier) and refusing duplicates. Calls fn per pair. */
bool policy_each_pair(struct pctx *c, yaml_node_t *map, const char *what,
                      const char *const *allowed, pair_fn *fn, void *arg)
{
	if (!map || map->type != YAML_MAPPING_NODE) {
		policy_err(c, map, "%s must be a mapping", what);
		return false;
	}
	yaml_node_pair_t *start = map->data.mapping.pairs.start;
	yaml_node_pair_t *top = map->data.mapping.pairs.top;
	for (yaml_node_pair_t *pr = start; pr < top; pr++) {
		if (c->visits > MAX_VISITS)
			return false;
		yaml_node_t *k = policy_node(c, pr->key), *v = policy_node(c, pr->value);
		const char *key = policy_scalar(k);
		if (!key) {
			policy_err(c, k, "%s: keys must be plain names", what);
			continue;
		}
		bool dup = false;
		for (yaml_node_pair_t *q = start; q < pr && !dup; q++) {
			const char *other = policy_scalar(policy_node(c, q->key));
			dup = other && !strcmp(other, key);
		}
		if (dup) {
			policy_err(c, k, "%s: duplicate key '%.60s'", what, key);
			continue;
		}
		if (allowed) {
			bool ok = false;
			for (const char *const *a = allowed; *a && !ok; a++)
				ok = !strcmp(*a, key);
			if (!ok) {
				policy_err(c, k, "unknown key '%.60s' in %s", key, what);
				continue;
			}
		} else if (!is_ident(key)) {
			policy_err(c, k, "%s: '%.60s' is not a valid name (a-z, 0-9, _)", what, key);
			continue;
		}
		fn(c, key, k, v, arg);
	}
	return true;
}

static size_t map_size(const yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE
	       ? (size_t)(n->data.mapping.pairs.top - n->data.mapping.pairs.start) : 0;
}

/* Reads a sequence of names, each resolved by `find` into a pointer. */
size_t policy_name_list(struct pctx *c, yaml_node_t *n, const char *what, const char *kind,
                        find_fn *find, const void ***out)
{
	*out = NULL;
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		policy_err(c, n, "%s must be a list, e.g. [a, b]", what);
		return 0;
	}
	size_t cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	const void **v = arena_alloc(&c->p->arena, (cap ? cap : 1) * sizeof *v);
	size_t cnt = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = policy_node(c, *it);
		const char *name = policy_scalar(e);
		if (!name) {
			policy_err(c, e, "%s: entries must be names", what);
			continue;
		}
		const void *x = find(c->p, name);
		if (!x) {
			policy_err(c, e, "%s: unknown %s '%.60s'", what, kind, name);
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < cnt && !dup; i++)
			dup = v[i] == x;
		if (dup) {
			policy_err(c, e, "%s: '%.60s' is listed twice", what, name);
			continue;
		}
		v[cnt++] = x;
	}
	*out = v;
	return cnt;
}

const void *policy_find_field(const struct policy *p, const char *n) { return policy_field(p, n); }
const void *policy_find_purpose(const struct policy *p, const char *n) { return policy_purpose(p, n); }

/* ---- enum tables ---- */


const struct name_val policy_field_types[] = {
	{"text", FT_TEXT}, {"email", FT_EMAIL}, {"phone", FT_PHONE}, {"date", FT_DATE},
	{"datetime", FT_DATETIME}, {"enum", FT_ENUM}, {"decimal", FT_DECIMAL},
	{"integer", FT_INTEGER}, {"bool", FT_BOOL}, {"ip", FT_IP}, {"country", FT_COUNTRY},
	{"json", FT_JSON}, {NULL, 0},
};
const struct name_val policy_bases[] = {
	{"consent", BASIS_CONSENT}, {"contract", BASIS_CONTRACT},
	{"legal_obligation", BASIS_LEGAL_OBLIGATION}, {"legitimate_interest", BASIS_LEGITIMATE_INTEREST},
	{"vital_interest", BASIS_VITAL_INTEREST}, {"public_task", BASIS_PUBLIC_TASK}, {NULL, 0},
};
const struct name_val policy_channels[] = {
	{"none", CHANNEL_NONE}, {"email", CHANNEL_EMAIL}, {"sms", CHANNEL_SMS}, {"phone", CHANNEL_PHONE},
	{"post", CHANNEL_POST}, {"push", CHANNEL_PUSH}, {NULL, 0},
};
const struct name_val policy_roles[] = {
	{"processor", RECIPIENT_PROCESSOR}, {"controller", RECIPIENT_CONTROLLER},
	{"authority", RECIPIENT_AUTHORITY}, {NULL, 0},
};
const struct name_val policy_transfers[] = {
	{"none", TRANSFER_NONE}, {"adequacy", TRANSFER_ADEQUACY}, {"scc", TRANSFER_SCC},
	{"bcr", TRANSFER_BCR}, {NULL, 0},
};
const struct name_val policy_thens[] = {
	{"delete", THEN_DELETE}, {"anonymize", THEN_ANONYMIZE}, {NULL, 0},
};

static const char *nv_name(const struct name_val *t, int v)
{
	for (; t->name; t++)
		if (t->val == v)
			return t->name;
	return "?";
}

bool policy_want_enum(struct pctx *c, yaml_node_t *n, const char *what,
                      const struct name_val *t, int *out)
{
	const char *s = policy_scalar(n);
	for (const struct name_val *e = t; s && e->name; e++) {
		if (!strcmp(s, e->name)) {
			*out = e->val;
			return true;
		}
	}
	char list[200] = "";
	for (const struct name_val *e = t; e->name; e++) {
		if (e->val == 0 && (t == policy_channels || t == policy_transfers))
			continue;
		strncat(list, e->name, sizeof list - strlen(list) - 3);
		if (e[1].name)
			strcat(list, ", ");
	}
	policy_err(c, n, "%s: unknown value '%.40s' (one of: %s)", what, s ? s : "", list);
	return false;
}

const char *policy_field_type_name(enum field_type t) { return nv_name(policy_field_types, t); }
const char *policy_basis_name(enum legal_basis b) { return nv_name(policy_bases, b); }
const char *policy_channel_name(enum channel ch) { return nv_name(policy_channels, ch); }
const char *policy_role_name(enum recipient_role r) { return nv_name(policy_roles, r); }
const char *policy_transfer_name(enum transfer_basis t) { return nv_name(policy_transfers, t); }
const char *policy_then_name(enum then_action t) { return nv_name(policy_thens, t); }

/* ---- titles ---- */

/*
 * Titles are often written in flow style, `{ et: A, B, en: C }`, where YAML
 * reads the unquoted comma as the end of an entry and B as a key with no
 * value. The author meant "A, B", so such a key is joined to the text before
 * it. Anything else that is not a declared language is a mistake.
 */
void policy_read_title(struct pctx *c, yaml_node_t *n, const char *owner, struct policy_title *t)
{
	char what[120];
	snprintf(what, sizeof what, "the title of %s", owner);
	t->n = 0;
	if (!n || n->type != YAML_MAPPING_NODE) {
		policy_err(c, n, "%s must be a mapping of language: text", what);
		t->v = arena_alloc(&c->p->arena, sizeof *t->v);
		return;
	}
	t->v = arena_alloc(&c->p->arena, (map_size(n) + 1) * sizeof *t->v);
	bool flow = n->data.mapping.style == YAML_FLOW_MAPPING_STYLE;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = policy_node(c, pr->key), *v = policy_node(c, pr->value);
		const char *key = policy_scalar(k), *val = policy_scalar(v);
		if (!key) {
			policy_err(c, k, "%s: keys must be language codes", what);
			continue;
		}
		if (flow && t->n && val && !*val && plain(v)) {
			struct policy_text *prev = &t->v[t->n - 1];
			size_t len = strlen(prev->text) + 2 + strlen(key) + 1;
			char *joined = arena_alloc(&c->p->arena, len);
			snprintf(joined, len, "%s, %s", prev->text, key);
			prev->text = joined;
			continue;
		}
		bool declared = false;
		for (size_t i = 0; i < c->p->nlanguages && !declared; i++)
			declared = !strcmp(c->p->languages[i], key);
		if (!declared) {
			policy_err(c, k, "%s: '%.20s' is not one of the policy's languages", what, key);
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < t->n && !dup; i++)
			dup = !strcmp(t->v[i].lang, key);
		if (dup) {
			policy_err(c, k, "%s: translation '%s' is given twice", what, key);
			continue;
		}
		const char *text = policy_want_string(c, v, what);
		if (!text)
			continue;
		t->v[t->n].lang = arena_strdup(&c->p->arena, key);
		t->v[t->n].text = text;
		t->n++;
	}
	for (size_t i = 0; i < c->p->nlanguages; i++) {
		bool have = false;
		for (size_t j = 0; j < t->n && !have; j++)
			have = !strcmp(t->v[j].lang, c->p->languages[i]);
		if (!have)
			policy_err(c, n, "%s: missing translation '%s'", what, c->p->languages[i]);
	}
}

/* ---- keep rules ---- */

bool policy_parse_keep(struct pctx *c, yaml_node_t *n, const char *what, struct policy_keep *k)
{
	const char *s = policy_scalar(n);
	if (!s) {
		policy_err(c, n, "%s must be e.g. '3 years after created' or 'while active'", what);
		return false;
	}
	memset(k, 0, sizeof *k);
	if (!strncmp(s, "while active", 12)) {
		k->rule = KEEP_WHILE_ACTIVE;
		k->period = (struct duration){0, TU_DAYS};
		const char *rest = s + 12;
		if (!*rest)
			return true;
		if (!strncmp(rest, " + ", 3) && timeutil_parse_duration(rest + 3, &k->period) == RC_OK)
			return true;
		policy_err(c, n, "%s: bad rule '%.60s' (expected 'while active' or 'while active + N unit')", what, s);
		return false;
	}
	const char *after = strstr(s, " after ");
	if (!after) {
		policy_err(c, n, "%s: bad rule '%.60s' (expected 'N unit after EVENT' or 'while active')", what, s);
		return false;
	}
	char dur[64];
	size_t dl = (size_t)(after - s);
	if (dl >= sizeof dur || (snprintf(dur, sizeof dur, "%.*s", (int)dl, s),
	                         timeutil_parse_duration(dur, &k->period) != RC_OK)) {
		policy_err(c, n, "%s: bad duration '%.*s' (expected N days|weeks|months|years)", what,
		    (int)(dl > 60 ? 60 : dl), s);
		return false;
	}
	const char *ev = after + 7;
	static const char fy[] = "end of financial year of ";
	if (!strncmp(ev, fy, sizeof fy - 1)) {
		ev += sizeof fy - 1;
		k->financial_year = true;
		k->fy_month = c->p->controller.fy_month;
		k->fy_day = c->p->controller.fy_day;
	}
	if (!is_ident(ev)) {
		policy_err(c, n, "%s: '%.60s' is not an event name (a-z, 0-9, _)", what, ev);
		return false;
	}
	k->rule = KEEP_AFTER_EVENT;
	k->event = arena_strdup(&c->p->arena, ev);
	return true;
}

void policy_keep_format(const struct policy_keep *k, char *out, size_t size)
{
	char d[48];
	timeutil_format_duration(k->period, d, sizeof d);
	if (k->rule == KEEP_AFTER_EVENT && k->financial_year)
		snprintf(out, size, "%s after end of financial year of %s", d, k->event);
	else if (k->rule == KEEP_AFTER_EVENT)
		snprintf(out, size, "%s after %s", d, k->event);
	else if (k->period.n)
		snprintf(out, size, "while active + %s", d);
	else
		snprintf(out, size, "while active");
}

/* ---- top level ---- */

enum section { S_VERSION, S_CONTROLLER, S_LANGUAGES, S_MIN_AGE, S_REQUESTS, S_FIELDS,
               S_PURPOSES, S_RECORDS, S_RECIPIENTS, S_COOKIES, S_DATE, S_AUTOMATED, S_CONSENT_SOURCES,
               S_BACKUPS, S_SYSTEMS, S__COUNT };

static const char *const section_names[] = {
	"version", "controller", "languages", "min_age", "requests", "fields",
	"purposes", "records", "recipients", "cookies", "date", "automated_decisions", "consent_sources",
	"backups", "systems", NULL,
};

static void backups_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_backups *b = &c->p->backups;
	if (!strcmp(key, "keep")) {
		*(bool *)arg = true;
		b->has_keep = policy_want_duration(c, v, "backups.keep", &b->keep);
		if (b->has_keep && b->keep.n < 1) {
			policy_err(c, v, "backups.keep must be at least 1 day");
			b->has_keep = false;
		}
	} else if (policy_want_duration(c, v, "backups.rotate_every", &b->rotate_every) && b->rotate_every.n < 1) {
		policy_err(c, v, "backups.rotate_every must be at least 1 day");
	}
}

static void read_backups(struct pctx *c, yaml_node_t *n)
{
	static const char *const keys[] = {"keep", "rotate_every", NULL};
	c->p->backups.rotate_every = (struct duration){7, TU_DAYS};
	bool keep = false;
	if (!n)
		return;
	if (policy_each_pair(c, n, "backups", keys, backups_pair, &keep) && !keep)
		policy_err(c, n, "backups needs 'keep' (how long database copies are kept, e.g. 35 days)");
}

static void top_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	yaml_node_t **sect = arg;
	for (int i = 0; i < S__COUNT; i++)
		if (!strcmp(key, section_names[i]))
			sect[i] = v;
}

static void *section_array(struct pctx *c, yaml_node_t *n, size_t elem)
{
	return arena_alloc(&c->p->arena, (map_size(n) + 1) * elem);
}

static void read_policy(struct pctx *c, yaml_node_t *root)
{
	struct policy *p = c->p;
	yaml_node_t *sect[S__COUNT] = {0};
	if (!policy_each_pair(c, root, "the policy", section_names, top_pair, sect))
		return;
	static const int required[] = {S_VERSION, S_CONTROLLER, S_LANGUAGES, S_FIELDS, S_PURPOSES, S_RECORDS};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (!sect[required[i]])
			policy_err(c, NULL, "the policy needs '%s'", section_names[required[i]]);

	if (sect[S_VERSION]) {
		p->version = policy_want_string(c, sect[S_VERSION], "version");
		if (p->version && strlen(p->version) > 64)
			policy_err(c, sect[S_VERSION], "version is longer than 64 characters");
	}
	if (sect[S_LANGUAGES])
		policy_read_languages(c, sect[S_LANGUAGES]);
	p->controller.fy_month = 12;
	p->controller.fy_day = 31;
	if (sect[S_CONTROLLER])
		policy_read_controller(c, sect[S_CONTROLLER]);
	if (sect[S_MIN_AGE])
		policy_want_int(c, sect[S_MIN_AGE], "min_age", 0, 120, &p->min_age);
	if (sect[S_DATE])
		policy_read_date(c, sect[S_DATE]);
	if (sect[S_AUTOMATED] && p->nlanguages)
		policy_read_automated(c, sect[S_AUTOMATED]);
	p->requests.answer_within = (struct duration){1, TU_MONTHS};
	p->requests.extend_up_to = (struct duration){2, TU_MONTHS};
	policy_read_requests(c, sect[S_REQUESTS]);
	read_backups(c, sect[S_BACKUPS]);

	p->fields = section_array(c, sect[S_FIELDS], sizeof *p->fields);
	p->purposes = section_array(c, sect[S_PURPOSES], sizeof *p->purposes);
	p->records = section_array(c, sect[S_RECORDS], sizeof *p->records);
	p->recipients = section_array(c, sect[S_RECIPIENTS], sizeof *p->recipients);
	p->cookies = section_array(c, sect[S_COOKIES], sizeof *p->cookies);
	p->consent_sources = section_array(c, sect[S_CONSENT_SOURCES], sizeof *p->consent_sources);
	p->systems = section_array(c, sect[S_SYSTEMS], sizeof *p->systems);
	if (sect[S_FIELDS])
		policy_each_pair(c, sect[S_FIELDS], "fields", NULL, policy_fields_pair, NULL);
	if (sect[S_PURPOSES])
		policy_each_pair(c, sect[S_PURPOSES], "purposes", NULL, policy_purposes_pair, NULL);
	if (sect[S_RECORDS])
		policy_each_pair(c, sect[S_RECORDS], "records", NULL, policy_records_pair, NULL);
	if (sect[S_RECIPIENTS])
		policy_each_pair(c, sect[S_RECIPIENTS], "recipients", NULL, policy_recipients_pair, NULL);
	if (sect[S_COOKIES])
		policy_each_pair(c, sect[S_COOKIES], "cookies", NULL, policy_cookies_pair, NULL);
	if (sect[S_CONSENT_SOURCES])
		policy_each_pair(c, sect[S_CONSENT_SOURCES], "consent_sources", NULL, policy_consent_sources_pair, NULL);
	if (sect[S_SYSTEMS])
		policy_each_pair(c, sect[S_SYSTEMS], "systems", NULL, policy_systems_pair, NULL);

	if (p->min_age && policy_field(p, "birth_date") && policy_field(p, "birth_date")->type != FT_DATE)
		policy_err(c, sect[S_MIN_AGE], "min_age needs the birth_date field to be of type date");
	if (p->requests.has_target && p->requests.target.unit >= TU_MONTHS &&
	    policy_longer_than_months(p->requests.target, 1))
		policy_err(c, sect[S_REQUESTS], "requests.target must be within requests.answer_within");
	if (c->visits > MAX_VISITS)
		policy_err(c, NULL, "the policy is too large or too deeply aliased");
}

/* libyaml has no nesting limit of its own, and its scanner does work in
 * proportion to the depth for every token, so a file of 400,000 '[' keeps
 * it busy for minutes. Its event parser reads the nesting as the loader
 * will, one token at a time: counting the open collections and stopping at
 * the first one too deep costs a few thousand tokens at most. A malformed
 * file is left for the loader to report. */
static bool too_deep(struct pctx *c, const char *text, size_t len)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	int depth = 0;
	bool deep = false, done = false;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	while (!done && !deep && yaml_parser_parse(&parser, &ev)) {
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			deep = ++depth > POLICY_DEPTH_MAX;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		done = ev.type == YAML_STREAM_END_EVENT;
		if (deep) {
			policy_err(c, NULL, "the policy nests deeper than %d levels", POLICY_DEPTH_MAX);
			if (c->diags)
				c->diags->v[c->diags->n - 1].line = (int)ev.start_mark.line + 1;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&parser);
	return deep;
}

enum rc policy_parse(const char *text, size_t len, struct policy **out, struct policy_diags *diags)
{
	*out = NULL;
	if (len > POLICY_FILE_MAX) {
		struct pctx c0 = {.diags = diags};
		policy_err(&c0, NULL, "the policy is larger than %d bytes", POLICY_FILE_MAX);
		return RC_POLICY;
	}
	struct pctx c0 = {.diags = diags};
	if (too_deep(&c0, text, len))
		return RC_POLICY;
	struct policy *p = xcalloc(1, sizeof *p);
	arena_init(&p->arena);
	struct pctx c = {.p = p, .diags = diags};
	size_t first = diags ? diags->n : 0;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		policy_err(&c, NULL, "not valid YAML");
		if (diags && diags->n) {
			/* The context (an unclosed bracket, say) is where the mistake is;
			 * the problem mark is where libyaml noticed it. */
			struct policy_diag *g = &diags->v[diags->n - 1];
			yaml_mark_t m = parser.context ? parser.context_mark : parser.problem_mark;
			g->line = (int)m.line + 1;
			snprintf(g->msg, sizeof g->msg, "not valid YAML: %s%s%s",
			         parser.problem ? parser.problem : "syntax error",
			         parser.context ? " " : "", parser.context ? parser.context : "");
		}
		yaml_parser_delete(&parser);
		policy_free(p);
		return RC_POLICY;
	}
	c.doc = &doc;
	yaml_node_t *root = yaml_document_get_root_node(&doc);
	if (!root)
		policy_err(&c, NULL, "the policy is empty");
	else
		read_policy(&c, root);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	if (diags && diags->n > first)
		qsort(diags->v + first, diags->n - first, sizeof *diags->v, diag_cmp);
	if (c.nerrors) {
		policy_free(p);
		return RC_POLICY;
	}
	*out = p;
	return RC_OK;
}

enum rc policy_load(const char *path, struct policy **out, char **source, struct policy_diags *diags)
{
	*out = NULL;
	if (source)
		*source = NULL;
	struct pctx c0 = {.diags = diags};
	FILE *f = fopen(path, "rb");
	if (!f) {
		policy_err(&c0, NULL, "cannot open: %s", strerror(errno));
		return RC_IO;
	}
	char *text = xmalloc(POLICY_FILE_MAX + 1);
	size_t len = fread(text, 1, POLICY_FILE_MAX + 1, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(text);
		policy_err(&c0, NULL, "cannot read the file");
		return RC_IO;
	}
	text[len < POLICY_FILE_MAX ? len : POLICY_FILE_MAX] = '\0';
	enum rc rc = policy_parse(text, len, out, diags);
	if (!rc) {
		/* The secrets the policy names, relative to its own directory. */
		char *copy = xstrdup(path);
		char *slash = strrchr(copy, '/');
		if (slash)
			*(slash == copy ? slash + 1 : slash) = '\0';
		rc = policy_load_secrets(*out, slash ? copy : ".", diags);
		free(copy);
		if (rc) {
			policy_free(*out);
			*out = NULL;
		}
	}
	if (!rc && source)
		*source = text;
	else
		free(text);
	return rc;
}

/* One secret file: whsec_ and the base64 of a key of 16..64 bytes. */
static void load_secret(struct pctx *c, const char *dir, const char *owner, struct policy_notify *n)
{
	char path[4200], text[256];
	if (n->secret_file[0] == '/')
		snprintf(path, sizeof path, "%s", n->secret_file);
	else
		snprintf(path, sizeof path, "%s/%s", dir, n->secret_file);
	size_t before = c->diags ? c->diags->n : 0;
	FILE *f = fopen(path, "rb");
	size_t len = 0;
	if (!f) {
		policy_err(c, NULL, "%s: secret_file %s cannot be read: %s", owner, n->secret_file, strerror(errno));
	} else {
		len = fread(text, 1, sizeof text - 1, f);
		fclose(f);
		while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
			len--;
		text[len] = '\0';
		size_t klen = 0;
		if (strncmp(text, "whsec_", 6) ||
		    sodium_base642bin(n->secret, sizeof n->secret, text + 6, len - 6, NULL, &klen, NULL,
		                      sodium_base64_VARIANT_ORIGINAL) || klen < 16)
			policy_err(c, NULL, "%s: secret_file %s must hold whsec_ and the base64 of a key of 16 to %d bytes",
			           owner, n->secret_file, POLICY_SECRET_MAX);
		else {
			n->secret_len = klen;
			n->has_secret = true;
		}
		sodium_memzero(text, sizeof text);
	}
	if (c->diags && c->diags->n > before)
		c->diags->v[c->diags->n - 1].line = n->line;
}

enum rc policy_load_secrets(struct policy *p, const char *dir, struct policy_diags *diags)
{
	struct pctx c = {.diags = diags, .p = p};
	char owner[120];
	for (size_t i = 0; i < p->nsystems; i++)
		if (p->systems[i].notify.secret_file) {
			snprintf(owner, sizeof owner, "system '%s'", p->systems[i].name);
			load_secret(&c, dir, owner, &p->systems[i].notify);
		}
	for (size_t i = 0; i < p->nrecipients; i++)
		if (p->recipients[i].notify.secret_file) {
			snprintf(owner, sizeof owner, "recipient '%s'", p->recipients[i].name);
			load_secret(&c, dir, owner, &p->recipients[i].notify);
		}
	return c.nerrors ? RC_POLICY : RC_OK;
}

const struct policy_system *policy_system(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nsystems; i++)
		if (!strcmp(p->systems[i].name, name))
			return &p->systems[i];
	return NULL;
}

bool policy_system_holds(const struct policy_system *y, const struct policy_record *r, const struct policy_field *f)
{
	for (size_t i = 0; i < y->nfields; i++)
		if (y->fields[i] == f)
			return true;
	for (size_t i = 0; r && i < y->nrecords; i++)
		if (y->records[i] == r)
			return !f || policy_record_has_field(r, f);
	return false;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nsystems; i++)
		sodium_memzero(p->systems[i].notify.secret, sizeof p->systems[i].notify.secret);
	for (size_t i = 0; i < p->nrecipients; i++)
		sodium_memzero(p->recipients[i].notify.secret, sizeof p->recipients[i].notify.secret);
	arena_fini(&p->arena);
	free(p);
}

const struct policy_field *policy_field(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nfields; i++)
		if (!strcmp(p->fields[i].name, name))
			return &p->fields[i];
	return NULL;
}

const struct policy_purpose *policy_purpose(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->npurposes; i++)
		if (!strcmp(p->purposes[i].name, name))
			return &p->purposes[i];
	return NULL;
}

const struct policy_record *policy_record(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nrecords; i++)
		if (!strcmp(p->records[i].name, name))
			return &p->records[i];
	return NULL;
}

const struct policy_recipient *policy_recipient(const struct policy *p, const char *name)
{
	for (size_t i = 0; i < p->nrecipients; i++)
		if (!strcmp(p->recipients[i].name, name))
			return &p->recipients[i];
	return NULL;
}

const struct policy_consent_source *policy_consent_source(const struct policy *p, const char *name)
{
	for (size_t i = 0; name && i < p->nconsent_sources; i++)
		if (!strcmp(p->consent_sources[i].name, name))
			return &p->consent_sources[i];
	return NULL;
}

bool policy_consent_source_covers(const struct policy_consent_source *s, const struct policy_purpose *u)
{
	if (u->basis != BASIS_CONSENT)
		return false;
	if (!s->npurposes)
		return true;
	for (size_t i = 0; i < s->npurposes; i++)
		if (s->purposes[i] == u)
			return true;
	return false;
}

bool policy_record_has_field(const struct policy_record *r, const struct policy_field *f)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i] == f)
			return true;
	return false;
}

const char *policy_record_keep_event(const struct policy_record *r)
{
	return r->keep.rule == KEEP_WHILE_ACTIVE ? "closed" : r->keep.event;
}

const struct policy_event *policy_record_event(const struct policy_record *r, const char *name)
{
	for (size_t i = 0; i < r->nevents; i++)
		if (!strcmp(r->events[i].name, name))
			return &r->events[i];
	return NULL;
}

size_t policy_record_events(const struct policy_record *r, const char **out, size_t max)
{
	size_t n = 0;
	const char *keep = policy_record_keep_event(r);
	if (strcmp(keep, "created")) {
		if (n < max)
			out[n] = keep;
		n++;
	}
	for (size_t i = 0; i < r->nevents; i++) {
		if (!strcmp(r->events[i].name, keep))
			continue;
		if (n < max)
			out[n] = r->events[i].name;
		n++;
	}
	return n;
}

bool policy_record_allows_event(const struct policy_record *r, const char *name)
{
	return strcmp(name, "created") &&
	       (!strcmp(name, policy_record_keep_event(r)) || policy_record_event(r, name));
}

const char *policy_title_in(const struct policy_title *t, const char *lang, const char *fallback)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].lang, lang))
			return t->v[i].text;
	return t->n ? t->v[0].text : fallback;
}

/* ---- warnings: what the notice would leave unsaid ---- */

PRINTF(3, 4) static void warn(struct policy_diags *d, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_add(d, line, fmt, ap);
	va_end(ap);
}

/* The first of the policy's languages t has no text in, or NULL. */
static const char *missing_lang(const struct policy *p, const struct policy_title *t)
{
	for (size_t i = 0; i < p->nlanguages; i++) {
		bool have = false;
		for (size_t j = 0; j < t->n && !have; j++)
			have = !strcmp(t->v[j].lang, p->languages[i]);
		if (!have)
			return p->languages[i];
	}
	return NULL;
}

/* The events the notice has its own words for in every language (the
 * `events` table of core/notice.c); any other needs a title. */
static bool event_has_words(const char *name)
{
	static const char *const known[] = {"created", "fulfilled", "resolved", "closed", "answered"};
	for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
		if (!strcmp(name, known[i]))
			return true;
	return false;
}

void policy_warnings(const struct policy *p, struct policy_diags *out)
{
	size_t first = out->n;
	const char *l;
	for (size_t i = 0; i < p->nfields; i++)
		if ((l = missing_lang(p, &p->fields[i].title)))
			warn(out, p->fields[i].line, "field '%s' has no title in '%s': the notice shows its name",
			     p->fields[i].name, l);
	for (size_t i = 0; i < p->npurposes; i++)
		if (p->purposes[i].basis == BASIS_LEGITIMATE_INTEREST && !p->purposes[i].interest.n)
			warn(out, p->purposes[i].line,
			     "purpose '%s' is a legitimate interest: say which in 'interest' (Art. 13(1)(d))",
			     p->purposes[i].name);
	for (size_t i = 0; i < p->nrecords; i++)
		if ((l = missing_lang(p, &p->records[i].title)))
			warn(out, p->records[i].line, "record '%s' has no title in '%s': the notice shows its name",
			     p->records[i].name, l);
	for (size_t i = 0; i < p->nrecords; i++) {
		const struct policy_record *r = &p->records[i];
		if (r->keep.rule == KEEP_AFTER_EVENT && !event_has_words(r->keep.event) &&
		    !policy_record_event(r, r->keep.event))
			warn(out, r->line, "record '%s' is kept after '%s', which has no title: declare it under "
			     "events: with a title in each language, or the notice shows its name", r->name, r->keep.event);
	}
	if (p->requests.has_keep && !event_has_words(p->requests.keep.event))
		warn(out, 1, "requests.keep counts from '%s', which the notice has no words for: the notice shows its name",
		     p->requests.keep.event);
	for (size_t i = 0; i < p->nrecipients; i++)
		if ((l = missing_lang(p, &p->recipients[i].title)))
			warn(out, p->recipients[i].line, "recipient '%s' has no title in '%s': the notice shows its name",
			     p->recipients[i].name, l);
	if (p->automated == AUTOMATED_UNDECLARED)
		warn(out, 1, "automated_decisions is not declared: the notice says nothing about automated "
		             "decisions or profiling ('none', or a text per language)");
	if (out->n > first)
		qsort(out->v + first, out->n - first, sizeof *out->v, diag_cmp);
}
