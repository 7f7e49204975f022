/*
 * web: the staff console's pages, embedded at build time from web/
 * (scripts/embed-web.py writes the table): HTML, CSS and small scripts, all
 * from this origin, no build step, nothing fetched from elsewhere.
 */
#ifndef PRIVREG_WEB_H
#define PRIVREG_WEB_H

#include <stddef.h>

#include "base/err.h"

struct http_request;

struct web_file {
	const char *name;          /* relative to web/: "console/index.html", "i18n/et.json" */
	const char *content_type;
	const unsigned char *data;
	size_t len;
	const char *etag;          /* quoted, strong */
};

extern const struct web_file web_files[];
extern const size_t web_nfiles;

/* The embedded file with this name ("banner/banner.js"), or NULL. */
const struct web_file *web_find(const char *name);

/* Answers with f (200, or 304 to a matching If-None-Match) under the pages'
 * Content-Security-Policy (this origin only, no framing), revalidated by
 * ETag: the console's and the privacy center's pages alike. */
enum rc web_serve(struct http_request *rq, const struct web_file *f) WUR;

/* The languages of the fixed texts (web/i18n/LANG.json), the first the default. */
#define WEB_LANGS "en et lv fi ru"

#endif
