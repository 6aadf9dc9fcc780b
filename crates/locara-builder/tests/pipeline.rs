//! The build pipeline against real git repositories made in temporary directories, real sandboxed
//! builds (POSIX shell for speed, plus one C and one Rust program) and the core's provenance check.

use std::fs;
use std::net::TcpListener;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use locara_builder::pipeline::{BuildError, BuildOutput, BuildRequest, BuilderConfig, build};
use locara_builder::sandbox::Launcher;
use locara_core::artifact::{Limits, unpack_verified};
use locara_core::digest::Digest;
use locara_core::dsse::{DsseError, Envelope};
use locara_core::keys::{SigningKey, TrustedKeys};
use locara_core::statement::GitCommit;
use locara_core::statement::provenance::{ProvenanceError, verify_provenance};
use tempfile::TempDir;

const APPS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples");
/// 2024-01-02T03:04:05Z, the commit time of every test repository.
const COMMIT_TIME: u64 = 1_704_164_645;

struct Repo {
    dir: TempDir,
    commit: GitCommit,
}

impl Repo {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn url(&self) -> String {
        format!("file://{}", self.path().display())
    }
}

fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "Test Author")
        .env("GIT_AUTHOR_EMAIL", "author@example.com")
        .env("GIT_COMMITTER_NAME", "Test Committer")
        .env("GIT_COMMITTER_EMAIL", "committer@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-02T03:04:05Z")
        .env("GIT_COMMITTER_DATE", "2024-01-02T03:04:05Z")
        .output()
        .expect("git runs");
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap().trim().to_owned()
}

/// Commits everything in `dir` (a fresh repository) and returns the commit.
fn commit_all(dir: &Path) -> GitCommit {
    git(dir, &["init", "--quiet", "--initial-branch=main"]);
    git(dir, &["add", "--all"]);
    git(dir, &["commit", "--quiet", "--message", "app"]);
    git(dir, &["rev-parse", "HEAD"]).parse().unwrap()
}

/// A repository holding `manifest` as `locara.toml` plus `files`.
fn repo_with(manifest: &str, files: &[(&str, &str)]) -> Repo {
    let dir = TempDir::new().unwrap();
    fs::write(dir.path().join("locara.toml"), manifest).unwrap();
    for (path, contents) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, contents).unwrap();
    }
    let commit = commit_all(dir.path());
    Repo { dir, commit }
}

/// A manifest for `demo/shell-app` 1.0.0 whose build is `sh -c script`.
fn shell_manifest(script: &str, outputs: &[(&str, &str)], entry: &str) -> String {
    let outputs: Vec<String> = outputs
        .iter()
        .map(|(artifact, build)| format!("{artifact:?} = {build:?}"))
        .collect();
    format!(
        r#"[app]
name = "demo/shell-app"
version = "1.0.0"
description = "A test app built with sh"
license = "MIT"
source = "https://git.example.com/demo/shell-app"

[build]
command = ["sh", "-c", {script:?}]
outputs = {{ {} }}
entry = {entry:?}
"#,
        outputs.join(", ")
    )
}

/// A shell-built app whose build runs `script` and is expected to make `run` (the entry).
fn shell_repo(script: &str) -> Repo {
    repo_with(
        &shell_manifest(script, &[("bin/run", "run")], "bin/run"),
        &[],
    )
}

/// A script that makes the entry `run` deterministically.
const MAKE_RUN: &str = "printf '#!/bin/sh\\necho hi\\n' > run && chmod +x run";

fn request(repo: &Repo, app: &str, version: &str) -> BuildRequest {
    BuildRequest {
        repository: repo.url(),
        commit: repo.commit.clone(),
        app: app.parse().unwrap(),
        version: version.parse().unwrap(),
    }
}

fn shell_request(repo: &Repo) -> BuildRequest {
    request(repo, "demo/shell-app", "1.0.0")
}

struct Builder {
    work: TempDir,
    config: BuilderConfig,
    key: SigningKey,
}

fn builder() -> Builder {
    let work = TempDir::new().unwrap();
    let config = BuilderConfig {
        work_dir: work.path().to_owned(),
        readable: locara_builder::pipeline::SYSTEM_READABLE
            .iter()
            .map(PathBuf::from)
            .collect(),
        path: "/usr/bin:/bin".to_owned(),
        wall_clock: Duration::from_secs(60),
        max_log_bytes: 1 << 20,
        max_file_bytes: 64 << 20,
        max_processes: 512,
        max_memory_bytes: 2 << 30,
        max_disk_bytes: 1 << 30,
        allow_weaker_isolation: false,
        max_artifact_bytes: 64 << 20,
        launcher: Launcher {
            program: env!("CARGO_BIN_EXE_locara-sandbox-exec").into(),
            leading_args: Vec::new(),
        },
        builder_id: "https://locara.dev/builder/test".to_owned(),
        builder_version: env!("CARGO_PKG_VERSION").to_owned(),
        live_log: None,
    };
    Builder {
        work,
        config,
        key: SigningKey::from_seed(&[7; 32]),
    }
}

fn run_build(builder: &Builder, request: &BuildRequest) -> Result<BuildOutput, BuildError> {
    build(request, &builder.config, &builder.key, "job-1")
}

fn trusted(builder: &Builder) -> TrustedKeys {
    TrustedKeys::single(builder.key.public_key().clone())
}

/// Unpacks the artifact (checking its digest) and returns the directory.
fn unpacked(output: &BuildOutput, into: &Path) -> PathBuf {
    let destination = into.join("unpacked");
    unpack_verified(
        output.artifact.open().unwrap(),
        &output.artifact_digest,
        &destination,
        &Limits::default(),
    )
    .expect("the artifact unpacks with the client's unpacker");
    destination
}

fn log_text(output: &BuildOutput) -> String {
    String::from_utf8_lossy(&output.log).into_owned()
}

#[test]
fn a_deterministic_build_is_reproducible_and_packs_only_the_outputs() {
    let script = "mkdir -p out/docs && printf hello > out/greeting && printf manual > out/docs/man \
                  && printf secret > not-an-output && printf '#!/bin/sh\\necho hi\\n' > run \
                  && chmod +x run";
    let manifest = shell_manifest(script, &[("bin/run", "run"), ("share", "out")], "bin/run");
    let repo = repo_with(&manifest, &[("README", "read me\n")]);
    let builder = builder();
    let output = run_build(&builder, &shell_request(&repo)).unwrap();

    assert!(output.reproducible, "{}", log_text(&output));
    assert_eq!(output.artifact_digest, output.second_digest);
    assert_eq!(output.source_date_epoch, COMMIT_TIME);
    assert_eq!(
        Digest::of_reader(output.artifact.open().unwrap()).unwrap(),
        output.artifact_digest
    );
    assert_eq!(
        output.manifest_digest,
        Digest::of_bytes(manifest.as_bytes())
    );
    assert!(output.enforcement.filesystem && output.enforcement.network_namespace);
    assert!(output.started <= output.finished);
    let log = log_text(&output);
    assert!(
        log.contains("== build 1 of 2:") && log.contains("== build 2 of 2:"),
        "{log}"
    );

    let unpacked = unpacked(&output, builder.work.path());
    let mut files = Vec::new();
    let mut pending = vec![unpacked.clone()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(dir).unwrap().flatten() {
            if entry.file_type().unwrap().is_dir() {
                pending.push(entry.path());
            } else {
                let relative = entry.path().strip_prefix(&unpacked).unwrap().to_owned();
                files.push(relative.display().to_string());
            }
        }
    }
    files.sort();
    assert_eq!(
        files,
        ["bin/run", "locara.toml", "share/docs/man", "share/greeting"]
    );
    assert_eq!(
        fs::read_to_string(unpacked.join("locara.toml")).unwrap(),
        manifest
    );
    let mode = fs::metadata(unpacked.join("bin/run"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o755, "the entry keeps mode 0755");
}

#[test]
fn the_build_environment_is_exactly_the_documented_one() {
    let manifest = shell_manifest(
        &format!("env > env.txt && {MAKE_RUN}"),
        &[("bin/run", "run"), ("env.txt", "env.txt")],
        "bin/run",
    );
    let repo = repo_with(&manifest, &[]);
    let builder = builder();
    let output = run_build(&builder, &shell_request(&repo)).unwrap();
    let env = fs::read_to_string(unpacked(&output, builder.work.path()).join("env.txt")).unwrap();
    let mut names: Vec<&str> = env
        .lines()
        .map(|line| line.split('=').next().unwrap())
        .filter(|name| *name != "PWD") // sh adds its working directory itself
        .collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "CARGO_HOME",
            "HOME",
            "LANG",
            "LC_ALL",
            "PATH",
            "SOURCE_DATE_EPOCH",
            "TMPDIR",
            "TZ"
        ]
    );
    assert!(env.contains(&format!("SOURCE_DATE_EPOCH={COMMIT_TIME}\n")));
    assert!(env.contains("TZ=UTC\n") && env.contains("LC_ALL=C.UTF-8\n"));
    // HOME and TMPDIR are the scratch directory, which differs between the two builds.
    assert!(!output.reproducible);
}

#[test]
fn a_non_deterministic_build_succeeds_but_is_not_reproducible() {
    let repo = shell_repo(&format!(
        "date +%s%N > stamp && head -c 16 /dev/urandom >> stamp && {MAKE_RUN} && cat stamp >> run"
    ));
    let output = run_build(&builder(), &shell_request(&repo)).unwrap();
    assert!(!output.reproducible);
    assert_ne!(output.artifact_digest, output.second_digest);
}

#[test]
fn the_provenance_verifies_and_names_the_source() {
    let repo = shell_repo(MAKE_RUN);
    let builder = builder();
    let request = shell_request(&repo);
    let output = run_build(&builder, &request).unwrap();

    let envelope = Envelope::from_json(&output.provenance).unwrap();
    let verified = verify_provenance(
        &envelope,
        &trusted(&builder),
        &output.artifact_digest,
        &request.repository,
        &repo.commit,
    )
    .expect("the client's check accepts the builder's provenance");
    assert_eq!(verified.external_parameters.commit, repo.commit);
    assert_eq!(verified.external_parameters.repository, repo.url());
    assert_eq!(verified.external_parameters.manifest_path, "locara.toml");
    assert_eq!(verified.external_parameters.build_command[0], "sh");
    assert_eq!(verified.builder_id(), "https://locara.dev/builder/test");
    let subject = &verified.statement.subject[0];
    assert_eq!(
        subject.sha256(),
        Some(output.artifact_digest.hex().as_str())
    );
    assert_eq!(
        subject.name.as_deref(),
        Some("demo-shell-app-1.0.0.tar.zst")
    );
    let internal = verified
        .statement
        .predicate
        .build_definition
        .internal_parameters
        .clone()
        .unwrap();
    assert_eq!(internal["builderVersion"], env!("CARGO_PKG_VERSION"));
    // The builder records the tools it found on the build PATH.
    assert!(internal["toolchain"]["cc"].is_string(), "{internal}");
    let metadata = verified.statement.predicate.run_details.metadata.unwrap();
    assert_eq!(metadata.invocation_id.as_deref(), Some("job-1"));
    assert_eq!(metadata.started_on, Some(output.started));

    // Another artifact, commit or repository is refused.
    let other = Digest::of_bytes(b"another artifact");
    assert!(matches!(
        verify_provenance(
            &envelope,
            &trusted(&builder),
            &other,
            &request.repository,
            &repo.commit
        ),
        Err(ProvenanceError::SubjectDigestMismatch { .. })
    ));
    assert!(matches!(
        verify_provenance(
            &envelope,
            &trusted(&builder),
            &output.artifact_digest,
            "https://git.example.com/someone/else",
            &repo.commit
        ),
        Err(ProvenanceError::RepositoryMismatch { .. })
    ));
}

#[test]
fn tampering_with_the_provenance_payload_fails_verification() {
    let repo = shell_repo(MAKE_RUN);
    let builder = builder();
    let request = shell_request(&repo);
    let output = run_build(&builder, &request).unwrap();

    let mut envelope = Envelope::from_json(&output.provenance).unwrap();
    let payload = String::from_utf8(envelope.payload.clone()).unwrap();
    let forged = payload.replace(&repo.commit.to_string(), &"0".repeat(40));
    assert_ne!(payload, forged);
    envelope.payload = forged.into_bytes();
    let result = verify_provenance(
        &envelope,
        &trusted(&builder),
        &output.artifact_digest,
        &request.repository,
        &"0".repeat(40).parse().unwrap(),
    );
    assert!(
        matches!(
            result,
            Err(ProvenanceError::Signature(
                DsseError::ThresholdNotMet { .. }
            ))
        ),
        "{result:?}"
    );
}

#[test]
fn refuses_a_manifest_that_names_another_app() {
    let repo = shell_repo(MAKE_RUN);
    match run_build(&builder(), &request(&repo, "demo/other-app", "1.0.0")) {
        Err(BuildError::NameMismatch {
            requested,
            manifest,
            ..
        }) => {
            assert_eq!(requested.to_string(), "demo/other-app");
            assert_eq!(manifest.to_string(), "demo/shell-app");
        }
        other => panic!("expected NameMismatch, got {other:?}"),
    }
}

#[test]
fn refuses_a_manifest_with_another_version() {
    let repo = shell_repo(MAKE_RUN);
    let error = run_build(&builder(), &request(&repo, "demo/shell-app", "1.0.1")).unwrap_err();
    assert!(
        matches!(&error, BuildError::VersionMismatch { requested, manifest, .. }
            if requested.to_string() == "1.0.1" && manifest.to_string() == "1.0.0"),
        "{error:?}"
    );
    assert!(error.to_string().contains("1.0.1") && error.to_string().contains("1.0.0"));
}

#[test]
fn refuses_an_unknown_commit() {
    let repo = shell_repo(MAKE_RUN);
    let mut request = shell_request(&repo);
    request.commit = "0123456789abcdef0123456789abcdef01234567".parse().unwrap();
    match run_build(&builder(), &request) {
        Err(BuildError::CommitNotFound { commit, stderr, .. }) => {
            assert_eq!(commit, request.commit);
            assert!(stderr.contains("not our ref"), "{stderr}");
        }
        other => panic!("expected CommitNotFound, got {other:?}"),
    }
}

#[test]
fn refuses_a_repository_that_does_not_exist() {
    let repo = shell_repo(MAKE_RUN);
    let mut request = shell_request(&repo);
    request.repository = "/nonexistent/locara/repository".to_owned();
    assert!(matches!(
        run_build(&builder(), &request),
        Err(BuildError::Fetch { .. })
    ));
}

#[test]
fn refuses_repository_urls_other_than_https_and_local() {
    let repo = shell_repo(MAKE_RUN);
    for repository in [
        "ext::sh -c touch% /tmp/pwned",
        "ssh://git@example.com/demo/app",
        "git://example.com/demo/app",
        "http://example.com/demo/app",
        "https://user:password@example.com/demo/app",
        "-uhello",
        "relative/path",
    ] {
        let mut request = shell_request(&repo);
        request.repository = repository.to_owned();
        assert!(
            matches!(
                run_build(&builder(), &request),
                Err(BuildError::InvalidRepository { .. })
            ),
            "{repository}"
        );
    }
}

#[test]
fn refuses_a_missing_or_invalid_manifest() {
    let dir = TempDir::new().unwrap();
    fs::write(dir.path().join("README"), "no manifest\n").unwrap();
    let commit = commit_all(dir.path());
    let repo = Repo { dir, commit };
    assert!(matches!(
        run_build(&builder(), &shell_request(&repo)),
        Err(BuildError::ManifestMissing { .. })
    ));

    let invalid = shell_manifest(MAKE_RUN, &[("bin/run", "run")], "bin/run")
        .replace("license = \"MIT\"", "license = \"MIT\"\nhomepage = \"x\"");
    let repo = repo_with(&invalid, &[]);
    let error = run_build(&builder(), &shell_request(&repo)).unwrap_err();
    assert!(
        matches!(error, BuildError::ManifestInvalid { .. }),
        "{error:?}"
    );
    assert!(
        error.to_string().contains("locara.toml:6:1: app.homepage"),
        "{error}"
    );
}

#[test]
fn refuses_a_manifest_that_is_a_symlink() {
    let dir = TempDir::new().unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("locara.toml")).unwrap();
    let commit = commit_all(dir.path());
    let repo = Repo { dir, commit };
    assert!(matches!(
        run_build(&builder(), &shell_request(&repo)),
        Err(BuildError::ManifestNotAFile { .. })
    ));
}

#[test]
fn refuses_submodules() {
    let repo = shell_repo(MAKE_RUN);
    git(
        repo.path(),
        &[
            "update-index",
            "--add",
            "--cacheinfo",
            &format!("160000,{},vendor/lib", repo.commit),
        ],
    );
    git(
        repo.path(),
        &["commit", "--quiet", "--message", "submodule"],
    );
    let mut request = shell_request(&repo);
    request.commit = git(repo.path(), &["rev-parse", "HEAD"]).parse().unwrap();
    match run_build(&builder(), &request) {
        Err(BuildError::Submodules { paths, .. }) => assert_eq!(paths, ["vendor/lib"]),
        other => panic!("expected Submodules, got {other:?}"),
    }
}

#[test]
fn a_build_that_reaches_for_the_network_fails() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let manifest = shell_manifest(
        &format!("bash -c 'echo stolen > /dev/tcp/127.0.0.1/{port}' && {MAKE_RUN}"),
        &[("bin/run", "run")],
        "bin/run",
    );
    let repo = repo_with(&manifest, &[]);
    match run_build(&builder(), &shell_request(&repo)) {
        Err(BuildError::BuildFailed { how, log_tail, .. }) => {
            assert_eq!(how, "exited with code 1");
            assert!(log_tail.contains("Permission denied"), "{log_tail}");
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    listener.set_nonblocking(true).unwrap();
    assert!(listener.accept().is_err(), "the build reached the listener");
}

#[test]
fn a_build_that_writes_outside_its_directory_fails() {
    let target = TempDir::new().unwrap();
    let planted = target.path().join("planted");
    let repo = shell_repo(&format!(
        "{MAKE_RUN} && echo x > ../planted-beside-the-checkout && echo x > {}",
        planted.display()
    ));
    let builder = builder();
    match run_build(&builder, &shell_request(&repo)) {
        Err(BuildError::BuildFailed { log_tail, .. }) => {
            assert!(log_tail.contains("Permission denied"), "{log_tail}");
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    assert!(!planted.exists());
}

#[test]
fn a_build_that_never_ends_times_out_and_leaves_nothing_running() {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let marker = format!(
        "1000.{}{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let repo = shell_repo(&format!(
        "sleep {marker} & setsid sleep {marker} & sleep {marker}"
    ));
    let mut builder = builder();
    builder.config.wall_clock = Duration::from_secs(1);
    let started = Instant::now();
    match run_build(&builder, &shell_request(&repo)) {
        Err(BuildError::TimedOut { limit, .. }) => assert_eq!(limit, Duration::from_secs(1)),
        other => panic!("expected TimedOut, got {other:?}"),
    }
    assert!(started.elapsed() < Duration::from_secs(10));
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left: Vec<_> = fs::read_dir("/proc")
            .unwrap()
            .flatten()
            .filter(|entry| {
                let cmdline = fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let live = fs::read_to_string(entry.path().join("stat"))
                    .map(|stat| !stat.contains(") Z "))
                    .unwrap_or(false);
                live && String::from_utf8_lossy(&cmdline).contains(&marker)
            })
            .collect();
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "left running: {left:?}");
        std::thread::yield_now();
    }
}

#[test]
fn a_failing_build_reports_its_exit_code_and_log() {
    let repo = shell_repo("echo compiling; echo 'error: it broke' >&2; exit 3");
    let error = run_build(&builder(), &shell_request(&repo)).unwrap_err();
    match &error {
        BuildError::BuildFailed { how, log_tail, .. } => {
            assert_eq!(how, "exited with code 3");
            assert_eq!(log_tail, "compiling\nerror: it broke");
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    assert!(error.to_string().starts_with("build 1 of 2: "), "{error}");
    let full_log = String::from_utf8_lossy(error.log().expect("a failed build keeps its log"));
    assert!(full_log.starts_with("== build 1 of 2:"), "{full_log}");
    assert!(full_log.contains("compiling\nerror: it broke\n== build 1 of 2: exited with code 3"));
}

#[test]
fn a_build_over_the_log_limit_fails() {
    let repo = shell_repo("yes noise");
    let mut builder = builder();
    builder.config.max_log_bytes = 10_000;
    assert!(matches!(
        run_build(&builder, &shell_request(&repo)),
        Err(BuildError::LogLimit { limit: 10_000, .. })
    ));
}

#[test]
fn refuses_an_output_the_build_did_not_make() {
    let manifest = shell_manifest(
        MAKE_RUN,
        &[("bin/run", "run"), ("share/data", "out/data")],
        "bin/run",
    );
    let repo = repo_with(&manifest, &[]);
    match run_build(&builder(), &shell_request(&repo)) {
        Err(BuildError::OutputMissing {
            artifact_path,
            path,
        }) => {
            assert_eq!(artifact_path, "share/data");
            assert_eq!(path, "out/data");
        }
        other => panic!("expected OutputMissing, got {other:?}"),
    }
}

#[test]
fn refuses_an_output_that_is_a_symlink_to_etc_passwd() {
    let manifest = shell_manifest(
        &format!("{MAKE_RUN} && ln -s /etc/passwd passwd"),
        &[("bin/run", "run"), ("passwd", "passwd")],
        "bin/run",
    );
    let repo = repo_with(&manifest, &[]);
    match run_build(&builder(), &shell_request(&repo)) {
        Err(BuildError::OutputIsSymlink { path, target, .. }) => {
            assert_eq!(path, "passwd");
            assert_eq!(target, "/etc/passwd");
        }
        other => panic!("expected OutputIsSymlink, got {other:?}"),
    }
}

#[test]
fn refuses_symlinks_inside_an_output_directory_and_on_the_way_to_an_output() {
    let inside = shell_manifest(
        &format!("{MAKE_RUN} && mkdir -p out/sub && echo a > out/a && ln -s /etc/passwd out/sub/p"),
        &[("bin/run", "run"), ("share", "out")],
        "bin/run",
    );
    match run_build(&builder(), &shell_request(&repo_with(&inside, &[]))) {
        Err(BuildError::OutputIsSymlink { path, .. }) => assert_eq!(path, "out/sub/p"),
        other => panic!("expected OutputIsSymlink, got {other:?}"),
    }

    let on_the_way = shell_manifest(
        &format!("{MAKE_RUN} && ln -s /etc etc-link"),
        &[("bin/run", "run"), ("passwd", "etc-link/passwd")],
        "bin/run",
    );
    match run_build(&builder(), &shell_request(&repo_with(&on_the_way, &[]))) {
        Err(BuildError::OutputIsSymlink { path, target, .. }) => {
            assert_eq!(path, "etc-link");
            assert_eq!(target, "/etc");
        }
        other => panic!("expected OutputIsSymlink, got {other:?}"),
    }
}

#[test]
fn refuses_an_entry_that_is_not_executable() {
    let repo = shell_repo("echo 'not a program' > run");
    assert!(matches!(
        run_build(&builder(), &shell_request(&repo)),
        Err(BuildError::EntryNotExecutable { .. })
    ));
}

#[test]
fn refuses_an_artifact_over_the_size_limit() {
    let repo = shell_repo(&format!("{MAKE_RUN} && head -c 100000 /dev/urandom >> run"));
    let mut builder = builder();
    builder.config.max_artifact_bytes = 50_000;
    assert!(matches!(
        run_build(&builder, &shell_request(&repo)),
        Err(BuildError::ArtifactTooLarge { limit: 50_000 })
    ));
    // Nothing is left in the work directory.
    assert_eq!(fs::read_dir(builder.work.path()).unwrap().count(), 0);
}

#[test]
fn the_job_directory_is_removed_and_the_artifact_can_be_persisted() {
    let repo = shell_repo(MAKE_RUN);
    let builder = builder();
    let output = run_build(&builder, &shell_request(&repo)).unwrap();
    let entries: Vec<_> = fs::read_dir(builder.work.path())
        .unwrap()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with("artifact-"));
    let kept = builder.work.path().join("kept.tar.zst");
    output.artifact.persist(&kept).unwrap();
    assert_eq!(
        Digest::of_reader(fs::File::open(&kept).unwrap()).unwrap(),
        output.artifact_digest
    );
}

/// Copies an example app into a fresh git repository.
fn app_repo(name: &str) -> Repo {
    let dir = TempDir::new().unwrap();
    let source = Path::new(APPS).join(name);
    let mut pending = vec![PathBuf::new()];
    while let Some(relative) = pending.pop() {
        for entry in fs::read_dir(source.join(&relative)).unwrap().flatten() {
            let relative = relative.join(entry.file_name());
            if entry.file_type().unwrap().is_dir() {
                fs::create_dir_all(dir.path().join(&relative)).unwrap();
                pending.push(relative);
            } else {
                fs::copy(entry.path(), dir.path().join(&relative)).unwrap();
            }
        }
    }
    let commit = commit_all(dir.path());
    Repo { dir, commit }
}

/// Runs the entry program from the unpacked artifact.
fn run_entry(output: &BuildOutput, work: &Path, entry: &str) -> String {
    let program = unpacked(output, work).join(entry);
    let result = Command::new(program).output().unwrap();
    assert!(result.status.success());
    String::from_utf8(result.stdout).unwrap()
}

#[test]
fn builds_the_c_example_reproducibly_with_gcc() {
    let repo = app_repo("hello-c");
    let builder = builder();
    let started = Instant::now();
    let output = run_build(&builder, &request(&repo, "demo/hello-c", "0.1.0")).unwrap();
    eprintln!("hello-c: two builds in {:?}", started.elapsed());
    assert!(output.reproducible, "{}", log_text(&output));
    assert_eq!(
        run_entry(&output, builder.work.path(), "bin/hello"),
        "Hello from demo/hello-c, built by Locara!\n"
    );
}

#[test]
fn builds_the_rust_example_reproducibly_with_cargo_offline() {
    let sysroot = Command::new("rustc")
        .args(["--print", "sysroot"])
        .output()
        .expect("rustc is installed");
    let sysroot = PathBuf::from(String::from_utf8(sysroot.stdout).unwrap().trim());
    let repo = app_repo("hello-rust");
    let mut builder = builder();
    builder.config.readable.push(sysroot.clone());
    builder.config.path = format!("{}/bin:/usr/bin:/bin", sysroot.display());
    let started = Instant::now();
    let output = run_build(&builder, &request(&repo, "demo/hello-rust", "0.1.0")).unwrap();
    let elapsed = started.elapsed();
    eprintln!("hello-rust: two builds in {elapsed:?}");
    assert!(elapsed < Duration::from_secs(60), "{elapsed:?}");
    assert!(output.reproducible, "{}", log_text(&output));
    assert_eq!(
        run_entry(&output, builder.work.path(), "bin/hello-rust"),
        "Hello from demo/hello-rust, built by Locara!\n"
    );
}

/// A Unix socket in the host's `/tmp` that answers `SECRET` to anything that connects.
fn secret_socket() -> (PathBuf, std::sync::Arc<AtomicU32>) {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let path = PathBuf::from(format!(
        "/tmp/locara-pipeline-host-{}-{}.sock",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::SeqCst)
    ));
    let _ = fs::remove_file(&path);
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let arrived = std::sync::Arc::new(AtomicU32::new(0));
    let counted = arrived.clone();
    std::thread::spawn(move || {
        for mut stream in listener.incoming().flatten() {
            counted.fetch_add(1, Ordering::SeqCst);
            let mut request = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut request);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.0 200 OK\r\nContent-Length: 6\r\n\r\nSECRET",
            );
        }
    });
    (path, arrived)
}

#[test]
fn a_hostile_build_finds_no_host_socket_or_secret_and_the_log_names_the_protections() {
    let (socket, arrived) = secret_socket();
    let repo = shell_repo(&format!(
        "curl -sS --max-time 5 --unix-socket {socket} http://host/ > stolen; \
         cat /etc/shadow >> stolen; ls -A /root /var/run /run >> stolen; {MAKE_RUN}",
        socket = socket.display()
    ));
    let output = run_build(&builder(), &shell_request(&repo)).unwrap();
    let log = log_text(&output);
    assert_eq!(
        arrived.load(Ordering::SeqCst),
        0,
        "the build reached the socket: {log}"
    );
    assert!(!log.contains("SECRET"), "{log}");
    assert!(log.contains("Couldn't connect to server"), "{log}");
    assert!(
        log.contains("/etc/shadow: No such file or directory"),
        "{log}"
    );
    assert!(
        log.contains("'/var/run': No such file or directory"),
        "{log}"
    );
    // Each build's summary says what protected it and within which limits it ran.
    assert!(
        log.contains(
            "== sandbox: private root (mount namespace: only the granted paths exist), Landlock ABI"
        ),
        "{log}"
    );
    assert!(
        log.contains("limits: 512 processes and threads, 2 GiB of memory per process"),
        "{log}"
    );
    assert!(output.enforcement.private_root && output.enforcement.named_sockets_isolated());
    let _ = fs::remove_file(socket);
}

#[test]
fn a_fork_bomb_fails_the_build_naming_the_process_limit() {
    // bash retries a failed fork, so this bomb stays at the limit until it is stopped.
    let repo = shell_repo("bash -c 'bomb() { bomb | bomb & }; bomb; sleep 100'");
    let mut builder = builder();
    builder.config.max_processes = 48;
    let started = Instant::now();
    match run_build(&builder, &shell_request(&repo)) {
        Err(BuildError::BuildFailed { how, .. }) => assert!(
            how.starts_with("reached the limit of 48 processes and threads"),
            "{how}"
        ),
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "not stopped by the wall clock"
    );
}

#[test]
fn filling_the_disk_fails_the_build_naming_the_disk_limit() {
    let repo = shell_repo(
        "i=0; while [ $i -lt 4000 ]; do head -c 262144 /dev/zero > f$i; i=$((i+1)); done",
    );
    let mut builder = builder();
    builder.config.max_disk_bytes = 8 << 20;
    match run_build(&builder, &shell_request(&repo)) {
        Err(BuildError::BuildFailed { how, log, .. }) => {
            assert!(
                how.starts_with(
                    "filled its checkout and scratch directory past the disk limit of 8 MiB"
                ),
                "{how}"
            );
            assert!(String::from_utf8_lossy(&log).contains("limits: "));
        }
        other => panic!("expected BuildFailed, got {other:?}"),
    }
}

#[test]
fn a_file_past_the_size_limit_fails_the_build_naming_the_limit() {
    let repo = shell_repo("exec head -c 2097152 /dev/zero > big");
    let mut builder = builder();
    builder.config.max_file_bytes = 1 << 20;
    match run_build(&builder, &shell_request(&repo)) {
        Err(BuildError::BuildFailed { how, .. }) => assert_eq!(
            how,
            "was killed by signal 25 (SIGXFSZ): it wrote a file past the limit of 1 MiB per file"
        ),
        other => panic!("expected BuildFailed, got {other:?}"),
    }
    // Through a shell, which reports 128 + the signal.
    let repo = shell_repo("head -c 2097152 /dev/zero > big");
    match run_build(&builder, &shell_request(&repo)) {
        Err(BuildError::BuildFailed { how, .. }) => assert!(
            how.starts_with("exited with code 153 (128 + 25, SIGXFSZ: a program wrote a file past the limit of 1 MiB"),
            "{how}"
        ),
        other => panic!("expected BuildFailed, got {other:?}"),
    }
}
