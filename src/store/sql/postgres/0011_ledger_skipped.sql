-- privreg PostgreSQL schema 11: the SQLite schema's migration 25. Erasure
-- ledger lines this database's position has passed without applying them
-- (core/ledger.h), each range set down in the transaction that passes it
-- and deleted in the one that applies it (privreg restore --reconcile).
CREATE TABLE ledger_skipped (
    tenant_id   BIGINT NOT NULL,
    first_seq   BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, first_seq)
);
