//! C2SP signed notes (<https://c2sp.org/signed-note>) with ed25519 keys.
//!
//! A note is UTF-8 text that ends in a newline, a blank line, and one or more signature lines
//! `— <key name> <base64(key hash (4 bytes) || signature)>`. Key strings are
//! `<name>+<hash hex 8>+<base64(0x01 || public key)>` (verifier) and
//! `PRIVATE+KEY+<name>+<hash hex 8>+<base64(0x01 || seed)>` (signer), where the key hash is the first four bytes,
//! big-endian, of `SHA-256(name || "\n" || 0x01 || public key)`.
//!
//! Invariants: a parsed [`Note`] re-encodes to exactly the bytes it was parsed from; it holds at most
//! [`MAX_SIGNATURES`] signatures and [`MAX_NOTE_SIZE`] bytes. Verification ignores signatures by unknown keys,
//! refuses a note whose signature by a known key does not verify, and needs at least one known key to verify.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::keys::{PublicKey, Signature, SigningKey};

/// The largest note accepted, in bytes (1 MiB).
pub const MAX_NOTE_SIZE: usize = 1 << 20;

/// The most signature lines a note may carry; more is refused rather than ignored.
pub const MAX_SIGNATURES: usize = 100;

/// The algorithm byte of ed25519 keys in C2SP key strings.
const ALGORITHM_ED25519: u8 = 0x01;

/// What begins every signature line: an em dash (U+2014) and a space.
const SIGNATURE_PREFIX: &str = "\u{2014} ";

/// The prefix of signer key strings.
const SIGNER_PREFIX: &str = "PRIVATE+KEY+";

/// Why a note, a signature or a key string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// The note is larger than [`MAX_NOTE_SIZE`].
    #[error("note is {found} bytes, the limit is {limit}")]
    TooLarge {
        /// The limit.
        limit: usize,
        /// The note's size.
        found: usize,
    },
    /// The note is not UTF-8.
    #[error("note is not UTF-8 (invalid byte at offset {offset})")]
    NotUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The note holds a control character other than newline.
    #[error("note holds control character {found:?} at offset {offset}; only newline is allowed")]
    ControlCharacter {
        /// Offset of the character.
        offset: usize,
        /// The character.
        found: char,
    },
    /// The note text does not end in a newline.
    #[error("note text must end with a newline, found {found:?} at the end")]
    TextNotTerminated {
        /// The last characters of the text.
        found: String,
    },
    /// There is no blank line separating text and signatures, or no signature after it.
    #[error("note has no signature block: expected text, a blank line, and signature lines")]
    MissingSignatureBlock,
    /// A signature line is malformed.
    #[error("signature line {line} is malformed ({reason}): {found:?}")]
    MalformedSignatureLine {
        /// 1-based number of the line within the signature block.
        line: usize,
        /// What is wrong.
        reason: &'static str,
        /// The line.
        found: String,
    },
    /// The note carries more than [`MAX_SIGNATURES`] signatures.
    #[error("note carries more than {limit} signatures")]
    TooManySignatures {
        /// The limit.
        limit: usize,
    },
    /// A signature by a known key does not verify.
    #[error("signature by known key {name}+{key_hash:08x} does not verify")]
    InvalidSignature {
        /// The key name.
        name: String,
        /// The key hash.
        key_hash: u32,
    },
    /// No signature by any of the given keys.
    #[error("note is not signed by any known key: known {known:?}, signed by {found:?}")]
    NoKnownSignature {
        /// The verifier keys given, as `name+hash`.
        known: Vec<String>,
        /// The signatures present, as `name+hash`.
        found: Vec<String>,
    },
    /// A key name is empty or holds a space or `+`.
    #[error("key name {found:?} is invalid: it must be non-empty with no whitespace and no '+'")]
    InvalidKeyName {
        /// The name.
        found: String,
    },
    /// A key string is malformed. Never holds secret material.
    #[error("key string is malformed: {reason}")]
    MalformedKey {
        /// What is wrong.
        reason: String,
    },
    /// A key string names an algorithm other than ed25519.
    #[error("key algorithm {found:#04x} is not supported; expected {expected:#04x} (ed25519)")]
    UnsupportedAlgorithm {
        /// The supported algorithm byte.
        expected: u8,
        /// The algorithm byte found.
        found: u8,
    },
    /// A key string's hash does not match its name and key.
    #[error("key hash of {name} is {found:08x}, but name and key hash to {expected:08x}")]
    KeyHashMismatch {
        /// The key name.
        name: String,
        /// The hash computed from name and key.
        expected: u32,
        /// The hash written in the key string.
        found: u32,
    },
}

fn check_key_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::InvalidKeyName {
            found: name.to_owned(),
        });
    }
    Ok(())
}

/// The C2SP key hash of an ed25519 key: the first four bytes, big-endian, of
/// `SHA-256(name || "\n" || 0x01 || public key)`.
pub fn key_hash(name: &str, public_key: &PublicKey) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(name.as_bytes());
    hasher.update(b"\n");
    hasher.update([ALGORITHM_ED25519]);
    hasher.update(public_key.to_bytes());
    let digest = hasher.finalize();
    u32::from_be_bytes([digest[0], digest[1], digest[2], digest[3]])
}

fn parse_key_hash(text: &str) -> Result<u32, NoteError> {
    if text.len() != 8
        || !text
            .bytes()
            .all(|byte| matches!(byte, b'0'..=b'9' | b'a'..=b'f'))
    {
        return Err(NoteError::MalformedKey {
            reason: format!("key hash must be 8 lower-case hex digits, found {text:?}"),
        });
    }
    u32::from_str_radix(text, 16).map_err(|error| NoteError::MalformedKey {
        reason: error.to_string(),
    })
}

/// Decodes `base64(0x01 || 32 bytes)`; the decoded bytes are zeroized when dropped.
fn decode_key_bytes(text: &str) -> Result<Zeroizing<[u8; 32]>, NoteError> {
    let decoded = Zeroizing::new(STANDARD.decode(text).map_err(|_| NoteError::MalformedKey {
        reason: "key is not standard padded base64".to_owned(),
    })?);
    let Some((&algorithm, key)) = decoded.split_first() else {
        return Err(NoteError::MalformedKey {
            reason: "key is empty".to_owned(),
        });
    };
    if algorithm != ALGORITHM_ED25519 {
        return Err(NoteError::UnsupportedAlgorithm {
            expected: ALGORITHM_ED25519,
            found: algorithm,
        });
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    if key.len() != 32 {
        return Err(NoteError::MalformedKey {
            reason: format!("ed25519 key must be 32 bytes, found {}", key.len()),
        });
    }
    bytes.copy_from_slice(key);
    Ok(bytes)
}

/// An ed25519 note verifier: a key name, its key hash and the public key. Written
/// `<name>+<hash hex 8>+<base64(0x01 || public key)>`, as in `root.json`'s `log.verifier_key`.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifierKey {
    name: String,
    key_hash: u32,
    public_key: PublicKey,
}

impl VerifierKey {
    /// The verifier for `public_key` under `name`.
    pub fn new(name: &str, public_key: PublicKey) -> Result<Self, NoteError> {
        check_key_name(name)?;
        Ok(Self {
            key_hash: key_hash(name, &public_key),
            name: name.to_owned(),
            public_key,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The key hash.
    pub fn key_hash(&self) -> u32 {
        self.key_hash
    }

    /// The public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }

    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_hash)
    }
}

impl fmt::Display for VerifierKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut bytes = Vec::with_capacity(33);
        bytes.push(ALGORITHM_ED25519);
        bytes.extend_from_slice(&self.public_key.to_bytes());
        write!(formatter, "{}+{}", self.label(), STANDARD.encode(bytes))
    }
}

impl fmt::Debug for VerifierKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "VerifierKey({self})")
    }
}

impl FromStr for VerifierKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut parts = text.splitn(3, '+');
        let (Some(name), Some(hash), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(NoteError::MalformedKey {
                reason: format!("verifier key must be <name>+<hash>+<key>, found {text:?}"),
            });
        };
        check_key_name(name)?;
        let written = parse_key_hash(hash)?;
        let bytes = decode_key_bytes(key)?;
        let public_key =
            PublicKey::from_bytes(&bytes).map_err(|error| NoteError::MalformedKey {
                reason: error.to_string(),
            })?;
        let verifier = Self::new(name, public_key)?;
        if verifier.key_hash != written {
            return Err(NoteError::KeyHashMismatch {
                name: name.to_owned(),
                expected: verifier.key_hash,
                found: written,
            });
        }
        Ok(verifier)
    }
}

/// An ed25519 note signer: a key name and a signing key whose secret is zeroized on drop. Parsed from
/// `PRIVATE+KEY+<name>+<hash hex 8>+<base64(0x01 || seed)>`; never printed.
pub struct SignerKey {
    verifier: VerifierKey,
    seed: Zeroizing<[u8; 32]>,
    signing_key: SigningKey,
}

impl SignerKey {
    /// A new signer named `name` with a fresh random key.
    pub fn generate(name: &str) -> Result<Self, NoteError> {
        check_key_name(name)?;
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut()).map_err(|error| NoteError::MalformedKey {
            reason: format!("no randomness for a new key: {error}"),
        })?;
        Self::from_seed(name, &seed)
    }

    /// The signer named `name` whose RFC 8032 seed is `seed`.
    pub fn from_seed(name: &str, seed: &[u8; 32]) -> Result<Self, NoteError> {
        let signing_key = SigningKey::from_seed(seed);
        let verifier = VerifierKey::new(name, signing_key.public_key().clone())?;
        Ok(Self {
            verifier,
            seed: Zeroizing::new(*seed),
            signing_key,
        })
    }

    /// The signer named `name` for an existing Locara signing key (the log role's key in `root.json`).
    pub fn from_signing_key(name: &str, key: &SigningKey) -> Result<Self, NoteError> {
        Self::from_seed(name, &key.seed())
    }

    /// The matching verifier key.
    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// Signs note `text` (which must be valid note text).
    pub fn sign(&self, text: &str) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        Ok(NoteSignature {
            name: self.verifier.name.clone(),
            key_hash: self.verifier.key_hash,
            signature: self.signing_key.sign(text.as_bytes()).to_bytes().to_vec(),
        })
    }

    /// The signer key string `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`, to be stored as a secret.
    pub fn to_secret_string(&self) -> Zeroizing<String> {
        let mut bytes = Zeroizing::new(Vec::with_capacity(33));
        bytes.push(ALGORITHM_ED25519);
        bytes.extend_from_slice(&*self.seed);
        Zeroizing::new(format!(
            "{SIGNER_PREFIX}{}+{}",
            self.verifier.label(),
            STANDARD.encode(&*bytes)
        ))
    }
}

impl fmt::Debug for SignerKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "SignerKey({}, secret redacted)", self.verifier)
    }
}

impl FromStr for SignerKey {
    type Err = NoteError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let malformed = || NoteError::MalformedKey {
            reason: "signer key must be PRIVATE+KEY+<name>+<hash>+<key>".to_owned(),
        };
        let rest = text.strip_prefix(SIGNER_PREFIX).ok_or_else(malformed)?;
        let mut parts = rest.splitn(3, '+');
        let (Some(name), Some(hash), Some(key), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed());
        };
        check_key_name(name)?;
        let written = parse_key_hash(hash)?;
        let seed = decode_key_bytes(key)?;
        let signer = Self::from_seed(name, &seed)?;
        if signer.verifier.key_hash != written {
            return Err(NoteError::KeyHashMismatch {
                name: name.to_owned(),
                expected: signer.verifier.key_hash,
                found: written,
            });
        }
        Ok(signer)
    }
}

/// One signature line of a note: key name, key hash and the signature bytes after the key hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The key name.
    pub name: String,
    /// The key hash.
    pub key_hash: u32,
    /// The signature (64 bytes for ed25519; other lengths for key types this code does not know).
    pub signature: Vec<u8>,
}

impl NoteSignature {
    /// The signature line, without its newline.
    pub fn to_line(&self) -> String {
        let mut bytes = Vec::with_capacity(4 + self.signature.len());
        bytes.extend_from_slice(&self.key_hash.to_be_bytes());
        bytes.extend_from_slice(&self.signature);
        format!("{SIGNATURE_PREFIX}{} {}", self.name, STANDARD.encode(bytes))
    }

    fn parse_line(line: &str, number: usize) -> Result<Self, NoteError> {
        let malformed = |reason| NoteError::MalformedSignatureLine {
            line: number,
            reason,
            found: line.to_owned(),
        };
        let rest = line
            .strip_prefix(SIGNATURE_PREFIX)
            .ok_or_else(|| malformed("does not start with an em dash and a space"))?;
        let (name, encoded) = rest
            .split_once(' ')
            .ok_or_else(|| malformed("no space between key name and signature"))?;
        check_key_name(name).map_err(|_| malformed("invalid key name"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| malformed("signature is not standard padded base64"))?;
        if bytes.len() < 5 {
            return Err(malformed(
                "signature is shorter than a key hash and one byte",
            ));
        }
        Ok(Self {
            name: name.to_owned(),
            key_hash: u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
            signature: bytes[4..].to_vec(),
        })
    }

    fn label(&self) -> String {
        format!("{}+{:08x}", self.name, self.key_hash)
    }
}

/// Checks the rules for note text: UTF-8 (by type), no control character but newline, ends with a newline.
fn check_text(text: &str) -> Result<(), NoteError> {
    if text.len() > MAX_NOTE_SIZE {
        return Err(NoteError::TooLarge {
            limit: MAX_NOTE_SIZE,
            found: text.len(),
        });
    }
    check_characters(text)?;
    if !text.ends_with('\n') {
        let tail: String = text
            .chars()
            .rev()
            .take(16)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(NoteError::TextNotTerminated { found: tail });
    }
    Ok(())
}

fn check_characters(text: &str) -> Result<(), NoteError> {
    match text.char_indices().find(|&(_, character)| {
        character.is_control() && character != '\n' && (character as u32) < 0x80
    }) {
        Some((offset, found)) => Err(NoteError::ControlCharacter { offset, found }),
        None => Ok(()),
    }
}

/// A signed note: its text and its signature lines, as parsed (not yet verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    text: String,
    signatures: Vec<NoteSignature>,
}

impl Note {
    /// An unsigned note holding `text`, which must end with a newline.
    pub fn new(text: &str) -> Result<Self, NoteError> {
        check_text(text)?;
        Ok(Self {
            text: text.to_owned(),
            signatures: Vec::new(),
        })
    }

    /// Parses a signed note. Refuses anything that would not re-encode to the same bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, NoteError> {
        if bytes.len() > MAX_NOTE_SIZE {
            return Err(NoteError::TooLarge {
                limit: MAX_NOTE_SIZE,
                found: bytes.len(),
            });
        }
        let message = std::str::from_utf8(bytes).map_err(|error| NoteError::NotUtf8 {
            offset: error.valid_up_to(),
        })?;
        check_characters(message)?;
        let split = message
            .rfind("\n\n")
            .ok_or(NoteError::MissingSignatureBlock)?;
        let (text, block) = (&message[..=split], &message[split + 2..]);
        if block.is_empty() {
            return Err(NoteError::MissingSignatureBlock);
        }
        let Some(block) = block.strip_suffix('\n') else {
            return Err(NoteError::MalformedSignatureLine {
                line: block.split('\n').count(),
                reason: "does not end with a newline",
                found: block.rsplit('\n').next().unwrap_or_default().to_owned(),
            });
        };
        let mut signatures = Vec::new();
        for (number, line) in block.split('\n').enumerate() {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures {
                    limit: MAX_SIGNATURES,
                });
            }
            signatures.push(NoteSignature::parse_line(line, number + 1)?);
        }
        Ok(Self {
            text: text.to_owned(),
            signatures,
        })
    }

    /// The text that the signatures cover.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The signatures, in order.
    pub fn signatures(&self) -> &[NoteSignature] {
        &self.signatures
    }

    /// Adds `signer`'s signature.
    pub fn sign(&mut self, signer: &SignerKey) -> Result<(), NoteError> {
        if self.signatures.len() == MAX_SIGNATURES {
            return Err(NoteError::TooManySignatures {
                limit: MAX_SIGNATURES,
            });
        }
        let signature = signer.sign(&self.text)?;
        self.signatures.push(signature);
        Ok(())
    }

    /// The note's bytes: text, a blank line, then one line per signature.
    pub fn to_bytes(&self) -> Vec<u8> {
        self.to_string().into_bytes()
    }

    /// Verifies the note against `verifiers` and returns the verifiers whose signatures verified.
    ///
    /// Signatures by keys not among `verifiers` (by name and key hash) are ignored. A signature by a known key
    /// that does not verify refuses the whole note, and at least one known key must have signed.
    pub fn verify<'v>(
        &self,
        verifiers: &'v [VerifierKey],
    ) -> Result<Vec<&'v VerifierKey>, NoteError> {
        let mut verified: Vec<&'v VerifierKey> = Vec::new();
        for signature in &self.signatures {
            let Some(verifier) = verifiers
                .iter()
                .find(|key| key.name == signature.name && key.key_hash == signature.key_hash)
            else {
                continue;
            };
            let invalid = || NoteError::InvalidSignature {
                name: signature.name.clone(),
                key_hash: signature.key_hash,
            };
            let ed25519 = Signature::from_slice(&signature.signature).map_err(|_| invalid())?;
            verifier
                .public_key
                .verify(self.text.as_bytes(), &ed25519)
                .map_err(|_| invalid())?;
            if !verified.iter().any(|known| std::ptr::eq(*known, verifier)) {
                verified.push(verifier);
            }
        }
        if verified.is_empty() {
            return Err(NoteError::NoKnownSignature {
                known: verifiers.iter().map(VerifierKey::label).collect(),
                found: self.signatures.iter().map(NoteSignature::label).collect(),
            });
        }
        Ok(verified)
    }
}

impl fmt::Display for Note {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.text)?;
        formatter.write_str("\n")?;
        for signature in &self.signatures {
            writeln!(formatter, "{}", signature.to_line())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED: [u8; 32] = [7; 32];

    fn signer() -> SignerKey {
        SignerKey::from_seed("example.test/log", &SEED).unwrap()
    }

    fn signed(text: &str) -> String {
        let mut note = Note::new(text).unwrap();
        note.sign(&signer()).unwrap();
        note.to_string()
    }

    #[test]
    fn a_signer_from_a_signing_key_is_the_same_key() {
        let key = SigningKey::from_seed(&SEED);
        let from_key = SignerKey::from_signing_key("example.test/log", &key).unwrap();
        assert_eq!(from_key.verifier().public_key(), key.public_key());
        assert_eq!(
            from_key.to_secret_string().as_str(),
            signer().to_secret_string().as_str()
        );
        let other =
            SignerKey::from_signing_key("example.test/log", &SigningKey::from_seed(&[8; 32]));
        assert_ne!(other.unwrap().verifier(), signer().verifier());
    }

    #[test]
    fn signed_note_round_trips_and_verifies() {
        let text = signed("hello\nworld\n");
        let note = Note::parse(text.as_bytes()).unwrap();
        assert_eq!(note.to_string(), text);
        let verifiers = [signer().verifier().clone()];
        assert_eq!(note.verify(&verifiers).unwrap().len(), 1);
    }

    #[test]
    fn refuses_note_without_blank_line() {
        let text = signed("hello\n").replacen("\n\n", "\n", 1);
        assert_eq!(
            Note::parse(text.as_bytes()),
            Err(NoteError::MissingSignatureBlock)
        );
    }

    #[test]
    fn refuses_signature_line_without_em_dash() {
        for dash in ["-", "--", "\u{2013}", "\u{2014}\u{2014}"] {
            let text = signed("hello\n").replace("\u{2014}", dash);
            assert!(
                matches!(
                    Note::parse(text.as_bytes()),
                    Err(NoteError::MalformedSignatureLine { line: 1, .. })
                ),
                "{dash}"
            );
        }
        let no_space = signed("hello\n").replace("\u{2014} ", "\u{2014}");
        assert!(Note::parse(no_space.as_bytes()).is_err());
    }

    #[test]
    fn refuses_signature_with_wrong_key_hash_as_unknown() {
        let mut note = Note::parse(signed("hello\n").as_bytes()).unwrap();
        note.signatures[0].key_hash ^= 1;
        let verifiers = [signer().verifier().clone()];
        assert!(matches!(
            note.verify(&verifiers),
            Err(NoteError::NoKnownSignature { .. })
        ));
    }

    #[test]
    fn refuses_known_key_signature_that_does_not_verify() {
        let mut note = Note::parse(signed("hello\n").as_bytes()).unwrap();
        note.signatures[0].signature[0] ^= 1;
        let verifiers = [signer().verifier().clone()];
        assert_eq!(
            note.verify(&verifiers),
            Err(NoteError::InvalidSignature {
                name: "example.test/log".to_owned(),
                key_hash: signer().verifier().key_hash()
            })
        );
    }

    #[test]
    fn ignores_unknown_signatures_when_a_known_one_verifies() {
        let other = SignerKey::from_seed("witness.example", &[9; 32]).unwrap();
        let mut note = Note::new("hello\n").unwrap();
        note.sign(&other).unwrap();
        note.sign(&signer()).unwrap();
        let verifiers = [signer().verifier().clone()];
        assert_eq!(note.verify(&verifiers).unwrap(), vec![&verifiers[0]]);
    }

    #[test]
    fn refuses_too_many_signatures() {
        let line = signer().sign("hello\n").unwrap().to_line();
        let mut text = String::from("hello\n\n");
        for _ in 0..=MAX_SIGNATURES {
            text.push_str(&line);
            text.push('\n');
        }
        assert_eq!(
            Note::parse(text.as_bytes()),
            Err(NoteError::TooManySignatures {
                limit: MAX_SIGNATURES
            })
        );
    }

    #[test]
    fn refuses_non_utf8_control_characters_and_oversize() {
        let mut bytes = signed("hello\n").into_bytes();
        bytes[1] = 0xff;
        assert_eq!(Note::parse(&bytes), Err(NoteError::NotUtf8 { offset: 1 }));
        let tab = signed("hel lo\n").replacen("hel lo", "hel\tlo", 1);
        assert!(matches!(
            Note::parse(tab.as_bytes()),
            Err(NoteError::ControlCharacter { found: '\t', .. })
        ));
        let huge = vec![b'a'; MAX_NOTE_SIZE + 1];
        assert!(matches!(
            Note::parse(&huge),
            Err(NoteError::TooLarge { .. })
        ));
    }

    #[test]
    fn refuses_text_not_ending_in_newline() {
        assert!(matches!(
            Note::new("hello"),
            Err(NoteError::TextNotTerminated { .. })
        ));
        assert!(matches!(
            signer().sign("hello"),
            Err(NoteError::TextNotTerminated { .. })
        ));
        let unterminated = signed("hello\n").trim_end_matches('\n').to_owned();
        assert!(matches!(
            Note::parse(unterminated.as_bytes()),
            Err(NoteError::MalformedSignatureLine { .. })
        ));
    }

    #[test]
    fn key_strings_round_trip_and_refuse_tampering() {
        let signer = signer();
        let secret = signer.to_secret_string();
        let parsed: SignerKey = secret.parse().unwrap();
        assert_eq!(parsed.verifier(), signer.verifier());
        let text = signer.verifier().to_string();
        assert_eq!(text.parse::<VerifierKey>().unwrap(), *signer.verifier());
        let wrong_hash = format!(
            "example.test/log+00000000+{}",
            text.rsplit('+').next().unwrap()
        );
        assert!(matches!(
            wrong_hash.parse::<VerifierKey>(),
            Err(NoteError::KeyHashMismatch { .. })
        ));
        assert!("a b+00000000+AQ==".parse::<VerifierKey>().is_err());
        assert!("name+0000+AQ==".parse::<VerifierKey>().is_err());
        assert!(format!("{text}+extra").parse::<VerifierKey>().is_err());
        assert!(SignerKey::generate("has space").is_err());
        let generated = SignerKey::generate("fresh.example").unwrap();
        assert_eq!(generated.verifier().name(), "fresh.example");
        assert!(!format!("{generated:?}").contains("PRIVATE"));
    }
}
