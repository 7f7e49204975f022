/* idempotency: the first answers to writes, for their retries (see idempotency.h). */
#include "core/idempotency.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "crypto/token.h"
#include "store/store.h"

bool idempotency_key_valid(const char *key)
{
	size_t n = key ? strlen(key) : 0;
	if (n < 1 || n > IDEMPOTENCY_KEY_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (key[i] < 0x21 || key[i] > 0x7e)
			return false;
	return true;
}

/* The key's hash: the API key's id and the caller's key, keyed by the
 * tenant's lookup key under a scope of its own. */
static void key_hash(const struct core_ctx *c, const char *key, unsigned char out[VAULT_HASH_LEN])
{
	char b[TOKEN_KEY_ID_LEN + IDEMPOTENCY_KEY_MAX + 8]; /* both are bounded: nothing is cut */
	int n = snprintf(b, sizeof b, "%s\n%s", c->key_id ? c->key_id : "cli", key);
	vault_lookup_hash(&c->tenant->vault, "idempotency:key", b, n > 0 ? (size_t)n : 0, out);
}

static void fingerprint(const struct core_ctx *c, const void *request, size_t len, unsigned char out[VAULT_HASH_LEN])
{
	vault_lookup_hash(&c->tenant->vault, "idempotency:request", request, len, out);
}

/* What binds a sealed answer and its wrapped key to their row. */
static void answer_ad(const unsigned char hash[VAULT_HASH_LEN], char out[64])
{
	int n = snprintf(out, 64, "idempotency:");
	for (size_t i = 0; i < VAULT_HASH_LEN; i++)
		n += snprintf(out + n, (size_t)(64 - n), "%02x", hash[i]);
}

void idempotency_answer_fini(struct idempotency_answer *a)
{
	if (!a)
		return;
	free(a->body);
	memset(a, 0, sizeof *a);
}

/* The sealed form: "STATUS CONTENT-TYPE\n" then the body. */
static enum rc answer_open(const struct core_ctx *c, const struct store_idempotency *e,
                           struct idempotency_answer *out)
{
	char ad[64];
	struct subject_key k;
	struct buf plain;
	answer_ad(e->key_hash, ad);
	enum rc rc = vault_subject_key_unwrap(&c->tenant->vault, ad, e->wrapped_key, e->wrapped_len, &k);
	if (rc)
		return rc;
	buf_init(&plain, e->answer_len + 1);
	rc = vault_open(&k, ad, e->answer, e->answer_len, &plain);
	vault_subject_key_wipe(&k);
	const char *nl = rc ? NULL : memchr(plain.data, '\n', plain.len);
	int status = 0, used = 0;
	if (!rc && (!nl || sscanf(plain.data, "%3d %n", &status, &used) != 1 || status < 100 || status > 599 ||
	            (size_t)(nl - plain.data - used) > IDEMPOTENCY_CONTENT_TYPE_MAX))
		rc = RC_CRYPTO;
	if (!rc) {
		memset(out, 0, sizeof *out);
		out->status = status;
		memcpy(out->content_type, plain.data + used, (size_t)(nl - plain.data - used));
		out->len = plain.len - (size_t)(nl + 1 - plain.data);
		out->body = xmalloc(out->len + 1);
		memcpy(out->body, nl + 1, out->len);
		out->body[out->len] = '\0';
	}
	buf_fini(&plain);
	return rc;
}

enum rc idempotency_find(const struct core_ctx *c, const char *key, const void *request, size_t len,
                         struct idempotency_answer *out, struct errbuf *eb)
{
	struct store_idempotency e;
	unsigned char fp[VAULT_HASH_LEN];
	memset(out, 0, sizeof *out);
	if (!idempotency_key_valid(key))
		return err_set(eb, RC_UNPROCESSABLE, "Idempotency-Key: 1 to %d printable ASCII characters",
		               IDEMPOTENCY_KEY_MAX);
	key_hash(c, key, e.key_hash);
	unsigned char hash[VAULT_HASH_LEN];
	memcpy(hash, e.key_hash, sizeof hash);
	enum rc rc = store_idempotency_get(c->store, c->tenant->id, hash, &e);
	if (rc)
		return rc;
	fingerprint(c, request, len, fp);
	if (e.expires_at <= core_now(c))
		rc = RC_NOT_FOUND; /* expired: the key is free again */
	else if (memcmp(fp, e.fingerprint, sizeof fp))
		rc = err_set(eb, RC_UNPROCESSABLE,
		             "this Idempotency-Key was used for another request (another method, path or body)");
	else
		rc = answer_open(c, &e, out);
	if (!rc) {
		/* The answer goes out again: its access is logged like the first. */
		char detail[32];
		snprintf(detail, sizeof detail, "status=%d", out->status);
		struct audit_event ev = {"idempotency.replay", e.subject_id[0] ? e.subject_id : NULL, NULL, "ok", detail};
		rc = audit_access(c, &ev);
		if (rc)
			idempotency_answer_fini(out);
	}
	store_idempotency_fini(&e);
	return rc;
}

enum rc idempotency_keep(const struct core_ctx *c, const char *key, const void *request, size_t len,
                         const char *subject_id, const struct idempotency_answer *a)
{
	struct store_idempotency e = {.created_at = core_now(c), .expires_at = core_now(c) + IDEMPOTENCY_TTL};
	struct subject_key k;
	struct buf plain;
	char ad[64];
	if (!idempotency_key_valid(key) || strlen(a->content_type) > IDEMPOTENCY_CONTENT_TYPE_MAX ||
	    strchr(a->content_type, '\n'))
		return RC_INTERNAL;
	key_hash(c, key, e.key_hash);
	fingerprint(c, request, len, e.fingerprint);
	if (subject_id)
		snprintf(e.subject_id, sizeof e.subject_id, "%s", subject_id);
	answer_ad(e.key_hash, ad);
	buf_init(&plain, a->len + IDEMPOTENCY_CONTENT_TYPE_MAX + 16);
	enum rc rc = buf_printf(&plain, "%d %s\n", a->status, a->content_type);
	if (!rc && a->len)
		rc = buf_append(&plain, a->body, a->len);
	if (!rc) {
		e.wrapped_len = vault_subject_key_new(&c->tenant->vault, ad, &k, e.wrapped_key);
		e.answer_len = plain.len + VAULT_SEAL_OVERHEAD;
		e.answer = xmalloc(e.answer_len);
		vault_seal(&k, ad, plain.data, plain.len, e.answer);
		vault_subject_key_wipe(&k);
		rc = store_idempotency_put(c->store, c->tenant->id, &e);
	}
	size_t purged = 0;
	if (!rc)
		rc = store_idempotency_expire(c->store, c->tenant->id, core_now(c), IDEMPOTENCY_PURGE, &purged);
	buf_fini(&plain);
	store_idempotency_fini(&e);
	return rc;
}

enum rc idempotency_purge(const struct core_ctx *c, size_t max, size_t *n)
{
	enum rc rc = store_begin(c->store);
	if (rc)
		return rc;
	rc = store_idempotency_expire(c->store, c->tenant->id, core_now(c), max, n);
	return core_end(c, rc);
}
