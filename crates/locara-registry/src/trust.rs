//! The registry's root of trust on disk: role keys, every `root.json` version, and the first-start set-up.
//!
//! Layout under the data directory:
//! - `keys/<role>.key`: the role keys this server holds (Locara key files, mode 0600). A development set-up
//!   holds one key per role, the root key included; a production server holds only the online roles
//!   (`log`, `index`, `security`, `timestamp`, `builder`), its root having been signed offline.
//! - `root/<version>.root.json`: every root version, exactly as signed, never rewritten.
//!
//! Invariants: the roots on disk form a valid rotation chain from version 1 and the latest is unexpired;
//! every key the server loads is a key of its role in the latest root; the log's note signer is the log
//! role's key under the root's log origin. A start that finds anything else refuses to serve, naming the
//! file, rather than serving metadata that clients would reject.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use locara_core::digest::Digest;
use locara_core::keys::{KeyFileError, SigningKey};
use locara_core::log::{NoteError, SignerKey};
use locara_core::root::{LogEntry, Role, Root, RootError, RootMetadata, walk_root_chain};
use locara_core::time::Timestamp;

/// The roles whose keys a running registry uses to sign.
pub const ONLINE_ROLES: [Role; 5] = [
    Role::Log,
    Role::Builder,
    Role::Index,
    Role::Security,
    Role::Timestamp,
];

/// Why the root of trust could not be set up or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// A key file is missing, unreadable, readable by others, or corrupt.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A root file does not verify.
    #[error("{path}: {source}")]
    Root {
        /// The root file.
        path: PathBuf,
        /// Why it was refused.
        source: RootError,
    },
    /// The root directory holds something other than `<version>.root.json` files 1, 2, … without gaps.
    #[error(
        "{path}: expected root files 1.root.json, 2.root.json, … without gaps; found {found}. Restore the missing versions from a backup"
    )]
    RootChain {
        /// The root directory.
        path: PathBuf,
        /// What was found.
        found: String,
    },
    /// A key file holds a key that the latest root does not list for its role.
    #[error(
        "{path} holds key {key_id}, which root.json version {version} does not list for the {role} role; put the {role} key that root names there"
    )]
    KeyNotInRoot {
        /// The key file.
        path: PathBuf,
        /// The key's id.
        key_id: String,
        /// The role.
        role: Role,
        /// The root's version.
        version: u64,
    },
    /// The log key does not make the verifier key the root names.
    #[error(
        "the log key in {path} gives verifier key {found}, but root.json names {expected}; the log key and root.json belong to different set-ups"
    )]
    LogKeyMismatch {
        /// The log key file.
        path: PathBuf,
        /// The verifier key in the root.
        expected: String,
        /// The verifier key the log key makes.
        found: String,
    },
    /// The log origin cannot name a signed-note key.
    #[error("log origin {origin:?} cannot be a signed-note key name: {source}")]
    LogOrigin {
        /// The origin.
        origin: String,
        /// Why.
        source: NoteError,
    },
    /// The root could not be signed.
    #[error("cannot sign the first root.json: {0}")]
    Sign(String),
}

/// The registry's loaded root of trust and online keys.
pub struct Trust {
    roots: BTreeMap<u64, Vec<u8>>,
    root: Root,
    role_keys: BTreeMap<Role, SigningKey>,
    log_signer: SignerKey,
    created: bool,
}

impl std::fmt::Debug for Trust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Trust")
            .field("root_version", &self.root.version())
            .field("root_digest", self.root.digest())
            .field("roles", &self.role_keys.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Trust {
    /// Loads the root of trust from `data`, first creating a development key set and `root.json` version 1
    /// if the data directory has no root yet.
    pub fn open_or_create(
        data: &Path,
        log_origin: &str,
        root_expiry_days: u32,
        now: Timestamp,
    ) -> Result<Self, TrustError> {
        let root_dir = data.join("root");
        let keys_dir = data.join("keys");
        create_dir(data)?;
        create_dir(&root_dir)?;
        create_dir(&keys_dir)?;
        restrict_to_owner(&keys_dir)?;
        let versions = root_versions(&root_dir)?;
        let created = versions.is_empty();
        if created {
            create_development_root(&keys_dir, &root_dir, log_origin, root_expiry_days, now)?;
        }
        let mut trust = Self::load(data, now)?;
        trust.created = created;
        Ok(trust)
    }

    /// Loads the root chain and the online keys from `data`; refuses anything inconsistent.
    pub fn load(data: &Path, now: Timestamp) -> Result<Self, TrustError> {
        let root_dir = data.join("root");
        let keys_dir = data.join("keys");
        let versions = root_versions(&root_dir)?;
        if versions.is_empty() || versions.iter().copied().ne(1..=versions.len() as u64) {
            return Err(TrustError::RootChain {
                path: root_dir,
                found: format!("versions {versions:?}"),
            });
        }
        let mut roots = BTreeMap::new();
        for version in &versions {
            let path = root_dir.join(format!("{version}.root.json"));
            let bytes = fs::read(&path).map_err(|source| TrustError::Io {
                path: path.clone(),
                source,
            })?;
            roots.insert(*version, bytes);
        }
        let first = Root::load_trusted(&roots[&1]).map_err(|source| TrustError::Root {
            path: root_dir.join("1.root.json"),
            source,
        })?;
        let latest_path = root_dir.join(format!("{}.root.json", versions.len()));
        let root = walk_root_chain(first, roots.range(2..).map(|(_, bytes)| bytes), now).map_err(
            |source| TrustError::Root {
                path: latest_path,
                source,
            },
        )?;

        let mut role_keys = BTreeMap::new();
        for role in ONLINE_ROLES {
            let path = key_path(&keys_dir, role);
            let key = SigningKey::load(&path)?;
            if root.role_keys(role).get(key.key_id()).is_none() {
                return Err(TrustError::KeyNotInRoot {
                    path,
                    key_id: key.key_id().to_string(),
                    role,
                    version: root.version(),
                });
            }
            role_keys.insert(role, key);
        }
        let origin = root.log().origin.clone();
        let log_signer = SignerKey::from_signing_key(&origin, &role_keys[&Role::Log])
            .map_err(|source| TrustError::LogOrigin { origin, source })?;
        if log_signer.verifier().to_string() != root.log().verifier_key {
            return Err(TrustError::LogKeyMismatch {
                path: key_path(&keys_dir, Role::Log),
                expected: root.log().verifier_key.clone(),
                found: log_signer.verifier().to_string(),
            });
        }
        Ok(Self {
            roots,
            root,
            role_keys,
            log_signer,
            created: false,
        })
    }

    /// Whether this start created the development key set and the first root.
    pub fn created(&self) -> bool {
        self.created
    }

    /// The latest root.
    pub fn root(&self) -> &Root {
        &self.root
    }

    /// The file bytes of root version `version`, if it exists.
    pub fn root_bytes(&self, version: u64) -> Option<&[u8]> {
        self.roots.get(&version).map(Vec::as_slice)
    }

    /// The file bytes of the latest root.
    pub fn latest_root_bytes(&self) -> &[u8] {
        &self.roots[&self.root.version()]
    }

    /// The digest of root version 1, which clients pin.
    pub fn first_root_digest(&self) -> Digest {
        Digest::of_bytes(&self.roots[&1])
    }

    /// The key this server holds for an online role.
    pub fn role_key(&self, role: Role) -> Option<&SigningKey> {
        self.role_keys.get(&role)
    }

    /// The log's signed-note signer.
    pub fn log_signer(&self) -> &SignerKey {
        &self.log_signer
    }
}

fn key_path(keys_dir: &Path, role: Role) -> PathBuf {
    keys_dir.join(format!("{role}.key"))
}

fn create_dir(path: &Path) -> Result<(), TrustError> {
    fs::create_dir_all(path).map_err(|source| TrustError::Io {
        path: path.to_owned(),
        source,
    })
}

/// Makes `directory` accessible to its owner only (0700): the key files are 0600 already, this also hides
/// which keys exist.
pub(crate) fn restrict_to_owner(directory: &Path) -> Result<(), TrustError> {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(directory, fs::Permissions::from_mode(0o700)).map_err(|source| {
        TrustError::Io {
            path: directory.to_owned(),
            source,
        }
    })
}

/// The versions of the `<version>.root.json` files in `root_dir`, sorted; anything else there is an error.
fn root_versions(root_dir: &Path) -> Result<Vec<u64>, TrustError> {
    let io_error = |source| TrustError::Io {
        path: root_dir.to_owned(),
        source,
    };
    let mut versions = Vec::new();
    for entry in fs::read_dir(root_dir).map_err(io_error)? {
        let name = entry.map_err(io_error)?.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') {
            continue; // a temp file left by an interrupted write
        }
        let version = name
            .strip_suffix(".root.json")
            .and_then(|number| number.parse::<u64>().ok())
            .filter(|version| *version >= 1)
            .ok_or_else(|| TrustError::RootChain {
                path: root_dir.to_owned(),
                found: format!("a file named {name:?}"),
            })?;
        versions.push(version);
    }
    versions.sort_unstable();
    Ok(versions)
}

/// One key per role (keeping any a previous, interrupted start already wrote), and root version 1 signed
/// by the root key, valid for `expiry_days`.
fn create_development_root(
    keys_dir: &Path,
    root_dir: &Path,
    log_origin: &str,
    expiry_days: u32,
    now: Timestamp,
) -> Result<(), TrustError> {
    let mut keys = BTreeMap::new();
    for role in Role::ALL {
        let path = key_path(keys_dir, role);
        let key = if path.exists() {
            SigningKey::load(&path)?
        } else {
            let key =
                SigningKey::generate().map_err(|error| TrustError::Sign(error.to_string()))?;
            key.save(&path)?;
            key
        };
        keys.insert(role, key);
    }
    let log_signer =
        SignerKey::from_signing_key(log_origin, &keys[&Role::Log]).map_err(|source| {
            TrustError::LogOrigin {
                origin: log_origin.to_owned(),
                source,
            }
        })?;
    let expires = now
        .checked_add_seconds(u64::from(expiry_days) * 86_400)
        .ok_or_else(|| TrustError::Sign("the expiry lies past 9999".to_owned()))?;
    let metadata = RootMetadata::new(
        1,
        expires,
        Role::ALL.map(|role| (role, vec![keys[&role].public_key().clone()], 1)),
        LogEntry {
            origin: log_origin.to_owned(),
            verifier_key: log_signer.verifier().to_string(),
        },
    );
    let bytes = metadata
        .sign(&[&keys[&Role::Root]])
        .map_err(|error| TrustError::Sign(error.to_string()))?;
    write_file_atomically(&root_dir.join("1.root.json"), &bytes)
}

/// Writes `bytes` to `path` through a synced temp file renamed into place, then syncs the directory, so a
/// crash leaves either no file or the whole file.
pub fn write_file_atomically(path: &Path, bytes: &[u8]) -> Result<(), TrustError> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = directory.join(format!(".{name}.tmp-{}", std::process::id()));
    let io_error = |path: &Path| {
        let path = path.to_owned();
        move |source| TrustError::Io { path, source }
    };
    let mut file = OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o644)
        .open(&temp)
        .map_err(io_error(&temp))?;
    file.write_all(bytes).map_err(io_error(&temp))?;
    file.sync_all().map_err(io_error(&temp))?;
    drop(file);
    fs::rename(&temp, path).map_err(io_error(path))?;
    File::open(directory)
        .and_then(|directory| directory.sync_all())
        .map_err(io_error(directory))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> Timestamp {
        "2026-11-25T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn first_start_creates_keys_and_a_root_that_a_second_start_reuses() {
        let dir = tempfile::tempdir().unwrap();
        let first = Trust::open_or_create(dir.path(), "example.test/log", 365, now()).unwrap();
        assert!(first.created());
        assert_eq!(first.root().version(), 1);
        let again = Trust::open_or_create(dir.path(), "other.test/log", 365, now()).unwrap();
        assert!(!again.created());
        assert_eq!(again.first_root_digest(), first.first_root_digest());
        assert_eq!(again.root().log().origin, "example.test/log");
        let pinned = Root::load_pinned(again.latest_root_bytes(), &first.first_root_digest());
        assert!(pinned.is_ok());
    }

    #[test]
    fn a_key_that_the_root_does_not_list_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Trust::open_or_create(dir.path(), "example.test/log", 365, now()).unwrap();
        let index_key = dir.path().join("keys/index.key");
        fs::remove_file(&index_key).unwrap();
        SigningKey::generate().unwrap().save(&index_key).unwrap();
        let error = Trust::load(dir.path(), now()).unwrap_err();
        assert!(
            matches!(
                error,
                TrustError::KeyNotInRoot {
                    role: Role::Index,
                    ..
                }
            ),
            "{error}"
        );
    }

    #[test]
    fn a_gap_in_the_root_chain_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        Trust::open_or_create(dir.path(), "example.test/log", 365, now()).unwrap();
        fs::copy(
            dir.path().join("root/1.root.json"),
            dir.path().join("root/3.root.json"),
        )
        .unwrap();
        let error = Trust::load(dir.path(), now()).unwrap_err();
        assert!(matches!(error, TrustError::RootChain { .. }), "{error}");
    }

    #[test]
    fn an_expired_root_is_refused_at_start() {
        let dir = tempfile::tempdir().unwrap();
        Trust::open_or_create(dir.path(), "example.test/log", 1, now()).unwrap();
        let later = now().checked_add_seconds(2 * 86_400).unwrap();
        let error = Trust::load(dir.path(), later).unwrap_err();
        assert!(
            matches!(
                error,
                TrustError::Root {
                    source: RootError::Expired { .. },
                    ..
                }
            ),
            "{error}"
        );
    }
}
