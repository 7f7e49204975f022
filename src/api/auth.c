/*
 * auth: who is calling (see server_internal.h). A route that is not public
 * takes `Authorization: Bearer KEY`; the key is checked against the calling
 * thread's cache of recently valid keys, else the store (core/apikey), and
 * failures are counted per client address: an address over its budget gets
 * 429 before its key is looked at. The key's tenant becomes the request's
 * tenant, its role must be one the route allows, and an X-Purpose header
 * must name a purpose of that tenant's policy.
 */
#include <arpa/inet.h>
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
	char addr[INET6_ADDRSTRLEN];
	int64_t retry;
	server_client_addr(conn, addr, sizeof addr);
	if (ratelimit_blocked(&s->ratelimit, addr, timeutil_now(), &retry)) {
		snprintf(rq->retry_after, sizeof rq->retry_after, "%lld", (long long)retry);
		return err_set(&rq->eb, RC_TOO_MANY, "too many failed authentications from this address");
	}
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	if (!auth || strncmp(auth, "Bearer ", 7))
		return err_set(&rq->eb, RC_UNAUTHORIZED, "send an API key as 'Authorization: Bearer KEY'");
	struct apikey_identity key;
	enum rc rc = apikey_authenticate_cached(&w->keys, rq->ctx.store, auth + 7, now_ms(), &key);
	if (rc == RC_UNAUTHORIZED) {
		ratelimit_fail(&s->ratelimit, addr, timeutil_now());
		return err_set(&rq->eb, rc, "the API key is not valid");
	}
	if (rc)
		return rc;
	rq->role = key.role;
	memcpy(rq->key_id, key.key_id, sizeof rq->key_id);
	rc = server_tenant(s, rq->ctx.store, key.tenant_id, &rq->ctx.tenant);
	if (rc)
		return err_set(&rq->eb, RC_UNAUTHORIZED, "the API key's tenant is not available");
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
