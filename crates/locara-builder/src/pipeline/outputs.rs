//! Packing the declared outputs, and only them, into an artifact.
//!
//! Invariants: every packed file lies inside the checkout and is reached without following a symbolic
//! link (a link anywhere, as the output, inside an output directory or as a directory on the way to it,
//! is refused); only regular files and directories are packed; the manifest goes in as `locara.toml`
//! from the bytes read before the build, so the build cannot change it.

use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use locara_core::artifact::{MANIFEST_PATH, PackError, PackSummary, Packer};
use locara_core::manifest::RelativePath;

use super::BuildError;

/// Adds each declared output (artifact path → path in the checkout) and the manifest, then packs into
/// `writer`, failing with [`BuildError::ArtifactTooLarge`] past `max_artifact_bytes`.
pub(crate) fn pack_outputs(
    checkout: &Path,
    outputs: &BTreeMap<RelativePath, RelativePath>,
    entry: &RelativePath,
    manifest: &[u8],
    source_date_epoch: u64,
    max_artifact_bytes: u64,
    writer: impl Write,
) -> Result<PackSummary, BuildError> {
    let mut packer = Packer::new().source_date_epoch(source_date_epoch);
    for (artifact_path, build_path) in outputs {
        let source = resolve_output(checkout, artifact_path, build_path)?;
        let metadata = fs::symlink_metadata(&source)
            .map_err(|error| BuildError::io("inspect", &source, error))?;
        if artifact_path == entry
            && !(metadata.is_file() && metadata.permissions().mode() & 0o100 != 0)
        {
            return Err(BuildError::EntryNotExecutable {
                entry: artifact_path.to_string(),
                path: build_path.to_string(),
            });
        }
        packer = if metadata.is_dir() {
            add_tree(packer, artifact_path.as_str(), &source, build_path)?
        } else if metadata.is_file() {
            packer.add_file(artifact_path.as_str(), &source)?
        } else {
            return Err(BuildError::OutputNotRegular {
                artifact_path: artifact_path.to_string(),
                path: build_path.to_string(),
            });
        };
    }
    packer = packer.add_bytes(MANIFEST_PATH, manifest.to_vec())?;

    let mut limited = LimitedWriter {
        inner: writer,
        written: 0,
        limit: max_artifact_bytes,
    };
    match packer.pack(&mut limited) {
        Ok(summary) => Ok(summary),
        Err(PackError::Write(error))
            if limited.written > max_artifact_bytes || is_limit(&error) =>
        {
            Err(BuildError::ArtifactTooLarge {
                limit: max_artifact_bytes,
            })
        }
        Err(error) => Err(error.into()),
    }
}

/// Walks `build_path` from the checkout one component at a time, refusing symbolic links on the way.
fn resolve_output(
    checkout: &Path,
    artifact_path: &RelativePath,
    build_path: &RelativePath,
) -> Result<PathBuf, BuildError> {
    let mut path = checkout.to_owned();
    let components: Vec<&str> = build_path.components().collect();
    for (index, component) in components.iter().enumerate() {
        path.push(component);
        let shown = components[..=index].join("/");
        let metadata = match fs::symlink_metadata(&path) {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => {
                return Err(BuildError::OutputMissing {
                    artifact_path: artifact_path.to_string(),
                    path: build_path.to_string(),
                });
            }
            Err(error) => return Err(BuildError::io("inspect", &path, error)),
        };
        if metadata.file_type().is_symlink() {
            return Err(BuildError::OutputIsSymlink {
                artifact_path: artifact_path.to_string(),
                path: shown,
                target: fs::read_link(&path)
                    .map(|target| target.display().to_string())
                    .unwrap_or_default(),
            });
        }
        if index + 1 < components.len() && !metadata.is_dir() {
            return Err(BuildError::OutputMissing {
                artifact_path: artifact_path.to_string(),
                path: build_path.to_string(),
            });
        }
    }
    Ok(path)
}

/// Adds the directory `source` at `prefix`, everything below it, refusing links and special files.
fn add_tree(
    mut packer: Packer,
    prefix: &str,
    source: &Path,
    build_path: &RelativePath,
) -> Result<Packer, BuildError> {
    packer = packer.add_directory(prefix)?;
    let mut pending = vec![(source.to_owned(), prefix.to_owned())];
    while let Some((directory, artifact_directory)) = pending.pop() {
        let entries =
            fs::read_dir(&directory).map_err(|error| BuildError::io("list", &directory, error))?;
        for entry in entries {
            let entry = entry.map_err(|error| BuildError::io("list", &directory, error))?;
            let path = entry.path();
            let name = entry.file_name();
            let inside = path
                .strip_prefix(source)
                .map(|relative| format!("{build_path}/{}", relative.display()))
                .unwrap_or_else(|_| path.display().to_string());
            let Some(name) = name.to_str() else {
                return Err(BuildError::OutputNotRegular {
                    artifact_path: artifact_directory,
                    path: format!("{inside} (name is not UTF-8)"),
                });
            };
            let artifact_path = format!("{artifact_directory}/{name}");
            let file_type = entry
                .file_type()
                .map_err(|error| BuildError::io("inspect", &path, error))?;
            if file_type.is_symlink() {
                return Err(BuildError::OutputIsSymlink {
                    artifact_path,
                    target: fs::read_link(&path)
                        .map(|target| target.display().to_string())
                        .unwrap_or_default(),
                    path: inside,
                });
            } else if file_type.is_dir() {
                packer = packer.add_directory(&artifact_path)?;
                pending.push((path, artifact_path));
            } else if file_type.is_file() {
                packer = packer.add_file(&artifact_path, &path)?;
            } else {
                return Err(BuildError::OutputNotRegular {
                    artifact_path,
                    path: inside,
                });
            }
        }
    }
    Ok(packer)
}

/// Counts bytes and refuses to write past a limit.
struct LimitedWriter<W> {
    inner: W,
    written: u64,
    limit: u64,
}

const LIMIT_MESSAGE: &str = "artifact size limit reached";

fn is_limit(error: &io::Error) -> bool {
    error.kind() == io::ErrorKind::FileTooLarge && error.to_string() == LIMIT_MESSAGE
}

impl<W: Write> Write for LimitedWriter<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        if self.written.saturating_add(bytes.len() as u64) > self.limit {
            self.written = self.written.saturating_add(bytes.len() as u64);
            return Err(io::Error::new(io::ErrorKind::FileTooLarge, LIMIT_MESSAGE));
        }
        let written = self.inner.write(bytes)?;
        self.written += written as u64;
        Ok(written)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
