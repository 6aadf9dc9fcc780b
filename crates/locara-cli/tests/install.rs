//! End to end: apps built by the real registry's builder, installed, updated and synced by the real
//! `locara` binary, and every promise of DESIGN §5–7 attacked.
//!
//! Each test runs `locara-registry serve --demo` over its own data directory: the demo seeds a `demo`
//! publisher and releases each example app through the real build worker and sandbox; a new version is
//! released by changing the example and restarting. The client reaches the registry through a proxy on
//! loopback ([`proxy::Proxy`]), which is also the attacker on the wire. Attacks that need a compromised
//! registry are written into its real database and blob store while it is stopped ([`rogue`]).
//!
//! Every refusal is asserted by exit code, by the check it names and by the values that differed, and
//! every attack is followed by what the client's state must still be: unchanged.

#![cfg(target_os = "linux")]

#[path = "support/demo.rs"]
mod demo;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/rogue.rs"]
mod rogue;
mod support;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use demo::{Demo, Example};
use locara_core::digest::Digest;
use locara_core::events::{Event, LogEntry};
use locara_core::log::Hash;
use locara_core::revocation::RevocationList;
use locara_core::root::{
    CheckpointReference, Freshness, KeyEntry, RevocationsReference, Role, RootMetadata,
    SignedMetadata,
};
use locara_core::time::Timestamp;
use rogue::Forgery;
use serde_json::{Value, json};
use support::{Client, Run, mode};

/// A policy file that lets releases be taken as soon as they are published (the default minimum
/// release age is 24 hours).
const NO_MIN_AGE: &str = "min_release_age = \"0\"\n";

/// What `demo/notes` asks for, and how the client says it in plain words.
const NOTES_CAPABILITIES: &str =
    "files = [ { path = \"~/Notes\", access = \"read\" } ]\nnetwork = [\"api.example.com:443\"]";
const NOTES_IN_WORDS: [&str; 2] = [
    "read files in ~/Notes",
    "connect to api.example.com on port 443",
];

/// `locara --json list`'s apps.
fn installed(client: &Client) -> Vec<Value> {
    client.run(&["--json", "list"]).success().json()["apps"]
        .as_array()
        .unwrap()
        .clone()
}

/// The version of `app` installed.
#[track_caller]
fn installed_version(client: &Client, app: &str) -> String {
    let apps = installed(client);
    let found = apps
        .iter()
        .find(|listed| listed["app"] == app)
        .unwrap_or_else(|| panic!("{app} is not installed: {apps:?}"));
    found["version"].as_str().unwrap().to_owned()
}

/// The names under the install store's `sha256/` (temporary `.` names left out).
fn store_entries(client: &Client) -> Vec<String> {
    let directory = client.home().join("data/store/sha256");
    let Ok(entries) = std::fs::read_dir(&directory) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| !name.starts_with('.'))
        .collect();
    names.sort();
    names
}

/// Asserts that the run failed with `code` and that its error holds every one of `needles`.
#[track_caller]
fn assert_refused(run: &Run, code: i32, needles: &[&str]) {
    assert_eq!(run.code, code, "expected exit code {code}:\n{run:#?}");
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "the error does not say {needle:?}:\n{}",
            run.stderr
        );
    }
}

/// What the client has on disk that an install would change: its installs and its store.
fn local_state(client: &Client) -> (Vec<Value>, Vec<String>) {
    (installed(client), store_entries(client))
}

/// The `signed` object of a signed metadata document.
fn decode<T: serde::de::DeserializeOwned>(bytes: &[u8]) -> T {
    SignedMetadata::from_json(bytes).unwrap().decode().unwrap()
}

/// An hour ago.
fn an_hour_ago() -> Timestamp {
    Timestamp::now().checked_sub_seconds(3600).unwrap()
}

/// In an hour.
fn in_an_hour() -> Timestamp {
    Timestamp::now().checked_add_seconds(3600).unwrap()
}

#[test]
fn a_built_release_installs_read_only_and_capabilities_need_consent() {
    let plain = Example::new("plain", "1.0.0");
    let notes = Example::new("notes", "1.0.0").with_capabilities(NOTES_CAPABILITIES);
    let demo = Demo::start(&[plain.clone(), notes], &[]);
    let listed = demo.index("plain").unwrap()["releases"][0].clone();
    let client = demo.client();

    // The default minimum release age (24 h) holds back a release published seconds ago.
    let young = client.run(&["install", "demo/plain"]);
    assert_refused(
        &young,
        1,
        &[
            "demo/plain: no release can be installed now",
            "1.0.0: younger than the minimum release age",
            "nothing was installed",
        ],
    );
    assert_eq!(local_state(&client), (Vec::new(), Vec::new()));

    let report = client
        .run(&["--json", "install", "demo/plain", "--min-age", "0"])
        .success()
        .json();
    let app = &report["apps"][0];
    assert_eq!(app["app"], "demo/plain", "{report}");
    assert_eq!(app["outcome"], "installed", "{report}");
    assert_eq!(app["version"], "1.0.0", "{report}");
    assert_eq!(app["artifact"], listed["artifact"], "{report}");
    assert_eq!(app["log_index"], listed["log_index"], "{report}");
    assert_eq!(app["capabilities"], json!([]), "{report}");

    // The store directory is named by the artifact digest, holds what the builder built, and is
    // read-only (the tests run as root, who could write anyway: the modes are what is promised).
    let apps = installed(&client);
    let path = PathBuf::from(apps[0]["path"].as_str().unwrap());
    let hex = listed["artifact"]
        .as_str()
        .unwrap()
        .strip_prefix("sha256:")
        .unwrap();
    assert!(
        path.ends_with(Path::new("data/store/sha256").join(hex)),
        "{}",
        path.display()
    );
    assert_eq!(
        std::fs::read_to_string(path.join("bin/plain")).unwrap(),
        plain.script()
    );
    assert_eq!(
        std::fs::read_to_string(path.join("locara.toml")).unwrap(),
        plain.manifest()
    );
    assert_eq!(mode(&path), 0o555);
    assert_eq!(mode(&path.join("bin")), 0o555);
    assert_eq!(mode(&path.join("bin/plain")), 0o555);
    assert_eq!(mode(&path.join("locara.toml")), 0o444);

    // The launcher runs `locara run`, which says the runtime is not there yet and where the app is.
    let launcher = PathBuf::from(app["launcher"].as_str().unwrap());
    assert_eq!(launcher, client.home().join("data/bin/plain"));
    let launched = std::process::Command::new(&launcher)
        .env("LOCARA_HOME", client.home())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let launched_error = String::from_utf8_lossy(&launched.stderr);
    assert_eq!(launched.status.code(), Some(1), "{launched_error}");
    assert!(
        launched_error.contains("locara run is not available yet"),
        "{launched_error}"
    );
    let run = client.run(&["run", "demo/plain"]);
    assert_refused(
        &run,
        1,
        &[
            "locara run is not available yet",
            &path.display().to_string(),
            "entry bin/plain",
        ],
    );
    let verified = client.run(&["--json", "verify"]).success().json();
    assert_eq!(verified["ok"], true, "{verified}");
    assert_eq!(verified["apps"][0]["problems"], json!([]), "{verified}");

    // An app that asks for capabilities is not installed without a yes, and nothing changes.
    let before = local_state(&client);
    let refused = client.run(&["install", "demo/notes", "--min-age", "0"]);
    assert_refused(
        &refused,
        2,
        &[
            "demo/notes 1.0.0 needs your consent",
            "it asks to read files in ~/Notes; connect to api.example.com on port 443",
            "pass --yes",
            "nothing was installed",
        ],
    );
    assert_eq!(local_state(&client), before);

    let granted = client
        .run(&["--json", "install", "demo/notes", "--min-age", "0", "--yes"])
        .success()
        .json();
    let app = &granted["apps"][0];
    assert_eq!(app["outcome"], "installed", "{granted}");
    assert_eq!(app["capabilities"], json!(NOTES_IN_WORDS), "{granted}");
    assert_eq!(app["grant"], "yes", "{granted}");
    let apps = installed(&client);
    assert_eq!(apps.len(), 2, "{apps:?}");
    assert_eq!(apps[0]["app"], "demo/notes");
    assert_eq!(apps[0]["capabilities"], json!(NOTES_IN_WORDS));
    client.run(&["verify"]).success();
}

#[test]
fn a_changed_store_directory_fails_verify_and_a_reinstall_restores_it() {
    let plain = Example::new("plain", "1.0.0");
    let demo = Demo::start(std::slice::from_ref(&plain), &[]);
    let client = demo.client_with_policy(NO_MIN_AGE);
    client.run(&["install", "demo/plain"]).success();
    let path = PathBuf::from(installed(&client)[0]["path"].as_str().unwrap());
    let program = path.join("bin/plain");
    // Root ignores the read-only modes; anyone else would have to change them first.
    std::fs::write(&program, "#!/bin/sh\necho something else\n").unwrap();

    let verified = client.run(&["--json", "verify"]);
    assert_eq!(verified.code, 1, "{verified:#?}");
    let report = verified.json();
    assert_eq!(report["ok"], false, "{report}");
    let problem = report["apps"][0]["problems"][0].as_str().unwrap();
    assert!(
        problem.starts_with(&format!(
            "store directory {} changed since it was installed: tree digest sha256:",
            path.display()
        )),
        "{report}"
    );

    // Installing the same version again replaces the tree with the verified bytes.
    let reinstalled = client.run(&["install", "demo/plain"]).success();
    assert!(
        reinstalled.stderr.contains(
            "its store directory changed or is missing; reinstalling it from verified bytes"
        ),
        "{reinstalled:#?}"
    );
    assert_eq!(std::fs::read_to_string(&program).unwrap(), plain.script());
    assert_eq!(mode(&program), 0o555);
    client.run(&["verify"]).success();
}

#[test]
fn a_patch_release_is_applied_by_update_and_by_sync_without_asking() {
    let plain = Example::new("plain", "1.0.0");
    let mut demo = Demo::start(std::slice::from_ref(&plain), &[]);
    let updating = demo.client_with_policy(NO_MIN_AGE);
    let syncing = demo.client_with_policy(NO_MIN_AGE);
    for client in [&updating, &syncing] {
        client.run(&["install", "demo/plain"]).success();
    }
    let patch = demo.release(&plain.at("1.0.1"));

    // No --yes, and stdin is not a terminal: nobody could answer a question.
    let updated = updating.run(&["--json", "update"]).success().json();
    let app = &updated["apps"][0];
    assert_eq!(app["outcome"], "updated", "{updated}");
    assert_eq!(app["previous_version"], "1.0.0", "{updated}");
    assert_eq!(app["version"], "1.0.1", "{updated}");
    assert_eq!(app["artifact"], patch["artifact"], "{updated}");

    let synced = syncing.run(&["--json", "sync"]).success().json();
    let app = &synced["apps"][0];
    assert_eq!(app["outcome"], "updated", "{synced}");
    assert_eq!(app["version"], "1.0.1", "{synced}");
    assert_eq!(synced["quarantined"], json!([]), "{synced}");

    for client in [&updating, &syncing] {
        assert_eq!(installed_version(client, "demo/plain"), "1.0.1");
        client.run(&["verify"]).success();
        // The old version's store entry is gone; only the new one is left.
        assert_eq!(
            store_entries(client),
            vec![
                patch["artifact"]
                    .as_str()
                    .unwrap()
                    .strip_prefix("sha256:")
                    .unwrap()
                    .to_owned()
            ]
        );
    }
}

#[test]
fn a_minor_release_waits_for_a_yes() {
    let plain = Example::new("plain", "1.0.1");
    let mut demo = Demo::start(std::slice::from_ref(&plain), &[]);
    let syncing = demo.client_with_policy(NO_MIN_AGE);
    let updating = demo.client_with_policy(NO_MIN_AGE);
    for client in [&syncing, &updating] {
        client.run(&["install", "demo/plain"]).success();
    }
    demo.release(&plain.at("1.1.0"));

    // `sync` never asks: the minor release is reported, not applied.
    let synced = syncing.run(&["--json", "sync"]).success().json();
    let app = &synced["apps"][0];
    assert_eq!(app["outcome"], "update-available", "{synced}");
    assert_eq!(app["version"], "1.1.0", "{synced}");
    assert_eq!(app["previous_version"], "1.0.1", "{synced}");
    assert!(
        app["notes"][0]
            .as_str()
            .unwrap()
            .contains("needs your yes (update level)"),
        "{synced}"
    );
    assert_eq!(installed_version(&syncing, "demo/plain"), "1.0.1");

    // `update` without a terminal and without --yes leaves it too.
    let left = updating.run(&["--json", "update"]).success().json();
    assert_eq!(left["apps"][0]["outcome"], "update-available", "{left}");
    assert_eq!(installed_version(&updating, "demo/plain"), "1.0.1");

    let updated = updating
        .run(&["--json", "update", "--yes"])
        .success()
        .json();
    let app = &updated["apps"][0];
    assert_eq!(app["outcome"], "updated", "{updated}");
    assert_eq!(app["version"], "1.1.0", "{updated}");
    assert_eq!(installed_version(&updating, "demo/plain"), "1.1.0");

    // On a terminal `update` asks; no leaves it, yes applies it.
    let mut terminal = syncing.terminal(&["update"]);
    terminal.expect("Update demo/plain 1.0.1 → 1.1.0 (minor release)?");
    terminal.expect("Continue? [y/N]");
    terminal.type_line("n");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert_eq!(installed_version(&syncing, "demo/plain"), "1.0.1");
    let mut terminal = syncing.terminal(&["update"]);
    terminal.expect("Continue? [y/N]");
    terminal.type_line("y");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("Updated demo/plain 1.0.1 → 1.1.0"),
        "{screen}"
    );
    assert_eq!(installed_version(&syncing, "demo/plain"), "1.1.0");
    syncing.run(&["verify"]).success();
}

#[test]
fn a_capability_expansion_cools_down_then_asks_again_showing_the_difference() {
    const COOL_DOWN_SECONDS: u64 = 10;
    let plain = Example::new("plain", "1.1.0");
    let mut demo = Demo::start(
        std::slice::from_ref(&plain),
        &[(
            "LOCARA_REGISTRY_COOLDOWN_SECONDS",
            &COOL_DOWN_SECONDS.to_string(),
        )],
    );
    let client = demo.client_with_policy(NO_MIN_AGE);
    let syncing = demo.client_with_policy(NO_MIN_AGE);
    for client in [&client, &syncing] {
        client.run(&["install", "demo/plain"]).success();
    }
    let expansion = plain
        .at("1.2.0")
        .with_capabilities("network = [\"api.example.com:443\"]");
    let listed = demo.release(&expansion);
    assert_eq!(listed["status"], "cooling-down", "{listed}");
    let entry = demo.get_ok(&format!("/log/entries/{}", listed["log_index"]));
    let LogEntry {
        time: published_at,
        event: Event::ReleasePublished(record),
        ..
    } = LogEntry::from_bytes(&entry).unwrap()
    else {
        panic!("not a release entry");
    };
    let cool_down_end = record.available_at;
    assert_eq!(
        Some(cool_down_end),
        published_at.checked_add_seconds(COOL_DOWN_SECONDS)
    );
    assert_eq!(
        record.expansion,
        vec!["newly asks to connect to api.example.com on port 443"]
    );

    // Before the cool-down ends not even --yes takes it; the note says until when, and why.
    let early = client
        .run(&["--json", "update", "--yes", "--min-age", "0"])
        .success()
        .json();
    assert!(
        Timestamp::now() < cool_down_end,
        "the machine is too slow for a {COOL_DOWN_SECONDS} s cool-down: {early}"
    );
    let app = &early["apps"][0];
    assert_eq!(app["outcome"], "unchanged", "{early}");
    assert_eq!(app["version"], "1.1.0", "{early}");
    assert_eq!(
        app["notes"],
        json!([format!(
            "1.2.0 not chosen: cooling down until {cool_down_end} (it asks for more than the release before it)"
        )]),
        "{early}"
    );

    // After it, without a yes (and without a terminal) the update is left, naming what is new.
    let deadline = Instant::now() + Duration::from_secs(COOL_DOWN_SECONDS + 30);
    let waiting = loop {
        let report = client.run(&["--json", "update"]).success().json();
        if report["apps"][0]["outcome"] != "unchanged" {
            break report;
        }
        assert!(Instant::now() < deadline, "still cooling down: {report}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(
        Timestamp::now() >= cool_down_end,
        "offered before the cool-down ended: {waiting}"
    );
    let app = &waiting["apps"][0];
    assert_eq!(app["outcome"], "update-available", "{waiting}");
    assert_eq!(app["version"], "1.2.0", "{waiting}");
    assert!(
        app["notes"][0].as_str().unwrap().contains(
            "demo/plain 1.2.0 asks for more than you granted (connect to api.example.com on port 443)"
        ),
        "{waiting}"
    );
    assert_eq!(installed_version(&client, "demo/plain"), "1.1.0");
    // `sync` never applies an expansion.
    let synced = syncing.run(&["--json", "sync"]).success().json();
    assert_eq!(synced["apps"][0]["outcome"], "update-available", "{synced}");
    assert_eq!(installed_version(&syncing, "demo/plain"), "1.1.0");

    // On a terminal the question shows the difference.
    let mut terminal = client.terminal(&["update"]);
    terminal.expect("Update demo/plain 1.1.0 → 1.2.0 (minor release)?");
    terminal.expect("It will be able to:");
    terminal.expect("+ connect to api.example.com on port 443");
    terminal.expect("Continue? [y/N]");
    terminal.type_line("n");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert_eq!(installed_version(&client, "demo/plain"), "1.1.0");

    let updated = client.run(&["--json", "update", "--yes"]).success().json();
    let app = &updated["apps"][0];
    assert_eq!(app["outcome"], "updated", "{updated}");
    assert_eq!(app["version"], "1.2.0", "{updated}");
    let apps = installed(&client);
    assert_eq!(apps[0]["version"], "1.2.0");
    assert_eq!(
        apps[0]["capabilities"],
        json!(["connect to api.example.com on port 443"])
    );
    assert_eq!(apps[0]["grant"], "yes");
    client.run(&["verify"]).success();
}

#[test]
fn a_flipped_byte_in_the_stored_artifact_is_refused_by_check_5() {
    let demo = Demo::start(&[Example::new("plain", "1.0.0")], &[]);
    let listed = demo.index("plain").unwrap()["releases"][0].clone();
    let artifact = listed["artifact"].as_str().unwrap();
    let blob = demo.blob_file(artifact);
    let original = std::fs::read(&blob).unwrap();
    let mut flipped = original.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x01;
    std::fs::write(&blob, &flipped).unwrap();
    let found = Digest::of_bytes(&flipped).to_string();

    let client = demo.client();
    let refused = client.run(&["install", "demo/plain", "--min-age", "0"]);
    assert_refused(
        &refused,
        1,
        &[
            "refusing to install demo/plain 1.0.0",
            "check 5 (artifact digest) failed",
            &format!("downloaded bytes hash to {found}, the release entry names {artifact}"),
            "nothing was installed",
        ],
    );
    assert_eq!(local_state(&client), (Vec::new(), Vec::new()));

    // The same install with the registry's bytes intact goes through: the byte was the only problem.
    std::fs::write(&blob, &original).unwrap();
    client
        .run(&["install", "demo/plain", "--min-age", "0"])
        .success();
}

#[test]
fn a_compromised_builder_is_refused_by_checks_4_and_7() {
    let forgeries = [
        (
            Example::new("unknown-key", "1.0.0"),
            Forgery::UnknownBuilderKey,
        ),
        (Example::new("other-commit", "1.0.0"), Forgery::OtherCommit),
        (Example::new("smuggler", "1.0.0"), Forgery::ManifestDiffers),
    ];
    let examples: Vec<Example> = forgeries
        .iter()
        .map(|(example, _)| example.clone())
        .collect();
    let mut demo = Demo::start(&examples, &[]);
    let builder_key = demo.key("builder").key_id().to_string();
    demo.stop();
    let forged: Vec<rogue::Forged> = forgeries
        .iter()
        .map(|(example, forgery)| {
            rogue::record_forged_release(&demo, &example.at("1.0.1"), *forgery)
        })
        .collect();
    demo.start_server();
    for (example, _) in &forgeries {
        demo.wait_listed(&example.at("1.0.1"));
    }
    let client = demo.client();

    let unknown_key = client.run(&["install", "demo/unknown-key", "--min-age", "0"]);
    assert_refused(
        &unknown_key,
        1,
        &[
            "refusing to install demo/unknown-key 1.0.1",
            "check 4 (provenance) failed: provenance is not signed by the root's builder keys",
            &format!("unknown key ids (ignored): {}", forged[0].provenance_signer),
            &format!("trusted keys: {builder_key}"),
            "nothing was installed",
        ],
    );

    let wrong_commit = client.run(&["install", "demo/other-commit", "--min-age", "0"]);
    assert_refused(
        &wrong_commit,
        1,
        &[
            "refusing to install demo/other-commit 1.0.1",
            &format!(
                "check 4 (provenance) failed: provenance says the artifact was built from commit {}, expected {}",
                forged[1].previous_commit, forged[1].commit
            ),
            "nothing was installed",
        ],
    );

    let smuggler = client.run(&["install", "demo/smuggler", "--min-age", "0", "--yes"]);
    assert_refused(
        &smuggler,
        1,
        &[
            "refusing to install demo/smuggler 1.0.1",
            &format!(
                "check 7 (manifest) failed: locara.toml inside the artifact has digest {}, the release entry names {}",
                forged[2].artifact_manifest_digest, forged[2].manifest_digest
            ),
            "nothing was installed",
        ],
    );
    assert_eq!(local_state(&client), (Vec::new(), Vec::new()));

    // The releases the real builder made still install: the forged ones were the only problem.
    client
        .run(&[
            "install",
            "--min-age",
            "0",
            "demo/unknown-key@1.0.0",
            "demo/other-commit@1.0.0",
            "demo/smuggler@1.0.0",
        ])
        .success();
    client.run(&["verify"]).success();
}

#[test]
fn a_release_entry_rewritten_in_transit_is_refused_by_check_2() {
    let demo = Demo::start(&[Example::new("plain", "1.0.0")], &[]);
    let listed = demo.index("plain").unwrap()["releases"][0].clone();
    let index = listed["log_index"].as_u64().unwrap();
    let artifact = listed["artifact"].as_str().unwrap();
    let entry = String::from_utf8(demo.get_ok(&format!("/log/entries/{index}"))).unwrap();
    assert!(entry.contains(artifact), "{entry}");
    // The attacker on the wire shows the same release pointing at bytes of its own: an entry the log does
    // not hold. First without serving those bytes: the client must refuse the entry before it asks for
    // anything the entry names (a download first would end in a 404 that names no check).
    let mut substitute = demo.get_ok(&format!("/blobs/sha256/{}", &artifact[7..]));
    let last = substitute.len() - 1;
    substitute[last] ^= 0x01;
    let substitute_digest = Digest::of_bytes(&substitute).to_string();
    demo.proxy.replace(
        &format!("/log/entries/{index}"),
        entry.replace(artifact, &substitute_digest).as_bytes(),
    );
    let client = demo.client();
    let refused = client.run(&["install", "demo/plain", "--min-age", "0"]);
    assert_refused(
        &refused,
        1,
        &[&format!(
            "check 2 (inclusion) failed: release entry {index} is not included under the checkpoint"
        )],
    );
    // Then serving them too.
    demo.proxy.replace(
        &format!("/blobs/sha256/{}", &substitute_digest[7..]),
        &substitute,
    );

    let refused = client.run(&["install", "demo/plain", "--min-age", "0"]);
    assert_refused(
        &refused,
        1,
        &[
            "refusing to install demo/plain 1.0.0",
            &format!(
                "check 2 (inclusion) failed: release entry {index} is not included under the checkpoint"
            ),
            "nothing was installed",
        ],
    );
    assert_eq!(local_state(&client), (Vec::new(), Vec::new()));

    // With the log's own entry the same install goes through.
    demo.proxy.restore_all();
    client
        .run(&["install", "demo/plain", "--min-age", "0"])
        .success();
}

/// `timestamp.json`, the checkpoint and the revocation list as the server serves them now.
fn freshness_documents(demo: &Demo) -> [(String, Vec<u8>); 3] {
    ["/timestamp.json", "/log/checkpoint", "/revocations.json"]
        .map(|path| (path.to_owned(), demo.get_ok(path)))
}

#[test]
fn a_rolled_back_or_forked_log_is_refused_by_check_1() {
    let plain = Example::new("plain", "1.0.0");
    let mut demo = Demo::start(std::slice::from_ref(&plain), &[]);
    let client = demo.client_with_policy(NO_MIN_AGE);
    client.run(&["install", "demo/plain"]).success();
    let earlier = freshness_documents(&demo);

    // The log grows, and the client sees it.
    demo.release(&plain.at("1.0.1"));
    let synced = client.run(&["--json", "sync"]).success().json();
    let seen_size = synced["registries"][0]["checkpoint_size"].as_u64().unwrap();
    let seen_checkpoint = String::from_utf8(demo.get_ok("/log/checkpoint")).unwrap();
    assert_eq!(
        seen_checkpoint.lines().nth(1),
        Some(seen_size.to_string().as_str())
    );
    let seen_root = Hash::from_base64(seen_checkpoint.lines().nth(2).unwrap())
        .unwrap()
        .to_hex();
    assert_eq!(installed_version(&client, "demo/plain"), "1.0.1");
    let before = local_state(&client);

    // A mirror (or the registry) serves the earlier view again, every document validly signed.
    for (path, body) in &earlier {
        demo.proxy.replace(path, body);
    }
    let earlier_timestamp: Freshness = decode(&earlier[0].1);
    let rolled_back = client.run(&["sync"]);
    assert_refused(
        &rolled_back,
        1,
        &[
            &format!(
                "check 1 (checkpoint) failed: timestamp.json: timestamp metadata version {} is older than version",
                earlier_timestamp.version
            ),
            "seen before; refusing a rollback",
            "nothing was changed",
        ],
    );
    let install = client.run(&["install", "demo/plain@1.0.0"]);
    assert_refused(
        &install,
        1,
        &["check 1 (checkpoint) failed", "refusing a rollback"],
    );
    assert_eq!(local_state(&client), before);

    // Even a fresh timestamp.json, signed with the registry's real timestamp key, cannot name the smaller
    // checkpoint again.
    let [(_, timestamp), _, (_, revocations)] = freshness_documents(&demo);
    let current: Freshness = decode(&timestamp);
    let re_signed = Freshness::new(
        current.version + 1,
        in_an_hour(),
        earlier_timestamp.checkpoint,
        current.revocations,
    )
    .sign(&[&demo.key("timestamp")])
    .unwrap();
    demo.proxy.replace("/timestamp.json", &re_signed);
    demo.proxy.replace("/revocations.json", &revocations);
    let rolled_back = client.run(&["sync"]);
    assert_refused(
        &rolled_back,
        1,
        &[
            "check 1 (checkpoint) failed",
            &format!(
                "timestamp.json names a checkpoint of size {}, smaller than size {seen_size} seen before; refusing a rollback",
                earlier_timestamp.checkpoint.size
            ),
        ],
    );
    assert_eq!(local_state(&client), before);
    demo.proxy.restore_all();

    // A second registry with the same keys and origin, whose log shares all but the last entry the client
    // saw and then has a history of its own, one entry longer.
    let fork_data = demo.scratch("fork");
    rogue::prepare_fork(&demo, &fork_data, seen_size - 1, 2);
    let fork = demo::Server::start(&fork_data, &[], &[], &demo.scratch("fork-log").join("log"));
    assert_eq!(fork.root_digest, demo.root_digest(), "the same root");
    demo.proxy.set_upstream(&fork.url);
    let forked = client.run(&["sync"]);
    assert_refused(
        &forked,
        1,
        &[
            &format!(
                "check 1 (checkpoint) failed: checkpoint (size {}, root ",
                seen_size + 1
            ),
            &format!(
                "is not consistent with the one seen before (size {seen_size}, root {seen_root}); the log forked"
            ),
        ],
    );
    assert_eq!(local_state(&client), before);

    // Back on the real registry the client's state is as it was: nothing of the fork was kept.
    demo.proxy.set_upstream(demo.server_url());
    drop(fork);
    client.run(&["sync"]).success();
    client.run(&["verify"]).success();
}

#[test]
fn expired_freshness_documents_are_refused() {
    let demo = Demo::start(&[Example::new("plain", "1.0.0")], &[]);
    let client = demo.client_with_policy(NO_MIN_AGE);
    client.run(&["install", "demo/plain"]).success();
    let before = local_state(&client);
    let [(_, timestamp), (_, checkpoint), (_, revocations)] = freshness_documents(&demo);
    let current: Freshness = decode(&timestamp);
    let timestamp_key = demo.key("timestamp");

    // timestamp.json, signed with the registry's real timestamp key and newer than any seen, but expired.
    let expired = Freshness::new(
        current.version + 1,
        an_hour_ago(),
        current.checkpoint,
        current.revocations,
    )
    .sign(&[&timestamp_key])
    .unwrap();
    demo.proxy.replace("/timestamp.json", &expired);
    let newcomer = demo.client();
    for (client, args) in [
        (&client, &["sync"][..]),
        (&newcomer, &["install", "demo/plain", "--min-age", "0"][..]),
    ] {
        let refused = client.run(args);
        assert_refused(
            &refused,
            1,
            &[
                "check 1 (checkpoint) failed",
                &format!(
                    "timestamp metadata version {} expired at",
                    current.version + 1
                ),
                "nothing was changed",
            ],
        );
    }
    assert_eq!(local_state(&client), before);
    assert_eq!(local_state(&newcomer), (Vec::new(), Vec::new()));

    // The revocation list, signed with the real security key, newer, named by a fresh timestamp.json,
    // but expired.
    let list: RevocationList = decode(&revocations);
    let expired_list = RevocationList::new(list.version + 1, an_hour_ago(), list.entries)
        .sign(&[&demo.key("security")])
        .unwrap();
    let naming_it = Freshness::new(
        current.version + 1,
        in_an_hour(),
        CheckpointReference {
            size: current.checkpoint.size,
            digest: Digest::of_bytes(&checkpoint),
        },
        RevocationsReference {
            version: list.version + 1,
            digest: Digest::of_bytes(&expired_list),
        },
    )
    .sign(&[&timestamp_key])
    .unwrap();
    demo.proxy.replace("/timestamp.json", &naming_it);
    demo.proxy.replace("/revocations.json", &expired_list);
    let refused = client.run(&["sync"]);
    assert_refused(
        &refused,
        1,
        &[
            "check 6 (revocation) failed",
            &format!(
                "revocation list: revocations metadata version {} expired at",
                list.version + 1
            ),
        ],
    );
    assert_eq!(local_state(&client), before);

    demo.proxy.restore_all();
    client.run(&["sync"]).success();
}

#[test]
fn a_root_rotation_without_the_old_root_keys_is_refused() {
    let demo = Demo::start(&[Example::new("plain", "1.0.0")], &[]);
    let client = demo.client();
    let first = std::fs::read(demo.data().join("root/1.root.json")).unwrap();
    let mut rotated: RootMetadata = decode(&first);
    let usurper = locara_core::keys::SigningKey::generate().unwrap();
    rotated.version = 2;
    rotated
        .keys
        .insert(*usurper.key_id(), KeyEntry::for_key(usurper.public_key()));
    rotated.roles.get_mut(&Role::Root).unwrap().keyids = vec![*usurper.key_id()];
    let rotated = rotated.sign(&[&usurper]).unwrap();
    demo.proxy.replace("/root/2.root.json", &rotated);

    let refused = client.run(&["install", "demo/plain", "--min-age", "0"]);
    assert_refused(
        &refused,
        1,
        &[
            "refusing root/2.root.json",
            "root.json version 2 has valid signatures from 0 of the trusted root's root keys, 1 needed",
            &demo.key("root").key_id().to_string(),
        ],
    );
    assert_eq!(local_state(&client), (Vec::new(), Vec::new()));
    let stored = client.config().join("registries/main/root");
    assert!(!stored.join("2.root.json").exists());

    demo.proxy.restore_all();
    client
        .run(&["install", "demo/plain", "--min-age", "0"])
        .success();
}

#[test]
fn a_yanked_release_is_not_chosen_but_installs_from_a_lockfile() {
    let plain = Example::new("plain", "1.0.0");
    let mut demo = Demo::start(std::slice::from_ref(&plain), &[]);
    let first = demo.index("plain").unwrap()["releases"][0].clone();
    let patch = plain.at("1.0.1");
    let locked = demo.release(&patch);
    let (locked_index, locked_artifact) = (
        locked["log_index"].as_u64().unwrap(),
        locked["artifact"].as_str().unwrap(),
    );
    let machine_a = demo.client_with_policy(NO_MIN_AGE);
    machine_a.run(&["install", "demo/plain"]).success();
    let lockfile = demo.scratch("project").join("locara.lock");
    machine_a
        .run(&["lock", "--lockfile", lockfile.to_str().unwrap()])
        .success();
    let on_a = installed(&machine_a)[0].clone();
    assert_eq!(on_a["version"], "1.0.1");

    demo.stop();
    rogue::yank(&demo, &patch, "a bad build");
    demo.start_server();
    assert_eq!(demo.wait_listed(&patch)["status"], "yanked");

    // A new install does not choose the yanked release, and says why.
    let machine_c = demo.client_with_policy(NO_MIN_AGE);
    let report = machine_c
        .run(&["--json", "install", "demo/plain"])
        .success()
        .json();
    assert_eq!(report["apps"][0]["version"], "1.0.0", "{report}");
    assert_eq!(
        report["apps"][0]["notes"],
        json!(["1.0.1 not chosen: yanked by its publisher"]),
        "{report}"
    );

    // The lockfile still installs it: the same artifact, unpacked to the same tree, as on machine A.
    let machine_b = demo.client_with_policy(NO_MIN_AGE);
    let report = machine_b
        .run(&[
            "--json",
            "install",
            "--locked",
            "--lockfile",
            lockfile.to_str().unwrap(),
        ])
        .success()
        .json();
    assert_eq!(report["apps"][0]["version"], "1.0.1", "{report}");
    assert_eq!(report["apps"][0]["artifact"], locked_artifact, "{report}");
    let on_b = installed(&machine_b)[0].clone();
    assert_eq!(
        Path::new(on_b["path"].as_str().unwrap()).file_name(),
        Path::new(on_a["path"].as_str().unwrap()).file_name()
    );
    machine_b.run(&["verify"]).success();

    // A lockfile whose artifact digest is not the registry's installs nothing.
    let text = std::fs::read_to_string(&lockfile).unwrap();
    let other_artifact = first["artifact"].as_str().unwrap();
    assert!(text.contains(locked_artifact), "{text}");
    let tampered = demo.scratch("tampered").join("locara.lock");
    std::fs::write(&tampered, text.replace(locked_artifact, other_artifact)).unwrap();
    let machine_d = demo.client_with_policy(NO_MIN_AGE);
    let refused = machine_d.run(&[
        "install",
        "--locked",
        "--lockfile",
        tampered.to_str().unwrap(),
    ]);
    assert_refused(
        &refused,
        1,
        &[
            &format!(
                "demo/plain 1.0.1 in the registry is log entry {locked_index} with artifact {locked_artifact}"
            ),
            &format!("but the lockfile names log entry {locked_index}, artifact {other_artifact}"),
            "nothing was installed",
        ],
    );
    assert_eq!(local_state(&machine_d), (Vec::new(), Vec::new()));
}

/// A small deterministic generator for kill times (xorshift64*), seeded from the clock and printed on
/// failure.
struct Dice(u64);

impl Dice {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % bound.max(1)
    }
}

#[test]
fn an_update_killed_at_any_moment_leaves_the_old_or_the_new_version_whole() {
    let bulky = Example::new("bulky", "1.0.0").with_payload(8_000_000);
    let mut demo = Demo::start(std::slice::from_ref(&bulky), &[]);
    let old = demo.index("bulky").unwrap()["releases"][0].clone();
    let new = demo.release(&bulky.at("1.0.1"));
    let client = demo.client_with_policy(NO_MIN_AGE);
    client.run(&["install", "demo/bulky@1.0.0"]).success();

    // How long one whole update takes, to kill inside it.
    let started = Instant::now();
    client.run(&["install", "demo/bulky"]).success();
    let whole = started.elapsed().as_millis() as u64;
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64
        | 1;
    let mut dice = Dice(seed);
    for round in 0..10 {
        if installed_version(&client, "demo/bulky") != "1.0.0" {
            client.run(&["install", "demo/bulky@1.0.0"]).success();
        }
        // Fetching and checking take the first part of a run; unpacking, the state commit and the clean-up
        // come at its end, so most kills land in the later part.
        let kill_after = whole / 3 + dice.below(whole);
        let mut child = client
            .command(&["install", "demo/bulky"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(kill_after));
        let _ = child.kill();
        let _ = child.wait();

        let context = format!("round {round}, killed after {kill_after} ms (seed {seed})");
        let apps = installed(&client);
        assert_eq!(apps.len(), 1, "{context}: {apps:?}");
        let app = &apps[0];
        let expected = match app["version"].as_str().unwrap() {
            "1.0.0" => &old,
            "1.0.1" => &new,
            other => panic!("{context}: version {other}"),
        };
        assert_eq!(app["status"], "active", "{context}: {app}");
        let path = PathBuf::from(app["path"].as_str().unwrap());
        let hex = &expected["artifact"].as_str().unwrap()[7..];
        assert!(path.ends_with(hex), "{context}: {}", path.display());
        assert!(path.join("share/data").is_file(), "{context}");
        assert!(client.home().join("data/bin/bulky").is_file(), "{context}");
        let verified = client.run(&["verify"]);
        assert_eq!(verified.code, 0, "{context}: {verified:#?}");
    }
    // Whatever the kills left behind, the next update completes and verifies.
    client.run(&["install", "demo/bulky"]).success();
    assert_eq!(installed_version(&client, "demo/bulky"), "1.0.1");
    client.run(&["verify"]).success();
}

/// Progress bars are drawn on a terminal, and never with `--json` or `--quiet`; several apps download in
/// one command.
#[test]
fn downloads_show_progress_only_on_a_terminal_without_json_or_quiet() {
    let big = Example::new("big", "1.0.0").with_payload(3_000_000);
    let small = Example::new("small", "1.0.0");
    let demo = Demo::start(&[big, small], &[]);
    let bar = "=====";

    let shown = demo.client_with_policy(NO_MIN_AGE);
    let terminal = shown.terminal(&["install", "demo/big", "demo/small"]);
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(screen.contains("demo/big 1.0.0"), "{screen}");
    assert!(
        screen.contains(bar),
        "no progress bar on a terminal: {screen}"
    );
    assert!(screen.contains("Installed demo/small 1.0.0"), "{screen}");

    for flag in ["--json", "--quiet"] {
        let hidden = demo.client_with_policy(NO_MIN_AGE);
        let terminal = hidden.terminal(&[flag, "install", "demo/big", "demo/small"]);
        let (code, screen) = terminal.finish();
        assert_eq!(code, 0, "{flag}: {screen}");
        assert!(
            !screen.contains(bar),
            "{flag}: a progress bar was drawn: {screen}"
        );
        assert_eq!(installed(&hidden).len(), 2, "{flag}");
    }

    // Not a terminal: no bar either (stderr is a pipe).
    let piped = demo.client_with_policy(NO_MIN_AGE);
    let run = piped.run(&["install", "demo/big", "demo/small"]).success();
    assert!(!run.stderr.contains(bar), "{}", run.stderr);
    assert!(!run.stdout.contains(bar), "{}", run.stdout);
}

/// Declining the question on a terminal installs nothing; an allow rule of the policy file that covers
/// every capability answers it without a terminal, and one that covers only part of them does not.
#[test]
fn consent_is_declined_on_a_terminal_or_given_by_a_covering_policy_rule() {
    let notes = Example::new("notes", "1.0.0").with_capabilities(NOTES_CAPABILITIES);
    let demo = Demo::start(&[notes], &[]);

    let declining = demo.client_with_policy(NO_MIN_AGE);
    let mut terminal = declining.terminal(&["install", "demo/notes"]);
    terminal.expect("Install demo/notes 1.0.0?");
    for line in NOTES_IN_WORDS {
        terminal.expect(line);
    }
    terminal.expect("Continue? [y/N]");
    terminal.type_line("n");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(
        screen.contains("you declined demo/notes 1.0.0; nothing was installed"),
        "{screen}"
    );
    assert_eq!(local_state(&declining), (Vec::new(), Vec::new()));

    let partial = format!(
        "{NO_MIN_AGE}[[allow]]\napps = \"demo/*\"\nfiles = [ {{ path = \"~/Notes\", access = \"read\" }} ]\n"
    );
    let partly = demo.client_with_policy(&partial);
    assert_refused(
        &partly.run(&["install", "demo/notes"]),
        2,
        &[
            "needs your consent",
            "connect to api.example.com on port 443",
        ],
    );
    assert_eq!(local_state(&partly), (Vec::new(), Vec::new()));

    let covering = format!(
        "{partial}\n[[allow]]\napps = \"demo/notes\"\nnetwork = [\"api.example.com:443\"]\n"
    );
    let allowed = demo.client_with_policy(&covering);
    allowed.run(&["install", "demo/notes"]).success();
    let app = installed(&allowed)[0].clone();
    assert_eq!(app["grant"], "policy", "{app}");
    assert_eq!(
        app["capabilities"],
        serde_json::json!(NOTES_IN_WORDS),
        "{app}"
    );
}

/// A deprecated release still installs, with its message as a warning, and `list` shows the message.
#[test]
fn a_deprecated_release_installs_with_a_warning_and_list_shows_it() {
    let plain = Example::new("plain", "1.0.0");
    let mut demo = Demo::start(std::slice::from_ref(&plain), &[]);
    demo.stop();
    rogue::deprecate(&demo, &plain, "use demo/other instead");
    demo.start_server();
    assert_eq!(demo.wait_listed(&plain)["status"], "deprecated");

    let client = demo.client_with_policy(NO_MIN_AGE);
    let run = client.run(&["install", "demo/plain"]).success();
    assert!(
        run.stderr
            .contains("demo/plain 1.0.0 is deprecated: use demo/other instead"),
        "{}",
        run.stderr
    );
    let app = installed(&client)[0].clone();
    assert_eq!(app["deprecated"], "use demo/other instead", "{app}");
    let listed = client.run(&["list"]).success();
    assert!(
        listed
            .stdout
            .contains("demo/plain is deprecated: use demo/other instead"),
        "{}",
        listed.stdout
    );
}
