/*
 * idempotency: the first answer to a write sent with an Idempotency-Key,
 * kept IDEMPOTENCY_TTL (24 hours) so that a retry gets that answer again,
 * byte for byte, instead of doing the write twice.
 *
 * A key is scoped to its tenant and the API key that sent it (its hash is
 * keyed by the tenant's lookup key over both), so two callers never share
 * one. The request it answered is remembered as a keyed hash of method,
 * path, query and body: the same key with another request is refused (422).
 * The answer is sealed under a random key of its own, wrapped by the
 * tenant's master key: a body can hold personal values (a rectified
 * record). When the answer is about one subject, erasing or deleting the
 * subject deletes it (subject.c). Both calls work in the caller's open
 * transaction, which also holds the write the answer belongs to: an answer
 * is kept exactly when its write is committed.
 */
#ifndef PRIVREG_IDEMPOTENCY_H
#define PRIVREG_IDEMPOTENCY_H

#include <stdbool.h>

#include "core/ctx.h"

#define IDEMPOTENCY_KEY_MAX 255
#define IDEMPOTENCY_TTL (24 * 3600)
#define IDEMPOTENCY_PURGE 16      /* expired answers purged with each one kept */
#define IDEMPOTENCY_CONTENT_TYPE_MAX 95

struct idempotency_answer {
	int status;
	char content_type[IDEMPOTENCY_CONTENT_TYPE_MAX + 1];
	char *body;                /* malloc'd, NUL-terminated; may be NULL for no body */
	size_t len;
};

/* 1 to IDEMPOTENCY_KEY_MAX printable ASCII characters (0x21-0x7e). */
bool idempotency_key_valid(const char *key);

/* The answer kept under key for c's API key, if it has not expired:
 * RC_OK (and *out, with an access entry for the replay), RC_NOT_FOUND, or
 * RC_UNPROCESSABLE when the key answered another request. `request` is
 * what identifies the request (method, path, query, body) as one text. */
enum rc idempotency_find(const struct core_ctx *c, const char *key, const void *request, size_t len,
                         struct idempotency_answer *out, struct errbuf *eb) WUR;
/* Keeps answer under key (replacing an expired one), about subject_id
 * (may be NULL), and purges a few expired answers of the tenant. */
enum rc idempotency_keep(const struct core_ctx *c, const char *key, const void *request, size_t len,
                         const char *subject_id, const struct idempotency_answer *a) WUR;
/* Deletes expired answers, at most max; *n how many (the sweep's part). */
enum rc idempotency_purge(const struct core_ctx *c, size_t max, size_t *n) WUR;
void idempotency_answer_fini(struct idempotency_answer *a);

#endif
