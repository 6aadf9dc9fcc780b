//! Publish → build → release, end to end over real HTTP against the real binary, with a real git
//! repository made in a temp dir and the real builder (sandbox, two builds, provenance).

mod common;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use common::publishing::{World, commit, manifest_building_for, manifest_for, world_for};
use locara_core::digest::Digest;
use locara_core::dsse::Envelope;
use locara_core::events::{Event, LogEntry};
use locara_core::index::AppIndex;
use locara_core::root::{Role, Root};
use locara_core::statement::provenance::verify_provenance;
use locara_core::time::Timestamp;
use serde_json::{Value, json};

const APP: &str = "alice/hello";

fn manifest(version: &str, network: &str) -> String {
    manifest_for(APP, version, network)
}

fn manifest_building(version: &str, network: &str, command: &str, outputs: &str) -> String {
    manifest_building_for(APP, version, network, command, outputs)
}

async fn world() -> World {
    world_with(&[]).await
}

async fn world_with(environment: &[(&str, &str)]) -> World {
    world_for(environment, APP).await
}

/// A webhook receiver on loopback: answers 500 to the first POST, then 200, and keeps every body.
async fn webhook() -> (String, std::sync::Arc<std::sync::Mutex<Vec<Value>>>) {
    use std::sync::{Arc, Mutex};
    let received: Arc<Mutex<Vec<Value>>> = Arc::new(Mutex::new(Vec::new()));
    let seen = received.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |body: axum::body::Bytes| {
            let seen = seen.clone();
            async move {
                let mut seen = seen.lock().unwrap();
                seen.push(serde_json::from_slice(&body).unwrap_or(Value::Null));
                if seen.len() == 1 {
                    axum::http::StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    axum::http::StatusCode::OK
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, received)
}

#[tokio::test]
async fn a_published_commit_is_built_twice_signed_logged_indexed_and_served() {
    let mut world = world().await;
    // The owner is told of every release at their webhook.
    let (hook, received) = webhook().await;
    let code = world.owner.otp().await;
    let reply = world
        .api
        .call(
            "PUT",
            "/api/v1/account/webhook",
            Some(&world.owner.token),
            Some(&code),
            Some(json!({"url": hook})),
        )
        .await;
    assert_eq!(reply.status, 204, "{}", reply.body);
    let (commit_1, manifest_1) = commit(world.repo.path(), &manifest("1.0.0", ""), "one");
    let reply = world.publish("1.0.0", &commit_1, manifest_1).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let build = world.wait(reply.body["id"].as_i64().unwrap()).await;
    assert_eq!(build["state"], "succeeded", "{build}");

    let releases = world
        .api
        .get("/api/v1/apps/alice/hello/releases")
        .await
        .body;
    let release = &releases[0];
    assert_eq!(
        (release["version"].as_str(), release["state"].as_str()),
        (Some("1.0.0"), Some("available"))
    );
    assert_eq!(
        release["reproducible"], true,
        "a C program without debug info builds the same twice"
    );
    assert_eq!(release["commit"], commit_1.as_str());

    // The artifact is served by digest and hashes to it.
    let artifact: Digest = release["artifact"].as_str().unwrap().parse().unwrap();
    let hex = &artifact.to_string()["sha256:".len()..];
    let artifact_bytes = world.bytes(&format!("/blobs/sha256/{hex}")).await;
    assert_eq!(Digest::of_bytes(&artifact_bytes), artifact);
    // The provenance verifies under the root's builder key, names this artifact, repository and commit.
    let root_bytes = world.bytes("/root.json").await;
    let root = Root::load_pinned(&root_bytes, &world.server.root_digest).unwrap();
    let provenance: Digest = release["provenance"].as_str().unwrap().parse().unwrap();
    let envelope = world
        .bytes(&format!(
            "/blobs/sha256/{}",
            &provenance.to_string()["sha256:".len()..]
        ))
        .await;
    let envelope = Envelope::from_json(&envelope).unwrap();
    let verified = verify_provenance(
        &envelope,
        root.role_keys(Role::Builder),
        &artifact,
        &world.repository,
        &commit_1.parse().unwrap(),
    )
    .unwrap();
    assert!(verified.builder_id().starts_with(&world.server.url));
    // The builder id and the build type resolve to pages describing them (the build type's path on
    // this registry), as SLSA asks.
    let (status, builder_page) = common::fetch(verified.builder_id()).await;
    assert_eq!(status, 200, "{}", verified.builder_id());
    let builder_page = String::from_utf8(builder_page).unwrap();
    let builder_key = root.role_keys(Role::Builder).key_ids()[0];
    assert!(
        builder_page.contains(&builder_key.to_string()),
        "{builder_page}"
    );
    let build_type_page = String::from_utf8(world.bytes("/build/v1").await).unwrap();
    assert!(
        build_type_page.contains(locara_core::statement::provenance::LOCARA_BUILD_TYPE),
        "{build_type_page}"
    );
    let other = Digest::of_bytes(b"other");
    assert!(
        verify_provenance(
            &envelope,
            root.role_keys(Role::Builder),
            &other,
            &world.repository,
            &commit_1.parse().unwrap()
        )
        .is_err()
    );

    // The signed index lists it; the log records it with everything a client checks.
    let index: AppIndex = root
        .verify_metadata(
            &world.bytes("/index/alice/hello.json").await,
            Timestamp::now(),
            None,
        )
        .unwrap();
    assert_eq!(index.releases.len(), 1);
    assert_eq!(
        (index.releases[0].artifact, index.releases[0].provenance),
        (artifact, provenance)
    );
    let log_index = release["log_index"].as_u64().unwrap();
    let entry =
        LogEntry::from_bytes(&world.bytes(&format!("/log/entries/{log_index}")).await).unwrap();
    let Event::ReleasePublished(record) = entry.event else {
        panic!("not a release entry")
    };
    assert_eq!(record.manifest, manifest("1.0.0", ""));
    assert_eq!(record.manifest_digest, manifest_1.to_string());
    assert_eq!(
        (record.artifact.as_str(), record.commit.as_str()),
        (artifact.to_string().as_str(), commit_1.as_str())
    );
    assert_eq!(record.key_id, world.key.key_id().to_string());
    assert!(record.expansion.is_empty() && record.status == "available");
    let checkpoint = String::from_utf8(world.bytes("/log/checkpoint").await).unwrap();
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    assert!(size > log_index, "the checkpoint covers the release entry");

    // The owner's webhook was told (its first answer was an error; the notification waits for a retry).
    let deadline = Instant::now() + Duration::from_secs(20);
    while received.lock().unwrap().is_empty() {
        assert!(Instant::now() < deadline, "no webhook delivery");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let first = received.lock().unwrap()[0].clone();
    assert_eq!(
        (first["app"].as_str(), first["version"].as_str()),
        (Some("alice/hello"), Some("1.0.0"))
    );
    assert_eq!(first["status"], "available");

    // The build log is kept and readable by the publisher's members.
    let (status, log) = {
        let reply = reqwest::Client::new()
            .get(format!(
                "{}/api/v1/builds/{}/log",
                world.server.url, build["id"]
            ))
            .bearer_auth(&world.owner.token)
            .send()
            .await
            .unwrap();
        (reply.status().as_u16(), reply.text().await.unwrap())
    };
    assert_eq!(status, 200);
    assert!(log.contains("cc") || log.contains("build 1"), "{log}");

    // A release asking for more (network access) cools down, and an owner can cancel it.
    let (commit_2, manifest_2) = commit(
        world.repo.path(),
        &manifest("1.1.0", "\"api.example.com:443\""),
        "two",
    );
    let reply = world.publish("1.1.0", &commit_2, manifest_2).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let build_2 = world.wait(reply.body["id"].as_i64().unwrap()).await;
    assert_eq!(build_2["state"], "succeeded", "{build_2}");
    let releases = world
        .api
        .get("/api/v1/apps/alice/hello/releases")
        .await
        .body;
    assert_eq!(releases[1]["state"], "cooling-down");
    let expansion = releases[1]["expansion"].to_string();
    assert!(expansion.contains("api.example.com"), "{expansion}");
    let code = world.owner.otp().await;
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/apps/alice/hello/releases/1.1.0/cancel",
            Some(&world.owner.token),
            Some(&code),
            None,
        )
        .await;
    assert_eq!(
        (reply.status, reply.body["state"].as_str()),
        (200, Some("cancelled")),
        "{}",
        reply.body
    );

    // Released versions are never published again, whatever happened to them.
    for version in ["1.0.0", "1.1.0"] {
        let reply = world
            .publish_with(version, &commit_2, manifest_2, "000000")
            .await;
        assert_eq!(reply.status, 409, "{version}: {}", reply.body);
    }

    // A statement whose version differs from the manifest at the commit: the build fails, no release.
    let reply = world.publish("1.2.0", &commit_2, manifest_2).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let failed = world.wait(reply.body["id"].as_i64().unwrap()).await;
    assert_eq!(failed["state"], "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("1.1.0") && error.contains("1.2.0"),
        "{error}"
    );
    assert_eq!(
        world
            .api
            .get("/api/v1/apps/alice/hello/releases")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        2
    );
}

#[tokio::test]
async fn a_killed_workers_build_is_taken_over_and_released_once() {
    let environment = [
        ("LOCARA_REGISTRY_BUILD_WORKERS", "0"),
        ("LOCARA_REGISTRY_BUILD_LEASE_SECONDS", "3"),
    ];
    let mut world = world_with(&environment).await;
    let slow = r#""sh", "-c", "sleep 2 && cc -O2 -o hello hello.c""#;
    let (commit_1, manifest_1) = commit(
        world.repo.path(),
        &manifest_building("1.0.0", "", slow, ""),
        "slow",
    );
    let reply = world.publish("1.0.0", &commit_1, manifest_1).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let id = reply.body["id"].as_i64().unwrap();
    let worker = |data: &Path| {
        Command::new(env!("CARGO_BIN_EXE_locara-registry"))
            .args(["worker", "--data"])
            .arg(data)
            .envs(environment)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start a worker")
    };
    let data = world.data.path().to_owned();
    // The first worker takes the job and is killed mid-build.
    let mut first = worker(&data);
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = world
            .api
            .call(
                "GET",
                &format!("/api/v1/builds/{id}"),
                Some(&world.owner.token),
                None,
                None,
            )
            .await;
        if reply.body["state"] == "building" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no worker took the build: {}",
            reply.body
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    first.kill().unwrap();
    first.wait().unwrap();
    // A second worker takes it over once the lease runs out, and finishes it.
    let mut second = worker(&data);
    let build = world.wait(id).await;
    second.kill().unwrap();
    second.wait().unwrap();
    assert_eq!(build["state"], "succeeded", "{build}");
    assert_eq!(build["attempts"], 2, "{build}");
    let releases = world
        .api
        .get("/api/v1/apps/alice/hello/releases")
        .await
        .body;
    assert_eq!(releases.as_array().unwrap().len(), 1, "{releases}");
    // Exactly one release entry in the log.
    let checkpoint = String::from_utf8(world.bytes("/log/checkpoint").await).unwrap();
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let mut released = 0;
    for index in 0..size {
        let entry =
            LogEntry::from_bytes(&world.bytes(&format!("/log/entries/{index}")).await).unwrap();
        if matches!(entry.event, Event::ReleasePublished(_)) {
            released += 1;
        }
    }
    assert_eq!(released, 1);
}

#[tokio::test]
async fn a_registry_requiring_reproducible_builds_refuses_one_whose_builds_differ() {
    let mut world = world_with(&[("LOCARA_REGISTRY_REQUIRE_REPRODUCIBLE", "true")]).await;
    let stamping = r#""sh", "-c", "date +%s%N > stamp && cc -O2 -o hello hello.c""#;
    let text = manifest_building("1.0.0", "", stamping, r#", "share/stamp" = "stamp""#);
    let (commit_1, manifest_1) = commit(world.repo.path(), &text, "stamped");
    let reply = world.publish("1.0.0", &commit_1, manifest_1).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    let build = world.wait(reply.body["id"].as_i64().unwrap()).await;
    assert_eq!(build["state"], "failed", "{build}");
    assert!(
        build["error"].as_str().unwrap().contains("reproducible"),
        "{build}"
    );
    assert!(
        world
            .api
            .get("/api/v1/apps/alice/hello/releases")
            .await
            .body
            .as_array()
            .unwrap()
            .is_empty()
    );
}
