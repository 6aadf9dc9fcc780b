//! `locara yank`, `locara deprecate` and `locara search`.
//!
//! Yanking and deprecating change a release's status for every client (DESIGN §6) and are log entries; both
//! need membership of the app's publisher and a fresh one-time code. Searching needs nothing.

use std::io::{self, Write};

use locara_core::names::AppName;
use locara_core::version::Version;
use serde::Serialize;

use crate::cli::{DeprecateArgs, SearchArgs, YankArgs};
use crate::commands::Context;
use crate::commands::publisher::describe_publisher;
use crate::error::UsageError;
use crate::lifecycle::{self, MAX_QUERY_CHARS, MAX_SEARCH_LIMIT, SearchResult};
use crate::output::{Render, printable};
use crate::prompt::CodeSource;
use crate::resolve::{AppRequest, Wanted};

/// `publisher/app@VERSION` with an exact version, or a usage error.
fn exact(request: &AppRequest) -> anyhow::Result<Version> {
    match &request.wanted {
        Wanted::Exact(version) => Ok(version.clone()),
        _ => Err(UsageError::new(format!(
            "name one exact release, like {}@1.2.3",
            request.app
        ))
        .into()),
    }
}

/// The result of `yank` and `deprecate`.
#[derive(Debug, Serialize)]
pub struct StatusChanged {
    /// The app.
    pub app: AppName,
    /// The release.
    pub version: Version,
    /// Its status now.
    pub status: String,
    /// The log entry of the release.
    pub log_index: u64,
}

impl Render for StatusChanged {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let what = match self.status.as_str() {
            "yanked" => {
                "yanked: no new install or update chooses it; installed copies and lockfiles that name it keep working"
            }
            "deprecated" => "deprecated: clients show the message on install and in `locara list`",
            other => other,
        };
        writeln!(out, "{} {} is {}", self.app, self.version, printable(what))
    }
}

/// Runs `locara yank`.
pub async fn yank(context: &Context, args: YankArgs) -> anyhow::Result<()> {
    let version = exact(&args.release)?;
    let code = CodeSource::choose(args.otp.otp, &context.output)?;
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let code = code.code(&format!("to yank {} {version}", args.release.app))?;
    let record = lifecycle::yank(
        &connected.client,
        &args.release.app,
        &version,
        args.reason.as_deref(),
        Some(&code),
    )
    .await?;
    context.output.print(&StatusChanged {
        app: args.release.app,
        version: record.version,
        status: record.state,
        log_index: record.log_index,
    })?;
    Ok(())
}

/// Runs `locara deprecate`.
pub async fn deprecate(context: &Context, args: DeprecateArgs) -> anyhow::Result<()> {
    let version = exact(&args.release)?;
    if args.message.trim().is_empty() {
        return Err(UsageError::new("--message must say why (and what to use instead)").into());
    }
    let code = CodeSource::choose(args.otp.otp, &context.output)?;
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let code = code.code(&format!("to deprecate {} {version}", args.release.app))?;
    let record = lifecycle::deprecate(
        &connected.client,
        &args.release.app,
        &version,
        &args.message,
        Some(&code),
    )
    .await?;
    context.output.print(&StatusChanged {
        app: args.release.app,
        version: record.version,
        status: record.state,
        log_index: record.log_index,
    })?;
    Ok(())
}

/// The result of `search`.
#[derive(Debug, Serialize)]
pub struct SearchReport {
    /// What was searched for.
    pub query: String,
    /// The apps found, best first.
    pub results: Vec<SearchResult>,
}

impl Render for SearchReport {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.results.is_empty() {
            return writeln!(out, "No app matches {:?}.", self.query);
        }
        for result in &self.results {
            let latest = result
                .latest_version
                .as_ref()
                .map_or_else(|| "no installable release".to_owned(), ToString::to_string);
            writeln!(out, "{}  {latest}", result.name)?;
            if let Some(description) = &result.description {
                writeln!(out, "    {}", printable(description))?;
            }
            writeln!(
                out,
                "    publisher: {}",
                describe_publisher(&result.publisher, Some(result.verification.as_ref()))
            )?;
        }
        Ok(())
    }
}

/// Runs `locara search`.
pub async fn search(context: &Context, args: SearchArgs) -> anyhow::Result<()> {
    let query = args.query.trim().to_owned();
    if query.is_empty() || query.chars().count() > MAX_QUERY_CHARS {
        return Err(UsageError::new(format!(
            "the search text must be 1 to {MAX_QUERY_CHARS} characters"
        ))
        .into());
    }
    if !(1..=MAX_SEARCH_LIMIT).contains(&args.limit) {
        return Err(UsageError::new(format!("--limit must be 1 to {MAX_SEARCH_LIMIT}")).into());
    }
    let connected = context.connect_anonymously(None).await?;
    let results = lifecycle::search(&connected.client, &query, args.limit).await?;
    context.output.print(&SearchReport { query, results })?;
    Ok(())
}
