//! Who is calling: the bearer token, its account, and the checks handlers ask for (second factor
//! enabled, a scope, a fresh one-time code).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use locara_store::records::{Account, TokenKind, TokenRecord};

use super::problem::{ApiResult, Problem};
use crate::auth::{self, AuthError, TotpSecret};
use crate::http::AppState;

/// The header that carries a fresh one-time code for actions that change security state.
pub const OTP_HEADER: &str = "locara-otp";

/// How stale a token's `last_used_at` may get before a request refreshes it, in seconds.
pub const TOUCH_INTERVAL_SECONDS: u64 = 60;

/// What API tokens may be scoped to.
pub const SCOPES: [&str; 3] = ["publish", "yank", "admin"];

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Caller {
    /// The account the token acts for.
    pub account: Account,
    /// The token used.
    pub token: TokenRecord,
}

pub(crate) fn now() -> u64 {
    locara_core::time::Timestamp::now().unix_seconds()
}

impl FromRequestParts<Arc<AppState>> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get(axum::http::header::AUTHORIZATION) else {
            return Err(Problem::unauthorized(
                "unauthenticated",
                "Not signed in",
                "this request needs an API token in `Authorization: Bearer <token>`; sign in with `locara login`",
            ));
        };
        let secret = value
            .to_str()
            .ok()
            .and_then(|text| text.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|secret| secret.starts_with(auth::API_TOKEN_PREFIX))
            .ok_or_else(|| {
                Problem::unauthorized(
                    "invalid-token",
                    "Invalid token",
                    format!(
                        "the Authorization header must be `Bearer {}...`",
                        auth::API_TOKEN_PREFIX
                    ),
                )
            })?;
        let token = state
            .metadata
            .token_by_hash(&auth::secret_hash(secret))
            .await?
            .ok_or_else(|| {
                Problem::unauthorized(
                    "invalid-token",
                    "Invalid token",
                    "this token is not known to the registry; sign in again with `locara login`",
                )
            })?;
        let now = now();
        if token.revoked_at.is_some() {
            return Err(Problem::unauthorized(
                "token-revoked",
                "Token revoked",
                format!(
                    "token {} (`{}`) was revoked; sign in again or create a new token",
                    token.id, token.name
                ),
            ));
        }
        if token.expires_at <= now {
            return Err(Problem::unauthorized(
                "token-expired",
                "Token expired",
                format!(
                    "token {} (`{}`) expired at {}; sign in again or create a new token",
                    token.id,
                    token.name,
                    display_time(token.expires_at)
                ),
            ));
        }
        let account = state
            .metadata
            .account_by_id(token.account_id)
            .await?
            .ok_or_else(|| Problem::unavailable(&"a token's account is missing"))?;
        // `last_used_at` is kept to the minute: no database write on every request of a busy token.
        if token
            .last_used_at
            .is_none_or(|last| now.saturating_sub(last) >= TOUCH_INTERVAL_SECONDS)
        {
            state.metadata.touch_token(token.id, now).await?;
        }
        Ok(Self { account, token })
    }
}

/// A Unix time as `YYYY-MM-DDTHH:MM:SSZ`.
pub(crate) fn display_time(unix: u64) -> String {
    locara_core::time::Timestamp::from_unix_seconds(unix)
        .map(|time| time.to_string())
        .unwrap_or_else(|_| unix.to_string())
}

impl Caller {
    /// Refuses an account without TOTP: it can read, nothing more.
    pub fn require_two_factor(&self) -> ApiResult<()> {
        if self.account.totp_enabled {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "two-factor-required",
                "Two-factor authentication required",
                "this account has no second factor; run `locara 2fa enable` first (accounts without it can only read)",
            ))
        }
    }

    /// Refuses tokens other than a login session (token management needs the account itself).
    pub fn require_session(&self) -> ApiResult<()> {
        if self.token.kind == TokenKind::Session {
            Ok(())
        } else {
            Err(Problem::forbidden(
                "session-required",
                "Signed-in session required",
                format!(
                    "token {} is an API token; managing tokens needs the session from `locara login`",
                    self.token.id
                ),
            ))
        }
    }

    /// Refuses a token without `scope`, or limited to an app other than `app`.
    pub fn require_scope(&self, scope: &str, app: Option<&str>) -> ApiResult<()> {
        if self.token.kind == TokenKind::Session {
            return Ok(());
        }
        if !self.token.scopes.iter().any(|have| have == scope) {
            return Err(Problem::forbidden(
                "token-scope",
                "Token scope too narrow",
                format!(
                    "token {} has scopes [{}] but this needs `{scope}`; create a token with that scope",
                    self.token.id,
                    self.token.scopes.join(", ")
                ),
            ));
        }
        if let Some(limited) = &self.token.app
            && app != Some(limited.as_str())
        {
            return Err(Problem::forbidden(
                "token-app-scope",
                "Token limited to another app",
                format!(
                    "token {} may act only on `{limited}`, not on {}",
                    self.token.id,
                    app.map(|app| format!("`{app}`"))
                        .unwrap_or_else(|| "other things".to_owned())
                ),
            ));
        }
        Ok(())
    }

    /// Requires a fresh TOTP code in the `Locara-OTP` header and consumes it (single use).
    pub async fn require_fresh_otp(&self, state: &AppState, headers: &HeaderMap) -> ApiResult<()> {
        self.require_two_factor()?;
        let code = headers
            .get(OTP_HEADER)
            .and_then(|value| value.to_str().ok())
            .ok_or_else(|| {
                Problem::unauthorized(
                    "otp-required",
                    "One-time code required",
                    "this action changes security state and needs a fresh one-time code in the `Locara-OTP` header, even with a token",
                )
            })?;
        check_totp(state, &self.account, code).await
    }
}

/// Checks `code` for `account` under the failure budget, consuming its step; failures are recorded.
pub(crate) async fn check_totp(state: &AppState, account: &Account, code: &str) -> ApiResult<()> {
    let now = now();
    check_budget(state, account, now).await?;
    let Some(secret_bytes) = account
        .totp_secret
        .as_deref()
        .filter(|_| account.totp_enabled)
    else {
        return Err(Problem::forbidden(
            "two-factor-required",
            "Two-factor authentication required",
            "this account has no second factor; run `locara 2fa enable` first",
        ));
    };
    let secret =
        TotpSecret::from_bytes(secret_bytes).map_err(|error| Problem::unavailable(&error))?;
    let step = match auth::verify_totp(&secret, code, now, account.totp_last_step) {
        Ok(step) => step,
        Err(error) => {
            state.metadata.record_auth_failure(account.id, now).await?;
            return Err(otp_problem(&error));
        }
    };
    // The database decides, so two requests racing with one code cannot both pass.
    if !state.metadata.consume_totp_step(account.id, step).await? {
        state.metadata.record_auth_failure(account.id, now).await?;
        return Err(otp_problem(&AuthError::ReplayedCode {
            step,
            last_used: step,
        }));
    }
    Ok(())
}

/// Refuses when the account has used up its failure budget.
pub(crate) async fn check_budget(state: &AppState, account: &Account, now: u64) -> ApiResult<()> {
    let since = now.saturating_sub(auth::FAILURE_WINDOW_SECONDS);
    let failures = state
        .metadata
        .auth_failures_since(account.id, since)
        .await?;
    auth::check_failure_budget(&failures, now).map_err(|error| otp_problem(&error))
}

/// The problem for a refused password, code or budget.
pub(crate) fn otp_problem(error: &AuthError) -> Problem {
    match error {
        AuthError::RateLimited { retry_after, .. } => {
            let mut problem = Problem::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many failed attempts",
                error.to_string(),
            );
            problem.retry_after = Some(*retry_after);
            problem
        }
        AuthError::ReplayedCode { .. } => Problem::unauthorized(
            "otp-replayed",
            "One-time code already used",
            error.to_string(),
        ),
        AuthError::MalformedCode | AuthError::WrongCode => {
            Problem::unauthorized("otp-invalid", "Wrong one-time code", error.to_string())
        }
        other => Problem::unavailable(other),
    }
}
