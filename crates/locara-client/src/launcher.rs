//! Launchers: small POSIX `sh` scripts in one bin directory that run an installed app via `locara run`.
//!
//! Invariants:
//! - A launcher is exactly [`render`]'s output, mode 0755: `#!/bin/sh`, a marker line naming the app, and
//!   one `exec` line whose words are single-quoted, so no path or name can inject shell syntax.
//! - A launcher's name is an [`AppSlug`] (lowercase letters, digits and `-`), so it is always one plain
//!   file name inside the directory: never `..`, never a `/`.
//! - The client replaces or removes only a file whose first two lines are the shebang and the marker, and
//!   only for the app the marker names: never a file it did not write, never another app's launcher.
//!   Symbolic links are never followed.
//! - Writes are atomic and durable: a temporary file (`create_new`) in the same directory, fsync, rename
//!   over the launcher, fsync of the directory.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Read as _, Write as _};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use locara_core::names::{AppName, AppSlug};
use nix::fcntl::OFlag;

/// A launcher's first line.
const SHEBANG: &str = "#!/bin/sh\n";
/// What comes before the app name on a launcher's second line.
const MARKER_START: &str = "# Locara launcher for ";
/// What follows the app name on a launcher's second line.
const MARKER_END: &str = "; managed by locara, do not edit.";
/// The largest file that is read when checking whether a file is a launcher.
const MAX_LAUNCHER_SIZE: u64 = 64 * 1024;
/// A launcher's mode.
pub const LAUNCHER_MODE: u32 = 0o755;

/// Makes temporary file names unique within this process.
static UNIQUE: AtomicU64 = AtomicU64::new(0);

/// Why a launcher could not be read, written or removed.
#[derive(Debug, thiserror::Error)]
pub enum LauncherError {
    /// A file-system operation failed.
    #[error("cannot {action} {path}: {source}")]
    Io {
        /// What was being done: `write`, `rename`, `read`, ….
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// A file with the launcher's name exists and was not written by locara.
    #[error(
        "{path} exists and is not a Locara launcher ({reason}); locara never replaces or removes a file it did not write: move it away or choose another launcher name"
    )]
    NotALauncher {
        /// The file.
        path: PathBuf,
        /// What it is instead: `a symbolic link`, `a directory`, `no Locara marker line`, ….
        reason: &'static str,
    },
    /// The launcher belongs to another app.
    #[error(
        "{path} is the launcher of {owner}, not of {app}; choose another launcher name for {app}"
    )]
    OtherApp {
        /// The launcher.
        path: PathBuf,
        /// The app its marker names.
        owner: AppName,
        /// The app the caller asked about.
        app: AppName,
    },
    /// The path to the `locara` binary is relative.
    #[error(
        "the locara path {path} is relative; a launcher runs from any directory, so give an absolute path"
    )]
    RelativeLocara {
        /// The path given.
        path: PathBuf,
    },
}

impl LauncherError {
    fn io(action: &'static str, path: &Path) -> impl FnOnce(io::Error) -> Self {
        let path = path.to_owned();
        move |source| Self::Io {
            action,
            path,
            source,
        }
    }
}

/// The launchers in one bin directory (normally `<data>/bin`).
#[derive(Debug, Clone)]
pub struct Launchers {
    dir: PathBuf,
}

impl Launchers {
    /// The launchers in `dir`; nothing is touched until a launcher is written.
    pub fn new(dir: &Path) -> Launchers {
        Launchers {
            dir: dir.to_owned(),
        }
    }

    /// The bin directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the launcher `name` lives.
    pub fn path_of(&self, name: &AppSlug) -> PathBuf {
        self.dir.join(name.as_str())
    }

    /// Writes (or replaces) the launcher `name` so that it runs `app` through the `locara` binary at
    /// `locara`, creating the directory (0755) if missing; returns the launcher's path.
    ///
    /// Refuses to replace a file that is not a Locara launcher, or another app's launcher. (The check and
    /// the rename are two steps: a file created in between by another program would be replaced.)
    pub fn write(
        &self,
        name: &AppSlug,
        app: &AppName,
        locara: &Path,
    ) -> Result<PathBuf, LauncherError> {
        if !locara.is_absolute() {
            return Err(LauncherError::RelativeLocara {
                path: locara.to_owned(),
            });
        }
        DirBuilder::new()
            .recursive(true)
            .mode(0o755)
            .create(&self.dir)
            .map_err(LauncherError::io("create directory", &self.dir))?;
        let path = self.path_of(name);
        self.check_owner(name, app)?;
        self.remove_stale_temporaries(name);
        let temporary = self.dir.join(format!(
            ".{name}.tmp-{}-{}",
            std::process::id(),
            UNIQUE.fetch_add(1, Ordering::Relaxed)
        ));
        let written = write_new_file(&temporary, &render(app, locara))
            .and_then(|()| fs::rename(&temporary, &path));
        if let Err(error) = written {
            let _ = fs::remove_file(&temporary);
            return Err(LauncherError::io("write", &path)(error));
        }
        sync_directory(&self.dir)?;
        Ok(path)
    }

    /// Removes temporary files a killed `write` of launcher `name` left (`.<name>.tmp-*`), so the bin
    /// directory, which is on `PATH`, does not collect them. Best effort: a failure leaves them.
    fn remove_stale_temporaries(&self, name: &AppSlug) {
        let prefix = format!(".{name}.tmp-");
        let Ok(entries) = fs::read_dir(&self.dir) else {
            return;
        };
        for entry in entries.flatten() {
            if entry
                .file_name()
                .to_str()
                .is_some_and(|file| file.starts_with(&prefix))
            {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    /// Removes the launcher `name` of `app`; returns whether there was one.
    ///
    /// Refuses to remove a file that is not a Locara launcher, or another app's launcher.
    pub fn remove(&self, name: &AppSlug, app: &AppName) -> Result<bool, LauncherError> {
        if !self.check_owner(name, app)? {
            return Ok(false);
        }
        let path = self.path_of(name);
        match fs::remove_file(&path) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(LauncherError::io("remove", &path)(error)),
        }
        sync_directory(&self.dir)?;
        Ok(true)
    }

    /// The app whose launcher `name` is, or `None` if there is no file of that name.
    ///
    /// An error if a file exists but is not a Locara launcher (by its first two lines).
    pub fn owner(&self, name: &AppSlug) -> Result<Option<AppName>, LauncherError> {
        let path = self.path_of(name);
        let Some(content) = read_small(&path)? else {
            return Ok(None);
        };
        let not_a_launcher = |reason| LauncherError::NotALauncher {
            path: path.clone(),
            reason,
        };
        let rest = content
            .strip_prefix(SHEBANG.as_bytes())
            .ok_or_else(|| not_a_launcher("its first line is not #!/bin/sh"))?;
        let marker = rest.split(|&b| b == b'\n').next().unwrap_or_default();
        let app = std::str::from_utf8(marker)
            .ok()
            .and_then(|line| line.strip_prefix(MARKER_START)?.strip_suffix(MARKER_END))
            .ok_or_else(|| not_a_launcher("its second line is not the Locara marker"))?;
        app.parse()
            .map(Some)
            .map_err(|_| not_a_launcher("its marker does not name a valid app"))
    }

    /// Whether the launcher `name` is exactly what [`Launchers::write`] would write for `app` and
    /// `locara` (`false` if it is missing, outdated or edited).
    pub fn is_current(
        &self,
        name: &AppSlug,
        app: &AppName,
        locara: &Path,
    ) -> Result<bool, LauncherError> {
        let path = self.path_of(name);
        let metadata = match path.symlink_metadata() {
            Ok(metadata) => metadata,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(false),
            Err(error) => return Err(LauncherError::io("inspect", &path)(error)),
        };
        let content = read_small(&path)?;
        Ok(metadata.permissions().mode() & 0o7777 == LAUNCHER_MODE
            && content.as_deref() == Some(render(app, locara).as_slice()))
    }

    /// Whether `name` may be written or removed for `app`: `false` if there is no such file, `true` if it is
    /// `app`'s launcher, an error otherwise.
    fn check_owner(&self, name: &AppSlug, app: &AppName) -> Result<bool, LauncherError> {
        match self.owner(name)? {
            None => Ok(false),
            Some(owner) if owner == *app => Ok(true),
            Some(owner) => Err(LauncherError::OtherApp {
                path: self.path_of(name),
                owner,
                app: app.clone(),
            }),
        }
    }
}

/// The launcher script for `app` run through the `locara` binary at `locara`.
pub fn render(app: &AppName, locara: &Path) -> Vec<u8> {
    let mut script = Vec::new();
    script.extend_from_slice(SHEBANG.as_bytes());
    script.extend_from_slice(format!("{MARKER_START}{app}{MARKER_END}\n").as_bytes());
    script.extend_from_slice(b"exec ");
    script.extend_from_slice(&sh_quote(locara.as_os_str().as_bytes()));
    script.extend_from_slice(b" run ");
    script.extend_from_slice(&sh_quote(app.to_string().as_bytes()));
    script.extend_from_slice(b" -- \"$@\"\n");
    script
}

/// `word` as one single-quoted `sh` word: inside single quotes nothing is special, and each embedded
/// `'` becomes `'\''` (close, escaped quote, reopen).
fn sh_quote(word: &[u8]) -> Vec<u8> {
    let mut quoted = Vec::with_capacity(word.len() + 2);
    quoted.push(b'\'');
    for &byte in word {
        if byte == b'\'' {
            quoted.extend_from_slice(b"'\\''");
        } else {
            quoted.push(byte);
        }
    }
    quoted.push(b'\'');
    quoted
}

/// The content of the regular file at `path` (at most [`MAX_LAUNCHER_SIZE`] bytes), `None` if there is
/// nothing there, an error for anything else that is there.
fn read_small(path: &Path) -> Result<Option<Vec<u8>>, LauncherError> {
    let not_a_launcher = |reason| LauncherError::NotALauncher {
        path: path.to_owned(),
        reason,
    };
    let metadata = match path.symlink_metadata() {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(error) => return Err(LauncherError::io("inspect", path)(error)),
    };
    if metadata.is_symlink() {
        return Err(not_a_launcher("a symbolic link"));
    }
    if !metadata.is_file() {
        return Err(not_a_launcher("not a regular file"));
    }
    let file = OpenOptions::new()
        .read(true)
        .custom_flags((OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK).bits())
        .open(path)
        .map_err(LauncherError::io("read", path))?;
    let mut content = Vec::new();
    file.take(MAX_LAUNCHER_SIZE + 1)
        .read_to_end(&mut content)
        .map_err(LauncherError::io("read", path))?;
    if content.len() as u64 > MAX_LAUNCHER_SIZE {
        return Err(not_a_launcher("larger than any launcher"));
    }
    Ok(Some(content))
}

/// Creates `path` (which must not exist) with `content`, mode [`LAUNCHER_MODE`] whatever the umask, synced.
fn write_new_file(path: &Path, content: &[u8]) -> io::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o700)
        .open(path)?;
    file.write_all(content)?;
    file.set_permissions(fs::Permissions::from_mode(LAUNCHER_MODE))?;
    file.sync_all()
}

fn sync_directory(path: &Path) -> Result<(), LauncherError> {
    File::open(path)
        .and_then(|directory| directory.sync_all())
        .map_err(LauncherError::io("sync", path))
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    fn app(name: &str) -> AppName {
        name.parse().unwrap()
    }

    fn slug(name: &str) -> AppSlug {
        name.parse().unwrap()
    }

    /// A fake `locara` in a directory whose name needs quoting; it prints each argument in brackets.
    fn fake_locara(dir: &Path) -> PathBuf {
        let bin = dir.join("it's a \"dir\" with $(spaces)");
        fs::create_dir(&bin).unwrap();
        let locara = bin.join("locara");
        fs::write(
            &locara,
            "#!/bin/sh\nfor a in \"$@\"; do printf '[%s]' \"$a\"; done\n",
        )
        .unwrap();
        fs::set_permissions(&locara, fs::Permissions::from_mode(0o755)).unwrap();
        locara
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn a_launcher_runs_locara_with_every_argument_intact() {
        let dir = tempfile::tempdir().unwrap();
        let locara = fake_locara(dir.path());
        let launchers = Launchers::new(&dir.path().join("bin"));
        let path = launchers
            .write(&slug("notes"), &app("acme/notes"), &locara)
            .unwrap();
        let arguments = [
            "a b",
            "it's",
            "\"quoted\"",
            "$HOME",
            "*",
            "",
            "--flag",
            "new\nline",
            "back\\slash",
            "`id`",
        ];
        let output = Command::new(&path).args(arguments).output().unwrap();
        assert!(output.status.success(), "{output:?}");
        let expected: String = ["run", "acme/notes", "--"]
            .iter()
            .chain(arguments.iter())
            .map(|argument| format!("[{argument}]"))
            .collect();
        assert_eq!(String::from_utf8(output.stdout).unwrap(), expected);
    }

    #[test]
    fn a_launcher_is_the_documented_script_with_mode_0755() {
        let dir = tempfile::tempdir().unwrap();
        let launchers = Launchers::new(dir.path());
        let path = launchers
            .write(
                &slug("notes"),
                &app("acme/notes"),
                Path::new("/opt/it's/locara"),
            )
            .unwrap();
        assert_eq!(path, dir.path().join("notes"));
        assert_eq!(
            fs::read_to_string(&path).unwrap(),
            "#!/bin/sh\n\
             # Locara launcher for acme/notes; managed by locara, do not edit.\n\
             exec '/opt/it'\\''s/locara' run 'acme/notes' -- \"$@\"\n"
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o7777,
            0o755
        );
        assert_eq!(names_in(dir.path()), ["notes"], "no temporary file left");
        assert_eq!(
            launchers.owner(&slug("notes")).unwrap(),
            Some(app("acme/notes"))
        );
        assert!(
            launchers
                .is_current(
                    &slug("notes"),
                    &app("acme/notes"),
                    Path::new("/opt/it's/locara")
                )
                .unwrap()
        );
    }

    #[test]
    fn temporaries_a_killed_write_left_are_removed_by_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let launchers = Launchers::new(dir.path());
        let stale = dir.path().join(".notes.tmp-4242-0");
        let other = dir.path().join(".other.tmp-4242-0");
        fs::write(&stale, b"half a launcher").unwrap();
        fs::write(&other, b"someone else's").unwrap();
        launchers
            .write(
                &slug("notes"),
                &app("acme/notes"),
                Path::new("/usr/bin/locara"),
            )
            .unwrap();
        assert!(!stale.exists());
        assert!(
            other.exists(),
            "only this launcher's temporaries are removed"
        );
    }

    #[test]
    fn rewriting_its_own_launcher_replaces_it() {
        let dir = tempfile::tempdir().unwrap();
        let launchers = Launchers::new(dir.path());
        let (name, notes) = (slug("notes"), app("acme/notes"));
        launchers
            .write(&name, &notes, Path::new("/old/locara"))
            .unwrap();
        assert!(
            !launchers
                .is_current(&name, &notes, Path::new("/new/locara"))
                .unwrap()
        );
        launchers
            .write(&name, &notes, Path::new("/new/locara"))
            .unwrap();
        assert!(
            launchers
                .is_current(&name, &notes, Path::new("/new/locara"))
                .unwrap()
        );
        assert!(
            !launchers
                .is_current(&name, &notes, Path::new("/old/locara"))
                .unwrap()
        );
    }

    #[test]
    fn refuses_to_replace_or_remove_a_file_it_did_not_write() {
        let dir = tempfile::tempdir().unwrap();
        let launchers = Launchers::new(dir.path());
        let path = dir.path().join("notes");
        let theirs = "#!/bin/sh\necho mine\n";
        fs::write(&path, theirs).unwrap();
        let error = launchers
            .write(
                &slug("notes"),
                &app("acme/notes"),
                Path::new("/usr/bin/locara"),
            )
            .unwrap_err();
        assert!(
            matches!(&error, LauncherError::NotALauncher { path: found, .. } if *found == path),
            "{error}"
        );
        assert!(error.to_string().contains(&path.display().to_string()));
        assert!(matches!(
            launchers.remove(&slug("notes"), &app("acme/notes")),
            Err(LauncherError::NotALauncher { .. })
        ));
        assert!(matches!(
            launchers.owner(&slug("notes")),
            Err(LauncherError::NotALauncher { .. })
        ));
        assert_eq!(fs::read_to_string(&path).unwrap(), theirs);
        assert_eq!(names_in(dir.path()), ["notes"]);
    }

    #[test]
    fn refuses_a_marker_that_names_no_valid_app() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(
            dir.path().join("notes"),
            "#!/bin/sh\n# Locara launcher for ../etc; managed by locara, do not edit.\n",
        )
        .unwrap();
        assert!(matches!(
            Launchers::new(dir.path()).owner(&slug("notes")),
            Err(LauncherError::NotALauncher { .. })
        ));
    }

    #[test]
    fn never_follows_a_symlink_in_place_of_a_launcher() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("target");
        let launcher = render(&app("acme/notes"), Path::new("/usr/bin/locara"));
        fs::write(&target, &launcher).unwrap();
        let bin = dir.path().join("bin");
        fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(&target, bin.join("notes")).unwrap();
        let launchers = Launchers::new(&bin);
        let error = launchers
            .write(
                &slug("notes"),
                &app("acme/notes"),
                Path::new("/usr/bin/locara"),
            )
            .unwrap_err();
        assert!(
            matches!(
                error,
                LauncherError::NotALauncher {
                    reason: "a symbolic link",
                    ..
                }
            ),
            "{error}"
        );
        assert!(
            launchers
                .remove(&slug("notes"), &app("acme/notes"))
                .is_err()
        );
        assert!(bin.join("notes").symlink_metadata().unwrap().is_symlink());
        assert_eq!(fs::read(&target).unwrap(), launcher);
    }

    #[test]
    fn refuses_to_take_over_another_apps_launcher() {
        let dir = tempfile::tempdir().unwrap();
        let launchers = Launchers::new(dir.path());
        let locara = Path::new("/usr/bin/locara");
        launchers
            .write(&slug("notes"), &app("acme/notes"), locara)
            .unwrap();
        let error = launchers
            .write(&slug("notes"), &app("evil/notes"), locara)
            .unwrap_err();
        assert!(
            matches!(&error, LauncherError::OtherApp { owner, app: asked, .. }
                if *owner == app("acme/notes") && *asked == app("evil/notes")),
            "{error}"
        );
        assert!(matches!(
            launchers.remove(&slug("notes"), &app("evil/notes")),
            Err(LauncherError::OtherApp { .. })
        ));
        assert!(
            launchers
                .is_current(&slug("notes"), &app("acme/notes"), locara)
                .unwrap()
        );
    }

    #[test]
    fn remove_deletes_its_own_launcher_and_says_whether_there_was_one() {
        let dir = tempfile::tempdir().unwrap();
        let launchers = Launchers::new(dir.path());
        let (name, notes) = (slug("notes"), app("acme/notes"));
        assert!(!launchers.remove(&name, &notes).unwrap());
        launchers
            .write(&name, &notes, Path::new("/usr/bin/locara"))
            .unwrap();
        assert!(launchers.remove(&name, &notes).unwrap());
        assert_eq!(launchers.owner(&name).unwrap(), None);
        assert!(names_in(dir.path()).is_empty());
    }

    #[test]
    fn refuses_a_relative_locara_path() {
        let dir = tempfile::tempdir().unwrap();
        let error = Launchers::new(dir.path())
            .write(&slug("notes"), &app("acme/notes"), Path::new("bin/locara"))
            .unwrap_err();
        assert!(
            matches!(error, LauncherError::RelativeLocara { .. }),
            "{error}"
        );
        assert!(names_in(dir.path()).is_empty());
    }

    #[test]
    fn launcher_names_cannot_leave_the_directory() {
        for bad in [
            "..",
            "../notes",
            "a/b",
            "/etc/passwd",
            "Notes",
            "notes.sh",
            ".notes",
            "",
        ] {
            assert!(bad.parse::<AppSlug>().is_err(), "{bad:?}");
        }
        let launchers = Launchers::new(Path::new("/home/u/.local/share/locara/bin"));
        assert_eq!(
            launchers.path_of(&slug("notes-search")),
            Path::new("/home/u/.local/share/locara/bin/notes-search")
        );
    }
}
