-- The client's state: per registry the last accepted trust view, the installed apps, and their history.
-- Values are written by locara_client::state only, as typed values' text forms; the checks below keep
-- what SQLite itself can check.

-- Per registry, the trust view the last successful sync or install accepted. Sizes and versions never go
-- down (State::commit refuses it).
CREATE TABLE registries (
    registry            TEXT PRIMARY KEY NOT NULL,
    checkpoint_size     INTEGER NOT NULL CHECK (checkpoint_size >= 0),
    checkpoint_root     TEXT NOT NULL CHECK (length(checkpoint_root) = 64),
    timestamp_json      BLOB NOT NULL,
    revocations_version INTEGER NOT NULL CHECK (revocations_version >= 0),
    revocations_json    BLOB NOT NULL,
    synced_at           INTEGER NOT NULL CHECK (synced_at >= 0)
) STRICT;

-- One row per installed app.
CREATE TABLE installs (
    app             TEXT PRIMARY KEY NOT NULL,
    registry        TEXT NOT NULL REFERENCES registries (registry),
    version         TEXT NOT NULL,
    artifact        TEXT NOT NULL,
    provenance      TEXT NOT NULL,
    manifest_digest TEXT NOT NULL,
    manifest        TEXT NOT NULL,
    commit_id       TEXT NOT NULL,
    log_index       INTEGER NOT NULL CHECK (log_index >= 0),
    key_id          TEXT NOT NULL,
    builder_id      TEXT NOT NULL,
    tree_digest     TEXT NOT NULL,
    launcher        TEXT,
    -- JSON array of the plain-word capability lines the user granted.
    granted         TEXT NOT NULL CHECK (json_valid(granted) AND json_type(granted) = 'array'),
    grant_source    TEXT NOT NULL
        CHECK (grant_source IN ('prompt', 'yes', 'policy', 'none-needed', 'lockfile')),
    granted_at      INTEGER NOT NULL CHECK (granted_at >= 0),
    installed_at    INTEGER NOT NULL CHECK (installed_at >= 0),
    status          TEXT NOT NULL CHECK (status IN ('active', 'quarantined')),
    status_reason   TEXT,
    deprecated      TEXT,
    CHECK ((status = 'quarantined') = (status_reason IS NOT NULL))
) STRICT;

-- A launcher name belongs to one app at most.
CREATE UNIQUE INDEX installs_launcher ON installs (launcher) WHERE launcher IS NOT NULL;

-- What happened to each app, oldest first; rows are only ever added.
CREATE TABLE history (
    id           INTEGER PRIMARY KEY,
    at           INTEGER NOT NULL CHECK (at >= 0),
    app          TEXT NOT NULL,
    action       TEXT NOT NULL
        CHECK (action IN ('install', 'update', 'uninstall', 'quarantine', 'repair')),
    from_version TEXT,
    to_version   TEXT,
    detail       TEXT NOT NULL
) STRICT;

CREATE INDEX history_by_app ON history (app, id);

CREATE TRIGGER history_is_append_only_update BEFORE UPDATE ON history
BEGIN SELECT RAISE(ABORT, 'history rows are never changed'); END;
CREATE TRIGGER history_is_append_only_delete BEFORE DELETE ON history
BEGIN SELECT RAISE(ABORT, 'history rows are never deleted'); END;
