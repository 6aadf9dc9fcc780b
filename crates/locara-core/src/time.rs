//! Points in time as signed documents write them: `YYYY-MM-DDTHH:MM:SSZ`.
//!
//! A [`Timestamp`] is a whole number of seconds since the Unix epoch, in UTC, between
//! `1970-01-01T00:00:00Z` and `9999-12-31T23:59:59Z`. Its text form is exactly the RFC 3339 profile above:
//! upper-case `T` and `Z`, no fractional seconds, no offsets, no leap second (`:60`). One instant has one
//! spelling, so a timestamp inside a signed document cannot be re-written without breaking the signature.
//!
//! Invariant: a [`Timestamp`] always holds a value in that range; formatting then parsing returns it.
//!
//! The calendar conversion is Howard Hinnant's `days_from_civil` / `civil_from_days` (proleptic Gregorian).

use std::fmt;
use std::str::FromStr;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The latest representable instant, `9999-12-31T23:59:59Z`, in seconds since the epoch.
pub const MAX_UNIX_SECONDS: u64 = 253_402_300_799;

/// A UTC instant in whole seconds since the Unix epoch, written `YYYY-MM-DDTHH:MM:SSZ`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Timestamp(u64);

/// Why a string or number is not a [`Timestamp`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// The text is not of the form `YYYY-MM-DDTHH:MM:SSZ`.
    #[error(
        "timestamp {found:?} is not of the form YYYY-MM-DDTHH:MM:SSZ (UTC, whole seconds), for example \"2026-11-24T19:08:00Z\""
    )]
    Format {
        /// The text that was given.
        found: String,
    },
    /// A field is out of range (month 13, February 30, hour 24, second 60, …).
    #[error("timestamp {found:?} has an impossible {field} ({value})")]
    Field {
        /// The text that was given.
        found: String,
        /// Which field: `month`, `day`, `hour`, `minute` or `second`.
        field: &'static str,
        /// The value it held.
        value: u32,
    },
    /// The instant lies before 1970 or after 9999.
    #[error("timestamp {found:?} is outside 1970-01-01T00:00:00Z..=9999-12-31T23:59:59Z")]
    OutOfRange {
        /// The text or number that was given.
        found: String,
    },
}

impl Timestamp {
    /// The epoch itself, `1970-01-01T00:00:00Z`.
    pub const UNIX_EPOCH: Self = Self(0);

    /// The instant `seconds` after the epoch, if it is no later than 9999-12-31T23:59:59Z.
    pub fn from_unix_seconds(seconds: u64) -> Result<Self, TimestampError> {
        if seconds > MAX_UNIX_SECONDS {
            return Err(TimestampError::OutOfRange {
                found: seconds.to_string(),
            });
        }
        Ok(Self(seconds))
    }

    /// Seconds since the epoch.
    pub const fn unix_seconds(self) -> u64 {
        self.0
    }

    /// The current time from the system clock, truncated to whole seconds (epoch if the clock is earlier).
    pub fn now() -> Self {
        let seconds = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|elapsed| elapsed.as_secs())
            .unwrap_or(0);
        Self(seconds.min(MAX_UNIX_SECONDS))
    }

    /// This instant plus `seconds`, or `None` past 9999-12-31T23:59:59Z.
    pub fn checked_add_seconds(self, seconds: u64) -> Option<Self> {
        self.0
            .checked_add(seconds)
            .filter(|&sum| sum <= MAX_UNIX_SECONDS)
            .map(Self)
    }

    /// This instant minus `seconds`, or `None` before the epoch.
    pub fn checked_sub_seconds(self, seconds: u64) -> Option<Self> {
        self.0.checked_sub(seconds).map(Self)
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let shifted_month = if month > 2 { month - 3 } else { month + 9 };
    let day_of_year = (153 * shifted_month + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day count since 1970-01-01 (Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let shifted_month = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * shifted_month + 2) / 5 + 1) as u32;
    let month = if shifted_month < 10 {
        shifted_month + 3
    } else {
        shifted_month - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if is_leap_year(year) => 29,
        _ => 28,
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = (self.0 / 86_400) as i64;
        let seconds_of_day = self.0 % 86_400;
        let (year, month, day) = civil_from_days(days);
        write!(
            f,
            "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
            seconds_of_day / 3600,
            seconds_of_day / 60 % 60,
            seconds_of_day % 60
        )
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({self})")
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = s.as_bytes();
        let format_error = || TimestampError::Format {
            found: s.to_owned(),
        };
        // YYYY-MM-DDTHH:MM:SSZ: 20 bytes, separators at fixed positions, digits everywhere else.
        const SHAPE: &[u8; 20] = b"dddd-dd-ddTdd:dd:ddZ";
        if bytes.len() != SHAPE.len() {
            return Err(format_error());
        }
        for (&byte, &expected) in bytes.iter().zip(SHAPE) {
            let fits = if expected == b'd' {
                byte.is_ascii_digit()
            } else {
                byte == expected
            };
            if !fits {
                return Err(format_error());
            }
        }
        let number = |range: std::ops::Range<usize>| -> u32 {
            bytes[range]
                .iter()
                .fold(0, |value, digit| value * 10 + u32::from(digit - b'0'))
        };
        let year = i64::from(number(0..4));
        let month = number(5..7);
        let day = number(8..10);
        let hour = number(11..13);
        let minute = number(14..16);
        let second = number(17..19);
        let field_error = |field, value| TimestampError::Field {
            found: s.to_owned(),
            field,
            value,
        };
        if !(1..=12).contains(&month) {
            return Err(field_error("month", month));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(field_error("day", day));
        }
        if hour > 23 {
            return Err(field_error("hour", hour));
        }
        if minute > 59 {
            return Err(field_error("minute", minute));
        }
        if second > 59 {
            return Err(field_error("second", second));
        }
        if year < 1970 {
            return Err(TimestampError::OutOfRange {
                found: s.to_owned(),
            });
        }
        let days = days_from_civil(year, month, day) as u64;
        let seconds = days * 86_400 + u64::from(hour * 3600 + minute * 60 + second);
        Ok(Self(seconds))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Known instants, each checked with GNU `date -u -d @<seconds> +%Y-%m-%dT%H:%M:%SZ`.
    const KNOWN: &[(u64, &str)] = &[
        (0, "1970-01-01T00:00:00Z"),
        (86_399, "1970-01-01T23:59:59Z"),
        (951_782_400, "2000-02-29T00:00:00Z"),
        (946_684_800, "2000-01-01T00:00:00Z"),
        (978_307_199, "2000-12-31T23:59:59Z"),
        (1_709_208_000, "2024-02-29T12:00:00Z"),
        (2_147_483_647, "2038-01-19T03:14:07Z"),
        (4_107_542_400, "2100-03-01T00:00:00Z"),
        (1_795_547_280, "2026-11-24T19:08:00Z"),
        (MAX_UNIX_SECONDS, "9999-12-31T23:59:59Z"),
    ];

    #[test]
    fn formats_and_parses_known_instants() {
        for &(seconds, text) in KNOWN {
            let timestamp = Timestamp::from_unix_seconds(seconds).unwrap();
            assert_eq!(timestamp.to_string(), text, "formatting {seconds}");
            assert_eq!(
                text.parse::<Timestamp>().unwrap(),
                timestamp,
                "parsing {text}"
            );
        }
    }

    #[test]
    fn refuses_impossible_dates_and_times() {
        for (text, field) in [
            ("2023-02-29T00:00:00Z", "day"),
            ("2100-02-29T00:00:00Z", "day"),
            ("2024-04-31T00:00:00Z", "day"),
            ("2024-01-00T00:00:00Z", "day"),
            ("2024-13-01T00:00:00Z", "month"),
            ("2024-00-01T00:00:00Z", "month"),
            ("2024-01-01T24:00:00Z", "hour"),
            ("2024-01-01T00:60:00Z", "minute"),
            ("2016-12-31T23:59:60Z", "second"),
        ] {
            match text.parse::<Timestamp>() {
                Err(TimestampError::Field { field: found, .. }) => {
                    assert_eq!(found, field, "{text}")
                }
                other => panic!("{text}: expected a {field} error, got {other:?}"),
            }
        }
        assert!("2000-02-29T00:00:00Z".parse::<Timestamp>().is_ok());
    }

    #[test]
    fn refuses_every_other_spelling() {
        for text in [
            "2024-01-01t00:00:00Z",
            "2024-01-01T00:00:00z",
            "2024-01-01 00:00:00Z",
            "2024-01-01T00:00:00.000Z",
            "2024-01-01T00:00:00+00:00",
            "2024-01-01T00:00:00",
            "2024-1-01T00:00:00Z",
            "+2024-01-01T00:00:00Z",
            "２０２４-01-01T00:00:00Z",
            "",
        ] {
            assert!(
                matches!(
                    text.parse::<Timestamp>(),
                    Err(TimestampError::Format { .. })
                ),
                "{text:?} must be refused"
            );
        }
    }

    #[test]
    fn refuses_instants_before_1970_or_after_9999() {
        assert!(matches!(
            "1969-12-31T23:59:59Z".parse::<Timestamp>(),
            Err(TimestampError::OutOfRange { .. })
        ));
        assert!(matches!(
            Timestamp::from_unix_seconds(MAX_UNIX_SECONDS + 1),
            Err(TimestampError::OutOfRange { .. })
        ));
        let last = Timestamp::from_unix_seconds(MAX_UNIX_SECONDS).unwrap();
        assert_eq!(last.checked_add_seconds(1), None);
        assert_eq!(Timestamp::UNIX_EPOCH.checked_sub_seconds(1), None);
    }

    #[test]
    fn serde_uses_the_text_form() {
        let timestamp: Timestamp = "2026-11-24T19:08:00Z".parse().unwrap();
        let json = serde_json::to_string(&timestamp).unwrap();
        assert_eq!(json, "\"2026-11-24T19:08:00Z\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), timestamp);
        assert!(serde_json::from_str::<Timestamp>("1795547280").is_err());
    }

    proptest! {
        #[test]
        fn text_round_trips_for_every_instant(seconds in 0..=MAX_UNIX_SECONDS) {
            let timestamp = Timestamp::from_unix_seconds(seconds).unwrap();
            let text = timestamp.to_string();
            prop_assert_eq!(text.len(), 20);
            prop_assert_eq!(text.parse::<Timestamp>().unwrap(), timestamp);
        }

        #[test]
        fn order_of_text_equals_order_of_instants(a in 0..=MAX_UNIX_SECONDS, b in 0..=MAX_UNIX_SECONDS) {
            let (ta, tb) = (Timestamp(a), Timestamp(b));
            prop_assert_eq!(ta.to_string().cmp(&tb.to_string()), a.cmp(&b));
        }
    }
}
