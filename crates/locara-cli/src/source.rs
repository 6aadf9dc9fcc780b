//! The app's source on this machine: a git work tree whose root holds `locara.toml`, and the exact commit
//! and manifest bytes a release statement names.
//!
//! Invariants:
//! - Git is run as a program (`git -C <root> …`, without `GIT_DIR`, `GIT_WORK_TREE` or `GIT_INDEX_FILE`
//!   from the environment, so the directory alone decides the repository); nothing reads `.git` by hand.
//!   Every failure names the git command and quotes git's own message.
//! - The directory must be the top of its work tree: the builder reads `locara.toml` at the root of the
//!   repository, so a manifest anywhere else would describe something the builder never sees.
//! - A commit is always resolved to its full id ([`GitCommit`]), so a statement names exactly one commit.
//! - HEAD is used only when the work tree is clean (nothing staged, modified or untracked): what the user
//!   sees is what gets built.
//! - The manifest a release names is the blob at `<commit>:locara.toml`, read with `git cat-file blob`,
//!   so no checkout, smudge or text-conversion filter sits between the commit and the digest.

use std::ffi::OsStr;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use locara_core::digest::Digest;
use locara_core::manifest::{Manifest, ManifestError};
use locara_core::statement::GitCommit;

/// The manifest's file name, at the root of the repository.
pub const MANIFEST_FILE: &str = "locara.toml";
/// The largest manifest read.
pub const MAX_MANIFEST_BYTES: usize = 1024 * 1024;
/// How many uncommitted changes an error lists before saying how many more there are.
pub const MAX_LISTED_CHANGES: usize = 10;

/// Why the app's source could not be read or is not ready to release.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// `git` could not be started.
    #[error("could not run git (is it installed and on PATH?)")]
    GitUnavailable(#[source] io::Error),
    /// The directory is not inside a git work tree.
    #[error(
        "{} is not in a git work tree ({message}); a release names a commit, so the app must be in a git repository",
        dir.display()
    )]
    NotAWorkTree {
        /// The directory.
        dir: PathBuf,
        /// What git said.
        message: String,
    },
    /// The directory is inside a work tree but not at its top.
    #[error(
        "{} is inside the git work tree {}, not at its top; the builder reads {MANIFEST_FILE} at the root of the repository, so run this from {} (or pass --path {})",
        dir.display(), root.display(), root.display(), root.display()
    )]
    NotTheRoot {
        /// The directory given.
        dir: PathBuf,
        /// The top of its work tree.
        root: PathBuf,
    },
    /// A git command failed.
    #[error("`git {command}` failed in {}: {message}", root.display())]
    Git {
        /// The command, without `git`.
        command: String,
        /// Where it ran.
        root: PathBuf,
        /// What git said.
        message: String,
    },
    /// The work tree has changes that are not committed.
    #[error(
        "the work tree {} has uncommitted changes, so HEAD is not what you see: {}{}; commit or stash them, or name a commit with --commit",
        root.display(),
        changes.join(", "),
        if *more > 0 { format!(" and {more} more") } else { String::new() }
    )]
    Uncommitted {
        /// The work tree.
        root: PathBuf,
        /// The first changes, as `git status --porcelain` lists them.
        changes: Vec<String>,
        /// How many more there are.
        more: usize,
    },
    /// The revision does not name a commit.
    #[error("{given:?} does not name a commit in {} ({message})", root.display())]
    UnknownCommit {
        /// The revision given.
        given: String,
        /// The work tree.
        root: PathBuf,
        /// What git said.
        message: String,
    },
    /// Git printed something that is not a full commit id.
    #[error("git resolved {given:?} to {found:?}, which is not a full commit id")]
    NotACommitId {
        /// The revision given.
        given: String,
        /// What git printed.
        found: String,
    },
    /// The manifest file could not be read.
    #[error("could not read {}; every app has a {MANIFEST_FILE} at the root of its repository", path.display())]
    ReadManifest {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The commit has no `locara.toml` at its root.
    #[error(
        "commit {commit} has no {MANIFEST_FILE} at the root of the repository ({message}); commit it first"
    )]
    NoManifestAtCommit {
        /// The commit.
        commit: GitCommit,
        /// What git said.
        message: String,
    },
    /// The manifest is larger than [`MAX_MANIFEST_BYTES`].
    #[error("{where_} is {size} bytes; a manifest has at most {MAX_MANIFEST_BYTES}")]
    ManifestTooLarge {
        /// Which manifest.
        where_: String,
        /// Its size.
        size: usize,
    },
    /// The manifest is not UTF-8.
    #[error("{where_} is not UTF-8 text")]
    ManifestNotText {
        /// Which manifest.
        where_: String,
    },
    /// The manifest does not parse.
    #[error("{where_} is not a valid manifest")]
    InvalidManifest {
        /// Which manifest.
        where_: String,
        /// Every problem, each pointing at its line.
        #[source]
        source: ManifestError,
    },
    /// The working copy's manifest names another app or version than the commit's.
    #[error(
        "{} says {working}, but {MANIFEST_FILE} at commit {commit} says {committed}; the release is of the commit, so check it out (or leave out --commit to release HEAD)",
        path.display()
    )]
    ManifestDiffers {
        /// The working copy's manifest.
        path: PathBuf,
        /// The commit.
        commit: GitCommit,
        /// The app and version the working copy names.
        working: String,
        /// The app and version the commit names.
        committed: String,
    },
}

/// A git work tree whose top holds the app's `locara.toml`.
#[derive(Debug, Clone)]
pub struct SourceTree {
    root: PathBuf,
}

/// What a release statement is made from: the commit, and the manifest exactly as committed.
#[derive(Debug, Clone)]
pub struct ReleaseSource {
    /// The work tree.
    pub root: PathBuf,
    /// The full commit id.
    pub commit: GitCommit,
    /// The manifest at that commit.
    pub manifest: Manifest,
    /// SHA-256 of the manifest's exact bytes at that commit.
    pub manifest_digest: Digest,
    /// Whether the commit is the work tree's HEAD (and the work tree is clean).
    pub is_head: bool,
}

impl SourceTree {
    /// The work tree whose top is `dir`; refuses a directory outside any work tree or below its top.
    pub fn open(dir: &Path) -> Result<Self, SourceError> {
        let output = git_output(dir, ["rev-parse", "--show-toplevel"])?;
        if !output.status.success() {
            return Err(SourceError::NotAWorkTree {
                dir: dir.to_owned(),
                message: git_message(&output),
            });
        }
        let top = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim_end_matches('\n'));
        let canonical = |path: &Path| fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
        let (dir_canonical, top_canonical) = (canonical(dir), canonical(&top));
        if dir_canonical != top_canonical {
            return Err(SourceError::NotTheRoot {
                dir: dir.to_owned(),
                root: top_canonical,
            });
        }
        Ok(Self {
            root: top_canonical,
        })
    }

    /// The top of the work tree.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The working copy's `locara.toml`, as bytes.
    pub fn working_manifest(&self) -> Result<Vec<u8>, SourceError> {
        let path = self.root.join(MANIFEST_FILE);
        let bytes = fs::read(&path).map_err(|source| SourceError::ReadManifest {
            path: path.clone(),
            source,
        })?;
        check_size(&bytes, || path.display().to_string())?;
        Ok(bytes)
    }

    /// Every uncommitted change (staged, modified, untracked), one `git status --porcelain` line each.
    pub fn uncommitted_changes(&self) -> Result<Vec<String>, SourceError> {
        let stdout = self.run(["status", "--porcelain", "--untracked-files=normal"])?;
        Ok(String::from_utf8_lossy(&stdout)
            .lines()
            .filter(|line| !line.is_empty())
            .map(str::to_owned)
            .collect())
    }

    /// Refuses a work tree with uncommitted changes, listing the first [`MAX_LISTED_CHANGES`].
    pub fn require_clean(&self) -> Result<(), SourceError> {
        let changes = self.uncommitted_changes()?;
        if changes.is_empty() {
            return Ok(());
        }
        let more = changes.len().saturating_sub(MAX_LISTED_CHANGES);
        Err(SourceError::Uncommitted {
            root: self.root.clone(),
            changes: changes
                .into_iter()
                .take(MAX_LISTED_CHANGES)
                .map(|line| format!("`{}`", sanitise(&line)))
                .collect(),
            more,
        })
    }

    /// The full id of the commit `revision` names (a full or abbreviated id, a branch, a tag, `HEAD`).
    pub fn resolve_commit(&self, revision: &str) -> Result<GitCommit, SourceError> {
        let spec = format!("{revision}^{{commit}}");
        let output = git_output(
            &self.root,
            [
                "rev-parse",
                "--verify",
                "--quiet",
                "--end-of-options",
                &spec,
            ],
        )?;
        if !output.status.success() {
            let message = git_message(&output);
            return Err(SourceError::UnknownCommit {
                given: revision.to_owned(),
                root: self.root.clone(),
                message: if message.is_empty() {
                    "git rev-parse found no such commit".to_owned()
                } else {
                    message
                },
            });
        }
        let found = String::from_utf8_lossy(&output.stdout).trim().to_owned();
        found.parse().map_err(|_| SourceError::NotACommitId {
            given: revision.to_owned(),
            found,
        })
    }

    /// The exact bytes of `locara.toml` at `commit`.
    pub fn manifest_at(&self, commit: &GitCommit) -> Result<Vec<u8>, SourceError> {
        let object = format!("{commit}:{MANIFEST_FILE}");
        let output = git_output(&self.root, ["cat-file", "blob", &object])?;
        if !output.status.success() {
            return Err(SourceError::NoManifestAtCommit {
                commit: commit.clone(),
                message: git_message(&output),
            });
        }
        check_size(&output.stdout, || {
            format!("{MANIFEST_FILE} at commit {commit}")
        })?;
        Ok(output.stdout)
    }

    /// Runs `git ARGS` in the work tree; its stdout, or an error quoting git.
    fn run<const N: usize>(&self, args: [&str; N]) -> Result<Vec<u8>, SourceError> {
        let output = git_output(&self.root, args)?;
        if output.status.success() {
            Ok(output.stdout)
        } else {
            Err(SourceError::Git {
                command: args.join(" "),
                root: self.root.clone(),
                message: git_message(&output),
            })
        }
    }
}

/// Reads the app at `dir` for a release of `commit` (default: HEAD of a clean work tree): parses the
/// working copy's manifest and the committed one, and refuses when they name different apps or versions.
pub fn release_source(dir: &Path, commit: Option<&str>) -> Result<ReleaseSource, SourceError> {
    let tree = SourceTree::open(dir)?;
    let working_path = tree.root().join(MANIFEST_FILE);
    let working_bytes = tree.working_manifest()?;
    let working = parse_manifest(&working_bytes, || working_path.display().to_string())?;
    let is_head = commit.is_none();
    if is_head {
        tree.require_clean()?;
    }
    let commit = tree.resolve_commit(commit.unwrap_or("HEAD"))?;
    // Even for a clean HEAD the blob is read: a smudge filter could make the file differ from it.
    let committed_bytes = tree.manifest_at(&commit)?;
    let committed = parse_manifest(&committed_bytes, || {
        format!("{MANIFEST_FILE} at commit {commit}")
    })?;
    if committed.app().name() != working.app().name()
        || committed.app().version() != working.app().version()
    {
        return Err(SourceError::ManifestDiffers {
            path: working_path,
            commit,
            working: format!("{} {}", working.app().name(), working.app().version()),
            committed: format!("{} {}", committed.app().name(), committed.app().version()),
        });
    }
    Ok(ReleaseSource {
        root: tree.root().to_owned(),
        commit,
        manifest: committed,
        manifest_digest: Digest::of_bytes(&committed_bytes),
        is_head,
    })
}

fn parse_manifest(bytes: &[u8], where_: impl Fn() -> String) -> Result<Manifest, SourceError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| SourceError::ManifestNotText { where_: where_() })?;
    Manifest::parse(text).map_err(|source| SourceError::InvalidManifest {
        where_: where_(),
        source,
    })
}

fn check_size(bytes: &[u8], where_: impl Fn() -> String) -> Result<(), SourceError> {
    if bytes.len() > MAX_MANIFEST_BYTES {
        return Err(SourceError::ManifestTooLarge {
            where_: where_(),
            size: bytes.len(),
        });
    }
    Ok(())
}

/// Runs `git -C <dir> ARGS`, capturing its output; stdin is closed so git never waits for an answer.
fn git_output<I, S>(dir: &Path, args: I) -> Result<Output, SourceError>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // The work tree is the one at `dir`, not one a variable left over from a hook or script names.
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .env_remove("GIT_INDEX_FILE")
        // Reading the status must not take the index lock another git process may be holding.
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .stdin(Stdio::null())
        .output()
        .map_err(SourceError::GitUnavailable)
}

/// Git's stderr as one printable line.
fn git_message(output: &Output) -> String {
    let text = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = text
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty())
        .collect();
    sanitise(&lines.join("; "))
}

fn sanitise(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"[app]
name = "alice/notes"
version = "1.0.0"
description = "Notes"
license = "MIT"
source = "https://git.example/alice/notes"

[build]
command = ["sh", "-c", "mkdir -p out && echo hi > out/hi"]
outputs = { "bin/hi" = "out/hi" }
entry = "bin/hi"
"#;

    /// Runs git in `dir` with no user or system configuration and fixed identities and dates.
    fn git(dir: &Path, args: &[&str]) -> String {
        let output = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_AUTHOR_NAME", "Alice")
            .env("GIT_AUTHOR_EMAIL", "alice@example.test")
            .env("GIT_COMMITTER_NAME", "Alice")
            .env("GIT_COMMITTER_EMAIL", "alice@example.test")
            .env("GIT_AUTHOR_DATE", "2026-01-01T00:00:00Z")
            .env("GIT_COMMITTER_DATE", "2026-01-01T00:00:00Z")
            .output()
            .unwrap();
        assert!(output.status.success(), "git {args:?}: {output:?}");
        String::from_utf8(output.stdout).unwrap().trim().to_owned()
    }

    fn repository() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("notes");
        fs::create_dir(&root).unwrap();
        git(&root, &["init", "--quiet", "--initial-branch=main"]);
        fs::write(root.join(MANIFEST_FILE), MANIFEST).unwrap();
        git(&root, &["add", MANIFEST_FILE]);
        git(&root, &["commit", "--quiet", "-m", "1.0.0"]);
        (dir, root)
    }

    #[test]
    fn a_clean_head_is_released_with_its_full_id_and_the_committed_manifest_digest() {
        let (_dir, root) = repository();
        let source = release_source(&root, None).unwrap();
        assert_eq!(source.commit.as_str(), git(&root, &["rev-parse", "HEAD"]));
        assert_eq!(
            source.manifest_digest,
            Digest::of_bytes(MANIFEST.as_bytes())
        );
        assert_eq!(source.manifest.app().name().to_string(), "alice/notes");
        assert!(source.is_head);
        assert_eq!(source.root, fs::canonicalize(&root).unwrap());
    }

    #[test]
    fn a_dirty_work_tree_is_refused_naming_what_is_uncommitted() {
        let (_dir, root) = repository();
        fs::write(root.join("notes.txt"), "draft").unwrap();
        let error = release_source(&root, None).unwrap_err().to_string();
        assert!(
            error.contains("uncommitted") && error.contains("?? notes.txt"),
            "{error}"
        );
        fs::write(root.join(MANIFEST_FILE), format!("{MANIFEST}\n")).unwrap();
        let error = release_source(&root, None).unwrap_err().to_string();
        assert!(error.contains("M locara.toml"), "{error}");
    }

    #[test]
    fn a_named_commit_is_resolved_and_its_blob_is_what_is_hashed() {
        let (_dir, root) = repository();
        let head = git(&root, &["rev-parse", "HEAD"]);
        // The working copy changes (uncommitted) but names the same app and version.
        let edited = MANIFEST.replace("description = \"Notes\"", "description = \"Edited\"");
        fs::write(root.join(MANIFEST_FILE), &edited).unwrap();
        let source = release_source(&root, Some(&head[..8])).unwrap();
        assert_eq!(source.commit.as_str(), head);
        assert_eq!(
            source.manifest_digest,
            Digest::of_bytes(MANIFEST.as_bytes())
        );
        assert!(!source.is_head);

        let error = release_source(&root, Some("no-such-branch"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not name a commit"), "{error}");
        let error = release_source(&root, Some("--all"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("does not name a commit"), "{error}");
    }

    #[test]
    fn a_working_copy_naming_another_version_than_the_commit_is_refused() {
        let (_dir, root) = repository();
        let head = git(&root, &["rev-parse", "HEAD"]);
        fs::write(root.join(MANIFEST_FILE), MANIFEST.replace("1.0.0", "1.1.0")).unwrap();
        let error = release_source(&root, Some(&head)).unwrap_err().to_string();
        assert!(
            error.contains("alice/notes 1.1.0") && error.contains("alice/notes 1.0.0"),
            "{error}"
        );
    }

    #[test]
    fn only_the_top_of_a_work_tree_is_an_app() {
        let (dir, root) = repository();
        fs::create_dir(root.join("sub")).unwrap();
        let error = release_source(&root.join("sub"), None).unwrap_err();
        assert!(matches!(error, SourceError::NotTheRoot { .. }), "{error}");
        let outside = dir.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let error = release_source(&outside, None).unwrap_err();
        assert!(matches!(error, SourceError::NotAWorkTree { .. }), "{error}");
    }

    #[test]
    fn a_commit_without_a_manifest_or_an_invalid_one_is_refused() {
        let (_dir, root) = repository();
        let first = git(&root, &["rev-parse", "HEAD"]);
        git(&root, &["rm", "--quiet", MANIFEST_FILE]);
        fs::write(root.join("README"), "x").unwrap();
        git(&root, &["add", "README"]);
        git(&root, &["commit", "--quiet", "-m", "no manifest"]);
        let error = release_source(&root, None).unwrap_err();
        assert!(matches!(error, SourceError::ReadManifest { .. }), "{error}");
        fs::write(root.join(MANIFEST_FILE), MANIFEST).unwrap();
        let second = git(&root, &["rev-parse", "HEAD"]);
        let error = release_source(&root, Some(&second)).unwrap_err();
        assert!(
            matches!(error, SourceError::NoManifestAtCommit { .. }),
            "{error}"
        );
        assert!(release_source(&root, Some(&first)).is_ok());
        fs::write(root.join(MANIFEST_FILE), "[app]\nname = 1\n").unwrap();
        let error = release_source(&root, Some(&first)).unwrap_err();
        assert!(
            matches!(error, SourceError::InvalidManifest { .. }),
            "{error}"
        );
    }
}
