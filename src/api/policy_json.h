/*
 * policy_json: the normalised policy as JSON, for `privreg policy render` and
 * GET /v1/policy. Every default is made explicit (erasable, then, text max,
 * request deadlines) and every duration appears twice: as words ("3 years")
 * and in ISO 8601 ("P3Y"), so two spellings of one policy render the same.
 */
#ifndef PRIVREG_POLICY_JSON_H
#define PRIVREG_POLICY_JSON_H

#include <jansson.h>

#include "core/policy.h"

json_t *policy_to_json(const struct policy *p);

#endif
