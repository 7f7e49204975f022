-- 9: a lookup row names its record only; the subject is found through the
-- record (one more index probe per find by a lookup field), and a record
-- moved to another subject (a merge) takes its lookups along unchanged.
-- SQLite's schema 23 is the same change.
ALTER TABLE lookups DROP COLUMN subject_id;
