/* Mail templates: the shipped ones pass the check a tenant's own must pass;
 * the check names what is wrong; values are inserted as text and never
 * expanded again; the Subject's encoded words stay within RFC 2047's 75
 * characters and hold whole characters. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/mail.h"
#include "core/policy.h"

static const char *const langs[] = {"en", "et", "lv", "fi", "ru"};

static void test_shipped_templates_pass_the_check(void **state)
{
	for (int k = 0; k < MAIL_KINDS; k++)
		for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++) {
			const char *text = mail_template_default((enum mail_kind)k, langs[i]);
			assert_non_null(text);
			struct policy_diags d = {0};
			size_t bad = mail_template_check((enum mail_kind)k, text, strlen(text), "shipped", &d);
			if (bad)
				fail_msg("%s/%s: %s", langs[i], mail_kind_name((enum mail_kind)k), d.v[0].msg);
			policy_diags_fini(&d);
		}
	assert_null(mail_template_default(MAIL_CONFIRM, "de"));
}

/* The first mistake's message for text checked as message k. */
static size_t check(enum mail_kind k, const char *text, size_t len, char msg[240])
{
	struct policy_diags d = {0};
	size_t n = mail_template_check(k, text, len, "f.txt", &d);
	assert_int_equal(n, d.n);
	snprintf(msg, 240, "%s", d.n ? d.v[0].msg : "");
	policy_diags_fini(&d);
	return n;
}

static void test_check_names_what_is_wrong(void **state)
{
	char msg[240];
	const char *ok = "Subject: Confirm {{purpose}}\n\nOpen {{link}}\n";
	assert_int_equal(check(MAIL_CONFIRM, ok, strlen(ok), msg), 0);
	const char *no_link = "Subject: Confirm\n\nOpen the shop\n";
	assert_int_equal(check(MAIL_CONFIRM, no_link, strlen(no_link), msg), 1);
	assert_string_equal(msg, "f.txt: misses {{link}}, which every confirm message must carry");
	const char *unknown = "Subject: Confirm\n\n{{link}}\n{{discount}}\n";
	assert_int_equal(check(MAIL_CONFIRM, unknown, strlen(unknown), msg), 1);
	assert_string_equal(msg, "f.txt:4: unknown placeholder {{discount}} (confirm takes {{controller}}, {{purpose}}, "
	                         "{{link}})");
	/* Known to another message is unknown to this one. */
	const char *other = "Subject: Confirm\n\n{{link}} {{reason}}\n";
	assert_int_equal(check(MAIL_CONFIRM, other, strlen(other), msg), 1);
	const char *in_subject = "Subject: {{remedy}}\n\n{{reason}} {{remedy}}\n";
	assert_int_equal(check(MAIL_REQUEST_REFUSED, in_subject, strlen(in_subject), msg), 1);
	assert_string_equal(msg, "f.txt:1: {{remedy}} may span lines: it may stand in the body, not the subject");
	const char *no_subject = "Confirm\n\n{{link}}\n";
	assert_int_equal(check(MAIL_CONFIRM, no_subject, strlen(no_subject), msg), 1);
	assert_string_equal(msg, "f.txt:1: the first line must be 'Subject: ' and the subject");
	const char *unclosed = "Subject: x\n\n{{link}} {{link\n";
	assert_int_equal(check(MAIL_CONFIRM, unclosed, strlen(unclosed), msg), 1);
	/* Overlong, surrogate, past U+10FFFF, cut short: all refused. */
	const char *bad_utf8[] = {"Subject: \xC0\x80\n\n{{link}}", "Subject: \xED\xA0\x80\n\n{{link}}",
	                          "Subject: \xF4\x90\x80\x80\n\n{{link}}", "Subject: x\n\n{{link}}\xE2\x82"};
	for (size_t i = 0; i < 4; i++) {
		assert_int_equal(check(MAIL_CONFIRM, bad_utf8[i], strlen(bad_utf8[i]), msg), 1);
		assert_non_null(strstr(msg, "not valid UTF-8"));
	}
	const char *cr = "Subject: x\r\n\r\n{{link}}\n";
	assert_int_not_equal(check(MAIL_CONFIRM, cr, strlen(cr), msg), 0);
	const char nul[] = "Subject: x\n\n{{link}}\0\n";
	assert_int_equal(check(MAIL_CONFIRM, nul, sizeof nul - 1, msg), 1);
	char *big = malloc(MAIL_TEMPLATE_MAX + 2);
	memset(big, 'x', MAIL_TEMPLATE_MAX + 1);
	memcpy(big, ok, strlen(ok));
	assert_int_equal(check(MAIL_CONFIRM, big, MAIL_TEMPLATE_MAX + 1, msg), 1);
	assert_string_equal(msg, "f.txt: larger than 16384 bytes");
	free(big);
}

static void test_values_are_text_never_expanded_again(void **state)
{
	const char *values[MAIL_SLOTS] = {0};
	values[MAIL_SLOT_CONTROLLER] = "Shop\r\nBcc: x@example.com";
	values[MAIL_SLOT_REASON] = "{{link}} %s %n";
	values[MAIL_SLOT_LINK] = "https://example.com/c/1";
	struct buf subject, body;
	buf_init(&subject, 1024);
	buf_init(&body, 1024);
	assert_int_equal(mail_template_render("Subject: From {{controller}}\n\n{{reason}} {{link}}, {{type}}.\n{ {x}} {{\n",
	                                      values, &subject, &body), RC_OK);
	assert_string_equal(subject.data, "From Shop  Bcc: x@example.com");
	assert_string_equal(body.data, "{{link}} %s %n https://example.com/c/1, .\n{ {x}} {{\n");
	buf_fini(&subject);
	buf_fini(&body);
}

/* Every encoded word of the header at most 75 characters, every line at
 * most 78, and the words' texts, each whole UTF-8, joined give value back. */
static void encoded(const char *value)
{
	struct buf b;
	buf_init(&b, 64 * 1024);
	assert_int_equal(mail_header_encode(&b, "Subject", value), RC_OK);
	assert_int_equal(strncmp(b.data, "Subject: ", 9), 0);
	char joined[4096] = "";
	size_t jn = 0;
	for (const char *line = b.data; *line;) {
		const char *end = strstr(line, "\r\n");
		assert_non_null(end);
		assert_true(end - line <= 78);
		const char *w = strstr(line, "=?UTF-8?B?");
		assert_true(w && w < end);
		const char *close = strstr(w + 10, "?=");
		assert_true(close + 2 == end);
		assert_true(end - w <= 75);
		unsigned char bin[128];
		size_t n = 0;
		assert_int_equal(sodium_base642bin(bin, sizeof bin, w + 10, (size_t)(close - w - 10), NULL, &n, NULL,
		                                   sodium_base64_VARIANT_ORIGINAL), 0);
		/* Whole characters: the word does not start with a continuation byte. */
		assert_true(n == 0 || (bin[0] & 0xC0) != 0x80);
		memcpy(joined + jn, bin, n);
		jn += n;
		line = end + 2;
		if (*line)
			assert_int_equal(*line, ' '); /* folded */
	}
	joined[jn] = '\0';
	assert_string_equal(joined, value);
	buf_fini(&b);
}

static void test_header_words_are_short_and_whole(void **state)
{
	encoded("Your request (access to your data) is answered");
	encoded("В вашем запросе (отказ от прямого маркетинга) отказано");
	encoded("Jūsu pieprasījums (atteikšanās no tiešā mārketinga) ir noraidīts");
	encoded("😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀😀");
	encoded("x");
	struct buf b;
	buf_init(&b, 1024);
	assert_int_equal(mail_header_encode(&b, "Subject", "Hi"), RC_OK);
	assert_string_equal(b.data, "Subject: =?UTF-8?B?SGk=?=\r\n");
	buf_fini(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shipped_templates_pass_the_check),
		cmocka_unit_test(test_check_names_what_is_wrong),
		cmocka_unit_test(test_values_are_text_never_expanded_again),
		cmocka_unit_test(test_header_words_are_short_and_whole),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
