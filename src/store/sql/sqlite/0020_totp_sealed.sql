-- privreg schema 20: staff members' TOTP secrets are sealed (core/user.c)
-- under a key derived from the tenant's key file, so that a copy of the
-- database alone does not give the second factor. SQL cannot encrypt: the
-- accounts whose secret is still in the clear (20 bytes; a sealed one is
-- longer) are queued in seal_queue (schema 9), and core seals them the
-- first time it loads the tenant's keys.
INSERT INTO seal_queue (tenant_id, kind, id)
    SELECT tenant_id, 'user', user_id FROM staff_users WHERE length(totp_secret) = 20;
