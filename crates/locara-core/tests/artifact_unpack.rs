//! Unpacking what the packer wrote: round trips, digest checks and the destination rules.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use locara_core::artifact::{
    FileMode, Limits, MANIFEST_PATH, Packer, UnpackError, scan_verified, unpack, unpack_verified,
};
use locara_core::digest::Digest;
use proptest::prelude::*;

const MANIFEST: &[u8] = b"name = \"acme/notes\"\nversion = \"1.0.0\"\n";

fn sample_artifact() -> (Vec<u8>, Digest) {
    let mut out = Vec::new();
    let summary = Packer::new()
        .add_bytes(MANIFEST_PATH, MANIFEST)
        .unwrap()
        .add_bytes_with_mode("bin/app", vec![7u8; 3000], FileMode::Executable)
        .unwrap()
        .add_directory("var/empty")
        .unwrap()
        .pack(&mut out)
        .unwrap();
    (out, summary.digest)
}

/// Every path under `root` → (mode, contents; `None` for directories).
fn snapshot(root: &Path) -> BTreeMap<String, (u32, Option<Vec<u8>>)> {
    let mut found = BTreeMap::new();
    let mut pending = vec![root.to_owned()];
    while let Some(directory) = pending.pop() {
        for entry in fs::read_dir(&directory).unwrap() {
            let path = entry.unwrap().path();
            let metadata = fs::symlink_metadata(&path).unwrap();
            let relative = path
                .strip_prefix(root)
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned();
            let mode = metadata.permissions().mode() & 0o7777;
            if metadata.is_dir() {
                pending.push(path.clone());
                found.insert(relative, (mode, None));
            } else {
                assert!(metadata.is_file());
                found.insert(relative, (mode, Some(fs::read(&path).unwrap())));
            }
        }
    }
    found
}

fn parent_is_empty(parent: &Path) -> bool {
    fs::read_dir(parent).unwrap().next().is_none()
}

#[test]
fn unpacks_files_directories_and_modes() {
    let (artifact, digest) = sample_artifact();
    let parent = tempfile::tempdir().unwrap();
    let destination = parent.path().join("app");
    let summary = unpack(&artifact[..], &destination, &Limits::default()).unwrap();
    assert_eq!(summary.digest, digest);
    assert_eq!(summary.compressed_len, artifact.len() as u64);
    assert_eq!((summary.files, summary.directories), (2, 3));
    assert_eq!(summary.content_len, 3000 + MANIFEST.len() as u64);
    let tree = snapshot(&destination);
    assert_eq!(tree["bin"], (0o755, None));
    assert_eq!(tree["bin/app"], (0o755, Some(vec![7u8; 3000])));
    assert_eq!(tree["locara.toml"], (0o644, Some(MANIFEST.to_vec())));
    assert_eq!(tree["var/empty"], (0o755, None));
    assert_eq!(tree.len(), 5);
    // Only the destination is left in the parent: no temporary directory.
    assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 1);
}

#[test]
fn unpack_verified_accepts_the_right_digest() {
    let (artifact, digest) = sample_artifact();
    let parent = tempfile::tempdir().unwrap();
    let destination = parent.path().join("app");
    let summary =
        unpack_verified(&artifact[..], &digest, &destination, &Limits::default()).unwrap();
    assert_eq!(summary.digest, digest);
    assert!(destination.join(MANIFEST_PATH).is_file());
}

#[test]
fn unpack_verified_refuses_a_wrong_digest_and_leaves_nothing() {
    let (artifact, digest) = sample_artifact();
    let parent = tempfile::tempdir().unwrap();
    let destination = parent.path().join("app");
    let wrong = Digest::of_bytes(b"something else");
    let error =
        unpack_verified(&artifact[..], &wrong, &destination, &Limits::default()).unwrap_err();
    assert!(
        matches!(error, UnpackError::DigestMismatch { expected, found } if expected == wrong && found == digest)
    );
    assert!(parent_is_empty(parent.path()));
}

#[test]
fn scan_reads_the_manifest_and_summary_without_writing() {
    let (artifact, digest) = sample_artifact();
    let scanned = scan_verified(&artifact[..], &digest, &Limits::default()).unwrap();
    assert_eq!(scanned.manifest, MANIFEST);
    let parent = tempfile::tempdir().unwrap();
    let unpacked = unpack(
        &artifact[..],
        &parent.path().join("app"),
        &Limits::default(),
    )
    .unwrap();
    assert_eq!(scanned.summary, unpacked);
}

#[test]
fn scan_refuses_a_wrong_digest_and_a_corrupted_byte() {
    let (artifact, digest) = sample_artifact();
    let wrong = Digest::of_bytes(b"x");
    assert!(matches!(
        scan_verified(&artifact[..], &wrong, &Limits::default()),
        Err(UnpackError::DigestMismatch { .. })
    ));
    for index in (0..artifact.len()).step_by(5) {
        let mut corrupted = artifact.clone();
        corrupted[index] ^= 0x01;
        assert!(
            scan_verified(&corrupted[..], &digest, &Limits::default()).is_err(),
            "byte {index}"
        );
    }
}

#[test]
fn refuses_an_existing_destination_and_leaves_it_alone() {
    let (artifact, _) = sample_artifact();
    let parent = tempfile::tempdir().unwrap();
    let destination = parent.path().join("app");
    fs::create_dir(&destination).unwrap();
    fs::write(destination.join("mine"), b"keep").unwrap();
    let error = unpack(&artifact[..], &destination, &Limits::default()).unwrap_err();
    assert!(matches!(error, UnpackError::DestinationExists { .. }));
    assert_eq!(fs::read(destination.join("mine")).unwrap(), b"keep");
    assert_eq!(fs::read_dir(parent.path()).unwrap().count(), 1);
}

#[test]
fn refuses_a_corrupted_byte_anywhere_and_leaves_nothing() {
    let (artifact, _) = sample_artifact();
    for index in (0..artifact.len()).step_by(7) {
        let mut corrupted = artifact.clone();
        corrupted[index] ^= 0x40;
        let parent = tempfile::tempdir().unwrap();
        let destination = parent.path().join("app");
        if unpack(&corrupted[..], &destination, &Limits::default()).is_err() {
            assert!(parent_is_empty(parent.path()), "byte {index}");
        }
    }
}

fn tree_strategy() -> impl Strategy<Value = BTreeMap<String, (Vec<u8>, bool)>> {
    let path = prop::collection::vec("[a-c]{1,2}", 1..4)
        .prop_map(|parts| format!("x/{}", parts.join("/")));
    prop::collection::btree_map(
        path,
        (prop::collection::vec(any::<u8>(), 0..1500), any::<bool>()),
        0..10,
    )
    .prop_map(|files| {
        let paths: Vec<String> = files.keys().cloned().collect();
        files
            .into_iter()
            .filter(|(path, _)| {
                !paths
                    .iter()
                    .any(|other| other.starts_with(&format!("{path}/")))
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 32, .. ProptestConfig::default() })]

    #[test]
    fn pack_then_unpack_gives_back_the_same_files_and_modes(files in tree_strategy()) {
        let mut packer = Packer::new().add_bytes(MANIFEST_PATH, MANIFEST).unwrap();
        for (path, (contents, executable)) in &files {
            let mode = if *executable { FileMode::Executable } else { FileMode::Regular };
            packer = packer.add_bytes_with_mode(path, contents.clone(), mode).unwrap();
        }
        let mut artifact = Vec::new();
        let packed = packer.pack(&mut artifact).unwrap();
        let parent = tempfile::tempdir().unwrap();
        let destination = parent.path().join("app");
        let summary = unpack_verified(&artifact[..], &packed.digest, &destination, &Limits::default()).unwrap();
        prop_assert_eq!(summary.files, packed.files);
        prop_assert_eq!(summary.directories, packed.directories);
        let tree = snapshot(&destination);
        for (path, (contents, executable)) in &files {
            let expected_mode = if *executable { 0o755 } else { 0o644 };
            prop_assert_eq!(&tree[path], &(expected_mode, Some(contents.clone())));
        }
        let file_count = tree.values().filter(|(_, contents)| contents.is_some()).count();
        prop_assert_eq!(file_count, files.len() + 1);
        prop_assert!(tree.values().filter(|(_, c)| c.is_none()).all(|(mode, _)| *mode == 0o755));
    }

    #[test]
    fn unpacking_random_bytes_never_leaves_anything(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let parent = tempfile::tempdir().unwrap();
        let destination = parent.path().join("app");
        prop_assert!(unpack(&bytes[..], &destination, &Limits::default()).is_err());
        prop_assert!(parent_is_empty(parent.path()));
    }
}
