//! The install store: read-only entries, tree digests that catch tampering, crash leftovers, removal.

use std::fs;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::path::{Path, PathBuf};

use locara_client::store::{Store, StoreError, TreeDigest};
use locara_core::artifact::{FileMode, Limits, Packer, UnpackError};
use locara_core::digest::{Digest, Sha256Hasher};

const MANIFEST: &[u8] = b"name = \"acme/notes\"\n";

/// A small artifact: a manifest, an executable, a nested document; returns (digest, bytes).
fn artifact() -> (Digest, Vec<u8>) {
    pack(
        Packer::new()
            .add_bytes("locara.toml", MANIFEST)
            .unwrap()
            .add_bytes_with_mode(
                "bin/notes",
                b"#!/bin/sh\necho notes\n".to_vec(),
                FileMode::Executable,
            )
            .unwrap()
            .add_bytes("share/doc/readme.txt", b"read me\n".to_vec())
            .unwrap(),
    )
}

fn pack(packer: Packer) -> (Digest, Vec<u8>) {
    let mut bytes = Vec::new();
    let summary = packer.pack(&mut bytes).unwrap();
    (summary.digest, bytes)
}

fn mode(path: &Path) -> u32 {
    path.symlink_metadata().unwrap().permissions().mode() & 0o7777
}

fn chmod(path: &Path, mode: u32) {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Every name directly under `<root>/sha256/`, sorted.
fn entry_names(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(root.join("sha256"))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    names
}

/// A store with the test artifact added; returns (temp dir, store, digest, tree digest, entry path).
fn installed() -> (tempfile::TempDir, Store, Digest, TreeDigest, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let (digest, bytes) = artifact();
    let tree = store.add(&digest, &bytes[..], &Limits::default()).unwrap();
    let path = store.path_of(&digest);
    (dir, store, digest, tree, path)
}

#[test]
fn open_creates_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("data/store");
    let store = Store::open(&root).unwrap();
    assert_eq!(store.root(), root);
    assert!(root.join("sha256").is_dir());
    assert_eq!(store.list().unwrap(), Vec::<Digest>::new());
}

#[test]
fn add_unpacks_a_read_only_tree_under_the_digest() {
    let (dir, store, digest, tree, path) = installed();
    assert_eq!(path, dir.path().join("store/sha256").join(digest.hex()));
    assert!(store.contains(&digest));
    assert_eq!(store.list().unwrap(), vec![digest]);
    assert_eq!(fs::read(path.join("locara.toml")).unwrap(), MANIFEST);
    assert_eq!(
        fs::read(path.join("share/doc/readme.txt")).unwrap(),
        b"read me\n"
    );
    for directory in ["", "bin", "share", "share/doc"] {
        assert_eq!(
            mode(&path.join(directory)),
            0o555,
            "directory {directory:?}"
        );
    }
    assert_eq!(mode(&path.join("locara.toml")), 0o444);
    assert_eq!(mode(&path.join("share/doc/readme.txt")), 0o444);
    assert_eq!(mode(&path.join("bin/notes")), 0o555);
    assert_eq!(store.tree_digest(&digest).unwrap(), tree);
    assert_eq!(
        entry_names(store.root()),
        vec![digest.hex()],
        "no temporaries left"
    );
}

#[test]
fn tree_digest_is_the_documented_listing() {
    let (_dir, store, digest, tree, _path) = installed();
    let listing = format!(
        "locara-tree-v1\n\
         dir 0555 - \".\"\n\
         dir 0555 - \"bin\"\n\
         file 0555 {} \"bin/notes\"\n\
         file 0444 {} \"locara.toml\"\n\
         dir 0555 - \"share\"\n\
         dir 0555 - \"share/doc\"\n\
         file 0444 {} \"share/doc/readme.txt\"\n",
        Digest::of_bytes(b"#!/bin/sh\necho notes\n").hex(),
        Digest::of_bytes(MANIFEST).hex(),
        Digest::of_bytes(b"read me\n").hex(),
    );
    let mut hasher = Sha256Hasher::new();
    hasher.update(listing.as_bytes());
    assert_eq!(tree, TreeDigest::new(hasher.finish()));
    assert_eq!(store.tree_digest(&digest).unwrap(), tree);
}

#[test]
fn names_that_look_like_listing_syntax_cannot_forge_lines() {
    // A file named like a listing line must not collide with a tree that really has those entries.
    let tricky = pack(
        Packer::new()
            .add_bytes("locara.toml", MANIFEST)
            .unwrap()
            .add_bytes("a\" \nfile 0444 x \"b", b"".to_vec())
            .unwrap(),
    );
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let tree = store
        .add(&tricky.0, &tricky.1[..], &Limits::default())
        .unwrap();
    assert_eq!(store.tree_digest(&tricky.0).unwrap(), tree);
    assert_eq!(
        fs::read(store.path_of(&tricky.0).join("a\" \nfile 0444 x \"b")).unwrap(),
        b""
    );
}

#[test]
fn tree_digest_is_the_same_in_every_store() {
    let (_dir, _store, _digest, tree, _path) = installed();
    let (_other_dir, _other_store, _, other_tree, _) = installed();
    assert_eq!(tree, other_tree);
}

#[test]
fn tree_digest_text_form_round_trips() {
    let (_dir, _store, _digest, tree, _path) = installed();
    let text = tree.to_string();
    assert!(text.starts_with("sha256:") && text.len() == 71);
    assert_eq!(text.parse::<TreeDigest>().unwrap(), tree);
    let json = serde_json::to_string(&tree).unwrap();
    assert_eq!(json, format!("\"{text}\""));
    assert_eq!(serde_json::from_str::<TreeDigest>(&json).unwrap(), tree);
    assert!("sha256:xyz".parse::<TreeDigest>().is_err());
}

#[test]
fn adding_an_installed_artifact_does_not_unpack_again() {
    let (_dir, store, digest, tree, _path) = installed();
    // The bytes are not even read: the existing entry's digest is recomputed.
    assert_eq!(
        store.add(&digest, &b""[..], &Limits::default()).unwrap(),
        tree
    );
}

#[test]
fn adding_an_installed_artifact_reports_a_tampered_entry() {
    let (_dir, store, digest, tree, path) = installed();
    chmod(&path.join("locara.toml"), 0o644);
    let (_, bytes) = artifact();
    assert_ne!(
        store.add(&digest, &bytes[..], &Limits::default()).unwrap(),
        tree
    );
}

#[test]
fn add_refuses_bytes_of_another_digest_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (_, bytes) = artifact();
    let wrong = Digest::of_bytes(b"something else");
    let error = store
        .add(&wrong, &bytes[..], &Limits::default())
        .unwrap_err();
    assert!(
        matches!(
            &error,
            StoreError::Unpack { artifact, source: UnpackError::DigestMismatch { .. } } if *artifact == wrong
        ),
        "{error}"
    );
    assert!(!store.contains(&wrong));
    assert!(entry_names(dir.path()).is_empty());
}

#[test]
fn add_refuses_an_artifact_over_the_limits_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (digest, bytes) = artifact();
    let limits = Limits::default().with_max_file_size(4);
    let error = store.add(&digest, &bytes[..], &limits).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Unpack {
                source: UnpackError::FileTooLarge { .. },
                ..
            }
        ),
        "{error}"
    );
    assert!(entry_names(dir.path()).is_empty());
}

/// Each tampering must change the tree digest (or make it an error); none may go unnoticed.
#[test]
fn tree_digest_detects_every_kind_of_tampering() {
    type Tamper = fn(&Path);
    let cases: [(&str, Tamper); 8] = [
        ("flip one byte", |path| {
            let file = path.join("share/doc/readme.txt");
            chmod(&file, 0o644);
            let mut bytes = fs::read(&file).unwrap();
            bytes[0] ^= 1;
            fs::write(&file, bytes).unwrap();
            chmod(&file, 0o444);
        }),
        ("add a file", |path| {
            chmod(&path.join("bin"), 0o755);
            fs::write(path.join("bin/extra"), b"").unwrap();
            chmod(&path.join("bin/extra"), 0o444);
            chmod(&path.join("bin"), 0o555);
        }),
        ("add an empty directory", |path| {
            chmod(path, 0o755);
            fs::create_dir(path.join("more")).unwrap();
            chmod(&path.join("more"), 0o555);
            chmod(path, 0o555);
        }),
        ("remove a file", |path| {
            chmod(&path.join("share/doc"), 0o755);
            fs::remove_file(path.join("share/doc/readme.txt")).unwrap();
            chmod(&path.join("share/doc"), 0o555);
        }),
        ("make a file writable", |path| {
            chmod(&path.join("locara.toml"), 0o644)
        }),
        ("make a file executable", |path| {
            chmod(&path.join("locara.toml"), 0o555)
        }),
        ("make a directory writable", |path| {
            chmod(&path.join("share"), 0o755)
        }),
        ("rename a file", |path| {
            chmod(&path.join("share/doc"), 0o755);
            fs::rename(
                path.join("share/doc/readme.txt"),
                path.join("share/doc/readme.md"),
            )
            .unwrap();
            chmod(&path.join("share/doc"), 0o555);
        }),
    ];
    for (name, tamper) in cases {
        let (_dir, store, digest, tree, path) = installed();
        tamper(&path);
        assert_ne!(store.tree_digest(&digest).unwrap(), tree, "{name}");
    }
}

#[test]
fn tree_digest_refuses_symlinks_and_special_files() {
    let (_dir, store, digest, _tree, path) = installed();
    chmod(&path.join("bin"), 0o755);
    symlink("/etc/passwd", path.join("bin/passwd")).unwrap();
    let error = store.tree_digest(&digest).unwrap_err();
    assert!(
        matches!(&error, StoreError::UnexpectedEntry { path: found, kind: "symbolic link" } if *found == path.join("bin/passwd")),
        "{error}"
    );
    fs::remove_file(path.join("bin/passwd")).unwrap();
    nix::unistd::mkfifo(
        &path.join("bin/fifo"),
        nix::sys::stat::Mode::from_bits_truncate(0o644),
    )
    .unwrap();
    let error = store.tree_digest(&digest).unwrap_err();
    assert!(
        matches!(error, StoreError::UnexpectedEntry { kind: "FIFO", .. }),
        "{error}"
    );
}

#[test]
fn tree_digest_refuses_an_entry_replaced_by_a_symlink() {
    let (dir, store, digest, _tree, path) = installed();
    let elsewhere = dir.path().join("elsewhere");
    chmod(&path, 0o755); // moving a directory to another parent rewrites its "..", which needs write access
    fs::rename(&path, &elsewhere).unwrap();
    symlink(&elsewhere, &path).unwrap();
    assert!(!store.contains(&digest));
    assert!(matches!(
        store.tree_digest(&digest).unwrap_err(),
        StoreError::UnexpectedEntry {
            kind: "symbolic link",
            ..
        }
    ));
}

#[test]
fn tree_digest_of_a_missing_entry_says_it_is_not_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let digest = Digest::of_bytes(b"x");
    let error = store.tree_digest(&digest).unwrap_err();
    assert!(matches!(error, StoreError::NotInStore { .. }), "{error}");
    assert!(error.to_string().contains("install the app again"));
}

#[test]
fn remove_deletes_the_entry_and_says_whether_there_was_one() {
    let (dir, store, digest, _tree, path) = installed();
    assert!(store.remove(&digest).unwrap());
    assert!(!path.exists());
    assert!(!store.contains(&digest));
    assert!(
        entry_names(dir.path().join("store").as_path()).is_empty(),
        "no trash left"
    );
    assert!(!store.remove(&digest).unwrap());
}

#[test]
fn removed_artifact_can_be_added_again() {
    let (_dir, store, digest, tree, _path) = installed();
    store.remove(&digest).unwrap();
    let (_, bytes) = artifact();
    assert_eq!(
        store.add(&digest, &bytes[..], &Limits::default()).unwrap(),
        tree
    );
}

/// Leftovers a killed run can leave: the unpacker's partial directory, a read-only staging tree, trash.
fn plant_leftovers(root: &Path, digest: &Digest) {
    let entries = root.join("sha256");
    let partial = entries.join(format!(
        "..stage-{}-1-0.partial-0011223344556677",
        digest.hex()
    ));
    fs::create_dir_all(partial.join("bin")).unwrap();
    fs::write(partial.join("bin/half"), b"half").unwrap();
    for leftover in [
        format!(".stage-{}-2-0", digest.hex()),
        format!(".trash-{}-3-0", digest.hex()),
    ] {
        let tree = entries.join(leftover);
        fs::create_dir_all(tree.join("sub")).unwrap();
        fs::write(tree.join("sub/file"), b"x").unwrap();
        chmod(&tree.join("sub/file"), 0o444);
        chmod(&tree.join("sub"), 0o555);
        chmod(&tree, 0o555);
    }
}

#[test]
fn open_deletes_leftovers_of_a_killed_run() {
    let dir = tempfile::tempdir().unwrap();
    let (digest, bytes) = artifact();
    Store::open(dir.path()).unwrap();
    plant_leftovers(dir.path(), &digest);
    assert_eq!(entry_names(dir.path()).len(), 3);
    let store = Store::open(dir.path()).unwrap();
    assert!(entry_names(dir.path()).is_empty());
    store.add(&digest, &bytes[..], &Limits::default()).unwrap();
    assert_eq!(entry_names(dir.path()), vec![digest.hex()]);
}

#[test]
fn leftovers_do_not_block_add_or_remove() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let (digest, bytes) = artifact();
    plant_leftovers(dir.path(), &digest);
    let tree = store.add(&digest, &bytes[..], &Limits::default()).unwrap();
    assert_eq!(store.tree_digest(&digest).unwrap(), tree);
    assert_eq!(entry_names(dir.path()), vec![digest.hex()]);
    plant_leftovers(dir.path(), &digest);
    assert!(store.remove(&digest).unwrap());
    assert!(entry_names(dir.path()).is_empty());
}

#[test]
fn list_refuses_names_the_store_did_not_write() {
    let (dir, store, digest, _tree, _path) = installed();
    fs::write(dir.path().join("store/sha256/notes"), b"").unwrap();
    let error = store.list().unwrap_err();
    assert!(
        matches!(error, StoreError::UnexpectedName { .. }),
        "{error}"
    );
    fs::remove_file(dir.path().join("store/sha256/notes")).unwrap();
    assert_eq!(store.list().unwrap(), vec![digest]);
}

#[test]
fn list_is_sorted_and_skips_temporaries() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path()).unwrap();
    let mut digests = Vec::new();
    for index in 0..3 {
        let (digest, bytes) = pack(
            Packer::new()
                .add_bytes("locara.toml", format!("index = {index}\n"))
                .unwrap(),
        );
        store.add(&digest, &bytes[..], &Limits::default()).unwrap();
        digests.push(digest);
    }
    fs::create_dir(dir.path().join("sha256/.stage-in-progress")).unwrap();
    digests.sort();
    assert_eq!(store.list().unwrap(), digests);
}

#[test]
fn concurrent_adds_of_one_artifact_agree() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().to_owned();
    let (digest, bytes) = artifact();
    let trees: Vec<TreeDigest> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let (root, bytes) = (&root, &bytes);
                scope.spawn(move || {
                    Store::open(root)
                        .unwrap()
                        .add(&digest, &bytes[..], &Limits::default())
                        .unwrap()
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|handle| handle.join().unwrap())
            .collect()
    });
    assert!(trees.windows(2).all(|pair| pair[0] == pair[1]));
    assert_eq!(entry_names(&root), vec![digest.hex()]);
}
