/*
 * fuzz_field: any bytes as the value of a field of each of the policy's
 * types. Input: byte 0 picks the field (one of each type), byte 1 the JSON
 * kind the value arrived as (a string, a JSON number as value_from_json
 * prints it, or true/false), byte 2 bit 0 repeats the text up to FIELD_VALUE_MAX (so
 * that the size bound is reached without a megabyte input); the rest is
 * the text.
 *
 * Checked: normalising is idempotent. A canonical value, sent back in the
 * form a read gives it out (an integer as a number, a bool as true/false,
 * json as the stored JSON, read by jansson as the API would read it back,
 * everything else as a string), is accepted and comes out unchanged: what
 * the register gives out it takes back as it is. The lookup form is
 * idempotent too. Values are written into buffers capped at
 * FIELD_VALUE_MAX, as core's are.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "api/value_json.h"
#include "core/field.h"
#include "fuzz.h"

static const char policy_text[] =
	"version: \"1\"\n"
	"controller:\n"
	"  name: Fuzz OÜ\n"
	"  email: info@fuzz.example\n"
	"  authority: { name: Andmekaitse Inspektsioon, email: info@aki.ee }\n"
	"languages: [en]\n"
	"fields:\n"
	"  text: { type: text, max: 100000 }\n"
	"  email: { type: email, lookup: true }\n"
	"  phone: { type: phone, lookup: true }\n"
	"  date: { type: date }\n"
	"  datetime: { type: datetime }\n"
	"  enum: { type: enum, values: [a, bb, \"ü\"] }\n"
	"  decimal: { type: decimal }\n"
	"  integer: { type: integer }\n"
	"  bool: { type: bool }\n"
	"  ip: { type: ip, truncate_after: 30 days }\n"
	"  country: { type: country }\n"
	"  json: { type: json }\n"
	"purposes:\n"
	"  contract: { basis: contract, title: { en: Contract } }\n"
	"records:\n"
	"  all:\n"
	"    fields: [text, email, phone, date, datetime, enum, decimal, integer, bool, ip, country, json]\n"
	"    purposes: [contract]\n"
	"    keep: while active\n";

static struct policy *policy;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct policy_diags d = {0};
	if (policy_parse(policy_text, sizeof policy_text - 1, &policy, &d)) {
		for (size_t i = 0; i < d.n; i++)
			fprintf(stderr, "fuzz_field policy:%d: %s\n", d.v[i].line, d.v[i].msg);
		fuzz_fail("the field policy does not parse");
	}
	policy_diags_fini(&d);
	return 0;
}

static enum value_kind natural_kind(enum field_type t)
{
	switch (t) {
	case FT_INTEGER: return VAL_NUMBER;
	case FT_BOOL: return VAL_BOOL;
	case FT_JSON: return VAL_JSON;
	default: return VAL_STRING;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3 || size > FIELD_VALUE_MAX + 3)
		return 0;
	const struct policy_field *f = &policy->fields[data[0] % policy->nfields];
	static const enum value_kind kinds[] = {VAL_STRING, VAL_NUMBER, VAL_BOOL};
	enum value_kind kind = kinds[data[1] % 3];
	const char *text = (const char *)data + 3;
	size_t len = size - 3;
	char *stretched = NULL;
	if (kind == VAL_BOOL) {
		text = data[1] & 4 ? "true" : "false";
		len = strlen(text);
	} else if (data[2] & 1 && len > 0) {
		size_t times = FIELD_VALUE_MAX / len;
		stretched = malloc(times * len + 1);
		if (!stretched)
			abort();
		for (size_t i = 0; i < times; i++)
			memcpy(stretched + i * len, text, len);
		text = stretched;
		len *= times;
	}
	char *printed = NULL;
	if (kind == VAL_NUMBER) {
		/* A number arrives as value_from_json writes it: jansson's number,
		 * printed by value_json_dumps. Nothing else has that kind. */
		json_t *j = json_loadb(text, len, JSON_DECODE_ANY, NULL);
		printed = json_is_number(j) ? value_json_dumps(j, JSON_COMPACT) : NULL;
		json_decref(j);
		free(stretched);
		if (!printed)
			return 0;
		text = stretched = printed;
		len = strlen(printed);
	}
	struct field_value in = {kind, text, len};
	struct buf once, twice, look1, look2;
	struct errbuf eb = {""};
	buf_init(&once, FIELD_VALUE_MAX);
	buf_init(&twice, FIELD_VALUE_MAX);
	buf_init(&look1, FIELD_VALUE_MAX);
	buf_init(&look2, FIELD_VALUE_MAX);
	if (!field_normalize(f, &in, &once, &eb)) {
		struct field_value again = {natural_kind(f->type), once.data ? once.data : "", once.len};
		json_t *stored = NULL;
		if (f->type == FT_JSON && once.len && once.data[0] == '"') {
			/* A string given to a json field is stored as a JSON string,
			 * and read back, by jansson, as that string. */
			stored = json_loadb(once.data, once.len, JSON_DECODE_ANY, NULL);
			if (!json_is_string(stored))
				fuzz_fail("field %s: the stored JSON string does not parse", f->name);
			again = (struct field_value){VAL_STRING, json_string_value(stored), json_string_length(stored)};
		}
		enum rc rc = field_normalize(f, &again, &twice, &eb);
		if (rc)
			fuzz_fail("field %s: a canonical value (%zu bytes) is refused when sent back: %s", f->name, once.len,
			          err_msg(&eb, rc));
		if (twice.len != once.len || memcmp(twice.data, once.data, once.len))
			fuzz_fail("field %s: normalising twice changes the value", f->name);
		if (once.len && memchr(once.data, 0, once.len))
			fuzz_fail("field %s: a canonical value holds a NUL", f->name);
		if (field_lookup_form(f, once.data, once.len, &look1) ||
		    field_lookup_form(f, look1.data, look1.len, &look2))
			fuzz_fail("field %s: no lookup form", f->name);
		if (look1.len != look2.len || memcmp(look1.data, look2.data, look1.len))
			fuzz_fail("field %s: the lookup form is not idempotent", f->name);
		json_decref(stored);
	}
	buf_fini(&once);
	buf_fini(&twice);
	buf_fini(&look1);
	buf_fini(&look2);
	free(stretched);
	return 0;
}
