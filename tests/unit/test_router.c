/* router: the route table (every route reachable, patterns unique, roles
 * and bodies that follow the rules, each route in the OpenAPI document) and
 * matching (path parameters, 404 against 405 with its Allow list). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "api/http.h"

/* The pattern with its i-th parameter named "p<i>", or with every
 * parameter as "{}" (shape) when values is false. */
static void fill(const char *pattern, bool values, char *out, size_t size)
{
	size_t o = 0;
	int np = 0;
	for (const char *p = pattern; *p; p++) {
		assert_true(o + 8 < size);
		if (*p == '{') {
			const char *end = strchr(p, '}');
			assert_non_null(end);
			o += (size_t)(values ? snprintf(out + o, size - o, "p%d", np) : snprintf(out + o, size - o, "{}"));
			np++;
			p = end;
		} else {
			out[o++] = *p;
		}
	}
	out[o] = '\0';
}

static enum rc route(const char *method, const char *path, int *index, char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN],
                     char *allow)
{
	return router_match(method, path, index, params, allow, 256);
}

static void test_every_route_reachable(void **state)
{
	for (size_t i = 0; i < http_nroutes; i++) {
		const struct route *r = &http_routes[i];
		char path[256], allow[256], params[HTTP_PARAM_MAX][HTTP_PARAM_LEN];
		int index = -1;
		fill(r->pattern, true, path, sizeof path);
		assert_int_equal(route(r->method, path, &index, params, allow), RC_OK);
		/* Not shadowed by an earlier route. */
		assert_int_equal(index, (int)i);
		int np = 0;
		for (const char *p = r->pattern; (p = strchr(p, '{')); p++) {
			char want[16];
			snprintf(want, sizeof want, "p%d", np);
			assert_string_equal(params[np], want);
			np++;
		}
		assert_true(np <= HTTP_PARAM_MAX);
	}
}

static void test_patterns_well_formed_and_unique(void **state)
{
	/* OPTIONS: the CORS preflight of the cookie banner's choices (api/banner.c). */
	static const char *const methods[] = {"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"};
	for (size_t i = 0; i < http_nroutes; i++) {
		const struct route *r = &http_routes[i];
		bool known = false;
		for (size_t m = 0; m < sizeof methods / sizeof methods[0]; m++)
			known |= !strcmp(r->method, methods[m]);
		assert_true(known);
		assert_int_equal(r->pattern[0], '/');
		assert_non_null(r->fn);
		/* A parameter is a whole segment: "/{name}" then "/" or the end. */
		for (const char *p = r->pattern; (p = strchr(p, '{')); p++) {
			assert_int_equal(p[-1], '/');
			const char *end = strchr(p, '}');
			assert_non_null(end);
			assert_true(end > p + 1);
			assert_true(end[1] == '/' || end[1] == '\0');
		}
		/* No trailing slash, but for the console's and the privacy
		 * center's front pages: a directory's URL, so that its pages'
		 * relative links work. */
		if (strcmp(r->pattern, "/console/") && strcmp(r->pattern, "/portal/{tenant}/"))
			assert_int_not_equal(r->pattern[strlen(r->pattern) - 1], '/');
		/* One route per method and shape: "/x/{id}" and "/x/{rid}" would be
		 * the same route twice, and only the first could ever answer. */
		char a[256], b[256];
		fill(r->pattern, false, a, sizeof a);
		for (size_t j = i + 1; j < http_nroutes; j++) {
			fill(http_routes[j].pattern, false, b, sizeof b);
			assert_false(!strcmp(a, b) && !strcmp(r->method, http_routes[j].method));
		}
	}
}

static void test_roles_and_bodies(void **state)
{
	for (size_t i = 0; i < http_nroutes; i++) {
		const struct route *r = &http_routes[i];
		bool api = !strncmp(r->pattern, "/v1/", 4);
		bool read = !strcmp(r->method, "GET");
		/* The API needs a key; the pages and probes outside it do not,
		 * but for /metrics: the register's counts are for its operators. */
		if (!strcmp(r->pattern, "/metrics")) {
			assert_int_equal(r->roles, R_ADMIN | R_AUDITOR);
		} else if (!strcmp(r->pattern, "/openapi.json")) {
			/* generic without a key, typed by a key's tenant's policy with one */
			assert_int_equal(r->roles, R_KEY_OPTIONAL | R_ANY);
		} else if (api) {
			assert_int_not_equal(r->roles, R_PUBLIC);
			assert_true(r->roles & R_ADMIN);
		} else {
			assert_int_equal(r->roles, R_PUBLIC);
		}
		assert_int_equal(r->roles & ~(R_ANY | R_KEY_OPTIONAL), 0);
		assert_true(!(r->roles & R_KEY_OPTIONAL) || !strcmp(r->method, "GET"));
		/* Auditors and marketing read; they change nothing. */
		if (!read)
			assert_int_equal(r->roles & (R_AUDITOR | R_MARKETING), 0);
		/* Deleting is for admins and the DPO. */
		if (!strcmp(r->method, "DELETE"))
			assert_int_equal(r->roles & ~(R_ADMIN | R_DPO), 0);
		/* GET, DELETE and OPTIONS take no body; POST and PATCH do. Forms
		 * only on the public pages behind signed links. */
		if (read || !strcmp(r->method, "DELETE") || !strcmp(r->method, "OPTIONS"))
			assert_int_equal(r->body, BODY_NONE);
		else
			assert_int_not_equal(r->body, BODY_NONE);
		if (r->body == BODY_FORM)
			assert_false(api);
	}
	/* A few that matter by name. */
	int index;
	char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN], allow[256];
	assert_int_equal(route("GET", "/v1/audit", &index, params, allow), RC_OK);
	assert_int_equal(http_routes[index].roles, R_ADMIN | R_DPO | R_AUDITOR);
	assert_int_equal(route("GET", "/v1/consents/check", &index, params, allow), RC_OK);
	assert_true(http_routes[index].roles & R_MARKETING);
	assert_int_equal(route("GET", "/v1/subjects/sub_x", &index, params, allow), RC_OK);
	assert_int_equal(http_routes[index].roles & (R_MARKETING | R_AUDITOR), 0);
	assert_int_equal(route("GET", "/healthz", &index, params, allow), RC_OK);
	assert_int_equal(http_routes[index].roles, R_PUBLIC);
}

static void test_matching(void **state)
{
	int index = -1;
	char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN], allow[256];

	assert_int_equal(route("PATCH", "/v1/subjects/sub_1/records/rec_2", &index, params, allow), RC_OK);
	assert_string_equal(http_routes[index].pattern, "/v1/subjects/{id}/records/{rid}");
	assert_string_equal(params[0], "sub_1");
	assert_string_equal(params[1], "rec_2");

	/* A literal segment is not a parameter, and the other way round. */
	assert_int_equal(route("GET", "/v1/audit/verify", &index, params, allow), RC_OK);
	assert_string_equal(http_routes[index].pattern, "/v1/audit/verify");
	assert_int_equal(route("GET", "/v1/consents/check", &index, params, allow), RC_OK);
	assert_string_equal(http_routes[index].pattern, "/v1/consents/check");
	assert_int_equal(route("GET", "/v1/subjects", &index, params, allow), RC_OK);
	assert_string_equal(http_routes[index].pattern, "/v1/subjects");

	/* Parameters are taken raw (no decoding, so no "/" can appear). */
	assert_int_equal(route("GET", "/v1/subjects/a%2Fb", &index, params, allow), RC_OK);
	assert_string_equal(params[0], "a%2Fb");

	const char *unknown[] = {
		"/", "", "/v1", "/v1/", "/v1/subjects/", "/v1/subjectsx", "/v1/subjects//records",
		"/v1/subjects/x/", "/v1/subjects/x/records/", "/v1/subjects/x/records/y/z", "/V1/subjects",
		"/v2/subjects", "/healthz/", "/v1/nothing", "//v1/subjects",
	};
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++)
		assert_int_equal(route("GET", unknown[i], &index, params, allow), RC_NOT_FOUND);

	/* A parameter must fit its buffer: longer is no route, not a cut. */
	char path[512], id[HTTP_PARAM_LEN + 1];
	memset(id, 'a', HTTP_PARAM_LEN - 1);
	id[HTTP_PARAM_LEN - 1] = '\0';
	snprintf(path, sizeof path, "/v1/records/%s", id);
	assert_int_equal(route("GET", path, &index, params, allow), RC_OK);
	assert_string_equal(params[0], id);
	id[HTTP_PARAM_LEN - 1] = 'a';
	id[HTTP_PARAM_LEN] = '\0';
	snprintf(path, sizeof path, "/v1/records/%s", id);
	assert_int_equal(route("GET", path, &index, params, allow), RC_NOT_FOUND);
}

static void test_method_not_allowed(void **state)
{
	int index = -1;
	char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN], allow[256];
	/* A known path with another method: 405, naming what is allowed. */
	assert_int_equal(route("PUT", "/v1/subjects/sub_1", &index, params, allow), RC_METHOD);
	assert_string_equal(allow, "GET, DELETE");
	assert_int_equal(route("GET", "/v1/holds/hld_1", &index, params, allow), RC_METHOD);
	assert_string_equal(allow, "DELETE");
	assert_int_equal(route("DELETE", "/v1/subjects", &index, params, allow), RC_METHOD);
	assert_string_equal(allow, "POST, PUT, GET");
	assert_int_equal(route("HEAD", "/healthz", &index, params, allow), RC_METHOD);
	assert_string_equal(allow, "GET");
	assert_int_equal(route("get", "/healthz", &index, params, allow), RC_METHOD); /* methods are case-sensitive */
	/* The banner's preflight is the one OPTIONS route; elsewhere OPTIONS is a 405. */
	assert_int_equal(route("OPTIONS", "/banner/shop/consent", &index, params, allow), RC_OK);
	assert_int_equal(route("OPTIONS", "/v1/subjects", &index, params, allow), RC_METHOD);
	/* An unknown path is 404 whatever the method, with no Allow. */
	assert_int_equal(route("PUT", "/v1/nothing", &index, params, allow), RC_NOT_FOUND);
	assert_string_equal(allow, "");
	/* Every route's path answers 405, not 404, to a method it lacks. */
	for (size_t i = 0; i < http_nroutes; i++) {
		char path[256];
		fill(http_routes[i].pattern, true, path, sizeof path);
		assert_int_equal(route("TRACE", path, &index, params, allow), RC_METHOD);
		assert_non_null(strstr(allow, http_routes[i].method));
	}
}

/* The OpenAPI document lists exactly the routes of the table. */
static void test_openapi_matches_table(void **state)
{
	json_error_t err;
	json_t *doc = json_loads(http_openapi_json, 0, &err);
	assert_non_null(doc);
	json_t *paths = json_object_get(doc, "paths");
	assert_true(json_is_object(paths));
	size_t documented = 0;
	const char *path;
	json_t *ops;
	json_object_foreach(paths, path, ops) {
		const char *m;
		json_t *op;
		json_object_foreach(ops, m, op) {
			char upper[16];
			size_t n = strlen(m);
			if (n >= sizeof upper || !strcmp(m, "parameters"))
				continue;
			for (size_t i = 0; i <= n; i++)
				upper[i] = (char)(m[i] >= 'a' && m[i] <= 'z' ? m[i] - 'a' + 'A' : m[i]);
			bool found = false;
			for (size_t i = 0; i < http_nroutes && !found; i++)
				found = !strcmp(http_routes[i].pattern, path) && !strcmp(http_routes[i].method, upper);
			if (!found)
				fail_msg("documented but not routed: %s %s", upper, path);
			documented++;
		}
	}
	for (size_t i = 0; i < http_nroutes; i++) {
		json_t *p = json_object_get(paths, http_routes[i].pattern);
		char lower[16];
		size_t n = strlen(http_routes[i].method);
		for (size_t k = 0; k <= n; k++)
			lower[k] = (char)(http_routes[i].method[k] >= 'A' && http_routes[i].method[k] <= 'Z'
			                      ? http_routes[i].method[k] - 'A' + 'a'
			                      : http_routes[i].method[k]);
		if (!p || !json_object_get(p, lower))
			fail_msg("routed but not documented: %s %s", http_routes[i].method, http_routes[i].pattern);
	}
	assert_int_equal(documented, http_nroutes);
	json_decref(doc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_route_reachable),
		cmocka_unit_test(test_patterns_well_formed_and_unique),
		cmocka_unit_test(test_roles_and_bodies),
		cmocka_unit_test(test_matching),
		cmocka_unit_test(test_method_not_allowed),
		cmocka_unit_test(test_openapi_matches_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
