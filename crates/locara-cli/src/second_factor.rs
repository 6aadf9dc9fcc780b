//! Second factors a user types: one-time codes from an authenticator app (TOTP) and single-use recovery
//! codes.
//!
//! Invariants: a [`OneTimeCode`] is exactly [`OTP_DIGITS`] ASCII digits (the spaces authenticator apps
//! show between groups, `123 456`, are dropped when parsing); a [`RecoveryCode`] is 1 to
//! [`MAX_RECOVERY_CODE_LEN`] visible ASCII characters. Neither appears in `Debug` output or in a parse
//! error, and a recovery code is zeroed in memory when dropped.

use std::fmt;
use std::str::FromStr;

use serde::{Serialize, Serializer};
use zeroize::Zeroizing;

/// Digits in a one-time code.
pub const OTP_DIGITS: usize = 6;
/// The longest recovery code accepted.
pub const MAX_RECOVERY_CODE_LEN: usize = 64;

/// Why typed text is not a one-time code or a recovery code (never quoting it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodeError {
    /// Not six digits.
    #[error(
        "a one-time code is {OTP_DIGITS} digits, the one your authenticator app shows now (for example 123456)"
    )]
    OneTimeCode,
    /// Empty, too long, or with characters a recovery code never has.
    #[error(
        "a recovery code is one of the codes shown when two-factor authentication was enabled (for example abcd-efgh-jkmn)"
    )]
    RecoveryCode,
}

/// A one-time code from an authenticator app: six digits, valid for about 30 seconds, and usable once.
#[derive(Clone, PartialEq, Eq)]
pub struct OneTimeCode(String);

impl OneTimeCode {
    /// The six digits.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OneTimeCode {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let digits: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        if digits.len() == OTP_DIGITS && digits.bytes().all(|byte| byte.is_ascii_digit()) {
            Ok(Self(digits))
        } else {
            Err(CodeError::OneTimeCode)
        }
    }
}

impl fmt::Debug for OneTimeCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("OneTimeCode(<redacted>)")
    }
}

impl Serialize for OneTimeCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

/// A single-use recovery code, accepted at login instead of a one-time code.
#[derive(Clone, PartialEq, Eq)]
pub struct RecoveryCode(Zeroizing<String>);

impl RecoveryCode {
    /// The code as typed (without surrounding whitespace).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for RecoveryCode {
    type Err = CodeError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let code = Zeroizing::new(text.trim().to_owned());
        if code.is_empty()
            || code.len() > MAX_RECOVERY_CODE_LEN
            || !code.bytes().all(|byte| byte.is_ascii_graphic())
        {
            return Err(CodeError::RecoveryCode);
        }
        Ok(Self(code))
    }
}

impl fmt::Debug for RecoveryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RecoveryCode(<redacted>)")
    }
}

impl Serialize for RecoveryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_time_codes_are_six_digits_and_may_be_typed_in_groups() {
        assert_eq!("123456".parse::<OneTimeCode>().unwrap().as_str(), "123456");
        assert_eq!(
            " 123 456\n".parse::<OneTimeCode>().unwrap().as_str(),
            "123456"
        );
        for bad in ["", "12345", "1234567", "12a456", "١٢٣٤٥٦"] {
            assert_eq!(
                bad.parse::<OneTimeCode>(),
                Err(CodeError::OneTimeCode),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn recovery_codes_are_trimmed_visible_ascii() {
        assert_eq!(
            " abcd-efgh-jkmn ".parse::<RecoveryCode>().unwrap().as_str(),
            "abcd-efgh-jkmn"
        );
        for bad in ["", "   ", "ab cd", "abcdé", &"x".repeat(65)] {
            assert!(bad.parse::<RecoveryCode>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn codes_are_never_shown_by_debug_or_errors() {
        let code: OneTimeCode = "987654".parse().unwrap();
        assert!(!format!("{code:?}").contains("987654"));
        let recovery: RecoveryCode = "wxyz-2345-6789".parse().unwrap();
        assert!(!format!("{recovery:?}").contains("wxyz"));
        let error = "98765x".parse::<OneTimeCode>().unwrap_err();
        assert!(!error.to_string().contains("98765x"));
    }
}
