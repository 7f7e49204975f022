-- privreg schema 18: data subjects' sessions in the privacy center
-- (core/portal.h). Only the hash of a session's id is stored; the person is
-- named by their subject id (or, for a person the register does not know,
-- an id no subject has) and by the keyed hash of the address they signed
-- in with, never by the address itself.
CREATE TABLE portal_sessions (
    tenant_id       INTEGER NOT NULL,
    session_hash    BLOB    NOT NULL,
    subject_id      BLOB    NOT NULL,
    known           INTEGER NOT NULL,
    address_hash    BLOB    NOT NULL,
    csrf            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    last_seen       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, session_hash)
) WITHOUT ROWID;
CREATE INDEX portal_sessions_by_subject ON portal_sessions (tenant_id, subject_id);
