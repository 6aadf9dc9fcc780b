//! `timestamp.json` and `revocations.json` as a client sees them: signed by the root's timestamp and
//! security roles, naming exactly the served checkpoint and list, re-signed on schedule, never rolled back
//! across restarts.

mod common;

use std::time::{Duration, Instant};

use locara_core::revocation::verify_revocation_list;
use locara_core::root::{Freshness, Root};
use locara_core::time::Timestamp;

struct View {
    timestamp: Freshness,
    timestamp_bytes: Vec<u8>,
}

async fn view(url: &str, root: &Root) -> View {
    let (status, timestamp_bytes) = common::fetch(&format!("{url}/timestamp.json")).await;
    assert_eq!(status, 200);
    let timestamp: Freshness = root
        .verify_metadata(&timestamp_bytes, Timestamp::now(), None)
        .expect("timestamp.json verifies under the timestamp role");
    let (_, checkpoint) = common::fetch(&format!("{url}/log/checkpoint")).await;
    timestamp.check_checkpoint_bytes(&checkpoint).unwrap();
    let (status, revocations) = common::fetch(&format!("{url}/revocations.json")).await;
    assert_eq!(status, 200);
    timestamp.check_revocations_bytes(&revocations).unwrap();
    let list = verify_revocation_list(root, &revocations, Timestamp::now(), None)
        .expect("revocations.json verifies under the security role");
    assert_eq!(list.version, timestamp.revocations.version);
    assert!(list.entries.is_empty());
    View {
        timestamp,
        timestamp_bytes,
    }
}

#[tokio::test]
async fn timestamp_and_revocations_verify_are_resigned_and_never_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("locara-data");
    let server = common::start_with(
        &data,
        &[("LOCARA_REGISTRY_TIMESTAMP_INTERVAL_SECONDS", "1")],
    );
    let (_, root_bytes) = common::fetch(&format!("{}/root.json", server.url)).await;
    let root = Root::load_pinned(&root_bytes, &server.root_digest).unwrap();

    let first = view(&server.url, &root).await;
    let now = Timestamp::now().unix_seconds();
    let expires = first.timestamp.expires.unix_seconds();
    assert!(
        expires > now + 23 * 3600 && expires <= now + 24 * 3600 + 5,
        "expires {expires}, now {now}: the default freshness limit is 24 h"
    );

    // Re-signed on schedule: poll (with a deadline) until a newer version is served.
    let deadline = Instant::now() + Duration::from_secs(20);
    let resigned = loop {
        let current = view(&server.url, &root).await;
        if current.timestamp.version > first.timestamp.version {
            break current;
        }
        assert!(
            Instant::now() < deadline,
            "timestamp.json was not re-signed"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_ne!(resigned.timestamp_bytes, first.timestamp_bytes);
    assert_eq!(resigned.timestamp.revocations, first.timestamp.revocations);
    drop(server);

    // A restart continues the version sequence; the unexpired revocation list is kept as it is.
    let again = common::start(&data);
    let after_restart = view(&again.url, &root).await;
    assert!(after_restart.timestamp.version > resigned.timestamp.version);
    assert_eq!(
        after_restart.timestamp.revocations,
        first.timestamp.revocations
    );

    // A client that saw the newer version refuses the older document (a rollback).
    assert!(
        root.verify_metadata::<Freshness>(
            &first.timestamp_bytes,
            Timestamp::now(),
            Some(after_restart.timestamp.version)
        )
        .is_err()
    );
}

#[tokio::test]
async fn a_revocation_list_is_renewed_with_a_higher_version_before_it_expires() {
    use locara_registry::freshness::ensure_revocations;
    use locara_registry::trust::Trust;
    use locara_store::{FsBlobStore, SqliteStore};

    let dir = tempfile::tempdir().unwrap();
    let now: Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
    let trust = Trust::open_or_create(dir.path(), "registry.test/log", 365, now).unwrap();
    let metadata = SqliteStore::open(dir.path().join("registry.sqlite3"))
        .await
        .unwrap();
    let blobs = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let days = |n: u64| now.checked_add_seconds(n * 86_400).unwrap();

    let (first, first_bytes) = ensure_revocations(&trust, &metadata, &blobs, now)
        .await
        .unwrap();
    assert_eq!(first, 1);
    // Plenty of validity left: the same list.
    let (same, same_bytes) = ensure_revocations(&trust, &metadata, &blobs, days(20))
        .await
        .unwrap();
    assert_eq!((same, &same_bytes), (first, &first_bytes));
    // Under a quarter of its 30 days left: a new version, valid from then.
    let (renewed, renewed_bytes) = ensure_revocations(&trust, &metadata, &blobs, days(23))
        .await
        .unwrap();
    assert_eq!(renewed, 2);
    let list = verify_revocation_list(trust.root(), &renewed_bytes, days(50), Some(1)).unwrap();
    assert_eq!(list.version, 2);
    // Even if the served file is lost, the version sequence continues from the database.
    std::fs::remove_dir_all(dir.path().join("blobs")).unwrap();
    let blobs = FsBlobStore::open(dir.path().join("blobs")).await.unwrap();
    let (after_loss, _) = ensure_revocations(&trust, &metadata, &blobs, days(24))
        .await
        .unwrap();
    assert_eq!(after_loss, 3);
}
