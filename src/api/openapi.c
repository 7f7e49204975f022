/* openapi: the OpenAPI document (src/api/openapi.json), compiled in. */
#include "api/http.h"

#include "openapi.h"
