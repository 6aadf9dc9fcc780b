//! timestamp.json: signed by the timestamp role, short-lived, and never rolling back what it names.

mod common;

use common::{at, key, now};

use locara_core::digest::Digest;
use locara_core::keys::SigningKey;
use locara_core::root::{
    CheckpointReference, Freshness, FreshnessError, MetadataError, RevocationsReference, Role,
    Root, RootMetadata, TIMESTAMP_TYPE, verify_freshness,
};
use serde_json::Value;

fn root() -> Root {
    let one = |seed: u8| vec![key(seed).public_key().clone()];
    let metadata = RootMetadata::new(
        1,
        at("2027-11-24T12:00:00Z"),
        [
            (Role::Root, one(1), 1),
            (Role::Log, one(20), 1),
            (Role::Builder, one(30), 1),
            (Role::Index, one(40), 1),
            (Role::Security, one(50), 1),
            (Role::Timestamp, one(60), 1),
        ],
        common::log_entry(),
    );
    Root::load_trusted(&metadata.sign(&[&key(1)]).unwrap()).unwrap()
}

const REVOCATIONS_FILE: &[u8] = b"{\"signatures\":[],\"signed\":{\"version\":12}}";
const CHECKPOINT_NOTE: &[u8] = b"registry.locara.example/log\n1000\nAAAA\n";

fn freshness(version: u64, checkpoint_size: u64, revocations_version: u64) -> Freshness {
    Freshness::new(
        version,
        at("2026-11-25T12:00:00Z"),
        CheckpointReference {
            size: checkpoint_size,
            digest: Digest::of_bytes(CHECKPOINT_NOTE),
        },
        RevocationsReference {
            version: revocations_version,
            digest: Digest::of_bytes(REVOCATIONS_FILE),
        },
    )
}

fn signed(document: &Freshness, signer: &SigningKey) -> Vec<u8> {
    document.sign(&[signer]).unwrap()
}

#[test]
fn timestamp_json_signed_by_the_timestamp_role_verifies() {
    let bytes = signed(&freshness(3, 1000, 12), &key(60));
    let verified = verify_freshness(&root(), &bytes, now(), None).unwrap();
    assert_eq!(verified, freshness(3, 1000, 12));
    verified.check_revocations_bytes(REVOCATIONS_FILE).unwrap();
    verified.check_checkpoint_bytes(CHECKPOINT_NOTE).unwrap();

    let value: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(value["signed"]["_type"], TIMESTAMP_TYPE);
    assert_eq!(value["signed"]["checkpoint"]["size"], 1000);
    assert_eq!(value["signed"]["revocations"]["version"], 12);
}

#[test]
fn expired_timestamp_json_is_refused() {
    let bytes = signed(&freshness(3, 1000, 12), &key(60));
    assert!(matches!(
        verify_freshness(&root(), &bytes, at("2026-11-25T12:00:00Z"), None),
        Err(FreshnessError::Metadata(MetadataError::Expired {
            version: 3,
            ..
        }))
    ));
}

#[test]
fn timestamp_json_signed_by_another_role_is_refused() {
    for other in [key(50), key(1), key(20)] {
        let bytes = signed(&freshness(3, 1000, 12), &other);
        assert!(matches!(
            verify_freshness(&root(), &bytes, now(), None),
            Err(FreshnessError::Metadata(MetadataError::ThresholdNotMet {
                role: Role::Timestamp,
                ..
            }))
        ));
    }
}

#[test]
fn an_older_timestamp_json_is_refused() {
    let last = freshness(3, 1000, 12);
    let bytes = signed(&freshness(2, 1000, 12), &key(60));
    assert!(matches!(
        verify_freshness(&root(), &bytes, now(), Some(&last)),
        Err(FreshnessError::Metadata(MetadataError::Rollback {
            last_seen: 3,
            found: 2,
            ..
        }))
    ));
}

#[test]
fn timestamp_json_rolling_back_the_revocation_list_version_is_refused() {
    let last = freshness(3, 1000, 12);
    let bytes = signed(&freshness(4, 1000, 11), &key(60));
    let error = verify_freshness(&root(), &bytes, now(), Some(&last)).unwrap_err();
    assert!(matches!(
        error,
        FreshnessError::RevocationsRollback {
            last_seen: 12,
            found: 11
        }
    ));
    assert!(error.to_string().contains("11") && error.to_string().contains("12"));
}

#[test]
fn timestamp_json_naming_another_file_for_a_seen_revocation_version_is_refused() {
    let last = freshness(3, 1000, 12);
    let mut changed = freshness(4, 1000, 12);
    changed.revocations.digest = Digest::of_bytes(b"a different list with the same version");
    let bytes = signed(&changed, &key(60));
    assert!(matches!(
        verify_freshness(&root(), &bytes, now(), Some(&last)),
        Err(FreshnessError::RevocationsChanged { version: 12, .. })
    ));
}

#[test]
fn timestamp_json_naming_a_smaller_checkpoint_is_refused() {
    let last = freshness(3, 1000, 12);
    let bytes = signed(&freshness(4, 999, 12), &key(60));
    assert!(matches!(
        verify_freshness(&root(), &bytes, now(), Some(&last)),
        Err(FreshnessError::CheckpointRollback {
            last_seen: 1000,
            found: 999
        })
    ));
}

#[test]
fn newer_timestamp_json_is_accepted_over_the_last_one() {
    let last = freshness(3, 1000, 12);
    for (version, size, revocations) in [(3, 1000, 12), (4, 1000, 12), (5, 1200, 13)] {
        let mut next = freshness(version, size, revocations);
        if revocations != 12 {
            next.revocations.digest = Digest::of_bytes(b"list 13");
        }
        verify_freshness(&root(), &signed(&next, &key(60)), now(), Some(&last)).unwrap();
    }
}

#[test]
fn files_other_than_the_named_ones_are_refused() {
    let named = freshness(3, 1000, 12);
    match named.check_revocations_bytes(b"a stale list") {
        Err(FreshnessError::DigestMismatch {
            file,
            expected,
            found,
        }) => {
            assert_eq!(file, "revocation list");
            assert_eq!(expected, Digest::of_bytes(REVOCATIONS_FILE));
            assert_eq!(found, Digest::of_bytes(b"a stale list"));
        }
        other => panic!("expected a digest error, got {other:?}"),
    }
    assert!(matches!(
        named.check_checkpoint_bytes(b"another checkpoint"),
        Err(FreshnessError::DigestMismatch {
            file: "checkpoint",
            ..
        })
    ));
}
