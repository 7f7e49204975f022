/* The policy parser: the example policy, the five seed registers, and broken
 * files that must each be refused with their exact line and message. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "api/policy_json.h"
#include "core/policy.h"
#include "helpers.h"

static struct policy *load(const char *path)
{
	struct policy *p = NULL;
	struct policy_diags d = {0};
	enum rc rc = policy_load(path, &p, NULL, &d);
	for (size_t i = 0; i < d.n; i++)
		print_error("%s:%d: %s\n", path, d.v[i].line, d.v[i].msg);
	policy_diags_fini(&d);
	assert_int_equal(rc, RC_OK);
	assert_non_null(p);
	return p;
}

static const char *title(const struct policy_title *t, const char *lang)
{
	for (size_t i = 0; i < t->n; i++)
		if (!strcmp(t->v[i].lang, lang))
			return t->v[i].text;
	return NULL;
}

static void test_example(void **state)
{
	struct policy *p = load("policies/webshop.yaml");
	assert_string_equal(p->version, "2024-05");
	assert_string_equal(p->controller.name, "SIA BAJTEL.LV");
	assert_string_equal(p->controller.code, "40003979897");
	assert_string_equal(p->controller.authority_url, "https://www.aki.ee");
	assert_int_equal(p->nlanguages, 2);
	assert_string_equal(p->languages[0], "et");
	assert_int_equal(p->min_age, 14);
	assert_int_equal(p->requests.answer_within.n, 1);
	assert_int_equal(p->requests.answer_within.unit, TU_MONTHS);
	assert_int_equal(p->requests.extend_up_to.n, 2);
	assert_true(p->requests.has_keep);
	assert_string_equal(p->requests.keep.event, "answered");
	assert_int_equal(p->requests.keep.period.n, 6);
	assert_int_equal(p->nfields, 15);
	assert_int_equal(p->npurposes, 7);
	assert_int_equal(p->nrecords, 6);
	assert_int_equal(p->nrecipients, 6);
	assert_int_equal(p->ncookies, 2);

	const struct policy_field *email = policy_field(p, "email");
	assert_int_equal(email->type, FT_EMAIL);
	assert_true(email->lookup);
	const struct policy_field *ip = policy_field(p, "ip");
	assert_true(ip->has_truncate);
	assert_int_equal(ip->truncate_after.n, 30);
	assert_int_equal(policy_field(p, "gender")->nvalues, 3);
	assert_int_equal(policy_field(p, "message")->max, 10000);

	const struct policy_purpose *dm = policy_purpose(p, "direct_marketing");
	assert_int_equal(dm->basis, BASIS_CONSENT);
	assert_int_equal(dm->channel, CHANNEL_EMAIL);
	assert_true(dm->double_opt_in);
	assert_true(dm->objectable); /* direct marketing is always objectable */
	assert_false(policy_purpose(p, "security")->objectable);
	/* An unquoted comma in a flow-style title stays part of the text. */
	assert_string_equal(title(&policy_purpose(p, "contract")->title, "et"),
	                    "Tellimuste vastuvõtmine, haldamine ja täitmine");
	assert_string_equal(title(&policy_purpose(p, "contract")->title, "en"),
	                    "Taking, managing and fulfilling orders");

	const struct policy_record *account = policy_record(p, "account");
	assert_int_equal(account->keep.rule, KEEP_WHILE_ACTIVE);
	assert_int_equal(account->nrequired, 1);
	assert_true(account->erasable);
	const struct policy_record *order = policy_record(p, "order");
	assert_int_equal(order->keep.rule, KEEP_AFTER_EVENT);
	assert_int_equal(order->keep.period.n, 3);
	assert_int_equal(order->keep.period.unit, TU_YEARS);
	assert_string_equal(order->keep.event, "created");
	assert_int_equal(order->then, THEN_ANONYMIZE);
	assert_int_equal(order->nkeep_fields, 2);
	assert_string_equal(order->keep_fields[0]->name, "items");
	const struct policy_record *acc = policy_record(p, "accounting_entry");
	assert_false(acc->erasable);
	assert_string_equal(acc->keep.event, "fulfilled");
	assert_int_equal(acc->keep.period.n, 7);
	assert_int_equal(policy_record(p, "complaint")->then, THEN_DELETE);

	const struct policy_recipient *pay = policy_recipient(p, "payments");
	assert_string_equal(pay->country, "US");
	assert_int_equal(pay->transfer, TRANSFER_SCC);
	assert_string_equal(pay->contract, "DPA-payments");
	const struct policy_recipient *auth = policy_recipient(p, "authorities");
	assert_int_equal(auth->role, RECIPIENT_AUTHORITY);
	assert_int_equal(auth->nfields, 0);
	assert_false(p->cookies[0].consent);
	assert_true(p->cookies[1].consent);
	policy_free(p);
}

static void test_render(void **state)
{
	struct policy *p = load("policies/webshop.yaml");
	json_t *j = policy_to_json(p);
	policy_free(p);
	json_t *keep = json_object_get(json_object_get(json_object_get(j, "records"), "order"), "keep");
	assert_string_equal(json_string_value(json_object_get(json_object_get(keep, "period"), "iso")), "P3Y");
	assert_string_equal(json_string_value(json_object_get(keep, "text")), "3 years after created");
	json_t *acct = json_object_get(json_object_get(j, "records"), "account");
	assert_true(json_is_true(json_object_get(acct, "account")));
	assert_string_equal(json_string_value(json_object_get(acct, "then")), "delete");
	/* The text default is explicit: fields without max get the default cap. */
	json_t *req = json_object_get(j, "requests");
	assert_string_equal(json_string_value(json_object_get(json_object_get(req, "answer_within"), "iso")), "P1M");
	assert_true(json_is_null(json_object_get(req, "target")));
	assert_true(json_is_null(json_object_get(j, "backups")));
	json_decref(j);
}

/* backups: optional; with it, copies are kept `keep` and the key rotates
 * every rotate_every (7 days unless said). */
static void test_backups(void **state)
{
	struct policy *p = load("policies/webshop.yaml");
	assert_false(p->backups.has_keep);
	policy_free(p);
	char *text = test_read_file("policies/webshop.yaml", NULL);
	size_t n = strlen(text);
	static const char extra[] = "backups:\n  keep: 35 days\n";
	text = realloc(text, n + sizeof extra);
	memcpy(text + n, extra, sizeof extra);
	assert_int_equal(policy_parse(text, strlen(text), &p, NULL), RC_OK);
	assert_true(p->backups.has_keep);
	assert_int_equal(p->backups.keep.n, 35);
	assert_int_equal(p->backups.keep.unit, TU_DAYS);
	assert_int_equal(p->backups.rotate_every.n, 7);
	json_t *j = policy_to_json(p);
	json_t *b = json_object_get(j, "backups");
	assert_string_equal(json_string_value(json_object_get(json_object_get(b, "keep"), "iso")), "P35D");
	json_decref(j);
	policy_free(p);
	free(text);
}

static void test_seeds(void **state)
{
	struct policy *p = load("policies/backoffice.yaml");
	assert_true(p->requests.has_target);
	assert_int_equal(p->requests.target.n, 7);
	assert_int_equal(p->requests.target.unit, TU_DAYS);
	assert_int_equal(policy_purpose(p, "offers")->channel, CHANNEL_EMAIL);
	policy_free(p);

	p = load("policies/elektrum.yaml");
	assert_int_equal(policy_record(p, "user")->keep.rule, KEEP_WHILE_ACTIVE);
	assert_true(policy_purpose(p, "newsletter")->double_opt_in);
	assert_int_equal(policy_recipient(p, "police")->role, RECIPIENT_AUTHORITY);
	policy_free(p);

	p = load("policies/telegroup.yaml");
	const struct policy_record *user = policy_record(p, "user");
	assert_int_equal(user->keep.rule, KEEP_WHILE_ACTIVE);
	assert_int_equal(user->keep.period.n, 30);
	assert_int_equal(policy_recipient(p, "customer")->role, RECIPIENT_CONTROLLER);
	assert_string_equal(p->languages[0], "lv");
	assert_false(policy_record(p, "invoice")->erasable);
	policy_free(p);

	p = load("policies/jerone.yaml");
	assert_int_equal(p->nlanguages, 3);
	assert_string_equal(title(&policy_purpose(p, "newsletter")->title, "fi"), "Uutiskirje");
	assert_string_equal(policy_record(p, "order")->keep.event, "delivered");
	assert_int_equal(policy_field(p, "country")->type, FT_COUNTRY);
	policy_free(p);
}

/* A record kind's events: its keep rule's (closed for while active; never
 * created) and those it declares, each with a title. */
static void test_record_events(void **state)
{
	struct policy *p = load("policies/webshop.yaml");
	const char *names[8];
	const struct policy_record *order = policy_record(p, "order"), *acc = policy_record(p, "account"),
	                           *entry = policy_record(p, "accounting_entry"), *msg = policy_record(p, "message");
	assert_int_equal(policy_record_events(order, names, 8), 2);
	assert_string_equal(names[0], "fulfilled");
	assert_string_equal(names[1], "delivered");
	assert_string_equal(title(&policy_record_event(order, "delivered")->title, "en"), "delivery");
	assert_true(policy_record_allows_event(order, "delivered"));
	assert_false(policy_record_allows_event(order, "created"));
	assert_false(policy_record_allows_event(order, "fulfiled"));
	assert_int_equal(policy_record_events(acc, names, 8), 1);
	assert_string_equal(names[0], "closed");
	assert_true(policy_record_allows_event(acc, "closed"));
	assert_int_equal(policy_record_events(entry, names, 8), 1);
	assert_string_equal(names[0], "fulfilled");
	assert_null(policy_record_event(entry, "fulfilled")); /* allowed by its rule, not declared */
	assert_int_equal(policy_record_events(msg, names, 8), 0);
	assert_false(policy_record_allows_event(msg, "created"));
	policy_free(p);
	/* Declaring the keep rule's own event (to give it a title) lists it once. */
	p = load("policies/jerone.yaml");
	assert_int_equal(policy_record_events(policy_record(p, "order"), names, 8), 1);
	assert_string_equal(names[0], "delivered");
	policy_free(p);
}

static void test_broken(void **state)
{
	const char *dir = "tests/data/policies/broken";
	DIR *d = opendir(dir);
	assert_non_null(d);
	struct dirent *e;
	int checked = 0;
	while ((e = readdir(d))) {
		size_t n = strlen(e->d_name);
		if (n < 6 || strcmp(e->d_name + n - 5, ".yaml"))
			continue;
		char path[512], expect_path[512];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		snprintf(expect_path, sizeof expect_path, "%s/%.*s.expect", dir, (int)(n - 5), e->d_name);
		char *expect = test_read_file(expect_path, NULL);
		assert_non_null(expect);
		expect[strcspn(expect, "\n")] = '\0';
		struct policy *p = NULL;
		struct policy_diags diags = {0};
		assert_int_equal(policy_load(path, &p, NULL, &diags), RC_POLICY);
		assert_null(p);
		assert_true(diags.n >= 1);
		bool found = false;
		for (size_t i = 0; i < diags.n && !found; i++) {
			char got[400];
			snprintf(got, sizeof got, "%d: %s", diags.v[i].line, diags.v[i].msg);
			found = !strcmp(got, expect);
		}
		if (!found)
			fail_msg("%s: expected '%s', first got '%d: %s'", path, expect, diags.v[0].line, diags.v[0].msg);
		policy_diags_fini(&diags);
		free(expect);
		checked++;
	}
	closedir(d);
	assert_true(checked >= 20);
}

static void test_every_mistake_reported(void **state)
{
	const char *text =
		"version: \"1\"\n"
		"controller: {name: X, email: not-an-email, authority: {name: A, url: https://a.example}}\n"
		"languages: [en]\n"
		"fields:\n"
		"  a: {type: texty}\n"
		"  b: {type: text, lookup: maybe}\n"
		"purposes:\n"
		"  p: {basis: consent, title: {en: P}}\n"
		"records:\n"
		"  r: {fields: [a, zz], purposes: [p, qq], keep: 1 decade after created}\n";
	struct policy *p = NULL;
	struct policy_diags d = {0};
	assert_int_equal(policy_parse(text, strlen(text), &p, &d), RC_POLICY);
	int lines[] = {2, 5, 6, 10, 10, 10};
	assert_int_equal(d.n, sizeof lines / sizeof lines[0]);
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(d.v[i].line, lines[i]);
	policy_diags_fini(&d);
}

static void test_limits(void **state)
{
	struct policy *p = NULL;
	struct policy_diags d = {0};
	/* An alias bomb must end in an error, not in minutes of work. */
	const char *bomb =
		"a: &a [x, x, x, x, x, x, x, x, x, x]\n"
		"b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]\n"
		"c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]\n"
		"d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]\n"
		"version: \"1\"\n";
	assert_int_equal(policy_parse(bomb, strlen(bomb), &p, &d), RC_POLICY);
	policy_diags_fini(&d);
	assert_int_equal(policy_parse("", 0, &p, &d), RC_POLICY);
	assert_string_equal(d.v[0].msg, "the policy is empty");
	policy_diags_fini(&d);
	char *big = calloc(POLICY_FILE_MAX + 2, 1);
	memset(big, '#', POLICY_FILE_MAX + 1);
	assert_int_equal(policy_parse(big, POLICY_FILE_MAX + 1, &p, &d), RC_POLICY);
	policy_diags_fini(&d);
	free(big);
	assert_int_equal(policy_parse("- a\n- b\n", 8, &p, &d), RC_POLICY);
	assert_string_equal(d.v[0].msg, "the policy must be a mapping");
	policy_diags_fini(&d);
}

/* Nesting 200,000 to 800,000 deep (flow or block) is refused at once, not after
 * minutes inside libyaml; 63 levels below the top are still read. */
static void test_depth(void **state)
{
	(void)state;
	struct policy *p = NULL;
	struct policy_diags d = {0};
	static const char *const unit[] = {"[", "- ", "{a: "};
	for (size_t form = 0; form < 3; form++) {
		size_t w = strlen(unit[form]), levels = 800000 / w; /* within POLICY_FILE_MAX */
		char *deep = calloc(levels * w + 1, 1);
		for (size_t i = 0; i < levels; i++)
			memcpy(deep + i * w, unit[form], w);
		assert_int_equal(policy_parse(deep, levels * w, &p, &d), RC_POLICY);
		assert_int_equal(d.n, 1);
		assert_int_equal(d.v[0].line, 1);
		assert_string_equal(d.v[0].msg, "the policy nests deeper than 64 levels");
		policy_diags_fini(&d);
		free(deep);
	}
	char ok[200];
	size_t k = (size_t)snprintf(ok, sizeof ok, "x: ");
	for (int i = 0; i < 63; i++)
		ok[k++] = '[';
	for (int i = 0; i < 63; i++)
		ok[k++] = ']';
	ok[k] = '\0';
	assert_int_equal(policy_parse(ok, k, &p, &d), RC_POLICY); /* x is not a key of a policy */
	for (size_t i = 0; i < d.n; i++)
		assert_string_not_equal(d.v[i].msg, "the policy nests deeper than 64 levels");
	policy_diags_fini(&d);
}

/* The keys that exist for the notice (Art. 13/14): optional, read into the
 * policy, and a policy without them draws warnings, never a refusal. */
static void test_notice_keys(void **state)
{
	struct policy *p = load("policies/webshop.yaml");
	assert_string_equal(p->date, "2024-05-01");
	assert_int_equal(p->automated, AUTOMATED_DECLARED);
	assert_non_null(strstr(title(&p->automated_text, "en"), "profiling"));
	assert_non_null(title(&policy_purpose(p, "security")->interest, "et"));
	assert_int_equal(policy_purpose(p, "contract")->interest.n, 0);
	assert_non_null(title(&policy_record(p, "order")->provision, "en"));
	assert_non_null(title(&policy_field(p, "payment_ref")->source, "et"));
	assert_string_equal(title(&policy_recipient(p, "courier")->title, "et"), "Transpordiettevõtted");
	assert_non_null(title(&policy_recipient(p, "payments")->safeguards, "en"));
	assert_int_equal(p->cookies[0].life, COOKIE_LIFE_SESSION);
	assert_int_equal(p->cookies[1].life, COOKIE_LIFE_PERIOD);
	assert_int_equal(p->cookies[1].lifetime.n, 1);
	assert_int_equal(p->cookies[1].lifetime.unit, TU_YEARS);
	assert_int_equal(p->cookies[1].nnames, 1);
	assert_string_equal(p->cookies[1].names[0], "prefs");
	struct policy_diags w = {0};
	policy_warnings(p, &w);
	for (size_t i = 0; i < w.n; i++)
		print_error("%d: %s\n", w.v[i].line, w.v[i].msg);
	assert_int_equal(w.n, 0);
	policy_free(p);

	p = load("policies/backoffice.yaml");
	assert_int_equal(p->automated, AUTOMATED_NONE);
	assert_null(p->controller.phone);
	policy_free(p);
	p = load("policies/jerone.yaml");
	assert_string_equal(p->controller.phone, "040 828 0202");
	policy_free(p);

	static const char old[] =
		"version: '1'\n"
		"controller: {name: C, email: c@example.ee, authority: {name: A, url: 'https://a.example'}}\n"
		"languages: [et, en]\n"
		"fields: {email: {type: email}}\n"
		"purposes: {p: {basis: legitimate_interest, title: {et: P, en: P}}}\n"
		"records: {r: {fields: [email], purposes: [p], keep: 1 year after created},\n"
		"          s: {fields: [email], purposes: [p], keep: 2 years after delivered}}\n"
		"cookies: {c: {purposes: [p], consent: false, title: {et: C, en: C}, third_party: Partner Ltd}}\n";
	assert_int_equal(policy_parse(old, sizeof old - 1, &p, NULL), RC_OK);
	assert_int_equal(p->automated, AUTOMATED_UNDECLARED);
	assert_null(p->date);
	assert_string_equal(policy_title_in(&p->cookies[0].third_party, "en", "us"), "Partner Ltd");
	policy_warnings(p, &w);
	/* no automated_decisions, the field and both kinds untitled, no interest, s's event unsaid */
	assert_int_equal(w.n, 6);
	assert_int_equal(w.v[0].line, 1);
	policy_diags_fini(&w);
	policy_free(p);
}

/* The keys issue #10 added: adequacy (dpf), financial years, anonymisation
 * that generalises, records linked to nobody, consent collection points;
 * each with its safe default where a policy does not say. */
static void test_legal_keys(void **state)
{
	struct policy *p = load("policies/webshop.yaml");
	assert_int_equal(p->controller.fy_month, 12);
	assert_int_equal(p->controller.fy_day, 31);
	assert_int_equal(p->nconsent_sources, 0);
	const struct policy_record *order = policy_record(p, "order");
	assert_int_equal(order->created_generalize, GEN_MONTH);
	assert_int_equal(order->ngeneralize, 0);
	assert_true(order->linked);
	assert_false(policy_recipient(p, "payments")->dpf);
	policy_free(p);

	p = load("policies/jerone.yaml");
	const struct policy_consent_source *src = policy_consent_source(p, "account_creation");
	assert_non_null(src);
	assert_string_equal(src->version, "2023-05");
	assert_true(policy_consent_source_covers(src, policy_purpose(p, "newsletter")));
	assert_false(policy_consent_source_covers(src, policy_purpose(p, "orders")));
	assert_null(policy_consent_source(p, "bought_list"));
	assert_true(policy_record(p, "accounting_entry")->keep.financial_year);
	policy_free(p);

	p = load("policies/elektrum.yaml");
	assert_false(policy_record(p, "usage")->linked);
	policy_free(p);

	static const char gen[] =
		"version: \"1\"\ncontroller: {name: A, email: a@a.ee, financial_year_end: 06-30,\n"
		"  authority: {name: AKI, email: info@aki.ee}}\nlanguages: [en]\n"
		"fields: {amount: {type: decimal}, day: {type: date}}\n"
		"purposes: {stats: {basis: legitimate_interest, title: {en: Stats}}}\n"
		"records:\n  sale:\n    fields: [amount, day]\n    purposes: [stats]\n    keep: 1 year after created\n"
		"    then: anonymize\n    keep_fields: [amount, day]\n"
		"    generalize: {amount: {round: 5}, day: year, created_at: year}\n"
		"recipients:\n  cloud: {role: processor, purposes: [stats], fields: [amount], country: US, transfer: adequacy,\n"
		"    dpf: true, contract: DPA-1}\n";
	assert_int_equal(policy_parse(gen, sizeof gen - 1, &p, NULL), RC_OK);
	assert_int_equal(p->controller.fy_month, 6);
	assert_int_equal(p->controller.fy_day, 30);
	const struct policy_record *sale = policy_record(p, "sale");
	assert_int_equal(sale->created_generalize, GEN_YEAR);
	assert_int_equal(sale->ngeneralize, 2);
	assert_int_equal(sale->generalize[0].how, GEN_ROUND);
	assert_int_equal(sale->generalize[0].round, 5);
	assert_int_equal(sale->generalize[1].how, GEN_YEAR);
	assert_true(policy_recipient(p, "cloud")->dpf);
	policy_free(p);
}

/* controller.mail and legal_reference: optional; what a policy says is
 * what e-mails and answers use. */
static void test_sender_and_legal_reference(void **state)
{
	struct policy *p = load("policies/webshop.yaml");
	const struct policy_record *acc = policy_record(p, "accounting_entry");
	assert_string_equal(policy_title_in(&acc->legal_reference, "et", ""), "Raamatupidamise seadus § 12");
	assert_string_equal(policy_title_in(&acc->legal_reference, "en", ""), "Accounting Act (Estonia) § 12");
	assert_int_equal(policy_record(p, "order")->legal_reference.n, 0);
	assert_null(p->controller.mail_from);
	assert_null(p->controller.mail_reply_to);
	assert_null(p->controller.mail_templates);
	policy_free(p);

	char *text = test_read_file("policies/webshop.yaml", NULL);
	assert_non_null(text);
	const char *find = "    legal_reference: { et: \"Raamatupidamise seadus § 12\", en: \"Accounting Act (Estonia) § 12\" }\n";
	char *at = strstr(text, find);
	assert_non_null(at);
	char *edited = malloc(strlen(text) + 200);
	snprintf(edited, strlen(text) + 200, "%.*s    legal_reference: RPS § 12\n%s", (int)(at - text), text,
	         at + strlen(find));
	char *with_mail = malloc(strlen(edited) + 200);
	at = strstr(edited, "controller:\n");
	snprintf(with_mail, strlen(edited) + 200, "%.*scontroller:\n  mail: { from: \"Eleme OÜ <privacy@eleme.example>\", "
	         "reply_to: dpo@eleme.example, templates: letters }\n%s", (int)(at - edited), edited,
	         at + strlen("controller:\n"));
	assert_int_equal(policy_parse(with_mail, strlen(with_mail), &p, NULL), RC_OK);
	acc = policy_record(p, "accounting_entry");
	/* One text for every language. */
	assert_string_equal(policy_title_in(&acc->legal_reference, "et", ""), "RPS § 12");
	assert_string_equal(policy_title_in(&acc->legal_reference, "en", ""), "RPS § 12");
	assert_string_equal(p->controller.mail_from_name, "Eleme OÜ");
	assert_string_equal(p->controller.mail_from, "privacy@eleme.example");
	assert_string_equal(p->controller.mail_reply_to, "dpo@eleme.example");
	assert_string_equal(p->controller.mail_templates, "letters");
	policy_free(p);
	free(with_mail);
	free(edited);
	free(text);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_example),
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_backups),
		cmocka_unit_test(test_seeds),
		cmocka_unit_test(test_record_events),
		cmocka_unit_test(test_legal_keys),
		cmocka_unit_test(test_broken),
		cmocka_unit_test(test_every_mistake_reported),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_depth),
		cmocka_unit_test(test_notice_keys),
		cmocka_unit_test(test_sender_and_legal_reference),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
