/* xalloc: malloc wrappers that abort on exhaustion (see xalloc.h). */
#include "base/xalloc.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fault.h"

/* A test build may fail an allocation on purpose (base/fault.h): the
 * abort below is then the path under test, as exhaustion would take it. */
static void *check(void *p)
{
	if (!p) {
		fputs("privreg: out of memory\n", stderr);
		abort();
	}
	return p;
}

void *xmalloc(size_t n) { return check(fault_alloc() ? NULL : malloc(n ? n : 1)); }
void *xcalloc(size_t count, size_t size)
{
	return check(fault_alloc() ? NULL : calloc(count ? count : 1, size ? size : 1));
}
void *xrealloc(void *p, size_t n) { return check(fault_alloc() ? NULL : realloc(p, n ? n : 1)); }
char *xstrdup(const char *s) { return check(fault_alloc() ? NULL : strdup(s)); }
char *xstrndup(const char *s, size_t n) { return check(fault_alloc() ? NULL : strndup(s, n)); }

void *xmemdup(const void *p, size_t n)
{
	void *q = xmalloc(n);
	if (n)
		memcpy(q, p, n);
	return q;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *s = NULL;
	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (fault_alloc()) {
		free(s);
		s = NULL;
	}
	return check(n < 0 ? NULL : s);
}
