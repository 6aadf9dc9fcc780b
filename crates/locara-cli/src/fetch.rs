//! Fetching what the install checks need from one registry, and running them.
//!
//! A command opens a [`RegistryView`] once per registry: `timestamp.json`, the checkpoint, the
//! consistency proof from the last checkpoint this client accepted, and the revocation list, all checked
//! by [`locara_core::install_check::check_registry`] before anything else is read. Then, per app, the signed
//! index gives the candidate releases ([`RegistryView::candidates`]), and [`RegistryView::fetch_release`]
//! fetches one release's entry, proofs, key entries, provenance and artifact and runs every check of
//! DESIGN §5 ([`locara_core::install_check::check_install`]) on them.
//!
//! Invariants: nothing fetched is trusted until a core check accepted it; every body is read within its
//! limit ([`crate::read_limits`]), and the artifact and provenance to exactly the sizes the proven release
//! entry names (for releases recorded before sizes were, within a cap); the artifact streams to a nameless
//! file in the install store while it is hashed and is never held in memory; its manifest is read by
//! scanning that file ([`locara_core::artifact::scan_verified`]), so nothing is unpacked before every check
//! passed; a release's facts used for resolution (its time, its cool-down end, its capabilities) come from
//! its log entry, which the checks then prove is in the log.

use std::collections::HashMap;
use std::sync::Mutex;

use anyhow::Context as _;
use locara_core::artifact::{Limits, scan_verified};
use locara_core::capabilities::Capabilities;
use locara_core::digest::Digest;
use locara_core::events::{Event, LogEntry, ReleaseRecord};
use locara_core::index::AppIndex;
use locara_core::install_check::{
    Check, CheckFailure, Checked, CheckedRegistry, InstallEvidence, LoggedEntry,
    PreviousCheckpoint, RegistryEvidence, check_install, check_registry, check_release_entry,
};
use locara_core::log::Hash;
use locara_core::manifest::Manifest;
use locara_core::names::{AppName, PublisherName};
use locara_core::revocation::Revocation;
use locara_core::root::{Freshness, Root, SignedMetadata};
use locara_core::time::Timestamp;
use locara_core::version::Version;
use serde::Deserialize;

use locara_client::store::{Download, Store};

use crate::api::{ApiClient, ApiError};
use crate::app_index;
use crate::publisher::{self, RegisteredKey};
use crate::read_limits::{Document, UNSIZED_ARTIFACT_SLACK};
use crate::registry::RegistryEntry;
use crate::release;

/// How often a view is fetched again when the registry re-signed between two reads.
const FETCH_ATTEMPTS: usize = 3;

/// What this client accepted from a registry before: the state the next view must not roll back.
#[derive(Debug, Clone, Default)]
pub struct TrustState {
    /// The last checkpoint accepted.
    pub checkpoint: Option<PreviousCheckpoint>,
    /// The last `timestamp.json` accepted (its signed bytes).
    pub timestamp_json: Option<Vec<u8>>,
    /// The highest revocation-list version accepted.
    pub revocations_version: Option<u64>,
}

impl TrustState {
    /// The accepted `timestamp.json`, decoded (it was verified when it was accepted).
    fn previous_timestamp(&self) -> anyhow::Result<Option<Freshness>> {
        self.timestamp_json
            .as_deref()
            .map(|bytes| {
                SignedMetadata::from_json(bytes)
                    .and_then(|document| document.decode::<Freshness>())
                    .context("the stored timestamp.json of this registry does not decode; the state database is damaged")
            })
            .transpose()
    }
}

/// A registry's state, fetched and checked: the base of every install, update, sync and verify.
#[derive(Debug)]
pub struct RegistryView {
    /// The registry's configuration.
    pub entry: RegistryEntry,
    /// Its HTTP client.
    pub client: ApiClient,
    /// Its root of trust (rotations followed).
    pub root: Root,
    /// The time the view was checked at.
    pub now: Timestamp,
    /// What the client had accepted before this view.
    pub previous: TrustState,
    /// `timestamp.json` as fetched.
    pub timestamp_json: Vec<u8>,
    /// The checkpoint note as fetched.
    pub checkpoint_note: Vec<u8>,
    /// The consistency proof from the previous checkpoint.
    pub consistency_proof: Vec<Hash>,
    /// The revocation list as fetched.
    pub revocations_json: Vec<u8>,
    /// What the checks accepted.
    pub checked: CheckedRegistry,
    /// Publishers' key lists, fetched once per command.
    keys: Mutex<HashMap<PublisherName, Vec<RegisteredKey>>>,
    /// Log entries with inclusion proofs, fetched once per command (key registrations are shared).
    logged: Mutex<HashMap<u64, Logged>>,
    /// Log entries' bytes, fetched once per command.
    entries: Mutex<HashMap<u64, Vec<u8>>>,
    /// The version of each app index accepted in this view (recorded so it never goes back).
    indexes: Mutex<HashMap<AppName, u64>>,
}

/// A log entry's bytes and its inclusion proof.
type Logged = (Vec<u8>, Vec<Hash>);

/// A release the signed index lists, with its log entry read (not yet proven included).
#[derive(Debug, Clone)]
pub struct Candidate {
    /// The app.
    pub app: AppName,
    /// Its version.
    pub version: Version,
    /// The index's status word: `available`, `cooling-down`, `yanked`, `deprecated`, `revoked`, ….
    pub status: String,
    /// The deprecation message, if the index carries one.
    pub message: Option<String>,
    /// The log entry's index.
    pub log_index: u64,
    /// When the log recorded the release.
    pub published_at: Timestamp,
    /// The release as its log entry records it.
    pub record: ReleaseRecord,
    /// Its capabilities, parsed from the manifest in the entry.
    pub capabilities: Capabilities,
    /// The manifest in the entry, parsed.
    pub manifest: Manifest,
}

impl Candidate {
    /// When the release stops cooling down (its `available_at`).
    pub fn available_at(&self) -> Timestamp {
        self.record.available_at
    }
}

/// A release that passed every check, with its bytes, ready to be unpacked.
#[derive(Debug)]
pub struct VerifiedRelease {
    /// What passed.
    pub checked: Checked,
    /// The artifact's compressed bytes, in a nameless file of the install store.
    pub artifact: Download,
    /// The log entry's index.
    pub log_index: u64,
}

/// A release refused by a check: the failure, with the app and version it was for.
#[derive(Debug, thiserror::Error)]
#[error("refusing to install {app} {version}: {failure}")]
pub struct Refused {
    /// The app.
    pub app: AppName,
    /// The version.
    pub version: Version,
    /// The check that failed and what differed.
    pub failure: CheckFailure,
}

#[derive(Deserialize)]
struct ProofBody {
    hashes: Vec<String>,
}

fn decode_hashes(hashes: &[String], what: &str) -> anyhow::Result<Vec<Hash>> {
    hashes
        .iter()
        .map(|hash| {
            Hash::from_base64(hash)
                .with_context(|| format!("the registry's {what} holds a malformed hash {hash:?}"))
        })
        .collect()
}

impl RegistryView {
    /// Fetches the registry's `timestamp.json`, checkpoint, consistency proof and revocation list and
    /// checks them against what this client accepted before (`previous`).
    pub async fn open(
        entry: RegistryEntry,
        client: ApiClient,
        root: Root,
        previous: TrustState,
        now: Timestamp,
    ) -> anyhow::Result<Self> {
        let previous_timestamp = previous.previous_timestamp()?;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let timestamp_json = client
                .get_bytes("timestamp.json", Document::Timestamp)
                .await?;
            let checkpoint_note = client
                .get_bytes("log/checkpoint", Document::Checkpoint)
                .await?;
            let revocations_json = client
                .get_bytes("revocations.json", Document::Revocations)
                .await?;
            // The registry re-signs after each append; a timestamp.json that names another checkpoint than
            // the one read right after it is fetched again before anything is decided.
            let named = SignedMetadata::from_json(&timestamp_json)
                .and_then(|document| document.decode::<Freshness>())
                .ok();
            let raced = named.as_ref().is_some_and(|named| {
                named.check_checkpoint_bytes(&checkpoint_note).is_err()
                    || named.check_revocations_bytes(&revocations_json).is_err()
            });
            if raced && attempt < FETCH_ATTEMPTS {
                continue;
            }
            let consistency_proof = match (&previous.checkpoint, &named) {
                (Some(before), Some(named)) if named.checkpoint.size > before.size => {
                    let body: ProofBody = client
                        .get_json_document(
                            &format!(
                                "log/proof/consistency?first={}&second={}",
                                before.size, named.checkpoint.size
                            ),
                            Document::Proof,
                        )
                        .await?;
                    decode_hashes(&body.hashes, "consistency proof")?
                }
                _ => Vec::new(),
            };
            let checked = check_registry(&RegistryEvidence {
                root: &root,
                now,
                timestamp_json: &timestamp_json,
                previous_timestamp: previous_timestamp.as_ref(),
                checkpoint_note: &checkpoint_note,
                previous_checkpoint: previous.checkpoint.as_ref(),
                consistency_proof: &consistency_proof,
                revocations_json: &revocations_json,
                highest_revocations_version: previous.revocations_version,
            })
            .map_err(|failure| {
                anyhow::Error::new(failure).context(format!(
                    "registry {} ({}) failed its checks; nothing was changed",
                    entry.name, entry.url
                ))
            })?;
            return Ok(Self {
                entry,
                client,
                root,
                now,
                previous,
                timestamp_json,
                checkpoint_note,
                consistency_proof,
                revocations_json,
                checked,
                keys: Mutex::default(),
                logged: Mutex::default(),
                entries: Mutex::default(),
                indexes: Mutex::default(),
            });
        }
    }

    /// The app's signed index, verified under the index role, refusing a version below `last_seen` (the
    /// highest this client accepted before).
    pub async fn index(&self, app: &AppName, last_seen: Option<u64>) -> anyhow::Result<AppIndex> {
        let bytes = release::app_index_bytes(&self.client, app)
            .await?
            .ok_or_else(|| app_index::IndexError::Missing { app: app.clone() })?;
        let index = app_index::verify_app_index(&self.root, &bytes, self.now, app, last_seen)?;
        lock(&self.indexes).insert(app.clone(), index.version);
        Ok(index)
    }

    /// The index versions accepted in this view.
    pub fn index_versions(&self) -> Vec<(AppName, u64)> {
        lock(&self.indexes)
            .iter()
            .map(|(app, version)| (app.clone(), *version))
            .collect()
    }

    /// The releases `index` lists, newest first, each with its log entry read (entries past the verified
    /// checkpoint are left out: they cannot be proven yet).
    pub async fn candidates(&self, index: &AppIndex) -> anyhow::Result<Vec<Candidate>> {
        let mut found = Vec::new();
        for listed in index.releases.iter().rev() {
            if listed.log_index >= self.checked.checkpoint_size {
                continue;
            }
            let bytes = self.entry_bytes(listed.log_index).await?;
            let entry = LogEntry::from_bytes(&bytes).with_context(|| {
                format!(
                    "log entry {} (the index's entry for {} {}) does not decode",
                    listed.log_index, index.app, listed.version
                )
            })?;
            let Event::ReleasePublished(record) = entry.event else {
                anyhow::bail!(
                    "the signed index names log entry {} for {} {}, but that entry is not a release; the registry is inconsistent (check 2, inclusion, would refuse it)",
                    listed.log_index,
                    index.app,
                    listed.version
                );
            };
            let manifest = Manifest::parse(&record.manifest).with_context(|| {
                format!(
                    "the manifest in log entry {} does not parse",
                    listed.log_index
                )
            })?;
            found.push(Candidate {
                app: index.app.clone(),
                version: listed.version.clone(),
                status: listed.status.clone(),
                message: listed.message.clone(),
                log_index: listed.log_index,
                published_at: entry.time,
                capabilities: manifest.capabilities().clone(),
                manifest,
                record: *record,
            });
        }
        Ok(found)
    }

    async fn entry_bytes(&self, index: u64) -> Result<Vec<u8>, ApiError> {
        if let Some(found) = lock(&self.entries).get(&index) {
            return Ok(found.clone());
        }
        let bytes = self
            .client
            .get_bytes(&format!("log/entries/{index}"), Document::LogEntry)
            .await?;
        lock(&self.entries).insert(index, bytes.clone());
        Ok(bytes)
    }

    /// Log entry `index` with its inclusion proof under the verified checkpoint (not yet checked).
    pub async fn logged(&self, index: u64) -> anyhow::Result<Logged> {
        if let Some(found) = lock(&self.logged).get(&index) {
            return Ok(found.clone());
        }
        let bytes = self.entry_bytes(index).await?;
        let body: ProofBody = self
            .client
            .get_json_document(
                &format!(
                    "log/proof/inclusion?index={index}&tree_size={}",
                    self.checked.checkpoint_size
                ),
                Document::Proof,
            )
            .await?;
        let logged = (bytes, decode_hashes(&body.hashes, "inclusion proof")?);
        lock(&self.logged).insert(index, logged.clone());
        Ok(logged)
    }

    /// The release keys of `publisher`, fetched once per view.
    async fn keys_of(&self, publisher: &PublisherName) -> anyhow::Result<Vec<RegisteredKey>> {
        if let Some(found) = lock(&self.keys).get(publisher) {
            return Ok(found.clone());
        }
        let keys = publisher::list_keys(&self.client, publisher).await?;
        lock(&self.keys).insert(publisher.clone(), keys.clone());
        Ok(keys)
    }

    /// Fetches everything for `candidate` and runs checks 1–7; the artifact is downloaded into a file of
    /// `store` with `progress(received, total)` called as it arrives. A refusal is a [`Refused`] error.
    pub async fn fetch_release(
        &self,
        candidate: &Candidate,
        limits: &Limits,
        store: &Store,
        progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    ) -> anyhow::Result<VerifiedRelease> {
        let (release_bytes, release_proof) = self.logged(candidate.log_index).await?;
        let keys = self.keys_of(candidate.app.publisher()).await?;
        let key = keys
            .iter()
            .find(|key| key.key_id.to_string() == candidate.record.key_id)
            .with_context(|| {
                format!(
                    "registry lists no key {} for publisher {}, the key that signed {} {}",
                    candidate.record.key_id,
                    candidate.app.publisher(),
                    candidate.app,
                    candidate.version
                )
            })?;
        let (key_bytes, key_proof) = self.logged(key.log_index).await?;
        let mut revocations = Vec::new();
        if let Some(revoked) = key.revoked_log_index
            && revoked < self.checked.checkpoint_size
        {
            revocations.push(self.logged(revoked).await?);
        }
        let revocation_entries: Vec<LoggedEntry> = revocations
            .iter()
            .map(|(bytes, proof)| LoggedEntry {
                index: key.revoked_log_index.unwrap_or_default(),
                bytes,
                proof,
            })
            .collect();
        let previous_timestamp = self.previous.previous_timestamp()?;
        let mut evidence = InstallEvidence {
            registry: self.evidence(previous_timestamp.as_ref()),
            release_entry: LoggedEntry {
                index: candidate.log_index,
                bytes: &release_bytes,
                proof: &release_proof,
            },
            key_entry: LoggedEntry {
                index: key.log_index,
                bytes: &key_bytes,
                proof: &key_proof,
            },
            key_revocations: &revocation_entries,
            // Filled in once downloaded; checks 1-3 do not read them.
            provenance_envelope: b"",
            artifact_digest_of_downloaded_bytes: Digest::of_bytes(b""),
            artifact_manifest: b"",
            expected_app: &candidate.app,
            expected_version: &candidate.version,
        };
        let refused = |failure: CheckFailure| Refused {
            app: candidate.app.clone(),
            version: candidate.version.clone(),
            failure,
        };
        // Checks 1-3 first: nothing the entry names is downloaded before the entry is proven.
        let record = check_release_entry(&evidence).map_err(refused)?;
        let provenance_digest: Digest = record.provenance.parse().with_context(|| {
            format!(
                "the release entry's provenance {:?} is not a digest",
                record.provenance
            )
        })?;
        let artifact_digest: Digest = record.artifact.parse().with_context(|| {
            format!(
                "the release entry's artifact {:?} is not a digest",
                record.artifact
            )
        })?;
        let provenance = self
            .client
            .get_bytes(
                &blob_path(&provenance_digest),
                Document::Provenance(record.provenance_size),
            )
            .await?;
        let artifact = store.begin_download(&artifact_digest).with_context(|| {
            format!(
                "cannot make a file to download {} {} into",
                candidate.app, candidate.version
            )
        })?;
        let document = Document::Artifact {
            size: record.artifact_size,
            unsized_cap: limits.max_total_size.saturating_add(UNSIZED_ARTIFACT_SLACK),
        };
        let downloaded = self
            .client
            .download(
                &blob_path(&artifact_digest),
                document,
                artifact
                    .writer()
                    .context("cannot open the download's file")?,
                progress,
            )
            .await?;
        let scanned = if downloaded == artifact_digest {
            let reader = artifact
                .reader()
                .context("cannot read back the downloaded artifact")?;
            let (digest, limits) = (artifact_digest, *limits);
            Some(
                tokio::task::spawn_blocking(move || {
                    scan_verified(std::io::BufReader::new(reader), &digest, &limits)
                })
                .await
                .context("the artifact scan stopped")?,
            )
        } else {
            None
        };
        let manifest_bytes: &[u8] = match &scanned {
            Some(Ok(scanned)) => &scanned.manifest,
            _ => b"",
        };
        evidence.provenance_envelope = &provenance;
        evidence.artifact_digest_of_downloaded_bytes = downloaded;
        evidence.artifact_manifest = manifest_bytes;
        match check_install(&evidence) {
            Ok(checked) => Ok(VerifiedRelease {
                checked,
                artifact,
                log_index: candidate.log_index,
            }),
            Err(failure) => match scanned {
                // The bytes are the release's but do not read as a safe artifact: say why.
                Some(Err(error)) if failure.check == Check::Manifest => {
                    Err(refused(CheckFailure {
                        check: Check::Manifest,
                        detail: format!("the artifact cannot be read safely: {error}"),
                    })
                    .into())
                }
                _ => Err(refused(failure).into()),
            },
        }
    }

    /// The registry half of every release's evidence: this view against what was accepted before.
    fn evidence<'a>(&'a self, previous_timestamp: Option<&'a Freshness>) -> RegistryEvidence<'a> {
        RegistryEvidence {
            root: &self.root,
            now: self.now,
            timestamp_json: &self.timestamp_json,
            previous_timestamp,
            checkpoint_note: &self.checkpoint_note,
            previous_checkpoint: self.previous.checkpoint.as_ref(),
            consistency_proof: &self.consistency_proof,
            revocations_json: &self.revocations_json,
            highest_revocations_version: self.previous.revocations_version,
        }
    }

    /// The newest trust state: what the next view is checked against.
    pub fn accepted(&self) -> TrustState {
        TrustState {
            checkpoint: Some(PreviousCheckpoint {
                size: self.checked.checkpoint_size,
                root: self.checked.checkpoint_root,
            }),
            timestamp_json: Some(self.timestamp_json.clone()),
            revocations_version: Some(self.checked.revocations.version),
        }
    }

    /// Why the accepted revocation list revokes `app` `version`, if it does.
    pub fn revoked(&self, app: &AppName, version: &Version) -> Option<String> {
        self.checked
            .revocations
            .find(app, version)
            .map(Revocation::describe)
    }
}

/// The map behind `mutex`; a poisoned lock still holds a usable cache.
fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// `blobs/sha256/<hex>`.
pub fn blob_path(digest: &Digest) -> String {
    format!("blobs/sha256/{}", digest.hex())
}
