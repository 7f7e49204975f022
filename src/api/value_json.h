/*
 * value_json: the JSON shape of field values, records and subjects, shared
 * by the HTTP API and the CLI (import, subject get). It is the one place where
 * jansson values meet core's library-neutral `struct field_value`.
 *
 * Output types follow the policy: integer -> number, bool -> true/false,
 * json -> the stored JSON, everything else (decimal included, so 12.50 keeps
 * its digits) -> string.
 *
 * A number comes back as it went in: jansson prints every real with 17
 * significant digits (56.9 as 56.899999999999999), so JSON that carries
 * values is written by value_json_dumps, which prints each real with the
 * fewest digits (15, 16 or 17) that read back as the same double.
 */
#ifndef PRIVREG_VALUE_JSON_H
#define PRIVREG_VALUE_JSON_H

#include <jansson.h>

#include "core/subject.h"

struct http_request;

/* Parsed request parts point into the JSON document and into `owned`
 * strings; free them together with value_json_holder_fini. */
struct value_json_holder {
	char **owned;
	size_t nowned, alloc;
	struct field_input *fields;
	struct event_input *events;
};

void value_json_holder_fini(struct value_json_holder *h);

/* RC_OK when obj is an object whose every key is in `allowed` (NULL-ended). */
enum rc json_keys_only(json_t *obj, const char *const *allowed, struct errbuf *eb) WUR;

/* Refuses (422) a JSON text holding a number that a double cannot hold,
 * one whose magnitude overflows or underflows (1e999, -1e-999999): jansson
 * would read it as infinity or as (-)0, and what is stored would not be
 * what was sent. Run on the text before json_loadb. */
enum rc value_json_check_numbers(const char *text, size_t len, struct errbuf *eb) WUR;

/* One JSON value as a field_value. */
enum rc value_from_json(json_t *j, struct field_value *out, struct value_json_holder *h) WUR;
/* {"kind", "fields", "created_at"?, "events"?} -> record_input.
 * kind_required: false for a rectification ({"fields"?, "events"?}). */
enum rc record_input_from_json(json_t *obj, bool kind_required, struct record_input *out,
                               struct value_json_holder *h, struct errbuf *eb) WUR;

/* Like json_dumps (flags: JSON_COMPACT, JSON_INDENT(n); any value may be
 * the root), but each real is printed with the fewest significant digits,
 * 15 to 17, that read back as the same double. NULL when out of memory. */
char *value_json_dumps(const json_t *j, size_t flags);
/* http_reply for answers that carry values: body (taken) is written by
 * value_json_dumps into the request's text. */
enum rc value_json_reply(struct http_request *rq, int status, json_t *body) WUR;

json_t *value_to_json(const struct field_output *f);
json_t *record_view_to_json(const struct record_view *v);
json_t *subject_view_to_json(const struct subject_view *v);

#endif
