/*
 * subject: a data subject (a person) and everything the register holds about
 * them. Creating a subject makes its data key; reading decrypts all its
 * records; deleting destroys the key before the rows (crypto-shredding).
 * Each call is one transaction (nested inside the caller's, if one is open).
 */
#ifndef PRIVREG_SUBJECT_H
#define PRIVREG_SUBJECT_H

#include "core/record.h"

#define SUBJECT_MAX_RECORDS_IN 64   /* records in one create call */
#define SUBJECT_FIND_MAX 100

struct subject_view {
	char id[TOKEN_ID_MAX];
	int64_t created_at;
	struct record_view *records;
	size_t nrecords;
};

struct subject_input {
	const struct record_input *records;
	size_t nrecords;
};

/* Creates a subject with its first records; record_ids gets n ids. */
enum rc subject_create(const struct core_ctx *c, const struct record_input *recs, size_t n,
                       char id[TOKEN_ID_MAX], char (*record_ids)[TOKEN_ID_MAX],
                       struct errbuf *eb) WUR;
/* Creates n subjects in one transaction: all or none. Every record is
 * validated and sealed before the first write; on a refusal *failed is the
 * index of the subject refused. ids (may be NULL) gets the subject ids. */
enum rc subject_import(const struct core_ctx *c, const struct subject_input *in, size_t n,
                       char (*ids)[TOKEN_ID_MAX], size_t *failed, struct errbuf *eb) WUR;
/*
 * Bulk import (privreg import). New subjects are validated and sealed into a
 * batch apart from the store: subject_batch_add reads only c->tenant, so a
 * thread without a connection may prepare a batch while another writes the
 * last one. subject_batch_write writes prepared subjects in the caller's
 * transaction without an audit entry of their own; subject_batch_audit then
 * appends one entry for all the subjects written from the batch, naming
 * the source (the file's SHA-256 and lines), their count, the first and
 * last id and a BLAKE2b digest of every id in order: each subject's
 * creation stays provable from that one entry.
 */
#define SUBJECT_BATCH_SOURCE_MAX 160
struct subject_batch;

struct subject_batch *subject_batch_new(void);
void subject_batch_free(struct subject_batch *b);
/* Empties b for the next batch (its written ids and digest too). */
void subject_batch_clear(struct subject_batch *b);
size_t subject_batch_count(const struct subject_batch *b);
/* Validates and seals one new subject with its records; *index gets its
 * place in b. A refusal leaves b as it was. */
enum rc subject_batch_add(const struct core_ctx *c, struct subject_batch *b, const struct record_input *recs,
                          size_t n, size_t *index, struct errbuf *eb) WUR;
/* Writes the subjects index[0..n) of b, in that order, in the caller's
 * transaction, each after the check of its unique values against the
 * register and the subjects written before it; a subject whose value
 * another holds is refused (RC_EXISTS) and nothing of it is written. The
 * writes of all n take a few statements (store_import_write), so the
 * check of them all comes first. What is returned is a failure of the
 * whole call (the caller rolls back); subject_batch_result says what
 * became of each subject. */
enum rc subject_batch_write(const struct core_ctx *c, struct subject_batch *b, const size_t *index,
                            size_t n) WUR;
/* After subject_batch_write: RC_OK and the id of subject `index` of b, or
 * why it was refused (RC_EXISTS, naming the field and the subject holding
 * the value). */
enum rc subject_batch_result(const struct subject_batch *b, size_t index, char id[TOKEN_ID_MAX],
                             struct errbuf *eb) WUR;
/* Subjects written from b since it was cleared. */
size_t subject_batch_written(const struct subject_batch *b);
/* One audit entry (action subject.import) for the subjects written from b,
 * none or many; source is e.g. "file=sha256:HEX lines=1-10000". */
enum rc subject_batch_audit(const struct core_ctx *c, struct subject_batch *b, const char *source) WUR;
/* A run of batch transactions begins (on) or has ended (off), outside any
 * transaction (store_bulk): the store may keep more in memory meanwhile,
 * and the end makes every transaction of the run durable, also after a
 * failure. */
enum rc subject_batch_run(const struct core_ctx *c, bool on) WUR;
/* Opens one transaction of the run, whose commit does not wait for the
 * disk (store_begin_relaxed: the run's end does, for all of them). */
enum rc subject_batch_begin(const struct core_ctx *c) WUR;

/* One person, one subject: RC_EXISTS (and that subject's id in existing)
 * when a value recs give to a field with `unique: true` is held by a subject
 * other than self (may be NULL). subject_create and subject_import check it
 * inside their transaction. */
enum rc subject_unique_check(const struct core_ctx *c, const struct record_input *recs, size_t n, const char *self,
                             char existing[TOKEN_ID_MAX], struct errbuf *eb) WUR;
/* Create or update by a unique lookup field (PUT /v1/subjects?email=...):
 * with no subject holding `value` in `field`, as subject_create (*created);
 * with one, each record given rectifies that subject's first record of its
 * kind, or is added if it has none. The records must carry the value.
 * record_ids gets n ids; existing as in subject_unique_check. */
enum rc subject_put(const struct core_ctx *c, const char *field, const struct field_value *value,
                    const struct record_input *recs, size_t n, char id[TOKEN_ID_MAX],
                    char (*record_ids)[TOKEN_ID_MAX], bool *created, char existing[TOKEN_ID_MAX],
                    struct errbuf *eb) WUR;
enum rc subject_read(const struct core_ctx *c, const char *id, struct subject_view **out,
                     struct errbuf *eb) WUR;
void subject_view_free(struct subject_view *v);
/* Destroys the subject's key, then deletes it and all its records. */
enum rc subject_delete(const struct core_ctx *c, const char *id, struct errbuf *eb) WUR;
/* Subjects having `value` in lookup field `field`. */
enum rc subject_find(const struct core_ctx *c, const char *field, const struct field_value *value,
                     char (*ids)[TOKEN_ID_MAX], size_t max, size_t *n, struct errbuf *eb) WUR;

/* Erasure (Art. 17): everything of the subject goes, but records of kinds a
 * law makes the controller keep (erasable: false), which are re-sealed under
 * a new key and marked restricted; the old key is destroyed either way.
 * Lookup hashes and consents go; keyed hashes of the subject's e-mail and
 * phone stay as suppressions. Runs in the caller's transaction. */
struct subject_erasure {
	size_t deleted;
	struct {
		char kind[65];
		char rule[128];        /* the keep rule, or the hold's reason */
		bool held;             /* kept by a legal hold, not by law */
		int64_t until;         /* its due time (0: none yet), told to the subject */
	} *kept;
	size_t nkept;
};

enum rc subject_erase(const struct core_ctx *c, const char *subject_id, struct subject_erasure *out,
                      struct errbuf *eb) WUR;
/* subject_erase for a data-subject request: the erasure ledger names it. */
enum rc subject_erase_for(const struct core_ctx *c, const char *subject_id, const char *request_id,
                          struct subject_erasure *out, struct errbuf *eb) WUR;
void subject_erasure_fini(struct subject_erasure *e);

/* Anonymisation on request: each of the subject's records whose kind says
 * `then: anonymize`, is erasable and under no hold is anonymised now
 * (record_anonymize), one audit entry each; *n how many. The rest is left
 * for subject_erase, in the same transaction as the caller's. */
enum rc subject_anonymize(const struct core_ctx *c, const char *subject_id, size_t *n, struct errbuf *eb) WUR;

/* Restriction (Art. 18) on or off. */
enum rc subject_set_restricted(const struct core_ctx *c, const char *subject_id, bool restricted,
                               struct errbuf *eb) WUR;
/* The keyed hash under which a contact value is suppressed after erasure. */
void subject_suppression_hash(const struct core_ctx *c, const struct policy_field *f, const char *canonical,
                              size_t len, unsigned char out[VAULT_HASH_LEN]);

/* The subject's contact for a channel (the first e-mail, phone or address
 * field of their records) and their language (the `language` field when it
 * is one of the policy's, else the policy's first). *has_account (may be
 * NULL): whether they have a record of a kind kept `while active`. Reads
 * without a log entry: the caller's own action is what gets logged. */
enum rc subject_contact(const struct core_ctx *c, const char *subject_id, const struct subject_key *key,
                        enum channel ch, char contact[256], char lang[8], bool *has_account) WUR;

#endif
