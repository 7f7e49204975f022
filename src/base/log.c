/* log: timestamped lines on stderr; one fprintf per line so threads do not interleave. */
#include "base/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <time.h>

static const char *const level_names[] = {"debug", "info", "warn", "error"};

static size_t vformat(char *out, size_t size, enum log_level level, const char *fmt, va_list ap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(out, size, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %s ", tm.tm_year + 1900, tm.tm_mon + 1,
	                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000L, level_names[level]);
	size_t len = n > 0 && (size_t)n < size ? (size_t)n : 0;
	n = vsnprintf(out + len, size - len, fmt, ap);
	len = n > 0 ? (len + (size_t)n < size - 1 ? len + (size_t)n : size - 2) : len;
	out[len++] = '\n';
	out[len] = '\0';
	return len;
}

size_t log_format(char *out, size_t size, enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	size_t n = vformat(out, size, level, fmt, ap);
	va_end(ap);
	return n;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vformat(line, sizeof line, level, fmt, ap);
	va_end(ap);
	fputs(line, stderr);
	/* stderr may be buffered; problems go out now. */
	if (level >= LOG_WARN)
		fflush(stderr);
}
