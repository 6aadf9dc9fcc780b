//! `locara-registry keys`: a production root of trust made offline.
//!
//! The root keys never touch the server. The workflow (docs/registry.md, "A production root"):
//! 1. each root key holder runs `keys generate` on their own machine and shares the public key;
//! 2. on the server, `keys online` creates the online role keys and writes their public half to a JSON file;
//! 3. offline, `keys root` writes `root.json` naming the root keys (k of n) and the online keys, signed
//!    by whichever root keys are at hand; `keys sign` adds the other holders' signatures, one at a time;
//! 4. `keys verify` checks the result (and, for version 2 and later, the rotation from the previous root);
//! 5. the file is copied to `<data>/root/<version>.root.json`; the server verifies the chain on start.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use locara_core::keys::{KeyFileError, PublicKey, SigningKey};
use locara_core::log::VerifierKey;
use locara_core::root::{
    LogEntry, MetadataError, Role, Root, RootError, RootMetadata, SignedMetadata, update_root,
};
use locara_core::time::Timestamp;

use crate::trust::{ONLINE_ROLES, TrustError, restrict_to_owner, write_file_atomically};

/// The public half of a server's online keys, as `keys online` writes it for the offline signers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnlineKeys {
    /// The log's checkpoint origin.
    pub log_origin: String,
    /// Each online role's public key.
    pub keys: BTreeMap<Role, PublicKey>,
}

/// Why an offline key operation failed.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// A key file could not be written or read.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// A file could not be written.
    #[error(transparent)]
    Write(#[from] TrustError),
    /// A file could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The online keys file is not valid.
    #[error("{path}: not an online keys file: {reason}")]
    OnlineKeys {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// The root document is malformed or could not be signed.
    #[error("{path}: {source}")]
    Metadata {
        /// The root file.
        path: PathBuf,
        /// What is wrong.
        source: MetadataError,
    },
    /// The root does not verify.
    #[error("{path}: {source}")]
    Root {
        /// The root file.
        path: PathBuf,
        /// Why it was refused.
        source: RootError,
    },
    /// The arguments do not make a valid root.
    #[error("{0}")]
    Usage(String),
}

/// Generates one key into a new file `out` (mode 0600) and returns it.
pub fn generate(out: &Path) -> Result<SigningKey, OfflineError> {
    let key =
        SigningKey::generate().map_err(|error| OfflineError::Usage(format!("no key: {error}")))?;
    key.save(out)?;
    Ok(key)
}

/// Creates the online role keys in `<data>/keys` (keeping any that exist) and writes their public half to
/// `out`.
pub fn online(data: &Path, log_origin: &str, out: &Path) -> Result<OnlineKeys, OfflineError> {
    VerifierKey::new(
        log_origin,
        SigningKey::from_seed(&[0; 32]).public_key().clone(),
    )
    .map_err(|error| {
        OfflineError::Usage(format!(
            "--log-origin {log_origin:?} is not usable: {error}"
        ))
    })?;
    let keys_dir = data.join("keys");
    std::fs::create_dir_all(&keys_dir).map_err(|source| OfflineError::Read {
        path: keys_dir.clone(),
        source,
    })?;
    restrict_to_owner(&keys_dir)?;
    let mut keys = BTreeMap::new();
    for role in ONLINE_ROLES {
        let path = keys_dir.join(format!("{role}.key"));
        let key = if path.exists() {
            SigningKey::load(&path)?
        } else {
            let key = SigningKey::generate()
                .map_err(|error| OfflineError::Usage(format!("no key: {error}")))?;
            key.save(&path)?;
            key
        };
        keys.insert(role, key.public_key().clone());
    }
    let online = OnlineKeys {
        log_origin: log_origin.to_owned(),
        keys,
    };
    let mut json = serde_json::to_vec_pretty(&online).expect("online keys serialise");
    json.push(b'\n');
    write_file_atomically(out, &json)?;
    Ok(online)
}

/// Reads an online keys file.
pub fn read_online(path: &Path) -> Result<OnlineKeys, OfflineError> {
    let bytes = std::fs::read(path).map_err(|source| OfflineError::Read {
        path: path.to_owned(),
        source,
    })?;
    let online: OnlineKeys =
        serde_json::from_slice(&bytes).map_err(|error| OfflineError::OnlineKeys {
            path: path.to_owned(),
            reason: error.to_string(),
        })?;
    for role in ONLINE_ROLES {
        if !online.keys.contains_key(&role) {
            return Err(OfflineError::OnlineKeys {
                path: path.to_owned(),
                reason: format!("no key for the {role} role"),
            });
        }
    }
    if online.keys.contains_key(&Role::Root) {
        return Err(OfflineError::OnlineKeys {
            path: path.to_owned(),
            reason: "it names a root key; root keys are given with --root-public".to_owned(),
        });
    }
    Ok(online)
}

/// What a new root holds.
#[derive(Debug, Clone)]
pub struct RootPlan {
    /// The root's version (1 for a new registry, previous + 1 for a rotation).
    pub version: u64,
    /// When it expires.
    pub expires: Timestamp,
    /// The root role's public keys.
    pub root_keys: Vec<PublicKey>,
    /// How many root keys must sign.
    pub threshold: u32,
    /// The online roles' keys and the log origin.
    pub online: OnlineKeys,
}

/// Writes the root `plan` describes to `out`, signed by `signers` (which may be fewer than the threshold:
/// `keys sign` adds the rest).
pub fn write_root(
    plan: &RootPlan,
    signers: &[SigningKey],
    out: &Path,
) -> Result<RootMetadata, OfflineError> {
    if plan.threshold == 0 || plan.threshold as usize > plan.root_keys.len() {
        return Err(OfflineError::Usage(format!(
            "--threshold {} must be between 1 and the number of root keys given with --root-public ({})",
            plan.threshold,
            plan.root_keys.len()
        )));
    }
    let log_key = &plan.online.keys[&Role::Log];
    let verifier = VerifierKey::new(&plan.online.log_origin, log_key.clone())
        .map_err(|error| OfflineError::Usage(format!("the log origin is not usable: {error}")))?;
    let mut roles = vec![(Role::Root, plan.root_keys.clone(), plan.threshold)];
    for role in ONLINE_ROLES {
        roles.push((role, vec![plan.online.keys[&role].clone()], 1));
    }
    let metadata = RootMetadata::new(
        plan.version,
        plan.expires,
        roles,
        LogEntry {
            origin: plan.online.log_origin.clone(),
            verifier_key: verifier.to_string(),
        },
    );
    let bytes = metadata
        .sign(&signers.iter().collect::<Vec<_>>())
        .map_err(|source| OfflineError::Metadata {
            path: out.to_owned(),
            source,
        })?;
    write_file_atomically(out, &bytes)?;
    Ok(metadata)
}

/// Adds a signature by `key` to the root file at `path`, in place. The key must be a root key of this
/// root or (for a rotation) of `previous`.
pub fn sign(path: &Path, key: &SigningKey, previous: Option<&Path>) -> Result<(), OfflineError> {
    let bytes = read(path)?;
    let metadata_error = |source| OfflineError::Metadata {
        path: path.to_owned(),
        source,
    };
    let mut document = SignedMetadata::from_json(&bytes).map_err(metadata_error)?;
    let metadata: RootMetadata = document.decode().map_err(metadata_error)?;
    let mut root_key_ids: Vec<_> = metadata.roles[&Role::Root].keyids.clone();
    if let Some(previous) = previous {
        let previous_bytes = read(previous)?;
        let previous_document = SignedMetadata::from_json(&previous_bytes).map_err(|source| {
            OfflineError::Metadata {
                path: previous.to_owned(),
                source,
            }
        })?;
        let previous_metadata: RootMetadata =
            previous_document
                .decode()
                .map_err(|source| OfflineError::Metadata {
                    path: previous.to_owned(),
                    source,
                })?;
        root_key_ids.extend(previous_metadata.roles[&Role::Root].keyids.clone());
    }
    if !root_key_ids.contains(key.key_id()) {
        return Err(OfflineError::Usage(format!(
            "key {} is not a root key of {}{}; nothing was signed",
            key.key_id(),
            path.display(),
            if previous.is_some() {
                " or of the previous root"
            } else {
                ""
            }
        )));
    }
    document.sign(key);
    write_file_atomically(path, &document.to_json())?;
    Ok(())
}

/// Checks that the root at `path` is complete: signed by its own threshold and, for a rotation, by the
/// previous root's threshold, and unexpired at `now`.
pub fn verify(path: &Path, previous: Option<&Path>, now: Timestamp) -> Result<Root, OfflineError> {
    let bytes = read(path)?;
    let root_error = |path: &Path| {
        let path = path.to_owned();
        move |source| OfflineError::Root { path, source }
    };
    let root = match previous {
        None if version_of(&bytes) > 1 => {
            return Err(OfflineError::Usage(format!(
                "{} is version {}: pass the root it replaces with --previous so the rotation is checked",
                path.display(),
                version_of(&bytes)
            )));
        }
        None => {
            let root = Root::load_trusted(&bytes).map_err(root_error(path))?;
            root.check_not_expired(now).map_err(root_error(path))?;
            root
        }
        Some(previous) => {
            let previous_root =
                Root::load_trusted(&read(previous)?).map_err(root_error(previous))?;
            update_root(&previous_root, &bytes, now).map_err(root_error(path))?
        }
    };
    Ok(root)
}

/// The `version` a root document claims (0 if it has none); only to choose which check applies.
fn version_of(bytes: &[u8]) -> u64 {
    SignedMetadata::from_json(bytes)
        .ok()
        .and_then(|document| document.decode::<RootMetadata>().ok())
        .map_or(0, |metadata| metadata.version)
}

fn read(path: &Path) -> Result<Vec<u8>, OfflineError> {
    std::fs::read(path).map_err(|source| OfflineError::Read {
        path: path.to_owned(),
        source,
    })
}
