/*
 * err: the one error table of privreg.
 *
 * Every fallible function returns an `rc`; RC_OK is zero so callers can write
 * `rc = f(); if (rc) goto out;`. Each code carries the HTTP status the API
 * answers with and a stable machine name, so the CLI, the API and the logs
 * speak of the same failure in the same words. Details that help a caller fix
 * the input (which field, which rule) travel in a `struct errbuf`; they name
 * fields and rules, never personal values.
 */
#ifndef PRIVREG_ERR_H
#define PRIVREG_ERR_H

#include <stddef.h>

#define WUR __attribute__((warn_unused_result))
#define PRINTF(a, b) __attribute__((format(printf, a, b)))

/* ERR(NAME, http_status, code_string, message) */
#define ERR_LIST(ERR) \
	ERR(OK,             200, "ok",                 "ok") \
	ERR(INVALID,        400, "invalid",            "the request is malformed") \
	ERR(UNAUTHORIZED,   401, "unauthorized",       "a valid API key is required") \
	ERR(FORBIDDEN,      403, "forbidden",          "this key may not do that") \
	ERR(NOT_FOUND,      404, "not_found",          "no such object") \
	ERR(METHOD,         405, "method_not_allowed", "method not allowed") \
	ERR(CONFLICT,       409, "conflict",           "the object is in a conflicting state") \
	ERR(EXISTS,         409, "exists",             "the object exists already") \
	ERR(GONE,           410, "gone",               "the data has been erased") \
	ERR(TOO_LARGE,      413, "too_large",          "the input is over its size limit") \
	ERR(MEDIA_TYPE,     415, "unsupported_media",  "unsupported content type") \
	ERR(UNPROCESSABLE,  422, "unprocessable",      "the input does not satisfy the policy") \
	ERR(POLICY,         422, "policy_invalid",     "the policy file is invalid") \
	ERR(TOO_MANY,       429, "too_many_requests",  "too many attempts, try later") \
	ERR(IO,             500, "io",                 "an input/output error occurred") \
	ERR(DB,             500, "database",           "a database error occurred") \
	ERR(CRYPTO,         500, "crypto",             "data failed to decrypt or verify") \
	ERR(INTERNAL,       500, "internal",           "internal error") \
	ERR(UNAVAILABLE,    503, "unavailable",        "the service is unavailable") \
	ERR(UNSUPPORTED,    501, "unsupported",        "the store does not support this")

#define ERR_ENUM(name, status, code, msg) RC_##name,
enum rc { ERR_LIST(ERR_ENUM) RC__COUNT };
#undef ERR_ENUM

/* Stable machine name, e.g. "not_found". */
const char *rc_code(enum rc rc);
/* Default human message. */
const char *rc_str(enum rc rc);
/* HTTP status the API answers with. */
int rc_http_status(enum rc rc);

/*
 * Detail of the last failure, for the person who has to fix the input.
 * Functions that take one may leave it untouched on success. Room for two
 * long paths: a message that names a file and the command that fixes it
 * must not lose the fix to a deep directory.
 */
struct errbuf {
	char msg[1024];
};

/* Formats into eb (which may be NULL) and returns rc, so a caller can write
 * `return err_set(eb, RC_UNPROCESSABLE, "field %s: too long", name);`. */
enum rc err_set(struct errbuf *eb, enum rc rc, const char *fmt, ...) PRINTF(3, 4);

/* eb's message if one was set, else the table's. */
const char *err_msg(const struct errbuf *eb, enum rc rc);

#endif
