/* The erasure ledger's lines (format, MAC, chain) and the vault's key epochs:
 * pure logic, and a register's ledger file written and read back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "core/ledger.h"
#include "crypto/token.h"
#include "crypto/vault.h"
#include "helpers.h"

static const unsigned char zeros[LEDGER_MAC_LEN];

static struct ledger_entry entry(int64_t seq, enum ledger_kind kind)
{
	struct ledger_entry e = {.seq = seq, .at = 1700000000 + seq, .tenant_id = 3, .kind = kind};
	token_id_new(TOKEN_PREFIX_SUBJECT, e.subject);
	if (kind == LEDGER_RECORD_DELETE)
		token_id_new(TOKEN_PREFIX_RECORD, e.record);
	return e;
}

static void test_round_trip_and_chain(void **state)
{
	unsigned char key[VAULT_KEY_LEN], mac1[LEDGER_MAC_LEN], mac2[LEDGER_MAC_LEN], got_mac[LEDGER_MAC_LEN];
	randombytes_buf(key, sizeof key);
	struct ledger_entry a = entry(1, LEDGER_SUBJECT_ERASE), b = entry(2, LEDGER_RECORD_DELETE), got;
	token_id_new(TOKEN_PREFIX_REQUEST, a.request);
	char l1[LEDGER_LINE_MAX], l2[LEDGER_LINE_MAX];
	ledger_line_format(key, zeros, &a, l1, mac1);
	ledger_line_format(key, mac1, &b, l2, mac2);
	assert_non_null(strstr(l1, a.subject));
	assert_non_null(strstr(l1, "subject.erase"));
	assert_int_equal(l1[strlen(l1) - 1], '\n');
	l1[strlen(l1) - 1] = '\0';
	l2[strlen(l2) - 1] = '\0';
	assert_int_equal(ledger_line_parse(key, zeros, l1, &got, got_mac), RC_OK);
	assert_int_equal(got.seq, 1);
	assert_int_equal(got.at, a.at);
	assert_int_equal(got.tenant_id, 3);
	assert_int_equal(got.kind, LEDGER_SUBJECT_ERASE);
	assert_string_equal(got.subject, a.subject);
	assert_string_equal(got.record, "");
	assert_string_equal(got.request, a.request);
	assert_memory_equal(got_mac, mac1, LEDGER_MAC_LEN);
	assert_int_equal(ledger_line_parse(key, mac1, l2, &got, got_mac), RC_OK);
	assert_string_equal(got.record, b.record);
	/* Out of its place in the chain (the first line removed), it fails. */
	assert_int_equal(ledger_line_parse(key, zeros, l2, &got, got_mac), RC_CRYPTO);
	/* So it does under another key. */
	unsigned char other[VAULT_KEY_LEN] = {1};
	assert_int_equal(ledger_line_parse(other, zeros, l1, &got, got_mac), RC_CRYPTO);
}

static void test_tampered_and_malformed(void **state)
{
	unsigned char key[VAULT_KEY_LEN] = {7}, mac[LEDGER_MAC_LEN];
	struct ledger_entry a = entry(1, LEDGER_SUBJECT_DELETE), got;
	char line[LEDGER_LINE_MAX], copy[LEDGER_LINE_MAX];
	ledger_line_format(key, zeros, &a, line, mac);
	line[strlen(line) - 1] = '\0';
	/* Another time, number or subject: the MAC no longer matches. */
	strcpy(copy, line);
	copy[strlen("1 1 17")] ^= 1;
	assert_int_equal(ledger_line_parse(key, zeros, copy, &got, mac), RC_CRYPTO);
	strcpy(copy, line);
	copy[2] = copy[2] == '1' ? '2' : '1';
	assert_int_equal(ledger_line_parse(key, zeros, copy, &got, mac), RC_CRYPTO);
	static const char *const bad[] = {
		"",
		"1 1 2 3 subject.delete",
		"2 1 1700000001 3 subject.delete sub_x - - 00",
		"1 1 1700000001 3 no.such.kind sub_01m8sqd08mtjsnza3qk25vft0h - - "
		"0000000000000000000000000000000000000000000000000000000000000000",
		"1 1 1700000001 3 subject.delete - - - "
		"0000000000000000000000000000000000000000000000000000000000000000",
		"1 1 1700000001 3 subject.delete sub_01m8sqd08mtjsnza3qk25vft0h - - "
		"0000000000000000000000000000000000000000000000000000000000000000 extra",
		"1 1 1700000001 3 subject.delete sub_01m8sqd08mtjsnza3qk25vft0h - - zz",
		"1 0 1700000001 3 subject.delete sub_01m8sqd08mtjsnza3qk25vft0h - - "
		"0000000000000000000000000000000000000000000000000000000000000000",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(ledger_line_parse(key, zeros, bad[i], &got, mac), RC_INVALID);
}

static void test_path(void **state)
{
	char p[256];
	ledger_path("/srv/reg/keys", "shop", p, sizeof p);
	assert_string_equal(p, "/srv/reg/ledger/shop.log");
	ledger_path("/srv/reg/keys/", "shop", p, sizeof p);
	assert_string_equal(p, "/srv/reg/ledger/shop.log");
	ledger_path("keys", "a", p, sizeof p);
	assert_string_equal(p, "ledger/a.log");
}

/* Appended in the erasure's transaction, read back whole, checked. */
static void test_append_and_read(void **state)
{
	struct test_register r;
	test_register_new(&r, "policies/webshop.yaml", "default");
	struct core_ctx c = test_ctx(test_at("2026-01-01"), &r);
	struct ledger_entry v[3] = {entry(0, LEDGER_SUBJECT_DELETE), entry(0, LEDGER_RECORD_DELETE),
	                            entry(0, LEDGER_SUBJECT_ERASE)};
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(ledger_append(&c, v, 1), RC_OK);
	/* In flight until its transaction has committed and settled. */
	assert_int_equal(ledger_pending(r.tenant), 1);
	assert_int_equal(store_commit(r.store), RC_OK);
	ledger_settle(&c, RC_OK);
	assert_int_equal(ledger_pending(r.tenant), 0);
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(ledger_append(&c, v + 1, 2), RC_OK);
	assert_int_equal(ledger_pending(r.tenant), 2);
	assert_int_equal(store_commit(r.store), RC_OK);
	ledger_settle(&c, RC_CONFLICT); /* a failed end leaves the marker, as a crash would */
	assert_int_equal(ledger_pending(r.tenant), 2);
	ledger_settle(&c, RC_OK);
	assert_int_equal(ledger_pending(r.tenant), 0);
	int64_t pos = 0, last = 0;
	assert_int_equal(store_ledger_position(r.store, r.tenant->id, &pos), RC_OK);
	assert_int_equal(pos, 3);
	struct ledger_entry *got = NULL;
	size_t n = 0;
	assert_int_equal(ledger_read(r.tenant, 1, &got, &n, &last, NULL), RC_OK);
	assert_int_equal(last, 3);
	assert_int_equal(n, 2);
	assert_string_equal(got[0].record, v[1].record);
	assert_int_equal(got[1].kind, LEDGER_SUBJECT_ERASE);
	free(got);
	struct stat st;
	assert_int_equal(stat(r.tenant->ledger, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A torn last line (an append that never returned) is not an entry,
	 * and the next append cuts it. */
	FILE *f = fopen(r.tenant->ledger, "a");
	fputs("1 4 17000", f);
	fclose(f);
	assert_int_equal(ledger_read(r.tenant, 0, &got, &n, &last, NULL), RC_OK);
	assert_int_equal(last, 3);
	free(got);
	struct ledger_entry more = entry(0, LEDGER_SUBJECT_DELETE);
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(ledger_append(&c, &more, 1), RC_OK);
	assert_int_equal(store_commit(r.store), RC_OK);
	assert_int_equal(ledger_read(r.tenant, 3, &got, &n, &last, NULL), RC_OK);
	assert_int_equal(last, 4);
	assert_int_equal(n, 1);
	assert_string_equal(got[0].subject, more.subject);
	free(got);
	/* During a replay nothing is appended. */
	c.replay = true;
	assert_int_equal(ledger_append(&c, &more, 1), RC_OK);
	assert_int_equal(ledger_read(r.tenant, 0, &got, &n, &last, NULL), RC_OK);
	assert_int_equal(last, 4);
	free(got);
	/* A ledger that ends before the database's position lost lines: it is
	 * not numbered anew, and the erasure is refused. */
	c.replay = false;
	assert_int_equal(store_begin(r.store), RC_OK);
	assert_int_equal(store_ledger_position_set(r.store, r.tenant->id, 9, 0), RC_OK);
	assert_int_equal(ledger_append(&c, &more, 1), RC_CONFLICT);
	store_rollback(r.store);
	assert_int_equal(ledger_read(r.tenant, 0, &got, &n, &last, NULL), RC_OK);
	assert_int_equal(last, 4);
	free(got);
	/* A line changed on disk is found, and named. */
	size_t len = 0;
	char *text = test_read_file(r.tenant->ledger, &len);
	char *second = strchr(text, '\n') + 1;
	second[2] = second[2] == '2' ? '3' : '2';
	f = fopen(r.tenant->ledger, "w");
	fwrite(text, 1, len, f);
	fclose(f);
	free(text);
	struct errbuf eb = {""};
	assert_int_equal(ledger_read(r.tenant, 0, &got, &n, &last, &eb), RC_CRYPTO);
	assert_non_null(strstr(eb.msg, "default.log:2"));
	test_register_free(&r);
}

/* Epochs: keys wrapped under each open under the loaded vault; a destroyed
 * epoch's keys read as erased; epoch 0's destruction keeps the stable subkeys. */
static void test_epochs(void **state)
{
	char dir[] = "/tmp/privreg-epochs-......", path[300];
	memset(dir + strlen(dir) - 6, 'X', 6); /* mkdtemp's template */
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/t.key", dir);
	assert_int_equal(vault_create_file(path, NULL), RC_OK);
	struct vault v0, v1, v2, vx;
	assert_int_equal(vault_load(path, 5, &v0, NULL), RC_OK);
	assert_int_equal(v0.epoch, 0);
	struct subject_key k0, k1, got;
	unsigned char w0[VAULT_WRAPPED_MAX], w1[VAULT_WRAPPED_MAX], again[VAULT_WRAPPED_MAX];
	size_t n0, n1, nagain = 0;
	n0 = vault_subject_key_new(&v0, "sub_a", &k0, w0);
	assert_int_equal(vault_wrapped_epoch(w0, n0), 0);
	uint32_t num = 0;
	assert_int_equal(vault_epoch_create(path, 1700000000, &num, NULL), RC_OK);
	assert_int_equal(num, 1);
	assert_int_equal(vault_load(path, 5, &v1, NULL), RC_OK);
	assert_int_equal(v1.epoch, 1);
	assert_int_equal(v1.nepochs, 2);
	assert_int_equal(v1.epochs[1].created, 1700000000);
	assert_memory_equal(v0.lookup_key, v1.lookup_key, VAULT_KEY_LEN);
	n1 = vault_subject_key_new(&v1, "sub_b", &k1, w1);
	assert_int_equal(vault_wrapped_epoch(w1, n1), 1);
	/* The old vault does not know epoch 1; the new one opens both. */
	assert_int_equal(vault_subject_key_unwrap(&v0, "sub_b", w1, n1, &got), RC_GONE);
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", w0, n0, &got), RC_OK);
	assert_memory_equal(got.k, k0.k, VAULT_KEY_LEN);
	assert_int_equal(vault_subject_key_rewrap(&v1, "sub_a", w0, n0, again, &nagain), RC_OK);
	assert_int_equal(vault_wrapped_epoch(again, nagain), 1);
	assert_int_equal(vault_subject_key_unwrap(&v1, "sub_a", again, nagain, &got), RC_OK);
	assert_memory_equal(got.k, k0.k, VAULT_KEY_LEN);
	/* Epoch 0 destroyed: the master key is gone, the stable subkeys stay. */
	assert_int_equal(vault_epoch_destroy(path, &v1, 1, NULL), RC_CONFLICT); /* the current one */
	assert_int_equal(vault_epoch_destroy(path, &v1, 0, NULL), RC_OK);
	assert_int_equal(vault_load(path, 5, &v2, NULL), RC_OK);
	assert_int_equal(v2.nepochs, 1);
	assert_int_equal(v2.epoch, 1);
	assert_memory_equal(v2.lookup_key, v0.lookup_key, VAULT_KEY_LEN);
	assert_memory_equal(v2.token_key, v0.token_key, VAULT_KEY_LEN);
	assert_memory_equal(v2.audit_key, v0.audit_key, VAULT_KEY_LEN);
	assert_memory_equal(v2.checkpoint_key, v0.checkpoint_key, VAULT_KEY_LEN);
	assert_memory_equal(v2.ledger_key, v0.ledger_key, VAULT_KEY_LEN);
	assert_int_equal(vault_subject_key_unwrap(&v2, "sub_a", w0, n0, &got), RC_GONE);
	assert_int_equal(vault_subject_key_unwrap(&v2, "sub_a", again, nagain, &got), RC_OK);
	size_t len = 0;
	char *text = test_read_file(path, &len);
	char hex[2 * VAULT_KEY_LEN + 1];
	sodium_bin2hex(hex, sizeof hex, v0.epochs[0].key, VAULT_KEY_LEN);
	assert_null(strstr(text, hex)); /* epoch 0's wrapping key is not written out */
	free(text);
	/* A later epoch's file goes whole. */
	assert_int_equal(vault_epoch_create(path, 1700000100, &num, NULL), RC_OK);
	assert_int_equal(num, 2);
	assert_int_equal(vault_load(path, 5, &vx, NULL), RC_OK);
	assert_int_equal(vault_epoch_destroy(path, &vx, 1, NULL), RC_OK);
	vault_fini(&vx);
	assert_int_equal(vault_load(path, 5, &vx, NULL), RC_OK);
	assert_int_equal(vx.nepochs, 1);
	assert_int_equal(vx.epochs[0].number, 2);
	assert_int_equal(vault_subject_key_unwrap(&vx, "sub_b", w1, n1, &got), RC_GONE);
	vault_fini(&vx);
	vault_fini(&v0);
	vault_fini(&v1);
	vault_fini(&v2);
	char cmd[400];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	if (vault_library_init() || store_library_init())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_and_chain),
		cmocka_unit_test(test_tampered_and_malformed),
		cmocka_unit_test(test_path),
		cmocka_unit_test(test_append_and_read),
		cmocka_unit_test(test_epochs),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
