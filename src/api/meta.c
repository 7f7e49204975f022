/* meta: /healthz, /metrics, /openapi.json, /v1/whoami, /v1/policy. */
#include <stdlib.h>
#include <string.h>

#include "api/handlers.h"
#include "core/tenant.h"
#include "api/openapi_doc.h"
#include "api/policy_json.h"
#include "api/server.h"

enum rc h_healthz(struct http_request *rq)
{
	http_reply(rq, 200, json_pack("{s:s}", "status", "ok"));
	return RC_OK;
}

/* A key's page shows its own tenant only: one tenant's admin learns
 * nothing of the others, not even their names. */
enum rc h_metrics(struct http_request *rq)
{
	struct buf b;
	buf_init(&b, 4 * 1024 * 1024);
	enum rc rc = server_metrics(rq->srv, rq->ctx.store, rq->ctx.tenant, &b);
	if (rc) {
		buf_fini(&b);
		return rc;
	}
	rq->status = 200;
	rq->content_type = "text/plain; version=0.0.4";
	rq->text = buf_take(&b, NULL);
	return RC_OK;
}

/* With a staff key, the document typed by the key's tenant's policy; an
 * answer for one tenant, so no cache may share it with another. */
enum rc h_openapi(struct http_request *rq)
{
	const struct tenant *t = rq->ctx.tenant;
	json_t *doc = openapi_doc_new(t ? t->policy : NULL, t ? t->name : NULL);
	if (!doc)
		return err_set(&rq->eb, RC_INTERNAL, "the embedded OpenAPI document does not parse");
	http_reply(rq, 200, doc);
	return RC_OK;
}

enum rc h_whoami(struct http_request *rq)
{
	http_reply(rq, 200, json_pack("{s:s, s:s, s:s}", "key_id", rq->key_id, "role",
	                              apikey_role_name(rq->role), "tenant", rq->ctx.tenant->name));
	return RC_OK;
}

enum rc h_policy(struct http_request *rq)
{
	http_reply(rq, 200, policy_to_json(rq->ctx.tenant->policy));
	return RC_OK;
}

/* The policy in force as it was installed: its YAML, comments and all (the
 * console's policy page). */
enum rc h_policy_source(struct http_request *rq)
{
	char *source = NULL;
	enum rc rc = tenant_policy_source(&rq->ctx, &source);
	if (rc)
		return rc;
	rq->status = 200;
	rq->content_type = "application/yaml; charset=utf-8";
	rq->text = source;
	return RC_OK;
}
