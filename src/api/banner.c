/*
 * banner: the cookie banner (docs/banner.md). GET /banner/{tenant}.js is the
 * script a company's site embeds: web/banner/banner.js with the tenant's
 * cookie categories, their titles, the banner's texts in every language and
 * the wording's hash put in; public, cacheable for five minutes, and
 * varying with Sec-GPC (a browser that sends it gets a script that records
 * the refusal without asking). POST /banner/{tenant}/consent keeps a
 * visitor's choice (core/banner.h): public, from any origin (CORS in
 * http.c), bounded, limited per address; it reads no cookie and keeps no
 * address or user agent. GET /v1/banner/counts gives staff the counts.
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "api/value_json.h"
#include "api/web.h"
#include "base/xalloc.h"
#include "core/banner.h"
#include "core/tenant.h"

#define BANNER_CONFIG_MARK "/*CONFIG*/null"

static enum rc tenant_of(struct http_request *rq, const char *name)
{
	int64_t id = 0;
	enum rc rc = tenant_id_of(rq->ctx.store, name, &id);
	if (!rc)
		rc = http_tenant(rq, id, &rq->ctx.tenant);
	if (rc == RC_NOT_FOUND || rc == RC_UNAUTHORIZED)
		return err_set(&rq->eb, RC_NOT_FOUND, "no such banner");
	return rc;
}

static bool gpc_header(struct http_request *rq)
{
	const char *h = http_header(rq, "Sec-GPC");
	return h && !strcmp(h, "1");
}

static json_t *title_json(const struct policy_title *t)
{
	json_t *o = json_object();
	for (size_t i = 0; i < t->n; i++)
		json_object_set_new(o, t->v[i].lang, json_string(t->v[i].text));
	return o;
}

/* The banner's fixed texts ("banner.*" of web/i18n/LANG.json), by language. */
static enum rc texts_json(struct http_request *rq, json_t **out)
{
	static const char *const langs[] = {"en", "et", "lv", "fi", "ru"};
	json_t *all = json_object();
	for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
		char name[32];
		snprintf(name, sizeof name, "i18n/%s.json", langs[i]);
		const struct web_file *f = web_find(name);
		json_t *doc = f ? json_loadb((const char *)f->data, f->len, 0, NULL) : NULL;
		if (!doc) {
			json_decref(all);
			return err_set(&rq->eb, RC_INTERNAL, "the texts of '%s' are not embedded", langs[i]);
		}
		json_t *mine = json_object();
		const char *k;
		json_t *v;
		json_object_foreach(doc, k, v)
			if (!strncmp(k, "banner.", 7))
				json_object_set(mine, k, v);
		json_object_set_new(all, langs[i], mine);
		json_decref(doc);
	}
	*out = all;
	return RC_OK;
}

static json_t *config_json(const struct tenant *t, bool gpc, json_t *texts)
{
	const struct policy *p = t->policy;
	char wording[BANNER_WORDING_LEN + 1];
	banner_wording(p, wording);
	json_t *langs = json_array(), *cats = json_array();
	for (size_t i = 0; i < p->nlanguages; i++)
		json_array_append_new(langs, json_string(p->languages[i]));
	for (size_t i = 0; i < p->ncookies; i++)
		json_array_append_new(cats, json_pack("{s:s, s:b, s:o}", "name", p->cookies[i].name, "consent",
		                                      p->cookies[i].consent, "title", title_json(&p->cookies[i].title)));
	return json_pack("{s:s, s:s, s:s, s:b, s:I, s:o, s:o, s:o}", "tenant", t->name, "wording", wording,
	                 "policy_version", p->version, "gpc", gpc, "keep_seconds",
	                 (json_int_t)BANNER_KEEP_DAYS * 86400, "languages", langs, "categories", cats, "texts", texts);
}

/* FNV-1a, 64 bits, for the ETag: the script is public. */
static uint64_t fnv1a(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ull;
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
	return h;
}

enum rc h_banner_script(struct http_request *rq)
{
	char name[HTTP_PARAM_LEN];
	size_t n = strlen(rq->params[0]);
	if (n <= 3 || strcmp(rq->params[0] + n - 3, ".js"))
		return err_set(&rq->eb, RC_NOT_FOUND, "no such banner: the script is /banner/TENANT.js");
	memcpy(name, rq->params[0], n - 3);
	name[n - 3] = '\0';
	enum rc rc = tenant_of(rq, name);
	if (rc)
		return rc;
	const struct web_file *f = web_find("banner/banner.js");
	if (!f)
		return err_set(&rq->eb, RC_INTERNAL, "the banner's script is not embedded");
	json_t *texts = NULL;
	rc = texts_json(rq, &texts);
	if (rc)
		return rc;
	json_t *cfg = config_json(rq->ctx.tenant, gpc_header(rq), texts);
	char *json = json_dumps(cfg, JSON_COMPACT);
	json_decref(cfg);
	const char *src = (const char *)f->data;
	const char *mark = memmem(src, f->len, BANNER_CONFIG_MARK, strlen(BANNER_CONFIG_MARK));
	if (!mark) {
		free(json);
		return err_set(&rq->eb, RC_INTERNAL, "the banner's script has no place for its configuration");
	}
	size_t head = (size_t)(mark - src), tail = f->len - head - strlen(BANNER_CONFIG_MARK);
	size_t len = head + strlen(json) + tail;
	char *text = xmalloc(len + 1);
	memcpy(text, src, head);
	memcpy(text + head, json, strlen(json));
	memcpy(text + head + strlen(json), mark + strlen(BANNER_CONFIG_MARK), tail);
	text[len] = '\0';
	free(json);
	snprintf(rq->etag, sizeof rq->etag, "\"b%016llx\"", (unsigned long long)fnv1a(text));
	rq->cache_control = "public, max-age=300";
	rq->vary = "Sec-GPC";
	rq->content_type = "text/javascript; charset=utf-8";
	const char *inm = http_header(rq, "If-None-Match");
	if (inm && strstr(inm, rq->etag)) {
		free(text);
		rq->status = 304;
		return RC_OK;
	}
	free(rq->text);
	rq->text = text;
	rq->status = 200;
	return RC_OK;
}

enum rc h_banner_preflight(struct http_request *rq)
{
	rq->status = 204; /* the CORS headers are http.c's, for every /banner/ answer */
	return RC_OK;
}

enum rc h_banner_choice(struct http_request *rq)
{
	static const char *const keys[] = {"visitor", "wording", "gpc", "categories", NULL};
	if (http_banner_blocked(rq))
		return err_set(&rq->eb, RC_TOO_MANY, "too many choices from this address: wait a minute");
	enum rc rc = tenant_of(rq, rq->params[0]);
	if (!rc)
		rc = json_keys_only(rq->json, keys, &rq->eb);
	if (rc)
		return rc;
	json_t *visitor = json_object_get(rq->json, "visitor"), *wording = json_object_get(rq->json, "wording");
	json_t *gpc = json_object_get(rq->json, "gpc"), *cats = json_object_get(rq->json, "categories");
	if (!json_is_string(visitor) || !json_is_string(wording) || (gpc && !json_is_boolean(gpc)) ||
	    !json_is_object(cats))
		return err_set(&rq->eb, RC_UNPROCESSABLE,
		               "send visitor and wording (strings), categories (an object of booleans), gpc (a boolean)");
	struct banner_choice in = {.visitor = json_string_value(visitor), .wording = json_string_value(wording),
	                           .gpc = json_is_true(gpc) || gpc_header(rq)};
	if (json_object_size(cats) > BANNER_CATEGORIES_MAX)
		return err_set(&rq->eb, RC_TOO_LARGE, "at most %d categories", BANNER_CATEGORIES_MAX);
	const char *k;
	json_t *v;
	json_object_foreach(cats, k, v) {
		if (!json_is_boolean(v))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "categories.%.64s must be true or false", k);
		in.v[in.n].category = k;
		in.v[in.n++].accepted = json_is_true(v);
	}
	rc = banner_record(&rq->ctx, &in, &rq->eb);
	if (rc)
		return rc;
	json_t *kept = json_object();
	for (size_t i = 0; i < in.n; i++)
		json_object_set_new(kept, in.v[i].category, json_boolean(in.v[i].accepted && !in.gpc));
	http_reply(rq, 200, json_pack("{s:o, s:b, s:s}", "categories", kept, "gpc", in.gpc, "policy_version",
	                              rq->ctx.tenant->policy->version));
	return RC_OK;
}

enum rc h_banner_counts(struct http_request *rq)
{
	const struct policy *p = rq->ctx.tenant->policy;
	struct store_banner_count *rows = NULL;
	size_t n = 0;
	enum rc rc = banner_counts(&rq->ctx, &rows, &n);
	if (rc)
		return rc;
	char wording[BANNER_WORDING_LEN + 1];
	banner_wording(p, wording);
	json_t *counts = json_array(), *cats = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(counts, json_pack("{s:s, s:s, s:I, s:I, s:I}", "policy_version", rows[i].policy_version,
		                                        "category", rows[i].category, "accepted", (json_int_t)rows[i].accepted,
		                                        "refused", (json_int_t)rows[i].refused, "gpc",
		                                        (json_int_t)rows[i].gpc));
	for (size_t i = 0; i < p->ncookies; i++)
		if (p->cookies[i].consent)
			json_array_append_new(cats, json_string(p->cookies[i].name));
	free(rows);
	http_reply(rq, 200, json_pack("{s:s, s:s, s:i, s:o, s:o}", "policy_version", p->version, "wording", wording,
	                              "keep_days", BANNER_KEEP_DAYS, "categories", cats, "counts", counts));
	return RC_OK;
}
