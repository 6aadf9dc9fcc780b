//! The Locara registry server.
//!
//! It starts with no set-up: SQLite and files under a data directory, a development key set and
//! `root.json` made on first start. This crate holds the server's configuration, its root of trust on
//! disk, and its HTTP routes; the formats and checks come from `locara-core`.

pub mod api;
pub mod auth;
pub mod blobs;
pub mod config;
pub mod demo;
pub mod dns;
pub mod freshness;
pub mod http;
pub mod index;
pub mod log;
pub mod log_http;
pub mod middleware;
pub mod offline;
pub mod oidc;
pub mod outbox;
pub mod provenance_pages;
pub mod revoke;
pub mod signing;
pub mod trust;
pub mod worker;

/// The hidden subcommand of `locara-registry` that enters the build sandbox and runs a build command.
pub const SANDBOX_SUBCOMMAND: &str = "sandbox-exec";
