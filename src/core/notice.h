/*
 * notice: the privacy notice (GDPR Art. 13/14) rendered from the policy, as
 * HTML or Markdown, in one of the policy's languages: controller and DPO,
 * each data category with its purposes, legal bases and retention in words,
 * recipients with countries and transfer bases, the rights and how to use
 * them, the answer deadline, the supervisory authority, cookies, the
 * version. Beside those, what Art. 13/14 asks and the policy says in its
 * own texts: legitimate interests, whether data must be given, sources,
 * safeguards of transfers, automated decisions; a text the policy leaves
 * out is left out, never guessed. The fixed texts exist in et, lv, en, fi and ru; the policy's own
 * titles come in its languages. What the notice says is what privreg does:
 * both read the same policy.
 */
#ifndef PRIVREG_NOTICE_H
#define PRIVREG_NOTICE_H

#include <stdbool.h>

#include "base/buf.h"
#include "core/policy.h"

enum notice_format { NOTICE_HTML, NOTICE_MARKDOWN };

/* The HTML notice's one stylesheet, in its <style>, and that text's hash,
 * which the page's Content-Security-Policy allows instead of any inline
 * style (tests recompute it: change both together). */
#define NOTICE_STYLE                                                                                        \
	"body{font:16px/1.5 system-ui,sans-serif;max-width:50em;margin:2em auto;padding:0 1em;color:#111;background:#fff}table{border-collapse:collapse;width:100%;margin:1em 0}th,td{border:1px solid #888;padding:.4em;text-align:left;vertical-align:top}th{background:#eee}h2{margin-top:2em}"
#define NOTICE_STYLE_HASH "sha256-IyzLeKqm+tYYTkAph5UeYmPTzjhLBQaeP2ch2OjDQ9U="

/* Renders into out (appends). lang must be one of the policy's languages
 * (RC_UNPROCESSABLE otherwise, with the reason in eb). */
enum rc notice_render(const struct policy *p, const char *lang, enum notice_format f, struct buf *out,
                      struct errbuf *eb) WUR;
/* How a duration is said: NOTICE_SPAN as a length of time ("3 years", the
 * object of "we keep it"), NOTICE_WITHIN after "within" (et "1 kuu
 * jooksul", fi "1 kuukauden kuluessa", lv "1 mēneša laikā", ru "в течение
 * 1 месяца"), NOTICE_BY after "extend by up to" (et "kuni 2 kuu võrra", fi
 * "enintään 2 kuukaudella", lv "līdz 2 mēnešiem", ru "до 2 месяцев"). */
enum notice_case { NOTICE_SPAN, NOTICE_WITHIN, NOTICE_BY };

/* d in words in lang ("1 kuukauden"), each number with the form of its unit
 * that the language's grammar asks for (Russian and Latvian agree with the
 * last digits: 21 день, 22 дня, 25 дней; 21 diena, 22 dienas). */
void notice_duration(struct duration d, const char *lang, enum notice_case c, char *out, size_t size);
/* Kind r's keep rule in words, "7 years after fulfilment", in lang (en for a
 * language without texts); its event by its title when the policy gives one. */
void notice_keep_words(const struct policy_record *r, const char *lang, char *out, size_t size);

#endif
