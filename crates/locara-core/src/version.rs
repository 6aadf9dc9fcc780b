//! Release versions: semver 2.0.0.
//!
//! Invariant: a [`Version`] always holds a version that parses under semver 2.0.0 (no `v` prefix, no
//! leading zeros, no missing parts).
//!
//! [`classify`] sizes an update with cargo's caret rules (the left-most non-zero part is the "major"
//! one). Any change to, from or between pre-releases is [`Change::Major`], so the client's update policy
//! always asks before it (ADR 0013). Build metadata is ignored: versions that differ only in it are equal.

use std::cmp::Ordering;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A semver 2.0.0 version such as `1.4.2` or `2.0.0-rc.1+build.5`.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Version(semver::Version);

/// Why a string is not a semver 2.0.0 version.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "version {found:?} is not semver 2.0.0 ({reason}); write MAJOR.MINOR.PATCH, for example \"1.4.2\""
)]
pub struct VersionError {
    /// The string that was given.
    pub found: String,
    /// What the semver parser objected to.
    pub reason: String,
}

impl Version {
    /// The parsed semver value.
    pub fn semver(&self) -> &semver::Version {
        &self.0
    }
}

impl FromStr for Version {
    type Err = VersionError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        semver::Version::parse(s)
            .map(Self)
            .map_err(|error| VersionError {
                found: s.to_owned(),
                reason: error.to_string(),
            })
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({})", self.0)
    }
}

impl Serialize for Version {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// How big an update from one version to a newer one is, by cargo's caret rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// A compatible fix: `1.4.2 → 1.4.3`, `0.1.2 → 0.1.3`.
    Patch,
    /// A compatible addition: `1.4.2 → 1.5.0`.
    Minor,
    /// An incompatible change: `1.4.2 → 2.0.0`, `0.1.2 → 0.2.0`, `0.0.3 → 0.0.4`, or any pre-release.
    Major,
}

impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Patch => "patch",
            Self::Minor => "minor",
            Self::Major => "major",
        })
    }
}

/// Why two versions cannot be classified as an update.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClassifyError {
    /// The new version equals the old one (build metadata is ignored).
    #[error(
        "new version {new} is the same as {old} (build metadata does not count); a release needs a higher version"
    )]
    Same {
        /// The earlier version.
        old: Version,
        /// The version that was meant to be newer.
        new: Version,
    },
    /// The new version is lower than the old one.
    #[error("new version {new} is lower than {old}; a release needs a version higher than {old}")]
    Lower {
        /// The earlier version.
        old: Version,
        /// The version that was meant to be newer.
        new: Version,
    },
}

/// Sizes the update from `old` to `new`, which must be strictly greater.
pub fn classify(old: &Version, new: &Version) -> Result<Change, ClassifyError> {
    let (a, b) = (&old.0, &new.0);
    match b.cmp_precedence(a) {
        Ordering::Equal => {
            return Err(ClassifyError::Same {
                old: old.clone(),
                new: new.clone(),
            });
        }
        Ordering::Less => {
            return Err(ClassifyError::Lower {
                old: old.clone(),
                new: new.clone(),
            });
        }
        Ordering::Greater => {}
    }
    if !a.pre.is_empty() || !b.pre.is_empty() {
        return Ok(Change::Major);
    }
    let change = if a.major > 0 {
        if b.major != a.major {
            Change::Major
        } else if b.minor != a.minor {
            Change::Minor
        } else {
            Change::Patch
        }
    } else if b.major > 0 {
        Change::Major
    } else if a.minor > 0 {
        if b.minor != a.minor {
            Change::Major
        } else {
            Change::Patch
        }
    } else {
        Change::Major
    };
    Ok(change)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(text: &str) -> Version {
        text.parse().unwrap()
    }

    #[test]
    fn classifies_by_left_most_non_zero_part() {
        assert_eq!(classify(&v("1.4.2"), &v("1.4.3")), Ok(Change::Patch));
        assert_eq!(classify(&v("0.1.2"), &v("0.2.0")), Ok(Change::Major));
        assert_eq!(classify(&v("0.0.3"), &v("0.0.4")), Ok(Change::Major));
    }

    #[test]
    fn refuses_build_metadata_only_change() {
        assert!(matches!(
            classify(&v("1.0.0+a"), &v("1.0.0+b")),
            Err(ClassifyError::Same { .. })
        ));
    }
}
