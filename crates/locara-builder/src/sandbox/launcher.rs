//! The launcher: the program the parent starts, which confines itself and then starts the command.
//!
//! A process cannot unshare namespaces for, or apply Landlock to, a child it spawns without running
//! code between `fork` and `exec` (`pre_exec`, which is `unsafe`). So the parent starts this launcher
//! instead, in two stages, each single-threaded when it makes its syscalls:
//!
//! 1. `launch` (outer): unshares a user, network, PID and IPC namespace (a user namespace keeps the
//!    launcher's own uid and gid, mapped 1:1, so a root builder loses its capabilities over the host),
//!    then starts itself again as `confine`, which becomes PID 1 of the new PID namespace, and waits.
//! 2. `confine` (inner, the namespace's init): asks to be killed when the outer stage dies, sets
//!    resource limits, applies the Landlock ruleset, reports what the kernel enforces, starts the
//!    command with exactly the requested environment, reaps orphans until the command ends, reports how
//!    it ended and exits, which makes the kernel kill everything left in the namespace.
//!
//! The command is not PID 1 itself because the kernel does not deliver default-action signals to a
//! namespace's init (a build would not die of `SIGXFSZ` or `SIGPIPE`) and an init must reap orphans.
//!
//! Invariant: the command is never executed before the Landlock ruleset is in force, unless the kernel
//! enforces no Landlock rule at all and the request explicitly allowed that.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::os::fd::AsFd;
use std::path::Path;
use std::process::{Command, Stdio};

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};
use nix::errno::Errno;
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::Signal;
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Pid, getgid, getppid, getuid};

use super::Enforcement;
use super::protocol::{
    CONFINE, CommandEnd, EXEC_FAILED_EXIT, LAUNCH, Namespaces, PROTOCOL_VERSION, Report, Request,
    SETUP_FAILED_EXIT,
};

/// The Landlock ABI whose rights Locara asks for. Every right a newer ABI adds only narrows what the
/// build may do, so asking for the newest the `landlock` crate knows is safe; the kernel enforces the
/// subset it supports and [`Enforcement`] says which.
const REQUESTED_ABI: ABI = ABI::V10;

/// Open files allowed to the command (`RLIMIT_NOFILE`), or the current hard limit if lower.
const MAX_OPEN_FILES: u64 = 8192;

/// Character devices every build may use: they hold nothing and reach nothing.
const READ_WRITE_DEVICES: [&str; 3] = ["/dev/null", "/dev/zero", "/dev/full"];
/// Random sources every build may read.
const READ_DEVICES: [&str; 2] = ["/dev/random", "/dev/urandom"];

/// The launcher's whole logic: `args` are the arguments after the program (and after any leading
/// arguments of a host binary's hidden subcommand). Never returns: it execs the command or exits.
pub fn exec_main(args: Vec<OsString>) -> ! {
    let mut status = match io::stdin().as_fd().try_clone_to_owned() {
        Ok(fd) => File::from(fd),
        Err(error) => fail_without_status(&format!(
            "cannot take the status pipe from standard input: {error}"
        )),
    };
    let (stage, request) = match parse_args(&args) {
        Ok(parsed) => parsed,
        Err(message) => fail(&mut status, message),
    };
    match stage {
        Stage::Launch => launch(request, &args, status),
        Stage::Confine => confine(request, status),
    }
}

enum Stage {
    Launch,
    Confine,
}

fn parse_args(args: &[OsString]) -> Result<(Stage, Request), String> {
    let usage = "usage: <launcher> launch|confine <request JSON>; this program is started by \
                 locara_builder::sandbox::run, not by hand";
    let [stage, request] = args else {
        return Err(format!("expected 2 arguments, got {}; {usage}", args.len()));
    };
    let stage = match stage.to_str() {
        Some(LAUNCH) => Stage::Launch,
        Some(CONFINE) => Stage::Confine,
        _ => return Err(format!("unknown stage {stage:?}; {usage}")),
    };
    let request = request
        .to_str()
        .ok_or_else(|| "the request is not UTF-8".to_owned())?;
    let request: Request = serde_json::from_str(request)
        .map_err(|error| format!("the request is not valid: {error}"))?;
    if request.version != PROTOCOL_VERSION {
        return Err(format!(
            "request version {} is not supported (this launcher speaks {PROTOCOL_VERSION}); \
             run the launcher from the same build as the builder",
            request.version
        ));
    }
    Ok((stage, request))
}

fn launch(mut request: Request, args: &[OsString], mut status: File) -> ! {
    // If the supervisor dies (the builder crashed), nobody would enforce the wall clock: die with it.
    if let Err(error) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        fail(
            &mut status,
            format!("cannot set the parent-death signal: {error}"),
        );
    }
    if getppid().as_raw() != request.parent_pid {
        fail(&mut status, "the supervising process is gone".to_owned());
    }
    request.namespaces = match make_namespaces() {
        Ok(namespaces) => namespaces,
        Err(message) => fail(&mut status, message),
    };
    let request_json = match serde_json::to_string(&request) {
        Ok(json) => json,
        Err(error) => fail(&mut status, format!("cannot encode the request: {error}")),
    };
    // Re-run this very program (even if its file was replaced since) with the same leading arguments
    // a host binary's subcommand needed: everything in our argv before `args`.
    let own_args: Vec<OsString> = std::env::args_os().skip(1).collect();
    let leading = &own_args[..own_args.len().saturating_sub(args.len())];
    let spawned = Command::new("/proc/self/exe")
        .args(leading)
        .arg(CONFINE)
        .arg(request_json)
        .env_clear()
        .stdin(Stdio::inherit())
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(error) => fail(
            &mut status,
            format!("cannot start the inner launcher stage: {error}"),
        ),
    };
    // The inner stage reports how the command ended. If it died without doing so and the parent did
    // not kill us both, say so.
    match child.wait() {
        Ok(exit) if exit.success() => std::process::exit(0),
        // The inner stage already reported why.
        Ok(exit) if exit.code() == Some(SETUP_FAILED_EXIT) => std::process::exit(SETUP_FAILED_EXIT),
        Ok(exit) => fail(
            &mut status,
            format!("the sandbox's init process ended unexpectedly ({exit})"),
        ),
        Err(error) => fail(&mut status, format!("cannot wait for the sandbox: {error}")),
    }
}

/// Unshares the namespaces; with a user namespace when the kernel lets us, otherwise (root only, e.g.
/// in a container that forbids nested user namespaces) without one, which [`Enforcement`] reports.
fn make_namespaces() -> Result<Namespaces, String> {
    let uid = getuid();
    let gid = getgid();
    let others = CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC;
    match unshare(CloneFlags::CLONE_NEWUSER | others) {
        Ok(()) => {
            // Keep our own uid and gid, so files the build writes belong to the builder.
            write_proc("/proc/self/setgroups", "deny")?;
            write_proc("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
            write_proc("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;
            Ok(Namespaces {
                user: true,
                network: true,
                pid: true,
                ipc: true,
            })
        }
        Err(user_error) if uid.is_root() => match unshare(others) {
            Ok(()) => Ok(Namespaces {
                user: false,
                network: true,
                pid: true,
                ipc: true,
            }),
            Err(error) => Err(format!(
                "cannot create network, PID and IPC namespaces: {error} (with a user namespace: \
                 {user_error}); the builder needs unshare(2), which containers often forbid"
            )),
        },
        Err(error) => Err(format!(
            "cannot create user, network, PID and IPC namespaces as uid {uid}: {error}; allow \
             unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or the \
             AppArmor userns restriction) or run the builder as root"
        )),
    }
}

fn write_proc(path: &str, contents: &str) -> Result<(), String> {
    fs::write(path, contents)
        .map_err(|error| format!("cannot write {contents:?} to {path}: {error}"))
}

fn confine(request: Request, mut status: File) -> ! {
    // If the outer stage dies (the parent killed the process group), so does the command, even if it
    // left the process group; as PID 1 of its namespace, its death kills everything it started.
    if let Err(error) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
        fail(
            &mut status,
            format!("cannot set the parent-death signal: {error}"),
        );
    }
    if let Err(message) = set_limits(request.max_file_bytes) {
        fail(&mut status, message);
    }
    let Some((program, arguments)) = request.command.split_first() else {
        fail(&mut status, "the command is empty".to_owned());
    };
    // Opened before Landlock applies, so the command's standard input never depends on the rules.
    let dev_null = match File::open("/dev/null") {
        Ok(file) => file,
        Err(error) => fail(&mut status, format!("cannot open /dev/null: {error}")),
    };
    let mut enforcement = match apply_landlock(&request) {
        Ok(enforcement) => enforcement,
        Err(message) => fail(&mut status, message),
    };
    enforcement.user_namespace = request.namespaces.user;
    enforcement.network_namespace = request.namespaces.network;
    enforcement.pid_namespace = request.namespaces.pid;
    enforcement.ipc_namespace = request.namespaces.ipc;
    if !enforcement.filesystem && !request.allow_without_landlock {
        fail(
            &mut status,
            format!(
                "the kernel enforces no Landlock rule (ABI {}); refusing to run the build \
                 unconfined. Use Linux 5.13 or later with Landlock enabled (lsm=...,landlock), \
                 or set allow_without_landlock if you accept an unconfined build",
                enforcement.landlock_abi
            ),
        );
    }
    report(&mut status, &Report::Confined(enforcement));

    let spawned = Command::new(program)
        .args(arguments)
        .env_clear()
        .envs(request.env.iter().map(|(key, value)| (key, value)))
        .current_dir(&request.working_dir)
        .stdin(Stdio::from(dev_null))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit())
        .spawn();
    let end = match spawned {
        Ok(child) => reap_until(Pid::from_raw(child.id() as i32)),
        Err(error) => {
            let _ = writeln!(
                io::stderr(),
                "locara-sandbox: cannot run {program:?} in {}: {error}",
                request.working_dir.display()
            );
            CommandEnd::Exited(EXEC_FAILED_EXIT)
        }
    };
    report(&mut status, &Report::Ended(end));
    // Leaving ends the PID namespace: the kernel kills whatever the command left running.
    std::process::exit(0)
}

/// As the PID namespace's init, reaps every process that ends (orphans are re-parented to us) until
/// the command itself ends.
fn reap_until(command: Pid) -> CommandEnd {
    loop {
        match waitpid(Pid::from_raw(-1), None) {
            Ok(WaitStatus::Exited(pid, code)) if pid == command => return CommandEnd::Exited(code),
            Ok(WaitStatus::Signaled(pid, signal, _)) if pid == command => {
                return CommandEnd::Signalled(signal as i32);
            }
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return CommandEnd::Exited(-1),
        }
    }
}

fn set_limits(max_file_bytes: u64) -> Result<(), String> {
    let limit = |resource, soft, hard| {
        setrlimit(resource, soft, hard)
            .map_err(|error| format!("cannot set {resource:?} to {soft}: {error}"))
    };
    limit(Resource::RLIMIT_FSIZE, max_file_bytes, max_file_bytes)?;
    limit(Resource::RLIMIT_CORE, 0, 0)?;
    let (_, open_files_hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|error| format!("cannot read RLIMIT_NOFILE: {error}"))?;
    let open_files = MAX_OPEN_FILES.min(open_files_hard);
    limit(Resource::RLIMIT_NOFILE, open_files, open_files)
}

/// Applies the ruleset and says what the kernel enforces of it.
fn apply_landlock(request: &Request) -> Result<Enforcement, String> {
    let landlock_error = |error: landlock::RulesetError| format!("Landlock: {error}");
    let read = AccessFs::from_read(REQUESTED_ABI);
    // Full access, except creating device nodes (the user namespace forbids that anyway).
    let write = AccessFs::from_all(REQUESTED_ABI) & !(AccessFs::MakeChar | AccessFs::MakeBlock);
    let device_read_write = AccessFs::ReadFile | AccessFs::WriteFile | AccessFs::Truncate;

    let mut ruleset = Ruleset::default()
        .handle_access(AccessFs::from_all(REQUESTED_ABI))
        .and_then(|ruleset| ruleset.handle_access(AccessNet::from_all(REQUESTED_ABI)))
        .and_then(|ruleset| ruleset.scope(Scope::from_all(REQUESTED_ABI)))
        .and_then(Ruleset::create)
        .map_err(landlock_error)?;

    let mut skipped_readable = Vec::new();
    for path in &request.readable {
        match rule_for(path, read)? {
            Some(rule) => ruleset = ruleset.add_rule(rule).map_err(landlock_error)?,
            None => skipped_readable.push(path.clone()),
        }
    }
    for path in &request.writable {
        let rule = rule_for(path, write)?.ok_or_else(|| {
            format!(
                "writable path {} does not exist; create it before the build",
                path.display()
            )
        })?;
        ruleset = ruleset.add_rule(rule).map_err(landlock_error)?;
    }
    for (devices, access) in [
        (&READ_WRITE_DEVICES[..], device_read_write),
        (&READ_DEVICES[..], BitFlags::from(AccessFs::ReadFile)),
    ] {
        for device in devices {
            if let Some(rule) = rule_for(Path::new(device), access)? {
                ruleset = ruleset.add_rule(rule).map_err(landlock_error)?;
            }
        }
    }
    // No NetPort rule: with TCP handled, every bind and connect is denied.
    let status = ruleset.restrict_self().map_err(landlock_error)?;

    let abi = match status.landlock {
        LandlockStatus::Available { effective_abi, .. } => effective_abi,
        LandlockStatus::NotEnabled | LandlockStatus::NotImplemented => ABI::Unsupported,
    };
    let enforced = status.ruleset != RulesetStatus::NotEnforced;
    let abi = if enforced { abi } else { ABI::Unsupported };
    let missing_filesystem_rights = (AccessFs::from_all(REQUESTED_ABI) & !AccessFs::from_all(abi))
        .iter()
        .map(|right| format!("{right:?}"))
        .collect();
    Ok(Enforcement {
        landlock_abi: abi_number(abi),
        filesystem: enforced && !AccessFs::from_all(abi).is_empty(),
        missing_filesystem_rights,
        tcp: enforced && AccessNet::from_all(abi).contains(AccessNet::ConnectTcp),
        udp: enforced && AccessNet::from_all(abi).contains(AccessNet::ConnectSendUdp),
        scopes: enforced && Scope::from_all(abi).contains(Scope::Signal),
        skipped_readable,
        ..Enforcement::default()
    })
}

/// A rule for `path` (opened with `O_PATH`, following symlinks), or `None` when it does not exist.
/// Rights that only make sense for directories are dropped for files, so that the ruleset's own status
/// is not "partial" because of them.
fn rule_for(
    path: &Path,
    access: BitFlags<AccessFs>,
) -> Result<Option<PathBeneath<PathFd>>, String> {
    let metadata = match fs::metadata(path) {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(format!("cannot inspect {}: {error}", path.display())),
    };
    let access = if metadata.is_dir() {
        access
    } else {
        access & AccessFs::from_file(REQUESTED_ABI)
    };
    let fd =
        PathFd::new(path).map_err(|error| format!("cannot open {}: {error}", path.display()))?;
    Ok(Some(PathBeneath::new(fd, access)))
}

fn abi_number(abi: ABI) -> u32 {
    abi.to_string().parse().unwrap_or(0)
}

fn report(status: &mut File, report: &Report) {
    // A report always encodes; if the pipe is gone the parent is gone too and nothing can be done.
    if let Ok(mut line) = serde_json::to_vec(report) {
        line.push(b'\n');
        let _ = status.write_all(&line);
    }
}

fn fail(status: &mut File, message: String) -> ! {
    report(status, &Report::Failed { message });
    std::process::exit(SETUP_FAILED_EXIT)
}

fn fail_without_status(message: &str) -> ! {
    let _ = writeln!(io::stderr(), "locara-sandbox: {message}");
    std::process::exit(SETUP_FAILED_EXIT)
}
