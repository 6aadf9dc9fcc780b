//! [`SqliteStore`]: the metadata store in one SQLite file (the embedded default).
//!
//! The database runs in WAL mode with `synchronous=FULL`, so a committed transaction survives a crash or
//! power loss; foreign keys are on; writers wait for each other up to [`BUSY_TIMEOUT`]. Log appends and
//! checkpoint saves start with `BEGIN IMMEDIATE`, taking the write lock before reading the log's size, so
//! two appenders (in one process or several) can never pick the same index.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use locara_core::log::Hash;
use locara_core::log::store::stored_hash_count;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};

use crate::error::StoreError;
use crate::log_hashes::{PrefetchedHashStore, append_hashes, hashes_read_by_append};
use crate::metadata::{AppendedEntries, MetadataStore, StoredCheckpoint};
use crate::records::{
    Account, AccountId, App, AppListing, AuthEvent, Build, Member, MemberRole, NewAccount, NewApp,
    NewAuthEvent, NewBuild, NewRelease, NewRevocation, NewToken, Notification, OidcTrust,
    Publisher, PublisherId, PublisherKey, Release, RevocationRecord, TokenRecord,
};
use crate::sqlite_builds as builds;
use crate::sqlite_records as records;

/// How long a writer waits for another writer's lock before giving up.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(30);

/// The most connections a store opens to its file.
const MAX_CONNECTIONS: u32 = 8;

/// The schema migrations, embedded from `migrations/sqlite/`.
static MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");

/// The metadata store in a SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    path: PathBuf,
}

impl SqliteStore {
    /// Opens the database at `path`, creating it if missing, and applies any pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .connect_with(options)
            .await
            .map_err(|source| StoreError::Open {
                path: path.clone(),
                source,
            })?;
        MIGRATOR
            .run(&pool)
            .await
            .map_err(|source| StoreError::Migrate {
                path: path.clone(),
                source,
            })?;
        Ok(Self { pool, path })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Closes every connection, waiting for those in use to be returned.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// Converts a count or index to the database's integer type.
pub(crate) fn to_db(what: &'static str, value: u64) -> Result<i64, StoreError> {
    i64::try_from(value).map_err(|_| StoreError::IntegerTooLarge { what, value })
}

/// Converts a database integer that must not be negative (the schema's checks keep it so).
pub(crate) fn from_db(what: &str, value: i64) -> Result<u64, StoreError> {
    u64::try_from(value).map_err(|_| StoreError::Corrupt {
        detail: format!("{what} is negative ({value})"),
    })
}

/// The log's size, read on `connection`.
async fn log_size_on(connection: &mut SqliteConnection) -> Result<u64, StoreError> {
    let next: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries")
        .fetch_one(connection)
        .await
        .map_err(StoreError::database("reading the log size"))?;
    from_db("log size", next)
}

/// The stored hashes at `indexes`, read on `connection`, in the order asked.
async fn read_hashes_on(
    connection: &mut SqliteConnection,
    indexes: &[u64],
) -> Result<Vec<Hash>, StoreError> {
    if indexes.is_empty() {
        return Ok(Vec::new());
    }
    let list = indexes
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join(",");
    let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
        "SELECT idx, hash FROM log_hashes WHERE idx IN (SELECT value FROM json_each(?1))",
    )
    .bind(format!("[{list}]"))
    .fetch_all(connection)
    .await
    .map_err(StoreError::database("reading stored log hashes"))?;
    let mut found = std::collections::HashMap::with_capacity(rows.len());
    for (index, hash) in rows {
        let index = from_db("stored hash index", index)?;
        let hash: [u8; 32] = hash
            .try_into()
            .map_err(|hash: Vec<u8>| StoreError::Corrupt {
                detail: format!("stored hash {index} has {} bytes, not 32", hash.len()),
            })?;
        found.insert(index, Hash(hash));
    }
    indexes
        .iter()
        .map(|&index| {
            found
                .get(&index)
                .copied()
                .ok_or(StoreError::StoredHashMissing { index })
        })
        .collect()
}

/// Appends `entries` and their stored hashes on `connection`, which must be inside a transaction started
/// with `BEGIN IMMEDIATE` (so the size read here cannot change before the inserts).
pub(crate) async fn append_on(
    connection: &mut SqliteConnection,
    entries: &[Vec<u8>],
) -> Result<AppendedEntries, StoreError> {
    let operation = "appending log entries";
    let size = log_size_on(connection).await?;
    let hash_count: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_hashes")
        .fetch_one(&mut *connection)
        .await
        .map_err(StoreError::database(operation))?;
    let hash_count = from_db("stored hash count", hash_count)?;
    if hash_count != stored_hash_count(size) {
        return Err(StoreError::Corrupt {
            detail: format!(
                "the log holds {size} entries and {hash_count} stored hashes, expected {}",
                stored_hash_count(size)
            ),
        });
    }
    let needed = hashes_read_by_append(size, entries.len() as u64);
    let existing = read_hashes_on(connection, &needed).await?;
    let appended = append_hashes(size, entries, &PrefetchedHashStore::new(&needed, existing))?;
    for (index, entry) in (size..).zip(entries) {
        sqlx::query("INSERT INTO log_entries (idx, data) VALUES (?1, ?2)")
            .bind(to_db("log index", index)?)
            .bind(entry.as_slice())
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(operation))?;
    }
    for (index, hash) in (hash_count..).zip(&appended.new_hashes) {
        sqlx::query("INSERT INTO log_hashes (idx, hash) VALUES (?1, ?2)")
            .bind(to_db("stored hash index", index)?)
            .bind(hash.as_bytes().as_slice())
            .execute(&mut *connection)
            .await
            .map_err(StoreError::database(operation))?;
    }
    Ok(AppendedEntries {
        first_index: size,
        new_size: size + entries.len() as u64,
        new_root: appended.root,
    })
}

#[async_trait]
impl MetadataStore for SqliteStore {
    async fn append_log_entries(
        &self,
        entries: Vec<Vec<u8>>,
    ) -> Result<AppendedEntries, StoreError> {
        let operation = "appending log entries";
        let mut transaction = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::database(operation))?;
        let appended = append_on(&mut transaction, &entries).await?;
        transaction
            .commit()
            .await
            .map_err(StoreError::database(operation))?;
        Ok(appended)
    }

    async fn log_size(&self) -> Result<u64, StoreError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(StoreError::database("reading the log size"))?;
        log_size_on(&mut connection).await
    }

    async fn log_entries(&self, range: Range<u64>) -> Result<Vec<Vec<u8>>, StoreError> {
        let operation = "reading log entries";
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(StoreError::database(operation))?;
        let log_size = log_size_on(&mut connection).await?;
        if range.start > range.end || range.end > log_size {
            return Err(StoreError::LogRangeOutOfBounds {
                start: range.start,
                end: range.end,
                log_size,
            });
        }
        let rows: Vec<(i64, Vec<u8>)> = sqlx::query_as(
            "SELECT idx, data FROM log_entries WHERE idx >= ?1 AND idx < ?2 ORDER BY idx",
        )
        .bind(to_db("log index", range.start)?)
        .bind(to_db("log index", range.end)?)
        .fetch_all(&mut *connection)
        .await
        .map_err(StoreError::database(operation))?;
        let mut entries = Vec::with_capacity(rows.len());
        for (expected, (index, data)) in range.clone().zip(rows) {
            if from_db("log index", index)? != expected {
                return Err(StoreError::Corrupt {
                    detail: format!("log entry {expected} is missing (next is {index})"),
                });
            }
            entries.push(data);
        }
        if entries.len() as u64 != range.end - range.start {
            return Err(StoreError::Corrupt {
                detail: format!(
                    "log entries {}..{} returned {} rows",
                    range.start,
                    range.end,
                    entries.len()
                ),
            });
        }
        Ok(entries)
    }

    async fn read_stored_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError> {
        let mut connection = self
            .pool
            .acquire()
            .await
            .map_err(StoreError::database("reading stored log hashes"))?;
        read_hashes_on(&mut connection, indexes).await
    }

    async fn save_checkpoint(&self, size: u64, text: &str) -> Result<(), StoreError> {
        let operation = "saving a checkpoint";
        let mut transaction = self
            .pool
            .begin_with("BEGIN IMMEDIATE")
            .await
            .map_err(StoreError::database(operation))?;
        let log_size = log_size_on(&mut transaction).await?;
        if size > log_size {
            return Err(StoreError::TreeSizeBeyondLog { size, log_size });
        }
        let latest: Option<i64> = sqlx::query_scalar("SELECT MAX(size) FROM log_checkpoints")
            .fetch_one(&mut *transaction)
            .await
            .map_err(StoreError::database(operation))?;
        if let Some(latest) = latest {
            let latest = from_db("checkpoint size", latest)?;
            if size < latest {
                return Err(StoreError::CheckpointWentBackwards {
                    latest,
                    given: size,
                });
            }
        }
        sqlx::query("INSERT INTO log_checkpoints (size, text) VALUES (?1, ?2)")
            .bind(to_db("checkpoint size", size)?)
            .bind(text)
            .execute(&mut *transaction)
            .await
            .map_err(StoreError::database(operation))?;
        transaction
            .commit()
            .await
            .map_err(StoreError::database(operation))
    }

    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row: Option<(i64, String)> =
            sqlx::query_as("SELECT size, text FROM log_checkpoints ORDER BY id DESC LIMIT 1")
                .fetch_optional(&self.pool)
                .await
                .map_err(StoreError::database("reading the latest checkpoint"))?;
        row.map(|(size, text)| {
            Ok(StoredCheckpoint {
                size: from_db("checkpoint size", size)?,
                text,
            })
        })
        .transpose()
    }

    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError> {
        sqlx::query_scalar("SELECT value FROM settings WHERE key = ?1")
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::database("reading a setting"))
    }

    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO settings (key, value) VALUES (?1, ?2) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        )
        .bind(key)
        .bind(value)
        .execute(&self.pool)
        .await
        .map_err(StoreError::database("writing a setting"))?;
        Ok(())
    }

    async fn create_account(
        &self,
        account: NewAccount,
        publisher_canonical: &str,
        entry: Vec<u8>,
    ) -> Result<(Account, u64), StoreError> {
        records::create_account(&self.pool, account, publisher_canonical, entry).await
    }

    async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError> {
        records::account_where(&self.pool, "username = ?1", username.to_owned()).await
    }

    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError> {
        records::account_where(&self.pool, "id = ?1", id).await
    }

    async fn set_pending_totp(
        &self,
        account: AccountId,
        secret: &[u8],
    ) -> Result<bool, StoreError> {
        records::set_pending_totp(&self.pool, account, secret).await
    }

    async fn enable_totp(
        &self,
        account: AccountId,
        step: u64,
        recovery_hashes: &[String],
    ) -> Result<bool, StoreError> {
        records::enable_totp(&self.pool, account, step, recovery_hashes).await
    }

    async fn consume_totp_step(&self, account: AccountId, step: u64) -> Result<bool, StoreError> {
        records::consume_totp_step(&self.pool, account, step).await
    }

    async fn consume_recovery_code(
        &self,
        account: AccountId,
        code_hash: &str,
        at: u64,
    ) -> Result<bool, StoreError> {
        records::consume_recovery_code(&self.pool, account, code_hash, at).await
    }

    async fn record_auth_event(&self, event: NewAuthEvent) -> Result<AuthEvent, StoreError> {
        records::record_auth_event(&self.pool, event).await
    }

    async fn auth_events_since(
        &self,
        account: AccountId,
        since: u64,
    ) -> Result<Vec<AuthEvent>, StoreError> {
        records::auth_events_since(&self.pool, account, since).await
    }

    async fn recent_auth_events(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<AuthEvent>, StoreError> {
        records::recent_auth_events(&self.pool, account, limit).await
    }

    async fn create_token(&self, token: NewToken) -> Result<TokenRecord, StoreError> {
        records::create_token(&self.pool, token).await
    }

    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError> {
        records::token_by_hash(&self.pool, token_hash).await
    }

    async fn touch_token(&self, id: i64, at: u64) -> Result<(), StoreError> {
        records::touch_token(&self.pool, id, at).await
    }

    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>, StoreError> {
        records::tokens_of(&self.pool, account).await
    }

    async fn revoke_token(&self, account: AccountId, id: i64, at: u64) -> Result<bool, StoreError> {
        records::revoke_token(&self.pool, account, id, at).await
    }

    async fn create_organisation(
        &self,
        name: &str,
        canonical: &str,
        owner: AccountId,
        created_at: u64,
        entry: Vec<u8>,
    ) -> Result<(Publisher, u64), StoreError> {
        records::create_organisation(&self.pool, name, canonical, owner, created_at, entry).await
    }

    async fn publisher_by_name(&self, name: &str) -> Result<Option<Publisher>, StoreError> {
        records::publisher_by_name(&self.pool, name).await
    }

    async fn publisher_names(&self) -> Result<Vec<String>, StoreError> {
        records::publisher_names(&self.pool).await
    }

    async fn verified_publisher_names(&self) -> Result<Vec<String>, StoreError> {
        records::verified_publisher_names(&self.pool).await
    }

    async fn publishers_of(
        &self,
        account: AccountId,
    ) -> Result<Vec<(Publisher, MemberRole)>, StoreError> {
        records::publishers_of(&self.pool, account).await
    }

    async fn members(&self, publisher: PublisherId) -> Result<Vec<Member>, StoreError> {
        records::members(&self.pool, publisher).await
    }

    async fn put_member(
        &self,
        publisher: PublisherId,
        account: AccountId,
        role: MemberRole,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError> {
        records::put_member(&self.pool, publisher, account, role, at, entry).await
    }

    async fn remove_member(
        &self,
        publisher: PublisherId,
        account: AccountId,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError> {
        records::remove_member(&self.pool, publisher, account, entry).await
    }

    async fn put_dns_challenge(
        &self,
        publisher: PublisherId,
        domain: &str,
        token: &str,
        expires_at: u64,
    ) -> Result<(), StoreError> {
        records::put_dns_challenge(&self.pool, publisher, domain, token, expires_at).await
    }

    async fn dns_challenge(
        &self,
        publisher: PublisherId,
        domain: &str,
    ) -> Result<Option<(String, u64)>, StoreError> {
        records::dns_challenge(&self.pool, publisher, domain).await
    }

    async fn mark_verified(
        &self,
        publisher: PublisherId,
        method: &str,
        subject: &str,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError> {
        records::mark_verified(&self.pool, publisher, method, subject, at, entry).await
    }

    async fn add_oidc_trust(
        &self,
        trust: OidcTrust,
        entry: Vec<u8>,
    ) -> Result<(OidcTrust, u64), StoreError> {
        records::add_oidc_trust(&self.pool, trust, entry).await
    }

    async fn oidc_trusts(&self, publisher: PublisherId) -> Result<Vec<OidcTrust>, StoreError> {
        records::oidc_trusts(&self.pool, publisher).await
    }

    async fn register_key(
        &self,
        publisher: PublisherId,
        key_id: &str,
        public_key: &str,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError> {
        records::register_key(&self.pool, publisher, key_id, public_key, at, entry).await
    }

    async fn publisher_keys(
        &self,
        publisher: PublisherId,
    ) -> Result<Vec<PublisherKey>, StoreError> {
        records::publisher_keys(&self.pool, publisher).await
    }

    async fn revoke_key(
        &self,
        publisher: PublisherId,
        key_id: &str,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<Option<u64>, StoreError> {
        records::revoke_key(&self.pool, publisher, key_id, at, entry).await
    }

    async fn register_app(&self, app: NewApp, entry: Vec<u8>) -> Result<App, StoreError> {
        records::register_app(&self.pool, app, entry).await
    }

    async fn app_by_name(&self, name: &str) -> Result<Option<App>, StoreError> {
        records::app_by_name(&self.pool, name).await
    }

    async fn app_names(&self) -> Result<Vec<String>, StoreError> {
        records::app_names(&self.pool).await
    }

    async fn apps_of(&self, publisher: PublisherId) -> Result<Vec<App>, StoreError> {
        records::apps_of(&self.pool, publisher).await
    }

    async fn enqueue_build(&self, build: NewBuild) -> Result<Build, StoreError> {
        builds::enqueue_build(&self.pool, build).await
    }

    async fn claim_build(
        &self,
        worker: &str,
        now: u64,
        lease_until: u64,
        max_attempts: u32,
    ) -> Result<Option<Build>, StoreError> {
        builds::claim_build(&self.pool, worker, now, lease_until, max_attempts).await
    }

    async fn renew_build_lease(
        &self,
        id: i64,
        worker: &str,
        lease_until: u64,
    ) -> Result<bool, StoreError> {
        builds::renew_build_lease(&self.pool, id, worker, lease_until).await
    }

    async fn fail_build(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        log_digest: Option<&str>,
        at: u64,
    ) -> Result<bool, StoreError> {
        builds::fail_build(&self.pool, id, worker, error, log_digest, at).await
    }

    async fn finish_build(
        &self,
        id: i64,
        worker: &str,
        release: NewRelease,
        log_digest: &str,
        entry: Vec<u8>,
        notifications: Vec<(AccountId, String)>,
    ) -> Result<Release, StoreError> {
        builds::finish_build(
            &self.pool,
            id,
            worker,
            release,
            log_digest,
            entry,
            notifications,
        )
        .await
    }

    async fn build(&self, id: i64) -> Result<Option<Build>, StoreError> {
        builds::build(&self.pool, id).await
    }

    async fn releases_of(&self, app: i64) -> Result<Vec<Release>, StoreError> {
        builds::releases_of(&self.pool, app).await
    }

    async fn change_release_state(
        &self,
        app: i64,
        version: &str,
        from: &str,
        to: &str,
        message: Option<&str>,
        entry: Vec<u8>,
    ) -> Result<Option<u64>, StoreError> {
        builds::change_release_state(&self.pool, app, version, from, to, message, entry).await
    }

    async fn revoke_release(
        &self,
        app: i64,
        version: &str,
        revocation: NewRevocation,
        entry: Vec<u8>,
    ) -> Result<RevocationRecord, StoreError> {
        builds::revoke_release(&self.pool, app, version, revocation, entry).await
    }

    async fn revocations(&self) -> Result<Vec<RevocationRecord>, StoreError> {
        builds::revocations(&self.pool).await
    }

    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: u64,
        until: u64,
    ) -> Result<bool, StoreError> {
        builds::acquire_lease(&self.pool, name, holder, now, until).await
    }

    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError> {
        builds::release_lease(&self.pool, name, holder).await
    }

    async fn app_listings(
        &self,
        needle: Option<&str>,
        now: u64,
    ) -> Result<Vec<AppListing>, StoreError> {
        builds::app_listings(&self.pool, needle, now).await
    }

    async fn set_webhook(&self, account: AccountId, url: Option<&str>) -> Result<(), StoreError> {
        builds::set_webhook(&self.pool, account, url).await
    }

    async fn due_notifications(
        &self,
        now: u64,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError> {
        builds::due_notifications(&self.pool, now, limit).await
    }

    async fn record_delivery(
        &self,
        id: i64,
        at: u64,
        outcome: Result<(), (String, Option<u64>)>,
    ) -> Result<(), StoreError> {
        builds::record_delivery(&self.pool, id, at, outcome).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn fresh() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(dir.path().join("registry.db"))
            .await
            .unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn connections_use_wal_full_sync_and_foreign_keys() {
        let (_dir, store) = fresh().await;
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        assert_eq!((journal.as_str(), synchronous, foreign_keys), ("wal", 2, 1));
    }

    #[tokio::test]
    async fn the_database_refuses_to_change_or_remove_log_rows() {
        let (_dir, store) = fresh().await;
        store
            .append_log_entries(vec![b"a".to_vec(), b"b".to_vec()])
            .await
            .unwrap();
        store.save_checkpoint(2, "at 2\n").await.unwrap();
        for statement in [
            "UPDATE log_entries SET data = x'00' WHERE idx = 0",
            "DELETE FROM log_entries WHERE idx = 1",
            "UPDATE log_hashes SET hash = zeroblob(32) WHERE idx = 0",
            "DELETE FROM log_hashes",
            "INSERT INTO log_checkpoints (size, text) VALUES (1, 'behind')",
        ] {
            let error = sqlx::query(statement)
                .execute(&store.pool)
                .await
                .expect_err(statement);
            assert!(
                error.to_string().contains("append-only") || error.to_string().contains("never"),
                "{statement}: {error}"
            );
        }
        assert_eq!(store.log_size().await.unwrap(), 2);
    }

    #[tokio::test]
    async fn reopening_applies_no_migration_twice() {
        let (dir, store) = fresh().await;
        store.close().await;
        let reopened = SqliteStore::open(dir.path().join("registry.db"))
            .await
            .unwrap();
        let applied: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM _sqlx_migrations")
            .fetch_one(&reopened.pool)
            .await
            .unwrap();
        assert_eq!(applied, MIGRATOR.iter().count() as i64);
    }
}
