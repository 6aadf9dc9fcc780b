//! The transparency log's read path under `/log/`: C2SP tlog-tiles hash tiles and entry bundles, single
//! entries, and inclusion and consistency proofs as JSON (see docs/log-format.md, "Serving the log", and
//! ADR 0061).
//!
//! Invariants:
//! - Nothing is served that the latest saved signed checkpoint does not cover: a tile, bundle, entry or
//!   proof that needs a tree larger than that checkpoint's is a 404, even when the database already holds
//!   the entries (the sequencer appends before it signs).
//! - Every successful response is a function of its URL alone (the log is append-only), so all of them are
//!   served as immutable; errors are never cached (`no-store`), since a 404 today may be a 200 tomorrow.
//! - The database is the source of truth. Full tiles and bundles are also kept in the blob store under their
//!   tile path, as derived data written once after a database read, then served from there.
//!
//! Entry bundles (`/log/tile/entries/…`) are gzip-compressed when the request's `Accept-Encoding` allows
//! gzip, as C2SP tlog-tiles says they SHOULD be; hash tiles are random bytes and never compressed. The
//! uncompressed bytes are the resource: a client that does not ask gets them unchanged (ADR 0065).
//!
//! Checkpoints only grow, so once a tree size is known to be covered it stays covered: the routes keep the
//! largest checkpointed size they have seen in memory and read the latest checkpoint again only when a
//! request needs more. A request inside the known size makes one store call (or one blob read).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Router};
use locara_core::log::tile::TILE_WIDTH;
use locara_core::log::{
    Hash, MAX_ENTRY_SIZE, Tile, TileKind, decode_entry_bundle, encode_entry_bundle,
    stored_hash_index,
};
use locara_store::{BlobStore, MetadataStore, NamedPath, StoreError};
use serde::Serialize;
use tower_http::compression::CompressionLayer;

use crate::api::problem::Problem;
use crate::http::AppState;

const JSON: &str = "application/json";
const OCTET_STREAM: &str = "application/octet-stream";
/// Everything served here never changes at its URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Errors may turn into content once the log grows: never cache them.
const NO_STORE: &str = "no-store";
/// The longest piece of a request echoed back in a problem's detail.
const ECHO_LIMIT: usize = 80;

/// The log's read routes.
pub fn routes() -> Router<Arc<AppState>> {
    Router::new()
        .route("/log/tile/{*path}", get(tile))
        .route(
            "/log/tile/entries/{*path}",
            get(tile).layer(CompressionLayer::new().gzip(true)),
        )
        .route("/log/entries/{index}", get(entry))
        .route("/log/proof/inclusion", get(inclusion_proof))
        .route("/log/proof/consistency", get(consistency_proof))
        .layer(Extension(Arc::new(CheckpointedSize::default())))
}

/// The largest tree size a saved signed checkpoint is known to cover: a lower bound of the latest saved
/// checkpoint's size, which never decreases.
#[derive(Debug, Default)]
struct CheckpointedSize(AtomicU64);

impl CheckpointedSize {
    /// Succeeds when a saved checkpoint covers a tree of `needed` entries, reading the latest checkpoint
    /// only when the known size is too small; `what` names the request for the 404's detail.
    async fn require(
        &self,
        metadata: &dyn MetadataStore,
        needed: u64,
        what: impl FnOnce() -> String,
    ) -> Result<(), Problem> {
        if needed <= self.0.load(Ordering::Acquire) {
            return Ok(());
        }
        let latest = metadata
            .latest_checkpoint()
            .await
            .map_err(|error| Problem::unavailable(&error))?
            .map_or(0, |checkpoint| checkpoint.size);
        let known = self.0.fetch_max(latest, Ordering::AcqRel).max(latest);
        if needed <= known {
            return Ok(());
        }
        Err(beyond_checkpoint(what(), needed, known))
    }
}

/// A 404 for a request that needs a tree of `needed` entries when the latest checkpoint covers `covered`.
fn beyond_checkpoint(what: String, needed: u64, covered: u64) -> Problem {
    Problem::new(
        StatusCode::NOT_FOUND,
        "beyond-checkpoint",
        "Not covered by the latest checkpoint",
        format!(
            "{what} needs a tree of {needed} entries; the latest signed checkpoint covers {covered}"
        ),
    )
}

/// `problem` as a response that no cache keeps: a 404 today may be a 200 tomorrow.
fn uncached(problem: Problem) -> Response {
    let mut response = problem.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static(NO_STORE));
    response
}

/// Up to [`ECHO_LIMIT`] characters of `text`, for a problem's detail.
fn echo(text: &str) -> String {
    text.chars().take(ECHO_LIMIT).collect()
}

/// An immutable response with `content_type`.
fn immutable(content_type: &'static str, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, IMMUTABLE),
        ],
        bytes,
    )
        .into_response()
}

/// Parses a decimal with no sign and no leading zeros (one spelling per number, so one URL per resource).
fn parse_canonical_decimal(text: &str) -> Option<u64> {
    let canonical = !text.is_empty()
        && text.bytes().all(|byte| byte.is_ascii_digit())
        && (text == "0" || !text.starts_with('0'));
    canonical.then(|| text.parse().ok()).flatten()
}

/// The smallest tree that holds every hash (or entry) of `tile`, or `None` when that is past `u64`.
fn tree_size_for_tile(tile: &Tile) -> Option<u64> {
    let level = match tile.kind {
        TileKind::Hashes { level } => u32::from(level),
        TileKind::Entries => 0,
    };
    let hashes = tile
        .index
        .checked_mul(u64::from(TILE_WIDTH))?
        .checked_add(u64::from(tile.width))?;
    let shift = level.checked_mul(8).filter(|&shift| shift < 64)?;
    hashes.checked_mul(1u64 << shift)
}

/// `GET /log/tile/<L>/<N>[.p/<W>]` and `GET /log/tile/entries/<N>[.p/<W>]`: C2SP tlog-tiles.
async fn tile(
    State(state): State<Arc<AppState>>,
    Extension(checkpointed): Extension<Arc<CheckpointedSize>>,
    uri: Uri,
) -> Response {
    // The raw path, not a percent-decoded one, so only the canonical spelling names a tile.
    let path = uri.path().strip_prefix("/log/").unwrap_or_default();
    let tile = match Tile::parse_path(path) {
        Ok(tile) => tile,
        Err(error) => {
            return uncached(Problem::new(
                StatusCode::NOT_FOUND,
                "not-a-tile",
                "No such tile",
                error.to_string(),
            ));
        }
    };
    match tile_bytes(&state, &checkpointed, &tile).await {
        Ok(bytes) => immutable(OCTET_STREAM, bytes),
        Err(problem) => uncached(problem),
    }
}

/// The bytes of `tile` if the latest checkpoint covers it: full tiles from the blob store's copy when it
/// has one, everything else from the database.
async fn tile_bytes(
    state: &AppState,
    checkpointed: &CheckpointedSize,
    tile: &Tile,
) -> Result<Vec<u8>, Problem> {
    let needed = tree_size_for_tile(tile).unwrap_or(u64::MAX);
    checkpointed
        .require(state.metadata.as_ref(), needed, || format!("tile {tile}"))
        .await?;
    if !tile.is_full() {
        return tile_from_database(state.metadata.as_ref(), tile).await;
    }
    let cached_path = match NamedPath::new(&tile.path()) {
        Ok(path) => path,
        Err(error) => {
            tracing::warn!(%error, %tile, "a tile path is not a named path; not caching it");
            return tile_from_database(state.metadata.as_ref(), tile).await;
        }
    };
    match state.blobs.get_named(&cached_path).await {
        Ok(Some(bytes)) if has_tile_shape(tile, &bytes) => return Ok(bytes),
        Ok(Some(bytes)) => tracing::error!(
            %tile,
            length = bytes.len(),
            "the blob store's copy of a full tile is damaged; serving the tile from the database"
        ),
        Ok(None) => {}
        Err(error) => {
            tracing::warn!(%error, %tile, "reading a cached tile; serving it from the database")
        }
    }
    let bytes = tile_from_database(state.metadata.as_ref(), tile).await?;
    tokio::spawn(cache_tile(
        Arc::clone(&state.blobs),
        cached_path,
        bytes.clone(),
    ));
    Ok(bytes)
}

/// Whether `bytes` can be full tile `tile`: 256 hashes, or a bundle of exactly 256 entries.
fn has_tile_shape(tile: &Tile, bytes: &[u8]) -> bool {
    match tile.kind {
        TileKind::Hashes { .. } => bytes.len() == usize::from(tile.width) * 32,
        TileKind::Entries => decode_entry_bundle(bytes, tile.width).is_ok(),
    }
}

/// Keeps a full tile in the blob store; a failure only costs a later database read.
async fn cache_tile(blobs: Arc<dyn BlobStore>, path: NamedPath, bytes: Vec<u8>) {
    if let Err(error) = blobs.put_immutable(&path, &bytes).await {
        tracing::error!(%error, %path, "caching a full tile in the blob store");
    }
}

/// Reads `tile` from the database in one call: its stored hashes, or its entries bundled.
async fn tile_from_database(metadata: &dyn MetadataStore, tile: &Tile) -> Result<Vec<u8>, Problem> {
    match tile.kind {
        TileKind::Hashes { .. } => metadata
            .hash_tile_data(tile)
            .await
            .map_err(|error| Problem::unavailable(&error)),
        TileKind::Entries => {
            // The checkpoint check bounded `first + width` by a u64 tree size.
            let first = tile.index * u64::from(TILE_WIDTH);
            let entries = metadata
                .log_entries(first..first + u64::from(tile.width))
                .await
                .map_err(|error| Problem::unavailable(&error))?;
            encode_entry_bundle(&entries).map_err(|error| {
                tracing::error!(%error, %tile, "a log entry cannot be put in an entry bundle");
                Problem::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "entry-too-large",
                    "A log entry does not fit an entry bundle",
                    format!(
                        "{error} (entries are limited to {MAX_ENTRY_SIZE} bytes when sequenced)"
                    ),
                )
            })
        }
    }
}

/// `GET /log/entries/<index>`: one log entry's bytes (a canonical JSON document).
async fn entry(
    State(state): State<Arc<AppState>>,
    Extension(checkpointed): Extension<Arc<CheckpointedSize>>,
    uri: Uri,
) -> Response {
    let text = uri.path().strip_prefix("/log/entries/").unwrap_or_default();
    let Some(index) = parse_canonical_decimal(text) else {
        return uncached(Problem::invalid(format!(
            "an entry index is a decimal number with no sign or leading zeros, found {:?}",
            echo(text)
        )));
    };
    let result = async {
        let needed = index.saturating_add(1);
        checkpointed
            .require(state.metadata.as_ref(), needed, || format!("entry {index}"))
            .await?;
        let mut entries = state
            .metadata
            .log_entries(index..needed)
            .await
            .map_err(|error| Problem::unavailable(&error))?;
        entries.pop().ok_or_else(|| {
            Problem::unavailable(&StoreError::Corrupt {
                detail: format!("log entry {index} read back as no entry"),
            })
        })
    }
    .await;
    match result {
        Ok(bytes) => immutable(JSON, bytes),
        Err(problem) => uncached(problem),
    }
}

/// Reads exactly the query parameters `names`, each once, as canonical decimals; anything else is refused
/// so that one proof has one URL.
fn decimal_parameters<const N: usize>(
    query: Option<&str>,
    names: [&'static str; N],
) -> Result<[u64; N], Problem> {
    let mut values: [Option<u64>; N] = [None; N];
    for pair in query
        .unwrap_or_default()
        .split('&')
        .filter(|pair| !pair.is_empty())
    {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(slot) = names.iter().position(|&known| known == name) else {
            return Err(Problem::invalid(format!(
                "unknown query parameter {:?}; expected {}",
                echo(name),
                names.join(" and ")
            )));
        };
        if values[slot].is_some() {
            return Err(Problem::invalid(format!(
                "query parameter {name} is given more than once"
            )));
        }
        values[slot] = Some(parse_canonical_decimal(value).ok_or_else(|| {
            Problem::invalid(format!(
                "query parameter {name} must be a decimal number with no sign or leading zeros, found {:?}",
                echo(value)
            ))
        })?);
    }
    let mut parsed = [0; N];
    for (slot, value) in values.into_iter().enumerate() {
        parsed[slot] = value.ok_or_else(|| {
            Problem::invalid(format!("query parameter {} is missing", names[slot]))
        })?;
    }
    Ok(parsed)
}

/// A JSON response of `body`, immutable: a proof for given sizes never changes.
fn proof_response<T: Serialize>(body: &T) -> Response {
    match serde_json::to_vec(body) {
        Ok(bytes) => immutable(JSON, bytes),
        Err(error) => {
            tracing::error!(%error, "encoding a proof as JSON");
            uncached(Problem::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal-error",
                "Internal error",
                "the proof could not be encoded",
            ))
        }
    }
}

fn base64_hashes(hashes: &[Hash]) -> Vec<String> {
    hashes.iter().map(Hash::to_base64).collect()
}

/// The body of `GET /log/proof/inclusion`.
#[derive(Serialize)]
struct InclusionProofBody {
    index: u64,
    tree_size: u64,
    leaf_hash: String,
    hashes: Vec<String>,
}

/// `GET /log/proof/inclusion?index=I&tree_size=N`: RFC 9162 inclusion proof of entry `I` in the tree of
/// `N` entries, with the entry's leaf hash.
async fn inclusion_proof(
    State(state): State<Arc<AppState>>,
    Extension(checkpointed): Extension<Arc<CheckpointedSize>>,
    RawQuery(query): RawQuery,
) -> Response {
    let result = async {
        let [index, tree_size] = decimal_parameters(query.as_deref(), ["index", "tree_size"])?;
        if index >= tree_size {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "index-out-of-range",
                "Leaf index out of range",
                format!(
                    "index {index} is not in a tree of {tree_size} entries (indexes run from 0 to tree_size - 1)"
                ),
            ));
        }
        let metadata = state.metadata.as_ref();
        checkpointed
            .require(metadata, tree_size, || {
                format!("an inclusion proof in the tree of {tree_size} entries")
            })
            .await?;
        let leaf_index = stored_hash_index(0, index);
        let leaf_indexes = [leaf_index];
        let (hashes, leaf) = tokio::try_join!(
            metadata.inclusion_proof(index, tree_size),
            metadata.read_stored_hashes(&leaf_indexes),
        )
        .map_err(|error| Problem::unavailable(&error))?;
        let leaf = leaf
            .first()
            .ok_or_else(|| Problem::unavailable(&StoreError::StoredHashMissing { index: leaf_index }))?;
        Ok(InclusionProofBody {
            index,
            tree_size,
            leaf_hash: leaf.to_base64(),
            hashes: base64_hashes(&hashes),
        })
    }
    .await;
    match result {
        Ok(body) => proof_response(&body),
        Err(problem) => uncached(problem),
    }
}

/// The body of `GET /log/proof/consistency`.
#[derive(Serialize)]
struct ConsistencyProofBody {
    first: u64,
    second: u64,
    hashes: Vec<String>,
}

/// `GET /log/proof/consistency?first=M&second=N`: RFC 9162 consistency proof from the tree of `M` entries
/// to the tree of `N`.
async fn consistency_proof(
    State(state): State<Arc<AppState>>,
    Extension(checkpointed): Extension<Arc<CheckpointedSize>>,
    RawQuery(query): RawQuery,
) -> Response {
    let result = async {
        let [first, second] = decimal_parameters(query.as_deref(), ["first", "second"])?;
        if first > second {
            return Err(Problem::new(
                StatusCode::BAD_REQUEST,
                "sizes-reversed",
                "Tree sizes reversed",
                format!(
                    "first ({first}) must not be larger than second ({second}): a consistency proof goes from an older tree to a newer one"
                ),
            ));
        }
        let metadata = state.metadata.as_ref();
        checkpointed
            .require(metadata, second, || {
                format!("a consistency proof to the tree of {second} entries")
            })
            .await?;
        let hashes = metadata
            .consistency_proof(first, second)
            .await
            .map_err(|error| Problem::unavailable(&error))?;
        Ok(ConsistencyProofBody {
            first,
            second,
            hashes: base64_hashes(&hashes),
        })
    }
    .await;
    match result {
        Ok(body) => proof_response(&body),
        Err(problem) => uncached(problem),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tile_needs_the_tree_that_completes_its_last_hash() {
        assert_eq!(tree_size_for_tile(&Tile::hashes(0, 0, 1)), Some(1));
        assert_eq!(tree_size_for_tile(&Tile::hashes(0, 2, 188)), Some(700));
        assert_eq!(
            tree_size_for_tile(&Tile::hashes(0, 2, 188).entries()),
            Some(700)
        );
        assert_eq!(tree_size_for_tile(&Tile::hashes(1, 0, 2)), Some(512));
        assert_eq!(tree_size_for_tile(&Tile::hashes(2, 1, 256)), Some(2 << 24));
        assert_eq!(tree_size_for_tile(&Tile::hashes(8, 0, 1)), None);
        assert_eq!(
            tree_size_for_tile(&Tile::hashes(0, u64::MAX / 256, 256)),
            None
        );
    }

    #[test]
    fn decimals_have_one_spelling() {
        assert_eq!(parse_canonical_decimal("0"), Some(0));
        assert_eq!(parse_canonical_decimal("700"), Some(700));
        for text in [
            "",
            "00",
            "07",
            "+7",
            "-7",
            "7 ",
            "0x7",
            "18446744073709551616",
        ] {
            assert_eq!(parse_canonical_decimal(text), None, "{text:?}");
        }
    }

    #[test]
    fn query_parameters_are_exact() {
        let names = ["first", "second"];
        assert_eq!(
            decimal_parameters(Some("second=9&first=3"), names).unwrap(),
            [3, 9]
        );
        for query in [
            None,
            Some(""),
            Some("first=3"),
            Some("first=3&second=9&first=3"),
            Some("first=3&second=9&extra=1"),
            Some("first=3&second"),
            Some("first=03&second=9"),
            Some("first=%33&second=9"),
        ] {
            let problem = decimal_parameters(query, names).unwrap_err();
            assert_eq!(problem.status, 400, "{query:?}");
            assert_eq!(problem.slug(), "invalid-request", "{query:?}");
        }
    }
}
