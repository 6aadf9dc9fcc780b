//! Locara's formats and checks.
//!
//! Everything the registry, the builder and the client must agree on lives here, once: names, the app
//! manifest, capabilities, versions, digests, artifacts, keys, DSSE envelopes, in-toto statements, the
//! root of trust, the revocation list and the transparency-log math. The crate is pure: it does no
//! network, database, process or async work, so a check the client makes is exactly the check the
//! registry made.

pub mod artifact;
pub mod canonical_json;
pub mod capabilities;
pub mod digest;
pub mod dsse;
pub mod events;
pub mod index;
pub mod install_check;
pub mod keys;
pub mod log;
pub mod manifest;
pub mod names;
pub mod revocation;
pub mod root;
pub mod statement;
pub mod time;
pub mod version;
