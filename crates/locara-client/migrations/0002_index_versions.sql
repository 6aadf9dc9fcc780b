-- The highest version of each app's signed index this client accepted, per registry: a later index with a
-- lower version (a frozen or rolled-back mirror hiding newer releases or statuses) is refused.
CREATE TABLE index_versions (
    registry TEXT NOT NULL,
    app TEXT NOT NULL,
    version INTEGER NOT NULL CHECK (version >= 0),
    PRIMARY KEY (registry, app)
) STRICT;
