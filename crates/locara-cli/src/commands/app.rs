//! `locara app register`.

use std::io::{self, Write};

use locara_core::names::AppName;
use serde::Serialize;

use crate::cli::AppCommand;
use crate::commands::Context;
use crate::commands::publisher::{describe_publisher, verification_of};
use crate::output::{Render, printable};
use crate::prompt::CodeSource;
use crate::publisher::{self, AppRecord, Verification};

/// Runs a `locara app` command.
pub async fn run(context: &Context, command: AppCommand) -> anyhow::Result<()> {
    match command {
        AppCommand::Register {
            name,
            repository,
            otp,
        } => {
            let code = CodeSource::choose(otp.otp, &context.output)?;
            register(context, &name, &repository, &code).await
        }
    }
}

/// The result of `app register`.
#[derive(Debug, Serialize)]
pub struct Registered {
    /// The app's record.
    #[serde(flatten)]
    pub app: AppRecord,
    /// How its publisher is verified (`null`: not verified); absent when the registry could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub publisher_verification: Option<Option<Verification>>,
}

impl Render for Registered {
    fn human(&self, out: &mut dyn Write) -> io::Result<()> {
        writeln!(out, "Registered app {}", self.app.name)?;
        writeln!(
            out,
            "  publisher:  {}",
            describe_publisher(
                &self.app.publisher,
                self.publisher_verification.as_ref().map(Option::as_ref)
            )
        )?;
        writeln!(out, "  repository: {}", printable(&self.app.repository))?;
        writeln!(
            out,
            "  registered: {} (log entry {})",
            self.app.registered_at, self.app.log_index
        )
    }
}

async fn register(
    context: &Context,
    name: &AppName,
    repository: &str,
    code: &CodeSource,
) -> anyhow::Result<()> {
    let connected = context.connect(None).await?;
    connected.require_login()?;
    let client = &connected.client;
    let code = code.code(&format!("to register {name}"))?;
    let app = publisher::register_app(client, name, repository, &code).await?;
    let publisher_verification = verification_of(context, client, &app.publisher).await;
    context.output.print(&Registered {
        app,
        publisher_verification,
    })?;
    Ok(())
}
