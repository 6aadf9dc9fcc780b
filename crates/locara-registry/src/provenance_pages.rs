//! Human-readable pages for the two URIs in every provenance the builder signs, as SLSA asks of them:
//! `GET /build/v1` describes the build type [`LOCARA_BUILD_TYPE`] (whose path it mirrors), and
//! `GET /builder` describes `runDetails.builder.id` (`<public URL>/builder`): which registry built, with
//! which `builder` role keys, and where to check them (ADR 0047).
//!
//! Both are plain text (Markdown source), readable in a browser and by `curl`, and served with
//! `no-cache`: the build type page changes only with the registry's version, the builder page whenever the
//! root rotates its builder keys.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use locara_core::root::Role;
use locara_core::statement::provenance::LOCARA_BUILD_TYPE;

use crate::http::AppState;

/// The page describing [`LOCARA_BUILD_TYPE`].
const BUILD_TYPE_PAGE: &str = include_str!("../pages/build-type-v1.md");
/// Plain text, so that every browser shows the page instead of downloading it.
const PAGE: &str = "text/plain; charset=utf-8";
/// The pages follow the registry's version and root: caches must revalidate.
const REVALIDATE: &str = "no-cache";

/// The path of the build type page: the build type URI's own path.
pub const BUILD_TYPE_PATH: &str = "/build/v1";

/// The path of the builder page.
pub const BUILDER_PATH: &str = "/builder";

/// The `runDetails.builder.id` the registry at `public_url` writes in provenance: its builder page.
pub fn builder_id(public_url: &str) -> String {
    format!("{}{BUILDER_PATH}", public_url.trim_end_matches('/'))
}

/// The routes of the two pages.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route(BUILD_TYPE_PATH, get(build_type))
        .route(BUILDER_PATH, get(builder))
}

/// `GET /build/v1`: what the build type means.
async fn build_type() -> Response {
    page(BUILD_TYPE_PAGE.to_owned())
}

/// `GET /builder`: what this registry's builder is and which keys it signs with.
async fn builder(State(state): State<Arc<AppState>>) -> Response {
    page(builder_page(&state))
}

fn page(text: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, PAGE),
            (header::CACHE_CONTROL, REVALIDATE),
        ],
        text,
    )
        .into_response()
}

/// The builder page for the registry at `state.public_url`, naming the current root's builder keys.
fn builder_page(state: &AppState) -> String {
    let url = state.public_url.trim_end_matches('/');
    let root = state.trust.root();
    let keys = root.role_keys(Role::Builder);
    let mut text = String::new();
    // Writing to a String cannot fail.
    let _ = write!(
        text,
        "# Locara builder of {url}\n\n\
         `{builder_id}`\n\n\
         This is the `runDetails.builder.id` of the SLSA provenance that the registry at {url} signs for \
         every artifact its build workers build, with build type `{LOCARA_BUILD_TYPE}` (described at \
         {url}{BUILD_TYPE_PATH}). The builder runs inside this registry (version {version}): it fetches the \
         commit a publisher's release names, builds it offline in a sandbox, packs the declared outputs, \
         and signs the provenance with a key of the `builder` role of the registry's root of trust.\n\n\
         ## Keys\n\n\
         The `builder` role of root.json version {root_version} ({url}/root/{root_version}.root.json, \
         digest {digest}) has {count} key(s), threshold {threshold}; a provenance envelope is valid when \
         that many of them signed its DSSE pre-authentication encoding:\n\n",
        builder_id = builder_id(url),
        version = env!("CARGO_PKG_VERSION"),
        root_version = root.version(),
        digest = root.digest(),
        count = keys.len(),
        threshold = keys.threshold(),
    );
    for key_id in keys.key_ids() {
        if let Some(key) = keys.get(&key_id) {
            let _ = writeln!(text, "- key id {key_id}: {key}");
        }
    }
    let _ = write!(
        text,
        "\nA key id is the lower-case hex SHA-256 of the key's text `ed25519:<base64>`. Check these keys \
         against a root.json you trust (pinned by its digest, or reached from your pin by rotation), not \
         against this page: {url}/root.json is the latest root, and the registry's docs/registry.md \
         (\"Verifying what the registry signs\") says how.\n"
    );
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_build_type_page_is_served_at_the_build_type_uris_path() {
        assert_eq!(
            LOCARA_BUILD_TYPE.strip_prefix("https://locara.dev"),
            Some(BUILD_TYPE_PATH)
        );
        assert!(BUILD_TYPE_PAGE.contains(LOCARA_BUILD_TYPE));
    }
}
