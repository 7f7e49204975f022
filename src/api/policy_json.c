/* policy_json: struct policy -> JSON (see policy_json.h). */
#include "api/policy_json.h"

#include <stddef.h>

#include "core/country.h"

static json_t *duration_json(struct duration d)
{
	char words[48], iso[24];
	timeutil_format_duration(d, words, sizeof words);
	timeutil_format_duration_iso(d, iso, sizeof iso);
	return json_pack("{s:s, s:s}", "text", words, "iso", iso);
}

static json_t *keep_json(const struct policy_keep *k)
{
	char text[128];
	policy_keep_format(k, text, sizeof text);
	json_t *j = json_pack("{s:s, s:s}", "text", text,
	                      "rule", k->rule == KEEP_AFTER_EVENT ? "after_event" : "while_active");
	if (k->rule == KEEP_AFTER_EVENT) {
		json_object_set_new(j, "period", duration_json(k->period));
		json_object_set_new(j, "event", json_string(k->event));
		if (k->financial_year)
			json_object_set_new(j, "from", json_string("end of financial year"));
	} else if (k->period.n) {
		json_object_set_new(j, "grace", duration_json(k->period));
	}
	return j;
}

static json_t *title_json(const struct policy_title *t)
{
	json_t *j = json_object();
	for (size_t i = 0; i < t->n; i++)
		json_object_set_new(j, t->v[i].lang, json_string(t->v[i].text));
	return j;
}

static json_t *names(const void *const *v, size_t n, size_t name_offset)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(*(const char *const *)((const char *)v[i] + name_offset)));
	return a;
}

#define FIELD_NAMES(v, n) names((const void *const *)(v), n, offsetof(struct policy_field, name))
#define PURPOSE_NAMES(v, n) names((const void *const *)(v), n, offsetof(struct policy_purpose, name))

static void set_opt(json_t *o, const char *key, const char *s)
{
	json_object_set_new(o, key, s ? json_string(s) : json_null());
}

json_t *policy_to_json(const struct policy *p)
{
	const struct policy_controller *c = &p->controller;
	json_t *controller = json_pack("{s:s, s:s}", "name", c->name, "email", c->email);
	set_opt(controller, "code", c->code);
	set_opt(controller, "address", c->address);
	set_opt(controller, "dpo", c->dpo);
	set_opt(controller, "phone", c->phone);
	json_t *auth = json_pack("{s:s}", "name", c->authority_name);
	set_opt(auth, "email", c->authority_email);
	set_opt(auth, "url", c->authority_url);
	json_object_set_new(controller, "authority", auth);
	char fye[8];
	snprintf(fye, sizeof fye, "%02d-%02d", c->fy_month, c->fy_day);
	json_object_set_new(controller, "financial_year_end", json_string(fye));
	if (c->mail_from || c->mail_reply_to || c->mail_templates) {
		json_t *mail = json_object();
		set_opt(mail, "from", c->mail_from);
		set_opt(mail, "from_name", c->mail_from_name);
		set_opt(mail, "reply_to", c->mail_reply_to);
		set_opt(mail, "templates", c->mail_templates);
		json_object_set_new(controller, "mail", mail);
	}

	json_t *langs = json_array();
	for (size_t i = 0; i < p->nlanguages; i++)
		json_array_append_new(langs, json_string(p->languages[i]));

	json_t *req = json_pack("{s:o, s:o}", "answer_within", duration_json(p->requests.answer_within),
	                        "extend_up_to", duration_json(p->requests.extend_up_to));
	json_object_set_new(req, "target", p->requests.has_target ? duration_json(p->requests.target) : json_null());
	json_object_set_new(req, "keep", p->requests.has_keep ? keep_json(&p->requests.keep) : json_null());

	json_t *fields = json_object();
	for (size_t i = 0; i < p->nfields; i++) {
		const struct policy_field *f = &p->fields[i];
		json_t *j = json_pack("{s:s, s:b}", "type", policy_field_type_name(f->type), "lookup", f->lookup);
		if (f->unique)
			json_object_set_new(j, "unique", json_true());
		if (f->type == FT_TEXT)
			json_object_set_new(j, "max", json_integer(f->max));
		if (f->type == FT_ENUM) {
			json_t *vals = json_array();
			for (size_t k = 0; k < f->nvalues; k++)
				json_array_append_new(vals, json_string(f->values[k]));
			json_object_set_new(j, "values", vals);
		}
		if (f->has_truncate)
			json_object_set_new(j, "truncate_after", duration_json(f->truncate_after));
		if (f->title.n)
			json_object_set_new(j, "title", title_json(&f->title));
		if (f->source.n)
			json_object_set_new(j, "source", title_json(&f->source));
		json_object_set_new(fields, f->name, j);
	}

	json_t *purposes = json_object();
	for (size_t i = 0; i < p->npurposes; i++) {
		const struct policy_purpose *u = &p->purposes[i];
		json_t *j = json_pack("{s:s, s:b, s:b, s:b, s:o}", "basis", policy_basis_name(u->basis),
		                      "double_opt_in", u->double_opt_in, "objectable", u->objectable,
		                      "direct_marketing", u->channel != CHANNEL_NONE, "title", title_json(&u->title));
		set_opt(j, "channel", u->channel != CHANNEL_NONE ? policy_channel_name(u->channel) : NULL);
		if (u->interest.n)
			json_object_set_new(j, "interest", title_json(&u->interest));
		json_object_set_new(purposes, u->name, j);
	}

	json_t *records = json_object();
	for (size_t i = 0; i < p->nrecords; i++) {
		const struct policy_record *r = &p->records[i];
		json_t *j = json_pack("{s:o, s:o, s:o, s:o, s:s, s:o, s:b, s:b}",
		                      "fields", FIELD_NAMES(r->fields, r->nfields),
		                      "required", FIELD_NAMES(r->required, r->nrequired),
		                      "purposes", PURPOSE_NAMES(r->purposes, r->npurposes),
		                      "keep", keep_json(&r->keep), "then", policy_then_name(r->then),
		                      "keep_fields", FIELD_NAMES(r->keep_fields, r->nkeep_fields),
		                      "erasable", r->erasable, "account", r->keep.rule == KEEP_WHILE_ACTIVE);
		if (r->title.n)
			json_object_set_new(j, "title", title_json(&r->title));
		if (r->provision.n)
			json_object_set_new(j, "provision", title_json(&r->provision));
		if (r->source.n)
			json_object_set_new(j, "source", title_json(&r->source));
		json_object_set_new(j, "linked", json_boolean(r->linked));
		if (r->then == THEN_ANONYMIZE) {
			static const char *const how[] = {[GEN_KEEP] = "keep", [GEN_MONTH] = "month", [GEN_YEAR] = "year"};
			json_t *g = json_pack("{s:s}", "created_at", how[r->created_generalize]);
			for (size_t k = 0; k < r->ngeneralize; k++) {
				const struct policy_generalize *x = &r->generalize[k];
				json_object_set_new(g, x->field->name, x->how == GEN_ROUND ? json_pack("{s:i}", "round", x->round)
				                                                           : json_string(how[x->how]));
			}
			json_object_set_new(j, "generalize", g);
		}
		/* One text for every language ("" as its language), or per language. */
		if (r->legal_reference.n == 1 && !r->legal_reference.v[0].lang[0])
			json_object_set_new(j, "legal_reference", json_string(r->legal_reference.v[0].text));
		else if (r->legal_reference.n)
			json_object_set_new(j, "legal_reference", title_json(&r->legal_reference));
		/* Every event a record of this kind may be given, with its title when declared. */
		const char *names[POLICY_EVENTS_MAX + 1];
		size_t ne = policy_record_events(r, names, POLICY_EVENTS_MAX + 1);
		json_t *events = json_object();
		for (size_t e = 0; e < ne && e < POLICY_EVENTS_MAX + 1; e++) {
			const struct policy_event *d = policy_record_event(r, names[e]);
			json_object_set_new(events, names[e], d ? json_pack("{s:o}", "title", title_json(&d->title))
			                                        : json_object());
		}
		json_object_set_new(j, "events", events);
		json_object_set_new(records, r->name, j);
	}

	json_t *recipients = json_object();
	for (size_t i = 0; i < p->nrecipients; i++) {
		const struct policy_recipient *r = &p->recipients[i];
		json_t *j = json_pack("{s:s, s:o, s:o, s:s, s:b}", "role", policy_role_name(r->role),
		                      "purposes", PURPOSE_NAMES(r->purposes, r->npurposes),
		                      "fields", FIELD_NAMES(r->fields, r->nfields), "country", r->country,
		                      "eea", country_in_eea(r->country));
		set_opt(j, "transfer", r->transfer != TRANSFER_NONE ? policy_transfer_name(r->transfer) : NULL);
		set_opt(j, "contract", r->contract);
		if (r->title.n)
			json_object_set_new(j, "title", title_json(&r->title));
		if (r->safeguards.n)
			json_object_set_new(j, "safeguards", title_json(&r->safeguards));
		if (r->dpf)
			json_object_set_new(j, "dpf", json_true());
		if (r->notify.webhook || r->notify.email)
			json_object_set_new(j, "notify", r->notify.webhook ? json_pack("{s:s}", "webhook", r->notify.webhook)
			                                                    : json_pack("{s:s}", "email", r->notify.email));
		json_object_set_new(recipients, r->name, j);
	}

	/* The systems told of changes (Art. 19); the secrets stay unsaid. */
	json_t *systems = json_object();
	for (size_t i = 0; i < p->nsystems; i++) {
		const struct policy_system *y = &p->systems[i];
		json_t *kinds = json_array();
		for (size_t k = 0; k < y->nrecords; k++)
			json_array_append_new(kinds, json_string(y->records[k]->name));
		json_object_set_new(systems, y->name, json_pack("{s:o, s:o, s:s}", "kinds", kinds, "fields",
		                                                FIELD_NAMES(y->fields, y->nfields), "webhook",
		                                                y->notify.webhook ? y->notify.webhook : ""));
	}

	json_t *cookies = json_object();
	for (size_t i = 0; i < p->ncookies; i++) {
		const struct policy_cookie *k = &p->cookies[i];
		json_t *j = json_pack("{s:o, s:b, s:o}", "purposes", PURPOSE_NAMES(k->purposes, k->npurposes), "consent",
		                      k->consent, "title", title_json(&k->title));
		if (k->nnames) {
			json_t *nm = json_array();
			for (size_t n = 0; n < k->nnames; n++)
				json_array_append_new(nm, json_string(k->names[n]));
			json_object_set_new(j, "names", nm);
		}
		if (k->life == COOKIE_LIFE_SESSION)
			json_object_set_new(j, "duration", json_string("session"));
		else if (k->life == COOKIE_LIFE_PERIOD)
			json_object_set_new(j, "duration", duration_json(k->lifetime));
		if (k->third_party.n)
			json_object_set_new(j, "third_party", title_json(&k->third_party));
		json_object_set_new(cookies, k->name, j);
	}

	json_t *sources = json_object();
	for (size_t i = 0; i < p->nconsent_sources; i++) {
		const struct policy_consent_source *x = &p->consent_sources[i];
		json_t *j = json_pack("{s:s, s:o, s:o}", "version", x->version, "wording", title_json(&x->wording),
		                      "purposes", PURPOSE_NAMES(x->purposes, x->npurposes));
		if (x->title.n)
			json_object_set_new(j, "title", title_json(&x->title));
		json_object_set_new(sources, x->name, j);
	}

	json_t *backups = p->backups.has_keep ? json_pack("{s:o, s:o}", "keep", duration_json(p->backups.keep),
	                                                   "rotate_every", duration_json(p->backups.rotate_every))
	                                      : json_null();
	json_t *out = json_pack("{s:s, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "version", p->version,
	                        "controller", controller, "languages", langs, "min_age", p->min_age,
	                        "requests", req, "fields", fields, "purposes", purposes, "records", records,
	                        "recipients", recipients, "cookies", cookies, "consent_sources", sources);
	json_object_set_new(out, "backups", backups);
	if (p->nsystems)
		json_object_set_new(out, "systems", systems);
	else
		json_decref(systems);
	set_opt(out, "date", p->date);
	json_object_set_new(out, "automated_decisions",
	                    p->automated == AUTOMATED_NONE       ? json_string("none")
	                    : p->automated == AUTOMATED_DECLARED ? title_json(&p->automated_text)
	                                                         : json_null());
	return out;
}
