//! Deterministic packing: the same inputs give the same bytes, whatever the file system says about
//! order, times, owners or umask.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::digest::{Digest, HashingWriter};

use super::path::{ArtifactPath, PathProblem, ustar_split};
use super::{DIRECTORY_MODE, EXECUTABLE_MODE, FileMode, MANIFEST_PATH, REGULAR_MODE, ZSTD_LEVEL};

/// Largest value an 11-digit octal ustar field holds: 8 GiB − 1 for sizes, year 2242 for mtimes.
pub const USTAR_MAX_NUMBER: u64 = 0o777_7777_7777;

const BLOCK: usize = 512;

/// Builds one artifact from files on disk and bytes in memory.
///
/// Nothing is read from the sources' metadata but their type, size and owner-executable bit; entries
/// are written in path-byte order with parent directories first, fixed times and owners.
#[derive(Debug, Default)]
pub struct Packer {
    entries: BTreeMap<ArtifactPath, Source>,
    source_date_epoch: u64,
}

#[derive(Debug)]
enum Source {
    Directory,
    File {
        path: PathBuf,
        mode: FileMode,
        size: u64,
        identity: (u64, u64),
    },
    Bytes {
        bytes: Vec<u8>,
        mode: FileMode,
    },
}

/// What [`Packer::pack`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackSummary {
    /// `sha256` of the compressed bytes: the artifact's name.
    pub digest: Digest,
    /// Length of the compressed artifact.
    pub compressed_len: u64,
    /// Length of the tar stream before compression.
    pub uncompressed_len: u64,
    /// Number of regular files.
    pub files: u64,
    /// Number of directories.
    pub directories: u64,
    /// Bytes of file content, summed over all files.
    pub content_len: u64,
}

/// Why an artifact could not be packed.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    /// An artifact path breaks the path rules.
    #[error("artifact path {path:?} is not allowed: {problem}")]
    InvalidPath {
        /// The path as given.
        path: String,
        /// The rule it breaks.
        problem: PathProblem,
    },
    /// A path cannot be stored in a ustar header (name 100 bytes, prefix 155 bytes, split at a `/`).
    #[error(
        "artifact path {path:?} ({length} bytes) does not fit a ustar header (at most 100 bytes, or a \
         prefix of at most 155 bytes and a name of at most 100 bytes split at a \"/\"); shorten it"
    )]
    PathTooLongForUstar {
        /// The path.
        path: String,
        /// Its length in bytes.
        length: usize,
    },
    /// The same path was added twice.
    #[error("artifact path {path:?} was added twice; each path may appear once")]
    DuplicatePath {
        /// The path.
        path: String,
    },
    /// A path is used both as a file and as a directory.
    #[error("artifact path {path:?} is needed as a directory but {file:?} is a file")]
    FileDirectoryConflict {
        /// The entry that needs the directory.
        path: String,
        /// The file in the way.
        file: String,
    },
    /// A source is a symbolic link.
    #[error(
        "source {source_path} for {path:?} is a symbolic link; artifacts hold regular files and directories only, copy the target instead"
    )]
    SourceIsSymlink {
        /// The artifact path.
        path: String,
        /// The source on disk.
        source_path: PathBuf,
    },
    /// A source is neither a regular file nor a directory.
    #[error(
        "source {source_path} for {path:?} is not a regular file or directory (a device, FIFO or socket); remove it from the build output"
    )]
    SourceNotRegular {
        /// The artifact path.
        path: String,
        /// The source on disk.
        source_path: PathBuf,
    },
    /// A file name in a source tree is not UTF-8.
    #[error("source {source_path} has a name that is not UTF-8; rename it")]
    SourceNameNotUtf8 {
        /// The source on disk.
        source_path: PathBuf,
    },
    /// A source file changed between [`Packer::add_file`] and [`Packer::pack`].
    #[error(
        "source {source_path} for {path:?} changed while packing (expected {expected} bytes); pack from a tree nothing writes to"
    )]
    SourceChanged {
        /// The artifact path.
        path: String,
        /// The source on disk.
        source_path: PathBuf,
        /// The size seen when it was added.
        expected: u64,
    },
    /// A file is larger than a ustar size field holds.
    #[error("{path:?} is {size} bytes; ustar holds at most {limit} bytes per file")]
    FileTooLargeForUstar {
        /// The artifact path.
        path: String,
        /// Its size.
        size: u64,
        /// The ustar maximum.
        limit: u64,
    },
    /// The source date epoch does not fit a ustar mtime field.
    #[error("SOURCE_DATE_EPOCH {found} is beyond the ustar maximum {limit}")]
    EpochOutOfRange {
        /// The epoch given.
        found: u64,
        /// The ustar maximum.
        limit: u64,
    },
    /// No `locara.toml` was added.
    #[error("the artifact has no {MANIFEST_PATH:?}; add the manifest at the artifact root")]
    MissingManifest,
    /// `locara.toml` was added as a directory.
    #[error("{MANIFEST_PATH:?} must be a regular file, not a directory")]
    ManifestIsDirectory,
    /// Reading a source failed.
    #[error("cannot read source {source_path}: {source}")]
    ReadSource {
        /// The source on disk.
        source_path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// Writing or compressing the artifact failed.
    #[error("cannot write the artifact: {0}")]
    Write(#[source] io::Error),
}

impl Packer {
    /// An empty packer with `SOURCE_DATE_EPOCH` 0.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the modification time written for every entry (seconds since 1970, UTC).
    pub fn source_date_epoch(mut self, seconds: u64) -> Self {
        self.source_date_epoch = seconds;
        self
    }

    /// Adds the regular file `source` at `artifact_path`; mode 0755 if its owner may execute it, else 0644.
    pub fn add_file(
        mut self,
        artifact_path: &str,
        source: impl AsRef<Path>,
    ) -> Result<Self, PackError> {
        let path = parse_path(artifact_path)?;
        let source = source.as_ref();
        let metadata = source_metadata(&path, source)?;
        if !metadata.is_file() {
            return Err(PackError::SourceNotRegular {
                path: path.to_string(),
                source_path: source.to_owned(),
            });
        }
        let mode = if metadata.permissions().mode() & 0o100 != 0 {
            FileMode::Executable
        } else {
            FileMode::Regular
        };
        let entry = Source::File {
            path: source.to_owned(),
            mode,
            size: metadata.len(),
            identity: (metadata.dev(), metadata.ino()),
        };
        self.insert(path, entry)?;
        Ok(self)
    }

    /// Adds `bytes` as a file with mode 0644 at `artifact_path`.
    pub fn add_bytes(
        self,
        artifact_path: &str,
        bytes: impl Into<Vec<u8>>,
    ) -> Result<Self, PackError> {
        self.add_bytes_with_mode(artifact_path, bytes, FileMode::Regular)
    }

    /// Adds `bytes` as a file with the given mode at `artifact_path`.
    pub fn add_bytes_with_mode(
        mut self,
        artifact_path: &str,
        bytes: impl Into<Vec<u8>>,
        mode: FileMode,
    ) -> Result<Self, PackError> {
        let path = parse_path(artifact_path)?;
        self.insert(
            path,
            Source::Bytes {
                bytes: bytes.into(),
                mode,
            },
        )?;
        Ok(self)
    }

    /// Adds an (empty unless filled later) directory at `artifact_path`; adding one twice is harmless.
    pub fn add_directory(mut self, artifact_path: &str) -> Result<Self, PackError> {
        let path = parse_path(artifact_path)?;
        self.insert(path, Source::Directory)?;
        Ok(self)
    }

    /// Adds every file and directory under `root`, at the artifact root; symlinks and special files are
    /// refused.
    pub fn add_tree(mut self, root: impl AsRef<Path>) -> Result<Self, PackError> {
        let root = root.as_ref();
        let mut pending = vec![(root.to_owned(), String::new())];
        while let Some((directory, prefix)) = pending.pop() {
            let read_error = |source| PackError::ReadSource {
                source_path: directory.clone(),
                source,
            };
            for child in fs::read_dir(&directory).map_err(read_error)? {
                let child = child.map_err(read_error)?;
                let source_path = child.path();
                let Some(name) = child.file_name().to_str().map(str::to_owned) else {
                    return Err(PackError::SourceNameNotUtf8 { source_path });
                };
                let artifact_path = format!("{prefix}{name}");
                let path = parse_path(&artifact_path)?;
                let metadata = source_metadata(&path, &source_path)?;
                if metadata.is_dir() {
                    self = self.add_directory(&artifact_path)?;
                    pending.push((source_path, format!("{artifact_path}/")));
                } else {
                    self = self.add_file(&artifact_path, &source_path)?;
                }
            }
        }
        Ok(self)
    }

    fn insert(&mut self, path: ArtifactPath, source: Source) -> Result<(), PackError> {
        if ustar_split(path.as_str()).is_none() {
            return Err(PackError::PathTooLongForUstar {
                length: path.as_str().len(),
                path: path.to_string(),
            });
        }
        match (self.entries.get(&path), &source) {
            (None, _) => {}
            (Some(Source::Directory), Source::Directory) => return Ok(()),
            (Some(Source::Directory), _) => {
                return Err(PackError::FileDirectoryConflict {
                    file: path.to_string(),
                    path: path.to_string(),
                });
            }
            (Some(_), _) => {
                return Err(PackError::DuplicatePath {
                    path: path.to_string(),
                });
            }
        }
        self.entries.insert(path, source);
        Ok(())
    }

    /// Writes the artifact (zstd-compressed ustar) to `writer` and names it.
    pub fn pack(mut self, writer: impl Write) -> Result<PackSummary, PackError> {
        if self.source_date_epoch > USTAR_MAX_NUMBER {
            return Err(PackError::EpochOutOfRange {
                found: self.source_date_epoch,
                limit: USTAR_MAX_NUMBER,
            });
        }
        match self.entries.get(&parse_path(MANIFEST_PATH)?) {
            None => return Err(PackError::MissingManifest),
            Some(Source::Directory) => return Err(PackError::ManifestIsDirectory),
            Some(_) => {}
        }
        self.add_implied_directories()?;

        let mut encoder = zstd::stream::write::Encoder::new(HashingWriter::new(writer), ZSTD_LEVEL)
            .map_err(PackError::Write)?;
        encoder.include_checksum(true).map_err(PackError::Write)?;
        encoder
            .include_contentsize(false)
            .map_err(PackError::Write)?;
        encoder.include_dictid(false).map_err(PackError::Write)?;

        let mut summary = PackSummary {
            digest: Digest::from_bytes([0; 32]),
            compressed_len: 0,
            uncompressed_len: 0,
            files: 0,
            directories: 0,
            content_len: 0,
        };
        let mtime = self.source_date_epoch;
        for (path, source) in &self.entries {
            let written = match source {
                Source::Directory => {
                    summary.directories += 1;
                    write_header(
                        &mut encoder,
                        path,
                        tar::EntryType::Directory,
                        DIRECTORY_MODE,
                        0,
                        mtime,
                    )?
                }
                Source::Bytes { bytes, mode } => {
                    summary.files += 1;
                    summary.content_len += bytes.len() as u64;
                    check_file_size(path, bytes.len() as u64)?;
                    let header = write_header(
                        &mut encoder,
                        path,
                        tar::EntryType::Regular,
                        mode.bits(),
                        bytes.len() as u64,
                        mtime,
                    )?;
                    encoder.write_all(bytes).map_err(PackError::Write)?;
                    header + write_padding(&mut encoder, bytes.len() as u64)? + bytes.len() as u64
                }
                Source::File {
                    path: source_path,
                    mode,
                    size,
                    identity,
                } => {
                    summary.files += 1;
                    summary.content_len += size;
                    check_file_size(path, *size)?;
                    let mut file = open_unchanged(path, source_path, *size, *identity)?;
                    let header = write_header(
                        &mut encoder,
                        path,
                        tar::EntryType::Regular,
                        mode.bits(),
                        *size,
                        mtime,
                    )?;
                    let copied = copy_exactly(&mut file, &mut encoder, *size, path, source_path)?;
                    header + write_padding(&mut encoder, copied)? + copied
                }
            };
            summary.uncompressed_len += written;
        }
        encoder
            .write_all(&[0u8; 2 * BLOCK])
            .map_err(PackError::Write)?;
        summary.uncompressed_len += 2 * BLOCK as u64;

        let hashing = encoder.finish().map_err(PackError::Write)?;
        let (digest, compressed_len, mut writer) = hashing.finish();
        writer.flush().map_err(PackError::Write)?;
        summary.digest = digest;
        summary.compressed_len = compressed_len;
        Ok(summary)
    }

    fn add_implied_directories(&mut self) -> Result<(), PackError> {
        let mut implied = Vec::new();
        for path in self.entries.keys() {
            for ancestor in path.ancestors() {
                match self.entries.get(&ancestor) {
                    Some(Source::Directory) => {}
                    Some(_) => {
                        return Err(PackError::FileDirectoryConflict {
                            path: path.to_string(),
                            file: ancestor.to_string(),
                        });
                    }
                    None => implied.push(ancestor),
                }
            }
        }
        for directory in implied {
            self.entries.insert(directory, Source::Directory);
        }
        Ok(())
    }
}

fn parse_path(artifact_path: &str) -> Result<ArtifactPath, PackError> {
    ArtifactPath::new(artifact_path).map_err(|problem| PackError::InvalidPath {
        path: artifact_path.to_owned(),
        problem,
    })
}

fn source_metadata(path: &ArtifactPath, source: &Path) -> Result<fs::Metadata, PackError> {
    let metadata = fs::symlink_metadata(source).map_err(|error| PackError::ReadSource {
        source_path: source.to_owned(),
        source: error,
    })?;
    let file_type = metadata.file_type();
    if file_type.is_symlink() {
        return Err(PackError::SourceIsSymlink {
            path: path.to_string(),
            source_path: source.to_owned(),
        });
    }
    if !file_type.is_file() && !file_type.is_dir() {
        return Err(PackError::SourceNotRegular {
            path: path.to_string(),
            source_path: source.to_owned(),
        });
    }
    Ok(metadata)
}

fn check_file_size(path: &ArtifactPath, size: u64) -> Result<(), PackError> {
    if size > USTAR_MAX_NUMBER {
        return Err(PackError::FileTooLargeForUstar {
            path: path.to_string(),
            size,
            limit: USTAR_MAX_NUMBER,
        });
    }
    Ok(())
}

/// Opens `source` and checks that it is still the regular file, of the same size, that was added.
fn open_unchanged(
    path: &ArtifactPath,
    source: &Path,
    size: u64,
    identity: (u64, u64),
) -> Result<File, PackError> {
    let read_error = |error| PackError::ReadSource {
        source_path: source.to_owned(),
        source: error,
    };
    let file = File::open(source).map_err(read_error)?;
    let metadata = file.metadata().map_err(read_error)?;
    if !metadata.is_file() || (metadata.dev(), metadata.ino()) != identity || metadata.len() != size
    {
        return Err(PackError::SourceChanged {
            path: path.to_string(),
            source_path: source.to_owned(),
            expected: size,
        });
    }
    Ok(file)
}

fn copy_exactly(
    file: &mut File,
    out: &mut impl Write,
    size: u64,
    path: &ArtifactPath,
    source: &Path,
) -> Result<u64, PackError> {
    let mut limited = file.take(size);
    let mut buffer = vec![0u8; 64 * 1024];
    let mut copied = 0u64;
    loop {
        let n = match limited.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(error) if error.kind() == io::ErrorKind::Interrupted => continue,
            Err(error) => {
                return Err(PackError::ReadSource {
                    source_path: source.to_owned(),
                    source: error,
                });
            }
        };
        out.write_all(&buffer[..n]).map_err(PackError::Write)?;
        copied += n as u64;
    }
    let mut probe = [0u8; 1];
    let grew = limited
        .into_inner()
        .read(&mut probe)
        .map(|n| n > 0)
        .unwrap_or(true);
    if copied != size || grew {
        return Err(PackError::SourceChanged {
            path: path.to_string(),
            source_path: source.to_owned(),
            expected: size,
        });
    }
    Ok(copied)
}

/// The 512-byte ustar header for one entry; the layout is specified in `docs/artifact-format.md`.
pub(crate) fn ustar_header(
    path: &str,
    entry_type: tar::EntryType,
    mode: u32,
    size: u64,
    mtime: u64,
) -> Option<tar::Header> {
    let (prefix, name) = ustar_split(path)?;
    let mut header = tar::Header::new_ustar();
    {
        let ustar = header.as_ustar_mut()?;
        ustar.name[..name.len()].copy_from_slice(name.as_bytes());
        ustar.prefix[..prefix.len()].copy_from_slice(prefix.as_bytes());
    }
    header.set_entry_type(entry_type);
    header.set_mode(mode);
    header.set_uid(0);
    header.set_gid(0);
    header.set_size(size);
    header.set_mtime(mtime);
    header.set_device_major(0).ok()?;
    header.set_device_minor(0).ok()?;
    header.set_cksum();
    Some(header)
}

fn write_header(
    out: &mut impl Write,
    path: &ArtifactPath,
    entry_type: tar::EntryType,
    mode: u32,
    size: u64,
    mtime: u64,
) -> Result<u64, PackError> {
    let header = ustar_header(path.as_str(), entry_type, mode, size, mtime).ok_or_else(|| {
        PackError::PathTooLongForUstar {
            path: path.to_string(),
            length: path.as_str().len(),
        }
    })?;
    out.write_all(header.as_bytes()).map_err(PackError::Write)?;
    Ok(BLOCK as u64)
}

fn write_padding(out: &mut impl Write, size: u64) -> Result<u64, PackError> {
    let padding = (BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64;
    out.write_all(&[0u8; BLOCK][..padding as usize])
        .map_err(PackError::Write)?;
    Ok(padding)
}

impl FileMode {
    /// The permission bits written for this mode: 0644 or 0755.
    pub const fn bits(self) -> u32 {
        match self {
            FileMode::Regular => REGULAR_MODE,
            FileMode::Executable => EXECUTABLE_MODE,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn packed(packer: Packer) -> (Vec<u8>, PackSummary) {
        let mut out = Vec::new();
        let summary = packer.pack(&mut out).unwrap();
        (out, summary)
    }

    #[test]
    fn header_has_fixed_metadata_and_valid_checksum() {
        let header =
            ustar_header("bin/app", tar::EntryType::Regular, 0o755, 3, 1_700_000_000).unwrap();
        assert_eq!(header.path_bytes().as_ref(), b"bin/app");
        assert_eq!(header.mode().unwrap(), 0o755);
        assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
        assert_eq!(header.mtime().unwrap(), 1_700_000_000);
        assert_eq!(header.username_bytes(), Some(&b""[..]));
        assert_eq!(&header.as_bytes()[257..265], b"ustar\x0000");
        let sum: u32 = header
            .as_bytes()
            .iter()
            .enumerate()
            .map(|(i, &b)| {
                if (148..156).contains(&i) {
                    32
                } else {
                    u32::from(b)
                }
            })
            .sum();
        assert_eq!(header.cksum().unwrap(), sum);
    }

    #[test]
    fn refuses_missing_manifest_duplicates_and_conflicts() {
        assert!(matches!(
            Packer::new().add_bytes("a", "x").unwrap().pack(Vec::new()),
            Err(PackError::MissingManifest)
        ));
        assert!(matches!(
            Packer::new()
                .add_bytes("a", "x")
                .unwrap()
                .add_bytes("a", "y"),
            Err(PackError::DuplicatePath { .. })
        ));
        let conflict = Packer::new()
            .add_bytes(MANIFEST_PATH, "")
            .unwrap()
            .add_bytes("a", "x")
            .unwrap()
            .add_bytes("a/b", "y")
            .unwrap()
            .pack(Vec::new());
        assert!(matches!(
            conflict,
            Err(PackError::FileDirectoryConflict { .. })
        ));
        assert!(matches!(
            Packer::new().add_bytes("../x", "x"),
            Err(PackError::InvalidPath {
                problem: PathProblem::ParentComponent,
                ..
            })
        ));
    }

    #[test]
    fn refuses_paths_ustar_cannot_hold() {
        let long = "x".repeat(101);
        assert!(matches!(
            Packer::new().add_bytes(&long, "x"),
            Err(PackError::PathTooLongForUstar { length: 101, .. })
        ));
    }

    #[test]
    fn same_inputs_in_any_order_give_same_bytes() {
        let one = Packer::new()
            .add_bytes(MANIFEST_PATH, "name = \"x\"")
            .unwrap()
            .add_bytes("b/c", "c")
            .unwrap()
            .add_bytes("a", "a")
            .unwrap();
        let two = Packer::new()
            .add_bytes("a", "a")
            .unwrap()
            .add_bytes("b/c", "c")
            .unwrap()
            .add_bytes(MANIFEST_PATH, "name = \"x\"")
            .unwrap();
        let (bytes_one, summary_one) = packed(one);
        let (bytes_two, summary_two) = packed(two);
        assert_eq!(bytes_one, bytes_two);
        assert_eq!(summary_one, summary_two);
        assert_eq!(summary_one.digest, Digest::of_bytes(&bytes_one));
        assert_eq!(summary_one.compressed_len, bytes_one.len() as u64);
        assert_eq!((summary_one.files, summary_one.directories), (3, 1));
    }
}
