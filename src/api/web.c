/*
 * web: serves the embedded pages (web.h) under /console/, and lends web_serve
 * to the privacy center (api/portal.c) for its own. Every page has a
 * Content-Security-Policy that allows scripts, styles and requests of this
 * origin only (no inline script or style anywhere in web/), may not be
 * framed, and sends no referrer. Files are revalidated by ETag, so a new
 * binary's pages are seen at once. The fixed texts' language comes from
 * ?lang= (the page's switcher) or else Accept-Language.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "api/handlers.h"
#include "api/web.h"
#include "base/xalloc.h"

#define WEB_CSP                                                                                              \
	"default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; "     \
	"frame-ancestors 'none'"

const struct web_file *web_find(const char *name)
{
	for (size_t i = 0; i < web_nfiles; i++)
		if (!strcmp(web_files[i].name, name))
			return &web_files[i];
	return NULL;
}

enum rc web_serve(struct http_request *rq, const struct web_file *f)
{
	rq->csp = WEB_CSP;
	rq->cache_control = "no-cache";
	snprintf(rq->etag, sizeof rq->etag, "%s", f->etag);
	const char *inm = http_header(rq, "If-None-Match");
	if (inm && strstr(inm, f->etag)) {
		rq->status = 304;
		return RC_OK;
	}
	char *text = xmalloc(f->len + 1);
	memcpy(text, f->data, f->len);
	text[f->len] = '\0';
	free(rq->text);
	rq->status = 200;
	rq->text = text;
	rq->content_type = f->content_type;
	return RC_OK;
}

enum rc h_web_index(struct http_request *rq)
{
	return web_serve(rq, web_find("console/index.html"));
}

enum rc h_web_file(struct http_request *rq)
{
	char name[HTTP_PARAM_LEN + 16];
	const char *file = rq->params[0];
	const struct web_file *f = NULL;
	if (!strchr(file, '/') && file[0] != '.') { /* the parameter is one segment; no hidden names */
		snprintf(name, sizeof name, "console/%s", file);
		f = web_find(name);
		if (!f) {
			snprintf(name, sizeof name, "common/%s", file);
			f = web_find(name);
		}
	}
	if (!f)
		return err_set(&rq->eb, RC_NOT_FOUND, "no such page");
	return web_serve(rq, f);
}

/* A language of WEB_LANGS, as the 2-letter code at s (then '-', ';', ',',
 * space or the end), or NULL. */
static const char *known_lang(const char *s, size_t n)
{
	static const char *const langs[] = {"en", "et", "lv", "fi", "ru"};
	if (n != 2)
		return NULL;
	for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
		if (!strncasecmp(langs[i], s, 2))
			return langs[i];
	return NULL;
}

/* The best-weighted language of Accept-Language that we have, else "en". */
static const char *from_accept(const char *h)
{
	const char *best = "en";
	double best_q = 0;
	for (const char *p = h; p && *p;) {
		while (*p == ' ' || *p == ',')
			p++;
		size_t n = strcspn(p, "-;, ");
		const char *lang = known_lang(p, n);
		const char *end = p + strcspn(p, ",");
		double q = 1;
		const char *qp = strstr(p, ";q=");
		if (qp && qp < end)
			q = strtod(qp + 3, NULL);
		if (lang && q > best_q) {
			best = lang;
			best_q = q;
		}
		p = *end ? end + 1 : end;
	}
	return best;
}

enum rc h_web_i18n(struct http_request *rq)
{
	const char *q = http_query(rq, "lang");
	const char *lang = q ? known_lang(q, strlen(q)) : from_accept(http_header(rq, "Accept-Language"));
	if (!lang)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "lang must be one of: " WEB_LANGS);
	char name[32];
	snprintf(name, sizeof name, "i18n/%s.json", lang);
	const struct web_file *f = web_find(name);
	if (!f)
		return err_set(&rq->eb, RC_INTERNAL, "the texts of '%s' are not embedded", lang);
	enum rc rc = web_serve(rq, f);
	rq->cache_control = "no-cache"; /* Vary would be needed for a shared cache: none may keep it */
	return rc;
}
