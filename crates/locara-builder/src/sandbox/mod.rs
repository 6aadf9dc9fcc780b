//! Runs one command offline, confined and limited (docs/build-sandbox.md, ADR 0080).
//!
//! [`run`] starts a launcher program ([`Launcher`], whose logic is [`exec_main`]) in a new process
//! group. The launcher puts the command in new user, mount, network, PID and IPC namespaces, gives it
//! a private root holding only its grants (read-only binds of [`SandboxSpec::readable`], read-write
//! binds of [`SandboxSpec::writable`], a private `/tmp`, a minimal `/dev`, its own `/proc`), sets
//! resource limits, applies a Landlock ruleset as a second layer (read and execute below the readable
//! grants, full access below the writable ones, nothing else; every TCP bind and connect denied) and
//! starts it, as the only child of the namespace's init and, for a root builder, as the unprivileged
//! [`BUILD_UID`], with exactly [`SandboxSpec::env`]. Standard output and error go to one pipe, read into
//! a capped log; the writable grants are measured while it runs, against [`SandboxSpec::max_disk_bytes`].
//!
//! Invariants:
//! - the command never runs before its private root and Landlock ruleset are in force; if the kernel
//!   enforces no Landlock rule at all, or the command could reach the host's named UNIX sockets (no
//!   private root and no Landlock `ResolveUnix`), the launcher refuses, unless
//!   [`SandboxSpec::allow_weaker_isolation`] is set;
//! - what the kernel enforced is reported in [`SandboxOutcome::enforcement`], never guessed;
//! - when [`run`] returns, no process the command started is left: at the wall-clock limit or when the
//!   log passes its cap the whole process group is killed; the command is PID 1 of its own PID
//!   namespace and dies with the launcher, and everything in that namespace dies with it.

mod launcher;
mod protocol;
mod root;

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use nix::sys::signal::{Signal, killpg};
use nix::sys::wait::{Id, WaitPidFlag, waitid};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

pub use launcher::{BUILD_GID, BUILD_UID, exec_main};
use protocol::{CommandEnd, LAUNCH, PROTOCOL_VERSION, Report, Request};

/// How long [`run`] waits for the last output and reports after it killed the process group.
const GRACE_AFTER_KILL: Duration = Duration::from_secs(5);
/// The most status-pipe bytes read; the launcher writes a few hundred.
const MAX_STATUS_BYTES: u64 = 1 << 20;
/// Bytes of the log quoted in a [`SandboxError::NoReport`].
const LOG_EXCERPT_BYTES: usize = 2000;
/// The shortest pause between two measurements of the writable grants; a measurement that takes longer
/// than a fifth of it stretches it, so measuring never takes more than a fifth of a core.
const DISK_WATCH_INTERVAL: Duration = Duration::from_millis(200);

/// What to run and within which limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxSpec {
    /// Program (looked up in the `PATH` of [`Self::env`]) and its arguments.
    pub command: Vec<String>,
    /// Absolute directory the command starts in.
    pub working_dir: PathBuf,
    /// Absolute paths the command may read, write, create and delete below (checkout, scratch).
    pub writable: Vec<PathBuf>,
    /// Absolute paths the command may read and execute below (system directories, toolchains);
    /// paths that do not exist are skipped and listed in [`Enforcement::skipped_readable`].
    pub readable: Vec<PathBuf>,
    /// The command's whole environment, in order.
    pub env: Vec<(String, String)>,
    /// Time from start until the whole process group is killed.
    pub wall_clock: Duration,
    /// Most bytes of output kept; more ends the run with [`End::LogLimit`].
    pub max_log_bytes: u64,
    /// Largest file the command may write (`RLIMIT_FSIZE`); writing past it fails with `SIGXFSZ`/`EFBIG`.
    pub max_file_bytes: u64,
    /// Most processes and threads at once (`RLIMIT_NPROC`); reaching it ends the run with
    /// [`End::ProcessLimit`].
    pub max_processes: u64,
    /// Most memory each process may allocate (`RLIMIT_DATA`: heap and private writable mappings).
    pub max_memory_bytes: u64,
    /// Most bytes the writable grants may hold together (what was there before included); more ends the
    /// run with [`End::DiskLimit`].
    pub max_disk_bytes: u64,
    /// Size of the private `/tmp` (memory-backed; also holds `/dev/shm`).
    pub tmp_bytes: u64,
    /// Give the command a private root (a mount namespace holding only its grants). `false` shows it
    /// the host's file system, filtered only by Landlock, and is refused unless the kernel's Landlock
    /// denies connecting to named UNIX sockets or [`Self::allow_weaker_isolation`] is set.
    pub private_root: bool,
    /// Run even without a required protection (Landlock file rules; isolation from the host's named
    /// UNIX sockets). Leave `false` in production.
    pub allow_weaker_isolation: bool,
}

impl SandboxSpec {
    /// A spec with the builder's default limits: 15 minutes, 1 MiB of log, 512 MiB per file, 1024
    /// processes and threads, 4 GiB of memory per process, 8 GiB of disk, a 256 MiB `/tmp`, a private
    /// root, and no weaker isolation.
    pub fn new(command: Vec<String>, working_dir: PathBuf) -> Self {
        Self {
            command,
            working_dir,
            writable: Vec::new(),
            readable: Vec::new(),
            env: Vec::new(),
            wall_clock: Duration::from_secs(900),
            max_log_bytes: 1 << 20,
            max_file_bytes: 512 << 20,
            max_processes: 1024,
            max_memory_bytes: 4 << 30,
            max_disk_bytes: 8 << 30,
            tmp_bytes: 256 << 20,
            private_root: true,
            allow_weaker_isolation: false,
        }
    }
}

/// The program [`run`] starts, which must call [`exec_main`] with the arguments after `leading_args`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launcher {
    /// The launcher binary: `locara-sandbox-exec`, or a host binary with a hidden subcommand.
    pub program: PathBuf,
    /// Arguments before the launcher's own, e.g. `["sandbox-exec"]` for a host binary's subcommand.
    pub leading_args: Vec<OsString>,
}

/// How a sandboxed command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It exited with this code.
    Exited(i32),
    /// It was killed by this signal (e.g. 25, `SIGXFSZ`, for a file over the limit).
    Signalled(i32),
    /// It ran past the wall-clock limit and its process group was killed.
    TimedOut,
    /// Its output passed the log cap and its process group was killed.
    LogLimit,
    /// Its processes and threads reached [`SandboxSpec::max_processes`] and were all killed.
    ProcessLimit,
    /// Its writable grants grew past [`SandboxSpec::max_disk_bytes`] and its process group was killed.
    DiskLimit,
}

/// What the kernel enforced for one run, as the launcher observed it after confining itself.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enforcement {
    /// The Landlock ABI in force (0: none); Locara asks for the rights of ABI 10.
    pub landlock_abi: u32,
    /// Landlock file-system rules are in force (access outside the listed paths is denied).
    pub filesystem: bool,
    /// File-system rights Locara asks for that this kernel cannot enforce, e.g. `ResolveUnix` (connecting
    /// to a named UNIX socket) before ABI 9.
    pub missing_filesystem_rights: Vec<String>,
    /// Landlock denies every TCP bind and connect (ABI 4 and later).
    pub tcp: bool,
    /// Landlock denies every UDP bind and send (ABI 10 and later); the network namespace isolates UDP
    /// in any case.
    pub udp: bool,
    /// Landlock scopes signals and abstract UNIX sockets to the sandbox (ABI 6 and later).
    pub scopes: bool,
    /// The command runs in its own user namespace (no capabilities over the host).
    pub user_namespace: bool,
    /// The command runs in its own network namespace (only a loopback device, down).
    pub network_namespace: bool,
    /// The command runs in its own PID namespace (its descendants die with it).
    pub pid_namespace: bool,
    /// The command runs in its own IPC namespace.
    pub ipc_namespace: bool,
    /// The command runs in its own mount namespace with a root made for it: nothing of the host's
    /// file system exists inside but its grants.
    #[serde(default)]
    pub private_root: bool,
    /// The private root has its own `/proc`, showing only the sandbox's processes.
    #[serde(default)]
    pub private_proc: bool,
    /// The command's uid on the host ([`BUILD_UID`] when the builder runs as root).
    #[serde(default)]
    pub command_uid: u32,
    /// Readable paths that did not exist and so were not granted.
    pub skipped_readable: Vec<PathBuf>,
}

impl Enforcement {
    /// Every protection Locara asks for is in force, each layer included.
    pub fn is_complete(&self) -> bool {
        self.filesystem
            && self.missing_filesystem_rights.is_empty()
            && self.tcp
            && self.udp
            && self.scopes
            && self.user_namespace
            && self.network_namespace
            && self.pid_namespace
            && self.ipc_namespace
            && self.private_root
            && self.private_proc
    }

    /// The command cannot connect to the host's named UNIX sockets: they do not exist in its private
    /// root, or Landlock denies connecting to them (`ResolveUnix`, ABI 9).
    pub fn named_sockets_isolated(&self) -> bool {
        self.private_root
            || (self.filesystem
                && !self
                    .missing_filesystem_rights
                    .iter()
                    .any(|right| right == "ResolveUnix"))
    }

    /// The protections in force, in words, for build logs.
    pub fn protections(&self) -> Vec<String> {
        let mut protections = Vec::new();
        if self.private_root {
            protections
                .push("private root (mount namespace: only the granted paths exist)".to_owned());
        }
        if self.filesystem {
            let mut parts = vec!["files"];
            if self.tcp {
                parts.push("TCP");
            }
            if self.udp {
                parts.push("UDP");
            }
            if self.scopes {
                parts.push("signals and abstract sockets");
            }
            protections.push(format!(
                "Landlock ABI {} ({})",
                self.landlock_abi,
                parts.join(", ")
            ));
        }
        for (enforced, what) in [
            (self.user_namespace, "user namespace"),
            (
                self.network_namespace,
                "network namespace (no network, no abstract sockets)",
            ),
            (self.pid_namespace, "PID namespace"),
            (self.ipc_namespace, "IPC namespace"),
        ] {
            if enforced {
                protections.push(what.to_owned());
            }
        }
        protections.push(format!("runs as uid {}", self.command_uid));
        protections
    }

    /// The protections that are not in force, in words, for logs and build records; a missing layer
    /// that another one covers says so.
    pub fn gaps(&self) -> Vec<String> {
        self.gaps_and_cover()
            .into_iter()
            .map(|(gap, cover)| match cover {
                Some(cover) => format!("{gap} ({cover} covers it)"),
                None => gap,
            })
            .collect()
    }

    /// The gaps that no other layer covers: what the command can reach that it should not.
    pub fn uncovered_gaps(&self) -> Vec<String> {
        self.gaps_and_cover()
            .into_iter()
            .filter(|(_, cover)| cover.is_none())
            .map(|(gap, _)| gap)
            .collect()
    }

    fn gaps_and_cover(&self) -> Vec<(String, Option<&'static str>)> {
        let network = self.network_namespace.then_some("the network namespace");
        let mut gaps = Vec::new();
        if !self.filesystem {
            gaps.push(("no Landlock file-system rules".to_owned(), None));
        }
        for right in &self.missing_filesystem_rights {
            let cover = (right == "ResolveUnix" && self.private_root).then_some("the private root");
            gaps.push((format!("Landlock right {right} not enforced"), cover));
        }
        for (enforced, what, cover) in [
            (self.tcp, "TCP not denied by Landlock", network),
            (self.udp, "UDP not denied by Landlock", network),
            (
                self.scopes,
                "signals and abstract sockets not scoped",
                network,
            ),
            (self.user_namespace, "no user namespace", None),
            (self.network_namespace, "no network namespace", None),
            (self.pid_namespace, "no PID namespace", None),
            (self.ipc_namespace, "no IPC namespace", None),
            (
                self.private_root,
                "no private root: the host's file system is visible",
                None,
            ),
            (self.private_proc, "no private /proc", None),
        ] {
            if !enforced {
                gaps.push((what.to_owned(), cover));
            }
        }
        gaps
    }
}

/// The result of one sandboxed run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SandboxOutcome {
    /// How it ended.
    pub end: End,
    /// Standard output and error, interleaved as written, at most [`SandboxSpec::max_log_bytes`].
    pub log: Vec<u8>,
    /// Time from start to the end of the run.
    pub duration: Duration,
    /// What the kernel enforced (all `false` if the run was killed before the launcher confined itself).
    pub enforcement: Enforcement,
}

/// Why a command could not be run in the sandbox. A command that ran and failed is not an error: see
/// [`End`].
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// The spec cannot be run as given.
    #[error("sandbox spec is invalid: {reason}")]
    InvalidSpec {
        /// What is wrong with it.
        reason: String,
    },
    /// The launcher program could not be started.
    #[error(
        "cannot start the sandbox launcher {program}: {source}; check the builder's launcher setting"
    )]
    Spawn {
        /// The launcher program.
        program: PathBuf,
        /// The operating-system error.
        source: io::Error,
    },
    /// The launcher could not set the sandbox up; the command did not run.
    #[error("the sandbox could not be set up, the command did not run: {message}")]
    Setup {
        /// The launcher's reason.
        message: String,
    },
    /// The launcher ended without saying how the command ended: not a Locara launcher, or it crashed.
    #[error(
        "the sandbox launcher {program} ended ({status}) without a report; is it a Locara launcher \
         that calls exec_main? Its output began: {log_excerpt}"
    )]
    NoReport {
        /// The launcher program.
        program: PathBuf,
        /// The launcher's exit status.
        status: String,
        /// The start of the log.
        log_excerpt: String,
    },
    /// Waiting for or reading from the launcher failed.
    #[error("cannot supervise the sandboxed command: {0}")]
    Io(#[source] io::Error),
}

enum Event {
    Log(Vec<u8>),
    LogEnd,
    Status(Vec<u8>),
    LauncherExited,
    DiskLimit,
}

/// Runs `spec.command` in the sandbox through `launcher`; blocks until it ended and nothing is left.
pub fn run(spec: &SandboxSpec, launcher: &Launcher) -> Result<SandboxOutcome, SandboxError> {
    run_streaming(spec, launcher, None)
}

/// Something told of a build's output as it is written (to show the log live); it gets the same bytes
/// the outcome's log keeps, within the cap.
#[derive(Clone)]
pub struct LiveLog(pub std::sync::Arc<LogSink>);

/// What [`LiveLog`] calls with each chunk of output.
pub type LogSink = dyn Fn(&[u8]) + Send + Sync;

impl std::fmt::Debug for LiveLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LiveLog")
    }
}

/// Like [`run`], also handing every kept output chunk to `live` as it arrives.
pub fn run_streaming(
    spec: &SandboxSpec,
    launcher: &Launcher,
    live: Option<&LiveLog>,
) -> Result<SandboxOutcome, SandboxError> {
    let request_json = request_json(spec)?;
    let (status_reader, status_writer) = io::pipe().map_err(SandboxError::Io)?;
    let (log_reader, log_writer) = io::pipe().map_err(SandboxError::Io)?;
    let log_writer_2 = log_writer.try_clone().map_err(SandboxError::Io)?;

    let started = Instant::now();
    let mut command = Command::new(&launcher.program);
    command
        .args(&launcher.leading_args)
        .arg(LAUNCH)
        .arg(request_json)
        .env_clear()
        .stdin(status_writer)
        .stdout(log_writer)
        .stderr(log_writer_2)
        .process_group(0);
    let spawned = command.spawn();
    // The command holds the parent's copies of the pipes' write ends; only the launcher may keep them.
    drop(command);
    let mut child = spawned.map_err(|source| SandboxError::Spawn {
        program: launcher.program.clone(),
        source,
    })?;
    let group = Pid::from_raw(child.id() as i32);

    let (events, receiver) = mpsc::channel();
    spawn_log_reader(log_reader, events.clone());
    spawn_status_reader(status_reader, events.clone());
    spawn_exit_watcher(group, events.clone());
    let watching = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(true));
    spawn_disk_watcher(spec, events, watching.clone());

    let supervised = supervise(spec, &receiver, group, started, live);
    watching.store(false, std::sync::atomic::Ordering::SeqCst);
    // The launcher is alive or a zombie here, so its pid still names the group: killing it cannot hit
    // an unrelated process. This also kills anything left in the group after a normal end.
    let _ = killpg(group, Signal::SIGKILL);
    let exit = child.wait().map_err(SandboxError::Io)?;
    let Supervised {
        killed,
        mut log,
        status,
    } = supervised;
    let status = match status {
        Some(status) => status,
        None => collect_status(&receiver, &mut log, spec.max_log_bytes),
    };
    let duration = started.elapsed();

    let mut enforcement = None;
    let mut ended = None;
    let mut failure = None;
    for line in status.split(|&byte| byte == b'\n') {
        match serde_json::from_slice::<Report>(line) {
            Ok(Report::Confined(observed)) => enforcement = Some(observed),
            // The first failure is the cause; later ones are consequences.
            Ok(Report::Failed { message }) => {
                failure.get_or_insert(message);
            }
            Ok(Report::Ended(end)) => ended = Some(end),
            Err(_) => {}
        }
    }
    if let (Some(message), None) = (failure, ended) {
        return Err(SandboxError::Setup { message });
    }
    let end = match (killed, ended) {
        (Some(end), _) => end,
        (None, Some(CommandEnd::Exited(code))) => End::Exited(code),
        (None, Some(CommandEnd::Signalled(signal))) => End::Signalled(signal),
        (None, Some(CommandEnd::ProcessLimit)) => End::ProcessLimit,
        (None, None) => {
            return Err(SandboxError::NoReport {
                program: launcher.program.clone(),
                status: exit.to_string(),
                log_excerpt: String::from_utf8_lossy(&log[..log.len().min(LOG_EXCERPT_BYTES)])
                    .into_owned(),
            });
        }
    };
    Ok(SandboxOutcome {
        end,
        log,
        duration,
        enforcement: enforcement.unwrap_or_default(),
    })
}

fn request_json(spec: &SandboxSpec) -> Result<String, SandboxError> {
    let invalid = |reason: String| SandboxError::InvalidSpec { reason };
    if spec.command.is_empty() {
        return Err(invalid("the command is empty".to_owned()));
    }
    if spec.command.iter().any(|argument| argument.contains('\0')) {
        return Err(invalid("a command argument contains NUL".to_owned()));
    }
    for (key, value) in &spec.env {
        if key.is_empty() || key.contains('=') || key.contains('\0') || value.contains('\0') {
            return Err(invalid(format!(
                "environment variable {key:?} is not a valid name=value pair"
            )));
        }
    }
    let paths = std::iter::once(&spec.working_dir)
        .chain(&spec.writable)
        .chain(&spec.readable);
    for path in paths {
        if !path.is_absolute() {
            return Err(invalid(format!("path {} is not absolute", path.display())));
        }
        if path.to_str().is_none() {
            return Err(invalid(format!("path {} is not UTF-8", path.display())));
        }
        if path
            .components()
            .any(|component| component == std::path::Component::ParentDir)
        {
            return Err(invalid(format!("path {} contains ..", path.display())));
        }
    }
    if let Some(root) = spec
        .writable
        .iter()
        .chain(&spec.readable)
        .find(|path| path.parent().is_none())
    {
        return Err(invalid(format!(
            "{} grants the whole file system; grant the directories the command needs",
            root.display()
        )));
    }
    if spec.max_processes < 2 {
        return Err(invalid(
            "the process limit must allow at least 2 processes".to_owned(),
        ));
    }
    if spec.max_memory_bytes < 1 << 20 || spec.tmp_bytes < 1 << 16 {
        return Err(invalid(
            "the memory limit must be at least 1 MiB and /tmp at least 64 KiB".to_owned(),
        ));
    }
    if spec.wall_clock.is_zero() {
        return Err(invalid("the wall-clock limit is zero".to_owned()));
    }
    let request = Request {
        version: PROTOCOL_VERSION,
        command: spec.command.clone(),
        working_dir: spec.working_dir.clone(),
        writable: spec.writable.clone(),
        readable: spec.readable.clone(),
        env: spec.env.clone(),
        max_file_bytes: spec.max_file_bytes,
        max_processes: spec.max_processes,
        max_memory_bytes: spec.max_memory_bytes,
        tmp_bytes: spec.tmp_bytes,
        private_root: spec.private_root,
        allow_weaker_isolation: spec.allow_weaker_isolation,
        parent_pid: std::process::id() as i32,
        namespaces: protocol::Namespaces::default(),
    };
    serde_json::to_string(&request).map_err(|error| invalid(error.to_string()))
}

struct Supervised {
    /// Set when the run was killed for a limit.
    killed: Option<End>,
    log: Vec<u8>,
    /// The status pipe's contents, if it closed already.
    status: Option<Vec<u8>>,
}

/// Collects output until the launcher exited and the log pipe closed, killing the group at a limit.
fn supervise(
    spec: &SandboxSpec,
    receiver: &Receiver<Event>,
    group: Pid,
    started: Instant,
    live: Option<&LiveLog>,
) -> Supervised {
    let cap = usize::try_from(spec.max_log_bytes).unwrap_or(usize::MAX);
    let mut deadline = started + spec.wall_clock;
    let mut log = Vec::new();
    let mut killed = None;
    let mut launcher_exited = false;
    let mut log_ended = false;
    let mut status = None;
    let kill = |end: End, killed: &mut Option<End>, deadline: &mut Instant| {
        if killed.is_none() {
            let _ = killpg(group, Signal::SIGKILL);
            *killed = Some(end);
            *deadline = Instant::now() + GRACE_AFTER_KILL;
        }
    };
    while !(launcher_exited && log_ended) {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(timeout) {
            Ok(Event::Log(bytes)) => {
                let room = cap.saturating_sub(log.len());
                let kept = &bytes[..bytes.len().min(room)];
                log.extend_from_slice(kept);
                if let Some(live) = live
                    && !kept.is_empty()
                {
                    (live.0)(kept);
                }
                if bytes.len() > room {
                    kill(End::LogLimit, &mut killed, &mut deadline);
                }
            }
            Ok(Event::LogEnd) => log_ended = true,
            Ok(Event::LauncherExited) => {
                launcher_exited = true;
                // Anything still in the group now is a leftover; the launcher's zombie keeps the
                // group id reserved, so this cannot hit another process.
                let _ = killpg(group, Signal::SIGKILL);
            }
            Ok(Event::Status(bytes)) => status = Some(bytes),
            Ok(Event::DiskLimit) => kill(End::DiskLimit, &mut killed, &mut deadline),
            Err(RecvTimeoutError::Timeout) if killed.is_none() => {
                kill(End::TimedOut, &mut killed, &mut deadline);
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
        }
    }
    Supervised {
        killed,
        log,
        status,
    }
}

/// Waits (briefly) for the status pipe's contents, keeping any late log bytes within the cap.
fn collect_status(receiver: &Receiver<Event>, log: &mut Vec<u8>, max_log_bytes: u64) -> Vec<u8> {
    let cap = usize::try_from(max_log_bytes).unwrap_or(usize::MAX);
    let deadline = Instant::now() + GRACE_AFTER_KILL;
    loop {
        let timeout = deadline.saturating_duration_since(Instant::now());
        match receiver.recv_timeout(timeout) {
            Ok(Event::Status(bytes)) => return bytes,
            Ok(Event::Log(bytes)) => {
                let room = cap.saturating_sub(log.len());
                log.extend_from_slice(&bytes[..bytes.len().min(room)]);
            }
            Ok(Event::LogEnd | Event::LauncherExited | Event::DiskLimit) => {}
            Err(_) => return Vec::new(),
        }
    }
}

fn spawn_log_reader(mut reader: io::PipeReader, events: Sender<Event>) {
    thread::spawn(move || {
        let mut buffer = vec![0u8; 64 * 1024];
        loop {
            match reader.read(&mut buffer) {
                Ok(0) => break,
                Ok(n) => {
                    if events.send(Event::Log(buffer[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        let _ = events.send(Event::LogEnd);
    });
}

fn spawn_status_reader(reader: io::PipeReader, events: Sender<Event>) {
    thread::spawn(move || {
        let mut status = Vec::new();
        let _ = reader.take(MAX_STATUS_BYTES).read_to_end(&mut status);
        let _ = events.send(Event::Status(status));
    });
}

/// Measures the writable grants until `watching` is cleared, and reports when they hold more than
/// [`SandboxSpec::max_disk_bytes`].
fn spawn_disk_watcher(
    spec: &SandboxSpec,
    events: Sender<Event>,
    watching: std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let paths = spec.writable.clone();
    let limit = spec.max_disk_bytes;
    thread::spawn(move || {
        while watching.load(std::sync::atomic::Ordering::SeqCst) {
            let measuring = Instant::now();
            let used: u64 = paths.iter().map(|path| disk_usage(path)).sum();
            if used > limit {
                let _ = events.send(Event::DiskLimit);
                return;
            }
            thread::sleep(DISK_WATCH_INTERVAL.max(measuring.elapsed() * 5));
        }
    });
}

/// Bytes allocated below `path` on its own file system, links not followed; what cannot be read
/// counts as nothing (the command may be deleting it).
pub fn disk_usage(path: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(top) = std::fs::symlink_metadata(path) else {
        return 0;
    };
    let device = top.dev();
    let mut total = 0;
    let mut pending = vec![(path.to_owned(), top)];
    while let Some((path, metadata)) = pending.pop() {
        total += metadata.blocks() * 512;
        if metadata.is_dir()
            && metadata.dev() == device
            && let Ok(entries) = std::fs::read_dir(&path)
        {
            for entry in entries.flatten() {
                if let Ok(metadata) = entry.metadata() {
                    pending.push((entry.path(), metadata));
                }
            }
        }
    }
    total
}

/// Reports the launcher's exit without reaping it, so its pid keeps naming the process group.
fn spawn_exit_watcher(launcher: Pid, events: Sender<Event>) {
    thread::spawn(move || {
        while let Err(nix::errno::Errno::EINTR) = waitid(
            Id::Pid(launcher),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        ) {}
        let _ = events.send(Event::LauncherExited);
    });
}
