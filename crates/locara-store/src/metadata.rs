//! The metadata store: the transparency log (entries and stored hashes), signed checkpoints and small
//! registry settings. Accounts, publishers and apps join it later as further methods.
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
