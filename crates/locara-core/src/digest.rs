//! Content digests: `sha256:<64 lowercase hex>`.
//!
//! A [`Digest`] can only hold a well-formed SHA-256 digest. Hashing is streaming ([`Sha256Hasher`],
//! [`HashingReader`], [`HashingWriter`]) so that large artifacts are never held in memory. SHA-256 comes
//! from the `sha2` crate, which selects the SHA-NI / ARMv8 instructions at run time when the CPU has them.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// The only algorithm prefix Locara accepts.
pub const SHA256_PREFIX: &str = "sha256:";

/// A SHA-256 content digest, written `sha256:<64 lowercase hex digits>`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DigestError {
    /// The string does not start with `sha256:`.
    #[error("digest {found:?} must start with \"sha256:\" (the only supported algorithm)")]
    UnknownAlgorithm {
        /// The string that was given.
        found: String,
    },
    /// The hex part has the wrong length.
    #[error("digest {found:?} must have exactly 64 hex digits after \"sha256:\", found {length}")]
    WrongLength {
        /// The string that was given.
        found: String,
        /// How many characters followed the prefix.
        length: usize,
    },
    /// The hex part holds something other than lowercase hex digits.
    #[error("digest {found:?} may only use lowercase hex digits 0-9 and a-f after \"sha256:\"")]
    NotLowercaseHex {
        /// The string that was given.
        found: String,
    },
}

impl Digest {
    /// Wraps raw SHA-256 output.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The raw 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64 lowercase hex digits, without the `sha256:` prefix.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The digest of a byte slice.
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Self(Sha256::digest(bytes).into())
    }

    /// The digest of everything a reader yields, read in 64 KiB chunks.
    pub fn of_reader(mut reader: impl Read) -> io::Result<Self> {
        let mut hasher = Sha256Hasher::new();
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => return Ok(hasher.finish()),
                Ok(n) => hasher.update(&buffer[..n]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SHA256_PREFIX}{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some(hex_part) = s.strip_prefix(SHA256_PREFIX) else {
            return Err(DigestError::UnknownAlgorithm {
                found: s.to_owned(),
            });
        };
        if hex_part.len() != 64 {
            return Err(DigestError::WrongLength {
                found: s.to_owned(),
                length: hex_part.len(),
            });
        }
        if !hex_part
            .bytes()
            .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err(DigestError::NotLowercaseHex {
                found: s.to_owned(),
            });
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_part, &mut bytes).map_err(|_| DigestError::NotLowercaseHex {
            found: s.to_owned(),
        })?;
        Ok(Self(bytes))
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// An incremental SHA-256 hasher that also counts the bytes it saw.
#[derive(Clone, Default)]
pub struct Sha256Hasher {
    state: Sha256,
    length: u64,
}

impl Sha256Hasher {
    /// A hasher that has seen nothing yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Feeds more bytes.
    pub fn update(&mut self, bytes: &[u8]) {
        self.state.update(bytes);
        self.length += bytes.len() as u64;
    }

    /// How many bytes have been fed so far.
    pub fn len(&self) -> u64 {
        self.length
    }

    /// Whether nothing has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.length == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        Digest(self.state.finalize().into())
    }
}

impl Write for Sha256Hasher {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that hashes every byte that passes through it.
pub struct HashingReader<R> {
    inner: R,
    hasher: Sha256Hasher,
}

impl<R: Read> HashingReader<R> {
    /// Wraps `inner`.
    pub fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256Hasher::new(),
        }
    }

    /// The digest of the bytes read so far, their count, and the inner reader.
    pub fn finish(self) -> (Digest, u64, R) {
        let length = self.hasher.len();
        (self.hasher.finish(), length, self.inner)
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// A writer that hashes every byte written through it.
pub struct HashingWriter<W> {
    inner: W,
    hasher: Sha256Hasher,
}

impl<W: Write> HashingWriter<W> {
    /// Wraps `inner`.
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256Hasher::new(),
        }
    }

    /// The digest of the bytes written so far, their count, and the inner writer.
    pub fn finish(self) -> (Digest, u64, W) {
        let length = self.hasher.len();
        (self.hasher.finish(), length, self.inner)
    }
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // FIPS 180-2 / NIST CSRC example values for SHA-256.
    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
    const ABC: &str = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    const TWO_BLOCK: &str =
        "sha256:248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
    const MILLION_A: &str =
        "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

    #[test]
    fn matches_nist_examples() {
        assert_eq!(Digest::of_bytes(b"").to_string(), EMPTY);
        assert_eq!(Digest::of_bytes(b"abc").to_string(), ABC);
        assert_eq!(
            Digest::of_bytes(b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq")
                .to_string(),
            TWO_BLOCK
        );
    }

    #[test]
    fn streaming_equals_one_shot_across_odd_chunks() {
        let data = vec![b'a'; 1_000_000];
        let mut hasher = Sha256Hasher::new();
        for chunk in data.chunks(997) {
            hasher.update(chunk);
        }
        assert_eq!(hasher.len(), 1_000_000);
        assert_eq!(hasher.finish().to_string(), MILLION_A);
        assert_eq!(Digest::of_reader(&data[..]).unwrap().to_string(), MILLION_A);
    }

    #[test]
    fn hashing_reader_and_writer_count_and_pass_through() {
        let mut reader = HashingReader::new(&b"abc"[..]);
        let mut out = Vec::new();
        io::copy(&mut reader, &mut out).unwrap();
        let (digest, length, _) = reader.finish();
        assert_eq!((digest.to_string().as_str(), length), (ABC, 3));

        let mut writer = HashingWriter::new(Vec::new());
        writer.write_all(b"abc").unwrap();
        let (digest, length, inner) = writer.finish();
        assert_eq!(
            (digest.to_string().as_str(), length, inner.as_slice()),
            (ABC, 3, &b"abc"[..])
        );
    }

    #[test]
    fn parses_and_round_trips() {
        let digest: Digest = ABC.parse().unwrap();
        assert_eq!(digest.to_string(), ABC);
        let json = serde_json::to_string(&digest).unwrap();
        assert_eq!(json, format!("\"{ABC}\""));
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), digest);
    }

    #[test]
    fn refuses_malformed_digests() {
        let upper = ABC.to_uppercase().replace("SHA256:", "sha256:");
        assert!(matches!(
            "sha512:00".parse::<Digest>(),
            Err(DigestError::UnknownAlgorithm { .. })
        ));
        assert!(matches!(
            "sha256:abcd".parse::<Digest>(),
            Err(DigestError::WrongLength { length: 4, .. })
        ));
        assert!(matches!(
            upper.parse::<Digest>(),
            Err(DigestError::NotLowercaseHex { .. })
        ));
        assert!(matches!(
            format!("sha256:{}", &ABC[7..].replace('a', "g")).parse::<Digest>(),
            Err(DigestError::NotLowercaseHex { .. })
        ));
        assert!(serde_json::from_str::<Digest>("\"sha256:zz\"").is_err());
    }
}
