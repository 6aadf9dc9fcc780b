//! The release side of a registry's API (`/api/v1`): release requests, builds and their logs, an app's
//! releases, trusted-publishing tokens, and the app's signed index. Typed requests and responses over
//! [`ApiClient`]; no prompting or printing happens here.
//!
//! Invariants: a release request carries the publisher's signed statement and either a fresh one-time code
//! (with a login session or API token) or a trusted-publishing token, never both. Responses are decoded
//! leniently (members this client does not know are ignored) but every name, version, digest, commit and
//! time in them is parsed with the core's rules, so a malformed answer is refused, not shown.

use std::fmt;

use locara_core::digest::Digest;
use locara_core::dsse::Envelope;
use locara_core::keys::KeyId;
use locara_core::names::AppName;
use locara_core::statement::GitCommit;
use locara_core::time::Timestamp;
use locara_core::version::Version;
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::account::IssuedToken;
use crate::api::{ApiClient, ApiError};
use crate::read_limits::Document;
use crate::second_factor::OneTimeCode;
use crate::secret::Secret;

/// Where a build is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuildState {
    /// Waiting for a builder.
    Queued,
    /// A builder is working on it.
    Building,
    /// It made an artifact; the release exists.
    Succeeded,
    /// It did not; see the error and the log.
    Failed,
    /// A state this client does not know (a newer registry).
    Other(String),
}

impl BuildState {
    /// The state's word, as the registry writes it.
    pub fn as_str(&self) -> &str {
        match self {
            BuildState::Queued => "queued",
            BuildState::Building => "building",
            BuildState::Succeeded => "succeeded",
            BuildState::Failed => "failed",
            BuildState::Other(word) => word,
        }
    }

    /// Whether the build will change no more: succeeded, failed, or a state this client does not know
    /// (waiting on one could never end).
    pub fn is_final(&self) -> bool {
        !matches!(self, BuildState::Queued | BuildState::Building)
    }
}

impl fmt::Display for BuildState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for BuildState {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for BuildState {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match String::deserialize(deserializer)?.as_str() {
            "queued" => BuildState::Queued,
            "building" => BuildState::Building,
            "succeeded" => BuildState::Succeeded,
            "failed" => BuildState::Failed,
            other => BuildState::Other(other.to_owned()),
        })
    }
}

/// A build as the members of its app's publisher see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BuildRecord {
    /// The build id.
    pub id: u64,
    /// The app.
    pub app: AppName,
    /// The version asked for.
    pub version: Version,
    /// The repository fetched.
    pub repository: String,
    /// The commit built.
    pub commit: GitCommit,
    /// Where the build is.
    pub state: BuildState,
    /// How many times a builder took it.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was asked for.
    pub created_at: Timestamp,
    /// When a builder first took it.
    pub started_at: Option<Timestamp>,
    /// When it finished.
    pub finished_at: Option<Timestamp>,
    /// Whether a log is kept.
    pub has_log: bool,
}

/// A release's public record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// The version.
    pub version: Version,
    /// `available`, `cooling-down`, `cancelled`, `yanked`, `deprecated` or `revoked` (kept as text: a
    /// newer registry may know more).
    pub state: String,
    /// When it is (or became) available.
    pub available_at: Timestamp,
    /// The commit built.
    pub commit: GitCommit,
    /// The repository fetched.
    pub repository: String,
    /// The artifact's digest.
    pub artifact: Digest,
    /// The artifact's length in bytes (absent for releases recorded before sizes were).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_size: Option<u64>,
    /// The provenance envelope's digest.
    pub provenance: Digest,
    /// The provenance envelope's length in bytes (absent as for `artifact_size`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance_size: Option<u64>,
    /// The publisher key that signed the release request.
    pub key_id: KeyId,
    /// Whether two builds gave the same bytes.
    pub reproducible: bool,
    /// Its capabilities, in plain words.
    pub capabilities: Vec<String>,
    /// What it may do that the release before it could not, in plain words.
    pub expansion: Vec<String>,
    /// The transparency-log entry that records it.
    pub log_index: u64,
    /// The build that made it.
    pub build_id: u64,
    /// The deprecation message, once deprecated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Serialize)]
struct PublishBody<'a> {
    version: &'a Version,
    statement: Value,
}

#[derive(Serialize)]
struct ExchangeBody<'a> {
    app: &'a AppName,
    token: &'a Secret,
}

fn app_path(app: &AppName) -> String {
    format!("api/v1/apps/{}/{}", app.publisher(), app.slug())
}

/// How a release request proves a second factor.
#[derive(Debug, Clone, Copy)]
pub enum ReleaseAuthorisation<'a> {
    /// A fresh one-time code, with the client's session or API token.
    Code(&'a OneTimeCode),
    /// The client carries a trusted-publishing token, which is itself the second factor.
    TrustedPublishing,
}

/// `POST /api/v1/apps/{publisher}/{app}/releases`: asks the registry to build and release `version` as the
/// signed `statement` says; the answer is the queued build.
pub async fn request_release(
    client: &ApiClient,
    app: &AppName,
    version: &Version,
    statement: &Envelope,
    authorisation: ReleaseAuthorisation<'_>,
) -> Result<BuildRecord, ApiError> {
    let statement: Value = serde_json::from_slice(&statement.to_json())
        .expect("a DSSE envelope serialises to a JSON object");
    let body = PublishBody { version, statement };
    let code = match authorisation {
        ReleaseAuthorisation::Code(code) => Some(code),
        ReleaseAuthorisation::TrustedPublishing => None,
    };
    client
        .send_json_with_otp(
            Method::POST,
            &format!("{}/releases", app_path(app)),
            Some(&body),
            code,
        )
        .await
}

/// `POST /api/v1/trusted-publishing/token`: exchanges a CI job's OIDC identity token for a short-lived
/// token that can publish `app` and nothing else. Needs no other credential.
pub async fn exchange_trusted_token(
    client: &ApiClient,
    app: &AppName,
    identity_token: &Secret,
) -> Result<IssuedToken, ApiError> {
    client
        .post_json(
            "api/v1/trusted-publishing/token",
            &ExchangeBody {
                app,
                token: identity_token,
            },
        )
        .await
}

/// `GET /api/v1/builds/{id}`: a build's state (members of the app's publisher).
pub async fn build(client: &ApiClient, id: u64) -> Result<BuildRecord, ApiError> {
    client.get_json(&format!("api/v1/builds/{id}")).await
}

/// `GET /api/v1/builds/{id}/log`: a finished build's log, as the builder wrote it.
pub async fn build_log(client: &ApiClient, id: u64) -> Result<Vec<u8>, ApiError> {
    client
        .get_bytes(&format!("api/v1/builds/{id}/log"), Document::BuildLog)
        .await
}

/// `GET /api/v1/apps/{publisher}/{app}/releases`: the app's releases, oldest first.
pub async fn releases(client: &ApiClient, app: &AppName) -> Result<Vec<ReleaseRecord>, ApiError> {
    client
        .get_json(&format!("{}/releases", app_path(app)))
        .await
}

/// `GET /index/{publisher}/{app}.json`: the app's index document exactly as served (not yet verified);
/// `None` when the registry has none.
pub async fn app_index_bytes(
    client: &ApiClient,
    app: &AppName,
) -> Result<Option<Vec<u8>>, ApiError> {
    client
        .get_optional_bytes(
            &format!("index/{}/{}.json", app.publisher(), app.slug()),
            Document::AppIndex,
        )
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    const BUILD: &str = r#"{"id":7,"app":"alice/notes","version":"1.0.0","repository":"file:///srv/notes",
        "commit":"0123456789abcdef0123456789abcdef01234567","state":"queued","attempts":0,"error":null,
        "created_at":"2026-11-25T17:39:51Z","started_at":null,"finished_at":null,"has_log":false,
        "worker":"w1"}"#;

    #[test]
    fn a_build_decodes_with_typed_fields_and_ignores_new_members() {
        let build: BuildRecord = serde_json::from_str(BUILD).unwrap();
        assert_eq!(build.id, 7);
        assert_eq!(build.state, BuildState::Queued);
        assert_eq!(build.version.to_string(), "1.0.0");
        assert!(!build.state.is_final());
        let shown = serde_json::to_value(&build).unwrap();
        assert_eq!(shown["state"], "queued");
        assert_eq!(shown["commit"], "0123456789abcdef0123456789abcdef01234567");
    }

    #[test]
    fn a_build_with_an_abbreviated_commit_is_refused() {
        let bad = BUILD.replace("0123456789abcdef0123456789abcdef01234567", "0123456");
        assert!(serde_json::from_str::<BuildRecord>(&bad).is_err());
    }

    #[test]
    fn unknown_build_states_are_kept_and_end_a_wait() {
        let build: BuildRecord =
            serde_json::from_str(&BUILD.replace("\"queued\"", "\"cancelled\"")).unwrap();
        assert_eq!(build.state, BuildState::Other("cancelled".to_owned()));
        assert!(build.state.is_final());
        assert_eq!(build.state.to_string(), "cancelled");
        for (word, last) in [("building", false), ("succeeded", true), ("failed", true)] {
            let build: BuildRecord =
                serde_json::from_str(&BUILD.replace("\"queued\"", &format!("\"{word}\""))).unwrap();
            assert_eq!(build.state.is_final(), last, "{word}");
            assert_eq!(build.state.as_str(), word);
        }
    }

    #[test]
    fn a_release_request_carries_the_envelope_as_an_object() {
        let key = locara_core::keys::SigningKey::from_seed(&[3; 32]);
        let envelope = Envelope::signed("application/x-test", b"{}".to_vec(), &[&key]);
        let version: Version = "1.0.0".parse().unwrap();
        let body = PublishBody {
            version: &version,
            statement: serde_json::from_slice(&envelope.to_json()).unwrap(),
        };
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["version"], "1.0.0");
        assert_eq!(json["statement"]["payloadType"], "application/x-test");
        assert!(json["statement"]["signatures"].is_array());
    }
}
