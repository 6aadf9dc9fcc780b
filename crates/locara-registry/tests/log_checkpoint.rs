//! Checkpoints signed over a real SQLite log: they verify under the log key, name the store's root, are
//! not re-signed while the log is unchanged, and each is consistent with the one before.

use locara_core::log::{SignerKey, verify_checkpoint, verify_consistency};
use locara_registry::log::checkpoint_current_size;
use locara_store::{MetadataStore, SqliteStore};

const ORIGIN: &str = "registry.test/log";

#[tokio::test]
async fn checkpoints_follow_the_log_and_stay_consistent() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("registry.sqlite3"))
        .await
        .unwrap();
    let signer = SignerKey::from_seed(ORIGIN, &[42; 32]).unwrap();
    let verifier = signer.verifier().clone();

    let empty = checkpoint_current_size(&store, ORIGIN, &signer)
        .await
        .unwrap();
    let mut previous = verify_checkpoint(empty.as_bytes(), ORIGIN, &verifier).unwrap();
    assert_eq!(previous.size, 0);

    for batch in [3usize, 1, 17, 60] {
        let entries = (0..batch)
            .map(|n| format!("{{\"entry\":{n},\"batch\":{batch}}}").into_bytes())
            .collect();
        store.append_log_entries(entries).await.unwrap();
        let text = checkpoint_current_size(&store, ORIGIN, &signer)
            .await
            .unwrap();
        let checkpoint = verify_checkpoint(text.as_bytes(), ORIGIN, &verifier).unwrap();
        assert_eq!(checkpoint.size, store.log_size().await.unwrap());
        assert_eq!(
            checkpoint.root,
            store.tree_root(checkpoint.size).await.unwrap()
        );
        let proof = store
            .consistency_proof(previous.size, checkpoint.size)
            .await
            .unwrap();
        verify_consistency(
            previous.size,
            checkpoint.size,
            &previous.root,
            &checkpoint.root,
            &proof,
        )
        .unwrap();
        assert_eq!(
            checkpoint_current_size(&store, ORIGIN, &signer)
                .await
                .unwrap(),
            text,
            "an unchanged log keeps its checkpoint"
        );
        assert_eq!(store.latest_checkpoint().await.unwrap().unwrap().text, text);
        previous = checkpoint;
    }

    // A checkpoint signed by another key does not verify under the log's key.
    let other = SignerKey::from_seed(ORIGIN, &[43; 32]).unwrap();
    let store_b = SqliteStore::open(dir.path().join("other.sqlite3"))
        .await
        .unwrap();
    let forged = checkpoint_current_size(&store_b, ORIGIN, &other)
        .await
        .unwrap();
    assert!(verify_checkpoint(forged.as_bytes(), ORIGIN, &verifier).is_err());
}
