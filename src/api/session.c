/*
 * session: the console's staff sign-in (core/user.h): enrolment from the
 * one-time link, sign-in with password and TOTP code, the session as seen
 * by the page, sign-out. They are the console's own routes, under
 * /console/, not the API's: public routes (no key), the caller being the
 * one-time link, the password and code, or the session cookie. With that
 * cookie the /v1 API takes the person as its caller (auth.c). Failed sign-ins count against the client's
 * address like failed API keys (auth.c), and against the account in core.
 * The session id travels only in its cookie (HttpOnly: no script reads
 * it); the page gets the CSRF token, which it sends back in X-CSRF-Token.
 * An e-mail may have accounts in several tenants (unique per tenant only):
 * sign-in lands in the one whose code and password verify.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "base/timeutil.h"
#include "core/user.h"

/* The string members of the body, all required. */
static enum rc strings(struct http_request *rq, const char *const *keys, const char **out)
{
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	for (size_t i = 0; !rc && keys[i]; i++) {
		out[i] = json_string_value(json_object_get(rq->json, keys[i]));
		if (!out[i])
			rc = err_set(&rq->eb, RC_UNPROCESSABLE, "'%s' must be a string", keys[i]);
		else if (strlen(out[i]) > 512)
			rc = err_set(&rq->eb, RC_TOO_LARGE, "'%s' is longer than 512 bytes", keys[i]);
	}
	return rc;
}

/* Loads the tenant of a valid enrolment link into rq->ctx. */
static enum rc enrolment_tenant(struct http_request *rq, const char *token)
{
	int64_t tenant;
	enum rc rc = user_enrolment_tenant(rq->ctx.store, token, timeutil_now(), &tenant);
	if (rc == RC_NOT_FOUND)
		return err_set(&rq->eb, rc, "the enrolment link is not valid, used or expired: ask for a new one");
	return rc ? rc : http_tenant(rq, tenant, &rq->ctx.tenant);
}

enum rc h_enrolment_begin(struct http_request *rq)
{
	static const char *const keys[] = {"token", NULL};
	const char *v[1];
	char secret[TOTP_BASE32_LEN + 1], email[STORE_EMAIL_MAX + 1];
	enum rc rc = strings(rq, keys, v);
	if (!rc)
		rc = enrolment_tenant(rq, v[0]);
	if (!rc)
		rc = user_enrol_begin(&rq->ctx, v[0], secret, email, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 200, json_pack("{s:s, s:s, s:s, s:i, s:i}", "email", email, "secret", secret, "issuer",
	                              rq->ctx.tenant->name, "digits", TOTP_DIGITS, "period", TOTP_STEP));
	sodium_memzero(secret, sizeof secret);
	return RC_OK;
}

enum rc h_enrolment_finish(struct http_request *rq)
{
	static const char *const keys[] = {"token", "password", "code", NULL};
	const char *v[3];
	enum rc rc = strings(rq, keys, v);
	if (!rc)
		rc = enrolment_tenant(rq, v[0]);
	if (!rc)
		rc = user_enrol_finish(&rq->ctx, v[0], v[1], v[2], &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 204, NULL);
	return RC_OK;
}

static json_t *session_json(const char *user_id, enum role role, const char *tenant, const char *csrf)
{
	return json_pack("{s:s, s:s, s:s, s:s, s:i}", "user_id", user_id, "role", apikey_role_name(role), "tenant",
	                 tenant, "csrf", csrf, "idle_timeout", USER_SESSION_IDLE);
}

enum rc h_session_create(struct http_request *rq)
{
	static const char *const keys[] = {"email", "password", "code", NULL};
	const char *v[3];
	enum rc rc = strings(rq, keys, v);
	if (rc)
		return rc;
	if (http_auth_blocked(rq))
		return err_set(&rq->eb, RC_TOO_MANY, "too many failed sign-ins from this address");
	int64_t tenants[USER_SIGNIN_MAX];
	size_t n = 0, pick = 0;
	rc = user_signin_tenants(rq->ctx.store, v[0], v[1], tenants, &n);
	/* One e-mail, accounts in several tenants: the account whose code
	 * verifies is the one whose password is checked (each tenant is loaded
	 * for it: TOTP secrets are sealed per tenant). Codes first, as they are
	 * cheap and a wrong one matches no account: a refusal costs one Argon2
	 * check, as with one account or none. If no code verifies, the first
	 * account (the oldest active one) takes the refusal: user_sign_in
	 * counts and audits it there, and its failure limit applies. A tenant
	 * that cannot be loaded is passed over: another tenant's trouble does not
	 * keep the person out of this one. */
	for (size_t i = 0; !rc && n > 1 && i < n; i++) {
		bool match = false;
		if (http_tenant(rq, tenants[i], &rq->ctx.tenant))
			continue;
		rc = user_signin_code(&rq->ctx, v[0], v[2], &match);
		if (!rc && match) {
			pick = i;
			break;
		}
	}
	if (!rc)
		rc = http_tenant(rq, tenants[pick], &rq->ctx.tenant);
	char session[USER_TOKEN_LEN + 1];
	struct user_identity who;
	if (!rc)
		rc = user_sign_in(&rq->ctx, v[0], v[1], v[2], session, &who, &rq->eb);
	if (rc == RC_UNAUTHORIZED || rc == RC_TOO_MANY) {
		http_auth_failed(rq);
		return rc == RC_TOO_MANY ? rc : err_set(&rq->eb, rc, "the e-mail, password or code is not right");
	}
	if (rc)
		return rc;
	snprintf(rq->set_cookie, sizeof rq->set_cookie, "%s=%s; HttpOnly; SameSite=Strict; Path=/", USER_COOKIE,
	         session);
	sodium_memzero(session, sizeof session);
	http_reply(rq, 201, session_json(who.user_id, who.role, rq->ctx.tenant->name, who.csrf));
	return RC_OK;
}

enum rc h_session_get(struct http_request *rq)
{
	enum rc rc = http_session(rq);
	if (rc)
		return rc;
	http_reply(rq, 200, session_json(rq->key_id + 5, rq->role, rq->ctx.tenant->name, rq->csrf));
	return RC_OK;
}

enum rc h_session_delete(struct http_request *rq)
{
	enum rc rc = http_session(rq);
	if (!rc)
		rc = user_sign_out(&rq->ctx, http_cookie(rq, USER_COOKIE));
	if (rc)
		return rc;
	snprintf(rq->set_cookie, sizeof rq->set_cookie, "%s=; Max-Age=0; HttpOnly; SameSite=Strict; Path=/",
	         USER_COOKIE);
	http_reply(rq, 204, NULL);
	return RC_OK;
}
