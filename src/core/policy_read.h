/*
 * policy_read.h: what the two files of the policy parser share (not for use
 * outside core/policy.c and core/policy_read.c). policy.c holds the
 * framework: diagnostics, node helpers, names of enum values, titles, keep
 * rules, the top level and the public lookups; policy_read.c reads each
 * section (controller, languages, requests, fields, purposes, records,
 * recipients, cookies).
 */
#ifndef PRIVREG_POLICY_READ_H
#define PRIVREG_POLICY_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <yaml.h>

#include "base/err.h"
#include "core/policy.h"

/* Guards against alias bombs: no sane policy has this many nodes to visit. */
#define MAX_VISITS 200000

struct pctx {
	yaml_document_t *doc;
	struct policy *p;
	struct policy_diags *diags;
	size_t nerrors;
	size_t visits;
};

struct name_val {
	const char *name;
	int val;
};

extern const struct name_val policy_field_types[], policy_bases[], policy_channels[], policy_roles[],
	policy_transfers[], policy_thens[];

/* Diagnostics: each mistake with its line; n NULL names the file as a whole. */
int policy_line_of(const yaml_node_t *n);
PRINTF(3, 4) void policy_err(struct pctx *c, const yaml_node_t *n, const char *fmt, ...);

/* Nodes and scalars. */
yaml_node_t *policy_node(struct pctx *c, int id);
const char *policy_scalar(const yaml_node_t *n);
const char *policy_want_string(struct pctx *c, const yaml_node_t *n, const char *what);
bool policy_want_bool(struct pctx *c, const yaml_node_t *n, const char *what, bool *out);
bool policy_want_int(struct pctx *c, const yaml_node_t *n, const char *what, long lo, long hi, int *out);
bool policy_want_duration(struct pctx *c, const yaml_node_t *n, const char *what, struct duration *d);
bool policy_want_enum(struct pctx *c, yaml_node_t *n, const char *what, const struct name_val *t, int *out);

/* Iterates a mapping, checking its keys against `allowed` (NULL-terminated;
 * NULL allows any identifier) and refusing duplicates. Calls fn per pair. */
typedef void pair_fn(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);
bool policy_each_pair(struct pctx *c, yaml_node_t *map, const char *what, const char *const *allowed, pair_fn *fn,
                      void *arg);

/* Reads a sequence of names, each resolved by `find` into a pointer. */
typedef const void *find_fn(const struct policy *p, const char *name);
size_t policy_name_list(struct pctx *c, yaml_node_t *n, const char *what, const char *kind, find_fn *find,
                        const void ***out);
const void *policy_find_field(const struct policy *p, const char *n);
const void *policy_find_purpose(const struct policy *p, const char *n);

void policy_read_title(struct pctx *c, yaml_node_t *n, const char *owner, struct policy_title *t);
bool policy_parse_keep(struct pctx *c, yaml_node_t *n, const char *what, struct policy_keep *k);

/* The sections (policy_read.c). */
void policy_read_controller(struct pctx *c, yaml_node_t *n);
void policy_read_languages(struct pctx *c, yaml_node_t *n);
void policy_read_requests(struct pctx *c, yaml_node_t *n);
bool policy_longer_than_months(struct duration d, int months);
void policy_fields_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);
void policy_purposes_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);
void policy_records_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);
void policy_recipients_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);
void policy_consent_sources_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);
void policy_cookies_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);
void policy_systems_pair(struct pctx *c, const char *key, yaml_node_t *k, yaml_node_t *v, void *arg);

/* The notice's own texts (policy_read.c, last section): the keys of each
 * mapping that exist for the privacy notice alone. */
void policy_read_field_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_field *f,
                              const char *what);
void policy_read_purpose_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_purpose *u,
                                const char *what);
void policy_read_record_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_record *r,
                               const char *what);
void policy_read_recipient_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_recipient *r,
                                  const char *what);
void policy_read_cookie_notice(struct pctx *c, const char *key, yaml_node_t *v, struct policy_cookie *k,
                               const char *what);
void policy_read_automated(struct pctx *c, yaml_node_t *n);
void policy_read_date(struct pctx *c, yaml_node_t *n);

#endif
