//! Publisher release keys: register and revoke (owners, with a fresh code); each change is a log entry.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use locara_core::events::Event;
use locara_core::keys::PublicKey;
use locara_store::records::PublisherKey;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::caller::{Caller, display_time, now};
use super::problem::{self, ApiResult, Problem};
use super::publishers::{find_publisher, owner_checks};
use super::{Body, limits};
use super::{append_event, entry};
use crate::http::AppState;

/// A release key as the public sees it.
#[derive(Serialize, ToSchema)]
pub struct KeyView {
    /// The key id.
    pub key_id: String,
    /// The ed25519 public key, `ed25519:<base64>`.
    pub public_key: String,
    /// When it was registered.
    pub registered_at: String,
    /// The log entry that registered it.
    pub log_index: u64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<String>,
    /// The log entry that revoked it.
    pub revoked_log_index: Option<u64>,
}

pub(crate) fn key_view(key: &PublisherKey) -> KeyView {
    KeyView {
        key_id: key.key_id.clone(),
        // Keys stored before `ed25519:<base64>` became the one spelling hold the bare base64.
        public_key: PublicKey::from_any_spelling(&key.public_key)
            .map_or_else(|_| key.public_key.clone(), |public| public.to_string()),
        registered_at: display_time(key.created_at),
        log_index: key.log_index,
        revoked_at: key.revoked_at.map(display_time),
        revoked_log_index: key.revoked_log_index,
    }
}

/// A key to register.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterKey {
    /// The ed25519 public key, `ed25519:<base64>` as `locara keys generate` prints it (the bare base64 is
    /// also accepted).
    #[schema(pattern = r"^\s*(?:ed25519:)?[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=\s*$")]
    pub public_key: String,
}

async fn key_action(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    name: &str,
) -> ApiResult<locara_store::records::Publisher> {
    let publisher = find_publisher(state, name).await?;
    owner_checks(state, caller, &publisher).await?;
    caller.require_fresh_otp(state, headers).await?;
    Ok(publisher)
}

/// Registers a release key for the publisher.
#[utoipa::path(post, path = "/api/v1/publishers/{name}/keys", request_body = RegisterKey, tag = "keys",
    security(("token" = [])), params(("name" = limits::Name, Path, description = "the publisher"), ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 201, body = KeyView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 409, response = problem::Conflict)))]
pub async fn register_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path(name): Path<String>,
    Body(request): Body<RegisterKey>,
) -> ApiResult<(StatusCode, Json<KeyView>)> {
    let publisher = find_publisher(&state, &name).await?;
    owner_checks(&state, &caller, &publisher).await?;
    let key = PublicKey::from_any_spelling(request.public_key.trim()).map_err(|error| {
        Problem::invalid(format!(
            "public_key is not an ed25519 public key (\"ed25519:<base64 of 32 bytes>\"): {error}"
        ))
    })?;
    caller.require_fresh_otp(&state, &headers).await?;
    let key_id = key.key_id().to_string();
    let public_key = key.to_string();
    let at = now();
    let entry = entry(
        at,
        Event::KeyRegistered {
            publisher: publisher.name.clone(),
            key_id: key_id.clone(),
            public_key: public_key.clone(),
            by: caller.account.username.clone(),
        },
    )?;
    append_event(&state, async {
        state
            .metadata
            .register_key(publisher.id, &key_id, &public_key, at, entry)
            .await
    })
    .await?;
    let stored = state
        .metadata
        .publisher_keys(publisher.id)
        .await?
        .into_iter()
        .find(|stored| stored.key_id == key_id)
        .ok_or_else(|| Problem::unavailable(&"a registered key is missing"))?;
    tracing::info!(publisher = %publisher.name, %key_id, "release key registered");
    Ok((StatusCode::CREATED, Json(key_view(&stored))))
}

/// The publisher's release keys, revoked ones included.
#[utoipa::path(get, path = "/api/v1/publishers/{name}/keys", tag = "keys",
    params(("name" = limits::Name, Path, description = "the publisher")),
    responses((status = 200, body = Vec<KeyView>), (status = 404, response = problem::NotFound)))]
pub async fn list_keys(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> ApiResult<Json<Vec<KeyView>>> {
    let publisher = find_publisher(&state, &name).await?;
    let keys = state.metadata.publisher_keys(publisher.id).await?;
    Ok(Json(keys.iter().map(key_view).collect()))
}

/// Revokes a release key: new releases signed by it are refused; the record stays.
#[utoipa::path(delete, path = "/api/v1/publishers/{name}/keys/{key_id}", tag = "keys",
    security(("token" = [])),
    params(("name" = limits::Name, Path, description = "the publisher"), ("key_id" = String, Path, description = "the key id"), ("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 200, body = KeyView), (status = 403, response = problem::Forbidden),
        (status = 404, response = problem::NotFound)))]
pub async fn revoke_key(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Path((name, key_id)): Path<(String, String)>,
) -> ApiResult<Json<KeyView>> {
    let publisher = find_publisher(&state, &name).await?;
    let known = state
        .metadata
        .publisher_keys(publisher.id)
        .await?
        .into_iter()
        .any(|key| key.key_id == key_id && key.revoked_at.is_none());
    if !known {
        return Err(Problem::not_found(format!(
            "`{}` has no unrevoked key `{}`; `locara keys list {}` shows its keys",
            publisher.name,
            key_id.escape_debug(),
            publisher.name
        )));
    }
    let publisher = key_action(&state, &caller, &headers, &name).await?;
    let at = now();
    let entry = entry(
        at,
        Event::KeyRevoked {
            publisher: publisher.name.clone(),
            key_id: key_id.clone(),
            by: caller.account.username.clone(),
        },
    )?;
    let revoked = append_event(&state, async {
        state
            .metadata
            .revoke_key(publisher.id, &key_id, at, entry)
            .await
    })
    .await?;
    if revoked.is_none() {
        return Err(Problem::not_found(format!(
            "`{}` has no unrevoked key `{}`",
            publisher.name,
            key_id.escape_debug()
        )));
    }
    let stored = state
        .metadata
        .publisher_keys(publisher.id)
        .await?
        .into_iter()
        .find(|stored| stored.key_id == key_id)
        .ok_or_else(|| Problem::unavailable(&"a revoked key is missing"))?;
    tracing::info!(publisher = %publisher.name, %key_id, "release key revoked");
    Ok(Json(key_view(&stored)))
}
