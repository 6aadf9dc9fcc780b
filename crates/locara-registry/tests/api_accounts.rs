//! Accounts, TOTP and tokens over real HTTP against the real binary: each security rule attacked.

mod common;

use common::api::{
    Api, PASSWORD, enable_two_factor, oathtool_code, sign_up, sign_up_with_two_factor, unix_now,
};
use locara_store::MetadataStore;
use serde_json::json;

async fn server() -> (tempfile::TempDir, common::Server, Api) {
    let data = tempfile::tempdir().unwrap();
    let server = common::start(data.path());
    let api = Api::new(&server.url);
    (data, server, api)
}

fn login_body(name: &str, otp: Option<&str>) -> serde_json::Value {
    let mut body = json!({"username": name, "password": PASSWORD});
    if let Some(otp) = otp {
        body["otp"] = json!(otp);
    }
    body
}

#[tokio::test]
async fn sign_up_refuses_bad_names_short_passwords_and_taken_or_look_alike_names() {
    let (_data, _server, api) = server().await;
    sign_up(&api, "alice").await;
    for (body, problem) in [
        (
            json!({"username": "Alice", "password": PASSWORD}),
            "invalid-request",
        ),
        (
            json!({"username": "al", "password": "short"}),
            "invalid-request",
        ),
        (
            json!({"username": "alice", "password": PASSWORD}),
            "conflict",
        ),
        (
            json!({"username": "bob", "password": PASSWORD, "admin": true}),
            "invalid-request",
        ),
    ] {
        let reply = api
            .call("POST", "/api/v1/accounts", None, None, Some(body.clone()))
            .await;
        assert_eq!(reply.problem(), problem, "{body}: {}", reply.body);
    }
    // `a-lice` folds to the same canonical form as `alice`.
    sign_up(&api, "carol-x").await;
    let reply = api
        .call(
            "POST",
            "/api/v1/accounts",
            None,
            None,
            Some(json!({"username": "carolx", "password": PASSWORD})),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(reply.detail().contains("carol-x"), "{}", reply.detail());
}

#[tokio::test]
async fn login_needs_the_second_factor_once_enabled_and_codes_are_single_use() {
    let (_data, _server, api) = server().await;
    let mut user = sign_up_with_two_factor(&api, "alice").await;
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(login_body("alice", None)),
        )
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-required"));

    let code = user.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(login_body("alice", Some(&code))),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    // The same code again: a replay.
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(login_body("alice", Some(&code))),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "otp-replayed"),
        "{}",
        reply.body
    );
    // A code of a step at or before the last one used is a replay too, even if never sent before.
    let secret = user.secret.clone().unwrap();
    let old = oathtool_code(&secret, (unix_now() / 30 - 1) * 30);
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(login_body("alice", Some(&old))),
        )
        .await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    // A wrong code.
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(login_body("alice", Some("000000"))),
        )
        .await;
    assert!(
        matches!(reply.problem(), "otp-invalid" | "otp-replayed"),
        "{}",
        reply.body
    );

    // Recovery codes work once each.
    let recovery = user.recovery_codes[0].clone();
    let body = json!({"username": "alice", "password": PASSWORD, "recovery_code": recovery});
    let reply = api
        .call("POST", "/api/v1/session", None, None, Some(body.clone()))
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let reply = api
        .call("POST", "/api/v1/session", None, None, Some(body))
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "recovery-code-invalid")
    );
}

#[tokio::test]
async fn an_account_without_two_factor_can_read_but_not_act() {
    let (_data, _server, api) = server().await;
    let user = sign_up(&api, "alice").await;
    let token = Some(user.token.as_str());
    let reply = api.call("GET", "/api/v1/account", token, None, None).await;
    assert_eq!(
        (reply.status, &reply.body["two_factor"]),
        (200, &json!(false))
    );
    assert_eq!(api.get("/api/v1/publishers/alice").await.status, 200);
    let key = locara_core::keys::SigningKey::generate()
        .unwrap()
        .public_key()
        .to_base64();
    for (method, path, body) in [
        ("POST", "/api/v1/publishers", json!({"name": "acme"})),
        (
            "POST",
            "/api/v1/publishers/alice/keys",
            json!({"public_key": key}),
        ),
        (
            "POST",
            "/api/v1/apps",
            json!({"name": "alice/notes", "repository": "https://git.example/n"}),
        ),
        (
            "POST",
            "/api/v1/tokens",
            json!({"name": "ci", "scopes": ["publish"], "expires_in_days": 30}),
        ),
        (
            "POST",
            "/api/v1/publishers/alice/verification/dns",
            json!({"domain": "alice.example"}),
        ),
    ] {
        let reply = api
            .call(method, path, token, Some("123456"), Some(body))
            .await;
        assert_eq!(
            (reply.status, reply.problem()),
            (403, "two-factor-required"),
            "{method} {path}: {}",
            reply.body
        );
    }
}

#[tokio::test]
async fn repeated_failures_are_rate_limited_even_for_the_right_password() {
    let (_data, _server, api) = server().await;
    sign_up(&api, "alice").await;
    for _ in 0..5 {
        let body = json!({"username": "alice", "password": "wrong password!!"});
        let reply = api
            .call("POST", "/api/v1/session", None, None, Some(body))
            .await;
        assert_eq!((reply.status, reply.problem()), (401, "login-failed"));
    }
    let reply = api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(login_body("alice", None)),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (429, "rate-limited"),
        "{}",
        reply.body
    );
    let retry_after: u64 = reply.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 15 * 60);
    // An unknown user gets the same answer as a wrong password.
    let body = json!({"username": "nobody", "password": PASSWORD});
    let reply = api
        .call("POST", "/api/v1/session", None, None, Some(body))
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "login-failed"));
}

/// Bad and replayed codes sent with a stolen admin token from one address lock that token there, and the
/// owner's valid code from their own session and address is accepted while the attacker is locked out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attackers_bad_codes_lock_the_stolen_token_not_the_owner() {
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("server.log");
    let server = common::start_logging(
        &data.path().join("registry"),
        &[("LOCARA_LOG_FORMAT", "json")],
        std::process::Stdio::from(std::fs::File::create(&log_path).unwrap()),
    );
    let owner_api = Api::from_address(&server.url, "127.0.0.1".parse().unwrap());
    let attacker_api = Api::from_address(&server.url, "127.0.0.2".parse().unwrap());
    let mut alice = sign_up_with_two_factor(&owner_api, "alice").await;
    let code = alice.otp().await;
    // The attacker saw this code used: replaying it must fail too.
    let seen_code = code.clone();
    let body = json!({"name": "laptop", "scopes": ["admin", "publish"], "expires_in_days": 30});
    let reply = owner_api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&alice.token),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let stolen = reply.body["token"].as_str().unwrap().to_owned();
    let stolen_id = reply.body["id"].as_i64().unwrap();
    let owner_code = alice.otp().await;

    let key_body = || {
        let key = locara_core::keys::SigningKey::generate().unwrap();
        json!({"public_key": key.public_key().to_base64()})
    };
    let locked = std::sync::Arc::new(tokio::sync::Notify::new());
    let owner_done = std::sync::Arc::new(tokio::sync::Notify::new());
    let attacker = {
        let (locked, owner_done, api) = (locked.clone(), owner_done.clone(), attacker_api.clone());
        let (stolen, seen_code) = (stolen.clone(), seen_code.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            let mut after_owner = Vec::new();
            let mut owner_finished = std::pin::pin!(owner_done.notified());
            let mut done = false;
            // Bounded, in case the owner's request never completes; normally it ends five attempts after.
            for attempt in 0..5_000 {
                let guess = if attempt % 3 == 0 {
                    seen_code.clone()
                } else {
                    format!("{:06}", (attempt * 7919) % 1_000_000)
                };
                let reply = api
                    .call(
                        "POST",
                        "/api/v1/publishers/alice/keys",
                        Some(&stolen),
                        Some(&guess),
                        Some(key_body()),
                    )
                    .await;
                let problem = reply.problem().to_owned();
                if reply.status == 429 {
                    locked.notify_one();
                }
                done = done || is_ready(owner_finished.as_mut());
                if done {
                    after_owner.push((reply.status, problem.clone()));
                }
                statuses.push((reply.status, problem));
                if done && after_owner.len() >= 5 {
                    break;
                }
            }
            (statuses, after_owner)
        })
    };
    let owner = {
        let (locked, owner_done, api) = (locked.clone(), owner_done.clone(), owner_api.clone());
        let token = alice.token.clone();
        tokio::spawn(async move {
            locked.notified().await;
            let reply = api
                .call(
                    "POST",
                    "/api/v1/publishers/alice/keys",
                    Some(&token),
                    Some(&owner_code),
                    Some(key_body()),
                )
                .await;
            owner_done.notify_one();
            (reply.status, reply.body)
        })
    };
    let (owner_status, owner_body) = owner.await.unwrap();
    let (statuses, after_owner) = attacker.await.unwrap();
    assert_eq!(owner_status, 201, "the owner was locked out: {owner_body}");
    let first_locked = statuses
        .iter()
        .position(|(status, _)| *status == 429)
        .expect("the attacker was never rate limited");
    assert_eq!(
        first_locked,
        locara_registry::auth::MAX_FAILURES_PER_WINDOW,
        "{statuses:?}"
    );
    for (status, problem) in &statuses[..first_locked] {
        assert!(
            *status == 401 && (problem == "otp-invalid" || problem == "otp-replayed"),
            "{statuses:?}"
        );
    }
    assert!(
        statuses[first_locked..]
            .iter()
            .all(|(status, problem)| *status == 429 && problem == "rate-limited"),
        "{statuses:?}"
    );
    assert!(
        !after_owner.is_empty(),
        "the attacker stopped before the owner acted"
    );

    // The owner sees what happened: failed and replayed codes and the lock, with the attacker's address
    // and the stolen token's id; nothing from the owner's own address.
    let reply = owner_api
        .call(
            "GET",
            "/api/v1/account/events",
            Some(&alice.token),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let events = reply.body.as_array().unwrap();
    let kinds: Vec<&str> = events
        .iter()
        .map(|event| event["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds[0], "locked", "newest first: {kinds:?}");
    assert!(
        kinds.contains(&"code-failed") && kinds.contains(&"code-replayed"),
        "{kinds:?}"
    );
    assert_eq!(
        events.len(),
        locara_registry::auth::MAX_FAILURES_PER_WINDOW + 1,
        "refused-while-locked attempts are logged, not stored: {kinds:?}"
    );
    for event in events {
        assert_eq!(event["client_address"], "127.0.0.2", "{event}");
        assert_eq!(event["token_id"], stolen_id, "{event}");
        assert!(event["at"].as_str().unwrap().ends_with('Z'), "{event}");
    }
    // The stolen token cannot read them (only a signed-in session can).
    let reply = attacker_api
        .call("GET", "/api/v1/account/events", Some(&stolen), None, None)
        .await;
    assert_eq!((reply.status, reply.problem()), (403, "session-required"));

    // A password sign-in: the attacker's wrong passwords lock their address only; the owner signs in from
    // theirs (with a recovery code, so no TOTP step is waited for).
    for _ in 0..locara_registry::auth::MAX_FAILURES_PER_WINDOW {
        let body = json!({"username": "alice", "password": "a wrong password guess"});
        let reply = attacker_api
            .call("POST", "/api/v1/session", None, None, Some(body))
            .await;
        assert_eq!((reply.status, reply.problem()), (401, "login-failed"));
    }
    let reply = attacker_api
        .call(
            "POST",
            "/api/v1/session",
            None,
            None,
            Some(login_body("alice", None)),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (429, "rate-limited"),
        "{}",
        reply.body
    );
    let mut body = login_body("alice", None);
    body["recovery_code"] = json!(alice.recovery_codes[0]);
    let reply = owner_api
        .call("POST", "/api/v1/session", None, None, Some(body))
        .await;
    assert_eq!(
        reply.status, 201,
        "the owner's sign-in was locked: {}",
        reply.body
    );
    let reply = owner_api
        .call(
            "GET",
            "/api/v1/account/events",
            Some(&alice.token),
            None,
            None,
        )
        .await;
    let sign_in_failures: Vec<&serde_json::Value> = reply
        .body
        .as_array()
        .unwrap()
        .iter()
        .filter(|event| event["kind"] == "password-failed")
        .collect();
    assert_eq!(
        sign_in_failures.len(),
        locara_registry::auth::MAX_FAILURES_PER_WINDOW
    );
    assert!(
        sign_in_failures
            .iter()
            .all(|event| event["token_id"].is_null() && event["client_address"] == "127.0.0.2")
    );

    // The operator's log names the username and address of each failure, never the codes.
    drop(server);
    let logs = std::fs::read_to_string(&log_path).unwrap();
    let warnings: Vec<serde_json::Value> = logs
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter(|record| record["fields"]["message"] == "authentication failure")
        .collect();
    assert_eq!(
        warnings.len(),
        2 * locara_registry::auth::MAX_FAILURES_PER_WINDOW,
        "{logs}"
    );
    for warning in &warnings {
        assert_eq!(warning["level"], "WARN", "{warning}");
        assert_eq!(warning["fields"]["username"], "alice", "{warning}");
        assert_eq!(
            warning["fields"]["client_address"], "127.0.0.2",
            "{warning}"
        );
    }
    for leaked in [
        seen_code.as_str(),
        "a wrong password guess",
        stolen.as_str(),
    ] {
        assert!(
            !logs.contains(leaked),
            "a secret reached the logs: {leaked}"
        );
    }
}

/// Whether a pinned future has completed, without waiting for it (polled once more after it has).
fn is_ready<F: std::future::Future>(future: std::pin::Pin<&mut F>) -> bool {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    future.poll(&mut context).is_ready()
}

#[tokio::test]
async fn tokens_are_created_under_two_factor_scoped_listed_and_revocable() {
    let (data, _server, api) = server().await;
    let mut user = sign_up(&api, "alice").await;
    enable_two_factor(&api, &mut user).await;
    let session = user.token.clone();
    let body = json!({"name": "ci", "scopes": ["publish"], "expires_in_days": 30});
    // Without a fresh code.
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&session),
            None,
            Some(body.clone()),
        )
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-required"));
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&session),
            Some("12345x"),
            Some(body.clone()),
        )
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-invalid"));
    // Bad scopes and lifetimes are refused before the code is spent.
    for bad in [
        json!({"name": "ci", "scopes": ["root"], "expires_in_days": 30}),
        json!({"name": "ci", "scopes": [], "expires_in_days": 30}),
        json!({"name": "ci", "scopes": ["publish"], "expires_in_days": 0}),
        json!({"name": "ci", "scopes": ["publish"], "expires_in_days": 9999}),
    ] {
        let reply = api
            .call(
                "POST",
                "/api/v1/tokens",
                Some(&session),
                Some("000000"),
                Some(bad.clone()),
            )
            .await;
        assert_eq!(reply.problem(), "invalid-request", "{bad}");
    }
    let code = user.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&session),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let publish_token = reply.body["token"].as_str().unwrap().to_owned();
    let publish_id = reply.body["id"].as_i64().unwrap();
    assert!(publish_token.starts_with("locara_pat_"));
    // The code cannot be used twice.
    let again = json!({"name": "ci2", "scopes": ["admin"], "expires_in_days": 1});
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&session),
            Some(&code),
            Some(again),
        )
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-replayed"));

    // Listed without secrets.
    let reply = api
        .call("GET", "/api/v1/tokens", Some(&session), None, None)
        .await;
    assert_eq!(reply.status, 200);
    let listed = reply.body.to_string();
    assert!(listed.contains("\"ci\"") && !listed.contains(&publish_token));

    // A publish-scoped token cannot create publishers, nor manage tokens.
    let reply = api
        .call(
            "POST",
            "/api/v1/publishers",
            Some(&publish_token),
            None,
            Some(json!({"name": "acme"})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (403, "token-scope"),
        "{}",
        reply.body
    );
    let reply = api
        .call("GET", "/api/v1/tokens", Some(&publish_token), None, None)
        .await;
    assert_eq!((reply.status, reply.problem()), (403, "session-required"));

    // An app-limited admin token acts only on its app.
    let code = user.otp().await;
    let body =
        json!({"name": "one app", "scopes": ["admin"], "app": "alice/notes", "expires_in_days": 1});
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&session),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let app_token = reply.body["token"].as_str().unwrap().to_owned();
    let body = json!({"name": "alice/other", "repository": "https://git.example/o"});
    let reply = api
        .call("POST", "/api/v1/apps", Some(&app_token), None, Some(body))
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (403, "token-app-scope"),
        "{}",
        reply.body
    );

    // Revoked: refused from then on.
    let reply = api
        .call(
            "DELETE",
            &format!("/api/v1/tokens/{publish_id}"),
            Some(&session),
            None,
            None,
        )
        .await;
    assert_eq!(reply.status, 204);
    let reply = api
        .call("GET", "/api/v1/account", Some(&publish_token), None, None)
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "token-revoked"));

    // Expired: a token whose expiry has passed (written straight into the registry's database, the one
    // way to have a past expiry without waiting a day) is refused.
    let store = locara_store::SqliteStore::open(data.path().join("registry.sqlite3"))
        .await
        .unwrap();
    let account = store.account_by_username("alice").await.unwrap().unwrap();
    let secret = "locara_pat_".to_owned() + &"ab".repeat(32);
    store
        .create_token(locara_store::records::NewToken {
            account_id: account.id,
            token_hash: locara_registry::auth::secret_hash(&secret),
            name: "old".into(),
            kind: locara_store::records::TokenKind::Api,
            scopes: vec!["admin".into()],
            app: None,
            created_at: unix_now() - 7200,
            expires_at: unix_now() - 3600,
        })
        .await
        .unwrap();
    store.close().await;
    let reply = api
        .call("GET", "/api/v1/account", Some(&secret), None, None)
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "token-expired"),
        "{}",
        reply.body
    );

    // Unknown and malformed tokens.
    let forged = "locara_pat_".to_owned() + &"cd".repeat(32);
    let reply = api
        .call("GET", "/api/v1/account", Some(&forged), None, None)
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "invalid-token"));
    let reply = api
        .call("GET", "/api/v1/account", Some("hunter2"), None, None)
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "invalid-token"));
    let reply = api.call("GET", "/api/v1/account", None, None, None).await;
    assert_eq!((reply.status, reply.problem()), (401, "unauthenticated"));

    // Logout revokes the session.
    let reply = api
        .call("DELETE", "/api/v1/session", Some(&session), None, None)
        .await;
    assert_eq!(reply.status, 204);
    let reply = api
        .call("GET", "/api/v1/account", Some(&session), None, None)
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "token-revoked"));
}

#[tokio::test]
async fn the_api_speaks_problem_details_openapi_metrics_and_request_ids() {
    let (_data, _server, api) = server().await;
    let reply = api.get("/api/v1/no-such-thing").await;
    assert_eq!((reply.status, reply.problem()), (404, "not-found"));
    let request_id = reply.headers.get("x-request-id").expect("a request id");
    assert_eq!(request_id.len(), 24);

    // Not JSON, wrong type, too large.
    let client = reqwest::Client::new();
    let response = client
        .post(format!("{}/api/v1/accounts", api.base))
        .body("username=alice")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 415);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let huge = json!({"username": "alice", "password": "x".repeat(200 * 1024)});
    // Its own client: the server answers before reading the whole body and closes that connection, which
    // a shared pool would otherwise try to reuse.
    let reply = Api::new(&api.base)
        .call("POST", "/api/v1/accounts", None, None, Some(huge))
        .await;
    assert_eq!((reply.status, reply.problem()), (413, "body-too-large"));

    let reply = api.get("/api/v1/openapi.json").await;
    assert_eq!(reply.status, 200);
    assert_eq!(reply.body["openapi"].as_str().map(|v| &v[..2]), Some("3."));
    for path in [
        "/api/v1/accounts",
        "/api/v1/session",
        "/api/v1/tokens",
        "/api/v1/apps",
        "/api/v1/publishers/{name}/keys",
    ] {
        assert!(
            reply.body["paths"].get(path).is_some(),
            "{path} missing from the OpenAPI document"
        );
    }

    let (status, metrics) = common::fetch(&format!("{}/metrics", api.base)).await;
    let metrics = String::from_utf8(metrics).unwrap();
    assert_eq!(status, 200);
    assert!(
        metrics.contains("locara_http_requests_total{method=\"GET\",route=\"/api/v1/openapi.json\",status=\"200\"}"),
        "{metrics}"
    );
}

#[tokio::test]
async fn logs_are_structured_carry_request_ids_and_hold_no_secrets() {
    let data = tempfile::tempdir().unwrap();
    let log_path = data.path().join("server.log");
    let log_file = std::fs::File::create(&log_path).unwrap();
    let server = common::start_logging(
        &data.path().join("registry"),
        &[("LOCARA_LOG_FORMAT", "json"), ("LOCARA_LOG", "debug")],
        std::process::Stdio::from(log_file),
    );
    let api = Api::new(&server.url);
    let mut user = sign_up(&api, "alice").await;
    enable_two_factor(&api, &mut user).await;
    let code = user.otp().await;
    let body = json!({"name": "ci", "scopes": ["publish"], "expires_in_days": 1});
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&user.token),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201);
    let api_token = reply.body["token"].as_str().unwrap().to_owned();
    let reply = api
        .call("GET", "/api/v1/account", Some(&api_token), None, None)
        .await;
    assert_eq!(reply.status, 200);
    let wrong = json!({"username": "alice", "password": "a wrong password guess"});
    api.call("POST", "/api/v1/session", None, None, Some(wrong))
        .await;
    drop(server);

    let logs = std::fs::read_to_string(&log_path).unwrap();
    let secret = user.secret.clone().unwrap();
    for leaked in [
        PASSWORD,
        "a wrong password guess",
        user.token.as_str(),
        api_token.as_str(),
        &api_token["locara_pat_".len()..],
        secret.as_str(),
        code.as_str(),
        user.recovery_codes[0].as_str(),
    ] {
        assert!(
            !logs.contains(leaked),
            "a secret reached the logs: {leaked}"
        );
    }
    let mut responses = 0;
    for line in logs.lines() {
        let record: serde_json::Value =
            serde_json::from_str(line).expect("one JSON object per line");
        if record["fields"]["message"] == "response" {
            responses += 1;
            let request_id = record["span"]["request_id"].as_str().unwrap();
            assert_eq!(request_id.len(), 24, "{line}");
            assert!(record["span"]["path"].as_str().unwrap().starts_with('/'));
        }
    }
    assert!(responses >= 6, "{logs}");
}
