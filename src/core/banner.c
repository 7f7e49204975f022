/* banner: the cookie banner's choices (see banner.h). */
#include "core/banner.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/audit.h"

static void feed(crypto_generichash_state *h, const char *s)
{
	/* Each text with its terminating NUL: "ab","c" and "a","bc" differ. */
	const char *t = s ? s : "";
	crypto_generichash_update(h, (const unsigned char *)t, strlen(t) + 1);
}

static void feed_title(crypto_generichash_state *h, const struct policy_title *t)
{
	for (size_t i = 0; i < t->n; i++) {
		feed(h, t->v[i].lang);
		feed(h, t->v[i].text);
	}
	feed(h, "");
}

void banner_wording(const struct policy *p, char out[BANNER_WORDING_LEN + 1])
{
	crypto_generichash_state h;
	unsigned char d[BANNER_WORDING_LEN / 2];
	char num[48];
	crypto_generichash_init(&h, NULL, 0, sizeof d);
	feed(&h, "privreg banner 1");
	for (size_t i = 0; i < p->ncookies; i++) {
		const struct policy_cookie *k = &p->cookies[i];
		feed(&h, k->name);
		feed(&h, k->consent ? "consent" : "necessary");
		feed_title(&h, &k->title);
		for (size_t j = 0; j < k->nnames; j++)
			feed(&h, k->names[j]);
		snprintf(num, sizeof num, "%d %d %d", (int)k->life, k->lifetime.n, (int)k->lifetime.unit);
		feed(&h, num);
		feed_title(&h, &k->third_party);
		for (size_t j = 0; j < k->npurposes; j++)
			feed(&h, k->purposes[j]->name);
	}
	crypto_generichash_final(&h, d, sizeof d);
	sodium_bin2hex(out, BANNER_WORDING_LEN + 1, d, sizeof d);
}

bool banner_asks(const struct policy *p)
{
	for (size_t i = 0; i < p->ncookies; i++)
		if (p->cookies[i].consent)
			return true;
	return false;
}

static bool visitor_ok(const char *v)
{
	size_t n = strlen(v);
	if (n < BANNER_VISITOR_MIN || n > STORE_VISITOR_MAX)
		return false;
	return strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == n;
}

/* The index of the category in the choice, or -1. */
static int find(const struct banner_choice *in, const char *name)
{
	for (size_t i = 0; i < in->n; i++)
		if (in->v[i].category && !strcmp(in->v[i].category, name))
			return (int)i;
	return -1;
}

static enum rc check(const struct policy *p, const struct banner_choice *in, struct errbuf *eb)
{
	if (!in->visitor || !visitor_ok(in->visitor))
		return err_set(eb, RC_UNPROCESSABLE, "visitor must be %d to %d characters of A-Z a-z 0-9 - _",
		               BANNER_VISITOR_MIN, STORE_VISITOR_MAX);
	if (in->n > BANNER_CATEGORIES_MAX)
		return err_set(eb, RC_TOO_LARGE, "at most %d categories", BANNER_CATEGORIES_MAX);
	for (size_t i = 0; i < in->n; i++) {
		const struct policy_cookie *k = NULL;
		for (size_t j = 0; j < p->ncookies && !k; j++)
			if (in->v[i].category && !strcmp(p->cookies[j].name, in->v[i].category))
				k = &p->cookies[j];
		if (!k || !k->consent)
			return err_set(eb, RC_UNPROCESSABLE, "'%.64s' is not a cookie category that needs consent",
			               in->v[i].category ? in->v[i].category : "");
		if (find(in, k->name) != (int)i)
			return err_set(eb, RC_UNPROCESSABLE, "category '%s' is given twice", k->name);
	}
	for (size_t j = 0; j < p->ncookies; j++)
		if (p->cookies[j].consent && find(in, p->cookies[j].name) < 0)
			return err_set(eb, RC_UNPROCESSABLE, "category '%s' is missing: give every category that needs consent",
			               p->cookies[j].name);
	return RC_OK;
}

enum rc banner_record(const struct core_ctx *c, const struct banner_choice *in, struct errbuf *eb)
{
	const struct policy *p = c->tenant->policy;
	char wording[BANNER_WORDING_LEN + 1];
	enum rc rc = check(p, in, eb);
	if (rc)
		return rc;
	banner_wording(p, wording);
	if (!in->wording || strcmp(in->wording, wording))
		return err_set(eb, RC_CONFLICT, "the banner's wording has changed: show the current one (%s)", wording);
	struct store_banner_consent b = {.gpc = in->gpc, .at = core_now(c)};
	snprintf(b.visitor, sizeof b.visitor, "%s", in->visitor);
	snprintf(b.policy_version, sizeof b.policy_version, "%s", p->version);
	memcpy(b.wording, wording, sizeof b.wording);
	rc = store_begin(c->store);
	for (size_t i = 0; !rc && i < in->n; i++) {
		snprintf(b.category, sizeof b.category, "%s", in->v[i].category);
		b.accepted = in->v[i].accepted && !in->gpc; /* GPC is a refusal, whatever was clicked */
		rc = store_banner_consent_put(c->store, c->tenant->id, &b);
	}
	return core_end(c, rc);
}

enum rc banner_counts(const struct core_ctx *c, struct store_banner_count **out, size_t *n)
{
	return store_banner_counts(c->store, c->tenant->id, out, n);
}

enum rc banner_expire(const struct core_ctx *c, size_t batch, size_t *n)
{
	int64_t before = core_now(c) - (int64_t)BANNER_KEEP_DAYS * 86400;
	enum rc rc = RC_OK;
	*n = 0;
	while (!rc) {
		size_t k = 0;
		rc = store_begin(c->store);
		if (rc)
			break;
		rc = store_banner_expire(c->store, c->tenant->id, before, batch, &k);
		if (!rc && k) {
			char detail[48];
			snprintf(detail, sizeof detail, "choices=%zu", k);
			struct audit_event ev = {"retention.banner_expire", NULL, NULL, "ok", detail};
			rc = audit_append(c, &ev);
		}
		rc = core_end(c, rc);
		if (!rc)
			*n += k;
		if (rc || k < batch)
			break;
	}
	return rc;
}
