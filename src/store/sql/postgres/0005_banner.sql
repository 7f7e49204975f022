-- privreg PostgreSQL schema 5: the SQLite schema's migration 19 (the cookie
-- banner's choices, src/store/sql/sqlite/0019_banner.sql says what each
-- column is for).
CREATE TABLE banner_consents (
    tenant_id       BIGINT  NOT NULL,
    visitor         TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    accepted        BIGINT  NOT NULL,
    gpc             BIGINT  NOT NULL,
    policy_version  TEXT    NOT NULL,
    wording         TEXT    NOT NULL,
    at              BIGINT  NOT NULL,
    PRIMARY KEY (tenant_id, visitor, category)
);
CREATE INDEX banner_consents_by_time ON banner_consents (tenant_id, at);
