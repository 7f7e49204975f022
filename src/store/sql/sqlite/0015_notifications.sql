-- privreg schema 15: notifications to the company's systems and to
-- recipients (GDPR Art. 19) travel in the outbox beside the e-mails, and a
-- request is complete only once each of its own is acknowledged or waived.
-- request_id ties a notification to the request whose change it announces
-- (NULL: a change made outside a request); target names the system or
-- recipient of the policy, event the event type (subject.erased, ...).
-- last_error is what the last failed attempt said (a status line or
-- libcurl's error: never a value). A waived notification is one the DPO
-- decided not to wait for: waived_at and the reason they gave, and sent_at
-- set with it so that no sender takes it again.
ALTER TABLE outbox ADD COLUMN request_id BLOB;
ALTER TABLE outbox ADD COLUMN target TEXT;
ALTER TABLE outbox ADD COLUMN event TEXT;
ALTER TABLE outbox ADD COLUMN last_error TEXT;
ALTER TABLE outbox ADD COLUMN waived_at INTEGER;
ALTER TABLE outbox ADD COLUMN waive_reason TEXT;
CREATE INDEX outbox_request ON outbox (tenant_id, request_id) WHERE request_id IS NOT NULL;
CREATE INDEX outbox_notified ON outbox (tenant_id, subject_id) WHERE target IS NOT NULL;
