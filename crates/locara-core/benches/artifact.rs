//! Artifact packing and unpacking, next to `tar | zstd` and `zstd -d | tar -x` on the same tree in the
//! same run.
//!
//! Run: `cargo bench -p locara-core --bench artifact`. The input is a ~20 MB tree of ~50 files in a temp
//! dir: half text-like (compressible), half pseudo-random. Groups `artifact_pack_20MB` and
//! `artifact_unpack_20MB` each hold `locara` and the `*_baseline` process pipeline, so the ratio reads
//! off directly. The baselines run `zstd -T1` at the same level; our unpack fsyncs every file and
//! directory, the baseline does not.

use std::fs;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use locara_core::artifact::{Limits, MANIFEST_PATH, Packer, ZSTD_LEVEL, unpack};

const FILES: usize = 50;
const FILE_SIZE: usize = 400 * 1024;

fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_F491_4F6C_DD1D)
}

fn build_tree(root: &Path) -> u64 {
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    let words: Vec<String> = (0..500)
        .map(|_| {
            let len = 2 + (xorshift(&mut state) % 8) as usize;
            (0..len)
                .map(|_| char::from(b'a' + (xorshift(&mut state) % 26) as u8))
                .collect()
        })
        .collect();
    fs::write(root.join(MANIFEST_PATH), "name = \"acme/bench\"\n").unwrap();
    let mut total = 0u64;
    for index in 0..FILES {
        let directory = root.join(format!("dir{}", index % 5));
        fs::create_dir_all(&directory).unwrap();
        let mut contents = Vec::with_capacity(FILE_SIZE);
        if index.is_multiple_of(2) {
            while contents.len() < FILE_SIZE {
                let word = &words[(xorshift(&mut state) % words.len() as u64) as usize];
                contents.extend_from_slice(word.as_bytes());
                contents.push(if xorshift(&mut state).is_multiple_of(12) {
                    b'\n'
                } else {
                    b' '
                });
            }
            contents.truncate(FILE_SIZE);
        } else {
            while contents.len() < FILE_SIZE {
                contents.extend_from_slice(&xorshift(&mut state).to_le_bytes());
            }
        }
        total += contents.len() as u64;
        fs::write(directory.join(format!("file{index}.dat")), contents).unwrap();
    }
    total
}

fn pack_tree(root: &Path) -> Vec<u8> {
    let mut out = Vec::with_capacity(16 << 20);
    Packer::new()
        .add_tree(root)
        .unwrap()
        .pack(&mut out)
        .unwrap();
    out
}

fn run(script: &str) {
    let status = Command::new("sh").arg("-c").arg(script).status().unwrap();
    assert!(status.success(), "{script}");
}

/// An unpacked tree, removed when criterion drops the routine's output (outside the timing).
struct Unpacked(PathBuf);

impl Drop for Unpacked {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn fresh_destination(parent: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    parent.join(format!("out{}", NEXT.fetch_add(1, Ordering::Relaxed)))
}

fn artifact(c: &mut Criterion) {
    let work = tempfile::tempdir().unwrap();
    let tree = work.path().join("tree");
    fs::create_dir(&tree).unwrap();
    let input_bytes = build_tree(&tree);
    let packed = pack_tree(&tree);
    let artifact_path = work.path().join("app.tar.zst");
    fs::write(&artifact_path, &packed).unwrap();
    let baseline_path = work.path().join("baseline.tar.zst");
    run(&format!(
        "tar -C '{}' --format=ustar --sort=name -cf - . | zstd -T1 -q -{ZSTD_LEVEL} -c > '{}'",
        tree.display(),
        baseline_path.display()
    ));
    eprintln!(
        "input {input_bytes} bytes; locara artifact {} bytes; tar|zstd -{ZSTD_LEVEL} {} bytes",
        packed.len(),
        fs::metadata(&baseline_path).unwrap().len()
    );
    let outputs = work.path().join("outputs");
    fs::create_dir(&outputs).unwrap();

    let mut group = c.benchmark_group("artifact_pack_20MB");
    group.throughput(Throughput::Bytes(input_bytes));
    group.sample_size(10);
    group.bench_function("locara", |b| b.iter(|| black_box(pack_tree(&tree))));
    group.bench_function("tar_zstd_baseline", |b| {
        b.iter(|| {
            run(&format!(
                "tar -C '{}' --format=ustar -cf - . | zstd -T1 -q -{ZSTD_LEVEL} -c > /dev/null",
                tree.display()
            ))
        })
    });
    group.finish();

    let mut group = c.benchmark_group("artifact_unpack_20MB");
    group.throughput(Throughput::Bytes(input_bytes));
    group.sample_size(10);
    group.bench_function("locara", |b| {
        b.iter_batched(
            || fresh_destination(&outputs),
            |destination| {
                unpack(&packed[..], &destination, &Limits::default()).unwrap();
                Unpacked(destination)
            },
            BatchSize::PerIteration,
        )
    });
    group.bench_function("zstd_tar_baseline", |b| {
        b.iter_batched(
            || {
                let destination = fresh_destination(&outputs);
                fs::create_dir(&destination).unwrap();
                destination
            },
            |destination| {
                run(&format!(
                    "zstd -dc '{}' | tar -x -C '{}'",
                    baseline_path.display(),
                    destination.display()
                ));
                Unpacked(destination)
            },
            BatchSize::PerIteration,
        )
    });
    group.finish();
}

criterion_group!(benches, artifact);
criterion_main!(benches);
