//! `locara-registry revoke`: the security team's operator command, run as its own process beside a running
//! `serve` on the same data directory. When it returns, every client's next request sees the revocation:
//! a newer signed revocation list naming the release, a `timestamp.json` naming that list, a
//! `release.revoked` log entry under the served checkpoint, and the app's index saying `revoked`.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Output};

use common::api::Api;
use common::examples::{wait_available, write_example};
use locara_core::events::{Event, LogEntry};
use locara_core::log::{Hash, VerifierKey, leaf_hash, verify_checkpoint, verify_inclusion};
use locara_core::revocation::{RevocationList, verify_revocation_list};
use locara_core::root::{Freshness, Root};
use locara_core::time::Timestamp;

/// Runs `locara-registry revoke --data DATA ARGS` to completion.
fn revoke(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_locara-registry"))
        .arg("revoke")
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("LOCARA_REGISTRY_CONFIG")
        .output()
        .expect("run locara-registry revoke")
}

/// The served `timestamp.json` and `revocations.json`, each verified under its role, the timestamp
/// naming exactly the served list and checkpoint.
async fn freshness(url: &str, root: &Root) -> (Freshness, RevocationList) {
    let (status, timestamp) = common::fetch(&format!("{url}/timestamp.json")).await;
    assert_eq!(status, 200);
    let timestamp: Freshness = root
        .verify_metadata(&timestamp, Timestamp::now(), None)
        .expect("timestamp.json verifies under the timestamp role");
    let (status, list) = common::fetch(&format!("{url}/revocations.json")).await;
    assert_eq!(status, 200);
    timestamp
        .check_revocations_bytes(&list)
        .expect("timestamp.json names the served revocation list");
    let (_, checkpoint) = common::fetch(&format!("{url}/log/checkpoint")).await;
    timestamp
        .check_checkpoint_bytes(&checkpoint)
        .expect("timestamp.json names the served checkpoint");
    let list = verify_revocation_list(root, &list, Timestamp::now(), None)
        .expect("revocations.json verifies under the security role");
    (timestamp, list)
}

#[tokio::test]
async fn a_revocation_by_the_operator_command_is_signed_and_served_before_it_returns() {
    let data = tempfile::tempdir().unwrap();
    let examples = tempfile::tempdir().unwrap();
    write_example(examples.path(), "hello-c", "0.1.0", "Prints a greeting");
    let arguments = [
        OsStr::new("--demo"),
        OsStr::new("--demo-apps"),
        examples.path().as_os_str(),
    ];
    // A long re-signing interval: only the command's own signing can make the revocation visible.
    let server = common::start_serving(
        data.path(),
        &[("LOCARA_REGISTRY_TIMESTAMP_INTERVAL_SECONDS", "3600")],
        std::process::Stdio::null(),
        &arguments,
    );
    let api = Api::new(&server.url);
    let release = wait_available(&api, "demo/hello-c", "0.1.0").await;
    let (_, root_bytes) = common::fetch(&format!("{}/root.json", server.url)).await;
    let root = Root::load_pinned(&root_bytes, &server.root_digest).unwrap();
    let (timestamp_before, list_before) = freshness(&server.url, &root).await;
    assert!(list_before.entries.is_empty());

    let output = revoke(
        data.path(),
        &[
            "demo/hello-c@0.1.0",
            "--reason",
            "steals SSH keys",
            "--advisory",
            "LOCARA-2026-0001",
        ],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "revoke failed: {}{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("revoked demo/hello-c 0.1.0"), "{stdout}");

    // One request later, with no re-signing by the server in between.
    let (timestamp, list) = freshness(&server.url, &root).await;
    assert!(list.version > list_before.version);
    assert!(timestamp.version > timestamp_before.version);
    assert_eq!(timestamp.revocations.version, list.version);
    let revocation = list
        .find(&"demo/hello-c".parse().unwrap(), &"0.1.0".parse().unwrap())
        .expect("the list names the revoked release");
    assert_eq!(revocation.reason, "steals SSH keys");
    assert_eq!(revocation.advisory.as_deref(), Some("LOCARA-2026-0001"));
    assert_eq!(
        revocation.artifact.to_string(),
        release["artifact"].as_str().unwrap()
    );
    assert_eq!(list.entries.len(), 1);

    // The log holds a `release.revoked` entry, included under the served, verified checkpoint.
    let (_, key) = common::fetch(&format!("{}/log/key", server.url)).await;
    let key: VerifierKey = String::from_utf8(key).unwrap().trim_end().parse().unwrap();
    let (_, note) = common::fetch(&format!("{}/log/checkpoint", server.url)).await;
    let checkpoint = verify_checkpoint(&note, key.name(), &key).expect("the checkpoint verifies");
    assert_eq!(checkpoint.size, timestamp.checkpoint.size);
    let index = checkpoint.size - 1;
    let (status, entry_bytes) = common::fetch(&format!("{}/log/entries/{index}", server.url)).await;
    assert_eq!(status, 200);
    let entry = LogEntry::from_bytes(&entry_bytes).unwrap();
    assert_eq!(
        entry.event,
        Event::ReleaseRevoked {
            app: "demo/hello-c".to_owned(),
            version: "0.1.0".to_owned(),
            artifact: revocation.artifact.to_string(),
            reason: "steals SSH keys".to_owned(),
            advisory: Some("LOCARA-2026-0001".to_owned()),
            by: "security-team".to_owned(),
        }
    );
    let proof = api
        .get(&format!(
            "/log/proof/inclusion?index={index}&tree_size={}",
            checkpoint.size
        ))
        .await
        .body;
    let hashes: Vec<Hash> = proof["hashes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|hash| Hash::from_base64(hash.as_str().unwrap()).unwrap())
        .collect();
    verify_inclusion(
        &leaf_hash(&entry_bytes),
        index,
        checkpoint.size,
        &hashes,
        &checkpoint.root,
    )
    .expect("the revocation entry is included under the checkpoint");

    // The signed index and the API say revoked.
    let (_, index_bytes) = common::fetch(&format!("{}/index/demo/hello-c.json", server.url)).await;
    let index: serde_json::Value = serde_json::from_slice(&index_bytes).unwrap();
    assert_eq!(
        index["signed"]["releases"][0]["status"], "revoked",
        "{index}"
    );
    let releases = api.get("/api/v1/apps/demo/hello-c/releases").await.body;
    assert_eq!(releases[0]["state"], "revoked", "{releases}");

    // Revoked is final: a second revocation is refused, and nothing is logged or re-signed for it.
    let again = revoke(data.path(), &["demo/hello-c@0.1.0", "--reason", "again"]);
    assert_eq!(again.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&again.stderr);
    assert!(
        stderr.contains("demo/hello-c 0.1.0 is already revoked"),
        "{stderr}"
    );
    let (after, list_after) = freshness(&server.url, &root).await;
    assert_eq!(after.checkpoint, timestamp.checkpoint);
    assert_eq!(list_after, list);

    // Unknown releases and apps are refused, naming what was asked for.
    let unknown = revoke(data.path(), &["demo/hello-c@9.9.9", "--reason", "x"]);
    assert_eq!(unknown.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("demo/hello-c has no release 9.9.9 (its releases: 0.1.0)"),
        "{stderr}"
    );
    let unknown = revoke(data.path(), &["demo/nothing@1.0.0", "--reason", "x"]);
    assert_eq!(unknown.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&unknown.stderr);
    assert!(
        stderr.contains("this registry has no app demo/nothing"),
        "{stderr}"
    );
    // A malformed name is a usage error.
    let usage = revoke(data.path(), &["demo/hello-c", "--reason", "x"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("PUBLISHER/APP@VERSION"));
    let (_, list_final) = freshness(&server.url, &root).await;
    assert_eq!(list_final, list);
}

#[tokio::test]
async fn revocations_and_the_servers_own_re_signing_never_interleave() {
    let data = tempfile::tempdir().unwrap();
    let examples = tempfile::tempdir().unwrap();
    for slug in ["one", "two", "three"] {
        write_example(examples.path(), slug, "1.0.0", "A test app");
    }
    let arguments = [
        OsStr::new("--demo"),
        OsStr::new("--demo-apps"),
        examples.path().as_os_str(),
    ];
    // The server re-signs every second while the revocations run beside it.
    let server = common::start_serving(
        data.path(),
        &[("LOCARA_REGISTRY_TIMESTAMP_INTERVAL_SECONDS", "1")],
        std::process::Stdio::null(),
        &arguments,
    );
    let api = Api::new(&server.url);
    for slug in ["one", "two", "three"] {
        wait_available(&api, &format!("demo/{slug}"), "1.0.0").await;
    }
    let (_, root_bytes) = common::fetch(&format!("{}/root.json", server.url)).await;
    let root = Root::load_pinned(&root_bytes, &server.root_digest).unwrap();
    let commands: Vec<_> = ["one", "two", "three"]
        .into_iter()
        .map(|slug| {
            let data = data.path().to_owned();
            std::thread::spawn(move || {
                revoke(
                    &data,
                    &[
                        &format!("demo/{slug}@1.0.0"),
                        "--reason",
                        "bad",
                        "--by",
                        "mallory-hunter",
                    ],
                )
            })
        })
        .collect();
    for command in commands {
        let output = command.join().unwrap();
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    // Every revocation is listed (none dropped by a concurrent re-signing), under a timestamp that names
    // the served list and checkpoint.
    let (_, list) = freshness(&server.url, &root).await;
    let mut listed: Vec<_> = list
        .entries
        .iter()
        .map(|entry| entry.app.to_string())
        .collect();
    listed.sort();
    assert_eq!(listed, ["demo/one", "demo/three", "demo/two"]);
}
