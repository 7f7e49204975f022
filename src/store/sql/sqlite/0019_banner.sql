-- privreg schema 19: the cookie banner's choices (core/banner.h). One row
-- per visitor and cookie category: the visitor's latest choice, with its
-- evidence (the policy version and the hash of the banner's wording the
-- visitor saw, whether the browser sent a Global Privacy Control signal,
-- the time). `visitor` is the random id the banner's script made and keeps
-- in a first-party cookie of the company's site: no address, no user
-- agent, nothing that names a person. The retention sweep deletes rows
-- older than BANNER_KEEP_DAYS (by_time).
CREATE TABLE banner_consents (
    tenant_id       INTEGER NOT NULL,
    visitor         TEXT    NOT NULL,
    category        TEXT    NOT NULL,
    accepted        INTEGER NOT NULL,
    gpc             INTEGER NOT NULL,
    policy_version  TEXT    NOT NULL,
    wording         TEXT    NOT NULL,
    at              INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, visitor, category)
) WITHOUT ROWID;
CREATE INDEX banner_consents_by_time ON banner_consents (tenant_id, at);
