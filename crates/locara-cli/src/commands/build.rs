//! `locara build status|logs`, and waiting for a build (`locara publish --wait`).
//!
//! Builds are visible to the members of the app's publisher only, so both commands need a login. A log
//! is kept when a build finishes, and while it builds the registry serves the log so far.

use std::io::{self, Write};
use std::time::Duration;

use serde::Serialize;

use crate::api::{ApiClient, ApiError};
use crate::cli::BuildCommand;
use crate::commands::Context;
use crate::output::{Render, printable, printable_lines};
use crate::release::{self, BuildRecord, BuildState};

/// How often a waiting command asks for a build's state.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);
/// How many failed attempts in a row to reach the registry a wait tolerates before it gives up.
pub const MAX_UNREACHABLE_POLLS: u32 = 10;

/// Runs a `locara build` command.
pub async fn run(context: &Context, command: BuildCommand) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let client = &connected.client;
    match command {
        BuildCommand::Status { id } => {
            let build = release::build(client, id).await?;
            context.output.print(&ShownBuild(build))?;
        }
        BuildCommand::Logs { id } => {
            let build = release::build(client, id).await?;
            if !build.has_log {
                anyhow::bail!("{}", missing_log(&build));
            }
            let log = printable_lines(&release::build_log(client, id).await?);
            context.output.print(&BuildLog {
                id,
                state: build.state,
                log,
            })?;
        }
    }
    Ok(())
}

/// Why a build has no log, and what to do.
fn missing_log(build: &BuildRecord) -> String {
    let id = build.id;
    if build.state.is_final() {
        format!(
            "build {id} {} without keeping a log{}",
            build.state,
            build
                .error
                .as_deref()
                .map(|error| format!(" ({})", printable(error)))
                .unwrap_or_default()
        )
    } else {
        format!(
            "build {id} has no log yet: it is {}; run `locara build logs {id}` again once it is building (the log so far) or finished",
            build.state
        )
    }
}

/// A build, as `build status` prints it.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct ShownBuild(pub BuildRecord);

impl Render for ShownBuild {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let build = &self.0;
        writeln!(
            out,
            "Build {} of {} {}: {}",
            build.id, build.app, build.version, build.state
        )?;
        write_build_details(out, build)
    }
}

/// The lines under a build's first line: repository, commit, times, error, log.
pub fn write_build_details(out: &mut dyn Write, build: &BuildRecord) -> io::Result<()> {
    let or_dash = |time: Option<locara_core::time::Timestamp>| {
        time.map_or_else(|| "-".to_owned(), |time| time.to_string())
    };
    writeln!(out, "  repository: {}", printable(&build.repository))?;
    writeln!(out, "  commit:     {}", build.commit)?;
    writeln!(out, "  requested:  {}", build.created_at)?;
    writeln!(out, "  started:    {}", or_dash(build.started_at))?;
    writeln!(out, "  finished:   {}", or_dash(build.finished_at))?;
    writeln!(out, "  attempts:   {}", build.attempts)?;
    if let Some(error) = &build.error {
        writeln!(out, "  error:      {}", printable(error))?;
    }
    if build.has_log {
        writeln!(out, "  log:        `locara build logs {}`", build.id)
    } else {
        writeln!(out, "  log:        none yet (kept when the build finishes)")
    }
}

/// A build's log, as `build logs` prints it.
#[derive(Debug, Serialize)]
pub struct BuildLog {
    /// The build id.
    pub id: u64,
    /// Its state.
    pub state: BuildState,
    /// The log, control characters other than line breaks and tabs replaced.
    pub log: String,
}

impl Render for BuildLog {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        out.write_all(self.log.as_bytes())?;
        if !self.log.is_empty() && !self.log.ends_with('\n') {
            writeln!(out)?;
        }
        Ok(())
    }
}

/// Asks for build `build`'s state every [`POLL_INTERVAL`] until it is final, printing each change as
/// progress; returns the final record. A registry that cannot be reached is asked again, up to
/// [`MAX_UNREACHABLE_POLLS`] times in a row; any answer that is an error ends the wait.
pub async fn wait_for_build(
    context: &Context,
    client: &ApiClient,
    mut build: BuildRecord,
) -> anyhow::Result<(BuildRecord, usize)> {
    let id = build.id;
    let mut unreachable = 0;
    // Bytes of the log already shown while the build ran.
    let mut shown = 0;
    while !build.state.is_final() {
        tokio::time::sleep(POLL_INTERVAL).await;
        match release::build(client, id).await {
            Ok(now) => {
                unreachable = 0;
                if now.state != build.state {
                    context
                        .output
                        .progress(format_args!("build {id}: {}", now.state));
                }
                build = now;
                // While it builds, the registry serves the log so far: show what is new.
                if build.state == BuildState::Building
                    && let Ok(bytes) = release::build_log(client, id).await
                    && bytes.len() > shown
                {
                    let new = printable_lines(&bytes[shown..]);
                    context.output.progress(format_args!("{}", new.trim_end()));
                    shown = bytes.len();
                }
            }
            Err(error @ ApiError::Transport { .. }) if unreachable < MAX_UNREACHABLE_POLLS => {
                unreachable += 1;
                context.output.warn(format_args!("{error}; asking again"));
            }
            Err(error) => {
                return Err(anyhow::Error::new(error).context(format!(
                    "stopped waiting for build {id} (it goes on; `locara build status {id}` shows it)"
                )));
            }
        }
    }
    Ok((build, shown))
}
