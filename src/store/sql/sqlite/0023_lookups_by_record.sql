-- privreg schema 23: a lookup row names its record only. The subject is
-- found through the record (records' primary key, one more seek per find by
-- a lookup field), so the row is 16 bytes shorter and a record moved to
-- another subject (a merge) takes its lookups along without an update.
-- PostgreSQL's migration 9 is the same change.
ALTER TABLE lookups DROP COLUMN subject_id;
