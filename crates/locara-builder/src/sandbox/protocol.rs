//! What the parent tells the launcher (one JSON argument) and what the launcher reports back (one JSON
//! object per line on the status pipe, which the launcher receives as its standard input).
//!
//! The status pipe is the launcher's fd 0 so that no descriptor number has to be passed and no descriptor
//! has to be made inheritable in the (multi-threaded) parent; the launcher duplicates it close-on-exec
//! and the build command gets `/dev/null` as its standard input, so the command can never write a report.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Enforcement;

/// The first launcher argument for the outer stage: make the namespaces, start the inner stage.
pub(crate) const LAUNCH: &str = "launch";
/// The first launcher argument for the inner stage: set limits, apply Landlock, exec the command.
pub(crate) const CONFINE: &str = "confine";
/// The first launcher argument for the id-map helper a root launcher starts before it unshares.
pub(crate) const MAP_IDS: &str = "map-ids";
/// Version of the request format; a launcher refuses any other.
pub(crate) const PROTOCOL_VERSION: u32 = 2;
/// Exit code of a launcher that could not set the sandbox up (the reason is on the status pipe).
pub(crate) const SETUP_FAILED_EXIT: i32 = 125;
/// Exit code when the command could not be executed (as `sh` does).
pub(crate) const EXEC_FAILED_EXIT: i32 = 127;

/// Everything the launcher needs, as one JSON argument.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Request {
    /// Always [`PROTOCOL_VERSION`].
    pub version: u32,
    /// Program and arguments.
    pub command: Vec<String>,
    /// Directory the command starts in.
    pub working_dir: PathBuf,
    /// Full access below these.
    pub writable: Vec<PathBuf>,
    /// Read and execute below these.
    pub readable: Vec<PathBuf>,
    /// The command's whole environment.
    pub env: Vec<(String, String)>,
    /// `RLIMIT_FSIZE`.
    pub max_file_bytes: u64,
    /// `RLIMIT_NPROC` (processes and threads), and the count at which the run is stopped.
    pub max_processes: u64,
    /// `RLIMIT_DATA` of each process.
    pub max_memory_bytes: u64,
    /// Size of the private `/tmp`.
    pub tmp_bytes: u64,
    /// Build a private root (a mount namespace holding only the grants).
    pub private_root: bool,
    /// Run even when a required protection cannot be had (no Landlock file rules, named UNIX sockets
    /// reachable).
    pub allow_weaker_isolation: bool,
    /// The supervising parent's pid: the launcher dies with it, and refuses to start if it is gone.
    pub parent_pid: i32,
    /// Filled in by the outer stage for the inner one.
    #[serde(default)]
    pub namespaces: Namespaces,
}

/// Which namespaces the outer stage made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Namespaces {
    /// A user namespace (capabilities only over the sandbox's own namespaces).
    pub user: bool,
    /// A network namespace (only a loopback device, down).
    pub network: bool,
    /// A PID namespace (the command is its init; when it ends, everything in it is killed).
    pub pid: bool,
    /// An IPC namespace (no System V IPC or POSIX message queues shared with the host).
    pub ipc: bool,
    /// A mount namespace, in which the inner stage builds the private root.
    pub mount: bool,
    /// Why no mount namespace could be made, when one was asked for and none was.
    pub mount_error: Option<String>,
    /// The uid and gid the command runs as, when they differ from the launcher's (a root launcher runs
    /// the command as an unprivileged user).
    pub build_user: Option<(u32, u32)>,
    /// The command's uid on the host.
    pub host_uid: u32,
}

/// One line on the status pipe.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum Report {
    /// The inner stage is confined and about to exec the command.
    Confined(Enforcement),
    /// Setting the sandbox up failed; the command did not run.
    Failed {
        /// What failed and why.
        message: String,
    },
    /// The command ended on its own (reported by the outer stage).
    Ended(CommandEnd),
}

/// How the command ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub(crate) enum CommandEnd {
    /// Exit code.
    Exited(i32),
    /// Terminating signal number.
    Signalled(i32),
    /// The sandbox's processes and threads reached the limit, and the sandbox killed them all.
    ProcessLimit,
}
