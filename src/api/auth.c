/*
 * auth: who is calling (see server_internal.h). A route that is not public
 * takes `Authorization: Bearer KEY`; the key is checked against the calling
 * thread's cache of recently valid keys, else the store (core/apikey), and
 * failures are counted per client address (rq->client_ip: the peer, or the
 * client a trusted proxy forwards for).
 *
 * The limit never blocks a valid key: clients behind one proxy or NAT share
 * an address, and one of them guessing must not lock out the others. An
 * address over its budget still has its key checked, and gets 429 only when
 * the key is not valid. What that check costs an over-budget client: a key
 * that is not even well formed is refused before anything is hashed or
 * looked up (token_apikey_parse); a cached valid key costs no lookup; only
 * a well-formed key not in the thread's cache costs one primary-key read,
 * the price of any request. That the answer differs (200 against 429)
 * tells a guesser nothing useful: a key is an 80-bit id and a 256-bit
 * secret.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/policy.h"
#include "api/server_internal.h"
#include "base/timeutil.h"

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

enum rc server_authenticate(struct server *s, struct worker *w, struct http_request *rq)
{
	struct MHD_Connection *conn = rq->conn;
	int64_t retry;
	bool over = ratelimit_blocked(&s->ratelimit, rq->client_ip, timeutil_now(), &retry);
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	bool bearer = auth && !strncmp(auth, "Bearer ", 7);
	struct apikey_identity key = {.tenant_id = 0};
	enum rc rc = bearer ? apikey_authenticate_cached(&w->keys, rq->ctx.store, auth + 7, now_ms(), &key)
	                    : RC_UNAUTHORIZED;
	if (rc == RC_UNAUTHORIZED && over) {
		snprintf(rq->retry_after, sizeof rq->retry_after, "%lld", (long long)retry);
		return err_set(&rq->eb, RC_TOO_MANY, "too many failed authentications from this address");
	}
	if (!bearer)
		return err_set(&rq->eb, RC_UNAUTHORIZED, "send an API key as 'Authorization: Bearer KEY'");
	if (rc == RC_UNAUTHORIZED) {
		ratelimit_fail(&s->ratelimit, rq->client_ip, timeutil_now());
		return err_set(&rq->eb, rc, "the API key is not valid");
	}
	if (rc)
		return rc;
	rq->role = key.role;
	memcpy(rq->key_id, key.key_id, sizeof rq->key_id);
	rc = server_tenant(s, rq->ctx.store, key.tenant_id, &rq->ctx.tenant);
	if (rc == RC_UNAUTHORIZED)
		return err_set(&rq->eb, RC_UNAUTHORIZED, "the API key's tenant is not available");
	if (rc) /* the key is fine: the server could not load its tenant (a 5xx, to retry) */
		return err_set(&rq->eb, rc_http_status(rc) >= 500 ? rc : RC_UNAVAILABLE,
		               "the API key's tenant cannot be loaded now");
	rq->ctx.key_id = rq->key_id;
	rq->ctx.role = apikey_role_name(rq->role);
	if (!(rq->route->roles & (1u << rq->role)))
		return err_set(&rq->eb, RC_FORBIDDEN, "the role '%s' may not use %s %s", rq->ctx.role,
		               rq->route->method, rq->route->pattern);
	const char *purpose = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Purpose");
	if (purpose) {
		if (strlen(purpose) > 64 || !policy_purpose(rq->ctx.tenant->policy, purpose))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "X-Purpose: not a purpose of the policy");
		rq->ctx.purpose = purpose;
	}
	return RC_OK;
}
