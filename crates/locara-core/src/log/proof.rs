//! Inclusion and consistency proofs (RFC 9162 §2.1.3 and §2.1.4).
//!
//! Generation reads the O(log n) complete-subtree hashes a proof needs from a [`HashStore`] in one batch (the
//! algorithm of Go's `sumdb/tlog`). Verification is the RFC 9162 §2.1.3.2 / §2.1.4.2 algorithm, written
//! independently of generation, and checks the proof length before hashing anything.
//!
//! Orientation: inclusion proofs list sibling hashes from the leaf upwards; consistency proofs omit the old
//! root when the old size is a power of two.

use super::hash::{EMPTY_ROOT, Hash, largest_power_of_two_below, node_hash};
use super::store::{HashStore, StoreReadError, read_exact, subtree_hash, subtree_indexes};

/// Why a proof does not verify. Each variant names what was expected and what was found.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeExceedsNewSize {
        /// The old size.
        old_size: u64,
        /// The new size.
        new_size: u64,
    },
    /// The proof has the wrong number of hashes for these sizes.
    #[error("proof has {found} hashes, expected {expected}")]
    WrongProofLength {
        /// Hashes the sizes call for.
        expected: usize,
        /// Hashes in the proof.
        found: usize,
    },
    /// The proof leads to a different root than the one claimed.
    #[error("proof leads to root {found}, expected {expected}")]
    RootMismatch {
        /// The root claimed (the checkpoint's).
        expected: Hash,
        /// The root the proof computes.
        found: Hash,
    },
    /// The proof leads to a different old root than the one claimed.
    #[error("proof leads to old root {found}, expected {expected}")]
    OldRootMismatch {
        /// The old root claimed.
        expected: Hash,
        /// The old root the proof computes.
        found: Hash,
    },
}

/// Why a proof could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum ProveError<E: std::error::Error + 'static> {
    /// The leaf index is not inside the tree.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    IndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// The old tree is larger than the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    OldSizeExceedsNewSize {
        /// The old size.
        old_size: u64,
        /// The new size.
        new_size: u64,
    },
    /// The store could not supply the hashes.
    #[error(transparent)]
    Store(#[from] StoreReadError<E>),
}

/// The inclusion proof of leaf `index` in the tree of the first `size` records of `store`.
pub fn inclusion_proof<S: HashStore + ?Sized>(
    store: &S,
    index: u64,
    size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if index >= size {
        return Err(ProveError::IndexOutOfRange { index, size });
    }
    let mut need = Vec::new();
    inclusion_indexes(0, size, index, &mut need);
    let hashes = read_exact(store, &need)?;
    let mut proof = Vec::new();
    inclusion_hashes(0, size, index, &mut hashes.into_iter(), &mut proof);
    Ok(proof)
}

fn inclusion_indexes(lo: u64, hi: u64, index: u64, need: &mut Vec<u64>) {
    if lo + 1 == hi {
        return;
    }
    let split = lo + largest_power_of_two_below(hi - lo);
    if index < split {
        inclusion_indexes(lo, split, index, need);
        subtree_indexes(split, hi, need);
    } else {
        subtree_indexes(lo, split, need);
        inclusion_indexes(split, hi, index, need);
    }
}

fn inclusion_hashes(
    lo: u64,
    hi: u64,
    index: u64,
    hashes: &mut impl Iterator<Item = Hash>,
    proof: &mut Vec<Hash>,
) {
    if lo + 1 == hi {
        return;
    }
    let split = lo + largest_power_of_two_below(hi - lo);
    let sibling = if index < split {
        inclusion_hashes(lo, split, index, hashes, proof);
        subtree_hash(split, hi, hashes)
    } else {
        let sibling = subtree_hash(lo, split, hashes);
        inclusion_hashes(split, hi, index, hashes, proof);
        sibling
    };
    proof.push(sibling);
}

/// The consistency proof between the trees of the first `old_size` and `new_size` records of `store`. Empty
/// when the sizes are equal or the old tree is empty.
pub fn consistency_proof<S: HashStore + ?Sized>(
    store: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash>, ProveError<S::Error>> {
    if old_size > new_size {
        return Err(ProveError::OldSizeExceedsNewSize { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    let mut need = Vec::new();
    consistency_indexes(0, new_size, old_size, &mut need);
    let hashes = read_exact(store, &need)?;
    let mut proof = Vec::new();
    consistency_hashes(0, new_size, old_size, &mut hashes.into_iter(), &mut proof);
    Ok(proof)
}

fn consistency_indexes(lo: u64, hi: u64, old: u64, need: &mut Vec<u64>) {
    if old == hi {
        if lo != 0 {
            subtree_indexes(lo, hi, need);
        }
        return;
    }
    let split = lo + largest_power_of_two_below(hi - lo);
    if old <= split {
        consistency_indexes(lo, split, old, need);
        subtree_indexes(split, hi, need);
    } else {
        subtree_indexes(lo, split, need);
        consistency_indexes(split, hi, old, need);
    }
}

fn consistency_hashes(
    lo: u64,
    hi: u64,
    old: u64,
    hashes: &mut impl Iterator<Item = Hash>,
    proof: &mut Vec<Hash>,
) {
    if old == hi {
        // The old tree's own root is implied when it is the leftmost subtree (old size a power of two).
        if lo != 0 {
            proof.push(subtree_hash(lo, hi, hashes));
        }
        return;
    }
    let split = lo + largest_power_of_two_below(hi - lo);
    let sibling = if old <= split {
        consistency_hashes(lo, split, old, hashes, proof);
        subtree_hash(split, hi, hashes)
    } else {
        let sibling = subtree_hash(lo, split, hashes);
        consistency_hashes(split, hi, old, hashes, proof);
        sibling
    };
    proof.push(sibling);
}

/// How many hashes the inclusion proof of `index` in a tree of `size` has (`index < size`).
fn inclusion_proof_len(index: u64, size: u64) -> usize {
    let (mut node, mut last) = (index, size - 1);
    let mut length = 0;
    while last != 0 {
        if node & 1 == 1 || node == last {
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        }
        node >>= 1;
        last >>= 1;
        length += 1;
    }
    length
}

/// Checks that `leaf` is record `index` of the tree of `size` records with root `root` (RFC 9162 §2.1.3.2).
pub fn verify_inclusion(
    leaf: &Hash,
    index: u64,
    size: u64,
    proof: &[Hash],
    root: &Hash,
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::IndexOutOfRange { index, size });
    }
    let expected = inclusion_proof_len(index, size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    let (mut node, mut last) = (index, size - 1);
    let mut computed = *leaf;
    for sibling in proof {
        if node & 1 == 1 || node == last {
            computed = node_hash(sibling, &computed);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            computed = node_hash(&computed, sibling);
        }
        node >>= 1;
        last >>= 1;
    }
    debug_assert_eq!(
        last, 0,
        "the length check guarantees the walk reaches the root"
    );
    if computed != *root {
        return Err(ProofError::RootMismatch {
            expected: *root,
            found: computed,
        });
    }
    Ok(())
}

/// How many hashes the consistency proof between `0 < old_size < new_size` has.
fn consistency_proof_len(old_size: u64, new_size: u64) -> usize {
    let (mut node, mut last) = (old_size - 1, new_size - 1);
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }
    // The first hash seeds both roots (the old root itself when old_size is a power of two).
    let mut length = usize::from(!old_size.is_power_of_two());
    while last != 0 {
        if node & 1 == 1 || node == last {
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        }
        node >>= 1;
        last >>= 1;
        length += 1;
    }
    length
}

/// Checks that the tree of `old_size` records with root `old_root` is a prefix of the tree of `new_size`
/// records with root `new_root` (RFC 9162 §2.1.4.2). An empty old tree is a prefix of every tree.
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash,
    new_root: &Hash,
    proof: &[Hash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::OldSizeExceedsNewSize { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::WrongProofLength {
                expected: 0,
                found: proof.len(),
            });
        }
        if old_size == 0 {
            if *old_root != EMPTY_ROOT {
                return Err(ProofError::OldRootMismatch {
                    expected: *old_root,
                    found: EMPTY_ROOT,
                });
            }
        } else if old_root != new_root {
            return Err(ProofError::RootMismatch {
                expected: *new_root,
                found: *old_root,
            });
        }
        return Ok(());
    }
    let expected = consistency_proof_len(old_size, new_size);
    if proof.len() != expected {
        return Err(ProofError::WrongProofLength {
            expected,
            found: proof.len(),
        });
    }
    let (seed, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        (proof[0], &proof[1..])
    };
    let (mut node, mut last) = (old_size - 1, new_size - 1);
    while node & 1 == 1 {
        node >>= 1;
        last >>= 1;
    }
    let (mut old_computed, mut new_computed) = (seed, seed);
    for hash in rest {
        if node & 1 == 1 || node == last {
            old_computed = node_hash(hash, &old_computed);
            new_computed = node_hash(hash, &new_computed);
            while node & 1 == 0 && node != 0 {
                node >>= 1;
                last >>= 1;
            }
        } else {
            new_computed = node_hash(&new_computed, hash);
        }
        node >>= 1;
        last >>= 1;
    }
    if old_computed != *old_root {
        return Err(ProofError::OldRootMismatch {
            expected: *old_root,
            found: old_computed,
        });
    }
    if new_computed != *new_root {
        return Err(ProofError::RootMismatch {
            expected: *new_root,
            found: new_computed,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::hash::leaf_hash;
    use super::super::store::MemoryHashStore;
    use super::*;

    fn store(size: u64) -> MemoryHashStore {
        MemoryHashStore::from_leaf_hashes((0..size).map(|n| leaf_hash(&n.to_be_bytes())))
    }

    #[test]
    fn every_small_proof_has_the_predicted_length_and_verifies() {
        for size in 1..70 {
            let store = store(size);
            let root = store.root();
            for index in 0..size {
                let proof = inclusion_proof(&store, index, size).unwrap();
                assert_eq!(proof.len(), inclusion_proof_len(index, size));
                let leaf = leaf_hash(&index.to_be_bytes());
                verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
            }
            for old in 0..=size {
                let proof = consistency_proof(&store, old, size).unwrap();
                let old_root = super::super::store::tree_root(&store, old).unwrap();
                verify_consistency(old, size, &old_root, &root, &proof).unwrap();
            }
        }
    }

    #[test]
    fn refuses_index_outside_tree_and_shrinking_tree() {
        let store = store(4);
        let root = store.root();
        assert_eq!(
            verify_inclusion(&root, 4, 4, &[], &root),
            Err(ProofError::IndexOutOfRange { index: 4, size: 4 })
        );
        assert!(matches!(
            inclusion_proof(&store, 4, 4),
            Err(ProveError::IndexOutOfRange { index: 4, size: 4 })
        ));
        assert_eq!(
            verify_consistency(5, 4, &root, &root, &[]),
            Err(ProofError::OldSizeExceedsNewSize {
                old_size: 5,
                new_size: 4
            })
        );
    }

    #[test]
    fn refuses_proof_of_wrong_length() {
        let store = store(5);
        let root = store.root();
        let mut proof = inclusion_proof(&store, 0, 5).unwrap();
        proof.push(root);
        assert_eq!(
            verify_inclusion(&leaf_hash(&0u64.to_be_bytes()), 0, 5, &proof, &root),
            Err(ProofError::WrongProofLength {
                expected: 3,
                found: 4
            })
        );
    }

    #[test]
    fn reading_beyond_the_store_is_a_store_error() {
        let store = store(3);
        assert!(matches!(
            inclusion_proof(&store, 0, 8),
            Err(ProveError::Store(_))
        ));
    }
}
