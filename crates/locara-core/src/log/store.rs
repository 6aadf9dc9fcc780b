//! Where the log keeps its hashes: the stored-hash index and the [`HashStore`] trait.
//!
//! A log of `n` records stores, for every complete subtree, its hash exactly once, in the order they
//! become complete (the scheme of Go's `golang.org/x/mod/sumdb/tlog`). Record `n` adds its leaf hash at level
//! 0 and then one hash per complete subtree it closes, `1 + trailing_ones(n)` hashes in all. The stored hashes
//! are therefore an append-only sequence indexed by [`stored_hash_index`], which fits a database table, a file,
//! or C2SP tiles equally. Every root and proof needs only O(log n) of them.
//!
//! Invariant: in any [`HashStore`], the hash at `stored_hash_index(level, n)` is the Merkle tree hash of records
//! `[n << level, (n + 1) << level)`.

use super::hash::{EMPTY_ROOT, Hash, largest_power_of_two_below, node_hash};

/// A source of stored hashes (a database, files, tiles or memory). Reads are batched so that a remote store can
/// answer a whole proof in one round trip.
pub trait HashStore {
    /// Why a read failed.
    type Error: std::error::Error + 'static;

    /// The stored hashes at `indexes` (see [`stored_hash_index`]), in the same order.
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error>;
}

/// The position in the stored-hash sequence of the hash of the complete subtree at `level` with index `n`
/// (covering records `[n << level, (n + 1) << level)`).
pub fn stored_hash_index(level: u8, n: u64) -> u64 {
    // Work out the record that completes this subtree, then count the hashes stored before it.
    let mut record = n;
    for _ in 0..level {
        record = 2 * record + 1;
    }
    let mut index = 0;
    let mut remaining = record;
    while remaining > 0 {
        index += remaining;
        remaining >>= 1;
    }
    index + u64::from(level)
}

/// The inverse of [`stored_hash_index`]: the `(level, n)` of the hash stored at `index`.
pub fn split_stored_hash_index(index: u64) -> (u8, u64) {
    // stored_hash_index(0, n) <= 2n, and it exceeds 2n - 64, so n is in [index / 2, index / 2 + 64].
    let mut record = index / 2;
    let mut record_index = stored_hash_index(0, record);
    while record_index > index {
        record -= 1;
        record_index = stored_hash_index(0, record);
    }
    loop {
        let next = record_index + 1 + u64::from((record + 1).trailing_zeros());
        if next > index {
            break;
        }
        record += 1;
        record_index = next;
    }
    let level = (index - record_index) as u8;
    (level, record >> level)
}

/// How many hashes a log of `size` records stores.
pub fn stored_hash_count(size: u64) -> u64 {
    if size == 0 {
        return 0;
    }
    let last = size - 1;
    stored_hash_index(0, last) + 1 + u64::from(last.trailing_ones())
}

/// The stored-hash indexes of the complete subtrees that make up records `[lo, hi)`, largest first.
pub(crate) fn subtree_indexes(mut lo: u64, hi: u64, need: &mut Vec<u64>) {
    while lo < hi {
        let size = largest_power_of_two_below(hi - lo + 1);
        let level = size.trailing_zeros() as u8;
        debug_assert_eq!(lo & (size - 1), 0, "subtree start is aligned");
        need.push(stored_hash_index(level, lo >> level));
        lo += size;
    }
}

/// The Merkle tree hash of records `[lo, hi)` from the hashes that [`subtree_indexes`] asked for, taken from
/// the front of `hashes`.
pub(crate) fn subtree_hash(mut lo: u64, hi: u64, hashes: &mut impl Iterator<Item = Hash>) -> Hash {
    let mut parts = Vec::new();
    while lo < hi {
        lo += largest_power_of_two_below(hi - lo + 1);
        parts.push(hashes.next().unwrap_or_default());
    }
    // Combine right to left: the smaller subtrees on the right form the right branch.
    let mut combined = parts.pop().unwrap_or(EMPTY_ROOT);
    while let Some(left) = parts.pop() {
        combined = node_hash(&left, &combined);
    }
    combined
}

/// Reads `indexes` and checks the store answered with one hash per index.
pub(crate) fn read_exact<S: HashStore + ?Sized>(
    store: &S,
    indexes: &[u64],
) -> Result<Vec<Hash>, StoreReadError<S::Error>> {
    let hashes = store.read_hashes(indexes).map_err(StoreReadError::Store)?;
    if hashes.len() != indexes.len() {
        return Err(StoreReadError::ShortRead {
            expected: indexes.len(),
            found: hashes.len(),
        });
    }
    Ok(hashes)
}

/// Why hashes could not be read from a store.
#[derive(Debug, thiserror::Error)]
pub enum StoreReadError<E: std::error::Error + 'static> {
    /// The store failed.
    #[error("reading log hashes: {0}")]
    Store(#[source] E),
    /// The store answered with the wrong number of hashes.
    #[error("the hash store returned {found} hashes for {expected} indexes")]
    ShortRead {
        /// Hashes asked for.
        expected: usize,
        /// Hashes returned.
        found: usize,
    },
}

/// The root of the tree of the first `size` records in `store`.
pub fn tree_root<S: HashStore + ?Sized>(
    store: &S,
    size: u64,
) -> Result<Hash, StoreReadError<S::Error>> {
    if size == 0 {
        return Ok(EMPTY_ROOT);
    }
    let mut need = Vec::new();
    subtree_indexes(0, size, &mut need);
    let hashes = read_exact(store, &need)?;
    Ok(subtree_hash(0, size, &mut hashes.into_iter()))
}

/// The hashes that appending record `n` (with leaf hash `leaf`) adds to a store holding records `[0, n)`, in
/// stored order, starting at index `stored_hash_index(0, n)`.
pub fn stored_hashes_for_record<S: HashStore + ?Sized>(
    n: u64,
    leaf: Hash,
    store: &S,
) -> Result<Vec<Hash>, StoreReadError<S::Error>> {
    let closes = (n + 1).trailing_zeros();
    let indexes: Vec<u64> = (0..closes)
        .rev()
        .map(|level| stored_hash_index(level as u8, (n >> level) - 1))
        .collect();
    let left_siblings = read_exact(store, &indexes)?;
    let mut hashes = Vec::with_capacity(closes as usize + 1);
    let mut current = leaf;
    hashes.push(current);
    for sibling in left_siblings.iter().rev() {
        current = node_hash(sibling, &current);
        hashes.push(current);
    }
    Ok(hashes)
}

/// A hash store held in memory, appended to one record at a time. For tests, benchmarks and small logs.
#[derive(Debug, Clone, Default)]
pub struct MemoryHashStore {
    hashes: Vec<Hash>,
    size: u64,
}

/// A read past the end of a [`MemoryHashStore`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("stored hash {index} does not exist: the store holds {stored} hashes")]
pub struct MemoryStoreError {
    /// The index asked for.
    pub index: u64,
    /// How many hashes the store holds.
    pub stored: u64,
}

impl MemoryHashStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `leaves` (leaf hashes) in order.
    pub fn from_leaf_hashes(leaves: impl IntoIterator<Item = Hash>) -> Self {
        let mut store = Self::new();
        for leaf in leaves {
            store.append_leaf_hash(leaf);
        }
        store
    }

    /// Appends a record by its leaf hash and returns its index.
    pub fn append_leaf_hash(&mut self, leaf: Hash) -> u64 {
        let index = self.size;
        // The store reads only hashes it already holds, so this cannot fail.
        let mut current = leaf;
        self.hashes.push(current);
        for level in 0..(index + 1).trailing_zeros() {
            let sibling =
                self.hashes[stored_hash_index(level as u8, (index >> level) - 1) as usize];
            current = node_hash(&sibling, &current);
            self.hashes.push(current);
        }
        self.size += 1;
        index
    }

    /// Appends a record by its data and returns its index.
    pub fn append(&mut self, data: &[u8]) -> u64 {
        self.append_leaf_hash(super::hash::leaf_hash(data))
    }

    /// How many records the store holds.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// All stored hashes, in stored-hash order (what a registry would write to tiles).
    pub fn stored_hashes(&self) -> &[Hash] {
        &self.hashes
    }

    /// The root of the whole tree.
    pub fn root(&self) -> Hash {
        match tree_root(self, self.size) {
            Ok(root) => root,
            Err(_) => unreachable!("a memory store holds every hash its own size needs"),
        }
    }
}

impl HashStore for MemoryHashStore {
    type Error = MemoryStoreError;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, Self::Error> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|position| self.hashes.get(position).copied())
                    .ok_or(MemoryStoreError {
                        index,
                        stored: self.hashes.len() as u64,
                    })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::hash::{leaf_hash, root_from_leaf_hashes};
    use super::*;

    #[test]
    fn stored_hash_index_matches_go_tlog_layout() {
        // Records 0,1 store: L0#0, L0#1, L1#0; record 2: L0#2; record 3: L0#3, L1#1, L2#0.
        let expected = [
            (0, 0),
            (0, 1),
            (1, 0),
            (0, 2),
            (0, 3),
            (1, 1),
            (2, 0),
            (0, 4),
        ];
        for (index, (level, n)) in expected.into_iter().enumerate() {
            assert_eq!(stored_hash_index(level, n), index as u64);
            assert_eq!(split_stored_hash_index(index as u64), (level, n));
        }
    }

    #[test]
    fn split_inverts_index_for_many_values() {
        for index in 0..20_000 {
            let (level, n) = split_stored_hash_index(index);
            assert_eq!(stored_hash_index(level, n), index);
        }
    }

    #[test]
    fn incremental_store_matches_generic_append_and_direct_roots() {
        let mut store = MemoryHashStore::new();
        let mut leaves = Vec::new();
        for record in 0..300u64 {
            let leaf = leaf_hash(&record.to_be_bytes());
            let added = stored_hashes_for_record(record, leaf, &store).unwrap();
            store.append_leaf_hash(leaf);
            leaves.push(leaf);
            let start = stored_hash_index(0, record) as usize;
            assert_eq!(&store.stored_hashes()[start..], added.as_slice());
            assert_eq!(
                store.stored_hashes().len() as u64,
                stored_hash_count(record + 1)
            );
            assert_eq!(store.root(), root_from_leaf_hashes(&leaves));
        }
    }

    #[test]
    fn reading_past_the_end_is_an_error() {
        let store = MemoryHashStore::from_leaf_hashes([leaf_hash(b"a")]);
        assert_eq!(
            store.read_hashes(&[1]),
            Err(MemoryStoreError {
                index: 1,
                stored: 1
            })
        );
    }
}
