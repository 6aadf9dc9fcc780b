//! What installs leave on this machine, opened together, and the one path that changes it.
//!
//! [`Local`] holds the state database, the install store, the launchers and the policy file.
//! [`Local::apply`] turns verified releases into installs in an order that survives a kill at any point:
//!
//! 1. unpack each artifact into the content-addressed store (a new directory, renamed into place whole;
//!    an existing one is left as it is and its tree digest recomputed);
//! 2. write each app's launcher (it names the app, not a version, so an update only rewrites it with the
//!    same text, or to point at a moved `locara` binary; the old one keeps working meanwhile);
//! 3. commit the state database in one transaction: the installs, the registry's newly accepted trust
//!    state, the history;
//! 4. only then remove store entries nothing references any more.
//!
//! Killed before 3, the old state is whole (a new store directory or launcher is harmless and `locara
//! verify` reports or repairs it); killed after 3, the new state is whole.

use std::collections::BTreeSet;
use std::path::PathBuf;

use anyhow::Context as _;
use locara_client::launcher::Launchers;
use locara_client::policy::Policy;
use locara_client::state::{
    Change, GrantSource, HistoryAction, Install, InstallStatus, NewHistory, RegistryState, State,
};
use locara_client::store::Store;
use locara_core::artifact::Limits;
use locara_core::digest::Digest;
use locara_core::names::AppName;
use locara_core::time::Timestamp;
use locara_core::version::Version;

use crate::dirs::Dirs;
use crate::fetch::{Candidate, RegistryView, TrustState, VerifiedRelease};
use crate::output::Output;

/// The state database, the store, the launchers and the policy.
#[derive(Debug)]
pub struct Local {
    /// The state database.
    pub state: State,
    /// The install store.
    pub store: Store,
    /// The launchers' directory.
    pub launchers: Launchers,
    /// The policy file (the default when there is none).
    pub policy: Policy,
}

/// A verified release with the user's answer, ready to be installed.
#[derive(Debug)]
pub struct Planned {
    /// The release as resolution saw it.
    pub candidate: Candidate,
    /// The verified bytes and checks.
    pub verified: VerifiedRelease,
    /// The install it replaces, if any.
    pub previous: Option<Install>,
    /// How the capabilities were granted.
    pub grant: GrantSource,
}

/// What applying did for one app.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The install as recorded.
    pub install: Install,
    /// The version it replaced, if any.
    pub previous_version: Option<Version>,
    /// The launcher's path, if the app has one.
    pub launcher: Option<PathBuf>,
    /// Why it has no launcher, if it has none.
    pub launcher_note: Option<String>,
}

impl Local {
    /// Opens everything under `dirs` (creating what is missing).
    pub async fn open(dirs: &Dirs) -> anyhow::Result<Self> {
        let policy = Policy::load(&dirs.policy_file())?;
        let state = State::open(&dirs.state_file()).await?;
        let store = Store::open(&dirs.store_dir())?;
        Ok(Self {
            state,
            store,
            launchers: Launchers::new(&dirs.bin_dir()),
            policy,
        })
    }

    /// What this client accepted from `registry` before.
    pub async fn trust_state(&self, registry: &str) -> anyhow::Result<TrustState> {
        Ok(match self.state.registry_state(registry).await? {
            None => TrustState::default(),
            Some(saved) => TrustState {
                checkpoint: Some(locara_core::install_check::PreviousCheckpoint {
                    size: saved.checkpoint_size,
                    root: saved.checkpoint_root,
                }),
                timestamp_json: Some(saved.timestamp_json),
                revocations_version: Some(saved.revocations_version),
            },
        })
    }

    /// Installs `planned` (all from `view`'s registry) as one change; see the module docs for the order.
    pub async fn apply(
        &self,
        view: &RegistryView,
        planned: Vec<Planned>,
        limits: &Limits,
        output: &Output,
    ) -> anyhow::Result<Vec<Applied>> {
        let now = Timestamp::now();
        let locara = std::env::current_exe()
            .context("cannot find the path of this locara binary, which launchers call")?;
        let mut applied = Vec::new();
        let mut new_launchers = Vec::new();
        let mut history = Vec::new();
        for plan in planned {
            let checked = &plan.verified.checked;
            let app = plan.candidate.app.clone();
            // A store entry is reused only if it is the one this install recorded and still matches
            // its recorded tree digest; anything else there (left by a killed run, or tampered with)
            // is replaced by the verified bytes.
            if self.store.contains(&checked.artifact) {
                let recorded = plan
                    .previous
                    .as_ref()
                    .filter(|previous| previous.artifact == checked.artifact)
                    .map(|previous| previous.tree_digest);
                let current = self.store.tree_digest(&checked.artifact).ok();
                if recorded.is_none() || current != recorded {
                    self.store.remove(&checked.artifact)?;
                }
            }
            let artifact =
                plan.verified.artifact.reader().with_context(|| {
                    format!("cannot read back the downloaded artifact of {app}")
                })?;
            let tree = self
                .store
                .add(&checked.artifact, std::io::BufReader::new(artifact), limits)
                .with_context(|| format!("could not unpack {app} into the install store"))?;
            let slug = app.slug().clone();
            let (launcher, launcher_note) = match self.launchers.owner(&slug)? {
                Some(owner) if owner != app => (
                    None,
                    Some(format!(
                        "no launcher: {} already belongs to {owner}; run it with `locara run {app}`",
                        self.launchers.path_of(&slug).display()
                    )),
                ),
                owner => {
                    let path = self.launchers.write(&slug, &app, &locara)?;
                    if owner.is_none() {
                        new_launchers.push((slug.clone(), app.clone()));
                    }
                    (Some(path), None)
                }
            };
            let record = &checked.release;
            let (grant_source, granted_at) = match (&plan.previous, plan.grant) {
                (Some(previous), GrantSource::NoneNeeded) => {
                    (previous.grant_source, previous.granted_at)
                }
                (_, grant) => (grant, now),
            };
            let install = Install {
                app: app.clone(),
                registry: view.entry.name.to_string(),
                version: plan.candidate.version.clone(),
                artifact: checked.artifact,
                provenance: record.provenance.parse().context("provenance digest")?,
                manifest_digest: record.manifest_digest.parse().context("manifest digest")?,
                manifest: record.manifest.clone(),
                commit: record.commit.parse().context("commit")?,
                log_index: plan.verified.log_index,
                key_id: checked.key_id,
                builder_id: checked.builder_id.clone(),
                tree_digest: tree,
                launcher: launcher.as_ref().map(|_| slug.clone()),
                granted: crate::consent::describe(&checked.manifest),
                grant_source,
                granted_at,
                installed_at: now,
                status: InstallStatus::Active,
                deprecated: deprecation(&plan.candidate),
            };
            history.push(NewHistory {
                at: now,
                app: app.clone(),
                action: if plan.previous.is_some() {
                    HistoryAction::Update
                } else {
                    HistoryAction::Install
                },
                from_version: plan.previous.as_ref().map(|p| p.version.clone()),
                to_version: Some(install.version.clone()),
                detail: format!(
                    "artifact {} from log entry {}; capabilities granted by {}",
                    install.artifact, install.log_index, install.grant_source
                ),
            });
            applied.push(Applied {
                previous_version: plan.previous.as_ref().map(|p| p.version.clone()),
                install,
                launcher,
                launcher_note,
            });
        }
        let change = Change {
            registry: Some(registry_state(view, now)),
            upserts: applied.iter().map(|a| a.install.clone()).collect(),
            removals: Vec::new(),
            history,
        };
        if let Err(error) = self.state.commit(&change).await {
            for (slug, app) in &new_launchers {
                let _ = self.launchers.remove(slug, app);
            }
            return Err(anyhow::Error::new(error)
                .context("could not record the install; nothing was installed"));
        }
        self.remember_indexes(view, output).await;
        self.collect_garbage(output).await;
        Ok(applied)
    }

    /// Saves `view`'s trust state alone (a sync or verify that installed nothing).
    pub async fn save_trust(&self, view: &RegistryView, extra: Change) -> anyhow::Result<()> {
        let change = Change {
            registry: Some(registry_state(view, Timestamp::now())),
            ..extra
        };
        self.state.commit(&change).await?;
        self.remember_indexes(view, &Output::new(false)).await;
        Ok(())
    }

    /// Records the index versions `view` accepted (only ever raised); a failure only warns, since it
    /// weakens nothing already installed.
    async fn remember_indexes(&self, view: &RegistryView, output: &Output) {
        if let Err(error) = self
            .state
            .raise_index_versions(view.entry.name.as_str(), &view.index_versions())
            .await
        {
            output.warn(format_args!(
                "could not record the app index versions seen: {error}"
            ));
        }
    }

    /// Removes store entries no install references; failures only warn (the next run retries).
    pub async fn collect_garbage(&self, output: &Output) {
        let referenced: BTreeSet<Digest> = match self.state.installs().await {
            Ok(installs) => installs.into_iter().map(|i| i.artifact).collect(),
            Err(error) => {
                output.warn(format_args!(
                    "could not read the state to clean the store: {error}"
                ));
                return;
            }
        };
        let stored = match self.store.list() {
            Ok(stored) => stored,
            Err(error) => {
                output.warn(format_args!("could not list the store: {error}"));
                return;
            }
        };
        for digest in stored {
            if !referenced.contains(&digest)
                && let Err(error) = self.store.remove(&digest)
            {
                output.warn(format_args!(
                    "could not remove unused store entry {digest}: {error}"
                ));
            }
        }
    }

    /// The installed app `app`, or an error saying it is not installed.
    pub async fn installed(&self, app: &AppName) -> anyhow::Result<Install> {
        self.state.install(app).await?.with_context(|| {
            format!("{app} is not installed; `locara list` shows what is, `locara install {app}` installs it")
        })
    }
}

/// The deprecation message of `candidate`, if it is deprecated.
pub fn deprecation(candidate: &Candidate) -> Option<String> {
    (candidate.status == "deprecated").then(|| {
        candidate
            .message
            .clone()
            .unwrap_or_else(|| "deprecated by its publisher".to_owned())
    })
}

/// `view`'s accepted state as the state database stores it.
pub fn registry_state(view: &RegistryView, now: Timestamp) -> RegistryState {
    RegistryState {
        registry: view.entry.name.to_string(),
        checkpoint_size: view.checked.checkpoint_size,
        checkpoint_root: view.checked.checkpoint_root,
        timestamp_json: view.timestamp_json.clone(),
        revocations_version: view.checked.revocations.version,
        revocations_json: view.revocations_json.clone(),
        synced_at: now,
    }
}
