//! Publisher verification by OIDC identity and trusted publishing, over real HTTP against the real binary
//! and a real OIDC issuer on loopback serving discovery and JWKS (from `locara-testkit`).

mod common;

use common::api::{Api, User, sign_up_with_two_factor};
use jsonwebtoken::Algorithm;
use locara_core::events::{ClaimPattern, Event, LogEntry};
use locara_testkit::oidc::{Issuer, SigningKey, hs256_token, unix_now, unsigned_token};
use serde_json::{Map, Value, json};

struct World {
    _data: tempfile::TempDir,
    server: common::Server,
    api: Api,
    issuer: Issuer,
    alice: User,
}

/// A registry trusting loopback issuers, alice verified by an OIDC identity, her app `alice/notes`, and a
/// trust for it: repository alice/notes, workflow release.yml, tags only.
async fn world() -> World {
    let issuer = Issuer::start().await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let server = common::start_with(
        data.path(),
        &[("LOCARA_REGISTRY_OIDC_ALLOW_HTTP_LOOPBACK", "true")],
    );
    let api = Api::new(&server.url);
    let mut alice = sign_up_with_two_factor(&api, "alice").await;

    let identity = issuer.mint(&issuer.claims(&server.url, "user:alice"));
    let code = alice.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/publishers/alice/verification/oidc",
            Some(&alice.token),
            Some(&code),
            Some(json!({"issuer": issuer.url(), "token": identity})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["verification"]["method"], "oidc");
    assert_eq!(
        reply.body["verification"]["subject"],
        format!("{} user:alice", issuer.url())
    );

    let body = json!({"name": "alice/notes", "repository": "https://git.example/alice/notes"});
    let code = alice.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/apps",
            Some(&alice.token),
            Some(&code),
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);

    let code = alice.otp().await;
    let trust = json!({
        "issuer": issuer.url(),
        "app": "alice/notes",
        "claims": [
            {"claim": "repository", "pattern": "alice/notes"},
            {"claim": "workflow", "pattern": "release.yml"},
            {"claim": "ref", "pattern": "refs/tags/*"},
        ],
    });
    let reply = api
        .call(
            "POST",
            "/api/v1/publishers/alice/oidc-trusts",
            Some(&alice.token),
            Some(&code),
            Some(trust),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["audience"], server.url.as_str());
    World {
        _data: data,
        server,
        api,
        issuer,
        alice,
    }
}

/// Claims a CI job for alice/notes's release workflow on a tag would carry.
fn ci_claims(world: &World) -> Map<String, Value> {
    let mut claims = world
        .issuer
        .claims(&world.server.url, "repo:alice/notes:ref:refs/tags/v1.0.0");
    claims.insert("repository".into(), json!("alice/notes"));
    claims.insert("workflow".into(), json!("release.yml"));
    claims.insert("ref".into(), json!("refs/tags/v1.0.0"));
    claims
}

async fn exchange(world: &World, token: &str) -> common::api::Reply {
    world
        .api
        .call(
            "POST",
            "/api/v1/trusted-publishing/token",
            None,
            None,
            Some(json!({"app": "alice/notes", "token": token})),
        )
        .await
}

#[tokio::test]
async fn a_trusted_token_is_exchanged_for_a_short_lived_publish_token_for_one_app() {
    let world = world().await;
    for algorithm in [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256] {
        let token = world.issuer.mint_with(algorithm, &ci_claims(&world));
        let reply = exchange(&world, &token).await;
        assert_eq!(reply.status, 201, "{algorithm:?}: {}", reply.body);
        assert_eq!(reply.body["kind"], "trusted-publishing");
        assert_eq!(reply.body["scopes"], json!(["publish"]));
        assert_eq!(reply.body["app"], "alice/notes");
        let expires: locara_core::time::Timestamp =
            reply.body["expires_at"].as_str().unwrap().parse().unwrap();
        assert!(expires.unix_seconds() <= common::api::unix_now() + 15 * 60 + 5);

        // It can do nothing but publish: no publishers, keys, apps or tokens.
        let publish = reply.body["token"].as_str().unwrap();
        let key = locara_core::keys::SigningKey::generate()
            .unwrap()
            .public_key()
            .to_base64();
        for (method, path, body) in [
            ("POST", "/api/v1/publishers", json!({"name": "ci-org"})),
            (
                "POST",
                "/api/v1/publishers/alice/keys",
                json!({"public_key": key}),
            ),
            (
                "POST",
                "/api/v1/apps",
                json!({"name": "alice/other", "repository": "https://git.example/o"}),
            ),
        ] {
            let reply = world
                .api
                .call(method, path, Some(publish), Some("123456"), Some(body))
                .await;
            assert_eq!(
                (reply.status, reply.problem()),
                (403, "token-scope"),
                "{path}"
            );
        }
        let reply = world
            .api
            .call("GET", "/api/v1/tokens", Some(publish), None, None)
            .await;
        assert_eq!(reply.problem(), "session-required");
    }
    // The trust and the verification are in the log.
    let (_, checkpoint) = common::fetch(&format!("{}/log/checkpoint", world.server.url)).await;
    let size: u64 = String::from_utf8(checkpoint)
        .unwrap()
        .lines()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut events = Vec::new();
    for index in 0..size {
        let (_, bytes) = common::fetch(&format!("{}/log/entries/{index}", world.server.url)).await;
        events.push(LogEntry::from_bytes(&bytes).unwrap().event);
    }
    assert!(events.contains(&Event::OidcTrusted {
        publisher: "alice".into(),
        app: Some("alice/notes".into()),
        issuer: world.issuer.url().to_owned(),
        audience: world.server.url.clone(),
        claims: vec![
            ClaimPattern {
                claim: "repository".into(),
                pattern: "alice/notes".into()
            },
            ClaimPattern {
                claim: "workflow".into(),
                pattern: "release.yml".into()
            },
            ClaimPattern {
                claim: "ref".into(),
                pattern: "refs/tags/*".into()
            },
        ],
        by: "alice".into(),
    }));
    assert!(
        events.iter().any(
            |event| matches!(event, Event::PublisherVerified { method, .. } if method == "oidc")
        )
    );
}

#[tokio::test]
async fn forged_foreign_expired_and_mismatched_tokens_are_refused() {
    let world = world().await;
    let claims = ci_claims(&world);
    let kid = world.issuer.kid(Algorithm::EdDSA);

    // Signed by a key that is not the issuer's, under the issuer's kid.
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let reply = exchange(&world, &stranger.sign(&kid, &claims)).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "oidc-bad-signature"),
        "{}",
        reply.body
    );

    // alg: none, and HS256 keyed with anything.
    let reply = exchange(&world, &unsigned_token(Some(&kid), &claims)).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "oidc-forbidden-algorithm"),
        "{}",
        reply.body
    );
    let reply = exchange(&world, &hs256_token(b"secret", &kid, &claims)).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "oidc-forbidden-algorithm"),
        "{}",
        reply.body
    );

    // Another issuer, not trusted; and its token claiming to be from the trusted one.
    let other = Issuer::start().await.unwrap();
    let mut foreign = claims.clone();
    foreign.insert("iss".into(), json!(other.url()));
    let reply = exchange(&world, &other.mint(&foreign)).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (403, "oidc-not-trusted"),
        "{}",
        reply.body
    );
    let reply = exchange(&world, &other.mint(&claims)).await;
    assert_eq!(reply.status, 401, "{}", reply.body);
    assert!(reply.problem().starts_with("oidc-"), "{}", reply.body);

    // Wrong audience, expired, not yet valid.
    let mut wrong_audience = claims.clone();
    wrong_audience.insert("aud".into(), json!("https://another-registry.example"));
    let reply = exchange(&world, &world.issuer.mint(&wrong_audience)).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "oidc-wrong-audience"),
        "{}",
        reply.body
    );
    let mut expired = claims.clone();
    expired.insert("iat".into(), json!(unix_now() - 3600));
    expired.insert("nbf".into(), json!(unix_now() - 3600));
    expired.insert("exp".into(), json!(unix_now() - 600));
    let reply = exchange(&world, &world.issuer.mint(&expired)).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "oidc-expired"),
        "{}",
        reply.body
    );
    let mut early = claims.clone();
    early.insert("nbf".into(), json!(unix_now() + 3600));
    let reply = exchange(&world, &world.issuer.mint(&early)).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "oidc-not-yet-valid"),
        "{}",
        reply.body
    );

    // Valid tokens whose claims the trust does not admit.
    for (claim, value) in [
        ("ref", "refs/heads/main"),
        ("repository", "mallory/notes"),
        ("workflow", "pull-request.yml"),
    ] {
        let mut mismatched = claims.clone();
        mismatched.insert(claim.into(), json!(value));
        let reply = exchange(&world, &world.issuer.mint(&mismatched)).await;
        assert_eq!(
            (reply.status, reply.problem()),
            (403, "oidc-claim-mismatch"),
            "{claim}: {}",
            reply.body
        );
        assert!(reply.detail().contains(claim), "{}", reply.detail());
    }
    let mut missing = claims.clone();
    missing.remove("workflow");
    let reply = exchange(&world, &world.issuer.mint(&missing)).await;
    assert_eq!(reply.status, 403, "{}", reply.body);

    // No trust for another app, and no such app.
    let body = json!({"app": "alice/unknown", "token": world.issuer.mint(&claims)});
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/trusted-publishing/token",
            None,
            None,
            Some(body),
        )
        .await;
    assert_eq!(reply.status, 404);
    // Verification by identity refuses a token for another audience, and records nothing.
    let mut alice = world.alice;
    let code = alice.otp().await;
    let identity = world.issuer.mint(
        &world
            .issuer
            .claims("https://elsewhere.example", "user:alice"),
    );
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/publishers/alice/verification/oidc",
            Some(&alice.token),
            Some(&code),
            Some(json!({"issuer": world.issuer.url(), "token": identity})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (401, "oidc-wrong-audience")
    );
}

#[tokio::test]
async fn trusts_need_claim_rules_an_owned_app_and_a_secure_issuer() {
    let mut world = world().await;
    for (body, problem) in [
        (
            json!({"issuer": world.issuer.url(), "claims": []}),
            "invalid-request",
        ),
        (
            json!({"issuer": world.issuer.url(), "claims": [{"claim": "repository", "pattern": "*"}]}),
            "invalid-request",
        ),
        (
            json!({"issuer": "http://ci.example", "claims": [{"claim": "repository", "pattern": "a/b"}]}),
            "invalid-request",
        ),
        // An app of another publisher is, for this one, an app that does not exist.
        (
            json!({"issuer": world.issuer.url(), "app": "mallory/notes", "claims": [{"claim": "repository", "pattern": "a/b"}]}),
            "not-found",
        ),
    ] {
        let reply = world
            .api
            .call(
                "POST",
                "/api/v1/publishers/alice/oidc-trusts",
                Some(&world.alice.token),
                Some("000000"),
                Some(body.clone()),
            )
            .await;
        assert_eq!(reply.problem(), problem, "{body}: {}", reply.body);
    }
    // Without a fresh code.
    let body = json!({"issuer": world.issuer.url(), "claims": [{"claim": "repository", "pattern": "alice/x"}]});
    let reply = world
        .api
        .call(
            "POST",
            "/api/v1/publishers/alice/oidc-trusts",
            Some(&world.alice.token),
            None,
            Some(body),
        )
        .await;
    assert_eq!(reply.problem(), "otp-required");
    let _ = world.alice.otp().await;
}
