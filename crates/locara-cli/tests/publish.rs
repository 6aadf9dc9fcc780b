//! `locara publish` and `locara build status|logs` with the real binary: against the real registry (no
//! build workers, so builds stay queued) with a real git repository, and against a stand-in registry for
//! what needs a build to finish (`--wait`) or an exact view of the requests.

mod support;

use std::fs;

use locara_core::digest::Digest;
use locara_core::dsse::Envelope;
use locara_core::keys::{SigningKey, TrustedKeys};
use locara_core::statement::release::verify_release;
use serde_json::{Value, json};
use support::{
    AppRepository, Canned, FAKE_TOKEN, FakeRegistry, NOTES_MANIFEST, Publishing, Recorded,
};

#[test]
fn publishing_with_a_code_queues_a_build_members_can_follow() {
    let mut publishing = Publishing::start();
    let repository_url = publishing.repository.file_url();
    let path = publishing.repository.path().to_owned();
    let head = publishing.repository.head();
    let code = publishing.authenticator.code();
    let client = publishing.client();

    let run = client
        .run(&[
            "publish",
            "--path",
            &path,
            "--repository",
            &repository_url,
            "--otp",
            &code,
        ])
        .success();
    assert!(
        run.stdout
            .starts_with("Requested release alice/notes 1.0.0"),
        "{}",
        run.stdout
    );
    let id = run
        .stdout
        .lines()
        .find_map(|line| line.trim().strip_prefix("build:"))
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the build id is printed")
        .to_owned();
    assert!(run.stdout.contains("(queued)"), "{}", run.stdout);
    assert!(run.stdout.contains(&head), "{}", run.stdout);

    let status = client
        .run(&["--json", "build", "status", &id])
        .success()
        .json();
    assert_eq!(status["id"].to_string(), id);
    assert_eq!(status["state"], "queued");
    assert_eq!(status["app"], "alice/notes");
    assert_eq!(status["version"], "1.0.0");
    assert_eq!(status["commit"], head.as_str());
    assert_eq!(status["repository"], repository_url.as_str());
    assert_eq!(status["has_log"], false);
    let run = client.run(&["build", "status", &id]).success();
    assert!(
        run.stdout
            .starts_with(&format!("Build {id} of alice/notes 1.0.0: queued")),
        "{}",
        run.stdout
    );

    // A queued build has no log yet, and the command says so rather than showing an empty one.
    let run = client.run(&["build", "logs", &id]).exits(1);
    assert!(run.stderr.contains("no log yet"), "{}", run.stderr);
    assert!(run.stderr.contains("it is queued"), "{}", run.stderr);
    let run = client.run(&["build", "status", "999"]).exits(1);
    assert!(run.stderr.contains("not-found"), "{}", run.stderr);

    // The same version again, while its build is queued: versions are never requested twice.
    let code = publishing.authenticator.code();
    let run = publishing
        .client()
        .run(&[
            "--json",
            "publish",
            "--path",
            &path,
            "--repository",
            &repository_url,
            "--otp",
            &code,
        ])
        .exits(1);
    assert!(run.stderr.starts_with("error: "), "{}", run.stderr);
    assert!(run.stderr.contains("(conflict; HTTP 409"), "{}", run.stderr);
    assert_eq!(run.stdout, "");

    // Builds are for members: another account cannot read them.
    let bob = support::Client::new();
    bob.run(&[
        "registry",
        "add",
        "main",
        &publishing.world.registry.url,
        "--root",
        &publishing.world.registry.digest(),
    ])
    .success();
    let run = bob.run(&["build", "status", &id]).exits(1);
    assert!(run.stderr.contains("locara login"), "{}", run.stderr);
}

#[test]
fn publishing_refuses_what_it_cannot_send_before_contacting_the_registry() {
    let mut publishing = Publishing::start();
    let repository = &publishing.repository;
    let path = repository.path().to_owned();
    let repository_url = repository.file_url();
    let client = &publishing.world.client;
    let publish = |extra: &[&str]| {
        let mut args = vec!["publish", "--path", &path];
        args.extend_from_slice(extra);
        client.run(&args)
    };

    // No code and no terminal to ask on: a usage error naming the flag.
    let run = publish(&["--repository", &repository_url]).exits(2);
    assert!(run.stderr.contains("--otp"), "{}", run.stderr);

    // A missing key points at `keys generate`.
    let run = publish(&[
        "--repository",
        &repository_url,
        "--key",
        "ci",
        "--otp",
        "123456",
    ])
    .exits(1);
    assert!(
        run.stderr.contains("locara keys generate --name ci"),
        "{}",
        run.stderr
    );

    // A dirty work tree names what is uncommitted.
    fs::write(repository.root.join("draft.txt"), "not committed").unwrap();
    let run = publish(&["--repository", &repository_url, "--otp", "123456"]).exits(1);
    assert!(run.stderr.contains("uncommitted"), "{}", run.stderr);
    assert!(run.stderr.contains("?? draft.txt"), "{}", run.stderr);
    fs::remove_file(repository.root.join("draft.txt")).unwrap();

    // Not a git work tree.
    let elsewhere = tempfile::tempdir().unwrap();
    fs::write(elsewhere.path().join("locara.toml"), NOTES_MANIFEST).unwrap();
    let run = client
        .run(&[
            "publish",
            "--path",
            elsewhere.path().to_str().unwrap(),
            "--otp",
            "123456",
        ])
        .exits(1);
    assert!(
        run.stderr.contains("not in a git work tree"),
        "{}",
        run.stderr
    );

    // A malformed flag is a usage error.
    publish(&["--otp", "12345"]).exits(2);
    publish(&["--otp", "123456", "--oidc-token-file", "x"]).exits(2);

    // Without --repository the manifest's https source is named, which is not the file:// repository
    // the app is registered with: the registry refuses the statement.
    let code = publishing.authenticator.code();
    let run = publishing
        .world
        .client
        .run(&["publish", "--path", &path, "--otp", &code])
        .exits(1);
    assert!(run.stderr.contains("statement-refused"), "{}", run.stderr);
    assert!(
        run.stderr.contains("https://git.example/alice/notes"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--repository"), "{}", run.stderr);
}

#[test]
fn trusted_publishing_needs_neither_a_login_nor_a_code() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let issuer = runtime
        .block_on(locara_testkit::oidc::Issuer::start())
        .unwrap();
    let mut publishing =
        Publishing::start_with(&[("LOCARA_REGISTRY_OIDC_ALLOW_HTTP_LOOPBACK", "true")]);
    let code = publishing.authenticator.code();
    let client = publishing.client();
    client
        .run(&[
            "publisher",
            "trust",
            "alice",
            "--issuer",
            issuer.url(),
            "--claim",
            "repository=alice/notes",
            "--app",
            "alice/notes",
            "--otp",
            &code,
        ])
        .success();
    client.run(&["logout"]).success();

    let mut claims = issuer.claims(&publishing.world.registry.url, "repo:alice/notes");
    claims.insert("repository".to_owned(), json!("alice/notes"));
    let token_dir = tempfile::tempdir().unwrap();
    let token_file = token_dir.path().join("id-token.jwt");
    fs::write(&token_file, format!("{}\n", issuer.mint(&claims))).unwrap();

    let build = client
        .run(&[
            "--json",
            "publish",
            "--path",
            publishing.repository.path(),
            "--repository",
            &publishing.repository.file_url(),
            "--oidc-token-file",
            token_file.to_str().unwrap(),
        ])
        .success()
        .json();
    assert_eq!(build["state"], "queued");
    assert_eq!(build["app"], "alice/notes");
    assert_eq!(build["commit"], publishing.repository.head().as_str());

    // A token the issuer did not sign is refused by the exchange.
    fs::write(&token_file, "e30.e30.c2ln").unwrap();
    let run = client
        .run(&[
            "publish",
            "--path",
            publishing.repository.path(),
            "--repository",
            &publishing.repository.file_url(),
            "--oidc-token-file",
            token_file.to_str().unwrap(),
        ])
        .exits(1);
    assert!(run.stderr.contains("oidc-"), "{}", run.stderr);
}

/// The JSON of build 7 of `alice/notes` 1.0.0 at `commit` in `state`.
fn build_view(commit: &str, state: &str, has_log: bool, error: Option<&str>) -> Value {
    json!({
        "id": 7, "app": "alice/notes", "version": "1.0.0", "repository": "file:///srv/git/notes",
        "commit": commit, "state": state, "attempts": 1, "error": error,
        "created_at": "2026-11-25T17:00:00Z", "started_at": null, "finished_at": null,
        "has_log": has_log
    })
}

/// A stand-in registry and an app repository whose client has a local key.
fn fake_publishing() -> (FakeRegistry, AppRepository, SigningKey) {
    let fake = FakeRegistry::start();
    fake.client.run(&["keys", "generate"]).success();
    let key = SigningKey::load(&fake.client.config().join("keys/default.key")).unwrap();
    (fake, AppRepository::new(NOTES_MANIFEST), key)
}

fn release_requests(fake: &FakeRegistry) -> Vec<Recorded> {
    fake.server
        .requests()
        .into_iter()
        .filter(|request| request.path == "/api/v1/apps/alice/notes/releases")
        .collect()
}

#[test]
fn wait_shows_each_state_then_the_log_and_the_request_is_a_signed_statement_of_the_commit() {
    let (fake, repository, key) = fake_publishing();
    let head = repository.head();
    let server = &fake.server;
    server.put_sequence(
        "/api/v1/apps/alice/notes/releases",
        vec![Canned::json(202, &build_view(&head, "queued", false, None))],
    );
    server.put_sequence(
        "/api/v1/builds/7",
        vec![
            Canned::json(200, &build_view(&head, "building", false, None)),
            Canned::json(200, &build_view(&head, "building", false, None)),
            Canned::json(200, &build_view(&head, "succeeded", true, None)),
        ],
    );
    server.put_sequence(
        "/api/v1/builds/7/log",
        vec![Canned::text(
            200,
            "$ sh -c 'mkdir -p out'\r\n\u{1b}[31mbuilt\u{1b}[0m out/hi\n",
        )],
    );
    let run = fake
        .client
        .run(&[
            "publish",
            "--path",
            repository.path(),
            "--repository",
            "file:///srv/git/notes",
            "--otp",
            "123456",
            "--wait",
        ])
        .success();
    let stdout = &run.stdout;
    let requested = stdout.find("Requested release alice/notes 1.0.0").unwrap();
    let building = stdout.find("build 7: building").unwrap();
    let succeeded = stdout.find("build 7: succeeded").unwrap();
    let log = stdout.find("--- log of build 7 ---").unwrap();
    assert!(
        requested < building && building < succeeded && succeeded < log,
        "{stdout}"
    );
    assert_eq!(stdout.matches("build 7: building").count(), 1, "{stdout}");
    assert!(stdout.contains(" [31mbuilt [0m out/hi\n"), "{stdout:?}");
    assert!(
        !stdout.contains('\u{1b}') && !stdout.contains('\r'),
        "{stdout:?}"
    );
    assert!(stdout.contains("Built alice/notes 1.0.0"), "{stdout}");

    // What was sent: the version, a statement signed by the local key naming the full commit, the digest
    // of the committed locara.toml and the repository given, with the code and the stored token.
    let sent = release_requests(&fake);
    assert_eq!(sent.len(), 1);
    let request = &sent[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.header("locara-otp"), Some("123456"));
    assert_eq!(
        request.header("authorization"),
        Some(format!("Bearer {FAKE_TOKEN}").as_str())
    );
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body["version"], "1.0.0");
    let envelope = Envelope::from_json(&serde_json::to_vec(&body["statement"]).unwrap()).unwrap();
    let keys = TrustedKeys::new([key.public_key().clone()], 1).unwrap();
    let verified = verify_release(
        &envelope,
        &keys,
        &"alice/notes".parse().unwrap(),
        &"1.0.0".parse().unwrap(),
    )
    .unwrap();
    let statement = verified.statement;
    assert_eq!(statement.commit.as_str(), head);
    assert_eq!(statement.repository, "file:///srv/git/notes");
    assert_eq!(
        statement.manifest,
        Digest::of_bytes(NOTES_MANIFEST.as_bytes())
    );
    let age =
        locara_core::time::Timestamp::now().unix_seconds() - statement.created_at.unix_seconds();
    assert!(age < 60, "created_at is {age} s old");
}

#[test]
fn wait_exits_1_with_the_error_when_the_build_fails_and_json_keeps_stdout_one_document() {
    let (fake, repository, _key) = fake_publishing();
    let head = repository.head();
    let server = &fake.server;
    server.put_sequence(
        "/api/v1/apps/alice/notes/releases",
        vec![Canned::json(202, &build_view(&head, "queued", false, None))],
    );
    server.put_sequence(
        "/api/v1/builds/7",
        vec![Canned::json(
            200,
            &build_view(
                &head,
                "failed",
                true,
                Some("the build command exited with status 2"),
            ),
        )],
    );
    server.put_sequence(
        "/api/v1/builds/7/log",
        vec![Canned::text(200, "make: *** [all] Error 2\n")],
    );
    let args = [
        "publish",
        "--path",
        repository.path(),
        "--repository",
        "file:///srv/git/notes",
        "--otp",
        "123456",
        "--wait",
    ];
    let run = fake.client.run(&args).exits(1);
    assert!(
        run.stdout.contains("make: *** [all] Error 2"),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains(
            "build 7 of alice/notes 1.0.0 failed: the build command exited with status 2"
        ),
        "{}",
        run.stderr
    );

    let mut json_args = vec!["--json"];
    json_args.extend_from_slice(&args);
    let run = fake.client.run(&json_args).exits(1);
    let finished = run.json();
    assert_eq!(finished["state"], "failed");
    assert_eq!(finished["log"], "make: *** [all] Error 2\n");
    assert!(run.stderr.contains("build 7: failed"), "{}", run.stderr);
}

#[test]
fn without_a_code_or_a_terminal_nothing_is_sent() {
    let (fake, repository, _key) = fake_publishing();
    let before = fake.server.requests().len();
    let run = fake
        .client
        .run(&["publish", "--path", repository.path()])
        .exits(2);
    assert!(run.stderr.contains("--otp"), "{}", run.stderr);
    let run = fake
        .client
        .run(&["--json", "publish", "--path", repository.path()])
        .exits(2);
    assert!(run.stderr.contains("--otp"), "{}", run.stderr);
    assert_eq!(fake.server.requests().len(), before, "a request was made");
}

#[test]
fn trusted_publishing_sends_the_exchanged_token_and_no_code() {
    let (fake, repository, _key) = fake_publishing();
    let head = repository.head();
    fake.server.put_sequence(
        "/api/v1/trusted-publishing/token",
        vec![Canned::json(
            201,
            &json!({
                "token": "locara_pat_exchanged42", "id": 9, "name": "trusted publishing",
                "kind": "trusted-publishing", "scopes": ["publish"], "app": "alice/notes",
                "created_at": "2026-11-25T17:00:00Z", "expires_at": "2026-11-25T17:15:00Z",
                "revoked_at": null, "last_used_at": null
            }),
        )],
    );
    let mut queued = build_view(&head, "queued", false, None);
    queued["repository"] = json!("https://git.example/alice/notes");
    fake.server.put_sequence(
        "/api/v1/apps/alice/notes/releases",
        vec![Canned::json(202, &queued)],
    );
    let token_dir = tempfile::tempdir().unwrap();
    let token_file = token_dir.path().join("id-token.jwt");
    fs::write(&token_file, "  header.payload.signature \n").unwrap();
    fake.client
        .run(&[
            "publish",
            "--path",
            repository.path(),
            "--oidc-token-file",
            token_file.to_str().unwrap(),
        ])
        .success();

    let requests = fake.server.requests();
    let exchange = requests
        .iter()
        .find(|request| request.path == "/api/v1/trusted-publishing/token")
        .unwrap();
    let body: Value = serde_json::from_slice(&exchange.body).unwrap();
    assert_eq!(
        body,
        json!({"app": "alice/notes", "token": "header.payload.signature"})
    );
    assert_eq!(exchange.header("authorization"), None);
    let sent = release_requests(&fake);
    assert_eq!(sent.len(), 1);
    assert_eq!(
        sent[0].header("authorization"),
        Some("Bearer locara_pat_exchanged42")
    );
    assert_eq!(sent[0].header("locara-otp"), None);
}

#[test]
fn a_commit_can_be_named_and_the_manifest_hashed_is_the_committed_one() {
    let (fake, repository, key) = fake_publishing();
    let first = repository.head();
    repository.commit_file("README", "notes\n", "readme");
    // The working copy's manifest changes (same app and version); the commit's bytes are what is signed.
    let edited = NOTES_MANIFEST.replace("Notes, searched locally", "Edited, not committed");
    fs::write(repository.root.join("locara.toml"), &edited).unwrap();
    let args = [
        "--json",
        "publish",
        "--path",
        repository.path(),
        "--commit",
        &first[..10],
        "--otp",
        "123456",
    ];

    // An answer about another commit (here: HEAD) is not taken for this request.
    let mut other = build_view(&repository.head(), "queued", false, None);
    other["repository"] = json!("https://git.example/alice/notes");
    fake.server.put_sequence(
        "/api/v1/apps/alice/notes/releases",
        vec![Canned::json(202, &other)],
    );
    let run = fake.client.run(&args).exits(1);
    assert!(
        run.stderr.contains("the registry answered with build 7"),
        "{}",
        run.stderr
    );

    let mut queued = build_view(&first, "queued", false, None);
    queued["repository"] = json!("https://git.example/alice/notes");
    fake.server.put_sequence(
        "/api/v1/apps/alice/notes/releases",
        vec![Canned::json(202, &queued)],
    );
    let run = fake.client.run(&args).success();
    assert_eq!(run.json()["commit"], first.as_str());
    let body: Value = serde_json::from_slice(&release_requests(&fake)[1].body).unwrap();
    let envelope = Envelope::from_json(&serde_json::to_vec(&body["statement"]).unwrap()).unwrap();
    let keys = TrustedKeys::new([key.public_key().clone()], 1).unwrap();
    let statement = verify_release(
        &envelope,
        &keys,
        &"alice/notes".parse().unwrap(),
        &"1.0.0".parse().unwrap(),
    )
    .unwrap()
    .statement;
    assert_eq!(statement.commit.as_str(), first);
    assert_eq!(
        statement.manifest,
        Digest::of_bytes(NOTES_MANIFEST.as_bytes())
    );
    // Without --repository the manifest's source is named.
    assert_eq!(statement.repository, "https://git.example/alice/notes");
}

#[cfg(target_os = "linux")]
#[test]
fn on_a_terminal_the_code_is_asked_for_after_the_local_checks() {
    let (fake, repository, _key) = fake_publishing();
    let head = repository.head();
    fake.server.put_sequence(
        "/api/v1/apps/alice/notes/releases",
        vec![Canned::json(202, &build_view(&head, "queued", false, None))],
    );
    let mut terminal = fake.client.terminal(&[
        "publish",
        "--path",
        repository.path(),
        "--repository",
        "file:///srv/git/notes",
    ]);
    terminal.expect("One-time code to publish alice/notes 1.0.0: ");
    terminal.type_line("654321");
    let (code, screen) = terminal.finish();
    assert_eq!(code, 0, "{screen}");
    assert!(
        screen.contains("Requested release alice/notes 1.0.0"),
        "{screen}"
    );
    assert_eq!(
        release_requests(&fake)[0].header("locara-otp"),
        Some("654321")
    );

    // A dirty work tree is refused before anything is asked.
    fs::write(repository.root.join("draft.txt"), "x").unwrap();
    let terminal = fake
        .client
        .terminal(&["publish", "--path", repository.path()]);
    let (code, screen) = terminal.finish();
    assert_eq!(code, 1, "{screen}");
    assert!(screen.contains("uncommitted"), "{screen}");
    assert!(!screen.contains("One-time code"), "{screen}");
}

/// End to end with the registry's own build worker, in its real sandbox.
#[test]
fn publish_wait_builds_the_release_and_info_shows_it() {
    let mut publishing = Publishing::start_with(&[("LOCARA_REGISTRY_BUILD_WORKERS", "1")]);
    // The entry must be an executable file.
    let manifest = NOTES_MANIFEST.replace(
        r#"command = ["sh", "-c", "mkdir -p out && echo hi > out/hi"]"#,
        r#"command = ["sh", "-c", "mkdir -p out && printf '#!/bin/sh\\necho hi\\n' > out/hi && chmod +x out/hi && echo built"]"#,
    );
    assert_ne!(manifest, NOTES_MANIFEST);
    publishing
        .repository
        .commit_file("locara.toml", &manifest, "an executable entry");
    let head = publishing.repository.head();
    let code = publishing.authenticator.code();
    let run = publishing
        .client()
        .run(&[
            "publish",
            "--path",
            publishing.repository.path(),
            "--repository",
            &publishing.repository.file_url(),
            "--otp",
            &code,
            "--wait",
        ])
        .success();
    assert!(run.stdout.contains("build 1: succeeded"), "{}", run.stdout);
    assert!(
        run.stdout.contains("--- log of build 1 ---"),
        "{}",
        run.stdout
    );
    // The build's output is shown live (stderr) or, if the build finished between two looks, at the end.
    assert!(
        run.stdout.contains("\nbuilt\n") || run.stderr.contains("built"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );

    let info = publishing
        .client()
        .run(&["--json", "info", "alice/notes"])
        .success()
        .json();
    let release = &info["releases"][0];
    assert_eq!(release["version"], "1.0.0");
    assert_eq!(release["commit"], head.as_str());
    assert_eq!(release["in_index"], true);
    assert!(
        release["artifact"].as_str().unwrap().starts_with("sha256:"),
        "{info}"
    );
}
