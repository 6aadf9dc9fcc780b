//! From a repository and commit to a signed, double-built artifact (docs/build-sandbox.md, ADR 0081).
//!
//! [`build`] fetches exactly the requested commit with git into a fresh directory, checks that its
//! `locara.toml` names the requested app and version, runs the manifest's build command in the sandbox
//! ([`crate::sandbox`]) with a fixed environment, packs the declared outputs and the manifest into an
//! artifact, then does all of it again in a second fresh checkout at another path and compares the two
//! digests. It signs SLSA provenance for the first artifact and verifies it with the client's own check
//! before returning.
//!
//! Invariants: nothing but the declared outputs (regular files and directories, no symbolic link
//! anywhere on the way) and the manifest as committed goes into the artifact; the build never sees the
//! network, the host's files outside [`BuilderConfig::readable`], or any environment variable but the
//! ones listed in [`build_environment`]; the returned provenance verifies against the builder key and
//! names the artifact's digest, the repository and the commit.

mod git;
mod outputs;

use std::collections::BTreeMap;
use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use locara_core::artifact::PackError;
use locara_core::digest::Digest;
use locara_core::keys::{SigningKey, TrustedKeys};
use locara_core::manifest::{MANIFEST_FILE_NAME, Manifest, ManifestError};
use locara_core::names::AppName;
use locara_core::statement::GitCommit;
use locara_core::statement::provenance::{
    LocaraBuild, LocaraExternalParameters, LocaraInternalParameters, ProvenanceError,
    verify_provenance,
};
use locara_core::time::Timestamp;
use locara_core::version::Version;
use tempfile::{TempDir, TempPath};

use crate::sandbox::{self, End, Enforcement, Launcher, SandboxError, SandboxSpec};

/// Largest `locara.toml` read.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;
/// Lines of the build log quoted in a [`BuildError::BuildFailed`].
const LOG_TAIL_LINES: usize = 30;
/// The builds per request: two, to check reproducibility.
const BUILDS: u8 = 2;
/// The host paths every build may read and execute by default (those that exist): the system's
/// programs and libraries, and the few files of `/etc` that compilers, the dynamic linker and the C
/// library read. Not the rest of `/etc` (`shadow`, service configuration, keys), which a build has no
/// business reading; the sandbox writes its own `passwd`, `group` and `hosts`.
pub const SYSTEM_READABLE: [&str; 18] = [
    "/usr",
    "/bin",
    "/sbin",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/etc/alternatives",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/localtime",
    "/etc/nsswitch.conf",
    "/etc/os-release",
    "/etc/protocols",
    "/etc/services",
    "/etc/ssl/certs",
    "/etc/perl",
];
/// Size of each build's private `/tmp` (memory-backed); builds should use `TMPDIR`, on disk.
pub const BUILD_TMP_BYTES: u64 = 256 << 20;

/// What to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildRequest {
    /// The repository to fetch: `https://…`, `file:///absolute/path` or `/absolute/path`. Recorded as is
    /// in the provenance, so pass the release's source URL.
    pub repository: String,
    /// The full commit id to build.
    pub commit: GitCommit,
    /// The app the manifest must name.
    pub app: AppName,
    /// The version the manifest must name (exactly, build metadata included).
    pub version: Version,
}

/// How the builder runs builds; one per builder process.
#[derive(Debug, Clone)]
pub struct BuilderConfig {
    /// Where job directories and artifacts are made; created if missing.
    pub work_dir: PathBuf,
    /// Read-only paths inside the sandbox: system directories and toolchains.
    pub readable: Vec<PathBuf>,
    /// `PATH` inside the sandbox.
    pub path: String,
    /// Wall-clock limit of each of the two builds.
    pub wall_clock: Duration,
    /// Log cap of each build.
    pub max_log_bytes: u64,
    /// Largest file a build may write.
    pub max_file_bytes: u64,
    /// Most processes and threads a build may have at once; reaching it stops the build.
    pub max_processes: u64,
    /// Most memory each process of a build may allocate.
    pub max_memory_bytes: u64,
    /// Most bytes the checkout and scratch directory may hold together; more stops the build.
    pub max_disk_bytes: u64,
    /// Build even where the sandbox lacks a required protection (see
    /// [`SandboxSpec::allow_weaker_isolation`]). Leave `false` in production.
    pub allow_weaker_isolation: bool,
    /// Largest artifact (compressed) accepted.
    pub max_artifact_bytes: u64,
    /// The sandbox launcher.
    pub launcher: Launcher,
    /// URI naming this builder in provenance (`runDetails.builder.id`).
    pub builder_id: String,
    /// The builder's version, recorded in provenance.
    pub builder_version: String,
    /// Told of the log as it is written (headers and build output), for following a build live.
    pub live_log: Option<sandbox::LiveLog>,
}

/// An artifact file in [`BuilderConfig::work_dir`], deleted on drop unless persisted.
#[derive(Debug)]
pub struct ArtifactFile {
    path: TempPath,
}

impl ArtifactFile {
    /// Where the artifact is now.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens it for reading (to stream it to a blob store).
    pub fn open(&self) -> io::Result<File> {
        File::open(&self.path)
    }

    /// Moves it to `destination` (same file system) and keeps it there.
    pub fn persist(self, destination: &Path) -> io::Result<()> {
        self.path.persist(destination).map_err(|error| error.error)
    }
}

/// Everything one successful build produced.
#[derive(Debug)]
pub struct BuildOutput {
    /// The first build's artifact, as a file (artifacts are never held in memory).
    pub artifact: ArtifactFile,
    /// Its digest (`sha256` of the compressed bytes).
    pub artifact_digest: Digest,
    /// The second build's digest.
    pub second_digest: Digest,
    /// Both builds gave the same bytes.
    pub reproducible: bool,
    /// The signed provenance: a DSSE envelope as JSON.
    pub provenance: Vec<u8>,
    /// The commit's manifest.
    pub manifest: Manifest,
    /// The manifest file as committed (the artifact's `locara.toml`).
    pub manifest_text: String,
    /// `sha256` of the manifest file's bytes as committed.
    pub manifest_digest: Digest,
    /// Both builds' logs, each after a header line and followed by a summary line.
    pub log: Vec<u8>,
    /// What the kernel enforced for the first build's sandbox.
    pub enforcement: Enforcement,
    /// When the build job started.
    pub started: Timestamp,
    /// When it finished.
    pub finished: Timestamp,
    /// The commit's committer time, given to the build as `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: u64,
}

/// Which of the two builds something happened in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BuildNumber(pub u8);

impl fmt::Display for BuildNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "build {} of {BUILDS}", self.0)
    }
}

/// Why a build was refused or failed. Each names what was wrong and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The repository string is not one the builder fetches.
    #[error("repository {repository:?} is not accepted: {reason}")]
    InvalidRepository {
        /// The repository as requested.
        repository: String,
        /// Why.
        reason: String,
    },
    /// `git` could not be run.
    #[error("cannot run git: {source}; install git on the builder")]
    GitMissing {
        /// The operating-system error.
        source: io::Error,
    },
    /// The repository could not be reached.
    #[error(
        "cannot fetch from repository {repository:?}; check that it exists and is public. git said: {stderr}"
    )]
    Fetch {
        /// The repository.
        repository: String,
        /// The end of git's standard error.
        stderr: String,
    },
    /// The repository does not have the commit.
    #[error(
        "repository {repository:?} has no commit {commit}; push it, and request the full commit id. git said: {stderr}"
    )]
    CommitNotFound {
        /// The repository.
        repository: String,
        /// The commit requested.
        commit: GitCommit,
        /// The end of git's standard error.
        stderr: String,
    },
    /// A git step other than fetching failed.
    #[error("{step} failed: {stderr}")]
    Git {
        /// The git command.
        step: String,
        /// The end of git's standard error.
        stderr: String,
    },
    /// The checkout is not at the requested commit.
    #[error("the checkout is at commit {found}, expected {expected}")]
    HeadMismatch {
        /// The commit requested.
        expected: GitCommit,
        /// What `git rev-parse HEAD` said.
        found: String,
    },
    /// The commit's time could not be read.
    #[error("commit {commit} has committer time {found:?}, not a Unix time")]
    CommitTime {
        /// The commit.
        commit: GitCommit,
        /// What git printed.
        found: String,
    },
    /// The commit has submodules, which the builder does not fetch.
    #[error(
        "commit {commit} has submodules at {}; the builder fetches one repository only, so vendor their files instead",
        paths.join(", ")
    )]
    Submodules {
        /// The commit.
        commit: GitCommit,
        /// The submodule paths.
        paths: Vec<String>,
    },
    /// The commit has no `locara.toml` at its root.
    #[error(
        "commit {commit} has no {MANIFEST_FILE_NAME} at the repository root; add one (see docs/manifest.md)"
    )]
    ManifestMissing {
        /// The commit.
        commit: GitCommit,
    },
    /// `locara.toml` is not a regular file of reasonable size.
    #[error(
        "{MANIFEST_FILE_NAME} at commit {commit} is {what}; it must be a regular file of at most {MAX_MANIFEST_BYTES} bytes"
    )]
    ManifestNotAFile {
        /// The commit.
        commit: GitCommit,
        /// What it is instead.
        what: String,
    },
    /// `locara.toml` does not parse; the core's messages point at the lines.
    #[error("{MANIFEST_FILE_NAME} at commit {commit} is invalid:\n{error}")]
    ManifestInvalid {
        /// The commit.
        commit: GitCommit,
        /// Every problem, located.
        error: ManifestError,
    },
    /// The manifest names another app.
    #[error(
        "{MANIFEST_FILE_NAME} at commit {commit} names app {manifest}, but {requested} was requested; build the commit of the right app"
    )]
    NameMismatch {
        /// The commit.
        commit: GitCommit,
        /// The app requested.
        requested: AppName,
        /// The app the manifest names.
        manifest: AppName,
    },
    /// The manifest names another version.
    #[error(
        "{MANIFEST_FILE_NAME} at commit {commit} says version {manifest}, but {requested} was requested; bump app.version in the manifest or request that version"
    )]
    VersionMismatch {
        /// The commit.
        commit: GitCommit,
        /// The version requested.
        requested: Version,
        /// The version the manifest names.
        manifest: Version,
    },
    /// The sandbox could not run the build.
    #[error("{build}: {source}")]
    Sandbox {
        /// Which build.
        build: BuildNumber,
        /// Why.
        source: SandboxError,
    },
    /// The build command failed.
    #[error("{build}: the build command {how}; last lines of its log:\n{log_tail}")]
    BuildFailed {
        /// Which build.
        build: BuildNumber,
        /// "exited with code N" or "was killed by signal N".
        how: String,
        /// The end of the log.
        log_tail: String,
        /// The whole log so far, with headers.
        log: Vec<u8>,
    },
    /// The build ran past the wall-clock limit.
    #[error(
        "{build}: the build did not finish within {limit:?} and was killed with everything it started; last lines of its log:\n{log_tail}"
    )]
    TimedOut {
        /// Which build.
        build: BuildNumber,
        /// The limit.
        limit: Duration,
        /// The end of the log.
        log_tail: String,
        /// The whole log so far, with headers.
        log: Vec<u8>,
    },
    /// The build wrote more output than the log cap.
    #[error(
        "{build}: the build wrote more than {limit} bytes of output and was killed; make it quieter"
    )]
    LogLimit {
        /// Which build.
        build: BuildNumber,
        /// The cap.
        limit: u64,
        /// The whole log so far (the capped output), with headers.
        log: Vec<u8>,
    },
    /// A declared output does not exist after the build.
    #[error(
        "output {artifact_path:?} should come from {path:?} in the build directory, but the build did not make it; fix build.outputs or the build"
    )]
    OutputMissing {
        /// The artifact path.
        artifact_path: String,
        /// The build-directory path.
        path: String,
    },
    /// A declared output is, or goes through, or contains a symbolic link.
    #[error(
        "output {artifact_path:?}: {path:?} in the build directory is a symbolic link (to {target:?}); artifacts hold regular files and directories only, copy the file instead"
    )]
    OutputIsSymlink {
        /// The artifact path.
        artifact_path: String,
        /// The link, relative to the build directory.
        path: String,
        /// Where it points.
        target: String,
    },
    /// A declared output is or contains something other than regular files and directories.
    #[error(
        "output {artifact_path:?}: {path:?} is not a regular file or directory; remove it from the output"
    )]
    OutputNotRegular {
        /// The artifact path.
        artifact_path: String,
        /// The path in the build directory.
        path: String,
    },
    /// The entry program is not an executable regular file.
    #[error(
        "the entry {entry:?} (built as {path:?}) is not an executable regular file; the build must make it executable (chmod +x)"
    )]
    EntryNotExecutable {
        /// The entry's artifact path.
        entry: String,
        /// Its build-directory path.
        path: String,
    },
    /// The artifact is larger than allowed.
    #[error(
        "the artifact is larger than the limit of {limit} bytes; ship fewer or smaller outputs"
    )]
    ArtifactTooLarge {
        /// The limit.
        limit: u64,
    },
    /// The outputs could not be packed.
    #[error("cannot pack the artifact: {0}")]
    Pack(#[from] PackError),
    /// The provenance just signed does not verify (a builder bug or a wrong key).
    #[error("the signed provenance does not verify: {0}")]
    Provenance(#[from] ProvenanceError),
    /// A file-system operation of the builder failed.
    #[error("cannot {action} {}: {source}", path.display())]
    Io {
        /// What the builder was doing.
        action: &'static str,
        /// On what.
        path: PathBuf,
        /// The operating-system error.
        source: io::Error,
    },
}

impl BuildError {
    /// The build log so far, for the errors that happen when a build command ran and failed.
    pub fn log(&self) -> Option<&[u8]> {
        match self {
            Self::BuildFailed { log, .. }
            | Self::TimedOut { log, .. }
            | Self::LogLimit { log, .. } => Some(log),
            _ => None,
        }
    }

    fn io(action: &'static str, path: &Path, source: io::Error) -> Self {
        Self::Io {
            action,
            path: path.to_owned(),
            source,
        }
    }
}

/// The environment of every build: exactly these variables.
pub fn build_environment(
    path: &str,
    scratch: &Path,
    source_date_epoch: u64,
) -> Vec<(String, String)> {
    let scratch = scratch.display();
    vec![
        ("PATH".to_owned(), path.to_owned()),
        ("HOME".to_owned(), scratch.to_string()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
        ("LC_ALL".to_owned(), "C.UTF-8".to_owned()),
        ("TZ".to_owned(), "UTC".to_owned()),
        (
            "SOURCE_DATE_EPOCH".to_owned(),
            source_date_epoch.to_string(),
        ),
        ("TMPDIR".to_owned(), format!("{scratch}/tmp")),
        ("CARGO_HOME".to_owned(), format!("{scratch}/cargo")),
    ]
}

/// Fetches, checks, builds twice, packs and signs; see the module documentation.
pub fn build(
    request: &BuildRequest,
    config: &BuilderConfig,
    builder_key: &SigningKey,
    invocation_id: &str,
) -> Result<BuildOutput, BuildError> {
    let started = Timestamp::now();
    let transport = git::transport(&request.repository)?;
    fs::create_dir_all(&config.work_dir)
        .map_err(|error| BuildError::io("create", &config.work_dir, error))?;
    // The sandbox takes only absolute paths without `..` or links on the way (`./data/../data`).
    let work_dir = fs::canonicalize(&config.work_dir)
        .map_err(|error| BuildError::io("resolve", &config.work_dir, error))?;
    let job = tempfile::Builder::new()
        .prefix("build-")
        .tempdir_in(&work_dir)
        .map_err(|error| BuildError::io("create a job directory in", &config.work_dir, error))?;
    let _span = tracing::info_span!(
        "build",
        invocation_id,
        app = %request.app,
        version = %request.version,
        commit = %request.commit
    )
    .entered();

    let mut log = Vec::new();
    let mut first = build_once(request, config, &transport, &job, 1, &mut log, None)?;
    let second = build_once(request, config, &transport, &job, 2, &mut log, Some(&first))?;
    let reproducible = first.digest == second.digest;
    tracing::info!(
        digest = %first.digest,
        second_digest = %second.digest,
        reproducible,
        "built"
    );
    drop(job);

    let finished = Timestamp::now();
    let artifact_name = format!(
        "{}-{}-{}.tar.zst",
        request.app.publisher(),
        request.app.slug(),
        request.version
    );
    let provenance = LocaraBuild {
        artifact_name,
        artifact_digest: first.digest,
        external_parameters: LocaraExternalParameters {
            repository: request.repository.clone(),
            commit: request.commit.clone(),
            manifest_path: MANIFEST_FILE_NAME.to_owned(),
            build_command: first.manifest.build().command().to_vec(),
        },
        internal_parameters: LocaraInternalParameters {
            builder_version: config.builder_version.clone(),
            toolchain: toolchain_versions(&config.path),
        },
        builder_id: config.builder_id.clone(),
        invocation_id: invocation_id.to_owned(),
        started_on: started,
        finished_on: finished,
    }
    .sign(builder_key)?;
    verify_provenance(
        &provenance,
        &TrustedKeys::single(builder_key.public_key().clone()),
        &first.digest,
        &request.repository,
        &request.commit,
    )?;

    let Some(artifact) = first.artifact.take() else {
        return Err(BuildError::io(
            "keep the artifact in",
            &config.work_dir,
            io::Error::other("the first build made no artifact file"),
        ));
    };
    Ok(BuildOutput {
        artifact: ArtifactFile { path: artifact },
        artifact_digest: first.digest,
        second_digest: second.digest,
        reproducible,
        provenance: provenance.to_json(),
        manifest_digest: Digest::of_bytes(&first.manifest_bytes),
        manifest_text: String::from_utf8_lossy(&first.manifest_bytes).into_owned(),
        manifest: first.manifest,
        log,
        enforcement: first.enforcement,
        started,
        finished,
        source_date_epoch: first.source_date_epoch,
    })
}

/// One checkout, build and pack.
struct Built {
    digest: Digest,
    /// The artifact file (first build only; the second is only hashed).
    artifact: Option<TempPath>,
    manifest: Manifest,
    manifest_bytes: Vec<u8>,
    source_date_epoch: u64,
    enforcement: Enforcement,
}

fn build_once(
    request: &BuildRequest,
    config: &BuilderConfig,
    transport: &git::Transport,
    job: &TempDir,
    number: u8,
    log: &mut Vec<u8>,
    first: Option<&Built>,
) -> Result<Built, BuildError> {
    let build = BuildNumber(number);
    let directory = job.path().join(format!("build-{number}"));
    let checkout = git::fetch_commit(&request.repository, transport, &request.commit, &directory)?;
    let (manifest, manifest_bytes) = match first {
        Some(first) => (first.manifest.clone(), first.manifest_bytes.clone()),
        None => read_manifest(&checkout.source, request)?,
    };

    let scratch = directory.join("scratch");
    for dir in [scratch.join("tmp"), scratch.join("cargo")] {
        fs::create_dir_all(&dir).map_err(|error| BuildError::io("create", &dir, error))?;
    }
    let spec = SandboxSpec {
        command: manifest.build().command().to_vec(),
        working_dir: checkout.source.clone(),
        writable: vec![checkout.source.clone(), scratch.clone()],
        readable: config.readable.clone(),
        env: build_environment(&config.path, &scratch, checkout.source_date_epoch),
        wall_clock: config.wall_clock,
        max_log_bytes: config.max_log_bytes,
        max_file_bytes: config.max_file_bytes,
        max_processes: config.max_processes,
        max_memory_bytes: config.max_memory_bytes,
        max_disk_bytes: config.max_disk_bytes,
        tmp_bytes: BUILD_TMP_BYTES,
        private_root: true,
        allow_weaker_isolation: config.allow_weaker_isolation,
    };
    let header = format!(
        "== {build}: {:?} in {} (SOURCE_DATE_EPOCH={}) ==\n",
        spec.command,
        checkout.source.display(),
        checkout.source_date_epoch
    );
    log.extend_from_slice(header.as_bytes());
    if let Some(live) = &config.live_log {
        (live.0)(header.as_bytes());
    }
    let outcome = sandbox::run_streaming(&spec, &config.launcher, config.live_log.as_ref())
        .map_err(|source| BuildError::Sandbox { build, source })?;
    log.extend_from_slice(&outcome.log);
    if !outcome.log.is_empty() && !outcome.log.ends_with(b"\n") {
        log.push(b'\n');
    }
    let enforcement = &outcome.enforcement;
    let gaps = enforcement.gaps();
    let _ = writeln!(
        log,
        "== {build}: {} after {:.1} s ==\n== sandbox: {}; limits: {}; gaps: {} ==",
        describe(outcome.end, &spec),
        outcome.duration.as_secs_f64(),
        enforcement.protections().join(", "),
        limits(&spec),
        if gaps.is_empty() {
            "none".to_owned()
        } else {
            gaps.join(", ")
        }
    );
    let uncovered = enforcement.uncovered_gaps();
    if !uncovered.is_empty() {
        tracing::warn!(%build, gaps = ?uncovered, "sandbox protections not in force");
    }
    let log_tail = || tail_lines(&outcome.log, LOG_TAIL_LINES);
    match outcome.end {
        End::Exited(0) => {}
        End::Exited(_) | End::Signalled(_) | End::ProcessLimit | End::DiskLimit => {
            return Err(BuildError::BuildFailed {
                build,
                how: describe(outcome.end, &spec),
                log_tail: log_tail(),
                log: std::mem::take(log),
            });
        }
        End::TimedOut => {
            return Err(BuildError::TimedOut {
                build,
                limit: config.wall_clock,
                log_tail: log_tail(),
                log: std::mem::take(log),
            });
        }
        End::LogLimit => {
            return Err(BuildError::LogLimit {
                build,
                limit: config.max_log_bytes,
                log: std::mem::take(log),
            });
        }
    }

    let build_section = manifest.build();
    let (digest, artifact) = if first.is_none() {
        let file = tempfile::Builder::new()
            .prefix("artifact-")
            .suffix(".tar.zst")
            .tempfile_in(&config.work_dir)
            .map_err(|error| {
                BuildError::io("create an artifact file in", &config.work_dir, error)
            })?;
        let (file, path) = file.into_parts();
        let mut writer = BufWriter::new(file);
        let summary = outputs::pack_outputs(
            &checkout.source,
            build_section.outputs(),
            build_section.entry(),
            &manifest_bytes,
            checkout.source_date_epoch,
            config.max_artifact_bytes,
            &mut writer,
        )?;
        writer
            .into_inner()
            .map_err(|error| BuildError::io("write", &path, error.into_error()))?
            .sync_all()
            .map_err(|error| BuildError::io("write", &path, error))?;
        (summary.digest, Some(path))
    } else {
        let summary = outputs::pack_outputs(
            &checkout.source,
            build_section.outputs(),
            build_section.entry(),
            &manifest_bytes,
            checkout.source_date_epoch,
            config.max_artifact_bytes,
            io::sink(),
        )?;
        (summary.digest, None)
    };
    // Free the disk before the next build.
    fs::remove_dir_all(&directory).map_err(|error| BuildError::io("remove", &directory, error))?;
    Ok(Built {
        digest,
        artifact,
        manifest,
        manifest_bytes,
        source_date_epoch: checkout.source_date_epoch,
        enforcement: outcome.enforcement,
    })
}

/// Reads and checks `locara.toml` from the checkout, before the build can touch it.
fn read_manifest(source: &Path, request: &BuildRequest) -> Result<(Manifest, Vec<u8>), BuildError> {
    let commit = &request.commit;
    let path = source.join(MANIFEST_FILE_NAME);
    let metadata = match fs::symlink_metadata(&path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err(BuildError::ManifestMissing {
                commit: commit.clone(),
            });
        }
        Err(error) => return Err(BuildError::io("inspect", &path, error)),
    };
    let not_a_file = |what: String| BuildError::ManifestNotAFile {
        commit: commit.clone(),
        what,
    };
    if metadata.file_type().is_symlink() {
        return Err(not_a_file("a symbolic link".to_owned()));
    }
    if !metadata.is_file() {
        return Err(not_a_file("not a regular file".to_owned()));
    }
    if metadata.len() > MAX_MANIFEST_BYTES {
        return Err(not_a_file(format!("{} bytes", metadata.len())));
    }
    let bytes = fs::read(&path).map_err(|error| BuildError::io("read", &path, error))?;
    let text = std::str::from_utf8(&bytes).map_err(|_| not_a_file("not UTF-8".to_owned()))?;
    let manifest = Manifest::parse(text).map_err(|error| BuildError::ManifestInvalid {
        commit: commit.clone(),
        error,
    })?;
    if manifest.app().name() != &request.app {
        return Err(BuildError::NameMismatch {
            commit: commit.clone(),
            requested: request.app.clone(),
            manifest: manifest.app().name().clone(),
        });
    }
    // Exact text: `Version` equality ignores nothing here, build metadata included.
    if manifest.app().version().to_string() != request.version.to_string() {
        return Err(BuildError::VersionMismatch {
            commit: commit.clone(),
            requested: request.version.clone(),
            manifest: manifest.app().version().clone(),
        });
    }
    Ok((manifest, bytes))
}

/// Tools whose version is recorded in provenance when found on the build `PATH`.
const TOOLS: [&str; 4] = ["cc", "rustc", "cargo", "git"];

/// The first line of `<tool> --version` for each of [`TOOLS`] found on `path` (run outside the sandbox:
/// these are the builder's own tools, not the build's inputs).
fn toolchain_versions(path: &str) -> BTreeMap<String, String> {
    let mut versions = BTreeMap::new();
    for tool in TOOLS {
        let output = std::process::Command::new(tool)
            .arg("--version")
            .env_clear()
            .env("PATH", path)
            .env("LC_ALL", "C")
            .stdin(std::process::Stdio::null())
            .output();
        if let Ok(output) = output
            && output.status.success()
            && let Some(line) = String::from_utf8_lossy(&output.stdout).lines().next()
        {
            versions.insert(tool.to_owned(), line.trim().to_owned());
        }
    }
    versions
}

/// How a build ended, naming the limit that stopped it.
fn describe(end: End, spec: &SandboxSpec) -> String {
    match end {
        // A shell reports a child killed by a signal as 128 + the signal.
        End::Exited(153) => format!(
            "exited with code 153 (128 + 25, SIGXFSZ: a program wrote a file past the limit of {} \
             per file)",
            bytes(spec.max_file_bytes)
        ),
        End::Exited(code) => format!("exited with code {code}"),
        End::Signalled(25) => format!(
            "was killed by signal 25 (SIGXFSZ): it wrote a file past the limit of {} per file",
            bytes(spec.max_file_bytes)
        ),
        End::Signalled(signal) => format!("was killed by signal {signal}"),
        End::TimedOut => "timed out".to_owned(),
        End::LogLimit => "passed the log limit".to_owned(),
        End::ProcessLimit => format!(
            "reached the limit of {} processes and threads and was stopped with everything it \
             started (a fork bomb, or a build that needs a higher build_max_processes)",
            spec.max_processes
        ),
        End::DiskLimit => format!(
            "filled its checkout and scratch directory past the disk limit of {} and was stopped",
            bytes(spec.max_disk_bytes)
        ),
    }
}

/// The limits a build ran under, in words, for its log.
fn limits(spec: &SandboxSpec) -> String {
    format!(
        "{} processes and threads, {} of memory per process, {} per file, {} of disk, {} of /tmp, \
         {} s",
        spec.max_processes,
        bytes(spec.max_memory_bytes),
        bytes(spec.max_file_bytes),
        bytes(spec.max_disk_bytes),
        bytes(spec.tmp_bytes),
        spec.wall_clock.as_secs()
    )
}

/// A byte count in the largest binary unit that divides it (`512 MiB`, `1536 KiB`, `1000 bytes`).
fn bytes(count: u64) -> String {
    for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
        if count >= size && count.is_multiple_of(size) {
            return format!("{} {unit}", count / size);
        }
    }
    format!("{count} bytes")
}

/// The last `lines` lines of a log, as text.
fn tail_lines(log: &[u8], lines: usize) -> String {
    let text = String::from_utf8_lossy(log);
    let all: Vec<&str> = text.lines().collect();
    all[all.len().saturating_sub(lines)..].join("\n")
}
