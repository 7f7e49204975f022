/*
 * notice: the privacy notice (GDPR Art. 13/14) rendered from the policy, as
 * HTML or Markdown, in one of the policy's languages: controller and DPO,
 * each data category with its purposes, legal bases and retention in words,
 * recipients with countries and transfer bases, the rights and how to use
 * them, the answer deadline, the supervisory authority, cookies, the
 * version. The fixed texts exist in et, lv, en, fi and ru; the policy's own
 * titles come in its languages. What the notice says is what privreg does:
 * both read the same policy.
 */
#ifndef PRIVREG_NOTICE_H
#define PRIVREG_NOTICE_H

#include <stdbool.h>

#include "base/buf.h"
#include "core/policy.h"

enum notice_format { NOTICE_HTML, NOTICE_MARKDOWN };

/* Renders into out (appends). lang must be one of the policy's languages
 * (RC_UNPROCESSABLE otherwise, with the reason in eb). */
enum rc notice_render(const struct policy *p, const char *lang, enum notice_format f, struct buf *out,
                      struct errbuf *eb) WUR;
/* Kind r's keep rule in words, "7 years after fulfilment", in lang (en for a
 * language without texts); its event by its title when the policy gives one. */
void notice_keep_words(const struct policy_record *r, const char *lang, char *out, size_t size);

#endif
