-- privreg PostgreSQL schema 4: data subjects' sessions in the privacy
-- center (core/portal.h), as SQLite's migration 18.
CREATE TABLE portal_sessions (
    tenant_id       BIGINT  NOT NULL,
    session_hash    BYTEA   NOT NULL,
    subject_id      BYTEA   NOT NULL,
    known           BIGINT  NOT NULL,
    address_hash    BYTEA   NOT NULL,
    csrf            TEXT    NOT NULL,
    created_at      BIGINT  NOT NULL,
    last_seen       BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, session_hash)
);
CREATE INDEX portal_sessions_by_subject ON portal_sessions (tenant_id, subject_id);
