//! The launcher: the program the parent starts, which confines itself and then starts the command.
//!
//! A process cannot unshare namespaces for, or apply Landlock to, a child it spawns without running
//! code between `fork` and `exec` (`pre_exec`, which is `unsafe`). So the parent starts this launcher
//! instead, in two stages, each single-threaded when it makes its syscalls:
//!
//! 1. `launch` (outer): when it runs as root, hands the writable paths to the unprivileged build user
//!    ([`BUILD_UID`]); unshares a user, mount, network, PID and IPC namespace (the user namespace maps
//!    the launcher's own uid and gid 1:1, plus the build user for a root launcher), then starts itself
//!    again as `confine`, which becomes PID 1 of the new PID namespace, and waits.
//! 2. `confine` (inner, the namespace's init): asks to be killed when the outer stage dies, sets
//!    resource limits, builds and enters the private root ([`super::root`]), applies the Landlock
//!    ruleset, refuses if a required protection is missing, reports what the kernel enforces, starts the
//!    command (as the build user, with exactly the requested environment), watches the number of its
//!    processes, reaps orphans until the command ends, reports how it ended and exits, which makes the
//!    kernel kill everything left in the namespace.
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
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, LandlockStatus, PathBeneath, PathFd, Ruleset,
    RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};
use nix::errno::Errno;
use nix::sched::{CloneFlags, unshare};
use nix::sys::resource::{Resource, getrlimit, setrlimit};
use nix::sys::signal::{Signal, kill};
use nix::sys::wait::{WaitStatus, waitpid};
use nix::unistd::{Gid, Pid, Uid, getgid, getppid, getuid};
use rustix::thread::{
    CapabilitySet, CapabilitySets, capabilities, clear_ambient_capability_set,
    configure_capability_in_ambient_set, set_capabilities,
};

use super::Enforcement;
use super::protocol::{
    CONFINE, CommandEnd, EXEC_FAILED_EXIT, LAUNCH, MAP_IDS, Namespaces, PROTOCOL_VERSION, Report,
    Request, SETUP_FAILED_EXIT,
};
use super::root::{self, DEVICES, RootPlan};

/// The Landlock ABI whose rights Locara asks for. Every right a newer ABI adds only narrows what the
/// build may do, so asking for the newest the `landlock` crate knows is safe; the kernel enforces the
/// subset it supports and [`Enforcement`] says which.
const REQUESTED_ABI: ABI = ABI::V10;

/// Open files allowed to the command (`RLIMIT_NOFILE`), or the current hard limit if lower.
const MAX_OPEN_FILES: u64 = 8192;

/// The uid a root launcher runs the command as (`nobody` on most distributions): the command then
/// owns nothing of the host, cannot read root's files, and is bound by `RLIMIT_NPROC`, which the kernel
/// does not apply to root.
pub const BUILD_UID: u32 = 65534;
/// The gid that goes with [`BUILD_UID`] (`nogroup`).
pub const BUILD_GID: u32 = 65534;

/// How often the inner stage counts the sandbox's processes and threads.
const PROCESS_WATCH_INTERVAL: Duration = Duration::from_millis(100);

/// The launcher's whole logic: `args` are the arguments after the program (and after any leading
/// arguments of a host binary's hidden subcommand). Never returns: it execs the command or exits.
pub fn exec_main(args: Vec<OsString>) -> ! {
    if args.first().and_then(|stage| stage.to_str()) == Some(MAP_IDS) {
        map_ids_helper(&args[1..])
    }
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

/// The leading arguments a host binary's subcommand needed to reach [`exec_main`]: everything in our
/// argv before `args`.
fn leading_args(args: &[OsString]) -> Vec<OsString> {
    let own_args: Vec<OsString> = std::env::args_os().skip(1).collect();
    own_args[..own_args.len().saturating_sub(args.len())].to_vec()
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
    let build_user = getuid().is_root().then_some((BUILD_UID, BUILD_GID));
    if let Some((uid, gid)) = build_user {
        for path in &request.writable {
            if let Err(message) = hand_over(path, uid, gid) {
                fail(&mut status, message);
            }
        }
    }
    let leading = leading_args(args);
    request.namespaces = match make_namespaces(request.private_root, build_user, &leading) {
        Ok(namespaces) => namespaces,
        Err(message) => fail(&mut status, message),
    };
    let request_json = match serde_json::to_string(&request) {
        Ok(json) => json,
        Err(error) => fail(&mut status, format!("cannot encode the request: {error}")),
    };
    // Re-run this very program (even if its file was replaced since) with the same leading arguments.
    let spawned = Command::new("/proc/self/exe")
        .args(&leading)
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

/// Gives `path` and everything below it (not following links) to the build user, so the command can
/// write there; the root launcher's caller still reads and deletes it as root.
fn hand_over(path: &Path, uid: u32, gid: u32) -> Result<(), String> {
    let mut pending = vec![path.to_owned()];
    while let Some(path) = pending.pop() {
        let metadata = fs::symlink_metadata(&path)
            .map_err(|error| format!("cannot inspect writable path {}: {error}", path.display()))?;
        std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(|error| {
            format!(
                "cannot give {} to the build user {uid}: {error}",
                path.display()
            )
        })?;
        if metadata.is_dir() {
            let entries = fs::read_dir(&path)
                .map_err(|error| format!("cannot list {}: {error}", path.display()))?;
            for entry in entries {
                let entry =
                    entry.map_err(|error| format!("cannot list {}: {error}", path.display()))?;
                pending.push(entry.path());
            }
        }
    }
    Ok(())
}

/// Unshares the namespaces: with a user namespace when the kernel lets us, otherwise (root only, e.g.
/// in a container that forbids nested user namespaces) without one; with a mount namespace when asked,
/// otherwise or where the kernel refuses it without one. [`Enforcement`] reports what was made.
fn make_namespaces(
    private_root: bool,
    build_user: Option<(u32, u32)>,
    leading: &[OsString],
) -> Result<Namespaces, String> {
    let uid = getuid();
    let gid = getgid();
    let others = CloneFlags::CLONE_NEWNET | CloneFlags::CLONE_NEWPID | CloneFlags::CLONE_NEWIPC;
    let mount = if private_root {
        CloneFlags::CLONE_NEWNS
    } else {
        CloneFlags::empty()
    };
    let mut attempts = vec![CloneFlags::CLONE_NEWUSER | mount | others];
    if private_root {
        attempts.push(CloneFlags::CLONE_NEWUSER | others);
    }
    if uid.is_root() {
        attempts.push(mount | others);
        if private_root {
            attempts.push(others);
        }
    }
    // A root launcher maps the build user as well, which only a process outside the new user
    // namespace may do: a helper started before the namespace exists.
    let mut helper = match build_user {
        Some((build_uid, build_gid)) => Some(MapHelper::start(
            leading,
            &MapIds {
                pid: std::process::id(),
                uid_map: format!("{uid} {uid} 1\n{build_uid} {build_uid} 1\n"),
                gid_map: format!("{gid} {gid} 1\n{build_gid} {build_gid} 1\n"),
            },
        )?),
        None => None,
    };
    let mut errors = Vec::new();
    for flags in attempts {
        match unshare(flags) {
            Ok(()) => {
                let user = flags.contains(CloneFlags::CLONE_NEWUSER);
                if user {
                    match helper.take() {
                        Some(helper) => helper.map()?,
                        None => map_self(uid, gid)?,
                    }
                }
                let mount = flags.contains(CloneFlags::CLONE_NEWNS);
                return Ok(Namespaces {
                    user,
                    network: true,
                    pid: true,
                    ipc: true,
                    mount,
                    mount_error: (private_root && !mount).then(|| errors.join("; ")),
                    build_user,
                    host_uid: build_user.map_or(uid.as_raw(), |(uid, _)| uid),
                });
            }
            Err(error) => errors.push(format!("unshare({flags:?}): {error}")),
        }
    }
    let errors = errors.join("; ");
    if uid.is_root() {
        Err(format!(
            "cannot create network, PID and IPC namespaces: {errors}; the builder needs unshare(2), \
             which containers often forbid"
        ))
    } else {
        Err(format!(
            "cannot create user, network, PID and IPC namespaces as uid {uid}: {errors}; allow \
             unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, or the \
             AppArmor userns restriction) or run the builder as root"
        ))
    }
}

/// An unprivileged launcher maps only its own uid and gid, 1:1 (so what the command makes stays the
/// builder's), after denying `setgroups` as the kernel requires. It keeps `CAP_SYS_ADMIN` in the new
/// namespace across the exec of the inner stage (as an ambient capability), which needs it to build
/// the private root and drops it before the command starts.
fn map_self(uid: Uid, gid: Gid) -> Result<(), String> {
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc("/proc/self/uid_map", &format!("{uid} {uid} 1"))?;
    write_proc("/proc/self/gid_map", &format!("{gid} {gid} 1"))?;
    if uid.is_root() {
        return Ok(());
    }
    let admin = CapabilitySet::SYS_ADMIN;
    let mut sets = capabilities(None)
        .map_err(|error| format!("cannot read the launcher's capabilities: {error}"))?;
    sets.inheritable |= admin;
    set_capabilities(None, sets)
        .map_err(|error| format!("cannot keep CAP_SYS_ADMIN for the inner stage: {error}"))?;
    configure_capability_in_ambient_set(admin, true)
        .map_err(|error| format!("cannot keep CAP_SYS_ADMIN for the inner stage: {error}"))
}

/// What the map helper writes, for which process.
#[derive(serde::Serialize, serde::Deserialize)]
struct MapIds {
    /// The launcher, the helper's parent.
    pid: u32,
    /// Its new `uid_map`.
    uid_map: String,
    /// Its new `gid_map`.
    gid_map: String,
}

/// The helper process that writes a root launcher's id maps from outside its new user namespace.
struct MapHelper {
    child: std::process::Child,
}

impl MapHelper {
    fn start(leading: &[OsString], ids: &MapIds) -> Result<Self, String> {
        let ids = serde_json::to_string(ids).map_err(|error| error.to_string())?;
        let child = Command::new("/proc/self/exe")
            .args(leading)
            .arg(MAP_IDS)
            .arg(ids)
            .env_clear()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("cannot start the id-map helper: {error}"))?;
        Ok(Self { child })
    }

    /// Tells the helper to write the maps now, and waits for its answer.
    fn map(mut self) -> Result<(), String> {
        use std::io::Read;
        if let Some(mut stdin) = self.child.stdin.take() {
            let _ = stdin.write_all(b"map\n");
        }
        let mut answer = String::new();
        if let Some(mut stdout) = self.child.stdout.take() {
            let _ = stdout.read_to_string(&mut answer);
        }
        let _ = self.child.wait();
        match answer.trim() {
            "ok" => Ok(()),
            "" => Err("the id-map helper ended without an answer".to_owned()),
            message => Err(message.to_owned()),
        }
    }
}

impl Drop for MapHelper {
    fn drop(&mut self) {
        // Unused (no user namespace could be made): closing its input ends it.
        drop(self.child.stdin.take());
        let _ = self.child.wait();
    }
}

/// The helper's whole logic: waits for `map` on standard input, writes the maps of its parent, and
/// answers `ok` or the reason on standard output.
fn map_ids_helper(args: &[OsString]) -> ! {
    let answer = (|| {
        let ids: MapIds = args
            .first()
            .and_then(|ids| ids.to_str())
            .and_then(|ids| serde_json::from_str(ids).ok())
            .ok_or_else(|| "the id-map helper got no valid request".to_owned())?;
        if getppid().as_raw() != ids.pid as i32 {
            return Err("the id-map helper's parent is not the launcher".to_owned());
        }
        let mut line = String::new();
        io::stdin()
            .read_line(&mut line)
            .map_err(|error| error.to_string())?;
        if line.trim() != "map" {
            return Ok(());
        }
        write_proc(&format!("/proc/{}/uid_map", ids.pid), &ids.uid_map)?;
        write_proc(&format!("/proc/{}/gid_map", ids.pid), &ids.gid_map)
    })();
    let _ = match answer {
        Ok(()) => writeln!(io::stdout(), "ok"),
        Err(message) => writeln!(io::stdout(), "cannot map the build user: {message}"),
    };
    std::process::exit(0)
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
    if let Err(message) = set_limits(&request) {
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
    let namespaces = request.namespaces.clone();
    let user = namespaces
        .build_user
        .unwrap_or((getuid().as_raw(), getgid().as_raw()));
    let made = if namespaces.mount {
        let plan = RootPlan {
            readable: &request.readable,
            writable: &request.writable,
            tmp_bytes: request.tmp_bytes,
            user,
            home: request
                .env
                .iter()
                .find(|(key, _)| key == "HOME")
                .map(|(_, value)| value.clone()),
        };
        match root::enter_private_root(&plan) {
            Ok(made) => Some(made),
            Err(message) => fail(
                &mut status,
                format!("cannot build the sandbox's private root: {message}"),
            ),
        }
    } else {
        None
    };
    let mut enforcement = match apply_landlock(&request, made.is_some()) {
        Ok(enforcement) => enforcement,
        Err(message) => fail(&mut status, message),
    };
    enforcement.user_namespace = namespaces.user;
    enforcement.network_namespace = namespaces.network;
    enforcement.pid_namespace = namespaces.pid;
    enforcement.ipc_namespace = namespaces.ipc;
    enforcement.private_root = made.is_some();
    enforcement.private_proc = made.as_ref().is_some_and(|made| made.proc);
    enforcement.command_uid = namespaces.host_uid;
    if let Some(made) = &made {
        enforcement.skipped_readable = made.skipped_readable.clone();
    }
    if let Err(message) = check_required(&enforcement, &request) {
        fail(&mut status, message);
    }
    if let Err(message) = protect_init(namespaces.build_user.is_none()) {
        fail(&mut status, message);
    }
    report(&mut status, &Report::Confined(enforcement.clone()));

    let mut command = Command::new(program);
    command
        .args(arguments)
        .env_clear()
        .envs(request.env.iter().map(|(key, value)| (key, value)))
        .current_dir(&request.working_dir)
        .stdin(Stdio::from(dev_null))
        .stdout(Stdio::inherit())
        .stderr(Stdio::inherit());
    if let Some((uid, gid)) = namespaces.build_user {
        // In the child, before exec: std drops the supplementary groups, then sets the gid and uid,
        // which clears every capability.
        command.uid(uid).gid(gid);
    }
    let end = match command.spawn() {
        Ok(child) => {
            let limit_hit = Arc::new(AtomicBool::new(false));
            if enforcement.private_proc {
                watch_processes(request.max_processes, limit_hit.clone());
            }
            match reap_until(Pid::from_raw(child.id() as i32)) {
                CommandEnd::Signalled(_) if limit_hit.load(Ordering::SeqCst) => {
                    CommandEnd::ProcessLimit
                }
                end => end,
            }
        }
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

/// Keeps the command away from this init: it cannot be traced or have its memory read (not dumpable),
/// and, when the command runs as the same user (an unprivileged launcher), it gives up every capability
/// first, so the command inherits none: `no_new_privs` (set with Landlock) keeps it from gaining any at
/// exec. Dropping capabilities keeps the parent-death signal (a change of uid would clear it).
fn protect_init(same_user: bool) -> Result<(), String> {
    nix::sys::prctl::set_dumpable(false)
        .map_err(|error| format!("cannot make the sandbox's init undumpable: {error}"))?;
    if !same_user {
        return Ok(());
    }
    clear_ambient_capability_set()
        .map_err(|error| format!("cannot clear the ambient capabilities: {error}"))?;
    set_capabilities(
        None,
        CapabilitySets {
            effective: CapabilitySet::empty(),
            permitted: CapabilitySet::empty(),
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(|error| format!("cannot drop the capabilities: {error}"))
}

/// Refuses a sandbox that lacks a protection the request requires, unless weaker isolation is allowed.
fn check_required(enforcement: &Enforcement, request: &Request) -> Result<(), String> {
    if request.allow_weaker_isolation {
        return Ok(());
    }
    let allow = "or set allow_weaker_isolation if you accept weaker isolation";
    if !enforcement.filesystem {
        return Err(format!(
            "the kernel enforces no Landlock rule (ABI {}); refusing to run the command \
             unconfined. Use Linux 5.13 or later with Landlock enabled (lsm=...,landlock), {allow}",
            enforcement.landlock_abi
        ));
    }
    if !enforcement.named_sockets_isolated() {
        let why = request
            .namespaces
            .mount_error
            .clone()
            .unwrap_or_else(|| "no private root was asked for".to_owned());
        return Err(format!(
            "the command could connect to the host's named UNIX sockets (database, container and \
             session-bus sockets): there is no private mount namespace ({why}) and this kernel's \
             Landlock (ABI {}) cannot deny connecting to them (that needs ABI 9). Allow mount \
             namespaces for the builder, use a newer kernel, {allow}",
            enforcement.landlock_abi
        ));
    }
    Ok(())
}

/// Stops the run when the sandbox's processes and threads reach `limit` (the kernel refuses more
/// anyway; a build stuck at the limit, such as a fork bomb, would otherwise spin until the wall clock).
/// Counts through the private `/proc`, which shows only this PID namespace.
fn watch_processes(limit: u64, hit: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        loop {
            std::thread::sleep(PROCESS_WATCH_INTERVAL);
            // Our own tasks (this init and this thread) are not the command's. A build at the limit
            // keeps losing and regaining a few processes (failed forks end shells), so near it counts.
            if count_tasks(std::process::id()) + near_limit_margin(limit) >= limit {
                hit.store(true, Ordering::SeqCst);
                // From a PID namespace's init, -1 means every other process in the namespace.
                let _ = kill(Pid::from_raw(-1), Signal::SIGKILL);
            }
        }
    });
}

/// How close to the process limit counts as reaching it: a sixteenth of it, at least 2.
fn near_limit_margin(limit: u64) -> u64 {
    (limit / 16).max(2)
}

/// Processes and threads in this PID namespace but those of `own`.
fn count_tasks(own: u32) -> u64 {
    let Ok(entries) = fs::read_dir("/proc") else {
        return 0;
    };
    let own = own.to_string();
    entries
        .filter_map(Result::ok)
        .filter(|entry| {
            let name = entry.file_name();
            let name = name.to_string_lossy();
            name != own.as_str() && name.bytes().all(|byte| byte.is_ascii_digit())
        })
        .map(|entry| {
            // Field 20 of stat, counted after the command name's closing parenthesis.
            fs::read_to_string(entry.path().join("stat"))
                .ok()
                .and_then(|stat| {
                    let (_, rest) = stat.rsplit_once(')')?;
                    rest.split_whitespace().nth(17)?.parse::<u64>().ok()
                })
                .unwrap_or(1)
        })
        .sum()
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

fn set_limits(request: &Request) -> Result<(), String> {
    let limit = |resource, soft, hard| {
        setrlimit(resource, soft, hard)
            .map_err(|error| format!("cannot set {resource:?} to {soft}: {error}"))
    };
    limit(
        Resource::RLIMIT_FSIZE,
        request.max_file_bytes,
        request.max_file_bytes,
    )?;
    limit(Resource::RLIMIT_CORE, 0, 0)?;
    limit(
        Resource::RLIMIT_NPROC,
        request.max_processes,
        request.max_processes,
    )?;
    limit(
        Resource::RLIMIT_DATA,
        request.max_memory_bytes,
        request.max_memory_bytes,
    )?;
    let (_, open_files_hard) = getrlimit(Resource::RLIMIT_NOFILE)
        .map_err(|error| format!("cannot read RLIMIT_NOFILE: {error}"))?;
    let open_files = MAX_OPEN_FILES.min(open_files_hard);
    limit(Resource::RLIMIT_NOFILE, open_files, open_files)
}

/// Applies the ruleset and says what the kernel enforces of it.
/// With a private root, the sandbox's own `/proc` is readable and its own `/tmp` writable; without
/// one, those would be the host's, and stay closed.
fn apply_landlock(request: &Request, private_root: bool) -> Result<Enforcement, String> {
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
    let (read_write_devices, read_devices) = DEVICES.split_at(3);
    let mut extra: Vec<(&str, BitFlags<AccessFs>)> = Vec::new();
    extra.extend(
        read_write_devices
            .iter()
            .map(|device| (*device, device_read_write)),
    );
    extra.extend(
        read_devices
            .iter()
            .map(|device| (*device, BitFlags::from(AccessFs::ReadFile))),
    );
    if private_root {
        extra.push(("/proc", read));
        extra.push(("/tmp", write));
    }
    for (path, access) in extra {
        if let Some(rule) = rule_for(Path::new(path), access)? {
            ruleset = ruleset.add_rule(rule).map_err(landlock_error)?;
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
