//! Release statements: the exact signed bytes, forgery, alteration, payload-type confusion and replay.

use locara_core::canonical_json::{self, CanonicalJsonError};
use locara_core::digest::Digest;
use locara_core::dsse::{DsseError, Envelope};
use locara_core::keys::{SigningKey, TrustedKeys};
use locara_core::names::AppName;
use locara_core::statement::release::{
    RELEASE_PAYLOAD_TYPE, RELEASE_STATEMENT_TYPE, ReleaseError, ReleaseStatement, verify_release,
};
use locara_core::statement::{GitCommit, IN_TOTO_PAYLOAD_TYPE};
use locara_core::time::Timestamp;
use locara_core::version::Version;
use serde_json::{Value, json};

const COMMIT: &str = "c27d339ee6075c1f744c5d4b200f7901aad2c369";

fn publisher_key() -> SigningKey {
    SigningKey::from_seed(&[0xaa; 32])
}

fn publisher_keys() -> TrustedKeys {
    TrustedKeys::single(publisher_key().public_key().clone())
}

fn app() -> AppName {
    "acme/notes-search".parse().unwrap()
}

fn version() -> Version {
    "1.4.2".parse().unwrap()
}

fn statement() -> ReleaseStatement {
    ReleaseStatement {
        app: app(),
        version: version(),
        repository: "https://git.example.com/acme/notes-search".to_owned(),
        commit: COMMIT.parse().unwrap(),
        manifest: Digest::of_bytes(b"[app]\nname = \"acme/notes-search\"\n"),
        created_at: "2026-11-24T19:08:00Z".parse().unwrap(),
    }
}

fn verify(envelope: &Envelope) -> Result<ReleaseStatement, ReleaseError> {
    verify_release(envelope, &publisher_keys(), &app(), &version())
        .map(|verified| verified.statement)
}

/// The statement as JSON, changed by `mutate`, canonicalised and signed by the publisher's key.
fn signed_variant(mutate: impl FnOnce(&mut Value)) -> Envelope {
    let mut value: Value = serde_json::from_slice(&statement().to_canonical_json()).unwrap();
    mutate(&mut value);
    Envelope::signed(
        RELEASE_PAYLOAD_TYPE,
        canonical_json::to_vec(&value).unwrap(),
        &[&publisher_key()],
    )
}

#[test]
fn the_signed_bytes_are_this_canonical_json() {
    let expected = format!(
        "{{\"_type\":\"{RELEASE_STATEMENT_TYPE}\",\"app\":\"acme/notes-search\",\"commit\":\"{COMMIT}\",\"created_at\":\"2026-11-24T19:08:00Z\",\"manifest\":\"{}\",\"repository\":\"https://git.example.com/acme/notes-search\",\"version\":\"1.4.2\"}}",
        statement().manifest
    );
    assert_eq!(
        String::from_utf8(statement().to_canonical_json()).unwrap(),
        expected
    );
}

#[test]
fn a_release_signed_by_the_publisher_verifies() {
    let envelope = statement().sign(&publisher_key());
    assert_eq!(envelope.payload_type, RELEASE_PAYLOAD_TYPE);
    let verified = verify_release(&envelope, &publisher_keys(), &app(), &version()).unwrap();
    assert_eq!(verified.statement, statement());
    assert_eq!(verified.signed_by, vec![*publisher_key().key_id()]);
    // And again after a trip through envelope JSON.
    assert_eq!(
        verify(&Envelope::from_json(&envelope.to_json()).unwrap()).unwrap(),
        statement()
    );
}

#[test]
fn a_release_forged_with_another_key_is_refused() {
    let attacker = SigningKey::from_seed(&[0x66; 32]);
    let mut envelope = statement().sign(&attacker);
    assert!(matches!(
        verify(&envelope),
        Err(ReleaseError::Signature(DsseError::ThresholdNotMet { .. }))
    ));
    // Claiming the publisher's key id does not help.
    envelope.signatures[0].keyid = publisher_key().key_id().hex();
    assert!(matches!(verify(&envelope), Err(ReleaseError::Signature(_))));
}

#[test]
fn a_release_with_an_altered_field_is_refused() {
    for (from, to) in [
        (COMMIT, "0000000000000000000000000000000000000bad"),
        (
            "https://git.example.com/acme/notes-search",
            "https://git.example.com/evil/notes-search",
        ),
        ("2026-11-24T19:08:00Z", "2026-11-24T19:08:01Z"),
    ] {
        let mut envelope = statement().sign(&publisher_key());
        let altered = String::from_utf8(envelope.payload.clone())
            .unwrap()
            .replace(from, to);
        assert_ne!(altered.as_bytes(), envelope.payload.as_slice());
        envelope.payload = altered.into_bytes();
        assert!(
            matches!(verify(&envelope), Err(ReleaseError::Signature(_))),
            "altering {from} must break the signature"
        );
    }
}

#[test]
fn a_release_in_an_envelope_of_another_payload_type_is_refused() {
    let envelope = Envelope::signed(
        IN_TOTO_PAYLOAD_TYPE,
        statement().to_canonical_json(),
        &[&publisher_key()],
    );
    assert!(matches!(
        verify(&envelope),
        Err(ReleaseError::WrongPayloadType { expected, found })
            if expected == RELEASE_PAYLOAD_TYPE && found == IN_TOTO_PAYLOAD_TYPE
    ));
    // Relabelling a genuine release envelope breaks its signature, which covers the type.
    let mut relabelled = statement().sign(&publisher_key());
    relabelled.payload_type = "application/vnd.locara.release+json; v=2".to_owned();
    assert!(matches!(
        verify(&relabelled),
        Err(ReleaseError::WrongPayloadType { .. })
    ));
}

#[test]
fn a_release_replayed_for_another_version_is_refused() {
    let envelope = statement().sign(&publisher_key());
    let next: Version = "1.4.3".parse().unwrap();
    let error = verify_release(&envelope, &publisher_keys(), &app(), &next).unwrap_err();
    assert!(
        matches!(&error, ReleaseError::VersionMismatch { expected, found } if expected == &next && found == &version())
    );
    assert!(error.to_string().contains("1.4.3") && error.to_string().contains("1.4.2"));
}

#[test]
fn a_release_replayed_for_another_app_is_refused() {
    let envelope = statement().sign(&publisher_key());
    let other: AppName = "acme/notes-sync".parse().unwrap();
    assert!(matches!(
        verify_release(&envelope, &publisher_keys(), &other, &version()),
        Err(ReleaseError::AppMismatch { expected, found }) if expected == other && found == app()
    ));
}

#[test]
fn a_statement_of_another_type_is_refused() {
    let envelope =
        signed_variant(|value| value["_type"] = json!("https://in-toto.io/Statement/v1"));
    assert!(matches!(
        verify(&envelope),
        Err(ReleaseError::WrongStatementType { expected, found })
            if expected == RELEASE_STATEMENT_TYPE && found == "https://in-toto.io/Statement/v1"
    ));
}

#[test]
fn malformed_statements_are_refused_even_when_signed() {
    type Mutation = Box<dyn FnOnce(&mut Value)>;
    let cases: [(&str, Mutation); 5] = [
        (
            "unknown member",
            Box::new(|value| value["install_script"] = json!("rm -rf ~")),
        ),
        (
            "short commit",
            Box::new(|value| value["commit"] = json!("c27d339")),
        ),
        (
            "bad manifest digest",
            Box::new(|value| value["manifest"] = json!("md5:00")),
        ),
        (
            "bad version",
            Box::new(|value| value["version"] = json!("v1.4.2")),
        ),
        (
            "missing repository",
            Box::new(|value| {
                value.as_object_mut().unwrap().remove("repository");
            }),
        ),
    ];
    for (what, mutate) in cases {
        assert!(
            matches!(
                verify(&signed_variant(mutate)),
                Err(ReleaseError::Malformed(CanonicalJsonError::Schema { .. }))
            ),
            "{what} must be refused"
        );
    }
    let pretty = serde_json::to_vec_pretty(
        &serde_json::from_slice::<Value>(&statement().to_canonical_json()).unwrap(),
    )
    .unwrap();
    let envelope = Envelope::signed(RELEASE_PAYLOAD_TYPE, pretty, &[&publisher_key()]);
    assert!(matches!(
        verify(&envelope),
        Err(ReleaseError::Malformed(
            CanonicalJsonError::NotCanonical { .. }
        ))
    ));
}

#[test]
fn a_sha256_repository_commit_is_accepted() {
    let mut sha256_statement = statement();
    sha256_statement.commit = "ab".repeat(32).parse::<GitCommit>().unwrap();
    let envelope = sha256_statement.sign(&publisher_key());
    assert_eq!(verify(&envelope).unwrap(), sha256_statement);
}

#[test]
fn stale_or_future_statements_can_be_refused_by_age() {
    let created: Timestamp = "2026-11-24T19:08:00Z".parse().unwrap();
    let at = |seconds_after: u64| created.checked_add_seconds(seconds_after).unwrap();
    let release = statement();
    release.check_age(created, 3600, 300).unwrap();
    release.check_age(at(3600), 3600, 300).unwrap();
    assert!(matches!(
        release.check_age(at(3601), 3600, 300),
        Err(ReleaseError::TooOld {
            max_age_seconds: 3600,
            ..
        })
    ));
    let before = created.checked_sub_seconds(301).unwrap();
    assert!(matches!(
        release.check_age(before, 3600, 300),
        Err(ReleaseError::FromTheFuture {
            max_skew_seconds: 300,
            ..
        })
    ));
    release
        .check_age(created.checked_sub_seconds(300).unwrap(), 3600, 300)
        .unwrap();
}
