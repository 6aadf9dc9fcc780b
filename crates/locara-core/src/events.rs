//! Transparency-log entries: the registry's security-relevant events, as canonical JSON.
//!
//! Every change to who may publish what is one entry: a publisher created or verified, a member added,
//! changed or removed, a release key registered or revoked, an OIDC issuer trusted, an app registered (and,
//! releases, cancellations, yanks, deprecations and revocations, and later transfers). An entry names things by their public names, never
//! database ids, so anyone reading the log can follow it. Entries are at most [`MAX_ENTRY_BYTES`] long,
//! so they fit a C2SP entry bundle.

use serde::{Deserialize, Serialize};

use crate::canonical_json::{self, CanonicalJsonError};
use crate::time::Timestamp;

/// The entry format's version.
pub const ENTRY_VERSION: u32 = 1;

/// The largest entry, in bytes (a C2SP entry bundle's 16-bit length prefix).
pub const MAX_ENTRY_BYTES: usize = crate::log::MAX_ENTRY_SIZE;

/// One log entry: when, and what happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogEntry {
    /// [`ENTRY_VERSION`].
    pub v: u32,
    /// When the registry recorded it.
    pub time: Timestamp,
    /// What happened.
    #[serde(flatten)]
    pub event: Event,
}

/// A claim an OIDC token must match, as recorded in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimPattern {
    /// The claim's name, e.g. `repository`.
    pub claim: String,
    /// The exact value, or a pattern where `*` matches any run of characters.
    pub pattern: String,
}

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event")]
pub enum Event {
    /// A publisher was created (with an account for `user`, or by `by` for an organisation).
    #[serde(rename = "publisher.created")]
    PublisherCreated {
        /// The publisher's name.
        publisher: String,
        /// `user` or `organisation`.
        kind: String,
        /// The account that did it.
        by: String,
    },
    /// A publisher proved an identity.
    #[serde(rename = "publisher.verified")]
    PublisherVerified {
        /// The publisher's name.
        publisher: String,
        /// `dns` or `oidc`.
        method: String,
        /// The domain, or the OIDC issuer and subject.
        subject: String,
        /// The account that did it.
        by: String,
    },
    /// A member was added to a publisher, or their role changed.
    #[serde(rename = "member.added")]
    MemberAdded {
        /// The publisher's name.
        publisher: String,
        /// The member's username.
        member: String,
        /// `owner` or `maintainer`.
        role: String,
        /// The account that did it.
        by: String,
    },
    /// A member was removed from a publisher.
    #[serde(rename = "member.removed")]
    MemberRemoved {
        /// The publisher's name.
        publisher: String,
        /// The member's username.
        member: String,
        /// The account that did it.
        by: String,
    },
    /// A release key was registered.
    #[serde(rename = "key.registered")]
    KeyRegistered {
        /// The publisher's name.
        publisher: String,
        /// The key id.
        key_id: String,
        /// The ed25519 public key, `ed25519:<base64>` (entries written before that spelling hold the bare
        /// base64; readers use [`crate::keys::PublicKey::from_any_spelling`]).
        public_key: String,
        /// The account that did it.
        by: String,
    },
    /// A release key was revoked: signatures by it are no longer accepted for new releases.
    #[serde(rename = "key.revoked")]
    KeyRevoked {
        /// The publisher's name.
        publisher: String,
        /// The key id.
        key_id: String,
        /// The account that did it.
        by: String,
    },
    /// An OIDC issuer was trusted for a publisher, or one of its apps.
    #[serde(rename = "oidc.trusted")]
    OidcTrusted {
        /// The publisher's name.
        publisher: String,
        /// The one app (`publisher/app`), or none for all of the publisher's apps.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        app: Option<String>,
        /// The issuer URL.
        issuer: String,
        /// The audience tokens must name.
        audience: String,
        /// The claims tokens must match.
        claims: Vec<ClaimPattern>,
        /// The account that did it.
        by: String,
    },
    /// A release was built and recorded.
    #[serde(rename = "release.published")]
    ReleasePublished(Box<ReleaseRecord>),
    /// An owner cancelled a release while it was cooling down.
    #[serde(rename = "release.cancelled")]
    ReleaseCancelled {
        /// `publisher/app`.
        app: String,
        /// The version.
        version: String,
        /// The account that did it.
        by: String,
    },
    /// A member yanked a release: no new resolution picks it, installed copies and lockfiles keep working.
    #[serde(rename = "release.yanked")]
    ReleaseYanked {
        /// `publisher/app`.
        app: String,
        /// The version.
        version: String,
        /// Why, as the member wrote it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The account that did it.
        by: String,
    },
    /// A member deprecated a release: it stays installable, and clients show the message.
    #[serde(rename = "release.deprecated")]
    ReleaseDeprecated {
        /// `publisher/app`.
        app: String,
        /// The version.
        version: String,
        /// What clients show on install and in `locara list`.
        message: String,
        /// The account that did it.
        by: String,
    },
    /// The security team revoked a release: it is malicious or dangerous. Clients that sync quarantine
    /// installed copies, and nothing installs it again; the signed revocation list names it too.
    #[serde(rename = "release.revoked")]
    ReleaseRevoked {
        /// `publisher/app`.
        app: String,
        /// The version.
        version: String,
        /// The digest of the release's artifact.
        artifact: String,
        /// Why, in plain words for users.
        reason: String,
        /// The advisory describing it, if any.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        advisory: Option<String>,
        /// Who revoked it: the security team, or the operator who ran the command.
        by: String,
    },
    /// An app was registered.
    #[serde(rename = "app.registered")]
    AppRegistered {
        /// `publisher/app`.
        app: String,
        /// Its source repository.
        repository: String,
        /// The account that did it.
        by: String,
    },
}

/// What a release entry records: everything a client checks a release against (DESIGN §5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// `publisher/app`.
    pub app: String,
    /// The version.
    pub version: String,
    /// The repository the builder fetched.
    pub repository: String,
    /// The commit it built.
    pub commit: String,
    /// The exact `locara.toml` at that commit (also inside the artifact).
    pub manifest: String,
    /// Its digest, `sha256:<hex>`, as the release statement names it.
    pub manifest_digest: String,
    /// The artifact's digest.
    pub artifact: String,
    /// The artifact's length in bytes: a client reads exactly this many and refuses one more. `None` only
    /// in entries written before sizes were recorded (clients then fall back to a cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_size: Option<u64>,
    /// The provenance envelope's digest.
    pub provenance: String,
    /// The provenance envelope's length in bytes; `None` as for [`ReleaseRecord::artifact_size`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance_size: Option<u64>,
    /// The publisher key that signed the release statement.
    pub key_id: String,
    /// The release statement: the publisher's DSSE envelope, as JSON text.
    pub statement: String,
    /// The capabilities, in plain words.
    pub capabilities: Vec<String>,
    /// What they add to the latest available release's, in plain words; empty when nothing.
    pub expansion: Vec<String>,
    /// `available` or `cooling-down`.
    pub status: String,
    /// When it is (or becomes) available to clients.
    pub available_at: Timestamp,
    /// Whether two builds in fresh checkouts gave the same bytes.
    pub reproducible: bool,
    /// Who is new about this release's signer, when someone is (the event-stream defence): such a release
    /// cools down and clients do not apply it unattended. Absent when the signer signed this app before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new_signer: Option<NewSigner>,
}

/// A release signer new to the app: a key that never signed a release of it, or an account added to the
/// publisher within the cool-down period (a key's registrant, or the account that asked for the release).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSigner {
    /// The key never signed a release of this app before.
    pub new_key: bool,
    /// The account that registered the key (as its `key.registered` entry names it).
    pub key_registered_by: String,
    /// When the key was registered.
    pub key_registered_at: Timestamp,
    /// The accounts added to the publisher within the cool-down period that registered the key or asked for
    /// the release, with when each was added; empty when none was.
    pub new_members: Vec<NewMember>,
}

/// A member recently added to a publisher.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewMember {
    /// The account's username.
    pub username: String,
    /// When it was added to the publisher.
    pub added_at: Timestamp,
}

impl NewSigner {
    /// The facts in plain words, for questions and pages: "signed by key 1a2b3c4d…, which never signed a
    /// release of this app, registered by mallory at 2026-12-01T10:00:00Z; mallory was added to the
    /// publisher at 2026-12-01T09:00:00Z".
    pub fn describe(&self, key_id: &str) -> String {
        let short = key_id.get(..16).unwrap_or(key_id);
        let mut text = format!("signed by key {short}…");
        if self.new_key {
            text.push_str(", which never signed a release of this app,");
        }
        text.push_str(&format!(
            " registered by {} at {}",
            self.key_registered_by, self.key_registered_at
        ));
        for member in &self.new_members {
            text.push_str(&format!(
                "; {} was added to the publisher at {}",
                member.username, member.added_at
            ));
        }
        text
    }
}

/// The longest yank reason or deprecation message, in characters.
pub const MAX_RELEASE_NOTE_CHARS: usize = 500;

/// Why a yank reason or deprecation message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReleaseNoteError {
    /// Empty, or only spaces.
    #[error("is empty; write one line saying why")]
    Empty,
    /// Longer than [`MAX_RELEASE_NOTE_CHARS`].
    #[error("is {found} characters long; the most is {MAX_RELEASE_NOTE_CHARS}")]
    TooLong {
        /// Its length in characters.
        found: usize,
    },
    /// Holds a control character (a line break, an escape) or an invisible direction control.
    #[error("has the character {found:?} (U+{code:04X}); expected one line of printable text", code = u32::from(*found))]
    NotPrintable {
        /// The first such character.
        found: char,
    },
}

/// Checks a yank reason or deprecation message: one line of 1 to [`MAX_RELEASE_NOTE_CHARS`] printable
/// characters, with no control characters and no bidirectional overrides (which could make a client show
/// text other than what was recorded).
pub fn check_release_note(text: &str) -> Result<(), ReleaseNoteError> {
    if text.trim().is_empty() {
        return Err(ReleaseNoteError::Empty);
    }
    let found = text.chars().count();
    if found > MAX_RELEASE_NOTE_CHARS {
        return Err(ReleaseNoteError::TooLong { found });
    }
    let invisible = |c: char| matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}');
    match text.chars().find(|&c| c.is_control() || invisible(c)) {
        Some(found) => Err(ReleaseNoteError::NotPrintable { found }),
        None => Ok(()),
    }
}

/// Why an entry could not be made or read.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Not canonical JSON of a known entry.
    #[error("not a log entry: {0}")]
    Json(#[from] CanonicalJsonError),
    /// Too long for an entry bundle.
    #[error("log entry of {0} bytes is longer than the {MAX_ENTRY_BYTES}-byte limit")]
    TooLong(usize),
    /// A version this code does not know.
    #[error("log entry version {0} is not supported (this build reads version {ENTRY_VERSION})")]
    Version(u32),
}

impl LogEntry {
    /// An entry for `event` at `time`.
    pub fn new(time: Timestamp, event: Event) -> Self {
        Self {
            v: ENTRY_VERSION,
            time,
            event,
        }
    }

    /// The entry's canonical JSON bytes, as appended to the log.
    pub fn to_bytes(&self) -> Result<Vec<u8>, EntryError> {
        let bytes = canonical_json::to_vec(self)?;
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLong(bytes.len()));
        }
        Ok(bytes)
    }

    /// Reads an entry from its canonical JSON bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, EntryError> {
        if bytes.len() > MAX_ENTRY_BYTES {
            return Err(EntryError::TooLong(bytes.len()));
        }
        let entry: Self = canonical_json::from_canonical_slice(bytes)?;
        if entry.v != ENTRY_VERSION {
            return Err(EntryError::Version(entry.v));
        }
        Ok(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_are_canonical_json_and_round_trip() {
        let entry = LogEntry::new(
            Timestamp::from_unix_seconds(1_700_000_000).unwrap(),
            Event::KeyRegistered {
                publisher: "acme".into(),
                key_id: "k".into(),
                public_key: "pk".into(),
                by: "alice".into(),
            },
        );
        let bytes = entry.to_bytes().unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"by":"alice","event":"key.registered","key_id":"k","public_key":"pk","publisher":"acme","time":"2023-11-14T22:13:20Z","v":1}"#
        );
        assert_eq!(LogEntry::from_bytes(&bytes).unwrap(), entry);
    }

    #[test]
    fn yank_and_deprecation_entries_have_stable_names_and_an_optional_reason() {
        let time = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        let yanked = LogEntry::new(
            time,
            Event::ReleaseYanked {
                app: "acme/notes".into(),
                version: "1.0.0".into(),
                reason: None,
                by: "alice".into(),
            },
        );
        let bytes = yanked.to_bytes().unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"app":"acme/notes","by":"alice","event":"release.yanked","time":"2023-11-14T22:13:20Z","v":1,"version":"1.0.0"}"#
        );
        assert_eq!(LogEntry::from_bytes(&bytes).unwrap(), yanked);
        let deprecated = LogEntry::new(
            time,
            Event::ReleaseDeprecated {
                app: "acme/notes".into(),
                version: "1.0.0".into(),
                message: "use 2.x".into(),
                by: "alice".into(),
            },
        );
        let bytes = deprecated.to_bytes().unwrap();
        assert!(
            String::from_utf8(bytes.clone())
                .unwrap()
                .contains(r#""event":"release.deprecated","message":"use 2.x""#)
        );
        assert_eq!(LogEntry::from_bytes(&bytes).unwrap(), deprecated);
    }

    #[test]
    fn revocation_entries_have_a_stable_name_and_an_optional_advisory() {
        let time = Timestamp::from_unix_seconds(1_700_000_000).unwrap();
        let revoked = |advisory: Option<&str>| {
            LogEntry::new(
                time,
                Event::ReleaseRevoked {
                    app: "acme/notes".into(),
                    version: "1.0.0".into(),
                    artifact: "sha256:ab".into(),
                    reason: "steals tokens".into(),
                    advisory: advisory.map(str::to_owned),
                    by: "security-team".into(),
                },
            )
        };
        let bytes = revoked(None).to_bytes().unwrap();
        assert_eq!(
            String::from_utf8(bytes.clone()).unwrap(),
            r#"{"app":"acme/notes","artifact":"sha256:ab","by":"security-team","event":"release.revoked","reason":"steals tokens","time":"2023-11-14T22:13:20Z","v":1,"version":"1.0.0"}"#
        );
        assert_eq!(LogEntry::from_bytes(&bytes).unwrap(), revoked(None));
        let with_advisory = revoked(Some("LOCARA-2026-0001")).to_bytes().unwrap();
        assert!(
            String::from_utf8(with_advisory.clone())
                .unwrap()
                .starts_with(r#"{"advisory":"LOCARA-2026-0001","app":"acme/notes""#)
        );
        assert_eq!(
            LogEntry::from_bytes(&with_advisory).unwrap(),
            revoked(Some("LOCARA-2026-0001"))
        );
    }

    #[test]
    fn release_notes_are_one_printable_line_of_at_most_500_characters() {
        assert_eq!(check_release_note("use 2.x: 1.x leaks tokens"), Ok(()));
        assert_eq!(check_release_note(&"é".repeat(500)), Ok(()));
        assert_eq!(
            check_release_note(&"é".repeat(501)),
            Err(ReleaseNoteError::TooLong { found: 501 })
        );
        assert_eq!(check_release_note("  "), Err(ReleaseNoteError::Empty));
        for (text, found) in [
            ("two\nlines", '\n'),
            ("\u{1b}[31mred", '\u{1b}'),
            ("tab\there", '\t'),
            ("abc\u{202E}fed", '\u{202E}'),
        ] {
            assert_eq!(
                check_release_note(text),
                Err(ReleaseNoteError::NotPrintable { found }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn unknown_events_and_versions_are_refused() {
        let unknown = br#"{"by":"a","event":"app.stolen","time":"2023-11-14T22:13:20Z","v":1}"#;
        assert!(LogEntry::from_bytes(unknown).is_err());
        let future = br#"{"app":"a/b","by":"a","event":"app.registered","repository":"r","time":"2023-11-14T22:13:20Z","v":2}"#;
        assert!(matches!(
            LogEntry::from_bytes(future),
            Err(EntryError::Version(2))
        ));
    }
}
