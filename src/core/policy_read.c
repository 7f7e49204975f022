/*
 * policy_read: the sections of a policy file, each read into its structs
 * with every mistake named by line (see policy_read.h; the framework and the
 * top level are in policy.c). Sections that name others (records,
 * recipients, cookies) are read after fields and purposes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"
#include "core/country.h"
#include "core/field.h"
#include "core/policy_read.h"

/* ---- controller ---- */

/* controller.mail.from: "Name <local@domain>" or "local@domain". The name
 * becomes a header: no control characters, quotes, angle brackets or
 * backslashes, so that nothing in it can end the header or the address. */
static void mail_from(struct pctx *c, yaml_node_t *v, struct policy_controller *ct)
{
	const char *s = policy_want_string(c, v, "controller.mail.from");
	if (!s)
		return;
	const char *lt = strchr(s, '<');
	size_t n = strlen(s);
	if (!lt) {
		ct->mail_from = s;
	} else if (n < 3 || s[n - 1] != '>' || lt == s) {
		policy_err(c, v, "controller.mail.from must be 'Name <address>' or an address");
		return;
	} else {
		size_t name_len = (size_t)(lt - s);
		while (name_len && s[name_len - 1] == ' ')
			name_len--;
		char *name = arena_alloc(&c->p->arena, name_len + 1), *addr = arena_alloc(&c->p->arena, n);
		memcpy(name, s, name_len);
		name[name_len] = '\0';
		memcpy(addr, lt + 1, (size_t)(s + n - 1 - (lt + 1)));
		addr[s + n - 1 - (lt + 1)] = '\0';
		bool ok = name_len > 0 && name_len <= 100;
		for (const unsigned char *p = (const unsigned char *)name; ok && *p; p++)
			ok = *p >= 0x20 && *p != 0x7f && !strchr("\"<>\\", *p);
		if (!ok) {
			policy_err(c, v, "controller.mail.from: the name (at most 100 characters) may not hold quotes, "
			                 "angle brackets, backslashes or control characters");
			return;
		}
		ct->mail_from_name = name;
		ct->mail_from = addr;
	}
	if (!field_email_ok(ct->mail_from)) {
		policy_err(c, v, "controller.mail.from: '%.80s' is not an e-mail address", ct->mail_from);
		ct->mail_from = ct->mail_from_name = NULL;
	}
}

static void mail_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_controller *ct = &c->p->controller;
	if (!strcmp(key, "from")) {
		mail_from(c, v, ct);
		return;
	}
	if (!strcmp(key, "templates")) {
		/* Its files are read by `policy check` and at installation
		 * (core/mail.h), relative to the policy file: not here. */
		ct->mail_templates = policy_want_string(c, v, "controller.mail.templates");
		if (ct->mail_templates && strlen(ct->mail_templates) > 1024) {
			policy_err(c, v, "controller.mail.templates: a directory name of at most 1024 characters");
			ct->mail_templates = NULL;
		}
		return;
	}
	ct->mail_reply_to = policy_want_string(c, v, "controller.mail.reply_to");
	if (ct->mail_reply_to && !field_email_ok(ct->mail_reply_to)) {
		policy_err(c, v, "controller.mail.reply_to is not an e-mail address");
		ct->mail_reply_to = NULL;
	}
}

static void controller_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_controller *ct = &c->p->controller;
	if (!strcmp(key, "mail")) {
		static const char *const keys[] = {"from", "reply_to", "templates", NULL};
		policy_each_pair(c, v, "controller.mail", keys, mail_pair, NULL);
		return;
	}
	if (!strcmp(key, "authority")) {
		struct { const char *key; const char **dst; } const slots[] = {
			{"name", &ct->authority_name}, {"email", &ct->authority_email}, {"url", &ct->authority_url},
		};
		if (!v || v->type != YAML_MAPPING_NODE) {
			policy_err(c, v, "controller.authority must be a mapping");
			return;
		}
		for (yaml_node_pair_t *pr = v->data.mapping.pairs.start; pr < v->data.mapping.pairs.top; pr++) {
			yaml_node_t *ak = policy_node(c, pr->key), *av = policy_node(c, pr->value);
			const char *akey = policy_scalar(ak);
			bool found = false;
			for (size_t i = 0; akey && i < 3; i++) {
				if (strcmp(akey, slots[i].key))
					continue;
				found = true;
				if (*slots[i].dst)
					policy_err(c, ak, "controller.authority: duplicate key '%s'", akey);
				else
					*slots[i].dst = policy_want_string(c, av, "controller.authority value");
			}
			if (!found)
				policy_err(c, ak, "unknown key '%.60s' in controller.authority", akey ? akey : "");
		}
		if (!ct->authority_name)
			policy_err(c, v, "controller.authority needs a name");
		if (!ct->authority_email && !ct->authority_url)
			policy_err(c, v, "controller.authority needs an email or a url");
		if (ct->authority_email && !field_email_ok(ct->authority_email))
			policy_err(c, v, "controller.authority.email is not an e-mail address");
		return;
	}
	if (!strcmp(key, "financial_year_end")) {
		/* MM-DD, a day every year has: 02-29 would end some years and not others. */
		const char *s = policy_scalar(v);
		int m = 0, d = 0;
		char tail;
		if (!s || strlen(s) != 5 || sscanf(s, "%2d-%2d%c", &m, &d, &tail) != 2 || m < 1 || m > 12 || d < 1 ||
		    d > timeutil_days_in_month(2023, m))
			policy_err(c, v, "controller.financial_year_end must be the year's last day as MM-DD, e.g. 12-31 or 06-30");
		else
			ct->fy_month = m, ct->fy_day = d;
		return;
	}
	const char **dst = !strcmp(key, "name") ? &ct->name : !strcmp(key, "code") ? &ct->code
	                 : !strcmp(key, "address") ? &ct->address : !strcmp(key, "email") ? &ct->email
	                 : !strcmp(key, "phone") ? &ct->phone : &ct->dpo;
	char what[40];
	snprintf(what, sizeof what, "controller.%s", key);
	*dst = policy_want_string(c, v, what);
	if (*dst && (dst == &ct->email || dst == &ct->dpo) && !field_email_ok(*dst))
		policy_err(c, v, "%s is not an e-mail address", what);
}

void policy_read_controller(struct pctx *c, yaml_node_t *n)
{
	static const char *const keys[] = {"name", "code", "address", "email", "dpo", "phone", "authority",
	                                   "financial_year_end", "mail", NULL};
	if (!policy_each_pair(c, n, "controller", keys, controller_pair, NULL))
		return;
	if (!c->p->controller.name)
		policy_err(c, n, "controller needs a name");
	if (!c->p->controller.email)
		policy_err(c, n, "controller needs an email");
	if (!c->p->controller.authority_name)
		policy_err(c, n, "controller needs an authority (the supervisory authority)");
}

/* ---- languages ---- */

void policy_read_languages(struct pctx *c, yaml_node_t *n)
{
	struct policy *p = c->p;
	if (!n || n->type != YAML_SEQUENCE_NODE || n->data.sequence.items.top == n->data.sequence.items.start) {
		policy_err(c, n, "languages must be a non-empty list, e.g. [et, en]");
		return;
	}
	size_t cap = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	p->languages = arena_alloc(&p->arena, cap * sizeof *p->languages);
	for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
		yaml_node_t *e = policy_node(c, *it);
		const char *s = policy_scalar(e);
		if (!s || strlen(s) != 2 || s[0] < 'a' || s[0] > 'z' || s[1] < 'a' || s[1] > 'z') {
			policy_err(c, e, "languages: '%.20s' is not a two-letter ISO 639-1 code", s ? s : "");
			continue;
		}
		bool dup = false;
		for (size_t i = 0; i < p->nlanguages && !dup; i++)
			dup = !strcmp(p->languages[i], s);
		if (dup) {
			policy_err(c, e, "languages: '%s' is listed twice", s);
			continue;
		}
		p->languages[p->nlanguages++] = arena_strdup(&p->arena, s);
	}
}

/* ---- requests ---- */

/* True when d can be longer than `months` calendar months. */
bool policy_longer_than_months(struct duration d, int months)
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
		if (policy_want_duration(c, v, "requests.answer_within", &r->answer_within) &&
		    policy_longer_than_months(r->answer_within, 1))
			policy_err(c, v, "requests.answer_within may be at most 1 month (GDPR Art. 12(3))");
	} else if (!strcmp(key, "extend_up_to")) {
		if (policy_want_duration(c, v, "requests.extend_up_to", &r->extend_up_to) &&
		    policy_longer_than_months(r->extend_up_to, 2))
			policy_err(c, v, "requests.extend_up_to may be at most 2 months (GDPR Art. 12(3))");
	} else if (!strcmp(key, "target")) {
		r->has_target = policy_want_duration(c, v, "requests.target", &r->target);
	} else {
		r->has_keep = policy_parse_keep(c, v, "requests.keep", &r->keep);
		if (r->has_keep && r->keep.rule != KEEP_AFTER_EVENT) {
			policy_err(c, v, "requests.keep must be 'N unit after EVENT'");
			r->has_keep = false;
		}
	}
}

void policy_read_requests(struct pctx *c, yaml_node_t *n)
{
	static const char *const keys[] = {"answer_within", "extend_up_to", "target", "keep", NULL};
	if (n) /* else the GDPR defaults stand */
		policy_each_pair(c, n, "requests", keys, requests_pair, NULL);
}

/* ---- fields ---- */

static void field_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_field *f = arg;
	char what[120];
	snprintf(what, sizeof what, "field '%s'", f->name);
	if (!strcmp(key, "type")) {
		int t;
		if (policy_want_enum(c, v, what, policy_field_types, &t))
			f->type = (enum field_type)t;
		else
			f->type = (enum field_type)-1;
	} else if (!strcmp(key, "max")) {
		policy_want_int(c, v, "max", 1, POLICY_TEXT_MAX_MAX, &f->max);
	} else if (!strcmp(key, "values")) {
		if (!v || v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start) {
			policy_err(c, v, "%s: values must be a non-empty list", what);
			return;
		}
		size_t cap = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		f->values = arena_alloc(&c->p->arena, cap * sizeof *f->values);
		for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = policy_node(c, *it);
			const char *s = policy_want_string(c, e, "an enum value");
			if (!s)
				continue;
			bool dup = false;
			for (size_t i = 0; i < f->nvalues && !dup; i++)
				dup = !strcmp(f->values[i], s);
			if (dup)
				policy_err(c, e, "%s: value '%.40s' is listed twice", what, s);
			else
				f->values[f->nvalues++] = s;
		}
	} else if (!strcmp(key, "lookup")) {
		policy_want_bool(c, v, "lookup", &f->lookup);
	} else if (!strcmp(key, "unique")) {
		policy_want_bool(c, v, "unique", &f->unique);
	} else if (!strcmp(key, "truncate_after")) {
		f->has_truncate = policy_want_duration(c, v, "truncate_after", &f->truncate_after);
	} else if (!strcmp(key, "title")) {
		policy_read_title(c, v, what, &f->title);
	} else {
		policy_read_field_notice(c, key, v, f, what);
	}
}

void policy_fields_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"type", "max", "values", "lookup", "unique", "truncate_after", "title",
	                                   "source", NULL};
	struct policy *p = c->p;
	struct policy_field *f = &p->fields[p->nfields];
	memset(f, 0, sizeof *f);
	f->name = arena_strdup(&p->arena, key);
	f->line = policy_line_of(k);
	f->type = (enum field_type)-2; /* not given */
	char what[120];
	snprintf(what, sizeof what, "field '%s'", key);
	if (!policy_each_pair(c, v, what, keys, field_pair, f))
		return;
	p->nfields++;
	if ((int)f->type == -2) {
		policy_err(c, k, "%s needs a type", what);
		return;
	}
	if ((int)f->type < 0)
		return;
	if (f->max && f->type != FT_TEXT)
		policy_err(c, v, "%s: max is only for text fields", what);
	if (f->type == FT_TEXT && !f->max)
		f->max = POLICY_TEXT_DEFAULT_MAX;
	if (f->type == FT_ENUM && !f->nvalues)
		policy_err(c, v, "%s: an enum needs values", what);
	if (f->type != FT_ENUM && f->values)
		policy_err(c, v, "%s: values are only for enum fields", what);
	if (f->has_truncate && f->type != FT_IP)
		policy_err(c, v, "%s: truncate_after is only for ip fields", what);
	if (f->lookup && (f->type == FT_JSON || f->type == FT_BOOL))
		policy_err(c, v, "%s: a %s field cannot be a lookup field", what, policy_field_type_name(f->type));
	if (f->unique && !f->lookup)
		policy_err(c, v, "%s: unique needs lookup: true (uniqueness is checked through the lookup hash)", what);
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
		u->basis = policy_want_enum(c, v, what, policy_bases, &x) ? (enum legal_basis)x : (enum legal_basis)-1;
	} else if (!strcmp(key, "channel")) {
		a->channel = k;
		if (policy_want_enum(c, v, what, policy_channels, &x))
			u->channel = (enum channel)x;
	} else if (!strcmp(key, "double_opt_in")) {
		a->double_opt_in = k;
		policy_want_bool(c, v, "double_opt_in", &u->double_opt_in);
	} else if (!strcmp(key, "objectable")) {
		a->objectable = k;
		policy_want_bool(c, v, "objectable", &u->objectable);
	} else if (!strcmp(key, "title")) {
		policy_read_title(c, v, what, &u->title);
	} else {
		policy_read_purpose_notice(c, key, v, u, what);
	}
}

void policy_purposes_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"basis", "channel", "double_opt_in", "objectable", "title", "interest", NULL};
	struct policy *p = c->p;
	struct policy_purpose *u = &p->purposes[p->npurposes];
	memset(u, 0, sizeof *u);
	u->name = arena_strdup(&p->arena, key);
	u->line = policy_line_of(k);
	u->basis = (enum legal_basis)-2;
	char what[120];
	struct purpose_arg a = {.u = u};
	snprintf(what, sizeof what, "purpose '%s'", key);
	if (!policy_each_pair(c, v, what, keys, purpose_pair, &a))
		return;
	p->npurposes++;
	if ((int)u->basis == -2)
		policy_err(c, k, "%s needs a basis", what);
	if (!u->title.v)
		policy_err(c, k, "%s needs a title", what);
	if ((int)u->basis < 0)
		return;
	if (u->double_opt_in && u->basis != BASIS_CONSENT)
		policy_err(c, a.double_opt_in, "%s: double_opt_in is only for consent purposes", what);
	if (u->objectable && u->basis != BASIS_LEGITIMATE_INTEREST && u->basis != BASIS_PUBLIC_TASK &&
	    u->channel == CHANNEL_NONE)
		policy_err(c, a.objectable, "%s: only legitimate_interest or public_task purposes are objectable (Art. 21)", what);
	if (u->channel != CHANNEL_NONE && u->basis != BASIS_CONSENT && u->basis != BASIS_LEGITIMATE_INTEREST)
		policy_err(c, a.channel, "%s: direct marketing (a channel) needs basis consent or legitimate_interest", what);
	if (u->channel != CHANNEL_NONE)
		u->objectable = true; /* Art. 21(2): direct marketing is always objectable */
	if (u->interest.n && u->basis != BASIS_LEGITIMATE_INTEREST)
		policy_err(c, k, "%s: interest is only for legitimate_interest purposes", what);
}

/* ---- records ---- */

struct record_arg {
	struct policy_record *r;
	yaml_node_t *required, *keep_fields, *fields, *generalize, *then, *legal_reference;
	bool has_keep, has_purposes;
};

struct event_arg {
	struct policy_event *e;
	const char *what;
};

static void event_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct event_arg *a = arg;
	policy_read_title(c, v, a->what, &a->e->title); /* the only key */
}

/* events: { NAME: { title: { LANG: TEXT } } }: the dates a record of this
 * kind may be given besides its keep rule's. */
static void events_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"title", NULL};
	struct policy_record *r = arg;
	char what[160];
	snprintf(what, sizeof what, "record '%s' event '%s'", r->name, key);
	if (!strcmp(key, "created")) {
		policy_err(c, k, "record '%s' events: 'created' is the record's created_at, not an event to declare",
		    r->name);
		return;
	}
	if (r->nevents == POLICY_EVENTS_MAX) {
		policy_err(c, k, "record '%s' declares more than %d events", r->name, POLICY_EVENTS_MAX);
		return;
	}
	struct policy_event *e = &r->events[r->nevents];
	memset(e, 0, sizeof *e);
	e->name = arena_strdup(&c->p->arena, key);
	e->line = policy_line_of(k);
	if (!policy_each_pair(c, v, what, keys, event_pair, &(struct event_arg){e, what}))
		return;
	r->nevents++;
	if (!e->title.v)
		policy_err(c, k, "%s needs a title", what);
}

static void record_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct record_arg *a = arg;
	struct policy_record *r = a->r;
	char what[120];
	int x;
	snprintf(what, sizeof what, "record '%s' %s", r->name, key);
	if (!strcmp(key, "fields")) {
		a->fields = v;
		r->nfields = policy_name_list(c, v, what, "field", policy_find_field, (const void ***)&r->fields);
	} else if (!strcmp(key, "required")) {
		a->required = v;
	} else if (!strcmp(key, "keep_fields")) {
		a->keep_fields = v;
	} else if (!strcmp(key, "purposes")) {
		a->has_purposes = true;
		r->npurposes = policy_name_list(c, v, what, "purpose", policy_find_purpose, (const void ***)&r->purposes);
		if (!r->npurposes && v && v->type == YAML_SEQUENCE_NODE)
			policy_err(c, v, "%s: a record needs at least one purpose", what);
	} else if (!strcmp(key, "keep")) {
		a->has_keep = true; /* a bad rule is reported by parse_keep */
		policy_parse_keep(c, v, what, &r->keep);
	} else if (!strcmp(key, "generalize")) {
		a->generalize = v;
	} else if (!strcmp(key, "linked")) {
		policy_want_bool(c, v, what, &r->linked);
	} else if (!strcmp(key, "then")) {
		a->then = k;
		if (policy_want_enum(c, v, what, policy_thens, &x))
			r->then = (enum then_action)x;
	} else if (!strcmp(key, "erasable")) {
		policy_want_bool(c, v, what, &r->erasable);
	} else if (!strcmp(key, "legal_reference")) {
		a->legal_reference = v;
		const char *s = v && v->type == YAML_SCALAR_NODE ? policy_scalar(v) : NULL;
		if (s && *s && strlen(s) <= 200) { /* one text for every language */
			r->legal_reference.v = arena_alloc(&c->p->arena, sizeof *r->legal_reference.v);
			r->legal_reference.v[0] = (struct policy_text){"", arena_strdup(&c->p->arena, s)};
			r->legal_reference.n = 1;
		} else if (v && v->type == YAML_SCALAR_NODE) {
			policy_err(c, v, "%s: give the law as text (at most 200 characters) or per language", what);
		} else {
			policy_read_title(c, v, what, &r->legal_reference);
		}
	} else if (!strcmp(key, "title")) {
		policy_read_title(c, v, what, &r->title);
	} else if (!strcmp(key, "events")) {
		size_t cap = v && v->type == YAML_MAPPING_NODE
		             ? (size_t)(v->data.mapping.pairs.top - v->data.mapping.pairs.start) : 0;
		r->events = arena_alloc(&c->p->arena, (cap ? cap : 1) * sizeof *r->events);
		policy_each_pair(c, v, what, NULL, events_pair, r);
	} else {
		policy_read_record_notice(c, key, v, r, what);
	}
}

/* Resolves a list of field names that must be a subset of the record's fields. */
static size_t subset(struct pctx *c, struct policy_record *r, yaml_node_t *n, const char *key,
                     const struct policy_field ***out)
{
	char what[120];
	snprintf(what, sizeof what, "record '%s' %s", r->name, key);
	size_t cnt = policy_name_list(c, n, what, "field", policy_find_field, (const void ***)out);
	for (size_t i = 0; i < cnt; i++) {
		if (!policy_record_has_field(r, (*out)[i])) {
			yaml_node_t *e = policy_node(c, n->data.sequence.items.start[i]);
			for (yaml_node_item_t *it = n->data.sequence.items.start; it < n->data.sequence.items.top; it++) {
				const char *s = policy_scalar(policy_node(c, *it));
				if (s && !strcmp(s, (*out)[i]->name))
					e = policy_node(c, *it);
			}
			policy_err(c, e, "%s: '%s' is not one of the record's fields", what, (*out)[i]->name);
		}
	}
	return cnt;
}

/* generalize: { FIELD|created_at: month | year | { round: N } } */
static void generalize_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_record *r = arg;
	char what[160];
	snprintf(what, sizeof what, "record '%s' generalize %s", r->name, key);
	struct policy_generalize g = {.line = policy_line_of(k)};
	enum field_type type = FT_DATETIME;
	if (strcmp(key, "created_at")) {
		g.field = policy_field(c->p, key);
		bool kept = false;
		for (size_t i = 0; g.field && i < r->nkeep_fields && !kept; i++)
			kept = r->keep_fields[i] == g.field;
		if (!kept) {
			policy_err(c, k, "%s: only created_at and the keep_fields can be generalised", what);
			return;
		}
		type = g.field->type;
	}
	const char *s = policy_scalar(v);
	int round = 0;
	if (s && !strcmp(s, "month")) {
		g.how = GEN_MONTH;
	} else if (s && !strcmp(s, "year")) {
		g.how = GEN_YEAR;
	} else if (v && v->type == YAML_MAPPING_NODE && v->data.mapping.pairs.top - v->data.mapping.pairs.start == 1 &&
	           (s = policy_scalar(policy_node(c, v->data.mapping.pairs.start->key))) && !strcmp(s, "round")) {
		if (!policy_want_int(c, policy_node(c, v->data.mapping.pairs.start->value), what, 1, 1000000000, &round))
			return;
		g.how = GEN_ROUND;
		g.round = round;
	} else {
		policy_err(c, v, "%s: expected month, year or { round: N }", what);
		return;
	}
	bool dated = type == FT_DATE || type == FT_DATETIME, number = type == FT_INTEGER || type == FT_DECIMAL;
	if ((g.how != GEN_ROUND && !dated) || (g.how == GEN_ROUND && !number)) {
		policy_err(c, v, "%s: %s is for %s fields", what, g.how == GEN_ROUND ? "round" : s,
		           g.how == GEN_ROUND ? "integer and decimal" : "date and datetime");
		return;
	}
	if (!g.field)
		r->created_generalize = g.how;
	else
		r->generalize[r->ngeneralize++] = g;
}

void policy_records_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"fields", "required", "purposes", "keep", "then",
	                                   "keep_fields", "generalize", "linked", "erasable", "legal_reference",
	                                   "title", "events", "provision", "source", NULL};
	struct policy *p = c->p;
	struct policy_record *r = &p->records[p->nrecords];
	memset(r, 0, sizeof *r);
	r->name = arena_strdup(&p->arena, key);
	r->line = policy_line_of(k);
	r->erasable = true;
	r->linked = true;
	r->then = THEN_DELETE;
	r->created_generalize = GEN_MONTH;
	struct record_arg a = {.r = r};
	char what[120];
	snprintf(what, sizeof what, "record '%s'", key);
	if (!policy_each_pair(c, v, what, keys, record_pair, &a))
		return;
	p->nrecords++;
	if (!a.fields)
		policy_err(c, k, "%s needs fields", what);
	if (!a.has_purposes)
		policy_err(c, k, "%s needs purposes", what);
	if (!a.has_keep)
		policy_err(c, k, "%s needs a keep rule (how long it is kept)", what);
	if (a.required)
		r->nrequired = subset(c, r, a.required, "required", &r->required);
	if (a.legal_reference && r->erasable)
		policy_err(c, a.legal_reference, "%s: legal_reference names the law that keeps a record from erasure: "
		                                 "it needs 'erasable: false'", what);
	if (a.keep_fields) {
		r->nkeep_fields = subset(c, r, a.keep_fields, "keep_fields", &r->keep_fields);
		if (r->then != THEN_ANONYMIZE)
			policy_err(c, a.keep_fields, "%s: keep_fields needs 'then: anonymize'", what);
	}
	/* An anonymised record that keeps no field is a deletion that leaves a
	 * date behind: say which fields the statistics keep, or delete. */
	if (r->then == THEN_ANONYMIZE && !r->nkeep_fields && !a.keep_fields)
		policy_err(c, a.then, "%s: then: anonymize keeps nothing: list the keep_fields the statistics keep, "
		           "or use then: delete", what);
	if (a.generalize) {
		size_t cap = a.generalize->type == YAML_MAPPING_NODE
		             ? (size_t)(a.generalize->data.mapping.pairs.top - a.generalize->data.mapping.pairs.start) : 0;
		r->generalize = arena_alloc(&c->p->arena, (cap ? cap : 1) * sizeof *r->generalize);
		char gwhat[140];
		snprintf(gwhat, sizeof gwhat, "%s generalize", what);
		if (r->then != THEN_ANONYMIZE)
			policy_err(c, a.generalize, "%s: generalize needs 'then: anonymize'", what);
		else
			policy_each_pair(c, a.generalize, gwhat, NULL, generalize_pair, r);
	}
}

/* ---- recipients ---- */

struct recipient_arg {
	struct policy_recipient *r;
	yaml_node_t *fields, *country, *transfer, *dpf;
	bool has_role, bad_transfer;
};

/* ---- notify: (recipients) and systems ---- */

/* A webhook URL: http or https, a host, no space or control character; the
 * sender posts to it as written. */
static bool url_ok(const char *u)
{
	const char *rest = !strncmp(u, "https://", 8) ? u + 8 : !strncmp(u, "http://", 7) ? u + 7 : NULL;
	if (!rest || !*rest || *rest == '/' || *rest == ':' || strlen(u) > POLICY_URL_MAX)
		return false;
	for (const unsigned char *p = (const unsigned char *)u; *p; p++)
		if (*p <= ' ' || *p == 0x7f)
			return false;
	return true;
}

struct notify_arg {
	struct policy_notify *n;
	const char *owner;        /* "recipient 'courier' notify", "system 'shop_db'" */
};

static void notify_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct notify_arg *a = arg;
	struct policy_notify *n = a->n;
	char what[160];
	snprintf(what, sizeof what, "%s %s", a->owner, key);
	const char *s = policy_want_string(c, v, what);
	if (!s)
		return;
	if (!strcmp(key, "webhook")) {
		if (!url_ok(s))
			policy_err(c, v, "%s must be an http:// or https:// URL", what);
		n->webhook = s;
	} else if (!strcmp(key, "email")) {
		if (!field_email_ok(s))
			policy_err(c, v, "%s is not an e-mail address", what);
		n->email = s;
	} else {
		if (!*s || strlen(s) > 4096)
			policy_err(c, v, "%s must name a file", what);
		n->secret_file = s;
		n->line = policy_line_of(v);
	}
}

/* One way of telling: a webhook with its secret, or an e-mail address. */
static void check_notify(struct pctx *c, yaml_node_t *at, const char *what, const struct policy_notify *n,
                         bool email_allowed)
{
	if (n->webhook && n->email)
		policy_err(c, at, "%s: either webhook or email, not both", what);
	else if (!n->webhook && !n->email)
		policy_err(c, at, email_allowed ? "%s needs a webhook (with its secret_file) or an email"
		                                : "%s needs a webhook (with its secret_file)", what);
	else if (n->email && !email_allowed)
		policy_err(c, at, "%s: a system is told by webhook, not by email", what);
	if (n->webhook && !n->secret_file)
		policy_err(c, at, "%s: a webhook needs a secret_file (holding whsec_...)", what);
	if (!n->webhook && n->secret_file)
		policy_err(c, at, "%s: secret_file is only for a webhook", what);
}

static const void *find_record(const struct policy *p, const char *n)
{
	return policy_record(p, n);
}

struct system_arg {
	struct policy_system *y;
	bool held;                /* kinds or fields given */
};

static void system_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct system_arg *a = arg;
	struct policy_system *y = a->y;
	char what[120];
	snprintf(what, sizeof what, "system '%s' %s", y->name, key);
	if (!strcmp(key, "kinds")) {
		a->held = true;
		y->nrecords = policy_name_list(c, v, what, "record kind", find_record, (const void ***)&y->records);
	} else if (!strcmp(key, "fields")) {
		a->held = true;
		y->nfields = policy_name_list(c, v, what, "field", policy_find_field, (const void ***)&y->fields);
	} else {
		char owner[100];
		snprintf(owner, sizeof owner, "system '%s'", y->name);
		notify_pair(c, key, k, v, &(struct notify_arg){&y->notify, owner});
	}
}

void policy_systems_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"kinds", "fields", "webhook", "secret_file", NULL};
	struct policy *p = c->p;
	struct policy_system *y = &p->systems[p->nsystems];
	memset(y, 0, sizeof *y);
	y->name = arena_strdup(&p->arena, key);
	y->line = policy_line_of(k);
	y->notify.line = y->line;
	struct system_arg a = {.y = y};
	char what[120];
	snprintf(what, sizeof what, "system '%s'", key);
	if (policy_recipient(p, key))
		policy_err(c, k, "%s has the name of a recipient: a system or recipient is named once", what);
	if (!policy_each_pair(c, v, what, keys, system_pair, &a))
		return;
	p->nsystems++;
	if (!a.held)
		policy_err(c, k, "%s needs the record kinds (kinds: [...]) or fields (fields: [...]) it holds", what);
	check_notify(c, k, what, &y->notify, false);
}

static void recipient_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct recipient_arg *a = arg;
	struct policy_recipient *r = a->r;
	char what[120];
	int x;
	snprintf(what, sizeof what, "recipient '%s' %s", r->name, key);
	if (!strcmp(key, "role")) {
		if ((a->has_role = policy_want_enum(c, v, what, policy_roles, &x)))
			r->role = (enum recipient_role)x;
	} else if (!strcmp(key, "purposes")) {
		r->npurposes = policy_name_list(c, v, what, "purpose", policy_find_purpose, (const void ***)&r->purposes);
	} else if (!strcmp(key, "fields")) {
		a->fields = v;
		r->nfields = policy_name_list(c, v, what, "field", policy_find_field, (const void ***)&r->fields);
	} else if (!strcmp(key, "country")) {
		a->country = v;
		const char *s = policy_scalar(v);
		if (!s || !country_valid(s))
			policy_err(c, v, "%s: '%.20s' is not an ISO 3166-1 alpha-2 code (e.g. EE)", what, s ? s : "");
		else
			memcpy(r->country, s, 3);
	} else if (!strcmp(key, "transfer")) {
		/* A bad value is reported here, once. */
		a->transfer = v;
		a->bad_transfer = !policy_want_enum(c, v, what, policy_transfers, &x);
		if (!a->bad_transfer)
			r->transfer = (enum transfer_basis)x;
	} else if (!strcmp(key, "contract")) {
		r->contract = policy_want_string(c, v, what);
	} else if (!strcmp(key, "dpf")) {
		a->dpf = k;
		policy_want_bool(c, v, what, &r->dpf);
	} else if (!strcmp(key, "notify")) {
		static const char *const nkeys[] = {"webhook", "secret_file", "email", NULL};
		r->notify.line = policy_line_of(k);
		if (policy_each_pair(c, v, what, nkeys, notify_pair, &(struct notify_arg){&r->notify, what}))
			check_notify(c, v, what, &r->notify, true);
	} else {
		policy_read_recipient_notice(c, key, v, r, what);
	}
}

/* An adequacy decision is the Commission's, for the countries it lists
 * (core/country), not the policy author's to claim: a notice would tell
 * people of a decision that does not exist. */
static void check_adequacy(struct pctx *c, const struct recipient_arg *a, const char *what)
{
	const struct policy_recipient *r = a->r;
	if (r->dpf && r->country[0] && !country_adequacy_needs_dpf(r->country))
		policy_err(c, a->dpf, "%s: dpf (the EU-US Data Privacy Framework) is only for recipients in US", what);
	if (r->transfer != TRANSFER_ADEQUACY || !r->country[0] || country_in_eea(r->country))
		return;
	if (!country_adequate(r->country))
		policy_err(c, a->transfer, "%s is in %s, for which the European Commission has no adequacy decision: "
		           "use transfer: scc or bcr", what, r->country);
	else if (country_adequacy_needs_dpf(r->country) && !r->dpf)
		policy_err(c, a->transfer, "%s is in %s, where adequacy covers only Data Privacy Framework participants: "
		           "add dpf: true if it is certified, else use transfer: scc or bcr", what, r->country);
}

void policy_recipients_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"role", "purposes", "fields", "country", "transfer", "contract",
	                                   "dpf", "title", "safeguards", "notify", NULL};
	struct policy *p = c->p;
	struct policy_recipient *r = &p->recipients[p->nrecipients];
	memset(r, 0, sizeof *r);
	r->name = arena_strdup(&p->arena, key);
	r->line = policy_line_of(k);
	struct recipient_arg a = {.r = r};
	char what[120];
	snprintf(what, sizeof what, "recipient '%s'", key);
	if (!policy_each_pair(c, v, what, keys, recipient_pair, &a))
		return;
	p->nrecipients++;
	if (!a.has_role) {
		policy_err(c, k, "%s needs a role (processor, controller or authority)", what);
		return;
	}
	if (!a.country)
		policy_err(c, k, "%s needs a country", what);
	else if (r->country[0] && !country_in_eea(r->country) && r->transfer == TRANSFER_NONE && !a.bad_transfer)
		policy_err(c, a.country, "%s is in %s, outside the EEA: it needs a transfer basis (adequacy, scc or bcr)",
		    what, r->country);
	if (r->safeguards.n && r->transfer == TRANSFER_NONE && r->country[0] && country_in_eea(r->country))
		policy_err(c, k, "%s: safeguards are only for a transfer outside the EEA (transfer: ...)", what);
	check_adequacy(c, &a, what);
	if (r->role == RECIPIENT_AUTHORITY) {
		if (a.fields)
			policy_err(c, a.fields, "%s: an authority takes no fields; it receives what each disclosure's legal reference names", what);
		return;
	}
	if (!a.fields || !r->nfields)
		policy_err(c, k, "%s needs the fields it may receive", what);
	if (!r->npurposes)
		policy_err(c, k, "%s needs the purposes it receives data for", what);
	if (r->role == RECIPIENT_PROCESSOR && !r->contract)
		policy_err(c, k, "%s: a processor needs a contract reference (Art. 28)", what);
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
		a->k->npurposes = policy_name_list(c, v, what, "purpose", policy_find_purpose, (const void ***)&a->k->purposes);
	} else if (!strcmp(key, "consent")) {
		a->consent = v;
		a->has_consent = policy_want_bool(c, v, what, &a->k->consent);
	} else if (!strcmp(key, "title")) {
		policy_read_title(c, v, what, &a->k->title);
	} else {
		policy_read_cookie_notice(c, key, v, a->k, what);
	}
}

void policy_cookies_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"purposes", "consent", "title", "names", "duration", "third_party", NULL};
	struct policy *p = c->p;
	struct policy_cookie *ck = &p->cookies[p->ncookies];
	memset(ck, 0, sizeof *ck);
	ck->name = arena_strdup(&p->arena, key);
	ck->line = policy_line_of(k);
	struct cookie_arg a = {.k = ck};
	char what[120];
	snprintf(what, sizeof what, "cookie '%s'", key);
	if (!policy_each_pair(c, v, what, keys, cookie_pair, &a))
		return;
	p->ncookies++;
	if (!a.has_consent)
		policy_err(c, k, "%s needs consent: true or false", what);
	if (!ck->title.v)
		policy_err(c, k, "%s needs a title", what);
	if (!ck->npurposes)
		policy_err(c, k, "%s needs purposes", what);
	for (size_t i = 0; a.has_consent && !ck->consent && i < ck->npurposes; i++)
		if (ck->purposes[i]->basis == BASIS_CONSENT)
			policy_err(c, a.consent, "%s serves consent purpose '%s', so it needs consent: true",
			    what, ck->purposes[i]->name);
}


/* ---- what the notice says (Art. 13/14) ----
 *
 * Optional texts that exist only for the privacy notice: each is one text
 * per language (read as a title is, so every language is required once the
 * key is given), or a list of names. A policy without them stays valid;
 * policy_warnings() names the gaps. */

void policy_read_field_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_field *f,
                              const char *what)
{
	if (!strcmp(key, "source"))
		policy_read_title(c, v, what, &f->source);
}

void policy_read_purpose_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_purpose *u,
                                const char *what)
{
	if (!strcmp(key, "interest"))
		policy_read_title(c, v, what, &u->interest);
}

void policy_read_record_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_record *r,
                               const char *what)
{
	if (!strcmp(key, "provision"))
		policy_read_title(c, v, what, &r->provision);
	else if (!strcmp(key, "source"))
		policy_read_title(c, v, what, &r->source);
}

void policy_read_recipient_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_recipient *r,
                                  const char *what)
{
	if (!strcmp(key, "title"))
		policy_read_title(c, v, what, &r->title);
	else if (!strcmp(key, "safeguards"))
		policy_read_title(c, v, what, &r->safeguards);
}

#define COOKIE_NAMES_MAX 64

void policy_read_cookie_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_cookie *k,
                               const char *what)
{
	if (!strcmp(key, "third_party")) {
		/* a company's name, the same in every language, or a text per language */
		const char *name = policy_scalar(v) ? policy_want_string(c, v, what) : NULL;
		if (name) {
			k->third_party.v = arena_alloc(&c->p->arena, sizeof *k->third_party.v);
			k->third_party.v[0] = (struct policy_text){c->p->nlanguages ? c->p->languages[0] : "en", name};
			k->third_party.n = 1;
		} else if (!policy_scalar(v)) {
			policy_read_title(c, v, what, &k->third_party);
		}
	} else if (!strcmp(key, "duration")) {
		const char *s = policy_scalar(v);
		if (s && !strcmp(s, "session"))
			k->life = COOKIE_LIFE_SESSION;
		else if (s && timeutil_parse_duration(s, &k->lifetime) == RC_OK)
			k->life = COOKIE_LIFE_PERIOD;
		else
			policy_err(c, v, "%s: '%.60s' is neither 'session' nor N days|weeks|months|years", what, s ? s : "");
	} else if (!strcmp(key, "names")) {
		if (!v || v->type != YAML_SEQUENCE_NODE || v->data.sequence.items.top == v->data.sequence.items.start) {
			policy_err(c, v, "%s must be a non-empty list of cookie names", what);
			return;
		}
		size_t cap = (size_t)(v->data.sequence.items.top - v->data.sequence.items.start);
		if (cap > COOKIE_NAMES_MAX) {
			policy_err(c, v, "%s: at most %d names", what, COOKIE_NAMES_MAX);
			return;
		}
		k->names = arena_alloc(&c->p->arena, cap * sizeof *k->names);
		for (yaml_node_item_t *it = v->data.sequence.items.start; it < v->data.sequence.items.top; it++) {
			yaml_node_t *e = policy_node(c, *it);
			const char *s = policy_want_string(c, e, what);
			if (s && strlen(s) > 200)
				policy_err(c, e, "%s: a cookie name is at most 200 characters", what);
			else if (s)
				k->names[k->nnames++] = s;
		}
	}
}

/* automated_decisions: `none`, or one text per language saying what is
 * decided or profiled automatically, on what logic, and what follows. */
void policy_read_automated(struct pctx *c, yaml_node_t *n)
{
	const char *s = policy_scalar(n);
	if (s && !strcmp(s, "none")) {
		c->p->automated = AUTOMATED_NONE;
		return;
	}
	if (s) {
		policy_err(c, n, "automated_decisions must be 'none' or a text per language");
		return;
	}
	policy_read_title(c, n, "automated_decisions", &c->p->automated_text);
	c->p->automated = AUTOMATED_DECLARED;
}

/* date: the day the version took effect, YYYY-MM-DD. */
void policy_read_date(struct pctx *c, yaml_node_t *n)
{
	const char *s = policy_scalar(n);
	int64_t t;
	if (!s || strlen(s) != 10 || timeutil_parse_date(s, &t) != RC_OK) {
		policy_err(c, n, "date must be a calendar date, YYYY-MM-DD");
		return;
	}
	c->p->date = arena_strdup(&c->p->arena, s);
}

/* ---- consent sources ---- */

static void consent_source_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	struct policy_consent_source *cs = arg;
	char what[120];
	snprintf(what, sizeof what, "consent source '%s' %s", cs->name, key);
	if (!strcmp(key, "version")) {
		cs->version = policy_want_string(c, v, what);
		if (cs->version && strlen(cs->version) > 64)
			policy_err(c, v, "%s is longer than 64 characters", what);
	} else if (!strcmp(key, "wording")) {
		policy_read_title(c, v, what, &cs->wording);
	} else if (!strcmp(key, "title")) {
		policy_read_title(c, v, what, &cs->title);
	} else if (!strcmp(key, "purposes")) {
		cs->npurposes = policy_name_list(c, v, what, "purpose", policy_find_purpose, (const void ***)&cs->purposes);
		for (size_t i = 0; i < cs->npurposes; i++)
			if (cs->purposes[i]->basis != BASIS_CONSENT)
				policy_err(c, v, "%s: '%s' is not based on consent: nothing to collect for it", what,
				           cs->purposes[i]->name);
	}
}

/* consent_sources: { NAME: { version, wording: { LANG: TEXT }, title?, purposes? } } */
void policy_consent_sources_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg)
{
	static const char *const keys[] = {"version", "wording", "title", "purposes", NULL};
	struct policy *p = c->p;
	struct policy_consent_source *cs = &p->consent_sources[p->nconsent_sources];
	memset(cs, 0, sizeof *cs);
	cs->name = arena_strdup(&p->arena, key);
	cs->line = policy_line_of(k);
	char what[120];
	snprintf(what, sizeof what, "consent source '%s'", key);
	if (!policy_each_pair(c, v, what, keys, consent_source_pair, cs))
		return;
	p->nconsent_sources++;
	if (!cs->version)
		policy_err(c, k, "%s needs a version (of the wording shown)", what);
	if (!cs->wording.v)
		policy_err(c, k, "%s needs its wording, as shown, in every language", what);
}
