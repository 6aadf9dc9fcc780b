//! Streaming, refusing unpacking.
//!
//! Invariants: nothing is written outside a fresh temporary directory beside the destination; only
//! regular files (mode 0644 or 0755) and directories (0755) are created, each with `create_new` /
//! `create_dir` so nothing existing is followed or overwritten; every entry's parent must already have
//! been declared as a directory by the archive itself; the directory is renamed to the destination only
//! after the whole stream, its end marker, the zstd frame and (optionally) the digest checked out, and
//! removed on any error.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingReader};

use super::limits::Limits;
use super::path::{PathProblem, check_path};
use super::{DIRECTORY_MODE, EXECUTABLE_MODE, MANIFEST_PATH, REGULAR_MODE};

const BLOCK: usize = 512;

/// Most zero bytes accepted after the two end-of-archive blocks (GNU tar and Python pad to 10 KiB
/// records; our packer writes none).
pub const MAX_END_PADDING: u64 = 1 << 20;

/// What [`unpack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackSummary {
    /// `sha256` of the compressed bytes read.
    pub digest: Digest,
    /// Number of compressed bytes read.
    pub compressed_len: u64,
    /// Number of regular files written.
    pub files: u64,
    /// Number of directories created.
    pub directories: u64,
    /// Bytes of file content written, as actually read.
    pub content_len: u64,
}

/// Why an artifact was refused or could not be unpacked. Whatever the cause, nothing is left behind.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    /// The destination already exists.
    #[error("destination {destination} already exists; unpack into a path that does not exist yet")]
    DestinationExists {
        /// The destination given.
        destination: PathBuf,
    },
    /// The destination has no final component or no usable parent.
    #[error("destination {destination} must name a new directory inside an existing one")]
    InvalidDestination {
        /// The destination given.
        destination: PathBuf,
    },
    /// Creating, writing or renaming on the local file system failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The local path involved.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Reading or decompressing the input failed (corrupt zstd data, or garbage after the zstd frame).
    #[error(
        "cannot decompress the artifact at tar offset {offset}: {source}; the download is corrupt or not a Locara artifact"
    )]
    Decompress {
        /// Uncompressed bytes read before the failure.
        offset: u64,
        /// The error from zstd or the reader.
        source: io::Error,
    },
    /// A zstd frame needs a larger window than the limit.
    #[error(
        "the artifact needs a zstd window larger than 2^{limit_log} bytes; refused (raise Limits::max_window_log only for trusted input)"
    )]
    WindowTooLarge {
        /// The limit, as a base-2 logarithm.
        limit_log: u32,
    },
    /// The stream ends before the tar end-of-archive marker, or inside a zstd frame.
    #[error("the artifact is truncated at tar offset {offset}; download it again")]
    Truncated {
        /// Uncompressed bytes read before the end.
        offset: u64,
    },
    /// Something other than zero padding follows the end-of-archive marker.
    #[error(
        "unexpected data at tar offset {offset} after the end-of-archive marker (non-zero bytes, or more than {MAX_END_PADDING} bytes of padding); refused"
    )]
    TrailingData {
        /// Offset of the first unexpected byte.
        offset: u64,
    },
    /// A header block fails its checksum or has unparsable numbers; often the previous entry's size field
    /// disagreed with its data.
    #[error(
        "corrupt tar header at offset {offset} (after entry {previous:?}): {reason}; the previous entry's size may disagree with its data"
    )]
    CorruptHeader {
        /// Offset of the header block.
        offset: u64,
        /// The entry before it, if any.
        previous: Option<String>,
        /// What is wrong.
        reason: &'static str,
    },
    /// The header is not POSIX ustar (`ustar\0` + `00`).
    #[error(
        "entry {path:?} is not a POSIX ustar header (magic {magic:?}); write the archive with --format=ustar"
    )]
    NotUstar {
        /// The entry path, as far as readable.
        path: String,
        /// The magic and version bytes found.
        magic: String,
    },
    /// An absolute path.
    #[error("entry {path:?} has an absolute path; artifact paths are relative")]
    AbsolutePath {
        /// The entry path.
        path: String,
    },
    /// A `..` component.
    #[error("entry {path:?} has a \"..\" component and could escape the destination; refused")]
    ParentComponent {
        /// The entry path.
        path: String,
    },
    /// Another broken path rule (`.`, empty component, backslash, empty path).
    #[error("entry {path:?} has an invalid path: {problem}")]
    InvalidPath {
        /// The entry path.
        path: String,
        /// The rule it breaks.
        problem: PathProblem,
    },
    /// A path that is not UTF-8.
    #[error("entry {path_lossy:?} has a name that is not UTF-8; refused")]
    NonUtf8Path {
        /// The path with invalid bytes replaced.
        path_lossy: String,
    },
    /// A path longer than the limit.
    #[error("entry {path_lossy:?} has a {length}-byte path, over the limit of {limit}")]
    PathTooLong {
        /// The path with invalid bytes replaced.
        path_lossy: String,
        /// Its length in bytes.
        length: usize,
        /// The limit.
        limit: usize,
    },
    /// A symbolic link.
    #[error(
        "entry {path:?} is a symbolic link (to {target:?}); artifacts hold regular files and directories only"
    )]
    Symlink {
        /// The entry path.
        path: String,
        /// The link target.
        target: String,
    },
    /// A hard link.
    #[error(
        "entry {path:?} is a hard link (to {target:?}); artifacts hold regular files and directories only"
    )]
    HardLink {
        /// The entry path.
        path: String,
        /// The link target.
        target: String,
    },
    /// A character device.
    #[error("entry {path:?} is a character device; refused")]
    CharDevice {
        /// The entry path.
        path: String,
    },
    /// A block device.
    #[error("entry {path:?} is a block device; refused")]
    BlockDevice {
        /// The entry path.
        path: String,
    },
    /// A FIFO.
    #[error("entry {path:?} is a FIFO; refused")]
    Fifo {
        /// The entry path.
        path: String,
    },
    /// A PAX extended (`x`) or global (`g`) header; Locara artifacts never contain one.
    #[error("entry {path:?} is a PAX {kind} header; Locara artifacts are plain ustar, refused")]
    PaxHeader {
        /// The header's name field.
        path: String,
        /// `extended` or `global`.
        kind: &'static str,
    },
    /// A GNU long-name (`L`) or long-link (`K`) entry; Locara artifacts never contain one.
    #[error(
        "entry {path:?} is a GNU {kind} extension entry; Locara artifacts are plain ustar, refused"
    )]
    GnuExtension {
        /// The header's name field.
        path: String,
        /// `long name` or `long link`.
        kind: &'static str,
    },
    /// Any other entry type (contiguous file, sparse file, vendor extension, ...).
    #[error(
        "entry {path:?} has unsupported type {type_flag:?}; only regular files ('0') and directories ('5') are allowed"
    )]
    UnsupportedEntryType {
        /// The entry path.
        path: String,
        /// The type flag byte, as a character.
        type_flag: char,
    },
    /// A path that appeared before (as a file or a directory).
    #[error("entry {path:?} appears more than once; refused")]
    DuplicateEntry {
        /// The entry path.
        path: String,
    },
    /// An entry whose parent directory was not declared before it.
    #[error(
        "entry {path:?} comes before (or without) a directory entry for its parent {parent:?}; every parent must be declared first"
    )]
    MissingParent {
        /// The entry path.
        path: String,
        /// Its parent.
        parent: String,
    },
    /// A directory entry with a non-zero size.
    #[error("directory entry {path:?} declares {size} bytes of data; directories carry none")]
    DirectoryWithData {
        /// The entry path.
        path: String,
        /// The declared size.
        size: u64,
    },
    /// More entries than the limit.
    #[error("entry {path:?} is one more than the limit of {limit} entries; refused")]
    TooManyEntries {
        /// The first entry over the limit.
        path: String,
        /// The limit.
        limit: u64,
    },
    /// One file over the size limit.
    #[error("file {path:?} is {size} bytes, over the limit of {limit}")]
    FileTooLarge {
        /// The entry path.
        path: String,
        /// Its declared size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// All files together over the size limit.
    #[error("file {path:?} brings the total to {total} bytes, over the limit of {limit}")]
    TotalTooLarge {
        /// The entry that crossed the limit.
        path: String,
        /// The total including it.
        total: u64,
        /// The limit.
        limit: u64,
    },
    /// No regular file `locara.toml` at the root.
    #[error("the artifact has no regular file {MANIFEST_PATH:?} at its root")]
    MissingManifest,
    /// The compressed bytes do not hash to the expected digest.
    #[error(
        "the artifact hashes to {found}, expected {expected}; it is not the artifact that was published"
    )]
    DigestMismatch {
        /// The digest asked for.
        expected: Digest,
        /// The digest of the bytes read.
        found: Digest,
    },
}

/// Unpacks the artifact read from `reader` into `destination`, which must not exist yet.
pub fn unpack(
    reader: impl Read,
    destination: &Path,
    limits: &Limits,
) -> Result<UnpackSummary, UnpackError> {
    unpack_checked(reader, None, destination, limits)
}

/// Like [`unpack`], and also refuses (leaving nothing) unless the compressed bytes hash to `expected`.
pub fn unpack_verified(
    reader: impl Read,
    expected: &Digest,
    destination: &Path,
    limits: &Limits,
) -> Result<UnpackSummary, UnpackError> {
    unpack_checked(reader, Some(expected), destination, limits)
}

fn unpack_checked(
    reader: impl Read,
    expected: Option<&Digest>,
    destination: &Path,
    limits: &Limits,
) -> Result<UnpackSummary, UnpackError> {
    if destination.symlink_metadata().is_ok() {
        return Err(UnpackError::DestinationExists {
            destination: destination.to_owned(),
        });
    }
    let temp = TempDirectory::create_beside(destination)?;
    let summary = extract(reader, expected, Some(&temp.path), limits)?.0;
    temp.commit(destination)?;
    Ok(summary)
}

/// An artifact read through without writing anything: its summary and its `locara.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    /// What [`unpack`] would have unpacked.
    pub summary: UnpackSummary,
    /// The bytes of the artifact's `locara.toml`.
    pub manifest: Vec<u8>,
}

/// Reads the whole artifact from `reader` with every check [`unpack_verified`] makes, writing nothing,
/// and returns its `locara.toml`: the client reads the manifest (and learns whether the archive would
/// unpack at all) before anything touches the disk.
pub fn scan_verified(
    reader: impl Read,
    expected: &Digest,
    limits: &Limits,
) -> Result<Scanned, UnpackError> {
    let (summary, manifest) = extract(reader, Some(expected), None, limits)?;
    Ok(Scanned {
        summary,
        manifest: manifest.ok_or(UnpackError::MissingManifest)?,
    })
}

/// A directory removed on drop unless committed.
struct TempDirectory {
    path: PathBuf,
    committed: bool,
}

impl TempDirectory {
    fn create_beside(destination: &Path) -> Result<Self, UnpackError> {
        let invalid = || UnpackError::InvalidDestination {
            destination: destination.to_owned(),
        };
        let name = destination.file_name().ok_or_else(invalid)?;
        let parent = match destination.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => parent,
            Some(_) => Path::new("."),
            None => return Err(invalid()),
        };
        let mut attempts = 0;
        loop {
            let mut random = [0u8; 8];
            getrandom::fill(&mut random).map_err(|error| UnpackError::Write {
                path: parent.to_owned(),
                source: io::Error::other(error.to_string()),
            })?;
            let mut temp_name = OsString::from(".");
            temp_name.push(name);
            temp_name.push(format!(".partial-{}", hex::encode(random)));
            let path = parent.join(temp_name);
            match fs::create_dir(&path) {
                Ok(()) => {
                    let temp = Self {
                        path,
                        committed: false,
                    };
                    set_mode(&temp.path, DIRECTORY_MODE)?;
                    return Ok(temp);
                }
                Err(error) if error.kind() == io::ErrorKind::AlreadyExists && attempts < 8 => {
                    attempts += 1;
                }
                Err(source) => return Err(UnpackError::Write { path, source }),
            }
        }
    }

    fn commit(mut self, destination: &Path) -> Result<(), UnpackError> {
        sync_directory(&self.path)?;
        // `rename` would replace an empty directory created meanwhile; check once more right before.
        if destination.symlink_metadata().is_ok() {
            return Err(UnpackError::DestinationExists {
                destination: destination.to_owned(),
            });
        }
        fs::rename(&self.path, destination).map_err(|source| UnpackError::Write {
            path: destination.to_owned(),
            source,
        })?;
        self.committed = true;
        if let Some(parent) = destination.parent().filter(|p| !p.as_os_str().is_empty()) {
            sync_directory(parent)?;
        }
        Ok(())
    }
}

impl Drop for TempDirectory {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_dir_all(&self.path);
        }
    }
}

fn set_mode(path: &Path, mode: u32) -> Result<(), UnpackError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).map_err(|source| {
        UnpackError::Write {
            path: path.to_owned(),
            source,
        }
    })
}

fn sync_directory(path: &Path) -> Result<(), UnpackError> {
    File::open(path)
        .and_then(|directory| directory.sync_all())
        .map_err(|source| UnpackError::Write {
            path: path.to_owned(),
            source,
        })
}

/// The uncompressed tar stream, with its offset for error messages.
struct TarStream<R> {
    inner: R,
    offset: u64,
}

impl<R: Read> TarStream<R> {
    fn read_error(&self, error: io::Error, limits: &Limits) -> UnpackError {
        // zstd reports an over-limit window as ZSTD_error_frameParameter_windowTooLarge, whose stable
        // name is this message.
        if error.to_string().contains("Frame requires too much memory") {
            UnpackError::WindowTooLarge {
                limit_log: limits.max_window_log,
            }
        } else if error.kind() == io::ErrorKind::UnexpectedEof {
            UnpackError::Truncated {
                offset: self.offset,
            }
        } else {
            UnpackError::Decompress {
                offset: self.offset,
                source: error,
            }
        }
    }

    /// Fills `buffer` completely; `Ok(n < len)` only at the end of the stream.
    fn read_full(&mut self, buffer: &mut [u8], limits: &Limits) -> Result<usize, UnpackError> {
        let mut filled = 0;
        while filled < buffer.len() {
            match self.inner.read(&mut buffer[filled..]) {
                Ok(0) => break,
                Ok(n) => {
                    filled += n;
                    self.offset += n as u64;
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(self.read_error(error, limits)),
            }
        }
        Ok(filled)
    }

    fn read_exact(&mut self, buffer: &mut [u8], limits: &Limits) -> Result<(), UnpackError> {
        if self.read_full(buffer, limits)? < buffer.len() {
            return Err(UnpackError::Truncated {
                offset: self.offset,
            });
        }
        Ok(())
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Seen {
    File,
    Directory,
}

/// Reads the archive, checking everything; with a `root`, writes it there, otherwise keeps only the
/// manifest's bytes (returned either way when `root` is `None`).
fn extract(
    reader: impl Read,
    expected: Option<&Digest>,
    root: Option<&Path>,
    limits: &Limits,
) -> Result<(UnpackSummary, Option<Vec<u8>>), UnpackError> {
    let mut manifest = None;
    let mut decoder = zstd::stream::read::Decoder::new(HashingReader::new(reader))
        .map_err(|source| UnpackError::Decompress { offset: 0, source })?;
    decoder
        .window_log_max(limits.max_window_log)
        .map_err(|source| UnpackError::Decompress { offset: 0, source })?;
    let mut stream = TarStream {
        inner: decoder,
        offset: 0,
    };
    let mut seen: HashMap<String, Seen> = HashMap::new();
    let mut directories: Vec<PathBuf> = Vec::new();
    let mut previous: Option<String> = None;
    let mut summary = UnpackSummary {
        digest: Digest::from_bytes([0; 32]),
        compressed_len: 0,
        files: 0,
        directories: 0,
        content_len: 0,
    };
    let mut entries = 0u64;
    let mut buffer = vec![0u8; 64 * 1024];

    loop {
        let header_offset = stream.offset;
        let mut block = [0u8; BLOCK];
        stream.read_exact(&mut block, limits)?;
        if block.iter().all(|&b| b == 0) {
            read_end_of_archive(&mut stream, limits, &mut buffer)?;
            break;
        }
        let entry = parse_header(&block, header_offset, previous.as_deref(), limits)?;
        let path = entry.path;
        entries += 1;
        if entries > limits.max_entries {
            return Err(UnpackError::TooManyEntries {
                path,
                limit: limits.max_entries,
            });
        }
        if seen.contains_key(&path) {
            return Err(UnpackError::DuplicateEntry { path });
        }
        if let Some((parent, _)) = path.rsplit_once('/')
            && seen.get(parent) != Some(&Seen::Directory)
        {
            return Err(UnpackError::MissingParent {
                parent: parent.to_owned(),
                path,
            });
        }
        let local = root.map(|root| root.join(&path));
        match entry.kind {
            EntryKind::Directory => {
                if entry.size != 0 {
                    return Err(UnpackError::DirectoryWithData {
                        path,
                        size: entry.size,
                    });
                }
                if let Some(local) = local {
                    fs::create_dir(&local).map_err(|source| UnpackError::Write {
                        path: local.clone(),
                        source,
                    })?;
                    set_mode(&local, DIRECTORY_MODE)?;
                    directories.push(local);
                }
                summary.directories += 1;
                seen.insert(path.clone(), Seen::Directory);
            }
            EntryKind::File { executable } => {
                if entry.size > limits.max_file_size {
                    return Err(UnpackError::FileTooLarge {
                        path,
                        size: entry.size,
                        limit: limits.max_file_size,
                    });
                }
                let total = summary.content_len.saturating_add(entry.size);
                if total > limits.max_total_size {
                    return Err(UnpackError::TotalTooLarge {
                        path,
                        total,
                        limit: limits.max_total_size,
                    });
                }
                let mode = if executable {
                    EXECUTABLE_MODE
                } else {
                    REGULAR_MODE
                };
                let written = match &local {
                    Some(local) => {
                        write_file(&mut stream, local, entry.size, mode, limits, &mut buffer)?
                    }
                    None => {
                        let keep = path == MANIFEST_PATH;
                        let bytes = read_file(&mut stream, entry.size, keep, limits, &mut buffer)?;
                        if keep {
                            manifest = Some(bytes);
                        }
                        entry.size
                    }
                };
                summary.content_len += written;
                summary.files += 1;
                let padding = (BLOCK as u64 - entry.size % BLOCK as u64) % BLOCK as u64;
                stream.read_exact(&mut block[..padding as usize], limits)?;
                seen.insert(path.clone(), Seen::File);
            }
        }
        previous = Some(path);
    }

    if seen.get(MANIFEST_PATH) != Some(&Seen::File) {
        return Err(UnpackError::MissingManifest);
    }
    for directory in directories.iter().rev() {
        sync_directory(directory)?;
    }
    let (digest, compressed_len, _) = stream.inner.finish().into_inner().finish();
    if let Some(expected) = expected
        && *expected != digest
    {
        return Err(UnpackError::DigestMismatch {
            expected: *expected,
            found: digest,
        });
    }
    summary.digest = digest;
    summary.compressed_len = compressed_len;
    Ok((summary, manifest))
}

/// Reads a file's `size` bytes from the stream, keeping them only if `keep`.
fn read_file<R: Read>(
    stream: &mut TarStream<R>,
    size: u64,
    keep: bool,
    limits: &Limits,
    buffer: &mut [u8],
) -> Result<Vec<u8>, UnpackError> {
    let mut kept = Vec::new();
    let mut remaining = size;
    while remaining > 0 {
        let chunk = remaining.min(buffer.len() as u64) as usize;
        stream.read_exact(&mut buffer[..chunk], limits)?;
        if keep {
            kept.extend_from_slice(&buffer[..chunk]);
        }
        remaining -= chunk as u64;
    }
    Ok(kept)
}

/// After the first zero block: a second one, then at most [`MAX_END_PADDING`] zero bytes, then the end
/// of the zstd stream (read to its end so the zstd checksum and the digest cover every byte).
fn read_end_of_archive<R: Read>(
    stream: &mut TarStream<R>,
    limits: &Limits,
    buffer: &mut [u8],
) -> Result<(), UnpackError> {
    let mut second = [0u8; BLOCK];
    stream.read_exact(&mut second, limits)?;
    if let Some(position) = second.iter().position(|&b| b != 0) {
        return Err(UnpackError::TrailingData {
            offset: stream.offset - BLOCK as u64 + position as u64,
        });
    }
    let padding_start = stream.offset;
    loop {
        let before = stream.offset;
        let n = stream.read_full(buffer, limits)?;
        if let Some(position) = buffer[..n].iter().position(|&b| b != 0) {
            return Err(UnpackError::TrailingData {
                offset: before + position as u64,
            });
        }
        if stream.offset - padding_start > MAX_END_PADDING {
            return Err(UnpackError::TrailingData {
                offset: padding_start + MAX_END_PADDING,
            });
        }
        if n < buffer.len() {
            return Ok(());
        }
    }
}

fn write_file<R: Read>(
    stream: &mut TarStream<R>,
    local: &Path,
    size: u64,
    mode: u32,
    limits: &Limits,
    buffer: &mut [u8],
) -> Result<u64, UnpackError> {
    let write_error = |source| UnpackError::Write {
        path: local.to_owned(),
        source,
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode_owner_only()
        .open(local)
        .map_err(write_error)?;
    let mut remaining = size;
    while remaining > 0 {
        let chunk = remaining.min(buffer.len() as u64) as usize;
        stream.read_exact(&mut buffer[..chunk], limits)?;
        file.write_all(&buffer[..chunk]).map_err(write_error)?;
        remaining -= chunk as u64;
    }
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(write_error)?;
    file.sync_all().map_err(write_error)?;
    Ok(size - remaining)
}

trait OwnerOnly {
    fn mode_owner_only(&mut self) -> &mut Self;
}

impl OwnerOnly for OpenOptions {
    /// Files start as 0600 and get their final 0644/0755 once complete.
    fn mode_owner_only(&mut self) -> &mut Self {
        std::os::unix::fs::OpenOptionsExt::mode(self, 0o600)
    }
}

enum EntryKind {
    File { executable: bool },
    Directory,
}

struct Entry {
    path: String,
    kind: EntryKind,
    size: u64,
}

/// The bytes of a NUL-terminated header field.
fn field(bytes: &[u8]) -> &[u8] {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    &bytes[..end]
}

/// A ustar octal number: optional leading spaces, octal digits, then NUL/space padding only.
fn octal(bytes: &[u8]) -> Option<u64> {
    let start = bytes.iter().position(|&b| b != b' ')?;
    let digits = &bytes[start..];
    let end = digits
        .iter()
        .position(|&b| !(b'0'..=b'7').contains(&b))
        .unwrap_or(digits.len());
    if end == 0 || !digits[end..].iter().all(|&b| b == 0 || b == b' ') {
        return None;
    }
    digits[..end].iter().try_fold(0u64, |value, &digit| {
        value.checked_mul(8)?.checked_add(u64::from(digit - b'0'))
    })
}

fn checksum_matches(block: &[u8; BLOCK]) -> bool {
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(b)
            }
        })
        .sum();
    octal(&block[148..156]) == Some(sum)
}

fn parse_header(
    block: &[u8; BLOCK],
    offset: u64,
    previous: Option<&str>,
    limits: &Limits,
) -> Result<Entry, UnpackError> {
    let corrupt = |reason| UnpackError::CorruptHeader {
        offset,
        previous: previous.map(str::to_owned),
        reason,
    };
    if !checksum_matches(block) {
        return Err(corrupt("the header checksum does not match"));
    }
    let is_ustar = &block[257..263] == b"ustar\0" && &block[263..265] == b"00";
    let mut raw_path = Vec::with_capacity(256);
    let prefix = field(&block[345..500]);
    if is_ustar && !prefix.is_empty() {
        raw_path.extend_from_slice(prefix);
        raw_path.push(b'/');
    }
    raw_path.extend_from_slice(field(&block[0..100]));
    let lossy = String::from_utf8_lossy(&raw_path).into_owned();
    let link_target = || String::from_utf8_lossy(field(&block[157..257])).into_owned();

    let type_flag = block[156];
    match type_flag {
        b'0' | 0 | b'5' => {}
        b'1' => {
            return Err(UnpackError::HardLink {
                path: lossy,
                target: link_target(),
            });
        }
        b'2' => {
            return Err(UnpackError::Symlink {
                path: lossy,
                target: link_target(),
            });
        }
        b'3' => return Err(UnpackError::CharDevice { path: lossy }),
        b'4' => return Err(UnpackError::BlockDevice { path: lossy }),
        b'6' => return Err(UnpackError::Fifo { path: lossy }),
        b'x' | b'g' => {
            return Err(UnpackError::PaxHeader {
                path: lossy,
                kind: if type_flag == b'x' {
                    "extended"
                } else {
                    "global"
                },
            });
        }
        b'L' | b'K' => {
            return Err(UnpackError::GnuExtension {
                path: lossy,
                kind: if type_flag == b'L' {
                    "long name"
                } else {
                    "long link"
                },
            });
        }
        other => {
            return Err(UnpackError::UnsupportedEntryType {
                path: lossy,
                type_flag: char::from(other),
            });
        }
    }
    if !is_ustar {
        return Err(UnpackError::NotUstar {
            path: lossy,
            magic: String::from_utf8_lossy(&block[257..265]).into_owned(),
        });
    }
    let is_directory = type_flag == b'5';
    if is_directory && raw_path.len() > 1 && raw_path.ends_with(b"/") {
        raw_path.pop();
    }
    if raw_path.len() > limits.max_path_len {
        return Err(UnpackError::PathTooLong {
            path_lossy: String::from_utf8_lossy(&raw_path).into_owned(),
            length: raw_path.len(),
            limit: limits.max_path_len,
        });
    }
    let path = String::from_utf8(raw_path).map_err(|_| UnpackError::NonUtf8Path {
        path_lossy: lossy.clone(),
    })?;
    match check_path(&path) {
        Ok(()) => {}
        Err(PathProblem::Absolute) => return Err(UnpackError::AbsolutePath { path }),
        Err(PathProblem::ParentComponent) => return Err(UnpackError::ParentComponent { path }),
        Err(problem) => return Err(UnpackError::InvalidPath { path, problem }),
    }
    let size = octal(&block[124..136]).ok_or_else(|| corrupt("the size field is not octal"))?;
    let mode = octal(&block[100..108]).ok_or_else(|| corrupt("the mode field is not octal"))?;
    let kind = if is_directory {
        EntryKind::Directory
    } else {
        EntryKind::File {
            executable: mode & 0o100 != 0,
        }
    };
    Ok(Entry { path, kind, size })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn octal_fields_are_strict() {
        assert_eq!(octal(b"0000644\0"), Some(0o644));
        assert_eq!(octal(b"   644 \0"), Some(0o644));
        assert_eq!(octal(b"00000000003\0"), Some(3));
        assert_eq!(octal(b"\0\0\0\0"), None);
        assert_eq!(octal(b"12x4\0"), None);
        assert_eq!(octal(b"0008\0"), None);
        assert_eq!(octal(&[0x80, 0, 0, 0, 0, 0, 0, 1]), None);
    }

    #[test]
    fn field_stops_at_nul() {
        assert_eq!(field(b"abc\0def"), b"abc");
        assert_eq!(field(b"abc"), b"abc");
    }
}
