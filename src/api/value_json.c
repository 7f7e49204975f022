/* value_json: JSON <-> field values, records and subjects (see value_json.h). */
#include "api/value_json.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api/http.h"
#include "base/xalloc.h"

/* What value_json_dumps writes at most: the largest answer (an export of a
 * subject with many records) stays far below it. */
#define DUMP_MAX ((size_t)1 << 30)

void value_json_holder_fini(struct value_json_holder *h)
{
	for (size_t i = 0; i < h->nowned; i++)
		free(h->owned[i]);
	free(h->owned);
	free(h->fields);
	free(h->events);
	memset(h, 0, sizeof *h);
}

enum rc json_keys_only(json_t *obj, const char *const *allowed, struct errbuf *eb)
{
	const char *key;
	json_t *v;
	if (!json_is_object(obj))
		return err_set(eb, RC_UNPROCESSABLE, "the body must be a JSON object");
	json_object_foreach(obj, key, v) {
		bool ok = false;
		for (const char *const *a = allowed; *a && !ok; a++)
			ok = !strcmp(*a, key);
		if (!ok)
			return err_set(eb, RC_UNPROCESSABLE, "unknown key '%.64s'", key);
	}
	return RC_OK;
}

static const char *own(struct value_json_holder *h, char *s)
{
	if (h->nowned == h->alloc) {
		h->alloc = h->alloc ? h->alloc * 2 : 8;
		h->owned = xrealloc(h->owned, h->alloc * sizeof *h->owned);
	}
	h->owned[h->nowned++] = s;
	return s;
}

/* A decimal literal as its significant digits and the power of ten of the
 * last one: "100.0" and "1e2" are both ("1", 2); zero is ("", 0). */
struct decimal {
	char digits[800];
	size_t n;
	long exp;
};

static void decimal_of(const char *t, struct decimal *d)
{
	d->n = 0;
	d->exp = 0;
	long frac = 0;
	bool point = false, lead = true;
	if (*t == '-' || *t == '+')
		t++;
	for (; *t && *t != 'e' && *t != 'E'; t++) {
		if (*t == '.') {
			point = true;
			continue;
		}
		if (point)
			frac++;
		if (lead && *t == '0')
			continue;
		lead = false;
		if (d->n < sizeof d->digits)
			d->digits[d->n++] = *t;
		else
			d->exp++; /* digits beyond the buffer: only their count matters here */
	}
	if (*t)
		d->exp += strtol(t + 1, NULL, 10);
	d->exp -= frac;
	while (d->n && d->digits[d->n - 1] == '0') {
		d->n--;
		d->exp++;
	}
	if (!d->n)
		d->exp = 0;
}

/* Whether the double nearest to literal num, written back as the API
 * writes it (real_text), is the same decimal number. */
static void real_text(double d, char out[40]);
static bool kept_exactly(const char *num)
{
	if (!strpbrk(num, ".eE"))
		return true; /* an integer: jansson keeps it, or refuses it, itself */
	char back[40];
	real_text(strtod(num, NULL), back);
	struct decimal a, b;
	decimal_of(num, &a);
	decimal_of(back, &b);
	return a.n == b.n && a.exp == b.exp && !memcmp(a.digits, b.digits, a.n);
}

enum rc value_json_check_numbers(const char *text, size_t len, struct errbuf *eb)
{
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		char c = text[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
			continue;
		}
		if (c == '"') {
			in_string = true;
			continue;
		}
		if (c != '-' && (c < '0' || c > '9'))
			continue;
		size_t n = 0;
		while (i + n < len && text[i + n] && strchr("+-.0123456789eE", text[i + n]))
			n++;
		char small[64], *num = n < sizeof small ? small : xmalloc(n + 1);
		memcpy(num, text + i, n);
		num[n] = '\0';
		errno = 0;
		(void)strtod(num, NULL);
		bool range = errno == ERANGE;
		/* A real with more digits than a double holds would be kept
		 * rounded (0.30000000000000000001 as 0.3): refused, not cut. */
		bool exact = range || kept_exactly(num);
		if (num != small)
			free(num);
		if (range)
			return err_set(eb, RC_UNPROCESSABLE,
			               "a number at byte %zu is too large or too close to zero to be kept exactly; send it as a string",
			               i + 1);
		if (!exact)
			return err_set(eb, RC_UNPROCESSABLE,
			               "a number at byte %zu has more digits than can be kept exactly (a double holds 15 to 17); "
			               "send it as a string",
			               i + 1);
		i += n - 1;
	}
	return RC_OK;
}

enum rc value_from_json(json_t *j, struct field_value *out, struct value_json_holder *h)
{
	switch (json_typeof(j)) {
	case JSON_NULL:
		*out = (struct field_value){VAL_NULL, "", 0};
		return RC_OK;
	case JSON_TRUE:
		*out = (struct field_value){VAL_BOOL, "true", 4};
		return RC_OK;
	case JSON_FALSE:
		*out = (struct field_value){VAL_BOOL, "false", 5};
		return RC_OK;
	case JSON_STRING:
		*out = (struct field_value){VAL_STRING, json_string_value(j), json_string_length(j)};
		return RC_OK;
	case JSON_INTEGER:
	case JSON_REAL:
	case JSON_OBJECT:
	case JSON_ARRAY: {
		char *s = value_json_dumps(j, JSON_COMPACT);
		if (!s)
			return RC_INVALID;
		own(h, s);
		bool num = json_is_number(j);
		*out = (struct field_value){num ? VAL_NUMBER : VAL_JSON, s, strlen(s)};
		return RC_OK;
	}
	}
	return RC_INVALID;
}

enum rc record_input_from_json(json_t *obj, bool kind_required, struct record_input *out,
                               struct value_json_holder *h, struct errbuf *eb)
{
	memset(out, 0, sizeof *out);
	if (!json_is_object(obj))
		return err_set(eb, RC_UNPROCESSABLE, "a record must be an object");
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v) {
		if (!strcmp(key, "kind") && kind_required) {
			if (!json_is_string(v))
				return err_set(eb, RC_UNPROCESSABLE, "kind must be a string");
			out->kind = json_string_value(v);
		} else if (!strcmp(key, "created_at") && kind_required) {
			if (!json_is_string(v))
				return err_set(eb, RC_UNPROCESSABLE, "created_at must be an ISO 8601 string");
			out->created_at = json_string_value(v);
		} else if (!strcmp(key, "fields")) {
			if (!json_is_object(v))
				return err_set(eb, RC_UNPROCESSABLE, "fields must be an object");
			size_t n = json_object_size(v);
			if (n > RECORD_MAX_FIELDS)
				return err_set(eb, RC_TOO_LARGE, "more than %d fields", RECORD_MAX_FIELDS);
			free(h->fields);
			h->fields = xcalloc(n ? n : 1, sizeof *h->fields);
			const char *fk;
			json_t *fv;
			json_object_foreach(v, fk, fv) {
				struct field_input *fi = &h->fields[out->nfields++];
				fi->name = fk;
				enum rc rc = value_from_json(fv, &fi->value, h);
				if (rc)
					return err_set(eb, RC_UNPROCESSABLE, "field '%.64s' has an unusable value", fk);
			}
			out->fields = h->fields;
		} else if (!strcmp(key, "events")) {
			if (!json_is_object(v))
				return err_set(eb, RC_UNPROCESSABLE, "events must be an object of name: date");
			size_t n = json_object_size(v);
			if (n > RECORD_MAX_EVENTS)
				return err_set(eb, RC_TOO_LARGE, "more than %d events", RECORD_MAX_EVENTS);
			free(h->events);
			h->events = xcalloc(n ? n : 1, sizeof *h->events);
			const char *ek;
			json_t *ev;
			json_object_foreach(v, ek, ev) {
				if (!json_is_string(ev))
					return err_set(eb, RC_UNPROCESSABLE, "event '%.64s' must be an ISO 8601 string", ek);
				h->events[out->nevents++] = (struct event_input){ek, json_string_value(ev)};
			}
			out->events = h->events;
		} else {
			return err_set(eb, RC_UNPROCESSABLE, "unknown key '%.64s' in a record", key);
		}
	}
	if (kind_required && !out->kind)
		return err_set(eb, RC_UNPROCESSABLE, "a record needs a kind");
	return RC_OK;
}

/* The shortest of %.15g, %.16g and %.17g that strtod reads back as d (17
 * always does), in jansson's spelling: a real keeps a '.' or an exponent so
 * that it reads back as a real, and the exponent has no '+' and no leading
 * zeros (1e21, 2.5e-7). */
static void real_text(double d, char out[40])
{
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(out, 40, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			break;
	}
	char *e = strchr(out, 'e');
	if (!e) {
		if (!strchr(out, '.'))
			strcat(out, ".0");
		return;
	}
	char *from = e + 1, *to = e + 1;
	if (*from == '+')
		from++;
	else if (*from == '-')
		from++, to++;
	while (from[0] == '0' && from[1])
		from++;
	memmove(to, from, strlen(from) + 1);
}

static enum rc dump_string(struct buf *b, const char *s, size_t n)
{
	enum rc rc = buf_append(b, "\"", 1);
	for (size_t i = 0; !rc && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\t' ? "\\t"
		                : c == '\r' ? "\\r" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
		if (esc)
			rc = buf_puts(b, esc);
		else if (c < 0x20)
			rc = buf_printf(b, "\\u%04X", c);
		else
			rc = buf_append(b, &s[i], 1);
	}
	return rc ? rc : buf_append(b, "\"", 1);
}

/* A line break and the indentation of `depth`, or a space unless compact. */
static enum rc dump_break(struct buf *b, size_t flags, int depth, bool after_comma)
{
	int indent = (int)(flags & 0x1F);
	if (indent)
		return buf_printf(b, "\n%*s", indent * depth, "");
	return after_comma && !(flags & JSON_COMPACT) ? buf_append(b, " ", 1) : RC_OK;
}

/* Writes j as json_dumps does (the same separators and indentation), but
 * with each real in real_text's spelling. */
static enum rc dump(struct buf *b, const json_t *j, size_t flags, int depth)
{
	char num[40];
	switch (json_typeof(j)) {
	case JSON_NULL: return buf_puts(b, "null");
	case JSON_TRUE: return buf_puts(b, "true");
	case JSON_FALSE: return buf_puts(b, "false");
	case JSON_INTEGER: return buf_printf(b, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
	case JSON_REAL:
		real_text(json_real_value(j), num);
		return buf_puts(b, num);
	case JSON_STRING: return dump_string(b, json_string_value(j), json_string_length(j));
	case JSON_ARRAY: {
		size_t n = json_array_size(j);
		enum rc rc = buf_append(b, "[", 1);
		for (size_t i = 0; !rc && i < n; i++) {
			if (i)
				rc = buf_append(b, ",", 1);
			if (!rc)
				rc = dump_break(b, flags, depth + 1, i > 0);
			if (!rc)
				rc = dump(b, json_array_get(j, i), flags, depth + 1);
		}
		if (!rc && n)
			rc = dump_break(b, flags, depth, false);
		return rc ? rc : buf_append(b, "]", 1);
	}
	case JSON_OBJECT: {
		const char *key;
		json_t *v;
		bool first = true;
		enum rc rc = buf_append(b, "{", 1);
		json_object_foreach((json_t *)j, key, v) {
			if (!rc && !first)
				rc = buf_append(b, ",", 1);
			if (!rc)
				rc = dump_break(b, flags, depth + 1, !first);
			if (!rc)
				rc = dump_string(b, key, strlen(key));
			if (!rc)
				rc = buf_puts(b, flags & JSON_COMPACT ? ":" : ": ");
			if (!rc)
				rc = dump(b, v, flags, depth + 1);
			first = false;
		}
		if (!rc && !first)
			rc = dump_break(b, flags, depth, false);
		return rc ? rc : buf_append(b, "}", 1);
	}
	}
	return RC_INVALID;
}

char *value_json_dumps(const json_t *j, size_t flags)
{
	struct buf b;
	buf_init(&b, DUMP_MAX);
	if (!j || dump(&b, j, flags, 0)) {
		buf_fini(&b);
		return NULL;
	}
	return buf_take(&b, NULL);
}

enum rc value_json_reply(struct http_request *rq, int status, json_t *body)
{
	char *text = value_json_dumps(body, JSON_COMPACT);
	json_decref(body);
	if (!text)
		return err_set(&rq->eb, RC_TOO_LARGE, "the answer is larger than %zu bytes", DUMP_MAX);
	http_reply(rq, status, NULL);
	free(rq->text);
	rq->text = text;
	rq->content_type = "application/json";
	return RC_OK;
}

json_t *value_to_json(const struct field_output *f)
{
	enum field_type t = f->field ? f->field->type : FT_TEXT;
	switch (t) {
	case FT_INTEGER:
		return json_integer(strtoll(f->value, NULL, 10));
	case FT_BOOL:
		return json_boolean(!strcmp(f->value, "true"));
	case FT_JSON: {
		json_t *j = json_loadb(f->value, f->len, JSON_DECODE_ANY, NULL);
		return j ? j : json_stringn(f->value, f->len);
	}
	default:
		return json_stringn(f->value, f->len);
	}
}

static json_t *instant(int64_t t)
{
	char s[TIMEUTIL_DATETIME_LEN];
	timeutil_format_datetime(t, s);
	return json_string(s);
}

json_t *record_view_to_json(const struct record_view *v)
{
	json_t *fields = json_object(), *events = json_object();
	for (size_t i = 0; i < v->nfields; i++)
		json_object_set_new(fields, v->fields[i].name, value_to_json(&v->fields[i]));
	for (size_t i = 0; i < v->nevents; i++)
		json_object_set_new(events, v->events[i].name, instant(v->events[i].at));
	return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s}", "id", v->id, "subject_id", v->subject_id,
	                 "kind", v->kind,
	                 "fields", fields, "events", events, "created_at", instant(v->created_at),
	                 "updated_at", instant(v->updated_at), "state", v->state);
}

json_t *subject_view_to_json(const struct subject_view *v)
{
	json_t *recs = json_array();
	for (size_t i = 0; i < v->nrecords; i++)
		json_array_append_new(recs, record_view_to_json(&v->records[i]));
	return json_pack("{s:s, s:o, s:o}", "id", v->id, "created_at", instant(v->created_at), "records", recs);
}
