//! Crash safety of the registry's log with a real `kill -9`: the database is the source of truth, so
//! killing the server at any moment during a stream of appends and restarting it loses no entry,
//! duplicates none, and every later checkpoint is consistent with every earlier one.
//!
//! Each round starts the real binary on the same data directory, runs [`CLIENTS`] tasks signing up fresh
//! usernames (a sign-up creates the account, its publisher and one `publisher.created` entry in one
//! transaction) and one task polling `/log/checkpoint`, then sends SIGKILL at a varying moment after the
//! round's first confirmed sign-up. No check depends on timing: what each client was told (201, another
//! status, or nothing) bounds what the log may hold, and the order in which one task saw checkpoints is a
//! real order in time.
//!
//! Checked after every restart: the first checkpoint names exactly the stored log and `timestamp.json` names
//! that checkpoint with a higher version than before the kill. Checked at the end: the log is exactly
//! entries `0..size`, its stored hashes are the entries' hashes, each entry is one attempted username
//! (none twice), every 201 is logged and covered by the checkpoint served right after it, a publisher
//! exists exactly when its entry does, every checkpoint seen verifies and is consistent with every other
//! (proofs from the HTTP endpoint and from the store), and the served tiles and entry bundles match the
//! database.
//!
//! A `kill -9` leaves the kernel's page cache alone, so this tests atomicity and ordering, not what
//! `synchronous=FULL` guards against (a power cut).
//!
//! The kill moments come from a seed printed on failure; `LOCARA_TEST_SEED` repeats the schedule (the
//! interleaving itself is up to the machine).

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::process::ExitStatusExt;
use std::path::Path;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use common::api::PASSWORD;
use locara_core::events::{Event, LogEntry};
use locara_core::log::{
    Checkpoint, Hash, TileKind, VerifierKey, decode_entry_bundle, leaf_hash, root_from_leaf_hashes,
    tiles_for_tree, verify_checkpoint, verify_consistency,
};
use locara_core::root::{Freshness, Root};
use locara_core::time::Timestamp;
use locara_store::{MetadataStore, SqliteStore};
use serde_json::json;
use tokio::sync::mpsc;

/// How many times the server is killed.
const ROUNDS: u64 = 8;
/// How many clients sign up at once.
const CLIENTS: usize = 4;
/// The longest wait after a round's first confirmed sign-up before the kill, in milliseconds; about two
/// sign-ups' worth in a debug build, so kills land anywhere in a sign-up (hashing, committing, signing).
const MAX_KILL_DELAY_MS: u64 = 1_200;
/// Overrides the random seed, to repeat a failing run's kill schedule.
const SEED: &str = "LOCARA_TEST_SEED";
/// The most a round may wait for its first confirmed sign-up; only a broken server gets near it.
const FIRST_SIGN_UP_DEADLINE: Duration = Duration::from_secs(30);

/// SplitMix64: a seeded schedule of kill moments.
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

/// What the client of one sign-up was told.
#[derive(Debug)]
enum Answer {
    /// 201: the account and its entry are committed. `checkpoint` is the one served right after the
    /// answer (if the server was still up), which must already cover the entry.
    Created { checkpoint: Option<String> },
    /// Any other status: the sign-up did not happen.
    Refused { status: u16, body: String },
    /// The connection failed (the server was killed before or during the request): the entry may be in
    /// the log, at most once.
    Unanswered,
}

/// What one round saw.
struct Round {
    /// How long the start took, up to the banner.
    start_time: Duration,
    /// How long the first confirmed sign-up took.
    first_sign_up: Duration,
    /// The log's size in the database before the server started.
    size_at_start: u64,
    /// The first checkpoint the started server served.
    first_checkpoint: Checkpoint,
    /// Every checkpoint the poller was served, in order.
    polled: Vec<String>,
    /// Answers that were neither 200 nor a broken connection, from the poller.
    poll_failures: Vec<(u16, String)>,
    /// Every sign-up attempted and its answer.
    sign_ups: Vec<(String, Answer)>,
}

/// The root of trust and the log's identity, as a client pins and reads them.
struct Trust {
    root: Root,
    origin: String,
    verifier: VerifierKey,
}

impl Trust {
    fn checkpoint(&self, text: &str) -> Checkpoint {
        verify_checkpoint(text.as_bytes(), &self.origin, &self.verifier)
            .unwrap_or_else(|error| panic!("checkpoint does not verify: {error}\n{text}"))
    }
}

/// An HTTP client that gives up on a request the server never answers (a safety net: a killed server
/// closes its connections).
fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

/// GET `url` as text, or `None` when the server is gone or answers anything but 200.
async fn get_text(client: &reqwest::Client, url: &str) -> Result<String, Option<(u16, String)>> {
    let response = client.get(url).send().await.map_err(|_| None)?;
    let status = response.status().as_u16();
    let body = response.text().await.map_err(|_| None)?;
    if status == 200 {
        Ok(body)
    } else {
        Err(Some((status, body)))
    }
}

/// Signs up `<prefix>n0`, `<prefix>n1`, … until a request gets no answer; reports each 201 on
/// `created`.
async fn sign_up_until_killed(
    client: reqwest::Client,
    url: String,
    prefix: String,
    created: mpsc::UnboundedSender<()>,
) -> Vec<(String, Answer)> {
    let mut answers = Vec::new();
    for number in 0.. {
        let username = format!("{prefix}n{number}");
        let sent = client
            .post(format!("{url}/api/v1/accounts"))
            .json(&json!({"username": username, "password": PASSWORD}))
            .send()
            .await;
        let answer = match sent {
            Err(_) => Answer::Unanswered,
            Ok(response) if response.status().as_u16() == 201 => {
                let _ = created.send(());
                Answer::Created {
                    checkpoint: get_text(&client, &format!("{url}/log/checkpoint"))
                        .await
                        .ok(),
                }
            }
            Ok(response) => Answer::Refused {
                status: response.status().as_u16(),
                body: response.text().await.unwrap_or_default(),
            },
        };
        let stop = matches!(answer, Answer::Unanswered);
        answers.push((username, answer));
        if stop {
            break;
        }
    }
    answers
}

/// Fetches `/log/checkpoint` over and over until the server is gone.
async fn poll_checkpoints(
    client: reqwest::Client,
    url: String,
) -> (Vec<String>, Vec<(u16, String)>) {
    let (mut polled, mut failures) = (Vec::new(), Vec::new());
    loop {
        match get_text(&client, &format!("{url}/log/checkpoint")).await {
            Ok(text) => polled.push(text),
            Err(Some(failure)) => failures.push(failure),
            Err(None) => return (polled, failures),
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The log's size and root in the database of a stopped server.
async fn stored_size_and_root(data: &Path) -> (u64, Hash) {
    let store = SqliteStore::open(data.join("registry.sqlite3"))
        .await
        .unwrap();
    let size = store.log_size().await.unwrap();
    let root = store.tree_root(size).await.unwrap();
    store.close().await;
    (size, root)
}

/// Checks what a freshly started server serves: the same root of trust and log key as before, a first
/// checkpoint naming exactly the stored log, and a `timestamp.json` naming that checkpoint with a version
/// above every earlier one. Returns the checkpoint and the timestamp's version.
async fn check_fresh_start(
    server: &common::Server,
    trust: &Trust,
    stored: (u64, Hash),
    last_timestamp_version: u64,
) -> (Checkpoint, u64) {
    let client = http_client();
    let key = get_text(&client, &format!("{}/log/key", server.url))
        .await
        .expect("/log/key is served");
    assert_eq!(key.trim_end(), trust.verifier.to_string());
    let text = get_text(&client, &format!("{}/log/checkpoint", server.url))
        .await
        .expect("a started server serves a checkpoint");
    let checkpoint = trust.checkpoint(&text);
    assert_eq!(
        (checkpoint.size, checkpoint.root),
        stored,
        "the first checkpoint after a restart covers exactly the stored log"
    );
    let timestamp_bytes = get_text(&client, &format!("{}/timestamp.json", server.url))
        .await
        .expect("timestamp.json is served");
    let timestamp: Freshness = trust
        .root
        .verify_metadata(
            timestamp_bytes.as_bytes(),
            Timestamp::now(),
            Some(last_timestamp_version),
        )
        .expect("timestamp.json verifies and does not roll back");
    timestamp
        .check_checkpoint_bytes(text.as_bytes())
        .expect("timestamp.json names the served checkpoint");
    assert!(
        timestamp.version > last_timestamp_version,
        "timestamp.json version {} after a restart, {last_timestamp_version} before",
        timestamp.version
    );
    (checkpoint, timestamp.version)
}

/// One round: start, sign up from [`CLIENTS`] tasks while polling the checkpoint, kill after
/// `kill_delay` past the first confirmed sign-up.
async fn run_round(
    data: &Path,
    trust: &Trust,
    round: u64,
    kill_delay: Duration,
    last_timestamp_version: &mut u64,
) -> Round {
    let stored = stored_size_and_root(data).await;
    let starting = Instant::now();
    let mut server = common::start(data);
    let start_time = starting.elapsed();
    let (first_checkpoint, timestamp_version) =
        check_fresh_start(&server, trust, stored, *last_timestamp_version).await;
    *last_timestamp_version = timestamp_version;

    let client = http_client();
    let (created, mut confirmations) = mpsc::unbounded_channel();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|number| {
            tokio::spawn(sign_up_until_killed(
                client.clone(),
                server.url.clone(),
                format!("r{round}c{number}"),
                created.clone(),
            ))
        })
        .collect();
    drop(created);
    let poller = tokio::spawn(poll_checkpoints(client.clone(), server.url.clone()));

    let signing_up = Instant::now();
    tokio::time::timeout(FIRST_SIGN_UP_DEADLINE, confirmations.recv())
        .await
        .unwrap_or_else(|_| panic!("round {round}: no sign-up was confirmed"))
        .unwrap_or_else(|| panic!("round {round}: every client stopped before a 201"));
    let first_sign_up = signing_up.elapsed();
    // Not waiting for anything: the delay chooses where in the stream of sign-ups the kill lands.
    tokio::time::sleep(kill_delay).await;
    server.child.kill().expect("SIGKILL the server");
    let status = server.child.wait().unwrap();
    assert_eq!(
        status.signal(),
        Some(9),
        "round {round}: the server was running until the SIGKILL ({status})"
    );

    let mut sign_ups = Vec::new();
    for client in clients {
        sign_ups.extend(client.await.unwrap());
    }
    let (polled, poll_failures) = poller.await.unwrap();
    Round {
        start_time,
        first_sign_up,
        size_at_start: stored.0,
        first_checkpoint,
        polled,
        poll_failures,
        sign_ups,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_during_sign_ups_loses_and_duplicates_no_entry_and_checkpoints_stay_consistent() {
    let seed = seed();
    eprintln!("seed {seed} (set {SEED}={seed} to repeat the kill schedule)");
    let mut random = Random(seed);
    let started = Instant::now();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("locara-data");

    // The root of trust, pinned from the first start as a client would.
    let first = common::start(&data);
    let (status, root_bytes) = common::fetch(&format!("{}/root.json", first.url)).await;
    assert_eq!(status, 200);
    let root = Root::load_pinned(&root_bytes, &first.root_digest).unwrap();
    let root_digest = first.root_digest;
    drop(first);
    let log = root.log();
    let trust = Trust {
        origin: log.origin.clone(),
        verifier: log
            .verifier_key
            .parse()
            .expect("root.json names a verifier key"),
        root,
    };

    let mut rounds = Vec::new();
    let mut last_timestamp_version = 0;
    for round in 0..ROUNDS {
        let kill_delay = Duration::from_millis(random.between(0, MAX_KILL_DELAY_MS));
        let seen = run_round(
            &data,
            &trust,
            round,
            kill_delay,
            &mut last_timestamp_version,
        )
        .await;
        eprintln!(
            "round {round}: started in {:?}, first 201 after {:?}, killed {kill_delay:?} later; log {} \
             at start; {} sign-ups attempted, {} confirmed; {} checkpoints polled",
            seen.start_time,
            seen.first_sign_up,
            seen.size_at_start,
            seen.sign_ups.len(),
            seen.sign_ups
                .iter()
                .filter(|(_, answer)| matches!(answer, Answer::Created { .. }))
                .count(),
            seen.polled.len()
        );
        rounds.push(seen);
    }

    // A last start without load: it covers the whole log, and its proofs link every checkpoint seen.
    let stored = stored_size_and_root(&data).await;
    let server = common::start(&data);
    assert_eq!(server.root_digest, root_digest, "restarts keep root.json");
    let (final_checkpoint, _) =
        check_fresh_start(&server, &trust, stored, last_timestamp_version).await;
    let mut checkpoints: BTreeMap<u64, Hash> = BTreeMap::new();
    let mut remember = |checkpoint: &Checkpoint| {
        let root = *checkpoints
            .entry(checkpoint.size)
            .or_insert(checkpoint.root);
        assert_eq!(
            root, checkpoint.root,
            "two checkpoints of size {} name different roots",
            checkpoint.size
        );
    };
    remember(&final_checkpoint);

    // Per round: checkpoints never go back in time order, and a 201 is covered by the next checkpoint.
    let mut confirmed: BTreeMap<String, Option<u64>> = BTreeMap::new();
    let mut unanswered: BTreeSet<String> = BTreeSet::new();
    let mut previous_round_largest = 0;
    for (round, seen) in rounds.iter().enumerate() {
        assert!(
            seen.poll_failures.is_empty(),
            "round {round}: /log/checkpoint failed while the server was up: {:?}",
            seen.poll_failures
        );
        assert_eq!(seen.first_checkpoint.size, seen.size_at_start);
        assert!(seen.size_at_start >= previous_round_largest);
        remember(&seen.first_checkpoint);
        let mut largest = seen.first_checkpoint.size;
        for text in &seen.polled {
            let checkpoint = trust.checkpoint(text);
            assert!(
                checkpoint.size >= largest,
                "round {round}: the poller was served size {} after size {largest}",
                checkpoint.size
            );
            largest = checkpoint.size;
            remember(&checkpoint);
        }
        for (username, answer) in &seen.sign_ups {
            match answer {
                Answer::Created { checkpoint } => {
                    let covered = checkpoint.as_ref().map(|text| {
                        let checkpoint = trust.checkpoint(text);
                        remember(&checkpoint);
                        largest = largest.max(checkpoint.size);
                        checkpoint.size
                    });
                    assert!(
                        confirmed.insert(username.clone(), covered).is_none(),
                        "{username} was attempted twice"
                    );
                }
                Answer::Unanswered => {
                    unanswered.insert(username.clone());
                }
                Answer::Refused { status, body } => {
                    panic!("round {round}: sign-up of {username} got {status}: {body}")
                }
            }
        }
        previous_round_largest = largest;
    }
    assert!(!confirmed.is_empty());

    // The HTTP consistency proofs, from every checkpoint seen to the final one, verify as a client
    // verifies them.
    let client = http_client();
    for (&size, old_root) in &checkpoints {
        let body = get_text(
            &client,
            &format!(
                "{}/log/proof/consistency?first={size}&second={}",
                server.url, final_checkpoint.size
            ),
        )
        .await
        .unwrap_or_else(|failure| panic!("consistency proof from {size}: {failure:?}"));
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let proof: Vec<Hash> = body["hashes"]
            .as_array()
            .expect("a consistency proof lists hashes")
            .iter()
            .map(|hash| Hash::from_base64(hash.as_str().unwrap()).unwrap())
            .collect();
        verify_consistency(
            size,
            final_checkpoint.size,
            old_root,
            &final_checkpoint.root,
            &proof,
        )
        .unwrap_or_else(|error| {
            panic!(
                "the checkpoint of size {size} is not consistent with the final size {}: {error}",
                final_checkpoint.size
            )
        });
    }

    // The tiles of the final tree and the entry bundles behind its level-0 tiles, as served.
    let mut served_tiles = Vec::new();
    for tile in tiles_for_tree(final_checkpoint.size) {
        let mut wanted = vec![tile];
        if tile.kind == (TileKind::Hashes { level: 0 }) {
            wanted.push(tile.entries());
        }
        for tile in wanted {
            let (status, bytes) =
                common::fetch(&format!("{}/log/{}", server.url, tile.path())).await;
            assert_eq!(status, 200, "tile {tile} of the final tree");
            served_tiles.push((tile, bytes));
        }
    }
    drop(server);

    // The database, with the server stopped.
    let store = SqliteStore::open(data.join("registry.sqlite3"))
        .await
        .unwrap();
    let size = store.log_size().await.unwrap();
    assert_eq!(size, final_checkpoint.size);
    let entries = store.log_entries(0..size).await.unwrap();
    assert_eq!(
        entries.len() as u64,
        size,
        "the log holds exactly indexes 0..{size}"
    );
    let leaves: Vec<Hash> = entries.iter().map(|entry| leaf_hash(entry)).collect();
    assert_eq!(
        root_from_leaf_hashes(&leaves),
        store.tree_root(size).await.unwrap(),
        "the stored hashes are the hashes of the stored entries"
    );

    // Tiles are derived from the database and agree with it.
    for (tile, bytes) in &served_tiles {
        let first = usize::try_from(tile.index).unwrap() * 256;
        let width = usize::from(tile.width);
        match tile.kind {
            TileKind::Entries => assert_eq!(
                decode_entry_bundle(bytes, tile.width).unwrap(),
                entries[first..first + width]
                    .iter()
                    .map(Vec::as_slice)
                    .collect::<Vec<_>>(),
                "entry bundle {tile}"
            ),
            TileKind::Hashes { level } => {
                assert_eq!(
                    bytes,
                    &store.hash_tile_data(tile).await.unwrap(),
                    "tile {tile}"
                );
                if level == 0 {
                    let expected: Vec<u8> = leaves[first..first + width]
                        .iter()
                        .flat_map(|hash| hash.as_bytes().to_vec())
                        .collect();
                    assert_eq!(
                        bytes, &expected,
                        "tile {tile} holds the entries' leaf hashes"
                    );
                }
            }
        }
    }

    // Every pair of checkpoints, in size order, is consistent (proofs from the store this time).
    let ordered: Vec<(u64, Hash)> = checkpoints
        .iter()
        .map(|(&size, &root)| (size, root))
        .collect();
    for pair in ordered.windows(2) {
        let ((old_size, old_root), (new_size, new_root)) = (pair[0], pair[1]);
        assert_eq!(old_root, store.tree_root(old_size).await.unwrap());
        let proof = store.consistency_proof(old_size, new_size).await.unwrap();
        verify_consistency(old_size, new_size, &old_root, &new_root, &proof).unwrap_or_else(
            |error| panic!("checkpoints of sizes {old_size} and {new_size} disagree: {error}"),
        );
    }

    // Entries: each a user's publisher.created, no username twice, none that no client asked for.
    let mut logged: BTreeMap<String, u64> = BTreeMap::new();
    for (index, bytes) in (0..).zip(&entries) {
        let entry = LogEntry::from_bytes(bytes)
            .unwrap_or_else(|error| panic!("entry {index} does not parse: {error}"));
        let Event::PublisherCreated {
            publisher,
            kind,
            by,
        } = entry.event
        else {
            panic!("entry {index} is not publisher.created: {:?}", entry.event);
        };
        assert_eq!((kind.as_str(), by.as_str()), ("user", publisher.as_str()));
        if let Some(earlier) = logged.insert(publisher.clone(), index) {
            panic!("{publisher} is in the log twice, at {earlier} and {index}");
        }
        assert!(
            confirmed.contains_key(&publisher) || unanswered.contains(&publisher),
            "entry {index} is for {publisher}, whose sign-up was not attempted"
        );
    }
    for (username, covered) in &confirmed {
        let index = logged
            .get(username)
            .unwrap_or_else(|| panic!("{username} got a 201 but is not in the log"));
        if let Some(covered) = covered {
            assert!(
                index < covered,
                "{username} is entry {index}, but the checkpoint served after its 201 has size {covered}"
            );
        }
    }

    // The account rows were written with the entries: a publisher exists exactly when it is logged.
    let publishers: BTreeSet<String> = store.publisher_names().await.unwrap().into_iter().collect();
    let logged_names: BTreeSet<String> = logged.keys().cloned().collect();
    assert_eq!(publishers, logged_names);
    for username in &unanswered {
        assert_eq!(
            store.account_by_username(username).await.unwrap().is_some(),
            logged.contains_key(username),
            "{username}: the account and its log entry are written together"
        );
    }
    store.close().await;

    let in_doubt = unanswered.len();
    let in_doubt_logged = unanswered
        .iter()
        .filter(|name| logged.contains_key(*name))
        .count();
    eprintln!(
        "log {size} entries; {} confirmed sign-ups; {in_doubt} without an answer, {in_doubt_logged} of \
         them committed; {} distinct checkpoint sizes; {:?}",
        confirmed.len(),
        checkpoints.len(),
        started.elapsed()
    );
}
