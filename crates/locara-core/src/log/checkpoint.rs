//! C2SP tlog-checkpoint bodies (<https://c2sp.org/tlog-checkpoint>), signed as C2SP notes.
//!
//! A checkpoint's note text is `<origin>\n<tree size>\n<base64 root hash>\n` followed by zero or more non-empty
//! extension lines. Parsing is strict so that every checkpoint has exactly one spelling: the size is decimal
//! with no leading zeros, the root is canonical standard padded base64 of 32 bytes.

use std::fmt;

use super::hash::{Hash, HashParseError};
use super::note::{Note, NoteError, SignerKey, VerifierKey};

/// A log checkpoint: the log's origin, its size and root hash at one moment, and any extension lines.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's identity, e.g. `registry.example.com/log`.
    pub origin: String,
    /// The number of entries in the tree.
    pub size: u64,
    /// The root hash of the tree of `size` entries.
    pub root: Hash,
    /// Extension lines after the root, without their newlines.
    pub extensions: Vec<String>,
}

/// Why a checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// The signed note around the checkpoint was refused.
    #[error("checkpoint note: {0}")]
    Note(#[from] NoteError),
    /// The body has fewer than three lines or does not end in a newline.
    #[error(
        "checkpoint body must be origin, size and root lines ending in newlines, found {found:?}"
    )]
    Truncated {
        /// The body.
        found: String,
    },
    /// The origin line is empty.
    #[error("checkpoint origin line is empty")]
    EmptyOrigin,
    /// The size line is not a canonical decimal number.
    #[error("checkpoint size must be decimal with no leading zeros, found {found:?}")]
    Size {
        /// The size line.
        found: String,
    },
    /// The root line is not canonical base64 of 32 bytes.
    #[error("checkpoint root hash: {0}")]
    Root(#[from] HashParseError),
    /// An extension line is empty.
    #[error("checkpoint extension line {line} is empty")]
    EmptyExtension {
        /// 1-based number of the extension line.
        line: usize,
    },
    /// The checkpoint is for another log.
    #[error("checkpoint origin is {found:?}, expected {expected:?}")]
    OriginMismatch {
        /// The origin the caller trusts.
        expected: String,
        /// The origin in the checkpoint.
        found: String,
    },
}

impl Checkpoint {
    /// Parses a checkpoint body (the note text).
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let truncated = || CheckpointError::Truncated {
            found: text.chars().take(200).collect(),
        };
        let body = text.strip_suffix('\n').ok_or_else(truncated)?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(truncated());
        };
        if origin.is_empty() {
            return Err(CheckpointError::EmptyOrigin);
        }
        let size_error = || CheckpointError::Size {
            found: size.to_owned(),
        };
        if size.is_empty()
            || !size.bytes().all(|byte| byte.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(size_error());
        }
        let size = size.parse::<u64>().map_err(|_| size_error())?;
        let root = Hash::from_base64(root)?;
        let mut extensions = Vec::new();
        for (number, line) in lines.enumerate() {
            if line.is_empty() {
                return Err(CheckpointError::EmptyExtension { line: number + 1 });
            }
            extensions.push(line.to_owned());
        }
        Ok(Self {
            origin: origin.to_owned(),
            size,
            root,
            extensions,
        })
    }

    /// The checkpoint body (note text).
    pub fn to_text(&self) -> String {
        self.to_string()
    }

    /// The checkpoint signed by `signer` as a C2SP note.
    pub fn sign(&self, signer: &SignerKey) -> Result<String, CheckpointError> {
        let mut note = Note::new(&self.to_text())?;
        note.sign(signer)?;
        Ok(note.to_string())
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(formatter, "{}", self.origin)?;
        writeln!(formatter, "{}", self.size)?;
        writeln!(formatter, "{}", self.root.to_base64())?;
        for extension in &self.extensions {
            writeln!(formatter, "{extension}")?;
        }
        Ok(())
    }
}

/// Verifies a signed checkpoint note under the log's `verifier` and checks that it is for `origin`.
pub fn verify_checkpoint(
    note_text: &[u8],
    origin: &str,
    verifier: &VerifierKey,
) -> Result<Checkpoint, CheckpointError> {
    let note = Note::parse(note_text)?;
    note.verify(std::slice::from_ref(verifier))?;
    let checkpoint = Checkpoint::parse(note.text())?;
    if checkpoint.origin != origin {
        return Err(CheckpointError::OriginMismatch {
            expected: origin.to_owned(),
            found: checkpoint.origin,
        });
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::hash::EMPTY_ROOT;

    const ORIGIN: &str = "example.test/log";

    fn body(size: &str, root: &str) -> String {
        format!("{ORIGIN}\n{size}\n{root}\n")
    }

    #[test]
    fn checkpoint_round_trips_with_extensions() {
        let checkpoint = Checkpoint {
            origin: ORIGIN.to_owned(),
            size: 42,
            root: EMPTY_ROOT,
            extensions: vec!["— witness line".to_owned(), "x".to_owned()],
        };
        assert_eq!(Checkpoint::parse(&checkpoint.to_text()), Ok(checkpoint));
    }

    #[test]
    fn refuses_leading_zeros_and_non_decimal_sizes() {
        let root = EMPTY_ROOT.to_base64();
        assert_eq!(Checkpoint::parse(&body("0", &root)).unwrap().size, 0);
        for size in [
            "01",
            "00",
            "+1",
            "-1",
            "",
            "1 ",
            "0x10",
            "18446744073709551616",
        ] {
            assert_eq!(
                Checkpoint::parse(&body(size, &root)),
                Err(CheckpointError::Size {
                    found: size.to_owned()
                }),
                "{size:?}"
            );
        }
    }

    #[test]
    fn refuses_bad_base64_and_wrong_hash_length() {
        let root = EMPTY_ROOT.to_base64();
        for bad in [
            root.trim_end_matches('=').to_owned(),
            root.replace('+', "-"),
            "AAAA".to_owned(),
            format!("{root}AAAA"),
            "!".repeat(44),
        ] {
            assert!(
                matches!(
                    Checkpoint::parse(&body("1", &bad)),
                    Err(CheckpointError::Root(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn refuses_empty_origin_truncated_body_and_empty_extension() {
        let root = EMPTY_ROOT.to_base64();
        assert_eq!(
            Checkpoint::parse(&format!("\n1\n{root}\n")),
            Err(CheckpointError::EmptyOrigin)
        );
        assert!(matches!(
            Checkpoint::parse(&format!("{ORIGIN}\n1\n{root}")),
            Err(CheckpointError::Truncated { .. })
        ));
        assert!(matches!(
            Checkpoint::parse(&format!("{ORIGIN}\n1\n")),
            Err(CheckpointError::Truncated { .. })
        ));
        assert_eq!(
            Checkpoint::parse(&format!("{ORIGIN}\n1\n{root}\next\n\n")),
            Err(CheckpointError::EmptyExtension { line: 2 })
        );
    }

    #[test]
    fn refuses_checkpoint_for_another_origin() {
        let signer = SignerKey::from_seed(ORIGIN, &[3; 32]).unwrap();
        let checkpoint = Checkpoint::parse(&body("1", &EMPTY_ROOT.to_base64())).unwrap();
        let signed = checkpoint.sign(&signer).unwrap();
        assert_eq!(
            verify_checkpoint(signed.as_bytes(), ORIGIN, signer.verifier()),
            Ok(checkpoint)
        );
        assert_eq!(
            verify_checkpoint(signed.as_bytes(), "other.test/log", signer.verifier()),
            Err(CheckpointError::OriginMismatch {
                expected: "other.test/log".to_owned(),
                found: ORIGIN.to_owned()
            })
        );
    }
}
