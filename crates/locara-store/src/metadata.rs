//! The metadata store: the transparency log (entries and stored hashes), signed checkpoints, small
//! registry settings, and the registry's records (accounts, tokens, publishers, keys, apps).
//!
//! Every method that changes security state takes the transparency-log entry that records it and writes
//! both in one transaction, returning the entry's log index: the log and the records never disagree.
//!
//! Invariants every implementation keeps:
//! - log entries have consecutive indexes from 0, and are never changed or removed;
//! - the stored hashes (see `locara_core::log::store`) are exactly those of the entries, because a batch's
//!   entries and hashes are written in one transaction, and batches are serialised;
//! - the saved checkpoints' sizes never decrease and never exceed the log.

use std::ops::Range;

use async_trait::async_trait;
use locara_core::log::tile::read_tile_data;
use locara_core::log::{Hash, Tile, TileKind, consistency_proof, inclusion_proof, tree_root};

use crate::error::StoreError;
use crate::log_hashes::{PrefetchedHashStore, prefetched_run_error, recorded_reads};
use crate::records::{
    Account, AccountId, App, AppListing, AuthEvent, Build, Member, MemberRole, NewAccount, NewApp,
    NewAuthEvent, NewBuild, NewRelease, NewRevocation, NewToken, Notification, OidcTrust,
    Publisher, PublisherId, PublisherKey, Release, RevocationRecord, TokenRecord,
};

/// What appending a batch of log entries did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AppendedEntries {
    /// The index of the batch's first entry.
    pub first_index: u64,
    /// The log's size after the batch.
    pub new_size: u64,
    /// The root of the tree of `new_size` entries.
    pub new_root: Hash,
}

/// A signed checkpoint as saved by the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    /// The tree size the checkpoint names.
    pub size: u64,
    /// The signed note text, exactly as served.
    pub text: String,
}

/// Where the registry keeps its metadata: SQLite (embedded default) or, later, PostgreSQL.
///
/// The proof methods have default implementations that work out which stored hashes the core's
/// algorithms read, fetch them with one [`read_stored_hashes`](Self::read_stored_hashes) call, and run
/// the algorithm over them.
#[async_trait]
pub trait MetadataStore: Send + Sync + std::fmt::Debug {
    /// Appends `entries` to the log with consecutive indexes, together with their stored hashes, in one
    /// transaction: after a crash the log holds the whole batch or none of it. Concurrent calls are
    /// serialised. An empty batch changes nothing.
    async fn append_log_entries(
        &self,
        entries: Vec<Vec<u8>>,
    ) -> Result<AppendedEntries, StoreError>;

    /// How many entries the log holds.
    async fn log_size(&self) -> Result<u64, StoreError>;

    /// The entries at indexes `range`, in order. A range reaching past the log is refused.
    async fn log_entries(&self, range: Range<u64>) -> Result<Vec<Vec<u8>>, StoreError>;

    /// The stored hashes at `indexes` (see `locara_core::log::stored_hash_index`), in the same order.
    async fn read_stored_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, StoreError>;

    /// Saves a signed checkpoint for tree size `size`. A size below the latest saved checkpoint's, or
    /// above the log's, is refused.
    async fn save_checkpoint(&self, size: u64, text: &str) -> Result<(), StoreError>;

    /// The most recently saved checkpoint, if any.
    async fn latest_checkpoint(&self) -> Result<Option<StoredCheckpoint>, StoreError>;

    /// A registry setting (small state such as the pinned root's digest), if set.
    async fn setting(&self, key: &str) -> Result<Option<String>, StoreError>;

    /// Sets a registry setting, replacing any earlier value.
    async fn put_setting(&self, key: &str, value: &str) -> Result<(), StoreError>;

    /// Creates an account and its personal publisher (same name, `publisher_canonical`, the account its
    /// owner), appending `entry`. A taken username or canonical publisher name is a
    /// [`StoreError::Conflict`].
    async fn create_account(
        &self,
        account: NewAccount,
        publisher_canonical: &str,
        entry: Vec<u8>,
    ) -> Result<(Account, u64), StoreError>;

    /// The account named `username`.
    async fn account_by_username(&self, username: &str) -> Result<Option<Account>, StoreError>;

    /// The account with id `id`.
    async fn account_by_id(&self, id: AccountId) -> Result<Option<Account>, StoreError>;

    /// Stores a pending TOTP secret for an account without enabled TOTP; false if TOTP is enabled.
    async fn set_pending_totp(&self, account: AccountId, secret: &[u8])
    -> Result<bool, StoreError>;

    /// Enables the pending TOTP secret, recording `step` as used and replacing the recovery codes with
    /// `recovery_hashes`; false if there was no pending secret.
    async fn enable_totp(
        &self,
        account: AccountId,
        step: u64,
        recovery_hashes: &[String],
    ) -> Result<bool, StoreError>;

    /// Records TOTP `step` as used if it is later than the last used one; false if it is not (a replay).
    async fn consume_totp_step(&self, account: AccountId, step: u64) -> Result<bool, StoreError>;

    /// Marks an unused recovery code as used; false if there is no such unused code.
    async fn consume_recovery_code(
        &self,
        account: AccountId,
        code_hash: &str,
        at: u64,
    ) -> Result<bool, StoreError>;

    /// Records a security-relevant account event, and in the same transaction drops the account's events
    /// beyond the newest [`AUTH_EVENTS_KEPT_PER_ACCOUNT`](crate::records::AUTH_EVENTS_KEPT_PER_ACCOUNT) and those older than
    /// [`AUTH_EVENT_RETENTION_SECONDS`](crate::records::AUTH_EVENT_RETENTION_SECONDS) before it.
    async fn record_auth_event(&self, event: NewAuthEvent) -> Result<AuthEvent, StoreError>;

    /// The account's events at or after `since`, oldest first (what the failure budgets count).
    async fn auth_events_since(
        &self,
        account: AccountId,
        since: u64,
    ) -> Result<Vec<AuthEvent>, StoreError>;

    /// The account's newest `limit` events, newest first (what its owner is shown).
    async fn recent_auth_events(
        &self,
        account: AccountId,
        limit: usize,
    ) -> Result<Vec<AuthEvent>, StoreError>;

    /// Stores a new API token.
    async fn create_token(&self, token: NewToken) -> Result<TokenRecord, StoreError>;

    /// The token whose secret hashes to `token_hash`, revoked or expired ones included.
    async fn token_by_hash(&self, token_hash: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Notes that a token was used at `at`.
    async fn touch_token(&self, id: i64, at: u64) -> Result<(), StoreError>;

    /// Every token of `account`, newest first.
    async fn tokens_of(&self, account: AccountId) -> Result<Vec<TokenRecord>, StoreError>;

    /// Revokes token `id` of `account`; false if there is no such unrevoked token.
    async fn revoke_token(&self, account: AccountId, id: i64, at: u64) -> Result<bool, StoreError>;

    /// Creates an organisation with `owner` as its first owner, appending `entry`.
    async fn create_organisation(
        &self,
        name: &str,
        canonical: &str,
        owner: AccountId,
        created_at: u64,
        entry: Vec<u8>,
    ) -> Result<(Publisher, u64), StoreError>;

    /// The publisher named `name`.
    async fn publisher_by_name(&self, name: &str) -> Result<Option<Publisher>, StoreError>;

    /// Every publisher name, for collision checks.
    async fn publisher_names(&self) -> Result<Vec<String>, StoreError>;

    /// The names of verified publishers, for the look-alike check on new publisher names.
    async fn verified_publisher_names(&self) -> Result<Vec<String>, StoreError>;

    /// The publishers `account` belongs to, with its role in each.
    async fn publishers_of(
        &self,
        account: AccountId,
    ) -> Result<Vec<(Publisher, MemberRole)>, StoreError>;

    /// A publisher's members.
    async fn members(&self, publisher: PublisherId) -> Result<Vec<Member>, StoreError>;

    /// Adds `account` to `publisher` with `role` (or changes its role), appending `entry`.
    async fn put_member(
        &self,
        publisher: PublisherId,
        account: AccountId,
        role: MemberRole,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError>;

    /// Removes `account` from `publisher`, appending `entry`. Removing or demoting the last owner is a
    /// [`StoreError::Conflict`], checked inside the transaction.
    async fn remove_member(
        &self,
        publisher: PublisherId,
        account: AccountId,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError>;

    /// Stores (or replaces) the DNS challenge token for `publisher` and `domain`.
    async fn put_dns_challenge(
        &self,
        publisher: PublisherId,
        domain: &str,
        token: &str,
        expires_at: u64,
    ) -> Result<(), StoreError>;

    /// The DNS challenge token for `publisher` and `domain`, with its expiry.
    async fn dns_challenge(
        &self,
        publisher: PublisherId,
        domain: &str,
    ) -> Result<Option<(String, u64)>, StoreError>;

    /// Marks `publisher` verified by `method` for `subject`, appending `entry`.
    async fn mark_verified(
        &self,
        publisher: PublisherId,
        method: &str,
        subject: &str,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError>;

    /// Adds an OIDC trust (its `id` is ignored), appending `entry`.
    async fn add_oidc_trust(
        &self,
        trust: OidcTrust,
        entry: Vec<u8>,
    ) -> Result<(OidcTrust, u64), StoreError>;

    /// A publisher's OIDC trusts.
    async fn oidc_trusts(&self, publisher: PublisherId) -> Result<Vec<OidcTrust>, StoreError>;

    /// Registers a release key, appending `entry`. A key id registered before (by anyone, revoked or not)
    /// is a [`StoreError::Conflict`].
    async fn register_key(
        &self,
        publisher: PublisherId,
        key_id: &str,
        public_key: &str,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<u64, StoreError>;

    /// A publisher's release keys, revoked ones included.
    async fn publisher_keys(&self, publisher: PublisherId)
    -> Result<Vec<PublisherKey>, StoreError>;

    /// Revokes a publisher's unrevoked key, appending `entry`; `None` (and no entry) if there is none.
    async fn revoke_key(
        &self,
        publisher: PublisherId,
        key_id: &str,
        at: u64,
        entry: Vec<u8>,
    ) -> Result<Option<u64>, StoreError>;

    /// Registers an app, appending `entry`. A taken name or canonical form is a [`StoreError::Conflict`].
    async fn register_app(&self, app: NewApp, entry: Vec<u8>) -> Result<App, StoreError>;

    /// The app named `publisher/app`.
    async fn app_by_name(&self, name: &str) -> Result<Option<App>, StoreError>;

    /// Every app name, for collision checks.
    async fn app_names(&self) -> Result<Vec<String>, StoreError>;

    /// A publisher's apps.
    async fn apps_of(&self, publisher: PublisherId) -> Result<Vec<App>, StoreError>;

    /// Queues a build. A version that has a release, or a build queued or running, is a
    /// [`StoreError::Conflict`] (checked inside the transaction).
    async fn enqueue_build(&self, build: NewBuild) -> Result<Build, StoreError>;

    /// Takes the oldest claimable build for `worker` until `lease_until`: a queued one, or one whose
    /// worker's lease expired at `now` (a killed worker). A job taken `max_attempts` times already is failed
    /// instead of taken again.
    async fn claim_build(
        &self,
        worker: &str,
        now: u64,
        lease_until: u64,
        max_attempts: u32,
    ) -> Result<Option<Build>, StoreError>;

    /// Extends `worker`'s lease on build `id`; false if the worker no longer holds it.
    async fn renew_build_lease(
        &self,
        id: i64,
        worker: &str,
        lease_until: u64,
    ) -> Result<bool, StoreError>;

    /// Marks build `id` failed, if `worker` still holds it; false otherwise (nothing changed).
    async fn fail_build(
        &self,
        id: i64,
        worker: &str,
        error: &str,
        log_digest: Option<&str>,
        at: u64,
    ) -> Result<bool, StoreError>;

    /// Finishes build `id` held by `worker` in one transaction: records `release`, appends `entry`, marks
    /// the build succeeded and queues `notifications` (account, body) for owners with a webhook. A build the
    /// worker no longer holds, or a version already released, is a [`StoreError::Conflict`] and changes
    /// nothing: a job is never finished twice.
    async fn finish_build(
        &self,
        id: i64,
        worker: &str,
        release: NewRelease,
        log_digest: &str,
        entry: Vec<u8>,
        notifications: Vec<(AccountId, String)>,
    ) -> Result<Release, StoreError>;

    /// Build `id`.
    async fn build(&self, id: i64) -> Result<Option<Build>, StoreError>;

    /// An app's releases, oldest first.
    async fn releases_of(&self, app: i64) -> Result<Vec<Release>, StoreError>;

    /// Changes a release's state from `from` to `to`, appending `entry`, and sets its message when
    /// `message` is given (a deprecation notice; `None` keeps the one it has); `None` (and no entry, no
    /// change) if it is not in state `from`. Releases are never deleted.
    async fn change_release_state(
        &self,
        app: i64,
        version: &str,
        from: &str,
        to: &str,
        message: Option<&str>,
        entry: Vec<u8>,
    ) -> Result<Option<u64>, StoreError>;

    /// Revokes release `version` of `app` from whatever state it is in, recording `revocation` and
    /// appending `entry` in one transaction; returns the revocation as recorded. Revoked is final: a
    /// release already revoked, or one that does not exist, is a [`StoreError::Conflict`] and changes
    /// nothing.
    async fn revoke_release(
        &self,
        app: i64,
        version: &str,
        revocation: NewRevocation,
        entry: Vec<u8>,
    ) -> Result<RevocationRecord, StoreError>;

    /// Every revocation ever recorded, in log order.
    async fn revocations(&self) -> Result<Vec<RevocationRecord>, StoreError>;

    /// Takes the lease `name` for `holder` until `until` (unix seconds) if nobody else holds it at `now`
    /// (a lease whose time ran out is free); true if `holder` now holds it. Processes sharing the store
    /// serialise work with it that must not interleave, such as signing the freshness documents.
    async fn acquire_lease(
        &self,
        name: &str,
        holder: &str,
        now: u64,
        until: u64,
    ) -> Result<bool, StoreError>;

    /// Gives up lease `name` if `holder` still holds it.
    async fn release_lease(&self, name: &str, holder: &str) -> Result<(), StoreError>;

    /// Apps, by name, whose name or latest installable release's manifest text contains `needle` with
    /// ASCII letters compared case-insensitively (every app when `needle` is `None`), with their
    /// publishers and latest installable releases at `now` (see [`AppListing`]). A superset for search: the
    /// caller narrows it to the fields it matches on.
    async fn app_listings(
        &self,
        needle: Option<&str>,
        now: u64,
    ) -> Result<Vec<AppListing>, StoreError>;

    /// Sets (or clears) the webhook an account's release notifications are POSTed to.
    async fn set_webhook(&self, account: AccountId, url: Option<&str>) -> Result<(), StoreError>;

    /// Undelivered notifications due at `now`, oldest first, at most `limit`.
    async fn due_notifications(
        &self,
        now: u64,
        limit: u32,
    ) -> Result<Vec<Notification>, StoreError>;

    /// Records a delivery attempt: delivered, or failed with `error` and retried at `retry_at` (`None`:
    /// given up).
    async fn record_delivery(
        &self,
        id: i64,
        at: u64,
        outcome: Result<(), (String, Option<u64>)>,
    ) -> Result<(), StoreError>;

    /// The root of the tree of the first `size` entries.
    async fn tree_root(&self, size: u64) -> Result<Hash, StoreError> {
        require_tree_size(self, size).await?;
        let indexes = recorded_reads(|store| Ok(tree_root(store, size)?))?;
        let prefetched = prefetch(self, &indexes).await?;
        tree_root(&prefetched, size).map_err(|error| prefetched_run_error(error.into()))
    }

    /// The inclusion proof of entry `index` in the tree of the first `size` entries.
    async fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, StoreError> {
        require_tree_size(self, size).await?;
        let indexes = recorded_reads(|store| inclusion_proof(store, index, size))?;
        let prefetched = prefetch(self, &indexes).await?;
        inclusion_proof(&prefetched, index, size).map_err(prefetched_run_error)
    }

    /// The consistency proof between the trees of the first `old_size` and `new_size` entries.
    async fn consistency_proof(
        &self,
        old_size: u64,
        new_size: u64,
    ) -> Result<Vec<Hash>, StoreError> {
        require_tree_size(self, new_size).await?;
        let indexes = recorded_reads(|store| consistency_proof(store, old_size, new_size))?;
        let prefetched = prefetch(self, &indexes).await?;
        consistency_proof(&prefetched, old_size, new_size).map_err(prefetched_run_error)
    }

    /// The bytes of hash tile `tile` (what is served at `tile.path()`), read in one query. Entry bundles
    /// are refused: they hold entries, not hashes.
    async fn hash_tile_data(&self, tile: &Tile) -> Result<Vec<u8>, StoreError> {
        if tile.kind == TileKind::Entries {
            return Err(StoreError::NotAHashTile { path: tile.path() });
        }
        let indexes = recorded_reads(|store| Ok(read_tile_data(store, tile)?))?;
        let prefetched = prefetch(self, &indexes).await?;
        read_tile_data(&prefetched, tile).map_err(|error| prefetched_run_error(error.into()))
    }
}

/// Refuses a tree size larger than the log.
async fn require_tree_size<S: MetadataStore + ?Sized>(
    store: &S,
    size: u64,
) -> Result<(), StoreError> {
    let log_size = store.log_size().await?;
    if size > log_size {
        return Err(StoreError::TreeSizeBeyondLog { size, log_size });
    }
    Ok(())
}

/// Fetches `indexes` in one read.
async fn prefetch<S: MetadataStore + ?Sized>(
    store: &S,
    indexes: &[u64],
) -> Result<PrefetchedHashStore, StoreError> {
    let hashes = store.read_stored_hashes(indexes).await?;
    Ok(PrefetchedHashStore::new(indexes, hashes))
}
