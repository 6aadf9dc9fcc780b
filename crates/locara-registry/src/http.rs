//! The HTTP surface: the signed, static read path clients verify, and health.
//!
//! Everything here is a file a CDN could serve: `root.json` (latest) and `root/<version>.root.json`
//! (immutable), the log's verifier key at `/log/key` so any C2SP tlog client can check the log, and the
//! latest signed checkpoint at `/log/checkpoint`.

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use locara_store::{BlobStore, MetadataStore};

use crate::trust::Trust;

/// What the handlers share.
#[derive(Debug)]
pub struct AppState {
    /// The root of trust and the online keys.
    pub trust: Trust,
    /// Accounts, publishers and the transparency log.
    pub metadata: Arc<dyn MetadataStore>,
    /// Artifacts and derived files.
    pub blobs: Arc<dyn BlobStore>,
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
/// For content that never changes at its URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For the latest-of-something documents: caches must revalidate.
const REVALIDATE: &str = "no-cache";

/// The registry's routes.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/root.json", get(latest_root))
        .route("/root/{file}", get(root_version))
        .route("/log/key", get(log_key))
        .route("/log/checkpoint", get(log_checkpoint))
        .route("/timestamp.json", get(timestamp))
        .route("/revocations.json", get(revocations))
        .fallback(not_found)
        .with_state(state)
}

async fn healthz() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, TEXT)], "ok\n")
}

async fn latest_root(State(state): State<Arc<AppState>>) -> Response {
    let bytes = state.trust.latest_root_bytes().to_vec();
    (
        [
            (header::CONTENT_TYPE, JSON),
            (header::CACHE_CONTROL, REVALIDATE),
        ],
        bytes,
    )
        .into_response()
}

async fn root_version(State(state): State<Arc<AppState>>, Path(file): Path<String>) -> Response {
    let version = file
        .strip_suffix(".root.json")
        .and_then(|number| number.parse::<u64>().ok());
    match version.and_then(|version| state.trust.root_bytes(version)) {
        Some(bytes) => (
            [
                (header::CONTENT_TYPE, JSON),
                (header::CACHE_CONTROL, IMMUTABLE),
            ],
            bytes.to_vec(),
        )
            .into_response(),
        None => not_found().await,
    }
}

async fn log_key(State(state): State<Arc<AppState>>) -> Response {
    let key = format!("{}\n", state.trust.log_signer().verifier());
    (
        [
            (header::CONTENT_TYPE, TEXT),
            (header::CACHE_CONTROL, REVALIDATE),
        ],
        key,
    )
        .into_response()
}

async fn log_checkpoint(State(state): State<Arc<AppState>>) -> Response {
    match state.metadata.latest_checkpoint().await {
        Ok(Some(checkpoint)) => (
            [
                (header::CONTENT_TYPE, TEXT),
                (header::CACHE_CONTROL, REVALIDATE),
            ],
            checkpoint.text,
        )
            .into_response(),
        Ok(None) => not_found().await,
        Err(error) => {
            tracing::error!(%error, "reading the latest checkpoint");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, TEXT)],
                "the log is unavailable\n",
            )
                .into_response()
        }
    }
}

async fn timestamp(State(state): State<Arc<AppState>>) -> Response {
    signed_file(&state, crate::freshness::TIMESTAMP_FILE).await
}

async fn revocations(State(state): State<Arc<AppState>>) -> Response {
    signed_file(&state, crate::freshness::REVOCATIONS_FILE).await
}

/// A signed document the registry keeps current; always revalidated.
async fn signed_file(state: &AppState, file: &str) -> Response {
    match crate::freshness::served(state.blobs.as_ref(), file).await {
        Ok(Some(bytes)) => (
            [
                (header::CONTENT_TYPE, JSON),
                (header::CACHE_CONTROL, REVALIDATE),
            ],
            bytes,
        )
            .into_response(),
        Ok(None) => not_found().await,
        Err(error) => {
            tracing::error!(%error, file, "reading a signed document");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, TEXT)],
                "temporarily unavailable\n",
            )
                .into_response()
        }
    }
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        [(header::CONTENT_TYPE, TEXT)],
        "not found\n",
    )
        .into_response()
}
