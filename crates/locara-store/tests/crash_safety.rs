//! Crash safety of the log with a real `kill -9`: a child process appends batches as fast as it can, the
//! test kills it at a random moment, reopens the store, and checks that no committed entry was lost, no
//! batch was split or stored twice, every stored hash matches the entries, and the tree only grew (every
//! root is consistent with every earlier one).
//!
//! The child is this test binary itself, running the ignored test `append_forever_child` with
//! [`CHILD_DATABASE`] set, so no extra binary target is needed.

use std::collections::HashSet;
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use locara_core::log::store::stored_hash_count;
use locara_core::log::{EMPTY_ROOT, Hash, MemoryHashStore, leaf_hash, verify_consistency};
use locara_store::{MetadataStore, SqliteStore};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::Instant;

/// Tells the child test which database to append to.
const CHILD_DATABASE: &str = "LOCARA_STORE_TEST_APPEND_FOREVER_DB";
/// Tells the child test its round, which goes into every entry so entries are unique across rounds.
const CHILD_ROUND: &str = "LOCARA_STORE_TEST_APPEND_FOREVER_ROUND";
/// Overrides the random seed, to repeat a failing run.
const SEED: &str = "LOCARA_TEST_SEED";

/// How many times the appender is killed.
const ROUNDS: u64 = 12;

/// SplitMix64, as in the suite.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn between(&mut self, low: u64, high: u64) -> u64 {
        low + self.next() % (high - low + 1)
    }
}

fn seed() -> u64 {
    match std::env::var(SEED) {
        Ok(seed) => seed.parse().expect("LOCARA_TEST_SEED is a number"),
        Err(_) => SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64,
    }
}

/// The child: appends batches of 1 to 16 entries until killed (or, as a safety net, for a minute), saves a
/// checkpoint every few batches, and prints `committed <size> <root hex>` after each commit.
#[test]
#[ignore = "the appender process that crash_safety kills; does nothing unless started by it"]
fn append_forever_child() {
    let Ok(database) = std::env::var(CHILD_DATABASE) else {
        return;
    };
    let round: u64 = std::env::var(CHILD_ROUND).unwrap().parse().unwrap();
    let mut random = Random(seed());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = SqliteStore::open(&database).await.unwrap();
        let give_up = Instant::now() + Duration::from_secs(60);
        for batch in 0.. {
            if Instant::now() > give_up {
                break;
            }
            let count = random.between(1, 16);
            let entries = (0..count)
                .map(|item| {
                    format!("round {round} batch {batch} item {item} of {count}").into_bytes()
                })
                .collect();
            let appended = store.append_log_entries(entries).await.unwrap();
            if batch % 5 == 0 {
                let text = format!("checkpoint {} {}\n", appended.new_size, appended.new_root);
                store
                    .save_checkpoint(appended.new_size, &text)
                    .await
                    .unwrap();
            }
            // println! flushes at the newline; a closed pipe (the parent is gone) panics and ends the child.
            println!("committed {} {}", appended.new_size, appended.new_root);
        }
    });
}

/// One entry written by the child: `round R batch B item I of N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct ChildEntry {
    round: u64,
    batch: u64,
    item: u64,
    of: u64,
}

fn parse_entry(data: &[u8]) -> ChildEntry {
    let text = std::str::from_utf8(data).unwrap();
    let words: Vec<&str> = text.split(' ').collect();
    assert!(
        words.len() == 8 && words[0] == "round" && words[2] == "batch" && words[4] == "item",
        "unexpected entry {text:?}"
    );
    let number = |position: usize| words[position].parse::<u64>().unwrap();
    ChildEntry {
        round: number(1),
        batch: number(3),
        item: number(5),
        of: number(7),
    }
}

/// Checks the reopened log from scratch and returns its size and root.
async fn check_log(store: &SqliteStore) -> (u64, Hash) {
    let size = store.log_size().await.unwrap();
    let entries = store.log_entries(0..size).await.unwrap();
    assert_eq!(entries.len() as u64, size);
    // Batches are whole, in order, each stored once; within a round, no batch is missing.
    let mut batches_seen = HashSet::new();
    let mut last_batch_of_round = std::collections::HashMap::new();
    let mut position = 0;
    while position < entries.len() {
        let first = parse_entry(&entries[position]);
        assert_eq!(
            first.item, 0,
            "entry {position} starts in the middle of a batch: {first:?}"
        );
        assert!(
            batches_seen.insert((first.round, first.batch)),
            "batch {first:?} is stored twice"
        );
        let expected_batch = last_batch_of_round
            .get(&first.round)
            .map_or(0, |last| last + 1);
        assert_eq!(
            first.batch, expected_batch,
            "a batch of round {} is missing",
            first.round
        );
        last_batch_of_round.insert(first.round, first.batch);
        for item in 0..first.of {
            let index = position + item as usize;
            assert!(
                index < entries.len(),
                "batch {first:?} is cut short at the end of the log"
            );
            let entry = parse_entry(&entries[index]);
            assert_eq!(
                entry,
                ChildEntry { item, ..first },
                "entry {index} breaks batch {first:?}"
            );
        }
        position += first.of as usize;
    }
    let memory = MemoryHashStore::from_leaf_hashes(entries.iter().map(|data| leaf_hash(data)));
    let indexes: Vec<u64> = (0..stored_hash_count(size)).collect();
    assert_eq!(
        store.read_stored_hashes(&indexes).await.unwrap(),
        memory.stored_hashes(),
        "a stored hash differs from the recomputation from the entries"
    );
    let root = store.tree_root(size).await.unwrap();
    assert_eq!(root, memory.root());
    if let Some(checkpoint) = store.latest_checkpoint().await.unwrap() {
        assert!(checkpoint.size <= size);
        let expected = format!(
            "checkpoint {} {}\n",
            checkpoint.size,
            store.tree_root(checkpoint.size).await.unwrap()
        );
        assert_eq!(checkpoint.text, expected);
    }
    (size, root)
}

/// Checks that the tree `(old_size, old_root)` is a prefix of the store's tree `(size, root)`.
async fn assert_consistent(store: &SqliteStore, old: (u64, Hash), new: (u64, Hash), what: &str) {
    let proof = store.consistency_proof(old.0, new.0).await.unwrap();
    verify_consistency(old.0, new.0, &old.1, &new.1, &proof)
        .unwrap_or_else(|error| panic!("{what}: {error}"));
}

fn parse_committed(line: &str) -> Option<(u64, Hash)> {
    let rest = line.strip_prefix("committed ")?;
    let (size, root) = rest.split_once(' ')?;
    Some((size.parse().unwrap(), Hash::from_hex(root).unwrap()))
}

async fn run_and_kill(
    database: &Path,
    round: u64,
    target: u64,
    child_seed: u64,
    jitter: Duration,
    deadline: Instant,
) -> (u64, Hash) {
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "append_forever_child",
            "--exact",
            "--ignored",
            "--nocapture",
        ])
        .env(CHILD_DATABASE, database)
        .env(CHILD_ROUND, round.to_string())
        .env(SEED, child_seed.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let last_committed = loop {
        let line = tokio::time::timeout_at(deadline, lines.next_line())
            .await
            .expect("the appender grew the log too slowly")
            .unwrap()
            .expect("the appender exited before it was killed");
        if let Some(committed) = parse_committed(&line)
            && committed.0 >= target
        {
            break committed;
        }
    };
    // A random extra moment, so the kill lands anywhere in the next transaction (not for synchronisation).
    tokio::time::sleep(jitter).await;
    child.start_kill().unwrap();
    let status = child.wait().await.unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "the appender was not killed: {status}"
    );
    last_committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_appender_loses_nothing_and_duplicates_nothing() {
    let seed = seed();
    eprintln!("crash-safety seed {seed} (set {SEED} to repeat)");
    let mut random = Random(seed);
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("registry.db");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut previous = (0, EMPTY_ROOT);
    for round in 0..ROUNDS {
        let target = previous.0 + random.between(1, 250);
        let jitter = Duration::from_micros(random.between(0, 3000));
        let child_seed = random.next();
        let committed = run_and_kill(&database, round, target, child_seed, jitter, deadline).await;
        let store = SqliteStore::open(&database).await.unwrap();
        let now = check_log(&store).await;
        assert!(
            now.0 >= committed.0,
            "round {round}: the appender committed size {} but the log holds {} after the kill",
            committed.0,
            now.0
        );
        eprintln!(
            "round {round}: killed after size {} was committed; the reopened log holds {}",
            committed.0, now.0
        );
        assert_consistent(
            &store,
            committed,
            now,
            "last committed root before the kill",
        )
        .await;
        assert_consistent(&store, previous, now, "root after the previous restart").await;
        store.close().await;
        previous = now;
    }
    assert!(previous.0 >= ROUNDS, "the log grew in every round");
}
