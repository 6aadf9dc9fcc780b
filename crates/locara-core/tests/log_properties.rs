//! Property tests: proofs generated from a store always verify, and any change to a proof or its claims
//! makes verification fail.

use locara_core::log::{
    Hash, MemoryHashStore, consistency_proof, inclusion_proof, leaf_hash, root_from_leaf_hashes,
    tree_root, verify_consistency, verify_inclusion,
};
use proptest::prelude::*;

fn leaves(seed: u64, size: u64) -> Vec<Hash> {
    (0..size)
        .map(|index| leaf_hash(&[seed.to_be_bytes(), index.to_be_bytes()].concat()))
        .collect()
}

fn flip_byte(proof: &[Hash], hash: usize, byte: usize, bit: u8) -> Vec<Hash> {
    let mut tampered = proof.to_vec();
    tampered[hash].0[byte] ^= 1 << bit;
    tampered
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn every_inclusion_proof_verifies(seed: u64, size in 1u64..2000) {
        let leaves = leaves(seed, size);
        let store = MemoryHashStore::from_leaf_hashes(leaves.iter().copied());
        let root = store.root();
        prop_assert_eq!(root, root_from_leaf_hashes(&leaves));
        for (index, leaf) in leaves.iter().enumerate() {
            let proof = inclusion_proof(&store, index as u64, size).unwrap();
            prop_assert_eq!(verify_inclusion(leaf, index as u64, size, &proof, &root), Ok(()));
        }
    }

    #[test]
    fn tampered_inclusion_proofs_and_claims_are_refused(
        seed: u64,
        size in 2u64..2000,
        index_choice: u64,
        other_choice: u64,
        hash_choice: usize,
        byte in 0usize..32,
        bit in 0u8..8,
    ) {
        let leaves = leaves(seed, size);
        let store = MemoryHashStore::from_leaf_hashes(leaves.iter().copied());
        let root = store.root();
        let index = index_choice % size;
        let leaf = leaves[index as usize];
        let proof = inclusion_proof(&store, index, size).unwrap();
        prop_assert!(!proof.is_empty());
        let tampered = flip_byte(&proof, hash_choice % proof.len(), byte, bit);
        prop_assert!(verify_inclusion(&leaf, index, size, &tampered, &root).is_err());
        let other_index = (index + 1 + other_choice % (size - 1)) % size;
        prop_assert!(verify_inclusion(&leaf, other_index, size, &proof, &root).is_err());
        // The same proof against another tree size (and that tree's root) must fail.
        let other_size = 1 + other_choice % 2000;
        if other_size != size && index < other_size {
            let other_root = root_from_leaf_hashes(&self::leaves(seed, other_size));
            prop_assert!(verify_inclusion(&leaf, index, other_size, &proof, &other_root).is_err());
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_tampering_is_refused(
        seed: u64,
        new_size in 1u64..2000,
        old_choice: u64,
        hash_choice: usize,
        byte in 0usize..32,
        bit in 0u8..8,
    ) {
        let leaves = leaves(seed, new_size);
        let store = MemoryHashStore::from_leaf_hashes(leaves.iter().copied());
        let old_size = old_choice % (new_size + 1);
        let old_root = tree_root(&store, old_size).unwrap();
        let new_root = store.root();
        let proof = consistency_proof(&store, old_size, new_size).unwrap();
        prop_assert_eq!(verify_consistency(old_size, new_size, &old_root, &new_root, &proof), Ok(()));
        if !proof.is_empty() {
            let tampered = flip_byte(&proof, hash_choice % proof.len(), byte, bit);
            prop_assert!(verify_consistency(old_size, new_size, &old_root, &new_root, &tampered).is_err());
        }
        if old_size > 0 && old_size < new_size {
            let other_old = 1 + old_choice % (new_size - 1);
            if other_old != old_size {
                let other_root = tree_root(&store, other_old).unwrap();
                prop_assert!(verify_consistency(other_old, new_size, &other_root, &new_root, &proof).is_err());
            }
            let other_new = new_size + 1;
            let other_new_root = root_from_leaf_hashes(&self::leaves(seed, other_new));
            prop_assert!(verify_consistency(old_size, other_new, &old_root, &other_new_root, &proof).is_err());
        }
    }
}
