//! The client's install checks (DESIGN §5, checks 1–7) over a whole, consistent world built in memory:
//! a root, a log holding the publisher's key registration and the release, a signed checkpoint named by
//! `timestamp.json`, a revocation list, a provenance and a real packed artifact. Each attack changes one
//! thing and must fail with the check that is meant to catch it.

mod common;

use std::collections::BTreeMap;

use common::{LOG_ORIGIN, at, key, now};
use locara_core::artifact::{FileMode, Limits, MANIFEST_PATH, Packer, unpack_verified};
use locara_core::digest::Digest;
use locara_core::dsse::Envelope;
use locara_core::events::{Event, LogEntry, ReleaseRecord};
use locara_core::install_check::{
    Check, CheckFailure, Checked, CheckedRegistry, InstallEvidence, LoggedEntry,
    PreviousCheckpoint, RegistryEvidence, check_install, check_registry, check_release_entry,
};
use locara_core::keys::SigningKey;
use locara_core::log::{
    Checkpoint, Hash, MemoryHashStore, SignerKey, consistency_proof, inclusion_proof, leaf_hash,
};
use locara_core::names::AppName;
use locara_core::revocation::{Revocation, RevocationList};
use locara_core::root::{
    CheckpointReference, Freshness, RevocationsReference, Role, Root, RootMetadata,
};
use locara_core::statement::provenance::{
    LocaraBuild, LocaraExternalParameters, LocaraInternalParameters,
};
use locara_core::statement::release::ReleaseStatement;
use locara_core::time::Timestamp;
use locara_core::version::Version;

const APP: &str = "acme/notes-search";
const VERSION: &str = "1.4.2";
const REPOSITORY: &str = "https://git.example.com/acme/notes-search";
const COMMIT: &str = "0123456789abcdef0123456789abcdef01234567";
const BUILDER_ID: &str = "https://registry.locara.example/builder";
const REVOCATIONS_VERSION: u64 = 3;

fn manifest_text(version: &str) -> String {
    format!(
        r#"[app]
name = "{APP}"
version = "{version}"
description = "Search your notes"
license = "MIT"
source = "{REPOSITORY}"

[build]
command = ["cargo", "build", "--release"]
outputs = {{ "bin/notes-search" = "target/release/notes-search" }}
entry = "bin/notes-search"

[capabilities]
files = []
network = []
tools = []
models = []
"#
    )
}

/// Every key of the world: one per root role, the log's note signer and the publisher's release key.
struct Keys {
    root: SigningKey,
    builder: SigningKey,
    security: SigningKey,
    timestamp: SigningKey,
    publisher: SigningKey,
    log: SignerKey,
}

impl Keys {
    fn new() -> Self {
        Self {
            root: SigningKey::generate().unwrap(),
            builder: SigningKey::generate().unwrap(),
            security: SigningKey::generate().unwrap(),
            timestamp: SigningKey::generate().unwrap(),
            publisher: SigningKey::generate().unwrap(),
            log: SignerKey::generate(LOG_ORIGIN).unwrap(),
        }
    }

    fn root(&self) -> Root {
        let one = |key: &SigningKey| vec![key.public_key().clone()];
        let metadata = RootMetadata::new(
            1,
            at("2027-11-24T12:00:00Z"),
            [
                (Role::Root, one(&self.root), 1),
                (Role::Log, one(&key(20)), 1),
                (Role::Builder, one(&self.builder), 1),
                (Role::Index, one(&key(40)), 1),
                (Role::Security, one(&self.security), 1),
                (Role::Timestamp, one(&self.timestamp), 1),
            ],
            locara_core::root::LogEntry {
                origin: LOG_ORIGIN.to_owned(),
                verifier_key: self.log.verifier().to_string(),
            },
        );
        Root::load_trusted(&metadata.sign(&[&self.root]).unwrap()).unwrap()
    }
}

/// A log entry as the client holds it after fetching it and its proof.
#[derive(Clone)]
struct Fetched {
    index: u64,
    bytes: Vec<u8>,
    proof: Vec<Hash>,
}

impl Fetched {
    fn logged(&self) -> LoggedEntry<'_> {
        LoggedEntry {
            index: self.index,
            bytes: &self.bytes,
            proof: &self.proof,
        }
    }
}

/// Which variations of the world to build.
#[derive(Default)]
struct Options {
    /// Revoke the publisher's key before the release is logged.
    key_revoked_before_release: bool,
    /// Revoke the publisher's key after the release is logged.
    key_revoked_after_release: bool,
    /// Log the key registration with the bare base64 spelling entries were written with before
    /// `ed25519:<base64>` became the one spelling.
    key_registered_in_bare_base64: bool,
    /// Sign the release statement with this key instead of the registered one.
    statement_signer: Option<SigningKey>,
    /// Sign the provenance with this key instead of the builder's.
    provenance_signer: Option<SigningKey>,
    /// Let the provenance name this artifact instead of the packed one.
    provenance_artifact: Option<Digest>,
    /// Let the provenance name this commit instead of the release's.
    provenance_commit: Option<&'static str>,
}

/// Everything the client would have fetched for one install, owned; each attack edits one field.
struct World {
    keys: Keys,
    root: Root,
    now: Timestamp,
    timestamp_json: Vec<u8>,
    previous_timestamp: Option<Freshness>,
    checkpoint: Checkpoint,
    checkpoint_note: Vec<u8>,
    previous_checkpoint: Option<PreviousCheckpoint>,
    consistency_proof: Vec<Hash>,
    revocations_json: Vec<u8>,
    highest_revocations_version: Option<u64>,
    release: Fetched,
    key_registration: Fetched,
    key_revocations: Vec<Fetched>,
    provenance_envelope: Vec<u8>,
    record: ReleaseRecord,
    artifact_digest: Digest,
    artifact_manifest: Vec<u8>,
    app: AppName,
    version: Version,
}

fn entry_bytes(time: Timestamp, event: Event) -> Vec<u8> {
    LogEntry::new(time, event).to_bytes().unwrap()
}

fn fetched(store: &MemoryHashStore, index: u64, bytes: Vec<u8>) -> Fetched {
    Fetched {
        index,
        proof: inclusion_proof(store, index, store.size()).unwrap(),
        bytes,
    }
}

impl World {
    fn new() -> Self {
        Self::build(Options::default())
    }

    fn build(options: Options) -> Self {
        let keys = Keys::new();
        let root = keys.root();
        let now = now();
        let logged_at = at("2026-11-24T10:00:00Z");
        let app: AppName = APP.parse().unwrap();
        let version: Version = VERSION.parse().unwrap();
        let publisher_key_id = keys.publisher.key_id().to_string();

        // The artifact, packed for real; the client reads locara.toml back out of it.
        let manifest = manifest_text(VERSION);
        let mut artifact = Vec::new();
        let packed = Packer::new()
            .source_date_epoch(1_700_000_000)
            .add_bytes(MANIFEST_PATH, manifest.clone())
            .unwrap()
            .add_bytes_with_mode("bin/notes-search", "#!/bin/sh\n", FileMode::Executable)
            .unwrap()
            .pack(&mut artifact)
            .unwrap();
        let unpacked = tempfile::tempdir().unwrap();
        let destination = unpacked.path().join("app");
        unpack_verified(
            &artifact[..],
            &packed.digest,
            &destination,
            &Limits::default(),
        )
        .unwrap();
        let artifact_manifest = std::fs::read(destination.join(MANIFEST_PATH)).unwrap();

        let provenance_envelope = LocaraBuild {
            artifact_name: "notes-search-1.4.2.tar.zst".to_owned(),
            artifact_digest: options.provenance_artifact.unwrap_or(packed.digest),
            external_parameters: LocaraExternalParameters {
                repository: REPOSITORY.to_owned(),
                commit: options.provenance_commit.unwrap_or(COMMIT).parse().unwrap(),
                manifest_path: MANIFEST_PATH.to_owned(),
                build_command: vec!["cargo".into(), "build".into(), "--release".into()],
            },
            internal_parameters: LocaraInternalParameters {
                builder_version: "0.1.0".to_owned(),
                toolchain: BTreeMap::new(),
            },
            builder_id: BUILDER_ID.to_owned(),
            invocation_id: "job-1".to_owned(),
            started_on: at("2026-11-24T09:50:00Z"),
            finished_on: at("2026-11-24T09:55:00Z"),
        }
        .sign(options.provenance_signer.as_ref().unwrap_or(&keys.builder))
        .unwrap()
        .to_json();

        let statement = ReleaseStatement {
            app: app.clone(),
            version: version.clone(),
            repository: REPOSITORY.to_owned(),
            commit: COMMIT.parse().unwrap(),
            manifest: Digest::of_bytes(manifest.as_bytes()),
            created_at: at("2026-11-24T09:45:00Z"),
        }
        .sign(options.statement_signer.as_ref().unwrap_or(&keys.publisher));
        let record = ReleaseRecord {
            app: APP.to_owned(),
            version: VERSION.to_owned(),
            repository: REPOSITORY.to_owned(),
            commit: COMMIT.to_owned(),
            manifest: manifest.clone(),
            manifest_digest: Digest::of_bytes(manifest.as_bytes()).to_string(),
            artifact: packed.digest.to_string(),
            artifact_size: None,
            provenance: Digest::of_bytes(&provenance_envelope).to_string(),
            provenance_size: None,
            key_id: publisher_key_id.clone(),
            statement: String::from_utf8(statement.to_json()).unwrap(),
            capabilities: Vec::new(),
            expansion: Vec::new(),
            status: "available".to_owned(),
            available_at: logged_at,
            reproducible: true,
            new_signer: None,
        };

        // The log: an app registration, the key registration, (a revocation,) the release, then more.
        let key_revoked = entry_bytes(
            logged_at,
            Event::KeyRevoked {
                publisher: "acme".to_owned(),
                key_id: publisher_key_id.clone(),
                by: "alice".to_owned(),
            },
        );
        let mut entries = vec![
            entry_bytes(
                logged_at,
                Event::AppRegistered {
                    app: APP.to_owned(),
                    repository: REPOSITORY.to_owned(),
                    by: "alice".to_owned(),
                },
            ),
            entry_bytes(
                logged_at,
                Event::KeyRegistered {
                    publisher: "acme".to_owned(),
                    key_id: publisher_key_id,
                    public_key: if options.key_registered_in_bare_base64 {
                        keys.publisher.public_key().to_base64()
                    } else {
                        keys.publisher.public_key().to_string()
                    },
                    by: "alice".to_owned(),
                },
            ),
        ];
        if options.key_revoked_before_release {
            entries.push(key_revoked.clone());
        }
        let release_index = entries.len() as u64;
        entries.push(entry_bytes(
            logged_at,
            Event::ReleasePublished(Box::new(record.clone())),
        ));
        if options.key_revoked_after_release {
            entries.push(key_revoked.clone());
        }
        entries.push(entry_bytes(
            logged_at,
            Event::AppRegistered {
                app: "acme/other".to_owned(),
                repository: "https://git.example.com/acme/other".to_owned(),
                by: "alice".to_owned(),
            },
        ));
        let mut store = MemoryHashStore::new();
        for entry in &entries {
            store.append(entry);
        }
        let key_revocations = entries
            .iter()
            .enumerate()
            .filter(|(_, entry)| **entry == key_revoked)
            .map(|(index, entry)| fetched(&store, index as u64, entry.clone()))
            .collect();

        let checkpoint = Checkpoint {
            origin: LOG_ORIGIN.to_owned(),
            size: store.size(),
            root: store.root(),
            extensions: Vec::new(),
        };
        let checkpoint_note = checkpoint.sign(&keys.log).unwrap().into_bytes();
        // The client last saw the log at one entry: that tree's root is the entry's leaf hash.
        let previous_checkpoint = PreviousCheckpoint {
            size: 1,
            root: leaf_hash(&entries[0]),
        };

        let revocations_json = RevocationList::new(
            REVOCATIONS_VERSION,
            at("2026-11-25T12:00:00Z"),
            vec![Revocation {
                app: "acme/other".parse().unwrap(),
                version: "0.1.0".parse().unwrap(),
                artifact: Digest::of_bytes(b"another artifact"),
                reason: "credential stealer".to_owned(),
                revoked_at: at("2026-11-20T12:00:00Z"),
                advisory: None,
            }],
        )
        .sign(&[&keys.security])
        .unwrap();

        let mut world = Self {
            root,
            now,
            timestamp_json: Vec::new(),
            previous_timestamp: None,
            consistency_proof: consistency_proof(&store, 1, store.size()).unwrap(),
            checkpoint,
            checkpoint_note,
            previous_checkpoint: Some(previous_checkpoint),
            revocations_json,
            highest_revocations_version: Some(REVOCATIONS_VERSION - 1),
            release: fetched(
                &store,
                release_index,
                entries[release_index as usize].clone(),
            ),
            key_registration: fetched(&store, 1, entries[1].clone()),
            key_revocations,
            provenance_envelope,
            record,
            artifact_digest: packed.digest,
            artifact_manifest,
            app,
            version,
            keys,
        };
        world.timestamp_json = world.sign_timestamp(at("2026-11-24T13:00:00Z"));
        world
    }

    /// A `timestamp.json` naming the world's checkpoint and revocation list, expiring at `expires`.
    fn sign_timestamp(&self, expires: Timestamp) -> Vec<u8> {
        self.freshness(expires)
            .sign(&[&self.keys.timestamp])
            .unwrap()
    }

    fn freshness(&self, expires: Timestamp) -> Freshness {
        Freshness::new(
            7,
            expires,
            CheckpointReference {
                size: self.checkpoint.size,
                digest: Digest::of_bytes(&self.checkpoint_note),
            },
            RevocationsReference {
                version: REVOCATIONS_VERSION,
                digest: Digest::of_bytes(&self.revocations_json),
            },
        )
    }

    /// Re-signs `timestamp.json` so that it names the world's current checkpoint and revocation list.
    fn renew_timestamp(&mut self) {
        self.timestamp_json = self.sign_timestamp(at("2026-11-24T13:00:00Z"));
    }

    fn check(&self) -> Result<Checked, CheckFailure> {
        let key_revocations: Vec<LoggedEntry> =
            self.key_revocations.iter().map(Fetched::logged).collect();
        check_install(&InstallEvidence {
            registry: self.registry_evidence(),
            release_entry: self.release.logged(),
            key_entry: self.key_registration.logged(),
            key_revocations: &key_revocations,
            provenance_envelope: &self.provenance_envelope,
            artifact_digest_of_downloaded_bytes: self.artifact_digest,
            artifact_manifest: &self.artifact_manifest,
            expected_app: &self.app,
            expected_version: &self.version,
        })
    }
}

/// Asserts that the world fails `check`, with every `needles` in the message, and returns the message.
#[track_caller]
fn refused(world: &World, check: Check, needles: &[&str]) -> String {
    let failure = world.check().expect_err("the install must be refused");
    let message = failure.to_string();
    assert_eq!(failure.check, check, "{message}");
    assert!(
        message.starts_with(&format!(
            "check {} ({}) failed: ",
            check.number(),
            check.name()
        )),
        "{message}"
    );
    for needle in needles {
        assert!(message.contains(needle), "{message:?} lacks {needle:?}");
    }
    message
}

#[test]
fn a_consistent_release_passes_every_check() {
    let world = World::new();
    let checked = world.check().unwrap();
    assert_eq!(checked.release, world.record);
    assert_eq!(checked.artifact, world.artifact_digest);
    assert_eq!(checked.checkpoint_size, world.checkpoint.size);
    assert_eq!(checked.checkpoint_root, world.checkpoint.root);
    assert_eq!(checked.revocations_version, REVOCATIONS_VERSION);
    assert_eq!(checked.builder_id, BUILDER_ID);
    assert_eq!(&checked.key_id, world.keys.publisher.key_id());
    assert_eq!(checked.manifest.app().name(), &world.app);
    assert_eq!(checked.timestamp.version, 7);
}

#[test]
fn passes_without_a_previous_checkpoint_or_revocation_version() {
    let mut world = World::new();
    world.previous_checkpoint = None;
    world.consistency_proof.clear();
    world.highest_revocations_version = None;
    world.check().unwrap();
}

#[test]
fn passes_when_the_key_was_revoked_after_the_release() {
    let world = World::build(Options {
        key_revoked_after_release: true,
        ..Options::default()
    });
    assert_eq!(world.key_revocations.len(), 1);
    world.check().unwrap();
}

#[test]
fn passes_with_a_key_registration_written_in_the_older_bare_base64_spelling() {
    let world = World::build(Options {
        key_registered_in_bare_base64: true,
        ..Options::default()
    });
    let checked = world.check().unwrap();
    assert_eq!(&checked.key_id, world.keys.publisher.key_id());
}

#[test]
fn check_display_names_number_and_check() {
    let numbers: Vec<u8> = Check::ALL.iter().map(|check| check.number()).collect();
    assert_eq!(numbers, [1, 2, 3, 4, 5, 6, 7]);
    let failure = CheckFailure {
        check: Check::ArtifactDigest,
        detail: "x".to_owned(),
    };
    assert_eq!(failure.to_string(), "check 5 (artifact digest) failed: x");
}

// Check 1: the checkpoint.

#[test]
fn refuses_a_stale_timestamp() {
    let mut world = World::new();
    world.timestamp_json = world.sign_timestamp(at("2026-11-24T11:00:00Z"));
    refused(
        &world,
        Check::Checkpoint,
        &["expired at 2026-11-24T11:00:00Z"],
    );
}

#[test]
fn refuses_a_timestamp_signed_by_another_key() {
    let mut world = World::new();
    world.timestamp_json = world
        .freshness(at("2026-11-24T13:00:00Z"))
        .sign(&[&key(99)])
        .unwrap();
    refused(&world, Check::Checkpoint, &["timestamp"]);
}

#[test]
fn refuses_a_timestamp_older_than_the_last_one_accepted() {
    let mut world = World::new();
    let mut newer = world.freshness(at("2026-11-24T13:00:00Z"));
    newer.version = 8;
    world.previous_timestamp = Some(newer);
    refused(&world, Check::Checkpoint, &["rollback"]);
}

#[test]
fn refuses_a_checkpoint_signed_by_another_key() {
    let mut world = World::new();
    let impostor = SignerKey::generate(LOG_ORIGIN).unwrap();
    world.checkpoint_note = world.checkpoint.sign(&impostor).unwrap().into_bytes();
    world.renew_timestamp();
    refused(
        &world,
        Check::Checkpoint,
        &["does not verify under the log key"],
    );
}

#[test]
fn refuses_a_checkpoint_of_another_log() {
    let mut world = World::new();
    let other_origin = "mirror.example/log";
    let other = Checkpoint {
        origin: other_origin.to_owned(),
        ..world.checkpoint.clone()
    };
    let signer = SignerKey::generate(other_origin).unwrap();
    world.checkpoint_note = other.sign(&signer).unwrap().into_bytes();
    world.renew_timestamp();
    refused(&world, Check::Checkpoint, &["checkpoint"]);
}

#[test]
fn refuses_a_timestamp_naming_another_checkpoint() {
    let mut world = World::new();
    let other = Checkpoint {
        extensions: vec!["another spelling".to_owned()],
        ..world.checkpoint.clone()
    };
    world.checkpoint_note = other.sign(&world.keys.log).unwrap().into_bytes();
    let message = refused(&world, Check::Checkpoint, &["checkpoint has digest"]);
    assert!(message.contains(&Digest::of_bytes(&world.checkpoint_note).to_string()));
}

#[test]
fn refuses_a_timestamp_naming_another_checkpoint_size() {
    let mut world = World::new();
    let mut freshness = world.freshness(at("2026-11-24T13:00:00Z"));
    freshness.checkpoint.size += 1;
    world.timestamp_json = freshness.sign(&[&world.keys.timestamp]).unwrap();
    let size = world.checkpoint.size;
    refused(
        &world,
        Check::Checkpoint,
        &[&format!("size {}", size + 1), &format!("has size {size}")],
    );
}

#[test]
fn refuses_a_checkpoint_rolled_back_below_the_previous_one() {
    let mut world = World::new();
    let size = world.checkpoint.size;
    world.previous_checkpoint = Some(PreviousCheckpoint {
        size: size + 5,
        root: Hash([7; 32]),
    });
    refused(
        &world,
        Check::Checkpoint,
        &[
            &format!("size {size}, smaller than size {}", size + 5),
            "rollback",
        ],
    );
}

#[test]
fn refuses_a_forked_checkpoint() {
    let mut world = World::new();
    world.previous_checkpoint = Some(PreviousCheckpoint {
        size: 1,
        root: Hash([7; 32]),
    });
    refused(
        &world,
        Check::Checkpoint,
        &["not consistent", "forked", &Hash([7; 32]).to_hex()],
    );
}

#[test]
fn refuses_a_tampered_consistency_proof() {
    let mut world = World::new();
    world.consistency_proof[0] = Hash([1; 32]);
    refused(&world, Check::Checkpoint, &["forked"]);
}

// Check 2: inclusion.

#[test]
fn refuses_a_release_entry_with_a_wrong_proof() {
    let mut world = World::new();
    world.release.proof[0] = Hash([1; 32]);
    refused(
        &world,
        Check::Inclusion,
        &["not included under the checkpoint"],
    );
}

#[test]
fn refuses_a_tampered_release_entry() {
    let mut world = World::new();
    let mut record = world.record.clone();
    record.artifact = Digest::of_bytes(b"evil").to_string();
    world.release.bytes = entry_bytes(
        at("2026-11-24T10:00:00Z"),
        Event::ReleasePublished(Box::new(record)),
    );
    refused(&world, Check::Inclusion, &["not included"]);
}

#[test]
fn refuses_an_entry_for_another_version() {
    let mut world = World::new();
    world.version = "1.4.3".parse().unwrap();
    refused(
        &world,
        Check::Inclusion,
        &["is for acme/notes-search 1.4.2, expected acme/notes-search 1.4.3"],
    );
}

#[test]
fn refuses_an_entry_that_is_not_a_release() {
    let mut world = World::new();
    world.release = world.key_registration.clone();
    refused(&world, Check::Inclusion, &["not a release.published entry"]);
}

// Check 3: the publisher's signature.

#[test]
fn refuses_a_statement_signed_by_an_unregistered_key() {
    let world = World::build(Options {
        statement_signer: Some(SigningKey::generate().unwrap()),
        ..Options::default()
    });
    refused(&world, Check::PublisherSignature, &["not signed by"]);
}

#[test]
fn refuses_a_key_registration_that_is_not_included() {
    let mut world = World::new();
    world.key_registration.index = 0;
    refused(&world, Check::PublisherSignature, &["not included"]);
}

#[test]
fn refuses_a_key_revoked_before_the_release() {
    let world = World::build(Options {
        key_revoked_before_release: true,
        ..Options::default()
    });
    refused(
        &world,
        Check::PublisherSignature,
        &["was revoked at entry 2, before the release entry 3"],
    );
}

// Check 4: provenance.

#[test]
fn refuses_a_provenance_other_than_the_one_the_record_names() {
    let mut world = World::new();
    let mut envelope = Envelope::from_json(&world.provenance_envelope).unwrap();
    envelope.signatures.clear();
    envelope.sign(&key(99));
    world.provenance_envelope = envelope.to_json();
    refused(
        &world,
        Check::Provenance,
        &["provenance envelope has digest", &world.record.provenance],
    );
}

#[test]
fn refuses_provenance_signed_by_a_non_builder_key() {
    let world = World::build(Options {
        provenance_signer: Some(key(99)),
        ..Options::default()
    });
    refused(
        &world,
        Check::Provenance,
        &["not signed by the root's builder keys"],
    );
}

#[test]
fn refuses_provenance_for_another_artifact() {
    let other = Digest::of_bytes(b"other artifact");
    let world = World::build(Options {
        provenance_artifact: Some(other),
        ..Options::default()
    });
    refused(
        &world,
        Check::Provenance,
        &[&other.to_string(), &world.record.artifact],
    );
}

#[test]
fn refuses_provenance_for_another_commit() {
    let other = "fedcba9876543210fedcba9876543210fedcba98";
    let world = World::build(Options {
        provenance_commit: Some(other),
        ..Options::default()
    });
    refused(&world, Check::Provenance, &[other, COMMIT]);
}

// Check 5: the downloaded bytes.

#[test]
fn refuses_downloaded_bytes_with_another_digest() {
    let mut world = World::new();
    let found = Digest::of_bytes(b"what the mirror sent");
    world.artifact_digest = found;
    refused(
        &world,
        Check::ArtifactDigest,
        &[&found.to_string(), &world.record.artifact],
    );
}

// Check 6: revocation.

#[test]
fn refuses_a_revoked_release() {
    let mut world = World::new();
    world.revocations_json = RevocationList::new(
        REVOCATIONS_VERSION,
        at("2026-11-25T12:00:00Z"),
        vec![Revocation {
            app: world.app.clone(),
            version: world.version.clone(),
            artifact: world.artifact_digest,
            reason: "credential stealer".to_owned(),
            revoked_at: at("2026-11-24T11:00:00Z"),
            advisory: Some("LOCARA-2026-0001".to_owned()),
        }],
    )
    .sign(&[&world.keys.security])
    .unwrap();
    world.renew_timestamp();
    refused(
        &world,
        Check::Revocation,
        &[
            "acme/notes-search 1.4.2",
            "credential stealer",
            "LOCARA-2026-0001",
        ],
    );
}

#[test]
fn refuses_a_revoked_artifact_under_another_name() {
    let mut world = World::new();
    world.revocations_json = RevocationList::new(
        REVOCATIONS_VERSION,
        at("2026-11-25T12:00:00Z"),
        vec![Revocation {
            app: "acme/clone".parse().unwrap(),
            version: "9.9.9".parse().unwrap(),
            artifact: world.artifact_digest,
            reason: "same malicious bytes".to_owned(),
            revoked_at: at("2026-11-24T11:00:00Z"),
            advisory: None,
        }],
    )
    .sign(&[&world.keys.security])
    .unwrap();
    world.renew_timestamp();
    refused(&world, Check::Revocation, &["same malicious bytes"]);
}

#[test]
fn refuses_a_rolled_back_revocation_list() {
    let mut world = World::new();
    world.highest_revocations_version = Some(REVOCATIONS_VERSION + 1);
    refused(
        &world,
        Check::Revocation,
        &[&format!(
            "version {REVOCATIONS_VERSION} is older than version {}",
            REVOCATIONS_VERSION + 1
        )],
    );
}

#[test]
fn refuses_a_revocation_list_signed_by_another_key() {
    let mut world = World::new();
    world.revocations_json =
        RevocationList::new(REVOCATIONS_VERSION, at("2026-11-25T12:00:00Z"), vec![])
            .sign(&[&world.keys.timestamp])
            .unwrap();
    world.renew_timestamp();
    refused(&world, Check::Revocation, &["security"]);
}

#[test]
fn refuses_a_revocation_list_other_than_the_one_timestamp_names() {
    let mut world = World::new();
    world.revocations_json =
        RevocationList::new(REVOCATIONS_VERSION, at("2026-11-25T12:00:00Z"), vec![])
            .sign(&[&world.keys.security])
            .unwrap();
    refused(&world, Check::Revocation, &["revocation list has digest"]);
}

// Check 7: the manifest.

#[test]
fn refuses_a_manifest_differing_from_the_record() {
    let mut world = World::new();
    world.artifact_manifest = manifest_text("1.4.3").into_bytes();
    refused(
        &world,
        Check::Manifest,
        &[
            &Digest::of_bytes(&world.artifact_manifest).to_string(),
            &world.record.manifest_digest,
        ],
    );
}

impl World {
    fn check_registry(&self) -> Result<CheckedRegistry, CheckFailure> {
        check_registry(&self.registry_evidence())
    }

    fn registry_evidence(&self) -> RegistryEvidence<'_> {
        RegistryEvidence {
            root: &self.root,
            now: self.now,
            timestamp_json: &self.timestamp_json,
            previous_timestamp: self.previous_timestamp.as_ref(),
            checkpoint_note: &self.checkpoint_note,
            previous_checkpoint: self.previous_checkpoint.as_ref(),
            consistency_proof: &self.consistency_proof,
            revocations_json: &self.revocations_json,
            highest_revocations_version: self.highest_revocations_version,
        }
    }
}

#[test]
fn check_registry_accepts_what_check_install_accepts_and_names_the_same_failures() {
    let world = World::new();
    let registry = world.check_registry().unwrap();
    let installed = world.check().unwrap();
    assert_eq!(registry.checkpoint_size, installed.checkpoint_size);
    assert_eq!(registry.checkpoint_root, installed.checkpoint_root);
    assert_eq!(registry.revocations.version, installed.revocations_version);

    // A fork, a rollback of the revocation list, and a stale timestamp: each refused by the view alone.
    let mut forked = World::new();
    forked.previous_checkpoint = Some(PreviousCheckpoint {
        size: 1,
        root: Hash([7; 32]),
    });
    let failure = forked.check_registry().unwrap_err();
    assert_eq!(failure.check, Check::Checkpoint, "{failure}");
    assert!(failure.to_string().contains("forked"), "{failure}");

    let mut rolled_back = World::new();
    rolled_back.highest_revocations_version = Some(REVOCATIONS_VERSION + 1);
    let failure = rolled_back.check_registry().unwrap_err();
    assert_eq!(failure.check, Check::Revocation, "{failure}");

    let mut stale = World::new();
    stale.now = stale.now.checked_add_seconds(400 * 86_400).unwrap();
    let failure = stale.check_registry().unwrap_err();
    assert_eq!(failure.check, Check::Checkpoint, "{failure}");
}

#[test]
fn check_release_entry_runs_checks_1_to_3_before_anything_is_downloaded() {
    // What is downloaded later does not matter to it.
    let mut world = World::new();
    world.provenance_envelope = b"not downloaded yet".to_vec();
    world.artifact_digest = Digest::of_bytes(b"");
    world.artifact_manifest = Vec::new();
    let evidence_release = check_release_entry(&InstallEvidence {
        registry: world.registry_evidence(),
        release_entry: world.release.logged(),
        key_entry: world.key_registration.logged(),
        key_revocations: &[],
        provenance_envelope: &world.provenance_envelope,
        artifact_digest_of_downloaded_bytes: world.artifact_digest,
        artifact_manifest: &world.artifact_manifest,
        expected_app: &world.app,
        expected_version: &world.version,
    })
    .unwrap();
    assert_eq!(evidence_release, world.record);
    // A rewritten entry is refused by check 2 here already.
    let mut tampered = World::new();
    let mut record = tampered.record.clone();
    record.artifact = Digest::of_bytes(b"evil").to_string();
    tampered.release.bytes = entry_bytes(
        at("2026-11-24T10:00:00Z"),
        Event::ReleasePublished(Box::new(record)),
    );
    let failure = check_release_entry(&InstallEvidence {
        registry: tampered.registry_evidence(),
        release_entry: tampered.release.logged(),
        key_entry: tampered.key_registration.logged(),
        key_revocations: &[],
        provenance_envelope: &tampered.provenance_envelope,
        artifact_digest_of_downloaded_bytes: tampered.artifact_digest,
        artifact_manifest: &tampered.artifact_manifest,
        expected_app: &tampered.app,
        expected_version: &tampered.version,
    })
    .unwrap_err();
    assert_eq!(failure.check, Check::Inclusion, "{failure}");
}
