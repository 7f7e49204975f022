/*
 * buf: a growable byte buffer with a hard cap (after curl's dynbuf).
 *
 * Every append either fits under the cap or fails with RC_TOO_LARGE and
 * leaves the buffer as it was: nothing is ever silently truncated. The
 * content is always NUL-terminated so text can be used as a C string.
 * buf_fini wipes the bytes first, because buffers carry decrypted values.
 */
#ifndef PRIVREG_BUF_H
#define PRIVREG_BUF_H

#include <stddef.h>

#include "base/err.h"

struct buf {
	char *data;
	size_t len, alloc, cap;
};

void buf_init(struct buf *b, size_t cap);
void buf_fini(struct buf *b);
void buf_reset(struct buf *b);
enum rc buf_append(struct buf *b, const void *p, size_t n) WUR;
enum rc buf_puts(struct buf *b, const char *s) WUR;
enum rc buf_printf(struct buf *b, const char *fmt, ...) PRINTF(2, 3) WUR;
/* Extends the content by n uninitialised bytes and points *at to them. */
enum rc buf_extend(struct buf *b, size_t n, char **at) WUR;
/* Appends s as a JSON string literal, quotes included. */
enum rc buf_json_string(struct buf *b, const char *s, size_t n) WUR;
/* Hands the allocation to the caller (free() it); the buffer is left empty. */
char *buf_take(struct buf *b, size_t *len);

#endif
