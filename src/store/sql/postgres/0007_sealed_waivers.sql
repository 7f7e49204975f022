-- privreg PostgreSQL schema 7: the SQLite schema's migration 21
-- (src/store/sql/sqlite/0021_sealed_waivers.sql, which says why): the
-- reason a notification was waived, sealed.
ALTER TABLE outbox ADD COLUMN waive_note BYTEA;
