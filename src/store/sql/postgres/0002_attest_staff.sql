-- privreg PostgreSQL schema 2: the SQLite schema's migrations 14, 16 and 17
-- (src/store/sql/sqlite/0014, 0016, 0017), in one file; the comments there
-- say what each table and column is for. Types as in schema 1.

-- 14: records_by_state holds only the records no person is behind; the
-- query that uses it repeats the condition, so that the planner can prove
-- the partial index applies whatever state is bound.
DROP INDEX records_by_state;
CREATE INDEX records_by_state ON records (tenant_id, kind, state, record_id)
    WHERE state IN ('anonymized', 'detached');

-- 16: attestations and the last sweep's time.
CREATE TABLE attestations (
    tenant_id   BIGINT NOT NULL REFERENCES tenants (tenant_id),
    serial      BIGINT NOT NULL,
    as_of       BIGINT NOT NULL,
    period_from BIGINT NOT NULL,
    document    TEXT   NOT NULL,
    PRIMARY KEY (tenant_id, serial)
);

CREATE TABLE last_sweep (
    tenant_id   BIGINT NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    at          BIGINT NOT NULL
);

-- 17: staff members' accounts and their sessions (the e-mail unique per tenant
-- since schema 10).
CREATE TABLE staff_users (
    tenant_id       BIGINT NOT NULL,
    user_id         BYTEA  NOT NULL,
    email           TEXT   NOT NULL UNIQUE,
    role            TEXT   NOT NULL,
    status          TEXT   NOT NULL,
    password_hash   TEXT,
    totp_secret     BYTEA,
    totp_last_step  BIGINT NOT NULL DEFAULT 0,
    enrol_hash      BYTEA,
    enrol_expires   BIGINT,
    failures        BIGINT NOT NULL DEFAULT 0,
    failure_window  BIGINT NOT NULL DEFAULT 0,
    created_at      BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
);
CREATE UNIQUE INDEX staff_users_by_enrolment ON staff_users (enrol_hash) WHERE enrol_hash IS NOT NULL;

CREATE TABLE staff_sessions (
    tenant_id       BIGINT NOT NULL,
    session_hash    BYTEA  NOT NULL,
    user_id         BYTEA  NOT NULL,
    csrf            TEXT   NOT NULL,
    created_at      BIGINT NOT NULL,
    last_seen       BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, session_hash)
);
CREATE UNIQUE INDEX staff_sessions_by_hash ON staff_sessions (session_hash);
CREATE INDEX staff_sessions_by_user ON staff_sessions (tenant_id, user_id);
