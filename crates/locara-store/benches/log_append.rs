//! Log appends per second: [`SqliteStore::append_log_entries`] against a same-run baseline, a bare SQLite
//! `INSERT` transaction with the store's settings (WAL, `synchronous=FULL`, `BEGIN IMMEDIATE`) into a
//! table shaped like `log_entries`, without the size check, the Merkle hashing or the stored hashes.
//!
//! Two shapes: single-entry batches (one committed, fsynced transaction per entry: the registry's real
//! pattern, one sign-up or key change at a time) and batches of 100. Both databases hold the same number of
//! entries before measuring ([`PREFILL`], so the append reads a realistic O(log n) of stored hashes), and
//! samples alternate baseline / store so drift on the machine hits both alike.
//!
//! This is an ignored test in a libtest bench target rather than a criterion target (locara-store has no
//! criterion dev-dependency); run it in release mode, as `bench/registry.sh` does:
//! `cargo test --release -p locara-store --bench log_append -- --ignored --nocapture`.
//! `LOCARA_BENCH_SAMPLES` sets the number of samples (default 15).

use std::path::Path;
use std::time::{Duration, Instant};

use locara_core::events::{Event, LogEntry};
use locara_core::time::Timestamp;
use locara_store::{MetadataStore, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqliteSynchronous};

/// Entries in each database before measuring.
const PREFILL: u64 = 100_000;
/// The batch sizes measured.
const BATCHES: [usize; 2] = [1, 100];
/// Roughly how long one sample of one side takes; the operation count is calibrated to it.
const SAMPLE_TIME: Duration = Duration::from_millis(300);

/// A realistic entry: a user's `publisher.created`, unique per `number` (about 110 bytes).
fn entry(number: u64) -> Vec<u8> {
    LogEntry::new(
        Timestamp::from_unix_seconds(1_790_000_000 + number).unwrap(),
        Event::PublisherCreated {
            publisher: format!("bench-user-{number}"),
            kind: "user".to_owned(),
            by: format!("bench-user-{number}"),
        },
    )
    .to_bytes()
    .unwrap()
}

/// The baseline: a table like `log_entries` in a database with the store's settings.
struct Bare {
    pool: SqlitePool,
    next: u64,
}

impl Bare {
    async fn open(path: &Path) -> Self {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(30));
        let pool = sqlx::sqlite::SqlitePoolOptions::new()
            .max_connections(8)
            .connect_with(options)
            .await
            .unwrap();
        sqlx::query(
            "CREATE TABLE entries (idx INTEGER PRIMARY KEY CHECK (idx >= 0), data BLOB NOT NULL) STRICT",
        )
        .execute(&pool)
        .await
        .unwrap();
        Self { pool, next: 0 }
    }

    /// One transaction inserting `entries`.
    async fn insert(&mut self, entries: &[Vec<u8>]) {
        let mut transaction = self.pool.begin_with("BEGIN IMMEDIATE").await.unwrap();
        for entry in entries {
            sqlx::query("INSERT INTO entries (idx, data) VALUES (?1, ?2)")
                .bind(i64::try_from(self.next).unwrap())
                .bind(entry.as_slice())
                .execute(&mut *transaction)
                .await
                .unwrap();
            self.next += 1;
        }
        transaction.commit().await.unwrap();
    }
}

/// Makes batches of fresh entries.
struct Entries(u64);

impl Entries {
    fn batch(&mut self, size: usize) -> Vec<Vec<u8>> {
        (0..size)
            .map(|_| {
                self.0 += 1;
                entry(self.0)
            })
            .collect()
    }
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// Per-transaction times (median, fastest, slowest sample) of the baseline and the store for one batch size.
struct Measured {
    batch: usize,
    operations_per_sample: u64,
    baseline: Vec<Duration>,
    store: Vec<Duration>,
}

async fn measure(dir: &Path, batch: usize, samples: usize) -> Measured {
    let store = SqliteStore::open(dir.join(format!("store-{batch}.sqlite3")))
        .await
        .unwrap();
    let mut bare = Bare::open(&dir.join(format!("bare-{batch}.sqlite3"))).await;
    let mut entries = Entries(0);
    for _ in 0..PREFILL / 1_000 {
        let prefill = entries.batch(1_000);
        bare.insert(&prefill).await;
        store.append_log_entries(prefill).await.unwrap();
    }

    // Warm up both and calibrate the operation count on the slower side (the store).
    let warm_up = Instant::now();
    let mut operations = 0u64;
    while warm_up.elapsed() < SAMPLE_TIME {
        bare.insert(&entries.batch(batch)).await;
        store
            .append_log_entries(entries.batch(batch))
            .await
            .unwrap();
        operations += 1;
    }
    let operations_per_sample = operations.max(5);

    let (mut baseline, mut appended) = (Vec::new(), Vec::new());
    for _ in 0..samples {
        let batches: Vec<_> = (0..operations_per_sample)
            .map(|_| entries.batch(batch))
            .collect();
        let started = Instant::now();
        for batch in &batches {
            bare.insert(batch).await;
        }
        baseline.push(started.elapsed() / operations_per_sample as u32);

        let batches: Vec<_> = (0..operations_per_sample)
            .map(|_| entries.batch(batch))
            .collect();
        let started = Instant::now();
        for batch in batches {
            store.append_log_entries(batch).await.unwrap();
        }
        appended.push(started.elapsed() / operations_per_sample as u32);
    }
    assert_eq!(
        store.log_size().await.unwrap(),
        bare.next,
        "both sides wrote the same entries"
    );
    store.close().await;
    bare.pool.close().await;
    Measured {
        batch,
        operations_per_sample,
        baseline,
        store: appended,
    }
}

fn per_second(batch: usize, per_transaction: Duration) -> f64 {
    batch as f64 / per_transaction.as_secs_f64()
}

#[test]
#[ignore = "a benchmark: run in release mode with --ignored (see the module docs)"]
fn log_appends_per_second() {
    let samples = std::env::var("LOCARA_BENCH_SAMPLES")
        .map(|value| value.parse().expect("LOCARA_BENCH_SAMPLES is a number"))
        .unwrap_or(15usize);
    assert!(samples >= 1);
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    println!(
        "log appends: {PREFILL} entries in each database first; {samples} samples per side, alternating; \
         times per committed transaction (median [fastest sample, slowest sample])"
    );
    println!(
        "| batch | bare INSERT transaction | SqliteStore::append_log_entries | entries/s, bare | entries/s, store | store ÷ bare (time) |"
    );
    println!("|---|---|---|---|---|---|");
    for batch in BATCHES {
        let measured = runtime.block_on(measure(dir.path(), batch, samples));
        let (bare, store) = (
            median(measured.baseline.clone()),
            median(measured.store.clone()),
        );
        let range = |values: &[Duration]| {
            format!(
                "[{:.3?}, {:.3?}]",
                values.iter().min().unwrap(),
                values.iter().max().unwrap()
            )
        };
        println!(
            "| {} ({} per sample) | {:.3?} {} | {:.3?} {} | {:.0} | {:.0} | {:.2} |",
            measured.batch,
            measured.operations_per_sample,
            bare,
            range(&measured.baseline),
            store,
            range(&measured.store),
            per_second(batch, bare),
            per_second(batch, store),
            store.as_secs_f64() / bare.as_secs_f64(),
        );
    }
}
