//! A release after it was recorded, and finding apps: yanking and deprecating releases, and searching the
//! registry's apps, as typed calls over [`ApiClient`]; no prompting or printing happens here.
//!
//! Invariants: a yank or deprecation is sent with a fresh one-time code when one is given (the registry
//! asks for one even with a token); the registry checks everything else first (membership, scope, the
//! note with `locara_core::events::check_release_note`, the release's state), so a refused request never
//! spends the code. Responses are decoded leniently (members this client does not know are ignored)
//! but every name and version in them is parsed with the core's rules, so a malformed answer is refused,
//! not shown.

use locara_core::names::{AppName, PublisherName};
use locara_core::version::Version;
use reqwest::Method;
use serde::{Deserialize, Serialize};

use crate::api::{ApiClient, ApiError};
use crate::publisher::Verification;
use crate::release::ReleaseRecord;
use crate::second_factor::OneTimeCode;

/// The longest search text, in characters (the registry refuses longer ones).
pub const MAX_QUERY_CHARS: usize = 64;
/// The most results one search returns.
pub const MAX_SEARCH_LIMIT: u32 = 100;

/// An app a search found.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SearchResult {
    /// `publisher/app`.
    pub name: AppName,
    /// The publisher.
    pub publisher: PublisherName,
    /// How the publisher proved who it is; `None` for an unverified publisher.
    #[serde(default)]
    pub verification: Option<Verification>,
    /// The description in the latest installable release's manifest.
    #[serde(default)]
    pub description: Option<String>,
    /// The latest installable version (not yanked, revoked, cancelled or cooling down).
    #[serde(default)]
    pub latest_version: Option<Version>,
    /// The app's source repository.
    pub repository: String,
}

#[derive(Serialize)]
struct YankBody<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

#[derive(Serialize)]
struct DeprecateBody<'a> {
    message: &'a str,
}

fn release_path(app: &AppName, version: &Version, action: &str) -> String {
    format!(
        "api/v1/apps/{}/{}/releases/{version}/{action}",
        app.publisher(),
        app.slug()
    )
}

/// `POST /api/v1/apps/{publisher}/{app}/releases/{version}/yank`: no new resolution picks the release;
/// installed copies and lockfiles that name it keep working. Needs membership of the publisher, a `yank`
/// token (or a login session) and a fresh code; `reason` is recorded in the transparency log.
pub async fn yank(
    client: &ApiClient,
    app: &AppName,
    version: &Version,
    reason: Option<&str>,
    otp: Option<&OneTimeCode>,
) -> Result<ReleaseRecord, ApiError> {
    client
        .send_json_with_otp(
            Method::POST,
            &release_path(app, version, "yank"),
            Some(&YankBody { reason }),
            otp,
        )
        .await
}

/// `POST /api/v1/apps/{publisher}/{app}/releases/{version}/deprecate`: the release stays installable and
/// clients show `message` on install and in `locara list`. Needs membership of the publisher, a `yank`
/// token (or a login session) and a fresh code.
pub async fn deprecate(
    client: &ApiClient,
    app: &AppName,
    version: &Version,
    message: &str,
    otp: Option<&OneTimeCode>,
) -> Result<ReleaseRecord, ApiError> {
    client
        .send_json_with_otp(
            Method::POST,
            &release_path(app, version, "deprecate"),
            Some(&DeprecateBody { message }),
            otp,
        )
        .await
}

/// `GET /api/v1/search?q=…&limit=…`: apps whose name or description contains `query` (1 to
/// [`MAX_QUERY_CHARS`] characters, case-insensitive), best matches first, at most `limit` (1 to
/// [`MAX_SEARCH_LIMIT`]). Needs no sign-in.
pub async fn search(
    client: &ApiClient,
    query: &str,
    limit: u32,
) -> Result<Vec<SearchResult>, ApiError> {
    client
        .get_json(&format!(
            "api/v1/search?q={}&limit={limit}",
            percent_encode(query)
        ))
        .await
}

/// `text` with everything but unreserved characters (RFC 3986) percent-encoded, for a query value.
fn percent_encode(text: &str) -> String {
    let mut encoded = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

#[cfg(test)]
mod tests {
    use super::*;

    const RESULT: &str = r#"{"name":"acme/notes","publisher":"acme",
        "verification":{"method":"dns","subject":"acme.example","verified_at":"2026-01-01T00:00:00Z"},
        "description":"Searches notes","latest_version":"1.4.0","repository":"https://git.example/acme/notes",
        "stars":12}"#;

    #[test]
    fn a_search_result_decodes_with_typed_fields_and_ignores_new_members() {
        let result: SearchResult = serde_json::from_str(RESULT).unwrap();
        assert_eq!(result.name.to_string(), "acme/notes");
        assert_eq!(result.latest_version.unwrap().to_string(), "1.4.0");
        assert_eq!(result.verification.unwrap().method, "dns");
        let bare: SearchResult = serde_json::from_str(
            r#"{"name":"acme/notes","publisher":"acme","verification":null,"description":null,
                "latest_version":null,"repository":"https://git.example/acme/notes"}"#,
        )
        .unwrap();
        assert!(bare.verification.is_none() && bare.latest_version.is_none());
    }

    #[test]
    fn a_search_result_with_a_malformed_name_or_version_is_refused() {
        for bad in [
            RESULT.replace("\"acme/notes\"", "\"Acme Notes\""),
            RESULT.replace("\"1.4.0\"", "\"latest\""),
        ] {
            assert!(serde_json::from_str::<SearchResult>(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn queries_are_percent_encoded() {
        assert_eq!(percent_encode("notes"), "notes");
        assert_eq!(percent_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
    }

    #[test]
    fn a_yank_without_a_reason_sends_an_empty_object() {
        let body = serde_json::to_string(&YankBody { reason: None }).unwrap();
        assert_eq!(body, "{}");
        let body = serde_json::to_string(&YankBody {
            reason: Some("leaks"),
        })
        .unwrap();
        assert_eq!(body, r#"{"reason":"leaks"}"#);
        let path = release_path(
            &"acme/notes".parse().unwrap(),
            &"1.0.0".parse().unwrap(),
            "yank",
        );
        assert_eq!(path, "api/v1/apps/acme/notes/releases/1.0.0/yank");
    }
}
