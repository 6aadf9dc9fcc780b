//! Transparency-log proofs over a 1,000,000-leaf tree, next to one node hash in the same run, to show that
//! generation and verification cost O(log n) hashes.
//!
//! Run: `cargo bench -p locara-core --bench log`. The store is built once, outside the measurements.

use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{Criterion, criterion_group, criterion_main};
use locara_core::log::{
    Hash, MemoryHashStore, consistency_proof, inclusion_proof, leaf_hash, node_hash, tree_root,
    verify_consistency, verify_inclusion,
};

const SIZE: u64 = 1_000_000;

fn store() -> &'static MemoryHashStore {
    static STORE: OnceLock<MemoryHashStore> = OnceLock::new();
    STORE.get_or_init(|| {
        let mut store = MemoryHashStore::new();
        for index in 0..SIZE {
            store.append(&index.to_be_bytes());
        }
        store
    })
}

/// A fixed pseudo-random sequence (xorshift64*), so every run measures the same indexes.
struct Indexes(u64);

impl Indexes {
    fn next_below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound
    }
}

fn log_proofs(c: &mut Criterion) {
    let store = store();
    let root = store.root();
    let left = leaf_hash(b"left");
    let right = leaf_hash(b"right");

    c.bench_function("baseline: one node hash (SHA-256 of 65 bytes)", |b| {
        b.iter(|| node_hash(black_box(&left), black_box(&right)))
    });
    c.bench_function("root of 1M-leaf tree from store", |b| {
        b.iter(|| tree_root(store, black_box(SIZE)).unwrap())
    });

    let mut indexes = Indexes(0x9E37_79B9_7F4A_7C15);
    c.bench_function("inclusion proof, random leaf of 1M", |b| {
        b.iter(|| inclusion_proof(store, indexes.next_below(SIZE), SIZE).unwrap())
    });

    let index = 123_457;
    let proof = inclusion_proof(store, index, SIZE).unwrap();
    let leaf = leaf_hash(&index.to_be_bytes());
    c.bench_function("inclusion verification, 1M", |b| {
        b.iter(|| {
            verify_inclusion(black_box(&leaf), index, SIZE, black_box(&proof), &root).unwrap()
        })
    });

    c.bench_function("consistency proof 500k -> 1M", |b| {
        b.iter(|| consistency_proof(store, black_box(500_000), SIZE).unwrap())
    });
    let mut pairs = Indexes(0x2545_F491_4F6C_DD1D);
    c.bench_function("consistency proof, random m <= 1M -> 1M", |b| {
        b.iter(|| consistency_proof(store, 1 + pairs.next_below(SIZE), SIZE).unwrap())
    });

    let old_size = 500_000;
    let old_root: Hash = tree_root(store, old_size).unwrap();
    let consistency = consistency_proof(store, old_size, SIZE).unwrap();
    c.bench_function("consistency verification 500k -> 1M", |b| {
        b.iter(|| {
            verify_consistency(old_size, SIZE, &old_root, &root, black_box(&consistency)).unwrap()
        })
    });
}

criterion_group!(benches, log_proofs);
criterion_main!(benches);
