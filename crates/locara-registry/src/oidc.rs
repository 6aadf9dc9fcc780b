//! Checking OIDC identity tokens against an issuer's discovery document and JWKS.
//!
//! The registry uses this for publisher verification by OIDC identity and for trusted publishing (a CI job
//! trades an ID token for a short-lived publish token). [`OidcVerifier::verify`] takes the token, the
//! issuer the caller expects and the audience the token must name; a [`VerifiedToken`] can only be made by
//! it, so holding one means every check below passed.
//!
//! Invariants, in the order they are checked:
//! - The issuer URL is `https://`; plain `http://` only for a loopback host and only when
//!   [`OidcSettings::allow_http_loopback`] is set. This is checked before any network access.
//! - The token is at most [`OidcSettings::max_token_bytes`] long and is a JWS in compact form (three
//!   base64url parts, no padding). Its header names an algorithm from [`OidcSettings::algorithms`] —
//!   `none` and the HMAC algorithms cannot even be configured ([`SignatureAlgorithm`] has no such value) —
//!   and a `kid`, and marks no extension critical (`crit`). The algorithm is checked before any key lookup,
//!   so a forged header costs no fetch.
//! - Keys come only from the JWK Set named by `<issuer>/.well-known/openid-configuration`, whose `issuer`
//!   member must equal the expected issuer exactly. Key locations in the token header (`jku`, `jwk`, `x5u`)
//!   are ignored. Redirects are not followed; each document is capped at
//!   [`OidcSettings::max_document_bytes`] and each request at [`OidcSettings::http_timeout`].
//! - The JWK named by `kid` must fit the header's algorithm: its `alg`, when present, equals it, and its key
//!   type and curve are the ones that algorithm uses. Symmetric (`oct`) JWKs are never loaded.
//! - Only then is the signature checked, and after it the claims: `iss` equals the issuer exactly, `aud`
//!   (a string or an array) contains the audience, `exp` is present and not past, `nbf` and `iat` (when
//!   present) are not in the future — each time with [`OidcSettings::leeway`] — and `sub` is a string.
//!
//! Keys are cached per issuer for [`OidcSettings::keys_cache_lifetime`]. A `kid` the cache does not know
//! triggers one refetch, at most once per [`OidcSettings::unknown_kid_refetch_interval`], and a failed fetch
//! is remembered for that interval too, so no stream of tokens can make the registry hammer an issuer.
//!
//! Nothing here logs or returns the token. Values read from it (algorithm, `kid`, claims) appear in
//! errors, shortened, because they are the caller's own public data and say what was wrong.

use std::collections::HashMap;
use std::fmt;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey};
use locara_core::time::{MAX_UNIX_SECONDS, Timestamp};
use reqwest::Url;
use serde_json::{Map, Value};

/// The longest token-derived text (an algorithm, a `kid`, a claim) repeated in an error, in characters.
const MAX_SHOWN_CHARS: usize = 200;

/// An asymmetric JWS algorithm a token may be signed with.
///
/// `none` and the HMAC algorithms (`HS256`, …) have no value here on purpose: with HMAC the issuer's
/// published key would be the MAC secret, so anyone could sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SignatureAlgorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256 (`RS256`).
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384 (`RS384`).
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512 (`RS512`).
    Rs512,
    /// RSASSA-PSS with SHA-256 (`PS256`).
    Ps256,
    /// RSASSA-PSS with SHA-384 (`PS384`).
    Ps384,
    /// RSASSA-PSS with SHA-512 (`PS512`).
    Ps512,
    /// ECDSA on P-256 with SHA-256 (`ES256`).
    Es256,
    /// ECDSA on P-384 with SHA-384 (`ES384`).
    Es384,
    /// Ed25519 (`EdDSA`).
    EdDsa,
}

impl SignatureAlgorithm {
    /// Every algorithm this verifier can check.
    pub const ALL: [Self; 9] = [
        Self::Rs256,
        Self::Rs384,
        Self::Rs512,
        Self::Ps256,
        Self::Ps384,
        Self::Ps512,
        Self::Es256,
        Self::Es384,
        Self::EdDsa,
    ];

    /// The algorithm's JOSE name, as a token header's `alg` writes it.
    pub const fn name(self) -> &'static str {
        match self {
            Self::Rs256 => "RS256",
            Self::Rs384 => "RS384",
            Self::Rs512 => "RS512",
            Self::Ps256 => "PS256",
            Self::Ps384 => "PS384",
            Self::Ps512 => "PS512",
            Self::Es256 => "ES256",
            Self::Es384 => "ES384",
            Self::EdDsa => "EdDSA",
        }
    }

    /// The algorithm with JOSE name `name` (case-sensitive), if it is one of these.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|algorithm| algorithm.name() == name)
    }

    fn jsonwebtoken(self) -> Algorithm {
        match self {
            Self::Rs256 => Algorithm::RS256,
            Self::Rs384 => Algorithm::RS384,
            Self::Rs512 => Algorithm::RS512,
            Self::Ps256 => Algorithm::PS256,
            Self::Ps384 => Algorithm::PS384,
            Self::Ps512 => Algorithm::PS512,
            Self::Es256 => Algorithm::ES256,
            Self::Es384 => Algorithm::ES384,
            Self::EdDsa => Algorithm::EdDSA,
        }
    }

    fn key_kind(self) -> KeyKind {
        match self {
            Self::Rs256 | Self::Rs384 | Self::Rs512 | Self::Ps256 | Self::Ps384 | Self::Ps512 => {
                KeyKind::Rsa
            }
            Self::Es256 => KeyKind::EcP256,
            Self::Es384 => KeyKind::EcP384,
            Self::EdDsa => KeyKind::Ed25519,
        }
    }
}

impl fmt::Display for SignatureAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// How the verifier checks tokens and talks to issuers; `Default` holds every default.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcSettings {
    /// Algorithms a token header may name. Default: `RS256`, `ES256`, `EdDSA`.
    pub algorithms: Vec<SignatureAlgorithm>,
    /// How long an issuer's fetched keys are used before they are fetched again. Default: 10 minutes.
    pub keys_cache_lifetime: Duration,
    /// The least time between two fetches caused by an unknown `kid`, and how long a failed fetch is
    /// remembered. Default: 30 seconds.
    pub unknown_kid_refetch_interval: Duration,
    /// The limit on each HTTP request to an issuer, connection to last byte. Default: 10 seconds.
    pub http_timeout: Duration,
    /// Clock skew tolerated on `exp`, `nbf` and `iat`. Default: 60 seconds.
    pub leeway: Duration,
    /// The longest token accepted, in bytes. Default: 16 KiB.
    pub max_token_bytes: usize,
    /// The largest discovery document or JWK Set accepted, in bytes. Default: 64 KiB.
    pub max_document_bytes: usize,
    /// Whether `http://` issuers (and JWKS URLs) on a loopback host — 127.0.0.0/8, `::1`, `localhost` —
    /// are accepted. Default: `false`; meant for tests and local development only.
    pub allow_http_loopback: bool,
}

impl Default for OidcSettings {
    fn default() -> Self {
        Self {
            algorithms: vec![
                SignatureAlgorithm::Rs256,
                SignatureAlgorithm::Es256,
                SignatureAlgorithm::EdDsa,
            ],
            keys_cache_lifetime: Duration::from_secs(10 * 60),
            unknown_kid_refetch_interval: Duration::from_secs(30),
            http_timeout: Duration::from_secs(10),
            leeway: Duration::from_secs(60),
            max_token_bytes: 16 * 1024,
            max_document_bytes: 64 * 1024,
            allow_http_loopback: false,
        }
    }
}

/// Why a token, an issuer or a claim rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcError {
    /// An issuer or JWKS URL is not an acceptable place to fetch keys from.
    #[error(
        "refusing to fetch from OIDC URL {url:?}: {reason}; an issuer and its keys must be served over https:// (configure the issuer exactly as its tokens' iss claim writes it)"
    )]
    InsecureUrl {
        /// The URL given.
        url: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The token is longer than [`OidcSettings::max_token_bytes`].
    #[error(
        "the token is {size} bytes, more than the {limit} accepted; send the ID token alone, as the issuer gave it"
    )]
    TokenTooLarge {
        /// The token's length in bytes.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// The token is not a compact JWS with a JSON header and claims.
    #[error(
        "the token is not a signed JWT: {reason}; send the ID token exactly as the issuer gave it"
    )]
    Malformed {
        /// What is wrong with it.
        reason: String,
    },
    /// The header names `none` or an HMAC algorithm, which are never accepted.
    #[error(
        "the token's header names algorithm {algorithm:?}, which is never accepted: {why}; the issuer must sign ID tokens with its published asymmetric key (RS256, ES256 or EdDSA)"
    )]
    ForbiddenAlgorithm {
        /// The `alg` the header named.
        algorithm: String,
        /// Why it is never accepted.
        why: &'static str,
    },
    /// The header names an algorithm outside [`OidcSettings::algorithms`].
    #[error(
        "the token is signed with {algorithm:?}, which this registry does not accept (accepted: {allowed}); have the issuer sign with one of those"
    )]
    AlgorithmNotAllowed {
        /// The `alg` the header named.
        algorithm: String,
        /// The accepted algorithms, comma-separated.
        allowed: String,
    },
    /// The issuer publishes no key with the token's `kid`, even after a refetch.
    #[error(
        "the issuer {issuer} publishes no key with kid {kid:?}; the token was not signed by this issuer's current keys (if the issuer just rotated its keys, try again in a minute)"
    )]
    UnknownKeyId {
        /// The issuer whose keys were searched.
        issuer: String,
        /// The `kid` the header named.
        kid: String,
    },
    /// The published key named by `kid` is not one the header's algorithm can use.
    #[error(
        "the issuer's key {kid:?} is {key}, which cannot check a {algorithm} signature; the token's header does not match the key it names"
    )]
    KeyMismatch {
        /// The `kid` the header named.
        kid: String,
        /// The algorithm the header named.
        algorithm: SignatureAlgorithm,
        /// What the published key is (type, curve, declared algorithm).
        key: String,
    },
    /// The signature does not verify with the key named by `kid`.
    #[error(
        "the token's signature does not verify with key {kid:?} of {issuer}; the token was altered or not signed by that issuer — get a fresh one from the issuer"
    )]
    BadSignature {
        /// The issuer.
        issuer: String,
        /// The `kid` of the key tried.
        kid: String,
    },
    /// The token's `iss` is not the expected issuer.
    #[error(
        "the token was issued by {}, not by {expected}; use a token from {expected}, or register the issuer that made it",
        shown_or_missing(found.as_deref())
    )]
    WrongIssuer {
        /// The issuer expected.
        expected: String,
        /// The `iss` claim, if it is a string.
        found: Option<String>,
    },
    /// The token's `aud` does not contain the audience.
    #[error(
        "the token is meant for audience {}, not {expected:?}; request the token with audience {expected:?}",
        shown_list(found)
    )]
    WrongAudience {
        /// The audience expected.
        expected: String,
        /// The audiences the token names.
        found: Vec<String>,
    },
    /// A required claim is missing or not of the required type.
    #[error("the token has no {claim} claim ({wanted}); the issuer must include it")]
    MissingClaim {
        /// The claim's name.
        claim: &'static str,
        /// What the claim must hold.
        wanted: &'static str,
    },
    /// `exp` has passed.
    #[error(
        "the token expired at {expired_at} (it is now {now}, {leeway_seconds} s of clock skew allowed); get a fresh token from the issuer"
    )]
    Expired {
        /// The `exp` claim.
        expired_at: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
        /// The leeway applied.
        leeway_seconds: u64,
    },
    /// `nbf` or `iat` lies in the future.
    #[error(
        "the token's {claim} claim is {valid_from}, in the future (it is now {now}, {leeway_seconds} s of clock skew allowed); check the clocks of the issuer and the registry"
    )]
    NotYetValid {
        /// `nbf` or `iat`.
        claim: &'static str,
        /// The claim's time.
        valid_from: Timestamp,
        /// The verifier's clock.
        now: Timestamp,
        /// The leeway applied.
        leeway_seconds: u64,
    },
    /// The discovery document or JWK Set could not be fetched or read.
    #[error(
        "fetching the issuer's {document} at {url} failed: {reason}; check that the issuer URL is right and the issuer is reachable"
    )]
    FetchFailed {
        /// `discovery document` or `JWK Set`.
        document: &'static str,
        /// The URL fetched.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// The discovery document names another issuer than the one expected.
    #[error(
        "the discovery document of {expected} says its issuer is {found:?}; an issuer must name itself exactly (check for a trailing slash or a different host in the configured issuer)"
    )]
    DiscoveryIssuerMismatch {
        /// The issuer expected.
        expected: String,
        /// The `issuer` member of the discovery document.
        found: String,
    },
    /// A trusted-publishing claim rule does not match the token.
    #[error(
        "the token's {claim} claim is {found}, which does not match {pattern:?}; publish from the workflow the trusted publisher names, or change the trusted publisher"
    )]
    ClaimMismatch {
        /// The claim's name.
        claim: String,
        /// The rule's pattern.
        pattern: String,
        /// The value found, described (absent, not a string, or the string).
        found: String,
    },
    /// The verifier cannot be set up with these settings.
    #[error("the OIDC verifier cannot start: {reason}")]
    Setup {
        /// What is wrong.
        reason: String,
    },
}

impl OidcError {
    /// A short stable slug naming the refusal, for RFC 9457 problem types (for example
    /// `oidc-wrong-audience`).
    pub fn problem_type(&self) -> &'static str {
        match self {
            Self::InsecureUrl { .. } => "oidc-insecure-url",
            Self::TokenTooLarge { .. } => "oidc-token-too-large",
            Self::Malformed { .. } => "oidc-malformed-token",
            Self::ForbiddenAlgorithm { .. } => "oidc-forbidden-algorithm",
            Self::AlgorithmNotAllowed { .. } => "oidc-algorithm-not-allowed",
            Self::UnknownKeyId { .. } => "oidc-unknown-key",
            Self::KeyMismatch { .. } => "oidc-key-mismatch",
            Self::BadSignature { .. } => "oidc-bad-signature",
            Self::WrongIssuer { .. } => "oidc-wrong-issuer",
            Self::WrongAudience { .. } => "oidc-wrong-audience",
            Self::MissingClaim { .. } => "oidc-missing-claim",
            Self::Expired { .. } => "oidc-expired",
            Self::NotYetValid { .. } => "oidc-not-yet-valid",
            Self::FetchFailed { .. } => "oidc-fetch-failed",
            Self::DiscoveryIssuerMismatch { .. } => "oidc-discovery-issuer-mismatch",
            Self::ClaimMismatch { .. } => "oidc-claim-mismatch",
            Self::Setup { .. } => "oidc-setup-failed",
        }
    }
}

/// A token whose signature and standard claims passed every check of [`OidcVerifier::verify`].
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    issuer: String,
    subject: String,
    key_id: String,
    algorithm: SignatureAlgorithm,
    expires_at: Timestamp,
    claims: Map<String, Value>,
}

impl VerifiedToken {
    /// The issuer, equal to the token's `iss`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The `sub` claim: the identity at the issuer.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The `kid` of the issuer key that signed the token.
    pub fn key_id(&self) -> &str {
        &self.key_id
    }

    /// The algorithm the token was signed with.
    pub fn algorithm(&self) -> SignatureAlgorithm {
        self.algorithm
    }

    /// When the token expires (`exp`).
    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Every claim of the token, as the issuer wrote them.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// A trusted-publishing condition: claim `claim` must be a string matching `pattern`.
///
/// The pattern is compared character by character and case-sensitively; `*` matches any run of
/// characters, empty or not, `/` included (`octo/*` admits every repository of `octo`). No other character
/// is special and there is no escape, so a pattern without `*` is an exact match.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ClaimRule {
    /// The claim's name, such as `repository` or `job_workflow_ref`.
    pub claim: String,
    /// The exact value, or a glob with `*`.
    pub pattern: String,
}

impl ClaimRule {
    /// A rule that `claim` matches `pattern`.
    pub fn new(claim: impl Into<String>, pattern: impl Into<String>) -> Self {
        Self {
            claim: claim.into(),
            pattern: pattern.into(),
        }
    }

    /// Whether `value` matches this rule's pattern.
    pub fn matches(&self, value: &str) -> bool {
        glob_matches(&self.pattern, value)
    }
}

/// Checks every rule against `claims`; the first one that fails is returned, naming the claim, the
/// pattern and the value found. A rule on a missing or non-string claim fails.
pub fn check_claims(rules: &[ClaimRule], claims: &Map<String, Value>) -> Result<(), OidcError> {
    for rule in rules {
        let mismatch = |found: String| OidcError::ClaimMismatch {
            claim: rule.claim.clone(),
            pattern: rule.pattern.clone(),
            found,
        };
        match claims.get(&rule.claim) {
            Some(Value::String(value)) if rule.matches(value) => {}
            Some(Value::String(value)) => return Err(mismatch(format!("{:?}", shown(value)))),
            Some(other) => {
                return Err(mismatch(format!(
                    "not a string but {}",
                    shown(&other.to_string())
                )));
            }
            None => return Err(mismatch("absent".to_owned())),
        }
    }
    Ok(())
}

/// Whether `value` matches `pattern`, where `*` matches any run of characters and everything else itself.
fn glob_matches(pattern: &str, value: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let value: Vec<char> = value.chars().collect();
    let (mut in_pattern, mut in_value) = (0, 0);
    // After a `*`: where the pattern resumes, and the first value position the `*` has not yet absorbed.
    let mut last_star: Option<(usize, usize)> = None;
    while in_value < value.len() {
        match pattern.get(in_pattern) {
            Some('*') => {
                in_pattern += 1;
                last_star = Some((in_pattern, in_value));
            }
            Some(&expected) if expected == value[in_value] => {
                in_pattern += 1;
                in_value += 1;
            }
            _ => match last_star {
                // Let the last `*` absorb one more character and try the rest again.
                Some((resume, absorbed)) => {
                    in_pattern = resume;
                    in_value = absorbed + 1;
                    last_star = Some((resume, absorbed + 1));
                }
                None => return false,
            },
        }
    }
    pattern[in_pattern..]
        .iter()
        .all(|&character| character == '*')
}

/// Verifies OIDC ID tokens against issuers' published keys, caching the keys per issuer.
pub struct OidcVerifier {
    settings: OidcSettings,
    http: reqwest::Client,
    issuers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<IssuerKeys>>>>,
}

impl fmt::Debug for OidcVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OidcVerifier")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// What is known of one issuer's keys; behind its own lock, so concurrent verifications share one fetch.
#[derive(Default)]
struct IssuerKeys {
    keys: Vec<PublishedKey>,
    fetched_at: Option<Instant>,
    last_attempt: Option<Instant>,
    last_failure: Option<OidcError>,
}

/// A usable public key from an issuer's JWK Set.
struct PublishedKey {
    kid: String,
    algorithm: Option<SignatureAlgorithm>,
    kind: KeyKind,
    key: DecodingKey,
}

/// The key types and curves the supported algorithms use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum KeyKind {
    Rsa,
    EcP256,
    EcP384,
    Ed25519,
}

impl KeyKind {
    fn describe(self) -> &'static str {
        match self {
            Self::Rsa => "an RSA key",
            Self::EcP256 => "an EC P-256 key",
            Self::EcP384 => "an EC P-384 key",
            Self::Ed25519 => "an OKP Ed25519 key",
        }
    }
}

/// The parts of a compact JWS, decoded but not yet trusted.
struct TokenParts<'a> {
    header: Map<String, Value>,
    signing_input: &'a str,
    signature: &'a str,
    payload: Vec<u8>,
}

impl OidcVerifier {
    /// A verifier with `settings` and an empty key cache.
    pub fn new(settings: OidcSettings) -> Result<Self, OidcError> {
        if settings.algorithms.is_empty() {
            return Err(OidcError::Setup {
                reason: "no signature algorithm is allowed, so no token could ever verify"
                    .to_owned(),
            });
        }
        // jsonwebtoken picks its backend from crate features and panics at run time if it cannot; naming
        // aws-lc-rs (the workspace's one provider) keeps that from happening. One already installed wins.
        let _ = jsonwebtoken::crypto::CryptoProvider::install_default(
            &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER,
        );
        let http = reqwest::Client::builder()
            .timeout(settings.http_timeout)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("locara-registry/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|error| OidcError::Setup {
                reason: format!("building the HTTP client: {}", error_chain(&error)),
            })?;
        Ok(Self {
            settings,
            http,
            issuers: Mutex::new(HashMap::new()),
        })
    }

    /// The settings this verifier was made with.
    pub fn settings(&self) -> &OidcSettings {
        &self.settings
    }

    /// Verifies `token` as an ID token from `issuer` for `audience` (see the module documentation for every
    /// check, in order) and returns its claims.
    ///
    /// `issuer` must come from the registry's configuration or a trusted-publisher record — never from the
    /// token itself, or any token would name its own keys.
    pub async fn verify(
        &self,
        token: &str,
        issuer: &str,
        audience: &str,
    ) -> Result<VerifiedToken, OidcError> {
        self.check_url(issuer, true)?;
        if token.len() > self.settings.max_token_bytes {
            return Err(OidcError::TokenTooLarge {
                size: token.len(),
                limit: self.settings.max_token_bytes,
            });
        }
        let parts = split_token(token)?;
        let algorithm = self.allowed_algorithm(&parts.header)?;
        if parts.header.contains_key("crit") {
            return Err(malformed(
                "its header marks extensions as critical (crit), and this registry implements none",
            ));
        }
        let kid = match parts.header.get("kid") {
            Some(Value::String(kid)) if !kid.is_empty() => kid.as_str(),
            _ => {
                return Err(malformed(
                    "its header has no kid naming the issuer key that signed it",
                ));
            }
        };

        if parts.signature.is_empty() {
            return Err(malformed("its signature is empty"));
        }

        let (kid, key) = self.key_for(issuer, kid, algorithm).await?;
        let signature_holds = jsonwebtoken::crypto::verify(
            parts.signature,
            parts.signing_input.as_bytes(),
            &key,
            algorithm.jsonwebtoken(),
        )
        .unwrap_or(false);
        if !signature_holds {
            return Err(OidcError::BadSignature {
                issuer: issuer.to_owned(),
                kid,
            });
        }

        let claims = match serde_json::from_slice::<Value>(&parts.payload) {
            Ok(Value::Object(claims)) => claims,
            _ => return Err(malformed("its claims are not a JSON object")),
        };
        let expires_at = self.check_standard_claims(&claims, issuer, audience)?;
        let subject = match claims.get("sub") {
            Some(Value::String(subject)) if !subject.is_empty() => subject.clone(),
            _ => {
                return Err(OidcError::MissingClaim {
                    claim: "sub",
                    wanted: "a non-empty string naming the identity",
                });
            }
        };
        tracing::debug!(issuer, kid = %kid, algorithm = algorithm.name(), "verified an OIDC token");
        Ok(VerifiedToken {
            issuer: issuer.to_owned(),
            subject,
            key_id: kid,
            algorithm,
            expires_at,
            claims,
        })
    }

    /// Checks that `url` may be fetched from: https, or http to a loopback host when allowed; an issuer
    /// identifier also has no query or fragment.
    fn check_url(&self, url: &str, is_issuer: bool) -> Result<Url, OidcError> {
        let refuse = |reason| OidcError::InsecureUrl {
            url: shown(url),
            reason,
        };
        let parsed = Url::parse(url).map_err(|_| refuse("it is not an absolute URL"))?;
        if !parsed.username().is_empty() || parsed.password().is_some() {
            return Err(refuse("it carries credentials"));
        }
        if is_issuer && (parsed.query().is_some() || parsed.fragment().is_some()) {
            return Err(refuse("an issuer identifier has no query or fragment"));
        }
        match parsed.scheme() {
            "https" => Ok(parsed),
            "http" if !self.settings.allow_http_loopback => Err(refuse(
                "plain http is not accepted; keys and tokens must come over TLS",
            )),
            "http" if is_loopback(&parsed) => Ok(parsed),
            "http" => Err(refuse(
                "plain http is accepted only for loopback hosts (127.0.0.1, ::1, localhost)",
            )),
            _ => Err(refuse("only https URLs are accepted")),
        }
    }

    /// The header's algorithm, if it is one of the allowed ones; refused before any key is looked up.
    fn allowed_algorithm(
        &self,
        header: &Map<String, Value>,
    ) -> Result<SignatureAlgorithm, OidcError> {
        let Some(Value::String(name)) = header.get("alg") else {
            return Err(malformed(
                "its header has no alg naming the signature algorithm",
            ));
        };
        if name.eq_ignore_ascii_case("none") {
            return Err(OidcError::ForbiddenAlgorithm {
                algorithm: shown(name),
                why: "it means the token carries no signature",
            });
        }
        if name.starts_with("HS") {
            return Err(OidcError::ForbiddenAlgorithm {
                algorithm: shown(name),
                why: "an HMAC key is a shared secret, and an issuer's published key is public",
            });
        }
        SignatureAlgorithm::from_name(name)
            .filter(|algorithm| self.settings.algorithms.contains(algorithm))
            .ok_or_else(|| OidcError::AlgorithmNotAllowed {
                algorithm: shown(name),
                allowed: self
                    .settings
                    .algorithms
                    .iter()
                    .map(|algorithm| algorithm.name())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The issuer's key named `kid`, fit for `algorithm`, fetching the issuer's keys when the cache is
    /// stale or (rate-limited) does not know `kid`.
    async fn key_for(
        &self,
        issuer: &str,
        kid: &str,
        algorithm: SignatureAlgorithm,
    ) -> Result<(String, DecodingKey), OidcError> {
        let entry = lock(&self.issuers)
            .entry(issuer.to_owned())
            .or_default()
            .clone();
        let mut known = entry.lock().await;
        let fresh = known
            .fetched_at
            .is_some_and(|at| at.elapsed() < self.settings.keys_cache_lifetime);
        if !fresh {
            known.keys.clear();
            self.refresh(issuer, &mut known).await?;
        }
        if !known.keys.iter().any(|key| key.kid == kid) {
            let may_refetch = fresh
                && known
                    .last_attempt
                    .is_none_or(|at| at.elapsed() >= self.settings.unknown_kid_refetch_interval);
            if may_refetch {
                tracing::debug!(issuer, kid = %shown(kid), "unknown kid; refetching the issuer's keys");
                self.refresh(issuer, &mut known).await?;
            }
        }

        let candidates: Vec<&PublishedKey> =
            known.keys.iter().filter(|key| key.kid == kid).collect();
        let Some(first) = candidates.first() else {
            return Err(OidcError::UnknownKeyId {
                issuer: issuer.to_owned(),
                kid: shown(kid),
            });
        };
        let fitting = candidates.iter().copied().find(|key| {
            key.kind == algorithm.key_kind() && key.algorithm.is_none_or(|own| own == algorithm)
        });
        match fitting {
            Some(key) => Ok((key.kid.clone(), key.key.clone())),
            None => Err(OidcError::KeyMismatch {
                kid: shown(kid),
                algorithm,
                key: match first.algorithm {
                    Some(own) => format!("{} declared for {own}", first.kind.describe()),
                    None => first.kind.describe().to_owned(),
                },
            }),
        }
    }

    /// Fetches the issuer's keys into `known`, unless a fetch failed less than the refetch interval ago
    /// (then that failure is returned again). On failure the keys already held are kept.
    async fn refresh(&self, issuer: &str, known: &mut IssuerKeys) -> Result<(), OidcError> {
        if let (Some(failure), Some(at)) = (&known.last_failure, known.last_attempt)
            && at.elapsed() < self.settings.unknown_kid_refetch_interval
        {
            return Err(failure.clone());
        }
        let now = Instant::now();
        known.last_attempt = Some(now);
        match self.fetch_keys(issuer).await {
            Ok(keys) => {
                known.keys = keys;
                known.fetched_at = Some(now);
                known.last_failure = None;
                Ok(())
            }
            Err(error) => {
                known.last_failure = Some(error.clone());
                Err(error)
            }
        }
    }

    /// Fetches the discovery document, checks its `issuer`, then fetches and parses its JWK Set.
    async fn fetch_keys(&self, issuer: &str) -> Result<Vec<PublishedKey>, OidcError> {
        const DISCOVERY: &str = "discovery document";
        const JWKS: &str = "JWK Set";
        let discovery_url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let discovery = self.fetch_json(DISCOVERY, &discovery_url).await?;
        let unusable = |document, url: &str, reason: &str| OidcError::FetchFailed {
            document,
            url: url.to_owned(),
            reason: reason.to_owned(),
        };
        let Some(Value::String(named_issuer)) = discovery.get("issuer") else {
            return Err(unusable(
                DISCOVERY,
                &discovery_url,
                "it has no issuer member",
            ));
        };
        if named_issuer != issuer {
            return Err(OidcError::DiscoveryIssuerMismatch {
                expected: issuer.to_owned(),
                found: shown(named_issuer),
            });
        }
        let Some(Value::String(jwks_uri)) = discovery.get("jwks_uri") else {
            return Err(unusable(
                DISCOVERY,
                &discovery_url,
                "it has no jwks_uri member",
            ));
        };
        self.check_url(jwks_uri, false)?;
        let jwks = self.fetch_json(JWKS, jwks_uri).await?;
        let Some(Value::Array(entries)) = jwks.get("keys") else {
            return Err(unusable(JWKS, jwks_uri, "it has no keys array"));
        };
        let mut keys = Vec::new();
        for entry in entries {
            match published_key(entry) {
                Ok(key) => keys.push(key),
                Err(reason) => {
                    let kid = entry.get("kid").and_then(Value::as_str).map(shown);
                    tracing::debug!(
                        issuer,
                        ?kid,
                        reason,
                        "ignoring a JWK that cannot verify tokens"
                    );
                }
            }
        }
        tracing::debug!(issuer, keys = keys.len(), "fetched the issuer's keys");
        Ok(keys)
    }

    /// GETs `url` and parses its body as JSON, within the timeout and the document size cap.
    async fn fetch_json(&self, document: &'static str, url: &str) -> Result<Value, OidcError> {
        let failed = |reason: String| OidcError::FetchFailed {
            document,
            url: url.to_owned(),
            reason,
        };
        tracing::debug!(url, document, "fetching an OIDC document");
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(|error| failed(error_chain(&error.without_url())))?;
        let status = response.status();
        if status.is_redirection() {
            return Err(failed(format!(
                "it answered {status}, and redirects are not followed"
            )));
        }
        if status != reqwest::StatusCode::OK {
            return Err(failed(format!("it answered {status}")));
        }
        let limit = self.settings.max_document_bytes;
        let too_large = || failed(format!("it is larger than the {limit} bytes accepted"));
        if response
            .content_length()
            .is_some_and(|length| length > limit as u64)
        {
            return Err(too_large());
        }
        let mut body = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|error| failed(error_chain(&error.without_url())))?
        {
            if body.len() + chunk.len() > limit {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        match serde_json::from_slice::<Value>(&body) {
            Ok(value @ Value::Object(_)) => Ok(value),
            Ok(_) => Err(failed("it is not a JSON object".to_owned())),
            Err(error) => Err(failed(format!("it is not JSON: {error}"))),
        }
    }

    /// Checks `iss`, `aud`, `exp`, `nbf` and `iat`; returns `exp`.
    fn check_standard_claims(
        &self,
        claims: &Map<String, Value>,
        issuer: &str,
        audience: &str,
    ) -> Result<Timestamp, OidcError> {
        match claims.get("iss") {
            Some(Value::String(found)) if found == issuer => {}
            found => {
                return Err(OidcError::WrongIssuer {
                    expected: issuer.to_owned(),
                    found: found.and_then(Value::as_str).map(shown),
                });
            }
        }

        let audiences: Vec<&str> = match claims.get("aud") {
            Some(Value::String(single)) => vec![single.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !audiences.contains(&audience) {
            return Err(OidcError::WrongAudience {
                expected: audience.to_owned(),
                found: audiences
                    .iter()
                    .take(10)
                    .map(|found| shown(found))
                    .collect(),
            });
        }

        let now = Timestamp::now();
        let leeway_seconds = self.settings.leeway.as_secs();
        let Some(expires_at) = numeric_date(claims, "exp")? else {
            return Err(OidcError::MissingClaim {
                claim: "exp",
                wanted: "the expiry time, in seconds since 1970",
            });
        };
        if now.unix_seconds() >= expires_at.unix_seconds().saturating_add(leeway_seconds) {
            return Err(OidcError::Expired {
                expired_at: expires_at,
                now,
                leeway_seconds,
            });
        }
        for claim in ["nbf", "iat"] {
            if let Some(valid_from) = numeric_date(claims, claim)?
                && valid_from.unix_seconds() > now.unix_seconds().saturating_add(leeway_seconds)
            {
                return Err(OidcError::NotYetValid {
                    claim,
                    valid_from,
                    now,
                    leeway_seconds,
                });
            }
        }
        Ok(expires_at)
    }
}

/// Splits and decodes a compact JWS; nothing in it is trusted yet.
fn split_token(token: &str) -> Result<TokenParts<'_>, OidcError> {
    let pieces: Vec<&str> = token.split('.').collect();
    let [header, payload, signature] = pieces[..] else {
        return Err(malformed(&format!(
            "it has {} dot-separated parts where a signed JWT has 3 (an encrypted JWT has 5 and is not accepted)",
            pieces.len()
        )));
    };
    let decode = |part: &str, name: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| malformed(&format!("its {name} is not unpadded base64url")))
    };
    let header = match serde_json::from_slice::<Value>(&decode(header, "header")?) {
        Ok(Value::Object(header)) => header,
        _ => return Err(malformed("its header is not a JSON object")),
    };
    let payload = decode(payload, "claims")?;
    decode(signature, "signature")?;
    let signing_input = &token[..token.len() - signature.len() - 1];
    Ok(TokenParts {
        header,
        signing_input,
        signature,
        payload,
    })
}

/// Parses one JWK into a key this verifier can use, or says why it is skipped.
fn published_key(jwk: &Value) -> Result<PublishedKey, &'static str> {
    let text = |name| jwk.get(name).and_then(Value::as_str);
    let bytes = |name| {
        text(name)
            .and_then(|encoded| URL_SAFE_NO_PAD.decode(encoded).ok())
            .ok_or("a key parameter is missing or not base64url")
    };
    let kid = text("kid").ok_or("it has no kid")?.to_owned();
    if text("use").is_some_and(|key_use| key_use != "sig") {
        return Err("its use is not sig");
    }
    if let Some(operations) = jwk.get("key_ops")
        && !operations
            .as_array()
            .is_some_and(|operations| operations.iter().any(|operation| operation == "verify"))
    {
        return Err("its key_ops do not include verify");
    }
    let algorithm = match jwk.get("alg") {
        None => None,
        Some(Value::String(name)) => Some(
            SignatureAlgorithm::from_name(name)
                .ok_or("its alg is not a supported signature algorithm")?,
        ),
        Some(_) => return Err("its alg is not a string"),
    };
    let (kind, key) = match (text("kty"), text("crv")) {
        (Some("RSA"), _) => {
            let modulus = bytes("n")?;
            let exponent = bytes("e")?;
            let significant = modulus.iter().skip_while(|&&byte| byte == 0).count();
            if significant < 256 {
                return Err("its RSA modulus is shorter than 2048 bits");
            }
            (
                KeyKind::Rsa,
                DecodingKey::from_rsa_raw_components(&modulus, &exponent),
            )
        }
        (Some("EC"), Some(curve @ ("P-256" | "P-384"))) => {
            let (kind, length) = if curve == "P-256" {
                (KeyKind::EcP256, 32)
            } else {
                (KeyKind::EcP384, 48)
            };
            if bytes("x")?.len() != length || bytes("y")?.len() != length {
                return Err("its EC coordinates have the wrong length for the curve");
            }
            let key = DecodingKey::from_ec_components(
                text("x").unwrap_or_default(),
                text("y").unwrap_or_default(),
            )
            .map_err(|_| "its EC coordinates are not base64url")?;
            (kind, key)
        }
        (Some("OKP"), Some("Ed25519")) => {
            if bytes("x")?.len() != 32 {
                return Err("its Ed25519 public key is not 32 bytes");
            }
            let key = DecodingKey::from_ed_components(text("x").unwrap_or_default())
                .map_err(|_| "its Ed25519 public key is not base64url")?;
            (KeyKind::Ed25519, key)
        }
        (Some("oct"), _) => return Err("it is a symmetric key"),
        _ => return Err("its key type or curve is not supported"),
    };
    if let Some(own) = algorithm
        && own.key_kind() != kind
    {
        return Err("its alg does not fit its key type");
    }
    Ok(PublishedKey {
        kid,
        algorithm,
        kind,
        key,
    })
}

/// The claim `name` as a NumericDate, if present; a value past year 9999 counts as 9999.
fn numeric_date(
    claims: &Map<String, Value>,
    name: &'static str,
) -> Result<Option<Timestamp>, OidcError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let seconds = value
        .as_u64()
        .or_else(|| {
            value
                .as_f64()
                .filter(|seconds| seconds.is_finite() && *seconds >= 0.0)
                .map(|seconds| seconds.min(MAX_UNIX_SECONDS as f64) as u64)
        })
        .ok_or_else(|| {
            malformed(&format!(
                "its {name} claim is not a time in seconds since 1970"
            ))
        })?;
    Timestamp::from_unix_seconds(seconds.min(MAX_UNIX_SECONDS))
        .map(Some)
        .map_err(|_| malformed(&format!("its {name} claim is out of range")))
}

fn is_loopback(url: &Url) -> bool {
    match url.host_str() {
        Some("localhost") => true,
        Some(host) => host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback()),
        None => false,
    }
}

fn malformed(reason: &str) -> OidcError {
    OidcError::Malformed {
        reason: reason.to_owned(),
    }
}

/// `text`, cut to [`MAX_SHOWN_CHARS`] characters: values from a token are repeated in errors, bounded.
fn shown(text: &str) -> String {
    match text.char_indices().nth(MAX_SHOWN_CHARS) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

fn shown_or_missing(found: Option<&str>) -> String {
    match found {
        Some(found) => format!("{found:?}"),
        None => "no one (the iss claim is missing or not a string)".to_owned(),
    }
}

fn shown_list(found: &[String]) -> String {
    if found.is_empty() {
        "none (the aud claim is missing or empty)".to_owned()
    } else {
        format!("{found:?}")
    }
}

fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// The lock's data even if a panicking thread poisoned it: the map only ever gains entries.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_without_star_is_an_exact_match() {
        assert!(glob_matches("octo/app", "octo/app"));
        assert!(!glob_matches("octo/app", "octo/app2"));
        assert!(!glob_matches("octo/app", "octo/ap"));
        assert!(!glob_matches("octo/app", "Octo/app"));
        assert!(glob_matches("", ""));
        assert!(!glob_matches("", "x"));
    }

    #[test]
    fn star_matches_any_run_including_an_empty_one_and_slashes() {
        assert!(glob_matches("octo/*", "octo/app"));
        assert!(glob_matches("octo/*", "octo/"));
        assert!(glob_matches("refs/heads/*", "refs/heads/release/1.2"));
        assert!(glob_matches("*", ""));
        assert!(glob_matches("*", "anything at all"));
        assert!(glob_matches("*/app", "octo/app"));
        assert!(glob_matches("a*b*c", "abc"));
        assert!(glob_matches("a*b*c", "a-b-b-c"));
        assert!(glob_matches("**", "x"));
    }

    #[test]
    fn star_does_not_loosen_the_literal_parts() {
        assert!(!glob_matches("octo/*", "octopus/app"));
        assert!(!glob_matches("octo/*", "evil/octo/app"));
        assert!(!glob_matches("*/app", "octo/app-fork"));
        assert!(!glob_matches("a*b*c", "acb"));
        assert!(!glob_matches("a*c", "ab"));
        assert!(glob_matches(
            "*.yml@refs/tags/v*",
            "octo/app/.github/release.yml@refs/tags/v1.0"
        ));
        assert!(!glob_matches(
            "*.yml@refs/tags/v*",
            "octo/app/.github/release.yml@refs/heads/main"
        ));
    }

    #[test]
    fn glob_compares_characters_not_bytes() {
        assert!(glob_matches("caf*", "café"));
        assert!(glob_matches("*é", "café"));
        assert!(!glob_matches("caf", "café"));
    }

    #[test]
    fn backtracking_is_bounded_on_adversarial_input() {
        let value = "a".repeat(2_000);
        let pattern = format!("{}b", "*a".repeat(50));
        assert!(!glob_matches(&pattern, &value));
    }

    #[test]
    fn problem_types_are_distinct_kebab_case_slugs() {
        let timestamp = Timestamp::UNIX_EPOCH;
        let errors = [
            OidcError::InsecureUrl {
                url: String::new(),
                reason: "",
            },
            OidcError::TokenTooLarge { size: 0, limit: 0 },
            malformed(""),
            OidcError::ForbiddenAlgorithm {
                algorithm: String::new(),
                why: "",
            },
            OidcError::AlgorithmNotAllowed {
                algorithm: String::new(),
                allowed: String::new(),
            },
            OidcError::UnknownKeyId {
                issuer: String::new(),
                kid: String::new(),
            },
            OidcError::KeyMismatch {
                kid: String::new(),
                algorithm: SignatureAlgorithm::EdDsa,
                key: String::new(),
            },
            OidcError::BadSignature {
                issuer: String::new(),
                kid: String::new(),
            },
            OidcError::WrongIssuer {
                expected: String::new(),
                found: None,
            },
            OidcError::WrongAudience {
                expected: String::new(),
                found: Vec::new(),
            },
            OidcError::MissingClaim {
                claim: "exp",
                wanted: "",
            },
            OidcError::Expired {
                expired_at: timestamp,
                now: timestamp,
                leeway_seconds: 0,
            },
            OidcError::NotYetValid {
                claim: "nbf",
                valid_from: timestamp,
                now: timestamp,
                leeway_seconds: 0,
            },
            OidcError::FetchFailed {
                document: "",
                url: String::new(),
                reason: String::new(),
            },
            OidcError::DiscoveryIssuerMismatch {
                expected: String::new(),
                found: String::new(),
            },
            OidcError::ClaimMismatch {
                claim: String::new(),
                pattern: String::new(),
                found: String::new(),
            },
            OidcError::Setup {
                reason: String::new(),
            },
        ];
        let mut slugs: Vec<&str> = errors.iter().map(OidcError::problem_type).collect();
        for slug in &slugs {
            assert!(slug.starts_with("oidc-"), "{slug}");
            assert!(
                slug.bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte == b'-'),
                "{slug}"
            );
        }
        slugs.sort_unstable();
        slugs.dedup();
        assert_eq!(slugs.len(), errors.len());
    }

    #[test]
    fn long_token_values_are_shortened_in_errors() {
        let long = "x".repeat(10_000);
        let shortened = shown(&long);
        assert_eq!(shortened.chars().count(), MAX_SHOWN_CHARS + 1);
        assert_eq!(shown("short"), "short");
        assert_eq!(shown(&"é".repeat(300)).chars().count(), MAX_SHOWN_CHARS + 1);
    }

    #[test]
    fn settings_must_allow_some_algorithm() {
        let settings = OidcSettings {
            algorithms: Vec::new(),
            ..OidcSettings::default()
        };
        assert!(matches!(
            OidcVerifier::new(settings),
            Err(OidcError::Setup { .. })
        ));
    }

    #[test]
    fn algorithm_names_round_trip_and_exclude_none_and_hmac() {
        for algorithm in SignatureAlgorithm::ALL {
            assert_eq!(
                SignatureAlgorithm::from_name(algorithm.name()),
                Some(algorithm)
            );
        }
        for name in ["none", "HS256", "HS384", "HS512", "rs256", ""] {
            assert_eq!(SignatureAlgorithm::from_name(name), None, "{name}");
        }
    }
}
