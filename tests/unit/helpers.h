/* Test helpers: temporary registers on a real SQLite file or, when
 * PRIVREG_TEST_BACKEND=postgresql (the *_pg tests of meson.build), in a
 * fresh database of the PostgreSQL server at PRIVREG_TEST_PG_URL (the
 * Makefile starts one with scripts/start-postgres; unset, such a test
 * program is skipped, exit 77, with a message). */
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
	char url[400];              /* the store's URL: sqlite:DB or postgresql://.../DB */
	char pgdb[64];              /* the PostgreSQL database, "" for SQLite */
	struct store *store;
	struct tenant *tenant;
};

/* Reads a whole file; returns NULL if missing. */
char *test_read_file(const char *path, size_t *len);
/* Creates a register in a new temporary directory with tenant `name` under
 * the policy file `policy_path`. Asserts on failure. */
/* A new empty directory under /tmp, named into dir. */
void test_tempdir(char *dir, size_t size);
void test_register_new(struct test_register *r, const char *policy_path, const char *name);
/* Adds another tenant to the same register. */
struct tenant *test_register_add_tenant(struct test_register *r, const char *policy_path, const char *name);
void test_register_free(struct test_register *r);
/* Whether the tests run on PostgreSQL (PRIVREG_TEST_BACKEND=postgresql). */
bool test_pg(void);
/* Runs sql (no parameters) on r's database as another client would, behind
 * the store's back: 0 when it succeeded, with *changes the rows changed by
 * its last statement (changes may be NULL), -1 when the database refused. */
int test_sql(const struct test_register *r, const char *sql, int *changes);
/* True if the bytes occur in any file of the register's directory. On
 * PostgreSQL the database's files are the server's, not the directory's:
 * the check covers the key and ledger files only. */
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
