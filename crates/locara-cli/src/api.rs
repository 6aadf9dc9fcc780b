//! The HTTP client for one registry: base URL, `User-Agent`, timeouts, an optional bearer token, JSON
//! bodies, bounded responses, and RFC 9457 problem details turned into errors people can act on.
//!
//! Invariants:
//! - Every request goes to the registry's own base URL. Redirects are followed (at most
//!   [`MAX_REDIRECTS`]) only to URLs the client could have been configured with (https, or http to this
//!   machine), and never from https down to http; reqwest drops the `Authorization` header when a redirect
//!   leaves the origin.
//! - A response body is read only up to the limit of the [`Document`] it is (see [`crate::read_limits`]),
//!   so a hostile or broken server cannot make the client hold an unbounded body in memory; a body whose
//!   size signed metadata names is read to exactly that size, and artifacts stream to a file.
//! - The token is never part of an error message; error bodies are quoted only as a short, sanitised
//!   snippet.
//! - A loopback registry is reached directly; others honour the usual proxy environment variables.

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderValue};
use reqwest::{Method, StatusCode, Url};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use locara_core::digest::{Digest, Sha256Hasher};
use tokio::io::AsyncWriteExt as _;

use crate::credentials::ApiToken;
use crate::read_limits::{Bound, Document};
use crate::registry::{RegistryUrl, transport_is_allowed};
use crate::second_factor::OneTimeCode;

/// The `User-Agent` of every request.
pub const USER_AGENT: &str = concat!("locara/", env!("CARGO_PKG_VERSION"));
/// How long establishing a connection may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long the client waits for the next bytes of a response (not the whole body: downloads may be long).
pub const READ_TIMEOUT: Duration = Duration::from_secs(30);
/// The most redirects followed for one request.
pub const MAX_REDIRECTS: usize = 5;
/// The largest error body read (to find a problem document or quote a snippet).
pub const MAX_ERROR_BYTES: usize = 64 * 1024;
/// How many characters of a non-problem error body an error message quotes.
pub const SNIPPET_CHARS: usize = 200;
/// The media type of RFC 9457 problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";
/// The header that carries a fresh one-time code for actions that change security state.
pub const OTP_HEADER: &str = "Locara-OTP";

/// An RFC 9457 problem details document, as a registry sends it with an error status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Problem {
    /// The problem type URI (`about:blank` when absent).
    pub problem_type: String,
    /// A short summary of the problem type.
    pub title: Option<String>,
    /// The HTTP status the server meant.
    pub status: Option<u16>,
    /// What went wrong this time, for people.
    pub detail: Option<String>,
    /// The URI of this occurrence.
    pub instance: Option<String>,
    /// Extension members (anything else in the document), by name.
    pub extensions: BTreeMap<String, Value>,
}

impl Problem {
    /// Parses a problem document; `None` if the bytes are not a JSON object.
    ///
    /// As RFC 9457 asks, a member of the wrong type is ignored rather than failing the whole document.
    pub fn from_json(bytes: &[u8]) -> Option<Self> {
        let Value::Object(members) = serde_json::from_slice::<Value>(bytes).ok()? else {
            return None;
        };
        let mut problem = Problem {
            problem_type: "about:blank".to_owned(),
            ..Problem::default()
        };
        for (name, value) in members {
            match (name.as_str(), value) {
                ("type", Value::String(text)) => problem.problem_type = text,
                ("title", Value::String(text)) => problem.title = Some(text),
                ("status", Value::Number(number)) => {
                    problem.status = number.as_u64().and_then(|n| u16::try_from(n).ok());
                }
                ("detail", Value::String(text)) => problem.detail = Some(text),
                ("instance", Value::String(text)) => problem.instance = Some(text),
                ("type" | "title" | "status" | "detail" | "instance", _) => {}
                (_, value) => {
                    problem.extensions.insert(name, value);
                }
            }
        }
        Some(problem)
    }

    /// The last path segment of the type URI (`name-taken` for `https://…/problems/name-taken`); `None`
    /// for `about:blank`.
    pub fn type_slug(&self) -> Option<&str> {
        if self.problem_type.is_empty() || self.problem_type == "about:blank" {
            return None;
        }
        let without_fragment = self.problem_type.split(['#', '?']).next().unwrap_or("");
        without_fragment
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .filter(|slug| !slug.is_empty())
    }
}

/// Why a request to the registry failed.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The HTTP client could not be set up.
    #[error("could not set up the HTTP client")]
    Setup(#[source] reqwest::Error),
    /// The registry could not be reached, or the connection broke.
    #[error("could not reach the registry: {method} {url} failed")]
    Transport {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// What went wrong underneath.
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an error and an RFC 9457 problem document.
    #[error("{}", describe_problem(method, url, *status, problem))]
    Problem {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// The response status.
        status: StatusCode,
        /// The problem document.
        problem: Box<Problem>,
    },
    /// The registry answered with an error status and no problem document.
    #[error("{method} {url} answered HTTP {status}{}", quote_snippet(snippet))]
    Status {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// The response status.
        status: StatusCode,
        /// The start of the body, sanitised.
        snippet: String,
    },
    /// The response body is longer than the client reads of that document.
    #[error(
        "{method} {url} sent more than {limit} bytes, the most this client reads of {document}; refusing it: the registry, a mirror or something between them is sending endless data"
    )]
    TooLarge {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// What was being read.
        document: Document,
        /// The limit in bytes.
        limit: u64,
    },
    /// The body went on past the signed size of what it should be.
    #[error(
        "{method} {url} sent more than the {size} bytes that the signed release record gives for the {}; refusing it as an endless-data attack by the registry, a mirror or something between them", document.name()
    )]
    LongerThanSigned {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// What was being read.
        document: Document,
        /// The signed size in bytes.
        size: u64,
    },
    /// The body announced another length than the signed size of what it should be.
    #[error(
        "{method} {url} announced {announced} bytes, but the signed release record gives {size} for the {}; refusing it before reading: the registry, a mirror or something between them is sending other bytes", document.name()
    )]
    AnnouncedOtherThanSigned {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// What was being read.
        document: Document,
        /// The signed size in bytes.
        size: u64,
        /// The announced `Content-Length`.
        announced: u64,
    },
    /// The body ended before the signed size of what it should be.
    #[error(
        "{method} {url} ended after {received} bytes, but the signed release record gives {size} for the {}; try again (the connection may have been cut)", document.name()
    )]
    ShorterThanSigned {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// What was being read.
        document: Document,
        /// The signed size in bytes.
        size: u64,
        /// How many bytes came.
        received: u64,
    },
    /// A downloaded body could not be written to its file.
    #[error(
        "cannot write {document} from {url} to {path}: {source}; check the free space of the install store"
    )]
    Write {
        /// The request URL.
        url: Box<Url>,
        /// What was being written.
        document: Document,
        /// The file, or its directory.
        path: String,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// The response is not the JSON the client expected.
    #[error("{method} {url} answered with JSON this client does not understand: {reason}")]
    Decode {
        /// The request method.
        method: Method,
        /// The request URL.
        url: Box<Url>,
        /// What the decoder objected to.
        reason: String,
    },
}

impl ApiError {
    /// The HTTP status, when the registry answered.
    pub fn status(&self) -> Option<StatusCode> {
        match self {
            ApiError::Problem { status, .. } | ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The problem document, when the registry sent one.
    pub fn problem(&self) -> Option<&Problem> {
        match self {
            ApiError::Problem { problem, .. } => Some(problem),
            _ => None,
        }
    }

    /// The problem type's slug (`otp-required`, `token-revoked`, …), when the registry sent one.
    pub fn problem_slug(&self) -> Option<&str> {
        self.problem().and_then(Problem::type_slug)
    }

    /// Builds the error for a non-success response from its parts.
    pub fn from_response(
        method: Method,
        url: Url,
        status: StatusCode,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Self {
        let url = Box::new(url);
        let is_problem = content_type
            .and_then(|value| value.split(';').next())
            .is_some_and(|media| media.trim().eq_ignore_ascii_case(PROBLEM_JSON));
        if is_problem && let Some(problem) = Problem::from_json(body) {
            return ApiError::Problem {
                method,
                url,
                status,
                problem: Box::new(problem),
            };
        }
        ApiError::Status {
            method,
            url,
            status,
            snippet: snippet(body),
        }
    }
}

fn describe_problem(method: &Method, url: &Url, status: StatusCode, problem: &Problem) -> String {
    let title = problem
        .title
        .clone()
        .or_else(|| status.canonical_reason().map(str::to_owned))
        .unwrap_or_else(|| "request refused".to_owned());
    let mut text = title;
    if let Some(detail) = &problem.detail {
        text.push_str(": ");
        text.push_str(detail);
    }
    text.push_str(" (");
    if let Some(slug) = problem.type_slug() {
        text.push_str(slug);
        text.push_str("; ");
    }
    text.push_str(&format!("HTTP {} from {method} {url})", status.as_u16()));
    sanitise(&text)
}

fn quote_snippet(snippet: &str) -> String {
    if snippet.is_empty() {
        String::new()
    } else {
        format!(": {snippet}")
    }
}

/// The first [`SNIPPET_CHARS`] characters of a body as one line of printable text.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut short: String = text.trim().chars().take(SNIPPET_CHARS).collect();
    if text.trim().chars().count() > SNIPPET_CHARS {
        short.push('…');
    }
    sanitise(&short)
}

/// Replaces control characters (terminal escapes, line breaks) so server text cannot redraw the terminal.
fn sanitise(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// A client for one registry.
#[derive(Clone)]
pub struct ApiClient {
    http: reqwest::Client,
    base: RegistryUrl,
    token: Option<ApiToken>,
}

impl fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ApiClient")
            .field("base", &self.base.as_str())
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ApiClient {
    /// A client for the registry at `base`, without a token.
    pub fn new(base: &RegistryUrl) -> Result<Self, ApiError> {
        let mut builder = reqwest::Client::builder()
            .user_agent(USER_AGENT)
            .connect_timeout(CONNECT_TIMEOUT)
            .read_timeout(READ_TIMEOUT)
            .redirect(redirect_policy());
        if base.is_loopback() {
            builder = builder.no_proxy();
        }
        Ok(Self {
            http: builder.build().map_err(ApiError::Setup)?,
            base: base.clone(),
            token: None,
        })
    }

    /// This client, sending `token` as a bearer token with every request.
    pub fn with_token(mut self, token: ApiToken) -> Self {
        self.token = Some(token);
        self
    }

    /// The registry's base URL.
    pub fn base(&self) -> &RegistryUrl {
        &self.base
    }

    /// Whether requests carry a bearer token.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// `GET <base>/<path>`, decoding a JSON response.
    pub async fn get_json<T: DeserializeOwned>(&self, path: &str) -> Result<T, ApiError> {
        self.send_json::<(), T>(Method::GET, path, None).await
    }

    /// `GET <base>/<path>`, decoding a JSON response of at most `document`'s limit.
    pub async fn get_json_document<T: DeserializeOwned>(
        &self,
        path: &str,
        document: Document,
    ) -> Result<T, ApiError> {
        let url = self.base.join(path);
        let bytes = self.get_bytes(path, document).await?;
        decode_json(&Method::GET, &url, &bytes)
    }

    /// `POST <base>/<path>` with a JSON body, decoding a JSON response.
    pub async fn post_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
    ) -> Result<T, ApiError> {
        self.send_json(Method::POST, path, Some(body)).await
    }

    /// Any method with an optional JSON body, decoding a JSON response (`null` for an empty body).
    pub async fn send_json<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
    ) -> Result<T, ApiError> {
        self.send_json_with_otp(method, path, body, None).await
    }

    /// [`ApiClient::send_json`], with a fresh one-time code in the [`OTP_HEADER`] header when `otp` is
    /// given (actions that change security state need one even with a token).
    pub async fn send_json_with_otp<B: Serialize + ?Sized, T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<&B>,
        otp: Option<&OneTimeCode>,
    ) -> Result<T, ApiError> {
        let url = self.base.join(path);
        let mut request = self.request(method.clone(), url.clone()).header(
            ACCEPT,
            HeaderValue::from_static("application/json, application/problem+json"),
        );
        if let Some(code) = otp {
            request = request.header(OTP_HEADER, code.as_str());
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = self.execute(&method, &url, request).await?;
        let bytes = read_limited(&method, &url, response, Document::ApiJson).await?;
        decode_json(&method, &url, &bytes)
    }

    /// `GET <base>/<path>` as bytes (at most `document`'s limit); `Ok(None)` when the registry answers 404.
    pub async fn get_optional_bytes(
        &self,
        path: &str,
        document: Document,
    ) -> Result<Option<Vec<u8>>, ApiError> {
        match self.get_bytes(path, document).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.status() == Some(StatusCode::NOT_FOUND) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET <base>/<path>` as bytes, within `document`'s bound.
    pub async fn get_bytes(&self, path: &str, document: Document) -> Result<Vec<u8>, ApiError> {
        let url = self.base.join(path);
        let request = self.request(Method::GET, url.clone());
        let response = self.execute(&Method::GET, &url, request).await?;
        read_limited(&Method::GET, &url, response, document).await
    }

    /// `GET <base>/<path>` into `file` (written from its current offset), hashing as the bytes arrive and
    /// calling `progress(received, total)` after each chunk (`total` is the signed or announced length).
    /// Nothing is held in memory but one chunk. Returns the digest of what was written.
    pub async fn download(
        &self,
        path: &str,
        document: Document,
        file: std::fs::File,
        progress: &mut (dyn FnMut(u64, Option<u64>) + Send),
    ) -> Result<Digest, ApiError> {
        let url = self.base.join(path);
        let request = self.request(Method::GET, url.clone());
        let mut response = self.execute(&Method::GET, &url, request).await?;
        let mut reading = Reading::start(&Method::GET, &url, &response, document)?;
        let total = reading.total();
        let write_error = |source| ApiError::Write {
            url: Box::new(url.clone()),
            document,
            path: "the install store's downloads directory".to_owned(),
            source,
        };
        let mut file = tokio::fs::File::from_std(file);
        let mut hasher = Sha256Hasher::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|source| ApiError::Transport {
                method: Method::GET,
                url: Box::new(url.clone()),
                source,
            })?
        {
            reading.admit(chunk.len())?;
            hasher.update(&chunk);
            file.write_all(&chunk).await.map_err(write_error)?;
            progress(reading.received, total);
        }
        reading.finish()?;
        file.flush().await.map_err(write_error)?;
        Ok(hasher.finish())
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let request = self.http.request(method, url);
        match &self.token {
            Some(token) => request.bearer_auth(token.expose()),
            None => request,
        }
    }

    /// Sends `request`; a non-success status becomes an [`ApiError`].
    async fn execute(
        &self,
        method: &Method,
        url: &Url,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ApiError> {
        let transport = |source| ApiError::Transport {
            method: method.clone(),
            url: Box::new(url.clone()),
            source,
        };
        let response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        // An error body larger than the limit is cut, not refused: the status alone is still worth reporting.
        let body = read_prefix(response, MAX_ERROR_BYTES).await;
        Err(ApiError::from_response(
            method.clone(),
            url.clone(),
            status,
            content_type.as_deref(),
            &body,
        ))
    }
}

fn redirect_policy() -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(|attempt| {
        if attempt.previous().len() >= MAX_REDIRECTS {
            return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
        }
        let started_secure = attempt
            .previous()
            .first()
            .is_some_and(|first| first.scheme() == "https");
        let target = attempt.url();
        if !transport_is_allowed(target) || (started_secure && target.scheme() != "https") {
            let refusal = format!(
                "refusing a redirect to {target}: it leaves https or goes over plain http to another machine"
            );
            return attempt.error(refusal);
        }
        attempt.follow()
    })
}

/// Decodes a JSON body (`null` when it is empty).
fn decode_json<T: DeserializeOwned>(
    method: &Method,
    url: &Url,
    bytes: &[u8],
) -> Result<T, ApiError> {
    let bytes: &[u8] = if bytes.is_empty() { b"null" } else { bytes };
    serde_json::from_slice(bytes).map_err(|error| ApiError::Decode {
        method: method.clone(),
        url: Box::new(url.clone()),
        reason: error.to_string(),
    })
}

/// A body being read within its document's bound: refuses a wrong announced length before anything is
/// read, and the first chunk that goes past the bound before it is kept.
struct Reading<'a> {
    method: &'a Method,
    url: &'a Url,
    document: Document,
    announced: Option<u64>,
    received: u64,
}

impl<'a> Reading<'a> {
    fn start(
        method: &'a Method,
        url: &'a Url,
        response: &reqwest::Response,
        document: Document,
    ) -> Result<Self, ApiError> {
        let reading = Self {
            method,
            url,
            document,
            announced: response.content_length(),
            received: 0,
        };
        match (document.bound(), reading.announced) {
            (Bound::AtMost(limit), Some(announced)) if announced > limit => {
                Err(reading.too_large(limit))
            }
            (Bound::Exactly(size), Some(announced)) if announced != size => {
                Err(ApiError::AnnouncedOtherThanSigned {
                    method: method.clone(),
                    url: Box::new(url.clone()),
                    document,
                    size,
                    announced,
                })
            }
            _ => Ok(reading),
        }
    }

    /// The length the progress bar shows.
    fn total(&self) -> Option<u64> {
        match self.document.bound() {
            Bound::Exactly(size) => Some(size),
            Bound::AtMost(_) => self.announced,
        }
    }

    /// Accounts for the next `length` bytes, refusing them if they go past the bound.
    fn admit(&mut self, length: usize) -> Result<(), ApiError> {
        let received = self.received.saturating_add(length as u64);
        match self.document.bound() {
            Bound::AtMost(limit) if received > limit => return Err(self.too_large(limit)),
            Bound::Exactly(size) if received > size => {
                return Err(ApiError::LongerThanSigned {
                    method: self.method.clone(),
                    url: Box::new(self.url.clone()),
                    document: self.document,
                    size,
                });
            }
            _ => {}
        }
        self.received = received;
        Ok(())
    }

    /// Checks that an exactly-sized body came whole.
    fn finish(&self) -> Result<(), ApiError> {
        match self.document.bound() {
            Bound::Exactly(size) if self.received < size => Err(ApiError::ShorterThanSigned {
                method: self.method.clone(),
                url: Box::new(self.url.clone()),
                document: self.document,
                size,
                received: self.received,
            }),
            _ => Ok(()),
        }
    }

    fn too_large(&self, limit: u64) -> ApiError {
        ApiError::TooLarge {
            method: self.method.clone(),
            url: Box::new(self.url.clone()),
            document: self.document,
            limit,
        }
    }
}

async fn read_limited(
    method: &Method,
    url: &Url,
    mut response: reqwest::Response,
    document: Document,
) -> Result<Vec<u8>, ApiError> {
    let mut reading = Reading::start(method, url, &response, document)?;
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|source| ApiError::Transport {
            method: method.clone(),
            url: Box::new(url.clone()),
            source,
        })?
    {
        reading.admit(chunk.len())?;
        body.extend_from_slice(&chunk);
    }
    reading.finish()?;
    Ok(body)
}

async fn read_prefix(mut response: reqwest::Response, limit: usize) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        let room = limit - body.len();
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() == limit {
            break;
        }
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url() -> Url {
        Url::parse("https://registry.example.com/api/v1/apps").unwrap()
    }

    fn error(status: u16, content_type: Option<&str>, body: &str) -> ApiError {
        ApiError::from_response(
            Method::POST,
            url(),
            StatusCode::from_u16(status).unwrap(),
            content_type,
            body.as_bytes(),
        )
    }

    #[test]
    fn a_problem_document_shows_title_detail_slug_and_status() {
        let body = r#"{"type":"https://locara.dev/problems/name-taken","title":"Name taken","status":409,
            "detail":"acme/notes collides with acme/n0tes","collides_with":"acme/n0tes"}"#;
        let error = error(409, Some("application/problem+json; charset=utf-8"), body);
        assert_eq!(
            error.to_string(),
            "Name taken: acme/notes collides with acme/n0tes (name-taken; HTTP 409 from POST https://registry.example.com/api/v1/apps)"
        );
        let problem = error.problem().unwrap();
        assert_eq!(problem.status, Some(409));
        assert_eq!(problem.extensions["collides_with"], "acme/n0tes");
        assert_eq!(error.status(), Some(StatusCode::CONFLICT));
    }

    #[test]
    fn a_problem_without_title_uses_the_status_reason_and_blank_type_has_no_slug() {
        let error = error(
            403,
            Some(PROBLEM_JSON),
            r#"{"detail":"second factor required"}"#,
        );
        assert_eq!(
            error.to_string(),
            "Forbidden: second factor required (HTTP 403 from POST https://registry.example.com/api/v1/apps)"
        );
    }

    #[test]
    fn members_of_the_wrong_type_are_ignored() {
        let problem = Problem::from_json(br#"{"title":7,"status":"x","detail":"d"}"#).unwrap();
        assert_eq!(problem.title, None);
        assert_eq!(problem.status, None);
        assert_eq!(problem.detail.as_deref(), Some("d"));
        assert!(problem.extensions.is_empty());
    }

    #[test]
    fn other_error_bodies_fall_back_to_status_and_a_snippet() {
        let error = error(502, Some("text/html"), "<html>Bad gateway</html>");
        assert_eq!(
            error.to_string(),
            "POST https://registry.example.com/api/v1/apps answered HTTP 502 Bad Gateway: <html>Bad gateway</html>"
        );
        // JSON that claims to be a problem but is not an object still falls back.
        let error = error_with_array();
        assert!(matches!(error, ApiError::Status { .. }));
    }

    fn error_with_array() -> ApiError {
        error(500, Some(PROBLEM_JSON), "[1,2]")
    }

    #[test]
    fn snippets_are_short_and_cannot_carry_terminal_escapes() {
        let long = format!("\u{1b}[31mred\n{}", "x".repeat(1000));
        let error = error(500, None, &long);
        let message = error.to_string();
        assert!(
            !message.contains('\u{1b}') && !message.contains('\n'),
            "{message:?}"
        );
        assert!(message.chars().count() < SNIPPET_CHARS + 100, "{message}");
        assert!(message.ends_with('…'));
    }

    #[test]
    fn type_slugs_are_the_last_path_segment() {
        let slug = |problem_type: &str| {
            Problem {
                problem_type: problem_type.to_owned(),
                ..Problem::default()
            }
            .type_slug()
            .map(str::to_owned)
        };
        assert_eq!(
            slug("https://x.dev/problems/bad-otp").as_deref(),
            Some("bad-otp")
        );
        assert_eq!(
            slug("https://x.dev/problems/bad-otp/").as_deref(),
            Some("bad-otp")
        );
        assert_eq!(
            slug("/problems/rate-limited#x").as_deref(),
            Some("rate-limited")
        );
        assert_eq!(slug("about:blank"), None);
    }

    #[test]
    fn the_client_never_shows_its_token() {
        let base: RegistryUrl = "https://registry.example.com".parse().unwrap();
        let client = ApiClient::new(&base)
            .unwrap()
            .with_token(ApiToken::new("lct_supersecret").unwrap());
        assert!(!format!("{client:?}").contains("supersecret"));
    }
}
