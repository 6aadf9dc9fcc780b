//! Release requests over real HTTP: only a statement signed by a registered key of a verified publisher,
//! fresh, for this app, version and registered repository, with a fresh code, queues a build. Each refusal
//! is attacked on its own.

mod common;

use common::api::{
    Api, User, register_app, register_new_key, sign_up_with_two_factor, verify_by_dns,
};
use locara_core::digest::Digest;
use locara_core::keys::SigningKey;
use locara_core::statement::release::ReleaseStatement;
use locara_core::time::Timestamp;
use locara_store::MetadataStore;
use locara_testkit::dns::DnsServer;
use serde_json::{Value, json};

const REPOSITORY: &str = "https://git.example/alice/notes";

struct World {
    _data: tempfile::TempDir,
    _server: common::Server,
    _dns: DnsServer,
    api: Api,
    alice: User,
    key: SigningKey,
}

/// alice, verified, with the app alice/notes and a registered release key. No build workers run, so
/// accepted requests stay queued.
async fn world() -> World {
    let dns = DnsServer::start("example.test").await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let resolver = dns.address().to_string();
    let server = common::start_with(
        data.path(),
        &[
            ("LOCARA_REGISTRY_DNS_RESOLVER", &resolver),
            ("LOCARA_REGISTRY_BUILD_WORKERS", "0"),
        ],
    );
    let api = Api::new(&server.url);
    let mut alice = sign_up_with_two_factor(&api, "alice").await;
    verify_by_dns(&api, &dns, &mut alice, "alice", "alice.example.test").await;
    register_app(&api, &mut alice, "alice/notes", REPOSITORY).await;
    let key = register_new_key(&api, &mut alice, "alice").await;
    World {
        _data: data,
        _server: server,
        _dns: dns,
        api,
        alice,
        key,
    }
}

fn statement(
    app: &str,
    version: &str,
    repository: &str,
    created_at: Timestamp,
) -> ReleaseStatement {
    ReleaseStatement {
        app: app.parse().unwrap(),
        version: version.parse().unwrap(),
        repository: repository.to_owned(),
        commit: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
        manifest: Digest::of_bytes(b"[app]\n"),
        created_at,
    }
}

fn signed(statement: &ReleaseStatement, key: &SigningKey) -> Value {
    serde_json::from_slice(&statement.sign(key).to_json()).unwrap()
}

async fn publish(
    world: &mut World,
    version: &str,
    envelope: Value,
    otp: bool,
) -> common::api::Reply {
    let code = if otp {
        Some(world.alice.otp().await)
    } else {
        None
    };
    world
        .api
        .call(
            "POST",
            "/api/v1/apps/alice/notes/releases",
            Some(&world.alice.token.clone()),
            code.as_deref(),
            Some(json!({"version": version, "statement": envelope})),
        )
        .await
}

#[tokio::test]
async fn a_signed_fresh_statement_with_a_code_queues_a_build_once() {
    let mut world = world().await;
    let good = signed(
        &statement("alice/notes", "1.0.0", REPOSITORY, Timestamp::now()),
        &world.key,
    );
    let reply = publish(&mut world, "1.0.0", good.clone(), false).await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-required"));
    let reply = publish(&mut world, "1.0.0", good.clone(), true).await;
    assert_eq!(reply.status, 202, "{}", reply.body);
    assert_eq!(reply.body["state"], "queued");
    assert_eq!(
        reply.body["commit"],
        "0123456789abcdef0123456789abcdef01234567"
    );
    let id = reply.body["id"].as_i64().unwrap();
    let status = world
        .api
        .call(
            "GET",
            &format!("/api/v1/builds/{id}"),
            Some(&world.alice.token),
            None,
            None,
        )
        .await;
    assert_eq!(
        (status.status, status.body["state"].as_str()),
        (200, Some("queued"))
    );
    // The same statement again: that version is already being built.
    let reply = publish(&mut world, "1.0.0", good, true).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (409, "conflict"),
        "{}",
        reply.body
    );
    // Nobody outside the publisher reads the build.
    let mut mallory = sign_up_with_two_factor(&world.api, "mallory").await;
    let reply = world
        .api
        .call(
            "GET",
            &format!("/api/v1/builds/{id}"),
            Some(&mallory.token),
            None,
            None,
        )
        .await;
    assert_eq!((reply.status, reply.problem()), (403, "not-a-member"));
    let _ = mallory.otp().await;
}

#[tokio::test]
async fn forged_replayed_stale_and_mismatched_statements_are_refused() {
    let mut world = world().await;
    let now = Timestamp::now();
    let stranger = SigningKey::generate().unwrap();
    let cases = [
        // Signed by a key alice never registered.
        (
            "1.0.0",
            signed(
                &statement("alice/notes", "1.0.0", REPOSITORY, now),
                &stranger,
            ),
        ),
        // A statement for 1.0.0 replayed as a request for 2.0.0.
        (
            "2.0.0",
            signed(
                &statement("alice/notes", "1.0.0", REPOSITORY, now),
                &world.key,
            ),
        ),
        // A statement for another app.
        (
            "1.0.0",
            signed(
                &statement("alice/other", "1.0.0", REPOSITORY, now),
                &world.key,
            ),
        ),
        // Signed two hours ago (older than statement_max_age_seconds).
        (
            "1.0.0",
            signed(
                &statement(
                    "alice/notes",
                    "1.0.0",
                    REPOSITORY,
                    now.checked_sub_seconds(7200).unwrap(),
                ),
                &world.key,
            ),
        ),
        // From the future.
        (
            "1.0.0",
            signed(
                &statement(
                    "alice/notes",
                    "1.0.0",
                    REPOSITORY,
                    now.checked_add_seconds(3600).unwrap(),
                ),
                &world.key,
            ),
        ),
        // Another repository than the one registered.
        (
            "1.0.0",
            signed(
                &statement(
                    "alice/notes",
                    "1.0.0",
                    "https://git.example/mallory/notes",
                    now,
                ),
                &world.key,
            ),
        ),
    ];
    for (version, envelope) in cases {
        let reply = publish(&mut world, version, envelope.clone(), false).await;
        assert_eq!(
            (reply.status, reply.problem()),
            (400, "statement-refused"),
            "{envelope}: {}",
            reply.body
        );
    }
    // A tampered payload: the signature no longer verifies.
    let mut tampered = signed(
        &statement("alice/notes", "1.0.0", REPOSITORY, now),
        &world.key,
    );
    let payload = tampered["payload"].as_str().unwrap().to_owned();
    let mut bytes = base64_decode(&payload);
    let position = bytes.windows(5).position(|w| w == b"1.0.0").unwrap();
    bytes[position] = b'9';
    tampered["payload"] = json!(base64_encode(&bytes));
    let reply = publish(&mut world, "9.0.0", tampered, false).await;
    assert_eq!(reply.problem(), "statement-refused", "{}", reply.body);
    // Not an envelope at all.
    let reply = publish(&mut world, "1.0.0", json!({"payload": "x"}), false).await;
    assert_eq!(reply.problem(), "invalid-request");
}

#[tokio::test]
async fn an_unverified_publisher_cannot_publish_even_with_an_app_and_a_key() {
    let mut world = world().await;
    let mut bob = sign_up_with_two_factor(&world.api, "bob").await;
    // The API never registers an app for an unverified publisher; write one straight into the registry's
    // database (as an operator's mistake or a later loss of verification would leave it).
    let store = locara_store::SqliteStore::open(world._data.path().join("registry.sqlite3"))
        .await
        .unwrap();
    let publisher = store.publisher_by_name("bob").await.unwrap().unwrap();
    assert!(publisher.verification.is_none());
    store
        .register_app(
            locara_store::records::NewApp {
                publisher_id: publisher.id,
                name: "bob/tool".into(),
                canonical: "bob/tool".into(),
                repository: REPOSITORY.into(),
                created_at: 1,
            },
            b"{}".to_vec(),
        )
        .await
        .unwrap();
    store.close().await;
    let key = SigningKey::generate().unwrap();
    let code = bob.otp().await;
    let body = json!({"public_key": key.public_key().to_base64()});
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/publishers/bob/keys",
            Some(&bob.token),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    let envelope = signed(
        &statement("bob/tool", "1.0.0", REPOSITORY, Timestamp::now()),
        &key,
    );
    let code = bob.otp().await;
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/apps/bob/tool/releases",
            Some(&bob.token),
            Some(&code),
            Some(json!({"version": "1.0.0", "statement": envelope})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (403, "publisher-unverified"),
        "{}",
        reply.body
    );
    let _ = world.alice.otp().await;
}

#[tokio::test]
async fn unverified_publishers_revoked_keys_and_wrong_tokens_cannot_publish() {
    let mut world = world().await;
    // A revoked key's statements are refused.
    let code = world.alice.otp().await;
    let path = format!("/api/v1/publishers/alice/keys/{}", world.key.key_id());
    let reply = world
        .api
        .call("DELETE", &path, Some(&world.alice.token), Some(&code), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    let envelope = signed(
        &statement("alice/notes", "1.0.0", REPOSITORY, Timestamp::now()),
        &world.key,
    );
    let reply = publish(&mut world, "1.0.0", envelope, false).await;
    assert_eq!(reply.status, 403, "{}", reply.body);
    assert_eq!(reply.problem(), "no-release-key");

    // An unverified publisher (bob) cannot publish, whatever it signs.
    let mut bob = sign_up_with_two_factor(&world.api, "bob").await;
    let body = json!({"version": "1.0.0", "statement": {}});
    let code = bob.otp().await;
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/apps/alice/notes/releases",
            Some(&bob.token),
            Some(&code),
            Some(body.clone()),
        )
        .await;
    assert_eq!(reply.problem(), "not-a-member", "{}", reply.body);
    // A token without the publish scope.
    let code = world.alice.otp().await;
    let token_body = json!({"name": "admin only", "scopes": ["admin"], "expires_in_days": 1});
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&world.alice.token),
            Some(&code),
            Some(token_body),
        )
        .await;
    let admin_token = reply.body["token"].as_str().unwrap().to_owned();
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/apps/alice/notes/releases",
            Some(&admin_token),
            None,
            Some(body),
        )
        .await;
    assert_eq!((reply.status, reply.problem()), (403, "token-scope"));
}

fn base64_decode(text: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .unwrap()
}

fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
