//! Names a user gives to local things: configured registries and release-key files.
//!
//! Invariant: a [`RegistryName`] or [`KeyName`] holds 1 to [`MAX_LOCAL_NAME_LEN`] characters, each an ASCII
//! lower-case letter, a digit or `-`, and starts with a letter or a digit. Such a name is safe as a single
//! path component (no `/`, `.` or `..`), cannot be mistaken for a command-line flag, and reads the same
//! everywhere it is shown.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest local name.
pub const MAX_LOCAL_NAME_LEN: usize = 32;

/// Why a string is not a local name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{kind} name {found:?} is not allowed: {reason}; use 1 to {MAX_LOCAL_NAME_LEN} lower-case letters, digits and '-', starting with a letter or digit (for example \"main\" or \"work-2\")"
)]
pub struct NameError {
    /// What the name is for: `registry` or `key`.
    pub kind: &'static str,
    /// The text that was given.
    pub found: String,
    /// Which rule it breaks.
    pub reason: String,
}

fn check_local_name(kind: &'static str, text: &str) -> Result<(), NameError> {
    let refuse = |reason: String| NameError {
        kind,
        found: text.to_owned(),
        reason,
    };
    if text.is_empty() {
        return Err(refuse("it is empty".to_owned()));
    }
    let length = text.chars().count();
    if length > MAX_LOCAL_NAME_LEN {
        return Err(refuse(format!("it has {length} characters")));
    }
    if let Some(bad) = text
        .chars()
        .find(|c| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(refuse(format!("it contains {bad:?}")));
    }
    if text.starts_with('-') {
        return Err(refuse("it starts with '-'".to_owned()));
    }
    Ok(())
}

macro_rules! local_name {
    ($(#[$doc:meta])* $name:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = NameError;

            fn from_str(text: &str) -> Result<Self, Self::Err> {
                check_local_name($kind, text)?;
                Ok(Self(text.to_owned()))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

local_name!(
    /// The local name of a configured registry, as given to `locara registry add` and `--registry`.
    RegistryName,
    "registry"
);

local_name!(
    /// The local name of a release-key file, `<config>/keys/<name>.key`.
    KeyName,
    "key"
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_lower_case_letters_digits_and_dashes() {
        for name in ["main", "a", "0", "work-2", "a-b-c", &"x".repeat(32)] {
            assert_eq!(name.parse::<RegistryName>().unwrap().as_str(), name);
        }
    }

    #[test]
    fn refuses_names_outside_the_rules_and_says_which_rule() {
        let cases = [
            ("", "empty"),
            ("Main", "'M'"),
            ("a_b", "'_'"),
            ("a.b", "'.'"),
            ("..", "'.'"),
            ("a/b", "'/'"),
            ("é", "'é'"),
            ("-main", "starts with '-'"),
            (&"x".repeat(33), "33 characters"),
        ];
        for (text, reason) in cases {
            let error = text.parse::<KeyName>().unwrap_err();
            assert!(error.to_string().contains(reason), "{text:?}: {error}");
            assert!(error.to_string().starts_with("key name"), "{error}");
        }
    }

    #[test]
    fn deserialising_applies_the_same_rules() {
        assert!(serde_json::from_str::<RegistryName>("\"ok\"").is_ok());
        assert!(serde_json::from_str::<RegistryName>("\"../etc\"").is_err());
    }
}
