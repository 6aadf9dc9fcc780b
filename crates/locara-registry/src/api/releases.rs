//! Publishing: a signed release request becomes a queued build; builds and their logs; releases; the
//! webhook an account is told of releases at. What happens to a release afterwards is in
//! [`super::lifecycle`].
//!
//! No endpoint accepts app bytes: a release request names a repository and a commit, and only the
//! registry's builder makes the artifact (DESIGN §1.1).

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use locara_core::dsse::Envelope;
use locara_core::keys::{PublicKey, TrustedKeys};
use locara_core::names::AppName;
use locara_core::statement::release::verify_release;
use locara_core::time::Timestamp;
use locara_core::version::Version;
use locara_store::records::{App, Build, MemberRole, NewBuild, Release, TokenKind};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{Caller, display_time, now};
use super::problem::{self, ApiResult, Problem};
use super::publishers::find_publisher;
use super::{Body, limits};
use crate::http::AppState;

/// How far in the future a statement's `created_at` may be (clock skew), in seconds.
pub const STATEMENT_MAX_SKEW_SECONDS: u64 = 300;

/// A release request: the publisher's signed release statement.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PublishRequest {
    /// The version to release; must equal the statement's.
    pub version: String,
    /// The release statement in a DSSE envelope signed by one of the publisher's registered keys.
    #[schema(value_type = Object)]
    pub statement: serde_json::Value,
}

/// A build as its app's members see it.
#[derive(Serialize, ToSchema)]
pub struct BuildView {
    /// The build id.
    pub id: i64,
    /// `publisher/app`.
    pub app: String,
    /// The version asked for.
    pub version: String,
    /// The repository fetched.
    pub repository: String,
    /// The commit built.
    pub commit: String,
    /// `queued`, `building`, `succeeded` or `failed`.
    pub state: String,
    /// Times a worker took it.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// When it was asked for.
    pub created_at: String,
    /// When a worker first took it.
    pub started_at: Option<String>,
    /// When it finished.
    pub finished_at: Option<String>,
    /// Whether a log is kept (read it at `/api/v1/builds/{id}/log`).
    pub has_log: bool,
}

fn build_view(build: &Build) -> BuildView {
    BuildView {
        id: build.id,
        app: build.app.clone(),
        version: build.version.clone(),
        repository: build.repository.clone(),
        commit: build.commit.clone(),
        state: build.state.as_str().to_owned(),
        attempts: build.attempts,
        error: build.error.clone(),
        created_at: display_time(build.created_at),
        started_at: build.started_at.map(display_time),
        finished_at: build.finished_at.map(display_time),
        has_log: build.log_digest.is_some(),
    }
}

/// A release's public record.
#[derive(Serialize, ToSchema)]
pub struct ReleaseView {
    /// The version.
    pub version: String,
    /// `available`, `cooling-down`, `cancelled`, `yanked`, `deprecated` or `revoked`.
    pub state: String,
    /// When it is (or became) available.
    pub available_at: String,
    /// The commit built.
    pub commit: String,
    /// The repository fetched.
    pub repository: String,
    /// The artifact's digest (`/blobs/sha256/<hex>`).
    pub artifact: String,
    /// The artifact's length in bytes, as the release's log entry records it (absent for releases
    /// recorded before sizes were).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifact_size: Option<u64>,
    /// The provenance envelope's digest.
    pub provenance: String,
    /// The provenance envelope's length in bytes (absent as for `artifact_size`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provenance_size: Option<u64>,
    /// The publisher key that signed the request.
    pub key_id: String,
    /// Whether two builds gave the same bytes.
    pub reproducible: bool,
    /// Capabilities, in plain words.
    pub capabilities: Vec<String>,
    /// What it adds to the previous available release, in plain words.
    pub expansion: Vec<String>,
    /// The log entry that records it.
    pub log_index: u64,
    /// The build that made it.
    pub build_id: i64,
    /// The deprecation message, once deprecated (kept if it is later yanked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// A release as the API shows it.
pub(crate) fn release_view(release: &Release) -> ReleaseView {
    ReleaseView {
        version: release.version.clone(),
        state: effective_state(release, now()).to_owned(),
        available_at: display_time(release.available_at),
        commit: release.commit.clone(),
        repository: release.repository.clone(),
        artifact: release.artifact_digest.clone(),
        artifact_size: release.artifact_size,
        provenance: release.provenance_digest.clone(),
        provenance_size: release.provenance_size,
        key_id: release.key_id.clone(),
        reproducible: release.reproducible,
        capabilities: serde_json::from_str(&release.capabilities).unwrap_or_default(),
        expansion: serde_json::from_str(&release.expansion).unwrap_or_default(),
        log_index: release.log_index,
        build_id: release.build_id,
        message: release.message.clone(),
    }
}

/// A release's state at `now`: a cooling-down release whose time has come is available.
pub fn effective_state(release: &Release, now: u64) -> &str {
    if release.state == "cooling-down" && now >= release.available_at {
        "available"
    } else {
        &release.state
    }
}

/// Whether clients may install `release` at `now`: available (its cool-down over) or deprecated.
pub fn is_installable(release: &Release, now: u64) -> bool {
    matches!(effective_state(release, now), "available" | "deprecated")
}

/// The app `publisher/app`, or 404.
pub(crate) async fn find_app(state: &AppState, publisher: &str, app: &str) -> ApiResult<App> {
    let name = format!("{publisher}/{app}");
    state
        .metadata
        .app_by_name(&name)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no app `{}`", name.escape_debug())))
}

/// Refuses a caller who is not a member (owner or maintainer) of the app's publisher.
pub(crate) async fn require_member(
    state: &AppState,
    caller: &Caller,
    publisher_id: i64,
) -> ApiResult<MemberRole> {
    state
        .metadata
        .members(publisher_id)
        .await?
        .into_iter()
        .find(|member| member.account_id == caller.account.id)
        .map(|member| member.role)
        .ok_or_else(|| {
            Problem::forbidden(
                "not-a-member",
                "Members only",
                format!(
                    "`{}` is not a member of this app's publisher",
                    caller.account.username
                ),
            )
        })
}

/// Requests a release: verifies the publisher's signed statement and queues a build of the named commit.
/// Needs a `publish` token and a fresh code, or a trusted-publishing token.
#[utoipa::path(post, path = "/api/v1/apps/{publisher}/{app}/releases", request_body = PublishRequest,
    tag = "releases", security(("token" = [])),
    params(("publisher" = limits::Name, Path, description = "the publisher"), ("app" = limits::Name, Path, description = "the app, without its publisher"),
        ("Locara-OTP" = Option<String>, Header, description = "a fresh TOTP code; not needed with a trusted-publishing token")),
    responses((status = 202, body = BuildView), (status = 400, response = problem::InvalidRequest),
        (status = 401, response = problem::Unauthorized), (status = 403, response = problem::Forbidden),
        (status = 404, response = problem::NotFound), (status = 409, response = problem::Conflict),
        (status = 429, response = problem::RateLimited)))]
pub async fn publish(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((publisher_name, app_name)): Path<(String, String)>,
    Body(request): Body<PublishRequest>,
) -> ApiResult<(StatusCode, Json<BuildView>)> {
    let app = find_app(&state, &publisher_name, &app_name).await?;
    caller.require_two_factor()?;
    caller.require_scope("publish", Some(&app.name))?;
    let publisher = find_publisher(&state, &publisher_name).await?;
    require_member(&state, &caller, publisher.id).await?;
    if publisher.verification.is_none() {
        return Err(Problem::forbidden(
            "publisher-unverified",
            "Publisher not verified",
            format!(
                "`{}` is not verified; only verified publishers can publish",
                publisher.name
            ),
        ));
    }
    let version: Version = request
        .version
        .parse()
        .map_err(|error| Problem::invalid(format!("version: {error}")))?;
    let envelope_bytes = serde_json::to_vec(&request.statement)
        .map_err(|error| Problem::invalid(format!("statement: {error}")))?;
    let envelope = Envelope::from_json(&envelope_bytes)
        .map_err(|error| Problem::invalid(format!("statement is not a DSSE envelope: {error}")))?;
    let live_keys: Vec<PublicKey> = state
        .metadata
        .publisher_keys(publisher.id)
        .await?
        .into_iter()
        .filter(|key| key.revoked_at.is_none())
        .filter_map(|key| PublicKey::from_any_spelling(&key.public_key).ok())
        .collect();
    if live_keys.is_empty() {
        return Err(Problem::forbidden(
            "no-release-key",
            "No release key",
            format!(
                "`{}` has no registered release key; register one with `locara keys register --publisher {}`",
                publisher.name, publisher.name
            ),
        ));
    }
    let keys = TrustedKeys::new(live_keys, 1).map_err(|error| Problem::unavailable(&error))?;
    let app_name: AppName = app
        .name
        .parse()
        .map_err(|error| Problem::unavailable(&error))?;
    let verified = verify_release(&envelope, &keys, &app_name, &version).map_err(|error| {
        Problem::new(
            StatusCode::BAD_REQUEST,
            "statement-refused",
            "Release statement refused",
            format!(
                "{error}; sign the statement for this app and version with a key registered for `{}` and not revoked",
                publisher.name
            ),
        )
    })?;
    let statement = verified.statement;
    statement
        .check_age(
            Timestamp::now(),
            state.config.statement_max_age_seconds,
            STATEMENT_MAX_SKEW_SECONDS,
        )
        .map_err(|error| {
            Problem::new(
                StatusCode::BAD_REQUEST,
                "statement-refused",
                "Release statement refused",
                format!("{error}; sign a new statement"),
            )
        })?;
    if statement.repository != app.repository {
        return Err(Problem::new(
            StatusCode::BAD_REQUEST,
            "statement-refused",
            "Release statement refused",
            format!(
                "the statement names repository {} but `{}` is registered with {}",
                statement.repository, app.name, app.repository
            ),
        ));
    }
    let releases = state.metadata.releases_of(app.id).await?;
    if let Some(latest) = releases
        .iter()
        .filter_map(|release| release.version.parse::<Version>().ok())
        .max_by(|a, b| a.semver().cmp(b.semver()))
        && version.semver() <= latest.semver()
    {
        return Err(Problem::conflict(format!(
            "version {version} is not higher than {latest}, already released; versions are never reused, publish a higher one"
        )));
    }
    // A trusted-publishing token is itself the second factor (an OIDC token the owners trusted under 2FA).
    if caller.token.kind != TokenKind::TrustedPublishing {
        caller.require_fresh_otp(&state, &headers).await?;
    }
    let key_id = verified
        .signed_by
        .first()
        .map(ToString::to_string)
        .unwrap_or_default();
    let build = state
        .metadata
        .enqueue_build(NewBuild {
            app_id: app.id,
            version: version.to_string(),
            repository: app.repository.clone(),
            commit: statement.commit.as_str().to_owned(),
            statement: String::from_utf8_lossy(&envelope.to_json()).into_owned(),
            key_id,
            requested_by: caller.account.id,
            created_at: now(),
        })
        .await?;
    state.builds_waiting.notify_one();
    tracing::info!(app = %app.name, %version, build = build.id, "release requested");
    Ok((StatusCode::ACCEPTED, Json(build_view(&build))))
}

async fn readable_build(state: &AppState, caller: &Caller, id: i64) -> ApiResult<Build> {
    let build = state
        .metadata
        .build(id)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no build {id}")))?;
    let app = state
        .metadata
        .app_by_name(&build.app)
        .await?
        .ok_or_else(|| Problem::not_found(format!("there is no build {id}")))?;
    require_member(state, caller, app.publisher_id).await?;
    Ok(build)
}

/// A build's state (members of the app's publisher).
#[utoipa::path(get, path = "/api/v1/builds/{id}", tag = "releases", security(("token" = [])),
    params(("id" = i64, Path, description = "the build's id")),
    responses((status = 200, body = BuildView), (status = 403, response = problem::Forbidden),
        (status = 404, response = problem::NotFound)))]
pub async fn show_build(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Json<BuildView>> {
    Ok(Json(build_view(
        &readable_build(&state, &caller, id).await?,
    )))
}

/// A finished build's log, as text (members of the app's publisher).
#[utoipa::path(get, path = "/api/v1/builds/{id}/log", tag = "releases", security(("token" = [])),
    params(("id" = i64, Path, description = "the build's id")),
    responses((status = 200, body = String, content_type = "text/plain; charset=utf-8",
            headers(("Locara-Build-State" = String, description = "the build's state"))),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound)))]
pub async fn build_log(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<Response> {
    let build = readable_build(&state, &caller, id).await?;
    let Some(digest) = build
        .log_digest
        .as_deref()
        .and_then(|digest| digest.parse().ok())
    else {
        // While a worker builds, the log so far (re-published every second).
        if build.state == locara_store::records::BuildState::Building
            && let Some(bytes) = state
                .blobs
                .get_named(&crate::worker::live_log_path(build.id))
                .await?
        {
            return Ok((
                [
                    (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                    (
                        header::HeaderName::from_static("locara-build-state"),
                        "building",
                    ),
                ],
                bytes,
            )
                .into_response());
        }
        return Err(Problem::not_found(format!(
            "build {id} has no log yet (it is {})",
            build.state.as_str()
        )));
    };
    let reader = state
        .blobs
        .get(&digest)
        .await?
        .ok_or_else(|| Problem::unavailable(&"a build log blob is missing"))?;
    let bytes = reader
        .read_to_vec()
        .await
        .map_err(|error| Problem::unavailable(&error))?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (
                header::HeaderName::from_static("locara-build-state"),
                build.state.as_str(),
            ),
        ],
        bytes,
    )
        .into_response())
}

/// An app's releases, oldest first.
#[utoipa::path(get, path = "/api/v1/apps/{publisher}/{app}/releases", tag = "releases",
    params(("publisher" = limits::Name, Path, description = "the publisher"), ("app" = limits::Name, Path, description = "the app, without its publisher")),
    responses((status = 200, body = Vec<ReleaseView>), (status = 404, response = problem::NotFound)))]
pub async fn list_releases(
    State(state): State<Arc<AppState>>,
    Path((publisher, app)): Path<(String, String)>,
) -> ApiResult<Json<Vec<ReleaseView>>> {
    let app = find_app(&state, &publisher, &app).await?;
    let releases = state.metadata.releases_of(app.id).await?;
    Ok(Json(releases.iter().map(release_view).collect()))
}

/// Where release notifications go.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetWebhook {
    /// An `https://` URL, or `http://` to this machine's loopback, of at most 2048 characters (or `null` to
    /// stop notifications).
    #[schema(
        pattern = r"^(https://|http://127\.0\.0\.1:|http://localhost:)",
        max_length = 2048
    )]
    pub url: Option<String>,
}

/// Sets the URL this account's release notifications are POSTed to (with a fresh code).
#[utoipa::path(put, path = "/api/v1/account/webhook", request_body = SetWebhook, tag = "accounts",
    security(("token" = [])), params(("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 204, description = "set"), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden)))]
pub async fn set_webhook(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Body(request): Body<SetWebhook>,
) -> ApiResult<StatusCode> {
    caller.require_session()?;
    if let Some(url) = &request.url {
        let loopback = url.starts_with("http://127.0.0.1:") || url.starts_with("http://localhost:");
        if !(url.starts_with("https://") || loopback) || url.chars().count() > 2048 {
            return Err(Problem::invalid(
                "a webhook is an https:// URL (plain http only to this machine's loopback)",
            ));
        }
    }
    caller.require_fresh_otp(&state, &headers).await?;
    state
        .metadata
        .set_webhook(caller.account.id, request.url.as_deref())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
