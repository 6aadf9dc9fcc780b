//! `locara signup|login|logout|2fa|token …` with the real binary against the real registry; one-time
//! codes from `oathtool`.

mod support;

use locara_cli::credentials::{ApiToken, CredentialStore};
use support::{Authenticator, Client, PASSWORD, World};

#[cfg(unix)]
fn assert_private(path: &std::path::Path) {
    assert_eq!(support::mode(path), 0o600, "{}", path.display());
    assert_eq!(support::mode(path.parent().unwrap()), 0o700);
}

#[test]
fn sign_up_log_in_enable_two_factor_and_log_in_again_with_a_code() {
    let world = World::start();
    let client = &world.client;
    let token_file = client.token_file("main");

    let signed_up = client
        .run_with_input(
            &[
                "--json",
                "signup",
                "--username",
                "alice",
                "--password-stdin",
            ],
            &format!("{PASSWORD}\n"),
        )
        .success()
        .json();
    assert_eq!(signed_up["username"], "alice");
    assert_eq!(signed_up["two_factor"], false);
    assert!(!token_file.exists(), "signing up does not log in");

    let run = client
        .run_with_input(
            &["login", "--username", "alice", "--password-stdin"],
            PASSWORD,
        )
        .success();
    assert!(run.stdout.contains("Logged in"), "{}", run.stdout);
    assert!(run.stdout.contains("2fa enable"), "{}", run.stdout);
    let session = std::fs::read_to_string(&token_file).unwrap();
    assert!(session.starts_with("locara_pat_"));
    assert!(!run.stdout.contains(session.trim()) && !run.stderr.contains(session.trim()));
    #[cfg(unix)]
    assert_private(&token_file);

    // Without a terminal, enrolment stops after showing the secret; --otp confirms it.
    let started = client.run(&["--json", "2fa", "enable"]).success().json();
    assert_eq!(started["status"], "pending");
    let secret = started["secret"].as_str().unwrap();
    assert!(
        started["otpauth_uri"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/")
    );
    let mut authenticator = Authenticator::new(secret);
    let run = client
        .run(&["--json", "2fa", "enable", "--otp", &authenticator.code()])
        .success();
    let codes = run.json()["recovery_codes"].as_array().unwrap().clone();
    assert_eq!(codes.len(), 10);
    assert!(run.stderr.contains("offline"), "{}", run.stderr);

    let run = client.run(&["logout"]).success();
    assert!(run.stdout.contains("revoked"), "{}", run.stdout);
    assert!(!token_file.exists());

    // No terminal and no --otp: a usage error that says which flag to pass; nothing is stored.
    let run = client
        .run_with_input(
            &["login", "--username", "alice", "--password-stdin"],
            PASSWORD,
        )
        .exits(2);
    assert!(run.stderr.contains("--otp"), "{}", run.stderr);
    assert!(!token_file.exists());

    let code = authenticator.code();
    let logged_in = client
        .run_with_input(
            &[
                "--json",
                "login",
                "--username",
                "alice",
                "--password-stdin",
                "--otp",
                &code,
            ],
            PASSWORD,
        )
        .success()
        .json();
    assert_eq!(logged_in["two_factor"], true);
    assert!(logged_in.get("token").is_none(), "{logged_in}");
    #[cfg(unix)]
    assert_private(&token_file);
    let session = std::fs::read_to_string(&token_file).unwrap();

    // The same code again is a replay, refused by the registry; the stored session is untouched.
    let run = client
        .run_with_input(
            &[
                "login",
                "--username",
                "alice",
                "--password-stdin",
                "--otp",
                &code,
            ],
            PASSWORD,
        )
        .exits(1);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("otp-replayed"), "{}", run.stderr);
    assert_eq!(std::fs::read_to_string(&token_file).unwrap(), session);

    // A recovery code works once, instead of a code.
    let recovery = codes[0].as_str().unwrap();
    let run = client
        .run_with_input(
            &[
                "login",
                "--username",
                "alice",
                "--password-stdin",
                "--recovery-code",
                recovery,
            ],
            PASSWORD,
        )
        .success();
    assert!(run.stdout.contains("replaced"), "{}", run.stdout);
    assert!(run.stderr.contains("recovery code"), "{}", run.stderr);
    let run = client
        .run_with_input(
            &[
                "login",
                "--username",
                "alice",
                "--password-stdin",
                "--recovery-code",
                recovery,
            ],
            PASSWORD,
        )
        .exits(1);
    assert!(
        run.stderr.contains("recovery-code-invalid"),
        "{}",
        run.stderr
    );

    client.run(&["logout"]).success();
    let run = client.run(&["logout"]).success();
    assert!(run.stdout.contains("Not logged in"), "{}", run.stdout);
}

#[test]
fn a_wrong_password_fails_with_the_registrys_problem_and_stores_nothing() {
    let world = World::start();
    world.sign_up_and_log_in("alice");
    world.client.run(&["logout"]).success();
    let run = world
        .client
        .run_with_input(
            &["login", "--username", "alice", "--password-stdin"],
            "not the password at all",
        )
        .exits(1);
    assert!(
        run.stderr.starts_with("error: Login failed: "),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("login-failed"), "{}", run.stderr);
    assert!(!world.client.token_file("main").exists());
}

#[test]
fn logout_deletes_the_token_even_when_the_registry_cannot_be_reached() {
    let world = World::start();
    world.sign_up_and_log_in("alice");
    let token_file = world.client.token_file("main");
    assert!(token_file.exists());
    drop(world.registry);
    let run = world.client.run(&["--json", "logout"]).exits(1);
    assert!(!token_file.exists());
    assert_eq!(run.json()["revocation"], "failed");
    assert!(
        run.stderr.contains("deleted from this machine"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("did not revoke"), "{}", run.stderr);
}

#[test]
fn logout_after_the_session_was_revoked_elsewhere_succeeds() {
    let world = World::start();
    world.sign_up_with_two_factor("alice");
    let tokens = world
        .client
        .run(&["--json", "token", "list"])
        .success()
        .json();
    let session = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["kind"] == "session")
        .unwrap();
    let session_id = session["id"].as_u64().unwrap();
    world
        .client
        .run(&["token", "revoke", &session_id.to_string()])
        .success();
    let run = world.client.run(&["--json", "logout"]).success();
    assert_eq!(run.json()["revocation"], "already-invalid");
    assert!(!world.client.token_file("main").exists());
}

#[test]
fn tokens_are_created_once_listed_without_secrets_and_revoked() {
    let world = World::start();
    let client = &world.client;
    let mut authenticator = world.sign_up_with_two_factor("alice");

    // Every security action needs a code: without a terminal, --otp is required before anything is sent.
    let run = client
        .run(&["token", "create", "--name", "ci", "--scope", "publish"])
        .exits(2);
    assert!(run.stderr.contains("--otp"), "{}", run.stderr);
    client
        .run(&[
            "token", "create", "--name", "ci", "--scope", "publish", "--otp", "12a456",
        ])
        .exits(2);
    client
        .run(&[
            "token",
            "create",
            "--name",
            "ci",
            "--scope",
            "everything",
            "--otp",
            "123456",
        ])
        .exits(2);

    let code = authenticator.code();
    let created = client
        .run(&[
            "--json",
            "token",
            "create",
            "--name",
            "ci",
            "--scope",
            "publish",
            "--scope",
            "yank",
            "--app",
            "alice/notes",
            "--expires-in-days",
            "7",
            "--otp",
            &code,
        ])
        .success()
        .json();
    let secret = created["token"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("locara_pat_"), "{created}");
    assert_eq!(created["scopes"], serde_json::json!(["publish", "yank"]));
    assert_eq!(created["app"], "alice/notes");
    let id = created["id"].as_u64().unwrap();

    let listed = client.run(&["--json", "token", "list"]).success();
    assert!(!listed.stdout.contains("locara_pat_"), "{}", listed.stdout);
    let tokens = listed.json();
    let row = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["id"] == id)
        .unwrap();
    assert_eq!(row["name"], "ci");
    assert_eq!(row["kind"], "api");
    assert_eq!(row["revoked_at"], serde_json::Value::Null);
    let human = client.run(&["token", "list"]).success();
    assert!(!human.stdout.contains(&secret), "{}", human.stdout);
    assert!(human.stdout.contains("login session"), "{}", human.stdout);

    // The API token is not the session: it cannot manage tokens.
    let other = Client::new();
    other
        .run(&[
            "registry",
            "add",
            "main",
            &world.registry.url,
            "--root",
            &world.registry.digest(),
        ])
        .success();
    CredentialStore::new(&other.dirs())
        .save(&"main".parse().unwrap(), &ApiToken::new(&secret).unwrap())
        .unwrap();
    let run = other.run(&["token", "list"]).exits(1);
    assert!(run.stderr.contains("session-required"), "{}", run.stderr);

    let run = client.run(&["token", "revoke", &id.to_string()]).success();
    assert!(run.stdout.contains(&format!("Revoked token {id}")));
    let tokens = client.run(&["--json", "token", "list"]).success().json();
    let row = tokens
        .as_array()
        .unwrap()
        .iter()
        .find(|token| token["id"] == id)
        .unwrap();
    assert!(row["revoked_at"].is_string(), "{row}");
    let run = other.run(&["token", "list"]).exits(1);
    assert!(run.stderr.contains("token-revoked"), "{}", run.stderr);

    let run = client.run(&["token", "revoke", &id.to_string()]).exits(1);
    assert!(run.stderr.contains("not-found"), "{}", run.stderr);
}

#[test]
fn commands_that_need_an_account_say_to_log_in_first() {
    let world = World::start();
    let run = world.client.run(&["token", "list"]).exits(1);
    assert!(run.stderr.contains("locara login"), "{}", run.stderr);
    let run = world
        .client
        .run(&["publisher", "create", "acme", "--otp", "123456"])
        .exits(1);
    assert!(run.stderr.contains("locara login"), "{}", run.stderr);
}

#[test]
fn account_events_show_failed_sign_ins_and_codes_with_their_address() {
    let world = World::start();
    let client = &world.client;
    let _authenticator = world.sign_up_with_two_factor("alice");
    let run = client.run(&["account", "events"]).success();
    assert!(run.stdout.contains("No failed sign-ins"), "{}", run.stdout);

    // Someone else tries alice's account: a wrong password, then the right one with a wrong code.
    let other = Client::new();
    other
        .run(&[
            "registry",
            "add",
            "main",
            &world.registry.url,
            "--root",
            &world.registry.digest(),
        ])
        .success();
    other
        .run_with_input(
            &[
                "login",
                "--username",
                "alice",
                "--password-stdin",
                "--otp",
                "123456",
            ],
            "a wrong password guess",
        )
        .exits(1);
    let wrong_code = "000000";
    other
        .run_with_input(
            &[
                "login",
                "--username",
                "alice",
                "--password-stdin",
                "--otp",
                wrong_code,
            ],
            PASSWORD,
        )
        .exits(1);

    let events = client
        .run(&["--json", "account", "events"])
        .success()
        .json();
    let events = events.as_array().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["code-failed", "password-failed"], "newest first");
    for event in events {
        assert_eq!(event["client_address"], "127.0.0.1", "{event}");
        assert_eq!(event["token_id"], serde_json::Value::Null, "{event}");
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
    }
    let run = client.run(&["account", "events"]).success();
    for expected in [
        "password-failed",
        "code-failed",
        "127.0.0.1",
        "sign-in",
        "Not you?",
    ] {
        assert!(run.stdout.contains(expected), "{expected}: {}", run.stdout);
    }
    assert!(!run.stdout.contains(wrong_code), "{}", run.stdout);
    // Without the signed-in session nothing is shown.
    other.run(&["account", "events"]).exits(1);
}
