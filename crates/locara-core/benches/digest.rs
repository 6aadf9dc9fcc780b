//! SHA-256 streaming throughput, next to `sha256sum` on the same file in the same run.
//!
//! Run: `cargo bench -p locara-core --bench digest`. The file is 256 MiB of pseudo-random bytes in a temp
//! dir; both contenders read it from the page cache, so the figures compare hashing, not the disk.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use locara_core::digest::Digest;

const FILE_SIZE: usize = 256 * 1024 * 1024;

fn write_test_file(path: &Path) {
    let mut out = BufWriter::new(File::create(path).expect("create bench file"));
    // xorshift64*: cheap, incompressible enough, and the same bytes every run.
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut block = vec![0u8; 1 << 20];
    for _ in 0..FILE_SIZE / block.len() {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            chunk.copy_from_slice(&state.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
        }
        out.write_all(&block).expect("write bench file");
    }
    out.flush().expect("flush bench file");
}

fn sha256_streaming(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("payload.bin");
    write_test_file(&path);

    let ours = Digest::of_reader(File::open(&path).expect("open")).expect("hash");
    let output = Command::new("sha256sum")
        .arg(&path)
        .output()
        .expect("run sha256sum");
    let theirs = String::from_utf8_lossy(&output.stdout);
    assert!(
        theirs.starts_with(&ours.hex()),
        "sha256sum disagrees: ours {ours}, sha256sum {theirs}"
    );

    let mut group = c.benchmark_group("sha256_256MiB");
    group.throughput(Throughput::Bytes(FILE_SIZE as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(15));
    group.bench_function("locara_digest_of_reader", |b| {
        b.iter(|| Digest::of_reader(File::open(&path).expect("open")).expect("hash"))
    });
    group.bench_function("sha256sum_baseline", |b| {
        b.iter(|| {
            let status = Command::new("sha256sum")
                .arg(&path)
                .stdout(std::process::Stdio::null())
                .status()
                .expect("run sha256sum");
            assert!(status.success());
        })
    });
    group.finish();
}

criterion_group!(benches, sha256_streaming);
criterion_main!(benches);
