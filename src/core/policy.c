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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/xalloc.h"
#include "core/country.h"
#include "core/field.h"

/* Guards against alias bombs: no sane policy has this many nodes to visit. */
#define MAX_VISITS 200000

struct pctx {
	yaml_document_t *doc;
	struct policy *p;
	struct policy_diags *diags;
	size_t nerrors;
	size_t visits;
};

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

static int line_of(const yaml_node_t *n)
{
	return n ? (int)n->start_mark.line + 1 : 1; /* the file as a whole */
}

PRINTF(3, 4) static void err(struct pctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	diag_add(c->diags, line_of(n), fmt, ap);
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

static yaml_node_t *node(struct pctx *c, int id)
{
	c->visits++;
	return yaml_document_get_node(c->doc, id);
}

static const char *scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ? (const char *)n->data.scalar.value : NULL;
}

/* A scalar written without quotes may be read as a number or a bool. */
static bool plain(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

static const char *want_string(struct pctx *c, const yaml_node_t *n, const char *what)
{
	const char *s = scalar(n);
	if (!s) {
		err(c, n, "%s must be a text value", what);
		return NULL;
	}
	if (!*s) {
		err(c, n, "%s must not be empty", what);
		return NULL;
	}
	if (strlen(s) > 4096) {
		err(c, n, "%s is longer than 4096 characters", what);
		return NULL;
	}
	return arena_strdup(&c->p->arena, s);
}

static bool want_bool(struct pctx *c, const yaml_node_t *n, const char *what, bool *out)
{
	const char *s = scalar(n);
	if (s && plain(n) && !strcmp(s, "true")) {
		*out = true;
		return true;
	}
	if (s && plain(n) && !strcmp(s, "false")) {
		*out = false;
		return true;
	}
	err(c, n, "%s must be true or false", what);
	return false;
}

static bool want_int(struct pctx *c, const yaml_node_t *n, const char *what, long lo, long hi, int *out)
{
	const char *s = scalar(n);
	char *end;
	if (s && plain(n) && *s) {
		errno = 0;
		long v = strtol(s, &end, 10);
		if (!*end && !errno && v >= lo && v <= hi) {
			*out = (int)v;
			return true;
		}
	}
	err(c, n, "%s must be a whole number from %ld to %ld", what, lo, hi);
	return false;
}

static bool want_duration(struct pctx *c, const yaml_node_t *n, const char *what, struct duration *d)
{
	const char *s = scalar(n);
	if (s && timeutil_parse_duration(s, d) == RC_OK)
		return true;
	err(c, n, "%s: bad duration '%.60s' (expected N days|weeks|months|years)", what, s ? s : "");
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
typedef void pair_fn(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

static bool each_pair(struct pctx *c, yaml_node_t *map, const char *what,
                      const char *const *allowed, pair_fn *fn, void *arg)
{
	if (!map || map->type != YAML_MAPPING_NODE) {
		err(c, map, "%s must be a mapping", what);
		return false;
	}
	yaml_node_pair_t *start = map->data.mapping.pairs.start;
	yaml_node_pair_t *top = map->data.mapping.pairs.top;
	for (yaml_node_pair_t *pr = start; pr < top; pr++) {
		if (c->visits > MAX_VISITS)
			return false;
		yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
		const char *key = scalar(k);
		if (!key) {
			err(c, k, "%s: keys must be plain names", what);
			continue;
		}
		bool dup = false;
		for (yaml_node_pair_t *q = start; q < pr && !dup; q++) {
			const char *other = scalar(node(c, q->key));
			dup = other && !strcmp(other, key);
		}
		if (dup) {
			err(c, k, "%s: duplicate key '%.60s'", what, key);
			continue;
		}
		if (allowed) {
			bool ok = false;
			for (const char *const *a = allowed; *a && !ok; a++)
				ok = !strcmp(*a, key);
			if (!ok) {
				err(c, k, "unknown key '%.60s' in %s", key, what);
				continue;
			}
		} else if (!is_ident(key)) {
			err(c, k, "%s: '%.60s' is not a valid name (a-z, 0-9, _)", what, key);
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
typedef const void *find_fn(const struct policy *p, const char *name);

static size_t name_list(struct pctx *c, yaml_node_t *n, const char *what, const char *kind,
                        find_fn *find, const void ***out)
{
	*out = NULL;
	if (!n || n->type != YAML_SEQUENCE_NODE) {
		err(c, n, "%s must be a list, e.g. [a, b]", what);
		return 0;
	}
	size_t cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	const void **v = arena_alloc(&c->p->arena, (cap ? cap : 1) * sizeof *v);
	size_t cnt = 0;
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		const char *name = scalar(e);
		if (!name) {
			err(c, e, "%s: entries must be names", what);
			continue;
		}
		const void *x = find(c->p, name);
		if (!x) {
			err(c, e, "%s: unknown %s '%.60s'", what, kind, name);
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < cnt && !dup; i++)
			dup = v[i] == x;
		if (dup) {
			err(c, e, "%s: '%.60s' is listed twice", what, name);
			continue;
		}
		v[cnt++] = x;
	}
	*out = v;
	return cnt;
}

static const void *find_field(const struct policy *p, const char *n) { return policy_field(p, n); }
static const void *find_purpose(const struct policy *p, const char *n) { return policy_purpose(p, n); }

/* ---- enum tables ---- */

struct name_val {
	const char *name;
	int val;
};

static const struct name_val field_types[] = {
	{"text", FT_TEXT}, {"email", FT_EMAIL}, {"phone", FT_PHONE}, {"date", FT_DATE},
	{"datetime", FT_DATETIME}, {"enum", FT_ENUM}, {"decimal", FT_DECIMAL},
	{"integer", FT_INTEGER}, {"bool", FT_BOOL}, {"ip", FT_IP}, {"country", FT_COUNTRY},
	{"json", FT_JSON}, {NULL, 0},
};
static const struct name_val bases[] = {
	{"consent", BASIS_CONSENT}, {"contract", BASIS_CONTRACT},
	{"legal_obligation", BASIS_LEGAL_OBLIGATION}, {"legitimate_interest", BASIS_LEGITIMATE_INTEREST},
	{"vital_interest", BASIS_VITAL_INTEREST}, {"public_task", BASIS_PUBLIC_TASK}, {NULL, 0},
};
static const struct name_val channels[] = {
	{"none", CHANNEL_NONE}, {"email", CHANNEL_EMAIL}, {"sms", CHANNEL_SMS}, {"phone", CHANNEL_PHONE},
	{"post", CHANNEL_POST}, {"push", CHANNEL_PUSH}, {NULL, 0},
};
static const struct name_val roles[] = {
	{"processor", RECIPIENT_PROCESSOR}, {"controller", RECIPIENT_CONTROLLER},
	{"authority", RECIPIENT_AUTHORITY}, {NULL, 0},
};
static const struct name_val transfers[] = {
	{"none", TRANSFER_NONE}, {"adequacy", TRANSFER_ADEQUACY}, {"scc", TRANSFER_SCC},
	{"bcr", TRANSFER_BCR}, {NULL, 0},
};
static const struct name_val thens[] = {
	{"delete", THEN_DELETE}, {"anonymize", THEN_ANONYMIZE}, {NULL, 0},
};

static const char *nv_name(const struct name_val *t, int v)
{
	for (; t->name; t++)
		if (t->val == v)
			return t->name;
	return "?";
}

static bool want_enum(struct pctx *c, yaml_node_t *n, const char *what,
                      const struct name_val *t, int *out)
{
	const char *s = scalar(n);
	for (const struct name_val *e = t; s && e->name; e++) {
		if (!strcmp(s, e->name)) {
			*out = e->val;
			return true;
		}
	}
	char list[200] = "";
	for (const struct name_val *e = t; e->name; e++) {
		if (e->val == 0 && (t == channels || t == transfers))
			continue;
		strncat(list, e->name, sizeof list - strlen(list) - 3);
		if (e[1].name)
			strcat(list, ", ");
	}
	err(c, n, "%s: unknown value '%.40s' (one of: %s)", what, s ? s : "", list);
	return false;
}

const char *policy_field_type_name(enum field_type t) { return nv_name(field_types, t); }
const char *policy_basis_name(enum legal_basis b) { return nv_name(bases, b); }
const char *policy_channel_name(enum channel ch) { return nv_name(channels, ch); }
const char *policy_role_name(enum recipient_role r) { return nv_name(roles, r); }
const char *policy_transfer_name(enum transfer_basis t) { return nv_name(transfers, t); }
const char *policy_then_name(enum then_action t) { return nv_name(thens, t); }

/* ---- titles ---- */

/*
 * Titles are often written in flow style, `{ et: A, B, en: C }`, where YAML
 * reads the unquoted comma as the end of an entry and B as a key with no
 * value. The author meant "A, B", so such a key is joined to the text before
 * it. Anything else that is not a declared language is a mistake.
 */
static void read_title(struct pctx *c, yaml_node_t *n, const char *owner, struct policy_title *t)
{
	char what[120];
	snprintf(what, sizeof what, "the title of %s", owner);
	t->n = 0;
	if (!n || n->type != YAML_MAPPING_NODE) {
		err(c, n, "%s must be a mapping of language: text", what);
		t->v = arena_alloc(&c->p->arena, sizeof *t->v);
		return;
	}
	t->v = arena_alloc(&c->p->arena, (map_size(n) + 1) * sizeof *t->v);
	bool flow = n->data.mapping.style == YAML_FLOW_MAPPING_STYLE;
	for (yaml_node_pair_t *pr = n->data.mapping.pairs.start; pr < n->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = node(c, pr->key), *v = node(c, pr->value);
		const char *key = scalar(k), *val = scalar(v);
		if (!key) {
			err(c, k, "%s: keys must be language codes", what);
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
			err(c, k, "%s: '%.20s' is not one of the policy's languages", what, key);
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < t->n && !dup; i++)
			dup = !strcmp(t->v[i].lang, key);
		if (dup) {
			err(c, k, "%s: translation '%s' is given twice", what, key);
			continue;
		}
		const char *text = want_string(c, v, what);
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
			err(c, n, "%s: missing translation '%s'", what, c->p->languages[i]);
	}
}

/* ---- keep rules ---- */

static bool parse_keep(struct pctx *c, yaml_node_t *n, const char *what, struct policy_keep *k)
{
	const char *s = scalar(n);
	if (!s) {
		err(c, n, "%s must be e.g. '3 years after created' or 'while active'", what);
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
		err(c, n, "%s: bad rule '%.60s' (expected 'while active' or 'while active + N unit')", what, s);
		return false;
	}
	const char *after = strstr(s, " after ");
	if (!after) {
		err(c, n, "%s: bad rule '%.60s' (expected 'N unit after EVENT' or 'while active')", what, s);
		return false;
	}
	char dur[64];
	size_t dl = (size_t)(after - s);
	if (dl >= sizeof dur || (snprintf(dur, sizeof dur, "%.*s", (int)dl, s),
	                         timeutil_parse_duration(dur, &k->period) != RC_OK)) {
		err(c, n, "%s: bad duration '%.*s' (expected N days|weeks|months|years)", what,
		    (int)(dl > 60 ? 60 : dl), s);
		return false;
	}
	const char *ev = after + 7;
	if (!is_ident(ev)) {
		err(c, n, "%s: '%.60s' is not an event name (a-z, 0-9, _)", what, ev);
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
	if (k->rule == KEEP_AFTER_EVENT)
		snprintf(out, size, "%s after %s", d, k->event);
	else if (k->period.n)
		snprintf(out, size, "while active + %s", d);
	else
		snprintf(out, size, "while active");
}

/* ---- controller ---- */

static void controller_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_controller *ct = &c->p->controller;
	if (!strcmp(key, "authority")) {
		struct { const char *key; const char **dst; } const slots[] = {
			{"name", &ct->authority_name}, {"email", &ct->authority_email}, {"url", &ct->authority_url},
		};
		if (!v || v->type != YAML_MAPPING_NODE) {
			err(c, v, "controller.authority must be a mapping");
			return;
		}
		for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
			yaml_node_t *ak = node(c, pr->key), *av = node(c, pr->value);
			const char *akey = scalar(ak);
			bool found = false;
			for (size_t i = 0; akey && i < 3; i++) {
				if (strcmp(akey, slots[i].key))
					continue;
				found = true;
				if (*slots[i].dst)
					err(c, ak, "controller.authority: duplicate key '%s'", akey);
				else
					*slots[i].dst = want_string(c, av, "controller.authority value");
			}
			if (!found)
				err(c, ak, "unknown key '%.60s' in controller.authority", akey ? akey : "");
		}
		if (!ct->authority_name)
			err(c, v, "controller.authority needs a name");
		if (!ct->authority_email && !ct->authority_url)
			err(c, v, "controller.authority needs an email or a url");
		if (ct->authority_email && !field_email_ok(ct->authority_email))
			err(c, v, "controller.authority.email is not an e-mail address");
		return;
	}
	const char **dst = !strcmp(key, "name") ? &ct->name : !strcmp(key, "code") ? &ct->code
	                 : !strcmp(key, "address") ? &ct->address : !strcmp(key, "email") ? &ct->email
	                 : &ct->dpo;
	char what[40];
	snprintf(what, sizeof what, "controller.%s", key);
	*dst = want_string(c, v, what);
	if (*dst && (dst == &ct->email || dst == &ct->dpo) && !field_email_ok(*dst))
		err(c, v, "%s is not an e-mail address", what);
}

static void read_controller(struct pctx *c, yaml_node_t *n)
{
	static const char *const keys[] = {"name", "code", "address", "email", "dpo", "authority", NULL};
	if (!each_pair(c, n, "controller", keys, controller_pair, NULL))
		return;
	if (!c->p->controller.name)
		err(c, n, "controller needs a name");
	if (!c->p->controller.email)
		err(c, n, "controller needs an email");
	if (!c->p->controller.authority_name)
		err(c, n, "controller needs an authority (the supervisory authority)");
}

/* ---- languages ---- */

static void read_languages(struct pctx *c, yaml_node_t *n)
{
	struct policy *p = c->p;
	if (!n || n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start) {
		err(c, n, "languages must be a non-empty list, e.g. [et, en]");
		return;
	}
	size_t cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	p->languages = arena_alloc(&p->arena, cap * sizeof *p->languages);
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = node(c, *it);
		const char *s = scalar(e);
		if (!s || strlen(s) != 2 || s[0] < 'a' || s[0] > 'z' || s[1] < 'a' || s[1] > 'z') {
			err(c, e, "languages: '%.20s' is not a two-letter ISO 639-1 code", s ? s : "");
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < p->nlanguages && !dup; i++)
			dup = !strcmp(p->languages[i], s);
		if (dup) {
			err(c, e, "languages: '%s' is listed twice", s);
			continue;
		}
		p->languages[p->nlanguages++] = arena_strdup(&p->arena, s);
	}
}

/* ---- requests ---- */

/* True when d can be longer than `months` calendar months. */
static bool longer_than_months(struct duration d, int months)
{
	switch (d.unit) {
	case TU_DAYS: return d.n > months * 28;
	case TU_WEEKS: return d.n * 7 > months * 28;
	case TU_MONTHS: return d.n > months;
	case TU_YEARS: return d.n * 12 > months;
	}
	return true;
}

static void requests_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_requests *r = &c->p->requests;
	if (!strcmp(key, "answer_within")) {
		if (want_duration(c, v, "requests.answer_within", &r->answer_within) &&
		    longer_than_months(r->answer_within, 1))
			err(c, v, "requests.answer_within may be at most 1 month (GDPR Art. 12(3))");
	} else if (!strcmp(key, "extend_up_to")) {
		if (want_duration(c, v, "requests.extend_up_to", &r->extend_up_to) &&
		    longer_than_months(r->extend_up_to, 2))
			err(c, v, "requests.extend_up_to may be at most 2 months (GDPR Art. 12(3))");
	} else if (!strcmp(key, "target")) {
		r->has_target = want_duration(c, v, "requests.target", &r->target);
	} else {
		r->has_keep = parse_keep(c, v, "requests.keep", &r->keep);
		if (r->has_keep && r->keep.rule != KEEP_AFTER_EVENT) {
			err(c, v, "requests.keep must be 'N unit after EVENT'");
			r->has_keep = false;
		}
	}
}

static void read_requests(struct pctx *c, yaml_node_t *n)
{
	static const char *const keys[] = {"answer_within", "extend_up_to", "target", "keep", NULL};
	if (n) /* else the GDPR defaults stand */
		each_pair(c, n, "requests", keys, requests_pair, NULL);
}

/* ---- fields ---- */

static void field_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_field *f = arg;
	char what[120];
	snprintf(what, sizeof what, "field '%s'", f->name);
	if (!strcmp(key, "type")) {
		int t;
		if (want_enum(c, v, what, field_types, &t))
			f->type = (enum field_type)t;
		else
			f->type = (enum field_type)-1;
	} else if (!strcmp(key, "max")) {
		want_int(c, v, "max", 1, POLICY_TEXT_MAX_MAX, &f->max);
	} else if (!strcmp(key, "values")) {
		if (!v || v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start) {
			err(c, v, "%s: values must be a non-empty list", what);
			return;
		}
		size_t cap = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		f->values = arena_alloc(&c->p->arena, cap * sizeof *f->values);
		for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = node(c, *it);
			const char *s = want_string(c, e, "an enum value");
			if (!s)
				continue;
			bool dup = false;
			for (size_t i = 0; i < f->nvalues && !dup; i++)
				dup = !strcmp(f->values[i], s);
			if (dup)
				err(c, e, "%s: value '%.40s' is listed twice", what, s);
			else
				f->values[f->nvalues++] = s;
		}
	} else if (!strcmp(key, "lookup")) {
		want_bool(c, v, "lookup", &f->lookup);
	} else if (!strcmp(key, "truncate_after")) {
		f->has_truncate = want_duration(c, v, "truncate_after", &f->truncate_after);
	} else if (!strcmp(key, "title")) {
		read_title(c, v, what, &f->title);
	}
}

static void fields_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"type", "max", "values", "lookup", "truncate_after", "title", NULL};
	struct policy *p = c->p;
	struct policy_field *f = &p->fields[p->nfields];
	memset(f, 0, sizeof *f);
	f->name = arena_strdup(&p->arena, key);
	f->line = line_of(k);
	f->type = (enum field_type)-2; /* not given */
	char what[120];
	snprintf(what, sizeof what, "field '%s'", key);
	if (!each_pair(c, v, what, keys, field_pair, f))
		return;
	p->nfields++;
	if ((int)f->type == -2) {
		err(c, k, "%s needs a type", what);
		return;
	}
	if ((int)f->type < 0)
		return;
	if (f->max && f->type != FT_TEXT)
		err(c, v, "%s: max is only for text fields", what);
	if (f->type == FT_TEXT && !f->max)
		f->max = POLICY_TEXT_DEFAULT_MAX;
	if (f->type == FT_ENUM && !f->nvalues)
		err(c, v, "%s: an enum needs values", what);
	if (f->type != FT_ENUM && f->values)
		err(c, v, "%s: values are only for enum fields", what);
	if (f->has_truncate && f->type != FT_IP)
		err(c, v, "%s: truncate_after is only for ip fields", what);
	if (f->lookup && (f->type == FT_JSON || f->type == FT_BOOL))
		err(c, v, "%s: a %s field cannot be a lookup field", what, policy_field_type_name(f->type));
}

/* ---- purposes ---- */

struct purpose_arg {
	struct policy_purpose *u;
	yaml_node_t *double_opt_in, *objectable, *channel;
};

static void purpose_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct purpose_arg *a = arg;
	struct policy_purpose *u = a->u;
	char what[120];
	snprintf(what, sizeof what, "purpose '%s'", u->name);
	int x;
	if (!strcmp(key, "basis")) {
		u->basis = want_enum(c, v, what, bases, &x) ? (enum legal_basis)x : (enum legal_basis)-1;
	} else if (!strcmp(key, "channel")) {
		a->channel = k;
		if (want_enum(c, v, what, channels, &x))
			u->channel = (enum channel)x;
	} else if (!strcmp(key, "double_opt_in")) {
		a->double_opt_in = k;
		want_bool(c, v, "double_opt_in", &u->double_opt_in);
	} else if (!strcmp(key, "objectable")) {
		a->objectable = k;
		want_bool(c, v, "objectable", &u->objectable);
	} else if (!strcmp(key, "title")) {
		read_title(c, v, what, &u->title);
	}
}

static void purposes_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"basis", "channel", "double_opt_in", "objectable", "title", NULL};
	struct policy *p = c->p;
	struct policy_purpose *u = &p->purposes[p->npurposes];
	memset(u, 0, sizeof *u);
	u->name = arena_strdup(&p->arena, key);
	u->line = line_of(k);
	u->basis = (enum legal_basis)-2;
	char what[120];
	struct purpose_arg a = {.u = u};
	snprintf(what, sizeof what, "purpose '%s'", key);
	if (!each_pair(c, v, what, keys, purpose_pair, &a))
		return;
	p->npurposes++;
	if ((int)u->basis == -2)
		err(c, k, "%s needs a basis", what);
	if (!u->title.v)
		err(c, k, "%s needs a title", what);
	if ((int)u->basis < 0)
		return;
	if (u->double_opt_in && u->basis != BASIS_CONSENT)
		err(c, a.double_opt_in, "%s: double_opt_in is only for consent purposes", what);
	if (u->objectable && u->basis != BASIS_LEGITIMATE_INTEREST && u->basis != BASIS_PUBLIC_TASK &&
	    u->channel == CHANNEL_NONE)
		err(c, a.objectable, "%s: only legitimate_interest or public_task purposes are objectable (Art. 21)", what);
	if (u->channel != CHANNEL_NONE && u->basis != BASIS_CONSENT && u->basis != BASIS_LEGITIMATE_INTEREST)
		err(c, a.channel, "%s: direct marketing (a channel) needs basis consent or legitimate_interest", what);
	if (u->channel != CHANNEL_NONE)
		u->objectable = true; /* Art. 21(2): direct marketing is always objectable */
}

/* ---- records ---- */

struct record_arg {
	struct policy_record *r;
	yaml_node_t *required, *keep_fields, *fields;
	bool has_keep, has_purposes;
};

static void record_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct record_arg *a = arg;
	struct policy_record *r = a->r;
	char what[120];
	int x;
	snprintf(what, sizeof what, "record '%s' %s", r->name, key);
	if (!strcmp(key, "fields")) {
		a->fields = v;
		r->nfields = name_list(c, v, what, "field", find_field, (const void ***)&r->fields);
	} else if (!strcmp(key, "required")) {
		a->required = v;
	} else if (!strcmp(key, "keep_fields")) {
		a->keep_fields = v;
	} else if (!strcmp(key, "purposes")) {
		a->has_purposes = true;
		r->npurposes = name_list(c, v, what, "purpose", find_purpose, (const void ***)&r->purposes);
		if (!r->npurposes && v && v->type == YAML_SEQUENCE_NODE)
			err(c, v, "%s: a record needs at least one purpose", what);
	} else if (!strcmp(key, "keep")) {
		a->has_keep = true; /* a bad rule is reported by parse_keep */
		parse_keep(c, v, what, &r->keep);
	} else if (!strcmp(key, "then")) {
		if (want_enum(c, v, what, thens, &x))
			r->then = (enum then_action)x;
	} else if (!strcmp(key, "erasable")) {
		want_bool(c, v, what, &r->erasable);
	} else if (!strcmp(key, "title")) {
		read_title(c, v, what, &r->title);
	}
}

/* Resolves a list of field names that must be a subset of the record's fields. */
static size_t subset(struct pctx *c, struct policy_record *r, yaml_node_t *n, const char *key,
                     const struct policy_field ***out)
{
	char what[120];
	snprintf(what, sizeof what, "record '%s' %s", r->name, key);
	size_t cnt = name_list(c, n, what, "field", find_field, (const void ***)out);
	for (size_t i = 0; i < cnt; i++) {
		if (!policy_record_has_field(r, (*out)[i])) {
			yaml_node_t *e = node(c, n->data.sequence.items.start[i]);
			for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
				const char *s = scalar(node(c, *it));
				if (s && !strcmp(s, (*out)[i]->name))
					e = node(c, *it);
			}
			err(c, e, "%s: '%s' is not one of the record's fields", what, (*out)[i]->name);
		}
	}
	return cnt;
}

static void records_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"fields", "required", "purposes", "keep", "then",
	                                   "keep_fields", "erasable", "title", NULL};
	struct policy *p = c->p;
	struct policy_record *r = &p->records[p->nrecords];
	memset(r, 0, sizeof *r);
	r->name = arena_strdup(&p->arena, key);
	r->line = line_of(k);
	r->erasable = true;
	r->then = THEN_DELETE;
	struct record_arg a = {.r = r};
	char what[120];
	snprintf(what, sizeof what, "record '%s'", key);
	if (!each_pair(c, v, what, keys, record_pair, &a))
		return;
	p->nrecords++;
	if (!a.fields)
		err(c, k, "%s needs fields", what);
	if (!a.has_purposes)
		err(c, k, "%s needs purposes", what);
	if (!a.has_keep)
		err(c, k, "%s needs a keep rule (how long it is kept)", what);
	if (a.required)
		r->nrequired = subset(c, r, a.required, "required", &r->required);
	if (a.keep_fields) {
		r->nkeep_fields = subset(c, r, a.keep_fields, "keep_fields", &r->keep_fields);
		if (r->then != THEN_ANONYMIZE)
			err(c, a.keep_fields, "%s: keep_fields needs 'then: anonymize'", what);
	}
}

/* ---- recipients ---- */

struct recipient_arg {
	struct policy_recipient *r;
	yaml_node_t *fields, *country;
	bool has_role, bad_transfer;
};

static void recipient_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct recipient_arg *a = arg;
	struct policy_recipient *r = a->r;
	char what[120];
	int x;
	snprintf(what, sizeof what, "recipient '%s' %s", r->name, key);
	if (!strcmp(key, "role")) {
		if ((a->has_role = want_enum(c, v, what, roles, &x)))
			r->role = (enum recipient_role)x;
	} else if (!strcmp(key, "purposes")) {
		r->npurposes = name_list(c, v, what, "purpose", find_purpose, (const void ***)&r->purposes);
	} else if (!strcmp(key, "fields")) {
		a->fields = v;
		r->nfields = name_list(c, v, what, "field", find_field, (const void ***)&r->fields);
	} else if (!strcmp(key, "country")) {
		a->country = v;
		const char *s = scalar(v);
		if (!s || !country_valid(s))
			err(c, v, "%s: '%.20s' is not an ISO 3166-1 alpha-2 code (e.g. EE)", what, s ? s : "");
		else
			memcpy(r->country, s, 3);
	} else if (!strcmp(key, "transfer")) {
		/* A bad value is reported here, once. */
		a->bad_transfer = !want_enum(c, v, what, transfers, &x);
		if (!a->bad_transfer)
			r->transfer = (enum transfer_basis)x;
	} else if (!strcmp(key, "contract")) {
		r->contract = want_string(c, v, what);
	}
}

static void recipients_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"role", "purposes", "fields", "country", "transfer", "contract", NULL};
	struct policy *p = c->p;
	struct policy_recipient *r = &p->recipients[p->nrecipients];
	memset(r, 0, sizeof *r);
	r->name = arena_strdup(&p->arena, key);
	r->line = line_of(k);
	struct recipient_arg a = {.r = r};
	char what[120];
	snprintf(what, sizeof what, "recipient '%s'", key);
	if (!each_pair(c, v, what, keys, recipient_pair, &a))
		return;
	p->nrecipients++;
	if (!a.has_role) {
		err(c, k, "%s needs a role (processor, controller or authority)", what);
		return;
	}
	if (!a.country)
		err(c, k, "%s needs a country", what);
	else if (r->country[0] && !country_in_eea(r->country) && r->transfer == TRANSFER_NONE && !a.bad_transfer)
		err(c, a.country, "%s is in %s, outside the EEA: it needs a transfer basis (adequacy, scc or bcr)",
		    what, r->country);
	if (r->role == RECIPIENT_AUTHORITY) {
		if (a.fields)
			err(c, a.fields, "%s: an authority takes no fields; it receives what each disclosure's legal reference names", what);
		return;
	}
	if (!a.fields || !r->nfields)
		err(c, k, "%s needs the fields it may receive", what);
	if (!r->npurposes)
		err(c, k, "%s needs the purposes it receives data for", what);
	if (r->role == RECIPIENT_PROCESSOR && !r->contract)
		err(c, k, "%s: a processor needs a contract reference (Art. 28)", what);
}

/* ---- cookies ---- */

struct cookie_arg {
	struct policy_cookie *k;
	bool has_consent;
	yaml_node_t *consent;
};

static void cookie_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct cookie_arg *a = arg;
	char what[120];
	snprintf(what, sizeof what, "cookie '%s' %s", a->k->name, key);
	if (!strcmp(key, "purposes")) {
		a->k->npurposes = name_list(c, v, what, "purpose", find_purpose, (const void ***)&a->k->purposes);
	} else if (!strcmp(key, "consent")) {
		a->consent = v;
		a->has_consent = want_bool(c, v, what, &a->k->consent);
	} else if (!strcmp(key, "title")) {
		read_title(c, v, what, &a->k->title);
	}
}

static void cookies_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"purposes", "consent", "title", NULL};
	struct policy *p = c->p;
	struct policy_cookie *ck = &p->cookies[p->ncookies];
	memset(ck, 0, sizeof *ck);
	ck->name = arena_strdup(&p->arena, key);
	ck->line = line_of(k);
	struct cookie_arg a = {.k = ck};
	char what[120];
	snprintf(what, sizeof what, "cookie '%s'", key);
	if (!each_pair(c, v, what, keys, cookie_pair, &a))
		return;
	p->ncookies++;
	if (!a.has_consent)
		err(c, k, "%s needs consent: true or false", what);
	if (!ck->title.v)
		err(c, k, "%s needs a title", what);
	if (!ck->npurposes)
		err(c, k, "%s needs purposes", what);
	for (size_t i = 0; a.has_consent && !ck->consent && i < ck->npurposes; i++)
		if (ck->purposes[i]->basis == BASIS_CONSENT)
			err(c, a.consent, "%s serves consent purpose '%s', so it needs consent: true",
			    what, ck->purposes[i]->name);
}

/* ---- top level ---- */

enum section { S_VERSION, S_CONTROLLER, S_LANGUAGES, S_MIN_AGE, S_REQUESTS, S_FIELDS,
               S_PURPOSES, S_RECORDS, S_RECIPIENTS, S_COOKIES, S__COUNT };

static const char *const section_names[] = {
	"version", "controller", "languages", "min_age", "requests", "fields",
	"purposes", "records", "recipients", "cookies", NULL,
};

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
	if (!each_pair(c, root, "the policy", section_names, top_pair, sect))
		return;
	static const int required[] = {S_VERSION, S_CONTROLLER, S_LANGUAGES, S_FIELDS, S_PURPOSES, S_RECORDS};
	for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
		if (!sect[required[i]])
			err(c, NULL, "the policy needs '%s'", section_names[required[i]]);

	if (sect[S_VERSION]) {
		p->version = want_string(c, sect[S_VERSION], "version");
		if (p->version && strlen(p->version) > 64)
			err(c, sect[S_VERSION], "version is longer than 64 characters");
	}
	if (sect[S_LANGUAGES])
		read_languages(c, sect[S_LANGUAGES]);
	if (sect[S_CONTROLLER])
		read_controller(c, sect[S_CONTROLLER]);
	if (sect[S_MIN_AGE])
		want_int(c, sect[S_MIN_AGE], "min_age", 0, 120, &p->min_age);
	p->requests.answer_within = (struct duration){1, TU_MONTHS};
	p->requests.extend_up_to = (struct duration){2, TU_MONTHS};
	read_requests(c, sect[S_REQUESTS]);

	p->fields = section_array(c, sect[S_FIELDS], sizeof *p->fields);
	p->purposes = section_array(c, sect[S_PURPOSES], sizeof *p->purposes);
	p->records = section_array(c, sect[S_RECORDS], sizeof *p->records);
	p->recipients = section_array(c, sect[S_RECIPIENTS], sizeof *p->recipients);
	p->cookies = section_array(c, sect[S_COOKIES], sizeof *p->cookies);
	if (sect[S_FIELDS])
		each_pair(c, sect[S_FIELDS], "fields", NULL, fields_pair, NULL);
	if (sect[S_PURPOSES])
		each_pair(c, sect[S_PURPOSES], "purposes", NULL, purposes_pair, NULL);
	if (sect[S_RECORDS])
		each_pair(c, sect[S_RECORDS], "records", NULL, records_pair, NULL);
	if (sect[S_RECIPIENTS])
		each_pair(c, sect[S_RECIPIENTS], "recipients", NULL, recipients_pair, NULL);
	if (sect[S_COOKIES])
		each_pair(c, sect[S_COOKIES], "cookies", NULL, cookies_pair, NULL);

	if (p->min_age && policy_field(p, "birth_date") && policy_field(p, "birth_date")->type != FT_DATE)
		err(c, sect[S_MIN_AGE], "min_age needs the birth_date field to be of type date");
	if (p->requests.has_target && p->requests.target.unit >= TU_MONTHS &&
	    longer_than_months(p->requests.target, 1))
		err(c, sect[S_REQUESTS], "requests.target must be within requests.answer_within");
	if (c->visits > MAX_VISITS)
		err(c, NULL, "the policy is too large or too deeply aliased");
}

enum rc policy_parse(const char *text, size_t len, struct policy **out, struct policy_diags *diags)
{
	*out = NULL;
	if (len > POLICY_FILE_MAX) {
		struct pctx c0 = {.diags = diags};
		err(&c0, NULL, "the policy is larger than %d bytes", POLICY_FILE_MAX);
		return RC_POLICY;
	}
	struct policy *p = xcalloc(1, sizeof *p);
	arena_init(&p->arena);
	struct pctx c = {.p = p, .diags = diags};
	size_t first = diags ? diags->n : 0;
	yaml_parser_t parser;
	yaml_document_t doc;
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		err(&c, NULL, "not valid YAML");
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
		err(&c, NULL, "the policy is empty");
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
		err(&c0, NULL, "cannot open: %s", strerror(errno));
		return RC_IO;
	}
	char *text = xmalloc(POLICY_FILE_MAX + 1);
	size_t len = fread(text, 1, POLICY_FILE_MAX + 1, f);
	bool bad = ferror(f);
	fclose(f);
	if (bad) {
		free(text);
		err(&c0, NULL, "cannot read the file");
		return RC_IO;
	}
	text[len < POLICY_FILE_MAX ? len : POLICY_FILE_MAX] = '\0';
	enum rc rc = policy_parse(text, len, out, diags);
	if (!rc && source)
		*source = text;
	else
		free(text);
	return rc;
}

void policy_free(struct policy *p)
{
	if (!p)
		return;
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

bool policy_record_has_field(const struct policy_record *r, const struct policy_field *f)
{
	for (size_t i = 0; i < r->nfields; i++)
		if (r->fields[i] == f)
			return true;
	return false;
}

const char *policy_title_in(const struct policy_title *t, const char *lang, const char *fallback)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].lang, lang))
			return t->v[i].text;
	return t->n ? t->v[0].text : fallback;
}
