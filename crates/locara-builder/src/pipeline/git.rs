//! Fetching exactly one commit with the `git` CLI, outside the sandbox but with nothing of the host's
//! git set-up: no system or global config, no hooks, no prompts, only the one transport the repository
//! needs (ADR 0081).
//!
//! Layout: the objects go to a bare repository `git/`, the files to a separate work tree `src/` that has
//! no `.git` in it, so the build sees exactly the commit's tree and nothing it could use to reach the
//! repository.

use std::ffi::OsString;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use locara_core::statement::GitCommit;

use super::BuildError;

/// Bytes of git's standard error kept in an error.
const MAX_STDERR: usize = 4000;

/// Where a repository lives, which decides the one protocol git may use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Transport {
    /// `https://…`
    Https,
    /// `file:///abs` or `/abs`.
    Local,
}

/// Checks the repository string: `https://…`, `file:///abs` or an absolute path.
pub(crate) fn transport(repository: &str) -> Result<Transport, BuildError> {
    let invalid = |reason: &str| BuildError::InvalidRepository {
        repository: repository.to_owned(),
        reason: reason.to_owned(),
    };
    if repository.chars().any(char::is_control) {
        return Err(invalid("it contains control characters"));
    }
    if let Some(rest) = repository.strip_prefix("https://") {
        if rest.is_empty() || rest.starts_with('/') {
            return Err(invalid("it has no host"));
        }
        if rest
            .split('/')
            .next()
            .is_some_and(|host| host.contains('@'))
        {
            return Err(invalid(
                "it carries a user name or password; give the builder a public URL",
            ));
        }
        return Ok(Transport::Https);
    }
    if let Some(path) = repository.strip_prefix("file://") {
        if !path.starts_with('/') {
            return Err(invalid("a file URL must be file:///absolute/path"));
        }
        return Ok(Transport::Local);
    }
    if repository.starts_with('/') {
        return Ok(Transport::Local);
    }
    Err(invalid(
        "only https://…, file:///absolute/path and /absolute/path repositories are fetched",
    ))
}

/// A fetched and checked-out commit.
pub(crate) struct Checkout {
    /// The work tree (no `.git` inside).
    pub source: PathBuf,
    /// The commit's committer time, used as `SOURCE_DATE_EPOCH`.
    pub source_date_epoch: u64,
}

/// Fetches `commit` from `repository` into `directory/git` and checks it out into `directory/src`.
pub(crate) fn fetch_commit(
    repository: &str,
    transport: &Transport,
    commit: &GitCommit,
    directory: &Path,
) -> Result<Checkout, BuildError> {
    let git_dir = directory.join("git");
    let source = directory.join("src");
    let home = directory.join("git-home");
    for dir in [&source, &home] {
        fs::create_dir_all(dir).map_err(|error| BuildError::io("create", dir, error))?;
    }
    let git = Git {
        transport: transport.clone(),
        home,
    };

    let init = git.run(
        &["init", "--quiet", "--bare", "--template="],
        Some(git_dir.as_os_str()),
        None,
    )?;
    expect_success(&init, "git init")?;

    // First see that the repository answers at all, so "unreachable" and "no such commit" are told
    // apart.
    let reachable = git.run(&["ls-remote", "--heads", repository], None, Some(&git_dir))?;
    if !reachable.status.success() {
        return Err(BuildError::Fetch {
            repository: repository.to_owned(),
            stderr: stderr_tail(&reachable),
        });
    }
    let fetched = git.run(
        &[
            "fetch",
            "--quiet",
            "--depth=1",
            "--no-tags",
            "--no-recurse-submodules",
            repository,
            commit.as_str(),
        ],
        None,
        Some(&git_dir),
    )?;
    if !fetched.status.success() {
        return Err(BuildError::CommitNotFound {
            repository: repository.to_owned(),
            commit: commit.clone(),
            stderr: stderr_tail(&fetched),
        });
    }

    let tree = git.run(
        &["ls-tree", "-r", "-z", "--full-tree", commit.as_str()],
        None,
        Some(&git_dir),
    )?;
    expect_success(&tree, "git ls-tree")?;
    let submodules: Vec<String> = tree
        .stdout
        .split(|&byte| byte == 0)
        .filter(|entry| entry.starts_with(b"160000 "))
        .filter_map(|entry| entry.split(|&byte| byte == b'\t').nth(1))
        .map(|path| String::from_utf8_lossy(path).into_owned())
        .collect();
    if !submodules.is_empty() {
        return Err(BuildError::Submodules {
            commit: commit.clone(),
            paths: submodules,
        });
    }

    let mut work_tree = OsString::from("--work-tree=");
    work_tree.push(&source);
    let checkout = git.run_os(
        &[
            "-c".into(),
            "core.bare=false".into(),
            work_tree,
            "checkout".into(),
            "--quiet".into(),
            "--detach".into(),
            "--force".into(),
            commit.as_str().into(),
        ],
        Some(&git_dir),
    )?;
    expect_success(&checkout, "git checkout")?;

    let head = git.run(&["rev-parse", "--verify", "HEAD"], None, Some(&git_dir))?;
    expect_success(&head, "git rev-parse HEAD")?;
    let head = String::from_utf8_lossy(&head.stdout).trim().to_owned();
    if head != commit.as_str() {
        return Err(BuildError::HeadMismatch {
            expected: commit.clone(),
            found: head,
        });
    }

    let time = git.run(
        &["show", "-s", "--format=%ct", commit.as_str()],
        None,
        Some(&git_dir),
    )?;
    expect_success(&time, "git show")?;
    let time = String::from_utf8_lossy(&time.stdout).trim().to_owned();
    let source_date_epoch = time.parse().map_err(|_| BuildError::CommitTime {
        commit: commit.clone(),
        found: time,
    })?;
    Ok(Checkout {
        source,
        source_date_epoch,
    })
}

struct Git {
    transport: Transport,
    home: PathBuf,
}

impl Git {
    /// Runs git with `args`; `init_dir` is passed as the last argument (for `init`), `git_dir` as
    /// `--git-dir`.
    fn run(
        &self,
        args: &[&str],
        init_dir: Option<&std::ffi::OsStr>,
        git_dir: Option<&Path>,
    ) -> Result<Output, BuildError> {
        let mut all: Vec<OsString> = args.iter().map(OsString::from).collect();
        if let Some(dir) = init_dir {
            all.push(dir.to_owned());
        }
        self.run_os(&all, git_dir)
    }

    fn run_os(&self, args: &[OsString], git_dir: Option<&Path>) -> Result<Output, BuildError> {
        let mut command = Command::new("git");
        let local = self.transport == Transport::Local;
        let config = [
            "core.hooksPath=/dev/null",
            "core.fsmonitor=false",
            "core.symlinks=true",
            "protocol.allow=never",
            if local {
                "protocol.file.allow=always"
            } else {
                "protocol.https.allow=always"
            },
            "protocol.ext.allow=never",
            // Lets a local upload-pack serve a commit by id (https servers allow it by default).
            if local {
                "uploadpack.allowAnySHA1InWant=true"
            } else {
                "http.lowSpeedLimit=1000"
            },
            "http.lowSpeedTime=60",
            "transfer.fsckObjects=true",
            "fetch.recurseSubmodules=false",
            "submodule.recurse=false",
            "advice.detachedHead=false",
            "init.defaultBranch=main",
        ];
        for setting in config {
            command.args(["-c", setting]);
        }
        if let Some(git_dir) = git_dir {
            let mut flag = OsString::from("--git-dir=");
            flag.push(git_dir);
            command.arg(flag);
        }
        command
            .args(args)
            .env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into()),
            )
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_ASKPASS", "/bin/false")
            .env("SSH_ASKPASS", "/bin/false")
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(|source| BuildError::GitMissing { source })
    }
}

fn expect_success(output: &Output, what: &str) -> Result<(), BuildError> {
    if output.status.success() {
        return Ok(());
    }
    Err(BuildError::Git {
        step: what.to_owned(),
        stderr: stderr_tail(output),
    })
}

/// The end of git's standard error, at most [`MAX_STDERR`] bytes.
fn stderr_tail(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let text = text.trim();
    if text.len() <= MAX_STDERR {
        return text.to_owned();
    }
    let mut start = text.len() - MAX_STDERR;
    while !text.is_char_boundary(start) {
        start += 1;
    }
    format!("…{}", &text[start..])
}
