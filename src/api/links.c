/*
 * links: the small public pages behind e-mailed links. GET only shows a page
 * with a button (mail scanners fetch links on their own); POST acts. No
 * login, no cookies, no scripts: the signed token is the authority.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "base/buf.h"
#include "base/timeutil.h"
#include "api/export.h"
#include "core/consent.h"
#include "core/notify.h"
#include "core/request.h"

/* Escapes text for HTML. */
static enum rc esc(struct buf *b, const char *s)
{
	enum rc rc = RC_OK;
	for (; *s && !rc; s++) {
		switch (*s) {
		case '&': rc = buf_puts(b, "&amp;"); break;
		case '<': rc = buf_puts(b, "&lt;"); break;
		case '>': rc = buf_puts(b, "&gt;"); break;
		case '"': rc = buf_puts(b, "&quot;"); break;
		case '\'': rc = buf_puts(b, "&#39;"); break;
		default: rc = buf_append(b, s, 1);
		}
	}
	return rc;
}

/* A page: a title, a sentence, and optionally a form with one button. */
static void page(struct http_request *rq, int status, const char *title, const char *text, const char *button,
                 const char *action, const char *field)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	enum rc rc = buf_puts(&b, "<!doctype html>\n<html><head><meta charset=\"utf-8\">"
	                          "<meta name=\"viewport\" content=\"width=device-width\"><title>");
	if (!rc)
		rc = esc(&b, title);
	if (!rc)
		rc = buf_puts(&b, "</title><style>body{font:16px/1.5 sans-serif;max-width:36em;margin:3em auto;padding:0 1em}"
		                  "button{font-size:1em;padding:.5em 1.5em}</style></head><body><h1>");
	if (!rc)
		rc = esc(&b, title);
	if (!rc)
		rc = buf_puts(&b, "</h1><p>");
	if (!rc)
		rc = esc(&b, text);
	if (!rc)
		rc = buf_puts(&b, "</p>");
	if (!rc && button) {
		rc = buf_puts(&b, "<form method=\"post\" action=\"");
		if (!rc)
			rc = esc(&b, action);
		if (!rc)
			rc = buf_puts(&b, "\"><input type=\"hidden\" name=\"");
		if (!rc)
			rc = esc(&b, field);
		if (!rc)
			rc = buf_puts(&b, "\" value=\"One-Click\"><button type=\"submit\">");
		if (!rc)
			rc = esc(&b, button);
		if (!rc)
			rc = buf_puts(&b, "</button></form>");
	}
	if (!rc)
		rc = buf_puts(&b, "</body></html>\n");
	http_reply_html(rq, status, rc ? NULL : buf_take(&b, NULL));
	buf_fini(&b);
}

static const char *title_of(const struct tenant *t, const char *purpose)
{
	const struct policy_purpose *u = policy_purpose(t->policy, purpose);
	if (!u || !u->title.n)
		return purpose;
	for (size_t i = 0; i < u->title.n; i++)
		if (!strcmp(u->title.v[i].lang, "en"))
			return u->title.v[i].text;
	return u->title.v[0].text;
}

/* Checks the link's token: its tenant, its signature, its expiry, its kind.
 * On failure the page is already written. */
static bool open_link(struct http_request *rq, char kind, struct token_link *l)
{
	int64_t tenant;
	const char *token = rq->params[0];
	enum rc rc = token_link_tenant(token, &tenant);
	if (!rc)
		rc = http_tenant(rq, tenant, &rq->ctx.tenant);
	if (!rc)
		rc = token_link_verify(token, rq->ctx.tenant->vault.token_key, timeutil_now(), l);
	if (!rc && l->kind != kind)
		rc = RC_NOT_FOUND;
	if (rc == RC_GONE) {
		page(rq, 410, "This link has expired", "Links in our e-mails work for a limited time. Nothing was changed.",
		     NULL, NULL, NULL);
		return false;
	}
	if (rc) {
		page(rq, 404, "This link is not valid", "It may have been cut short or changed. Nothing was changed.",
		     NULL, NULL, NULL);
		return false;
	}
	rq->ctx.key_id = "subject";
	rq->ctx.role = "subject";
	return true;
}

enum rc h_confirm_page(struct http_request *rq)
{
	struct token_link l;
	if (!open_link(rq, 'c', &l))
		return RC_OK;
	char text[512];
	snprintf(text, sizeof text, "%s asks you to confirm: %s.", rq->ctx.tenant->policy->controller.name,
	         title_of(rq->ctx.tenant, l.purpose));
	page(rq, 200, "Please confirm", text, "Confirm", "", "confirm");
	return RC_OK;
}

enum rc h_confirm(struct http_request *rq)
{
	struct token_link l;
	if (!open_link(rq, 'c', &l))
		return RC_OK;
	char ip[64], state[16];
	http_client_ip(rq, ip, sizeof ip);
	const char *gpc = http_header(rq, "Sec-GPC");
	enum rc rc = notify_consent_by_link(&rq->ctx, &l, gpc && !strcmp(gpc, "1"), ip, state, &rq->eb);
	if (rc == RC_GONE || rc == RC_CONFLICT) {
		page(rq, rc == RC_GONE ? 410 : 409, "Nothing to confirm", err_msg(&rq->eb, rc), NULL, NULL, NULL);
		return RC_OK;
	}
	if (rc)
		return rc;
	if (consent_state_parse(state) == CONSENT_STATE_OBJECTED)
		page(rq, 200, "Noted: no marketing",
		     "Your browser asks sites not to use your data for marketing (Global Privacy Control), so we have "
		     "recorded exactly that.", NULL, NULL, NULL);
	else
		page(rq, 200, "Thank you", "Your confirmation is recorded. Every message will have a link to stop them.",
		     NULL, NULL, NULL);
	return RC_OK;
}

enum rc h_unsubscribe_page(struct http_request *rq)
{
	struct token_link l;
	if (!open_link(rq, 'u', &l))
		return RC_OK;
	char text[512];
	snprintf(text, sizeof text, "Stop receiving \"%s\" from %s.", title_of(rq->ctx.tenant, l.purpose),
	         rq->ctx.tenant->policy->controller.name);
	page(rq, 200, "Unsubscribe", text, "Unsubscribe", "", "List-Unsubscribe");
	return RC_OK;
}

enum rc h_unsubscribe(struct http_request *rq)
{
	struct token_link l;
	if (!open_link(rq, 'u', &l))
		return RC_OK;
	/* RFC 8058: the one-click POST says exactly this. */
	if (strcmp(rq->form, "List-Unsubscribe=One-Click"))
		return err_set(&rq->eb, RC_INVALID, "the body must be List-Unsubscribe=One-Click");
	char ip[64], state[16];
	http_client_ip(rq, ip, sizeof ip);
	enum rc rc = notify_consent_by_link(&rq->ctx, &l, false, ip, state, &rq->eb);
	if (rc)
		return rc;
	page(rq, 200, "Unsubscribed", "You will not get these messages any more.", NULL, NULL, NULL);
	return RC_OK;
}

enum rc h_export_link(struct http_request *rq)
{
	struct token_link l;
	if (!open_link(rq, 'x', &l))
		return RC_OK;
	/* The link names the request: it must be this subject's, completed. */
	struct store_request r;
	enum rc rc = request_get(&rq->ctx, l.purpose, &r, &rq->eb);
	if (!rc && (strcmp(r.subject_id, l.subject_id) || request_row_status(&r) != REQUEST_COMPLETED))
		rc = err_set(&rq->eb, RC_NOT_FOUND, "no such export");
	if (!rc)
		rc = export_reply(rq, l.subject_id, http_query(rq, "format"));
	store_request_fini(&r);
	return rc;
}

enum rc h_verify_page(struct http_request *rq)
{
	struct token_link l;
	if (!open_link(rq, 'v', &l))
		return RC_OK;
	char text[512];
	snprintf(text, sizeof text, "%s has received a request about your data. Confirm that it is yours.",
	         rq->ctx.tenant->policy->controller.name);
	page(rq, 200, "Is this request yours?", text, "Yes, it is mine", "", "verify");
	return RC_OK;
}

enum rc h_verify(struct http_request *rq)
{
	struct token_link l;
	if (!open_link(rq, 'v', &l))
		return RC_OK;
	enum rc rc = request_verify_by_link(&rq->ctx, &l, &rq->eb);
	if (rc == RC_GONE || rc == RC_NOT_FOUND) {
		page(rq, rc == RC_GONE ? 410 : 404, "Nothing to confirm", err_msg(&rq->eb, rc), NULL, NULL, NULL);
		return RC_OK;
	}
	if (rc)
		return rc;
	page(rq, 200, "Thank you", "We are working on your request and will answer by e-mail.", NULL, NULL, NULL);
	return RC_OK;
}

enum rc h_gpc(struct http_request *rq)
{
	/* https://privacycg.github.io/gpc-spec/: we honour the signal. */
	http_reply(rq, 200, json_pack("{s:b, s:s}", "gpc", 1, "lastUpdate", "2026-11-22"));
	return RC_OK;
}
