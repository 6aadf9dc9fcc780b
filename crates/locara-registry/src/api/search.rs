//! Finding apps: `GET /api/v1/search?q=TEXT&limit=N`, no sign-in needed.
//!
//! An app matches when its name (`publisher/app`) or the `description` in the manifest of its latest
//! installable release (available, deprecated, or past its cool-down) contains the text, compared
//! case-insensitively. Results come exact name matches first, then other name matches, then description
//! matches, each group by name. Search reads the database, not the signed index: it is a convenience for
//! finding names, and clients verify whatever they then install.

use std::sync::Arc;

use axum::Json;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use locara_core::manifest::Manifest;
use locara_store::records::AppListing;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::caller::now;
use super::limits;
use super::problem::{self, ApiResult, Problem};
use super::publishers::{VerificationView, verification_view};
use crate::http::AppState;

/// The longest search text, in characters.
pub const MAX_QUERY_CHARS: usize = 64;
/// How many results a search gives when not told.
pub const DEFAULT_LIMIT: u32 = 20;
/// The most results a search gives.
pub const MAX_LIMIT: u32 = 100;

/// What to look for.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SearchQuery {
    /// The text: 1 to 64 characters, no control characters, not only spaces; surrounding spaces are
    /// ignored.
    #[param(value_type = limits::ShortText)]
    pub q: String,
    /// At most this many results: 1 to 100, default 20.
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
}

/// An app that matched.
#[derive(Serialize, ToSchema)]
pub struct SearchResult {
    /// `publisher/app`.
    pub name: String,
    /// The publisher.
    pub publisher: String,
    /// How the publisher proved who it is; `null` if it has not.
    pub verification: Option<VerificationView>,
    /// The `description` of the latest installable release's manifest; `null` without one.
    pub description: Option<String>,
    /// The latest installable version (not yanked, revoked, cancelled or cooling down); `null` without one.
    pub latest_version: Option<String>,
    /// The app's source repository.
    pub repository: String,
}

/// How well a listing matched, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Rank {
    /// The text is the whole name, or the app part of it.
    ExactName,
    /// The name contains the text.
    Name,
    /// The description contains the text.
    Description,
}

/// The checked, case-folded search text.
fn parse_query(query: &SearchQuery) -> ApiResult<(String, u32)> {
    let text = query.q.trim();
    let length = query.q.chars().count();
    if text.is_empty() || length > MAX_QUERY_CHARS {
        return Err(Problem::invalid(format!(
            "q is {length} characters long{}; search for 1 to {MAX_QUERY_CHARS}",
            if text.is_empty() && length > 0 {
                ", all spaces"
            } else {
                ""
            }
        )));
    }
    if let Some(bad) = query.q.chars().find(|c| c.is_control()) {
        return Err(Problem::invalid(format!(
            "q has the control character {bad:?}; search for plain text"
        )));
    }
    let limit = query.limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(Problem::invalid(format!(
            "limit is {limit}; ask for 1 to {MAX_LIMIT} results"
        )));
    }
    Ok((text.to_lowercase(), limit))
}

/// Ranks `listing` for the folded text `needle`, or `None` when it does not match.
fn rank(listing: &AppListing, description: Option<&str>, needle: &str) -> Option<Rank> {
    let name = listing.app.name.to_lowercase();
    let app_part = name.split_once('/').map_or(name.as_str(), |(_, app)| app);
    if name == needle || app_part == needle {
        Some(Rank::ExactName)
    } else if name.contains(needle) {
        Some(Rank::Name)
    } else if description.is_some_and(|text| text.to_lowercase().contains(needle)) {
        Some(Rank::Description)
    } else {
        None
    }
}

/// Apps whose name or latest description contains `q` (no sign-in needed).
#[utoipa::path(get, path = "/api/v1/search", tag = "search", params(SearchQuery),
    responses((status = 200, body = Vec<SearchResult>), (status = 400, response = problem::InvalidRequest)))]
pub async fn search(
    State(state): State<Arc<AppState>>,
    query: Result<Query<SearchQuery>, QueryRejection>,
) -> ApiResult<Json<Vec<SearchResult>>> {
    let Query(query) = query.map_err(|rejection| {
        Problem::invalid(format!(
            "{}; search with ?q=TEXT and optionally &limit=N",
            rejection.body_text()
        ))
    })?;
    let (needle, limit) = parse_query(&query)?;
    // The store narrows by comparing raw manifest text with ASCII case folding; text it could miss that
    // way (non-ASCII, or characters TOML escapes) is matched here over every app instead.
    let store_needle = (needle.is_ascii() && !needle.contains(['"', '\\'])).then_some(&*needle);
    let listings = state.metadata.app_listings(store_needle, now()).await?;
    let mut found: Vec<(Rank, SearchResult)> = listings
        .into_iter()
        .filter_map(|listing| {
            let description = listing
                .latest
                .as_ref()
                .and_then(|release| Manifest::parse(&release.manifest).ok())
                .map(|manifest| manifest.app().description().to_owned());
            let rank = rank(&listing, description.as_deref(), &needle)?;
            Some((
                rank,
                SearchResult {
                    publisher: listing.publisher.name.clone(),
                    verification: listing
                        .publisher
                        .verification
                        .as_ref()
                        .map(verification_view),
                    description,
                    latest_version: listing.latest.map(|release| release.version),
                    repository: listing.app.repository,
                    name: listing.app.name,
                },
            ))
        })
        .collect();
    found.sort_by(|(rank_a, a), (rank_b, b)| rank_a.cmp(rank_b).then_with(|| a.name.cmp(&b.name)));
    Ok(Json(
        found
            .into_iter()
            .take(limit as usize)
            .map(|(_, result)| result)
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(q: &str, limit: Option<u32>) -> SearchQuery {
        SearchQuery {
            q: q.to_owned(),
            limit,
        }
    }

    #[test]
    fn queries_are_one_to_64_printable_characters_and_limits_one_to_100() {
        assert_eq!(
            parse_query(&query("  Notes ", None)).unwrap(),
            ("notes".to_owned(), DEFAULT_LIMIT)
        );
        assert_eq!(parse_query(&query("é", Some(100))).unwrap().1, 100);
        assert!(parse_query(&query(&"x".repeat(64), None)).is_ok());
        for bad in [
            query("", None),
            query("   ", None),
            query(&"x".repeat(65), None),
            query("a\u{1b}b", None),
            query("\tnotes", None),
            query(&format!(" {}", "x".repeat(64)), None),
            query("notes", Some(0)),
            query("notes", Some(101)),
        ] {
            assert!(parse_query(&bad).is_err(), "{:?} {:?}", bad.q, bad.limit);
        }
    }
}
