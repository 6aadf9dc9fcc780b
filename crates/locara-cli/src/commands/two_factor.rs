//! `locara 2fa enable`: TOTP enrolment.
//!
//! Enrolment has two steps on the registry: start (a new secret, pending) and confirm (a first code from
//! the authenticator app, which enables TOTP and returns the recovery codes). On a terminal one command
//! does both; without one (or with `--json`) `2fa enable` stops after showing the secret and
//! `2fa enable --otp CODE` confirms it. The secret and the recovery codes are the user's own and are shown
//! exactly once, on stdout.

use std::io::{self, Write};

use serde::Serialize;

use crate::account;
use crate::cli::TwoFactorCommand;
use crate::commands::Context;
use crate::names::RegistryName;
use crate::output::Render;
use crate::prompt;
use crate::second_factor::OneTimeCode;
use crate::secret::Secret;

/// How many codes a user may type on a terminal before enrolment is left pending.
const ATTEMPTS: usize = 3;

/// Runs a `locara 2fa` command.
pub async fn run(context: &Context, command: TwoFactorCommand) -> anyhow::Result<()> {
    match command {
        TwoFactorCommand::Enable { otp } => enable(context, otp).await,
    }
}

/// Whether enrolment is finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EnrolmentStatus {
    /// Started; waiting for the first code.
    Pending,
    /// TOTP is enabled.
    Enabled,
}

/// The result of starting enrolment.
#[derive(Debug, Serialize)]
pub struct Started {
    /// The registry.
    pub registry: RegistryName,
    /// Always [`EnrolmentStatus::Pending`].
    pub status: EnrolmentStatus,
    /// The shared secret, base32.
    pub secret: Secret,
    /// The `otpauth://` URI for a QR code.
    pub otpauth_uri: Secret,
    /// Whether the first code is asked for next (not in the JSON).
    #[serde(skip)]
    pub asking_next: bool,
}

impl Render for Started {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Two-factor enrolment started on registry {}.",
            self.registry
        )?;
        writeln!(
            out,
            "Add this account to your authenticator app: turn the URI into a QR code, or type the secret."
        )?;
        writeln!(out, "  otpauth URI: {}", self.otpauth_uri.expose())?;
        writeln!(out, "  secret:      {}", self.secret.expose())?;
        if !self.asking_next {
            writeln!(
                out,
                "Then confirm with the code the app shows: locara 2fa enable --otp CODE"
            )?;
        }
        Ok(())
    }
}

/// The result of confirming enrolment.
#[derive(Debug, Serialize)]
pub struct Enabled {
    /// The registry.
    pub registry: RegistryName,
    /// Always [`EnrolmentStatus::Enabled`].
    pub status: EnrolmentStatus,
    /// Single-use codes that replace a one-time code at login; shown only now.
    pub recovery_codes: Vec<Secret>,
}

/// Said with the recovery codes, in both output forms.
const STORE_OFFLINE: &str = "store the recovery codes offline now (on paper, or in a password manager): they are shown only once, and they are the way back into the account if the authenticator is lost";

impl Render for Enabled {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(
            out,
            "Two-factor authentication is enabled on registry {}.",
            self.registry
        )?;
        writeln!(
            out,
            "Recovery codes (each works once, at `locara login --recovery-code CODE`):"
        )?;
        for code in &self.recovery_codes {
            writeln!(out, "  {}", code.expose())?;
        }
        writeln!(out, "Warning: {STORE_OFFLINE}.")
    }
}

async fn enable(context: &Context, otp: Option<OneTimeCode>) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let registry = connected.entry.name.clone();
    let client = &connected.client;
    let print_enabled = |recovery_codes| -> anyhow::Result<()> {
        context.output.print(&Enabled {
            registry: registry.clone(),
            status: EnrolmentStatus::Enabled,
            recovery_codes,
        })?;
        if context.output.is_json() {
            context.output.warn(STORE_OFFLINE);
        }
        Ok(())
    };
    if let Some(code) = otp {
        return print_enabled(account::confirm_two_factor(client, &code).await?);
    }

    let enrolment = account::start_two_factor(client).await?;
    let asking_next = context.output.can_prompt();
    context.output.print(&Started {
        registry: registry.clone(),
        status: EnrolmentStatus::Pending,
        secret: enrolment.secret,
        otpauth_uri: enrolment.otpauth_uri,
        asking_next,
    })?;
    if !asking_next {
        return Ok(());
    }
    let mut attempt = 1;
    loop {
        let code = prompt::one_time_code("from your authenticator app")?;
        match account::confirm_two_factor(client, &code).await {
            Ok(recovery_codes) => return print_enabled(recovery_codes),
            Err(error) if error.problem_slug() == Some("otp-invalid") && attempt < ATTEMPTS => {
                eprintln!("{error}; try again.");
                attempt += 1;
            }
            Err(error) => {
                return Err(anyhow::Error::new(error).context(
                    "two-factor authentication is not enabled; the enrolment stays pending: confirm it with `locara 2fa enable --otp CODE`",
                ));
            }
        }
    }
}
