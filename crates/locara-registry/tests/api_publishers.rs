//! Publishers, DNS verification, members, release keys, app names and the log entries they make, over
//! real HTTP against the real binary, with a real authoritative DNS server on 127.0.0.1.

mod common;

use common::api::{Api, User, sign_up_with_two_factor};
use locara_core::events::{Event, LogEntry};
use locara_core::keys::SigningKey;
use locara_testkit::dns::DnsServer;
use serde_json::json;

struct World {
    _data: tempfile::TempDir,
    _server: common::Server,
    api: Api,
    dns: DnsServer,
}

async fn world() -> World {
    let dns = DnsServer::start("example.test").await.unwrap();
    let data = tempfile::tempdir().unwrap();
    let resolver = dns.address().to_string();
    let server = common::start_with(data.path(), &[("LOCARA_REGISTRY_DNS_RESOLVER", &resolver)]);
    let api = Api::new(&server.url);
    World {
        _data: data,
        _server: server,
        api,
        dns,
    }
}

async fn verify_by_dns(world: &World, owner: &mut User, publisher: &str, domain: &str) {
    common::api::verify_by_dns(&world.api, &world.dns, owner, publisher, domain).await;
}

async fn log_events(api: &Api) -> Vec<Event> {
    let checkpoint = api_text(api, "/log/checkpoint").await;
    let size: u64 = checkpoint.lines().nth(1).unwrap().parse().unwrap();
    let mut events = Vec::new();
    for index in 0..size {
        let (status, bytes) = common::fetch(&format!("{}/log/entries/{index}", api.base)).await;
        assert_eq!(status, 200, "entry {index}");
        events.push(LogEntry::from_bytes(&bytes).unwrap().event);
    }
    events
}

async fn api_text(api: &Api, path: &str) -> String {
    let (status, bytes) = common::fetch(&format!("{}{path}", api.base)).await;
    assert_eq!(status, 200, "{path}");
    String::from_utf8(bytes).unwrap()
}

#[tokio::test]
async fn dns_verification_needs_the_issued_token_in_the_challenge_record() {
    let world = world().await;
    let api = &world.api;
    let mut alice = sign_up_with_two_factor(api, "alice").await;
    let token = alice.token.clone();
    let start = |domain: &str| {
        let body = json!({"domain": domain});
        let token = token.clone();
        async move {
            api.call(
                "POST",
                "/api/v1/publishers/alice/verification/dns",
                Some(&token),
                None,
                Some(body),
            )
            .await
        }
    };
    assert_eq!(start("not a domain").await.problem(), "invalid-request");
    let reply = start("alice.example.test").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        reply.body["record_name"],
        "_locara-challenge.alice.example.test"
    );
    let record = reply.body["record_value"].as_str().unwrap().to_owned();

    let check = |code: String| {
        let token = token.clone();
        async move {
            api.call(
                "POST",
                "/api/v1/publishers/alice/verification/dns/check",
                Some(&token),
                Some(&code),
                Some(json!({"domain": "alice.example.test"})),
            )
            .await
        }
    };
    // No record at all.
    let reply = check(alice.otp().await).await;
    assert_eq!(
        (reply.status, reply.problem()),
        (422, "dns-verification-failed"),
        "{}",
        reply.body
    );
    // A record with someone else's token.
    world
        .dns
        .set_txt(
            "_locara-challenge.alice.example.test",
            &["locara-verify=not-yours"],
        )
        .await
        .unwrap();
    let reply = check(alice.otp().await).await;
    assert_eq!(reply.problem(), "dns-verification-failed");
    assert!(
        reply.detail().contains("do not hold the token"),
        "{}",
        reply.detail()
    );
    let publisher = api.get("/api/v1/publishers/alice").await;
    assert_eq!(publisher.body["verification"], json!(null));
    // The right token.
    world
        .dns
        .set_txt("_locara-challenge.alice.example.test", &[&record])
        .await
        .unwrap();
    let reply = check(alice.otp().await).await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert_eq!(reply.body["verification"]["method"], "dns");
    assert_eq!(reply.body["verification"]["subject"], "alice.example.test");
    assert!(log_events(api).await.contains(&Event::PublisherVerified {
        publisher: "alice".into(),
        method: "dns".into(),
        subject: "alice.example.test".into(),
        by: "alice".into(),
    }));
}

#[tokio::test]
async fn only_verified_publishers_register_apps_and_look_alike_names_are_refused() {
    let world = world().await;
    let api = &world.api;
    let mut alice = sign_up_with_two_factor(api, "alice").await;
    let mut mallory = sign_up_with_two_factor(api, "mallory").await;
    // Refused requests are sent without a code: every other check comes before the code is asked for.
    let register = |token: String, code: Option<String>, name: &str| {
        let body = json!({"name": name, "repository": "https://git.example/notes"});
        async move {
            api.call(
                "POST",
                "/api/v1/apps",
                Some(&token),
                code.as_deref(),
                Some(body),
            )
            .await
        }
    };
    let reply = register(alice.token.clone(), None, "alice/notes-search").await;
    assert_eq!(
        (reply.status, reply.problem()),
        (403, "publisher-unverified")
    );

    verify_by_dns(&world, &mut alice, "alice", "alice.example.test").await;
    verify_by_dns(&world, &mut mallory, "mallory", "mallory.example.test").await;
    // A stolen admin token alone cannot register an app: a fresh code is needed too.
    let reply = register(alice.token.clone(), None, "alice/notes-search").await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-required"));
    let reply = register(
        alice.token.clone(),
        Some("000000".to_owned()),
        "alice/notes-search",
    )
    .await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-invalid"));
    let code = alice.otp().await;
    let reply = register(alice.token.clone(), Some(code), "alice/notes-search").await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(
        api.get("/api/v1/apps/alice/notes-search").await.body["repository"],
        "https://git.example/notes"
    );

    for (owner, candidate) in [
        (&alice, "alice/notes_search"),           // separators, same publisher
        (&alice, "alice/notessearch"),            // separators, same publisher
        (&mallory, "mallory/Notes-Search"),       // case
        (&mallory, "mallory/notes-search"),       // the same app name under another publisher
        (&mallory, "mallory/n\u{43e}tes-search"), // Cyrillic o
        (&mallory, "mallory/notes-se\u{3b1}rch"), // Greek alpha
        (&mallory, "mallory/notes-serch"),        // one letter dropped
        (&mallory, "mallory/notes-saerch"),       // two letters swapped
    ] {
        let reply = register(owner.token.clone(), None, candidate).await;
        assert_eq!(
            (reply.status, reply.problem()),
            (409, "name-collision"),
            "{candidate}: {}",
            reply.body
        );
        assert!(
            reply.detail().contains("alice/notes-search"),
            "{candidate}: {}",
            reply.detail()
        );
    }
    // Invalid but not colliding: the name rules speak.
    let reply = register(mallory.token.clone(), None, "mallory/Calendar").await;
    assert_eq!(reply.problem(), "invalid-request");
    // A clearly different name is fine; someone else's publisher is not.
    let code = mallory.otp().await;
    assert_eq!(
        register(mallory.token.clone(), Some(code), "mallory/calendar")
            .await
            .status,
        201
    );
    let reply = register(mallory.token.clone(), None, "alice/calendar-two").await;
    assert_eq!((reply.status, reply.problem()), (403, "not-an-owner"));
    // The repository must be https (or file:// on the registry's machine).
    let body = json!({"name": "mallory/weather", "repository": "http://git.example/w"});
    let reply = api
        .call(
            "POST",
            "/api/v1/apps",
            Some(&mallory.token),
            None,
            Some(body),
        )
        .await;
    assert_eq!(reply.problem(), "invalid-request");

    let events = log_events(api).await;
    assert!(events.contains(&Event::AppRegistered {
        app: "alice/notes-search".into(),
        repository: "https://git.example/notes".into(),
        by: "alice".into(),
    }));
}

#[tokio::test]
async fn organisations_members_and_the_last_owner() {
    let world = world().await;
    let api = &world.api;
    let mut alice = sign_up_with_two_factor(api, "alice").await;
    let mut bob = sign_up_with_two_factor(api, "bob").await;
    let reply = api
        .call(
            "POST",
            "/api/v1/publishers",
            Some(&alice.token),
            None,
            Some(json!({"name": "acme"})),
        )
        .await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-required"));
    common::api::create_organisation(api, &mut alice, "acme").await;
    // A look-alike of an existing publisher or account (refused before any code is asked for).
    let reply = api
        .call(
            "POST",
            "/api/v1/publishers",
            Some(&bob.token),
            None,
            Some(json!({"name": "ac-me"})),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);

    let member = |token: String, otp: Option<String>, role: &str, who: &str| {
        let path = format!("/api/v1/publishers/acme/members/{who}");
        let body = json!({"role": role});
        async move {
            api.call("PUT", &path, Some(&token), otp.as_deref(), Some(body))
                .await
        }
    };
    let reply = member(alice.token.clone(), None, "maintainer", "bob").await;
    assert_eq!((reply.status, reply.problem()), (401, "otp-required"));
    let code = alice.otp().await;
    let reply = member(alice.token.clone(), Some(code), "maintainer", "bob").await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    // A maintainer cannot change membership.
    let code = bob.otp().await;
    let reply = member(bob.token.clone(), Some(code), "owner", "bob").await;
    assert_eq!((reply.status, reply.problem()), (403, "not-an-owner"));
    // The last owner cannot leave or be demoted.
    let code = alice.otp().await;
    let reply = api
        .call(
            "DELETE",
            "/api/v1/publishers/acme/members/alice",
            Some(&alice.token),
            Some(&code),
            None,
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    let code = alice.otp().await;
    let reply = member(alice.token.clone(), Some(code), "maintainer", "alice").await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    // Personal publishers have no other members.
    let code = alice.otp().await;
    let reply = api
        .call(
            "PUT",
            "/api/v1/publishers/alice/members/bob",
            Some(&alice.token),
            Some(&code),
            Some(json!({"role": "owner"})),
        )
        .await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    let code = alice.otp().await;
    let reply = api
        .call(
            "DELETE",
            "/api/v1/publishers/acme/members/bob",
            Some(&alice.token),
            Some(&code),
            None,
        )
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);

    let events = log_events(api).await;
    let expected = [
        Event::PublisherCreated {
            publisher: "alice".into(),
            kind: "user".into(),
            by: "alice".into(),
        },
        Event::PublisherCreated {
            publisher: "bob".into(),
            kind: "user".into(),
            by: "bob".into(),
        },
        Event::PublisherCreated {
            publisher: "acme".into(),
            kind: "organisation".into(),
            by: "alice".into(),
        },
        Event::MemberAdded {
            publisher: "acme".into(),
            member: "bob".into(),
            role: "maintainer".into(),
            by: "alice".into(),
        },
        Event::MemberRemoved {
            publisher: "acme".into(),
            member: "bob".into(),
            by: "alice".into(),
        },
    ];
    assert_eq!(events, expected, "refused changes must leave no entry");
}

#[tokio::test]
async fn release_keys_are_registered_and_revoked_with_a_fresh_code_and_logged() {
    let world = world().await;
    let api = &world.api;
    let mut alice = sign_up_with_two_factor(api, "alice").await;
    let key = SigningKey::generate().unwrap();
    // The registry answers and logs `ed25519:<base64>` however the key was sent; the bare base64 older
    // clients send is still read.
    let spelled = key.public_key().to_string();
    let public = key.public_key().to_base64();
    let key_id = key.key_id().to_string();
    let token = alice.token.clone();
    let register = |otp: Option<String>, public_key: String| {
        let token = token.clone();
        async move {
            api.call(
                "POST",
                "/api/v1/publishers/alice/keys",
                Some(&token),
                otp.as_deref(),
                Some(json!({"public_key": public_key})),
            )
            .await
        }
    };
    assert_eq!(
        register(None, public.clone()).await.problem(),
        "otp-required"
    );
    assert_eq!(
        register(Some("000000".into()), "not base64!".into())
            .await
            .problem(),
        "invalid-request"
    );
    let reply = register(Some(alice.otp().await), public.clone()).await;
    assert_eq!(reply.status, 201, "{}", reply.body);
    assert_eq!(reply.body["key_id"], key_id.as_str());
    let registered_at = reply.body["log_index"].as_u64().unwrap();
    assert_eq!(reply.body["public_key"], spelled.as_str());
    // Key ids are never reused, in either spelling.
    let reply = register(Some(alice.otp().await), spelled.clone()).await;
    assert_eq!(reply.status, 409, "{}", reply.body);

    let keys = api.get("/api/v1/publishers/alice/keys").await;
    assert_eq!(keys.body[0]["public_key"], spelled.as_str());
    let code = alice.otp().await;
    let path = format!("/api/v1/publishers/alice/keys/{key_id}");
    let reply = api
        .call("DELETE", &path, Some(&alice.token), Some(&code), None)
        .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    assert!(reply.body["revoked_at"].is_string());
    let code = alice.otp().await;
    let reply = api
        .call("DELETE", &path, Some(&alice.token), Some(&code), None)
        .await;
    assert_eq!(reply.status, 404);

    let events = log_events(api).await;
    assert_eq!(
        events[registered_at as usize],
        Event::KeyRegistered {
            publisher: "alice".into(),
            key_id: key_id.clone(),
            public_key: spelled,
            by: "alice".into()
        }
    );
    assert_eq!(
        events.last().unwrap(),
        &Event::KeyRevoked {
            publisher: "alice".into(),
            key_id,
            by: "alice".into()
        }
    );
    // timestamp.json names the checkpoint that covers these entries.
    let timestamp = api_text(api, "/timestamp.json").await;
    let checkpoint = api_text(api, "/log/checkpoint").await;
    let digest = locara_core::digest::Digest::of_bytes(checkpoint.as_bytes()).to_string();
    assert!(
        timestamp.contains(&digest),
        "timestamp.json does not name the served checkpoint"
    );
}

#[tokio::test]
async fn look_alikes_of_a_verified_publisher_are_refused_naming_it() {
    let world = world().await;
    let api = &world.api;
    let mut alice = sign_up_with_two_factor(api, "alice").await;
    let mut bob = sign_up_with_two_factor(api, "bob").await;
    common::api::create_organisation(api, &mut alice, "acme").await;
    // While `acme` is unverified its neighbours are free: an unverified publisher cannot publish, and
    // anyone could otherwise block a name's whole neighbourhood by creating it first.
    common::api::create_organisation(api, &mut bob, "acmee").await;
    verify_by_dns(&world, &mut alice, "acme", "acme.example.test").await;

    let create = |name: &str| {
        let body = json!({"name": name});
        let token = bob.token.clone();
        async move {
            api.call("POST", "/api/v1/publishers", Some(&token), None, Some(body))
                .await
        }
    };
    // Refused before a code is asked for, naming the original.
    for candidate in ["acme1", "acne", "acm", "acmes"] {
        let reply = create(candidate).await;
        assert_eq!(
            (reply.status, reply.problem()),
            (409, "name-collision"),
            "{candidate}: {}",
            reply.body
        );
        assert!(
            reply.detail().contains("`acme`") && reply.detail().contains(candidate),
            "{candidate}: {}",
            reply.detail()
        );
    }
    // `acrne` reads as `acme` once folded: the canonical-form rule refuses it, as for any publisher.
    let reply = create("acrne").await;
    assert_eq!(reply.status, 409, "{}", reply.body);
    assert!(reply.detail().contains("`acme`"), "{}", reply.detail());
    // An account's personal publisher gets the same rule.
    let reply = api
        .call(
            "POST",
            "/api/v1/accounts",
            None,
            None,
            Some(json!({"username": "acme2", "password": common::api::PASSWORD})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (409, "name-collision"),
        "{}",
        reply.body
    );
    // The look-alike created earlier cannot become verified now.
    let reply = api
        .call(
            "POST",
            "/api/v1/publishers/acmee/verification/dns/check",
            Some(&bob.token),
            None,
            Some(json!({"domain": "acmee.example.test"})),
        )
        .await;
    assert_eq!(
        (reply.status, reply.problem()),
        (409, "name-collision"),
        "{}",
        reply.body
    );
    assert!(reply.detail().contains("`acme`"), "{}", reply.detail());
    // A clearly different name is fine.
    common::api::create_organisation(api, &mut bob, "zenith").await;
}
