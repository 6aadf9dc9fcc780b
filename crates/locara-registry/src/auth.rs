//! Account secrets: passwords (Argon2id), TOTP second factors (RFC 6238), recovery codes and API tokens.
//!
//! Invariants:
//! - no secret is stored or logged in the clear: passwords as Argon2id PHC strings, recovery codes and API
//!   tokens as SHA-256 (they are 80+ random bits, so a fast hash is enough), TOTP secrets only where the
//!   server must recompute codes;
//! - a TOTP code is accepted at most once: [`verify_totp`] takes the last step the account used and refuses
//!   that step and every earlier one, so a code seen by an attacker cannot be replayed, even within its
//!   30 seconds (RFC 6238 §5.2);
//! - failed attempts are counted per credential and client address ([`check_attempt_budget`]), never per
//!   account alone, so an attacker's bad codes cannot lock the owner out (ADR 0068);
//! - comparisons of secrets are constant-time (argon2's verifier, totp-rs's token comparison, and hashes
//!   compared as hashes).

use std::fmt;

use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use argon2::{Algorithm as Argon2Algorithm, Argon2, Params, Version as Argon2Version};
use sha2::{Digest as _, Sha256};
use totp_rs::{Algorithm, Builder as TotpBuilder, Secret, Totp};
use zeroize::Zeroizing;

/// The shortest password accepted, in characters.
pub const MIN_PASSWORD_CHARS: usize = 12;
/// The longest password accepted, in bytes (Argon2 has no limit; this bounds the work per request).
pub const MAX_PASSWORD_BYTES: usize = 1024;
/// The longest password accepted, in characters (a limit a schema can state; 256 characters of up to 4
/// bytes each stay within [`MAX_PASSWORD_BYTES`]).
pub const MAX_PASSWORD_CHARS: usize = 256;
/// Seconds per TOTP step.
pub const TOTP_STEP_SECONDS: u64 = 30;
/// Digits per TOTP code.
pub const TOTP_DIGITS: u8 = 6;
/// Steps of clock drift accepted either side of the current one.
pub const TOTP_SKEW_STEPS: u16 = 1;
/// How many recovery codes an enrolment makes.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// The prefix of every API token, so secret scanners can find leaked ones.
pub const API_TOKEN_PREFIX: &str = "locara_pat_";

/// Failed attempts allowed per credential and client address within [`FAILURE_WINDOW_SECONDS`]: per
/// (token or session, address) for codes sent with a token, per (username, address) for sign-ins.
pub const MAX_FAILURES_PER_WINDOW: usize = 5;
/// Failed codes allowed per token or session within the window, over all client addresses, so a stolen
/// token used from many addresses still gets few guesses.
pub const MAX_FAILURES_PER_TOKEN: usize = 20;
/// Failed sign-ins allowed per account within the window, over all client addresses: far above the
/// per-address limit, so an attacker must use many addresses before the owner's sign-in is refused too.
pub const MAX_SIGN_IN_FAILURES_PER_ACCOUNT: usize = 100;
/// The sliding window for the failure budgets, in seconds (15 minutes).
pub const FAILURE_WINDOW_SECONDS: u64 = 15 * 60;

/// A failed attempt, as the failure budgets count it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure<'a> {
    /// When (Unix time).
    pub at: u64,
    /// The token or session the attempt carried; `None` for a sign-in.
    pub token_id: Option<i64>,
    /// The client address it came from.
    pub client_address: &'a str,
}

/// An attempt about to be checked, and so whose failures limit it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt<'a> {
    /// A one-time code sent with an already authenticated token or session.
    WithToken {
        /// The token's id.
        token_id: i64,
        /// The client address.
        client_address: &'a str,
    },
    /// A sign-in: the password, and the code or recovery code sent with it.
    SignIn {
        /// The client address.
        client_address: &'a str,
    },
}

/// Whether `attempt` may be checked at `now`, given the account's failed attempts (any order).
///
/// Only failures of the same credential count: an attacker's bad codes sent with a stolen token, or bad
/// sign-ins from the attacker's address, never use up the budget of the owner's own session or address.
/// Checked before the password or code is looked at, so a locked credential gives an attacker no signal.
pub fn check_attempt_budget(
    failures: &[Failure<'_>],
    attempt: Attempt<'_>,
    now: u64,
) -> Result<(), AuthError> {
    let (token_id, address, ceiling) = match attempt {
        Attempt::WithToken {
            token_id,
            client_address,
        } => (Some(token_id), client_address, MAX_FAILURES_PER_TOKEN),
        Attempt::SignIn { client_address } => {
            (None, client_address, MAX_SIGN_IN_FAILURES_PER_ACCOUNT)
        }
    };
    let same_credential: Vec<&Failure<'_>> = failures
        .iter()
        .filter(|failure| failure.token_id == token_id)
        .collect();
    let from_address: Vec<u64> = same_credential
        .iter()
        .filter(|failure| failure.client_address == address)
        .map(|failure| failure.at)
        .collect();
    check_failure_budget(&from_address, now, MAX_FAILURES_PER_WINDOW)?;
    let everywhere: Vec<u64> = same_credential.iter().map(|failure| failure.at).collect();
    check_failure_budget(&everywhere, now, ceiling)
}

/// Why a password, code or token was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// The password is too short or too long.
    #[error(
        "passwords must have {MIN_PASSWORD_CHARS} to {MAX_PASSWORD_CHARS} characters and at most {MAX_PASSWORD_BYTES} bytes; this one has {chars} characters ({bytes} bytes)"
    )]
    PasswordLength {
        /// Its length in characters.
        chars: usize,
        /// Its length in bytes.
        bytes: usize,
    },
    /// The stored password hash cannot be read (a damaged database row).
    #[error("the stored password hash is not a valid Argon2 PHC string")]
    StoredHash,
    /// The code is not six digits.
    #[error("a one-time code is {TOTP_DIGITS} digits, for example 123456")]
    MalformedCode,
    /// The code matches no step within the allowed drift.
    #[error("the one-time code is wrong or expired; use the current code from your authenticator")]
    WrongCode,
    /// The code is valid but its step was already used.
    #[error(
        "this one-time code was already used; wait for the next code (every {TOTP_STEP_SECONDS} s)"
    )]
    ReplayedCode {
        /// The step the code belongs to.
        step: u64,
        /// The last step the account used.
        last_used: u64,
    },
    /// Too many recent failures: no attempt is checked until `retry_after` seconds have passed.
    #[error(
        "too many failed attempts ({failures} in the last {} minutes); try again in {retry_after} s",
        FAILURE_WINDOW_SECONDS / 60
    )]
    RateLimited {
        /// Failures inside the window.
        failures: usize,
        /// Seconds until the oldest of them leaves the window.
        retry_after: u64,
    },
    /// The TOTP secret is unusable (too short).
    #[error("TOTP secret: {0}")]
    Secret(String),
    /// The operating system gave no randomness.
    #[error("no randomness from the operating system: {0}")]
    Random(String),
}

fn random<const N: usize>() -> Result<Zeroizing<[u8; N]>, AuthError> {
    let mut bytes = Zeroizing::new([0u8; N]);
    getrandom::fill(bytes.as_mut()).map_err(|error| AuthError::Random(error.to_string()))?;
    Ok(bytes)
}

/// The Argon2id instance passwords are hashed with (OWASP's first recommended set: 19 MiB, 2 passes, 1 lane).
fn argon2() -> Argon2<'static> {
    let params = Params::new(19 * 1024, 2, 1, None).expect("constant Argon2 parameters are valid");
    Argon2::new(Argon2Algorithm::Argon2id, Argon2Version::V0x13, params)
}

/// Checks the password policy, then hashes `password` with a fresh salt into a PHC string for storage.
pub fn hash_password(password: &str) -> Result<String, AuthError> {
    let (chars, bytes) = (password.chars().count(), password.len());
    if !(MIN_PASSWORD_CHARS..=MAX_PASSWORD_CHARS).contains(&chars) || bytes > MAX_PASSWORD_BYTES {
        return Err(AuthError::PasswordLength { chars, bytes });
    }
    let salt = random::<16>()?;
    let hash: PasswordHash = argon2()
        .hash_password_with_salt(password.as_bytes(), salt.as_ref())
        .map_err(|error| AuthError::Random(error.to_string()))?;
    Ok(hash.to_string())
}
/// Whether `password` matches the stored PHC string (in constant time); a damaged hash is an error.
pub fn verify_password(stored: &str, password: &str) -> Result<bool, AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Ok(false);
    }
    let hash = PasswordHash::new(stored).map_err(|_| AuthError::StoredHash)?;
    Ok(argon2().verify_password(password.as_bytes(), &hash).is_ok())
}

/// A TOTP shared secret (20 random bytes, as RFC 4226 recommends); zeroed on drop, never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct TotpSecret(Zeroizing<Vec<u8>>);

impl fmt::Debug for TotpSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TotpSecret(<redacted>)")
    }
}

impl TotpSecret {
    /// A fresh random secret.
    pub fn generate() -> Result<Self, AuthError> {
        Ok(Self(Zeroizing::new(random::<20>()?.to_vec())))
    }

    /// A secret from stored bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuthError> {
        if bytes.len() < 16 {
            return Err(AuthError::Secret(format!(
                "{} bytes; at least 16 are needed",
                bytes.len()
            )));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }

    /// The raw bytes, for storage.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The secret in base32, as authenticator apps take it when typed in.
    pub fn to_base32(&self) -> Zeroizing<String> {
        Zeroizing::new(Secret::new(self.0.to_vec().into_boxed_slice()).to_base32())
    }

    /// The TOTP parameters for this secret; `skew` 0 checks exactly one step.
    fn totp(&self, account: &str, skew: u16) -> Result<Totp, AuthError> {
        TotpBuilder::new()
            .with_algorithm(Algorithm::SHA1)
            .with_digits(TOTP_DIGITS)
            .with_skew(skew)
            .with_step_duration(TOTP_STEP_SECONDS)
            .with_secret(Secret::new(self.0.to_vec().into_boxed_slice()))
            .with_issuer(Some("Locara"))
            .with_account_name(account.replace(':', "_"))
            .build()
            .map_err(|error| AuthError::Secret(error.to_string()))
    }

    /// The `otpauth://totp/…` enrolment URI for `account` (shown once, as text or a QR code).
    pub fn enrolment_uri(&self, account: &str) -> Result<Zeroizing<String>, AuthError> {
        let uri = self
            .totp(account, TOTP_SKEW_STEPS)?
            .to_url()
            .map_err(|error| AuthError::Secret(error.to_string()))?;
        Ok(Zeroizing::new(uri))
    }

    /// The code for `unix_time` (what an authenticator shows then).
    pub fn code_at(&self, unix_time: u64) -> Result<String, AuthError> {
        Ok(self.totp("code", 0)?.generate(unix_time).to_string())
    }
}

/// Checks `code` against `secret` at `unix_time` with ±[`TOTP_SKEW_STEPS`] of drift, refusing any step at
/// or before `last_used_step`. Returns the step to store as the account's new last used step.
pub fn verify_totp(
    secret: &TotpSecret,
    code: &str,
    unix_time: u64,
    last_used_step: Option<u64>,
) -> Result<u64, AuthError> {
    let code = code.trim();
    if code.len() != usize::from(TOTP_DIGITS) || !code.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(AuthError::MalformedCode);
    }
    // Each step in the window is checked on its own (skew 0; totp-rs compares in constant time), so a used
    // step is reported as a replay even when another step of the window would also match.
    let totp = secret.totp("verify", 0)?;
    let current = unix_time / TOTP_STEP_SECONDS;
    let first = current.saturating_sub(u64::from(TOTP_SKEW_STEPS));
    let last = current + u64::from(TOTP_SKEW_STEPS);
    let matched: Vec<u64> = (first..=last)
        .filter(|step| totp.check(code, step * TOTP_STEP_SECONDS).is_some())
        .collect();
    let Some(&step) = matched.iter().max() else {
        return Err(AuthError::WrongCode);
    };
    match last_used_step {
        Some(last_used) if step <= last_used => Err(AuthError::ReplayedCode { step, last_used }),
        _ => Ok(step),
    }
}

/// Whether fewer than `limit` of these failed attempts (Unix times, any order) fall in the window ending
/// at `now`; otherwise when the attempt is allowed again.
pub fn check_failure_budget(failures: &[u64], now: u64, limit: usize) -> Result<(), AuthError> {
    let window_start = now.saturating_sub(FAILURE_WINDOW_SECONDS);
    let mut recent: Vec<u64> = failures
        .iter()
        .copied()
        .filter(|&time| time > window_start && time <= now)
        .collect();
    if recent.len() < limit {
        return Ok(());
    }
    recent.sort_unstable();
    // The attempt is allowed again once enough failures have left the window.
    let unlock_at = recent[recent.len() - limit] + FAILURE_WINDOW_SECONDS;
    Err(AuthError::RateLimited {
        failures: recent.len(),
        retry_after: unlock_at.saturating_sub(now).max(1),
    })
}

/// SHA-256 of a high-entropy secret (recovery code or API token), hex, for storage and lookup.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Letters and digits that cannot be confused when read aloud or off paper (no 0/o, 1/l/i).
const RECOVERY_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

/// Fresh single-use recovery codes, `xxxx-xxxx-xxxx` (12 symbols of 31: 59 random bits each), to show the
/// user once.
pub fn generate_recovery_codes() -> Result<Vec<Zeroizing<String>>, AuthError> {
    (0..RECOVERY_CODE_COUNT)
        .map(|_| {
            let mut code = Zeroizing::new(String::with_capacity(14));
            let mut symbols = 0;
            while symbols < 12 {
                // Rejection sampling: 5 random bits per draw, the value 31 is drawn again, so every
                // symbol is equally likely.
                for byte in random::<16>()?.iter() {
                    let value = usize::from(byte & 0x1f);
                    if value >= RECOVERY_ALPHABET.len() || symbols == 12 {
                        continue;
                    }
                    if symbols > 0 && symbols % 4 == 0 {
                        code.push('-');
                    }
                    code.push(char::from(RECOVERY_ALPHABET[value]));
                    symbols += 1;
                }
            }
            Ok(code)
        })
        .collect()
}

/// The stored form of a recovery code as the user types it (case, spaces and dashes ignored).
pub fn recovery_code_hash(typed: &str) -> String {
    let normalised: Zeroizing<String> = Zeroizing::new(
        typed
            .chars()
            .filter(|c| !c.is_whitespace() && *c != '-')
            .flat_map(char::to_lowercase)
            .collect(),
    );
    secret_hash(&normalised)
}

/// A new API token (`locara_pat_` + 64 hex digits): shown to the user once, stored only as [`secret_hash`].
pub fn generate_api_token() -> Result<Zeroizing<String>, AuthError> {
    let bytes = random::<32>()?;
    Ok(Zeroizing::new(format!(
        "{API_TOKEN_PREFIX}{}",
        hex::encode(bytes.as_ref())
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_with_argon2id_and_verify() {
        let stored = hash_password("correct horse battery").unwrap();
        assert!(
            stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{stored}"
        );
        assert!(!stored.contains("correct horse"));
        assert!(verify_password(&stored, "correct horse battery").unwrap());
        assert!(!verify_password(&stored, "correct horse batterx").unwrap());
        assert_ne!(
            stored,
            hash_password("correct horse battery").unwrap(),
            "salted"
        );
        assert_eq!(
            verify_password("not a hash", "x"),
            Err(AuthError::StoredHash)
        );
    }

    #[test]
    fn short_and_huge_passwords_are_refused() {
        assert!(matches!(
            hash_password("short"),
            Err(AuthError::PasswordLength { chars: 5, .. })
        ));
        assert!(matches!(
            hash_password(&"x".repeat(MAX_PASSWORD_BYTES + 1)),
            Err(AuthError::PasswordLength { .. })
        ));
        // Within the byte limit, but over the character limit the API document states.
        assert!(matches!(
            hash_password(&"\u{e9}".repeat(MAX_PASSWORD_CHARS + 1)),
            Err(AuthError::PasswordLength { chars: 257, .. })
        ));
    }

    #[test]
    fn a_code_is_accepted_once_within_one_step_of_drift() {
        let secret = TotpSecret::generate().unwrap();
        let now = 1_800_000_015;
        let code = secret.code_at(now).unwrap();
        let step = verify_totp(&secret, &code, now, None).unwrap();
        assert_eq!(step, now / TOTP_STEP_SECONDS);
        assert_eq!(
            verify_totp(&secret, &code, now, Some(step)),
            Err(AuthError::ReplayedCode {
                step,
                last_used: step
            })
        );
        // The previous and next steps' codes are accepted (clock drift); two steps away is not.
        let earlier = secret.code_at(now - TOTP_STEP_SECONDS).unwrap();
        assert!(verify_totp(&secret, &earlier, now, None).is_ok());
        let later = secret.code_at(now + TOTP_STEP_SECONDS).unwrap();
        assert!(verify_totp(&secret, &later, now, Some(step)).is_ok());
        let far = secret.code_at(now - 2 * TOTP_STEP_SECONDS).unwrap();
        if far != code && far != earlier && far != later {
            assert_eq!(
                verify_totp(&secret, &far, now, None),
                Err(AuthError::WrongCode)
            );
        }
        // An older, unused step's code is still refused once a later step has been used.
        assert!(matches!(
            verify_totp(&secret, &earlier, now, Some(step)),
            Err(AuthError::ReplayedCode { .. })
        ));
    }

    #[test]
    fn the_sixth_failure_in_fifteen_minutes_locks_until_the_first_leaves_the_window() {
        let now = 1_800_000_000;
        let failures: Vec<u64> = (0..4).map(|n| now - 600 + n * 60).collect();
        let limit = MAX_FAILURES_PER_WINDOW;
        assert_eq!(check_failure_budget(&failures, now, limit), Ok(()));
        let mut failures = failures;
        failures.push(now - 10);
        let first = now - 600;
        assert_eq!(
            check_failure_budget(&failures, now, limit),
            Err(AuthError::RateLimited {
                failures: 5,
                retry_after: first + FAILURE_WINDOW_SECONDS - now
            })
        );
        assert!(
            check_failure_budget(&failures, first + FAILURE_WINDOW_SECONDS - 1, limit).is_err()
        );
        assert_eq!(
            check_failure_budget(&failures, first + FAILURE_WINDOW_SECONDS, limit),
            Ok(())
        );
        // Failures older than the window do not count.
        let old: Vec<u64> = (0..50).map(|n| now - FAILURE_WINDOW_SECONDS - n).collect();
        assert_eq!(check_failure_budget(&old, now, limit), Ok(()));
    }

    #[test]
    fn an_attackers_failures_never_use_up_the_owners_budget() {
        let now = 1_800_000_000;
        let attacker = "192.0.2.66";
        let owner = "198.51.100.7";
        let stolen = |at| Failure {
            at,
            token_id: Some(7),
            client_address: attacker,
        };
        let failures: Vec<Failure<'_>> = (0..50).map(|n| stolen(now - n)).collect();
        // The stolen token is locked from the attacker's address...
        assert!(matches!(
            check_attempt_budget(
                &failures,
                Attempt::WithToken {
                    token_id: 7,
                    client_address: attacker
                },
                now
            ),
            Err(AuthError::RateLimited { .. })
        ));
        // ...while the owner's own session, and a sign-in from the owner's address, are not.
        assert_eq!(
            check_attempt_budget(
                &failures,
                Attempt::WithToken {
                    token_id: 8,
                    client_address: owner
                },
                now
            ),
            Ok(())
        );
        assert_eq!(
            check_attempt_budget(
                &failures,
                Attempt::SignIn {
                    client_address: owner
                },
                now
            ),
            Ok(())
        );
        // The attacker's sign-ins fail from their own address only.
        let sign_ins: Vec<Failure<'_>> = (0..5)
            .map(|n| Failure {
                at: now - n,
                token_id: None,
                client_address: attacker,
            })
            .collect();
        assert!(
            check_attempt_budget(
                &sign_ins,
                Attempt::SignIn {
                    client_address: attacker
                },
                now
            )
            .is_err()
        );
        assert_eq!(
            check_attempt_budget(
                &sign_ins,
                Attempt::SignIn {
                    client_address: owner
                },
                now
            ),
            Ok(())
        );
    }

    #[test]
    fn many_addresses_meet_the_per_token_and_per_account_ceilings() {
        let now = 1_800_000_000;
        let addresses: Vec<String> = (0..200)
            .map(|n| format!("10.0.{}.{}", n / 256, n % 256))
            .collect();
        // Four failures from each address stay under the per-address limit...
        let spread = |token_id, count: usize| -> Vec<Failure<'_>> {
            addresses
                .iter()
                .take(count)
                .flat_map(|address| {
                    (0..4).map(move |n| Failure {
                        at: now - n,
                        token_id,
                        client_address: address,
                    })
                })
                .collect()
        };
        let fresh = "203.0.113.1";
        // ...but a stolen token reaches its ceiling after MAX_FAILURES_PER_TOKEN, from any address,
        let token_failures = spread(Some(7), MAX_FAILURES_PER_TOKEN / 4);
        let token_attempt = Attempt::WithToken {
            token_id: 7,
            client_address: fresh,
        };
        assert!(check_attempt_budget(&token_failures, token_attempt, now).is_err());
        let token_failures = spread(Some(7), MAX_FAILURES_PER_TOKEN / 4 - 1);
        assert_eq!(
            check_attempt_budget(&token_failures, token_attempt, now),
            Ok(())
        );
        // ...and sign-ins reach the account's ceiling only far above the per-address limit.
        let sign_in = Attempt::SignIn {
            client_address: fresh,
        };
        let below = spread(None, MAX_SIGN_IN_FAILURES_PER_ACCOUNT / 4 - 1);
        assert_eq!(check_attempt_budget(&below, sign_in, now), Ok(()));
        let at_ceiling = spread(None, MAX_SIGN_IN_FAILURES_PER_ACCOUNT / 4);
        assert!(check_attempt_budget(&at_ceiling, sign_in, now).is_err());
        const { assert!(MAX_SIGN_IN_FAILURES_PER_ACCOUNT >= 10 * MAX_FAILURES_PER_WINDOW) };
    }

    #[test]
    fn malformed_codes_are_refused_before_any_check() {
        let secret = TotpSecret::generate().unwrap();
        for code in ["", "12345", "1234567", "12a456", "１２３４５６"] {
            assert_eq!(
                verify_totp(&secret, code, 1_800_000_000, None),
                Err(AuthError::MalformedCode),
                "{code:?}"
            );
        }
    }

    #[test]
    fn the_enrolment_uri_names_locara_and_the_account() {
        let secret = TotpSecret::from_bytes(b"12345678901234567890").unwrap();
        let uri = secret.enrolment_uri("alice").unwrap();
        assert!(uri.starts_with("otpauth://totp/Locara:alice?"), "{}", *uri);
        assert!(
            uri.contains("secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"),
            "{}",
            *uri
        );
        assert!(uri.contains("issuer=Locara"), "{}", *uri);
        assert!(format!("{secret:?}").contains("redacted"));
    }

    #[test]
    fn recovery_codes_are_distinct_readable_and_stored_hashed() {
        let codes = generate_recovery_codes().unwrap();
        assert_eq!(codes.len(), RECOVERY_CODE_COUNT);
        let mut unique: Vec<&str> = codes.iter().map(|code| code.as_str()).collect();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODE_COUNT);
        for code in &codes {
            assert_eq!(code.len(), 14);
            assert!(
                code.chars()
                    .all(|c| c == '-' || RECOVERY_ALPHABET.contains(&(c as u8)))
            );
            let typed = code.to_uppercase().replace('-', " ");
            assert_eq!(recovery_code_hash(&typed), recovery_code_hash(code));
            assert!(!recovery_code_hash(code).contains(code.as_str()));
        }
    }

    #[test]
    fn api_tokens_are_prefixed_random_and_hashed_for_storage() {
        let token = generate_api_token().unwrap();
        assert!(token.starts_with(API_TOKEN_PREFIX));
        assert_eq!(token.len(), API_TOKEN_PREFIX.len() + 64);
        assert_ne!(*token, *generate_api_token().unwrap());
        assert_eq!(secret_hash(&token).len(), 64);
        assert_ne!(secret_hash(&token), *token);
    }
}
