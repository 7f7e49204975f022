/*
 * xalloc: allocation that cannot fail. Out of memory aborts the process:
 * a register half-way through a write is better stopped than continued with
 * an error path nobody has tested, and the database transaction rolls back.
 */
#ifndef PRIVREG_XALLOC_H
#define PRIVREG_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t count, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
