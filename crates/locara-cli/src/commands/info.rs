//! `locara info PUBLISHER/APP`: an app, its publisher with how it is verified, its repository and its
//! releases, each fact checked against the app's index signed by the registry's index key.
//!
//! Reading needs no account. The index is fetched before the releases (see [`crate::app_index`]).

use std::io::{self, Write};

use locara_core::names::{AppName, PublisherName};
use locara_core::time::Timestamp;
use serde::Serialize;

use crate::app_index::{self, IndexError};
use crate::cli::InfoArgs;
use crate::commands::Context;
use crate::commands::publisher::describe_publisher;
use crate::output::{Render, printable};
use crate::publisher::{self, Verification};
use crate::release::{self, ReleaseRecord};

/// Runs `locara info`.
pub async fn run(context: &Context, args: InfoArgs) -> anyhow::Result<()> {
    let name = args.name;
    let connected = context.connect_anonymously(None).await?;
    let client = &connected.client;
    let app = publisher::show_app(client, &name).await?;
    let index_bytes = release::app_index_bytes(client, &name)
        .await?
        .ok_or_else(|| IndexError::Missing { app: name.clone() })?;
    let index = app_index::verify_app_index(
        &connected.refresh.root,
        &index_bytes,
        Timestamp::now(),
        &name,
        None,
    )?;
    let publisher = publisher::show_publisher(client, &app.publisher).await?;
    let releases = release::releases(client, &name).await?;
    let unlisted = app_index::check_agreement(&index, &app, &publisher, &releases)?;
    for version in &unlisted {
        context.output.warn(format_args!(
            "{name} {version} is not in the signed index yet (it is re-signed right after a release); its details come from the API alone"
        ));
    }
    let releases = releases
        .into_iter()
        .map(|release| ShownRelease {
            in_index: !unlisted.contains(&release.version),
            release,
        })
        .collect();
    context.output.print(&AppInfo {
        name: app.name,
        publisher: app.publisher,
        publisher_verification: publisher.verification,
        repository: app.repository,
        registered_at: app.registered_at,
        log_index: app.log_index,
        index: IndexSummary {
            role: "index",
            version: index.version,
            expires: index.expires,
        },
        releases,
    })?;
    Ok(())
}

/// The result of `info`.
#[derive(Debug, Serialize)]
pub struct AppInfo {
    /// `publisher/app`.
    pub name: AppName,
    /// The publisher.
    pub publisher: PublisherName,
    /// How the publisher is verified (`null`: not verified).
    pub publisher_verification: Option<Verification>,
    /// The repository the builder fetches.
    pub repository: String,
    /// When the app was registered.
    pub registered_at: Timestamp,
    /// The transparency-log entry that registered it.
    pub log_index: u64,
    /// The signed index the answers were checked against.
    pub index: IndexSummary,
    /// Its releases, oldest first.
    pub releases: Vec<ShownRelease>,
}

/// The signed index, verified.
#[derive(Debug, Serialize)]
pub struct IndexSummary {
    /// The root role whose keys signed it: always `index`.
    pub role: &'static str,
    /// The index's version.
    pub version: u64,
    /// When it stops being valid.
    pub expires: Timestamp,
}

/// A release, and whether the signed index lists it yet.
#[derive(Debug, Serialize)]
pub struct ShownRelease {
    /// The release's record.
    #[serde(flatten)]
    pub release: ReleaseRecord,
    /// Whether the signed index lists it (and agrees about it).
    pub in_index: bool,
}

impl Render for AppInfo {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "App {}", self.name)?;
        writeln!(
            out,
            "  publisher:  {}",
            describe_publisher(&self.publisher, Some(self.publisher_verification.as_ref()))
        )?;
        writeln!(out, "  repository: {}", printable(&self.repository))?;
        writeln!(
            out,
            "  registered: {} (log entry {})",
            self.registered_at, self.log_index
        )?;
        writeln!(
            out,
            "  index:      signed by the index key, version {} (valid until {})",
            self.index.version, self.index.expires
        )?;
        if self.releases.is_empty() {
            return writeln!(out, "No releases yet.");
        }
        writeln!(out, "Releases (oldest first):")?;
        for shown in &self.releases {
            write_release(out, shown)?;
        }
        Ok(())
    }
}

fn write_release(out: &mut dyn Write, shown: &ShownRelease) -> io::Result<()> {
    let release = &shown.release;
    let state = match release.state.as_str() {
        "available" => format!("available since {}", release.available_at),
        "cooling-down" => format!(
            "cooling-down: available from {} (it asks for more than the release before it; not installed by default until then)",
            release.available_at
        ),
        other => printable(other).into_owned(),
    };
    writeln!(out, "  {}  {state}", release.version)?;
    if let Some(message) = &release.message {
        writeln!(out, "    message:      {}", printable(message))?;
    }
    writeln!(out, "    commit:       {}", release.commit)?;
    writeln!(out, "    artifact:     {}", release.artifact)?;
    match release.artifact_size {
        Some(size) => writeln!(
            out,
            "    size:         {size} bytes (signed: a download stops at exactly this size)"
        )?,
        None => writeln!(
            out,
            "    size:         not recorded (released before sizes were signed; a download of it is capped at the unpack limit instead)"
        )?,
    }
    writeln!(
        out,
        "    reproducible: {}",
        if release.reproducible {
            "yes (two builds gave the same bytes)"
        } else {
            "no (not confirmed by a second build)"
        }
    )?;
    if release.capabilities.is_empty() {
        writeln!(
            out,
            "    capabilities: none (only its own install and data directories)"
        )?;
    } else {
        writeln!(out, "    capabilities:")?;
        for capability in &release.capabilities {
            writeln!(out, "      - {}", printable(capability))?;
        }
    }
    if !release.expansion.is_empty() {
        writeln!(out, "    new in this release:")?;
        for capability in &release.expansion {
            writeln!(out, "      - {}", printable(capability))?;
        }
    }
    if !shown.in_index {
        writeln!(out, "    (not in the signed index yet)")?;
    }
    Ok(())
}
