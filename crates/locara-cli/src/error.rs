//! How failures end the process: exit codes and the printed cause chain.
//!
//! Exit codes (DESIGN §7): 0 success; 1 a failed check or finding, and every other failure (network, files,
//! state such as a duplicate or unknown registry name); 2 a usage error — the command line or environment
//! is wrong by itself, before anything was looked up (clap's own errors, a malformed name, URL or digest,
//! a relative `LOCARA_HOME`).

use std::error::Error as StdError;
use std::fmt::Write as _;

/// Exit code for a failed check or any failure other than usage.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code for a usage error.
pub const EXIT_USAGE: u8 = 2;

/// An invocation that is wrong by itself (exit code 2); displays as the error it wraps.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct UsageError(Box<dyn StdError + Send + Sync + 'static>);

impl UsageError {
    /// Marks `error` as a usage error.
    pub fn new(error: impl Into<Box<dyn StdError + Send + Sync + 'static>>) -> Self {
        Self(error.into())
    }
}

/// The exit code for `error`: [`EXIT_USAGE`] if a [`UsageError`] is in its chain, else [`EXIT_FAILURE`].
pub fn exit_code(error: &anyhow::Error) -> u8 {
    if error.chain().any(|cause| cause.is::<UsageError>()) {
        EXIT_USAGE
    } else {
        EXIT_FAILURE
    }
}

/// `error: <message>` and one `caused by: <cause>` line per cause, each ending in a newline.
///
/// A cause whose text the line before it already contains is left out, so errors that quote their source
/// are not printed twice.
pub fn render(error: &anyhow::Error) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    for (index, cause) in error.chain().enumerate() {
        let message = cause.to_string();
        if index > 0 && (message.is_empty() || previous.contains(&message)) {
            continue;
        }
        let label = if index == 0 { "error" } else { "caused by" };
        let _ = writeln!(text, "{label}: {message}");
        previous = message;
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("disk full")]
    struct DiskFull;

    #[derive(Debug, thiserror::Error)]
    #[error("could not write registries.json: disk full")]
    struct Quoting(#[source] DiskFull);

    #[test]
    fn usage_errors_exit_2_and_everything_else_1() {
        let usage = anyhow::Error::new(UsageError::new("bad name"));
        assert_eq!(exit_code(&usage), EXIT_USAGE);
        assert_eq!(exit_code(&usage.context("while parsing")), EXIT_USAGE);
        assert_eq!(exit_code(&anyhow::Error::new(DiskFull)), EXIT_FAILURE);
    }

    #[test]
    fn causes_are_listed_once() {
        let error = anyhow::Error::new(Quoting(DiskFull)).context("registry main was not added");
        assert_eq!(
            render(&error),
            "error: registry main was not added\ncaused by: could not write registries.json: disk full\n"
        );
        let error = anyhow::Error::new(DiskFull).context("could not save");
        assert_eq!(
            render(&error),
            "error: could not save\ncaused by: disk full\n"
        );
    }
}
