/*
 * banner: the cookie banner's choices (docs/banner.md). A company's web site
 * embeds /banner/TENANT.js; a visitor accepts, refuses or picks the policy's
 * cookie categories that need consent, and the choice is kept under a
 * random visitor id the script made (a first-party cookie of the site),
 * with its evidence: the policy version, the hash of the banner's wording
 * the visitor saw (banner_wording), whether the browser sent Global Privacy
 * Control, and the time. Never an address, a user agent or anything else
 * that names a person, so nothing here is personal data and nothing goes to
 * the audit log per choice.
 *
 * Rules: a Global Privacy Control signal refuses every category that needs
 * consent, whatever was clicked; categories that need no consent are not
 * recorded (there is nothing to choose); a choice made on another wording
 * than the current one is refused (RC_CONFLICT), so the script shows the
 * new wording. A visitor's choice is kept BANNER_KEEP_DAYS from when it was
 * made; the retention sweep deletes it after that.
 */
#ifndef PRIVREG_BANNER_H
#define PRIVREG_BANNER_H

#include <stdbool.h>

#include "core/ctx.h"
#include "core/policy.h"
#include "store/store.h"

#define BANNER_KEEP_DAYS 395            /* 13 months: the choice, and the visitor's cookie */
#define BANNER_VISITOR_MIN 16           /* characters of a visitor id (base64url), at least */
#define BANNER_CATEGORIES_MAX 64
#define BANNER_WORDING_LEN 16           /* hex characters */

/* The hash of the policy's cookie section as the banner shows it (names,
 * titles in every language, consent, names, durations, third parties), in
 * hex: equal while the wording is equal, another as soon as it changes. */
void banner_wording(const struct policy *p, char out[BANNER_WORDING_LEN + 1]);

/* Whether the policy has at least one category that needs consent (else
 * the banner has nothing to ask). */
bool banner_asks(const struct policy *p);

struct banner_choice {
	const char *visitor;        /* [A-Za-z0-9_-], BANNER_VISITOR_MIN..STORE_VISITOR_MAX */
	const char *wording;        /* the banner_wording the visitor saw */
	bool gpc;                   /* Sec-GPC: 1, or navigator.globalPrivacyControl */
	size_t n;
	struct {
		const char *category;
		bool accepted;
	} v[BANNER_CATEGORIES_MAX];
};

/* Keeps the choice: every category of the policy that needs consent must
 * be there, once (RC_UNPROCESSABLE otherwise, named in eb), accepted only
 * without GPC. RC_CONFLICT when the wording is not the current one. */
enum rc banner_record(const struct core_ctx *c, const struct banner_choice *in, struct errbuf *eb) WUR;

/* The counts by policy version and category (free the array). */
enum rc banner_counts(const struct core_ctx *c, struct store_banner_count **out, size_t *n) WUR;

/* Deletes choices older than BANNER_KEEP_DAYS, in batches of `batch`, each
 * batch in its transaction with one audit entry (counts only); *n total. */
enum rc banner_expire(const struct core_ctx *c, size_t batch, size_t *n) WUR;

#endif
