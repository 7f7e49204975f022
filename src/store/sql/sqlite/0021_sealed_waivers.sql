-- privreg schema 21: the DPO's reason for waiving a notification's
-- acknowledgement is about a person as often as about a system ("Jaan asked
-- us by phone ..."), so it is kept sealed like a request's notes (schema 9):
-- waive_note holds it sealed under the subject's key, so that erasing the
-- subject erases it (core/notify.c says how). waive_reason keeps only what
-- was written before this schema, in the clear, as it was.
ALTER TABLE outbox ADD COLUMN waive_note BLOB;
