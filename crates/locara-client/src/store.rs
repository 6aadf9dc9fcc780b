//! The content-addressed install store: `<root>/sha256/<hex>/` holds the unpacked artifact `sha256:<hex>`.
//!
//! Invariants:
//! - An entry under its final name is complete and read-only. [`Store::add`] unpacks into a staging
//!   directory beside it, sets the modes (files 0444, or 0555 where the artifact marked them executable;
//!   directories 0555), syncs every file and directory, and only then renames the staging directory into
//!   place and syncs `sha256/`. A crash leaves at most a staging or trash directory, never a partial or
//!   writable tree under a final name.
//! - Names starting with `.` under `sha256/` are temporary: staging directories, the unpacker's
//!   `.partial-` directories and trash. They are deleted by [`Store::open`], [`Store::add`] and
//!   [`Store::remove`], so a killed run never blocks a later one.
//! - Every change under `sha256/` is made while holding an exclusive advisory lock on `<root>/lock`, so two
//!   `locara` processes never race on one name and cleaning never deletes another process's work in
//!   progress. Readers take no lock: renames are atomic, so a reader sees an entry whole or not at all.
//! - [`TreeDigest`] covers every path, type, permission bit and file content of an entry. Anything other
//!   than a regular file or directory (symlink, device, FIFO, socket) makes it an error; nothing in an
//!   entry is ever followed.
//!
//! Every method does blocking file I/O; async callers run it on a blocking thread.

use std::fmt;
use std::fs::{self, DirBuilder, File, OpenOptions, TryLockError};
use std::io::{self, Read};
use std::os::unix::fs::{DirBuilderExt, FileTypeExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};

use locara_core::artifact::{Limits, UnpackError, unpack_verified};
use locara_core::digest::{Digest, DigestError, Sha256Hasher};
use nix::fcntl::OFlag;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The directory under the store root that holds one entry per artifact digest.
const ENTRIES_DIRECTORY: &str = "sha256";
/// The lock file under the store root.
const LOCK_FILE: &str = "lock";
/// The directory under the store root that holds downloads in progress (on the store's file system, so
/// nothing large is held in memory or in another file system's temporary directory).
const DOWNLOADS_DIRECTORY: &str = "downloads";
/// The name prefix of a download's file (it is unlinked right after it is created).
const DOWNLOAD_PREFIX: &str = ".download-";
/// The first line of the canonical listing that [`TreeDigest`] hashes; names the listing's format.
const LISTING_HEADER: &str = "locara-tree-v1\n";

/// Mode of a directory in an installed entry.
pub const DIRECTORY_MODE: u32 = 0o555;
/// Mode of a non-executable file in an installed entry.
pub const FILE_MODE: u32 = 0o444;
/// Mode of an executable file in an installed entry.
pub const EXECUTABLE_MODE: u32 = 0o555;

/// Makes staging and trash names unique within this process (the store lock makes them unique across).
static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A file-system operation failed.
    #[error(
        "cannot {action} {path}: {source}; check that the store is on a writable local file system owned by this user"
    )]
    Io {
        /// What the store was doing: `create directory`, `read`, `rename`, ….
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The unpacker refused the artifact or could not write it; nothing was added.
    #[error("cannot add artifact {artifact} to the store: {source}")]
    Unpack {
        /// The artifact being added.
        artifact: Digest,
        /// The unpacker's error.
        #[source]
        source: UnpackError,
    },
    /// The artifact has no entry in the store.
    #[error("artifact {artifact} is not in the store (no directory {path}); install the app again")]
    NotInStore {
        /// The artifact asked for.
        artifact: Digest,
        /// Where its entry would be.
        path: PathBuf,
    },
    /// An entry holds something other than a regular file or a directory.
    #[error(
        "{path} is a {kind}; store entries hold only regular files and directories, so the entry was changed after install: reinstall the app"
    )]
    UnexpectedEntry {
        /// The offending path.
        path: PathBuf,
        /// What it is: `symbolic link`, `FIFO`, ….
        kind: &'static str,
    },
    /// A name in the store is not one the store writes.
    #[error(
        "{path} is not {expected}; something other than locara wrote it: move it out of the store"
    )]
    UnexpectedName {
        /// The offending path.
        path: PathBuf,
        /// What the name should have been.
        expected: &'static str,
    },
}

impl StoreError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The digest of an installed entry's tree: SHA-256 of its canonical listing, written `sha256:<hex>`.
///
/// The listing is the line `locara-tree-v1`, then one line per entry, sorted by path bytes, the root first
/// as `.`: `dir <mode> - <path>` or `file <mode> <content sha256 hex> <path>`, where `<mode>` is the
/// four-digit octal permission bits and `<path>` the JSON string of the `/`-separated relative path (so
/// no name can forge a line break).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TreeDigest(Digest);

impl TreeDigest {
    /// Wraps a digest that is known to be a tree digest.
    pub const fn new(digest: Digest) -> Self {
        Self(digest)
    }

    /// The underlying digest.
    pub const fn digest(&self) -> &Digest {
        &self.0
    }
}

impl fmt::Display for TreeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for TreeDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TreeDigest({})", self.0)
    }
}

impl FromStr for TreeDigest {
    type Err = DigestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        s.parse().map(Self)
    }
}

impl Serialize for TreeDigest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TreeDigest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Digest::deserialize(deserializer).map(Self)
    }
}

/// The install store rooted at one directory (normally `<data>/store`).
#[derive(Debug, Clone)]
pub struct Store {
    root: PathBuf,
    entries: PathBuf,
}

impl Store {
    /// Opens the store at `root`, creating it (0755) if missing, and deletes temporaries left by a killed
    /// run unless another process is changing the store right now.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let entries = root.join(ENTRIES_DIRECTORY);
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&entries)
            .map_err(StoreError::io("create directory", &entries))?;
        let store = Store {
            root: root.to_owned(),
            entries,
        };
        let lock = store.open_lock_file()?;
        match lock.try_lock() {
            Ok(()) => {
                store.delete_temporaries();
                store.delete_stale_downloads();
            }
            Err(TryLockError::WouldBlock) => {}
            Err(TryLockError::Error(source)) => {
                return Err(StoreError::io("lock", &store.lock_path())(source));
            }
        }
        Ok(store)
    }

    /// The store's root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Where the entry of `artifact` lives (whether or not it is installed).
    pub fn path_of(&self, artifact: &Digest) -> PathBuf {
        self.entries.join(artifact.hex())
    }

    /// Whether the store has a directory for `artifact` (its content is checked by [`Store::tree_digest`]).
    pub fn contains(&self, artifact: &Digest) -> bool {
        self.path_of(artifact)
            .symlink_metadata()
            .is_ok_and(|metadata| metadata.is_dir())
    }

    /// Unpacks the artifact read from `artifact_bytes`, which must hash to `artifact`, into the store and
    /// returns its tree digest.
    ///
    /// If the entry exists already it is not unpacked again: its tree digest is recomputed and returned,
    /// for the caller to compare with the one it recorded.
    pub fn add(
        &self,
        artifact: &Digest,
        artifact_bytes: impl Read,
        limits: &Limits,
    ) -> Result<TreeDigest, StoreError> {
        let _lock = self.lock()?;
        self.delete_temporaries();
        let destination = self.path_of(artifact);
        if destination.symlink_metadata().is_ok() {
            return self.tree_digest(artifact);
        }
        let mut staging = Staging {
            path: self.temporary_path("stage", artifact),
            renamed: false,
        };
        unpack_verified(artifact_bytes, artifact, &staging.path, limits).map_err(|source| {
            StoreError::Unpack {
                artifact: *artifact,
                source,
            }
        })?;
        let entries = walk(&staging.path)?;
        make_read_only(&entries)?;
        let tree_digest = digest_of(&entries)?;
        fs::rename(&staging.path, &destination).map_err(StoreError::io("rename", &staging.path))?;
        staging.renamed = true;
        sync_directory(&self.entries)?;
        Ok(tree_digest)
    }

    /// Recomputes the tree digest of the entry of `artifact`.
    pub fn tree_digest(&self, artifact: &Digest) -> Result<TreeDigest, StoreError> {
        let path = self.path_of(artifact);
        if let Err(error) = path.symlink_metadata() {
            return Err(if error.kind() == io::ErrorKind::NotFound {
                StoreError::NotInStore {
                    artifact: *artifact,
                    path,
                }
            } else {
                StoreError::io("inspect", &path)(error)
            });
        }
        digest_of(&walk(&path)?)
    }

    /// Removes the entry of `artifact`; returns whether there was one.
    ///
    /// The entry leaves its path in one rename (to trash inside `sha256/`); the trash is then deleted,
    /// and if that fails it is retried by every later [`Store::open`], [`Store::add`] and
    /// [`Store::remove`].
    pub fn remove(&self, artifact: &Digest) -> Result<bool, StoreError> {
        let _lock = self.lock()?;
        self.delete_temporaries();
        let path = self.path_of(artifact);
        match path.symlink_metadata() {
            Ok(_) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(StoreError::io("inspect", &path)(error)),
        }
        let trash = self.temporary_path("trash", artifact);
        fs::rename(&path, &trash).map_err(StoreError::io("rename", &path))?;
        sync_directory(&self.entries)?;
        let _ = delete_tree(&trash);
        Ok(true)
    }

    /// Every artifact with an entry in the store, sorted (for collecting those no install references).
    pub fn list(&self) -> Result<Vec<Digest>, StoreError> {
        let mut artifacts = Vec::new();
        for entry in fs::read_dir(&self.entries).map_err(StoreError::io("read", &self.entries))? {
            let entry = entry.map_err(StoreError::io("read", &self.entries))?;
            let name = entry.file_name();
            if name.as_encoded_bytes().starts_with(b".") {
                continue;
            }
            let digest = name
                .to_str()
                .and_then(|hex| format!("sha256:{hex}").parse::<Digest>().ok())
                .ok_or_else(|| StoreError::UnexpectedName {
                    path: entry.path(),
                    expected: "64 lowercase hex digits (an artifact digest)",
                })?;
            artifacts.push(digest);
        }
        artifacts.sort();
        Ok(artifacts)
    }

    fn lock_path(&self) -> PathBuf {
        self.root.join(LOCK_FILE)
    }

    fn open_lock_file(&self) -> Result<File, StoreError> {
        let path = self.lock_path();
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)
            .map_err(StoreError::io("open lock file", &path))
    }

    /// Takes the store's exclusive lock, waiting for other processes; released when the file drops.
    fn lock(&self) -> Result<File, StoreError> {
        let file = self.open_lock_file()?;
        file.lock()
            .map_err(StoreError::io("lock", &self.lock_path()))?;
        Ok(file)
    }

    fn temporary_path(&self, purpose: &str, artifact: &Digest) -> PathBuf {
        let unique = UNIQUE.fetch_add(1, Ordering::Relaxed);
        self.entries.join(format!(
            ".{purpose}-{}-{}-{unique}",
            artifact.hex(),
            std::process::id()
        ))
    }

    /// Creates a private file for downloading `artifact` into, under `<root>/downloads/`. Its name is
    /// removed at once: the file lives as long as the returned [`Download`] and never outlasts the
    /// process, whatever kills it.
    pub fn begin_download(&self, artifact: &Digest) -> Result<Download, StoreError> {
        let directory = self.root.join(DOWNLOADS_DIRECTORY);
        DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(&directory)
            .map_err(StoreError::io("create directory", &directory))?;
        let unique = UNIQUE.fetch_add(1, Ordering::Relaxed);
        let path = directory.join(format!(
            "{DOWNLOAD_PREFIX}{}-{}-{unique}",
            artifact.hex(),
            std::process::id()
        ));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(OFlag::O_NOFOLLOW.bits())
            .open(&path)
            .map_err(StoreError::io("create", &path))?;
        // Locked so that a cleaner never takes it for a leftover in the instant before it is unlinked.
        file.lock().map_err(StoreError::io("lock", &path))?;
        match fs::remove_file(&path) {
            Ok(()) => {}
            // A cleaner that won the race removed the name; the file itself is still ours.
            Err(error) if error.kind() == io::ErrorKind::NotFound => {}
            Err(error) => return Err(StoreError::io("remove", &path)(error)),
        }
        Ok(Download { file })
    }

    /// Best effort: deletes download files whose process died between creating and unlinking them (a
    /// live download holds its file's lock).
    fn delete_stale_downloads(&self) {
        let directory = self.root.join(DOWNLOADS_DIRECTORY);
        let Ok(listing) = fs::read_dir(&directory) else {
            return;
        };
        for entry in listing.flatten() {
            if !entry
                .file_name()
                .as_encoded_bytes()
                .starts_with(DOWNLOAD_PREFIX.as_bytes())
            {
                continue;
            }
            let Ok(file) = OpenOptions::new()
                .read(true)
                .custom_flags(OFlag::O_NOFOLLOW.bits())
                .open(entry.path())
            else {
                continue;
            };
            if file.try_lock().is_ok() {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Best effort, under the lock: deletes every `.`-name under `sha256/`. Failures are retried next time.
    fn delete_temporaries(&self) {
        let Ok(listing) = fs::read_dir(&self.entries) else {
            return;
        };
        for entry in listing.flatten() {
            if entry.file_name().as_encoded_bytes().starts_with(b".") {
                let _ = delete_tree(&entry.path());
            }
        }
    }
}

/// A download in progress: a file on the store's file system with no name, gone when this is dropped.
#[derive(Debug)]
pub struct Download {
    file: File,
}

impl Download {
    /// A handle to write the downloaded bytes with (it shares this download's file offset).
    pub fn writer(&self) -> io::Result<File> {
        self.file.try_clone()
    }

    /// A handle that reads the file from its first byte (it shares the file offset: one reader at a time).
    pub fn reader(&self) -> io::Result<File> {
        let mut reader = self.file.try_clone()?;
        io::Seek::seek(&mut reader, io::SeekFrom::Start(0))?;
        Ok(reader)
    }

    /// The file's length in bytes.
    pub fn len(&self) -> io::Result<u64> {
        Ok(self.file.metadata()?.len())
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }
}

/// A staging directory, deleted on drop unless it was renamed into place.
struct Staging {
    path: PathBuf,
    renamed: bool,
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.renamed {
            let _ = delete_tree(&self.path);
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Directory,
    File,
}

/// One entry of a tree: its relative path (`""` for the root), local path and kind.
struct TreeEntry {
    relative: String,
    path: PathBuf,
    kind: Kind,
}

fn kind_name(file_type: fs::FileType) -> &'static str {
    if file_type.is_symlink() {
        "symbolic link"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() {
        "block device"
    } else if file_type.is_char_device() {
        "character device"
    } else {
        "special file"
    }
}

/// Lists the tree at `root` without following anything, sorted by relative path bytes (root first).
fn walk(root: &Path) -> Result<Vec<TreeEntry>, StoreError> {
    let root_type = root
        .symlink_metadata()
        .map_err(StoreError::io("inspect", root))?
        .file_type();
    if !root_type.is_dir() {
        return Err(StoreError::UnexpectedEntry {
            path: root.to_owned(),
            kind: if root_type.is_file() {
                "regular file"
            } else {
                kind_name(root_type)
            },
        });
    }
    let mut entries = vec![TreeEntry {
        relative: String::new(),
        path: root.to_owned(),
        kind: Kind::Directory,
    }];
    let mut pending = vec![0];
    while let Some(index) = pending.pop() {
        let directory = entries[index].path.clone();
        let prefix = entries[index].relative.clone();
        for child in fs::read_dir(&directory).map_err(StoreError::io("read", &directory))? {
            let child = child.map_err(StoreError::io("read", &directory))?;
            let path = child.path();
            let file_type = child
                .file_type()
                .map_err(StoreError::io("inspect", &path))?;
            let kind = if file_type.is_dir() {
                Kind::Directory
            } else if file_type.is_file() {
                Kind::File
            } else {
                return Err(StoreError::UnexpectedEntry {
                    path,
                    kind: kind_name(file_type),
                });
            };
            let Some(name) = child.file_name().to_str().map(str::to_owned) else {
                return Err(StoreError::UnexpectedName {
                    path,
                    expected: "a UTF-8 name",
                });
            };
            let relative = if prefix.is_empty() {
                name
            } else {
                format!("{prefix}/{name}")
            };
            entries.push(TreeEntry {
                relative,
                path,
                kind,
            });
            if kind == Kind::Directory {
                pending.push(entries.len() - 1);
            }
        }
    }
    entries.sort_by(|a, b| a.relative.as_bytes().cmp(b.relative.as_bytes()));
    Ok(entries)
}

/// Opens an entry for reading without following a symlink or blocking on a FIFO swapped in meanwhile.
fn open_entry(entry: &TreeEntry) -> Result<File, StoreError> {
    let mut flags = OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK;
    if entry.kind == Kind::Directory {
        flags |= OFlag::O_DIRECTORY;
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(flags.bits())
        .open(&entry.path)
        .map_err(StoreError::io("open", &entry.path))?;
    let file_type = file
        .metadata()
        .map_err(StoreError::io("inspect", &entry.path))?
        .file_type();
    let expected = match entry.kind {
        Kind::Directory => file_type.is_dir(),
        Kind::File => file_type.is_file(),
    };
    if !expected {
        return Err(StoreError::UnexpectedEntry {
            path: entry.path.clone(),
            kind: if file_type.is_dir() {
                "directory where a file was"
            } else if file_type.is_file() {
                "file where a directory was"
            } else {
                kind_name(file_type)
            },
        });
    }
    Ok(file)
}

/// Sets the installed modes through each entry's own descriptor and syncs it, children before parents.
fn make_read_only(entries: &[TreeEntry]) -> Result<(), StoreError> {
    for entry in entries.iter().rev() {
        let file = open_entry(entry)?;
        let mode = match entry.kind {
            Kind::Directory => DIRECTORY_MODE,
            Kind::File => {
                let current = file
                    .metadata()
                    .map_err(StoreError::io("inspect", &entry.path))?
                    .permissions()
                    .mode();
                if current & 0o100 != 0 {
                    EXECUTABLE_MODE
                } else {
                    FILE_MODE
                }
            }
        };
        file.set_permissions(fs::Permissions::from_mode(mode))
            .map_err(StoreError::io("set permissions on", &entry.path))?;
        #[cfg(not(target_os = "linux"))]
        file.sync_all()
            .map_err(StoreError::io("sync", &entry.path))?;
    }
    // The contents were synced by the unpacker; only the mode changes remain. One syncfs commits them
    // all (instead of one fsync per entry, which doubled an install's fsyncs).
    #[cfg(target_os = "linux")]
    if let Some(root) = entries.first() {
        let file = open_entry(root)?;
        nix::unistd::syncfs(&file)
            .map_err(|errno| StoreError::io("sync", &root.path)(std::io::Error::from(errno)))?;
    }
    Ok(())
}

/// The [`TreeDigest`] of a sorted listing from [`walk`].
fn digest_of(entries: &[TreeEntry]) -> Result<TreeDigest, StoreError> {
    let mut listing = Sha256Hasher::new();
    listing.update(LISTING_HEADER.as_bytes());
    for entry in entries {
        let file = open_entry(entry)?;
        let mode = file
            .metadata()
            .map_err(StoreError::io("inspect", &entry.path))?
            .permissions()
            .mode()
            & 0o7777;
        let shown = if entry.relative.is_empty() {
            "."
        } else {
            &entry.relative
        };
        let quoted = serde_json::Value::String(shown.to_owned()).to_string();
        let line = match entry.kind {
            Kind::Directory => format!("dir {mode:04o} - {quoted}\n"),
            Kind::File => {
                let content =
                    Digest::of_reader(&file).map_err(StoreError::io("read", &entry.path))?;
                format!("file {mode:04o} {} {quoted}\n", content.hex())
            }
        };
        listing.update(line.as_bytes());
    }
    Ok(TreeDigest(listing.finish()))
}

/// Deletes a tree that may be read-only: makes each real directory writable (through its own descriptor,
/// never following a symlink), then removes everything.
fn delete_tree(path: &Path) -> io::Result<()> {
    let metadata = match path.symlink_metadata() {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(error) => return Err(error),
    };
    if !metadata.is_dir() {
        return fs::remove_file(path);
    }
    let mut pending = vec![path.to_owned()];
    while let Some(directory) = pending.pop() {
        let handle = OpenOptions::new()
            .read(true)
            .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_DIRECTORY).bits())
            .open(&directory)?;
        handle.set_permissions(fs::Permissions::from_mode(0o700))?;
        for child in fs::read_dir(&directory)? {
            let child = child?;
            if child.file_type()?.is_dir() {
                pending.push(child.path());
            }
        }
    }
    fs::remove_dir_all(path)
}

fn sync_directory(path: &Path) -> Result<(), StoreError> {
    File::open(path)
        .and_then(|directory| directory.sync_all())
        .map_err(StoreError::io("sync", path))
}
