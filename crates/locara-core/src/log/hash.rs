//! RFC 9162 §2.1.1 hashing: `leaf = SHA-256(0x00 || data)`, `node = SHA-256(0x01 || left || right)`, and the
//! root of an empty tree is `SHA-256("")`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

/// A SHA-256 hash in the log: a leaf hash, an interior node hash or a tree root. Displayed as lower-case hex.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash(pub [u8; 32]);

/// The root of the empty tree, `SHA-256("")`.
pub const EMPTY_ROOT: Hash = Hash([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

/// Why a text is not a hash.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HashParseError {
    /// Not 64 lower-case hex digits.
    #[error("a log hash is 64 lower-case hex digits, found {found:?}")]
    Hex {
        /// The text given.
        found: String,
    },
    /// Not canonical standard padded base64 of 32 bytes.
    #[error("a log hash is standard padded base64 of 32 bytes, found {found:?}")]
    Base64 {
        /// The text given.
        found: String,
    },
}

impl Hash {
    /// The 32 bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex of the 32 bytes.
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Standard padded base64 of the 32 bytes (the form checkpoints use).
    pub fn to_base64(&self) -> String {
        STANDARD.encode(self.0)
    }

    /// Parses exactly 64 lower-case hex digits.
    pub fn from_hex(text: &str) -> Result<Self, HashParseError> {
        let error = || HashParseError::Hex {
            found: text.to_owned(),
        };
        if text.len() != 64 || text.bytes().any(|byte| byte.is_ascii_uppercase()) {
            return Err(error());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| error())?;
        Ok(Self(bytes))
    }

    /// Parses canonical standard padded base64 of exactly 32 bytes.
    pub fn from_base64(text: &str) -> Result<Self, HashParseError> {
        let error = || HashParseError::Base64 {
            found: text.to_owned(),
        };
        if text.len() != 44 {
            return Err(error());
        }
        let bytes = STANDARD.decode(text).map_err(|_| error())?;
        let array: [u8; 32] = bytes.try_into().map_err(|_| error())?;
        let hash = Self(array);
        // Only one spelling per hash: refuse non-zero trailing bits even if the decoder allowed them.
        if hash.to_base64() != text {
            return Err(error());
        }
        Ok(hash)
    }
}

impl fmt::Display for Hash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.to_hex())
    }
}

impl fmt::Debug for Hash {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "Hash({})", self.to_hex())
    }
}

impl FromStr for Hash {
    type Err = HashParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::from_hex(text)
    }
}

/// The hash of a log entry: `SHA-256(0x00 || data)`.
pub fn leaf_hash(data: &[u8]) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x00]);
    hasher.update(data);
    Hash(hasher.finalize().into())
}

/// The hash of an interior node: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut hasher = Sha256::new();
    hasher.update([0x01]);
    hasher.update(left.0);
    hasher.update(right.0);
    Hash(hasher.finalize().into())
}

/// The RFC 9162 Merkle tree hash of a list of leaf hashes, computed directly by the recursive definition.
///
/// This needs every leaf in memory; registries use [`crate::log::tree_root`] over a store instead.
pub fn root_from_leaf_hashes(leaves: &[Hash]) -> Hash {
    match leaves.len() {
        0 => EMPTY_ROOT,
        1 => leaves[0],
        n => {
            let split = largest_power_of_two_below(n as u64) as usize;
            node_hash(
                &root_from_leaf_hashes(&leaves[..split]),
                &root_from_leaf_hashes(&leaves[split..]),
            )
        }
    }
}

/// The largest power of two strictly less than `n` (`n >= 2`): RFC 9162's split point `k`.
pub(crate) fn largest_power_of_two_below(n: u64) -> u64 {
    debug_assert!(n >= 2);
    1 << (63 - (n - 1).leading_zeros())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        assert_eq!(EMPTY_ROOT.0, <[u8; 32]>::from(Sha256::digest(b"")));
        assert_eq!(root_from_leaf_hashes(&[]), EMPTY_ROOT);
    }

    #[test]
    fn split_point_is_largest_power_of_two_below() {
        for (n, k) in [
            (2, 1),
            (3, 2),
            (4, 2),
            (5, 4),
            (8, 4),
            (9, 8),
            (1 << 40, 1 << 39),
        ] {
            assert_eq!(largest_power_of_two_below(n), k, "n = {n}");
        }
    }

    #[test]
    fn hash_text_round_trips_and_refuses_other_spellings() {
        let hash = leaf_hash(b"x");
        assert_eq!(Hash::from_hex(&hash.to_hex()), Ok(hash));
        assert_eq!(Hash::from_base64(&hash.to_base64()), Ok(hash));
        assert!(Hash::from_hex(&hash.to_hex().to_uppercase()).is_err());
        assert!(Hash::from_base64(&hash.to_base64().replace('=', "")).is_err());
        assert!(Hash::from_base64("AAAA").is_err());
    }
}
