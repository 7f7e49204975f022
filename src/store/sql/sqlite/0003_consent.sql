-- privreg schema 3: consents. consent_events is the proof: append-only, one
-- row per step (granted, confirmed, withdrawn, objected, expired) with its
-- evidence. consent_state is derived from it and answers "may we?" fast.

CREATE TABLE consent_events (
    tenant_id      INTEGER NOT NULL,
    event_id       INTEGER NOT NULL,
    subject_id     BLOB    NOT NULL,
    purpose        TEXT    NOT NULL,
    action         TEXT    NOT NULL,
    at             INTEGER NOT NULL,
    source         TEXT,
    channel        TEXT,
    policy_version TEXT    NOT NULL,
    wording        TEXT,               -- the text the subject was shown, if given
    evidence       BLOB,               -- sealed under the subject's key: the truncated client IP
    actor          TEXT    NOT NULL,   -- a key id, or 'subject' (through a link)
    PRIMARY KEY (tenant_id, event_id),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, subject_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX consent_events_by_subject ON consent_events (tenant_id, subject_id, event_id);

CREATE TABLE consent_state (
    tenant_id   INTEGER NOT NULL,
    subject_id  BLOB    NOT NULL,
    purpose     TEXT    NOT NULL,
    state       TEXT    NOT NULL,      -- pending | granted | withdrawn | objected | expired
    updated_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, subject_id, purpose),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, subject_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX consent_state_by_purpose ON consent_state (tenant_id, purpose, state, subject_id);

-- Single-use tokens (confirmation links) that have been used: their hash.
CREATE TABLE used_tokens (
    tenant_id   INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    used_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, hash)
) WITHOUT ROWID;

-- E-mail waiting to be sent, written in the transaction of the change that
-- causes it. The body is sealed under the subject's key (it names them).
CREATE TABLE outbox (
    tenant_id   INTEGER NOT NULL,
    message_id  INTEGER NOT NULL,
    subject_id  BLOB    NOT NULL,
    kind        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    next_at     INTEGER NOT NULL,
    sent_at     INTEGER,
    sealed      BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, message_id)
) WITHOUT ROWID;
CREATE INDEX outbox_due ON outbox (next_at) WHERE sent_at IS NULL;
