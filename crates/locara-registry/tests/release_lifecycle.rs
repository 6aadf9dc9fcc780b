//! Yanking and deprecating releases over real HTTP, with accounts using TOTP, releases made by the real
//! builder, and the results read back from the transparency log and the signed app index: members may
//! (with a `yank` token and a fresh code), others may not; yanked releases are final; nothing is deleted.

mod common;

use std::time::{Duration, Instant};

use common::api::{Api, Reply, User, sign_up_with_two_factor};
use common::publishing::{World, world_for};
use locara_core::events::Event;
use locara_core::index::{AppIndex, IndexedRelease};
use locara_core::root::Root;
use locara_core::time::Timestamp;
use serde_json::{Value, json};

/// POSTs `action` (`yank`, `deprecate` or `cancel`) on `version` of `app` as `token`.
async fn act(
    api: &Api,
    token: &str,
    otp: Option<&str>,
    app: &str,
    version: &str,
    action: &str,
    body: Option<Value>,
) -> Reply {
    api.call(
        "POST",
        &format!("/api/v1/apps/{app}/releases/{version}/{action}"),
        Some(token),
        otp,
        body,
    )
    .await
}

/// The signed index of the world's app, verified under the pinned root.
async fn index(world: &World) -> AppIndex {
    let root =
        Root::load_pinned(&world.bytes("/root.json").await, &world.server.root_digest).unwrap();
    root.verify_metadata(
        &world.bytes(&format!("/index/{}.json", world.app)).await,
        Timestamp::now(),
        None,
    )
    .unwrap()
}

fn indexed<'a>(index: &'a AppIndex, version: &str) -> &'a IndexedRelease {
    index
        .releases
        .iter()
        .find(|release| release.version.to_string() == version)
        .unwrap_or_else(|| panic!("{version} is not in the index: {index:?}"))
}

async fn search(api: &Api, query: &str) -> Value {
    let reply = api.get(&format!("/api/v1/search?q={query}")).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body
}

/// Creates an API token for `user` with `scopes`, limited to `app`.
async fn token(api: &Api, user: &mut User, scopes: &[&str], app: &str) -> String {
    let code = user.otp().await;
    let reply = api
        .call(
            "POST",
            "/api/v1/tokens",
            Some(&user.token.clone()),
            Some(&code),
            Some(json!({"name": format!("ci-{}", scopes.join("-")), "scopes": scopes, "expires_in_days": 1, "app": app})),
        )
        .await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    reply.body["token"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_maintainer_deprecates_then_yanks_and_each_change_is_logged_and_indexed() {
    // Releases asking for more wait two seconds, so the test sees one become available on its own.
    let mut world = world_for(&[("LOCARA_REGISTRY_COOLDOWN_SECONDS", "2")], "acme/hello").await;
    let api = world.api.clone();
    let mut bob = sign_up_with_two_factor(&api, "bob").await;
    let carol = sign_up_with_two_factor(&api, "carol").await;
    let code = world.owner.otp().await;
    let reply = api
        .call(
            "PUT",
            "/api/v1/publishers/acme/members/bob",
            Some(&world.owner.token),
            Some(&code),
            Some(json!({"role": "maintainer"})),
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    world.release("1.0.0", "").await;
    world.release("1.1.0", "\"api.example.com:443\"").await;
    assert_eq!(world.releases().await[1]["state"], "cooling-down");
    let deadline = Instant::now() + Duration::from_secs(30);
    while world.releases().await[1]["state"] != "available" {
        assert!(Instant::now() < deadline, "the cool-down did not end");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    // Someone who is not a member of acme cannot touch its releases.
    let reply = act(
        &api,
        &carol.token,
        None,
        "acme/hello",
        "1.0.0",
        "yank",
        None,
    )
    .await;
    assert_eq!((reply.status, reply.problem()), (403, "not-a-member"));
    let reply = act(&api, &bob.token, None, "acme/hello", "9.9.9", "yank", None).await;
    assert_eq!((reply.status, reply.problem()), (404, "not-found"));

    // A deprecation needs a one-line message of at most 500 characters, and a fresh code.
    let message = "1.1.0 sends your notes to api.example.com; use 1.0.0";
    for bad in [
        json!({}),
        json!({"message": "two\nlines"}),
        json!({"message": "x".repeat(501)}),
        json!({"message": message, "extra": 1}),
    ] {
        let reply = act(
            &api,
            &bob.token,
            None,
            "acme/hello",
            "1.1.0",
            "deprecate",
            Some(bad),
        )
        .await;
        assert_eq!(
            (reply.status, reply.problem()),
            (400, "invalid-request"),
            "{}",
            reply.body
        );
    }
    let body = json!({"message": message});
    let reply = act(
        &api,
        &bob.token,
        None,
        "acme/hello",
        "1.1.0",
        "deprecate",
        Some(body.clone()),
    )
    .await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-required"));
    let code = bob.otp().await;
    let reply = act(
        &api,
        &bob.token,
        Some(&code),
        "acme/hello",
        "1.1.0",
        "deprecate",
        Some(body.clone()),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.body["state"].as_str(), reply.body["message"].as_str()),
        (Some("deprecated"), Some(message))
    );
    let listed = world.releases().await;
    assert_eq!(listed[1]["message"], message);
    assert!(listed[0].get("message").is_none(), "{listed}");
    let index_after_deprecation = index(&world).await;
    assert_eq!(
        indexed(&index_after_deprecation, "1.1.0").status,
        "deprecated"
    );
    assert_eq!(
        indexed(&index_after_deprecation, "1.1.0")
            .message
            .as_deref(),
        Some(message)
    );
    assert_eq!(indexed(&index_after_deprecation, "1.0.0").message, None);
    // A deprecated release still installs: search still offers it.
    let found = search(&api, "hello").await;
    assert_eq!(found[0]["latest_version"], "1.1.0", "{found}");
    // Deprecating twice is refused.
    let reply = act(
        &api,
        &bob.token,
        None,
        "acme/hello",
        "1.1.0",
        "deprecate",
        Some(body),
    )
    .await;
    assert_eq!((reply.status, reply.problem()), (409, "release-state"));

    // Yanking needs the `yank` scope: a `publish` token is not enough.
    let publish_only = token(&api, &mut bob, &["publish"], "acme/hello").await;
    let reply = act(
        &api,
        &publish_only,
        None,
        "acme/hello",
        "1.1.0",
        "yank",
        None,
    )
    .await;
    assert_eq!((reply.status, reply.problem()), (403, "token-scope"));
    assert!(reply.detail().contains("`yank`"), "{}", reply.detail());
    let yank_token = token(&api, &mut bob, &["yank"], "acme/hello").await;
    let code = bob.otp().await;
    let reason = json!({"reason": "leaks notes"});
    let reply = act(
        &api,
        &yank_token,
        Some(&code),
        "acme/hello",
        "1.1.0",
        "yank",
        Some(reason),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(
        (reply.body["state"].as_str(), reply.body["message"].as_str()),
        (Some("yanked"), Some(message)),
        "a yanked release keeps its deprecation message"
    );
    // Yanked is final.
    for action in ["yank", "deprecate"] {
        let body = json!({"message": "again"});
        let body = (action == "deprecate").then_some(body);
        let reply = act(&api, &bob.token, None, "acme/hello", "1.1.0", action, body).await;
        assert_eq!(
            (reply.status, reply.problem()),
            (409, "release-final"),
            "{action}"
        );
    }
    // The owner yanks the other one, without a reason (no body at all).
    let code = world.owner.otp().await;
    let owner_token = world.owner.token.clone();
    let reply = act(
        &api,
        &owner_token,
        Some(&code),
        "acme/hello",
        "1.0.0",
        "yank",
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    // Nothing was deleted; the index and the log say what happened, and by whom.
    let listed = world.releases().await;
    let states: Vec<&str> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|release| release["state"].as_str().unwrap())
        .collect();
    assert_eq!(states, ["yanked", "yanked"]);
    let index = index(&world).await;
    assert!(index.version > index_after_deprecation.version);
    assert_eq!(
        (
            indexed(&index, "1.0.0").status.as_str(),
            indexed(&index, "1.1.0").status.as_str()
        ),
        ("yanked", "yanked")
    );
    assert_eq!(indexed(&index, "1.1.0").message.as_deref(), Some(message));
    let changes: Vec<Event> = world
        .log_entries()
        .await
        .into_iter()
        .map(|entry| entry.event)
        .filter(|event| {
            matches!(
                event,
                Event::ReleaseYanked { .. } | Event::ReleaseDeprecated { .. }
            )
        })
        .collect();
    assert_eq!(
        changes,
        [
            Event::ReleaseDeprecated {
                app: "acme/hello".into(),
                version: "1.1.0".into(),
                message: message.into(),
                by: "bob".into(),
            },
            Event::ReleaseYanked {
                app: "acme/hello".into(),
                version: "1.1.0".into(),
                reason: Some("leaks notes".into()),
                by: "bob".into(),
            },
            Event::ReleaseYanked {
                app: "acme/hello".into(),
                version: "1.0.0".into(),
                reason: None,
                by: "alice".into(),
            },
        ]
    );
    // Nothing installable is left: search still finds the app, with no version or description.
    let found = search(&api, "acme").await;
    assert_eq!(found[0]["name"], "acme/hello");
    assert_eq!(
        (&found[0]["latest_version"], &found[0]["description"]),
        (&Value::Null, &Value::Null)
    );
}

#[tokio::test]
async fn a_cooling_down_release_can_be_yanked_but_not_deprecated() {
    let mut world = world_for(&[], "alice/hello").await;
    let api = world.api.clone();
    let token = world.owner.token.clone();
    world.release("1.0.0", "").await;
    // Deprecating the only installable release does not let the next one skip the cool-down.
    let code = world.owner.otp().await;
    let body = json!({"message": "1.1.0 is coming"});
    let reply = act(
        &api,
        &token,
        Some(&code),
        "alice/hello",
        "1.0.0",
        "deprecate",
        Some(body),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    world.release("1.1.0", "\"api.example.com:443\"").await;
    assert_eq!(world.releases().await[1]["state"], "cooling-down");
    let body = json!({"message": "use 1.0.0"});
    let reply = act(
        &api,
        &token,
        None,
        "alice/hello",
        "1.1.0",
        "deprecate",
        Some(body),
    )
    .await;
    assert_eq!((reply.status, reply.problem()), (409, "release-state"));
    assert!(
        reply.detail().contains("cooling-down"),
        "{}",
        reply.detail()
    );
    let code = world.owner.otp().await;
    let reply = act(
        &api,
        &token,
        Some(&code),
        "alice/hello",
        "1.1.0",
        "yank",
        None,
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["state"], "yanked");
    // A yanked release is no longer cooling down: it cannot be cancelled either.
    let reply = act(&api, &token, None, "alice/hello", "1.1.0", "cancel", None).await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    let index = index(&world).await;
    assert_eq!(indexed(&index, "1.1.0").status, "yanked");
    assert_eq!(indexed(&index, "1.0.0").status, "deprecated");
}
