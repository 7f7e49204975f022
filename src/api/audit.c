/* audit: GET /v1/audit (the tenant's log, filtered and paged) and GET /v1/audit/verify. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "base/timeutil.h"
#include "core/audit.h"

static json_t *opt_string(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *entry_json(const struct store_audit *e)
{
	char at[TIMEUTIL_DATETIME_LEN], hash[STORE_AUDIT_HASH_LEN * 2 + 1];
	timeutil_format_datetime(e->at, at);
	for (size_t i = 0; i < STORE_AUDIT_HASH_LEN; i++)
		snprintf(hash + 2 * i, 3, "%02x", e->hash[i]);
	return json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:o, s:o, s:s, s:o, s:s}", "seq", (json_int_t)e->seq,
	                 "at", at, "key_id", e->key_id, "role", e->role, "action", e->action,
	                 "subject_id", opt_string(e->subject_id), "record_id", opt_string(e->record_id),
	                 "purpose", opt_string(e->purpose), "outcome", e->outcome, "detail", opt_string(e->detail),
	                 "hash", hash);
}

static enum rc filter_param(struct http_request *rq, const char *name, const char *value, void *arg)
{
	struct store_audit_filter *f = arg;
	value = value ? value : "";
	if (!strcmp(name, "subject")) {
		if (strlen(value) >= TOKEN_ID_MAX)
			return err_set(&rq->eb, RC_UNPROCESSABLE, "subject: not a subject id");
		f->subject_id = value;
		return RC_OK;
	}
	if (!strcmp(name, "since") || !strcmp(name, "until")) {
		int64_t t;
		if (strlen(value) > 40 || timeutil_parse_instant(value, &t))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "%s: not an ISO 8601 date or datetime", name);
		if (!strcmp(name, "since"))
			f->since = t;
		else
			f->until = t + (strlen(value) == 10 ? 86399 : 0); /* a date means the whole day */
		return RC_OK;
	}
	if (!strcmp(name, "after") || !strcmp(name, "limit")) {
		char *end;
		errno = 0;
		long long v = strtoll(value, &end, 10);
		if (!*value || *end || errno || v < 0 || (!strcmp(name, "limit") && (v < 1 || v > AUDIT_PAGE_MAX)))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "%s: not a valid number", name);
		if (!strcmp(name, "after"))
			f->after_seq = v;
		else
			f->limit = (size_t)v;
		return RC_OK;
	}
	return err_set(&rq->eb, RC_UNPROCESSABLE, "unknown query parameter '%.40s'", name);
}

enum rc h_audit_list(struct http_request *rq)
{
	struct store_audit_filter f = {.limit = 100};
	struct store_audit *v = NULL;
	size_t n = 0;
	enum rc rc = http_each_query(rq, filter_param, &f);
	if (!rc)
		rc = audit_query(&rq->ctx, &f, &v, &n);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, entry_json(&v[i]));
	json_t *body = json_pack("{s:o}", "entries", arr);
	if (n == f.limit)
		json_object_set_new(body, "next_after", json_integer(v[n - 1].seq));
	store_audits_free(v, n);
	http_reply(rq, 200, body);
	return RC_OK;
}

enum rc h_audit_verify(struct http_request *rq)
{
	struct audit_verify_result r;
	enum rc rc = audit_verify(rq->ctx.store, rq->ctx.tenant, &r);
	if (rc)
		return rc;
	if (r.ok)
		http_reply(rq, 200, json_pack("{s:b, s:I}", "ok", 1, "entries", (json_int_t)r.entries));
	else
		http_reply(rq, 200, json_pack("{s:b, s:I, s:I}", "ok", 0, "entries", (json_int_t)r.entries,
		                              "first_bad", (json_int_t)r.first_bad));
	return RC_OK;
}
