/*
 * merge: two subjects that are one person become one (POST
 * /v1/subjects/{id}/merge {"from": id2}). The survivor keeps its id and key;
 * the other's records are sealed again under the survivor's key and moved
 * with their lookup rows, its consent history is copied (the later current
 * state per purpose stands), its requests and disclosures move, and then
 * its key is destroyed and its row deleted, all in one transaction with one
 * audit entry naming both ids. A restriction (Art. 18) of either carries to
 * the survivor. A legal hold on either (or on a record of either) refuses
 * the merge (409): the hold names what it keeps, and a merge would change
 * that; lift it, merge, and place it again. Mail of the other subject not yet
 * sent was sealed under its key and goes with it.
 */
#ifndef PRIVREG_MERGE_H
#define PRIVREG_MERGE_H

#include "core/request.h"

struct merge_result {
	size_t records, consent_events, requests;
};

enum rc merge_subjects(const struct core_ctx *c, const char *into, const char *from, struct merge_result *out,
                       struct errbuf *eb) WUR;

#endif
