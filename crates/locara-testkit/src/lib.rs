//! Test support for Locara: real servers on loopback, started and stopped by tests.
//!
//! Nothing here is a mock: the DNS server is an authoritative server speaking DNS over UDP and TCP on
//! 127.0.0.1, and the OpenID Connect issuer serves a discovery document and a JWK Set over HTTP on
//! 127.0.0.1 and signs tokens with real keys, so the registry's resolver and token verifier are exercised
//! exactly as they are against a real zone and a real issuer.

pub mod dns;
pub mod oidc;
