-- privreg schema 2: the audit log. Append-only, one hash chain per tenant:
-- hash = keyed BLAKE2b(prev_hash || entry), so an edited, inserted or deleted
-- row breaks every hash after it. Entries hold ids, never personal values.

CREATE TABLE audit (
    tenant_id   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,
    at          INTEGER NOT NULL,
    key_id      TEXT    NOT NULL,
    role        TEXT    NOT NULL,
    action      TEXT    NOT NULL,
    subject_id  TEXT,
    record_id   TEXT,
    purpose     TEXT,
    outcome     TEXT    NOT NULL,
    detail      TEXT,
    prev_hash   BLOB    NOT NULL,
    hash        BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
CREATE INDEX audit_by_subject ON audit (tenant_id, subject_id, seq) WHERE subject_id IS NOT NULL;

-- The audit log is append-only: the database refuses to change or delete a
-- row through SQL. (Someone with the file can still edit it; verification
-- then finds the break.)
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
