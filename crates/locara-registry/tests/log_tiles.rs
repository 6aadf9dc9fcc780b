//! The log's read path over real HTTP against the real binary: C2SP tiles and entry bundles reproduce the
//! signed checkpoint, JSON proofs verify under it (and fail when tampered with), nothing past the checkpoint
//! is served, errors are RFC 9457 problems, and a grown log stays consistent with what was served before.
//!
//! Verification uses only `locara_core::log` (the client's checks) over the bytes served: tiles are read
//! the way a C2SP tlog client reads them, through a `HashStore` backed by fetched tiles.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use locara_core::log::tile::{TILE_WIDTH, tile_for_stored_hash};
use locara_core::log::{
    Checkpoint, EMPTY_ROOT, Hash, HashStore, Tile, TileKind, VerifierKey, decode_entry_bundle,
    inclusion_proof, leaf_hash, root_from_leaf_hashes, tiles_for_tree, tree_root,
    verify_checkpoint, verify_consistency, verify_inclusion,
};
use locara_store::{BlobStore, FsBlobStore, MetadataStore, NamedPath, SqliteStore};

const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// A log entry: canonical JSON of varying length, some longer than 255 bytes so the `u16` length prefix
/// uses both bytes.
fn entry(index: usize) -> Vec<u8> {
    let padding = "x".repeat(index % 9 * 120);
    format!("{{\"index\":{index},\"kind\":\"test\",\"padding\":\"{padding}\"}}").into_bytes()
}

/// Appends entries `range` to the database under `data`, as the sequencer would.
async fn append(data: &Path, range: std::ops::Range<usize>) {
    let store = SqliteStore::open(data.join("registry.sqlite3"))
        .await
        .expect("open the registry database");
    let entries: Vec<Vec<u8>> = range.clone().map(entry).collect();
    for batch in entries.chunks(97) {
        store.append_log_entries(batch.to_vec()).await.unwrap();
    }
    assert_eq!(store.log_size().await.unwrap(), range.end as u64);
    store.close().await;
}

/// A response with the headers these tests look at.
struct Fetched {
    status: u16,
    content_type: String,
    cache_control: String,
    body: Vec<u8>,
}

impl Fetched {
    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
}

async fn get(url: &str) -> Fetched {
    let response = reqwest::get(url).await.expect("GET over loopback");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    Fetched {
        status: response.status().as_u16(),
        content_type,
        cache_control,
        body: response.bytes().await.unwrap().to_vec(),
    }
}

/// Fetches `path` under the server and requires a 200 with `content_type`, cached as immutable.
async fn get_immutable(server: &common::Server, path: &str, content_type: &str) -> Vec<u8> {
    let fetched = get(&format!("{}/{path}", server.url)).await;
    assert_eq!(
        fetched.status,
        200,
        "{path}: {:?}",
        String::from_utf8_lossy(&fetched.body)
    );
    assert_eq!(fetched.content_type, content_type, "{path}");
    assert_eq!(fetched.cache_control, IMMUTABLE, "{path}");
    fetched.body
}

/// Fetches `path` and requires an RFC 9457 problem with `status` and type slug `slug`, never cached.
async fn expect_problem(server: &common::Server, path: &str, status: u16, slug: &str) {
    let fetched = get(&format!("{}/{path}", server.url)).await;
    assert_eq!(fetched.status, status, "{path}");
    assert_eq!(fetched.content_type, "application/problem+json", "{path}");
    assert_eq!(fetched.cache_control, "no-store", "{path}");
    let problem = fetched.json();
    assert_eq!(
        problem["type"],
        format!("https://locara.dev/problems/{slug}"),
        "{path}: {problem}"
    );
    assert_eq!(problem["status"], status, "{path}");
    assert!(
        problem["title"]
            .as_str()
            .is_some_and(|title| !title.is_empty()),
        "{path}: {problem}"
    );
    assert!(
        problem["detail"]
            .as_str()
            .is_some_and(|detail| !detail.is_empty()),
        "{path}: {problem}"
    );
}

/// The log key from `/log/key`, and the checkpoint from `/log/checkpoint` verified under it.
async fn verified_checkpoint(server: &common::Server) -> (VerifierKey, Checkpoint) {
    let (status, key) = common::fetch(&format!("{}/log/key", server.url)).await;
    assert_eq!(status, 200);
    let key: VerifierKey = String::from_utf8(key)
        .unwrap()
        .trim_end()
        .parse()
        .expect("a C2SP verifier key");
    let (status, note) = common::fetch(&format!("{}/log/checkpoint", server.url)).await;
    assert_eq!(status, 200);
    let checkpoint = verify_checkpoint(&note, key.name(), &key).expect("the checkpoint verifies");
    (key, checkpoint)
}

/// Hashes read from fetched tiles, as a C2SP tlog client reads them.
#[derive(Default)]
struct TileHashes {
    tiles: BTreeMap<(TileKind, u64), (Tile, Vec<u8>)>,
}

#[derive(Debug, thiserror::Error)]
#[error("no fetched tile holds stored hash {0}")]
struct MissingTile(u64);

impl HashStore for TileHashes {
    type Error = MissingTile;

    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, MissingTile> {
        indexes
            .iter()
            .map(|&index| {
                let (needed, _) = tile_for_stored_hash(index);
                let (tile, data) = self
                    .tiles
                    .get(&(needed.kind, needed.index))
                    .ok_or(MissingTile(index))?;
                tile.hash_at(data, index).map_err(|_| MissingTile(index))
            })
            .collect()
    }
}

/// Fetches every hash tile of a tree of `size` entries, checking each one's shape and headers.
async fn fetch_tiles(server: &common::Server, size: u64) -> TileHashes {
    let mut fetched = TileHashes::default();
    for tile in tiles_for_tree(size) {
        let data = get_immutable(
            server,
            &format!("log/{}", tile.path()),
            "application/octet-stream",
        )
        .await;
        assert_eq!(data.len(), usize::from(tile.width) * 32, "{tile}");
        fetched.tiles.insert((tile.kind, tile.index), (tile, data));
    }
    fetched
}

fn leaf_hashes(range: std::ops::Range<usize>) -> Vec<Hash> {
    range.map(|index| leaf_hash(&entry(index))).collect()
}

fn hashes_of(value: &serde_json::Value) -> Vec<Hash> {
    value
        .as_array()
        .expect("a JSON array of hashes")
        .iter()
        .map(|hash| Hash::from_base64(hash.as_str().expect("a string")).expect("base64 hash"))
        .collect()
}

fn flip_bit(hashes: &[Hash], which: usize) -> Vec<Hash> {
    let mut tampered = hashes.to_vec();
    tampered[which].0[which % 32] ^= 0x01;
    tampered
}

#[tokio::test]
async fn tiles_reproduce_the_signed_checkpoint_and_prove_every_entry() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());
    let (_, checkpoint) = verified_checkpoint(&server).await;
    assert_eq!(checkpoint.size, 700);

    let tiles = fetch_tiles(&server, 700).await;
    let shapes: Vec<String> = tiles.tiles.values().map(|(tile, _)| tile.path()).collect();
    assert_eq!(
        shapes,
        [
            "tile/0/000",
            "tile/0/001",
            "tile/0/002.p/188",
            "tile/1/000.p/2"
        ]
    );

    // Level 0 holds the entries' leaf hashes; level 1 holds the root of each full level-0 tile.
    let leaves = leaf_hashes(0..700);
    let level_zero: Vec<u8> = [0, 1, 2]
        .iter()
        .flat_map(|&index| {
            tiles.tiles[&(TileKind::Hashes { level: 0 }, index)]
                .1
                .clone()
        })
        .collect();
    assert_eq!(
        level_zero,
        leaves.iter().flat_map(|hash| hash.0).collect::<Vec<u8>>()
    );
    let level_one = &tiles.tiles[&(TileKind::Hashes { level: 1 }, 0)].1;
    for (index, chunk) in leaves.chunks(256).take(2).enumerate() {
        assert_eq!(
            &level_one[index * 32..index * 32 + 32],
            &root_from_leaf_hashes(chunk).0,
            "level-1 hash {index}"
        );
    }

    let root = tree_root(&tiles, 700).unwrap();
    assert_eq!(root, checkpoint.root, "the tiles reproduce the signed root");
    assert_eq!(root, root_from_leaf_hashes(&leaves));
    for (index, leaf) in leaves.iter().enumerate() {
        let proof = inclusion_proof(&tiles, index as u64, 700).unwrap();
        verify_inclusion(leaf, index as u64, 700, &proof, &checkpoint.root)
            .unwrap_or_else(|error| panic!("entry {index}: {error}"));
    }
    // A client holding an older checkpoint still gets the smaller partial tiles it needs.
    let older = get_immutable(&server, "log/tile/0/002.p/100", "application/octet-stream").await;
    assert_eq!(
        older,
        tiles.tiles[&(TileKind::Hashes { level: 0 }, 2)].1[..100 * 32]
    );
    let older_level_one =
        get_immutable(&server, "log/tile/1/000.p/1", "application/octet-stream").await;
    assert_eq!(older_level_one, level_one[..32]);
}

#[tokio::test]
async fn entry_bundles_and_entries_are_exactly_what_was_appended() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());
    let tiles = fetch_tiles(&server, 700).await;

    for (tile, hashes) in tiles.tiles.values() {
        if tile.kind != (TileKind::Hashes { level: 0 }) {
            continue;
        }
        let bundle = get_immutable(
            &server,
            &format!("log/{}", tile.entries().path()),
            "application/octet-stream",
        )
        .await;
        let decoded = decode_entry_bundle(&bundle, tile.width)
            .unwrap_or_else(|error| panic!("{}: {error}", tile.entries()));
        let first = tile.index as usize * usize::from(TILE_WIDTH);
        let expected: Vec<Vec<u8>> = (first..first + decoded.len()).map(entry).collect();
        assert_eq!(decoded, expected, "{}", tile.entries());
        let bundle_hashes: Vec<u8> = decoded
            .iter()
            .flat_map(|entry| leaf_hash(entry).0)
            .collect();
        assert_eq!(
            &bundle_hashes,
            hashes,
            "{} hashes to {tile}",
            tile.entries()
        );
    }
    for index in [0, 1, 255, 256, 699] {
        let bytes =
            get_immutable(&server, &format!("log/entries/{index}"), "application/json").await;
        assert_eq!(bytes, entry(index), "entry {index}");
    }
}

/// The status, `Content-Encoding`, `Vary` and raw body (reqwest here has no decompression) of `url`
/// fetched with `Accept-Encoding: accept_encoding`, or with no such header when `None`.
async fn get_encoded(url: &str, accept_encoding: Option<&str>) -> (u16, String, String, Vec<u8>) {
    let mut request = reqwest::Client::new().get(url);
    if let Some(value) = accept_encoding {
        request = request.header("accept-encoding", value);
    }
    let response = request.send().await.expect("GET over loopback");
    let header = |name: &str| {
        response
            .headers()
            .get_all(name)
            .iter()
            .map(|value| value.to_str().unwrap().to_ascii_lowercase())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let (encoding, vary) = (header("content-encoding"), header("vary"));
    let status = response.status().as_u16();
    (
        status,
        encoding,
        vary,
        response.bytes().await.unwrap().to_vec(),
    )
}

/// `bytes` decompressed by the system's `gzip`, an implementation independent of the server's.
fn gunzip(bytes: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    use std::process::{Command, Stdio};
    let mut child = Command::new("gzip")
        .args(["--decompress", "--stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run gzip (scripts/test installs it)");
    let mut stdin = child.stdin.take().unwrap();
    let input = bytes.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(
        output.status.success(),
        "gzip refused the body: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    output.stdout
}

#[tokio::test]
async fn entry_bundles_are_gzipped_only_for_clients_that_ask() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());

    for tile in [Tile::hashes(0, 0, 256), Tile::hashes(0, 2, 188)] {
        let url = format!("{}/log/{}", server.url, tile.entries().path());
        let first = tile.index as usize * usize::from(TILE_WIDTH);
        let expected: Vec<Vec<u8>> = (first..first + usize::from(tile.width))
            .map(entry)
            .collect();

        // A client that does not ask, or refuses gzip, gets the bundle's own bytes.
        for accept in [None, Some("identity"), Some("gzip;q=0"), Some("br")] {
            let (status, encoding, _, body) = get_encoded(&url, accept).await;
            assert_eq!(status, 200, "{url} with {accept:?}");
            assert_eq!(encoding, "", "{url} with {accept:?} is not encoded");
            assert_eq!(
                decode_entry_bundle(&body, tile.width).unwrap(),
                expected,
                "{url} with {accept:?}"
            );
        }
        let (_, _, _, plain) = get_encoded(&url, None).await;

        // A client that asks gets gzip that decompresses to exactly those bytes, and caches keep the two
        // apart.
        for accept in ["gzip", "br, gzip;q=0.5", "*"] {
            let (status, encoding, vary, compressed) = get_encoded(&url, Some(accept)).await;
            assert_eq!(status, 200, "{url} with {accept}");
            assert_eq!(encoding, "gzip", "{url} with {accept}");
            assert!(vary.contains("accept-encoding"), "{url}: Vary is {vary:?}");
            assert_ne!(compressed, plain, "{url} with {accept}");
            assert!(
                compressed.len() < plain.len() / 2,
                "{url}: {} compressed bytes for {} plain ones",
                compressed.len(),
                plain.len()
            );
            assert_eq!(gunzip(&compressed), plain, "{url} with {accept}");
        }
    }

    // Hash tiles are random bytes: never compressed.
    let url = format!("{}/log/{}", server.url, Tile::hashes(0, 0, 256).path());
    let (status, encoding, _, body) = get_encoded(&url, Some("gzip")).await;
    assert_eq!((status, encoding.as_str(), body.len()), (200, "", 256 * 32));
}

#[tokio::test]
async fn nothing_beyond_the_checkpoint_is_served() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());

    for path in [
        "log/tile/0/002.p/189",
        "log/tile/0/002",
        "log/tile/0/003.p/1",
        "log/tile/0/x001/000",
        "log/tile/1/000",
        "log/tile/1/000.p/3",
        "log/tile/2/000.p/1",
        "log/tile/63/000.p/1",
        "log/tile/entries/002.p/189",
        "log/tile/entries/003",
        "log/entries/700",
        "log/entries/18446744073709551615",
        "log/proof/inclusion?index=0&tree_size=701",
        "log/proof/consistency?first=1&second=701",
    ] {
        expect_problem(&server, path, 404, "beyond-checkpoint").await;
    }
    // Only the canonical spelling of a tile path names a tile.
    for path in [
        "log/tile/0/2",
        "log/tile/0/002.p/0",
        "log/tile/0/002.p/256",
        "log/tile/0/x000/002",
        "log/tile/0/%30%30%30",
        "log/tile/00/000",
        "log/tile/64/000",
        "log/tile/0/000/",
        "log/tile/entries/000.p/",
        "log/tile/checkpoint",
    ] {
        expect_problem(&server, path, 404, "not-a-tile").await;
    }
}

#[tokio::test]
async fn json_proofs_verify_against_the_checkpoint_and_tampering_is_caught() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());
    let (_, checkpoint) = verified_checkpoint(&server).await;
    let tiles = fetch_tiles(&server, 700).await;
    let leaves = leaf_hashes(0..700);

    for (index, tree_size) in [
        (0, 700),
        (1, 700),
        (255, 700),
        (256, 700),
        (699, 700),
        (10, 11),
        (300, 512),
    ] {
        let path = format!("log/proof/inclusion?index={index}&tree_size={tree_size}");
        let body: serde_json::Value =
            serde_json::from_slice(&get_immutable(&server, &path, "application/json").await)
                .unwrap();
        assert_eq!(body["index"], index, "{path}");
        assert_eq!(body["tree_size"], tree_size, "{path}");
        let leaf = Hash::from_base64(body["leaf_hash"].as_str().unwrap()).unwrap();
        assert_eq!(leaf, leaves[index as usize], "{path}");
        let hashes = hashes_of(&body["hashes"]);
        assert_eq!(
            hashes,
            inclusion_proof(&tiles, index, tree_size).unwrap(),
            "{path}: the JSON proof is the one the tiles give"
        );
        let root = if tree_size == 700 {
            checkpoint.root
        } else {
            root_from_leaf_hashes(&leaves[..tree_size as usize])
        };
        verify_inclusion(&leaf, index, tree_size, &hashes, &root)
            .unwrap_or_else(|error| panic!("{path}: {error}"));
        for which in 0..hashes.len() {
            assert!(
                verify_inclusion(&leaf, index, tree_size, &flip_bit(&hashes, which), &root)
                    .is_err(),
                "{path}: tampered hash {which} was accepted"
            );
        }
        let other_leaf = leaves[(index as usize + 1) % tree_size as usize];
        if tree_size > 1 {
            assert!(verify_inclusion(&other_leaf, index, tree_size, &hashes, &root).is_err());
        }
    }

    for (first, second) in [
        (0, 700),
        (1, 700),
        (256, 700),
        (300, 700),
        (511, 700),
        (700, 700),
        (300, 512),
    ] {
        let path = format!("log/proof/consistency?first={first}&second={second}");
        let body: serde_json::Value =
            serde_json::from_slice(&get_immutable(&server, &path, "application/json").await)
                .unwrap();
        assert_eq!(body["first"], first, "{path}");
        assert_eq!(body["second"], second, "{path}");
        let hashes = hashes_of(&body["hashes"]);
        let root_of = |size: u64| {
            if size == 0 {
                EMPTY_ROOT
            } else {
                root_from_leaf_hashes(&leaves[..size as usize])
            }
        };
        let new_root = if second == 700 {
            checkpoint.root
        } else {
            root_of(second)
        };
        verify_consistency(first, second, &root_of(first), &new_root, &hashes)
            .unwrap_or_else(|error| panic!("{path}: {error}"));
        for which in 0..hashes.len() {
            assert!(
                verify_consistency(
                    first,
                    second,
                    &root_of(first),
                    &new_root,
                    &flip_bit(&hashes, which)
                )
                .is_err(),
                "{path}: tampered hash {which} was accepted"
            );
        }
    }
}

#[tokio::test]
async fn bad_requests_get_problem_details() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());

    for query in [
        "",
        "?index=1",
        "?tree_size=5",
        "?index=1&tree_size=x",
        "?index=-1&tree_size=5",
        "?index=01&tree_size=5",
        "?index=1&tree_size=5&index=1",
        "?index=1&tree_size=5&cache=1",
        "?index=1&tree_size=18446744073709551616",
        "?index=%31&tree_size=5",
    ] {
        expect_problem(
            &server,
            &format!("log/proof/inclusion{query}"),
            400,
            "invalid-request",
        )
        .await;
    }
    for query in [
        "",
        "?first=1",
        "?first=1&second=",
        "?first=a&second=2",
        "?old=1&new=2",
    ] {
        expect_problem(
            &server,
            &format!("log/proof/consistency{query}"),
            400,
            "invalid-request",
        )
        .await;
    }
    expect_problem(
        &server,
        "log/proof/inclusion?index=5&tree_size=5",
        400,
        "index-out-of-range",
    )
    .await;
    expect_problem(
        &server,
        "log/proof/inclusion?index=0&tree_size=0",
        400,
        "index-out-of-range",
    )
    .await;
    expect_problem(
        &server,
        "log/proof/consistency?first=6&second=5",
        400,
        "sizes-reversed",
    )
    .await;
    for index in ["abc", "007", "-1", "1.0", "%31"] {
        expect_problem(
            &server,
            &format!("log/entries/{index}"),
            400,
            "invalid-request",
        )
        .await;
    }
}

/// Polls the blob store for a named file until `deadline`.
async fn wait_for_named(blobs: &FsBlobStore, path: &str, deadline: Duration) -> Vec<u8> {
    let named = NamedPath::new(path).unwrap();
    let until = Instant::now() + deadline;
    loop {
        if let Some(bytes) = blobs.get_named(&named).await.unwrap() {
            return bytes;
        }
        assert!(
            Instant::now() < until,
            "{path} was never cached in the blob store"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn full_tiles_are_cached_as_derived_data_and_a_damaged_copy_is_not_served() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());
    let blobs = FsBlobStore::open(data.path().join("blobs")).await.unwrap();
    // FsBlobStore keeps named files under `named/`; the test edits them there behind the server's back.

    let tile = get_immutable(&server, "log/tile/0/001", "application/octet-stream").await;
    let bundle = get_immutable(&server, "log/tile/entries/001", "application/octet-stream").await;
    assert_eq!(
        wait_for_named(&blobs, "tile/0/001", Duration::from_secs(10)).await,
        tile
    );
    assert_eq!(
        wait_for_named(&blobs, "tile/entries/001", Duration::from_secs(10)).await,
        bundle
    );
    // Served again from the cache, byte for byte; that it comes from the cache shows when the copy is
    // swapped for other well-shaped bytes (the blob store is trusted as the database is).
    assert_eq!(
        get_immutable(&server, "log/tile/0/001", "application/octet-stream").await,
        tile
    );
    let cached_tile = data.path().join("blobs/named/tile/0/001");
    std::fs::write(&cached_tile, vec![0xaa; 8192]).unwrap();
    assert_eq!(
        get_immutable(&server, "log/tile/0/001", "application/octet-stream").await,
        vec![0xaa; 8192]
    );
    // Partial tiles are not cached: they are superseded as the log grows.
    get_immutable(&server, "log/tile/0/002.p/188", "application/octet-stream").await;
    let partial = NamedPath::new("tile/0/002.p/188").unwrap();
    assert_eq!(blobs.get_named(&partial).await.unwrap(), None);

    // A copy of the wrong shape (cut short behind the server's back) is passed over for the database.
    for path in ["tile/0/001", "tile/entries/001"] {
        std::fs::write(data.path().join("blobs/named").join(path), b"damaged").unwrap();
    }
    assert_eq!(
        get_immutable(&server, "log/tile/0/001", "application/octet-stream").await,
        tile
    );
    assert_eq!(
        get_immutable(&server, "log/tile/entries/001", "application/octet-stream").await,
        bundle
    );
}

#[tokio::test]
async fn a_grown_log_stays_consistent_with_what_was_served() {
    let data = tempfile::tempdir().unwrap();
    append(data.path(), 0..700).await;
    let server = common::start(data.path());
    let (key, old) = verified_checkpoint(&server).await;
    let old_tiles = fetch_tiles(&server, 700).await;
    let old_bundle = get_immutable(
        &server,
        "log/tile/entries/002.p/188",
        "application/octet-stream",
    )
    .await;

    // The sequencer appends before it signs: entries not yet under a checkpoint stay unserved.
    append(data.path(), 700..1100).await;
    expect_problem(&server, "log/tile/0/002", 404, "beyond-checkpoint").await;
    expect_problem(&server, "log/entries/700", 404, "beyond-checkpoint").await;
    expect_problem(
        &server,
        "log/proof/consistency?first=700&second=1100",
        404,
        "beyond-checkpoint",
    )
    .await;
    drop(server);

    // A restart signs a checkpoint for the new size.
    let server = common::start(data.path());
    let (same_key, new) = verified_checkpoint(&server).await;
    assert_eq!(same_key.to_string(), key.to_string());
    assert_eq!(new.size, 1100);
    let body: serde_json::Value = serde_json::from_slice(
        &get_immutable(
            &server,
            "log/proof/consistency?first=700&second=1100",
            "application/json",
        )
        .await,
    )
    .unwrap();
    let proof = hashes_of(&body["hashes"]);
    verify_consistency(700, 1100, &old.root, &new.root, &proof)
        .expect("old and new checkpoints are consistent");
    assert!(verify_consistency(700, 1100, &old.root, &new.root, &flip_bit(&proof, 0)).is_err());

    let new_tiles = fetch_tiles(&server, 1100).await;
    assert_eq!(tree_root(&new_tiles, 1100).unwrap(), new.root);
    assert_eq!(
        tree_root(&new_tiles, 700).unwrap(),
        old.root,
        "the new tiles hold the old tree"
    );
    for (tile, bytes) in old_tiles.tiles.values() {
        let served = get_immutable(
            &server,
            &format!("log/{}", tile.path()),
            "application/octet-stream",
        )
        .await;
        assert_eq!(&served, bytes, "{tile} changed");
        let (grown, grown_bytes) = &new_tiles.tiles[&(tile.kind, tile.index)];
        assert!(grown.width >= tile.width);
        assert!(
            grown_bytes.starts_with(bytes),
            "{grown} does not extend {tile}"
        );
    }
    assert_eq!(
        get_immutable(
            &server,
            "log/tile/entries/002.p/188",
            "application/octet-stream"
        )
        .await,
        old_bundle
    );
    let full = get_immutable(&server, "log/tile/entries/002", "application/octet-stream").await;
    assert!(full.starts_with(&old_bundle));
    let decoded = decode_entry_bundle(&full, 256).unwrap();
    assert_eq!(decoded, (512..768).map(entry).collect::<Vec<_>>());
}
