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
	json_t *auth = json_pack("{s:s}", "name", c->authority_name);
	set_opt(auth, "email", c->authority_email);
	set_opt(auth, "url", c->authority_url);
	json_object_set_new(controller, "authority", auth);

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
		json_object_set_new(fields, f->name, j);
	}

	json_t *purposes = json_object();
	for (size_t i = 0; i < p->npurposes; i++) {
		const struct policy_purpose *u = &p->purposes[i];
		json_t *j = json_pack("{s:s, s:b, s:b, s:b, s:o}", "basis", policy_basis_name(u->basis),
		                      "double_opt_in", u->double_opt_in, "objectable", u->objectable,
		                      "direct_marketing", u->channel != CHANNEL_NONE, "title", title_json(&u->title));
		set_opt(j, "channel", u->channel != CHANNEL_NONE ? policy_channel_name(u->channel) : NULL);
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
		json_object_set_new(recipients, r->name, j);
	}

	json_t *cookies = json_object();
	for (size_t i = 0; i < p->ncookies; i++) {
		const struct policy_cookie *k = &p->cookies[i];
		json_object_set_new(cookies, k->name,
		                    json_pack("{s:o, s:b, s:o}", "purposes", PURPOSE_NAMES(k->purposes, k->npurposes),
		                              "consent", k->consent, "title", title_json(&k->title)));
	}

	json_t *backups = p->backups.has_keep ? json_pack("{s:o, s:o}", "keep", duration_json(p->backups.keep),
	                                                   "rotate_every", duration_json(p->backups.rotate_every))
	                                      : json_null();
	return json_pack("{s:s, s:o, s:o, s:i, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "version", p->version,
	                 "controller", controller, "languages", langs, "min_age", p->min_age, "backups", backups,
	                 "requests", req, "fields", fields, "purposes", purposes, "records", records,
	                 "recipients", recipients, "cookies", cookies);
}
