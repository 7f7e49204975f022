/*
 * field: one validator per policy type (see field.h). Each validator is strict
 * about shape and generous only where people really differ (spaces and
 * dashes in phone numbers, surrounding blanks in an e-mail address).
 */
#include "core/field.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/country.h"

static const char *kind_name(enum value_kind k)
{
	static const char *const names[] = {"null", "a string", "a number", "true or false", "an object or array"};
	return names[k];
}

static enum rc expect(const struct policy_field *f, const struct field_value *in,
                      enum value_kind want, struct errbuf *eb)
{
	if (in->kind == want)
		return RC_OK;
	return err_set(eb, RC_UNPROCESSABLE, "field %s: expected %s, got %s", f->name,
	               kind_name(want), kind_name(in->kind));
}

/* Counts code points of strict UTF-8 (no overlongs, no surrogates, <= U+10FFFF).
 * Returns -1 when invalid. Control characters other than tab/newline/CR are refused. */
static long utf8_chars(const unsigned char *s, size_t n)
{
	long count = 0;
	for (size_t i = 0; i < n; count++) {
		unsigned char c = s[i];
		if (c < 0x80) {
			if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f)
				return -1;
			i++;
			continue;
		}
		size_t need;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf) { need = 1; cp = c & 0x1f; }
		else if (c >= 0xe0 && c <= 0xef) { need = 2; cp = c & 0x0f; }
		else if (c >= 0xf0 && c <= 0xf4) { need = 3; cp = c & 0x07; }
		else return -1;
		if (n - i - 1 < need)
			return -1;
		for (size_t j = 1; j <= need; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return -1;
			cp = (cp << 6) | (s[i + j] & 0x3f);
		}
		if ((need == 2 && cp < 0x800) || (need == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return -1;
		i += need + 1;
	}
	return count;
}

static void trim(const char **s, size_t *n)
{
	while (*n && isspace((unsigned char)**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n && isspace((unsigned char)(*s)[*n - 1]))
		(*n)--;
}

static bool email_valid(const char *s, size_t n)
{
	if (n < 3 || n > 254)
		return false;
	const char *at = memchr(s, '@', n);
	if (!at || memchr(at + 1, '@', n - (size_t)(at - s) - 1))
		return false;
	size_t local = (size_t)(at - s), dom = n - local - 1;
	if (local < 1 || local > 64 || dom < 3 || s[0] == '.' || at[-1] == '.')
		return false;
	for (size_t i = 0; i < local; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f || strchr("()<>[]:;@\\,\"", c))
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	const char *d = at + 1;
	bool dot = false;
	size_t label = 0;
	for (size_t i = 0; i < dom; i++) {
		unsigned char c = (unsigned char)d[i];
		if (c == '.') {
			if (label == 0 || d[i - 1] == '-')
				return false;
			dot = true;
			label = 0;
			continue;
		}
		if (!(isalnum(c) || c == '-' || c >= 0x80))
			return false;
		if (c == '-' && label == 0)
			return false;
		if (++label > 63)
			return false;
	}
	return dot && label > 0 && d[dom - 1] != '-';
}

bool field_email_ok(const char *s)
{
	return email_valid(s, strlen(s)) && utf8_chars((const unsigned char *)s, strlen(s)) >= 0;
}

bool field_text_ok(const char *s)
{
	return !s || utf8_chars((const unsigned char *)s, strlen(s)) >= 0;
}

enum rc field_text_check(const char *name, const char *s, struct errbuf *eb)
{
	return field_text_ok(s) ? RC_OK
	                        : err_set(eb, RC_UNPROCESSABLE, "%s: not valid UTF-8 text (or has control characters)", name);
}

static enum rc norm_text(const struct policy_field *f, const struct field_value *in,
                         struct buf *out, struct errbuf *eb)
{
	enum rc rc = expect(f, in, VAL_STRING, eb);
	if (rc)
		return rc;
	long chars = utf8_chars((const unsigned char *)in->text, in->len);
	if (chars < 0)
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not valid UTF-8 text (or has control characters)", f->name);
	if (chars > f->max)
		return err_set(eb, RC_UNPROCESSABLE, "field %s: longer than %d characters", f->name, f->max);
	return buf_append(out, in->text, in->len);
}

static enum rc norm_email(const struct policy_field *f, const struct field_value *in,
                          struct buf *out, struct errbuf *eb)
{
	enum rc rc = expect(f, in, VAL_STRING, eb);
	if (rc)
		return rc;
	const char *s = in->text;
	size_t n = in->len;
	trim(&s, &n);
	if (!email_valid(s, n) || utf8_chars((const unsigned char *)s, n) < 0)
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not an e-mail address", f->name);
	const char *at = memchr(s, '@', n);
	size_t start = out->len;
	rc = buf_append(out, s, n);
	if (rc)
		return rc;
	for (size_t i = (size_t)(at - s) + 1; i < n; i++)
		out->data[start + i] = (char)tolower((unsigned char)out->data[start + i]);
	return RC_OK;
}

static enum rc norm_phone(const struct policy_field *f, const struct field_value *in,
                          struct buf *out, struct errbuf *eb)
{
	enum rc rc = expect(f, in, VAL_STRING, eb);
	if (rc)
		return rc;
	char digits[20];
	size_t nd = 0;
	bool plus = false, bad = false;
	size_t i = 0;
	const char *s = in->text;
	size_t n = in->len;
	trim(&s, &n);
	if (n && s[0] == '+') {
		plus = true;
		i = 1;
	} else if (n > 1 && s[0] == '0' && s[1] == '0') {
		plus = true;
		i = 2;
	}
	for (; i < n && !bad; i++) {
		char c = s[i];
		if (c >= '0' && c <= '9') {
			if (nd >= 15)
				bad = true;
			else
				digits[nd++] = c;
		} else if (c != ' ' && c != '-' && c != '.' && c != '(' && c != ')') {
			bad = true;
		}
	}
	if (!plus || bad || nd < 7 || digits[0] == '0')
		return err_set(eb, RC_UNPROCESSABLE,
		               "field %s: not an international phone number (E.164, e.g. +372 5123 4567)", f->name);
	rc = buf_append(out, "+", 1);
	return rc ? rc : buf_append(out, digits, nd);
}

static enum rc norm_date(const struct policy_field *f, const struct field_value *in,
                         struct buf *out, struct errbuf *eb, bool datetime)
{
	enum rc rc = expect(f, in, VAL_STRING, eb);
	if (rc)
		return rc;
	int64_t t;
	if (in->len > 40 || memchr(in->text, '\0', in->len))
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not an ISO 8601 %s", f->name, datetime ? "datetime" : "date");
	char tmp[41];
	memcpy(tmp, in->text, in->len);
	tmp[in->len] = '\0';
	if (datetime) {
		if (timeutil_parse_datetime(tmp, &t))
			return err_set(eb, RC_UNPROCESSABLE,
			               "field %s: not an ISO 8601 datetime (e.g. 2024-03-01T12:00:00Z)", f->name);
		char s[TIMEUTIL_DATETIME_LEN];
		timeutil_format_datetime(t, s);
		return buf_puts(out, s);
	}
	if (timeutil_parse_date(tmp, &t))
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not an ISO 8601 date (e.g. 2024-03-01)", f->name);
	return buf_append(out, in->text, in->len);
}

static enum rc norm_enum(const struct policy_field *f, const struct field_value *in,
                         struct buf *out, struct errbuf *eb)
{
	enum rc rc = expect(f, in, VAL_STRING, eb);
	if (rc)
		return rc;
	for (size_t i = 0; i < f->nvalues; i++)
		if (strlen(f->values[i]) == in->len && !memcmp(f->values[i], in->text, in->len))
			return buf_append(out, in->text, in->len);
	/* The policy's values (no one's data) are named, so that the refused
	 * value can be fixed: they are matched exactly, case and all. */
	char list[512];
	size_t len = 0;
	list[0] = '\0';
	for (size_t i = 0; i < f->nvalues && len < sizeof list; i++)
		len += (size_t)snprintf(list + len, sizeof list - len, "%s%s", i ? ", " : "", f->values[i]);
	if (len >= sizeof list)
		memcpy(list + sizeof list - 4, "...", 4);
	return err_set(eb, RC_UNPROCESSABLE, "field %s: not one of the allowed values: %s (case matters)",
	               f->name, list);
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)? with at most `maxdigits` digits. */
static bool plain_number(const char *s, size_t n, bool fraction, size_t maxdigits)
{
	size_t i = 0, digits = 0;
	if (i < n && s[i] == '-')
		i++;
	if (i >= n || s[i] < '0' || s[i] > '9')
		return false;
	if (s[i] == '0' && i + 1 < n && s[i + 1] >= '0' && s[i + 1] <= '9')
		return false;
	while (i < n && s[i] >= '0' && s[i] <= '9') {
		i++;
		digits++;
	}
	if (fraction && i < n && s[i] == '.') {
		i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
		while (i < n && s[i] >= '0' && s[i] <= '9') {
			i++;
			digits++;
		}
	}
	return i == n && digits <= maxdigits;
}

static enum rc norm_decimal(const struct policy_field *f, const struct field_value *in,
                            struct buf *out, struct errbuf *eb)
{
	if (in->kind != VAL_STRING && in->kind != VAL_NUMBER)
		return err_set(eb, RC_UNPROCESSABLE, "field %s: expected a decimal number", f->name);
	if (!plain_number(in->text, in->len, true, 30))
		return err_set(eb, RC_UNPROCESSABLE,
		               "field %s: not a plain decimal (e.g. 12.50; at most 30 digits, no exponent)", f->name);
	return buf_append(out, in->text, in->len);
}

static enum rc norm_integer(const struct policy_field *f, const struct field_value *in,
                            struct buf *out, struct errbuf *eb)
{
	enum rc rc = expect(f, in, VAL_NUMBER, eb);
	if (rc)
		return rc;
	if (!plain_number(in->text, in->len, false, 19))
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not a whole number", f->name);
	char tmp[24];
	memcpy(tmp, in->text, in->len);
	tmp[in->len] = '\0';
	errno = 0;
	(void)strtoll(tmp, NULL, 10);
	if (errno == ERANGE)
		return err_set(eb, RC_UNPROCESSABLE, "field %s: out of the 64-bit range", f->name);
	return buf_append(out, in->text, in->len);
}

static enum rc norm_ip(const struct policy_field *f, const struct field_value *in,
                       struct buf *out, struct errbuf *eb)
{
	enum rc rc = expect(f, in, VAL_STRING, eb);
	if (rc)
		return rc;
	char tmp[INET6_ADDRSTRLEN + 1], canon[INET6_ADDRSTRLEN];
	unsigned char addr[16];
	if (in->len >= sizeof tmp)
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not an IP address", f->name);
	memcpy(tmp, in->text, in->len);
	tmp[in->len] = '\0';
	int af = strchr(tmp, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(af, tmp, addr) != 1 || !inet_ntop(af, addr, canon, sizeof canon))
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not an IP address", f->name);
	return buf_puts(out, canon);
}

static enum rc norm_country(const struct policy_field *f, const struct field_value *in,
                            struct buf *out, struct errbuf *eb)
{
	enum rc rc = expect(f, in, VAL_STRING, eb);
	if (rc)
		return rc;
	char cc[3] = {0};
	if (in->len == 2) {
		cc[0] = (char)toupper((unsigned char)in->text[0]);
		cc[1] = (char)toupper((unsigned char)in->text[1]);
	}
	if (!country_valid(cc))
		return err_set(eb, RC_UNPROCESSABLE, "field %s: not an ISO 3166-1 alpha-2 country code", f->name);
	return buf_append(out, cc, 2);
}

enum rc field_normalize(const struct policy_field *f, const struct field_value *in,
                        struct buf *out, struct errbuf *eb)
{
	if (in->kind == VAL_NULL)
		return err_set(eb, RC_UNPROCESSABLE, "field %s: null is not a value", f->name);
	if (in->len > FIELD_VALUE_MAX)
		return err_set(eb, RC_TOO_LARGE, "field %s: longer than %d bytes", f->name, FIELD_VALUE_MAX);
	if (in->kind == VAL_STRING && memchr(in->text, '\0', in->len))
		return err_set(eb, RC_UNPROCESSABLE, "field %s: contains a NUL character", f->name);
	switch (f->type) {
	case FT_TEXT: return norm_text(f, in, out, eb);
	case FT_EMAIL: return norm_email(f, in, out, eb);
	case FT_PHONE: return norm_phone(f, in, out, eb);
	case FT_DATE: return norm_date(f, in, out, eb, false);
	case FT_DATETIME: return norm_date(f, in, out, eb, true);
	case FT_ENUM: return norm_enum(f, in, out, eb);
	case FT_DECIMAL: return norm_decimal(f, in, out, eb);
	case FT_INTEGER: return norm_integer(f, in, out, eb);
	case FT_BOOL: {
		enum rc rc = expect(f, in, VAL_BOOL, eb);
		return rc ? rc : buf_append(out, in->text, in->len);
	}
	case FT_IP: return norm_ip(f, in, out, eb);
	case FT_COUNTRY: return norm_country(f, in, out, eb);
	case FT_JSON:
		if (in->kind == VAL_STRING) {
			if (utf8_chars((const unsigned char *)in->text, in->len) < 0)
				return err_set(eb, RC_UNPROCESSABLE, "field %s: not valid UTF-8 text", f->name);
			return buf_json_string(out, in->text, in->len);
		}
		return buf_append(out, in->text, in->len);
	}
	return err_set(eb, RC_INTERNAL, "field %s: unknown type", f->name);
}

enum rc field_lookup_form(const struct policy_field *f, const char *canonical, size_t len, struct buf *out)
{
	buf_reset(out);
	enum rc rc = buf_append(out, canonical, len);
	if (rc || f->type != FT_EMAIL)
		return rc;
	for (size_t i = 0; i < out->len; i++)
		out->data[i] = (char)tolower((unsigned char)out->data[i]);
	return RC_OK;
}

int field_age_years(int64_t birth, int64_t now)
{
	int by, bm, bd, ny, nm, nd;
	timeutil_civil_from_days(birth >= 0 ? birth / 86400 : (birth - 86399) / 86400, &by, &bm, &bd);
	timeutil_civil_from_days(now >= 0 ? now / 86400 : (now - 86399) / 86400, &ny, &nm, &nd);
	int age = ny - by;
	if (nm < bm || (nm == bm && nd < bd))
		age--;
	return age;
}
