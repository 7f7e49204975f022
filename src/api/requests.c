/* requests: /v1/requests (data-subject requests) and the restriction of a subject. */
#include <stdlib.h>
#include <string.h>

#include "api/export.h"
#include "api/handlers.h"
#include "api/value_json.h"
#include "base/timeutil.h"
#include "core/consent.h"
#include "core/notify.h"
#include "core/request.h"
#include "core/subject.h"

static json_t *instant_or_null(int64_t t)
{
	if (!t)
		return json_null();
	char s[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(t, s);
	return json_string(s);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *json_of_request(const struct store_request *r, int64_t now)
{
	bool open = request_row_open(r);
	/* About nobody: the id in subject_id is no subject's, so none is shown. */
	return json_pack("{s:s, s:o, s:s, s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:b, s:b}", "id", r->id,
	                 "subject_id", r->nobody ? json_null() : json_string(r->subject_id), "type", r->type, "status", r->status, "channel",
	                 str_or_null(r->channel), "received_at", instant_or_null(r->received_at), "due_at",
	                 instant_or_null(r->due_at), "target_at", instant_or_null(r->target_at), "extended_at",
	                 instant_or_null(r->extended_at), "extension_reason", str_or_null(r->extension_reason),
	                 "answered_at", instant_or_null(r->answered_at), "outcome", str_or_null(r->outcome),
	                 "refusal_reason", str_or_null(r->refusal_reason), "verified_by", str_or_null(r->verified_by),
	                 "overdue", open && r->due_at < now, "about_nobody", r->nobody);
}

/* The request's notifications to systems and recipients (Art. 19): who,
 * of what, and whether they acknowledged it. */
static enum rc with_notifications(struct http_request *rq, const struct store_request *r, json_t *body)
{
	struct store_message *v = NULL;
	size_t n = 0;
	enum rc rc = request_notifications(&rq->ctx, r, &v, &n);
	if (rc)
		return rc;
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++) {
		const struct store_message *m = &v[i];
		json_array_append_new(list, json_pack("{s:I, s:s, s:s, s:s, s:s, s:i, s:o, s:o, s:o, s:o, s:o}",
		    "id", (json_int_t)m->message_id, "target", m->target ? m->target : "", "event", m->event ? m->event : "",
		    "channel", strcmp(m->kind, NOTIFY_KIND_WEBHOOK) ? "email" : "webhook", "status", notify_status(m),
		    "attempts", m->attempts, "last_error", str_or_null(m->last_error), "created_at",
		    instant_or_null(m->created_at), "acknowledged_at", instant_or_null(m->waived_at ? 0 : m->sent_at),
		    "waived_at", instant_or_null(m->waived_at), "waive_reason", str_or_null(m->waive_reason)));
	}
	store_messages_free(v, n);
	json_object_set_new(body, "notifications", list);
	return RC_OK;
}

static enum rc string_member(struct http_request *rq, const char *key, const char **out)
{
	json_t *v = json_object_get(rq->json, key);
	*out = NULL;
	if (!v || json_is_null(v))
		return RC_OK;
	if (!json_is_string(v))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "%s must be a string", key);
	*out = json_string_value(v);
	return RC_OK;
}

enum rc h_request_create(struct http_request *rq)
{
	struct request_input in = {0};
	const char *key;
	json_t *v;
	char *details = NULL;
	if (!json_is_object(rq->json))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "the body must be a JSON object");
	enum rc rc = RC_OK;
	json_object_foreach(rq->json, key, v) {
		if (rc)
			break;
		if (!strcmp(key, "type"))
			rc = string_member(rq, key, &in.type);
		else if (!strcmp(key, "subject_id"))
			rc = string_member(rq, key, &in.subject_id);
		else if (!strcmp(key, "received_at"))
			rc = string_member(rq, key, &in.received_at);
		else if (!strcmp(key, "channel"))
			rc = string_member(rq, key, &in.channel);
		else if (!strcmp(key, "verified_by"))
			rc = string_member(rq, key, &in.verified_by);
		else if (!strcmp(key, "details"))
			details = value_json_dumps(v, JSON_COMPACT);
		else if (!strcmp(key, "log_if_unknown") && json_is_boolean(v))
			in.log_if_unknown = json_is_true(v);
		else if (!strcmp(key, "language"))
			rc = string_member(rq, key, &in.language);
		else if (policy_field(rq->ctx.tenant->policy, key) && json_is_string(v) && !in.lookup_field) {
			in.lookup_field = key;
			in.lookup_value = json_string_value(v);
		} else
			rc = err_set(&rq->eb, RC_UNPROCESSABLE, "unknown key '%.64s' (or a second lookup field)", key);
	}
	in.details = details;
	struct store_request r;
	if (!rc)
		rc = request_create(&rq->ctx, &in, &r, &rq->eb);
	free(details);
	if (rc)
		return rc;
	http_reply(rq, 201, json_of_request(&r, timeutil_now()));
	store_request_fini(&r);
	return RC_OK;
}

enum rc h_request_get(struct http_request *rq)
{
	struct store_request r;
	enum rc rc = request_read(&rq->ctx, rq->params[0], &r, &rq->eb);
	if (rc)
		return rc;
	json_t *body = json_of_request(&r, timeutil_now());
	rc = with_notifications(rq, &r, body);
	store_request_fini(&r);
	if (rc) {
		json_decref(body);
		return rc;
	}
	http_reply(rq, 200, body);
	return RC_OK;
}

enum rc h_request_waive(struct http_request *rq)
{
	const char *reason = NULL;
	char *end = NULL;
	long long n = strtoll(rq->params[1], &end, 10);
	if (!*rq->params[1] || *end || n < 1)
		return err_set(&rq->eb, RC_NOT_FOUND, "no such notification");
	if (!json_is_object(rq->json) || json_object_size(rq->json) != 1)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "the body must be {\"reason\": \"...\"}");
	enum rc rc = string_member(rq, "reason", &reason);
	if (!rc && !reason)
		rc = err_set(&rq->eb, RC_UNPROCESSABLE, "the body must be {\"reason\": \"...\"}");
	struct store_request r;
	if (!rc)
		rc = request_waive(&rq->ctx, rq->params[0], (int64_t)n, reason, &r, &rq->eb);
	if (rc)
		return rc;
	json_t *body = json_of_request(&r, timeutil_now());
	rc = with_notifications(rq, &r, body);
	store_request_fini(&r);
	if (rc) {
		json_decref(body);
		return rc;
	}
	http_reply(rq, 200, body);
	return RC_OK;
}

struct list_arg {
	struct store_request_filter f;
	bool overdue;
	char after[TOKEN_ID_MAX];
};

static enum rc list_param(struct http_request *rq, const char *name, const char *value, void *arg)
{
	struct list_arg *a = arg;
	value = value ? value : "";
	if (!strcmp(name, "status")) {
		a->f.status = value;
	} else if (!strcmp(name, "overdue")) {
		if (strcmp(value, "true") && strcmp(value, "false"))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "overdue: true or false");
		a->overdue = !strcmp(value, "true");
	} else if (!strcmp(name, "due_before")) {
		if (strlen(value) > 40 || timeutil_parse_instant(value, &a->f.due_before))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "due_before: not an ISO 8601 date or datetime");
	} else if (!strcmp(name, "after")) {
		snprintf(a->after, sizeof a->after, "%s", value);
	} else if (!strcmp(name, "limit")) {
		long v;
		enum rc rc = http_number(rq, name, value, 1, 1000, &v);
		if (rc)
			return rc;
		a->f.limit = (size_t)v;
	} else {
		return err_set(&rq->eb, RC_UNPROCESSABLE, "unknown query parameter '%.40s'", name);
	}
	return RC_OK;
}

enum rc h_request_list(struct http_request *rq)
{
	struct list_arg a = {.f = {.limit = 100}};
	enum rc rc = http_each_query(rq, list_param, &a);
	if (rc)
		return rc;
	int64_t now = timeutil_now();
	if (a.overdue) { /* open and past its deadline */
		a.f.statuses = request_open_names(&a.f.nstatuses);
		if (!a.f.due_before || a.f.due_before > now)
			a.f.due_before = now;
	}
	a.f.after = a.after;
	struct store_request *v = NULL;
	size_t n = 0;
	rc = request_read_list(&rq->ctx, &a.f, &v, &n);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_of_request(&v[i], now));
	json_t *body = json_pack("{s:o}", "requests", arr);
	if (n == a.f.limit)
		json_object_set_new(body, "next_after", json_string(v[n - 1].id));
	store_requests_free(v, n);
	http_reply(rq, 200, body);
	return RC_OK;
}

/* A status change with one string argument, answered with the request. */
static enum rc change(struct http_request *rq, const char *member,
                      enum rc (*fn)(const struct core_ctx *, const char *, const char *, struct errbuf *))
{
	const char *value = NULL;
	if (!json_is_object(rq->json) || json_object_size(rq->json) != 1)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "the body must be {\"%s\": \"...\"}", member);
	enum rc rc = string_member(rq, member, &value);
	if (!rc && !value)
		rc = err_set(&rq->eb, RC_UNPROCESSABLE, "the body must be {\"%s\": \"...\"}", member);
	if (!rc)
		rc = fn(&rq->ctx, rq->params[0], value, &rq->eb);
	return rc ? rc : h_request_get(rq);
}

enum rc h_request_verify(struct http_request *rq)
{
	return change(rq, "verified_by", request_verify);
}

enum rc h_request_extend(struct http_request *rq)
{
	return change(rq, "reason", request_extend);
}

enum rc h_request_refuse(struct http_request *rq)
{
	return change(rq, "reason", request_refuse);
}

enum rc h_request_complete(struct http_request *rq)
{
	struct store_request r, done;
	struct buf text;
	struct value_json_holder h = {0};
	struct request_exec x = {0};
	json_t *details = NULL;
	const char **purposes = NULL;
	enum rc rc = request_get(&rq->ctx, rq->params[0], &r, &rq->eb);
	if (rc)
		return rc;
	buf_init(&text, REQUEST_DETAILS_MAX + 64);
	rc = request_details(&rq->ctx, &r, &text);
	if (!rc && text.len)
		details = json_loadb(text.data, text.len, JSON_DECODE_ANY, NULL);
	buf_fini(&text);
	if (!rc && !strcmp(r.type, "rectification") && json_is_object(details)) {
		struct record_input in;
		json_t *fields = json_pack("{s:O?}", "fields", json_object_get(details, "fields"));
		x.record_id = json_string_value(json_object_get(details, "record_id")); /* details lives on */
		if (fields && !record_input_from_json(fields, false, &in, &h, &rq->eb)) {
			x.changes = in.fields;
			x.nchanges = in.nfields;
		}
		json_object_set_new(details, "_fields", fields); /* keeps what x points into alive */
	}
	json_t *list = json_object_get(details, "purposes");
	if (!rc && json_is_array(list)) {
		purposes = calloc(json_array_size(list) + 1, sizeof *purposes);
		for (size_t i = 0; purposes && i < json_array_size(list); i++)
			if (json_is_string(json_array_get(list, i)))
				purposes[x.npurposes++] = json_string_value(json_array_get(list, i));
		x.purposes = purposes;
	}
	if (!rc)
		rc = request_complete(&rq->ctx, rq->params[0], &x, &done, &rq->eb);
	value_json_holder_fini(&h);
	free(purposes);
	json_decref(details);
	store_request_fini(&r);
	if (rc)
		return rc;
	json_t *body = json_of_request(&done, timeutil_now());
	if (with_notifications(rq, &done, body))
		json_object_set_new(body, "notifications", json_array()); /* the change is committed: say so regardless */
	if (!done.nobody && request_type_exports(request_row_type(&done))) {
		char token[TOKEN_LINK_MAX], url[CORE_LINK_MAX];
		if (!request_export_link(&rq->ctx, &done, token) && !core_link(&rq->ctx, CORE_LINK_EXPORT, token, url)) {
			json_object_set_new(body, "export_url", json_string(url));
		}
	}
	store_request_fini(&done);
	http_reply(rq, 200, body);
	return RC_OK;
}

enum rc h_request_export(struct http_request *rq)
{
	struct store_request r;
	enum rc rc = request_get(&rq->ctx, rq->params[0], &r, &rq->eb);
	if (rc)
		return rc;
	if (r.nobody)
		rc = err_set(&rq->eb, RC_CONFLICT, "the request is about nobody the register holds: there is no export");
	else if (!request_type_exports(request_row_type(&r)))
		rc = err_set(&rq->eb, RC_CONFLICT, "only access and portability requests have an export");
	else if (request_row_status(&r) != REQUEST_COMPLETED)
		rc = err_set(&rq->eb, RC_CONFLICT, "the request is not completed yet");
	if (!rc)
		rc = export_reply(rq, r.subject_id, http_query(rq, "format"));
	store_request_fini(&r);
	return rc;
}

enum rc h_subject_unrestrict(struct http_request *rq)
{
	enum rc rc = notify_subject_restricted(&rq->ctx, rq->params[0], false, &rq->eb);
	if (!rc)
		http_reply(rq, 204, NULL);
	return rc;
}

/* GET /v1/notifications: the notifications of every request not yet
 * acknowledged (or waived), oldest first, at most NOTIFICATIONS_SHOWN of
 * them (truncated says there are more): the console's deliveries page. */
#define NOTIFICATIONS_SHOWN 500

enum rc h_notifications_pending(struct http_request *rq)
{
	struct store_message *v = NULL;
	size_t n = 0;
	enum rc rc = notify_list_unsent(&rq->ctx, NOTIFICATIONS_SHOWN + 1, &v, &n);
	if (rc)
		return rc;
	json_t *list = json_array();
	bool truncated = n > NOTIFICATIONS_SHOWN;
	for (size_t i = 0; i < n && i < NOTIFICATIONS_SHOWN; i++) {
		const struct store_message *m = &v[i];
		json_array_append_new(list, json_pack("{s:I, s:o, s:o, s:s, s:s, s:s, s:s, s:i, s:o, s:o}",
		    "id", (json_int_t)m->message_id, "request_id", str_or_null(m->request_id[0] ? m->request_id : NULL),
		    "subject_id", str_or_null(m->subject_id[0] ? m->subject_id : NULL), "target", m->target ? m->target : "",
		    "event", m->event ? m->event : "", "channel", strcmp(m->kind, NOTIFY_KIND_WEBHOOK) ? "email" : "webhook",
		    "status", notify_status(m), "attempts", m->attempts, "last_error", str_or_null(m->last_error),
		    "created_at", instant_or_null(m->created_at)));
	}
	store_messages_free(v, n);
	http_reply(rq, 200, json_pack("{s:o, s:b}", "notifications", list, "truncated", truncated));
	return RC_OK;
}
