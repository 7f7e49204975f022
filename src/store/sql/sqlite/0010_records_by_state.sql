-- The records no person is behind (anonymised, detached statistics) are read
-- by kind and state for statistics, a page at a time in id order.
CREATE INDEX records_by_state ON records (tenant_id, kind, state, record_id);
