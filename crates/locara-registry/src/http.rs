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
use metrics_exporter_prometheus::PrometheusHandle;

use crate::api::problem::Problem;
use crate::config::Config;
use crate::dns::TxtVerifier;
use crate::oidc::OidcVerifier;
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
    /// The registry's settings.
    pub config: Config,
    /// The URL clients use (the default audience of OIDC tokens).
    pub public_url: String,
    /// Serialises name claims (sign-up, organisations, apps) so collision checks see every earlier name.
    pub names: tokio::sync::Mutex<()>,
    /// Serialises re-signing the checkpoint and `timestamp.json`.
    pub signing: tokio::sync::Mutex<()>,
    /// Checks publisher domains' TXT records; `None` when no DNS server is configured or found.
    pub dns: Option<TxtVerifier>,
    /// Checks OIDC tokens.
    pub oidc: OidcVerifier,
    /// Renders `/metrics`; `None` when no recorder is installed (a library user's choice).
    pub metrics: Option<PrometheusHandle>,
    /// Wakes build workers when a build is queued.
    pub builds_waiting: tokio::sync::Notify,
    /// Wakes the webhook sender when a notification is queued.
    pub outbox_waiting: tokio::sync::Notify,
}

impl AppState {
    /// Re-signs the checkpoint for the log's current size and `timestamp.json`, after an append. A failure
    /// is logged, not returned: the entry is committed, and the periodic re-signing covers it.
    pub async fn log_grew(&self) {
        let _signing = self.signing.lock().await;
        if let Err(error) = self.resign().await {
            tracing::error!(error = %error, "re-signing the log view after an append failed; the next scheduled run retries");
        }
    }

    /// Signs a checkpoint for the current log size (if it grew) and a new `timestamp.json`, holding the
    /// signing lease (other processes on the same store sign too; see [`crate::signing`]).
    pub async fn resign(&self) -> anyhow::Result<()> {
        crate::signing::with_signing_lease(self.metadata.as_ref(), async {
            crate::log::checkpoint_current_size(
                self.metadata.as_ref(),
                &self.trust.root().log().origin,
                self.trust.log_signer(),
            )
            .await?;
            crate::freshness::sign_timestamp(
                &self.trust,
                self.metadata.as_ref(),
                self.blobs.as_ref(),
                std::time::Duration::from_secs(u64::from(self.config.freshness_hours) * 3600),
                locara_core::time::Timestamp::now(),
            )
            .await?;
            anyhow::Ok(())
        })
        .await??;
        metrics::gauge!("locara_log_size").set(self.metadata.log_size().await? as f64);
        Ok(())
    }

    /// The DNS verifier, or a problem saying how to configure one.
    pub fn dns_verifier(&self) -> Result<&TxtVerifier, Problem> {
        self.dns.as_ref().ok_or_else(|| {
            Problem::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "dns-unavailable",
                "DNS verification unavailable",
                "this registry has no DNS server to check records with; its operator sets dns_resolver",
            )
        })
    }
}

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
/// For content that never changes at its URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// For the latest-of-something documents: caches must revalidate.
const REVALIDATE: &str = "no-cache";

/// The registry's routes.
pub fn router(state: Arc<AppState>) -> Router {
    let routes = Router::new()
        .route("/healthz", get(healthz))
        .route("/root.json", get(latest_root))
        .route("/root/{file}", get(root_version))
        .route("/log/key", get(log_key))
        .route("/log/checkpoint", get(log_checkpoint))
        .route("/timestamp.json", get(timestamp))
        .route("/revocations.json", get(revocations))
        .route("/metrics", get(render_metrics))
        .route("/index/{publisher}/{file}", get(app_index))
        .route("/blobs/sha256/{hex}", get(crate::blobs::serve_blob))
        .merge(crate::log_http::routes())
        .merge(crate::provenance_pages::routes())
        .merge(crate::api::routes())
        .fallback(not_found)
        .with_state(state.clone());
    crate::middleware::apply(routes, &state.config)
}

async fn app_index(
    State(state): State<Arc<AppState>>,
    Path((publisher, file)): Path<(String, String)>,
) -> Response {
    let Some(name) = file.strip_suffix(".json").and_then(|app| {
        format!("{publisher}/{app}")
            .parse::<locara_core::names::AppName>()
            .ok()
    }) else {
        return not_found().await;
    };
    match state
        .blobs
        .get_named(&crate::index::index_path(&name))
        .await
    {
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
            tracing::error!(%error, "reading an app index");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(header::CONTENT_TYPE, TEXT)],
                "temporarily unavailable\n",
            )
                .into_response()
        }
    }
}

async fn render_metrics(State(state): State<Arc<AppState>>) -> Response {
    match &state.metrics {
        Some(handle) => (
            [(
                header::CONTENT_TYPE,
                "text/plain; version=0.0.4; charset=utf-8",
            )],
            handle.render(),
        )
            .into_response(),
        None => not_found().await,
    }
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
