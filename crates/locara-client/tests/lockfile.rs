//! The lockfile: round trips, deterministic output, atomic saves and every refusal.

use locara_client::lockfile::{LOCKFILE_NAME, LockedApp, Lockfile, LockfileError};
use locara_core::digest::Digest;

fn digest(seed: &str) -> Digest {
    Digest::of_bytes(seed.as_bytes())
}

fn locked(name: &str, version: &str, log_index: u64) -> LockedApp {
    LockedApp {
        name: name.parse().unwrap(),
        version: version.parse().unwrap(),
        registry: "main".to_owned(),
        registry_url: "https://registry.example.com".to_owned(),
        root: digest("root"),
        artifact: digest(&format!("{name}@{version} artifact")),
        provenance: digest(&format!("{name}@{version} provenance")),
        log_index,
    }
}

fn sample() -> Lockfile {
    Lockfile {
        apps: vec![
            locked("acme/notes-search", "1.4.2", 12),
            locked("zeta/clock", "0.3.0", 40),
            locked("acme/calendar", "2.0.0-rc.1", 7),
        ],
    }
}

/// A valid one-app lockfile whose app table starts at line 3; `extra` is inserted after `log_index`.
fn one_app(extra: &str) -> String {
    format!(
        "version = 1\n\
         \n\
         [[app]]\n\
         name = \"acme/notes-search\"\n\
         version = \"1.4.2\"\n\
         registry = \"main\"\n\
         registry_url = \"https://registry.example.com\"\n\
         root = \"{root}\"\n\
         artifact = \"{artifact}\"\n\
         provenance = \"{provenance}\"\n\
         log_index = 12\n\
         {extra}",
        root = digest("root"),
        artifact = digest("artifact"),
        provenance = digest("provenance"),
    )
}

fn refusal(text: &str) -> String {
    match Lockfile::parse(text, "locara.lock") {
        Ok(lockfile) => panic!("expected a refusal, parsed {lockfile:?}"),
        Err(error) => error.to_string(),
    }
}

fn assert_mentions(message: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            message.contains(needle),
            "{message:?} should mention {needle:?}"
        );
    }
}

#[test]
fn round_trips_through_toml() {
    let lockfile = sample();
    let text = lockfile.to_toml();
    let parsed = Lockfile::parse(&text, "locara.lock").unwrap();
    let mut expected = lockfile.apps.clone();
    expected.sort_by(|a, b| a.name.cmp(&b.name));
    assert_eq!(parsed.apps, expected);
    assert_eq!(parsed.to_toml(), text);
}

#[test]
fn output_is_identical_for_shuffled_input() {
    let mut reversed = sample();
    reversed.apps.reverse();
    let mut rotated = sample();
    rotated.apps.rotate_left(1);
    assert_eq!(sample().to_toml(), reversed.to_toml());
    assert_eq!(sample().to_toml(), rotated.to_toml());
}

#[test]
fn output_has_header_comment_sorted_apps_and_fixed_key_order() {
    let text = sample().to_toml();
    assert!(text.starts_with("# This file is written by `locara lock`"));
    let names: Vec<&str> = text
        .lines()
        .filter_map(|line| line.strip_prefix("name = "))
        .collect();
    assert_eq!(
        names,
        [
            "\"acme/calendar\"",
            "\"acme/notes-search\"",
            "\"zeta/clock\""
        ]
    );
    let first_app: Vec<&str> = text
        .split("[[app]]\n")
        .nth(1)
        .unwrap()
        .lines()
        .map(|line| line.split(" = ").next().unwrap())
        .filter(|key| !key.is_empty())
        .collect();
    assert_eq!(
        first_app,
        [
            "name",
            "version",
            "registry",
            "registry_url",
            "root",
            "artifact",
            "provenance",
            "log_index"
        ]
    );
}

#[test]
fn empty_lockfile_is_just_the_header_and_format() {
    let text = Lockfile::default().to_toml();
    assert!(text.ends_with("version = 1\n"));
    assert_eq!(
        Lockfile::parse(&text, "locara.lock").unwrap(),
        Lockfile::default()
    );
}

#[test]
fn insert_replaces_an_entry_for_the_same_app() {
    let mut lockfile = sample();
    let previous = lockfile.insert(locked("acme/notes-search", "1.4.3", 20));
    assert_eq!(previous.unwrap().version.to_string(), "1.4.2");
    assert_eq!(lockfile.apps.len(), 3);
    let name = "acme/notes-search".parse().unwrap();
    assert_eq!(lockfile.get(&name).unwrap().log_index, 20);
    assert!(
        lockfile
            .insert(locked("acme/new-app", "1.0.0", 1))
            .is_none()
    );
    assert_eq!(lockfile.apps.len(), 4);
}

#[test]
fn save_then_load_returns_the_same_lockfile() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(LOCKFILE_NAME);
    assert!(Lockfile::load(&path).unwrap().is_none());
    sample().save(&path).unwrap();
    let loaded = Lockfile::load(&path).unwrap().unwrap();
    assert_eq!(loaded.to_toml(), sample().to_toml());
    // Saving again replaces the file and leaves no temporary files behind.
    let mut changed = sample();
    changed.insert(locked("acme/notes-search", "1.4.3", 21));
    changed.save(&path).unwrap();
    assert_eq!(
        Lockfile::load(&path).unwrap().unwrap().to_toml(),
        changed.to_toml()
    );
    let entries: Vec<_> = std::fs::read_dir(directory.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(entries, [std::ffi::OsString::from(LOCKFILE_NAME)]);
}

#[test]
fn load_names_the_file_in_errors() {
    let directory = tempfile::tempdir().unwrap();
    let path = directory.path().join(LOCKFILE_NAME);
    std::fs::write(&path, "version = 1\nbogus = true\n").unwrap();
    let error = Lockfile::load(&path).unwrap_err().to_string();
    assert_mentions(&error, &[&format!("{}:2:", path.display()), "bogus"]);
}

#[test]
fn accepts_the_documented_example() {
    let lockfile = Lockfile::parse(&one_app(""), "locara.lock").unwrap();
    let app = &lockfile.apps[0];
    assert_eq!(app.name.to_string(), "acme/notes-search");
    assert_eq!(app.version.to_string(), "1.4.2");
    assert_eq!(app.registry, "main");
    assert_eq!(app.log_index, 12);
}

#[test]
fn refuses_unknown_keys_naming_the_key_and_line() {
    let message = refusal(&one_app("signature = \"x\"\n"));
    assert_mentions(&message, &["locara.lock:12:", "signature"]);
    let message = refusal("version = 1\n[[apps]]\nname = \"acme/notes\"\n");
    assert_mentions(&message, &["locara.lock:2:", "apps"]);
}

#[test]
fn refuses_a_bad_digest_naming_the_line() {
    let text = one_app("").replace(&digest("artifact").to_string(), "sha256:ABC");
    let message = refusal(&text);
    assert_mentions(&message, &["locara.lock:9:", "sha256:ABC", "64 hex digits"]);
    let text = one_app("").replace(&digest("root").to_string(), "md5:00");
    assert_mentions(&refusal(&text), &["locara.lock:8:", "sha256:"]);
}

#[test]
fn refuses_a_bad_version_string_naming_the_line() {
    let message = refusal(&one_app("").replace("\"1.4.2\"", "\"v1.4\""));
    assert_mentions(&message, &["locara.lock:5:", "v1.4", "semver"]);
}

#[test]
fn refuses_a_bad_name_and_bad_registry_fields() {
    let message = refusal(&one_app("").replace("acme/notes-search", "Acme/Notes"));
    assert_mentions(&message, &["locara.lock:4:", "Acme"]);
    let message = refusal(&one_app("").replace("\"main\"", "\"-main\""));
    assert_mentions(&message, &["locara.lock:6:", "registry name \"-main\""]);
    let message = refusal(&one_app("").replace("https://registry", "ftp://registry"));
    assert_mentions(&message, &["locara.lock:7:", "https://"]);
    let message = refusal(&one_app("").replace("log_index = 12", "log_index = -1"));
    assert_mentions(&message, &["locara.lock:11:", "-1"]);
}

#[test]
fn refuses_an_app_locked_twice() {
    let second = one_app("")
        .split_once("[[app]]")
        .map(|(_, rest)| format!("\n[[app]]{rest}"))
        .unwrap();
    let message = refusal(&one_app(&second));
    assert_mentions(
        &message,
        &[
            "locara.lock:14:",
            "acme/notes-search",
            "locked twice",
            "line 3",
        ],
    );
}

#[test]
fn refuses_one_registry_name_with_two_urls_or_roots() {
    let second = |url: &str, root: Digest| {
        format!(
            "\n[[app]]\nname = \"acme/other\"\nversion = \"1.0.0\"\nregistry = \"main\"\n\
             registry_url = \"{url}\"\nroot = \"{root}\"\nartifact = \"{a}\"\nprovenance = \"{a}\"\n\
             log_index = 3\n",
            a = digest("a")
        )
    };
    let message = refusal(&one_app(&second(
        "https://elsewhere.example.com",
        digest("root"),
    )));
    assert_mentions(
        &message,
        &[
            "locara.lock:13:",
            "registry \"main\"",
            "elsewhere",
            "line 3",
        ],
    );
    let message = refusal(&one_app(&second(
        "https://registry.example.com",
        digest("other"),
    )));
    assert_mentions(&message, &["locara.lock:13:", "root", "line 3"]);
    assert!(
        Lockfile::parse(
            &one_app(&second("https://registry.example.com", digest("root"))),
            "locara.lock"
        )
        .is_ok()
    );
}

#[test]
fn refuses_a_newer_format_asking_to_upgrade() {
    let text = one_app("").replace("version = 1\n", "version = 2\n");
    let error = Lockfile::parse(&text, "locara.lock").unwrap_err();
    assert!(matches!(
        error,
        LockfileError::NewerFormat {
            line: 1,
            found: 2,
            ..
        }
    ));
    assert_mentions(
        &error.to_string(),
        &["locara.lock:1:", "newer locara", "upgrade"],
    );
    // Keys the newer format added do not hide that it is newer.
    let text = "version = 3\nmirrors = [\"x\"]\n";
    assert!(matches!(
        Lockfile::parse(text, "locara.lock"),
        Err(LockfileError::NewerFormat { found: 3, .. })
    ));
}

#[test]
fn refuses_a_missing_or_wrong_format_version() {
    let message = refusal(&one_app("").replace("version = 1\n", ""));
    assert_mentions(&message, &["locara.lock:1:", "version = 1"]);
    let message = refusal(&one_app("").replace("version = 1\n", "version = 0\n"));
    assert_mentions(&message, &["locara.lock:1:", "found 0"]);
    let message = refusal(&one_app("").replace("version = 1\n", "version = \"1\"\n"));
    assert_mentions(&message, &["locara.lock:1:", "integer 1"]);
}

#[test]
fn refuses_a_missing_field_naming_the_app_table() {
    for (line, field) in [
        ("name = \"acme/notes-search\"\n", "name"),
        ("log_index = 12\n", "log_index"),
        (
            &*format!("provenance = \"{}\"\n", digest("provenance")),
            "provenance",
        ),
    ] {
        let message = refusal(&one_app("").replace(line, ""));
        assert_mentions(&message, &["locara.lock:3:", "missing", field]);
    }
}

#[test]
fn refuses_toml_syntax_errors_with_their_line() {
    let message = refusal("version = 1\n[[app]\n");
    assert_mentions(&message, &["locara.lock:2:"]);
}
