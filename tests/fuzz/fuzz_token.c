/*
 * fuzz_token: any bytes as an id, an API key and a signed link, the forms
 * that arrive from outside in paths, headers and e-mailed URLs. An id that
 * is accepted must decode and encode back to the same text (one spelling
 * per id); the legacy id rewrite must undo itself exactly on any text; a
 * link that verifies must sign back to the same text (one spelling per
 * link), and a link signed from fuzzed fields must verify to those fields.
 */
#include <stdlib.h>
#include <string.h>

#include "crypto/token.h"
#include "crypto/vault.h"
#include "fuzz.h"

static const char *const prefixes[] = {
	TOKEN_PREFIX_SUBJECT, TOKEN_PREFIX_RECORD, TOKEN_PREFIX_REQUEST, TOKEN_PREFIX_HOLD, TOKEN_PREFIX_DISCLOSURE,
};
static const unsigned char link_key[32] = "privreg fuzz link key, 32 bytes";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	return vault_library_init() ? 1 : 0;
}

static void check_id(const char *s)
{
	for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
		unsigned char bytes[TOKEN_ID_BYTES];
		bool valid = token_id_valid(prefixes[i], s);
		bool decoded = token_id_decode(prefixes[i], s, bytes);
		if (valid != decoded)
			fuzz_fail("'%s': token_id_valid says %d, token_id_decode %d", s, valid, decoded);
		if (!decoded)
			continue;
		char back[TOKEN_ID_MAX];
		token_id_encode(prefixes[i], bytes, back);
		if (strcmp(back, s))
			fuzz_fail("id '%s' encodes back as '%s'", s, back);
	}
}

static void check_legacy(const char *s, size_t n)
{
	char *t = malloc(n + 1);
	if (!t)
		abort();
	memcpy(t, s, n + 1);
	token_ids_to_legacy(t);
	if (strlen(t) != n)
		fuzz_fail("token_ids_to_legacy changed the length");
	token_ids_from_legacy(t);
	if (memcmp(t, s, n + 1))
		fuzz_fail("token_ids_from_legacy does not undo token_ids_to_legacy");
	token_ids_from_legacy(t);
	token_ids_to_legacy(t);
	if (memcmp(t, s, n + 1))
		fuzz_fail("token_ids_to_legacy does not undo token_ids_from_legacy");
	free(t);
}

static void check_link(const char *s)
{
	int64_t tenant;
	struct token_link l;
	enum rc trc = token_link_tenant(s, &tenant);
	/* Expiry in the future, then in the past: both paths. */
	enum rc rc = token_link_verify(s, link_key, 0, &l);
	if (rc == RC_OK) {
		char back[TOKEN_LINK_MAX];
		if (token_link_sign(&l, link_key, back) || strcmp(back, s))
			fuzz_fail("link '%s' signs back as '%s'", s, back);
		if (token_link_tenant(s, &tenant) || tenant != l.tenant_id)
			fuzz_fail("link '%s': token_link_tenant disagrees with the verified link", s);
	} else if (rc != RC_NOT_FOUND && rc != RC_GONE) {
		fuzz_fail("token_link_verify answered %s", rc_code(rc));
	}
	if (!token_link_verify(s, link_key, INT64_MAX, &l) && trc)
		fuzz_fail("link '%s' verifies, but token_link_tenant refuses it", s);
}

/* A link signed from fuzzed fields verifies to those fields. */
static void check_sign(const uint8_t *data, size_t size)
{
	static const char kinds[] = "cuvx";
	if (size < 20)
		return;
	struct token_link l = {.kind = kinds[data[0] % 4]};
	memcpy(&l.tenant_id, data + 1, sizeof l.tenant_id);
	memcpy(&l.expires, data + 9, sizeof l.expires);
	l.event = data[17] & 1 ? (int64_t)data[18] << 8 | data[19] : 0;
	token_id_new(TOKEN_PREFIX_SUBJECT, l.subject_id);
	size_t plen = size - 20 < TOKEN_PURPOSE_MAX ? size - 20 : TOKEN_PURPOSE_MAX;
	memcpy(l.purpose, data + 20, plen);
	l.purpose[plen] = '\0';
	char s[TOKEN_LINK_MAX];
	if (token_link_sign(&l, link_key, s))
		return; /* refused (a negative tenant, a purpose it cannot carry): fine */
	struct token_link back;
	if (l.expires == INT64_MIN)
		return;
	int64_t now = l.expires - 1;
	enum rc rc = token_link_verify(s, link_key, now, &back);
	if (rc)
		fuzz_fail("a link just signed does not verify (%s): %s", rc_code(rc), s);
	if (back.kind != l.kind || back.tenant_id != l.tenant_id || strcmp(back.subject_id, l.subject_id) ||
	    strcmp(back.purpose, l.purpose) || back.expires != l.expires || (l.kind == 'c' && back.event != l.event))
		fuzz_fail("a link verifies to other fields than it was signed with: %s", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > 4096)
		return 0;
	char *s = malloc(size + 1);
	if (!s)
		abort();
	memcpy(s, data, size);
	s[size] = '\0';
	size_t n = strlen(s);
	check_id(s);
	check_legacy(s, n);
	check_link(s);
	char key_id[TOKEN_KEY_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];
	if (!token_apikey_parse(s, key_id, hash) && strlen(key_id) != TOKEN_KEY_ID_LEN)
		fuzz_fail("API key '%s' parses to a key id of %zu characters", s, strlen(key_id));
	check_sign(data, size);
	free(s);
	return 0;
}
