/*
 * export: what the register holds about a subject and what it does with it,
 * as Art. 15(1) lists it: (a) purposes, (b) categories of data, (c)
 * recipients, (d) how long it is kept, (e) the rights to rectification,
 * erasure, restriction and objection, (f) the right to complain to the
 * supervisory authority, (g) where the data came from, (h) automated
 * decisions. Built from the policy in force and the subject's records.
 */
#include "api/export.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "base/csv.h"
#include "base/timeutil.h"
#include "core/consent.h"
#include "core/country.h"
#include "core/disclosure.h"
#include "core/hold.h"
#include "core/keep.h"
#include "core/notify.h"
#include "core/subject.h"

static json_t *title_json(const struct policy_title *t)
{
	json_t *j = json_object();
	for (size_t i = 0; i < t->n; i++)
		json_object_set_new(j, t->v[i].lang, json_string(t->v[i].text));
	return j;
}

static json_t *date_or_null(int64_t t)
{
	char s[TIMEUTIL_DATE_LEN];
	timeutil_format_date(t, s);
	return json_string(s);
}

/* When the record is due to go under its kind's rule (core/keep, which
 * knows financial years), or null with why; a legal hold on it says so. */
static void planned(const struct policy_record *k, const struct record_view *v, bool held, json_t *out)
{
	char text[128];
	policy_keep_format(&k->keep, text, sizeof text);
	json_object_set_new(out, "retention", json_string(text));
	json_object_set_new(out, "then", json_string(policy_then_name(k->then)));
	const char *event = policy_record_keep_event(k);
	struct store_event ev[RECORD_MAX_EVENTS];
	size_t nev = 0;
	for (size_t i = 0; i < v->nevents && nev < RECORD_MAX_EVENTS; i++)
		ev[nev++] = (struct store_event){.name = v->events[i].name, .at = v->events[i].at};
	int64_t due = keep_due(k, v->created_at, ev, nev, NULL, 0);
	json_object_set_new(out, "planned_deletion", due ? date_or_null(due) : json_null());
	bool happened = !strcmp(event, "created");
	for (size_t i = 0; i < v->nevents && !happened; i++)
		happened = !strcmp(v->events[i].name, event);
	if (!happened) {
		snprintf(text, sizeof text, "%s has not happened yet", event);
		json_object_set_new(out, "planned_deletion_note", json_string(text));
	}
	/* A hold keeps the record past its planned deletion, for as long as it lasts. */
	json_object_set_new(out, "legal_hold", json_boolean(held));
	if (held)
		json_object_set_new(out, "legal_hold_note",
		                    json_string("under a legal hold: kept past its planned deletion until the hold is lifted"));
}

static json_t *record_export(const struct policy *p, const struct record_view *v, bool held)
{
	json_t *r = record_view_to_json(v);
	const struct policy_record *k = policy_record(p, v->kind);
	if (!k)
		return r;
	json_t *purposes = json_array(), *recipients = json_array();
	for (size_t i = 0; i < k->npurposes; i++) {
		const struct policy_purpose *u = k->purposes[i];
		json_array_append_new(purposes, json_pack("{s:s, s:o, s:s}", "name", u->name, "title",
		                                          title_json(&u->title), "legal_basis", policy_basis_name(u->basis)));
	}
	/* Who may receive something of this record, for one of its purposes. */
	for (size_t i = 0; i < p->nrecipients; i++) {
		const struct policy_recipient *x = &p->recipients[i];
		json_t *fields = json_array();
		bool purpose_shared = x->role == RECIPIENT_AUTHORITY;
		for (size_t a = 0; a < x->npurposes && !purpose_shared; a++)
			for (size_t b = 0; b < k->npurposes; b++)
				purpose_shared |= x->purposes[a] == k->purposes[b];
		for (size_t f = 0; f < x->nfields; f++)
			if (policy_record_has_field(k, x->fields[f]))
				json_array_append_new(fields, json_string(x->fields[f]->name));
		if (!purpose_shared || (x->role != RECIPIENT_AUTHORITY && !json_array_size(fields))) {
			json_decref(fields);
			continue;
		}
		json_t *e = json_pack("{s:s, s:s, s:s, s:b, s:o}", "name", x->name, "role", policy_role_name(x->role),
		                      "country", x->country, "in_eea", country_in_eea(x->country), "fields", fields);
		json_object_set_new(e, "transfer_basis", x->transfer != TRANSFER_NONE
		                                         ? json_string(policy_transfer_name(x->transfer)) : json_null());
		if (x->role == RECIPIENT_AUTHORITY)
			json_object_set_new(e, "when", json_string("only when a law requires it, with its legal reference"));
		json_array_append_new(recipients, e);
	}
	json_object_set_new(r, "purposes", purposes);
	json_object_set_new(r, "recipients", recipients);
	json_object_set_new(r, "erasable", json_boolean(k->erasable));
	planned(k, v, held, r);
	return r;
}

static json_t *export_json(struct http_request *rq, const struct subject_view *s, const struct consent_report *cr,
                           json_t *disclosures, const struct store_hold *holds, size_t nholds)
{
	const struct policy *p = rq->ctx.tenant->policy;
	const struct policy_controller *ct = &p->controller;
	json_t *records = json_array(), *history = json_array();
	for (size_t i = 0; i < s->nrecords; i++)
		json_array_append_new(records, record_export(p, &s->records[i],
		                                             hold_covering(holds, nholds, s->id, s->records[i].id) != NULL));
	for (size_t i = 0; i < cr->nevents; i++) {
		const struct store_consent_event *e = &cr->events[i];
		char at[TIMEUTIL_DATETIME_LEN];
		timeutil_format_datetime(e->at, at);
		json_array_append_new(history, json_pack("{s:s, s:s, s:s, s:s?, s:s, s:s?}", "purpose", e->purpose,
		                                         "action", e->action, "at", at, "source", e->source,
		                                         "policy_version", e->policy_version, "text", e->wording));
	}
	char now[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(timeutil_now(), now);
	json_t *controller = json_pack("{s:s, s:s, s:s?, s:s?, s:s?}", "name", ct->name, "email", ct->email, "code",
	                               ct->code, "address", ct->address, "dpo", ct->dpo);
	json_t *authority = json_pack("{s:s, s:s?, s:s?}", "name", ct->authority_name, "email", ct->authority_email,
	                              "url", ct->authority_url);
	json_t *rights = json_pack("[s, s, s, s, s, s, s, s]", "access (Art. 15)", "rectification (Art. 16)",
	                           "erasure (Art. 17)", "restriction (Art. 18)", "portability (Art. 20)",
	                           "objection (Art. 21)", "withdraw consent at any time (Art. 7(3))",
	                           "complain to the supervisory authority (Art. 77)");
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:s, s:s, s:o}", "subject_id", s->id,
	                 "generated_at", now, "policy_version", p->version, "controller", controller,
	                 "supervisory_authority", authority, "records", records, "consent_history", history,
	                 "disclosures", disclosures, "rights", rights, "source",
	                 "given by you, or entered by the controller in the course of its business with you",
	                 "automated_decisions", "none: no decision about you is made by automated means alone",
	                 "answer_deadline", json_pack("{s:s}", "text", "1 month from receipt, extendable once"));
}

/* One cell, quoted when it must be (RFC 4180); a formula's start behind a
 * single quote (base/csv.h). */
static enum rc csv_cell(struct buf *b, const char *s, size_t n)
{
	bool quote = false;
	for (size_t i = 0; i < n && !quote; i++)
		quote = s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r';
	enum rc rc = quote ? buf_append(b, "\"", 1) : RC_OK;
	if (!rc && csv_formula(s, n))
		rc = buf_append(b, "'", 1);
	if (!quote)
		return rc ? rc : buf_append(b, s, n);
	for (size_t i = 0; !rc && i < n; i++)
		rc = s[i] == '"' ? buf_append(b, "\"\"", 2) : buf_append(b, &s[i], 1);
	return rc ? rc : buf_append(b, "\"", 1);
}

/* multipart/mixed: one text/csv part per record kind, columns id,
 * created_at and every field of the kind. */
static enum rc export_csv(struct http_request *rq, const struct subject_view *s, char **out, char *boundary,
                          size_t bsize)
{
	const struct policy *p = rq->ctx.tenant->policy;
	struct buf b;
	buf_init(&b, 64 * 1024 * 1024);
	unsigned char rnd[8];
	randombytes_buf(rnd, sizeof rnd);
	snprintf(boundary, bsize, "privreg-%02x%02x%02x%02x%02x%02x%02x%02x", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
	         rnd[5], rnd[6], rnd[7]);
	enum rc rc = RC_OK;
	for (size_t k = 0; !rc && k < p->nrecords; k++) {
		const struct policy_record *kind = &p->records[k];
		bool any = false;
		for (size_t i = 0; i < s->nrecords && !any; i++)
			any = !strcmp(s->records[i].kind, kind->name);
		if (!any)
			continue;
		rc = buf_printf(&b, "--%s\r\nContent-Type: text/csv; charset=utf-8\r\n"
		                    "Content-Disposition: attachment; filename=\"%s.csv\"\r\n\r\nid,created_at",
		                boundary, kind->name);
		for (size_t f = 0; !rc && f < kind->nfields; f++)
			rc = buf_printf(&b, ",%s", kind->fields[f]->name);
		if (!rc)
			rc = buf_puts(&b, "\r\n");
		for (size_t i = 0; !rc && i < s->nrecords; i++) {
			const struct record_view *v = &s->records[i];
			if (strcmp(v->kind, kind->name))
				continue;
			char at[TIMEUTIL_DATETIME_LEN];
			timeutil_format_datetime(v->created_at, at);
			rc = buf_printf(&b, "%s,%s", v->id, at);
			for (size_t f = 0; !rc && f < kind->nfields; f++) {
				rc = buf_puts(&b, ",");
				for (size_t x = 0; !rc && x < v->nfields; x++)
					if (!strcmp(v->fields[x].name, kind->fields[f]->name))
						rc = csv_cell(&b, v->fields[x].value, v->fields[x].len);
			}
			if (!rc)
				rc = buf_puts(&b, "\r\n");
		}
	}
	if (!rc)
		rc = buf_printf(&b, "--%s--\r\n", boundary);
	if (rc) {
		buf_fini(&b);
		return rc;
	}
	*out = buf_take(&b, NULL);
	return RC_OK;
}

/* Art. 19, second sentence: the systems and recipients told of changes to
 * the subject's data (rectification, restriction, ...), and when. */
static json_t *told_json(const struct store_message *v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		char at[TIMEUTIL_DATETIME_LEN];
		timeutil_format_datetime(v[i].created_at, at);
		json_array_append_new(a, json_pack("{s:s, s:s, s:s, s:s}", "recipient", v[i].target ? v[i].target : "",
		                                   "event", v[i].event ? v[i].event : "", "at", at, "status",
		                                   notify_status(&v[i])));
	}
	return a;
}

enum rc export_reply(struct http_request *rq, const char *subject_id, const char *format)
{
	if (format && strcmp(format, "json") && strcmp(format, "csv"))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "format: json or csv");
	struct subject_view *s = NULL;
	struct consent_report cr;
	enum rc rc = subject_read(&rq->ctx, subject_id, &s, &rq->eb);
	if (rc)
		return rc == RC_NOT_FOUND ? err_set(&rq->eb, RC_GONE, "the subject's data has been erased") : rc;
	rc = consent_report(&rq->ctx, subject_id, &cr, &rq->eb);
	if (rc) {
		subject_view_free(s);
		return rc;
	}
	if (format && !strcmp(format, "csv")) {
		char *text = NULL, boundary[64];
		rc = export_csv(rq, s, &text, boundary, sizeof boundary);
		if (!rc) {
			snprintf(rq->content_type_buf, sizeof rq->content_type_buf, "multipart/mixed; boundary=%s", boundary);
			rq->status = 200;
			rq->text = text;
			rq->content_type = rq->content_type_buf;
		}
	} else {
		struct store_disclosure *d = NULL;
		struct store_hold *holds = NULL;
		size_t nd = 0, nholds = 0;
		rc = disclosure_list(&rq->ctx, subject_id, &d, &nd);
		if (!rc)
			rc = hold_active(&rq->ctx, subject_id, NULL, &holds, &nholds);
		struct store_message *told = NULL;
		size_t ntold = 0;
		if (!rc)
			rc = notify_list(&rq->ctx, subject_id, NULL, &told, &ntold);
		if (!rc) {
			json_t *j = export_json(rq, s, &cr, disclosures_json(d, nd), holds, nholds);
			if (j)
				json_object_set_new(j, "recipients_told", told_json(told, ntold));
			rc = value_json_reply(rq, 200, j);
		}
		store_messages_free(told, ntold);
		store_holds_free(holds, nholds);
		store_disclosures_free(d, nd);
	}
	consent_report_fini(&cr);
	subject_view_free(s);
	return rc;
}
