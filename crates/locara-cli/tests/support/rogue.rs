//! A compromised registry, from the inside: someone with the registry's database, blob store and online
//! keys (a rogue build worker or operator) writing records the honest code would never write. The
//! registry is stopped while this runs and re-signs its checkpoint, `timestamp.json` and app indexes
//! when it starts again, so the client sees the forgery exactly as the registry serves it.
//!
//! Everything goes through `locara-store`'s API, the one the registry's own worker and API use.

#![allow(dead_code)] // each test file uses a part

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use locara_core::artifact::{FileMode, Packer};
use locara_core::digest::Digest;
use locara_core::events::{Event, LogEntry, ReleaseRecord};
use locara_core::keys::SigningKey;
use locara_core::manifest::Manifest;
use locara_core::statement::provenance::{
    LocaraBuild, LocaraExternalParameters, LocaraInternalParameters,
};
use locara_core::statement::release::ReleaseStatement;
use locara_core::time::Timestamp;
use locara_store::records::{NewBuild, NewRelease};
use locara_store::{BlobStore, FsBlobStore, MetadataStore, SqliteStore};

use crate::demo::{Demo, Example};

/// What the rogue builder gets wrong on purpose.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forgery {
    /// Provenance signed by a key the root does not list as a builder (DESIGN §5 check 4).
    UnknownBuilderKey,
    /// Provenance signed by the registry's real builder key, but about the commit before the released one
    /// (check 4).
    OtherCommit,
    /// An artifact whose `locara.toml` asks for more than the manifest in the release entry; its provenance
    /// is validly signed by the real builder key (check 7).
    ManifestDiffers,
    /// Nothing forged: an honest release recorded as registries did before release entries and indexes
    /// named the artifact's and provenance's sizes.
    NothingWithoutSizes,
}

/// The values of a forged release a refusal should name.
#[derive(Debug, Clone)]
pub struct Forged {
    /// The commit the release entry (and the publisher's statement) names.
    pub commit: String,
    /// The commit before it, which [`Forgery::OtherCommit`]'s provenance names.
    pub previous_commit: String,
    /// The key id that signed the provenance.
    pub provenance_signer: String,
    /// The digest of the `locara.toml` in the release entry.
    pub manifest_digest: String,
    /// The digest of the `locara.toml` inside the artifact.
    pub artifact_manifest_digest: String,
}

/// What the forged artifact's `locara.toml` adds for [`Forgery::ManifestDiffers`].
pub const SMUGGLED_CAPABILITIES: &str = "\n[capabilities]\nnetwork = [\"*\"]\n";

/// Runs `git ARGS` in a demo repository as the demo does.
fn git(repository: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(repository)
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Locara demo")
        .env("GIT_AUTHOR_EMAIL", "demo@localhost")
        .env("GIT_COMMITTER_NAME", "Locara demo")
        .env("GIT_COMMITTER_EMAIL", "demo@localhost")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

async fn open(data: &Path) -> (SqliteStore, FsBlobStore) {
    let metadata = SqliteStore::open(data.join("registry.sqlite3"))
        .await
        .unwrap();
    let blobs = FsBlobStore::open(data.join("blobs")).await.unwrap();
    (metadata, blobs)
}

async fn put(blobs: &FsBlobStore, bytes: &[u8]) -> Digest {
    let mut reader = bytes;
    blobs.put(&mut reader, None).await.unwrap().digest
}

/// Records `example` (a new version of an app the demo already released) as released, with a build
/// forged as `forgery` says. Everything else is genuine: the version is committed to the app's
/// repository, the publisher's release statement is signed with the publisher's key, the build is queued
/// and claimed as the registry's worker does, and `finish_build` writes the release and its log entry.
/// The registry must be stopped; start it again to serve the release.
pub fn record_forged_release(demo: &Demo, example: &Example, forgery: Forgery) -> Forged {
    assert!(
        example.capabilities.is_empty(),
        "the forgery adds a [capabilities] table, so the example has none"
    );
    let data = demo.data();
    // The publisher's side: the new version in the example and committed to the app's repository.
    example.write(&demo.examples());
    let repository_dir = data.join("demo-repositories").join(&example.slug);
    let previous_commit = git(&repository_dir, &["rev-parse", "HEAD"]);
    let manifest_text = example.manifest();
    std::fs::write(repository_dir.join("locara.toml"), &manifest_text).unwrap();
    git(&repository_dir, &["add", "-A"]);
    git(
        &repository_dir,
        &["commit", "-q", "-m", "a release the builder will forge"],
    );
    let commit = git(&repository_dir, &["rev-parse", "HEAD"]);
    let manifest = Manifest::parse(&manifest_text).unwrap();
    let publisher_key = demo.key("demo-publisher");
    let builder_key = demo.key("builder");
    let builder_id = format!("{}/builder", demo.proxy.url);
    demo.runtime().block_on(async {
        let (metadata, blobs) = open(&data).await;
        let app = metadata
            .app_by_name(&example.name())
            .await
            .unwrap()
            .expect("the demo registered the app");
        let account = metadata
            .account_by_username("demo")
            .await
            .unwrap()
            .expect("the demo account");
        let statement = ReleaseStatement {
            app: manifest.app().name().clone(),
            version: manifest.app().version().clone(),
            repository: app.repository.clone(),
            commit: commit.parse().unwrap(),
            manifest: Digest::of_bytes(manifest_text.as_bytes()),
            created_at: Timestamp::now(),
        }
        .sign(&publisher_key);
        let statement = String::from_utf8(statement.to_json()).unwrap();
        let now = Timestamp::now();
        let queued = metadata
            .enqueue_build(NewBuild {
                app_id: app.id,
                version: example.version.clone(),
                repository: app.repository.clone(),
                commit: commit.clone(),
                statement: statement.clone(),
                key_id: publisher_key.key_id().to_string(),
                requested_by: account.id,
                created_at: now.unix_seconds(),
            })
            .await
            .unwrap();
        let claimed = metadata
            .claim_build(
                "rogue-builder",
                now.unix_seconds(),
                now.unix_seconds() + 600,
                3,
            )
            .await
            .unwrap()
            .expect("the queued build");
        assert_eq!(claimed.id, queued.id);

        // The builder's side, forged.
        let artifact_manifest = match forgery {
            Forgery::ManifestDiffers => format!("{manifest_text}{SMUGGLED_CAPABILITIES}"),
            _ => manifest_text.clone(),
        };
        let artifact_manifest_digest = Digest::of_bytes(artifact_manifest.as_bytes()).to_string();
        let mut artifact = Vec::new();
        let packed = Packer::new()
            .add_bytes("locara.toml", artifact_manifest.into_bytes())
            .unwrap()
            .add_bytes_with_mode(
                &format!("bin/{}", example.slug),
                example.script().into_bytes(),
                FileMode::Executable,
            )
            .unwrap()
            .pack(&mut artifact)
            .unwrap();
        let artifact_digest = put(&blobs, &artifact).await;
        assert_eq!(artifact_digest, packed.digest);
        let (signer, provenance_commit) = match forgery {
            Forgery::UnknownBuilderKey => (SigningKey::generate().unwrap(), commit.clone()),
            Forgery::OtherCommit => (builder_key, previous_commit.clone()),
            Forgery::ManifestDiffers | Forgery::NothingWithoutSizes => {
                (builder_key, commit.clone())
            }
        };
        let provenance_signer = signer.key_id().to_string();
        let provenance = LocaraBuild {
            artifact_name: format!("{}-{}.tar.zst", example.slug, example.version),
            artifact_digest,
            external_parameters: LocaraExternalParameters {
                repository: app.repository.clone(),
                commit: provenance_commit.parse().unwrap(),
                manifest_path: "locara.toml".to_owned(),
                build_command: manifest.build().command().to_vec(),
            },
            internal_parameters: LocaraInternalParameters {
                builder_version: env!("CARGO_PKG_VERSION").to_owned(),
                toolchain: BTreeMap::new(),
            },
            builder_id,
            invocation_id: format!("rogue/{}", claimed.id),
            started_on: now,
            finished_on: now,
        }
        .sign(&signer)
        .unwrap();
        let provenance_digest = put(&blobs, &provenance.to_json()).await;
        let log_digest = put(&blobs, b"nothing to see here\n").await;

        // The release, as the worker's `finalise` records it.
        let capabilities = manifest.capabilities().describe();
        let record = ReleaseRecord {
            app: example.name(),
            version: example.version.clone(),
            repository: app.repository.clone(),
            commit: commit.clone(),
            manifest: manifest_text.clone(),
            manifest_digest: Digest::of_bytes(manifest_text.as_bytes()).to_string(),
            artifact: artifact_digest.to_string(),
            artifact_size: None,
            provenance: provenance_digest.to_string(),
            provenance_size: None,
            key_id: publisher_key.key_id().to_string(),
            statement: statement.clone(),
            capabilities: capabilities.clone(),
            expansion: Vec::new(),
            status: "available".to_owned(),
            available_at: now,
            reproducible: true,
            new_signer: None,
        };
        let entry = LogEntry::new(now, Event::ReleasePublished(Box::new(record)))
            .to_bytes()
            .unwrap();
        metadata
            .finish_build(
                claimed.id,
                "rogue-builder",
                NewRelease {
                    version: example.version.clone(),
                    commit: commit.clone(),
                    repository: app.repository.clone(),
                    manifest: manifest_text.clone(),
                    manifest_digest: Digest::of_bytes(manifest_text.as_bytes()).to_string(),
                    artifact_digest: artifact_digest.to_string(),
                    artifact_size: None,
                    provenance_digest: provenance_digest.to_string(),
                    provenance_size: None,
                    key_id: publisher_key.key_id().to_string(),
                    statement,
                    capabilities: serde_json::to_string(&capabilities).unwrap(),
                    expansion: "[]".to_owned(),
                    state: "available".to_owned(),
                    available_at: now.unix_seconds(),
                    reproducible: true,
                    created_at: now.unix_seconds(),
                },
                &log_digest.to_string(),
                entry,
                Vec::new(),
            )
            .await
            .unwrap();
        metadata.close().await;
        Forged {
            commit,
            previous_commit,
            provenance_signer,
            manifest_digest: Digest::of_bytes(manifest_text.as_bytes()).to_string(),
            artifact_manifest_digest,
        }
    })
}

/// Yanks `example`'s release as the yank endpoint records it: the state change and its
/// `release.yanked` log entry in one transaction. (The endpoint needs a member's account with two-factor
/// authentication; the demo publisher has no usable password, so the test writes what it would.)
/// The registry must be stopped.
pub fn yank(demo: &Demo, example: &Example, reason: &str) {
    let data = demo.data();
    demo.runtime().block_on(async {
        let (metadata, _blobs) = open(&data).await;
        let app = metadata
            .app_by_name(&example.name())
            .await
            .unwrap()
            .expect("the app");
        let entry = LogEntry::new(
            Timestamp::now(),
            Event::ReleaseYanked {
                app: example.name(),
                version: example.version.clone(),
                reason: Some(reason.to_owned()),
                by: "demo".to_owned(),
            },
        )
        .to_bytes()
        .unwrap();
        let changed = metadata
            .change_release_state(app.id, &example.version, "available", "yanked", None, entry)
            .await
            .unwrap();
        assert!(changed.is_some(), "the release was available");
        metadata.close().await;
    });
}

/// What the deprecate endpoint writes for `example`'s release (with the registry stopped): the state
/// change with `message` and its `release.deprecated` log entry.
pub fn deprecate(demo: &Demo, example: &Example, message: &str) {
    let data = demo.data();
    demo.runtime().block_on(async {
        let (metadata, _blobs) = open(&data).await;
        let app = metadata
            .app_by_name(&example.name())
            .await
            .unwrap()
            .expect("the app");
        let entry = LogEntry::new(
            Timestamp::now(),
            Event::ReleaseDeprecated {
                app: example.name(),
                version: example.version.clone(),
                message: message.to_owned(),
                by: "demo".to_owned(),
            },
        )
        .to_bytes()
        .unwrap();
        let changed = metadata
            .change_release_state(
                app.id,
                &example.version,
                "available",
                "deprecated",
                Some(message),
                entry,
            )
            .await
            .unwrap();
        assert!(changed.is_some(), "the release was available");
        metadata.close().await;
    });
}

/// The registry's settings of the last `timestamp.json` and revocation-list versions it signed
/// (`locara-registry`'s freshness module); the next ones it signs are one higher.
const TIMESTAMP_VERSION_SETTING: &str = "timestamp.version";
const REVOCATIONS_VERSION_SETTING: &str = "revocations.version";

/// Prepares, in `fork`, the data directory of a second registry holding the same keys and root (so the
/// same log key and origin) whose log shares the first `shared` entries of `demo`'s log and then goes its
/// own way with `forked` entries of its own. Its `timestamp.json` and revocation-list versions start far
/// above the real registry's, as an attacker holding the online keys would make them, so only the log's
/// history gives the fork away.
pub fn prepare_fork(demo: &Demo, fork: &Path, shared: u64, forked: usize) {
    let data = demo.data();
    for directory in ["keys", "root"] {
        std::fs::create_dir_all(fork.join(directory)).unwrap();
        for file in std::fs::read_dir(data.join(directory)).unwrap() {
            let file = file.unwrap();
            std::fs::copy(file.path(), fork.join(directory).join(file.file_name())).unwrap();
        }
    }
    let mut entries: Vec<Vec<u8>> = (0..shared)
        .map(|index| demo.get_ok(&format!("/log/entries/{index}")))
        .collect();
    for number in 0..forked {
        entries.push(
            LogEntry::new(
                Timestamp::now(),
                Event::ReleaseYanked {
                    app: "demo/plain".to_owned(),
                    version: format!("9.9.{number}"),
                    reason: Some("a history only the fork has".to_owned()),
                    by: "mallory".to_owned(),
                },
            )
            .to_bytes()
            .unwrap(),
        );
    }
    demo.runtime().block_on(async {
        let metadata = SqliteStore::open(fork.join("registry.sqlite3"))
            .await
            .unwrap();
        metadata.append_log_entries(entries).await.unwrap();
        metadata
            .put_setting(TIMESTAMP_VERSION_SETTING, "1000000")
            .await
            .unwrap();
        metadata
            .put_setting(REVOCATIONS_VERSION_SETTING, "1000000")
            .await
            .unwrap();
        metadata.close().await;
    });
}
