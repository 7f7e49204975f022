/*
 * field: validation and normalisation of one field value by its policy type.
 *
 * Values arrive typed but library-neutral (`struct field_value`): the API
 * turns JSON into these, the CLI turns CSV cells into these. A valid value is
 * written to `out` in its canonical text form, which is what gets encrypted
 * and what comes back on read: e-mail with a lower-case domain, phone in
 * E.164, datetime in UTC with Z, ip as inet_ntop prints it, country upper-case,
 * json as compact JSON text. Error messages name the field, never the value.
 */
#ifndef PRIVREG_FIELD_H
#define PRIVREG_FIELD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "core/policy.h"

enum value_kind {
	VAL_NULL,   /* "no value": removes a field on rectification */
	VAL_STRING, /* text is the raw string */
	VAL_NUMBER, /* text is the JSON number literal */
	VAL_BOOL,   /* text is "true" or "false" */
	VAL_JSON,   /* text is a compact JSON object or array */
};

struct field_value {
	enum value_kind kind;
	const char *text;
	size_t len;
};

/* Upper bound of any canonical value (a json field's text). */
#define FIELD_VALUE_MAX (64 * 1024)

/* Validates `in` against f and appends its canonical form to out. */
enum rc field_normalize(const struct policy_field *f, const struct field_value *in,
                        struct buf *out, struct errbuf *eb) WUR;

/* The form a lookup hash is computed over: e-mail lower-cased; otherwise
 * the canonical value itself. Writes to out (reset first). */
enum rc field_lookup_form(const struct policy_field *f, const char *canonical, size_t len,
                          struct buf *out) WUR;

bool field_email_ok(const char *s);

/* The rule of text fields, for every free text a person gives (a consent's
 * source and wording, a reason, a legal reference): well-formed UTF-8, no
 * control character but tab, line feed and carriage return, no DEL. Such
 * texts are stored, shown and mailed as given, so no terminal escape or
 * bell may get in. NULL passes (the text is absent). */
bool field_text_ok(const char *s);
/* The same as the caller's refusal: RC_UNPROCESSABLE naming the input. */
enum rc field_text_check(const char *name, const char *s, struct errbuf *eb) WUR;

/* Whole years between a birth date and an instant (both UTC seconds). */
int field_age_years(int64_t birth, int64_t now);

#endif
