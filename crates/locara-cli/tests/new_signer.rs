//! End to end: event-stream through the side door. The hostile maintainer is never handed the app: an
//! owner adds them to the organisation (as an owner, since only owners register keys), they register a key
//! of their own and publish a patch that asks for
//! nothing new. That release must cool down like a capability expansion, and clients must not apply it
//! unattended; the question names the new signer and when they were added (ADR 0094).
//!
//! Real parts throughout: the registry with its build worker and sandbox, a DNS server for the
//! organisation's verification, three real `locara` clients (the owner, the new maintainer, a user).

#![cfg(target_os = "linux")]

mod support;

use std::time::{Duration, Instant};

use serde_json::Value;
use support::{AppRepository, Client, Publishing, sign_up_with_two_factor};

/// The organisation's domain on the test DNS server.
const ACME_DOMAIN: &str = "acme.example.test";

/// `acme/journal` at `version`: an executable entry, no capabilities.
fn manifest(version: &str) -> String {
    format!(
        r#"[app]
name = "acme/journal"
version = "{version}"
description = "A journal, kept locally"
license = "MIT"
source = "https://git.example/acme/journal"

[build]
command = ["sh", "-c", "mkdir -p out && printf '#!/bin/sh\\necho journal\\n' > out/journal && chmod +x out/journal"]
outputs = {{ "bin/journal" = "out/journal" }}
entry = "bin/journal"
"#
    )
}

/// The version of `acme/journal` the user has installed.
fn installed_version(client: &Client) -> String {
    let list = client.run(&["--json", "list"]).success().json();
    list["apps"][0]["version"].as_str().unwrap().to_owned()
}

/// `acme/journal`'s release `version` as `locara info --json` shows it.
fn release(client: &Client, version: &str) -> Value {
    let info = client
        .run(&["--json", "info", "acme/journal"])
        .success()
        .json();
    info["releases"]
        .as_array()
        .unwrap()
        .iter()
        .find(|release| release["version"] == version)
        .cloned()
        .unwrap_or_else(|| panic!("no release {version}: {info}"))
}

#[test]
fn a_release_by_a_newly_added_member_cools_down_and_is_never_applied_unattended() {
    let mut publishing = Publishing::start_with(&[
        ("LOCARA_REGISTRY_BUILD_WORKERS", "1"),
        ("LOCARA_REGISTRY_COOLDOWN_SECONDS", "20"),
    ]);
    let alice = &publishing.world.client;

    // The owner's organisation, verified by DNS, with its own key and app, and a first release.
    let code = publishing.authenticator.code();
    alice
        .run(&["publisher", "create", "acme", "--otp", &code])
        .success();
    let challenge = alice
        .run(&[
            "--json",
            "publisher",
            "verify",
            "acme",
            "--dns",
            ACME_DOMAIN,
        ])
        .success()
        .json();
    publishing.set_txt(
        "_locara-challenge.acme.example.test",
        challenge["record_value"].as_str().unwrap(),
    );
    let code = publishing.authenticator.code();
    alice
        .run(&[
            "publisher",
            "verify",
            "acme",
            "--dns",
            ACME_DOMAIN,
            "--check",
            "--otp",
            &code,
        ])
        .success();
    alice.run(&["keys", "generate", "--name", "acme"]).success();
    let code = publishing.authenticator.code();
    alice
        .run(&[
            "keys",
            "register",
            "--name",
            "acme",
            "--publisher",
            "acme",
            "--otp",
            &code,
        ])
        .success();
    let repository = AppRepository::new(&manifest("1.0.0"));
    alice
        .run(&[
            "app",
            "register",
            "acme/journal",
            "--repository",
            &repository.file_url(),
            "--otp",
            &publishing.authenticator.code(),
        ])
        .success();
    let publish = |client: &Client, key: &str, code: &str| {
        client
            .run(&[
                "publish",
                "--path",
                repository.path(),
                "--repository",
                &repository.file_url(),
                "--key",
                key,
                "--otp",
                code,
                "--wait",
            ])
            .success()
    };
    let code = publishing.authenticator.code();
    publish(alice, "acme", &code);

    // A user installs it.
    let user = publishing.world.another_client();
    user.run(&["install", "acme/journal", "--min-age", "0"])
        .success();
    assert_eq!(installed_version(&user), "1.0.0");

    // The owner adds a second owner, who registers a key of their own and publishes a patch that asks
    // for nothing new.
    let mallory = publishing.world.another_client();
    let mut mallorys_authenticator = sign_up_with_two_factor(&mallory, "mallory");
    let code = publishing.authenticator.code();
    alice
        .run(&[
            "publisher",
            "member",
            "add",
            "acme",
            "mallory",
            "--role",
            "owner",
            "--otp",
            &code,
        ])
        .success();
    mallory.run(&["keys", "generate"]).success();
    let code = mallorys_authenticator.code();
    mallory
        .run(&["keys", "register", "--publisher", "acme", "--otp", &code])
        .success();
    repository.commit_file("locara.toml", &manifest("1.0.1"), "1.0.1");
    let code = mallorys_authenticator.code();
    publish(&mallory, "default", &code);

    // The registry recorded who is new, and made the release cool down.
    let patch = release(&user, "1.0.1");
    assert_eq!(patch["state"], "cooling-down", "{patch}");
    assert_eq!(patch["expansion"], serde_json::json!([]), "{patch}");
    let entry_url = format!(
        "{}/log/entries/{}",
        publishing.world.registry.url, patch["log_index"]
    );
    let entry: Value = publishing.runtime().block_on(async {
        reqwest::get(&entry_url)
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    });
    let signer = &entry["new_signer"];
    assert_eq!(signer["new_key"], true, "{entry}");
    assert_eq!(signer["key_registered_by"], "mallory", "{entry}");
    assert_eq!(signer["new_members"][0]["username"], "mallory", "{entry}");

    // While it cools down, nothing picks it, even with no minimum release age.
    user.run(&["sync", "--min-age", "0"]).success();
    assert_eq!(installed_version(&user), "1.0.0");

    // Once the cool-down is over it is available, and still not applied unattended.
    let deadline = Instant::now() + Duration::from_secs(60);
    while release(&user, "1.0.1")["state"] != "available" {
        assert!(Instant::now() < deadline, "the cool-down did not end");
        std::thread::sleep(Duration::from_millis(500));
    }
    let added_at = signer["new_members"][0]["added_at"].as_str().unwrap();
    let named = |run: &support::Run| {
        let said = format!("{}{}", run.stdout, run.stderr);
        for needle in [
            "which never signed a release of this app",
            "registered by mallory",
            &format!("mallory was added to the publisher at {added_at}"),
        ] {
            assert!(said.contains(needle), "{needle:?} is not said:\n{said}");
        }
    };
    let synced = user.run(&["sync", "--min-age", "0"]);
    named(&synced);
    assert_eq!(installed_version(&user), "1.0.0");
    let updated = user.run(&["update", "--min-age", "0"]);
    named(&updated);
    assert_eq!(installed_version(&user), "1.0.0");

    // A person who looked says yes.
    user.run(&["update", "--min-age", "0", "--yes"]).success();
    assert_eq!(installed_version(&user), "1.0.1");
}
