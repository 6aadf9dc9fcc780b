//! The one error type of every store, so that `dyn MetadataStore` and `dyn BlobStore` share it.

use std::path::PathBuf;

use locara_core::digest::Digest;

/// Why a store operation failed. Each variant names the operation or object and the values that differed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database could not be opened or migrated.
    #[error("opening the metadata database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// Applying the schema migrations failed.
    #[error("migrating the metadata database {path}: {source}")]
    Migrate {
        /// The database file.
        path: PathBuf,
        /// The migrator's error.
        #[source]
        source: sqlx::migrate::MigrateError,
    },
    /// A database query failed.
    #[error("database error while {operation}: {source}")]
    Database {
        /// What the store was doing, e.g. "appending log entries".
        operation: &'static str,
        /// The driver's error.
        #[source]
        source: sqlx::Error,
    },
    /// A file operation failed.
    #[error("{operation} {path}: {source}")]
    Io {
        /// What the store was doing, e.g. "writing blob".
        operation: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
    /// A background file task panicked or was cancelled.
    #[error("background task for {operation} did not finish: {source}")]
    Task {
        /// What the task was doing.
        operation: &'static str,
        /// The runtime's error.
        #[source]
        source: tokio::task::JoinError,
    },
    /// Blob content did not hash to the digest the caller expected; nothing was stored.
    #[error("blob content hashes to {found}, expected {expected}; nothing was stored")]
    DigestMismatch {
        /// The digest the caller named.
        expected: Digest,
        /// The digest of the bytes received.
        found: Digest,
    },
    /// A byte range asked of a blob is inverted or runs past its end.
    #[error("range {start}..{end} is not inside blob {digest} of {length} bytes")]
    BlobRangeOutOfBounds {
        /// The blob.
        digest: Digest,
        /// First byte asked for.
        start: u64,
        /// One past the last byte asked for.
        end: u64,
        /// The blob's length.
        length: u64,
    },
    /// A named-file path is not a plain relative path.
    #[error("named file path {path:?} refused: {reason}")]
    UnsafePath {
        /// The path given.
        path: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An immutable named file exists with different contents.
    #[error(
        "named file {path} already exists with different contents ({existing} bytes, new {new} bytes); immutable files are never overwritten"
    )]
    ImmutableFileConflict {
        /// The named file.
        path: String,
        /// Length of the stored contents.
        existing: u64,
        /// Length of the refused contents.
        new: u64,
    },
    /// A checkpoint smaller than the latest saved one was offered.
    #[error(
        "checkpoint for tree size {given} refused: the latest saved checkpoint has size {latest}"
    )]
    CheckpointWentBackwards {
        /// The latest saved checkpoint's size.
        latest: u64,
        /// The size offered.
        given: u64,
    },
    /// A tree size larger than the log was asked for (a checkpoint, root or proof).
    #[error("tree size {size} is larger than the log, which holds {log_size} entries")]
    TreeSizeBeyondLog {
        /// The size asked for.
        size: u64,
        /// The log's size.
        log_size: u64,
    },
    /// Entries past the end of the log were asked for.
    #[error("log entries {start}..{end} asked for, but the log holds {log_size} entries")]
    LogRangeOutOfBounds {
        /// First index asked for.
        start: u64,
        /// One past the last index asked for.
        end: u64,
        /// The log's size.
        log_size: u64,
    },
    /// A stored hash was asked for that the store does not hold.
    #[error("stored log hash {index} does not exist")]
    StoredHashMissing {
        /// The stored-hash index.
        index: u64,
    },
    /// A proof was asked for with a leaf index outside the tree.
    #[error("leaf index {index} is out of range for a tree of size {size}")]
    ProofIndexOutOfRange {
        /// The leaf index.
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof was asked for with the old size above the new one.
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    ProofSizesReversed {
        /// The old size.
        old_size: u64,
        /// The new size.
        new_size: u64,
    },
    /// A hash tile was asked for with an entry-bundle path.
    #[error("tile {path} is an entry bundle, not a hash tile")]
    NotAHashTile {
        /// The tile's path.
        path: String,
    },
    /// A number does not fit the database's signed 64-bit integers.
    #[error("{what} {value} does not fit in a signed 64-bit database integer")]
    IntegerTooLarge {
        /// What the number is.
        what: &'static str,
        /// The number.
        value: u64,
    },
    /// A write would break a uniqueness or ownership rule (a taken name, a reused key id, the last owner).
    #[error("{what}")]
    Conflict {
        /// What is taken or refused, in words for the user.
        what: String,
    },
    /// The stored data breaks an invariant of the store: someone edited the database or files by hand.
    #[error("the store is inconsistent: {detail}; restore it from a backup")]
    Corrupt {
        /// What was found.
        detail: String,
    },
}

impl StoreError {
    /// A [`StoreError::Database`] for `operation`.
    pub(crate) fn database(operation: &'static str) -> impl FnOnce(sqlx::Error) -> Self {
        move |source| Self::Database { operation, source }
    }

    /// A [`StoreError::Io`] for `operation` on `path`.
    pub(crate) fn io(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| Self::Io {
            operation,
            path,
            source,
        }
    }

    /// A [`StoreError::Task`] for `operation`.
    pub(crate) fn task(operation: &'static str) -> impl FnOnce(tokio::task::JoinError) -> Self {
        move |source| Self::Task { operation, source }
    }
}
