//! Build workers: take jobs from the database queue under a lease, build them with the builder, and
//! finalise each in one transaction (release, log entry, notifications), then re-sign the log and the
//! app's index.
//!
//! A worker renews its lease while building; a killed worker's lease runs out and another worker takes
//! the job over. A worker that lost its lease cannot finish the job (the store refuses), so a job is never
//! finished twice. Workers run inside `locara-registry serve` (`build_workers`) and as
//! `locara-registry worker` processes.

use std::ffi::OsString;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use locara_builder::pipeline::{BuildOutput, BuildRequest, BuilderConfig};
use locara_builder::sandbox::{Launcher, LiveLog};
use locara_core::capabilities::expansions;
use locara_core::digest::Digest;
use locara_core::dsse::Envelope;
use locara_core::events::{Event, LogEntry, NewMember, NewSigner, ReleaseRecord};
use locara_core::manifest::Manifest;
use locara_core::root::Role;
use locara_core::time::Timestamp;
use locara_store::records::{Build, MemberRole, NewRelease, PublisherId, Release};
use locara_store::{NamedPath, StoredBlob};

use crate::http::AppState;

/// How often an idle worker looks for jobs when nobody wakes it.
pub const POLL: Duration = Duration::from_secs(2);
/// How many times a job is taken before repeated worker deaths fail it.
pub const MAX_ATTEMPTS: u32 = 3;

/// Where a running build's log so far is kept (a derived named file; the finished log is a blob).
pub fn live_log_path(build: i64) -> NamedPath {
    NamedPath::new(&format!("builds/{build}/live.log")).expect("a valid named path")
}

/// Where the builder finds its tools, decided once at start.
#[derive(Debug, Clone)]
pub struct Toolchain {
    /// Paths the build may read and execute.
    pub readable: Vec<PathBuf>,
    /// `PATH` inside the sandbox.
    pub path: String,
}

impl Toolchain {
    /// The system directories ([`locara_builder::pipeline::SYSTEM_READABLE`]), plus the Rust toolchain's
    /// sysroot when `rustc` is installed.
    pub fn detect() -> Self {
        let mut readable: Vec<PathBuf> = locara_builder::pipeline::SYSTEM_READABLE
            .iter()
            .map(PathBuf::from)
            .collect();
        let mut path = "/usr/local/bin:/usr/bin:/bin".to_owned();
        let sysroot = std::process::Command::new("rustc")
            .args(["--print", "sysroot"])
            .output()
            .ok()
            .filter(|output| output.status.success())
            .and_then(|output| String::from_utf8(output.stdout).ok())
            .map(|text| PathBuf::from(text.trim()));
        if let Some(sysroot) = sysroot.filter(|path| path.is_dir()) {
            path = format!("{}:{path}", sysroot.join("bin").display());
            readable.push(sysroot);
        }
        Self { readable, path }
    }
}

/// One worker's identity and settings.
#[derive(Debug, Clone)]
pub struct Worker {
    /// A unique id, recorded as the lease owner.
    pub id: String,
    /// Where checkouts and scratch directories go.
    pub work_dir: PathBuf,
    /// Tools for builds.
    pub toolchain: Toolchain,
    /// The program that enters the sandbox: this binary's hidden `sandbox-exec` subcommand.
    pub launcher: Launcher,
}

impl Worker {
    /// A worker with a fresh id under `data/builds`, entering the sandbox through this executable.
    pub fn new(data: &std::path::Path, toolchain: Toolchain) -> std::io::Result<Self> {
        let mut random = [0u8; 6];
        getrandom::fill(&mut random).map_err(std::io::Error::other)?;
        let id = format!("{}-{}", std::process::id(), hex::encode(random));
        Ok(Self {
            work_dir: data.join("builds").join(&id),
            id,
            toolchain,
            launcher: Launcher {
                program: std::env::current_exe()?,
                leading_args: vec![OsString::from(crate::SANDBOX_SUBCOMMAND)],
            },
        })
    }
}

/// Runs a worker until the process ends: claim, build, finalise, repeat.
pub async fn run(state: Arc<AppState>, worker: Worker) {
    tracing::info!(worker = %worker.id, "build worker started");
    let lease = Duration::from_secs(state.config.build_lease_seconds);
    loop {
        let now = Timestamp::now().unix_seconds();
        let claimed = state
            .metadata
            .claim_build(&worker.id, now, now + lease.as_secs(), MAX_ATTEMPTS)
            .await;
        match claimed {
            Ok(Some(build)) => {
                let id = build.id;
                if let Err(error) = process(&state, &worker, build).await {
                    tracing::error!(build = id, error = %format!("{error:#}"), "a build could not be recorded");
                }
            }
            Ok(None) => {
                tokio::select! {
                    () = state.builds_waiting.notified() => {}
                    () = tokio::time::sleep(POLL) => {}
                }
            }
            Err(error) => {
                tracing::error!(%error, "claiming a build failed; retrying");
                tokio::time::sleep(POLL).await;
            }
        }
    }
}

/// Builds one claimed job and records the outcome.
async fn process(state: &Arc<AppState>, worker: &Worker, build: Build) -> anyhow::Result<()> {
    tracing::info!(build = build.id, app = %build.app, version = %build.version, attempt = build.attempts, "building");
    let lease = Duration::from_secs(state.config.build_lease_seconds);
    let heartbeat = {
        let state = state.clone();
        let worker_id = worker.id.clone();
        let id = build.id;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                let until = Timestamp::now().unix_seconds() + lease.as_secs();
                match state
                    .metadata
                    .renew_build_lease(id, &worker_id, until)
                    .await
                {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::warn!(build = id, "lost the lease on a build");
                        return;
                    }
                    Err(error) => tracing::error!(build = id, %error, "renewing a lease failed"),
                }
            }
        })
    };
    let outcome = build_job(state, worker, &build).await;
    heartbeat.abort();
    let now = Timestamp::now().unix_seconds();
    let result = match outcome {
        Ok(output) => finalise(state, worker, &build, output).await,
        Err((message, log)) => {
            let log_digest = match log {
                Some(log) => Some(store_blob(state, &log).await?.to_string()),
                None => None,
            };
            state
                .metadata
                .fail_build(build.id, &worker.id, &message, log_digest.as_deref(), now)
                .await?;
            tracing::info!(build = build.id, error = %message, "build failed");
            Ok(())
        }
    };
    // Checkouts, scratch and the artifact's working copy are never kept.
    let _ = tokio::fs::remove_dir_all(worker.work_dir.join(build.id.to_string())).await;
    result
}

type JobError = (String, Option<Vec<u8>>);

/// Runs the builder in a blocking thread.
async fn build_job(
    state: &Arc<AppState>,
    worker: &Worker,
    build: &Build,
) -> Result<BuildOutput, JobError> {
    let plain = |message: String| (message, None);
    let live: Arc<std::sync::Mutex<Vec<u8>>> = Arc::default();
    let request = BuildRequest {
        repository: build.repository.clone(),
        commit: build
            .commit
            .parse()
            .map_err(|error| plain(format!("stored commit: {error}")))?,
        app: build
            .app
            .parse()
            .map_err(|error| plain(format!("stored app name: {error}")))?,
        version: build
            .version
            .parse()
            .map_err(|error| plain(format!("stored version: {error}")))?,
    };
    let config = BuilderConfig {
        work_dir: worker.work_dir.join(build.id.to_string()),
        readable: worker.toolchain.readable.clone(),
        path: worker.toolchain.path.clone(),
        wall_clock: Duration::from_secs(state.config.build_timeout_seconds),
        max_log_bytes: state.config.build_log_max_bytes,
        max_file_bytes: state.config.build_max_artifact_bytes,
        max_processes: state.config.build_max_processes,
        max_memory_bytes: state.config.build_max_memory_bytes,
        max_disk_bytes: state.config.build_max_disk_bytes,
        allow_weaker_isolation: state.config.build_allow_weaker_isolation,
        max_artifact_bytes: state.config.build_max_artifact_bytes,
        launcher: worker.launcher.clone(),
        builder_id: crate::provenance_pages::builder_id(&state.public_url),
        builder_version: env!("CARGO_PKG_VERSION").to_owned(),
        live_log: Some(LiveLog(Arc::new({
            let live = live.clone();
            move |bytes: &[u8]| {
                if let Ok(mut buffer) = live.lock() {
                    buffer.extend_from_slice(bytes);
                }
            }
        }))),
    };
    // Publishes the log so far every second, for `locara publish --wait` and `build logs` while building.
    let flusher = {
        let state = state.clone();
        let live = live.clone();
        let path = live_log_path(build.id);
        tokio::spawn(async move {
            let mut written = 0;
            loop {
                tokio::time::sleep(Duration::from_secs(1)).await;
                let snapshot = live.lock().map(|buffer| buffer.clone()).unwrap_or_default();
                if snapshot.len() != written {
                    written = snapshot.len();
                    if let Err(error) = state.blobs.put_mutable(&path, &snapshot).await {
                        tracing::warn!(%error, "writing the live build log failed");
                    }
                }
            }
        })
    };
    if state.trust.role_key(Role::Builder).is_none() {
        return Err(plain(
            "this server holds no builder key (keys/builder.key)".to_owned(),
        ));
    }
    let invocation = format!(
        "{}/builds/{}/{}",
        state.public_url, build.id, build.attempts
    );
    let shared = state.clone();
    let result = tokio::task::spawn_blocking(move || {
        let key = shared
            .trust
            .role_key(Role::Builder)
            .expect("checked above; the trust never changes while serving");
        locara_builder::pipeline::build(&request, &config, key, &invocation)
    })
    .await;
    flusher.abort();
    let result = result.map_err(|error| plain(format!("the build task stopped: {error}")))?;
    result.map_err(|error| {
        // The builder's own log when the error carries one; otherwise everything written so far.
        let log = error.log().map(<[u8]>::to_vec).or_else(|| {
            live.lock()
                .ok()
                .map(|buffer| buffer.clone())
                .filter(|buffer| !buffer.is_empty())
        });
        (error.to_string(), log)
    })
}

async fn store_blob(state: &AppState, bytes: &[u8]) -> anyhow::Result<Digest> {
    Ok(store_sized_blob(state, bytes).await?.digest)
}

/// Stores `bytes`, returning their digest and length.
async fn store_sized_blob(state: &AppState, bytes: &[u8]) -> anyhow::Result<StoredBlob> {
    let mut reader = bytes;
    Ok(state.blobs.put(&mut reader, None).await?)
}

/// Who is new about `build`'s signer, if anyone (ADR 0094, the event-stream defence): its key never signed
/// a release of the app, or the key's registrant or the account that asked for the release was added to
/// the publisher within the cool-down period (after the app's first release). An app's first release has
/// no signer to compare with; the consent of its first install covers it.
async fn new_signer(
    state: &AppState,
    build: &Build,
    publisher: PublisherId,
    releases: &[Release],
    now: Timestamp,
) -> anyhow::Result<Option<NewSigner>> {
    let Some(first_release) = releases.iter().map(|release| release.created_at).min() else {
        return Ok(None);
    };
    let new_key = !releases
        .iter()
        .any(|release| release.key_id == build.key_id);
    let key = state
        .metadata
        .publisher_keys(publisher)
        .await?
        .into_iter()
        .find(|key| key.key_id == build.key_id)
        .ok_or_else(|| {
            anyhow::anyhow!(
                "key {} of build {} is not registered",
                build.key_id,
                build.id
            )
        })?;
    let entry = state
        .metadata
        .log_entries(key.log_index..key.log_index + 1)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("log entry {} is missing", key.log_index))?;
    let Event::KeyRegistered { by, .. } = LogEntry::from_bytes(&entry)?.event else {
        anyhow::bail!(
            "log entry {} is not the registration of key {}",
            key.log_index,
            key.key_id
        );
    };
    let requester = state
        .metadata
        .account_by_id(build.requested_by)
        .await?
        .map(|account| account.username);
    let cooldown = state.config.cooldown_seconds;
    let new_members: Vec<NewMember> = state
        .metadata
        .members(publisher)
        .await?
        .into_iter()
        .filter(|member| member.username == by || Some(&member.username) == requester.as_ref())
        .filter(|member| {
            member.added_at > first_release
                && member.added_at.saturating_add(cooldown) > now.unix_seconds()
        })
        .map(|member| {
            Ok(NewMember {
                username: member.username,
                added_at: Timestamp::from_unix_seconds(member.added_at)?,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    if !new_key && new_members.is_empty() {
        return Ok(None);
    }
    Ok(Some(NewSigner {
        new_key,
        key_registered_by: by,
        key_registered_at: Timestamp::from_unix_seconds(key.created_at)?,
        new_members,
    }))
}

/// The statement's manifest digest (the statement was verified when the build was queued).
fn statement_manifest(statement: &str) -> anyhow::Result<String> {
    let envelope = Envelope::from_json(statement.as_bytes())?;
    let payload: serde_json::Value = serde_json::from_slice(&envelope.payload)?;
    payload
        .get("manifest")
        .and_then(|value| value.as_str())
        .map(str::to_owned)
        .ok_or_else(|| anyhow::anyhow!("the stored statement has no manifest digest"))
}

/// Stores the build's files and records the release, its log entry and notifications in one transaction.
async fn finalise(
    state: &Arc<AppState>,
    worker: &Worker,
    build: &Build,
    output: BuildOutput,
) -> anyhow::Result<()> {
    let now = Timestamp::now();
    let log_digest = store_blob(state, &output.log).await?.to_string();
    let log_ref = log_digest.as_str();
    let fail = |message: String| async move {
        state
            .metadata
            .fail_build(
                build.id,
                &worker.id,
                &message,
                Some(log_ref),
                now.unix_seconds(),
            )
            .await
            .map(|_| ())
    };
    let expected_manifest = statement_manifest(&build.statement)?;
    if output.manifest_digest.to_string() != expected_manifest {
        fail(format!(
            "locara.toml at commit {} hashes to {}, but the release statement names {}; sign a statement for this commit's manifest",
            build.commit, output.manifest_digest, expected_manifest
        ))
        .await?;
        return Ok(());
    }
    if !output.reproducible && state.config.require_reproducible {
        fail(format!(
            "the two builds gave different artifacts ({} and {}) and this registry accepts only reproducible builds",
            output.artifact_digest, output.second_digest
        ))
        .await?;
        return Ok(());
    }
    let mut artifact_file = tokio::fs::File::from_std(output.artifact.open()?);
    let artifact = state
        .blobs
        .put(&mut artifact_file, Some(output.artifact_digest))
        .await?;
    let provenance = store_sized_blob(state, &output.provenance).await?;
    let app = state
        .metadata
        .app_by_name(&build.app)
        .await?
        .ok_or_else(|| anyhow::anyhow!("the app of build {} is gone", build.id))?;
    let publisher = state
        .metadata
        .publisher_by_name(build.app.split('/').next().unwrap_or_default())
        .await?
        .ok_or_else(|| anyhow::anyhow!("the publisher of build {} is gone", build.id))?;
    let releases = state.metadata.releases_of(app.id).await?;
    let new_signer = new_signer(state, build, publisher.id, &releases, now).await?;
    // The capability difference from the latest release clients may install now (a deprecated one
    // included: deprecating a release must not let the next one skip the cool-down).
    let previous = releases
        .into_iter()
        .filter(|release| crate::api::releases::is_installable(release, now.unix_seconds()))
        .filter_map(|release| Manifest::parse(&release.manifest).ok())
        .max_by(|a, b| a.app().version().semver().cmp(b.app().version().semver()));
    let capabilities = output.manifest.capabilities();
    let expansion: Vec<String> = match &previous {
        Some(previous) => expansions(previous.capabilities(), capabilities)
            .iter()
            .map(ToString::to_string)
            .collect(),
        None => Vec::new(),
    };
    let (status, available_at) = if expansion.is_empty() && new_signer.is_none() {
        ("available", now)
    } else {
        let until = now
            .checked_add_seconds(state.config.cooldown_seconds)
            .unwrap_or(now);
        ("cooling-down", until)
    };
    let manifest_text = output.manifest_text.clone();
    let record = ReleaseRecord {
        app: build.app.clone(),
        version: build.version.clone(),
        repository: build.repository.clone(),
        commit: build.commit.clone(),
        manifest: manifest_text.clone(),
        manifest_digest: output.manifest_digest.to_string(),
        artifact: artifact.digest.to_string(),
        artifact_size: Some(artifact.length),
        provenance: provenance.digest.to_string(),
        provenance_size: Some(provenance.length),
        key_id: build.key_id.clone(),
        statement: build.statement.clone(),
        capabilities: capabilities.describe(),
        expansion: expansion.clone(),
        status: status.to_owned(),
        available_at,
        reproducible: output.reproducible,
        new_signer: new_signer.clone(),
    };
    let entry = LogEntry::new(now, Event::ReleasePublished(Box::new(record))).to_bytes()?;
    let body = serde_json::json!({
        "event": "release",
        "app": build.app,
        "version": build.version,
        "status": status,
        "available_at": available_at.to_string(),
        "expansion": expansion,
        "new_signer": new_signer.as_ref().map(|signer| signer.describe(&build.key_id)),
        "build": build.id,
        "artifact": artifact.digest.to_string(),
    })
    .to_string();
    let notifications = state
        .metadata
        .members(publisher.id)
        .await?
        .into_iter()
        .filter(|member| member.role == MemberRole::Owner)
        .map(|member| (member.account_id, body.clone()))
        .collect();
    let release = NewRelease {
        version: build.version.clone(),
        commit: build.commit.clone(),
        repository: build.repository.clone(),
        manifest: manifest_text,
        manifest_digest: output.manifest_digest.to_string(),
        artifact_digest: artifact.digest.to_string(),
        artifact_size: Some(artifact.length),
        provenance_digest: provenance.digest.to_string(),
        provenance_size: Some(provenance.length),
        key_id: build.key_id.clone(),
        statement: build.statement.clone(),
        capabilities: serde_json::to_string(&capabilities.describe())?,
        expansion: serde_json::to_string(&expansion)?,
        state: status.to_owned(),
        available_at: available_at.unix_seconds(),
        reproducible: output.reproducible,
        created_at: now.unix_seconds(),
    };
    let recorded = state
        .metadata
        .finish_build(
            build.id,
            &worker.id,
            release,
            &log_digest,
            entry,
            notifications,
        )
        .await?;
    state.log_grew().await;
    crate::index::refresh_app(state, &app).await;
    state.outbox_waiting.notify_one();
    tracing::info!(build = build.id, app = %build.app, version = %build.version, status, reproducible = output.reproducible, log_index = recorded.log_index, "release recorded");
    Ok(())
}
