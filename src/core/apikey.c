/* apikey: staff keys (see apikey.h). */
#include "core/apikey.h"

#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "core/audit.h"

static const char *const role_names[ROLE__COUNT] = {
	[ROLE_ADMIN] = "admin", [ROLE_DPO] = "dpo", [ROLE_SUPPORT] = "support",
	[ROLE_MARKETING] = "marketing", [ROLE_AUDITOR] = "auditor",
};

int apikey_role(const char *name)
{
	for (int i = 0; i < ROLE__COUNT; i++)
		if (!strcmp(role_names[i], name))
			return i;
	return -1;
}

const char *apikey_role_name(enum role r)
{
	return (unsigned)r < ROLE__COUNT ? role_names[r] : "?";
}

enum rc apikey_create(const struct core_ctx *c, const char *role, char key_id[TOKEN_KEY_ID_LEN + 1],
                      char key[TOKEN_APIKEY_MAX], struct errbuf *eb)
{
	if (apikey_role(role) < 0)
		return err_set(eb, RC_UNPROCESSABLE, "role must be one of admin, dpo, support, marketing, auditor");
	struct store_apikey k = {.tenant_id = c->tenant->id, .role = (char *)role, .created_at = core_now(c)};
	token_apikey_new(k.key_id, key, k.hash);
	char detail[64];
	snprintf(detail, sizeof detail, "key=%s role=%s", k.key_id, role);
	struct audit_event ev = {"key.create", NULL, NULL, "ok", detail};
	enum rc rc = store_begin(c->store);
	if (!rc)
		rc = store_apikey_insert(c->store, &k);
	if (!rc)
		rc = audit_append(c, &ev);
	rc = core_end(c, rc);
	if (rc)
		sodium_memzero(key, TOKEN_APIKEY_MAX);
	else
		memcpy(key_id, k.key_id, sizeof k.key_id);
	return rc;
}

enum rc apikey_revoke(const struct core_ctx *c, const char *key_id, struct errbuf *eb)
{
	char detail[64];
	snprintf(detail, sizeof detail, "key=%.20s", key_id);
	struct audit_event ev = {"key.revoke", NULL, NULL, "ok", detail};
	enum rc rc = store_begin(c->store);
	if (!rc)
		rc = store_apikey_revoke(c->store, c->tenant->id, key_id, core_now(c));
	if (!rc)
		rc = audit_append(c, &ev);
	rc = core_end(c, rc);
	return rc == RC_NOT_FOUND ? err_set(eb, rc, "no valid key '%.20s'", key_id) : rc;
}

enum rc apikey_authenticate(struct store *s, const char *presented, struct store_apikey *out)
{
	char key_id[TOKEN_KEY_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];
	memset(out, 0, sizeof *out);
	if (token_apikey_parse(presented, key_id, hash))
		return RC_UNAUTHORIZED;
	enum rc rc = store_apikey_get(s, key_id, out);
	if (rc == RC_NOT_FOUND)
		return RC_UNAUTHORIZED;
	if (rc)
		return rc;
	if (!token_hash_equal(out->hash, hash) || out->revoked_at || apikey_role(out->role) < 0) {
		store_apikey_fini(out);
		return RC_UNAUTHORIZED;
	}
	return RC_OK;
}

enum rc apikey_authenticate_cached(struct apikey_cache *cache, struct store *s, const char *presented,
                                   int64_t now_ms, struct apikey_identity *out)
{
	char key_id[TOKEN_KEY_ID_LEN + 1];
	unsigned char hash[TOKEN_HASH_LEN];
	if (token_apikey_parse(presented, key_id, hash))
		return RC_UNAUTHORIZED;
	for (unsigned i = 0; i < APIKEY_CACHE_SLOTS; i++) {
		if (strcmp(cache->v[i].id.key_id, key_id) || now_ms - cache->v[i].checked_ms >= APIKEY_CACHE_MS)
			continue;
		if (!token_hash_equal(cache->v[i].hash, hash))
			break; /* a wrong secret for a known id: ask the database, count the failure */
		*out = cache->v[i].id;
		return RC_OK;
	}
	struct store_apikey key;
	enum rc rc = apikey_authenticate(s, presented, &key);
	if (rc)
		return rc;
	memcpy(out->key_id, key.key_id, sizeof out->key_id);
	out->tenant_id = key.tenant_id;
	out->role = (enum role)apikey_role(key.role);
	store_apikey_fini(&key);
	unsigned slot = cache->next++ % APIKEY_CACHE_SLOTS;
	for (unsigned i = 0; i < APIKEY_CACHE_SLOTS; i++)
		if (!strcmp(cache->v[i].id.key_id, key_id))
			slot = i; /* refresh the key's own entry */
	cache->v[slot].id = *out;
	memcpy(cache->v[slot].hash, hash, sizeof hash);
	cache->v[slot].checked_ms = now_ms;
	return RC_OK;
}

void apikey_cache_wipe(struct apikey_cache *cache)
{
	sodium_memzero(cache, sizeof *cache);
}

enum rc apikey_list(const struct core_ctx *c, struct store_apikey **out, size_t *n)
{
	return store_apikey_list(c->store, c->tenant->id, out, n);
}
