-- 8: an outbox claim names the database session that took it
-- (pg_backend_pid()), so that the claim of a sender killed mid-send dies
-- with its connection instead of holding the message until claimed_until;
-- a live sender's claim stays as strong as before. NULL (claims taken
-- before this migration): they run out at claimed_until as they did.
ALTER TABLE outbox ADD COLUMN claimed_backend BIGINT;
