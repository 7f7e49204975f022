/*
 * http: one request's life in the server, and the helpers handlers use to
 * read it and answer it (see http.h). Every request's state lives in a
 * `struct pending` that libmicrohttpd hands back on each call for the
 * connection and that the completion callback frees, whether the request
 * finished or was aborted.
 *
 * Bounds: an announced body over HTTP_BODY_MAX is refused before it is read,
 * an unannounced one is read to the end and refused (413, never cut); JSON
 * must say so in its Content-Type and nest at most HTTP_JSON_DEPTH_MAX deep.
 * Every request leaves one access-log line (ids and route patterns only,
 * never a path or a value) and one metrics observation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "api/server_internal.h"
#include "api/value_json.h"
#include "base/log.h"
#include "base/xalloc.h"
#include "core/audit.h"
#include "core/idempotency.h"
#include "core/ledger.h"
#include "core/record.h"
#include "store/store.h"

struct pending {
	bool started;              /* set up by the access handler's first call */
	bool nul_in_target;        /* a NUL (raw or %00) in the path or the query */
	bool query_cut;            /* more query parameters than any route takes: not parsed */
	struct http_request rq;
	struct buf body;
	bool body_too_large;
	enum rc match_rc;
	/* Reads of personal data wait, suspended, until their access entries
	 * are written: then the answer goes out (or a 500, if they were not). */
	struct audit_waiter waiter;
	bool parked;
	enum rc handler_rc;
	char allow[64];
	uint64_t start_us;
	char *url;                 /* the path, for an Idempotency-Key's fingerprint */
};

static uint64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- helpers for handlers ---- */

const char *http_query(struct http_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, name);
}

enum rc http_number(struct http_request *rq, const char *name, const char *value, long lo, long hi, long *out)
{
	char *end;
	long v = value ? strtol(value, &end, 10) : 0;
	if (!value || !*value || *end || v < lo || v > hi)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "%s must be a number from %ld to %ld", name, lo, hi);
	*out = v;
	return RC_OK;
}

struct query_iter {
	struct http_request *rq;
	http_query_fn *fn;
	void *arg;
	enum rc rc;
};

static enum MHD_Result query_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	struct query_iter *it = cls;
	it->rc = it->fn(it->rq, key, value, it->arg);
	return it->rc ? MHD_NO : MHD_YES;
}

enum rc http_each_query(struct http_request *rq, http_query_fn *fn, void *arg)
{
	struct query_iter it = {rq, fn, arg, RC_OK};
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_cb, &it);
	return it.rc;
}

void http_reply(struct http_request *rq, int status, json_t *body)
{
	json_decref(rq->out);
	rq->status = status;
	rq->out = body;
}

void http_reply_html(struct http_request *rq, int status, char *html)
{
	free(rq->text);
	rq->status = status;
	rq->text = html;
	rq->content_type = "text/html; charset=utf-8";
}

const char *http_header(struct http_request *rq, const char *name)
{
	return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

void http_client_ip(struct http_request *rq, char *out, size_t size)
{
	snprintf(out, size, "%s", rq->client_ip);
}

enum rc http_tenant(struct http_request *rq, int64_t id, const struct tenant **out)
{
	return server_tenant(rq->srv, rq->ctx.store, id, out);
}

/* ---- bounds and body ---- */

struct query_names {
	const char *allowed;
	const char *seen[HTTP_QUERY_MAX];
	size_t n;
	struct errbuf *eb;
	enum rc rc;
};

static bool word_in(const char *list, const char *w)
{
	size_t n = strlen(w);
	for (const char *p = list; n && (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || p[n] == '\0'))
			return true;
	return false;
}

static enum MHD_Result query_name_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	(void)value;
	struct query_names *q = cls;
	if (q->n == HTTP_QUERY_MAX) {
		q->rc = err_set(q->eb, RC_UNPROCESSABLE, "more than %d query parameters", HTTP_QUERY_MAX);
		return MHD_NO;
	}
	for (size_t i = 0; i < q->n; i++)
		if (!strcmp(q->seen[i], key)) {
			q->rc = err_set(q->eb, RC_UNPROCESSABLE, "query parameter '%.40s' is given more than once", key);
			return MHD_NO;
		}
	if (!q->allowed || (strcmp(q->allowed, "*") && !word_in(q->allowed, key))) {
		q->rc = err_set(q->eb, RC_UNPROCESSABLE, "unknown query parameter '%.40s'", key);
		return MHD_NO;
	}
	q->seen[q->n++] = key;
	return MHD_YES;
}

/* One rule for every route: only the names the route declares, each once. */
static enum rc check_query(struct http_request *rq)
{
	struct query_names q = {.allowed = rq->route->query, .eb = &rq->eb};
	MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, query_name_cb, &q);
	return q.rc;
}

/* Deepest nesting of arrays and objects, outside strings; stops counting
 * past the limit, so a deep document costs no more than a shallow one. */
static int json_depth(const char *s, size_t n)
{
	int depth = 0, max = 0;
	bool in_string = false;
	for (size_t i = 0; i < n && max <= HTTP_JSON_DEPTH_MAX; i++) {
		char c = s[i];
		if (in_string) {
			if (c == '\\')
				i++;
			else if (c == '"')
				in_string = false;
		} else if (c == '"') {
			in_string = true;
		} else if (c == '[' || c == '{') {
			if (++depth > max)
				max = depth;
		} else if (c == ']' || c == '}') {
			depth--;
		}
	}
	return max;
}

static bool is_json_type(const char *ct)
{
	if (!ct)
		return false;
	size_t n = strlen("application/json");
	return !strncasecmp(ct, "application/json", n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

static enum rc parse_body(struct pending *p, struct MHD_Connection *conn)
{
	struct http_request *rq = &p->rq;
	if (p->body_too_large)
		return err_set(&rq->eb, RC_TOO_LARGE, "the body is larger than %d bytes", HTTP_BODY_MAX);
	if (rq->route->body == BODY_FORM) {
		/* Forms (the public pages, RFC 8058 one-click): kept raw. */
		rq->form = p->body.data ? p->body.data : "";
		return RC_OK;
	}
	if (rq->route->body == BODY_JSON_OPTIONAL && p->body.len == 0)
		return RC_OK;
	if (!is_json_type(MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_TYPE)))
		return err_set(&rq->eb, RC_MEDIA_TYPE, "send the body as Content-Type: application/json");
	if (p->body.len == 0)
		return err_set(&rq->eb, RC_INVALID, "a JSON body is required");
	if (json_depth(p->body.data, p->body.len) > HTTP_JSON_DEPTH_MAX)
		return err_set(&rq->eb, RC_UNPROCESSABLE, "the JSON is nested deeper than %d levels", HTTP_JSON_DEPTH_MAX);
	enum rc rc = value_json_check_numbers(p->body.data, p->body.len, &rq->eb);
	if (rc)
		return rc;
	json_error_t jerr;
	rq->json = json_loadb(p->body.data, p->body.len, JSON_REJECT_DUPLICATES, &jerr);
	if (!rq->json) {
		/* jansson's text quotes the bytes where it stopped ("... near
		 * '\"Mari Salajane\\x'"): an answer names where, never a value,
		 * so only the reason before that quote is kept. */
		char *near = strstr(jerr.text, " near ");
		if (near)
			*near = '\0';
		return err_set(&rq->eb, RC_INVALID, "malformed JSON at line %d column %d: %s", jerr.line, jerr.column,
		               jerr.text);
	}
	return RC_OK;
}

static enum MHD_Result proxy_header_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	proxy_headers_add(cls, key, value);
	return MHD_YES;
}

/* The forwarding headers are only collected when some proxy is trusted:
 * otherwise nothing in them can change the answer. */
static void client_addr(struct server *s, struct MHD_Connection *conn, char out[PROXY_ADDR_LEN])
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	struct proxy_headers h = {.nxff = 0};
	if (s->proxies.n)
		MHD_get_connection_values(conn, MHD_HEADER_KIND, proxy_header_cb, &h);
	proxy_client(&s->proxies, ci ? ci->client_addr : NULL, &h, out);
}

/* ---- what libmicrohttpd hands over as C strings ---- */

/*
 * libmicrohttpd gives the path, the query's names and values and the headers
 * as C strings: a NUL in any of them would cut it silently, and a handler
 * would act on the part before it (a look-up of "alice@x\0junk" finds alice,
 * "Bearer KEY\0x" passes as KEY). Every request is checked here, before any
 * route, on the bytes as they came: a NUL refuses it whole.
 */

/* Counts the query's parameters as libmicrohttpd will split them: on '&',
 * a trailing empty piece aside. */
static size_t query_pieces(const char *q)
{
	size_t n = *q ? 1 : 0;
	for (const char *a = strchr(q, '&'); a; a = strchr(a + 1, '&'))
		if (a[1])
			n++;
	return n;
}

/*
 * Called by libmicrohttpd with the request target as sent (still escaped),
 * before it parses the query; what it returns is the request's state from
 * then on. libmicrohttpd 0.9.75 keeps every query parameter in the
 * connection's memory pool, and a query of some 500 parameters exhausts it:
 * the 431 it then means to send is lost and the client waits for the
 * timeout. A query with more parameters than any route takes is therefore
 * not parsed at all (its first byte becomes the end of the string, in the
 * request line libmicrohttpd owns and hands over as const) and the request
 * is refused as the query check refuses one parameter too many.
 */
void *server_on_uri(void *cls, const char *uri, struct MHD_Connection *conn)
{
	(void)cls;
	(void)conn;
	struct pending *p = xcalloc(1, sizeof *p);
	if (!uri) /* a request line without a target: libmicrohttpd refuses it */
		return p;
	size_t n = strlen(uri);
	/* The target ends where libmicrohttpd cut the line before " HTTP/1.x"
	 * (or at the line's end): anything else after its end is a raw NUL. */
	p->nul_in_target = strstr(uri, "%00") || (uri[n + 1] && strncmp(uri + n + 1, "HTTP/", 5));
	char *q = (char *)strchr(uri, '?');
	if (q && query_pieces(q + 1) > HTTP_QUERY_MAX) {
		q[1] = '\0';
		p->query_cut = true;
	}
	return p;
}

#if MHD_VERSION <= 0x00097500
struct header_scan {
	const char *prev_value; /* the previous header's value, NULL before the first */
	size_t prev_len;
	bool nul;
};

/* The next header's name must begin right after the previous value's line
 * end (CR LF or a bare LF, which libmicrohttpd has set to 0): any other
 * byte between them followed a NUL in that value. */
static bool ends_clean(const char *value, size_t len, const char *next_key)
{
	const char *end = value + len;
	return next_key == end + 1 || (next_key == end + 2 && end[1] == '\0');
}

static enum MHD_Result header_scan_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size,
                                      const char *value, size_t value_size)
{
	(void)kind;
	(void)key_size;
	struct header_scan *h = cls;
	if (h->prev_value && !ends_clean(h->prev_value, h->prev_len, key)) {
		h->nul = true;
		return MHD_NO;
	}
	h->prev_value = value;
	h->prev_len = value_size;
	return MHD_YES;
}
#endif

/*
 * A raw NUL in a header value. libmicrohttpd 0.9.75 (Debian 12's) measures
 * header values with strlen, so the _n look-ups cannot see past one; but it
 * parses the header lines in place, in its read buffer, one after the other,
 * the line ends set to 0. So a value is clean when the next name follows its
 * line end directly, and the last value when the byte after its end is 0
 * (CR LF, or the empty line after a bare LF). A NUL followed at once by more
 * NULs at the very end of the last header escapes this, and cuts nothing
 * that matters. The check is compiled for the layout it was verified on
 * (0.9.75 and before); libmicrohttpd 1.0 parses headers anew and answers a
 * NUL in one with its own 400.
 */
static bool header_has_nul(struct MHD_Connection *conn)
{
#if MHD_VERSION <= 0x00097500
	struct header_scan h = {.prev_value = NULL};
	MHD_get_connection_values_n(conn, MHD_HEADER_KIND, header_scan_cb, &h);
	if (h.nul)
		return true;
	return h.prev_value && h.prev_value[h.prev_len + 1] != '\0';
#else
	(void)conn;
	return false;
#endif
}

/* ---- the request pipeline ---- */

/* Length of the well-formed UTF-8 sequence at s (as jansson accepts it: no
 * overlong forms, no surrogates, nothing above U+10FFFF), 0 if there is none. */
static size_t utf8_len(const unsigned char *s)
{
	if (s[0] < 0x80)
		return 1;
	size_t n = s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : 0;
	for (size_t i = 1; i < n; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	if ((s[0] == 0xE0 && s[1] < 0xA0) || (s[0] == 0xED && s[1] > 0x9F) || (s[0] == 0xF0 && s[1] < 0x90) ||
	    (s[0] == 0xF4 && s[1] > 0x8F))
		return 0;
	return n;
}

/* An error message can quote what the client sent (a query name, a path
 * segment), which need not be UTF-8, and jansson refuses such a string:
 * every byte outside a well-formed sequence becomes U+FFFD, so the answer
 * always has its JSON body. */
static void utf8_clean(const char *in, char *out, size_t size)
{
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0;
	while (*s) {
		size_t n = utf8_len(s);
		const char *from = n ? (const char *)s : "\xEF\xBF\xBD";
		size_t w = n ? n : 3;
		if (o + w >= size)
			break;
		memcpy(out + o, from, w);
		o += w;
		s += n ? n : 1;
	}
	out[o] = '\0';
}

/* The JSON body of an error answer (malloc'd): what respond() sends, and
 * what an Idempotency-Key keeps. */
static char *error_body(struct http_request *rq, enum rc rc)
{
	char msg[3 * sizeof rq->eb.msg];
	utf8_clean(err_msg(&rq->eb, rc), msg, sizeof msg);
	json_t *err = json_pack("{s:{s:s, s:s}}", "error", "code", rc_code(rc), "message", msg);
	char *text = json_dumps(err, JSON_COMPACT);
	json_decref(err);
	return text;
}

/* ---- idempotent writes ---- */

static bool is_write(const char *method)
{
	return !strcmp(method, "POST") || !strcmp(method, "PUT") || !strcmp(method, "PATCH");
}

static enum MHD_Result fingerprint_query_cb(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
	(void)kind;
	struct buf *b = cls;
	/* Lengths first: no name or value can pass for another's. */
	return buf_printf(b, "%zu:%s=%zu:%s&", strlen(key), key, value ? strlen(value) : 0, value ? value : "") ? MHD_NO
	                                                                                                         : MHD_YES;
}

/* What identifies a request for its retries: method, path, query, body. */
static enum rc request_fingerprint(struct pending *p, struct buf *out)
{
	enum rc rc = buf_printf(out, "%s\n%s\n", p->rq.method, p->url);
	if (!rc)
		MHD_get_connection_values(p->rq.conn, MHD_GET_ARGUMENT_KIND, fingerprint_query_cb, out);
	if (!rc)
		rc = buf_append(out, "\n", 1);
	if (!rc && p->body.len)
		rc = buf_append(out, p->body.data, p->body.len);
	return rc;
}

/* The subject an answer is about, when the route says so, so that the
 * subject's erasure takes the kept answer with it: the subject in the path,
 * the owner of the record in the path, or the subject a create made. */
static void answer_subject(struct http_request *rq, char out[TOKEN_ID_MAX])
{
	const char *pat = rq->route->pattern;
	out[0] = '\0';
	if (!strncmp(pat, "/v1/subjects/{id}", 17)) {
		if (strlen(rq->params[0]) < TOKEN_ID_MAX)
			memcpy(out, rq->params[0], strlen(rq->params[0]) + 1);
	} else if (!strncmp(pat, "/v1/records/{id}", 16)) {
		if (record_owner(&rq->ctx, rq->params[0], out, NULL))
			out[0] = '\0';
	} else if (json_is_object(rq->out)) {
		const char *id = json_string_value(json_object_get(rq->out, "id"));
		if (id && !strncmp(id, TOKEN_PREFIX_SUBJECT, strlen(TOKEN_PREFIX_SUBJECT)) && strlen(id) < TOKEN_ID_MAX)
			memcpy(out, id, strlen(id) + 1);
	}
}

/*
 * A write with an Idempotency-Key runs inside one transaction that also
 * keeps its answer: a retry finds the answer and gets it again, byte for
 * byte, and nothing is done twice. The transaction holds the store's writer
 * queue from the look-up to the commit, so a retry that arrives while the
 * first is still running waits for it and then gets its answer. Answers of
 * 5xx and 429 are not kept: those are worth retrying. The handler's own
 * transactions nest inside (savepoints), so what it commits on an error
 * answer is committed as before.
 */
static enum rc run_idempotent(struct pending *p, const char *key)
{
	struct http_request *rq = &p->rq;
	struct idempotency_answer a = {0};
	struct buf fp;
	if (!idempotency_key_valid(key))
		return err_set(&rq->eb, RC_UNPROCESSABLE, "Idempotency-Key: 1 to %d printable ASCII characters",
		               IDEMPOTENCY_KEY_MAX);
	buf_init(&fp, HTTP_BODY_MAX + 4096);
	enum rc rc = request_fingerprint(p, &fp);
	if (rc)
		rc = err_set(&rq->eb, RC_TOO_LARGE, "the request is too large to be kept for its retries");
	if (!rc)
		rc = store_begin(rq->ctx.store);
	if (rc) {
		buf_fini(&fp);
		return rc;
	}
	rc = idempotency_find(&rq->ctx, key, fp.data, fp.len, &a, &rq->eb);
	if (!rc) { /* a retry: the first answer again */
		store_rollback(rq->ctx.store);
		buf_fini(&fp);
		free(rq->text);
		rq->status = a.status;
		rq->text = a.body ? a.body : xstrdup("");
		snprintf(rq->content_type_buf, sizeof rq->content_type_buf, "%s", a.content_type);
		rq->content_type = rq->content_type_buf;
		rq->replayed = true;
		return RC_OK;
	}
	if (rc != RC_NOT_FOUND) {
		store_rollback(rq->ctx.store);
		buf_fini(&fp);
		return rc;
	}
	enum rc hrc = rq->route->fn(rq);
	/* The answer as respond() will send it. */
	if (hrc) {
		a.status = rc_http_status(hrc);
		a.body = error_body(rq, hrc);
		snprintf(a.content_type, sizeof a.content_type, "application/json");
	} else {
		a.status = rq->status ? rq->status : 200;
		if (rq->text) {
			a.body = xstrdup(rq->text);
			snprintf(a.content_type, sizeof a.content_type, "%s", rq->content_type ? rq->content_type : "text/plain");
		} else {
			a.body = rq->out ? json_dumps(rq->out, JSON_COMPACT) : NULL;
			snprintf(a.content_type, sizeof a.content_type, "application/json");
		}
	}
	a.len = a.body ? strlen(a.body) : 0;
	rc = RC_OK;
	if (a.status < 500 && a.status != 429) {
		char subject[TOKEN_ID_MAX];
		answer_subject(rq, subject);
		rc = idempotency_keep(&rq->ctx, key, fp.data, fp.len, subject[0] ? subject : NULL, &a);
	}
	if (rc)
		store_rollback(rq->ctx.store); /* nothing kept, nothing done: the retry will do it */
	else
		rc = store_commit(rq->ctx.store);
	ledger_settle(&rq->ctx, rc); /* an erasure the handler made ends with this transaction */
	buf_fini(&fp);
	if (!rc && !hrc && !rq->text) {
		/* The text kept is the text sent. */
		json_decref(rq->out);
		rq->out = NULL;
		rq->text = a.body;
		rq->content_type = "application/json";
		a.body = NULL;
	}
	idempotency_answer_fini(&a);
	if (rc)
		return err_set(&rq->eb, rc, "the write could not be kept for its retries, so it was not done");
	return hrc;
}

static enum rc run_handler(struct pending *p)
{
	struct http_request *rq = &p->rq;
	const char *key = http_header(rq, "Idempotency-Key");
	if (key && is_write(rq->method) && rq->route->roles != R_PUBLIC)
		return run_idempotent(p, key);
	return rq->route->fn(rq);
}

static enum rc dispatch(struct server *s, struct pending *p, struct MHD_Connection *conn)
{
	struct http_request *rq = &p->rq;
	if (p->match_rc)
		return p->match_rc == RC_METHOD ? err_set(&rq->eb, RC_METHOD, "allowed: %s", p->allow)
		                                : err_set(&rq->eb, RC_NOT_FOUND, "no such endpoint");
	client_addr(s, conn, rq->client_ip);
	struct worker *w = NULL;
	enum rc rc = server_worker(s, &w);
	if (!rc) {
		rq->ctx.store = w->store;
		/* While the server stops, nothing waits suspended: access entries
		 * are written by the request's own thread, a consent check asks
		 * the store itself. */
		bool stopping = atomic_load(&s->stopping);
		rq->ctx.sink = stopping ? NULL : s->sink;
		rq->ctx.flights = stopping ? NULL : s->flights;
		rq->ctx.waiter = &p->waiter;
		rq->ctx.links = &s->links;
	}
	bool keyed = rq->route->roles != R_PUBLIC &&
	             (!(rq->route->roles & R_KEY_OPTIONAL) || http_header(rq, "Authorization"));
	if (!rc && keyed)
		rc = server_authenticate(s, w, rq);
	if (!rc)
		rc = check_query(rq);
	if (!rc && rq->route->body != BODY_NONE)
		rc = parse_body(p, conn);
	if (!rc)
		rc = run_handler(p);
	return rc;
}

static enum MHD_Result respond(struct server *s, struct pending *p, struct MHD_Connection *conn, enum rc rc)
{
	struct http_request *rq = &p->rq;
	char *text = NULL;
	const char *ctype = "application/json";
	int status;
	if (rc) {
		status = rc_http_status(rc);
		text = error_body(rq, rc);
		if (status >= 500)
			log_error("request failed route=%s rc=%s msg=%s", rq->route ? rq->route->pattern : "-", rc_code(rc),
			          err_msg(&rq->eb, rc));
	} else {
		status = rq->status ? rq->status : 200;
		if (rq->text) {
			text = rq->text;
			rq->text = NULL;
			ctype = rq->content_type;
		} else if (rq->out) {
			text = json_dumps(rq->out, JSON_COMPACT);
		}
	}
	size_t len = text ? strlen(text) : 0;
	struct MHD_Response *resp = MHD_create_response_from_buffer(len, text ? text : (char *)"",
	                                                            text ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	if (len || (status != 204 && status != 304))
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	/* Answers carry personal data: no cache may keep them, unless the
	 * handler said the answer is public (the notice). */
	bool cacheable = !rc && rq->cache_control;
	MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, cacheable ? rq->cache_control : "no-store");
	if (cacheable && rq->etag[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ETAG, rq->etag);
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	if (s->tls) /* browsers that reached us over HTTPS keep to it for a year */
		MHD_add_response_header(resp, "Strict-Transport-Security", "max-age=31536000");
	if (!strncmp(ctype, "text/html", 9) || (!rc && rq->csp)) {
		/* Pages behind e-mailed links: no scripts, no framing, and the
		 * token in the URL is not sent on as a referrer. */
		MHD_add_response_header(resp, "Content-Security-Policy",
		                        !rc && rq->csp ? rq->csp
		                                       : "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'");
		MHD_add_response_header(resp, "Referrer-Policy", "no-referrer");
		MHD_add_response_header(resp, "X-Frame-Options", "DENY"); /* browsers that predate frame-ancestors */
	}
	if (cacheable && rq->vary)
		MHD_add_response_header(resp, "Vary", rq->vary);
	if (!p->match_rc && !strncmp(rq->route->pattern, "/banner/", 8)) {
		/* The cookie banner runs on the company's own site, another origin:
		 * any origin may load its script and send a choice, without
		 * credentials (the visitor id is in the body, never a cookie of
		 * ours); docs/banner.md says why any. Errors carry it too, so the
		 * script can read why. */
		MHD_add_response_header(resp, "Access-Control-Allow-Origin", "*");
		MHD_add_response_header(resp, "Cross-Origin-Resource-Policy", "cross-origin");
		if (!strcmp(rq->method, "OPTIONS")) {
			MHD_add_response_header(resp, "Access-Control-Allow-Methods", "POST");
			MHD_add_response_header(resp, "Access-Control-Allow-Headers", "Content-Type");
			MHD_add_response_header(resp, "Access-Control-Max-Age", "86400");
		}
	}
	if (rq->set_cookie[0]) { /* the console's session (api/session.c); Secure where the browser came by HTTPS */
		char cookie[sizeof rq->set_cookie + 16];
		snprintf(cookie, sizeof cookie, "%s%s", rq->set_cookie, s->tls ? "; Secure" : "");
		MHD_add_response_header(resp, MHD_HTTP_HEADER_SET_COOKIE, cookie);
	}
	if (rq->replayed)
		MHD_add_response_header(resp, "Idempotent-Replayed", "true");
	if (rc == RC_METHOD)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, p->allow);
	if (rc == RC_UNAUTHORIZED)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
	if (rc == RC_TOO_MANY && rq->retry_after[0])
		MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, rq->retry_after);
	enum MHD_Result r = MHD_queue_response(conn, (unsigned)status, resp);
	MHD_destroy_response(resp);

	uint64_t us = now_us() - p->start_us;
	metrics_observe(&s->metrics, p->match_rc ? (int)http_nroutes : rq->route_index, status, us);
	char line[512];
	size_t line_len = log_format(line, sizeof line, LOG_INFO, "http method=%s route=%s status=%d us=%llu key=%s tenant=%lld",
	                        rq->method, p->match_rc ? "-" : rq->route->pattern, status, (unsigned long long)us,
	                        rq->key_id[0] ? rq->key_id : "-",
	                        rq->ctx.tenant ? (long long)rq->ctx.tenant->id : 0LL);
	server_log(s, line, line_len);
	return r;
}

static void park(void *arg)
{
	struct pending *p = arg;
	atomic_fetch_add(&p->rq.srv->parked, 1);
	MHD_suspend_connection(p->rq.conn);
}

static void wake(void *arg)
{
	struct pending *p = arg;
	MHD_resume_connection(p->rq.conn);
}

enum MHD_Result server_on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                  const char *version, const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
	struct server *s = cls;
	struct pending *p = *con_cls;
	if (!p) /* server_on_uri is always called first: not expected */
		p = *con_cls = xcalloc(1, sizeof *p);
	if (!p->started) {
		p->started = true;
		p->start_us = now_us();
		p->rq.srv = s;
		p->rq.conn = conn;
		p->rq.method = method;
		p->url = xstrdup(url);
		buf_init(&p->body, HTTP_BODY_MAX);
		audit_waiter_init(&p->waiter, wake, p);
		p->match_rc = router_match(method, url, &p->rq.route_index, p->rq.params, p->allow, sizeof p->allow);
		if (!p->match_rc)
			p->rq.route = &http_routes[p->rq.route_index];
		if (p->nul_in_target) {
			err_set(&p->rq.eb, RC_UNPROCESSABLE, "the path or the query has a NUL character");
			return respond(s, p, conn, RC_UNPROCESSABLE);
		}
		if (header_has_nul(conn)) {
			err_set(&p->rq.eb, RC_INVALID, "a header has a NUL character");
			return respond(s, p, conn, RC_INVALID);
		}
		if (p->query_cut) {
			err_set(&p->rq.eb, RC_UNPROCESSABLE, "more than %d query parameters", HTTP_QUERY_MAX);
			return respond(s, p, conn, RC_UNPROCESSABLE);
		}
		/* An announced body over the cap is refused before it is read. */
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		if (cl && strtoull(cl, NULL, 10) > HTTP_BODY_MAX) {
			err_set(&p->rq.eb, RC_TOO_LARGE, "the body is larger than %d bytes", HTTP_BODY_MAX);
			return respond(s, p, conn, RC_TOO_LARGE);
		}
		return MHD_YES;
	}
	if (*upload_data_size) {
		if (!p->body_too_large && buf_append(&p->body, upload_data, *upload_data_size))
			p->body_too_large = true; /* keep reading, answer 413 at the end */
		*upload_data_size = 0;
		return MHD_YES;
	}
	server_conn_received(s, conn); /* headers and body are in: the receive deadline stops */
	if (p->parked) { /* woken: the access entries are written, or failed */
		atomic_fetch_sub(&s->parked, 1);
		enum rc rc = p->handler_rc ? p->handler_rc : audit_waiter_result(&p->waiter);
		if (rc && !p->handler_rc)
			err_set(&p->rq.eb, rc, "the access could not be logged, so nothing is shown");
		if (!rc && p->rq.resume)
			rc = p->rq.resume(&p->rq);
		return respond(s, p, conn, rc);
	}
	enum rc rc = dispatch(s, p, conn);
	p->handler_rc = rc;
	if (audit_waiter_park(&p->waiter, park, p)) {
		p->parked = true;
		return MHD_YES;
	}
	/* Not parked: the entries were already written, or failed, before the
	 * park; a failed entry refuses the read here too. */
	if (!rc && (rc = audit_waiter_result(&p->waiter)))
		err_set(&p->rq.eb, rc, "the access could not be logged, so nothing is shown");
	if (!rc && p->rq.resume)
		rc = p->rq.resume(&p->rq);
	return respond(s, p, conn, rc);
}

void server_on_completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode toe)
{
	server_conn_next(cls, conn); /* the next request on it has its own deadline */
	struct pending *p = *con_cls;
	if (!p)
		return;
	if (!p->started) { /* refused by libmicrohttpd before any handler call */
		free(p);
		*con_cls = NULL;
		return;
	}
	json_decref(p->rq.json);
	json_decref(p->rq.out);
	free(p->rq.text);
	free(p->rq.resume_arg);
	buf_fini(&p->body);
	audit_waiter_fini(&p->waiter);
	free(p->url);
	free(p);
	*con_cls = NULL;
}
