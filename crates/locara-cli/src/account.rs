//! The account side of a registry's API (`/api/v1`): sign-up, sessions, two-factor enrolment and API
//! tokens, as typed requests and responses over [`ApiClient`]. No prompting or printing happens here.
//!
//! Invariants: passwords, TOTP secrets and recovery codes travel in [`Secret`]s and token secrets in
//! [`ApiToken`]s, so none of them appears in `Debug` output and each is zeroed when dropped. Responses are
//! decoded leniently (members this client does not know are ignored, so a newer registry can add some);
//! names in them are parsed with the core's rules.

use std::fmt;
use std::str::FromStr;

use locara_core::names::{AppName, NameError, PublisherName};
use locara_core::time::Timestamp;
use reqwest::Method;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::api::{ApiClient, ApiError};
use crate::credentials::ApiToken;
use crate::second_factor::{OneTimeCode, RecoveryCode};
use crate::secret::Secret;

/// A registry username. It is also the name of the account's personal publisher, so it follows the
/// publisher name rules of [`PublisherName`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Username(PublisherName);

/// Why a string is not a username.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a username is also the name of the account's personal publisher, so it follows the publisher name rules: {0}"
)]
pub struct UsernameError(#[source] NameError);

impl Username {
    /// The username as text.
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }

    /// The account's personal publisher, which has the username as its name.
    pub fn personal_publisher(&self) -> &PublisherName {
        &self.0
    }
}

impl FromStr for Username {
    type Err = UsernameError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        text.parse().map(Self).map_err(UsernameError)
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for Username {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for Username {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A role in a publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum MemberRole {
    /// Manages members, keys, verification and apps.
    Owner,
    /// Publishes releases.
    Maintainer,
}

impl fmt::Display for MemberRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MemberRole::Owner => "owner",
            MemberRole::Maintainer => "maintainer",
        })
    }
}

/// An account as its owner sees it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountRecord {
    /// The username.
    pub username: Username,
    /// Whether TOTP is enabled; without it the account can only read.
    pub two_factor: bool,
    /// When it was created.
    pub created_at: Timestamp,
    /// The publishers the account belongs to, with its role in each.
    pub publishers: Vec<Membership>,
}

/// A publisher an account belongs to.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Membership {
    /// The publisher.
    pub publisher: PublisherName,
    /// The account's role in it.
    pub role: MemberRole,
}

/// What an API token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum TokenScope {
    /// Publish releases.
    Publish,
    /// Yank releases.
    Yank,
    /// Manage publishers, keys and apps.
    Admin,
}

/// An API token as the registry describes it (never with its secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenRecord {
    /// Its id, for revoking.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// `session`, `api` or `trusted-publishing`.
    pub kind: String,
    /// What it may do (kept as text: a newer registry may know more scopes).
    pub scopes: Vec<String>,
    /// The one app it is limited to.
    pub app: Option<AppName>,
    /// When it was made.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was revoked.
    pub revoked_at: Option<Timestamp>,
    /// When it was last used.
    pub last_used_at: Option<Timestamp>,
}

/// A token the registry has just issued: the only time its secret is available.
#[derive(Debug, Deserialize)]
pub struct IssuedToken {
    /// The secret, `locara_pat_…`.
    #[serde(deserialize_with = "deserialize_token")]
    pub token: ApiToken,
    /// What the registry says about it.
    #[serde(flatten)]
    pub record: TokenRecord,
}

fn deserialize_token<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ApiToken, D::Error> {
    ApiToken::new(Secret::deserialize(deserializer)?.expose()).map_err(serde::de::Error::custom)
}

/// A started TOTP enrolment: the shared secret, pending until confirmed with a first code.
#[derive(Debug, Deserialize)]
pub struct Enrolment {
    /// The secret, base32, for typing into an authenticator app.
    pub secret: Secret,
    /// The `otpauth://` URI (it contains the secret), for a QR code.
    pub otpauth_uri: Secret,
}

/// The second factor sent with a login.
#[derive(Debug, Clone)]
pub enum SecondFactor {
    /// None (the account has no TOTP, or the registry is to say whether it needs one).
    None,
    /// The current code from the authenticator app.
    Code(OneTimeCode),
    /// A single-use recovery code.
    Recovery(RecoveryCode),
}

/// What `POST /api/v1/tokens` takes.
#[derive(Debug, Clone, Serialize)]
pub struct NewToken {
    /// A name to recognise it by.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<TokenScope>,
    /// Limit it to one app.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub app: Option<AppName>,
    /// Days until it expires.
    pub expires_in_days: u32,
}

#[derive(Serialize)]
struct Credentials<'a> {
    username: &'a Username,
    password: &'a Secret,
}

#[derive(Serialize)]
struct LoginBody<'a> {
    username: &'a Username,
    password: &'a Secret,
    #[serde(skip_serializing_if = "Option::is_none")]
    otp: Option<&'a OneTimeCode>,
    #[serde(skip_serializing_if = "Option::is_none")]
    recovery_code: Option<&'a RecoveryCode>,
}

#[derive(Serialize)]
struct ConfirmBody<'a> {
    otp: &'a OneTimeCode,
}

#[derive(Deserialize)]
struct RecoveryCodes {
    recovery_codes: Vec<Secret>,
}

/// `POST /api/v1/accounts`: creates an account and its personal publisher.
pub async fn sign_up(
    client: &ApiClient,
    username: &Username,
    password: &Secret,
) -> Result<AccountRecord, ApiError> {
    client
        .post_json("api/v1/accounts", &Credentials { username, password })
        .await
}

/// `POST /api/v1/session`: signs in and returns a session token.
///
/// For an account with TOTP and [`SecondFactor::None`] the registry answers with the `otp-required`
/// problem (after checking the password).
pub async fn log_in(
    client: &ApiClient,
    username: &Username,
    password: &Secret,
    second_factor: &SecondFactor,
) -> Result<IssuedToken, ApiError> {
    let (otp, recovery_code) = match second_factor {
        SecondFactor::None => (None, None),
        SecondFactor::Code(code) => (Some(code), None),
        SecondFactor::Recovery(code) => (None, Some(code)),
    };
    let body = LoginBody {
        username,
        password,
        otp,
        recovery_code,
    };
    client.post_json("api/v1/session", &body).await
}

/// `DELETE /api/v1/session`: revokes the token the client sends.
pub async fn log_out(client: &ApiClient) -> Result<(), ApiError> {
    client
        .send_json::<(), serde::de::IgnoredAny>(Method::DELETE, "api/v1/session", None)
        .await
        .map(drop)
}

/// A security-relevant event of the account, as the registry records it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AccountEvent {
    /// When.
    pub at: Timestamp,
    /// `password-failed`, `code-failed`, `code-replayed`, `recovery-code-failed` or `locked` (kept as
    /// text: a newer registry may record more kinds).
    pub kind: String,
    /// The client address the attempt came from.
    pub client_address: String,
    /// The token or session the attempt carried; `None` for a password sign-in.
    pub token_id: Option<u64>,
}

/// `GET /api/v1/account/events`: the account's recent security events, newest first (needs the session).
pub async fn events(client: &ApiClient) -> Result<Vec<AccountEvent>, ApiError> {
    client.get_json("api/v1/account/events").await
}

/// `GET /api/v1/account`: the signed-in account.
pub async fn account(client: &ApiClient) -> Result<AccountRecord, ApiError> {
    client.get_json("api/v1/account").await
}

/// `POST /api/v1/account/2fa`: starts (or restarts) TOTP enrolment; needs the login session.
pub async fn start_two_factor(client: &ApiClient) -> Result<Enrolment, ApiError> {
    client
        .send_json::<(), _>(Method::POST, "api/v1/account/2fa", None)
        .await
}

/// `POST /api/v1/account/2fa/confirm`: confirms the pending enrolment with a first code, enabling TOTP;
/// returns the recovery codes (shown once).
pub async fn confirm_two_factor(
    client: &ApiClient,
    code: &OneTimeCode,
) -> Result<Vec<Secret>, ApiError> {
    let codes: RecoveryCodes = client
        .post_json("api/v1/account/2fa/confirm", &ConfirmBody { otp: code })
        .await?;
    Ok(codes.recovery_codes)
}

/// `POST /api/v1/tokens`: a scoped, expiring API token (needs the login session and a fresh code).
pub async fn create_token(
    client: &ApiClient,
    token: &NewToken,
    code: &OneTimeCode,
) -> Result<IssuedToken, ApiError> {
    client
        .send_json_with_otp(Method::POST, "api/v1/tokens", Some(token), Some(code))
        .await
}

/// `GET /api/v1/tokens`: the account's tokens, revoked and expired ones included.
pub async fn list_tokens(client: &ApiClient) -> Result<Vec<TokenRecord>, ApiError> {
    client.get_json("api/v1/tokens").await
}

/// `DELETE /api/v1/tokens/{id}`: revokes one of the account's tokens.
pub async fn revoke_token(client: &ApiClient, id: u64) -> Result<(), ApiError> {
    client
        .send_json::<(), serde::de::IgnoredAny>(
            Method::DELETE,
            &format!("api/v1/tokens/{id}"),
            None,
        )
        .await
        .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_publisher_name_rules_and_say_so() {
        assert_eq!("alice".parse::<Username>().unwrap().as_str(), "alice");
        let error = "Alice".parse::<Username>().unwrap_err().to_string();
        assert!(error.contains("personal publisher"), "{error}");
        assert!("a".parse::<Username>().is_err());
    }

    #[test]
    fn an_issued_token_decodes_with_its_record_and_hides_its_secret() {
        let issued: IssuedToken = serde_json::from_str(
            r#"{"token":"locara_pat_00ff","id":3,"name":"login session","kind":"session",
                "scopes":["publish","yank","admin"],"app":null,"created_at":"2026-11-25T17:39:51Z",
                "expires_at":"2026-12-25T17:39:51Z","revoked_at":null,"last_used_at":null,"new_member":1}"#,
        )
        .unwrap();
        assert_eq!(issued.token.expose(), "locara_pat_00ff");
        assert_eq!(issued.record.id, 3);
        assert!(!format!("{issued:?}").contains("00ff"));
    }

    #[test]
    fn login_bodies_carry_one_second_factor_at_most() {
        let username: Username = "alice".parse().unwrap();
        let password = Secret::new("correct horse battery staple");
        let code: OneTimeCode = "123456".parse().unwrap();
        let body = LoginBody {
            username: &username,
            password: &password,
            otp: Some(&code),
            recovery_code: None,
        };
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            serde_json::json!({"username":"alice","password":"correct horse battery staple","otp":"123456"})
        );
    }

    #[test]
    fn new_tokens_serialise_scopes_in_lower_case() {
        let token = NewToken {
            name: "ci".to_owned(),
            scopes: vec![TokenScope::Publish, TokenScope::Admin],
            app: Some("acme/notes".parse().unwrap()),
            expires_in_days: 30,
        };
        assert_eq!(
            serde_json::to_value(&token).unwrap(),
            serde_json::json!({"name":"ci","scopes":["publish","admin"],"app":"acme/notes","expires_in_days":30})
        );
    }
}
