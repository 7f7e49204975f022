/*
 * notice: GET /notice/{tenant} (the public privacy notice, cacheable), GET
 * /v1/notice (the same for staff) and GET /v1/ropa (the Art.
 * 30(1) record of processing activities as JSON, CSV or DPV JSON-LD), both
 * from the policy in force. One processing activity is one purpose.
 * GET /v1/ropa?view=processor is the processor's record (Art. 30(2)): the
 * controllers the register serves, each from its own policy.
 */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "base/csv.h"
#include "base/timeutil.h"
#include "core/notice.h"
#include "core/policy.h"
#include "core/tenant.h"

#define NOTICE_MAX (1024 * 1024)
#define SECURITY_MEASURES                                                                                    \
	"per-subject encryption (XChaCha20-Poly1305, key wrapped by the tenant master key); keyed lookup hashes; " \
	"role-based access per API key; hash-chained audit log of every access and change"

/* Renders p's notice as ?lang= and ?format= ask into rq's answer. */
static enum rc notice_reply(struct http_request *rq, const struct policy *p)
{
	const char *lang = http_query(rq, "lang"), *format = http_query(rq, "format");
	if (!lang)
		lang = p->languages[0];
	enum notice_format f = NOTICE_HTML;
	if (format && !strcmp(format, "md"))
		f = NOTICE_MARKDOWN;
	else if (format && strcmp(format, "html"))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "format is html or md");
	struct buf b;
	buf_init(&b, NOTICE_MAX);
	enum rc rc = notice_render(p, lang, f, &b, &rq->eb);
	if (rc) {
		buf_fini(&b);
		return rc;
	}
	rq->status = 200;
	rq->content_type = f == NOTICE_HTML ? "text/html; charset=utf-8" : "text/markdown; charset=utf-8";
	rq->text = buf_take(&b, NULL);
	return RC_OK;
}

enum rc h_notice(struct http_request *rq)
{
	return notice_reply(rq, rq->ctx.tenant->policy);
}

/* FNV-1a, 64 bits: an ETag needs to change with the text, not to resist
 * anyone (the text is public). */
static uint64_t fnv1a(uint64_t h, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ull;
	return h;
}

/* Whether an If-None-Match header names etag (or is "*"). */
static bool etag_matches(const char *inm, const char *etag)
{
	if (!inm)
		return false;
	while (*inm == ' ')
		inm++;
	return !strcmp(inm, "*") || strstr(inm, etag) != NULL;
}

/* GET /notice/{tenant}: the notice a web site links to. No key: it is what
 * the controller tells everyone. Any cache may keep it for a few minutes,
 * and the ETag (the policy version, language and format, and the text
 * itself, so an upgrade that rewords it changes it too) lets a browser
 * revalidate for a 304. The page's one stylesheet is allowed by its hash;
 * nothing else may load, run or frame it. */
enum rc h_notice_public(struct http_request *rq)
{
	int64_t id = 0;
	enum rc rc = tenant_id_of(rq->ctx.store, rq->params[0], &id);
	if (!rc)
		rc = http_tenant(rq, id, &rq->ctx.tenant);
	if (rc == RC_NOT_FOUND || rc == RC_UNAUTHORIZED)
		return err_set(&rq->eb, RC_NOT_FOUND, "no such notice");
	if (rc)
		return rc;
	const struct policy *p = rq->ctx.tenant->policy;
	rc = notice_reply(rq, p);
	if (rc)
		return rc;
	const char *lang = http_query(rq, "lang"), *format = http_query(rq, "format");
	uint64_t h = 0xcbf29ce484222325ull;
	h = fnv1a(h, p->version, strlen(p->version) + 1);
	h = fnv1a(h, lang ? lang : p->languages[0], strlen(lang ? lang : p->languages[0]) + 1);
	h = fnv1a(h, format ? format : "html", strlen(format ? format : "html") + 1);
	h = fnv1a(h, rq->text, strlen(rq->text));
	snprintf(rq->etag, sizeof rq->etag, "\"n%016llx\"", (unsigned long long)h);
	rq->cache_control = "public, max-age=300";
	rq->csp = "default-src 'none'; style-src '" NOTICE_STYLE_HASH "'; base-uri 'none'; form-action 'none'; "
	          "frame-ancestors 'none'";
	if (etag_matches(http_header(rq, "If-None-Match"), rq->etag)) {
		free(rq->text);
		rq->text = NULL;
		rq->status = 304;
	}
	return RC_OK;
}

/* ---- the record of processing activities ---- */

struct activity {
	const struct policy_purpose *purpose;
	const struct policy_record *kinds[64];
	size_t nkinds;
	const struct policy_field *fields[256];
	size_t nfields;
	const struct policy_recipient *recipients[64];
	size_t nrecipients;
};

static bool has_purpose(const struct policy_purpose *const *v, size_t n, const struct policy_purpose *p)
{
	for (size_t i = 0; i < n; i++)
		if (v[i] == p)
			return true;
	return false;
}

static void activity_of(const struct policy *p, const struct policy_purpose *pu, struct activity *a)
{
	memset(a, 0, sizeof *a);
	a->purpose = pu;
	for (size_t i = 0; i < p->nrecords && a->nkinds < 64; i++) {
		const struct policy_record *r = &p->records[i];
		if (!has_purpose(r->purposes, r->npurposes, pu))
			continue;
		a->kinds[a->nkinds++] = r;
		for (size_t k = 0; k < r->nfields; k++) {
			bool seen = false;
			for (size_t j = 0; j < a->nfields && !seen; j++)
				seen = a->fields[j] == r->fields[k];
			if (!seen && a->nfields < 256)
				a->fields[a->nfields++] = r->fields[k];
		}
	}
	for (size_t i = 0; i < p->nrecipients && a->nrecipients < 64; i++)
		if (has_purpose(p->recipients[i].purposes, p->recipients[i].npurposes, pu))
			a->recipients[a->nrecipients++] = &p->recipients[i];
}

static json_t *activity_json(const struct policy *p, const struct activity *a)
{
	json_t *kinds = json_array(), *fields = json_array(), *recips = json_array(), *transfers = json_array();
	for (size_t i = 0; i < a->nkinds; i++) {
		char words[256];
		notice_keep_words(a->kinds[i], "en", words, sizeof words);
		json_array_append_new(kinds, json_pack("{s:s, s:s, s:s}", "kind", a->kinds[i]->name, "retention", words,
		                                       "then", policy_then_name(a->kinds[i]->then)));
	}
	for (size_t i = 0; i < a->nfields; i++)
		json_array_append_new(fields, json_string(a->fields[i]->name));
	for (size_t i = 0; i < a->nrecipients; i++) {
		const struct policy_recipient *r = a->recipients[i];
		json_array_append_new(recips, json_pack("{s:s, s:s, s:s}", "name", r->name, "role", policy_role_name(r->role),
		                                        "country", r->country));
		if (r->transfer != TRANSFER_NONE)
			json_array_append_new(transfers, json_pack("{s:s, s:s, s:s}", "recipient", r->name, "country", r->country,
			                                           "safeguard", policy_transfer_name(r->transfer)));
	}
	const struct policy_controller *c = &p->controller;
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:{s:s, s:s, s:o}, s:s}", "purpose", a->purpose->name,
	                 "title", policy_title_in(&a->purpose->title, "en", a->purpose->name), "legal_basis",
	                 policy_basis_name(a->purpose->basis), "records", kinds, "personal_data", fields, "recipients",
	                 recips, "third_country_transfers", transfers, "controller", "name", c->name, "email", c->email,
	                 "dpo", c->dpo ? json_string(c->dpo) : json_null(), "security_measures", SECURITY_MEASURES);
}

/* One cell, always quoted; a formula's start behind a single quote (base/csv.h). */
static enum rc csv_cell(struct buf *b, const char *s, bool last)
{
	enum rc rc = buf_puts(b, csv_formula(s, strlen(s)) ? "\"'" : "\"");
	for (; !rc && *s; s++)
		rc = *s == '"' ? buf_puts(b, "\"\"") : buf_append(b, s, 1);
	rc = rc ? rc : buf_puts(b, "\"");
	return rc ? rc : buf_puts(b, last ? "\r\n" : ",");
}

static enum rc ropa_csv(const struct policy *p, struct buf *b)
{
	static const char *const head[] = {"purpose", "title", "legal_basis", "record_kinds", "personal_data", "recipients",
	                                   "third_country_transfers", "retention", "controller", "dpo",
	                                   "security_measures"};
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < 11; i++)
		rc = csv_cell(b, head[i], i == 10);
	for (size_t i = 0; !rc && i < p->npurposes; i++) {
		struct activity a;
		struct buf kinds, fields, recips, transfers, keep;
		activity_of(p, &p->purposes[i], &a);
		buf_init(&kinds, 65536);
		buf_init(&fields, 65536);
		buf_init(&recips, 65536);
		buf_init(&transfers, 65536);
		buf_init(&keep, 65536);
		for (size_t k = 0; !rc && k < a.nkinds; k++) {
			char words[256];
			notice_keep_words(a.kinds[k], "en", words, sizeof words);
			rc = buf_printf(&kinds, "%s%s", k ? "; " : "", a.kinds[k]->name);
			rc = rc ? rc : buf_printf(&keep, "%s%s: %s, then %s", k ? "; " : "", a.kinds[k]->name, words,
			                          policy_then_name(a.kinds[k]->then));
		}
		for (size_t k = 0; !rc && k < a.nfields; k++)
			rc = buf_printf(&fields, "%s%s", k ? "; " : "", a.fields[k]->name);
		for (size_t k = 0, t = 0; !rc && k < a.nrecipients; k++) {
			const struct policy_recipient *r = a.recipients[k];
			rc = buf_printf(&recips, "%s%s (%s, %s)", k ? "; " : "", r->name, policy_role_name(r->role), r->country);
			if (!rc && r->transfer != TRANSFER_NONE)
				rc = buf_printf(&transfers, "%s%s: %s, %s", t++ ? "; " : "", r->name, r->country,
				                policy_transfer_name(r->transfer));
		}
		const struct policy_controller *c = &p->controller;
		const char *cells[11] = {a.purpose->name, policy_title_in(&a.purpose->title, "en", a.purpose->name),
		                         policy_basis_name(a.purpose->basis), kinds.data ? kinds.data : "",
		                         fields.data ? fields.data : "", recips.data ? recips.data : "",
		                         transfers.data ? transfers.data : "", keep.data ? keep.data : "", c->name,
		                         c->dpo ? c->dpo : "", SECURITY_MEASURES};
		for (size_t k = 0; !rc && k < 11; k++)
			rc = csv_cell(b, cells[k], k == 10);
		buf_fini(&kinds);
		buf_fini(&fields);
		buf_fini(&recips);
		buf_fini(&transfers);
		buf_fini(&keep);
	}
	return rc;
}

/* ---- DPV (W3C Data Privacy Vocabulary) JSON-LD ---- */

static const char *dpv_basis(enum legal_basis b)
{
	static const char *const v[] = {"dpv:Consent", "dpv:Contract", "dpv:LegalObligation", "dpv:LegitimateInterest",
	                                "dpv:VitalInterest", "dpv:PublicInterest"};
	return v[b];
}

static const char *dpv_role(enum recipient_role r)
{
	static const char *const v[] = {"dpv:DataProcessor", "dpv:DataController", "dpv:Authority"};
	return v[r];
}

static const char *dpv_transfer(enum transfer_basis t)
{
	static const char *const v[] = {"", "dpv:AdequacyDecision", "dpv:StandardContractualClauses",
	                                "dpv:BindingCorporateRules"};
	return v[t];
}

static json_t *id(const char *prefix, const char *name)
{
	char s[256];
	snprintf(s, sizeof s, "%s%s", prefix, name);
	return json_pack("{s:s}", "@id", s);
}

static json_t *ropa_dpv(const struct policy *p)
{
	json_t *graph = json_array();
	const struct policy_controller *c = &p->controller;
	json_array_append_new(graph, json_pack("{s:s, s:s, s:s, s:s}", "@id", "privreg:controller", "@type",
	                                       "dpv:DataController", "dct:title", c->name, "dpv:hasContact", c->email));
	for (size_t i = 0; i < p->npurposes; i++) {
		struct activity a;
		activity_of(p, &p->purposes[i], &a);
		json_t *data = json_array(), *recips = json_array(), *storage = json_array();
		for (size_t k = 0; k < a.nfields; k++) {
			json_t *d = id("privreg:data/", a.fields[k]->name);
			json_object_set_new(d, "@type", json_string("dpv:PersonalData"));
			json_object_set_new(d, "dct:title", json_string(a.fields[k]->name));
			json_array_append_new(data, d);
		}
		for (size_t k = 0; k < a.nrecipients; k++) {
			const struct policy_recipient *r = a.recipients[k];
			json_t *x = id("privreg:recipient/", r->name);
			json_object_set_new(x, "@type", json_string(dpv_role(r->role)));
			json_object_set_new(x, "dct:title", json_string(r->name));
			json_object_set_new(x, "dpv:hasLocation", json_string(r->country));
			if (r->transfer != TRANSFER_NONE)
				json_object_set_new(x, "dpv:hasTechnicalOrganisationalMeasure",
				                    json_pack("{s:s}", "@id", dpv_transfer(r->transfer)));
			json_array_append_new(recips, x);
		}
		for (size_t k = 0; k < a.nkinds; k++) {
			char words[256], iso[32];
			notice_keep_words(a.kinds[k], "en", words, sizeof words);
			timeutil_format_duration_iso(a.kinds[k]->keep.period, iso, sizeof iso);
			json_array_append_new(storage, json_pack("{s:s, s:s, s:s, s:s}", "@type", "dpv:StorageDuration",
			                                         "dct:subject", a.kinds[k]->name, "dct:description", words,
			                                         "dpv:hasDuration", iso));
		}
		json_t *act = id("privreg:activity/", a.purpose->name);
		json_object_set_new(act, "@type", json_string("dpv:PersonalDataHandling"));
		json_object_set_new(act, "dpv:hasDataController", json_pack("{s:s}", "@id", "privreg:controller"));
		json_t *purpose = id("privreg:purpose/", a.purpose->name);
		json_object_set_new(purpose, "@type", json_string("dpv:Purpose"));
		json_object_set_new(purpose, "dct:description",
		                    json_string(policy_title_in(&a.purpose->title, "en", a.purpose->name)));
		json_object_set_new(act, "dpv:hasPurpose", purpose);
		json_object_set_new(act, "dpv:hasLegalBasis", json_pack("{s:s}", "@id", dpv_basis(a.purpose->basis)));
		json_object_set_new(act, "dpv:hasPersonalData", data);
		json_object_set_new(act, "dpv:hasRecipient", recips);
		json_object_set_new(act, "dpv:hasDataStorageDuration", storage);
		json_array_append_new(graph, act);
	}
	json_array_append_new(graph, json_pack("{s:s, s:s, s:s}", "@id", "privreg:policy", "@type", "dpv:Policy",
	                                       "dct:hasVersion", p->version));
	return json_pack("{s:{s:s, s:s, s:s}, s:o}", "@context", "dpv", "https://w3id.org/dpv#", "dct",
	                 "http://purl.org/dc/terms/", "privreg", "urn:privreg:", "@graph", graph);
}

/* ---- the processor's record (Art. 30(2)) ---- */

static json_t *controller_json(const struct policy_controller *c)
{
	return json_pack("{s:s, s:s, s:o, s:o, s:o}", "name", c->name, "email", c->email, "code",
	                 c->code ? json_string(c->code) : json_null(), "address",
	                 c->address ? json_string(c->address) : json_null(), "dpo",
	                 c->dpo ? json_string(c->dpo) : json_null());
}

/* What is done for one controller: (b) the categories of processing, one
 * per purpose; (c) the transfers; the sub-processors it names. */
static json_t *served_json(const struct tenant_controller *tc)
{
	const struct policy *p = tc->policy;
	json_t *categories = json_array(), *transfers = json_array(), *processors = json_array();
	for (size_t i = 0; i < p->npurposes; i++) {
		struct activity a;
		activity_of(p, &p->purposes[i], &a);
		json_t *kinds = json_array(), *fields = json_array();
		for (size_t k = 0; k < a.nkinds; k++)
			json_array_append_new(kinds, json_string(a.kinds[k]->name));
		for (size_t k = 0; k < a.nfields; k++)
			json_array_append_new(fields, json_string(a.fields[k]->name));
		json_array_append_new(categories, json_pack("{s:s, s:s, s:s, s:o, s:o}", "purpose", a.purpose->name, "title",
		                                            policy_title_in(&a.purpose->title, "en", a.purpose->name),
		                                            "legal_basis", policy_basis_name(a.purpose->basis),
		                                            "record_kinds", kinds, "personal_data", fields));
	}
	for (size_t i = 0; i < p->nrecipients; i++) {
		const struct policy_recipient *r = &p->recipients[i];
		if (r->transfer != TRANSFER_NONE)
			json_array_append_new(transfers, json_pack("{s:s, s:s, s:s}", "recipient", r->name, "country", r->country,
			                                           "safeguard", policy_transfer_name(r->transfer)));
		if (r->role == RECIPIENT_PROCESSOR)
			json_array_append_new(processors, json_pack("{s:s, s:s, s:o}", "name", r->name, "country", r->country,
			                                            "contract", r->contract ? json_string(r->contract)
			                                                                    : json_null()));
	}
	json_t *j = json_pack("{s:s, s:s, s:o, s:o, s:o, s:o}", "tenant", tc->name, "policy_version", p->version,
	                      "controller", controller_json(&p->controller), "categories_of_processing", categories,
	                      "third_country_transfers", transfers, "sub_processors", processors);
	return j;
}

/* The register's operator is the processor; its own tenant is the first
 * (the one `privreg init` made). Its keys see every controller served;
 * any other tenant's keys see the entry of their own controller. */
static enum rc ropa_processor(struct http_request *rq)
{
	struct tenant_controller *v = NULL;
	size_t n = 0;
	enum rc rc = tenant_controllers(rq->ctx.store, &v, &n);
	if (rc)
		return rc;
	size_t operator = 0;
	for (size_t i = 1; i < n; i++)
		if (v[i].id < v[operator].id)
			operator = i;
	bool all = n && v[operator].id == rq->ctx.tenant->id;
	json_t *served = json_array();
	for (size_t i = 0; i < n; i++)
		if (all || v[i].id == rq->ctx.tenant->id)
			json_array_append_new(served, served_json(&v[i]));
	json_t *processor = n ? controller_json(&v[operator].policy->controller) : json_null();
	tenant_controllers_free(v, n);
	http_reply(rq, 200, json_pack("{s:s, s:o, s:b, s:o, s:s}", "view", "processor", "processor", processor,
	                              "all_controllers", all, "controllers", served, "security_measures",
	                              SECURITY_MEASURES));
	return RC_OK;
}

enum rc h_ropa(struct http_request *rq)
{
	const struct policy *p = rq->ctx.tenant->policy;
	const char *format = http_query(rq, "format"), *view = http_query(rq, "view");
	if (view && strcmp(view, "controller") && strcmp(view, "processor"))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "view is controller (Art. 30(1)) or processor (Art. 30(2))");
	if (view && !strcmp(view, "processor")) {
		if (format && strcmp(format, "json"))
			return err_set(&rq->eb, RC_UNPROCESSABLE, "view=processor is JSON only");
		return ropa_processor(rq);
	}
	if (!format || !strcmp(format, "json")) {
		json_t *acts = json_array();
		for (size_t i = 0; i < p->npurposes; i++) {
			struct activity a;
			activity_of(p, &p->purposes[i], &a);
			json_array_append_new(acts, activity_json(p, &a));
		}
		http_reply(rq, 200, json_pack("{s:s, s:o}", "policy_version", p->version, "activities", acts));
		return RC_OK;
	}
	if (!strcmp(format, "dpv")) {
		http_reply(rq, 200, ropa_dpv(p));
		return RC_OK;
	}
	if (strcmp(format, "csv"))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "format is json, csv or dpv");
	struct buf b;
	buf_init(&b, NOTICE_MAX);
	enum rc rc = ropa_csv(p, &b);
	if (rc) {
		buf_fini(&b);
		return rc;
	}
	rq->status = 200;
	rq->content_type = "text/csv; charset=utf-8";
	rq->text = buf_take(&b, NULL);
	return RC_OK;
}
