/* buf: capped dynamic buffer (see buf.h). */
#include "base/buf.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/xalloc.h"

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->alloc = 0;
	b->cap = cap;
}

void buf_fini(struct buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->alloc);
		free(b->data);
	}
	b->data = NULL;
	b->len = b->alloc = 0;
}

void buf_reset(struct buf *b)
{
	if (b->data) {
		sodium_memzero(b->data, b->len);
		b->data[0] = '\0';
	}
	b->len = 0;
}

static enum rc reserve(struct buf *b, size_t n)
{
	if (n > b->cap || b->len > b->cap - n)
		return RC_TOO_LARGE;
	size_t need = b->len + n + 1;
	if (need <= b->alloc)
		return RC_OK;
	size_t a = b->alloc ? b->alloc : 64;
	while (a < need)
		a *= 2;
	/* Grow by copy so the old bytes can be wiped, never left in freed memory. */
	char *p = xmalloc(a);
	if (b->data) {
		memcpy(p, b->data, b->len);
		sodium_memzero(b->data, b->alloc);
		free(b->data);
	}
	b->data = p;
	b->alloc = a;
	return RC_OK;
}

enum rc buf_append(struct buf *b, const void *p, size_t n)
{
	enum rc rc = reserve(b, n);
	if (rc)
		return rc;
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return RC_OK;
}

enum rc buf_extend(struct buf *b, size_t n, char **at)
{
	enum rc rc = reserve(b, n);
	if (rc)
		return rc;
	*at = b->data + b->len;
	b->len += n;
	b->data[b->len] = '\0';
	return RC_OK;
}

enum rc buf_puts(struct buf *b, const char *s)
{
	return buf_append(b, s, strlen(s));
}

enum rc buf_printf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return RC_INTERNAL;
	enum rc rc = reserve(b, (size_t)n);
	if (rc)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return RC_OK;
}

enum rc buf_json_string(struct buf *b, const char *s, size_t n)
{
	size_t start = b->len;
	enum rc rc = buf_append(b, "\"", 1);
	for (size_t i = 0; !rc && i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			char esc[2] = {'\\', (char)c};
			rc = buf_append(b, esc, 2);
		} else if (c < 0x20) {
			rc = buf_printf(b, "\\u%04x", c);
		} else {
			rc = buf_append(b, &s[i], 1);
		}
	}
	if (!rc)
		rc = buf_append(b, "\"", 1);
	if (rc) {
		b->len = start;
		if (b->data)
			b->data[start] = '\0';
	}
	return rc;
}

char *buf_take(struct buf *b, size_t *len)
{
	char *p = b->data ? b->data : xstrdup("");
	if (len)
		*len = b->len;
	b->data = NULL;
	b->len = b->alloc = 0;
	return p;
}
