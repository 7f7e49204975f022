/* err: the single table that maps each rc to its name, status and message. */
#include "base/err.h"

#include <stdarg.h>
#include <stdio.h>

struct err_entry {
	int status;
	const char *code;
	const char *msg;
};

#define ERR_ROW(name, st, cd, m) [RC_##name] = {st, cd, m},
static const struct err_entry err_table[RC__COUNT] = { ERR_LIST(ERR_ROW) };
#undef ERR_ROW

static const struct err_entry *entry(enum rc rc)
{
	if ((unsigned)rc >= RC__COUNT)
		rc = RC_INTERNAL;
	return &err_table[rc];
}

const char *rc_code(enum rc rc) { return entry(rc)->code; }
const char *rc_str(enum rc rc) { return entry(rc)->msg; }
int rc_http_status(enum rc rc) { return entry(rc)->status; }

enum rc err_set(struct errbuf *eb, enum rc rc, const char *fmt, ...)
{
	if (eb) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(eb->msg, sizeof eb->msg, fmt, ap);
		va_end(ap);
	}
	return rc;
}

const char *err_msg(const struct errbuf *eb, enum rc rc)
{
	if (eb && eb->msg[0])
		return eb->msg;
	return rc_str(rc);
}
