//! Signing the app index: `/index/<publisher>/<app>.json`, one document per app, signed by the index key.
//!
//! A document is re-signed (next version) when what it says changes — the app is registered, its
//! publisher's verification changes, a release is recorded, cancelled, yanked, deprecated or revoked — and when less than a quarter of its validity
//! is left, which the periodic re-signing checks. The database is the source of truth; the documents are
//! derived from it and kept in the blob store as named files.

use std::time::Duration;

use locara_core::index::{AppIndex, INDEX_TYPE, IndexPublisher, IndexVerification, IndexedRelease};
use locara_core::names::AppName;
use locara_core::root::{Role, SPEC_VERSION, SignedMetadata};
use locara_core::time::Timestamp;
use locara_store::records::{App, Publisher};
use locara_store::{NamedPath, StoreError};

use crate::http::AppState;

/// How long a newly signed index document is valid.
pub const INDEX_VALIDITY: Duration = Duration::from_secs(365 * 86_400);

/// Why an index document could not be signed.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The signing lease could not be taken.
    #[error(transparent)]
    Lease(#[from] crate::signing::LeaseError),
    /// This server holds no index key.
    #[error("this server holds no index key (keys/index.key), so it cannot sign app indexes")]
    NoKey,
    /// A stored name or document is damaged.
    #[error("app index for {app}: {reason}")]
    Damaged {
        /// The app.
        app: String,
        /// What is wrong.
        reason: String,
    },
}

/// Where an app's index document is kept and served (under `/index/`).
pub fn index_path(app: &AppName) -> NamedPath {
    NamedPath::new(&format!("index/{}/{}.json", app.publisher(), app.slug()))
        .expect("app names make valid named paths")
}

fn publisher_of(publisher: &Publisher) -> IndexPublisher {
    IndexPublisher {
        name: publisher.name.clone(),
        kind: publisher.kind.as_str().to_owned(),
        verification: publisher
            .verification
            .as_ref()
            .map(|verification| IndexVerification {
                method: verification.method.clone(),
                subject: verification.subject.clone(),
            }),
    }
}

/// Signs `app`'s index document if it is missing, says something out of date, or has less than a
/// quarter of [`INDEX_VALIDITY`] left, holding the signing lease (see [`crate::signing`]). Returns whether
/// a new version was signed.
pub async fn sign_app_index(
    state: &AppState,
    app: &App,
    publisher: &Publisher,
    now: Timestamp,
) -> Result<bool, IndexError> {
    crate::signing::with_signing_lease(
        state.metadata.as_ref(),
        sign_app_index_leased(state, app, publisher, now),
    )
    .await?
}

/// [`sign_app_index`] once the lease is held.
async fn sign_app_index_leased(
    state: &AppState,
    app: &App,
    publisher: &Publisher,
    now: Timestamp,
) -> Result<bool, IndexError> {
    let damaged = |reason: String| IndexError::Damaged {
        app: app.name.clone(),
        reason,
    };
    let name: AppName = app
        .name
        .parse()
        .map_err(|error| damaged(format!("stored name: {error}")))?;
    let path = index_path(&name);
    let current = match state.blobs.get_named(&path).await? {
        Some(bytes) => Some(
            SignedMetadata::from_json(&bytes)
                .and_then(|document| document.decode::<AppIndex>())
                .map_err(|error| damaged(error.to_string()))?,
        ),
        None => None,
    };
    let releases = state
        .metadata
        .releases_of(app.id)
        .await?
        .iter()
        .map(|release| {
            Ok(IndexedRelease {
                version: release
                    .version
                    .parse()
                    .map_err(|error| damaged(format!("release version: {error}")))?,
                status: crate::api::releases::effective_state(release, now.unix_seconds())
                    .to_owned(),
                log_index: release.log_index,
                artifact: release
                    .artifact_digest
                    .parse()
                    .map_err(|error| damaged(format!("artifact digest: {error}")))?,
                artifact_size: release.artifact_size,
                provenance: release
                    .provenance_digest
                    .parse()
                    .map_err(|error| damaged(format!("provenance digest: {error}")))?,
                provenance_size: release.provenance_size,
                message: release.message.clone(),
            })
        })
        .collect::<Result<Vec<_>, IndexError>>()?;
    let wanted_publisher = publisher_of(publisher);
    if let Some(index) = &current {
        let renew_at = index
            .expires
            .checked_sub_seconds(INDEX_VALIDITY.as_secs() / 4)
            .unwrap_or(index.expires);
        let up_to_date = index.publisher == wanted_publisher
            && index.repository == app.repository
            && index.log_index == app.log_index
            && index.releases == releases;
        if up_to_date && now < renew_at {
            return Ok(false);
        }
    }
    let key = state.trust.role_key(Role::Index).ok_or(IndexError::NoKey)?;
    let index = AppIndex {
        metadata_type: INDEX_TYPE.to_owned(),
        spec_version: SPEC_VERSION.to_owned(),
        version: current.as_ref().map_or(1, |index| index.version + 1),
        expires: now
            .checked_add_seconds(INDEX_VALIDITY.as_secs())
            .ok_or_else(|| damaged("expiry out of range".to_owned()))?,
        app: name,
        repository: app.repository.clone(),
        log_index: app.log_index,
        publisher: wanted_publisher,
        releases,
    };
    let bytes = index
        .sign(&[key])
        .map_err(|error| damaged(error.to_string()))?;
    state.blobs.put_mutable(&path, &bytes).await?;
    Ok(true)
}

/// Signs the index documents of every app of `publisher` that needs it (after its record changed).
pub async fn refresh_publisher(state: &AppState, publisher: &str) -> Result<(), IndexError> {
    let Some(publisher) = state.metadata.publisher_by_name(publisher).await? else {
        return Ok(());
    };
    for app in state.metadata.apps_of(publisher.id).await? {
        sign_app_index(state, &app, &publisher, Timestamp::now()).await?;
    }
    Ok(())
}

/// Signs every app's index document that is missing, out of date or close to expiry; run at start and on
/// the re-signing schedule, so a crash between an app's registration and its index is repaired.
pub async fn ensure_all(state: &AppState) -> Result<usize, IndexError> {
    let mut signed = 0;
    for publisher in state.metadata.publisher_names().await? {
        let Some(publisher) = state.metadata.publisher_by_name(&publisher).await? else {
            continue;
        };
        for app in state.metadata.apps_of(publisher.id).await? {
            if sign_app_index(state, &app, &publisher, Timestamp::now()).await? {
                signed += 1;
            }
        }
    }
    Ok(signed)
}

/// Re-signs `app`'s index after its releases changed; a failure is logged and repaired by the periodic
/// re-signing.
pub async fn refresh_app(state: &AppState, app: &App) {
    let result = async {
        let publisher_name = app.name.split('/').next().unwrap_or_default();
        let Some(publisher) = state.metadata.publisher_by_name(publisher_name).await? else {
            return Ok(());
        };
        sign_app_index(state, app, &publisher, Timestamp::now())
            .await
            .map(|_| ())
    }
    .await;
    if let Err(error) = result {
        tracing::error!(app = %app.name, %error, "re-signing the app index failed; the next scheduled run retries");
    }
}
