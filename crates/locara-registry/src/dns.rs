//! Publisher verification by DNS: the registry issues a token, the publisher publishes it in a TXT record at
//! `_locara-challenge.<domain>`, and the registry looks it up through a configured resolver.
//!
//! The resolver never reads the host's `/etc/resolv.conf` implicitly: the registry is told which server to
//! ask (its configuration), so tests, and operators, know exactly whose answer verified a domain.

use std::net::SocketAddr;

use hickory_resolver::Resolver;
use hickory_resolver::config::{ConnectionConfig, NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

/// The label the challenge record sits under.
pub const CHALLENGE_LABEL: &str = "_locara-challenge";

/// Why a domain did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DnsVerifyError {
    /// The domain is not a valid DNS name for a publisher.
    #[error(
        "{domain:?} is not a domain name: {reason}; give a name such as example.com (letters, digits and '-', labels of 1 to 63 characters)"
    )]
    BadDomain {
        /// The domain given.
        domain: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// There is no TXT record at the challenge name.
    #[error(
        "no TXT record at {name}; add one holding the token the registry gave you, then try again (DNS changes can take a few minutes to appear)"
    )]
    NoRecord {
        /// The challenge name.
        name: String,
    },
    /// TXT records exist but none holds the token.
    #[error(
        "the TXT records at {name} do not hold the token the registry issued (found {} record(s)); put the token, exactly, in a TXT record there",
        found.len()
    )]
    WrongToken {
        /// The challenge name.
        name: String,
        /// The records found.
        found: Vec<String>,
    },
    /// The lookup itself failed (server unreachable, refused, timed out).
    #[error("looking up TXT {name} failed: {reason}")]
    Lookup {
        /// The challenge name.
        name: String,
        /// What the resolver said.
        reason: String,
    },
}

/// Checks `domain` and returns it in lowercase: 2 to 127 labels of letters, digits and `-`, none starting or
/// ending with `-`, at most 253 characters, not an IP address.
pub fn normalise_domain(domain: &str) -> Result<String, DnsVerifyError> {
    let bad = |reason| DnsVerifyError::BadDomain {
        domain: domain.to_owned(),
        reason,
    };
    let lower = domain.trim_end_matches('.').to_ascii_lowercase();
    if lower.is_empty() || lower.len() > 253 {
        return Err(bad("it must have 1 to 253 characters"));
    }
    let labels: Vec<&str> = lower.split('.').collect();
    if labels.len() < 2 {
        return Err(bad("it needs at least two labels, such as example.com"));
    }
    for label in &labels {
        if label.is_empty() || label.len() > 63 {
            return Err(bad("every label must have 1 to 63 characters"));
        }
        if !label
            .bytes()
            .all(|byte| byte.is_ascii_lowercase() || byte.is_ascii_digit() || byte == b'-')
        {
            return Err(bad(
                "only ASCII letters, digits and '-' are allowed (use the punycode form of an internationalised name)",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(bad("a label cannot start or end with '-'"));
        }
    }
    if labels
        .last()
        .is_some_and(|tld| tld.bytes().all(|byte| byte.is_ascii_digit()))
    {
        return Err(bad("an IP address is not a domain"));
    }
    Ok(lower)
}

/// The name whose TXT record proves control of `domain`.
pub fn challenge_name(domain: &str) -> Result<String, DnsVerifyError> {
    Ok(format!("{CHALLENGE_LABEL}.{}", normalise_domain(domain)?))
}

/// Looks up challenge records through one configured DNS server.
pub struct TxtVerifier {
    resolver: Resolver<TokioRuntimeProvider>,
}

impl std::fmt::Debug for TxtVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TxtVerifier")
    }
}

impl TxtVerifier {
    /// A verifier asking the DNS server at `server` (UDP, then TCP for long answers), without a cache, so a
    /// record the publisher just fixed is seen on the next try.
    pub fn new(server: SocketAddr) -> Result<Self, DnsVerifyError> {
        let mut udp = ConnectionConfig::udp();
        udp.port = server.port();
        let mut tcp = ConnectionConfig::tcp();
        tcp.port = server.port();
        let config = ResolverConfig::from_name_servers(vec![NameServerConfig::new(
            server.ip(),
            true,
            vec![udp, tcp],
        )]);
        let mut options = ResolverOpts::default();
        options.cache_size = 0;
        options.attempts = 2;
        options.timeout = std::time::Duration::from_secs(3);
        let resolver = Resolver::builder_with_config(config, TokioRuntimeProvider::default())
            .with_options(options)
            .build()
            .map_err(|error| DnsVerifyError::Lookup {
                name: server.to_string(),
                reason: error.to_string(),
            })?;
        Ok(Self { resolver })
    }

    /// Succeeds when a TXT record at `_locara-challenge.<domain>` holds exactly `token`.
    pub async fn verify(&self, domain: &str, token: &str) -> Result<(), DnsVerifyError> {
        let name = challenge_name(domain)?;
        let lookup = match self.resolver.txt_lookup(format!("{name}.")).await {
            Ok(lookup) => lookup,
            Err(error) if error.is_no_records_found() || error.is_nx_domain() => {
                return Err(DnsVerifyError::NoRecord { name });
            }
            Err(error) => {
                return Err(DnsVerifyError::Lookup {
                    name,
                    reason: error.to_string(),
                });
            }
        };
        let found: Vec<String> = lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect();
        if found.is_empty() {
            return Err(DnsVerifyError::NoRecord { name });
        }
        if found.iter().any(|value| value.trim() == token) {
            Ok(())
        } else {
            Err(DnsVerifyError::WrongToken { name, found })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_are_checked_and_lowercased() {
        assert_eq!(normalise_domain("Acme.Example.").unwrap(), "acme.example");
        assert_eq!(
            challenge_name("acme.example").unwrap(),
            "_locara-challenge.acme.example"
        );
        for bad in [
            "",
            "localhost",
            "a..b",
            "-a.com",
            "a-.com",
            "exa mple.com",
            "ex_ample.com",
            "10.0.0.1",
            "bücher.de",
        ] {
            assert!(
                matches!(normalise_domain(bad), Err(DnsVerifyError::BadDomain { .. })),
                "{bad:?}"
            );
        }
        assert!(normalise_domain(&format!("{}.com", "a".repeat(64))).is_err());
    }
}
