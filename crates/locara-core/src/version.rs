//! Release versions: semver 2.0.0.
//!
//! Invariant: a [`Version`] always holds a version that parses under semver 2.0.0 (no `v` prefix, no
//! leading zeros, no missing parts).

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
