/*
 * sqlite/import.c: the bulk import's writes (`privreg import`, store/ops.def
 * import_holders and import_write). In-process SQLite pays no round trip
 * per statement, so the rows go through the kept statements of subjects.c,
 * one by one, and write exactly what a subject created through the API
 * writes; what batching buys PostgreSQL (postgres/import.c) SQLite already
 * has.
 */
#include "store/sqlite/internal.h"

enum rc sqlite_import_holders(struct store *s, int64_t tenant, const unsigned char *hashes, size_t n,
                              char (*holders)[TOKEN_ID_MAX])
{
	enum rc rc = RC_OK;
	for (size_t i = 0; i < n; i++)
		holders[i][0] = '\0';
	for (size_t i = 0; !rc && i < n; i++) {
		size_t m = 0;
		rc = sqlite_lookup_find(s, tenant, hashes + i * VAULT_HASH_LEN, &holders[i], 1, &m);
	}
	return rc;
}

enum rc sqlite_import_write(struct store *s, int64_t tenant, const struct store_subject *const *subjects,
                            size_t nsubjects, const struct store_record *const *records, size_t nrecords)
{
	if (!sq(s)->depth)
		return RC_INTERNAL; /* the caller's transaction holds the rows, as on PostgreSQL */
	enum rc rc = RC_OK;
	for (size_t i = 0; !rc && i < nsubjects; i++)
		rc = sqlite_subject_insert(s, tenant, subjects[i]);
	for (size_t i = 0; !rc && i < nrecords; i++)
		rc = sqlite_record_insert(s, tenant, records[i]);
	return rc;
}
