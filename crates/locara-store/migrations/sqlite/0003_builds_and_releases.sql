-- Builds (a queue with leases) and releases. A build is a publisher's signed request being worked on; a
-- release exists only once a build finished, and is written with its log entry in one transaction.
-- Versions that reached a release are never reused (UNIQUE below; releases are never deleted).

CREATE TABLE builds (
    id                INTEGER PRIMARY KEY,
    app_id            INTEGER NOT NULL REFERENCES apps (id),
    version           TEXT NOT NULL,
    repository        TEXT NOT NULL,
    git_commit        TEXT NOT NULL,
    -- The publisher's release statement (DSSE envelope JSON) and the key that signed it.
    statement         TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    requested_by      INTEGER NOT NULL REFERENCES accounts (id),
    state             TEXT NOT NULL CHECK (state IN ('queued', 'building', 'succeeded', 'failed')),
    -- The worker holding the job and until when; an expired lease makes the job claimable again.
    lease_owner       TEXT,
    lease_expires_at  INTEGER,
    attempts          INTEGER NOT NULL DEFAULT 0,
    error             TEXT,
    -- The build log (both builds), as a blob digest, once finished.
    log_digest        TEXT,
    created_at        INTEGER NOT NULL,
    started_at        INTEGER,
    finished_at       INTEGER
) STRICT;
CREATE INDEX builds_claimable ON builds (state, lease_expires_at);
CREATE INDEX builds_by_app ON builds (app_id, version);

CREATE TABLE releases (
    id                INTEGER PRIMARY KEY,
    app_id            INTEGER NOT NULL REFERENCES apps (id),
    version           TEXT NOT NULL,
    build_id          INTEGER NOT NULL UNIQUE REFERENCES builds (id),
    git_commit        TEXT NOT NULL,
    repository        TEXT NOT NULL,
    manifest          TEXT NOT NULL,
    manifest_digest   TEXT NOT NULL,
    artifact_digest   TEXT NOT NULL,
    provenance_digest TEXT NOT NULL,
    key_id            TEXT NOT NULL,
    statement         TEXT NOT NULL,
    -- JSON: the capabilities, and what they add to the latest available release's.
    capabilities      TEXT NOT NULL,
    expansion         TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('available', 'cooling-down', 'cancelled', 'yanked', 'deprecated', 'revoked')),
    available_at      INTEGER NOT NULL,
    reproducible      INTEGER NOT NULL CHECK (reproducible IN (0, 1)),
    log_index         INTEGER NOT NULL,
    created_at        INTEGER NOT NULL,
    UNIQUE (app_id, version)
) STRICT;

CREATE TRIGGER releases_are_never_deleted BEFORE DELETE ON releases
BEGIN SELECT RAISE(ABORT, 'releases are never deleted (versions are never reused)'); END;

-- Messages to deliver (webhooks), written in the same transaction as what they tell of.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    account_id      INTEGER NOT NULL REFERENCES accounts (id),
    url             TEXT NOT NULL,
    body            TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    last_error      TEXT,
    created_at      INTEGER NOT NULL
) STRICT;
CREATE INDEX outbox_due ON outbox (delivered_at, next_attempt_at);

ALTER TABLE accounts ADD COLUMN webhook_url TEXT;
