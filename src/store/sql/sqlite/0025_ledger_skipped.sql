-- privreg schema 25: erasure ledger lines this database's position has
-- passed without applying them (core/ledger.h). An erasure whose
-- transaction failed (a 503 when the database went away, a crash) leaves
-- its lines in the ledger beyond the position; the next erasure's position
-- passes them. They were asked for, so `privreg restore --reconcile`
-- applies them; each range is set down here in the transaction that passes
-- it, so every copy of the database says which ones it still lacks, and
-- reconcile deletes a range in the transaction that applies it.
CREATE TABLE ledger_skipped (
    tenant_id   INTEGER NOT NULL,
    first_seq   INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, first_seq)
) WITHOUT ROWID;
