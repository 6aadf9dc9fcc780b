//! `locara verify`: re-checks every installed app against the store and the log.
//!
//! For each install: the store directory's tree digest equals the one recorded when it was unpacked (a
//! flipped byte, an added, removed or re-moded file is caught); the registry's current checkpoint is
//! signed, fresh and consistent with the last one this client saw; the release's log entry is included
//! under it and still names the recorded artifact, provenance and manifest; the revocation list does not
//! revoke it; its launcher, if it has one, is the one Locara wrote. Any finding exits 1.

use std::collections::BTreeMap;
use std::io::{self, Write};

use locara_client::state::{Change, Install, InstallStatus};
use locara_core::events::{Event, LogEntry};
use locara_core::log::{leaf_hash, verify_inclusion};
use locara_core::names::AppName;
use locara_core::version::Version;
use serde::Serialize;

use crate::cli::VerifyInstalledArgs;
use crate::commands::Context;
use crate::commands::install::open_view;
use crate::fetch::RegistryView;
use crate::local::Local;
use crate::output::{Render, printable};

/// One app's verification.
#[derive(Debug, Serialize)]
pub struct Verified {
    /// The app.
    pub app: AppName,
    /// Its version.
    pub version: Version,
    /// What is wrong; empty when everything held.
    pub problems: Vec<String>,
}

/// The result of `verify`.
#[derive(Debug, Serialize)]
pub struct VerifyReport {
    /// Every installed app.
    pub apps: Vec<Verified>,
    /// Whether every app passed.
    pub ok: bool,
}

impl Render for VerifyReport {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.apps.is_empty() {
            return writeln!(out, "No apps installed; nothing to verify.");
        }
        for app in &self.apps {
            if app.problems.is_empty() {
                writeln!(
                    out,
                    "ok      {} {}: store, log entry and revocation list agree",
                    app.app, app.version
                )?;
            } else {
                writeln!(out, "FAILED  {} {}:", app.app, app.version)?;
                for problem in &app.problems {
                    writeln!(out, "          - {}", printable(problem))?;
                }
            }
        }
        Ok(())
    }
}

/// Runs `locara verify`; exits 1 if any app fails.
pub async fn verify(context: &Context, _args: VerifyInstalledArgs) -> anyhow::Result<()> {
    let local = Local::open(&context.dirs).await?;
    let locara = std::env::current_exe().ok();
    let mut by_registry: BTreeMap<String, Vec<Install>> = BTreeMap::new();
    for install in local.state.installs().await? {
        by_registry
            .entry(install.registry.clone())
            .or_default()
            .push(install);
    }
    let mut apps = Vec::new();
    for (registry, installs) in by_registry {
        let name: crate::names::RegistryName = registry
            .parse()
            .map_err(|error| anyhow::anyhow!("registry {registry:?}: {error}"))?;
        let view = open_view(context, &local, Some(&name)).await?;
        for install in installs {
            let mut problems = Vec::new();
            check_store(&local, &install, &mut problems);
            if let Err(error) = check_log(&view, &install).await {
                problems.push(format!("{error:#}"));
            }
            if let InstallStatus::Quarantined { reason } = &install.status {
                problems.push(format!("quarantined: {reason}"));
            } else if let Some(reason) = view.revoked(&install.app, &install.version) {
                problems.push(format!("{reason}; `locara sync` quarantines it"));
            }
            if let (Some(slug), Some(locara)) = (&install.launcher, &locara) {
                match local.launchers.is_current(slug, &install.app, locara) {
                    Ok(true) => {}
                    Ok(false) => problems.push(format!(
                        "launcher {} is missing or not the one Locara wrote; reinstall the app to restore it",
                        local.launchers.path_of(slug).display()
                    )),
                    Err(error) => problems.push(error.to_string()),
                }
            }
            apps.push(Verified {
                app: install.app,
                version: install.version,
                problems,
            });
        }
        local.save_trust(&view, Change::default()).await?;
    }
    let ok = apps.iter().all(|app| app.problems.is_empty());
    context.output.print(&VerifyReport { apps, ok })?;
    if !ok {
        anyhow::bail!("some installed apps failed verification (see above)");
    }
    Ok(())
}

fn check_store(local: &Local, install: &Install, problems: &mut Vec<String>) {
    match local.store.tree_digest(&install.artifact) {
        Ok(found) if found == install.tree_digest => {}
        Ok(found) => problems.push(format!(
            "store directory {} changed since it was installed: tree digest {found}, recorded {}; reinstall the app",
            local.store.path_of(&install.artifact).display(),
            install.tree_digest
        )),
        Err(error) => problems.push(format!("store: {error}")),
    }
}

async fn check_log(view: &RegistryView, install: &Install) -> anyhow::Result<()> {
    let (bytes, proof) = view.logged(install.log_index).await?;
    verify_inclusion(
        &leaf_hash(&bytes),
        install.log_index,
        view.checked.checkpoint_size,
        &proof,
        &view.checked.checkpoint_root,
    )
    .map_err(|error| {
        anyhow::anyhow!(
            "log entry {} is not included under the checkpoint of size {}: {error}",
            install.log_index,
            view.checked.checkpoint_size
        )
    })?;
    let entry = LogEntry::from_bytes(&bytes)?;
    let Event::ReleasePublished(record) = entry.event else {
        anyhow::bail!("log entry {} is not a release entry", install.log_index);
    };
    let recorded = (
        install.app.to_string(),
        install.version.to_string(),
        install.artifact.to_string(),
        install.provenance.to_string(),
        install.manifest_digest.to_string(),
    );
    let logged = (
        record.app.clone(),
        record.version.clone(),
        record.artifact.clone(),
        record.provenance.clone(),
        record.manifest_digest.clone(),
    );
    if recorded != logged {
        anyhow::bail!(
            "log entry {} records {} {} artifact {} provenance {} manifest {}, but this install recorded {} {} artifact {} provenance {} manifest {}",
            install.log_index,
            logged.0,
            logged.1,
            logged.2,
            logged.3,
            logged.4,
            recorded.0,
            recorded.1,
            recorded.2,
            recorded.3,
            recorded.4
        );
    }
    Ok(())
}
