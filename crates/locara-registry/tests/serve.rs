//! `locara-registry serve` as a user runs it: the real binary, a fresh data directory, real HTTP on loopback.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::Command;

use common::start;

use locara_core::digest::Digest;
use locara_core::log::VerifierKey;
use locara_core::root::Root;

async fn get(url: &str) -> reqwest::Response {
    reqwest::get(url).await.expect("GET over loopback")
}

#[tokio::test]
async fn first_start_creates_a_root_that_clients_can_pin_and_a_restart_keeps_it() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("locara-data");
    let server = start(&data);
    assert!(
        server
            .banner
            .iter()
            .any(|line| line.contains("created a development key set")),
        "{:?}",
        server.banner
    );

    let response = get(&format!("{}/healthz", server.url)).await;
    assert_eq!(response.status(), 200);

    let response = get(&format!("{}/root.json", server.url)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    let bytes = response.bytes().await.unwrap();
    assert_eq!(Digest::of_bytes(&bytes), server.root_digest);
    let root = Root::load_pinned(&bytes, &server.root_digest).expect("the served root verifies");
    assert_eq!(root.version(), 1);

    let response = get(&format!("{}/root/1.root.json", server.url)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    assert_eq!(response.bytes().await.unwrap(), bytes);
    assert_eq!(
        get(&format!("{}/root/2.root.json", server.url))
            .await
            .status(),
        404
    );
    assert_eq!(
        get(&format!("{}/root/x.json", server.url)).await.status(),
        404
    );

    let key_text = get(&format!("{}/log/key", server.url))
        .await
        .text()
        .await
        .unwrap();
    let verifier: VerifierKey = key_text.trim_end().parse().expect("a C2SP verifier key");
    assert_eq!(verifier.to_string(), root.log().verifier_key);
    assert_eq!(verifier.name(), root.log().origin);

    let checkpoint = get(&format!("{}/log/checkpoint", server.url))
        .await
        .text()
        .await
        .unwrap();
    let verified =
        locara_core::log::verify_checkpoint(checkpoint.as_bytes(), &root.log().origin, &verifier)
            .expect("the checkpoint verifies under the log key root.json names");
    assert_eq!(verified.size, 0);
    assert_eq!(verified.root, locara_core::log::EMPTY_ROOT);
    assert!(data.join("registry.sqlite3").is_file());

    for role in ["root", "log", "builder", "index", "security", "timestamp"] {
        let mode = std::fs::metadata(data.join(format!("keys/{role}.key")))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "keys/{role}.key");
    }
    let keys_mode = std::fs::metadata(data.join("keys"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(keys_mode & 0o777, 0o700, "keys/");
    drop(server);

    let again = start(&data);
    assert_eq!(again.root_digest, Digest::of_bytes(&bytes));
    assert!(
        !again.banner.iter().any(|line| line.contains("created")),
        "{:?}",
        again.banner
    );
    let served = get(&format!("{}/root.json", again.url))
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(served, bytes);
    let checkpoint_again = get(&format!("{}/log/checkpoint", again.url))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(
        checkpoint_again, checkpoint,
        "an unchanged log is not re-signed"
    );
}

#[test]
fn a_key_file_others_can_read_stops_the_start_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("locara-data");
    drop(start(&data));
    let key = data.join("keys/index.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_locara-registry"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("index.key"), "{stderr}");
}

#[test]
fn a_bad_setting_in_the_environment_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_locara-registry"))
        .args(["serve", "--data"])
        .arg(dir.path())
        .env("LOCARA_REGISTRY_LISTEN", "localhost")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("LOCARA_REGISTRY_LISTEN"), "{stderr}");
}
