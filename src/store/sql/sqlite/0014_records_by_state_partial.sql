-- privreg schema 14: records_by_state holds only the records no person is
-- behind (anonymized, detached), the only ones read by kind and state
-- (core/record.c record_list_unlinked): an active record, the common case,
-- no longer costs an index row (about 42 bytes per imported account). The
-- query that uses it repeats the index's condition word for word, as SQLite
-- requires to use a partial index.
DROP INDEX records_by_state;
CREATE INDEX records_by_state ON records (tenant_id, kind, state, record_id)
    WHERE state IN ('anonymized', 'detached');
