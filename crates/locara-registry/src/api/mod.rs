//! The JSON API under `/api/v1`: accounts, 2FA, tokens, publishers, keys, apps, trusted publishing,
//! releases and their lifecycle, and search.
//!
//! Every error is an RFC 9457 problem ([`problem::Problem`]); the OpenAPI document is served at
//! `/api/v1/openapi.json`. Every change to security state is written with its transparency-log entry in
//! one transaction, after which the checkpoint and `timestamp.json` are re-signed (see
//! [`AppState::log_grew`]).

pub mod accounts;
pub mod apps;
pub mod caller;
pub mod keys;
pub mod lifecycle;
pub mod limits;
pub mod problem;
pub mod publishers;
pub mod releases;
pub mod search;
pub mod trusted;

use std::future::Future;
use std::sync::{Arc, OnceLock};

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::{FromRequest, OptionalFromRequest, Request, rejection::JsonRejection};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use axum::{Json, Router};
use locara_core::events::{Event, LogEntry};
use locara_core::time::Timestamp;
use locara_store::StoreError;
use serde::de::{DeserializeOwned, Error as _};
use serde::{Deserialize, Deserializer};
use utoipa::OpenApi;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Ref, RefOr};

use crate::http::AppState;
use problem::{ApiResult, Problem};

/// The OpenAPI document of `/api/v1`.
#[derive(OpenApi)]
#[openapi(
    info(title = "Locara registry API", description = "Accounts, publishers, keys and apps of a Locara registry. Errors are RFC 9457 problem details."),
    paths(
        accounts::sign_up, accounts::login, accounts::logout, accounts::me, accounts::account_events,
        accounts::start_two_factor, accounts::confirm_two_factor,
        accounts::create_token, accounts::list_tokens, accounts::revoke_token,
        publishers::create_publisher, publishers::show_publisher, publishers::put_member,
        publishers::remove_member, publishers::start_dns_verification,
        publishers::check_dns_verification, publishers::oidc_verification, publishers::add_oidc_trust,
        keys::register_key, keys::list_keys, keys::revoke_key,
        apps::register_app, apps::show_app,
        trusted::exchange,
        releases::publish, releases::show_build, releases::build_log, releases::list_releases,
        lifecycle::cancel_release, lifecycle::yank_release, lifecycle::deprecate_release,
        releases::set_webhook, search::search,
    ),
    components(schemas(Problem), responses(
        problem::InvalidRequest, problem::Unauthorized, problem::Forbidden, problem::NotFound,
        problem::Conflict, problem::BodyTooLarge, problem::UnsupportedMediaType, problem::Unprocessable,
        problem::RateLimited, problem::BadGateway, problem::Unavailable,
    )),
    modifiers(&BearerToken, &SharedResponses),
    tags(
        (name = "accounts", description = "Sign-up, login, TOTP"),
        (name = "tokens", description = "Scoped, expiring API tokens"),
        (name = "publishers", description = "Organisations, members, verification"),
        (name = "keys", description = "Release keys"),
        (name = "apps", description = "App names"),
        (name = "trusted publishing", description = "OIDC token exchange"),
        (name = "releases", description = "Release requests, builds, releases, cancel, yank, deprecate"),
        (name = "search", description = "Finding apps"),
    )
)]
pub struct ApiDoc;

struct BearerToken;

impl utoipa::Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "an API token (locara_pat_...) from login or `locara token create`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds to every operation the answers that its extractors and the store make, so that each handler's
/// annotation lists only the answers of its own checks: a bearer token (401), a JSON body (400, 413, 415),
/// path or query parameters (400), a fresh one-time code in `Locara-OTP` (401, 403, 429), and a store or
/// signing failure (503).
struct SharedResponses;

impl utoipa::Modify for SharedResponses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                add_shared_responses(operation);
            }
        }
    }
}

fn add_shared_responses(operation: &mut Operation) {
    let parameters: Vec<_> = operation
        .parameters
        .iter()
        .flatten()
        .filter_map(|parameter| match parameter {
            RefOr::T(parameter) => Some(parameter),
            RefOr::Ref(_) => None,
        })
        .collect();
    let has_path_or_query = parameters.iter().any(|parameter| {
        matches!(
            parameter.parameter_in,
            ParameterIn::Path | ParameterIn::Query
        )
    });
    let takes_one_time_code = parameters
        .iter()
        .any(|parameter| parameter.name.eq_ignore_ascii_case(caller::OTP_HEADER));
    let has_body = operation.request_body.is_some();
    let needs_token = operation.security.is_some();
    let mut shared = Vec::new();
    if has_body || has_path_or_query {
        shared.push(("400", "InvalidRequest"));
    }
    if needs_token || takes_one_time_code {
        shared.push(("401", "Unauthorized"));
    }
    if takes_one_time_code {
        shared.extend([("403", "Forbidden"), ("429", "RateLimited")]);
    }
    if has_body {
        shared.extend([("413", "BodyTooLarge"), ("415", "UnsupportedMediaType")]);
    }
    shared.push(("503", "Unavailable"));
    for (status, response) in shared {
        operation
            .responses
            .responses
            .entry(status.to_owned())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(response)));
    }
}

/// The OpenAPI document as this registry serves it: [`ApiDoc`] with the limits its configuration sets.
pub fn document(config: &crate::config::Config) -> serde_json::Value {
    let mut document = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    if let Some(expires) =
        document.pointer_mut("/components/schemas/CreateToken/properties/expires_in_days")
    {
        expires["maximum"] = config.token_max_days.into();
    }
    if config.oidc_allow_http_loopback
        && let Some(issuer) =
            document.pointer_mut("/components/schemas/AddOidcTrust/properties/issuer")
    {
        issuer["pattern"] = r"^(https://|http://(127\.0\.0\.1|localhost)([:/]|$)|http://\[)".into();
    }
    document
}

/// The `/api/v1` routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/api/v1/openapi.json", get(openapi))
        .route("/api/v1/accounts", post(accounts::sign_up))
        .route(
            "/api/v1/session",
            post(accounts::login).delete(accounts::logout),
        )
        .route("/api/v1/account", get(accounts::me))
        .route("/api/v1/account/events", get(accounts::account_events))
        .route("/api/v1/account/2fa", post(accounts::start_two_factor))
        .route(
            "/api/v1/account/2fa/confirm",
            post(accounts::confirm_two_factor),
        )
        .route(
            "/api/v1/tokens",
            post(accounts::create_token).get(accounts::list_tokens),
        )
        .route("/api/v1/tokens/{id}", delete(accounts::revoke_token))
        .route("/api/v1/publishers", post(publishers::create_publisher))
        .route("/api/v1/publishers/{name}", get(publishers::show_publisher))
        .route(
            "/api/v1/publishers/{name}/members/{username}",
            put(publishers::put_member).delete(publishers::remove_member),
        )
        .route(
            "/api/v1/publishers/{name}/verification/dns",
            post(publishers::start_dns_verification),
        )
        .route(
            "/api/v1/publishers/{name}/verification/dns/check",
            post(publishers::check_dns_verification),
        )
        .route(
            "/api/v1/publishers/{name}/verification/oidc",
            post(publishers::oidc_verification),
        )
        .route(
            "/api/v1/publishers/{name}/oidc-trusts",
            post(publishers::add_oidc_trust),
        )
        .route(
            "/api/v1/publishers/{name}/keys",
            post(keys::register_key).get(keys::list_keys),
        )
        .route(
            "/api/v1/publishers/{name}/keys/{key_id}",
            delete(keys::revoke_key),
        )
        .route("/api/v1/apps", post(apps::register_app))
        .route("/api/v1/apps/{publisher}/{app}", get(apps::show_app))
        .route("/api/v1/trusted-publishing/token", post(trusted::exchange))
        .route(
            "/api/v1/apps/{publisher}/{app}/releases",
            post(releases::publish).get(releases::list_releases),
        )
        .route(
            "/api/v1/apps/{publisher}/{app}/releases/{version}/cancel",
            post(lifecycle::cancel_release),
        )
        .route(
            "/api/v1/apps/{publisher}/{app}/releases/{version}/yank",
            post(lifecycle::yank_release),
        )
        .route(
            "/api/v1/apps/{publisher}/{app}/releases/{version}/deprecate",
            post(lifecycle::deprecate_release),
        )
        .route("/api/v1/search", get(search::search))
        .route("/api/v1/builds/{id}", get(releases::show_build))
        .route("/api/v1/builds/{id}/log", get(releases::build_log))
        .route("/api/v1/account/webhook", put(releases::set_webhook))
        .route("/api/v1/{*rest}", axum::routing::any(unknown_endpoint))
        .layer(axum::middleware::map_response(
            problem::problem_for_framework_errors,
        ))
}

async fn openapi(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    Json(document(&state.config))
}

async fn unknown_endpoint() -> Problem {
    Problem::not_found(
        "no such API endpoint (or method); the endpoints are listed in /api/v1/openapi.json",
    )
}

/// A JSON request body whose rejections are problem details.
pub struct Body<T>(pub T);

impl<T, S> FromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match <Json<T> as FromRequest<S>>::from_request(request, state).await {
            Ok(Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(json_problem(&rejection)),
        }
    }
}

/// An optional JSON body: an empty body is `None`; anything else must be valid JSON of `T`.
impl<T, S> OptionalFromRequest<S> for Body<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let (parts, body) = request.into_parts();
        let bytes = Bytes::from_request(Request::from_parts(parts.clone(), body), state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    Problem::body_too_large()
                } else {
                    Problem::invalid(format!(
                        "the body could not be read: {}",
                        rejection.body_text()
                    ))
                }
            })?;
        if bytes.is_empty() {
            return Ok(None);
        }
        let request = Request::from_parts(parts, axum::body::Body::from(bytes));
        <Self as FromRequest<S>>::from_request(request, state)
            .await
            .map(Some)
    }
}

fn json_problem(rejection: &JsonRejection) -> Problem {
    let status = rejection.status();
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        return Problem::body_too_large();
    }
    if status == StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return Problem::new(
            status,
            "unsupported-media-type",
            "JSON expected",
            "send the body as JSON with `Content-Type: application/json`",
        );
    }
    Problem::invalid(format!(
        "the JSON body is not valid: {}",
        rejection.body_text()
    ))
}

/// Reads a whole JSON number into a `u32`: `30` or `30.0`, both of which JSON Schema's `integer` allows.
pub(crate) fn whole_u32<'de, D: Deserializer<'de>>(deserializer: D) -> Result<u32, D::Error> {
    let number = serde_json::Number::deserialize(deserializer)?;
    number
        .as_u64()
        .or_else(|| {
            number
                .as_f64()
                .filter(|value| value.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(value))
                .map(|value| value as u64)
        })
        .and_then(|value| u32::try_from(value).ok())
        .ok_or_else(|| {
            D::Error::custom(format!(
                "{number} is not a whole number from 0 to {}",
                u32::MAX
            ))
        })
}

/// A log entry's bytes for `event` at `at`.
pub(crate) fn entry(at: u64, event: Event) -> ApiResult<Vec<u8>> {
    let time = Timestamp::from_unix_seconds(at).map_err(|error| Problem::unavailable(&error))?;
    LogEntry::new(time, event)
        .to_bytes()
        .map_err(|error| Problem::invalid(format!("the change is too large to record: {error}")))
}

/// Runs a store write that appended a log entry, then re-signs the log's view.
pub(crate) async fn append_event<T>(
    state: &AppState,
    write: impl Future<Output = Result<T, StoreError>>,
) -> ApiResult<T> {
    let value = write.await?;
    state.log_grew().await;
    Ok(value)
}

/// The canonical form of a publisher name, for collision checks.
pub(crate) fn publisher_canonical(name: &str) -> String {
    locara_core::names::canonical(name)
}

/// A password hash for a password nobody has, so an unknown username costs as much as a wrong password.
pub(crate) fn dummy_password_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| {
        let mut random = [0u8; 24];
        // Without randomness the dummy is still a valid hash of an unguessable-enough fixed string.
        let _ = getrandom::fill(&mut random);
        crate::auth::hash_password(&hex::encode(random)).unwrap_or_default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Days {
        #[serde(deserialize_with = "whole_u32")]
        days: u32,
    }

    fn days(json: &str) -> Result<u32, serde_json::Error> {
        serde_json::from_str::<Days>(json).map(|parsed| parsed.days)
    }

    #[test]
    fn whole_numbers_are_read_however_json_writes_them_and_nothing_else_is() {
        assert_eq!(days(r#"{"days": 30}"#).unwrap(), 30);
        assert_eq!(days(r#"{"days": 30.0}"#).unwrap(), 30);
        assert_eq!(days(r#"{"days": 4294967295}"#).unwrap(), u32::MAX);
        for bad in ["30.5", "-1", "-0.5", "4294967296", "1e10", "\"30\"", "null"] {
            assert!(days(&format!(r#"{{"days": {bad}}}"#)).is_err(), "{bad}");
        }
    }
}
