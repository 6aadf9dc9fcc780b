//! The publisher side of a registry's API (`/api/v1`): publishers and their members, verification by DNS
//! or OIDC identity, trusted OIDC issuers, release keys, and app names. Typed requests and responses over
//! [`ApiClient`]; no prompting or printing happens here.
//!
//! Invariants: every action that changes security state takes a [`OneTimeCode`], sent in the `Locara-OTP`
//! header. A registered key is accepted from the registry only if its key id is the id of its public key,
//! computed here with the core's function (the same check the registry made when it registered the key).

use std::fmt;
use std::str::FromStr;

use locara_core::keys::{KeyId, PublicKey};
use locara_core::names::{AppName, PublisherName};
use locara_core::time::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::account::{MemberRole, Username};
use crate::api::{ApiClient, ApiError};
use crate::second_factor::OneTimeCode;
use crate::secret::Secret;

/// A publisher's public record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublisherRecord {
    /// Its name.
    pub name: PublisherName,
    /// `user` (an account's personal publisher) or `organisation`.
    pub kind: String,
    /// How it proved who it is; `None` for an unverified publisher, which cannot register apps.
    pub verification: Option<Verification>,
    /// When it was created.
    pub created_at: Timestamp,
    /// Members and their roles.
    pub members: Vec<Member>,
    /// Release keys, revoked ones included.
    pub keys: Vec<RegisteredKey>,
    /// Registered apps.
    pub apps: Vec<AppName>,
    /// OIDC issuers trusted to publish for it.
    pub oidc_trusts: Vec<OidcTrust>,
}

/// How a publisher proved who it is.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verification {
    /// `dns` or `oidc`.
    pub method: String,
    /// The domain, or the OIDC issuer and subject.
    pub subject: String,
    /// When.
    pub verified_at: Timestamp,
}

impl fmt::Display for Verification {
    /// `verified by DNS: acme.example`, the way every command shows a publisher's identity.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let method = match self.method.as_str() {
            "dns" => "DNS",
            "oidc" => "OIDC identity",
            other => other,
        };
        write!(f, "verified by {method}: {}", self.subject)
    }
}

/// `verified by DNS: acme.example`, or `NOT VERIFIED` for `None`.
pub fn describe_verification(verification: Option<&Verification>) -> String {
    verification.map_or_else(|| "NOT VERIFIED".to_owned(), ToString::to_string)
}

/// A member of a publisher.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Member {
    /// The username.
    pub username: Username,
    /// Their role.
    pub role: MemberRole,
}

/// A release key registered for a publisher.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(try_from = "WireKey")]
pub struct RegisteredKey {
    /// The key id.
    pub key_id: KeyId,
    /// The public key, `ed25519:<base64>` (the registry sends the bare base64).
    pub public_key: PublicKey,
    /// When it was registered.
    pub registered_at: Timestamp,
    /// The transparency-log entry that registered it.
    pub log_index: u64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<Timestamp>,
    /// The log entry that revoked it.
    pub revoked_log_index: Option<u64>,
}

/// A key as the registry sends it.
#[derive(Deserialize)]
struct WireKey {
    key_id: KeyId,
    public_key: String,
    registered_at: Timestamp,
    log_index: u64,
    revoked_at: Option<Timestamp>,
    revoked_log_index: Option<u64>,
}

impl TryFrom<WireKey> for RegisteredKey {
    type Error = String;

    fn try_from(wire: WireKey) -> Result<Self, Self::Error> {
        let public_key = PublicKey::from_any_spelling(&wire.public_key)
            .map_err(|error| format!("key {}: {error}", wire.key_id))?;
        if public_key.key_id() != &wire.key_id {
            return Err(format!(
                "the registry names key {} but its public key has id {}; refusing a key record whose id does not match its key",
                wire.key_id,
                public_key.key_id()
            ));
        }
        Ok(Self {
            key_id: wire.key_id,
            public_key,
            registered_at: wire.registered_at,
            log_index: wire.log_index,
            revoked_at: wire.revoked_at,
            revoked_log_index: wire.revoked_log_index,
        })
    }
}

/// An OIDC issuer trusted to publish for a publisher (trusted publishing).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OidcTrust {
    /// Its id.
    pub id: u64,
    /// The one app it is limited to, if any.
    pub app: Option<AppName>,
    /// The issuer URL.
    pub issuer: String,
    /// The audience tokens must name.
    pub audience: String,
    /// Claims tokens must match.
    pub claims: Vec<ClaimRule>,
}

/// A claim an OIDC token must match: an exact value, or a pattern where `*` matches any run of characters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimRule {
    /// The claim, e.g. `repository`, `workflow`, `ref`.
    pub claim: String,
    /// The value or pattern.
    pub pattern: String,
}

/// Why `CLAIM=PATTERN` text is not a claim rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{found:?} is not a claim rule: write CLAIM=PATTERN with both parts non-empty, for example repository=acme/notes"
)]
pub struct ClaimRuleError {
    /// The text given.
    pub found: String,
}

impl FromStr for ClaimRule {
    type Err = ClaimRuleError;

    /// Splits at the first `=`: the claim is before it, the pattern (which may hold `=`) after it.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.split_once('=') {
            Some((claim, pattern)) if !claim.trim().is_empty() && !pattern.is_empty() => Ok(Self {
                claim: claim.trim().to_owned(),
                pattern: pattern.to_owned(),
            }),
            _ => Err(ClaimRuleError {
                found: text.to_owned(),
            }),
        }
    }
}

impl fmt::Display for ClaimRule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.claim, self.pattern)
    }
}

/// The DNS TXT record that proves control of a domain.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DnsChallenge {
    /// Where: `_locara-challenge.<domain>`.
    pub record_name: String,
    /// The record type, `TXT`.
    pub record_type: String,
    /// The value to publish.
    pub record_value: String,
    /// When the challenge expires.
    pub expires_at: Timestamp,
}

/// An app's public record.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppRecord {
    /// `publisher/app`.
    pub name: AppName,
    /// The publisher.
    pub publisher: PublisherName,
    /// The source repository the builder fetches.
    pub repository: String,
    /// When it was registered.
    pub registered_at: Timestamp,
    /// The transparency-log entry that registered it.
    pub log_index: u64,
}

/// What `POST /api/v1/publishers/{name}/oidc-trusts` takes.
#[derive(Debug, Clone, Serialize)]
pub struct NewTrust {
    /// The issuer URL, exactly as its tokens name it.
    pub issuer: String,
    /// The audience tokens must name (the registry's public URL when `None`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audience: Option<String>,
    /// Claims tokens must match; at least one.
    pub claims: Vec<ClaimRule>,
    /// Limit the trust to one of the publisher's apps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppName>,
}

#[derive(Serialize)]
struct NameBody<'a> {
    name: &'a PublisherName,
}

#[derive(Serialize)]
struct RoleBody {
    role: MemberRole,
}

#[derive(Serialize)]
struct DomainBody<'a> {
    domain: &'a str,
}

#[derive(Serialize)]
struct OidcBody<'a> {
    issuer: &'a str,
    token: &'a Secret,
}

#[derive(Serialize)]
struct KeyBody {
    public_key: String,
}

#[derive(Serialize)]
struct AppBody<'a> {
    name: &'a AppName,
    repository: &'a str,
}

fn publisher_path(name: &PublisherName) -> String {
    format!("api/v1/publishers/{name}")
}

/// `POST /api/v1/publishers`: creates an organisation with the caller as its first owner (a fresh code).
pub async fn create_publisher(
    client: &ApiClient,
    name: &PublisherName,
    code: &OneTimeCode,
) -> Result<PublisherRecord, ApiError> {
    client
        .send_json_with_otp(
            Method::POST,
            "api/v1/publishers",
            Some(&NameBody { name }),
            Some(code),
        )
        .await
}

/// `GET /api/v1/publishers/{name}`: the publisher's public record.
pub async fn show_publisher(
    client: &ApiClient,
    name: &PublisherName,
) -> Result<PublisherRecord, ApiError> {
    client.get_json(&publisher_path(name)).await
}

/// `PUT /api/v1/publishers/{name}/members/{username}`: adds a member or changes their role.
pub async fn put_member(
    client: &ApiClient,
    name: &PublisherName,
    username: &Username,
    role: MemberRole,
    code: &OneTimeCode,
) -> Result<PublisherRecord, ApiError> {
    let path = format!("{}/members/{username}", publisher_path(name));
    client
        .send_json_with_otp(Method::PUT, &path, Some(&RoleBody { role }), Some(code))
        .await
}

/// `DELETE /api/v1/publishers/{name}/members/{username}`: removes a member (never the last owner).
pub async fn remove_member(
    client: &ApiClient,
    name: &PublisherName,
    username: &Username,
    code: &OneTimeCode,
) -> Result<PublisherRecord, ApiError> {
    let path = format!("{}/members/{username}", publisher_path(name));
    client
        .send_json_with_otp::<(), _>(Method::DELETE, &path, None, Some(code))
        .await
}

/// `POST /api/v1/publishers/{name}/verification/dns`: the TXT record to publish for `domain`.
pub async fn start_dns_verification(
    client: &ApiClient,
    name: &PublisherName,
    domain: &str,
) -> Result<DnsChallenge, ApiError> {
    let path = format!("{}/verification/dns", publisher_path(name));
    client.post_json(&path, &DomainBody { domain }).await
}

/// `POST /api/v1/publishers/{name}/verification/dns/check`: the registry looks up the TXT record and,
/// if it holds the challenge, marks the publisher verified for `domain`.
pub async fn check_dns_verification(
    client: &ApiClient,
    name: &PublisherName,
    domain: &str,
    code: &OneTimeCode,
) -> Result<PublisherRecord, ApiError> {
    let path = format!("{}/verification/dns/check", publisher_path(name));
    client
        .send_json_with_otp(
            Method::POST,
            &path,
            Some(&DomainBody { domain }),
            Some(code),
        )
        .await
}

/// `POST /api/v1/publishers/{name}/verification/oidc`: verifies the publisher by an OIDC identity token.
pub async fn verify_by_oidc(
    client: &ApiClient,
    name: &PublisherName,
    issuer: &str,
    token: &Secret,
    code: &OneTimeCode,
) -> Result<PublisherRecord, ApiError> {
    let path = format!("{}/verification/oidc", publisher_path(name));
    client
        .send_json_with_otp(
            Method::POST,
            &path,
            Some(&OidcBody { issuer, token }),
            Some(code),
        )
        .await
}

/// `POST /api/v1/publishers/{name}/oidc-trusts`: trusts an OIDC issuer to publish for the publisher.
pub async fn add_oidc_trust(
    client: &ApiClient,
    name: &PublisherName,
    trust: &NewTrust,
    code: &OneTimeCode,
) -> Result<OidcTrust, ApiError> {
    let path = format!("{}/oidc-trusts", publisher_path(name));
    client
        .send_json_with_otp(Method::POST, &path, Some(trust), Some(code))
        .await
}

/// `POST /api/v1/publishers/{name}/keys`: registers a release key.
pub async fn register_key(
    client: &ApiClient,
    name: &PublisherName,
    key: &PublicKey,
    code: &OneTimeCode,
) -> Result<RegisteredKey, ApiError> {
    let path = format!("{}/keys", publisher_path(name));
    let body = KeyBody {
        public_key: key.to_string(),
    };
    client
        .send_json_with_otp(Method::POST, &path, Some(&body), Some(code))
        .await
}

/// `GET /api/v1/publishers/{name}/keys`: the publisher's release keys, revoked ones included.
pub async fn list_keys(
    client: &ApiClient,
    name: &PublisherName,
) -> Result<Vec<RegisteredKey>, ApiError> {
    client
        .get_json(&format!("{}/keys", publisher_path(name)))
        .await
}

/// `DELETE /api/v1/publishers/{name}/keys/{key_id}`: revokes a release key (its record stays).
pub async fn revoke_key(
    client: &ApiClient,
    name: &PublisherName,
    key_id: &KeyId,
    code: &OneTimeCode,
) -> Result<RegisteredKey, ApiError> {
    let path = format!("{}/keys/{key_id}", publisher_path(name));
    client
        .send_json_with_otp::<(), _>(Method::DELETE, &path, None, Some(code))
        .await
}

/// `POST /api/v1/apps`: registers an app name for a verified publisher (a fresh code).
pub async fn register_app(
    client: &ApiClient,
    name: &AppName,
    repository: &str,
    code: &OneTimeCode,
) -> Result<AppRecord, ApiError> {
    client
        .send_json_with_otp(
            Method::POST,
            "api/v1/apps",
            Some(&AppBody { name, repository }),
            Some(code),
        )
        .await
}

/// `GET /api/v1/apps/{publisher}/{app}`: an app's public record.
pub async fn show_app(client: &ApiClient, name: &AppName) -> Result<AppRecord, ApiError> {
    client
        .get_json(&format!("api/v1/apps/{}/{}", name.publisher(), name.slug()))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use locara_core::keys::SigningKey;

    fn wire_key(key_id: &str, public_key: &str) -> String {
        format!(
            r#"{{"key_id":"{key_id}","public_key":"{public_key}","registered_at":"2026-11-25T17:39:51Z",
                "log_index":4,"revoked_at":null,"revoked_log_index":null}}"#
        )
    }

    #[test]
    fn a_registered_key_decodes_when_its_id_is_its_keys_id() {
        let key = SigningKey::from_seed(&[7; 32]);
        let public = key.public_key();
        // The spelling registries write, and the bare base64 older registries wrote.
        for spelling in [public.to_string(), public.to_base64()] {
            let decoded: RegisteredKey =
                serde_json::from_str(&wire_key(&public.key_id().to_string(), &spelling)).unwrap();
            assert_eq!(&decoded.public_key, public);
            let shown = serde_json::to_value(&decoded).unwrap();
            assert_eq!(shown["public_key"], public.to_string().as_str());
        }
    }

    #[test]
    fn refuses_a_key_record_whose_id_belongs_to_another_key() {
        let one = SigningKey::from_seed(&[7; 32]);
        let other = SigningKey::from_seed(&[8; 32]);
        let error = serde_json::from_str::<RegisteredKey>(&wire_key(
            &other.key_id().to_string(),
            &one.public_key().to_base64(),
        ))
        .unwrap_err();
        assert!(error.to_string().contains("does not match"), "{error}");
    }

    #[test]
    fn claim_rules_split_at_the_first_equals_sign() {
        let rule: ClaimRule = "ref=refs/tags/v=*".parse().unwrap();
        assert_eq!(rule.claim, "ref");
        assert_eq!(rule.pattern, "refs/tags/v=*");
        for bad in ["repository", "=x", "repository=", ""] {
            assert!(bad.parse::<ClaimRule>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn verification_reads_the_same_everywhere() {
        let verification = Verification {
            method: "dns".to_owned(),
            subject: "acme.example".to_owned(),
            verified_at: "2026-11-25T17:39:51Z".parse().unwrap(),
        };
        assert_eq!(
            describe_verification(Some(&verification)),
            "verified by DNS: acme.example"
        );
        assert_eq!(describe_verification(None), "NOT VERIFIED");
    }
}
