-- privreg schema 5: legal holds and disclosures.

-- A hold on a subject (all its records) or on one record: not swept, not
-- erased, until lifted or `until` passes. forbid_disclosure: also no
-- disclosures (an investigation, say).
CREATE TABLE holds (
    tenant_id          INTEGER NOT NULL,
    hold_id            BLOB    NOT NULL,
    subject_id         BLOB,
    record_id          BLOB,
    reason             TEXT    NOT NULL,
    forbid_disclosure  INTEGER NOT NULL DEFAULT 0,
    created_at         INTEGER NOT NULL,
    until              INTEGER,
    lifted_at          INTEGER,
    key_id             TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, hold_id)
) WITHOUT ROWID;
CREATE INDEX holds_by_subject ON holds (tenant_id, subject_id) WHERE lifted_at IS NULL;
CREATE INDEX holds_by_record ON holds (tenant_id, record_id) WHERE lifted_at IS NULL;

-- Every disclosure: to whom, why, what (field names), on what legal basis.
CREATE TABLE disclosures (
    tenant_id        INTEGER NOT NULL,
    disclosure_id    BLOB    NOT NULL,
    subject_id       BLOB    NOT NULL,
    recipient        TEXT    NOT NULL,
    purpose          TEXT    NOT NULL,
    fields           TEXT    NOT NULL,
    legal_reference  TEXT,
    at               INTEGER NOT NULL,
    key_id           TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, disclosure_id)
) WITHOUT ROWID;
CREATE INDEX disclosures_by_subject ON disclosures (tenant_id, subject_id, at);
