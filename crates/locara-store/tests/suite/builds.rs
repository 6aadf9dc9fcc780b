//! The build queue and releases: leases, a killed worker's job taken over, a job never finished twice,
//! versions never reused, and the release written with its log entry and notifications.

use locara_store::records::{
    BuildState, NewAccount, NewApp, NewBuild, NewRelease, NewRevocation, RevocationRecord,
};
use locara_store::{MetadataStore, StoreError};

use super::Fixture;

async fn app(store: &dyn MetadataStore) -> (i64, i64) {
    let new = NewAccount {
        username: "alice".to_owned(),
        password_hash: "x".to_owned(),
        created_at: 1,
    };
    let (account, _) = store
        .create_account(new, "alice", b"{}".to_vec())
        .await
        .unwrap();
    let publisher = store.publisher_by_name("alice").await.unwrap().unwrap();
    let app = store
        .register_app(
            NewApp {
                publisher_id: publisher.id,
                name: "alice/notes".to_owned(),
                canonical: "alice/notes".to_owned(),
                repository: "file:///srv/notes".to_owned(),
                created_at: 1,
            },
            b"{\"app\":1}".to_vec(),
        )
        .await
        .unwrap();
    (account.id, app.id)
}

fn build(app: i64, account: i64, version: &str) -> NewBuild {
    NewBuild {
        app_id: app,
        version: version.to_owned(),
        repository: "file:///srv/notes".to_owned(),
        commit: "a".repeat(40),
        statement: "{}".to_owned(),
        key_id: "k".to_owned(),
        requested_by: account,
        created_at: 10,
    }
}

fn release(version: &str) -> NewRelease {
    NewRelease {
        version: version.to_owned(),
        commit: "a".repeat(40),
        repository: "file:///srv/notes".to_owned(),
        manifest: "[app]".to_owned(),
        manifest_digest: "sha256:m".to_owned(),
        artifact_digest: "sha256:a".to_owned(),
        artifact_size: Some(1_234_567),
        provenance_digest: "sha256:p".to_owned(),
        provenance_size: Some(2_048),
        key_id: "k".to_owned(),
        statement: "{}".to_owned(),
        capabilities: "{}".to_owned(),
        expansion: "[]".to_owned(),
        state: "available".to_owned(),
        available_at: 20,
        reproducible: true,
        created_at: 20,
    }
}

pub async fn a_killed_workers_job_is_taken_over_and_finished_once(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let (account, app) = app(store.as_ref()).await;
    let queued = store
        .enqueue_build(build(app, account, "1.0.0"))
        .await
        .unwrap();
    assert_eq!(queued.state, BuildState::Queued);
    assert!(matches!(
        store.enqueue_build(build(app, account, "1.0.0")).await,
        Err(StoreError::Conflict { .. })
    ));
    let first = store.claim_build("w1", 100, 160, 3).await.unwrap().unwrap();
    assert_eq!((first.id, first.attempts), (queued.id, 1));
    // While w1's lease holds, nobody else gets the job.
    assert!(
        store
            .claim_build("w2", 150, 210, 3)
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.renew_build_lease(first.id, "w1", 200).await.unwrap());
    assert!(
        store
            .claim_build("w2", 190, 250, 3)
            .await
            .unwrap()
            .is_none()
    );
    // w1 is killed: its lease runs out and w2 takes the job over.
    let second = store.claim_build("w2", 201, 260, 3).await.unwrap().unwrap();
    assert_eq!((second.id, second.attempts), (queued.id, 2));
    assert!(!store.renew_build_lease(first.id, "w1", 300).await.unwrap());
    // The old worker, coming back, can neither finish nor fail it.
    let size = store.log_size().await.unwrap();
    assert!(matches!(
        store
            .finish_build(
                first.id,
                "w1",
                release("1.0.0"),
                "sha256:l",
                b"{\"r\":1}".to_vec(),
                vec![]
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(
        !store
            .fail_build(first.id, "w1", "late", None, 205)
            .await
            .unwrap()
    );
    assert_eq!(store.log_size().await.unwrap(), size);
    let done = store
        .finish_build(
            first.id,
            "w2",
            release("1.0.0"),
            "sha256:l",
            b"{\"r\":2}".to_vec(),
            vec![(account, "{}".to_owned())],
        )
        .await
        .unwrap();
    assert_eq!(done.log_index, size);
    assert_eq!(
        (done.artifact_size, done.provenance_size),
        (Some(1_234_567), Some(2_048))
    );
    assert_eq!(store.log_size().await.unwrap(), size + 1);
    // Finishing twice changes nothing.
    assert!(matches!(
        store
            .finish_build(
                first.id,
                "w2",
                release("1.0.0"),
                "sha256:l",
                b"{\"r\":3}".to_vec(),
                vec![]
            )
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.log_size().await.unwrap(), size + 1);
    let finished = store.build(first.id).await.unwrap().unwrap();
    assert_eq!(finished.state, BuildState::Succeeded);
    assert_eq!(store.releases_of(app).await.unwrap(), vec![done]);
    // The version is never reused, whatever happens to the release.
    let entry = b"{\"yank\":1}".to_vec();
    assert!(
        store
            .change_release_state(app, "1.0.0", "available", "yanked", None, entry)
            .await
            .unwrap()
            .is_some()
    );
    assert!(matches!(
        store.enqueue_build(build(app, account, "1.0.0")).await,
        Err(StoreError::Conflict { .. })
    ));
    // No webhook set: no notification queued.
    assert!(store.due_notifications(1000, 10).await.unwrap().is_empty());
}

pub async fn a_job_whose_workers_keep_dying_fails_and_frees_the_version(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let (account, app) = app(store.as_ref()).await;
    let queued = store
        .enqueue_build(build(app, account, "2.0.0"))
        .await
        .unwrap();
    let mut now = 100;
    for attempt in 1..=2 {
        let claimed = store
            .claim_build("w", now, now + 10, 2)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(claimed.attempts, attempt);
        now += 11;
    }
    assert!(
        store
            .claim_build("w", now, now + 10, 2)
            .await
            .unwrap()
            .is_none()
    );
    let failed = store.build(queued.id).await.unwrap().unwrap();
    assert_eq!(failed.state, BuildState::Failed);
    assert!(failed.error.unwrap().contains("2 times"));
    // A failed build never reached a release: the version can be asked for again.
    store
        .enqueue_build(build(app, account, "2.0.0"))
        .await
        .unwrap();
}

pub async fn notifications_wait_in_the_outbox_until_delivered(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let (account, app) = app(store.as_ref()).await;
    store
        .set_webhook(account, Some("http://127.0.0.1:9/hook"))
        .await
        .unwrap();
    let queued = store
        .enqueue_build(build(app, account, "1.0.0"))
        .await
        .unwrap();
    store.claim_build("w", 100, 200, 3).await.unwrap().unwrap();
    store
        .finish_build(
            queued.id,
            "w",
            release("1.0.0"),
            "sha256:l",
            b"{}".to_vec(),
            vec![(account, "{\"v\":1}".to_owned())],
        )
        .await
        .unwrap();
    let due = store.due_notifications(20, 10).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(
        (due[0].url.as_str(), due[0].body.as_str()),
        ("http://127.0.0.1:9/hook", "{\"v\":1}")
    );
    store
        .record_delivery(due[0].id, 21, Err(("refused".into(), Some(80))))
        .await
        .unwrap();
    assert!(store.due_notifications(79, 10).await.unwrap().is_empty());
    let again = store.due_notifications(80, 10).await.unwrap();
    assert_eq!(again[0].attempts, 1);
    store
        .record_delivery(again[0].id, 81, Ok(()))
        .await
        .unwrap();
    assert!(
        store
            .due_notifications(10_000, 10)
            .await
            .unwrap()
            .is_empty()
    );
}

/// Finishes a build of `version` for `app` in `state`, available from `available_at`, with `manifest`.
async fn released(
    store: &dyn MetadataStore,
    (account, app): (i64, i64),
    version: &str,
    state: &str,
    available_at: u64,
    manifest: &str,
) {
    let queued = store
        .enqueue_build(build(app, account, version))
        .await
        .unwrap();
    store.claim_build("w", 100, 200, 3).await.unwrap().unwrap();
    store
        .finish_build(
            queued.id,
            "w",
            NewRelease {
                state: state.to_owned(),
                available_at,
                manifest: manifest.to_owned(),
                ..release(version)
            },
            "sha256:l",
            b"{}".to_vec(),
            vec![],
        )
        .await
        .unwrap();
}

pub async fn a_state_change_keeps_the_release_sets_its_message_and_logs_once(
    fixture: &impl Fixture,
) {
    let store = fixture.open_metadata().await;
    let ids = app(store.as_ref()).await;
    released(store.as_ref(), ids, "1.0.0", "available", 20, "[app]").await;
    let size = store.log_size().await.unwrap();
    let deprecated = store
        .change_release_state(
            ids.1,
            "1.0.0",
            "available",
            "deprecated",
            Some("use 2.x"),
            b"{\"deprecated\":1}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(deprecated, Some(size));
    // The expected state is checked inside the transaction: a stale change does nothing, logs nothing.
    assert_eq!(
        store
            .change_release_state(
                ids.1,
                "1.0.0",
                "available",
                "yanked",
                None,
                b"{\"stale\":1}".to_vec()
            )
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.log_size().await.unwrap(), size + 1);
    // Yanking a deprecated release keeps its message.
    assert!(
        store
            .change_release_state(
                ids.1,
                "1.0.0",
                "deprecated",
                "yanked",
                None,
                b"{\"yanked\":1}".to_vec()
            )
            .await
            .unwrap()
            .is_some()
    );
    let releases = store.releases_of(ids.1).await.unwrap();
    assert_eq!(releases.len(), 1);
    assert_eq!(
        (releases[0].state.as_str(), releases[0].message.as_deref()),
        ("yanked", Some("use 2.x"))
    );
    assert_eq!(store.log_size().await.unwrap(), size + 2);
}

pub async fn listings_find_apps_by_name_or_latest_installable_manifest(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let ids = app(store.as_ref()).await;
    released(store.as_ref(), ids, "1.0.0", "available", 20, "Takes NOTES").await;
    released(
        store.as_ref(),
        ids,
        "1.1.0",
        "deprecated",
        20,
        "Deprecated Jots",
    )
    .await;
    released(
        store.as_ref(),
        ids,
        "1.2.0",
        "cooling-down",
        500,
        "Cooling Scribbles",
    )
    .await;
    released(store.as_ref(), ids, "1.3.0", "yanked", 20, "Yanked Doodles").await;

    let all = store.app_listings(None, 100).await.unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(
        (all[0].app.name.as_str(), all[0].publisher.name.as_str()),
        ("alice/notes", "alice")
    );
    let latest = all[0].latest.as_ref().unwrap();
    assert_eq!(
        latest.version, "1.1.0",
        "deprecated still installs; cooling-down and yanked do not"
    );
    // Once its cool-down has passed, the cooling-down release is the latest.
    let later = store.app_listings(None, 500).await.unwrap();
    assert_eq!(later[0].latest.as_ref().unwrap().version, "1.2.0");

    for (needle, found) in [
        ("ALICE/no", true),
        ("jots", true),
        ("scribbles", false),
        ("doodles", false),
        ("takes notes", false),
        ("nothing", false),
    ] {
        let listed = store.app_listings(Some(needle), 100).await.unwrap();
        assert_eq!(listed.len(), usize::from(found), "{needle}");
    }
    // An app without an installable release is still found by name.
    let publisher = store.publisher_by_name("alice").await.unwrap().unwrap();
    store
        .register_app(
            NewApp {
                publisher_id: publisher.id,
                name: "alice/empty".to_owned(),
                canonical: "alice/empty".to_owned(),
                repository: "file:///srv/empty".to_owned(),
                created_at: 1,
            },
            b"{\"app\":2}".to_vec(),
        )
        .await
        .unwrap();
    let listed = store.app_listings(Some("empty"), 100).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].latest.is_none());
}

pub async fn a_revocation_is_final_recorded_with_its_entry_and_listed_forever(
    fixture: &impl Fixture,
) {
    let store = fixture.open_metadata().await;
    let ids = app(store.as_ref()).await;
    released(store.as_ref(), ids, "1.0.0", "yanked", 20, "[app]").await;
    released(store.as_ref(), ids, "1.1.0", "cooling-down", 500, "[app]").await;
    assert!(store.revocations().await.unwrap().is_empty());
    let size = store.log_size().await.unwrap();
    let revocation = |reason: &str, advisory: Option<&str>| NewRevocation {
        reason: reason.to_owned(),
        advisory: advisory.map(str::to_owned),
        revoked_at: 30,
    };
    // From any state, even a final one such as yanked.
    let first = store
        .revoke_release(
            ids.1,
            "1.0.0",
            revocation("steals tokens", Some("LOCARA-2026-0001")),
            b"{\"revoked\":1}".to_vec(),
        )
        .await
        .unwrap();
    assert_eq!(
        first,
        RevocationRecord {
            app: "alice/notes".to_owned(),
            version: "1.0.0".to_owned(),
            artifact: "sha256:a".to_owned(),
            reason: "steals tokens".to_owned(),
            advisory: Some("LOCARA-2026-0001".to_owned()),
            revoked_at: 30,
            log_index: size,
        }
    );
    assert_eq!(
        store.log_entries(size..size + 1).await.unwrap(),
        vec![b"{\"revoked\":1}".to_vec()]
    );
    // Revoked is final: a second revocation, or one of a release that does not exist, changes nothing.
    for version in ["1.0.0", "9.9.9"] {
        let refused = store
            .revoke_release(ids.1, version, revocation("again", None), b"{}".to_vec())
            .await
            .unwrap_err();
        assert!(matches!(refused, StoreError::Conflict { .. }), "{refused}");
        assert!(refused.to_string().contains(version), "{refused}");
    }
    assert_eq!(store.log_size().await.unwrap(), size + 1);
    // No other move leaves revoked.
    assert_eq!(
        store
            .change_release_state(ids.1, "1.0.0", "yanked", "available", None, b"{}".to_vec())
            .await
            .unwrap(),
        None
    );
    let second = store
        .revoke_release(
            ids.1,
            "1.1.0",
            revocation("same", None),
            b"{\"r\":2}".to_vec(),
        )
        .await
        .unwrap();
    let states: Vec<_> = store
        .releases_of(ids.1)
        .await
        .unwrap()
        .into_iter()
        .map(|release| release.state)
        .collect();
    assert_eq!(states, ["revoked", "revoked"]);
    // Another handle (another process) sees every revocation, in log order.
    let reopened = fixture.open_metadata().await;
    assert_eq!(reopened.revocations().await.unwrap(), vec![first, second]);
}

pub async fn a_lease_has_one_holder_until_it_is_given_up_or_runs_out(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let other = fixture.open_metadata().await;
    assert!(store.acquire_lease("signing", "a", 100, 130).await.unwrap());
    assert!(!other.acquire_lease("signing", "b", 110, 140).await.unwrap());
    // Another lease is independent; the holder may extend its own.
    assert!(other.acquire_lease("other", "b", 110, 140).await.unwrap());
    assert!(store.acquire_lease("signing", "a", 120, 150).await.unwrap());
    assert!(!other.acquire_lease("signing", "b", 149, 170).await.unwrap());
    // Only the holder gives it up.
    other.release_lease("signing", "b").await.unwrap();
    assert!(!other.acquire_lease("signing", "b", 149, 170).await.unwrap());
    store.release_lease("signing", "a").await.unwrap();
    assert!(other.acquire_lease("signing", "b", 149, 170).await.unwrap());
    // A holder that never gave it up (a killed process) loses it when its time runs out.
    assert!(!store.acquire_lease("signing", "a", 169, 200).await.unwrap());
    assert!(store.acquire_lease("signing", "a", 170, 200).await.unwrap());
}
