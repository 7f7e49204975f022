/* users: GET /v1/users, the tenant's staff accounts for the console's users
 * page (admin only: it shows the staff's e-mails). Accounts are added,
 * invited again and disabled with `privreg user` (core/user.h). */
#include <sodium.h>
#include <stdlib.h>

#include "api/handlers.h"
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
