-- privreg schema 13: a sender claims an outbox message before it sends it.
-- The claim is taken by one UPDATE that succeeds only while no live claim
-- exists (claimed_until NULL or past), so of two senders on one database
-- exactly one sends; a sender that dies mid-send leaves a claim that expires
-- at claimed_until, after which the message is taken again. claimed_by names
-- the sender (pid and a random tag), for the operator reading the table.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER;
