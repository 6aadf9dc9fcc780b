//! Metadata-store behaviour: the log, its proofs, checkpoints and settings.

use std::collections::BTreeSet;
use std::sync::Arc;

use locara_core::log::store::stored_hash_count;
use locara_core::log::tile::read_tile_data;
use locara_core::log::{
    EMPTY_ROOT, MemoryHashStore, consistency_proof, inclusion_proof, leaf_hash, tree_root,
    verify_consistency, verify_inclusion,
};
use locara_core::log::{Tile, tiles_for_tree};
use locara_store::{MetadataStore, StoreError};

use super::{Fixture, Random};

fn entry(label: &str, n: u64) -> Vec<u8> {
    format!("{{\"entry\":\"{label}\",\"n\":{n}}}").into_bytes()
}

/// Appends `count` entries in batches of random size, mirroring them in a memory store.
async fn append_random_batches(
    store: &dyn MetadataStore,
    memory: &mut MemoryHashStore,
    count: u64,
    random: &mut Random,
) {
    let mut appended = 0;
    while appended < count {
        let batch_size = random.between(1, 17).min(count - appended);
        let batch: Vec<Vec<u8>> = (appended..appended + batch_size)
            .map(|n| entry("random", n))
            .collect();
        for data in &batch {
            memory.append(data);
        }
        let result = store.append_log_entries(batch).await.unwrap();
        assert_eq!(result.first_index, appended);
        assert_eq!(result.new_size, memory.size());
        assert_eq!(result.new_root, memory.root());
        appended += batch_size;
    }
}

/// Checks every stored hash of `store` against a recomputation from its entries.
async fn assert_stored_hashes_match_entries(store: &dyn MetadataStore) {
    let size = store.log_size().await.unwrap();
    let entries = store.log_entries(0..size).await.unwrap();
    let memory = MemoryHashStore::from_leaf_hashes(entries.iter().map(|data| leaf_hash(data)));
    let indexes: Vec<u64> = (0..stored_hash_count(size)).collect();
    assert_eq!(
        store.read_stored_hashes(&indexes).await.unwrap(),
        memory.stored_hashes()
    );
    assert_eq!(store.tree_root(size).await.unwrap(), memory.root());
}

pub async fn empty_log_has_size_zero_and_the_empty_root(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    assert_eq!(store.log_size().await.unwrap(), 0);
    assert_eq!(store.tree_root(0).await.unwrap(), EMPTY_ROOT);
    assert_eq!(
        store.log_entries(0..0).await.unwrap(),
        Vec::<Vec<u8>>::new()
    );
    assert_eq!(store.latest_checkpoint().await.unwrap(), None);
}

pub async fn appended_batches_match_the_memory_store_for_every_size_up_to_300(
    fixture: &impl Fixture,
) {
    let store = fixture.open_metadata().await;
    let mut memory = MemoryHashStore::new();
    let mut roots = vec![EMPTY_ROOT];
    // Batches of 1, 2, …, 24 entries: 300 in all, crossing every kind of subtree boundary.
    for batch_size in 1..=24u64 {
        let first = memory.size();
        let batch: Vec<Vec<u8>> = (first..first + batch_size)
            .map(|n| entry("sized", n))
            .collect();
        for data in &batch {
            memory.append(data);
            roots.push(memory.root());
        }
        let result = store.append_log_entries(batch).await.unwrap();
        assert_eq!(result.first_index, first);
        assert_eq!(result.new_size, first + batch_size);
        assert_eq!(
            result.new_root,
            memory.root(),
            "root after size {}",
            memory.size()
        );
    }
    assert_eq!(store.log_size().await.unwrap(), 300);
    for (size, root) in roots.iter().enumerate() {
        assert_eq!(
            store.tree_root(size as u64).await.unwrap(),
            *root,
            "root of size {size}"
        );
    }
    let indexes: Vec<u64> = (0..stored_hash_count(300)).collect();
    assert_eq!(
        store.read_stored_hashes(&indexes).await.unwrap(),
        memory.stored_hashes()
    );
    // Out of order and repeated indexes come back in the order asked.
    assert_eq!(
        store.read_stored_hashes(&[9, 2, 9, 0]).await.unwrap(),
        memory.read_hashes_in_order(&[9, 2, 9, 0])
    );
}

/// `MemoryHashStore::read_hashes` through the trait, for brevity above.
trait ReadInOrder {
    fn read_hashes_in_order(&self, indexes: &[u64]) -> Vec<locara_core::log::Hash>;
}

impl ReadInOrder for MemoryHashStore {
    fn read_hashes_in_order(&self, indexes: &[u64]) -> Vec<locara_core::log::Hash> {
        use locara_core::log::HashStore as _;
        self.read_hashes(indexes).unwrap()
    }
}

pub async fn proofs_match_the_memory_store_and_verify(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let mut memory = MemoryHashStore::new();
    let mut random = Random::new(0x5eed_0001);
    append_random_batches(&*store, &mut memory, 300, &mut random).await;
    for _ in 0..200 {
        let size = random.between(1, 300);
        let index = random.between(0, size - 1);
        let proof = store.inclusion_proof(index, size).await.unwrap();
        assert_eq!(
            proof,
            inclusion_proof(&memory, index, size).unwrap(),
            "inclusion of {index} in {size}"
        );
        let root = tree_root(&memory, size).unwrap();
        let leaf = leaf_hash(&entry("random", index));
        verify_inclusion(&leaf, index, size, &proof, &root).unwrap();
    }
    for _ in 0..200 {
        let new_size = random.between(1, 300);
        let old_size = random.between(0, new_size);
        let proof = store.consistency_proof(old_size, new_size).await.unwrap();
        assert_eq!(
            proof,
            consistency_proof(&memory, old_size, new_size).unwrap(),
            "consistency of {old_size} with {new_size}"
        );
        let old_root = tree_root(&memory, old_size).unwrap();
        let new_root = tree_root(&memory, new_size).unwrap();
        verify_consistency(old_size, new_size, &old_root, &new_root, &proof).unwrap();
    }
}

pub async fn entries_read_back_exactly_and_ranges_past_the_end_are_refused(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let entries = vec![
        b"{\"kind\":\"publisher-created\"}".to_vec(),
        Vec::new(),
        (0..=255u8).collect(),
        "naïve — ünïcödé".as_bytes().to_vec(),
    ];
    store.append_log_entries(entries.clone()).await.unwrap();
    store
        .append_log_entries(vec![b"second batch".to_vec()])
        .await
        .unwrap();
    let all = store.log_entries(0..5).await.unwrap();
    assert_eq!(&all[..4], entries.as_slice());
    assert_eq!(all[4], b"second batch");
    assert_eq!(store.log_entries(2..4).await.unwrap(), &entries[2..4]);
    assert_eq!(
        store.log_entries(5..5).await.unwrap(),
        Vec::<Vec<u8>>::new()
    );
    assert!(matches!(
        store.log_entries(3..6).await,
        Err(StoreError::LogRangeOutOfBounds {
            start: 3,
            end: 6,
            log_size: 5
        })
    ));
}

pub async fn empty_batch_changes_nothing(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let first = store
        .append_log_entries(vec![entry("a", 0), entry("a", 1), entry("a", 2)])
        .await
        .unwrap();
    let empty = store.append_log_entries(Vec::new()).await.unwrap();
    assert_eq!(empty.first_index, 3);
    assert_eq!(empty.new_size, 3);
    assert_eq!(empty.new_root, first.new_root);
    assert_eq!(store.log_size().await.unwrap(), 3);
    assert_stored_hashes_match_entries(&*store).await;
}

pub async fn checkpoint_sizes_never_go_backwards(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    store
        .append_log_entries((0..10).map(|n| entry("c", n)).collect())
        .await
        .unwrap();
    store.save_checkpoint(5, "checkpoint at 5\n").await.unwrap();
    store
        .save_checkpoint(5, "checkpoint at 5, cosigned\n")
        .await
        .unwrap();
    assert!(matches!(
        store.save_checkpoint(4, "checkpoint at 4\n").await,
        Err(StoreError::CheckpointWentBackwards {
            latest: 5,
            given: 4
        })
    ));
    assert!(matches!(
        store.save_checkpoint(11, "checkpoint at 11\n").await,
        Err(StoreError::TreeSizeBeyondLog {
            size: 11,
            log_size: 10
        })
    ));
    let latest = store.latest_checkpoint().await.unwrap().unwrap();
    assert_eq!(latest.size, 5);
    assert_eq!(latest.text, "checkpoint at 5, cosigned\n");
    store
        .save_checkpoint(10, "checkpoint at 10\n")
        .await
        .unwrap();
    let reopened = fixture.open_metadata().await;
    assert_eq!(
        reopened.latest_checkpoint().await.unwrap().unwrap().size,
        10
    );
}

pub async fn roots_and_proofs_past_the_log_are_refused(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    store
        .append_log_entries((0..7).map(|n| entry("p", n)).collect())
        .await
        .unwrap();
    assert!(matches!(
        store.tree_root(8).await,
        Err(StoreError::TreeSizeBeyondLog {
            size: 8,
            log_size: 7
        })
    ));
    assert!(matches!(
        store.inclusion_proof(7, 7).await,
        Err(StoreError::ProofIndexOutOfRange { index: 7, size: 7 })
    ));
    assert!(matches!(
        store.inclusion_proof(0, 8).await,
        Err(StoreError::TreeSizeBeyondLog { .. })
    ));
    assert!(matches!(
        store.consistency_proof(6, 5).await,
        Err(StoreError::ProofSizesReversed {
            old_size: 6,
            new_size: 5
        })
    ));
    assert!(matches!(
        store.consistency_proof(3, 9).await,
        Err(StoreError::TreeSizeBeyondLog { .. })
    ));
    assert!(matches!(
        store.read_stored_hashes(&[stored_hash_count(7)]).await,
        Err(StoreError::StoredHashMissing { .. })
    ));
}

pub async fn settings_round_trip_and_overwrite(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    assert_eq!(store.setting("root-digest").await.unwrap(), None);
    store
        .put_setting("root-digest", "sha256:00aa")
        .await
        .unwrap();
    store.put_setting("other", "x").await.unwrap();
    store
        .put_setting("root-digest", "sha256:11bb")
        .await
        .unwrap();
    let reopened = fixture.open_metadata().await;
    assert_eq!(
        reopened.setting("root-digest").await.unwrap().as_deref(),
        Some("sha256:11bb")
    );
    assert_eq!(
        reopened.setting("other").await.unwrap().as_deref(),
        Some("x")
    );
}

pub async fn parallel_appenders_never_share_an_index(fixture: &impl Fixture) {
    // Two independent handles (two connection pools), each driving several appenders at once.
    let handles = [fixture.open_metadata().await, fixture.open_metadata().await];
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..8u64 {
        let store = Arc::clone(&handles[(task % 2) as usize]);
        tasks.spawn(async move {
            let mut random = Random::new(task);
            let mut results = Vec::new();
            for batch in 0..10u64 {
                let entries: Vec<Vec<u8>> = (0..random.between(1, 5))
                    .map(|item| entry(&format!("task {task} batch {batch}"), item))
                    .collect();
                let result = store.append_log_entries(entries.clone()).await.unwrap();
                results.push((result, entries));
            }
            results
        });
    }
    let mut batches = Vec::new();
    while let Some(results) = tasks.join_next().await {
        batches.extend(results.unwrap());
    }
    batches.sort_by_key(|(result, _)| result.first_index);
    let store = &handles[0];
    let mut expected_first = 0;
    let mut seen = BTreeSet::new();
    for (result, entries) in &batches {
        assert_eq!(
            result.first_index, expected_first,
            "batches overlap or leave a gap"
        );
        assert_eq!(result.new_size, expected_first + entries.len() as u64);
        let stored = store
            .log_entries(result.first_index..result.new_size)
            .await
            .unwrap();
        assert_eq!(&stored, entries, "a batch was split or mixed with another");
        assert_eq!(
            store.tree_root(result.new_size).await.unwrap(),
            result.new_root
        );
        seen.extend(entries.iter().cloned());
        expected_first = result.new_size;
    }
    assert_eq!(store.log_size().await.unwrap(), expected_first);
    assert_eq!(
        seen.len() as u64,
        expected_first,
        "an entry was stored twice"
    );
    assert_stored_hashes_match_entries(&**store).await;
}

pub async fn log_survives_reopening(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let mut memory = MemoryHashStore::new();
    let mut random = Random::new(0x5eed_0002);
    append_random_batches(&*store, &mut memory, 40, &mut random).await;
    drop(store);
    let reopened = fixture.open_metadata().await;
    assert_eq!(reopened.log_size().await.unwrap(), 40);
    assert_eq!(reopened.tree_root(40).await.unwrap(), memory.root());
    let appended = reopened
        .append_log_entries(vec![entry("after reopening", 40)])
        .await
        .unwrap();
    memory.append(&entry("after reopening", 40));
    assert_eq!(appended.first_index, 40);
    assert_eq!(appended.new_root, memory.root());
    assert_stored_hashes_match_entries(&*reopened).await;
}

pub async fn hash_tiles_match_the_memory_store(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let mut memory = MemoryHashStore::new();
    let mut random = Random::new(0x5eed_0003);
    append_random_batches(&*store, &mut memory, 600, &mut random).await;
    let tiles = tiles_for_tree(600);
    assert!(tiles.len() >= 4, "full and partial tiles on two levels");
    for tile in tiles {
        assert_eq!(
            store.hash_tile_data(&tile).await.unwrap(),
            read_tile_data(&memory, &tile).unwrap(),
            "tile {}",
            tile.path()
        );
    }
    let bundle = Tile::hashes(0, 0, 256).entries();
    assert!(matches!(
        store.hash_tile_data(&bundle).await,
        Err(StoreError::NotAHashTile { .. })
    ));
    assert!(matches!(
        store.hash_tile_data(&Tile::hashes(0, 3, 1)).await,
        Err(StoreError::StoredHashMissing { .. })
    ));
}
