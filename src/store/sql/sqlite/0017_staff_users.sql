-- privreg schema 17: staff members' personal accounts and their sessions
-- (core/user.h). An account's e-mail is unique across tenants: sign-in
-- finds the account, and so its tenant, by it (until schema 24, which makes
-- it unique per tenant). Only hashes of enrolment
-- links and session ids are stored; the password only as its Argon2id hash.
CREATE TABLE staff_users (
    tenant_id       INTEGER NOT NULL,
    user_id         BLOB    NOT NULL,
    email           TEXT    NOT NULL UNIQUE,
    role            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    password_hash   TEXT,
    totp_secret     BLOB,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    enrol_hash      BLOB,
    enrol_expires   INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0,
    failure_window  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX staff_users_by_enrolment ON staff_users (enrol_hash) WHERE enrol_hash IS NOT NULL;

CREATE TABLE staff_sessions (
    tenant_id       INTEGER NOT NULL,
    session_hash    BLOB    NOT NULL,
    user_id         BLOB    NOT NULL,
    csrf            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, session_hash)
) WITHOUT ROWID;
CREATE UNIQUE INDEX staff_sessions_by_hash ON staff_sessions (session_hash);
CREATE INDEX staff_sessions_by_user ON staff_sessions (tenant_id, user_id);
