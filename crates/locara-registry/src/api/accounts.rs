//! Accounts: sign-up, login and logout, the account's own view, TOTP enrolment, and API tokens.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use locara_core::events::Event;
use locara_core::names::PublisherName;
use locara_store::records::{
    AUTH_EVENTS_KEPT_PER_ACCOUNT, Account, AuthEvent, AuthEventKind, NewAccount, NewToken,
    TokenKind, TokenRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use zeroize::Zeroizing;

use super::caller::{
    Caller, ClientAddress, Origin, SCOPES, check_budget, code_failure_kind, display_time, now,
    otp_problem, record_failure,
};
use super::problem::{self, ApiResult, Problem};
use super::{Body, limits};
use super::{append_event, publisher_canonical};
use crate::auth::{self, AuthError, TotpSecret};
use crate::http::AppState;

/// A sign-up request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignUp {
    /// The username; also the name of the account's personal publisher.
    #[schema(value_type = limits::Name)]
    pub username: String,
    /// 12 to 256 characters (and at most 1024 bytes).
    #[schema(min_length = 12, max_length = 256)]
    pub password: String,
}

/// An account as its owner sees it.
#[derive(Serialize, ToSchema)]
pub struct AccountView {
    /// The username.
    pub username: String,
    /// Whether TOTP is enabled; without it the account can only read.
    pub two_factor: bool,
    /// When it was created.
    pub created_at: String,
    /// The publishers the account belongs to and its role in each.
    pub publishers: Vec<MembershipView>,
}

/// A publisher the account belongs to.
#[derive(Serialize, ToSchema)]
pub struct MembershipView {
    /// The publisher.
    pub publisher: String,
    /// `owner` or `maintainer`.
    pub role: String,
}

async fn account_view(state: &AppState, account: &Account) -> ApiResult<AccountView> {
    let publishers = state
        .metadata
        .publishers_of(account.id)
        .await?
        .into_iter()
        .map(|(publisher, role)| MembershipView {
            publisher: publisher.name,
            role: role.as_str().to_owned(),
        })
        .collect();
    Ok(AccountView {
        username: account.username.clone(),
        two_factor: account.totp_enabled,
        created_at: display_time(account.created_at),
        publishers,
    })
}

/// Creates an account and its personal publisher.
#[utoipa::path(post, path = "/api/v1/accounts", request_body = SignUp, tag = "accounts",
    responses((status = 201, body = AccountView), (status = 400, response = problem::InvalidRequest),
        (status = 409, response = problem::Conflict)))]
pub async fn sign_up(
    State(state): State<Arc<AppState>>,
    Body(request): Body<SignUp>,
) -> ApiResult<(StatusCode, Json<AccountView>)> {
    let name: PublisherName = request.username.parse().map_err(|error| {
        Problem::invalid(format!(
            "username `{}`: {error}",
            request.username.escape_debug()
        ))
    })?;
    let password = Zeroizing::new(request.password);
    let password_hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || auth::hash_password(&password))
            .await
            .map_err(|error| Problem::unavailable(&error))?
            .map_err(|error| match error {
                AuthError::PasswordLength { .. } => Problem::invalid(error.to_string()),
                other => Problem::unavailable(&other),
            })?
    };
    let created_at = now();
    let entry = super::entry(
        created_at,
        Event::PublisherCreated {
            publisher: name.as_str().to_owned(),
            kind: "user".to_owned(),
            by: name.as_str().to_owned(),
        },
    )?;
    let _names = state.names.lock().await;
    if state
        .metadata
        .publisher_by_name(name.as_str())
        .await?
        .is_none()
    {
        super::publishers::check_publisher_name(&state, name.as_str()).await?;
    }
    let (account, _) = append_event(&state, async {
        state
            .metadata
            .create_account(
                NewAccount {
                    username: name.as_str().to_owned(),
                    password_hash,
                    created_at,
                },
                &publisher_canonical(name.as_str()),
                entry,
            )
            .await
    })
    .await?;
    tracing::info!(username = %account.username, "account created");
    Ok((
        StatusCode::CREATED,
        Json(account_view(&state, &account).await?),
    ))
}

/// A login request: the password, and the second factor when the account has one.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// The username.
    pub username: String,
    /// The password.
    pub password: String,
    /// The current TOTP code, for an account with TOTP.
    #[serde(default)]
    pub otp: Option<String>,
    /// A single-use recovery code, instead of the TOTP code.
    #[serde(default)]
    pub recovery_code: Option<String>,
}

/// A new token: its secret is shown once and stored only as a hash.
#[derive(Serialize, ToSchema)]
pub struct NewTokenView {
    /// The secret: `locara_pat_` and 64 hex digits. Shown only now.
    pub token: String,
    /// The token's description.
    #[serde(flatten)]
    pub record: TokenView,
}

/// A token, without its secret.
#[derive(Serialize, ToSchema)]
pub struct TokenView {
    /// Its id, for revoking.
    pub id: i64,
    /// Its name.
    pub name: String,
    /// `session`, `api` or `trusted-publishing`.
    pub kind: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// The one app it is limited to.
    pub app: Option<String>,
    /// When it was made.
    pub created_at: String,
    /// When it stops working.
    pub expires_at: String,
    /// When it was revoked.
    pub revoked_at: Option<String>,
    /// When it was last used.
    pub last_used_at: Option<String>,
}

pub(crate) fn token_view(record: &TokenRecord) -> TokenView {
    TokenView {
        id: record.id,
        name: record.name.clone(),
        kind: record.kind.as_str().to_owned(),
        scopes: record.scopes.clone(),
        app: record.app.clone(),
        created_at: display_time(record.created_at),
        expires_at: display_time(record.expires_at),
        revoked_at: record.revoked_at.map(display_time),
        last_used_at: record.last_used_at.map(display_time),
    }
}

/// Makes and stores a token, returning the secret once.
pub(crate) async fn issue_token(
    state: &AppState,
    token: NewTokenRequest,
) -> ApiResult<NewTokenView> {
    let secret = auth::generate_api_token().map_err(|error| Problem::unavailable(&error))?;
    let record = state
        .metadata
        .create_token(NewToken {
            account_id: token.account_id,
            token_hash: auth::secret_hash(&secret),
            name: token.name,
            kind: token.kind,
            scopes: token.scopes,
            app: token.app,
            created_at: token.created_at,
            expires_at: token.expires_at,
        })
        .await?;
    Ok(NewTokenView {
        token: secret.to_string(),
        record: token_view(&record),
    })
}

/// What [`issue_token`] makes.
pub(crate) struct NewTokenRequest {
    pub account_id: i64,
    pub name: String,
    pub kind: TokenKind,
    pub scopes: Vec<String>,
    pub app: Option<String>,
    pub created_at: u64,
    pub expires_at: u64,
}

fn login_failed() -> Problem {
    Problem::unauthorized("login-failed", "Login failed", "wrong username or password")
}

/// Signs in: checks the password and, for an account with TOTP, the code or a recovery code; returns a
/// session token.
#[utoipa::path(post, path = "/api/v1/session", request_body = Login, tag = "accounts",
    responses((status = 201, body = NewTokenView), (status = 401, response = problem::Unauthorized),
        (status = 429, response = problem::RateLimited)))]
pub async fn login(
    State(state): State<Arc<AppState>>,
    ClientAddress(client_address): ClientAddress,
    Body(request): Body<Login>,
) -> ApiResult<(StatusCode, Json<NewTokenView>)> {
    let password = Zeroizing::new(request.password);
    let account = state
        .metadata
        .account_by_username(&request.username)
        .await?;
    let now = now();
    let origin = Origin {
        client_address,
        token_id: None,
    };
    if let Some(account) = &account {
        check_budget(&state, account, &origin, now).await?;
    }
    let stored = account
        .as_ref()
        .map(|account| account.password_hash.clone())
        .unwrap_or_else(|| super::dummy_password_hash().to_owned());
    let matches = tokio::task::spawn_blocking(move || auth::verify_password(&stored, &password))
        .await
        .map_err(|error| Problem::unavailable(&error))?
        .map_err(|error| Problem::unavailable(&error))?;
    let Some(account) = account else {
        return Err(login_failed());
    };
    if !matches {
        record_failure(
            &state,
            &account,
            &origin,
            AuthEventKind::PasswordFailed,
            now,
        )
        .await?;
        return Err(login_failed());
    }
    if account.totp_enabled {
        match (&request.otp, &request.recovery_code) {
            (Some(code), _) => super::caller::check_totp(&state, &account, code, &origin).await?,
            (None, Some(code)) => {
                let used = state
                    .metadata
                    .consume_recovery_code(account.id, &auth::recovery_code_hash(code), now)
                    .await?;
                if !used {
                    record_failure(
                        &state,
                        &account,
                        &origin,
                        AuthEventKind::RecoveryCodeFailed,
                        now,
                    )
                    .await?;
                    return Err(Problem::unauthorized(
                        "recovery-code-invalid",
                        "Wrong recovery code",
                        "that recovery code is wrong or was already used; each code works once",
                    ));
                }
                tracing::warn!(username = %account.username, client_address = %origin.client_address, "login with a recovery code");
            }
            (None, None) => {
                return Err(Problem::unauthorized(
                    "otp-required",
                    "One-time code required",
                    "this account has two-factor authentication: send the current code as `otp` (or a recovery code as `recovery_code`)",
                ));
            }
        }
    }
    let view = issue_token(
        &state,
        NewTokenRequest {
            account_id: account.id,
            name: "login session".to_owned(),
            kind: TokenKind::Session,
            scopes: SCOPES.iter().map(|scope| (*scope).to_owned()).collect(),
            app: None,
            created_at: now,
            expires_at: now + u64::from(state.config.session_days) * 86_400,
        },
    )
    .await?;
    tracing::info!(username = %account.username, client_address = %origin.client_address, token_id = view.record.id, "signed in");
    Ok((StatusCode::CREATED, Json(view)))
}

/// Signs out: revokes the token used for this request.
#[utoipa::path(delete, path = "/api/v1/session", tag = "accounts", security(("token" = [])),
    responses((status = 204, description = "signed out")))]
pub async fn logout(State(state): State<Arc<AppState>>, caller: Caller) -> ApiResult<StatusCode> {
    state
        .metadata
        .revoke_token(caller.account.id, caller.token.id, now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The signed-in account.
#[utoipa::path(get, path = "/api/v1/account", tag = "accounts", security(("token" = [])),
    responses((status = 200, body = AccountView)))]
pub async fn me(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<AccountView>> {
    Ok(Json(account_view(&state, &caller.account).await?))
}

/// A started TOTP enrolment.
#[derive(Serialize, ToSchema)]
pub struct Enrolment {
    /// The shared secret, base32, for typing into an authenticator.
    pub secret: String,
    /// The `otpauth://` URI, for a QR code.
    pub otpauth_uri: String,
}

/// Starts TOTP enrolment: a new secret, pending until confirmed with a code.
#[utoipa::path(post, path = "/api/v1/account/2fa", tag = "accounts", security(("token" = [])),
    responses((status = 201, body = Enrolment), (status = 403, response = problem::Forbidden),
        (status = 409, response = problem::Conflict)))]
pub async fn start_two_factor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<(StatusCode, Json<Enrolment>)> {
    caller.require_session()?;
    let secret = TotpSecret::generate().map_err(|error| Problem::unavailable(&error))?;
    let uri = secret
        .enrolment_uri(&caller.account.username)
        .map_err(|error| Problem::unavailable(&error))?;
    if !state
        .metadata
        .set_pending_totp(caller.account.id, secret.as_bytes())
        .await?
    {
        return Err(Problem::conflict(
            "two-factor authentication is already enabled for this account",
        ));
    }
    Ok((
        StatusCode::CREATED,
        Json(Enrolment {
            secret: secret.to_base32().to_string(),
            otpauth_uri: uri.to_string(),
        }),
    ))
}

/// The first code from the authenticator.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConfirmTwoFactor {
    /// The current TOTP code.
    pub otp: String,
}

/// Recovery codes, shown once.
#[derive(Serialize, ToSchema)]
pub struct RecoveryCodes {
    /// Ten single-use codes; store them offline.
    pub recovery_codes: Vec<String>,
}

/// Confirms enrolment with a first code; enables TOTP and returns the recovery codes.
#[utoipa::path(post, path = "/api/v1/account/2fa/confirm", request_body = ConfirmTwoFactor,
    tag = "accounts", security(("token" = [])),
    responses((status = 200, body = RecoveryCodes), (status = 401, response = problem::Unauthorized),
        (status = 403, response = problem::Forbidden), (status = 409, response = problem::Conflict),
        (status = 429, response = problem::RateLimited)))]
pub async fn confirm_two_factor(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Body(request): Body<ConfirmTwoFactor>,
) -> ApiResult<Json<RecoveryCodes>> {
    caller.require_session()?;
    let account = &caller.account;
    let now = now();
    let origin = caller.origin();
    check_budget(&state, account, &origin, now).await?;
    let (Some(secret), false) = (&account.totp_secret, account.totp_enabled) else {
        return Err(Problem::conflict(if account.totp_enabled {
            "two-factor authentication is already enabled"
        } else {
            "no enrolment is pending; start one with `locara 2fa enable` (POST /api/v1/account/2fa)"
        }));
    };
    let secret = TotpSecret::from_bytes(secret).map_err(|error| Problem::unavailable(&error))?;
    let step = match auth::verify_totp(&secret, &request.otp, now, None) {
        Ok(step) => step,
        Err(error) => {
            record_failure(&state, account, &origin, code_failure_kind(&error), now).await?;
            return Err(otp_problem(&error));
        }
    };
    let codes = auth::generate_recovery_codes().map_err(|error| Problem::unavailable(&error))?;
    let hashes: Vec<String> = codes
        .iter()
        .map(|code| auth::recovery_code_hash(code))
        .collect();
    if !state
        .metadata
        .enable_totp(account.id, step, &hashes)
        .await?
    {
        return Err(Problem::conflict(
            "two-factor authentication is already enabled",
        ));
    }
    tracing::info!(username = %account.username, "two-factor authentication enabled");
    Ok(Json(RecoveryCodes {
        recovery_codes: codes.iter().map(|code| code.to_string()).collect(),
    }))
}

/// A request for a scoped API token.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateToken {
    /// A name to recognise it by: 1 to 64 characters, no control characters, not only spaces (surrounding
    /// spaces are dropped).
    #[schema(value_type = limits::ShortText)]
    pub name: String,
    /// Some of `publish`, `yank`, `admin`.
    #[schema(value_type = Vec<Scope>, min_items = 1)]
    pub scopes: Vec<String>,
    /// Limit it to one app, `publisher/app`.
    #[serde(default)]
    #[schema(value_type = Option<limits::AppName>)]
    pub app: Option<String>,
    /// Days until it expires: 1 to the registry's `token_max_days`.
    #[schema(minimum = 1)]
    #[serde(deserialize_with = "super::whole_u32")]
    pub expires_in_days: u32,
}

/// What a token may do (the document's name for [`SCOPES`]).
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum Scope {
    /// Request releases.
    Publish,
    /// Yank and deprecate releases.
    Yank,
    /// Manage publishers, members, keys and apps.
    Admin,
}

/// Creates a scoped, expiring API token (needs the session, TOTP and a fresh code).
#[utoipa::path(post, path = "/api/v1/tokens", request_body = CreateToken, tag = "tokens",
    security(("token" = [])), params(("Locara-OTP" = String, Header, description = "a fresh TOTP code")),
    responses((status = 201, body = NewTokenView), (status = 400, response = problem::InvalidRequest),
        (status = 403, response = problem::Forbidden)))]
pub async fn create_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    headers: HeaderMap,
    Body(request): Body<CreateToken>,
) -> ApiResult<(StatusCode, Json<NewTokenView>)> {
    caller.require_session()?;
    caller.require_two_factor()?;
    let name = request.name.trim();
    if name.is_empty()
        || request.name.chars().count() > 64
        || request.name.chars().any(char::is_control)
    {
        return Err(Problem::invalid(
            "a token name is 1 to 64 printable characters",
        ));
    }
    if request.scopes.is_empty() {
        return Err(Problem::invalid(format!(
            "a token needs at least one scope of: {}",
            SCOPES.join(", ")
        )));
    }
    let mut scopes = Vec::new();
    for scope in &request.scopes {
        if !SCOPES.contains(&scope.as_str()) {
            return Err(Problem::invalid(format!(
                "unknown scope `{}`; scopes are: {}",
                scope.escape_debug(),
                SCOPES.join(", ")
            )));
        }
        if !scopes.contains(scope) {
            scopes.push(scope.clone());
        }
    }
    if let Some(app) = &request.app
        && app.parse::<locara_core::names::AppName>().is_err()
    {
        return Err(Problem::invalid(format!(
            "`{}` is not an app name (publisher/app)",
            app.escape_debug()
        )));
    }
    if request.expires_in_days == 0 || request.expires_in_days > state.config.token_max_days {
        return Err(Problem::invalid(format!(
            "expires_in_days must be between 1 and {} (this registry's token_max_days)",
            state.config.token_max_days
        )));
    }
    caller.require_fresh_otp(&state, &headers).await?;
    let now = now();
    let view = issue_token(
        &state,
        NewTokenRequest {
            account_id: caller.account.id,
            name: name.to_owned(),
            kind: TokenKind::Api,
            scopes,
            app: request.app.clone(),
            created_at: now,
            expires_at: now + u64::from(request.expires_in_days) * 86_400,
        },
    )
    .await?;
    tracing::info!(username = %caller.account.username, token_id = view.record.id, "API token created");
    Ok((StatusCode::CREATED, Json(view)))
}

/// The account's tokens (never their secrets).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "tokens", security(("token" = [])),
    responses((status = 200, body = Vec<TokenView>), (status = 403, response = problem::Forbidden)))]
pub async fn list_tokens(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<TokenView>>> {
    caller.require_session()?;
    let tokens = state.metadata.tokens_of(caller.account.id).await?;
    Ok(Json(tokens.iter().map(token_view).collect()))
}

/// Revokes one of the account's tokens (a token may also revoke itself).
#[utoipa::path(delete, path = "/api/v1/tokens/{id}", tag = "tokens", security(("token" = [])),
    params(("id" = i64, Path, description = "the token's id")),
    responses((status = 204, description = "revoked"), (status = 403, response = problem::Forbidden),
        (status = 404, response = problem::NotFound)))]
pub async fn revoke_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(id): Path<i64>,
) -> ApiResult<StatusCode> {
    if id != caller.token.id {
        caller.require_session()?;
    }
    if state
        .metadata
        .revoke_token(caller.account.id, id, now())
        .await?
    {
        tracing::info!(username = %caller.account.username, token_id = id, "token revoked");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(Problem::not_found(format!(
            "this account has no unrevoked token {id}; `locara token list` shows them"
        )))
    }
}

/// A security-relevant event of the account: a failed sign-in or code, or a lock.
#[derive(Serialize, ToSchema)]
pub struct AccountEventView {
    /// When.
    pub at: String,
    /// `password-failed`, `code-failed`, `code-replayed`, `recovery-code-failed` or `locked`.
    pub kind: String,
    /// The client address the attempt came from.
    pub client_address: String,
    /// The token or session the attempt carried (`null` for a password sign-in); see `GET /api/v1/tokens`.
    pub token_id: Option<i64>,
}

fn account_event_view(stored: &AuthEvent) -> AccountEventView {
    AccountEventView {
        at: display_time(stored.event.at),
        kind: stored.event.kind.as_str().to_owned(),
        client_address: stored.event.client_address.clone(),
        token_id: stored.event.token_id,
    }
}

/// The signed-in account's recent security events, newest first (at most the newest 1000 of the last
/// 90 days are kept).
#[utoipa::path(get, path = "/api/v1/account/events", tag = "accounts", security(("token" = [])),
    responses((status = 200, body = Vec<AccountEventView>), (status = 403, response = problem::Forbidden)))]
pub async fn account_events(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> ApiResult<Json<Vec<AccountEventView>>> {
    caller.require_session()?;
    let events = state
        .metadata
        .recent_auth_events(caller.account.id, AUTH_EVENTS_KEPT_PER_ACCOUNT)
        .await?;
    Ok(Json(events.iter().map(account_event_view).collect()))
}
