//! `locara registry …` with the real binary, against the real registry server (and, for registries that
//! misbehave, a tiny static server serving roots made with the core's own types).

mod support;

use std::fs;

use locara_cli::credentials::{ApiToken, CredentialStore};
use support::{
    Client, Registry, StaticServer, UNKNOWN_DIGEST, digest_of, far_future, key, long_ago,
    registry_tool, root_bytes,
};

fn start_registry() -> (tempfile::TempDir, Registry) {
    let data = tempfile::tempdir().unwrap();
    let registry = Registry::start(&data.path().join("data"));
    (data, registry)
}

#[test]
fn adds_a_registry_pinned_by_the_digest_its_banner_prints() {
    let (data, registry) = start_registry();
    let client = Client::new();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &registry.url,
            "--root",
            &registry.digest(),
        ])
        .success();
    assert!(run.stdout.contains("Added registry main"), "{}", run.stdout);
    assert!(run.stdout.contains(&registry.digest()), "{}", run.stdout);
    assert!(run.stdout.contains("version 1"), "{}", run.stdout);
    assert!(run.stdout.contains("expires:"), "{}", run.stdout);

    let stored = client.config().join("registries/main/root/1.root.json");
    assert_eq!(
        fs::read(&stored).unwrap(),
        fs::read(data.path().join("data/root/1.root.json")).unwrap(),
        "the root is stored exactly as served"
    );
    assert!(client.config().join("registries.json").is_file());
    #[cfg(unix)]
    assert_eq!(support::mode(&client.config()), 0o700);

    let listed = client.run(&["registry", "list", "--json"]).success().json();
    let rows = listed.as_array().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["name"], "main");
    assert_eq!(rows[0]["url"], registry.url.as_str());
    assert_eq!(rows[0]["default"], true);
    assert_eq!(rows[0]["pinned_root"], registry.digest().as_str());
    assert_eq!(rows[0]["root_version"], 1);
}

#[test]
fn add_prints_json_with_the_pinned_and_trusted_root() {
    let (_data, registry) = start_registry();
    let client = Client::new();
    let added = client
        .run(&[
            "--json",
            "registry",
            "add",
            "main",
            &registry.url,
            "--root",
            &registry.digest(),
        ])
        .success()
        .json();
    assert_eq!(added["name"], "main");
    assert_eq!(added["pinned_root"], registry.digest().as_str());
    assert_eq!(added["pinned_version"], 1);
    assert_eq!(added["root_version"], 1);
    assert_eq!(added["root_digest"], registry.digest().as_str());
    assert_eq!(added["default"], true);
    assert!(added["root_expires"].as_str().unwrap().ends_with('Z'));
}

#[test]
fn a_wrong_digest_is_refused_naming_both_digests_and_nothing_is_saved() {
    let (_data, registry) = start_registry();
    let client = Client::new();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &registry.url,
            "--root",
            UNKNOWN_DIGEST,
        ])
        .exits(1);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(
        run.stderr.contains(&format!("expected {UNKNOWN_DIGEST}")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("found {}", registry.digest())),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("nothing was saved"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
    assert!(!client.config().join("registries.json").exists());
    assert!(!client.config().join("registries/main").exists());
}

#[test]
fn plain_http_to_another_machine_is_refused_before_any_network_access() {
    let client = Client::new();
    // `.invalid` never resolves, so a client that tried to connect would fail differently (exit 1).
    for url in ["http://registry.invalid", "http://10.255.255.1:7070"] {
        let run = client
            .run(&["registry", "add", "main", url, "--root", UNKNOWN_DIGEST])
            .exits(2);
        assert!(run.stderr.contains("not this machine"), "{}", run.stderr);
        assert!(run.stderr.contains("https://"), "{}", run.stderr);
    }
    assert!(
        !client.home().exists(),
        "nothing is written for a refused URL"
    );
}

#[test]
fn names_outside_the_rules_are_usage_errors() {
    let client = Client::new();
    let long = "x".repeat(33);
    for name in ["Main", "a_b", "a.b", "", &long, "../x", "é"] {
        let run = client
            .run(&[
                "registry",
                "add",
                name,
                "https://registry.invalid",
                "--root",
                UNKNOWN_DIGEST,
            ])
            .exits(2);
        assert!(
            run.stderr.contains("lower-case letters"),
            "{name:?}: {}",
            run.stderr
        );
    }
    client.run(&["registry", "remove", "Main"]).exits(2);
    client
        .run(&["--registry", "a_b", "registry", "refresh"])
        .exits(2);
}

#[test]
fn a_duplicate_name_is_refused_and_the_first_registry_kept() {
    let (_data, registry) = start_registry();
    let (_other_data, other) = start_registry();
    let client = Client::new();
    client
        .run(&[
            "registry",
            "add",
            "main",
            &registry.url,
            "--root",
            &registry.digest(),
        ])
        .success();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &other.url,
            "--root",
            &other.digest(),
        ])
        .exits(1);
    assert!(run.stderr.contains("already configured"), "{}", run.stderr);
    assert!(
        run.stderr.contains("locara registry remove main"),
        "{}",
        run.stderr
    );
    let listed = client.run(&["registry", "list", "--json"]).success().json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["url"], registry.url.as_str());
}

#[test]
fn list_default_and_remove_round_trip_and_remove_deletes_the_token() {
    let (_data, registry) = start_registry();
    let client = Client::new();
    for name in ["one", "two"] {
        client
            .run(&[
                "registry",
                "add",
                name,
                &registry.url,
                "--root",
                &registry.digest(),
            ])
            .success();
    }
    let listed = client.run(&["registry", "list", "--json"]).success().json();
    let defaults: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            (
                row["name"].as_str().unwrap(),
                row["default"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(defaults, [("one", true), ("two", false)]);
    let table = client.run(&["registry", "list"]).success();
    assert!(
        table.stdout.lines().any(|line| line.starts_with("* one")),
        "{}",
        table.stdout
    );

    client.run(&["registry", "default", "two"]).success();
    let listed = client.run(&["registry", "list", "--json"]).success().json();
    assert_eq!(listed[1]["default"], true);
    client.run(&["registry", "default", "three"]).exits(1);

    let store = CredentialStore::new(&client.dirs());
    let one = "one".parse().unwrap();
    store
        .save(&one, &ApiToken::new("lct_secret_for_one").unwrap())
        .unwrap();
    let run = client.run(&["registry", "remove", "one"]).success();
    assert!(run.stdout.contains("API token"), "{}", run.stdout);
    assert!(!run.stdout.contains("lct_secret_for_one"));
    assert!(!store.token_file(&one).exists());
    assert!(!client.config().join("registries/one").exists());

    let listed = client.run(&["registry", "list", "--json"]).success().json();
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert_eq!(listed[0]["name"], "two");
    let run = client.run(&["registry", "remove", "one"]).exits(1);
    assert!(
        run.stderr.contains("no registry named one"),
        "{}",
        run.stderr
    );

    let removed = client
        .run(&["registry", "remove", "two", "--json"])
        .success()
        .json();
    assert_eq!(removed["removed_token"], false);
    assert_eq!(removed["default"], serde_json::Value::Null);
    let empty = client.run(&["registry", "list", "--json"]).success().json();
    assert_eq!(empty, serde_json::json!([]));
}

#[test]
fn a_stale_token_from_an_earlier_registry_of_the_same_name_is_never_reused() {
    let (_data, registry) = start_registry();
    let client = Client::new();
    let store = CredentialStore::new(&client.dirs());
    let name = "main".parse().unwrap();
    store
        .save(&name, &ApiToken::new("lct_for_another_registry").unwrap())
        .unwrap();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &registry.url,
            "--root",
            &registry.digest(),
        ])
        .success();
    assert!(
        run.stderr.contains("warning: removed a stored API token"),
        "{}",
        run.stderr
    );
    assert_eq!(store.load(&name).unwrap(), None);
}

#[test]
fn follows_a_rotation_made_with_the_registry_offline_root_tools() {
    let dir = tempfile::tempdir().unwrap();
    let offline = dir.path().join("offline");
    fs::create_dir(&offline).unwrap();
    let data = dir.path().join("data");
    let path = |name: &str| offline.join(name).to_str().unwrap().to_owned();
    let public_key = |file: &str| {
        registry_tool(&["keys", "generate", "--out", &path(file)])
            .lines()
            .find_map(|line| line.strip_prefix("public key: "))
            .unwrap()
            .to_owned()
    };
    let (old, new) = (public_key("old.key"), public_key("new.key"));
    registry_tool(&[
        "keys",
        "online",
        "--data",
        data.to_str().unwrap(),
        "--log-origin",
        "registry.test/log",
        "--out",
        &path("online.json"),
    ]);
    registry_tool(&[
        "keys",
        "root",
        "--root-public",
        &old,
        "--threshold",
        "1",
        "--online",
        &path("online.json"),
        "--sign",
        &path("old.key"),
        "--out",
        &path("1.root.json"),
    ]);
    registry_tool(&[
        "keys",
        "root",
        "--version",
        "2",
        "--root-public",
        &new,
        "--threshold",
        "1",
        "--online",
        &path("online.json"),
        "--sign",
        &path("new.key"),
        "--out",
        &path("2.root.json"),
    ]);
    registry_tool(&[
        "keys",
        "sign",
        "--root",
        &path("2.root.json"),
        "--key",
        &path("old.key"),
        "--previous",
        &path("1.root.json"),
    ]);
    fs::create_dir_all(data.join("root")).unwrap();
    for file in ["1.root.json", "2.root.json"] {
        fs::copy(path(file), data.join("root").join(file)).unwrap();
    }
    let registry = Registry::start(&data);
    let first = fs::read(path("1.root.json")).unwrap();
    assert_eq!(
        registry.digest(),
        digest_of(&first),
        "the banner names root version 1"
    );

    let client = Client::new();
    let added = client
        .run(&[
            "registry",
            "add",
            "main",
            &registry.url,
            "--root",
            &registry.digest(),
            "--json",
        ])
        .success()
        .json();
    assert_eq!(added["pinned_version"], 1);
    assert_eq!(added["root_version"], 2);
    assert_eq!(
        added["root_digest"],
        digest_of(&fs::read(path("2.root.json")).unwrap()).as_str()
    );
    let stored = client.config().join("registries/main/root");
    assert_eq!(fs::read(stored.join("1.root.json")).unwrap(), first);
    assert!(stored.join("2.root.json").is_file());

    let refreshed = client
        .run(&["registry", "refresh", "--json"])
        .success()
        .json();
    assert_eq!(refreshed["previous_version"], 2);
    assert_eq!(refreshed["root_version"], 2);
}

#[test]
fn refresh_follows_a_rotation_published_after_the_registry_was_added() {
    let (old, new) = (key(1), key(2));
    let first = root_bytes(1, &old, &[&old], far_future());
    let second = root_bytes(2, &new, &[&old, &new], far_future());
    let server = StaticServer::start();
    server.serve_roots(&[&first]);
    let client = Client::new();
    client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            &digest_of(&first),
        ])
        .success();

    let run = client.run(&["registry", "refresh"]).success();
    assert!(
        run.stdout.contains("version 1 is current"),
        "{}",
        run.stdout
    );

    server.serve_roots(&[&first, &second]);
    let run = client.run(&["registry", "refresh", "main"]).success();
    assert!(
        run.stdout.contains("followed root rotation 1 -> 2"),
        "{}",
        run.stdout
    );
    assert_eq!(
        fs::read(client.config().join("registries/main/root/2.root.json")).unwrap(),
        second
    );
    let listed = client.run(&["registry", "list", "--json"]).success().json();
    assert_eq!(listed[0]["root_version"], 2);
}

#[test]
fn a_rotation_signed_only_by_the_new_keys_is_refused_when_adding() {
    let (old, attacker) = (key(1), key(66));
    let first = root_bytes(1, &old, &[&old], far_future());
    let forged = root_bytes(2, &attacker, &[&attacker], far_future());
    let server = StaticServer::start();
    server.serve_roots(&[&first, &forged]);
    let client = Client::new();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            &digest_of(&first),
        ])
        .exits(1);
    assert!(
        run.stderr.contains("refusing root/2.root.json"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("trusted root's root keys"),
        "{}",
        run.stderr
    );
    assert!(!client.config().join("registries.json").exists());
    assert!(!client.config().join("registries/main").exists());
}

#[test]
fn a_rotation_signed_only_by_the_new_keys_is_refused_on_refresh_and_the_old_root_kept() {
    let (old, attacker) = (key(1), key(66));
    let first = root_bytes(1, &old, &[&old], far_future());
    let forged = root_bytes(2, &attacker, &[&attacker], far_future());
    let server = StaticServer::start();
    server.serve_roots(&[&first]);
    let client = Client::new();
    client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            &digest_of(&first),
        ])
        .success();
    server.serve_roots(&[&first, &forged]);
    let run = client.run(&["registry", "refresh"]).exits(1);
    assert!(
        run.stderr.contains("trusted root's root keys"),
        "{}",
        run.stderr
    );
    assert!(
        !client
            .config()
            .join("registries/main/root/2.root.json")
            .exists()
    );
    let listed = client.run(&["registry", "list", "--json"]).success().json();
    assert_eq!(listed[0]["root_version"], 1);
}

#[test]
fn a_rollback_or_skipped_version_in_the_chain_is_refused() {
    let old = key(1);
    let first = root_bytes(1, &old, &[&old], far_future());
    let third_as_second = root_bytes(3, &old, &[&old], far_future());
    let server = StaticServer::start();
    server.serve_roots(&[&first]);
    server.put("/root/2.root.json", &third_as_second);
    let client = Client::new();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            &digest_of(&first),
        ])
        .exits(1);
    assert!(run.stderr.contains("skips versions"), "{}", run.stderr);
}

#[test]
fn an_expired_intermediate_root_is_crossed_but_an_expired_last_root_is_refused() {
    let (old, new) = (key(1), key(2));
    let expired_first = root_bytes(1, &old, &[&old], long_ago());
    let second = root_bytes(2, &new, &[&old, &new], far_future());
    let server = StaticServer::start();
    server.serve_roots(&[&expired_first, &second]);
    let client = Client::new();
    let added = client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            &digest_of(&expired_first),
            "--json",
        ])
        .success()
        .json();
    assert_eq!(added["root_version"], 2);

    let lonely = StaticServer::start();
    lonely.serve_roots(&[&expired_first]);
    let run = client
        .run(&[
            "registry",
            "add",
            "old",
            &lonely.url,
            "--root",
            &digest_of(&expired_first),
        ])
        .exits(1);
    assert!(run.stderr.contains("expired"), "{}", run.stderr);
    assert!(!client.config().join("registries/old").exists());
}

#[test]
fn a_pin_of_an_older_root_is_found_below_the_latest() {
    let (old, middle, new) = (key(1), key(2), key(3));
    let first = root_bytes(1, &old, &[&old], far_future());
    let second = root_bytes(2, &middle, &[&old, &middle], far_future());
    let third = root_bytes(3, &new, &[&middle, &new], far_future());
    let server = StaticServer::start();
    server.serve_roots(&[&first, &second, &third]);
    let client = Client::new();
    let added = client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            &digest_of(&second),
            "--json",
        ])
        .success()
        .json();
    assert_eq!(added["pinned_version"], 2);
    assert_eq!(added["root_version"], 3);
    let stored = client.config().join("registries/main/root");
    assert!(
        !stored.join("1.root.json").exists(),
        "the chain starts at the pin"
    );
    assert!(stored.join("3.root.json").is_file());
}

#[test]
fn problem_details_from_the_registry_are_shown_with_title_detail_and_type() {
    let server = StaticServer::start();
    server.put_response(
        "/root.json",
        503,
        "application/problem+json",
        br#"{"type":"https://locara.dev/problems/maintenance","title":"Down for maintenance","status":503,"detail":"back at 18:00 UTC"}"#,
    );
    let client = Client::new();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            UNKNOWN_DIGEST,
        ])
        .exits(1);
    assert!(
        run.stderr
            .contains("caused by: Down for maintenance: back at 18:00 UTC (maintenance; HTTP 503"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_url_that_is_not_a_registry_is_refused_with_a_hint() {
    let server = StaticServer::start();
    let client = Client::new();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &server.url,
            "--root",
            UNKNOWN_DIGEST,
        ])
        .exits(1);
    assert!(run.stderr.contains("has no root.json"), "{}", run.stderr);
}

#[test]
fn an_unreachable_registry_fails_with_the_cause_chain() {
    // Bind and drop a listener so the port is (almost certainly) closed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let client = Client::new();
    let run = client
        .run(&[
            "registry",
            "add",
            "main",
            &format!("http://127.0.0.1:{port}"),
            "--root",
            UNKNOWN_DIGEST,
        ])
        .exits(1);
    assert!(
        run.stderr.contains("could not reach the registry"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("caused by:"), "{}", run.stderr);
}

#[test]
fn commands_that_need_a_registry_explain_how_to_add_one() {
    let client = Client::new();
    let run = client.run(&["registry", "refresh"]).exits(1);
    assert!(
        run.stderr
            .contains("locara registry add NAME URL --root DIGEST"),
        "{}",
        run.stderr
    );
    let run = client.run(&["registry", "list"]).success();
    assert!(
        run.stdout.contains("No registries configured"),
        "{}",
        run.stdout
    );
}
