/* Retention arithmetic and its words: due times for every `keep` form in
 * calendar months and years, trim times, and the notice's phrasing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "base/timeutil.h"
#include "core/notice.h"
#include "core/policy.h"
#include "core/keep.h"
#include "core/retention.h"
#include "helpers.h"

static struct policy *policy_for(const char *path)
{
	struct policy *p = NULL;
	assert_int_equal(policy_load(path, &p, NULL, NULL), RC_OK);
	return p;
}

static struct policy *webshop(void)
{
	return policy_for("policies/webshop.yaml");
}

static void test_after_created_in_calendar_years(void **state)
{
	struct policy *p = webshop();
	const struct policy_record *order = policy_record(p, "order"); /* 3 years after created */
	assert_int_equal(keep_due(order, test_at("2020-03-15"), NULL, 0, NULL, 0), test_at("2023-03-15"));
	assert_int_equal(keep_due(order, test_at("2020-02-29T10:00:00Z"), NULL, 0, NULL, 0), test_at("2023-02-28T10:00:00Z"));
	policy_free(p);
}

static void test_after_a_named_event(void **state)
{
	struct policy *p = webshop();
	const struct policy_record *acc = policy_record(p, "accounting_entry"); /* 7 years after fulfilled */
	struct store_event ev[] = {{(char *)"shipped", 0}, {(char *)"fulfilled", 0}};
	ev[0].at = test_at("2016-01-01");
	ev[1].at = test_at("2016-02-29");
	assert_int_equal(keep_due(acc, test_at("2015-01-01"), NULL, 0, NULL, 0), 0); /* not happened: not due */
	assert_int_equal(keep_due(acc, test_at("2015-01-01"), ev, 1, NULL, 0), 0);
	assert_int_equal(keep_due(acc, test_at("2015-01-01"), ev, 2, NULL, 0), test_at("2023-02-28"));
	/* A newer value of the event (a rectification) wins over the stored one. */
	struct store_event later = {(char *)"fulfilled", 0};
	later.at = test_at("2017-01-31");
	assert_int_equal(keep_due(acc, test_at("2015-01-01"), ev, 2, &later, 1), test_at("2024-01-31"));
	policy_free(p);
}

/* Finnish and Estonian bookkeeping: N years from the end of the financial
 * year in which the event fell (jerone: 6 years, calendar year). */
static void test_after_end_of_financial_year(void **state)
{
	struct policy *j = policy_for("policies/jerone.yaml");
	const struct policy_record *acc = policy_record(j, "accounting_entry");
	assert_true(acc->keep.financial_year);
	struct store_event ev = {(char *)"fulfilled", 0};
	ev.at = test_at("2024-03-15T12:00:00Z");
	assert_int_equal(keep_due(acc, test_at("2024-03-01"), &ev, 1, NULL, 0), test_at("2031-01-01"));
	ev.at = test_at("2024-12-31T23:59:59Z");
	assert_int_equal(keep_due(acc, test_at("2024-03-01"), &ev, 1, NULL, 0), test_at("2031-01-01"));
	ev.at = test_at("2025-01-01");
	assert_int_equal(keep_due(acc, test_at("2024-03-01"), &ev, 1, NULL, 0), test_at("2032-01-01"));
	/* A year that ends on 30 June. */
	struct policy_keep k = {KEEP_AFTER_EVENT, {7, TU_YEARS}, "fulfilled", true, 6, 30};
	assert_int_equal(keep_financial_year_end(&k, test_at("2024-06-30T18:00:00Z")), test_at("2024-07-01"));
	assert_int_equal(keep_financial_year_end(&k, test_at("2024-07-01")), test_at("2025-07-01"));
	assert_int_equal(keep_financial_year_end(&k, test_at("1969-12-31T12:00:00Z")), test_at("1970-07-01"));
	char s[128];
	policy_keep_format(&acc->keep, s, sizeof s);
	assert_string_equal(s, "6 years after end of financial year of fulfilled");
	policy_free(j);
}

static void test_while_active_and_grace(void **state)
{
	struct policy *p = webshop();
	const struct policy_record *account = policy_record(p, "account"); /* while active */
	struct store_event closed = {(char *)"closed", 0};
	closed.at = test_at("2024-01-31T12:00:00Z");
	assert_int_equal(keep_due(account, test_at("2020-01-01"), NULL, 0, NULL, 0), 0);
	assert_int_equal(keep_due(account, test_at("2020-01-01"), &closed, 1, NULL, 0), closed.at);
	struct policy_record grace = *account;
	grace.keep.period = (struct duration){1, TU_MONTHS};
	assert_int_equal(keep_due(&grace, test_at("2020-01-01"), &closed, 1, NULL, 0), test_at("2024-02-29T12:00:00Z"));
	policy_free(p);
}

static void test_trim_at_follows_truncate_after(void **state)
{
	struct policy *p = webshop();
	/* ip: truncate_after 30 days, in account records only */
	assert_int_equal(keep_trim_at(policy_record(p, "account"), test_at("2024-01-01")), test_at("2024-01-31"));
	assert_int_equal(keep_trim_at(policy_record(p, "order"), test_at("2024-01-01")), 0);
	policy_free(p);
}

static void test_keep_in_words(void **state)
{
	struct policy *p = webshop();
	char s[256];
	static const struct {
		const char *kind, *lang, *words;
	} cases[] = {
		{"accounting_entry", "et", "7 aastat pärast täitmist"},
		{"accounting_entry", "en", "7 years after fulfilment"},
		{"accounting_entry", "lv", "7 gadi pēc izpildes"},
		{"accounting_entry", "fi", "7 vuotta täyttämisestä"},
		{"accounting_entry", "ru", "7 лет после исполнения"},
		{"order", "ru", "3 года после создания"},
		{"account", "en", "while the account is active"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		notice_keep_words(policy_record(p, cases[i].kind), cases[i].lang, s, sizeof s);
		assert_string_equal(s, cases[i].words);
	}
	struct policy_record one = {.keep = {KEEP_AFTER_EVENT, {1, TU_YEARS}, "created"}},
	                     ru21 = {.keep = {KEEP_AFTER_EVENT, {21, TU_DAYS}, "closed"}};
	notice_keep_words(&one, "en", s, sizeof s);
	assert_string_equal(s, "1 year after creation");
	notice_keep_words(&ru21, "ru", s, sizeof s);
	assert_string_equal(s, "21 день после закрытия");
	struct policy_record grace = {.keep = {KEEP_WHILE_ACTIVE, {30, TU_DAYS}, NULL}};
	notice_keep_words(&grace, "et", s, sizeof s);
	assert_string_equal(s, "kuni konto on aktiivne ja 30 päeva pärast sulgemist");
	/* An event the notice has no word for goes by the title its policy gives it. */
	struct policy *j = policy_for("policies/jerone.yaml"), *t = policy_for("policies/telegroup.yaml");
	notice_keep_words(policy_record(j, "order"), "fi", s, sizeof s);
	assert_string_equal(s, "2 vuotta toimituksesta");
	notice_keep_words(policy_record(j, "order"), "et", s, sizeof s);
	assert_string_equal(s, "2 aastat pärast kättetoimetamist");
	notice_keep_words(policy_record(t, "invoice"), "lv", s, sizeof s);
	assert_string_equal(s, "5 gadi pēc izrakstīšanas");
	notice_keep_words(policy_record(t, "invoice"), "en", s, sizeof s);
	assert_string_equal(s, "5 years after issue");
	policy_free(j);
	policy_free(t);
	policy_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_after_created_in_calendar_years),
		cmocka_unit_test(test_after_a_named_event),
		cmocka_unit_test(test_after_end_of_financial_year),
		cmocka_unit_test(test_while_active_and_grace),
		cmocka_unit_test(test_trim_at_follows_truncate_after),
		cmocka_unit_test(test_keep_in_words),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
