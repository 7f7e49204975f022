-- privreg schema 24: a staff member's e-mail is unique per tenant, no longer
-- across tenants (schema 17). Unique across tenants, adding an account told
-- a tenant's admin that the address had an account in another tenant, and
-- let one tenant take an address so that no other could invite that person.
-- Now the same person may have accounts in several tenants; sign-in finds
-- every account with the e-mail and signs in to the one whose code (and
-- password) verify (core/user.h). E-mails are compared case-insensitively:
-- core lower-cases them (ASCII) on every input, and they are stored so.
--
-- SQLite cannot drop an inline UNIQUE: the table is rebuilt, every column
-- and row kept. Existing e-mails are lower-cased (SQLite's lower() folds
-- ASCII only, as core does), except where that would give two accounts of
-- one tenant the same e-mail: of the accounts whose e-mails differ only in
-- case, the one already in lower case keeps it, else the oldest takes the
-- lower-case form, and the others keep their text as it was (an admin
-- disables them by id, or invites the person again), so this can never
-- fail. The unique index on (email, tenant_id) is the rule and serves
-- sign-in's lookup by e-mail across tenants. PostgreSQL's migration 10 is
-- the same change.
CREATE TABLE staff_users_v24 (
    tenant_id       INTEGER NOT NULL,
    user_id         BLOB    NOT NULL,
    email           TEXT    NOT NULL,
    role            TEXT    NOT NULL,
    status          TEXT    NOT NULL,
    password_hash   TEXT,
    totp_secret     BLOB,
    totp_last_step  INTEGER NOT NULL DEFAULT 0,
    enrol_hash      BLOB,
    enrol_expires   INTEGER,
    failures        INTEGER NOT NULL DEFAULT 0,
    failure_window  INTEGER NOT NULL DEFAULT 0,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, user_id)
) WITHOUT ROWID;
INSERT INTO staff_users_v24 (tenant_id, user_id, email, role, status, password_hash, totp_secret, totp_last_step,
                             enrol_hash, enrol_expires, failures, failure_window, created_at)
    SELECT u.tenant_id, u.user_id,
           CASE WHEN NOT EXISTS (
                    SELECT 1 FROM staff_users AS o
                    WHERE o.tenant_id = u.tenant_id AND lower(o.email) = lower(u.email) AND o.user_id <> u.user_id
                      AND (o.email = lower(o.email) OR o.created_at < u.created_at
                           OR (o.created_at = u.created_at AND o.user_id < u.user_id)))
                THEN lower(u.email) ELSE u.email END,
           u.role, u.status, u.password_hash, u.totp_secret, u.totp_last_step, u.enrol_hash, u.enrol_expires,
           u.failures, u.failure_window, u.created_at
    FROM staff_users AS u;
DROP TABLE staff_users;
ALTER TABLE staff_users_v24 RENAME TO staff_users;
CREATE UNIQUE INDEX staff_users_by_enrolment ON staff_users (enrol_hash) WHERE enrol_hash IS NOT NULL;
CREATE UNIQUE INDEX staff_users_by_email ON staff_users (email, tenant_id);
