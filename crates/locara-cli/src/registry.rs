//! Configured registries: their names, base URLs, pinned roots and which one is the default.
//!
//! The list lives in `<config>/registries.json`:
//!
//! ```json
//! {
//!   "format": 1,
//!   "default": "main",
//!   "registries": [
//!     { "name": "main", "url": "https://registry.example.com", "pinned_root": "sha256:…", "pinned_version": 1 }
//!   ]
//! }
//! ```
//!
//! Invariants: names are unique; `default` names a listed registry (or is absent when the list is empty);
//! the first registry added becomes the default. The file is parsed strictly (unknown members refused), so a
//! file from a newer client is never silently rewritten without what it added.

use std::fmt;
use std::fs;
use std::io;
use std::net::IpAddr;
use std::str::FromStr;

use locara_core::digest::Digest;
use reqwest::Url;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::dirs::Dirs;
use crate::files::{self, FileError, Privacy};
use crate::names::RegistryName;

/// The `format` of `registries.json` this client reads and writes.
pub const REGISTRIES_FORMAT: u32 = 1;

/// A registry's base URL: https, or plain http to a loopback host; no credentials, query or fragment.
///
/// Invariant: the URL has no trailing `/` in its path, so `<url>/root.json` joins cleanly.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RegistryUrl(Url);

/// Why a string is not a usable registry URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RegistryUrlError {
    /// The text is not a URL.
    #[error("{found:?} is not a URL ({reason}); write it like https://registry.example.com")]
    Malformed {
        /// The text that was given.
        found: String,
        /// What the parser objected to.
        reason: String,
    },
    /// The scheme is neither https nor http.
    #[error("registry URL {found} uses {scheme}:, but only https: is supported")]
    Scheme {
        /// The URL.
        found: String,
        /// Its scheme.
        scheme: String,
    },
    /// Plain http to a host that is not this machine.
    #[error(
        "registry URL {found} uses plain http to {host}, which is not this machine; anyone on the network path could change what the registry sends and read your token. Use https://, or http:// only for 127.0.0.1, ::1 or localhost"
    )]
    InsecureHttp {
        /// The URL.
        found: String,
        /// Its host.
        host: String,
    },
    /// The URL carries a user name or password.
    #[error(
        "registry URL {found} contains a user name or password; leave credentials out of the URL (`locara login` stores a token instead)"
    )]
    Credentials {
        /// The URL with the credentials removed.
        found: String,
    },
    /// The URL has a query or fragment.
    #[error(
        "registry URL {found} has a query or fragment; give the registry's base URL, for example https://registry.example.com"
    )]
    QueryOrFragment {
        /// The URL.
        found: String,
    },
}

impl RegistryUrl {
    /// The URL as text, without a trailing slash.
    pub fn as_str(&self) -> &str {
        self.0.as_str().trim_end_matches('/')
    }

    /// The parsed URL.
    pub fn url(&self) -> &Url {
        &self.0
    }

    /// `<base>/<path>`, for a path relative to the registry (no leading `/`).
    pub fn join(&self, path: &str) -> Url {
        let joined = format!("{}/{}", self.as_str(), path.trim_start_matches('/'));
        // The base is a valid http(s) URL without query or fragment, so appending a path keeps it valid.
        Url::parse(&joined).unwrap_or_else(|_| self.0.clone())
    }

    /// Whether the registry is on this machine (plain http allowed, no proxy used).
    pub fn is_loopback(&self) -> bool {
        is_loopback_url(&self.0)
    }
}

/// Whether `url`'s host is 127.0.0.0/8, ::1 or `localhost`.
pub fn is_loopback_url(url: &Url) -> bool {
    match url.host_str() {
        Some(host) => {
            let bare = host.trim_start_matches('[').trim_end_matches(']');
            bare.eq_ignore_ascii_case("localhost")
                || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
        }
        None => false,
    }
}

/// Whether the client may talk to `url` at all: https anywhere, plain http only to this machine.
pub fn transport_is_allowed(url: &Url) -> bool {
    match url.scheme() {
        "https" => true,
        "http" => is_loopback_url(url),
        _ => false,
    }
}

impl FromStr for RegistryUrl {
    type Err = RegistryUrlError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let shown = |url: &Url| url.as_str().trim_end_matches('/').to_owned();
        let mut url = Url::parse(text).map_err(|error| RegistryUrlError::Malformed {
            found: text.to_owned(),
            reason: error.to_string(),
        })?;
        if !url.username().is_empty() || url.password().is_some() {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            return Err(RegistryUrlError::Credentials { found: shown(&url) });
        }
        match url.scheme() {
            "https" => {}
            "http" if is_loopback_url(&url) => {}
            "http" => {
                return Err(RegistryUrlError::InsecureHttp {
                    found: shown(&url),
                    host: url.host_str().unwrap_or("").to_owned(),
                });
            }
            scheme => {
                return Err(RegistryUrlError::Scheme {
                    found: shown(&url),
                    scheme: scheme.to_owned(),
                });
            }
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err(RegistryUrlError::Malformed {
                found: text.to_owned(),
                reason: "it has no host".to_owned(),
            });
        }
        if url.query().is_some() || url.fragment().is_some() {
            return Err(RegistryUrlError::QueryOrFragment { found: shown(&url) });
        }
        let path = url.path().trim_end_matches('/').to_owned();
        url.set_path(&path);
        Ok(Self(url))
    }
}

impl fmt::Display for RegistryUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for RegistryUrl {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for RegistryUrl {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// One configured registry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// The local name.
    pub name: RegistryName,
    /// The base URL.
    pub url: RegistryUrl,
    /// The digest of the root the user pinned (the exact bytes of that `root.json`).
    pub pinned_root: Digest,
    /// The version of the pinned root; the stored chain starts there.
    pub pinned_version: u64,
}

/// Why the registry list could not be read, written or changed.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// Reading or writing `registries.json` failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// `registries.json` is not a registry list this client understands.
    #[error(
        "{path} is not a registry list this client understands: {reason}; fix or remove it (then add the registries again)"
    )]
    Corrupt {
        /// The file.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A registry of that name is already configured.
    #[error(
        "a registry named {name} is already configured ({url}); choose another name, or run `locara registry remove {name}` first"
    )]
    Duplicate {
        /// The name.
        name: RegistryName,
        /// The URL it has.
        url: RegistryUrl,
    },
    /// No registry of that name is configured.
    #[error(
        "no registry named {name} is configured; configured: {}; see `locara registry list`",
        list_names(known)
    )]
    Unknown {
        /// The name asked for.
        name: RegistryName,
        /// The names that are configured.
        known: Vec<RegistryName>,
    },
    /// No registry is configured at all.
    #[error(
        "no registry is configured; add one with `locara registry add NAME URL --root DIGEST` (the digest is printed by the registry as `root.json: sha256:…`)"
    )]
    NoneConfigured,
}

fn list_names(names: &[RegistryName]) -> String {
    if names.is_empty() {
        return "none".to_owned();
    }
    names
        .iter()
        .map(RegistryName::as_str)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The configured registries, as stored in `registries.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registries {
    format: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    default: Option<RegistryName>,
    registries: Vec<RegistryEntry>,
}

impl Default for Registries {
    fn default() -> Self {
        Self {
            format: REGISTRIES_FORMAT,
            default: None,
            registries: Vec::new(),
        }
    }
}

impl Registries {
    /// Reads `registries.json`; an absent file is an empty list.
    pub fn load(dirs: &Dirs) -> Result<Self, RegistryError> {
        let path = dirs.registries_file();
        let bytes = match fs::read(&path) {
            Ok(bytes) => bytes,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Self::default()),
            Err(error) => return Err(FileError::new("read", &path, error).into()),
        };
        let corrupt = |reason: String| RegistryError::Corrupt {
            path: path.display().to_string(),
            reason,
        };
        let registries: Self =
            serde_json::from_slice(&bytes).map_err(|error| corrupt(error.to_string()))?;
        if registries.format != REGISTRIES_FORMAT {
            return Err(corrupt(format!(
                "it has format {}, this client reads format {REGISTRIES_FORMAT} (a newer Locara wrote it?)",
                registries.format
            )));
        }
        let mut seen = std::collections::BTreeSet::new();
        for entry in &registries.registries {
            if !seen.insert(&entry.name) {
                return Err(corrupt(format!("it lists {} twice", entry.name)));
            }
        }
        match &registries.default {
            Some(default) if !seen.contains(default) => {
                return Err(corrupt(format!(
                    "its default {default} is not a listed registry"
                )));
            }
            None if !registries.registries.is_empty() => {
                return Err(corrupt("it lists registries but no default".to_owned()));
            }
            _ => {}
        }
        Ok(registries)
    }

    /// Writes `registries.json` atomically, creating the configuration directory (0700) if needed.
    pub fn save(&self, dirs: &Dirs) -> Result<(), RegistryError> {
        files::ensure_directory(dirs.config(), Privacy::Secret)?;
        let mut bytes = serde_json::to_vec_pretty(self)
            .expect("the registry list is plain data and always serialises");
        bytes.push(b'\n');
        files::write_atomically(&dirs.registries_file(), &bytes, Privacy::Public)?;
        Ok(())
    }

    /// Every configured registry, in the order they were added.
    pub fn entries(&self) -> &[RegistryEntry] {
        &self.registries
    }

    /// The default registry's name, if any registry is configured.
    pub fn default_name(&self) -> Option<&RegistryName> {
        self.default.as_ref()
    }

    /// The registry named `name`, if configured.
    pub fn get(&self, name: &RegistryName) -> Option<&RegistryEntry> {
        self.registries.iter().find(|entry| &entry.name == name)
    }

    /// The registry a command uses: `--registry NAME` if given, otherwise the default.
    pub fn select(&self, name: Option<&RegistryName>) -> Result<&RegistryEntry, RegistryError> {
        let name = match name {
            Some(name) => name,
            None => self.default.as_ref().ok_or(RegistryError::NoneConfigured)?,
        };
        self.get(name).ok_or_else(|| self.unknown(name))
    }

    /// Adds a registry; the first one added becomes the default. Refuses a duplicate name.
    pub fn add(&mut self, entry: RegistryEntry) -> Result<(), RegistryError> {
        if let Some(existing) = self.get(&entry.name) {
            return Err(RegistryError::Duplicate {
                name: entry.name.clone(),
                url: existing.url.clone(),
            });
        }
        if self.default.is_none() {
            self.default = Some(entry.name.clone());
        }
        self.registries.push(entry);
        Ok(())
    }

    /// Removes a registry; if it was the default, the first remaining one becomes the default.
    pub fn remove(&mut self, name: &RegistryName) -> Result<RegistryEntry, RegistryError> {
        let Some(index) = self.registries.iter().position(|entry| &entry.name == name) else {
            return Err(self.unknown(name));
        };
        let removed = self.registries.remove(index);
        if self.default.as_ref() == Some(name) {
            self.default = self.registries.first().map(|entry| entry.name.clone());
        }
        Ok(removed)
    }

    /// Makes `name` the default registry.
    pub fn set_default(&mut self, name: &RegistryName) -> Result<(), RegistryError> {
        if self.get(name).is_none() {
            return Err(self.unknown(name));
        }
        self.default = Some(name.clone());
        Ok(())
    }

    fn unknown(&self, name: &RegistryName) -> RegistryError {
        if self.registries.is_empty() {
            return RegistryError::NoneConfigured;
        }
        RegistryError::Unknown {
            name: name.clone(),
            known: self
                .registries
                .iter()
                .map(|entry| entry.name.clone())
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Result<RegistryUrl, RegistryUrlError> {
        text.parse()
    }

    fn entry(name: &str) -> RegistryEntry {
        RegistryEntry {
            name: name.parse().unwrap(),
            url: url("https://registry.example.com").unwrap(),
            pinned_root: Digest::of_bytes(name.as_bytes()),
            pinned_version: 1,
        }
    }

    #[test]
    fn accepts_https_and_loopback_http() {
        for text in [
            "https://registry.example.com",
            "https://registry.example.com/",
            "https://example.com/locara/",
            "http://127.0.0.1:7070",
            "http://127.3.4.5",
            "http://[::1]:8080",
            "http://localhost:7070",
            "http://LOCALHOST",
        ] {
            let parsed = url(text).unwrap_or_else(|error| panic!("{text}: {error}"));
            assert!(!parsed.as_str().ends_with('/'), "{parsed}");
        }
        assert_eq!(
            url("https://example.com/locara/")
                .unwrap()
                .join("root.json")
                .as_str(),
            "https://example.com/locara/root.json"
        );
        assert_eq!(
            url("http://127.0.0.1:7070")
                .unwrap()
                .join("root/2.root.json")
                .as_str(),
            "http://127.0.0.1:7070/root/2.root.json"
        );
    }

    #[test]
    fn refuses_plain_http_to_other_hosts_and_explains() {
        for text in [
            "http://registry.example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "http://[::2]",
        ] {
            let error = url(text).unwrap_err();
            assert!(
                matches!(error, RegistryUrlError::InsecureHttp { .. }),
                "{text}: {error}"
            );
            assert!(error.to_string().contains("https://"), "{error}");
        }
    }

    #[test]
    fn refuses_other_schemes_credentials_queries_and_garbage() {
        assert!(matches!(
            url("ftp://example.com"),
            Err(RegistryUrlError::Scheme { .. })
        ));
        assert!(matches!(
            url("file:///tmp"),
            Err(RegistryUrlError::Scheme { .. })
        ));
        let error = url("https://user:hunter2@example.com").unwrap_err();
        assert!(matches!(error, RegistryUrlError::Credentials { .. }));
        assert!(!error.to_string().contains("hunter2"), "{error}");
        assert!(matches!(
            url("https://example.com/?a=b"),
            Err(RegistryUrlError::QueryOrFragment { .. })
        ));
        assert!(matches!(
            url("https://example.com/#x"),
            Err(RegistryUrlError::QueryOrFragment { .. })
        ));
        assert!(matches!(
            url("registry.example.com"),
            Err(RegistryUrlError::Malformed { .. })
        ));
    }

    #[test]
    fn the_first_registry_added_is_the_default_and_removal_moves_it() {
        let mut registries = Registries::default();
        assert!(matches!(
            registries.select(None),
            Err(RegistryError::NoneConfigured)
        ));
        registries.add(entry("one")).unwrap();
        registries.add(entry("two")).unwrap();
        registries.add(entry("three")).unwrap();
        assert_eq!(registries.select(None).unwrap().name.as_str(), "one");
        registries.set_default(&"three".parse().unwrap()).unwrap();
        assert_eq!(registries.select(None).unwrap().name.as_str(), "three");
        registries.remove(&"three".parse().unwrap()).unwrap();
        assert_eq!(registries.default_name().unwrap().as_str(), "one");
        registries.remove(&"one".parse().unwrap()).unwrap();
        registries.remove(&"two".parse().unwrap()).unwrap();
        assert_eq!(registries.default_name(), None);
    }

    #[test]
    fn refuses_duplicates_and_unknown_names_naming_what_exists() {
        let mut registries = Registries::default();
        registries.add(entry("main")).unwrap();
        assert!(matches!(
            registries.add(entry("main")),
            Err(RegistryError::Duplicate { .. })
        ));
        let error = registries
            .select(Some(&"other".parse().unwrap()))
            .unwrap_err();
        assert!(error.to_string().contains("configured: main"), "{error}");
    }

    #[test]
    fn the_file_round_trips_and_is_read_strictly() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs::under(dir.path()).unwrap();
        assert_eq!(Registries::load(&dirs).unwrap(), Registries::default());
        let mut registries = Registries::default();
        registries.add(entry("main")).unwrap();
        registries.save(&dirs).unwrap();
        assert_eq!(Registries::load(&dirs).unwrap(), registries);

        let mut value: serde_json::Value =
            serde_json::from_slice(&fs::read(dirs.registries_file()).unwrap()).unwrap();
        value["surprise"] = serde_json::json!(true);
        fs::write(dirs.registries_file(), value.to_string()).unwrap();
        let error = Registries::load(&dirs).unwrap_err();
        assert!(error.to_string().contains("surprise"), "{error}");

        value.as_object_mut().unwrap().remove("surprise");
        value["default"] = serde_json::json!("gone");
        fs::write(dirs.registries_file(), value.to_string()).unwrap();
        let error = Registries::load(&dirs).unwrap_err();
        assert!(error.to_string().contains("default gone"), "{error}");
    }
}
