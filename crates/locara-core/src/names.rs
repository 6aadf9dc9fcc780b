//! Publisher and app names.
//!
//! An app is named `publisher/app`. Each part is 2–64 characters of lowercase ASCII letters, digits and
//! `-`, starts with a letter, does not end with `-` and has no `--`. The last two rules are Locara's own
//! (DESIGN §3 is silent): they keep names readable and remove a cheap source of look-alikes.
//!
//! Invariant: a [`PublisherName`], [`AppSlug`] or [`AppName`] always holds a valid name.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The shortest allowed name part.
pub const MIN_PART_LEN: usize = 2;
/// The longest allowed name part.
pub const MAX_PART_LEN: usize = 64;

/// Why a string is not a valid name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// The part is shorter or longer than allowed.
    #[error(
        "{kind} {found:?} is {length} characters long; it must be {MIN_PART_LEN} to {MAX_PART_LEN}"
    )]
    Length {
        /// Which part of the name (`publisher name`, `app name`).
        kind: &'static str,
        /// The offending part.
        found: String,
        /// Its length in characters.
        length: usize,
    },
    /// The part does not start with a letter.
    #[error("{kind} {found:?} must start with a lowercase letter a-z")]
    Start {
        /// Which part of the name.
        kind: &'static str,
        /// The offending part.
        found: String,
    },
    /// The part holds a character outside `a-z`, `0-9` and `-`.
    #[error(
        "{kind} {found:?} has {character:?} at position {position}; only lowercase letters a-z, digits 0-9 and '-' are allowed"
    )]
    Character {
        /// Which part of the name.
        kind: &'static str,
        /// The offending part.
        found: String,
        /// The first character that is not allowed.
        character: char,
        /// Its 1-based position, counted in characters.
        position: usize,
    },
    /// The part ends with `-` or has `--`.
    #[error("{kind} {found:?} must not end with '-' or contain \"--\"")]
    Hyphens {
        /// Which part of the name.
        kind: &'static str,
        /// The offending part.
        found: String,
    },
    /// An app name is not of the form `publisher/app`.
    #[error(
        "app name {found:?} must have the form \"publisher/app\", for example \"acme/notes-search\""
    )]
    Shape {
        /// The string that was given.
        found: String,
    },
}

fn validate_part(kind: &'static str, text: &str) -> Result<(), NameError> {
    let length = text.chars().count();
    if !(MIN_PART_LEN..=MAX_PART_LEN).contains(&length) {
        return Err(NameError::Length {
            kind,
            found: text.to_owned(),
            length,
        });
    }
    if let Some((index, character)) = text
        .chars()
        .enumerate()
        .find(|(_, c)| !matches!(c, 'a'..='z' | '0'..='9' | '-'))
    {
        return Err(NameError::Character {
            kind,
            found: text.to_owned(),
            character,
            position: index + 1,
        });
    }
    if !text.starts_with(|c: char| c.is_ascii_lowercase()) {
        return Err(NameError::Start {
            kind,
            found: text.to_owned(),
        });
    }
    if text.ends_with('-') || text.contains("--") {
        return Err(NameError::Hyphens {
            kind,
            found: text.to_owned(),
        });
    }
    Ok(())
}

macro_rules! name_part {
    ($(#[$doc:meta])* $type:ident, $kind:literal) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $type(String);

        impl $type {
            /// The name as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $type {
            type Err = NameError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                validate_part($kind, s)?;
                Ok(Self(s.to_owned()))
            }
        }

        impl fmt::Display for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $type {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($type), self.0)
            }
        }

        impl AsRef<str> for $type {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl Serialize for $type {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $type {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                String::deserialize(deserializer)?
                    .parse()
                    .map_err(serde::de::Error::custom)
            }
        }
    };
}

name_part!(
    /// A publisher's name: the part before the `/` of an app name.
    PublisherName,
    "publisher name"
);
name_part!(
    /// An app's own name within its publisher: the part after the `/`.
    AppSlug,
    "app name"
);

/// A full app name, `publisher/app`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AppName {
    publisher: PublisherName,
    slug: AppSlug,
}

impl AppName {
    /// Joins a publisher and an app part.
    pub fn new(publisher: PublisherName, slug: AppSlug) -> Self {
        Self { publisher, slug }
    }

    /// The publisher part.
    pub fn publisher(&self) -> &PublisherName {
        &self.publisher
    }

    /// The app part.
    pub fn slug(&self) -> &AppSlug {
        &self.slug
    }
}

impl FromStr for AppName {
    type Err = NameError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let Some((publisher, slug)) = s.split_once('/') else {
            return Err(NameError::Shape {
                found: s.to_owned(),
            });
        };
        if slug.contains('/') {
            return Err(NameError::Shape {
                found: s.to_owned(),
            });
        }
        Ok(Self {
            publisher: publisher.parse()?,
            slug: slug.parse()?,
        })
    }
}

impl fmt::Display for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.publisher, self.slug)
    }
}

impl fmt::Debug for AppName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AppName({:?})", self.to_string())
    }
}

impl Serialize for AppName {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AppName {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_valid_names() {
        for name in ["acme/notes-search", "ab/c2", "a1-b2/x-y-z"] {
            let parsed: AppName = name.parse().unwrap();
            assert_eq!(parsed.to_string(), name);
        }
        let long = "a".repeat(MAX_PART_LEN);
        assert!(format!("{long}/{long}").parse::<AppName>().is_ok());
    }

    #[test]
    fn refuses_each_rule_with_its_own_error() {
        assert!(matches!(
            "a/notes".parse::<AppName>(),
            Err(NameError::Length { length: 1, .. })
        ));
        let long = "a".repeat(MAX_PART_LEN + 1);
        assert!(matches!(
            format!("acme/{long}").parse::<AppName>(),
            Err(NameError::Length { .. })
        ));
        assert!(matches!(
            "1acme/x1".parse::<AppName>(),
            Err(NameError::Start { .. })
        ));
        assert!(matches!(
            "-acme/x1".parse::<AppName>(),
            Err(NameError::Start { .. })
        ));
        assert!(matches!(
            "Acme/notes".parse::<AppName>(),
            Err(NameError::Character {
                character: 'A',
                position: 1,
                ..
            })
        ));
        assert!(matches!(
            "acme/notes_search".parse::<AppName>(),
            Err(NameError::Character {
                character: '_',
                position: 6,
                ..
            })
        ));
        assert!(matches!(
            "аcme/notes".parse::<AppName>(), // Cyrillic а
            Err(NameError::Character {
                character: 'а', ..
            })
        ));
        assert!(matches!(
            "acme-/notes".parse::<AppName>(),
            Err(NameError::Hyphens { .. })
        ));
        assert!(matches!(
            "acme/no--tes".parse::<AppName>(),
            Err(NameError::Hyphens { .. })
        ));
        assert!(matches!(
            "acme".parse::<AppName>(),
            Err(NameError::Shape { .. })
        ));
        assert!(matches!(
            "acme/x1/y1".parse::<AppName>(),
            Err(NameError::Shape { .. })
        ));
    }

    #[test]
    fn serde_validates() {
        let name: AppName = serde_json::from_str("\"acme/notes\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"acme/notes\"");
        assert!(serde_json::from_str::<AppName>("\"Acme/notes\"").is_err());
    }
}
