/*
 * openapi_doc: the OpenAPI document served at /openapi.json, generic or
 * typed by one tenant's policy.
 *
 * The generic document (src/api/openapi.json, compiled in) describes every
 * route; record fields in it are any of the policy types. The typed one is
 * the same document narrowed by a policy: each record kind's fields become
 * schemas of their own (Record_KIND, RecordInput_KIND, Fields_KIND) with
 * the policy's types, enums, maximum lengths and required fields; Record
 * and RecordInput become a oneOf over the kinds with `kind` as the
 * discriminator; the routes that find a subject by a lookup field declare
 * the policy's lookup fields. It only narrows: every path, operation and
 * response of the generic document stays, and a component it no longer
 * refers to is removed, so that the typed document has no unused parts.
 */
#ifndef PRIVREG_OPENAPI_DOC_H
#define PRIVREG_OPENAPI_DOC_H

#include <jansson.h>

#include "core/policy.h"

/* The document; p NULL: the generic one. NULL if the compiled-in text does
 * not parse (a build mistake). tenant names the tenant in the title. */
json_t *openapi_doc_new(const struct policy *p, const char *tenant);

#endif
