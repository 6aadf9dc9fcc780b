//! Trusted publishing: a CI job's OIDC token, checked against a trust its publisher configured under 2FA,
//! is exchanged for a short-lived token that can publish one app and nothing else.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use base64::Engine as _;
use locara_store::records::TokenKind;
use serde::Deserialize;
use utoipa::ToSchema;

use super::accounts::{NewTokenRequest, NewTokenView, issue_token};
use super::caller::now;
use super::problem::{self, ApiResult, Problem};
use super::publishers::ClaimRuleBody;
use super::{Body, limits};
use crate::http::AppState;
use crate::oidc::{ClaimRule, OidcError, VerifiedToken, check_claims};

/// Checks an OIDC token with the registry's verifier, as a problem on failure.
pub(crate) async fn verify_oidc(
    state: &AppState,
    token: &str,
    issuer: &str,
    audience: &str,
) -> ApiResult<VerifiedToken> {
    state
        .oidc
        .verify(token, issuer, audience)
        .await
        .map_err(|error| oidc_problem(&error))
}

fn oidc_problem(error: &OidcError) -> Problem {
    match error {
        // The issuer could not be asked: not the token's fault.
        OidcError::FetchFailed { .. } => Problem::new(
            StatusCode::BAD_GATEWAY,
            error.problem_type(),
            "OIDC issuer unreachable",
            error.to_string(),
        ),
        OidcError::Setup { .. } => Problem::unavailable(error),
        _ => Problem::unauthorized(
            error.problem_type(),
            "OIDC token refused",
            error.to_string(),
        ),
    }
}

/// The `iss` claim of a JWT, read without checking anything: only to pick which trusts to check it
/// against. Nothing is believed until the verifier has checked the signature.
fn unverified_issuer(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    claims.get("iss")?.as_str().map(str::to_owned)
}

/// An exchange request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Exchange {
    /// The app to publish, `publisher/app`.
    #[schema(value_type = limits::AppName)]
    pub app: String,
    /// The CI job's OIDC token.
    #[schema(min_length = 1)]
    pub token: String,
}

/// Exchanges a trusted OIDC token for a short-lived token that can publish `app` only.
#[utoipa::path(post, path = "/api/v1/trusted-publishing/token", request_body = Exchange,
    tag = "trusted publishing",
    responses((status = 201, body = NewTokenView), (status = 401, response = problem::Unauthorized),
        (status = 403, response = problem::Forbidden), (status = 404, response = problem::NotFound),
        (status = 502, response = problem::BadGateway)))]
pub async fn exchange(
    State(state): State<Arc<AppState>>,
    Body(request): Body<Exchange>,
) -> ApiResult<(StatusCode, Json<NewTokenView>)> {
    let app = state
        .metadata
        .app_by_name(&request.app)
        .await?
        .ok_or_else(|| {
            Problem::not_found(format!("there is no app `{}`", request.app.escape_debug()))
        })?;
    let issuer = unverified_issuer(&request.token).ok_or_else(|| {
        Problem::unauthorized(
            "oidc-malformed-token",
            "OIDC token refused",
            "the token is not a JWT with an `iss` claim",
        )
    })?;
    let trusts: Vec<_> = state
        .metadata
        .oidc_trusts(app.publisher_id)
        .await?
        .into_iter()
        .filter(|trust| trust.issuer == issuer)
        .filter(|trust| trust.app.as_deref().is_none_or(|only| only == app.name))
        .collect();
    if trusts.is_empty() {
        return Err(Problem::forbidden(
            "oidc-not-trusted",
            "Issuer not trusted",
            format!(
                "`{}`'s publisher trusts no OIDC issuer `{}` for it; an owner can add one with `locara publisher trust`",
                app.name,
                issuer.escape_debug()
            ),
        ));
    }
    let mut last_problem = None;
    for trust in trusts {
        let verified =
            match verify_oidc(&state, &request.token, &trust.issuer, &trust.audience).await {
                Ok(verified) => verified,
                Err(problem) => {
                    last_problem = Some(problem);
                    continue;
                }
            };
        let rules: Vec<ClaimRuleBody> =
            serde_json::from_str(&trust.rules).map_err(|error| Problem::unavailable(&error))?;
        let rules: Vec<ClaimRule> = rules
            .into_iter()
            .map(|rule| ClaimRule {
                claim: rule.claim,
                pattern: rule.pattern,
            })
            .collect();
        if let Err(error) = check_claims(&rules, verified.claims()) {
            last_problem = Some(Problem::forbidden(
                error.problem_type(),
                "OIDC token does not match the trust",
                error.to_string(),
            ));
            continue;
        }
        let now = now();
        let view = issue_token(
            &state,
            NewTokenRequest {
                account_id: trust.created_by,
                name: format!(
                    "trusted publishing: {} {}",
                    trust.issuer,
                    verified.subject()
                ),
                kind: TokenKind::TrustedPublishing,
                scopes: vec!["publish".to_owned()],
                app: Some(app.name.clone()),
                created_at: now,
                expires_at: now + u64::from(state.config.trusted_publishing_minutes) * 60,
            },
        )
        .await?;
        tracing::info!(app = %app.name, issuer = %trust.issuer, subject = %verified.subject(), "trusted publishing token issued");
        return Ok((StatusCode::CREATED, Json(view)));
    }
    Err(last_problem.unwrap_or_else(|| {
        Problem::forbidden("oidc-not-trusted", "Issuer not trusted", "no trust matched")
    }))
}
