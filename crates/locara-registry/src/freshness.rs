//! The signed, short-lived documents clients use to detect a frozen or rolled-back view (DESIGN §5):
//! `revocations.json` (the security role's list, versioned and expiring) and `timestamp.json` (the
//! timestamp role's statement of the latest checkpoint and revocation list, expiring after the freshness
//! limit and re-signed on a schedule).
//!
//! Invariants: version numbers never go down, across restarts too (the highest of the stored setting and
//! the stored file wins); entries are never dropped, and the list names every revocation the store
//! recorded (the store is the source of truth: a revocation whose list was not signed yet is added at the
//! next signing); a revocation list is re-signed (new version, same entries) when less than a quarter of
//! its validity is left; `timestamp.json` always names the files exactly as served.

use std::time::Duration;

use locara_core::digest::Digest;
use locara_core::revocation::{Revocation, RevocationList};
use locara_core::root::{
    CheckpointReference, Freshness, RevocationsReference, Role, SignedMetadata,
};
use locara_core::time::Timestamp;
use locara_store::{BlobStore, MetadataStore, NamedPath, StoreError};

use crate::trust::Trust;

/// The served revocation list's name in the blob store.
pub const REVOCATIONS_FILE: &str = "revocations.json";
/// The served `timestamp.json`'s name in the blob store.
pub const TIMESTAMP_FILE: &str = "timestamp.json";
/// How long a newly signed revocation list is valid.
pub const REVOCATIONS_VALIDITY: Duration = Duration::from_secs(30 * 86_400);

const TIMESTAMP_VERSION_SETTING: &str = "timestamp.version";
const REVOCATIONS_VERSION_SETTING: &str = "revocations.version";

/// Why a freshness document could not be made.
#[derive(Debug, thiserror::Error)]
pub enum FreshnessError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// This server holds no key for a role it must sign for.
    #[error("this server holds no {0} key (keys/{0}.key), so it cannot sign {1}")]
    NoKey(Role, &'static str),
    /// A stored document cannot be read back.
    #[error("the stored {file} is damaged: {reason}")]
    Damaged {
        /// Which file.
        file: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Signing failed or a time was out of range.
    #[error("cannot sign {0}")]
    Sign(String),
}

fn named(file: &str) -> NamedPath {
    NamedPath::new(file).expect("constant file names are valid named paths")
}

async fn version_setting(store: &dyn MetadataStore, key: &str) -> Result<u64, FreshnessError> {
    Ok(store
        .setting(key)
        .await?
        .and_then(|value| value.parse().ok())
        .unwrap_or(0))
}

/// Every revocation the store recorded, as list entries, in log order.
async fn recorded_revocations(
    metadata: &dyn MetadataStore,
) -> Result<Vec<Revocation>, FreshnessError> {
    let damaged = |what: &str, error: String| FreshnessError::Damaged {
        file: "revocations table",
        reason: format!("{what}: {error}"),
    };
    metadata
        .revocations()
        .await?
        .into_iter()
        .map(|record| {
            Ok(Revocation {
                app: record
                    .app
                    .parse::<locara_core::names::AppName>()
                    .map_err(|error| damaged(&record.app, error.to_string()))?,
                version: record
                    .version
                    .parse::<locara_core::version::Version>()
                    .map_err(|error| damaged(&record.version, error.to_string()))?,
                artifact: record
                    .artifact
                    .parse::<Digest>()
                    .map_err(|error| damaged(&record.artifact, error.to_string()))?,
                reason: record.reason,
                revoked_at: Timestamp::from_unix_seconds(record.revoked_at)
                    .map_err(|error| damaged("revocation time", error.to_string()))?,
                advisory: record.advisory,
            })
        })
        .collect()
}

/// Makes sure a valid revocation list is stored that names every revocation the store recorded, signing
/// a new version (the stored entries kept, the missing ones added) when there is none, one is missing,
/// or the stored list has less than a quarter of [`REVOCATIONS_VALIDITY`] left. Returns its version and
/// bytes. Run it holding the signing lease ([`crate::signing`]).
pub async fn ensure_revocations(
    trust: &Trust,
    metadata: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    now: Timestamp,
) -> Result<(u64, Vec<u8>), FreshnessError> {
    let stored = blobs.get_named(&named(REVOCATIONS_FILE)).await?;
    let current = match &stored {
        Some(bytes) => Some(
            SignedMetadata::from_json(bytes)
                .and_then(|document| document.decode::<RevocationList>())
                .map_err(|error| FreshnessError::Damaged {
                    file: REVOCATIONS_FILE,
                    reason: error.to_string(),
                })?,
        ),
        None => None,
    };
    let mut entries = current
        .as_ref()
        .map(|list| list.entries.clone())
        .unwrap_or_default();
    let recorded = recorded_revocations(metadata).await?;
    let missing: Vec<Revocation> = recorded
        .into_iter()
        .filter(|revocation| {
            !entries
                .iter()
                .any(|entry| entry.app == revocation.app && entry.version == revocation.version)
        })
        .collect();
    let renew_after = REVOCATIONS_VALIDITY.as_secs() / 4;
    if let (Some(list), Some(bytes)) = (&current, &stored)
        && missing.is_empty()
        && list.expires.unix_seconds() > now.unix_seconds() + renew_after
    {
        return Ok((list.version, bytes.clone()));
    }
    entries.extend(missing);
    let version = version_setting(metadata, REVOCATIONS_VERSION_SETTING)
        .await?
        .max(current.as_ref().map_or(0, |list| list.version))
        + 1;
    let expires = now
        .checked_add_seconds(REVOCATIONS_VALIDITY.as_secs())
        .ok_or_else(|| FreshnessError::Sign("a revocation list expiring past 9999".to_owned()))?;
    let key = trust
        .role_key(Role::Security)
        .ok_or(FreshnessError::NoKey(Role::Security, REVOCATIONS_FILE))?;
    let bytes = RevocationList::new(version, expires, entries)
        .sign(&[key])
        .map_err(|error| FreshnessError::Sign(error.to_string()))?;
    // The version is recorded first: a crash between the two writes wastes a number, never reuses one.
    metadata
        .put_setting(REVOCATIONS_VERSION_SETTING, &version.to_string())
        .await?;
    blobs.put_mutable(&named(REVOCATIONS_FILE), &bytes).await?;
    Ok((version, bytes))
}

/// Signs a new `timestamp.json` naming the latest checkpoint and revocation list, valid for `freshness`,
/// and stores it for serving. Returns its version.
pub async fn sign_timestamp(
    trust: &Trust,
    metadata: &dyn MetadataStore,
    blobs: &dyn BlobStore,
    freshness: Duration,
    now: Timestamp,
) -> Result<u64, FreshnessError> {
    let (revocations_version, revocations) =
        ensure_revocations(trust, metadata, blobs, now).await?;
    let checkpoint =
        metadata
            .latest_checkpoint()
            .await?
            .ok_or_else(|| FreshnessError::Damaged {
                file: "checkpoint",
                reason: "no checkpoint has been signed yet".to_owned(),
            })?;
    let version = version_setting(metadata, TIMESTAMP_VERSION_SETTING).await? + 1;
    let expires = now
        .checked_add_seconds(freshness.as_secs())
        .ok_or_else(|| FreshnessError::Sign("a timestamp expiring past 9999".to_owned()))?;
    let key = trust
        .role_key(Role::Timestamp)
        .ok_or(FreshnessError::NoKey(Role::Timestamp, TIMESTAMP_FILE))?;
    let bytes = Freshness::new(
        version,
        expires,
        CheckpointReference {
            size: checkpoint.size,
            digest: Digest::of_bytes(checkpoint.text.as_bytes()),
        },
        RevocationsReference {
            version: revocations_version,
            digest: Digest::of_bytes(&revocations),
        },
    )
    .sign(&[key])
    .map_err(|error| FreshnessError::Sign(error.to_string()))?;
    metadata
        .put_setting(TIMESTAMP_VERSION_SETTING, &version.to_string())
        .await?;
    blobs.put_mutable(&named(TIMESTAMP_FILE), &bytes).await?;
    Ok(version)
}

/// A stored document for serving, if it exists.
pub async fn served(blobs: &dyn BlobStore, file: &str) -> Result<Option<Vec<u8>>, StoreError> {
    blobs.get_named(&named(file)).await
}
