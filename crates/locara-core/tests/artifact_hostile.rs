//! The unpacker against the hostile corpus in `tests/data/hostile/` (written by `generate.py` with
//! Python's `tarfile` and the `zstd` CLI). Each archive must be refused with its own error, leaving
//! neither the destination nor a temporary directory behind; `scan_verified` refuses each the same way.

use std::fs::{self, File};
use std::path::PathBuf;

use locara_core::artifact::{Limits, PathProblem, UnpackError, scan_verified, unpack};
use locara_core::digest::Digest;

fn corpus(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/hostile")
        .join(format!("{name}.tar.zst"))
}

/// Unpacks `name` with `limits`, asserts it fails and leaves nothing, and returns the error.
fn refused(name: &str, limits: Limits) -> UnpackError {
    let parent = tempfile::tempdir().unwrap();
    let destination = parent.path().join("app");
    let archive = File::open(corpus(name)).unwrap();
    let error = unpack(archive, &destination, &limits).expect_err(name);
    assert!(!destination.exists(), "{name}: destination exists");
    let left: Vec<_> = fs::read_dir(parent.path()).unwrap().collect();
    assert!(left.is_empty(), "{name}: left behind {left:?}");
    assert!(!error.to_string().is_empty());
    // Reading it through without writing (what the client does before unpacking) refuses it the same way.
    let bytes = fs::read(corpus(name)).unwrap();
    let scanned = scan_verified(&bytes[..], &Digest::of_bytes(&bytes), &limits).expect_err(name);
    assert_eq!(
        std::mem::discriminant(&scanned),
        std::mem::discriminant(&error),
        "{name}: scan gave {scanned:?}, unpack {error:?}"
    );
    error
}

macro_rules! assert_refused {
    ($name:expr, limits = $limits:expr, $pattern:pat $(if $guard:expr)?) => {{
        let error = refused($name, $limits);
        assert!(matches!(&error, $pattern $(if $guard)?), "{}: got {error:?}", $name);
    }};
    ($name:expr, $pattern:pat $(if $guard:expr)?) => {
        assert_refused!($name, limits = Limits::default(), $pattern $(if $guard)?)
    };
}

#[test]
fn refuses_absolute_paths() {
    assert_refused!("absolute-path", UnpackError::AbsolutePath { path } if path == "/tmp/locara-evil");
}

#[test]
fn refuses_dotdot_components() {
    assert_refused!("dotdot", UnpackError::ParentComponent { path } if path == "../evil");
    assert_refused!("dotdot-nested", UnpackError::ParentComponent { path } if path == "a/../../evil");
}

#[test]
fn refuses_symlinks() {
    assert_refused!("symlink", UnpackError::Symlink { path, target } if path == "passwd" && target == "/etc/passwd");
}

#[test]
fn refuses_hard_links() {
    assert_refused!("hardlink", UnpackError::HardLink { path, target } if path == "copy" && target == "locara.toml");
}

#[test]
fn refuses_character_devices() {
    assert_refused!("char-device", UnpackError::CharDevice { path } if path == "null");
}

#[test]
fn refuses_block_devices() {
    assert_refused!("block-device", UnpackError::BlockDevice { path } if path == "sda");
}

#[test]
fn refuses_fifos() {
    assert_refused!("fifo", UnpackError::Fifo { path } if path == "pipe");
}

#[test]
fn refuses_other_entry_types() {
    assert_refused!(
        "contiguous-file",
        UnpackError::UnsupportedEntryType { path, type_flag: '7' } if path == "contiguous"
    );
}

#[test]
fn refuses_duplicate_entries() {
    assert_refused!("duplicate", UnpackError::DuplicateEntry { path } if path == "a.txt");
    assert_refused!("duplicate-manifest", UnpackError::DuplicateEntry { path } if path == "locara.toml");
}

#[test]
fn refuses_a_file_colliding_with_a_directory() {
    assert_refused!("file-dir-collision", UnpackError::DuplicateEntry { path } if path == "a");
}

#[test]
fn refuses_names_that_are_not_utf8() {
    assert_refused!("non-utf8-name", UnpackError::NonUtf8Path { path_lossy } if path_lossy.starts_with("caf"));
}

#[test]
fn refuses_entries_whose_parent_was_not_declared() {
    assert_refused!(
        "missing-parent",
        UnpackError::MissingParent { path, parent } if path == "dir/file.txt" && parent == "dir"
    );
    assert_refused!(
        "parent-is-file",
        UnpackError::MissingParent { path, parent } if path == "a/b" && parent == "a"
    );
}

#[test]
fn refuses_dot_components_and_backslashes() {
    assert_refused!(
        "dot-component",
        UnpackError::InvalidPath {
            problem: PathProblem::CurrentComponent,
            ..
        }
    );
    assert_refused!(
        "backslash",
        UnpackError::InvalidPath {
            problem: PathProblem::Backslash,
            ..
        }
    );
}

#[test]
fn refuses_archives_without_a_manifest() {
    assert_refused!("missing-manifest", UnpackError::MissingManifest);
}

#[test]
fn refuses_more_entries_than_the_limit() {
    assert_refused!(
        "too-many-files",
        limits = Limits::default().with_max_entries(5),
        UnpackError::TooManyEntries { limit: 5, path } if path == "f4.txt"
    );
}

#[test]
fn refuses_a_file_over_the_size_limit() {
    assert_refused!(
        "file-too-large",
        limits = Limits::default().with_max_file_size(1000),
        UnpackError::FileTooLarge { size: 4096, limit: 1000, path } if path == "big.bin"
    );
}

#[test]
fn refuses_a_total_over_the_size_limit() {
    assert_refused!(
        "total-too-large",
        limits = Limits::default().with_max_total_size(2000),
        UnpackError::TotalTooLarge { total: 2440, limit: 2000, path } if path == "part3.bin"
    );
}

#[test]
fn refuses_paths_over_the_length_limit() {
    assert_refused!(
        "path-too-long",
        limits = Limits::default().with_max_path_len(32),
        UnpackError::PathTooLong {
            length: 40,
            limit: 32,
            ..
        }
    );
}

#[test]
fn refuses_zstd_windows_over_the_limit() {
    assert_refused!(
        "zstd-window-too-large",
        UnpackError::WindowTooLarge { limit_log: 27 }
    );
}

#[test]
fn refuses_truncated_archives() {
    assert_refused!("truncated", UnpackError::Truncated { .. });
    assert_refused!("zstd-truncated", UnpackError::Truncated { .. });
    assert_refused!("no-end-marker", UnpackError::Truncated { .. });
    assert_refused!("single-end-block", UnpackError::Truncated { .. });
    assert_refused!("size-field-too-large", UnpackError::Truncated { .. });
}

#[test]
fn refuses_trailing_garbage_after_the_end_marker() {
    assert_refused!(
        "trailing-garbage",
        UnpackError::TrailingData { offset: 10240 }
    );
}

#[test]
fn refuses_trailing_garbage_after_the_zstd_frame_and_non_zstd_input() {
    assert_refused!("zstd-trailing-garbage", UnpackError::Decompress { .. });
    assert_refused!("not-zstd", UnpackError::Decompress { .. });
}

#[test]
fn refuses_a_size_field_that_disagrees_with_the_data() {
    assert_refused!(
        "size-field-too-small",
        UnpackError::CorruptHeader { previous: Some(path), .. } if path == "a.txt"
    );
}

#[test]
fn refuses_headers_with_a_bad_checksum() {
    assert_refused!(
        "bad-checksum",
        UnpackError::CorruptHeader { offset: 1024, .. }
    );
}

#[test]
fn refuses_directories_with_data() {
    assert_refused!(
        "directory-with-data",
        UnpackError::DirectoryWithData { size: 512, .. }
    );
}

#[test]
fn refuses_pax_extended_and_global_headers() {
    assert_refused!(
        "pax-header",
        UnpackError::PaxHeader {
            kind: "extended",
            ..
        }
    );
    assert_refused!(
        "pax-global-header",
        UnpackError::PaxHeader { kind: "global", .. }
    );
}

#[test]
fn refuses_gnu_long_name_entries_and_gnu_headers() {
    assert_refused!(
        "gnu-longname",
        UnpackError::GnuExtension {
            kind: "long name",
            ..
        }
    );
    assert_refused!("gnu-format", UnpackError::NotUstar { path, .. } if path == "a.txt");
    assert_refused!("v7-header", UnpackError::NotUstar { .. });
}

#[test]
fn every_corpus_archive_has_a_test() {
    let tested = include_str!("artifact_hostile.rs");
    for entry in fs::read_dir(corpus("x").parent().unwrap()).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if let Some(stem) = name.strip_suffix(".tar.zst") {
            assert!(
                tested.contains(&format!("\"{stem}\"")),
                "{name} is in the corpus but no test unpacks it"
            );
        }
    }
}

#[test]
fn accepts_what_python_tarfile_writes_and_drops_special_mode_bits() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let destination = parent.path().join("app");
    let summary = unpack(
        File::open(corpus("accepted-python-ustar")).unwrap(),
        &destination,
        &Limits::default(),
    )
    .unwrap();
    assert_eq!((summary.files, summary.directories), (3, 2));
    let mode = |path: &str| {
        fs::metadata(destination.join(path))
            .unwrap()
            .permissions()
            .mode()
            & 0o7777
    };
    assert_eq!(mode("bin/app"), 0o755);
    assert_eq!(mode("share"), 0o755);
    assert_eq!(mode("share/readme.txt"), 0o644);
    assert_eq!(
        fs::read(destination.join("share/readme.txt")).unwrap(),
        b"hello\n"
    );
}
