//! The command line itself: help for every command, exit codes for usage errors, the environment.

mod support;

use support::Client;

#[test]
fn every_command_has_help() {
    let client = Client::new();
    for command in [
        &[][..],
        &["registry"],
        &["registry", "add"],
        &["registry", "list"],
        &["registry", "remove"],
        &["registry", "default"],
        &["registry", "refresh"],
        &["keys"],
        &["keys", "generate"],
        &["keys", "list"],
        &["keys", "register"],
        &["keys", "revoke"],
        &["signup"],
        &["login"],
        &["logout"],
        &["2fa"],
        &["2fa", "enable"],
        &["token"],
        &["token", "create"],
        &["token", "list"],
        &["token", "revoke"],
        &["publisher"],
        &["publisher", "create"],
        &["publisher", "show"],
        &["publisher", "verify"],
        &["publisher", "member"],
        &["publisher", "member", "add"],
        &["publisher", "member", "remove"],
        &["publisher", "trust"],
        &["app"],
        &["app", "register"],
        &["account"],
        &["account", "events"],
    ] {
        let mut args = command.to_vec();
        args.push("--help");
        let run = client.run(&args).success();
        assert!(
            run.stdout.contains("Usage: locara"),
            "{args:?}: {}",
            run.stdout
        );
    }
    let run = client.run(&["--version"]).success();
    assert!(run.stdout.starts_with("locara "), "{}", run.stdout);
}

#[test]
fn usage_errors_exit_2() {
    let client = Client::new();
    for args in [
        &[][..],
        &["registry"],
        &["no-such-command"],
        &["registry", "list", "--no-such-flag"],
        &["registry", "add", "main", "https://registry.invalid"],
        &[
            "registry",
            "add",
            "main",
            "https://registry.invalid",
            "--root",
            "sha256:abc",
        ],
        &[
            "registry",
            "add",
            "main",
            "https://registry.invalid",
            "--root",
            "md5:abc",
        ],
        &[
            "registry",
            "add",
            "main",
            "ftp://registry.invalid",
            "--root",
            support::UNKNOWN_DIGEST,
        ],
        &[
            "registry",
            "add",
            "main",
            "https://user:pw@registry.invalid",
            "--root",
            support::UNKNOWN_DIGEST,
        ],
        &["--registry", "a", "registry", "refresh", "b"],
    ] {
        let run = client.run(args).exits(2);
        assert!(!run.stderr.is_empty(), "{args:?}");
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    assert!(!client.home().exists(), "usage errors write nothing");
}

#[test]
fn a_relative_locara_home_is_a_usage_error() {
    let client = Client::new();
    let output = client
        .command(&["registry", "list"])
        .env("LOCARA_HOME", "relative/home")
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("absolute"), "{stderr}");
}

#[test]
fn without_locara_home_files_go_to_the_xdg_directories() {
    let client = Client::new();
    let fake_home = client.home().with_file_name("fake-home");
    let output = client
        .command(&["keys", "generate"])
        .env_remove("LOCARA_HOME")
        .env("HOME", &fake_home)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(fake_home.join(".config/locara/keys/default.key").is_file());
}

const KEY_ID: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

#[test]
fn missing_passwords_codes_and_names_are_usage_errors_before_anything_is_looked_up() {
    let client = Client::new();
    for (args, names) in [
        (&["login"][..], "--username"),
        (&["login", "--username", "alice"], "--password-stdin"),
        (&["signup", "--username", "alice"], "--password-stdin"),
        (
            &["--json", "login", "--username", "alice"],
            "--password-stdin",
        ),
        (
            &["login", "--username", "Alice", "--password-stdin"],
            "Alice",
        ),
        (
            &[
                "login",
                "--otp",
                "123456",
                "--recovery-code",
                "abcd-efgh-jkmn",
            ],
            "--recovery-code",
        ),
        (&["login", "--otp", "12345"], "6 digits"),
        (
            &["token", "create", "--name", "ci", "--scope", "publish"],
            "--otp",
        ),
        (
            &[
                "token",
                "create",
                "--name",
                "ci",
                "--scope",
                "publish",
                "--expires-in-days",
                "0",
                "--otp",
                "123456",
            ],
            "--expires-in-days",
        ),
        (&["token", "create", "--name", "ci"], "--scope"),
        (&["token", "revoke", "first"], "first"),
        (&["keys", "register", "--publisher", "acme"], "--otp"),
        (&["keys", "revoke", KEY_ID, "--publisher", "acme"], "--otp"),
        (
            &["keys", "list", "--local", "--publisher", "acme"],
            "--publisher",
        ),
        (&["publisher", "member", "add", "acme", "bob"], "--otp"),
        (&["publisher", "member", "remove", "acme", "bob"], "--otp"),
        (
            &[
                "publisher",
                "member",
                "add",
                "acme",
                "bob",
                "--role",
                "admin",
            ],
            "admin",
        ),
        (&["publisher", "verify", "acme"], "--dns"),
        (&["publisher", "verify", "acme", "--check"], "--dns"),
        (
            &[
                "publisher",
                "verify",
                "acme",
                "--dns",
                "acme.example",
                "--check",
            ],
            "--otp",
        ),
        (
            &[
                "publisher",
                "verify",
                "acme",
                "--oidc-issuer",
                "https://issuer.example",
            ],
            "--oidc-token-file",
        ),
        (
            &[
                "publisher",
                "trust",
                "acme",
                "--issuer",
                "https://i.example",
            ],
            "--claim",
        ),
        (
            &[
                "publisher",
                "trust",
                "acme",
                "--issuer",
                "https://i.example",
                "--claim",
                "repository=acme/notes",
            ],
            "--otp",
        ),
        (&["app", "register", "acme/notes"], "--repository"),
        (
            &[
                "app",
                "register",
                "acme/notes",
                "--repository",
                "https://git.example/acme/notes",
            ],
            "--otp",
        ),
        (&["publisher", "create", "acme"], "--otp"),
        (
            &[
                "app",
                "register",
                "notes",
                "--repository",
                "https://git.example/notes",
            ],
            "publisher/app",
        ),
    ] {
        let run = client.run(args).exits(2);
        assert!(run.stderr.contains(names), "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    }
    assert!(!client.home().exists(), "usage errors write nothing");
}
