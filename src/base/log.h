/*
 * log: one line per event on stderr, `time level message key=value ...`.
 * Callers pass ids and counts only, never personal values: the log is not
 * encrypted and is kept longer than most of what the register holds.
 * Warnings and errors are flushed at once.
 */
#ifndef PRIVREG_LOG_H
#define PRIVREG_LOG_H

#include "base/err.h"

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

#include <stddef.h>

void log_msg(enum log_level level, const char *fmt, ...) PRINTF(2, 3);
/* The same line, newline included, into out (size >= 2); returns its length.
 * For callers that batch their own lines (the server's access log). */
size_t log_format(char *out, size_t size, enum log_level level, const char *fmt, ...) PRINTF(4, 5);

#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)

#endif
