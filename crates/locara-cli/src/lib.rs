//! The `locara` client: commands, their output, and the client-side building blocks other commands use.
//!
//! - [`dirs`]: where files live (`LOCARA_HOME` or XDG); [`files`]: atomic, private writes.
//! - [`registry`]: configured registries (`registries.json`), names and URLs; [`trust`]: pinning a
//!   registry's root of trust and following its rotations ([`trust::refresh_root`]).
//! - [`credentials`]: API tokens per registry; [`api`]: the HTTP client with RFC 9457 problem errors.
//! - [`account`], [`publisher`]: the registry's account and publisher API as typed calls;
//!   [`second_factor`], [`secret`]: one-time codes, recovery codes and other secrets.
//! - [`keys`]: local release keys; [`source`]: the app's git work tree, the commit and manifest a release
//!   names; [`release`]: release requests, builds, releases and the app index over the API;
//!   [`app_index`]: the signed app index, verified and compared with the API's answers.
//! - Installing: [`fetch`] (a registry's checked state and one release's evidence, every check of DESIGN
//!   §5), [`resolve`] (which release), [`consent`] (capabilities in plain words, and the answer),
//!   [`local`] (the store, state, launchers and policy of `locara-client`, changed in one safe order),
//!   [`progress`] (download bars).
//! - [`cli`], [`commands`], [`output`], [`prompt`], [`error`]: the command line, one module per command
//!   group, the one renderer (human or `--json`), questions on a terminal, and exit codes.

pub mod account;
pub mod api;
pub mod app_index;
pub mod cli;
pub mod commands;
pub mod consent;
pub mod credentials;
pub mod dirs;
pub mod error;
pub mod fetch;
pub mod files;
pub mod keys;
pub mod lifecycle;
pub mod local;
pub mod names;
pub mod output;
pub mod progress;
pub mod prompt;
pub mod publisher;
pub mod read_limits;
pub mod registry;
pub mod release;
pub mod resolve;
pub mod second_factor;
pub mod secret;
pub mod source;
pub mod trust;

use anyhow::Context as _;

use crate::dirs::{Dirs, DirsError};
use crate::error::UsageError;
use crate::output::Output;

/// Runs a parsed command line to completion.
pub fn run(cli: cli::Cli) -> anyhow::Result<()> {
    let dirs = Dirs::from_environment().map_err(|error| match error {
        DirsError::RelativeHome { .. } => anyhow::Error::new(UsageError::new(error)),
        DirsError::NoHome => anyhow::Error::new(error),
    })?;
    let context = commands::Context {
        dirs,
        output: Output::new(cli.global.json),
        global: cli.global,
    };
    // One thread is plenty for a command-line client; file work is small and done inline.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(commands::dispatch(&context, cli.command))
}
