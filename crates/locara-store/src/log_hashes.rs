//! Which stored hashes a log operation reads, worked out before the read, so that every implementation can
//! fetch them in one query and then run the core's pure algorithms over what it fetched.
//!
//! The core's algorithms (`stored_hashes_for_record`, `tree_root`, `inclusion_proof`, `consistency_proof`)
//! choose the indexes they read from the sizes alone, never from hash values. Running one against a
//! [`RecordingHashStore`] therefore lists exactly the reads the real run will make; a [`PrefetchedHashStore`]
//! then answers them.

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::Mutex;

use locara_core::log::proof::ProveError;
use locara_core::log::store::{StoreReadError, stored_hash_count};
use locara_core::log::{Hash, HashStore, leaf_hash, stored_hash_index, stored_hashes_for_record};

use crate::error::StoreError;

/// A hash store that answers every read with zero hashes and remembers which indexes were read.
#[derive(Debug, Default)]
struct RecordingHashStore {
    reads: Mutex<Vec<u64>>,
}

impl HashStore for RecordingHashStore {
    type Error = Infallible;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Infallible> {
        // A poisoned lock still holds every index recorded before the panic; keep going.
        let mut reads = self
            .reads
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        reads.extend_from_slice(indexes);
        Ok(vec![Hash::default(); indexes.len()])
    }
}

/// Runs `operation` against a recording store and returns the distinct indexes it read, sorted.
pub(crate) fn recorded_reads<T>(
    operation: impl FnOnce(&dyn HashStore<Error = Infallible>) -> Result<T, ProveError<Infallible>>,
) -> Result<Vec<u64>, StoreError> {
    let recorder = RecordingHashStore::default();
    operation(&recorder).map_err(proof_request_error)?;
    let mut reads = recorder
        .reads
        .into_inner()
        .unwrap_or_else(|poison| poison.into_inner());
    reads.sort_unstable();
    reads.dedup();
    Ok(reads)
}

/// Hashes fetched ahead of a run, by stored-hash index.
#[derive(Debug, Default)]
pub(crate) struct PrefetchedHashStore {
    hashes: HashMap<u64, Hash>,
}

/// A read of a hash that was not fetched: the run read something the recording run did not.
#[derive(Debug, thiserror::Error)]
#[error("stored hash {index} was not fetched")]
pub(crate) struct NotFetched {
    index: u64,
}

impl PrefetchedHashStore {
    /// A store answering `indexes` with `hashes` (same order).
    pub(crate) fn new(indexes: &[u64], hashes: Vec<Hash>) -> Self {
        Self {
            hashes: indexes.iter().copied().zip(hashes).collect(),
        }
    }
}

impl HashStore for PrefetchedHashStore {
    type Error = NotFetched;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, NotFetched> {
        indexes
            .iter()
            .map(|&index| self.hashes.get(&index).copied().ok_or(NotFetched { index }))
            .collect()
    }
}

/// Maps the core's refusal of a proof request (bad index or sizes) to a [`StoreError`].
fn proof_request_error(error: ProveError<Infallible>) -> StoreError {
    match error {
        ProveError::IndexOutOfRange { index, size } => {
            StoreError::ProofIndexOutOfRange { index, size }
        }
        ProveError::OldSizeExceedsNewSize { old_size, new_size } => {
            StoreError::ProofSizesReversed { old_size, new_size }
        }
        ProveError::Store(StoreReadError::Store(never)) => match never {},
        ProveError::Store(StoreReadError::ShortRead { expected, found }) => StoreError::Corrupt {
            detail: format!("recording store answered {found} hashes for {expected} indexes"),
        },
    }
}

/// Maps an error of a run over prefetched hashes to a [`StoreError`].
pub(crate) fn prefetched_run_error(error: ProveError<NotFetched>) -> StoreError {
    match error {
        ProveError::IndexOutOfRange { index, size } => {
            StoreError::ProofIndexOutOfRange { index, size }
        }
        ProveError::OldSizeExceedsNewSize { old_size, new_size } => {
            StoreError::ProofSizesReversed { old_size, new_size }
        }
        ProveError::Store(StoreReadError::Store(NotFetched { index })) => StoreError::Corrupt {
            detail: format!("the proof read stored hash {index}, which the planning run did not"),
        },
        ProveError::Store(StoreReadError::ShortRead { expected, found }) => StoreError::Corrupt {
            detail: format!("{found} stored hashes were fetched for {expected} indexes"),
        },
    }
}

/// The stored hashes of a log holding `size` entries that appending `count` entries reads (the right edge
/// of the existing tree), sorted and distinct.
pub(crate) fn hashes_read_by_append(size: u64, count: u64) -> Vec<u64> {
    let first_new = stored_hash_count(size);
    let recorder = RecordingHashStore::default();
    for record in size..size + count {
        // The recorder answers every read, so only the recorded indexes matter here.
        let _ = stored_hashes_for_record(record, Hash::default(), &recorder);
    }
    let new_size = size + count;
    let _ = locara_core::log::tree_root(&recorder, new_size);
    let mut reads = recorder
        .reads
        .into_inner()
        .unwrap_or_else(|poison| poison.into_inner());
    reads.retain(|&index| index < first_new);
    reads.sort_unstable();
    reads.dedup();
    reads
}

/// The stored hashes and root after appending a batch.
#[derive(Debug)]
pub(crate) struct AppendedHashes {
    /// The new stored hashes, in order, starting at stored-hash index `stored_hash_count(size)`.
    pub(crate) new_hashes: Vec<Hash>,
    /// The root of the tree after the batch.
    pub(crate) root: Hash,
}

/// Existing hashes (those [`hashes_read_by_append`] listed) followed by the batch's own new hashes.
struct AppendingHashStore<'a> {
    existing: &'a PrefetchedHashStore,
    first_new: u64,
    new_hashes: &'a [Hash],
}

impl HashStore for AppendingHashStore<'_> {
    type Error = NotFetched;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, NotFetched> {
        indexes
            .iter()
            .map(|&index| match index.checked_sub(self.first_new) {
                Some(offset) => usize::try_from(offset)
                    .ok()
                    .and_then(|offset| self.new_hashes.get(offset).copied())
                    .ok_or(NotFetched { index }),
                None => self.existing.read_hashes(&[index]).map(|hashes| hashes[0]),
            })
            .collect()
    }
}

/// Computes the stored hashes that appending `entries` to a log of `size` entries adds, and the new root,
/// from the existing hashes at the indexes [`hashes_read_by_append`] returned.
pub(crate) fn append_hashes(
    size: u64,
    entries: &[Vec<u8>],
    existing: &PrefetchedHashStore,
) -> Result<AppendedHashes, StoreError> {
    let first_new = stored_hash_count(size);
    let mut new_hashes = Vec::with_capacity(entries.len() * 2);
    for (record, entry) in (size..).zip(entries) {
        let store = AppendingHashStore {
            existing,
            first_new,
            new_hashes: &new_hashes,
        };
        let added = stored_hashes_for_record(record, leaf_hash(entry), &store)
            .map_err(|error| prefetched_run_error(ProveError::Store(error)))?;
        debug_assert_eq!(
            first_new + new_hashes.len() as u64,
            stored_hash_index(0, record)
        );
        new_hashes.extend(added);
    }
    let new_size = size + entries.len() as u64;
    let store = AppendingHashStore {
        existing,
        first_new,
        new_hashes: &new_hashes,
    };
    let root = locara_core::log::tree_root(&store, new_size)
        .map_err(|error| prefetched_run_error(ProveError::Store(error)))?;
    Ok(AppendedHashes { new_hashes, root })
}

#[cfg(test)]
mod tests {
    use locara_core::log::MemoryHashStore;

    use super::*;

    #[test]
    fn batch_hashes_equal_one_by_one_appends_for_every_split() {
        let entries: Vec<Vec<u8>> = (0..70u32).map(|i| i.to_be_bytes().to_vec()).collect();
        for split in 0..entries.len() {
            let (before, batch) = entries.split_at(split);
            let memory = MemoryHashStore::from_leaf_hashes(before.iter().map(|e| leaf_hash(e)));
            let needed = hashes_read_by_append(split as u64, batch.len() as u64);
            let existing = PrefetchedHashStore::new(&needed, memory.read_hashes(&needed).unwrap());
            let appended = append_hashes(split as u64, batch, &existing).unwrap();
            let all = MemoryHashStore::from_leaf_hashes(entries.iter().map(|e| leaf_hash(e)));
            assert_eq!(
                [memory.stored_hashes(), appended.new_hashes.as_slice()].concat(),
                all.stored_hashes(),
                "split at {split}"
            );
            assert_eq!(appended.root, all.root());
        }
    }

    #[test]
    fn append_reads_at_most_the_right_edge_of_the_tree() {
        for size in 0..1000u64 {
            assert!(hashes_read_by_append(size, 50).len() <= 64 - size.leading_zeros() as usize);
        }
    }
}
