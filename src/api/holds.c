/* holds and disclosures: /v1/holds, /v1/disclosures, /v1/subjects/{id}/disclosures. */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "base/timeutil.h"
#include "core/disclosure.h"
#include "core/hold.h"

static json_t *when(int64_t t)
{
	if (!t)
		return json_null();
	char s[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(t, s);
	return json_string(s);
}

static json_t *id_or_null(const char *s)
{
	return s[0] ? json_string(s) : json_null();
}

static json_t *hold_json(const struct store_hold *h)
{
	return json_pack("{s:s, s:o, s:o, s:o, s:b, s:o, s:o, s:s}", "id", h->id, "subject_id", id_or_null(h->subject_id),
	                 "record_id", id_or_null(h->record_id), "reason",
	                 h->reason ? json_string(h->reason) : json_null(), "forbid_disclosure",
	                 h->forbid_disclosure, "created_at", when(h->created_at), "until", when(h->until), "key_id",
	                 h->key_id);
}

static const char *str(json_t *o, const char *k, bool *bad)
{
	json_t *v = json_object_get(o, k);
	if (v && !json_is_string(v) && !json_is_null(v))
		*bad = true;
	return json_string_value(v);
}

enum rc h_hold_create(struct http_request *rq)
{
	static const char *const keys[] = {"subject_id", "record_id", "reason", "until", "forbid_disclosure", NULL};
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	if (rc)
		return rc;
	bool bad = false;
	json_t *fd = json_object_get(rq->json, "forbid_disclosure");
	struct hold_input in = {str(rq->json, "subject_id", &bad), str(rq->json, "record_id", &bad),
	                        str(rq->json, "reason", &bad), str(rq->json, "until", &bad), json_is_true(fd)};
	if (bad || (fd && !json_is_boolean(fd)))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "subject_id, record_id, reason and until are strings; "
		                                          "forbid_disclosure is true or false");
	struct store_hold h;
	rc = hold_create(&rq->ctx, &in, &h, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 201, hold_json(&h));
	free(h.reason);
	free(h.key_id);
	return RC_OK;
}

struct hold_filter {
	const char *subject, *record;
};

/* A filter's value must be an id of its kind: the store would match
 * anything else (a key without a value too) as no filter at all. */
static enum rc hold_param(struct http_request *rq, const char *name, const char *value, void *arg)
{
	struct hold_filter *f = arg;
	bool subject = !strcmp(name, "subject");
	value = value ? value : "";
	if (!subject && strcmp(name, "record"))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "unknown query parameter '%.40s'", name);
	if (strlen(value) >= TOKEN_ID_MAX || !token_id_valid(subject ? TOKEN_PREFIX_SUBJECT : TOKEN_PREFIX_RECORD, value))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "%s: not a %s id", name, subject ? "subject" : "record");
	*(subject ? &f->subject : &f->record) = value;
	return RC_OK;
}

enum rc h_hold_list(struct http_request *rq)
{
	struct store_hold *v = NULL;
	size_t n = 0;
	struct hold_filter f = {NULL, NULL};
	enum rc rc = http_each_query(rq, hold_param, &f);
	if (!rc)
		rc = hold_read(&rq->ctx, f.subject, f.record, &v, &n);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, hold_json(&v[i]));
	store_holds_free(v, n);
	http_reply(rq, 200, json_pack("{s:o}", "holds", arr));
	return RC_OK;
}

enum rc h_hold_lift(struct http_request *rq)
{
	enum rc rc = hold_lift(&rq->ctx, rq->params[0], &rq->eb);
	if (!rc)
		http_reply(rq, 204, NULL);
	return rc;
}

enum rc h_disclosure_create(struct http_request *rq)
{
	static const char *const keys[] = {"subject_id", "recipient", "purpose", "fields", "legal_reference", NULL};
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	if (rc)
		return rc;
	bool bad = false;
	json_t *fields = json_object_get(rq->json, "fields");
	struct disclosure_input in = {str(rq->json, "subject_id", &bad), str(rq->json, "recipient", &bad),
	                              str(rq->json, "purpose", &bad), NULL, 0, str(rq->json, "legal_reference", &bad)};
	if (bad || !in.subject_id || !in.recipient || !in.purpose || !json_is_array(fields))
		return err_set(&rq->eb, RC_UNPROCESSABLE,
		               "give subject_id, recipient, purpose (strings), fields (a list) and legal_reference if needed");
	size_t nf = json_array_size(fields);
	if (nf > DISCLOSURE_FIELDS_MAX)
		return err_set(&rq->eb, RC_TOO_LARGE, "more than %d fields", DISCLOSURE_FIELDS_MAX);
	const char **names = calloc(nf + 1, sizeof *names);
	for (size_t i = 0; names && i < nf && !bad; i++) {
		names[i] = json_string_value(json_array_get(fields, i));
		bad = !names[i];
	}
	in.fields = names;
	in.nfields = nf;
	struct disclosure_result res;
	rc = bad ? err_set(&rq->eb, RC_UNPROCESSABLE, "fields are names (strings)")
	         : disclosure_make(&rq->ctx, &in, &res, &rq->eb);
	free(names);
	if (rc)
		return rc;
	json_t *values = json_object();
	for (size_t i = 0; i < res.nvalues; i++)
		json_object_set_new(values, res.values[i].name, value_to_json(&res.values[i]));
	rc = value_json_reply(rq, 200, json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", res.id, "subject_id",
	                                         in.subject_id, "recipient", in.recipient, "purpose", in.purpose,
	                                         "values", values));
	disclosure_result_fini(&res);
	return rc;
}

json_t *disclosures_json(const struct store_disclosure *v, size_t n)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s, s:o, s:s, s:s, s:s, s:o, s:s}", "id", v[i].id, "at",
		                                     when(v[i].at), "recipient", v[i].recipient, "purpose", v[i].purpose,
		                                     "fields", v[i].fields, "legal_reference",
		                                     v[i].legal_reference ? json_string(v[i].legal_reference) : json_null(),
		                                     "key_id", v[i].key_id));
	return arr;
}

enum rc h_disclosure_list(struct http_request *rq)
{
	struct store_disclosure *v = NULL;
	size_t n = 0;
	enum rc rc = disclosure_list(&rq->ctx, rq->params[0], &v, &n);
	if (rc)
		return rc;
	http_reply(rq, 200, json_pack("{s:s, s:o}", "subject_id", rq->params[0], "disclosures", disclosures_json(v, n)));
	store_disclosures_free(v, n);
	return RC_OK;
}

/* ---- the disclosure log (GET /v1/disclosures) ---- */

struct log_query {
	struct store_disclosure_filter f;
};

static enum rc log_param(struct http_request *rq, const char *name, const char *value, void *arg)
{
	struct store_disclosure_filter *f = &((struct log_query *)arg)->f;
	if (!strcmp(name, "recipient") || !strcmp(name, "purpose")) {
		if (!*value || strlen(value) > 64)
			return err_set(&rq->eb, RC_UNPROCESSABLE, "%s: a name of 1 to 64 characters", name);
		*(!strcmp(name, "recipient") ? &f->recipient : &f->purpose) = value;
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
	if (!strcmp(name, "before")) {
		if (strlen(value) >= TOKEN_ID_MAX || !token_id_valid(TOKEN_PREFIX_DISCLOSURE, value))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "before: not a disclosure id");
		f->before = value;
		return RC_OK;
	}
	long v;
	enum rc rc = http_number(rq, name, value, 1, DISCLOSURE_PAGE_MAX, &v);
	if (!rc)
		f->limit = (size_t)v;
	return rc;
}

enum rc h_disclosure_log(struct http_request *rq)
{
	struct log_query q = {.f = {.limit = 100}};
	struct store_disclosure *v = NULL;
	size_t n = 0;
	enum rc rc = http_each_query(rq, log_param, &q);
	if (!rc)
		rc = disclosure_log(&rq->ctx, &q.f, &v, &n);
	if (rc)
		return rc;
	json_t *arr = disclosures_json(v, n);
	for (size_t i = 0; i < n; i++)
		json_object_set_new(json_array_get(arr, i), "subject_id", json_string(v[i].subject_id));
	json_t *body = json_pack("{s:o}", "disclosures", arr);
	if (n == q.f.limit)
		json_object_set_new(body, "next_before", json_string(v[n - 1].id));
	store_disclosures_free(v, n);
	http_reply(rq, 200, body);
	return RC_OK;
}
