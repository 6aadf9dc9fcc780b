//! End to end: TUF's "endless data" attack. A registry, mirror or anyone on the wire answers with more
//! bytes than it should — without a `Content-Length`, for ever — and the real `locara` binary must stop at
//! the signed size of an artifact or provenance envelope, and at the documented cap of every other
//! document, naming what it was reading and where from. The attacker is the tampering [`proxy::Proxy`]
//! between the client and a real `locara-registry serve --demo`.

#![cfg(target_os = "linux")]

#[path = "support/demo.rs"]
mod demo;
#[path = "support/proxy.rs"]
mod proxy;
#[path = "support/rogue.rs"]
mod rogue;
mod support;

use demo::{Demo, Example};
use locara_cli::read_limits::Document;
use proxy::ENDLESS_LIMIT;
use rogue::Forgery;
use serde_json::Value;
use support::{Client, Run};

/// How much more than a cap the proxy may have written before the client hung up: what loopback socket
/// buffers hold. A client that kept reading would take [`ENDLESS_LIMIT`].
const SOCKET_SLACK: u64 = 32 * 1024 * 1024;

/// Asserts that the run failed with `code` and that its error holds every one of `needles`.
#[track_caller]
fn assert_refused(run: &Run, needles: &[&str]) {
    assert_eq!(run.code, 1, "expected exit code 1:\n{run:#?}");
    for needle in needles {
        assert!(
            run.stderr.contains(needle),
            "the error does not say {needle:?}:\n{}",
            run.stderr
        );
    }
}

/// `locara --json list`'s apps.
fn installed(client: &Client) -> Vec<Value> {
    client.run(&["--json", "list"]).success().json()["apps"]
        .as_array()
        .unwrap()
        .clone()
}

/// What is left in the install store's downloads directory (always nothing: downloads have no name).
fn leftover_downloads(client: &Client) -> Vec<String> {
    match std::fs::read_dir(client.home().join("data/store/downloads")) {
        Ok(entries) => entries
            .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// The release as the signed index lists it: (log index, artifact path, artifact size, provenance path,
/// provenance size).
fn listed_release(listed: &Value) -> (u64, String, u64, String, u64) {
    let blob = |field: &str| format!("/blobs/sha256/{}", &listed[field].as_str().unwrap()[7..]);
    (
        listed["log_index"].as_u64().unwrap(),
        blob("artifact"),
        listed["artifact_size"]
            .as_u64()
            .expect("new releases are indexed with their artifact size"),
        blob("provenance"),
        listed["provenance_size"]
            .as_u64()
            .expect("new releases are indexed with their provenance size"),
    )
}

#[test]
fn an_artifact_is_read_to_exactly_its_signed_size() {
    let demo = Demo::start(&[Example::new("plain", "1.0.0")], &[]);
    let listed = demo.wait_listed(&Example::new("plain", "1.0.0"));
    let (log_index, artifact_path, size, _, _) = listed_release(&listed);
    let artifact = demo.get_ok(&artifact_path);
    assert_eq!(
        artifact.len() as u64,
        size,
        "the index names the blob's size"
    );
    let entry = String::from_utf8(demo.get_ok(&format!("/log/entries/{log_index}"))).unwrap();
    assert!(
        entry.contains(&format!("\"artifact_size\":{size}")),
        "the signed log entry names the size: {entry}"
    );
    let client = demo.client();
    let install = || client.run(&["install", "demo/plain", "--min-age", "0"]);
    let url = format!("{}{artifact_path}", demo.proxy.url);

    // Endless data with no Content-Length: the client stops at the first byte past the signed size.
    demo.proxy.respond_endlessly(&artifact_path);
    assert_refused(
        &install(),
        &[
            &url,
            &format!(
                "sent more than the {size} bytes that the signed release record gives for the artifact"
            ),
            "endless-data attack",
            "nothing was installed",
        ],
    );
    let sent = demo.proxy.sent(&artifact_path);
    assert!(
        sent < SOCKET_SLACK,
        "the client read on: the proxy sent {sent} bytes for a {size}-byte artifact"
    );

    // The real bytes and one more, announced honestly: refused before reading.
    let mut longer = artifact.clone();
    longer.push(b'!');
    demo.proxy.respond(&artifact_path, 200, &longer);
    assert_refused(
        &install(),
        &[&format!(
            "announced {} bytes, but the signed release record gives {size} for the artifact",
            size + 1
        )],
    );
    // The same without a Content-Length: refused at the extra byte.
    demo.proxy.respond_unannounced(&artifact_path, &longer);
    assert_refused(
        &install(),
        &[&format!(
            "sent more than the {size} bytes that the signed release record gives for the artifact"
        )],
    );
    // One byte short, without a Content-Length: refused as cut off.
    demo.proxy
        .respond_unannounced(&artifact_path, &artifact[..artifact.len() - 1]);
    assert_refused(
        &install(),
        &[&format!(
            "ended after {} bytes, but the signed release record gives {size} for the artifact",
            size - 1
        )],
    );
    assert!(installed(&client).is_empty());
    assert_eq!(leftover_downloads(&client), Vec::<String>::new());

    // The registry's own bytes install.
    demo.proxy.restore_all();
    install().success();
    assert_eq!(installed(&client).len(), 1);
    assert_eq!(leftover_downloads(&client), Vec::<String>::new());
}

#[test]
fn every_document_stops_at_its_cap() {
    let plain = Example::new("plain", "1.0.0");
    let mut demo = Demo::start(std::slice::from_ref(&plain), &[]);
    let (log_index, _, _, provenance_path, provenance_size) =
        listed_release(&demo.wait_listed(&plain));

    // `registry add` reads root.json.
    demo.proxy.respond_endlessly("/root.json");
    let client = Client::new();
    let run = client.run(&[
        "registry",
        "add",
        "main",
        &demo.proxy.url,
        "--root",
        demo.root_digest(),
    ]);
    assert_ne!(run.code, 0, "{run:#?}");
    assert_capped(&demo, &run, "/root.json", Document::Root);
    demo.proxy.restore_all();

    let client = demo.client();
    let install = || client.run(&["install", "demo/plain", "--min-age", "0"]);
    let documents = [
        ("/timestamp.json", Document::Timestamp),
        ("/log/checkpoint", Document::Checkpoint),
        ("/revocations.json", Document::Revocations),
        ("/index/demo/plain.json", Document::AppIndex),
        (&*format!("/log/entries/{log_index}"), Document::LogEntry),
        ("/log/proof/inclusion*", Document::Proof),
        ("/api/v1/publishers/demo/keys*", Document::ApiJson),
    ];
    for (target, document) in documents {
        demo.proxy.respond_endlessly(target);
        assert_capped(&demo, &install(), target, document);
        demo.proxy.restore_all();
    }
    // The provenance envelope has a signed size.
    demo.proxy.respond_endlessly(&provenance_path);
    assert_refused(
        &install(),
        &[&format!(
            "sent more than the {provenance_size} bytes that the signed release record gives for the provenance envelope"
        )],
    );
    demo.proxy.restore_all();
    assert!(installed(&client).is_empty());

    // A consistency proof is read once the client has a checkpoint and the log grew.
    install().success();
    demo.release(&plain.at("1.0.1"));
    demo.proxy.respond_endlessly("/log/proof/consistency*");
    assert_capped(
        &demo,
        &client.run(&["update", "--min-age", "0"]),
        "/log/proof/consistency*",
        Document::Proof,
    );
    demo.proxy.restore_all();
    client.run(&["update", "--min-age", "0"]).success();
    assert_eq!(installed(&client)[0]["version"], "1.0.1");
    assert_eq!(leftover_downloads(&client), Vec::<String>::new());
}

/// Asserts that `run` was refused at `document`'s cap for the endless answer to `target`.
#[track_caller]
fn assert_capped(demo: &Demo, run: &Run, target: &str, document: Document) {
    let cap = document.bound().most();
    assert_ne!(run.code, 0, "{target}: {run:#?}");
    let said = format!("sent more than {cap} bytes, the most this client reads of {document}");
    assert!(
        run.stderr.contains(&said) && run.stderr.contains(&demo.proxy.url),
        "{target}: the error does not say {said:?} naming the source:\n{}",
        run.stderr
    );
    let sent = demo.proxy.sent(target);
    assert!(
        sent > 0 && sent < cap + SOCKET_SLACK && sent < ENDLESS_LIMIT,
        "{target}: the proxy sent {sent} bytes against a cap of {cap}"
    );
}

#[test]
fn a_release_recorded_without_sizes_still_installs_and_info_says_so() {
    let plain = Example::new("plain", "1.0.0");
    let mut demo = Demo::start(std::slice::from_ref(&plain), &[]);
    demo.stop();
    rogue::record_forged_release(&demo, &plain.at("1.0.1"), Forgery::NothingWithoutSizes);
    demo.start_server();
    let listed = demo.wait_listed(&plain.at("1.0.1"));
    assert!(listed.get("artifact_size").is_none(), "{listed}");
    let client = demo.client();

    let info = client.run(&["info", "demo/plain"]).success();
    assert!(
        info.stdout.contains(
            "size:         not recorded (released before sizes were signed; a download of it is capped"
        ),
        "{}",
        info.stdout
    );
    assert!(
        info.stdout
            .contains("bytes (signed: a download stops at exactly this size)"),
        "1.0.0 has a signed size: {}",
        info.stdout
    );
    client
        .run(&["install", "demo/plain", "--min-age", "0"])
        .success();
    assert_eq!(installed(&client)[0]["version"], "1.0.1");
    client.run(&["verify"]).success();
}
