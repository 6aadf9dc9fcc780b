-- A revoked release's revocation, as the signed revocation list names it (DESIGN §6). Written in the same
-- transaction as the release's move to `revoked` and its `release.revoked` log entry; never changed or
-- deleted. The signed list is derived from this table, so a crash before the list was re-signed is
-- repaired by the next signing.
CREATE TABLE revocations (
    release_id INTEGER PRIMARY KEY REFERENCES releases (id),
    app TEXT NOT NULL,
    version TEXT NOT NULL,
    artifact TEXT NOT NULL,
    reason TEXT NOT NULL,
    advisory TEXT,
    revoked_at INTEGER NOT NULL,
    log_index INTEGER NOT NULL UNIQUE
) STRICT;

-- Short-lived named locks for processes sharing the database (the server, workers, operator commands):
-- held by `holder` until `until` (unix seconds), after which anyone may take it.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until INTEGER NOT NULL
) STRICT;
