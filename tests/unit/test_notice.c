/*
 * The notice's numbers in words (issue #10, item 9): every unit agrees with
 * its number in the case its sentence needs. Russian and Latvian for 1, 2,
 * 5, 11, 21, 22 and 25 of every unit in each case (the last digits decide:
 * 21 день but 11 дней, 22 дня but 12 дней); Finnish and Estonian in the
 * cases the notice uses ("1 kuukauden kuluessa", "kuni 2 kuu võrra").
 * Then the sentences themselves, rendered from a policy in all five
 * languages.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/notice.h"
#include "helpers.h"

struct want {
	const char *lang;
	enum notice_case c;
	struct duration d;
	const char *words;
};

static const struct want table[] = {
	{"ru", NOTICE_SPAN, {1, TU_DAYS}, "1 день"},
	{"ru", NOTICE_SPAN, {2, TU_DAYS}, "2 дня"},
	{"ru", NOTICE_SPAN, {5, TU_DAYS}, "5 дней"},
	{"ru", NOTICE_SPAN, {11, TU_DAYS}, "11 дней"},
	{"ru", NOTICE_SPAN, {21, TU_DAYS}, "21 день"},
	{"ru", NOTICE_SPAN, {22, TU_DAYS}, "22 дня"},
	{"ru", NOTICE_SPAN, {25, TU_DAYS}, "25 дней"},
	{"ru", NOTICE_SPAN, {1, TU_WEEKS}, "1 неделю"},
	{"ru", NOTICE_SPAN, {2, TU_WEEKS}, "2 недели"},
	{"ru", NOTICE_SPAN, {5, TU_WEEKS}, "5 недель"},
	{"ru", NOTICE_SPAN, {11, TU_WEEKS}, "11 недель"},
	{"ru", NOTICE_SPAN, {21, TU_WEEKS}, "21 неделю"},
	{"ru", NOTICE_SPAN, {22, TU_WEEKS}, "22 недели"},
	{"ru", NOTICE_SPAN, {25, TU_WEEKS}, "25 недель"},
	{"ru", NOTICE_SPAN, {1, TU_MONTHS}, "1 месяц"},
	{"ru", NOTICE_SPAN, {2, TU_MONTHS}, "2 месяца"},
	{"ru", NOTICE_SPAN, {5, TU_MONTHS}, "5 месяцев"},
	{"ru", NOTICE_SPAN, {11, TU_MONTHS}, "11 месяцев"},
	{"ru", NOTICE_SPAN, {21, TU_MONTHS}, "21 месяц"},
	{"ru", NOTICE_SPAN, {22, TU_MONTHS}, "22 месяца"},
	{"ru", NOTICE_SPAN, {25, TU_MONTHS}, "25 месяцев"},
	{"ru", NOTICE_SPAN, {1, TU_YEARS}, "1 год"},
	{"ru", NOTICE_SPAN, {2, TU_YEARS}, "2 года"},
	{"ru", NOTICE_SPAN, {5, TU_YEARS}, "5 лет"},
	{"ru", NOTICE_SPAN, {11, TU_YEARS}, "11 лет"},
	{"ru", NOTICE_SPAN, {21, TU_YEARS}, "21 год"},
	{"ru", NOTICE_SPAN, {22, TU_YEARS}, "22 года"},
	{"ru", NOTICE_SPAN, {25, TU_YEARS}, "25 лет"},
	{"ru", NOTICE_WITHIN, {1, TU_DAYS}, "1 дня"},
	{"ru", NOTICE_WITHIN, {2, TU_DAYS}, "2 дней"},
	{"ru", NOTICE_WITHIN, {5, TU_DAYS}, "5 дней"},
	{"ru", NOTICE_WITHIN, {11, TU_DAYS}, "11 дней"},
	{"ru", NOTICE_WITHIN, {21, TU_DAYS}, "21 дня"},
	{"ru", NOTICE_WITHIN, {22, TU_DAYS}, "22 дней"},
	{"ru", NOTICE_WITHIN, {25, TU_DAYS}, "25 дней"},
	{"ru", NOTICE_WITHIN, {1, TU_WEEKS}, "1 недели"},
	{"ru", NOTICE_WITHIN, {2, TU_WEEKS}, "2 недель"},
	{"ru", NOTICE_WITHIN, {5, TU_WEEKS}, "5 недель"},
	{"ru", NOTICE_WITHIN, {11, TU_WEEKS}, "11 недель"},
	{"ru", NOTICE_WITHIN, {21, TU_WEEKS}, "21 недели"},
	{"ru", NOTICE_WITHIN, {22, TU_WEEKS}, "22 недель"},
	{"ru", NOTICE_WITHIN, {25, TU_WEEKS}, "25 недель"},
	{"ru", NOTICE_WITHIN, {1, TU_MONTHS}, "1 месяца"},
	{"ru", NOTICE_WITHIN, {2, TU_MONTHS}, "2 месяцев"},
	{"ru", NOTICE_WITHIN, {5, TU_MONTHS}, "5 месяцев"},
	{"ru", NOTICE_WITHIN, {11, TU_MONTHS}, "11 месяцев"},
	{"ru", NOTICE_WITHIN, {21, TU_MONTHS}, "21 месяца"},
	{"ru", NOTICE_WITHIN, {22, TU_MONTHS}, "22 месяцев"},
	{"ru", NOTICE_WITHIN, {25, TU_MONTHS}, "25 месяцев"},
	{"ru", NOTICE_WITHIN, {1, TU_YEARS}, "1 года"},
	{"ru", NOTICE_WITHIN, {2, TU_YEARS}, "2 лет"},
	{"ru", NOTICE_WITHIN, {5, TU_YEARS}, "5 лет"},
	{"ru", NOTICE_WITHIN, {11, TU_YEARS}, "11 лет"},
	{"ru", NOTICE_WITHIN, {21, TU_YEARS}, "21 года"},
	{"ru", NOTICE_WITHIN, {22, TU_YEARS}, "22 лет"},
	{"ru", NOTICE_WITHIN, {25, TU_YEARS}, "25 лет"},
	{"ru", NOTICE_BY, {1, TU_DAYS}, "1 дня"},
	{"ru", NOTICE_BY, {2, TU_DAYS}, "2 дней"},
	{"ru", NOTICE_BY, {5, TU_DAYS}, "5 дней"},
	{"ru", NOTICE_BY, {11, TU_DAYS}, "11 дней"},
	{"ru", NOTICE_BY, {21, TU_DAYS}, "21 дня"},
	{"ru", NOTICE_BY, {22, TU_DAYS}, "22 дней"},
	{"ru", NOTICE_BY, {25, TU_DAYS}, "25 дней"},
	{"ru", NOTICE_BY, {1, TU_WEEKS}, "1 недели"},
	{"ru", NOTICE_BY, {2, TU_WEEKS}, "2 недель"},
	{"ru", NOTICE_BY, {5, TU_WEEKS}, "5 недель"},
	{"ru", NOTICE_BY, {11, TU_WEEKS}, "11 недель"},
	{"ru", NOTICE_BY, {21, TU_WEEKS}, "21 недели"},
	{"ru", NOTICE_BY, {22, TU_WEEKS}, "22 недель"},
	{"ru", NOTICE_BY, {25, TU_WEEKS}, "25 недель"},
	{"ru", NOTICE_BY, {1, TU_MONTHS}, "1 месяца"},
	{"ru", NOTICE_BY, {2, TU_MONTHS}, "2 месяцев"},
	{"ru", NOTICE_BY, {5, TU_MONTHS}, "5 месяцев"},
	{"ru", NOTICE_BY, {11, TU_MONTHS}, "11 месяцев"},
	{"ru", NOTICE_BY, {21, TU_MONTHS}, "21 месяца"},
	{"ru", NOTICE_BY, {22, TU_MONTHS}, "22 месяцев"},
	{"ru", NOTICE_BY, {25, TU_MONTHS}, "25 месяцев"},
	{"ru", NOTICE_BY, {1, TU_YEARS}, "1 года"},
	{"ru", NOTICE_BY, {2, TU_YEARS}, "2 лет"},
	{"ru", NOTICE_BY, {5, TU_YEARS}, "5 лет"},
	{"ru", NOTICE_BY, {11, TU_YEARS}, "11 лет"},
	{"ru", NOTICE_BY, {21, TU_YEARS}, "21 года"},
	{"ru", NOTICE_BY, {22, TU_YEARS}, "22 лет"},
	{"ru", NOTICE_BY, {25, TU_YEARS}, "25 лет"},
	{"lv", NOTICE_SPAN, {1, TU_DAYS}, "1 diena"},
	{"lv", NOTICE_SPAN, {2, TU_DAYS}, "2 dienas"},
	{"lv", NOTICE_SPAN, {5, TU_DAYS}, "5 dienas"},
	{"lv", NOTICE_SPAN, {11, TU_DAYS}, "11 dienas"},
	{"lv", NOTICE_SPAN, {21, TU_DAYS}, "21 diena"},
	{"lv", NOTICE_SPAN, {22, TU_DAYS}, "22 dienas"},
	{"lv", NOTICE_SPAN, {25, TU_DAYS}, "25 dienas"},
	{"lv", NOTICE_SPAN, {1, TU_WEEKS}, "1 nedēļa"},
	{"lv", NOTICE_SPAN, {2, TU_WEEKS}, "2 nedēļas"},
	{"lv", NOTICE_SPAN, {5, TU_WEEKS}, "5 nedēļas"},
	{"lv", NOTICE_SPAN, {11, TU_WEEKS}, "11 nedēļas"},
	{"lv", NOTICE_SPAN, {21, TU_WEEKS}, "21 nedēļa"},
	{"lv", NOTICE_SPAN, {22, TU_WEEKS}, "22 nedēļas"},
	{"lv", NOTICE_SPAN, {25, TU_WEEKS}, "25 nedēļas"},
	{"lv", NOTICE_SPAN, {1, TU_MONTHS}, "1 mēnesis"},
	{"lv", NOTICE_SPAN, {2, TU_MONTHS}, "2 mēneši"},
	{"lv", NOTICE_SPAN, {5, TU_MONTHS}, "5 mēneši"},
	{"lv", NOTICE_SPAN, {11, TU_MONTHS}, "11 mēneši"},
	{"lv", NOTICE_SPAN, {21, TU_MONTHS}, "21 mēnesis"},
	{"lv", NOTICE_SPAN, {22, TU_MONTHS}, "22 mēneši"},
	{"lv", NOTICE_SPAN, {25, TU_MONTHS}, "25 mēneši"},
	{"lv", NOTICE_SPAN, {1, TU_YEARS}, "1 gads"},
	{"lv", NOTICE_SPAN, {2, TU_YEARS}, "2 gadi"},
	{"lv", NOTICE_SPAN, {5, TU_YEARS}, "5 gadi"},
	{"lv", NOTICE_SPAN, {11, TU_YEARS}, "11 gadi"},
	{"lv", NOTICE_SPAN, {21, TU_YEARS}, "21 gads"},
	{"lv", NOTICE_SPAN, {22, TU_YEARS}, "22 gadi"},
	{"lv", NOTICE_SPAN, {25, TU_YEARS}, "25 gadi"},
	{"lv", NOTICE_WITHIN, {1, TU_DAYS}, "1 dienas"},
	{"lv", NOTICE_WITHIN, {2, TU_DAYS}, "2 dienu"},
	{"lv", NOTICE_WITHIN, {5, TU_DAYS}, "5 dienu"},
	{"lv", NOTICE_WITHIN, {11, TU_DAYS}, "11 dienu"},
	{"lv", NOTICE_WITHIN, {21, TU_DAYS}, "21 dienas"},
	{"lv", NOTICE_WITHIN, {22, TU_DAYS}, "22 dienu"},
	{"lv", NOTICE_WITHIN, {25, TU_DAYS}, "25 dienu"},
	{"lv", NOTICE_WITHIN, {1, TU_WEEKS}, "1 nedēļas"},
	{"lv", NOTICE_WITHIN, {2, TU_WEEKS}, "2 nedēļu"},
	{"lv", NOTICE_WITHIN, {5, TU_WEEKS}, "5 nedēļu"},
	{"lv", NOTICE_WITHIN, {11, TU_WEEKS}, "11 nedēļu"},
	{"lv", NOTICE_WITHIN, {21, TU_WEEKS}, "21 nedēļas"},
	{"lv", NOTICE_WITHIN, {22, TU_WEEKS}, "22 nedēļu"},
	{"lv", NOTICE_WITHIN, {25, TU_WEEKS}, "25 nedēļu"},
	{"lv", NOTICE_WITHIN, {1, TU_MONTHS}, "1 mēneša"},
	{"lv", NOTICE_WITHIN, {2, TU_MONTHS}, "2 mēnešu"},
	{"lv", NOTICE_WITHIN, {5, TU_MONTHS}, "5 mēnešu"},
	{"lv", NOTICE_WITHIN, {11, TU_MONTHS}, "11 mēnešu"},
	{"lv", NOTICE_WITHIN, {21, TU_MONTHS}, "21 mēneša"},
	{"lv", NOTICE_WITHIN, {22, TU_MONTHS}, "22 mēnešu"},
	{"lv", NOTICE_WITHIN, {25, TU_MONTHS}, "25 mēnešu"},
	{"lv", NOTICE_WITHIN, {1, TU_YEARS}, "1 gada"},
	{"lv", NOTICE_WITHIN, {2, TU_YEARS}, "2 gadu"},
	{"lv", NOTICE_WITHIN, {5, TU_YEARS}, "5 gadu"},
	{"lv", NOTICE_WITHIN, {11, TU_YEARS}, "11 gadu"},
	{"lv", NOTICE_WITHIN, {21, TU_YEARS}, "21 gada"},
	{"lv", NOTICE_WITHIN, {22, TU_YEARS}, "22 gadu"},
	{"lv", NOTICE_WITHIN, {25, TU_YEARS}, "25 gadu"},
	{"lv", NOTICE_BY, {1, TU_DAYS}, "1 dienai"},
	{"lv", NOTICE_BY, {2, TU_DAYS}, "2 dienām"},
	{"lv", NOTICE_BY, {5, TU_DAYS}, "5 dienām"},
	{"lv", NOTICE_BY, {11, TU_DAYS}, "11 dienām"},
	{"lv", NOTICE_BY, {21, TU_DAYS}, "21 dienai"},
	{"lv", NOTICE_BY, {22, TU_DAYS}, "22 dienām"},
	{"lv", NOTICE_BY, {25, TU_DAYS}, "25 dienām"},
	{"lv", NOTICE_BY, {1, TU_WEEKS}, "1 nedēļai"},
	{"lv", NOTICE_BY, {2, TU_WEEKS}, "2 nedēļām"},
	{"lv", NOTICE_BY, {5, TU_WEEKS}, "5 nedēļām"},
	{"lv", NOTICE_BY, {11, TU_WEEKS}, "11 nedēļām"},
	{"lv", NOTICE_BY, {21, TU_WEEKS}, "21 nedēļai"},
	{"lv", NOTICE_BY, {22, TU_WEEKS}, "22 nedēļām"},
	{"lv", NOTICE_BY, {25, TU_WEEKS}, "25 nedēļām"},
	{"lv", NOTICE_BY, {1, TU_MONTHS}, "1 mēnesim"},
	{"lv", NOTICE_BY, {2, TU_MONTHS}, "2 mēnešiem"},
	{"lv", NOTICE_BY, {5, TU_MONTHS}, "5 mēnešiem"},
	{"lv", NOTICE_BY, {11, TU_MONTHS}, "11 mēnešiem"},
	{"lv", NOTICE_BY, {21, TU_MONTHS}, "21 mēnesim"},
	{"lv", NOTICE_BY, {22, TU_MONTHS}, "22 mēnešiem"},
	{"lv", NOTICE_BY, {25, TU_MONTHS}, "25 mēnešiem"},
	{"lv", NOTICE_BY, {1, TU_YEARS}, "1 gadam"},
	{"lv", NOTICE_BY, {2, TU_YEARS}, "2 gadiem"},
	{"lv", NOTICE_BY, {5, TU_YEARS}, "5 gadiem"},
	{"lv", NOTICE_BY, {11, TU_YEARS}, "11 gadiem"},
	{"lv", NOTICE_BY, {21, TU_YEARS}, "21 gadam"},
	{"lv", NOTICE_BY, {22, TU_YEARS}, "22 gadiem"},
	{"lv", NOTICE_BY, {25, TU_YEARS}, "25 gadiem"},
	{"fi", NOTICE_WITHIN, {1, TU_MONTHS}, "1 kuukauden"},
	{"fi", NOTICE_WITHIN, {2, TU_MONTHS}, "2 kuukauden"},
	{"fi", NOTICE_WITHIN, {7, TU_DAYS}, "7 päivän"},
	{"fi", NOTICE_WITHIN, {30, TU_DAYS}, "30 päivän"},
	{"fi", NOTICE_WITHIN, {1, TU_WEEKS}, "1 viikon"},
	{"fi", NOTICE_WITHIN, {1, TU_YEARS}, "1 vuoden"},
	{"fi", NOTICE_BY, {2, TU_MONTHS}, "2 kuukaudella"},
	{"fi", NOTICE_BY, {1, TU_MONTHS}, "1 kuukaudella"},
	{"fi", NOTICE_SPAN, {1, TU_YEARS}, "1 vuosi"},
	{"fi", NOTICE_SPAN, {2, TU_YEARS}, "2 vuotta"},
	{"fi", NOTICE_SPAN, {30, TU_DAYS}, "30 päivää"},
	{"fi", NOTICE_SPAN, {13, TU_MONTHS}, "13 kuukautta"},
	{"et", NOTICE_WITHIN, {1, TU_MONTHS}, "1 kuu"},
	{"et", NOTICE_WITHIN, {7, TU_DAYS}, "7 päeva"},
	{"et", NOTICE_WITHIN, {2, TU_WEEKS}, "2 nädala"},
	{"et", NOTICE_WITHIN, {1, TU_YEARS}, "1 aasta"},
	{"et", NOTICE_BY, {2, TU_MONTHS}, "2 kuu"},
	{"et", NOTICE_BY, {1, TU_MONTHS}, "1 kuu"},
	{"et", NOTICE_SPAN, {1, TU_YEARS}, "1 aasta"},
	{"et", NOTICE_SPAN, {3, TU_YEARS}, "3 aastat"},
	{"et", NOTICE_SPAN, {6, TU_MONTHS}, "6 kuud"},
	{"et", NOTICE_SPAN, {1, TU_MONTHS}, "1 kuu"},
	{"et", NOTICE_SPAN, {2, TU_WEEKS}, "2 nädalat"},
	{"et", NOTICE_SPAN, {1, TU_DAYS}, "1 päev"},
	{"en", NOTICE_WITHIN, {1, TU_MONTHS}, "1 month"},
	{"en", NOTICE_BY, {2, TU_MONTHS}, "2 months"},
	{"en", NOTICE_SPAN, {21, TU_DAYS}, "21 days"},
	{"en", NOTICE_SPAN, {1, TU_YEARS}, "1 year"},
	{"xx", NOTICE_SPAN, {2, TU_YEARS}, "2 years"},
};

static void test_durations(void **state)
{
	(void)state;
	size_t bad = 0;
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
		char out[64];
		notice_duration(table[i].d, table[i].lang, table[i].c, out, sizeof out);
		if (strcmp(out, table[i].words)) {
			print_error("%s case %d: got '%s', want '%s'\n", table[i].lang, (int)table[i].c, out, table[i].words);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* The sentences, as a reader sees them: the example policy in all five
 * languages, its deadlines in the right case. */
static void test_sentences(void **state)
{
	(void)state;
	static const struct {
		const char *lang, *within, *extend;
	} want[] = {
		{"et", "Vastame 1 kuu jooksul.", "pikendada kuni 2 kuu võrra"},
		{"lv", "Mēs atbildam 1 mēneša laikā.", "pagarināt vēl līdz 2 mēnešiem"},
		{"fi", "Vastaamme 1 kuukauden kuluessa.", "enintään 2 kuukaudella"},
		{"ru", "Мы отвечаем в течение 1 месяца.", "продлён ещё до 2 месяцев"},
		{"en", "We answer within 1 month.", "by up to 2 months"},
	};
	static const char policy[] =
		"version: '1'\n"
		"controller: {name: C, email: c@example.ee, authority: {name: A, url: 'https://a.example'}}\n"
		"languages: [et, lv, fi, ru, en]\n"
		"fields: {email: {type: email}}\n"
		"purposes: {p: {basis: contract, title: {et: P, lv: P, fi: P, ru: P, en: P}}}\n"
		"records: {r: {fields: [email], purposes: [p], keep: 21 days after created}}\n";
	struct policy *p = NULL;
	assert_int_equal(policy_parse(policy, sizeof policy - 1, &p, NULL), RC_OK);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		struct buf b;
		struct errbuf eb = {""};
		buf_init(&b, 1 << 20);
		assert_int_equal(notice_render(p, want[i].lang, NOTICE_MARKDOWN, &b, &eb), RC_OK);
		assert_non_null(b.data);
		if (!strstr(b.data, want[i].within) || !strstr(b.data, want[i].extend))
			print_error("%s: %s\n", want[i].lang, b.data);
		assert_non_null(strstr(b.data, want[i].within));
		assert_non_null(strstr(b.data, want[i].extend));
		buf_fini(&b);
	}
	policy_free(p);
}

/* A keep rule counted from the end of a financial year says so (jerone's
 * accounting entries: "6 years after end of financial year of fulfilled"). */
static void test_financial_year(void **state)
{
	(void)state;
	static const struct {
		const char *lang, *want;
	} want[] = {
		{"en", "(counted from the end of that financial year)"},
		{"et", "(arvestatuna selle majandusaasta lõpust)"},
		{"lv", "(skaitot no attiecīgā finanšu gada beigām)"},
		{"fi", "(kyseisen tilikauden päättymisestä lukien)"},
		{"ru", "(считая с конца соответствующего финансового года)"},
	};
	static const char policy[] =
		"version: '1'\n"
		"controller: {name: C, email: c@example.ee, financial_year_end: 06-30,\n"
		"  authority: {name: A, url: 'https://a.example'}}\n"
		"languages: [et, lv, fi, ru, en]\n"
		"fields: {amount: {type: decimal}}\n"
		"purposes: {p: {basis: legal_obligation, title: {et: P, lv: P, fi: P, ru: P, en: P}}}\n"
		"records: {r: {fields: [amount], purposes: [p], keep: 6 years after end of financial year of created},\n"
		"          s: {fields: [amount], purposes: [p], keep: 6 years after created}}\n";
	struct policy *p = NULL;
	assert_int_equal(policy_parse(policy, sizeof policy - 1, &p, NULL), RC_OK);
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
		char words[256];
		notice_keep_words(policy_record(p, "r"), want[i].lang, words, sizeof words);
		if (!strstr(words, want[i].want))
			print_error("%s: %s\n", want[i].lang, words);
		assert_non_null(strstr(words, want[i].want));
		notice_keep_words(policy_record(p, "s"), want[i].lang, words, sizeof words);
		assert_null(strstr(words, want[i].want));
	}
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_durations),
		cmocka_unit_test(test_sentences),
		cmocka_unit_test(test_financial_year),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
