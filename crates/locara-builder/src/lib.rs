//! Locara's builder: from a named source commit to a signed, double-built artifact.
//!
//! - [`sandbox`] runs one command offline, confined by Landlock and namespaces, within time, log and
//!   file-size limits, and leaves no process behind.
//! - [`pipeline`] fetches a commit with git, checks its `locara.toml`, builds it twice in the sandbox,
//!   packs the declared outputs into an artifact, compares the two builds and signs SLSA provenance.

pub mod pipeline;
pub mod sandbox;
