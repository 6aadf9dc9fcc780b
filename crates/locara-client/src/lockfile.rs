//! The lockfile, `locara.lock`: the exact releases a fleet installs, so every machine gets identical bytes.
//!
//! ```toml
//! # This file is written by `locara lock`; `locara install --locked` installs exactly what it names.
//! version = 1
//!
//! [[app]]
//! name = "acme/notes-search"
//! version = "1.4.2"
//! registry = "main"
//! registry_url = "https://registry.example.com"
//! root = "sha256:…"
//! artifact = "sha256:…"
//! provenance = "sha256:…"
//! log_index = 12
//! ```
//!
//! Invariants:
//! - Parsing is strict: unknown keys, missing keys, bad names, versions and digests, an app named twice, and a
//!   registry name given two different URLs or root digests are errors naming the file, line and column.
//! - `version` is the format version and must be [`LOCKFILE_FORMAT_VERSION`]; a higher one is a file from a
//!   newer locara ([`LockfileError::NewerFormat`]), never read as if it were this format.
//! - [`Lockfile::to_toml`] is deterministic: apps sorted by name, fixed key order, one header comment, so
//!   the same apps always give the same bytes and a lockfile diffs cleanly.
//! - [`Lockfile::save`] never writes a file that [`Lockfile::parse`] would refuse, and replaces the old file
//!   atomically: a reader sees the old lockfile or the new one, never a mix.
//!
//! The registry's name is the one this client knows it by; `registry_url` and `root` (the digest of the
//! registry's pinned first root) let another machine check that its registry of that name is the same one.
//! `log_index` names the release's transparency-log entry, so `install --locked` checks inclusion of that
//! exact entry.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use locara_core::digest::Digest;
use locara_core::manifest::line_column;
use locara_core::names::AppName;
use locara_core::version::Version;
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny};
use toml::Spanned;

/// The lockfile's usual name, in the current directory.
pub const LOCKFILE_NAME: &str = "locara.lock";

/// The lockfile format this client reads and writes.
pub const LOCKFILE_FORMAT_VERSION: i64 = 1;

/// The longest allowed registry name, as in the client's registry configuration (ADR 0070).
pub const MAX_REGISTRY_NAME_LEN: usize = 32;

/// The longest allowed registry URL, in bytes.
pub const MAX_REGISTRY_URL_LEN: usize = 2048;

const HEADER: &str = "# This file is written by `locara lock`; `locara install --locked` installs exactly what it names.\n\
                      # Do not edit it by hand: run `locara lock` again to change it.\n";

/// One locked release.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LockedApp {
    /// The app.
    pub name: AppName,
    /// The exact version.
    pub version: Version,
    /// The name this client knows the registry by, such as `main`.
    pub registry: String,
    /// The registry's base URL.
    pub registry_url: String,
    /// The digest of the registry's pinned root, so another machine can check it trusts the same registry.
    pub root: Digest,
    /// The digest of the artifact's bytes.
    pub artifact: Digest,
    /// The digest of the provenance envelope.
    pub provenance: Digest,
    /// The index of the release's entry in the registry's transparency log.
    pub log_index: u64,
}

/// The releases a lockfile pins.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Lockfile {
    /// The locked apps; each app at most once.
    pub apps: Vec<LockedApp>,
}

/// Why a lockfile cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum LockfileError {
    /// The file exists but could not be read.
    #[error("could not read the lockfile {}", path.display())]
    Read {
        /// The lockfile.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file could not be written.
    #[error("could not write the lockfile {}", path.display())]
    Write {
        /// The lockfile.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The format version is higher than this client knows.
    #[error(
        "{origin}:{line}: lockfile format version {found} was written by a newer locara, which this one \
         (format version {LOCKFILE_FORMAT_VERSION}) cannot read; upgrade locara"
    )]
    NewerFormat {
        /// Where the text came from, usually the file's path.
        origin: String,
        /// The 1-based line of `version`.
        line: usize,
        /// The format version found.
        found: i64,
    },
    /// The text is not a valid lockfile.
    #[error("{origin}:{line}:{column}: {problem}")]
    Invalid {
        /// Where the text came from, usually the file's path.
        origin: String,
        /// The 1-based line of the problem.
        line: usize,
        /// The 1-based column of the problem, in characters.
        column: usize,
        /// What is wrong and what would be valid.
        problem: String,
    },
}

impl Lockfile {
    /// The locked release of `name`, if the lockfile has one.
    pub fn get(&self, name: &AppName) -> Option<&LockedApp> {
        self.apps.iter().find(|app| &app.name == name)
    }

    /// Adds a locked release, replacing (and returning) any entry for the same app.
    pub fn insert(&mut self, app: LockedApp) -> Option<LockedApp> {
        match self.apps.iter_mut().find(|known| known.name == app.name) {
            Some(known) => Some(std::mem::replace(known, app)),
            None => {
                self.apps.push(app);
                None
            }
        }
    }

    /// Parses lockfile text; `origin` names it in errors (usually the file's path).
    pub fn parse(text: &str, origin: &str) -> Result<Lockfile, LockfileError> {
        let invalid = |span: Option<std::ops::Range<usize>>, problem: String| {
            let (line, column) = line_column(text, span.map_or(0, |span| span.start));
            LockfileError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                problem,
            }
        };
        let toml_error = |error: toml::de::Error| invalid(error.span(), error.message().to_owned());

        // The format version first, on its own: a newer file is reported as newer, not as unknown keys.
        let header: RawHeader = toml::from_str(text).map_err(toml_error)?;
        let Some(format) = header.version else {
            return Err(invalid(
                None,
                format!(
                    "missing the format version; the first key must be `version = {LOCKFILE_FORMAT_VERSION}`"
                ),
            ));
        };
        match format.get_ref() {
            toml::Value::Integer(LOCKFILE_FORMAT_VERSION) => {}
            toml::Value::Integer(found) if *found > LOCKFILE_FORMAT_VERSION => {
                return Err(LockfileError::NewerFormat {
                    origin: origin.to_owned(),
                    line: line_column(text, format.span().start).0,
                    found: *found,
                });
            }
            other => {
                return Err(invalid(
                    Some(format.span()),
                    format!(
                        "format version must be the integer {LOCKFILE_FORMAT_VERSION}; found {other}"
                    ),
                ));
            }
        }

        let raw: RawLockfile = toml::from_str(text).map_err(toml_error)?;
        let mut apps: Vec<LockedApp> = Vec::with_capacity(raw.app.len());
        let mut first_lines: Vec<usize> = Vec::with_capacity(raw.app.len());
        for entry in raw.app {
            let span = entry.span();
            let line = line_column(text, span.start).0;
            let entry = entry.into_inner();
            let name_span = entry.name.span();
            let name = entry.name.into_inner();
            if let Some(index) = apps.iter().position(|known| known.name == name) {
                return Err(invalid(
                    Some(name_span),
                    format!(
                        "app \"{name}\" is locked twice (first at line {}); a lockfile names each app once",
                        first_lines[index]
                    ),
                ));
            }
            let registry = entry.registry.into_inner().0;
            let registry_url = entry.registry_url.into_inner().0;
            if let Some((index, known)) = apps
                .iter()
                .enumerate()
                .find(|(_, known)| known.registry == registry)
            {
                let first = first_lines[index];
                if known.registry_url != registry_url {
                    return Err(invalid(
                        Some(span),
                        format!(
                            "registry \"{registry}\" has the URL {registry_url:?} here but {:?} at line {first}; \
                             one registry name means one registry",
                            known.registry_url
                        ),
                    ));
                }
                if known.root != entry.root {
                    return Err(invalid(
                        Some(span),
                        format!(
                            "registry \"{registry}\" has the root {} here but {} at line {first}; \
                             one registry name means one pinned root",
                            entry.root, known.root
                        ),
                    ));
                }
            }
            first_lines.push(line);
            apps.push(LockedApp {
                name,
                version: entry.version,
                registry,
                registry_url,
                root: entry.root,
                artifact: entry.artifact,
                provenance: entry.provenance,
                log_index: entry.log_index,
            });
        }
        Ok(Lockfile { apps })
    }

    /// The lockfile as TOML: header comment, format version, then apps sorted by name in a fixed key order.
    pub fn to_toml(&self) -> String {
        let mut blocks: Vec<(&AppName, String)> = self
            .apps
            .iter()
            .map(|app| (&app.name, render_app(app)))
            .collect();
        blocks.sort();
        let mut text = format!("{HEADER}version = {LOCKFILE_FORMAT_VERSION}\n");
        for (_, block) in blocks {
            text.push('\n');
            text.push_str(&block);
        }
        text
    }

    /// Reads a lockfile; `None` if there is no file at `path`.
    pub fn load(path: &Path) -> Result<Option<Lockfile>, LockfileError> {
        match fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()).map(Some),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(LockfileError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Writes the lockfile atomically and durably (temporary file in the same directory, fsync, rename,
    /// fsync of the directory), after checking that the text reads back as this lockfile.
    pub fn save(&self, path: &Path) -> Result<(), LockfileError> {
        let text = self.to_toml();
        Self::parse(&text, &format!("{} (not written)", path.display()))?;
        write_atomically(path, text.as_bytes()).map_err(|source| LockfileError::Write {
            path: path.to_owned(),
            source,
        })
    }
}

fn render_app(app: &LockedApp) -> String {
    format!(
        "[[app]]\n\
         name = {}\n\
         version = {}\n\
         registry = {}\n\
         registry_url = {}\n\
         root = \"{}\"\n\
         artifact = \"{}\"\n\
         provenance = \"{}\"\n\
         log_index = {}\n",
        quoted(&app.name.to_string()),
        quoted(&app.version.to_string()),
        quoted(&app.registry),
        quoted(&app.registry_url),
        app.root,
        app.artifact,
        app.provenance,
        app.log_index,
    )
}

/// A TOML basic string; parsed values never need escapes, but the fields are public and may hold anything.
fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

static TEMPORARY_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` so that a reader sees either the old or the new content.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let temporary = directory.join(format!(
        ".{}.{}.{}.tmp",
        file_name.to_string_lossy(),
        std::process::id(),
        TEMPORARY_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&temporary)?;
    let written = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temporary, path)
    })();
    if let Err(error) = written {
        let _ = fs::remove_file(&temporary);
        return Err(error);
    }
    sync_directory(&directory)
}

#[cfg(unix)]
fn sync_directory(directory: &Path) -> io::Result<()> {
    File::open(directory)?.sync_all()
}

#[cfg(not(unix))]
fn sync_directory(_directory: &Path) -> io::Result<()> {
    Ok(())
}

/// A registry name: 1–32 of `a-z`, `0-9` and `-`, not starting with `-` (ADR 0070).
struct RegistryName(String);

impl<'de> Deserialize<'de> for RegistryName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        let valid = (1..=MAX_REGISTRY_NAME_LEN).contains(&name.len())
            && !name.starts_with('-')
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
        if valid {
            Ok(Self(name))
        } else {
            Err(de::Error::custom(format!(
                "registry name {name:?} is not valid; expected 1-{MAX_REGISTRY_NAME_LEN} characters of \
                 a-z, 0-9 and '-', not starting with '-'"
            )))
        }
    }
}

/// A registry URL: `https://` or `http://`, printable ASCII without spaces, quotes or backslashes.
///
/// The client compares it with the URL it has configured for the registry, which is checked fully there.
struct RegistryUrl(String);

impl<'de> Deserialize<'de> for RegistryUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let url = String::deserialize(deserializer)?;
        let problem = if url.len() > MAX_REGISTRY_URL_LEN {
            Some("it is longer than 2048 bytes")
        } else if !(url.starts_with("https://") || url.starts_with("http://")) {
            Some("it must start with `https://` (or `http://` for a registry on this machine)")
        } else if !url
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
        {
            Some("it may only hold printable ASCII without spaces, quotes or backslashes")
        } else {
            None
        };
        match problem {
            None => Ok(Self(url)),
            Some(reason) => Err(de::Error::custom(format!(
                "registry URL {url:?} is not valid: {reason}"
            ))),
        }
    }
}

#[derive(Deserialize)]
struct RawHeader {
    version: Option<Spanned<toml::Value>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLockfile {
    #[serde(rename = "version")]
    _format: IgnoredAny,
    #[serde(default)]
    app: Vec<Spanned<RawLockedApp>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLockedApp {
    name: Spanned<AppName>,
    version: Version,
    registry: Spanned<RegistryName>,
    registry_url: Spanned<RegistryUrl>,
    root: Digest,
    artifact: Digest,
    provenance: Digest,
    log_index: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quoting_escapes_quotes_backslashes_and_controls() {
        assert_eq!(quoted("a\"b\\c\n"), "\"a\\\"b\\\\c\\u000A\"");
    }

    #[test]
    fn save_refuses_what_parse_would_refuse() {
        let directory = tempfile::tempdir().unwrap();
        let path = directory.path().join(LOCKFILE_NAME);
        let digest = Digest::of_bytes(b"x");
        let app = LockedApp {
            name: "acme/notes".parse().unwrap(),
            version: "1.0.0".parse().unwrap(),
            registry: "Not A Name".to_owned(),
            registry_url: "https://registry.example.com".to_owned(),
            root: digest,
            artifact: digest,
            provenance: digest,
            log_index: 0,
        };
        let lockfile = Lockfile { apps: vec![app] };
        let error = lockfile.save(&path).unwrap_err();
        assert!(error.to_string().contains("(not written)"), "{error}");
        assert!(!path.exists());
    }
}
