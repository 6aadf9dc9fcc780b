//! Revoking a release (DESIGN §6): the security team's operator command `locara-registry revoke`, run on
//! the registry host against the data directory a running `serve` uses (ADR 0084).
//!
//! Invariants:
//! - The release's move to `revoked`, its revocation record and its `release.revoked` log entry are one
//!   store transaction; revoked is final, so a second revocation of the same release changes nothing.
//! - Before [`revoke`] returns success, a checkpoint covering the entry, a revocation list naming the
//!   release (a new version, every earlier entry kept) and a `timestamp.json` naming both are signed and
//!   stored, and read back and verified under the root as a client would: the next request any client
//!   makes sees the revocation. Signing holds the signing lease ([`crate::signing`]), so the server's own
//!   re-signing never interleaves with it.
//! - If signing fails after the transaction committed, the revocation still stands: the store is the
//!   source of truth, and the server's next scheduled re-signing adds it to the list.

use std::fmt;
use std::str::FromStr;

use locara_core::digest::Digest;
use locara_core::events::{Event, LogEntry, ReleaseNoteError, check_release_note};
use locara_core::names::AppName;
use locara_core::revocation::verify_revocation_list;
use locara_core::root::verify_freshness;
use locara_core::time::Timestamp;
use locara_core::version::Version;
use locara_store::StoreError;
use locara_store::records::{NewRevocation, RevocationRecord};

use crate::freshness::{REVOCATIONS_FILE, TIMESTAMP_FILE};
use crate::http::AppState;

/// Who revoked a release when the operator does not say.
pub const DEFAULT_REVOKER: &str = "security-team";
/// The longest advisory id, in characters.
pub const MAX_ADVISORY_CHARS: usize = 64;
/// The longest name in `--by`, in characters.
pub const MAX_REVOKER_CHARS: usize = 64;

/// A release named on the command line: `PUBLISHER/APP@VERSION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReleaseName {
    /// The app.
    pub app: AppName,
    /// The version.
    pub version: Version,
}

impl FromStr for ReleaseName {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (app, version) = text.rsplit_once('@').ok_or_else(|| {
            format!("expected PUBLISHER/APP@VERSION (e.g. acme/notes@1.4.2), found {text:?}")
        })?;
        Ok(Self {
            app: app
                .parse()
                .map_err(|error| format!("app name {app:?}: {error}"))?,
            version: version
                .parse()
                .map_err(|error| format!("version {version:?}: {error}"))?,
        })
    }
}

impl fmt::Display for ReleaseName {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{} {}", self.app, self.version)
    }
}

/// What the security team asks for.
#[derive(Debug, Clone)]
pub struct RevokeRequest {
    /// The release to revoke.
    pub release: ReleaseName,
    /// Why, in one line of plain words for users.
    pub reason: String,
    /// The advisory describing it, if any (e.g. `LOCARA-2026-0001`, an OSV or GHSA id).
    pub advisory: Option<String>,
    /// Who revoked it, as the log records it.
    pub by: String,
}

/// What a revocation did, all of it signed and stored.
#[derive(Debug, Clone)]
pub struct Revoked {
    /// The revocation as recorded (with its log entry's index).
    pub revocation: RevocationRecord,
    /// The size of the latest signed checkpoint, which covers the entry.
    pub checkpoint_size: u64,
    /// The version of the revocation list that names the release.
    pub revocations_version: u64,
    /// The version of the `timestamp.json` that names that list and checkpoint.
    pub timestamp_version: u64,
}

/// The signed documents [`check_published`] found naming a revocation.
struct Published {
    checkpoint_size: u64,
    revocations_version: u64,
    timestamp_version: u64,
}

/// Why a release was not revoked, or its revocation not published.
#[derive(Debug, thiserror::Error)]
pub enum RevokeError {
    /// The reason is not one printable line of the allowed length.
    #[error("--reason {0}")]
    Reason(ReleaseNoteError),
    /// The advisory id has characters other than those ids use, or is too long.
    #[error(
        "--advisory {found:?} refused: expected 1 to {MAX_ADVISORY_CHARS} letters, digits, '-', '_', '.' or ':' (e.g. LOCARA-2026-0001)"
    )]
    Advisory {
        /// What was given.
        found: String,
    },
    /// The revoker's name is not one short printable line.
    #[error(
        "--by {found:?} refused: expected one printable line of at most {MAX_REVOKER_CHARS} characters"
    )]
    Revoker {
        /// What was given.
        found: String,
    },
    /// No such app.
    #[error("cannot revoke {release}: this registry has no app {app}", app = release.app)]
    UnknownApp {
        /// The release asked for.
        release: ReleaseName,
    },
    /// The app has no such release.
    #[error("cannot revoke {release}: {app} has no release {version} (its releases: {known})", app = release.app, version = release.version)]
    UnknownRelease {
        /// The release asked for.
        release: ReleaseName,
        /// The versions the app has, or `none`.
        known: String,
    },
    /// The release is already revoked: revoked is final.
    #[error("{release} is already revoked; a revocation is final and is not recorded twice")]
    AlreadyRevoked {
        /// The release.
        release: ReleaseName,
    },
    /// The log entry could not be made.
    #[error("cannot record the revocation: {0}")]
    Entry(String),
    /// The store failed before anything changed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The revocation is recorded, but signing or checking what clients read failed.
    #[error(
        "{release} is revoked (log entry {log_index}), but publishing it failed: {reason}; the running server adds it to the signed revocation list at its next re-signing, or fix the cause and check /revocations.json"
    )]
    NotPublished {
        /// The release.
        release: ReleaseName,
        /// Its log entry.
        log_index: u64,
        /// What failed.
        reason: String,
    },
}

/// Checks an advisory id: 1 to [`MAX_ADVISORY_CHARS`] ASCII letters, digits, `-`, `_`, `.` or `:`.
fn check_advisory(advisory: &str) -> Result<(), RevokeError> {
    let valid = !advisory.is_empty()
        && advisory.len() <= MAX_ADVISORY_CHARS
        && advisory
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte));
    if valid {
        Ok(())
    } else {
        Err(RevokeError::Advisory {
            found: advisory.to_owned(),
        })
    }
}

/// Checks the request's free-text fields before anything is looked up.
fn check_request(request: &RevokeRequest) -> Result<(), RevokeError> {
    check_release_note(&request.reason).map_err(RevokeError::Reason)?;
    if let Some(advisory) = &request.advisory {
        check_advisory(advisory)?;
    }
    if check_release_note(&request.by).is_err() || request.by.chars().count() > MAX_REVOKER_CHARS {
        return Err(RevokeError::Revoker {
            found: request.by.clone(),
        });
    }
    Ok(())
}

/// Revokes `request.release` at `now`: records it (state, revocation, log entry in one transaction), then
/// signs and stores the checkpoint, revocation list, `timestamp.json` and the app's index, and verifies
/// what clients will read.
pub async fn revoke(
    state: &AppState,
    request: &RevokeRequest,
    now: Timestamp,
) -> Result<Revoked, RevokeError> {
    check_request(request)?;
    let release_name = &request.release;
    let app = state
        .metadata
        .app_by_name(&release_name.app.to_string())
        .await?
        .ok_or_else(|| RevokeError::UnknownApp {
            release: release_name.clone(),
        })?;
    let releases = state.metadata.releases_of(app.id).await?;
    let wanted = release_name.version.to_string();
    let Some(release) = releases.iter().find(|release| release.version == wanted) else {
        let known = releases
            .iter()
            .map(|release| release.version.as_str())
            .collect::<Vec<_>>();
        return Err(RevokeError::UnknownRelease {
            release: release_name.clone(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    if release.state == "revoked" {
        return Err(RevokeError::AlreadyRevoked {
            release: release_name.clone(),
        });
    }
    let entry = LogEntry::new(
        now,
        Event::ReleaseRevoked {
            app: app.name.clone(),
            version: release.version.clone(),
            artifact: release.artifact_digest.clone(),
            reason: request.reason.clone(),
            advisory: request.advisory.clone(),
            by: request.by.clone(),
        },
    )
    .to_bytes()
    .map_err(|error| RevokeError::Entry(error.to_string()))?;
    let revocation = NewRevocation {
        reason: request.reason.clone(),
        advisory: request.advisory.clone(),
        revoked_at: now.unix_seconds(),
    };
    let recorded = match state
        .metadata
        .revoke_release(app.id, &release.version, revocation, entry)
        .await
    {
        Ok(recorded) => recorded,
        // Someone revoked it between the look-up and the transaction.
        Err(StoreError::Conflict { .. }) => {
            return Err(RevokeError::AlreadyRevoked {
                release: release_name.clone(),
            });
        }
        Err(error) => return Err(error.into()),
    };
    tracing::info!(app = %app.name, version = %release.version, log_index = recorded.log_index, by = %request.by, "release revoked");
    let not_published = |reason: String| RevokeError::NotPublished {
        release: release_name.clone(),
        log_index: recorded.log_index,
        reason,
    };
    state
        .resign()
        .await
        .map_err(|error| not_published(format!("{error:#}")))?;
    let publisher_name = release_name.app.publisher().to_string();
    let publisher = state
        .metadata
        .publisher_by_name(&publisher_name)
        .await
        .map_err(|error| not_published(error.to_string()))?
        .ok_or_else(|| not_published(format!("publisher {publisher_name} disappeared")))?;
    crate::index::sign_app_index(state, &app, &publisher, now)
        .await
        .map_err(|error| not_published(format!("signing the app index: {error}")))?;
    let published = crate::signing::with_signing_lease(
        state.metadata.as_ref(),
        check_published(state, release_name, recorded.log_index),
    )
    .await
    .map_err(|error| not_published(error.to_string()))?
    .map_err(not_published)?;
    Ok(Revoked {
        revocation: recorded,
        checkpoint_size: published.checkpoint_size,
        revocations_version: published.revocations_version,
        timestamp_version: published.timestamp_version,
    })
}

/// Reads back what clients will fetch and checks it as a client would: `timestamp.json` verifies and
/// names the stored checkpoint and revocation list by digest, the checkpoint covers `log_index`, and the
/// list verifies under the security role and names `release`. Runs holding the signing lease, so the
/// three documents are one consistent set.
async fn check_published(
    state: &AppState,
    release: &ReleaseName,
    log_index: u64,
) -> Result<Published, String> {
    let now = Timestamp::now();
    let root = state.trust.root();
    let read = |file: &'static str| async move {
        crate::freshness::served(state.blobs.as_ref(), file)
            .await
            .map_err(|error| format!("reading {file}: {error}"))?
            .ok_or_else(|| format!("{file} is not stored"))
    };
    let timestamp_bytes = read(TIMESTAMP_FILE).await?;
    let list_bytes = read(REVOCATIONS_FILE).await?;
    let timestamp = verify_freshness(root, &timestamp_bytes, now, None)
        .map_err(|error| format!("the stored {TIMESTAMP_FILE} does not verify: {error}"))?;
    let list = verify_revocation_list(root, &list_bytes, now, None)
        .map_err(|error| format!("the stored {REVOCATIONS_FILE} does not verify: {error}"))?;
    if list.find(&release.app, &release.version).is_none() {
        return Err(format!(
            "{REVOCATIONS_FILE} version {} does not name {release}",
            list.version
        ));
    }
    let list_digest = Digest::of_bytes(&list_bytes);
    if timestamp.revocations.version != list.version || timestamp.revocations.digest != list_digest
    {
        return Err(format!(
            "{TIMESTAMP_FILE} names revocation list version {} ({}), the stored one is version {} ({list_digest})",
            timestamp.revocations.version, timestamp.revocations.digest, list.version
        ));
    }
    let checkpoint = state
        .metadata
        .latest_checkpoint()
        .await
        .map_err(|error| error.to_string())?
        .ok_or_else(|| "no checkpoint is stored".to_owned())?;
    let checkpoint_digest = Digest::of_bytes(checkpoint.text.as_bytes());
    if timestamp.checkpoint.size != checkpoint.size
        || timestamp.checkpoint.digest != checkpoint_digest
    {
        return Err(format!(
            "{TIMESTAMP_FILE} names the checkpoint of size {}, the latest stored one has size {}",
            timestamp.checkpoint.size, checkpoint.size
        ));
    }
    if checkpoint.size <= log_index {
        return Err(format!(
            "the latest checkpoint (size {}) does not cover log entry {log_index}",
            checkpoint.size
        ));
    }
    Ok(Published {
        checkpoint_size: checkpoint.size,
        revocations_version: list.version,
        timestamp_version: timestamp.version,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(reason: &str, advisory: Option<&str>, by: &str) -> RevokeRequest {
        RevokeRequest {
            release: "acme/notes@1.4.2".parse().unwrap(),
            reason: reason.to_owned(),
            advisory: advisory.map(str::to_owned),
            by: by.to_owned(),
        }
    }

    #[test]
    fn a_release_is_named_publisher_slash_app_at_version() {
        let name: ReleaseName = "acme/notes@1.4.2".parse().unwrap();
        assert_eq!(name.app.to_string(), "acme/notes");
        assert_eq!(name.version.to_string(), "1.4.2");
        assert_eq!(name.to_string(), "acme/notes 1.4.2");
        for (text, named) in [
            ("acme/notes", "PUBLISHER/APP@VERSION"),
            ("acme@1.0.0", "app name \"acme\""),
            ("acme/notes@", "version \"\""),
            ("acme/notes@one", "version \"one\""),
        ] {
            let error = text.parse::<ReleaseName>().unwrap_err();
            assert!(error.contains(named), "{text}: {error}");
        }
    }

    #[test]
    fn reason_advisory_and_revoker_are_checked_before_anything_is_looked_up() {
        assert!(
            check_request(&request(
                "steals tokens",
                Some("LOCARA-2026-0001"),
                "security-team"
            ))
            .is_ok()
        );
        assert!(check_request(&request("x", Some("GHSA-abcd-efgh-ijkl"), "alice")).is_ok());
        assert!(matches!(
            check_request(&request("two\nlines", None, "security-team")),
            Err(RevokeError::Reason(ReleaseNoteError::NotPrintable {
                found: '\n'
            }))
        ));
        for advisory in ["", "has space", "<script>", &"A".repeat(65)] {
            assert!(
                matches!(
                    check_request(&request("r", Some(advisory), "security-team")),
                    Err(RevokeError::Advisory { .. })
                ),
                "{advisory:?}"
            );
        }
        for by in ["", "\u{1b}[31m", &"b".repeat(65)] {
            assert!(
                matches!(
                    check_request(&request("r", None, by)),
                    Err(RevokeError::Revoker { .. })
                ),
                "{by:?}"
            );
        }
    }
}
