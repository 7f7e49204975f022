-- privreg schema 4: data-subject requests, restriction, suppression.

-- A request outlives the subject it is about (an erasure request is the
-- proof that the erasure was done), so it has no foreign key to subjects.
-- details are sealed under the subject's key (a rectification names values).
CREATE TABLE requests (
    tenant_id        INTEGER NOT NULL,
    request_id       BLOB    NOT NULL,
    subject_id       BLOB    NOT NULL,
    type             TEXT    NOT NULL,
    status           TEXT    NOT NULL,
    channel          TEXT,
    received_at      INTEGER NOT NULL,
    due_at           INTEGER NOT NULL,
    target_at        INTEGER,
    extended_at      INTEGER,
    extension_reason TEXT,
    answered_at      INTEGER,
    outcome          TEXT,              -- what was done, in ids and names only
    refusal_reason   TEXT,
    verified_by      TEXT,
    details          BLOB,
    PRIMARY KEY (tenant_id, request_id)
) WITHOUT ROWID;
CREATE INDEX requests_by_due ON requests (tenant_id, status, due_at);
CREATE INDEX requests_by_subject ON requests (tenant_id, subject_id);

-- Restriction (Art. 18): the subject's data is only stored, not processed.
ALTER TABLE subjects ADD COLUMN restricted INTEGER NOT NULL DEFAULT 0;

-- After an erasure: keyed hashes of the subject's contact values, so that
-- the same address imported again is not marketed to.
CREATE TABLE suppressions (
    tenant_id   INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hash)
) WITHOUT ROWID;
