/* handlers: one function per route; each file of src/api/ holds one resource's. */
#ifndef PRIVREG_HANDLERS_H
#define PRIVREG_HANDLERS_H

#include "api/http.h"
#include "store/store.h"

/* meta.c */
enum rc h_healthz(struct request *rq);
enum rc h_metrics(struct request *rq);
enum rc h_openapi(struct request *rq);
enum rc h_whoami(struct request *rq);
enum rc h_policy(struct request *rq);
/* subjects.c */
enum rc h_subject_create(struct request *rq);
enum rc h_subject_find(struct request *rq);
enum rc h_subject_get(struct request *rq);
enum rc h_subject_delete(struct request *rq);
enum rc h_record_add(struct request *rq);
enum rc h_subject_record_patch(struct request *rq);
enum rc h_record_get(struct request *rq);
enum rc h_record_patch(struct request *rq);
/* audit.c */
enum rc h_audit_list(struct request *rq);
enum rc h_audit_verify(struct request *rq);

/* consents.c */
enum rc h_consent_post(struct request *rq);
enum rc h_consent_get(struct request *rq);
enum rc h_consent_check(struct request *rq);
enum rc h_audience(struct request *rq);
enum rc h_acceptance_post(struct request *rq);
/* links.c: the public pages behind e-mailed links */
enum rc h_confirm_page(struct request *rq);
enum rc h_confirm(struct request *rq);
enum rc h_unsubscribe_page(struct request *rq);
enum rc h_unsubscribe(struct request *rq);
enum rc h_gpc(struct request *rq);
enum rc h_export_link(struct request *rq);
enum rc h_verify_page(struct request *rq);
enum rc h_verify(struct request *rq);
/* requests.c */
enum rc h_request_create(struct request *rq);
enum rc h_request_list(struct request *rq);
enum rc h_request_get(struct request *rq);
enum rc h_request_verify(struct request *rq);
enum rc h_request_extend(struct request *rq);
enum rc h_request_refuse(struct request *rq);
enum rc h_request_complete(struct request *rq);
enum rc h_request_export(struct request *rq);
enum rc h_subject_unrestrict(struct request *rq);

/* holds.c: holds and disclosures */
enum rc h_hold_create(struct request *rq);
enum rc h_hold_list(struct request *rq);
enum rc h_hold_lift(struct request *rq);
enum rc h_disclosure_create(struct request *rq);
enum rc h_disclosure_list(struct request *rq);
/* notice.c */
enum rc h_notice(struct request *rq);
enum rc h_ropa(struct request *rq);

/* retention.c */
enum rc h_retention_sweep(struct request *rq);
enum rc h_retention_forecast(struct request *rq);
enum rc h_retention_overdue(struct request *rq);

json_t *disclosures_json(const struct store_disclosure *v, size_t n);

#endif
