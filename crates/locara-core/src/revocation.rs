//! The revocation list: releases the security team revoked, signed by the root's `security` role.
//!
//! The file is a [`SignedMetadata`] document whose `signed` object is:
//!
//! ```json
//! {"_type":"revocations","spec_version":"1","version":7,"expires":"2026-11-25T19:00:00Z",
//!  "entries":[{"app":"acme/notes-search","version":"1.4.2","artifact":"sha256:<hex>",
//!              "reason":"credential stealer","revoked_at":"2026-11-24T19:08:00Z","advisory":"LOCARA-2026-0001"}]}
//! ```
//!
//! Invariant: [`verify_revocation_list`] returns a list only if a threshold of the security role's keys
//! signed it, it has not expired at the caller's `now`, its version is not lower than the highest version
//! the client accepted before (rollback refused; an equal version is the same list fetched again), and no
//! release is listed twice. Entries are only ever added: the record of a revocation stays forever
//! (DESIGN §1.6), and [`RevocationList::dropped_since`] lets a client notice a list that forgot one.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::keys::SigningKey;
use crate::names::AppName;
use crate::root::{MetadataError, Role, RoleMetadata, Root, SPEC_VERSION, SignedMetadata};
use crate::time::Timestamp;
use crate::version::Version;

/// The `_type` of the revocation list.
pub const REVOCATIONS_TYPE: &str = "revocations";

/// One revoked release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Revocation {
    /// The app.
    pub app: AppName,
    /// The revoked version.
    pub version: Version,
    /// The digest of the release's artifact.
    pub artifact: Digest,
    /// Why it was revoked, in plain words for users.
    pub reason: String,
    /// When the security team revoked it.
    pub revoked_at: Timestamp,
    /// The advisory describing it, if any (e.g. an OSV id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advisory: Option<String>,
}

impl Revocation {
    /// When and why, in plain words: `revoked at <time>: <reason> (<advisory>)`.
    pub fn describe(&self) -> String {
        match &self.advisory {
            Some(advisory) => format!(
                "revoked at {}: {} ({advisory})",
                self.revoked_at, self.reason
            ),
            None => format!("revoked at {}: {}", self.revoked_at, self.reason),
        }
    }
}

/// The `signed` object of the revocation list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationList {
    /// Always [`REVOCATIONS_TYPE`].
    #[serde(rename = "_type")]
    pub metadata_type: String,
    /// Always [`SPEC_VERSION`].
    pub spec_version: String,
    /// Increases with every change; clients refuse a lower one than they saw.
    pub version: u64,
    /// When this list stops being valid.
    pub expires: Timestamp,
    /// The revoked releases.
    pub entries: Vec<Revocation>,
}

impl RoleMetadata for RevocationList {
    const TYPE: &'static str = REVOCATIONS_TYPE;
    const ROLE: Role = Role::Security;

    fn version(&self) -> u64 {
        self.version
    }

    fn expires(&self) -> Timestamp {
        self.expires
    }
}

/// Why a revocation list was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RevocationError {
    /// Signature, threshold, expiry, version rollback or format.
    #[error("revocation list: {0}")]
    Metadata(MetadataError),
    /// A release is listed twice.
    #[error("revocation list version {list_version} lists {app} {version} more than once")]
    DuplicateEntry {
        /// The list's version.
        list_version: u64,
        /// The app.
        app: AppName,
        /// The version.
        version: Version,
    },
}

impl RevocationList {
    /// A revocation list document.
    pub fn new(version: u64, expires: Timestamp, entries: Vec<Revocation>) -> Self {
        Self {
            metadata_type: REVOCATIONS_TYPE.to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version,
            expires,
            entries,
        }
    }

    /// This list in an envelope signed by each of `keys`, as file bytes.
    pub fn sign(&self, keys: &[&SigningKey]) -> Result<Vec<u8>, MetadataError> {
        let mut document = SignedMetadata::new(self)?;
        for key in keys {
            document.sign(key);
        }
        Ok(document.to_json())
    }

    /// The revocation of `app` at `version`, if it is revoked.
    pub fn find(&self, app: &AppName, version: &Version) -> Option<&Revocation> {
        self.entries
            .iter()
            .find(|entry| &entry.app == app && &entry.version == version)
    }

    /// The revocation of the release whose artifact has `digest`, if any.
    pub fn find_artifact(&self, digest: &Digest) -> Option<&Revocation> {
        self.entries.iter().find(|entry| &entry.artifact == digest)
    }

    /// Entries of `older` that this list no longer has (should always be empty).
    pub fn dropped_since<'a>(&self, older: &'a RevocationList) -> Vec<&'a Revocation> {
        older
            .entries
            .iter()
            .filter(|entry| !self.entries.contains(entry))
            .collect()
    }
}

/// The client's check of a fetched revocation list (DESIGN §5, check 6).
pub fn verify_revocation_list(
    root: &Root,
    bytes: &[u8],
    now: Timestamp,
    last_seen_version: Option<u64>,
) -> Result<RevocationList, RevocationError> {
    let list: RevocationList = root
        .verify_metadata(bytes, now, last_seen_version)
        .map_err(RevocationError::Metadata)?;
    for (index, entry) in list.entries.iter().enumerate() {
        if list.entries[..index]
            .iter()
            .any(|earlier| earlier.app == entry.app && earlier.version == entry.version)
        {
            return Err(RevocationError::DuplicateEntry {
                list_version: list.version,
                app: entry.app.clone(),
                version: entry.version.clone(),
            });
        }
    }
    Ok(list)
}
