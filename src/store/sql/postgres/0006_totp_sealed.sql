-- privreg PostgreSQL schema 6: the SQLite schema's migration 20 (staff
-- TOTP secrets still in the clear are queued for core to seal).
INSERT INTO seal_queue (tenant_id, kind, id)
    SELECT tenant_id, 'user', user_id FROM staff_users WHERE length(totp_secret) = 20;
