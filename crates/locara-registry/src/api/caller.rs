//! Who is calling: the bearer token, its account, the client address, and the checks handlers ask for
//! (second factor enabled, a scope, a fresh one-time code).
//!
//! Failed passwords and codes are recorded as account events with the client address and the token used
//! (never the secret or the code), logged as a warning for the operator, and counted per credential and
//! address (ADR 0067, ADR 0068).

use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use locara_store::records::{Account, AuthEventKind, NewAuthEvent, TokenKind, TokenRecord};

use super::problem::{ApiResult, Problem};
use crate::auth::{self, Attempt, AuthError, Failure, TotpSecret};
use crate::http::AppState;

/// The header a trusted reverse proxy names the client in.
pub const FORWARDED_FOR_HEADER: &str = "x-forwarded-for";

/// Where a request came from: the connection's peer address, or the client a configured trusted proxy
/// names in `X-Forwarded-For` (ADR 0067). `unknown` when the server was started without peer addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddress(pub String);

impl FromRequestParts<Arc<AppState>> for ClientAddress {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &Arc<AppState>,
    ) -> Result<Self, Self::Rejection> {
        Ok(client_address_of(parts, &state.config.trusted_proxies))
    }
}

fn client_address_of(parts: &Parts, trusted_proxies: &[IpAddr]) -> ClientAddress {
    let peer = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(address)| address.ip());
    let forwarded: Vec<&str> = parts
        .headers
        .get_all(FORWARDED_FOR_HEADER)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .collect();
    ClientAddress(client_address(peer, &forwarded.join(","), trusted_proxies))
}

/// The client address of a request from `peer` carrying `forwarded_for` (the `X-Forwarded-For` values,
/// comma-separated): the peer itself unless it is a trusted proxy; then the header is read from the right,
/// skipping trusted proxies, and the first other address is the client. An entry that is not an IP
/// address ends the walk at the proxy that sent it, so a forged header never names an arbitrary client.
pub fn client_address(
    peer: Option<IpAddr>,
    forwarded_for: &str,
    trusted_proxies: &[IpAddr],
) -> String {
    let Some(mut current) = peer else {
        return "unknown".to_owned();
    };
    let mut hops = forwarded_for
        .rsplit(',')
        .map(str::trim)
        .filter(|hop| !hop.is_empty());
    while trusted_proxies.contains(&current) {
        match hops.next().and_then(|hop| hop.parse::<IpAddr>().ok()) {
            Some(hop) => current = hop,
            None => break,
        }
    }
    current.to_string()
}

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
    /// Where the request came from.
    pub client_address: String,
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
        let ClientAddress(client_address) = client_address_of(parts, &state.config.trusted_proxies);
        Ok(Self {
            account,
            token,
            client_address,
        })
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
        check_totp(state, &self.account, code, &self.origin()).await
    }

    /// Where this caller's attempts come from, for the failure budget and account events.
    pub(crate) fn origin(&self) -> Origin {
        Origin {
            client_address: self.client_address.clone(),
            token_id: Some(self.token.id),
        }
    }
}

/// Where an attempt comes from: the client address and the token or session it carried (`None` for a
/// sign-in). Failures are counted and recorded under it.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    pub client_address: String,
    pub token_id: Option<i64>,
}

impl Origin {
    fn attempt(&self) -> Attempt<'_> {
        match self.token_id {
            Some(token_id) => Attempt::WithToken {
                token_id,
                client_address: &self.client_address,
            },
            None => Attempt::SignIn {
                client_address: &self.client_address,
            },
        }
    }
}

/// Checks `code` for `account` under the failure budget of `origin`, consuming its step; failures are
/// recorded.
pub(crate) async fn check_totp(
    state: &AppState,
    account: &Account,
    code: &str,
    origin: &Origin,
) -> ApiResult<()> {
    let now = now();
    check_budget(state, account, origin, now).await?;
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
            record_failure(state, account, origin, code_failure_kind(&error), now).await?;
            return Err(otp_problem(&error));
        }
    };
    // The database decides, so two requests racing with one code cannot both pass.
    if !state.metadata.consume_totp_step(account.id, step).await? {
        record_failure(state, account, origin, AuthEventKind::CodeReplayed, now).await?;
        return Err(otp_problem(&AuthError::ReplayedCode {
            step,
            last_used: step,
        }));
    }
    Ok(())
}

/// The account event for a refused code.
pub(crate) fn code_failure_kind(error: &AuthError) -> AuthEventKind {
    match error {
        AuthError::ReplayedCode { .. } => AuthEventKind::CodeReplayed,
        _ => AuthEventKind::CodeFailed,
    }
}

/// Refuses when `origin` has used up its failure budget for `account` (only its own failures count).
pub(crate) async fn check_budget(
    state: &AppState,
    account: &Account,
    origin: &Origin,
    now: u64,
) -> ApiResult<()> {
    budget(state, account, origin, now).await?.map_err(|error| {
        tracing::warn!(
            username = %account.username,
            client_address = %origin.client_address,
            token_id = ?origin.token_id,
            "attempt refused: too many recent failures from this credential and address"
        );
        otp_problem(&error)
    })
}

/// What the failure budget of `origin` says now: the outer error is a store failure.
async fn budget(
    state: &AppState,
    account: &Account,
    origin: &Origin,
    now: u64,
) -> ApiResult<Result<(), AuthError>> {
    let since = now.saturating_sub(auth::FAILURE_WINDOW_SECONDS);
    let events = state.metadata.auth_events_since(account.id, since).await?;
    let failures: Vec<Failure<'_>> = events
        .iter()
        .filter(|stored| stored.event.kind.is_failure())
        .map(|stored| Failure {
            at: stored.event.at,
            token_id: stored.event.token_id,
            client_address: &stored.event.client_address,
        })
        .collect();
    Ok(auth::check_attempt_budget(&failures, origin.attempt(), now))
}

/// Records a failed attempt as an account event, logs it for the operator, and records a `locked` event
/// when this failure used up the budget.
pub(crate) async fn record_failure(
    state: &AppState,
    account: &Account,
    origin: &Origin,
    kind: AuthEventKind,
    now: u64,
) -> ApiResult<()> {
    state
        .metadata
        .record_auth_event(NewAuthEvent {
            account_id: account.id,
            at: now,
            kind,
            client_address: origin.client_address.clone(),
            token_id: origin.token_id,
        })
        .await?;
    tracing::warn!(
        username = %account.username,
        client_address = %origin.client_address,
        token_id = ?origin.token_id,
        event = kind.as_str(),
        "authentication failure"
    );
    if budget(state, account, origin, now).await?.is_err() {
        state
            .metadata
            .record_auth_event(NewAuthEvent {
                account_id: account.id,
                at: now,
                kind: AuthEventKind::Locked,
                client_address: origin.client_address.clone(),
                token_id: origin.token_id,
            })
            .await?;
        tracing::warn!(
            username = %account.username,
            client_address = %origin.client_address,
            token_id = ?origin.token_id,
            event = AuthEventKind::Locked.as_str(),
            "failure budget used up: this credential and address are locked for a while"
        );
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn the_peer_is_the_client_unless_it_is_a_trusted_proxy() {
        let peer = Some(ip("192.0.2.10"));
        // No trusted proxies: the header is ignored, whatever it claims.
        assert_eq!(client_address(peer, "198.51.100.1", &[]), "192.0.2.10");
        // A peer that is not a trusted proxy cannot name another client.
        assert_eq!(
            client_address(peer, "198.51.100.1", &[ip("10.0.0.1")]),
            "192.0.2.10"
        );
        assert_eq!(client_address(None, "198.51.100.1", &[]), "unknown");
    }

    #[test]
    fn a_trusted_proxys_header_is_read_from_the_right_past_other_trusted_proxies() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        let peer = Some(ip("10.0.0.1"));
        // The client prepended a forged address; the proxies appended the real one and themselves.
        assert_eq!(
            client_address(peer, "203.0.113.9, 198.51.100.1, 10.0.0.2", &proxies),
            "198.51.100.1"
        );
        assert_eq!(
            client_address(peer, " 2001:db8::7 ", &proxies),
            "2001:db8::7"
        );
        // Garbage or an empty header stops at the last trusted hop.
        assert_eq!(
            client_address(peer, "not-an-address, 10.0.0.2", &proxies),
            "10.0.0.2"
        );
        assert_eq!(client_address(peer, "", &proxies), "10.0.0.1");
    }
}
