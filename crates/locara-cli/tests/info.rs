//! `locara info` with the real binary: against the real registry, and against a stand-in registry serving
//! releases the real one cannot make without a builder, and index documents that must be refused.

mod support;

use locara_core::digest::Digest;
use locara_core::index::{AppIndex, INDEX_TYPE, IndexPublisher, IndexVerification, IndexedRelease};
use locara_core::root::SPEC_VERSION;
use locara_core::time::Timestamp;
use serde_json::{Value, json};
use support::{ALICE_DOMAIN, Client, FakeRegistry, Publishing, far_future, key};

#[test]
fn info_shows_the_app_its_verified_publisher_and_checks_the_signed_index() {
    let publishing = Publishing::start();
    let client = publishing.client();
    let run = client.run(&["info", "alice/notes"]).success();
    let stdout = &run.stdout;
    assert!(stdout.starts_with("App alice/notes\n"), "{stdout}");
    assert!(
        stdout.contains(&format!(
            "publisher:  alice (verified by DNS: {ALICE_DOMAIN})"
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("repository: {}", publishing.repository.file_url())),
        "{stdout}"
    );
    assert!(
        stdout.contains("index:      signed by the index key, version "),
        "{stdout}"
    );
    assert!(stdout.contains("No releases yet."), "{stdout}");

    let info = client
        .run(&["--json", "info", "alice/notes"])
        .success()
        .json();
    assert_eq!(info["name"], "alice/notes");
    assert_eq!(info["publisher"], "alice");
    assert_eq!(info["publisher_verification"]["method"], "dns");
    assert_eq!(info["publisher_verification"]["subject"], ALICE_DOMAIN);
    assert_eq!(info["index"]["role"], "index");
    assert!(info["index"]["version"].as_u64().unwrap() >= 1, "{info}");
    assert_eq!(info["releases"], json!([]));

    // Reading needs no account.
    let anonymous = Client::new();
    anonymous
        .run(&[
            "registry",
            "add",
            "main",
            &publishing.world.registry.url,
            "--root",
            &publishing.world.registry.digest(),
        ])
        .success();
    anonymous.run(&["info", "alice/notes"]).success();

    let run = client.run(&["info", "alice/nothing"]).exits(1);
    assert!(run.stderr.contains("not-found"), "{}", run.stderr);
    client.run(&["info", "nothing"]).exits(2);
}

const ARTIFACT: &[u8] = b"artifact 1.0.0";
const PROVENANCE: &[u8] = b"provenance 1.0.0";

fn app_index(version: u64) -> AppIndex {
    AppIndex {
        metadata_type: INDEX_TYPE.to_owned(),
        spec_version: SPEC_VERSION.to_owned(),
        version,
        expires: far_future(),
        app: "alice/notes".parse().unwrap(),
        repository: "https://git.example/alice/notes".to_owned(),
        log_index: 3,
        publisher: IndexPublisher {
            name: "alice".to_owned(),
            kind: "user".to_owned(),
            verification: Some(IndexVerification {
                method: "dns".to_owned(),
                subject: ALICE_DOMAIN.to_owned(),
            }),
        },
        releases: vec![IndexedRelease {
            version: "1.0.0".parse().unwrap(),
            status: "available".to_owned(),
            log_index: 8,
            artifact: Digest::of_bytes(ARTIFACT),
            artifact_size: Some(ARTIFACT.len() as u64),
            provenance: Digest::of_bytes(PROVENANCE),
            provenance_size: Some(PROVENANCE.len() as u64),
            message: None,
        }],
    }
}

/// A release as the API lists it; 1.0.0 has signed sizes, later ones were recorded without.
fn release(version: &str, state: &str, artifact: &[u8], log_index: u64) -> Value {
    let mut release = json!({
        "version": version, "state": state, "available_at": "2026-12-01T00:00:00Z",
        "commit": "0123456789abcdef0123456789abcdef01234567",
        "repository": "https://git.example/alice/notes",
        "artifact": Digest::of_bytes(artifact).to_string(),
        "provenance": Digest::of_bytes(PROVENANCE).to_string(),
        "key_id": key(7).key_id().to_string(),
        "reproducible": state == "available",
        "capabilities": ["read files in ~/Notes", "connect to api.example.com on port 443"],
        "expansion": if state == "cooling-down" { json!(["connect to api.example.com on port 443"]) } else { json!([]) },
        "log_index": log_index, "build_id": 1
    });
    if version == "1.0.0" {
        release["artifact_size"] = json!(artifact.len());
        release["provenance_size"] = json!(PROVENANCE.len());
    }
    release
}

/// A stand-in registry serving `alice/notes` with releases 1.0.0 (available) and 1.1.0 (cooling down,
/// not in the index yet), and the index `index`.
fn fake_registry(index: &[u8]) -> FakeRegistry {
    let fake = FakeRegistry::start();
    let server = &fake.server;
    server.put(
        "/api/v1/apps/alice/notes",
        &serde_json::to_vec(&json!({
            "name": "alice/notes", "publisher": "alice",
            "repository": "https://git.example/alice/notes",
            "registered_at": "2026-11-25T17:00:00Z", "log_index": 3
        }))
        .unwrap(),
    );
    server.put(
        "/api/v1/publishers/alice",
        &serde_json::to_vec(&json!({
            "name": "alice", "kind": "user",
            "verification": {"method": "dns", "subject": ALICE_DOMAIN, "verified_at": "2026-11-25T17:00:00Z"},
            "created_at": "2026-11-25T17:00:00Z", "members": [], "keys": [], "apps": ["alice/notes"],
            "oidc_trusts": []
        }))
        .unwrap(),
    );
    server.put(
        "/api/v1/apps/alice/notes/releases",
        &serde_json::to_vec(&json!([
            release("1.0.0", "available", ARTIFACT, 8),
            release("1.1.0", "cooling-down", b"artifact 1.1.0", 9)
        ]))
        .unwrap(),
    );
    server.put("/index/alice/notes.json", index);
    fake
}

#[test]
fn releases_are_shown_with_state_commit_artifact_reproducibility_and_capabilities() {
    let index = app_index(4).sign(&[&key(40)]).unwrap();
    let fake = fake_registry(&index);
    let run = fake.client.run(&["info", "alice/notes"]).success();
    let stdout = &run.stdout;
    assert!(
        stdout.contains("index:      signed by the index key, version 4"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1.0.0  available since 2026-12-01T00:00:00Z"),
        "{stdout}"
    );
    assert!(
        stdout.contains("1.1.0  cooling-down: available from 2026-12-01T00:00:00Z"),
        "{stdout}"
    );
    assert!(
        stdout.contains("commit:       0123456789abcdef0123456789abcdef01234567"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!("artifact:     {}", Digest::of_bytes(ARTIFACT))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "size:         {} bytes (signed: a download stops at exactly this size)",
            ARTIFACT.len()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("size:         not recorded (released before sizes were signed"),
        "{stdout}"
    );
    assert!(stdout.contains("reproducible: yes"), "{stdout}");
    assert!(stdout.contains("reproducible: no"), "{stdout}");
    assert!(stdout.contains("- read files in ~/Notes"), "{stdout}");
    assert!(stdout.contains("new in this release:"), "{stdout}");
    assert!(stdout.contains("(not in the signed index yet)"), "{stdout}");
    assert!(
        run.stderr.contains("1.1.0 is not in the signed index"),
        "{}",
        run.stderr
    );

    let info = fake
        .client
        .run(&["--json", "info", "alice/notes"])
        .success()
        .json();
    assert_eq!(info["releases"][0]["in_index"], true);
    assert_eq!(info["releases"][1]["in_index"], false);
    assert_eq!(info["releases"][1]["state"], "cooling-down");
    assert_eq!(info["index"]["version"], 4);
}

#[test]
fn an_index_that_fails_a_check_stops_info_naming_the_check() {
    let fake = fake_registry(b"{}");
    let refused = |index: &[u8], expected: &str| {
        fake.server.put("/index/alice/notes.json", index);
        let run = fake.client.run(&["info", "alice/notes"]).exits(1);
        assert!(
            run.stderr.contains(expected),
            "expected {expected:?}:\n{}",
            run.stderr
        );
        assert_eq!(run.stdout, "", "nothing is shown from a refused index");
        run
    };

    // Signed by a key that is not the root's index key.
    let run = refused(
        &app_index(4).sign(&[&key(41)]).unwrap(),
        "the signed index of alice/notes was refused",
    );
    assert!(
        run.stderr.contains("0 index key(s), 1 needed"),
        "{}",
        run.stderr
    );
    // Signed by the index key, but for another app.
    let mut other = app_index(4);
    other.app = "alice/other".parse().unwrap();
    refused(
        &other.sign(&[&key(40)]).unwrap(),
        "the signed index of alice/other for alice/notes",
    );
    // Expired.
    let mut expired = app_index(4);
    expired.expires = "2021-01-01T00:00:00Z".parse::<Timestamp>().unwrap();
    refused(&expired.sign(&[&key(40)]).unwrap(), "expired");
    // Changed after signing.
    let mut tampered: Value =
        serde_json::from_slice(&app_index(4).sign(&[&key(40)]).unwrap()).unwrap();
    tampered["signed"]["repository"] = json!("https://evil.example/notes");
    refused(&serde_json::to_vec(&tampered).unwrap(), "index key(s)");
    // Validly signed, but the API contradicts it.
    let mut moved = app_index(4);
    moved.repository = "https://git.example/alice/moved".to_owned();
    refused(
        &moved.sign(&[&key(40)]).unwrap(),
        "disagree about the repository",
    );
    let mut swapped = app_index(4);
    swapped.releases[0].artifact = Digest::of_bytes(b"another artifact");
    refused(
        &swapped.sign(&[&key(40)]).unwrap(),
        "disagree about release 1.0.0's artifact",
    );
    let mut resized = app_index(4);
    resized.releases[0].artifact_size = Some(1 << 40);
    refused(
        &resized.sign(&[&key(40)]).unwrap(),
        "disagree about release 1.0.0's sizes",
    );
    let mut unverified = app_index(4);
    unverified.publisher.verification = None;
    refused(
        &unverified.sign(&[&key(40)]).unwrap(),
        "disagree about how the publisher is verified",
    );
    // No index at all.
    fake.server.remove("/index/alice/notes.json");
    let run = fake.client.run(&["info", "alice/notes"]).exits(1);
    assert!(
        run.stderr
            .contains("serves no signed index for alice/notes"),
        "{}",
        run.stderr
    );
}
