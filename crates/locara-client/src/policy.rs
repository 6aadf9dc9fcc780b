//! The policy file, `<config>/policy.toml`: update levels, the minimum release age and allow rules.
//!
//! The policy is what lets a machine act without a person: `locara update` and `sync` apply releases up to
//! an [`UpdateLevel`] without asking, no release younger than a [`MinAge`] is chosen, and `[[allow]]` rules
//! grant capabilities without a prompt (DESIGN §6, §7; user guide in `docs/policy-and-lockfile.md`).
//!
//! ```toml
//! update = "patch"             # "none", "patch" (default), "minor" or "major"
//! min_release_age = "24h"      # "0", or a whole number with s, m, h or d (default "24h")
//!
//! [[allow]]
//! apps = "acme/*"              # "publisher/app", "publisher/*" or "*"
//! files = [{ path = "~/Notes", access = "read" }]
//! network = ["api.example.com:443"]
//! tools = ["/usr/bin/git"]
//! models = ["minilm"]
//!
//! [apps."acme/notes-search"]   # per-app settings; an exact app name
//! update = "minor"
//! min_release_age = "0"
//! ```
//!
//! Invariants:
//! - A [`Policy`] only holds parsed values: app patterns are exact names, `publisher/*` or `*`; the
//!   capabilities of a rule passed the same checks as a manifest's `[capabilities]`.
//! - Parsing is strict: unknown keys, wrong types and bad values are errors naming the file, line and
//!   column. A missing file is the default policy; a present but invalid one is never silently ignored.
//! - A grant is decided on the union of every matching rule: the app is allowed only when that union
//!   covers everything it asks for, by the same partial order ([`expansions`]) that decides re-prompts.
//! - [`UpdateLevel::allows`] only sizes the version change; an update that expands capabilities still needs
//!   consent (a prompt or covering allow rules), whatever the level.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::io;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use locara_core::capabilities::{
    Access, CapPath, Capabilities, Expansion, FileGrant, ModelName, Network, ToolPath,
    capabilities_from_parts, expansions,
};
use locara_core::manifest::line_column;
use locara_core::names::{AppName, PublisherName};
use locara_core::time::Timestamp;
use locara_core::version::Change;
use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};
use toml::Spanned;

/// The policy file's name inside the client's configuration directory.
pub const POLICY_FILE_NAME: &str = "policy.toml";

/// The minimum release age when the policy does not set one: 24 hours (DESIGN §6).
pub const DEFAULT_MIN_RELEASE_AGE: MinAge = MinAge::from_seconds(24 * 60 * 60);

/// Which version changes `locara update` and `sync` apply without asking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum UpdateLevel {
    /// Nothing applies without asking (`"none"`).
    None,
    /// Patch releases apply without asking (`"patch"`, the default).
    #[default]
    Patch,
    /// Patch and minor releases apply without asking (`"minor"`).
    Minor,
    /// Every release applies without asking, even a major one (`"major"`).
    Major,
}

impl UpdateLevel {
    /// Whether an update of this size applies without asking; capability expansions still ask.
    pub fn allows(self, change: Change) -> bool {
        match self {
            Self::None => false,
            Self::Patch => change == Change::Patch,
            Self::Minor => matches!(change, Change::Patch | Change::Minor),
            Self::Major => true,
        }
    }

    /// The policy file's spelling: `none`, `patch`, `minor` or `major`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Patch => "patch",
            Self::Minor => "minor",
            Self::Major => "major",
        }
    }
}

/// Why a string is not an update level.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "update level {found:?} is not known; expected \"none\", \"patch\", \"minor\" or \"major\""
)]
pub struct UpdateLevelError {
    /// The string that was given.
    pub found: String,
}

impl FromStr for UpdateLevel {
    type Err = UpdateLevelError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "patch" => Ok(Self::Patch),
            "minor" => Ok(Self::Minor),
            "major" => Ok(Self::Major),
            _ => Err(UpdateLevelError {
                found: s.to_owned(),
            }),
        }
    }
}

impl fmt::Display for UpdateLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for UpdateLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Self>::new(
            "an update level: \"none\", \"patch\", \"minor\" or \"major\"",
        ))
    }
}

/// Why a string is not a duration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DurationError {
    /// The string is empty.
    #[error("duration is empty; {DURATION_HINT}")]
    Empty,
    /// The string does not start with a whole number.
    #[error("duration {found:?} does not start with a whole number; {DURATION_HINT}")]
    NoNumber {
        /// The string that was given.
        found: String,
    },
    /// A number other than 0 has no unit.
    #[error("duration {found:?} has no unit; {DURATION_HINT}")]
    MissingUnit {
        /// The string that was given.
        found: String,
    },
    /// The unit is not `s`, `m`, `h` or `d`.
    #[error(
        "duration {found:?} has {unit:?} after its number, which is not a unit; {DURATION_HINT}"
    )]
    UnknownUnit {
        /// The string that was given.
        found: String,
        /// Everything after the number.
        unit: String,
    },
    /// The duration does not fit in 64 bits of seconds.
    #[error("duration {found:?} is too long to count in seconds")]
    TooLarge {
        /// The string that was given.
        found: String,
    },
}

const DURATION_HINT: &str = "write a whole number followed by s, m, h or d (such as \"30s\", \"90m\", \"24h\", \"7d\"), or \"0\"";

/// Parses a duration such as `"0"`, `"30s"`, `"90m"`, `"24h"` or `"7d"` into seconds.
///
/// One whole number and one lowercase unit; no signs, fractions, spaces or combinations such as `1h30m`.
/// `0` needs no unit.
pub fn parse_duration(text: &str) -> Result<u64, DurationError> {
    if text.is_empty() {
        return Err(DurationError::Empty);
    }
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (digits, unit) = text.split_at(digits_end);
    if digits.is_empty() {
        return Err(DurationError::NoNumber {
            found: text.to_owned(),
        });
    }
    let number: u64 = digits.parse().map_err(|_| DurationError::TooLarge {
        found: text.to_owned(),
    })?;
    let seconds_per_unit = match unit {
        "" if number == 0 => 1,
        "" => {
            return Err(DurationError::MissingUnit {
                found: text.to_owned(),
            });
        }
        "s" => 1,
        "m" => 60,
        "h" => 60 * 60,
        "d" => 24 * 60 * 60,
        _ => {
            return Err(DurationError::UnknownUnit {
                found: text.to_owned(),
                unit: unit.to_owned(),
            });
        }
    };
    number
        .checked_mul(seconds_per_unit)
        .ok_or_else(|| DurationError::TooLarge {
            found: text.to_owned(),
        })
}

/// The youngest a release may be and still be chosen, in whole seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MinAge(u64);

impl MinAge {
    /// No minimum: any release may be chosen as soon as it is available.
    pub const ZERO: Self = Self(0);

    /// A minimum age of `seconds`.
    pub const fn from_seconds(seconds: u64) -> Self {
        Self(seconds)
    }

    /// The minimum age in seconds.
    pub const fn seconds(self) -> u64 {
        self.0
    }

    /// Whether a release published at `published` is old enough at `now` (one from the future is not).
    pub fn is_old_enough(self, published: Timestamp, now: Timestamp) -> bool {
        if self.0 == 0 {
            return true;
        }
        now.unix_seconds()
            .checked_sub(published.unix_seconds())
            .is_some_and(|age| age >= self.0)
    }
}

impl Default for MinAge {
    fn default() -> Self {
        DEFAULT_MIN_RELEASE_AGE
    }
}

impl FromStr for MinAge {
    type Err = DurationError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        parse_duration(s).map(Self)
    }
}

impl fmt::Display for MinAge {
    /// The largest unit that divides the age exactly: `0`, `90m`, `7d`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const UNITS: [(u64, &str); 3] = [(24 * 60 * 60, "d"), (60 * 60, "h"), (60, "m")];
        if self.0 == 0 {
            return f.write_str("0");
        }
        for (size, unit) in UNITS {
            if self.0.is_multiple_of(size) {
                return write!(f, "{}{unit}", self.0 / size);
            }
        }
        write!(f, "{}s", self.0)
    }
}

impl<'de> Deserialize<'de> for MinAge {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Self>::new(
            "a duration string such as \"24h\", \"90m\", \"7d\" or \"0\"",
        ))
    }
}

/// Which apps an allow rule applies to: one app, every app of a publisher, or every app.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AppPattern {
    /// Exactly this app (`"acme/notes-search"`).
    Exact(AppName),
    /// Every app of this publisher (`"acme/*"`).
    Publisher(PublisherName),
    /// Every app (`"*"`).
    Any,
}

impl AppPattern {
    /// Whether `app` is one of the apps this pattern names.
    pub fn matches(&self, app: &AppName) -> bool {
        match self {
            Self::Exact(name) => name == app,
            Self::Publisher(publisher) => app.publisher() == publisher,
            Self::Any => true,
        }
    }
}

/// Why a string is not an app pattern.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "app pattern {found:?} is not valid ({reason}); expected \"publisher/app\", \"publisher/*\" or \"*\""
)]
pub struct AppPatternError {
    /// The string that was given.
    pub found: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for AppPattern {
    type Err = AppPatternError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| AppPatternError {
            found: s.to_owned(),
            reason,
        };
        if s == "*" {
            return Ok(Self::Any);
        }
        if let Some(publisher) = s.strip_suffix("/*") {
            return publisher
                .parse()
                .map(Self::Publisher)
                .map_err(|name_error| error(name_error.to_string()));
        }
        if s.contains('*') {
            return Err(error(
                "`*` may only stand alone or for the whole app part".to_owned(),
            ));
        }
        s.parse()
            .map(Self::Exact)
            .map_err(|name_error| error(name_error.to_string()))
    }
}

impl fmt::Display for AppPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(name) => name.fmt(f),
            Self::Publisher(publisher) => write!(f, "{publisher}/*"),
            Self::Any => f.write_str("*"),
        }
    }
}

impl<'de> Deserialize<'de> for AppPattern {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(FromStrVisitor::<Self>::new(
            "an app pattern: \"publisher/app\", \"publisher/*\" or \"*\"",
        ))
    }
}

/// One `[[allow]]` rule: capabilities granted without a prompt to the apps its pattern matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowRule {
    /// The apps the rule applies to.
    pub apps: AppPattern,
    /// What the rule grants.
    pub capabilities: Capabilities,
}

/// Settings for one app that take the place of the global ones (`[apps."publisher/app"]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AppSettings {
    /// The app's update level, if it has its own.
    pub update: Option<UpdateLevel>,
    /// The app's minimum release age, if it has its own.
    pub min_release_age: Option<MinAge>,
}

/// What the policy says about the capabilities an app asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GrantDecision {
    /// Everything asked for is covered by these rules together (indexes into [`Policy::allow`]; every
    /// matching rule is listed, and the list is empty when the app asks for nothing).
    Allowed {
        /// The indexes of the matching rules, in file order.
        rules: Vec<usize>,
    },
    /// Some capabilities are covered by no matching rule; a person has to consent.
    NotCovered {
        /// Each capability that no matching rule allows.
        uncovered: Vec<Expansion>,
    },
}

/// The client's policy: global settings, per-app settings and allow rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The update level for apps without their own.
    pub update: UpdateLevel,
    /// The minimum release age for apps without their own.
    pub min_release_age: MinAge,
    /// The `[[allow]]` rules, in file order.
    pub allow: Vec<AllowRule>,
    /// Per-app settings, by exact app name.
    pub apps: BTreeMap<AppName, AppSettings>,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            update: UpdateLevel::default(),
            min_release_age: DEFAULT_MIN_RELEASE_AGE,
            allow: Vec::new(),
            apps: BTreeMap::new(),
        }
    }
}

/// Why the policy file cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    /// The file exists but could not be read.
    #[error("could not read the policy file {}", path.display())]
    Read {
        /// The policy file.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },
    /// The file is not a valid policy.
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

impl Policy {
    /// Where the policy file lives in a configuration directory.
    pub fn path_in(config_dir: &Path) -> PathBuf {
        config_dir.join(POLICY_FILE_NAME)
    }

    /// Reads the policy file; a missing file is the default policy, an invalid one an error.
    pub fn load(path: &Path) -> Result<Policy, PolicyError> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text, &path.display().to_string()),
            Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(PolicyError::Read {
                path: path.to_owned(),
                source,
            }),
        }
    }

    /// Parses policy text; `origin` names it in errors (usually the file's path).
    pub fn parse(text: &str, origin: &str) -> Result<Policy, PolicyError> {
        let invalid = |span: Option<std::ops::Range<usize>>, problem: String| {
            let (line, column) = line_column(text, span.map_or(0, |span| span.start));
            PolicyError::Invalid {
                origin: origin.to_owned(),
                line,
                column,
                problem,
            }
        };
        let raw: RawPolicy = toml::from_str(text)
            .map_err(|error| invalid(error.span(), error.message().to_owned()))?;

        let mut allow = Vec::with_capacity(raw.allow.len());
        for (index, rule) in raw.allow.into_iter().enumerate() {
            let span = rule.span();
            let rule = rule.into_inner();
            let network = match rule.network {
                None => Network::None,
                Some(entries) => Network::from_entries(entries.get_ref()).map_err(|error| {
                    invalid(
                        Some(entries.span()),
                        format!("[[allow]] rule {}: {error}", index + 1),
                    )
                })?,
            };
            let files = rule
                .files
                .into_iter()
                .map(|grant| FileGrant {
                    path: grant.path.0,
                    access: grant.access.0,
                })
                .collect();
            let tools = rule.tools.into_iter().map(|tool| tool.0).collect();
            let models = rule.models.into_iter().map(|model| model.0).collect();
            let capabilities =
                capabilities_from_parts(files, network, tools, models).map_err(|error| {
                    invalid(
                        Some(span.clone()),
                        format!("[[allow]] rule {}: {error}", index + 1),
                    )
                })?;
            allow.push(AllowRule {
                apps: rule.apps,
                capabilities,
            });
        }

        let mut apps = BTreeMap::new();
        for (key, settings) in raw.apps {
            let name: AppName = key.get_ref().parse().map_err(|error| {
                let problem = if key.get_ref().contains('*') {
                    format!(
                        "[apps]: {:?} is a pattern; per-app settings take one exact app name such as \
                         \"acme/notes-search\" (patterns belong in [[allow]] rules)",
                        key.get_ref()
                    )
                } else {
                    format!("[apps]: {error}")
                };
                invalid(Some(key.span()), problem)
            })?;
            apps.insert(
                name,
                AppSettings {
                    update: settings.update,
                    min_release_age: settings.min_release_age,
                },
            );
        }

        Ok(Policy {
            update: raw.update.unwrap_or_default(),
            min_release_age: raw.min_release_age.unwrap_or(DEFAULT_MIN_RELEASE_AGE),
            allow,
            apps,
        })
    }

    /// The update level for `app`: its own if it has one, else the global one.
    pub fn update_level(&self, app: &AppName) -> UpdateLevel {
        self.apps
            .get(app)
            .and_then(|settings| settings.update)
            .unwrap_or(self.update)
    }

    /// The minimum release age for `app`: its own if it has one, else the global one.
    pub fn min_release_age(&self, app: &AppName) -> MinAge {
        self.apps
            .get(app)
            .and_then(|settings| settings.min_release_age)
            .unwrap_or(self.min_release_age)
    }

    /// The indexes of the allow rules whose pattern matches `app`, in file order.
    pub fn matching_rules(&self, app: &AppName) -> Vec<usize> {
        self.allow
            .iter()
            .enumerate()
            .filter(|(_, rule)| rule.apps.matches(app))
            .map(|(index, _)| index)
            .collect()
    }

    /// Everything the matching allow rules grant `app` together.
    pub fn granted(&self, app: &AppName) -> Capabilities {
        let rules = self.matching_rules(app);
        union_of(rules.iter().map(|&index| &self.allow[index].capabilities))
    }

    /// Whether the matching allow rules together cover everything in `wanted`.
    pub fn grant(&self, app: &AppName, wanted: &Capabilities) -> GrantDecision {
        let uncovered = expansions(&self.granted(app), wanted);
        if uncovered.is_empty() {
            GrantDecision::Allowed {
                rules: self.matching_rules(app),
            }
        } else {
            GrantDecision::NotCovered { uncovered }
        }
    }
}

/// The union of capability sets: a value that covers each of them.
///
/// Files are merged by path, keeping the widest access, so every path stays listed once; any-host
/// absorbs host lists; tools and models are set unions.
fn union_of<'a>(sets: impl IntoIterator<Item = &'a Capabilities>) -> Capabilities {
    let mut files: Vec<FileGrant> = Vec::new();
    let mut network = Network::None;
    let mut tools = BTreeSet::new();
    let mut models = BTreeSet::new();
    for set in sets {
        for grant in &set.files {
            match files.iter_mut().find(|known| known.path == grant.path) {
                Some(known) => known.access = known.access.max(grant.access),
                None => files.push(grant.clone()),
            }
        }
        network = match (network, &set.network) {
            (Network::Any, _) | (_, Network::Any) => Network::Any,
            (current, Network::None) => current,
            (Network::None, Network::Hosts(hosts)) => Network::Hosts(hosts.clone()),
            (Network::Hosts(mut known), Network::Hosts(hosts)) => {
                known.extend(hosts.iter().cloned());
                Network::Hosts(known)
            }
        };
        tools.extend(set.tools.iter().cloned());
        models.extend(set.models.iter().cloned());
    }
    Capabilities {
        files,
        network,
        tools,
        models,
    }
}

/// Deserializes a string through `FromStr`, so a bad value's error carries its place in the file.
struct FromStrVisitor<T> {
    expecting: &'static str,
    target: PhantomData<T>,
}

impl<T> FromStrVisitor<T> {
    fn new(expecting: &'static str) -> Self {
        Self {
            expecting,
            target: PhantomData,
        }
    }
}

impl<T> Visitor<'_> for FromStrVisitor<T>
where
    T: FromStr,
    T::Err: fmt::Display,
{
    type Value = T;

    fn expecting(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.expecting)
    }

    fn visit_str<E: de::Error>(self, value: &str) -> Result<T, E> {
        value.parse().map_err(E::custom)
    }
}

/// A capability part parsed from its manifest spelling.
struct Parsed<T>(T);

macro_rules! parsed_from_str {
    ($type:ty, $expecting:literal) => {
        impl<'de> Deserialize<'de> for Parsed<$type> {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                deserializer
                    .deserialize_str(FromStrVisitor::<$type>::new($expecting))
                    .map(Parsed)
            }
        }
    };
}

parsed_from_str!(CapPath, "a path string: \"~\", \"~/…\" or \"/…\"");
parsed_from_str!(Access, "an access string: \"read\" or \"read-write\"");
parsed_from_str!(
    ToolPath,
    "an absolute tool path string such as \"/usr/bin/git\""
);
parsed_from_str!(ModelName, "a model name string such as \"minilm\"");

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    update: Option<UpdateLevel>,
    min_release_age: Option<MinAge>,
    #[serde(default)]
    allow: Vec<Spanned<RawRule>>,
    #[serde(default)]
    apps: BTreeMap<Spanned<String>, RawAppSettings>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    apps: AppPattern,
    #[serde(default)]
    files: Vec<RawFileGrant>,
    network: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    tools: Vec<Parsed<ToolPath>>,
    #[serde(default)]
    models: Vec<Parsed<ModelName>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFileGrant {
    path: Parsed<CapPath>,
    access: Parsed<Access>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAppSettings {
    update: Option<UpdateLevel>,
    min_release_age: Option<MinAge>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_age_displays_in_the_largest_exact_unit() {
        assert_eq!(MinAge::from_seconds(0).to_string(), "0");
        assert_eq!(MinAge::from_seconds(86_400).to_string(), "1d");
        assert_eq!(MinAge::from_seconds(5_400).to_string(), "90m");
        assert_eq!(MinAge::from_seconds(61).to_string(), "61s");
    }

    #[test]
    fn release_from_the_future_is_not_old_enough_unless_no_minimum() {
        let now = Timestamp::from_unix_seconds(1_000_000).unwrap();
        let later = Timestamp::from_unix_seconds(1_000_100).unwrap();
        assert!(!MinAge::from_seconds(1).is_old_enough(later, now));
        assert!(MinAge::ZERO.is_old_enough(later, now));
    }

    #[test]
    fn union_merges_same_path_to_widest_access() {
        let read: Capabilities =
            toml::from_str("files = [{ path = \"~/a\", access = \"read\" }]").unwrap();
        let write: Capabilities =
            toml::from_str("files = [{ path = \"~/a\", access = \"read-write\" }]").unwrap();
        let union = union_of([&read, &write]);
        assert_eq!(union.files.len(), 1);
        assert_eq!(union.files[0].access, Access::ReadWrite);
    }
}
