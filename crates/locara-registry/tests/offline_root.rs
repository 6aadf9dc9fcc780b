//! `locara-registry keys`: a k-of-n root made offline, installed on a server, then rotated — with the real
//! binary, as an operator runs it.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use locara_core::digest::Digest;

fn registry(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_locara-registry"))
        .args(args)
        .output()
        .expect("run locara-registry")
}

fn ok(args: &[&str]) -> String {
    let output = registry(args);
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn refused(args: &[&str]) -> String {
    let output = registry(args);
    assert_eq!(output.status.code(), Some(1), "{args:?} should fail");
    String::from_utf8(output.stderr).unwrap()
}

/// Generates a key file and returns its public key string.
fn generate(path: &Path) -> String {
    let stdout = ok(&["keys", "generate", "--out", path.to_str().unwrap()]);
    stdout
        .lines()
        .find_map(|line| line.strip_prefix("public key: "))
        .expect("the public key is printed")
        .to_owned()
}

/// Starts the server on `data` and returns the digest it prints, the latest root it serves and its banner.
fn served_root(data: &Path) -> (Digest, Vec<u8>, Vec<String>) {
    let server = common::start(data);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (_, latest) = runtime.block_on(common::fetch(&format!("{}/root.json", server.url)));
    (server.root_digest, latest, server.banner.clone())
}

#[test]
fn a_two_of_three_root_is_made_offline_installed_and_rotated() {
    let dir = tempfile::tempdir().unwrap();
    let offline = dir.path().join("offline");
    std::fs::create_dir(&offline).unwrap();
    let data = dir.path().join("server-data");
    let path = |name: &str| offline.join(name).to_str().unwrap().to_owned();

    let public: Vec<String> = (1..=4)
        .map(|n| generate(&offline.join(format!("root-{n}.key"))))
        .collect();
    ok(&[
        "keys",
        "online",
        "--data",
        data.to_str().unwrap(),
        "--log-origin",
        "registry.test/log",
        "--out",
        &path("online.json"),
    ]);
    assert!(!data.join("keys/root.key").exists());

    // Version 1: root keys 1, 2, 3, two must sign; only key 1 signs at first.
    ok(&[
        "keys",
        "root",
        "--root-public",
        &public[0],
        "--root-public",
        &public[1],
        "--root-public",
        &public[2],
        "--threshold",
        "2",
        "--online",
        &path("online.json"),
        "--sign",
        &path("root-1.key"),
        "--out",
        &path("1.root.json"),
    ]);
    let stderr = refused(&["keys", "verify", "--root", &path("1.root.json")]);
    assert!(stderr.contains("2"), "{stderr}");
    // Key 4 is not a root key of version 1: nothing is signed.
    let stderr = refused(&[
        "keys",
        "sign",
        "--root",
        &path("1.root.json"),
        "--key",
        &path("root-4.key"),
    ]);
    assert!(stderr.contains("not a root key"), "{stderr}");
    ok(&[
        "keys",
        "sign",
        "--root",
        &path("1.root.json"),
        "--key",
        &path("root-2.key"),
    ]);
    ok(&["keys", "verify", "--root", &path("1.root.json")]);

    std::fs::create_dir_all(data.join("root")).unwrap();
    std::fs::copy(path("1.root.json"), data.join("root/1.root.json")).unwrap();
    let first = std::fs::read(path("1.root.json")).unwrap();
    let (digest, latest, banner) = served_root(&data);
    assert_eq!(digest, Digest::of_bytes(&first));
    assert_eq!(latest, first);
    assert!(
        !banner.iter().any(|line| line.contains("created")),
        "{banner:?}"
    );
    assert!(
        !data.join("keys/root.key").exists(),
        "the server never holds a root key"
    );

    // Version 2 replaces key 1 with key 4; keys 3 and 4 sign, which is the new threshold but only one
    // old key (3): the rotation is incomplete until another old key (1) signs.
    ok(&[
        "keys",
        "root",
        "--version",
        "2",
        "--root-public",
        &public[1],
        "--root-public",
        &public[2],
        "--root-public",
        &public[3],
        "--threshold",
        "2",
        "--online",
        &path("online.json"),
        "--sign",
        &path("root-3.key"),
        "--sign",
        &path("root-4.key"),
        "--out",
        &path("2.root.json"),
    ]);
    let stderr = refused(&["keys", "verify", "--root", &path("2.root.json")]);
    assert!(stderr.contains("--previous"), "{stderr}");
    refused(&[
        "keys",
        "verify",
        "--root",
        &path("2.root.json"),
        "--previous",
        &path("1.root.json"),
    ]);
    ok(&[
        "keys",
        "sign",
        "--root",
        &path("2.root.json"),
        "--key",
        &path("root-1.key"),
        "--previous",
        &path("1.root.json"),
    ]);
    ok(&[
        "keys",
        "verify",
        "--root",
        &path("2.root.json"),
        "--previous",
        &path("1.root.json"),
    ]);

    std::fs::copy(path("2.root.json"), data.join("root/2.root.json")).unwrap();
    let (digest, latest, _) = served_root(&data);
    assert_eq!(
        digest,
        Digest::of_bytes(&first),
        "clients keep the version 1 pin"
    );
    assert_eq!(latest, std::fs::read(path("2.root.json")).unwrap());
}

#[test]
fn a_server_refuses_an_installed_rotation_without_the_old_keys() {
    let dir = tempfile::tempdir().unwrap();
    let offline = dir.path().join("offline");
    std::fs::create_dir(&offline).unwrap();
    let data = dir.path().join("server-data");
    let path = |name: &str| offline.join(name).to_str().unwrap().to_owned();
    let old = generate(&offline.join("old.key"));
    let new = generate(&offline.join("new.key"));
    ok(&[
        "keys",
        "online",
        "--data",
        data.to_str().unwrap(),
        "--log-origin",
        "registry.test/log",
        "--out",
        &path("online.json"),
    ]);
    ok(&[
        "keys",
        "root",
        "--root-public",
        &old,
        "--threshold",
        "1",
        "--online",
        &path("online.json"),
        "--sign",
        &path("old.key"),
        "--out",
        &path("1.root.json"),
    ]);
    // A "rotation" signed only by the new key: what an attacker with the server but no root key could make.
    ok(&[
        "keys",
        "root",
        "--version",
        "2",
        "--root-public",
        &new,
        "--threshold",
        "1",
        "--online",
        &path("online.json"),
        "--sign",
        &path("new.key"),
        "--out",
        &path("2.root.json"),
    ]);
    std::fs::create_dir_all(data.join("root")).unwrap();
    std::fs::copy(path("1.root.json"), data.join("root/1.root.json")).unwrap();
    std::fs::copy(path("2.root.json"), data.join("root/2.root.json")).unwrap();
    let output = registry(&[
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--data",
        data.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("2.root.json"), "{stderr}");
}

#[test]
fn files_named_relative_to_the_working_directory_are_written_there() {
    let dir = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_locara-registry"))
        .args([
            "keys",
            "online",
            "--data",
            "data",
            "--log-origin",
            "registry.test/log",
            "--out",
            "online.json",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(dir.path().join("online.json").is_file());
    assert!(dir.path().join("data/keys/log.key").is_file());
}

#[test]
fn errors_name_the_file_once() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.root.json");
    let stderr = refused(&["keys", "verify", "--root", missing.to_str().unwrap()]);
    assert_eq!(stderr.matches("No such file").count(), 1, "{stderr}");
    assert!(stderr.contains("missing.root.json"), "{stderr}");
}
