-- privreg schema 1: tenants, policies, subjects, records, events, lookups, API keys.
-- Every table of tenant data has tenant_id first in its primary key; every
-- statement filters by it. Personal values exist here only as ciphertext
-- (records.data) and keyed hashes (lookups.hash).

CREATE TABLE tenants (
    tenant_id   INTEGER NOT NULL,
    name        TEXT    NOT NULL UNIQUE,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- Every policy version a tenant has run under; the highest version_no is in force.
CREATE TABLE policies (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    version_no  INTEGER NOT NULL,
    label       TEXT    NOT NULL,
    source      TEXT    NOT NULL,
    installed_at INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version_no)
) WITHOUT ROWID;

-- wrapped_key is NULL once destroyed (crypto-shredding).
CREATE TABLE subjects (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    subject_id  BLOB    NOT NULL,
    wrapped_key BLOB,
    created_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, subject_id)
) WITHOUT ROWID;

-- data: the record's fields sealed under the subject's key (record_id is the AD).
-- lookups: concatenated keyed hashes this record put in `lookups`, so they
-- can be removed without decrypting anything.
CREATE TABLE records (
    tenant_id   INTEGER NOT NULL,
    record_id   BLOB    NOT NULL,
    subject_id  BLOB    NOT NULL,
    kind        TEXT    NOT NULL,
    state       TEXT    NOT NULL DEFAULT 'active',
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    data        BLOB    NOT NULL,
    lookups     BLOB,
    PRIMARY KEY (tenant_id, record_id),
    FOREIGN KEY (tenant_id, subject_id) REFERENCES subjects (tenant_id, subject_id) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX records_by_subject ON records (tenant_id, subject_id, record_id);

-- Named dates of a record (fulfilled, resolved, closed...): retention counts from them.
CREATE TABLE record_events (
    tenant_id   INTEGER NOT NULL,
    record_id   BLOB    NOT NULL,
    name        TEXT    NOT NULL,
    at          INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, record_id, name),
    FOREIGN KEY (tenant_id, record_id) REFERENCES records (tenant_id, record_id) ON DELETE CASCADE
) WITHOUT ROWID;

CREATE TABLE lookups (
    tenant_id   INTEGER NOT NULL,
    hash        BLOB    NOT NULL,
    record_id   BLOB    NOT NULL,
    subject_id  BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, hash, record_id)
) WITHOUT ROWID;

-- Staff API keys: only a hash of the secret is kept.
CREATE TABLE api_keys (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    key_id      TEXT    NOT NULL UNIQUE,
    role        TEXT    NOT NULL,
    hash        BLOB    NOT NULL,
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER,
    PRIMARY KEY (tenant_id, key_id)
) WITHOUT ROWID;
