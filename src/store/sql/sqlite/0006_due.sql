-- privreg schema 6: when things are due to go. Computed from the policy's
-- rules when a record is written or given an event, so that the sweep reads
-- an index instead of every record. NULL: not due (its event has not
-- happened, or it has been anonymised).
ALTER TABLE records ADD COLUMN due_at INTEGER;
ALTER TABLE records ADD COLUMN trim_at INTEGER;  -- when its ip fields are cut to /24 or /48
CREATE INDEX records_due ON records (tenant_id, due_at) WHERE due_at IS NOT NULL;
CREATE INDEX records_trim ON records (tenant_id, trim_at) WHERE trim_at IS NOT NULL;

-- An answered request is kept per requests.keep, then deleted.
ALTER TABLE requests ADD COLUMN expires_at INTEGER;
CREATE INDEX requests_expiry ON requests (tenant_id, expires_at) WHERE expires_at IS NOT NULL;
