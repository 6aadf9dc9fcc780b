//! `/blobs/sha256/<hex>`: content-addressed blobs (artifacts, provenance), immutable, with `ETag`,
//! `If-None-Match`, single byte ranges (`Range`, `If-Range`) and `HEAD`.
//!
//! The ETag is the digest itself (`"sha256:<hex>"`), a strong validator: the bytes at a digest never
//! change. A request for several ranges is answered with the whole blob (RFC 9110 lets a server ignore
//! `Range`); an unsatisfiable range gets 416 with `Content-Range: bytes */<length>`.

use std::ops::Range;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use locara_core::digest::Digest;
use locara_store::BlobReader;
use tokio_util::io::ReaderStream;

use crate::http::AppState;

/// What a `Range` header asks for, against a blob of known length.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeRequest {
    /// No usable range: send everything.
    Whole,
    /// One satisfiable range (end exclusive).
    Part(Range<u64>),
    /// A syntactically valid range that lies outside the blob.
    Unsatisfiable,
}

/// Reads a `Range` header value for a blob of `length` bytes (RFC 9110 §14.1.2, single ranges only).
pub fn parse_range(value: &str, length: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeRequest::Whole;
    };
    if spec.contains(',') {
        return RangeRequest::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return RangeRequest::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        (!text.is_empty() && text.bytes().all(|byte| byte.is_ascii_digit()))
            .then(|| text.parse().ok())
            .flatten()
    };
    match (first.trim(), last.trim()) {
        ("", suffix) => match number(suffix) {
            Some(0) => RangeRequest::Unsatisfiable,
            Some(suffix) if length > 0 => RangeRequest::Part(length.saturating_sub(suffix)..length),
            Some(_) => RangeRequest::Unsatisfiable,
            None => RangeRequest::Whole,
        },
        (start, "") => match number(start) {
            Some(start) if start < length => RangeRequest::Part(start..length),
            Some(_) => RangeRequest::Unsatisfiable,
            None => RangeRequest::Whole,
        },
        (start, end) => match (number(start), number(end)) {
            (Some(start), Some(end)) if start <= end => {
                if start >= length {
                    RangeRequest::Unsatisfiable
                } else {
                    RangeRequest::Part(start..end.min(length - 1) + 1)
                }
            }
            _ => RangeRequest::Whole,
        },
    }
}

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Bytes read from the store per chunk: large reads keep the trips to the blocking file pool few (4 KiB
/// chunks served a 1 MiB blob at about a tenth of nginx's rate; see docs/benchmarks.md).
const BLOB_READ_CHUNK: usize = 256 * 1024;

fn text(status: StatusCode, message: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        message,
    )
        .into_response()
}

fn etag_matches(list: &str, etag: &str) -> bool {
    list.split(',')
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == "*" || tag == etag)
}

/// Serves a blob by digest.
pub async fn serve_blob(
    State(state): State<Arc<AppState>>,
    Path(hex): Path<String>,
    headers: HeaderMap,
) -> Response {
    let Ok(digest) = format!("sha256:{hex}").parse::<Digest>() else {
        return text(
            StatusCode::NOT_FOUND,
            "not found: blobs are named by 64 lowercase hex digits\n",
        );
    };
    let etag = format!("\"{digest}\"");
    let length = match state.blobs.len(&digest).await {
        Ok(Some(length)) => length,
        Ok(None) => return text(StatusCode::NOT_FOUND, "not found\n"),
        Err(error) => {
            tracing::error!(%error, "reading a blob's length");
            return text(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable\n");
        }
    };
    let header_text =
        |name: header::HeaderName| headers.get(name).and_then(|value| value.to_str().ok());
    if header_text(header::IF_NONE_MATCH).is_some_and(|list| etag_matches(list, &etag)) {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag.as_str()),
                (header::CACHE_CONTROL, IMMUTABLE),
            ],
        )
            .into_response();
    }
    let range_applies =
        header_text(header::IF_RANGE).is_none_or(|validator| validator.trim() == etag);
    let range = match header_text(header::RANGE) {
        Some(value) if range_applies => parse_range(value, length),
        _ => RangeRequest::Whole,
    };
    let (status, range) = match range {
        RangeRequest::Whole => (StatusCode::OK, 0..length),
        RangeRequest::Part(range) => (StatusCode::PARTIAL_CONTENT, range),
        RangeRequest::Unsatisfiable => {
            let mut response = text(StatusCode::RANGE_NOT_SATISFIABLE, "range not satisfiable\n");
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{length}")) {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return response;
        }
    };
    let reader = if status == StatusCode::OK {
        state.blobs.get(&digest).await
    } else {
        state.blobs.get_range(&digest, range.clone()).await
    };
    let reader: BlobReader = match reader {
        Ok(Some(reader)) => reader,
        Ok(None) => return text(StatusCode::NOT_FOUND, "not found\n"),
        Err(error) => {
            tracing::error!(%error, "opening a blob");
            return text(StatusCode::SERVICE_UNAVAILABLE, "temporarily unavailable\n");
        }
    };
    let mut response = Response::new(Body::from_stream(ReaderStream::with_capacity(
        reader.content,
        BLOB_READ_CHUNK,
    )));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/octet-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(IMMUTABLE));
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    if let Ok(value) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    if let Ok(value) = HeaderValue::from_str(&reader.length.to_string()) {
        headers.insert(header::CONTENT_LENGTH, value);
    }
    if status == StatusCode::PARTIAL_CONTENT
        && let Ok(value) =
            HeaderValue::from_str(&format!("bytes {}-{}/{length}", range.start, range.end - 1))
    {
        headers.insert(header::CONTENT_RANGE, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_follow_rfc_9110() {
        use RangeRequest::*;
        assert_eq!(parse_range("bytes=0-9", 100), Part(0..10));
        assert_eq!(parse_range("bytes=90-", 100), Part(90..100));
        assert_eq!(parse_range("bytes=-10", 100), Part(90..100));
        assert_eq!(parse_range("bytes=-1000", 100), Part(0..100));
        assert_eq!(parse_range("bytes=95-1000", 100), Part(95..100));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=100-200", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-0", 0), Unsatisfiable);
        for ignored in [
            "bytes=5-1",
            "bytes=0-1,5-6",
            "items=0-1",
            "bytes=a-b",
            "bytes=-",
            "bytes=+1-2",
        ] {
            assert_eq!(parse_range(ignored, 100), Whole, "{ignored}");
        }
    }
}
