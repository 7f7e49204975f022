/* export: the answer to an access or portability request (Art. 15, 20). */
#ifndef PRIVREG_EXPORT_H
#define PRIVREG_EXPORT_H

#include "api/http.h"

/* Answers rq with the subject's export: format "json" (default: every item
 * of Art. 15(1), machine-readable for portability) or "csv" (multipart/mixed,
 * one text/csv part per record kind). */
enum rc export_reply(struct http_request *rq, const char *subject_id, const char *format) WUR;

#endif
