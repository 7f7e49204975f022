/* handlers: one function per route; each file of src/api/ holds one resource's. */
#ifndef PRIVREG_HANDLERS_H
#define PRIVREG_HANDLERS_H

#include "api/http.h"
#include "store/store.h"

/* meta.c */
enum rc h_healthz(struct http_request *rq);
enum rc h_metrics(struct http_request *rq);
enum rc h_openapi(struct http_request *rq);
enum rc h_whoami(struct http_request *rq);
enum rc h_policy(struct http_request *rq);
enum rc h_policy_source(struct http_request *rq);
/* subjects.c */
enum rc h_subject_create(struct http_request *rq);
enum rc h_subject_put(struct http_request *rq);
enum rc h_subject_merge(struct http_request *rq);
enum rc h_subject_find(struct http_request *rq);
enum rc h_subject_get(struct http_request *rq);
enum rc h_subject_delete(struct http_request *rq);
enum rc h_record_add(struct http_request *rq);
enum rc h_subject_record_patch(struct http_request *rq);
enum rc h_record_get(struct http_request *rq);
enum rc h_records_list(struct http_request *rq);
enum rc h_record_add_detached(struct http_request *rq);
enum rc h_record_patch(struct http_request *rq);
/* session.c: staff enrolment, sign-in and sessions of the console */
enum rc h_enrolment_begin(struct http_request *rq);
enum rc h_enrolment_finish(struct http_request *rq);
enum rc h_session_create(struct http_request *rq);
enum rc h_session_get(struct http_request *rq);
enum rc h_session_delete(struct http_request *rq);
/* banner.c: the cookie banner's script, its choices, their counts */
enum rc h_banner_script(struct http_request *rq);
enum rc h_banner_preflight(struct http_request *rq);
enum rc h_banner_choice(struct http_request *rq);
enum rc h_banner_counts(struct http_request *rq);
/* users.c */
enum rc h_user_list(struct http_request *rq);
enum rc h_user_add(struct http_request *rq);
enum rc h_user_invite(struct http_request *rq);
enum rc h_user_disable(struct http_request *rq);
/* web.c: the console's embedded pages */
enum rc h_web_index(struct http_request *rq);
enum rc h_web_file(struct http_request *rq);
enum rc h_web_i18n(struct http_request *rq);
/* portal.c: the privacy center for data subjects (core/portal.h) */
enum rc h_portal_signin(struct http_request *rq);
enum rc h_portal_session_create(struct http_request *rq);
enum rc h_portal_session_get(struct http_request *rq);
enum rc h_portal_session_delete(struct http_request *rq);
enum rc h_portal_me(struct http_request *rq);
enum rc h_portal_export(struct http_request *rq);
enum rc h_portal_consent(struct http_request *rq);
enum rc h_portal_request(struct http_request *rq);
enum rc h_portal_index(struct http_request *rq);
enum rc h_portal_file(struct http_request *rq);
/* audit.c */
enum rc h_audit_list(struct http_request *rq);
enum rc h_audit_verify(struct http_request *rq);
enum rc h_attestation(struct http_request *rq);

/* consents.c */
enum rc h_consent_post(struct http_request *rq);
enum rc h_consent_get(struct http_request *rq);
enum rc h_consent_check(struct http_request *rq);
enum rc h_audience(struct http_request *rq);
enum rc h_acceptance_post(struct http_request *rq);
/* links.c: the public pages behind e-mailed links */
enum rc h_confirm_page(struct http_request *rq);
enum rc h_confirm(struct http_request *rq);
enum rc h_unsubscribe_page(struct http_request *rq);
enum rc h_unsubscribe(struct http_request *rq);
enum rc h_gpc(struct http_request *rq);
enum rc h_export_link(struct http_request *rq);
enum rc h_verify_page(struct http_request *rq);
enum rc h_verify(struct http_request *rq);
/* requests.c */
enum rc h_request_create(struct http_request *rq);
enum rc h_request_list(struct http_request *rq);
enum rc h_request_get(struct http_request *rq);
enum rc h_request_verify(struct http_request *rq);
enum rc h_request_extend(struct http_request *rq);
enum rc h_request_refuse(struct http_request *rq);
enum rc h_request_complete(struct http_request *rq);
enum rc h_request_waive(struct http_request *rq);
enum rc h_notifications_pending(struct http_request *rq);
enum rc h_request_export(struct http_request *rq);
enum rc h_subject_unrestrict(struct http_request *rq);

/* holds.c: holds and disclosures */
enum rc h_hold_create(struct http_request *rq);
enum rc h_hold_list(struct http_request *rq);
enum rc h_hold_lift(struct http_request *rq);
enum rc h_disclosure_create(struct http_request *rq);
enum rc h_disclosure_list(struct http_request *rq);
enum rc h_disclosure_log(struct http_request *rq);
/* notice.c */
enum rc h_notice_public(struct http_request *rq);
enum rc h_notice(struct http_request *rq);
enum rc h_ropa(struct http_request *rq);

/* retention.c */
enum rc h_retention_sweep(struct http_request *rq);
enum rc h_retention_forecast(struct http_request *rq);
enum rc h_retention_overdue(struct http_request *rq);

json_t *disclosures_json(const struct store_disclosure *v, size_t n);

#endif
