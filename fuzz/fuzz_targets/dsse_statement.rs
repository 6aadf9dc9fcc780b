#![no_main]
//! Fuzz target: DSSE envelopes, in-toto / SLSA provenance, release statements, `root.json`, revocation
//! lists and `timestamp.json`. None of these may panic on any input.
//!
//! Each input is tried three ways: as an untrusted file of every format; as the payload of an envelope
//! that a trusted key really signed (so parsing beyond the signature check is reached); and, if it is
//! JSON, as the `signed` object of role metadata signed by the right role keys.

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use locara_core::canonical_json;
use locara_core::digest::Digest;
use locara_core::dsse::Envelope;
use locara_core::keys::{KeyId, PublicKey, SigningKey, TrustedKeys};
use locara_core::log::SignerKey;
use locara_core::names::AppName;
use locara_core::revocation::verify_revocation_list;
use locara_core::root::{
    LogEntry, Role, Root, RootMetadata, SignedMetadata, update_root, verify_freshness,
};
use locara_core::statement::provenance::verify_provenance;
use locara_core::statement::release::{RELEASE_PAYLOAD_TYPE, verify_release};
use locara_core::statement::{GitCommit, IN_TOTO_PAYLOAD_TYPE};
use locara_core::time::Timestamp;
use locara_core::version::Version;

const REPOSITORY: &str = "https://git.example.com/acme/notes-search";
const LOG_ORIGIN: &str = "registry.locara.example/log";

struct Fixture {
    root: Root,
    root_key: SigningKey,
    builder: SigningKey,
    builder_keys: TrustedKeys,
    publisher: SigningKey,
    publisher_keys: TrustedKeys,
    security: SigningKey,
    timestamp: SigningKey,
    artifact: Digest,
    commit: GitCommit,
    app: AppName,
    version: Version,
    now: Timestamp,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let key = |seed: u8| SigningKey::from_seed(&[seed; 32]);
        let (root_key, log_key, builder, publisher, security, timestamp) =
            (key(1), key(20), key(30), key(70), key(50), key(60));
        // The log's verifier key is derived from the log role's key, as the registry derives it, so the
        // fixture is a root that root loading accepts for as long as it accepts the registry's.
        let log_verifier = SignerKey::from_signing_key(LOG_ORIGIN, &log_key)
            .expect("the log origin is a valid note key name")
            .verifier()
            .to_string();
        let metadata = RootMetadata::new(
            1,
            "2030-01-01T00:00:00Z".parse().unwrap(),
            [
                (Role::Root, vec![root_key.public_key().clone()], 1),
                (Role::Log, vec![log_key.public_key().clone()], 1),
                (Role::Builder, vec![builder.public_key().clone()], 1),
                (Role::Index, vec![key(40).public_key().clone()], 1),
                (Role::Security, vec![security.public_key().clone()], 1),
                (Role::Timestamp, vec![timestamp.public_key().clone()], 1),
            ],
            LogEntry {
                origin: LOG_ORIGIN.to_owned(),
                verifier_key: log_verifier,
            },
        );
        let root =
            Root::load_trusted(&metadata.sign(&[&root_key]).expect("the fixture root signs"))
                .expect("root loading accepts the fixture root");
        Fixture {
            root,
            builder_keys: TrustedKeys::single(builder.public_key().clone()),
            publisher_keys: TrustedKeys::single(publisher.public_key().clone()),
            root_key,
            builder,
            publisher,
            security,
            timestamp,
            artifact: Digest::of_bytes(b"artifact"),
            commit: "c27d339ee6075c1f744c5d4b200f7901aad2c369".parse().unwrap(),
            app: "acme/notes-search".parse().unwrap(),
            version: "1.4.2".parse().unwrap(),
            now: "2026-11-24T12:00:00Z".parse().unwrap(),
        }
    })
}

fn check_envelope(fixture: &Fixture, envelope: &Envelope) {
    let _ = verify_provenance(
        envelope,
        &fixture.builder_keys,
        &fixture.artifact,
        REPOSITORY,
        &fixture.commit,
    );
    let _ = verify_release(
        envelope,
        &fixture.publisher_keys,
        &fixture.app,
        &fixture.version,
    );
}

fn check_metadata(fixture: &Fixture, bytes: &[u8]) {
    let _ = Root::load_pinned(bytes, &Digest::of_bytes(bytes));
    let _ = update_root(&fixture.root, bytes, fixture.now);
    let _ = verify_revocation_list(&fixture.root, bytes, fixture.now, Some(1));
    if let Ok(freshness) = verify_freshness(&fixture.root, bytes, fixture.now, None) {
        let _ = verify_freshness(&fixture.root, bytes, fixture.now, Some(&freshness));
    }
}

fuzz_target!(|data: &[u8]| {
    let fixture = fixture();

    // 1. Untrusted bytes as every format.
    let parsed = canonical_json::parse_value(data);
    if let Ok(envelope) = Envelope::from_json(data) {
        let reparsed = Envelope::from_json(&envelope.to_json()).expect("to_json output parses");
        assert_eq!(reparsed, envelope);
        check_envelope(fixture, &envelope);
    }
    check_metadata(fixture, data);
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(timestamp) = text.parse::<Timestamp>() {
            assert_eq!(timestamp.to_string(), text);
        }
        let _ = text.parse::<PublicKey>();
        let _ = text.parse::<KeyId>();
        let _ = text.parse::<GitCommit>();
    }

    // 2. The bytes as an authenticated payload, so statement parsing is reached.
    let provenance = Envelope::signed(IN_TOTO_PAYLOAD_TYPE, data.to_vec(), &[&fixture.builder]);
    let release = Envelope::signed(RELEASE_PAYLOAD_TYPE, data.to_vec(), &[&fixture.publisher]);
    check_envelope(fixture, &provenance);
    check_envelope(fixture, &release);

    // 3. JSON as the `signed` object of role metadata signed by the root, security and timestamp keys.
    if let Ok(value) = parsed {
        let canonical = canonical_json::value_to_vec(&value).expect("parsed values canonicalise");
        let again = canonical_json::parse_value(&canonical).expect("canonical output parses");
        assert_eq!(again, value);
        if let Ok(mut document) = SignedMetadata::new(&value) {
            for key in [&fixture.root_key, &fixture.security, &fixture.timestamp] {
                document.sign(key);
            }
            check_metadata(fixture, &document.to_json());
            let _ = Root::load_trusted(&document.to_json());
        }
    }
});
