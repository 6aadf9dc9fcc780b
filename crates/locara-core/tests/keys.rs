//! Keys: RFC 8032 vectors, key ids, text forms, key files (mode 0600, refusals that name the file, no
//! secret in any output) and threshold key sets.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use locara_core::digest::Digest;
use locara_core::keys::{
    KEY_FILE_TYPE, KeyError, KeyFileError, KeyId, PublicKey, Signature, SigningKey, TrustedKeys,
};

/// RFC 8032 §7.1, test 1: secret key, public key, and the signature of the empty message.
const RFC8032_SECRET: &str = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const RFC8032_PUBLIC: &str = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";
const RFC8032_SIGNATURE: &str = "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b";
/// `printf '%s' 'ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=' | sha256sum`
const RFC8032_KEY_ID: &str = "dc2837f7ac39707cf417d351e6546b2be1dd3b92f5bea391601f00c93169ddbd";

fn rfc8032_key() -> SigningKey {
    let mut seed = [0u8; 32];
    hex::decode_to_slice(RFC8032_SECRET, &mut seed).unwrap();
    SigningKey::from_seed(&seed)
}

fn mode_of(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o7777
}

#[test]
fn signing_matches_rfc8032_test_1() {
    let key = rfc8032_key();
    assert_eq!(hex::encode(key.public_key().to_bytes()), RFC8032_PUBLIC);
    assert_eq!(hex::encode(key.sign(b"").to_bytes()), RFC8032_SIGNATURE);
    key.public_key().verify(b"", &key.sign(b"")).unwrap();
}

#[test]
fn key_id_is_sha256_of_the_public_key_text() {
    let key = rfc8032_key();
    let text = key.public_key().to_string();
    assert_eq!(text, "ed25519:11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=");
    assert_eq!(key.key_id().hex(), RFC8032_KEY_ID);
    assert_eq!(key.key_id().hex(), Digest::of_bytes(text.as_bytes()).hex());
    assert_eq!(key.public_key().key_id(), key.key_id());
}

#[test]
fn public_key_text_round_trips_through_parse_and_serde() {
    let key = SigningKey::generate().unwrap();
    let text = key.public_key().to_string();
    let parsed: PublicKey = text.parse().unwrap();
    assert_eq!(&parsed, key.public_key());
    assert_eq!(parsed.key_id(), key.key_id());
    let json = serde_json::to_string(&parsed).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<PublicKey>(&json).unwrap(), parsed);
    assert_eq!(PublicKey::from_base64(&parsed.to_base64()).unwrap(), parsed);
}

#[test]
fn malformed_public_keys_are_refused() {
    let good = rfc8032_key().public_key().to_base64();
    for text in [
        good.clone(),                                      // no prefix
        format!("ed448:{good}"),                           // other algorithm
        format!("ed25519:{}", &good[..40]),                // too short
        format!("ed25519:{good}AAAA"),                     // too long
        "ed25519:not base64!".to_owned(),                  // not base64
        format!("ed25519:{}", good.trim_end_matches('=')), // unpadded
    ] {
        assert!(
            matches!(
                text.parse::<PublicKey>(),
                Err(KeyError::PublicKeyFormat { .. })
            ),
            "{text} must be refused as malformed"
        );
    }
}

#[test]
fn the_older_bare_base64_spelling_is_still_read_but_never_written() {
    let key = rfc8032_key();
    let public = key.public_key();
    assert!(public.to_string().starts_with("ed25519:"));
    for spelling in [public.to_string(), public.to_base64()] {
        assert_eq!(&PublicKey::from_any_spelling(&spelling).unwrap(), public);
    }
    let good = public.to_base64();
    for text in [
        format!("ed448:{good}"),
        format!("ED25519:{good}"),
        format!("ed25519:ed25519:{good}"),
        format!(" {good}"),
        good.trim_end_matches('=').to_owned(),
    ] {
        assert!(
            PublicKey::from_any_spelling(&text).is_err(),
            "{text} must be refused"
        );
    }
}

#[test]
fn small_order_public_keys_are_refused() {
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let text = format!("ed25519:{}", STANDARD.encode(identity));
    assert!(matches!(
        text.parse::<PublicKey>(),
        Err(KeyError::InvalidPublicKey { .. })
    ));
}

#[test]
fn key_ids_must_be_64_lowercase_hex_digits() {
    assert!(RFC8032_KEY_ID.parse::<KeyId>().is_ok());
    for bad in [
        RFC8032_KEY_ID.to_uppercase(),
        RFC8032_KEY_ID[..63].to_owned(),
        format!("{RFC8032_KEY_ID}0"),
        format!("{}g", &RFC8032_KEY_ID[..63]),
        String::new(),
    ] {
        assert!(
            matches!(bad.parse::<KeyId>(), Err(KeyError::KeyIdFormat { .. })),
            "{bad}"
        );
    }
}

#[test]
fn signatures_do_not_verify_over_other_messages_or_under_other_keys() {
    let key = SigningKey::generate().unwrap();
    let other = SigningKey::generate().unwrap();
    assert_ne!(key.key_id(), other.key_id());
    let signature = key.sign(b"release acme/notes 1.0.0");
    key.public_key()
        .verify(b"release acme/notes 1.0.0", &signature)
        .unwrap();
    assert!(
        key.public_key()
            .verify(b"release acme/notes 1.0.1", &signature)
            .is_err()
    );
    let error = other
        .public_key()
        .verify(b"release acme/notes 1.0.0", &signature)
        .unwrap_err();
    assert_eq!(&error.key_id, other.key_id());
    let mut flipped = signature.to_bytes();
    flipped[10] ^= 1;
    assert!(
        key.public_key()
            .verify(b"release acme/notes 1.0.0", &Signature::from_bytes(flipped))
            .is_err()
    );
    assert!(matches!(
        Signature::from_slice(&[0u8; 63]),
        Err(KeyError::SignatureLength { found: 63 })
    ));
}

#[test]
fn saved_key_file_has_mode_0600_and_loads_back_to_the_same_key() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("publisher.key");
    let key = SigningKey::generate().unwrap();
    key.save(&path).unwrap();
    assert_eq!(mode_of(&path), 0o600);

    let loaded = SigningKey::load(&path).unwrap();
    assert_eq!(loaded.key_id(), key.key_id());
    assert_eq!(loaded.public_key(), key.public_key());
    assert_eq!(loaded.sign(b"message"), key.sign(b"message"));

    let text = fs::read_to_string(&path).unwrap();
    let fields: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(fields["type"], KEY_FILE_TYPE);
    assert_eq!(fields["key_id"], key.key_id().hex());
    assert_eq!(fields["public"], key.public_key().to_string());
    // Only the key file itself is left behind: the temporary file was renamed into place.
    let names: Vec<_> = fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(names, vec![std::ffi::OsString::from("publisher.key")]);
}

#[test]
fn saving_over_an_existing_file_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("publisher.key");
    fs::write(&path, "precious").unwrap();
    let error = SigningKey::generate().unwrap().save(&path).unwrap_err();
    assert!(matches!(&error, KeyFileError::AlreadyExists { path: named } if named == &path));
    assert_eq!(fs::read_to_string(&path).unwrap(), "precious");
}

#[test]
fn loading_a_key_file_readable_by_group_or_others_is_refused() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("publisher.key");
    SigningKey::generate().unwrap().save(&path).unwrap();
    for mode in [0o644, 0o640, 0o604, 0o660, 0o602] {
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
        let error = SigningKey::load(&path).unwrap_err();
        match &error {
            KeyFileError::Permissions {
                path: named,
                mode: found,
            } => {
                assert_eq!((named, *found), (&path, mode));
            }
            other => panic!("mode {mode:o}: expected a permissions error, got {other:?}"),
        }
        let message = error.to_string();
        assert!(message.contains(&path.display().to_string()), "{message}");
        assert!(message.contains("chmod 600"), "{message}");
    }
    fs::set_permissions(&path, fs::Permissions::from_mode(0o400)).unwrap();
    SigningKey::load(&path).unwrap();
}

fn write_private(path: &Path, text: &str) {
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).unwrap();
}

#[test]
fn a_file_of_another_type_is_refused_naming_the_file_and_both_types() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("other.key");
    write_private(
        &path,
        r#"{"type": "locara-rsa-private-key-v1", "n": "AQAB"}"#,
    );
    let error = SigningKey::load(&path).unwrap_err();
    match &error {
        KeyFileError::WrongType {
            path: named,
            expected,
            found,
        } => {
            assert_eq!(named, &path);
            assert_eq!(*expected, KEY_FILE_TYPE);
            assert_eq!(found, "locara-rsa-private-key-v1");
        }
        other => panic!("expected a wrong-type error, got {other:?}"),
    }
    assert!(error.to_string().contains(&path.display().to_string()));
}

#[test]
fn corrupt_key_files_are_refused_naming_the_file_without_echoing_the_seed() {
    let directory = tempfile::tempdir().unwrap();
    let good_path = directory.path().join("good.key");
    let key = SigningKey::generate().unwrap();
    key.save(&good_path).unwrap();
    let good = fs::read_to_string(&good_path).unwrap();
    let fields: serde_json::Value = serde_json::from_str(&good).unwrap();
    let seed = fields["seed"].as_str().unwrap().to_owned();
    let other_public = SigningKey::generate().unwrap().public_key().to_string();

    let cases = [
        (
            "not json",
            "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI\n".to_owned(),
        ),
        ("truncated", good[..good.len() / 2].to_owned()),
        ("seed not base64", good.replace(&seed, "!!!!")),
        (
            "seed too short",
            good.replace(&seed, &STANDARD.encode([7u8; 16])),
        ),
        (
            "public key of another seed",
            good.replace(&key.public_key().to_string(), &other_public),
        ),
        (
            "wrong key id",
            good.replace(&key.key_id().hex(), &"0".repeat(64)),
        ),
        (
            "unknown field",
            good.replacen('{', &format!("{{\n  \"comment\": {seed:?},"), 1),
        ),
        (
            "seed as number",
            good.replace(&format!("{seed:?}"), "12345"),
        ),
    ];
    for (what, text) in cases {
        let path = directory.path().join("corrupt.key");
        write_private(&path, &text);
        let error = SigningKey::load(&path).unwrap_err();
        assert!(
            matches!(&error, KeyFileError::Corrupt { path: named, .. } if named == &path),
            "{what}: expected a corrupt-file error, got {error:?}"
        );
        let message = error.to_string();
        assert!(
            message.contains(&path.display().to_string()),
            "{what}: {message}"
        );
        assert!(
            !message.contains(&seed),
            "{what}: the message leaks the seed: {message}"
        );
        fs::remove_file(&path).unwrap();
    }
}

#[test]
fn a_missing_key_file_is_an_io_error_naming_the_file() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join("absent.key");
    let error = SigningKey::load(&path).unwrap_err();
    assert!(matches!(&error, KeyFileError::Io { path: named, .. } if named == &path));
    assert!(error.to_string().contains("absent.key"));
}

#[test]
fn debug_output_never_contains_the_secret() {
    let key = rfc8032_key();
    let debug = format!("{key:?} {key:#?}");
    assert!(!debug.contains(RFC8032_SECRET), "{debug}");
    let mut seed = [0u8; 32];
    hex::decode_to_slice(RFC8032_SECRET, &mut seed).unwrap();
    assert!(!debug.contains(&STANDARD.encode(seed)), "{debug}");
    assert!(!debug.contains(&format!("{seed:?}")), "{debug}");
    assert!(debug.contains(RFC8032_KEY_ID), "{debug}");
    assert!(debug.contains("redacted"), "{debug}");
}

#[test]
fn trusted_key_thresholds_must_be_between_one_and_the_number_of_distinct_keys() {
    let a = SigningKey::from_seed(&[1; 32]).public_key().clone();
    let b = SigningKey::from_seed(&[2; 32]).public_key().clone();
    assert!(matches!(
        TrustedKeys::new([a.clone(), b.clone()], 0),
        Err(KeyError::Threshold {
            threshold: 0,
            keys: 2
        })
    ));
    assert!(matches!(
        TrustedKeys::new([a.clone(), b.clone()], 3),
        Err(KeyError::Threshold {
            threshold: 3,
            keys: 2
        })
    ));
    // The same key twice is one key: a threshold of 2 cannot be met by one key listed twice.
    assert!(matches!(
        TrustedKeys::new([a.clone(), a.clone()], 2),
        Err(KeyError::Threshold {
            threshold: 2,
            keys: 1
        })
    ));
    let set = TrustedKeys::new([a.clone(), b], 2).unwrap();
    assert_eq!((set.len(), set.threshold()), (2, 2));
    assert_eq!(set.get(a.key_id()), Some(&a));
}

#[test]
fn a_tally_counts_each_trusted_key_once_and_ignores_unknown_keys() {
    let a = SigningKey::from_seed(&[1; 32]);
    let b = SigningKey::from_seed(&[2; 32]);
    let stranger = SigningKey::from_seed(&[3; 32]);
    let set = TrustedKeys::new([a.public_key().clone(), b.public_key().clone()], 2).unwrap();
    let message = b"payload";
    let a_sig = a.sign(message).to_bytes();
    let a_id = a.key_id().to_string();
    let stranger_sig = stranger.sign(message).to_bytes();
    let stranger_id = stranger.key_id().to_string();
    let b_bad = b.sign(b"other").to_bytes();
    let b_id = b.key_id().to_string();

    let tally = set.tally(
        message,
        [
            (a_id.as_str(), &a_sig[..]),
            (a_id.as_str(), &a_sig[..]),
            (stranger_id.as_str(), &stranger_sig[..]),
            (b_id.as_str(), &b_bad[..]),
            // A trusted key id attached to someone else's signature does not count either.
            (b_id.as_str(), &stranger_sig[..]),
        ],
    );
    assert_eq!(tally.valid, vec![*a.key_id()]);
    assert_eq!(tally.invalid, vec![*b.key_id()]);
    assert_eq!(tally.unknown, vec![stranger_id]);
    assert!(!set.is_met_by(&tally));
}
