-- The transparency log. A batch's entries and stored hashes are written in one transaction; rows are never
-- updated or deleted (the triggers below refuse it, whatever the application does).

CREATE TABLE log_entries (
    idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
    data BLOB NOT NULL
) STRICT;

-- Stored hashes at locara_core::log::stored_hash_index positions (Go sumdb/tlog layout).
CREATE TABLE log_hashes (
    idx  INTEGER PRIMARY KEY CHECK (idx >= 0),
    hash BLOB NOT NULL CHECK (length(hash) = 32)
) STRICT;

-- Every checkpoint the registry signed, in order; sizes never decrease.
CREATE TABLE log_checkpoints (
    id   INTEGER PRIMARY KEY AUTOINCREMENT,
    size INTEGER NOT NULL CHECK (size >= 0),
    text TEXT NOT NULL
) STRICT;

CREATE TRIGGER log_entries_are_append_only_update BEFORE UPDATE ON log_entries
BEGIN SELECT RAISE(ABORT, 'log entries are append-only'); END;
CREATE TRIGGER log_entries_are_append_only_delete BEFORE DELETE ON log_entries
BEGIN SELECT RAISE(ABORT, 'log entries are append-only'); END;
CREATE TRIGGER log_hashes_are_append_only_update BEFORE UPDATE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'log hashes are append-only'); END;
CREATE TRIGGER log_hashes_are_append_only_delete BEFORE DELETE ON log_hashes
BEGIN SELECT RAISE(ABORT, 'log hashes are append-only'); END;
CREATE TRIGGER log_checkpoints_never_go_backwards BEFORE INSERT ON log_checkpoints
WHEN NEW.size < (SELECT MAX(size) FROM log_checkpoints)
BEGIN SELECT RAISE(ABORT, 'checkpoint sizes never decrease'); END;

-- Small registry state, such as the pinned root's digest.
CREATE TABLE settings (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) STRICT;
