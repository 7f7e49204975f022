/*
 * web: the staff console's pages, embedded at build time from web/
 * (scripts/embed-web.py writes the table): HTML, CSS and small scripts, all
 * from this origin, no build step, nothing fetched from elsewhere.
 */
#ifndef PRIVREG_WEB_H
#define PRIVREG_WEB_H

#include <stddef.h>

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

/* The languages of the fixed texts (web/i18n/LANG.json), the first the default. */
#define WEB_LANGS "en et lv fi ru"

#endif
