//! Release signing keys on this machine: `<config>/keys/<name>.key`, in the key file format of
//! [`locara_core::keys::SigningKey::save`] (mode 0600, never overwritten), in a 0700 directory.

use std::fs;
use std::io;
use std::path::PathBuf;

use locara_core::keys::{KeyFileError, SigningKey};

use crate::dirs::Dirs;
use crate::files::{self, FileError, Privacy};
use crate::names::KeyName;

/// Why a local key could not be created or read.
#[derive(Debug, thiserror::Error)]
pub enum LocalKeyError {
    /// A key of that name exists already.
    #[error(
        "a key named {name} already exists at {}; keys are never overwritten: choose another name with --name, or move the file away if you really mean to replace it",
        path.display()
    )]
    AlreadyExists {
        /// The key's name.
        name: KeyName,
        /// Its file.
        path: PathBuf,
    },
    /// A fresh key could not be generated.
    #[error("could not generate a key")]
    Generate(#[source] locara_core::keys::KeyError),
    /// The key file could not be written or read.
    #[error(transparent)]
    KeyFile(#[from] KeyFileError),
    /// The keys directory could not be created or listed.
    #[error(transparent)]
    File(#[from] FileError),
}

/// A key file found in the keys directory.
#[derive(Debug)]
pub struct LocalKey {
    /// The key's name (its file name without `.key`).
    pub name: KeyName,
    /// The file.
    pub path: PathBuf,
    /// The key, or why its file could not be read.
    pub key: Result<SigningKey, KeyFileError>,
}

/// Generates a new ed25519 release key and saves it as `<config>/keys/<name>.key`; refuses to overwrite.
pub fn generate(dirs: &Dirs, name: &KeyName) -> Result<(SigningKey, PathBuf), LocalKeyError> {
    let path = dirs.key_file(name);
    if fs::symlink_metadata(&path).is_ok() {
        return Err(LocalKeyError::AlreadyExists {
            name: name.clone(),
            path,
        });
    }
    files::ensure_directory(dirs.config(), Privacy::Secret)?;
    files::ensure_directory(&dirs.keys_dir(), Privacy::Secret)?;
    let key = SigningKey::generate().map_err(LocalKeyError::Generate)?;
    match key.save(&path) {
        Ok(()) => Ok((key, path)),
        Err(KeyFileError::AlreadyExists { path }) => Err(LocalKeyError::AlreadyExists {
            name: name.clone(),
            path,
        }),
        Err(error) => Err(error.into()),
    }
}

/// Every `<name>.key` file in the keys directory, by name; each loaded (or its error kept).
pub fn list(dirs: &Dirs) -> Result<Vec<LocalKey>, LocalKeyError> {
    let directory = dirs.keys_dir();
    let entries = match fs::read_dir(&directory) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(FileError::new("list", &directory, error).into()),
    };
    let mut keys = Vec::new();
    for entry in entries {
        let entry = entry.map_err(|error| FileError::new("list", &directory, error))?;
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(name) = file_name
            .strip_suffix(".key")
            .and_then(|stem| stem.parse::<KeyName>().ok())
        else {
            continue;
        };
        let path = entry.path();
        let key = SigningKey::load(&path);
        keys.push(LocalKey { name, path, key });
    }
    keys.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(keys)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_load_back_and_are_listed_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs::under(dir.path()).unwrap();
        let (second, _) = generate(&dirs, &"second".parse().unwrap()).unwrap();
        let (first, path) = generate(&dirs, &"default".parse().unwrap()).unwrap();
        assert_eq!(SigningKey::load(&path).unwrap().key_id(), first.key_id());
        let listed = list(&dirs).unwrap();
        let names: Vec<_> = listed.iter().map(|key| key.name.as_str()).collect();
        assert_eq!(names, ["default", "second"]);
        assert_eq!(listed[1].key.as_ref().unwrap().key_id(), second.key_id());
    }

    #[test]
    fn an_existing_key_is_never_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = Dirs::under(dir.path()).unwrap();
        let name: KeyName = "default".parse().unwrap();
        let (_, path) = generate(&dirs, &name).unwrap();
        let before = fs::read(&path).unwrap();
        let error = generate(&dirs, &name).unwrap_err();
        assert!(
            matches!(error, LocalKeyError::AlreadyExists { .. }),
            "{error}"
        );
        assert_eq!(fs::read(&path).unwrap(), before);
    }
}
