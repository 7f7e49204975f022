/* Test helpers: temporary registers on a real SQLite file. */
#ifndef PRIVREG_TEST_HELPERS_H
#define PRIVREG_TEST_HELPERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctx.h"
#include "core/record.h"
#include "core/tenant.h"
#include "store/store.h"

struct test_register {
	char dir[256];
	char keydir[300];
	char db[300];
	struct store *store;
	struct tenant *tenant;
};

/* Reads a whole file; returns NULL if missing. */
char *test_read_file(const char *path, size_t *len);
/* Creates a register in a new temporary directory with tenant `name` under
 * the policy file `policy_path`. Asserts on failure. */
void test_register_new(struct test_register *r, const char *policy_path, const char *name);
/* Adds another tenant to the same register. */
struct tenant *test_register_add_tenant(struct test_register *r, const char *policy_path, const char *name);
void test_register_free(struct test_register *r);
/* True if the bytes occur in any file of the register's directory. */
bool test_register_contains(const struct test_register *r, const void *needle, size_t len);

/* An ISO 8601 date or datetime as Unix seconds; asserts it parses. */
int64_t test_at(const char *iso);
/* The context of a core call on r's tenant at `now`, with the router's links. */
struct core_ctx test_ctx(int64_t now, const struct test_register *r);
/* A text field value for a record input. */
struct field_input test_text(const char *name, const char *value);

/* The links core puts in e-mails, as the router defines them. */
extern const struct core_links test_links;

#endif
