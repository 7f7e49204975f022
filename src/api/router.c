/*
 * router: the one table of every HTTP route, with the roles that may use it.
 * A route's pattern is also its name in the access log and the metrics, so
 * no personal value (an e-mail in a path, say) ever reaches either. Each
 * route names the query parameters it reads; http.c refuses any other name,
 * and any name given twice, for every route alike.
 */
#include <stdio.h>
#include <string.h>

#include "api/handlers.h"
#include "api/http.h"

const struct route http_routes[] = {
	{"GET", "/healthz", h_healthz, R_PUBLIC, BODY_NONE, NULL},
	{"GET", "/metrics", h_metrics, R_ADMIN | R_AUDITOR, BODY_NONE, NULL},
	{"GET", "/openapi.json", h_openapi, R_KEY_OPTIONAL | R_ANY, BODY_NONE, NULL},
	{"GET", "/v1/whoami", h_whoami, R_ANY, BODY_NONE, NULL},
	{"GET", "/v1/policy", h_policy, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, NULL},
	{"GET", "/v1/policy/source", h_policy_source, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, NULL},
	{"POST", "/v1/subjects", h_subject_create, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"PUT", "/v1/subjects", h_subject_put, R_ADMIN | R_DPO, BODY_JSON, "*"},
	{"GET", "/v1/subjects", h_subject_find, R_ADMIN | R_DPO | R_SUPPORT, BODY_NONE, "*"},
	{"GET", "/v1/subjects/{id}", h_subject_get, R_ADMIN | R_DPO | R_SUPPORT, BODY_NONE, NULL},
	{"DELETE", "/v1/subjects/{id}", h_subject_delete, R_ADMIN | R_DPO, BODY_NONE, NULL},
	{"POST", "/v1/subjects/{id}/merge", h_subject_merge, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"POST", "/v1/subjects/{id}/records", h_record_add, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"PATCH", "/v1/subjects/{id}/records/{rid}", h_subject_record_patch, R_ADMIN | R_DPO | R_SUPPORT, BODY_JSON, NULL},
	{"POST", "/v1/records", h_record_add_detached, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"GET", "/v1/records", h_records_list, R_ADMIN | R_DPO | R_SUPPORT, BODY_NONE, "state kind after limit"},
	{"GET", "/v1/records/{id}", h_record_get, R_ADMIN | R_DPO | R_SUPPORT, BODY_NONE, NULL},
	{"PATCH", "/v1/records/{id}", h_record_patch, R_ADMIN | R_DPO | R_SUPPORT, BODY_JSON, NULL},
	{"GET", "/v1/audit", h_audit_list, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, "subject since until after limit"},
	{"GET", "/v1/audit/verify", h_audit_verify, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, NULL},
	{"GET", "/v1/attestation", h_attestation, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, "latest"},
	{"POST", "/v1/subjects/{id}/consents", h_consent_post, R_ADMIN | R_DPO | R_SUPPORT, BODY_JSON, NULL},
	{"GET", "/v1/subjects/{id}/consents", h_consent_get, R_ADMIN | R_DPO | R_SUPPORT, BODY_NONE, NULL},
	{"POST", "/v1/subjects/{id}/acceptances", h_acceptance_post, R_ADMIN | R_DPO | R_SUPPORT, BODY_JSON, NULL},
	{"GET", "/v1/consents/check", h_consent_check, R_ADMIN | R_DPO | R_MARKETING, BODY_NONE, "*"},
	{"GET", "/v1/audiences/{purpose}", h_audience, R_ADMIN | R_MARKETING, BODY_NONE, "after limit"},
	{"GET", ROUTER_CONFIRM "{token}", h_confirm_page, R_PUBLIC, BODY_NONE, NULL},
	{"POST", ROUTER_CONFIRM "{token}", h_confirm, R_PUBLIC, BODY_FORM, NULL},
	{"GET", ROUTER_UNSUBSCRIBE "{token}", h_unsubscribe_page, R_PUBLIC, BODY_NONE, NULL},
	{"POST", ROUTER_UNSUBSCRIBE "{token}", h_unsubscribe, R_PUBLIC, BODY_FORM, NULL},
	{"GET", "/.well-known/gpc.json", h_gpc, R_PUBLIC, BODY_NONE, NULL},
	{"GET", "/banner/{file}", h_banner_script, R_PUBLIC, BODY_NONE, NULL},
	{"OPTIONS", "/banner/{tenant}/consent", h_banner_preflight, R_PUBLIC, BODY_NONE, NULL},
	{"POST", "/banner/{tenant}/consent", h_banner_choice, R_PUBLIC, BODY_JSON, NULL},
	{"GET", "/v1/banner/counts", h_banner_counts, R_ADMIN | R_DPO | R_MARKETING | R_AUDITOR, BODY_NONE, NULL},
	{"POST", "/v1/requests", h_request_create, R_ADMIN | R_DPO | R_SUPPORT, BODY_JSON, NULL},
	{"GET", "/v1/requests", h_request_list, R_ADMIN | R_DPO, BODY_NONE, "status overdue due_before after limit"},
	{"GET", "/v1/requests/{id}", h_request_get, R_ADMIN | R_DPO | R_SUPPORT, BODY_NONE, NULL},
	{"POST", "/v1/requests/{id}/verify", h_request_verify, R_ADMIN | R_DPO | R_SUPPORT, BODY_JSON, NULL},
	{"POST", "/v1/requests/{id}/extend", h_request_extend, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"POST", "/v1/requests/{id}/refuse", h_request_refuse, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"POST", "/v1/requests/{id}/complete", h_request_complete, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"POST", "/v1/requests/{id}/notifications/{n}/waive", h_request_waive, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"GET", "/v1/notifications", h_notifications_pending, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, NULL},
	{"GET", "/v1/requests/{id}/export", h_request_export, R_ADMIN | R_DPO, BODY_NONE, "format"},
	{"GET", ROUTER_EXPORT "{token}", h_export_link, R_PUBLIC, BODY_NONE, "format"},
	{"GET", ROUTER_VERIFY "{token}", h_verify_page, R_PUBLIC, BODY_NONE, NULL},
	{"POST", ROUTER_VERIFY "{token}", h_verify, R_PUBLIC, BODY_FORM, NULL},
	{"DELETE", "/v1/subjects/{id}/restriction", h_subject_unrestrict, R_ADMIN | R_DPO, BODY_NONE, NULL},
	{"POST", "/v1/holds", h_hold_create, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"GET", "/v1/holds", h_hold_list, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, "subject record"},
	{"DELETE", "/v1/holds/{id}", h_hold_lift, R_ADMIN | R_DPO, BODY_NONE, NULL},
	{"POST", "/v1/disclosures", h_disclosure_create, R_ADMIN | R_DPO, BODY_JSON, NULL},
	{"GET", "/v1/disclosures", h_disclosure_log, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, "recipient purpose since until before limit"},
	{"GET", "/v1/subjects/{id}/disclosures", h_disclosure_list, R_ADMIN | R_DPO | R_SUPPORT, BODY_NONE, NULL},
	{"GET", "/notice/{tenant}", h_notice_public, R_PUBLIC, BODY_NONE, "lang format"},
	{"GET", "/v1/notice", h_notice, R_ANY, BODY_NONE, "lang format"},
	{"GET", "/v1/ropa", h_ropa, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, "format view"},
	{"POST", "/v1/retention/sweep", h_retention_sweep, R_ADMIN | R_DPO, BODY_JSON_OPTIONAL, NULL},
	{"GET", "/v1/retention/forecast", h_retention_forecast, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, "months"},
	{"GET", "/v1/retention/overdue", h_retention_overdue, R_ADMIN | R_DPO | R_AUDITOR, BODY_NONE, "limit"},
	{"GET", "/v1/users", h_user_list, R_ADMIN, BODY_NONE, NULL},
	{"POST", "/v1/users", h_user_add, R_ADMIN, BODY_JSON, NULL},
	{"POST", "/v1/users/{id}/invite", h_user_invite, R_ADMIN, BODY_JSON_OPTIONAL, NULL},
	{"POST", "/v1/users/{id}/disable", h_user_disable, R_ADMIN, BODY_JSON_OPTIONAL, NULL},
	{"POST", "/console/enrolment", h_enrolment_begin, R_PUBLIC, BODY_JSON, NULL},
	{"POST", "/console/enrolment/confirm", h_enrolment_finish, R_PUBLIC, BODY_JSON, NULL},
	{"POST", "/console/session", h_session_create, R_PUBLIC, BODY_JSON, NULL},
	{"GET", "/console/session", h_session_get, R_PUBLIC, BODY_NONE, NULL},
	{"DELETE", "/console/session", h_session_delete, R_PUBLIC, BODY_NONE, NULL},
	{"GET", "/console/", h_web_index, R_PUBLIC, BODY_NONE, NULL},
	{"GET", "/console/i18n.json", h_web_i18n, R_PUBLIC, BODY_NONE, "lang"},
	{"GET", "/console/{file}", h_web_file, R_PUBLIC, BODY_NONE, NULL},
	/* The privacy center (api/portal.c): public routes, the sign-in link or the
	 * subject's session cookie (with X-CSRF-Token on writes) is the caller. */
	{"POST", "/portal/{tenant}/api/signin", h_portal_signin, R_PUBLIC, BODY_JSON, NULL},
	{"POST", "/portal/{tenant}/api/session", h_portal_session_create, R_PUBLIC, BODY_JSON, NULL},
	{"GET", "/portal/{tenant}/api/session", h_portal_session_get, R_PUBLIC, BODY_NONE, NULL},
	{"DELETE", "/portal/{tenant}/api/session", h_portal_session_delete, R_PUBLIC, BODY_NONE, NULL},
	{"GET", "/portal/{tenant}/api/me", h_portal_me, R_PUBLIC, BODY_NONE, NULL},
	{"GET", "/portal/{tenant}/api/export", h_portal_export, R_PUBLIC, BODY_NONE, "format"},
	{"POST", "/portal/{tenant}/api/consents", h_portal_consent, R_PUBLIC, BODY_JSON, NULL},
	{"POST", "/portal/{tenant}/api/requests", h_portal_request, R_PUBLIC, BODY_JSON, NULL},
	{"GET", "/portal/{tenant}/", h_portal_index, R_PUBLIC, BODY_NONE, NULL},
	{"GET", "/portal/{tenant}/i18n.json", h_web_i18n, R_PUBLIC, BODY_NONE, "lang"},
	{"GET", "/portal/{tenant}/{file}", h_portal_file, R_PUBLIC, BODY_NONE, NULL},
};

const size_t http_nroutes = sizeof http_routes / sizeof http_routes[0];

/* Matches one pattern against a path; {name} takes one non-empty segment. */
static bool match(const char *pattern, const char *path, char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN])
{
	int np = 0;
	const char *p = pattern, *s = path;
	while (*p && *s) {
		if (*p == '{') {
			const char *end = strchr(s, '/');
			size_t len = end ? (size_t)(end - s) : strlen(s);
			if (len == 0 || len >= HTTP_PARAM_LEN || np == HTTP_PARAM_MAX)
				return false;
			memcpy(params[np], s, len);
			params[np++][len] = '\0';
			s += len;
			p = strchr(p, '}') + 1;
		} else if (*p++ != *s++) {
			return false;
		}
	}
	return !*p && !*s;
}

enum rc router_match(const char *method, const char *path, int *index,
                     char params[HTTP_PARAM_MAX][HTTP_PARAM_LEN], char *allow, size_t allow_size)
{
	bool path_known = false;
	allow[0] = '\0';
	for (size_t i = 0; i < http_nroutes; i++) {
		char tmp[HTTP_PARAM_MAX][HTTP_PARAM_LEN];
		if (!match(http_routes[i].pattern, path, tmp))
			continue;
		if (!strcmp(http_routes[i].method, method)) {
			*index = (int)i;
			memcpy(params, tmp, sizeof tmp);
			return RC_OK;
		}
		path_known = true;
		size_t used = strlen(allow);
		snprintf(allow + used, allow_size - used, "%s%s", used ? ", " : "", http_routes[i].method);
	}
	return path_known ? RC_METHOD : RC_NOT_FOUND;
}

void router_links(struct core_links *out, const char *base)
{
	*out = (struct core_links){
		.base = base,
		.prefix = {[CORE_LINK_CONFIRM] = ROUTER_CONFIRM, [CORE_LINK_UNSUBSCRIBE] = ROUTER_UNSUBSCRIBE,
		           [CORE_LINK_VERIFY] = ROUTER_VERIFY, [CORE_LINK_EXPORT] = ROUTER_EXPORT,
		           [CORE_LINK_PORTAL] = ROUTER_PORTAL},
	};
}
