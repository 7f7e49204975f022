/*
 * attest: GET /v1/attestation, the tenant's attestation (core/attest.h)
 * signed with the register's key: made now (from the latest kept one to
 * now, and not kept: the CLI and the monthly attester keep theirs), or with
 * ?latest=1 the latest kept one as it was signed (the console shows it).
 */
#include <stdlib.h>
#include <string.h>

#include "api/attest_json.h"
#include "api/handlers.h"
#include "api/server_internal.h"
#include "core/attest.h"

static json_t *parsed(char *doc)
{
	json_t *j = json_loads(doc, 0, NULL);
	free(doc);
	return j;
}

enum rc h_attestation(struct http_request *rq)
{
	const char *latest = http_query(rq, "latest");
	if (latest && strcmp(latest, "1") && strcmp(latest, "true") && strcmp(latest, "0") && strcmp(latest, "false"))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "latest: 1 or true (the latest kept), 0 or false (made now)");
	char *doc = NULL;
	enum rc rc;
	if (latest && (!strcmp(latest, "1") || !strcmp(latest, "true"))) {
		int64_t as_of;
		rc = attest_latest(&rq->ctx, &doc, &as_of);
		if (rc == RC_NOT_FOUND)
			return err_set(&rq->eb, RC_NOT_FOUND, "no attestation was kept yet: run `privreg attest` or set attest_every");
		if (rc)
			return rc;
	} else {
		struct attestation a;
		struct attest_opts o = {.checkpoints = rq->srv->checkpoint_file};
		rc = attest_make(&rq->ctx, &o, &a, &rq->eb);
		if (rc)
			return rc;
		doc = attest_json_document(&a, &rq->srv->attest_key);
		attest_fini(&a);
	}
	json_t *body = parsed(doc);
	if (!body)
		return RC_INTERNAL;
	http_reply(rq, 200, body);
	return RC_OK;
}
