/* consents: /v1/subjects/{id}/consents, /v1/consents/check, /v1/audiences/{purpose}. */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/consent.h"
#include "core/notify.h"

static const char *opt_str(json_t *o, const char *key, bool *bad)
{
	json_t *v = json_object_get(o, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v))
		*bad = true;
	return json_string_value(v);
}

enum rc h_consent_post(struct http_request *rq)
{
	static const char *const keys[] = {"purpose", "granted", "source", "text", "ip", NULL};
	enum rc krc = json_keys_only(rq->json, keys, &rq->eb);
	if (krc)
		return krc;
	bool bad = false;
	const char *purpose = opt_str(rq->json, "purpose", &bad);
	json_t *granted = json_object_get(rq->json, "granted");
	struct consent_evidence ev = {.source = opt_str(rq->json, "source", &bad),
	                              .wording = opt_str(rq->json, "text", &bad), .ip = opt_str(rq->json, "ip", &bad)};
	if (bad || !purpose || !json_is_boolean(granted))
		return err_set(&rq->eb, RC_UNPROCESSABLE,
		               "give purpose (a string), granted (true or false) and source; text and ip are optional strings");
	const struct policy_purpose *u = policy_purpose(rq->ctx.tenant->policy, purpose);
	enum consent_action a = json_is_true(granted) ? CONSENT_GRANT
	                      : u && u->basis != BASIS_CONSENT ? CONSENT_OBJECT : CONSENT_WITHDRAW;
	char state[16];
	enum rc rc = notify_consent_record(&rq->ctx, rq->params[0], purpose, a, &ev, state, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 201, json_pack("{s:s, s:s, s:b}", "purpose", purpose, "state", state, "allowed",
	                              u && consent_allows(u, consent_state_parse(state))));
	return RC_OK;
}

static json_t *instant(int64_t t)
{
	char s[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(t, s);
	return json_string(s);
}

static json_t *opt(const char *s)
{
	return s ? json_string(s) : json_null();
}

enum rc h_consent_get(struct http_request *rq)
{
	struct consent_report r;
	enum rc rc = consent_report(&rq->ctx, rq->params[0], &r, &rq->eb);
	if (rc)
		return rc;
	json_t *current = json_array(), *history = json_array();
	for (size_t i = 0; i < r.nstates; i++) {
		struct consent_status st;
		enum rc crc = consent_check(&rq->ctx, rq->params[0], r.states[i].purpose, &st, &rq->eb);
		json_array_append_new(current, json_pack("{s:s, s:s, s:o, s:b}", "purpose", r.states[i].purpose, "state",
		                                         r.states[i].state, "updated_at", instant(r.states[i].updated_at),
		                                         "allowed", !crc && st.allowed));
	}
	for (size_t i = 0; i < r.nevents; i++) {
		const struct store_consent_event *e = &r.events[i];
		json_array_append_new(history, json_pack("{s:I, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:o, s:s}",
		                                         "event", (json_int_t)e->event_id, "purpose", e->purpose,
		                                         "action", e->action, "at", instant(e->at), "source", opt(e->source),
		                                         "channel", opt(e->channel), "policy_version", e->policy_version,
		                                         "text", opt(e->wording), "ip", r.ips[i][0] ? json_string(r.ips[i])
		                                                                                    : json_null(),
		                                         "actor", e->actor));
	}
	consent_report_fini(&r);
	http_reply(rq, 200, json_pack("{s:s, s:o, s:o}", "subject_id", rq->params[0], "consents", current,
	                              "history", history));
	return RC_OK;
}

struct check_arg {
	const char *purpose, *field, *value;
	int nkeys;
};

static enum rc check_param(struct http_request *rq, const char *name, const char *value, void *arg)
{
	struct check_arg *a = arg;
	const struct policy_field *f = policy_field(rq->ctx.tenant->policy, name);
	if (!strcmp(name, "purpose")) {
		a->purpose = value ? value : "";
	} else if (strcmp(name, "subject") && (!f || !f->lookup)) {
		return err_set(&rq->eb, RC_UNPROCESSABLE, "unknown query parameter '%.40s': give purpose and subject or a lookup field",
		               name);
	} else {
		a->field = name;
		a->value = value ? value : "";
		a->nkeys++;
	}
	return RC_OK;
}

static enum rc check_answer(struct http_request *rq)
{
	struct consent_status st;
	enum rc rc = consent_lookup_finish(rq->resume_arg, &st, &rq->eb);
	if (!rc)
		http_reply(rq, 200, json_pack("{s:b, s:s}", "allowed", st.allowed, "state", st.state));
	return rc;
}

enum rc h_consent_check(struct http_request *rq)
{
	struct check_arg a = {0};
	enum rc rc = http_each_query(rq, check_param, &a);
	if (rc)
		return rc;
	if (!a.purpose || a.nkeys != 1)
		return err_set(&rq->eb, RC_UNPROCESSABLE,
		               "give purpose and one of subject or a lookup field, e.g. ?purpose=P&email=E");
	struct consent_status st;
	if (!strcmp(a.field, "subject")) {
		rc = consent_check(&rq->ctx, a.value, a.purpose, &st, &rq->eb);
		if (!rc)
			http_reply(rq, 200, json_pack("{s:b, s:s}", "allowed", st.allowed, "state", st.state));
		return rc;
	}
	/* By a lookup value: on PostgreSQL the question goes in a flight and
	 * the answer is written in check_answer, once it is in. */
	struct consent_lookup *l = xmalloc(sizeof *l);
	rc = consent_lookup_start(&rq->ctx, a.field, a.value, a.purpose, l, &rq->eb);
	if (rc) {
		free(l);
		return rc;
	}
	rq->resume = check_answer;
	rq->resume_arg = l;
	return RC_OK;
}

enum rc h_audience(struct http_request *rq)
{
	const char *after = http_query(rq, "after");
	const char *lim = http_query(rq, "limit");
	long lv = 100;
	if (lim && http_number(rq, "limit", lim, 1, CONSENT_AUDIENCE_MAX, &lv))
		return RC_UNPROCESSABLE;
	size_t limit = (size_t)lv;
	if (after && strlen(after) >= TOKEN_ID_MAX)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "after: not a subject id");
	struct audience_entry *v = calloc(limit, sizeof *v);
	size_t n = 0;
	if (!v)
		return RC_INTERNAL;
	enum rc rc = consent_audience(&rq->ctx, rq->params[0], after, v, limit, &n, &rq->eb);
	if (rc) {
		free(v);
		return rc;
	}
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		char url[CORE_LINK_MAX], header[CORE_LINK_MAX + 2];
		if (core_link(&rq->ctx, CORE_LINK_UNSUBSCRIBE, v[i].unsubscribe, url)) {
			json_decref(arr);
			free(v);
			return RC_INTERNAL;
		}
		snprintf(header, sizeof header, "<%s>", url);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:{s:s, s:s}}", "subject_id", v[i].subject_id,
		                                     "contact", v[i].contact, "unsubscribe_url", url, "headers",
		                                     "List-Unsubscribe", header, "List-Unsubscribe-Post",
		                                     "List-Unsubscribe=One-Click"));
	}
	json_t *body = json_pack("{s:s, s:o}", "purpose", rq->params[0], "recipients", arr);
	if (n == limit)
		json_object_set_new(body, "next_after", json_string(v[n - 1].subject_id));
	free(v);
	http_reply(rq, 200, body);
	return RC_OK;
}

enum rc h_acceptance_post(struct http_request *rq)
{
	static const char *const keys[] = {"version", "source", "text", NULL};
	enum rc krc = json_keys_only(rq->json, keys, &rq->eb);
	if (krc)
		return krc;
	bool bad = false;
	const char *version = opt_str(rq->json, "version", &bad);
	struct consent_evidence ev = {.source = opt_str(rq->json, "source", &bad),
	                              .wording = opt_str(rq->json, "text", &bad)};
	if (bad)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "version, source and text are strings");
	enum rc rc = consent_accept_terms(&rq->ctx, rq->params[0], version, &ev, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 201, json_pack("{s:s, s:s}", "subject_id", rq->params[0], "version",
	                              version ? version : rq->ctx.tenant->policy->version));
	return RC_OK;
}
