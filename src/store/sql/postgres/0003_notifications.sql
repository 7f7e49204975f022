-- privreg PostgreSQL schema 3: the SQLite schema's migration 15
-- (src/store/sql/sqlite/0015_notifications.sql, which says what each column
-- is for): notifications to systems and recipients travel in the outbox.
ALTER TABLE outbox ADD COLUMN request_id BYTEA;
ALTER TABLE outbox ADD COLUMN target TEXT;
ALTER TABLE outbox ADD COLUMN event TEXT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN waived_at BIGINT;
ALTER TABLE outbox ADD COLUMN waive_reason TEXT;
CREATE INDEX outbox_request ON outbox (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX outbox_notified ON outbox (tenant_id, subject_id) WHERE target IS NOT NULL;
