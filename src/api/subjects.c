/* subjects: /v1/subjects and /v1/records: create, create-or-update, find, read, rectify, merge, delete. */
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "core/merge.h"
#include "core/notify.h"
#include "core/subject.h"

/* The one query parameter of a put: its name; a second is refused. */
static enum rc one_query(struct http_request *rq, const char *name, const char *value, void *arg)
{
	const char **field = arg;
	(void)value;
	if (*field)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "give exactly one lookup field as the query");
	*field = name;
	return RC_OK;
}

/* The records of a create or put body, parsed into in[] (h[] keeps what
 * they point into); *n of them. */
static enum rc records_in(struct http_request *rq, struct record_input *in, struct value_json_holder *h, size_t *n)
{
	static const char *const keys[] = {"records", NULL};
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	if (rc)
		return rc;
	json_t *recs = json_object_get(rq->json, "records");
	size_t count = json_array_size(recs);
	/* *n stays 0 until the count fits in[] and h[]: the callers release
	 * h[0..*n), whatever this returns. */
	if (!json_is_array(recs) || count == 0)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "records must be a non-empty array");
	if (count > SUBJECT_MAX_RECORDS_IN)
		return err_set(&rq->eb, RC_TOO_LARGE, "more than %d records", SUBJECT_MAX_RECORDS_IN);
	*n = count;
	for (size_t i = 0; !rc && i < *n; i++) {
		rc = record_input_from_json(json_array_get(recs, i), true, &in[i], &h[i], &rq->eb);
		if (rc && *n > 1) {
			char msg[sizeof rq->eb.msg + 32];
			snprintf(msg, sizeof msg, "records[%zu]: %s", i, rq->eb.msg);
			memcpy(rq->eb.msg, msg, sizeof rq->eb.msg - 1);
			rq->eb.msg[sizeof rq->eb.msg - 1] = '\0';
		}
	}
	return rc;
}

static void reply_ids(struct http_request *rq, int status, const char *sid, char (*rids)[TOKEN_ID_MAX], size_t n)
{
	json_t *ids = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(ids, json_pack("{s:s}", "id", rids[i]));
	http_reply(rq, status, json_pack("{s:s, s:o}", "id", sid, "records", ids));
}

/* One person, one subject: the 409 names the subject that holds the value. */
static enum rc reply_exists(struct http_request *rq, const char *existing)
{
	http_reply(rq, 409, json_pack("{s:{s:s, s:s, s:s}}", "error", "code", rc_code(RC_EXISTS), "message", rq->eb.msg,
	                              "subject_id", existing));
	return RC_OK;
}

/* RC_EXISTS from adding or rectifying a record: the 409 names the subject
 * that holds the unique value, found again after the refused transaction. */
static enum rc reply_if_exists(struct http_request *rq, enum rc rc, const struct field_input *fields, size_t n,
                               const char *self)
{
	char existing[TOKEN_ID_MAX] = "";
	if (rc != RC_EXISTS)
		return rc;
	struct errbuf keep = rq->eb;
	if (record_unique_check(&rq->ctx, fields, n, self, existing, &rq->eb) != RC_EXISTS)
		existing[0] = '\0';
	rq->eb = keep;
	return existing[0] ? reply_exists(rq, existing) : rc;
}

enum rc h_subject_create(struct http_request *rq)
{
	struct record_input in[SUBJECT_MAX_RECORDS_IN];
	struct value_json_holder h[SUBJECT_MAX_RECORDS_IN];
	char sid[TOKEN_ID_MAX], rids[SUBJECT_MAX_RECORDS_IN][TOKEN_ID_MAX], existing[TOKEN_ID_MAX] = "";
	size_t n = 0;
	memset(h, 0, sizeof h);
	enum rc rc = records_in(rq, in, h, &n);
	if (!rc)
		rc = subject_create(&rq->ctx, in, n, sid, rids, &rq->eb);
	if (rc == RC_EXISTS) {
		struct errbuf keep = rq->eb;
		if (!subject_unique_check(&rq->ctx, in, n, NULL, existing, &rq->eb) || !existing[0])
			existing[0] = '\0';
		rq->eb = keep;
	}
	for (size_t i = 0; i < n; i++)
		value_json_holder_fini(&h[i]);
	if (rc == RC_EXISTS && existing[0])
		return reply_exists(rq, existing);
	if (rc)
		return rc;
	reply_ids(rq, 201, sid, rids, n);
	return RC_OK;
}

enum rc h_subject_put(struct http_request *rq)
{
	struct record_input in[SUBJECT_MAX_RECORDS_IN];
	struct value_json_holder h[SUBJECT_MAX_RECORDS_IN];
	char sid[TOKEN_ID_MAX], rids[SUBJECT_MAX_RECORDS_IN][TOKEN_ID_MAX], existing[TOKEN_ID_MAX] = "";
	size_t n = 0;
	bool created = false;
	const char *field = NULL;
	memset(h, 0, sizeof h);
	enum rc rc = http_each_query(rq, one_query, &field);
	if (!rc && !field)
		rc = err_set(&rq->eb, RC_UNPROCESSABLE, "give one unique lookup field as the query, e.g. ?email=mari@example.ee");
	if (!rc)
		rc = records_in(rq, in, h, &n);
	if (!rc) {
		const char *value = http_query(rq, field);
		struct field_value v = {VAL_STRING, value ? value : "", value ? strlen(value) : 0};
		rc = subject_put(&rq->ctx, field, &v, in, n, sid, rids, &created, existing, &rq->eb);
	}
	for (size_t i = 0; i < n; i++)
		value_json_holder_fini(&h[i]);
	if (rc == RC_EXISTS && existing[0])
		return reply_exists(rq, existing);
	if (rc)
		return rc;
	reply_ids(rq, created ? 201 : 200, sid, rids, n);
	return RC_OK;
}

enum rc h_subject_merge(struct http_request *rq)
{
	static const char *const keys[] = {"from", NULL};
	const char *from = json_string_value(json_object_get(rq->json, "from"));
	struct merge_result res;
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	if (!rc && !from)
		rc = err_set(&rq->eb, RC_UNPROCESSABLE, "the body must be {\"from\": \"sub_...\"}");
	if (!rc)
		rc = merge_subjects(&rq->ctx, rq->params[0], from, &res, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 200, json_pack("{s:s, s:s, s:I, s:I, s:I}", "id", rq->params[0], "merged", from, "records",
	                              (json_int_t)res.records, "consent_events", (json_int_t)res.consent_events,
	                              "requests", (json_int_t)res.requests));
	return RC_OK;
}

struct find_arg {
	const char *field, *value;
	int count;
};

static enum rc find_param(struct http_request *rq, const char *name, const char *value, void *arg)
{
	struct find_arg *a = arg;
	a->field = name;
	a->value = value ? value : "";
	a->count++;
	return RC_OK;
}

enum rc h_subject_find(struct http_request *rq)
{
	struct find_arg a = {0};
	enum rc rc = http_each_query(rq, find_param, &a);
	if (rc)
		return rc;
	if (a.count != 1)
		return err_set(&rq->eb, RC_UNPROCESSABLE,
		               "give exactly one lookup field as the query, e.g. ?email=mari@example.ee");
	char ids[SUBJECT_FIND_MAX][TOKEN_ID_MAX];
	size_t n = 0;
	struct field_value v = {VAL_STRING, a.value, strlen(a.value)};
	rc = subject_find(&rq->ctx, a.field, &v, ids, SUBJECT_FIND_MAX, &n, &rq->eb);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_pack("{s:s}", "id", ids[i]));
	http_reply(rq, 200, json_pack("{s:o}", "subjects", arr));
	return RC_OK;
}

enum rc h_subject_get(struct http_request *rq)
{
	struct subject_view *v = NULL;
	enum rc rc = subject_read(&rq->ctx, rq->params[0], &v, &rq->eb);
	if (rc)
		return rc;
	rc = value_json_reply(rq, 200, subject_view_to_json(v));
	subject_view_free(v);
	return rc;
}

enum rc h_subject_delete(struct http_request *rq)
{
	enum rc rc = notify_subject_delete(&rq->ctx, rq->params[0], &rq->eb);
	if (!rc)
		http_reply(rq, 204, NULL);
	return rc;
}

/* A record from the body: on the subject in the path, or on nobody
 * (subject NULL: a kind with `linked: false`, statistics kept apart from
 * the person). */
static enum rc add_record(struct http_request *rq, const char *subject)
{
	static const char *const keys[] = {"kind", "fields", "created_at", "events", NULL};
	struct value_json_holder h = {0};
	struct record_input in;
	char rid[TOKEN_ID_MAX];
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	if (!rc)
		rc = record_input_from_json(rq->json, true, &in, &h, &rq->eb);
	if (!rc)
		rc = subject ? record_add(&rq->ctx, subject, &in, rid, &rq->eb)
		             : record_add_detached(&rq->ctx, &in, rid, &rq->eb);
	if (rc == RC_EXISTS && subject)
		rc = reply_if_exists(rq, rc, in.fields, in.nfields, subject);
	else if (!rc)
		http_reply(rq, 201, json_pack("{s:s}", "id", rid));
	value_json_holder_fini(&h);
	return rc;
}

enum rc h_record_add(struct http_request *rq)
{
	return add_record(rq, rq->params[0]);
}

/* POST /v1/records */
enum rc h_record_add_detached(struct http_request *rq)
{
	return add_record(rq, NULL);
}

/* A record as JSON; one no person is behind shows no subject id (its key
 * holder is no one). */
static json_t *record_json(const struct record_view *v)
{
	json_t *j = record_view_to_json(v);
	if (!strcmp(v->state, record_state_name(RECORD_ANONYMIZED)) || !strcmp(v->state, record_state_name(RECORD_DETACHED)))
		json_object_del(j, "subject_id");
	return j;
}

/* Rectifies record_id (checked to belong to subject_id when given) and
 * answers with the record as it now is. */
static enum rc patch(struct http_request *rq, const char *subject_id, const char *record_id)
{
	static const char *const keys[] = {"fields", "events", NULL};
	struct value_json_holder h = {0};
	struct record_input in;
	struct record_view *v = NULL;
	char owner[TOKEN_ID_MAX] = "";
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	if (!rc && subject_id) {
		/* The record must be this subject's: otherwise it does not exist here. */
		rc = record_owner(&rq->ctx, record_id, owner, &rq->eb);
		if (!rc && strcmp(owner, subject_id))
			rc = err_set(&rq->eb, RC_NOT_FOUND, "no such record");
	}
	if (!rc)
		rc = record_input_from_json(rq->json, false, &in, &h, &rq->eb);
	if (!rc && !in.nfields && !in.nevents)
		rc = err_set(&rq->eb, RC_UNPROCESSABLE, "nothing to change: give fields or events");
	if (!rc)
		rc = notify_record_rectify(&rq->ctx, record_id, in.fields, in.nfields, in.events, in.nevents, &rq->eb);
	if (rc == RC_EXISTS) {
		struct errbuf keep = rq->eb;
		if (!owner[0] && record_owner(&rq->ctx, record_id, owner, &rq->eb))
			owner[0] = '\0';
		rq->eb = keep;
		rc = reply_if_exists(rq, rc, in.fields, in.nfields, owner[0] ? owner : NULL);
		value_json_holder_fini(&h);
		return rc;
	}
	value_json_holder_fini(&h);
	if (!rc)
		rc = record_read(&rq->ctx, record_id, &v, &rq->eb);
	if (!rc)
		rc = value_json_reply(rq, 200, record_json(v));
	record_view_free(v);
	return rc;
}

enum rc h_subject_record_patch(struct http_request *rq)
{
	return patch(rq, rq->params[0], rq->params[1]);
}

enum rc h_record_patch(struct http_request *rq)
{
	return patch(rq, NULL, rq->params[0]);
}

enum rc h_record_get(struct http_request *rq)
{
	struct record_view *v = NULL;
	enum rc rc = record_read(&rq->ctx, rq->params[0], &v, &rq->eb);
	if (!rc)
		rc = value_json_reply(rq, 200, record_json(v));
	record_view_free(v);
	return rc;
}

#define RECORDS_PAGE_MAX 1000

/* GET /v1/records?state=anonymized|detached&kind=K: the records no person is
 * behind, for statistics; a page at a time (after, limit; next_after when
 * there may be more), without a subject id. */
enum rc h_records_list(struct http_request *rq)
{
	const char *lim = http_query(rq, "limit");
	long limit = 100;
	if (lim && http_number(rq, "limit", lim, 1, RECORDS_PAGE_MAX, &limit))
		return RC_UNPROCESSABLE;
	struct record_view *v = NULL;
	size_t n = 0;
	enum rc rc = record_list_unlinked(&rq->ctx, http_query(rq, "kind"), http_query(rq, "state"),
	                                  http_query(rq, "after"), (size_t)limit, &v, &n, &rq->eb);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(arr, record_json(&v[i]));
	}
	json_t *body = json_pack("{s:o}", "records", arr);
	if (n == (size_t)limit)
		json_object_set_new(body, "next_after", json_string(v[n - 1].id));
	record_views_free(v, n);
	return value_json_reply(rq, 200, body);
}
