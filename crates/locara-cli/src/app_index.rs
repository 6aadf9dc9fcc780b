//! An app's signed index (`/index/<publisher>/<app>.json`), checked against the registry's root of trust
//! and compared with what the registry's API says about the app.
//!
//! The API's answers are not signed; the index is, by the root's `index` role. So a command that shows an
//! app verifies the index with the core's [`Root::verify_metadata`] (threshold of index keys, unexpired)
//! and then refuses API answers that contradict it: another app, repository, registration entry or
//! publisher verification, or a release whose artifact, provenance or log entry differs.
//!
//! The index may lag the API by a moment (it is re-signed after a release is recorded), so a release the
//! API lists and the index does not yet is reported, not refused; a release the index lists and the API
//! does not is refused. Callers fetch the index before the releases, so an honest race only ever lags.
//!
//! Rollback: the index carries a version, but this client keeps no per-app state yet, so a registry could
//! serve an older (still unexpired) index; the transparency log, which clients check before installing,
//! is what catches that.

use locara_core::index::AppIndex;
use locara_core::names::AppName;
use locara_core::root::{MetadataError, Root};
use locara_core::time::Timestamp;
use locara_core::version::Version;

use crate::publisher::{AppRecord, PublisherRecord};
use crate::release::ReleaseRecord;

/// Why an app's index was refused, or disagrees with the API.
#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    /// The registry serves no index for the app.
    #[error(
        "the registry serves no signed index for {app} (/index/{}/{}.json answered 404), so nothing it says about the app can be checked",
        app.publisher(),
        app.slug()
    )]
    Missing {
        /// The app.
        app: AppName,
    },
    /// The index failed a check of the root of trust.
    #[error("the signed index of {app} was refused")]
    Refused {
        /// The app.
        app: AppName,
        /// The check that failed.
        #[source]
        source: MetadataError,
    },
    /// The index is for another app.
    #[error(
        "the registry served the signed index of {found} for {expected}; refusing an index for another app"
    )]
    WrongApp {
        /// The app asked for.
        expected: AppName,
        /// The app the index names.
        found: AppName,
    },
    /// The API says something the signed index contradicts.
    #[error(
        "the registry's API and the signed index of {app} disagree about {what}: the API says {api}, the index says {index}; do not trust this registry's answers until that is explained"
    )]
    Disagrees {
        /// The app.
        app: AppName,
        /// What they disagree about.
        what: String,
        /// The API's value.
        api: String,
        /// The index's value.
        index: String,
    },
}

/// Verifies `bytes` as the index of `app` under `root` at `now`, refusing a version below `last_seen`.
pub fn verify_app_index(
    root: &Root,
    bytes: &[u8],
    now: Timestamp,
    app: &AppName,
    last_seen: Option<u64>,
) -> Result<AppIndex, IndexError> {
    let index: AppIndex = root
        .verify_metadata(bytes, now, last_seen)
        .map_err(|source| IndexError::Refused {
            app: app.clone(),
            source,
        })?;
    if &index.app != app {
        return Err(IndexError::WrongApp {
            expected: app.clone(),
            found: index.app,
        });
    }
    Ok(index)
}

/// Refuses API answers the verified `index` contradicts; returns the versions the API lists that the
/// index does not list yet.
pub fn check_agreement(
    index: &AppIndex,
    app: &AppRecord,
    publisher: &PublisherRecord,
    releases: &[ReleaseRecord],
) -> Result<Vec<Version>, IndexError> {
    let disagree = |what: &str, api: String, indexed: String| IndexError::Disagrees {
        app: index.app.clone(),
        what: what.to_owned(),
        api,
        index: indexed,
    };
    if app.name != index.app {
        return Err(disagree(
            "the app's name",
            app.name.to_string(),
            index.app.to_string(),
        ));
    }
    if app.repository != index.repository {
        return Err(disagree(
            "the repository",
            app.repository.clone(),
            index.repository.clone(),
        ));
    }
    if app.log_index != index.log_index {
        return Err(disagree(
            "the log entry that registered the app",
            app.log_index.to_string(),
            index.log_index.to_string(),
        ));
    }
    if app.publisher.as_str() != index.publisher.name || publisher.name != app.publisher {
        return Err(disagree(
            "the publisher",
            app.publisher.to_string(),
            index.publisher.name.clone(),
        ));
    }
    let api_verification = publisher
        .verification
        .as_ref()
        .map(|verification| (verification.method.as_str(), verification.subject.as_str()));
    let indexed_verification = index
        .publisher
        .verification
        .as_ref()
        .map(|verification| (verification.method.as_str(), verification.subject.as_str()));
    if api_verification != indexed_verification {
        let describe = |verification: Option<(&str, &str)>| {
            verification.map_or_else(
                || "not verified".to_owned(),
                |(method, subject)| format!("{method} {subject}"),
            )
        };
        return Err(disagree(
            "how the publisher is verified",
            describe(api_verification),
            describe(indexed_verification),
        ));
    }
    for indexed in &index.releases {
        let Some(release) = releases
            .iter()
            .find(|release| release.version == indexed.version)
        else {
            return Err(disagree(
                &format!("release {}", indexed.version),
                "nothing (no such release)".to_owned(),
                format!("{} with artifact {}", indexed.status, indexed.artifact),
            ));
        };
        let what = |field: &str| format!("release {}'s {field}", indexed.version);
        if release.artifact != indexed.artifact {
            return Err(disagree(
                &what("artifact"),
                release.artifact.to_string(),
                indexed.artifact.to_string(),
            ));
        }
        if release.provenance != indexed.provenance {
            return Err(disagree(
                &what("provenance"),
                release.provenance.to_string(),
                indexed.provenance.to_string(),
            ));
        }
        if (release.artifact_size, release.provenance_size)
            != (indexed.artifact_size, indexed.provenance_size)
        {
            let describe = |sizes: (Option<u64>, Option<u64>)| match sizes {
                (None, None) => "no recorded sizes".to_owned(),
                (artifact, provenance) => format!(
                    "artifact {} bytes, provenance {} bytes",
                    artifact.map_or_else(|| "?".to_owned(), |size| size.to_string()),
                    provenance.map_or_else(|| "?".to_owned(), |size| size.to_string())
                ),
            };
            return Err(disagree(
                &what("sizes"),
                describe((release.artifact_size, release.provenance_size)),
                describe((indexed.artifact_size, indexed.provenance_size)),
            ));
        }
        if release.log_index != indexed.log_index {
            return Err(disagree(
                &what("log entry"),
                release.log_index.to_string(),
                indexed.log_index.to_string(),
            ));
        }
    }
    Ok(releases
        .iter()
        .filter(|release| {
            !index
                .releases
                .iter()
                .any(|indexed| indexed.version == release.version)
        })
        .map(|release| release.version.clone())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::publisher::Verification;
    use locara_core::digest::Digest;
    use locara_core::index::{INDEX_TYPE, IndexPublisher, IndexVerification, IndexedRelease};
    use locara_core::root::SPEC_VERSION;

    fn time(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    fn index() -> AppIndex {
        AppIndex {
            metadata_type: INDEX_TYPE.to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version: 3,
            expires: time("2030-01-01T00:00:00Z"),
            app: "alice/notes".parse().unwrap(),
            repository: "https://git.example/alice/notes".to_owned(),
            log_index: 4,
            publisher: IndexPublisher {
                name: "alice".to_owned(),
                kind: "user".to_owned(),
                verification: Some(IndexVerification {
                    method: "dns".to_owned(),
                    subject: "alice.example".to_owned(),
                }),
            },
            releases: vec![IndexedRelease {
                version: "1.0.0".parse().unwrap(),
                status: "available".to_owned(),
                log_index: 9,
                artifact: Digest::of_bytes(b"artifact"),
                artifact_size: None,
                provenance: Digest::of_bytes(b"provenance"),
                provenance_size: None,
                message: None,
            }],
        }
    }

    fn app() -> AppRecord {
        AppRecord {
            name: "alice/notes".parse().unwrap(),
            publisher: "alice".parse().unwrap(),
            repository: "https://git.example/alice/notes".to_owned(),
            registered_at: time("2026-01-01T00:00:00Z"),
            log_index: 4,
        }
    }

    fn publisher() -> PublisherRecord {
        PublisherRecord {
            name: "alice".parse().unwrap(),
            kind: "user".to_owned(),
            verification: Some(Verification {
                method: "dns".to_owned(),
                subject: "alice.example".to_owned(),
                verified_at: time("2026-01-01T00:00:00Z"),
            }),
            created_at: time("2026-01-01T00:00:00Z"),
            members: Vec::new(),
            keys: Vec::new(),
            apps: Vec::new(),
            oidc_trusts: Vec::new(),
        }
    }

    fn release(version: &str) -> ReleaseRecord {
        ReleaseRecord {
            version: version.parse().unwrap(),
            state: "available".to_owned(),
            available_at: time("2026-02-01T00:00:00Z"),
            commit: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
            repository: "https://git.example/alice/notes".to_owned(),
            artifact: Digest::of_bytes(b"artifact"),
            artifact_size: None,
            provenance: Digest::of_bytes(b"provenance"),
            provenance_size: None,
            key_id: *locara_core::keys::SigningKey::from_seed(&[1; 32]).key_id(),
            reproducible: true,
            capabilities: Vec::new(),
            expansion: Vec::new(),
            log_index: 9,
            build_id: 1,
            message: None,
        }
    }

    #[test]
    fn answers_that_match_the_index_pass_and_newer_releases_are_reported() {
        let unlisted =
            check_agreement(&index(), &app(), &publisher(), &[release("1.0.0")]).unwrap();
        assert!(unlisted.is_empty());
        let unlisted = check_agreement(
            &index(),
            &app(),
            &publisher(),
            &[release("1.0.0"), release("1.1.0")],
        )
        .unwrap();
        assert_eq!(unlisted, ["1.1.0".parse::<Version>().unwrap()]);
    }

    #[test]
    fn a_different_repository_or_verification_is_refused_naming_both_values() {
        let mut moved = app();
        moved.repository = "https://evil.example/notes".to_owned();
        let error = check_agreement(&index(), &moved, &publisher(), &[release("1.0.0")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("the repository") && error.contains("evil.example"),
            "{error}"
        );

        let mut unverified = publisher();
        unverified.verification = None;
        let error = check_agreement(&index(), &app(), &unverified, &[release("1.0.0")])
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("not verified") && error.contains("dns alice.example"),
            "{error}"
        );
    }

    #[test]
    fn a_release_with_another_artifact_or_missing_from_the_api_is_refused() {
        let mut swapped = release("1.0.0");
        swapped.artifact = Digest::of_bytes(b"other");
        let error = check_agreement(&index(), &app(), &publisher(), &[swapped])
            .unwrap_err()
            .to_string();
        assert!(error.contains("release 1.0.0's artifact"), "{error}");

        let error = check_agreement(&index(), &app(), &publisher(), &[])
            .unwrap_err()
            .to_string();
        assert!(error.contains("release 1.0.0"), "{error}");
    }
}
