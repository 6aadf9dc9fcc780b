//! The registry's records: accounts, second factors, API tokens, publishers, members, verification,
//! release keys and apps, as the metadata store reads and writes them.
//!
//! Times are Unix seconds. Secrets are stored only as hashes, except the TOTP shared secret, which the
//! server must read to check codes (see `docs/registry.md`, accounts).

use std::fmt;

/// An account's database id.
pub type AccountId = i64;
/// A publisher's database id.
pub type PublisherId = i64;

/// A new account with its password already hashed.
#[derive(Clone)]
pub struct NewAccount {
    /// The login name, also the personal publisher's name.
    pub username: String,
    /// The Argon2id PHC string.
    pub password_hash: String,
    /// When it was created.
    pub created_at: u64,
}

impl fmt::Debug for NewAccount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewAccount")
            .field("username", &self.username)
            .finish_non_exhaustive()
    }
}

/// A stored account.
#[derive(Clone)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// The login name.
    pub username: String,
    /// The Argon2id PHC string.
    pub password_hash: String,
    /// The TOTP shared secret, pending or enabled.
    pub totp_secret: Option<Vec<u8>>,
    /// Whether TOTP is enabled (enrolment confirmed with a first code).
    pub totp_enabled: bool,
    /// The last TOTP step accepted.
    pub totp_last_step: Option<u64>,
    /// When it was created.
    pub created_at: u64,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("username", &self.username)
            .field("totp_enabled", &self.totp_enabled)
            .finish_non_exhaustive()
    }
}

/// What an API token was made by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenKind {
    /// Made by `login`: acts as the account, limited by its second factor.
    Session,
    /// Made by `token create` under 2FA: scoped and expiring.
    Api,
    /// Made by exchanging a trusted OIDC token: one app, publish only, short-lived.
    TrustedPublishing,
}

impl TokenKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Session => "session",
            Self::Api => "api",
            Self::TrustedPublishing => "trusted-publishing",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "session" => Some(Self::Session),
            "api" => Some(Self::Api),
            "trusted-publishing" => Some(Self::TrustedPublishing),
            _ => None,
        }
    }
}

/// A new API token; only the hash of its secret is stored.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The account it acts for.
    pub account_id: AccountId,
    /// SHA-256 of the secret, hex.
    pub token_hash: String,
    /// A name the user chose.
    pub name: String,
    /// What made it.
    pub kind: TokenKind,
    /// What it may do.
    pub scopes: Vec<String>,
    /// The one app (`publisher/app`) it is limited to, if any.
    pub app: Option<String>,
    /// When it was made.
    pub created_at: u64,
    /// When it stops working.
    pub expires_at: u64,
}

/// A stored API token (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// Its id, shown to the user for listing and revoking.
    pub id: i64,
    /// The account it acts for.
    pub account_id: AccountId,
    /// The user's name for it.
    pub name: String,
    /// What made it.
    pub kind: TokenKind,
    /// What it may do.
    pub scopes: Vec<String>,
    /// The one app it is limited to, if any.
    pub app: Option<String>,
    /// When it was made.
    pub created_at: u64,
    /// When it stops working.
    pub expires_at: u64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<u64>,
    /// When it was last used.
    pub last_used_at: Option<u64>,
}

/// A user's personal publisher or an organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublisherKind {
    /// The personal publisher every account has, named like the account.
    User,
    /// An organisation with owners and maintainers.
    Organisation,
}

impl PublisherKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Organisation => "organisation",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "user" => Some(Self::User),
            "organisation" => Some(Self::Organisation),
            _ => None,
        }
    }
}

/// How a publisher proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    /// `dns` or `oidc`.
    pub method: String,
    /// The domain (DNS) or the issuer and subject (OIDC).
    pub subject: String,
    /// When.
    pub at: u64,
}

/// A stored publisher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Publisher {
    /// Its id.
    pub id: PublisherId,
    /// Its name.
    pub name: String,
    /// Personal or organisation.
    pub kind: PublisherKind,
    /// When it was created.
    pub created_at: u64,
    /// Its verification, if verified.
    pub verification: Option<Verification>,
}

/// A member's role in a publisher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MemberRole {
    /// Publishes; cannot change membership, keys' ownership or verification.
    Maintainer,
    /// Everything a maintainer can, plus membership, keys, verification and apps.
    Owner,
}

impl MemberRole {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Owner => "owner",
            Self::Maintainer => "maintainer",
        }
    }

    /// Parses a stored or requested name.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "owner" => Some(Self::Owner),
            "maintainer" => Some(Self::Maintainer),
            _ => None,
        }
    }
}

/// A publisher's member.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    /// The member's account.
    pub account_id: AccountId,
    /// The member's username.
    pub username: String,
    /// The role.
    pub role: MemberRole,
    /// When they were added.
    pub added_at: u64,
}

/// A trust of an OIDC issuer for a publisher or one of its apps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcTrust {
    /// Its id.
    pub id: i64,
    /// The publisher.
    pub publisher_id: PublisherId,
    /// The one app (`publisher/app`) it is for, or all of the publisher's apps.
    pub app: Option<String>,
    /// The issuer URL, exactly as tokens name it.
    pub issuer: String,
    /// The audience tokens must name.
    pub audience: String,
    /// The claim rules, as a JSON array of `{"claim", "pattern"}`.
    pub rules: String,
    /// The owner who added it; tokens exchanged under it act for this account.
    pub created_by: AccountId,
    /// When it was added.
    pub created_at: u64,
}

/// A publisher's release key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublisherKey {
    /// The key id (`locara_core::keys::KeyId`).
    pub key_id: String,
    /// The publisher.
    pub publisher_id: PublisherId,
    /// The public key, base64.
    pub public_key: String,
    /// When it was registered.
    pub created_at: u64,
    /// The log entry that registered it.
    pub log_index: u64,
    /// When it was revoked, if it was.
    pub revoked_at: Option<u64>,
    /// The log entry that revoked it.
    pub revoked_log_index: Option<u64>,
}

/// A new app.
#[derive(Debug, Clone)]
pub struct NewApp {
    /// The publisher that owns it.
    pub publisher_id: PublisherId,
    /// `publisher/app`.
    pub name: String,
    /// The canonical form of the name.
    pub canonical: String,
    /// Its source repository URL.
    pub repository: String,
    /// When it was registered.
    pub created_at: u64,
}

/// A stored app.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct App {
    /// Its id.
    pub id: i64,
    /// The publisher that owns it.
    pub publisher_id: PublisherId,
    /// `publisher/app`.
    pub name: String,
    /// Its source repository URL.
    pub repository: String,
    /// When it was registered.
    pub created_at: u64,
    /// The log entry that registered it.
    pub log_index: u64,
}

pub(crate) fn parse_publisher_kind(text: &str) -> Option<PublisherKind> {
    PublisherKind::parse(text)
}
