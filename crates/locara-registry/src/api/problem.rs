//! Errors as RFC 9457 problem details: `application/problem+json` with a stable `type` per kind of
//! refusal, a short `title`, the HTTP `status`, and a `detail` that says what was wrong and what to do.
//!
//! Types are `https://locara.dev/problems/<slug>`; the slugs are listed in `docs/api.md` and never change
//! meaning. Details never carry secrets (passwords, codes, tokens).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use locara_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

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
