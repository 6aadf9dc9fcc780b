//! Artifacts: deterministic packing and streaming, refusing unpacking.
//!
//! An artifact is a POSIX ustar archive compressed with zstd, named by the SHA-256 of the compressed
//! bytes (`docs/artifact-format.md` specifies it byte for byte). Invariants:
//!
//! - [`Packer::pack`] is a function of the entries' paths, contents and owner-executable bits and of the
//!   `SOURCE_DATE_EPOCH`, nothing else: entries are sorted by path bytes, parents come before children as
//!   explicit directory entries, owners are 0 with empty names, modes are 0644/0755, and zstd runs
//!   single-threaded at [`ZSTD_LEVEL`].
//! - [`unpack`] writes nothing outside a fresh temporary directory beside the destination and renames
//!   it into place only when the whole artifact checked out; on any refusal nothing is left. It accepts
//!   exactly what [`Packer`] writes, plus the harmless variations other ustar writers make (trailing `/`
//!   on directory names, zero padding to a record size); see ADRs 0020–0023.

mod limits;
mod pack;
mod path;
mod unpack;

pub use limits::Limits;
pub use pack::{PackError, PackSummary, Packer, USTAR_MAX_NUMBER};
pub use path::{ArtifactPath, PathProblem};
pub use unpack::{
    MAX_END_PADDING, Scanned, UnpackError, UnpackSummary, scan_verified, unpack, unpack_verified,
};

/// The manifest's path inside every artifact.
pub const MANIFEST_PATH: &str = "locara.toml";

/// The zstd level every artifact is compressed at (ADR 0020).
pub const ZSTD_LEVEL: i32 = 10;

/// Mode of a non-executable file.
pub const REGULAR_MODE: u32 = 0o644;
/// Mode of an executable file.
pub const EXECUTABLE_MODE: u32 = 0o755;
/// Mode of a directory.
pub const DIRECTORY_MODE: u32 = 0o755;

/// The two file modes an artifact can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileMode {
    /// 0644.
    Regular,
    /// 0755.
    Executable,
}
