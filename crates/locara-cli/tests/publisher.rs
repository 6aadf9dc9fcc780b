//! `locara publisher …`, `locara keys register|list|revoke` and `locara app register` with the real binary
//! against the real registry, with a real authoritative DNS server for DNS verification.

mod support;

use locara_core::keys::SigningKey;
use locara_testkit::dns::DnsServer;
use support::{Client, PASSWORD, World};

#[test]
fn publishers_are_created_and_shown_with_their_verification() {
    let world = World::start();
    let client = &world.client;
    let mut authenticator = world.sign_up_with_two_factor("alice");

    // A fresh code is needed: a stolen token alone cannot create publishers.
    let run = client.run(&["publisher", "create", "acme"]).exits(2);
    assert!(run.stderr.contains("--otp"), "{}", run.stderr);
    let run = client
        .run(&["publisher", "create", "acme", "--otp", "000000"])
        .exits(1);
    assert!(run.stderr.contains("otp-invalid"), "{}", run.stderr);
    let run = client
        .run(&[
            "publisher",
            "create",
            "acme",
            "--otp",
            &authenticator.code(),
        ])
        .success();
    assert!(
        run.stdout.starts_with("Publisher acme (NOT VERIFIED)"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("locara publisher verify acme --dns"),
        "{}",
        run.stdout
    );

    let shown = client
        .run(&["--json", "publisher", "show", "acme"])
        .success()
        .json();
    assert_eq!(shown["name"], "acme");
    assert_eq!(shown["kind"], "organisation");
    assert_eq!(shown["verification"], serde_json::Value::Null);
    assert_eq!(
        shown["members"],
        serde_json::json!([{"username": "alice", "role": "owner"}])
    );

    // Reading a publisher needs no account.
    let anonymous = Client::new();
    anonymous
        .run(&[
            "registry",
            "add",
            "main",
            &world.registry.url,
            "--root",
            &world.registry.digest(),
        ])
        .success();
    let run = anonymous.run(&["publisher", "show", "alice"]).success();
    assert!(
        run.stdout
            .starts_with("Publisher alice (NOT VERIFIED) [user]"),
        "{}",
        run.stdout
    );

    // Refused before the code is looked at: the code sent is not spent.
    let run = client
        .run(&["publisher", "create", "acme", "--otp", "123456"])
        .exits(1);
    assert!(run.stderr.contains("conflict"), "{}", run.stderr);
    let run = client.run(&["publisher", "show", "nobody"]).exits(1);
    assert!(run.stderr.contains("not-found"), "{}", run.stderr);
    client
        .run(&["publisher", "create", "Acme", "--otp", "123456"])
        .exits(2);
}

#[test]
fn a_local_key_is_registered_listed_and_revoked() {
    let world = World::start();
    let client = &world.client;
    let mut authenticator = world.sign_up_with_two_factor("alice");
    client
        .run(&[
            "publisher",
            "create",
            "acme",
            "--otp",
            &authenticator.code(),
        ])
        .success();

    let run = client
        .run(&["keys", "register", "--publisher", "acme", "--otp", "123456"])
        .exits(1);
    assert!(run.stderr.contains("keys generate"), "{}", run.stderr);

    client.run(&["keys", "generate"]).success();
    let key = SigningKey::load(&client.config().join("keys/default.key")).unwrap();
    let key_id = key.key_id().to_string();
    client
        .run(&["keys", "register", "--publisher", "acme"])
        .exits(2);

    let code = authenticator.code();
    let registered = client
        .run(&[
            "--json",
            "keys",
            "register",
            "--publisher",
            "acme",
            "--otp",
            &code,
        ])
        .success()
        .json();
    assert_eq!(registered["key_id"], key_id.as_str());
    assert_eq!(
        registered["public_key"],
        key.public_key().to_string().as_str()
    );
    assert_eq!(registered["local_name"], "default");
    assert_eq!(
        registered["publisher_verification"],
        serde_json::Value::Null
    );

    let listed = client
        .run(&["--json", "keys", "list", "--publisher", "acme"])
        .success()
        .json();
    assert_eq!(listed["publisher"], "acme");
    assert_eq!(listed["verification"], serde_json::Value::Null);
    let keys = listed["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["key_id"], key_id.as_str());
    assert_eq!(keys[0]["local_name"], "default");
    assert_eq!(keys[0]["revoked_at"], serde_json::Value::Null);
    let run = client
        .run(&["keys", "list", "--publisher", "acme"])
        .success();
    assert!(run.stdout.contains(&key_id), "{}", run.stdout);
    assert!(run.stdout.contains("NOT VERIFIED"), "{}", run.stdout);

    // The same code again is a replay.
    let run = client
        .run(&[
            "keys",
            "revoke",
            &key_id,
            "--publisher",
            "acme",
            "--otp",
            &code,
        ])
        .exits(1);
    assert!(run.stderr.contains("otp-replayed"), "{}", run.stderr);

    let code = authenticator.code();
    let run = client
        .run(&[
            "keys",
            "revoke",
            &key_id,
            "--publisher",
            "acme",
            "--otp",
            &code,
        ])
        .success();
    assert!(
        run.stdout
            .contains(&format!("Revoked release key {key_id}")),
        "{}",
        run.stdout
    );
    let listed = client
        .run(&["--json", "keys", "list", "--publisher", "acme"])
        .success()
        .json();
    assert!(listed["keys"][0]["revoked_at"].is_string(), "{listed}");
    assert!(listed["keys"][0]["revoked_log_index"].is_u64(), "{listed}");

    client
        .run(&[
            "keys",
            "revoke",
            "0123",
            "--publisher",
            "acme",
            "--otp",
            "123456",
        ])
        .exits(2);
}

#[test]
fn an_unverified_publisher_cannot_register_an_app() {
    let world = World::start();
    let mut authenticator = world.sign_up_with_two_factor("alice");
    world
        .client
        .run(&[
            "publisher",
            "create",
            "acme",
            "--otp",
            &authenticator.code(),
        ])
        .success();
    let run = world
        .client
        .run(&[
            "app",
            "register",
            "acme/notes",
            "--repository",
            "https://git.example/acme/notes",
            "--otp",
            "123456",
        ])
        .exits(1);
    assert!(
        run.stderr.starts_with("error: Publisher not verified: "),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("publisher-unverified"),
        "{}",
        run.stderr
    );
    world
        .client
        .run(&[
            "app",
            "register",
            "acme",
            "--repository",
            "https://x.example/y",
            "--otp",
            "123456",
        ])
        .exits(2);
}

#[test]
fn an_account_without_two_factor_can_only_read() {
    let world = World::start();
    world.sign_up_and_log_in("alice");
    let run = world
        .client
        .run(&["publisher", "create", "acme", "--otp", "123456"])
        .exits(1);
    assert!(run.stderr.contains("two-factor-required"), "{}", run.stderr);
    assert!(run.stderr.contains("locara 2fa enable"), "{}", run.stderr);
}

#[test]
fn dns_verification_lets_a_publisher_register_apps_and_trust_an_issuer() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let dns = runtime.block_on(DnsServer::start("example.test")).unwrap();
    let resolver = dns.address().to_string();
    let world = World::start_with(&[("LOCARA_REGISTRY_DNS_RESOLVER", &resolver)]);
    let client = &world.client;
    let mut authenticator = world.sign_up_with_two_factor("alice");
    client
        .run(&[
            "publisher",
            "create",
            "acme",
            "--otp",
            &authenticator.code(),
        ])
        .success();
    let domain = "acme.example.test";

    let challenge = client
        .run(&["--json", "publisher", "verify", "acme", "--dns", domain])
        .success()
        .json();
    assert_eq!(
        challenge["record_name"],
        "_locara-challenge.acme.example.test"
    );
    assert_eq!(challenge["record_type"], "TXT");
    let value = challenge["record_value"].as_str().unwrap().to_owned();
    let run = client
        .run(&["publisher", "verify", "acme", "--dns", domain])
        .success();
    assert!(
        run.stdout
            .contains("locara publisher verify acme --dns acme.example.test --check"),
        "{}",
        run.stdout
    );
    // The second start issued a new challenge value, the one to publish.
    let value = {
        let line = run
            .stdout
            .lines()
            .find_map(|line| line.trim().strip_prefix("value: "))
            .unwrap()
            .to_owned();
        assert_ne!(line, value);
        line
    };

    // Checking before the record exists fails with the registry's problem.
    let run = client
        .run(&[
            "publisher",
            "verify",
            "acme",
            "--dns",
            domain,
            "--check",
            "--otp",
            &authenticator.code(),
        ])
        .exits(1);
    assert!(
        run.stderr.contains("dns-verification-failed"),
        "{}",
        run.stderr
    );
    client
        .run(&["publisher", "verify", "acme", "--dns", domain, "--check"])
        .exits(2);

    runtime
        .block_on(dns.set_txt("_locara-challenge.acme.example.test", &[&value]))
        .unwrap();
    let run = client
        .run(&[
            "publisher",
            "verify",
            "acme",
            "--dns",
            domain,
            "--check",
            "--otp",
            &authenticator.code(),
        ])
        .success();
    assert!(
        run.stdout
            .starts_with("Publisher acme (verified by DNS: acme.example.test)"),
        "{}",
        run.stdout
    );
    let shown = client
        .run(&["--json", "publisher", "show", "acme"])
        .success()
        .json();
    assert_eq!(shown["verification"]["method"], "dns");
    assert_eq!(shown["verification"]["subject"], domain);

    let registered = client
        .run(&[
            "--json",
            "app",
            "register",
            "acme/notes",
            "--repository",
            "https://git.example/acme/notes",
            "--otp",
            &authenticator.code(),
        ])
        .success()
        .json();
    assert_eq!(registered["name"], "acme/notes");
    assert_eq!(registered["publisher"], "acme");
    assert_eq!(registered["publisher_verification"]["subject"], domain);
    let run = client
        .run(&[
            "app",
            "register",
            "acme/n0tes",
            "--repository",
            "https://git.example/acme/notes",
            "--otp",
            "123456",
        ])
        .exits(1);
    assert!(run.stderr.contains("name-collision"), "{}", run.stderr);

    let trusted = client
        .run(&[
            "--json",
            "publisher",
            "trust",
            "acme",
            "--issuer",
            "https://token.actions.example",
            "--claim",
            "repository=acme/notes",
            "--claim",
            "ref=refs/tags/v*",
            "--app",
            "acme/notes",
            "--otp",
            &authenticator.code(),
        ])
        .success()
        .json();
    assert_eq!(trusted["publisher"], "acme");
    assert_eq!(trusted["issuer"], "https://token.actions.example");
    assert_eq!(trusted["app"], "acme/notes");
    assert_eq!(
        trusted["claims"],
        serde_json::json!([
            {"claim": "repository", "pattern": "acme/notes"},
            {"claim": "ref", "pattern": "refs/tags/v*"}
        ])
    );
    assert_eq!(trusted["publisher_verification"]["method"], "dns");
    client
        .run(&[
            "publisher",
            "trust",
            "acme",
            "--issuer",
            "https://token.actions.example",
            "--claim",
            "repository",
            "--otp",
            "123456",
        ])
        .exits(2);
}

#[test]
fn owners_add_and_remove_members_with_a_code() {
    let world = World::start();
    let client = &world.client;
    let mut authenticator = world.sign_up_with_two_factor("alice");
    client
        .run(&[
            "publisher",
            "create",
            "acme",
            "--otp",
            &authenticator.code(),
        ])
        .success();
    // Bob signs up on his own machine.
    let bob = Client::new();
    bob.run(&[
        "registry",
        "add",
        "main",
        &world.registry.url,
        "--root",
        &world.registry.digest(),
    ])
    .success();
    bob.run_with_input(
        &["signup", "--username", "bob", "--password-stdin"],
        PASSWORD,
    )
    .success();
    let added = client
        .run(&[
            "--json",
            "publisher",
            "member",
            "add",
            "acme",
            "bob",
            "--otp",
            &authenticator.code(),
        ])
        .success()
        .json();
    assert!(
        added["members"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!({"username": "bob", "role": "maintainer"})),
        "{added}"
    );
    let removed = client
        .run(&[
            "--json",
            "publisher",
            "member",
            "remove",
            "acme",
            "bob",
            "--otp",
            &authenticator.code(),
        ])
        .success()
        .json();
    assert_eq!(removed["members"].as_array().unwrap().len(), 1, "{removed}");

    let run = client
        .run(&[
            "publisher",
            "member",
            "add",
            "alice",
            "bob",
            "--otp",
            "123456",
        ])
        .exits(1);
    // A personal publisher has exactly one member; refused before the code is looked at.
    assert!(run.stderr.contains("personal publisher"), "{}", run.stderr);
}
