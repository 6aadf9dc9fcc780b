//! End to end: the security team revokes a release with `locara-registry revoke` on the registry host
//! while the registry serves, and every client that syncs quarantines it (DESIGN §6): the launcher is
//! removed, `locara run` refuses it, `locara verify` reports it, and no client installs it again — not
//! even one that never synced since it was revoked.

#![cfg(target_os = "linux")]

#[path = "support/demo.rs"]
mod demo;
#[path = "support/proxy.rs"]
mod proxy;
mod support;

use std::path::PathBuf;
use std::process::Command;

use demo::{Demo, Example};
use serde_json::Value;
use support::{Client, Run};

const REASON: &str = "uploads your SSH keys";
const ADVISORY: &str = "LOCARA-2026-0042";

/// Runs `locara-registry revoke` on the demo registry's data directory, beside the running server.
fn revoke(demo: &Demo, release: &str) -> std::process::Output {
    Command::new(support::registry_binary())
        .arg("revoke")
        .arg("--data")
        .arg(demo.data())
        .args([release, "--reason", REASON, "--advisory", ADVISORY])
        .env_remove("LOCARA_REGISTRY_CONFIG")
        .output()
        .expect("run locara-registry revoke")
}

/// The client's one installed app as `locara list --json` shows it.
fn listed(client: &Client, app: &str) -> Value {
    let list = client.run(&["--json", "list"]).success().json();
    list["apps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|listed| listed["app"] == app)
        .unwrap_or_else(|| panic!("{app} is not installed: {list}"))
        .clone()
}

/// Asserts `run` exited with `code` and its output (stdout and stderr) holds every one of `texts`.
#[track_caller]
fn assert_refused(run: &Run, code: i32, texts: &[&str]) {
    assert_eq!(run.code, code, "{run:#?}");
    let output = format!("{}{}", run.stdout, run.stderr);
    for text in texts {
        assert!(output.contains(text), "expected {text:?} in:\n{output}");
    }
}

#[test]
fn a_revoked_release_is_quarantined_at_sync_and_never_installed_again() {
    let notes = Example::new("notes", "1.0.0");
    let demo = Demo::start(std::slice::from_ref(&notes), &[]);
    let client = demo.client();
    client
        .run(&["install", "demo/notes", "--min-age", "0"])
        .success();
    let launcher = PathBuf::from(
        listed(&client, "demo/notes")["launcher"]
            .as_str()
            .expect("the app has a launcher"),
    );
    assert!(launcher.exists(), "{}", launcher.display());
    // A client that pinned the registry before the revocation and never synced after it.
    let never_synced = demo.client();

    let revoked = revoke(&demo, "demo/notes@1.0.0");
    assert!(
        revoked.status.success(),
        "locara-registry revoke failed: {}\nregistry log:\n{}",
        String::from_utf8_lossy(&revoked.stderr),
        demo.log_tail()
    );

    // The next sync quarantines it, says so, and removes the launcher.
    let synced = client.run(&["sync"]).success();
    assert!(
        synced.stdout.contains("QUARANTINED demo/notes 1.0.0")
            && synced.stdout.contains(REASON)
            && synced.stdout.contains(ADVISORY),
        "{synced:#?}"
    );
    assert!(!launcher.exists(), "the launcher is still there");
    let app = listed(&client, "demo/notes");
    assert_eq!(app["status"], "quarantined", "{app}");
    let reason = app["status_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains(REASON) && reason.contains(ADVISORY),
        "{app}"
    );
    assert_eq!(app["launcher"], Value::Null, "{app}");

    // It does not run, does not install again, and `verify` reports it.
    assert_refused(
        &client.run(&["run", "demo/notes"]),
        1,
        &["demo/notes 1.0.0 is quarantined and does not run", REASON],
    );
    assert_refused(
        &client.run(&["install", "demo/notes", "--min-age", "0"]),
        1,
        &["demo/notes", "revoked"],
    );
    assert_refused(&client.run(&["verify"]), 1, &["demo/notes", REASON]);
    // A second sync has nothing new to quarantine.
    let again = client.run(&["--json", "sync"]).success().json();
    assert_eq!(again["quarantined"], serde_json::json!([]), "{again}");
    assert_eq!(again["apps"][0]["outcome"], "quarantined", "{again}");

    // The client that never synced fetches the newer list when it installs, and refuses the release.
    assert_refused(
        &never_synced.run(&["install", "demo/notes", "--min-age", "0"]),
        1,
        &["demo/notes", "revoked"],
    );
    let nothing = never_synced.run(&["--json", "list"]).success().json();
    assert_eq!(nothing["apps"], serde_json::json!([]), "{nothing}");
}
