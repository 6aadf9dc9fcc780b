//! Signed statements about releases: the in-toto Statement v1 frame, SLSA provenance, release statements.
//!
//! - [`Statement`] is an in-toto Statement v1 (`_type` [`STATEMENT_TYPE`]): subjects named by digest, a
//!   predicate type URI and a predicate. Unknown members are ignored on decoding, as the in-toto
//!   specification asks; Locara's own parameter objects inside predicates are strict instead.
//! - [`provenance`] is the SLSA Provenance v1 predicate, Locara's build type, and the client's check 4.
//! - [`release`] is the publisher's signed release statement.
//!
//! Invariants: every statement payload Locara signs is canonical JSON ([`crate::canonical_json`]), and
//! verification refuses payloads that are not, so a statement has exactly one byte representation. A
//! [`GitCommit`] always holds 40 (SHA-1) or 64 (SHA-256) lower-case hex digits.

pub mod provenance;
pub mod release;

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The `_type` of an in-toto Statement v1.
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
/// The DSSE payload type of an in-toto statement.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// The in-toto digest-set algorithm name for SHA-256.
pub const SHA256_ALGORITHM: &str = "sha256";
/// The in-toto digest-set algorithm name for a git commit id.
pub const GIT_COMMIT_ALGORITHM: &str = "gitCommit";

/// An in-toto Statement v1 with predicate `P`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement<P> {
    /// Always [`STATEMENT_TYPE`] for statements Locara accepts.
    #[serde(rename = "_type")]
    pub statement_type: String,
    /// The artifacts the statement is about.
    pub subject: Vec<ResourceDescriptor>,
    /// The URI naming the predicate's schema.
    #[serde(rename = "predicateType")]
    pub predicate_type: String,
    /// What is stated about the subjects.
    pub predicate: P,
}

/// An in-toto ResourceDescriptor v1: something named by URI, name and/or digest.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ResourceDescriptor {
    /// A URI locating or identifying the resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uri: Option<String>,
    /// Digests by algorithm name (`sha256`, `gitCommit`, …), each in lower-case hex.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digest: BTreeMap<String, String>,
    /// A human-readable name, e.g. a file name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Where the resource can be downloaded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_location: Option<String>,
    /// The resource's media type.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub media_type: Option<String>,
    /// The resource's content, base64, for small inline resources.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content: Option<String>,
    /// Further information, free-form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub annotations: Option<serde_json::Map<String, serde_json::Value>>,
}

impl ResourceDescriptor {
    /// The `sha256` entry of the digest set, if any.
    pub fn sha256(&self) -> Option<&str> {
        self.digest.get(SHA256_ALGORITHM).map(String::as_str)
    }
}

/// A git commit id: 40 (SHA-1 repositories) or 64 (SHA-256 repositories) lower-case hex digits.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GitCommit(String);

/// Why a string is not a git commit id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "git commit {found:?} must be the full commit id: 40 (SHA-1) or 64 (SHA-256) lower-case hex digits"
)]
pub struct GitCommitError {
    /// The string that was given.
    pub found: String,
}

impl GitCommit {
    /// The commit id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for GitCommit {
    type Err = GitCommitError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let full_length = s.len() == 40 || s.len() == 64;
        if !full_length || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(GitCommitError {
                found: s.to_owned(),
            });
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for GitCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for GitCommit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GitCommit({})", self.0)
    }
}

impl Serialize for GitCommit {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for GitCommit {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The string member `name` of a JSON object, or `""` when absent or not a string (for error messages).
fn string_member<'a>(value: &'a serde_json::Value, name: &str) -> &'a str {
    value
        .get(name)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}
