//! [`FsBlobStore`]: blobs and named files in a directory.
//!
//! Layout under the store's directory: `blobs/sha256/<hex>` for blobs, `named/<path>` for named files, and
//! `tmp/` for files being written. Every file is written in `tmp/`, flushed to disk, then moved into place
//! by a rename (or, for immutable files, a hard link, which refuses to replace an existing file), and the
//! directory is flushed too. A crash therefore leaves either no file or the whole file at its final path;
//! leftovers in `tmp/` are removed when the store is opened.

use std::io::{self, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use locara_core::digest::{Digest, Sha256Hasher};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};

use crate::blob::{BlobReader, BlobStore, NamedPath, StoredBlob};
use crate::error::StoreError;

/// How many bytes [`FsBlobStore::put`] reads and writes at a time.
const CHUNK: usize = 64 * 1024;

/// Blobs and named files in a directory on the local filesystem (the embedded default).
///
/// One process should own the directory: opening it clears `tmp/`, which would break another process's
/// write in progress.
#[derive(Debug, Clone)]
pub struct FsBlobStore {
    blobs: PathBuf,
    named: PathBuf,
    tmp: PathBuf,
}

impl FsBlobStore {
    /// Opens (creating if needed) the store in `dir` and removes files left in `tmp/` by interrupted writes.
    pub async fn open(dir: impl AsRef<Path>) -> Result<Self, StoreError> {
        let dir = dir.as_ref().to_owned();
        tokio::task::spawn_blocking(move || Self::open_blocking(&dir))
            .await
            .map_err(StoreError::task("opening the blob store"))?
    }

    fn open_blocking(dir: &Path) -> Result<Self, StoreError> {
        let store = Self {
            blobs: dir.join("blobs").join("sha256"),
            named: dir.join("named"),
            tmp: dir.join("tmp"),
        };
        for directory in [&store.blobs, &store.named, &store.tmp] {
            std::fs::create_dir_all(directory)
                .map_err(StoreError::io("creating directory", directory))?;
        }
        let leftovers =
            std::fs::read_dir(&store.tmp).map_err(StoreError::io("listing", &store.tmp))?;
        for leftover in leftovers {
            let path = leftover
                .map_err(StoreError::io("listing", &store.tmp))?
                .path();
            std::fs::remove_file(&path)
                .map_err(StoreError::io("removing interrupted write", &path))?;
        }
        Ok(store)
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs.join(digest.hex())
    }

    fn named_path(&self, path: &NamedPath) -> PathBuf {
        // NamedPath holds only plain relative parts, so the join stays under `named/`.
        self.named.join(path.as_str())
    }

    async fn open_blob(
        &self,
        digest: &Digest,
    ) -> Result<Option<(tokio::fs::File, u64)>, StoreError> {
        let path = self.blob_path(digest);
        let file = match tokio::fs::File::open(&path).await {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(StoreError::io("opening blob", path)(error)),
        };
        let length = file
            .metadata()
            .await
            .map_err(StoreError::io("reading metadata of blob", &path))?
            .len();
        Ok(Some((file, length)))
    }
}

/// A file in `tmp/` that is removed when dropped unless it was moved into place.
struct TempFile {
    path: PathBuf,
}

impl TempFile {
    /// A new, unique path in `dir`.
    fn new_in(dir: &Path) -> Result<Self, StoreError> {
        let mut random = [0u8; 16];
        getrandom::fill(&mut random).map_err(|error| StoreError::Io {
            operation: "choosing a temporary file name in",
            path: dir.to_owned(),
            source: io::Error::other(error.to_string()),
        })?;
        Ok(Self {
            path: dir.join(format!("{}.tmp", hex::encode(random))),
        })
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        // Best effort: it is gone already after a successful move, and the next open clears `tmp/` anyway.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Flushes a directory, so that a rename or link into it survives a crash.
fn sync_directory(directory: &Path) -> Result<(), StoreError> {
    std::fs::File::open(directory)
        .and_then(|handle| handle.sync_all())
        .map_err(StoreError::io("flushing directory", directory))
}

/// Writes `bytes` to a new temporary file in `tmp` and flushes it to disk.
fn write_temp(tmp: &Path, bytes: &[u8]) -> Result<TempFile, StoreError> {
    let temp = TempFile::new_in(tmp)?;
    let mut file = std::fs::File::create_new(&temp.path)
        .map_err(StoreError::io("creating temporary file", &temp.path))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(StoreError::io("writing temporary file", &temp.path))?;
    Ok(temp)
}

/// Creates the parent directories of `path` (and flushes the directory that gained an entry).
fn create_parents(path: &Path) -> Result<(), StoreError> {
    if let Some(parent) = path.parent()
        && !parent.is_dir()
    {
        std::fs::create_dir_all(parent).map_err(StoreError::io("creating directory", parent))?;
        if let Some(grandparent) = parent.parent() {
            sync_directory(grandparent)?;
        }
    }
    Ok(())
}

fn put_immutable_blocking(
    tmp: &Path,
    target: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<(), StoreError> {
    let compare = || -> Result<(), StoreError> {
        let existing =
            std::fs::read(target).map_err(StoreError::io("reading named file", target))?;
        if existing == bytes {
            Ok(())
        } else {
            Err(StoreError::ImmutableFileConflict {
                path: name.to_owned(),
                existing: existing.len() as u64,
                new: bytes.len() as u64,
            })
        }
    };
    if target.exists() {
        return compare();
    }
    create_parents(target)?;
    let temp = write_temp(tmp, bytes)?;
    match std::fs::hard_link(&temp.path, target) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => return compare(),
        Err(error) => return Err(StoreError::io("linking named file", target)(error)),
    }
    drop(temp);
    if let Some(parent) = target.parent() {
        sync_directory(parent)?;
    }
    Ok(())
}

fn put_mutable_blocking(tmp: &Path, target: &Path, bytes: &[u8]) -> Result<(), StoreError> {
    create_parents(target)?;
    let temp = write_temp(tmp, bytes)?;
    std::fs::rename(&temp.path, target).map_err(StoreError::io("renaming into place", target))?;
    if let Some(parent) = target.parent() {
        sync_directory(parent)?;
    }
    Ok(())
}

#[async_trait]
impl BlobStore for FsBlobStore {
    async fn put(
        &self,
        content: &mut (dyn AsyncRead + Send + Unpin),
        expected: Option<Digest>,
    ) -> Result<StoredBlob, StoreError> {
        let temp = TempFile::new_in(&self.tmp)?;
        let mut file = tokio::fs::File::create_new(&temp.path)
            .await
            .map_err(StoreError::io("creating temporary file", &temp.path))?;
        let mut hasher = Sha256Hasher::new();
        let mut buffer = vec![0u8; CHUNK];
        loop {
            let read = content
                .read(&mut buffer)
                .await
                .map_err(StoreError::io("reading blob content for", &temp.path))?;
            if read == 0 {
                break;
            }
            hasher.update(&buffer[..read]);
            file.write_all(&buffer[..read])
                .await
                .map_err(StoreError::io("writing temporary file", &temp.path))?;
        }
        file.flush()
            .await
            .map_err(StoreError::io("writing temporary file", &temp.path))?;
        file.sync_all()
            .await
            .map_err(StoreError::io("flushing temporary file", &temp.path))?;
        drop(file);
        let length = hasher.len();
        let digest = hasher.finish();
        if let Some(expected) = expected
            && expected != digest
        {
            return Err(StoreError::DigestMismatch {
                expected,
                found: digest,
            });
        }
        let target = self.blob_path(&digest);
        let blobs = self.blobs.clone();
        tokio::task::spawn_blocking(move || -> Result<(), StoreError> {
            if target.exists() {
                // Same digest, same bytes: the temporary copy is dropped (and removed).
                return Ok(());
            }
            std::fs::rename(&temp.path, &target)
                .map_err(StoreError::io("renaming blob into place", &target))?;
            sync_directory(&blobs)
        })
        .await
        .map_err(StoreError::task("storing a blob"))??;
        Ok(StoredBlob { digest, length })
    }

    async fn get(&self, digest: &Digest) -> Result<Option<BlobReader>, StoreError> {
        Ok(self
            .open_blob(digest)
            .await?
            .map(|(file, length)| BlobReader {
                length,
                content: Box::pin(file),
            }))
    }

    async fn get_range(
        &self,
        digest: &Digest,
        range: Range<u64>,
    ) -> Result<Option<BlobReader>, StoreError> {
        let Some((mut file, length)) = self.open_blob(digest).await? else {
            return Ok(None);
        };
        if range.start > range.end || range.end > length {
            return Err(StoreError::BlobRangeOutOfBounds {
                digest: *digest,
                start: range.start,
                end: range.end,
                length,
            });
        }
        file.seek(io::SeekFrom::Start(range.start))
            .await
            .map_err(|error| StoreError::io("seeking in blob", self.blob_path(digest))(error))?;
        let length = range.end - range.start;
        Ok(Some(BlobReader {
            length,
            content: Box::pin(file.take(length)),
        }))
    }

    async fn len(&self, digest: &Digest) -> Result<Option<u64>, StoreError> {
        let path = self.blob_path(digest);
        match tokio::fs::metadata(&path).await {
            Ok(metadata) => Ok(Some(metadata.len())),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::io("reading metadata of blob", path)(error)),
        }
    }

    async fn put_immutable(&self, path: &NamedPath, bytes: &[u8]) -> Result<(), StoreError> {
        let (tmp, target, name, bytes) = (
            self.tmp.clone(),
            self.named_path(path),
            path.to_string(),
            bytes.to_vec(),
        );
        tokio::task::spawn_blocking(move || put_immutable_blocking(&tmp, &target, &name, &bytes))
            .await
            .map_err(StoreError::task("writing an immutable named file"))?
    }

    async fn put_mutable(&self, path: &NamedPath, bytes: &[u8]) -> Result<(), StoreError> {
        let (tmp, target, bytes) = (self.tmp.clone(), self.named_path(path), bytes.to_vec());
        tokio::task::spawn_blocking(move || put_mutable_blocking(&tmp, &target, &bytes))
            .await
            .map_err(StoreError::task("writing a mutable named file"))?
    }

    async fn get_named(&self, path: &NamedPath) -> Result<Option<Vec<u8>>, StoreError> {
        let target = self.named_path(path);
        match tokio::fs::read(&target).await {
            Ok(bytes) => Ok(Some(bytes)),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(StoreError::io("reading named file", target)(error)),
        }
    }
}
