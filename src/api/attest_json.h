/*
 * attest_json: an attestation (core/attest.h) as the signed JSON document
 * a DPO hands over, its check, and its HTML rendering for people.
 *
 * The document is {"tenant", "as_of", "period": {"from", "to"}, "claims":
 * [{"name", "holds", "evidence"}], "signature": {"alg", "key_id",
 * "value"}}. The signature is Ed25519 (crypto/signkey.h) over the
 * canonical text of the document without its "signature" member: jansson's
 * JSON_COMPACT | JSON_SORT_KEYS, UTF-8, no newline (what Python's
 * json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
 * gives too: the document holds no floating-point numbers). value is the
 * signature in standard base64. Times are ISO 8601 UTC text, or null.
 * Shared by the server and the CLI (an exception in scripts/check-layers).
 */
#ifndef PRIVREG_ATTEST_JSON_H
#define PRIVREG_ATTEST_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "base/err.h"
#include "core/attest.h"
#include "crypto/signkey.h"

/* The largest document verify reads. */
#define ATTEST_JSON_MAX (64 * 1024 * 1024)

/* The document without its signature. */
json_t *attest_json_body(const struct attestation *a);
/* The signed document as text (indented, keys sorted, newline at the end). */
char *attest_json_document(const struct attestation *a, const struct signkey *k);
/*
 * Parses text and checks its signature against pk: RC_OK when it is
 * intact; RC_CRYPTO when the signature does not match (a changed byte) or
 * was made by another key (eb says which); RC_UNPROCESSABLE when the text
 * is no attestation. *doc (may be NULL) gets the parsed document either way
 * once it parsed.
 */
enum rc attest_json_verify(const char *text, size_t len, const unsigned char pk[SIGNKEY_PUBLIC_LEN], json_t **doc,
                           struct errbuf *eb) WUR;
/* The document as one HTML page with a print stylesheet (free it); NULL
 * when it would be larger than ATTEST_JSON_MAX. */
char *attest_json_html(const json_t *doc);
/* The public key as the JSON line `privreg attest key` prints. */
char *attest_json_public_key(const struct signkey *k);

#endif
