-- privreg schema 22: outbox.claimed_backend, the column PostgreSQL's
-- migration 8 adds (the database session that holds a claim, so that a
-- killed sender's claim dies with its connection). One SQLite register has
-- one server, whose start releases a dead predecessor's claims, so SQLite
-- never sets it; it is here so that both backends have the same columns and
-- `privreg migrate` copies the outbox as it is (store/copy.def).
ALTER TABLE outbox ADD COLUMN claimed_backend INTEGER;
