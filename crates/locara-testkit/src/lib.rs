//! Test support for Locara: real servers on loopback, started and stopped by tests.
//!
//! Nothing here is a mock: the DNS server is an authoritative server speaking DNS over UDP and TCP on
//! 127.0.0.1, so the registry's resolver code is exercised exactly as it is against a real zone.

pub mod dns;
