//! Revocation lists: signed by the security role, fresh, never rolled back, and queried by release.

mod common;

use common::{at, key, now};

use locara_core::digest::Digest;
use locara_core::keys::SigningKey;
use locara_core::names::AppName;
use locara_core::revocation::{
    REVOCATIONS_TYPE, Revocation, RevocationError, RevocationList, verify_revocation_list,
};
use locara_core::root::{MetadataError, Role, Root, RootMetadata, SignedMetadata};
use locara_core::time::Timestamp;
use locara_core::version::Version;
use serde_json::{Value, json};

fn tomorrow() -> Timestamp {
    at("2026-11-25T12:00:00Z")
}

/// A root whose security role is keys 50 and 51 with `security_threshold`; the root role is key 1.
fn root(security_threshold: u32) -> Root {
    let one = |seed: u8| vec![key(seed).public_key().clone()];
    let metadata = RootMetadata::new(
        1,
        at("2027-11-24T12:00:00Z"),
        [
            (Role::Root, one(1), 1),
            (Role::Log, one(20), 1),
            (Role::Builder, one(30), 1),
            (Role::Index, one(40), 1),
            (
                Role::Security,
                vec![key(50).public_key().clone(), key(51).public_key().clone()],
                security_threshold,
            ),
            (Role::Timestamp, one(60), 1),
        ],
        common::log_entry(),
    );
    Root::load_trusted(&metadata.sign(&[&key(1)]).unwrap()).unwrap()
}

fn app() -> AppName {
    "acme/notes-search".parse().unwrap()
}

fn version(text: &str) -> Version {
    text.parse().unwrap()
}

fn revocation() -> Revocation {
    Revocation {
        app: app(),
        version: version("1.4.2"),
        artifact: Digest::of_bytes(b"malicious artifact"),
        reason: "steals SSH keys".to_owned(),
        revoked_at: at("2026-11-24T11:00:00Z"),
        advisory: Some("LOCARA-2026-0001".to_owned()),
    }
}

fn list(list_version: u64, entries: Vec<Revocation>) -> RevocationList {
    RevocationList::new(list_version, tomorrow(), entries)
}

fn signed(list: &RevocationList, keys: &[&SigningKey]) -> Vec<u8> {
    list.sign(keys).unwrap()
}

#[test]
fn a_list_signed_by_the_security_role_verifies_and_answers_queries() {
    let bytes = signed(&list(7, vec![revocation()]), &[&key(50)]);
    let verified = verify_revocation_list(&root(1), &bytes, now(), Some(6)).unwrap();
    assert_eq!(verified, list(7, vec![revocation()]));
    assert_eq!(
        verified.find(&app(), &version("1.4.2")),
        Some(&revocation())
    );
    assert_eq!(verified.find(&app(), &version("1.4.1")), None);
    assert_eq!(
        verified.find_artifact(&revocation().artifact),
        Some(&revocation())
    );
    assert_eq!(
        verified.find_artifact(&Digest::of_bytes(b"good artifact")),
        None
    );
}

#[test]
fn the_list_has_the_documented_shape() {
    let value: Value =
        serde_json::from_slice(&signed(&list(7, vec![revocation()]), &[&key(50)])).unwrap();
    assert_eq!(
        value["signed"],
        json!({
            "_type": REVOCATIONS_TYPE,
            "spec_version": "1",
            "version": 7,
            "expires": "2026-11-25T12:00:00Z",
            "entries": [{
                "app": "acme/notes-search",
                "version": "1.4.2",
                "artifact": revocation().artifact.to_string(),
                "reason": "steals SSH keys",
                "revoked_at": "2026-11-24T11:00:00Z",
                "advisory": "LOCARA-2026-0001"
            }]
        })
    );
    let without_advisory = Revocation {
        advisory: None,
        ..revocation()
    };
    let value: Value = serde_json::from_slice(&signed(
        &list(7, vec![without_advisory.clone()]),
        &[&key(50)],
    ))
    .unwrap();
    assert!(value["signed"]["entries"][0].get("advisory").is_none());
    let verified =
        verify_revocation_list(&root(1), &serde_json::to_vec(&value).unwrap(), now(), None)
            .unwrap();
    assert_eq!(verified.entries, vec![without_advisory]);
}

#[test]
fn a_list_signed_by_another_role_is_refused() {
    // The timestamp key and the root key are trusted for other things, not for revocations.
    for signer in [key(60), key(1)] {
        let bytes = signed(&list(7, vec![revocation()]), &[&signer]);
        match verify_revocation_list(&root(1), &bytes, now(), None) {
            Err(RevocationError::Metadata(MetadataError::ThresholdNotMet {
                role, tally, ..
            })) => {
                assert_eq!(role, Role::Security);
                assert_eq!(tally.unknown, vec![signer.key_id().hex()]);
            }
            other => panic!("expected a threshold error, got {other:?}"),
        }
    }
}

#[test]
fn a_list_below_the_security_threshold_is_refused() {
    let one = signed(&list(7, vec![revocation()]), &[&key(50), &key(50)]);
    assert!(matches!(
        verify_revocation_list(&root(2), &one, now(), None),
        Err(RevocationError::Metadata(MetadataError::ThresholdNotMet {
            threshold: 2,
            ..
        }))
    ));
    let two = signed(&list(7, vec![revocation()]), &[&key(50), &key(51)]);
    verify_revocation_list(&root(2), &two, now(), None).unwrap();
}

#[test]
fn a_list_with_an_entry_removed_after_signing_is_refused() {
    let mut value: Value =
        serde_json::from_slice(&signed(&list(7, vec![revocation()]), &[&key(50)])).unwrap();
    value["signed"]["entries"] = json!([]);
    assert!(matches!(
        verify_revocation_list(&root(1), &serde_json::to_vec(&value).unwrap(), now(), None),
        Err(RevocationError::Metadata(
            MetadataError::ThresholdNotMet { .. }
        ))
    ));
}

#[test]
fn an_expired_list_is_refused() {
    let bytes = signed(&list(7, vec![revocation()]), &[&key(50)]);
    let just_before = tomorrow().checked_sub_seconds(1).unwrap();
    verify_revocation_list(&root(1), &bytes, just_before, None).unwrap();
    for late in [tomorrow(), at("2030-01-01T00:00:00Z")] {
        match verify_revocation_list(&root(1), &bytes, late, None) {
            Err(RevocationError::Metadata(MetadataError::Expired {
                version: 7,
                expires,
                now,
                ..
            })) => {
                assert_eq!((expires, now), (tomorrow(), late));
            }
            other => panic!("expected an expiry error, got {other:?}"),
        }
    }
}

#[test]
fn a_list_older_than_one_seen_before_is_refused_naming_both_versions() {
    let bytes = signed(&list(6, vec![]), &[&key(50)]);
    let error = verify_revocation_list(&root(1), &bytes, now(), Some(7)).unwrap_err();
    assert!(matches!(
        error,
        RevocationError::Metadata(MetadataError::Rollback {
            last_seen: 7,
            found: 6,
            ..
        })
    ));
    let message = error.to_string();
    assert!(
        message.contains("version 6") && message.contains("version 7"),
        "{message}"
    );
    // The same version again, or a newer one, is fine.
    verify_revocation_list(&root(1), &bytes, now(), Some(6)).unwrap();
    verify_revocation_list(&root(1), &bytes, now(), Some(5)).unwrap();
}

#[test]
fn a_list_naming_one_release_twice_is_refused() {
    let again = Revocation {
        reason: "also".to_owned(),
        ..revocation()
    };
    let bytes = signed(&list(7, vec![revocation(), again]), &[&key(50)]);
    assert!(matches!(
        verify_revocation_list(&root(1), &bytes, now(), None),
        Err(RevocationError::DuplicateEntry {
            list_version: 7,
            ..
        })
    ));
}

#[test]
fn another_document_signed_by_the_security_key_is_not_a_revocation_list() {
    let mut value = serde_json::to_value(list(7, vec![])).unwrap();
    value["_type"] = json!("timestamp");
    let mut document = SignedMetadata::new(&value).unwrap();
    document.sign(&key(50));
    assert!(matches!(
        verify_revocation_list(&root(1), &document.to_json(), now(), None),
        Err(RevocationError::Metadata(MetadataError::WrongType { expected, found }))
            if expected == REVOCATIONS_TYPE && found == "timestamp"
    ));
}

#[test]
fn a_list_with_unknown_members_or_another_spec_version_is_refused() {
    for (member, content) in [
        ("unrevoke", json!(["acme/notes-search@1.4.2"])),
        ("spec_version", json!("2")),
    ] {
        let mut value = serde_json::to_value(list(7, vec![])).unwrap();
        value[member] = content;
        let mut document = SignedMetadata::new(&value).unwrap();
        document.sign(&key(50));
        let result = verify_revocation_list(&root(1), &document.to_json(), now(), None);
        assert!(
            matches!(
                result,
                Err(RevocationError::Metadata(
                    MetadataError::Malformed(_) | MetadataError::UnsupportedSpecVersion { .. }
                ))
            ),
            "{member}: {result:?}"
        );
    }
}

#[test]
fn a_newer_list_that_forgets_a_revocation_can_be_detected() {
    let older = list(7, vec![revocation()]);
    let newer = list(8, vec![]);
    assert_eq!(newer.dropped_since(&older), vec![&revocation()]);
    assert!(list(8, vec![revocation()]).dropped_since(&older).is_empty());
}
