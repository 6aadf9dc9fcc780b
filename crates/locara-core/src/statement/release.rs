//! The publisher's release statement: the signed request "build and publish this app version from this
//! commit".
//!
//! The statement is canonical JSON in a DSSE envelope of type [`RELEASE_PAYLOAD_TYPE`], signed by a key the
//! publisher registered under 2FA:
//!
//! ```json
//! {"_type":"https://locara.dev/release/v1","app":"acme/notes-search","commit":"<40 or 64 hex>",
//!  "created_at":"2026-11-24T19:08:00Z","manifest":"sha256:<hex of the exact locara.toml bytes>",
//!  "repository":"https://git.example.com/acme/notes-search","version":"1.4.2"}
//! ```
//!
//! Replay resistance: the signature covers the app and the version, and [`verify_release`] compares them
//! with the request it arrived with, so a statement cannot be replayed for another app or version. Versions
//! are never reused (DESIGN §6): the registry refuses a statement for a version that already exists, in any
//! state, so a statement cannot be replayed for its own version either. `created_at` lets the registry
//! refuse statements that are too old or from the future ([`ReleaseStatement::check_age`]).
//!
//! Invariant: [`verify_release`] returns a statement only if the payload type is
//! [`RELEASE_PAYLOAD_TYPE`], a threshold of the given publisher keys signed, the payload is canonical
//! JSON with `_type` [`RELEASE_STATEMENT_TYPE`] and no unknown members, and app and version are the
//! expected ones.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{GitCommit, string_member};
use crate::canonical_json::{self, CanonicalJsonError};
use crate::digest::Digest;
use crate::dsse::{DsseError, Envelope};
use crate::keys::{KeyId, SigningKey, TrustedKeys};
use crate::names::AppName;
use crate::time::Timestamp;
use crate::version::Version;

/// The DSSE payload type of a release statement.
pub const RELEASE_PAYLOAD_TYPE: &str = "application/vnd.locara.release+json";
/// The `_type` of a release statement.
pub const RELEASE_STATEMENT_TYPE: &str = "https://locara.dev/release/v1";

/// A publisher's request to release `app` at `version` from `repository` at `commit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseStatement {
    /// The app, `publisher/app`.
    pub app: AppName,
    /// The version to release.
    pub version: Version,
    /// The source repository URL (the manifest's `app.source`).
    pub repository: String,
    /// The commit to build.
    pub commit: GitCommit,
    /// SHA-256 of the exact `locara.toml` bytes at that commit.
    pub manifest: Digest,
    /// When the publisher signed the request.
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReleaseWire {
    #[serde(rename = "_type")]
    statement_type: String,
    app: AppName,
    version: Version,
    repository: String,
    commit: GitCommit,
    manifest: Digest,
    created_at: Timestamp,
}

/// Why a release statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseError {
    /// The envelope does not carry a release statement.
    #[error("release envelope has payload type {found:?}, expected {expected:?}")]
    WrongPayloadType {
        /// [`RELEASE_PAYLOAD_TYPE`].
        expected: String,
        /// The envelope's payload type.
        found: String,
    },
    /// Not signed by the publisher's key(s).
    #[error("release statement is not signed by the publisher's registered key: {0}")]
    Signature(DsseError),
    /// The payload is not canonical JSON or not a release statement.
    #[error("release statement is malformed: {0}")]
    Malformed(CanonicalJsonError),
    /// The `_type` is not a release statement's.
    #[error("release statement has _type {found:?}, expected {expected:?}")]
    WrongStatementType {
        /// [`RELEASE_STATEMENT_TYPE`].
        expected: String,
        /// The statement's `_type`.
        found: String,
    },
    /// The statement is for another app.
    #[error("release statement is for app {found}, but the request is for {expected}")]
    AppMismatch {
        /// The app of the request.
        expected: AppName,
        /// The app in the statement.
        found: AppName,
    },
    /// The statement is for another version.
    #[error("release statement is for version {found}, but the request is for {expected}")]
    VersionMismatch {
        /// The version of the request.
        expected: Version,
        /// The version in the statement.
        found: Version,
    },
    /// The statement was signed too long ago.
    #[error(
        "release statement was created at {created_at}, more than {max_age_seconds} s before {now}; sign a fresh one"
    )]
    TooOld {
        /// The statement's `created_at`.
        created_at: Timestamp,
        /// The time of the check.
        now: Timestamp,
        /// The largest accepted age.
        max_age_seconds: u64,
    },
    /// The statement claims to be from the future (beyond the allowed clock skew).
    #[error(
        "release statement claims to be created at {created_at}, more than {max_skew_seconds} s after {now}; check the signer's clock"
    )]
    FromTheFuture {
        /// The statement's `created_at`.
        created_at: Timestamp,
        /// The time of the check.
        now: Timestamp,
        /// The largest accepted clock skew.
        max_skew_seconds: u64,
    },
}

/// A release statement that passed [`verify_release`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedRelease {
    /// The statement.
    pub statement: ReleaseStatement,
    /// The publisher keys whose signatures verified.
    pub signed_by: Vec<KeyId>,
}

impl ReleaseStatement {
    /// The statement as canonical JSON (the bytes that are signed).
    pub fn to_canonical_json(&self) -> Vec<u8> {
        let wire = ReleaseWire {
            statement_type: RELEASE_STATEMENT_TYPE.to_owned(),
            app: self.app.clone(),
            version: self.version.clone(),
            repository: self.repository.clone(),
            commit: self.commit.clone(),
            manifest: self.manifest,
            created_at: self.created_at,
        };
        canonical_json::to_vec(&wire)
            .expect("a release statement holds only strings, never numbers")
    }

    /// The statement in a DSSE envelope signed by `publisher_key`.
    pub fn sign(&self, publisher_key: &SigningKey) -> Envelope {
        Envelope::signed(
            RELEASE_PAYLOAD_TYPE,
            self.to_canonical_json(),
            &[publisher_key],
        )
    }

    /// Refuses a statement created more than `max_age_seconds` before `now` or `max_skew_seconds` after it.
    pub fn check_age(
        &self,
        now: Timestamp,
        max_age_seconds: u64,
        max_skew_seconds: u64,
    ) -> Result<(), ReleaseError> {
        let created = self.created_at.unix_seconds();
        let now_seconds = now.unix_seconds();
        if created > now_seconds.saturating_add(max_skew_seconds) {
            return Err(ReleaseError::FromTheFuture {
                created_at: self.created_at,
                now,
                max_skew_seconds,
            });
        }
        if now_seconds.saturating_sub(created) > max_age_seconds {
            return Err(ReleaseError::TooOld {
                created_at: self.created_at,
                now,
                max_age_seconds,
            });
        }
        Ok(())
    }
}

/// Verifies a release statement signed by `publisher_keys` for exactly `expected_app` at `expected_version`.
pub fn verify_release(
    envelope: &Envelope,
    publisher_keys: &TrustedKeys,
    expected_app: &AppName,
    expected_version: &Version,
) -> Result<VerifiedRelease, ReleaseError> {
    if envelope.payload_type != RELEASE_PAYLOAD_TYPE {
        return Err(ReleaseError::WrongPayloadType {
            expected: RELEASE_PAYLOAD_TYPE.to_owned(),
            found: envelope.payload_type.clone(),
        });
    }
    let verified = envelope
        .verify(RELEASE_PAYLOAD_TYPE, publisher_keys)
        .map_err(ReleaseError::Signature)?;
    let value: Value =
        canonical_json::from_canonical_slice(verified.payload).map_err(ReleaseError::Malformed)?;
    let statement_type = string_member(&value, "_type");
    if statement_type != RELEASE_STATEMENT_TYPE {
        return Err(ReleaseError::WrongStatementType {
            expected: RELEASE_STATEMENT_TYPE.to_owned(),
            found: statement_type.to_owned(),
        });
    }
    let wire: ReleaseWire = canonical_json::from_value(value).map_err(ReleaseError::Malformed)?;
    if &wire.app != expected_app {
        return Err(ReleaseError::AppMismatch {
            expected: expected_app.clone(),
            found: wire.app,
        });
    }
    if &wire.version != expected_version {
        return Err(ReleaseError::VersionMismatch {
            expected: expected_version.clone(),
            found: wire.version,
        });
    }
    Ok(VerifiedRelease {
        statement: ReleaseStatement {
            app: wire.app,
            version: wire.version,
            repository: wire.repository,
            commit: wire.commit,
            manifest: wire.manifest,
            created_at: wire.created_at,
        },
        signed_by: verified.signed_by,
    })
}
