//! `locara-registry serve --demo`: a newcomer's registry with something in it. Seeds a `demo` publisher
//! (verification method `demo`: seeded locally, not a proven identity), a release key, and one app per
//! directory of the examples, each in a local git repository, and queues a release of each through the
//! real builder. Every step goes through the store with its log entry, exactly as the API would write it.
//! Seeding is idempotent: a second start with `--demo` adds only what is missing.

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

fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let kind = entry.file_type()?;
        let target = to.join(entry.file_name());
        if kind.is_dir() {
            if entry.file_name() == "target" {
                continue;
            }
            copy_tree(&entry.path(), &target)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// Seeds the demo publisher and queues a release of each app in `examples`.
pub async fn seed(state: &AppState, data: &Path, examples: &Path) -> anyhow::Result<Vec<String>> {
    let examples = examples.canonicalize().with_context(|| {
        format!(
            "the demo's example apps are not at {} (pass --demo-apps DIR)",
            examples.display()
        )
    })?;
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
                public_key: key.public_key().to_base64(),
                by: PUBLISHER.to_owned(),
            },
        )
        .map_err(|problem| anyhow::anyhow!(problem.detail))?;
        state
            .metadata
            .register_key(
                publisher.id,
                &key.key_id().to_string(),
                &key.public_key().to_base64(),
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
        if !repository_dir.join(".git").exists() {
            copy_tree(&directory, &repository_dir)?;
            git(&repository_dir, &["init", "-q", "-b", "main"])?;
            git(&repository_dir, &["add", "."])?;
            git(&repository_dir, &["commit", "-q", "-m", "demo"])?;
        }
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
        if state
            .metadata
            .releases_of(app.id)
            .await?
            .iter()
            .any(|release| release.version == version)
        {
            continue;
        }
        let commit = git(&repository_dir, &["rev-parse", "HEAD"])?;
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
