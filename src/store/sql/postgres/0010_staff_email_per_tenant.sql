-- privreg PostgreSQL schema 10: the SQLite schema's migration 24. A staff
-- member's e-mail is unique per tenant, no longer across tenants (schema
-- 2): unique across tenants, adding an account told a tenant's admin that
-- the address had an account in another tenant, and let one tenant take an
-- address so that no other could invite that person. The same person may
-- now have accounts in several tenants; sign-in finds every account with
-- the e-mail and signs in to the one whose code (and password) verify
-- (core/user.h). Core lower-cases e-mails (ASCII) on every input and they
-- are stored so.
--
-- Existing e-mails are lower-cased (translate(): ASCII only, as core does;
-- lower() would follow the database's locale), except where that would
-- give two accounts of one tenant the same e-mail: of the accounts whose
-- e-mails differ only in case, the one already in lower case keeps it, else
-- the oldest takes the lower-case form, and the others keep their text as
-- it was, so this can never fail. The unique index on (email, tenant_id)
-- is the rule and serves sign-in's lookup by e-mail across tenants.
ALTER TABLE staff_users DROP CONSTRAINT staff_users_email_key;
UPDATE staff_users AS u
    SET email = translate(u.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
    WHERE u.email <> translate(u.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
      AND NOT EXISTS (
        SELECT 1 FROM staff_users AS o
        WHERE o.tenant_id = u.tenant_id AND o.user_id <> u.user_id
          AND translate(o.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
              = translate(u.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
          AND (o.email = translate(o.email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')
               OR o.created_at < u.created_at OR (o.created_at = u.created_at AND o.user_id < u.user_id)));
CREATE UNIQUE INDEX staff_users_by_email ON staff_users (email, tenant_id);
