-- Accounts, second factors, API tokens, publishers, members, verification, release keys and apps.
-- Every change to security state is written together with its transparency-log entry, in one transaction.
-- Times are Unix seconds. Nothing that names a publisher, key or app is ever deleted: publisher names and
-- key ids are never reused.

CREATE TABLE accounts (
    id             INTEGER PRIMARY KEY,
    username       TEXT NOT NULL UNIQUE,
    password_hash  TEXT NOT NULL,
    -- The TOTP secret: pending while enrolment awaits its first code, then enabled.
    totp_secret    BLOB,
    totp_enabled   INTEGER NOT NULL DEFAULT 0 CHECK (totp_enabled IN (0, 1)),
    -- The last TOTP step accepted; a code for this step or an earlier one is refused (single use).
    totp_last_step INTEGER,
    created_at     INTEGER NOT NULL
) STRICT;

CREATE TABLE recovery_codes (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    code_hash  TEXT NOT NULL,
    used_at    INTEGER,
    PRIMARY KEY (account_id, code_hash)
) STRICT;

-- Failed password or second-factor attempts, for the sliding-window rate limit.
CREATE TABLE auth_failures (
    account_id INTEGER NOT NULL REFERENCES accounts (id),
    at         INTEGER NOT NULL
) STRICT;
CREATE INDEX auth_failures_by_account ON auth_failures (account_id, at);

CREATE TABLE api_tokens (
    id           INTEGER PRIMARY KEY,
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    token_hash   TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('session', 'api', 'trusted-publishing')),
    -- Space-separated scopes, e.g. 'publish yank'.
    scopes       TEXT NOT NULL,
    -- An app `publisher/app` the token is limited to, if any.
    app          TEXT,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER,
    last_used_at INTEGER
) STRICT;
CREATE INDEX api_tokens_by_account ON api_tokens (account_id);

CREATE TABLE publishers (
    id               INTEGER PRIMARY KEY,
    name             TEXT NOT NULL UNIQUE,
    -- The canonical form (case, separators and look-alikes folded); two publishers never share one.
    canonical        TEXT NOT NULL UNIQUE,
    kind             TEXT NOT NULL CHECK (kind IN ('user', 'organisation')),
    created_at       INTEGER NOT NULL,
    verified_method  TEXT CHECK (verified_method IN ('dns', 'oidc', 'demo')),
    verified_subject TEXT,
    verified_at      INTEGER
) STRICT;

CREATE TABLE members (
    publisher_id INTEGER NOT NULL REFERENCES publishers (id),
    account_id   INTEGER NOT NULL REFERENCES accounts (id),
    role         TEXT NOT NULL CHECK (role IN ('owner', 'maintainer')),
    added_at     INTEGER NOT NULL,
    PRIMARY KEY (publisher_id, account_id)
) STRICT;

CREATE TABLE dns_challenges (
    publisher_id INTEGER NOT NULL REFERENCES publishers (id),
    domain       TEXT NOT NULL,
    token        TEXT NOT NULL,
    expires_at   INTEGER NOT NULL,
    PRIMARY KEY (publisher_id, domain)
) STRICT;

-- Trust in an OIDC issuer's tokens, for a publisher or one of its apps.
CREATE TABLE oidc_trusts (
    id           INTEGER PRIMARY KEY,
    publisher_id INTEGER NOT NULL REFERENCES publishers (id),
    app          TEXT,
    issuer       TEXT NOT NULL,
    audience     TEXT NOT NULL,
    -- JSON array of {"claim": ..., "pattern": ...}.
    rules        TEXT NOT NULL,
    -- The owner who added it: tokens exchanged under it act for this account.
    created_by   INTEGER NOT NULL REFERENCES accounts (id),
    created_at   INTEGER NOT NULL,
    removed_at   INTEGER
) STRICT;

CREATE TABLE publisher_keys (
    key_id       TEXT PRIMARY KEY,
    publisher_id INTEGER NOT NULL REFERENCES publishers (id),
    public_key   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    log_index    INTEGER NOT NULL,
    revoked_at   INTEGER,
    revoked_log_index INTEGER
) STRICT;

CREATE TABLE apps (
    id           INTEGER PRIMARY KEY,
    publisher_id INTEGER NOT NULL REFERENCES publishers (id),
    -- `publisher/app`.
    name         TEXT NOT NULL UNIQUE,
    canonical    TEXT NOT NULL UNIQUE,
    repository   TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    log_index    INTEGER NOT NULL
) STRICT;

CREATE TRIGGER publishers_are_never_deleted BEFORE DELETE ON publishers
BEGIN SELECT RAISE(ABORT, 'publishers are never deleted (names are never reused)'); END;
CREATE TRIGGER publisher_keys_are_never_deleted BEFORE DELETE ON publisher_keys
BEGIN SELECT RAISE(ABORT, 'publisher keys are never deleted (key ids are never reused)'); END;
CREATE TRIGGER apps_are_never_deleted BEFORE DELETE ON apps
BEGIN SELECT RAISE(ABORT, 'apps are never deleted'); END;
