//! Apps: registering `publisher/app` with its source repository, under the core's name rules.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use locara_core::events::Event;
use locara_core::names::{self, AppName};
use locara_core::time::Timestamp;
use locara_store::records::{App, NewApp};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{Caller, display_time, now};
use super::problem::{self, ApiResult, Problem};
use super::publishers::{find_publisher, require_owner};
use super::{Body, limits};
use super::{append_event, entry};
use crate::http::AppState;

/// An app to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterApp {
    /// `publisher/app`.
    #[schema(value_type = limits::AppName)]
    pub name: String,
    /// The source repository the builder will fetch: an `https://` URL, or `file://` for a repository on
    /// the registry's own machine (development).
    #[schema(pattern = r"^(https://|file:///)")]
    pub repository: String,
}

/// An app's public record.
#[derive(Serialize, ToSchema)]
pub struct AppView {
    /// `publisher/app`.
    pub name: String,
    /// The publisher.
    pub publisher: String,
    /// Its source repository.
    pub repository: String,
    /// When it was registered.
    pub registered_at: String,
    /// The log entry that registered it.
    pub log_index: u64,
}

fn app_view(app: &App, publisher: &str) -> AppView {
    AppView {
        name: app.name.clone(),
        publisher: publisher.to_owned(),
        repository: app.repository.clone(),
        registered_at: display_time(app.created_at),
        log_index: app.log_index,
    }
}

fn collision_problem(collision: &names::Collision) -> Problem {
    Problem::new(
        StatusCode::CONFLICT,
        "name-collision",
        "Name too close to an existing app",
        collision.to_string(),
    )
}

/// Checks the repository URL: `https://` (the core's URL rules) or `file:///absolute/path`.
fn check_repository(repository: &str) -> ApiResult<()> {
    if let Some(path) = repository.strip_prefix("file://") {
        if path.starts_with('/') && !path.split('/').any(|part| part == "..") {
            return Ok(());
        }
        return Err(Problem::invalid(format!(
            "repository `{}`: a file:// URL must name an absolute path without `..`",
            repository.escape_debug()
        )));
    }
    repository
        .parse::<locara_core::manifest::HttpsUrl>()
        .map(|_| ())
        .map_err(|error| Problem::invalid(format!("repository: {error}")))
}

/// Registers an app for a verified publisher (owners, with a fresh code). The name must not collide with
/// another app's canonical form, and must not be a typosquat of another publisher's app.
#[utoipa::path(post, path = "/api/v1/apps", request_body = RegisterApp, tag = "apps",
    security(("token" = [])), params(("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 201, body = AppView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 409, response = problem::Conflict)))]
pub async fn register_app(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Body(request): Body<RegisterApp>,
) -> ApiResult<(StatusCode, Json<AppView>)> {
    caller.require_two_factor()?;
    caller.require_scope("admin", Some(&request.name))?;
    let (publisher_part, _) = request.name.split_once('/').ok_or_else(|| {
        Problem::invalid(format!(
            "`{}` is not an app name: write publisher/app",
            request.name.escape_debug()
        ))
    })?;
    let publisher = find_publisher(&state, publisher_part).await?;
    require_owner(&state, &caller, &publisher).await?;
    if publisher.verification.is_none() {
        return Err(Problem::forbidden(
            "publisher-unverified",
            "Publisher not verified",
            format!(
                "`{}` is not verified, and only verified publishers can register apps; verify it with `locara publisher verify {} --dns DOMAIN` (or an OIDC identity)",
                publisher.name, publisher.name
            ),
        ));
    }
    check_repository(&request.repository)?;
    let _names = state.names.lock().await;
    let existing: Vec<AppName> = state
        .metadata
        .app_names()
        .await?
        .iter()
        .filter_map(|name| name.parse().ok())
        .collect();
    // The collision checks run on the name as typed, before the character rules, so a homoglyph or a
    // case variant is reported as a collision naming the app it imitates, not only as invalid.
    names::check_canonical_collision(&request.name, &existing)
        .map_err(|collision| collision_problem(&collision))?;
    names::check_typosquat(&request.name, &existing)
        .map_err(|collision| collision_problem(&collision))?;
    let name: AppName = request.name.parse().map_err(|error| {
        Problem::invalid(format!(
            "app name `{}`: {error}",
            request.name.escape_debug()
        ))
    })?;
    // Last, so a request refused for any other reason never spends the code.
    caller.require_fresh_otp(&state, &headers).await?;
    let at = now();
    let entry = entry(
        at,
        Event::AppRegistered {
            app: name.to_string(),
            repository: request.repository.clone(),
            by: caller.account.username.clone(),
        },
    )?;
    let app = append_event(&state, async {
        state
            .metadata
            .register_app(
                NewApp {
                    publisher_id: publisher.id,
                    name: name.to_string(),
                    canonical: names::canonical(&name.to_string()),
                    repository: request.repository.clone(),
                    created_at: at,
                },
                entry,
            )
            .await
    })
    .await?;
    tracing::info!(app = %app.name, username = %caller.account.username, "app registered");
    // The registration is committed; a failure here is repaired by the periodic re-signing.
    if let Err(error) =
        crate::index::sign_app_index(&state, &app, &publisher, Timestamp::now()).await
    {
        tracing::error!(app = %app.name, %error, "signing the app index failed; the next scheduled run retries");
    }
    Ok((StatusCode::CREATED, Json(app_view(&app, &publisher.name))))
}

/// An app's public record.
#[utoipa::path(get, path = "/api/v1/apps/{publisher}/{app}", tag = "apps",
    params(("publisher" = limits::Name, Path, description = "the publisher"), ("app" = limits::Name, Path, description = "the app, without its publisher")),
    responses((status = 200, body = AppView), (status = 404, response = problem::NotFound)))]
pub async fn show_app(
    State(state): State<Arc<AppState>>,
    Path((publisher, app)): Path<(String, String)>,
) -> ApiResult<Json<AppView>> {
    let name = format!("{publisher}/{app}");
    let app =
        state.metadata.app_by_name(&name).await?.ok_or_else(|| {
            Problem::not_found(format!("there is no app `{}`", name.escape_debug()))
        })?;
    Ok(Json(app_view(&app, &publisher)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repositories_are_https_or_absolute_file_urls() {
        assert!(check_repository("https://git.example/acme/notes").is_ok());
        assert!(check_repository("file:///srv/git/notes").is_ok());
        for bad in [
            "http://git.example/acme/notes",
            "file://relative/path",
            "file:///srv/../etc",
            "git@example:acme/notes",
            "https://user:pw@git.example/x",
        ] {
            assert!(check_repository(bad).is_err(), "{bad}");
        }
    }
}
