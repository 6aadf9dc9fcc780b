//! Ed25519 keys, key ids, signatures and key files.
//!
//! - A [`PublicKey`] is written `ed25519:<standard base64 of the 32 key bytes, padded>`, the one spelling
//!   Locara writes anywhere (root.json, log entries, API answers, key files, CLI output). Parsing refuses
//!   non-canonical base64, points that are not on the curve and small-order ("weak") keys;
//!   [`PublicKey::from_any_spelling`] also reads the bare base64 that older documents hold.
//! - A [`KeyId`] is the lower-case hex SHA-256 of that text form, so
//!   `printf '%s' 'ed25519:…' | sha256sum` computes it. It is a function of the key bytes alone and cannot
//!   be chosen by whoever presents a signature.
//! - Signatures are verified with `verify_strict` (no malleable signatures, no small-order keys).
//! - A [`SigningKey`] file is a small JSON document (see [`KEY_FILE_TYPE`]) holding the 32-byte seed in
//!   base64 beside its public key and key id. It is created with mode 0600 from the first byte (temp file
//!   with `create_new` + `mode(0o600)`, then renamed), never overwrites an existing file, and is refused on
//!   load when group or others may read it. Seeds are zeroized on drop; no `Debug`, `Display` or error
//!   ever contains secret material.
//! - [`TrustedKeys`] is a set of public keys with a threshold between 1 and the number of keys; it is the
//!   one place where signatures are counted, so DSSE envelopes and signed metadata count them the same way:
//!   only keys in the set count, each key at most once, invalid signatures never count.

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use zeroize::{Zeroize, Zeroizing};

use crate::digest::Digest;

/// The prefix of a public key's text form.
pub const ED25519_PREFIX: &str = "ed25519:";
/// The `type` field of a Locara private key file.
pub const KEY_FILE_TYPE: &str = "locara-ed25519-private-key-v1";
/// The most signatures a DSSE envelope or signed metadata document may carry; more are refused when
/// parsing, so that a hostile document cannot make a verifier check thousands of signatures.
pub const MAX_SIGNATURES: usize = 64;
/// Key files larger than this are refused unread.
const MAX_KEY_FILE_LEN: u64 = 4096;

/// Why a key, key id, signature or threshold is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The text is not `ed25519:<base64 of 32 bytes>`.
    #[error("public key {found:?} must be written \"ed25519:<base64 of 32 bytes>\"")]
    PublicKeyFormat {
        /// The text that was given.
        found: String,
    },
    /// The 32 bytes are not a usable ed25519 public key (not on the curve, or of small order).
    #[error("public key {found:?} is not a usable ed25519 key (invalid or small-order point)")]
    InvalidPublicKey {
        /// The key as text.
        found: String,
    },
    /// A key id is not 64 lower-case hex digits.
    #[error(
        "key id {found:?} must be 64 lower-case hex digits (the SHA-256 of \"ed25519:<base64>\")"
    )]
    KeyIdFormat {
        /// The text that was given.
        found: String,
    },
    /// A signature does not have 64 bytes.
    #[error("an ed25519 signature has 64 bytes, found {found}")]
    SignatureLength {
        /// The number of bytes found.
        found: usize,
    },
    /// A signature is not valid base64.
    #[error("signature is not valid base64: {reason}")]
    SignatureEncoding {
        /// What the decoder objected to.
        reason: String,
    },
    /// The operating system's random source failed.
    #[error("could not read random bytes from the operating system: {reason}")]
    Random {
        /// The operating system's error.
        reason: String,
    },
    /// A threshold is 0 or larger than the number of keys.
    #[error(
        "threshold {threshold} must be at least 1 and at most the number of distinct keys ({keys})"
    )]
    Threshold {
        /// The threshold that was asked for.
        threshold: u32,
        /// How many distinct keys there are.
        keys: usize,
    },
}

/// A signature that does not verify under a key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("signature does not verify under key {key_id}")]
pub struct SignatureError {
    /// The key that was tried.
    pub key_id: KeyId,
}

/// Why a private key file could not be written or read. Every variant names the file.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// Reading, writing or renaming failed.
    #[error("key file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's error.
        source: io::Error,
    },
    /// Saving would overwrite an existing file.
    #[error("key file {path} already exists; refusing to overwrite a key (move it away first)")]
    AlreadyExists {
        /// The file.
        path: PathBuf,
    },
    /// Group or others may access the private key file.
    #[error(
        "private key file {path} has mode {mode:04o}, which lets group or others read it; run `chmod 600 {path}` if the key is still secret, otherwise replace it"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The file is a key file of another kind.
    #[error("{path} is a {found:?} file, expected a {expected:?} file")]
    WrongType {
        /// The file.
        path: PathBuf,
        /// The type this loader reads.
        expected: &'static str,
        /// The type the file declares.
        found: String,
    },
    /// The file is not a well-formed key file.
    #[error("key file {path} is corrupt: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong with it (never includes secret material).
        reason: String,
    },
    /// A fresh key could not be generated.
    #[error("key file {path}: {source}")]
    Key {
        /// The file.
        path: PathBuf,
        /// The underlying key error.
        source: KeyError,
    },
}

/// The identifier of a public key: lower-case hex SHA-256 of its `ed25519:<base64>` text form.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyId([u8; 32]);

impl KeyId {
    /// The 64 lower-case hex digits.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "KeyId({self})")
    }
}

impl FromStr for KeyId {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = || KeyError::KeyIdFormat {
            found: s.to_owned(),
        };
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(error());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| error())?;
        Ok(Self(bytes))
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An ed25519 public key, written `ed25519:<base64>`.
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: ed25519_dalek::VerifyingKey,
    id: KeyId,
}

impl PublicKey {
    /// A public key from its 32 bytes; refuses invalid and small-order points.
    pub fn from_bytes(bytes: &[u8; 32]) -> Result<Self, KeyError> {
        let invalid = || KeyError::InvalidPublicKey {
            found: format!("{ED25519_PREFIX}{}", STANDARD.encode(bytes)),
        };
        let key = ed25519_dalek::VerifyingKey::from_bytes(bytes).map_err(|_| invalid())?;
        if key.is_weak() {
            return Err(invalid());
        }
        Ok(Self::from_verifying_key(key))
    }

    fn from_verifying_key(key: ed25519_dalek::VerifyingKey) -> Self {
        let text = format!("{ED25519_PREFIX}{}", STANDARD.encode(key.as_bytes()));
        let id = KeyId(*Digest::of_bytes(text.as_bytes()).as_bytes());
        Self { key, id }
    }

    /// A public key from the base64 of its 32 bytes (the `public` field of `root.json`).
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let format_error = || KeyError::PublicKeyFormat {
            found: format!("{ED25519_PREFIX}{text}"),
        };
        let decoded = STANDARD.decode(text).map_err(|_| format_error())?;
        let bytes: [u8; 32] = decoded.try_into().map_err(|_| format_error())?;
        Self::from_bytes(&bytes)
    }

    /// The 32 key bytes.
    pub fn to_bytes(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// A public key in the spelling Locara writes (`ed25519:<base64>`) or the bare `<base64>` that
    /// documents and log entries written before that spelling was uniform hold. Writers use [`Display`]
    /// (`ed25519:<base64>`); this is for reading what may already exist.
    ///
    /// [`Display`]: fmt::Display
    pub fn from_any_spelling(text: &str) -> Result<Self, KeyError> {
        match text.strip_prefix(ED25519_PREFIX) {
            Some(encoded) => Self::from_base64(encoded),
            None => Self::from_base64(text),
        }
    }

    /// The standard, padded base64 of the 32 key bytes, without the `ed25519:` prefix.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.key.as_bytes())
    }

    /// This key's id.
    pub fn key_id(&self) -> &KeyId {
        &self.id
    }

    /// Checks `signature` over `message` (strict ed25519: no malleable signatures).
    pub fn verify(&self, message: &[u8], signature: &Signature) -> Result<(), SignatureError> {
        let signature = ed25519_dalek::Signature::from_bytes(&signature.0);
        self.key
            .verify_strict(message, &signature)
            .map_err(|_| SignatureError { key_id: self.id })
    }
}

impl fmt::Display for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{ED25519_PREFIX}{}", self.to_base64())
    }
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({self}, id {})", self.id)
    }
}

impl FromStr for PublicKey {
    type Err = KeyError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(encoded) = s.strip_prefix(ED25519_PREFIX) else {
            return Err(KeyError::PublicKeyFormat {
                found: s.to_owned(),
            });
        };
        Self::from_base64(encoded)
    }
}

impl Serialize for PublicKey {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for PublicKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A 64-byte ed25519 signature; written as standard base64 in documents.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature([u8; 64]);

impl Signature {
    /// A signature from its 64 bytes.
    pub const fn from_bytes(bytes: [u8; 64]) -> Self {
        Self(bytes)
    }

    /// A signature from a byte slice that must be 64 bytes long.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, KeyError> {
        let array: [u8; 64] = bytes
            .try_into()
            .map_err(|_| KeyError::SignatureLength { found: bytes.len() })?;
        Ok(Self(array))
    }

    /// A signature from standard, padded base64.
    pub fn from_base64(text: &str) -> Result<Self, KeyError> {
        let bytes = STANDARD
            .decode(text)
            .map_err(|error| KeyError::SignatureEncoding {
                reason: error.to_string(),
            })?;
        Self::from_slice(&bytes)
    }

    /// The 64 bytes.
    pub const fn to_bytes(&self) -> [u8; 64] {
        self.0
    }

    /// Standard, padded base64 of the 64 bytes.
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }
}

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({})", self.to_base64())
    }
}

impl Serialize for Signature {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_base64())
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Self::from_base64(&String::deserialize(deserializer)?).map_err(serde::de::Error::custom)
    }
}

/// An ed25519 signing key. Its secret is zeroized on drop and never printed.
pub struct SigningKey {
    key: ed25519_dalek::SigningKey,
    public: PublicKey,
}

impl SigningKey {
    /// A new key from 32 bytes of operating-system randomness.
    pub fn generate() -> Result<Self, KeyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|error| KeyError::Random {
            reason: error.to_string(),
        })?;
        Ok(Self::from_seed(&seed))
    }

    /// The key whose RFC 8032 secret seed is `seed` (deterministic: for tests and key files).
    pub fn from_seed(seed: &[u8; 32]) -> Self {
        let key = ed25519_dalek::SigningKey::from_bytes(seed);
        let public = PublicKey::from_verifying_key(key.verifying_key());
        Self { key, public }
    }

    /// The RFC 8032 secret seed, for other key encodings of the same key (see
    /// [`crate::log::SignerKey::from_signing_key`]).
    pub(crate) fn seed(&self) -> Zeroizing<[u8; 32]> {
        Zeroizing::new(*self.key.as_bytes())
    }

    /// The public half.
    pub fn public_key(&self) -> &PublicKey {
        &self.public
    }

    /// The id of the public half.
    pub fn key_id(&self) -> &KeyId {
        &self.public.id
    }

    /// Signs `message`.
    pub fn sign(&self, message: &[u8]) -> Signature {
        use ed25519_dalek::Signer as _;
        Signature(self.key.sign(message).to_bytes())
    }

    /// The key file text: JSON with `type`, `key_id`, `public` and the base64 `seed`.
    fn to_file_text(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(STANDARD.encode(self.key.as_bytes()));
        Zeroizing::new(format!(
            "{{\n  \"type\": \"{KEY_FILE_TYPE}\",\n  \"key_id\": \"{}\",\n  \"public\": \"{}\",\n  \"seed\": \"{}\"\n}}\n",
            self.public.id,
            self.public,
            seed.as_str()
        ))
    }

    /// Writes the key to a new file at `path` with mode 0600; refuses to overwrite an existing file.
    ///
    /// The bytes go to a temporary file in the same directory (created with `create_new` and mode 0600,
    /// so the secret is never readable by others, not even briefly), are synced, and the file is then
    /// renamed into place and the directory synced.
    pub fn save(&self, path: &Path) -> Result<(), KeyFileError> {
        let io_error = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        if fs::symlink_metadata(path).is_ok() {
            return Err(KeyFileError::AlreadyExists {
                path: path.to_owned(),
            });
        }
        let directory = match path.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
            _ => PathBuf::from("."),
        };
        let file_name = path
            .file_name()
            .ok_or_else(|| KeyFileError::Corrupt {
                path: path.to_owned(),
                reason: "the path has no file name".to_owned(),
            })?
            .to_string_lossy()
            .into_owned();
        let mut nonce = [0u8; 8];
        getrandom::fill(&mut nonce).map_err(|error| KeyFileError::Key {
            path: path.to_owned(),
            source: KeyError::Random {
                reason: error.to_string(),
            },
        })?;
        let temporary = directory.join(format!(".{file_name}.{}.tmp", hex::encode(nonce)));

        let written = (|| {
            let mut file = create_private_file(&temporary)?;
            file.write_all(self.to_file_text().as_bytes())?;
            file.sync_all()?;
            drop(file);
            fs::rename(&temporary, path)
        })();
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(io_error(error));
        }
        if let Ok(directory) = File::open(&directory) {
            directory.sync_all().map_err(io_error)?;
        }
        Ok(())
    }

    /// Reads a key file written by [`SigningKey::save`]; refuses files that group or others may read.
    pub fn load(path: &Path) -> Result<Self, KeyFileError> {
        let io_error = |source| KeyFileError::Io {
            path: path.to_owned(),
            source,
        };
        let corrupt = |reason: String| KeyFileError::Corrupt {
            path: path.to_owned(),
            reason,
        };
        let file = File::open(path).map_err(io_error)?;
        let metadata = file.metadata().map_err(io_error)?;
        if !metadata.is_file() {
            return Err(corrupt("it is not a regular file".to_owned()));
        }
        check_private_mode(path, &metadata)?;
        if metadata.len() > MAX_KEY_FILE_LEN {
            return Err(corrupt(format!(
                "it is {} bytes long; a key file has at most {MAX_KEY_FILE_LEN}",
                metadata.len()
            )));
        }
        let mut text = Zeroizing::new(String::new());
        file.take(MAX_KEY_FILE_LEN)
            .read_to_string(&mut text)
            .map_err(io_error)?;

        #[derive(Deserialize)]
        struct DeclaredType {
            #[serde(rename = "type")]
            kind: String,
        }
        let declared: DeclaredType = serde_json::from_str(&text).map_err(|error| {
            corrupt(format!(
                "not a Locara key file (expected a JSON object with \"type\": {KEY_FILE_TYPE:?}): {}",
                error.classify_message()
            ))
        })?;
        if declared.kind != KEY_FILE_TYPE {
            return Err(KeyFileError::WrongType {
                path: path.to_owned(),
                expected: KEY_FILE_TYPE,
                found: declared.kind,
            });
        }
        let contents: KeyFileContents =
            serde_json::from_str(&text).map_err(|error| corrupt(error.classify_message()))?;
        let seed_bytes = Zeroizing::new(
            STANDARD
                .decode(contents.seed.as_bytes())
                .map_err(|_| corrupt("the seed is not valid base64".to_owned()))?,
        );
        let seed: Zeroizing<[u8; 32]> =
            Zeroizing::new(seed_bytes.as_slice().try_into().map_err(|_| {
                corrupt(format!(
                    "the seed has {} bytes, expected 32",
                    seed_bytes.len()
                ))
            })?);
        let key = Self::from_seed(&seed);
        if contents.public != key.public.to_string() {
            return Err(corrupt(format!(
                "the seed belongs to public key {}, but the file names {:?}",
                key.public, contents.public
            )));
        }
        if contents.key_id != key.public.id.hex() {
            return Err(corrupt(format!(
                "the key id should be {}, but the file names {:?}",
                key.public.id, contents.key_id
            )));
        }
        Ok(key)
    }
}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigningKey")
            .field("key_id", &self.public.id)
            .field("public", &format_args!("{}", self.public))
            .field("secret", &format_args!("<redacted>"))
            .finish()
    }
}

/// The fields of a key file; the seed is wiped when this is dropped.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyFileContents {
    #[serde(rename = "type")]
    _kind: String,
    key_id: String,
    public: String,
    seed: String,
}

impl Drop for KeyFileContents {
    fn drop(&mut self) {
        self.seed.zeroize();
    }
}

/// A short description of a JSON error that cannot echo file contents (the seed) back.
trait ClassifyMessage {
    fn classify_message(&self) -> String;
}

impl ClassifyMessage for serde_json::Error {
    fn classify_message(&self) -> String {
        let kind = match self.classify() {
            serde_json::error::Category::Io => "read error",
            serde_json::error::Category::Syntax => "invalid JSON",
            serde_json::error::Category::Data => "missing, unknown or mistyped field",
            serde_json::error::Category::Eof => "unexpected end of file",
        };
        format!("{kind} at line {} column {}", self.line(), self.column())
    }
}

#[cfg(unix)]
fn create_private_file(path: &Path) -> io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
}

#[cfg(not(unix))]
fn create_private_file(path: &Path) -> io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

#[cfg(unix)]
fn check_private_mode(path: &Path, metadata: &fs::Metadata) -> Result<(), KeyFileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = metadata.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeyFileError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private_mode(_path: &Path, _metadata: &fs::Metadata) -> Result<(), KeyFileError> {
    Ok(())
}

/// A set of trusted public keys and how many of them must sign.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustedKeys {
    keys: BTreeMap<KeyId, PublicKey>,
    threshold: u32,
}

/// The outcome of checking a list of signatures against [`TrustedKeys`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SignatureTally {
    /// Trusted keys with at least one valid signature, each listed once, in the order first seen.
    pub valid: Vec<KeyId>,
    /// Trusted keys that signed, but whose signatures all failed to verify.
    pub invalid: Vec<KeyId>,
    /// Key ids of signatures by keys outside the set (ignored), each listed once.
    pub unknown: Vec<String>,
}

impl TrustedKeys {
    /// A key set with `threshold` (1 ≤ threshold ≤ number of distinct keys).
    pub fn new(
        keys: impl IntoIterator<Item = PublicKey>,
        threshold: u32,
    ) -> Result<Self, KeyError> {
        let keys: BTreeMap<KeyId, PublicKey> = keys.into_iter().map(|key| (key.id, key)).collect();
        if threshold == 0 || threshold as usize > keys.len() {
            return Err(KeyError::Threshold {
                threshold,
                keys: keys.len(),
            });
        }
        Ok(Self { keys, threshold })
    }

    /// One key, threshold 1.
    pub fn single(key: PublicKey) -> Self {
        Self {
            keys: BTreeMap::from([(key.id, key)]),
            threshold: 1,
        }
    }

    /// How many distinct keys must sign.
    pub fn threshold(&self) -> u32 {
        self.threshold
    }

    /// The number of keys in the set.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set is empty (never true for a constructed set).
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The key with this id, if it is in the set.
    pub fn get(&self, key_id: &KeyId) -> Option<&PublicKey> {
        self.keys.get(key_id)
    }

    /// The ids of the keys in the set, in order.
    pub fn key_ids(&self) -> Vec<KeyId> {
        self.keys.keys().copied().collect()
    }

    /// Checks each `(key id, signature bytes)` over `message`; see [`SignatureTally`].
    pub fn tally<'a>(
        &self,
        message: &[u8],
        signatures: impl IntoIterator<Item = (&'a str, &'a [u8])>,
    ) -> SignatureTally {
        let mut tally = SignatureTally::default();
        for (key_id_text, signature_bytes) in signatures {
            let Some(key) = key_id_text
                .parse::<KeyId>()
                .ok()
                .and_then(|key_id| self.keys.get(&key_id))
            else {
                if !tally.unknown.iter().any(|seen| seen == key_id_text) {
                    tally.unknown.push(key_id_text.to_owned());
                }
                continue;
            };
            if tally.valid.contains(&key.id) {
                continue;
            }
            let verified = Signature::from_slice(signature_bytes)
                .ok()
                .is_some_and(|signature| key.verify(message, &signature).is_ok());
            if verified {
                tally.valid.push(key.id);
            } else if !tally.invalid.contains(&key.id) {
                tally.invalid.push(key.id);
            }
        }
        tally.invalid.retain(|key_id| !tally.valid.contains(key_id));
        tally
    }

    /// Whether a tally reaches this set's threshold.
    pub fn is_met_by(&self, tally: &SignatureTally) -> bool {
        tally.valid.len() >= self.threshold as usize
    }
}

impl fmt::Debug for TrustedKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedKeys")
            .field("threshold", &self.threshold)
            .field("keys", &self.keys.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// A list of key ids for error messages: `a, b, c` or `none`.
pub(crate) fn list_key_ids<T: fmt::Display>(key_ids: &[T]) -> String {
    if key_ids.is_empty() {
        "none".to_owned()
    } else {
        key_ids
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}
