//! Third parties can check what the registry signs without reading its source: the URIs in every provenance
//! resolve to pages that describe them, and every public key the registry writes is spelled
//! `ed25519:<base64>`. Over real HTTP against the real binary.

mod common;

use locara_core::keys::PublicKey;
use locara_core::root::{Role, Root};
use locara_core::statement::provenance::LOCARA_BUILD_TYPE;

/// Status, content type, cache control and text of `url`.
async fn get_page(url: &str) -> (u16, String, String, String) {
    let response = reqwest::get(url).await.expect("GET over loopback");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    let (content_type, cache_control) = (header("content-type"), header("cache-control"));
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    (status, content_type, cache_control, text)
}

async fn pinned_root(server: &common::Server) -> (Root, serde_json::Value) {
    let (status, bytes) = common::fetch(&format!("{}/root.json", server.url)).await;
    assert_eq!(status, 200);
    let root = Root::load_pinned(&bytes, &server.root_digest).unwrap();
    (root, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test]
async fn the_build_type_uri_path_serves_a_page_describing_the_build_type() {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let path = LOCARA_BUILD_TYPE
        .strip_prefix("https://locara.dev")
        .expect("the build type is a locara.dev URI");
    let (status, content_type, cache_control, text) =
        get_page(&format!("{}{path}", server.url)).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert_eq!(cache_control, "no-cache");
    assert!(text.contains(LOCARA_BUILD_TYPE), "{text}");
    // It documents every external parameter a verifier must know, and how the signature is checked.
    for needle in [
        "externalParameters",
        "`repository`",
        "`commit`",
        "`manifestPath`",
        "`buildCommand`",
        "resolvedDependencies",
        "builder",
        "RFC 8785",
    ] {
        assert!(text.contains(needle), "the page lacks {needle:?}:\n{text}");
    }
}

#[tokio::test]
async fn the_builder_id_serves_a_page_naming_the_roots_builder_keys() {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let (root, _) = pinned_root(&server).await;
    let builder_id = locara_registry::provenance_pages::builder_id(&server.url);
    assert_eq!(builder_id, format!("{}/builder", server.url));

    let (status, content_type, _, text) = get_page(&builder_id).await;
    assert_eq!(status, 200, "{text}");
    assert_eq!(content_type, "text/plain; charset=utf-8");
    assert!(text.contains(&builder_id), "{text}");
    assert!(text.contains(LOCARA_BUILD_TYPE), "{text}");
    assert!(
        text.contains(&root.digest().to_string()),
        "the page names the root it describes:\n{text}"
    );
    let builder_keys = root.role_keys(Role::Builder);
    assert!(!builder_keys.is_empty());
    for key_id in builder_keys.key_ids() {
        let key = builder_keys.get(&key_id).unwrap();
        assert!(
            text.contains(&format!("key id {key_id}: {key}")),
            "the page lacks builder key {key_id}:\n{text}"
        );
    }
    // No other role's key is presented as a builder key.
    for role in [
        Role::Root,
        Role::Log,
        Role::Index,
        Role::Security,
        Role::Timestamp,
    ] {
        for key_id in root.role_keys(role).key_ids() {
            if builder_keys.get(&key_id).is_none() {
                assert!(
                    !text.contains(&key_id.to_string()),
                    "{role:?} key {key_id} is listed"
                );
            }
        }
    }
}

#[tokio::test]
async fn root_json_spells_every_public_key_ed25519_base64() {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let (root, document) = pinned_root(&server).await;
    let keys = document["signed"]["keys"].as_object().unwrap();
    assert!(!keys.is_empty());
    for (key_id, entry) in keys {
        let spelled = entry["public"].as_str().unwrap();
        let key: PublicKey = spelled.parse().unwrap_or_else(|error| {
            panic!("{key_id}: {spelled:?} is not ed25519:<base64>: {error}")
        });
        assert_eq!(key.to_string(), spelled);
        assert_eq!(&key.key_id().to_string(), key_id);
    }
    assert_eq!(root.version(), 1);
}
