/* openapi: the OpenAPI document (src/api/openapi.json, compiled in), and
 * the same document typed by a tenant's policy (see openapi_doc.h). Every
 * schema made here says what the field's type accepts on the way in
 * (core/field.c decides); a generated client sends what the server takes. */
#include "api/openapi_doc.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "base/xalloc.h"

#include "openapi.h"

#define SCHEMAS "#/components/schemas/"

static json_t *ref(const char *prefix, const char *name)
{
	char s[160];
	snprintf(s, sizeof s, "%s%s", prefix, name);
	return json_pack("{s:s}", "$ref", s);
}

static const char *title(const struct policy *p, const struct policy_title *t)
{
	return policy_title_in(t, p->nlanguages ? p->languages[0] : "en", NULL);
}

/* A value of field f as core/field.c accepts it. */
static json_t *field_schema(const struct policy *p, const struct policy_field *f)
{
	json_t *s = NULL;
	const char *note = NULL;
	switch (f->type) {
	case FT_TEXT:
		s = json_pack("{s:s, s:i}", "type", "string", "maxLength", f->max);
		break;
	case FT_EMAIL:
		s = json_pack("{s:s, s:s}", "type", "string", "format", "email");
		note = "stored with its domain in lower case";
		break;
	case FT_PHONE:
		s = json_pack("{s:s}", "type", "string");
		note = "an international phone number (+372 5123 4567); answered in E.164 (+37251234567)";
		break;
	case FT_DATE:
		s = json_pack("{s:s, s:s}", "type", "string", "format", "date");
		break;
	case FT_DATETIME:
		s = json_pack("{s:s, s:s}", "type", "string", "format", "date-time");
		note = "answered in UTC";
		break;
	case FT_ENUM: {
		json_t *values = json_array();
		for (size_t i = 0; i < f->nvalues; i++)
			json_array_append_new(values, json_string(f->values[i]));
		s = json_pack("{s:s, s:o}", "type", "string", "enum", values);
		break;
	}
	case FT_DECIMAL:
		s = json_pack("{s:[s,s], s:s}", "type", "string", "number", "pattern", "^-?(0|[1-9][0-9]*)(\\.[0-9]+)?$");
		note = "a plain decimal (12.50), sent as a string or a number; answered as a string, with its digits";
		break;
	case FT_INTEGER:
		s = json_pack("{s:s, s:s}", "type", "integer", "format", "int64");
		break;
	case FT_BOOL:
		s = json_pack("{s:s}", "type", "boolean");
		break;
	case FT_IP:
		s = json_pack("{s:s}", "type", "string");
		note = "an IPv4 or IPv6 address";
		break;
	case FT_COUNTRY:
		s = json_pack("{s:s, s:s}", "type", "string", "pattern", "^[A-Za-z]{2}$");
		note = "an ISO 3166-1 alpha-2 country code; answered in upper case";
		break;
	case FT_JSON:
		s = json_pack("{s:[s,s,s]}", "type", "object", "array", "string");
		json_object_set_new(s, "additionalProperties", json_true());
		json_object_set_new(s, "items", json_object());
		note = "JSON: an object, an array, or a string";
		break;
	}
	const char *t = title(p, &f->title);
	char text[512];
	snprintf(text, sizeof text, "%s%s%s", t ? t : "", t && note ? ": " : "", note ? note : "");
	if (text[0])
		json_object_set_new(s, "description", json_string(text));
	return s;
}

static json_t *names_json(const struct policy_field *const *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]->name));
	return a;
}

/* An object of the fields given; every key is a field of the policy. */
static json_t *fields_object(const struct policy *p, const struct policy_field *const *v, size_t n,
                             bool nullable, const char *description)
{
	json_t *props = json_object();
	for (size_t i = 0; i < n; i++) {
		json_t *s = field_schema(p, v[i]);
		if (nullable)
			s = json_pack("{s:[o,{s:s}]}", "oneOf", s, "type", "null");
		json_object_set_new(props, v[i]->name, s);
	}
	return json_pack("{s:s, s:s, s:b, s:o}", "type", "object", "description", description,
	                 "additionalProperties", 0, "properties", props);
}

static json_t *kind_property(const struct policy *p, const struct policy_record *r)
{
	json_t *k = json_pack("{s:s, s:s}", "type", "string", "const", r->name);
	const char *t = title(p, &r->title);
	if (t)
		json_object_set_new(k, "description", json_string(t));
	return k;
}

/* Record_KIND, RecordInput_KIND and Fields_KIND of one kind. */
static void add_kind(json_t *schemas, const struct policy *p, const struct policy_record *r)
{
	char name[96];
	snprintf(name, sizeof name, "Fields_%s", r->name);
	json_object_set_new(schemas, name, fields_object(p, r->fields, r->nfields, false,
	                                                 "The fields of a record of this kind, as the policy types them"));

	json_t *rec = json_deep_copy(json_object_get(schemas, "Record"));
	json_t *props = json_object_get(rec, "properties");
	json_object_set_new(props, "kind", kind_property(p, r));
	json_object_set_new(props, "fields", ref(SCHEMAS "Fields_", r->name));
	snprintf(name, sizeof name, "Record_%s", r->name);
	json_object_set_new(schemas, name, rec);

	json_t *in = json_deep_copy(json_object_get(schemas, "RecordInput"));
	props = json_object_get(in, "properties");
	json_object_set_new(props, "kind", kind_property(p, r));
	json_t *fields = fields_object(p, r->fields, r->nfields, false, "The record's fields; the required ones must be given");
	if (r->nrequired) {
		json_object_set_new(fields, "required", names_json(r->required, r->nrequired));
		json_array_append_new(json_object_get(in, "required"), json_string("fields"));
	}
	json_object_set_new(props, "fields", fields);
	const char *events[POLICY_EVENTS_MAX + 1];
	size_t ne = policy_record_events(r, events, POLICY_EVENTS_MAX + 1);
	if (ne > POLICY_EVENTS_MAX + 1)
		ne = POLICY_EVENTS_MAX + 1;
	if (ne) {
		json_t *ev = json_object();
		for (size_t i = 0; i < ne; i++)
			json_object_set_new(ev, events[i], json_pack("{s:s, s:s}", "type", "string", "description",
			                                             "ISO 8601 date or datetime"));
		json_object_set_new(props, "events",
		                    json_pack("{s:s, s:s, s:b, s:o}", "type", "object", "description",
		                              "Named dates of the events this kind has", "additionalProperties", 0,
		                              "properties", ev));
	} else {
		json_object_del(props, "events"); /* the kind has no events to give */
	}
	snprintf(name, sizeof name, "RecordInput_%s", r->name);
	json_object_set_new(schemas, name, in);
}

/* {oneOf: [PREFIX_KIND...], discriminator: kind}. */
static json_t *one_of_kinds(const struct policy *p, const char *prefix, const char *description)
{
	json_t *one = json_array(), *mapping = json_object();
	for (size_t i = 0; i < p->nrecords; i++) {
		char target[160];
		snprintf(target, sizeof target, SCHEMAS "%s_%s", prefix, p->records[i].name);
		json_array_append_new(one, json_pack("{s:s}", "$ref", target));
		json_object_set_new(mapping, p->records[i].name, json_string(target));
	}
	return json_pack("{s:s, s:o, s:{s:s, s:o}}", "description", description, "oneOf", one, "discriminator",
	                 "propertyName", "kind", "mapping", mapping);
}

/* The query parameters marked x-privreg-lookup become the policy's lookup
 * fields (only the unique ones when unique_only). */
static void lookup_parameters(json_t *op, const struct policy *p, bool unique_only)
{
	json_t *params = json_object_get(op, "parameters");
	if (!params)
		return;
	for (size_t i = json_array_size(params); i-- > 0;)
		if (json_is_true(json_object_get(json_array_get(params, i), "x-privreg-lookup")))
			json_array_remove(params, i);
	for (size_t i = 0; i < p->nfields; i++) {
		const struct policy_field *f = &p->fields[i];
		if (!f->lookup || (unique_only && !f->unique))
			continue;
		char text[200];
		snprintf(text, sizeof text, "A lookup field of the policy%s; compared as the policy normalises it",
		         f->unique ? " (unique: one subject at most holds a value)" : "");
		json_array_append_new(params, json_pack("{s:s, s:s, s:b, s:o, s:s, s:b}", "name", f->name, "in", "query",
		                                        "required", 0, "schema", field_schema(p, f), "description",
		                                        text, "x-privreg-lookup", 1));
	}
}

static void collect_refs(json_t *node, json_t *seen)
{
	if (json_is_object(node)) {
		const char *k;
		json_t *v;
		json_object_foreach(node, k, v) {
			if (!strcmp(k, "$ref") && json_is_string(v))
				json_object_set_new(seen, json_string_value(v), json_true());
			else
				collect_refs(v, seen);
		}
	} else if (json_is_array(node)) {
		size_t i;
		json_t *v;
		json_array_foreach(node, i, v)
			collect_refs(v, seen);
	}
}

/* Removes the components nothing refers to, until none is left. */
static void prune(json_t *doc)
{
	json_t *components = json_object_get(doc, "components");
	for (bool removed = true; removed;) {
		removed = false;
		json_t *seen = json_object();
		collect_refs(doc, seen);
		const char *section;
		json_t *items;
		json_object_foreach(components, section, items) {
			if (!strcmp(section, "securitySchemes"))
				continue; /* named by security requirements, not by $ref */
			const char *name;
			json_t *v;
			void *tmp;
			json_object_foreach_safe(items, tmp, name, v) {
				char target[200];
				snprintf(target, sizeof target, "#/components/%s/%s", section, name);
				if (!json_object_get(seen, target)) {
					json_object_del(items, name);
					removed = true;
				}
			}
		}
		json_decref(seen);
	}
}

static void type_by_policy(json_t *doc, const struct policy *p, const char *tenant)
{
	json_t *info = json_object_get(doc, "info");
	char text[512];
	snprintf(text, sizeof text, "privreg: %s", tenant);
	json_object_set_new(info, "title", json_string(text));
	snprintf(text, sizeof text,
	         "Typed by the policy of tenant %s (version %s): record fields, lookup fields and events are the "
	         "policy's. ",
	         tenant, p->version ? p->version : "unnamed");
	json_t *desc = json_object_get(info, "description");
	size_t n = strlen(text) + strlen(json_string_value(desc)) + 1;
	char *joined = xmalloc(n);
	snprintf(joined, n, "%s%s", text, json_string_value(desc));
	json_object_set_new(info, "description", json_string(joined));
	free(joined);

	json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
	for (size_t i = 0; i < p->nrecords; i++)
		add_kind(schemas, p, &p->records[i]);
	if (p->nrecords) { /* a oneOf needs one at least: without kinds Record stays as it is */
		json_object_set_new(schemas, "Record", one_of_kinds(p, "Record", "A record: its fields are those of its kind"));
		json_object_set_new(schemas, "RecordInput",
		                    one_of_kinds(p, "RecordInput", "A record to add: its fields are those of its kind"));
	}

	const struct policy_field **all = xcalloc(p->nfields ? p->nfields : 1, sizeof *all);
	for (size_t i = 0; i < p->nfields; i++)
		all[i] = &p->fields[i];
	json_object_set_new(schemas, "Fields",
	                    fields_object(p, all, p->nfields, false,
	                                  "Fields of any kind of the policy (a record holds those of its kind)"));
	json_object_set_new(schemas, "FieldChanges",
	                    fields_object(p, all, p->nfields, true,
	                                  "Fields to change (those of the record's kind); null removes a field"));
	free(all);

	/* A request names its subject by subject_id or by one lookup field. */
	json_t *rin = json_object_get(schemas, "RequestInput");
	json_t *rprops = json_object_get(rin, "properties");
	for (size_t i = 0; i < p->nfields; i++)
		if (p->fields[i].lookup && !json_object_get(rprops, p->fields[i].name))
			json_object_set_new(rprops, p->fields[i].name, field_schema(p, &p->fields[i]));
	json_object_set_new(rin, "additionalProperties", json_false());

	json_t *paths = json_object_get(doc, "paths");
	lookup_parameters(json_object_get(json_object_get(paths, "/v1/subjects"), "get"), p, false);
	lookup_parameters(json_object_get(json_object_get(paths, "/v1/subjects"), "put"), p, true);
	lookup_parameters(json_object_get(json_object_get(paths, "/v1/consents/check"), "get"), p, false);
	prune(doc);
}

json_t *openapi_doc_new(const struct policy *p, const char *tenant)
{
	json_error_t jerr;
	json_t *doc = json_loads(http_openapi_json, 0, &jerr);
	if (doc && p)
		type_by_policy(doc, p, tenant);
	return doc;
}
