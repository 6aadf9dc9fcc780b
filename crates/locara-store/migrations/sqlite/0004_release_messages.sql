-- A release's message: the publisher's deprecation notice, shown by clients on install and in `locara list`.
-- Set in the same transaction as the state change and its log entry; kept if the release is later yanked.
ALTER TABLE releases ADD COLUMN message TEXT;

-- Search reads each app's latest installable release.
CREATE INDEX releases_by_app_state ON releases (app_id, state);
