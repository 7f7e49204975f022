/*
 * portal: the privacy center's routes, under /portal/{tenant}/ (core/portal.h).
 * All are public routes: the caller is the e-mailed sign-in link, then the
 * subject's session cookie (HttpOnly, SameSite=Strict, Path of this tenant's
 * center, Secure under TLS), and every write must carry the session's CSRF
 * token in X-CSRF-Token. A session names one subject, and every handler acts
 * on that subject only: no route takes a subject id from the request. The
 * audit log names the subject as the actor ("subject:sub_...").
 *
 * The pages themselves (web/portal/) are served here with the console's
 * headers: a Content-Security-Policy without inline script or style, no
 * framing, no referrer, revalidated by ETag.
 */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/export.h"
#include "api/handlers.h"
#include "api/value_json.h"
#include "api/web.h"
#include "base/timeutil.h"
#include "base/xalloc.h"
#include "core/consent.h"
#include "core/notice.h"
#include "core/notify.h"
#include "core/portal.h"

/* The tenant named in the path, with a privacy center (an e-mail lookup field). */
static enum rc tenant_of(struct http_request *rq)
{
	int64_t id = 0;
	enum rc rc = strlen(rq->params[0]) <= TENANT_NAME_MAX ? tenant_id_of(rq->ctx.store, rq->params[0], &id)
	                                                       : RC_NOT_FOUND;
	if (!rc)
		rc = http_tenant(rq, id, &rq->ctx.tenant);
	if (!rc && !portal_email_field(rq->ctx.tenant->policy))
		rc = RC_NOT_FOUND;
	if (rc == RC_NOT_FOUND || rc == RC_UNAUTHORIZED)
		return err_set(&rq->eb, RC_NOT_FOUND, "no such privacy center");
	return rc;
}

static bool same_text(const char *a, const char *b)
{
	size_t n = strlen(a);
	return n && strlen(b) == n && sodium_memcmp(a, b, n) == 0;
}

/* The signed-in subject: their session (kept alive), the CSRF token on a
 * write, and the subject as the actor of what follows. */
static enum rc caller(struct http_request *rq, struct portal_identity *who)
{
	enum rc rc = tenant_of(rq);
	if (rc)
		return rc;
	const char *cookie = http_cookie(rq, PORTAL_COOKIE);
	rc = cookie ? portal_session(&rq->ctx, cookie, who) : RC_UNAUTHORIZED;
	if (rc == RC_UNAUTHORIZED)
		return err_set(&rq->eb, rc, "the session has ended: sign in again");
	if (rc)
		return rc;
	const char *csrf = http_header(rq, "X-CSRF-Token");
	if (strcmp(rq->method, "GET") && (!csrf || !same_text(csrf, who->csrf)))
		return err_set(&rq->eb, RC_FORBIDDEN, "send the session's CSRF token in X-CSRF-Token");
	snprintf(rq->key_id, sizeof rq->key_id, "%s", who->actor);
	rq->ctx.key_id = rq->key_id;
	rq->ctx.role = "subject";
	return RC_OK;
}

static const char *opt_string(struct http_request *rq, const char *key, bool *bad)
{
	json_t *v = json_object_get(rq->json, key);
	if (!v || json_is_null(v))
		return NULL;
	if (!json_is_string(v) || strlen(json_string_value(v)) > CONSENT_WORDING_MAX)
		*bad = true;
	return json_string_value(v);
}

enum rc h_portal_signin(struct http_request *rq)
{
	static const char *const keys[] = {"email", "lang", NULL};
	bool bad = false;
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	const char *email = rc ? NULL : opt_string(rq, "email", &bad), *lang = rc ? NULL : opt_string(rq, "lang", &bad);
	if (!rc && (bad || !email || strlen(email) > 254 || (lang && strlen(lang) > 8)))
		rc = err_set(&rq->eb, RC_UNPROCESSABLE, "give email (an e-mail address) and optionally lang");
	if (!rc)
		rc = tenant_of(rq);
	if (rc)
		return rc;
	/* Counted per address as written, lower-cased: a hash, so no address sits in memory. */
	char lower[256], key[2 * 16 + 1];
	size_t n = strlen(email);
	for (size_t i = 0; i <= n; i++)
		lower[i] = (char)(email[i] >= 'A' && email[i] <= 'Z' ? email[i] + 32 : email[i]);
	unsigned char h[16];
	crypto_generichash(h, sizeof h, (const unsigned char *)lower, n, rq->ctx.tenant->vault.token_key, 32);
	sodium_bin2hex(key, sizeof key, h, sizeof h);
	sodium_memzero(lower, sizeof lower);
	if (!http_signin_allowed(rq, key))
		return err_set(&rq->eb, RC_TOO_MANY, "too many sign-in links asked for: wait a few minutes");
	rq->ctx.key_id = "portal";
	rq->ctx.role = "subject";
	rc = portal_signin_mail(&rq->ctx, email, lang, &rq->eb);
	if (rc)
		return rc;
	/* The same answer for every address, known or not. */
	http_reply(rq, 202, json_pack("{s:s, s:i}", "status", "sent", "expires_in", PORTAL_LINK_TTL));
	return RC_OK;
}

static json_t *session_json(const struct portal_identity *who)
{
	return json_pack("{s:b, s:s, s:i}", "known", who->known, "csrf", who->csrf, "idle_timeout", PORTAL_SESSION_IDLE);
}

enum rc h_portal_session_create(struct http_request *rq)
{
	static const char *const keys[] = {"token", NULL};
	enum rc rc = json_keys_only(rq->json, keys, &rq->eb);
	const char *token = rc ? NULL : json_string_value(json_object_get(rq->json, "token"));
	if (!rc && !token)
		rc = err_set(&rq->eb, RC_UNPROCESSABLE, "'token' must be a string");
	if (!rc)
		rc = tenant_of(rq);
	if (rc)
		return rc;
	if (http_auth_blocked(rq))
		return err_set(&rq->eb, RC_TOO_MANY, "too many failed sign-ins from this address");
	char session[PORTAL_TOKEN_LEN + 1];
	struct portal_identity who;
	rc = portal_sign_in(&rq->ctx, token, session, &who, &rq->eb);
	if (rc == RC_NOT_FOUND || rc == RC_GONE)
		http_auth_failed(rq);
	if (rc)
		return rc;
	snprintf(rq->set_cookie, sizeof rq->set_cookie, "%s=%s; HttpOnly; SameSite=Strict; Path=" ROUTER_PORTAL "%s/",
	         PORTAL_COOKIE, session, rq->ctx.tenant->name);
	sodium_memzero(session, sizeof session);
	http_reply(rq, 201, session_json(&who));
	return RC_OK;
}

enum rc h_portal_session_get(struct http_request *rq)
{
	struct portal_identity who;
	enum rc rc = caller(rq, &who);
	if (rc)
		return rc;
	http_reply(rq, 200, session_json(&who));
	return RC_OK;
}

enum rc h_portal_session_delete(struct http_request *rq)
{
	struct portal_identity who;
	enum rc rc = caller(rq, &who);
	if (!rc)
		rc = portal_sign_out(&rq->ctx, http_cookie(rq, PORTAL_COOKIE));
	if (rc)
		return rc;
	snprintf(rq->set_cookie, sizeof rq->set_cookie,
	         "%s=; Max-Age=0; HttpOnly; SameSite=Strict; Path=" ROUTER_PORTAL "%s/", PORTAL_COOKIE,
	         rq->ctx.tenant->name);
	http_reply(rq, 204, NULL);
	return RC_OK;
}

static json_t *title_json(const struct policy_title *t)
{
	json_t *j = json_object();
	for (size_t i = 0; i < t->n; i++)
		json_object_set_new(j, t->v[i].lang, json_string(t->v[i].text));
	return j;
}

static json_t *instant_or_null(int64_t t)
{
	if (!t)
		return json_null();
	char s[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(t, s);
	return json_string(s);
}

/* The purposes the subject can decide on (consent, or an objection), each
 * with its state and the words shown when it was last changed. */
static enum rc purposes_json(struct http_request *rq, const struct portal_identity *who, json_t *out)
{
	const struct policy *p = rq->ctx.tenant->policy;
	struct consent_report r = {0};
	if (!who->known)
		return RC_OK; /* nothing to decide about a person the register does not hold */
	enum rc rc = consent_report(&rq->ctx, who->subject_id, &r, &rq->eb);
	if (rc)
		return rc;
	for (size_t i = 0; i < p->npurposes; i++) {
		const struct policy_purpose *u = &p->purposes[i];
		if (u->basis != BASIS_CONSENT && !u->objectable)
			continue;
		const char *state = "none", *wording = NULL;
		int64_t at = 0;
		for (size_t k = 0; k < r.nstates; k++)
			if (!strcmp(r.states[k].purpose, u->name)) {
				state = r.states[k].state;
				at = r.states[k].updated_at;
			}
		for (size_t k = 0; k < r.nevents; k++)
			if (!strcmp(r.events[k].purpose, u->name) && r.events[k].wording)
				wording = r.events[k].wording; /* the history is oldest first: the last one stands */
		json_array_append_new(out, json_pack("{s:s, s:o, s:s, s:b, s:s, s:b, s:o, s:o}", "name", u->name, "title",
		                                     title_json(&u->title), "legal_basis", policy_basis_name(u->basis),
		                                     "consent", u->basis == BASIS_CONSENT, "state", state, "allowed",
		                                     consent_allows(u, consent_state_parse(state)), "text",
		                                     wording ? json_string(wording) : json_null(), "updated_at",
		                                     instant_or_null(at)));
	}
	consent_report_fini(&r);
	return RC_OK;
}

static json_t *request_json(const struct store_request *r, int64_t now)
{
	bool open = request_row_open(r);
	return json_pack("{s:s, s:s, s:s, s:b, s:o, s:o, s:o, s:b, s:b}", "id", r->id, "type", r->type, "status",
	                 r->status, "open", open, "received_at", instant_or_null(r->received_at), "due_at",
	                 instant_or_null(r->due_at), "answered_at", instant_or_null(r->answered_at), "overdue",
	                 open && r->due_at < now, "download",
	                 request_row_status(r) == REQUEST_COMPLETED && request_type_exports(request_row_type(r)));
}

enum rc h_portal_me(struct http_request *rq)
{
	struct portal_identity who;
	enum rc rc = caller(rq, &who);
	if (rc)
		return rc;
	const struct policy *p = rq->ctx.tenant->policy;
	json_t *purposes = json_array(), *requests = json_array(), *langs = json_array();
	struct store_request *v = NULL;
	size_t n = 0;
	rc = purposes_json(rq, &who, purposes);
	if (!rc)
		rc = portal_requests(&rq->ctx, &who, &v, &n);
	for (size_t i = 0; !rc && i < n; i++)
		json_array_append_new(requests, request_json(&v[i], timeutil_now()));
	store_requests_free(v, n);
	for (size_t i = 0; i < p->nlanguages; i++)
		json_array_append_new(langs, json_string(p->languages[i]));
	/* The policy's titles, so that the page says "Orders", not "order". */
	json_t *kinds = json_object(), *fields = json_object(), *names = json_object(), *recipients = json_object();
	json_t *keep = json_object();
	static const char *const web_langs[] = {"en", "et", "lv", "fi", "ru"};
	for (size_t i = 0; i < p->nrecords; i++) {
		json_object_set_new(kinds, p->records[i].name, title_json(&p->records[i].title));
		/* How long, in plain words in each language of the pages (the notice's words). */
		json_t *words = json_object();
		for (size_t l = 0; l < sizeof web_langs / sizeof web_langs[0]; l++) {
			char text[256];
			notice_keep_words(&p->records[i], web_langs[l], text, sizeof text);
			json_object_set_new(words, web_langs[l], json_string(text));
		}
		json_object_set_new(keep, p->records[i].name, words);
	}
	for (size_t i = 0; i < p->nfields; i++)
		json_object_set_new(fields, p->fields[i].name, title_json(&p->fields[i].title));
	for (size_t i = 0; i < p->npurposes; i++)
		json_object_set_new(names, p->purposes[i].name, title_json(&p->purposes[i].title));
	for (size_t i = 0; i < p->nrecipients; i++)
		json_object_set_new(recipients, p->recipients[i].name, title_json(&p->recipients[i].title));
	json_t *body = json_pack("{s:b, s:{s:s, s:s}, s:s, s:o, s:o, s:o, s:i, s:{s:o, s:o, s:o, s:o, s:o}}", "known",
	                         who.known, "controller", "name", p->controller.name, "email", p->controller.email,
	                         "tenant", rq->ctx.tenant->name, "languages", langs, "purposes", purposes, "requests",
	                         requests, "idle_timeout", PORTAL_SESSION_IDLE, "titles", "kinds", kinds, "fields",
	                         fields, "purposes", names, "recipients", recipients, "keep", keep);
	if (rc) {
		json_decref(body);
		return rc;
	}
	http_reply(rq, 200, body);
	return RC_OK;
}

enum rc h_portal_export(struct http_request *rq)
{
	struct portal_identity who;
	enum rc rc = caller(rq, &who);
	if (rc)
		return rc;
	if (!who.known)
		return err_set(&rq->eb, RC_NOT_FOUND, "we hold no personal data about you");
	return export_reply(rq, who.subject_id, http_query(rq, "format"));
}

enum rc h_portal_consent(struct http_request *rq)
{
	static const char *const keys[] = {"purpose", "granted", "text", NULL};
	struct portal_identity who;
	enum rc rc = caller(rq, &who);
	if (!rc)
		rc = json_keys_only(rq->json, keys, &rq->eb);
	if (rc)
		return rc;
	bool bad = false;
	const char *purpose = opt_string(rq, "purpose", &bad), *text = opt_string(rq, "text", &bad);
	json_t *granted = json_object_get(rq->json, "granted");
	const struct policy_purpose *u = purpose ? policy_purpose(rq->ctx.tenant->policy, purpose) : NULL;
	if (bad || !u || !json_is_boolean(granted) || (u->basis != BASIS_CONSENT && !u->objectable))
		return err_set(&rq->eb, RC_UNPROCESSABLE,
		               "give purpose (one you can decide on), granted (true or false) and the text shown");
	if (!who.known)
		return err_set(&rq->eb, RC_NOT_FOUND, "we hold no personal data about you");
	char ip[64], state[16];
	http_client_ip(rq, ip, sizeof ip);
	struct consent_evidence ev = {.source = "privacy center", .wording = text, .ip = ip, .by_subject = true};
	enum consent_action a = json_is_true(granted) ? CONSENT_GRANT
	                      : u->basis == BASIS_CONSENT ? CONSENT_WITHDRAW : CONSENT_OBJECT;
	rc = notify_consent_record(&rq->ctx, who.subject_id, purpose, a, &ev, state, &rq->eb);
	if (rc)
		return rc;
	http_reply(rq, 201, json_pack("{s:s, s:s, s:b}", "purpose", purpose, "state", state, "allowed",
	                              consent_allows(u, consent_state_parse(state))));
	return RC_OK;
}

enum rc h_portal_request(struct http_request *rq)
{
	static const char *const keys[] = {"type", "details", "email", "lang", NULL};
	struct portal_identity who;
	enum rc rc = caller(rq, &who);
	if (!rc)
		rc = json_keys_only(rq->json, keys, &rq->eb);
	if (rc)
		return rc;
	bool bad = false;
	const char *type = opt_string(rq, "type", &bad), *email = opt_string(rq, "email", &bad),
	           *lang = opt_string(rq, "lang", &bad);
	json_t *d = json_object_get(rq->json, "details");
	if (bad || !type || (d && !json_is_object(d) && !json_is_null(d)))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "give type; details (an object), email and lang are optional");
	char *details = d && json_is_object(d) ? value_json_dumps(d, JSON_COMPACT) : NULL;
	struct store_request r;
	rc = portal_request(&rq->ctx, &who, type, details, email, lang, &r, &rq->eb);
	free(details);
	if (rc)
		return rc;
	http_reply(rq, 201, request_json(&r, timeutil_now()));
	store_request_fini(&r);
	return RC_OK;
}

static enum rc serve(struct http_request *rq, const char *file)
{
	char name[HTTP_PARAM_LEN + 16];
	const struct web_file *f = NULL;
	enum rc rc = tenant_of(rq);
	if (rc)
		return rc;
	if (!strchr(file, '/') && file[0] != '.') { /* one segment; no hidden names */
		snprintf(name, sizeof name, "portal/%s", file);
		f = web_find(name);
	}
	if (!f)
		return err_set(&rq->eb, RC_NOT_FOUND, "no such page");
	return web_serve(rq, f);
}

enum rc h_portal_index(struct http_request *rq)
{
	return serve(rq, "index.html");
}

enum rc h_portal_file(struct http_request *rq)
{
	return serve(rq, rq->params[1]);
}
