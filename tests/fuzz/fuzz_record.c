/*
 * fuzz_record: any bytes as the JSON body of POST /v1/subjects/{id}/records
 * (and of each element of POST /v1/subjects' "records"), through the same
 * functions the handler calls, without a server or a database: the number
 * check, jansson with duplicate keys refused, json_keys_only,
 * record_input_from_json (api/value_json.c), then record_prepare (core),
 * which validates every field against the web shop policy and seals them.
 *
 * Checked beyond "no crash": a record that is accepted reads back (opened
 * with its key, shaped as GET /v1/records/{id} shapes it) into JSON that,
 * sent again as a body, is accepted and reads back the same: what the API
 * gives out, it takes back unchanged.
 */
#include <stdlib.h>
#include <string.h>

#include "api/value_json.h"
#include "core/record.h"
#include "fuzz.h"

static struct tenant tenant;
static struct subject_key key;
static const char subject_id[] = "sub_01jd0000000000000000000000";

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const unsigned char master[VAULT_KEY_LEN] = "privreg fuzz master key 32 bytes";
	unsigned char wrapped[VAULT_WRAPPED_MAX];
	if (vault_library_init())
		return 1;
	tenant.id = 1;
	tenant.policy = fuzz_policy("webshop");
	vault_init(&tenant.vault, 1, master);
	(void)!vault_subject_key_new(&tenant.vault, subject_id, &key, wrapped);
	return 0;
}

static const struct core_ctx ctx = {.tenant = &tenant, .now = 1748736000 /* 2025-06-01 */};

/* body -> prepared record, as h_record_add does before record_add. */
static enum rc prepare(const char *body, size_t len, struct record_prepared *out, struct errbuf *eb)
{
	static const char *const keys[] = {"kind", "fields", "created_at", "events", NULL};
	struct value_json_holder h = {0};
	struct record_input in;
	json_error_t jerr;
	enum rc rc = value_json_check_numbers(body, len, eb);
	if (rc)
		return rc;
	json_t *j = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!j)
		return RC_INVALID;
	rc = json_keys_only(j, keys, eb);
	if (!rc)
		rc = record_input_from_json(j, true, &in, &h, eb);
	if (!rc)
		rc = record_prepare(&ctx, subject_id, &key, &in, out, eb);
	value_json_holder_fini(&h);
	json_decref(j);
	return rc;
}

/* The prepared record as GET /v1/records/{id} would show its fields, and
 * as a body that would write them again. */
static json_t *read_back(struct record_prepared *p, char **body)
{
	struct store_record row = p->row;
	row.kind = strdup(p->row.kind);
	row.state = strdup(p->row.state);
	row.events = NULL;
	row.nevents = 0;
	struct record_view v;
	enum rc rc = record_view_take(&ctx, &key, &row, &v);
	if (rc)
		fuzz_fail("a record just sealed does not open: %s", rc_code(rc));
	json_t *j = record_view_to_json(&v);
	json_t *fields = json_incref(json_object_get(j, "fields"));
	json_t *again = json_pack("{s:s, s:O}", "kind", v.kind, "fields", fields);
	*body = value_json_dumps(again, JSON_COMPACT);
	json_decref(again);
	json_decref(j);
	record_view_fini(&v);
	free(row.kind);
	free(row.state);
	return fields;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct record_prepared p1, p2;
	struct errbuf eb = {""};
	if (prepare((const char *)data, size, &p1, &eb))
		return 0;
	char *body1 = NULL, *body2 = NULL;
	json_t *f1 = read_back(&p1, &body1);
	enum rc rc = prepare(body1, strlen(body1), &p2, &eb);
	if (rc)
		fuzz_fail("a record read back is refused when sent again: %s\n%s", err_msg(&eb, rc), body1);
	json_t *f2 = read_back(&p2, &body2);
	if (!json_equal(f1, f2))
		fuzz_fail("a record sent back reads differently:\n%s\n%s", body1, body2);
	json_decref(f1);
	json_decref(f2);
	free(body1);
	free(body2);
	record_prepared_fini(&p1);
	record_prepared_fini(&p2);
	return 0;
}
