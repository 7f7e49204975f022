/*
 * attest_json: the attestation as signed JSON and as HTML (see
 * attest_json.h). The canonical text is made here and only here, so the
 * signer and the verifier cannot disagree about it.
 */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "api/attest_json.h"
#include "base/buf.h"
#include "base/timeutil.h"
#include "base/xalloc.h"

static json_t *time_json(int64_t t)
{
	char at[TIMEUTIL_DATETIME_LEN];
	if (!t)
		return json_null();
	timeutil_format_datetime(t, at);
	return json_string(at);
}

static json_t *row_json(const struct attest_row *r)
{
	json_t *o = json_object();
	for (size_t i = 0; i < r->n; i++) {
		const struct attest_fact *f = &r->v[i];
		json_t *v = f->kind == ATTEST_STR ? json_string(f->s) : f->kind == ATTEST_INT ? json_integer(f->i)
		          : f->kind == ATTEST_BOOL ? json_boolean(f->i) : time_json(f->i);
		json_object_set_new(o, f->name, v);
	}
	return o;
}

json_t *attest_json_body(const struct attestation *a)
{
	json_t *claims = json_array();
	for (int i = 0; i < ATTEST__COUNT; i++) {
		const struct attest_claim *c = &a->claims[i];
		json_t *ev = row_json(&c->facts);
		for (size_t l = 0; l < c->nlists; l++) {
			const struct attest_list *li = &c->lists[l];
			json_t *arr = json_array();
			for (size_t k = 0; k < li->n; k++)
				json_array_append_new(arr, row_json(&li->rows[k]));
			json_object_set_new(ev, li->name, arr);
			char count[96];
			snprintf(count, sizeof count, "%s_count", li->name);
			json_object_set_new(ev, count, json_integer(li->total));
		}
		json_array_append_new(claims, json_pack("{s:s, s:b, s:o}", "name", c->name, "holds", c->holds,
		                                        "evidence", ev));
	}
	return json_pack("{s:s, s:o, s:{s:o, s:o}, s:o}", "tenant", a->tenant, "as_of", time_json(a->as_of),
	                 "period", "from", time_json(a->from), "to", time_json(a->as_of), "claims", claims);
}

static char *canonical(const json_t *body)
{
	return json_dumps(body, JSON_COMPACT | JSON_SORT_KEYS);
}

char *attest_json_document(const struct attestation *a, const struct signkey *k)
{
	json_t *doc = attest_json_body(a);
	char *text = canonical(doc);
	unsigned char sig[SIGNKEY_SIG_LEN];
	signkey_sign(k, text, strlen(text), sig);
	free(text);
	char b64[sodium_base64_ENCODED_LEN(SIGNKEY_SIG_LEN, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, sig, sizeof sig, sodium_base64_VARIANT_ORIGINAL);
	json_object_set_new(doc, "signature",
	                    json_pack("{s:s, s:s, s:s}", "alg", "ed25519", "key_id", k->id, "value", b64));
	char *out = json_dumps(doc, JSON_INDENT(2) | JSON_SORT_KEYS);
	json_decref(doc);
	char *nl = xasprintf("%s\n", out);
	free(out);
	return nl;
}

enum rc attest_json_verify(const char *text, size_t len, const unsigned char pk[SIGNKEY_PUBLIC_LEN], json_t **doc,
                           struct errbuf *eb)
{
	if (doc)
		*doc = NULL;
	json_error_t jerr;
	json_t *d = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!d || !json_is_object(d))
		return json_decref(d), err_set(eb, RC_UNPROCESSABLE, "not a JSON object: %s (line %d)", jerr.text, jerr.line);
	const char *alg = NULL, *key_id = NULL, *value = NULL;
	json_t *sig = json_object_get(d, "signature");
	enum rc rc = RC_OK;
	if (json_unpack(sig, "{s:s, s:s, s:s}", "alg", &alg, "key_id", &key_id, "value", &value) ||
	    !json_is_string(json_object_get(d, "tenant")) || !json_is_array(json_object_get(d, "claims")))
		rc = err_set(eb, RC_UNPROCESSABLE, "not an attestation: it needs tenant, claims and signature "
		             "{alg, key_id, value}");
	unsigned char raw[SIGNKEY_SIG_LEN];
	size_t rawlen = 0;
	char id[SIGNKEY_ID_LEN];
	signkey_id(pk, id);
	if (!rc && strcmp(alg, "ed25519"))
		rc = err_set(eb, RC_UNPROCESSABLE, "signature algorithm '%.32s' is not ed25519", alg);
	if (!rc && (sodium_base642bin(raw, sizeof raw, value, strlen(value), NULL, &rawlen, NULL,
	                              sodium_base64_VARIANT_ORIGINAL) || rawlen != sizeof raw))
		rc = err_set(eb, RC_CRYPTO, "the signature is not 64 bytes of base64");
	if (!rc && strcmp(key_id, id))
		rc = err_set(eb, RC_CRYPTO, "signed with key %.32s, not with this key (%s)", key_id, id);
	if (!rc) {
		json_t *body = json_deep_copy(d);
		json_object_del(body, "signature");
		char *canon = canonical(body);
		if (!signkey_verify(pk, canon, strlen(canon), raw))
			rc = err_set(eb, RC_CRYPTO, "the signature does not match: the document was altered");
		free(canon);
		json_decref(body);
	}
	if (doc && (!rc || rc == RC_CRYPTO))
		*doc = d;
	else
		json_decref(d);
	return rc;
}

char *attest_json_public_key(const struct signkey *k)
{
	char b64[sodium_base64_ENCODED_LEN(SIGNKEY_PUBLIC_LEN, sodium_base64_VARIANT_ORIGINAL)];
	sodium_bin2base64(b64, sizeof b64, k->pk, sizeof k->pk, sodium_base64_VARIANT_ORIGINAL);
	json_t *o = json_pack("{s:s, s:s, s:s}", "alg", "ed25519", "key_id", k->id, "public_key", b64);
	char *s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(o);
	return s;
}

/* ---- HTML ---- */

/* The page being written: the first append that does not fit stops it
 * (no page rather than a cut one). */
struct page {
	struct buf b;
	enum rc rc;
};

static void put(struct page *p, const char *s)
{
	if (!p->rc)
		p->rc = buf_puts(&p->b, s);
}

static void esc(struct page *p, const char *s)
{
	for (; *s && !p->rc; s++) {
		const char *rep = *s == '&' ? "&amp;" : *s == '<' ? "&lt;" : *s == '>' ? "&gt;" : *s == '"' ? "&quot;" : NULL;
		p->rc = rep ? buf_puts(&p->b, rep) : buf_append(&p->b, s, 1);
	}
}

static void value_html(struct page *b, const json_t *v)
{
	if (json_is_string(v)) {
		esc(b, json_string_value(v));
	} else if (json_is_null(v)) {
		put(b, "&mdash;");
	} else {
		char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
		esc(b, s ? s : "");
		free(s);
	}
}

static void table_html(struct page *b, const json_t *arr)
{
	const json_t *first = json_array_get(arr, 0);
	const char *key;
	const json_t *v;
	size_t i;
	put(b, "<table><thead><tr>");
	json_object_foreach((json_t *)first, key, v) {
		put(b, "<th>");
		esc(b, key);
		put(b, "</th>");
	}
	put(b, "</tr></thead><tbody>");
	const json_t *r;
	json_array_foreach(arr, i, r) {
		put(b, "<tr>");
		json_object_foreach((json_t *)first, key, v) {
			put(b, "<td>");
			value_html(b, json_object_get(r, key));
			put(b, "</td>");
		}
		put(b, "</tr>");
	}
	put(b, "</tbody></table>");
}

#define ATTEST_STYLE \
	"body{font:15px/1.5 system-ui,sans-serif;max-width:60em;margin:2em auto;padding:0 1em;color:#111}" \
	"table{border-collapse:collapse;width:100%;margin:.5em 0 1em}th,td{border:1px solid #888;padding:.3em;" \
	"text-align:left;vertical-align:top;font-size:.9em;word-break:break-all}th{background:#eee}" \
	".holds{color:#fff;background:#17692b;padding:0 .4em}.fails{color:#fff;background:#a4161a;padding:0 .4em}" \
	"code{font-size:.85em;word-break:break-all}" \
	"@media print{body{max-width:none;margin:0;font-size:10pt}section{break-inside:avoid}" \
	".holds,.fails{-webkit-print-color-adjust:exact;print-color-adjust:exact}}"

char *attest_json_html(const json_t *doc)
{
	struct page pg = {.rc = RC_OK}, *b = &pg;
	buf_init(&pg.b, ATTEST_JSON_MAX);
	const char *tenant = json_string_value(json_object_get(doc, "tenant"));
	const json_t *period = json_object_get(doc, "period");
	put(b, "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Attestation of ");
	esc(b, tenant ? tenant : "");
	put(b, "</title><style>" ATTEST_STYLE "</style></head><body><h1>Attestation of the register of ");
	esc(b, tenant ? tenant : "");
	put(b, "</h1><p>As of ");
	value_html(b, json_object_get(doc, "as_of"));
	put(b, ", for the period from ");
	value_html(b, json_object_get(period, "from"));
	put(b, " to ");
	value_html(b, json_object_get(period, "to"));
	put(b, ".</p>");
	size_t i;
	const json_t *c;
	json_array_foreach(json_object_get(doc, "claims"), i, c) {
		bool holds = json_is_true(json_object_get(c, "holds"));
		put(b, "<section><h2>");
		value_html(b, json_object_get(c, "name"));
		put(b, holds ? " <span class=\"holds\">holds</span>" : " <span class=\"fails\">does not hold</span>");
		put(b, "</h2><table><tbody>");
		const char *key;
		const json_t *v;
		const json_t *ev = json_object_get(c, "evidence");
		json_object_foreach((json_t *)ev, key, v) {
			if (json_is_array(v))
				continue;
			put(b, "<tr><th>");
			esc(b, key);
			put(b, "</th><td>");
			value_html(b, v);
			put(b, "</td></tr>");
		}
		put(b, "</tbody></table>");
		json_object_foreach((json_t *)ev, key, v) {
			if (!json_is_array(v) || !json_array_size(v))
				continue;
			put(b, "<h3>");
			esc(b, key);
			put(b, "</h3>");
			table_html(b, v);
		}
		put(b, "</section>");
	}
	const json_t *sig = json_object_get(doc, "signature");
	put(b, "<p>Signed with Ed25519 key <code>");
	value_html(b, json_object_get(sig, "key_id"));
	put(b, "</code>: <code>");
	value_html(b, json_object_get(sig, "value"));
	put(b, "</code>. The JSON document is what is signed; check it with <code>privreg attest verify</code>."
	        "</p></body></html>\n");
	if (pg.rc) {
		buf_fini(&pg.b);
		return NULL;
	}
	return buf_take(&pg.b, NULL);
}
