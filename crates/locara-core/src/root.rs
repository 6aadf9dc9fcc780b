//! The root of trust (`root.json`), its rotation, and the signed metadata the roles it names sign.
//!
//! # Signed metadata
//!
//! Every role document (`root.json`, the revocation list, `timestamp.json`, later the index) is a
//! [`SignedMetadata`] envelope, TUF-style: `{"signed": {...}, "signatures": [{"keyid", "sig"}]}`. Each
//! signature is ed25519 over the canonical JSON ([`crate::canonical_json`]) of the `signed` object, which
//! carries `_type` (what the document is, so a signature on one kind of document never verifies as
//! another), `spec_version` ([`SPEC_VERSION`]), a `version` and an `expires` time. The whole file is
//! parsed strictly: duplicate member names and non-integer numbers are refused anywhere in it.
//!
//! [`Root::verify_metadata`] checks a role document, in this order: `_type`; a threshold of the role's
//! keys; `spec_version`; the typed schema (unknown members refused); not expired at `now`
//! (`now >= expires` is expired); version not lower than the last one this client accepted.
//!
//! # The root
//!
//! `root.json`'s `signed` object names the keys (`keys`: key id → `{"keytype": "ed25519", "public":
//! "ed25519:<base64>"}`; roots written before that spelling hold the bare base64, which is still read), a
//! key list and threshold for each role of [`Role::ALL`] (`roles`), and the transparency log (`log`: its
//! origin line and C2SP signed-note verifier key string). A [`Root`] only exists if:
//! every role is present; each threshold is at least 1 and at most its number of keys; a role lists no key
//! twice and only keys in `keys`; every key id equals the id computed from its key; and the document is
//! signed by a threshold of its own root role. Clients pin their first root by the SHA-256 of its exact
//! bytes ([`Root::load_pinned`]).
//!
//! Rotation ([`update_root`], [`walk_root_chain`]): root N+1 is accepted only over trusted root N, with
//! version exactly N+1, signed by a threshold of root N's root keys **and** a threshold of its own. As in
//! TUF, an intermediate root in a chain may have expired; the root the walk ends on may not.
//!
//! # Freshness
//!
//! `timestamp.json` ([`Freshness`]) is signed by the `timestamp` role, expires quickly, and names the
//! latest checkpoint (size and SHA-256 of its note) and revocation list (version and SHA-256 of its file).
//! [`verify_freshness`] refuses it expired, signed by other keys, or rolling back its own version, the
//! checkpoint size or the revocation-list version below what the client saw before.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical_json::{self, CanonicalJsonError};
use crate::digest::Digest;
use crate::keys::{
    KeyId, MAX_SIGNATURES, PublicKey, SignatureTally, SigningKey, TrustedKeys, list_key_ids,
};
use crate::time::Timestamp;

/// The `spec_version` of every signed metadata document this code understands.
pub const SPEC_VERSION: &str = "1";
/// The `_type` of `root.json`.
pub const ROOT_TYPE: &str = "root";
/// The `_type` of `timestamp.json`.
pub const TIMESTAMP_TYPE: &str = "timestamp";
/// The only key type Locara accepts.
pub const ED25519_KEY_TYPE: &str = "ed25519";

/// A role named in the root of trust.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Signs `root.json` itself (and its successors).
    Root,
    /// Signs transparency-log checkpoints.
    Log,
    /// Signs build provenance.
    Builder,
    /// Signs the package index.
    Index,
    /// Signs the revocation list.
    Security,
    /// Signs `timestamp.json`.
    Timestamp,
}

impl Role {
    /// Every role, in the order `root.json` lists them.
    pub const ALL: [Role; 6] = [
        Role::Root,
        Role::Log,
        Role::Builder,
        Role::Index,
        Role::Security,
        Role::Timestamp,
    ];

    /// The role's name as written in `root.json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Root => "root",
            Role::Log => "log",
            Role::Builder => "builder",
            Role::Index => "index",
            Role::Security => "security",
            Role::Timestamp => "timestamp",
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a signed metadata document was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetadataError {
    /// The bytes are not a signed metadata document.
    #[error("malformed signed metadata: {0}")]
    Malformed(CanonicalJsonError),
    /// The document is of another kind.
    #[error("signed metadata has _type {found:?}, expected {expected:?}")]
    WrongType {
        /// The `_type` the caller expects.
        expected: String,
        /// The document's `_type`.
        found: String,
    },
    /// The document is written for another version of this specification.
    #[error(
        "{metadata_type} metadata has spec_version {found:?}, this Locara understands {expected:?}; upgrade Locara"
    )]
    UnsupportedSpecVersion {
        /// The document's `_type`.
        metadata_type: String,
        /// [`SPEC_VERSION`].
        expected: String,
        /// The document's `spec_version`.
        found: String,
    },
    /// Fewer distinct keys of the role signed validly than its threshold.
    #[error(
        "{metadata_type} metadata has valid signatures from {} {role} key(s), {threshold} needed; valid: {}; invalid signatures from: {}; unknown key ids (ignored): {}; {role} keys: {}",
        tally.valid.len(),
        list_key_ids(&tally.valid),
        list_key_ids(&tally.invalid),
        list_key_ids(&tally.unknown),
        list_key_ids(trusted)
    )]
    ThresholdNotMet {
        /// The document's `_type`.
        metadata_type: String,
        /// The role whose keys must sign.
        role: Role,
        /// The role's threshold.
        threshold: u32,
        /// Which of the role's keys signed validly, which did not, and which signers were unknown.
        tally: Box<SignatureTally>,
        /// The role's keys.
        trusted: Vec<KeyId>,
    },
    /// The document's `expires` is not after `now`.
    #[error("{metadata_type} metadata version {version} expired at {expires} (now {now})")]
    Expired {
        /// The document's `_type`.
        metadata_type: String,
        /// The document's version.
        version: u64,
        /// Its `expires`.
        expires: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
    /// The document's version is lower than one the client accepted before.
    #[error(
        "{metadata_type} metadata version {found} is older than version {last_seen} seen before; refusing a rollback"
    )]
    Rollback {
        /// The document's `_type`.
        metadata_type: String,
        /// The highest version accepted before.
        last_seen: u64,
        /// The version offered now.
        found: u64,
    },
}

/// One signature of a [`SignedMetadata`] document.
#[derive(Clone, PartialEq, Eq)]
pub struct MetadataSignature {
    /// The signer's key id as written.
    pub keyid: String,
    /// The signature bytes.
    pub sig: Vec<u8>,
}

impl fmt::Debug for MetadataSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "MetadataSignature({:?}, {})",
            self.keyid,
            STANDARD.encode(&self.sig)
        )
    }
}

/// A TUF-style signed document as received; nothing in it is trusted until verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedMetadata {
    signed: Value,
    message: Vec<u8>,
    /// The signatures, in document order.
    pub signatures: Vec<MetadataSignature>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireMetadata {
    signatures: Vec<WireSignature>,
    signed: Value,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSignature {
    keyid: String,
    sig: String,
}

fn string_member<'a>(value: &'a Value, name: &str) -> &'a str {
    value.get(name).and_then(Value::as_str).unwrap_or("")
}

fn schema_error(reason: impl Into<String>) -> MetadataError {
    MetadataError::Malformed(CanonicalJsonError::Schema {
        reason: reason.into(),
    })
}

impl SignedMetadata {
    /// An unsigned document wrapping `signed`, which must serialise to a JSON object with a `_type`.
    pub fn new<T: Serialize>(signed: &T) -> Result<Self, MetadataError> {
        let value =
            serde_json::to_value(signed).map_err(|error| schema_error(error.to_string()))?;
        Self::from_signed_value(value, Vec::new())
    }

    fn from_signed_value(
        signed: Value,
        signatures: Vec<MetadataSignature>,
    ) -> Result<Self, MetadataError> {
        if !signed.is_object() {
            return Err(schema_error("\"signed\" must be a JSON object"));
        }
        if signed.get("_type").and_then(Value::as_str).is_none() {
            return Err(schema_error("\"signed\" must have a string \"_type\""));
        }
        let message = canonical_json::value_to_vec(&signed).map_err(MetadataError::Malformed)?;
        Ok(Self {
            signed,
            message,
            signatures,
        })
    }

    /// Parses a signed document strictly (duplicate members and non-integer numbers are refused).
    pub fn from_json(bytes: &[u8]) -> Result<Self, MetadataError> {
        let value = canonical_json::parse_value(bytes).map_err(MetadataError::Malformed)?;
        let wire: WireMetadata =
            canonical_json::from_value(value).map_err(MetadataError::Malformed)?;
        if wire.signatures.len() > MAX_SIGNATURES {
            return Err(schema_error(format!(
                "{} signatures; at most {MAX_SIGNATURES} are accepted",
                wire.signatures.len()
            )));
        }
        let signatures = wire
            .signatures
            .into_iter()
            .map(|signature| {
                let sig = STANDARD.decode(&signature.sig).map_err(|error| {
                    schema_error(format!(
                        "signature by {:?} is not standard base64: {error}",
                        signature.keyid
                    ))
                })?;
                Ok(MetadataSignature {
                    keyid: signature.keyid,
                    sig,
                })
            })
            .collect::<Result<_, MetadataError>>()?;
        Self::from_signed_value(wire.signed, signatures)
    }

    /// Adds a signature by `key` over the canonical JSON of `signed`.
    pub fn sign(&mut self, key: &SigningKey) {
        self.signatures.push(MetadataSignature {
            keyid: key.key_id().to_string(),
            sig: key.sign(&self.message).to_bytes().to_vec(),
        });
    }

    /// The whole document as canonical JSON.
    pub fn to_json(&self) -> Vec<u8> {
        let wire = WireMetadata {
            signatures: self
                .signatures
                .iter()
                .map(|signature| WireSignature {
                    keyid: signature.keyid.clone(),
                    sig: STANDARD.encode(&signature.sig),
                })
                .collect(),
            signed: self.signed.clone(),
        };
        canonical_json::to_vec(&wire)
            .expect("the signed object was canonicalised when this document was built")
    }

    /// The document's `_type`.
    pub fn metadata_type(&self) -> &str {
        string_member(&self.signed, "_type")
    }

    /// The bytes every signature covers: canonical JSON of `signed`.
    pub fn signed_bytes(&self) -> &[u8] {
        &self.message
    }

    /// Counts the valid signatures by `keys` (each key once; unknown keys ignored).
    pub fn tally(&self, keys: &TrustedKeys) -> SignatureTally {
        keys.tally(
            &self.message,
            self.signatures
                .iter()
                .map(|signature| (signature.keyid.as_str(), signature.sig.as_slice())),
        )
    }

    /// Checks `_type`, a threshold of `keys` (the keys of `role`) and `spec_version`; returns the signers.
    pub fn verify(
        &self,
        expected_type: &str,
        role: Role,
        keys: &TrustedKeys,
    ) -> Result<Vec<KeyId>, MetadataError> {
        let metadata_type = self.metadata_type();
        if metadata_type != expected_type {
            return Err(MetadataError::WrongType {
                expected: expected_type.to_owned(),
                found: metadata_type.to_owned(),
            });
        }
        let tally = self.tally(keys);
        if !keys.is_met_by(&tally) {
            return Err(MetadataError::ThresholdNotMet {
                metadata_type: metadata_type.to_owned(),
                role,
                threshold: keys.threshold(),
                tally: Box::new(tally),
                trusted: keys.key_ids(),
            });
        }
        let spec_version = string_member(&self.signed, "spec_version");
        if spec_version != SPEC_VERSION {
            return Err(MetadataError::UnsupportedSpecVersion {
                metadata_type: metadata_type.to_owned(),
                expected: SPEC_VERSION.to_owned(),
                found: spec_version.to_owned(),
            });
        }
        Ok(tally.valid)
    }

    /// Decodes `signed` as `T` (no signature is checked here).
    pub fn decode<T: DeserializeOwned>(&self) -> Result<T, MetadataError> {
        canonical_json::from_value(self.signed.clone()).map_err(MetadataError::Malformed)
    }
}

/// A document signed by one role of the root, checked by [`Root::verify_metadata`].
pub trait RoleMetadata: DeserializeOwned {
    /// The document's `_type`.
    const TYPE: &'static str;
    /// The role whose keys sign it.
    const ROLE: Role;
    /// The document's version (monotonic).
    fn version(&self) -> u64;
    /// When the document stops being valid.
    fn expires(&self) -> Timestamp;
}

/// A key as `root.json` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Always [`ED25519_KEY_TYPE`].
    pub keytype: String,
    /// The public key, `ed25519:<base64>`; roots written before that spelling hold the bare base64, which
    /// is still read.
    pub public: String,
}

impl KeyEntry {
    /// The entry for `key`.
    pub fn for_key(key: &PublicKey) -> Self {
        Self {
            keytype: ED25519_KEY_TYPE.to_owned(),
            public: key.to_string(),
        }
    }
}

/// A role's keys and threshold as `root.json` lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    /// The ids of the role's keys.
    pub keyids: Vec<KeyId>,
    /// How many of them must sign.
    pub threshold: u32,
}

/// The transparency log as `root.json` names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogEntry {
    /// The log's checkpoint origin line.
    pub origin: String,
    /// The log's C2SP signed-note verifier key string (`<name>+<hash>+<base64>`).
    pub verifier_key: String,
}

/// The `signed` object of `root.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RootMetadata {
    /// Always [`ROOT_TYPE`].
    #[serde(rename = "_type")]
    pub metadata_type: String,
    /// Always [`SPEC_VERSION`].
    pub spec_version: String,
    /// The root's version: 1 for the first, then +1 per rotation.
    pub version: u64,
    /// When this root stops being valid.
    pub expires: Timestamp,
    /// Every key any role uses, by key id.
    pub keys: BTreeMap<KeyId, KeyEntry>,
    /// Each role's keys and threshold.
    pub roles: BTreeMap<Role, RoleEntry>,
    /// The transparency log.
    pub log: LogEntry,
}

impl RootMetadata {
    /// A root document with the given roles (each a key list and threshold) and log.
    pub fn new(
        version: u64,
        expires: Timestamp,
        roles: impl IntoIterator<Item = (Role, Vec<PublicKey>, u32)>,
        log: LogEntry,
    ) -> Self {
        let mut keys = BTreeMap::new();
        let mut role_entries = BTreeMap::new();
        for (role, role_keys, threshold) in roles {
            for key in &role_keys {
                keys.insert(*key.key_id(), KeyEntry::for_key(key));
            }
            role_entries.insert(
                role,
                RoleEntry {
                    keyids: role_keys.iter().map(|key| *key.key_id()).collect(),
                    threshold,
                },
            );
        }
        Self {
            metadata_type: ROOT_TYPE.to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version,
            expires,
            keys,
            roles: role_entries,
            log,
        }
    }

    /// This document in an envelope signed by each of `keys`, as file bytes.
    pub fn sign(&self, keys: &[&SigningKey]) -> Result<Vec<u8>, MetadataError> {
        let mut document = SignedMetadata::new(self)?;
        for key in keys {
            document.sign(key);
        }
        Ok(document.to_json())
    }
}

/// Why a root was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RootError {
    /// The bytes are not the pinned root.
    #[error("root.json has digest {found}, but {expected} is pinned")]
    PinMismatch {
        /// The pinned digest.
        expected: Digest,
        /// The digest of the bytes given.
        found: Digest,
    },
    /// The bytes are not a signed root document.
    #[error("root.json: {0}")]
    Metadata(MetadataError),
    /// A key entry is of a type other than ed25519.
    #[error(
        "root.json version {version}: key {key_id} has keytype {found:?}, only \"ed25519\" is supported"
    )]
    UnsupportedKeyType {
        /// The root's version.
        version: u64,
        /// The key's id.
        key_id: KeyId,
        /// Its keytype.
        found: String,
    },
    /// A key entry does not hold a usable public key.
    #[error(
        "root.json version {version}: key {key_id} is not a usable ed25519 public key: {reason}"
    )]
    InvalidKey {
        /// The root's version.
        version: u64,
        /// The key's id as listed.
        key_id: KeyId,
        /// What is wrong with it.
        reason: String,
    },
    /// A key is listed under an id that is not its own.
    #[error(
        "root.json version {version}: a key is listed as {listed} but its key id is {computed}"
    )]
    KeyIdMismatch {
        /// The root's version.
        version: u64,
        /// The id it is listed under.
        listed: KeyId,
        /// The id computed from the key.
        computed: KeyId,
    },
    /// A role is missing.
    #[error("root.json version {version} does not define the {role} role")]
    MissingRole {
        /// The root's version.
        version: u64,
        /// The missing role.
        role: Role,
    },
    /// A role's threshold is 0 or above its number of keys.
    #[error(
        "root.json version {version}: the {role} role has threshold {threshold} but {keys} key(s); it must be 1 to the number of keys"
    )]
    ThresholdOutOfRange {
        /// The root's version.
        version: u64,
        /// The role.
        role: Role,
        /// Its threshold.
        threshold: u32,
        /// Its number of keys.
        keys: usize,
    },
    /// A role lists one key twice.
    #[error("root.json version {version}: the {role} role lists key {key_id} more than once")]
    DuplicateRoleKey {
        /// The root's version.
        version: u64,
        /// The role.
        role: Role,
        /// The repeated key.
        key_id: KeyId,
    },
    /// A role lists a key that `keys` does not define.
    #[error(
        "root.json version {version}: the {role} role lists key {key_id}, which is not in \"keys\""
    )]
    UnknownRoleKey {
        /// The root's version.
        version: u64,
        /// The role.
        role: Role,
        /// The undefined key.
        key_id: KeyId,
    },
    /// The log entry is incomplete.
    #[error("root.json version {version}: the log's {field} is empty")]
    EmptyLogField {
        /// The root's version.
        version: u64,
        /// `origin` or `verifier_key`.
        field: &'static str,
    },
    /// The log's verifier key is not a C2SP signed-note ed25519 verifier key string.
    #[error(
        "root.json version {version}: the log's verifier_key is not a signed-note verifier key (<name>+<8 hex digits>+<base64>): {reason}"
    )]
    LogVerifierKey {
        /// The root's version.
        version: u64,
        /// Why the key string does not parse.
        reason: String,
    },
    /// The new root's version is lower than the trusted one.
    #[error(
        "root.json version {found} is older than the trusted version {trusted}; refusing a rollback"
    )]
    Rollback {
        /// The trusted root's version.
        trusted: u64,
        /// The offered root's version.
        found: u64,
    },
    /// The new root has the trusted root's version.
    #[error("root.json version {version} is the trusted version itself; a rotation needs version {}", version.saturating_add(1))]
    SameVersion {
        /// The version of both.
        version: u64,
    },
    /// The new root skips versions.
    #[error(
        "root.json version {found} skips versions: the trusted root is version {trusted}, so the next must be {}; fetch the roots in between",
        trusted.saturating_add(1)
    )]
    SkippedVersion {
        /// The trusted root's version.
        trusted: u64,
        /// The offered root's version.
        found: u64,
    },
    /// The new root is not signed by a threshold of the trusted root's root keys.
    #[error(
        "root.json version {version} has valid signatures from {} of the trusted root's root keys, {threshold} needed; valid: {}; trusted root keys: {}",
        valid.len(),
        list_key_ids(valid),
        list_key_ids(trusted)
    )]
    OldThresholdNotMet {
        /// The new root's version.
        version: u64,
        /// The trusted root's root-role threshold.
        threshold: u32,
        /// Trusted root keys that signed validly.
        valid: Vec<KeyId>,
        /// The trusted root's root keys.
        trusted: Vec<KeyId>,
    },
    /// The root is not signed by a threshold of its own root keys.
    #[error(
        "root.json version {version} has valid signatures from {} of its own root keys, {threshold} needed; valid: {}; its root keys: {}",
        valid.len(),
        list_key_ids(valid),
        list_key_ids(trusted)
    )]
    NewThresholdNotMet {
        /// The root's version.
        version: u64,
        /// Its root-role threshold.
        threshold: u32,
        /// Its root keys that signed validly.
        valid: Vec<KeyId>,
        /// Its root keys.
        trusted: Vec<KeyId>,
    },
    /// The root has expired.
    #[error("root.json version {version} expired at {expires} (now {now})")]
    Expired {
        /// The root's version.
        version: u64,
        /// Its `expires`.
        expires: Timestamp,
        /// The time of the check.
        now: Timestamp,
    },
}

/// A root of trust that verified: well-formed, self-signed, and reached from a pin or by rotation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Root {
    metadata: RootMetadata,
    role_keys: BTreeMap<Role, TrustedKeys>,
    digest: Digest,
}

impl Root {
    /// Accepts the root whose exact bytes hash to `pinned`; checks structure and self-signature, not expiry.
    ///
    /// A pinned root may be old; walk to the newest root with [`walk_root_chain`], which checks expiry.
    pub fn load_pinned(bytes: &[u8], pinned: &Digest) -> Result<Self, RootError> {
        let found = Digest::of_bytes(bytes);
        if &found != pinned {
            return Err(RootError::PinMismatch {
                expected: *pinned,
                found,
            });
        }
        Self::load_trusted(bytes)
    }

    /// Reloads a root the client accepted earlier (from its own store); checks structure and
    /// self-signature again, not expiry.
    pub fn load_trusted(bytes: &[u8]) -> Result<Self, RootError> {
        let (document, root) = Self::parse(bytes)?;
        root.require_own_threshold(&document)?;
        Ok(root)
    }

    fn parse(bytes: &[u8]) -> Result<(SignedMetadata, Self), RootError> {
        let document = SignedMetadata::from_json(bytes).map_err(RootError::Metadata)?;
        let metadata_type = document.metadata_type();
        if metadata_type != ROOT_TYPE {
            return Err(RootError::Metadata(MetadataError::WrongType {
                expected: ROOT_TYPE.to_owned(),
                found: metadata_type.to_owned(),
            }));
        }
        let spec_version = string_member(&document.signed, "spec_version");
        if spec_version != SPEC_VERSION {
            return Err(RootError::Metadata(MetadataError::UnsupportedSpecVersion {
                metadata_type: ROOT_TYPE.to_owned(),
                expected: SPEC_VERSION.to_owned(),
                found: spec_version.to_owned(),
            }));
        }
        let metadata: RootMetadata = document.decode().map_err(RootError::Metadata)?;
        let role_keys = validate(&metadata)?;
        let root = Self {
            metadata,
            role_keys,
            digest: Digest::of_bytes(bytes),
        };
        Ok((document, root))
    }

    fn require_own_threshold(&self, document: &SignedMetadata) -> Result<(), RootError> {
        let keys = self.role_keys(Role::Root);
        let tally = document.tally(keys);
        if !keys.is_met_by(&tally) {
            return Err(RootError::NewThresholdNotMet {
                version: self.metadata.version,
                threshold: keys.threshold(),
                valid: tally.valid,
                trusted: keys.key_ids(),
            });
        }
        Ok(())
    }

    /// The root document.
    pub fn metadata(&self) -> &RootMetadata {
        &self.metadata
    }

    /// The root's version.
    pub fn version(&self) -> u64 {
        self.metadata.version
    }

    /// When the root expires.
    pub fn expires(&self) -> Timestamp {
        self.metadata.expires
    }

    /// SHA-256 of the root's exact bytes (what a client pins).
    pub fn digest(&self) -> &Digest {
        &self.digest
    }

    /// The keys and threshold of `role`.
    pub fn role_keys(&self, role: Role) -> &TrustedKeys {
        // Every role is present: `validate` refuses a root that lacks one.
        &self.role_keys[&role]
    }

    /// The transparency log's origin and verifier key.
    pub fn log(&self) -> &LogEntry {
        &self.metadata.log
    }

    /// Refuses the root if it has expired at `now`.
    pub fn check_not_expired(&self, now: Timestamp) -> Result<(), RootError> {
        if now >= self.metadata.expires {
            return Err(RootError::Expired {
                version: self.metadata.version,
                expires: self.metadata.expires,
                now,
            });
        }
        Ok(())
    }

    /// Verifies a document signed by `T::ROLE` (see the module docs for the order of checks).
    pub fn verify_metadata<T: RoleMetadata>(
        &self,
        bytes: &[u8],
        now: Timestamp,
        last_seen_version: Option<u64>,
    ) -> Result<T, MetadataError> {
        let document = SignedMetadata::from_json(bytes)?;
        document.verify(T::TYPE, T::ROLE, self.role_keys(T::ROLE))?;
        let metadata: T = document.decode()?;
        if now >= metadata.expires() {
            return Err(MetadataError::Expired {
                metadata_type: T::TYPE.to_owned(),
                version: metadata.version(),
                expires: metadata.expires(),
                now,
            });
        }
        if let Some(last_seen) = last_seen_version
            && metadata.version() < last_seen
        {
            return Err(MetadataError::Rollback {
                metadata_type: T::TYPE.to_owned(),
                last_seen,
                found: metadata.version(),
            });
        }
        Ok(metadata)
    }
}

/// Checks the structural rules of a root document and builds each role's key set.
fn validate(metadata: &RootMetadata) -> Result<BTreeMap<Role, TrustedKeys>, RootError> {
    let version = metadata.version;
    let mut keys = BTreeMap::new();
    for (listed, entry) in &metadata.keys {
        if entry.keytype != ED25519_KEY_TYPE {
            return Err(RootError::UnsupportedKeyType {
                version,
                key_id: *listed,
                found: entry.keytype.clone(),
            });
        }
        let key =
            PublicKey::from_any_spelling(&entry.public).map_err(|error| RootError::InvalidKey {
                version,
                key_id: *listed,
                reason: error.to_string(),
            })?;
        if key.key_id() != listed {
            return Err(RootError::KeyIdMismatch {
                version,
                listed: *listed,
                computed: *key.key_id(),
            });
        }
        keys.insert(*listed, key);
    }
    let mut role_keys = BTreeMap::new();
    for role in Role::ALL {
        let Some(entry) = metadata.roles.get(&role) else {
            return Err(RootError::MissingRole { version, role });
        };
        let mut seen = BTreeSet::new();
        for key_id in &entry.keyids {
            if !seen.insert(*key_id) {
                return Err(RootError::DuplicateRoleKey {
                    version,
                    role,
                    key_id: *key_id,
                });
            }
            if !keys.contains_key(key_id) {
                return Err(RootError::UnknownRoleKey {
                    version,
                    role,
                    key_id: *key_id,
                });
            }
        }
        let trusted = TrustedKeys::new(
            entry.keyids.iter().map(|key_id| keys[key_id].clone()),
            entry.threshold,
        )
        .map_err(|_| RootError::ThresholdOutOfRange {
            version,
            role,
            threshold: entry.threshold,
            keys: entry.keyids.len(),
        })?;
        role_keys.insert(role, trusted);
    }
    if metadata.log.origin.trim().is_empty() {
        return Err(RootError::EmptyLogField {
            version,
            field: "origin",
        });
    }
    if metadata.log.verifier_key.trim().is_empty() {
        return Err(RootError::EmptyLogField {
            version,
            field: "verifier_key",
        });
    }
    if let Err(error) = metadata.log.verifier_key.parse::<crate::log::VerifierKey>() {
        return Err(RootError::LogVerifierKey {
            version,
            reason: error.to_string(),
        });
    }
    Ok(role_keys)
}

/// One rotation step without the expiry check (intermediate roots of a chain may have expired).
fn rotate(trusted: &Root, new_bytes: &[u8]) -> Result<Root, RootError> {
    let (document, new_root) = Root::parse(new_bytes)?;
    let (trusted_version, found) = (trusted.version(), new_root.version());
    if found < trusted_version {
        return Err(RootError::Rollback {
            trusted: trusted_version,
            found,
        });
    }
    if found == trusted_version {
        return Err(RootError::SameVersion { version: found });
    }
    if Some(found) != trusted_version.checked_add(1) {
        return Err(RootError::SkippedVersion {
            trusted: trusted_version,
            found,
        });
    }
    let old_keys = trusted.role_keys(Role::Root);
    let old_tally = document.tally(old_keys);
    if !old_keys.is_met_by(&old_tally) {
        return Err(RootError::OldThresholdNotMet {
            version: found,
            threshold: old_keys.threshold(),
            valid: old_tally.valid,
            trusted: old_keys.key_ids(),
        });
    }
    new_root.require_own_threshold(&document)?;
    Ok(new_root)
}

/// Accepts root version N+1 over trusted root N: signed by both roots' root thresholds, and unexpired.
pub fn update_root(trusted: &Root, new_bytes: &[u8], now: Timestamp) -> Result<Root, RootError> {
    let new_root = rotate(trusted, new_bytes)?;
    new_root.check_not_expired(now)?;
    Ok(new_root)
}

/// Follows rotations N+1, N+2, … from `trusted`; only the root the walk ends on must be unexpired.
pub fn walk_root_chain<B: AsRef<[u8]>>(
    trusted: Root,
    newer_roots: impl IntoIterator<Item = B>,
    now: Timestamp,
) -> Result<Root, RootError> {
    let mut current = trusted;
    for bytes in newer_roots {
        current = rotate(&current, bytes.as_ref())?;
    }
    current.check_not_expired(now)?;
    Ok(current)
}

/// The latest checkpoint as `timestamp.json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckpointReference {
    /// The checkpoint's tree size.
    pub size: u64,
    /// SHA-256 of the checkpoint's signed-note bytes.
    pub digest: Digest,
}

/// The latest revocation list as `timestamp.json` names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevocationsReference {
    /// The revocation list's version.
    pub version: u64,
    /// SHA-256 of the revocation list file's bytes.
    pub digest: Digest,
}

/// `timestamp.json`: the short-lived statement of what is current, signed by the timestamp role.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freshness {
    /// Always [`TIMESTAMP_TYPE`].
    #[serde(rename = "_type")]
    pub metadata_type: String,
    /// Always [`SPEC_VERSION`].
    pub spec_version: String,
    /// Increases with every re-signing.
    pub version: u64,
    /// When this statement stops being valid (the freshness limit).
    pub expires: Timestamp,
    /// The latest checkpoint.
    pub checkpoint: CheckpointReference,
    /// The latest revocation list.
    pub revocations: RevocationsReference,
}

impl RoleMetadata for Freshness {
    const TYPE: &'static str = TIMESTAMP_TYPE;
    const ROLE: Role = Role::Timestamp;

    fn version(&self) -> u64 {
        self.version
    }

    fn expires(&self) -> Timestamp {
        self.expires
    }
}

/// Why `timestamp.json`, or a file it names, was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FreshnessError {
    /// The document failed a generic check (signature, expiry, version rollback, …).
    #[error("timestamp.json: {0}")]
    Metadata(MetadataError),
    /// It names an older revocation list than one seen before.
    #[error(
        "timestamp.json names revocation list version {found}, older than version {last_seen} seen before; refusing a rollback"
    )]
    RevocationsRollback {
        /// The revocation-list version seen before.
        last_seen: u64,
        /// The version named now.
        found: u64,
    },
    /// It names a different file for a revocation-list version seen before.
    #[error(
        "timestamp.json names revocation list version {version} with digest {found}, but that version had digest {last_seen}"
    )]
    RevocationsChanged {
        /// The revocation-list version.
        version: u64,
        /// Its digest seen before.
        last_seen: Digest,
        /// The digest named now.
        found: Digest,
    },
    /// It names a smaller checkpoint than one seen before.
    #[error(
        "timestamp.json names a checkpoint of size {found}, smaller than size {last_seen} seen before; refusing a rollback"
    )]
    CheckpointRollback {
        /// The checkpoint size seen before.
        last_seen: u64,
        /// The size named now.
        found: u64,
    },
    /// A fetched file is not the one `timestamp.json` names.
    #[error("{file} has digest {found}, but timestamp.json names {expected}")]
    DigestMismatch {
        /// `revocation list` or `checkpoint`.
        file: &'static str,
        /// The digest `timestamp.json` names.
        expected: Digest,
        /// The digest of the fetched bytes.
        found: Digest,
    },
}

impl Freshness {
    /// A `timestamp.json` document.
    pub fn new(
        version: u64,
        expires: Timestamp,
        checkpoint: CheckpointReference,
        revocations: RevocationsReference,
    ) -> Self {
        Self {
            metadata_type: TIMESTAMP_TYPE.to_owned(),
            spec_version: SPEC_VERSION.to_owned(),
            version,
            expires,
            checkpoint,
            revocations,
        }
    }

    /// This document in an envelope signed by each of `keys`, as file bytes.
    pub fn sign(&self, keys: &[&SigningKey]) -> Result<Vec<u8>, MetadataError> {
        let mut document = SignedMetadata::new(self)?;
        for key in keys {
            document.sign(key);
        }
        Ok(document.to_json())
    }

    /// Refuses revocation-list bytes other than the ones this document names.
    pub fn check_revocations_bytes(&self, bytes: &[u8]) -> Result<(), FreshnessError> {
        check_digest("revocation list", &self.revocations.digest, bytes)
    }

    /// Refuses checkpoint bytes other than the ones this document names.
    pub fn check_checkpoint_bytes(&self, bytes: &[u8]) -> Result<(), FreshnessError> {
        check_digest("checkpoint", &self.checkpoint.digest, bytes)
    }
}

fn check_digest(file: &'static str, expected: &Digest, bytes: &[u8]) -> Result<(), FreshnessError> {
    let found = Digest::of_bytes(bytes);
    if &found != expected {
        return Err(FreshnessError::DigestMismatch {
            file,
            expected: *expected,
            found,
        });
    }
    Ok(())
}

/// Verifies `timestamp.json` against the root's timestamp role and the last one this client accepted.
pub fn verify_freshness(
    root: &Root,
    bytes: &[u8],
    now: Timestamp,
    last_seen: Option<&Freshness>,
) -> Result<Freshness, FreshnessError> {
    let freshness: Freshness = root
        .verify_metadata(bytes, now, last_seen.map(|last| last.version))
        .map_err(FreshnessError::Metadata)?;
    if let Some(last) = last_seen {
        let (old, new) = (&last.revocations, &freshness.revocations);
        if new.version < old.version {
            return Err(FreshnessError::RevocationsRollback {
                last_seen: old.version,
                found: new.version,
            });
        }
        if new.version == old.version && new.digest != old.digest {
            return Err(FreshnessError::RevocationsChanged {
                version: new.version,
                last_seen: old.digest,
                found: new.digest,
            });
        }
        if freshness.checkpoint.size < last.checkpoint.size {
            return Err(FreshnessError::CheckpointRollback {
                last_seen: last.checkpoint.size,
                found: freshness.checkpoint.size,
            });
        }
    }
    Ok(freshness)
}
