-- privreg PostgreSQL schema 1: the SQLite schema as of its migration 13
-- (src/store/sql/sqlite/0001-0013), in one file; the comments there say what
-- each table and column is for. Types: INTEGER columns are BIGINT (times,
-- counts and flags alike: the store binds every integer as bigint), BLOB is
-- BYTEA (ids are their 16 bytes), TEXT is TEXT. Every table of tenant data
-- has tenant_id first in its primary key; every statement filters by it.

CREATE TABLE tenants (
    tenant_id   BIGINT  NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    created_at  BIGINT  NOT NULL
);

CREATE TABLE tenant_tombstones (
    tenant_id   BIGINT  NOT NULL PRIMARY KEY,
    deleted_at  BIGINT  NOT NULL
);

CREATE TABLE policies (
    tenant_id    BIGINT NOT NULL REFERENCES tenants (tenant_id),
    version_no   BIGINT NOT NULL,
    label        TEXT   NOT NULL,
    source       TEXT   NOT NULL,
    installed_at BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, version_no)
);

CREATE TABLE subjects (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (tenant_id),
    subject_id  BYTEA  NOT NULL,
    wrapped_key BYTEA,
    created_at  BIGINT NOT NULL,
    restricted  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, subject_id)
);

CREATE TABLE records (
    tenant_id   BIGINT NOT NULL,
    record_id   BYTEA  NOT NULL,
    subject_id  BYTEA  NOT NULL,
    kind        TEXT   NOT NULL,
    state       TEXT   NOT NULL DEFAULT 'active',
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL,
    data        BYTEA  NOT NULL,
    lookups     BYTEA,
    due_at      BIGINT,
    trim_at     BIGINT,
    PRIMARY KEY (tenant_id, record_id),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, subject_id) ON DELETE CASCADE
);
CREATE INDEX records_by_subject ON records (tenant_id, subject_id, record_id);
CREATE INDEX records_due ON records (tenant_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX records_trim ON records (tenant_id, trim_at) WHERE trim_at IS NOT NULL;
CREATE INDEX records_by_state ON records (tenant_id, kind, state, record_id);

CREATE TABLE record_events (
    tenant_id   BIGINT NOT NULL,
    record_id   BYTEA  NOT NULL,
    name        TEXT   NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, record_id, name),
    FOREIGN KEY (tenant_id, record_id) REFERENCES records (tenant_id, record_id) ON DELETE CASCADE
);

CREATE TABLE lookups (
    tenant_id   BIGINT NOT NULL,
    hash        BYTEA  NOT NULL,
    record_id   BYTEA  NOT NULL,
    subject_id  BYTEA  NOT NULL,
    PRIMARY KEY (tenant_id, hash, record_id)
);

CREATE TABLE api_keys (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (tenant_id),
    key_id      TEXT   NOT NULL UNIQUE,
    role        TEXT   NOT NULL,
    hash        BYTEA  NOT NULL,
    created_at  BIGINT NOT NULL,
    revoked_at  BIGINT,
    PRIMARY KEY (tenant_id, key_id)
);

CREATE TABLE audit (
    tenant_id   BIGINT NOT NULL,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL,
    key_id      TEXT   NOT NULL,
    role        TEXT   NOT NULL,
    action      TEXT   NOT NULL,
    subject_id  TEXT,
    record_id   TEXT,
    purpose     TEXT,
    outcome     TEXT   NOT NULL,
    detail      TEXT,
    prev_hash   BYTEA  NOT NULL,
    hash        BYTEA  NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
CREATE INDEX audit_by_subject ON audit (tenant_id, subject_id, seq) WHERE subject_id IS NOT NULL;

-- The audit log is append-only; a deleted tenant's rows go (its tombstone
-- is written first, in the same transaction).
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM tenant_tombstones WHERE tenant_id = OLD.tenant_id) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'the audit log is append-only';
END $$;
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit FOR EACH ROW EXECUTE FUNCTION audit_append_only();

-- No pre-ULID ids were ever written to a PostgreSQL register: the table is
-- there for the reads that consult it, and stays empty.
CREATE TABLE id_legacy (
    tenant_id   BIGINT NOT NULL PRIMARY KEY,
    audit_seq   BIGINT NOT NULL
);

CREATE TABLE consent_events (
    tenant_id      BIGINT NOT NULL,
    event_id       BIGINT NOT NULL,
    subject_id     BYTEA  NOT NULL,
    purpose        TEXT   NOT NULL,
    action         TEXT   NOT NULL,
    at             BIGINT NOT NULL,
    source         TEXT,
    channel        TEXT,
    policy_version TEXT   NOT NULL,
    wording        TEXT,
    evidence       BYTEA,
    actor          TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, subject_id) ON DELETE CASCADE
);
CREATE INDEX consent_events_by_subject ON consent_events (tenant_id, subject_id, event_id);

CREATE TABLE consent_state (
    tenant_id   BIGINT NOT NULL,
    subject_id  BYTEA  NOT NULL,
    purpose     TEXT   NOT NULL,
    state       TEXT   NOT NULL,
    updated_at  BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, subject_id, purpose),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, subject_id) ON DELETE CASCADE
);
CREATE INDEX consent_state_by_purpose ON consent_state (tenant_id, purpose, state, subject_id);

CREATE TABLE used_tokens (
    tenant_id   BIGINT NOT NULL,
    hash        BYTEA  NOT NULL,
    used_at     BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);

CREATE TABLE outbox (
    tenant_id     BIGINT NOT NULL,
    message_id    BIGINT NOT NULL,
    subject_id    BYTEA  NOT NULL,
    kind          TEXT   NOT NULL,
    created_at    BIGINT NOT NULL,
    attempts      BIGINT NOT NULL DEFAULT 0,
    next_at       BIGINT NOT NULL,
    sent_at       BIGINT,
    sealed        BYTEA  NOT NULL,
    claimed_by    TEXT,
    claimed_until BIGINT,
    PRIMARY KEY (tenant_id, message_id)
);
CREATE INDEX outbox_due ON outbox (next_at) WHERE sent_at IS NULL;

CREATE TABLE requests (
    tenant_id        BIGINT NOT NULL,
    request_id       BYTEA  NOT NULL,
    subject_id       BYTEA  NOT NULL,
    type             TEXT   NOT NULL,
    status           TEXT   NOT NULL,
    channel          TEXT,
    received_at      BIGINT NOT NULL,
    due_at           BIGINT NOT NULL,
    target_at        BIGINT,
    extended_at      BIGINT,
    extension_reason TEXT,
    answered_at      BIGINT,
    outcome          TEXT,
    refusal_reason   TEXT,
    verified_by      TEXT,
    details          BYTEA,
    expires_at       BIGINT,
    notes            BYTEA,
    nobody           BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant_id, request_id)
);
CREATE INDEX requests_by_due ON requests (tenant_id, status, due_at);
CREATE INDEX requests_by_subject ON requests (tenant_id, subject_id);
CREATE INDEX requests_expiry ON requests (tenant_id, expires_at) WHERE expires_at IS NOT NULL;

CREATE TABLE request_requesters (
    tenant_id   BIGINT NOT NULL,
    request_id  BYTEA  NOT NULL,
    lookup_hash BYTEA  NOT NULL,
    wrapped_key BYTEA  NOT NULL,
    contact     BYTEA  NOT NULL,
    PRIMARY KEY (tenant_id, request_id)
);
CREATE FUNCTION request_requesters_go() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM request_requesters WHERE tenant_id = OLD.tenant_id AND request_id = OLD.request_id;
    RETURN OLD;
END $$;
CREATE TRIGGER request_requesters_go AFTER DELETE ON requests FOR EACH ROW EXECUTE FUNCTION request_requesters_go();

CREATE TABLE suppressions (
    tenant_id   BIGINT NOT NULL,
    hash        BYTEA  NOT NULL,
    at          BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, hash)
);

CREATE TABLE holds (
    tenant_id          BIGINT NOT NULL,
    hold_id            BYTEA  NOT NULL,
    subject_id         BYTEA,
    record_id          BYTEA,
    reason             TEXT   NOT NULL,
    forbid_disclosure  BIGINT NOT NULL DEFAULT 0,
    created_at         BIGINT NOT NULL,
    until              BIGINT,
    lifted_at          BIGINT,
    key_id             TEXT   NOT NULL,
    reason_sealed      BYTEA,
    sealed_for         BYTEA,
    PRIMARY KEY (tenant_id, hold_id)
);
CREATE INDEX holds_by_subject ON holds (tenant_id, subject_id) WHERE lifted_at IS NULL;
CREATE INDEX holds_by_record ON holds (tenant_id, record_id) WHERE lifted_at IS NULL;

CREATE TABLE disclosures (
    tenant_id        BIGINT NOT NULL,
    disclosure_id    BYTEA  NOT NULL,
    subject_id       BYTEA  NOT NULL,
    recipient        TEXT   NOT NULL,
    purpose          TEXT   NOT NULL,
    fields           TEXT   NOT NULL,
    legal_reference  TEXT,
    at               BIGINT NOT NULL,
    key_id           TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, disclosure_id)
);
CREATE INDEX disclosures_by_subject ON disclosures (tenant_id, subject_id, at);

CREATE TABLE ledger_position (
    tenant_id   BIGINT NOT NULL PRIMARY KEY,
    seq         BIGINT NOT NULL,
    at          BIGINT NOT NULL
);

-- Nothing is ever queued: a PostgreSQL register has sealed its free text
-- from the start. Kept for the reads that consult it.
CREATE TABLE seal_queue (
    tenant_id   BIGINT NOT NULL,
    kind        TEXT   NOT NULL,
    id          BYTEA  NOT NULL,
    PRIMARY KEY (tenant_id, kind, id)
);

CREATE TABLE idempotency (
    tenant_id   BIGINT NOT NULL,
    key_hash    BYTEA  NOT NULL,
    fingerprint BYTEA  NOT NULL,
    subject_id  BYTEA,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    wrapped_key BYTEA  NOT NULL,
    answer      BYTEA  NOT NULL,
    PRIMARY KEY (tenant_id, key_hash)
);
CREATE INDEX idempotency_by_expiry ON idempotency (tenant_id, expires_at);
CREATE INDEX idempotency_by_subject ON idempotency (tenant_id, subject_id) WHERE subject_id IS NOT NULL;
