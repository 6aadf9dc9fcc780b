-- The lengths in bytes of a release's artifact and provenance envelope, as its log entry records them: the
-- signed app index names them so that a client reads exactly that many bytes (TUF's defence against endless
-- data). NULL for releases recorded before sizes were; clients fall back to a cap for those.
ALTER TABLE releases ADD COLUMN artifact_size INTEGER;
ALTER TABLE releases ADD COLUMN provenance_size INTEGER;
