//! How many bytes the client reads of each thing a registry (or a mirror, or anyone between) serves,
//! before any signature or digest over them is checked.
//!
//! Invariants:
//! - Every body is read through one of these limits, so no answer can make the client hold more than the
//!   limit in memory, however long it goes on (TUF's "endless data" attack). A body that announces a
//!   longer `Content-Length` is refused before it is read; one that goes past the limit is refused at the
//!   first byte too many, and the error names the document, the limit and the URL.
//! - An artifact or provenance envelope whose signed release record names its size is read to exactly that
//!   size: one byte more, or one less, is refused. Only releases recorded before sizes were signed fall back
//!   to a cap ([`Document::Artifact`] and [`Document::Provenance`] with no size).
//! - Artifacts are never held in memory: they stream to a file in the install store while they are hashed.
//!
//! The table in `docs/client.md` ("What the client reads") lists the same limits.

use std::fmt;

/// The largest `root.json` (and each `N.root.json` of a rotation) read.
pub const MAX_ROOT_BYTES: u64 = 1024 * 1024;
/// The largest `timestamp.json` read.
pub const MAX_TIMESTAMP_BYTES: u64 = 64 * 1024;
/// The largest checkpoint (a signed note with its signatures) read.
pub const MAX_CHECKPOINT_BYTES: u64 = 64 * 1024;
/// The largest revocation list read.
pub const MAX_REVOCATIONS_BYTES: u64 = 4 * 1024 * 1024;
/// The largest app index read.
pub const MAX_APP_INDEX_BYTES: u64 = 4 * 1024 * 1024;
/// The largest log entry read (the log refuses to write larger ones: `locara_core::events`).
pub const MAX_LOG_ENTRY_BYTES: u64 = locara_core::events::MAX_ENTRY_BYTES as u64;
/// The largest inclusion or consistency proof read (a proof has at most 64 hashes of 44 characters).
pub const MAX_PROOF_BYTES: u64 = 64 * 1024;
/// The largest provenance envelope read for a release whose record names no size.
pub const MAX_UNSIZED_PROVENANCE_BYTES: u64 = 4 * 1024 * 1024;
/// The largest build log read.
pub const MAX_BUILD_LOG_BYTES: u64 = 16 * 1024 * 1024;
/// The largest other JSON answer of the registry's API read (key lists, release lists, accounts, …).
pub const MAX_API_JSON_BYTES: u64 = 4 * 1024 * 1024;
/// How much more than the artifact limits' total unpacked size an unsized artifact may be (zstd framing
/// and tar headers).
pub const UNSIZED_ARTIFACT_SLACK: u64 = 64 * 1024 * 1024;

/// A thing the client reads from a registry, with what bounds its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// `root.json` or `N.root.json`.
    Root,
    /// `timestamp.json`.
    Timestamp,
    /// `log/checkpoint`.
    Checkpoint,
    /// `revocations.json`.
    Revocations,
    /// `index/<publisher>/<app>.json`.
    AppIndex,
    /// `log/entries/<N>`.
    LogEntry,
    /// `log/proof/inclusion` or `log/proof/consistency`.
    Proof,
    /// A build's log.
    BuildLog,
    /// Any other JSON answer of the API.
    ApiJson,
    /// A release's provenance envelope: exactly `Some(size)` bytes, or at most the unsized cap.
    Provenance(Option<u64>),
    /// A release's artifact: exactly `Some(size)` bytes, or at most `unsized_cap` when the release's
    /// record names no size.
    Artifact {
        /// The signed size.
        size: Option<u64>,
        /// The cap for a release without one (from the unpack limits).
        unsized_cap: u64,
    },
}

/// How a body's length is bounded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    /// At most this many bytes.
    AtMost(u64),
    /// Exactly this many bytes, as signed metadata says.
    Exactly(u64),
}

impl Bound {
    /// The most bytes accepted.
    pub fn most(self) -> u64 {
        match self {
            Bound::AtMost(limit) | Bound::Exactly(limit) => limit,
        }
    }
}

impl Document {
    /// How long its body may be.
    pub fn bound(self) -> Bound {
        match self {
            Document::Root => Bound::AtMost(MAX_ROOT_BYTES),
            Document::Timestamp => Bound::AtMost(MAX_TIMESTAMP_BYTES),
            Document::Checkpoint => Bound::AtMost(MAX_CHECKPOINT_BYTES),
            Document::Revocations => Bound::AtMost(MAX_REVOCATIONS_BYTES),
            Document::AppIndex => Bound::AtMost(MAX_APP_INDEX_BYTES),
            Document::LogEntry => Bound::AtMost(MAX_LOG_ENTRY_BYTES),
            Document::Proof => Bound::AtMost(MAX_PROOF_BYTES),
            Document::BuildLog => Bound::AtMost(MAX_BUILD_LOG_BYTES),
            Document::ApiJson => Bound::AtMost(MAX_API_JSON_BYTES),
            Document::Provenance(Some(size)) => Bound::Exactly(size),
            Document::Provenance(None) => Bound::AtMost(MAX_UNSIZED_PROVENANCE_BYTES),
            Document::Artifact {
                size: Some(size), ..
            } => Bound::Exactly(size),
            Document::Artifact {
                size: None,
                unsized_cap,
            } => Bound::AtMost(unsized_cap),
        }
    }
}

impl Document {
    /// What it is, in a word or two: `timestamp.json`, `artifact`, ….
    pub fn name(self) -> &'static str {
        match self {
            Document::Root => "root.json",
            Document::Timestamp => "timestamp.json",
            Document::Checkpoint => "checkpoint",
            Document::Revocations => "revocation list",
            Document::AppIndex => "app index",
            Document::LogEntry => "log entry",
            Document::Proof => "log proof",
            Document::BuildLog => "build log",
            Document::ApiJson => "API answer",
            Document::Provenance(_) => "provenance envelope",
            Document::Artifact { .. } => "artifact",
        }
    }
}

/// `a timestamp.json`, `an artifact`, ….
impl fmt::Display for Document {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.name();
        let article = if name.starts_with(['a', 'e', 'i', 'o', 'u', 'A']) {
            "an"
        } else {
            "a"
        };
        write!(f, "{article} {name}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_size_is_read_exactly_and_only_unsized_releases_get_a_cap() {
        assert_eq!(Document::Provenance(Some(912)).bound(), Bound::Exactly(912));
        assert_eq!(
            Document::Provenance(None).bound(),
            Bound::AtMost(MAX_UNSIZED_PROVENANCE_BYTES)
        );
        let sized = Document::Artifact {
            size: Some(356),
            unsized_cap: 1 << 40,
        };
        assert_eq!(sized.bound(), Bound::Exactly(356));
        let unsized_artifact = Document::Artifact {
            size: None,
            unsized_cap: 1 << 40,
        };
        assert_eq!(unsized_artifact.bound(), Bound::AtMost(1 << 40));
    }

    #[test]
    fn every_document_has_a_cap_far_below_memory() {
        for document in [
            Document::Root,
            Document::Timestamp,
            Document::Checkpoint,
            Document::Revocations,
            Document::AppIndex,
            Document::LogEntry,
            Document::Proof,
            Document::BuildLog,
            Document::ApiJson,
            Document::Provenance(None),
        ] {
            assert!(
                document.bound().most() <= 16 * 1024 * 1024,
                "{document}: {:?}",
                document.bound()
            );
        }
    }
}
