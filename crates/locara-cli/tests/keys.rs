//! `locara keys …` with the real binary.

mod support;

use std::fs;

use locara_core::keys::SigningKey;
use support::Client;

#[test]
fn generate_creates_a_private_key_file_and_prints_its_public_half() {
    let client = Client::new();
    let run = client.run(&["keys", "generate"]).success();
    let path = client.config().join("keys/default.key");
    let key = SigningKey::load(&path).expect("a key file the core can load");
    assert!(
        run.stdout.contains(&key.key_id().to_string()),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&key.public_key().to_string()),
        "{}",
        run.stdout
    );
    let text = fs::read_to_string(&path).unwrap();
    let seed = serde_json::from_str::<serde_json::Value>(&text).unwrap()["seed"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(!run.stdout.contains(&seed) && !run.stderr.contains(&seed));
    #[cfg(unix)]
    {
        assert_eq!(support::mode(&path), 0o600);
        assert_eq!(support::mode(&client.config().join("keys")), 0o700);
        assert_eq!(support::mode(&client.config()), 0o700);
    }
}

#[test]
fn generate_never_overwrites_a_key() {
    let client = Client::new();
    client.run(&["keys", "generate"]).success();
    let path = client.config().join("keys/default.key");
    let before = fs::read(&path).unwrap();
    let run = client.run(&["keys", "generate"]).exits(1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    assert!(run.stderr.contains("--name"), "{}", run.stderr);
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn generate_with_a_name_and_json_output() {
    let client = Client::new();
    let generated = client
        .run(&["keys", "generate", "--name", "ci-2", "--json"])
        .success()
        .json();
    assert_eq!(generated["name"], "ci-2");
    let key = SigningKey::load(&client.config().join("keys/ci-2.key")).unwrap();
    assert_eq!(generated["key_id"], key.key_id().to_string().as_str());
    assert_eq!(
        generated["public_key"],
        key.public_key().to_string().as_str()
    );
    assert!(generated["path"].as_str().unwrap().ends_with("ci-2.key"));
}

#[test]
fn key_names_outside_the_rules_are_usage_errors() {
    let client = Client::new();
    for name in ["../escape", "Key", "a/b", ""] {
        client.run(&["keys", "generate", "--name", name]).exits(2);
    }
    assert!(!client.home().exists());
}

#[test]
fn list_local_shows_every_key_and_flags_a_file_others_can_read() {
    let client = Client::new();
    let listed = client
        .run(&["keys", "list", "--local", "--json"])
        .success()
        .json();
    assert_eq!(listed, serde_json::json!([]));
    client.run(&["keys", "generate"]).success();
    client
        .run(&["keys", "generate", "--name", "second"])
        .success();
    let listed = client
        .run(&["keys", "list", "--local", "--json"])
        .success()
        .json();
    let names: Vec<_> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|key| key["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "second"]);
    assert_eq!(listed[0]["key_id"].as_str().unwrap().len(), 64);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let path = client.config().join("keys/second.key");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).unwrap();
        let run = client.run(&["keys", "list", "--local", "--json"]).exits(1);
        let listed: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert!(
            listed[1]["error"].as_str().unwrap().contains("chmod 600"),
            "{listed}"
        );
        assert!(run.stderr.contains("could not be read"), "{}", run.stderr);
    }
}

#[test]
fn listing_keys_needs_local_or_a_publisher() {
    let run = Client::new().run(&["keys", "list"]).exits(2);
    assert!(run.stderr.contains("--local"), "{}", run.stderr);
    assert!(run.stderr.contains("--publisher"), "{}", run.stderr);
}
