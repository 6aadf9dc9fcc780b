//! root.json: structure rules, pinning, self-signature, rotation (each refusal its own error) and chains.

mod common;

use common::{at, key, now};

use locara_core::canonical_json::CanonicalJsonError;
use locara_core::digest::Digest;
use locara_core::keys::SigningKey;
use locara_core::root::{
    LogEntry, MetadataError, Role, Root, RootError, RootMetadata, SignedMetadata, update_root,
    walk_root_chain,
};
use locara_core::time::Timestamp;
use serde_json::{Value, json};

fn next_year() -> Timestamp {
    at("2027-11-24T12:00:00Z")
}

fn log() -> LogEntry {
    common::log_entry()
}

/// A root whose root role is `root_keys` with `threshold`; the other roles have one fixed key each.
fn root_metadata(
    version: u64,
    root_keys: &[&SigningKey],
    threshold: u32,
    expires: Timestamp,
) -> RootMetadata {
    let one = |seed: u8| vec![key(seed).public_key().clone()];
    RootMetadata::new(
        version,
        expires,
        [
            (
                Role::Root,
                root_keys.iter().map(|k| k.public_key().clone()).collect(),
                threshold,
            ),
            (Role::Log, one(20), 1),
            (Role::Builder, one(30), 1),
            (Role::Index, one(40), 1),
            (Role::Security, one(50), 1),
            (Role::Timestamp, one(60), 1),
        ],
        log(),
    )
}

/// Root keys 1, 2, 3 with threshold 2.
fn first_root_keys() -> [SigningKey; 3] {
    [key(1), key(2), key(3)]
}

fn first_root_bytes() -> Vec<u8> {
    let [a, b, c] = first_root_keys();
    root_metadata(1, &[&a, &b, &c], 2, next_year())
        .sign(&[&a, &b])
        .unwrap()
}

fn first_root() -> Root {
    let bytes = first_root_bytes();
    Root::load_pinned(&bytes, &Digest::of_bytes(&bytes)).unwrap()
}

fn sign_value(value: &Value, keys: &[&SigningKey]) -> Vec<u8> {
    let mut document = SignedMetadata::new(value).unwrap();
    for key in keys {
        document.sign(key);
    }
    document.to_json()
}

/// The first root's `signed` object, changed by `mutate`, signed by root keys 1 and 2, then loaded.
fn load_variant(mutate: impl FnOnce(&mut Value)) -> Result<Root, RootError> {
    let [a, b, c] = first_root_keys();
    let mut value = serde_json::to_value(root_metadata(1, &[&a, &b, &c], 2, next_year())).unwrap();
    mutate(&mut value);
    Root::load_trusted(&sign_value(&value, &[&a, &b]))
}

#[test]
fn a_pinned_root_loads_and_exposes_its_roles() {
    let bytes = first_root_bytes();
    let root = Root::load_pinned(&bytes, &Digest::of_bytes(&bytes)).unwrap();
    assert_eq!(root.version(), 1);
    assert_eq!(root.digest(), &Digest::of_bytes(&bytes));
    assert_eq!(root.role_keys(Role::Root).threshold(), 2);
    assert_eq!(root.role_keys(Role::Root).len(), 3);
    assert!(
        root.role_keys(Role::Builder)
            .get(key(30).key_id())
            .is_some()
    );
    assert!(root.role_keys(Role::Builder).get(key(1).key_id()).is_none());
    assert_eq!(root.log(), &log());
    root.check_not_expired(now()).unwrap();
}

#[test]
fn root_json_has_the_tuf_shape() {
    let value: Value = serde_json::from_slice(&first_root_bytes()).unwrap();
    let signed = &value["signed"];
    assert_eq!(signed["_type"], "root");
    assert_eq!(signed["spec_version"], "1");
    assert_eq!(signed["version"], 1);
    assert_eq!(signed["expires"], "2027-11-24T12:00:00Z");
    let id = key(30).key_id().hex();
    assert_eq!(
        signed["keys"][&id],
        json!({"keytype": "ed25519", "public": key(30).public_key().to_string()})
    );
    assert_eq!(
        signed["roles"]["builder"],
        json!({"keyids": [id], "threshold": 1})
    );
    assert_eq!(signed["log"]["origin"], "registry.locara.example/log");
    assert_eq!(value["signatures"].as_array().unwrap().len(), 2);
    assert_eq!(value["signatures"][0]["keyid"], key(1).key_id().hex());
}

#[test]
fn a_root_with_other_bytes_than_the_pin_is_refused() {
    let bytes = first_root_bytes();
    let pinned = Digest::of_bytes(b"the root the user meant");
    assert!(matches!(
        Root::load_pinned(&bytes, &pinned),
        Err(RootError::PinMismatch { expected, found }) if expected == pinned && found == Digest::of_bytes(&bytes)
    ));
}

#[test]
fn a_pretty_printed_root_still_verifies_because_signatures_cover_canonical_json() {
    let pretty =
        serde_json::to_vec_pretty(&serde_json::from_slice::<Value>(&first_root_bytes()).unwrap())
            .unwrap();
    let root = Root::load_pinned(&pretty, &Digest::of_bytes(&pretty)).unwrap();
    assert_eq!(root.metadata(), first_root().metadata());
    // Pinning is by exact bytes: the compact file's digest does not pin the pretty one.
    assert!(Root::load_pinned(&pretty, first_root().digest()).is_err());
}

#[test]
fn a_root_below_its_own_threshold_is_refused() {
    let [a, b, c] = first_root_keys();
    let bytes = root_metadata(1, &[&a, &b, &c], 2, next_year())
        .sign(&[&a])
        .unwrap();
    assert!(matches!(
        Root::load_pinned(&bytes, &Digest::of_bytes(&bytes)),
        Err(RootError::NewThresholdNotMet { version: 1, threshold: 2, valid, .. }) if valid == vec![*a.key_id()]
    ));
}

#[test]
fn a_root_signed_twice_by_one_key_is_still_below_threshold() {
    let [a, b, c] = first_root_keys();
    let bytes = root_metadata(1, &[&a, &b, &c], 2, next_year())
        .sign(&[&a, &a])
        .unwrap();
    assert!(matches!(
        Root::load_trusted(&bytes),
        Err(RootError::NewThresholdNotMet { .. })
    ));
}

#[test]
fn a_root_altered_after_signing_is_refused() {
    let mut value: Value = serde_json::from_slice(&first_root_bytes()).unwrap();
    value["signed"]["roles"]["builder"]["keyids"] = json!([key(1).key_id().hex()]);
    let bytes = serde_json::to_vec(&value).unwrap();
    assert!(matches!(
        Root::load_trusted(&bytes),
        Err(RootError::NewThresholdNotMet { .. })
    ));
}

#[test]
fn a_root_missing_a_role_is_refused() {
    for role in ["root", "log", "builder", "index", "security", "timestamp"] {
        let result = load_variant(|value| {
            value["roles"].as_object_mut().unwrap().remove(role);
        });
        assert!(
            matches!(&result, Err(RootError::MissingRole { role: missing, .. }) if missing.as_str() == role),
            "{role}: {result:?}"
        );
    }
}

#[test]
fn a_root_with_an_unknown_role_is_refused() {
    let result =
        load_variant(|value| value["roles"]["publisher"] = json!({"keyids": [], "threshold": 1}));
    assert!(matches!(
        result,
        Err(RootError::Metadata(MetadataError::Malformed(
            CanonicalJsonError::Schema { .. }
        )))
    ));
}

#[test]
fn a_root_with_a_threshold_outside_one_to_the_number_of_keys_is_refused() {
    for threshold in [0, 2] {
        let result =
            load_variant(|value| value["roles"]["security"]["threshold"] = json!(threshold));
        assert!(
            matches!(result, Err(RootError::ThresholdOutOfRange { role: Role::Security, threshold: t, keys: 1, .. }) if t == threshold),
            "threshold {threshold}"
        );
    }
    let result = load_variant(|value| value["roles"]["security"]["keyids"] = json!([]));
    assert!(matches!(
        result,
        Err(RootError::ThresholdOutOfRange { keys: 0, .. })
    ));
}

#[test]
fn a_root_listing_a_key_under_another_id_is_refused() {
    let result = load_variant(|value| {
        let id = key(30).key_id().hex();
        value["keys"][&id]["public"] = json!(key(31).public_key().to_base64());
    });
    assert!(matches!(
        result,
        Err(RootError::KeyIdMismatch { listed, computed, .. }) if listed == *key(30).key_id() && computed == *key(31).key_id()
    ));
}

#[test]
fn a_root_written_with_bare_base64_keys_still_loads() {
    let root = load_variant(|value| {
        for entry in value["keys"].as_object_mut().unwrap().values_mut() {
            let spelled = entry["public"].as_str().unwrap().to_owned();
            let bare = spelled.strip_prefix("ed25519:").unwrap();
            entry["public"] = json!(bare);
        }
    })
    .unwrap();
    let written_today = first_root();
    for role in Role::ALL {
        assert!(
            root.role_keys(role) == written_today.role_keys(role),
            "{role:?} has other keys when spelled in bare base64"
        );
    }
}

#[test]
fn a_root_with_an_unsupported_or_invalid_key_is_refused() {
    let id = key(30).key_id().hex();
    let result = load_variant(|value| value["keys"][&id]["keytype"] = json!("rsa"));
    assert!(matches!(result, Err(RootError::UnsupportedKeyType { found, .. }) if found == "rsa"));
    let result = load_variant(|value| value["keys"][&id]["public"] = json!("AAAA"));
    assert!(matches!(result, Err(RootError::InvalidKey { .. })));
}

#[test]
fn a_root_role_naming_an_undefined_or_repeated_key_is_refused() {
    let stranger = key(99).key_id().hex();
    let result = load_variant(|value| value["roles"]["index"]["keyids"] = json!([stranger]));
    assert!(matches!(
        result,
        Err(RootError::UnknownRoleKey {
            role: Role::Index,
            ..
        })
    ));
    let builder = key(30).key_id().hex();
    let result = load_variant(|value| {
        value["roles"]["builder"] = json!({"keyids": [builder, builder], "threshold": 2})
    });
    assert!(matches!(
        result,
        Err(RootError::DuplicateRoleKey {
            role: Role::Builder,
            ..
        })
    ));
}

#[test]
fn a_root_with_an_empty_log_entry_is_refused() {
    let result = load_variant(|value| value["log"]["verifier_key"] = json!(""));
    assert!(matches!(
        result,
        Err(RootError::EmptyLogField {
            field: "verifier_key",
            ..
        })
    ));
    let result = load_variant(|value| value["log"]["origin"] = json!(" "));
    assert!(matches!(
        result,
        Err(RootError::EmptyLogField {
            field: "origin",
            ..
        })
    ));
}

#[test]
fn a_root_with_unknown_members_other_types_or_spec_versions_is_refused() {
    let result = load_variant(|value| value["mirrors"] = json!(["https://evil.example"]));
    assert!(matches!(
        result,
        Err(RootError::Metadata(MetadataError::Malformed(_)))
    ));
    let result = load_variant(|value| value["_type"] = json!("revocations"));
    assert!(
        matches!(result, Err(RootError::Metadata(MetadataError::WrongType { found, .. })) if found == "revocations")
    );
    let result = load_variant(|value| value["spec_version"] = json!("2"));
    assert!(
        matches!(result, Err(RootError::Metadata(MetadataError::UnsupportedSpecVersion { found, .. })) if found == "2")
    );
}

#[test]
fn a_root_file_with_duplicate_members_or_floats_is_refused() {
    let text = String::from_utf8(first_root_bytes()).unwrap();
    let duplicated = text.replacen("\"version\":1", "\"version\":1,\"version\":2", 1);
    assert!(matches!(
        Root::load_trusted(duplicated.as_bytes()),
        Err(RootError::Metadata(MetadataError::Malformed(
            CanonicalJsonError::DuplicateKey { .. }
        )))
    ));
    let float = text.replacen("\"version\":1", "\"version\":1.0", 1);
    assert!(matches!(
        Root::load_trusted(float.as_bytes()),
        Err(RootError::Metadata(MetadataError::Malformed(
            CanonicalJsonError::Number { .. }
        )))
    ));
}

#[test]
fn an_expired_root_is_reported_as_expired() {
    let root = first_root();
    assert!(matches!(
        root.check_not_expired(next_year()),
        Err(RootError::Expired { version: 1, expires, now }) if expires == next_year() && now == next_year()
    ));
}

// Rotation.

fn second_root_bytes(new_keys: &[&SigningKey], threshold: u32, signers: &[&SigningKey]) -> Vec<u8> {
    root_metadata(2, new_keys, threshold, next_year())
        .sign(signers)
        .unwrap()
}

#[test]
fn root_rotation_signed_by_old_and_new_thresholds_is_accepted() {
    let [a, b, c] = first_root_keys();
    let (d, e) = (key(4), key(5));
    // Replace key 3 by keys 4 and 5; threshold stays 2. Old threshold: a, b. New threshold: d, e.
    let bytes = second_root_bytes(&[&a, &b, &d, &e], 2, &[&a, &b, &d, &e]);
    let second = update_root(&first_root(), &bytes, now()).unwrap();
    assert_eq!(second.version(), 2);
    assert_eq!(second.role_keys(Role::Root).len(), 4);
    assert!(second.role_keys(Role::Root).get(c.key_id()).is_none());
    assert_eq!(second.digest(), &Digest::of_bytes(&bytes));
}

#[test]
fn root_rotation_to_entirely_new_keys_needs_both_key_sets() {
    let [a, b, _] = first_root_keys();
    let (x, y) = (key(7), key(8));
    let bytes = second_root_bytes(&[&x, &y], 2, &[&a, &b, &x, &y]);
    let second = update_root(&first_root(), &bytes, now()).unwrap();
    // Root 3 needs only root 2's keys: the old keys are retired.
    let third = root_metadata(3, &[&x, &y], 2, next_year())
        .sign(&[&x, &y])
        .unwrap();
    assert_eq!(update_root(&second, &third, now()).unwrap().version(), 3);
}

#[test]
fn root_rotation_without_old_threshold_is_refused() {
    let [a, _, _] = first_root_keys();
    let (x, y) = (key(7), key(8));
    // Only one old key (threshold 2) signed: an attacker holding one old key and the new keys.
    let bytes = second_root_bytes(&[&x, &y], 2, &[&a, &x, &y]);
    match update_root(&first_root(), &bytes, now()) {
        Err(RootError::OldThresholdNotMet {
            version: 2,
            threshold: 2,
            valid,
            trusted,
        }) => {
            assert_eq!(valid, vec![*a.key_id()]);
            assert_eq!(trusted.len(), 3);
        }
        other => panic!("expected an old-threshold error, got {other:?}"),
    }
}

#[test]
fn root_rotation_without_new_threshold_is_refused() {
    let [a, b, _] = first_root_keys();
    let (x, y) = (key(7), key(8));
    // The old keys sign a root naming keys that never signed it (they might not even exist).
    let bytes = second_root_bytes(&[&x, &y], 2, &[&a, &b, &x]);
    match update_root(&first_root(), &bytes, now()) {
        Err(RootError::NewThresholdNotMet {
            version: 2,
            threshold: 2,
            valid,
            ..
        }) => {
            assert_eq!(valid, vec![*x.key_id()]);
        }
        other => panic!("expected a new-threshold error, got {other:?}"),
    }
}

#[test]
fn root_rollback_is_refused() {
    let [a, b, c] = first_root_keys();
    let second = update_root(
        &first_root(),
        &second_root_bytes(&[&a, &b, &c], 2, &[&a, &b]),
        now(),
    )
    .unwrap();
    assert!(matches!(
        update_root(&second, &first_root_bytes(), now()),
        Err(RootError::Rollback {
            trusted: 2,
            found: 1
        })
    ));
}

#[test]
fn root_rotation_to_the_same_version_is_refused() {
    let [a, b, c] = first_root_keys();
    let same_version = root_metadata(1, &[&a, &b, &c], 2, at("2028-01-01T00:00:00Z"))
        .sign(&[&a, &b, &c])
        .unwrap();
    assert!(matches!(
        update_root(&first_root(), &same_version, now()),
        Err(RootError::SameVersion { version: 1 })
    ));
}

#[test]
fn root_rotation_that_skips_a_version_is_refused() {
    let [a, b, c] = first_root_keys();
    let third = root_metadata(3, &[&a, &b, &c], 2, next_year())
        .sign(&[&a, &b, &c])
        .unwrap();
    let error = update_root(&first_root(), &third, now()).unwrap_err();
    assert!(matches!(
        error,
        RootError::SkippedVersion {
            trusted: 1,
            found: 3
        }
    ));
    assert!(error.to_string().contains("must be 2"), "{error}");
}

#[test]
fn root_rotation_to_an_expired_root_is_refused() {
    let [a, b, c] = first_root_keys();
    let expired = root_metadata(2, &[&a, &b, &c], 2, at("2026-01-01T00:00:00Z"))
        .sign(&[&a, &b])
        .unwrap();
    assert!(matches!(
        update_root(&first_root(), &expired, now()),
        Err(RootError::Expired { version: 2, .. })
    ));
}

#[test]
fn root_rotation_to_a_malformed_root_is_refused() {
    assert!(matches!(
        update_root(&first_root(), b"{\"signed\":{}}", now()),
        Err(RootError::Metadata(MetadataError::Malformed(_)))
    ));
}

#[test]
fn a_root_chain_is_walked_one_version_at_a_time() {
    let [a, b, c] = first_root_keys();
    let (d, e) = (key(4), key(5));
    let v2 = root_metadata(2, &[&a, &b, &d], 2, next_year())
        .sign(&[&a, &b, &d])
        .unwrap();
    let v3 = root_metadata(3, &[&d, &e], 2, next_year())
        .sign(&[&a, &d, &e])
        .unwrap();
    let v4 = root_metadata(4, &[&d, &e], 1, next_year())
        .sign(&[&d, &e])
        .unwrap();
    let latest = walk_root_chain(first_root(), [&v2, &v3, &v4], now()).unwrap();
    assert_eq!(latest.version(), 4);
    assert_eq!(latest.role_keys(Role::Root).threshold(), 1);
    assert!(latest.role_keys(Role::Root).get(c.key_id()).is_none());

    // Out of order or with a gap, the walk stops with the step's error.
    assert!(matches!(
        walk_root_chain(first_root(), [&v3], now()),
        Err(RootError::SkippedVersion {
            trusted: 1,
            found: 3
        })
    ));
    assert!(matches!(
        walk_root_chain(first_root(), [&v2, &v4], now()),
        Err(RootError::SkippedVersion {
            trusted: 2,
            found: 4
        })
    ));
}

#[test]
fn a_root_chain_may_pass_expired_intermediate_roots_but_must_end_unexpired() {
    let [a, b, c] = first_root_keys();
    let long_ago = at("2025-01-01T00:00:00Z");
    let v2_expired = root_metadata(2, &[&a, &b, &c], 2, long_ago)
        .sign(&[&a, &b])
        .unwrap();
    let v3_fresh = root_metadata(3, &[&a, &b, &c], 2, next_year())
        .sign(&[&a, &b])
        .unwrap();
    assert_eq!(
        walk_root_chain(first_root(), [&v2_expired, &v3_fresh], now())
            .unwrap()
            .version(),
        3
    );
    assert!(matches!(
        walk_root_chain(first_root(), [&v2_expired], now()),
        Err(RootError::Expired { version: 2, .. })
    ));
    // An empty chain still checks that the trusted root itself is unexpired.
    assert!(matches!(
        walk_root_chain(first_root(), Vec::<Vec<u8>>::new(), next_year()),
        Err(RootError::Expired { version: 1, .. })
    ));
}

#[test]
fn a_root_chain_with_one_bad_link_is_refused() {
    let [a, b, c] = first_root_keys();
    let v2 = root_metadata(2, &[&a, &b, &c], 2, next_year())
        .sign(&[&a, &b])
        .unwrap();
    let v3_forged = root_metadata(3, &[&key(66), &key(67)], 1, next_year())
        .sign(&[&key(66)])
        .unwrap();
    assert!(matches!(
        walk_root_chain(first_root(), [&v2, &v3_forged], now()),
        Err(RootError::OldThresholdNotMet { version: 3, .. })
    ));
}

#[test]
fn a_root_with_more_than_the_maximum_number_of_signatures_is_refused() {
    use locara_core::keys::MAX_SIGNATURES;
    let mut value: Value = serde_json::from_slice(&first_root_bytes()).unwrap();
    let signature = value["signatures"][0].clone();
    let signatures = value["signatures"].as_array_mut().unwrap();
    signatures.resize(MAX_SIGNATURES + 1, signature);
    assert!(matches!(
        Root::load_trusted(&serde_json::to_vec(&value).unwrap()),
        Err(RootError::Metadata(MetadataError::Malformed(CanonicalJsonError::Schema { reason }))) if reason.contains("65 signatures")
    ));
}

#[test]
fn a_root_whose_log_verifier_key_is_not_a_signed_note_key_is_refused() {
    // The right shape but a key hash that does not match the name and key.
    let good = log().verifier_key;
    let (name_and_hash, key) = good.rsplit_once('+').unwrap();
    let (name, _) = name_and_hash.rsplit_once('+').unwrap();
    let wrong_hash = format!("{name}+00000000+{key}");
    let result = load_variant(|value| value["log"]["verifier_key"] = json!(wrong_hash));
    assert!(
        matches!(result, Err(RootError::LogVerifierKey { .. })),
        "{result:?}"
    );
    let result = load_variant(|value| value["log"]["verifier_key"] = json!("registry+c74f20a3+AQ"));
    assert!(
        matches!(result, Err(RootError::LogVerifierKey { .. })),
        "{result:?}"
    );
    assert!(load_variant(|_| ()).is_ok());
}
