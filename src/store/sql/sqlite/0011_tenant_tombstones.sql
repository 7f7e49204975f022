-- privreg schema 11: the ids of deleted tenants (`privreg tenant delete`).
-- A tenant's id is in its key file's binding, its audit chain and the
-- audit checkpoints kept outside the database: a new tenant must never get
-- the id of a deleted one, so new ids count past these too. No name, no
-- counts: the operator's log (DIR/operator.log) says what was deleted.
CREATE TABLE tenant_tombstones (
    tenant_id   INTEGER NOT NULL,
    deleted_at  INTEGER NOT NULL,
    PRIMARY KEY (tenant_id)
);

-- The audit log stays append-only, but for a tenant being deleted (its
-- tombstone is written first, in the same transaction): all of its rows go,
-- its log with them, once the log has been handed over by the export.
DROP TRIGGER audit_no_delete;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
WHEN NOT EXISTS (SELECT 1 FROM tenant_tombstones WHERE tenant_id = OLD.tenant_id)
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
