//! `locara signup`, `locara login`, `locara logout`, `locara account events`.
//!
//! Invariants: the session token goes only into the credential store (0600), never to stdout or stderr;
//! logout deletes the stored token even when the registry cannot be told, and says so.

use std::io::{self, Write};
use std::path::PathBuf;

use locara_core::time::Timestamp;
use serde::Serialize;

use crate::account::{self, AccountRecord, SecondFactor, Username};
use crate::api::{ApiClient, ApiError};
use crate::cli::{AccountCommand, LoginArgs, SignupArgs};
use crate::commands::publisher::describe_publisher;
use crate::commands::{Connected, Context};
use crate::credentials::{ApiToken, CredentialStore};
use crate::error::UsageError;
use crate::names::RegistryName;
use crate::output::{Render, printable, write_table};
use crate::prompt::{self, PasswordSource};
use crate::registry::{RegistryEntry, RegistryUrl};

/// Problem types meaning the token sent is no longer accepted at all.
pub const DEAD_TOKEN_PROBLEMS: [&str; 3] = ["token-revoked", "token-expired", "invalid-token"];

/// Whether `error` says the token sent is revoked, expired or unknown.
pub fn token_is_no_longer_valid(error: &ApiError) -> bool {
    error
        .problem_slug()
        .is_some_and(|slug| DEAD_TOKEN_PROBLEMS.contains(&slug))
}

/// The result of `signup`.
#[derive(Debug, Serialize)]
pub struct SignedUp {
    /// The registry.
    pub registry: RegistryName,
    /// The new account.
    #[serde(flatten)]
    pub account: AccountRecord,
}

impl Render for SignedUp {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Created account {} on registry {}",
            self.account.username, self.registry
        )?;
        writeln!(
            out,
            "  personal publisher: {}",
            describe_publisher(self.account.username.personal_publisher(), Some(None))
        )?;
        writeln!(
            out,
            "Next: `locara login`, then `locara 2fa enable` (an account without two-factor authentication can only read)."
        )
    }
}

/// Runs `locara signup`.
pub async fn signup(context: &Context, args: SignupArgs) -> anyhow::Result<()> {
    let username = prompt::username(args.username, &context.output)?;
    let source = PasswordSource::choose(args.password_stdin, &context.output)?;
    let Connected { entry, client, .. } = context.connect_anonymously(None).await?;
    let password = source.read_new()?;
    let account = account::sign_up(&client, &username, &password).await?;
    context.output.print(&SignedUp {
        registry: entry.name,
        account,
    })?;
    Ok(())
}

/// The result of `login`.
#[derive(Debug, Serialize)]
pub struct LoggedIn {
    /// The registry.
    pub registry: RegistryName,
    /// Its URL.
    pub url: RegistryUrl,
    /// The account.
    pub username: Username,
    /// The session token's id (its secret is in `token_file` only).
    pub token_id: u64,
    /// When the session expires.
    pub expires_at: Timestamp,
    /// Where the session token is stored (mode 0600).
    pub token_file: PathBuf,
    /// Whether the account has two-factor authentication; `null` if the registry could not be asked.
    pub two_factor: Option<bool>,
    /// Whether a session stored earlier was replaced (and revoked on the registry).
    pub replaced_session: bool,
}

impl Render for LoggedIn {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Logged in to registry {} ({}) as {}",
            self.registry, self.url, self.username
        )?;
        writeln!(
            out,
            "  session token: {} (mode 0600), expires {}",
            self.token_file.display(),
            self.expires_at
        )?;
        if self.replaced_session {
            writeln!(out, "  replaced the session stored before")?;
        }
        if self.two_factor == Some(false) {
            writeln!(
                out,
                "This account has no two-factor authentication, so it can only read: run `locara 2fa enable`."
            )?;
        }
        Ok(())
    }
}

/// Runs `locara login`.
pub async fn login(context: &Context, args: LoginArgs) -> anyhow::Result<()> {
    let LoginArgs {
        username,
        password_stdin,
        otp,
        recovery_code,
    } = args;
    let username = prompt::username(username, &context.output)?;
    let source = PasswordSource::choose(password_stdin, &context.output)?;
    let Connected { entry, client, .. } = context.connect_anonymously(None).await?;
    let password = source.read(&format!("Password for {username} on {}: ", entry.name))?;
    let second_factor = match (otp, recovery_code) {
        (Some(code), _) => SecondFactor::Code(code),
        (None, Some(code)) => SecondFactor::Recovery(code),
        (None, None) => SecondFactor::None,
    };
    let issued = match account::log_in(&client, &username, &password, &second_factor).await {
        Ok(issued) => issued,
        Err(error)
            if error.problem_slug() == Some("otp-required")
                && matches!(second_factor, SecondFactor::None) =>
        {
            if !context.output.can_prompt() {
                return Err(UsageError::new(format!(
                    "account {username} has two-factor authentication: pass --otp CODE with the code your authenticator app shows now (or --recovery-code CODE)"
                ))
                .into());
            }
            let code = prompt::one_time_code("from your authenticator app")?;
            account::log_in(&client, &username, &password, &SecondFactor::Code(code)).await?
        }
        Err(error) => return Err(error.into()),
    };
    if matches!(second_factor, SecondFactor::Recovery(_)) {
        context.output.warn(
            "you signed in with a recovery code, which now no longer works; if your authenticator is lost, keep the remaining codes safe",
        );
    }

    let store = CredentialStore::new(&context.dirs);
    // An unreadable earlier token is replaced without being revoked: it cannot be sent.
    let previous = store.load(&entry.name).ok().flatten();
    store.save(&entry.name, &issued.token)?;
    let replaced_session = match previous {
        Some(previous) if previous != issued.token => {
            revoke_replaced(context, &entry, previous).await;
            true
        }
        _ => false,
    };
    let signed_in = client.with_token(issued.token.clone());
    let two_factor = match account::account(&signed_in).await {
        Ok(account) => Some(account.two_factor),
        Err(error) => {
            context
                .output
                .warn(format_args!("could not read the account back: {error}"));
            None
        }
    };
    context.output.print(&LoggedIn {
        registry: entry.name.clone(),
        url: entry.url.clone(),
        username,
        token_id: issued.record.id,
        expires_at: issued.record.expires_at,
        token_file: store.token_file(&entry.name),
        two_factor,
        replaced_session,
    })?;
    Ok(())
}

/// Revokes the session a new login replaced, so it does not stay valid unseen; failures only warn.
async fn revoke_replaced(context: &Context, entry: &RegistryEntry, token: ApiToken) {
    let revoked = match ApiClient::new(&entry.url) {
        Ok(client) => account::log_out(&client.with_token(token)).await,
        Err(error) => Err(error),
    };
    match revoked {
        Ok(()) => {}
        Err(error) if token_is_no_longer_valid(&error) => {}
        Err(error) => context.output.warn(format_args!(
            "the session stored before was replaced but could not be revoked on the registry ({error}); `locara token list` shows it"
        )),
    }
}

/// What happened to the session token on the registry at logout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Revocation {
    /// The registry revoked it.
    Revoked,
    /// The registry no longer accepted it (revoked or expired earlier, or unknown).
    AlreadyInvalid,
    /// The registry could not be told; the token may still be valid there.
    Failed,
    /// There was no token to revoke, or it could not be read.
    NotAttempted,
}

/// The result of `logout`.
#[derive(Debug, Serialize)]
pub struct LoggedOut {
    /// The registry.
    pub registry: RegistryName,
    /// What the registry did with the token.
    pub revocation: Revocation,
    /// Whether a stored token was deleted from this machine.
    pub deleted_token: bool,
}

impl Render for LoggedOut {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        let registry = &self.registry;
        match (self.revocation, self.deleted_token) {
            (_, false) => writeln!(out, "Not logged in to registry {registry}; nothing to do."),
            (Revocation::Revoked, true) => writeln!(
                out,
                "Logged out of registry {registry}: the session token was revoked and deleted from this machine."
            ),
            (Revocation::AlreadyInvalid, true) => writeln!(
                out,
                "Logged out of registry {registry}: the registry no longer accepted the session token (revoked or expired earlier); it was deleted from this machine."
            ),
            (Revocation::Failed | Revocation::NotAttempted, true) => writeln!(
                out,
                "Deleted the session token of registry {registry} from this machine, but it was NOT revoked on the registry (see the error)."
            ),
        }
    }
}

/// Runs `locara logout`.
pub async fn logout(context: &Context) -> anyhow::Result<()> {
    let entry = context.select_registry(None)?;
    let store = CredentialStore::new(&context.dirs);
    let token = match store.load(&entry.name) {
        Ok(Some(token)) => token,
        Ok(None) => {
            context.output.print(&LoggedOut {
                registry: entry.name,
                revocation: Revocation::NotAttempted,
                deleted_token: false,
            })?;
            return Ok(());
        }
        Err(error) => {
            let deleted_token = store.delete(&entry.name)?;
            context.output.print(&LoggedOut {
                registry: entry.name,
                revocation: Revocation::NotAttempted,
                deleted_token,
            })?;
            return Err(anyhow::Error::new(error).context(
                "the stored token could not be read, so it was deleted from this machine without being revoked; if it may still be valid, log in again and revoke it (`locara token list`, `locara token revoke ID`)",
            ));
        }
    };
    let revoked = revoke_on_registry(context, &entry, token).await;
    // Deleted whatever the registry said: the user asked for this machine to forget the token.
    let deleted_token = store.delete(&entry.name)?;
    let revocation = match &revoked {
        Ok(()) => Revocation::Revoked,
        Err(error)
            if error
                .chain()
                .find_map(|cause| cause.downcast_ref::<ApiError>())
                .is_some_and(token_is_no_longer_valid) =>
        {
            Revocation::AlreadyInvalid
        }
        Err(_) => Revocation::Failed,
    };
    context.output.print(&LoggedOut {
        registry: entry.name.clone(),
        revocation,
        deleted_token,
    })?;
    match revoked {
        Err(error) if revocation == Revocation::Failed => Err(error.context(format!(
            "the session token of registry {} was deleted from this machine, but the registry did not revoke it: it stays valid until it expires unless revoked (log in again, then `locara token list` and `locara token revoke ID`)",
            entry.name
        ))),
        _ => Ok(()),
    }
}

async fn revoke_on_registry(
    context: &Context,
    entry: &RegistryEntry,
    token: ApiToken,
) -> anyhow::Result<()> {
    let Connected { client, .. } = context.connect_anonymously(Some(&entry.name)).await?;
    account::log_out(&client.with_token(token)).await?;
    Ok(())
}

/// Runs a `locara account` command.
pub async fn run(context: &Context, command: AccountCommand) -> anyhow::Result<()> {
    match command {
        AccountCommand::Events => events(context).await,
    }
}

/// The result of `account events`: newest first.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct Events(pub Vec<account::AccountEvent>);

impl Render for Events {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        if self.0.is_empty() {
            return writeln!(
                out,
                "No failed sign-ins or one-time codes recorded for this account."
            );
        }
        let rows: Vec<Vec<String>> = self
            .0
            .iter()
            .map(|event| {
                vec![
                    event.at.to_string(),
                    printable(&event.kind).into_owned(),
                    printable(&event.client_address).into_owned(),
                    event
                        .token_id
                        .map_or_else(|| "sign-in".to_owned(), |id| id.to_string()),
                ]
            })
            .collect();
        write_table(out, &["TIME", "EVENT", "CLIENT ADDRESS", "TOKEN"], &rows)?;
        writeln!(
            out,
            "Not you? Revoke the token (`locara token revoke ID`) and change your password."
        )
    }
}

async fn events(context: &Context) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let events = account::events(&connected.client).await?;
    context.output.print(&Events(events))?;
    Ok(())
}
