//! A registry's root of trust on this machine: pinning the first root, following rotations, and the stored
//! chain.
//!
//! Every check is `locara_core::root`'s; this module only fetches bytes and keeps files.
//!
//! - **Pinning** ([`pin_root`]): the user gives the SHA-256 of a `root.json` (the registry prints it as
//!   `root.json: sha256:…`). The client fetches `<url>/root.json` (the latest root). If those bytes are not
//!   the pinned ones — the registry has rotated since the digest was published — the client looks for the
//!   pinned bytes among the immutable `<url>/root/<N>.root.json` files below the latest version. The bytes
//!   that match are accepted with [`Root::load_pinned`]; anything else is refused, naming both digests.
//! - **Rotation**: from trusted root N the client fetches `<url>/root/<N+1>.root.json`, N+2, … until the
//!   registry answers 404. Each must be accepted over its predecessor (version N+1, a threshold of the old
//!   root keys and of its own). As in TUF (and [`walk_root_chain`]), an intermediate root may have expired;
//!   the root the walk ends on may not.
//! - **Storage**: every accepted root is kept, exactly as fetched, in
//!   `<config>/registries/<name>/root/<N>.root.json`, from the pinned version on. Loading ([`load_root`])
//!   re-verifies that chain from the pin on every use, so a file changed on disk is caught too.
//!
//! A registry that stops serving newer roots freezes a client at an old root; catching that is
//! `timestamp.json`'s job (freshness), not this module's.

use std::collections::BTreeMap;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use locara_core::digest::Digest;
use locara_core::root::{Root, RootError, walk_root_chain};
use locara_core::time::Timestamp;

use crate::api::{ApiClient, ApiError};
use crate::dirs::Dirs;
use crate::files::{self, FileError, Privacy};
use crate::read_limits::{Document, MAX_ROOT_BYTES};
use crate::registry::{RegistryEntry, RegistryUrl};

/// How many older root versions `registry add` looks through for the pinned one.
pub const MAX_PIN_SEARCH_VERSIONS: u64 = 256;

/// Why a registry's root of trust was refused or could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TrustError {
    /// Fetching a root file failed.
    #[error("could not fetch {what} from {url}")]
    Fetch {
        /// Which file.
        what: String,
        /// The registry's URL.
        url: String,
        /// Why.
        #[source]
        source: Box<ApiError>,
    },
    /// The registry does not serve `root.json`.
    #[error(
        "{url} has no root.json (HTTP 404); is this the registry's base URL (the one its start banner prints)?"
    )]
    NoRoot {
        /// The registry's URL.
        url: String,
    },
    /// Neither the latest root nor an earlier one has the pinned digest.
    #[error(
        "the root of trust at {url} does not match the pinned digest: expected {expected}, found {found} (root.json, version {}){}; check the digest (the registry prints it as `root.json: sha256:…` when it starts) and the URL",
        latest_version.map_or_else(|| "unreadable".to_owned(), |v| v.to_string()),
        if *searched_versions > 0 { format!(", and none of root/1..{searched_versions}.root.json has it either") } else { String::new() }
    )]
    PinMismatch {
        /// The registry's URL.
        url: String,
        /// The pinned digest.
        expected: Digest,
        /// The digest of the registry's `root.json`.
        found: Digest,
        /// The version `root.json` claims, if it parses.
        latest_version: Option<u64>,
        /// How many earlier versions were looked at.
        searched_versions: u64,
    },
    /// A root file was refused.
    #[error("{url}: refusing {file}")]
    Refused {
        /// The registry's URL.
        url: String,
        /// Which file.
        file: String,
        /// Which check failed.
        #[source]
        source: Box<RootError>,
    },
    /// The newest trusted root has expired.
    #[error(
        "the newest root of trust of {url} has expired, and the registry offers no newer one; the registry must publish a new root (or the system clock is wrong)"
    )]
    Expired {
        /// The registry's URL.
        url: String,
        /// The expiry error.
        #[source]
        source: Box<RootError>,
    },
    /// The stored chain is missing or does not verify.
    #[error(
        "the stored root of trust of registry {name} in {} is damaged: {reason}; run `locara registry remove {name}` and add it again",
        path.display()
    )]
    StoredChain {
        /// The registry's name.
        name: String,
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Writing the chain failed.
    #[error(transparent)]
    File(#[from] FileError),
}

/// A root accepted over the trusted one, with its exact bytes.
#[derive(Debug, Clone)]
pub struct AcceptedRoot {
    /// The verified root.
    pub root: Root,
    /// Its bytes as served (what is stored and hashed).
    pub bytes: Vec<u8>,
}

/// The outcome of pinning a registry's root and following its rotations.
#[derive(Debug, Clone)]
pub struct PinnedChain {
    /// The pinned root and every root after it, oldest first; the last one is trusted now.
    pub roots: Vec<AcceptedRoot>,
}

impl PinnedChain {
    /// The pinned (first) root.
    pub fn pinned(&self) -> &Root {
        &self.roots[0].root
    }

    /// The newest root: the one trusted now.
    pub fn latest(&self) -> &Root {
        &self.roots[self.roots.len() - 1].root
    }
}

/// What [`refresh_root`] found.
#[derive(Debug, Clone)]
pub struct RootRefresh {
    /// The root trusted now (unexpired at the time given).
    pub root: Root,
    /// The version trusted before the refresh.
    pub previous_version: u64,
}

impl RootRefresh {
    /// Whether the registry had rotated its root since the last refresh.
    pub fn rotated(&self) -> bool {
        self.root.version() != self.previous_version
    }
}

/// Fetches the root pinned by `pinned` and every rotation after it; checks the last is unexpired at `now`.
///
/// Nothing is written; [`store_chain`] keeps the result.
pub async fn pin_root(
    client: &ApiClient,
    pinned: &Digest,
    now: Timestamp,
) -> Result<PinnedChain, TrustError> {
    let url = client.base().clone();
    let latest = fetch(client, "root.json")
        .await?
        .ok_or_else(|| TrustError::NoRoot {
            url: url.to_string(),
        })?;
    let pinned_bytes = if &Digest::of_bytes(&latest) == pinned {
        latest
    } else {
        find_pinned_version(client, &latest, pinned).await?
    };
    let root = Root::load_pinned(&pinned_bytes, pinned).map_err(|source| TrustError::Refused {
        url: url.to_string(),
        file: "the pinned root.json".to_owned(),
        source: Box::new(source),
    })?;
    let mut roots = vec![AcceptedRoot {
        root,
        bytes: pinned_bytes,
    }];
    let newer = fetch_rotations(client, &roots[0].root).await?;
    roots.extend(newer);
    check_unexpired(&url, &roots[roots.len() - 1].root, now)?;
    Ok(PinnedChain { roots })
}

/// Looks for the pinned bytes among `root/1.root.json` … below the version the latest root claims.
async fn find_pinned_version(
    client: &ApiClient,
    latest: &[u8],
    pinned: &Digest,
) -> Result<Vec<u8>, TrustError> {
    let found = Digest::of_bytes(latest);
    // The latest root is not trusted here: its version only bounds the search, and each candidate must
    // still hash to the pin and pass `Root::load_pinned`.
    let latest_version = Root::load_trusted(latest).ok().map(|root| root.version());
    let mut searched_versions = 0;
    let search_end = latest_version
        .unwrap_or(1)
        .min(MAX_PIN_SEARCH_VERSIONS.saturating_add(1));
    for version in 1..search_end {
        let Some(bytes) = fetch(client, &root_file_path(version)).await? else {
            break;
        };
        searched_versions = version;
        if &Digest::of_bytes(&bytes) == pinned {
            return Ok(bytes);
        }
    }
    Err(TrustError::PinMismatch {
        url: client.base().to_string(),
        expected: *pinned,
        found,
        latest_version,
        searched_versions,
    })
}

/// Fetches and accepts `root/<N+1>.root.json`, … over `trusted` until the registry answers 404.
///
/// Expiry is not checked here: intermediate roots may have expired (the caller checks the last one).
pub async fn fetch_rotations(
    client: &ApiClient,
    trusted: &Root,
) -> Result<Vec<AcceptedRoot>, TrustError> {
    let mut accepted = Vec::new();
    fetch_rotations_into(client, trusted, &mut accepted).await?;
    Ok(accepted)
}

/// [`fetch_rotations`], keeping the roots accepted before a failure in `accepted`.
async fn fetch_rotations_into(
    client: &ApiClient,
    trusted: &Root,
    accepted: &mut Vec<AcceptedRoot>,
) -> Result<(), TrustError> {
    let mut current = trusted.clone();
    while let Some(next_version) = current.version().checked_add(1) {
        let path = root_file_path(next_version);
        let Some(bytes) = fetch(client, &path).await? else {
            break;
        };
        let root = accept_rotation(&current, &bytes).map_err(|source| TrustError::Refused {
            url: client.base().to_string(),
            file: path,
            source: Box::new(source),
        })?;
        current = root.clone();
        accepted.push(AcceptedRoot { root, bytes });
    }
    Ok(())
}

/// One rotation step over `trusted`, every check but expiry.
///
/// `walk_root_chain` over a one-root chain performs exactly the core's rotation checks and then the expiry
/// check at the time given; at the epoch that check only refuses a root that expired at the epoch itself.
/// Expiry of the root a walk ends on is checked once, at the real time, by the caller (as the core's own
/// chain walk does), so a chain through an expired intermediate root is accepted, as TUF specifies.
fn accept_rotation(trusted: &Root, bytes: &[u8]) -> Result<Root, RootError> {
    walk_root_chain(trusted.clone(), [bytes], Timestamp::UNIX_EPOCH)
}

fn check_unexpired(url: &RegistryUrl, root: &Root, now: Timestamp) -> Result<(), TrustError> {
    root.check_not_expired(now)
        .map_err(|source| TrustError::Expired {
            url: url.to_string(),
            source: Box::new(source),
        })
}

async fn fetch(client: &ApiClient, path: &str) -> Result<Option<Vec<u8>>, TrustError> {
    client
        .get_optional_bytes(path, Document::Root)
        .await
        .map_err(|source| TrustError::Fetch {
            what: path.to_owned(),
            url: client.base().to_string(),
            source: Box::new(source),
        })
}

/// `root/<version>.root.json`, relative to the registry.
pub fn root_file_path(version: u64) -> String {
    format!("root/{version}.root.json")
}

/// The directory holding a registry's stored roots.
pub fn root_dir(dirs: &Dirs, entry: &RegistryEntry) -> PathBuf {
    dirs.registry_dir(&entry.name).join("root")
}

/// Writes a freshly pinned chain for a registry that is not configured yet, replacing any left-overs.
///
/// The files are written to a temporary directory that is then renamed into place, so the registry's
/// directory holds either nothing or the whole chain.
pub fn store_chain(
    dirs: &Dirs,
    entry: &RegistryEntry,
    chain: &PinnedChain,
) -> Result<(), TrustError> {
    let registries_dir = dirs.registries_dir();
    files::ensure_directory(dirs.config(), Privacy::Secret)?;
    files::ensure_directory(&registries_dir, Privacy::Public)?;
    let final_dir = dirs.registry_dir(&entry.name);
    let staging = files::temporary_path(&final_dir);
    let staged_roots = staging.join("root");
    files::ensure_directory(&staged_roots, Privacy::Public)?;
    let written = (|| {
        for accepted in &chain.roots {
            let file = staged_roots.join(format!("{}.root.json", accepted.root.version()));
            files::write_atomically(&file, &accepted.bytes, Privacy::Public)?;
        }
        files::remove_directory_if_present(&final_dir)?;
        files::rename(&staging, &final_dir)
    })();
    if let Err(error) = written {
        let _ = fs::remove_dir_all(&staging);
        return Err(error.into());
    }
    Ok(())
}

/// The trusted root of a configured registry, re-verified from the pin through the stored chain.
///
/// Works offline and does not check expiry (use [`refresh_root`] before relying on the root).
pub fn load_root(dirs: &Dirs, entry: &RegistryEntry) -> Result<Root, TrustError> {
    let directory = root_dir(dirs, entry);
    let damaged = |reason: String| TrustError::StoredChain {
        name: entry.name.to_string(),
        path: directory.clone(),
        reason,
    };
    let versions = stored_versions(&directory).map_err(&damaged)?;
    let expected_last = entry
        .pinned_version
        .checked_add(versions.len().saturating_sub(1) as u64);
    let contiguous = versions
        .keys()
        .copied()
        .eq(entry.pinned_version..=expected_last.unwrap_or(0));
    if versions.is_empty() || !contiguous {
        return Err(damaged(format!(
            "expected {}.root.json and any later versions without gaps; found {}",
            entry.pinned_version,
            describe_versions(&versions)
        )));
    }
    let mut paths = versions.values();
    let first_path = paths.next().expect("versions is not empty");
    let first = read_root_file(first_path).map_err(&damaged)?;
    let pinned = Root::load_pinned(&first, &entry.pinned_root)
        .map_err(|error| damaged(format!("{}: {error}", first_path.display())))?;
    if pinned.version() != entry.pinned_version {
        return Err(damaged(format!(
            "{} holds version {}",
            first_path.display(),
            pinned.version()
        )));
    }
    let mut current = pinned;
    for path in paths {
        let bytes = read_root_file(path).map_err(&damaged)?;
        current = accept_rotation(&current, &bytes)
            .map_err(|error| damaged(format!("{}: {error}", path.display())))?;
    }
    Ok(current)
}

/// Follows the registry's root rotations from the stored chain, keeps every new root, and returns the root
/// trusted now; refuses if that root has expired at `now`.
///
/// Every command that talks to a registry calls this first, so a rotation is picked up on first use.
pub async fn refresh_root(
    dirs: &Dirs,
    entry: &RegistryEntry,
    client: &ApiClient,
    now: Timestamp,
) -> Result<RootRefresh, TrustError> {
    let trusted = load_root(dirs, entry)?;
    let previous_version = trusted.version();
    let mut newer = Vec::new();
    let fetched = fetch_rotations_into(client, &trusted, &mut newer).await;
    // Roots accepted before a later one was refused are valid rotations: keep them (as TUF does), then
    // report the refusal.
    let directory = root_dir(dirs, entry);
    for accepted in &newer {
        let file = directory.join(format!("{}.root.json", accepted.root.version()));
        files::write_atomically(&file, &accepted.bytes, Privacy::Public)?;
    }
    fetched?;
    let root = newer
        .into_iter()
        .last()
        .map_or(trusted, |accepted| accepted.root);
    check_unexpired(&entry.url, &root, now)?;
    Ok(RootRefresh {
        root,
        previous_version,
    })
}

fn read_root_file(path: &Path) -> Result<Vec<u8>, String> {
    let metadata = fs::metadata(path).map_err(|error| format!("{}: {error}", path.display()))?;
    if metadata.len() > MAX_ROOT_BYTES {
        return Err(format!(
            "{} is larger than {MAX_ROOT_BYTES} bytes",
            path.display()
        ));
    }
    fs::read(path).map_err(|error| format!("{}: {error}", path.display()))
}

/// The `<N>.root.json` files in `directory` by version; temporary files are skipped, anything else refused.
fn stored_versions(directory: &Path) -> Result<BTreeMap<u64, PathBuf>, String> {
    let entries = match fs::read_dir(directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => {
            return Err("the directory is missing".to_owned());
        }
        Err(error) => return Err(error.to_string()),
    };
    let mut versions = BTreeMap::new();
    for entry in entries {
        let entry = entry.map_err(|error| error.to_string())?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if files::is_temporary(&name) {
            continue;
        }
        let version = name
            .strip_suffix(".root.json")
            .filter(|number| !number.starts_with('0') && number.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|number| number.parse::<u64>().ok())
            .ok_or_else(|| {
                format!("unexpected file {name:?} (only <N>.root.json belongs there)")
            })?;
        versions.insert(version, entry.path());
    }
    Ok(versions)
}

fn describe_versions(versions: &BTreeMap<u64, PathBuf>) -> String {
    if versions.is_empty() {
        return "no root files".to_owned();
    }
    versions
        .keys()
        .map(|version| format!("{version}.root.json"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use locara_core::keys::SigningKey;
    use locara_core::log::SignerKey;
    use locara_core::root::{LogEntry, Role, RootMetadata};

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_seed(&[seed; 32])
    }

    fn next_century() -> Timestamp {
        "2126-01-01T00:00:00Z".parse().unwrap()
    }

    fn root_bytes(version: u64, root_key: &SigningKey, signers: &[&SigningKey]) -> Vec<u8> {
        let log_key = key(90);
        let verifier = SignerKey::from_signing_key("registry.test/log", &log_key)
            .unwrap()
            .verifier()
            .to_string();
        let one = |seed: u8| vec![key(seed).public_key().clone()];
        RootMetadata::new(
            version,
            next_century(),
            [
                (Role::Root, vec![root_key.public_key().clone()], 1),
                (Role::Log, vec![log_key.public_key().clone()], 1),
                (Role::Builder, one(30), 1),
                (Role::Index, one(40), 1),
                (Role::Security, one(50), 1),
                (Role::Timestamp, one(60), 1),
            ],
            LogEntry {
                origin: "registry.test/log".to_owned(),
                verifier_key: verifier,
            },
        )
        .sign(signers)
        .unwrap()
    }

    fn setup(files: &[(u64, Vec<u8>)]) -> (tempfile::TempDir, Dirs, RegistryEntry) {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs::under(dir.path()).unwrap();
        let entry = RegistryEntry {
            name: "main".parse().unwrap(),
            url: "https://registry.example.com".parse().unwrap(),
            pinned_root: Digest::of_bytes(&files[0].1),
            pinned_version: files[0].0,
        };
        let directory = root_dir(&dirs, &entry);
        fs::create_dir_all(&directory).unwrap();
        for (version, bytes) in files {
            fs::write(directory.join(format!("{version}.root.json")), bytes).unwrap();
        }
        (dir, dirs, entry)
    }

    #[test]
    fn a_stored_chain_loads_to_its_newest_root() {
        let (old, new) = (key(1), key(2));
        let (_dir, dirs, entry) = setup(&[
            (1, root_bytes(1, &old, &[&old])),
            (2, root_bytes(2, &new, &[&old, &new])),
        ]);
        assert_eq!(load_root(&dirs, &entry).unwrap().version(), 2);
    }

    #[test]
    fn a_stored_rotation_without_the_old_keys_is_refused() {
        let (old, new) = (key(1), key(2));
        let (_dir, dirs, entry) = setup(&[
            (1, root_bytes(1, &old, &[&old])),
            (2, root_bytes(2, &new, &[&new])),
        ]);
        let error = load_root(&dirs, &entry).unwrap_err().to_string();
        assert!(
            error.contains("2.root.json") && error.contains("trusted root"),
            "{error}"
        );
    }

    #[test]
    fn a_changed_pinned_file_or_a_gap_is_refused() {
        let old = key(1);
        let (_dir, dirs, mut entry) = setup(&[(1, root_bytes(1, &old, &[&old]))]);
        entry.pinned_root = Digest::of_bytes(b"something else");
        let error = load_root(&dirs, &entry).unwrap_err().to_string();
        assert!(error.contains("pinned"), "{error}");

        let (_dir, dirs, entry) = setup(&[
            (1, root_bytes(1, &old, &[&old])),
            (3, root_bytes(3, &old, &[&old])),
        ]);
        let error = load_root(&dirs, &entry).unwrap_err().to_string();
        assert!(
            error.contains("without gaps") && error.contains("3.root.json"),
            "{error}"
        );
    }

    #[test]
    fn stray_files_are_refused_and_temporary_files_skipped() {
        let old = key(1);
        let (_dir, dirs, entry) = setup(&[(1, root_bytes(1, &old, &[&old]))]);
        let directory = root_dir(&dirs, &entry);
        fs::write(directory.join(".2.root.json.123-abc.tmp"), b"partial").unwrap();
        assert_eq!(load_root(&dirs, &entry).unwrap().version(), 1);
        fs::write(directory.join("02.root.json"), b"x").unwrap();
        let error = load_root(&dirs, &entry).unwrap_err().to_string();
        assert!(error.contains("02.root.json"), "{error}");
    }
}
