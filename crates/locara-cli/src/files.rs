//! Writing the client's own files: atomically, and privately where they hold secrets.
//!
//! Invariants:
//! - A file written here is either its old content or its new content, never a mix: the bytes go to a
//!   new temporary file in the same directory (`create_new`, so an existing file or symlink there is never
//!   followed), are synced, and the temporary file is renamed over the target; then the directory is synced
//!   so the rename survives a crash.
//! - A [`Privacy::Secret`] file is created with mode 0600 from its first byte, and its directory is
//!   0700; a [`Privacy::Public`] file is 0644 (less if the umask says so).
//! - Temporary files start with `.` and end with `.tmp`; readers of the client's directories skip them.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Who may read a file or directory the client writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privacy {
    /// Only the user: files 0600, directories 0700.
    Secret,
    /// Anyone who can reach it: files 0644, directories 0755 (both less if the umask says so).
    Public,
}

impl Privacy {
    fn file_mode(self) -> u32 {
        match self {
            Privacy::Secret => 0o600,
            Privacy::Public => 0o644,
        }
    }

    fn directory_mode(self) -> u32 {
        match self {
            Privacy::Secret => 0o700,
            Privacy::Public => 0o755,
        }
    }
}

/// An I/O failure, naming the path and what was being done to it.
#[derive(Debug, thiserror::Error)]
#[error("could not {action} {}", path.display())]
pub struct FileError {
    /// What was being done: `write`, `create directory`, ….
    pub action: &'static str,
    /// The file or directory.
    pub path: PathBuf,
    /// The operating system's error.
    #[source]
    pub source: io::Error,
}

impl FileError {
    /// Wraps `source` with the action and path it happened on.
    pub fn new(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// Creates `path` and its missing parents; a [`Privacy::Secret`] directory is made (or tightened to) 0700.
///
/// Parents that did not exist are created with the same mode, so a secret directory never sits under a
/// directory the client created world-readable.
pub fn ensure_directory(path: &Path, privacy: Privacy) -> Result<(), FileError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    set_directory_mode(&mut builder, privacy.directory_mode());
    builder
        .create(path)
        .map_err(|error| FileError::new("create directory", path, error))?;
    if privacy == Privacy::Secret {
        restrict_directory(path)?;
    }
    Ok(())
}

/// Atomically replaces (or creates) `path` with `bytes`; the parent directory must exist.
pub fn write_atomically(path: &Path, bytes: &[u8], privacy: Privacy) -> Result<(), FileError> {
    let directory = parent_of(path);
    let (temporary, mut file) = create_temporary(&directory, path, privacy)?;
    let written = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(FileError::new("write", path, error));
    }
    sync_directory(&directory)
}

/// Removes a file if it exists and syncs its directory; returns whether there was one.
pub fn remove_file_if_present(path: &Path) -> Result<bool, FileError> {
    match fs::remove_file(path) {
        Ok(()) => {
            sync_directory(&parent_of(path))?;
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(FileError::new("remove", path, error)),
    }
}

/// Removes a directory tree if it exists and syncs its parent; returns whether there was one.
pub fn remove_directory_if_present(path: &Path) -> Result<bool, FileError> {
    match fs::remove_dir_all(path) {
        Ok(()) => {
            sync_directory(&parent_of(path))?;
            Ok(true)
        }
        Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(error) => Err(FileError::new("remove directory", path, error)),
    }
}

/// Renames `from` to `to` (replacing an empty directory or a file there) and syncs `to`'s directory.
pub fn rename(from: &Path, to: &Path) -> Result<(), FileError> {
    fs::rename(from, to).map_err(|error| FileError::new("rename into place", to, error))?;
    sync_directory(&parent_of(to))
}

/// Whether `name` is one of this module's temporary files.
pub fn is_temporary(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".tmp")
}

/// A fresh name beside `target` for a temporary file or directory: `.<name>.<pid>-<unique>.tmp`.
pub fn temporary_path(target: &Path) -> PathBuf {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|elapsed| elapsed.subsec_nanos())
        .unwrap_or(0);
    let unique = COUNTER.fetch_add(1, Ordering::Relaxed);
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    parent_of(target).join(format!(
        ".{name}.{}-{nanos:x}{unique:x}.tmp",
        std::process::id()
    ))
}

fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}

fn create_temporary(
    directory: &Path,
    target: &Path,
    privacy: Privacy,
) -> Result<(PathBuf, File), FileError> {
    // A name collision (another process, or a left-over file) is retried with a new name, never reused.
    let mut last_error = None;
    for _ in 0..16 {
        let temporary = temporary_path(target);
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        set_file_mode(&mut options, privacy.file_mode());
        match options.open(&temporary) {
            Ok(file) => return Ok((temporary, file)),
            Err(error) if error.kind() == io::ErrorKind::AlreadyExists => last_error = Some(error),
            Err(error) => return Err(FileError::new("create a file in", directory, error)),
        }
    }
    Err(FileError::new(
        "create a file in",
        directory,
        last_error.unwrap_or_else(|| io::Error::other("no free temporary name")),
    ))
}

fn sync_directory(directory: &Path) -> Result<(), FileError> {
    // Opening a directory to sync it is a Unix notion; elsewhere the rename is as durable as it gets.
    if cfg!(unix) {
        File::open(directory)
            .and_then(|handle| handle.sync_all())
            .map_err(|error| FileError::new("sync directory", directory, error))?;
    }
    Ok(())
}

#[cfg(unix)]
fn set_file_mode(options: &mut OpenOptions, mode: u32) {
    use std::os::unix::fs::OpenOptionsExt as _;
    options.mode(mode);
}

#[cfg(not(unix))]
fn set_file_mode(_options: &mut OpenOptions, _mode: u32) {}

#[cfg(unix)]
fn set_directory_mode(builder: &mut fs::DirBuilder, mode: u32) {
    use std::os::unix::fs::DirBuilderExt as _;
    builder.mode(mode);
}

#[cfg(not(unix))]
fn set_directory_mode(_builder: &mut fs::DirBuilder, _mode: u32) {}

#[cfg(unix)]
fn restrict_directory(path: &Path) -> Result<(), FileError> {
    use std::os::unix::fs::PermissionsExt as _;
    let metadata =
        fs::metadata(path).map_err(|error| FileError::new("inspect directory", path, error))?;
    if metadata.permissions().mode() & 0o077 != 0 {
        fs::set_permissions(path, fs::Permissions::from_mode(0o700))
            .map_err(|error| FileError::new("restrict to mode 0700", path, error))?;
    }
    Ok(())
}

#[cfg(not(unix))]
fn restrict_directory(_path: &Path) -> Result<(), FileError> {
    Ok(())
}

/// The permission bits in `metadata` (Unix), for checks that secret files stay private.
#[cfg(unix)]
pub fn mode_of(metadata: &fs::Metadata) -> u32 {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o7777
}

/// The permission bits in `metadata`; always 0600 where Unix modes do not exist.
#[cfg(not(unix))]
pub fn mode_of(_metadata: &fs::Metadata) -> u32 {
    0o600
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    fn mode(path: &Path) -> u32 {
        mode_of(&fs::metadata(path).unwrap())
    }

    #[test]
    fn secret_files_are_0600_in_0700_directories() {
        let dir = tempfile::tempdir().unwrap();
        let secret_dir = dir.path().join("a/b/credentials");
        ensure_directory(&secret_dir, Privacy::Secret).unwrap();
        assert_eq!(mode(&secret_dir), 0o700);
        assert_eq!(mode(&dir.path().join("a")), 0o700);
        let file = secret_dir.join("main.token");
        write_atomically(&file, b"secret", Privacy::Secret).unwrap();
        assert_eq!(mode(&file), 0o600);
        assert_eq!(fs::read(&file).unwrap(), b"secret");
    }

    #[test]
    fn a_loose_secret_directory_is_tightened() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = tempfile::tempdir().unwrap();
        let secret_dir = dir.path().join("keys");
        fs::create_dir(&secret_dir).unwrap();
        fs::set_permissions(&secret_dir, fs::Permissions::from_mode(0o755)).unwrap();
        ensure_directory(&secret_dir, Privacy::Secret).unwrap();
        assert_eq!(mode(&secret_dir), 0o700);
    }

    #[test]
    fn replacing_a_file_leaves_no_temporary_behind_and_does_not_follow_symlinks() {
        let dir = tempfile::tempdir().unwrap();
        let outside = dir.path().join("outside");
        fs::write(&outside, b"untouched").unwrap();
        let target = dir.path().join("registries.json");
        std::os::unix::fs::symlink(&outside, &target).unwrap();
        write_atomically(&target, b"new", Privacy::Public).unwrap();
        write_atomically(&target, b"newer", Privacy::Public).unwrap();
        assert_eq!(fs::read(&outside).unwrap(), b"untouched");
        assert!(!fs::symlink_metadata(&target).unwrap().is_symlink());
        assert_eq!(fs::read(&target).unwrap(), b"newer");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        assert!(!names.iter().any(|name| is_temporary(name)), "{names:?}");
    }

    #[test]
    fn removing_what_is_not_there_is_not_an_error() {
        let dir = tempfile::tempdir().unwrap();
        assert!(!remove_file_if_present(&dir.path().join("none")).unwrap());
        assert!(!remove_directory_if_present(&dir.path().join("none")).unwrap());
    }

    #[test]
    fn temporary_names_are_recognised() {
        let path = temporary_path(Path::new("/x/registries.json"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert!(is_temporary(name), "{name}");
        assert!(!is_temporary("1.root.json"));
    }
}
