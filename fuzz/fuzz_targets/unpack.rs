#![no_main]
//! Fuzz target: the artifact unpacker. Arbitrary bytes are unpacked into a fresh directory with small
//! limits, twice: as given (a zstd stream), and wrapped in a zstd frame of raw (stored) blocks so that
//! mutations reach the tar parser instead of dying in zstd. On error nothing may be left beside the
//! destination; on success every path written must be a regular file (0644/0755) or directory (0755)
//! inside the destination, and nothing else may appear beside it.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use libfuzzer_sys::fuzz_target;
use locara_core::artifact::{Limits, unpack};

fn check_tree(root: &Path, directory: &Path) {
    for entry in fs::read_dir(directory).expect("read unpacked dir") {
        let path = entry.expect("dir entry").path();
        assert!(
            path.starts_with(root),
            "{} escaped {}",
            path.display(),
            root.display()
        );
        let metadata = fs::symlink_metadata(&path).expect("stat unpacked path");
        let mode = metadata.permissions().mode() & 0o7777;
        if metadata.is_dir() {
            assert_eq!(mode, 0o755, "{}", path.display());
            check_tree(root, &path);
        } else {
            assert!(
                metadata.is_file(),
                "{} is not a regular file",
                path.display()
            );
            assert!(
                mode == 0o644 || mode == 0o755,
                "{} has mode {mode:o}",
                path.display()
            );
        }
    }
}

/// `data` as one zstd frame of raw blocks (RFC 8878 §3.1.1): 128 KiB window, no checksum.
fn stored_zstd_frame(data: &[u8]) -> Vec<u8> {
    const MAX_BLOCK: usize = 128 * 1024;
    let mut frame = vec![0x28, 0xB5, 0x2F, 0xFD, 0x00, 7 << 3];
    let mut chunks: Vec<&[u8]> = data.chunks(MAX_BLOCK).collect();
    if chunks.is_empty() {
        chunks.push(&[]);
    }
    let last = chunks.len() - 1;
    for (index, chunk) in chunks.into_iter().enumerate() {
        let header = (chunk.len() as u32) << 3 | u32::from(index == last);
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(chunk);
    }
    frame
}

fn check_unpack(data: &[u8]) {
    let parent = tempfile::tempdir().expect("temp dir");
    let destination = parent.path().join("app");
    let limits = Limits::default()
        .with_max_total_size(1 << 20)
        .with_max_file_size(256 << 10)
        .with_max_entries(64)
        .with_max_path_len(128)
        .with_max_window_log(20);
    let result = unpack(data, &destination, &limits);
    let beside: Vec<_> = fs::read_dir(parent.path())
        .expect("read parent")
        .map(|entry| entry.expect("entry").file_name())
        .collect();
    match result {
        Ok(_) => {
            assert_eq!(beside, [std::ffi::OsString::from("app")]);
            check_tree(&destination, &destination);
        }
        Err(_) => assert!(beside.is_empty(), "left behind: {beside:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    check_unpack(data);
    check_unpack(&stored_zstd_frame(data));
});
