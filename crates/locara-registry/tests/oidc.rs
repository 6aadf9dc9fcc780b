//! OIDC token verification over real HTTP against a real issuer on 127.0.0.1 (from `locara-testkit`).
//!
//! Every attack has its own test, which fails if the forged token verifies.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, Header};
use locara_registry::oidc::{
    ClaimRule, OidcError, OidcSettings, OidcVerifier, SignatureAlgorithm, check_claims,
};
use locara_testkit::oidc::{Issuer, SigningKey, hs256_token, unix_now, unsigned_token};
use serde_json::{Value, json};

const AUDIENCE: &str = "https://registry.locara.test";
const SUBJECT: &str = "repo:octo/app:ref:refs/heads/main";

fn loopback_settings() -> OidcSettings {
    OidcSettings {
        allow_http_loopback: true,
        ..OidcSettings::default()
    }
}

fn verifier() -> OidcVerifier {
    OidcVerifier::new(loopback_settings()).unwrap()
}

async fn refusal(verifier: &OidcVerifier, token: &str, issuer: &Issuer) -> OidcError {
    match verifier.verify(token, issuer.url(), AUDIENCE).await {
        Ok(verified) => panic!("a token that must be refused verified: {verified:?}"),
        Err(error) => error,
    }
}

#[tokio::test]
async fn valid_eddsa_token_verifies_and_returns_its_claims() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("repository".to_owned(), json!("octo/app"));
    let token = issuer.mint(&claims);

    let verified = verifier()
        .verify(&token, issuer.url(), AUDIENCE)
        .await
        .unwrap();
    assert_eq!(verified.issuer(), issuer.url());
    assert_eq!(verified.subject(), SUBJECT);
    assert_eq!(verified.algorithm(), SignatureAlgorithm::EdDsa);
    assert_eq!(verified.key_id(), issuer.kid(Algorithm::EdDSA));
    assert_eq!(verified.claims()["repository"], json!("octo/app"));
    assert_eq!(verified.claims(), &claims);
    assert_eq!(
        verified.expires_at().unix_seconds(),
        claims["exp"].as_u64().unwrap()
    );
}

#[tokio::test]
async fn rs256_and_es256_tokens_verify_too() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    for (algorithm, expected) in [
        (Algorithm::RS256, SignatureAlgorithm::Rs256),
        (Algorithm::ES256, SignatureAlgorithm::Es256),
    ] {
        let token = issuer.mint_with(algorithm, &issuer.claims(AUDIENCE, SUBJECT));
        let verified = verifier
            .verify(&token, issuer.url(), AUDIENCE)
            .await
            .unwrap();
        assert_eq!(verified.algorithm(), expected);
        assert_eq!(verified.key_id(), issuer.kid(algorithm));
    }
}

#[tokio::test]
async fn audience_list_containing_ours_is_accepted() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("aud".to_owned(), json!(["sigstore", AUDIENCE]));
    verifier()
        .verify(&issuer.mint(&claims), issuer.url(), AUDIENCE)
        .await
        .unwrap();
}

#[tokio::test]
async fn token_signed_by_another_key_under_a_published_kid_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    let claims = issuer.claims(AUDIENCE, SUBJECT);
    for algorithm in [Algorithm::EdDSA, Algorithm::RS256, Algorithm::ES256] {
        let attacker = SigningKey::generate(algorithm).unwrap();
        let forged = attacker.sign(&issuer.kid(algorithm), &claims);
        match refusal(&verifier, &forged, &issuer).await {
            OidcError::BadSignature { kid, .. } => assert_eq!(kid, issuer.kid(algorithm)),
            other => panic!("expected BadSignature for {algorithm:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn token_with_altered_claims_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let honest = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
    let parts: Vec<&str> = honest.split('.').collect();
    let mut claims = issuer.claims(AUDIENCE, "repo:evil/app:ref:refs/heads/main");
    claims.insert("exp".to_owned(), json!(unix_now() + 86_400 * 365));
    let altered = format!(
        "{}.{}.{}",
        parts[0],
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap()),
        parts[2]
    );
    assert!(matches!(
        refusal(&verifier(), &altered, &issuer).await,
        OidcError::BadSignature { .. }
    ));
}

#[tokio::test]
async fn token_from_another_issuer_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("iss".to_owned(), json!("https://token.actions.example.com"));
    match refusal(&verifier, &issuer.mint(&claims), &issuer).await {
        OidcError::WrongIssuer { expected, found } => {
            assert_eq!(expected, issuer.url());
            assert_eq!(found.as_deref(), Some("https://token.actions.example.com"));
        }
        other => panic!("expected WrongIssuer, got {other:?}"),
    }
    // A trailing slash is another issuer, and a token without iss names none.
    claims.insert("iss".to_owned(), json!(format!("{}/", issuer.url())));
    assert!(matches!(
        refusal(&verifier, &issuer.mint(&claims), &issuer).await,
        OidcError::WrongIssuer { .. }
    ));
    claims.remove("iss");
    assert!(matches!(
        refusal(&verifier, &issuer.mint(&claims), &issuer).await,
        OidcError::WrongIssuer { found: None, .. }
    ));
}

#[tokio::test]
async fn discovery_document_naming_another_issuer_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    issuer.advertise_issuer(Some("https://accounts.example.com"));
    let token = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
    match refusal(&verifier(), &token, &issuer).await {
        OidcError::DiscoveryIssuerMismatch { expected, found } => {
            assert_eq!(expected, issuer.url());
            assert_eq!(found, "https://accounts.example.com");
        }
        other => panic!("expected DiscoveryIssuerMismatch, got {other:?}"),
    }
    assert_eq!(
        issuer.jwks_fetches(),
        0,
        "keys of a mismatched issuer are not fetched"
    );
}

#[tokio::test]
async fn token_for_another_audience_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    let token = issuer.mint(&issuer.claims("https://other-registry.test", SUBJECT));
    match refusal(&verifier, &token, &issuer).await {
        OidcError::WrongAudience { expected, found } => {
            assert_eq!(expected, AUDIENCE);
            assert_eq!(found, vec!["https://other-registry.test".to_owned()]);
        }
        other => panic!("expected WrongAudience, got {other:?}"),
    }
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("aud".to_owned(), json!([]));
    assert!(matches!(
        refusal(&verifier, &issuer.mint(&claims), &issuer).await,
        OidcError::WrongAudience { .. }
    ));
    claims.remove("aud");
    assert!(matches!(
        refusal(&verifier, &issuer.mint(&claims), &issuer).await,
        OidcError::WrongAudience { .. }
    ));
}

#[tokio::test]
async fn expired_token_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let now = unix_now();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("iat".to_owned(), json!(now - 3_600));
    claims.insert("nbf".to_owned(), json!(now - 3_600));
    claims.insert("exp".to_owned(), json!(now - 600));
    match refusal(&verifier(), &issuer.mint(&claims), &issuer).await {
        OidcError::Expired {
            expired_at,
            leeway_seconds,
            ..
        } => {
            assert_eq!(expired_at.unix_seconds() as i64, now - 600);
            assert_eq!(leeway_seconds, 60);
        }
        other => panic!("expected Expired, got {other:?}"),
    }
}

#[tokio::test]
async fn token_expired_within_the_leeway_still_verifies() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("exp".to_owned(), json!(unix_now() - 5));
    verifier()
        .verify(&issuer.mint(&claims), issuer.url(), AUDIENCE)
        .await
        .unwrap();
    let strict = OidcVerifier::new(OidcSettings {
        leeway: Duration::ZERO,
        ..loopback_settings()
    })
    .unwrap();
    assert!(matches!(
        refusal(&strict, &issuer.mint(&claims), &issuer).await,
        OidcError::Expired { .. }
    ));
}

#[tokio::test]
async fn token_without_expiry_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.remove("exp");
    assert!(matches!(
        refusal(&verifier(), &issuer.mint(&claims), &issuer).await,
        OidcError::MissingClaim { claim: "exp", .. }
    ));
    claims.insert("exp".to_owned(), json!("tomorrow"));
    assert!(matches!(
        refusal(&verifier(), &issuer.mint(&claims), &issuer).await,
        OidcError::Malformed { .. }
    ));
}

#[tokio::test]
async fn token_before_its_not_before_time_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("nbf".to_owned(), json!(unix_now() + 600));
    match refusal(&verifier(), &issuer.mint(&claims), &issuer).await {
        OidcError::NotYetValid { claim, .. } => assert_eq!(claim, "nbf"),
        other => panic!("expected NotYetValid, got {other:?}"),
    }
}

#[tokio::test]
async fn token_issued_in_the_future_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("iat".to_owned(), json!(unix_now() + 600));
    match refusal(&verifier(), &issuer.mint(&claims), &issuer).await {
        OidcError::NotYetValid { claim, .. } => assert_eq!(claim, "iat"),
        other => panic!("expected NotYetValid, got {other:?}"),
    }
}

#[tokio::test]
async fn token_without_subject_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.remove("sub");
    assert!(matches!(
        refusal(&verifier(), &issuer.mint(&claims), &issuer).await,
        OidcError::MissingClaim { claim: "sub", .. }
    ));
}

#[tokio::test]
async fn unsigned_alg_none_token_is_refused_before_any_fetch() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    let claims = issuer.claims(AUDIENCE, SUBJECT);
    let kid = issuer.kid(Algorithm::EdDSA);
    let hand_built = |alg: &str| {
        let header = json!({ "alg": alg, "kid": kid });
        format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(serde_json::to_vec(&claims).unwrap())
        )
    };
    let tokens = [
        unsigned_token(Some(&kid), &claims),
        unsigned_token(None, &claims),
        hand_built("None"),
        hand_built("NONE"),
    ];
    for token in &tokens {
        match refusal(&verifier, token, &issuer).await {
            OidcError::ForbiddenAlgorithm { algorithm, .. } => {
                assert!(algorithm.eq_ignore_ascii_case("none"))
            }
            other => panic!("expected ForbiddenAlgorithm, got {other:?}"),
        }
    }
    // An unsigned token with some signature bytes appended is refused the same way.
    let padded = format!("{}c2lnbmF0dXJl", tokens[0]);
    assert!(matches!(
        refusal(&verifier, &padded, &issuer).await,
        OidcError::ForbiddenAlgorithm { .. }
    ));
    assert_eq!(issuer.discovery_fetches(), 0);
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn hs256_token_under_a_published_kid_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    let claims = issuer.claims(AUDIENCE, SUBJECT);
    let eddsa_key = issuer.key(Algorithm::EdDSA);
    let public_key = URL_SAFE_NO_PAD
        .decode(eddsa_key.public_jwk()["x"].as_str().unwrap())
        .unwrap();
    // Key confusion: MAC the token with the issuer's published public key as the HMAC secret.
    let rsa_key = issuer.key(Algorithm::RS256);
    let rsa_modulus = URL_SAFE_NO_PAD
        .decode(rsa_key.public_jwk()["n"].as_str().unwrap())
        .unwrap();
    let forgeries = [
        hs256_token(&public_key, eddsa_key.kid(), &claims),
        hs256_token(&rsa_modulus, rsa_key.kid(), &claims),
        hs256_token(b"some shared secret", eddsa_key.kid(), &claims),
    ];
    for forged in &forgeries {
        match refusal(&verifier, forged, &issuer).await {
            OidcError::ForbiddenAlgorithm { algorithm, .. } => assert_eq!(algorithm, "HS256"),
            other => panic!("expected ForbiddenAlgorithm, got {other:?}"),
        }
    }
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn algorithm_outside_the_configured_list_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let eddsa_only = OidcVerifier::new(OidcSettings {
        algorithms: vec![SignatureAlgorithm::EdDsa],
        ..loopback_settings()
    })
    .unwrap();
    let token = issuer.mint_with(Algorithm::RS256, &issuer.claims(AUDIENCE, SUBJECT));
    match refusal(&eddsa_only, &token, &issuer).await {
        OidcError::AlgorithmNotAllowed { algorithm, allowed } => {
            assert_eq!(algorithm, "RS256");
            assert_eq!(allowed, "EdDSA");
        }
        other => panic!("expected AlgorithmNotAllowed, got {other:?}"),
    }
    // An algorithm name nobody knows is refused the same way.
    let token = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
    let parts: Vec<&str> = token.split('.').collect();
    let odd_header = json!({ "alg": "XS999", "kid": issuer.kid(Algorithm::EdDSA) });
    let odd = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(odd_header.to_string()),
        parts[1],
        parts[2]
    );
    assert!(matches!(
        refusal(&eddsa_only, &odd, &issuer).await,
        OidcError::AlgorithmNotAllowed { .. }
    ));
    assert_eq!(issuer.jwks_fetches(), 0);
}

#[tokio::test]
async fn token_naming_a_key_of_another_type_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let claims = issuer.claims(AUDIENCE, SUBJECT);
    // Signed with the issuer's own RSA key, but pointing at its Ed25519 key.
    let token = issuer
        .key(Algorithm::RS256)
        .sign(&issuer.kid(Algorithm::EdDSA), &claims);
    match refusal(&verifier(), &token, &issuer).await {
        OidcError::KeyMismatch { kid, algorithm, .. } => {
            assert_eq!(kid, issuer.kid(Algorithm::EdDSA));
            assert_eq!(algorithm, SignatureAlgorithm::Rs256);
        }
        other => panic!("expected KeyMismatch, got {other:?}"),
    }
}

#[tokio::test]
async fn token_without_kid_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let token = issuer.key(Algorithm::EdDSA).sign_with_header(
        &Header::new(Algorithm::EdDSA),
        &issuer.claims(AUDIENCE, SUBJECT),
    );
    assert!(matches!(
        refusal(&verifier(), &token, &issuer).await,
        OidcError::Malformed { .. }
    ));
}

#[tokio::test]
async fn token_with_critical_header_extensions_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(issuer.kid(Algorithm::EdDSA));
    header.crit = Some(vec!["exp".to_owned()]);
    let token = issuer
        .key(Algorithm::EdDSA)
        .sign_with_header(&header, &issuer.claims(AUDIENCE, SUBJECT));
    match refusal(&verifier(), &token, &issuer).await {
        OidcError::Malformed { reason } => assert!(reason.contains("crit"), "{reason}"),
        other => panic!("expected Malformed, got {other:?}"),
    }
}

#[tokio::test]
async fn unknown_kid_triggers_one_refetch_and_a_rotated_key_then_verifies() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = OidcVerifier::new(OidcSettings {
        unknown_kid_refetch_interval: Duration::ZERO,
        ..loopback_settings()
    })
    .unwrap();
    verifier
        .verify(
            &issuer.mint(&issuer.claims(AUDIENCE, SUBJECT)),
            issuer.url(),
            AUDIENCE,
        )
        .await
        .unwrap();
    assert_eq!(issuer.jwks_fetches(), 1);

    let new_kid = issuer.rotate_key(Algorithm::EdDSA).await.unwrap();
    let token = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
    let verified = verifier
        .verify(&token, issuer.url(), AUDIENCE)
        .await
        .unwrap();
    assert_eq!(verified.key_id(), new_kid);
    assert_eq!(
        issuer.jwks_fetches(),
        2,
        "exactly one refetch for the new kid"
    );

    // A kid the issuer never published costs one refetch per verification, not more.
    let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let forged = stranger.sign(stranger.kid(), &issuer.claims(AUDIENCE, SUBJECT));
    match refusal(&verifier, &forged, &issuer).await {
        OidcError::UnknownKeyId { kid, issuer: named } => {
            assert_eq!(kid, stranger.kid());
            assert_eq!(named, issuer.url());
        }
        other => panic!("expected UnknownKeyId, got {other:?}"),
    }
    assert_eq!(issuer.jwks_fetches(), 3);
}

#[tokio::test]
async fn unknown_kids_do_not_refetch_within_the_refetch_interval() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    verifier
        .verify(
            &issuer.mint(&issuer.claims(AUDIENCE, SUBJECT)),
            issuer.url(),
            AUDIENCE,
        )
        .await
        .unwrap();
    for _ in 0..5 {
        let stranger = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let forged = stranger.sign(stranger.kid(), &issuer.claims(AUDIENCE, SUBJECT));
        assert!(matches!(
            refusal(&verifier, &forged, &issuer).await,
            OidcError::UnknownKeyId { .. }
        ));
    }
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn keys_are_cached_between_verifications() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    for algorithm in [Algorithm::EdDSA, Algorithm::RS256] {
        let token = issuer.mint_with(algorithm, &issuer.claims(AUDIENCE, SUBJECT));
        verifier
            .verify(&token, issuer.url(), AUDIENCE)
            .await
            .unwrap();
    }
    assert_eq!(issuer.discovery_fetches(), 1);
    assert_eq!(issuer.jwks_fetches(), 1);
}

#[tokio::test]
async fn stale_keys_are_fetched_again() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = OidcVerifier::new(OidcSettings {
        keys_cache_lifetime: Duration::ZERO,
        ..loopback_settings()
    })
    .unwrap();
    for _ in 0..2 {
        let token = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
        verifier
            .verify(&token, issuer.url(), AUDIENCE)
            .await
            .unwrap();
    }
    assert_eq!(issuer.jwks_fetches(), 2);
}

#[tokio::test]
async fn plain_http_issuer_off_loopback_is_refused_without_network_access() {
    let verifier = verifier();
    let issuer = Issuer::start().await.unwrap();
    let token = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
    for url in [
        "http://issuer.locara.test",
        "http://10.0.0.1",
        "http://[2001:db8::1]",
        "ftp://issuer.locara.test",
        "https://user:secret@issuer.locara.test",
        "https://issuer.locara.test?tenant=1",
        "issuer.locara.test",
    ] {
        match verifier.verify(&token, url, AUDIENCE).await {
            Err(OidcError::InsecureUrl { url: named, .. }) => assert_eq!(named, url),
            other => panic!("expected InsecureUrl for {url}, got {other:?}"),
        }
    }

    // Loopback http is refused too unless the settings allow it.
    let production = OidcVerifier::new(OidcSettings::default()).unwrap();
    assert!(matches!(
        production.verify(&token, issuer.url(), AUDIENCE).await,
        Err(OidcError::InsecureUrl { .. })
    ));
    assert_eq!(issuer.discovery_fetches(), 0);
}

#[tokio::test]
async fn oversized_token_is_refused() {
    let issuer = Issuer::start().await.unwrap();
    let mut claims = issuer.claims(AUDIENCE, SUBJECT);
    claims.insert("padding".to_owned(), json!("x".repeat(20_000)));
    let token = issuer.mint(&claims);
    match refusal(&verifier(), &token, &issuer).await {
        OidcError::TokenTooLarge { size, limit } => {
            assert_eq!(size, token.len());
            assert_eq!(limit, 16 * 1024);
        }
        other => panic!("expected TokenTooLarge, got {other:?}"),
    }
    assert_eq!(issuer.discovery_fetches(), 0);
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    let honest = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
    let parts: Vec<&str> = honest.split('.').collect();
    let not_json = URL_SAFE_NO_PAD.encode("not json");
    let tokens = [
        String::new(),
        "garbage".to_owned(),
        format!("{}.{}", parts[0], parts[1]),
        format!("{honest}.extra.parts"),
        format!("{}=.{}.{}", parts[0], parts[1], parts[2]),
        format!("{not_json}.{}.{}", parts[1], parts[2]),
        format!("{}.{}.", parts[0], parts[1]),
        // Properly signed, but the claims are a JSON string rather than an object.
        issuer.mint(&json!("not an object")),
    ];
    for token in &tokens {
        match verifier.verify(token, issuer.url(), AUDIENCE).await {
            Err(OidcError::Malformed { .. }) => {}
            other => panic!("expected Malformed for {token:?}, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn unreachable_issuer_is_a_fetch_error_naming_the_url() {
    let issuer = Issuer::start().await.unwrap();
    let url = issuer.url().to_owned();
    let token = issuer.mint(&issuer.claims(AUDIENCE, SUBJECT));
    drop(issuer);
    match verifier().verify(&token, &url, AUDIENCE).await {
        Err(OidcError::FetchFailed {
            url: fetched,
            document,
            ..
        }) => {
            assert_eq!(fetched, format!("{url}/.well-known/openid-configuration"));
            assert_eq!(document, "discovery document");
        }
        other => panic!("expected FetchFailed, got {other:?}"),
    }
}

#[tokio::test]
async fn errors_never_repeat_the_token() {
    let issuer = Issuer::start().await.unwrap();
    let verifier = verifier();
    let claims = issuer.claims(AUDIENCE, SUBJECT);
    let attacker = SigningKey::generate(Algorithm::EdDSA).unwrap();
    let mut expired = claims.clone();
    expired.insert("exp".to_owned(), json!(unix_now() - 3_600));
    let tokens = [
        attacker.sign(&issuer.kid(Algorithm::EdDSA), &claims),
        attacker.sign(attacker.kid(), &claims),
        issuer.mint(&expired),
        issuer.mint(&issuer.claims("https://other.test", SUBJECT)),
        hs256_token(b"secret", &issuer.kid(Algorithm::EdDSA), &claims),
        unsigned_token(None, &claims),
    ];
    for token in &tokens {
        let error = refusal(&verifier, token, &issuer).await;
        let message = format!("{error} {error:?}");
        for part in token.split('.').filter(|part| part.len() > 8) {
            assert!(
                !message.contains(part),
                "{} repeats part of the token",
                error.problem_type()
            );
        }
    }
}

#[test]
fn claim_rules_accept_exact_values_and_globs() {
    let claims = json!({
        "repository": "octo/app",
        "job_workflow_ref": "octo/app/.github/workflows/release.yml@refs/tags/v1.4.0",
        "ref": "refs/tags/v1.4.0",
    });
    let Value::Object(claims) = claims else {
        unreachable!()
    };
    let rules = [
        ClaimRule::new("repository", "octo/app"),
        ClaimRule::new(
            "job_workflow_ref",
            "octo/app/.github/workflows/release.yml@refs/tags/*",
        ),
        ClaimRule::new("ref", "refs/tags/v*"),
    ];
    check_claims(&rules, &claims).unwrap();
    check_claims(&[], &claims).unwrap();
}

#[test]
fn claim_rule_mismatch_names_the_claim_the_pattern_and_the_value() {
    let Value::Object(claims) = json!({ "repository": "octo/app-fork", "ref": "refs/heads/main" })
    else {
        unreachable!()
    };
    let rules = [
        ClaimRule::new("ref", "refs/heads/*"),
        ClaimRule::new("repository", "octo/app"),
    ];
    let error = check_claims(&rules, &claims).unwrap_err();
    assert_eq!(
        error,
        OidcError::ClaimMismatch {
            claim: "repository".to_owned(),
            pattern: "octo/app".to_owned(),
            found: "\"octo/app-fork\"".to_owned(),
        }
    );
    assert_eq!(error.problem_type(), "oidc-claim-mismatch");
    let message = error.to_string();
    for expected in ["repository", "\"octo/app\"", "\"octo/app-fork\""] {
        assert!(message.contains(expected), "{message}");
    }
}

#[test]
fn claim_rule_on_a_missing_or_non_string_claim_fails() {
    let Value::Object(claims) =
        json!({ "repository_id": 123456, "private": false, "owners": ["octo"] })
    else {
        unreachable!()
    };
    for (claim, pattern) in [
        ("repository", "*"),
        ("repository_id", "*"),
        ("private", "false"),
        ("owners", "*"),
    ] {
        match check_claims(&[ClaimRule::new(claim, pattern)], &claims) {
            Err(OidcError::ClaimMismatch {
                claim: named,
                found,
                ..
            }) => {
                assert_eq!(named, claim);
                assert!(!found.starts_with('"'), "{found}");
            }
            other => panic!("expected ClaimMismatch for {claim}, got {other:?}"),
        }
    }
}
