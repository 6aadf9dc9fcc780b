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

/// How many account events the store keeps per account (the newest ones).
pub const AUTH_EVENTS_KEPT_PER_ACCOUNT: usize = 1000;
/// How long the store keeps an account event, in seconds (90 days).
pub const AUTH_EVENT_RETENTION_SECONDS: u64 = 90 * 86_400;

/// What a security-relevant account event records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthEventKind {
    /// A sign-in with a wrong password.
    PasswordFailed,
    /// A wrong or malformed one-time code.
    CodeFailed,
    /// A one-time code whose step was already used.
    CodeReplayed,
    /// A wrong or already used recovery code.
    RecoveryCodeFailed,
    /// A failure budget ran out: attempts from that credential and address are refused for a while.
    Locked,
}

impl AuthEventKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::PasswordFailed => "password-failed",
            Self::CodeFailed => "code-failed",
            Self::CodeReplayed => "code-replayed",
            Self::RecoveryCodeFailed => "recovery-code-failed",
            Self::Locked => "locked",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::PasswordFailed,
            Self::CodeFailed,
            Self::CodeReplayed,
            Self::RecoveryCodeFailed,
            Self::Locked,
        ]
        .into_iter()
        .find(|kind| kind.as_str() == text)
    }

    /// Whether the event is a failed attempt (counted against a failure budget); `Locked` is not.
    pub fn is_failure(self) -> bool {
        self != Self::Locked
    }
}

/// A security-relevant event to record for an account (never a secret or a code).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAuthEvent {
    /// The account it concerns.
    pub account_id: AccountId,
    /// When.
    pub at: u64,
    /// What happened.
    pub kind: AuthEventKind,
    /// The client's address, as the registry determined it.
    pub client_address: String,
    /// The token or session the request carried; `None` for a password sign-in.
    pub token_id: Option<i64>,
}

/// A stored account event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthEvent {
    /// Its id (increasing with time).
    pub id: i64,
    /// The event.
    pub event: NewAuthEvent,
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

/// Where a build is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BuildState {
    /// Waiting for a worker.
    Queued,
    /// A worker holds its lease.
    Building,
    /// Finished: a release exists.
    Succeeded,
    /// Finished without a release; the version stays free.
    Failed,
}

impl BuildState {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Building => "building",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub(crate) fn parse(text: &str) -> Option<Self> {
        match text {
            "queued" => Some(Self::Queued),
            "building" => Some(Self::Building),
            "succeeded" => Some(Self::Succeeded),
            "failed" => Some(Self::Failed),
            _ => None,
        }
    }
}

/// A publisher's verified release request, queued for building.
#[derive(Debug, Clone)]
pub struct NewBuild {
    /// The app.
    pub app_id: i64,
    /// The version asked for.
    pub version: String,
    /// The repository to fetch (the app's registered repository).
    pub repository: String,
    /// The commit to build.
    pub commit: String,
    /// The release statement, a DSSE envelope (JSON).
    pub statement: String,
    /// The publisher key that signed it.
    pub key_id: String,
    /// The account (or trusted-publishing owner) that asked.
    pub requested_by: AccountId,
    /// When.
    pub created_at: u64,
}

/// A build, queued, running or finished.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Build {
    /// Its id, shown to the publisher.
    pub id: i64,
    /// The app's id.
    pub app_id: i64,
    /// `publisher/app`.
    pub app: String,
    /// The version asked for.
    pub version: String,
    /// The repository fetched.
    pub repository: String,
    /// The commit built.
    pub commit: String,
    /// The release statement (DSSE envelope JSON).
    pub statement: String,
    /// The key that signed it.
    pub key_id: String,
    /// Who asked.
    pub requested_by: AccountId,
    /// Where it is.
    pub state: BuildState,
    /// The worker holding it.
    pub lease_owner: Option<String>,
    /// Until when the worker holds it.
    pub lease_expires_at: Option<u64>,
    /// How many times a worker took it.
    pub attempts: u32,
    /// Why it failed.
    pub error: Option<String>,
    /// The build log's blob digest, once finished.
    pub log_digest: Option<String>,
    /// When it was asked for.
    pub created_at: u64,
    /// When a worker first took it.
    pub started_at: Option<u64>,
    /// When it finished.
    pub finished_at: Option<u64>,
}

/// A release to record when a build succeeds.
#[derive(Debug, Clone)]
pub struct NewRelease {
    /// The version.
    pub version: String,
    /// The commit built.
    pub commit: String,
    /// The repository fetched.
    pub repository: String,
    /// The exact `locara.toml` text.
    pub manifest: String,
    /// Its digest.
    pub manifest_digest: String,
    /// The artifact's digest.
    pub artifact_digest: String,
    /// The artifact's length in bytes (`None` for releases recorded before sizes were).
    pub artifact_size: Option<u64>,
    /// The provenance envelope's digest.
    pub provenance_digest: String,
    /// The provenance envelope's length in bytes (`None` as for `artifact_size`).
    pub provenance_size: Option<u64>,
    /// The publisher key that signed the statement.
    pub key_id: String,
    /// The release statement (DSSE envelope JSON).
    pub statement: String,
    /// The capabilities, JSON.
    pub capabilities: String,
    /// What they add to the latest available release's, JSON (an empty array when nothing).
    pub expansion: String,
    /// `available` or `cooling-down`.
    pub state: String,
    /// When it is (or becomes) available.
    pub available_at: u64,
    /// Whether both builds gave the same bytes.
    pub reproducible: bool,
    /// When.
    pub created_at: u64,
}

/// A recorded release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    /// Its id.
    pub id: i64,
    /// The app's id.
    pub app_id: i64,
    /// The build that made it.
    pub build_id: i64,
    /// The version.
    pub version: String,
    /// The commit built.
    pub commit: String,
    /// The repository fetched.
    pub repository: String,
    /// The exact `locara.toml` text.
    pub manifest: String,
    /// Its digest.
    pub manifest_digest: String,
    /// The artifact's digest.
    pub artifact_digest: String,
    /// The artifact's length in bytes (`None` for releases recorded before sizes were).
    pub artifact_size: Option<u64>,
    /// The provenance envelope's digest.
    pub provenance_digest: String,
    /// The provenance envelope's length in bytes (`None` as for `artifact_size`).
    pub provenance_size: Option<u64>,
    /// The publisher key that signed the statement.
    pub key_id: String,
    /// The release statement (DSSE envelope JSON).
    pub statement: String,
    /// The capabilities, JSON.
    pub capabilities: String,
    /// The expansion over the previous available release, JSON.
    pub expansion: String,
    /// `available`, `cooling-down`, `cancelled`, `yanked`, `deprecated` or `revoked`.
    pub state: String,
    /// When it is (or became) available.
    pub available_at: u64,
    /// Whether both builds gave the same bytes.
    pub reproducible: bool,
    /// The log entry that records it.
    pub log_index: u64,
    /// When it was recorded.
    pub created_at: u64,
    /// The publisher's deprecation message, once deprecated (kept if it is later yanked).
    pub message: Option<String>,
}

/// A message to deliver to an owner's webhook, written with what it tells of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// Its id.
    pub id: i64,
    /// The account told.
    pub account_id: AccountId,
    /// Where to POST it.
    pub url: String,
    /// The JSON body.
    pub body: String,
    /// Delivery attempts so far.
    pub attempts: u32,
}

/// An app as search reads it: its record, its publisher, and its latest installable release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppListing {
    /// The app.
    pub app: App,
    /// Its publisher (with its verification).
    pub publisher: Publisher,
    /// The release with the highest id that clients may install at the time asked about: `available`,
    /// `deprecated`, or `cooling-down` whose time has come. Versions only increase, so it is the highest.
    pub latest: Option<Release>,
}

/// What the security team says about a release it revokes (the rest is read from the release).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRevocation {
    /// Why, in plain words for users.
    pub reason: String,
    /// The advisory describing it, if any.
    pub advisory: Option<String>,
    /// When it was revoked (unix seconds).
    pub revoked_at: u64,
}

/// A revoked release, as the signed revocation list names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRecord {
    /// `publisher/app`.
    pub app: String,
    /// The revoked version.
    pub version: String,
    /// The digest of the release's artifact.
    pub artifact: String,
    /// Why it was revoked.
    pub reason: String,
    /// The advisory describing it, if any.
    pub advisory: Option<String>,
    /// When it was revoked (unix seconds).
    pub revoked_at: u64,
    /// The `release.revoked` log entry that records it.
    pub log_index: u64,
}
