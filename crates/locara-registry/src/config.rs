//! The registry's configuration: one struct, defaults in one place, layered file → environment → flags.
//!
//! Every setting, its default and its environment variable are listed in `docs/registry.md`; keep that table
//! and [`Config::default`] in step.

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The prefix of every environment variable the registry reads.
pub const ENV_PREFIX: &str = "LOCARA_REGISTRY_";

/// The registry's settings.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Address and port to listen on.
    pub listen: SocketAddr,
    /// Directory for the database, blobs, keys and roots.
    pub data: PathBuf,
    /// The URL clients use to reach this registry; defaults to `http://<listen>`.
    pub public_url: Option<String>,
    /// The transparency log's origin line; defaults to the public URL without its scheme, plus `/log`.
    /// Fixed by the first `root.json`: changing it later has no effect on an existing data directory.
    pub log_origin: Option<String>,
    /// How long the development `root.json` made on first start stays valid, in days.
    pub root_expiry_days: u32,
    /// How long a signed `timestamp.json` is valid, in hours: clients refuse an older view (DESIGN §5).
    pub freshness_hours: u32,
    /// How often `timestamp.json` is re-signed, in seconds; must be well under the freshness limit.
    pub timestamp_interval_seconds: u64,
    /// The DNS server (address:port) that publisher domain challenges are checked through; defaults to the
    /// first `nameserver` in `/etc/resolv.conf`.
    pub dns_resolver: Option<SocketAddr>,
    /// How long a login session token lasts, in days.
    pub session_days: u32,
    /// The longest lifetime an API token may be given, in days.
    pub token_max_days: u32,
    /// How long a token from trusted publishing (an exchanged OIDC token) lasts, in minutes.
    pub trusted_publishing_minutes: u32,
    /// Allow OIDC issuers at plain `http://` loopback URLs (for tests and local CI only).
    pub oidc_allow_http_loopback: bool,
    /// The largest API request body, in bytes.
    pub max_body_bytes: usize,
    /// How long one request may take before it is cut off, in seconds.
    pub request_timeout_seconds: u64,
    /// How long a release whose capabilities expand the latest available release's waits, in seconds.
    pub cooldown_seconds: u64,
    /// The oldest release statement accepted, in seconds since it was signed (replays of old statements
    /// are refused).
    pub statement_max_age_seconds: u64,
    /// Build workers inside `serve` (0: builds run only in `locara-registry worker` processes).
    pub build_workers: u32,
    /// A build's wall-clock limit, in seconds; the whole process group is killed at the limit.
    pub build_timeout_seconds: u64,
    /// The most build log kept per build, in bytes; a build writing more is stopped.
    pub build_log_max_bytes: u64,
    /// The largest artifact accepted, in bytes.
    pub build_max_artifact_bytes: u64,
    /// Most processes and threads a build may have at once; reaching the limit stops the build.
    pub build_max_processes: u64,
    /// Most memory each process of a build may allocate, in bytes.
    pub build_max_memory_bytes: u64,
    /// Most bytes a build's checkout and scratch directory may hold together; more stops the build.
    pub build_max_disk_bytes: u64,
    /// Build even where the sandbox lacks a required protection (no Landlock file rules, or the host's
    /// named UNIX sockets reachable because neither a mount namespace nor Landlock's socket rules can be
    /// had). Default `false`: such builds are refused.
    pub build_allow_weaker_isolation: bool,
    /// Refuse releases whose two builds differ (default: accept them, labelled not reproducible).
    pub require_reproducible: bool,
    /// How long a worker holds a build without renewing its lease (it renews every third of it); a killed
    /// worker's build is taken over this long after its last renewal.
    pub build_lease_seconds: u64,
    /// Reverse proxies whose `X-Forwarded-For` header names the client (ADR 0067). Empty (the default):
    /// the client address is the connection's peer address and the header is ignored.
    pub trusted_proxies: Vec<IpAddr>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 7070)),
            data: PathBuf::from("locara-data"),
            public_url: None,
            log_origin: None,
            root_expiry_days: 365,
            freshness_hours: 24,
            timestamp_interval_seconds: 3600,
            dns_resolver: None,
            session_days: 30,
            token_max_days: 365,
            trusted_publishing_minutes: 15,
            oidc_allow_http_loopback: false,
            max_body_bytes: 64 * 1024,
            request_timeout_seconds: 30,
            cooldown_seconds: 72 * 3600,
            statement_max_age_seconds: 3600,
            build_workers: 1,
            build_timeout_seconds: 900,
            build_log_max_bytes: 1024 * 1024,
            build_max_artifact_bytes: 512 * 1024 * 1024,
            build_max_processes: 1024,
            build_max_memory_bytes: 4 << 30,
            build_max_disk_bytes: 8 << 30,
            build_allow_weaker_isolation: false,
            require_reproducible: false,
            build_lease_seconds: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Why the configuration could not be assembled.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration file could not be read.
    #[error("cannot read the configuration file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The configuration file is not valid.
    #[error("configuration file {path}: {message}")]
    File {
        /// The file.
        path: PathBuf,
        /// What the TOML parser said, with the line and column.
        message: String,
    },
    /// An environment variable holds a value of the wrong kind.
    #[error("environment variable {variable}={value:?} is not valid: expected {expected}")]
    Environment {
        /// The variable.
        variable: String,
        /// Its value.
        value: String,
        /// What would be valid.
        expected: &'static str,
    },
    /// An environment variable with the registry's prefix is not a setting.
    #[error(
        "environment variable {variable} is not a registry setting; known: LOCARA_REGISTRY_CONFIG, LOCARA_REGISTRY_LISTEN, LOCARA_REGISTRY_DATA, LOCARA_REGISTRY_PUBLIC_URL, LOCARA_REGISTRY_LOG_ORIGIN, LOCARA_REGISTRY_ROOT_EXPIRY_DAYS, LOCARA_REGISTRY_FRESHNESS_HOURS, LOCARA_REGISTRY_TIMESTAMP_INTERVAL_SECONDS, LOCARA_REGISTRY_DNS_RESOLVER, LOCARA_REGISTRY_SESSION_DAYS, LOCARA_REGISTRY_TOKEN_MAX_DAYS, LOCARA_REGISTRY_TRUSTED_PUBLISHING_MINUTES, LOCARA_REGISTRY_OIDC_ALLOW_HTTP_LOOPBACK, LOCARA_REGISTRY_MAX_BODY_BYTES, LOCARA_REGISTRY_REQUEST_TIMEOUT_SECONDS, LOCARA_REGISTRY_COOLDOWN_SECONDS, LOCARA_REGISTRY_STATEMENT_MAX_AGE_SECONDS, LOCARA_REGISTRY_BUILD_WORKERS, LOCARA_REGISTRY_BUILD_TIMEOUT_SECONDS, LOCARA_REGISTRY_BUILD_LOG_MAX_BYTES, LOCARA_REGISTRY_BUILD_MAX_ARTIFACT_BYTES, LOCARA_REGISTRY_REQUIRE_REPRODUCIBLE, LOCARA_REGISTRY_BUILD_LEASE_SECONDS, LOCARA_REGISTRY_TRUSTED_PROXIES"
    )]
    UnknownVariable {
        /// The variable.
        variable: String,
    },
    /// A setting's value is out of range.
    #[error("setting {setting} = {value:?} is not valid: {expected}")]
    Invalid {
        /// The setting's name.
        setting: &'static str,
        /// Its value.
        value: String,
        /// What would be valid.
        expected: &'static str,
    },
}

/// Settings given on the command line; they override the file and the environment.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<SocketAddr>,
    /// `--data`.
    pub data: Option<PathBuf>,
}

impl Config {
    /// Reads a TOML configuration file; keys missing from it keep their defaults, unknown keys are errors.
    pub fn from_file(path: &Path) -> Result<Self, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        toml::from_str(&text).map_err(|error| ConfigError::File {
            path: path.to_owned(),
            message: error.to_string(),
        })
    }

    /// Defaults, then the file (`file`, or `LOCARA_REGISTRY_CONFIG`), then the environment, then `flags`.
    pub fn load(
        file: Option<&Path>,
        environment: impl IntoIterator<Item = (String, String)>,
        flags: &Overrides,
    ) -> Result<Self, ConfigError> {
        let environment: Vec<(String, String)> = environment
            .into_iter()
            .filter(|(name, _)| name.starts_with(ENV_PREFIX))
            .collect();
        let file_from_env = environment
            .iter()
            .find(|(name, _)| name == "LOCARA_REGISTRY_CONFIG")
            .map(|(_, value)| PathBuf::from(value));
        let mut config = match file.map(Path::to_owned).or(file_from_env) {
            Some(path) => Self::from_file(&path)?,
            None => Self::default(),
        };
        for (variable, value) in environment {
            config.apply_environment(&variable, value)?;
        }
        if let Some(listen) = flags.listen {
            config.listen = listen;
        }
        if let Some(data) = &flags.data {
            config.data = data.clone();
        }
        config.check()?;
        Ok(config)
    }

    fn apply_environment(&mut self, variable: &str, value: String) -> Result<(), ConfigError> {
        let invalid = |expected| ConfigError::Environment {
            variable: variable.to_owned(),
            value: value.clone(),
            expected,
        };
        match &variable[ENV_PREFIX.len()..] {
            "CONFIG" => {}
            "LISTEN" => {
                self.listen = value
                    .parse()
                    .map_err(|_| invalid("an address and port such as 127.0.0.1:7070"))?
            }
            "DATA" => self.data = PathBuf::from(&value),
            "PUBLIC_URL" => self.public_url = Some(value),
            "LOG_ORIGIN" => self.log_origin = Some(value),
            "ROOT_EXPIRY_DAYS" => {
                self.root_expiry_days = value
                    .parse()
                    .map_err(|_| invalid("a whole number of days, such as 365"))?
            }
            "FRESHNESS_HOURS" => {
                self.freshness_hours = value
                    .parse()
                    .map_err(|_| invalid("a whole number of hours, such as 24"))?
            }
            "TIMESTAMP_INTERVAL_SECONDS" => {
                self.timestamp_interval_seconds = value
                    .parse()
                    .map_err(|_| invalid("a whole number of seconds, such as 3600"))?
            }
            "DNS_RESOLVER" => {
                self.dns_resolver = Some(
                    value
                        .parse()
                        .map_err(|_| invalid("an address and port such as 127.0.0.1:53"))?,
                )
            }
            "SESSION_DAYS" => {
                self.session_days = value
                    .parse()
                    .map_err(|_| invalid("a whole number of days, such as 30"))?
            }
            "TOKEN_MAX_DAYS" => {
                self.token_max_days = value
                    .parse()
                    .map_err(|_| invalid("a whole number of days, such as 365"))?
            }
            "TRUSTED_PUBLISHING_MINUTES" => {
                self.trusted_publishing_minutes = value
                    .parse()
                    .map_err(|_| invalid("a whole number of minutes, such as 15"))?
            }
            "OIDC_ALLOW_HTTP_LOOPBACK" => {
                self.oidc_allow_http_loopback =
                    value.parse().map_err(|_| invalid("true or false"))?
            }
            "MAX_BODY_BYTES" => {
                self.max_body_bytes = value
                    .parse()
                    .map_err(|_| invalid("a whole number of bytes, such as 65536"))?
            }
            "REQUEST_TIMEOUT_SECONDS" => {
                self.request_timeout_seconds = value
                    .parse()
                    .map_err(|_| invalid("a whole number of seconds, such as 30"))?
            }
            "COOLDOWN_SECONDS" => {
                self.cooldown_seconds = value
                    .parse()
                    .map_err(|_| invalid("a whole number of seconds, such as 259200 (72 hours)"))?
            }
            "STATEMENT_MAX_AGE_SECONDS" => {
                self.statement_max_age_seconds = value
                    .parse()
                    .map_err(|_| invalid("a whole number of seconds, such as 3600"))?
            }
            "BUILD_WORKERS" => {
                self.build_workers = value
                    .parse()
                    .map_err(|_| invalid("a whole number, such as 1"))?
            }
            "BUILD_TIMEOUT_SECONDS" => {
                self.build_timeout_seconds = value
                    .parse()
                    .map_err(|_| invalid("a whole number of seconds, such as 900"))?
            }
            "BUILD_LOG_MAX_BYTES" => {
                self.build_log_max_bytes = value
                    .parse()
                    .map_err(|_| invalid("a whole number of bytes, such as 1048576"))?
            }
            "BUILD_LEASE_SECONDS" => {
                self.build_lease_seconds = value
                    .parse()
                    .map_err(|_| invalid("a whole number of seconds, such as 60"))?
            }
            "BUILD_MAX_PROCESSES" => {
                self.build_max_processes = value
                    .parse()
                    .map_err(|_| invalid("a whole number, such as 1024"))?
            }
            "BUILD_MAX_MEMORY_BYTES" => {
                self.build_max_memory_bytes = value
                    .parse()
                    .map_err(|_| invalid("a whole number of bytes, such as 4294967296"))?
            }
            "BUILD_MAX_DISK_BYTES" => {
                self.build_max_disk_bytes = value
                    .parse()
                    .map_err(|_| invalid("a whole number of bytes, such as 8589934592"))?
            }
            "BUILD_ALLOW_WEAKER_ISOLATION" => {
                self.build_allow_weaker_isolation =
                    value.parse().map_err(|_| invalid("true or false"))?
            }
            "REQUIRE_REPRODUCIBLE" => {
                self.require_reproducible = value.parse().map_err(|_| invalid("true or false"))?
            }
            "TRUSTED_PROXIES" => {
                self.trusted_proxies = value
                    .split(',')
                    .map(str::trim)
                    .filter(|address| !address.is_empty())
                    .map(str::parse)
                    .collect::<Result<_, _>>()
                    .map_err(|_| {
                        invalid("comma-separated IP addresses, such as 10.0.0.1,10.0.0.2")
                    })?
            }
            "BUILD_MAX_ARTIFACT_BYTES" => {
                self.build_max_artifact_bytes = value
                    .parse()
                    .map_err(|_| invalid("a whole number of bytes, such as 536870912"))?
            }
            _ => {
                return Err(ConfigError::UnknownVariable {
                    variable: variable.to_owned(),
                });
            }
        }
        Ok(())
    }

    fn check(&self) -> Result<(), ConfigError> {
        if !(1..=3650).contains(&self.root_expiry_days) {
            return Err(ConfigError::Invalid {
                setting: "root_expiry_days",
                value: self.root_expiry_days.to_string(),
                expected: "between 1 and 3650 days",
            });
        }
        if !(1..=24 * 30).contains(&self.freshness_hours) {
            return Err(ConfigError::Invalid {
                setting: "freshness_hours",
                value: self.freshness_hours.to_string(),
                expected: "between 1 and 720 hours",
            });
        }
        // At least two re-signings fit in the freshness limit, so one failed run never lets it lapse.
        if self.timestamp_interval_seconds == 0
            || self.timestamp_interval_seconds * 2 > u64::from(self.freshness_hours) * 3600
        {
            return Err(ConfigError::Invalid {
                setting: "timestamp_interval_seconds",
                value: self.timestamp_interval_seconds.to_string(),
                expected: "at least 1 and at most half of freshness_hours",
            });
        }
        for (setting, value, range, expected) in [
            (
                "session_days",
                u64::from(self.session_days),
                1..=365,
                "between 1 and 365 days",
            ),
            (
                "token_max_days",
                u64::from(self.token_max_days),
                1..=3650,
                "between 1 and 3650 days",
            ),
            (
                "trusted_publishing_minutes",
                u64::from(self.trusted_publishing_minutes),
                1..=60,
                "between 1 and 60 minutes",
            ),
            (
                "max_body_bytes",
                self.max_body_bytes as u64,
                1024..=16 * 1024 * 1024,
                "between 1024 and 16777216 bytes",
            ),
            (
                "request_timeout_seconds",
                self.request_timeout_seconds,
                1..=600,
                "between 1 and 600 seconds",
            ),
            (
                "cooldown_seconds",
                self.cooldown_seconds,
                0..=90 * 86_400,
                "between 0 and 7776000 seconds (90 days)",
            ),
            (
                "statement_max_age_seconds",
                self.statement_max_age_seconds,
                60..=7 * 86_400,
                "between 60 seconds and 7 days",
            ),
            (
                "build_workers",
                u64::from(self.build_workers),
                0..=64,
                "between 0 and 64",
            ),
            (
                "build_timeout_seconds",
                self.build_timeout_seconds,
                1..=24 * 3600,
                "between 1 second and 24 hours",
            ),
            (
                "build_log_max_bytes",
                self.build_log_max_bytes,
                1024..=1024 * 1024 * 1024,
                "between 1 KiB and 1 GiB",
            ),
            (
                "build_max_artifact_bytes",
                self.build_max_artifact_bytes,
                1024..=16 * 1024 * 1024 * 1024,
                "between 1 KiB and 16 GiB",
            ),
            (
                "build_max_processes",
                self.build_max_processes,
                16..=1_000_000,
                "between 16 and 1000000",
            ),
            (
                "build_max_memory_bytes",
                self.build_max_memory_bytes,
                64 << 20..=1 << 40,
                "between 64 MiB and 1 TiB",
            ),
            (
                "build_max_disk_bytes",
                self.build_max_disk_bytes,
                1 << 20..=1 << 44,
                "between 1 MiB and 16 TiB",
            ),
        ] {
            if !range.contains(&value) {
                return Err(ConfigError::Invalid {
                    setting,
                    value: value.to_string(),
                    expected,
                });
            }
        }
        if let Some(url) = &self.public_url
            && !(url.starts_with("http://") || url.starts_with("https://"))
        {
            return Err(ConfigError::Invalid {
                setting: "public_url",
                value: url.clone(),
                expected: "an http:// or https:// URL",
            });
        }
        if let Some(origin) = &self.log_origin
            && (origin.trim().is_empty() || origin.contains(char::is_whitespace))
        {
            return Err(ConfigError::Invalid {
                setting: "log_origin",
                value: origin.clone(),
                expected: "a non-empty origin line without spaces, such as registry.example.com/log",
            });
        }
        Ok(())
    }

    /// The URL clients use, given the address actually bound (which differs from `listen` for port 0).
    pub fn public_url_for(&self, bound: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_owned(),
            None => format!("http://{bound}"),
        }
    }

    /// The log origin for a new root, given the public URL.
    pub fn log_origin_for(&self, public_url: &str) -> String {
        match &self.log_origin {
            Some(origin) => origin.clone(),
            None => {
                let without_scheme = public_url
                    .trim_start_matches("https://")
                    .trim_start_matches("http://");
                format!("{without_scheme}/log")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    #[test]
    fn defaults_need_no_configuration() {
        let config = Config::load(None, env(&[("HOME", "/root")]), &Overrides::default()).unwrap();
        assert_eq!(config, Config::default());
        assert_eq!(config.listen.to_string(), "127.0.0.1:7070");
        assert_eq!(config.data, PathBuf::from("locara-data"));
    }

    #[test]
    fn file_then_environment_then_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:8000\"\ndata = \"/srv/a\"\nroot_expiry_days = 30\n",
        )
        .unwrap();
        let from_file = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(from_file.listen.port(), 8000);
        assert_eq!(from_file.root_expiry_days, 30);

        let with_env = Config::load(
            Some(&file),
            env(&[
                ("LOCARA_REGISTRY_LISTEN", "127.0.0.1:9000"),
                ("LOCARA_REGISTRY_DATA", "/srv/b"),
            ]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(with_env.listen.port(), 9000);
        assert_eq!(with_env.data, PathBuf::from("/srv/b"));
        assert_eq!(with_env.root_expiry_days, 30);

        let with_flags = Config::load(
            Some(&file),
            env(&[("LOCARA_REGISTRY_LISTEN", "127.0.0.1:9000")]),
            &Overrides {
                listen: Some("127.0.0.1:9100".parse().unwrap()),
                data: Some(PathBuf::from("/srv/c")),
            },
        )
        .unwrap();
        assert_eq!(with_flags.listen.port(), 9100);
        assert_eq!(with_flags.data, PathBuf::from("/srv/c"));
    }

    #[test]
    fn trusted_proxies_come_from_the_file_or_a_comma_separated_variable() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.toml");
        std::fs::write(&file, "trusted_proxies = [\"10.0.0.1\", \"::1\"]\n").unwrap();
        let config = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap();
        assert_eq!(
            config.trusted_proxies,
            [
                "10.0.0.1".parse::<IpAddr>().unwrap(),
                "::1".parse().unwrap()
            ]
        );
        let config = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_TRUSTED_PROXIES", "10.0.0.2, 10.0.0.3")]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.trusted_proxies.len(), 2);
        let error = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_TRUSTED_PROXIES", "proxy.example")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("comma-separated IP addresses"),
            "{error}"
        );
    }

    #[test]
    fn the_config_file_can_come_from_the_environment() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.toml");
        std::fs::write(&file, "root_expiry_days = 7\n").unwrap();
        let config = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_CONFIG", file.to_str().unwrap())]),
            &Overrides::default(),
        )
        .unwrap();
        assert_eq!(config.root_expiry_days, 7);
    }

    #[test]
    fn unknown_keys_and_variables_are_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("registry.toml");
        std::fs::write(&file, "listne = \"127.0.0.1:1\"\n").unwrap();
        let error = Config::load(Some(&file), env(&[]), &Overrides::default()).unwrap_err();
        assert!(error.to_string().contains("listne"), "{error}");
        assert!(error.to_string().contains("line 1"), "{error}");

        let error = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_LISTNE", "x")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            matches!(error, ConfigError::UnknownVariable { .. }),
            "{error}"
        );
    }

    #[test]
    fn bad_values_name_the_variable_and_what_is_valid() {
        let error = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_LISTEN", "localhost")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            error.to_string().contains("LOCARA_REGISTRY_LISTEN"),
            "{error}"
        );
        assert!(error.to_string().contains("127.0.0.1:7070"), "{error}");
        let error = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_ROOT_EXPIRY_DAYS", "0")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(matches!(error, ConfigError::Invalid { .. }), "{error}");
        let error = Config::load(
            None,
            env(&[
                ("LOCARA_REGISTRY_FRESHNESS_HOURS", "1"),
                ("LOCARA_REGISTRY_TIMESTAMP_INTERVAL_SECONDS", "3600"),
            ]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    setting: "timestamp_interval_seconds",
                    ..
                }
            ),
            "{error}"
        );
        let error = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_PUBLIC_URL", "ftp://x")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(matches!(error, ConfigError::Invalid { .. }), "{error}");
    }

    #[test]
    fn the_cooldown_is_in_seconds_from_zero_to_ninety_days() {
        assert_eq!(Config::default().cooldown_seconds, 259_200);
        for (value, expected) in [("0", Some(0)), ("5", Some(5)), ("7776000", Some(7_776_000))] {
            let config = Config::load(
                None,
                env(&[("LOCARA_REGISTRY_COOLDOWN_SECONDS", value)]),
                &Overrides::default(),
            );
            assert_eq!(config.ok().map(|config| config.cooldown_seconds), expected);
        }
        let error = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_COOLDOWN_SECONDS", "7776001")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            matches!(
                error,
                ConfigError::Invalid {
                    setting: "cooldown_seconds",
                    ..
                }
            ),
            "{error}"
        );
        let error = Config::load(
            None,
            env(&[("LOCARA_REGISTRY_COOLDOWN_HOURS", "72")]),
            &Overrides::default(),
        )
        .unwrap_err();
        assert!(
            matches!(error, ConfigError::UnknownVariable { .. }),
            "{error}"
        );
    }

    #[test]
    fn the_log_origin_defaults_to_the_public_url() {
        let config = Config::default();
        let url = config.public_url_for("127.0.0.1:7070".parse().unwrap());
        assert_eq!(url, "http://127.0.0.1:7070");
        assert_eq!(config.log_origin_for(&url), "127.0.0.1:7070/log");
        let config = Config {
            public_url: Some("https://registry.example.com/".to_owned()),
            ..Config::default()
        };
        let url = config.public_url_for("127.0.0.1:7070".parse().unwrap());
        assert_eq!(url, "https://registry.example.com");
        assert_eq!(config.log_origin_for(&url), "registry.example.com/log");
    }
}
