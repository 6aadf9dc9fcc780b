//! Asking the user for what the command line did not give: a username, a password, a one-time code.
//!
//! Invariants:
//! - Nothing is asked unless [`Output::can_prompt`] (stdin is a terminal and `--json` is not given).
//!   Whether a value can be had is decided up front ([`PasswordSource::choose`], [`CodeSource::choose`]),
//!   so a missing flag is a [`UsageError`] (exit code 2) naming the flag, raised before anything is looked up.
//! - Prompts go to stderr, and passwords are read without echo (`rpassword`), so stdout stays the
//!   command's result and nothing secret is shown on the screen.
//! - Passwords are held in [`Secret`]s from the moment they are read.

use std::io::{self, BufRead as _, Read as _, Write as _};

use anyhow::Context as _;

use crate::account::Username;
use crate::error::UsageError;
use crate::output::Output;
use crate::second_factor::OneTimeCode;
use crate::secret::Secret;

/// The longest password read from standard input.
pub const MAX_PASSWORD_BYTES: u64 = 4096;
/// How many times a malformed answer is asked for again.
const ATTEMPTS: usize = 3;

/// The username given with `--username`, else asked for on a terminal.
pub fn username(given: Option<Username>, output: &Output) -> anyhow::Result<Username> {
    if let Some(username) = given {
        return Ok(username);
    }
    if !output.can_prompt() {
        return Err(UsageError::new(
            "no username: pass --username NAME (nothing is asked without a terminal or with --json)",
        )
        .into());
    }
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let answer = ask("Username: ")?;
        match answer.trim().parse::<Username>() {
            Ok(username) => return Ok(username),
            Err(error) => {
                eprintln!("{error}");
                last_error = Some(error);
            }
        }
    }
    Err(UsageError::new(last_error.expect("at least one attempt was made")).into())
}

/// Where a password comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordSource {
    /// One line of standard input (`--password-stdin`).
    Stdin,
    /// A prompt on the terminal, without echo.
    Prompt,
}

impl PasswordSource {
    /// Standard input with `--password-stdin`, else the terminal; a usage error when neither is possible.
    pub fn choose(password_stdin: bool, output: &Output) -> Result<Self, UsageError> {
        if password_stdin {
            Ok(Self::Stdin)
        } else if output.can_prompt() {
            Ok(Self::Prompt)
        } else {
            Err(UsageError::new(
                "no password: pass --password-stdin and write the password to standard input (nothing is asked without a terminal or with --json)",
            ))
        }
    }

    /// Reads the password of an existing account.
    pub fn read(self, prompt: &str) -> anyhow::Result<Secret> {
        match self {
            Self::Stdin => password_from_stdin(),
            Self::Prompt => password_from_terminal(prompt),
        }
    }

    /// Reads a new password: on a terminal it is asked for twice and must match.
    pub fn read_new(self) -> anyhow::Result<Secret> {
        match self {
            Self::Stdin => password_from_stdin(),
            Self::Prompt => {
                for _ in 0..ATTEMPTS {
                    let first = password_from_terminal("New password: ")?;
                    let second = password_from_terminal("Repeat the password: ")?;
                    if first == second {
                        return Ok(first);
                    }
                    eprintln!("The passwords differ; try again.");
                }
                anyhow::bail!("the passwords typed did not match; nothing was sent")
            }
        }
    }
}

fn password_from_terminal(prompt: &str) -> anyhow::Result<Secret> {
    let password = rpassword::prompt_password(prompt).context("could not read the password")?;
    let password = Secret::new(password);
    if password.expose().is_empty() {
        return Err(UsageError::new("no password was typed").into());
    }
    Ok(password)
}

fn password_from_stdin() -> anyhow::Result<Secret> {
    let mut bytes = zeroize::Zeroizing::new(Vec::new());
    io::stdin()
        .lock()
        .take(MAX_PASSWORD_BYTES + 1)
        .read_to_end(&mut bytes)
        .context("could not read the password from standard input")?;
    if bytes.len() as u64 > MAX_PASSWORD_BYTES {
        return Err(UsageError::new(format!(
            "standard input holds more than {MAX_PASSWORD_BYTES} bytes; --password-stdin reads one password"
        ))
        .into());
    }
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        UsageError::new("the password on standard input is not UTF-8 text".to_owned())
    })?;
    let password = text.trim_end_matches(['\r', '\n']);
    if password.is_empty() {
        return Err(UsageError::new("--password-stdin: standard input holds no password").into());
    }
    if password.contains(['\r', '\n']) {
        return Err(UsageError::new(
            "--password-stdin: standard input holds more than one line; write only the password",
        )
        .into());
    }
    Ok(Secret::new(password))
}

/// Where the one-time code for a security action comes from.
#[derive(Debug, Clone)]
pub enum CodeSource {
    /// Given with `--otp`.
    Given(OneTimeCode),
    /// Asked for on the terminal, right before the request (codes live about 30 seconds).
    Prompt,
}

impl CodeSource {
    /// `--otp CODE`, else the terminal; a usage error when neither is possible.
    pub fn choose(given: Option<OneTimeCode>, output: &Output) -> Result<Self, UsageError> {
        match given {
            Some(code) => Ok(Self::Given(code)),
            None if output.can_prompt() => Ok(Self::Prompt),
            None => Err(UsageError::new(
                "this action needs a fresh one-time code: pass --otp CODE with the code your authenticator app shows now (nothing is asked without a terminal or with --json)",
            )),
        }
    }

    /// The code: the one given, or asked for now, for `purpose` (e.g. "to register the key").
    pub fn code(&self, purpose: &str) -> anyhow::Result<OneTimeCode> {
        match self {
            Self::Given(code) => Ok(code.clone()),
            Self::Prompt => one_time_code(purpose),
        }
    }
}

/// Asks for a one-time code on the terminal, again if what is typed is not six digits.
pub fn one_time_code(purpose: &str) -> anyhow::Result<OneTimeCode> {
    let mut last_error = None;
    for _ in 0..ATTEMPTS {
        let answer = ask(&format!("One-time code {purpose}: "))?;
        match answer.parse::<OneTimeCode>() {
            Ok(code) => return Ok(code),
            Err(error) => {
                eprintln!("{error}");
                last_error = Some(error);
            }
        }
    }
    Err(UsageError::new(last_error.expect("at least one attempt was made")).into())
}

/// Writes `prompt` to stderr and reads one line from stdin.
fn ask(prompt: &str) -> anyhow::Result<String> {
    let mut stderr = io::stderr().lock();
    write!(stderr, "{prompt}").and_then(|()| stderr.flush())?;
    let mut line = String::new();
    let read = io::stdin()
        .lock()
        .take(1024)
        .read_line(&mut line)
        .context("could not read from the terminal")?;
    if read == 0 {
        anyhow::bail!("standard input closed before an answer was given");
    }
    Ok(line.trim().to_owned())
}
