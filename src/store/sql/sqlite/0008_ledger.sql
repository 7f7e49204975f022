-- privreg schema 8: how far into each tenant's erasure ledger this database
-- is. The ledger (DIR/ledger/TENANT.log, outside the database and outside
-- its backups) lists every erasure by id; each erasure's transaction sets
-- seq to its entry's number, so a copy of the database (a backup) says
-- which entries it already reflects, and a restore replays the rest.
-- Wrapped subject keys name their key epoch in their own first bytes
-- (crypto/vault.h): no column here can disagree with them.

CREATE TABLE ledger_position (
    tenant_id   INTEGER NOT NULL,
    seq         INTEGER NOT NULL,   -- the last ledger entry this database reflects
    at          INTEGER NOT NULL,   -- when it was set
    PRIMARY KEY (tenant_id)
) WITHOUT ROWID;
