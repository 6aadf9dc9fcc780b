//! Fixtures shared by the root-of-trust tests: deterministic keys, fixed times and the log entry.

#![allow(dead_code)] // each test file uses a part

use locara_core::keys::SigningKey;
use locara_core::log::SignerKey;
use locara_core::root::LogEntry;
use locara_core::time::Timestamp;

/// The log origin every test root names.
pub const LOG_ORIGIN: &str = "registry.locara.example/log";

/// The deterministic key whose seed is 32 copies of `seed`.
pub fn key(seed: u8) -> SigningKey {
    SigningKey::from_seed(&[seed; 32])
}

/// A timestamp from its text form.
pub fn at(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// The tests' "now".
pub fn now() -> Timestamp {
    at("2026-11-24T12:00:00Z")
}

/// The log entry of every test root: a real signed-note verifier key under [`LOG_ORIGIN`].
pub fn log_entry() -> LogEntry {
    LogEntry {
        origin: LOG_ORIGIN.to_owned(),
        verifier_key: SignerKey::from_seed(LOG_ORIGIN, &[9; 32])
            .unwrap()
            .verifier()
            .to_string(),
    }
}
