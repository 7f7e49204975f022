-- privreg schema 16: attestations (core/attest.h) and the last sweep's time.
-- An attestation is kept as the signed document it was handed out as, so
-- that the next one starts its period where this one ended and the console
-- can show the latest; `document` holds ids and rule names, never a
-- personal value. last_sweep is the real clock's time at the end of each
-- retention sweep that ran (not a dry run): what the retention claim names.
CREATE TABLE attestations (
    tenant_id   INTEGER NOT NULL REFERENCES tenants (tenant_id),
    serial      INTEGER NOT NULL,
    as_of       INTEGER NOT NULL,
    period_from INTEGER NOT NULL,
    document    TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, serial)
) WITHOUT ROWID;

CREATE TABLE last_sweep (
    tenant_id   INTEGER NOT NULL PRIMARY KEY REFERENCES tenants (tenant_id),
    at          INTEGER NOT NULL
);
