//! An OpenID Connect issuer on 127.0.0.1: a discovery document, a JWK Set, and signing keys that tests
//! mint ID tokens with — honest ones, and the forgeries a verifier must refuse.
//!
//! The issuer is real HTTP (axum on a free loopback port), so a verifier exercises exactly the fetches and
//! parsing it does against a production issuer; only the transport is plain `http://`.
//!
//! Keys: one Ed25519 (`EdDSA`) key is made in-process; the ECDSA P-256 (`ES256`) and RSA-2048 (`RS256`) keys
//! are made by the system `openssl genpkey` command, because no dependency of this crate generates them.
//! Every key has a random `kid`. Keys stay published after a rotation, as a real issuer keeps old keys
//! while tokens signed with them are still valid.

use std::net::SocketAddr;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Serialize;
use serde_json::{Map, Value, json};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// The algorithms an [`Issuer`] holds a key for from the start; [`Issuer::mint`] uses the first.
pub const ALGORITHMS: [Algorithm; 3] = [Algorithm::EdDSA, Algorithm::ES256, Algorithm::RS256];

/// How long the tokens made from [`Issuer::claims`] stay valid, in seconds.
pub const TOKEN_LIFETIME_SECONDS: i64 = 600;

/// The fixed DER prefix of an unencrypted PKCS#8 v1 Ed25519 private key; the 32-byte seed follows it.
const ED25519_PKCS8_PREFIX: [u8; 16] = [
    0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20,
];

/// A private signing key with its `kid` and public JWK.
#[derive(Clone)]
pub struct SigningKey {
    kid: String,
    algorithm: Algorithm,
    private: EncodingKey,
    public_jwk: Value,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.kid)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// Makes a fresh key with a random `kid` for `EdDSA`, `ES256` or `RS256` (the last two run `openssl`).
    pub fn generate(algorithm: Algorithm) -> std::io::Result<Self> {
        install_crypto_provider();
        let private = match algorithm {
            Algorithm::EdDSA => {
                let mut der = ED25519_PKCS8_PREFIX.to_vec();
                der.extend_from_slice(&random_bytes::<32>()?);
                EncodingKey::from_ed_der(&der)
            }
            Algorithm::ES256 => {
                let pem =
                    openssl_genpkey(&["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"])?;
                EncodingKey::from_ec_pem(&pem).map_err(std::io::Error::other)?
            }
            Algorithm::RS256 => {
                let pem =
                    openssl_genpkey(&["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"])?;
                EncodingKey::from_rsa_pem(&pem).map_err(std::io::Error::other)?
            }
            other => {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::Unsupported,
                    format!("the test issuer makes EdDSA, ES256 and RS256 keys, not {other:?}"),
                ));
            }
        };
        let kid = hex(&random_bytes::<8>()?);
        let mut jwk = Jwk::from_encoding_key(&private, algorithm).map_err(std::io::Error::other)?;
        jwk.common.key_id = Some(kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        let public_jwk = serde_json::to_value(&jwk).map_err(std::io::Error::other)?;
        Ok(Self {
            kid,
            algorithm,
            private,
            public_jwk,
        })
    }

    /// The key's own `kid`, as its JWK publishes it.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The algorithm the key signs with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The public key as a JWK (`kty`, `kid`, `use`, `alg` and the key parameters).
    pub fn public_jwk(&self) -> &Value {
        &self.public_jwk
    }

    /// Signs `claims` with a header naming this key's algorithm and `kid` — which may be another key's
    /// `kid`, to forge a token that points at a published key it was not signed with.
    ///
    /// Panics if the claims do not serialize to JSON.
    pub fn sign(&self, kid: &str, claims: &impl Serialize) -> String {
        let mut header = Header::new(self.algorithm);
        header.kid = Some(kid.to_owned());
        self.sign_with_header(&header, claims)
    }

    /// Signs `claims` under any header (for example one without a `kid`, or with `crit`).
    ///
    /// Panics if `header.alg` is not this key's algorithm family or the claims do not serialize.
    pub fn sign_with_header(&self, header: &Header, claims: &impl Serialize) -> String {
        jsonwebtoken::encode(header, claims, &self.private)
            .unwrap_or_else(|error| panic!("signing a test token with {}: {error}", self.kid))
    }
}

/// A running OpenID Connect issuer on 127.0.0.1; stops serving when dropped.
pub struct Issuer {
    shared: Arc<Shared>,
    server: JoinHandle<()>,
}

struct Shared {
    url: String,
    keys: Mutex<Vec<SigningKey>>,
    advertised_issuer: Mutex<Option<String>>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
}

impl std::fmt::Debug for Issuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Issuer")
            .field("url", &self.shared.url)
            .finish_non_exhaustive()
    }
}

impl Drop for Issuer {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Issuer {
    /// Starts an issuer on a free port of 127.0.0.1 with one key for each of [`ALGORITHMS`].
    pub async fn start() -> std::io::Result<Self> {
        let keys = tokio::task::spawn_blocking(|| {
            ALGORITHMS
                .iter()
                .map(|&algorithm| SigningKey::generate(algorithm))
                .collect::<std::io::Result<Vec<_>>>()
        })
        .await
        .map_err(std::io::Error::other)??;
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Shared {
            url,
            keys: Mutex::new(keys),
            advertised_issuer: Mutex::new(None),
            discovery_fetches: AtomicUsize::new(0),
            jwks_fetches: AtomicUsize::new(0),
        });
        let app = Router::new()
            .route("/.well-known/openid-configuration", get(discovery_document))
            .route("/jwks", get(jwk_set))
            .with_state(shared.clone());
        let server = tokio::spawn(async move {
            // The task is aborted on drop; an accept error before that only ends the test's issuer.
            let _ = axum::serve(listener, app).await;
        });
        Ok(Self { shared, server })
    }

    /// The issuer identifier and base URL, `http://127.0.0.1:PORT` (no trailing slash).
    pub fn url(&self) -> &str {
        &self.shared.url
    }

    /// The URL of the JWK Set, as the discovery document gives it.
    pub fn jwks_uri(&self) -> String {
        format!("{}/jwks", self.shared.url)
    }

    /// The newest published key for `algorithm`; panics if the issuer has none.
    pub fn key(&self, algorithm: Algorithm) -> SigningKey {
        lock(&self.shared.keys)
            .iter()
            .rev()
            .find(|key| key.algorithm == algorithm)
            .cloned()
            .unwrap_or_else(|| panic!("the test issuer has no {algorithm:?} key"))
    }

    /// The `kid` of the newest published key for `algorithm`.
    pub fn kid(&self, algorithm: Algorithm) -> String {
        self.key(algorithm).kid
    }

    /// Claims of an honest ID token for `audience` and `subject`: `iss` is this issuer, `iat` and `nbf`
    /// are now, `exp` is [`TOKEN_LIFETIME_SECONDS`] from now. Tests change or remove members to make bad ones.
    pub fn claims(&self, audience: &str, subject: &str) -> Map<String, Value> {
        let now = unix_now();
        let claims = json!({
            "iss": self.shared.url,
            "aud": audience,
            "sub": subject,
            "iat": now,
            "nbf": now,
            "exp": now + TOKEN_LIFETIME_SECONDS,
        });
        match claims {
            Value::Object(map) => map,
            _ => unreachable!("a JSON object literal"),
        }
    }

    /// Signs `claims` with the newest `EdDSA` key, its `kid` in the header.
    pub fn mint(&self, claims: &impl Serialize) -> String {
        self.mint_with(Algorithm::EdDSA, claims)
    }

    /// Signs `claims` with the newest key for `algorithm`, its `kid` in the header.
    pub fn mint_with(&self, algorithm: Algorithm, claims: &impl Serialize) -> String {
        let key = self.key(algorithm);
        key.sign(&key.kid, claims)
    }

    /// Publishes a new key for `algorithm` (older keys stay published) and returns its `kid`; later
    /// [`Issuer::mint_with`] calls for that algorithm sign with it.
    pub async fn rotate_key(&self, algorithm: Algorithm) -> std::io::Result<String> {
        let key = tokio::task::spawn_blocking(move || SigningKey::generate(algorithm))
            .await
            .map_err(std::io::Error::other)??;
        let kid = key.kid.clone();
        lock(&self.shared.keys).push(key);
        Ok(kid)
    }

    /// Makes the discovery document name `issuer` instead of this issuer's URL (a misconfigured or
    /// impersonating issuer); `None` restores the truth.
    pub fn advertise_issuer(&self, issuer: Option<&str>) {
        *lock(&self.shared.advertised_issuer) = issuer.map(str::to_owned);
    }

    /// How many times the discovery document has been served.
    pub fn discovery_fetches(&self) -> usize {
        self.shared.discovery_fetches.load(Ordering::SeqCst)
    }

    /// How many times the JWK Set has been served.
    pub fn jwks_fetches(&self) -> usize {
        self.shared.jwks_fetches.load(Ordering::SeqCst)
    }
}

async fn discovery_document(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.discovery_fetches.fetch_add(1, Ordering::SeqCst);
    let issuer = lock(&shared.advertised_issuer)
        .clone()
        .unwrap_or_else(|| shared.url.clone());
    let algorithms: Vec<String> = ALGORITHMS
        .iter()
        .map(|algorithm| format!("{algorithm:?}"))
        .collect();
    Json(json!({
        "issuer": issuer,
        "jwks_uri": format!("{}/jwks", shared.url),
        "response_types_supported": ["id_token"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algorithms,
        "claims_supported": ["iss", "aud", "sub", "iat", "nbf", "exp"],
    }))
}

async fn jwk_set(State(shared): State<Arc<Shared>>) -> Json<Value> {
    shared.jwks_fetches.fetch_add(1, Ordering::SeqCst);
    let keys: Vec<Value> = lock(&shared.keys)
        .iter()
        .map(|key| key.public_jwk.clone())
        .collect();
    Json(json!({ "keys": keys }))
}

/// A token with header `{"alg":"none"}` (and `kid`, if given) and an empty signature.
pub fn unsigned_token(kid: Option<&str>, claims: &impl Serialize) -> String {
    let header = match kid {
        Some(kid) => json!({ "alg": "none", "typ": "JWT", "kid": kid }),
        None => json!({ "alg": "none", "typ": "JWT" }),
    };
    format!("{}.{}.", encode_part(&header), encode_part(claims))
}

/// A token MACed with HS256 under `secret`, with `kid` in the header: the key-confusion forgery, when
/// `secret` is a published public key.
pub fn hs256_token(secret: &[u8], kid: &str, claims: &impl Serialize) -> String {
    install_crypto_provider();
    let mut header = Header::new(Algorithm::HS256);
    header.kid = Some(kid.to_owned());
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret))
        .unwrap_or_else(|error| panic!("MACing a test token: {error}"))
}

/// Seconds since the Unix epoch, as tokens write `iat`, `nbf` and `exp`.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.as_secs() as i64)
        .unwrap_or(0)
}

fn encode_part(value: &impl Serialize) -> String {
    let json = serde_json::to_vec(value).unwrap_or_else(|error| panic!("test token part: {error}"));
    URL_SAFE_NO_PAD.encode(json)
}

fn openssl_genpkey(arguments: &[&str]) -> std::io::Result<Vec<u8>> {
    let output = Command::new("openssl")
        .arg("genpkey")
        .args(arguments)
        .output()
        .map_err(|error| {
            std::io::Error::new(
                error.kind(),
                format!(
                    "running `openssl genpkey` to make a test key (is openssl installed?): {error}"
                ),
            )
        })?;
    if !output.status.success() {
        return Err(std::io::Error::other(format!(
            "`openssl genpkey {}` failed: {}",
            arguments.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        )));
    }
    Ok(output.stdout)
}

fn random_bytes<const N: usize>() -> std::io::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(std::io::Error::other)?;
    Ok(bytes)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// jsonwebtoken picks its provider from crate features; installing aws-lc-rs explicitly keeps signing
/// working even if feature unification ever enables a second backend. A provider already installed wins.
fn install_crypto_provider() {
    let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
        &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
    );
}

/// The lock's data even if a panicking test thread poisoned it: test state stays inspectable.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};

    use super::*;

    /// A plain HTTP/1.1 GET over a blocking socket: this crate has no HTTP client, and needs none.
    fn get_json(url: &str, path: &str) -> Value {
        let address = url.trim_start_matches("http://");
        let mut stream = std::net::TcpStream::connect(address).unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        assert!(response.starts_with("HTTP/1.1 200"), "{response}");
        let (_, body) = response.split_once("\r\n\r\n").unwrap();
        serde_json::from_str(body).unwrap()
    }

    fn decode_part(part: &str) -> Value {
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
    }

    #[tokio::test]
    async fn issuer_serves_its_discovery_document_and_keys_and_counts_fetches() {
        let issuer = Issuer::start().await.unwrap();
        let url = issuer.url().to_owned();
        let (discovery, jwks) = tokio::task::spawn_blocking(move || {
            (
                get_json(&url, "/.well-known/openid-configuration"),
                get_json(&url, "/jwks"),
            )
        })
        .await
        .unwrap();
        assert_eq!(discovery["issuer"], json!(issuer.url()));
        assert_eq!(discovery["jwks_uri"], json!(issuer.jwks_uri()));
        assert_eq!(
            discovery["id_token_signing_alg_values_supported"],
            json!(["EdDSA", "ES256", "RS256"])
        );
        let kids: Vec<&str> = jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| key["kid"].as_str().unwrap())
            .collect();
        let expected: Vec<String> = ALGORITHMS
            .iter()
            .map(|&algorithm| issuer.kid(algorithm))
            .collect();
        assert_eq!(kids, expected);
        assert_eq!(issuer.discovery_fetches(), 1);
        assert_eq!(issuer.jwks_fetches(), 1);
    }

    #[tokio::test]
    async fn advertised_issuer_replaces_the_true_one_until_reset() {
        let issuer = Issuer::start().await.unwrap();
        issuer.advertise_issuer(Some("https://elsewhere.test"));
        let url = issuer.url().to_owned();
        let lying = tokio::task::spawn_blocking(move || {
            get_json(&url, "/.well-known/openid-configuration")
        })
        .await
        .unwrap();
        assert_eq!(lying["issuer"], json!("https://elsewhere.test"));
        issuer.advertise_issuer(None);
        let url = issuer.url().to_owned();
        let honest = tokio::task::spawn_blocking(move || {
            get_json(&url, "/.well-known/openid-configuration")
        })
        .await
        .unwrap();
        assert_eq!(honest["issuer"], json!(issuer.url()));
    }

    #[test]
    fn generated_keys_publish_their_kid_algorithm_and_key_type() {
        for (algorithm, kty) in [
            (Algorithm::EdDSA, "OKP"),
            (Algorithm::ES256, "EC"),
            (Algorithm::RS256, "RSA"),
        ] {
            let key = SigningKey::generate(algorithm).unwrap();
            let jwk = key.public_jwk();
            assert_eq!(jwk["kid"], json!(key.kid()));
            assert_eq!(jwk["kty"], json!(kty));
            assert_eq!(jwk["use"], json!("sig"));
            assert_eq!(jwk["alg"], json!(format!("{algorithm:?}")));
            assert!(jwk.get("d").is_none(), "no private part is published");
        }
        let first = SigningKey::generate(Algorithm::EdDSA).unwrap();
        let second = SigningKey::generate(Algorithm::EdDSA).unwrap();
        assert_ne!(first.kid(), second.kid());
        assert_ne!(first.public_jwk()["x"], second.public_jwk()["x"]);
    }

    #[tokio::test]
    async fn minted_tokens_name_the_newest_key_and_rotation_keeps_old_keys() {
        let issuer = Issuer::start().await.unwrap();
        let old_kid = issuer.kid(Algorithm::EdDSA);
        let new_kid = issuer.rotate_key(Algorithm::EdDSA).await.unwrap();
        assert_ne!(old_kid, new_kid);
        let token = issuer.mint(&issuer.claims("aud", "sub"));
        let parts: Vec<&str> = token.split('.').collect();
        assert_eq!(parts.len(), 3);
        let header = decode_part(parts[0]);
        assert_eq!(header["alg"], json!("EdDSA"));
        assert_eq!(header["kid"], json!(new_kid));
        let claims = decode_part(parts[1]);
        assert_eq!(claims["iss"], json!(issuer.url()));
        assert_eq!(
            claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
            TOKEN_LIFETIME_SECONDS
        );
        let published: Vec<String> = lock(&issuer.shared.keys)
            .iter()
            .map(|key| key.kid.clone())
            .collect();
        assert!(published.contains(&old_kid) && published.contains(&new_kid));
    }

    #[test]
    fn forged_tokens_have_the_headers_they_claim() {
        let claims = json!({ "sub": "x" });
        let unsigned = unsigned_token(Some("k1"), &claims);
        assert!(unsigned.ends_with('.'));
        assert_eq!(
            decode_part(unsigned.split('.').next().unwrap()),
            json!({ "alg": "none", "typ": "JWT", "kid": "k1" })
        );
        let maced = hs256_token(b"secret", "k1", &claims);
        let header = decode_part(maced.split('.').next().unwrap());
        assert_eq!(header["alg"], json!("HS256"));
        assert_eq!(header["kid"], json!("k1"));
    }
}
