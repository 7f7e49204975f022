-- privreg schema 12: idempotent writes, and requests about nobody.

-- The first answer to a write sent with an Idempotency-Key, for 24 hours.
-- key_hash: keyed hash of (API key id, Idempotency-Key), so one key's
-- retries never meet another key's. fingerprint: keyed hash of method,
-- path, query and body; the same key with another fingerprint is refused.
-- The answer (status, content type, body) is sealed under a random key of
-- its own, wrapped by the tenant's master key like a subject's: a body can
-- hold values (a rectified record). subject_id names the subject the
-- answer is about, when known: erasing the subject deletes the answer.
CREATE TABLE idempotency (
    tenant_id   INTEGER NOT NULL,
    key_hash    BLOB    NOT NULL,
    fingerprint BLOB    NOT NULL,
    subject_id  BLOB,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    wrapped_key BLOB    NOT NULL,
    answer      BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, key_hash)
) WITHOUT ROWID;
CREATE INDEX idempotency_by_expiry ON idempotency (tenant_id, expires_at);
CREATE INDEX idempotency_by_subject ON idempotency (tenant_id, subject_id) WHERE subject_id IS NOT NULL;

-- A request about a person the register does not hold ("we hold nothing
-- about you"): requests.subject_id is then an id no subject has, and the
-- requester is kept beside the request: the identifier as a keyed lookup
-- hash, and the contact the answer goes to, sealed under a random key of
-- the request's own (wrapped like a subject key). The row, and with it the
-- key, goes with the request (requests.keep).
ALTER TABLE requests ADD COLUMN nobody INTEGER NOT NULL DEFAULT 0;
CREATE TABLE request_requesters (
    tenant_id   INTEGER NOT NULL,
    request_id  BLOB    NOT NULL,
    lookup_hash BLOB    NOT NULL,
    wrapped_key BLOB    NOT NULL,
    contact     BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
) WITHOUT ROWID;
CREATE TRIGGER request_requesters_go AFTER DELETE ON requests
BEGIN
    DELETE FROM request_requesters WHERE tenant_id = OLD.tenant_id AND request_id = OLD.request_id;
END;
