//! The signed, static read path: app index documents signed by the index key, and content-addressed blobs
//! with ETag and Range, over real HTTP against the real binary.

mod common;

use common::api::{Api, sign_up_with_two_factor, verify_by_dns};
use locara_core::digest::Digest;
use locara_core::index::AppIndex;
use locara_core::root::Root;
use locara_core::time::Timestamp;
use locara_store::{BlobStore, FsBlobStore};
use locara_testkit::dns::DnsServer;
use serde_json::json;

async fn pinned_root(server: &common::Server) -> Root {
    let (status, bytes) = common::fetch(&format!("{}/root.json", server.url)).await;
    assert_eq!(status, 200);
    Root::load_pinned(&bytes, &server.root_digest).unwrap()
}

#[tokio::test]
async fn app_indexes_are_signed_by_the_index_key_and_versioned() {
    let dns = DnsServer::start("example.test").await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let resolver = dns.address().to_string();
    let server = common::start_with(data.path(), &[("LOCARA_REGISTRY_DNS_RESOLVER", &resolver)]);
    let api = Api::new(&server.url);
    let root = pinned_root(&server).await;
    let mut alice = sign_up_with_two_factor(&api, "alice").await;
    verify_by_dns(&api, &dns, &mut alice, "alice", "alice.example.test").await;
    let body = json!({"name": "alice/notes", "repository": "https://git.example/alice/notes"});
    let code = alice.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/apps",
            Some(&alice.token),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);

    let (status, bytes) = common::fetch(&format!("{}/index/alice/notes.json", server.url)).await;
    assert_eq!(status, 200);
    let index: AppIndex = root
        .verify_metadata(&bytes, Timestamp::now(), None)
        .unwrap();
    assert_eq!(index.app.to_string(), "alice/notes");
    assert_eq!(index.repository, "https://git.example/alice/notes");
    assert_eq!(
        index.publisher.verification.as_ref().unwrap().subject,
        "alice.example.test"
    );
    assert_eq!(index.log_index, reply.body["log_index"].as_u64().unwrap());
    assert!(index.releases.is_empty());

    // Tampering with any byte of the signed part breaks the signature.
    let text = String::from_utf8(bytes.clone()).unwrap();
    let forged = text.replace(
        "https://git.example/alice/notes",
        "https://git.example/evil/notes",
    );
    assert!(
        root.verify_metadata::<AppIndex>(forged.as_bytes(), Timestamp::now(), None)
            .is_err()
    );
    // A client that saw a later version refuses this one (rollback).
    assert!(
        root.verify_metadata::<AppIndex>(&bytes, Timestamp::now(), Some(index.version + 1))
            .is_err()
    );

    // A change to the publisher's record re-signs the index with the next version.
    verify_by_dns(&api, &dns, &mut alice, "alice", "notes.example.test").await;
    let (_, bytes) = common::fetch(&format!("{}/index/alice/notes.json", server.url)).await;
    let newer: AppIndex = root
        .verify_metadata(&bytes, Timestamp::now(), Some(index.version))
        .unwrap();
    assert_eq!(newer.version, index.version + 1);
    assert_eq!(
        newer.publisher.verification.unwrap().subject,
        "notes.example.test"
    );

    for missing in [
        "/index/alice/nothing.json",
        "/index/alice/notes",
        "/index/Alice/notes.json",
    ] {
        let (status, _) = common::fetch(&format!("{}{missing}", server.url)).await;
        assert_eq!(status, 404, "{missing}");
    }
}

#[tokio::test]
async fn blobs_are_served_by_digest_with_etag_and_ranges() {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let content: Vec<u8> = (0..1_048_576u32).map(|i| (i * 31 % 251) as u8).collect();
    let blobs = FsBlobStore::open(data.path().join("blobs")).await.unwrap();
    let stored = blobs.put(&mut content.as_slice(), None).await.unwrap();
    let hex = stored.digest.to_string()["sha256:".len()..].to_owned();
    let url = format!("{}/blobs/sha256/{hex}", server.url);
    let client = reqwest::Client::new();
    let etag = format!("\"{}\"", stored.digest);

    let response = client.get(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["etag"], etag.as_str());
    assert_eq!(response.headers()["accept-ranges"], "bytes");
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    let body = response.bytes().await.unwrap();
    assert_eq!(Digest::of_bytes(&body), stored.digest);

    for (range, expected, content_range) in [
        ("bytes=0-99", 0..100, "bytes 0-99/1048576"),
        (
            "bytes=1048000-",
            1_048_000..1_048_576,
            "bytes 1048000-1048575/1048576",
        ),
        (
            "bytes=-576",
            1_048_000..1_048_576,
            "bytes 1048000-1048575/1048576",
        ),
        (
            "bytes=1048570-2000000",
            1_048_570..1_048_576,
            "bytes 1048570-1048575/1048576",
        ),
    ] {
        let response = client
            .get(&url)
            .header("range", range)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 206, "{range}");
        assert_eq!(
            response.headers()["content-range"],
            content_range,
            "{range}"
        );
        assert_eq!(
            response.bytes().await.unwrap().as_ref(),
            &content[expected],
            "{range}"
        );
    }
    let response = client
        .get(&url)
        .header("range", "bytes=2000000-")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 416);
    assert_eq!(response.headers()["content-range"], "bytes */1048576");
    // Several ranges: the whole blob.
    let response = client
        .get(&url)
        .header("range", "bytes=0-1,5-6")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // If-Range with another validator: the whole blob; with ours: the range.
    let response = client
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", "\"sha256:0000\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let response = client
        .get(&url)
        .header("range", "bytes=0-9")
        .header("if-range", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 206);
    // Revalidation.
    let response = client
        .get(&url)
        .header("if-none-match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 304);
    let response = client
        .get(&url)
        .header("if-none-match", "\"sha256:other\"")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    // HEAD: headers, no body.
    let response = client.head(&url).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(response.headers()["content-length"], "1048576");
    assert!(response.bytes().await.unwrap().is_empty());
    // Unknown and malformed digests.
    for missing in [
        format!("{}/blobs/sha256/{}", server.url, "0".repeat(64)),
        format!("{}/blobs/sha256/{}", server.url, hex.to_uppercase()),
        format!("{}/blobs/sha256/../../registry.sqlite3", server.url),
        format!("{}/blobs/sha512/{hex}", server.url),
    ] {
        assert_eq!(
            client.get(&missing).send().await.unwrap().status().as_u16(),
            404,
            "{missing}"
        );
    }
}
