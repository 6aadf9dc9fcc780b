//! `locara-registry serve --demo`: a newcomer's registry publishes the example apps through the real
//! builder, under a `demo` publisher whose record says it is seeded, not verified.

mod common;

use std::ffi::OsStr;
use std::time::{Duration, Instant};

use common::api::Api;

#[tokio::test]
async fn the_demo_publishes_the_examples_through_the_builder_once() {
    let data = tempfile::tempdir().unwrap();
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let arguments = [
        OsStr::new("--demo"),
        OsStr::new("--demo-apps"),
        OsStr::new(examples),
    ];
    let server = common::start_serving(data.path(), &[], std::process::Stdio::null(), &arguments);
    assert!(
        server
            .banner
            .iter()
            .any(|line| line.starts_with("demo: publisher `demo` seeded; 2 release(s) queued")),
        "{:?}",
        server.banner
    );
    let api = Api::new(&server.url);
    let publisher = api.get("/api/v1/publishers/demo").await.body;
    assert_eq!(publisher["verification"]["method"], "demo");
    assert!(
        publisher["verification"]["subject"]
            .as_str()
            .unwrap()
            .contains("not a verified identity")
    );
    let deadline = Instant::now() + Duration::from_secs(180);
    for app in ["hello-c", "hello-rust"] {
        loop {
            let releases = api
                .get(&format!("/api/v1/apps/demo/{app}/releases"))
                .await
                .body;
            if releases[0]["state"] == "available" {
                assert_eq!(releases[0]["version"], "0.1.0");
                assert_eq!(releases[0]["reproducible"], true, "{app}: {releases}");
                break;
            }
            assert!(
                Instant::now() < deadline,
                "demo/{app} was not released: {releases}"
            );
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
    }
    drop(server);
    // A second start seeds nothing new.
    let server = common::start_serving(data.path(), &[], std::process::Stdio::null(), &arguments);
    assert!(
        server
            .banner
            .iter()
            .any(|line| line.starts_with("demo: publisher `demo` seeded; 0 release(s) queued")),
        "{:?}",
        server.banner
    );
}
