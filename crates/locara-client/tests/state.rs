//! The state database: typed round trips, one atomic write path, no rollback of a registry's view,
//! several processes at once.

use std::path::{Path, PathBuf};

use locara_client::state::{
    Change, GrantSource, HistoryAction, Install, InstallStatus, NewHistory, RegistryState, State,
    StateError,
};
use locara_client::store::TreeDigest;
use locara_core::digest::Digest;
use locara_core::log::Hash;
use locara_core::names::AppName;
use locara_core::time::Timestamp;

fn app(name: &str) -> AppName {
    name.parse().unwrap()
}

fn at(seconds: u64) -> Timestamp {
    Timestamp::from_unix_seconds(seconds).unwrap()
}

fn registry(size: u64, revocations_version: u64) -> RegistryState {
    RegistryState {
        registry: "main".to_owned(),
        checkpoint_size: size,
        checkpoint_root: Hash([size as u8; 32]),
        timestamp_json: format!("{{\"size\":{size}}}").into_bytes(),
        revocations_version,
        revocations_json: vec![0, 159, 146, 150, 255],
        synced_at: at(1_800_000_000 + size),
    }
}

/// An install with every optional field set and every field distinct.
fn install(name: &str, launcher: Option<&str>) -> Install {
    Install {
        app: app(name),
        registry: "main".to_owned(),
        version: "1.4.2-rc.1+build.5".parse().unwrap(),
        artifact: Digest::of_bytes(format!("artifact of {name}").as_bytes()),
        provenance: Digest::of_bytes(b"provenance"),
        manifest_digest: Digest::of_bytes(b"manifest"),
        manifest: "name = \"acme/notes\"\n# ünïcödé and 'quotes'\n".to_owned(),
        commit: "0123456789abcdef0123456789abcdef01234567".parse().unwrap(),
        log_index: 41,
        key_id: "ab".repeat(32).parse().unwrap(),
        builder_id: "https://builder.example/v1".to_owned(),
        tree_digest: TreeDigest::new(Digest::of_bytes(b"tree")),
        launcher: launcher.map(|name| name.parse().unwrap()),
        granted: vec![
            "read files in ~/Notes".to_owned(),
            "connect to \"api.example.com\"".to_owned(),
        ],
        grant_source: GrantSource::NoneNeeded,
        granted_at: at(1_700_000_001),
        installed_at: at(1_700_000_002),
        status: InstallStatus::Quarantined {
            reason: "revoked: CVE-2026-1".to_owned(),
        },
        deprecated: Some("use acme/notes2".to_owned()),
    }
}

fn history(name: &str, action: HistoryAction, detail: &str) -> NewHistory {
    NewHistory {
        at: at(1_700_000_100),
        app: app(name),
        action,
        from_version: Some("1.0.0".parse().unwrap()),
        to_version: None,
        detail: detail.to_owned(),
    }
}

async fn open(dir: &Path) -> (State, PathBuf) {
    let path = dir.join("data/state.sqlite3");
    (State::open(&path).await.unwrap(), path)
}

/// A database with registry state (size 10, revocations 3) and `acme/notes` installed.
async fn populated(dir: &Path) -> State {
    let (state, _) = open(dir).await;
    state
        .commit(&Change {
            registry: Some(registry(10, 3)),
            upserts: vec![install("acme/notes", Some("notes"))],
            history: vec![history("acme/notes", HistoryAction::Install, "first")],
            ..Change::default()
        })
        .await
        .unwrap();
    state
}

/// Everything a reader can see, for "nothing changed" comparisons.
async fn snapshot(
    state: &State,
) -> (
    Option<RegistryState>,
    Vec<Install>,
    Vec<locara_client::state::HistoryEntry>,
) {
    (
        state.registry_state("main").await.unwrap(),
        state.installs().await.unwrap(),
        state.history(None).await.unwrap(),
    )
}

#[tokio::test]
async fn open_creates_the_directory_and_an_empty_database() {
    let dir = tempfile::tempdir().unwrap();
    let (state, path) = open(dir.path()).await;
    assert!(path.is_file());
    assert_eq!(state.path(), path);
    assert_eq!(state.registry_state("main").await.unwrap(), None);
    assert!(state.installs().await.unwrap().is_empty());
    assert!(state.history(None).await.unwrap().is_empty());
    assert_eq!(state.install(&app("acme/notes")).await.unwrap(), None);
}

#[tokio::test]
async fn every_field_round_trips() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    assert_eq!(
        state.registry_state("main").await.unwrap(),
        Some(registry(10, 3))
    );
    assert_eq!(
        state.install(&app("acme/notes")).await.unwrap(),
        Some(install("acme/notes", Some("notes")))
    );
    let entries = state.history(None).await.unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(
        entries[0].event,
        history("acme/notes", HistoryAction::Install, "first")
    );

    // The other spelling of every optional or enumerated field.
    let mut plain = install("acme/plain", None);
    plain.status = InstallStatus::Active;
    plain.deprecated = None;
    plain.granted = Vec::new();
    for source in [
        GrantSource::Prompt,
        GrantSource::Yes,
        GrantSource::Policy,
        GrantSource::NoneNeeded,
        GrantSource::Lockfile,
    ] {
        plain.grant_source = source;
        state
            .commit(&Change {
                upserts: vec![plain.clone()],
                ..Change::default()
            })
            .await
            .unwrap();
        assert_eq!(
            state.install(&plain.app).await.unwrap().as_ref(),
            Some(&plain)
        );
    }
    let mut event = history("acme/plain", HistoryAction::Update, "");
    event.from_version = None;
    event.to_version = Some("2.0.0".parse().unwrap());
    let actions = [
        HistoryAction::Install,
        HistoryAction::Update,
        HistoryAction::Uninstall,
        HistoryAction::Quarantine,
        HistoryAction::Repair,
    ];
    let events: Vec<NewHistory> = actions
        .iter()
        .map(|&action| NewHistory {
            action,
            ..event.clone()
        })
        .collect();
    state
        .commit(&Change {
            history: events.clone(),
            ..Change::default()
        })
        .await
        .unwrap();
    let stored: Vec<NewHistory> = state
        .history(Some(&app("acme/plain")))
        .await
        .unwrap()
        .into_iter()
        .map(|entry| entry.event)
        .collect();
    assert_eq!(stored, events);
}

#[tokio::test]
async fn installs_are_sorted_and_history_is_filtered_by_app_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    state
        .commit(&Change {
            upserts: vec![install("zeta/app", None), install("beta/app", None)],
            history: vec![
                history("zeta/app", HistoryAction::Install, "z"),
                history("acme/notes", HistoryAction::Update, "second"),
            ],
            ..Change::default()
        })
        .await
        .unwrap();
    let names: Vec<String> = state
        .installs()
        .await
        .unwrap()
        .iter()
        .map(|install| install.app.to_string())
        .collect();
    assert_eq!(names, ["acme/notes", "beta/app", "zeta/app"]);
    let notes = state.history(Some(&app("acme/notes"))).await.unwrap();
    let details: Vec<&str> = notes
        .iter()
        .map(|entry| entry.event.detail.as_str())
        .collect();
    assert_eq!(details, ["first", "second"]);
    assert!(notes[0].id < notes[1].id);
    assert_eq!(state.history(None).await.unwrap().len(), 3);
}

#[tokio::test]
async fn upsert_replaces_and_removal_deletes() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let mut updated = install("acme/notes", Some("notes"));
    updated.version = "1.5.0".parse().unwrap();
    updated.status = InstallStatus::Active;
    state
        .commit(&Change {
            upserts: vec![updated.clone()],
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(state.installs().await.unwrap(), vec![updated]);
    state
        .commit(&Change {
            removals: vec![app("acme/notes")],
            history: vec![history("acme/notes", HistoryAction::Uninstall, "bye")],
            ..Change::default()
        })
        .await
        .unwrap();
    assert!(state.installs().await.unwrap().is_empty());
    assert_eq!(
        state.history(None).await.unwrap().len(),
        2,
        "history outlives the install"
    );
}

#[tokio::test]
async fn a_change_that_fails_part_way_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    state
        .commit(&Change {
            upserts: vec![install("acme/other", Some("other"))],
            ..Change::default()
        })
        .await
        .unwrap();
    let before = snapshot(&state).await;

    // A newer registry view and a removal succeed, then an upsert takes acme/other's launcher.
    let error = state
        .commit(&Change {
            registry: Some(registry(20, 4)),
            removals: vec![app("acme/notes")],
            upserts: vec![install("evil/app", Some("other"))],
            history: vec![history("acme/notes", HistoryAction::Uninstall, "never")],
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StateError::LauncherTaken { owner, .. } if *owner == app("acme/other")),
        "{error}"
    );
    assert_eq!(snapshot(&state).await, before);

    // The same with a removal of an app that is not installed, after a removal that succeeded.
    let error = state
        .commit(&Change {
            registry: Some(registry(20, 4)),
            removals: vec![app("acme/notes"), app("acme/missing")],
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(matches!(error, StateError::NotInstalled { .. }), "{error}");
    assert_eq!(snapshot(&state).await, before);
}

#[tokio::test]
async fn a_removal_with_a_rolled_back_registry_view_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let before = snapshot(&state).await;
    let error = state
        .commit(&Change {
            registry: Some(registry(9, 3)),
            removals: vec![app("acme/notes")],
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StateError::CheckpointRollback {
                stored: 10,
                new: 9,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(snapshot(&state).await, before);
}

#[tokio::test]
async fn refuses_to_roll_back_the_checkpoint_size() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let error = state
        .commit(&Change {
            registry: Some(registry(9, 99)),
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&error, StateError::CheckpointRollback { registry, stored: 10, new: 9 } if registry == "main"),
        "{error}"
    );
    assert!(error.to_string().contains("nothing was written"));
    assert_eq!(
        state.registry_state("main").await.unwrap(),
        Some(registry(10, 3))
    );
}

#[tokio::test]
async fn refuses_a_different_root_at_the_same_size() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let mut forked = registry(10, 3);
    forked.checkpoint_root = Hash([0xee; 32]);
    let error = state
        .commit(&Change {
            registry: Some(forked),
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StateError::CheckpointFork { size: 10, .. }),
        "{error}"
    );
    assert_eq!(
        state.registry_state("main").await.unwrap(),
        Some(registry(10, 3))
    );
}

#[tokio::test]
async fn refuses_to_roll_back_the_revocations_version() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let error = state
        .commit(&Change {
            registry: Some(registry(11, 2)),
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StateError::RevocationsRollback {
                stored: 3,
                new: 2,
                ..
            }
        ),
        "{error}"
    );
    assert_eq!(
        state.registry_state("main").await.unwrap(),
        Some(registry(10, 3))
    );
}

#[tokio::test]
async fn accepts_the_same_or_a_newer_registry_view() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    for view in [registry(10, 3), registry(10, 4), registry(12, 4)] {
        state
            .commit(&Change {
                registry: Some(view.clone()),
                ..Change::default()
            })
            .await
            .unwrap();
        assert_eq!(state.registry_state("main").await.unwrap(), Some(view));
    }
    let mut other = registry(1, 0);
    other.registry = "second".to_owned();
    state
        .commit(&Change {
            registry: Some(other.clone()),
            ..Change::default()
        })
        .await
        .unwrap();
    assert_eq!(state.registry_state("second").await.unwrap(), Some(other));
}

#[tokio::test]
async fn refuses_an_install_from_a_registry_without_state() {
    let dir = tempfile::tempdir().unwrap();
    let (state, _) = open(dir.path()).await;
    let error = state
        .commit(&Change {
            upserts: vec![install("acme/notes", None)],
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(error, StateError::UnknownRegistry { .. }),
        "{error}"
    );
    assert!(state.installs().await.unwrap().is_empty());
}

#[tokio::test]
async fn refuses_numbers_too_large_for_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let mut huge = install("acme/notes", Some("notes"));
    huge.log_index = u64::MAX;
    let error = state
        .commit(&Change {
            upserts: vec![huge],
            ..Change::default()
        })
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            StateError::TooLarge {
                what: "log index",
                ..
            }
        ),
        "{error}"
    );
}

#[tokio::test]
async fn a_corrupt_row_is_an_error_naming_the_app_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let path = state.path().to_owned();
    state.close().await;
    // Edit the file the way another program could.
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE installs SET artifact = 'sha256:nope' WHERE app = 'acme/notes'")
        .execute(&raw)
        .await
        .unwrap();
    raw.close().await;
    let state = State::open(&path).await.unwrap();
    for error in [
        state.installs().await.unwrap_err(),
        state.install(&app("acme/notes")).await.unwrap_err(),
    ] {
        assert!(
            matches!(&error, StateError::Corrupt { table: "installs", key, column: "artifact", .. } if key == "acme/notes"),
            "{error}"
        );
        let message = error.to_string();
        assert!(
            message.contains("acme/notes") && message.contains("artifact"),
            "{message}"
        );
    }
}

#[tokio::test]
async fn history_cannot_be_rewritten() {
    let dir = tempfile::tempdir().unwrap();
    let state = populated(dir.path()).await;
    let path = state.path().to_owned();
    state.close().await;
    let raw = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    assert!(
        sqlx::query("DELETE FROM history")
            .execute(&raw)
            .await
            .is_err()
    );
    assert!(
        sqlx::query("UPDATE history SET detail = 'x'")
            .execute(&raw)
            .await
            .is_err()
    );
    raw.close().await;
}

#[tokio::test]
async fn everything_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let state = populated(dir.path()).await;
        let before = snapshot(&state).await;
        drop(state);
        before
    };
    let (state, _) = open(dir.path()).await;
    assert_eq!(snapshot(&state).await, before);
    assert!(before.0.is_some() && before.1.len() == 1 && before.2.len() == 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_handles_on_one_file_commit_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite3");
    // Both open a new database at once: the migrations must run once, not fail in one of them.
    let (first, second) = tokio::join!(State::open(&path), State::open(&path));
    let handles = [first.unwrap(), second.unwrap()];
    handles[0]
        .commit(&Change {
            registry: Some(registry(1, 0)),
            ..Change::default()
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for (index, state) in handles.iter().enumerate() {
        for round in 0..20u64 {
            let state = state.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("app{index}/n{round}");
                state
                    .commit(&Change {
                        registry: Some(registry(2 + round, round)),
                        upserts: vec![install(&name, None)],
                        history: vec![history(&name, HistoryAction::Install, "")],
                        ..Change::default()
                    })
                    .await
            }));
        }
    }
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => {}
            // A slower writer with an older view is refused, never "database is locked".
            Err(StateError::CheckpointRollback { .. } | StateError::RevocationsRollback { .. }) => {
                refused += 1
            }
            Err(error) => panic!("unexpected error: {error}"),
        }
    }
    let installs = handles[1].installs().await.unwrap();
    assert_eq!(installs.len() + refused, 40);
    assert_eq!(
        handles[0].history(None).await.unwrap().len(),
        installs.len()
    );
    let view = handles[1].registry_state("main").await.unwrap().unwrap();
    assert_eq!(
        view.checkpoint_size, 21,
        "the newest view wins whatever the order"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_commits_of_independent_changes_all_land() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("state.sqlite3");
    let first = State::open(&path).await.unwrap();
    let second = State::open(&path).await.unwrap();
    first
        .commit(&Change {
            registry: Some(registry(1, 0)),
            ..Change::default()
        })
        .await
        .unwrap();
    let mut tasks = Vec::new();
    for round in 0..25 {
        for (index, state) in [&first, &second].into_iter().enumerate() {
            let state = state.clone();
            tasks.push(tokio::spawn(async move {
                let name = format!("app{index}/n{round}");
                state
                    .commit(&Change {
                        upserts: vec![install(&name, None)],
                        history: vec![history(&name, HistoryAction::Install, "")],
                        ..Change::default()
                    })
                    .await
            }));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(second.installs().await.unwrap().len(), 50);
    assert_eq!(first.history(None).await.unwrap().len(), 50);
}

#[tokio::test]
async fn index_versions_only_grow_and_are_kept_per_registry() {
    let dir = tempfile::tempdir().unwrap();
    let (state, path) = open(dir.path()).await;
    let notes = app("acme/notes");
    assert_eq!(state.index_version("main", &notes).await.unwrap(), None);
    state
        .raise_index_versions("main", &[(notes.clone(), 5)])
        .await
        .unwrap();
    // A lower version seen later (a frozen mirror) never lowers what was accepted.
    state
        .raise_index_versions("main", &[(notes.clone(), 3)])
        .await
        .unwrap();
    assert_eq!(state.index_version("main", &notes).await.unwrap(), Some(5));
    assert_eq!(state.index_version("other", &notes).await.unwrap(), None);
    state
        .raise_index_versions("main", &[(notes.clone(), 9)])
        .await
        .unwrap();
    drop(state);
    let reopened = State::open(&path).await.unwrap();
    assert_eq!(
        reopened.index_version("main", &notes).await.unwrap(),
        Some(9)
    );
}
