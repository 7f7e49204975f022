-- privreg schema 9: free text that staff write about a person dies with the
-- person. verified_by ("passport of ..."), extension and refusal reasons and
-- outcomes of a request, and a hold's reason, are sealed under the subject's
-- data key by core (the store never sees them in the clear): erasing the
-- subject destroys the key and so the text. A request's texts are one
-- sealed blob, `notes`; a hold's reason is `reason_sealed`, under the key of
-- the subject `sealed_for` (a hold on a record names its record only, and
-- the record may be gone by the time the reason is read).
--
-- SQL cannot encrypt: rows written before this schema are queued in
-- seal_queue, and core seals them (or, for a subject already erased, drops
-- the text) the first time it loads the tenant's keys, a batch at a time,
-- each row in the transaction that takes it off the queue.

ALTER TABLE requests ADD COLUMN notes BLOB;
ALTER TABLE holds ADD COLUMN reason_sealed BLOB;
ALTER TABLE holds ADD COLUMN sealed_for BLOB;

CREATE TABLE seal_queue (
    tenant_id   INTEGER NOT NULL,
    kind        TEXT    NOT NULL,   -- 'request' or 'hold'
    id          BLOB    NOT NULL,
    PRIMARY KEY (tenant_id, kind, id)
) WITHOUT ROWID;
INSERT INTO seal_queue (tenant_id, kind, id)
    SELECT tenant_id, 'request', request_id FROM requests
    WHERE verified_by IS NOT NULL OR extension_reason IS NOT NULL OR refusal_reason IS NOT NULL
       OR outcome IS NOT NULL;
INSERT INTO seal_queue (tenant_id, kind, id) SELECT tenant_id, 'hold', hold_id FROM holds;
