/* audit: hash-chained, append-only log (see audit.h). */
#include "core/audit.h"

#include <sodium.h>
#include <string.h>

#include "base/log.h"

#define VERIFY_PAGE 1000

/* Each field is length-prefixed (4 bytes LE; 0xffffffff for NULL) so that
 * no two different entries hash alike. */
static void put_field(crypto_generichash_state *st, const char *s)
{
	uint32_t n = s ? (uint32_t)strlen(s) : 0xffffffffu;
	unsigned char len[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
	                        (unsigned char)(n >> 24)};
	crypto_generichash_update(st, len, sizeof len);
	if (s)
		crypto_generichash_update(st, (const unsigned char *)s, strlen(s));
}

static void put_int(crypto_generichash_state *st, int64_t v)
{
	unsigned char b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)((uint64_t)v >> (8 * i));
	crypto_generichash_update(st, b, sizeof b);
}

static void entry_hash(const struct vault *v, const struct store_audit *e,
                       unsigned char out[STORE_AUDIT_HASH_LEN])
{
	crypto_generichash_state st;
	crypto_generichash_init(&st, v->audit_key, sizeof v->audit_key, STORE_AUDIT_HASH_LEN);
	crypto_generichash_update(&st, e->prev_hash, STORE_AUDIT_HASH_LEN);
	put_int(&st, v->tenant_id);
	put_int(&st, e->seq);
	put_int(&st, e->at);
	put_field(&st, e->key_id);
	put_field(&st, e->role);
	put_field(&st, e->action);
	put_field(&st, e->subject_id);
	put_field(&st, e->record_id);
	put_field(&st, e->purpose);
	put_field(&st, e->outcome);
	put_field(&st, e->detail);
	crypto_generichash_final(&st, out, STORE_AUDIT_HASH_LEN);
}

enum rc audit_append(const struct core_ctx *c, const struct audit_event *ev)
{
	struct store_audit e = {
		.at = core_now(c),
		.key_id = (char *)(c->key_id ? c->key_id : "cli"),
		.role = (char *)(c->role ? c->role : "admin"),
		.action = (char *)ev->action,
		.subject_id = (char *)ev->subject_id,
		.record_id = (char *)ev->record_id,
		.purpose = (char *)c->purpose,
		.outcome = (char *)(ev->outcome ? ev->outcome : "ok"),
		.detail = (char *)ev->detail,
	};
	enum rc rc = store_audit_head(c->store, c->tenant->id, &e.seq, e.prev_hash);
	if (rc)
		return rc;
	e.seq++;
	entry_hash(&c->tenant->vault, &e, e.hash);
	return store_audit_insert(c->store, c->tenant->id, &e);
}

enum rc audit_access(const struct core_ctx *c, const struct audit_event *e)
{
	enum rc rc = store_begin_relaxed(c->store);
	if (rc)
		return rc;
	rc = audit_append(c, e);
	if (rc) {
		store_rollback(c->store);
		log_error("audit append failed tenant=%lld action=%s", (long long)c->tenant->id, e->action);
		return rc;
	}
	return store_commit(c->store);
}

enum rc audit_query(const struct core_ctx *c, const struct store_audit_filter *f,
                    struct store_audit **out, size_t *n)
{
	struct store_audit_filter g = *f;
	if (g.limit == 0 || g.limit > AUDIT_PAGE_MAX)
		g.limit = AUDIT_PAGE_MAX;
	return store_audit_list(c->store, c->tenant->id, &g, out, n);
}

enum rc audit_verify(struct store *s, const struct tenant *t, struct audit_verify_result *out)
{
	unsigned char prev[STORE_AUDIT_HASH_LEN] = {0}, want[STORE_AUDIT_HASH_LEN];
	struct store_audit_filter f = {.limit = VERIFY_PAGE};
	*out = (struct audit_verify_result){.ok = true};
	for (;;) {
		struct store_audit *v = NULL;
		size_t n = 0;
		enum rc rc = store_audit_list(s, t->id, &f, &v, &n);
		if (rc)
			return rc;
		for (size_t i = 0; i < n && out->ok; i++) {
			entry_hash(&t->vault, &v[i], want);
			/* A gap in seq, a wrong link or a wrong hash: the chain is broken here. */
			if (v[i].seq != out->entries + 1 || sodium_memcmp(v[i].prev_hash, prev, sizeof prev) ||
			    sodium_memcmp(v[i].hash, want, sizeof want)) {
				out->ok = false;
				out->first_bad = out->entries + 1;
				break;
			}
			memcpy(prev, v[i].hash, sizeof prev);
			out->entries++;
			f.after_seq = v[i].seq;
		}
		store_audits_free(v, n);
		if (!out->ok || n < VERIFY_PAGE)
			return RC_OK;
	}
}
