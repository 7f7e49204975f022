/* handlers: one function per route; each file of src/api/ holds one resource's. */
#ifndef PRIVREG_HANDLERS_H
#define PRIVREG_HANDLERS_H

#include "api/http.h"

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

#endif
