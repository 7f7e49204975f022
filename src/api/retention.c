/* retention: /v1/retention/sweep, /v1/retention/forecast, /v1/retention/overdue. */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "base/timeutil.h"
#include "core/hold.h"
#include "core/policy.h"
#include "core/retention.h"

#define OVERDUE_LIMIT_MAX 1000

static const char *action_of(const struct core_ctx *c, const char *kind)
{
	const struct policy_record *k = policy_record(c->tenant->policy, kind);
	return !k ? "unknown" : k->then == THEN_ANONYMIZE ? "anonymize" : "delete";
}

enum rc h_retention_sweep(struct http_request *rq)
{
	static const char *const keys[] = {"dry_run", NULL};
	enum rc rc = rq->json ? json_keys_only(rq->json, keys, &rq->eb) : RC_OK;
	if (rc)
		return rc;
	json_t *dry = rq->json ? json_object_get(rq->json, "dry_run") : NULL;
	if (dry && !json_is_boolean(dry))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "dry_run is true or false");
	struct retention_opts o = {.dry_run = json_is_true(dry)};
	struct retention_report r;
	rc = retention_sweep(&rq->ctx, &o, &r, &rq->eb);
	if (rc)
		return rc;
	json_t *kinds = json_object();
	for (size_t i = 0; i < r.nkinds; i++)
		json_object_set_new(kinds, r.kinds[i].kind,
		                    json_pack("{s:I, s:I, s:I, s:I, s:I}", "deleted", (json_int_t)r.kinds[i].deleted,
		                              "anonymized", (json_int_t)r.kinds[i].anonymized, "trimmed",
		                              (json_int_t)r.kinds[i].trimmed, "held", (json_int_t)r.kinds[i].held,
		                              "restricted", (json_int_t)r.kinds[i].restricted));
	http_reply(rq, 200, json_pack("{s:b, s:o, s:I, s:I}", "dry_run", o.dry_run, "kinds", kinds,
	                              "subjects_deleted", (json_int_t)r.subjects_deleted, "requests_expired",
	                              (json_int_t)r.requests_expired));
	retention_report_fini(&r);
	return RC_OK;
}

/* An optional numeric query argument, def when absent. */
static enum rc query_long(struct http_request *rq, const char *name, long def, long lo, long hi, long *out)
{
	const char *s = http_query(rq, name);
	*out = def;
	return s ? http_number(rq, name, s, lo, hi, out) : RC_OK;
}

enum rc h_retention_forecast(struct http_request *rq)
{
	long months;
	enum rc rc = query_long(rq, "months", 12, 1, RETENTION_FORECAST_MONTHS_MAX, &months);
	if (rc)
		return rc;
	int64_t now = core_now(&rq->ctx), until;
	if (timeutil_add(now, (struct duration){(int)months, TU_MONTHS}, &until))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "months reaches past year 9999");
	struct store_forecast_row *rows = NULL;
	size_t n = 0;
	rc = retention_forecast(&rq->ctx, until, &rows, &n);
	if (rc)
		return rc;
	char current[8];
	char date[TIMEUTIL_DATE_LEN];
	timeutil_format_date(now, date);
	memcpy(current, date, 7);
	current[7] = '\0';
	json_t *arr = json_array();
	json_int_t overdue = 0;
	for (size_t i = 0; i < n; i++) {
		/* Past months are what is overdue (held, or not swept yet). */
		if (strcmp(rows[i].month, current) < 0) {
			overdue += rows[i].n;
			continue;
		}
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:I}", "month", rows[i].month, "kind", rows[i].kind,
		                                     "action", action_of(&rq->ctx, rows[i].kind), "count",
		                                     (json_int_t)rows[i].n));
	}
	free(rows);
	http_reply(rq, 200, json_pack("{s:I, s:I, s:o}", "months", (json_int_t)months, "overdue", overdue, "forecast",
	                              arr));
	return RC_OK;
}

enum rc h_retention_overdue(struct http_request *rq)
{
	long limit;
	enum rc rc = query_long(rq, "limit", 100, 1, OVERDUE_LIMIT_MAX, &limit);
	if (rc)
		return rc;
	struct store_hold *holds = NULL;
	size_t nholds = 0;
	rc = hold_active(&rq->ctx, NULL, NULL, &holds, &nholds);
	struct store_due *due = calloc((size_t)limit, sizeof *due);
	size_t n = 0;
	if (!rc && !due)
		rc = RC_INTERNAL;
	if (!rc)
		rc = retention_overdue(&rq->ctx, due, (size_t)limit, &n);
	json_t *arr = json_array();
	for (size_t i = 0; !rc && i < n; i++) {
		const struct store_hold *hold = hold_covering(holds, nholds, due[i].subject_id, due[i].id);
		char at[TIMEUTIL_DATETIME_LEN];
		timeutil_format_datetime(due[i].at, at);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "record_id", due[i].id, "subject_id",
		                                     due[i].subject_id, "kind", due[i].kind, "due_at", at, "action",
		                                     action_of(&rq->ctx, due[i].kind), "held_by",
		                                     hold ? json_string(hold->id) : json_null()));
	}
	free(due);
	store_holds_free(holds, nholds);
	if (rc) {
		json_decref(arr);
		return rc;
	}
	http_reply(rq, 200, json_pack("{s:o}", "overdue", arr));
	return RC_OK;
}
