//! Capabilities: what an app may do beyond its own install and data directories.
//!
//! A [`Capabilities`] value lists file grants, network access, host tools and models. Every part is a
//! parsed newtype, so a value can only hold normalised paths, valid host:port pairs, absolute tool paths and
//! valid model names. Capabilities form a partial order; [`expansions`] lists every way a new set can do
//! more than an old one, and is what triggers the cool-down and the re-prompt (DESIGN §6).
//!
//! Rules (ADR 0012):
//! - File paths are `~`, `~/…` or absolute `/…`; `..` is refused; `.` components, repeated and trailing
//!   slashes are removed; NUL, control characters, empty and relative paths are refused; at most [`MAX_PATH_LEN`] bytes.
//!   A grant covers every path below it (by whole components); `/` also covers every `~` path.
//! - Network entries are `host:port` (DNS name, IPv4 literal or `[IPv6]`; port 1–65535) or `host:*` for any
//!   port on that host; `"*"` alone means any host and must be the only entry.
//! - Tools are absolute paths of executables, matched exactly.

use std::collections::BTreeSet;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::num::NonZeroU16;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest allowed file or tool path, in bytes after normalisation.
pub const MAX_PATH_LEN: usize = 1024;
/// The longest allowed model name, in characters.
pub const MAX_MODEL_NAME_LEN: usize = 64;
/// The longest allowed DNS name, in bytes.
pub const MAX_HOST_LEN: usize = 253;

/// Why a capability entry is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapabilityError {
    /// A path is empty.
    #[error("path is empty; expected `~`, `~/…` or an absolute path `/…`")]
    EmptyPath,
    /// A path is not `~`, `~/…` or absolute.
    #[error("path {found:?} is relative; expected `~`, `~/…` or an absolute path `/…`")]
    RelativePath {
        /// The path that was given.
        found: String,
    },
    /// A path has a `..` component.
    #[error("path {found:?} has a `..` component; write the path without `..`")]
    ParentComponent {
        /// The path that was given.
        found: String,
    },
    /// A path has a NUL byte.
    #[error("path {found:?} contains a NUL character")]
    NulInPath {
        /// The path that was given.
        found: String,
    },
    /// A path has a control character such as a newline, which could forge lines in a consent prompt.
    #[error("path {found:?} contains a control character; paths must be printable")]
    ControlInPath {
        /// The path that was given.
        found: String,
    },
    /// A path is too long.
    #[error("path is {length} bytes long; at most {MAX_PATH_LEN} are allowed")]
    PathTooLong {
        /// Its length in bytes.
        length: usize,
    },
    /// A tool path is not an absolute path to a file.
    #[error("tool {found:?} must be an absolute path to an executable such as `/usr/bin/git`")]
    ToolNotAbsolute {
        /// The path that was given.
        found: String,
    },
    /// An access level is unknown.
    #[error("access {found:?} is not known; expected `read` or `read-write`")]
    Access {
        /// The value that was given.
        found: String,
    },
    /// A network entry has no port.
    #[error(
        "network entry {found:?} has no port; expected `host:port` (port 1-65535), `host:*` or `*`"
    )]
    MissingPort {
        /// The entry that was given.
        found: String,
    },
    /// A port is not 1–65535 or `*`.
    #[error("network entry {found:?} has port {port:?}; expected a number from 1 to 65535 or `*`")]
    Port {
        /// The entry that was given.
        found: String,
        /// The port part.
        port: String,
    },
    /// A host is not a DNS name or IP literal.
    #[error(
        "network entry {found:?} has host {host:?}, which is not a DNS name (letters, digits, `-` and `.`), an IPv4 address or a bracketed IPv6 address `[::1]`"
    )]
    Host {
        /// The entry that was given.
        found: String,
        /// The host part.
        host: String,
    },
    /// `*` was combined with other network entries.
    #[error(
        "network `*` (any host) must be the only entry; found it together with {others} other entries"
    )]
    AnyHostNotAlone {
        /// How many other entries there were.
        others: usize,
    },
    /// A network entry is listed twice.
    #[error("network entry {found:?} is listed twice")]
    DuplicateHost {
        /// The normalised entry.
        found: String,
    },
    /// A file path is granted twice.
    #[error(
        "file path {found:?} is listed twice; list each path once with the widest access it needs"
    )]
    DuplicatePath {
        /// The normalised path.
        found: String,
    },
    /// A tool is listed twice.
    #[error("tool {found:?} is listed twice")]
    DuplicateTool {
        /// The normalised path.
        found: String,
    },
    /// A model is listed twice.
    #[error("model {found:?} is listed twice")]
    DuplicateModel {
        /// The model name.
        found: String,
    },
    /// A model name breaks the naming rules.
    #[error(
        "model name {found:?} is not valid; expected 1-{MAX_MODEL_NAME_LEN} characters of lowercase letters a-z, digits, `-`, `_` or `.`, starting with a letter"
    )]
    ModelName {
        /// The name that was given.
        found: String,
    },
}

/// Where a [`CapPath`] is rooted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PathRoot {
    /// The user's home directory, written `~`.
    Home,
    /// The file-system root, written `/`.
    Absolute,
}

/// A normalised file path in a capability: `~`, `~/a/b`, `/` or `/a/b`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CapPath {
    root: PathRoot,
    components: Vec<String>,
}

impl CapPath {
    /// Where the path is rooted.
    pub fn root(&self) -> PathRoot {
        self.root
    }

    /// The path's components after the root, normalised.
    pub fn components(&self) -> &[String] {
        &self.components
    }

    /// Whether a grant on `self` also reaches `other` (same root and a component prefix; `/` reaches all).
    pub fn covers(&self, other: &CapPath) -> bool {
        if self.root == PathRoot::Absolute && self.components.is_empty() {
            return true;
        }
        self.root == other.root && other.components.starts_with(&self.components)
    }
}

fn split_components(found: &str, rest: &str) -> Result<Vec<String>, CapabilityError> {
    let mut components = Vec::new();
    for component in rest.split('/') {
        match component {
            "" | "." => {}
            ".." => {
                return Err(CapabilityError::ParentComponent {
                    found: found.to_owned(),
                });
            }
            other => components.push(other.to_owned()),
        }
    }
    Ok(components)
}

impl FromStr for CapPath {
    type Err = CapabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(CapabilityError::EmptyPath);
        }
        if s.contains('\0') {
            return Err(CapabilityError::NulInPath {
                found: s.to_owned(),
            });
        }
        if s.chars().any(char::is_control) {
            return Err(CapabilityError::ControlInPath {
                found: s.to_owned(),
            });
        }
        let (root, rest) = if s == "~" {
            (PathRoot::Home, "")
        } else if let Some(rest) = s.strip_prefix("~/") {
            (PathRoot::Home, rest)
        } else if let Some(rest) = s.strip_prefix('/') {
            (PathRoot::Absolute, rest)
        } else {
            return Err(CapabilityError::RelativePath {
                found: s.to_owned(),
            });
        };
        let path = Self {
            root,
            components: split_components(s, rest)?,
        };
        let length = path.to_string().len();
        if length > MAX_PATH_LEN {
            return Err(CapabilityError::PathTooLong { length });
        }
        Ok(path)
    }
}

impl fmt::Display for CapPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.root, self.components.is_empty()) {
            (PathRoot::Home, true) => f.write_str("~"),
            (PathRoot::Home, false) => write!(f, "~/{}", self.components.join("/")),
            (PathRoot::Absolute, _) => write!(f, "/{}", self.components.join("/")),
        }
    }
}

impl fmt::Debug for CapPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CapPath({:?})", self.to_string())
    }
}

/// How a file grant may be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Access {
    /// Read files and list directories (`read`).
    Read,
    /// Read, create, change and delete files (`read-write`).
    ReadWrite,
}

impl Access {
    /// The manifest spelling: `read` or `read-write`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Read => "read",
            Self::ReadWrite => "read-write",
        }
    }
}

impl FromStr for Access {
    type Err = CapabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "read" => Ok(Self::Read),
            "read-write" => Ok(Self::ReadWrite),
            _ => Err(CapabilityError::Access {
                found: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Access to one path and everything below it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FileGrant {
    /// The path granted.
    pub path: CapPath,
    /// How it may be used.
    pub access: Access,
}

impl FileGrant {
    /// Whether this grant allows everything `other` allows.
    pub fn covers(&self, other: &FileGrant) -> bool {
        self.access >= other.access && self.path.covers(&other.path)
    }

    /// The grant in plain words, e.g. "read files in ~/Notes".
    pub fn describe(&self) -> String {
        match self.access {
            Access::Read => format!("read files in {}", self.path),
            Access::ReadWrite => format!("read and change files in {}", self.path),
        }
    }
}

/// A network host: a lowercase DNS name or an IP address.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Host {
    /// A lowercase DNS name such as `api.example.com`.
    Name(String),
    /// An IPv4 address.
    Ipv4(Ipv4Addr),
    /// An IPv6 address, written in brackets.
    Ipv6(Ipv6Addr),
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ipv4(address) => address.fmt(f),
            Self::Ipv6(address) => write!(f, "[{address}]"),
        }
    }
}

/// A port on a host: one number or any port (`*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Port {
    /// One TCP port, 1–65535.
    Number(NonZeroU16),
    /// Any port on the host, written `*`.
    Any,
}

impl fmt::Display for Port {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Number(number) => number.fmt(f),
            Self::Any => f.write_str("*"),
        }
    }
}

/// A host and port an app may connect to, written `host:port` or `host:*`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostPort {
    /// The host.
    pub host: Host,
    /// The port.
    pub port: Port,
}

impl HostPort {
    /// Whether a grant of `self` also allows `other`.
    pub fn covers(&self, other: &HostPort) -> bool {
        self.host == other.host && (self.port == Port::Any || self.port == other.port)
    }

    /// The entry in plain words, e.g. "connect to api.example.com on port 443".
    pub fn describe(&self) -> String {
        match self.port {
            Port::Number(port) => format!("connect to {} on port {port}", self.host),
            Port::Any => format!("connect to {} on any port", self.host),
        }
    }
}

fn parse_dns_name(host: &str) -> Option<String> {
    let name = host.to_ascii_lowercase();
    if name.is_empty() || name.len() > MAX_HOST_LEN {
        return None;
    }
    let labels: Vec<&str> = name.split('.').collect();
    let label_ok = |label: &&str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    if !labels.iter().all(label_ok) {
        return None;
    }
    // A name whose last label is all digits looks like a (bad) IP address: refuse it.
    if labels
        .last()
        .is_some_and(|label| label.bytes().all(|b| b.is_ascii_digit()))
    {
        return None;
    }
    Some(name)
}

impl FromStr for HostPort {
    type Err = CapabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let host_error = |host: &str| CapabilityError::Host {
            found: s.to_owned(),
            host: host.to_owned(),
        };
        let (host_text, port_text) = if let Some(rest) = s.strip_prefix('[') {
            let Some((inside, after)) = rest.split_once(']') else {
                return Err(host_error(s));
            };
            let Some(port) = after.strip_prefix(':') else {
                if after.is_empty() {
                    return Err(CapabilityError::MissingPort {
                        found: s.to_owned(),
                    });
                }
                return Err(host_error(&s[..s.len() - after.len()]));
            };
            let address: Ipv6Addr = inside.parse().map_err(|_| host_error(inside))?;
            (Host::Ipv6(address), port)
        } else {
            let Some((host, port)) = s.rsplit_once(':') else {
                return Err(CapabilityError::MissingPort {
                    found: s.to_owned(),
                });
            };
            let parsed = if host.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
                match host.parse::<Ipv4Addr>() {
                    Ok(address) if address.to_string() == host => Host::Ipv4(address),
                    _ => return Err(host_error(host)),
                }
            } else {
                Host::Name(parse_dns_name(host).ok_or_else(|| host_error(host))?)
            };
            (parsed, port)
        };
        let port = if port_text == "*" {
            Port::Any
        } else {
            let number = (!port_text.starts_with('0')
                && port_text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| port_text.parse::<NonZeroU16>().ok())
            .flatten();
            Port::Number(number.ok_or_else(|| CapabilityError::Port {
                found: s.to_owned(),
                port: port_text.to_owned(),
            })?)
        };
        Ok(Self {
            host: host_text,
            port,
        })
    }
}

impl fmt::Display for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.host, self.port)
    }
}

impl fmt::Debug for HostPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostPort({:?})", self.to_string())
    }
}

/// What network access an app has.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub enum Network {
    /// No network access (`network = []`).
    #[default]
    None,
    /// Only these hosts and ports; never empty when parsed.
    Hosts(BTreeSet<HostPort>),
    /// Any host on any port (`network = ["*"]`).
    Any,
}

impl Network {
    /// Parses the manifest's list of entries: `[]`, `["*"]` or `["host:port", …]`.
    pub fn from_entries<S: AsRef<str>>(entries: &[S]) -> Result<Self, CapabilityError> {
        if entries.iter().any(|entry| entry.as_ref() == "*") {
            if entries.len() > 1 {
                return Err(CapabilityError::AnyHostNotAlone {
                    others: entries.len() - 1,
                });
            }
            return Ok(Self::Any);
        }
        let mut hosts = BTreeSet::new();
        for entry in entries {
            let host: HostPort = entry.as_ref().parse()?;
            if !hosts.insert(host.clone()) {
                return Err(CapabilityError::DuplicateHost {
                    found: host.to_string(),
                });
            }
        }
        Ok(if hosts.is_empty() {
            Self::None
        } else {
            Self::Hosts(hosts)
        })
    }

    /// The manifest's list of entries for this value.
    pub fn entries(&self) -> Vec<String> {
        match self {
            Self::None => Vec::new(),
            Self::Hosts(hosts) => hosts.iter().map(ToString::to_string).collect(),
            Self::Any => vec!["*".to_owned()],
        }
    }

    /// Whether this value allows a connection to `host`.
    pub fn allows(&self, host: &HostPort) -> bool {
        match self {
            Self::None => false,
            Self::Hosts(hosts) => hosts.iter().any(|granted| granted.covers(host)),
            Self::Any => true,
        }
    }
}

/// An absolute path of a host executable an app may run, such as `/usr/bin/git`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ToolPath(CapPath);

impl ToolPath {
    /// The normalised path.
    pub fn path(&self) -> &CapPath {
        &self.0
    }

    /// The tool in plain words, e.g. "run /usr/bin/git".
    pub fn describe(&self) -> String {
        format!("run {}", self.0)
    }
}

impl FromStr for ToolPath {
    type Err = CapabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if !s.starts_with('/') || s.ends_with('/') {
            return Err(CapabilityError::ToolNotAbsolute {
                found: s.to_owned(),
            });
        }
        let path: CapPath = s.parse()?;
        if path.components.is_empty() || s.ends_with("/.") {
            return Err(CapabilityError::ToolNotAbsolute {
                found: s.to_owned(),
            });
        }
        Ok(Self(path))
    }
}

impl fmt::Display for ToolPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for ToolPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ToolPath({:?})", self.0.to_string())
    }
}

/// The name of a model declared in the manifest's `[[models]]`, such as `minilm`.
///
/// 1–64 characters of lowercase ASCII letters, digits, `-`, `_` and `.`, starting with a letter.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ModelName(String);

impl ModelName {
    /// The name as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The model in plain words, e.g. "use the model minilm".
    pub fn describe(&self) -> String {
        format!("use the model {}", self.0)
    }
}

impl FromStr for ModelName {
    type Err = CapabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let valid = (1..=MAX_MODEL_NAME_LEN).contains(&s.len())
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b));
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(CapabilityError::ModelName {
                found: s.to_owned(),
            })
        }
    }
}

impl fmt::Display for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ModelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ModelName({:?})", self.0)
    }
}

/// Everything an app may do beyond its own install and data directories.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// File grants, in manifest order, each path once.
    pub files: Vec<FileGrant>,
    /// Network access.
    pub network: Network,
    /// Host executables the app may run.
    pub tools: BTreeSet<ToolPath>,
    /// Models (from `[[models]]`) the app may read.
    pub models: BTreeSet<ModelName>,
}

impl Capabilities {
    /// Every capability in plain words, one line each, for a consent prompt.
    pub fn describe(&self) -> Vec<String> {
        let mut lines: Vec<String> = self.files.iter().map(FileGrant::describe).collect();
        match &self.network {
            Network::None => {}
            Network::Hosts(hosts) => lines.extend(hosts.iter().map(HostPort::describe)),
            Network::Any => lines.push(ANY_HOST_DESCRIPTION.to_owned()),
        }
        lines.extend(self.tools.iter().map(ToolPath::describe));
        lines.extend(self.models.iter().map(ModelName::describe));
        lines
    }

    /// Whether the app may do nothing beyond its own directories.
    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
            && self.network == Network::None
            && self.tools.is_empty()
            && self.models.is_empty()
    }
}

const ANY_HOST_DESCRIPTION: &str = "connect to any computer on the internet";

/// One way a new capability set can do more than an old one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expansion {
    /// A file grant not covered by any old grant of equal or wider access.
    File(FileGrant),
    /// A host:port not allowed before.
    Host(HostPort),
    /// Any host, where before only some (or none) were allowed.
    AnyHost,
    /// A tool not allowed before.
    Tool(ToolPath),
    /// A model not allowed before.
    Model(ModelName),
}

impl fmt::Display for Expansion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let description = match self {
            Self::File(grant) => grant.describe(),
            Self::Host(host) => host.describe(),
            Self::AnyHost => ANY_HOST_DESCRIPTION.to_owned(),
            Self::Tool(tool) => tool.describe(),
            Self::Model(model) => model.describe(),
        };
        write!(f, "newly asks to {description}")
    }
}

/// Every way `new` can do more than `old`; empty when `new` asks for nothing `old` did not allow.
pub fn expansions(old: &Capabilities, new: &Capabilities) -> Vec<Expansion> {
    let mut found = Vec::new();
    for grant in &new.files {
        if !old.files.iter().any(|granted| granted.covers(grant)) {
            found.push(Expansion::File(grant.clone()));
        }
    }
    match &new.network {
        Network::None => {}
        Network::Any => {
            if old.network != Network::Any {
                found.push(Expansion::AnyHost);
            }
        }
        Network::Hosts(hosts) => {
            for host in hosts {
                if !old.network.allows(host) {
                    found.push(Expansion::Host(host.clone()));
                }
            }
        }
    }
    found.extend(
        new.tools
            .difference(&old.tools)
            .cloned()
            .map(Expansion::Tool),
    );
    found.extend(
        new.models
            .difference(&old.models)
            .cloned()
            .map(Expansion::Model),
    );
    found
}

/// The manifest shape of a file grant: `{ path = "~/Notes", access = "read" }`.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileGrant {
    path: String,
    access: String,
}

/// The manifest shape of `[capabilities]`; every key may be left out.
#[derive(Serialize, Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawCapabilities {
    #[serde(default)]
    files: Vec<RawFileGrant>,
    #[serde(default)]
    network: Vec<String>,
    #[serde(default)]
    tools: Vec<String>,
    #[serde(default)]
    models: Vec<String>,
}

/// Builds capabilities from already-split manifest values, refusing duplicates.
pub fn capabilities_from_parts(
    files: Vec<FileGrant>,
    network: Network,
    tools: Vec<ToolPath>,
    models: Vec<ModelName>,
) -> Result<Capabilities, CapabilityError> {
    let mut paths = BTreeSet::new();
    for grant in &files {
        if !paths.insert(&grant.path) {
            return Err(CapabilityError::DuplicatePath {
                found: grant.path.to_string(),
            });
        }
    }
    let mut tool_set = BTreeSet::new();
    for tool in tools {
        let text = tool.to_string();
        if !tool_set.insert(tool) {
            return Err(CapabilityError::DuplicateTool { found: text });
        }
    }
    let mut model_set = BTreeSet::new();
    for model in models {
        let text = model.to_string();
        if !model_set.insert(model) {
            return Err(CapabilityError::DuplicateModel { found: text });
        }
    }
    Ok(Capabilities {
        files,
        network,
        tools: tool_set,
        models: model_set,
    })
}

impl TryFrom<RawCapabilities> for Capabilities {
    type Error = CapabilityError;

    fn try_from(raw: RawCapabilities) -> Result<Self, Self::Error> {
        let files = raw
            .files
            .iter()
            .map(|grant| {
                Ok(FileGrant {
                    path: grant.path.parse()?,
                    access: grant.access.parse()?,
                })
            })
            .collect::<Result<Vec<_>, CapabilityError>>()?;
        let network = Network::from_entries(&raw.network)?;
        let tools = raw
            .tools
            .iter()
            .map(|tool| tool.parse())
            .collect::<Result<Vec<_>, _>>()?;
        let models = raw
            .models
            .iter()
            .map(|model| model.parse())
            .collect::<Result<Vec<_>, _>>()?;
        capabilities_from_parts(files, network, tools, models)
    }
}

impl From<&Capabilities> for RawCapabilities {
    fn from(capabilities: &Capabilities) -> Self {
        Self {
            files: capabilities
                .files
                .iter()
                .map(|grant| RawFileGrant {
                    path: grant.path.to_string(),
                    access: grant.access.to_string(),
                })
                .collect(),
            network: capabilities.network.entries(),
            tools: capabilities.tools.iter().map(ToString::to_string).collect(),
            models: capabilities
                .models
                .iter()
                .map(ToString::to_string)
                .collect(),
        }
    }
}

impl Serialize for Capabilities {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        RawCapabilities::from(self).serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Capabilities {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        RawCapabilities::deserialize(deserializer)?
            .try_into()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(text: &str) -> CapPath {
        text.parse().unwrap()
    }

    #[test]
    fn normalises_dots_and_slashes() {
        assert_eq!(path("~/Notes/./x//y/").to_string(), "~/Notes/x/y");
        assert_eq!(path("~/.").to_string(), "~");
        assert_eq!(path("//").to_string(), "/");
        assert_eq!(path("/a/.hidden").to_string(), "/a/.hidden");
    }

    #[test]
    fn covering_is_by_whole_components() {
        assert!(path("~/Notes").covers(&path("~/Notes/a")));
        assert!(!path("~/Notes").covers(&path("~/Notes2")));
        assert!(!path("/home").covers(&path("~/x")));
        assert!(path("/").covers(&path("~/x")));
    }

    #[test]
    fn parses_hosts() {
        let host: HostPort = "API.Example.com:443".parse().unwrap();
        assert_eq!(host.to_string(), "api.example.com:443");
        let v6: HostPort = "[0:0::1]:8080".parse().unwrap();
        assert_eq!(v6.to_string(), "[::1]:8080");
        let any_port: HostPort = "10.0.0.1:*".parse().unwrap();
        assert_eq!(any_port.port, Port::Any);
    }
}
