//! `locara update [APP…]` and `locara sync`: following releases under the update policy, and revocations.
//!
//! Both fetch each registry's checkpoint, revocation list and the installed apps' indexes. Then:
//! - a newer release is chosen by the same rules as an install (no yanked, no cooling-down before its end,
//!   nothing younger than the minimum release age);
//! - it applies without asking when it asks for nothing new and the update level allows its size (default:
//!   patch releases); a bigger one asks; one that asks for more than was granted asks again, showing the
//!   difference, whatever the level (allow rules of the policy file or `--yes` may answer);
//! - `update` asks on a terminal and leaves an app as it is when the answer is no or nobody can answer;
//!   `sync` never asks: it applies what needs no yes and reports the rest;
//! - `sync` also quarantines every installed release the revocation list (or the index) revokes: its
//!   launcher is removed, `locara run` refuses it, and `locara list` shows why. The record stays.

use std::collections::BTreeMap;
use std::io::{self, Write};

use locara_client::state::{Change, HistoryAction, Install, InstallStatus, NewHistory};
use locara_core::artifact::Limits;
use locara_core::names::AppName;
use locara_core::time::Timestamp;
use locara_core::version::classify;
use serde::Serialize;

use crate::cli::{SyncArgs, UpdateArgs};
use crate::commands::Context;
use crate::commands::install::{
    AppOutcome, Chosen, InstallReport, Unanswered, consent_all, download_all, min_age, offers,
    open_view, to_offers,
};
use crate::consent::Answering;
use crate::fetch::RegistryView;
use crate::local::Local;
use crate::output::{Render, printable};
use crate::progress::Downloads;
use crate::resolve::{Rules, Wanted, resolve};

/// Runs `locara update`.
pub async fn update(context: &Context, args: UpdateArgs) -> anyhow::Result<()> {
    let report = follow(
        context,
        &args.apps,
        args.yes,
        args.min_age.as_deref(),
        if context.output.can_prompt() || args.yes {
            Unanswered::Skip
        } else {
            Unanswered::NeverAsk
        },
    )
    .await?;
    context.output.print(&report.installs)?;
    Ok(())
}

/// Runs `locara sync`.
pub async fn sync(context: &Context, args: SyncArgs) -> anyhow::Result<()> {
    let report = follow(
        context,
        &[],
        false,
        args.min_age.as_deref(),
        Unanswered::NeverAsk,
    )
    .await?;
    context.output.print(&report)?;
    Ok(())
}

/// The result of `sync`.
#[derive(Debug, Serialize)]
pub struct SyncReport {
    /// The registries synced, with the checkpoint size and revocation-list version accepted.
    pub registries: Vec<SyncedRegistry>,
    /// Apps quarantined now.
    pub quarantined: Vec<Quarantined>,
    /// Updates applied and left.
    #[serde(flatten)]
    pub installs: InstallReport,
}

/// One registry's accepted state.
#[derive(Debug, Serialize)]
pub struct SyncedRegistry {
    /// Its name.
    pub name: String,
    /// The checkpoint size accepted.
    pub checkpoint_size: u64,
    /// The revocation list version accepted.
    pub revocations_version: u64,
}

/// An app quarantined by this sync.
#[derive(Debug, Serialize)]
pub struct Quarantined {
    /// The app.
    pub app: AppName,
    /// The version.
    pub version: String,
    /// Why.
    pub reason: String,
}

impl Render for SyncReport {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        for registry in &self.registries {
            writeln!(
                out,
                "Synced {}: log checkpoint {} entries, revocation list version {}",
                registry.name, registry.checkpoint_size, registry.revocations_version
            )?;
        }
        for quarantined in &self.quarantined {
            writeln!(
                out,
                "QUARANTINED {} {}: {} (its launcher was removed; it will not run)",
                quarantined.app,
                quarantined.version,
                printable(&quarantined.reason)
            )?;
        }
        self.installs.human(out)
    }
}

/// Why `install` must not run any more, if the view revokes it.
fn revocation_of(
    view: &RegistryView,
    install: &Install,
    index_status: Option<&str>,
) -> Option<String> {
    view.revoked(&install.app, &install.version)
        .or_else(|| {
            view.checked
                .revocations
                .find_artifact(&install.artifact)
                .map(|revocation| format!("artifact {}", revocation.describe()))
        })
        .or_else(|| {
            (index_status == Some("revoked"))
                .then(|| "revoked by the registry's security team".to_owned())
        })
}

async fn follow(
    context: &Context,
    only: &[AppName],
    yes: bool,
    min_age_flag: Option<&str>,
    unanswered: Unanswered,
) -> anyhow::Result<SyncReport> {
    let local = Local::open(&context.dirs).await?;
    let installs = local.state.installs().await?;
    for app in only {
        if !installs.iter().any(|install| &install.app == app) {
            anyhow::bail!("{app} is not installed; `locara install {app}` installs it");
        }
    }
    let mut by_registry: BTreeMap<String, Vec<Install>> = BTreeMap::new();
    for install in installs {
        if only.is_empty() || only.contains(&install.app) {
            by_registry
                .entry(install.registry.clone())
                .or_default()
                .push(install);
        }
    }
    if by_registry.is_empty() && only.is_empty() {
        // Nothing installed: still fetch and check the default registry's state.
        if let Ok(entry) = context.select_registry(None) {
            by_registry.insert(entry.name.to_string(), Vec::new());
        }
    }
    let limits = Limits::default();
    let downloads = Downloads::new(context.output.is_json(), context.global.quiet);
    let answering = Answering {
        yes,
        can_prompt: context.output.can_prompt() && unanswered != Unanswered::NeverAsk,
        policy: &local.policy,
    };
    let mut report = SyncReport {
        registries: Vec::new(),
        quarantined: Vec::new(),
        installs: InstallReport {
            apps: Vec::new(),
            bin_dir: context.dirs.bin_dir(),
        },
    };
    for (registry, installs) in by_registry {
        let name: crate::names::RegistryName = registry
            .parse()
            .map_err(|error| anyhow::anyhow!("registry {registry:?}: {error}"))?;
        let view = open_view(context, &local, Some(&name)).await?;
        let now = Timestamp::now();
        let mut change = Change::default();
        let mut chosen = Vec::new();
        for install in installs {
            let candidates = offers(&view, &local, &install.app).await?;
            let installed_status = candidates
                .iter()
                .find(|candidate| candidate.version == install.version)
                .map(|candidate| candidate.status.clone());
            if let Some(reason) = revocation_of(&view, &install, installed_status.as_deref())
                && !matches!(install.status, InstallStatus::Quarantined { .. })
            {
                // A newer release may replace it below.
                context.output.warn(format_args!(
                    "{} {} is revoked and was quarantined: {}",
                    install.app,
                    install.version,
                    printable(&reason)
                ));
                report.quarantined.push(Quarantined {
                    app: install.app.clone(),
                    version: install.version.to_string(),
                    reason: reason.clone(),
                });
                change.history.push(NewHistory {
                    at: now,
                    app: install.app.clone(),
                    action: HistoryAction::Quarantine,
                    from_version: Some(install.version.clone()),
                    to_version: None,
                    detail: reason.clone(),
                });
                if let Some(slug) = &install.launcher
                    && let Err(error) = local.launchers.remove(slug, &install.app)
                {
                    context.output.warn(format_args!(
                        "could not remove the launcher of {}: {error}",
                        install.app
                    ));
                }
                let mut quarantined = install.clone();
                quarantined.status = InstallStatus::Quarantined { reason };
                quarantined.launcher = None;
                change.upserts.push(quarantined);
            }
            // Deprecation follows the index.
            let deprecated = candidates
                .iter()
                .find(|candidate| candidate.version == install.version)
                .and_then(crate::local::deprecation);
            if deprecated != install.deprecated
                && !change.upserts.iter().any(|i| i.app == install.app)
            {
                let mut changed = install.clone();
                changed.deprecated = deprecated.clone();
                change.upserts.push(changed);
            }
            if let Some(message) = &deprecated {
                context.output.warn(format_args!(
                    "{} {} is deprecated: {}",
                    install.app,
                    install.version,
                    printable(message)
                ));
            }
            let rules = Rules {
                now: view.now,
                min_age_seconds: min_age(&local, &install.app, min_age_flag)?,
                allow_yanked: false,
            };
            let resolution = resolve(&to_offers(&view, &candidates), &Wanted::Newest, &rules);
            let notes: Vec<String> = resolution
                .passed_over
                .iter()
                .filter(|(version, _)| version.semver() > install.version.semver())
                .map(|(version, reason)| format!("{version} not chosen: {reason}"))
                .collect();
            let newer = resolution
                .chosen
                .map(|position| candidates[position].clone())
                .filter(|candidate| {
                    candidate
                        .version
                        .semver()
                        .cmp_precedence(install.version.semver())
                        .is_gt()
                });
            match newer {
                Some(candidate) => chosen.push(Chosen {
                    candidate,
                    previous: Some(install),
                    passed_over: resolution.passed_over,
                }),
                None => {
                    let quarantined = matches!(install.status, InstallStatus::Quarantined { .. })
                        || report.quarantined.iter().any(|q| q.app == install.app);
                    let outcome = if quarantined {
                        "quarantined"
                    } else {
                        "unchanged"
                    };
                    report
                        .installs
                        .apps
                        .push(AppOutcome::unchanged(&install, outcome, notes));
                }
            }
        }
        let policy = &local.policy;
        let version_needs_yes = |previous: &Install, candidate: &crate::fetch::Candidate| {
            classify(&previous.version, &candidate.version)
                .map(|change| !policy.update_level(&previous.app).allows(change))
                .unwrap_or(true)
        };
        let verified = download_all(&view, chosen, &limits, &local.store, &downloads).await?;
        let (planned, left) = consent_all(verified, &answering, &version_needs_yes, unanswered)?;
        for (chosen, why) in left {
            if let Some(previous) = &chosen.previous {
                let mut outcome = AppOutcome::unchanged(previous, "update-available", vec![why]);
                outcome.version = chosen.candidate.version.clone();
                outcome.previous_version = Some(previous.version.clone());
                report.installs.apps.push(outcome);
            }
        }
        // Updated apps replace their quarantined or deprecated rows from above.
        change
            .upserts
            .retain(|install| !planned.iter().any(|plan| plan.candidate.app == install.app));
        if !change.upserts.is_empty() || !change.history.is_empty() {
            local.save_trust(&view, change).await?;
        }
        let applied = local
            .apply(&view, planned, &limits, &context.output)
            .await?;
        for applied in &applied {
            report
                .installs
                .apps
                .push(AppOutcome::applied(applied, Vec::new()));
        }
        report.registries.push(SyncedRegistry {
            name: registry,
            checkpoint_size: view.checked.checkpoint_size,
            revocations_version: view.checked.revocations.version,
        });
    }
    report.installs.apps.sort_by(|a, b| a.app.cmp(&b.app));
    Ok(report)
}
