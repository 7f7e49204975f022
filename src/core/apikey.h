/*
 * apikey: staff API keys. A key belongs to one tenant and has one role; only
 * the hash of its secret is stored, and a presented key is compared in
 * constant time. Creating and revoking keys is audited.
 */
#ifndef PRIVREG_APIKEY_H
#define PRIVREG_APIKEY_H

#include <stdbool.h>

#include "core/ctx.h"
#include "crypto/token.h"
#include "store/store.h"

enum role { ROLE_ADMIN, ROLE_DPO, ROLE_SUPPORT, ROLE_MARKETING, ROLE_AUDITOR, ROLE__COUNT };

/* "admin" -> ROLE_ADMIN; -1 for an unknown name. */
int apikey_role(const char *name);
const char *apikey_role_name(enum role r);

enum rc apikey_create(const struct core_ctx *c, const char *role, char key_id[TOKEN_KEY_ID_LEN + 1],
                      char key[TOKEN_APIKEY_MAX], struct errbuf *eb) WUR;
enum rc apikey_revoke(const struct core_ctx *c, const char *key_id, struct errbuf *eb) WUR;

/* Checks a presented key: RC_UNAUTHORIZED when unknown, revoked or wrong.
 * On success *out describes the key (store_apikey_fini it). */
enum rc apikey_authenticate(struct store *s, const char *presented, struct store_apikey *out) WUR;

/* Who a valid key is. */
struct apikey_identity {
	char key_id[TOKEN_KEY_ID_LEN + 1];
	int64_t tenant_id;
	enum role role;
};

/*
 * A small per-thread memory of keys found valid, so that a busy client is
 * not looked up in the database on every request. An entry is trusted for
 * APIKEY_CACHE_MS only: a key revoked by another process stops working on
 * every thread within that time. Only the hash of a secret is kept, and
 * compared in constant time. Not shared between threads: no lock.
 */
#define APIKEY_CACHE_SLOTS 16
#define APIKEY_CACHE_MS 1000

struct apikey_cache {
	struct {
		struct apikey_identity id;
		unsigned char hash[TOKEN_HASH_LEN];
		int64_t checked_ms;
	} v[APIKEY_CACHE_SLOTS];
	unsigned next;
};

enum rc apikey_authenticate_cached(struct apikey_cache *cache, struct store *s, const char *presented,
                                   int64_t now_ms, struct apikey_identity *out) WUR;
void apikey_cache_wipe(struct apikey_cache *cache);

/* The tenant's keys, revoked ones included (store_apikeys_free them). */
enum rc apikey_list(const struct core_ctx *c, struct store_apikey **out, size_t *n) WUR;

#endif
