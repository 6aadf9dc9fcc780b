//! API tokens, one per configured registry, in `<config>/credentials/<registry>.token`.
//!
//! Invariants:
//! - Token files are 0600 in a 0700 directory, written atomically; a token file that group or others may
//!   read is refused on load (with the `chmod` that fixes it), because someone else may have copied it.
//! - An [`ApiToken`] never appears in `Debug` output, `Display` output or an error message; only
//!   [`ApiToken::expose`] yields the text, for the `Authorization` header.
//! - A token is one line of visible ASCII (what an HTTP header can carry), at most [`MAX_TOKEN_LEN`] bytes.
//! - The token's text is zeroed in memory when the [`ApiToken`] (or a buffer read from or written to the
//!   token file) is dropped.

use std::fmt;
use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

use crate::dirs::Dirs;
use crate::files::{self, FileError, Privacy};
use crate::names::RegistryName;

/// The longest token accepted.
pub const MAX_TOKEN_LEN: usize = 4096;

/// A registry API token; its text is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiToken(Zeroizing<String>);

/// Why a string is not an API token (the message never contains the token).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// The token is empty.
    #[error("the API token is empty")]
    Empty,
    /// The token is too long.
    #[error("the API token has {length} bytes; at most {MAX_TOKEN_LEN} are accepted")]
    TooLong {
        /// Its length in bytes.
        length: usize,
    },
    /// The token holds a space, control character or non-ASCII character.
    #[error(
        "the API token contains a character other than visible ASCII (position {position}); copy it again without spaces or line breaks"
    )]
    BadCharacter {
        /// The 0-based byte position of the first bad character.
        position: usize,
    },
}

impl ApiToken {
    /// A token from its text; refuses anything that cannot travel in an HTTP header.
    pub fn new(text: impl Into<String>) -> Result<Self, TokenError> {
        let text = Zeroizing::new(text.into());
        if text.is_empty() {
            return Err(TokenError::Empty);
        }
        if text.len() > MAX_TOKEN_LEN {
            return Err(TokenError::TooLong { length: text.len() });
        }
        if let Some(position) = text.bytes().position(|b| !b.is_ascii_graphic()) {
            return Err(TokenError::BadCharacter { position });
        }
        Ok(Self(text))
    }

    /// The token's text, for the `Authorization` header and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiToken(<redacted>)")
    }
}

/// Why a stored token could not be read, written or removed.
#[derive(Debug, thiserror::Error)]
pub enum CredentialsError {
    /// Reading, writing or removing failed.
    #[error(transparent)]
    File(#[from] FileError),
    /// The token file is readable by group or others.
    #[error(
        "the token file {} has mode {mode:04o}, which lets others read it; if nobody else could have read it run `chmod 600 {}`, otherwise revoke the token and log in again",
        path.display(),
        path.display()
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The token file does not hold a token.
    #[error("the token file {} is corrupt ({reason}); log in again to replace it", path.display())]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the content).
        reason: String,
    },
}

/// The tokens of every registry, in `<config>/credentials`.
#[derive(Debug, Clone)]
pub struct CredentialStore {
    directory: PathBuf,
}

impl CredentialStore {
    /// The store in the client's configuration directory.
    pub fn new(dirs: &Dirs) -> Self {
        Self::at(dirs.credentials_dir())
    }

    /// A store in `directory`.
    pub fn at(directory: PathBuf) -> Self {
        Self { directory }
    }

    /// The token file of `registry`.
    pub fn token_file(&self, registry: &RegistryName) -> PathBuf {
        self.directory.join(format!("{registry}.token"))
    }

    /// The stored token of `registry`, if any.
    pub fn load(&self, registry: &RegistryName) -> Result<Option<ApiToken>, CredentialsError> {
        let path = self.token_file(registry);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(error) => return Err(FileError::new("read", &path, error).into()),
        };
        let metadata = file
            .metadata()
            .map_err(|error| FileError::new("inspect", &path, error))?;
        let corrupt = |reason: String| CredentialsError::Corrupt {
            path: path.clone(),
            reason,
        };
        if !metadata.is_file() {
            return Err(corrupt("it is not a regular file".to_owned()));
        }
        let mode = files::mode_of(&metadata);
        if mode & 0o077 != 0 {
            return Err(CredentialsError::Permissions { path, mode });
        }
        let mut text = Zeroizing::new(String::new());
        let limit = (MAX_TOKEN_LEN + 2) as u64;
        file.take(limit)
            .read_to_string(&mut text)
            .map_err(|_| corrupt("it is not UTF-8 text".to_owned()))?;
        let token = text.strip_suffix('\n').unwrap_or(&text).to_owned();
        ApiToken::new(token)
            .map(Some)
            .map_err(|error| corrupt(error.to_string()))
    }

    /// Stores `token` for `registry` (0600, replacing an earlier one).
    pub fn save(&self, registry: &RegistryName, token: &ApiToken) -> Result<(), CredentialsError> {
        files::ensure_directory(&self.directory, Privacy::Secret)?;
        let mut bytes = Zeroizing::new(Vec::with_capacity(token.0.len() + 1));
        bytes.extend_from_slice(token.0.as_bytes());
        bytes.push(b'\n');
        files::write_atomically(&self.token_file(registry), &bytes, Privacy::Secret)?;
        Ok(())
    }

    /// Deletes the token of `registry`; returns whether there was one.
    pub fn delete(&self, registry: &RegistryName) -> Result<bool, CredentialsError> {
        Ok(files::remove_file_if_present(&self.token_file(registry))?)
    }

    /// The directory holding the token files.
    pub fn directory(&self) -> &Path {
        &self.directory
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "lct_0123456789abcdefSECRET";

    fn store() -> (tempfile::TempDir, CredentialStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = CredentialStore::at(dir.path().join("config/credentials"));
        (dir, store)
    }

    fn main() -> RegistryName {
        "main".parse().unwrap()
    }

    #[test]
    fn a_saved_token_loads_back_and_deletes() {
        let (_dir, store) = store();
        assert_eq!(store.load(&main()).unwrap(), None);
        store
            .save(&main(), &ApiToken::new(SECRET).unwrap())
            .unwrap();
        assert_eq!(store.load(&main()).unwrap().unwrap().expose(), SECRET);
        assert!(store.delete(&main()).unwrap());
        assert!(!store.delete(&main()).unwrap());
        assert_eq!(store.load(&main()).unwrap(), None);
    }

    #[cfg(unix)]
    #[test]
    fn token_files_are_0600_in_a_0700_directory() {
        let (_dir, store) = store();
        store
            .save(&main(), &ApiToken::new(SECRET).unwrap())
            .unwrap();
        let mode = |path: &Path| files::mode_of(&std::fs::metadata(path).unwrap());
        assert_eq!(mode(store.directory()), 0o700);
        assert_eq!(mode(&store.token_file(&main())), 0o600);
    }

    #[cfg(unix)]
    #[test]
    fn refuses_a_token_file_others_may_read_without_showing_the_token() {
        use std::os::unix::fs::PermissionsExt as _;
        let (_dir, store) = store();
        store
            .save(&main(), &ApiToken::new(SECRET).unwrap())
            .unwrap();
        let path = store.token_file(&main());
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let error = store.load(&main()).unwrap_err();
        let message = error.to_string();
        assert!(
            message.contains("0644") && message.contains("chmod 600"),
            "{message}"
        );
        assert!(!message.contains(SECRET));
    }

    #[test]
    fn a_corrupt_token_file_is_refused_without_echoing_it() {
        let (_dir, store) = store();
        store
            .save(&main(), &ApiToken::new(SECRET).unwrap())
            .unwrap();
        let path = store.token_file(&main());
        std::fs::write(&path, format!("{SECRET} trailing words\n")).unwrap();
        let message = store.load(&main()).unwrap_err().to_string();
        assert!(message.contains("corrupt"), "{message}");
        assert!(!message.contains(SECRET), "{message}");
    }

    #[test]
    fn tokens_are_never_shown_by_debug() {
        let token = ApiToken::new(SECRET).unwrap();
        assert!(!format!("{token:?}").contains(SECRET));
        assert!(!format!("{:?}", Some(token)).contains(SECRET));
    }

    #[test]
    fn refuses_tokens_that_cannot_travel_in_a_header() {
        assert_eq!(ApiToken::new(""), Err(TokenError::Empty));
        assert_eq!(
            ApiToken::new("ab cd"),
            Err(TokenError::BadCharacter { position: 2 })
        );
        assert_eq!(
            ApiToken::new("ab\ncd"),
            Err(TokenError::BadCharacter { position: 2 })
        );
        assert!(matches!(
            ApiToken::new("x".repeat(MAX_TOKEN_LEN + 1)),
            Err(TokenError::TooLong { .. })
        ));
    }
}
