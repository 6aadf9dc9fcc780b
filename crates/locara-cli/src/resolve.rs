//! Choosing a release: `publisher/app[@REQ]`, the index's statuses, the cool-down, the minimum release age
//! and the revocation list decide which version an install or update takes.
//!
//! Rules (docs/client.md, "Which release is chosen"):
//! - `@1.2.3` (a whole version) means exactly that version; anything else is a semver requirement
//!   (`@1`, `@1.2`, `@^1.2`, `@~1.2.3`, `@>=1.2, <2`); no `@` means the newest.
//! - Never chosen: yanked (except from a lockfile), revoked, cancelled, or listed in the revocation list;
//!   cooling-down before its end; younger than the minimum release age.
//! - Pre-releases only when the requirement names one (semver's rule).
//! - Of what is left, the highest version wins. Each release passed over is reported with its reason, so
//!   "nothing to install" always says why.

use std::fmt;
use std::str::FromStr;

use locara_core::names::AppName;
use locara_core::time::Timestamp;
use locara_core::version::Version;

/// What the user asked for: an app and, optionally, which versions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRequest {
    /// The app.
    pub app: AppName,
    /// The versions wanted.
    pub wanted: Wanted,
}

/// Which versions a request allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wanted {
    /// The newest allowed release.
    Newest,
    /// Exactly this version.
    Exact(Version),
    /// Any version matching the requirement.
    Matching(semver::VersionReq),
}

impl Wanted {
    /// Whether `version` is wanted.
    pub fn matches(&self, version: &Version) -> bool {
        match self {
            Wanted::Newest => version.semver().pre.is_empty(),
            Wanted::Exact(exact) => exact == version,
            Wanted::Matching(requirement) => requirement.matches(version.semver()),
        }
    }
}

impl fmt::Display for AppRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.wanted {
            Wanted::Newest => write!(f, "{}", self.app),
            Wanted::Exact(version) => write!(f, "{}@{version}", self.app),
            Wanted::Matching(requirement) => write!(f, "{}@{requirement}", self.app),
        }
    }
}

/// Why an app request did not parse.
#[derive(Debug, thiserror::Error)]
pub enum RequestError {
    /// The name part.
    #[error("{found:?} is not an app name ({reason}); write publisher/app, optionally @VERSION")]
    Name {
        /// What was given.
        found: String,
        /// Why it is not a name.
        reason: String,
    },
    /// The version part.
    #[error(
        "{found:?} after @ is neither a version nor a version requirement ({reason}); write for example @1.2.3, @1.2 or @>=1.2, <2"
    )]
    Version {
        /// What was given.
        found: String,
        /// Why it does not parse.
        reason: String,
    },
}

impl FromStr for AppRequest {
    type Err = RequestError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (name, wanted) = match text.split_once('@') {
            Some((name, wanted)) => (name, Some(wanted.trim())),
            None => (text, None),
        };
        let app: AppName = name
            .parse()
            .map_err(|error: locara_core::names::NameError| RequestError::Name {
                found: name.to_owned(),
                reason: error.to_string(),
            })?;
        let wanted = match wanted {
            None => Wanted::Newest,
            Some(text) => match text.parse::<Version>() {
                Ok(version) => Wanted::Exact(version),
                Err(_) => Wanted::Matching(semver::VersionReq::parse(text).map_err(|error| {
                    RequestError::Version {
                        found: text.to_owned(),
                        reason: error.to_string(),
                    }
                })?),
            },
        };
        Ok(Self { app, wanted })
    }
}

/// One release as resolution sees it.
#[derive(Debug, Clone)]
pub struct Offer {
    /// The version.
    pub version: Version,
    /// The index's status word.
    pub status: String,
    /// When the log recorded it.
    pub published_at: Timestamp,
    /// When its cool-down ends (equal to or before `published_at` when it had none).
    pub available_at: Timestamp,
    /// Why the revocation list revokes it, if it does.
    pub revoked: Option<String>,
}

/// Why a release was passed over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PassedOver {
    /// Not what the request asks for.
    NotWanted,
    /// Yanked by its publisher.
    Yanked,
    /// Revoked (by status or by the revocation list).
    Revoked(String),
    /// Cancelled while cooling down.
    Cancelled,
    /// Still cooling down.
    CoolingDown {
        /// When it ends.
        until: Timestamp,
    },
    /// Younger than the minimum release age.
    TooYoung {
        /// When it becomes old enough.
        until: Timestamp,
    },
    /// A status this client does not know.
    UnknownStatus(String),
}

impl fmt::Display for PassedOver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PassedOver::NotWanted => f.write_str("not what was asked for"),
            PassedOver::Yanked => f.write_str("yanked by its publisher"),
            PassedOver::Revoked(reason) => write!(f, "revoked ({reason})"),
            PassedOver::Cancelled => f.write_str("cancelled by its publisher"),
            PassedOver::CoolingDown { until } => write!(
                f,
                "cooling down until {until} (it asks for more than the release before it)"
            ),
            PassedOver::TooYoung { until } => write!(
                f,
                "younger than the minimum release age until {until} (use --min-age 0 to take it now)"
            ),
            PassedOver::UnknownStatus(status) => {
                write!(f, "status {status:?} unknown to this client")
            }
        }
    }
}

/// How resolution treats yanked releases and ages.
#[derive(Debug, Clone, Copy)]
pub struct Rules {
    /// The time now.
    pub now: Timestamp,
    /// The minimum release age, in seconds.
    pub min_age_seconds: u64,
    /// Whether yanked releases may be chosen (only for a lockfile's exact version).
    pub allow_yanked: bool,
}

/// The outcome: the chosen offer's position, and every release passed over with its reason.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The position in the offers of the chosen release, if any.
    pub chosen: Option<usize>,
    /// Each release newer than the chosen one (or every one, if none was chosen) that was passed over
    /// for a reason other than not being wanted.
    pub passed_over: Vec<(Version, PassedOver)>,
}

/// Why one offer cannot be chosen, or `None` if it can.
pub fn judge(offer: &Offer, wanted: &Wanted, rules: &Rules) -> Option<PassedOver> {
    if !wanted.matches(&offer.version) {
        return Some(PassedOver::NotWanted);
    }
    if let Some(reason) = &offer.revoked {
        return Some(PassedOver::Revoked(reason.clone()));
    }
    match offer.status.as_str() {
        "available" | "deprecated" | "cooling-down" => {}
        "yanked" if rules.allow_yanked => {}
        "yanked" => return Some(PassedOver::Yanked),
        "revoked" => return Some(PassedOver::Revoked("status revoked".to_owned())),
        "cancelled" => return Some(PassedOver::Cancelled),
        other => return Some(PassedOver::UnknownStatus(other.to_owned())),
    }
    if offer.available_at > rules.now {
        return Some(PassedOver::CoolingDown {
            until: offer.available_at,
        });
    }
    let old_enough = offer
        .published_at
        .checked_add_seconds(rules.min_age_seconds)
        .unwrap_or(offer.published_at);
    if rules.min_age_seconds > 0 && old_enough > rules.now {
        return Some(PassedOver::TooYoung { until: old_enough });
    }
    None
}

/// Chooses the highest offer `wanted` allows under `rules`.
pub fn resolve(offers: &[Offer], wanted: &Wanted, rules: &Rules) -> Resolution {
    let mut order: Vec<usize> = (0..offers.len()).collect();
    order.sort_by(|&a, &b| {
        offers[b]
            .version
            .semver()
            .cmp_precedence(offers[a].version.semver())
    });
    let mut passed_over = Vec::new();
    for position in order {
        let offer = &offers[position];
        match judge(offer, wanted, rules) {
            None => {
                return Resolution {
                    chosen: Some(position),
                    passed_over,
                };
            }
            Some(PassedOver::NotWanted) => {}
            Some(reason) => passed_over.push((offer.version.clone(), reason)),
        }
    }
    Resolution {
        chosen: None,
        passed_over,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: u64) -> Timestamp {
        Timestamp::from_unix_seconds(seconds).unwrap()
    }

    fn offer(version: &str, status: &str, published: u64, available: u64) -> Offer {
        Offer {
            version: version.parse().unwrap(),
            status: status.to_owned(),
            published_at: at(published),
            available_at: at(available),
            revoked: None,
        }
    }

    const DAY: u64 = 86_400;
    const NOW: u64 = 1_800_000_000;

    fn rules(min_age: u64) -> Rules {
        Rules {
            now: at(NOW),
            min_age_seconds: min_age,
            allow_yanked: false,
        }
    }

    fn chosen(offers: &[Offer], wanted: &str, rules: Rules) -> Option<String> {
        let request: AppRequest = format!("acme/notes{wanted}").parse().unwrap();
        resolve(offers, &request.wanted, &rules)
            .chosen
            .map(|position| offers[position].version.to_string())
    }

    #[test]
    fn requests_parse_exact_versions_requirements_and_refuse_nonsense() {
        let exact: AppRequest = "acme/notes@1.2.3".parse().unwrap();
        assert_eq!(exact.wanted, Wanted::Exact("1.2.3".parse().unwrap()));
        let range: AppRequest = "acme/notes@1.2".parse().unwrap();
        assert!(range.wanted.matches(&"1.9.0".parse().unwrap()));
        assert!(!range.wanted.matches(&"2.0.0".parse().unwrap()));
        assert!(!range.wanted.matches(&"1.1.0".parse().unwrap()));
        assert!(matches!(
            "acme/notes@banana".parse::<AppRequest>(),
            Err(RequestError::Version { .. })
        ));
        assert!(matches!(
            "Acme/Notes".parse::<AppRequest>(),
            Err(RequestError::Name { .. })
        ));
    }

    #[test]
    fn the_highest_allowed_release_wins_and_the_newer_ones_say_why_not() {
        let offers = [
            offer("1.0.0", "available", NOW - 10 * DAY, NOW - 10 * DAY),
            offer("1.1.0", "yanked", NOW - 9 * DAY, NOW - 9 * DAY),
            offer("1.2.0", "available", NOW - 2 * DAY, NOW - 2 * DAY),
            offer("1.3.0", "cooling-down", NOW - 3 * DAY, NOW + DAY),
            offer("1.4.0", "available", NOW - 3600, NOW - 3600),
            offer("2.0.0-beta.1", "available", NOW - 5 * DAY, NOW - 5 * DAY),
        ];
        let resolution = resolve(&offers, &Wanted::Newest, &rules(DAY));
        assert_eq!(
            offers[resolution.chosen.unwrap()].version.to_string(),
            "1.2.0"
        );
        let reasons: Vec<String> = resolution
            .passed_over
            .iter()
            .map(|(version, reason)| format!("{version}: {reason}"))
            .collect();
        assert_eq!(reasons.len(), 2, "{reasons:?}");
        assert!(reasons[0].starts_with("1.4.0: younger than"), "{reasons:?}");
        assert!(reasons[1].starts_with("1.3.0: cooling down"), "{reasons:?}");
        // With no minimum age the newest old-enough one is taken; the cooling-down one never is.
        assert_eq!(chosen(&offers, "", rules(0)).as_deref(), Some("1.4.0"));
        assert_eq!(chosen(&offers, "@1.3.0", rules(0)), None);
        // Yanked: not for a new resolution, but a lockfile's exact version may take it.
        assert_eq!(chosen(&offers, "@1.1.0", rules(0)), None);
        let mut locked = rules(0);
        locked.allow_yanked = true;
        assert_eq!(chosen(&offers, "@1.1.0", locked).as_deref(), Some("1.1.0"));
        // A pre-release only when asked for.
        assert_eq!(
            chosen(&offers, "@2.0.0-beta.1", rules(0)).as_deref(),
            Some("2.0.0-beta.1")
        );
    }

    #[test]
    fn revoked_and_unknown_statuses_are_never_chosen() {
        let mut revoked = offer("1.0.0", "available", NOW - 10 * DAY, NOW - 10 * DAY);
        revoked.revoked = Some("malware".to_owned());
        let offers = [
            revoked,
            offer("1.0.1", "revoked", NOW - 10 * DAY, NOW - 10 * DAY),
            offer(
                "1.0.2",
                "quarantined-by-martians",
                NOW - 10 * DAY,
                NOW - 10 * DAY,
            ),
            offer("1.0.3", "cancelled", NOW - 10 * DAY, NOW - 10 * DAY),
        ];
        let mut locked = rules(0);
        locked.allow_yanked = true;
        let resolution = resolve(&offers, &Wanted::Newest, &locked);
        assert_eq!(resolution.chosen, None);
        assert_eq!(resolution.passed_over.len(), 4);
    }
}
