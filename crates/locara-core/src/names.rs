//! Publisher and app names.
//!
//! An app is named `publisher/app`. Each part is 2–64 characters of lowercase ASCII letters, digits and
//! `-`, starts with a letter, does not end with `-` and has no `--`. The last two rules are Locara's own
//! (DESIGN §3 is silent): they keep names readable and remove a cheap source of look-alikes.
//!
//! Invariant: a [`PublisherName`], [`AppSlug`] or [`AppName`] always holds a valid name.
//!
//! Collision checks work on raw strings, so a registry can explain why an attempted name that is not even
//! valid (such as `acme/nоtes` with a Cyrillic `о`) collides with an existing one. [`canonical`] folds
//! compatibility forms, case, TR39 confusables and the separators `-`, `_`, `.` (ADR 0010);
//! [`check_collision`] refuses a name with the same canonical form as an existing one, or one within a
//! small edit distance of a name of another publisher (ADR 0011).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use unicode_normalization::UnicodeNormalization;

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

/// The canonical form of a raw name, used only to compare names for collisions.
///
/// Steps: NFKC; the Unicode TR39 confusable skeleton, then lowercase, done twice (the skeleton maps some
/// characters to capitals, such as digit `0` to `O`, and capitals to look-alikes, such as `I` to `l`);
/// then `-`, `_` and `.` removed. The result is only for comparison and is never shown as a name.
pub fn canonical(raw: &str) -> String {
    let mut folded: String = raw.nfkc().collect();
    for _ in 0..2 {
        folded = unicode_security::skeleton(&folded)
            .collect::<String>()
            .to_lowercase();
    }
    folded
        .chars()
        .filter(|c| !matches!(c, '-' | '_' | '.'))
        .collect()
}

/// The largest edit distance at which two canonical names of this length (in characters) still collide.
///
/// Length 0–4: 0 (only identical canonical forms); 5–8: 1; 9 or more: 2.
pub fn edit_distance_threshold(canonical_length: usize) -> usize {
    match canonical_length {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

/// Which parts of two names an edit-distance collision compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compared {
    /// Only the app parts (after `/`), across publishers.
    Slug,
    /// The full `publisher/app` names.
    FullName,
    /// Two publisher names.
    Publisher,
}

/// Why a candidate name collides with an existing one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CollisionReason {
    /// Both names have the same canonical form.
    SameCanonicalForm {
        /// The shared canonical form.
        canonical: String,
    },
    /// The canonical forms are within the edit-distance limit and the publishers differ.
    EditDistance {
        /// The Damerau-Levenshtein distance between the canonical forms.
        distance: usize,
        /// The largest distance that still collides, for the shorter form's length.
        threshold: usize,
        /// Whether the app parts or the full names were compared.
        compared: Compared,
    },
}

/// A candidate name that is refused because it is too close to an existing name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Collision {
    /// The name that was attempted, as given.
    pub candidate: String,
    /// The existing name it collides with: `publisher/app`, or a publisher name.
    pub existing: String,
    /// Why it collides.
    pub reason: CollisionReason,
}

impl fmt::Display for Collision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.reason {
            CollisionReason::SameCanonicalForm { canonical } => write!(
                f,
                "`{}` looks the same as the existing name `{}` (both read as `{canonical}` once case, separators and look-alike characters are folded); choose a clearly different name",
                self.candidate, self.existing
            ),
            CollisionReason::EditDistance {
                distance: 0,
                compared: Compared::Slug,
                ..
            } => write!(
                f,
                "`{}` is too close to `{}` (the same app name under another publisher); choose a clearly different name",
                self.candidate, self.existing
            ),
            CollisionReason::EditDistance {
                distance,
                threshold,
                ..
            } => write!(
                f,
                "`{}` is too close to `{}` (edit distance {distance}, limit {threshold} for names of this length); choose a clearly different name",
                self.candidate, self.existing
            ),
        }
    }
}

fn split_raw(raw: &str) -> (&str, &str) {
    raw.split_once('/').unwrap_or(("", raw))
}

/// Refuses `candidate` if its canonical form equals that of any `existing` name (including itself).
pub fn check_canonical_collision<'a>(
    candidate: &str,
    existing: impl IntoIterator<Item = &'a AppName>,
) -> Result<(), Collision> {
    let canonical_candidate = canonical(candidate);
    for name in existing {
        if canonical(&name.to_string()) == canonical_candidate {
            return Err(Collision {
                candidate: candidate.to_owned(),
                existing: name.to_string(),
                reason: CollisionReason::SameCanonicalForm {
                    canonical: canonical_candidate,
                },
            });
        }
    }
    Ok(())
}

/// The largest edit distance at which two canonical publisher names of this length still collide.
///
/// Length 0–3: 0 (only identical canonical forms); 4–8: 1; 9 or more: 2. One step stricter than
/// [`edit_distance_threshold`] for four-letter names: a publisher name is compared alone, not inside a
/// longer `publisher/app`, and short brand names (`acme`) are the ones impersonated (ADR 0015).
pub fn publisher_edit_distance_threshold(canonical_length: usize) -> usize {
    match canonical_length {
        0..=3 => 0,
        4..=8 => 1,
        _ => 2,
    }
}

fn within_threshold(a: &str, b: &str) -> Option<(usize, usize)> {
    within(a, b, edit_distance_threshold)
}

fn within(a: &str, b: &str, threshold_for: fn(usize) -> usize) -> Option<(usize, usize)> {
    let length = a.chars().count().min(b.chars().count());
    let threshold = threshold_for(length);
    let distance = strsim::damerau_levenshtein(a, b);
    (distance <= threshold).then_some((distance, threshold))
}

/// Refuses `candidate` if it is a likely typosquat of a `popular` name of another publisher.
///
/// The candidate's publisher is the part of the raw string before the first `/`; names of the same
/// publisher (compared exactly) are exempt. For every other name, both the app parts and the full names
/// are compared, on canonical forms, by Damerau-Levenshtein distance against
/// [`edit_distance_threshold`] of the shorter form. Comparing app parts alone catches the usual typosquat
/// (a popular app copied under a new publisher); comparing full names catches a typo spread over both.
pub fn check_typosquat<'a>(
    candidate: &str,
    popular: impl IntoIterator<Item = &'a AppName>,
) -> Result<(), Collision> {
    let (candidate_publisher, candidate_slug) = split_raw(candidate);
    let canonical_full = canonical(candidate);
    let canonical_slug = canonical(candidate_slug);
    for name in popular {
        if name.publisher().as_str() == candidate_publisher {
            continue;
        }
        let comparisons = [
            (
                Compared::Slug,
                canonical_slug.as_str(),
                canonical(name.slug().as_str()),
            ),
            (
                Compared::FullName,
                canonical_full.as_str(),
                canonical(&name.to_string()),
            ),
        ];
        for (compared, mine, theirs) in comparisons {
            if let Some((distance, threshold)) = within_threshold(mine, &theirs) {
                return Err(Collision {
                    candidate: candidate.to_owned(),
                    existing: name.to_string(),
                    reason: CollisionReason::EditDistance {
                        distance,
                        threshold,
                        compared,
                    },
                });
            }
        }
    }
    Ok(())
}

/// Refuses a new publisher name `candidate` that is a likely look-alike of one of the `verified`
/// publishers: the same Damerau-Levenshtein rule on canonical forms as [`check_typosquat`], with
/// [`publisher_edit_distance_threshold`]. A verified publisher with exactly the candidate's name is
/// skipped (a publisher is not its own look-alike); identical canonical forms are refused earlier, by the
/// canonical-form check every publisher name gets.
pub fn check_publisher_typosquat<'a>(
    candidate: &str,
    verified: impl IntoIterator<Item = &'a PublisherName>,
) -> Result<(), Collision> {
    let canonical_candidate = canonical(candidate);
    for name in verified {
        if name.as_str() == candidate {
            continue;
        }
        let theirs = canonical(name.as_str());
        if let Some((distance, threshold)) = within(
            &canonical_candidate,
            &theirs,
            publisher_edit_distance_threshold,
        ) {
            return Err(Collision {
                candidate: candidate.to_owned(),
                existing: name.to_string(),
                reason: CollisionReason::EditDistance {
                    distance,
                    threshold,
                    compared: Compared::Publisher,
                },
            });
        }
    }
    Ok(())
}

/// Refuses `candidate` if it has the canonical form of any `existing` name, or is a typosquat of one.
///
/// Both rules are applied to the same list; a registry that distinguishes "all names" from "popular names"
/// calls [`check_canonical_collision`] and [`check_typosquat`] separately.
pub fn check_collision<'a, I>(candidate: &str, existing: I) -> Result<(), Collision>
where
    I: IntoIterator<Item = &'a AppName>,
    I::IntoIter: Clone,
{
    let existing = existing.into_iter();
    check_canonical_collision(candidate, existing.clone())?;
    check_typosquat(candidate, existing)
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
    fn publisher_look_alikes_of_verified_publishers_are_refused_naming_the_original() {
        let verified: Vec<PublisherName> = ["acme", "contoso-labs", "ivy"]
            .iter()
            .map(|name| name.parse().unwrap())
            .collect();
        for (candidate, original, distance) in [
            ("acmee", "acme", 1),
            ("acme1", "acme", 1),
            ("acne", "acme", 1),
            ("came", "acme", 1),
            ("contoso-lab", "contoso-labs", 1),
            ("contosolabz", "contoso-labs", 1),
            ("kontoso-lab", "contoso-labs", 2),
        ] {
            let found = check_publisher_typosquat(candidate, &verified).expect_err(candidate);
            assert_eq!(found.existing, original, "{candidate}");
            assert_eq!(
                found.reason,
                CollisionReason::EditDistance {
                    distance,
                    threshold: publisher_edit_distance_threshold(
                        canonical(candidate).len().min(canonical(original).len())
                    ),
                    compared: Compared::Publisher,
                },
                "{candidate}"
            );
            let message = found.to_string();
            assert!(
                message.contains(&format!("`{original}`")) && message.contains(candidate),
                "{message}"
            );
        }
        // Clearly different names, neighbours of a three-letter name, and the publisher itself pass.
        for candidate in ["acmecorp", "zenith", "ivo", "iva", "acme", "contoso-labs"] {
            assert_eq!(
                check_publisher_typosquat(candidate, &verified),
                Ok(()),
                "{candidate}"
            );
        }
        assert_eq!(check_publisher_typosquat("acmee", &[]), Ok(()));
    }

    #[test]
    fn serde_validates() {
        let name: AppName = serde_json::from_str("\"acme/notes\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"acme/notes\"");
        assert!(serde_json::from_str::<AppName>("\"Acme/notes\"").is_err());
    }
}
