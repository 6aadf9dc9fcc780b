//! `locara-registry serve --demo`: a newcomer's registry publishes the example apps through the real
//! builder, under a `demo` publisher whose record says it is seeded, not verified; a restart after an
//! example changed commits the change and releases its new version.

mod common;

use std::ffi::OsStr;
use std::path::Path;
use std::time::{Duration, Instant};

use common::api::Api;
use common::examples::{wait_available, write_example};

#[tokio::test]
async fn the_demo_publishes_the_examples_through_the_builder_once() {
    let temp = tempfile::tempdir().unwrap();
    // A relative data directory, as the default `./locara-data` is: the repositories' file:// URLs must
    // still be absolute, or every build fails.
    let data = relative_to_current_dir(temp.path());
    assert!(data.is_relative());
    let examples = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
    let arguments = [
        OsStr::new("--demo"),
        OsStr::new("--demo-apps"),
        OsStr::new(examples),
    ];
    let server = common::start_serving(&data, &[], std::process::Stdio::null(), &arguments);
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
    let server = common::start_serving(&data, &[], std::process::Stdio::null(), &arguments);
    assert!(
        server
            .banner
            .iter()
            .any(|line| line.starts_with("demo: publisher `demo` seeded; 0 release(s) queued")),
        "{:?}",
        server.banner
    );
}

/// `path` (absolute) as a path relative to the current directory.
fn relative_to_current_dir(path: &Path) -> std::path::PathBuf {
    let current = std::env::current_dir().unwrap();
    let mut relative = std::path::PathBuf::new();
    for _ in current.components().skip(1) {
        relative.push("..");
    }
    relative.join(path.strip_prefix("/").unwrap())
}

/// Runs git in a demo repository, returning its output.
fn git(repository: &Path, args: &[&str]) -> String {
    let output = std::process::Command::new("git")
        .arg("-C")
        .arg(repository)
        .args(args)
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {output:?}");
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

#[tokio::test]
async fn a_restart_after_an_example_changed_commits_it_and_releases_the_new_version() {
    let data = tempfile::tempdir().unwrap();
    let examples = tempfile::tempdir().unwrap();
    write_example(examples.path(), "hello-c", "0.1.0", "Prints a greeting");
    let example = examples.path().join("hello-c");
    std::fs::write(example.join("NOTES.txt"), "to be removed\n").unwrap();
    let arguments = [
        OsStr::new("--demo"),
        OsStr::new("--demo-apps"),
        examples.path().as_os_str(),
    ];
    let start = || common::start_serving(data.path(), &[], std::process::Stdio::null(), &arguments);
    let queued = |server: &common::Server, count: usize| {
        let prefix = format!("demo: publisher `demo` seeded; {count} release(s) queued");
        assert!(
            server.banner.iter().any(|line| line.starts_with(&prefix)),
            "{:?}",
            server.banner
        );
    };
    let server = start();
    queued(&server, 1);
    let first = wait_available(&Api::new(&server.url), "demo/hello-c", "0.1.0").await;
    drop(server);

    // The newcomer edits the example: a new version, a changed source, a file removed.
    write_example(
        examples.path(),
        "hello-c",
        "0.2.0",
        "Prints a better greeting",
    );
    std::fs::write(
        example.join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hello again\"); return 0; }\n",
    )
    .unwrap();
    std::fs::remove_file(example.join("NOTES.txt")).unwrap();
    let server = start();
    queued(&server, 1);
    let api = Api::new(&server.url);
    let second = wait_available(&api, "demo/hello-c", "0.2.0").await;
    assert_ne!(first["commit"], second["commit"]);
    assert_eq!(second["reproducible"], true, "{second}");
    let repository = data.path().join("demo-repositories").join("hello-c");
    let commit = second["commit"].as_str().unwrap();
    assert_eq!(git(&repository, &["rev-parse", "HEAD"]), commit);
    assert!(git(&repository, &["show", &format!("{commit}:hello.c")]).contains("hello again"));
    assert_eq!(
        git(&repository, &["ls-tree", "--name-only", commit]),
        "hello.c\nlocara.toml"
    );
    // The first release is still there: nothing is replaced or deleted.
    let releases = api.get("/api/v1/apps/demo/hello-c/releases").await.body;
    assert_eq!(releases.as_array().unwrap().len(), 2, "{releases}");
    drop(server);

    // Nothing changed: nothing is committed or queued.
    let server = start();
    queued(&server, 0);
    assert_eq!(git(&repository, &["rev-parse", "HEAD"]), commit);
}
