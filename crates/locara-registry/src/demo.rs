//! `locara-registry serve --demo`: a newcomer's registry with something in it. Seeds a `demo` publisher
//! (verification method `demo`: seeded locally, not a proven identity), a release key, and one app per
//! directory of the examples, each in a local git repository, and queues a release of each through the
//! real builder. Every step goes through the store with its log entry, exactly as the API would write it.
//!
//! Every start re-seeds: an example whose files differ from its repository's HEAD is copied over (files
//! added, changed and removed; `.git` and `target/` left alone) and committed, and its manifest's version
//! is queued if it is new and higher than every released one. So bumping an example's version and
//! restarting releases it; a start with nothing changed adds nothing.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use locara_core::digest::Digest;
use locara_core::events::Event;
use locara_core::keys::SigningKey;
use locara_core::manifest::Manifest;
use locara_core::names;
use locara_core::statement::release::ReleaseStatement;
use locara_core::time::Timestamp;
use locara_core::version::Version;
use locara_store::records::{NewAccount, NewApp, NewBuild};

use crate::api::entry;
use crate::http::AppState;

/// The demo publisher's name.
pub const PUBLISHER: &str = "demo";
/// What the demo publisher's public record says of its verification.
pub const SUBJECT: &str =
    "seeded by locara-registry serve --demo on this machine; not a verified identity";

fn git(directory: &Path, args: &[&str]) -> anyhow::Result<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(directory)
        .args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("GIT_AUTHOR_NAME", "Locara demo")
        .env("GIT_AUTHOR_EMAIL", "demo@localhost")
        .env("GIT_COMMITTER_NAME", "Locara demo")
        .env("GIT_COMMITTER_EMAIL", "demo@localhost")
        .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", directory)
        .output()
        .context("cannot run git (the demo keeps its example apps in local git repositories)")?;
    if !output.status.success() {
        bail!(
            "git {} in {} failed: {}",
            args.join(" "),
            directory.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}

/// Whether `a` and `b` are files with the same bytes and permissions.
fn same_file(a: &Path, b: &Path) -> anyhow::Result<bool> {
    let (Ok(a_meta), Ok(b_meta)) = (std::fs::metadata(a), std::fs::metadata(b)) else {
        return Ok(false);
    };
    if !b_meta.is_file()
        || a_meta.len() != b_meta.len()
        || a_meta.permissions().mode() != b_meta.permissions().mode()
    {
        return Ok(false);
    }
    Ok(std::fs::read(a)? == std::fs::read(b)?)
}

/// Makes `to` hold exactly the files of `from` — adding, replacing and deleting — except `.git`
/// (the repository itself) and `target` directories (local build output). Unchanged files are not
/// rewritten.
fn mirror_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    let skipped = |name: &std::ffi::OsStr| name == ".git" || name == "target";
    if !to.is_dir() {
        if to.symlink_metadata().is_ok() {
            std::fs::remove_file(to)?;
        }
        std::fs::create_dir_all(to)?;
    }
    let mut wanted = BTreeSet::new();
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        let kind = entry.file_type()?;
        let target = to.join(&name);
        if kind.is_dir() {
            if skipped(&name) {
                continue;
            }
            mirror_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            if !same_file(&entry.path(), &target)? {
                if target.is_dir() {
                    std::fs::remove_dir_all(&target)?;
                }
                std::fs::copy(entry.path(), &target)?;
            }
        } else {
            continue;
        }
        wanted.insert(name);
    }
    for entry in std::fs::read_dir(to)? {
        let entry = entry?;
        let name = entry.file_name();
        if wanted.contains(&name) || name == ".git" {
            continue;
        }
        if entry.file_type()?.is_dir() {
            std::fs::remove_dir_all(entry.path())?;
        } else {
            std::fs::remove_file(entry.path())?;
        }
    }
    Ok(())
}

/// Brings the demo repository at `repository` in step with the example at `example`: on the first start
/// it is created; afterwards, when the example's files differ from HEAD, they are copied over and
/// committed. Returns the commit to build.
fn sync_repository(example: &Path, repository: &Path) -> anyhow::Result<String> {
    if !repository.join(".git").exists() {
        std::fs::create_dir_all(repository)?;
        git(repository, &["init", "-q", "-b", "main"])?;
    }
    mirror_tree(example, repository)?;
    git(repository, &["add", "-A"])?;
    // Also true before the first commit, when everything is new.
    if !git(repository, &["status", "--porcelain"])?.is_empty() {
        git(
            repository,
            &["commit", "-q", "-m", "demo: the example as of this start"],
        )?;
        tracing::info!(example = %example.display(), repository = %repository.display(), "demo example changed; committed");
    }
    git(repository, &["rev-parse", "HEAD"])
}

/// Seeds the demo publisher and queues a release of each app in `examples`.
pub async fn seed(state: &AppState, data: &Path, examples: &Path) -> anyhow::Result<Vec<String>> {
    let examples = examples.canonicalize().with_context(|| {
        format!(
            "the demo's example apps are not at {} (pass --demo-apps DIR)",
            examples.display()
        )
    })?;
    // The repositories' file:// URLs must be absolute: the default data directory is relative.
    let data = &data
        .canonicalize()
        .with_context(|| format!("the data directory {} is not readable", data.display()))?;
    let now = Timestamp::now().unix_seconds();
    let publisher = match state.metadata.publisher_by_name(PUBLISHER).await? {
        Some(publisher) => publisher,
        None => {
            let mut random = [0u8; 32];
            getrandom::fill(&mut random).map_err(|error| anyhow::anyhow!("{error}"))?;
            let password_hash = crate::auth::hash_password(&hex::encode(random))?;
            let created = entry(
                now,
                Event::PublisherCreated {
                    publisher: PUBLISHER.to_owned(),
                    kind: "user".to_owned(),
                    by: PUBLISHER.to_owned(),
                },
            )
            .map_err(|problem| anyhow::anyhow!(problem.detail))?;
            state
                .metadata
                .create_account(
                    NewAccount {
                        username: PUBLISHER.to_owned(),
                        password_hash,
                        created_at: now,
                    },
                    &names::canonical(PUBLISHER),
                    created,
                )
                .await?;
            let publisher = state
                .metadata
                .publisher_by_name(PUBLISHER)
                .await?
                .context("the demo publisher vanished")?;
            let verified = entry(
                now,
                Event::PublisherVerified {
                    publisher: PUBLISHER.to_owned(),
                    method: "demo".to_owned(),
                    subject: SUBJECT.to_owned(),
                    by: PUBLISHER.to_owned(),
                },
            )
            .map_err(|problem| anyhow::anyhow!(problem.detail))?;
            state
                .metadata
                .mark_verified(publisher.id, "demo", SUBJECT, now, verified)
                .await?;
            publisher
        }
    };
    let account = state
        .metadata
        .account_by_username(PUBLISHER)
        .await?
        .context("the demo account vanished")?;
    let key_file = data.join("keys").join("demo-publisher.key");
    let key = if key_file.exists() {
        SigningKey::load(&key_file)?
    } else {
        let key = SigningKey::generate()?;
        key.save(&key_file)?;
        let registered = entry(
            now,
            Event::KeyRegistered {
                publisher: PUBLISHER.to_owned(),
                key_id: key.key_id().to_string(),
                public_key: key.public_key().to_string(),
                by: PUBLISHER.to_owned(),
            },
        )
        .map_err(|problem| anyhow::anyhow!(problem.detail))?;
        state
            .metadata
            .register_key(
                publisher.id,
                &key.key_id().to_string(),
                &key.public_key().to_string(),
                now,
                registered,
            )
            .await?;
        key
    };
    let mut queued = Vec::new();
    let mut directories: Vec<PathBuf> = std::fs::read_dir(&examples)?
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.join("locara.toml").is_file())
        .collect();
    directories.sort();
    for directory in directories {
        let text = std::fs::read_to_string(directory.join("locara.toml"))?;
        let manifest = Manifest::parse(&text)
            .map_err(|error| anyhow::anyhow!("{}: {error}", directory.display()))?;
        let name = manifest.app().name().to_string();
        if manifest.app().name().publisher().as_str() != PUBLISHER {
            tracing::warn!(app = %name, "skipping an example that is not a demo/ app");
            continue;
        }
        let repository_dir = data
            .join("demo-repositories")
            .join(manifest.app().name().slug().as_str());
        let commit = sync_repository(&directory, &repository_dir)?;
        let repository = format!("file://{}", repository_dir.display());
        let app = match state.metadata.app_by_name(&name).await? {
            Some(app) => app,
            None => {
                let registered = entry(
                    now,
                    Event::AppRegistered {
                        app: name.clone(),
                        repository: repository.clone(),
                        by: PUBLISHER.to_owned(),
                    },
                )
                .map_err(|problem| anyhow::anyhow!(problem.detail))?;
                let app = state
                    .metadata
                    .register_app(
                        NewApp {
                            publisher_id: publisher.id,
                            name: name.clone(),
                            canonical: names::canonical(&name),
                            repository: repository.clone(),
                            created_at: now,
                        },
                        registered,
                    )
                    .await?;
                crate::index::refresh_app(state, &app).await;
                app
            }
        };
        let version = manifest.app().version().to_string();
        let released = state.metadata.releases_of(app.id).await?;
        if released.iter().any(|release| release.version == version) {
            continue;
        }
        // As publishing does: versions only go up, so an older version in the example is not released.
        if let Some(latest) = released
            .iter()
            .filter_map(|release| release.version.parse::<Version>().ok())
            .max_by(|a, b| a.semver().cmp(b.semver()))
            && manifest.app().version().semver() <= latest.semver()
        {
            tracing::warn!(app = %name, %version, %latest, "the example's version is not higher than the released one; bump it to release again");
            continue;
        }
        // The work tree is exactly the commit: the manifest digest is of the committed file's bytes.
        let exact = std::fs::read(repository_dir.join("locara.toml"))?;
        let statement = ReleaseStatement {
            app: manifest.app().name().clone(),
            version: manifest.app().version().clone(),
            repository: app.repository.clone(),
            commit: commit.parse().map_err(|error| anyhow::anyhow!("{error}"))?,
            manifest: Digest::of_bytes(&exact),
            created_at: Timestamp::now(),
        };
        let envelope = statement.sign(&key);
        match state
            .metadata
            .enqueue_build(NewBuild {
                app_id: app.id,
                version: version.clone(),
                repository: app.repository.clone(),
                commit,
                statement: String::from_utf8_lossy(&envelope.to_json()).into_owned(),
                key_id: key.key_id().to_string(),
                requested_by: account.id,
                created_at: now,
            })
            .await
        {
            Ok(build) => queued.push(format!("{name} {version} (build {})", build.id)),
            Err(locara_store::StoreError::Conflict { .. }) => {}
            Err(error) => return Err(error.into()),
        }
    }
    state.log_grew().await;
    state.builds_waiting.notify_waiters();
    Ok(queued)
}
