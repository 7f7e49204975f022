/*
 * http: what a request handler sees. The server (http.c, server.c) owns the
 * libmicrohttpd side; handlers get a `struct http_request` with the route's
 * path parameters, the parsed JSON body and the authenticated caller as a
 * core_ctx, and set a status and a JSON body or return an rc for the error
 * table. Handlers contain no SQL, no crypto and no policy logic: they
 * parse, call one core function, and shape the answer. `http_` names the
 * HTTP request; `request_` is the data-subject request (core/request.h).
 */
#ifndef PRIVREG_HTTP_H
#define PRIVREG_HTTP_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "api/proxy.h"
#include "base/buf.h"
#include "core/apikey.h"
#include "core/tenant.h"

#define HTTP_BODY_MAX (1024 * 1024)
#define HTTP_JSON_DEPTH_MAX 32
#define HTTP_PARAM_MAX 2
#define HTTP_PARAM_LEN 128
#define HTTP_QUERY_MAX 16         /* query parameters in one request */

struct server;
struct http_request;

typedef enum rc (*handler_fn)(struct http_request *rq);

/* Bit per role allowed on a route. */
#define R_ADMIN (1u << ROLE_ADMIN)
#define R_DPO (1u << ROLE_DPO)
#define R_SUPPORT (1u << ROLE_SUPPORT)
#define R_MARKETING (1u << ROLE_MARKETING)
#define R_AUDITOR (1u << ROLE_AUDITOR)
#define R_ANY (R_ADMIN | R_DPO | R_SUPPORT | R_MARKETING | R_AUDITOR)
#define R_PUBLIC 0u /* no key needed */
/* With a route's roles: no key needed, but a key that is sent is checked
 * (401 when not valid, 403 for a role not among the route's) and its tenant
 * given to the handler in rq->ctx.tenant (NULL without a key). */
#define R_KEY_OPTIONAL (1u << 31)

/* BODY_JSON_OPTIONAL: an empty body is fine (rq->json stays NULL). */
enum body_kind { BODY_NONE, BODY_JSON, BODY_JSON_OPTIONAL, BODY_FORM };

struct route {
	const char *method;
	const char *pattern;       /* "/v1/subjects/{id}"; also the name in logs and metrics */
	handler_fn fn;
	unsigned roles;
	enum body_kind body;       /* JSON: parsed into rq->json; FORM: raw in rq->form */
	const char *query;         /* the query parameters it reads, space-separated; "*" any
	                            * names (the handler checks them); NULL none. Others, and
	                            * a name given twice, are refused before the handler runs */
};

struct http_request {
	struct server *srv;
	void *conn;                /* the MHD connection, for the server's files only */
	const char *method;
	const struct route *route;
	int route_index;
	char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN];
	json_t *json;              /* parsed body of routes that take one */
	const char *form;          /* the raw body of BODY_FORM routes (NUL-terminated) */
	struct core_ctx ctx;       /* store, tenant, key, role, purpose */
	enum role role;
	char key_id[TOKEN_ID_MAX + 8];  /* an API key's id, or "user:usr_..." for a session */
	bool session;              /* signed in by the console's session cookie, not a key */
	char csrf[48];             /* the session's CSRF token */
	char set_cookie[256];      /* a Set-Cookie to send (the session's); "Secure" added under TLS */
	struct errbuf eb;
	int status;                /* set by the handler on success */
	json_t *out;               /* the answer, owned by the request */
	const char *content_type;  /* of `text`, when the answer is not JSON */
	char content_type_buf[96]; /* for a content type made per request */
	char *text;                /* a non-JSON answer (metrics), malloc'd */
	char retry_after[24];      /* 429: seconds to wait, as text */
	/* A public answer any cache may keep (the notice): its Cache-Control
	 * and ETag instead of no-store, and its own Content-Security-Policy
	 * instead of the links' pages'; NULL or empty: the defaults. */
	const char *cache_control;
	char etag[40];
	const char *csp;
	const char *vary;          /* a Vary header for such an answer (the banner's script: Sec-GPC) */
	char client_ip[PROXY_ADDR_LEN]; /* the peer, or who a trusted proxy says it forwards */
	bool replayed;             /* the kept answer to an earlier request with its Idempotency-Key */
	/* A handler that left work to another thread (counted in ctx.waiter:
	 * a consent check in a flight) answers in resume, called once the
	 * work is done; resume_arg is freed (free) with the request. */
	enum rc (*resume)(struct http_request *rq);
	void *resume_arg;
};

/* A query-string argument, or NULL. */
const char *http_query(struct http_request *rq, const char *name);
/* value (a query argument called name) as a number in lo..hi, else 422. */
enum rc http_number(struct http_request *rq, const char *name, const char *value, long lo, long hi, long *out) WUR;
/* Calls fn(name, value) for every query-string argument; stops at an error. */
typedef enum rc http_query_fn(struct http_request *rq, const char *name, const char *value, void *arg);
enum rc http_each_query(struct http_request *rq, http_query_fn *fn, void *arg) WUR;
/* Answers with status and body (which the request takes). */
void http_reply(struct http_request *rq, int status, json_t *body);
/* Answers with an HTML page (taken; malloc'd). */
void http_reply_html(struct http_request *rq, int status, char *html);
const char *http_header(struct http_request *rq, const char *name);
/* The client's address, as text: the socket peer, or, when the peer is a
 * trusted proxy, the client it forwards for (api/proxy.h). */
void http_client_ip(struct http_request *rq, char *out, size_t size);
/* The console's session (its cookie) as the caller of a public route: fills
 * rq->ctx (tenant, the person as key_id, role) and rq->session and csrf.
 * RC_UNAUTHORIZED without a live session; RC_FORBIDDEN for a method other
 * than GET without the session's X-CSRF-Token. */
enum rc http_session(struct http_request *rq) WUR;
/* A cookie sent with the request, or NULL. */
const char *http_cookie(struct http_request *rq, const char *name);
/* Failed sign-ins count against the client's address like failed keys
 * (auth.c): true when the address is over its budget (Retry-After set). */
bool http_auth_blocked(struct http_request *rq);
void http_auth_failed(struct http_request *rq);
/* The cookie banner's choices are public writes: each counts against the
 * client's address, HTTP_BANNER_LIMIT a minute, then 429 (Retry-After set). */
#define HTTP_BANNER_LIMIT 120
bool http_banner_blocked(struct http_request *rq);

/* The privacy center's sign-in mails: at most HTTP_SIGNIN_MAILS to one
 * e-mail address (mail_key: a hash of it, never the address) and at most
 * --auth-limit from one client address within HTTP_SIGNIN_WINDOW. True
 * (and the mail counted) when this one may go; false with Retry-After set. */
#define HTTP_SIGNIN_MAILS 3
#define HTTP_SIGNIN_WINDOW (15 * 60)
bool http_signin_allowed(struct http_request *rq, const char *mail_key);
/* The tenant with this id (public pages find it from a signed link). */
enum rc http_tenant(struct http_request *rq, int64_t id, const struct tenant **out) WUR;

/* The route table (router.c). */
extern const struct route http_routes[];
extern const size_t http_nroutes;
/* Finds the route for method and path, filling params. RC_NOT_FOUND, or
 * RC_METHOD with the allowed methods written to `allow`. */
enum rc router_match(const char *method, const char *path, int *index,
                     char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN], char *allow, size_t allow_size) WUR;

/* The public routes whose links e-mails carry (core/ctx.h joins them). */
#define ROUTER_CONFIRM "/c/"
#define ROUTER_UNSUBSCRIBE "/u/"
#define ROUTER_VERIFY "/v/"
#define ROUTER_EXPORT "/x/"
#define ROUTER_PORTAL "/portal/"
/* Fills the link table core uses for e-mails, with `base` (kept, not copied). */
void router_links(struct core_links *out, const char *base);

/* The OpenAPI document served at /openapi.json. */
extern const char http_openapi_json[];

#endif
