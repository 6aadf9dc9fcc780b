//! Where the client keeps its files.
//!
//! With `LOCARA_HOME` set (and not empty) everything lives under it: `$LOCARA_HOME/config` and
//! `$LOCARA_HOME/data`. Otherwise the XDG base directories are used (through `etcetera`):
//! `$XDG_CONFIG_HOME/locara` (default `~/.config/locara`) and `$XDG_DATA_HOME/locara` (default
//! `~/.local/share/locara`). Both paths are absolute: a relative `LOCARA_HOME` is refused rather than
//! resolved against whatever directory the command happens to run in.
//!
//! Layout under the configuration directory:
//!
//! | path | content | mode |
//! |---|---|---|
//! | `registries.json` | configured registries, their pins, the default | 0644 |
//! | `registries/<name>/root/<N>.root.json` | every trusted root since the pinned one | 0644 |
//! | `credentials/<name>.token` | the API token for a registry | 0600, directory 0700 |
//! | `keys/<name>.key` | release signing keys | 0600, directory 0700 |
//! | `policy.toml` | the install policy (allow rules, update levels, minimum release age) | 0644 |
//!
//! Layout under the data directory: `state.sqlite3` (installed apps, grants, and per registry the last
//! checkpoint and revocation-list version seen), `store/sha256/<hex>/` (unpacked artifacts, read-only),
//! `bin/` (one launcher per installed app; put it on your `PATH`).
//!
//! The configuration directory itself is created 0700: it holds the secret directories.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use etcetera::BaseStrategy as _;

use crate::names::{KeyName, RegistryName};

/// The environment variable that relocates everything.
pub const LOCARA_HOME: &str = "LOCARA_HOME";

/// Why the client's directories could not be determined.
#[derive(Debug, thiserror::Error)]
pub enum DirsError {
    /// `LOCARA_HOME` is a relative path.
    #[error(
        "LOCARA_HOME is {found:?}, a relative path; set it to an absolute path (for example \"$PWD/{}\")",
        found.display()
    )]
    RelativeHome {
        /// The value it held.
        found: PathBuf,
    },
    /// Neither `LOCARA_HOME` is set nor a home directory is known.
    #[error(
        "cannot find your home directory to place Locara's files; set LOCARA_HOME to an absolute path"
    )]
    NoHome,
}

/// The client's configuration and data directories; both absolute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dirs {
    config: PathBuf,
    data: PathBuf,
}

impl Dirs {
    /// The directories for this process's environment (`LOCARA_HOME`, then XDG).
    pub fn from_environment() -> Result<Self, DirsError> {
        Self::from_home_variable(std::env::var_os(LOCARA_HOME))
    }

    /// The directories given `LOCARA_HOME`'s value (if set); XDG otherwise.
    pub fn from_home_variable(locara_home: Option<OsString>) -> Result<Self, DirsError> {
        match locara_home {
            Some(home) if !home.is_empty() => Self::under(Path::new(&home)),
            _ => {
                let base = etcetera::choose_base_strategy().map_err(|_| DirsError::NoHome)?;
                let (config, data) = (base.config_dir(), base.data_dir());
                if !config.is_absolute() || !data.is_absolute() {
                    return Err(DirsError::NoHome);
                }
                Ok(Self {
                    config: config.join("locara"),
                    data: data.join("locara"),
                })
            }
        }
    }

    /// The layout under one home directory, as with `LOCARA_HOME`; refuses a relative path.
    pub fn under(home: &Path) -> Result<Self, DirsError> {
        if !home.is_absolute() {
            return Err(DirsError::RelativeHome {
                found: home.to_owned(),
            });
        }
        Ok(Self {
            config: home.join("config"),
            data: home.join("data"),
        })
    }

    /// The configuration directory.
    pub fn config(&self) -> &Path {
        &self.config
    }

    /// The data directory (the install store and state will live here).
    pub fn data(&self) -> &Path {
        &self.data
    }

    /// `registries.json`: the configured registries.
    pub fn registries_file(&self) -> PathBuf {
        self.config.join("registries.json")
    }

    /// The directory holding every registry's trust state.
    pub fn registries_dir(&self) -> PathBuf {
        self.config.join("registries")
    }

    /// One registry's trust state: `registries/<name>`.
    pub fn registry_dir(&self, name: &RegistryName) -> PathBuf {
        self.registries_dir().join(name.as_str())
    }

    /// The directory of API tokens (0700).
    pub fn credentials_dir(&self) -> PathBuf {
        self.config.join("credentials")
    }

    /// The directory of release keys (0700).
    pub fn keys_dir(&self) -> PathBuf {
        self.config.join("keys")
    }

    /// A release key's file: `keys/<name>.key`.
    pub fn key_file(&self, name: &KeyName) -> PathBuf {
        self.keys_dir().join(format!("{name}.key"))
    }

    /// The policy file: `policy.toml` in the configuration directory.
    pub fn policy_file(&self) -> PathBuf {
        self.config.join("policy.toml")
    }

    /// The state database: `state.sqlite3` in the data directory.
    pub fn state_file(&self) -> PathBuf {
        self.data.join("state.sqlite3")
    }

    /// The content-addressed install store: `store/` in the data directory.
    pub fn store_dir(&self) -> PathBuf {
        self.data.join("store")
    }

    /// The launchers: `bin/` in the data directory (put it on your PATH).
    pub fn bin_dir(&self) -> PathBuf {
        self.data.join("bin")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locara_home_holds_config_and_data() {
        let dirs = Dirs::from_home_variable(Some("/srv/locara".into())).unwrap();
        assert_eq!(dirs.config(), Path::new("/srv/locara/config"));
        assert_eq!(dirs.data(), Path::new("/srv/locara/data"));
        assert_eq!(
            dirs.key_file(&"default".parse().unwrap()),
            Path::new("/srv/locara/config/keys/default.key")
        );
    }

    #[test]
    fn a_relative_locara_home_is_refused() {
        let error = Dirs::from_home_variable(Some("relative/dir".into())).unwrap_err();
        assert!(error.to_string().contains("absolute"), "{error}");
    }

    #[test]
    fn an_empty_locara_home_means_unset() {
        // Falls back to XDG, which is absolute wherever a home directory is known.
        if let Ok(dirs) = Dirs::from_home_variable(Some("".into())) {
            assert!(dirs.config().ends_with("locara"));
            assert!(dirs.config().is_absolute());
        }
    }
}
