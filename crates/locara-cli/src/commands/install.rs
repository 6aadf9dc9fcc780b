//! `locara install`, `uninstall`, `list`, `lock` and `run`: putting verified apps on this machine.
//!
//! An install resolves each request against the app's signed index ([`crate::resolve`]), downloads and
//! checks every release in parallel (every check of DESIGN §5, [`crate::fetch`]), asks for consent in plain
//! words ([`crate::consent`]), and only then unpacks and records all of them as one change
//! ([`crate::local::Local::apply`]). Any refusal, decline or unanswered question installs nothing.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use futures_util::StreamExt as _;
use locara_client::lockfile::{LOCKFILE_NAME, LockedApp, Lockfile};
use locara_client::state::{Change, HistoryAction, Install, InstallStatus, NewHistory};
use locara_client::store::Store;
use locara_core::artifact::Limits;
use locara_core::manifest::Manifest;
use locara_core::names::AppName;
use locara_core::time::Timestamp;
use locara_core::version::{Version, classify};
use serde::Serialize;

use crate::cli::{InstallArgs, ListArgs, LockArgs, RunArgs, UninstallArgs};
use crate::commands::Context;
use crate::consent::{self, Answer, Answering, Question};
use crate::error::UsageError;
use crate::fetch::{Candidate, RegistryView};
use crate::local::{Applied, Local, Planned};
use crate::output::{Render, printable, write_table};
use crate::progress::{Downloads, updater};
use crate::resolve::{AppRequest, Offer, PassedOver, Rules, Wanted, resolve};

/// How many artifacts are downloaded at once.
pub const PARALLEL_DOWNLOADS: usize = 4;

/// Opens the registry `name` (or the default) with the trust state this client accepted before.
pub async fn open_view(
    context: &Context,
    local: &Local,
    name: Option<&crate::names::RegistryName>,
) -> anyhow::Result<RegistryView> {
    let connected = context.connect_anonymously(name).await?;
    let previous = local.trust_state(connected.entry.name.as_str()).await?;
    RegistryView::open(
        connected.entry,
        connected.client,
        connected.refresh.root,
        previous,
        Timestamp::now(),
    )
    .await
}

/// The releases of `app` as resolution sees them, newest first (its index checked against the highest
/// version this client accepted before).
pub async fn offers(
    view: &RegistryView,
    local: &Local,
    app: &AppName,
) -> anyhow::Result<Vec<Candidate>> {
    let last_seen = local
        .state
        .index_version(view.entry.name.as_str(), app)
        .await?;
    let index = view.index(app, last_seen).await?;
    view.candidates(&index).await
}

/// `candidates` as offers, with the revocation list's verdicts.
pub fn to_offers(view: &RegistryView, candidates: &[Candidate]) -> Vec<Offer> {
    candidates
        .iter()
        .map(|candidate| Offer {
            version: candidate.version.clone(),
            status: candidate.status.clone(),
            published_at: candidate.published_at,
            available_at: candidate.available_at(),
            revoked: view.revoked(&candidate.app, &candidate.version),
        })
        .collect()
}

/// The minimum release age for `app`: `--min-age` if given, else the policy's.
pub fn min_age(local: &Local, app: &AppName, flag: Option<&str>) -> anyhow::Result<u64> {
    match flag {
        Some(text) => Ok(locara_client::policy::parse_duration(text)
            .map_err(|error| UsageError::new(format!("--min-age {text:?}: {error}")))?),
        None => Ok(local.policy.min_release_age(app).seconds()),
    }
}

/// Why a request resolved to nothing, in one sentence.
fn nothing_to_install(
    request: &AppRequest,
    releases: usize,
    passed_over: &[(Version, PassedOver)],
) -> String {
    if releases == 0 {
        return format!(
            "{} has no releases yet (a build may still be running: `locara info {}` shows its releases)",
            request.app, request.app
        );
    }
    if passed_over.is_empty() {
        return format!(
            "{request}: no release matches (`locara info {}` lists its releases)",
            request.app
        );
    }
    let reasons: Vec<String> = passed_over
        .iter()
        .map(|(version, reason)| format!("{version}: {reason}"))
        .collect();
    format!(
        "{request}: no release can be installed now; {}",
        reasons.join("; ")
    )
}

/// A release chosen for one app, before it is downloaded.
#[derive(Debug)]
pub struct Chosen {
    /// The release.
    pub candidate: Candidate,
    /// The install it would replace.
    pub previous: Option<Install>,
    /// Newer releases passed over, with why.
    pub passed_over: Vec<(Version, PassedOver)>,
}

/// Downloads and checks each chosen release (at most [`PARALLEL_DOWNLOADS`] at once); the first
/// refusal fails the whole command after every download ended, naming each refused app.
pub async fn download_all(
    view: &RegistryView,
    chosen: Vec<Chosen>,
    limits: &Limits,
    store: &Store,
    downloads: &Downloads,
) -> anyhow::Result<Vec<(Chosen, crate::fetch::VerifiedRelease)>> {
    let results: Vec<_> = futures_util::stream::iter(chosen.into_iter().map(|chosen| {
        let bar = downloads.bar(&format!(
            "{} {}",
            chosen.candidate.app, chosen.candidate.version
        ));
        async move {
            let mut progress = updater(&bar);
            let result = view
                .fetch_release(&chosen.candidate, limits, store, &mut progress)
                .await;
            bar.finish_and_clear();
            (chosen, result)
        }
    }))
    .buffer_unordered(PARALLEL_DOWNLOADS)
    .collect()
    .await;
    let mut verified = Vec::new();
    let mut errors = Vec::new();
    for (chosen, result) in results {
        match result {
            Ok(release) => verified.push((chosen, release)),
            Err(error) => errors.push(error),
        }
    }
    if let Some(first) = errors.into_iter().next() {
        return Err(first.context("nothing was installed"));
    }
    verified.sort_by(|a, b| a.0.candidate.app.cmp(&b.0.candidate.app));
    Ok(verified)
}

/// The action sentence of a consent question.
fn action(app: &AppName, version: &Version, previous: Option<&Install>) -> String {
    match previous {
        None => format!("Install {app} {version}?"),
        Some(previous) => match classify(&previous.version, version) {
            Ok(change) => format!(
                "Update {app} {} → {version} ({change} release)?",
                previous.version
            ),
            Err(_) => format!("Change {app} {} → {version}?", previous.version),
        },
    }
}

/// The capabilities the user granted with `install`.
pub fn granted_capabilities(
    install: &Install,
) -> anyhow::Result<locara_core::capabilities::Capabilities> {
    let manifest = Manifest::parse(&install.manifest).with_context(|| {
        format!(
            "the recorded manifest of {} does not parse; reinstall it",
            install.app
        )
    })?;
    Ok(manifest.capabilities().clone())
}

/// Who is new about `candidate`'s signer, in plain words, when it is signed by another key than the
/// installed release (`previous`), or the registry recorded a new signer (the event-stream defence,
/// ADR 0094). A first install has no signer to compare with.
fn new_signer(previous: Option<&Install>, candidate: &Candidate) -> Option<String> {
    let previous = previous?;
    let record = &candidate.record;
    match &record.new_signer {
        Some(signer) => Some(signer.describe(&record.key_id)),
        None if previous.key_id.to_string() != record.key_id => {
            let short = record.key_id.get(..16).unwrap_or(&record.key_id);
            Some(format!(
                "signed by key {short}…, not the key that signed the installed {} {}",
                previous.app, previous.version
            ))
        }
        None => None,
    }
}

/// What to do with a question nobody can answer, or a declined one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unanswered {
    /// Fail the whole command (install: all or nothing).
    Fail,
    /// Leave that app as it is and go on (update).
    Skip,
    /// Never ask; leave every app that needs a yes as it is (sync).
    NeverAsk,
}

/// What [`consent_all`] returns: the releases that may be applied, and those left with why.
pub type Consented = (Vec<Planned>, Vec<(Chosen, String)>);

/// Asks (or answers by policy or `--yes`) for each release; `version_needs_yes(previous, candidate)` says
/// whether a version change alone needs a yes. Returns what may be applied and what was left, with why.
pub fn consent_all(
    verified: Vec<(Chosen, crate::fetch::VerifiedRelease)>,
    answering: &Answering,
    version_needs_yes: &dyn Fn(&Install, &Candidate) -> bool,
    unanswered: Unanswered,
) -> anyhow::Result<Consented> {
    let mut planned = Vec::new();
    let mut left = Vec::new();
    for (chosen, release) in verified {
        let manifest = &release.checked.manifest;
        let granted = chosen
            .previous
            .as_ref()
            .map(granted_capabilities)
            .transpose()?;
        let question = Question::new(
            &chosen.candidate.app,
            action(
                &chosen.candidate.app,
                &chosen.candidate.version,
                chosen.previous.as_ref(),
            ),
            manifest,
            granted.as_ref(),
        );
        let question = match new_signer(chosen.previous.as_ref(), &chosen.candidate) {
            Some(signer) => question.with_new_signer(signer),
            None => question,
        };
        let needs = match &chosen.previous {
            // A first install asks unless the app asks for nothing at all.
            None => !question.new_capabilities.is_empty(),
            Some(previous) => {
                !question.new_capabilities.is_empty()
                    || question.new_signer.is_some()
                    || version_needs_yes(previous, &chosen.candidate)
            }
        };
        let answer = if needs && unanswered == Unanswered::NeverAsk {
            Answer::Unanswered(if let Some(signer) = &question.new_signer {
                format!(
                    "{} {} is {signer}; it is not applied unattended: review it with `locara update {}` on a terminal, or pass --yes",
                    chosen.candidate.app, chosen.candidate.version, chosen.candidate.app
                )
            } else if question.new_capabilities.is_empty() {
                format!(
                    "{} {} is available and needs your yes (update level); run `locara update {}` on a terminal, or pass --yes",
                    chosen.candidate.app, chosen.candidate.version, chosen.candidate.app
                )
            } else {
                format!(
                    "{} {} asks for more than you granted ({}); review it with `locara update {}` on a terminal, or pass --yes",
                    chosen.candidate.app,
                    chosen.candidate.version,
                    question.new_capabilities.join("; "),
                    chosen.candidate.app
                )
            })
        } else {
            consent::answer(&question, needs, answering)
        };
        match answer {
            Answer::Granted(grant) => planned.push(Planned {
                // A yes to a version change alone grants nothing new: the earlier grant stands.
                grant: if chosen.previous.is_some() && question.new_capabilities.is_empty() {
                    locara_client::state::GrantSource::NoneNeeded
                } else {
                    grant
                },
                candidate: chosen.candidate,
                verified: release,
                previous: chosen.previous,
            }),
            Answer::Declined if unanswered == Unanswered::Fail => anyhow::bail!(
                "you declined {} {}; nothing was installed",
                chosen.candidate.app,
                chosen.candidate.version
            ),
            Answer::Declined => {
                let why = format!("you declined {}", chosen.candidate.version);
                left.push((chosen, why));
            }
            Answer::Unanswered(message) if unanswered == Unanswered::Fail => {
                return Err(UsageError::new(format!("{message}; nothing was installed")).into());
            }
            Answer::Unanswered(message) => left.push((chosen, message)),
        }
    }
    Ok((planned, left))
}

/// The result of `install` and `update`.
#[derive(Debug, Serialize)]
pub struct InstallReport {
    /// One line per app.
    pub apps: Vec<AppOutcome>,
    /// Where the launchers are (put it on `PATH`).
    pub bin_dir: PathBuf,
}

/// What happened to one app.
#[derive(Debug, Serialize)]
pub struct AppOutcome {
    /// The app.
    pub app: AppName,
    /// `installed`, `updated`, `unchanged` or `skipped`.
    pub outcome: &'static str,
    /// The version now installed (or offered, when skipped).
    pub version: Version,
    /// The version before, if any.
    pub previous_version: Option<Version>,
    /// The artifact digest.
    pub artifact: Option<String>,
    /// The log entry of the release.
    pub log_index: Option<u64>,
    /// How the capabilities were granted.
    pub grant: Option<String>,
    /// The capabilities granted, in plain words.
    pub capabilities: Vec<String>,
    /// The launcher, if any.
    pub launcher: Option<PathBuf>,
    /// Notes: deprecation, passed-over releases, why skipped, why no launcher.
    pub notes: Vec<String>,
}

impl AppOutcome {
    /// The outcome of an applied install.
    pub fn applied(applied: &Applied, notes: Vec<String>) -> Self {
        let install = &applied.install;
        let mut notes = notes;
        if let Some(message) = &install.deprecated {
            notes.push(format!("deprecated: {message}"));
        }
        notes.extend(applied.launcher_note.clone());
        Self {
            app: install.app.clone(),
            outcome: match &applied.previous_version {
                Some(previous) if previous == &install.version => "reinstalled",
                Some(_) => "updated",
                None => "installed",
            },
            version: install.version.clone(),
            previous_version: applied.previous_version.clone(),
            artifact: Some(install.artifact.to_string()),
            log_index: Some(install.log_index),
            grant: Some(install.grant_source.to_string()),
            capabilities: install.granted.clone(),
            launcher: applied.launcher.clone(),
            notes,
        }
    }

    /// An app left as it is.
    pub fn unchanged(install: &Install, outcome: &'static str, notes: Vec<String>) -> Self {
        Self {
            app: install.app.clone(),
            outcome,
            version: install.version.clone(),
            previous_version: None,
            artifact: Some(install.artifact.to_string()),
            log_index: Some(install.log_index),
            grant: Some(install.grant_source.to_string()),
            capabilities: install.granted.clone(),
            launcher: None,
            notes,
        }
    }
}

impl Render for InstallReport {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        for app in &self.apps {
            match app.outcome {
                "installed" => writeln!(out, "Installed {} {}", app.app, app.version)?,
                "updated" => writeln!(
                    out,
                    "Updated {} {} → {}",
                    app.app,
                    app.previous_version
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    app.version
                )?,
                "reinstalled" => writeln!(
                    out,
                    "Reinstalled {} {} from verified bytes",
                    app.app, app.version
                )?,
                "unchanged" => writeln!(out, "{} {} is up to date", app.app, app.version)?,
                "quarantined" => writeln!(
                    out,
                    "{} {} stays quarantined: no release can replace it yet",
                    app.app, app.version
                )?,
                "update-available" => writeln!(
                    out,
                    "{} {} → {} is available, not applied",
                    app.app,
                    app.previous_version
                        .as_ref()
                        .map(ToString::to_string)
                        .unwrap_or_default(),
                    app.version
                )?,
                other => writeln!(out, "{} {}: {other}", app.app, app.version)?,
            }
            if matches!(app.outcome, "installed" | "updated" | "reinstalled") {
                if let Some(grant) = &app.grant {
                    if app.capabilities.is_empty() {
                        writeln!(out, "  capabilities: none beyond its own directories")?;
                    } else {
                        writeln!(out, "  capabilities (granted by {grant}):")?;
                        for line in &app.capabilities {
                            writeln!(out, "    - {}", printable(line))?;
                        }
                    }
                }
                if let Some(launcher) = &app.launcher {
                    writeln!(out, "  launcher: {}", launcher.display())?;
                }
            }
            for note in &app.notes {
                writeln!(out, "  note: {}", printable(note))?;
            }
        }
        if self
            .apps
            .iter()
            .any(|app| app.launcher.is_some() && app.outcome == "installed")
            && !path_contains(&self.bin_dir)
        {
            writeln!(
                out,
                "Add {} to your PATH to start apps by name.",
                self.bin_dir.display()
            )?;
        }
        Ok(())
    }
}

fn path_contains(dir: &Path) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|path| std::env::split_paths(&path).any(|entry| entry == dir))
}

/// The lockfile's path: `--lockfile`, else `locara.lock` in the current directory.
fn lockfile_path(given: Option<&Path>) -> PathBuf {
    given.map_or_else(|| PathBuf::from(LOCKFILE_NAME), Path::to_path_buf)
}

/// Runs `locara install`.
pub async fn install(context: &Context, args: InstallArgs) -> anyhow::Result<()> {
    if args.locked && !args.apps.is_empty() {
        return Err(UsageError::new(
            "--locked installs exactly what the lockfile names; give no app names with it",
        )
        .into());
    }
    if !args.locked && args.apps.is_empty() {
        return Err(UsageError::new(
            "name at least one app (publisher/app[@VERSION]), or pass --locked to install the lockfile",
        )
        .into());
    }
    let local = Local::open(&context.dirs).await?;
    let limits = Limits::default();
    let mut targets: BTreeMap<Option<String>, Vec<(AppRequest, Option<LockedApp>)>> =
        BTreeMap::new();
    if args.locked {
        let path = lockfile_path(args.lockfile.as_deref());
        let lockfile = Lockfile::load(&path)?.with_context(|| {
            format!(
                "no lockfile at {}; `locara lock` writes one from what is installed",
                path.display()
            )
        })?;
        for locked in lockfile.apps {
            let request = AppRequest {
                app: locked.name.clone(),
                wanted: Wanted::Exact(locked.version.clone()),
            };
            targets
                .entry(Some(locked.registry.clone()))
                .or_default()
                .push((request, Some(locked)));
        }
    } else {
        let mut seen = std::collections::BTreeSet::new();
        for request in args.apps {
            if !seen.insert(request.app.clone()) {
                return Err(UsageError::new(format!("{} is named twice", request.app)).into());
            }
            targets.entry(None).or_default().push((request, None));
        }
    }
    let downloads = Downloads::new(context.output.is_json(), context.global.quiet);
    let answering = Answering {
        yes: args.yes,
        can_prompt: context.output.can_prompt(),
        policy: &local.policy,
    };
    let mut report = InstallReport {
        apps: Vec::new(),
        bin_dir: context.dirs.bin_dir(),
    };
    for (registry, requests) in targets {
        let name = registry
            .as_deref()
            .map(str::parse::<crate::names::RegistryName>)
            .transpose()
            .map_err(|error| anyhow::anyhow!("the lockfile names a registry badly: {error}"))?;
        let view = open_view(context, &local, name.as_ref()).await?;
        let mut chosen = Vec::new();
        for (request, locked) in requests {
            if let Some(locked) = &locked {
                check_locked_registry(&view, locked)?;
            }
            let previous = local.state.install(&request.app).await?;
            let candidates = offers(&view, &local, &request.app).await?;
            let rules = Rules {
                now: view.now,
                min_age_seconds: if locked.is_some() {
                    0
                } else {
                    min_age(&local, &request.app, args.min_age.as_deref())?
                },
                allow_yanked: locked.is_some(),
            };
            let resolution = resolve(&to_offers(&view, &candidates), &request.wanted, &rules);
            let Some(position) = resolution.chosen else {
                anyhow::bail!(
                    "{}; nothing was installed",
                    nothing_to_install(&request, candidates.len(), &resolution.passed_over)
                );
            };
            let candidate = candidates[position].clone();
            if let Some(locked) = &locked {
                check_locked_release(&candidate, locked)?;
            }
            if let Some(previous) = &previous
                && previous.version == candidate.version
                && previous.artifact.to_string() == candidate.record.artifact
                && previous.status == InstallStatus::Active
            {
                match local.store.tree_digest(&previous.artifact) {
                    Ok(found) if found == previous.tree_digest => {
                        report.apps.push(AppOutcome::unchanged(
                            previous,
                            "unchanged",
                            vec!["already installed".to_owned()],
                        ));
                        continue;
                    }
                    _ => context.output.warn(format_args!(
                        "{} {} is installed but its store directory changed or is missing; reinstalling it from verified bytes",
                        previous.app, previous.version
                    )),
                }
            }
            chosen.push(Chosen {
                candidate,
                previous,
                passed_over: resolution.passed_over,
            });
        }
        if chosen.is_empty() {
            local.save_trust(&view, Change::default()).await?;
            continue;
        }
        for chosen in &chosen {
            if let Some(message) = crate::local::deprecation(&chosen.candidate) {
                context.output.warn(format_args!(
                    "{} {} is deprecated: {}",
                    chosen.candidate.app,
                    chosen.candidate.version,
                    printable(&message)
                ));
            }
        }
        let verified = download_all(&view, chosen, &limits, &local.store, &downloads).await?;
        let notes: BTreeMap<AppName, Vec<String>> = verified
            .iter()
            .map(|(chosen, _)| {
                (
                    chosen.candidate.app.clone(),
                    chosen
                        .passed_over
                        .iter()
                        .map(|(version, reason)| format!("{version} not chosen: {reason}"))
                        .collect(),
                )
            })
            .collect();
        // An explicit install of another version is the user's choice: it asks only for new capabilities.
        let (planned, _) = consent_all(verified, &answering, &|_, _| false, Unanswered::Fail)?;
        let applied = local
            .apply(&view, planned, &limits, &context.output)
            .await?;
        for applied in &applied {
            let notes = notes.get(&applied.install.app).cloned().unwrap_or_default();
            report.apps.push(AppOutcome::applied(applied, notes));
        }
    }
    context.output.print(&report)?;
    Ok(())
}

fn check_locked_registry(view: &RegistryView, locked: &LockedApp) -> anyhow::Result<()> {
    if view.entry.url.as_str() != locked.registry_url.trim_end_matches('/')
        || view.entry.pinned_root != locked.root
    {
        anyhow::bail!(
            "the lockfile takes {} from registry {} at {} with root {}, but this client's {} is at {} with root {}; add the same registry (`locara registry add`) or regenerate the lockfile",
            locked.name,
            locked.registry,
            locked.registry_url,
            locked.root,
            view.entry.name,
            view.entry.url,
            view.entry.pinned_root
        );
    }
    Ok(())
}

fn check_locked_release(candidate: &Candidate, locked: &LockedApp) -> anyhow::Result<()> {
    let record = &candidate.record;
    if candidate.log_index != locked.log_index
        || record.artifact != locked.artifact.to_string()
        || record.provenance != locked.provenance.to_string()
    {
        anyhow::bail!(
            "{} {} in the registry is log entry {} with artifact {} and provenance {}, but the lockfile names log entry {}, artifact {}, provenance {}; nothing was installed",
            locked.name,
            locked.version,
            candidate.log_index,
            record.artifact,
            record.provenance,
            locked.log_index,
            locked.artifact,
            locked.provenance
        );
    }
    Ok(())
}

/// Runs `locara uninstall`.
pub async fn uninstall(context: &Context, args: UninstallArgs) -> anyhow::Result<()> {
    let local = Local::open(&context.dirs).await?;
    let mut removed = Vec::new();
    for app in &args.apps {
        removed.push(local.installed(app).await?);
    }
    let now = Timestamp::now();
    let change = Change {
        registry: None,
        upserts: Vec::new(),
        removals: removed.iter().map(|install| install.app.clone()).collect(),
        history: removed
            .iter()
            .map(|install| NewHistory {
                at: now,
                app: install.app.clone(),
                action: HistoryAction::Uninstall,
                from_version: Some(install.version.clone()),
                to_version: None,
                detail: format!("artifact {}", install.artifact),
            })
            .collect(),
    };
    local.state.commit(&change).await?;
    for install in &removed {
        if let Some(slug) = &install.launcher
            && let Err(error) = local.launchers.remove(slug, &install.app)
        {
            context.output.warn(format_args!(
                "could not remove the launcher of {}: {error}",
                install.app
            ));
        }
    }
    local.collect_garbage(&context.output).await;
    context.output.print(&Uninstalled {
        apps: removed
            .iter()
            .map(|install| (install.app.clone(), install.version.clone()))
            .collect(),
    })?;
    Ok(())
}

/// The result of `uninstall`.
#[derive(Debug, Serialize)]
pub struct Uninstalled {
    /// The apps removed, with the version each had.
    pub apps: Vec<(AppName, Version)>,
}

impl Render for Uninstalled {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        for (app, version) in &self.apps {
            writeln!(out, "Uninstalled {app} {version}")?;
        }
        Ok(())
    }
}

/// One installed app as `list` shows it.
#[derive(Debug, Serialize)]
pub struct Listed {
    /// The app.
    pub app: AppName,
    /// Its version.
    pub version: Version,
    /// The registry it came from.
    pub registry: String,
    /// `active` or `quarantined`.
    pub status: &'static str,
    /// Why it is quarantined.
    pub status_reason: Option<String>,
    /// The deprecation message, if deprecated.
    pub deprecated: Option<String>,
    /// The capabilities granted, in plain words.
    pub capabilities: Vec<String>,
    /// How they were granted.
    pub grant: String,
    /// When it was installed.
    pub installed_at: Timestamp,
    /// The launcher, if any.
    pub launcher: Option<PathBuf>,
    /// Where its files are.
    pub path: PathBuf,
}

/// The result of `list`.
#[derive(Debug, Serialize)]
pub struct ListReport {
    /// Installed apps, by name.
    pub apps: Vec<Listed>,
}

impl Render for ListReport {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.apps.is_empty() {
            return writeln!(
                out,
                "No apps installed. `locara install publisher/app` installs one."
            );
        }
        let rows: Vec<Vec<String>> = self
            .apps
            .iter()
            .map(|app| {
                vec![
                    app.app.to_string(),
                    app.version.to_string(),
                    app.status.to_owned(),
                    app.capabilities.len().to_string(),
                    app.registry.clone(),
                ]
            })
            .collect();
        write_table(
            out,
            &["APP", "VERSION", "STATUS", "CAPABILITIES", "REGISTRY"],
            &rows,
        )?;
        for app in &self.apps {
            if let Some(reason) = &app.status_reason {
                writeln!(out, "{} is quarantined: {}", app.app, printable(reason))?;
            }
            if let Some(message) = &app.deprecated {
                writeln!(out, "{} is deprecated: {}", app.app, printable(message))?;
            }
        }
        Ok(())
    }
}

/// Runs `locara list`.
pub async fn list(context: &Context, _args: ListArgs) -> anyhow::Result<()> {
    let local = Local::open(&context.dirs).await?;
    let apps = local
        .state
        .installs()
        .await?
        .into_iter()
        .map(|install| {
            let (status, status_reason) = match &install.status {
                InstallStatus::Active => ("active", None),
                InstallStatus::Quarantined { reason } => ("quarantined", Some(reason.clone())),
            };
            Listed {
                path: local.store.path_of(&install.artifact),
                launcher: install
                    .launcher
                    .as_ref()
                    .map(|slug| local.launchers.path_of(slug)),
                app: install.app,
                version: install.version,
                registry: install.registry,
                status,
                status_reason,
                deprecated: install.deprecated,
                capabilities: install.granted,
                grant: install.grant_source.to_string(),
                installed_at: install.installed_at,
            }
        })
        .collect();
    context.output.print(&ListReport { apps })?;
    Ok(())
}

/// The result of `lock`.
#[derive(Debug, Serialize)]
pub struct LockReport {
    /// The file written.
    pub path: PathBuf,
    /// How many apps it names.
    pub apps: usize,
}

impl Render for LockReport {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Wrote {} ({} apps); `locara install --locked` installs exactly these on another machine.",
            self.path.display(),
            self.apps
        )
    }
}

/// Runs `locara lock`: writes the lockfile from the active installs.
pub async fn lock(context: &Context, args: LockArgs) -> anyhow::Result<()> {
    let local = Local::open(&context.dirs).await?;
    let registries = crate::registry::Registries::load(&context.dirs)?;
    let mut lockfile = Lockfile::default();
    for install in local.state.installs().await? {
        if install.status != InstallStatus::Active {
            context.output.warn(format_args!(
                "{} is quarantined and is left out of the lockfile",
                install.app
            ));
            continue;
        }
        let name: crate::names::RegistryName = install
            .registry
            .parse()
            .map_err(|error| anyhow::anyhow!("{}: {error}", install.registry))?;
        let entry = registries.get(&name).with_context(|| {
            format!(
                "{} came from registry {}, which is no longer configured; add it again or uninstall the app",
                install.app, install.registry
            )
        })?;
        lockfile.insert(LockedApp {
            name: install.app.clone(),
            version: install.version.clone(),
            registry: install.registry.clone(),
            registry_url: entry.url.to_string(),
            root: entry.pinned_root,
            artifact: install.artifact,
            provenance: install.provenance,
            log_index: install.log_index,
        });
    }
    let path = lockfile_path(args.lockfile.as_deref());
    lockfile.save(&path)?;
    context.output.print(&LockReport {
        path,
        apps: lockfile.apps.len(),
    })?;
    Ok(())
}

/// Runs `locara run`: the runtime is not part of this version; it says so, naming what would run.
pub async fn run(context: &Context, args: RunArgs) -> anyhow::Result<()> {
    let local = Local::open(&context.dirs).await?;
    let install = local.installed(&args.app).await?;
    if let InstallStatus::Quarantined { reason } = &install.status {
        anyhow::bail!(
            "{} {} is quarantined and does not run: {reason}",
            install.app,
            install.version
        );
    }
    let manifest = Manifest::parse(&install.manifest)?;
    anyhow::bail!(
        "locara run is not available yet: the sandboxed runtime arrives in a later version of Locara. {} {} is installed at {} (entry {}), verified, and will run from there once it exists",
        install.app,
        install.version,
        local.store.path_of(&install.artifact).display(),
        manifest.build().entry()
    )
}
