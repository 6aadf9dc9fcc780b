//! The app manifest, `locara.toml` (DESIGN §4, user guide in `docs/manifest.md`).
//!
//! [`Manifest::parse`] reads the TOML with byte spans, walks it by hand and collects every problem it
//! finds, each naming the dotted key, the 1-based line and column and what would be valid. Unknown keys
//! are problems too. A [`Manifest`] can only be built by parsing, so it always holds valid values:
//! a valid app name and version, an `https` source without credentials or fragment, a non-empty build
//! command, safe relative output paths, an entry that is one of the outputs, capabilities that pass
//! [`crate::capabilities`], and models with unique names, `sha256` digests, positive sizes and `https`
//! mirrors. [`Manifest::to_toml_string`] renders a canonical form that parses back to an equal value.
//! Strictness rules are recorded in ADR 0014.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use crate::capabilities::{
    Access, CapPath, Capabilities, CapabilityError, FileGrant, HostPort, ModelName, Network,
    ToolPath,
};
use crate::digest::{Digest, DigestError};
use crate::names::{AppName, NameError};
use crate::version::{Version, VersionError};

/// The file name every manifest has, used in error positions.
pub const MANIFEST_FILE_NAME: &str = "locara.toml";
/// The longest allowed `app.description`, in characters.
pub const MAX_DESCRIPTION_LEN: usize = 300;
/// The longest allowed `app.license`, in characters.
pub const MAX_LICENSE_LEN: usize = 100;
/// The longest allowed URL, in bytes.
pub const MAX_URL_LEN: usize = 2048;
/// The longest allowed output path, in bytes.
pub const MAX_OUTPUT_PATH_LEN: usize = 1024;

const TOP_KEYS: &[&str] = &["app", "build", "capabilities", "models"];
const APP_KEYS: &[&str] = &["name", "version", "description", "license", "source"];
const BUILD_KEYS: &[&str] = &["command", "outputs", "entry"];
const CAPABILITY_KEYS: &[&str] = &["files", "network", "tools", "models"];
const FILE_GRANT_KEYS: &[&str] = &["path", "access"];
const MODEL_KEYS: &[&str] = &["name", "digest", "size", "urls"];

/// An `https` URL without credentials or fragment, such as a source repository or model mirror.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HttpsUrl(String);

impl HttpsUrl {
    /// The URL as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for HttpsUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason: &'static str| UrlError {
            found: s.to_owned(),
            reason,
        };
        if s.len() > MAX_URL_LEN {
            return Err(error("it is longer than 2048 bytes"));
        }
        let Some(rest) = s.strip_prefix("https://") else {
            return Err(error("it must start with `https://`"));
        };
        if !s.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(error(
                "it may only hold printable ASCII without spaces; percent-encode anything else",
            ));
        }
        if s.contains('#') {
            return Err(error("it must not have a `#fragment`"));
        }
        let authority = rest.split(['/', '?']).next().unwrap_or_default();
        if authority.contains('@') {
            return Err(error("it must not hold a user name or password"));
        }
        let host = match authority.strip_prefix('[') {
            Some(inside) => match inside.split_once(']') {
                Some((address, after)) if address.parse::<std::net::Ipv6Addr>().is_ok() => {
                    after
                        .strip_prefix(':')
                        .map_or(after.is_empty(), valid_port)
                        .then_some(())
                        .ok_or_else(|| error("its port must be a number from 1 to 65535"))?;
                    return Ok(Self(s.to_owned()));
                }
                _ => return Err(error("its IPv6 host is not valid")),
            },
            None => match authority.split_once(':') {
                Some((host, port)) => {
                    if !valid_port(port) {
                        return Err(error("its port must be a number from 1 to 65535"));
                    }
                    host
                }
                None => authority,
            },
        };
        let host_ok = !host.is_empty()
            && host.split('.').all(|label| {
                !label.is_empty()
                    && label.len() <= 63
                    && label
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            });
        if !host_ok {
            return Err(error("its host must be a DNS name or an IP address"));
        }
        Ok(Self(s.to_owned()))
    }
}

fn valid_port(port: &str) -> bool {
    !port.starts_with('0')
        && port.bytes().all(|b| b.is_ascii_digit())
        && port.parse::<u16>().is_ok_and(|p| p > 0)
}

impl fmt::Display for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for HttpsUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpsUrl({:?})", self.0)
    }
}

/// Why a string is not an acceptable `https` URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "URL {found:?} is not accepted: {reason}; expected an https URL such as \"https://git.example.com/acme/notes\""
)]
pub struct UrlError {
    /// The URL that was given.
    pub found: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// A relative path inside the artifact or the build directory, such as `bin/notes-search`.
///
/// Components are separated by `/`; none is empty, `.` or `..`; no control characters or `\`; at most
/// [`MAX_OUTPUT_PATH_LEN`] bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RelativePath(String);

impl RelativePath {
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The path's components.
    pub fn components(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl FromStr for RelativePath {
    type Err = PathError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason: &'static str| PathError {
            found: s.to_owned(),
            reason,
        };
        if s.is_empty() {
            return Err(error("it is empty"));
        }
        if s.len() > MAX_OUTPUT_PATH_LEN {
            return Err(error("it is longer than 1024 bytes"));
        }
        if s.starts_with('/') {
            return Err(error("it is absolute"));
        }
        if s.contains('\\') || s.chars().any(char::is_control) {
            return Err(error("it contains `\\` or a control character"));
        }
        for component in s.split('/') {
            match component {
                "" => return Err(error("it has an empty component (`//` or a trailing `/`)")),
                "." => return Err(error("it has a `.` component")),
                ".." => return Err(error("it has a `..` component")),
                _ => {}
            }
        }
        Ok(Self(s.to_owned()))
    }
}

impl fmt::Display for RelativePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RelativePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RelativePath({:?})", self.0)
    }
}

/// Why a string is not a safe relative path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "path {found:?} is not accepted: {reason}; expected a relative path such as \"bin/notes-search\" without `.`, `..` or empty components"
)]
pub struct PathError {
    /// The path that was given.
    pub found: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

/// The `[app]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppSection {
    name: AppName,
    version: Version,
    description: String,
    license: String,
    source: HttpsUrl,
}

impl AppSection {
    /// `publisher/app`.
    pub fn name(&self) -> &AppName {
        &self.name
    }
    /// The release's semver version.
    pub fn version(&self) -> &Version {
        &self.version
    }
    /// One line saying what the app does.
    pub fn description(&self) -> &str {
        &self.description
    }
    /// The SPDX license expression, as written.
    pub fn license(&self) -> &str {
        &self.license
    }
    /// The repository the builder fetches.
    pub fn source(&self) -> &HttpsUrl {
        &self.source
    }
}

/// The `[build]` section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuildSection {
    command: Vec<String>,
    outputs: BTreeMap<RelativePath, RelativePath>,
    entry: RelativePath,
}

impl BuildSection {
    /// The build command and its arguments; never empty.
    pub fn command(&self) -> &[String] {
        &self.command
    }
    /// Artifact path → build-directory path; never empty.
    pub fn outputs(&self) -> &BTreeMap<RelativePath, RelativePath> {
        &self.outputs
    }
    /// The artifact path of the program `locara run` starts; always a key of [`Self::outputs`].
    pub fn entry(&self) -> &RelativePath {
        &self.entry
    }
}

/// One `[[models]]` entry: a data file named by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Model {
    name: ModelName,
    digest: Digest,
    size: u64,
    urls: Vec<HttpsUrl>,
}

impl Model {
    /// The name capabilities refer to.
    pub fn name(&self) -> &ModelName {
        &self.name
    }
    /// The SHA-256 of the model file.
    pub fn digest(&self) -> &Digest {
        &self.digest
    }
    /// The file size in bytes; always greater than 0.
    pub fn size(&self) -> u64 {
        self.size
    }
    /// Mirrors to download it from; may be empty when the registry hosts the blob.
    pub fn urls(&self) -> &[HttpsUrl] {
        &self.urls
    }
}

/// A parsed, valid `locara.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    app: AppSection,
    build: BuildSection,
    capabilities: Capabilities,
    models: Vec<Model>,
}

/// What is wrong at one place in a manifest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProblemKind {
    /// The file is not valid TOML.
    #[error("not valid TOML: {message}")]
    Syntax {
        /// The TOML parser's message.
        message: String,
    },
    /// A key that the format does not have.
    #[error("unknown key `{found}`; allowed keys here are {}", list(allowed))]
    UnknownKey {
        /// The key as written.
        found: String,
        /// The keys allowed at this place.
        allowed: &'static [&'static str],
    },
    /// A required key is missing.
    #[error("missing; add `{key}` ({expected})")]
    MissingKey {
        /// The missing key's last part.
        key: &'static str,
        /// What it should hold.
        expected: &'static str,
    },
    /// A value of the wrong TOML type.
    #[error("expected {expected}, found {found}")]
    WrongType {
        /// The expected type.
        expected: &'static str,
        /// The TOML type found.
        found: &'static str,
    },
    /// A value that breaks a rule of its own.
    #[error("{message}")]
    Invalid {
        /// What is wrong and what would be valid.
        message: String,
    },
    /// An app name that breaks the naming rules.
    #[error(transparent)]
    Name(#[from] NameError),
    /// A version that is not semver 2.0.0.
    #[error(transparent)]
    Version(#[from] VersionError),
    /// A digest that is not `sha256:<hex>`.
    #[error(transparent)]
    Digest(#[from] DigestError),
    /// A capability entry that breaks the capability rules.
    #[error(transparent)]
    Capability(#[from] CapabilityError),
    /// A URL that is not an acceptable https URL.
    #[error(transparent)]
    Url(#[from] UrlError),
    /// An unsafe relative path.
    #[error(transparent)]
    Path(#[from] PathError),
    /// The entry is not one of the outputs.
    #[error(
        "entry {found:?} is not one of the outputs; expected one of {}",
        list_owned(expected)
    )]
    EntryNotAnOutput {
        /// The entry as written.
        found: String,
        /// The output keys.
        expected: Vec<String>,
    },
    /// A capability names a model that `[[models]]` does not declare.
    #[error(
        "model {found:?} is not declared in [[models]]; declared models: {}",
        list_owned(declared)
    )]
    UnknownModel {
        /// The model name used.
        found: String,
        /// The models declared.
        declared: Vec<String>,
    },
}

fn list(items: &[&str]) -> String {
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn list_owned(items: &[String]) -> String {
    if items.is_empty() {
        return "(none)".to_owned();
    }
    items
        .iter()
        .map(|item| format!("`{item}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// One problem in a manifest, with its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The 1-based line.
    pub line: usize,
    /// The 1-based column, in characters.
    pub column: usize,
    /// The dotted key, such as `capabilities.files[0].path`; empty for syntax errors.
    pub key: String,
    /// What is wrong.
    pub kind: ProblemKind,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{MANIFEST_FILE_NAME}:{}:{}: ", self.line, self.column)?;
        if !self.key.is_empty() {
            write!(f, "{}: ", self.key)?;
        }
        self.kind.fmt(f)
    }
}

/// Every problem found in a manifest, in file order; never empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ManifestError {
    /// The problems, sorted by position.
    pub problems: Vec<Problem>,
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, problem) in self.problems.iter().enumerate() {
            if index > 0 {
                f.write_str("\n")?;
            }
            problem.fmt(f)?;
        }
        Ok(())
    }
}

/// Converts a byte offset into a 1-based line and column (in characters); shared by every TOML file's
/// error messages (the manifest here, the client's policy file and lockfile).
pub fn line_column(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |index| index + 1);
    (line, before[line_start..].chars().count() + 1)
}

type Value<'i> = Spanned<DeValue<'i>>;

fn type_name(value: &DeValue<'_>) -> &'static str {
    match value {
        DeValue::String(_) => "a string",
        DeValue::Integer(_) => "an integer",
        DeValue::Float(_) => "a float",
        DeValue::Boolean(_) => "a boolean",
        DeValue::Datetime(_) => "a date-time",
        DeValue::Array(_) => "an array",
        DeValue::Table(_) => "a table",
    }
}

struct Walker<'t> {
    text: &'t str,
    problems: Vec<Problem>,
}

impl Walker<'_> {
    fn report(&mut self, span: Range<usize>, key: &str, kind: impl Into<ProblemKind>) {
        let (line, column) = line_column(self.text, span.start);
        self.problems.push(Problem {
            line,
            column,
            key: key.to_owned(),
            kind: kind.into(),
        });
    }

    fn invalid(&mut self, span: Range<usize>, key: &str, message: String) {
        self.report(span, key, ProblemKind::Invalid { message });
    }

    fn wrong_type(&mut self, value: &Value<'_>, key: &str, expected: &'static str) {
        self.report(
            value.span(),
            key,
            ProblemKind::WrongType {
                expected,
                found: type_name(value.get_ref()),
            },
        );
    }

    fn table<'a, 'i>(&mut self, value: &'a Value<'i>, key: &str) -> Option<&'a DeTable<'i>> {
        match value.get_ref() {
            DeValue::Table(table) => Some(table),
            _ => {
                self.wrong_type(value, key, "a table");
                None
            }
        }
    }

    fn array<'a, 'i>(
        &mut self,
        value: &'a Value<'i>,
        key: &str,
        expected: &'static str,
    ) -> Option<&'a [Value<'i>]> {
        match value.get_ref() {
            DeValue::Array(array) => Some(array),
            _ => {
                self.wrong_type(value, key, expected);
                None
            }
        }
    }

    fn string<'a>(&mut self, value: &'a Value<'_>, key: &str) -> Option<&'a str> {
        match value.get_ref() {
            DeValue::String(text) => Some(text),
            _ => {
                self.wrong_type(value, key, "a string");
                None
            }
        }
    }

    /// Reports unknown keys and returns a lookup for the known ones.
    fn keys<'a, 'i>(
        &mut self,
        table: &'a DeTable<'i>,
        prefix: &str,
        allowed: &'static [&'static str],
    ) -> BTreeMap<&'a str, &'a Value<'i>> {
        let mut known = BTreeMap::new();
        for (key, value) in table.iter() {
            let name: &str = key.get_ref();
            if allowed.contains(&name) {
                known.insert(name, value);
            } else {
                self.report(
                    key.span(),
                    &join(prefix, name),
                    ProblemKind::UnknownKey {
                        found: name.to_owned(),
                        allowed,
                    },
                );
            }
        }
        known
    }

    fn required<'a, 'i>(
        &mut self,
        known: &BTreeMap<&str, &'a Value<'i>>,
        span: Range<usize>,
        prefix: &str,
        key: &'static str,
        expected: &'static str,
    ) -> Option<&'a Value<'i>> {
        let found = known.get(key).copied();
        if found.is_none() {
            self.report(
                span,
                &join(prefix, key),
                ProblemKind::MissingKey { key, expected },
            );
        }
        found
    }

    fn parsed<T: FromStr>(&mut self, value: &Value<'_>, key: &str) -> Option<T>
    where
        T::Err: Into<ProblemKind>,
    {
        let text = self.string(value, key)?;
        match text.parse() {
            Ok(parsed) => Some(parsed),
            Err(error) => {
                self.report(value.span(), key, error);
                None
            }
        }
    }

    fn string_list<'a>(&mut self, value: &'a Value<'_>, key: &str) -> Vec<(Range<usize>, &'a str)> {
        let Some(items) = self.array(value, key, "an array of strings") else {
            return Vec::new();
        };
        let mut strings = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Some(text) = self.string(item, &format!("{key}[{index}]")) {
                strings.push((item.span(), text));
            }
        }
        strings
    }
}

fn join(prefix: &str, key: &str) -> String {
    let simple = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    let key = if simple {
        key.to_owned()
    } else {
        format!("{key:?}")
    };
    if prefix.is_empty() {
        key
    } else {
        format!("{prefix}.{key}")
    }
}

fn text_rule(
    walker: &mut Walker<'_>,
    value: &Value<'_>,
    key: &str,
    max: usize,
    license: bool,
) -> Option<String> {
    let text = walker.string(value, key)?;
    let length = text.chars().count();
    if length == 0 || length > max {
        walker.invalid(
            value.span(),
            key,
            format!("is {length} characters long; expected 1 to {max}"),
        );
        return None;
    }
    if license {
        if let Some(bad) = text
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || " .+-()".contains(*c)))
        {
            walker.invalid(
                value.span(),
                key,
                format!(
                    "has {bad:?}; expected an SPDX license expression such as \"MIT\" or \"Apache-2.0 OR MIT\""
                ),
            );
            return None;
        }
    } else if let Some(bad) = text.chars().find(|c| c.is_control()) {
        walker.invalid(
            value.span(),
            key,
            format!("has the control character {bad:?}; expected one line of plain text"),
        );
        return None;
    }
    Some(text.to_owned())
}

fn parse_app(walker: &mut Walker<'_>, value: &Value<'_>) -> Option<AppSection> {
    let table = walker.table(value, "app")?;
    let known = walker.keys(table, "app", APP_KEYS);
    let span = value.span();
    let name = walker
        .required(
            &known,
            span.clone(),
            "app",
            "name",
            "a name like \"acme/notes-search\"",
        )
        .and_then(|v| walker.parsed::<AppName>(v, "app.name"));
    let version = walker
        .required(
            &known,
            span.clone(),
            "app",
            "version",
            "a semver version like \"1.4.2\"",
        )
        .and_then(|v| walker.parsed::<Version>(v, "app.version"));
    let description = walker
        .required(
            &known,
            span.clone(),
            "app",
            "description",
            "one line of text",
        )
        .and_then(|v| text_rule(walker, v, "app.description", MAX_DESCRIPTION_LEN, false));
    let license = walker
        .required(
            &known,
            span.clone(),
            "app",
            "license",
            "an SPDX expression like \"MIT\"",
        )
        .and_then(|v| text_rule(walker, v, "app.license", MAX_LICENSE_LEN, true));
    let source = walker
        .required(
            &known,
            span,
            "app",
            "source",
            "an https URL of the repository",
        )
        .and_then(|v| walker.parsed::<HttpsUrl>(v, "app.source"));
    Some(AppSection {
        name: name?,
        version: version?,
        description: description?,
        license: license?,
        source: source?,
    })
}

fn parse_build(walker: &mut Walker<'_>, value: &Value<'_>) -> Option<BuildSection> {
    let table = walker.table(value, "build")?;
    let known = walker.keys(table, "build", BUILD_KEYS);
    let span = value.span();

    let command = walker
        .required(
            &known,
            span.clone(),
            "build",
            "command",
            "an array of strings like [\"make\"]",
        )
        .and_then(|v| {
            let items = walker.array(v, "build.command", "a non-empty array of strings")?;
            if items.is_empty() {
                walker.invalid(
                    v.span(),
                    "build.command",
                    "is empty; expected the program and its arguments, like [\"cargo\", \"build\"]"
                        .to_owned(),
                );
                return None;
            }
            let mut command = Vec::new();
            let mut ok = true;
            for (index, item) in items.iter().enumerate() {
                let key = format!("build.command[{index}]");
                match walker.string(item, &key) {
                    Some(text) if text.is_empty() || text.contains('\0') => {
                        walker.invalid(
                            item.span(),
                            &key,
                            "is empty or contains NUL; expected a non-empty argument".to_owned(),
                        );
                        ok = false;
                    }
                    Some(text) => command.push(text.to_owned()),
                    None => ok = false,
                }
            }
            ok.then_some(command)
        });

    let outputs = walker
        .required(&known, span.clone(), "build", "outputs", "a table of artifact path = build path")
        .and_then(|v| {
            let table = walker.table(v, "build.outputs")?;
            if table.is_empty() {
                walker.invalid(
                    v.span(),
                    "build.outputs",
                    "is empty; expected at least one artifact path = build path, like { \"bin/app\" = \"target/release/app\" }"
                        .to_owned(),
                );
                return None;
            }
            let mut outputs = BTreeMap::new();
            let mut ok = true;
            for (key, target) in table.iter() {
                let key_path = join("build.outputs", key.get_ref());
                let artifact = match key.get_ref().parse::<RelativePath>() {
                    Ok(path) if path.as_str() == MANIFEST_FILE_NAME => {
                        walker.invalid(
                            key.span(),
                            &key_path,
                            format!("the artifact already holds `{MANIFEST_FILE_NAME}` at its root; choose another output path"),
                        );
                        None
                    }
                    Ok(path) => Some(path),
                    Err(error) => {
                        walker.report(key.span(), &key_path, error);
                        None
                    }
                };
                let built = walker.parsed::<RelativePath>(target, &key_path);
                match (artifact, built) {
                    (Some(artifact), Some(built)) => {
                        outputs.insert(artifact, (key.span(), built));
                    }
                    _ => ok = false,
                }
            }
            // An output that is also a directory of another output cannot both exist in the artifact.
            let paths: Vec<&RelativePath> = outputs.keys().collect();
            for parent in &paths {
                for child in &paths {
                    let parent_parts: Vec<&str> = parent.components().collect();
                    let child_parts: Vec<&str> = child.components().collect();
                    if child_parts.len() > parent_parts.len() && child_parts.starts_with(&parent_parts)
                    {
                        let span = outputs[*parent].0.clone();
                        walker.invalid(
                            span,
                            &join("build.outputs", parent.as_str()),
                            format!("is a file and also a directory of output `{child}`; choose paths where no output lies inside another"),
                        );
                        ok = false;
                    }
                }
            }
            ok.then(|| {
                outputs
                    .into_iter()
                    .map(|(artifact, (_, built))| (artifact, built))
                    .collect::<BTreeMap<_, _>>()
            })
        });

    let entry_value = walker.required(
        &known,
        span,
        "build",
        "entry",
        "the artifact path of the program to run, one of the outputs",
    );
    let entry = entry_value.and_then(|v| walker.parsed::<RelativePath>(v, "build.entry"));
    if let (Some(entry), Some(outputs), Some(value)) = (&entry, &outputs, entry_value)
        && !outputs.contains_key(entry)
    {
        walker.report(
            value.span(),
            "build.entry",
            ProblemKind::EntryNotAnOutput {
                found: entry.to_string(),
                expected: outputs.keys().map(ToString::to_string).collect(),
            },
        );
        return None;
    }
    Some(BuildSection {
        command: command?,
        outputs: outputs?,
        entry: entry?,
    })
}

fn parse_capabilities(
    walker: &mut Walker<'_>,
    value: &Value<'_>,
    declared_models: Option<&BTreeSet<String>>,
) -> Option<Capabilities> {
    let table = walker.table(value, "capabilities")?;
    let known = walker.keys(table, "capabilities", CAPABILITY_KEYS);
    let mut ok = true;

    let mut files = Vec::new();
    if let Some(v) = known.get("files") {
        let items = walker
            .array(
                v,
                "capabilities.files",
                "an array of { path = \"…\", access = \"read\" } tables",
            )
            .unwrap_or_default();
        let mut seen = BTreeSet::new();
        for (index, item) in items.iter().enumerate() {
            let prefix = format!("capabilities.files[{index}]");
            let Some(grant) = walker.table(item, &prefix) else {
                ok = false;
                continue;
            };
            let grant_keys = walker.keys(grant, &prefix, FILE_GRANT_KEYS);
            let path = walker
                .required(
                    &grant_keys,
                    item.span(),
                    &prefix,
                    "path",
                    "a path like \"~/Notes\"",
                )
                .and_then(|p| walker.parsed::<CapPath>(p, &format!("{prefix}.path")));
            let access = walker
                .required(
                    &grant_keys,
                    item.span(),
                    &prefix,
                    "access",
                    "`read` or `read-write`",
                )
                .and_then(|a| walker.parsed::<Access>(a, &format!("{prefix}.access")));
            match (path, access) {
                (Some(path), Some(access)) => {
                    if !seen.insert(path.clone()) {
                        walker.report(
                            item.span(),
                            &format!("{prefix}.path"),
                            CapabilityError::DuplicatePath {
                                found: path.to_string(),
                            },
                        );
                        ok = false;
                    }
                    files.push(FileGrant { path, access });
                }
                _ => ok = false,
            }
            if grant_keys.len() != grant.len() {
                ok = false;
            }
        }
    }

    let mut network = Network::None;
    if let Some(v) = known.get("network") {
        let entries = walker.string_list(v, "capabilities.network");
        let any = entries.iter().any(|(_, text)| *text == "*");
        if any && entries.len() > 1 {
            walker.report(
                v.span(),
                "capabilities.network",
                CapabilityError::AnyHostNotAlone {
                    others: entries.len() - 1,
                },
            );
            ok = false;
        } else if any {
            network = Network::Any;
        } else {
            let mut hosts = BTreeSet::new();
            for (index, (span, text)) in entries.iter().enumerate() {
                let key = format!("capabilities.network[{index}]");
                match text.parse::<HostPort>() {
                    Ok(host) => {
                        if !hosts.insert(host.clone()) {
                            walker.report(
                                span.clone(),
                                &key,
                                CapabilityError::DuplicateHost {
                                    found: host.to_string(),
                                },
                            );
                            ok = false;
                        }
                    }
                    Err(error) => {
                        walker.report(span.clone(), &key, error);
                        ok = false;
                    }
                }
            }
            if !hosts.is_empty() {
                network = Network::Hosts(hosts);
            }
        }
        if let DeValue::Array(items) = v.get_ref() {
            ok &= items.len() == entries.len();
        }
    }

    let mut tools = BTreeSet::new();
    if let Some(v) = known.get("tools") {
        let entries = walker.string_list(v, "capabilities.tools");
        if let DeValue::Array(items) = v.get_ref() {
            ok &= items.len() == entries.len();
        }
        for (index, (span, text)) in entries.iter().enumerate() {
            let key = format!("capabilities.tools[{index}]");
            match text.parse::<ToolPath>() {
                Ok(tool) => {
                    if !tools.insert(tool.clone()) {
                        walker.report(
                            span.clone(),
                            &key,
                            CapabilityError::DuplicateTool {
                                found: tool.to_string(),
                            },
                        );
                        ok = false;
                    }
                }
                Err(error) => {
                    walker.report(span.clone(), &key, error);
                    ok = false;
                }
            }
        }
    }

    let mut models = BTreeSet::new();
    if let Some(v) = known.get("models") {
        let entries = walker.string_list(v, "capabilities.models");
        if let DeValue::Array(items) = v.get_ref() {
            ok &= items.len() == entries.len();
        }
        for (index, (span, text)) in entries.iter().enumerate() {
            let key = format!("capabilities.models[{index}]");
            if let Some(declared_models) = declared_models.filter(|d| !d.contains(*text)) {
                walker.report(
                    span.clone(),
                    &key,
                    ProblemKind::UnknownModel {
                        found: (*text).to_owned(),
                        declared: declared_models.iter().cloned().collect(),
                    },
                );
                ok = false;
                continue;
            }
            match text.parse::<ModelName>() {
                Ok(model) => {
                    if !models.insert(model.clone()) {
                        walker.report(
                            span.clone(),
                            &key,
                            CapabilityError::DuplicateModel {
                                found: model.to_string(),
                            },
                        );
                        ok = false;
                    }
                }
                Err(error) => {
                    walker.report(span.clone(), &key, error);
                    ok = false;
                }
            }
        }
    }

    ok &= known.len() == table.len();
    ok.then_some(Capabilities {
        files,
        network,
        tools,
        models,
    })
}

fn parse_size(walker: &mut Walker<'_>, value: &Value<'_>, key: &str) -> Option<u64> {
    let DeValue::Integer(integer) = value.get_ref() else {
        walker.wrong_type(value, key, "a positive integer (bytes)");
        return None;
    };
    match i64::from_str_radix(integer.as_str(), integer.radix()) {
        Ok(size) if size > 0 => u64::try_from(size).ok(),
        Ok(size) => {
            walker.invalid(
                value.span(),
                key,
                format!("is {size}; expected the file size in bytes, greater than 0"),
            );
            None
        }
        Err(_) => {
            walker.invalid(
                value.span(),
                key,
                format!(
                    "{integer} is out of range; expected a size in bytes from 1 to {}",
                    i64::MAX
                ),
            );
            None
        }
    }
}

fn parse_models(walker: &mut Walker<'_>, value: &Value<'_>) -> Option<Vec<Model>> {
    let items = walker.array(value, "models", "an array of [[models]] tables")?;
    let mut models = Vec::new();
    let mut ok = true;
    let mut seen = BTreeSet::new();
    for (index, item) in items.iter().enumerate() {
        let prefix = format!("models[{index}]");
        let Some(table) = walker.table(item, &prefix) else {
            ok = false;
            continue;
        };
        let known = walker.keys(table, &prefix, MODEL_KEYS);
        ok &= known.len() == table.len();
        let span = item.span();
        let name = walker
            .required(&known, span.clone(), &prefix, "name", "a model name like \"minilm\"")
            .and_then(|v| {
                let name = walker.parsed::<ModelName>(v, &format!("{prefix}.name"))?;
                if !seen.insert(name.clone()) {
                    walker.invalid(
                        v.span(),
                        &format!("{prefix}.name"),
                        format!("model `{name}` is declared twice; give each [[models]] entry its own name"),
                    );
                    return None;
                }
                Some(name)
            });
        let digest = walker
            .required(
                &known,
                span.clone(),
                &prefix,
                "digest",
                "\"sha256:<64 hex digits>\"",
            )
            .and_then(|v| walker.parsed::<Digest>(v, &format!("{prefix}.digest")));
        let size = walker
            .required(&known, span, &prefix, "size", "the size in bytes")
            .and_then(|v| parse_size(walker, v, &format!("{prefix}.size")));
        let mut urls = Some(Vec::new());
        if let Some(v) = known.get("urls") {
            let key = format!("{prefix}.urls");
            let entries = walker.string_list(v, &key);
            if let DeValue::Array(array) = v.get_ref() {
                if array.len() != entries.len() {
                    urls = None;
                }
            } else {
                urls = None;
            }
            for (url_index, (url_span, text)) in entries.iter().enumerate() {
                match text.parse::<HttpsUrl>() {
                    Ok(url) => {
                        if let Some(urls) = urls.as_mut() {
                            urls.push(url);
                        }
                    }
                    Err(error) => {
                        walker.report(url_span.clone(), &format!("{key}[{url_index}]"), error);
                        urls = None;
                    }
                }
            }
        }
        match (name, digest, size, urls) {
            (Some(name), Some(digest), Some(size), Some(urls)) => models.push(Model {
                name,
                digest,
                size,
                urls,
            }),
            _ => ok = false,
        }
    }
    ok.then_some(models)
}

impl Manifest {
    /// Parses and checks a `locara.toml`, reporting every problem found.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let mut walker = Walker {
            text,
            problems: Vec::new(),
        };
        let document = match DeTable::parse(text) {
            Ok(document) => document,
            Err(error) => {
                let span = error.span().unwrap_or(0..0);
                walker.report(
                    span,
                    "",
                    ProblemKind::Syntax {
                        message: error.message().trim().to_owned(),
                    },
                );
                return Err(ManifestError {
                    problems: walker.problems,
                });
            }
        };
        let root_span = 0..0;
        let known = walker.keys(document.get_ref(), "", TOP_KEYS);

        let app = walker
            .required(&known, root_span.clone(), "", "app", "an [app] section")
            .and_then(|v| parse_app(&mut walker, v));
        let build = walker
            .required(&known, root_span, "", "build", "a [build] section")
            .and_then(|v| parse_build(&mut walker, v));
        let models = match known.get("models") {
            Some(v) => parse_models(&mut walker, v),
            None => Some(Vec::new()),
        };
        // Model references are checked against every syntactically declared name, so that one bad
        // [[models]] entry does not also make every reference to it an error.
        // When `models` itself is malformed, references are not checked at all (`None`).
        let declared: Option<BTreeSet<String>> = match known.get("models").map(|v| v.get_ref()) {
            Some(DeValue::Array(items)) => Some(
                items
                    .iter()
                    .filter_map(|item| match item.get_ref() {
                        DeValue::Table(table) => {
                            table.get("name").and_then(|n| n.get_ref().as_str())
                        }
                        _ => None,
                    })
                    .map(ToOwned::to_owned)
                    .collect(),
            ),
            Some(_) => None,
            None => Some(BTreeSet::new()),
        };
        let capabilities = match known.get("capabilities") {
            Some(v) => parse_capabilities(&mut walker, v, declared.as_ref()),
            None => Some(Capabilities::default()),
        };

        match (app, build, capabilities, models) {
            (Some(app), Some(build), Some(capabilities), Some(models))
                if walker.problems.is_empty() =>
            {
                Ok(Self {
                    app,
                    build,
                    capabilities,
                    models,
                })
            }
            _ => {
                let mut problems = walker.problems;
                problems.sort_by_key(|problem| (problem.line, problem.column));
                Err(ManifestError { problems })
            }
        }
    }

    /// The `[app]` section.
    pub fn app(&self) -> &AppSection {
        &self.app
    }

    /// The `[build]` section.
    pub fn build(&self) -> &BuildSection {
        &self.build
    }

    /// The `[capabilities]` section (empty when the section is left out).
    pub fn capabilities(&self) -> &Capabilities {
        &self.capabilities
    }

    /// The `[[models]]` entries, in file order.
    pub fn models(&self) -> &[Model] {
        &self.models
    }

    /// A canonical TOML rendering: fixed section and key order, every key written, normalised values.
    ///
    /// `Manifest::parse(&m.to_toml_string())` always equals `m`.
    pub fn to_toml_string(&self) -> String {
        let mut out = String::new();
        let app = &self.app;
        out.push_str("[app]\n");
        out.push_str(&format!("name = {}\n", quote(&app.name.to_string())));
        out.push_str(&format!("version = {}\n", quote(&app.version.to_string())));
        out.push_str(&format!("description = {}\n", quote(&app.description)));
        out.push_str(&format!("license = {}\n", quote(&app.license)));
        out.push_str(&format!("source = {}\n", quote(app.source.as_str())));

        let build = &self.build;
        out.push_str("\n[build]\n");
        out.push_str(&format!("command = {}\n", quote_list(build.command.iter())));
        let outputs: Vec<String> = build
            .outputs
            .iter()
            .map(|(artifact, built)| {
                format!("{} = {}", quote(artifact.as_str()), quote(built.as_str()))
            })
            .collect();
        out.push_str(&format!("outputs = {{ {} }}\n", outputs.join(", ")));
        out.push_str(&format!("entry = {}\n", quote(build.entry.as_str())));

        let capabilities = &self.capabilities;
        out.push_str("\n[capabilities]\n");
        let files: Vec<String> = capabilities
            .files
            .iter()
            .map(|grant| {
                format!(
                    "{{ path = {}, access = {} }}",
                    quote(&grant.path.to_string()),
                    quote(grant.access.as_str())
                )
            })
            .collect();
        out.push_str(&format!("files = [{}]\n", files.join(", ")));
        out.push_str(&format!(
            "network = {}\n",
            quote_list(capabilities.network.entries().iter())
        ));
        out.push_str(&format!(
            "tools = {}\n",
            quote_list(
                capabilities
                    .tools
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .iter()
            )
        ));
        out.push_str(&format!(
            "models = {}\n",
            quote_list(
                capabilities
                    .models
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .iter()
            )
        ));

        for model in &self.models {
            out.push_str("\n[[models]]\n");
            out.push_str(&format!("name = {}\n", quote(model.name.as_str())));
            out.push_str(&format!("digest = {}\n", quote(&model.digest.to_string())));
            out.push_str(&format!("size = {}\n", model.size));
            out.push_str(&format!(
                "urls = {}\n",
                quote_list(
                    model
                        .urls
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .iter()
                )
            ));
        }
        out
    }
}

/// A one-line TOML basic string holding `text`, usable as a value or a key.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for character in text.chars() {
        match character {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            '\n' => quoted.push_str("\\n"),
            '\t' => quoted.push_str("\\t"),
            '\r' => quoted.push_str("\\r"),
            c if c.is_control() => quoted.push_str(&format!("\\u{:04X}", u32::from(c))),
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

fn quote_list<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let quoted: Vec<String> = items.map(|item| quote(item)).collect();
    format!("[{}]", quoted.join(", "))
}

impl FromStr for Manifest {
    type Err = ManifestError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_characters() {
        let text = "ab\nçd\nx";
        assert_eq!(line_column(text, 0), (1, 1));
        assert_eq!(line_column(text, 3), (2, 1));
        assert_eq!(line_column(text, 5), (2, 2));
        assert_eq!(line_column(text, 7), (3, 1));
    }

    #[test]
    fn https_url_rules() {
        assert!("https://git.example.com/acme/x".parse::<HttpsUrl>().is_ok());
        assert!("https://[::1]:8443/x".parse::<HttpsUrl>().is_ok());
        assert!("http://git.example.com/x".parse::<HttpsUrl>().is_err());
        assert!(
            "https://user:pw@git.example.com/x"
                .parse::<HttpsUrl>()
                .is_err()
        );
        assert!(
            "https://git.example.com/x#frag"
                .parse::<HttpsUrl>()
                .is_err()
        );
        assert!("https:///x".parse::<HttpsUrl>().is_err());
        assert!("https://git.example.com:0/x".parse::<HttpsUrl>().is_err());
        assert!("https://git.example.com:08/x".parse::<HttpsUrl>().is_err());
        assert!("https://a..example/x".parse::<HttpsUrl>().is_err());
        assert!("https://[::g]/x".parse::<HttpsUrl>().is_err());
        assert!("https://[::1]x/x".parse::<HttpsUrl>().is_err());
        assert!("https://git.example.com/ä".parse::<HttpsUrl>().is_err());
        assert!("HTTPS://git.example.com/x".parse::<HttpsUrl>().is_err());
    }
}
