//! The limits the OpenAPI document states for request values, as named schemas with patterns and
//! lengths.
//!
//! Each one restates a rule that a check elsewhere enforces (the core's names module, the search and
//! token-name rules, the release-note rule), so that a request the document calls valid is not refused
//! for its shape. Patterns are ECMA-262, as OpenAPI asks; `tests/openapi_conformance.rs` holds them, read
//! by Python's `re` as the conformance run reads them, to the checks they restate. These types only
//! describe: handlers take the plain strings and parse them with the core's types.

use utoipa::ToSchema;

/// A publisher name, username or the app part of an app name: 2 to 64 of `a-z`, `0-9` and `-`, starting
/// with a letter, not ending with `-`, without `--` (`locara_core::names`).
#[derive(ToSchema)]
#[schema(
    pattern = r"^[a-z](?:[a-z0-9]|-(?!-)){0,62}[a-z0-9]$",
    min_length = 2,
    max_length = 64
)]
pub struct Name(pub String);

/// An app name, `publisher/app`, each part a [`Name`].
#[derive(ToSchema)]
#[schema(
    pattern = r"^[a-z](?:[a-z0-9]|-(?!-)){0,62}[a-z0-9]/[a-z](?:[a-z0-9]|-(?!-)){0,62}[a-z0-9]$",
    min_length = 5,
    max_length = 129
)]
pub struct AppName(pub String);

/// 1 to 64 characters without control characters (Unicode `Cc`), not only spaces: search text and
/// token names.
#[derive(ToSchema)]
#[schema(
    pattern = r"^[^\x00-\x1f\x7f-\x9f]*[^\s\x00-\x1f\x7f-\x9f][^\x00-\x1f\x7f-\x9f]*$",
    min_length = 1,
    max_length = 64
)]
pub struct ShortText(pub String);

/// A release note (a yank reason or a deprecation message): 1 to 500 characters, not only spaces, no
/// control characters and none of the invisible direction marks (`locara_core::events::check_release_note`).
#[derive(ToSchema)]
#[schema(
    pattern = r"^[^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*[^\s\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069][^\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]*$",
    min_length = 1,
    max_length = 500
)]
pub struct ReleaseNote(pub String);

/// A domain as the DNS verification accepts it: labels of 1 to 63 ASCII letters, digits and `-` (not at
/// either end), at least two, the last not all digits, at most 253 characters (`crate::dns`).
#[derive(ToSchema)]
#[schema(
    pattern = r"^(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+(?![0-9]+\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$",
    min_length = 3,
    max_length = 253
)]
pub struct Domain(pub String);
