//! The client's checks before it installs a release (DESIGN §5, checks 1–7), as one pure function.
//!
//! The client fetches the documents ([`InstallEvidence`]) and calls [`check_install`]; everything that
//! decides whether the bytes may be installed happens here, with no I/O, so the same evidence always gets
//! the same answer and a test can build any attack in memory. Consent (the user granting the manifest's
//! capabilities) is the client's part and is not checked here.
//!
//! Invariant: [`check_install`] returns [`Checked`] only if every check below holds, run in this order,
//! and otherwise fails with the first [`Check`] that did not, naming the values that differed:
//!
//! 1. [`Check::Checkpoint`]: `timestamp.json` verifies under the root's timestamp role and is unexpired
//!    (and does not roll back the one accepted before, if given); the checkpoint note verifies under the
//!    root's log key and origin; `timestamp.json` names exactly this checkpoint (digest of the note bytes
//!    and size); a previous checkpoint, if given, is not larger and is a prefix of this one (consistency
//!    proof), so neither a rollback nor a fork passes.
//! 2. [`Check::Inclusion`]: the release entry is included under the checkpoint root and is a
//!    `release.published` entry for exactly the expected app and version.
//! 3. [`Check::PublisherSignature`]: the `key.registered` entry of the record's key is included, earlier in
//!    the log than the release, for the app's publisher and the record's key id; no included `key.revoked`
//!    entry for that key precedes the release; the record's release statement verifies under that key for
//!    the app and version, and names the record's repository, commit and manifest digest.
//! 4. [`Check::Provenance`]: the provenance envelope is the one the record names (digest), verifies under
//!    the root's builder keys, and is about the record's artifact, repository and commit.
//! 5. [`Check::ArtifactDigest`]: the downloaded bytes hash to the record's artifact digest.
//! 6. [`Check::Revocation`]: the revocation list verifies under the security role, is unexpired, is not
//!    older than the highest version seen, is the one `timestamp.json` names, and lists neither this app
//!    and version nor this artifact.
//! 7. [`Check::Manifest`]: the `locara.toml` inside the artifact is byte for byte the record's manifest,
//!    hashes to the record's manifest digest, parses, and names the expected app and version.

use std::fmt;
use std::str::FromStr;

use crate::digest::Digest;
use crate::dsse::Envelope;
use crate::events::{Event, LogEntry, ReleaseRecord};
use crate::keys::{KeyId, PublicKey, TrustedKeys};
use crate::log::{
    Hash, VerifierKey, leaf_hash, verify_checkpoint, verify_consistency, verify_inclusion,
};
use crate::manifest::Manifest;
use crate::names::AppName;
use crate::revocation::{RevocationList, verify_revocation_list};
use crate::root::{Freshness, Role, Root, verify_freshness};
use crate::statement::GitCommit;
use crate::statement::provenance::verify_provenance;
use crate::statement::release::verify_release;
use crate::time::Timestamp;
use crate::version::Version;

/// One of the checks a client makes before it installs (DESIGN §5), numbered as there.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Check {
    /// 1: the checkpoint is signed, fresh and consistent with the last one seen.
    Checkpoint,
    /// 2: the release entry is included under the checkpoint.
    Inclusion,
    /// 3: the publisher's release signature verifies under a registered, unrevoked key.
    PublisherSignature,
    /// 4: the provenance is signed by a builder key and is about this artifact, source and commit.
    Provenance,
    /// 5: the downloaded bytes hash to the artifact digest.
    ArtifactDigest,
    /// 6: the release is not revoked, per a fresh revocation list that did not roll back.
    Revocation,
    /// 7: the manifest inside the artifact is the release's.
    Manifest,
}

impl Check {
    /// Every check, in the order [`check_install`] runs them.
    pub const ALL: [Check; 7] = [
        Check::Checkpoint,
        Check::Inclusion,
        Check::PublisherSignature,
        Check::Provenance,
        Check::ArtifactDigest,
        Check::Revocation,
        Check::Manifest,
    ];

    /// The check's number in DESIGN §5.
    pub fn number(self) -> u8 {
        match self {
            Check::Checkpoint => 1,
            Check::Inclusion => 2,
            Check::PublisherSignature => 3,
            Check::Provenance => 4,
            Check::ArtifactDigest => 5,
            Check::Revocation => 6,
            Check::Manifest => 7,
        }
    }

    /// The check's name in plain words.
    pub fn name(self) -> &'static str {
        match self {
            Check::Checkpoint => "checkpoint",
            Check::Inclusion => "inclusion",
            Check::PublisherSignature => "publisher signature",
            Check::Provenance => "provenance",
            Check::ArtifactDigest => "artifact digest",
            Check::Revocation => "revocation",
            Check::Manifest => "manifest",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "check {} ({})", self.number(), self.name())
    }
}

/// Why an install was refused: the check that failed and the values that differed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{check} failed: {detail}")]
pub struct CheckFailure {
    /// The check that failed.
    pub check: Check,
    /// What differed, with the expected and the found values.
    pub detail: String,
}

fn fail(check: Check, detail: impl fmt::Display) -> CheckFailure {
    CheckFailure {
        check,
        detail: detail.to_string(),
    }
}

/// The last checkpoint this client accepted: all it needs to refuse a rollback or a fork.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PreviousCheckpoint {
    /// Its tree size.
    pub size: u64,
    /// Its root hash.
    pub root: Hash,
}

/// A log entry as the client fetched it, with its index and its inclusion proof under the checkpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoggedEntry<'a> {
    /// The entry's index in the log.
    pub index: u64,
    /// The entry's exact bytes.
    pub bytes: &'a [u8],
    /// Its inclusion proof in the tree of the checkpoint's size.
    pub proof: &'a [Hash],
}

/// Everything the client fetched for one install; nothing in it is trusted but `registry.root`.
#[derive(Debug, Clone, Copy)]
pub struct InstallEvidence<'a> {
    /// The registry's state, as for [`check_registry`].
    pub registry: RegistryEvidence<'a>,
    /// The `release.published` entry of the release.
    pub release_entry: LoggedEntry<'a>,
    /// The `key.registered` entry of the key that signed the release statement.
    pub key_entry: LoggedEntry<'a>,
    /// The `key.revoked` entries the client found for that key (may be empty).
    pub key_revocations: &'a [LoggedEntry<'a>],
    /// The provenance envelope (DSSE JSON) the record names.
    pub provenance_envelope: &'a [u8],
    /// The SHA-256 of the artifact bytes the client downloaded.
    pub artifact_digest_of_downloaded_bytes: Digest,
    /// The `locara.toml` bytes read from inside the artifact.
    pub artifact_manifest: &'a [u8],
    /// The app the user asked for.
    pub expected_app: &'a AppName,
    /// The version the client resolved.
    pub expected_version: &'a Version,
}

/// What a client fetches once per registry and command: all that check 1 and the list half of check 6
/// need, with no release in view (`locara sync` checks this alone).
#[derive(Debug, Clone, Copy)]
pub struct RegistryEvidence<'a> {
    /// The trusted root (rotations already followed).
    pub root: &'a Root,
    /// The time of the check.
    pub now: Timestamp,
    /// `/timestamp.json`.
    pub timestamp_json: &'a [u8],
    /// The last `timestamp.json` this client accepted, if any.
    pub previous_timestamp: Option<&'a Freshness>,
    /// `/log/checkpoint`: the signed note.
    pub checkpoint_note: &'a [u8],
    /// The last checkpoint this client accepted, if any.
    pub previous_checkpoint: Option<&'a PreviousCheckpoint>,
    /// The consistency proof from the previous checkpoint's size to this one's (empty if none).
    pub consistency_proof: &'a [Hash],
    /// `/revocations.json`.
    pub revocations_json: &'a [u8],
    /// The highest revocation-list version this client accepted before, if any.
    pub highest_revocations_version: Option<u64>,
}

/// A registry's fetched state that passed check 1 and the list half of check 6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRegistry {
    /// The accepted `timestamp.json`.
    pub timestamp: Freshness,
    /// The verified checkpoint's size.
    pub checkpoint_size: u64,
    /// The verified checkpoint's root hash.
    pub checkpoint_root: Hash,
    /// The accepted revocation list.
    pub revocations: RevocationList,
}

/// Checks a registry's state without a release: check 1 (signed, fresh, consistent checkpoint) and the
/// revocation list's signature, freshness, version and agreement with `timestamp.json` (check 6 without
/// looking up a release). The same code [`check_install`] runs.
pub fn check_registry(evidence: &RegistryEvidence) -> Result<CheckedRegistry, CheckFailure> {
    let (timestamp, checkpoint_size, checkpoint_root) = check_checkpoint(evidence)?;
    let revocations = check_revocation_list(evidence, &timestamp)?;
    Ok(CheckedRegistry {
        timestamp,
        checkpoint_size,
        checkpoint_root,
        revocations,
    })
}

/// Checks 1–3 alone (checkpoint, inclusion, publisher signature) and returns the proven release record:
/// what a client runs as soon as it holds a release's entry and its key's entries, before it downloads
/// anything the entry names (so an unproven entry never makes it fetch a byte). Reads only `registry`,
/// `release_entry`, `key_entry`, `key_revocations`, `expected_app` and `expected_version`; the same code
/// [`check_install`] runs first.
pub fn check_release_entry(evidence: &InstallEvidence) -> Result<ReleaseRecord, CheckFailure> {
    let (_, size, root) = check_checkpoint(&evidence.registry)?;
    let (release, typed) = check_inclusion(evidence, size, &root)?;
    check_publisher_signature(evidence, &release, &typed, size, &root)?;
    Ok(release)
}

/// What passed every check: the values a client records after installing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The release as the log records it.
    pub release: ReleaseRecord,
    /// The artifact's digest.
    pub artifact: Digest,
    /// The verified checkpoint's size (the client's next previous checkpoint).
    pub checkpoint_size: u64,
    /// The verified checkpoint's root hash.
    pub checkpoint_root: Hash,
    /// The accepted `timestamp.json` (the client's next previous timestamp).
    pub timestamp: Freshness,
    /// The accepted revocation list's version (the client's next highest version).
    pub revocations_version: u64,
    /// The key that signed the release statement.
    pub key_id: KeyId,
    /// The builder id the provenance names.
    pub builder_id: String,
    /// The manifest inside the artifact.
    pub manifest: Manifest,
}

/// The release fields the later checks compare against, parsed once.
struct TypedRecord {
    artifact: Digest,
    provenance: Digest,
    manifest_digest: Digest,
    commit: GitCommit,
    key_id: KeyId,
}

/// Runs checks 1–7 over `evidence` (see the module docs); the first failure stops them.
pub fn check_install(evidence: &InstallEvidence) -> Result<Checked, CheckFailure> {
    let (timestamp, checkpoint_size, checkpoint_root) = check_checkpoint(&evidence.registry)?;
    let (release, typed) = check_inclusion(evidence, checkpoint_size, &checkpoint_root)?;
    check_publisher_signature(
        evidence,
        &release,
        &typed,
        checkpoint_size,
        &checkpoint_root,
    )?;
    let builder_id = check_provenance(evidence, &release, &typed)?;
    check_artifact_digest(evidence, &typed)?;
    let revocations = check_revocation(evidence, &timestamp, &typed)?;
    let manifest = check_manifest(evidence, &release, &typed)?;
    Ok(Checked {
        artifact: typed.artifact,
        key_id: typed.key_id,
        release,
        checkpoint_size,
        checkpoint_root,
        timestamp,
        revocations_version: revocations.version,
        builder_id,
        manifest,
    })
}

fn check_checkpoint(evidence: &RegistryEvidence) -> Result<(Freshness, u64, Hash), CheckFailure> {
    let check = Check::Checkpoint;
    let timestamp = verify_freshness(
        evidence.root,
        evidence.timestamp_json,
        evidence.now,
        evidence.previous_timestamp,
    )
    .map_err(|error| fail(check, error))?;
    let log = evidence.root.log();
    let verifier: VerifierKey = log.verifier_key.parse().map_err(|error| {
        fail(
            check,
            format_args!("root.json's log verifier key does not parse: {error}"),
        )
    })?;
    let checkpoint =
        verify_checkpoint(evidence.checkpoint_note, &log.origin, &verifier).map_err(|error| {
            fail(
                check,
                format_args!("checkpoint does not verify under the log key {verifier}: {error}"),
            )
        })?;
    timestamp
        .check_checkpoint_bytes(evidence.checkpoint_note)
        .map_err(|error| fail(check, error))?;
    if timestamp.checkpoint.size != checkpoint.size {
        return Err(fail(
            check,
            format_args!(
                "timestamp.json names a checkpoint of size {}, the checkpoint has size {}",
                timestamp.checkpoint.size, checkpoint.size
            ),
        ));
    }
    if let Some(previous) = evidence.previous_checkpoint {
        if checkpoint.size < previous.size {
            return Err(fail(
                check,
                format_args!(
                    "checkpoint has size {}, smaller than size {} seen before; refusing a rollback",
                    checkpoint.size, previous.size
                ),
            ));
        }
        verify_consistency(
            previous.size,
            checkpoint.size,
            &previous.root,
            &checkpoint.root,
            evidence.consistency_proof,
        )
        .map_err(|error| {
            fail(
                check,
                format_args!(
                    "checkpoint (size {}, root {}) is not consistent with the one seen before (size {}, root {}); the log forked: {error}",
                    checkpoint.size,
                    checkpoint.root.to_hex(),
                    previous.size,
                    previous.root.to_hex()
                ),
            )
        })?;
    }
    Ok((timestamp, checkpoint.size, checkpoint.root))
}

/// Refuses an entry that is not record `index` of the tree of `size` records with root `root`.
fn check_included(
    check: Check,
    what: &str,
    entry: &LoggedEntry,
    size: u64,
    root: &Hash,
) -> Result<LogEntry, CheckFailure> {
    verify_inclusion(&leaf_hash(entry.bytes), entry.index, size, entry.proof, root).map_err(
        |error| {
            fail(
                check,
                format_args!(
                    "{what} entry {} is not included under the checkpoint (size {size}, root {}): {error}",
                    entry.index,
                    root.to_hex()
                ),
            )
        },
    )?;
    LogEntry::from_bytes(entry.bytes).map_err(|error| {
        fail(
            check,
            format_args!("{what} entry {} is not a log entry: {error}", entry.index),
        )
    })
}

fn parse_field<T: FromStr>(field: &str, value: &str) -> Result<T, CheckFailure>
where
    T::Err: fmt::Display,
{
    value.parse().map_err(|error| {
        fail(
            Check::Inclusion,
            format_args!("release entry's {field} {value:?} does not parse: {error}"),
        )
    })
}

fn check_inclusion(
    evidence: &InstallEvidence,
    size: u64,
    root: &Hash,
) -> Result<(ReleaseRecord, TypedRecord), CheckFailure> {
    let check = Check::Inclusion;
    let entry = check_included(check, "release", &evidence.release_entry, size, root)?;
    let Event::ReleasePublished(release) = entry.event else {
        return Err(fail(
            check,
            format_args!(
                "entry {} is not a release.published entry",
                evidence.release_entry.index
            ),
        ));
    };
    let app: AppName = parse_field("app", &release.app)?;
    let version: Version = parse_field("version", &release.version)?;
    if &app != evidence.expected_app || &version != evidence.expected_version {
        return Err(fail(
            check,
            format_args!(
                "release entry {} is for {app} {version}, expected {} {}",
                evidence.release_entry.index, evidence.expected_app, evidence.expected_version
            ),
        ));
    }
    let typed = TypedRecord {
        artifact: parse_field("artifact", &release.artifact)?,
        provenance: parse_field("provenance", &release.provenance)?,
        manifest_digest: parse_field("manifest_digest", &release.manifest_digest)?,
        commit: parse_field("commit", &release.commit)?,
        key_id: parse_field("key_id", &release.key_id)?,
    };
    Ok((*release, typed))
}

fn check_publisher_signature(
    evidence: &InstallEvidence,
    release: &ReleaseRecord,
    typed: &TypedRecord,
    size: u64,
    root: &Hash,
) -> Result<(), CheckFailure> {
    let check = Check::PublisherSignature;
    let publisher = evidence.expected_app.publisher().as_str();
    let key_entry = &evidence.key_entry;
    let entry = check_included(check, "key registration", key_entry, size, root)?;
    let Event::KeyRegistered {
        publisher: registered_for,
        key_id,
        public_key,
        ..
    } = entry.event
    else {
        return Err(fail(
            check,
            format_args!("entry {} is not a key.registered entry", key_entry.index),
        ));
    };
    if registered_for != publisher || key_id != release.key_id {
        return Err(fail(
            check,
            format_args!(
                "key.registered entry {} is for key {key_id} of publisher {registered_for:?}, expected key {} of publisher {publisher:?}",
                key_entry.index, release.key_id
            ),
        ));
    }
    let public_key = PublicKey::from_any_spelling(&public_key).map_err(|error| {
        fail(
            check,
            format_args!(
                "key.registered entry {} has an invalid public key: {error}",
                key_entry.index
            ),
        )
    })?;
    if public_key.key_id() != &typed.key_id {
        return Err(fail(
            check,
            format_args!(
                "key.registered entry {} names key id {}, but its public key has id {}",
                key_entry.index,
                typed.key_id,
                public_key.key_id()
            ),
        ));
    }
    if key_entry.index >= evidence.release_entry.index {
        return Err(fail(
            check,
            format_args!(
                "key {} was registered at entry {}, not before the release entry {}",
                typed.key_id, key_entry.index, evidence.release_entry.index
            ),
        ));
    }
    for revocation in evidence.key_revocations {
        let entry = check_included(check, "key revocation", revocation, size, root)?;
        let Event::KeyRevoked {
            publisher: revoked_for,
            key_id: revoked_key,
            ..
        } = entry.event
        else {
            return Err(fail(
                check,
                format_args!("entry {} is not a key.revoked entry", revocation.index),
            ));
        };
        if revoked_for != publisher || revoked_key != release.key_id {
            return Err(fail(
                check,
                format_args!(
                    "key.revoked entry {} is for key {revoked_key} of publisher {revoked_for:?}, expected key {} of publisher {publisher:?}",
                    revocation.index, release.key_id
                ),
            ));
        }
        if revocation.index < evidence.release_entry.index {
            return Err(fail(
                check,
                format_args!(
                    "key {} was revoked at entry {}, before the release entry {}",
                    typed.key_id, revocation.index, evidence.release_entry.index
                ),
            ));
        }
    }
    let envelope = Envelope::from_json(release.statement.as_bytes()).map_err(|error| {
        fail(
            check,
            format_args!("release statement is not a DSSE envelope: {error}"),
        )
    })?;
    let verified = verify_release(
        &envelope,
        &TrustedKeys::single(public_key),
        evidence.expected_app,
        evidence.expected_version,
    )
    .map_err(|error| fail(check, format_args!("under key {}: {error}", typed.key_id)))?;
    let statement = &verified.statement;
    if statement.repository != release.repository
        || statement.commit != typed.commit
        || statement.manifest != typed.manifest_digest
    {
        return Err(fail(
            check,
            format_args!(
                "release statement names repository {:?}, commit {}, manifest {}; the release entry has {:?}, {}, {}",
                statement.repository,
                statement.commit,
                statement.manifest,
                release.repository,
                typed.commit,
                typed.manifest_digest
            ),
        ));
    }
    Ok(())
}

fn check_provenance(
    evidence: &InstallEvidence,
    release: &ReleaseRecord,
    typed: &TypedRecord,
) -> Result<String, CheckFailure> {
    let check = Check::Provenance;
    let found = Digest::of_bytes(evidence.provenance_envelope);
    if found != typed.provenance {
        return Err(fail(
            check,
            format_args!(
                "provenance envelope has digest {found}, the release entry names {}",
                typed.provenance
            ),
        ));
    }
    let envelope = Envelope::from_json(evidence.provenance_envelope).map_err(|error| {
        fail(
            check,
            format_args!("provenance is not a DSSE envelope: {error}"),
        )
    })?;
    let verified = verify_provenance(
        &envelope,
        evidence.registry.root.role_keys(Role::Builder),
        &typed.artifact,
        &release.repository,
        &typed.commit,
    )
    .map_err(|error| fail(check, error))?;
    Ok(verified.builder_id().to_owned())
}

fn check_artifact_digest(
    evidence: &InstallEvidence,
    typed: &TypedRecord,
) -> Result<(), CheckFailure> {
    let found = evidence.artifact_digest_of_downloaded_bytes;
    if found != typed.artifact {
        return Err(fail(
            Check::ArtifactDigest,
            format_args!(
                "downloaded bytes hash to {found}, the release entry names {}",
                typed.artifact
            ),
        ));
    }
    Ok(())
}

fn check_revocation_list(
    evidence: &RegistryEvidence,
    timestamp: &Freshness,
) -> Result<RevocationList, CheckFailure> {
    let check = Check::Revocation;
    let list = verify_revocation_list(
        evidence.root,
        evidence.revocations_json,
        evidence.now,
        evidence.highest_revocations_version,
    )
    .map_err(|error| fail(check, error))?;
    timestamp
        .check_revocations_bytes(evidence.revocations_json)
        .map_err(|error| fail(check, error))?;
    if timestamp.revocations.version != list.version {
        return Err(fail(
            check,
            format_args!(
                "timestamp.json names revocation list version {}, the list has version {}",
                timestamp.revocations.version, list.version
            ),
        ));
    }
    Ok(list)
}

fn check_revocation(
    evidence: &InstallEvidence,
    timestamp: &Freshness,
    typed: &TypedRecord,
) -> Result<RevocationList, CheckFailure> {
    let check = Check::Revocation;
    let list = check_revocation_list(&evidence.registry, timestamp)?;
    let revoked = list
        .find(evidence.expected_app, evidence.expected_version)
        .or_else(|| list.find_artifact(&typed.artifact));
    if let Some(revocation) = revoked {
        return Err(fail(
            check,
            format_args!(
                "{} {} (artifact {}) was {}",
                revocation.app,
                revocation.version,
                revocation.artifact,
                revocation.describe()
            ),
        ));
    }
    Ok(list)
}

fn check_manifest(
    evidence: &InstallEvidence,
    release: &ReleaseRecord,
    typed: &TypedRecord,
) -> Result<Manifest, CheckFailure> {
    let check = Check::Manifest;
    let found = Digest::of_bytes(evidence.artifact_manifest);
    if found != typed.manifest_digest {
        return Err(fail(
            check,
            format_args!(
                "locara.toml inside the artifact has digest {found}, the release entry names {}",
                typed.manifest_digest
            ),
        ));
    }
    if evidence.artifact_manifest != release.manifest.as_bytes() {
        return Err(fail(
            check,
            format_args!(
                "locara.toml inside the artifact ({} bytes) differs from the release entry's manifest ({} bytes)",
                evidence.artifact_manifest.len(),
                release.manifest.len()
            ),
        ));
    }
    let text = std::str::from_utf8(evidence.artifact_manifest).map_err(|error| {
        fail(
            check,
            format_args!("locara.toml inside the artifact is not UTF-8: {error}"),
        )
    })?;
    let manifest = Manifest::parse(text).map_err(|error| fail(check, error))?;
    let (app, version) = (manifest.app().name(), manifest.app().version());
    if app != evidence.expected_app || version != evidence.expected_version {
        return Err(fail(
            check,
            format_args!(
                "locara.toml inside the artifact names {app} {version}, expected {} {}",
                evidence.expected_app, evidence.expected_version
            ),
        ));
    }
    Ok(manifest)
}
