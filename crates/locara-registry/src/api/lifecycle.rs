//! A release after it was recorded (DESIGN §6): owners cancel one that is cooling down; members yank or
//! deprecate one.
//!
//! Invariants: a release is never deleted, only its state changes; each change is written with its log
//! entry in one transaction, guarded by the state it was read in (a race changes nothing); the app index is
//! re-signed right after. Yanked, revoked and cancelled releases are final. The allowed moves are:
//!
//! | from | cancel | yank | deprecate |
//! |---|---|---|---|
//! | cooling-down (before `available_at`) | yes | yes | no |
//! | available | no | yes | yes |
//! | deprecated | no | yes | no |
//! | yanked, revoked, cancelled | no | no | no |

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use locara_core::events::{Event, check_release_note};
use locara_store::records::{App, Release};
use serde::Deserialize;
use utoipa::ToSchema;

use super::caller::{Caller, now};
use super::problem::{self, ApiResult, Problem};
use super::publishers::{find_publisher, require_owner};
use super::releases::{ReleaseView, effective_state, find_app, release_view, require_member};
use super::{Body, limits};
use super::{append_event, entry};
use crate::http::AppState;

/// Why a release is yanked.
#[derive(Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct YankRequest {
    /// Why, in one line (at most 500 characters); recorded in the log.
    #[serde(default)]
    #[schema(value_type = Option<limits::ReleaseNote>)]
    pub reason: Option<String>,
}

/// What a deprecated release tells its users.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeprecateRequest {
    /// One line (at most 500 characters) clients show on install and in `locara list`.
    #[schema(value_type = limits::ReleaseNote)]
    pub message: String,
}

/// The release `version` of `app`.
async fn find_release(state: &AppState, app: &App, version: &str) -> ApiResult<Release> {
    state
        .metadata
        .releases_of(app.id)
        .await?
        .into_iter()
        .find(|release| release.version == version)
        .ok_or_else(|| {
            Problem::not_found(format!(
                "`{}` has no release {}",
                app.name,
                version.escape_debug()
            ))
        })
}

/// 409 for a release whose state is final.
fn final_state(app: &App, release: &Release, state: &str, action: &str) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "release-final",
        "Release state is final",
        format!(
            "{} {} is {state}, which is final; it cannot be {action}. Versions are never reused: publish a higher one",
            app.name, release.version
        ),
    )
}

/// 409 for a move the lifecycle does not allow from the release's current state.
fn not_allowed(app: &App, release: &Release, state: &str, what: &str) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "release-state",
        "Not allowed in this release state",
        format!("{} {} is {state}: {what}", app.name, release.version),
    )
}

/// Writes `release`'s move from its stored state to `to` with `event`, then re-signs the app index and
/// returns the release as it now is.
async fn change_state(
    state: &AppState,
    app: &App,
    release: &Release,
    to: &str,
    message: Option<&str>,
    event: Event,
) -> ApiResult<ReleaseView> {
    let entry = entry(now(), event)?;
    let changed = append_event(state, async {
        state
            .metadata
            .change_release_state(app.id, &release.version, &release.state, to, message, entry)
            .await
    })
    .await?;
    if changed.is_none() {
        return Err(Problem::conflict(
            "the release changed state meanwhile; look again",
        ));
    }
    crate::index::refresh_app(state, app).await;
    let release = find_release(state, app, &release.version).await?;
    tracing::info!(app = %app.name, version = %release.version, state = %release.state, "release state changed");
    Ok(release_view(&release))
}

/// Cancels a release that is still cooling down (owners, with a fresh code); it never becomes available.
#[utoipa::path(post, path = "/api/v1/apps/{publisher}/{app}/releases/{version}/cancel", tag = "releases",
    security(("token" = [])),
    params(("publisher" = limits::Name, Path, description = "the publisher"), ("app" = limits::Name, Path, description = "the app, without its publisher"), ("version" = String, Path, description = "the release's version"),
        ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = ReleaseView), (status = 403, response = problem::Forbidden),
        (status = 404, response = problem::NotFound), (status = 409, response = problem::Conflict)))]
pub async fn cancel_release(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((publisher_name, app_name, version)): Path<(String, String, String)>,
) -> ApiResult<Json<ReleaseView>> {
    let app = find_app(&state, &publisher_name, &app_name).await?;
    let publisher = find_publisher(&state, &publisher_name).await?;
    caller.require_two_factor()?;
    caller.require_scope("publish", Some(&app.name))?;
    require_owner(&state, &caller, &publisher).await?;
    let release = find_release(&state, &app, &version).await?;
    let current = effective_state(&release, now());
    if current != "cooling-down" {
        return Err(Problem::conflict(format!(
            "{} {} is {current}, not cooling down; only a cooling-down release can be cancelled",
            app.name, release.version,
        )));
    }
    caller.require_fresh_otp(&state, &headers).await?;
    let event = Event::ReleaseCancelled {
        app: app.name.clone(),
        version: release.version.clone(),
        by: caller.account.username.clone(),
    };
    Ok(Json(
        change_state(&state, &app, &release, "cancelled", None, event).await?,
    ))
}

/// Yanks a release (members of the publisher, a `yank` token and a fresh code): no new resolution picks
/// it; installed copies and lockfiles that name it keep working. Available, deprecated and cooling-down
/// releases can be yanked; yanked, revoked and cancelled ones are final.
#[utoipa::path(post, path = "/api/v1/apps/{publisher}/{app}/releases/{version}/yank", tag = "releases",
    request_body(content = YankRequest, description = "optional: `{\"reason\": \"...\"}`"),
    security(("token" = [])),
    params(("publisher" = limits::Name, Path, description = "the publisher"), ("app" = limits::Name, Path, description = "the app, without its publisher"), ("version" = String, Path, description = "the release's version"),
        ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = ReleaseView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 409, response = problem::Conflict)))]
pub async fn yank_release(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((publisher_name, app_name, version)): Path<(String, String, String)>,
    request: Option<Body<YankRequest>>,
) -> ApiResult<Json<ReleaseView>> {
    let app = find_app(&state, &publisher_name, &app_name).await?;
    let publisher = find_publisher(&state, &publisher_name).await?;
    caller.require_two_factor()?;
    caller.require_scope("yank", Some(&app.name))?;
    require_member(&state, &caller, publisher.id).await?;
    let release = find_release(&state, &app, &version).await?;
    let request = request.map(|Body(request)| request).unwrap_or_default();
    if let Some(reason) = &request.reason {
        check_release_note(reason).map_err(|error| Problem::invalid(format!("reason {error}")))?;
    }
    let current = effective_state(&release, now());
    if matches!(current, "yanked" | "revoked" | "cancelled") {
        return Err(final_state(&app, &release, current, "yanked"));
    }
    caller.require_fresh_otp(&state, &headers).await?;
    let event = Event::ReleaseYanked {
        app: app.name.clone(),
        version: release.version.clone(),
        reason: request.reason,
        by: caller.account.username.clone(),
    };
    Ok(Json(
        change_state(&state, &app, &release, "yanked", None, event).await?,
    ))
}

/// Deprecates an available release with a message clients show on install and in `locara list`
/// (members of the publisher, a `yank` token and a fresh code). It stays installable; it can still be
/// yanked later.
#[utoipa::path(post, path = "/api/v1/apps/{publisher}/{app}/releases/{version}/deprecate", tag = "releases",
    request_body = DeprecateRequest, security(("token" = [])),
    params(("publisher" = limits::Name, Path, description = "the publisher"), ("app" = limits::Name, Path, description = "the app, without its publisher"), ("version" = String, Path, description = "the release's version"),
        ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = ReleaseView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 409, response = problem::Conflict)))]
pub async fn deprecate_release(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((publisher_name, app_name, version)): Path<(String, String, String)>,
    Body(request): Body<DeprecateRequest>,
) -> ApiResult<Json<ReleaseView>> {
    let app = find_app(&state, &publisher_name, &app_name).await?;
    let publisher = find_publisher(&state, &publisher_name).await?;
    caller.require_two_factor()?;
    caller.require_scope("yank", Some(&app.name))?;
    require_member(&state, &caller, publisher.id).await?;
    let release = find_release(&state, &app, &version).await?;
    check_release_note(&request.message)
        .map_err(|error| Problem::invalid(format!("message {error}")))?;
    match effective_state(&release, now()) {
        "available" => {}
        current @ ("yanked" | "revoked" | "cancelled") => {
            return Err(final_state(&app, &release, current, "deprecated"));
        }
        "deprecated" => {
            return Err(not_allowed(
                &app,
                &release,
                "deprecated",
                "it is already deprecated (its message is kept in the log and the index)",
            ));
        }
        current => {
            return Err(not_allowed(
                &app,
                &release,
                current,
                "only an available release can be deprecated; cancel or yank a release that is cooling down",
            ));
        }
    }
    caller.require_fresh_otp(&state, &headers).await?;
    let event = Event::ReleaseDeprecated {
        app: app.name.clone(),
        version: release.version.clone(),
        message: request.message.clone(),
        by: caller.account.username.clone(),
    };
    Ok(Json(
        change_state(
            &state,
            &app,
            &release,
            "deprecated",
            Some(&request.message),
            event,
        )
        .await?,
    ))
}
