//! Record behaviour: accounts, second factors, tokens, publishers, members, keys and apps, and that each
//! security change lands in the log in the same transaction as the record (or neither does).

use std::sync::Arc;

use locara_store::records::{
    AUTH_EVENT_RETENTION_SECONDS, AUTH_EVENTS_KEPT_PER_ACCOUNT, AuthEventKind, MemberRole,
    NewAccount, NewApp, NewAuthEvent, NewToken, TokenKind,
};
use locara_store::{MetadataStore, StoreError};

use super::Fixture;

fn entry(n: &str) -> Vec<u8> {
    format!("{{\"event\":\"{n}\"}}").into_bytes()
}

async fn account(store: &dyn MetadataStore, name: &str) -> i64 {
    let new = NewAccount {
        username: name.to_owned(),
        password_hash: "$argon2id$stored".to_owned(),
        created_at: 1_700_000_000,
    };
    let (account, _) = store.create_account(new, name, entry(name)).await.unwrap();
    account.id
}

pub async fn accounts_come_with_a_personal_publisher_and_a_log_entry(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let alice = account(store.as_ref(), "alice").await;
    assert_eq!(store.log_size().await.unwrap(), 1);
    let publisher = store.publisher_by_name("alice").await.unwrap().unwrap();
    let members = store.members(publisher.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(
        (members[0].account_id, members[0].role),
        (alice, MemberRole::Owner)
    );
    assert_eq!(
        store
            .account_by_username("alice")
            .await
            .unwrap()
            .unwrap()
            .id,
        alice
    );

    // A taken name, or a taken canonical form, is a conflict and appends nothing.
    let again = NewAccount {
        username: "alice".to_owned(),
        password_hash: "x".to_owned(),
        created_at: 1,
    };
    assert!(matches!(
        store.create_account(again, "alice", entry("dup")).await,
        Err(StoreError::Conflict { .. })
    ));
    let look_alike = NewAccount {
        username: "a-lice".to_owned(),
        password_hash: "x".to_owned(),
        created_at: 1,
    };
    let error = store
        .create_account(look_alike, "alice", entry("dup"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("`alice`"), "{error}");
    assert_eq!(store.log_size().await.unwrap(), 1);
    assert!(store.account_by_username("a-lice").await.unwrap().is_none());
}

pub async fn a_totp_step_is_accepted_once_even_by_racing_requests(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let alice = account(store.as_ref(), "alice").await;
    assert!(store.set_pending_totp(alice, &[7; 20]).await.unwrap());
    assert!(
        store
            .enable_totp(alice, 100, &["h1".to_owned()])
            .await
            .unwrap()
    );
    assert!(
        !store.set_pending_totp(alice, &[8; 20]).await.unwrap(),
        "enabled TOTP is not replaced"
    );
    assert!(!store.consume_totp_step(alice, 100).await.unwrap());
    // Twenty concurrent uses of step 101 (each on its own handle): exactly one wins.
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let store: Arc<dyn MetadataStore> = fixture.open_metadata().await;
        tasks.push(tokio::spawn(async move {
            store.consume_totp_step(alice, 101).await.unwrap()
        }));
    }
    let mut won = 0;
    for task in tasks {
        won += usize::from(task.await.unwrap());
    }
    assert_eq!(won, 1);
    assert!(store.consume_totp_step(alice, 103).await.unwrap());
    assert!(
        !store.consume_totp_step(alice, 102).await.unwrap(),
        "an earlier step after a later one"
    );
    // Recovery codes are single use.
    assert!(store.consume_recovery_code(alice, "h1", 5).await.unwrap());
    assert!(!store.consume_recovery_code(alice, "h1", 6).await.unwrap());
    assert!(!store.consume_recovery_code(alice, "nope", 6).await.unwrap());
}

pub async fn tokens_are_found_by_hash_listed_and_revoked_once(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let alice = account(store.as_ref(), "alice").await;
    let bob = account(store.as_ref(), "bob").await;
    let token = store
        .create_token(NewToken {
            account_id: alice,
            token_hash: "hash-1".to_owned(),
            name: "ci".to_owned(),
            kind: TokenKind::Api,
            scopes: vec!["publish".to_owned(), "yank".to_owned()],
            app: Some("alice/notes".to_owned()),
            created_at: 10,
            expires_at: 20,
        })
        .await
        .unwrap();
    let found = store.token_by_hash("hash-1").await.unwrap().unwrap();
    assert_eq!(found, token);
    assert_eq!(found.scopes, ["publish", "yank"]);
    assert!(store.token_by_hash("hash-2").await.unwrap().is_none());
    assert_eq!(store.tokens_of(alice).await.unwrap(), vec![token.clone()]);
    assert!(
        !store.revoke_token(bob, token.id, 30).await.unwrap(),
        "another account's token"
    );
    assert!(store.revoke_token(alice, token.id, 30).await.unwrap());
    assert!(!store.revoke_token(alice, token.id, 31).await.unwrap());
    assert_eq!(
        store
            .token_by_hash("hash-1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(30)
    );
}

pub async fn a_publisher_always_keeps_an_owner(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let alice = account(store.as_ref(), "alice").await;
    let bob = account(store.as_ref(), "bob").await;
    let (acme, _) = store
        .create_organisation("acme", "acme", alice, 5, entry("org"))
        .await
        .unwrap();
    store
        .put_member(acme.id, bob, MemberRole::Maintainer, 6, entry("add"))
        .await
        .unwrap();
    let size = store.log_size().await.unwrap();
    for refused in [
        store
            .remove_member(acme.id, alice, entry("remove-last-owner"))
            .await,
        store
            .put_member(acme.id, alice, MemberRole::Maintainer, 7, entry("demote"))
            .await,
    ] {
        assert!(
            matches!(refused, Err(StoreError::Conflict { .. })),
            "{refused:?}"
        );
    }
    assert_eq!(
        store.log_size().await.unwrap(),
        size,
        "refused changes append nothing"
    );
    store
        .put_member(acme.id, bob, MemberRole::Owner, 8, entry("promote"))
        .await
        .unwrap();
    store
        .remove_member(acme.id, alice, entry("leave"))
        .await
        .unwrap();
    let members = store.members(acme.id).await.unwrap();
    assert_eq!(members.len(), 1);
    assert_eq!(members[0].username, "bob");
    let publishers = store.publishers_of(bob).await.unwrap();
    assert_eq!(publishers.len(), 2);
}

pub async fn keys_are_never_reused_and_revocation_is_logged_once(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let alice = account(store.as_ref(), "alice").await;
    let publisher = store.publisher_by_name("alice").await.unwrap().unwrap();
    let index = store
        .register_key(publisher.id, "key-1", "pk", 10, entry("key"))
        .await
        .unwrap();
    let _ = alice;
    assert_eq!(
        store.publisher_keys(publisher.id).await.unwrap()[0].log_index,
        index
    );
    let size = store.log_size().await.unwrap();
    assert!(matches!(
        store
            .register_key(publisher.id, "key-1", "pk", 11, entry("again"))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        store.log_size().await.unwrap(),
        size,
        "the refused registration's entry rolled back"
    );
    let revoked = store
        .revoke_key(publisher.id, "key-1", 12, entry("revoke"))
        .await
        .unwrap();
    assert_eq!(revoked, Some(size));
    assert_eq!(
        store
            .revoke_key(publisher.id, "key-1", 13, entry("revoke"))
            .await
            .unwrap(),
        None
    );
    assert_eq!(store.log_size().await.unwrap(), size + 1);
    let key = &store.publisher_keys(publisher.id).await.unwrap()[0];
    assert_eq!(
        (key.revoked_at, key.revoked_log_index),
        (Some(12), Some(size))
    );
}

pub async fn apps_are_unique_by_name_and_canonical_form(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    account(store.as_ref(), "alice").await;
    let publisher = store.publisher_by_name("alice").await.unwrap().unwrap();
    let new = |name: &str, canonical: &str| NewApp {
        publisher_id: publisher.id,
        name: name.to_owned(),
        canonical: canonical.to_owned(),
        repository: "https://git.example/x".to_owned(),
        created_at: 1,
    };
    let app = store
        .register_app(new("alice/notes", "alice/notes"), entry("app"))
        .await
        .unwrap();
    assert_eq!(app.log_index, 1);
    let size = store.log_size().await.unwrap();
    let error = store
        .register_app(new("alice/no-tes", "alice/notes"), entry("look-alike"))
        .await
        .unwrap_err();
    assert!(error.to_string().contains("alice/notes"), "{error}");
    assert!(matches!(
        store
            .register_app(new("alice/notes", "other"), entry("dup"))
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(store.log_size().await.unwrap(), size);
    assert_eq!(store.app_names().await.unwrap(), ["alice/notes"]);
    assert_eq!(store.app_by_name("alice/notes").await.unwrap(), Some(app));
}

pub async fn account_events_are_kept_per_account_bounded_and_listed_newest_first(
    fixture: &impl Fixture,
) {
    let store = fixture.open_metadata().await;
    let alice = account(store.as_ref(), "alice").await;
    let bob = account(store.as_ref(), "bob").await;
    let event = |account_id, at, kind, address: &str, token_id| NewAuthEvent {
        account_id,
        at,
        kind,
        client_address: address.to_owned(),
        token_id,
    };
    let start = 1_800_000_000;
    let token = |account_id, hash: &str| NewToken {
        account_id,
        token_hash: hash.to_owned(),
        name: "session".to_owned(),
        kind: TokenKind::Session,
        scopes: Vec::new(),
        app: None,
        created_at: start,
        expires_at: start + 86_400,
    };
    let session = store
        .create_token(token(alice, "h-alice"))
        .await
        .unwrap()
        .id;
    let bob_session = store.create_token(token(bob, "h-bob")).await.unwrap().id;
    let first = store
        .record_auth_event(event(
            alice,
            start,
            AuthEventKind::PasswordFailed,
            "192.0.2.7",
            None,
        ))
        .await
        .unwrap();
    assert_eq!(first.event.kind, AuthEventKind::PasswordFailed);
    store
        .record_auth_event(event(
            bob,
            start + 1,
            AuthEventKind::CodeFailed,
            "198.51.100.1",
            Some(bob_session),
        ))
        .await
        .unwrap();
    for (offset, kind) in [
        (2, AuthEventKind::CodeFailed),
        (3, AuthEventKind::CodeReplayed),
        (4, AuthEventKind::RecoveryCodeFailed),
        (5, AuthEventKind::Locked),
    ] {
        store
            .record_auth_event(event(
                alice,
                start + offset,
                kind,
                "2001:db8::1",
                Some(session),
            ))
            .await
            .unwrap();
    }
    // Each kind round-trips; the list is the account's own, newest first, and limited.
    let recent = store.recent_auth_events(alice, 3).await.unwrap();
    let kinds: Vec<AuthEventKind> = recent.iter().map(|stored| stored.event.kind).collect();
    assert_eq!(
        kinds,
        [
            AuthEventKind::Locked,
            AuthEventKind::RecoveryCodeFailed,
            AuthEventKind::CodeReplayed
        ]
    );
    assert_eq!(recent[0].event.client_address, "2001:db8::1");
    assert_eq!(recent[0].event.token_id, Some(session));
    let since = store.auth_events_since(alice, start + 3).await.unwrap();
    assert_eq!(
        since
            .iter()
            .map(|stored| stored.event.at)
            .collect::<Vec<_>>(),
        [start + 3, start + 4, start + 5],
        "oldest first, from `since` on"
    );
    assert!(
        since.iter().all(|stored| stored.event.account_id == alice),
        "never another account's"
    );
    assert_eq!(store.recent_auth_events(bob, 100).await.unwrap().len(), 1);

    // Retention: an event past the retention period drops the account's older ones, and the count per
    // account is capped at the newest ones; another account's events are untouched.
    let later = start + AUTH_EVENT_RETENTION_SECONDS + 10;
    store
        .record_auth_event(event(
            alice,
            later,
            AuthEventKind::PasswordFailed,
            "192.0.2.7",
            None,
        ))
        .await
        .unwrap();
    let kept = store.recent_auth_events(alice, 10_000).await.unwrap();
    assert_eq!(kept.len(), 1, "events older than the retention period go");
    let extra = 5;
    for n in 0..(AUTH_EVENTS_KEPT_PER_ACCOUNT + extra) as u64 {
        store
            .record_auth_event(event(
                alice,
                later + n,
                AuthEventKind::CodeFailed,
                "192.0.2.7",
                Some(session),
            ))
            .await
            .unwrap();
    }
    let kept = store.recent_auth_events(alice, 10_000).await.unwrap();
    assert_eq!(kept.len(), AUTH_EVENTS_KEPT_PER_ACCOUNT);
    assert_eq!(
        kept.last().unwrap().event.at,
        later + extra as u64,
        "the oldest ones were dropped"
    );
    assert_eq!(store.recent_auth_events(bob, 100).await.unwrap().len(), 1);
}

pub async fn only_verified_publishers_are_listed_as_verified(fixture: &impl Fixture) {
    let store = fixture.open_metadata().await;
    let alice = account(store.as_ref(), "alice").await;
    let (acme, _) = store
        .create_organisation("acme", "acme", alice, 5, entry("org"))
        .await
        .unwrap();
    store
        .create_organisation("zenith", "zenith", alice, 5, entry("org2"))
        .await
        .unwrap();
    assert!(store.verified_publisher_names().await.unwrap().is_empty());
    store
        .mark_verified(acme.id, "dns", "acme.example", 6, entry("verified"))
        .await
        .unwrap();
    assert_eq!(store.verified_publisher_names().await.unwrap(), ["acme"]);
    assert_eq!(
        store.publisher_names().await.unwrap(),
        ["acme", "alice", "zenith"]
    );
}
