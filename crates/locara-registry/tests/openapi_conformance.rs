//! The OpenAPI document describes the API that runs: schemathesis (an independent, property-based API
//! tester) generates requests from `/api/v1/openapi.json` and checks every answer against it, against
//! the real binary on loopback, with a real account that has TOTP and an `admin`/`publish`/`yank` API
//! token.
//!
//! Checked (`--checks all`): no 5xx; every status code, content type (problems are
//! `application/problem+json`), header and body is the documented one; schema-valid requests are not
//! refused as malformed and schema-invalid ones are; a missing required header, a missing token and an
//! undocumented method are refused. Not covered: actions behind a fresh one-time code get a generated
//! `Locara-OTP` value, which is wrong (codes are single-use and change every 30 seconds), so their
//! refusals (401, then 429 once the failure budget is spent) are checked but not their success paths;
//! those are attacked in `api_*.rs`. Operations that need the login session (token management, TOTP
//! enrolment, the webhook) answer the API token with 403. Logout and token revocation revoke the run's
//! own token, so they run last, on their own.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::api::{Api, sign_up, sign_up_with_two_factor};
use serde_json::{Value, json};

/// The schemathesis release these settings were written for; `scripts/test` installs it.
const SCHEMATHESIS_VERSION: &str = "4.32.5";
/// The most one schemathesis run may take before the test gives up on it.
const RUN_DEADLINE: Duration = Duration::from_secs(240);
/// The seed of the main run, so a failure is reproducible; `LOCARA_SCHEMATHESIS_SEED` picks another.
const DEFAULT_SEED: &str = "20261204";
/// The operations that revoke the token they are called with.
const SELF_REVOKING: [&str; 2] = ["logout", "revoke_token"];

/// Starts a registry and returns it with an account that has TOTP and an API token of every scope.
async fn registry_with_token() -> (tempfile::TempDir, common::Server, Api, String) {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let api = Api::new(&server.url);
    let mut user = sign_up_with_two_factor(&api, "conformance").await;
    let otp = user.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&user.token),
            Some(&otp),
            Some(json!({
                "name": "conformance run",
                "scopes": ["admin", "publish", "yank"],
                "expires_in_days": 1,
            })),
        )
        .await;
    assert_eq!(reply.status, 201, "token creation: {}", reply.body);
    let token = reply.body["token"].as_str().unwrap().to_owned();
    (data, server, api, token)
}

/// The outcome of one schemathesis run: whether it passed, and what it printed.
struct Run {
    passed: bool,
    output: String,
}

impl Run {
    /// The number after `label` in schemathesis' summary (`Tested: 30`, `1934 generated`).
    fn count(&self, label: &str) -> u64 {
        self.output
            .lines()
            .find_map(|line| {
                let line = line.trim();
                if let Some(rest) = line.strip_prefix(label) {
                    rest.split_whitespace().next()?.parse().ok()
                } else {
                    let (number, rest) = line.split_once(' ')?;
                    rest.starts_with(label)
                        .then(|| number.parse().ok())
                        .flatten()
                }
            })
            .unwrap_or_else(|| panic!("schemathesis printed no `{label}` count:\n{}", self.output))
    }
}

/// Runs schemathesis against `url`'s document with `token`, the repository's settings and `arguments`,
/// killing it at [`RUN_DEADLINE`].
fn schemathesis(url: &str, token: &str, arguments: &[&str]) -> Run {
    let version = Command::new("schemathesis")
        .arg("--version")
        .output()
        .unwrap_or_else(|error| {
            panic!(
                "schemathesis could not be run ({error}); scripts/test installs it: pip install 'schemathesis=={SCHEMATHESIS_VERSION}'"
            )
        });
    let version = String::from_utf8_lossy(&version.stdout);
    assert!(
        version.trim().ends_with(SCHEMATHESIS_VERSION),
        "schemathesis {SCHEMATHESIS_VERSION} is needed, found `{}`; scripts/test installs it: pip install 'schemathesis=={SCHEMATHESIS_VERSION}'",
        version.trim()
    );
    let scratch = tempfile::tempdir().unwrap();
    let output_path = scratch.path().join("output.txt");
    let output_file = std::fs::File::create(&output_path).unwrap();
    let settings = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemathesis.toml");
    let mut child = Command::new("schemathesis")
        .arg("--config-file")
        .arg(&settings)
        .arg("run")
        .arg(format!("{url}/api/v1/openapi.json"))
        .args(["--header", &format!("Authorization: Bearer {token}")])
        .args(["--checks", "all", "--workers", "2", "--no-color"])
        .args(["--generation-database", "none", "--request-timeout", "20"])
        .args(arguments)
        .current_dir(scratch.path())
        .stdin(Stdio::null())
        .stdout(output_file.try_clone().unwrap())
        .stderr(output_file)
        .spawn()
        .expect("start schemathesis");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > RUN_DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "schemathesis ran over {RUN_DEADLINE:?}; it printed:\n{}",
                std::fs::read_to_string(&output_path).unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    Run {
        passed: status.success(),
        output: std::fs::read_to_string(&output_path).unwrap(),
    }
}

/// The number of operations in the served document.
async fn operation_count(api: &Api) -> u64 {
    let document = api.get("/api/v1/openapi.json").await.body;
    let methods = ["get", "put", "post", "delete", "patch"];
    document["paths"]
        .as_object()
        .expect("the document has paths")
        .values()
        .map(|item| {
            methods
                .iter()
                .filter(|method| item.get(**method).is_some())
                .count() as u64
        })
        .sum()
}

#[tokio::test]
async fn schemathesis_finds_no_difference_between_the_document_and_the_api() {
    let (_data, server, api, token) = registry_with_token().await;
    let operations = operation_count(&api).await;
    let seed = std::env::var("LOCARA_SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.into());
    let mut main_arguments = vec!["--max-examples", "30", "--seed", &seed];
    for operation in SELF_REVOKING {
        main_arguments.extend(["--exclude-operation-id", operation]);
    }
    // The server is another process, so this test's thread may block while schemathesis runs.
    let main = schemathesis(&server.url, &token, &main_arguments);
    assert!(
        main.passed,
        "schemathesis found differences:\n{}",
        main.output
    );
    assert_eq!(
        main.count("Tested:"),
        operations - SELF_REVOKING.len() as u64,
        "every other operation is tested:\n{}",
        main.output
    );
    let generated = main.count("generated");
    assert!(
        generated >= 10 * operations,
        "only {generated} requests were generated:\n{}",
        main.output
    );

    let mut last_arguments = vec!["--max-examples", "10", "--seed", &seed];
    for operation in SELF_REVOKING {
        last_arguments.extend(["--include-operation-id", operation]);
    }
    let last = schemathesis(&server.url, &token, &last_arguments);
    assert!(
        last.passed,
        "schemathesis found differences in the self-revoking operations:\n{}",
        last.output
    );
    assert_eq!(
        last.count("Tested:"),
        SELF_REVOKING.len() as u64,
        "{}",
        last.output
    );
}

/// Which of `samples` the document's schema `name` accepts, as judged by `jsonschema_rs`, the validator
/// schemathesis checks with (ECMA-262 patterns: `$` is the end of the text).
fn schema_accepts(document: &Value, name: &str, samples: &[&str]) -> Vec<bool> {
    let script = "import json, sys, jsonschema_rs\n\
        request = json.load(sys.stdin)\n\
        validator = jsonschema_rs.validator_for(request['schema'])\n\
        print(json.dumps([validator.is_valid(s) for s in request['samples']]))";
    let schema = &document["components"]["schemas"][name];
    assert!(
        schema["pattern"].is_string(),
        "{name} has a pattern: {schema}"
    );
    let mut child = Command::new("python3")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("python3 runs (schemathesis needs it too)");
    let request = json!({"schema": schema, "samples": samples});
    std::io::Write::write_all(
        &mut child.stdin.take().unwrap(),
        request.to_string().as_bytes(),
    )
    .unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3 with jsonschema_rs (installed with schemathesis) failed: {output:?}"
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

#[tokio::test]
async fn the_documents_name_patterns_accept_exactly_the_names_the_core_accepts() {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let document = Api::new(&server.url).get("/api/v1/openapi.json").await.body;
    let long = "a".repeat(64);
    let too_long = "a".repeat(65);
    let names: Vec<&str> = vec![
        "ab",
        "a1",
        "acme",
        "a-b",
        "notes-search",
        "x0-y1-z2",
        "a",
        "1a",
        "-a",
        "a-",
        "a--b",
        "Acme",
        "ac_me",
        "a\u{e9}",
        "a b",
        "ab\n",
        &long,
        &too_long,
        "",
    ];
    let accepted = schema_accepts(&document, "Name", &names);
    for (name, accepted) in names.iter().zip(accepted) {
        assert_eq!(
            accepted,
            name.parse::<locara_core::names::PublisherName>().is_ok(),
            "the document and the core disagree on the name {name:?}"
        );
    }
    let apps: Vec<String> = names
        .iter()
        .flat_map(|name| [format!("acme/{name}"), format!("{name}/notes")])
        .chain([
            "acme".to_owned(),
            "acme/notes/x".to_owned(),
            "/notes".to_owned(),
        ])
        .collect();
    let apps: Vec<&str> = apps.iter().map(String::as_str).collect();
    let accepted = schema_accepts(&document, "AppName", &apps);
    for (app, accepted) in apps.iter().zip(accepted) {
        assert_eq!(
            accepted,
            app.parse::<locara_core::names::AppName>().is_ok(),
            "the document and the core disagree on the app name {app:?}"
        );
    }
    let texts = [
        "notes",
        " notes ",
        "x",
        "",
        "   ",
        "a\tb",
        "\u{85}x",
        "\u{3000}",
        "caf\u{e9}",
    ];
    let accepted = schema_accepts(&document, "ShortText", &texts);
    for (text, accepted) in texts.iter().zip(accepted) {
        let server_accepts = !text.trim().is_empty()
            && text.chars().count() <= 64
            && !text.chars().any(char::is_control);
        assert_eq!(
            accepted, server_accepts,
            "the document and the search rule disagree on {text:?}"
        );
    }
}

#[tokio::test]
async fn framework_refusals_are_problems_too() {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let api = Api::new(&server.url);
    let token = sign_up(&api, "framework").await.token;
    let not_a_number = api
        .call("GET", "/api/v1/builds/seven", Some(&token), None, None)
        .await;
    assert_eq!(not_a_number.status, 400, "{}", not_a_number.body);
    assert_eq!(not_a_number.problem(), "invalid-request");
    assert!(
        not_a_number.detail().contains("seven"),
        "{}",
        not_a_number.body
    );
    let wrong_method = api.call("PATCH", "/api/v1/account", None, None, None).await;
    assert_eq!(wrong_method.status, 405, "{}", wrong_method.body);
    assert_eq!(wrong_method.problem(), "method-not-allowed");
    assert_eq!(
        wrong_method
            .headers
            .get("allow")
            .map(|value| value.to_str().unwrap()),
        Some("GET,HEAD")
    );
}
