-- privreg schema 7: ids in the ULID layout. An id's 16 bytes stay as they
-- are (every id column holds bytes); only its text changes: the 2 padding
-- bits move from the end to the front. The one place ids are kept as text
-- is the audit log, so its entries are rewritten to the new text, and
-- id_legacy remembers up to which entry of each tenant the hash chain was
-- computed over the old text: `audit verify` rewrites those entries back
-- (token_ids_to_legacy) before hashing them. privreg_ids_from_legacy() is
-- registered on the connection by the store (token_ids_from_legacy).
-- Not rewritten: other text columns hold no ids (request outcomes are
-- counts and names, consent actors are key ids) or text people typed (hold
-- reasons, verified_by), which stays as they typed it. Ids inside sealed
-- request details and inside signed links already e-mailed cannot be
-- rewritten here: core/request.c reads those in either form.

CREATE TABLE id_legacy (
    tenant_id   INTEGER NOT NULL,
    audit_seq   INTEGER NOT NULL,   -- entries at or below it were hashed with pre-ULID ids
    PRIMARY KEY (tenant_id)
) WITHOUT ROWID;
INSERT INTO id_legacy (tenant_id, audit_seq) SELECT tenant_id, MAX(seq) FROM audit GROUP BY tenant_id;

-- The append-only trigger steps aside for this one rewrite, in this
-- migration's transaction.
DROP TRIGGER audit_no_update;
UPDATE audit SET
    key_id = privreg_ids_from_legacy(key_id),
    role = privreg_ids_from_legacy(role),
    action = privreg_ids_from_legacy(action),
    subject_id = privreg_ids_from_legacy(subject_id),
    record_id = privreg_ids_from_legacy(record_id),
    purpose = privreg_ids_from_legacy(purpose),
    outcome = privreg_ids_from_legacy(outcome),
    detail = privreg_ids_from_legacy(detail);
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
