//! The app index: one signed document per app, `/index/<publisher>/<app>.json`, telling clients who
//! publishes the app, how the publisher was verified, where its source lives and which releases exist.
//!
//! The file is a [`SignedMetadata`] document signed by the root's `index` role whose `signed` object is:
//!
//! ```json
//! {"_type":"app-index","spec_version":"1","version":3,"expires":"2027-11-25T17:00:00Z",
//!  "app":"acme/notes-search","repository":"https://git.example/acme/notes-search","log_index":12,
//!  "publisher":{"name":"acme","kind":"organisation","verification":{"method":"dns","subject":"acme.example"}},
//!  "releases":[]}
//! ```
//!
//! Invariant: [`Root::verify_metadata`](crate::root::Root::verify_metadata) accepts an index only if a threshold of the index role's keys
//! signed it, it has not expired, and its version is not below one the client saw before. The index is a
//! signed convenience for resolution; every fact in it is also in the transparency log (`log_index` is the
//! app's registration entry), which is what clients check before installing.

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::keys::SigningKey;
use crate::names::AppName;
use crate::root::{MetadataError, Role, RoleMetadata, SignedMetadata};
use crate::time::Timestamp;
use crate::version::Version;

/// The `_type` of an app index.
pub const INDEX_TYPE: &str = "app-index";

/// How the publisher proved who it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexVerification {
    /// `dns` or `oidc`.
    pub method: String,
    /// The domain, or the OIDC issuer and subject.
    pub subject: String,
}

/// The publisher as the index shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexPublisher {
    /// The publisher's name.
    pub name: String,
    /// `user` or `organisation`.
    pub kind: String,
    /// How it was verified; `None` if it is not (then it cannot publish).
    pub verification: Option<IndexVerification>,
}

/// A release as the index lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IndexedRelease {
    /// The version.
    pub version: Version,
    /// `available`, `cooling-down`, `yanked`, `deprecated` or `revoked`.
    pub status: String,
    /// The log entry that records the release.
    pub log_index: u64,
    /// The artifact's digest.
    pub artifact: Digest,
    /// The artifact's length in bytes, as the release's log entry records it (absent for releases recorded
    /// before sizes were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_size: Option<u64>,
    /// The provenance envelope's digest.
    pub provenance: Digest,
    /// The provenance envelope's length in bytes (absent as for [`IndexedRelease::artifact_size`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance_size: Option<u64>,
    /// The publisher's deprecation message, for a deprecated release (kept if it is later yanked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// The `signed` object of an app index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppIndex {
    /// Always [`INDEX_TYPE`].
    #[serde(rename = "_type")]
    pub metadata_type: String,
    /// Always [`SPEC_VERSION`](crate::root::SPEC_VERSION).
    pub spec_version: String,
    /// Increases with every change to this app's index.
    pub version: u64,
    /// When this document stops being valid.
    pub expires: Timestamp,
    /// The app.
    pub app: AppName,
    /// Its source repository.
    pub repository: String,
    /// The log entry that registered the app.
    pub log_index: u64,
    /// Who publishes it.
    pub publisher: IndexPublisher,
    /// Its releases, oldest first.
    pub releases: Vec<IndexedRelease>,
}

impl RoleMetadata for AppIndex {
    const TYPE: &'static str = INDEX_TYPE;
    const ROLE: Role = Role::Index;

    fn version(&self) -> u64 {
        self.version
    }

    fn expires(&self) -> Timestamp {
        self.expires
    }
}

impl AppIndex {
    /// The signed document's bytes, signed by `keys` (the index role's online key).
    pub fn sign(&self, keys: &[&SigningKey]) -> Result<Vec<u8>, MetadataError> {
        let mut document = SignedMetadata::new(self)?;
        for key in keys {
            document.sign(key);
        }
        Ok(document.to_json())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn release(message: Option<&str>) -> IndexedRelease {
        IndexedRelease {
            version: "1.0.0".parse().unwrap(),
            status: "deprecated".to_owned(),
            log_index: 4,
            artifact: Digest::of_bytes(b"artifact"),
            artifact_size: None,
            provenance: Digest::of_bytes(b"provenance"),
            provenance_size: None,
            message: message.map(str::to_owned),
        }
    }

    #[test]
    fn a_release_without_a_message_omits_it_and_older_documents_still_read() {
        let plain = serde_json::to_value(release(None)).unwrap();
        assert!(plain.get("message").is_none(), "{plain}");
        assert_eq!(
            serde_json::from_value::<IndexedRelease>(plain).unwrap(),
            release(None)
        );
        let noted = serde_json::to_value(release(Some("use 2.x"))).unwrap();
        assert_eq!(noted["message"], "use 2.x");
        assert_eq!(
            serde_json::from_value::<IndexedRelease>(noted).unwrap(),
            release(Some("use 2.x"))
        );
    }
}
