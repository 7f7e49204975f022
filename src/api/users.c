/* users: the tenant's staff accounts for the console's users page (admin
 * only: it shows the staff's e-mails): GET /v1/users, and POST /v1/users,
 * /v1/users/{id}/invite and /v1/users/{id}/disable, which do what
 * `privreg user add|invite|disable` do (core/user.h, audited there). An
 * enrolment link is in the answer once, as the CLI prints it once: only
 * its hash is kept. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "base/timeutil.h"
#include "core/user.h"

enum rc h_user_list(struct http_request *rq)
{
	struct store_user *v = NULL;
	size_t n = 0;
	enum rc rc = user_list(&rq->ctx, &v, &n);
	if (rc)
		return rc;
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++) {
		char created[TIMEUTIL_DATETIME_LEN];
		timeutil_format_datetime(v[i].created_at, created);
		json_array_append_new(arr, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", v[i].user_id, "email", v[i].email,
		                                     "role", v[i].role, "status", v[i].status, "created_at", created));
	}
	if (v)
		sodium_memzero(v, n * sizeof *v); /* password hashes and TOTP secrets */
	free(v);
	http_reply(rq, 200, json_pack("{s:o}", "users", arr));
	return RC_OK;
}

/* The enrolment link of token, at the server's public address. */
static json_t *link_json(struct http_request *rq, const char *token)
{
	const char *base = rq->ctx.links && rq->ctx.links->base ? rq->ctx.links->base : "";
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	char link[CORE_LINK_MAX];
	snprintf(link, sizeof link, "%.*s/console/enrol.html#%s", (int)n, base, token);
	return json_string(link);
}

enum rc h_user_add(struct http_request *rq)
{
	static const char *const keys[] = {"email", "role", NULL};
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	if (rc)
		return rc;
	json_t *email = json_object_get(rq->json, "email"), *role = json_object_get(rq->json, "role");
	if (!json_is_string(email) || !json_is_string(role))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "send email and role, both strings");
	char id[TOKEN_ID_MAX], token[USER_TOKEN_LEN + 1];
	rc = user_add(&rq->ctx, json_string_value(email), json_string_value(role), id, token, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 201, json_pack("{s:s, s:o, s:i}", "id", id, "link", link_json(rq, token), "valid_hours",
	                              USER_ENROL_TTL / 3600));
	sodium_memzero(token, sizeof token);
	return RC_OK;
}

enum rc h_user_invite(struct http_request *rq)
{
	char token[USER_TOKEN_LEN + 1];
	enum rc rc = user_reinvite_id(&rq->ctx, rq->params[0], token, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 200, json_pack("{s:s, s:o, s:i}", "id", rq->params[0], "link", link_json(rq, token),
	                              "valid_hours", USER_ENROL_TTL / 3600));
	sodium_memzero(token, sizeof token);
	return RC_OK;
}

enum rc h_user_disable(struct http_request *rq)
{
	enum rc rc = user_disable_id(&rq->ctx, rq->params[0], &rq->eb);
	if (rc)
		return rc;
	rq->status = 204;
	return RC_OK;
}
