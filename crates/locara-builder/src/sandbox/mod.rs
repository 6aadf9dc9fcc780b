//! Runs one command offline, confined and limited (docs/build-sandbox.md, ADR 0080).
//!
//! [`run`] starts a launcher program ([`Launcher`], whose logic is [`exec_main`]) in a new process
//! group. The launcher puts the command in new user, network, PID and IPC namespaces, sets resource
//! limits, applies a Landlock ruleset (read and execute below [`SandboxSpec::readable`], full access below
//! [`SandboxSpec::writable`], nothing else; every TCP bind and connect denied) and starts it, as the
//! only child of the namespace's init, with exactly [`SandboxSpec::env`]. Standard output and error go
//! to one pipe, read into a capped log.
//!
//! Invariants:
//! - the command never runs before its Landlock ruleset is in force; if the kernel enforces no Landlock
//!   rule at all the launcher refuses, unless [`SandboxSpec::allow_without_landlock`] is set;
//! - what the kernel enforced is reported in [`SandboxOutcome::enforcement`], never guessed;
//! - when [`run`] returns, no process the command started is left: at the wall-clock limit or when the
//!   log passes its cap the whole process group is killed; the command is PID 1 of its own PID
//!   namespace and dies with the launcher, and everything in that namespace dies with it.

mod launcher;
mod protocol;

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

pub use launcher::exec_main;
use protocol::{CommandEnd, LAUNCH, PROTOCOL_VERSION, Report, Request};

/// How long [`run`] waits for the last output and reports after it killed the process group.
const GRACE_AFTER_KILL: Duration = Duration::from_secs(5);
/// The most status-pipe bytes read; the launcher writes a few hundred.
const MAX_STATUS_BYTES: u64 = 1 << 20;
/// Bytes of the log quoted in a [`SandboxError::NoReport`].
const LOG_EXCERPT_BYTES: usize = 2000;

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
    /// Run even on a kernel that enforces no Landlock rule. Leave `false` in production.
    pub allow_without_landlock: bool,
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
    /// Readable paths that did not exist and so were not granted.
    pub skipped_readable: Vec<PathBuf>,
}

impl Enforcement {
    /// Every protection Locara asks for is in force.
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
    }

    /// The protections that are not in force, in words, for logs and build records.
    pub fn gaps(&self) -> Vec<String> {
        let mut gaps = Vec::new();
        if !self.filesystem {
            gaps.push("no Landlock file-system rules".to_owned());
        }
        for right in &self.missing_filesystem_rights {
            gaps.push(format!("Landlock right {right} not enforced"));
        }
        for (enforced, what) in [
            (self.tcp, "TCP not denied by Landlock"),
            (self.udp, "UDP not denied by Landlock"),
            (self.scopes, "signals and abstract sockets not scoped"),
            (self.user_namespace, "no user namespace"),
            (self.network_namespace, "no network namespace"),
            (self.pid_namespace, "no PID namespace"),
            (self.ipc_namespace, "no IPC namespace"),
        ] {
            if !enforced {
                gaps.push(what.to_owned());
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
    spawn_exit_watcher(group, events);

    let supervised = supervise(spec, &receiver, group, started, live);
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
        allow_without_landlock: spec.allow_without_landlock,
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
            Ok(Event::LogEnd | Event::LauncherExited) => {}
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
