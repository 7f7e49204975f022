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
 *
 * Without an Authorization header, the console's session cookie is the
 * caller (core/user.h): the session resolves to tenant, role and person,
 * and from there every check is the one a key of that role gets. A session
 * is a browser's, so every request that may change something (any method
 * but GET and HEAD) must also carry the session's CSRF token in
 * X-CSRF-Token, which a page of another origin cannot read or send.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/policy.h"
#include "core/user.h"
#include "api/server_internal.h"
#include "base/timeutil.h"

static enum rc authorise(struct server *s, struct http_request *rq, const struct apikey_identity *key) WUR;

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool http_auth_blocked(struct http_request *rq)
{
	int64_t retry;
	if (!ratelimit_blocked(&rq->srv->ratelimit, rq->client_ip, timeutil_now(), &retry))
		return false;
	snprintf(rq->retry_after, sizeof rq->retry_after, "%lld", (long long)retry);
	return true;
}

bool http_banner_blocked(struct http_request *rq)
{
	int64_t now = timeutil_now(), retry;
	if (ratelimit_blocked(&rq->srv->banner_limit, rq->client_ip, now, &retry)) {
		snprintf(rq->retry_after, sizeof rq->retry_after, "%lld", (long long)retry);
		return true;
	}
	ratelimit_fail(&rq->srv->banner_limit, rq->client_ip, now); /* every choice counts, not failures only */
	return false;
}

void http_auth_failed(struct http_request *rq)
{
	ratelimit_fail(&rq->srv->ratelimit, rq->client_ip, timeutil_now());
}

bool http_signin_allowed(struct http_request *rq, const char *mail_key)
{
	int64_t now = timeutil_now(), retry = 0, r2 = 0;
	bool blocked = ratelimit_blocked(&rq->srv->signin_addrs, rq->client_ip, now, &retry);
	blocked = ratelimit_blocked(&rq->srv->signin_mails, mail_key, now, &r2) || blocked;
	if (blocked) {
		snprintf(rq->retry_after, sizeof rq->retry_after, "%lld", (long long)(retry > r2 ? retry : r2));
		return false;
	}
	ratelimit_fail(&rq->srv->signin_addrs, rq->client_ip, now);
	ratelimit_fail(&rq->srv->signin_mails, mail_key, now);
	return true;
}

const char *http_cookie(struct http_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_COOKIE_KIND, name);
}

/* Compares without stopping at the first difference. */
static bool same_text(const char *a, const char *b)
{
	size_t n = strlen(a);
	if (!n || strlen(b) != n)
		return false;
	unsigned char d = 0;
	for (size_t i = 0; i < n; i++)
		d |= (unsigned char)(a[i] ^ b[i]);
	return d == 0;
}

static enum rc by_session(struct http_request *rq, const char *cookie, struct apikey_identity *key)
{
	struct user_identity who;
	enum rc rc = user_session(rq->ctx.store, cookie, timeutil_now(), &who);
	if (rc == RC_UNAUTHORIZED)
		return err_set(&rq->eb, rc, "the session has ended: sign in again");
	if (rc)
		return rc;
	bool safe = !strcmp(rq->method, "GET") || !strcmp(rq->method, "HEAD");
	const char *csrf = http_header(rq, "X-CSRF-Token");
	if (!safe && (!csrf || !same_text(csrf, who.csrf)))
		return err_set(&rq->eb, RC_FORBIDDEN, "send the session's CSRF token in X-CSRF-Token");
	rq->session = true;
	snprintf(rq->csrf, sizeof rq->csrf, "%s", who.csrf);
	snprintf(rq->key_id, sizeof rq->key_id, "%s", who.actor);
	key->tenant_id = who.tenant_id;
	key->role = who.role;
	return RC_OK;
}

enum rc http_session(struct http_request *rq)
{
	struct apikey_identity key = {.tenant_id = 0};
	const char *cookie = http_cookie(rq, USER_COOKIE);
	if (!cookie)
		return err_set(&rq->eb, RC_UNAUTHORIZED, "not signed in");
	enum rc rc = by_session(rq, cookie, &key);
	if (!rc)
		rc = server_tenant(rq->srv, rq->ctx.store, key.tenant_id, &rq->ctx.tenant);
	if (rc == RC_UNAUTHORIZED)
		return err_set(&rq->eb, rc, "the session has ended: sign in again");
	if (rc)
		return rc;
	rq->role = key.role;
	rq->ctx.key_id = rq->key_id;
	rq->ctx.role = apikey_role_name(rq->role);
	return RC_OK;
}

enum rc server_authenticate(struct server *s, struct worker *w, struct http_request *rq)
{
	struct MHD_Connection *conn = rq->conn;
	int64_t retry;
	bool over = ratelimit_blocked(&s->ratelimit, rq->client_ip, timeutil_now(), &retry);
	const char *auth = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	bool bearer = auth && !strncmp(auth, "Bearer ", 7);
	struct apikey_identity key = {.tenant_id = 0};
	const char *cookie = auth ? NULL : http_cookie(rq, USER_COOKIE);
	if (cookie) {
		enum rc src = by_session(rq, cookie, &key);
		if (src)
			return src;
		return authorise(s, rq, &key);
	}
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
	snprintf(rq->key_id, sizeof rq->key_id, "%s", key.key_id);
	return authorise(s, rq, &key);
}

/* The caller is known (a key or a session): its tenant, role and purpose. */
static enum rc authorise(struct server *s, struct http_request *rq, const struct apikey_identity *key)
{
	struct MHD_Connection *conn = rq->conn;
	rq->role = key->role;
	enum rc rc = server_tenant(s, rq->ctx.store, key->tenant_id, &rq->ctx.tenant);
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
