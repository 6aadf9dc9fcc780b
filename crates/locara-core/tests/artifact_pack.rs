//! Packing: determinism whatever the file system says, and what other tools read back.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Command;

use locara_core::artifact::{FileMode, MANIFEST_PATH, PackError, Packer};
use locara_core::digest::Digest;
use proptest::prelude::*;

const MANIFEST: &[u8] = b"name = \"acme/notes\"\nversion = \"1.0.0\"\n";

fn write_file(path: &Path, bytes: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

fn pack_tree(root: &Path, epoch: u64) -> (Vec<u8>, locara_core::artifact::PackSummary) {
    let mut out = Vec::new();
    let summary = Packer::new()
        .source_date_epoch(epoch)
        .add_tree(root)
        .unwrap()
        .pack(&mut out)
        .unwrap();
    (out, summary)
}

#[test]
fn packs_a_tree_with_sorted_entries_and_explicit_parents() {
    let tree = tempfile::tempdir().unwrap();
    write_file(&tree.path().join(MANIFEST_PATH), MANIFEST, 0o600);
    write_file(&tree.path().join("bin/app"), b"#!/bin/sh\n", 0o700);
    write_file(
        &tree.path().join("share/doc/readme.txt"),
        b"read me\n",
        0o666,
    );
    write_file(&tree.path().join("a-b"), b"x", 0o644);
    let (bytes, summary) = pack_tree(tree.path(), 1_700_000_000);
    assert_eq!(summary.digest, Digest::of_bytes(&bytes));
    assert_eq!((summary.files, summary.directories), (4, 3));

    let tar = zstd::decode_all(&bytes[..]).unwrap();
    assert_eq!(tar.len() as u64, summary.uncompressed_len);
    let mut archive = tar::Archive::new(&tar[..]);
    let listing: Vec<(String, u32, u64)> = archive
        .entries()
        .unwrap()
        .map(|entry| {
            let entry = entry.unwrap();
            let header = entry.header();
            assert!(header.as_ustar().is_some());
            assert_eq!((header.uid().unwrap(), header.gid().unwrap()), (0, 0));
            assert_eq!(header.mtime().unwrap(), 1_700_000_000);
            assert_eq!(header.username_bytes(), Some(&b""[..]));
            (
                String::from_utf8(header.path_bytes().into_owned()).unwrap(),
                header.mode().unwrap(),
                header.size().unwrap(),
            )
        })
        .collect();
    let expected = [
        ("a-b", 0o644, 1),
        ("bin", 0o755, 0),
        ("bin/app", 0o755, 10),
        ("locara.toml", 0o644, MANIFEST.len() as u64),
        ("share", 0o755, 0),
        ("share/doc", 0o755, 0),
        ("share/doc/readme.txt", 0o644, 8),
    ];
    let expected: Vec<(String, u32, u64)> = expected
        .iter()
        .map(|(p, m, s)| (p.to_string(), *m, *s))
        .collect();
    assert_eq!(listing, expected);
    // Two zero blocks end the archive and nothing follows.
    assert!(tar[tar.len() - 1024..].iter().all(|&b| b == 0));
}

#[test]
fn refuses_symlinks_and_special_files_as_sources() {
    let tree = tempfile::tempdir().unwrap();
    write_file(&tree.path().join(MANIFEST_PATH), MANIFEST, 0o644);
    std::os::unix::fs::symlink("/etc/passwd", tree.path().join("passwd")).unwrap();
    assert!(matches!(
        Packer::new().add_tree(tree.path()),
        Err(PackError::SourceIsSymlink { .. })
    ));
    assert!(matches!(
        Packer::new().add_file("p", tree.path().join("passwd")),
        Err(PackError::SourceIsSymlink { .. })
    ));
    assert!(matches!(
        Packer::new().add_file("d", tree.path()),
        Err(PackError::SourceNotRegular { .. })
    ));
    let status = Command::new("mkfifo")
        .arg(tree.path().join("fifo"))
        .status()
        .unwrap();
    assert!(status.success());
    assert!(matches!(
        Packer::new().add_file("fifo", tree.path().join("fifo")),
        Err(PackError::SourceNotRegular { .. })
    ));
}

#[test]
fn refuses_a_source_that_changes_before_packing() {
    let tree = tempfile::tempdir().unwrap();
    let file = tree.path().join("data");
    write_file(&file, b"short", 0o644);
    let packer = Packer::new()
        .add_bytes(MANIFEST_PATH, MANIFEST)
        .unwrap()
        .add_file("data", &file)
        .unwrap();
    fs::write(&file, b"much longer now").unwrap();
    assert!(matches!(
        packer.pack(Vec::new()),
        Err(PackError::SourceChanged { expected: 5, .. })
    ));
}

#[test]
fn long_paths_use_the_ustar_prefix_and_too_long_ones_are_refused() {
    let dir = format!("{}/{}", "a".repeat(60), "b".repeat(89));
    let path = format!("{dir}/{}", "f".repeat(100));
    let mut out = Vec::new();
    Packer::new()
        .add_bytes(MANIFEST_PATH, MANIFEST)
        .unwrap()
        .add_bytes(&path, "x")
        .unwrap()
        .pack(&mut out)
        .unwrap();
    let tar = zstd::decode_all(&out[..]).unwrap();
    let names: Vec<Vec<u8>> = tar::Archive::new(&tar[..])
        .entries()
        .unwrap()
        .map(|e| e.unwrap().header().path_bytes().into_owned())
        .collect();
    assert!(names.contains(&path.into_bytes()));
    let too_long = format!("{}/{}", "d".repeat(156), "f");
    assert!(matches!(
        Packer::new().add_bytes(&too_long, "x"),
        Err(PackError::PathTooLongForUstar { length: 158, .. })
    ));
}

#[test]
fn system_tar_and_zstd_read_the_artifact() {
    let work = tempfile::tempdir().unwrap();
    let artifact = work.path().join("app.tar.zst");
    let file = fs::File::create(&artifact).unwrap();
    Packer::new()
        .source_date_epoch(1_700_000_000)
        .add_bytes(MANIFEST_PATH, MANIFEST)
        .unwrap()
        .add_bytes_with_mode("bin/app", "#!/bin/sh\necho hi\n", FileMode::Executable)
        .unwrap()
        .pack(file)
        .unwrap();

    let listing = Command::new("tar")
        .args(["--zstd", "--numeric-owner", "--full-time", "-tvf"])
        .arg(&artifact)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(listing.status.success(), "{listing:?}");
    let listing = String::from_utf8(listing.stdout).unwrap();
    let lines: Vec<&str> = listing.lines().collect();
    assert_eq!(lines.len(), 3, "{listing}");
    assert!(lines[0].starts_with("drwxr-xr-x 0/0"), "{listing}");
    assert!(lines[0].ends_with("2023-11-14 22:13:20 bin"), "{listing}");
    assert!(lines[1].starts_with("-rwxr-xr-x 0/0"), "{listing}");
    assert!(lines[1].ends_with(" bin/app"), "{listing}");
    assert!(lines[2].starts_with("-rw-r--r-- 0/0"), "{listing}");

    let format = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc '{}' | head -c 265 | tail -c 8 | od -An -c",
            artifact.display()
        ))
        .output()
        .unwrap();
    let magic = String::from_utf8(format.stdout).unwrap();
    assert_eq!(
        magic.split_whitespace().collect::<Vec<_>>(),
        ["u", "s", "t", "a", "r", "\\0", "0", "0"]
    );

    let out = work.path().join("out");
    fs::create_dir(&out).unwrap();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "zstd -dc '{}' | tar -x -C '{}'",
            artifact.display(),
            out.display()
        ))
        .status()
        .unwrap();
    assert!(status.success());
    assert_eq!(fs::read(out.join("locara.toml")).unwrap(), MANIFEST);
    let zstd_info = Command::new("zstd")
        .arg("-lv")
        .arg(&artifact)
        .output()
        .unwrap();
    let zstd_info = String::from_utf8_lossy(&zstd_info.stdout).into_owned();
    assert!(zstd_info.contains("Check: XXH64"), "{zstd_info}");
}

/// A small tree: relative paths (one or two components) → (contents, executable).
fn tree_strategy() -> impl Strategy<Value = Vec<(String, Vec<u8>, bool)>> {
    let component = "[a-z]{1,3}";
    let path =
        prop::collection::vec(component, 1..3).prop_map(|parts| format!("t/{}", parts.join("/")));
    prop::collection::vec(
        (
            path,
            prop::collection::vec(any::<u8>(), 0..600),
            any::<bool>(),
        ),
        0..8,
    )
    .prop_map(|files| {
        let mut kept: Vec<(String, Vec<u8>, bool)> = Vec::new();
        for (path, contents, executable) in files {
            let clashes = kept.iter().any(|(other, _, _)| {
                other == &path
                    || other.starts_with(&format!("{path}/"))
                    || path.starts_with(&format!("{other}/"))
            });
            if !clashes {
                kept.push((path, contents, executable));
            }
        }
        kept
    })
}

fn materialise(root: &Path, files: &[(String, Vec<u8>, bool)], order: &[usize], mode_noise: u32) {
    write_file(&root.join(MANIFEST_PATH), MANIFEST, 0o644);
    for &index in order {
        let (path, contents, executable) = &files[index];
        let mode = if *executable {
            0o700 | mode_noise
        } else {
            0o600 | mode_noise
        };
        write_file(&root.join(path), contents, mode);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, .. ProptestConfig::default() })]

    #[test]
    fn same_tree_in_any_creation_order_mtime_or_umask_packs_identically(
        files in tree_strategy(),
        seed in any::<u64>(),
        mtime in 0i64..2_000_000_000,
    ) {
        let first = tempfile::tempdir().unwrap();
        let second = tempfile::tempdir().unwrap();
        let forward: Vec<usize> = (0..files.len()).collect();
        let mut shuffled = forward.clone();
        shuffled.sort_by_key(|i| (seed.rotate_left(*i as u32 * 7)) ^ *i as u64);
        materialise(first.path(), &files, &forward, 0);
        materialise(second.path(), &files, &shuffled, 0o044);
        let stamp = std::time::UNIX_EPOCH + std::time::Duration::from_secs(mtime as u64);
        for (path, _, _) in &files {
            let file = fs::File::options().write(true).open(second.path().join(path)).unwrap();
            file.set_modified(stamp).unwrap();
        }
        let (bytes_one, summary_one) = pack_tree(first.path(), 42);
        let (bytes_two, summary_two) = pack_tree(second.path(), 42);
        prop_assert_eq!(summary_one.digest, summary_two.digest);
        prop_assert!(bytes_one == bytes_two);
    }
}
