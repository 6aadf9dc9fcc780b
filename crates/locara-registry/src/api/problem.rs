//! Errors as RFC 9457 problem details: `application/problem+json` with a stable `type` per kind of
//! refusal, a short `title`, the HTTP `status`, and a `detail` that says what was wrong and what to do.
//!
//! Types are `https://locara.dev/problems/<slug>`; the slugs are listed in `docs/api.md` and never change
//! meaning. Details never carry secrets (passwords, codes, tokens).

use axum::Json;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use locara_store::StoreError;
use serde::Serialize;
use utoipa::{ToResponse, ToSchema};

/// The prefix of every problem type URI.
pub const PROBLEM_TYPE_BASE: &str = "https://locara.dev/problems/";

/// A problem details document (RFC 9457).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// `https://locara.dev/problems/<slug>`: what kind of problem, stable.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// A short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What was wrong in this request and what to do about it.
    pub detail: String,
    /// Seconds to wait before trying again, for rate limits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after: Option<u64>,
}

impl Problem {
    /// A problem of kind `slug` with `status`, `title` and `detail`.
    pub fn new(
        status: StatusCode,
        slug: &str,
        title: impl Into<String>,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            problem_type: format!("{PROBLEM_TYPE_BASE}{slug}"),
            title: title.into(),
            status: status.as_u16(),
            detail: detail.into(),
            retry_after: None,
        }
    }

    /// 400: the request is malformed or a value is invalid.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid-request",
            "Invalid request",
            detail,
        )
    }

    /// 404: no such thing.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail)
    }

    /// 409: a name or key is taken, or a rule about existing state refuses the change.
    pub fn conflict(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", "Conflict", detail)
    }

    /// 403: authenticated, but not allowed.
    pub fn forbidden(slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, slug, title, detail)
    }

    /// 401: not (or no longer) authenticated.
    pub fn unauthorized(slug: &str, title: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, slug, title, detail)
    }

    /// 413: the body is over the registry's `max_body_bytes`.
    pub fn body_too_large() -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "body-too-large",
            "Request body too large",
            "the request body is over this registry's max_body_bytes",
        )
    }

    /// 503: a store or signing failure; the detail is logged, not shown.
    pub fn unavailable(error: &dyn std::fmt::Display) -> Self {
        tracing::error!(%error, "request failed inside the registry");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "unavailable",
            "Temporarily unavailable",
            "the registry could not complete the request; nothing was changed unless a later read shows it; try again",
        )
    }

    /// The slug of this problem's type.
    pub fn slug(&self) -> &str {
        self.problem_type
            .strip_prefix(PROBLEM_TYPE_BASE)
            .unwrap_or(&self.problem_type)
    }
}

impl From<StoreError> for Problem {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::Conflict { what } => Self::conflict(what),
            other => Self::unavailable(&other),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after;
        let mut response = (status, Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = retry_after
            && let Ok(value) = HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        response
    }
}

/// What API handlers return.
pub type ApiResult<T> = Result<T, Problem>;

/// The media type of every error answer.
pub const PROBLEM_CONTENT_TYPE: &str = "application/problem+json";

/// The longest body of an error answer made by the framework (not by a handler) that is kept as the
/// problem's detail.
const MAX_FRAMEWORK_DETAIL_BYTES: usize = 1024;

/// Turns an error answer that is not yet a problem (axum's own rejections, such as a path segment that is
/// not a number, or a method the route does not have) into one, keeping its status and headers.
///
/// Handlers answer problems themselves; this makes "every error is a problem" hold for the answers the
/// framework makes before a handler runs.
pub async fn problem_for_framework_errors(response: Response) -> Response {
    let status = response.status();
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|value| {
            value
                .as_bytes()
                .starts_with(PROBLEM_CONTENT_TYPE.as_bytes())
        });
    if !(status.is_client_error() || status.is_server_error()) || is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let text = axum::body::to_bytes(body, MAX_FRAMEWORK_DETAIL_BYTES)
        .await
        .map(|bytes| String::from_utf8_lossy(&bytes).trim().to_owned())
        .unwrap_or_default();
    let problem = match status {
        StatusCode::BAD_REQUEST => Problem::invalid(if text.is_empty() {
            "the request is malformed".to_owned()
        } else {
            format!("{text}; the endpoints and their parameters are listed in /api/v1/openapi.json")
        }),
        StatusCode::NOT_FOUND => Problem::not_found(
            "no such API endpoint; the endpoints are listed in /api/v1/openapi.json",
        ),
        StatusCode::METHOD_NOT_ALLOWED => Problem::new(
            status,
            "method-not-allowed",
            "Method not allowed",
            "this endpoint does not answer that method; the `Allow` header lists those it does, and /api/v1/openapi.json describes them",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => Problem::body_too_large(),
        _ => Problem::new(
            status,
            "http-error",
            status.canonical_reason().unwrap_or("HTTP error"),
            if text.is_empty() {
                format!("the request was refused with status {}", status.as_u16())
            } else {
                text
            },
        ),
    };
    let body = match serde_json::to_vec(&problem) {
        Ok(body) => body,
        Err(_) => return Response::from_parts(parts, Body::empty()),
    };
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(PROBLEM_CONTENT_TYPE),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(body))
}

/// 400: the request is malformed, or a value breaks a rule the schema cannot express.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct InvalidRequest(pub Problem);

/// 401: no token, an unknown, revoked or expired token, or a missing, wrong or reused one-time code.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unauthorized(pub Problem);

/// 403: authenticated, but not allowed (no second factor, token scope, not an owner or member, ...).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Forbidden(pub Problem);

/// 404: no such publisher, account, app, release, key, token or build.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct NotFound(pub Problem);

/// 409: a name or key is taken, or the current state refuses the change.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Conflict(pub Problem);

/// 413: the body is over the registry's `max_body_bytes`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BodyTooLarge(pub Problem);

/// 415: the body is not sent as `application/json`.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct UnsupportedMediaType(pub Problem);

/// 422: the request was understood but what it asks to prove did not hold (a DNS record).
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unprocessable(pub Problem);

/// 429: too many failed passwords or one-time codes; wait `Retry-After` seconds.
#[derive(ToResponse)]
#[response(
    content_type = "application/problem+json",
    headers(("Retry-After" = u64, description = "seconds to wait before trying again"))
)]
pub struct RateLimited(pub Problem);

/// 502: an outside service the registry had to ask (an OIDC issuer) could not be reached.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct BadGateway(pub Problem);

/// 503: a store, signing or DNS failure inside the registry; nothing was changed unless a later read shows it.
#[derive(ToResponse)]
#[response(content_type = "application/problem+json")]
pub struct Unavailable(pub Problem);
