//! The blob store: content-addressed blobs (artifacts, models, roots) and a small area of named files
//! derived from the log (tiles, checkpoints, timestamps).
//!
//! Invariants: a blob is stored only under the SHA-256 digest of its bytes, verified while it is written,
//! and appears whole or not at all. An immutable named file, once written, never changes; a mutable one is
//! replaced whole. Named paths are plain relative paths ([`NamedPath`]), so no write can land outside the
//! store.

use std::fmt;
use std::ops::Range;
use std::pin::Pin;
use std::str::FromStr;

use async_trait::async_trait;
use locara_core::digest::Digest;
use tokio::io::{AsyncRead, AsyncReadExt};

use crate::error::StoreError;

/// Where blobs and derived files live: a directory (embedded default) or, later, object storage.
#[async_trait]
pub trait BlobStore: Send + Sync + fmt::Debug {
    /// Stores everything `content` yields as a blob, hashing while writing. With `expected`, content that
    /// hashes to anything else is refused and nothing is stored. Storing a blob that already exists is a
    /// no-op that still verifies the content.
    async fn put(
        &self,
        content: &mut (dyn AsyncRead + Send + Unpin),
        expected: Option<Digest>,
    ) -> Result<StoredBlob, StoreError>;

    /// The whole blob, or `None` when the store does not hold it.
    async fn get(&self, digest: &Digest) -> Result<Option<BlobReader>, StoreError>;

    /// Bytes `range` of the blob (end exclusive), or `None` when the store does not hold it. A range that is
    /// inverted or runs past the end is refused.
    async fn get_range(
        &self,
        digest: &Digest,
        range: Range<u64>,
    ) -> Result<Option<BlobReader>, StoreError>;

    /// Whether the store holds the blob.
    async fn exists(&self, digest: &Digest) -> Result<bool, StoreError> {
        Ok(self.len(digest).await?.is_some())
    }

    /// The blob's length in bytes, or `None` when the store does not hold it.
    async fn len(&self, digest: &Digest) -> Result<Option<u64>, StoreError>;

    /// Writes a named file that must never change (a full or partial tile). Writing the same bytes again
    /// is a no-op; different bytes are refused with [`StoreError::ImmutableFileConflict`].
    async fn put_immutable(&self, path: &NamedPath, bytes: &[u8]) -> Result<(), StoreError>;

    /// Replaces a named file whole, atomically (a checkpoint or `timestamp.json`): readers see the old or
    /// the new contents, never a mix.
    async fn put_mutable(&self, path: &NamedPath, bytes: &[u8]) -> Result<(), StoreError>;

    /// A named file's contents, or `None` when it does not exist.
    async fn get_named(&self, path: &NamedPath) -> Result<Option<Vec<u8>>, StoreError>;
}

/// What [`BlobStore::put`] stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredBlob {
    /// The digest of the content.
    pub digest: Digest,
    /// The content's length in bytes.
    pub length: u64,
}

/// A blob (or a range of one) being read: its length, known up front, and its bytes.
pub struct BlobReader {
    /// How many bytes `content` yields.
    pub length: u64,
    /// The bytes.
    pub content: Pin<Box<dyn AsyncRead + Send>>,
}

impl BlobReader {
    /// Reads everything into memory; for small blobs and tests.
    pub async fn read_to_vec(mut self) -> std::io::Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(usize::try_from(self.length).unwrap_or(0));
        self.content.read_to_end(&mut bytes).await?;
        Ok(bytes)
    }
}

impl fmt::Debug for BlobReader {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("BlobReader")
            .field("length", &self.length)
            .finish_non_exhaustive()
    }
}

/// The longest named path accepted, in bytes.
pub const MAX_NAMED_PATH_LEN: usize = 512;

/// A path in the named-file area: `/`-separated, relative, each part non-empty, made of ASCII letters,
/// digits, `-`, `_` and `.`, and not starting with `.` (so no `.`, `..` or hidden files). For example
/// `tile/0/x001/234.p/5` or `checkpoint`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct NamedPath(String);

impl NamedPath {
    /// Checks `path` and wraps it.
    pub fn new(path: &str) -> Result<Self, StoreError> {
        let refuse = |reason| StoreError::UnsafePath {
            path: path.chars().take(MAX_NAMED_PATH_LEN).collect(),
            reason,
        };
        if path.is_empty() {
            return Err(refuse("the path is empty"));
        }
        if path.len() > MAX_NAMED_PATH_LEN {
            return Err(refuse("the path is longer than 512 bytes"));
        }
        if path.starts_with('/') {
            return Err(refuse("absolute paths are not allowed"));
        }
        for part in path.split('/') {
            if part.is_empty() {
                return Err(refuse("a path part is empty (`//` or a trailing `/`)"));
            }
            if part == ".." {
                return Err(refuse("`..` is not allowed"));
            }
            if part.starts_with('.') {
                return Err(refuse("a path part may not start with `.`"));
            }
            if !part
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.'))
            {
                return Err(refuse(
                    "only ASCII letters, digits, `-`, `_`, `.` and `/` are allowed",
                ));
            }
        }
        Ok(Self(path.to_owned()))
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for NamedPath {
    type Err = StoreError;

    fn from_str(path: &str) -> Result<Self, StoreError> {
        Self::new(path)
    }
}

impl fmt::Display for NamedPath {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_tile_and_checkpoint_paths() {
        for path in [
            "checkpoint",
            "timestamp.json",
            "tile/0/x001/234.p/5",
            "tile/entries/000",
        ] {
            assert_eq!(NamedPath::new(path).unwrap().as_str(), path);
        }
    }

    #[test]
    fn refuses_traversal_absolute_and_odd_paths() {
        for path in [
            "",
            "/etc/passwd",
            "..",
            "../escape",
            "tile/../../escape",
            "tile/./0",
            "tile//0",
            "tile/0/",
            ".hidden",
            "tile\\0",
            "tile/0\0",
            "tïle",
            "tile 0",
        ] {
            assert!(
                matches!(NamedPath::new(path), Err(StoreError::UnsafePath { .. })),
                "{path:?} was accepted"
            );
        }
        assert!(NamedPath::new(&"a".repeat(MAX_NAMED_PATH_LEN + 1)).is_err());
    }
}
