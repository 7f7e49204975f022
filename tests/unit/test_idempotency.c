/*
 * Answers kept for retries (core/idempotency) on a real SQLite file, at a
 * fixed `now` the tests move: an answer is found again for 24 hours, for the
 * same request only, for the API key that sent it only; after 24 hours the
 * key is free again and the purge removes the row; the kept body is never on
 * disk in plaintext.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/idempotency.h"
#include "helpers.h"

#define POLICY "policies/webshop.yaml"
#define NOW "2024-06-15T12:00:00Z"
#define REQ "POST\n/v1/subjects\n\n{\"records\":[]}"
#define BODY "{\"id\":\"sub_x\",\"name\":\"Unmistakable Maasikas\"}"

static void keep(const struct core_ctx *c, const char *key, const char *req)
{
	struct idempotency_answer a = {.status = 201, .content_type = "application/json", .body = (char *)BODY,
	                               .len = strlen(BODY)};
	assert_int_equal(store_begin(c->store), RC_OK);
	assert_int_equal(idempotency_keep(c, key, req, strlen(req), NULL, &a), RC_OK);
	assert_int_equal(store_commit(c->store), RC_OK);
}

static enum rc find(const struct core_ctx *c, const char *key, const char *req, struct idempotency_answer *out)
{
	struct errbuf eb = {""};
	return idempotency_find(c, key, req, strlen(req), out, &eb);
}

static void test_key_bounds(void **state)
{
	(void)state;
	char long_key[IDEMPOTENCY_KEY_MAX + 2];
	memset(long_key, 'k', sizeof long_key - 1);
	long_key[sizeof long_key - 1] = '\0';
	assert_false(idempotency_key_valid(long_key));
	long_key[IDEMPOTENCY_KEY_MAX] = '\0';
	assert_true(idempotency_key_valid(long_key));
	assert_true(idempotency_key_valid("a"));
	assert_false(idempotency_key_valid(""));
	assert_false(idempotency_key_valid(NULL));
	assert_false(idempotency_key_valid("a b"));
	assert_false(idempotency_key_valid("a\x7f"));
	assert_false(idempotency_key_valid("\xc3\xbc"));
}

static void test_found_for_24_hours_then_free(void **state)
{
	(void)state;
	struct test_register r;
	test_register_new(&r, POLICY, "default");
	int64_t t0 = test_at(NOW);
	struct core_ctx c = test_ctx(t0, &r);
	struct idempotency_answer a;
	keep(&c, "order-1", REQ);
	assert_false(test_register_contains(&r, "Unmistakable", strlen("Unmistakable")));

	/* The same request within 24 hours: the answer, as kept. */
	c.now = t0 + 24 * 3600 - 1;
	assert_int_equal(find(&c, "order-1", REQ, &a), RC_OK);
	assert_int_equal(a.status, 201);
	assert_string_equal(a.content_type, "application/json");
	assert_int_equal(a.len, strlen(BODY));
	assert_memory_equal(a.body, BODY, a.len);
	idempotency_answer_fini(&a);
	/* Another request under the key: refused. */
	assert_int_equal(find(&c, "order-1", REQ "x", &a), RC_UNPROCESSABLE);
	/* Another API key, another key: nothing. */
	struct core_ctx other = c;
	other.key_id = "AAAAAAAAAAAAAAAA";
	assert_int_equal(find(&other, "order-1", REQ, &a), RC_NOT_FOUND);
	assert_int_equal(find(&c, "order-2", REQ, &a), RC_NOT_FOUND);

	/* 24 hours on: the key is free, for any request. */
	c.now = t0 + 24 * 3600;
	assert_int_equal(find(&c, "order-1", REQ, &a), RC_NOT_FOUND);
	assert_int_equal(find(&c, "order-1", REQ "x", &a), RC_NOT_FOUND);
	size_t n = 0;
	assert_int_equal(idempotency_purge(&c, 100, &n), RC_OK);
	assert_int_equal(n, 1);
	assert_int_equal(idempotency_purge(&c, 100, &n), RC_OK);
	assert_int_equal(n, 0);
	/* Kept again under the free key, for another request. */
	keep(&c, "order-1", REQ "x");
	assert_int_equal(find(&c, "order-1", REQ "x", &a), RC_OK);
	idempotency_answer_fini(&a);
	test_register_free(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_bounds),
		cmocka_unit_test(test_found_for_24_hours_then_free),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
