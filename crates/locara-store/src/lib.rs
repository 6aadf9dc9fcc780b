//! Locara's storage, behind traits: the [`MetadataStore`] (the transparency log, signed checkpoints and
//! registry settings) and the [`BlobStore`] (content-addressed blobs and derived named files such as tiles).
//!
//! The embedded default needs no set-up: [`SqliteStore`] keeps metadata in one SQLite file and
//! [`FsBlobStore`] keeps blobs in a directory. Every multi-step write is atomic, so a crash at any moment
//! leaves a consistent store. The log's hashing and proofs are the pure functions of `locara_core::log`;
//! this crate only decides where their inputs live.

pub mod blob;
mod error;
pub mod filesystem;
mod log_hashes;
pub mod metadata;
pub mod records;
pub mod sqlite;
mod sqlite_builds;
mod sqlite_records;

pub use blob::{BlobReader, BlobStore, NamedPath, StoredBlob};
pub use error::StoreError;
pub use filesystem::FsBlobStore;
pub use metadata::{AppendedEntries, MetadataStore, StoredCheckpoint};
pub use sqlite::SqliteStore;
